//! Reads, proofs, validation, atomicity and persistence of the store.

use std::collections::BTreeMap;

use hyperchain_merkle::{verify_state_proof, verify_subtree_root};
use hyperchain_state::{EMPTY, MAX_KEY_LEN, MAX_VALUE_LEN, StateError, Store, TreeId, WriteBatch};

use crate::common::{Model, apply, batch_of, expected_root};

const CONTRACT: TreeId = TreeId([0xc1; 32]);
const OTHER: TreeId = TreeId([0xc2; 32]);

/// A tree, a key and the value claimed for it (`None` = absent).
type Claim<'a> = (TreeId, &'a [u8], Option<&'a [u8]>);

/// An invalid write and a check of the error it must cause.
type BadEntry = (TreeId, Vec<u8>, Option<Vec<u8>>, fn(&StateError) -> bool);

fn sample_batch() -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.put(TreeId::ROOT, b"account/alice".to_vec(), b"100".to_vec());
    batch.put(TreeId::ROOT, b"account/bob".to_vec(), b"7".to_vec());
    for i in 0..50u32 {
        batch.put(CONTRACT, format!("slot/{i}"), i.to_be_bytes().to_vec());
    }
    batch.put(OTHER, b"only".to_vec(), b"one".to_vec());
    batch
}

#[test]
fn fresh_store() {
    let store = Store::in_memory().unwrap();
    assert_eq!(store.root().unwrap(), EMPTY);
    assert_eq!(store.height().unwrap(), 0);
    assert_eq!(store.get(&TreeId::ROOT, b"k").unwrap(), None);
    assert_eq!(store.tree_root(&CONTRACT).unwrap(), EMPTY);
    let proof = store.prove(&CONTRACT, b"k").unwrap();
    verify_state_proof(&EMPTY, &CONTRACT, b"k", None, &proof).unwrap();
    let proof = store.prove(&TreeId::ROOT, b"k").unwrap();
    verify_state_proof(&EMPTY, &TreeId::ROOT, b"k", None, &proof).unwrap();
    // An empty batch changes nothing but records the height.
    assert_eq!(store.commit(&WriteBatch::new(), 3).unwrap(), EMPTY);
    assert_eq!(store.height().unwrap(), 3);
}

#[test]
fn commit_read_and_prove() {
    let store = Store::in_memory().unwrap();
    let batch = sample_batch();
    let dry = store.compute_roots(&batch).unwrap();
    let root = store.commit(&batch, 1).unwrap();
    assert_eq!(dry.state_root, root);
    let mut model = Model::new();
    apply(&mut model, &batch);
    assert_eq!(root, expected_root(&model));
    assert_eq!(store.root().unwrap(), root);
    assert_eq!(store.height().unwrap(), 1);
    assert_eq!(
        store.get(&TreeId::ROOT, b"account/alice").unwrap(),
        Some(b"100".to_vec())
    );
    assert_eq!(
        store.get(&CONTRACT, b"slot/7").unwrap(),
        Some(7u32.to_be_bytes().to_vec())
    );
    assert_eq!(store.get(&OTHER, b"slot/7").unwrap(), None);

    // Storage commitments: the link entry holds the sub-tree root, provable against the root.
    let contract_root = store.tree_root(&CONTRACT).unwrap();
    assert_eq!(dry.tree_roots[&CONTRACT], contract_root);
    assert_eq!(
        store.get(&TreeId::ROOT, &CONTRACT.link_key()).unwrap(),
        Some(contract_root.to_vec())
    );
    let (proven_root, link) = store.prove_tree_root(&CONTRACT).unwrap();
    assert_eq!(proven_root, contract_root);
    verify_subtree_root(&root, &CONTRACT, &contract_root, &link).unwrap();
    assert!(verify_subtree_root(&root, &CONTRACT, &EMPTY, &link).is_err());
    assert!(matches!(
        store.prove_tree_root(&TreeId::ROOT),
        Err(StateError::RootTreeHasNoLink)
    ));

    // Present and absent keys, in the root tree, a sub-tree and an empty sub-tree.
    let cases: [Claim<'_>; 6] = [
        (TreeId::ROOT, b"account/alice", Some(b"100")),
        (TreeId::ROOT, b"account/carol", None),
        (CONTRACT, b"slot/3", Some(&[0, 0, 0, 3])),
        (CONTRACT, b"slot/999", None),
        (OTHER, b"only", Some(b"one")),
        (TreeId([9; 32]), b"slot/3", None),
    ];
    for (tree, key, value) in cases {
        let proof = store.prove(&tree, key).unwrap();
        verify_state_proof(&root, &tree, key, value, &proof).unwrap();
        let decoded = hyperchain_merkle::StateProof::decode(&proof.encode()).unwrap();
        assert_eq!(decoded, proof);
        // The opposite claim fails.
        let wrong: Option<&[u8]> = match value {
            Some(_) => None,
            None => Some(b"x"),
        };
        assert!(verify_state_proof(&root, &tree, key, wrong, &proof).is_err());
        // Any other tree fails.
        let other_tree = TreeId([0x77; 32]);
        if value.is_some() {
            assert!(verify_state_proof(&root, &other_tree, key, value, &proof).is_err());
        }
    }
}

