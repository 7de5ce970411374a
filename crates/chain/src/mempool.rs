//! The mempool: a bounded set of checked transactions, per sender in nonce order.
//!
//! [`Mempool::submit`] rejects, with a reason, a transaction that is too large, for another
//! chain, badly signed, has a nonce below the sender's committed next nonce or too far above
//! it, duplicates a queued (sender, nonce), would take the pool past its size in transactions
//! or bytes or its sender past its share of bytes ([`MempoolLimits`]), has a fee limit below
//! the schedule's required charge or a payer that cannot cover it together with the sender's
//! queued transactions ([`Standing`]), or is a compute receipt whose receipt signature does
//! not verify or that fails the node's check ([`Mempool::with_receipt_check`]: its signer is on
//! the job's current committee and not yet counted), so a duplicate or replayed receipt is
//! dropped before any block includes it. A transaction still queued [`EXPIRY_BLOCKS`]
//! finalized blocks after it was admitted (one behind a nonce gap never becomes includable)
//! expires. Proposers take [`Mempool::candidates`]: compute nodes' receipts first, then the
//! rest by tip, highest first, each sender's in nonce order; among equal tips, when a block
//! cannot take them all, the next block starts with the senders left out. Execution drops
//! those that are not applicable on the parent (for instance already included in an
//! unfinalized ancestor). Finalized transactions are removed with
//! [`Mempool::remove_included`].
//!
//! For the block relay ([`crate::relay`]) the pool also keeps an index by **short id** (the
//! first 8 bytes of a transaction id, [`short_id`]), so a compact block naming its
//! transactions by short id is rebuilt from the pool, and, once gossip is enabled
//! ([`Mempool::enable_gossip`]), an outbox of the transactions admitted from clients, which the
//! relay forwards to the other validators. Transactions received by gossip
//! ([`Mempool::submit_gossiped`]) are not forwarded again: every validator is connected to
//! every other, so one hop reaches all.

use crate::execute::{InvalidTx, check_fee, check_form};
use crate::signatures::SignatureCache;
use commonware_codec::EncodeSize as _;
use hyperchain_stf::fees::FeeSchedule;
use hyperchain_types::{Address, Digest, Payload, SignedComputeReceipt, SignedTransaction};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::{Arc, Mutex};

/// How far above the committed next nonce a sender may queue transactions.
pub const MAX_NONCE_AHEAD: u64 = 4096;

/// Finalized blocks a transaction may wait in the pool: one behind a nonce gap (its sender
/// never sent the missing nonce) would otherwise hold its place forever.
pub const EXPIRY_BLOCKS: u64 = 600;

/// What the pool holds at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Transactions.
    pub max_txs: usize,
    /// Encoded bytes of all transactions.
    pub max_bytes: usize,
    /// Encoded bytes of one sender's transactions: no sender can fill the pool.
    pub max_sender_bytes: usize,
}

impl MempoolLimits {
    /// `max_txs` transactions, 256 MiB in all, and four of the largest transactions' worth
    /// (about 8 MiB) per sender.
    pub fn with_txs(max_txs: usize) -> MempoolLimits {
        MempoolLimits {
            max_txs,
            max_bytes: 256 << 20,
            max_sender_bytes: 4 * hyperchain_types::tx_limits::MAX_TX_SIZE,
        }
    }
}

/// Why the mempool refused a transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// It can never be included.
    #[error(transparent)]
    Invalid(#[from] InvalidTx),
    /// Its nonce was already used.
    #[error("stale nonce: the sender's next nonce is {next}, got {found}")]
    StaleNonce {
        /// The sender's committed next nonce.
        next: u64,
        /// The transaction's.
        found: u64,
    },
    /// Its nonce is too far ahead of the sender's committed next nonce.
    #[error("nonce {found} is more than {MAX_NONCE_AHEAD} above the sender's next nonce {next}")]
    NonceTooFarAhead {
        /// The sender's committed next nonce.
        next: u64,
        /// The transaction's.
        found: u64,
    },
    /// A transaction with the same sender and nonce is queued.
    #[error("a transaction with this sender and nonce is already queued")]
    Duplicate,
    /// The pool is full.
    #[error("mempool full ({0} transactions)")]
    Full(usize),
    /// The pool holds as many bytes as it may.
    #[error("mempool full ({0} bytes)")]
    FullBytes(usize),
    /// The sender's queued transactions take its share of the pool.
    #[error(
        "the sender's queued transactions take its share of the mempool ({0} bytes); wait for them to be included"
    )]
    SenderQuota(usize),
    /// A compute receipt whose receipt signature does not verify.
    #[error("the compute receipt's signature does not verify")]
    BadReceiptSignature,
    /// A compute receipt for a job its signer is not assigned to in committed state, for
    /// another run, or already counted: no block could count it.
    #[error(
        "the compute receipt answers no job its signer is assigned to now (unknown, another run, or already counted)"
    )]
    StaleReceipt,
}

/// What the committed state says about a transaction's sender: its next nonce, and what the
/// transaction's payer holds (the sender's queued transactions must all be payable from it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    /// The sender's committed next nonce.
    pub nonce: u64,
    /// The payer's committed balance.
    pub spendable: u128,
}

impl From<u64> for Standing {
    /// A sender with this next nonce and nothing to spend.
    fn from(nonce: u64) -> Standing {
        Standing {
            nonce,
            spendable: 0,
        }
    }
}

