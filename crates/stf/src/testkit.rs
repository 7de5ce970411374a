//! A chain executed and committed block by block on one store, without consensus or network:
//! the harness of the lane and registry tests, the committee benchmark and the enclave tests
//! (feature `testkit`; not part of a node).

use crate::execute::{Base, BlockEnv, Executor};
use commonware_codec::Encode as _;
use commonware_cryptography::{Signer as _, ed25519};
use hyperchain_attest::sim::{SimFlavour, SimPlatform, generate_evidence};
use hyperchain_state::{
    BatchRoots, Hash, KeyValue, Snapshot, StateError, StateReader, Store, TreeId, WriteBatch,
};
use hyperchain_types::{
    Digest, Payload, ReceiptStatus, Registration, SeedReveal, SenderKey, SignedTransaction,
    Transaction,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The runtime image test nodes' simulated evidence measures.
pub const TEST_IMAGE: &[u8] = b"hyperchain compute runtime v1";

/// The block time before the first block.
pub const START_MS: u64 = 1_700_000_000_000;

/// The signing key of test account (or node identity) `seed`.
pub fn key(seed: u64) -> ed25519::PrivateKey {
    ed25519::PrivateKey::from_seed(seed)
}

/// The identity key bytes of `key(seed)`.
pub fn identity(seed: u64) -> [u8; 32] {
    SenderKey::from(key(seed).public_key()).0
}

/// Committed state that counts the values read from it: what a block costs in state reads,
/// measured without a clock.
#[derive(Debug)]
struct Counted {
    snapshot: Snapshot,
    reads: Arc<AtomicU64>,
}

impl StateReader for Counted {
    fn get(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.snapshot.get(tree, key)
    }

    fn tree_root(&self, tree: &TreeId) -> Result<Hash, StateError> {
        self.snapshot.tree_root(tree)
    }

    fn compute_roots(&self, batch: &WriteBatch) -> Result<BatchRoots, StateError> {
        self.snapshot.compute_roots(batch)
    }

    fn scan_prefix(
        &self,
        tree: &TreeId,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StateError> {
        self.snapshot.scan_prefix(tree, prefix, limit)
    }
}

/// A chain on one store, executed block by block with [`Executor::execute`] and committed.
pub struct MemoryChain {
    /// The committed state.
    pub store: Store,
    /// The executor every block runs on (its signature caches persist across blocks).
    pub executor: Executor,
    /// The chain id transactions are signed for.
    pub chain_id: Digest,
    /// The last block's height, round, digest (the store's root) and time.
    pub height: u64,
    /// See `height`.
    pub round: hyperchain_types::Round,
    /// See `height`.
    pub parent: Digest,
    /// See `height`.
    pub time_ms: u64,
    /// Values the last executed block read from committed state.
    pub last_block_reads: u64,
    reads: Arc<AtomicU64>,
    nonces: HashMap<u64, u64>,
    /// The fee every transaction but receipts offers (none by default, for chains without
    /// fees).
    pub fee: hyperchain_types::Fee,
}

impl std::fmt::Debug for MemoryChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryChain")
            .field("height", &self.height)
            .field("round", &self.round)
            .field("parent", &self.parent)
            .field("time_ms", &self.time_ms)
            .finish_non_exhaustive()
    }
}

impl MemoryChain {
    /// A chain on an empty in-memory store.
    pub fn new(chain_id: Digest, executor: Executor) -> MemoryChain {
        MemoryChain::on(
            Store::in_memory().expect("in-memory store"),
            chain_id,
            executor,
        )
    }

    /// A chain continuing from what `store` holds (height 0).
    pub fn on(store: Store, chain_id: Digest, executor: Executor) -> MemoryChain {
        MemoryChain {
            parent: Digest(store.root().expect("store root")),
            store,
            executor,
            chain_id,
            height: 0,
            round: hyperchain_types::Round::ZERO,
            time_ms: START_MS,
            last_block_reads: 0,
            reads: Arc::new(AtomicU64::new(0)),
            nonces: HashMap::new(),
            fee: hyperchain_types::Fee::NONE,
        }
    }

    /// The next nonce of account `seed`.
    pub fn nonce(&self, seed: u64) -> u64 {
        self.nonces.get(&seed).copied().unwrap_or(0)
    }

    /// A transaction of account `seed` with its next nonce.
    pub fn tx(&mut self, seed: u64, payload: Payload) -> SignedTransaction {
        let nonce = self.nonces.entry(seed).or_default();
        let tx = Transaction {
            chain_id: self.chain_id,
            sender: key(seed).public_key().into(),
            nonce: *nonce,
            // Receipts are paid from their job's escrow.
            fee: match payload {
                Payload::Receipt(_) => hyperchain_types::Fee::NONE,
                _ => self.fee,
            },
            payload,
        }
        .sign(&key(seed));
        *nonce += 1;
        tx
    }

    /// The environment of the next block as consensus makes it, `advance_ms` after the last:
    /// the next view of the same epoch (or view 1 of the next epoch, with `new_epoch`: the
    /// last block was its epoch's last), revealing exactly the last block's round's seed
    /// (none after the genesis).
    pub fn consensus_env(&self, advance_ms: u64, new_epoch: bool) -> BlockEnv {
        let round = if new_epoch {
            hyperchain_types::Round::new(self.round.epoch + 1, 1)
        } else {
            hyperchain_types::Round::new(self.round.epoch, self.round.view + 1)
        };
        BlockEnv {
            height: self.height + 1,
            parent: self.parent,
            timestamp_ms: self.time_ms + advance_ms,
            round,
            seed: (self.round != hyperchain_types::Round::ZERO).then(|| SeedReveal {
                round: self.round,
                signature: [(self.height + 1) as u8; 48],
            }),
            leader: [0; 32],
        }
    }

