//! Lanes, jobs and committee execution in block execution (docs/DESIGN.md §4, §5).
//!
//! A contract deployed in a TEE mode (`single`, `committee(k)`, `cross-vendor`) owns a lane.
//! A call to it does not run on validators: it becomes a [`Job`] at the lane's next sequence
//! number ([`ReceiptStatus::Queued`]). The lane's head job is assigned a committee drawn from
//! a consensus seed revealed **after** the job's block (a seed of a later view, carried by a
//! later header), and the members send signed receipts in `Receipt` transactions.
//! Validators never re-execute an agreed job: they check each receipt (signature, current
//! membership, assignment, chain / contract / lane position / job / code / pre-state), and
//! once all members agree they apply the write set and compute the resulting storage
//! commitment (the lane's new state; the header's state root commits to it). Disagreement is
//! arbitrated: validators execute the job themselves, apply the correct result and revoke every
//! member whose signed receipt differs, keeping it as evidence. A committee that misses its
//! deadline (and the grace of `deadline_grace_blocks` blocks after it) is replaced; its silent
//! members' misses are counted and repeated misses suspend a node.
//!
//! What happens to a job is decided by the pure state machine of [`crate::lifecycle`]; this
//! module is its shell: it reads the records, feeds the machine and carries out the effects.
//! A block looks only at the lanes in its queues ([`Sched`]): the draw list at its start, the
//! late list and the time buckets its time has passed at its end. Idle, waiting and stalled
//! lanes cost a block nothing.
//!
//! Root-tree keys (values in brackets):
//!
//! | key | value |
//! |---|---|
//! | `lane/ ‖ contract` | [`LaneRecord`] |
//! | `lanejob/ ‖ contract ‖ seq (u64 BE)` | the job id at that lane position |
//! | `job/ ‖ job id` | [`Job`] |
//! | `jobout/ ‖ job id` | the [`CallOutcome`] of the first counted receipt of the job's current run, until the job resolves or the run is dropped |
//! | `lanes-active` | the number of lanes with unresolved jobs (u64 BE) |
//! | `sched/draw/`, `sched/late/` | lists of lanes whose head is drawn at the start of the next block / is past its deadline within the grace: the length (u64 BE) under the prefix, the i-th contract under `prefix ‖ i (u64 BE)` |
//! | `sched/due/ ‖ bucket (u64 BE)` | a list (as above) of lanes looked at by the first block ending after that second (deadlines, stalled heads' next tries) |
//! | `seed/latest` | [`Clock`]: `epoch ‖ view` (u64 BE each) and `randomness (32)` of the newest revealed seed ‖ the first time bucket the end of the next block reads (u64 BE; `u64::MAX` before any) ‖ `epoch ‖ view` of the block that wrote it (the round whose seed the next block reveals) |
//! | `liveness/ ‖ node id` | [`Liveness`]: missed deadlines (u32 BE) since its last suspension ‖ suspended until (block time, ms, u64 BE) |
//! | `evidence/ ‖ job id ‖ node id` | the conflicting [`SignedCommitment`] of a revoked node |

use crate::committee::{self, Agreement, Candidate, CommitteeSpec, JobContext};
use crate::execute::{Base, BlockEnv, ContractView, ExecError, Executor, Overlay, contract_key};
use crate::lifecycle::{
    self, BlockClock, Effect, Input, LifecycleError, Params, Refusal, Transition,
};
use crate::registry::{self, StateView};
use commonware_codec::{DecodeExt as _, Encode as _};
use hyperchain_attest::Platform;
use hyperchain_state::{TreeId, WriteBatch};
use hyperchain_types::{
    Address, Assignment, CallOutcome, ComputeReceipt, ContractRecord, Digest, ExecutionMode, Job,
    JobResult, JobState, LaneRecord, ReceiptCommitment, ReceiptStatus, ReceiptVote, Resolution,
    RevokeReason, Round, Sched, SignedCommitment, SignedComputeReceipt,
};
use hyperchain_vm::{Call, CallContext, Contract, Engine, StorageReader};
use std::sync::Arc;

/// Prefix of lane records.
pub const LANE_PREFIX: &[u8] = b"lane/";
/// Prefix of lane positions.
pub const LANE_JOB_PREFIX: &[u8] = b"lanejob/";
/// Prefix of job records.
pub const JOB_PREFIX: &[u8] = b"job/";
/// Prefix of the outcome of a job's first counted receipt.
pub const OUTCOME_PREFIX: &[u8] = b"jobout/";
/// How many lanes have unresolved jobs (u64 BE).
pub const ACTIVE_COUNT_KEY: &[u8] = b"lanes-active";
/// Prefix of the lanes' queues.
pub const SCHED_PREFIX: &[u8] = b"sched/";
/// The lanes whose head is drawn at the start of the next block.
pub const DRAW_LIST: &[u8] = b"sched/draw/";
/// The lanes whose head's deadline has passed, within the grace.
pub const LATE_LIST: &[u8] = b"sched/late/";
/// Prefix of the time buckets: `sched/due/ ‖ bucket (u64 BE)` lists the lanes looked at by
/// the first block ending after the bucket.
pub const DUE_PREFIX: &[u8] = b"sched/due/";
/// Width of a time bucket (ms): a deadline or a retry is acted on within this much of its
/// time.
pub const DUE_BUCKET_MS: u64 = 1_000;
/// Most time buckets one block reads: after a long pause the buckets are caught up over
/// several blocks, so no block's cost grows with the pause.
pub const MAX_DUE_BUCKETS_PER_BLOCK: u64 = 600;
/// The lanes' per-block bookkeeping: the newest revealed seed and the first time bucket the
/// end of the next block reads ([`Clock`]), in one value so that a block writes one.
pub const SEED_KEY: &[u8] = b"seed/latest";
/// Prefix of liveness failure counters.
pub const LIVENESS_PREFIX: &[u8] = b"liveness/";
/// Prefix of dispute evidence.
pub const EVIDENCE_PREFIX: &[u8] = b"evidence/";
/// Most lanes with unresolved jobs at once.
pub const MAX_ACTIVE_LANES: usize = 16_384;

/// The key of `contract`'s lane record.
pub fn lane_key(contract: &Address) -> Vec<u8> {
    [LANE_PREFIX, contract.as_ref()].concat()
}

/// The key of the job id at `seq` in `contract`'s lane.
pub fn lane_job_key(contract: &Address, seq: u64) -> Vec<u8> {
    [LANE_JOB_PREFIX, contract.as_ref(), &seq.to_be_bytes()].concat()
}

/// The key of job `id`'s record.
pub fn job_key(id: &Digest) -> Vec<u8> {
    [JOB_PREFIX, id.as_ref()].concat()
}

/// The key of the outcome of job `id`'s first counted receipt.
pub fn outcome_key(id: &Digest) -> Vec<u8> {
    [OUTCOME_PREFIX, id.as_ref()].concat()
}

/// The outcome of job `id`'s first counted receipt in its current run.
pub fn pending_outcome(
    view: &impl StateView,
    id: &Digest,
) -> Result<Option<CallOutcome>, ExecError> {
    view.read(&TreeId::ROOT, &outcome_key(id))?
        .map(|raw| {
            CallOutcome::decode(bytes::Bytes::from(raw)).map_err(|e| corrupt("job outcome", e))
        })
        .transpose()
}

