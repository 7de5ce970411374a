//! Lanes and jobs (docs/DESIGN.md §4, §5): how calls to contracts that run on compute nodes are
//! ordered, assigned to committees and resolved. All of it lives in chain state.
//!
//! - A contract deployed in a TEE mode owns a **lane** ([`LaneRecord`]): its storage changes
//!   only through jobs on that lane, one after another in finalization order.
//! - A call to it becomes a [`Job`] (id = the call transaction's id) at the lane's next
//!   sequence number. Jobs resolve in lane order: the lane's **head** (the oldest unresolved
//!   job) first.
//! - The head is **assigned** a committee ([`Assignment`]) drawn from a consensus seed of a
//!   view after the one that ordered it; the seed and the attempt number are recorded so
//!   anyone can recompute the committee. Jobs behind it that were ordered before that seed's
//!   view (up to the policy's pipeline depth) **follow** it: the same committee executes them
//!   in order on its own results, and their receipts name a chained pre-state
//!   ([`chain_next`]). Members' receipts are collected until they all agree (the result is
//!   applied) or two differ (validators arbitrate).

use crate::{Address, CallStatus, Digest, Event, RunId, SignedComputeReceipt, limits, tx_limits};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, FixedSize, Read, ReadExt, ReadRangeExt, Write};

/// Limits on job records. Changing them is a protocol change.
pub mod job_limits {
    /// Most members of one committee (`committee(k)` with k ≤ 255, cross-vendor 2 per region).
    pub const MAX_COMMITTEE: usize = 255;
    /// Most nodes excluded from a job's later assignments.
    pub const MAX_EXCLUDED: usize = 1024;
}

/// Vendor tag of an Intel node (SGX, TDX, `sim-intel`).
pub const VENDOR_INTEL: u8 = 0;
/// Vendor tag of an AMD node (SEV-SNP, `sim-amd`).
pub const VENDOR_AMD: u8 = 1;

/// A TEE contract's lane, stored under `lane/ ‖ contract`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LaneRecord {
    /// Jobs ordered so far (the next job's sequence number).
    pub next_seq: u64,
    /// The sequence number of the oldest unresolved job (`next_seq` when idle).
    pub head: u64,
    /// The contract's storage commitment after job `head − 1`.
    pub state: Digest,
    /// The pre-state the head's receipts must name: `state` when the head's committee was
    /// drawn for it, or, for a head that followed an earlier job of the same committee,
    /// [`chain_next`] of that job's pre-state and agreed outcome.
    pub chain: Digest,
    /// When block execution looks at the lane next (docs/DESIGN.md §5): a lane is in at most
    /// one queue, so idle and waiting lanes cost a block nothing.
    pub sched: Sched,
}

/// The queue a lane is in: when a block next looks at its head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sched {
    /// In none: idle, or its head waits for receipts with no deadline yet (a follower).
    #[default]
    None,
    /// Its head is drawn a committee at the start of the next block.
    Draw,
    /// Its head's deadline has passed: the end of every block counts one more late block
    /// until the grace is over.
    Late,
    /// Looked at by the first block that ends after this time bucket (a deadline, or a
    /// stalled head's next try).
    Due(u64),
}

impl Write for Sched {
    fn write(&self, buf: &mut impl BufMut) {
        let (tag, bucket) = match self {
            Sched::None => (0u8, 0),
            Sched::Draw => (1, 0),
            Sched::Late => (2, 0),
            Sched::Due(b) => (3, *b),
        };
        tag.write(buf);
        bucket.write(buf);
    }
}
impl FixedSize for Sched {
    const SIZE: usize = 1 + u64::SIZE;
}
impl Read for Sched {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let tag = u8::read(buf)?;
        let bucket = u64::read(buf)?;
        match (tag, bucket) {
            (0, 0) => Ok(Sched::None),
            (1, 0) => Ok(Sched::Draw),
            (2, 0) => Ok(Sched::Late),
            (3, b) => Ok(Sched::Due(b)),
            _ => Err(Error::Invalid("Sched", "unknown queue")),
        }
    }
}

