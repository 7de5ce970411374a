//! Sparse Merkle tree: hashing, batch updates over a node store, inclusion and exclusion proofs.
//!
//! This crate is pure (no I/O) so that light clients and enclaves can verify proofs with it.
//! Everything described below is **consensus-critical**: changing any byte of it changes state
//! roots and proof encodings, which is a protocol change.
//!
//! # The tree
//!
//! A binary sparse Merkle tree over 256-bit paths with leaf compression (the "compact" sparse
//! Merkle tree of Diem's Jellyfish Merkle tree, without nibbles):
//!
//! - every key is mapped to a 256-bit **path** `sha256(key)`; bit `i` of a path is bit
//!   `7 - i % 8` of byte `i / 8` (most significant bit first); bit `i` chooses the child at depth
//!   `i + 1` (`0` = left, `1` = right);
//! - a **leaf** sits at the shallowest depth at which its path prefix is unique among the keys
//!   present; a subtree holding a single leaf is that leaf; a subtree holding no leaf is **empty**;
//!   every internal node therefore has at least two leaves below it;
//! - the position of a node is its depth (`0..=256`, the root is depth 0) and the first `depth`
//!   bits of the paths below it ([`NodeKey`]).
//!
//! Because of these rules the shape of the tree, and so its root, depends only on the set of
//! `(key, value)` pairs, never on the order in which they were written or removed.
//!
//! # Hashing (SHA-256, domain separated)
//!
//! ```text
//! path          = sha256(key)
//! value_hash    = sha256(value)
//! leaf_hash     = sha256(0x00 ‖ path ‖ value_hash)
//! internal_hash = sha256(0x01 ‖ left ‖ right)
//! EMPTY         = [0u8; 32]          (hash of an empty subtree, never hashed further on its own)
//! ```
//!
//! The root of an empty tree is `EMPTY`; the root of a tree with one key is that key's leaf hash.
//!
//! # Proof encoding ([`Proof::encode`])
//!
//! A proof lists the siblings along the key's path from the root down, then the **terminal**
//! found where the path leaves the tree: the leaf itself (inclusion), a different leaf occupying
//! the position (exclusion), or an empty position (exclusion).
//!
//! ```text
//! tag       u8        0x00 = empty terminal, 0x01 = leaf terminal
//! leaf      64 bytes  only for tag 0x01: path (32) ‖ value_hash (32)
//! depth     u16 BE    number of siblings, 0..=256; the terminal sits at this depth
//! bitmap    ceil(depth / 8) bytes; bit i (MSB first) set iff sibling i is not EMPTY;
//!           unused bits of the last byte are zero
//! siblings  32 bytes for every set bit, in order; sibling i is the hash of the node at
//!           depth i + 1 beside the path
//! ```
//!
//! The encoding is canonical: the decoder rejects unknown tags, more than 256 siblings, non-zero
//! padding bits, an encoded sibling equal to `EMPTY` and trailing bytes. [`Proof::decode`] never
//! panics on any input.
//!
//! Verification ([`verify_proof`]) recomputes the root from the terminal upwards and also
//! checks that the terminal is consistent with the claim: for inclusion the leaf's path and
//! value hash must equal those of the key and value; for exclusion the terminal must be empty or
//! a leaf with a different path; a leaf terminal must share the key's first `depth` path bits;
//! and (canonical trees only) when `depth > 0` the deepest sibling is never `EMPTY`.
//!
//! # Sub-trees and state proofs
//!
//! The state is one **root tree** ([`TreeId::ROOT`]) plus sub-trees (one per contract). A
//! non-empty sub-tree is linked into the root tree under the key [`TreeId::link_key`]
//! (`b"\x00tree/" ‖ tree_id`) whose value is the 32-byte sub-tree root; an empty sub-tree has no
//! link. A [`StateProof`] combines a proof in the sub-tree with a proof of the link, encoded as
//!
//! ```text
//! link proof (as above) ‖ flag u8 (0x00 = no sub-tree proof, 0x01 = one follows) ‖ [sub-tree proof]
//! ```
//!
//! For keys of the root tree itself, `link` proves the key directly and there is no sub-tree
//! proof. See [`verify_state_proof`] and [`verify_subtree_root`].

mod hash;
mod node;
mod proof;
mod state_proof;
mod update;

pub use hash::{EMPTY, Hash, internal_hash, key_path, leaf_hash, path_bit, sha256, value_hash};
pub use node::{Leaf, MAX_DEPTH, Node, NodeDecodeError, NodeKey};
pub use proof::{DecodeError, MAX_ENCODED_PROOF_LEN, Proof, ProofError, Terminal, verify_proof};
pub use state_proof::{
    LINK_KEY_PREFIX, StateProof, TreeId, is_reserved_key, verify_state_proof, verify_subtree_root,
};
pub use update::{
    MemoryNodeStore, NodeStore, TreeError, TreeUpdate, Update, apply_updates, prove, root_hash,
};
