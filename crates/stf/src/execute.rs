//! Block execution: pure and deterministic, no consensus and no I/O beyond reading state.
//!
//! [`Executor::execute`] runs a list of transactions on a [`Base`] (a committed snapshot seen
//! through the writes of unfinalized ancestors) and returns the block's own [`WriteBatch`], a
//! [`Receipt`] per included transaction and the transactions that are **invalid** (bad
//! signature, wrong chain, wrong nonce, over the block's fuel budget). Invalid transactions
//! have no effect at all; a proposer leaves them out and a validator rejects a block that has
//! any.
//!
//! Root-tree keys written here (values in brackets):
//!
//! | key | value |
//! |---|---|
//! | `acct/ ‖ account address` | the account's next nonce and balance ([`crate::fees::Account`]) |
//! | `supply` | the total supply (u128 BE) |
//! | `code/ ‖ code hash ‖ chunk (u16 BE)` | module bytes, in chunks of [`CODE_CHUNK`] bytes |
//! | `contract/ ‖ contract address` | [`ContractRecord`] encoding |
//!
//! A contract's storage is the sub-tree `TreeId(address)`.

use crate::fees;
use crate::registry::{self, RegistryConfig};
use crate::signatures::SignatureCache;
use commonware_codec::{DecodeExt as _, Encode as _, EncodeSize as _};
use hyperchain_state::{StateError, StateReader, TreeId, TreeWrites, WriteBatch};
use hyperchain_types::{
    Address, CallStatus, ContractRecord, Digest, ExecutionMode, Payload, Receipt, ReceiptStatus,
    SignedTransaction, block_limits, contract_address, tx_limits,
};
use hyperchain_vm::{Call, CallContext, Contract, Engine, StorageError, StorageReader, VmError};
use std::sync::Arc;

/// Root-tree key prefix of contract code chunks.
pub const CODE_PREFIX: &[u8] = b"code/";
/// Root-tree key prefix of contract records.
pub const CONTRACT_PREFIX: &[u8] = b"contract/";
/// Code is stored in chunks of this many bytes (the state store caps values at 1 MiB, modules
/// may be 2 MiB).
pub const CODE_CHUNK: usize = 512 * 1024;

/// The root-tree key of chunk `index` of the module with hash `code_hash`.
pub fn code_key(code_hash: &Digest, index: u16) -> Vec<u8> {
    [CODE_PREFIX, code_hash.as_ref(), &index.to_be_bytes()].concat()
}

/// The root-tree key of `contract`'s record.
pub fn contract_key(contract: &Address) -> Vec<u8> {
    [CONTRACT_PREFIX, contract.as_ref()].concat()
}

/// Height and time of the block being executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockEnv {
    /// Block height.
    pub height: u64,
    /// The parent block's digest.
    pub parent: Digest,
    /// Block timestamp, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The consensus round (epoch, view) of the block.
    pub round: hyperchain_types::Round,
    /// The seed the block reveals (already checked, [`Executor::check_seed`]).
    pub seed: Option<hyperchain_types::SeedReveal>,
    /// The proposer's consensus key: its account receives the block's tips and the unburned
    /// part of its fees (zeros: nobody; all of it is burned).
    pub leader: [u8; 32],
}

impl BlockEnv {
    /// The environment of the block `header` describes.
    pub fn of(header: &hyperchain_types::Header) -> BlockEnv {
        BlockEnv {
            height: header.height,
            parent: header.parent,
            timestamp_ms: header.timestamp_ms,
            round: header.round(),
            seed: header.seed,
            leader: header.leader,
        }
    }
}

/// Why a transaction cannot be included in a block at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTx {
    /// The signature is not the sender's.
    #[error("bad signature")]
    BadSignature,
    /// The transaction is for another chain.
    #[error("wrong chain id: expected {expected}, got {found}")]
    WrongChain {
        /// This chain.
        expected: Digest,
        /// The transaction's.
        found: Digest,
    },
    /// The nonce is not the sender's next one.
    #[error("wrong nonce: expected {expected}, got {found}")]
    Nonce {
        /// The sender's next nonce.
        expected: u64,
        /// The transaction's.
        found: u64,
    },
    /// The encoded transaction exceeds the size limit.
    #[error("transaction too large: {size} > {max} bytes")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The block's fuel budget cannot cover this call's fuel limit.
    #[error("block fuel budget exhausted")]
    BlockFuel,
    /// The fee limit is below what the schedule charges any inclusion of the transaction
    /// (for a call, with its whole fuel limit).
    #[error("fee limit {limit} is below the {required} base units this transaction needs")]
    FeeLimit {
        /// The least limit the schedule accepts.
        required: u64,
        /// The transaction's.
        limit: u64,
    },
    /// The payer's balance cannot cover the fee limit and tip.
    #[error("the payer holds {balance} base units, the fee limit and tip take {needed}")]
    CannotPay {
        /// The payer's balance.
        balance: u128,
        /// Fee limit plus tip.
        needed: u128,
    },
}

/// The node could not execute: its state is unreadable or the engine failed. Nothing depending
/// on the execution may be committed or voted for.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Reading state failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The engine failed (not a contract fault).
    #[error(transparent)]
    Vm(#[from] VmError),
    /// Stored state does not decode.
    #[error("corrupt state: {0}")]
    Corrupt(String),
}

/// The state a block executes on: a committed snapshot overlaid with the writes of the
/// block's unfinalized ancestors.
#[derive(Debug)]
pub struct Base {
    snapshot: Box<dyn StateReader>,
    pending: Arc<WriteBatch>,
}

