//! Write batches and their validation.

use std::collections::BTreeMap;

use hyperchain_merkle::{TreeId, is_reserved_key};

use crate::error::StateError;
use crate::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// The writes of one tree: key → new value (`None` deletes).
pub type TreeWrites = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A set of writes applied atomically by [`crate::Store::commit`]: per tree, key → new value
/// (`None` deletes). A later write of the same key replaces an earlier one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    trees: BTreeMap<TreeId, TreeWrites>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` of `tree` to `value` (`None` deletes it).
    pub fn set(&mut self, tree: TreeId, key: impl Into<Vec<u8>>, value: Option<Vec<u8>>) {
        self.trees
            .entry(tree)
            .or_default()
            .insert(key.into(), value);
    }

    /// Sets `key` of `tree` to `value`.
    pub fn put(&mut self, tree: TreeId, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.set(tree, key, Some(value.into()));
    }

    /// Deletes `key` of `tree` (a no-op if absent).
    pub fn delete(&mut self, tree: TreeId, key: impl Into<Vec<u8>>) {
        self.set(tree, key, None);
    }

    /// Forgets any pending write of `key` of `tree`: the value the batch is applied to
    /// stands. (To undo a write of a key that batch's base does not hold, at no cost to the
    /// state root.)
    pub fn discard(&mut self, tree: &TreeId, key: &[u8]) {
        if let Some(writes) = self.trees.get_mut(tree) {
            writes.remove(key);
        }
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.trees.values().map(BTreeMap::len).sum()
    }

    /// Whether the batch has no writes.
    pub fn is_empty(&self) -> bool {
        self.trees.values().all(BTreeMap::is_empty)
    }

    /// The writes of `tree`, if any.
    pub fn tree(&self, tree: &TreeId) -> Option<&TreeWrites> {
        self.trees.get(tree)
    }

    /// All writes, by tree in id order.
    pub fn trees(&self) -> impl Iterator<Item = (&TreeId, &TreeWrites)> {
        self.trees.iter()
    }

    /// Checks the limits and the reserved keys; [`crate::Store::commit`] does this before
    /// writing anything.
    pub fn validate(&self) -> Result<(), StateError> {
        for (tree, writes) in &self.trees {
            for (key, value) in writes {
                if key.len() > MAX_KEY_LEN {
                    return Err(StateError::KeyTooLarge {
                        tree: *tree,
                        len: key.len(),
                    });
                }
                if is_reserved_key(tree, key) {
                    return Err(StateError::ReservedKey);
                }
                if let Some(value) = value
                    && value.len() > MAX_VALUE_LEN
                {
                    return Err(StateError::ValueTooLarge {
                        tree: *tree,
                        len: value.len(),
                    });
                }
            }
        }
        Ok(())
    }
}
