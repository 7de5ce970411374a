//! Inclusion and exclusion proofs: structure, canonical encoding and verification.

use crate::hash::{EMPTY, Hash, hex, internal_hash, key_path, path_bit, value_hash};
use crate::node::{Leaf, MAX_DEPTH};

/// Upper bound of [`Proof::encode`]'s output: tag, leaf, depth, bitmap and 256 siblings.
pub const MAX_ENCODED_PROOF_LEN: usize = 1 + 64 + 2 + 32 + 32 * MAX_DEPTH as usize;

const TAG_EMPTY: u8 = 0x00;
const TAG_LEAF: u8 = 0x01;

/// Where a key's path leaves the tree.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Terminal {
    /// The position on the key's path is empty: the key is absent.
    Empty,
    /// A leaf occupies the position: the key's own leaf (inclusion) or another key's (exclusion).
    Leaf(Leaf),
}

/// A Merkle proof for one key: the siblings along its path from the root down, and the terminal
/// at depth `siblings.len()`. See the crate docs for the encoding.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Proof {
    /// `siblings[i]` is the hash of the node at depth `i + 1` beside the key's path (`EMPTY` for
    /// an empty sibling).
    pub siblings: Vec<Hash>,
    /// What the path ends in.
    pub terminal: Terminal,
}

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// More siblings than the tree has levels.
    #[error("proof has {0} siblings, at most 256 are possible")]
    TooManySiblings(usize),
    /// The terminal leaf is not on the key's path.
    #[error("the proof's terminal leaf does not lie on the key's path")]
    LeafOffPath,
    /// The deepest sibling is empty: a canonical tree would have collapsed this position.
    #[error("non-canonical proof: the sibling at depth {0} is empty")]
    EmptyDeepestSibling(usize),
    /// The key is present with another value.
    #[error("the key is present with a different value")]
    ValueMismatch,
    /// A value was claimed but the proof shows the key absent.
    #[error("the proof shows the key is absent, but a value was claimed")]
    KeyAbsent,
    /// Absence was claimed but the proof shows the key present.
    #[error("the proof shows the key is present, but absence was claimed")]
    KeyPresent,
    /// The recomputed root differs from the trusted one.
    #[error("the proof leads to root {}, expected {}", hex(.computed), hex(.expected))]
    RootMismatch {
        /// The trusted root.
        expected: Hash,
        /// The root the proof leads to.
        computed: Hash,
    },
    /// A proof of a root-tree key carried a sub-tree proof.
    #[error("keys of the root tree are proven by the link proof alone; a sub-tree proof was given")]
    SubtreeProofForRootTree,
    /// The sub-tree proof claims an empty sub-tree, yet a link is expected.
    #[error("the sub-tree proof describes an empty sub-tree, which is never linked")]
    EmptySubtreeProof,
    /// The link proof shows the sub-tree present, but no sub-tree proof was given.
    #[error("the sub-tree is linked in the state root but the proof has no sub-tree part")]
    MissingSubtreeProof,
    /// The link leaf of a sub-tree failed verification.
    #[error("sub-tree link: {0}")]
    Link(Box<ProofError>),
    /// The proof of the key inside its sub-tree failed verification.
    #[error("key in sub-tree: {0}")]
    Subtree(Box<ProofError>),
}

/// Why bytes are not a canonical proof encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended early.
    #[error("proof encoding truncated: {needed} bytes needed at offset {offset}, {available} left")]
    Truncated {
        /// Offset of the field being read.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// Unknown terminal tag.
    #[error("unknown proof terminal tag {0:#04x}")]
    TerminalTag(u8),
    /// Depth above 256.
    #[error("proof depth {0} exceeds 256")]
    TooManySiblings(u16),
    /// Bits past `depth` set in the bitmap.
    #[error("proof bitmap has bits set beyond its {0} siblings")]
    BitmapPadding(u16),
    /// A sibling flagged non-empty is `EMPTY` (it must be encoded by a clear bitmap bit).
    #[error("sibling {0} is encoded as a hash but is the empty hash")]
    EncodedEmptySibling(usize),
    /// Bytes after the proof.
    #[error("{0} unexpected bytes after the proof")]
    TrailingBytes(usize),
    /// Unknown state-proof flag.
    #[error("unknown sub-tree proof flag {0:#04x}")]
    SubtreeFlag(u8),
}