#[test]
fn scan_prefix_lists_one_tree_in_order() {
    let store = Store::in_memory().unwrap();
    store.commit(&sample_batch(), 1).unwrap();
    let all = store.scan_prefix(&CONTRACT, b"slot/", 1000).unwrap();
    assert_eq!(all.len(), 50);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    let some = store.scan_prefix(&CONTRACT, b"slot/1", 3).unwrap();
    assert_eq!(
        some.iter().map(|(k, _)| k.as_slice()).collect::<Vec<_>>(),
        vec![b"slot/1".as_slice(), b"slot/10", b"slot/11"]
    );
    assert_eq!(store.scan_prefix(&CONTRACT, b"slot/", 0).unwrap(), vec![]);
    assert_eq!(
        store.scan_prefix(&OTHER, b"", 10).unwrap(),
        vec![(b"only".to_vec(), b"one".to_vec())]
    );
    let accounts = store.scan_prefix(&TreeId::ROOT, b"account/", 10).unwrap();
    assert_eq!(accounts.len(), 2);
    // Link entries are part of the root tree.
    let links = store.scan_prefix(&TreeId::ROOT, b"\x00tree/", 10).unwrap();
    assert_eq!(links.len(), 2);
}

#[test]
fn deleting_everything_unlinks_the_sub_tree() {
    let store = Store::in_memory().unwrap();
    store.commit(&sample_batch(), 1).unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..50u32 {
        batch.delete(CONTRACT, format!("slot/{i}"));
    }
    let root = store.commit(&batch, 2).unwrap();
    assert_eq!(store.tree_root(&CONTRACT).unwrap(), EMPTY);
    assert_eq!(
        store.get(&TreeId::ROOT, &CONTRACT.link_key()).unwrap(),
        None
    );
    let mut model = Model::new();
    apply(&mut model, &sample_batch());
    apply(&mut model, &batch);
    assert_eq!(root, expected_root(&model));
    let proof = store.prove(&CONTRACT, b"slot/1").unwrap();
    assert!(proof.subtree.is_none());
    verify_state_proof(&root, &CONTRACT, b"slot/1", None, &proof).unwrap();
    // Emptying every tree returns to the empty root.
    let mut clear = WriteBatch::new();
    for (tree, entries) in &model {
        for key in entries.keys() {
            clear.delete(*tree, key.clone());
        }
    }
    assert_eq!(store.commit(&clear, 3).unwrap(), EMPTY);
}