impl Base {
    /// `snapshot` overlaid with `pending` (later writes of unfinalized ancestors).
    pub fn new(snapshot: impl StateReader + 'static, pending: Arc<WriteBatch>) -> Self {
        Base {
            snapshot: Box::new(snapshot),
            pending,
        }
    }

    /// The value of `key` in `tree`.
    pub fn get(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(write) = self.pending.tree(tree).and_then(|w| w.get(key)) {
            return Ok(write.clone());
        }
        self.snapshot.get(tree, key)
    }

    /// The pending writes of the unfinalized ancestors.
    pub fn pending(&self) -> &Arc<WriteBatch> {
        &self.pending
    }

    /// The root of sub-tree `tree` (a contract's storage commitment) after applying `own` and
    /// then `extra` on top of this base.
    pub fn tree_root_after<'a>(
        &self,
        tree: &TreeId,
        own: &WriteBatch,
        extra: impl IntoIterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)>,
    ) -> Result<Digest, StateError> {
        let mut batch = WriteBatch::new();
        for writes in [self.pending.tree(tree), own.tree(tree)]
            .into_iter()
            .flatten()
        {
            for (key, value) in writes {
                batch.set(*tree, key.clone(), value.clone());
            }
        }
        for (key, value) in extra {
            batch.set(*tree, key.clone(), value.clone());
        }
        if batch.is_empty() {
            return Ok(Digest(self.snapshot.tree_root(tree)?));
        }
        let roots = self.snapshot.compute_roots(&batch)?;
        Ok(Digest(
            roots
                .tree_roots
                .get(tree)
                .copied()
                .unwrap_or(self.snapshot.tree_root(tree)?),
        ))
    }

    /// The state root after applying `own` on top of this base.
    pub fn state_root(&self, own: &WriteBatch) -> Result<Digest, StateError> {
        let merged = merge(&self.pending, own);
        Ok(Digest(self.snapshot.compute_root(&merged)?))
    }
}

/// `later` applied over `earlier`.
pub fn merge(earlier: &WriteBatch, later: &WriteBatch) -> WriteBatch {
    let mut out = earlier.clone();
    for (tree, writes) in later.trees() {
        for (key, value) in writes {
            out.set(*tree, key.clone(), value.clone());
        }
    }
    out
}

/// A block's execution result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Execution {
    /// The block's own writes.
    pub batch: WriteBatch,
    /// One receipt per included transaction, in order (`index` counts included ones only).
    pub receipts: Vec<Receipt>,
    /// Positions (in the input list) of the included transactions.
    pub included: Vec<usize>,
    /// Positions and reasons of the transactions that cannot be included.
    pub invalid: Vec<(usize, InvalidTx)>,
}

impl registry::StateView for Overlay<'_> {
    fn read(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, ExecError> {
        Ok(self.get(tree, key)?)
    }
}

/// Reads through the base, then the block's own writes.
pub(crate) struct Overlay<'a> {
    pub(crate) base: &'a Base,
    pub(crate) own: &'a WriteBatch,
}

impl Overlay<'_> {
    pub(crate) fn get(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(write) = self.own.tree(tree).and_then(|w| w.get(key)) {
            return Ok(write.clone());
        }
        self.base.get(tree, key)
    }
}

impl crate::registry::StateView for Base {
    fn read(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, ExecError> {
        Ok(self.get(tree, key)?)
    }
}

/// One contract's committed storage, as a compute node (or a local tool) reads it.
#[derive(Debug)]
pub struct ContractSnapshot<S> {
    /// Committed state.
    pub snapshot: S,
    /// The contract's storage tree.
    pub tree: TreeId,
}

impl<S: StateReader> StorageReader for ContractSnapshot<S> {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.snapshot
            .get(&self.tree, key)
            .map_err(|e| StorageError(e.to_string()))
    }
}

/// One contract's storage as a call sees it: the snapshot, then the pending writes of that
/// tree (ancestors' and earlier transactions' of this block).
pub(crate) struct ContractView {
    pub(crate) base: Arc<Base>,
    pub(crate) tree: TreeId,
    pub(crate) own: TreeWrites,
    /// This block's earlier writes to the identity accumulator.
    pub(crate) accumulator: TreeWrites,
}

impl StorageReader for ContractView {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(write) = self.own.get(key) {
            return Ok(write.clone());
        }
        self.base
            .get(&self.tree, key)
            .map_err(|e| StorageError(e.to_string()))
    }

    fn compute_node_expiry(&self, node_id: &[u8; 32]) -> Result<Option<u64>, StorageError> {
        let raw = match self.accumulator.get(node_id.as_slice()) {
            Some(write) => write.clone(),
            None => self
                .base
                .get(&registry::ACCUMULATOR, node_id)
                .map_err(|e| StorageError(e.to_string()))?,
        };
        Ok(registry::decode_expiry(raw.as_deref()))
    }
}

/// Checks what can be checked without state: size, chain id, signature.
pub fn check_stateless(chain_id: &Digest, tx: &SignedTransaction) -> Result<(), InvalidTx> {
    check_form(chain_id, tx)?;
    if !tx.verify_signature() {
        return Err(InvalidTx::BadSignature);
    }
    Ok(())
}

