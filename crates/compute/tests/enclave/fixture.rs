//! The fixture: a chain with real finality certificates, a fleet of simulated compute nodes
//! and a test host that serves it.

use commonware_codec::{DecodeExt as _, Encode as _};
use commonware_consensus::simplex::scheme::bls12381_threshold::vrf::Seedable as _;
use commonware_consensus::simplex::types::{
    Finalization, Finalize, Notarization, Notarize, Proposal,
};
use commonware_consensus::types::{Epoch, Round, View};
use commonware_cryptography::{Signer as _, Verifier as _, ed25519};
use commonware_parallel::Sequential;
use commonware_utils::{TestRng, non_empty};
use hyperchain_attest::sim::{SimFlavour, SimPlatform, generate_evidence};
use hyperchain_chain::app::{FinalizationCert, Scheme};
use hyperchain_chain::block::to_consensus;
use hyperchain_chain::execute::ContractSnapshot;
use hyperchain_chain::execute::{Base, BlockEnv, Executor, code_key, contract_key};
use hyperchain_chain::genesis::{Devnet, DevnetOptions, deal_devnet_with};
use hyperchain_chain::lanes::{self, job_key, lane_key};
use hyperchain_chain::light::LightClient;
use hyperchain_compute::enclave::{Enclave, EnclaveError, Executed, Host};
use hyperchain_rpc::api::{
    COMPUTE_REQUEST_WINDOW_MS, ComputeFetchRequest, ComputeFetchResponse, Hex, ProvenEntry,
};
use hyperchain_state::{Snapshot, Store, TreeId, WriteBatch};
use hyperchain_types::{
    Address, Block, COMPUTE_REQUEST_NAMESPACE, CallOutcome, ComputeRequest, ContractRecord, Digest,
    ExecutionMode, GovernanceAction, Header, Job, LaneRecord, Payload, ReceiptStatus, Registration,
    SeedReveal, SenderKey, SignedComputeReceipt, SignedTransaction, Transaction,
    compute_request_message, node_id, tx_root,
};
use hyperchain_vm::{Engine, EngineConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

pub const START_MS: u64 = 1_700_000_000_000;
pub const IMAGE: &[u8] = b"hyperchain compute runtime v1";
pub const REGION: &str = "eu";
pub const FUEL: u64 = 10_000_000;
/// The key of the counter's value in its storage.
pub const COUNT: &[u8] = b"count";
/// The account that deploys and calls the contracts.
pub const USER: u64 = 1;
/// The account that carries receipts to the chain.
pub const CARRIER: u64 = 2;

pub fn key(seed: u64) -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(seed)
}

/// The engine the validators (executor) use: one per test process.
fn validator_engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| Engine::new(EngineConfig::default()).expect("engine"))
        .clone()
}

/// A fresh engine for one enclave: its module cache is empty, so the enclave fetches the
/// code through the host.
pub fn enclave_engine() -> Engine {
    Engine::new(EngineConfig {
        max_concurrent_calls: 2,
        ..EngineConfig::default()
    })
    .expect("engine")
}

/// A devnet's validators: they finalize (or only notarize) headers with their threshold
/// shares.
pub struct Validators {
    pub devnet: Devnet,
    schemes: Vec<Scheme>,
}

