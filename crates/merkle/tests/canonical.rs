//! The root and the stored nodes depend only on the final set of (key, value) pairs.

use std::collections::BTreeMap;

use hyperchain_merkle::{EMPTY, MemoryNodeStore, NodeKey, apply_updates};
use proptest::prelude::*;

use crate::reference::reference_root;

/// A tree built in one batch from `entries`.
fn fresh(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> MemoryNodeStore {
    let mut tree = MemoryNodeStore::new();
    tree.update(entries.iter().map(|(k, v)| (k, Some(v))));
    tree
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u8),
    Remove(u8),
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    // A small key space so that overwrites, deletes and deep shared prefixes are common.
    prop_oneof![
        4 => (any::<u8>(), any::<u8>()).prop_map(|(k, v)| Op::Set(k % 48, v)),
        3 => any::<u8>().prop_map(|k| Op::Remove(k % 48)),
        1 => Just(Op::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random batches of sets and removes: after every batch the root equals the reference root
    /// of the model, and the stored nodes are exactly those of a tree built from scratch.
    #[test]
    fn history_independent(ops in prop::collection::vec(op(), 0..200)) {
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut tree = MemoryNodeStore::new();
        let mut pending: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let flush = |tree: &mut MemoryNodeStore,
                         pending: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>,
                         model: &BTreeMap<Vec<u8>, Vec<u8>>| {
            let root = tree.update(pending.drain(..));
            prop_assert_eq!(root, reference_root(model));
            prop_assert_eq!(tree.root(), root);
            prop_assert_eq!(&*tree, &fresh(model));
            Ok(())
        };
        for op in ops {
            match op {
                Op::Set(k, v) => {
                    model.insert(vec![k], vec![v]);
                    pending.push((vec![k], Some(vec![v])));
                }
                Op::Remove(k) => {
                    model.remove(&vec![k]);
                    pending.push((vec![k], None));
                }
                Op::Flush => flush(&mut tree, &mut pending, &model)?,
            }
        }
        flush(&mut tree, &mut pending, &model)?;
    }

    /// Insertion order and batching do not matter.
    #[test]
    fn order_independent(
        entries in prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..6), any::<u64>(), 0..64),
        seed in any::<u64>(),
    ) {
        let entries: BTreeMap<Vec<u8>, Vec<u8>> =
            entries.into_iter().map(|(k, v)| (k, v.to_be_bytes().to_vec())).collect();
        let mut shuffled: Vec<_> = entries.iter().collect();
        // Deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut one_by_one = MemoryNodeStore::new();
        for (k, v) in &shuffled {
            one_by_one.update([(k, Some(v))]);
        }
        prop_assert_eq!(one_by_one.root(), reference_root(&entries));
        prop_assert_eq!(&one_by_one, &fresh(&entries));
    }
}

#[test]
fn empty_tree_and_single_leaf() {
    let mut tree = MemoryNodeStore::new();
    assert_eq!(tree.root(), EMPTY);
    let root = tree.update([(b"k", Some(b"v"))]);
    assert_eq!(
        root,
        hyperchain_merkle::leaf_hash(
            &hyperchain_merkle::key_path(b"k"),
            &hyperchain_merkle::value_hash(b"v")
        )
    );
    assert_eq!(tree.len(), 1);
    let root = tree.update([(b"k", None::<&[u8]>)]);
    assert_eq!(root, EMPTY);
    assert!(tree.is_empty());
}

#[test]
fn deleting_absent_keys_writes_nothing_to_an_empty_tree() {
    let tree = MemoryNodeStore::new();
    let update = apply_updates(&tree, vec![([1; 32], None), ([2; 32], None)]).unwrap();
    assert_eq!(update.root, EMPTY);
    assert!(update.writes.is_empty());
}

#[test]
fn last_update_of_a_path_wins() {
    let tree = MemoryNodeStore::new();
    let update = apply_updates(&tree, vec![([1; 32], Some([5; 32])), ([1; 32], None)]).unwrap();
    assert_eq!(update.root, EMPTY);
    let update = apply_updates(&tree, vec![([1; 32], None), ([1; 32], Some([5; 32]))]).unwrap();
    assert_eq!(
        update.root,
        hyperchain_merkle::leaf_hash(&[1; 32], &[5; 32])
    );
}

/// Two paths sharing 255 bits put their leaves at depth 256, the deepest possible position;
/// removing one floats the other back to the root.
#[test]
fn deepest_leaves() {
    let a = [0u8; 32];
    let mut b = [0u8; 32];
    b[31] = 1;
    let mut tree = MemoryNodeStore::new();
    let update = apply_updates(&tree, vec![(a, Some([1; 32])), (b, Some([2; 32]))]).unwrap();
    tree.apply(&update);
    // 256 internal nodes (depths 0..=255) and two leaves at depth 256.
    assert_eq!(tree.len(), 258);
    assert!(tree.nodes().any(|(k, _)| *k == NodeKey::new(256, &b)));
    let proof = hyperchain_merkle::prove(&tree, &b).unwrap();
    assert_eq!(proof.siblings.len(), 256);
    proof
        .verify_hashes(&tree.root(), &b, Some(&[2; 32]))
        .unwrap();
    let update = apply_updates(&tree, vec![(a, None)]).unwrap();
    tree.apply(&update);
    assert_eq!(tree.len(), 1);
    assert_eq!(tree.root(), hyperchain_merkle::leaf_hash(&b, &[2; 32]));
}
