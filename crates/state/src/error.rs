//! Errors of the state store.

use hyperchain_merkle::{TreeError, TreeId};

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A key in a batch is longer than [`crate::MAX_KEY_LEN`].
    #[error("key of {len} bytes in tree {tree} exceeds the {max}-byte limit", max = crate::MAX_KEY_LEN)]
    KeyTooLarge {
        /// The tree written.
        tree: TreeId,
        /// Length of the key.
        len: usize,
    },
    /// A value in a batch is longer than [`crate::MAX_VALUE_LEN`].
    #[error("value of {len} bytes in tree {tree} exceeds the {max}-byte limit", max = crate::MAX_VALUE_LEN)]
    ValueTooLarge {
        /// The tree written.
        tree: TreeId,
        /// Length of the value.
        len: usize,
    },
    /// A batch writes a root-tree key reserved for sub-tree links.
    #[error("root-tree keys starting with \"\\x00tree/\" are reserved for sub-tree links")]
    ReservedKey,
    /// A commit would move the recorded height backwards.
    #[error("cannot commit height {height}: the store is already at height {current}")]
    HeightRegression {
        /// Height of the rejected commit.
        height: u64,
        /// Height of the last commit.
        current: u64,
    },
    /// The root tree is not linked anywhere, so it has no link proof.
    #[error("the root tree has no link proof: its root is the state root")]
    RootTreeHasNoLink,
    /// The database was written by an incompatible version.
    #[error("unsupported state store format {found}, this build reads format {expected}")]
    Format {
        /// Format version found on disk.
        found: u8,
        /// Format version this build writes.
        expected: u8,
    },
    /// Stored data violates an invariant of the store.
    #[error("state store is corrupt: {0}")]
    Corrupt(String),
    /// Creating the directory of the database failed.
    #[error("cannot create state directory: {0}")]
    Io(#[from] std::io::Error),
    /// Opening the database failed.
    #[cfg(feature = "store")]
    #[error("cannot open state database: {0}")]
    Open(#[from] Box<redb::DatabaseError>),
    /// Starting a transaction failed.
    #[cfg(feature = "store")]
    #[error("state transaction: {0}")]
    Transaction(#[from] Box<redb::TransactionError>),
    /// Opening a table failed.
    #[cfg(feature = "store")]
    #[error("state table: {0}")]
    Table(#[from] Box<redb::TableError>),
    /// Reading or writing failed.
    #[cfg(feature = "store")]
    #[error("state storage: {0}")]
    Storage(#[from] Box<redb::StorageError>),
    /// Committing failed; nothing of the batch was written.
    #[cfg(feature = "store")]
    #[error("state commit: {0}")]
    Commit(#[from] Box<redb::CommitError>),
    /// Setting the commit durability failed.
    #[cfg(feature = "store")]
    #[error("state durability: {0}")]
    Durability(#[from] Box<redb::SetDurabilityError>),
}

#[cfg(feature = "store")]
macro_rules! boxed_from {
    ($($error:ty),*) => {$(
        impl From<$error> for StateError {
            fn from(error: $error) -> Self {
                Box::new(error).into()
            }
        }
    )*};
}

#[cfg(feature = "store")]
boxed_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<TreeError<StateError>> for StateError {
    fn from(error: TreeError<StateError>) -> Self {
        match error {
            TreeError::Store(error) => error,
            other => StateError::Corrupt(other.to_string()),
        }
    }
}