impl Validators {
    /// Four validators dealt deterministically from `seed`.
    pub fn deal(seed: u64) -> Validators {
        let addresses: Vec<SocketAddr> = (0..4)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], 9000 + i)))
            .collect();
        // The enclave's checks, not fees, are under test here: a chain without fees.
        let devnet = deal_devnet_with(
            TestRng::new(seed),
            "enclave-test",
            START_MS,
            &addresses,
            DevnetOptions::free(),
        )
        .unwrap();
        let schemes = devnet
            .validator_keys
            .iter()
            .map(|key| devnet.spec.signer(key).unwrap())
            .collect();
        Validators { devnet, schemes }
    }

    pub fn chain_id(&self) -> Digest {
        self.devnet.spec.chain_id
    }

    pub fn light(&self) -> LightClient {
        LightClient::from_spec(&self.devnet.spec)
    }

    fn proposal(
        header: &Header,
        parent_view: u64,
    ) -> Proposal<commonware_cryptography::sha256::Digest> {
        Proposal::new(
            Round::new(Epoch::zero(), View::new(header.view)),
            View::new(parent_view),
            to_consensus(header.digest()),
        )
    }

    /// Every validator's finalize vote on `header`, recovered into a certificate.
    pub fn finalize(&self, header: &Header, parent_view: u64) -> FinalizationCert {
        let proposal = Self::proposal(header, parent_view);
        let votes: Vec<_> = self
            .schemes
            .iter()
            .map(|scheme| Finalize::sign(scheme, proposal.clone()).unwrap())
            .collect();
        Finalization::from_finalizes(&self.schemes[0], non_empty![@votes.iter()], &Sequential)
            .unwrap()
    }

    /// A notarization of `header` (valid, but it does not make the block final).
    pub fn notarize(&self, header: &Header, parent_view: u64) -> Vec<u8> {
        let proposal = Self::proposal(header, parent_view);
        let votes: Vec<_> = self
            .schemes
            .iter()
            .map(|scheme| Notarize::sign(scheme, proposal.clone()).unwrap())
            .collect();
        Notarization::from_notarizes(&self.schemes[0], non_empty![@votes.iter()], &Sequential)
            .unwrap()
            .encode()
            .to_vec()
    }
}

/// A finalized block: its header, finality certificate and the state after it.
pub struct Finalized {
    pub header: Header,
    pub certificate: Vec<u8>,
    pub state: Snapshot,
}

/// A simulated compute node (the test holds its identity key).
pub struct Node {
    pub key: ed25519::PrivateKey,
}

impl Node {
    pub fn identity(&self) -> [u8; 32] {
        SenderKey::from(self.key.public_key()).0
    }

    pub fn id(&self) -> Digest {
        node_id(&self.identity())
    }
}

/// The chain: validators, state, and every finalized block.
pub struct Chain {
    pub validators: Arc<Validators>,
    store: Store,
    executor: Executor,
    genesis: Header,
    /// Every finalized block after genesis, in height order.
    pub history: Vec<Arc<Finalized>>,
    /// The seed of the newest finalized view, revealed by the next block.
    unrevealed: Option<SeedReveal>,
    nonces: HashMap<[u8; 32], u64>,
    pub nodes: Vec<Node>,
}

impl Chain {
    /// A chain whose governance registered the runtime release, whose committees take up to
    /// `pipeline_depth` jobs of a lane at once.
    pub fn new(pipeline_depth: u32) -> Chain {
        let validators = Arc::new(Validators::deal(7));
        let chain_id = validators.chain_id();
        let mut registry = validators.devnet.spec.registry_config();
        registry.compute.pipeline_depth = pipeline_depth;
        let executor = Executor::new(validator_engine(), chain_id)
            .with_registry(registry)
            .with_seed_verifier(validators.light());
        let store = Store::in_memory().unwrap();
        let root = store.commit(&WriteBatch::new(), 0).unwrap();
        let genesis = Block::genesis(chain_id, START_MS, Digest(root)).header;
        let mut chain = Chain {
            validators,
            store,
            executor,
            genesis,
            history: Vec::new(),
            unrevealed: None,
            nonces: HashMap::new(),
            nodes: Vec::new(),
        };
        // The validators register the release: one proposes, two more approve (2f+1 of 4).
        let keys: Vec<ed25519::PrivateKey> = (0..3)
            .map(|i| {
                chain.validators.devnet.validator_keys[i]
                    .private_key
                    .clone()
            })
            .collect();
        let release = chain.tx(
            &keys[0],
            Payload::Propose(GovernanceAction::AddRelease {
                version: "v1".into(),
                image: IMAGE.to_vec(),
                measurements: vec![],
            }),
        );
        let proposal = release.id();
        let approvals: Vec<SignedTransaction> = keys[1..]
            .iter()
            .map(|k| chain.tx(k, Payload::Approve { proposal }))
            .collect();
        let mut txs = vec![release];
        txs.extend(approvals);
        assert_eq!(chain.block(txs), vec![ReceiptStatus::Accepted; 3]);
        chain
    }

