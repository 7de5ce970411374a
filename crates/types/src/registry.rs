//! Compute-node registry transactions (docs/DESIGN.md §6): registration and re-attestation of
//! TEE compute nodes, and the governance actions that set the attestation policy, register
//! compute-runtime releases and revoke nodes.
//!
//! Evidence, endorsements and policies travel as opaque bytes here (the canonical encodings
//! of `hyperchain-attest`'s types); the chain decodes and checks them during execution, so a
//! transaction with undecodable evidence is still a valid transaction whose receipt says what
//! was wrong.

use crate::{Digest, sha256};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, FixedSize, Read, ReadExt, ReadRangeExt, Write};

/// Limits on registry transactions. Changing them is a protocol change.
pub mod registry_limits {
    /// Largest evidence (a DCAP quote is ~5 KiB, an SNP report 1184 bytes).
    pub const MAX_EVIDENCE: usize = 64 * 1024;
    /// Largest encoded endorsements (DCAP collateral: certificate chains, CRLs, TCB info).
    pub const MAX_ENDORSEMENTS: usize = 1024 * 1024;
    /// Largest encoded policy.
    pub const MAX_POLICY: usize = 256 * 1024;
    /// Largest runtime image carried by a release (simulated measurements are recomputed
    /// from it).
    pub const MAX_IMAGE: usize = 2 * 1024 * 1024;
    /// Most measurements one release registers.
    pub const MAX_RELEASE_MEASUREMENTS: usize = 16;
    /// Longest measurement.
    pub const MAX_MEASUREMENT: usize = 64;
    /// Longest release version string.
    pub const MAX_VERSION: usize = 64;
    /// Most TCB components in a recall.
    pub const MAX_TCB_COMPONENTS: usize = 32;
    /// Most TCB shapes (component counts) one recall covers.
    pub const MAX_TCB_SHAPES: usize = 8;
}
use registry_limits::*;

/// The id of a compute node: `SHA-256(identity key)`, the element the accumulator holds.
pub fn node_id(identity_key: &[u8; 32]) -> Digest {
    sha256(identity_key)
}

/// A node's evidence for `Register` and `Reattest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The node's ed25519 identity key, generated inside its TEE.
    pub identity_key: [u8; 32],
    /// The evidence platform (the encoding tag of `hyperchain_attest::Platform`).
    pub platform: u8,
    /// The region the node serves (ignored by `Reattest`, which keeps the registered one).
    pub region: String,
    /// The quote or report, binding `report_data(chain id, identity key, recent_block)`.
    pub evidence: Vec<u8>,
    /// The encoded `hyperchain_attest::Endorsements`.
    pub endorsements: Vec<u8>,
    /// A recent block's digest (freshness of the evidence).
    pub recent_block: Digest,
}

/// What governance can revoke; each removes membership at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// One node, by id.
    Node(Digest),
    /// Every node with this measurement (a bad runtime release).
    Measurement(Vec<u8>),
    /// Every node of `platform` whose TCB is below the minimum of its shape (a TCB recall).
    TcbBelow {
        /// The platform tag.
        platform: u8,
        /// One minimum per TCB shape (number of components), in the platform's layout; at
        /// most [`MAX_TCB_SHAPES`], of distinct lengths. The recall is refused if a current
        /// node of the platform has a shape with no minimum here.
        mins: Vec<Vec<u16>>,
    },
}

/// A governance action: proposed by a validator, carried out once 2f+1 validators approved it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GovernanceAction {
    /// Replace the attestation policy (an encoded `hyperchain_attest::AttestationPolicy`).
    SetPolicy(Vec<u8>),
    /// Register a compute-runtime release: its image (from which validators recompute the
    /// simulated platforms' measurements) and the measurements of real platforms.
    AddRelease {
        /// Release version, for operators.
        version: String,
        /// The runtime image (may be empty when no simulated platform is meant to run it).
        image: Vec<u8>,
        /// `(platform tag, measurement)` pairs for real platforms.
        measurements: Vec<(u8, Vec<u8>)>,
    },
    /// Revoke nodes.
    Revoke(Revocation),
    /// Admit a validator candidate (it announced its consensus key and p2p address with
    /// `AnnounceValidator`): it receives its share in the resharing two epochs after the one
    /// that admits it, and signs from the epoch after that.
    AdmitValidator {
        /// Its ed25519 consensus key.
        public_key: [u8; 32],
    },
    /// Remove a validator from the set (it stops signing three epoch boundaries later).
    RemoveValidator {
        /// Its ed25519 consensus key.
        public_key: [u8; 32],
    },
}

