//! Tree nodes and their positions.

use core::fmt;

use crate::hash::{EMPTY, Hash, hex, internal_hash, leaf_hash, path_bit};

/// Maximum depth of a node: a leaf can sit at depth 256 (two paths differing only in the last
/// bit); internal nodes sit at depth 255 at most.
pub const MAX_DEPTH: u16 = 256;

/// The position of a node: its depth and the first `depth` bits of the paths below it (the other
/// bits are zero, so equal positions compare equal).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeKey {
    depth: u16,
    prefix: Hash,
}

impl NodeKey {
    /// The root position.
    pub const ROOT: NodeKey = NodeKey {
        depth: 0,
        prefix: EMPTY,
    };

    /// The position at `depth` on `path`.
    ///
    /// # Panics
    ///
    /// If `depth > 256`.
    pub fn new(depth: u16, path: &Hash) -> NodeKey {
        assert!(depth <= MAX_DEPTH, "node depth {depth} exceeds {MAX_DEPTH}");
        let mut prefix = *path;
        let full = usize::from(depth / 8);
        let rem = depth % 8;
        if full < prefix.len() {
            prefix[full] &= !(0xffu8 >> rem);
            prefix[full + 1..].fill(0);
        }
        NodeKey { depth, prefix }
    }

    /// Depth of the position, 0 for the root.
    pub fn depth(&self) -> u16 {
        self.depth
    }

    /// The path prefix, zero beyond `depth` bits.
    pub fn prefix(&self) -> &Hash {
        &self.prefix
    }

    /// The child position (`right` = bit 1). Only called below depth 256.
    pub(crate) fn child(&self, right: bool) -> NodeKey {
        debug_assert!(self.depth < MAX_DEPTH);
        let mut prefix = self.prefix;
        if right {
            let index = usize::from(self.depth);
            prefix[index / 8] |= 0x80 >> (index % 8);
        }
        NodeKey {
            depth: self.depth + 1,
            prefix,
        }
    }

    /// Whether `path` passes through this position.
    pub fn contains(&self, path: &Hash) -> bool {
        NodeKey::new(self.depth, path) == *self
    }

    /// Compact byte encoding for stores: `depth` (u16 big endian) followed by the first
    /// `ceil(depth / 8)` bytes of the prefix. Encodings of different positions differ, and they
    /// sort by depth, then prefix.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.depth.to_be_bytes());
        out.extend_from_slice(&self.prefix[..usize::from(self.depth).div_ceil(8)]);
    }

    /// Direction of `path` below this position (`true` = right). Only called below depth 256.
    pub(crate) fn direction(&self, path: &Hash) -> bool {
        path_bit(path, usize::from(self.depth))
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = usize::from(self.depth).div_ceil(8);
        write!(
            f,
            "depth {} prefix 0x{}",
            self.depth,
            hex(&self.prefix[..bytes])
        )
    }
}

/// A leaf: the path of its key and the hash of its value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Leaf {
    /// `sha256(key)`.
    pub path: Hash,
    /// `sha256(value)`.
    pub value_hash: Hash,
}

impl Leaf {
    /// `leaf_hash(path, value_hash)`.
    pub fn hash(&self) -> Hash {
        leaf_hash(&self.path, &self.value_hash)
    }
}

impl fmt::Debug for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leaf")
            .field("path", &hex(&self.path))
            .field("value_hash", &hex(&self.value_hash))
            .finish()
    }
}

/// A stored node. Internal nodes keep the hashes of both children (`EMPTY` for an empty child)
/// so a parent's hash never requires reading its children.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// A leaf.
    Leaf(Leaf),
    /// An internal node with at least two leaves below it.
    Internal {
        /// Hash of the left (bit 0) child.
        left: Hash,
        /// Hash of the right (bit 1) child.
        right: Hash,
    },
}

/// Why stored node bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeDecodeError {
    /// Wrong length.
    #[error("node encoding must be {expected} bytes, got {found}")]
    Length {
        /// Required length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// Unknown leading tag.
    #[error("unknown node tag {0:#04x}")]
    Tag(u8),
    /// An internal node without any non-empty child.
    #[error("internal node has two empty children")]
    EmptyInternal,
}