/// A batch with one bad entry is rejected before anything is written.
#[test]
fn invalid_batches_write_nothing() {
    let store = Store::in_memory().unwrap();
    let root = store.commit(&sample_batch(), 5).unwrap();
    let bad_entries: Vec<BadEntry> = vec![
        (TreeId::ROOT, CONTRACT.link_key(), Some(vec![1; 32]), |e| {
            matches!(e, StateError::ReservedKey)
        }),
        (TreeId::ROOT, b"\x00tree/anything".to_vec(), None, |e| {
            matches!(e, StateError::ReservedKey)
        }),
        (CONTRACT, vec![7; MAX_KEY_LEN + 1], Some(vec![1]), |e| {
            matches!(e, StateError::KeyTooLarge { .. })
        }),
        (
            OTHER,
            b"big".to_vec(),
            Some(vec![0; MAX_VALUE_LEN + 1]),
            |e| matches!(e, StateError::ValueTooLarge { .. }),
        ),
    ];
    for (tree, key, value, expected) in bad_entries {
        let mut batch = WriteBatch::new();
        for i in 0..100u32 {
            batch.put(CONTRACT, format!("new/{i}"), b"v".to_vec());
        }
        batch.put(TreeId::ROOT, b"account/alice".to_vec(), b"0".to_vec());
        batch.set(tree, key, value);
        let err = store.commit(&batch, 6).unwrap_err();
        assert!(expected(&err), "unexpected error {err}");
        assert!(store.compute_root(&batch).is_err());
        assert_eq!(store.root().unwrap(), root);
        assert_eq!(store.height().unwrap(), 5);
        assert_eq!(store.get(&CONTRACT, b"new/1").unwrap(), None);
        assert_eq!(
            store.get(&TreeId::ROOT, b"account/alice").unwrap(),
            Some(b"100".to_vec())
        );
    }
    // Limits are inclusive.
    let mut batch = WriteBatch::new();
    batch.put(CONTRACT, vec![7; MAX_KEY_LEN], vec![0; MAX_VALUE_LEN]);
    store.commit(&batch, 6).unwrap();
    // Heights never go backwards.
    let mut batch = WriteBatch::new();
    batch.put(CONTRACT, b"late".to_vec(), b"v".to_vec());
    let before = store.root().unwrap();
    assert!(matches!(
        store.commit(&batch, 4),
        Err(StateError::HeightRegression {
            height: 4,
            current: 6
        })
    ));
    assert_eq!(store.root().unwrap(), before);
    assert_eq!(store.get(&CONTRACT, b"late").unwrap(), None);
}

#[test]
fn error_messages_are_clear() {
    let mut batch = WriteBatch::new();
    batch.put(CONTRACT, vec![0; 2000], b"v".to_vec());
    assert_eq!(
        batch.validate().unwrap_err().to_string(),
        format!(
            "key of 2000 bytes in tree {} exceeds the 1024-byte limit",
            crate::common::hex(&CONTRACT.0)
        )
    );
}

/// A snapshot keeps reading the version it was taken at.
#[test]
fn snapshots_are_consistent() {
    let store = Store::in_memory().unwrap();
    let root1 = store.commit(&sample_batch(), 1).unwrap();
    let snapshot = store.snapshot().unwrap();
    let mut batch = WriteBatch::new();
    batch.put(CONTRACT, b"slot/1".to_vec(), b"changed".to_vec());
    batch.delete(TreeId::ROOT, b"account/bob".to_vec());
    let root2 = store.commit(&batch, 2).unwrap();
    assert_ne!(root1, root2);
    assert_eq!(snapshot.root().unwrap(), root1);
    assert_eq!(snapshot.height().unwrap(), 1);
    assert_eq!(
        snapshot.get(&CONTRACT, b"slot/1").unwrap(),
        Some(1u32.to_be_bytes().to_vec())
    );
    let proof = snapshot.prove(&CONTRACT, b"slot/1").unwrap();
    verify_state_proof(&root1, &CONTRACT, b"slot/1", Some(&[0, 0, 0, 1]), &proof).unwrap();
    let proof = store.prove(&CONTRACT, b"slot/1").unwrap();
    verify_state_proof(&root2, &CONTRACT, b"slot/1", Some(b"changed"), &proof).unwrap();
    // Dry runs on the old snapshot are relative to that snapshot.
    assert_eq!(snapshot.compute_root(&batch).unwrap(), root2);
}