/// Most validators a proposal can be approved by (the genesis's limit).
pub const MAX_APPROVALS: usize = 1024;

/// A governance proposal awaiting its validators' approvals, under `gov/proposal/ ‖ id` (the
/// id is the proposing transaction's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// What it does once approved.
    pub action: GovernanceAction,
    /// The validator account that proposed it (its first approval).
    pub proposer: crate::Address,
    /// Block time it was proposed at (ms); it lapses `PROPOSAL_TTL_MS` later.
    pub opened_ms: u64,
    /// The validator accounts that approved it, in order.
    pub approvals: Vec<crate::Address>,
}

impl Write for Proposal {
    fn write(&self, buf: &mut impl BufMut) {
        self.action.write(buf);
        self.proposer.write(buf);
        self.opened_ms.write(buf);
        (self.approvals.len() as u32).write(buf);
        for a in &self.approvals {
            a.write(buf);
        }
    }
}
impl EncodeSize for Proposal {
    fn encode_size(&self) -> usize {
        self.action.encode_size() + 32 + 8 + 4 + 32 * self.approvals.len()
    }
}
impl Read for Proposal {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let action = GovernanceAction::read(buf)?;
        let proposer = crate::Address::read(buf)?;
        let opened_ms = u64::read(buf)?;
        let n = u32::read(buf)? as usize;
        if n > MAX_APPROVALS {
            return Err(Error::Invalid("Proposal", "too many approvals"));
        }
        let approvals = (0..n)
            .map(|_| crate::Address::read(buf))
            .collect::<Result<_, _>>()?;
        Ok(Proposal {
            action,
            proposer,
            opened_ms,
            approvals,
        })
    }
}

/// A registered compute node, as stored on chain under `node/ ‖ node id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node's ed25519 identity key (its id is [`node_id`] of it).
    pub identity_key: [u8; 32],
    /// The evidence platform tag (`hyperchain_attest::Platform`).
    pub platform: u8,
    /// The region it serves.
    pub region: String,
    /// The measurement recorded at first registration (re-attestation must match it).
    pub measurement: Vec<u8>,
    /// The TCB of its latest evidence, in the platform's layout.
    pub tcb: Vec<u16>,
    /// The account that registered it.
    pub owner: crate::Address,
    /// Block time of the first registration (ms).
    pub registered_ms: u64,
    /// Block time of the latest accepted evidence (ms).
    pub attested_ms: u64,
    /// Membership ends at this block time (ms) unless the node re-attests; a revocation sets
    /// it to the block that revoked the node, so it is always when membership ended.
    pub expires_ms: u64,
    /// Why it was revoked, if it was.
    pub revoked: Option<RevokeReason>,
    /// The owner's bond (base units) still held for this node: returned once membership has
    /// ended and the unbonding delay passed, forfeited if the node provably lied, moved to
    /// the node that replaces it on the same chip.
    pub bond: u128,
    /// `SHA-256(platform tag ‖ platform id)`: the TEE chip it runs on, which serves one
    /// active identity at a time.
    pub chip: Digest,
    /// Block time (ms) at which a policy its recorded evidence fails took effect, if one did:
    /// its membership then ends at `expires_ms` (at most the policy's recovery grace later)
    /// unless it re-attests with evidence the policy accepts, which clears this.
    pub fails_policy_since: Option<u64>,
}

