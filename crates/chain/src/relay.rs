//! The block relay: transaction gossip and compact blocks, marshal's dissemination
//! [`Buffer`].
//!
//! A leader used to send every block whole to every validator, so its uplink carried `n − 1`
//! copies of every transaction, on the view's critical path. With `n` validators that is the
//! first bound a busy network meets (docs/PERFORMANCE.md, "At scale"). The relay sends each
//! transaction to each validator **once, ahead of the block**, and the block by name:
//!
//! - **Gossip.** A transaction a validator admits from a client (RPC) joins the mempool's
//!   outbox; every [`RelayConfig::gossip_interval`] the relay sends the outbox to every other
//!   validator in one [`RelayMessage::Txs`]. Receivers admit them with the same checks as the
//!   RPC (form, batched signatures, nonce window) and do not forward them again: validators
//!   are fully connected, so one hop reaches everyone.
//! - **Compact blocks.** A proposal leaves as its header and, per transaction, its **short id**
//!   (the first 8 bytes of its id) or, for the transactions the proposer has not gossiped yet,
//!   the transaction itself ([`CompactBlock`]). A receiver rebuilds the block from its mempool
//!   ([`Assembly`]), asks the sender for the positions it cannot fill
//!   ([`RelayMessage::Request`]), and accepts the result only if the transactions' ids hash to
//!   the header's `tx_root`, so the block it hands marshal is exactly the one whose digest was
//!   proposed. A short id that names two queued transactions, or none, is just a missing
//!   position; a rebuilt body that does not match the root (an 8-byte collision) is fetched
//!   whole once, and a body that still does not match is dropped. A peer that relays a
//!   compact block it holds (marshal forwards blocks) becomes another source: a request that
//!   goes unanswered for [`RelayConfig::request_timeout`] goes to the next source, and a source
//!   whose answer does not match the short ids is dropped.
//!
//! Everything else marshal does is unchanged: blocks are stored and served to lagging
//! validators (backfill) whole, and finalized blocks carry their transactions. A block the
//! relay cannot complete (its proposer never answers) is fetched by marshal's resolver once it
//! is notarized, as before.
//!
//! Memory is bounded: at most [`RelayConfig::cached_blocks`] complete blocks, at most
//! [`MAX_ASSEMBLING_PER_PEER`] blocks being rebuilt per peer, and a bounded queue of received
//! gossip waiting for admission (a full queue drops batches; gossip is best effort).

use crate::app::PublicKey;
use crate::block::{Block, to_consensus};
use crate::ledger::Ledger;
use crate::mempool::{Mempool, short_id};
use bytes::BufMut;
use commonware_codec::{
    Buf, EncodeSize, Error as CodecError, FixedSize as _, Read, ReadExt as _, ReadRangeExt as _,
    Write,
};
use commonware_consensus::{
    marshal::{core::Buffer, standard::Standard},
    types::Round,
};
use commonware_cryptography::{Digested, sha256::Digest as ConsensusDigest};
use commonware_macros::select_loop;
use commonware_p2p::{Receiver, Recipients, Sender, utils::codec::wrap};
use commonware_runtime::{
    Clock, ContextCell, Handle, Metrics, Spawner, spawn_cell,
    telemetry::metrics::{Counter, MetricsExt as _},
};
use commonware_utils::channel::{mpsc, oneshot};
use hyperchain_types::{Digest, Header, SignedTransaction, block_limits, tx_root_from_ids};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::{debug, warn};

/// Most transactions in one gossip message.
pub const MAX_GOSSIP_TXS: usize = 4096;
/// Most encoded transaction bytes in one gossip message (well under the p2p message limit).
pub const MAX_GOSSIP_BYTES: usize = 4 * 1024 * 1024;
/// Most blocks being rebuilt for one peer; a newer one evicts its oldest.
pub const MAX_ASSEMBLING_PER_PEER: usize = 4;
/// Received gossip messages waiting for admission; more are dropped.
const GOSSIP_QUEUE: usize = 64;

/// How the relay runs.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// How often the outbox of client transactions is gossiped.
    pub gossip_interval: Duration,
    /// Complete blocks kept to serve requests and marshal's lookups.
    pub cached_blocks: usize,
    /// How long to wait for an answer before asking the block's next source (or the same
    /// one again).
    pub request_timeout: Duration,
    /// How long an incomplete block is kept.
    pub assembly_timeout: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            gossip_interval: Duration::from_millis(20),
            cached_blocks: 32,
            request_timeout: Duration::from_secs(1),
            assembly_timeout: Duration::from_secs(10),
        }
    }
}

// ---- wire format ----

/// One transaction of a compact block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompactEntry {
    /// Named by its short id ([`short_id`]); the receiver has it from gossip.
    Short(u64),
    /// Sent whole (the proposer had not gossiped it yet).
    Full(Box<SignedTransaction>),
}