    pub fn chain_id(&self) -> Digest {
        self.validators.chain_id()
    }

    /// The newest finalized header.
    pub fn tip(&self) -> &Header {
        self.history
            .last()
            .map(|f| &f.header)
            .unwrap_or(&self.genesis)
    }

    pub fn tx(&mut self, signer: &ed25519::PrivateKey, payload: Payload) -> SignedTransaction {
        let sender = SenderKey::from(signer.public_key());
        let nonce = self.nonces.entry(sender.0).or_default();
        let tx = Transaction {
            chain_id: self.validators.chain_id(),
            sender,
            nonce: *nonce,
            fee: hyperchain_types::Fee::NONE,
            payload,
        }
        .sign(signer);
        *nonce += 1;
        tx
    }

    /// Executes, commits and finalizes one block of `txs` (all of which must be valid).
    /// Views advance by one per block and every block reveals the previous view's seed,
    /// taken from its finalization certificate.
    pub fn block(&mut self, txs: Vec<SignedTransaction>) -> Vec<ReceiptStatus> {
        let parent = self.tip().clone();
        let env = BlockEnv {
            height: parent.height + 1,
            parent: parent.digest(),
            timestamp_ms: parent.timestamp_ms + 1_000,
            round: hyperchain_types::Round::new(0, parent.view + 1),
            seed: self.unrevealed.take(),
            leader: [0; 32],
        };
        let snapshot = self.store.snapshot().unwrap();
        let base = Arc::new(Base::new(snapshot, Arc::new(WriteBatch::new())));
        let execution = self.executor.execute(&base, env, &txs).unwrap();
        assert!(execution.invalid.is_empty(), "{:?}", execution.invalid);
        let included: Vec<SignedTransaction> =
            execution.included.iter().map(|&i| txs[i].clone()).collect();
        let state_root = Digest(self.store.commit(&execution.batch, env.height).unwrap());
        let header = Header {
            chain_id: self.chain_id(),
            height: env.height,
            parent: env.parent,
            timestamp_ms: env.timestamp_ms,
            tx_root: tx_root(&included),
            state_root,
            epoch: env.round.epoch,
            view: env.round.view,
            parent_view: parent.view,
            leader: [1; 32],
            seed: env.seed,
            reshare: hyperchain_types::Digest::ZERO,
        };
        self.executor
            .check_seed(&header, parent.round())
            .expect("the revealed seed is the network's");
        let finalization = self.validators.finalize(&header, parent.view);
        let seed = finalization.seed();
        self.unrevealed = Some(SeedReveal {
            round: header.round(),
            signature: seed.signature.encode().as_ref().try_into().unwrap(),
        });
        self.history.push(Arc::new(Finalized {
            header,
            certificate: finalization.encode().to_vec(),
            state: self.store.snapshot().unwrap(),
        }));
        execution.receipts.into_iter().map(|r| r.status).collect()
    }

    /// Registers a simulated node of `flavour` in [`REGION`] with identity key `seed`.
    pub fn add_node(&mut self, seed: u64, flavour: SimFlavour) {
        let node = Node { key: key(seed) };
        let identity = node.identity();
        let tip = self.tip().clone();
        let platform = SimPlatform::from_seed(flavour, &identity);
        let report_data = hyperchain_attest::NodeBinding {
            chain_id: &self.chain_id().0,
            identity_pk: &identity,
            owner: &SenderKey(identity).address().0,
            region: REGION,
        }
        .report_data(&tip.digest().0);
        let evidence = generate_evidence(
            &platform,
            IMAGE,
            false,
            report_data,
            tip.timestamp_ms / 1000,
        );
        let registration = Registration {
            identity_key: identity,
            platform: flavour.platform().tag(),
            region: REGION.into(),
            evidence: evidence.evidence,
            endorsements: evidence.endorsements.encode().to_vec(),
            recent_block: tip.digest(),
        };
        let tx = self.tx(&node.key, Payload::Register(registration));
        assert_eq!(self.block(vec![tx]), vec![ReceiptStatus::Accepted]);
        self.nodes.push(node);
    }