/// [`check_stateless`] without the signature: size and chain id.
pub fn check_form(chain_id: &Digest, tx: &SignedTransaction) -> Result<(), InvalidTx> {
    let size = tx.encode_size();
    if size > tx_limits::MAX_TX_SIZE {
        return Err(InvalidTx::TooLarge {
            size,
            max: tx_limits::MAX_TX_SIZE,
        });
    }
    if tx.tx.chain_id != *chain_id {
        return Err(InvalidTx::WrongChain {
            expected: *chain_id,
            found: tx.tx.chain_id,
        });
    }
    Ok(())
}

/// Executes transactions with one engine for one chain.
#[derive(Clone, Debug)]
pub struct Executor {
    pub(crate) engine: Engine,
    pub(crate) chain_id: Digest,
    signatures: Arc<SignatureCache>,
    pub(crate) registry: Arc<RegistryConfig>,
    seeds: Option<Arc<crate::light::LightClient>>,
}

impl Executor {
    /// An executor of `chain_id`'s transactions.
    pub fn new(engine: Engine, chain_id: Digest) -> Self {
        Executor {
            engine,
            chain_id,
            signatures: Arc::new(SignatureCache::default()),
            registry: Arc::new(RegistryConfig::default()),
            seeds: None,
        }
    }

    /// This executor verifying the consensus seeds blocks reveal with `light` (the chain's
    /// group public key). Without it, a block that reveals a seed is invalid.
    pub fn with_seed_verifier(mut self, light: crate::light::LightClient) -> Self {
        self.seeds = Some(Arc::new(light));
        self
    }

    /// Checks the seed `header` reveals: exactly that of its parent's round `parent` (a valid
    /// threshold signature of that round, even across an epoch boundary), or none when the
    /// parent is the genesis (round zero). The seed is determined by the chain, so a proposer
    /// can neither withhold it (veto a draw) nor pick an older one (choose among draws).
    pub fn check_seed(
        &self,
        header: &hyperchain_types::Header,
        parent: hyperchain_types::Round,
    ) -> Result<(), String> {
        use hyperchain_types::Round;
        let seed = match (&header.seed, parent) {
            (None, Round::ZERO) => return Ok(()),
            (Some(seed), Round::ZERO) => {
                return Err(format!(
                    "reveals the seed of round {} on the genesis, which has none",
                    seed.round
                ));
            }
            (None, parent) => {
                return Err(format!(
                    "reveals no seed; it must reveal its parent's (round {parent})"
                ));
            }
            (Some(seed), parent) if seed.round != parent => {
                return Err(format!(
                    "reveals the seed of round {}, not its parent's (round {parent})",
                    seed.round
                ));
            }
            (Some(seed), _) => seed,
        };
        match &self.seeds {
            None => Err("this node has no group key to verify seeds".into()),
            Some(light) if light.verify_seed(seed) => Ok(()),
            Some(_) => Err(format!(
                "seed of round {} does not verify against the group key",
                seed.round
            )),
        }
    }

    /// The round of the block whose state `base` is (zero for the genesis state).
    pub fn block_round(base: &Base) -> Result<hyperchain_types::Round, ExecError> {
        Ok(crate::lanes::clock(base)?.block_round)
    }

    /// This executor with the registry's genesis configuration (validators, initial
    /// attestation policy).
    pub fn with_registry(mut self, registry: RegistryConfig) -> Self {
        self.registry = Arc::new(registry);
        self
    }

    /// The cache of verified transaction signatures (share it with the mempool so that
    /// admitted transactions are not verified again in blocks).
    pub fn signatures(&self) -> &Arc<SignatureCache> {
        &self.signatures
    }

    /// The chain's fee schedule.
    pub fn fees(&self) -> &fees::FeeSchedule {
        &self.registry.fees
    }

    /// The registry's genesis configuration.
    pub fn registry(&self) -> &RegistryConfig {
        &self.registry
    }