/// A bounds-checked reader over untrusted bytes.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    pub(crate) fn take(&mut self, needed: usize) -> Result<&'a [u8], DecodeError> {
        let rest = &self.bytes[self.offset..];
        if rest.len() < needed {
            return Err(DecodeError::Truncated {
                offset: self.offset,
                needed,
                available: rest.len(),
            });
        }
        self.offset += needed;
        Ok(&rest[..needed])
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn hash(&mut self) -> Result<Hash, DecodeError> {
        let mut out = EMPTY;
        out.copy_from_slice(self.take(32)?);
        Ok(out)
    }

    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.bytes.len() - self.offset {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes(extra)),
        }
    }
}

impl Proof {
    /// Canonical encoding (see the crate docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Length of [`Proof::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let leaf = match self.terminal {
            Terminal::Empty => 0,
            Terminal::Leaf(_) => 64,
        };
        let present = self.siblings.iter().filter(|s| **s != EMPTY).count();
        1 + leaf + 2 + self.siblings.len().div_ceil(8) + 32 * present
    }

    /// Appends the canonical encoding to `out`.
    ///
    /// # Panics
    ///
    /// If the proof has more than 256 siblings (such a proof cannot be built from a tree).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let depth = u16::try_from(self.siblings.len())
            .ok()
            .filter(|d| *d <= MAX_DEPTH)
            .expect("a proof has at most 256 siblings");
        match &self.terminal {
            Terminal::Empty => out.push(TAG_EMPTY),
            Terminal::Leaf(leaf) => {
                out.push(TAG_LEAF);
                out.extend_from_slice(&leaf.path);
                out.extend_from_slice(&leaf.value_hash);
            }
        }
        out.extend_from_slice(&depth.to_be_bytes());
        let mut bitmap = vec![0u8; self.siblings.len().div_ceil(8)];
        for (i, sibling) in self.siblings.iter().enumerate() {
            if *sibling != EMPTY {
                bitmap[i / 8] |= 0x80 >> (i % 8);
            }
        }
        out.extend_from_slice(&bitmap);
        for sibling in self.siblings.iter().filter(|s| **s != EMPTY) {
            out.extend_from_slice(sibling);
        }
    }

    /// Decodes a canonical encoding; rejects anything else. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Proof, DecodeError> {
        let mut reader = Reader::new(bytes);
        let proof = Proof::decode_from(&mut reader)?;
        reader.finish()?;
        Ok(proof)
    }

    pub(crate) fn decode_from(reader: &mut Reader<'_>) -> Result<Proof, DecodeError> {
        let terminal = match reader.u8()? {
            TAG_EMPTY => Terminal::Empty,
            TAG_LEAF => Terminal::Leaf(Leaf {
                path: reader.hash()?,
                value_hash: reader.hash()?,
            }),
            tag => return Err(DecodeError::TerminalTag(tag)),
        };
        let depth_bytes = reader.take(2)?;
        let depth = u16::from_be_bytes([depth_bytes[0], depth_bytes[1]]);
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooManySiblings(depth));
        }
        let depth_usize = usize::from(depth);
        let bitmap = reader.take(depth_usize.div_ceil(8))?;
        if depth % 8 != 0 {
            let last = bitmap[bitmap.len() - 1];
            if last & (0xffu8 >> (depth % 8)) != 0 {
                return Err(DecodeError::BitmapPadding(depth));
            }
        }
        let mut siblings = Vec::with_capacity(depth_usize);
        for i in 0..depth_usize {
            if bitmap[i / 8] & (0x80 >> (i % 8)) == 0 {
                siblings.push(EMPTY);
            } else {
                let sibling = reader.hash()?;
                if sibling == EMPTY {
                    return Err(DecodeError::EncodedEmptySibling(i));
                }
                siblings.push(sibling);
            }
        }
        Ok(Proof { siblings, terminal })
    }

    /// The root this proof leads to for a key with the given path and value hash (`None` =
    /// absent), after checking that the terminal supports that claim. The building block of
    /// [`verify_proof`] for callers that already hold the hashes.
    pub fn implied_root(&self, path: &Hash, value_hash: Option<&Hash>) -> Result<Hash, ProofError> {
        let depth = self.siblings.len();
        if depth > usize::from(MAX_DEPTH) {
            return Err(ProofError::TooManySiblings(depth));
        }
        if depth > 0 && self.siblings[depth - 1] == EMPTY {
            return Err(ProofError::EmptyDeepestSibling(depth));
        }
        let terminal_hash = match (&self.terminal, value_hash) {
            (Terminal::Empty, None) => EMPTY,
            (Terminal::Empty, Some(_)) => return Err(ProofError::KeyAbsent),
            (Terminal::Leaf(leaf), claim) => {
                // Depth 256 is only reachable by a path equal to the leaf's.
                let on_path = (0..depth).all(|i| path_bit(&leaf.path, i) == path_bit(path, i));
                if !on_path {
                    return Err(ProofError::LeafOffPath);
                }
                match claim {
                    Some(_) if leaf.path != *path => return Err(ProofError::KeyAbsent),
                    Some(expected) if leaf.value_hash != *expected => {
                        return Err(ProofError::ValueMismatch);
                    }
                    None if leaf.path == *path => return Err(ProofError::KeyPresent),
                    _ => leaf.hash(),
                }
            }
        };
        let mut hash = terminal_hash;
        for (i, sibling) in self.siblings.iter().enumerate().rev() {
            hash = if path_bit(path, i) {
                internal_hash(sibling, &hash)
            } else {
                internal_hash(&hash, sibling)
            };
        }
        Ok(hash)
    }

    /// Checks the proof against `root` for the given path and value hash (`None` = absence).
    pub fn verify_hashes(
        &self,
        root: &Hash,
        path: &Hash,
        value_hash: Option<&Hash>,
    ) -> Result<(), ProofError> {
        let computed = self.implied_root(path, value_hash)?;
        if computed != *root {
            return Err(ProofError::RootMismatch {
                expected: *root,
                computed,
            });
        }
        Ok(())
    }
}