    /// Deploys `code` in `mode` from [`USER`]'s account.
    pub fn deploy(&mut self, code: &[u8], mode: ExecutionMode, regions: &[&str]) -> Address {
        let tx = self.tx(
            &key(USER),
            Payload::Deploy {
                code: code.to_vec(),
                mode,
                regions: regions.iter().map(|r| r.to_string()).collect(),
            },
        );
        match &self.block(vec![tx])[0] {
            ReceiptStatus::Deployed { address, .. } => *address,
            other => panic!("deploy failed: {other:?}"),
        }
    }

    pub fn call_tx(
        &mut self,
        contract: Address,
        method: &str,
        input: Vec<u8>,
    ) -> SignedTransaction {
        self.tx(
            &key(USER),
            Payload::Call {
                contract,
                method: method.into(),
                input,
                fuel_limit: FUEL,
            },
        )
    }

    pub fn job(&self, id: &Digest) -> Job {
        lanes::job(&self.store.snapshot().unwrap(), id)
            .unwrap()
            .unwrap()
    }

    pub fn lane(&self, contract: &Address) -> LaneRecord {
        lanes::lane(&self.store.snapshot().unwrap(), contract)
            .unwrap()
            .unwrap()
    }

    pub fn record(&self, contract: &Address) -> ContractRecord {
        let raw = self
            .store
            .get(&TreeId::ROOT, &contract_key(contract))
            .unwrap()
            .unwrap();
        ContractRecord::decode(bytes::Bytes::from(raw)).unwrap()
    }

    pub fn storage_root(&self, contract: &Address) -> Digest {
        Digest(
            self.store
                .snapshot()
                .unwrap()
                .tree_root(&TreeId(contract.0))
                .unwrap(),
        )
    }

    /// The ids of `job`'s current committee.
    pub fn committee(&self, job: &Digest) -> Vec<Digest> {
        self.job(job)
            .assignment
            .expect("an assigned job")
            .committee
            .iter()
            .map(|m| m.id)
            .collect()
    }

    /// A registered node that is not on `job`'s committee.
    pub fn outsider(&self, job: &Digest) -> Digest {
        let committee = self.committee(job);
        self.nodes
            .iter()
            .map(Node::id)
            .find(|id| !committee.contains(id))
            .expect("a node off the committee")
    }