    /// The environment of the next block, `advance_ms` after the last. Views advance by 2,
    /// leaving room for the view whose seed the block reveals (with `seed`).
    pub fn next_env(&self, advance_ms: u64, seed: bool) -> BlockEnv {
        let round = hyperchain_types::Round::new(self.round.epoch, self.round.view + 2);
        BlockEnv {
            height: self.height + 1,
            parent: self.parent,
            timestamp_ms: self.time_ms + advance_ms,
            round,
            seed: seed.then(|| SeedReveal {
                round: hyperchain_types::Round::new(round.epoch, round.view - 1),
                signature: [(self.height + 1) as u8; 48],
            }),
            leader: [0; 32],
        }
    }

    /// A fresh base on the committed state.
    pub fn base(&self) -> Arc<Base> {
        Arc::new(Base::new(
            Counted {
                snapshot: self.store.snapshot().expect("snapshot"),
                reads: self.reads.clone(),
            },
            Arc::new(WriteBatch::new()),
        ))
    }

    /// Executes `txs` as the block of `env` and commits it; every transaction must be valid.
    pub fn execute(&mut self, env: BlockEnv, txs: &[SignedTransaction]) -> Vec<ReceiptStatus> {
        let base = self.base();
        self.reads.store(0, Ordering::Relaxed);
        let execution = self
            .executor
            .execute(&base, env, txs)
            .expect("block execution");
        self.last_block_reads = self.reads.load(Ordering::Relaxed);
        assert!(execution.invalid.is_empty(), "{:?}", execution.invalid);
        self.store
            .commit(&execution.batch, env.height)
            .expect("commit");
        self.height = env.height;
        self.round = env.round;
        self.time_ms = env.timestamp_ms;
        self.parent = Digest(self.store.root().expect("store root"));
        execution.receipts.into_iter().map(|r| r.status).collect()
    }

    /// Executes and commits the next block, a second after the last (revealing a seed with
    /// `seed`).
    pub fn run(&mut self, txs: Vec<SignedTransaction>, seed: bool) -> Vec<ReceiptStatus> {
        let env = self.next_env(1_000, seed);
        self.execute(env, &txs)
    }

    /// A registration of `identity` on a simulated platform measuring `image`, in `region`,
    /// bound to the last block and to the identity key's own account as its owner (the
    /// account that must send it).
    pub fn registration(
        &self,
        flavour: SimFlavour,
        identity: [u8; 32],
        region: &str,
        image: &[u8],
    ) -> Registration {
        self.registration_owned_by(
            SenderKey(identity).address(),
            flavour,
            identity,
            region,
            image,
        )
    }

    /// [`MemoryChain::registration`] bound to `owner` (the account that must send it).
    pub fn registration_owned_by(
        &self,
        owner: hyperchain_types::Address,
        flavour: SimFlavour,
        identity: [u8; 32],
        region: &str,
        image: &[u8],
    ) -> Registration {
        self.registration_on(owner, flavour, &identity, identity, region, image)
    }

    /// [`MemoryChain::registration_owned_by`] on the simulated chip of `platform_seed` (the
    /// other helpers give every identity its own chip).
    pub fn registration_on(
        &self,
        owner: hyperchain_types::Address,
        flavour: SimFlavour,
        platform_seed: &[u8],
        identity: [u8; 32],
        region: &str,
        image: &[u8],
    ) -> Registration {
        self.registration_with_tcb(owner, flavour, platform_seed, identity, region, image, None)
    }

    /// [`MemoryChain::registration_on`] with the simulated platform reporting `tcb` (default
    /// `[1, 1, 1, 1]`), as after a firmware update.
    #[allow(clippy::too_many_arguments)]
    pub fn registration_with_tcb(
        &self,
        owner: hyperchain_types::Address,
        flavour: SimFlavour,
        platform_seed: &[u8],
        identity: [u8; 32],
        region: &str,
        image: &[u8],
        tcb: Option<[u16; 4]>,
    ) -> Registration {
        let mut platform = SimPlatform::from_seed(flavour, platform_seed);
        if let Some(tcb) = tcb {
            platform.tcb = tcb;
        }
        let report_data = hyperchain_attest::NodeBinding {
            chain_id: &self.chain_id.0,
            identity_pk: &identity,
            owner: &owner.0,
            region,
        }
        .report_data(&self.parent.0);
        let evidence = generate_evidence(&platform, image, false, report_data, self.time_ms / 1000);
        Registration {
            identity_key: identity,
            platform: flavour.platform().tag(),
            region: region.into(),
            evidence: evidence.evidence,
            endorsements: evidence.endorsements.encode().to_vec(),
            recent_block: self.parent,
        }
    }

    /// Registers the simulated node whose identity key (and account) is `key(seed)`, measuring
    /// [`TEST_IMAGE`], in a block of its own.
    pub fn register(&mut self, seed: u64, flavour: SimFlavour, region: &str) -> [u8; 32] {
        let identity = identity(seed);
        let registration = self.registration(flavour, identity, region, TEST_IMAGE);
        let tx = self.tx(seed, Payload::Register(registration));
        assert_eq!(self.run(vec![tx], true), vec![ReceiptStatus::Accepted]);
        identity
    }
}