/// Domain of the chained pre-state.
pub const PRE_STATE_CHAIN_DOMAIN: &[u8] = b"hyperchain/lane-chain/v1";

/// The pre-state a follower's receipts name, from its predecessor's pre-state and outcome:
/// `SHA-256(domain ‖ pre_state ‖ SHA-256(outcome))`. A member holds only the values it read,
/// not the storage tree, so it cannot name the storage commitment after the job; this chain
/// commits to the same thing (the head's proven storage and every outcome since).
pub fn chain_next(pre_state: &Digest, outcome: &crate::CallOutcome) -> Digest {
    use commonware_codec::Encode as _;
    let outcome = crate::sha256(&outcome.encode());
    crate::sha256_parts(&[PRE_STATE_CHAIN_DOMAIN, &pre_state.0, &outcome.0])
}

/// A committee member as recorded in a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitteeMember {
    /// The node id.
    pub id: Digest,
    /// The region it was drawn for.
    pub region: String,
    /// [`VENDOR_INTEL`] or [`VENDOR_AMD`].
    pub vendor: u8,
}

/// A member's counted answer, as a job record keeps it: what it signed, without the outcome
/// (whose digest it names). Fixed size, whatever the call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptVote {
    /// The member's identity key.
    pub node_key: [u8; 32],
    /// The pre-state its receipt names.
    pub pre_state: Digest,
    /// SHA-256 of the outcome it signed.
    pub outcome: Digest,
    /// Its signature over the receipt's commitment.
    pub signature: commonware_cryptography::ed25519::Signature,
}

impl ReceiptVote {
    /// The vote a checked receipt casts.
    pub fn of(receipt: &SignedComputeReceipt) -> ReceiptVote {
        ReceiptVote {
            node_key: receipt.node_key,
            pre_state: receipt.receipt.pre_state,
            outcome: receipt.receipt.outcome_digest(),
            signature: receipt.signature.clone(),
        }
    }

    /// The member's node id.
    pub fn node_id(&self) -> Digest {
        crate::node_id(&self.node_key)
    }
}

/// The committee currently responsible for a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// 0 for the first committee, +1 for each reassignment after a deadline (a follower
    /// carries its run's attempt).
    pub attempt: u32,
    /// The lane position of the job this committee was drawn for (the run's head; the job
    /// itself unless it follows). With `attempt`, the [`RunId`] its receipts must name.
    pub run_head: u64,
    /// The round whose seed drew the committee.
    pub seed_round: crate::Round,
    /// The randomness derived from that seed (`SeedReveal::randomness`).
    pub seed: Digest,
    /// Height of the block that assigned it.
    pub assigned_height: u64,
    /// The job is reassigned by the first block whose timestamp (ms) is at or past this one
    /// without agreement. `u64::MAX` for a job following the head: its deadline starts when
    /// it becomes the head.
    pub deadline_ms: u64,
    /// Blocks that ended at or past the deadline without the run resolving. The run is dropped
    /// (its silent members charged) once this reaches the policy's `deadline_grace_blocks`,
    /// so one proposer leaving a receipt out cannot get its signer charged.
    pub late_blocks: u32,
    /// The members, in selection order.
    pub committee: Vec<CommitteeMember>,
    /// Votes counted so far (checked receipts, one per member, in arrival order). The first
    /// receipt's outcome is kept beside the job record until the job resolves.
    pub votes: Vec<ReceiptVote>,
    /// Nodes that may not serve this job (silent members of earlier attempts).
    pub excluded: Vec<Digest>,
}

impl Assignment {
    /// The run its receipts must name.
    pub fn run(&self) -> RunId {
        RunId {
            head: self.run_head,
            attempt: self.attempt,
        }
    }
}