/// Verifies that `proof` shows `key` holding `value` (`Some`) or being absent (`None`) in the
/// tree with root `root`.
pub fn verify_proof(
    root: &Hash,
    key: &[u8],
    value: Option<&[u8]>,
    proof: &Proof,
) -> Result<(), ProofError> {
    let value_hash = value.map(value_hash);
    proof.verify_hashes(root, &key_path(key), value_hash.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Proof {
        let mut siblings = vec![EMPTY; 11];
        siblings[0] = [7; 32];
        siblings[10] = [9; 32];
        Proof {
            siblings,
            terminal: Terminal::Leaf(Leaf {
                path: [1; 32],
                value_hash: [2; 32],
            }),
        }
    }

    #[test]
    fn encoding_roundtrip_and_length() {
        let proof = sample();
        let bytes = proof.encode();
        assert_eq!(bytes.len(), proof.encoded_len());
        assert_eq!(bytes.len(), 1 + 64 + 2 + 2 + 64);
        assert_eq!(Proof::decode(&bytes), Ok(proof));
        let empty = Proof {
            siblings: vec![],
            terminal: Terminal::Empty,
        };
        assert_eq!(empty.encode(), vec![0, 0, 0]);
        assert_eq!(Proof::decode(&[0, 0, 0]), Ok(empty));
    }

    #[test]
    fn decoder_rejects_non_canonical() {
        let bytes = sample().encode();
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(Proof::decode(&trailing), Err(DecodeError::TrailingBytes(1)));
        let mut padding = bytes.clone();
        padding[1 + 64 + 2 + 1] |= 0x01;
        assert_eq!(Proof::decode(&padding), Err(DecodeError::BitmapPadding(11)));
        assert_eq!(Proof::decode(&[2, 0, 0]), Err(DecodeError::TerminalTag(2)));
        assert_eq!(
            Proof::decode(&[0, 1, 1]),
            Err(DecodeError::TooManySiblings(257))
        );
        let mut zero_sibling = vec![0, 0, 1, 0x80];
        zero_sibling.extend_from_slice(&[0u8; 32]);
        assert_eq!(
            Proof::decode(&zero_sibling),
            Err(DecodeError::EncodedEmptySibling(0))
        );
        assert!(matches!(
            Proof::decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            Proof::decode(&[]),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn max_length_bound_holds() {
        let proof = Proof {
            siblings: vec![[5; 32]; 256],
            terminal: Terminal::Leaf(Leaf {
                path: [1; 32],
                value_hash: [2; 32],
            }),
        };
        assert_eq!(proof.encode().len(), MAX_ENCODED_PROOF_LEN);
    }
}