/// A block as its proposer relays it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactBlock {
    /// The block's header (its digest is the block's).
    pub header: Header,
    /// The transactions, in block order.
    pub entries: Vec<CompactEntry>,
    /// The block's reshare payload, whole (it is not gossiped beforehand).
    pub reshare: Option<Vec<u8>>,
}

impl CompactBlock {
    /// The compact form of `block`: transactions whose id is in `send_whole` go whole, the
    /// rest by short id.
    pub fn of(block: &hyperchain_types::Block, send_whole: &HashSet<Digest>) -> CompactBlock {
        let entries = block
            .txs
            .iter()
            .map(|tx| {
                let id = tx.id();
                if send_whole.contains(&id) {
                    CompactEntry::Full(Box::new(tx.clone()))
                } else {
                    CompactEntry::Short(short_id(&id))
                }
            })
            .collect();
        CompactBlock {
            header: block.header.clone(),
            entries,
            reshare: block.reshare.clone(),
        }
    }
}

/// What relays send each other (one p2p channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayMessage {
    /// Transactions admitted from clients, forwarded once to every other validator.
    Txs(Vec<SignedTransaction>),
    /// A block, by short ids.
    Compact(Box<CompactBlock>),
    /// Positions of a block's transactions the requester could not fill.
    Request {
        /// The block digest.
        block: Digest,
        /// Positions in the block, ascending.
        positions: Vec<u32>,
    },
    /// Transactions of a block, by position.
    Response {
        /// The block digest.
        block: Digest,
        /// (position, transaction).
        txs: Vec<(u32, SignedTransaction)>,
    },
}

impl Write for CompactEntry {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            CompactEntry::Short(short) => {
                0u8.write(buf);
                short.write(buf);
            }
            CompactEntry::Full(tx) => {
                1u8.write(buf);
                tx.write(buf);
            }
        }
    }
}
impl EncodeSize for CompactEntry {
    fn encode_size(&self) -> usize {
        1 + match self {
            CompactEntry::Short(_) => u64::SIZE,
            CompactEntry::Full(tx) => tx.encode_size(),
        }
    }
}
impl Read for CompactEntry {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read(buf)? {
            0 => Ok(CompactEntry::Short(u64::read(buf)?)),
            1 => Ok(CompactEntry::Full(Box::new(SignedTransaction::read(buf)?))),
            t => Err(CodecError::InvalidEnum(t)),
        }
    }
}

impl Write for RelayMessage {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            RelayMessage::Txs(txs) => {
                0u8.write(buf);
                txs.write(buf);
            }
            RelayMessage::Compact(compact) => {
                1u8.write(buf);
                compact.header.write(buf);
                compact.entries.write(buf);
                compact.reshare.write(buf);
            }
            RelayMessage::Request { block, positions } => {
                2u8.write(buf);
                block.write(buf);
                positions.write(buf);
            }
            RelayMessage::Response { block, txs } => {
                3u8.write(buf);
                block.write(buf);
                txs.write(buf);
            }
        }
    }
}
impl EncodeSize for RelayMessage {
    fn encode_size(&self) -> usize {
        1 + match self {
            RelayMessage::Txs(txs) => txs.encode_size(),
            RelayMessage::Compact(c) => {
                Header::SIZE + c.entries.encode_size() + c.reshare.encode_size()
            }
            RelayMessage::Request { positions, .. } => Digest::SIZE + positions.encode_size(),
            RelayMessage::Response { txs, .. } => Digest::SIZE + txs.encode_size(),
        }
    }
}
impl Read for RelayMessage {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let max_txs = block_limits::MAX_BLOCK_TXS;
        match u8::read(buf)? {
            0 => Ok(RelayMessage::Txs(Vec::read_cfg(
                buf,
                &hyperchain_types::tx_list_cfg(MAX_GOSSIP_TXS),
            )?)),
            1 => Ok(RelayMessage::Compact(Box::new(CompactBlock {
                header: Header::read(buf)?,
                entries: Vec::read_cfg(buf, &((0..=max_txs).into(), ()))?,
                reshare: Option::<Vec<u8>>::read_cfg(
                    buf,
                    &((0..=block_limits::MAX_RESHARE_PAYLOAD).into(), ()),
                )?,
            }))),
            2 => {
                let block = Digest::read(buf)?;
                let positions = Vec::<u32>::read_range(buf, 0..=max_txs)?;
                if positions.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(CodecError::Invalid("Request", "positions not ascending"));
                }
                Ok(RelayMessage::Request { block, positions })
            }
            3 => Ok(RelayMessage::Response {
                block: Digest::read(buf)?,
                txs: Vec::read_cfg(buf, &((0..=max_txs).into(), ((), ())))?,
            }),
            t => Err(CodecError::InvalidEnum(t)),
        }
    }
}

// ---- rebuilding a block (pure) ----