    pub fn node(&self, id: &Digest) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.id() == *id)
            .expect("a known node")
    }

    /// An enclave holding node `id`'s identity key, trusting only the chain id and the
    /// group public key, with an empty module cache.
    pub fn enclave(&self, id: &Digest) -> Enclave {
        self.enclave_with(id, enclave_engine())
    }

    pub fn enclave_with(&self, id: &Digest, engine: Engine) -> Enclave {
        let light = LightClient::new(
            self.chain_id(),
            *self.validators.devnet.spec.group_public_key(),
        );
        Enclave::with_key(light, engine, self.node(id).key.clone())
    }

    /// What running `job` directly on the committed state gives (as validators
    /// arbitrating it would).
    pub fn run_directly(&self, job: &Digest) -> CallOutcome {
        let job = self.job(job);
        let record = self.record(&job.contract);
        let code = hyperchain_chain::execute::read_code(
            |k| self.store.get(&TreeId::ROOT, k),
            &record.code_hash,
        )
        .unwrap();
        let engine = validator_engine();
        let contract = engine.load(&code).unwrap();
        let reader = ContractSnapshot {
            snapshot: self.store.snapshot().unwrap(),
            tree: TreeId(job.contract.0),
        };
        lanes::run_job(&engine, &contract, &job, Arc::new(reader)).unwrap()
    }

    /// Sends `receipts` to the chain in `Receipt` transactions (one block).
    pub fn submit(&mut self, receipts: Vec<SignedComputeReceipt>) -> Vec<ReceiptStatus> {
        let txs = receipts
            .into_iter()
            .map(|r| self.tx(&key(CARRIER), Payload::Receipt(Box::new(r))))
            .collect();
        self.block(txs)
    }

    /// Every member of `job`'s committee executes it through an honest host and the chain
    /// receives their receipts; if that leaves the lane's next job waiting, the blocks that
    /// follow draw its committee (with a seed the resolving block's proposer could not know).
    pub fn serve(&mut self, job: &Digest) {
        let receipts: Vec<SignedComputeReceipt> = self
            .committee(job)
            .iter()
            .map(|id| {
                self.enclave(id)
                    .execute(self.host(), job)
                    .expect("an honest host gets a receipt")
                    .receipt
            })
            .collect();
        let statuses = self.submit(receipts);
        assert!(
            statuses.iter().all(|s| *s == ReceiptStatus::Accepted),
            "{statuses:?}"
        );
        // The resolving block's child reveals the seed of the resolving block's own view,
        // which may not draw; the grandchild's may.
        let contract = self.job(job).contract;
        for _ in 0..2 {
            let snapshot = self.store.snapshot().unwrap();
            let lane = lanes::lane(&snapshot, &contract).unwrap().unwrap();
            if !lanes::lane_job(&snapshot, &contract, lane.head)
                .unwrap()
                .is_some_and(|next| next.state == hyperchain_types::JobState::Waiting)
            {
                break;
            }
            self.block(vec![]);
        }
    }

    /// What the chain has finalized, as a host sees it.
    pub fn served(&self) -> Served {
        Served {
            chain_id: self.chain_id(),
            history: self.history.clone(),
        }
    }

    /// A host that answers every request honestly from the newest finalized block.
    pub fn host(&self) -> Arc<TestHost> {
        self.lying_host(|served, request| Ok(served.answer(request)))
    }

    /// An honest host whose clock is `skew_ms` off this machine's (the validator's).
    pub fn host_with_skew(&self, skew_ms: i64) -> Arc<TestHost> {
        Arc::new(TestHost {
            served: self.served(),
            answer: Box::new(|served, request| Ok(served.answer(request))),
            seen: Mutex::new(Vec::new()),
            skew_ms,
            stamps: Mutex::new(Vec::new()),
        })
    }

    /// A host that answers with `answer`.
    pub fn lying_host(
        &self,
        answer: impl Fn(&Served, &ComputeRequest) -> Result<ComputeFetchResponse, String>
        + Send
        + Sync
        + 'static,
    ) -> Arc<TestHost> {
        Arc::new(TestHost {
            served: self.served(),
            answer: Box::new(answer),
            seen: Mutex::new(Vec::new()),
            skew_ms: 0,
            stamps: Mutex::new(Vec::new()),
        })
    }
}

/// The finalized blocks a host can answer from.
pub struct Served {
    chain_id: Digest,
    pub history: Vec<Arc<Finalized>>,
}

impl Served {
    pub fn latest(&self) -> &Finalized {
        self.history.last().expect("a finalized block")
    }

    /// The finalized block at `height`.
    pub fn at(&self, height: u64) -> &Finalized {
        self.history
            .iter()
            .find(|f| f.header.height == height)
            .expect("a finalized block at that height")
    }

    /// The honest answer from the newest finalized block.
    pub fn answer(&self, request: &ComputeRequest) -> ComputeFetchResponse {
        answer_from(self.latest(), request)
    }
}