    /// The chain this executor accepts transactions for.
    pub fn chain_id(&self) -> Digest {
        self.chain_id
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Executes `txs` in order on `base`.
    pub fn execute(
        &self,
        base: &Arc<Base>,
        env: BlockEnv,
        txs: &[SignedTransaction],
    ) -> Result<Execution, ExecError> {
        let mut out = Execution::default();
        let mut fuel_used_total: u64 = 0;
        let mut block_fees = BlockFees::default();
        registry::record_parent(&mut out.batch, env.height, &env.parent);
        self.begin_block(base, &mut out.batch, env)?;
        let stateless = self.check_all_stateless(txs);
        for ((position, tx), stateless) in txs.iter().enumerate().zip(stateless) {
            if let Err(reason) = stateless {
                out.invalid.push((position, reason));
                continue;
            }
            let sender = tx.tx.sender_address();
            let view = Overlay {
                base,
                own: &out.batch,
            };
            let mut account = read_account(&view, &sender)?;
            if tx.tx.nonce != account.nonce {
                out.invalid.push((
                    position,
                    InvalidTx::Nonce {
                        expected: account.nonce,
                        found: tx.tx.nonce,
                    },
                ));
                continue;
            }
            let payment = match self.payment(&view, tx, sender, account)? {
                Ok(payment) => payment,
                Err(reason) => {
                    out.invalid.push((position, reason));
                    continue;
                }
            };
            // A call fits if its whole fuel limit fits in what the block has not used yet, so
            // the block's fuel never exceeds MAX_BLOCK_FUEL whatever the call does.
            // A receipt may make validators arbitrate, i.e. run the job themselves.
            let reserve = match &tx.tx.payload {
                Payload::Call { fuel_limit, .. } => *fuel_limit,
                Payload::Receipt(r) => crate::lanes::receipt_reserve(&view, &r.receipt.job)?,
                _ => 0,
            };
            if fuel_used_total
                .checked_add(reserve)
                .is_none_or(|total| total > block_limits::MAX_BLOCK_FUEL)
            {
                out.invalid.push((position, InvalidTx::BlockFuel));
                continue;
            }
            account.nonce += 1;
            let mut escrowed: u128 = 0;
            let (status, fuel_used, charge) = match &tx.tx.payload {
                Payload::Deploy {
                    code,
                    mode,
                    regions,
                } => (
                    self.deploy(
                        base,
                        &mut out.batch,
                        sender,
                        tx.tx.nonce,
                        code,
                        *mode,
                        regions,
                    )?,
                    0,
                    payment.base,
                ),
                Payload::Call {
                    contract,
                    method,
                    input,
                    fuel_limit,
                } => {
                    let (status, fuel, charge, escrow) = self.call(
                        base,
                        &mut out.batch,
                        env,
                        tx.id(),
                        sender,
                        *contract,
                        method,
                        input,
                        *fuel_limit,
                        (payment.base, tx.tx.fee.limit),
                    )?;
                    escrowed = escrow;
                    (status, fuel, charge)
                }
                Payload::Register(r) => {
                    // The owner (the sender) posts the node's bond beside its fee.
                    let spendable = account.balance.saturating_sub(payment.max_total);
                    let (status, bond) =
                        self.apply_registry(base, &mut out.batch, env, |view, cfg, now| {
                            registry::register(view, cfg, &self.chain_id, sender, r, now, spendable)
                        })?;
                    account.balance -= bond;
                    (status, 0, payment.base)
                }
                Payload::Reattest(r) => {
                    let status =
                        self.apply_registry_effect(base, &mut out.batch, env, |view, cfg, now| {
                            registry::reattest(view, cfg, &self.chain_id, &tx.tx.sender, r, now)
                        })?;
                    (status, 0, payment.base)
                }
                Payload::Propose(action) => {
                    let id = tx.id();
                    let status =
                        self.apply_registry_effect(base, &mut out.batch, env, |view, cfg, now| {
                            crate::governance::propose(view, cfg, sender, id, action, now)
                        })?;
                    (status, 0, payment.base)
                }
                Payload::Approve { proposal } => {
                    let status =
                        self.apply_registry_effect(base, &mut out.batch, env, |view, cfg, now| {
                            crate::governance::approve(view, cfg, sender, proposal, now)
                        })?;
                    (status, 0, payment.base)
                }
                Payload::AnnounceValidator { address } => {
                    let status =
                        self.apply_registry_effect(base, &mut out.batch, env, |view, _, now| {
                            crate::validators::announce(view, &tx.tx.sender, address, now)
                        })?;
                    (status, 0, payment.base)
                }
                Payload::Deregister { node } => {
                    let status =
                        self.apply_registry_effect(base, &mut out.batch, env, |view, _, now| {
                            registry::deregister(view, sender, node, now)
                        })?;
                    (status, 0, payment.base)
                }
                Payload::WithdrawBond { node } => {
                    let (status, bond) =
                        self.apply_registry(base, &mut out.batch, env, |view, cfg, now| {
                            registry::withdraw_bond(view, cfg, sender, node, now)
                        })?;
                    account.balance += bond;
                    (status, 0, payment.base)
                }
                Payload::Receipt(receipt) => {
                    // Paid from its job's escrow, never by its carrier; taken before the
                    // receipt is counted (counting it may end the job and settle the escrow)
                    // and put back if it is refused.
                    let size = tx.encode_size();
                    let (job_before, fee) =
                        self.take_receipt_fee(base, &mut out.batch, receipt, size)?;
                    let (status, fuel) = self.receive(base, &mut out.batch, env, receipt)?;
                    let fee = match (&status, job_before) {
                        (ReceiptStatus::Rejected(_), Some(before)) => {
                            out.batch.put(
                                TreeId::ROOT,
                                crate::lanes::job_key(&receipt.receipt.job),
                                before,
                            );
                            0
                        }
                        _ => fee,
                    };
                    (status, fuel, fee)
                }
                Payload::Transfer { to, amount } => {
                    let status = transfer(
                        base,
                        &mut out.batch,
                        sender,
                        &mut account,
                        *to,
                        *amount,
                        payment.max_total,
                    )?;
                    (status, 0, payment.base)
                }
            };
            // What was charged goes to the proposer and the burn at the end of the block.
            let tip = if payment.max_total == 0 {
                0
            } else {
                tx.tx.fee.tip
            };
            // A receipt's fee came from its job's escrow.
            let debit = match &tx.tx.payload {
                Payload::Receipt(_) => 0,
                _ => charge as u128 + tip as u128 + escrowed,
            };
            if payment.payer == sender {
                account.balance = account.balance.checked_sub(debit).ok_or_else(|| {
                    ExecError::Corrupt(format!("{sender} cannot pay a checked fee"))
                })?;
            } else {
                debit_account(base, &mut out.batch, &payment.payer, debit)?;
            }
            out.batch
                .put(TreeId::ROOT, fees::account_key(&sender), account.encode());
            block_fees.charged += charge as u128;
            block_fees.tips += tip as u128;
            fuel_used_total = fuel_used_total.saturating_add(fuel_used);
            out.receipts.push(Receipt {
                tx_id: tx.id(),
                height: env.height,
                index: out.included.len() as u32,
                status,
                fuel_used,
                fee: charge.saturating_add(tip),
            });
            out.included.push(position);
        }
        self.end_block(base, &mut out.batch, env)?;
        self.settle_fees(base, &mut out.batch, env, block_fees)?;
        // The middle block of an epoch commits the players of the resharing two epochs later.
        for (tree, key, value) in crate::validators::end_of_block(
            &Overlay {
                base,
                own: &out.batch,
            },
            env.height,
            self.registry.blocks_per_epoch,
        )? {
            match value {
                Some(v) => out.batch.put(tree, key, v),
                None => out.batch.delete(tree, key),
            }
        }
        Ok(out)
    }

    /// Runs a registry transaction on the state seen through `batch` and applies its writes;
    /// returns its status and the amount it moves (a bond posted or returned). Registry
    /// transactions use no fuel: their cost is bounded by the evidence size limits.
    fn apply_registry(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        run: impl FnOnce(
            &Overlay<'_>,
            &RegistryConfig,
            registry::Now,
        ) -> Result<(registry::Effect, u128), ExecError>,
    ) -> Result<(ReceiptStatus, u128), ExecError> {
        let ((status, writes), amount) = run(
            &Overlay { base, own: batch },
            &self.registry,
            registry::Now {
                height: env.height,
                ms: env.timestamp_ms,
            },
        )?;
        for (tree, key, value) in writes {
            batch.set(tree, key, value);
        }
        Ok((status, amount))
    }

    /// [`Self::apply_registry`] of a transaction that moves no tokens: its status.
    fn apply_registry_effect(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        run: impl FnOnce(
            &Overlay<'_>,
            &RegistryConfig,
            registry::Now,
        ) -> Result<registry::Effect, ExecError>,
    ) -> Result<ReceiptStatus, ExecError> {
        let (status, _) = self.apply_registry(base, batch, env, |view, cfg, now| {
            run(view, cfg, now).map(|effect| (effect, 0))
        })?;
        Ok(status)
    }

    /// Size, chain id and signature of each of `txs`, the signatures checked as one batch.
    fn check_all_stateless(&self, txs: &[SignedTransaction]) -> Vec<Result<(), InvalidTx>> {
        let mut verdicts: Vec<Result<(), InvalidTx>> = txs
            .iter()
            .map(|tx| check_form(&self.chain_id, tx))
            .collect();
        let (positions, signed): (Vec<usize>, Vec<&SignedTransaction>) = txs
            .iter()
            .enumerate()
            .filter(|(i, _)| verdicts[*i].is_ok())
            .unzip();
        for (position, valid) in positions
            .into_iter()
            .zip(self.signatures.verify_all(&signed))
        {
            if !valid {
                verdicts[position] = Err(InvalidTx::BadSignature);
            }
        }
        verdicts
    }

    #[allow(clippy::too_many_arguments)]
    fn deploy(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        sender: Address,
        nonce: u64,
        code: &[u8],
        mode: ExecutionMode,
        regions: &[String],
    ) -> Result<ReceiptStatus, ExecError> {
        if !self.registry.allows(mode) {
            return Ok(ReceiptStatus::Rejected(format!(
                "mode not enabled by chain policy: {mode}"
            )));
        }
        if let Err(reason) = check_regions(mode, regions).and_then(|()| {
            regions
                .iter()
                .try_for_each(|r| self.registry.knows_region(r))
        }) {
            return Ok(ReceiptStatus::Rejected(reason));
        }
        let contract = match self.engine.load(code) {
            Ok(contract) => contract,
            Err(e @ (VmError::Invalid(_) | VmError::Compile(_))) => {
                return Ok(ReceiptStatus::Rejected(truncate(format!(
                    "invalid module: {e}"
                ))));
            }
            Err(e) => return Err(e.into()),
        };
        let code_hash = contract.code_hash();
        let address = contract_address(&sender, nonce);
        let view = Overlay { base, own: batch };
        if view.get(&TreeId::ROOT, &code_key(&code_hash, 0))?.is_none() {
            for (index, chunk) in code.chunks(CODE_CHUNK).enumerate() {
                batch.put(TreeId::ROOT, code_key(&code_hash, index as u16), chunk);
            }
        }
        let record = ContractRecord {
            code_hash,
            mode,
            deployer: sender,
            regions: regions.to_vec(),
        };
        batch.put(
            TreeId::ROOT,
            contract_key(&address),
            record.encode().to_vec(),
        );
        if mode != ExecutionMode::Replicated {
            self.open_lane(base, batch, &address)?;
        }
        Ok(ReceiptStatus::Deployed { address, code_hash })
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        id: Digest,
        sender: Address,
        address: Address,
        method: &str,
        input: &[u8],
        fuel_limit: u64,
        (base_fee, fee_limit): (u64, u64),
    ) -> Result<(ReceiptStatus, u64, u64, u128), ExecError> {
        let view = Overlay { base, own: batch };
        let Some(record) = view.get(&TreeId::ROOT, &contract_key(&address))? else {
            return Ok((
                ReceiptStatus::Rejected(format!("no contract at {address}")),
                0,
                base_fee,
                0,
            ));
        };
        let record = ContractRecord::decode(bytes::Bytes::from(record))
            .map_err(|e| ExecError::Corrupt(format!("contract record of {address}: {e}")))?;
        if let Some(spec) = crate::lanes::spec_of(&record) {
            // Validators do not run it: the call becomes a job on the contract's lane, with
            // the rest of its fee limit in escrow for its committee.
            let members = crate::lanes::committee_size(&spec);
            let funds = match job_funds(
                &self.registry.fees,
                fuel_limit,
                members,
                base_fee,
                fee_limit,
            ) {
                Ok(funds) => funds,
                Err(needed) => {
                    return Ok((
                        ReceiptStatus::Rejected(format!(
                            "fee limit {fee_limit} is below the {needed} base units a {} call with fuel limit {fuel_limit} needs: its committee of {members} is paid from it",
                            record.mode
                        )),
                        0,
                        base_fee,
                        0,
                    ));
                }
            };
            let status = self.enqueue(
                base, batch, env, id, sender, address, method, input, fuel_limit, funds,
            )?;
            let escrowed = match status {
                ReceiptStatus::Queued { .. } => funds.held + funds.receipts,
                _ => 0,
            };
            return Ok((status, 0, base_fee, escrowed));
        }
        let contract = self.load(&view, &record.code_hash)?;
        let tree = TreeId(address.0);
        let reader = ContractView {
            base: base.clone(),
            tree,
            own: batch.tree(&tree).cloned().unwrap_or_default(),
            accumulator: batch
                .tree(&registry::ACCUMULATOR)
                .cloned()
                .unwrap_or_default(),
        };
        let outcome = self.engine.call(
            &contract,
            Call {
                ctx: CallContext {
                    caller: sender,
                    contract: address,
                    block_height: env.height,
                    block_time_ms: env.timestamp_ms,
                },
                method,
                input,
                fuel_limit,
            },
            Arc::new(reader),
        )?;
        let schedule = &self.registry.fees;
        // The fuel always fits the limit (`FeeSchedule::required`); the state it leaves may not.
        let mut charge = base_fee.saturating_add(schedule.fuel(outcome.fuel_used));
        let mut outcome = outcome;
        if outcome.status.is_ok() {
            let state_fee = schedule.state(written_bytes(&outcome.writes));
            if charge.saturating_add(state_fee) > fee_limit {
                outcome.status = CallStatus::OutOfFee;
                outcome.output.clear();
                outcome.events.clear();
            } else {
                charge += state_fee;
                for (key, value) in outcome.writes {
                    batch.set(tree, key, value);
                }
            }
        }
        Ok((
            ReceiptStatus::Called {
                status: outcome.status,
                output: outcome.output,
                events: outcome.events,
            },
            outcome.fuel_used,
            charge,
            0,
        ))
    }

    /// Takes the inclusion fee of a receipt transaction of `size` bytes from its job's
    /// receipts escrow (what is left of it, at most): the job record as it was before (to put
    /// back if the receipt is refused) and the fee taken.
    fn take_receipt_fee(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        receipt: &hyperchain_types::SignedComputeReceipt,
        size: usize,
    ) -> Result<(Option<Vec<u8>>, u64), ExecError> {
        let key = crate::lanes::job_key(&receipt.receipt.job);
        let view = Overlay { base, own: batch };
        let Some(raw) = view.get(&TreeId::ROOT, &key)? else {
            return Ok((None, 0));
        };
        let mut job = hyperchain_types::Job::decode(bytes::Bytes::from(raw.clone()))
            .map_err(|e| ExecError::Corrupt(format!("job record: {e}")))?;
        let schedule = &self.registry.fees;
        let fee = schedule
            .per_tx
            .saturating_add(schedule.per_byte.saturating_mul(size as u64));
        let fee = (fee as u128).min(job.funds.receipts);
        if fee == 0 {
            return Ok((None, 0));
        }
        job.funds.receipts -= fee;
        batch.put(TreeId::ROOT, key, job.encode().to_vec());
        Ok((Some(raw), fee as u64))
    }

    /// Who pays for `tx` (its sender's `account` already read) and the most it may be
    /// debited, or why no block may include it: a fee limit below the schedule's required
    /// charge, or a payer that cannot cover the limit and tip.
    fn payment(
        &self,
        view: &Overlay<'_>,
        tx: &SignedTransaction,
        sender: Address,
        account: fees::Account,
    ) -> Result<Result<Payment, InvalidTx>, ExecError> {
        let schedule = &self.registry.fees;
        if matches!(tx.tx.payload, Payload::Receipt(_)) {
            return Ok(Ok(Payment {
                payer: sender,
                base: 0,
                max_total: 0,
            }));
        }
        let payer = payer(view, tx, sender)?;
        let balance = if payer == sender {
            account.balance
        } else {
            read_account(view, &payer)?.balance
        };
        let base = match check_fee(schedule, tx, balance) {
            Ok(base) => base,
            Err(reason) => return Ok(Err(reason)),
        };
        Ok(Ok(Payment {
            payer,
            base,
            max_total: tx.tx.fee.max_total(),
        }))
    }

    /// Pays the block's fees out: `burn_percent` of the charges is burned (taken off the
    /// supply), the rest and the tips go to the proposer's account (all of it is burned when
    /// the block names no proposer).
    fn settle_fees(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        block: BlockFees,
    ) -> Result<(), ExecError> {
        self.distribute(base, batch, env, block.charged, block.tips)
    }

    /// `charged` fees and `tips`: the burned part of the fees leaves the supply, the rest and
    /// the tips go to the proposer.
    fn distribute(
        &self,
        base: &Base,
        batch: &mut WriteBatch,
        env: BlockEnv,
        charged: u128,
        tips: u128,
    ) -> Result<(), ExecError> {
        if charged == 0 && tips == 0 {
            return Ok(());
        }
        let mut burned = self.registry.fees.burned(charged);
        let reward = charged - burned + tips;
        if env.leader == [0; 32] {
            burned += reward;
        } else if reward > 0 {
            let proposer = hyperchain_types::SenderKey(env.leader).address();
            let view = Overlay { base, own: batch };
            let mut account = read_account(&view, &proposer)?;
            account.balance = account
                .balance
                .checked_add(reward)
                .ok_or_else(|| ExecError::Corrupt("a balance exceeds the supply".into()))?;
            batch.put(TreeId::ROOT, fees::account_key(&proposer), account.encode());
        }
        if burned > 0 {
            let view = Overlay { base, own: batch };
            let supply = fees::decode_supply(view.get(&TreeId::ROOT, fees::SUPPLY_KEY)?.as_deref())
                .map_err(ExecError::Corrupt)?;
            let supply = supply
                .checked_sub(burned)
                .ok_or_else(|| ExecError::Corrupt("fees burn more than the supply".into()))?;
            batch.put(
                TreeId::ROOT,
                fees::SUPPLY_KEY.to_vec(),
                supply.to_be_bytes().to_vec(),
            );
        }
        Ok(())
    }

    /// The compiled contract with `code_hash`, from the engine's cache or from state.
    pub(crate) fn load(
        &self,
        view: &Overlay<'_>,
        code_hash: &Digest,
    ) -> Result<Arc<Contract>, ExecError> {
        if let Some(contract) = self.engine.cached(code_hash) {
            return Ok(contract);
        }
        let code = read_code(|key| view.get(&TreeId::ROOT, key), code_hash)?;
        Ok(self.engine.load(&code)?)
    }
}

/// The regions a contract deployed in `mode` names: cross-vendor contracts need at least one,
/// all distinct and non-empty; other modes name none.
fn check_regions(mode: ExecutionMode, regions: &[String]) -> Result<(), String> {
    match mode {
        ExecutionMode::CrossVendor => {
            if regions.is_empty() {
                return Err("a cross-vendor contract must name at least one region".into());
            }
            for (i, r) in regions.iter().enumerate() {
                if r.is_empty() {
                    return Err("region names must not be empty".into());
                }
                if regions[..i].contains(r) {
                    return Err(format!("region {r} is listed twice"));
                }
            }
            Ok(())
        }
        _ if regions.is_empty() => Ok(()),
        _ => Err(format!(
            "only cross-vendor contracts name regions ({mode} committees are drawn from every region)"
        )),
    }
}

/// Bytes of receipt transaction a job's escrow holds the inclusion fee of, per member (a
/// receipt with a large write set may cost more: the rest is not charged to anyone).
pub const RECEIPT_ALLOWANCE_BYTES: u64 = 2_048;

/// The escrow of a call to a TEE contract whose committee has `members` members, from what
/// its fee limit leaves after the `base` charge: the members' pay and one arbitration (the
/// fuel limit each), the receipts' inclusion, and what remains for the state its result
/// writes. `Err` is the least fee limit that covers the committee.
pub fn job_funds(
    schedule: &fees::FeeSchedule,
    fuel_limit: u64,
    members: u64,
    base: u64,
    limit: u64,
) -> Result<hyperchain_types::JobFunds, u64> {
    if schedule.is_free() {
        return Ok(hyperchain_types::JobFunds::FREE);
    }
    let fuel = schedule.fuel(fuel_limit).saturating_mul(members + 1);
    let receipts = members.saturating_mul(
        schedule
            .per_tx
            .saturating_add(schedule.per_byte.saturating_mul(RECEIPT_ALLOWANCE_BYTES)),
    );
    let needed = base.saturating_add(fuel).saturating_add(receipts);
    if limit < needed {
        return Err(needed);
    }
    let state = limit - needed;
    Ok(hyperchain_types::JobFunds {
        held: (fuel + state) as u128,
        receipts: receipts as u128,
        max_state_bytes: state
            .checked_div(schedule.per_state_byte)
            .unwrap_or(u64::MAX),
    })
}

/// Adds `amount` to `account`'s balance.
pub(crate) fn credit(
    base: &Base,
    batch: &mut WriteBatch,
    account: &Address,
    amount: u128,
) -> Result<(), ExecError> {
    update_balance(base, batch, account, amount, |balance| {
        balance
            .checked_add(amount)
            .ok_or_else(|| ExecError::Corrupt("a balance exceeds the supply".into()))
    })
}

/// Rewrites `account`'s balance with `update` (nothing when `amount` is 0).
fn update_balance(
    base: &Base,
    batch: &mut WriteBatch,
    account: &Address,
    amount: u128,
    update: impl FnOnce(u128) -> Result<u128, ExecError>,
) -> Result<(), ExecError> {
    if amount == 0 {
        return Ok(());
    }
    let view = Overlay { base, own: batch };
    let mut record = read_account(&view, account)?;
    record.balance = update(record.balance)?;
    batch.put(TreeId::ROOT, fees::account_key(account), record.encode());
    Ok(())
}

/// Pays `charged` as fees at once: the burned part leaves the supply, the rest goes to the
/// block's proposer (all of it is burned when the block names none).
pub(crate) fn pay_fees(
    executor: &Executor,
    base: &Base,
    batch: &mut WriteBatch,
    env: BlockEnv,
    charged: u128,
) -> Result<(), ExecError> {
    executor.distribute(base, batch, env, charged, 0)
}

/// Who may be debited for a transaction, and the most.
struct Payment {
    /// The paying account.
    payer: Address,
    /// The schedule's base charge of the transaction.
    base: u64,
    /// Fee limit plus tip (0 for receipts).
    max_total: u128,
}

/// What a block's transactions paid, settled at its end.
#[derive(Clone, Copy, Debug, Default)]
struct BlockFees {
    /// Charges by the schedule.
    charged: u128,
    /// Tips.
    tips: u128,
}

/// Checks `tx`'s fee against `schedule` and what its payer holds: the limit must cover the
/// schedule's required charge and the payer must hold the limit and the tip. Returns the
/// transaction's base charge. Receipts pay nothing (their job's escrow does).
pub fn check_fee(
    schedule: &fees::FeeSchedule,
    tx: &SignedTransaction,
    payer_balance: u128,
) -> Result<u64, InvalidTx> {
    if matches!(tx.tx.payload, Payload::Receipt(_)) {
        return Ok(0);
    }
    let base = schedule.base(tx);
    let required = schedule.required_of(&tx.tx.payload, base);
    if tx.tx.fee.limit < required {
        return Err(InvalidTx::FeeLimit {
            required,
            limit: tx.tx.fee.limit,
        });
    }
    let needed = tx.tx.fee.max_total();
    if payer_balance < needed {
        return Err(InvalidTx::CannotPay {
            balance: payer_balance,
            needed,
        });
    }
    Ok(base)
}

/// The account that pays for `tx`: its sender, except that a node's re-attestation (signed by
/// its identity key) is paid by the node's owner.
pub fn payer(
    view: &impl registry::StateView,
    tx: &SignedTransaction,
    sender: Address,
) -> Result<Address, ExecError> {
    if let Payload::Reattest(r) = &tx.tx.payload
        && tx.tx.sender.0 == r.identity_key
        && let Some(record) = registry::node(view, &hyperchain_types::node_id(&r.identity_key))?
    {
        return Ok(record.owner);
    }
    Ok(sender)
}

/// The account record of `account` in `view`.
fn read_account(
    view: &impl registry::StateView,
    account: &Address,
) -> Result<fees::Account, ExecError> {
    let raw = view.read(&TreeId::ROOT, &fees::account_key(account))?;
    fees::Account::decode(raw.as_deref()).map_err(ExecError::Corrupt)
}

/// Takes `amount` off `account`'s balance (a payer other than the sender; checked before).
fn debit_account(
    base: &Arc<Base>,
    batch: &mut WriteBatch,
    account: &Address,
    amount: u128,
) -> Result<(), ExecError> {
    update_balance(base, batch, account, amount, |balance| {
        balance
            .checked_sub(amount)
            .ok_or_else(|| ExecError::Corrupt(format!("{account} cannot pay a checked fee")))
    })
}

/// `Transfer`: moves `amount` from the sender (whose record the caller writes) to `to`, if
/// what the sender holds beyond the `reserved` fee limit and tip covers it.
fn transfer(
    base: &Arc<Base>,
    batch: &mut WriteBatch,
    sender: Address,
    account: &mut fees::Account,
    to: Address,
    amount: u128,
    reserved: u128,
) -> Result<ReceiptStatus, ExecError> {
    let spendable = account.balance.saturating_sub(reserved);
    if amount > spendable {
        return Ok(ReceiptStatus::Rejected(format!(
            "insufficient balance: sending {amount} base units, {spendable} spendable beside the fee"
        )));
    }
    if to == sender || amount == 0 {
        return Ok(ReceiptStatus::Accepted);
    }
    account.balance -= amount;
    let view = Overlay { base, own: batch };
    let mut receiver = read_account(&view, &to)?;
    receiver.balance = receiver
        .balance
        .checked_add(amount)
        .ok_or_else(|| ExecError::Corrupt("a balance exceeds the supply".into()))?;
    batch.put(TreeId::ROOT, fees::account_key(&to), receiver.encode());
    Ok(ReceiptStatus::Accepted)
}

/// Bytes of state a call's writes leave: key and value of every value set (deletions free).
pub fn written_bytes(writes: &hyperchain_types::WriteSet) -> u64 {
    writes
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (key.len() + v.len()) as u64))
        .sum()
}