/// Why no committee can be formed for a job (typed: consensus state never holds text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StallReason {
    /// A required region has no active node of a vendor.
    RegionLacksVendor {
        /// The region.
        region: String,
        /// [`VENDOR_INTEL`] or [`VENDOR_AMD`].
        vendor: u8,
    },
    /// Fewer active, non-excluded nodes than the committee size.
    NotEnoughNodes {
        /// The committee size.
        needed: u32,
        /// The nodes available.
        available: u32,
    },
    /// A cross-vendor contract with no region.
    NoRegion,
}

impl std::fmt::Display for StallReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StallReason::RegionLacksVendor { region, vendor } => write!(
                f,
                "region {region} has no active {} compute node",
                vendor_name(*vendor)
            ),
            StallReason::NotEnoughNodes { needed, available } => write!(
                f,
                "a committee of {needed} needs {needed} active compute nodes, {available} available"
            ),
            StallReason::NoRegion => {
                f.write_str("a cross-vendor committee needs at least one region")
            }
        }
    }
}

/// `intel` or `amd`.
pub fn vendor_name(vendor: u8) -> &'static str {
    if vendor == VENDOR_AMD { "amd" } else { "intel" }
}

/// How a job's result was decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Every member signed the same receipt.
    Agreed,
    /// Members disagreed (or agreed on a wrong storage commitment): validators re-executed the
    /// job and revoked every member whose receipt differed.
    Arbitrated {
        /// The revoked nodes.
        revoked: Vec<Digest>,
    },
}

/// A resolved job's result (its effects are in the contract's storage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobResult {
    /// How the call ended.
    pub status: CallStatus,
    /// Return data.
    pub output: Vec<u8>,
    /// Events in emission order.
    pub events: Vec<Event>,
    /// Fuel the call used.
    pub fuel_used: u64,
    /// The storage commitment after the job.
    pub post_state: Digest,
    /// Height of the block that applied it.
    pub height: u64,
    /// Agreement or arbitration.
    pub resolution: Resolution,
}

/// Why a job ended without a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFailure {
    /// No committee could be formed for longer than the policy's `max_stall_ms`, for this
    /// reason (the last one seen).
    pub reason: StallReason,
    /// Height of the block that failed it.
    pub height: u64,
}

/// Where a job stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Behind earlier jobs of its lane, or waiting for a seed newer than its block.
    Waiting,
    /// A committee is executing it.
    Assigned,
    /// No committee can be formed (e.g. a required region lacks a vendor); retried with each
    /// new seed, and failed once it has been stalled for the policy's `max_stall_ms`.
    Stalled {
        /// Why.
        reason: StallReason,
        /// Block time (ms) it first stalled.
        since_ms: u64,
    },
    /// Resolved.
    Done(JobResult),
    /// Ended without a result (its call changed nothing); the lane went on.
    Failed(JobFailure),
}

/// A call to a TEE contract, stored under `job/ ‖ id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The call transaction's id.
    pub id: Digest,
    /// The contract.
    pub contract: Address,
    /// Its position in the contract's lane.
    pub lane_seq: u64,
    /// The calling account.
    pub caller: Address,
    /// The method.
    pub method: String,
    /// The input bytes.
    pub input: Vec<u8>,
    /// Most fuel the call may use.
    pub fuel_limit: u64,
    /// Height of the block that ordered it (the call sees this height).
    pub height: u64,
    /// Round of that block.
    pub round: crate::Round,
    /// The committee's seed must be of a later round than this: the round of the block that
    /// ordered the job, made it the lane's head, or sent it back to be drawn again (past a
    /// deadline, or its run dropped). That block's proposer could not know such a seed, so
    /// it cannot pick a committee by choosing what the block contains.
    pub drawable_after: crate::Round,
    /// Timestamp of that block (the call sees this time).
    pub time_ms: u64,
    /// The latest committee (`None` until first assigned).
    pub assignment: Option<Assignment>,
    /// Where it stands.
    pub state: JobState,
    /// What the caller escrowed for its committee (docs/DESIGN.md §10).
    pub funds: JobFunds,
}