impl Node {
    /// Length of [`Node::encode`]'s output.
    pub const ENCODED_LEN: usize = 65;

    /// Hash of the node.
    pub fn hash(&self) -> Hash {
        match self {
            Node::Leaf(leaf) => leaf.hash(),
            Node::Internal { left, right } => internal_hash(left, right),
        }
    }

    /// Storage encoding: `0x00 ‖ path ‖ value_hash` or `0x01 ‖ left ‖ right`.
    pub fn encode(&self) -> [u8; Node::ENCODED_LEN] {
        let mut out = [0u8; Node::ENCODED_LEN];
        let (tag, a, b) = match self {
            Node::Leaf(leaf) => (0u8, &leaf.path, &leaf.value_hash),
            Node::Internal { left, right } => (1u8, left, right),
        };
        out[0] = tag;
        out[1..33].copy_from_slice(a);
        out[33..].copy_from_slice(b);
        out
    }

    /// Inverse of [`Node::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Node, NodeDecodeError> {
        if bytes.len() != Node::ENCODED_LEN {
            return Err(NodeDecodeError::Length {
                expected: Node::ENCODED_LEN,
                found: bytes.len(),
            });
        }
        let mut a = EMPTY;
        let mut b = EMPTY;
        a.copy_from_slice(&bytes[1..33]);
        b.copy_from_slice(&bytes[33..]);
        match bytes[0] {
            0 => Ok(Node::Leaf(Leaf {
                path: a,
                value_hash: b,
            })),
            1 if a == EMPTY && b == EMPTY => Err(NodeDecodeError::EmptyInternal),
            1 => Ok(Node::Internal { left: a, right: b }),
            tag => Err(NodeDecodeError::Tag(tag)),
        }
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Leaf(leaf) => leaf.fmt(f),
            Node::Internal { left, right } => f
                .debug_struct("Internal")
                .field("left", &hex(left))
                .field("right", &hex(right))
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_key_masks_and_encodes() {
        let path = [0xffu8; 32];
        let key = NodeKey::new(11, &path);
        assert_eq!(key.prefix()[0], 0xff);
        assert_eq!(key.prefix()[1], 0b1110_0000);
        assert!(key.prefix()[2..].iter().all(|b| *b == 0));
        let mut out = Vec::new();
        key.encode_into(&mut out);
        assert_eq!(out, vec![0, 11, 0xff, 0b1110_0000]);
        assert_eq!(NodeKey::new(0, &path), NodeKey::ROOT);
        assert_eq!(NodeKey::new(256, &path).prefix(), &path);
        assert!(key.contains(&path));
        assert!(!key.contains(&[0u8; 32]));
    }

    #[test]
    fn child_extends_prefix() {
        let mut path = [0u8; 32];
        path[0] = 0b0100_0000;
        let root = NodeKey::ROOT;
        let left = root.child(false);
        let right_of_left = left.child(true);
        assert_eq!(right_of_left, NodeKey::new(2, &path));
        assert!(!root.direction(&path));
        assert!(left.direction(&path));
    }

    #[test]
    fn node_roundtrip_and_rejects() {
        let leaf = Node::Leaf(Leaf {
            path: [1; 32],
            value_hash: [2; 32],
        });
        let internal = Node::Internal {
            left: EMPTY,
            right: [3; 32],
        };
        for node in [leaf, internal] {
            assert_eq!(Node::decode(&node.encode()), Ok(node));
        }
        assert!(Node::decode(&[0u8; 64]).is_err());
        let mut bad = internal.encode();
        bad[0] = 7;
        assert_eq!(Node::decode(&bad), Err(NodeDecodeError::Tag(7)));
        let mut empty = [0u8; 65];
        empty[0] = 1;
        assert_eq!(Node::decode(&empty), Err(NodeDecodeError::EmptyInternal));
    }
}