/// Why a node was revoked (typed: consensus state never holds text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeReason {
    /// Governance revoked this node.
    Governance,
    /// Governance revoked its measurement (a bad runtime release).
    Measurement,
    /// Governance recalled TCBs below a minimum and its TCB was one.
    TcbRecall,
    /// Arbitration found it signed a wrong result for this job (its signed commitment is kept
    /// as evidence). Its bond is forfeited.
    WrongResult {
        /// The job.
        job: Digest,
    },
    /// Its owner deregistered it.
    Deregistered,
    /// A new identity on the same chip, registered by the same owner, took its place (and its
    /// bond).
    Replaced {
        /// The new node.
        by: Digest,
    },
}

impl std::fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevokeReason::Governance => f.write_str("revoked by governance"),
            RevokeReason::Measurement => f.write_str("its measurement was revoked by governance"),
            RevokeReason::TcbRecall => f.write_str("its TCB was recalled by governance"),
            RevokeReason::WrongResult { job } => write!(f, "signed a wrong result for job {job}"),
            RevokeReason::Deregistered => f.write_str("deregistered by its owner"),
            RevokeReason::Replaced { by } => {
                write!(f, "replaced by node {by} on the same chip")
            }
        }
    }
}

impl Write for RevokeReason {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            RevokeReason::Governance => 0u8.write(buf),
            RevokeReason::Measurement => 1u8.write(buf),
            RevokeReason::TcbRecall => 2u8.write(buf),
            RevokeReason::WrongResult { job } => {
                3u8.write(buf);
                job.write(buf);
            }
            RevokeReason::Deregistered => 4u8.write(buf),
            RevokeReason::Replaced { by } => {
                5u8.write(buf);
                by.write(buf);
            }
        }
    }
}
impl EncodeSize for RevokeReason {
    fn encode_size(&self) -> usize {
        1 + match self {
            RevokeReason::WrongResult { .. } | RevokeReason::Replaced { .. } => Digest::SIZE,
            _ => 0,
        }
    }
}
impl Read for RevokeReason {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(RevokeReason::Governance),
            1 => Ok(RevokeReason::Measurement),
            2 => Ok(RevokeReason::TcbRecall),
            3 => Ok(RevokeReason::WrongResult {
                job: Digest::read(buf)?,
            }),
            4 => Ok(RevokeReason::Deregistered),
            5 => Ok(RevokeReason::Replaced {
                by: Digest::read(buf)?,
            }),
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

/// What stays of a node that left the registry's index (revoked, or expired when the index
/// needed room), under `tomb/ ‖ node id` instead of its record: enough that its identity key
/// can never register again, that its end is on record, and (with bonds) that its owner can be
/// settled with. At most 91 bytes, against about 200 for the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTombstone {
    /// The account that registered it.
    pub owner: crate::Address,
    /// Its evidence platform tag.
    pub platform: u8,
    /// When its membership ended (block time, ms): its expiry, or the block that pruned it.
    pub ended_ms: u64,
    /// Why it was revoked, if it was.
    pub revoked: Option<RevokeReason>,
    /// The bond still to return to the owner (0 once settled or forfeited).
    pub bond: u128,
}

impl NodeTombstone {
    /// The tombstone of `record`, pruned at block time `now_ms`.
    pub fn of(record: &NodeRecord, now_ms: u64) -> NodeTombstone {
        NodeTombstone {
            owner: record.owner,
            platform: record.platform,
            ended_ms: record.expires_ms.min(now_ms),
            revoked: record.revoked.clone(),
            bond: record.bond,
        }
    }
}

impl Write for NodeTombstone {
    fn write(&self, buf: &mut impl BufMut) {
        self.owner.write(buf);
        self.platform.write(buf);
        self.ended_ms.write(buf);
        self.revoked.is_some().write(buf);
        if let Some(r) = &self.revoked {
            r.write(buf);
        }
        self.bond.write(buf);
    }
}
impl EncodeSize for NodeTombstone {
    fn encode_size(&self) -> usize {
        crate::Address::SIZE
            + 1
            + u64::SIZE
            + 1
            + self.revoked.as_ref().map_or(0, |r| r.encode_size())
            + 16
    }
}
impl Read for NodeTombstone {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(NodeTombstone {
            owner: crate::Address::read(buf)?,
            platform: u8::read(buf)?,
            ended_ms: u64::read(buf)?,
            revoked: if bool::read(buf)? {
                Some(RevokeReason::read(buf)?)
            } else {
                None
            },
            bond: u128::read(buf)?,
        })
    }
}

