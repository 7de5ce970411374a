//! The simulated network and its actors.
//!
//! **Executed:** every message between actors crosses commonware's simulated network, with the
//! inter-region latency of [`crate::regions`] (2 % jitter). Each validator, compute node and
//! the clock run on the deterministic runtime.
//!
//! **Bandwidth:** messages carry only what the simulation needs; their real size is accounted.
//! A validator's bulk messages (batches, proposals: ≥ 1 KiB) queue on its uplink at
//! [`crate::ScaleConfig::egress_bytes_per_sec`], `copies × size` each; votes and notices go
//! first, as consensus traffic does on a prioritized channel. Coded blocks
//! ([`crate::Dissemination::Coded`]) leave the leader as one shard per validator and are
//! relayed by every validator; the block is rebuilt from `f + 1` shards (coding CPU is not
//! charged).
//!
//! **Modelled:**
//! - *Consensus* follows simplex's message pattern and quorums without its cryptography: the
//!   leader of view `v` (round-robin, so leadership visits every region) proposes once it has
//!   seen view `v-1` notarized and executed its block; every validator executes the proposal
//!   and sends a notarize vote to all; `2f+1` notarize votes notarize the view (enter `v+1`,
//!   send a finalize vote to all); `2f+1` finalize votes finalize it. No faults, so no
//!   timeouts or nullifications. Running simplex itself with 100 threshold-BLS signers would
//!   spend hours of CPU per simulated minute; its per-view CPU is charged as
//!   [`crate::Costs::view_ms`].
//! - *Validator CPU* is a clock per validator, not real work: admitting a batch occupies the
//!   signature threads for its signatures; executing a block occupies the sequential executor
//!   for `view_ms` plus each job it orders or resolves. A vote leaves when the execution ends,
//!   so a validator that cannot keep up delays its votes and, as leader, its proposals.
//! - *Transactions* reach validators as the compute daemon sends them — each receipt to every
//!   validator once — but grouped: a compute node hands its receipt to its region's validator,
//!   which forwards what it received every `batch_interval_ms` to all validators in one
//!   message. Clients send each lane's next call the same way when its job resolves.
//! - *The ledger* is applied once, in order, when the first validator finalizes a block:
//!   calls order jobs; a job ordered in view `v` is assigned by the block of view `v+2` (the
//!   first that can reveal the seed of a later view) to a random Intel and a random AMD node of
//!   the lane's region; the job resolves when the block holding its second receipt is
//!   finalized.
//! - *Compute nodes* hear of their assignments from their validator when it finalizes the
//!   assigning block, fetch the job (a request and reply), queue it, execute it for
//!   `exec_ms`, and send the receipt.

use crate::regions::one_way_ms;
use crate::{Dissemination, ScaleConfig, ScaleResult};
use commonware_cryptography::{Signer as _, ed25519};
use commonware_p2p::simulated::{Config as NetConfig, Link, Network, Oracle};
use commonware_p2p::{Receiver as _, Recipients, Sender as _};
use commonware_runtime::{
    Clock as _, Quota, Runner as _, Spawner as _, Supervisor as _, deterministic,
};
use commonware_utils::{NZU32, NZUsize, probability};
use futures::StreamExt as _;
use futures::channel::mpsc;
use hyperchain_types::block_limits;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

type Key = ed25519::PublicKey;
type Ctx = deterministic::Context;

const MSG_BATCH: u8 = 0;
const MSG_PROPOSE: u8 = 1;
const MSG_NOTARIZE: u8 = 2;
const MSG_FINALIZE: u8 = 3;
const MSG_ASSIGN: u8 = 4;
const MSG_FETCH: u8 = 5;
const MSG_STATE: u8 = 6;
const MSG_RECEIPT: u8 = 7;
/// Coded blocks: a shard from the leader (relay it), and a shard relayed by its owner.
const MSG_SHARD: u8 = 8;
const MSG_SHARD_RELAYED: u8 = 9;

/// A header and a digest per batch in a proposal.
const PROPOSAL_HEADER: usize = 248;
const DIGEST: usize = 32;
/// A transaction in a compact block: a tag and its 8-byte short id.
const SHORT_ID: usize = 9;
/// Requests and replies between a compute node and its validator.
const SMALL: usize = 200;
/// The state a job fetch returns (proofs of a handful of keys, the job record).
const STATE_REPLY: usize = 4_000;

/// Messages at least this large queue on a validator's uplink; smaller ones (votes, notices)
/// go first, as consensus traffic does on a prioritized channel.
const BULK: usize = 1024;

/// Shards that rebuild a coded block: `f + 1` of `n`.
fn shards_needed(validators: usize) -> usize {
    (validators - 1) / 3 + 1
}

/// A coded shard of a `block`-byte block: its share of the block, its index, the coding
/// commitment and a Merkle proof of the shard under it (`⌈log2 n⌉` hashes).
fn shard_size(block: usize, validators: usize) -> usize {
    let depth = usize::BITS - (validators - 1).leading_zeros();
    block.div_ceil(shards_needed(validators)) + 8 + DIGEST + DIGEST * depth as usize
}

