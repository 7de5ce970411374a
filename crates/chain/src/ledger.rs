//! The node's view of the chain: committed state, executed-but-unfinalized blocks, and the
//! index of finalized blocks, receipts and seeds.
//!
//! - **State** lives in a [`hyperchain_state::Store`] (`<dir>/state/`), committed one
//!   finalized block at a time with `Store::commit(batch, height)`.
//! - **Unfinalized blocks** a validator built or verified are kept in memory by digest, each
//!   with its own write batch, receipts, and the merged batch of all its unfinalized
//!   ancestors plus its own. A child executes on the committed snapshot overlaid with its
//!   parent's merged batch, and its state root is `Snapshot::compute_root(merged)`. Because an
//!   overlay holds final values, it stays correct while ancestors get committed underneath.
//! - **The index** (`<dir>/index.redb`, redb) keeps finalized blocks by height, block heights
//!   by digest, receipts by transaction id and consensus seeds by round. For each finalized
//!   block it is written **before** the state commit, so a crash between the two leaves the
//!   state one block behind, and marshal redelivers that block (it is acknowledged only after
//!   the state commit); both writes are idempotent by height.

use crate::execute::{Base, BlockEnv, ExecError, Execution, Executor, merge};
use commonware_codec::{DecodeExt as _, Encode as _};
use hyperchain_state::{Snapshot, StateError, Store, TreeId, WriteBatch};
use hyperchain_types::{
    Address, Block, Digest, Header, Receipt, Round, SeedReveal, SignedTransaction, tx_root,
};
use redb::{Database, Durability, ReadableDatabase as _, ReadableTable as _, TableDefinition};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

const BLOCKS: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("blocks");
const HEIGHTS: TableDefinition<'static, &'static [u8], u64> = TableDefinition::new("block_heights");
const RECEIPTS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new("receipts");
const SEEDS: TableDefinition<'static, (u64, u64), &'static [u8]> =
    TableDefinition::new("seeds_by_round");

/// File name of the index database inside the node's directory.
pub const INDEX_FILE: &str = "index.redb";
/// Directory of the state store inside the node's directory.
pub const STATE_DIR: &str = "state";

pub use crate::mempool::Standing;
pub use hyperchain_stf::genesis::Genesis;

/// Failures of the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Execution failed on this node.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The index database failed.
    #[error("index database: {0}")]
    Index(#[from] redb::Error),
    /// The index holds something that does not decode or does not match.
    #[error("corrupt index: {0}")]
    Corrupt(String),
    /// The node directory belongs to another chain.
    #[error("the node directory holds chain {found}, not {expected}")]
    WrongChain {
        /// The configured chain.
        expected: Digest,
        /// The stored one.
        found: Digest,
    },
    /// A block's parent is neither the committed tip nor an executed unfinalized block.
    #[error("parent {0} of the block is not known")]
    UnknownParent(Digest),
    /// A block on this parent must reveal the seed of the parent's round, which this node has
    /// not seen yet (its notarization is on its way).
    #[error("the seed of round {0} (the parent's) is not known yet")]
    SeedUnknown(Round),
    /// This node's execution of a finalized block disagrees with the block (the node or a
    /// quorum of validators is faulty); the node stops applying blocks.
    #[error("finalized block {height} does not execute to its header: {reason}")]
    Diverged {
        /// Height of the block.
        height: u64,
        /// What differs.
        reason: String,
    },
}

fn db(e: impl Into<redb::Error>) -> LedgerError {
    LedgerError::Index(e.into())
}

/// The verdict on a block executed on its parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The block executes to its header.
    Valid,
    /// The block is invalid, with the reason.
    Invalid(String),
}

#[derive(Debug)]
struct Pending {
    height: u64,
    merged: Arc<WriteBatch>,
    execution: Arc<Execution>,
}

/// A finalized height and a read view of the state at it, served to joining nodes
/// ([`Ledger::checkpoints`]).
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The finalized height.
    pub height: u64,
    /// The state at it.
    pub snapshot: Arc<Snapshot>,
}