/// The next nonce of `account` in a committed `state`.
pub fn next_nonce(state: &impl StateReader, account: &Address) -> Result<u64, ExecError> {
    Ok(account_in(state, account)?.nonce)
}

/// The account record of `account` in a committed `state`.
pub fn account_in(state: &impl StateReader, account: &Address) -> Result<fees::Account, ExecError> {
    let raw = state.get(&TreeId::ROOT, &fees::account_key(account))?;
    fees::Account::decode(raw.as_deref()).map_err(ExecError::Corrupt)
}

/// Reassembles a module from its chunks.
pub fn read_code(
    mut get: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, StateError>,
    code_hash: &Digest,
) -> Result<Vec<u8>, ExecError> {
    let mut code = Vec::new();
    for index in 0..=(tx_limits::MAX_CODE / CODE_CHUNK) as u16 {
        match get(&code_key(code_hash, index))? {
            Some(chunk) => code.extend_from_slice(&chunk),
            None => break,
        }
    }
    if code.is_empty() {
        return Err(ExecError::Corrupt(format!(
            "no code stored for {code_hash}"
        )));
    }
    Ok(code)
}

/// `reason` cut to what a receipt keeps ([`block_limits::MAX_REASON`] bytes).
pub(crate) fn truncate(mut reason: String) -> String {
    if reason.len() > block_limits::MAX_REASON {
        let mut end = block_limits::MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}