/// Why a compact block could not be completed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssemblyError {
    /// A transaction was sent for a position the block does not have.
    #[error("position {0} is outside the block")]
    OutOfRange(u32),
    /// A transaction was sent for a position that names another transaction.
    #[error("the transaction at position {0} does not match its short id")]
    WrongTransaction(u32),
    /// Every position is filled but the ids do not hash to the header's `tx_root`.
    #[error("the transactions do not match the header's tx root")]
    TxRootMismatch,
    /// The reshare payload does not hash to the header's `reshare`.
    #[error("the reshare payload does not match the header")]
    ReshareMismatch,
}

/// A compact block being rebuilt: the header and, per position, the short id it was named by
/// (`None` for a transaction sent whole) and the transaction found for it.
#[derive(Clone, Debug)]
pub struct Assembly {
    header: Header,
    reshare: Option<Vec<u8>>,
    shorts: Vec<Option<u64>>,
    txs: Vec<Option<(Digest, SignedTransaction)>>,
}

impl Assembly {
    /// Starts rebuilding `compact`, filling short ids with `lookup` (one answer per short id,
    /// in order: the transaction a short id names, if exactly one).
    pub fn new(
        compact: CompactBlock,
        lookup: impl FnOnce(&[u64]) -> Vec<Option<(Digest, SignedTransaction)>>,
    ) -> Assembly {
        let shorts: Vec<Option<u64>> = compact
            .entries
            .iter()
            .map(|e| match e {
                CompactEntry::Short(s) => Some(*s),
                CompactEntry::Full(_) => None,
            })
            .collect();
        let wanted: Vec<u64> = shorts.iter().flatten().copied().collect();
        let mut found = lookup(&wanted).into_iter();
        let txs = compact
            .entries
            .into_iter()
            .map(|e| match e {
                CompactEntry::Short(_) => found.next().flatten(),
                CompactEntry::Full(tx) => Some((tx.id(), *tx)),
            })
            .collect();
        Assembly {
            header: compact.header,
            reshare: compact.reshare,
            shorts,
            txs,
        }
    }

    /// The block digest.
    pub fn digest(&self) -> Digest {
        self.header.digest()
    }

    /// Positions still to fill, ascending.
    pub fn missing(&self) -> Vec<u32> {
        self.txs
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_none())
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Fills `position` with `tx`, which must match the short id the position was named by.
    /// A position already filled is left as it is.
    pub fn fill(&mut self, position: u32, tx: SignedTransaction) -> Result<(), AssemblyError> {
        let i = position as usize;
        let Some(slot) = self.txs.get_mut(i) else {
            return Err(AssemblyError::OutOfRange(position));
        };
        if slot.is_some() {
            return Ok(());
        }
        let id = tx.id();
        if let Some(short) = self.shorts[i]
            && short_id(&id) != short
        {
            return Err(AssemblyError::WrongTransaction(position));
        }
        *slot = Some((id, tx));
        Ok(())
    }

    /// Forgets every transaction found by short id, so they can be fetched whole (after a
    /// [`AssemblyError::TxRootMismatch`]); returns the positions to ask for.
    pub fn refetch_named(&mut self) -> Vec<u32> {
        for (i, short) in self.shorts.iter().enumerate() {
            if short.is_some() {
                self.txs[i] = None;
            }
        }
        self.missing()
    }

    /// The block, once every position is filled and the ids match the header's `tx_root`.
    /// `Ok(None)` while positions are missing.
    pub fn finish(&self) -> Result<Option<hyperchain_types::Block>, AssemblyError> {
        if self.txs.iter().any(Option::is_none) {
            return Ok(None);
        }
        let ids: Vec<Digest> = self.txs.iter().flatten().map(|(id, _)| *id).collect();
        if tx_root_from_ids(&ids) != self.header.tx_root {
            return Err(AssemblyError::TxRootMismatch);
        }
        if hyperchain_types::reshare_digest(self.reshare.as_deref()) != self.header.reshare {
            return Err(AssemblyError::ReshareMismatch);
        }
        Ok(Some(hyperchain_types::Block {
            header: self.header.clone(),
            txs: self
                .txs
                .iter()
                .flatten()
                .map(|(_, tx)| tx.clone())
                .collect(),
            reshare: self.reshare.clone(),
        }))
    }
}

// ---- the actor ----

enum Command {
    Find(Digest, oneshot::Sender<Option<Digested<Block>>>),
    Subscribe(Digest, oneshot::Sender<Digested<Block>>),
    Send(Digested<Block>, Recipients<PublicKey>),
}

/// marshal's handle on the relay (its [`Buffer`]).
#[derive(Clone, Debug)]
pub struct RelayMailbox {
    commands: mpsc::UnboundedSender<Command>,
}

impl RelayMailbox {
    async fn find(&self, digest: ConsensusDigest) -> Option<Digested<Block>> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Find(Digest(digest.0), reply))
            .ok()?;
        answer.await.ok().flatten()
    }

    fn subscribe(&self, digest: ConsensusDigest) -> Option<oneshot::Receiver<Digested<Block>>> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Subscribe(Digest(digest.0), reply))
            .ok()?;
        Some(answer)
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Find(d, _) => write!(f, "Find({d})"),
            Command::Subscribe(d, _) => write!(f, "Subscribe({d})"),
            Command::Send(b, _) => write!(f, "Send({})", b.inner().hash()),
        }
    }
}