/// What a validator answers to `request` from the state after `block`: each value with its
/// proof, the header and its certificate.
pub fn answer_from(block: &Finalized, request: &ComputeRequest) -> ComputeFetchResponse {
    let state = &block.state;
    let entries = match request {
        ComputeRequest::Code(hash) => {
            let mut entries = Vec::new();
            for index in 0u16.. {
                let entry = prove(state, TreeId::ROOT, code_key(hash, index));
                let done = entry.value.is_none();
                entries.push(entry);
                if done {
                    break;
                }
            }
            entries
        }
        ComputeRequest::State { contract, keys } => keys
            .iter()
            .map(|key| prove(state, TreeId(contract.0), key.clone()))
            .collect(),
        ComputeRequest::Job(id) => {
            let job = lanes::job(state, id).unwrap().expect("a known job");
            vec![
                prove(state, TreeId::ROOT, job_key(id)),
                prove(state, TreeId::ROOT, lane_key(&job.contract)),
                prove(state, TreeId::ROOT, contract_key(&job.contract)),
            ]
        }
    };
    ComputeFetchResponse {
        header: Hex(block.header.encode().to_vec()),
        certificate: Hex(block.certificate.clone()),
        entries,
    }
}

/// `key`'s value (or absence) in `tree` after `state`, with its proof.
pub fn prove(state: &Snapshot, tree: TreeId, key: Vec<u8>) -> ProvenEntry {
    let value = state.get(&tree, &key).unwrap();
    let proof = state.prove(&tree, &key).unwrap();
    ProvenEntry {
        tree: Digest(tree.0),
        key: Hex(key),
        value: value.map(Hex),
        proof: Hex(proof.encode()),
    }
}

type Answer =
    dyn Fn(&Served, &ComputeRequest) -> Result<ComputeFetchResponse, String> + Send + Sync;

/// The untrusted host: it authenticates requests like a validator does, records them and
/// answers however it was told to.
pub struct TestHost {
    served: Served,
    answer: Box<Answer>,
    seen: Mutex<Vec<ComputeRequest>>,
    /// How far the host's clock is from this machine's (the validator's).
    skew_ms: i64,
    /// The timestamps of the requests the enclave made, in order.
    stamps: Mutex<Vec<u64>>,
}

impl TestHost {
    /// The requests the enclave made, in order.
    pub fn seen(&self) -> Vec<ComputeRequest> {
        self.seen.lock().unwrap().clone()
    }

    /// The timestamps of the requests the enclave made, in order.
    pub fn stamps(&self) -> Vec<u64> {
        self.stamps.lock().unwrap().clone()
    }

    /// This machine's clock (the validator's), ms since the Unix epoch.
    pub fn validator_now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }

    /// The validator's authentication of a fetch request: identity key, signature over
    /// the chain id, key, timestamp and request (the enclave always signs well, so those
    /// failures are errors of the test), and the replay window against this machine's clock.
    fn authenticate(&self, req: &ComputeFetchRequest) -> Result<ComputeRequest, String> {
        let identity: [u8; 32] = req
            .identity_key
            .0
            .as_slice()
            .try_into()
            .map_err(|_| "identity_key must be 32 bytes".to_string())?;
        let request = ComputeRequest::decode(bytes::Bytes::from(req.request.0.clone()))
            .map_err(|e| format!("malformed request: {e}"))?;
        let signature = ed25519::Signature::decode(bytes::Bytes::from(req.signature.0.clone()))
            .map_err(|_| "malformed signature".to_string())?;
        let public_key = SenderKey(identity)
            .public_key()
            .ok_or("identity_key is not an ed25519 public key")?;
        let message =
            compute_request_message(&self.served.chain_id, &identity, req.timestamp_ms, &request);
        assert!(
            public_key.verify(COMPUTE_REQUEST_NAMESPACE, &message, &signature),
            "the enclave signs its requests"
        );
        let now = TestHost::validator_now_ms();
        if now.abs_diff(req.timestamp_ms) > COMPUTE_REQUEST_WINDOW_MS {
            return Err(format!(
                "stale request: timestamp {} ms is more than {COMPUTE_REQUEST_WINDOW_MS} ms \
                 from this node's clock ({now} ms)",
                req.timestamp_ms
            ));
        }
        Ok(request)
    }
}

impl Host for TestHost {
    fn fetch(&self, req: &ComputeFetchRequest) -> Result<ComputeFetchResponse, String> {
        self.stamps.lock().unwrap().push(req.timestamp_ms);
        let request = self
            .authenticate(req)
            .map_err(|e| format!("validator answered 401: {e}"))?;
        self.seen.lock().unwrap().push(request.clone());
        (self.answer)(&self.served, &request)
    }

