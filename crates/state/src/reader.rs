//! What the state-transition function reads committed state through: a trait, so the function
//! itself needs no database (an enclave links the function, not the store).

use std::collections::BTreeMap;
use std::fmt;

use hyperchain_merkle::{Hash, TreeId};

use crate::batch::WriteBatch;
use crate::error::StateError;

/// Roots after applying a batch, as computed by a dry run or a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRoots {
    /// The new state root.
    pub state_root: Hash,
    /// The new root of every tree the batch writes (`EMPTY` for a tree left empty). For
    /// [`TreeId::ROOT`] this is the state root.
    pub tree_roots: BTreeMap<TreeId, Hash>,
}

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A consistent, read-only view of committed state: values, tree roots, and the roots a batch
/// would produce on top of it. [`crate::Snapshot`] is the store's implementation.
pub trait StateReader: fmt::Debug + Send + Sync {
    /// The value of `key` in `tree`.
    fn get(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// The root of `tree` (the state root for [`TreeId::ROOT`]).
    fn tree_root(&self, tree: &TreeId) -> Result<Hash, StateError>;

    /// The roots `batch` would produce on top of this view, writing nothing.
    fn compute_roots(&self, batch: &WriteBatch) -> Result<BatchRoots, StateError>;

    /// Up to `limit` entries of `tree` whose key starts with `prefix`, in key order (for
    /// queries over committed state; block execution never scans).
    fn scan_prefix(
        &self,
        tree: &TreeId,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StateError>;

    /// The state root `batch` would produce on top of this view.
    fn compute_root(&self, batch: &WriteBatch) -> Result<Hash, StateError> {
        Ok(self.compute_roots(batch)?.state_root)
    }
}