/// The key of node `id`'s liveness failure counter.
pub fn liveness_key(id: &Digest) -> Vec<u8> {
    [LIVENESS_PREFIX, id.as_ref()].concat()
}

/// The key of the evidence against `node` in `job`.
pub fn evidence_key(job: &Digest, node: &Digest) -> Vec<u8> {
    [EVIDENCE_PREFIX, job.as_ref(), node.as_ref()].concat()
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ExecError {
    ExecError::Corrupt(format!("{what}: {e}"))
}

/// The lanes' per-block bookkeeping, stored under [`SEED_KEY`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// The round of the newest revealed seed (zero before any).
    pub seed_round: Round,
    /// Its randomness.
    pub seed: Digest,
    /// The first time bucket the end of the next block reads (`None` before the first block).
    pub due_cursor: Option<u64>,
    /// The round of the block that wrote this state (zero for the genesis state): the round
    /// whose seed the next block must reveal.
    pub block_round: Round,
}

impl Clock {
    fn encode(&self) -> Vec<u8> {
        [
            &self.seed_round.epoch.to_be_bytes()[..],
            &self.seed_round.view.to_be_bytes(),
            &self.seed.0,
            &self.due_cursor.unwrap_or(u64::MAX).to_be_bytes(),
            &self.block_round.epoch.to_be_bytes(),
            &self.block_round.view.to_be_bytes(),
        ]
        .concat()
    }
}

/// The lanes' clock: the newest revealed seed and the due cursor.
pub fn clock(view: &impl StateView) -> Result<Clock, ExecError> {
    let Some(raw) = view.read(&TreeId::ROOT, SEED_KEY)? else {
        return Ok(Clock::default());
    };
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_be_bytes(raw.get(at..at + 8)?.try_into().ok()?))
    };
    let (Some(seed_epoch), Some(seed_view), Some(seed), Some(cursor), Some(epoch), Some(view)) = (
        u64_at(0),
        u64_at(8),
        raw.get(16..48).and_then(|s| <[u8; 32]>::try_from(s).ok()),
        u64_at(48),
        u64_at(56),
        u64_at(64),
    ) else {
        return Err(corrupt("lane clock", "not 72 bytes"));
    };
    if raw.len() != 72 {
        return Err(corrupt("lane clock", "not 72 bytes"));
    }
    Ok(Clock {
        seed_round: Round::new(seed_epoch, seed_view),
        seed: Digest(seed),
        due_cursor: (cursor != u64::MAX).then_some(cursor),
        block_round: Round::new(epoch, view),
    })
}

/// The newest revealed seed: `(round, randomness)`, `(zero, zero)` before any.
pub fn latest_seed(view: &impl StateView) -> Result<(Round, Digest), ExecError> {
    let c = clock(view)?;
    Ok((c.seed_round, c.seed))
}

/// A lane's record (`None`: the contract has no lane, i.e. it is replicated or absent).
pub fn lane(view: &impl StateView, contract: &Address) -> Result<Option<LaneRecord>, ExecError> {
    view.read(&TreeId::ROOT, &lane_key(contract))?
        .map(|raw| LaneRecord::decode(bytes::Bytes::from(raw)).map_err(|e| corrupt("lane", e)))
        .transpose()
}

/// A job's record.
pub fn job(view: &impl StateView, id: &Digest) -> Result<Option<Job>, ExecError> {
    view.read(&TreeId::ROOT, &job_key(id))?
        .map(|raw| Job::decode(bytes::Bytes::from(raw)).map_err(|e| corrupt("job", e)))
        .transpose()
}

/// The job at `seq` in `contract`'s lane.
pub fn lane_job(
    view: &impl StateView,
    contract: &Address,
    seq: u64,
) -> Result<Option<Job>, ExecError> {
    match view.read(&TreeId::ROOT, &lane_job_key(contract, seq))? {
        None => Ok(None),
        Some(raw) => {
            let id = Digest(
                raw.as_slice()
                    .try_into()
                    .map_err(|_| corrupt("lane position", "not 32 bytes"))?,
            );
            job(view, &id)
        }
    }
}

/// The assigned jobs at the front of `contract`'s lane, in lane order: the head and the jobs
/// following it on its committee (empty if the head is not assigned). At most
/// [`registry::MAX_PIPELINE_DEPTH`] jobs.
pub fn assigned_run(
    view: &impl StateView,
    contract: &Address,
    lane: &LaneRecord,
) -> Result<Vec<Job>, ExecError> {
    let end = lane.next_seq.min(
        lane.head
            .saturating_add(u64::from(registry::MAX_PIPELINE_DEPTH)),
    );
    let mut run = Vec::new();
    for seq in lane.head..end {
        match lane_job(view, contract, seq)? {
            Some(job) if job.state == JobState::Assigned => run.push(job),
            _ => break,
        }
    }
    Ok(run)
}

/// Contracts whose lane has unresolved jobs, in address order: a query over committed state,
/// never made by block execution. Every such lane waits in one of the queues (its head is
/// drawn next, is past its deadline, or is due at a time), so the queues' entries list them;
/// entries a lane left behind when it changed queue or went idle are dropped by reading the
/// lanes themselves.
pub fn active_lanes(state: &impl hyperchain_state::StateReader) -> Result<Vec<Address>, ExecError> {
    let mut lanes = std::collections::BTreeSet::new();
    // Counts are 8 bytes, entries 32; a lane has at most one live entry and leaves at most
    // one stale one per queue it was in since that queue was last read.
    for (_, value) in state.scan_prefix(&TreeId::ROOT, SCHED_PREFIX, 4 * MAX_ACTIVE_LANES)? {
        if let Ok(contract) = <[u8; 32]>::try_from(value.as_slice()) {
            lanes.insert(Address(contract));
        }
    }
    let mut active = Vec::with_capacity(lanes.len());
    for contract in lanes {
        if lane(state, &contract)?.is_some_and(|l| l.head < l.next_seq) {
            active.push(contract);
        }
    }
    Ok(active)
}

/// How many lanes have unresolved jobs.
pub fn active_count(view: &impl StateView) -> Result<u64, ExecError> {
    Ok(read_u64(view, ACTIVE_COUNT_KEY)?.unwrap_or(0))
}

/// A node's record of missed deadlines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Liveness {
    /// Deadlines missed since its last suspension.
    pub misses: u32,
    /// It is not drawn before this block time (ms); 0 if never suspended.
    pub suspended_until_ms: u64,
}

impl Liveness {
    /// One more missed deadline at block time `now_ms`: the `params.suspend_after_failures`-th
    /// suspends the node for `params.suspension_ms` and starts the count again.
    pub fn charge(self, params: &registry::ComputeParams, now_ms: u64) -> Liveness {
        let misses = self.misses.saturating_add(1);
        if misses >= params.suspend_after_failures {
            Liveness {
                misses: 0,
                suspended_until_ms: now_ms.saturating_add(params.suspension_ms),
            }
        } else {
            Liveness { misses, ..self }
        }
    }

