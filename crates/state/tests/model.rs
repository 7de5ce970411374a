//! Random histories against an in-memory model: values agree, and the root depends only on the
//! final contents.

use std::collections::BTreeMap;

use hyperchain_merkle::verify_state_proof;
use hyperchain_state::{Store, TreeId, WriteBatch};
use proptest::prelude::*;

use crate::common::{Model, apply, batch_of, expected_root};

const TREES: [TreeId; 4] = [
    TreeId::ROOT,
    TreeId([1; 32]),
    TreeId([2; 32]),
    TreeId([0xff; 32]),
];

#[derive(Debug, Clone)]
enum Op {
    Set {
        tree: usize,
        key: u8,
        value: Vec<u8>,
    },
    Remove {
        tree: usize,
        key: u8,
    },
    Commit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..TREES.len(), 0u8..40, prop::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(tree, key, value)| Op::Set { tree, key, value }),
        4 => (0..TREES.len(), 0u8..40).prop_map(|(tree, key)| Op::Remove { tree, key }),
        1 => Just(Op::Commit),
    ]
}

fn key(k: u8) -> Vec<u8> {
    vec![b'k', k]
}

fn check(store: &Store, model: &Model) -> Result<(), TestCaseError> {
    let snapshot = store.snapshot().unwrap();
    let root = snapshot.root().unwrap();
    prop_assert_eq!(root, expected_root(model));
    let empty = BTreeMap::new();
    for tree in TREES {
        let entries = model.get(&tree).unwrap_or(&empty);
        for k in 0u8..40 {
            let value = snapshot.get(&tree, &key(k)).unwrap();
            prop_assert_eq!(value.as_ref(), entries.get(&key(k)));
            if k % 8 == 0 {
                let proof = snapshot.prove(&tree, &key(k)).unwrap();
                verify_state_proof(&root, &tree, &key(k), value.as_deref(), &proof).unwrap();
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 0..300)) {
        let store = Store::in_memory().unwrap();
        let mut model = Model::new();
        let mut batch = WriteBatch::new();
        let mut height = 0;
        for op in ops {
            match op {
                Op::Set { tree, key: k, value } => batch.put(TREES[tree], key(k), value),
                Op::Remove { tree, key: k } => batch.delete(TREES[tree], key(k)),
                Op::Commit => {
                    height += 1;
                    let dry = store.compute_root(&batch).unwrap();
                    let root = store.commit(&batch, height).unwrap();
                    prop_assert_eq!(dry, root);
                    apply(&mut model, &batch);
                    batch = WriteBatch::new();
                    check(&store, &model)?;
                }
            }
        }
        height += 1;
        store.commit(&batch, height).unwrap();
        apply(&mut model, &batch);
        check(&store, &model)?;
        // History independence: a fresh store holding only the final contents has the same root.
        let fresh = Store::in_memory().unwrap();
        let fresh_root = fresh.commit(&batch_of(&model), 1).unwrap();
        prop_assert_eq!(store.root().unwrap(), fresh_root);
        for tree in TREES {
            prop_assert_eq!(store.tree_root(&tree).unwrap(), fresh.tree_root(&tree).unwrap());
        }
    }
}