/// A job's escrow: taken from the caller's fee limit when the call is ordered, it pays the
/// committee that agrees, the receipts' inclusion, validators' arbitration and the state the
/// result writes; what is left returns to the caller when the job ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobFunds {
    /// Base units held for the members' pay, arbitration and the result's state.
    pub held: u128,
    /// Base units left for the receipts' inclusion (a receipt's carrier pays nothing).
    pub receipts: u128,
    /// Most bytes of state the call may write: a result writing more ends `out_of_fee`, in
    /// every mode and for every member alike.
    pub max_state_bytes: u64,
}

impl JobFunds {
    /// No escrow and no state bound (a chain without fees).
    pub const FREE: JobFunds = JobFunds {
        held: 0,
        receipts: 0,
        max_state_bytes: u64::MAX,
    };

    /// Encoded size.
    pub const SIZE: usize = 16 + 16 + 8;
}

impl Write for JobFunds {
    fn write(&self, buf: &mut impl BufMut) {
        self.held.write(buf);
        self.receipts.write(buf);
        self.max_state_bytes.write(buf);
    }
}
impl EncodeSize for JobFunds {
    fn encode_size(&self) -> usize {
        Self::SIZE
    }
}
impl Read for JobFunds {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(JobFunds {
            held: u128::read(buf)?,
            receipts: u128::read(buf)?,
            max_state_bytes: u64::read(buf)?,
        })
    }
}

// ---- canonical encoding ----

fn write_bytes(b: &[u8], buf: &mut impl BufMut) {
    (b.len() as u32).write(buf);
    buf.put_slice(b);
}

fn read_bytes(buf: &mut impl Buf, max: usize, what: &'static str) -> Result<Vec<u8>, Error> {
    let len = u32::read(buf)? as usize;
    if len > max {
        return Err(Error::Invalid(what, "too long"));
    }
    if buf.remaining() < len {
        return Err(Error::EndOfBuffer);
    }
    let mut out = vec![0u8; len];
    buf.copy_to_slice(&mut out);
    Ok(out)
}

fn read_string(buf: &mut impl Buf, max: usize, what: &'static str) -> Result<String, Error> {
    String::from_utf8(read_bytes(buf, max, what)?).map_err(|_| Error::Invalid(what, "not UTF-8"))
}

fn read_count(buf: &mut impl Buf, max: usize, what: &'static str) -> Result<usize, Error> {
    let n = u32::read(buf)? as usize;
    if n > max {
        return Err(Error::Invalid(what, "too many"));
    }
    Ok(n)
}

impl Write for LaneRecord {
    fn write(&self, buf: &mut impl BufMut) {
        self.next_seq.write(buf);
        self.head.write(buf);
        self.state.write(buf);
        self.chain.write(buf);
        self.sched.write(buf);
    }
}
impl FixedSize for LaneRecord {
    const SIZE: usize = 2 * u64::SIZE + 2 * Digest::SIZE + Sched::SIZE;
}
impl Read for LaneRecord {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let lane = LaneRecord {
            next_seq: u64::read(buf)?,
            head: u64::read(buf)?,
            state: Digest::read(buf)?,
            chain: Digest::read(buf)?,
            sched: Sched::read(buf)?,
        };
        if lane.head > lane.next_seq {
            return Err(Error::Invalid("LaneRecord", "head beyond the last job"));
        }
        Ok(lane)
    }
}

impl Write for CommitteeMember {
    fn write(&self, buf: &mut impl BufMut) {
        self.id.write(buf);
        write_bytes(self.region.as_bytes(), buf);
        self.vendor.write(buf);
    }
}
impl EncodeSize for CommitteeMember {
    fn encode_size(&self) -> usize {
        Digest::SIZE + 4 + self.region.len() + 1
    }
}
impl Read for CommitteeMember {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let id = Digest::read(buf)?;
        let region = read_string(buf, tx_limits::MAX_REGION, "region")?;
        let vendor = u8::read(buf)?;
        if vendor > VENDOR_AMD {
            return Err(Error::InvalidEnum(vendor));
        }
        Ok(CommitteeMember { id, region, vendor })
    }
}