    /// Whether it is suspended at block time `now_ms`.
    pub fn suspended(&self, now_ms: u64) -> bool {
        now_ms < self.suspended_until_ms
    }

    /// Its stored form (under [`liveness_key`]).
    pub fn encode(&self) -> Vec<u8> {
        [
            &self.misses.to_be_bytes()[..],
            &self.suspended_until_ms.to_be_bytes(),
        ]
        .concat()
    }
}

/// Node `id`'s record of missed deadlines.
pub fn liveness(view: &impl StateView, id: &Digest) -> Result<Liveness, ExecError> {
    let Some(raw) = view.read(&TreeId::ROOT, &liveness_key(id))? else {
        return Ok(Liveness::default());
    };
    let (Ok(misses), Ok(until)) = (
        <[u8; 4]>::try_from(raw.get(..4).unwrap_or_default()),
        <[u8; 8]>::try_from(raw.get(4..).unwrap_or_default()),
    ) else {
        return Err(corrupt("liveness", "not 12 bytes"));
    };
    Ok(Liveness {
        misses: u32::from_be_bytes(misses),
        suspended_until_ms: u64::from_be_bytes(until),
    })
}

/// Missed deadlines of node `id` since its last suspension.
pub fn liveness_failures(view: &impl StateView, id: &Digest) -> Result<u32, ExecError> {
    Ok(liveness(view, id)?.misses)
}

/// The committee a contract's mode calls for.
pub fn spec_of(record: &ContractRecord) -> Option<CommitteeSpec> {
    match record.mode {
        ExecutionMode::Replicated => None,
        ExecutionMode::Single => Some(CommitteeSpec::AnyOf(1)),
        ExecutionMode::Committee(k) => Some(CommitteeSpec::AnyOf(k as usize)),
        ExecutionMode::CrossVendor => Some(CommitteeSpec::CrossVendor(record.regions.clone())),
    }
}

pub use crate::lifecycle::members;

/// The nodes committees may be drawn from at block time `now_ms`: registered, not revoked,
/// in the accumulator and unexpired, and not suspended for missed deadlines.
pub fn candidates(view: &impl StateView, now_ms: u64) -> Result<Vec<Candidate>, ExecError> {
    let mut out = Vec::new();
    for record in registry::nodes(view)? {
        let id = record.id();
        if !record.is_active(now_ms) || view.read(&registry::ACCUMULATOR, &id.0)?.is_none() {
            continue;
        }
        if liveness(view, &id)?.suspended(now_ms) {
            continue;
        }
        let Some(platform) = Platform::from_tag(record.platform) else {
            continue;
        };
        out.push(Candidate {
            id,
            vendor: platform.vendor(),
            region: record.region,
        });
    }
    Ok(out)
}

/// Runs a job's call with `engine`: the call a committee member makes and the one validators
/// make as arbiters, so both produce the same outcome. The call sees the height and time of
/// the block that ordered the job.
pub fn run_job(
    engine: &Engine,
    contract: &Contract,
    job: &Job,
    storage: Arc<dyn StorageReader>,
) -> Result<CallOutcome, hyperchain_vm::VmError> {
    let outcome = engine.call(
        contract,
        Call {
            ctx: CallContext {
                caller: job.caller,
                contract: job.contract,
                block_height: job.height,
                block_time_ms: job.time_ms,
            },
            method: &job.method,
            input: &job.input,
            fuel_limit: job.fuel_limit,
        },
        storage,
    )?;
    // The state the result leaves is paid from the job's escrow: more than it holds for ends
    // the call `out_of_fee`, as a replicated call whose fee limit cannot pay for its state.
    if outcome.status.is_ok()
        && crate::execute::written_bytes(&outcome.writes) > job.funds.max_state_bytes
    {
        return Ok(CallOutcome::failed(
            hyperchain_types::CallStatus::OutOfFee,
            outcome.fuel_used,
            outcome.reads,
        ));
    }
    Ok(outcome)
}

/// The owner account of node `id`, from its record or, once pruned, its tombstone.
pub fn node_owner(view: &impl StateView, id: &Digest) -> Result<Option<Address>, ExecError> {
    if let Some(record) = registry::node(view, id)? {
        return Ok(Some(record.owner));
    }
    Ok(registry::tombstone(view, id)?.map(|t| t.owner))
}

/// How many members a committee for `spec` has.
pub fn committee_size(spec: &CommitteeSpec) -> u64 {
    match spec {
        CommitteeSpec::AnyOf(k) => *k as u64,
        CommitteeSpec::CrossVendor(regions) => 2 * regions.len() as u64,
    }
}

/// A run's storage as a member sees it: the writes of the run's earlier jobs over the proven
/// storage the run started from.
struct RunStorage {
    base: Arc<dyn StorageReader + Send + Sync>,
    writes: hyperchain_types::WriteSet,
}

impl StorageReader for RunStorage {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, hyperchain_vm::StorageError> {
        match self.writes.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.base.read(key),
        }
    }
}

