//! The JSON bodies of the API, shared by the server and the client.
//!
//! Byte strings are lower-case hex without a prefix ([`Hex`]); digests and addresses are 64 hex
//! digits (a `0x` prefix is accepted on input). Every type here serializes and deserializes,
//! so the client reads exactly what the server writes.

use hyperchain_types::{
    Address, Block, CallOutcome, CallStatus, Digest, Event, Header, Receipt, ReceiptStatus,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Bytes carried as a hex string.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hex(pub Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex(&s).map(Hex).map_err(serde::de::Error::custom)
    }
}

impl From<Vec<u8>> for Hex {
    fn from(bytes: Vec<u8>) -> Self {
        Hex(bytes)
    }
}

/// Decodes hex (an optional `0x` prefix is accepted) with a message saying what was wrong.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|e| format!("invalid hex: {e}"))
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What was wrong.
    pub error: String,
}

/// `POST /tx` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The canonical encoding of a `SignedTransaction`.
    pub tx: Hex,
}

/// `POST /tx` response (202 Accepted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitResponse {
    /// The transaction id.
    pub id: Digest,
}

/// Most transactions in one `POST /txs` request.
pub const MAX_SUBMIT_BATCH: usize = 2_000;

/// `POST /txs` request: several transactions at once (their signatures are checked as one
/// batch, which costs about half as much per transaction).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBatchRequest {
    /// Canonical encodings of `SignedTransaction`s, at most [`MAX_SUBMIT_BATCH`].
    pub txs: Vec<Hex>,
}

/// `POST /txs` response (200): one result per submitted transaction, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitBatchResponse {
    /// The verdicts.
    pub results: Vec<SubmitResult>,
}

/// The verdict on one transaction of a `POST /txs`: `id` if accepted, else `error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitResult {
    /// The transaction id, if the mempool accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Digest>,
    /// Why it was refused (the same message `POST /tx` would give).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /tx/{id}` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// Accepted by this node's mempool, not finalized yet.
    Pending,
    /// Finalized, with its receipt.
    Finalized {
        /// The receipt.
        receipt: ReceiptView,
    },
    /// Accepted by this node, but another transaction of the same sender with the same nonce
    /// was finalized, so it never will be.
    Dropped {
        /// Why.
        reason: String,
    },
    /// Not known to this node (the server answers 404; the client maps it to this).
    Unknown,
}

/// A receipt of a finalized transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    /// The transaction id.
    pub tx_id: Digest,
    /// Height of the block that includes it.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// What happened.
    pub outcome: ReceiptOutcome,
    /// Fuel consumed (0 for deploys and rejections).
    pub fuel_used: u64,
    /// What its payer was charged, tip included, in base units (1 HYP = 10^9).
    #[serde(default)]
    pub fee: u64,
}

/// What a finalized transaction did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptOutcome {
    /// A contract was deployed.
    Deployed {
        /// Its address.
        address: Address,
        /// SHA-256 of its module.
        code_hash: Digest,
    },
    /// A call ran (successfully or not).
    Called {
        /// How it ended.
        #[serde(flatten)]
        status: CallStatusView,
        /// Return data.
        output: Hex,
        /// Events in emission order.
        events: Vec<EventView>,
    },
    /// Valid but not applicable; its nonce was consumed and nothing else changed.
    Rejected {
        /// Why.
        reason: String,
    },
    /// A registry or governance transaction was applied, or a compute receipt counted.
    Accepted,
    /// A call to a TEE contract became a job on its lane (`GET /job/{id}` follows it).
    Queued {
        /// The job id (the call's transaction id).
        job: Digest,
        /// Its lane position.
        lane_seq: u64,
    },
}

/// How a call ended: `status` is `ok`, `reverted` (detail: the message), `out_of_fuel` or
/// `trap` (detail: the trap kind, e.g. `memory_out_of_bounds`) — the JSON shape of
/// [`CallStatus`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallStatusView {
    /// `ok`, `reverted`, `out_of_fuel` or `trap`.
    pub status: String,
    /// The revert message or trap kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl CallStatusView {
    /// Whether the call succeeded.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

impl From<&CallStatus> for CallStatusView {
    fn from(status: &CallStatus) -> Self {
        let (status, detail) = match status {
            CallStatus::Ok => ("ok", None),
            CallStatus::Reverted(message) => ("reverted", Some(message.clone())),
            CallStatus::OutOfFuel => ("out_of_fuel", None),
            CallStatus::OutOfFee => ("out_of_fee", None),
            CallStatus::Trap(kind) => (
                "trap",
                // The trap kind's serde name, as in a `CallOutcome`'s JSON.
                serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned)),
            ),
        };
        CallStatusView {
            status: status.to_owned(),
            detail,
        }
    }
}