impl Write for Assignment {
    fn write(&self, buf: &mut impl BufMut) {
        self.attempt.write(buf);
        self.run_head.write(buf);
        self.seed_round.write(buf);
        self.seed.write(buf);
        self.assigned_height.write(buf);
        self.deadline_ms.write(buf);
        self.late_blocks.write(buf);
        (self.committee.len() as u32).write(buf);
        for m in &self.committee {
            m.write(buf);
        }
        (self.votes.len() as u32).write(buf);
        for v in &self.votes {
            v.write(buf);
        }
        (self.excluded.len() as u32).write(buf);
        for d in &self.excluded {
            d.write(buf);
        }
    }
}
impl EncodeSize for Assignment {
    fn encode_size(&self) -> usize {
        2 * u32::SIZE
            + 5 * u64::SIZE
            + Digest::SIZE
            + 4
            + self
                .committee
                .iter()
                .map(|m| m.encode_size())
                .sum::<usize>()
            + 4
            + self.votes.len() * ReceiptVote::SIZE
            + 4
            + self.excluded.len() * Digest::SIZE
    }
}
impl Read for Assignment {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let attempt = u32::read(buf)?;
        let run_head = u64::read(buf)?;
        let seed_round = crate::Round::read(buf)?;
        let seed = Digest::read(buf)?;
        let assigned_height = u64::read(buf)?;
        let deadline_ms = u64::read(buf)?;
        let late_blocks = u32::read(buf)?;
        let n = read_count(buf, job_limits::MAX_COMMITTEE, "committee")?;
        let committee = (0..n)
            .map(|_| CommitteeMember::read(buf))
            .collect::<Result<_, _>>()?;
        let n = read_count(buf, job_limits::MAX_COMMITTEE, "votes")?;
        let votes = (0..n)
            .map(|_| ReceiptVote::read(buf))
            .collect::<Result<_, _>>()?;
        let n = read_count(buf, job_limits::MAX_EXCLUDED, "excluded")?;
        let excluded = (0..n)
            .map(|_| Digest::read(buf))
            .collect::<Result<_, _>>()?;
        Ok(Assignment {
            attempt,
            run_head,
            seed_round,
            seed,
            assigned_height,
            deadline_ms,
            late_blocks,
            committee,
            votes,
            excluded,
        })
    }
}

impl Write for ReceiptVote {
    fn write(&self, buf: &mut impl BufMut) {
        self.node_key.write(buf);
        self.pre_state.write(buf);
        self.outcome.write(buf);
        self.signature.write(buf);
    }
}
impl FixedSize for ReceiptVote {
    const SIZE: usize = 32 + 2 * Digest::SIZE + commonware_cryptography::ed25519::Signature::SIZE;
}
impl Read for ReceiptVote {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(ReceiptVote {
            node_key: <[u8; 32]>::read(buf)?,
            pre_state: Digest::read(buf)?,
            outcome: Digest::read(buf)?,
            signature: commonware_cryptography::ed25519::Signature::read(buf)?,
        })
    }
}

