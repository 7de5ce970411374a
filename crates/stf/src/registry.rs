//! The compute-node registry in chain state (docs/DESIGN.md §6): registration and re-attestation
//! verified deterministically during block execution, the attestation policy changed only by
//! governance, revocation, and the identity accumulator.
//!
//! Every validator runs the same checks on the same inputs: the evidence and endorsements
//! carried by the transaction, the policy in state, and the **block timestamp** as the time
//! (no network, no system clock). A registration that fails a check is still a valid
//! transaction: its nonce is consumed and its receipt names the failed check.
//!
//! State layout (root tree unless said otherwise):
//!
//! | key | value |
//! |---|---|
//! | `node/ ‖ node id` | [`NodeRecord`] |
//! | `node-index` | how many nodes the index holds (u64 BE); `node-index/ ‖ i (u64 BE)`: the i-th id, in registration order (pruning keeps the order of the rest) |
//! | `claims/ ‖ node id` | the [`hyperchain_attest::Claims`] of the node's latest accepted evidence (a policy change judges current members by them) |
//! | `tomb/ ‖ node id` | [`NodeTombstone`] of a node pruned from the index (revoked or expired): its key never registers again, its owner can still withdraw its bond |
//! | `chip/ ‖ SHA-256(platform tag ‖ platform id)` | the id of the last node registered on that TEE chip (one active identity per chip) |
//! | `policy/attestation` | the encoded [`AttestationPolicy`] (absent: the genesis policy) |
//! | `recent/ ‖ height mod 256 (u16 BE)` | `height (u64 BE) ‖ digest` of recent blocks (evidence freshness) |
//! | tree [`ACCUMULATOR`], key node id | `expires_ms (u64 BE)`: the identity accumulator |
//!
//! The accumulator is a sparse Merkle sub-tree linked into the state root, so a membership or
//! non-membership proof of `H(identity key)` is an ordinary two-level state proof against a
//! finalized header. A node is a member at a header when its id is present with an expiry
//! later than the header's timestamp.

use crate::execute::ExecError;
use commonware_codec::{DecodeExt as _, Encode as _};
use hyperchain_attest::{AttestationPolicy, Endorsements, Measurement, Platform};
use hyperchain_state::{TreeId, WriteBatch};
use hyperchain_types::{
    Address, Digest, ExecutionMode, GovernanceAction, NodeRecord, NodeTombstone, ReceiptStatus,
    Registration, Revocation, RevokeReason, SenderKey, node_id, sha256,
};

/// The accumulator's sub-tree: `SHA-256("hyperchain/accumulator/v1")`.
pub fn accumulator_tree() -> TreeId {
    TreeId(sha256(b"hyperchain/accumulator/v1").0)
}

/// The accumulator's tree id (see [`accumulator_tree`]).
pub static ACCUMULATOR: std::sync::LazyLock<TreeId> = std::sync::LazyLock::new(accumulator_tree);

/// Root-tree key prefix of the chip index.
pub const CHIP_PREFIX: &[u8] = b"chip/";

/// The key of the chip index entry of `chip`.
pub fn chip_key(chip: &Digest) -> Vec<u8> {
    [CHIP_PREFIX, chip.as_ref()].concat()
}

/// The chip a node's evidence comes from: `SHA-256(platform tag ‖ platform id)` (SEV-SNP
/// `chip_id`, the PPID for SGX and TDX, the simulated platform's id). SGX and TDX on one
/// machine are distinct chips: the tag differs.
pub fn chip_of(platform: u8, platform_id: &[u8]) -> Digest {
    hyperchain_types::sha256_parts(&[b"hyperchain/chip/v1", &[platform], platform_id])
}

/// Root-tree key prefix of node records.
pub const NODE_PREFIX: &[u8] = b"node/";
/// Root-tree key of the node index.
pub const NODE_INDEX_KEY: &[u8] = b"node-index";
/// Root-tree key of the attestation policy.
pub const POLICY_KEY: &[u8] = b"policy/attestation";
/// Prefix of nodes' recorded claims.
pub const CLAIMS_PREFIX: &[u8] = b"claims/";

/// The key of node `id`'s recorded claims.
pub fn claims_key(id: &Digest) -> Vec<u8> {
    [CLAIMS_PREFIX, id.as_ref()].concat()
}

/// The claims of node `id`'s latest accepted evidence, if it is registered (and not pruned).
pub fn recorded_claims(
    view: &impl StateView,
    id: &Digest,
) -> Result<Option<hyperchain_attest::Claims>, ExecError> {
    view.read(&TreeId::ROOT, &claims_key(id))?
        .map(|raw| {
            hyperchain_attest::Claims::decode(bytes::Bytes::from(raw))
                .map_err(|e| corrupt("claims", e))
        })
        .transpose()
}
/// Root-tree key prefix of recent block digests.
pub const RECENT_PREFIX: &[u8] = b"recent/";
/// How many recent blocks evidence may name as its freshness value.
pub const RECENT_BLOCKS: u64 = 256;
/// Most nodes the registry holds.
pub const MAX_NODES: usize = 4096;

/// The root-tree key of node `id`'s record.
pub fn node_key(id: &Digest) -> Vec<u8> {
    [NODE_PREFIX, &id.0].concat()
}

/// The root-tree key of the recent-block slot of `height`.
pub fn recent_key(height: u64) -> Vec<u8> {
    [
        RECENT_PREFIX,
        &((height % RECENT_BLOCKS) as u16).to_be_bytes(),
    ]
    .concat()
}