/// An event emitted by a contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// Topic.
    pub topic: Hex,
    /// Payload.
    pub data: Hex,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        EventView {
            topic: Hex(e.topic.clone()),
            data: Hex(e.data.clone()),
        }
    }
}

impl From<&Receipt> for ReceiptView {
    fn from(r: &Receipt) -> Self {
        let outcome = match &r.status {
            ReceiptStatus::Deployed { address, code_hash } => ReceiptOutcome::Deployed {
                address: *address,
                code_hash: *code_hash,
            },
            ReceiptStatus::Called {
                status,
                output,
                events,
            } => ReceiptOutcome::Called {
                status: status.into(),
                output: Hex(output.clone()),
                events: events.iter().map(EventView::from).collect(),
            },
            ReceiptStatus::Rejected(reason) => ReceiptOutcome::Rejected {
                reason: reason.clone(),
            },
            ReceiptStatus::Accepted => ReceiptOutcome::Accepted,
            ReceiptStatus::Queued { job, lane_seq } => ReceiptOutcome::Queued {
                job: *job,
                lane_seq: *lane_seq,
            },
        };
        ReceiptView {
            tx_id: r.tx_id,
            height: r.height,
            index: r.index,
            outcome,
            fuel_used: r.fuel_used,
            fee: r.fee,
        }
    }
}

/// A finalized block: its header fields, digest, transaction ids and finality certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    /// The block digest (SHA-256 of the header encoding).
    pub digest: Digest,
    /// Chain id.
    pub chain_id: Digest,
    /// Height.
    pub height: u64,
    /// Parent digest.
    pub parent: Digest,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Commitment to the transaction ids.
    pub tx_root: Digest,
    /// State root after the block.
    pub state_root: Digest,
    /// The consensus epoch it was proposed in.
    #[serde(default)]
    pub epoch: u64,
    /// The consensus view (within the epoch) it was proposed in.
    pub view: u64,
    /// Its parent's view (0 if the parent is of an earlier epoch).
    pub parent_view: u64,
    /// The proposer's consensus key (32 bytes; zeros for genesis).
    pub leader: Hex,
    /// The consensus seed it reveals, if any.
    pub seed: Option<SeedView>,
    /// SHA-256 of the reshare payload it carries, if any (the header commits to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reshare: Option<Digest>,
    /// Ids of the block's transactions, in order.
    pub txs: Vec<Digest>,
    /// The encoded simplex `Finalization` certificate of the block, when this node has it
    /// (never for genesis).
    pub finalization: Option<Hex>,
}

impl BlockView {
    /// The view of `block` with its certificate.
    pub fn new(block: &Block, finalization: Option<Vec<u8>>) -> Self {
        let h = &block.header;
        BlockView {
            digest: h.digest(),
            chain_id: h.chain_id,
            height: h.height,
            parent: h.parent,
            timestamp_ms: h.timestamp_ms,
            tx_root: h.tx_root,
            state_root: h.state_root,
            epoch: h.epoch,
            view: h.view,
            parent_view: h.parent_view,
            leader: Hex(h.leader.to_vec()),
            seed: h.seed.map(|s| SeedView {
                epoch: s.round.epoch,
                view: s.round.view,
                signature: Hex(s.signature.to_vec()),
                randomness: s.randomness(),
            }),
            reshare: (h.reshare != Digest::ZERO).then_some(h.reshare),
            txs: block.txs.iter().map(|tx| tx.id()).collect(),
            finalization: finalization.map(Hex),
        }
    }

    /// The header these fields describe (its digest must equal [`BlockView::digest`]; a
    /// seed signature that is not 48 bytes is dropped and a leader that is not 32 bytes
    /// zeroed, which changes the digest).
    pub fn header(&self) -> Header {
        Header {
            chain_id: self.chain_id,
            height: self.height,
            parent: self.parent,
            timestamp_ms: self.timestamp_ms,
            tx_root: self.tx_root,
            state_root: self.state_root,
            epoch: self.epoch,
            view: self.view,
            parent_view: self.parent_view,
            leader: self.leader.0.as_slice().try_into().unwrap_or([0; 32]),
            seed: self.seed.as_ref().and_then(|s| {
                Some(hyperchain_types::SeedReveal {
                    round: hyperchain_types::Round::new(s.epoch, s.view),
                    signature: s.signature.0.as_slice().try_into().ok()?,
                })
            }),
            reshare: self.reshare.unwrap_or(Digest::ZERO),
        }
    }
}

