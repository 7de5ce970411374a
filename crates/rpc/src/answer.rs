//! What a validator answers, apart from HTTP: the checks and proofs behind `POST
//! /compute/fetch`, `GET /jobs`, `GET /node/{id}` and `GET /block/{height}/txs`, over the
//! node's [`Ledger`].
//!
//! The server's handlers call these functions and turn an [`AnswerError`] into its status
//! code; in-process clients (the compute daemon's in simulations,
//! `hyperchain_compute::client::InProcessClient`) call the same functions, so a node answers
//! them exactly as it answers HTTP. Time is an argument: the server passes its clock, a
//! simulation its runtime's.

use crate::api::{
    COMPUTE_REQUEST_WINDOW_MS, ComputeFetchRequest, JobView, JobsResponse, NodeView, ProvenEntry,
};
use commonware_codec::DecodeExt as _;
use hyperchain_chain::execute::{ExecError, code_key, contract_key};
use hyperchain_chain::ledger::Ledger;
use hyperchain_chain::{lanes, registry};
use hyperchain_state::{Snapshot, TreeId};
use hyperchain_types::{Address, Block, ComputeRequest, Digest, Header, JobState};

/// Most jobs one `GET /jobs` answer lists.
pub const MAX_JOBS_LISTED: usize = 1_000;

/// Why a request gets no answer; each kind has its HTTP status (in brackets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The request is malformed or asks for something impossible (400).
    #[error("{0}")]
    BadRequest(String),
    /// A compute request whose signature or timestamp does not hold (401).
    #[error("{0}")]
    Unauthorized(String),
    /// A compute request from a node that is not a current member (403).
    #[error("{0}")]
    Forbidden(String),
    /// What was asked for does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The node cannot answer yet, e.g. it lacks its latest block's finality certificate
    /// (503).
    #[error("{0}")]
    Unavailable(String),
    /// The node itself failed: its state or index (500).
    #[error("node failure: {0}")]
    Node(String),
}

impl AnswerError {
    fn node(error: impl std::fmt::Display) -> Self {
        AnswerError::Node(error.to_string())
    }
}

impl From<ExecError> for AnswerError {
    fn from(e: ExecError) -> Self {
        AnswerError::node(e)
    }
}

/// The finalized state and the header of the block it is the post-state of, from one
/// snapshot.
pub fn finalized_state(ledger: &Ledger) -> Result<(Snapshot, Header), AnswerError> {
    let snapshot = ledger.snapshot().map_err(AnswerError::node)?;
    let height = snapshot.height().map_err(AnswerError::node)?;
    // The index is written before the state commit, so the block is there.
    let header = ledger
        .header(height)
        .map_err(AnswerError::node)?
        .ok_or_else(|| AnswerError::Node(format!("finalized block {height} missing")))?;
    Ok((snapshot, header))
}

/// The answer to a compute request, but for the finality certificate of its header (the
/// caller adds it: the node's marshal has it).
#[derive(Clone, Debug)]
pub struct ComputeAnswer {
    /// The header of the finalized state the entries are proven against.
    pub header: Header,
    /// The entries asked for, each with its proof.
    pub entries: Vec<ProvenEntry>,
}

