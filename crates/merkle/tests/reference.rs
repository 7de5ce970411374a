//! A direct, obviously-correct definition of the root, independent of the node store.

use std::collections::BTreeMap;

use hyperchain_merkle::{EMPTY, Hash, internal_hash, key_path, leaf_hash, path_bit, value_hash};

/// Root of the tree holding `entries`, computed from the definition: an empty set hashes to
/// `EMPTY`, a single leaf to its leaf hash, anything else splits on the next path bit.
pub fn reference_root<K: AsRef<[u8]>, V: AsRef<[u8]>>(entries: &BTreeMap<K, V>) -> Hash {
    let mut leaves: Vec<(Hash, Hash)> = entries
        .iter()
        .map(|(k, v)| (key_path(k.as_ref()), value_hash(v.as_ref())))
        .collect();
    leaves.sort();
    subtree_root(&leaves, 0)
}

fn subtree_root(leaves: &[(Hash, Hash)], depth: usize) -> Hash {
    match leaves {
        [] => EMPTY,
        [(path, value)] => leaf_hash(path, value),
        _ => {
            let (left, right): (Vec<_>, Vec<_>) =
                leaves.iter().partition(|(path, _)| !path_bit(path, depth));
            internal_hash(
                &subtree_root(&left, depth + 1),
                &subtree_root(&right, depth + 1),
            )
        }
    }
}