/// A consensus seed a block reveals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedView {
    /// The epoch of the round it signs.
    #[serde(default)]
    pub epoch: u64,
    /// The view of the round it signs.
    pub view: u64,
    /// The 48-byte threshold signature.
    pub signature: Hex,
    /// The randomness committees are drawn from (derived).
    pub randomness: Digest,
}

/// A consensus round: an epoch and a view within it (views start again in each epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoundView {
    /// The epoch.
    pub epoch: u64,
    /// The view within the epoch.
    pub view: u64,
}

impl From<hyperchain_types::Round> for RoundView {
    fn from(r: hyperchain_types::Round) -> RoundView {
        RoundView {
            epoch: r.epoch,
            view: r.view,
        }
    }
}

impl std::fmt::Display for RoundView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.epoch, self.view)
    }
}

/// `GET /blocks/subscribe` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocksResponse {
    /// Finalized blocks from the requested height on, in height order (empty on timeout).
    pub blocks: Vec<BlockView>,
    /// The latest finalized height when the response was made.
    pub tip: u64,
}

/// `GET /block/{height}/txs` response: a finalized block and its transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockTxsResponse {
    /// The block (its `txs` are the ids of `txs` below, in order).
    pub block: BlockView,
    /// The encoded signed transactions, in block order.
    pub txs: Vec<Hex>,
}

/// `POST /query` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// The contract.
    pub contract: Address,
    /// Exported method name.
    pub method: String,
    /// Input bytes (the SDK's argument encoding).
    #[serde(default)]
    pub input: Hex,
    /// Most fuel the call may use (the server's default if absent; capped by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_limit: Option<u64>,
    /// The caller the contract sees (the zero address if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Address>,
}

impl QueryRequest {
    /// A query of `method` with `input`, the node's default fuel limit and no caller.
    pub fn new(contract: Address, method: impl Into<String>, input: Vec<u8>) -> Self {
        QueryRequest {
            contract,
            method: method.into(),
            input: Hex(input),
            fuel_limit: None,
            caller: None,
        }
    }
}

/// `POST /query` response: the JSON shape of [`CallOutcome`], plus the state it ran on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryResponse {
    /// Height of the finalized state the call ran on.
    pub height: u64,
    /// That state's root.
    pub state_root: Digest,
    /// How the call ended.
    #[serde(flatten)]
    pub status: CallStatusView,
    /// Return data.
    pub output: Hex,
    /// Events the call would emit.
    pub events: Vec<EventView>,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Keys read.
    pub reads: Vec<Hex>,
    /// Writes the call would make (key hex → value hex, `null` for removals); discarded.
    pub writes: BTreeMap<String, Option<Hex>>,
}

impl QueryResponse {
    /// The response for `outcome` on the state at `height` with root `state_root`.
    pub fn new(height: u64, state_root: Digest, outcome: &CallOutcome) -> Self {
        QueryResponse {
            height,
            state_root,
            status: (&outcome.status).into(),
            output: Hex(outcome.output.clone()),
            events: outcome.events.iter().map(EventView::from).collect(),
            fuel_used: outcome.fuel_used,
            reads: outcome.reads.iter().cloned().map(Hex).collect(),
            writes: outcome
                .writes
                .iter()
                .map(|(k, v)| (hex::encode(k), v.clone().map(Hex)))
                .collect(),
        }
    }
}

/// `GET /sync/checkpoint`: the newest state checkpoint a node serves to joining nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointView {
    /// The checkpoint's height (an epoch's first or middle block).
    pub height: u64,
    /// The block, encoded.
    pub block: Hex,
    /// Its finalization certificate, encoded.
    pub finalization: Hex,
    /// Past epoch 0: the previous epoch's last block (it carries this epoch's key-generation
    /// output and validators) with its finalization.
    pub boundary: Option<BoundaryView>,
}

/// A finalized block and its certificate, encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundaryView {
    /// The block.
    pub block: Hex,
    /// Its finalization certificate.
    pub finalization: Hex,
}

/// `GET /sync/state/{height}`: a chunk of the state at a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChunkView {
    /// The checkpoint's height.
    pub height: u64,
    /// Entries in storage order (tree, then key), sub-tree links left out.
    pub entries: Vec<StateEntryView>,
    /// The `after` of the next chunk; none after the last.
    pub next: Option<Hex>,
}