impl Write for StallReason {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            StallReason::RegionLacksVendor { region, vendor } => {
                0u8.write(buf);
                write_bytes(region.as_bytes(), buf);
                vendor.write(buf);
            }
            StallReason::NotEnoughNodes { needed, available } => {
                1u8.write(buf);
                needed.write(buf);
                available.write(buf);
            }
            StallReason::NoRegion => 2u8.write(buf),
        }
    }
}
impl EncodeSize for StallReason {
    fn encode_size(&self) -> usize {
        1 + match self {
            StallReason::RegionLacksVendor { region, .. } => 4 + region.len() + 1,
            StallReason::NotEnoughNodes { .. } => 8,
            StallReason::NoRegion => 0,
        }
    }
}
impl Read for StallReason {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => {
                let region = read_string(buf, tx_limits::MAX_REGION, "region")?;
                let vendor = u8::read(buf)?;
                if vendor > VENDOR_AMD {
                    return Err(Error::InvalidEnum(vendor));
                }
                Ok(StallReason::RegionLacksVendor { region, vendor })
            }
            1 => Ok(StallReason::NotEnoughNodes {
                needed: u32::read(buf)?,
                available: u32::read(buf)?,
            }),
            2 => Ok(StallReason::NoRegion),
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

impl Write for Resolution {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Resolution::Agreed => 0u8.write(buf),
            Resolution::Arbitrated { revoked } => {
                1u8.write(buf);
                (revoked.len() as u32).write(buf);
                for d in revoked {
                    d.write(buf);
                }
            }
        }
    }
}
impl EncodeSize for Resolution {
    fn encode_size(&self) -> usize {
        1 + match self {
            Resolution::Agreed => 0,
            Resolution::Arbitrated { revoked } => 4 + revoked.len() * Digest::SIZE,
        }
    }
}
impl Read for Resolution {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(Resolution::Agreed),
            1 => {
                let n = read_count(buf, job_limits::MAX_COMMITTEE, "revoked")?;
                Ok(Resolution::Arbitrated {
                    revoked: (0..n)
                        .map(|_| Digest::read(buf))
                        .collect::<Result<_, _>>()?,
                })
            }
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

impl Write for JobResult {
    fn write(&self, buf: &mut impl BufMut) {
        self.status.write(buf);
        self.output.write(buf);
        self.events.write(buf);
        self.fuel_used.write(buf);
        self.post_state.write(buf);
        self.height.write(buf);
        self.resolution.write(buf);
    }
}
impl EncodeSize for JobResult {
    fn encode_size(&self) -> usize {
        self.status.encode_size()
            + self.output.encode_size()
            + self.events.encode_size()
            + u64::SIZE
            + Digest::SIZE
            + u64::SIZE
            + self.resolution.encode_size()
    }
}
impl Read for JobResult {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(JobResult {
            status: CallStatus::read(buf)?,
            output: Vec::<u8>::read_range(buf, 0..=limits::MAX_OUTPUT)?,
            events: Vec::<Event>::read_cfg(buf, &((0..=limits::MAX_EVENTS).into(), ()))?,
            fuel_used: u64::read(buf)?,
            post_state: Digest::read(buf)?,
            height: u64::read(buf)?,
            resolution: Resolution::read(buf)?,
        })
    }
}