/// Executes a committee's run (the head, then its followers, in lane order) on `storage`
/// (the contract's storage before the head) and returns each job's pre-state and outcome:
/// the head's is `pre_state` (the lane's chain value), each follower's is [`chain_next`] of
/// the one before, and each job reads the storage its predecessors left (a failed call
/// leaves none). The same computation validators check receipts against.
///
/// [`chain_next`]: hyperchain_types::chain_next
///
/// `on_job` is called after each job (with its index), e.g. to time it.
pub fn run_jobs(
    engine: &Engine,
    contract: &Contract,
    jobs: &[Job],
    storage: Arc<dyn StorageReader + Send + Sync>,
    pre_state: Digest,
    mut on_job: impl FnMut(usize),
) -> Result<Vec<(Digest, CallOutcome)>, hyperchain_vm::VmError> {
    let mut out = Vec::with_capacity(jobs.len());
    let mut writes = hyperchain_types::WriteSet::new();
    let mut chain = pre_state;
    for (i, job) in jobs.iter().enumerate() {
        let view = Arc::new(RunStorage {
            base: storage.clone(),
            writes: writes.clone(),
        });
        let outcome = run_job(engine, contract, job, view)?;
        if outcome.status.is_ok() {
            writes.extend(outcome.writes.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let next = hyperchain_types::chain_next(&chain, &outcome);
        out.push((chain, outcome));
        chain = next;
        on_job(i);
    }
    Ok(out)
}

/// The receipt a correct member signs for `job` (in the run of its current assignment)
/// given its outcome.
pub fn expected_receipt(
    chain_id: Digest,
    code_hash: Digest,
    pre_state: Digest,
    job: &Job,
    outcome: CallOutcome,
) -> ComputeReceipt {
    ComputeReceipt {
        chain_id,
        contract: job.contract,
        lane_seq: job.lane_seq,
        job: job.id,
        run: job
            .assignment
            .as_ref()
            .map(Assignment::run)
            .unwrap_or_default(),
        code_hash,
        pre_state,
        outcome,
    }
}

/// A lane's storage reads for TEE jobs: the contract's own sub-tree only. TEE contracts see
/// no compute nodes through `compute_node_active` (always 0): a committee member could not
/// prove it read the same accumulator state as the others, so arbiters see none either.
struct LaneView(ContractView);

impl StorageReader for LaneView {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, hyperchain_vm::StorageError> {
        self.0.read(key)
    }
}

/// Reads a `u64` count or cursor (absent: `None`).
pub(crate) fn read_u64(view: &impl StateView, key: &[u8]) -> Result<Option<u64>, ExecError> {
    view.read(&TreeId::ROOT, key)?
        .map(|raw| {
            <[u8; 8]>::try_from(raw.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt("counter", "not 8 bytes"))
        })
        .transpose()
}

/// Removes `key`: deleted if the parent state holds it, else forgotten (a value put and
/// removed within one block costs the state root nothing).
fn remove(base: &Base, batch: &mut WriteBatch, key: Vec<u8>) -> Result<(), ExecError> {
    if base.get(&TreeId::ROOT, &key)?.is_some() {
        batch.delete(TreeId::ROOT, key);
    } else {
        batch.discard(&TreeId::ROOT, &key);
    }
    Ok(())
}

/// A list of contracts in state: its length under `prefix`, entry `i` under
/// `prefix ‖ i (u64 BE)`. Appending touches two values whatever the length; a list is read
/// and emptied whole when its turn comes.
struct List(Vec<u8>);

impl List {
    fn entry(&self, i: u64) -> Vec<u8> {
        [&self.0[..], &i.to_be_bytes()].concat()
    }

    fn len(&self, view: &impl StateView) -> Result<u64, ExecError> {
        Ok(read_u64(view, &self.0)?.unwrap_or(0))
    }

    fn get(&self, view: &impl StateView, i: u64) -> Result<Address, ExecError> {
        let raw = view
            .read(&TreeId::ROOT, &self.entry(i))?
            .ok_or_else(|| corrupt("lane list", format!("entry {i} missing")))?;
        Ok(Address(
            raw.as_slice()
                .try_into()
                .map_err(|_| corrupt("lane list", "entry not 32 bytes"))?,
        ))
    }

    fn set_len(&self, base: &Base, batch: &mut WriteBatch, n: u64) -> Result<(), ExecError> {
        if n == 0 {
            remove(base, batch, self.0.clone())
        } else {
            put(batch, self.0.clone(), n.to_be_bytes().to_vec());
            Ok(())
        }
    }

    /// Appends `contract`; returns its index.
    fn push(
        &self,
        base: &Base,
        batch: &mut WriteBatch,
        contract: &Address,
    ) -> Result<u64, ExecError> {
        let n = self.len(&Overlay { base, own: batch })?;
        put(batch, self.entry(n), contract.0.to_vec());
        self.set_len(base, batch, n + 1)?;
        Ok(n)
    }

    /// Every entry, emptying the list.
    fn take_all(&self, base: &Base, batch: &mut WriteBatch) -> Result<Vec<Address>, ExecError> {
        let view = Overlay { base, own: batch };
        let n = self.len(&view)?;
        let all = (0..n)
            .map(|i| self.get(&view, i))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..n {
            remove(base, batch, self.entry(i))?;
        }
        self.set_len(base, batch, 0)?;
        Ok(all)
    }
}

fn draw_list() -> List {
    List(DRAW_LIST.to_vec())
}

fn late_list() -> List {
    List(LATE_LIST.to_vec())
}

fn due_list(bucket: u64) -> List {
    List([DUE_PREFIX, &bucket.to_be_bytes()].concat())
}

/// Whether a lane's head waits to be drawn a committee at the start of the block after the
/// state `view` (the proposer then waits for the seed it must reveal).
pub fn awaits_draw(view: &impl StateView) -> Result<bool, ExecError> {
    Ok(draw_list().len(view)? > 0)
}

fn put(batch: &mut WriteBatch, key: Vec<u8>, value: Vec<u8>) {
    batch.put(TreeId::ROOT, key, value);
}

fn write_job(batch: &mut WriteBatch, job: &Job) {
    put(batch, job_key(&job.id), job.encode().to_vec());
}

fn write_lane(batch: &mut WriteBatch, contract: &Address, lane: &LaneRecord) {
    put(batch, lane_key(contract), lane.encode().to_vec());
}

/// What a block draws committees with: the newest revealed seed (read once per block) and
/// the pool, the candidates of its parent's state, fixed before the seed the block reveals
/// (the parent's view's) was known, so neither the block's proposer nor its transactions
/// (registrations, revocations) can change whom a known seed picks. The pool is computed at
/// most once per block, and only if a lane draws.
pub(crate) struct BlockPool<'a> {
    base: &'a Base,
    now_ms: u64,
    seed_round: Round,
    seed: Digest,
    nodes: std::cell::OnceCell<Vec<Candidate>>,
}

impl BlockPool<'_> {
    fn nodes(&self) -> Result<&[Candidate], ExecError> {
        if let Some(nodes) = self.nodes.get() {
            return Ok(nodes);
        }
        let nodes = candidates(self.base, self.now_ms)?;
        Ok(self.nodes.get_or_init(|| nodes))
    }
}

/// What executing a lifecycle transition's effects needs besides the state.
#[derive(Default)]
struct Carry<'a> {
    /// The receipt whose vote was counted (its outcome is kept if it is the first).
    receipt: Option<&'a SignedComputeReceipt>,
    /// Fuel validators spent arbitrating.
    fuel: u64,
}

impl Executor {
    fn clock(env: BlockEnv) -> BlockClock {
        BlockClock {
            height: env.height,
            round: env.round,
            now_ms: env.timestamp_ms,
        }
    }

    fn params(&self) -> Params {
        Params::from(&self.registry.compute)
    }

    /// The lifecycle's transition of `job` on `input` (a refused receipt is `Ok(Err(_))`).
    fn transition(
        &self,
        job: &Job,
        input: Input<'_>,
        env: BlockEnv,
    ) -> Result<Result<Transition, Refusal>, ExecError> {
        match lifecycle::apply(job, input, Self::clock(env), self.params()) {
            Ok(t) => Ok(Ok(t)),
            Err(LifecycleError::Refused(r)) => Ok(Err(r)),
            Err(e @ LifecycleError::Corrupt { .. }) => Err(corrupt("job", e)),
        }
    }

    /// Puts `contract`'s lane in `sched`'s queue (taking it out of the one it was in: an
    /// entry left behind there is skipped when its queue is read).
    fn schedule(
        &self,
        base: &Base,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        sched: Sched,
    ) -> Result<(), ExecError> {
        let view = Overlay { base, own: batch };
        let mut lane = lane(&view, contract)?.ok_or_else(|| corrupt("lane", "vanished"))?;
        let sched = match sched {
            // A bucket the cursor has passed (or the end of this block is reading) is never
            // read again: the current second's is, once it is over.
            Sched::Due(bucket) => Sched::Due(
                bucket
                    .max(self.due_cursor(&view, env)?)
                    .max(env.timestamp_ms / DUE_BUCKET_MS),
            ),
            other => other,
        };
        if lane.sched == sched {
            return Ok(());
        }
        lane.sched = sched;
        write_lane(batch, contract, &lane);
        match sched {
            Sched::None => {}
            Sched::Draw => {
                draw_list().push(base, batch, contract)?;
            }
            Sched::Late => {
                late_list().push(base, batch, contract)?;
            }
            Sched::Due(bucket) => {
                due_list(bucket).push(base, batch, contract)?;
            }
        }
        Ok(())
    }