impl Buffer<Standard<Block>> for RelayMailbox {
    type PublicKey = PublicKey;

    async fn find_by_digest(&self, digest: ConsensusDigest) -> Option<Digested<Block>> {
        self.find(digest).await
    }

    async fn find_by_commitment(&self, commitment: ConsensusDigest) -> Option<Digested<Block>> {
        self.find(commitment).await
    }

    fn subscribe_by_digest(
        &self,
        digest: ConsensusDigest,
    ) -> Option<oneshot::Receiver<Digested<Block>>> {
        self.subscribe(digest)
    }

    fn subscribe_by_commitment(
        &self,
        commitment: ConsensusDigest,
    ) -> Option<oneshot::Receiver<Digested<Block>>> {
        self.subscribe(commitment)
    }

    fn send(&self, _round: Round, block: Digested<Block>, recipients: Recipients<PublicKey>) {
        let _ = self.commands.send(Command::Send(block, recipients));
    }
}

/// What the relay counts (exported with the runtime's metrics, prefixed by its context).
struct RelayMetrics {
    /// Compact blocks sent.
    blocks_sent: Counter,
    /// Compact blocks received and completed.
    blocks_rebuilt: Counter,
    /// Transactions of received blocks found in the mempool by short id.
    txs_from_pool: Counter,
    /// Transactions received whole inside compact blocks.
    txs_in_blocks: Counter,
    /// Transactions fetched from a block's sender.
    txs_fetched: Counter,
    /// Compact blocks dropped (bad answers, a body that never matched its root).
    blocks_dropped: Counter,
    /// Transactions gossiped to the other validators.
    txs_gossiped: Counter,
}

impl RelayMetrics {
    fn init(context: &impl Metrics) -> Self {
        RelayMetrics {
            blocks_sent: context.counter("blocks_sent", "compact blocks sent"),
            blocks_rebuilt: context.counter("blocks_rebuilt", "compact blocks completed"),
            txs_from_pool: context
                .counter("txs_from_pool", "block transactions found in the mempool"),
            txs_in_blocks: context.counter(
                "txs_in_blocks",
                "transactions received whole in compact blocks",
            ),
            txs_fetched: context
                .counter("txs_fetched", "block transactions fetched from the sender"),
            blocks_dropped: context.counter("blocks_dropped", "compact blocks dropped"),
            txs_gossiped: context.counter(
                "txs_gossiped",
                "transactions gossiped to the other validators",
            ),
        }
    }
}

/// Most peers remembered as sources of one block (the first sender and those who sent the
/// same compact block after it).
const MAX_SOURCES: usize = 4;

struct Assembling {
    /// Peers that sent this compact block, first sender first; answers are taken from any.
    sources: Vec<PublicKey>,
    /// The source asked last.
    asking: usize,
    assembly: Assembly,
    started: SystemTime,
    requested: SystemTime,
    refetched: bool,
}

impl Assembling {
    fn asked(&self) -> PublicKey {
        self.sources[self.asking].clone()
    }
}

/// The relay actor (see the module docs).
pub struct Relay<E: Spawner + Clock + Metrics> {
    context: ContextCell<E>,
    config: RelayConfig,
    ledger: Arc<Ledger>,
    mempool: Arc<Mempool>,
    commands: mpsc::UnboundedReceiver<Command>,
    cache: HashMap<Digest, Digested<Block>>,
    cache_order: VecDeque<Digest>,
    assembling: HashMap<Digest, Assembling>,
    waiters: HashMap<Digest, Vec<oneshot::Sender<Digested<Block>>>>,
    metrics: RelayMetrics,
}

impl<E: Spawner + Clock + Metrics> std::fmt::Debug for Relay<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("cached", &self.cache.len())
            .field("assembling", &self.assembling.len())
            .finish_non_exhaustive()
    }
}

impl<E: Spawner + Clock + Metrics> Relay<E> {
    /// A relay over `mempool` (gossip is enabled on it) and its mailbox for marshal.
    pub fn new(
        context: E,
        config: RelayConfig,
        ledger: Arc<Ledger>,
        mempool: Arc<Mempool>,
    ) -> (Self, RelayMailbox) {
        mempool.enable_gossip();
        let (sender, commands) = mpsc::unbounded_channel();
        let metrics = RelayMetrics::init(&context);
        let relay = Relay {
            metrics,
            context: ContextCell::new(context),
            config,
            ledger,
            mempool,
            commands,
            cache: HashMap::new(),
            cache_order: VecDeque::new(),
            assembling: HashMap::new(),
            waiters: HashMap::new(),
        };
        (relay, RelayMailbox { commands: sender })
    }