/// One state entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateEntryView {
    /// The tree (32 bytes; zeros for the root tree).
    pub tree: Hex,
    /// The key.
    pub key: Hex,
    /// The value.
    pub value: Hex,
}

/// `GET /state/proof` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofResponse {
    /// The tree: 64 hex digits (a contract's address for its storage; all zeros for the root).
    pub tree: Digest,
    /// The key.
    pub key: Hex,
    /// Its value, or `null` if absent.
    pub value: Option<Hex>,
    /// The encoded `hyperchain_merkle::StateProof`.
    pub proof: Hex,
    /// The state root the proof is against.
    pub state_root: Digest,
    /// The height of the finalized block with that state root.
    pub height: u64,
}

/// `GET /status` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// The chain id.
    pub chain_id: Digest,
    /// Latest finalized height.
    pub height: u64,
    /// Its block digest.
    pub digest: Digest,
    /// Its timestamp.
    pub timestamp_ms: u64,
    /// The state root after it.
    pub state_root: Digest,
    /// Transactions in this node's mempool.
    pub mempool: usize,
    /// The node's software version.
    pub version: String,
    /// The consensus epoch (the validator set is fixed at genesis for now: always 0).
    #[serde(default)]
    pub epoch: u64,
    /// The validators of that epoch.
    #[serde(default)]
    pub validators: usize,
}

/// `GET /account/{address}/nonce` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceResponse {
    /// The account.
    pub address: Address,
    /// Its next nonce in the finalized state.
    pub nonce: u64,
    /// The height of that state.
    pub height: u64,
}

/// `GET /account/{address}` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountResponse {
    /// The account.
    pub address: Address,
    /// Its next nonce in the finalized state.
    pub nonce: u64,
    /// Its balance in base units (1 HYP = 10^9), as a decimal string (JSON numbers lose
    /// precision past 2^53).
    pub balance: String,
    /// The height of that state.
    pub height: u64,
}

impl AccountResponse {
    /// The balance in base units.
    pub fn balance(&self) -> Result<u128, String> {
        self.balance
            .parse()
            .map_err(|_| format!("balance `{}` is not a number", self.balance))
    }
}

/// `GET /fees` response: the chain's fee schedule and its total supply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeesResponse {
    /// What each resource costs, in base units.
    pub schedule: hyperchain_stf::fees::FeeSchedule,
    /// The total supply in base units (decimal string) in the finalized state.
    pub supply: String,
    /// The height of that state.
    pub height: u64,
}

/// What an open proposal would do to the current compute members, were it carried out now
/// (`GET /proposal/{id}/preview`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewView {
    /// The proposal.
    pub proposal: ProposalView,
    /// The finalized height the preview was computed at.
    pub height: u64,
    /// Block time of that height (ms).
    pub now_ms: u64,
    /// Why the action would be refused, if it would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The members whose membership it would end.
    pub ended: Vec<EndedView>,
    /// Each region with active members: Intel and AMD members before and after.
    pub regions: Vec<RegionImpactView>,
}

/// A member a previewed action would end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedView {
    /// The node.
    pub id: Digest,
    /// Its region.
    pub region: String,
    /// Its platform.
    pub platform: String,
    /// `intel` or `amd`.
    pub vendor: String,
    /// Block time its membership would end (ms): now for a revocation, the end of the
    /// recovery grace for a policy (unless it re-attests with evidence the policy accepts).
    pub at_ms: u64,
    /// Why.
    pub reason: String,
}

/// A region's members before and after a previewed action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionImpactView {
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
    /// It would lose its last Intel or its last AMD member: cross-vendor contracts naming it
    /// would stall until one joins.
    pub loses_a_vendor: bool,
}

/// A validator: its consensus key and p2p address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorView {
    /// The ed25519 consensus key (hex).
    pub public_key: Hex,
    /// Its p2p address.
    pub address: String,
}

/// A validator set and the epoch it is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochSetView {
    /// The epoch.
    pub epoch: u64,
    /// The validators, ordered by key.
    pub validators: Vec<ValidatorView>,
}

/// An announced validator candidate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateView {
    /// Its consensus key (hex).
    pub public_key: Hex,
    /// Its p2p address.
    pub address: String,
    /// Block time of its announcement (ms).
    pub announced_ms: u64,
    /// Block time it lapses unless admitted (ms).
    pub lapses_ms: u64,
}