/// Serves code and state to current members only, each value with its proof: checks the
/// request's signature by the identity key it names, that its timestamp is within
/// [`COMPUTE_REQUEST_WINDOW_MS`] of `now_ms`, and that the node is a current member at the
/// finalized block.
pub fn compute_fetch(
    ledger: &Ledger,
    req: &ComputeFetchRequest,
    now_ms: u64,
) -> Result<ComputeAnswer, AnswerError> {
    use commonware_cryptography::Verifier as _;
    use hyperchain_types::{COMPUTE_REQUEST_NAMESPACE, compute_request_message};
    let unauthorized = AnswerError::Unauthorized;
    let identity_key: [u8; 32] = req
        .identity_key
        .0
        .as_slice()
        .try_into()
        .map_err(|_| AnswerError::BadRequest("identity_key must be 32 bytes".into()))?;
    let request = ComputeRequest::decode(bytes::Bytes::from(req.request.0.clone()))
        .map_err(|e| AnswerError::BadRequest(format!("malformed request: {e}")))?;
    let signature = commonware_cryptography::ed25519::Signature::decode(bytes::Bytes::from(
        req.signature.0.clone(),
    ))
    .map_err(|_| unauthorized("malformed signature".into()))?;
    let public_key = hyperchain_types::SenderKey(identity_key)
        .public_key()
        .ok_or_else(|| unauthorized("identity_key is not an ed25519 public key".into()))?;
    let chain_id = ledger.genesis().header.chain_id;
    let message = compute_request_message(&chain_id, &identity_key, req.timestamp_ms, &request);
    if !public_key.verify(COMPUTE_REQUEST_NAMESPACE, &message, &signature) {
        return Err(unauthorized(
            "bad signature: the request is not signed by this identity key".into(),
        ));
    }
    if now_ms.abs_diff(req.timestamp_ms) > COMPUTE_REQUEST_WINDOW_MS {
        return Err(unauthorized(format!(
            "stale request: timestamp {} ms is more than {COMPUTE_REQUEST_WINDOW_MS} ms from \
             this node's clock ({now_ms} ms)",
            req.timestamp_ms
        )));
    }
    let (snapshot, header) = finalized_state(ledger)?;
    let id = hyperchain_types::node_id(&identity_key);
    if let Err(reason) = registry::membership(&snapshot, &id, header.timestamp_ms)? {
        return Err(AnswerError::Forbidden(format!(
            "not a current compute node: {reason}"
        )));
    }
    let prove = |tree: TreeId, key: Vec<u8>| -> Result<ProvenEntry, AnswerError> {
        let value = snapshot.get(&tree, &key).map_err(AnswerError::node)?;
        let proof = snapshot.prove(&tree, &key).map_err(AnswerError::node)?;
        Ok(ProvenEntry {
            tree: Digest(tree.0),
            key: crate::api::Hex(key),
            value: value.map(crate::api::Hex),
            proof: crate::api::Hex(proof.encode()),
        })
    };
    let mut entries = Vec::new();
    match request {
        ComputeRequest::Code(hash) => {
            for index in 0u16.. {
                let entry = prove(TreeId::ROOT, code_key(&hash, index))?;
                let done = entry.value.is_none();
                entries.push(entry);
                if done {
                    break;
                }
            }
        }
        ComputeRequest::State { contract, keys } => {
            for key in keys {
                entries.push(prove(TreeId(contract.0), key)?);
            }
        }
        ComputeRequest::Job(id) => {
            let job = lanes::job(&snapshot, &id)?
                .ok_or_else(|| AnswerError::NotFound(format!("no job {id}")))?;
            entries.push(prove(TreeId::ROOT, lanes::job_key(&id))?);
            entries.push(prove(TreeId::ROOT, lanes::lane_key(&job.contract))?);
            entries.push(prove(TreeId::ROOT, contract_key(&job.contract))?);
        }
    }
    Ok(ComputeAnswer { header, entries })
}

/// Which jobs `GET /jobs` lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobsQuery {
    /// Jobs of this contract's lane (the latest `limit`); otherwise every unresolved job.
    pub contract: Option<Address>,
    /// Only jobs assigned to this node that it has not answered.
    pub node: Option<Digest>,
    /// Only jobs in this state: `waiting`, `assigned`, `stalled`, `done` or `failed`.
    pub state: Option<String>,
    /// At most this many (default and cap [`MAX_JOBS_LISTED`]).
    pub limit: Option<usize>,
}

impl JobsQuery {
    /// The jobs assigned to `node` that it has not answered: each lane's head and the jobs
    /// following it on the same committee (a compute node's work).
    pub fn assigned_to(node: Digest) -> Self {
        JobsQuery {
            node: Some(node),
            ..JobsQuery::default()
        }
    }
}