impl NodeRecord {
    /// The node's id.
    pub fn id(&self) -> Digest {
        node_id(&self.identity_key)
    }

    /// Whether the node is a member at block time `now_ms`: not revoked and not expired.
    pub fn is_active(&self, now_ms: u64) -> bool {
        self.revoked.is_none() && now_ms < self.expires_ms
    }

    /// `active`, `expired` or `revoked` at block time `now_ms`.
    pub fn status(&self, now_ms: u64) -> &'static str {
        if self.revoked.is_some() {
            "revoked"
        } else if now_ms >= self.expires_ms {
            "expired"
        } else {
            "active"
        }
    }
}

impl Write for NodeRecord {
    fn write(&self, buf: &mut impl BufMut) {
        self.identity_key.write(buf);
        self.platform.write(buf);
        self.region.as_bytes().to_vec().write(buf);
        self.measurement.write(buf);
        (self.tcb.len() as u8).write(buf);
        for c in &self.tcb {
            c.write(buf);
        }
        self.owner.write(buf);
        self.registered_ms.write(buf);
        self.attested_ms.write(buf);
        self.expires_ms.write(buf);
        match &self.revoked {
            None => 0u8.write(buf),
            Some(reason) => {
                1u8.write(buf);
                reason.write(buf);
            }
        }
        self.bond.write(buf);
        self.chip.write(buf);
        self.fails_policy_since.write(buf);
    }
}
impl EncodeSize for NodeRecord {
    fn encode_size(&self) -> usize {
        32 + 1
            + bytes_size(self.region.len())
            + bytes_size(self.measurement.len())
            + 1
            + 2 * self.tcb.len()
            + 32
            + 8 * 3
            + 1
            + self.revoked.as_ref().map_or(0, |r| r.encode_size())
            + 16
            + Digest::SIZE
            + self.fails_policy_since.encode_size()
    }
}
impl Read for NodeRecord {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let identity_key = <[u8; 32]>::read(buf)?;
        let platform = u8::read(buf)?;
        let region = read_string(buf, crate::tx_limits::MAX_REGION, "region")?;
        let measurement = Vec::<u8>::read_range(buf, 0..=MAX_MEASUREMENT)?;
        let n = u8::read(buf)? as usize;
        if n > MAX_TCB_COMPONENTS {
            return Err(Error::Invalid("NodeRecord", "too many TCB components"));
        }
        let tcb = (0..n).map(|_| u16::read(buf)).collect::<Result<_, _>>()?;
        let owner = crate::Address::read(buf)?;
        let registered_ms = u64::read(buf)?;
        let attested_ms = u64::read(buf)?;
        let expires_ms = u64::read(buf)?;
        let revoked = match u8::read(buf)? {
            0 => None,
            1 => Some(RevokeReason::read(buf)?),
            t => return Err(Error::InvalidEnum(t)),
        };
        let bond = u128::read(buf)?;
        let chip = Digest::read(buf)?;
        let fails_policy_since = Option::<u64>::read(buf)?;
        Ok(NodeRecord {
            identity_key,
            platform,
            region,
            measurement,
            tcb,
            owner,
            registered_ms,
            attested_ms,
            expires_ms,
            revoked,
            bond,
            chip,
            fails_policy_since,
        })
    }
}

/// What a compute node asks a validator for (docs/DESIGN.md §6, authentication on the round trip).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComputeRequest {
    /// A contract's code, by code hash.
    Code(Digest),
    /// Values of keys in a contract's storage.
    State {
        /// The contract (its storage tree).
        contract: crate::Address,
        /// The keys, at most [`MAX_REQUEST_KEYS`].
        keys: Vec<Vec<u8>>,
    },
    /// A job to execute: its record, its contract's lane record and contract record (root-tree
    /// entries under `job/`, `lane/` and `contract/`).
    Job(Digest),
}