/// `GET /validators`: the validator sets in the finalized state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorsView {
    /// The finalized height.
    pub height: u64,
    /// The current epoch's set (it governs).
    pub active: EpochSetView,
    /// The next epoch's set (fixed when the current epoch began).
    pub next: EpochSetView,
    /// The set governance has decided so far (committed by an epoch's middle block as the
    /// players of the resharing two epochs later).
    pub pending: Vec<ValidatorView>,
    /// Candidates waiting for admission.
    pub candidates: Vec<CandidateView>,
}

/// The open governance proposals (`GET /proposals`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalsView {
    /// The finalized height they were read at.
    pub height: u64,
    /// Block time of that height (ms): proposals with `lapses_ms` at or before it have lapsed
    /// and can no longer be approved.
    pub now_ms: u64,
    /// The proposals, by proposer (in validator order), oldest first.
    pub proposals: Vec<ProposalView>,
}

/// An open governance proposal (`GET /proposal/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    /// The proposal id (the proposing transaction's id).
    pub id: Digest,
    /// What it does: `add-release <version>`, `set-policy`, `revoke node <id>`,
    /// `revoke measurement <hex>`, `revoke tcb-below <platform>`, `admit validator <key>` or
    /// `remove validator <key>`.
    pub action: String,
    /// The validator account that proposed it.
    pub proposer: Address,
    /// Block time it was opened (ms).
    pub opened_ms: u64,
    /// Block time it lapses (ms).
    pub lapses_ms: u64,
    /// The validator accounts that approved it.
    pub approvals: Vec<Address>,
    /// Approvals it needs to take effect (2f+1 of the validators).
    pub needed: usize,
}

impl ProposalView {
    /// The view of proposal `id` among `validators` validators.
    pub fn new(id: Digest, p: &hyperchain_types::Proposal, validators: usize) -> ProposalView {
        use hyperchain_types::{GovernanceAction, Revocation};
        let action = match &p.action {
            GovernanceAction::AddRelease { version, .. } => format!("add-release {version}"),
            GovernanceAction::SetPolicy(_) => "set-policy".into(),
            GovernanceAction::Revoke(Revocation::Node(node)) => format!("revoke node {node}"),
            GovernanceAction::Revoke(Revocation::Measurement(m)) => {
                format!("revoke measurement {}", hex::encode(m))
            }
            GovernanceAction::Revoke(Revocation::TcbBelow { platform, .. }) => {
                format!("revoke tcb-below {platform}")
            }
            GovernanceAction::AdmitValidator { public_key } => {
                format!("admit validator {}", hex::encode(public_key))
            }
            GovernanceAction::RemoveValidator { public_key } => {
                format!("remove validator {}", hex::encode(public_key))
            }
        };
        ProposalView {
            id,
            action,
            proposer: p.proposer,
            opened_ms: p.opened_ms,
            lapses_ms: p
                .opened_ms
                .saturating_add(hyperchain_stf::governance::PROPOSAL_TTL_MS),
            approvals: p.approvals.clone(),
            needed: hyperchain_stf::governance::quorum(validators),
        }
    }
}

/// A registered compute node (`GET /nodes`, `GET /node/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// `SHA-256(identity key)`, the accumulator element.
    pub id: Digest,
    /// The ed25519 identity key generated in the node's TEE.
    pub identity_key: Hex,
    /// `sgx`, `tdx`, `sev-snp`, `sim-intel` or `sim-amd`.
    pub platform: String,
    /// `intel` or `amd`.
    pub vendor: String,
    /// The region it serves.
    pub region: String,
    /// The measurement recorded at registration.
    pub measurement: Hex,
    /// The TCB of its latest evidence.
    pub tcb: Vec<u16>,
    /// The account that registered it.
    pub owner: Address,
    /// Block time of registration (ms).
    pub registered_ms: u64,
    /// Block time of its latest accepted evidence (ms).
    pub attested_ms: u64,
    /// Membership ends then unless it re-attests (ms).
    pub expires_ms: u64,
    /// `active`, `expired` or `revoked`, at the finalized block's time.
    pub status: String,
    /// Why governance revoked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    /// Job deadlines it missed since its last suspension (enough of them suspend it from
    /// committees for the policy's `suspension_ms`).
    #[serde(default)]
    pub missed_deadlines: u32,
    /// It is not drawn into committees before this block time (ms); 0 if never suspended.
    #[serde(default)]
    pub suspended_until_ms: u64,
    /// The owner's bond still held for it, in base units (decimal string).
    #[serde(default)]
    pub bond: String,
    /// The TEE chip it runs on (one active identity per chip).
    #[serde(default)]
    pub chip: Option<Digest>,
    /// Block time (ms) since which the policy in force rejects its recorded evidence: its
    /// membership ends at `expires_ms` unless it re-attests with evidence the policy accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fails_policy_since: Option<u64>,
}

