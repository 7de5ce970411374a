//! The job lifecycle as a pure state machine (docs/DESIGN.md §5).
//!
//! [`apply`] takes a job record and one [`Input`] and returns the next record and the
//! [`Effect`]s the shell ([`crate::lanes`]) carries out on state: charging members, revoking
//! liars, applying a result, moving the lane on, and putting the lane in the queue a block
//! looks at next. It reads nothing, writes nothing and has no clock; everything it decides on
//! is in its arguments, so tests drive it directly against a reference model
//! (`lifecycle_matches_the_reference_model`).
//!
//! ```text
//!            Draw (committee formed)            Vote … (all in, agreeing)
//!  Waiting ───────────────────────────▶ Assigned ─────────────────────▶ Done
//!    ▲  │ Draw (none can be formed)      │   │  Vote … (disagreeing) ──▶ Arbitrated ─▶ Done
//!    │  ▼                                │   │
//!  Stalled ── stalled too long ─▶ Failed │   └─ Late × grace (deadline passed) ─▶ Waiting
//!    └──── Retry ─▶ (drawn again) ◀──────┘         (silent members charged)
//! ```
//!
//! Reasons in state are typed ([`StallReason`]); refusals are typed ([`Refusal`]) and become
//! text only in a transaction's receipt, which is not part of consensus state.

use crate::committee::{self, Agreement, Candidate, CommitteeSpec, Member, vendor_tag};
use hyperchain_attest::Vendor;
use hyperchain_types::{
    Assignment, CommitteeMember, Digest, Job, JobFailure, JobResult, JobState, ReceiptVote,
    VENDOR_AMD, job_limits,
};

/// The block an input arrives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockClock {
    /// Its height.
    pub height: u64,
    /// Its consensus round.
    pub round: hyperchain_types::Round,
    /// Its timestamp (ms).
    pub now_ms: u64,
}

/// The policy parameters the lifecycle decides with (`policy.compute`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// A job stalled this long fails.
    pub max_stall_ms: u64,
    /// A stalled job is drawn again this long after its last try.
    pub stall_retry_ms: u64,
    /// Blocks ending past the deadline before the run is dropped.
    pub deadline_grace_blocks: u32,
}

impl From<&crate::registry::ComputeParams> for Params {
    fn from(p: &crate::registry::ComputeParams) -> Params {
        Params {
            max_stall_ms: p.max_stall_ms,
            stall_retry_ms: p.stall_retry_ms,
            deadline_grace_blocks: p.deadline_grace_blocks,
        }
    }
}

/// What happens to a job.
#[derive(Clone, Debug)]
pub enum Input<'a> {
    /// The start of a block that reveals `seed` (of `seed_round`): draw a committee for a
    /// waiting or stalled head from `pool`, the candidates of the parent state.
    Draw {
        /// The round whose seed the block reveals.
        seed_round: hyperchain_types::Round,
        /// Its randomness.
        seed: Digest,
        /// The parent state's candidates.
        pool: &'a [Candidate],
        /// What the contract's mode calls for.
        spec: &'a CommitteeSpec,
    },
    /// The job became its lane's head (or was just drawn): its run's time runs out at
    /// `deadline_ms`; `chain` is the pre-state its receipts must name.
    Promoted {
        /// The run's deadline.
        deadline_ms: u64,
        /// The lane's chained pre-state.
        chain: Digest,
    },
    /// The end of a block at or past the run's deadline.
    Late,
    /// A stalled head's time to be drawn again came.
    Retry,
    /// A member's receipt that passed the shell's checks (signature, run, membership, and
    /// for a follower nothing about its pre-state yet). `head` carries the lane's chained
    /// pre-state when the job is the head, which lets the votes be concluded.
    Vote {
        /// The counted answer.
        vote: ReceiptVote,
        /// `Some(lane.chain)` for the head.
        head: Option<Digest>,
    },
    /// The validators' own result of the job they arbitrate: the pre-state and outcome digest
    /// a correct member signs.
    Arbitrated {
        /// The lane's chained pre-state.
        pre_state: Digest,
        /// SHA-256 of the correct outcome's encoding.
        outcome: Digest,
    },
    /// The job's result, agreed or arbitrated.
    Resolve(JobResult),
    /// The job follows the head's run (pipelining): it takes the run's assignment.
    Follow(&'a Assignment),
    /// The job leaves the run it followed (the run was dropped or its committee lied).
    Unfollow,
}