impl Write for JobState {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            JobState::Waiting => 0u8.write(buf),
            JobState::Assigned => 1u8.write(buf),
            JobState::Stalled { reason, since_ms } => {
                2u8.write(buf);
                reason.write(buf);
                since_ms.write(buf);
            }
            JobState::Done(result) => {
                3u8.write(buf);
                result.write(buf);
            }
            JobState::Failed(failure) => {
                4u8.write(buf);
                failure.reason.write(buf);
                failure.height.write(buf);
            }
        }
    }
}
impl EncodeSize for JobState {
    fn encode_size(&self) -> usize {
        1 + match self {
            JobState::Waiting | JobState::Assigned => 0,
            JobState::Stalled { reason, .. } => reason.encode_size() + u64::SIZE,
            JobState::Done(result) => result.encode_size(),
            JobState::Failed(failure) => failure.reason.encode_size() + u64::SIZE,
        }
    }
}
impl Read for JobState {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(JobState::Waiting),
            1 => Ok(JobState::Assigned),
            2 => Ok(JobState::Stalled {
                reason: StallReason::read(buf)?,
                since_ms: u64::read(buf)?,
            }),
            3 => Ok(JobState::Done(JobResult::read(buf)?)),
            4 => Ok(JobState::Failed(JobFailure {
                reason: StallReason::read(buf)?,
                height: u64::read(buf)?,
            })),
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

impl Write for Job {
    fn write(&self, buf: &mut impl BufMut) {
        self.id.write(buf);
        self.contract.write(buf);
        self.lane_seq.write(buf);
        self.caller.write(buf);
        write_bytes(self.method.as_bytes(), buf);
        write_bytes(&self.input, buf);
        self.fuel_limit.write(buf);
        self.height.write(buf);
        self.round.write(buf);
        self.drawable_after.write(buf);
        self.time_ms.write(buf);
        match &self.assignment {
            None => 0u8.write(buf),
            Some(a) => {
                1u8.write(buf);
                a.write(buf);
            }
        }
        self.state.write(buf);
        self.funds.write(buf);
    }
}
impl EncodeSize for Job {
    fn encode_size(&self) -> usize {
        Digest::SIZE
            + Address::SIZE
            + u64::SIZE
            + Address::SIZE
            + 4
            + self.method.len()
            + 4
            + self.input.len()
            + 7 * u64::SIZE
            + 1
            + self.assignment.as_ref().map_or(0, |a| a.encode_size())
            + self.state.encode_size()
            + JobFunds::SIZE
    }
}
impl Read for Job {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Job {
            id: Digest::read(buf)?,
            contract: Address::read(buf)?,
            lane_seq: u64::read(buf)?,
            caller: Address::read(buf)?,
            method: read_string(buf, tx_limits::MAX_METHOD, "method")?,
            input: read_bytes(buf, limits::MAX_INPUT, "input")?,
            fuel_limit: u64::read(buf)?,
            height: u64::read(buf)?,
            round: crate::Round::read(buf)?,
            drawable_after: crate::Round::read(buf)?,
            time_ms: u64::read(buf)?,
            assignment: match u8::read(buf)? {
                0 => None,
                1 => Some(Assignment::read(buf)?),
                t => return Err(Error::InvalidEnum(t)),
            },
            state: JobState::read(buf)?,
            funds: JobFunds::read(buf)?,
        })
    }
}