#[test]
fn reopen_gives_identical_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node").join("state");
    let mut model = Model::new();
    let root = {
        let store = Store::open(&path).unwrap();
        store.commit(&sample_batch(), 1).unwrap();
        apply(&mut model, &sample_batch());
        let mut batch = WriteBatch::new();
        batch.delete(CONTRACT, b"slot/3".to_vec());
        batch.put(OTHER, b"second".to_vec(), b"2".to_vec());
        apply(&mut model, &batch);
        store.commit(&batch, 2).unwrap()
    };
    assert!(path.join(hyperchain_state::DATABASE_FILE).is_file());
    let store = Store::open(&path).unwrap();
    assert_eq!(store.root().unwrap(), root);
    assert_eq!(store.height().unwrap(), 2);
    assert_eq!(root, expected_root(&model));
    for (tree, entries) in &model {
        let stored: BTreeMap<Vec<u8>, Vec<u8>> = store
            .scan_prefix(tree, b"", usize::MAX)
            .unwrap()
            .into_iter()
            .filter(|(k, _)| !hyperchain_merkle::is_reserved_key(tree, k))
            .collect();
        assert_eq!(&stored, entries);
    }
    let proof = store.prove(&OTHER, b"second").unwrap();
    verify_state_proof(&root, &OTHER, b"second", Some(b"2"), &proof).unwrap();

    // A path ending in `.redb` is the database file itself.
    let file = dir.path().join("single.redb");
    {
        let store = Store::open(&file).unwrap();
        store.commit(&batch_of(&model), 1).unwrap();
    }
    assert!(file.is_file());
    assert_eq!(Store::open(&file).unwrap().root().unwrap(), root);
}

/// State sync: a state exported in chunks (of entries or of bytes) and committed chunk by
/// chunk into an empty store rebuilds the same state root, sub-tree links included; a chunk
/// left out gives another root, so a joiner checking the root against a certified header
/// detects a server that withholds or alters anything.
#[test]
fn an_exported_state_rebuilds_the_same_root() {
    let source = Store::in_memory().unwrap();
    source.commit(&sample_batch(), 1).unwrap();
    let mut more = WriteBatch::new();
    more.put(TreeId([0x01; 32]), b"a".to_vec(), vec![7; 3000]);
    more.delete(CONTRACT, b"slot/3".to_vec());
    more.put(TreeId::ROOT, b"\x01after-links".to_vec(), b"x".to_vec());
    source.commit(&more, 2).unwrap();
    let snapshot = source.snapshot().unwrap();
    let root = snapshot.root().unwrap();

    for (max_entries, max_bytes) in [
        (1, usize::MAX),
        (7, usize::MAX),
        (1000, 64),
        (1000, 1 << 20),
    ] {
        let target = Store::in_memory().unwrap();
        let (mut cursor, mut chunks, mut exported) = (None, 0, 0);
        loop {
            let chunk = snapshot
                .export(cursor.as_ref(), max_entries, max_bytes)
                .unwrap();
            assert!(chunk.entries.len() <= max_entries);
            let mut batch = WriteBatch::new();
            for (tree, key, value) in &chunk.entries {
                assert!(
                    !tree.is_root() || !key.starts_with(b"\x00tree/"),
                    "no links"
                );
                batch.put(*tree, key.clone(), value.clone());
            }
            exported += chunk.entries.len();
            target.commit(&batch, 2).unwrap();
            chunks += 1;
            match chunk.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(exported, 2 + 49 + 1 + 1 + 1, "({max_entries}, {max_bytes})");
        assert!(chunks > 1 || max_entries == 1000 && max_bytes > 4096);
        assert_eq!(target.root().unwrap(), root, "({max_entries}, {max_bytes})");
    }

    // One entry withheld: another root.
    let target = Store::in_memory().unwrap();
    let chunk = snapshot.export(None, usize::MAX, usize::MAX).unwrap();
    assert_eq!(chunk.next, None);
    let mut batch = WriteBatch::new();
    for (tree, key, value) in chunk.entries.iter().skip(1) {
        batch.put(*tree, key.clone(), value.clone());
    }
    target.commit(&batch, 2).unwrap();
    assert_ne!(target.root().unwrap(), root);
}