/// What the registry and the lanes need from the genesis.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// The policy in force until governance sets one.
    pub genesis_policy: AttestationPolicy,
    /// Execution modes contracts may be deployed with (`committee(K)` allows 2..=K members).
    pub execution_modes: Vec<ExecutionMode>,
    /// Committee execution parameters.
    pub compute: ComputeParams,
    /// The regions compute nodes may serve and cross-vendor contracts may name.
    pub regions: Vec<String>,
    /// How many nodes the registry's index holds ([`MAX_NODES`]; tests use less).
    pub max_nodes: usize,
    /// The fee schedule ([`crate::fees::FeeSchedule::FREE`] unless the genesis sets one).
    pub fees: crate::fees::FeeSchedule,
    /// The validators' accounts (of their consensus keys): they propose and approve
    /// governance actions, which take effect with 2f+1 approvals (docs/DESIGN.md §11), when
    /// the state keeps no validator set (tests).
    pub validators: Vec<Address>,
    /// Blocks per consensus epoch (`u64::MAX`: one epoch, as in tests): the last block of
    /// each epoch commits the decided validator set as the players of the resharing two
    /// epochs later.
    pub blocks_per_epoch: u64,
}

/// The regions a chain knows unless its genesis lists others.
pub const DEFAULT_REGIONS: [&str; 10] =
    ["eu", "us", "ap", "sa", "af", "me", "oc", "na", "as", "an"];

/// Most regions a chain knows.
pub const MAX_CHAIN_REGIONS: usize = 64;

/// [`DEFAULT_REGIONS`] as owned strings.
pub fn default_regions() -> Vec<String> {
    DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect()
}

/// Checks a chain's region list: 1..=[`MAX_CHAIN_REGIONS`] distinct names of 1..=32 bytes.
pub fn check_region_list(regions: &[String]) -> Result<(), String> {
    if regions.is_empty() || regions.len() > MAX_CHAIN_REGIONS {
        return Err(format!(
            "between 1 and {MAX_CHAIN_REGIONS} regions, not {}",
            regions.len()
        ));
    }
    for (i, r) in regions.iter().enumerate() {
        if r.is_empty() || r.len() > hyperchain_types::tx_limits::MAX_REGION {
            return Err(format!(
                "region `{r}`: names are 1 to {} bytes",
                hyperchain_types::tx_limits::MAX_REGION
            ));
        }
        if regions[..i].contains(r) {
            return Err(format!("region `{r}` is listed twice"));
        }
    }
    Ok(())
}

impl Default for RegistryConfig {
    /// No validators (so no governance), the default attestation policy, replicated
    /// contracts only.
    fn default() -> Self {
        RegistryConfig {
            genesis_policy: AttestationPolicy::default(),
            execution_modes: vec![ExecutionMode::Replicated],
            compute: ComputeParams::default(),
            regions: default_regions(),
            max_nodes: MAX_NODES,
            fees: crate::fees::FeeSchedule::FREE,
            validators: Vec::new(),
            blocks_per_epoch: u64::MAX,
        }
    }
}

impl RegistryConfig {
    /// Whether `region` is one of the chain's regions; `Err` says which are.
    pub fn knows_region(&self, region: &str) -> Result<(), String> {
        if self.regions.iter().any(|r| r == region) {
            Ok(())
        } else {
            Err(format!(
                "region `{region}` is not one of the chain's regions ({})",
                self.regions.join(", ")
            ))
        }
    }

    /// Whether the chain policy allows deploying a contract in `mode`.
    pub fn allows(&self, mode: ExecutionMode) -> bool {
        self.execution_modes
            .iter()
            .any(|allowed| match (allowed, mode) {
                (ExecutionMode::Committee(max), ExecutionMode::Committee(k)) => k <= *max,
                (a, b) => *a == b,
            })
    }
}

/// Committee execution parameters (part of the genesis policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeParams {
    /// Time (block time, ms) a committee has to agree on a job before it is reassigned to a
    /// fresh one. In time rather than blocks: block intervals vary with load.
    pub job_deadline_ms: u64,
    /// Missed deadlines after which a node is suspended from committees.
    pub suspend_after_failures: u32,
    /// How long (block time, ms) a suspension lasts; the count of missed deadlines starts
    /// again from zero. Re-attesting does not lift it: fresh evidence says nothing about
    /// liveness.
    #[serde(default = "default_suspension_ms")]
    pub suspension_ms: u64,
    /// Fuel per millisecond a deadline allows for: a run's deadline is `job_deadline_ms` plus
    /// its fuel limits divided by this, so an honest node can meet the deadline of a heavy
    /// run (measured: about 25 million fuel per ms on one core; the default leaves a wide
    /// margin for slower machines and enclaves).
    #[serde(default = "default_deadline_fuel_per_ms")]
    pub deadline_fuel_per_ms: u64,
    /// How long (block time, ms) a job may stay stalled (no committee can be formed) before
    /// it fails with the reason and its lane goes on.
    #[serde(default = "default_max_stall_ms")]
    pub max_stall_ms: u64,
    /// Jobs of one lane a committee is given at once: the head and up to `pipeline_depth − 1`
    /// jobs behind it that were ordered before the committee's seed view. 1 turns pipelining
    /// off (one job per lane per block).
    #[serde(default = "default_pipeline_depth")]
    pub pipeline_depth: u32,
    /// Blocks that must end past a run's deadline before the run is dropped and its silent
    /// members charged. More than one, so that a proposer leaving an honest member's receipt
    /// out of the block at the deadline cannot get it charged: every one of these blocks'
    /// proposers would have to (docs/THREATS.md).
    #[serde(default = "default_deadline_grace_blocks")]
    pub deadline_grace_blocks: u32,
    /// How long (block time, ms) after a failed draw a stalled job is tried again. A stalled
    /// lane costs blocks nothing in between (docs/DESIGN.md §5).
    #[serde(default = "default_stall_retry_ms")]
    pub stall_retry_ms: u64,
}

/// The default `deadline_grace_blocks`.
pub const DEFAULT_DEADLINE_GRACE_BLOCKS: u32 = 3;
/// Most `deadline_grace_blocks`.
pub const MAX_DEADLINE_GRACE_BLOCKS: u32 = 64;