    /// Runs the relay on one p2p channel.
    pub fn start(
        mut self,
        network: (
            impl Sender<PublicKey = PublicKey>,
            impl Receiver<PublicKey = PublicKey>,
        ),
    ) -> Handle<()> {
        spawn_cell!(self.context, self.run(network))
    }

    async fn run(
        mut self,
        network: (
            impl Sender<PublicKey = PublicKey>,
            impl Receiver<PublicKey = PublicKey>,
        ),
    ) {
        let (mut sender, mut receiver) = wrap::<_, _, RelayMessage>((), network.0, network.1);
        // Received gossip is admitted on its own task, so signature checks never hold up
        // blocks.
        let (gossip_in, mut gossip_out) = mpsc::channel::<Vec<SignedTransaction>>(GOSSIP_QUEUE);
        let admission = self.context.child("gossip").shared(true).spawn({
            let ledger = self.ledger.clone();
            let mempool = self.mempool.clone();
            move |_| async move {
                while let Some(txs) = gossip_out.recv().await {
                    admit_gossip(&ledger, &mempool, txs);
                }
            }
        });
        let mut next_tick = self.context.current() + self.config.gossip_interval;
        select_loop! {
            self.context,
            on_stopped => {
                debug!("relay stopped");
            },
            Some(command) = self.commands.recv() else break => {
                match command {
                    Command::Find(digest, reply) => {
                        let _ = reply.send(self.cache.get(&digest).cloned());
                    }
                    Command::Subscribe(digest, reply) => match self.cache.get(&digest) {
                        Some(block) => {
                            let _ = reply.send(block.clone());
                        }
                        None => self.waiters.entry(digest).or_default().push(reply),
                    },
                    Command::Send(block, recipients) => {
                        // Transactions not gossiped yet travel inside the block; then the
                        // outbox is gossiped (it may hold more than the block took).
                        let fresh = self.mempool.take_outbox();
                        let whole: HashSet<Digest> = fresh.iter().map(|tx| tx.id()).collect();
                        let compact = CompactBlock::of(&block.inner().0, &whole);
                        let _ = sender.send(recipients, RelayMessage::Compact(Box::new(compact)), true);
                        self.metrics.blocks_sent.inc();
                        self.metrics.txs_gossiped.inc_by(fresh.len() as u64);
                        gossip(&mut sender, fresh);
                        self.complete(block);
                    }
                }
            },
            message = receiver.recv() => {
                let (peer, message) = match message {
                    Ok(m) => m,
                    Err(e) => {
                        warn!(error = ?e, "relay receiver failed");
                        break;
                    }
                };
                let message = match message {
                    Ok(m) => m,
                    Err(e) => {
                        debug!(error = ?e, ?peer, "undecodable relay message");
                        continue;
                    }
                };
                match message {
                    RelayMessage::Txs(txs) => {
                        if gossip_in.try_send(txs).is_err() {
                            debug!(?peer, "gossip queue full; batch dropped");
                        }
                    }
                    RelayMessage::Compact(compact) => {
                        self.on_compact(&mut sender, peer, *compact);
                    }
                    RelayMessage::Request { block, positions } => {
                        if let Some(full) = self.cache.get(&block) {
                            let txs = positions
                                .into_iter()
                                .filter_map(|p| full.inner().txs.get(p as usize).map(|tx| (p, tx.clone())))
                                .collect();
                            let _ = sender.send(
                                Recipients::One(peer),
                                RelayMessage::Response { block, txs },
                                true,
                            );
                        }
                    }
                    RelayMessage::Response { block, txs } => {
                        self.on_response(&mut sender, peer, block, txs);
                    }
                }
            },
            _ = self.context.sleep_until(next_tick) => {
                let now = self.context.current();
                next_tick = now + self.config.gossip_interval;
                let outbox = self.mempool.take_outbox();
                self.metrics.txs_gossiped.inc_by(outbox.len() as u64);
                gossip(&mut sender, outbox);
                self.retry_or_expire(&mut sender, now);
                self.waiters.retain(|_, w| {
                    w.retain(|s| !s.is_closed());
                    !w.is_empty()
                });
            },
        }
        admission.abort();
    }

    /// A complete block: cache it and hand it to whoever waits for it.
    fn complete(&mut self, block: Digested<Block>) {
        let digest = block.inner().hash();
        self.assembling.remove(&digest);
        if let Some(waiters) = self.waiters.remove(&digest) {
            for waiter in waiters {
                let _ = waiter.send(block.clone());
            }
        }
        if self.cache.insert(digest, block).is_none() {
            self.cache_order.push_back(digest);
            while self.cache_order.len() > self.config.cached_blocks {
                if let Some(old) = self.cache_order.pop_front() {
                    self.cache.remove(&old);
                }
            }
        }
    }