impl NodeView {
    /// This view with the node's missed deadlines and suspension.
    pub fn with_liveness(mut self, missed: u32, suspended_until_ms: u64) -> NodeView {
        self.missed_deadlines = missed;
        self.suspended_until_ms = suspended_until_ms;
        self
    }

    /// The view of `record` at block time `now_ms`.
    pub fn new(record: &hyperchain_types::NodeRecord, now_ms: u64) -> NodeView {
        let platform = hyperchain_attest::Platform::from_tag(record.platform);
        NodeView {
            id: record.id(),
            identity_key: Hex(record.identity_key.to_vec()),
            platform: platform.map_or_else(
                || format!("unknown({})", record.platform),
                |p| p.as_str().to_string(),
            ),
            vendor: platform.map_or_else(String::new, |p| p.vendor().to_string()),
            region: record.region.clone(),
            measurement: Hex(record.measurement.clone()),
            tcb: record.tcb.clone(),
            owner: record.owner,
            registered_ms: record.registered_ms,
            attested_ms: record.attested_ms,
            expires_ms: record.expires_ms,
            status: record.status(now_ms).to_string(),
            revoked: record.revoked.as_ref().map(ToString::to_string),
            missed_deadlines: 0,
            suspended_until_ms: 0,
            bond: record.bond.to_string(),
            chip: Some(record.chip),
            fails_policy_since: record.fails_policy_since,
        }
    }
}

/// `GET /nodes` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodesResponse {
    /// The finalized height the listing is from.
    pub height: u64,
    /// That block's time (statuses are at this time).
    pub timestamp_ms: u64,
    /// The nodes matching the filters, in registration order.
    pub nodes: Vec<NodeView>,
}

/// `GET /node/{id}/token` response: an attestation token. Verify it offline with
/// `hyperchain token verify` or `hyperchain_chain::token::verify_token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// The node, readable (not part of what is verified).
    pub node: NodeView,
    /// The encoded `NodeRecord`.
    pub record: Hex,
    /// The encoded header of the finalized block whose state holds the record.
    pub header: Hex,
    /// That block's encoded finality certificate.
    pub certificate: Hex,
    /// The encoded state proof of `node/ ‖ id` in the root tree.
    pub proof: Hex,
}

/// `GET /accumulator/{id}` response: whether a node id is in the identity accumulator, with
/// the proof (membership or non-membership) against a finalized block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipResponse {
    /// The node id asked about.
    pub id: Digest,
    /// Present in the accumulator and not expired at the block's time.
    pub member: bool,
    /// The expiry stored with it, if present.
    pub expires_ms: Option<u64>,
    /// The accumulator tree (its key is the id).
    pub tree: Digest,
    /// The encoded state proof (inclusion or exclusion).
    pub proof: Hex,
    /// The encoded header of the finalized block.
    pub header: Hex,
    /// Its encoded finality certificate (`null` if this node does not have it).
    pub certificate: Option<Hex>,
}

/// `POST /compute/fetch` request: a compute node's signed request for code or state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeFetchRequest {
    /// The node's identity key (its id is the SHA-256 of it).
    pub identity_key: Hex,
    /// The encoded `hyperchain_types::ComputeRequest`.
    pub request: Hex,
    /// When the node made the request (unix ms); must be within
    /// [`COMPUTE_REQUEST_WINDOW_MS`] of the validator's clock.
    pub timestamp_ms: u64,
    /// Ed25519 signature by the identity key over `compute_request_message(...)` in the
    /// `hyperchain/compute-request/v1` namespace.
    pub signature: Hex,
}

/// How far a compute request's timestamp may be from the validator's clock (replay window).
pub const COMPUTE_REQUEST_WINDOW_MS: u64 = 60_000;

/// One proven value of a `POST /compute/fetch` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenEntry {
    /// The tree (a contract's address, or all zeros for the root tree).
    pub tree: Digest,
    /// The key.
    pub key: Hex,
    /// The value (`null`: absent).
    pub value: Option<Hex>,
    /// The encoded state proof against `header`'s state root.
    pub proof: Hex,
}

/// `POST /compute/fetch` response: the values asked for, each with its proof against a
/// finalized header and that header's certificate, so the enclave trusts none of the hosts
/// in between.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeFetchResponse {
    /// The encoded finalized header.
    pub header: Hex,
    /// Its encoded finality certificate.
    pub certificate: Hex,
    /// For a code request: the code chunks (`code/ ‖ hash ‖ index` in the root tree, in
    /// order); for a state request: the keys asked for, in order.
    pub entries: Vec<ProvenEntry>,
}