/// How many checkpoints a ledger keeps (each pins its version of the state on disk).
pub const KEPT_CHECKPOINTS: usize = 2;

/// Checkpoint interval of a chain without epochs.
const CHECKPOINT_WITHOUT_EPOCHS: u64 = 1024;

#[derive(Debug)]
struct Inner {
    checkpoints: std::collections::VecDeque<Checkpoint>,
    tip_height: u64,
    tip: Digest,
    pending: HashMap<Digest, Pending>,
    seeds: BTreeMap<Round, Vec<u8>>,
    /// Seeds seen lately, by round (the newest [`RECENT_SEEDS`]): what blocks reveal.
    recent_seeds: BTreeMap<Round, [u8; 48]>,
    last_header: Option<(u64, Header)>,
}

/// How many recent seeds a ledger keeps in memory (views far behind the tip are read from the
/// index).
pub const RECENT_SEEDS: usize = 4096;

/// Committed state, unfinalized executions and the index of one node.
#[derive(Debug)]
pub struct Ledger {
    store: Store,
    index: Database,
    executor: Executor,
    genesis: Block,
    checkpoint_every: u64,
    inner: Mutex<Inner>,
}

impl Ledger {
    /// Opens (creating if missing) the ledger in `dir`, writing the genesis state and block on
    /// first use.
    pub fn open(dir: &Path, genesis: Genesis, executor: Executor) -> Result<Ledger, LedgerError> {
        std::fs::create_dir_all(dir).map_err(|e| LedgerError::Index(e.into()))?;
        let store = Store::open(dir.join(STATE_DIR))?;
        let index = Database::create(dir.join(INDEX_FILE)).map_err(db)?;
        let stored_genesis = read_block(&index, 0)?;
        let genesis_block = match stored_genesis {
            Some(block) => {
                if block.header.chain_id != genesis.chain_id {
                    return Err(LedgerError::WrongChain {
                        expected: genesis.chain_id,
                        found: block.header.chain_id,
                    });
                }
                block
            }
            None => {
                // The genesis state: the funded accounts and the supply.
                let root = store.commit(&genesis.writes(), 0)?;
                let block = genesis_block(&genesis, Digest(root));
                write_index(&index, &block, &[], &BTreeMap::new())?;
                block
            }
        };
        let tip_height = store.height()?;
        let tip_block = read_block(&index, tip_height)?.ok_or_else(|| {
            LedgerError::Corrupt(format!(
                "state is at height {tip_height}, index has no block"
            ))
        })?;
        if Digest(store.root()?) != tip_block.header.state_root {
            return Err(LedgerError::Corrupt(format!(
                "state root at height {tip_height} differs from the block's"
            )));
        }
        let blocks_per_epoch = executor.registry().blocks_per_epoch;
        Ok(Ledger {
            store,
            index,
            executor,
            genesis: genesis_block,
            checkpoint_every: if blocks_per_epoch == u64::MAX {
                CHECKPOINT_WITHOUT_EPOCHS
            } else {
                (blocks_per_epoch / 2).max(1)
            },
            inner: Mutex::new(Inner {
                tip_height,
                tip: tip_block.digest(),
                pending: HashMap::new(),
                seeds: BTreeMap::new(),
                recent_seeds: BTreeMap::new(),
                last_header: None,
                checkpoints: std::collections::VecDeque::new(),
            }),
        })
    }

    /// The state checkpoints this ledger serves to joining nodes, oldest first: a read view of
    /// the state at each finalized height that is a multiple of half an epoch (the epoch's
    /// first and middle blocks: never past the middle, so a node starting there can still take
    /// its part in that epoch's resharing), the newest [`KEPT_CHECKPOINTS`].
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.lock().checkpoints.iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The genesis block.
    pub fn genesis(&self) -> &Block {
        &self.genesis
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Height and digest of the last committed (finalized and applied) block.
    pub fn tip(&self) -> (u64, Digest) {
        let inner = self.lock();
        (inner.tip_height, inner.tip)
    }

    /// The committed state root.
    pub fn state_root(&self) -> Result<Digest, LedgerError> {
        Ok(Digest(self.store.root()?))
    }

    /// A consistent read view of the committed state: its height, root, values and proofs all
    /// come from one commit, whatever is committed meanwhile.
    pub fn snapshot(&self) -> Result<Snapshot, LedgerError> {
        Ok(self.store.snapshot()?)
    }

    /// A committed value.
    pub fn get(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.store.get(tree, key)?)
    }