/// The most a transaction can take from its payer: fee limit and tip, and what it transfers.
pub fn max_cost(tx: &SignedTransaction) -> u128 {
    match &tx.tx.payload {
        Payload::Receipt(_) => 0,
        Payload::Transfer { amount, .. } => tx.tx.fee.max_total().saturating_add(*amount),
        _ => tx.tx.fee.max_total(),
    }
}

/// The first 8 bytes of a transaction id, big-endian: how compact blocks name transactions.
pub fn short_id(id: &Digest) -> u64 {
    u64::from_be_bytes(id.0[..8].try_into().expect("8 bytes"))
}

/// A queued transaction, its id and size (computed once), the finalized-block count when it
/// was admitted, and whether proposers take it first (a receipt that passed the checks).
#[derive(Debug)]
struct Entry {
    id: Digest,
    tx: SignedTransaction,
    size: usize,
    admitted: u64,
    priority: bool,
    /// [`max_cost`].
    cost: u128,
}

/// Whether a compute receipt answers a job its signer is assigned to, in committed state: a
/// cheap lookup the node provides ([`Mempool::with_receipt_check`]).
pub type ReceiptCheck = Arc<dyn Fn(&SignedComputeReceipt) -> bool + Send + Sync>;

#[derive(Debug, Default)]
struct Inner {
    senders: BTreeMap<Address, BTreeMap<u64, Entry>>,
    /// (sender, nonce) of the queued transactions by short id; more than one when short ids
    /// collide, and then the short id names none of them.
    by_short: HashMap<u64, Vec<(Address, u64)>>,
    /// Transactions admitted from clients and not yet gossiped (`None`: gossip disabled).
    outbox: Option<Vec<SignedTransaction>>,
    len: usize,
    /// Encoded bytes queued, in all and per sender.
    bytes: usize,
    sender_bytes: HashMap<Address, usize>,
    /// The most each sender's queued transactions can take from it.
    sender_cost: HashMap<Address, u128>,
    /// Finalized blocks seen ([`Mempool::remove_included`] calls).
    blocks: u64,
    /// (admitted, sender, nonce) in admission order, for expiry.
    expiry: std::collections::VecDeque<(u64, Address, u64)>,
    /// When the last candidates did not fit in a block: the last sender they took from.
    /// The next candidates start after it, so no sender waits behind the same others.
    cursor: Option<Address>,
    /// Each queued sender's next nonce as far as the pool knows (the committed one at
    /// admission, past every transaction finalized since): a sender whose first queued nonce
    /// is above it waits behind a gap and takes no block space.
    next: HashMap<Address, u64>,
}

/// A bounded pool of checked transactions.
pub struct Mempool {
    chain_id: Digest,
    limits: MempoolLimits,
    signatures: Arc<SignatureCache>,
    receipt_check: Option<ReceiptCheck>,
    fees: FeeSchedule,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("chain_id", &self.chain_id)
            .field("limits", &self.limits)
            .field("receipt_check", &self.receipt_check.is_some())
            .finish_non_exhaustive()
    }
}

impl Mempool {
    /// An empty pool for `chain_id` holding at most `capacity` transactions.
    pub fn new(chain_id: Digest, capacity: usize) -> Self {
        Self::with_signatures(chain_id, capacity, Arc::new(SignatureCache::default()))
    }

    /// An empty pool that records the signatures it verifies in `signatures` (the executor's
    /// cache, so that block execution does not verify them again).
    pub fn with_signatures(
        chain_id: Digest,
        capacity: usize,
        signatures: Arc<SignatureCache>,
    ) -> Self {
        Self::with_limits(chain_id, MempoolLimits::with_txs(capacity), signatures)
    }

