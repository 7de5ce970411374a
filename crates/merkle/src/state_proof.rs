//! Two-level state proofs: a key in a sub-tree, and the sub-tree's link in the root tree.

use core::fmt;

use crate::hash::{EMPTY, Hash, hex, key_path, value_hash};
use crate::proof::{DecodeError, Proof, ProofError, Reader, verify_proof};

/// Prefix of the root-tree keys that link sub-trees: `b"\x00tree/"`.
pub const LINK_KEY_PREFIX: &[u8] = b"\x00tree/";

const FLAG_NO_SUBTREE: u8 = 0x00;
const FLAG_SUBTREE: u8 = 0x01;

/// Identifies a tree of the state: [`TreeId::ROOT`] or a sub-tree (a contract's storage uses the
/// contract's 32-byte address).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeId(pub [u8; 32]);

impl TreeId {
    /// The root tree (all zeros), whose root is the state root.
    pub const ROOT: TreeId = TreeId([0u8; 32]);

    /// Whether this is [`TreeId::ROOT`].
    pub fn is_root(&self) -> bool {
        *self == TreeId::ROOT
    }

    /// The root-tree key holding this sub-tree's root: `b"\x00tree/" ‖ id`.
    pub fn link_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(LINK_KEY_PREFIX.len() + 32);
        key.extend_from_slice(LINK_KEY_PREFIX);
        key.extend_from_slice(&self.0);
        key
    }
}

impl fmt::Debug for TreeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TreeId({})", hex(&self.0))
    }
}

impl fmt::Display for TreeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// Whether `key` is reserved in `tree`: root-tree keys starting with [`LINK_KEY_PREFIX`] are
/// written only by the state layer.
pub fn is_reserved_key(tree: &TreeId, key: &[u8]) -> bool {
    tree.is_root() && key.starts_with(LINK_KEY_PREFIX)
}

/// A proof of a key's value (or absence) against the state root.
///
/// - For a sub-tree: `link` proves the sub-tree's link leaf in the root tree (its presence with
///   the sub-tree root as value, or its absence when the sub-tree is empty) and `subtree` proves
///   the key against that sub-tree root (`None` exactly when the sub-tree is empty).
/// - For [`TreeId::ROOT`]: `link` proves the key itself and `subtree` is `None`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StateProof {
    /// Proof of the key inside its sub-tree.
    pub subtree: Option<Proof>,
    /// Proof in the root tree.
    pub link: Proof,
}

impl StateProof {
    /// Canonical encoding: `link ‖ flag ‖ [subtree]` (see the crate docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.link.encoded_len() + 1 + self.subtree.as_ref().map_or(0, Proof::encoded_len),
        );
        self.link.encode_into(&mut out);
        match &self.subtree {
            None => out.push(FLAG_NO_SUBTREE),
            Some(proof) => {
                out.push(FLAG_SUBTREE);
                proof.encode_into(&mut out);
            }
        }
        out
    }

    /// Decodes a canonical encoding; rejects anything else. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<StateProof, DecodeError> {
        let mut reader = Reader::new(bytes);
        let link = Proof::decode_from(&mut reader)?;
        let subtree = match reader.u8()? {
            FLAG_NO_SUBTREE => None,
            FLAG_SUBTREE => Some(Proof::decode_from(&mut reader)?),
            flag => return Err(DecodeError::SubtreeFlag(flag)),
        };
        reader.finish()?;
        Ok(StateProof { subtree, link })
    }
}

/// Verifies that `key` of `tree` holds `value` (`Some`) or is absent (`None`) in the state with
/// root `state_root`.
pub fn verify_state_proof(
    state_root: &Hash,
    tree: &TreeId,
    key: &[u8],
    value: Option<&[u8]>,
    proof: &StateProof,
) -> Result<(), ProofError> {
    if tree.is_root() {
        if proof.subtree.is_some() {
            return Err(ProofError::SubtreeProofForRootTree);
        }
        return verify_proof(state_root, key, value, &proof.link);
    }
    let subtree_root = match &proof.subtree {
        None => EMPTY,
        Some(subtree) => {
            let value_hash = value.map(value_hash);
            let root = subtree
                .implied_root(&key_path(key), value_hash.as_ref())
                .map_err(|e| ProofError::Subtree(Box::new(e)))?;
            if root == EMPTY {
                return Err(ProofError::EmptySubtreeProof);
            }
            root
        }
    };
    verify_subtree_root(state_root, tree, &subtree_root, &proof.link)?;
    if proof.subtree.is_none() && value.is_some() {
        // The sub-tree is empty, so no key of it holds a value.
        return Err(ProofError::Subtree(Box::new(ProofError::KeyAbsent)));
    }
    Ok(())
}

/// Verifies that `subtree_root` is the root of `tree` (`EMPTY` for an empty sub-tree) in the state
/// with root `state_root`, given the link proof (`StateProof::link`). A contract's storage
/// commitment is its sub-tree root.
///
/// The root tree has no link: for [`TreeId::ROOT`] this checks `subtree_root == state_root` and
/// ignores `link`.
pub fn verify_subtree_root(
    state_root: &Hash,
    tree: &TreeId,
    subtree_root: &Hash,
    link: &Proof,
) -> Result<(), ProofError> {
    if tree.is_root() {
        if subtree_root != state_root {
            return Err(ProofError::RootMismatch {
                expected: *state_root,
                computed: *subtree_root,
            });
        }
        return Ok(());
    }
    let linked = (*subtree_root != EMPTY).then_some(subtree_root.as_slice());
    verify_proof(state_root, &tree.link_key(), linked, link)
        .map_err(|e| ProofError::Link(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::Terminal;

    #[test]
    fn link_key_layout() {
        let tree = TreeId([0xab; 32]);
        let key = tree.link_key();
        assert_eq!(&key[..6], b"\x00tree/");
        assert_eq!(&key[6..], &[0xab; 32]);
        assert!(is_reserved_key(&TreeId::ROOT, &key));
        assert!(!is_reserved_key(&tree, &key));
        assert!(!is_reserved_key(&TreeId::ROOT, b"\x00tre"));
    }

    #[test]
    fn state_proof_roundtrip() {
        let empty = Proof {
            siblings: vec![],
            terminal: Terminal::Empty,
        };
        let with = StateProof {
            subtree: Some(empty.clone()),
            link: empty.clone(),
        };
        let without = StateProof {
            subtree: None,
            link: empty,
        };
        for proof in [with, without] {
            assert_eq!(StateProof::decode(&proof.encode()), Ok(proof));
        }
        assert_eq!(
            StateProof::decode(&[0, 0, 0, 2]),
            Err(DecodeError::SubtreeFlag(2))
        );
    }
}