    /// The account's next nonce in the committed state.
    pub fn next_nonce(&self, account: &Address) -> Result<u64, LedgerError> {
        Ok(self.account(account)?.nonce)
    }

    /// The account's record (next nonce and balance) in the committed state.
    pub fn account(&self, account: &Address) -> Result<hyperchain_stf::fees::Account, LedgerError> {
        let raw = self.get(&TreeId::ROOT, &hyperchain_stf::fees::account_key(account))?;
        hyperchain_stf::fees::Account::decode(raw.as_deref())
            .map_err(|e| LedgerError::Exec(ExecError::Corrupt(e)))
    }

    /// What the mempool needs to admit `tx`, from the committed state: its sender's next
    /// nonce and what its payer holds.
    pub fn standing(&self, tx: &SignedTransaction) -> Result<Standing, LedgerError> {
        Ok(self.standings(std::slice::from_ref(tx))?[0])
    }

    /// [`Self::standing`] of each of `txs`, read from one snapshot (each sender's once).
    pub fn standings(&self, txs: &[SignedTransaction]) -> Result<Vec<Standing>, LedgerError> {
        use hyperchain_stf::execute::{account_in, payer};
        let snapshot = self.snapshot()?;
        let mut accounts: HashMap<Address, hyperchain_stf::fees::Account> = HashMap::new();
        let mut account = |address: &Address| -> Result<_, LedgerError> {
            if let Some(account) = accounts.get(address) {
                return Ok(*account);
            }
            let record = account_in(&snapshot, address)?;
            accounts.insert(*address, record);
            Ok(record)
        };
        txs.iter()
            .map(|tx| {
                let sender = tx.tx.sender_address();
                let own = account(&sender)?;
                let payer = match tx.tx.payload {
                    hyperchain_types::Payload::Reattest(_) => payer(&snapshot, tx, sender)?,
                    _ => sender,
                };
                let spendable = if payer == sender {
                    own.balance
                } else {
                    account(&payer)?.balance
                };
                Ok(Standing {
                    nonce: own.nonce,
                    spendable,
                })
            })
            .collect()
    }

    /// Whether `digest` is the committed tip or an executed unfinalized block.
    pub fn is_known(&self, digest: &Digest) -> bool {
        let inner = self.lock();
        inner.tip == *digest || inner.pending.contains_key(digest)
    }

    /// The state a child of `parent` executes on, if `parent` is known.
    fn base_for(&self, parent: &Digest) -> Result<Option<Arc<Base>>, LedgerError> {
        let inner = self.lock();
        let pending = if inner.tip == *parent {
            Arc::new(WriteBatch::new())
        } else if let Some(p) = inner.pending.get(parent) {
            p.merged.clone()
        } else {
            return Ok(None);
        };
        // Taken under the lock so that it is consistent with the tip and the pending batch.
        let snapshot = self.store.snapshot()?;
        Ok(Some(Arc::new(Base::new(snapshot, pending))))
    }

    fn remember(&self, digest: Digest, height: u64, base: &Base, execution: Execution) {
        let merged = Arc::new(merge(base.pending(), &execution.batch));
        self.lock().pending.insert(
            digest,
            Pending {
                height,
                merged,
                execution: Arc::new(execution),
            },
        );
    }

    /// Builds a block on `parent` from `candidates`, leaving out the invalid ones, and keeps
    /// its execution for the finalization.
    /// Whether a lane's head job, in the state after block `parent`, waits for a newer seed
    /// (a block revealing one is what moves it on). Unknown parents count as not waiting.
    pub fn awaits_seed(&self, parent: &Digest) -> Result<bool, LedgerError> {
        let Some(base) = self.base_for(parent)? else {
            return Ok(false);
        };
        Ok(crate::lanes::awaits_draw(&*base)?)
    }