/// The jobs `query` asks for, on the finalized state.
pub fn jobs(ledger: &Ledger, query: &JobsQuery) -> Result<JobsResponse, AnswerError> {
    if let Some(state) = &query.state
        && !["waiting", "assigned", "stalled", "done", "failed"].contains(&state.as_str())
    {
        return Err(AnswerError::BadRequest(format!(
            "bad state `{state}`: expected waiting, assigned, stalled, done or failed"
        )));
    }
    let node = query.node;
    let limit = query.limit.unwrap_or(MAX_JOBS_LISTED).min(MAX_JOBS_LISTED);
    let (snapshot, header) = finalized_state(ledger)?;
    let mut ranges = Vec::new();
    match query.contract {
        Some(contract) => {
            let lane = lanes::lane(&snapshot, &contract)?.ok_or_else(|| {
                AnswerError::NotFound(format!("{contract} is not a TEE contract"))
            })?;
            ranges.push((
                contract,
                lane.next_seq.saturating_sub(limit as u64),
                lane.next_seq,
                false,
            ));
        }
        None => {
            // Only a lane's head and the jobs following it on its committee are ever assigned
            // or stalled: a node's work, or those states, need that run of each lane however
            // long the queues behind it are.
            let runs_only =
                node.is_some() || matches!(query.state.as_deref(), Some("assigned" | "stalled"));
            for contract in lanes::active_lanes(&snapshot)? {
                if let Some(lane) = lanes::lane(&snapshot, &contract)? {
                    let to = if runs_only {
                        lane.next_seq.min(
                            lane.head
                                .saturating_add(u64::from(registry::MAX_PIPELINE_DEPTH)),
                        )
                    } else {
                        lane.next_seq
                    };
                    ranges.push((contract, lane.head, to, runs_only));
                }
            }
        }
    }
    let mut jobs = Vec::new();
    'lanes: for (contract, from, to, runs_only) in ranges {
        for seq in from..to {
            let Some(job) = lanes::lane_job(&snapshot, &contract, seq)? else {
                continue;
            };
            if runs_only && seq > from && job.state != JobState::Assigned {
                // The end of the head's run.
                break;
            }
            if query
                .state
                .as_deref()
                .is_some_and(|s| s != job.state_name())
            {
                continue;
            }
            if let Some(node) = &node {
                let awaits = job.state == JobState::Assigned
                    && job.assignment.as_ref().is_some_and(|a| {
                        a.committee.iter().any(|m| m.id == *node)
                            && !a.votes.iter().any(|v| v.node_id() == *node)
                    });
                if !awaits {
                    continue;
                }
            }
            jobs.push(JobView::from(&job));
            if jobs.len() >= limit {
                break 'lanes;
            }
        }
    }
    Ok(JobsResponse {
        height: header.height,
        jobs,
    })
}

/// A compute node's record with its liveness, at the finalized block's time; not found if it
/// never registered, or (saying why) if its record was pruned.
pub fn node(ledger: &Ledger, id: &Digest) -> Result<NodeView, AnswerError> {
    let (snapshot, header) = finalized_state(ledger)?;
    let Some(record) = registry::node(&snapshot, id)? else {
        // A pruned node answers with why it left.
        let reason = registry::pruned(&snapshot, id)?;
        return Err(AnswerError::NotFound(
            reason.unwrap_or_else(|| format!("no node {id}")),
        ));
    };
    let l = lanes::liveness(&snapshot, id)?;
    Ok(NodeView::new(&record, header.timestamp_ms).with_liveness(l.misses, l.suspended_until_ms))
}

/// The finalized block at `height` with its transactions (`None`: not finalized).
pub fn block(ledger: &Ledger, height: u64) -> Result<Option<Block>, AnswerError> {
    ledger.block(height).map_err(AnswerError::node)
}
