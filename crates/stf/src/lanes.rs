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
//! arbitrated: validators execute the job themselves, apply the correct result and revoke every member whose signed
//! receipt differs, keeping it as evidence. A committee that misses its deadline is replaced;
//! its silent members' misses are counted and repeated misses suspend a node until it
//! re-attests.
//!
//! Root-tree keys (values in brackets):
//!
//! | key | value |
//! |---|---|
//! | `lane/ ‖ contract` | [`LaneRecord`] |
//! | `lanejob/ ‖ contract ‖ seq (u64 BE)` | the job id at that lane position |
//! | `job/ ‖ job id` | [`Job`] |
//! | `jobout/ ‖ job id` | the [`CallOutcome`] of the first counted receipt of the job's current run, until the job resolves or the run is dropped |
//! | `lanes-active` | contracts whose lane has unresolved jobs (32 bytes each) |
//! | `seed/latest` | `view (u64 BE) ‖ randomness (32)` of the newest revealed seed |
//! | `liveness/ ‖ node id` | [`Liveness`]: missed deadlines (u32 BE) since its last suspension ‖ suspended until (block time, ms, u64 BE) |
//! | `evidence/ ‖ job id ‖ node id` | the conflicting [`SignedCommitment`] of a revoked node |

use crate::committee::{self, Agreement, Candidate, CommitteeSpec, JobContext, Member, vendor_tag};
use crate::execute::{BlockEnv, ContractView, ExecError, Executor, Overlay, contract_key};
use crate::registry::{self, StateView};
use commonware_codec::{DecodeExt as _, Encode as _};
use hyperchain_attest::{Platform, Vendor};
use hyperchain_state::{TreeId, WriteBatch};
use hyperchain_types::{
    Address, Assignment, CallOutcome, CommitteeMember, ComputeReceipt, ContractRecord, Digest,
    ExecutionMode, Job, JobResult, JobState, LaneRecord, ReceiptCommitment, ReceiptStatus,
    ReceiptVote, Resolution, RevokeReason, SignedCommitment, SignedComputeReceipt, VENDOR_AMD,
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
/// The list of lanes with unresolved jobs.
pub const ACTIVE_LANES_KEY: &[u8] = b"lanes-active";
/// The newest revealed seed.
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

/// The newest revealed seed: `(view, randomness)`, `(0, zero)` before any.
pub fn latest_seed(view: &impl StateView) -> Result<(u64, Digest), ExecError> {
    match view.read(&TreeId::ROOT, SEED_KEY)? {
        None => Ok((0, Digest::ZERO)),
        Some(raw) if raw.len() == 40 => {
            let mut v = [0u8; 8];
            v.copy_from_slice(&raw[..8]);
            let mut d = [0u8; 32];
            d.copy_from_slice(&raw[8..]);
            Ok((u64::from_be_bytes(v), Digest(d)))
        }
        Some(_) => Err(corrupt("latest seed", "not 40 bytes")),
    }
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

/// Contracts whose lane has unresolved jobs.
pub fn active_lanes(view: &impl StateView) -> Result<Vec<Address>, ExecError> {
    let raw = view
        .read(&TreeId::ROOT, ACTIVE_LANES_KEY)?
        .unwrap_or_default();
    if raw.len() % 32 != 0 {
        return Err(corrupt("active lanes", "length not a multiple of 32"));
    }
    Ok(raw
        .chunks_exact(32)
        .map(|c| Address(c.try_into().expect("32-byte chunk")))
        .collect())
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

/// The committee members of an assignment as selection describes them.
pub fn members(assignment: &Assignment) -> Vec<Member> {
    assignment
        .committee
        .iter()
        .map(|m| Member {
            id: m.id,
            region: m.region.clone(),
            vendor: if m.vendor == VENDOR_AMD {
                Vendor::Amd
            } else {
                Vendor::Intel
            },
        })
        .collect()
}

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
    engine.call(
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
    )
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

/// Drops the votes of `job`'s current run and the outcome kept beside them.
fn drop_votes(
    base: &crate::execute::Base,
    batch: &mut WriteBatch,
    job: &mut Job,
) -> Result<(), ExecError> {
    if let Some(a) = job.assignment.as_mut()
        && !a.votes.is_empty()
    {
        a.votes.clear();
        let key = outcome_key(&job.id);
        // A kept outcome usually lives within one block (all members answer together): one
        // the parent state does not hold is forgotten, at no cost to the state root.
        if base.get(&TreeId::ROOT, &key)?.is_some() {
            batch.delete(TreeId::ROOT, key);
        } else {
            batch.discard(&TreeId::ROOT, &key);
        }
    }
    Ok(())
}

/// A follower leaves its committee: back to waiting, its votes dropped, its next committee
/// counted as a new attempt.
fn unfollow(
    base: &crate::execute::Base,
    batch: &mut WriteBatch,
    job: &mut Job,
) -> Result<(), ExecError> {
    drop_votes(base, batch, job)?;
    job.state = JobState::Waiting;
    if let Some(a) = job.assignment.as_mut() {
        a.attempt = a.attempt.saturating_add(1);
        a.committee.clear();
    }
    Ok(())
}

/// The pool a block draws committees from: the candidates of its parent's state, fixed
/// before the seed the block reveals (the parent's view's) was known, so neither the block's
/// proposer nor its transactions (registrations, revocations) can change whom a known seed
/// picks. Computed at most once per block, and only if a lane draws.
pub(crate) struct BlockPool<'a> {
    base: &'a crate::execute::Base,
    now_ms: u64,
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

fn put(batch: &mut WriteBatch, key: Vec<u8>, value: Vec<u8>) {
    batch.put(TreeId::ROOT, key, value);
}

impl Executor {
    /// Start of a block: record the seed it reveals, then draw committees for heads waiting
    /// for a seed this block's is newer than. Draws happen only here, before any transaction
    /// of the block, over the pool of the parent's state ([`BlockPool`]).
    pub(crate) fn begin_block(
        &self,
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
    ) -> Result<(), ExecError> {
        if let Some(seed) = &env.seed {
            let mut value = seed.view.to_be_bytes().to_vec();
            value.extend_from_slice(&seed.randomness().0);
            put(batch, SEED_KEY.to_vec(), value);
        }
        let pool = BlockPool {
            base,
            now_ms: env.timestamp_ms,
            nodes: std::cell::OnceCell::new(),
        };
        let lanes = active_lanes(&Overlay { base, own: batch })?;
        for contract in lanes {
            self.tick(base, batch, env, &contract, Some(&pool))?;
        }
        Ok(())
    }

    /// End of a block: replace the committees past their deadline that the block's receipts
    /// did not resolve. After the transactions, so that receipts a member sent in time count
    /// even when this is the first block in a while.
    pub(crate) fn end_block(
        &self,
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
    ) -> Result<(), ExecError> {
        let lanes = active_lanes(&Overlay { base, own: batch })?;
        for contract in lanes {
            self.tick(base, batch, env, &contract, None)?;
        }
        Ok(())
    }

    /// Moves `contract`'s lane along: at the start of a block (with the block's `pool`), a
    /// waiting or stalled head is drawn a committee if the block's seed is newer than it may
    /// use; at its end (no pool), a head past its deadline goes back to be drawn again (its
    /// silent members charged and excluded).
    fn tick(
        &self,
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
        pool: Option<&BlockPool<'_>>,
    ) -> Result<(), ExecError> {
        let view = Overlay { base, own: batch };
        let Some(lane) = lane(&view, contract)? else {
            return Err(corrupt("active lanes", format!("{contract} has no lane")));
        };
        if lane.head >= lane.next_seq {
            return Ok(());
        }
        let Some(mut head) = lane_job(&view, contract, lane.head)? else {
            return Err(corrupt(
                "lane",
                format!("{contract} has no job at {}", lane.head),
            ));
        };
        match (&head.state, pool) {
            (JobState::Done(_) | JobState::Failed(_), _) => return Ok(()),
            (JobState::Assigned, Some(_))
            | (JobState::Waiting | JobState::Stalled { .. }, None) => {
                return Ok(());
            }
            (JobState::Assigned, None) => {
                let Some(assignment) = head.assignment.as_mut() else {
                    return Err(corrupt(
                        "job",
                        format!("assigned job {} has no committee", head.id),
                    ));
                };
                if env.timestamp_ms < assignment.deadline_ms {
                    return Ok(());
                }
                // Deadline passed: every member that did not answer is charged a miss and
                // excluded from this job's next committees. The job is drawn again by a
                // seed this block's proposer could not know.
                let answered: Vec<Digest> = assignment.votes.iter().map(|v| v.node_id()).collect();
                let mut misses = Vec::new();
                for member in &assignment.committee {
                    if answered.contains(&member.id) {
                        continue;
                    }
                    misses.push((
                        member.id,
                        liveness(&view, &member.id)?
                            .charge(&self.registry.compute, env.timestamp_ms),
                    ));
                    if !assignment.excluded.contains(&member.id)
                        && assignment.excluded.len() < hyperchain_types::job_limits::MAX_EXCLUDED
                    {
                        assignment.excluded.push(member.id);
                    }
                }
                assignment.attempt = assignment.attempt.saturating_add(1);
                assignment.committee.clear();
                for (id, liveness) in misses {
                    put(batch, liveness_key(&id), liveness.encode());
                }
                drop_votes(base, batch, &mut head)?;
                head.state = JobState::Waiting;
                head.drawable_after = env.view;
                put(batch, job_key(&head.id), head.encode().to_vec());
                // Its followers leave the dropped run.
                self.set_followers(base, batch, &lane, &head)?;
                return Ok(());
            }
            (JobState::Waiting | JobState::Stalled { .. }, Some(_)) => {}
        }
        let Some(pool) = pool else {
            return Ok(());
        };
        let (seed_view, seed) = latest_seed(&Overlay { base, own: batch })?;
        if seed_view <= head.drawable_after {
            // Only a seed nobody knew when the job became drawable may pick its committee.
            return Ok(());
        }
        let record = self.contract_record(&Overlay { base, own: batch }, contract)?;
        let spec = spec_of(&record).ok_or_else(|| corrupt("lane", "replicated contract"))?;
        let (attempt, excluded) = head
            .assignment
            .as_ref()
            .map_or((0, Vec::new()), |a| (a.attempt, a.excluded.clone()));
        let drawn = committee::select_committee(
            &seed.0,
            &head.id,
            attempt,
            pool.nodes()?,
            &excluded,
            &spec,
        );
        let assigned = match drawn {
            Ok(committee) => {
                head.assignment = Some(Assignment {
                    attempt,
                    run_head: head.lane_seq,
                    seed_view,
                    seed,
                    assigned_height: env.height,
                    // Set below, once the run's fuel is known.
                    deadline_ms: u64::MAX,
                    committee: committee
                        .into_iter()
                        .map(|m| CommitteeMember {
                            id: m.id,
                            region: m.region,
                            vendor: vendor_tag(m.vendor),
                        })
                        .collect(),
                    votes: Vec::new(),
                    excluded,
                });
                head.state = JobState::Assigned;
                true
            }
            Err(e) => {
                let reason = e.stall_reason();
                let since_ms = match &head.state {
                    JobState::Stalled { since_ms, .. } => *since_ms,
                    _ => env.timestamp_ms,
                };
                if env.timestamp_ms.saturating_sub(since_ms) >= self.registry.compute.max_stall_ms {
                    return self.fail_head(base, batch, env, head, lane, reason);
                }
                let stalled = JobState::Stalled { reason, since_ms };
                if head.state == stalled {
                    return Ok(());
                }
                head.state = stalled;
                false
            }
        };
        let mut lane = lane;
        if assigned {
            // A committee drawn for the head executes on the proven storage commitment.
            lane.chain = lane.state;
            put(batch, lane_key(contract), lane.encode().to_vec());
        }
        let run_fuel = self.set_followers(base, batch, &lane, &head)?;
        if assigned && let Some(a) = head.assignment.as_mut() {
            // Members send the head's receipt once they have executed the whole run.
            a.deadline_ms = env
                .timestamp_ms
                .saturating_add(self.registry.compute.deadline_for(run_fuel));
        }
        put(batch, job_key(&head.id), head.encode().to_vec());
        Ok(())
    }

    /// Ends a head that has been stalled for the policy's `max_stall_ms`: it fails with the
    /// reason (its call changes nothing) and the lane goes on to the next job.
    fn fail_head(
        &self,
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        mut head: Job,
        mut lane: LaneRecord,
        reason: hyperchain_types::StallReason,
    ) -> Result<(), ExecError> {
        drop_votes(base, batch, &mut head)?;
        head.state = JobState::Failed(hyperchain_types::JobFailure {
            reason,
            height: env.height,
        });
        put(batch, job_key(&head.id), head.encode().to_vec());
        lane.head += 1;
        put(batch, lane_key(&head.contract), lane.encode().to_vec());
        self.advance(base, batch, env, &head.contract)?;
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
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
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
            let Some(mut job) = lane_job(&view, &head.contract, seq)? else {
                return Err(corrupt(
                    "lane",
                    format!("{} has no job at {seq}", head.contract),
                ));
            };
            fuel = fuel.saturating_add(job.fuel_limit);
            following = following.filter(|a| {
                job.view < a.seed_view && fuel <= hyperchain_types::block_limits::MAX_BLOCK_FUEL
            });
            match following {
                Some(a) => {
                    run_fuel = fuel;
                    drop_votes(base, batch, &mut job)?;
                    job.assignment = Some(Assignment {
                        votes: Vec::new(),
                        // Its deadline starts when it becomes the head.
                        deadline_ms: u64::MAX,
                        ..a.clone()
                    });
                    job.state = JobState::Assigned;
                }
                None if job.state == JobState::Assigned => unfollow(base, batch, &mut job)?,
                None => break,
            }
            put(batch, job_key(&job.id), job.encode().to_vec());
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
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        contract: &Address,
    ) -> Result<(), ExecError> {
        let state = base.tree_root_after(&TreeId(contract.0), batch, std::iter::empty())?;
        let lane = LaneRecord {
            next_seq: 0,
            head: 0,
            state,
            chain: state,
        };
        put(batch, lane_key(contract), lane.encode().to_vec());
        Ok(())
    }

    /// A call to a TEE contract: the job joins the end of the lane.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn enqueue(
        &self,
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        id: Digest,
        caller: Address,
        contract: Address,
        method: &str,
        input: &[u8],
        fuel_limit: u64,
    ) -> Result<ReceiptStatus, ExecError> {
        let view = Overlay { base, own: batch };
        let Some(mut lane) = lane(&view, &contract)? else {
            return Err(corrupt(
                "lane",
                format!("TEE contract {contract} has no lane"),
            ));
        };
        let mut active = active_lanes(&view)?;
        if lane.head == lane.next_seq {
            if active.len() >= MAX_ACTIVE_LANES {
                return Ok(ReceiptStatus::Rejected(format!(
                    "too many lanes with pending jobs ({MAX_ACTIVE_LANES}); retry later"
                )));
            }
            active.push(contract);
            put(
                batch,
                ACTIVE_LANES_KEY.to_vec(),
                active.iter().flat_map(|a| a.0).collect(),
            );
        }
        let job = Job {
            id,
            contract,
            lane_seq: lane.next_seq,
            caller,
            method: method.to_string(),
            input: input.to_vec(),
            fuel_limit,
            height: env.height,
            view: env.view,
            drawable_after: env.view,
            time_ms: env.timestamp_ms,
            assignment: None,
            state: JobState::Waiting,
        };
        put(batch, lane_job_key(&contract, job.lane_seq), id.0.to_vec());
        put(batch, job_key(&id), job.encode().to_vec());
        lane.next_seq += 1;
        put(batch, lane_key(&contract), lane.encode().to_vec());
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
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        signed: &SignedComputeReceipt,
    ) -> Result<(ReceiptStatus, u64), ExecError> {
        let rejected =
            |reason: String| Ok((ReceiptStatus::Rejected(crate::execute::truncate(reason)), 0));
        let view = Overlay { base, own: batch };
        let job_id = signed.receipt.job;
        let Some(mut job) = job(&view, &job_id)? else {
            return rejected(format!("unknown job {job_id}"));
        };
        if job.state != JobState::Assigned {
            return rejected(format!(
                "job {job_id} is {}, not awaiting receipts",
                job.state_name()
            ));
        }
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
        let Some(assignment) = job.assignment.as_mut() else {
            return Err(corrupt(
                "job",
                format!("assigned job {job_id} has no committee"),
            ));
        };
        let committee = members(assignment);
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
        if let Err(e) = committee::check_receipt_with(&ctx, &committee, signed, |r| {
            signatures.verify_receipt(r)
        }) {
            return rejected(e.to_string());
        }
        let node = signed.node_id();
        if let Err(reason) = registry::membership(&view, &node, env.timestamp_ms)? {
            return rejected(reason);
        }
        if assignment.votes.iter().any(|v| v.node_id() == node) {
            return rejected(committee::ReceiptRejection::Duplicate(node).to_string());
        }
        if assignment.votes.is_empty() {
            // The first answer's outcome is kept (bounded by the host API's limits); later
            // answers are compared by digest.
            put(
                batch,
                outcome_key(&job.id),
                signed.receipt.outcome.encode().to_vec(),
            );
        }
        assignment.votes.push(ReceiptVote::of(signed));
        if follower {
            put(batch, job_key(&job.id), job.encode().to_vec());
            return Ok((ReceiptStatus::Accepted, 0));
        }
        let contract = job.contract;
        let fuel = match self.conclude(base, batch, env, job, lane, &record)? {
            None => 0,
            Some(fuel) => fuel.saturating_add(self.advance(base, batch, env, &contract)?),
        };
        Ok((ReceiptStatus::Accepted, fuel))
    }

    /// Resolves the head `job` if its receipts allow: all members signed the same receipt
    /// naming the lane's pre-state (applied without re-execution), or two differ or name
    /// another pre-state (arbitrated). Otherwise stores the job as it is and returns `None`;
    /// else the fuel validators spent.
    fn conclude(
        &self,
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        job: Job,
        lane: LaneRecord,
        record: &ContractRecord,
    ) -> Result<Option<u64>, ExecError> {
        let Some(assignment) = job.assignment.as_ref() else {
            return Err(corrupt(
                "job",
                format!("assigned job {} has no committee", job.id),
            ));
        };
        match committee::agreement(&members(assignment), &assignment.votes) {
            Agreement::Waiting { .. } => {
                put(batch, job_key(&job.id), job.encode().to_vec());
                Ok(None)
            }
            Agreement::Agreed { pre_state, outcome } if pre_state == lane.chain => {
                // No re-execution: apply the agreed write set and compute the new commitment.
                let view = Overlay { base, own: batch };
                let agreed = pending_outcome(&view, &job.id)?
                    .filter(|kept| hyperchain_types::sha256(&kept.encode()) == outcome)
                    .ok_or_else(|| corrupt("job", format!("{} lost its agreed outcome", job.id)))?;
                let tree = TreeId(job.contract.0);
                let writes = if agreed.status.is_ok() {
                    agreed.writes.clone()
                } else {
                    Default::default()
                };
                let post = base.tree_root_after(&tree, batch, writes.iter())?;
                let mut job = job;
                self.resolve(
                    base,
                    batch,
                    env,
                    &mut job,
                    lane,
                    agreed,
                    post,
                    Resolution::Agreed,
                    writes,
                )?;
                Ok(Some(0))
            }
            Agreement::Agreed { .. } | Agreement::Disagreed => {
                Ok(Some(self.arbitrate(base, batch, env, job, lane, record)?))
            }
        }
    }

    /// Validators re-execute the job, apply the correct result and revoke every member whose
    /// receipt differs from it. Returns the fuel used.
    fn arbitrate(
        &self,
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        mut job: Job,
        lane: LaneRecord,
        record: &ContractRecord,
    ) -> Result<u64, ExecError> {
        let tree = TreeId(job.contract.0);
        let contract = self.load(&Overlay { base, own: batch }, &record.code_hash)?;
        let reader = LaneView(ContractView {
            base: base.clone(),
            tree,
            own: batch.tree(&tree).cloned().unwrap_or_default(),
            accumulator: Default::default(),
        });
        let outcome = run_job(&self.engine, &contract, &job, Arc::new(reader))?;
        let writes = if outcome.status.is_ok() {
            outcome.writes.clone()
        } else {
            Default::default()
        };
        let post = base.tree_root_after(&tree, batch, writes.iter())?;
        let fuel = outcome.fuel_used;
        let correct = hyperchain_types::sha256(&outcome.encode());
        let (votes, run) = job
            .assignment
            .as_ref()
            .map(|a| (a.votes.clone(), a.run()))
            .unwrap_or_default();
        let mut revoked = Vec::new();
        for vote in votes {
            // Every vote was cast for this job and run; one naming another pre-state or
            // outcome than the arbiters' is a wrong result its signer signed.
            if vote.pre_state == lane.chain && vote.outcome == correct {
                continue;
            }
            let node = vote.node_id();
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
            let view = Overlay { base, own: batch };
            let Some(mut node_record) = registry::node(&view, &node)? else {
                continue;
            };
            if node_record.revoked.is_none() {
                node_record.revoked = Some(RevokeReason::WrongResult { job: job.id });
                for (tree, key, value) in registry::membership_writes(&node_record) {
                    batch.set(tree, key, value);
                }
            }
            put(
                batch,
                evidence_key(&job.id, &node),
                evidence.encode().to_vec(),
            );
            revoked.push(node);
        }
        self.resolve(
            base,
            batch,
            env,
            &mut job,
            lane,
            outcome,
            post,
            Resolution::Arbitrated {
                revoked: revoked.clone(),
            },
            writes,
        )?;
        if !revoked.is_empty() {
            // The run's committee held a liar: the jobs that followed go back to waiting (their
            // receipts dropped) and the next head gets a committee drawn afresh.
            self.drop_followers(base, batch, &job.contract)?;
        }
        Ok(fuel)
    }

    /// Sends the jobs following `contract`'s head back to waiting, their receipts dropped.
    fn drop_followers(
        &self,
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        contract: &Address,
    ) -> Result<(), ExecError> {
        let view = Overlay { base, own: batch };
        let lane = lane(&view, contract)?.ok_or_else(|| corrupt("lane", "vanished"))?;
        for mut job in assigned_run(&view, contract, &lane)? {
            unfollow(base, batch, &mut job)?;
            put(batch, job_key(&job.id), job.encode().to_vec());
        }
        Ok(())
    }

    /// Applies a job's result: the contract's storage, the job record and the lane.
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &self,
        base: &crate::execute::Base,
        batch: &mut WriteBatch,
        env: BlockEnv,
        job: &mut Job,
        mut lane: LaneRecord,
        outcome: CallOutcome,
        post_state: Digest,
        resolution: Resolution,
        writes: hyperchain_types::WriteSet,
    ) -> Result<(), ExecError> {
        let tree = TreeId(job.contract.0);
        for (key, value) in writes {
            batch.set(tree, key, value);
        }
        // The result is in the job record; the votes and the kept outcome are not.
        drop_votes(base, batch, job)?;
        lane.chain = hyperchain_types::chain_next(&lane.chain, &outcome);
        job.state = JobState::Done(JobResult {
            status: outcome.status,
            output: outcome.output,
            events: outcome.events,
            fuel_used: outcome.fuel_used,
            post_state,
            height: env.height,
            resolution,
        });
        put(batch, job_key(&job.id), job.encode().to_vec());
        lane.head += 1;
        lane.state = post_state;
        put(batch, lane_key(&job.contract), lane.encode().to_vec());
        Ok(())
    }

    /// After a job resolves: drop an idle lane from the active list, resolve a follower that
    /// has become the head (its deadline starts now) if its receipts are all in, and so on;
    /// a waiting job that becomes the head is drawn by a later block's seed (one this
    /// block's proposer, who chose to include the resolving receipt, could not know).
    /// Returns the fuel validators spent arbitrating followers.
    fn advance(
        &self,
        base: &Arc<crate::execute::Base>,
        batch: &mut WriteBatch,
        env: BlockEnv,
        contract: &Address,
    ) -> Result<u64, ExecError> {
        let mut fuel = 0u64;
        loop {
            let view = Overlay { base, own: batch };
            let lane = lane(&view, contract)?.ok_or_else(|| corrupt("lane", "vanished"))?;
            if lane.head >= lane.next_seq {
                let mut active = active_lanes(&view)?;
                active.retain(|a| a != contract);
                put(
                    batch,
                    ACTIVE_LANES_KEY.to_vec(),
                    active.iter().flat_map(|a| a.0).collect(),
                );
                return Ok(fuel);
            }
            let Some(mut head) = lane_job(&view, contract, lane.head)? else {
                return Err(corrupt(
                    "lane",
                    format!("{contract} has no job at {}", lane.head),
                ));
            };
            if head.state != JobState::Assigned {
                head.drawable_after = head.drawable_after.max(env.view);
                put(batch, job_key(&head.id), head.encode().to_vec());
                return Ok(fuel);
            }
            let record = self.contract_record(&view, contract)?;
            let fuel_limit = head.fuel_limit;
            if let Some(a) = head.assignment.as_mut() {
                a.deadline_ms = env
                    .timestamp_ms
                    .saturating_add(self.registry.compute.deadline_for(fuel_limit));
            }
            match self.conclude(base, batch, env, head, lane, &record)? {
                None => return Ok(fuel),
                Some(spent) => fuel = fuel.saturating_add(spent),
            }
        }
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