/// A committee member of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// The node id.
    pub id: Digest,
    /// The region it was drawn for.
    pub region: String,
    /// `intel` or `amd`.
    pub vendor: String,
}

/// The committee responsible for a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentView {
    /// 0 for the first committee, +1 per reassignment.
    pub attempt: u32,
    /// Lane position of the job the committee was drawn for (the run's head); receipts name
    /// `run_head` and `attempt`.
    #[serde(default)]
    pub run_head: u64,
    /// The round whose seed drew it (a header reveals the seed).
    pub seed_round: RoundView,
    /// The randomness derived from that seed.
    pub seed: Digest,
    /// Height of the block that assigned it.
    pub assigned_height: u64,
    /// The run's deadline (ms): once `deadline_grace_blocks` blocks have ended past it without
    /// agreement, the job is drawn again.
    pub deadline_ms: u64,
    /// Blocks that have ended past the deadline so far.
    #[serde(default)]
    pub late_blocks: u32,
    /// The members, in selection order.
    pub committee: Vec<MemberView>,
    /// Members whose receipt was counted.
    pub answered: Vec<Digest>,
    /// Nodes excluded from this job (silent members of earlier committees).
    pub excluded: Vec<Digest>,
}

/// A resolved job's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResultView {
    /// How the call ended.
    #[serde(flatten)]
    pub status: CallStatusView,
    /// Return data.
    pub output: Hex,
    /// Events in emission order.
    pub events: Vec<EventView>,
    /// Fuel the call used (on the committee).
    pub fuel_used: u64,
    /// The contract's storage commitment after the job.
    pub post_state: Digest,
    /// Height of the block that applied it.
    pub height: u64,
    /// `agreed` or `arbitrated`.
    pub resolution: String,
    /// Members revoked by arbitration.
    pub revoked: Vec<Digest>,
}

/// A call to a TEE contract (`GET /job/{id}`, `GET /jobs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    /// The job id (the call's transaction id).
    pub id: Digest,
    /// The contract.
    pub contract: Address,
    /// Its lane position.
    pub lane_seq: u64,
    /// The calling account.
    pub caller: Address,
    /// The method.
    pub method: String,
    /// The input bytes.
    pub input: Hex,
    /// Its fuel limit.
    pub fuel_limit: u64,
    /// Height of the block that ordered it.
    pub height: u64,
    /// That block's consensus round.
    pub round: RoundView,
    /// Its committee is drawn by a seed of a later round than this (the round of the block
    /// that ordered it, made it the lane's head or sent it back to be drawn again).
    pub drawable_after: RoundView,
    /// `waiting`, `assigned`, `stalled`, `done` or `failed`.
    pub state: String,
    /// Why it is stalled, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The latest committee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<AssignmentView>,
    /// The result, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<JobResultView>,
    /// What the caller's escrow still holds (empty once the job ended and it was settled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow: Option<EscrowView>,
}

/// A job's escrow (docs/DESIGN.md §10), amounts in base units as decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowView {
    /// Held for the members' pay, arbitration and the result's state.
    pub held: String,
    /// Left for the receipts' inclusion.
    pub receipts: String,
    /// Most bytes of state the result may write (absent: unbounded, a chain without fees).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_state_bytes: Option<u64>,
}