/// What the shell does after a transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A committee was drawn for the head: the lane's chain restarts at its proven state, the
    /// jobs behind it follow, and the run's deadline is set ([`Input::Promoted`]).
    Assigned,
    /// No committee could be formed: the head is tried again at `retry_at_ms`.
    Stalled {
        /// When to try again.
        retry_at_ms: u64,
    },
    /// The head failed (stalled for `max_stall_ms`): the lane goes on to the next job.
    Failed,
    /// The head is drawn by the next block whose seed is newer than it may use.
    AwaitSeed,
    /// The head waits for receipts until `deadline_ms`.
    Due {
        /// Its run's deadline.
        deadline_ms: u64,
    },
    /// The deadline passed within the grace: looked at again at the end of the next block.
    StillLate,
    /// The run was dropped at the end of its grace: each of `charged` (members that never
    /// answered) is charged a missed deadline and excluded from the job; the jobs that
    /// followed leave the run; the head is drawn again by a later seed.
    Dropped {
        /// Members charged.
        charged: Vec<Digest>,
    },
    /// Keep this receipt's outcome beside the job (the first vote).
    KeepOutcome,
    /// Forget the outcome kept beside the job (its votes were dropped).
    ForgetOutcome,
    /// Every member signed `outcome` over the lane's chain: apply the kept outcome.
    Apply {
        /// The agreed outcome's digest.
        outcome: Digest,
    },
    /// The members disagree, or agree on another pre-state: validators re-execute the job.
    Arbitrate,
    /// This member signed another result than the arbiters': revoke it, its vote kept as
    /// evidence.
    Revoke(ReceiptVote),
    /// The job is done; the lane goes on.
    Done,
}

/// Why a receipt is not counted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The job does not wait for receipts.
    #[error("job {job} is {state}, not awaiting receipts")]
    NotAwaiting {
        /// The job.
        job: Digest,
        /// Its state's name.
        state: &'static str,
    },
    /// The member already answered.
    #[error("{0}")]
    Duplicate(committee::ReceiptRejection),
}

/// A transition that cannot happen: the job record contradicts itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// A receipt is refused (the transaction is rejected; nothing changes).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The record is inconsistent (an assigned job without a committee).
    #[error("corrupt job {job}: {what}")]
    Corrupt {
        /// The job.
        job: Digest,
        /// What is wrong.
        what: &'static str,
    },
}

/// The next job record and what the shell must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The job after the input.
    pub next: Job,
    /// In order.
    pub effects: Vec<Effect>,
}

impl Transition {
    fn unchanged(job: &Job) -> Transition {
        Transition {
            next: job.clone(),
            effects: Vec::new(),
        }
    }
}

/// The members of an assignment as selection describes them.
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