    /// The block reveals the newest consensus seed this node knows if it is newer than every
    /// seed its ancestors revealed and older than `view`. `leader` is the proposer's consensus
    /// key (the header records it with the parent's view: the block's consensus context).
    pub fn build(
        &self,
        parent: &Header,
        timestamp_ms: u64,
        round: Round,
        leader: [u8; 32],
        candidates: &[SignedTransaction],
    ) -> Result<Block, LedgerError> {
        self.build_with(parent, timestamp_ms, round, leader, candidates, None)
    }

    /// [`Ledger::build`] of a block carrying the epochs' reshare payload `reshare`.
    pub fn build_with(
        &self,
        parent: &Header,
        timestamp_ms: u64,
        round: Round,
        leader: [u8; 32],
        candidates: &[SignedTransaction],
        reshare: Option<Vec<u8>>,
    ) -> Result<Block, LedgerError> {
        let parent_digest = parent.digest();
        let base = self
            .base_for(&parent_digest)?
            .ok_or(LedgerError::UnknownParent(parent_digest))?;
        let seed = self.parent_seed(parent.round())?;
        let env = BlockEnv {
            height: parent.height + 1,
            parent: parent_digest,
            timestamp_ms,
            round,
            seed,
            leader,
        };
        let execution = self.executor.execute(&base, env, candidates)?;
        let txs: Vec<SignedTransaction> = execution
            .included
            .iter()
            .map(|&i| candidates[i].clone())
            .collect();
        let state_root = base.state_root(&execution.batch)?;
        let block = Block {
            header: Header {
                chain_id: self.executor.chain_id(),
                height: env.height,
                parent: parent_digest,
                timestamp_ms,
                tx_root: tx_root(&txs),
                state_root,
                epoch: round.epoch,
                view: round.view,
                // The context's parent view: the parent's if of this epoch, else 0 (a new
                // epoch's views start from the previous epoch's last block).
                parent_view: if parent.epoch == round.epoch {
                    parent.view
                } else {
                    0
                },
                leader,
                seed,
                reshare: hyperchain_types::reshare_digest(reshare.as_deref()),
            },
            txs,
            reshare,
        };
        let mut execution = execution;
        execution.included = (0..execution.receipts.len()).collect();
        execution.invalid.clear();
        self.remember(block.digest(), env.height, &base, execution);
        Ok(block)
    }

    /// Executes `block` on its parent (which must be known) and checks it against its header;
    /// a valid block's execution is kept for the finalization.
    pub fn execute(&self, block: &Block) -> Result<Verdict, LedgerError> {
        let digest = block.digest();
        if self.is_known(&digest) {
            return Ok(Verdict::Valid);
        }
        let base = self
            .base_for(&block.header.parent)?
            .ok_or(LedgerError::UnknownParent(block.header.parent))?;
        let (verdict, execution) = self.check(&base, block)?;
        if verdict == Verdict::Valid {
            self.remember(digest, block.header.height, &base, execution);
        }
        Ok(verdict)
    }

    fn check(&self, base: &Arc<Base>, block: &Block) -> Result<(Verdict, Execution), LedgerError> {
        let env = BlockEnv::of(&block.header);
        let parent_round = Executor::block_round(base).map_err(LedgerError::Exec)?;
        if let Err(reason) = self.executor.check_seed(&block.header, parent_round) {
            return Ok((Verdict::Invalid(reason), Execution::default()));
        }
        let execution = self.executor.execute(base, env, &block.txs)?;
        if let Some((i, reason)) = execution.invalid.first() {
            return Ok((
                Verdict::Invalid(format!("transaction {i} is invalid: {reason}")),
                execution,
            ));
        }
        let root = base.state_root(&execution.batch)?;
        if root != block.header.state_root {
            return Ok((
                Verdict::Invalid(format!(
                    "state root {} differs from the header's {}",
                    root, block.header.state_root
                )),
                execution,
            ));
        }
        Ok((Verdict::Valid, execution))
    }