impl From<&hyperchain_types::Job> for JobView {
    fn from(job: &hyperchain_types::Job) -> Self {
        use hyperchain_types::{JobState, Resolution};
        let (reason, result) = match &job.state {
            JobState::Stalled { reason, .. } => (Some(reason.to_string()), None),
            JobState::Failed(failure) => (
                Some(format!(
                    "failed at height {}: no committee could be formed ({})",
                    failure.height, failure.reason
                )),
                None,
            ),
            JobState::Done(r) => (
                None,
                Some(JobResultView {
                    status: (&r.status).into(),
                    output: Hex(r.output.clone()),
                    events: r.events.iter().map(EventView::from).collect(),
                    fuel_used: r.fuel_used,
                    post_state: r.post_state,
                    height: r.height,
                    resolution: match r.resolution {
                        Resolution::Agreed => "agreed".into(),
                        Resolution::Arbitrated { .. } => "arbitrated".into(),
                    },
                    revoked: match &r.resolution {
                        Resolution::Agreed => Vec::new(),
                        Resolution::Arbitrated { revoked } => revoked.clone(),
                    },
                }),
            ),
            _ => (None, None),
        };
        JobView {
            id: job.id,
            contract: job.contract,
            lane_seq: job.lane_seq,
            caller: job.caller,
            method: job.method.clone(),
            input: Hex(job.input.clone()),
            fuel_limit: job.fuel_limit,
            height: job.height,
            round: job.round.into(),
            drawable_after: job.drawable_after.into(),
            state: job.state_name().into(),
            reason,
            escrow: (job.funds.held + job.funds.receipts > 0).then(|| EscrowView {
                held: job.funds.held.to_string(),
                receipts: job.funds.receipts.to_string(),
                max_state_bytes: (job.funds.max_state_bytes != u64::MAX)
                    .then_some(job.funds.max_state_bytes),
            }),
            assignment: job.assignment.as_ref().map(|a| AssignmentView {
                attempt: a.attempt,
                run_head: a.run_head,
                seed_round: a.seed_round.into(),
                seed: a.seed,
                assigned_height: a.assigned_height,
                deadline_ms: a.deadline_ms,
                late_blocks: a.late_blocks,
                committee: a
                    .committee
                    .iter()
                    .map(|m| MemberView {
                        id: m.id,
                        region: m.region.clone(),
                        vendor: hyperchain_types::vendor_name(m.vendor).into(),
                    })
                    .collect(),
                answered: a.votes.iter().map(|v| v.node_id()).collect(),
                excluded: a.excluded.clone(),
            }),
            result,
        }
    }
}

/// `GET /jobs` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobsResponse {
    /// The finalized height the answer describes.
    pub height: u64,
    /// The jobs, by lane then lane position.
    pub jobs: Vec<JobView>,
}

/// A TEE contract's lane (`GET /lane/{contract}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneView {
    /// The contract.
    pub contract: Address,
    /// Its execution mode (`single`, `committee(k)`, `cross-vendor`).
    pub mode: String,
    /// Regions its committees are drawn from (cross-vendor).
    pub regions: Vec<String>,
    /// Jobs ordered so far.
    pub next_seq: u64,
    /// The oldest unresolved job's position (`next_seq` when idle).
    pub head: u64,
    /// The storage commitment after job `head − 1`.
    pub state: Digest,
    /// The pre-state the head's receipts must name: `state` when the head's committee was
    /// drawn for it, the chained pre-state when it followed the job before.
    pub chain: Digest,
    /// When a block looks at the lane next: `none` (idle, or nothing due), `draw` (its head
    /// is drawn at the start of the next block), `late` (its run is past its deadline, within
    /// the grace) or `due` (at the end of the first block after `due_ms`).
    #[serde(default)]
    pub queue: String,
    /// With `queue = due`: the start of the second it is due in (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_ms: Option<u64>,
}

/// Verifies a `POST /compute/fetch` answer with only the group key (in `light`): the header
/// is finalized and every entry's proof holds against its state root. Returns the header.
pub fn verify_compute_fetch(
    light: &hyperchain_stf::light::LightClient,
    resp: &ComputeFetchResponse,
) -> Result<hyperchain_types::Header, String> {
    use commonware_codec::DecodeExt as _;
    let header = hyperchain_types::Header::decode(bytes::Bytes::copy_from_slice(&resp.header.0))
        .map_err(|e| format!("malformed header: {e}"))?;
    light
        .verify_finalized(&header, &resp.certificate.0)
        .map_err(|e| e.to_string())?;
    verify_compute_fetch_proofs(resp)
}

/// The proofs of [`verify_compute_fetch`] alone: every entry against the answer's header,
/// whose finality the caller has already verified (e.g. the same header and certificate as a
/// verified earlier answer). Returns the header.
pub fn verify_compute_fetch_proofs(
    resp: &ComputeFetchResponse,
) -> Result<hyperchain_types::Header, String> {
    use commonware_codec::DecodeExt as _;
    let header = hyperchain_types::Header::decode(bytes::Bytes::copy_from_slice(&resp.header.0))
        .map_err(|e| format!("malformed header: {e}"))?;
    for entry in &resp.entries {
        let proof = hyperchain_merkle::StateProof::decode(&entry.proof.0)
            .map_err(|e| format!("malformed proof: {e}"))?;
        hyperchain_merkle::verify_state_proof(
            &header.state_root.0,
            &hyperchain_merkle::TreeId(entry.tree.0),
            &entry.key.0,
            entry.value.as_ref().map(|v| v.0.as_slice()),
            &proof,
        )
        .map_err(|e| {
            format!(
                "proof of key {} does not verify: {e}",
                hex::encode(&entry.key.0)
            )
        })?;
    }
    Ok(header)
}