fn default_deadline_grace_blocks() -> u32 {
    DEFAULT_DEADLINE_GRACE_BLOCKS
}

/// The default `stall_retry_ms` (5 s).
pub const DEFAULT_STALL_RETRY_MS: u64 = 5_000;

fn default_stall_retry_ms() -> u64 {
    DEFAULT_STALL_RETRY_MS
}

/// Most jobs a committee is given at once.
pub const MAX_PIPELINE_DEPTH: u32 = 64;
/// The default `pipeline_depth`.
pub const DEFAULT_PIPELINE_DEPTH: u32 = 32;

fn default_pipeline_depth() -> u32 {
    DEFAULT_PIPELINE_DEPTH
}

/// The default `suspension_ms` (10 minutes).
pub const DEFAULT_SUSPENSION_MS: u64 = 600_000;

fn default_suspension_ms() -> u64 {
    DEFAULT_SUSPENSION_MS
}

/// The default `deadline_fuel_per_ms`.
pub const DEFAULT_DEADLINE_FUEL_PER_MS: u64 = 2_000_000;

fn default_deadline_fuel_per_ms() -> u64 {
    DEFAULT_DEADLINE_FUEL_PER_MS
}

/// The default `max_stall_ms` (10 minutes).
pub const DEFAULT_MAX_STALL_MS: u64 = 600_000;

fn default_max_stall_ms() -> u64 {
    DEFAULT_MAX_STALL_MS
}

impl Default for ComputeParams {
    fn default() -> Self {
        ComputeParams {
            job_deadline_ms: 20_000,
            suspend_after_failures: 3,
            suspension_ms: DEFAULT_SUSPENSION_MS,
            max_stall_ms: DEFAULT_MAX_STALL_MS,
            deadline_fuel_per_ms: DEFAULT_DEADLINE_FUEL_PER_MS,
            pipeline_depth: DEFAULT_PIPELINE_DEPTH,
            deadline_grace_blocks: DEFAULT_DEADLINE_GRACE_BLOCKS,
            stall_retry_ms: DEFAULT_STALL_RETRY_MS,
        }
    }
}

impl ComputeParams {
    /// The time a committee has for a run whose fuel limits add up to `fuel`.
    pub fn deadline_for(&self, fuel: u64) -> u64 {
        self.job_deadline_ms
            .saturating_add(fuel / self.deadline_fuel_per_ms.max(1))
    }

    /// Checks the parameters are usable.
    pub fn validate(&self) -> Result<(), String> {
        if !(1_000..=86_400_000).contains(&self.job_deadline_ms) {
            return Err("job_deadline_ms must be between 1000 (1 s) and 86400000 (1 day)".into());
        }
        if self.suspend_after_failures == 0 {
            return Err("suspend_after_failures must be at least 1".into());
        }
        if !(1_000..=30 * 86_400_000).contains(&self.suspension_ms) {
            return Err("suspension_ms must be between 1000 (1 s) and 2592000000 (30 days)".into());
        }
        if self.deadline_fuel_per_ms == 0 {
            return Err("deadline_fuel_per_ms must be at least 1".into());
        }
        if !(1_000..=30 * 86_400_000).contains(&self.max_stall_ms) {
            return Err("max_stall_ms must be between 1000 (1 s) and 2592000000 (30 days)".into());
        }
        if !(1..=MAX_PIPELINE_DEPTH).contains(&self.pipeline_depth) {
            return Err(format!(
                "pipeline_depth must be between 1 (off) and {MAX_PIPELINE_DEPTH}"
            ));
        }
        if !(1..=MAX_DEADLINE_GRACE_BLOCKS).contains(&self.deadline_grace_blocks) {
            return Err(format!(
                "deadline_grace_blocks must be between 1 and {MAX_DEADLINE_GRACE_BLOCKS}"
            ));
        }
        if !(1_000..=self.max_stall_ms).contains(&self.stall_retry_ms) {
            return Err("stall_retry_ms must be between 1000 (1 s) and max_stall_ms".into());
        }
        Ok(())
    }
}