    /// Records the consensus seed of `round` (its 48-byte threshold signature; persisted with
    /// the next finalized block, and revealed by a block whose parent has that round).
    pub fn record_seed(&self, round: Round, signature: [u8; 48]) {
        let mut inner = self.lock();
        inner.seeds.insert(round, signature.to_vec());
        inner.recent_seeds.insert(round, signature);
        while inner.recent_seeds.len() > RECENT_SEEDS {
            inner.recent_seeds.pop_first();
        }
    }

    /// The seed a block on a parent of round `parent` reveals: none on the genesis (round
    /// zero), else exactly the parent round's ([`Executor::check_seed`]), from the seeds seen
    /// lately or the persisted ones.
    pub fn parent_seed(&self, parent: Round) -> Result<Option<SeedReveal>, LedgerError> {
        if parent == Round::ZERO {
            return Ok(None);
        }
        if let Some(signature) = self.lock().recent_seeds.get(&parent) {
            return Ok(Some(SeedReveal {
                round: parent,
                signature: *signature,
            }));
        }
        let txn = self.index.begin_read().map_err(db)?;
        let stored = match txn.open_table(SEEDS) {
            Ok(table) => table
                .get((parent.epoch, parent.view))
                .map_err(db)?
                .and_then(|raw| <[u8; 48]>::try_from(raw.value()).ok()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(db(e)),
        };
        match stored {
            Some(signature) => Ok(Some(SeedReveal {
                round: parent,
                signature,
            })),
            None => Err(LedgerError::SeedUnknown(parent)),
        }
    }

    /// Applies a finalized block: index (block, receipts, seeds), then state, idempotently by
    /// height. Blocks must come in height order (marshal's guarantee).
    pub fn finalize(&self, block: &Block) -> Result<(), LedgerError> {
        let height = block.header.height;
        if height <= self.store.height()? {
            return Ok(());
        }
        let digest = block.digest();
        let known = self
            .lock()
            .pending
            .get(&digest)
            .map(|p| p.execution.clone());
        let execution = match known {
            Some(execution) => execution,
            None => {
                let base =
                    self.base_for(&block.header.parent)?
                        .ok_or_else(|| LedgerError::Diverged {
                            height,
                            reason: format!(
                                "its parent {} is not the committed tip",
                                block.header.parent
                            ),
                        })?;
                match self.check(&base, block)? {
                    (Verdict::Valid, execution) => Arc::new(execution),
                    (Verdict::Invalid(reason), _) => {
                        return Err(LedgerError::Diverged { height, reason });
                    }
                }
            }
        };
        let seeds = std::mem::take(&mut self.lock().seeds);
        write_index(&self.index, block, &execution.receipts, &seeds)?;
        let mut inner = self.lock();
        self.store.commit(&execution.batch, height)?;
        inner.tip_height = height;
        inner.tip = digest;
        inner.pending.retain(|_, p| p.height > height);
        if height.is_multiple_of(self.checkpoint_every) {
            inner.checkpoints.push_back(Checkpoint {
                height,
                snapshot: Arc::new(self.store.snapshot()?),
            });
            while inner.checkpoints.len() > KEPT_CHECKPOINTS {
                inner.checkpoints.pop_front();
            }
        }
        Ok(())
    }

    /// The finalized block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>, LedgerError> {
        read_block(&self.index, height)
    }

    /// The header of the finalized block at `height` (the last one asked for is remembered:
    /// readers of the finalized tip ask for the same header many times per block).
    pub fn header(&self, height: u64) -> Result<Option<Header>, LedgerError> {
        if let Some((h, header)) = &self.lock().last_header
            && *h == height
        {
            return Ok(Some(header.clone()));
        }
        let header = read_block(&self.index, height)?.map(|b| b.header);
        if let Some(header) = &header {
            self.lock().last_header = Some((height, header.clone()));
        }
        Ok(header)
    }