    /// The first time bucket the end of the next block reads.
    fn due_cursor(&self, view: &impl StateView, env: BlockEnv) -> Result<u64, ExecError> {
        Ok(clock(view)?
            .due_cursor
            .unwrap_or(env.timestamp_ms / DUE_BUCKET_MS))
    }

    /// Start of a block: record the seed it reveals, then draw committees for the heads in
    /// the draw queue. Draws happen only here, before any transaction of the block, over the
    /// pool of the parent's state ([`BlockPool`]).
    pub(crate) fn begin_block(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
    ) -> Result<(), ExecError> {
        let mut c = clock(&Overlay { base, own: batch })?;
        if env.round.epoch > c.block_round.epoch {
            // The first block of a new epoch: the validator set moves on.
            for (tree, key, value) in
                crate::validators::enter_epoch(&Overlay { base, own: batch }, env.round.epoch)?
            {
                match value {
                    Some(v) => batch.put(tree, key, v),
                    None => batch.delete(tree, key),
                }
            }
        }
        if let Some(seed) = &env.seed {
            c.seed_round = seed.round;
            c.seed = seed.randomness();
        }
        // The next block reveals this block's round's seed.
        c.block_round = env.round;
        put(batch, SEED_KEY.to_vec(), c.encode());
        let pool = BlockPool {
            base,
            now_ms: env.timestamp_ms,
            seed_round: c.seed_round,
            seed: c.seed,
            nodes: std::cell::OnceCell::new(),
        };
        for contract in draw_list().take_all(base, batch)? {
            let Some(head) = self.take_turn(base, batch, &contract, Sched::Draw)? else {
                continue;
            };
            self.draw(base, batch, env, &contract, head, &pool)?;
        }
        Ok(())
    }

    /// End of a block, after its transactions (so receipts a member sent in time count even
    /// when this is the first block in a while): one more late block for heads past their
    /// deadline, then the time buckets the block's time has passed (deadlines, stalled heads'
    /// next tries), at most [`MAX_DUE_BUCKETS_PER_BLOCK`] of them.
    pub(crate) fn end_block(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
    ) -> Result<(), ExecError> {
        for contract in late_list().take_all(base, batch)? {
            if let Some(head) = self.take_turn(base, batch, &contract, Sched::Late)? {
                self.step(
                    base,
                    batch,
                    env,
                    &contract,
                    head,
                    Input::Late,
                    &mut Carry::default(),
                )?;
            }
        }
        let view = Overlay { base, own: batch };
        let clock_then = clock(&view)?;
        let stored = clock_then.due_cursor;
        let now_bucket = env.timestamp_ms / DUE_BUCKET_MS;
        let cursor = stored.unwrap_or(now_bucket);
        let end = now_bucket.min(cursor.saturating_add(MAX_DUE_BUCKETS_PER_BLOCK));
        for bucket in cursor..end {
            for contract in due_list(bucket).take_all(base, batch)? {
                let Some(head) = self.take_turn(base, batch, &contract, Sched::Due(bucket))? else {
                    continue;
                };
                let input = match head.state {
                    JobState::Assigned => Input::Late,
                    _ => Input::Retry,
                };
                self.step(
                    base,
                    batch,
                    env,
                    &contract,
                    head,
                    input,
                    &mut Carry::default(),
                )?;
            }
        }
        if stored != Some(end.max(cursor)) {
            // The same value as the block's seed: one write a block.
            // Nothing in between writes the seed: only the start of a block does.
            let c = Clock {
                due_cursor: Some(end.max(cursor)),
                ..clock_then
            };
            put(batch, SEED_KEY.to_vec(), c.encode());
        }
        Ok(())
    }

    /// A queue entry's turn: `None` if the lane has left that queue since (a stale entry) or
    /// has no head; else the lane leaves the queue and its head is returned.
    fn take_turn(
        &self,
        base: &Base,
        batch: &mut WriteBatch,
        contract: &Address,
        queue: Sched,
    ) -> Result<Option<Job>, ExecError> {
        let view = Overlay { base, own: batch };
        let mut lane =
            lane(&view, contract)?.ok_or_else(|| corrupt("lane", "queued lane vanished"))?;
        if lane.sched != queue {
            return Ok(None);
        }
        lane.sched = Sched::None;
        let head = if lane.head < lane.next_seq {
            Some(self.head(&view, contract, &lane)?)
        } else {
            None
        };
        write_lane(batch, contract, &lane);
        Ok(head)
    }

    fn head(
        &self,
        view: &impl StateView,
        contract: &Address,
        lane: &LaneRecord,
    ) -> Result<Job, ExecError> {
        lane_job(view, contract, lane.head)?
            .ok_or_else(|| corrupt("lane", format!("{contract} has no job at {}", lane.head)))
    }

    /// A waiting or stalled head's draw, over the block's pool.
    fn draw(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        head: Job,
        pool: &BlockPool<'_>,
    ) -> Result<(), ExecError> {
        if !matches!(head.state, JobState::Waiting | JobState::Stalled { .. }) {
            return Ok(());
        }
        if pool.seed_round <= head.drawable_after {
            // Not this block's seed: no need to build the pool.
            return self.schedule(base, batch, env, contract, Sched::Draw);
        }
        let record = self.contract_record(&Overlay { base, own: batch }, contract)?;
        let spec = spec_of(&record).ok_or_else(|| corrupt("lane", "replicated contract"))?;
        let input = Input::Draw {
            seed_round: pool.seed_round,
            seed: pool.seed,
            pool: pool.nodes()?,
            spec: &spec,
        };
        self.step(
            base,
            batch,
            env,
            contract,
            head,
            input,
            &mut Carry::default(),
        )
    }