    fn on_compact(
        &mut self,
        sender: &mut impl RelaySender,
        peer: PublicKey,
        compact: CompactBlock,
    ) {
        let digest = compact.header.digest();
        if self.cache.contains_key(&digest) {
            return;
        }
        if let Some(entry) = self.assembling.get_mut(&digest) {
            // Another holder of the block: a source to ask if the first does not answer.
            if entry.sources.len() < MAX_SOURCES && !entry.sources.contains(&peer) {
                entry.sources.push(peer);
            }
            return;
        }
        // Bound what one peer can make us hold.
        let mut theirs: Vec<(SystemTime, Digest)> = self
            .assembling
            .iter()
            .filter(|(_, a)| a.sources[0] == peer)
            .map(|(d, a)| (a.started, *d))
            .collect();
        if theirs.len() >= MAX_ASSEMBLING_PER_PEER {
            theirs.sort();
            self.assembling.remove(&theirs[0].1);
        }
        let mempool = &self.mempool;
        let whole = compact
            .entries
            .iter()
            .filter(|e| matches!(e, CompactEntry::Full(_)))
            .count();
        let assembly = Assembly::new(compact, |shorts| mempool.by_short_ids(shorts));
        let missing = assembly.missing().len();
        self.metrics.txs_in_blocks.inc_by(whole as u64);
        self.metrics
            .txs_from_pool
            .inc_by((assembly.txs.len() - whole - missing) as u64);
        let now = self.context.current();
        self.assembling.insert(
            digest,
            Assembling {
                sources: vec![peer],
                asking: 0,
                assembly,
                started: now,
                requested: now,
                refetched: false,
            },
        );
        self.advance(sender, digest);
    }

    fn on_response(
        &mut self,
        sender: &mut impl RelaySender,
        peer: PublicKey,
        block: Digest,
        txs: Vec<(u32, SignedTransaction)>,
    ) {
        let Some(entry) = self.assembling.get_mut(&block) else {
            return;
        };
        let Some(source) = entry.sources.iter().position(|p| *p == peer) else {
            return;
        };
        let before = entry.assembly.missing().len();
        for (position, tx) in txs {
            if let Err(e) = entry.assembly.fill(position, tx) {
                warn!(?peer, block = %block, error = %e, "bad relay response; source dropped");
                entry.sources.remove(source);
                if entry.sources.is_empty() {
                    self.assembling.remove(&block);
                    self.metrics.blocks_dropped.inc();
                    return;
                }
                entry.asking = 0;
                break;
            }
        }
        let filled = before - entry.assembly.missing().len();
        self.metrics.txs_fetched.inc_by(filled as u64);
        self.advance(sender, block);
    }

    /// Finishes the block if it can, or asks its sender for what is missing.
    fn advance(&mut self, sender: &mut impl RelaySender, digest: Digest) {
        let Some(entry) = self.assembling.get_mut(&digest) else {
            return;
        };
        let ask = match entry.assembly.finish() {
            Ok(Some(block)) => {
                let block = Digested::precomputed(Block(block), to_consensus(digest));
                self.metrics.blocks_rebuilt.inc();
                self.complete(block);
                return;
            }
            Ok(None) => entry.assembly.missing(),
            Err(AssemblyError::TxRootMismatch) if !entry.refetched => {
                debug!(block = %digest, "short ids matched other transactions; fetching whole");
                entry.refetched = true;
                entry.assembly.refetch_named()
            }
            Err(e) => {
                warn!(from = ?entry.sources, block = %digest, error = %e, "block dropped");
                self.assembling.remove(&digest);
                self.metrics.blocks_dropped.inc();
                return;
            }
        };
        entry.requested = self.context.current();
        sender.send_to(
            entry.asked(),
            RelayMessage::Request {
                block: digest,
                positions: ask,
            },
        );
    }

    /// Asks the next source for answers that are late, and forgets blocks that stay
    /// incomplete.
    fn retry_or_expire(&mut self, sender: &mut impl RelaySender, now: SystemTime) {
        let timeout = self.config.request_timeout;
        let expiry = self.config.assembly_timeout;
        let elapsed = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        self.assembling
            .retain(|_, entry| elapsed(entry.started) < expiry);
        for (digest, entry) in self.assembling.iter_mut() {
            if elapsed(entry.requested) >= timeout {
                entry.asking = (entry.asking + 1) % entry.sources.len();
                entry.requested = now;
                sender.send_to(
                    entry.asked(),
                    RelayMessage::Request {
                        block: *digest,
                        positions: entry.assembly.missing(),
                    },
                );
            }
        }
    }
}

/// The relay's sending side, as the actor uses it.
trait RelaySender {
    fn send_to(&mut self, peer: PublicKey, message: RelayMessage);
    fn send_all(&mut self, message: RelayMessage);
}

impl<S: Sender<PublicKey = PublicKey>> RelaySender
    for commonware_p2p::utils::codec::WrappedSender<S, RelayMessage>
{
    fn send_to(&mut self, peer: PublicKey, message: RelayMessage) {
        let _ = self.send(Recipients::One(peer), message, true);
    }
    fn send_all(&mut self, message: RelayMessage) {
        let _ = self.send(Recipients::All, message, false);
    }
}