/// The job after `input` in block `at`, with the effects.
pub fn apply(
    job: &Job,
    input: Input<'_>,
    at: BlockClock,
    params: Params,
) -> Result<Transition, LifecycleError> {
    let corrupt = |what| LifecycleError::Corrupt { job: job.id, what };
    let mut next = job.clone();
    let mut effects = Vec::new();
    match input {
        Input::Draw {
            seed_round,
            seed,
            pool,
            spec,
        } => {
            if !matches!(job.state, JobState::Waiting | JobState::Stalled { .. }) {
                return Ok(Transition::unchanged(job));
            }
            if seed_round <= job.drawable_after {
                // Only a seed nobody knew when the job became drawable may pick its committee.
                effects.push(Effect::AwaitSeed);
                return Ok(Transition { next, effects });
            }
            let (attempt, excluded) = job
                .assignment
                .as_ref()
                .map_or((0, Vec::new()), |a| (a.attempt, a.excluded.clone()));
            match committee::select_committee(&seed.0, &job.id, attempt, pool, &excluded, spec) {
                Ok(committee) => {
                    next.assignment = Some(Assignment {
                        attempt,
                        run_head: job.lane_seq,
                        seed_round,
                        seed,
                        assigned_height: at.height,
                        // Set by `Promoted` once the run's fuel is known.
                        deadline_ms: u64::MAX,
                        late_blocks: 0,
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
                    next.state = JobState::Assigned;
                    effects.push(Effect::Assigned);
                }
                Err(e) => {
                    let reason = e.stall_reason();
                    let since_ms = match &job.state {
                        JobState::Stalled { since_ms, .. } => *since_ms,
                        _ => at.now_ms,
                    };
                    let fail_at = since_ms.saturating_add(params.max_stall_ms);
                    if at.now_ms >= fail_at {
                        drop_votes(&mut next, &mut effects);
                        next.state = JobState::Failed(JobFailure {
                            reason,
                            height: at.height,
                        });
                        effects.push(Effect::Failed);
                    } else {
                        next.state = JobState::Stalled { reason, since_ms };
                        effects.push(Effect::Stalled {
                            retry_at_ms: at
                                .now_ms
                                .saturating_add(params.stall_retry_ms)
                                .min(fail_at),
                        });
                    }
                }
            }
        }
        Input::Promoted { deadline_ms, chain } => match job.state {
            JobState::Assigned => {
                let a = next
                    .assignment
                    .as_mut()
                    .ok_or_else(|| corrupt("assigned without a committee"))?;
                a.deadline_ms = deadline_ms;
                a.late_blocks = 0;
                effects.push(conclusion(a, chain).unwrap_or(Effect::Due { deadline_ms }));
            }
            JobState::Waiting | JobState::Stalled { .. } => {
                // A head drawn by a seed this block's proposer, who chose to include what
                // resolved the job before it, could not know.
                next.drawable_after = next.drawable_after.max(at.round);
                effects.push(Effect::AwaitSeed);
            }
            JobState::Done(_) | JobState::Failed(_) => {}
        },
        Input::Late => {
            if job.state != JobState::Assigned {
                return Ok(Transition::unchanged(job));
            }
            let a = next
                .assignment
                .as_mut()
                .ok_or_else(|| corrupt("assigned without a committee"))?;
            if at.now_ms < a.deadline_ms {
                effects.push(Effect::Due {
                    deadline_ms: a.deadline_ms,
                });
                return Ok(Transition { next, effects });
            }
            a.late_blocks = a.late_blocks.saturating_add(1);
            if a.late_blocks < params.deadline_grace_blocks {
                effects.push(Effect::StillLate);
                return Ok(Transition { next, effects });
            }
            // The grace is over: every member that did not answer is charged a miss and
            // excluded from this job's next committees, and the job is drawn again by a seed
            // this block's proposer could not know.
            let answered: Vec<Digest> = a.votes.iter().map(|v| v.node_id()).collect();
            let mut charged = Vec::new();
            for member in &a.committee {
                if answered.contains(&member.id) {
                    continue;
                }
                charged.push(member.id);
                if !a.excluded.contains(&member.id) && a.excluded.len() < job_limits::MAX_EXCLUDED {
                    a.excluded.push(member.id);
                }
            }
            a.attempt = a.attempt.saturating_add(1);
            a.committee.clear();
            a.late_blocks = 0;
            drop_votes(&mut next, &mut effects);
            next.state = JobState::Waiting;
            next.drawable_after = at.round;
            effects.push(Effect::Dropped { charged });
        }
        Input::Retry => {
            if matches!(job.state, JobState::Stalled { .. }) {
                effects.push(Effect::AwaitSeed);
            }
        }
        Input::Vote { vote, head } => {
            if job.state != JobState::Assigned {
                return Err(Refusal::NotAwaiting {
                    job: job.id,
                    state: job.state_name(),
                }
                .into());
            }
            let a = next
                .assignment
                .as_mut()
                .ok_or_else(|| corrupt("assigned without a committee"))?;
            let node = vote.node_id();
            if a.votes.iter().any(|v| v.node_id() == node) {
                return Err(
                    Refusal::Duplicate(committee::ReceiptRejection::Duplicate(node)).into(),
                );
            }
            if a.votes.is_empty() {
                effects.push(Effect::KeepOutcome);
            }
            a.votes.push(vote);
            if let Some(chain) = head
                && let Some(effect) = conclusion(a, chain)
            {
                effects.push(effect);
            }
        }
        Input::Arbitrated { pre_state, outcome } => {
            let a = job
                .assignment
                .as_ref()
                .ok_or_else(|| corrupt("arbitrated without a committee"))?;
            for vote in &a.votes {
                // Every vote was cast for this job and run; one naming another pre-state or
                // outcome than the arbiters' is a wrong result its signer signed.
                if vote.pre_state != pre_state || vote.outcome != outcome {
                    effects.push(Effect::Revoke(vote.clone()));
                }
            }
        }
        Input::Resolve(result) => {
            // The result is in the job record; the votes and the kept outcome are not.
            drop_votes(&mut next, &mut effects);
            next.state = JobState::Done(result);
            effects.push(Effect::Done);
        }
        Input::Follow(run) => {
            drop_votes(&mut next, &mut effects);
            next.assignment = Some(Assignment {
                votes: Vec::new(),
                // Its deadline starts when it becomes the head.
                deadline_ms: u64::MAX,
                late_blocks: 0,
                ..run.clone()
            });
            next.state = JobState::Assigned;
        }
        Input::Unfollow => {
            if job.state != JobState::Assigned {
                return Ok(Transition::unchanged(job));
            }
            drop_votes(&mut next, &mut effects);
            next.state = JobState::Waiting;
            if let Some(a) = next.assignment.as_mut() {
                a.attempt = a.attempt.saturating_add(1);
                a.committee.clear();
            }
        }
    }
    Ok(Transition { next, effects })
}

/// Drops the votes of the job's current run (and, through the effect, the outcome kept
/// beside them).
fn drop_votes(job: &mut Job, effects: &mut Vec<Effect>) {
    if let Some(a) = job.assignment.as_mut()
        && !a.votes.is_empty()
    {
        a.votes.clear();
        effects.push(Effect::ForgetOutcome);
    }
}

/// What a head's votes call for, if they are all in: apply the agreed result when every member
/// signed it over the lane's chain, arbitrate otherwise.
fn conclusion(a: &Assignment, chain: Digest) -> Option<Effect> {
    match committee::agreement(&members(a), &a.votes) {
        Agreement::Waiting { .. } => None,
        Agreement::Agreed { pre_state, outcome } if pre_state == chain => {
            Some(Effect::Apply { outcome })
        }
        Agreement::Agreed { .. } | Agreement::Disagreed => Some(Effect::Arbitrate),
    }
}

/// A call to a TEE contract, as the job it becomes at the end of its lane.
#[allow(clippy::too_many_arguments)]
pub fn order(
    id: Digest,
    contract: hyperchain_types::Address,
    lane_seq: u64,
    caller: hyperchain_types::Address,
    method: &str,
    input: &[u8],
    fuel_limit: u64,
    funds: hyperchain_types::JobFunds,
    at: BlockClock,
) -> Job {
    Job {
        id,
        contract,
        lane_seq,
        caller,
        method: method.to_string(),
        input: input.to_vec(),
        fuel_limit,
        height: at.height,
        round: at.round,
        drawable_after: at.round,
        time_ms: at.now_ms,
        assignment: None,
        state: JobState::Waiting,
        funds,
    }
}

#[cfg(test)]
mod tests {
    //! The lifecycle against a reference model: random schedules of draws (over random pools,
    //! with fresh and stale seeds), votes (honest, lying, duplicated), time passing past
    //! deadlines, retries and promotions, with the shell's reactions to the effects emulated.
    //! After every step the machine and the model agree on the state, the committee's
    //! constraints and the votes, and the invariants of docs/THREATS.md hold: an honest
    //! member is never charged or revoked, a run is dropped only after its grace, a job fails
    //! only after `max_stall_ms`, and records stay bounded.

    use super::*;
    use commonware_cryptography::{Signer as _, ed25519};
    use hyperchain_types::{CallStatus, Resolution, node_id};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const DEADLINE_MS: u64 = 4_000;
    const PARAMS: Params = Params {
        max_stall_ms: 10_000,
        stall_retry_ms: 2_000,
        deadline_grace_blocks: 3,
    };
    /// Right and wrong outcome digests; the lane's chained pre-state.
    const CORRECT: Digest = Digest([0xc0; 32]);
    const WRONG: Digest = Digest([0xee; 32]);
    const CHAIN: Digest = Digest([0xab; 32]);

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Conduct {
        Honest,
        Liar,
        Silent,
    }

    /// Six nodes: keys [1; 32] … [6; 32]; 1–3 Intel, 4–6 AMD; 3 lies, 6 never answers.
    fn fleet() -> Vec<(Candidate, [u8; 32], Conduct)> {
        (1u8..=6)
            .map(|i| {
                let key = [i; 32];
                let vendor = if i <= 3 { Vendor::Intel } else { Vendor::Amd };
                let conduct = match i {
                    3 => Conduct::Liar,
                    6 => Conduct::Silent,
                    _ => Conduct::Honest,
                };
                let candidate = Candidate {
                    id: node_id(&key),
                    vendor,
                    region: "eu".into(),
                };
                (candidate, key, conduct)
            })
            .collect()
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// The start of a block: draw over the nodes in `pool` (a bit mask), with a seed newer
        /// than the job may use, or not.
        /// `new_epoch`: the block is the first of a new epoch (its views start again).
        Draw {
            pool: u8,
            fresh: bool,
            new_epoch: bool,
        },
        /// A block `secs` seconds later (the first of a new epoch with `new_epoch`): its end
        /// processes a due deadline or retry.
        Block { secs: u8, new_epoch: bool },
        /// The `i`-th member (mod the committee) answers by its conduct; `again` sends the
        /// answer twice.
        Vote { i: u8, again: bool },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (any::<u8>(), any::<bool>(), prop::bool::weighted(0.1))
                .prop_map(|(pool, fresh, new_epoch)| Op::Draw { pool, fresh, new_epoch }),
            3 => (0u8..6, prop::bool::weighted(0.1))
                .prop_map(|(secs, new_epoch)| Op::Block { secs, new_epoch }),
            4 => (any::<u8>(), any::<bool>()).prop_map(|(i, again)| Op::Vote { i, again }),
        ]
    }

    /// What the model expects of the job.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Expected {
        Waiting,
        Stalled { since_ms: u64 },
        Assigned,
        Done,
        Failed,
    }

    struct Model {
        state: Expected,
        committee: Vec<Digest>,
        voters: BTreeSet<Digest>,
        excluded: BTreeSet<Digest>,
        late: u32,
        deadline_ms: u64,
        retry_at_ms: Option<u64>,
        attempt: u32,
    }

    struct Driver {
        job: Job,
        at: BlockClock,
        model: Model,
        fleet: Vec<(Candidate, [u8; 32], Conduct)>,
        signature: ed25519::Signature,
        spec: CommitteeSpec,
        /// Members whose votes were counted in some run (honest ones must never be charged
        /// for a run they answered).
        honest_answered: BTreeSet<(u32, Digest)>,
    }

    impl Driver {
        fn new(cross_vendor: bool) -> Driver {
            let at = BlockClock {
                height: 1,
                round: hyperchain_types::Round::new(0, 2),
                now_ms: 1_000_000,
            };
            Driver {
                job: order(
                    Digest([9; 32]),
                    hyperchain_types::Address([7; 32]),
                    0,
                    hyperchain_types::Address([8; 32]),
                    "increment",
                    &[],
                    1_000,
                    hyperchain_types::JobFunds::FREE,
                    at,
                ),
                at,
                model: Model {
                    state: Expected::Waiting,
                    committee: Vec::new(),
                    voters: BTreeSet::new(),
                    excluded: BTreeSet::new(),
                    late: 0,
                    deadline_ms: u64::MAX,
                    retry_at_ms: None,
                    attempt: 0,
                },
                fleet: fleet(),
                signature: ed25519::PrivateKey::from_seed(1).sign(b"test", b"vote"),
                spec: if cross_vendor {
                    CommitteeSpec::CrossVendor(vec!["eu".into()])
                } else {
                    CommitteeSpec::AnyOf(2)
                },
                honest_answered: BTreeSet::new(),
            }
        }

        fn conduct(&self, id: &Digest) -> Conduct {
            self.fleet
                .iter()
                .find(|(c, _, _)| c.id == *id)
                .map(|(_, _, conduct)| *conduct)
                .expect("a fleet member")
        }

        fn apply(&mut self, input: Input<'_>) -> Result<Vec<Effect>, LifecycleError> {
            let t = apply(&self.job, input, self.at, PARAMS)?;
            self.job = t.next;
            Ok(t.effects)
        }

        /// The shell's reactions to `effects`, checked against the model.
        fn react(&mut self, effects: Vec<Effect>) {
            for effect in effects {
                match effect {
                    Effect::Assigned => {
                        let a = self.job.assignment.clone().expect("assigned");
                        assert!(matches!(
                            self.model.state,
                            Expected::Waiting | Expected::Stalled { .. }
                        ));
                        self.check_committee(&a);
                        self.model.state = Expected::Assigned;
                        self.model.committee = a.committee.iter().map(|m| m.id).collect();
                        self.model.voters.clear();
                        self.model.late = 0;
                        self.model.retry_at_ms = None;
                        let deadline_ms = self.at.now_ms + DEADLINE_MS;
                        self.model.deadline_ms = deadline_ms;
                        let effects = self
                            .apply(Input::Promoted {
                                deadline_ms,
                                chain: CHAIN,
                            })
                            .expect("promoted");
                        assert_eq!(effects, vec![Effect::Due { deadline_ms }]);
                    }
                    Effect::Stalled { retry_at_ms } => {
                        let since_ms = match self.model.state {
                            Expected::Stalled { since_ms } => since_ms,
                            Expected::Waiting => self.at.now_ms,
                            ref other => panic!("stalled from {other:?}"),
                        };
                        assert!(self.at.now_ms < since_ms + PARAMS.max_stall_ms);
                        assert!(retry_at_ms <= since_ms + PARAMS.max_stall_ms);
                        assert!(retry_at_ms > self.at.now_ms);
                        self.model.state = Expected::Stalled { since_ms };
                        self.model.retry_at_ms = Some(retry_at_ms);
                    }
                    Effect::Failed => {
                        let Expected::Stalled { since_ms } = self.model.state else {
                            panic!("failed without stalling first: {:?}", self.model.state);
                        };
                        assert!(
                            self.at.now_ms >= since_ms + PARAMS.max_stall_ms,
                            "failed early"
                        );
                        self.model.state = Expected::Failed;
                    }
                    Effect::Dropped { charged } => {
                        assert_eq!(self.model.state, Expected::Assigned);
                        assert!(self.at.now_ms >= self.model.deadline_ms, "dropped early");
                        assert_eq!(self.model.late + 1, PARAMS.deadline_grace_blocks);
                        let expected: Vec<Digest> = self
                            .model
                            .committee
                            .iter()
                            .filter(|id| !self.model.voters.contains(id))
                            .copied()
                            .collect();
                        assert_eq!(charged, expected, "exactly the members that never answered");
                        for id in &charged {
                            assert_ne!(self.conduct(id), Conduct::Honest, "honest {id} charged");
                            self.model.excluded.insert(*id);
                        }
                        self.model.state = Expected::Waiting;
                        self.model.attempt += 1;
                        self.model.voters.clear();
                    }
                    Effect::StillLate => {
                        assert_eq!(self.model.state, Expected::Assigned);
                        self.model.late += 1;
                        assert!(self.model.late < PARAMS.deadline_grace_blocks);
                    }
                    Effect::Revoke(vote) => {
                        assert_eq!(
                            self.conduct(&vote.node_id()),
                            Conduct::Liar,
                            "only a liar is revoked"
                        );
                    }
                    Effect::Apply { outcome } => {
                        assert_eq!(
                            outcome, CORRECT,
                            "only a correct result is applied as agreed"
                        );
                        self.resolve(Resolution::Agreed);
                    }
                    Effect::Arbitrate => {
                        let effects = self
                            .apply(Input::Arbitrated {
                                pre_state: CHAIN,
                                outcome: CORRECT,
                            })
                            .expect("arbitrated");
                        let revoked = effects
                            .iter()
                            .filter_map(|e| match e {
                                Effect::Revoke(v) => Some(v.node_id()),
                                _ => None,
                            })
                            .collect();
                        self.react(effects);
                        self.resolve(Resolution::Arbitrated { revoked });
                    }
                    Effect::Done => {
                        assert_eq!(self.model.state, Expected::Assigned);
                        assert_eq!(
                            self.model.voters.len(),
                            self.model.committee.len(),
                            "done only once every member answered"
                        );
                        self.model.state = Expected::Done;
                    }
                    Effect::AwaitSeed
                    | Effect::Due { .. }
                    | Effect::KeepOutcome
                    | Effect::ForgetOutcome => {}
                }
            }
        }

        fn resolve(&mut self, resolution: Resolution) {
            let result = JobResult {
                status: CallStatus::Ok,
                output: Vec::new(),
                events: Vec::new(),
                fuel_used: 1,
                post_state: CORRECT,
                height: self.at.height,
                resolution,
            };
            let effects = self.apply(Input::Resolve(result)).expect("resolved");
            self.react(effects);
        }

        /// A drawn committee meets the spec, avoids excluded nodes and comes from the pool.
        fn check_committee(&self, a: &Assignment) {
            let ids: BTreeSet<Digest> = a.committee.iter().map(|m| m.id).collect();
            assert_eq!(ids.len(), a.committee.len(), "distinct members");
            assert!(ids.is_disjoint(&self.model.excluded), "no excluded member");
            assert_eq!(a.attempt, self.model.attempt);
            match &self.spec {
                CommitteeSpec::AnyOf(k) => assert_eq!(a.committee.len(), *k),
                CommitteeSpec::CrossVendor(_) => {
                    let vendors: BTreeSet<u8> = a.committee.iter().map(|m| m.vendor).collect();
                    assert_eq!(a.committee.len(), 2);
                    assert_eq!(vendors.len(), 2, "one Intel and one AMD");
                }
            }
        }

        /// The next block's round: two views on (room for the view whose seed a fresh draw
        /// uses), or view 2 of the next epoch, whose views start again.
        fn advance(&mut self, new_epoch: bool) {
            self.at.height += 1;
            self.at.round = if new_epoch {
                hyperchain_types::Round::new(self.at.round.epoch + 1, 2)
            } else {
                hyperchain_types::Round::new(self.at.round.epoch, self.at.round.view + 2)
            };
        }

        fn step(&mut self, op: &Op) {
            match op {
                Op::Draw {
                    pool,
                    fresh,
                    new_epoch,
                } => {
                    self.advance(*new_epoch);
                    let pool: Vec<Candidate> = self
                        .fleet
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| pool & (1 << i) != 0)
                        .map(|(_, (c, _, _))| c.clone())
                        .collect();
                    let drawable = matches!(
                        self.model.state,
                        Expected::Waiting | Expected::Stalled { .. }
                    );
                    let seed_round = if *fresh {
                        hyperchain_types::Round::new(self.at.round.epoch, self.at.round.view - 1)
                    } else {
                        self.job.drawable_after
                    };
                    let spec = self.spec.clone();
                    let effects = self
                        .apply(Input::Draw {
                            seed_round,
                            seed: Digest([self.at.height as u8; 32]),
                            pool: &pool,
                            spec: &spec,
                        })
                        .expect("a draw never fails");
                    if !drawable {
                        assert!(effects.is_empty(), "a draw changes only a drawable head");
                    } else if !fresh {
                        assert_eq!(effects, vec![Effect::AwaitSeed], "only a newer seed draws");
                    } else {
                        // Whether the model thinks a committee can be formed.
                        let usable: Vec<&Candidate> = pool
                            .iter()
                            .filter(|c| !self.model.excluded.contains(&c.id))
                            .collect();
                        let formable = match &self.spec {
                            CommitteeSpec::AnyOf(k) => usable.len() >= *k,
                            CommitteeSpec::CrossVendor(_) => {
                                usable.iter().any(|c| c.vendor == Vendor::Intel)
                                    && usable.iter().any(|c| c.vendor == Vendor::Amd)
                            }
                        };
                        assert_eq!(
                            effects.first() == Some(&Effect::Assigned),
                            formable,
                            "{effects:?}"
                        );
                    }
                    self.react(effects);
                }
                Op::Block { secs, new_epoch } => {
                    self.advance(*new_epoch);
                    self.at.now_ms += u64::from(*secs) * 1_000;
                    // Honest members get their receipts into the first block after they were
                    // assigned (its transactions come before its end).
                    if self.model.state == Expected::Assigned {
                        for i in 0..self.model.committee.len() {
                            let member = self.model.committee[i];
                            if self.conduct(&member) == Conduct::Honest
                                && !self.model.voters.contains(&member)
                            {
                                self.step(&Op::Vote {
                                    i: i as u8,
                                    again: false,
                                });
                            }
                        }
                    }
                    match self.model.state {
                        Expected::Assigned if self.at.now_ms >= self.model.deadline_ms => {
                            let effects = self.apply(Input::Late).expect("late");
                            self.react(effects);
                        }
                        Expected::Stalled { .. }
                            if self.model.retry_at_ms.is_some_and(|t| self.at.now_ms >= t) =>
                        {
                            let effects = self.apply(Input::Retry).expect("retry");
                            assert_eq!(effects, vec![Effect::AwaitSeed]);
                        }
                        _ => {}
                    }
                }
                Op::Vote { i, again } => {
                    let Some(a) = self.job.assignment.clone() else {
                        return;
                    };
                    if self.model.state != Expected::Assigned {
                        // A receipt for a job that does not wait for one is refused.
                        let vote = self.vote(&self.fleet[0].1.clone(), Conduct::Honest);
                        let refused = self.apply(Input::Vote {
                            vote,
                            head: Some(CHAIN),
                        });
                        assert!(matches!(
                            refused,
                            Err(LifecycleError::Refused(Refusal::NotAwaiting { .. }))
                        ));
                        return;
                    }
                    let member = a.committee[*i as usize % a.committee.len()].id;
                    let (_, key, conduct) = self
                        .fleet
                        .iter()
                        .find(|(c, _, _)| c.id == member)
                        .cloned()
                        .expect("a fleet member");
                    if conduct == Conduct::Silent {
                        return;
                    }
                    for round in 0..if *again { 2 } else { 1 } {
                        if self.model.state != Expected::Assigned {
                            break;
                        }
                        let vote = self.vote(&key, conduct);
                        let first = self.model.voters.is_empty();
                        let result = self.apply(Input::Vote {
                            vote,
                            head: Some(CHAIN),
                        });
                        if self.model.voters.contains(&member) {
                            assert!(
                                matches!(
                                    result,
                                    Err(LifecycleError::Refused(Refusal::Duplicate(_)))
                                ),
                                "a second answer is refused (round {round})"
                            );
                            continue;
                        }
                        let effects = result.expect("counted");
                        assert_eq!(effects.first() == Some(&Effect::KeepOutcome), first);
                        self.model.voters.insert(member);
                        if conduct == Conduct::Honest {
                            self.honest_answered.insert((self.model.attempt, member));
                        }
                        self.react(effects);
                    }
                }
            }
        }

        fn vote(&self, key: &[u8; 32], conduct: Conduct) -> ReceiptVote {
            ReceiptVote {
                node_key: *key,
                pre_state: CHAIN,
                outcome: if conduct == Conduct::Liar {
                    WRONG
                } else {
                    CORRECT
                },
                signature: self.signature.clone(),
            }
        }

        /// The machine's record agrees with the model, and stays bounded.
        fn check(&self) {
            let state = match &self.job.state {
                JobState::Waiting => Expected::Waiting,
                JobState::Stalled { since_ms, .. } => Expected::Stalled {
                    since_ms: *since_ms,
                },
                JobState::Assigned => Expected::Assigned,
                JobState::Done(_) => Expected::Done,
                JobState::Failed(_) => Expected::Failed,
            };
            assert_eq!(state, self.model.state);
            if let Some(a) = &self.job.assignment {
                let voters: BTreeSet<Digest> = a.votes.iter().map(|v| v.node_id()).collect();
                assert_eq!(voters.len(), a.votes.len(), "one vote per member");
                if state == Expected::Assigned {
                    assert_eq!(voters, self.model.voters);
                    assert!(a.votes.len() <= a.committee.len());
                    assert!(a.late_blocks < PARAMS.deadline_grace_blocks);
                } else {
                    assert!(a.votes.is_empty(), "votes live only while assigned");
                }
                let excluded: BTreeSet<Digest> = a.excluded.iter().copied().collect();
                assert_eq!(excluded, self.model.excluded);
                assert!(a.excluded.len() <= job_limits::MAX_EXCLUDED);
            }
        }
    }

    fn run(ops: &[Op], cross_vendor: bool) {
        let mut d = Driver::new(cross_vendor);
        for op in ops {
            let before = d.model.state.clone();
            d.step(op);
            d.check();
            if matches!(before, Expected::Done | Expected::Failed) {
                assert_eq!(d.model.state, before, "an ended job stays ended");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn lifecycle_matches_the_reference_model(
            ops in proptest::collection::vec(op(), 1..80),
            cross_vendor in any::<bool>(),
        ) {
            run(&ops, cross_vendor);
        }
    }
}