    /// Applies `input` to `job` (of `contract`'s lane) and carries out the effects.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        job: Job,
        input: Input<'_>,
        carry: &mut Carry<'_>,
    ) -> Result<(), ExecError> {
        let t = match self.transition(&job, input, env)? {
            Ok(t) => t,
            Err(refusal) => return Err(corrupt("lifecycle", refusal)),
        };
        self.carry_out(base, batch, env, contract, t, carry)
    }

    /// Writes the transition's job and carries out its effects in order.
    fn carry_out(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        t: Transition,
        carry: &mut Carry<'_>,
    ) -> Result<(), ExecError> {
        let Transition { next: job, effects } = t;
        write_job(batch, &job);
        for effect in effects {
            match effect {
                Effect::Assigned => {
                    // A committee drawn for the head executes on the proven storage
                    // commitment; the jobs behind it join its run.
                    let view = Overlay { base, own: batch };
                    let mut lane =
                        lane(&view, contract)?.ok_or_else(|| corrupt("lane", "vanished"))?;
                    lane.chain = lane.state;
                    write_lane(batch, contract, &lane);
                    let run_fuel = self.set_followers(base, batch, env, &lane, &job)?;
                    let deadline_ms = env
                        .timestamp_ms
                        .saturating_add(self.registry.compute.deadline_for(run_fuel));
                    let input = Input::Promoted {
                        deadline_ms,
                        chain: lane.chain,
                    };
                    return self.step(base, batch, env, contract, job, input, carry);
                }
                Effect::Stalled { retry_at_ms } => {
                    self.schedule(
                        base,
                        batch,
                        env,
                        contract,
                        Sched::Due(retry_at_ms / DUE_BUCKET_MS),
                    )?;
                }
                Effect::Failed => {
                    // Nobody executed it: the caller gets its whole escrow back.
                    let mut job = job.clone();
                    self.settle(base, batch, env, &mut job, None)?;
                    write_job(batch, &job);
                    self.next_head(base, batch, env, contract, &job, carry)?;
                }
                Effect::AwaitSeed => {
                    self.schedule(base, batch, env, contract, Sched::Draw)?;
                }
                Effect::Due { deadline_ms } => {
                    self.schedule(
                        base,
                        batch,
                        env,
                        contract,
                        Sched::Due(deadline_ms / DUE_BUCKET_MS),
                    )?;
                }
                Effect::StillLate => {
                    self.schedule(base, batch, env, contract, Sched::Late)?;
                }
                Effect::Dropped { charged } => {
                    for id in charged {
                        let liveness = liveness(&Overlay { base, own: batch }, &id)?
                            .charge(&self.registry.compute, env.timestamp_ms);
                        put(batch, liveness_key(&id), liveness.encode());
                    }
                    // The jobs that followed leave the dropped run; the head is drawn again.
                    let view = Overlay { base, own: batch };
                    let lane = lane(&view, contract)?.ok_or_else(|| corrupt("lane", "vanished"))?;
                    self.set_followers(base, batch, env, &lane, &job)?;
                    self.schedule(base, batch, env, contract, Sched::Draw)?;
                }
                Effect::KeepOutcome => {
                    let receipt = carry.receipt.ok_or_else(|| {
                        corrupt("lifecycle", "an outcome to keep without a receipt")
                    })?;
                    // The first answer's outcome is kept (bounded by the host API's limits);
                    // later answers are compared by digest.
                    put(
                        batch,
                        outcome_key(&job.id),
                        receipt.receipt.outcome.encode().to_vec(),
                    );
                }
                Effect::ForgetOutcome => {
                    remove(base, batch, outcome_key(&job.id))?;
                }
                Effect::Apply { outcome } => {
                    // No re-execution: apply the agreed write set and compute the new
                    // commitment.
                    let view = Overlay { base, own: batch };
                    let agreed = pending_outcome(&view, &job.id)?
                        .filter(|kept| hyperchain_types::sha256(&kept.encode()) == outcome)
                        .ok_or_else(|| {
                            corrupt("job", format!("{} lost its agreed outcome", job.id))
                        })?;
                    self.resolve(base, batch, env, contract, job, agreed, Resolution::Agreed)?;
                    return self.advance(base, batch, env, contract, carry);
                }
                Effect::Arbitrate => {
                    return self.arbitrate(base, batch, env, contract, job, carry);
                }
                Effect::Revoke(vote) => self.revoke(base, batch, env, contract, &job, vote)?,
                Effect::Done => {
                    // Handled by `resolve`, which knows the outcome.
                }
            }
        }
        Ok(())
    }

    /// Gives the jobs behind an assigned `head` its committee (pipelining): each job up to the
    /// policy's depth that was ordered in a view before the committee's seed view, while the
    /// run's fuel limits fit one block's budget (validators may have to arbitrate all of it in
    /// the block that resolves the head). Followers of an earlier committee that no longer
    /// follow go back to waiting, their receipts dropped. Returns the run's fuel limits (the
    /// head's and its followers').
    fn set_followers(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        lane: &LaneRecord,
        head: &Job,
    ) -> Result<u64, ExecError> {
        let depth = u64::from(self.registry.compute.pipeline_depth.max(1));
        let end = lane.next_seq.min(lane.head.saturating_add(depth));
        let mut following = match (&head.state, &head.assignment) {
            (JobState::Assigned, Some(a)) => Some(a),
            _ => None,
        };
        let mut fuel = head.fuel_limit;
        let mut run_fuel = fuel;
        for seq in lane.head + 1..end {
            let view = Overlay { base, own: batch };
            let job = lane_job(&view, &head.contract, seq)?
                .ok_or_else(|| corrupt("lane", format!("{} has no job at {seq}", head.contract)))?;
            fuel = fuel.saturating_add(job.fuel_limit);
            following = following.filter(|a| {
                job.round < a.seed_round && fuel <= hyperchain_types::block_limits::MAX_BLOCK_FUEL
            });
            let input = match following {
                Some(a) => {
                    run_fuel = fuel;
                    Input::Follow(a)
                }
                None if job.state == JobState::Assigned => Input::Unfollow,
                None => break,
            };
            let t = self
                .transition(&job, input, env)?
                .map_err(|r| corrupt("lifecycle", r))?;
            self.carry_out(base, batch, env, &head.contract, t, &mut Carry::default())?;
        }
        Ok(run_fuel)
    }

    fn contract_record(
        &self,
        view: &impl StateView,
        contract: &Address,
    ) -> Result<ContractRecord, ExecError> {
        let raw = view
            .read(&TreeId::ROOT, &contract_key(contract))?
            .ok_or_else(|| corrupt("lane", format!("{contract} has no contract record")))?;
        ContractRecord::decode(bytes::Bytes::from(raw))
            .map_err(|e| corrupt(&format!("contract record of {contract}"), e))
    }

    /// Creates `contract`'s lane at deploy (its storage commitment is that of empty storage).
    pub(crate) fn open_lane(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        contract: &Address,
    ) -> Result<(), ExecError> {
        let state = base.tree_root_after(&TreeId(contract.0), batch, std::iter::empty())?;
        let lane = LaneRecord {
            next_seq: 0,
            head: 0,
            state,
            chain: state,
            sched: Sched::None,
        };
        write_lane(batch, contract, &lane);
        Ok(())
    }

    /// A call to a TEE contract: the job joins the end of the lane; a job that is its lane's
    /// head waits for the next block's draw.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn enqueue(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        id: Digest,
        caller: Address,
        contract: Address,
        method: &str,
        input: &[u8],
        fuel_limit: u64,
        funds: hyperchain_types::JobFunds,
    ) -> Result<ReceiptStatus, ExecError> {
        let view = Overlay { base, own: batch };
        let Some(mut lane) = lane(&view, &contract)? else {
            return Err(corrupt(
                "lane",
                format!("TEE contract {contract} has no lane"),
            ));
        };
        let first = lane.head == lane.next_seq;
        if first {
            let active = active_count(&view)?;
            if active >= MAX_ACTIVE_LANES as u64 {
                return Ok(ReceiptStatus::Rejected(format!(
                    "too many lanes with pending jobs ({MAX_ACTIVE_LANES}); retry later"
                )));
            }
            put(
                batch,
                ACTIVE_COUNT_KEY.to_vec(),
                (active + 1).to_be_bytes().to_vec(),
            );
        }
        let job = lifecycle::order(
            id,
            contract,
            lane.next_seq,
            caller,
            method,
            input,
            fuel_limit,
            funds,
            Self::clock(env),
        );
        put(batch, lane_job_key(&contract, job.lane_seq), id.0.to_vec());
        write_job(batch, &job);
        lane.next_seq += 1;
        write_lane(batch, &contract, &lane);
        if first {
            self.schedule(base, batch, env, &contract, Sched::Draw)?;
        }
        Ok(ReceiptStatus::Queued {
            job: id,
            lane_seq: job.lane_seq,
        })
    }

    /// A `Receipt` transaction: checks the member's receipt and counts it; when all members
    /// agree the result is applied, when they disagree validators arbitrate. A receipt for a
    /// follower (a job behind the head, executed by the head's committee) is checked and kept:
    /// its chained pre-state is checked when the job becomes the head, which the head's
    /// resolution does at once for every follower whose receipts are all in. Returns the
    /// transaction's status and the fuel validators spent (0 unless they arbitrated).
    pub(crate) fn receive(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        signed: &SignedComputeReceipt,
    ) -> Result<(ReceiptStatus, u64), ExecError> {
        let rejected =
            |reason: String| Ok((ReceiptStatus::Rejected(crate::execute::truncate(reason)), 0));
        let view = Overlay { base, own: batch };
        let job_id = signed.receipt.job;
        let Some(job) = job(&view, &job_id)? else {
            return rejected(format!("unknown job {job_id}"));
        };
        let Some(assignment) = job
            .assignment
            .as_ref()
            .filter(|_| job.state == JobState::Assigned)
        else {
            return rejected(
                Refusal::NotAwaiting {
                    job: job_id,
                    state: job.state_name(),
                }
                .to_string(),
            );
        };
        let Some(lane) = lane(&view, &job.contract)? else {
            return Err(corrupt("job", format!("{job_id} has no lane")));
        };
        if job.lane_seq < lane.head {
            return Err(corrupt(
                "lane",
                format!("assigned job {job_id} is behind the head"),
            ));
        }
        let follower = job.lane_seq > lane.head;
        let record = self.contract_record(&view, &job.contract)?;
        let ctx = JobContext {
            chain_id: self.chain_id,
            contract: job.contract,
            lane_seq: job.lane_seq,
            job: job.id,
            run: assignment.run(),
            code_hash: record.code_hash,
            // A follower's pre-state depends on the outcomes before it: checked later.
            pre_state: if follower {
                signed.receipt.pre_state
            } else {
                lane.chain
            },
        };
        let signatures = self.signatures();
        if let Err(e) = committee::check_receipt_with(&ctx, &members(assignment), signed, |r| {
            signatures.verify_receipt(r)
        }) {
            return rejected(e.to_string());
        }
        if let Err(reason) = registry::membership(&view, &signed.node_id(), env.timestamp_ms)? {
            return rejected(reason);
        }
        let input = Input::Vote {
            vote: ReceiptVote::of(signed),
            head: (!follower).then_some(lane.chain),
        };
        let t = match self.transition(&job, input, env)? {
            Ok(t) => t,
            Err(refusal) => return rejected(refusal.to_string()),
        };
        let mut carry = Carry {
            receipt: Some(signed),
            fuel: 0,
        };
        let contract = job.contract;
        self.carry_out(base, batch, env, &contract, t, &mut carry)?;
        Ok((ReceiptStatus::Accepted, carry.fuel))
    }

    /// Validators re-execute the head `job`, revoke every member whose receipt differs from
    /// their result (keeping it as evidence) and apply it.
    fn arbitrate(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        job: Job,
        carry: &mut Carry<'_>,
    ) -> Result<(), ExecError> {
        let tree = TreeId(contract.0);
        let view = Overlay { base, own: batch };
        let record = self.contract_record(&view, contract)?;
        let code = self.load(&view, &record.code_hash)?;
        let chain = lane(&view, contract)?
            .ok_or_else(|| corrupt("lane", "vanished"))?
            .chain;
        let reader = LaneView(ContractView {
            base: base.clone(),
            tree,
            own: batch.tree(&tree).cloned().unwrap_or_default(),
            accumulator: Default::default(),
        });
        let outcome = run_job(&self.engine, &code, &job, Arc::new(reader))?;
        carry.fuel = carry.fuel.saturating_add(outcome.fuel_used);
        let input = Input::Arbitrated {
            pre_state: chain,
            outcome: hyperchain_types::sha256(&outcome.encode()),
        };
        let t = self
            .transition(&job, input, env)?
            .map_err(|r| corrupt("lifecycle", r))?;
        let revoked: Vec<Digest> = t
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Revoke(vote) => Some(vote.node_id()),
                _ => None,
            })
            .collect();
        let job = t.next.clone();
        self.carry_out(base, batch, env, contract, t, carry)?;
        self.resolve(
            base,
            batch,
            env,
            contract,
            job,
            outcome,
            Resolution::Arbitrated {
                revoked: revoked.clone(),
            },
        )?;
        if !revoked.is_empty() {
            // The run's committee held a liar: the jobs that followed go back to waiting
            // (their receipts dropped) and the next head gets a committee drawn afresh.
            let view = Overlay { base, own: batch };
            let lane = lane(&view, contract)?.ok_or_else(|| corrupt("lane", "vanished"))?;
            for job in assigned_run(&view, contract, &lane)? {
                self.step(
                    base,
                    batch,
                    env,
                    contract,
                    job,
                    Input::Unfollow,
                    &mut Carry::default(),
                )?;
            }
        }
        self.advance(base, batch, env, contract, carry)
    }

    /// Revokes the member that signed `vote` for `job` (a result other than the arbiters'),
    /// keeping its signed commitment as evidence.
    fn revoke(
        &self,
        base: &Base,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        job: &Job,
        vote: ReceiptVote,
    ) -> Result<(), ExecError> {
        let view = Overlay { base, own: batch };
        let node = vote.node_id();
        let Some(mut node_record) = registry::node(&view, &node)? else {
            return Ok(());
        };
        let record = self.contract_record(&view, contract)?;
        let run = job.assignment.as_ref().map(|a| a.run()).unwrap_or_default();
        let evidence = SignedCommitment {
            commitment: ReceiptCommitment {
                chain_id: self.chain_id,
                contract: job.contract,
                lane_seq: job.lane_seq,
                job: job.id,
                run,
                code_hash: record.code_hash,
                pre_state: vote.pre_state,
                outcome: vote.outcome,
            },
            node_key: vote.node_key,
            signature: vote.signature,
        };
        if node_record.revoked.is_none() {
            node_record.revoked = Some(RevokeReason::WrongResult { job: job.id });
            node_record.expires_ms = node_record.expires_ms.min(env.timestamp_ms);
        }
        // A provable lie forfeits the bond: it pays for the arbitration (as fees: burned,
        // and the proposer's share), the caller's escrow does not.
        let forfeited = std::mem::take(&mut node_record.bond);
        for (tree, key, value) in registry::membership_writes(&node_record) {
            batch.set(tree, key, value);
        }
        crate::execute::pay_fees(self, base, batch, env, forfeited)?;
        put(
            batch,
            evidence_key(&job.id, &node),
            evidence.encode().to_vec(),
        );
        Ok(())
    }

    /// Applies the head `job`'s result: the contract's storage, the job record and the lane
    /// (its head moves on; [`Executor::advance`] takes the next one).
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        job: Job,
        outcome: CallOutcome,
        resolution: Resolution,
    ) -> Result<(), ExecError> {
        let tree = TreeId(contract.0);
        let writes = if outcome.status.is_ok() {
            outcome.writes.clone()
        } else {
            Default::default()
        };
        let post_state = base.tree_root_after(&tree, batch, writes.iter())?;
        for (key, value) in writes {
            batch.set(tree, key, value);
        }
        let mut job = job;
        self.settle(base, batch, env, &mut job, Some((&outcome, &resolution)))?;
        let view = Overlay { base, own: batch };
        let mut lane = lane(&view, contract)?.ok_or_else(|| corrupt("lane", "vanished"))?;
        lane.chain = hyperchain_types::chain_next(&lane.chain, &outcome);
        let result = JobResult {
            status: outcome.status,
            output: outcome.output,
            events: outcome.events,
            fuel_used: outcome.fuel_used,
            post_state,
            height: env.height,
            resolution,
        };
        let t = self
            .transition(&job, Input::Resolve(result), env)?
            .map_err(|r| corrupt("lifecycle", r))?;
        self.carry_out(base, batch, env, contract, t, &mut Carry::default())?;
        lane.head += 1;
        lane.state = post_state;
        write_lane(batch, contract, &lane);
        Ok(())
    }

    /// Settles `job`'s escrow when it ends (docs/DESIGN.md §10): with its result, each
    /// member whose receipt agreed with it is paid the fuel it used (to its owner's account),
    /// validators' arbitration and the state the result writes are charged as fees, and the
    /// rest returns to the caller; a job that failed (never executed) returns it all. The
    /// record's funds are left empty.
    fn settle(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        job: &mut Job,
        ended: Option<(&CallOutcome, &Resolution)>,
    ) -> Result<(), ExecError> {
        let funds = job.funds;
        let mut left = funds.held + funds.receipts;
        if left == 0 {
            return Ok(());
        }
        let schedule = self.registry.fees;
        if let Some((outcome, resolution)) = ended {
            let fuel = schedule.fuel(outcome.fuel_used) as u128;
            let revoked: &[Digest] = match resolution {
                Resolution::Agreed => &[],
                Resolution::Arbitrated { revoked } => revoked,
            };
            let members: Vec<Digest> = job
                .assignment
                .iter()
                .flat_map(|a| a.votes.iter().map(|v| v.node_id()))
                .filter(|id| !revoked.contains(id))
                .collect();
            for id in members {
                let pay = fuel.min(left);
                left -= pay;
                let owner = node_owner(&Overlay { base, own: batch }, &id)?;
                match owner {
                    Some(owner) => crate::execute::credit(base, batch, &owner, pay)?,
                    None => crate::execute::pay_fees(self, base, batch, env, pay)?,
                }
            }
            let mut charged = 0u128;
            // Arbitration is the caller's cost only when nobody lied (a member whose receipt
            // disagreed but was not revoked cannot happen); a liar's bond paid for it.
            if matches!(resolution, Resolution::Arbitrated { revoked } if revoked.is_empty()) {
                charged += fuel;
            }
            if outcome.status.is_ok() {
                charged += schedule.state(crate::execute::written_bytes(&outcome.writes)) as u128;
            }
            let charged = charged.min(left);
            left -= charged;
            crate::execute::pay_fees(self, base, batch, env, charged)?;
        }
        crate::execute::credit(base, batch, &job.caller, left)?;
        job.funds.held = 0;
        job.funds.receipts = 0;
        Ok(())
    }

    /// The lane moves past its failed head `job`.
    fn next_head(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        job: &Job,
        carry: &mut Carry<'_>,
    ) -> Result<(), ExecError> {
        let view = Overlay { base, own: batch };
        let mut lane = lane(&view, contract)?.ok_or_else(|| corrupt("lane", "vanished"))?;
        if lane.head != job.lane_seq {
            return Err(corrupt("lane", "a job other than the head ended"));
        }
        lane.head += 1;
        write_lane(batch, contract, &lane);
        self.advance(base, batch, env, contract, carry)
    }

    /// After the head ended: an idle lane leaves the active set; a new head that was
    /// following is promoted (its deadline starts now, and it resolves at once if its
    /// receipts are all in, and so on); a waiting one is drawn by a later block's seed (one
    /// this block's proposer, who chose to include what ended the head, could not know).
    fn advance(
        &self,
        base: &Arc<Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        carry: &mut Carry<'_>,
    ) -> Result<(), ExecError> {
        let view = Overlay { base, own: batch };
        let mut lane = lane(&view, contract)?.ok_or_else(|| corrupt("lane", "vanished"))?;
        if lane.head >= lane.next_seq {
            let active = active_count(&view)?;
            if active <= 1 {
                remove(base, batch, ACTIVE_COUNT_KEY.to_vec())?;
            } else {
                put(
                    batch,
                    ACTIVE_COUNT_KEY.to_vec(),
                    (active - 1).to_be_bytes().to_vec(),
                );
            }
            if lane.sched != Sched::None {
                lane.sched = Sched::None;
                write_lane(batch, contract, &lane);
            }
            return Ok(());
        }
        let head = self.head(&view, contract, &lane)?;
        let input = Input::Promoted {
            deadline_ms: env
                .timestamp_ms
                .saturating_add(self.registry.compute.deadline_for(head.fuel_limit)),
            chain: lane.chain,
        };
        self.step(base, batch, env, contract, head, input, carry)
    }
}