/// Most keys one state request may ask for.
pub const MAX_REQUEST_KEYS: usize = 256;
/// Longest key in a state request.
pub const MAX_REQUEST_KEY: usize = 1024;
/// Domain of compute-request signatures.
pub const COMPUTE_REQUEST_NAMESPACE: &[u8] = b"hyperchain/compute-request/v1";

/// The bytes a compute node signs with its identity key to make `request` at `timestamp_ms`:
/// `chain id ‖ identity key ‖ timestamp (u64 BE) ‖ request encoding` (in
/// [`COMPUTE_REQUEST_NAMESPACE`]).
pub fn compute_request_message(
    chain_id: &Digest,
    identity_key: &[u8; 32],
    timestamp_ms: u64,
    request: &ComputeRequest,
) -> Vec<u8> {
    use commonware_codec::Encode as _;
    let mut out = Vec::with_capacity(72 + request.encode_size());
    out.extend_from_slice(&chain_id.0);
    out.extend_from_slice(identity_key);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&request.encode());
    out
}

impl Write for ComputeRequest {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            ComputeRequest::Code(hash) => {
                0u8.write(buf);
                hash.write(buf);
            }
            ComputeRequest::State { contract, keys } => {
                1u8.write(buf);
                contract.write(buf);
                (keys.len() as u16).write(buf);
                for k in keys {
                    k.write(buf);
                }
            }
            ComputeRequest::Job(id) => {
                2u8.write(buf);
                id.write(buf);
            }
        }
    }
}
impl EncodeSize for ComputeRequest {
    fn encode_size(&self) -> usize {
        1 + match self {
            ComputeRequest::Code(_) | ComputeRequest::Job(_) => 32,
            ComputeRequest::State { keys, .. } => {
                32 + 2 + keys.iter().map(|k| bytes_size(k.len())).sum::<usize>()
            }
        }
    }
}
impl Read for ComputeRequest {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(ComputeRequest::Code(Digest::read(buf)?)),
            1 => {
                let contract = crate::Address::read(buf)?;
                let n = u16::read(buf)? as usize;
                if n > MAX_REQUEST_KEYS {
                    return Err(Error::Invalid("ComputeRequest", "too many keys"));
                }
                let keys = (0..n)
                    .map(|_| Vec::<u8>::read_range(buf, 0..=MAX_REQUEST_KEY))
                    .collect::<Result<_, _>>()?;
                Ok(ComputeRequest::State { contract, keys })
            }
            2 => Ok(ComputeRequest::Job(Digest::read(buf)?)),
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

fn read_string(buf: &mut impl Buf, max: usize, what: &'static str) -> Result<String, Error> {
    let bytes = Vec::<u8>::read_range(buf, 0..=max)?;
    String::from_utf8(bytes).map_err(|_| Error::Invalid(what, "not UTF-8"))
}

fn bytes_size(len: usize) -> usize {
    // A length-prefixed byte string: varint length + bytes.
    commonware_codec::varint::UInt(len as u32).encode_size() + len
}

impl Write for Registration {
    fn write(&self, buf: &mut impl BufMut) {
        self.identity_key.write(buf);
        self.platform.write(buf);
        self.region.as_bytes().to_vec().write(buf);
        self.evidence.write(buf);
        self.endorsements.write(buf);
        self.recent_block.write(buf);
    }
}
impl EncodeSize for Registration {
    fn encode_size(&self) -> usize {
        32 + 1
            + bytes_size(self.region.len())
            + bytes_size(self.evidence.len())
            + bytes_size(self.endorsements.len())
            + 32
    }
}
impl Read for Registration {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Registration {
            identity_key: <[u8; 32]>::read(buf)?,
            platform: u8::read(buf)?,
            region: read_string(buf, crate::tx_limits::MAX_REGION, "region")?,
            evidence: Vec::<u8>::read_range(buf, 0..=MAX_EVIDENCE)?,
            endorsements: Vec::<u8>::read_range(buf, 0..=MAX_ENDORSEMENTS)?,
            recent_block: Digest::read(buf)?,
        })
    }
}