/// `tag, count, values…`. What the real message weighs is accounted separately (see
/// [`Validator::send`]), so the simulator does not move padding around.
fn encode(tag: u8, values: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + 8 * values.len());
    out.push(tag);
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn decode(raw: &[u8]) -> (u8, Vec<u64>) {
    let tag = raw[0];
    let n = u32::from_le_bytes(raw[1..5].try_into().unwrap()) as usize;
    let values = (0..n)
        .map(|i| u64::from_le_bytes(raw[5 + 8 * i..13 + 8 * i].try_into().unwrap()))
        .collect();
    (tag, values)
}

/// splitmix64: the committee draw's randomness, keyed by seed, view and job.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[derive(Clone, Copy, Debug)]
enum Item {
    /// A lane's next call.
    Call { lane: u32 },
    /// One member's receipt for a job.
    Receipt { job: u64 },
}

struct Job {
    lane: u32,
    ordered_view: u64,
    submitted_ms: f64,
    receipts: u8,
}

struct Lane {
    region: usize,
    /// The validator the lane's client talks to.
    endpoint: usize,
    submitted_ms: f64,
}

/// What finalizing one block does, for validators to tell their compute nodes and clients.
#[derive(Default)]
struct Effects {
    /// (node, job)
    assignments: Vec<(usize, u64)>,
    freed_lanes: Vec<u32>,
}

/// State every actor can read: batch contents, the ledger, statistics.
struct World {
    batches: HashMap<u64, (Vec<Item>, usize)>,
    next_batch: u64,
    /// Batches some proposal already carries.
    included: HashSet<u64>,
    blocks: HashMap<u64, Vec<u64>>,
    applied: u64,
    effects: HashMap<u64, Effects>,
    lanes: Vec<Lane>,
    jobs: HashMap<u64, Job>,
    next_job: u64,
    waiting: VecDeque<u64>,
    /// Compute nodes of each region by vendor: (intel, amd).
    nodes_by_region: Vec<(Vec<usize>, Vec<usize>)>,
    seed: u64,
    /// (resolved at, latency) of every resolved job.
    resolved: Vec<(f64, f64)>,
    /// Times of finalized views.
    views: Vec<f64>,
}

impl World {
    fn apply(&mut self, view: u64, now: f64) {
        debug_assert_eq!(view, self.applied + 1);
        self.applied = view;
        self.views.push(now);
        let mut effects = Effects::default();
        let batches = self.blocks.remove(&view).unwrap_or_default();
        for id in batches {
            let items = self.batches[&id].0.clone();
            for item in items {
                match item {
                    Item::Call { lane } => {
                        let id = self.next_job;
                        self.next_job += 1;
                        self.jobs.insert(
                            id,
                            Job {
                                lane,
                                ordered_view: view,
                                submitted_ms: self.lanes[lane as usize].submitted_ms,
                                receipts: 0,
                            },
                        );
                        self.waiting.push_back(id);
                    }
                    Item::Receipt { job } => {
                        let entry = self.jobs.get_mut(&job).expect("assigned job");
                        entry.receipts += 1;
                        if entry.receipts == 2 {
                            let done = self.jobs.remove(&job).unwrap();
                            self.resolved.push((now, now - done.submitted_ms));
                            effects.freed_lanes.push(done.lane);
                        }
                    }
                }
            }
        }
        // The seed rule: a job ordered in view v waits for a seed of a later view, first
        // revealed by the block of view v + 2.
        while let Some(&id) = self.waiting.front() {
            let job = &self.jobs[&id];
            if job.ordered_view + 2 > view {
                break;
            }
            self.waiting.pop_front();
            let (intel, amd) = &self.nodes_by_region[self.lanes[job.lane as usize].region];
            let r = mix(self.seed ^ mix(view) ^ mix(id.rotate_left(17)));
            effects
                .assignments
                .push((intel[(r % intel.len() as u64) as usize], id));
            effects
                .assignments
                .push((amd[((r >> 32) % amd.len() as u64) as usize], id));
        }
        self.effects.insert(view, effects);
    }
}

struct Shared {
    world: Mutex<World>,
    config: ScaleConfig,
    validators: Vec<Key>,
    nodes: Vec<Key>,
    /// Each compute node's validator.
    node_endpoint: Vec<usize>,
    quorum: usize,
    /// When the network started.
    t0: SystemTime,
    /// Per validator: milliseconds inside the window its signature threads (all of them) and
    /// its executor were busy; bytes sent inside the window.
    verify_busy: Mutex<Vec<f64>>,
    exec_busy: Mutex<Vec<f64>>,
    proposal_uplink: Mutex<f64>,
    sent: Mutex<Vec<u64>>,
    compute_busy: Mutex<f64>,
    messages: Mutex<u64>,
}

impl Shared {
    /// Milliseconds since the network started (setting up links takes simulated time too).
    fn ms(&self, t: SystemTime) -> f64 {
        t.duration_since(self.t0).unwrap_or_default().as_secs_f64() * 1000.0
    }

    fn at(&self, ms: f64) -> SystemTime {
        self.t0 + Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }

    fn in_window(&self, t: f64) -> bool {
        let start = self.config.warmup_secs * 1000.0;
        t >= start && t < start + self.config.measure_secs * 1000.0
    }

    /// The part of `[from, to)` inside the measured window.
    fn window_part(&self, from: f64, to: f64) -> f64 {
        let start = self.config.warmup_secs * 1000.0;
        let end = start + self.config.measure_secs * 1000.0;
        (to.min(end) - from.max(start)).max(0.0)
    }

