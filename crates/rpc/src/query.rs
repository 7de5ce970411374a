//! Read-only contract calls against one finalized state snapshot.
//!
//! The call runs exactly as in a block (same engine configuration, host API and fuel
//! accounting) on the contract's committed storage; its writes and events are reported and
//! discarded. Queries run on the RPC server's own engine (its own instance pool and
//! concurrency limit), never on the block executor's: no query load can make block execution
//! find its engine busy.

use commonware_codec::DecodeExt as _;
use hyperchain_chain::execute::{contract_key, read_code};
use hyperchain_state::{Snapshot, TreeId};
use hyperchain_types::{Address, CallOutcome, ContractRecord, ExecutionMode};
use hyperchain_vm::{Call, CallContext, Engine, StorageError, StorageReader};
use std::sync::Arc;

/// Why a query has no outcome.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Nothing is deployed at the address.
    #[error("no contract at {0}")]
    NoContract(Address),
    /// The node failed to read its state or run the engine.
    #[error("node failure: {0}")]
    Node(String),
}

/// The block context a query runs in: the finalized block whose post-state it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryContext {
    /// Its height.
    pub height: u64,
    /// Its timestamp.
    pub timestamp_ms: u64,
}

/// One contract's committed storage. Contracts of TEE lanes see no compute nodes (as their
/// committee members and arbiters do).
struct SnapshotStorage {
    snapshot: Arc<Snapshot>,
    tree: TreeId,
    accumulator: bool,
}

impl StorageReader for SnapshotStorage {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.snapshot
            .get(&self.tree, key)
            .map_err(|e| StorageError(e.to_string()))
    }

    fn compute_node_expiry(&self, node_id: &[u8; 32]) -> Result<Option<u64>, StorageError> {
        if !self.accumulator {
            return Ok(None);
        }
        let tree = &hyperchain_chain::registry::ACCUMULATOR;
        let raw = self
            .snapshot
            .get(tree, node_id)
            .map_err(|e| StorageError(e.to_string()))?;
        Ok(hyperchain_chain::registry::decode_expiry(raw.as_deref()))
    }
}

/// Runs `method` of `contract` on `snapshot` without committing anything. Any contract can be
/// queried, whatever its execution mode: a query is this node's own read-only run on
/// finalized state (capped by the server's fuel limit), not part of consensus.
#[allow(clippy::too_many_arguments)]
pub fn query(
    engine: &Engine,
    snapshot: Arc<Snapshot>,
    at: QueryContext,
    caller: Address,
    contract: Address,
    method: &str,
    input: &[u8],
    fuel_limit: u64,
) -> Result<CallOutcome, QueryError> {
    let node = |e: &dyn std::fmt::Display| QueryError::Node(e.to_string());
    let record = snapshot
        .get(&TreeId::ROOT, &contract_key(&contract))
        .map_err(|e| node(&e))?
        .ok_or(QueryError::NoContract(contract))?;
    let record = ContractRecord::decode(bytes::Bytes::from(record))
        .map_err(|e| QueryError::Node(format!("corrupt contract record of {contract}: {e}")))?;
    let compiled = match engine.cached(&record.code_hash) {
        Some(compiled) => compiled,
        None => {
            let code = read_code(|key| snapshot.get(&TreeId::ROOT, key), &record.code_hash)
                .map_err(|e| node(&e))?;
            engine.load(&code).map_err(|e| node(&e))?
        }
    };
    let reader = SnapshotStorage {
        snapshot,
        tree: TreeId(contract.0),
        accumulator: record.mode == ExecutionMode::Replicated,
    };
    engine
        .call(
            &compiled,
            Call {
                ctx: CallContext {
                    caller,
                    contract,
                    block_height: at.height,
                    block_time_ms: at.timestamp_ms,
                },
                method,
                input,
                fuel_limit,
            },
            Arc::new(reader),
        )
        .map_err(|e| node(&e))
}