/// Reads state: as the transaction being executed sees it, or a committed snapshot.
pub trait StateView {
    /// The value of `key` in `tree`.
    fn read(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, ExecError>;
}

impl<S: hyperchain_state::StateReader> StateView for S {
    fn read(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, ExecError> {
        Ok(self.get(tree, key)?)
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ExecError {
    ExecError::Corrupt(format!("{what}: {e}"))
}

/// The attestation policy in force.
pub fn policy(view: &impl StateView, cfg: &RegistryConfig) -> Result<AttestationPolicy, ExecError> {
    match view.read(&TreeId::ROOT, POLICY_KEY)? {
        None => Ok(cfg.genesis_policy.clone()),
        Some(raw) => {
            AttestationPolicy::decode(bytes::Bytes::from(raw)).map_err(|e| corrupt("policy", e))
        }
    }
}

/// An accumulator entry's expiry (`None` if absent or not 8 bytes).
pub fn decode_expiry(raw: Option<&[u8]>) -> Option<u64> {
    raw.and_then(|v| <[u8; 8]>::try_from(v).ok())
        .map(u64::from_be_bytes)
}

/// Prefix of pruned nodes' tombstones.
pub const TOMB_PREFIX: &[u8] = b"tomb/";

/// The key of node `id`'s tombstone.
pub fn tomb_key(id: &Digest) -> Vec<u8> {
    [TOMB_PREFIX, id.as_ref()].concat()
}

/// Node `id`'s tombstone, if it was pruned from the registry.
pub fn tombstone(view: &impl StateView, id: &Digest) -> Result<Option<NodeTombstone>, ExecError> {
    view.read(&TreeId::ROOT, &tomb_key(id))?
        .map(|raw| {
            NodeTombstone::decode(bytes::Bytes::from(raw)).map_err(|e| corrupt("tombstone", e))
        })
        .transpose()
}

/// Why node `id` cannot act, if it was pruned from the registry.
pub fn pruned(view: &impl StateView, id: &Digest) -> Result<Option<String>, ExecError> {
    Ok(tombstone(view, id)?.map(|t| match &t.revoked {
        Some(reason) => format!(
            "node {id} was revoked ({reason}) and pruned from the registry; a revoked identity \
             key cannot register again"
        ),
        None => format!(
            "node {id} expired at {} ms and was pruned from the registry; an expired identity \
             key cannot register again",
            t.ended_ms
        ),
    }))
}

/// Node `id`'s record, if registered (and not pruned: see [`tombstone`]).
pub fn node(view: &impl StateView, id: &Digest) -> Result<Option<NodeRecord>, ExecError> {
    view.read(&TreeId::ROOT, &node_key(id))?
        .map(|raw| NodeRecord::decode(bytes::Bytes::from(raw)).map_err(|e| corrupt("node", e)))
        .transpose()
}

/// The key of the `i`-th entry of the node index.
fn index_key(i: u64) -> Vec<u8> {
    [NODE_INDEX_KEY, b"/", &i.to_be_bytes()].concat()
}

/// How many nodes the index holds.
pub fn index_len(view: &impl StateView) -> Result<u64, ExecError> {
    Ok(crate::lanes::read_u64(view, NODE_INDEX_KEY)?.unwrap_or(0))
}

/// The ids of the indexed nodes, in registration order.
pub fn node_ids(view: &impl StateView) -> Result<Vec<Digest>, ExecError> {
    (0..index_len(view)?)
        .map(|i| {
            let raw = view
                .read(&TreeId::ROOT, &index_key(i))?
                .ok_or_else(|| corrupt("node index", format!("entry {i} missing")))?;
            <[u8; 32]>::try_from(raw.as_slice())
                .map(Digest)
                .map_err(|_| corrupt("node index", "entry not 32 bytes"))
        })
        .collect()
}

/// Whether node `id` is a current member at block time `now_ms` (in the accumulator with a
/// later expiry); `Err` says why not.
pub fn membership(
    view: &impl StateView,
    id: &Digest,
    now_ms: u64,
) -> Result<Result<NodeRecord, String>, ExecError> {
    let Some(record) = node(view, id)? else {
        return Ok(Err(
            pruned(view, id)?.unwrap_or_else(|| format!("node {id} is not registered"))
        ));
    };
    if let Some(reason) = &record.revoked {
        return Ok(Err(format!("node {id} was revoked: {reason}")));
    }
    let in_accumulator = view.read(&ACCUMULATOR, &id.0)?.is_some();
    if !in_accumulator || now_ms >= record.expires_ms {
        return Ok(Err(format!(
            "node {id} expired at {} ms (re-attest before expiry)",
            record.expires_ms
        )));
    }
    Ok(Ok(record))
}

/// Every registered node's record, in registration order.
pub fn nodes(view: &impl StateView) -> Result<Vec<NodeRecord>, ExecError> {
    let mut out = Vec::new();
    for id in node_ids(view)? {
        out.push(
            node(view, &id)?.ok_or_else(|| corrupt("node index", format!("{id} has no record")))?,
        );
    }
    Ok(out)
}

/// Records block `height`'s parent digest for evidence freshness (run once per block).
pub(crate) fn record_parent(batch: &mut WriteBatch, height: u64, parent: &Digest) {
    let parent_height = height.saturating_sub(1);
    let mut value = parent_height.to_be_bytes().to_vec();
    value.extend_from_slice(&parent.0);
    batch.put(TreeId::ROOT, recent_key(parent_height), value);
}

fn is_recent(view: &impl StateView, digest: &Digest, height: u64) -> Result<bool, ExecError> {
    let first = height.saturating_sub(RECENT_BLOCKS);
    for h in first..height {
        if let Some(raw) = view.read(&TreeId::ROOT, &recent_key(h))?
            && raw.len() == 40
            && raw[..8] == h.to_be_bytes()
            && raw[8..] == digest.0
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The time the registry uses: the block timestamp.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    /// The block's height.
    pub height: u64,
    /// The block's timestamp (ms).
    pub ms: u64,
}

/// One transaction's effect: writes to apply (in order) and its receipt status.
pub(crate) type Effect = (ReceiptStatus, Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>);

fn rejected(reason: impl Into<String>) -> Effect {
    (
        ReceiptStatus::Rejected(crate::execute::truncate(reason.into())),
        Vec::new(),
    )
}

fn accepted(writes: Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>) -> Effect {
    (ReceiptStatus::Accepted, writes)
}

/// Verifies a registration's evidence against `policy` at `now`, bound to `owner` (the account
/// that registered the node) and the registration's region; `Err` is the receipt's reason.
fn verify_evidence(
    view: &impl StateView,
    chain_id: &Digest,
    policy: &AttestationPolicy,
    owner: &Address,
    r: &Registration,
    now: Now,
) -> Result<Result<hyperchain_attest::Claims, String>, ExecError> {
    let Some(platform) = Platform::from_tag(r.platform) else {
        return Ok(Err(format!("unknown platform tag {}", r.platform)));
    };
    if !is_recent(view, &r.recent_block, now.height)? {
        return Ok(Err(format!(
            "freshness: block {} is not one of the last {RECENT_BLOCKS} blocks",
            r.recent_block
        )));
    }
    let endorsements = match Endorsements::decode(bytes::Bytes::from(r.endorsements.clone())) {
        Ok(e) => e,
        Err(e) => return Ok(Err(format!("malformed endorsements: {e}"))),
    };
    let now_secs = now.ms / 1000;
    let claims = match hyperchain_attest::verify(platform, &r.evidence, &endorsements, now_secs) {
        Ok(claims) => claims,
        Err(e) => return Ok(Err(format!("evidence rejected ({}): {e}", e.check()))),
    };
    let expected = hyperchain_attest::NodeBinding {
        chain_id: &chain_id.0,
        identity_pk: &r.identity_key,
        owner: &owner.0,
        region: &r.region,
    }
    .report_data(&r.recent_block.0);
    if let Err(e) = hyperchain_attest::evaluate(policy, &claims, &expected, now_secs) {
        return Ok(Err(format!("policy rejected ({}): {e}", e.check())));
    }
    Ok(Ok(claims))
}

/// The writes that store `record` and set its accumulator entry (removed when revoked).
pub(crate) fn membership_writes(record: &NodeRecord) -> Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)> {
    let id = record.id();
    vec![
        (TreeId::ROOT, node_key(&id), Some(record.encode().to_vec())),
        (
            *ACCUMULATOR,
            id.0.to_vec(),
            if record.revoked.is_none() {
                Some(record.expires_ms.to_be_bytes().to_vec())
            } else {
                None
            },
        ),
    ]
}

/// `Register`: verify, store the node record, insert `H(identity key)` into the accumulator.
pub(crate) fn register(
    view: &impl StateView,
    cfg: &RegistryConfig,
    chain_id: &Digest,
    owner: Address,
    r: &Registration,
    now: Now,
    spendable: u128,
) -> Result<(Effect, u128), ExecError> {
    let unbonded = |effect| Ok((effect, 0));
    let id = node_id(&r.identity_key);
    if r.region.is_empty() {
        return unbonded(rejected("region: a node must name the region it serves"));
    }
    if let Err(reason) = cfg.knows_region(&r.region) {
        return unbonded(rejected(reason));
    }
    if let Some(existing) = node(view, &id)? {
        return unbonded(rejected(if existing.revoked.is_some() {
            format!("node {id} was revoked; a revoked identity key cannot register again")
        } else if !existing.is_active(now.ms) {
            format!("node {id} expired; an expired identity key cannot register again")
        } else {
            format!("node {id} is already registered (use reattest)")
        }));
    }
    if let Some(reason) = pruned(view, &id)? {
        return unbonded(rejected(reason));
    }
    // Appending costs two writes; only a full index is read whole, to make room.
    let len = index_len(view)?;
    let mut pruning = Vec::new();
    let mut live_len = len;
    if len >= cfg.max_nodes as u64 {
        // Make room: revoked and expired nodes leave the index (the rest keep their order),
        // their records pruned to tombstones (so their identity keys can never register
        // again) and their liveness counters and accumulator entries removed.
        let ids = node_ids(view)?;
        let mut live = Vec::with_capacity(ids.len());
        for id in &ids {
            let Some(record) = node(view, id)? else {
                return Err(corrupt("node index", format!("{id} has no record")));
            };
            if record.is_active(now.ms) {
                live.push(*id);
                continue;
            }
            pruning.push((
                TreeId::ROOT,
                tomb_key(id),
                Some(NodeTombstone::of(&record, now.ms).encode().to_vec()),
            ));
            pruning.push((TreeId::ROOT, node_key(id), None));
            pruning.push((TreeId::ROOT, claims_key(id), None));
            pruning.push((TreeId::ROOT, crate::lanes::liveness_key(id), None));
            pruning.push((*ACCUMULATOR, id.0.to_vec(), None));
        }
        for (i, id) in live.iter().enumerate() {
            if ids[i] != *id {
                pruning.push((TreeId::ROOT, index_key(i as u64), Some(id.0.to_vec())));
            }
        }
        for i in live.len()..ids.len() {
            pruning.push((TreeId::ROOT, index_key(i as u64), None));
        }
        live_len = live.len() as u64;
    }
    if live_len >= cfg.max_nodes as u64 {
        return unbonded(rejected(format!(
            "the registry is full ({} active nodes)",
            cfg.max_nodes
        )));
    }
    let policy = policy(view, cfg)?;
    let claims = match verify_evidence(view, chain_id, &policy, &owner, r, now)? {
        Ok(claims) => claims,
        Err(reason) => return unbonded(rejected(reason)),
    };
    // One active identity per chip: the same owner's new identity replaces the old one
    // (and takes over its bond); anyone else's is refused while the old one is active.
    let chip = chip_of(r.platform, &claims.platform_id);
    let mut writes = pruning;
    let mut bond = None;
    if let Some(previous) = read_digest(view, &chip_key(&chip))?
        && let Some(mut old) = node(view, &previous)?
        && old.is_active(now.ms)
    {
        if old.owner != owner {
            return unbonded(rejected(format!(
                "this TEE chip already serves active node {previous} of another owner"
            )));
        }
        bond = Some(old.bond);
        old.bond = 0;
        old.revoked = Some(RevokeReason::Replaced { by: id });
        old.expires_ms = now.ms;
        writes.extend(membership_writes(&old));
    }
    let posted = match bond {
        Some(_) => 0,
        None => {
            let bond = cfg.fees.node_bond as u128;
            if spendable < bond {
                return unbonded(rejected(format!(
                    "the owner holds {spendable} base units beside the fee; a node's bond is {bond}"
                )));
            }
            bond
        }
    };
    let record = NodeRecord {
        identity_key: r.identity_key,
        platform: r.platform,
        region: r.region.clone(),
        measurement: claims.measurement.clone(),
        tcb: claims.tcb.svns.clone(),
        owner,
        registered_ms: now.ms,
        attested_ms: now.ms,
        expires_ms: now
            .ms
            .saturating_add(policy.token_validity_secs.saturating_mul(1000)),
        revoked: None,
        bond: bond.unwrap_or(posted),
        chip,
        fails_policy_since: None,
    };
    writes.extend(membership_writes(&record));
    writes.push((
        TreeId::ROOT,
        claims_key(&id),
        Some(claims.encode().to_vec()),
    ));
    writes.push((TreeId::ROOT, chip_key(&chip), Some(id.0.to_vec())));
    writes.push((TreeId::ROOT, index_key(live_len), Some(id.0.to_vec())));
    writes.push((
        TreeId::ROOT,
        NODE_INDEX_KEY.to_vec(),
        Some((live_len + 1).to_be_bytes().to_vec()),
    ));
    Ok((accepted(writes), posted))
}

/// A 32-byte value (a digest) stored under `key`.
fn read_digest(view: &impl StateView, key: &[u8]) -> Result<Option<Digest>, ExecError> {
    view.read(&TreeId::ROOT, key)?
        .map(|raw| {
            <[u8; 32]>::try_from(raw.as_slice())
                .map(Digest)
                .map_err(|_| corrupt("chip index", "not 32 bytes"))
        })
        .transpose()
}

/// `Deregister`: the owner ends its node's membership now; the bond unlocks after
/// `unbonding_ms`.
pub(crate) fn deregister(
    view: &impl StateView,
    owner: Address,
    id: &Digest,
    now: Now,
) -> Result<Effect, ExecError> {
    let Some(mut record) = node(view, id)? else {
        return Ok(rejected(
            pruned(view, id)?.unwrap_or_else(|| format!("node {id} is not registered")),
        ));
    };
    if record.owner != owner {
        return Ok(rejected(format!(
            "only node {id}'s owner (0x{}) may deregister it",
            record.owner
        )));
    }
    if !record.is_active(now.ms) {
        return Ok(rejected(format!(
            "node {id} is already {}",
            record.status(now.ms)
        )));
    }
    record.revoked = Some(RevokeReason::Deregistered);
    record.expires_ms = now.ms;
    Ok(accepted(membership_writes(&record)))
}

/// `WithdrawBond`: returns a node's bond to its owner once its membership has ended and
/// `unbonding_ms` passed (a lie found meanwhile forfeits it). Returns the amount returned.
pub(crate) fn withdraw_bond(
    view: &impl StateView,
    cfg: &RegistryConfig,
    owner: Address,
    id: &Digest,
    now: Now,
) -> Result<(Effect, u128), ExecError> {
    let (record_owner, bond, ended_ms, active) = match node(view, id)? {
        Some(record) => (
            record.owner,
            record.bond,
            record.expires_ms,
            record.is_active(now.ms),
        ),
        None => match tombstone(view, id)? {
            Some(t) => (t.owner, t.bond, t.ended_ms, false),
            None => return Ok((rejected(format!("node {id} is not registered")), 0)),
        },
    };
    if record_owner != owner {
        return Ok((
            rejected(format!(
                "only node {id}'s owner (0x{record_owner}) may withdraw its bond"
            )),
            0,
        ));
    }
    if bond == 0 {
        return Ok((rejected(format!("node {id} holds no bond")), 0));
    }
    if active {
        return Ok((
            rejected(format!("node {id} is still a member: deregister it first")),
            0,
        ));
    }
    let unlocks = ended_ms.saturating_add(cfg.fees.unbonding_ms);
    if now.ms < unlocks {
        return Ok((
            rejected(format!(
                "node {id}'s bond unlocks at block time {unlocks} ms ({} s from now)",
                (unlocks - now.ms).div_ceil(1000)
            )),
            0,
        ));
    }
    let write = match node(view, id)? {
        Some(mut record) => {
            record.bond = 0;
            (TreeId::ROOT, node_key(id), Some(record.encode().to_vec()))
        }
        None => {
            let mut t = tombstone(view, id)?.expect("read above");
            t.bond = 0;
            (TreeId::ROOT, tomb_key(id), Some(t.encode().to_vec()))
        }
    };
    Ok((accepted(vec![write]), bond))
}

/// `Reattest`: fresh evidence for the same identity key, measurement, owner and region,
/// sent by the node itself, extends membership. It does not clear missed deadlines: replaying
/// recent evidence must not buy a silent node its place back.
pub(crate) fn reattest(
    view: &impl StateView,
    cfg: &RegistryConfig,
    chain_id: &Digest,
    sender: &SenderKey,
    r: &Registration,
    now: Now,
) -> Result<Effect, ExecError> {
    let id = node_id(&r.identity_key);
    if sender.0 != r.identity_key {
        return Ok(rejected(format!(
            "only node {id} itself (its identity key's account) may re-attest it"
        )));
    }
    let Some(mut record) = node(view, &id)? else {
        return Ok(rejected(
            pruned(view, &id)?.unwrap_or_else(|| format!("node {id} is not registered")),
        ));
    };
    if r.region != record.region {
        return Ok(rejected(format!(
            "region {} differs from the registered one ({})",
            r.region, record.region
        )));
    }
    if let Some(reason) = &record.revoked {
        return Ok(rejected(format!("node {id} was revoked: {reason}")));
    }
    if now.ms >= record.expires_ms {
        return Ok(rejected(format!(
            "node {id} expired at {} ms; it must register with a new identity key",
            record.expires_ms
        )));
    }
    if r.platform != record.platform {
        return Ok(rejected("platform differs from the registered one"));
    }
    let policy = policy(view, cfg)?;
    let claims = match verify_evidence(view, chain_id, &policy, &record.owner, r, now)? {
        Ok(claims) => claims,
        Err(reason) => return Ok(rejected(reason)),
    };
    if claims.measurement != record.measurement {
        return Ok(rejected(format!(
            "measurement {} differs from the one registered ({})",
            hex::encode(&claims.measurement),
            hex::encode(&record.measurement)
        )));
    }
    record.tcb = claims.tcb.svns.clone();
    record.attested_ms = now.ms;
    record.expires_ms = now
        .ms
        .saturating_add(policy.token_validity_secs.saturating_mul(1000));
    // Evidence the current policy accepts ends any recovery grace.
    record.fails_policy_since = None;
    let mut writes = membership_writes(&record);
    writes.push((
        TreeId::ROOT,
        claims_key(&id),
        Some(claims.encode().to_vec()),
    ));
    Ok(accepted(writes))
}

/// Carries out an authorised governance action (a proposal the validators approved).
pub(crate) fn apply_action(
    view: &impl StateView,
    cfg: &RegistryConfig,
    action: &GovernanceAction,
    now: Now,
) -> Result<Effect, ExecError> {
    match action {
        GovernanceAction::SetPolicy(raw) => {
            let policy = match AttestationPolicy::decode(bytes::Bytes::from(raw.clone())) {
                Ok(p) => p,
                Err(e) => return Ok(rejected(format!("malformed policy: {e}"))),
            };
            if let Err(e) = policy.validate() {
                return Ok(rejected(format!("invalid policy: {e}")));
            }
            let mut writes = vec![(
                TreeId::ROOT,
                POLICY_KEY.to_vec(),
                Some(policy.encode().to_vec()),
            )];
            // Current members are judged by the new policy now: those it rejects keep their
            // membership for the recovery grace at most, to re-attest with evidence it accepts.
            for (mut record, _) in policy_failures(view, &policy, now)? {
                record.expires_ms = record.expires_ms.min(grace_end(&policy, now));
                record.fails_policy_since.get_or_insert(now.ms);
                writes.extend(membership_writes(&record));
            }
            Ok(accepted(writes))
        }
        GovernanceAction::AddRelease {
            image,
            measurements,
            ..
        } => {
            let mut policy = policy(view, cfg)?;
            let mut add = |platform: Platform, m: Vec<u8>| {
                let list = policy.measurements.entry(platform).or_default();
                let m = Measurement(m);
                if !list.contains(&m) {
                    list.push(m);
                }
            };
            for (tag, m) in measurements {
                let Some(platform) = Platform::from_tag(*tag) else {
                    return Ok(rejected(format!("unknown platform tag {tag}")));
                };
                if platform.is_simulated() {
                    return Ok(rejected(
                        "simulated measurements are recomputed from the image, not given",
                    ));
                }
                add(platform, m.clone());
            }
            if !image.is_empty() {
                // Validators recompute the simulated platforms' measurements themselves.
                for flavour in [
                    hyperchain_attest::sim::SimFlavour::Intel,
                    hyperchain_attest::sim::SimFlavour::Amd,
                ] {
                    add(
                        flavour.platform(),
                        hyperchain_attest::sim::sim_measurement(flavour, image).to_vec(),
                    );
                }
            }
            if let Err(e) = policy.validate() {
                return Ok(rejected(format!("release does not fit the policy: {e}")));
            }
            Ok(accepted(vec![(
                TreeId::ROOT,
                POLICY_KEY.to_vec(),
                Some(policy.encode().to_vec()),
            )]))
        }
        GovernanceAction::Revoke(revocation) => revoke(view, cfg, revocation, now),
        GovernanceAction::AdmitValidator { public_key } => {
            crate::validators::admit(view, public_key, now)
        }
        GovernanceAction::RemoveValidator { public_key } => {
            crate::validators::remove(view, public_key)
        }
    }
}

/// When the recovery grace of `policy`, taking effect at `now`, ends.
fn grace_end(policy: &AttestationPolicy, now: Now) -> u64 {
    now.ms
        .saturating_add(policy.recovery_grace_secs.saturating_mul(1000))
}

/// The active members whose recorded claims `policy` rejects, with why (at most the index's
/// [`MAX_NODES`] records and claims are read: a governance action pays it once).
pub fn policy_failures(
    view: &impl StateView,
    policy: &AttestationPolicy,
    now: Now,
) -> Result<Vec<(NodeRecord, hyperchain_attest::PolicyError)>, ExecError> {
    let mut out = Vec::new();
    for id in node_ids(view)? {
        let Some(record) = node(view, &id)? else {
            continue;
        };
        if !record.is_active(now.ms) {
            continue;
        }
        let Some(claims) = recorded_claims(view, &id)? else {
            return Err(corrupt("claims", format!("active node {id} has none")));
        };
        if let Err(e) = hyperchain_attest::evaluate_standing(policy, &claims) {
            out.push((record, e));
        }
    }
    Ok(out)
}

/// What a governance action would do to the current members, were it carried out at `now`
/// (`hyperchain governance preview`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    /// The members whose membership it ends: at once (a revocation) or, unless they re-attest
    /// with evidence it accepts, when the recovery grace ends (a policy).
    pub ended: Vec<Ended>,
    /// Each region with active members: its Intel and AMD members before and after.
    pub regions: Vec<RegionImpact>,
    /// Why the action would be refused, if it would.
    pub refused: Option<String>,
}

/// A member whose membership a previewed action ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The node.
    pub record: NodeRecord,
    /// Block time its membership would end (ms).
    pub at_ms: u64,
    /// Why (computed for display; never stored).
    pub reason: String,
}

/// A region's members before and after a previewed action.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionImpact {
    /// The region.
    pub region: String,
    /// Active Intel members now.
    pub intel_before: usize,
    /// Active Intel members once the action's effects are complete.
    pub intel_after: usize,
    /// Active AMD members now.
    pub amd_before: usize,
    /// Active AMD members once the action's effects are complete.
    pub amd_after: usize,
}

impl RegionImpact {
    /// Whether the action leaves the region without an Intel or an AMD member while it had
    /// one: cross-vendor contracts naming it would stall until one joins.
    pub fn loses_a_vendor(&self) -> bool {
        (self.intel_before > 0 && self.intel_after == 0)
            || (self.amd_before > 0 && self.amd_after == 0)
    }
}

/// What `action` would do to the current members at `now` (read-only).
pub fn preview(
    view: &impl StateView,
    cfg: &RegistryConfig,
    action: &GovernanceAction,
    now: Now,
) -> Result<Preview, ExecError> {
    let mut ended = Vec::new();
    let mut refused = None;
    match action {
        GovernanceAction::SetPolicy(raw) => {
            match AttestationPolicy::decode(bytes::Bytes::from(raw.clone())) {
                Err(e) => refused = Some(format!("malformed policy: {e}")),
                Ok(policy) => match policy.validate() {
                    Err(e) => refused = Some(format!("invalid policy: {e}")),
                    Ok(()) => {
                        for (record, e) in policy_failures(view, &policy, now)? {
                            ended.push(Ended {
                                at_ms: record.expires_ms.min(grace_end(&policy, now)),
                                reason: format!("fails the policy ({}): {e}", e.check()),
                                record,
                            });
                        }
                    }
                },
            }
        }
        GovernanceAction::AddRelease { .. }
        | GovernanceAction::AdmitValidator { .. }
        | GovernanceAction::RemoveValidator { .. } => {}
        GovernanceAction::Revoke(revocation) => match revocation_targets(view, revocation)? {
            Err(reason) => refused = Some(reason),
            Ok(targets) => {
                for (record, reason) in targets {
                    if record.is_active(now.ms) {
                        ended.push(Ended {
                            record,
                            at_ms: now.ms,
                            reason: reason.to_string(),
                        });
                    }
                }
            }
        },
    }
    let _ = cfg;
    let mut regions: std::collections::BTreeMap<String, RegionImpact> = Default::default();
    for id in node_ids(view)? {
        let Some(record) = node(view, &id)? else {
            continue;
        };
        if !record.is_active(now.ms) {
            continue;
        }
        let leaves = ended.iter().any(|e| e.record.id() == id);
        let entry = regions
            .entry(record.region.clone())
            .or_insert_with(|| RegionImpact {
                region: record.region.clone(),
                ..RegionImpact::default()
            });
        let intel = Platform::from_tag(record.platform)
            .is_some_and(|p| p.vendor() == hyperchain_attest::Vendor::Intel);
        let (before, after) = if intel {
            (&mut entry.intel_before, &mut entry.intel_after)
        } else {
            (&mut entry.amd_before, &mut entry.amd_after)
        };
        *before += 1;
        if !leaves {
            *after += 1;
        }
    }
    Ok(Preview {
        ended,
        regions: regions.into_values().collect(),
        refused,
    })
}

/// The nodes `revocation` revokes, with the reason each gets; `Err` says why it is refused.
fn revocation_targets(
    view: &impl StateView,
    revocation: &Revocation,
) -> Result<Result<Vec<(NodeRecord, RevokeReason)>, String>, ExecError> {
    let mut out = Vec::new();
    match revocation {
        Revocation::Node(id) => {
            let Some(record) = node(view, id)? else {
                return Ok(Err(
                    pruned(view, id)?.unwrap_or_else(|| format!("node {id} is not registered"))
                ));
            };
            out.push((record, RevokeReason::Governance));
        }
        Revocation::Measurement(m) => {
            for id in node_ids(view)? {
                if let Some(record) = node(view, &id)?
                    && record.measurement == *m
                {
                    out.push((record, RevokeReason::Measurement));
                }
            }
        }
        Revocation::TcbBelow { platform, mins } => {
            // Components of different shapes mean different things: each TCB is compared
            // with the minimum of its own shape, and a recall that leaves a current node's
            // shape out is refused rather than silently skipping it.
            let mut uncovered: std::collections::BTreeMap<usize, usize> = Default::default();
            for id in node_ids(view)? {
                let Some(record) = node(view, &id)? else {
                    continue;
                };
                if record.platform != *platform || record.revoked.is_some() {
                    continue;
                }
                match mins.iter().find(|m| m.len() == record.tcb.len()) {
                    None => *uncovered.entry(record.tcb.len()).or_default() += 1,
                    Some(min) if record.tcb.iter().zip(min).any(|(have, need)| have < need) => {
                        out.push((record, RevokeReason::TcbRecall))
                    }
                    Some(_) => {}
                }
            }
            if let Some((shape, count)) = uncovered.first_key_value() {
                return Ok(Err(format!(
                    "the recall gives no minimum for TCBs of {shape} components, which {count} \
                     registered node(s) of this platform have: give one minimum per shape"
                )));
            }
        }
    }
    Ok(Ok(out))
}

fn revoke(
    view: &impl StateView,
    cfg: &RegistryConfig,
    revocation: &Revocation,
    now: Now,
) -> Result<Effect, ExecError> {
    let mut writes = Vec::new();
    if let Revocation::Measurement(m) = revocation {
        // The measurement leaves the policy too, so its machines cannot return with new
        // identity keys. (Governance may accept it again with a new release.)
        let mut policy = policy(view, cfg)?;
        for accepted in policy.measurements.values_mut() {
            accepted.retain(|have| have.0 != *m);
        }
        policy
            .measurements
            .retain(|_, accepted| !accepted.is_empty());
        writes.push((
            TreeId::ROOT,
            POLICY_KEY.to_vec(),
            Some(policy.encode().to_vec()),
        ));
    }
    // Membership ends now; the bond is not forfeited (nothing was proven against the node)
    // and unlocks after the unbonding delay.
    let targets = match revocation_targets(view, revocation)? {
        Ok(targets) => targets,
        Err(reason) => return Ok(rejected(reason)),
    };
    for (mut record, reason) in targets {
        if record.revoked.is_none() {
            record.revoked = Some(reason);
            record.expires_ms = record.expires_ms.min(now.ms);
            writes.extend(membership_writes(&record));
        }
    }
    Ok(accepted(writes))
}