    fn leader(&self, view: u64) -> usize {
        (view % self.validators.len() as u64) as usize
    }
}

enum Event {
    Net(Box<Key>, Vec<u8>),
    /// Forward the transactions received since the last tick.
    BatchTick,
    /// Execution of a view's block finished (a leader waiting for it proposes the next).
    Executed(u64),
    /// Vote to notarize a view (once the previous one is notarized here).
    Vote(u64),
}

struct Validator {
    me: usize,
    shared: Arc<Shared>,
    ctx: Ctx,
    sender: commonware_p2p::simulated::Sender<Key, Ctx>,
    events: mpsc::UnboundedSender<Event>,
    /// When the uplink has sent everything queued so far.
    uplink_free: f64,
    /// Signature threads free at (one clock for all threads: costs are divided by their
    /// number) and the sequential executor free at.
    verify_free: f64,
    exec_free: f64,
    /// Batches this validator admitted, and when their signatures are checked.
    ready: HashMap<u64, f64>,
    /// Received but not yet forwarded.
    pending: Vec<Item>,
    /// Lanes' first calls, latest first: (when the client sends it, lane).
    first_calls: Vec<(f64, u32)>,
    /// Proposals received, waiting for batches this validator does not hold yet.
    blocked: Vec<(u64, Vec<u64>)>,
    /// When this validator's execution of each view's block ends (or ended).
    exec_done: HashMap<u64, f64>,
    /// Deferred execution: votes checked but waiting for the parent's execution time.
    awaiting_parent: HashMap<u64, f64>,
    notarize: HashMap<u64, usize>,
    finalize: HashMap<u64, usize>,
    notarized: HashSet<u64>,
    finalized: HashSet<u64>,
    /// Every view up to this one is finalized here.
    finalized_upto: u64,
    /// As leader of `view + 1`, waiting to have executed `view` before proposing.
    propose_after: Option<u64>,
    /// Notarized views whose finalize vote waits for this validator's execution (certify).
    finalize_after_execution: HashSet<u64>,
    /// Votes whose previous view is not notarized here yet.
    deferred_votes: Vec<u64>,
    /// Coded blocks: shards held per view until the block can be rebuilt (`f + 1`), then
    /// `usize::MAX`.
    shards: HashMap<u64, usize>,
}

impl Validator {
    fn now(&self) -> f64 {
        self.shared.ms(self.ctx.current())
    }