/// Sends `txs` to every other validator, in messages within the gossip limits.
fn gossip(sender: &mut impl RelaySender, txs: Vec<SignedTransaction>) {
    let mut batch = Vec::new();
    let mut bytes = 0;
    for tx in txs {
        let size = tx.encode_size();
        if !batch.is_empty() && (batch.len() == MAX_GOSSIP_TXS || bytes + size > MAX_GOSSIP_BYTES) {
            sender.send_all(RelayMessage::Txs(std::mem::take(&mut batch)));
            bytes = 0;
        }
        bytes += size;
        batch.push(tx);
    }
    if !batch.is_empty() {
        sender.send_all(RelayMessage::Txs(batch));
    }
}

/// Admits gossiped transactions as the RPC admits clients' (without gossiping them again).
fn admit_gossip(ledger: &Ledger, mempool: &Mempool, txs: Vec<SignedTransaction>) {
    let standings = match ledger.standings(&txs) {
        Ok(standings) => standings,
        Err(e) => {
            warn!(error = %e, "cannot read the senders' accounts; gossip dropped");
            return;
        }
    };
    let batch: Vec<_> = txs.into_iter().zip(standings).collect();
    let admitted = mempool
        .submit_gossiped(batch)
        .iter()
        .filter(|r| r.is_ok())
        .count();
    if admitted > 0 {
        debug!(admitted, "gossiped transactions admitted");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt as _, Encode as _};
    use commonware_cryptography::{Signer as _, ed25519};
    use hyperchain_types::{Address, Payload, SeedReveal, Transaction, sha256, tx_root};

    fn tx(seed: u64, nonce: u64) -> SignedTransaction {
        let key = ed25519::PrivateKey::from_seed(seed);
        Transaction {
            chain_id: sha256(b"c"),
            sender: key.public_key().into(),
            nonce,
            fee: hyperchain_types::Fee::NONE,
            payload: Payload::Call {
                contract: Address([7; 32]),
                method: "increment".into(),
                input: vec![1],
                fuel_limit: 10_000,
            },
        }
        .sign(&key)
    }

    fn block(txs: Vec<SignedTransaction>) -> hyperchain_types::Block {
        hyperchain_types::Block {
            header: Header {
                chain_id: sha256(b"c"),
                height: 3,
                parent: sha256(b"p"),
                timestamp_ms: 1_000,
                tx_root: tx_root(&txs),
                state_root: sha256(b"s"),
                epoch: 0,
                view: 4,
                parent_view: 2,
                leader: [5; 32],
                seed: Some(SeedReveal {
                    round: hyperchain_types::Round::new(0, 3),
                    signature: [7; 48],
                }),
                reshare: hyperchain_types::Digest::ZERO,
            },
            txs,
            reshare: None,
        }
    }

    fn pool_with(txs: &[SignedTransaction]) -> Mempool {
        let pool = Mempool::new(sha256(b"c"), 100);
        for t in txs {
            pool.submit(t.clone(), 0).unwrap();
        }
        pool
    }

    #[test]
    fn messages_round_trip() {
        let b = block(vec![tx(1, 0), tx(2, 0), tx(3, 0)]);
        let whole: HashSet<Digest> = [b.txs[1].id()].into();
        let compact = CompactBlock::of(&b, &whole);
        assert!(matches!(compact.entries[1], CompactEntry::Full(_)));
        assert_eq!(
            compact.entries[0],
            CompactEntry::Short(short_id(&b.txs[0].id()))
        );
        let messages = [
            RelayMessage::Txs(b.txs.clone()),
            RelayMessage::Compact(Box::new(compact)),
            RelayMessage::Request {
                block: b.digest(),
                positions: vec![0, 2],
            },
            RelayMessage::Response {
                block: b.digest(),
                txs: vec![(2, b.txs[2].clone())],
            },
        ];
        for m in messages {
            let bytes = m.encode();
            assert_eq!(bytes.len(), m.encode_size());
            assert_eq!(RelayMessage::decode(bytes).unwrap(), m);
        }
        // A compact block is a small fraction of the block: 9 bytes per transaction (and one
        // for the absent reshare payload).
        let big = block((0..20).map(|i| tx(i, 0)).collect());
        let only_short = CompactBlock::of(&big, &HashSet::new());
        let size = RelayMessage::Compact(Box::new(only_short)).encode_size();
        assert_eq!(size, 1 + Header::SIZE + 1 + 20 * 9 + 1);
        // A reshare payload travels whole, and must match the header.
        let mut with_payload = b.clone();
        with_payload.reshare = Some(vec![7; 100]);
        with_payload.header.reshare = hyperchain_types::reshare_digest(Some(&[7; 100]));
        let compact = CompactBlock::of(&with_payload, &b.txs.iter().map(|t| t.id()).collect());
        let m = RelayMessage::Compact(Box::new(compact.clone()));
        assert_eq!(RelayMessage::decode(m.encode()).unwrap(), m);
        let rebuilt = Assembly::new(compact.clone(), |_| Vec::new())
            .finish()
            .unwrap();
        assert_eq!(rebuilt, Some(with_payload));
        let mut forged = compact;
        forged.reshare = Some(vec![8; 100]);
        assert!(matches!(
            Assembly::new(forged, |_| Vec::new()).finish(),
            Err(AssemblyError::ReshareMismatch)
        ));
        assert!(
            size * 5 < big.encode().len(),
            "{size} vs {}",
            big.encode().len()
        );
    }

    #[test]
    fn hostile_messages_are_refused() {
        // Unknown tags, unsorted or repeated positions, oversized lists, truncation.
        assert!(RelayMessage::decode(bytes::Bytes::from_static(&[9])).is_err());
        let unsorted = RelayMessage::Request {
            block: sha256(b"b"),
            positions: vec![2, 1],
        };
        assert!(RelayMessage::decode(unsorted.encode()).is_err());
        let repeated = RelayMessage::Request {
            block: sha256(b"b"),
            positions: vec![1, 1],
        };
        assert!(RelayMessage::decode(repeated.encode()).is_err());
        let too_many = RelayMessage::Request {
            block: sha256(b"b"),
            positions: (0..=block_limits::MAX_BLOCK_TXS as u32).collect(),
        };
        assert!(RelayMessage::decode(too_many.encode()).is_err());
        let gossip = RelayMessage::Txs(vec![tx(1, 0); MAX_GOSSIP_TXS + 1]);
        assert!(RelayMessage::decode(gossip.encode()).is_err());
        let good = RelayMessage::Compact(Box::new(CompactBlock::of(
            &block(vec![tx(1, 0)]),
            &HashSet::new(),
        )));
        let bytes = good.encode();
        assert!(RelayMessage::decode(bytes.slice(..bytes.len() - 1)).is_err());
    }

    #[test]
    fn a_block_is_rebuilt_from_the_pool_and_the_rest_fetched() {
        let txs = vec![tx(1, 0), tx(2, 0), tx(3, 0), tx(4, 0)];
        let b = block(txs.clone());
        // The pool has 0 and 2; 3 comes whole; 1 must be fetched.
        let pool = pool_with(&[txs[0].clone(), txs[2].clone()]);
        let whole: HashSet<Digest> = [txs[3].id()].into();
        let mut assembly = Assembly::new(CompactBlock::of(&b, &whole), |s| pool.by_short_ids(s));
        assert_eq!(assembly.digest(), b.digest());
        assert_eq!(assembly.missing(), vec![1]);
        assert_eq!(assembly.finish(), Ok(None));
        // The wrong transaction for a position, or a position past the end, is refused.
        assert_eq!(
            assembly.fill(1, txs[0].clone()),
            Err(AssemblyError::WrongTransaction(1))
        );
        assert_eq!(
            assembly.fill(4, txs[1].clone()),
            Err(AssemblyError::OutOfRange(4))
        );
        assembly.fill(1, txs[1].clone()).unwrap();
        assert_eq!(assembly.finish().unwrap().unwrap(), b);
    }

    #[test]
    fn a_body_that_does_not_match_the_root_is_fetched_whole() {
        let txs = vec![tx(1, 0), tx(2, 0)];
        let b = block(txs.clone());
        // A colliding short id: the pool's transaction has the short id but is not the
        // block's (simulated by naming the pool's transaction with the block's position).
        let other = tx(9, 0);
        let mut compact = CompactBlock::of(&b, &HashSet::new());
        compact.entries[0] = CompactEntry::Short(short_id(&other.id()));
        let pool = pool_with(&[other.clone(), txs[1].clone()]);
        let mut assembly = Assembly::new(compact, |s| pool.by_short_ids(s));
        assert_eq!(assembly.finish(), Err(AssemblyError::TxRootMismatch));
        assert_eq!(assembly.refetch_named(), vec![0, 1]);
        // Whole answers must still match the short ids the positions were named by.
        assert_eq!(
            assembly.fill(0, txs[0].clone()),
            Err(AssemblyError::WrongTransaction(0))
        );
        assembly.fill(0, other).unwrap();
        assembly.fill(1, txs[1].clone()).unwrap();
        assert_eq!(assembly.finish(), Err(AssemblyError::TxRootMismatch));
    }

    #[test]
    fn ambiguous_or_unknown_short_ids_are_missing() {
        let txs = vec![tx(1, 0), tx(2, 0)];
        let b = block(txs.clone());
        let compact = CompactBlock::of(&b, &HashSet::new());
        // The lookup reports no unique match for either.
        let assembly = Assembly::new(compact, |s| vec![None; s.len()]);
        assert_eq!(assembly.missing(), vec![0, 1]);
    }
}
