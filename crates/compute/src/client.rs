//! What the daemon asks of validators ([`ChainClient`]), and its two implementations:
//! [`HttpClient`] over the validators' HTTP API with fallback over several of them (a real
//! node), and [`InProcessClient`] over one validator's ledger and mempool in the same process
//! (simulations on the deterministic runtime).
//!
//! Nothing a client returns is trusted by the enclave: compute fetches carry finality
//! certificates and proofs it verifies. The daemon uses the rest (listings, nonces, receipts)
//! only to decide what to ask the enclave and when; a lying validator can make it waste work
//! or miss a deadline, never sign something wrong.

mod http;
mod in_process;

pub use http::HttpClient;
pub use in_process::{CertificateCache, InProcessClient};

use hyperchain_chain::fees::FeeSchedule;
use hyperchain_rpc::api::{ComputeFetchRequest, ComputeFetchResponse, JobView, NodeView, TxStatus};
use hyperchain_types::{Address, Digest, SignedTransaction};
use std::future::Future;
use std::time::Duration;

/// The latest finalized block, as a validator reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tip {
    /// The chain it belongs to.
    pub chain_id: Digest,
    /// Its height.
    pub height: u64,
    /// Its digest (registration evidence binds it).
    pub digest: Digest,
    /// Its timestamp (ms since the Unix epoch).
    pub timestamp_ms: u64,
}

/// Why a validator gave no usable answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The client cannot be built (a bad URL, no validator at all).
    #[error("{0}")]
    Config(String),
    /// No validator could be reached.
    #[error("{validator} cannot be reached: {reason}")]
    Unreachable {
        /// The last validator tried.
        validator: String,
        /// The transport's error.
        reason: String,
    },
    /// The validator refused the request (malformed, unauthorized, not a member, a
    /// transaction its mempool does not take) or does not know what was asked for.
    #[error("{validator} refused: {reason}")]
    Refused {
        /// The validator.
        validator: String,
        /// Its reason.
        reason: String,
    },
    /// The validator cannot answer yet (e.g. it lacks the finality certificate of its latest
    /// block); asking again later may succeed.
    #[error("{validator} cannot answer yet: {reason}")]
    NotYet {
        /// The validator.
        validator: String,
        /// Its reason.
        reason: String,
    },
    /// The validator itself failed (its state or index).
    #[error("{validator} failed: {reason}")]
    Failed {
        /// The validator.
        validator: String,
        /// Its reason.
        reason: String,
    },
    /// The answer does not parse or contradicts itself.
    #[error("unexpected answer from {validator}: {reason}")]
    Invalid {
        /// The validator.
        validator: String,
        /// What was wrong.
        reason: String,
    },
}

/// Everything the compute daemon needs from validators.
///
/// The futures are `Send` so that the daemon can run them on any runtime's tasks. The enclave
/// calls [`ChainClient::compute_fetch`] from a blocking task and waits for it there, so that
/// future must complete without the calling thread's help: HTTP I/O is driven by the runtime's
/// other threads, and the in-process client answers at once, from memory.
pub trait ChainClient: Clone + Send + Sync + 'static {
    /// The latest finalized block.
    fn tip(&self) -> impl Future<Output = Result<Tip, ChainError>> + Send;

    /// Waits at most `wait` until a block at height `from` or above is finalized; returns the
    /// finalized height (below `from` if none came in time).
    fn wait_for_height(
        &self,
        from: u64,
        wait: Duration,
    ) -> impl Future<Output = Result<u64, ChainError>> + Send;

    /// The jobs assigned to `node` that it has not answered: each lane's head and the jobs
    /// following it on the same committee, by lane then position (`GET /jobs?node=`).
    fn assigned_jobs(
        &self,
        node: &Digest,
    ) -> impl Future<Output = Result<Vec<JobView>, ChainError>> + Send;

    /// A compute request signed by the enclave (`POST /compute/fetch`); the enclave checks
    /// the answer.
    fn compute_fetch(
        &self,
        request: &ComputeFetchRequest,
    ) -> impl Future<Output = Result<ComputeFetchResponse, ChainError>> + Send;

    /// Submits signed transactions; `Ok` once a validator's mempool took them all (validators
    /// gossip them to each other).
    fn submit(
        &self,
        txs: &[SignedTransaction],
    ) -> impl Future<Output = Result<(), ChainError>> + Send;

    /// A transaction's status: pending, finalized with its receipt, or dropped.
    fn tx_status(&self, id: &Digest) -> impl Future<Output = Result<TxStatus, ChainError>> + Send;

    /// An account's next nonce in the finalized state.
    fn nonce(&self, account: &Address) -> impl Future<Output = Result<u64, ChainError>> + Send;

    /// The chain's fee schedule.
    fn fees(&self) -> impl Future<Output = Result<FeeSchedule, ChainError>> + Send;

    /// A compute node's record (`None`: never registered).
    fn node(
        &self,
        id: &Digest,
    ) -> impl Future<Output = Result<Option<NodeView>, ChainError>> + Send;

    /// The transactions of the finalized block at `height` (`None`: not finalized yet).
    fn block_transactions(
        &self,
        height: u64,
    ) -> impl Future<Output = Result<Option<Vec<SignedTransaction>>, ChainError>> + Send;
}