    /// Sends `message` (weighing `size` bytes) to every other validator, no earlier than
    /// `not_before`.
    fn broadcast(&mut self, message: Vec<u8>, size: usize, not_before: f64) {
        let others = self
            .shared
            .validators
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.me)
            .map(|(_, k)| k.clone())
            .collect();
        self.send(Recipients::Some(others), message, size, not_before);
    }

    /// Sends `message`, which weighs `size` bytes, no earlier than `not_before`. Bulk
    /// messages queue on the uplink: `copies × size` bytes at the egress rate (the copies
    /// share the link and finish together, as under fair sharing).
    fn send(&mut self, to: Recipients<Key>, message: Vec<u8>, size: usize, not_before: f64) {
        let copies = match &to {
            Recipients::All => self.shared.validators.len(),
            Recipients::Some(list) => list.len(),
            Recipients::One(_) => 1,
        };
        let now = self.now();
        if self.shared.in_window(now) {
            self.shared.sent.lock()[self.me] += (copies * size) as u64;
        }
        *self.shared.messages.lock() += copies as u64;
        let mut deliver = not_before.max(now);
        if let (Some(bps), true) = (self.shared.config.egress_bytes_per_sec, size >= BULK) {
            let start = self.uplink_free.max(deliver);
            self.uplink_free = start + (copies * size) as f64 * 1000.0 / bps as f64;
            deliver = self.uplink_free;
            if message[0] == MSG_PROPOSE || message[0] == MSG_SHARD {
                // Proposals are sent by one leader at a time: their total is the share of
                // time some leader's uplink was sending a block.
                let part = self.shared.window_part(start, self.uplink_free);
                *self.shared.proposal_uplink.lock() += part;
            }
        }
        if deliver <= now {
            let _ = self.sender.send(to, message, false);
            return;
        }
        let mut sender = self.sender.clone();
        let deadline = self.shared.at(deliver);
        self.ctx.child("uplink").spawn(move |ctx| async move {
            ctx.sleep_until(deadline).await;
            let _ = sender.send(to, message, false);
        });
    }

    fn charge(&self, from: f64, to: f64, executor: bool) {
        let part = self.shared.window_part(from, to);
        if part > 0.0 {
            let busy = if executor {
                &self.shared.exec_busy
            } else {
                &self.shared.verify_busy
            };
            busy.lock()[self.me] += part;
        }
    }

    /// Occupies the signature threads for `items`; returns when they are checked.
    fn admit(&mut self, items: &[Item]) -> f64 {
        let c = &self.shared.config;
        let signatures: f64 = items
            .iter()
            .map(|i| match i {
                Item::Call { .. } => 1.0,
                Item::Receipt { .. } => 2.0,
            })
            .sum();
        let cost = signatures * c.costs.signature_us / 1000.0 / c.verify_threads as f64;
        let start = self.verify_free.max(self.now());
        self.verify_free = start + cost;
        self.charge(start, self.verify_free, false);
        self.verify_free
    }

    /// Occupies the executor with block `batches`, from `not_before`; returns when done.
    fn execute(&mut self, batches: &[u64], not_before: f64) -> f64 {
        let costs = &self.shared.config.costs;
        let mut cost = costs.view_ms;
        {
            let world = self.shared.world.lock();
            for id in batches {
                for item in &world.batches[id].0 {
                    cost += match item {
                        Item::Call { .. } => costs.order_job_us / 1000.0,
                        // A job's resolution is charged half per receipt.
                        Item::Receipt { .. } => costs.resolve_job_us / 2000.0,
                    };
                }
            }
        }
        let start = self.exec_free.max(not_before).max(self.now());
        self.exec_free = start + cost;
        self.charge(start, self.exec_free, true);
        self.exec_free
    }

    fn schedule(&self, when: f64, event: Event) {
        let events = self.events.clone();
        let now = self.now();
        if when <= now {
            let _ = events.unbounded_send(event);
            return;
        }
        let deadline = self.shared.at(when);
        self.ctx.child("timer").spawn(move |ctx| async move {
            ctx.sleep_until(deadline).await;
            let _ = events.unbounded_send(event);
        });
    }

    /// Forwards what arrived since the last tick: receipts and calls in separate batches, so
    /// a leader at the block limit can take receipts (work in flight) before new calls.
    fn on_batch_tick(&mut self) {
        let now = self.now();
        while self.first_calls.last().is_some_and(|(t, _)| *t <= now) {
            let (at, lane) = self.first_calls.pop().expect("checked");
            self.shared.world.lock().lanes[lane as usize].submitted_ms = at;
            self.pending.push(Item::Call { lane });
        }
        let (receipts, calls): (Vec<Item>, Vec<Item>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|i| matches!(i, Item::Receipt { .. }));
        for items in [receipts, calls] {
            if !items.is_empty() {
                self.forward(items);
            }
        }
        let next = now + self.shared.config.batch_interval_ms as f64;
        self.schedule(next, Event::BatchTick);
    }

    fn forward(&mut self, items: Vec<Item>) {
        let sizes = &self.shared.config.sizes;
        let bytes: usize = items
            .iter()
            .map(|i| match i {
                Item::Call { .. } => sizes.call_tx,
                Item::Receipt { .. } => sizes.receipt_tx,
            })
            .sum();
        let ready = self.admit(&items);
        let id = {
            let mut world = self.shared.world.lock();
            let id = world.next_batch;
            world.next_batch += 1;
            world.batches.insert(id, (items, bytes));
            id
        };
        self.ready.insert(id, ready);
        self.broadcast(encode(MSG_BATCH, &[id]), bytes, 0.0);
    }

    fn on_batch(&mut self, id: u64) {
        if self.ready.contains_key(&id) {
            return;
        }
        let Some(items) = self
            .shared
            .world
            .lock()
            .batches
            .get(&id)
            .map(|b| b.0.clone())
        else {
            return;
        };
        let ready = self.admit(&items);
        self.ready.insert(id, ready);
        let blocked = std::mem::take(&mut self.blocked);
        for (view, batches) in blocked {
            self.on_proposal(view, batches);
        }
    }

    fn on_proposal(&mut self, view: u64, batches: Vec<u64>) {
        let full = self.shared.config.dissemination.carries_bodies();
        let mut checked = self.now();
        for id in &batches {
            match self.ready.get(id) {
                Some(&t) => checked = checked.max(t),
                None if full => {
                    // The block carries the bodies: check them now.
                    let items = self.shared.world.lock().batches[id].0.clone();
                    let t = self.admit(&items);
                    self.ready.insert(*id, t);
                    checked = checked.max(t);
                }
                None => {
                    self.blocked.push((view, batches));
                    return;
                }
            }
        }
        let done = self.execute(&batches, checked);
        self.exec_done.insert(view, done);
        self.schedule(done, Event::Executed(view));
        if self.shared.config.deferred_execution {
            self.vote_after_parent(view, checked);
        } else if self.shared.config.certify {
            // Notarize once the block is here; finalize once it is executed.
            self.schedule(checked, Event::Vote(view));
        } else {
            self.schedule(done, Event::Vote(view));
        }
        if let Some(checked) = self.awaiting_parent.remove(&(view + 1)) {
            self.vote_after_parent(view + 1, checked);
        }
    }

    /// The bytes of a block that carries `batches` with their transactions.
    fn full_block_bytes(&self, batches: &[u64]) -> usize {
        let world = self.shared.world.lock();
        PROPOSAL_HEADER + batches.iter().map(|id| world.batches[id].1).sum::<usize>()
    }

    /// A shard of `view`'s coded block: relay it if it is this validator's own (sent by the
    /// leader); rebuild the block once `f + 1` shards are here.
    fn on_shard(&mut self, view: u64, own: bool) {
        let n = self.shared.validators.len();
        let block = {
            let world = self.shared.world.lock();
            world.blocks.get(&view).cloned()
        };
        let Some(batches) = block else { return };
        if own {
            let shard = shard_size(self.full_block_bytes(&batches), n);
            self.broadcast(encode(MSG_SHARD_RELAYED, &[view]), shard, 0.0);
        }
        let held = self.shards.entry(view).or_default();
        if *held == usize::MAX {
            return;
        }
        *held += 1;
        if *held >= shards_needed(n) {
            *held = usize::MAX;
            self.on_proposal(view, batches);
        }
    }

    /// Deferred execution: a vote for `view` checks the parent's state root, so it waits
    /// for the parent's execution (not its own block's).
    fn vote_after_parent(&mut self, view: u64, checked: f64) {
        if view == 1 {
            self.schedule(checked, Event::Vote(view));
        } else if let Some(&parent) = self.exec_done.get(&(view - 1)) {
            self.schedule(checked.max(parent), Event::Vote(view));
        } else {
            self.awaiting_parent.insert(view, checked);
        }
    }

    fn on_vote(&mut self, view: u64) {
        if view > 1 && !self.entered(view) {
            self.deferred_votes.push(view);
        } else {
            self.vote_notarize(view);
        }
    }

    /// Whether this validator is in `view` (or past it): the previous view is notarized and,
    /// with certification, executed here (simplex enters the next view only once the
    /// application certifies the notarized block).
    fn entered(&self, view: u64) -> bool {
        let previous = view - 1;
        if !self.notarized.contains(&previous) {
            return false;
        }
        let certifies = self.shared.config.certify && !self.shared.config.deferred_execution;
        !certifies
            || self
                .exec_done
                .get(&previous)
                .is_some_and(|&done| done <= self.now())
    }

    /// Casts the notarize votes that waited for their view to be entered.
    fn release_votes(&mut self) {
        let waiting = std::mem::take(&mut self.deferred_votes);
        for v in waiting {
            if self.entered(v) {
                self.vote_notarize(v);
            } else {
                self.deferred_votes.push(v);
            }
        }
    }

    fn on_executed(&mut self, view: u64) {
        if self.finalize_after_execution.remove(&view) {
            self.vote_finalize(view);
            self.release_votes();
        }
        if self.propose_after == Some(view) {
            self.propose_after = None;
            self.propose(view + 1);
        }
    }

    fn vote_notarize(&mut self, view: u64) {
        let size = self.shared.config.sizes.vote;
        self.broadcast(encode(MSG_NOTARIZE, &[view]), size, 0.0);
        self.on_notarize(view);
    }

    fn on_notarize(&mut self, view: u64) {
        let count = self.notarize.entry(view).or_default();
        *count += 1;
        if *count != self.shared.quorum {
            return;
        }
        self.notarized.insert(view);
        let executed = self
            .exec_done
            .get(&view)
            .is_some_and(|&done| done <= self.now());
        if self.shared.config.certify && !self.shared.config.deferred_execution && !executed {
            // Certification: the finalize vote waits for this validator's execution.
            self.finalize_after_execution.insert(view);
        } else {
            self.vote_finalize(view);
        }
        // Enter view + 1 (with certification, once executed).
        self.release_votes();
        if self.shared.leader(view + 1) == self.me {
            if self
                .exec_done
                .get(&view)
                .is_some_and(|&done| done <= self.now())
            {
                self.propose(view + 1);
            } else {
                self.propose_after = Some(view);
            }
        }
    }

    fn vote_finalize(&mut self, view: u64) {
        let size = self.shared.config.sizes.vote;
        self.broadcast(encode(MSG_FINALIZE, &[view]), size, 0.0);
        self.on_finalize(view);
    }

    fn on_finalize(&mut self, view: u64) {
        let count = self.finalize.entry(view).or_default();
        *count += 1;
        if *count != self.shared.quorum {
            return;
        }
        self.finalized.insert(view);
        while self.finalized.contains(&(self.finalized_upto + 1)) {
            self.finalized_upto += 1;
            let v = self.finalized_upto;
            self.finalized.remove(&v);
            self.on_finalized(v);
        }
    }

    /// Tells this validator's compute nodes of their assignments and its clients of their
    /// freed lanes.
    fn on_finalized(&mut self, view: u64) {
        let now = self.now();
        let (assignments, freed) = {
            let mut world = self.shared.world.lock();
            if world.applied < view {
                world.apply(view, now);
            }
            let effects = &world.effects[&view];
            let mut assignments: HashMap<usize, Vec<u64>> = HashMap::new();
            for &(node, job) in &effects.assignments {
                if self.shared.node_endpoint[node] == self.me {
                    assignments.entry(node).or_default().push(job);
                }
            }
            let freed: Vec<u32> = effects
                .freed_lanes
                .iter()
                .copied()
                .filter(|&l| world.lanes[l as usize].endpoint == self.me)
                .collect();
            for &lane in &freed {
                world.lanes[lane as usize].submitted_ms = now;
            }
            (assignments, freed)
        };
        self.pending
            .extend(freed.into_iter().map(|lane| Item::Call { lane }));
        let mut nodes: Vec<_> = assignments.into_iter().collect();
        nodes.sort_by_key(|(n, _)| *n);
        for (node, jobs) in nodes {
            let key = self.shared.nodes[node].clone();
            let size = SMALL + 8 * jobs.len();
            self.send(Recipients::One(key), encode(MSG_ASSIGN, &jobs), size, 0.0);
        }
    }

    fn propose(&mut self, view: u64) {
        let now = self.now();
        let batches: Vec<u64> = {
            let mut world = self.shared.world.lock();
            let mut chosen: Vec<u64> = self
                .ready
                .iter()
                .filter(|(id, t)| **t <= now && !world.included.contains(id))
                .map(|(id, _)| *id)
                .collect();
            chosen.sort_unstable();
            if self.shared.config.dissemination.obeys_block_limits() {
                // Receipts first: they finish work in flight; calls start new work.
                chosen.sort_by_key(|id| {
                    !matches!(world.batches[id].0.first(), Some(Item::Receipt { .. }))
                });
                // A full block obeys the implementation's limits; the rest waits.
                let (mut txs, mut bytes) = (0, PROPOSAL_HEADER);
                let fits = chosen
                    .iter()
                    .take_while(|id| {
                        let (items, size) = &world.batches[*id];
                        txs += items.len();
                        bytes += size;
                        txs <= block_limits::MAX_BLOCK_TXS && bytes <= block_limits::MAX_BLOCK_BYTES
                    })
                    .count();
                chosen.truncate(fits.max(1));
            }
            for id in &chosen {
                world.included.insert(*id);
            }
            world.blocks.insert(view, chosen.clone());
            chosen
        };
        let size = match self.shared.config.dissemination {
            Dissemination::FullBlocks | Dissemination::Coded => self.full_block_bytes(&batches),
            Dissemination::Compact => {
                let world = self.shared.world.lock();
                let txs: usize = batches.iter().map(|id| world.batches[id].0.len()).sum();
                PROPOSAL_HEADER + SHORT_ID * txs
            }
            Dissemination::Digests => PROPOSAL_HEADER + DIGEST * batches.len(),
        };
        // The leader executes its block before sending it (the block carries its state root)
        // or, with deferred execution, sends it at once and executes it meanwhile.
        let done = self.execute(&batches, now);
        self.exec_done.insert(view, done);
        let send_at = if self.shared.config.deferred_execution {
            now
        } else {
            done
        };
        if self.shared.config.dissemination == Dissemination::Coded {
            // One shard to each validator (a different one each: the same size on the
            // uplink); the block's contents are looked up when it is rebuilt.
            let shard = shard_size(size, self.shared.validators.len());
            self.broadcast(encode(MSG_SHARD, &[view]), shard, send_at);
        } else {
            let mut values = vec![view];
            values.extend_from_slice(&batches);
            self.broadcast(encode(MSG_PROPOSE, &values), size, send_at);
        }
        self.schedule(done, Event::Executed(view));
        self.schedule(send_at, Event::Vote(view));
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::BatchTick => self.on_batch_tick(),
            Event::Executed(view) => self.on_executed(view),
            Event::Vote(view) => self.on_vote(view),
            Event::Net(from, raw) => {
                let (tag, values) = decode(&raw);
                match tag {
                    MSG_BATCH => self.on_batch(values[0]),
                    MSG_PROPOSE => self.on_proposal(values[0], values[1..].to_vec()),
                    MSG_NOTARIZE => self.on_notarize(values[0]),
                    MSG_FINALIZE => self.on_finalize(values[0]),
                    MSG_FETCH => self.send(
                        Recipients::One(*from),
                        encode(MSG_STATE, &values),
                        STATE_REPLY,
                        0.0,
                    ),
                    MSG_RECEIPT => self.pending.push(Item::Receipt { job: values[0] }),
                    MSG_SHARD => self.on_shard(values[0], true),
                    MSG_SHARD_RELAYED => self.on_shard(values[0], false),
                    other => panic!("validator got message {other}"),
                }
            }
        }
    }
}

