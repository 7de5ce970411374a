//! hyperchain's shared types and their canonical encoding.
//!
//! Everything that crosses a process or trust boundary — call results today; blocks,
//! transactions, receipts and attestation records as the chain grows — is defined here with a
//! canonical [`commonware_codec`] encoding. Decoders bound every length: a value that decodes
//! is one the encoder could have produced, and arbitrary bytes yield an error, never a panic.

mod block;
pub mod consensus;
mod digest;
mod exec;
pub mod job;
pub mod receipt;
pub mod registry;
mod tx;

pub use block::{
    Block, ContractRecord, Header, Receipt, ReceiptStatus, Round, SEED_DOMAIN, SeedReveal,
    block_limits, reshare_digest, tx_root, tx_root_from_ids,
};
pub use digest::{Address, Digest, sha256, sha256_parts};
pub use exec::{
    CallOutcome, CallStatus, Event, TrapKind, WriteSet, limits, read_set_bytes, write_entry_bytes,
    write_set_bytes,
};
pub use job::{
    Assignment, CommitteeMember, Job, JobFailure, JobFunds, JobResult, JobState, LaneRecord,
    PRE_STATE_CHAIN_DOMAIN, ReceiptVote, Resolution, Sched, StallReason, VENDOR_AMD, VENDOR_INTEL,
    chain_next, job_limits, vendor_name,
};
pub use receipt::{
    ComputeReceipt, RECEIPT_NAMESPACE, ReceiptBody, ReceiptCommitment, RunId, SignedCommitment,
    SignedComputeReceipt, verify_commitment_signature,
};
pub use registry::{
    COMPUTE_REQUEST_NAMESPACE, ComputeRequest, GovernanceAction, NodeRecord, NodeTombstone,
    Proposal, Registration, Revocation, RevokeReason, compute_request_message, node_id,
};
pub use tx::{
    ExecutionMode, Fee, Payload, SenderKey, SignedTransaction, TX_NAMESPACE, Transaction,
    account_address, contract_address, tx_limits, tx_list_cfg,
};

/// Re-exported so users of these types need not depend on the codec crate directly.
pub use commonware_codec as codec;
