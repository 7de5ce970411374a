//! A node without consensus: a ledger in a temporary directory, a mempool, test certificates
//! and the API on 127.0.0.1:0. Tests finalize blocks themselves with `produce_block`.

use commonware_cryptography::{Signer as _, ed25519};
use futures::future::BoxFuture;
use hyperchain_chain::execute::Executor;
use hyperchain_chain::ledger::{Genesis, Ledger};
use hyperchain_chain::mempool::Mempool;
use hyperchain_rpc::{Client, FinalityCertificates, RpcConfig, RpcContext, serve_with_shutdown};
use hyperchain_types::{
    Address, Block, Digest, ExecutionMode, Payload, SignedTransaction, Transaction, block_limits,
    sha256,
};
use hyperchain_vm::{Engine, EngineConfig};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub const FUEL: u64 = 10_000_000;

pub fn chain_id() -> Digest {
    sha256(b"hyperchain rpc test chain")
}

/// One engine per test process (it reserves a pool of instance slots).
pub fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| Engine::new(EngineConfig::default()).expect("engine"))
        .clone()
}

/// The governance key of test nodes.
pub const GOVERNANCE_SEED: u64 = 100;

/// Governance by [`GOVERNANCE_SEED`]'s key; simulated platforms allowed; every execution mode.
pub fn registry_config() -> hyperchain_chain::registry::RegistryConfig {
    use hyperchain_types::ExecutionMode;
    hyperchain_chain::registry::RegistryConfig {
        validators: vec![
            hyperchain_types::SenderKey::from(key(GOVERNANCE_SEED).public_key()).address(),
        ],
        genesis_policy: hyperchain_attest::AttestationPolicy {
            allow_simulated: true,
            ..Default::default()
        },
        execution_modes: vec![
            ExecutionMode::Replicated,
            ExecutionMode::Single,
            ExecutionMode::Committee(4),
            ExecutionMode::CrossVendor,
        ],
        ..Default::default()
    }
}

/// The wall clock in ms since the Unix epoch (compute requests carry it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A transaction with `payload` from `key(seed)`.
pub fn tx(seed: u64, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: chain_id(),
        sender: key(seed).public_key().into(),
        nonce,
        fee: hyperchain_types::Fee::NONE,
        payload,
    }
    .sign(&key(seed))
}

/// A registration in region `eu` of the node with identity `key(identity_seed)` on the
/// simulated `flavour` platform made from `platform_seed`, running `image`, with evidence
/// bound to the finalized `tip`.
pub fn sim_registration(
    identity_seed: u64,
    flavour: hyperchain_attest::sim::SimFlavour,
    platform_seed: &[u8],
    image: &[u8],
    tip: &hyperchain_rpc::api::StatusResponse,
) -> hyperchain_types::Registration {
    use commonware_codec::Encode as _;
    let identity_key = hyperchain_types::SenderKey::from(key(identity_seed).public_key()).0;
    let platform = hyperchain_attest::sim::SimPlatform::from_seed(flavour, platform_seed);
    let evidence = hyperchain_attest::sim::generate_evidence(
        &platform,
        image,
        false,
        hyperchain_attest::NodeBinding {
            chain_id: &chain_id().0,
            identity_pk: &identity_key,
            owner: &hyperchain_types::SenderKey(identity_key).address().0,
            region: "eu",
        }
        .report_data(&tip.digest.0),
        (tip.timestamp_ms + 1_000) / 1000,
    );
    hyperchain_types::Registration {
        identity_key,
        platform: flavour.platform().tag(),
        region: "eu".into(),
        evidence: evidence.evidence,
        endorsements: evidence.endorsements.encode().to_vec(),
        recent_block: tip.digest,
    }
}

pub fn key(seed: u64) -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(seed)
}

pub fn address(key: &ed25519::PrivateKey) -> Address {
    hyperchain_types::account_address(&key.public_key())
}

pub fn deploy(key: &ed25519::PrivateKey, nonce: u64, code: &[u8]) -> SignedTransaction {
    Transaction {
        chain_id: chain_id(),
        sender: key.public_key().into(),
        nonce,
        fee: hyperchain_types::Fee::NONE,
        payload: Payload::Deploy {
            code: code.to_vec(),
            mode: ExecutionMode::Replicated,
            regions: vec![],
        },
    }
    .sign(key)
}

pub fn call(
    key: &ed25519::PrivateKey,
    nonce: u64,
    contract: Address,
    method: &str,
    input: Vec<u8>,
) -> SignedTransaction {
    Transaction {
        chain_id: chain_id(),
        sender: key.public_key().into(),
        nonce,
        fee: hyperchain_types::Fee::NONE,
        payload: Payload::Call {
            contract,
            method: method.into(),
            input,
            fuel_limit: FUEL,
        },
    }
    .sign(key)
}