    fn now_ms(&self) -> u64 {
        TestHost::validator_now_ms().saturating_add_signed(self.skew_ms)
    }
}

/// A scenario: a fleet of two Intel and two AMD nodes in [`REGION`], the counter deployed
/// cross-vendor (one Intel and one AMD member per job), a token deployed replicated (another
/// module in state), and one job per `increments` amount, ordered in one block; the first
/// is assigned (alone: committees take one job at a time, unless [`Scenario::pipelined`]).
pub struct Scenario {
    pub chain: Chain,
    pub counter: Address,
    pub token: Address,
    pub jobs: Vec<Digest>,
}

impl Scenario {
    pub fn new(increments: &[u64]) -> Scenario {
        Scenario::pipelined(increments, 1)
    }

    /// The scenario with committees taking up to `depth` jobs at once: the first job's
    /// committee also takes the ones behind it.
    pub fn pipelined(increments: &[u64], depth: u32) -> Scenario {
        let mut chain = Chain::new(depth);
        for (seed, flavour) in [
            (1_001, SimFlavour::Intel),
            (1_002, SimFlavour::Amd),
            (1_003, SimFlavour::Intel),
            (1_004, SimFlavour::Amd),
        ] {
            chain.add_node(seed, flavour);
        }
        let counter = chain.deploy(
            hyperchain_contracts::COUNTER,
            ExecutionMode::CrossVendor,
            &[REGION],
        );
        let token = chain.deploy(hyperchain_contracts::TOKEN, ExecutionMode::Replicated, &[]);
        let calls = increments
            .iter()
            .map(|by| chain.call_tx(counter, "increment", hyperchain_sdk::encode(by)))
            .collect();
        let jobs: Vec<Digest> = chain
            .block(calls)
            .iter()
            .map(|status| match status {
                ReceiptStatus::Queued { job, .. } => *job,
                other => panic!("expected a queued job, got {other:?}"),
            })
            .collect();
        // The next block reveals the seed of the job's own view, which may not pick its
        // committee; the one after reveals a later view's.
        chain.block(vec![]);
        if let Some(first) = jobs.first() {
            assert_eq!(chain.job(first).state, hyperchain_types::JobState::Waiting);
        }
        chain.block(vec![]);
        if let Some(first) = jobs.first() {
            assert_eq!(chain.job(first).state, hyperchain_types::JobState::Assigned);
        }
        Scenario {
            chain,
            counter,
            token,
            jobs,
        }
    }

    /// The first job's first committee member.
    pub fn member(&self) -> Digest {
        self.chain.committee(&self.jobs[0])[0]
    }
}

/// The enclave's refusal (panics with the receipt if it signed one).
pub fn refused(result: Result<Executed, EnclaveError>) -> EnclaveError {
    match result {
        Ok(executed) => panic!("the enclave signed a receipt: {:?}", executed.receipt),
        Err(e) => e,
    }
}

/// The message of an [`EnclaveError::Unverified`] (panics on any other error).
pub fn unverified(result: Result<Executed, EnclaveError>) -> String {
    match refused(result) {
        EnclaveError::Unverified(message) => message,
        other => panic!("expected an unverified answer, got {other:?}"),
    }
}

/// The message of a refused storage read: `Unverified` (a lying answer) or `Host` (no answer),
/// as the enclave keeps the reason a read was refused inside the call.
pub fn refused_read(result: Result<Executed, EnclaveError>) -> String {
    match refused(result) {
        e @ (EnclaveError::Unverified(_) | EnclaveError::Host(_)) => e.to_string(),
        other => panic!("expected a refused storage read, got {other:?}"),
    }
}

/// Whether `request` is a read of the counter's value.
pub fn is_count_read(request: &ComputeRequest) -> bool {
    matches!(request, ComputeRequest::State { keys, .. } if keys == &vec![COUNT.to_vec()])
}