/// What a `Receipt` transaction for `job_id` must reserve of the block's fuel: validators
/// may arbitrate the head it answers and every follower resolved with it, i.e. the
/// followers after it whose receipts are all in or already disagree (the cascade stops at
/// the first still waiting); at most the run's fuel limits, which fit the block's budget by
/// construction. Any other receipt resolves nothing.
pub fn receipt_reserve(view: &impl StateView, job_id: &Digest) -> Result<u64, ExecError> {
    let Some(first) = job(view, job_id)? else {
        return Ok(0);
    };
    let Some(lane) = lane(view, &first.contract)? else {
        return Ok(0);
    };
    if first.state != JobState::Assigned || first.lane_seq != lane.head {
        return Ok(0);
    }
    // Exactly the cascade's condition: a follower is resolved (agreed or arbitrated) unless
    // its receipts are still waiting.
    let decided = |job: &Job| {
        job.assignment.as_ref().is_some_and(|a| {
            !matches!(
                committee::agreement(&members(a), &a.votes),
                Agreement::Waiting { .. }
            )
        })
    };
    Ok(assigned_run(view, &first.contract, &lane)?
        .iter()
        .skip(1)
        .take_while(|job| decided(job))
        .fold(first.fuel_limit, |reserve, job| {
            reserve.saturating_add(job.fuel_limit)
        }))
}
