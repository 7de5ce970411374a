//! Persistent, crash-safe authenticated key-value state with per-contract storage commitments.
//!
//! The state is a set of sparse Merkle trees ([`hyperchain_merkle`]) kept in one
//! [redb](https://docs.rs/redb) database:
//!
//! - [`TreeId::ROOT`] is the global tree; its root is the **state root**.
//! - Every other tree (a contract's storage, keyed by the contract's 32-byte address) is linked
//!   into the root tree under the reserved key `b"\x00tree/" ‖ tree_id`, whose value is the
//!   sub-tree's 32-byte root; the link is absent while the sub-tree is empty. One state root thus
//!   commits to everything, and a sub-tree root (a contract's **storage commitment**) is provable
//!   against it ([`Snapshot::prove_tree_root`], [`hyperchain_merkle::verify_subtree_root`]).
//! - Batches may not write reserved keys; keys are at most [`MAX_KEY_LEN`] bytes and values at
//!   most [`MAX_VALUE_LEN`] bytes.
//!
//! # Commits
//!
//! [`Store::commit`] validates the batch, then in **one** redb write transaction (durability
//! `Immediate`) updates every sub-tree, then the root tree with the changed links and the batch's
//! root-tree writes, and stores the changed nodes, the values and the metadata (state root and
//! height). A crash leaves either the whole commit or none of it. [`Store::compute_roots`] runs
//! the same computation without writing.
//!
//! # Tables (format version [`FORMAT_VERSION`])
//!
//! | table | key | value |
//! |---|---|---|
//! | `merkle_nodes` | `tree (32) ‖ depth (u16 BE) ‖ prefix[..ceil(depth/8)]` | `Node::encode()` (65 bytes) |
//! | `values` | `tree (32) ‖ key` | value (link entries hold the 32-byte sub-tree root) |
//! | `meta` | `"format"`, `"state_root"`, `"height"` | `[1]`, 32 bytes, u64 BE |
//!
//! Only the latest version of each node position is kept; history lives in blocks, not here.

mod batch;
mod error;
mod reader;
#[cfg(feature = "store")]
mod store;

pub use batch::{TreeWrites, WriteBatch};
pub use error::StateError;
pub use hyperchain_merkle::{EMPTY, Hash, Proof, StateProof, TreeId};
pub use reader::{BatchRoots, KeyValue, StateReader};
#[cfg(feature = "store")]
pub use store::{DATABASE_FILE, ExportChunk, ExportCursor, FORMAT_VERSION, Snapshot, Store};

/// Largest key a batch may write, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Largest value a batch may write, in bytes.
pub const MAX_VALUE_LEN: usize = 1 << 20;