enum NodeEvent {
    Net(Vec<u8>),
    Done(u64),
}

/// A compute node: fetches its assigned jobs, executes them `slots` at a time, sends receipts.
async fn compute_node(
    ctx: Ctx,
    shared: Arc<Shared>,
    me: usize,
    mut sender: commonware_p2p::simulated::Sender<Key, Ctx>,
    mut receiver: commonware_p2p::simulated::Receiver<Key>,
) {
    let endpoint = shared.validators[shared.node_endpoint[me]].clone();
    let (tx, mut rx) = mpsc::unbounded();
    let forward = tx.clone();
    ctx.child("inbox").spawn(move |_| async move {
        while let Ok((_, raw)) = receiver.recv().await {
            if forward
                .unbounded_send(NodeEvent::Net(raw.as_ref().to_vec()))
                .is_err()
            {
                break;
            }
        }
    });
    let config = &shared.config;
    // When each execution slot is next free: jobs start in arrival order on the first free
    // slot, so a node is a FIFO queue with `slots` servers.
    let mut free_at = vec![0.0f64; config.slots];
    while let Some(event) = rx.next().await {
        match event {
            NodeEvent::Net(raw) => {
                let (tag, values) = decode(&raw);
                match tag {
                    MSG_ASSIGN => {
                        for job in values {
                            *shared.messages.lock() += 1;
                            let _ = sender.send(
                                Recipients::One(endpoint.clone()),
                                encode(MSG_FETCH, &[job]),
                                false,
                            );
                        }
                    }
                    MSG_STATE => {
                        let job = values[0];
                        let now = shared.ms(ctx.current());
                        let slot = (0..free_at.len())
                            .min_by(|a, b| free_at[*a].total_cmp(&free_at[*b]))
                            .expect("at least one slot");
                        let start = free_at[slot].max(now);
                        let done = start + config.exec_ms;
                        free_at[slot] = done;
                        *shared.compute_busy.lock() += shared.window_part(start, done);
                        let tx = tx.clone();
                        let deadline = shared.at(done);
                        ctx.child("exec").spawn(move |ctx| async move {
                            ctx.sleep_until(deadline).await;
                            let _ = tx.unbounded_send(NodeEvent::Done(job));
                        });
                    }
                    other => panic!("compute node got message {other}"),
                }
            }
            NodeEvent::Done(job) => {
                *shared.messages.lock() += 1;
                let _ = sender.send(
                    Recipients::One(endpoint.clone()),
                    encode(MSG_RECEIPT, &[job]),
                    false,
                );
            }
        }
    }
}