    /// The height of the finalized block with `digest`.
    pub fn block_height(&self, digest: &Digest) -> Result<Option<u64>, LedgerError> {
        let txn = self.index.begin_read().map_err(db)?;
        let table = match txn.open_table(HEIGHTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db(e)),
        };
        Ok(table.get(digest.as_ref()).map_err(db)?.map(|v| v.value()))
    }

    /// The receipt of a finalized transaction.
    pub fn receipt(&self, tx_id: &Digest) -> Result<Option<Receipt>, LedgerError> {
        let txn = self.index.begin_read().map_err(db)?;
        let table = match txn.open_table(RECEIPTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db(e)),
        };
        let Some(raw) = table.get(tx_id.as_ref()).map_err(db)? else {
            return Ok(None);
        };
        Receipt::decode(bytes::Bytes::copy_from_slice(raw.value()))
            .map(Some)
            .map_err(|e| LedgerError::Corrupt(format!("receipt {tx_id}: {e}")))
    }

    /// The persisted consensus seeds (round → encoded seed signature).
    pub fn seeds(&self) -> Result<BTreeMap<Round, Vec<u8>>, LedgerError> {
        let txn = self.index.begin_read().map_err(db)?;
        let table = match txn.open_table(SEEDS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
            Err(e) => return Err(db(e)),
        };
        let mut out = BTreeMap::new();
        for entry in table.iter().map_err(db)? {
            let (round, seed) = entry.map_err(db)?;
            let (epoch, view) = round.value();
            out.insert(Round::new(epoch, view), seed.value().to_vec());
        }
        Ok(out)
    }
}

fn read_block(index: &Database, height: u64) -> Result<Option<Block>, LedgerError> {
    let txn = index.begin_read().map_err(db)?;
    let table = match txn.open_table(BLOCKS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(db(e)),
    };
    let Some(raw) = table.get(height).map_err(db)? else {
        return Ok(None);
    };
    Block::decode(bytes::Bytes::copy_from_slice(raw.value()))
        .map(Some)
        .map_err(|e| LedgerError::Corrupt(format!("block {height}: {e}")))
}

/// The genesis block of `genesis`, whose state has root `state_root`.
fn genesis_block(genesis: &Genesis, state_root: Digest) -> Block {
    let mut block = Block::genesis(genesis.chain_id, genesis.timestamp_ms, state_root);
    block.header.reshare = hyperchain_types::reshare_digest(genesis.reshare.as_deref());
    block.reshare = genesis.reshare.clone();
    block
}

/// Builds a ledger directory that starts at a synced checkpoint instead of the genesis: the
/// state at finalized block `floor`, imported chunk by chunk ([`Snapshot::export`]'s), and
/// checked against the block's state root before anything is put in place. The caller has
/// verified `floor`'s finality; the import goes to a side directory renamed into place by
/// [`StateImport::finish`], so a crash leaves no ledger (and the sync starts again).
pub struct StateImport {
    dir: std::path::PathBuf,
    partial: std::path::PathBuf,
    store: Store,
    genesis: Block,
    floor: Block,
    entries: u64,
}

impl std::fmt::Debug for StateImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateImport")
            .field("dir", &self.dir)
            .field("floor", &self.floor.header.height)
            .field("entries", &self.entries)
            .finish()
    }
}