impl Write for Revocation {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Revocation::Node(id) => {
                0u8.write(buf);
                id.write(buf);
            }
            Revocation::Measurement(m) => {
                1u8.write(buf);
                m.write(buf);
            }
            Revocation::TcbBelow { platform, mins } => {
                2u8.write(buf);
                platform.write(buf);
                (mins.len() as u8).write(buf);
                for min in mins {
                    (min.len() as u8).write(buf);
                    for c in min {
                        c.write(buf);
                    }
                }
            }
        }
    }
}
impl EncodeSize for Revocation {
    fn encode_size(&self) -> usize {
        1 + match self {
            Revocation::Node(_) => 32,
            Revocation::Measurement(m) => bytes_size(m.len()),
            Revocation::TcbBelow { mins, .. } => {
                1 + 1 + mins.iter().map(|m| 1 + 2 * m.len()).sum::<usize>()
            }
        }
    }
}
impl Read for Revocation {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(Revocation::Node(Digest::read(buf)?)),
            1 => Ok(Revocation::Measurement(Vec::<u8>::read_range(
                buf,
                1..=MAX_MEASUREMENT,
            )?)),
            2 => {
                let platform = u8::read(buf)?;
                let shapes = u8::read(buf)? as usize;
                if shapes == 0 || shapes > MAX_TCB_SHAPES {
                    return Err(Error::Invalid("Revocation", "bad number of TCB shapes"));
                }
                let mut mins: Vec<Vec<u16>> = Vec::with_capacity(shapes);
                for _ in 0..shapes {
                    let n = u8::read(buf)? as usize;
                    if n == 0 || n > MAX_TCB_COMPONENTS {
                        return Err(Error::Invalid("Revocation", "bad number of TCB components"));
                    }
                    if mins.iter().any(|m| m.len() == n) {
                        return Err(Error::Invalid("Revocation", "two minimums of one shape"));
                    }
                    mins.push((0..n).map(|_| u16::read(buf)).collect::<Result<_, _>>()?);
                }
                Ok(Revocation::TcbBelow { platform, mins })
            }
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

impl Write for GovernanceAction {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            GovernanceAction::SetPolicy(policy) => {
                0u8.write(buf);
                policy.write(buf);
            }
            GovernanceAction::AddRelease {
                version,
                image,
                measurements,
            } => {
                1u8.write(buf);
                version.as_bytes().to_vec().write(buf);
                image.write(buf);
                (measurements.len() as u8).write(buf);
                for (platform, m) in measurements {
                    platform.write(buf);
                    m.write(buf);
                }
            }
            GovernanceAction::Revoke(r) => {
                2u8.write(buf);
                r.write(buf);
            }
            GovernanceAction::AdmitValidator { public_key } => {
                3u8.write(buf);
                public_key.write(buf);
            }
            GovernanceAction::RemoveValidator { public_key } => {
                4u8.write(buf);
                public_key.write(buf);
            }
        }
    }
}
impl EncodeSize for GovernanceAction {
    fn encode_size(&self) -> usize {
        1 + match self {
            GovernanceAction::SetPolicy(policy) => bytes_size(policy.len()),
            GovernanceAction::AddRelease {
                version,
                image,
                measurements,
            } => {
                bytes_size(version.len())
                    + bytes_size(image.len())
                    + 1
                    + measurements
                        .iter()
                        .map(|(_, m)| 1 + bytes_size(m.len()))
                        .sum::<usize>()
            }
            GovernanceAction::Revoke(r) => r.encode_size(),
            GovernanceAction::AdmitValidator { .. } | GovernanceAction::RemoveValidator { .. } => {
                32
            }
        }
    }
}
impl Read for GovernanceAction {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(GovernanceAction::SetPolicy(Vec::<u8>::read_range(
                buf,
                0..=MAX_POLICY,
            )?)),
            1 => {
                let version = read_string(buf, MAX_VERSION, "version")?;
                let image = Vec::<u8>::read_range(buf, 0..=MAX_IMAGE)?;
                let n = u8::read(buf)? as usize;
                if n > MAX_RELEASE_MEASUREMENTS {
                    return Err(Error::Invalid("AddRelease", "too many measurements"));
                }
                let measurements = (0..n)
                    .map(|_| {
                        Ok((
                            u8::read(buf)?,
                            Vec::<u8>::read_range(buf, 1..=MAX_MEASUREMENT)?,
                        ))
                    })
                    .collect::<Result<_, Error>>()?;
                Ok(GovernanceAction::AddRelease {
                    version,
                    image,
                    measurements,
                })
            }
            2 => Ok(GovernanceAction::Revoke(Revocation::read(buf)?)),
            3 => Ok(GovernanceAction::AdmitValidator {
                public_key: <[u8; 32]>::read(buf)?,
            }),
            4 => Ok(GovernanceAction::RemoveValidator {
                public_key: <[u8; 32]>::read(buf)?,
            }),
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt as _, Encode as _};

    fn samples() -> Vec<GovernanceAction> {
        vec![
            GovernanceAction::SetPolicy(vec![1, 2, 3]),
            GovernanceAction::AddRelease {
                version: "v1.0".into(),
                image: vec![7; 300],
                measurements: vec![(0, vec![1; 32]), (2, vec![2; 48])],
            },
            GovernanceAction::Revoke(Revocation::Node(Digest([5; 32]))),
            GovernanceAction::Revoke(Revocation::Measurement(vec![9; 48])),
            GovernanceAction::Revoke(Revocation::TcbBelow {
                platform: 2,
                mins: vec![vec![3, 0, 8, 115], vec![1, 3, 0, 8, 115]],
            }),
        ]
    }

    #[test]
    fn round_trips_with_exact_sizes() {
        for action in samples() {
            let enc = action.encode();
            assert_eq!(enc.len(), action.encode_size());
            assert_eq!(GovernanceAction::decode(enc).unwrap(), action);
        }
        let r = Registration {
            identity_key: [4; 32],
            platform: 3,
            region: "eu-west".into(),
            evidence: vec![1; 200],
            endorsements: vec![2; 1000],
            recent_block: Digest([8; 32]),
        };
        let enc = r.encode();
        assert_eq!(enc.len(), r.encode_size());
        assert_eq!(Registration::decode(enc).unwrap(), r);
        for request in [
            ComputeRequest::Code(Digest([3; 32])),
            ComputeRequest::State {
                contract: crate::Address([4; 32]),
                keys: vec![vec![], vec![1, 2, 3], vec![9; 300]],
            },
        ] {
            let enc = request.encode();
            assert_eq!(enc.len(), request.encode_size());
            assert_eq!(ComputeRequest::decode(enc).unwrap(), request);
        }
        for revoked in [
            None,
            Some(RevokeReason::Governance),
            Some(RevokeReason::WrongResult {
                job: Digest([4; 32]),
            }),
            Some(RevokeReason::Deregistered),
            Some(RevokeReason::Replaced {
                by: Digest([5; 32]),
            }),
        ] {
            let record = NodeRecord {
                identity_key: [1; 32],
                platform: 4,
                region: "us".into(),
                measurement: vec![3; 32],
                tcb: vec![1, 2, 3],
                owner: crate::Address([6; 32]),
                registered_ms: 1,
                attested_ms: 2,
                expires_ms: 3,
                revoked,
                bond: 100_000_000_000,
                chip: Digest([7; 32]),
                fails_policy_since: Some(5),
            };
            let enc = record.encode();
            assert_eq!(enc.len(), record.encode_size());
            assert_eq!(NodeRecord::decode(enc).unwrap(), record);
            let tomb = NodeTombstone::of(&record, 2);
            assert_eq!(tomb.ended_ms, 2, "pruned before its expiry");
            let enc = tomb.encode();
            assert_eq!(enc.len(), tomb.encode_size());
            assert!(enc.len() <= 91);
            assert_eq!(tomb.bond, record.bond);
            assert_eq!(NodeTombstone::decode(enc).unwrap(), tomb);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 7) as u8
                })
                .collect();
            let _ = GovernanceAction::decode(bytes::Bytes::from(bytes.clone()));
            let _ = Registration::decode(bytes::Bytes::from(bytes.clone()));
            let _ = NodeRecord::decode(bytes::Bytes::from(bytes.clone()));
            let _ = ComputeRequest::decode(bytes::Bytes::from(bytes));
        }
    }
}