    /// An empty pool with these limits.
    pub fn with_limits(
        chain_id: Digest,
        limits: MempoolLimits,
        signatures: Arc<SignatureCache>,
    ) -> Self {
        Mempool {
            chain_id,
            limits,
            signatures,
            receipt_check: None,
            fees: FeeSchedule::FREE,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Transactions are admitted only with a fee limit that covers `fees`' required charge
    /// (the chain's schedule; free by default).
    pub fn with_fees(mut self, fees: FeeSchedule) -> Self {
        self.fees = fees;
        self
    }

    /// Compute receipts go first in blocks only if `check` holds for them (their signer is
    /// assigned to the job, in committed state); the others wait their turn like any
    /// transaction. Without a check every receipt with a valid signature goes first.
    pub fn with_receipt_check(mut self, check: ReceiptCheck) -> Self {
        self.receipt_check = Some(check);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on, transactions admitted by [`Self::submit`] and [`Self::submit_batch`] are
    /// also kept for [`Self::take_outbox`] (the relay forwards them to the other validators).
    pub fn enable_gossip(&self) {
        let mut inner = self.lock();
        if inner.outbox.is_none() {
            inner.outbox = Some(Vec::new());
        }
    }

    /// The transactions admitted from clients since the last call, in admission order (empty
    /// when gossip is disabled).
    pub fn take_outbox(&self) -> Vec<SignedTransaction> {
        match self.lock().outbox.as_mut() {
            Some(outbox) => std::mem::take(outbox),
            None => Vec::new(),
        }
    }

    /// Queues `tx`, given its sender's [`Standing`] in committed state; returns its id.
    pub fn submit(
        &self,
        tx: SignedTransaction,
        standing: impl Into<Standing>,
    ) -> Result<Digest, MempoolError> {
        check_form(&self.chain_id, &tx)?;
        if !self.signatures.verify(&tx) {
            return Err(InvalidTx::BadSignature.into());
        }
        self.check_receipt(&tx)?;
        self.admit(tx, standing.into(), true)
    }

    /// Queues each transaction (given its sender's standing) as [`Self::submit`] would,
    /// checking their signatures as one batch; one result per transaction, in order.
    pub fn submit_batch<S: Into<Standing>>(
        &self,
        txs: Vec<(SignedTransaction, S)>,
    ) -> Vec<Result<Digest, MempoolError>> {
        self.submit_all(txs.into_iter().map(|(t, s)| (t, s.into())).collect(), true)
    }

    /// [`Self::submit_batch`] for transactions another validator gossiped: they are not
    /// gossiped again, and those already queued are skipped before their signatures are
    /// checked.
    pub fn submit_gossiped<S: Into<Standing>>(
        &self,
        txs: Vec<(SignedTransaction, S)>,
    ) -> Vec<Result<Digest, MempoolError>> {
        self.submit_all(txs.into_iter().map(|(t, s)| (t, s.into())).collect(), false)
    }

    fn submit_all(
        &self,
        txs: Vec<(SignedTransaction, Standing)>,
        from_client: bool,
    ) -> Vec<Result<Digest, MempoolError>> {
        let queued: Vec<bool> = if from_client {
            vec![false; txs.len()]
        } else {
            let inner = self.lock();
            txs.iter()
                .map(|(tx, _)| {
                    inner
                        .senders
                        .get(&tx.tx.sender_address())
                        .is_some_and(|q| q.contains_key(&tx.tx.nonce))
                })
                .collect()
        };
        let mut results: Vec<Result<(), MempoolError>> = txs
            .iter()
            .zip(&queued)
            .map(|((tx, _), queued)| {
                if *queued {
                    return Err(MempoolError::Duplicate);
                }
                check_form(&self.chain_id, tx).map_err(MempoolError::from)
            })
            .collect();
        let (positions, signed): (Vec<usize>, Vec<&SignedTransaction>) = txs
            .iter()
            .enumerate()
            .filter(|(i, _)| results[*i].is_ok())
            .map(|(i, (tx, _))| (i, tx))
            .unzip();
        for (i, valid) in positions
            .into_iter()
            .zip(self.signatures.verify_all(&signed))
        {
            if !valid {
                results[i] = Err(InvalidTx::BadSignature.into());
            }
        }
        txs.into_iter()
            .zip(results)
            .map(|((tx, standing), checked)| {
                checked?;
                self.check_receipt(&tx)?;
                self.admit(tx, standing, from_client)
            })
            .collect()
    }

    /// A compute receipt's own signature and the node's check (its signer is on the job's
    /// current committee, not yet counted), before it may be queued: proposers take receipts
    /// first, and a receipt's inclusion is paid from its job's escrow.
    fn check_receipt(&self, tx: &SignedTransaction) -> Result<(), MempoolError> {
        match &tx.tx.payload {
            Payload::Receipt(r) if !self.signatures.verify_receipt(r) => {
                Err(MempoolError::BadReceiptSignature)
            }
            Payload::Receipt(r) if self.receipt_check.as_ref().is_some_and(|check| !check(r)) => {
                Err(MempoolError::StaleReceipt)
            }
            _ => Ok(()),
        }
    }

    /// Queues a transaction whose form and signature are checked.
    fn admit(
        &self,
        tx: SignedTransaction,
        standing: Standing,
        from_client: bool,
    ) -> Result<Digest, MempoolError> {
        let next_nonce = standing.nonce;
        let nonce = tx.tx.nonce;
        if nonce < next_nonce {
            return Err(MempoolError::StaleNonce {
                next: next_nonce,
                found: nonce,
            });
        }
        if nonce - next_nonce > MAX_NONCE_AHEAD {
            return Err(MempoolError::NonceTooFarAhead {
                next: next_nonce,
                found: nonce,
            });
        }
        let id = tx.id();
        let sender = tx.tx.sender_address();
        let size = tx.encode_size();
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.len >= self.limits.max_txs {
            return Err(MempoolError::Full(self.limits.max_txs));
        }
        if inner.bytes + size > self.limits.max_bytes {
            return Err(MempoolError::FullBytes(self.limits.max_bytes));
        }
        let sender_bytes = inner.sender_bytes.get(&sender).copied().unwrap_or(0);
        if sender_bytes + size > self.limits.max_sender_bytes {
            return Err(MempoolError::SenderQuota(self.limits.max_sender_bytes));
        }
        // The payer must be able to pay for everything the sender has queued, this one too:
        // one balance cannot pay for a pool full of transactions.
        let cost = max_cost(&tx);
        let queued_cost = inner.sender_cost.get(&sender).copied().unwrap_or(0);
        check_fee(
            &self.fees,
            &tx,
            standing.spendable.saturating_sub(queued_cost),
        )?;
        if cost > 0 && queued_cost.saturating_add(cost) > standing.spendable {
            return Err(InvalidTx::CannotPay {
                balance: standing.spendable.saturating_sub(queued_cost),
                needed: cost,
            }
            .into());
        }
        let queue = inner.senders.entry(sender).or_default();
        if queue.contains_key(&nonce) {
            return Err(MempoolError::Duplicate);
        }
        let next = inner.next.entry(sender).or_insert(next_nonce);
        *next = (*next).max(next_nonce);
        // Gossip is best effort: an outbox nobody drains stops growing at the pool's size.
        if from_client
            && let Some(outbox) = inner.outbox.as_mut()
            && outbox.len() < self.limits.max_txs
        {
            outbox.push(tx.clone());
        }
        let admitted = inner.blocks;
        let priority = matches!(tx.tx.payload, Payload::Receipt(_));
        queue.insert(
            nonce,
            Entry {
                id,
                tx,
                size,
                admitted,
                priority,
                cost,
            },
        );
        inner
            .by_short
            .entry(short_id(&id))
            .or_default()
            .push((sender, nonce));
        inner.len += 1;
        inner.bytes += size;
        *inner.sender_bytes.entry(sender).or_default() += size;
        if cost > 0 {
            *inner.sender_cost.entry(sender).or_default() += cost;
        }
        inner.expiry.push_back((admitted, sender, nonce));
        Ok(id)
    }

    /// For each short id, the queued transaction (and its id) it names, if exactly one does.
    pub fn by_short_ids(&self, shorts: &[u64]) -> Vec<Option<(Digest, SignedTransaction)>> {
        let inner = self.lock();
        shorts
            .iter()
            .map(|short| match inner.by_short.get(short).map(Vec::as_slice) {
                Some([(sender, nonce)]) => inner
                    .senders
                    .get(sender)
                    .and_then(|q| q.get(nonce))
                    .map(|e| (e.id, e.tx.clone())),
                _ => None,
            })
            .collect()
    }

    /// Number of queued transactions.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `max_txs` transactions of at most `max_bytes` encoded bytes in total, each
    /// sender's in nonce order: compute nodes' receipts (each sender's leading run of them)
    /// first, then the rest by tip, highest first. Among equal tips senders take turns in
    /// address order, starting after the last sender the previous full call took from.
    pub fn candidates(&self, max_txs: usize, max_bytes: usize) -> Vec<SignedTransaction> {
        let mut inner = self.lock();
        // Senders in address order, starting after the cursor and wrapping around.
        let order: Vec<Address> = match inner.cursor {
            Some(cursor) => inner
                .senders
                .range((Excluded(cursor), Unbounded))
                .chain(inner.senders.range(..=cursor))
                .map(|(a, _)| *a)
                .collect(),
            None => inner.senders.keys().copied().collect(),
        };
        // A sender behind a nonce gap (its first queued nonce above its next one) offers
        // nothing: its transactions cannot be included, so they take no block space.
        let mut queues: Vec<_> = order
            .iter()
            .map(|sender| {
                let queue = &inner.senders[sender];
                let gapped = queue
                    .keys()
                    .next()
                    .is_some_and(|first| inner.next.get(sender).is_some_and(|next| first > next));
                let skip = if gapped { queue.len() } else { 0 };
                queue.values().skip(skip).peekable()
            })
            .collect();
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut last = None;
        let mut full = false;
        let mut take = |entry: &Entry, rank: usize| -> bool {
            if out.len() == max_txs || bytes + entry.size > max_bytes {
                return false;
            }
            bytes += entry.size;
            out.push(entry.tx.clone());
            last = Some(order[rank]);
            true
        };
        // Compute nodes' receipts first (each sender's leading run of them): they finish
        // work in flight and free their lanes.
        'receipts: for (rank, queue) in queues.iter_mut().enumerate() {
            while let Some(entry) = queue.next_if(|e| e.priority) {
                if !take(entry, rank) {
                    full = true;
                    break 'receipts;
                }
            }
        }
        // Then every sender's next transaction by tip; ties go in turn order.
        if !full {
            let mut heap: BinaryHeap<(u64, Reverse<usize>)> = queues
                .iter_mut()
                .enumerate()
                .filter_map(|(rank, q)| q.peek().map(|e| (e.tx.tx.fee.tip, Reverse(rank))))
                .collect();
            while let Some((_, Reverse(rank))) = heap.pop() {
                let entry = queues[rank]
                    .next()
                    .expect("a queued sender has a next entry");
                if !take(entry, rank) {
                    full = true;
                    break;
                }
                if let Some(next) = queues[rank].peek() {
                    heap.push((next.tx.tx.fee.tip, Reverse(rank)));
                }
            }
        }
        drop(queues);
        inner.cursor = if full { last } else { None };
        out
    }

    /// Drops every queued transaction of the senders of `txs` up to their nonce in `txs`
    /// (called once per finalized block), then the transactions that have waited
    /// [`EXPIRY_BLOCKS`] finalized blocks.
    pub fn remove_included(&self, txs: &[SignedTransaction]) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        for tx in txs {
            let sender = tx.tx.sender_address();
            let nonces: Vec<u64> = inner
                .senders
                .get(&sender)
                .map(|q| q.range(..=tx.tx.nonce).map(|(n, _)| *n).collect())
                .unwrap_or_default();
            for nonce in nonces {
                inner.remove(&sender, nonce);
            }
            if let Some(next) = inner.next.get_mut(&sender) {
                *next = (*next).max(tx.tx.nonce + 1);
            }
        }
        inner.blocks += 1;
        // The admission order's front: gone (included) entries are dropped, expired ones
        // removed, the first still waiting in time stops the walk.
        while let Some(&(admitted, sender, nonce)) = inner.expiry.front() {
            let queued = inner
                .senders
                .get(&sender)
                .and_then(|q| q.get(&nonce))
                .is_some_and(|e| e.admitted == admitted);
            if queued && admitted + EXPIRY_BLOCKS > inner.blocks {
                break;
            }
            inner.expiry.pop_front();
            if queued {
                inner.remove(&sender, nonce);
            }
        }
    }
}

impl Inner {
    /// Removes `sender`'s queued transaction of `nonce`, if any, with its accounting.
    fn remove(&mut self, sender: &Address, nonce: u64) -> Option<Entry> {
        let queue = self.senders.get_mut(sender)?;
        let entry = queue.remove(&nonce)?;
        if queue.is_empty() {
            self.senders.remove(sender);
            self.next.remove(sender);
        }
        let short = short_id(&entry.id);
        if let Some(named) = self.by_short.get_mut(&short) {
            named.retain(|n| *n != (*sender, nonce));
            if named.is_empty() {
                self.by_short.remove(&short);
            }
        }
        self.len -= 1;
        self.bytes -= entry.size;
        if let Some(bytes) = self.sender_bytes.get_mut(sender) {
            *bytes -= entry.size;
            if *bytes == 0 {
                self.sender_bytes.remove(sender);
            }
        }
        if entry.cost > 0
            && let Some(cost) = self.sender_cost.get_mut(sender)
        {
            *cost -= entry.cost;
            if *cost == 0 {
                self.sender_cost.remove(sender);
            }
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::{Signer as _, ed25519};
    use hyperchain_types::{CallOutcome, CallStatus, ComputeReceipt, Transaction, sha256};

    fn tx(chain: &[u8], seed: u64, nonce: u64) -> SignedTransaction {
        tx_paying(chain, seed, nonce, hyperchain_types::Fee::NONE)
    }

    fn tx_paying(
        chain: &[u8],
        seed: u64,
        nonce: u64,
        fee: hyperchain_types::Fee,
    ) -> SignedTransaction {
        let key = ed25519::PrivateKey::from_seed(seed);
        Transaction {
            chain_id: sha256(chain),
            sender: key.public_key().into(),
            nonce,
            fee,
            payload: Payload::Call {
                contract: Address([1; 32]),
                method: "get".into(),
                input: vec![],
                fuel_limit: 100_000,
            },
        }
        .sign(&key)
    }

    fn receipt_tx(seed: u64, nonce: u64) -> SignedTransaction {
        let key = ed25519::PrivateKey::from_seed(seed);
        let receipt = ComputeReceipt {
            chain_id: sha256(b"c"),
            contract: Address([1; 32]),
            lane_seq: nonce,
            job: sha256(&nonce.to_be_bytes()),
            run: Default::default(),
            code_hash: sha256(b"code"),
            pre_state: sha256(b"pre"),
            outcome: CallOutcome {
                status: CallStatus::Ok,
                output: vec![],
                events: vec![],
                fuel_used: 1,
                reads: Default::default(),
                writes: Default::default(),
            },
        }
        .sign(&key);
        Transaction {
            chain_id: sha256(b"c"),
            sender: key.public_key().into(),
            nonce,
            fee: hyperchain_types::Fee::NONE,
            payload: Payload::Receipt(Box::new(receipt)),
        }
        .sign(&key)
    }

    /// At the block limit, receipts go first (they free lanes), and the senders left out go
    /// first in the next block: nobody waits behind the same senders block after block.
    #[test]
    fn full_blocks_take_receipts_first_and_rotate_senders() {
        let pool = Mempool::new(sha256(b"c"), 100);
        for seed in 1..=3 {
            for nonce in 0..2 {
                pool.submit(tx(b"c", seed, nonce), 0).unwrap();
            }
        }
        pool.submit(receipt_tx(9, 0), 0).unwrap();
        pool.submit(receipt_tx(9, 1), 0).unwrap();
        let is_receipt = |t: &SignedTransaction| matches!(t.tx.payload, Payload::Receipt(_));

        let first = pool.candidates(3, usize::MAX);
        assert_eq!(first.len(), 3);
        assert!(first[..2].iter().all(is_receipt), "receipts lead");
        assert!(!is_receipt(&first[2]));
        // Everything fits: the same order, receipts first, every transaction once.
        let all = pool.candidates(100, usize::MAX);
        assert_eq!(all.len(), 8);
        assert!(all[..2].iter().all(is_receipt) && !all[2..].iter().any(is_receipt));

        // One transaction per block, no receipts: each block takes the next sender's.
        let pool = Mempool::new(sha256(b"c"), 100);
        for seed in 1..=3 {
            for nonce in 0..3 {
                pool.submit(tx(b"c", seed, nonce), 0).unwrap();
            }
        }
        let senders: Vec<Address> = (0..6)
            .map(|_| pool.candidates(1, usize::MAX)[0].tx.sender_address())
            .collect();
        assert_ne!(senders[0], senders[1]);
        assert_ne!(senders[1], senders[2]);
        assert_ne!(senders[0], senders[2]);
        assert_eq!(senders[..3], senders[3..], "a full rotation, then again");
    }

    #[test]
    fn gossip_outbox_holds_client_transactions_only() {
        let pool = Mempool::new(sha256(b"c"), 10);
        // Before gossip is enabled nothing is kept for it.
        pool.submit(tx(b"c", 1, 0), 0).unwrap();
        assert!(pool.take_outbox().is_empty());
        pool.enable_gossip();
        pool.submit(tx(b"c", 1, 1), 0).unwrap();
        pool.submit_batch(vec![(tx(b"c", 2, 0), 0), (tx(b"c", 2, 0), 0)]);
        // Gossiped transactions are not gossiped again; queued ones are skipped.
        let verdicts = pool.submit_gossiped(vec![(tx(b"c", 3, 0), 0), (tx(b"c", 1, 1), 0)]);
        assert_eq!(verdicts[0], Ok(tx(b"c", 3, 0).id()));
        assert_eq!(verdicts[1], Err(MempoolError::Duplicate));
        let outbox: Vec<Digest> = pool.take_outbox().iter().map(|t| t.id()).collect();
        assert_eq!(outbox, vec![tx(b"c", 1, 1).id(), tx(b"c", 2, 0).id()]);
        assert!(pool.take_outbox().is_empty(), "taken once");
        assert_eq!(pool.len(), 4);
    }

    #[test]
    fn short_ids_name_queued_transactions_until_removed() {
        let pool = Mempool::new(sha256(b"c"), 10);
        let (a, b) = (tx(b"c", 1, 0), tx(b"c", 2, 0));
        pool.submit(a.clone(), 0).unwrap();
        pool.submit(b.clone(), 0).unwrap();
        let found = pool.by_short_ids(&[short_id(&b.id()), short_id(&a.id()), 7]);
        assert_eq!(found[0], Some((b.id(), b.clone())));
        assert_eq!(found[1], Some((a.id(), a.clone())));
        assert_eq!(found[2], None);
        pool.remove_included(std::slice::from_ref(&a));
        assert_eq!(pool.by_short_ids(&[short_id(&a.id())]), vec![None]);
        assert!(pool.by_short_ids(&[short_id(&b.id())])[0].is_some());
    }

    #[test]
    fn a_batch_gets_one_verdict_per_transaction() {
        let pool = Mempool::new(sha256(b"c"), 10);
        let mut forged = tx(b"c", 2, 0);
        forged.tx.nonce = 1;
        let results = pool.submit_batch(vec![
            (tx(b"c", 1, 0), 0),
            (forged, 0),
            (tx(b"other", 3, 0), 0),
            (tx(b"c", 4, 0), 1),
            (tx(b"c", 1, 1), 0),
            (tx(b"c", 1, 1), 0),
        ]);
        assert_eq!(results[0], Ok(tx(b"c", 1, 0).id()));
        assert_eq!(
            results[1],
            Err(MempoolError::Invalid(InvalidTx::BadSignature))
        );
        assert!(matches!(
            results[2],
            Err(MempoolError::Invalid(InvalidTx::WrongChain { .. }))
        ));
        assert_eq!(
            results[3],
            Err(MempoolError::StaleNonce { next: 1, found: 0 })
        );
        assert_eq!(results[4], Ok(tx(b"c", 1, 1).id()));
        assert_eq!(results[5], Err(MempoolError::Duplicate));
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn rejects_with_reasons_and_orders_by_nonce() {
        let pool = Mempool::new(sha256(b"c"), 3);
        assert!(matches!(
            pool.submit(tx(b"other", 1, 0), 0),
            Err(MempoolError::Invalid(InvalidTx::WrongChain { .. }))
        ));
        let mut bad = tx(b"c", 1, 0);
        bad.tx.nonce = 1;
        assert_eq!(
            pool.submit(bad, 0),
            Err(MempoolError::Invalid(InvalidTx::BadSignature))
        );
        assert_eq!(
            pool.submit(tx(b"c", 1, 0), 1),
            Err(MempoolError::StaleNonce { next: 1, found: 0 })
        );
        assert!(matches!(
            pool.submit(tx(b"c", 1, MAX_NONCE_AHEAD + 1), 0),
            Err(MempoolError::NonceTooFarAhead { .. })
        ));
        pool.submit(tx(b"c", 1, 1), 0).unwrap();
        pool.submit(tx(b"c", 1, 0), 0).unwrap();
        assert_eq!(pool.submit(tx(b"c", 1, 0), 0), Err(MempoolError::Duplicate));
        pool.submit(tx(b"c", 2, 0), 0).unwrap();
        assert_eq!(pool.submit(tx(b"c", 3, 0), 0), Err(MempoolError::Full(3)));

        let c = pool.candidates(10, usize::MAX);
        assert_eq!(c.len(), 3);
        assert_eq!(pool.submit_batch::<u64>(vec![]), vec![]);
        let of_1: Vec<u64> = c
            .iter()
            .filter(|t| t.tx.sender == ed25519::PrivateKey::from_seed(1).public_key().into())
            .map(|t| t.tx.nonce)
            .collect();
        assert_eq!(of_1, vec![0, 1]);
        assert_eq!(pool.candidates(1, usize::MAX).len(), 1);

        pool.remove_included(&[tx(b"c", 1, 0)]);
        assert_eq!(pool.len(), 2);
        pool.remove_included(&[tx(b"c", 1, 1), tx(b"c", 2, 0)]);
        assert!(pool.is_empty());
    }

    fn deploy(seed: u64, nonce: u64, code_len: usize) -> SignedTransaction {
        let key = ed25519::PrivateKey::from_seed(seed);
        Transaction {
            chain_id: sha256(b"c"),
            sender: key.public_key().into(),
            nonce,
            fee: hyperchain_types::Fee::NONE,
            payload: Payload::Deploy {
                code: vec![0; code_len],
                mode: hyperchain_types::ExecutionMode::Replicated,
                regions: vec![],
            },
        }
        .sign(&key)
    }

    /// Found in the code: the pool counted transactions only, so one sender could queue thousands of
    /// 2 MiB transactions (gigabytes of memory on every validator) and crowd everyone out. The
    /// pool and each sender are bounded in bytes; others still get in.
    #[test]
    fn one_sender_cannot_fill_the_pool_with_large_transactions() {
        let limits = MempoolLimits {
            max_txs: 1_000,
            max_bytes: 8 << 20,
            max_sender_bytes: 3 << 20,
        };
        let pool = Mempool::with_limits(sha256(b"c"), limits, Arc::default());
        let mut admitted = 0;
        let refusal = loop {
            match pool.submit(deploy(1, admitted, 1 << 20), 0) {
                Ok(_) => admitted += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(admitted, 2, "two 1 MiB deploys fit the sender's 3 MiB");
        assert_eq!(refusal, MempoolError::SenderQuota(3 << 20));
        // Other senders fill the rest, and the pool's bytes bound holds.
        let mut last = Ok(Digest::ZERO);
        for seed in 2..10 {
            last = pool.submit(deploy(seed, 0, 1 << 20), 0);
            if last.is_err() {
                break;
            }
        }
        assert_eq!(last, Err(MempoolError::FullBytes(8 << 20)));
        assert!(pool.len() <= 8);
        // A small transaction of a new sender still fits; once the large ones are included,
        // the first sender may queue again.
        pool.submit(tx(b"c", 20, 0), 0).unwrap();
        pool.remove_included(&[deploy(1, 1, 0)]);
        pool.submit(deploy(1, 2, 1 << 20), 2).unwrap();
    }

    /// Found in the code: transactions behind a nonce gap (the sender never sends the missing one)
    /// held their places forever. They expire after [`EXPIRY_BLOCKS`] finalized blocks, and
    /// the accounting follows.
    #[test]
    fn transactions_behind_a_nonce_gap_expire() {
        let pool = Mempool::new(sha256(b"c"), 100);
        for sender in 1..=5 {
            for nonce in 1..=10 {
                pool.submit(tx(b"c", sender, nonce), 0).unwrap();
            }
        }
        assert_eq!(pool.len(), 50);
        assert_eq!(pool.submit(tx(b"c", 9, 0), 0), Ok(tx(b"c", 9, 0).id()));
        for _ in 1..EXPIRY_BLOCKS {
            pool.remove_included(&[]);
        }
        assert_eq!(pool.len(), 51, "not before their time");
        let late = tx(b"c", 10, 0);
        pool.submit(late.clone(), 0).unwrap();
        pool.remove_included(&[]);
        assert_eq!(
            pool.len(),
            1,
            "the gapped and the old expired; the newer stays"
        );
        assert_eq!(pool.candidates(10, 1 << 20), vec![late]);
        let inner = pool.lock();
        assert_eq!(
            inner.bytes,
            inner
                .senders
                .values()
                .flat_map(|q| q.values())
                .map(|e| e.size)
                .sum::<usize>()
        );
        assert_eq!(inner.sender_bytes.len(), 1);
    }

    /// Found in the code: receipts go first in blocks, and the pool took them without checking the
    /// receipt's own signature, so junk receipts jumped every queue. Now a receipt must carry
    /// a valid signature to be queued.
    #[test]
    fn a_receipt_with_a_bad_signature_is_refused() {
        let pool = Mempool::new(sha256(b"c"), 10);
        let good = receipt_tx(1, 0);
        let mut junk = receipt_tx(2, 0);
        if let Payload::Receipt(r) = &mut junk.tx.payload {
            r.receipt.lane_seq += 1; // no longer what its member signed
        }
        let key = ed25519::PrivateKey::from_seed(2);
        let junk = junk.tx.sign(&key);
        assert_eq!(
            pool.submit(junk.clone(), 0),
            Err(MempoolError::BadReceiptSignature)
        );
        assert_eq!(
            pool.submit_batch(vec![(junk, 0)]),
            vec![Err(MempoolError::BadReceiptSignature)]
        );
        pool.submit(good, 0).unwrap();
    }

    /// Found in the code (issue 16): any receipt with a valid signature went ahead of every
    /// other transaction, so anyone holding a node key could jump the queue with receipts for
    /// jobs it is not assigned to. With the node's check, only a receipt whose signer is on
    /// the job's committee goes first; the others wait their turn (execution refuses them).
    #[test]
    fn receipts_that_fail_the_check_are_dropped_and_the_others_go_first() {
        let assigned = ed25519::PrivateKey::from_seed(9).public_key();
        let check: ReceiptCheck =
            Arc::new(move |r: &SignedComputeReceipt| r.node_key == assigned.as_ref()[..]);
        let pool = Mempool::new(sha256(b"c"), 100).with_receipt_check(check);
        // A receipt of a node not on the job's committee, or already counted, or replayed
        // from an old run: dropped before any block can include it, so nobody pays for it.
        let stranger = receipt_tx(8, 0);
        let member = receipt_tx(9, 0);
        pool.submit(tx(b"c", 1, 0), 0).unwrap();
        assert_eq!(pool.submit(stranger, 0), Err(MempoolError::StaleReceipt));
        pool.submit(member.clone(), 0).unwrap();
        let order = pool.candidates(100, usize::MAX);
        assert_eq!(order.len(), 2);
        assert_eq!(order[0], member, "the member's receipt leads");
    }

    /// The fee limit every call of [`tx`]'s shape needs under the default schedule.
    fn required() -> u64 {
        FeeSchedule::default().required(&tx(b"c", 1, 0))
    }

    #[test]
    fn a_sender_cannot_queue_more_than_its_balance_pays_for() {
        let pool = Mempool::new(sha256(b"c"), 100).with_fees(FeeSchedule::default());
        let fee = hyperchain_types::Fee::limit(required());
        let standing = Standing {
            nonce: 0,
            spendable: 2 * fee.max_total() + fee.max_total() / 2,
        };
        // Unfunded: refused with the reason.
        assert!(matches!(
            pool.submit(tx_paying(b"c", 1, 0, fee), 0),
            Err(MempoolError::Invalid(InvalidTx::CannotPay {
                balance: 0,
                ..
            }))
        ));
        // Under the schedule's required limit: refused whatever the balance.
        let cheap = hyperchain_types::Fee::limit(required() - 1);
        assert!(matches!(
            pool.submit(tx_paying(b"c", 1, 0, cheap), standing),
            Err(MempoolError::Invalid(InvalidTx::FeeLimit { .. }))
        ));
        // A balance for two and a half: two are queued, the third would be unpaid.
        pool.submit(tx_paying(b"c", 1, 0, fee), standing).unwrap();
        pool.submit(tx_paying(b"c", 1, 1, fee), standing).unwrap();
        assert!(matches!(
            pool.submit(tx_paying(b"c", 1, 2, fee), standing),
            Err(MempoolError::Invalid(InvalidTx::CannotPay { .. }))
        ));
        // Once the first is included (charged half its limit), only what it was charged is
        // gone: the rest of its limit pays for the next.
        pool.remove_included(&[tx_paying(b"c", 1, 0, fee)]);
        let standing = Standing {
            nonce: 1,
            spendable: standing.spendable - fee.max_total() / 2,
        };
        pool.submit(tx_paying(b"c", 1, 2, fee), standing).unwrap();
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn higher_tips_go_first_and_each_senders_stay_in_nonce_order() {
        let pool = Mempool::new(sha256(b"c"), 100).with_fees(FeeSchedule::default());
        let paying = |tip: u64| hyperchain_types::Fee {
            limit: required(),
            tip,
        };
        let rich = Standing {
            nonce: 0,
            spendable: u128::MAX / 2,
        };
        let txs = [
            tx_paying(b"c", 1, 0, paying(0)),
            tx_paying(b"c", 1, 1, paying(100)),
            tx_paying(b"c", 2, 0, paying(50)),
            tx_paying(b"c", 3, 0, paying(10)),
        ];
        for t in &txs {
            pool.submit(t.clone(), rich).unwrap();
        }
        // Sender 1's tip of 100 waits behind its own nonce 0 (tip 0).
        let order: Vec<SignedTransaction> = pool.candidates(10, usize::MAX);
        assert_eq!(
            order,
            vec![
                txs[2].clone(),
                txs[3].clone(),
                txs[0].clone(),
                txs[1].clone()
            ]
        );
        // A full block takes the best: an honest transaction with a tip overtakes a flood.
        let flood = Mempool::new(sha256(b"c"), 1_000).with_fees(FeeSchedule::default());
        for seed in 10..60 {
            for nonce in 0..10 {
                flood
                    .submit(tx_paying(b"c", seed, nonce, paying(0)), rich)
                    .unwrap();
            }
        }
        let honest = tx_paying(b"c", 99, 0, paying(1));
        flood.submit(honest.clone(), rich).unwrap();
        assert_eq!(flood.candidates(5, usize::MAX)[0], honest);
    }

    /// The fill attempt: accounts queue nonces 1..N with 0 missing. They never become
    /// includable, and they take no block space meanwhile: an honest transaction goes in the
    /// next block however many of them wait.
    #[test]
    fn transactions_behind_a_gap_take_no_block_space() {
        let pool = Mempool::new(sha256(b"c"), 100_000);
        for seed in 10..35 {
            for nonce in 1..=200 {
                pool.submit(tx(b"c", seed, nonce), 0).unwrap();
            }
        }
        let honest = tx(b"c", 99, 0);
        pool.submit(honest.clone(), 0).unwrap();
        assert_eq!(pool.candidates(10, usize::MAX), vec![honest.clone()]);
        // Once the missing nonce arrives, the sender's queue is offered again, in order.
        let filler = tx(b"c", 10, 0);
        pool.submit(filler.clone(), 0).unwrap();
        let next = pool.candidates(3, usize::MAX);
        assert!(next.contains(&filler), "{next:?}");
        // A sender whose nonce 0 was finalized elsewhere is offered from nonce 1 on.
        pool.remove_included(&[tx(b"c", 11, 0)]);
        let later = pool.candidates(1_000, usize::MAX);
        assert!(later.contains(&tx(b"c", 11, 1)));
        assert!(!later.contains(&tx(b"c", 12, 1)), "still gapped");
    }
}