impl StateImport {
    /// Starts importing into `dir` (which must hold no ledger) the state of `floor`, a
    /// finalized block of the chain of `genesis`.
    pub fn begin(dir: &Path, genesis: &Genesis, floor: Block) -> Result<StateImport, LedgerError> {
        if dir.join(INDEX_FILE).exists() {
            return Err(LedgerError::Corrupt(format!(
                "{} already holds a ledger",
                dir.display()
            )));
        }
        if floor.header.chain_id != genesis.chain_id {
            return Err(LedgerError::WrongChain {
                expected: genesis.chain_id,
                found: floor.header.chain_id,
            });
        }
        let genesis_root = Store::in_memory()?.commit(&genesis.writes(), 0)?;
        let mut partial = dir.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(|e| LedgerError::Index(e.into()))?;
        }
        std::fs::create_dir_all(&partial).map_err(|e| LedgerError::Index(e.into()))?;
        Ok(StateImport {
            dir: dir.to_path_buf(),
            store: Store::open(partial.join(STATE_DIR))?,
            partial,
            genesis: genesis_block(genesis, Digest(genesis_root)),
            floor,
            entries: 0,
        })
    }

    /// The block whose state is imported.
    pub fn floor(&self) -> &Block {
        &self.floor
    }

    /// Entries imported so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Writes file `name` into the ledger directory being built (it lands with the ledger).
    pub fn attach(&self, name: &str, bytes: &[u8]) -> Result<(), LedgerError> {
        let path = self.partial.join(name);
        std::fs::write(&path, bytes)
            .and_then(|()| std::fs::File::open(&path)?.sync_all())
            .map_err(|e| LedgerError::Index(e.into()))
    }

    /// Imports one chunk of `(tree, key, value)` entries.
    pub fn add(&mut self, entries: &[(TreeId, Vec<u8>, Vec<u8>)]) -> Result<(), LedgerError> {
        let mut batch = WriteBatch::new();
        for (tree, key, value) in entries {
            batch.put(*tree, key.clone(), value.clone());
        }
        self.store.commit(&batch, self.floor.header.height)?;
        self.entries += entries.len() as u64;
        Ok(())
    }

    /// Checks the imported state against the floor's state root and puts the ledger in place
    /// (the genesis block, the floor block and, if known, the seed of the floor's round, which
    /// a block on it reveals). A state that does not match is discarded.
    pub fn finish(self, floor_seed: Option<(Round, [u8; 48])>) -> Result<(), LedgerError> {
        let root = Digest(self.store.root()?);
        if root != self.floor.header.state_root {
            let _ = std::fs::remove_dir_all(&self.partial);
            return Err(LedgerError::Corrupt(format!(
                "the synced state's root {root} is not block {}'s {}",
                self.floor.header.height, self.floor.header.state_root
            )));
        }
        drop(self.store);
        let index = Database::create(self.partial.join(INDEX_FILE)).map_err(db)?;
        write_index(&index, &self.genesis, &[], &BTreeMap::new())?;
        let seeds = floor_seed
            .map(|(round, signature)| (round, signature.to_vec()))
            .into_iter()
            .collect();
        write_index(&index, &self.floor, &[], &seeds)?;
        drop(index);
        if let Some(parent) = self.dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| LedgerError::Index(e.into()))?;
        }
        if self.dir.exists() {
            // An empty directory (a fresh data directory's): replaced.
            std::fs::remove_dir(&self.dir).map_err(|e| LedgerError::Index(e.into()))?;
        }
        std::fs::rename(&self.partial, &self.dir).map_err(|e| LedgerError::Index(e.into()))?;
        Ok(())
    }
}

fn write_index(
    index: &Database,
    block: &Block,
    receipts: &[Receipt],
    seeds: &BTreeMap<Round, Vec<u8>>,
) -> Result<(), LedgerError> {
    let mut txn = index.begin_write().map_err(db)?;
    txn.set_durability(Durability::Immediate).map_err(db)?;
    {
        let mut blocks = txn.open_table(BLOCKS).map_err(db)?;
        blocks
            .insert(block.header.height, block.encode().as_ref())
            .map_err(db)?;
        let mut heights = txn.open_table(HEIGHTS).map_err(db)?;
        heights
            .insert(block.digest().as_ref(), block.header.height)
            .map_err(db)?;
        let mut table = txn.open_table(RECEIPTS).map_err(db)?;
        for receipt in receipts {
            table
                .insert(receipt.tx_id.as_ref(), receipt.encode().as_ref())
                .map_err(db)?;
        }
        let mut table = txn.open_table(SEEDS).map_err(db)?;
        for (round, seed) in seeds {
            table
                .insert((round.epoch, round.view), seed.as_slice())
                .map_err(db)?;
        }
    }
    txn.commit().map_err(db)?;
    Ok(())
}