fn link(ms: f64) -> Link {
    Link {
        latency: Duration::from_secs_f64(ms / 1000.0),
        jitter: Duration::from_secs_f64(ms * 0.02 / 1000.0),
        success_rate: probability!(1.0),
    }
}

pub(crate) fn run(config: &ScaleConfig) -> ScaleResult {
    let config = config.clone();
    let runner = deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(config.seed)
            // Fine-grained time: a chain of events each waiting one cycle must not add up.
            .with_cycle(Duration::from_micros(10)),
    );
    runner.start(|context| async move { simulate(context, config).await })
}

async fn simulate(context: Ctx, config: ScaleConfig) -> ScaleResult {
    let n = config.validators;
    let regions = config.regions;
    let validator_region = |i: usize| i % regions;
    let validators: Vec<Key> = (0..n as u64)
        .map(|s| ed25519::PrivateKey::from_seed(s).public_key())
        .collect();
    // Node 2p is pair p's Intel node, 2p + 1 its AMD node; pair p sits in region p % regions.
    let node_count = 2 * config.pairs;
    let nodes: Vec<Key> = (0..node_count as u64)
        .map(|s| ed25519::PrivateKey::from_seed(1_000_000 + s).public_key())
        .collect();
    let node_region = |node: usize| (node / 2) % regions;
    let region_validators: Vec<Vec<usize>> = (0..regions)
        .map(|r| (0..n).filter(|&i| validator_region(i) == r).collect())
        .collect();
    let node_endpoint: Vec<usize> = (0..node_count)
        .map(|node| {
            let local = &region_validators[node_region(node)];
            local[(node / 2 / regions) % local.len()]
        })
        .collect();
    let mut nodes_by_region = vec![(Vec::new(), Vec::new()); regions];
    for node in 0..node_count {
        let entry = &mut nodes_by_region[node_region(node)];
        if node % 2 == 0 {
            entry.0.push(node);
        } else {
            entry.1.push(node);
        }
    }
    let lane_count = config.pairs * config.effective_lanes_per_pair();
    let lanes: Vec<Lane> = (0..lane_count)
        .map(|l| {
            let region = l % regions;
            let local = &region_validators[region];
            Lane {
                region,
                endpoint: local[(l / regions) % local.len()],
                submitted_ms: 0.0,
            }
        })
        .collect();

    let mut all: Vec<Key> = validators.clone();
    all.extend(nodes.iter().cloned());
    let (network, oracle): (_, Oracle<Key, Ctx>) = Network::new_with_peers(
        context.child("network"),
        NetConfig {
            max_size: 1 << 30,
            max_peers_per_set: NZUsize!(all.len()),
            disconnect_on_block: false,
            tracked_peer_sets: NZUsize!(1),
        },
        all.clone(),
    )
    .await;
    network.start();
    for (i, a) in validators.iter().enumerate() {
        for (j, b) in validators.iter().enumerate() {
            if i != j {
                let l = link(one_way_ms(validator_region(i), validator_region(j)));
                oracle.add_link(a.clone(), b.clone(), l).await.unwrap();
            }
        }
    }
    for (node, key) in nodes.iter().enumerate() {
        let v = &validators[node_endpoint[node]];
        let l = link(one_way_ms(node_region(node), node_region(node)));
        oracle
            .add_link(key.clone(), v.clone(), l.clone())
            .await
            .unwrap();
        oracle.add_link(v.clone(), key.clone(), l).await.unwrap();
    }

    let f = (n - 1) / 3;
    let shared = Arc::new(Shared {
        world: Mutex::new(World {
            batches: HashMap::new(),
            next_batch: 0,
            included: HashSet::new(),
            blocks: HashMap::new(),
            applied: 0,
            effects: HashMap::new(),
            lanes,
            jobs: HashMap::new(),
            next_job: 0,
            waiting: VecDeque::new(),
            nodes_by_region,
            seed: config.seed,
            resolved: Vec::new(),
            views: Vec::new(),
        }),
        validators: validators.clone(),
        nodes: nodes.clone(),
        node_endpoint,
        quorum: n - f,
        t0: context.current(),
        verify_busy: Mutex::new(vec![0.0; n]),
        exec_busy: Mutex::new(vec![0.0; n]),
        proposal_uplink: Mutex::new(0.0),
        sent: Mutex::new(vec![0; n]),
        compute_busy: Mutex::new(0.0),
        messages: Mutex::new(0),
        config: config.clone(),
    });

    let quota = Quota::per_second(NZU32!(100_000));
    // Every peer registers before any starts sending.
    let mut validator_channels = Vec::with_capacity(n);
    for key in &validators {
        validator_channels.push(
            oracle
                .control(key.clone())
                .register(0, quota)
                .await
                .unwrap(),
        );
    }
    let mut node_channels = Vec::with_capacity(node_count);
    for key in &nodes {
        node_channels.push(
            oracle
                .control(key.clone())
                .register(0, quota)
                .await
                .unwrap(),
        );
    }
    for (i, (sender, mut receiver)) in validator_channels.into_iter().enumerate() {
        let shared = shared.clone();
        context.child("validator").spawn(move |ctx| async move {
            let (tx, mut rx) = mpsc::unbounded();
            let forward = tx.clone();
            ctx.child("inbox").spawn(move |_| async move {
                while let Ok((from, raw)) = receiver.recv().await {
                    if forward
                        .unbounded_send(Event::Net(Box::new(from), raw.as_ref().to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            });
            let mut v = Validator {
                me: i,
                shared: shared.clone(),
                ctx,
                sender,
                events: tx.clone(),
                verify_free: 0.0,
                uplink_free: 0.0,
                exec_free: 0.0,
                ready: HashMap::new(),
                pending: Vec::new(),
                first_calls: Vec::new(),
                blocked: Vec::new(),
                exec_done: HashMap::new(),
                awaiting_parent: HashMap::new(),
                notarize: HashMap::new(),
                finalize: HashMap::new(),
                notarized: HashSet::new(),
                finalized: HashSet::new(),
                finalized_upto: 0,
                propose_after: None,
                finalize_after_execution: HashSet::new(),
                deferred_votes: Vec::new(),
                shards: HashMap::new(),
            };
            // Every lane's first call, at a time spread over the first half of the warm-up
            // (all at once would start an overloaded network with a backlog it cannot clear
            // within the run).
            {
                let world = shared.world.lock();
                let spread = shared.config.warmup_secs * 500.0;
                v.first_calls = (0..world.lanes.len() as u32)
                    .filter(|&l| world.lanes[l as usize].endpoint == i)
                    .map(|lane| {
                        let r = mix(shared.config.seed ^ mix(u64::from(lane) + 1));
                        (spread * (r % 1_000_000) as f64 / 1e6, lane)
                    })
                    .collect();
                v.first_calls.sort_by(|a, b| b.0.total_cmp(&a.0));
            }
            // Stagger batch ticks over the interval.
            let offset = (i as f64 * shared.config.batch_interval_ms as f64) / n as f64;
            v.schedule(offset, Event::BatchTick);
            if shared.leader(1) == i {
                // The first proposal waits one batch interval so it carries the first calls.
                let start = shared.config.batch_interval_ms as f64 * 1.5;
                v.ctx.sleep_until(shared.at(start)).await;
                v.propose(1);
            }
            while let Some(event) = rx.next().await {
                v.handle(event);
            }
        });
    }
    for (node, (sender, receiver)) in node_channels.into_iter().enumerate() {
        let shared = shared.clone();
        context
            .child("compute")
            .spawn(move |ctx| compute_node(ctx, shared, node, sender, receiver));
    }

    let end = config.warmup_secs + config.measure_secs;
    context.sleep(Duration::from_secs_f64(end)).await;

    let world = shared.world.lock();
    let start_ms = config.warmup_secs * 1000.0;
    let end_ms = end * 1000.0;
    let mut latencies: Vec<f64> = world
        .resolved
        .iter()
        .filter(|(t, _)| *t >= start_ms && *t < end_ms)
        .map(|(_, l)| *l)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        if latencies.is_empty() {
            0.0
        } else {
            latencies[((latencies.len() - 1) as f64 * q).round() as usize]
        }
    };
    let views = world
        .views
        .iter()
        .filter(|t| **t >= start_ms && **t < end_ms)
        .count();
    let jobs_per_sec = latencies.len() as f64 / config.measure_secs;
    let ideal = config.ideal_jobs_per_sec();
    let window_ms = config.measure_secs * 1000.0;
    let busiest =
        |busy: &Mutex<Vec<f64>>| busy.lock().iter().cloned().fold(0.0, f64::max) / window_ms;
    let egress = *shared.sent.lock().iter().max().unwrap_or(&0);
    ScaleResult {
        pairs: config.pairs,
        validators: n,
        regions,
        exec_ms: config.exec_ms,
        dissemination: config.dissemination,
        deferred_execution: config.deferred_execution,
        certify: config.certify,
        verify_threads: config.verify_threads,
        jobs_per_sec,
        ideal_jobs_per_sec: ideal,
        efficiency: jobs_per_sec / ideal,
        cpu_bound_jobs_per_sec: config.cpu_bound_jobs_per_sec(),
        latency_p50_ms: pick(0.5),
        latency_p99_ms: pick(0.99),
        views_per_sec: views as f64 / config.measure_secs,
        validator_exec_busy: busiest(&shared.exec_busy),
        validator_verify_busy: busiest(&shared.verify_busy),
        leader_uplink_busy: *shared.proposal_uplink.lock() / window_ms,
        compute_busy: *shared.compute_busy.lock()
            / (window_ms * node_count as f64 * config.slots as f64),
        validator_egress_bytes_per_sec: egress as f64 / config.measure_secs,
        messages: *shared.messages.lock(),
    }
}