/// Certificates the test "finalizes" with the blocks: `cert-<height>`.
#[derive(Default)]
pub struct TestCertificates(Mutex<HashMap<u64, Vec<u8>>>);

impl TestCertificates {
    pub fn of(height: u64) -> Vec<u8> {
        format!("cert-{height}").into_bytes()
    }
}

impl FinalityCertificates for TestCertificates {
    fn finalization(&self, height: u64) -> BoxFuture<'_, Option<Vec<u8>>> {
        let found = self.0.lock().unwrap().get(&height).cloned();
        Box::pin(async move { found })
    }
}

pub struct TestNode {
    pub ledger: Arc<Ledger>,
    pub mempool: Arc<Mempool>,
    pub certificates: Arc<TestCertificates>,
    pub client: Client,
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestNode {
    pub async fn start() -> TestNode {
        TestNode::start_with(engine(), RpcConfig::default()).await
    }

    /// A node whose block executor runs on `engine` and whose API has `config`.
    pub async fn start_with(engine: Engine, config: RpcConfig) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let genesis = Genesis::unfunded(chain_id(), 1_000);
        let ledger = Arc::new(
            Ledger::open(
                dir.path(),
                genesis,
                Executor::new(engine, chain_id()).with_registry(registry_config()),
            )
            .unwrap(),
        );
        let mempool = Arc::new(Mempool::new(chain_id(), 1_000));
        let certificates = Arc::new(TestCertificates::default());
        let mut ctx = RpcContext::new(ledger.clone(), mempool.clone(), certificates.clone());
        ctx.config = config;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_with_shutdown(listener, ctx, async move {
            let _ = stopped.await;
        }));
        TestNode {
            ledger,
            mempool,
            certificates,
            client: Client::new(&url).unwrap(),
            url,
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Builds a block from the mempool on the finalized tip, finalizes it and records its
    /// certificate, as a validator's consensus and applier would.
    pub async fn produce_block(&self) -> Block {
        let (ledger, mempool, certificates) = (
            self.ledger.clone(),
            self.mempool.clone(),
            self.certificates.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let candidates = mempool.candidates(
                block_limits::MAX_BLOCK_TXS,
                block_limits::MAX_BLOCK_BYTES / 2,
            );
            finalize_block(&ledger, &certificates, &candidates, Some(&mempool))
        })
        .await
        .unwrap()
    }

    /// Finalizes a block of exactly `txs` (not taken from the mempool).
    pub async fn finalize_txs(&self, txs: Vec<SignedTransaction>) -> Block {
        let (ledger, mempool, certificates) = (
            self.ledger.clone(),
            self.mempool.clone(),
            self.certificates.clone(),
        );
        tokio::task::spawn_blocking(move || {
            finalize_block(&ledger, &certificates, &txs, Some(&mempool))
        })
        .await
        .unwrap()
    }

    /// Stops the server and waits for it to return.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap().unwrap();
    }
}

fn finalize_block(
    ledger: &Ledger,
    certificates: &TestCertificates,
    candidates: &[SignedTransaction],
    mempool: Option<&Mempool>,
) -> Block {
    let (height, _) = ledger.tip();
    let parent = ledger.block(height).unwrap().unwrap().header;
    // A block reveals its parent view's seed; these blocks are finalized by the test's own
    // certificates, so any 48 bytes stand in for one the test did not record.
    if ledger.parent_seed(parent.round()).is_err() {
        ledger.record_seed(parent.round(), [parent.view as u8; 48]);
    }
    let block = ledger
        .build(
            &parent,
            parent.timestamp_ms + 1_000,
            hyperchain_types::Round::new(parent.epoch, parent.view + 1),
            [1; 32],
            candidates,
        )
        .unwrap();
    // As on a validator, the certificate is stored before the block is applied (which wakes
    // subscribers).
    certificates.0.lock().unwrap().insert(
        block.header.height,
        TestCertificates::of(block.header.height),
    );
    ledger.finalize(&block).unwrap();
    if let Some(mempool) = mempool {
        mempool.remove_included(&block.txs);
    }
    block
}

/// A request with a raw body; the status and the JSON answer (every answer is JSON).
pub async fn raw(
    method: reqwest::Method,
    url: &str,
    body: Option<Vec<u8>>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        req = req.body(body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("answer to {url} is not JSON ({e}): {bytes:?}"));
    (status, json)
}