impl Job {
    /// `waiting`, `assigned`, `stalled`, `done` or `failed`.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            JobState::Waiting => "waiting",
            JobState::Assigned => "assigned",
            JobState::Stalled { .. } => "stalled",
            JobState::Done(_) => "done",
            JobState::Failed(_) => "failed",
        }
    }

    /// Whether the job has ended (done or failed).
    pub fn is_final(&self) -> bool {
        matches!(self.state, JobState::Done(_) | JobState::Failed(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CallOutcome, ComputeReceipt};
    use commonware_codec::{DecodeExt as _, Encode as _};
    use commonware_cryptography::{Signer as _, ed25519};

    fn job() -> Job {
        let receipt = ComputeReceipt {
            chain_id: Digest([1; 32]),
            contract: Address([2; 32]),
            lane_seq: 0,
            job: Digest([3; 32]),
            run: RunId {
                head: 0,
                attempt: 1,
            },
            code_hash: Digest([4; 32]),
            pre_state: Digest([5; 32]),
            outcome: CallOutcome::failed(CallStatus::Ok, 1, Default::default()),
        }
        .sign(&ed25519::PrivateKey::from_seed(1));
        Job {
            id: Digest([3; 32]),
            contract: Address([2; 32]),
            lane_seq: 0,
            caller: Address([7; 32]),
            method: "run".into(),
            input: vec![1, 2, 3],
            fuel_limit: 1_000,
            height: 5,
            round: crate::Round::new(1, 6),
            drawable_after: crate::Round::new(1, 6),
            time_ms: 7,
            funds: JobFunds {
                held: 5_000,
                receipts: 70,
                max_state_bytes: 12,
            },
            assignment: Some(Assignment {
                attempt: 1,
                run_head: 0,
                seed_round: crate::Round::new(2, 1),
                seed: Digest([9; 32]),
                assigned_height: 9,
                deadline_ms: 29,
                late_blocks: 2,
                committee: vec![
                    CommitteeMember {
                        id: Digest([10; 32]),
                        region: "eu".into(),
                        vendor: VENDOR_INTEL,
                    },
                    CommitteeMember {
                        id: Digest([11; 32]),
                        region: "eu".into(),
                        vendor: VENDOR_AMD,
                    },
                ],
                votes: vec![ReceiptVote::of(&receipt)],
                excluded: vec![Digest([12; 32])],
            }),
            state: JobState::Done(JobResult {
                status: CallStatus::Ok,
                output: vec![4],
                events: vec![],
                fuel_used: 10,
                post_state: Digest([13; 32]),
                height: 30,
                resolution: Resolution::Arbitrated {
                    revoked: vec![Digest([11; 32])],
                },
            }),
        }
    }

    #[test]
    fn records_round_trip() {
        let j = job();
        let enc = j.encode();
        assert_eq!(enc.len(), j.encode_size());
        assert_eq!(Job::decode(enc).unwrap(), j);
        for state in [
            JobState::Waiting,
            JobState::Assigned,
            JobState::Stalled {
                reason: StallReason::RegionLacksVendor {
                    region: "eu".into(),
                    vendor: VENDOR_AMD,
                },
                since_ms: 9,
            },
            JobState::Stalled {
                reason: StallReason::NotEnoughNodes {
                    needed: 3,
                    available: 1,
                },
                since_ms: 10,
            },
            JobState::Failed(JobFailure {
                reason: StallReason::NoRegion,
                height: 11,
            }),
        ] {
            let j = Job {
                state,
                assignment: None,
                ..job()
            };
            assert_eq!(Job::decode(j.encode()).unwrap(), j);
        }
        let lane = LaneRecord {
            next_seq: 3,
            head: 1,
            state: Digest([1; 32]),
            chain: Digest([2; 32]),
            sched: Sched::Due(12),
        };
        assert_eq!(LaneRecord::decode(lane.encode()).unwrap(), lane);
        for sched in [Sched::None, Sched::Draw, Sched::Late, Sched::Due(0)] {
            let lane = LaneRecord {
                sched,
                ..lane.clone()
            };
            assert_eq!(LaneRecord::decode(lane.encode()).unwrap(), lane);
        }
        let mut junk = lane.encode().to_vec();
        let tag = junk.len() - Sched::SIZE;
        junk[tag] = 9;
        assert!(LaneRecord::decode(bytes::Bytes::from(junk)).is_err());
        let bad = LaneRecord {
            next_seq: 1,
            head: 2,
            ..lane
        };
        assert!(LaneRecord::decode(bad.encode()).is_err());
    }

    #[test]
    fn the_pre_state_chain_commits_to_each_outcome() {
        let outcome = |output: &[u8]| crate::CallOutcome {
            status: CallStatus::Ok,
            output: output.to_vec(),
            events: Vec::new(),
            fuel_used: 7,
            reads: Default::default(),
            writes: Default::default(),
        };
        let start = Digest([1; 32]);
        let a = chain_next(&start, &outcome(b"a"));
        assert_eq!(a, chain_next(&start, &outcome(b"a")));
        assert_ne!(a, chain_next(&start, &outcome(b"b")));
        assert_ne!(a, chain_next(&Digest([2; 32]), &outcome(b"a")));
        assert_ne!(
            chain_next(&a, &outcome(b"b")),
            chain_next(&a, &outcome(b"a"))
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let valid = job().encode().to_vec();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..2_000usize {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut bytes = valid.clone();
            let pos = (x as usize) % bytes.len();
            bytes[pos] ^= (x >> 32) as u8 | 1;
            bytes.truncate(bytes.len() - (i % 7));
            let _ = Job::decode(bytes::Bytes::from(bytes));
        }
    }
}
