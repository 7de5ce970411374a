//! SHA-256 and the domain-separated hashes of the tree.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: paths, value hashes and node hashes.
pub type Hash = [u8; 32];

/// Hash of an empty subtree (and root of an empty tree).
pub const EMPTY: Hash = [0u8; 32];

const LEAF_DOMAIN: u8 = 0x00;
const INTERNAL_DOMAIN: u8 = 0x01;

/// Plain SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

/// The tree path of a key: `sha256(key)`.
pub fn key_path(key: &[u8]) -> Hash {
    sha256(key)
}

/// The hash a leaf commits to for a value: `sha256(value)`.
pub fn value_hash(value: &[u8]) -> Hash {
    sha256(value)
}

/// `sha256(0x00 ‖ path ‖ value_hash)`.
pub fn leaf_hash(path: &Hash, value_hash: &Hash) -> Hash {
    Sha256::new()
        .chain_update([LEAF_DOMAIN])
        .chain_update(path)
        .chain_update(value_hash)
        .finalize()
        .into()
}

/// `sha256(0x01 ‖ left ‖ right)`.
pub fn internal_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([INTERNAL_DOMAIN])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// Bit `index` (0..256) of a path, most significant bit of byte 0 first: `true` = right.
///
/// # Panics
///
/// If `index >= 256`.
pub fn path_bit(path: &Hash, index: usize) -> bool {
    (path[index / 8] >> (7 - index % 8)) & 1 == 1
}

/// Lower-case hex of a byte string, for messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answer() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn domains_differ() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_ne!(leaf_hash(&a, &b), internal_hash(&a, &b));
        let mut leaf_input = vec![0x00];
        leaf_input.extend_from_slice(&a);
        leaf_input.extend_from_slice(&b);
        assert_eq!(leaf_hash(&a, &b), sha256(&leaf_input));
        leaf_input[0] = 0x01;
        assert_eq!(internal_hash(&a, &b), sha256(&leaf_input));
    }

    #[test]
    fn bits_are_msb_first() {
        let mut path = [0u8; 32];
        path[0] = 0b1000_0001;
        path[31] = 0b0000_0001;
        assert!(path_bit(&path, 0));
        assert!(!path_bit(&path, 1));
        assert!(path_bit(&path, 7));
        assert!(path_bit(&path, 255));
        assert!(!path_bit(&path, 254));
    }
}
