//! Inclusion and exclusion proofs: valid ones verify, everything tampered is rejected.

use std::collections::BTreeMap;

use hyperchain_merkle::{
    DecodeError, EMPTY, MemoryNodeStore, Proof, ProofError, StateProof, Terminal, TreeId,
    verify_proof, verify_state_proof, verify_subtree_root,
};
use proptest::prelude::*;

fn tree_with(n: usize) -> (MemoryNodeStore, BTreeMap<Vec<u8>, Vec<u8>>) {
    let entries: BTreeMap<Vec<u8>, Vec<u8>> = (0..n)
        .map(|i| {
            (
                format!("key-{i}").into_bytes(),
                format!("value-{i}").into_bytes(),
            )
        })
        .collect();
    let mut tree = MemoryNodeStore::new();
    tree.update(entries.iter().map(|(k, v)| (k, Some(v))));
    (tree, entries)
}

#[test]
fn empty_tree_proves_absence() {
    let tree = MemoryNodeStore::new();
    let proof = tree.prove(b"anything");
    assert_eq!(proof.terminal, Terminal::Empty);
    assert!(proof.siblings.is_empty());
    verify_proof(&EMPTY, b"anything", None, &proof).unwrap();
    assert_eq!(
        verify_proof(&EMPTY, b"anything", Some(b"x"), &proof),
        Err(ProofError::KeyAbsent)
    );
}

#[test]
fn small_and_large_trees() {
    for n in [1usize, 2, 3, 17, 1000, 20_000] {
        let (tree, entries) = tree_with(n);
        let root = tree.root();
        assert_eq!(root, crate::reference::reference_root(&entries));
        for (key, value) in entries.iter().step_by((n / 50).max(1)) {
            let proof = tree.prove(key);
            verify_proof(&root, key, Some(value), &proof).unwrap();
            assert_eq!(
                verify_proof(&root, key, Some(b"other"), &proof),
                Err(ProofError::ValueMismatch)
            );
            assert_eq!(
                verify_proof(&root, key, None, &proof),
                Err(ProofError::KeyPresent)
            );
            let decoded = Proof::decode(&proof.encode()).unwrap();
            assert_eq!(decoded, proof);
        }
        for i in 0..50 {
            let absent = format!("absent-{i}").into_bytes();
            let proof = tree.prove(&absent);
            verify_proof(&root, &absent, None, &proof).unwrap();
            assert_eq!(
                verify_proof(&root, &absent, Some(b"v"), &proof),
                Err(ProofError::KeyAbsent)
            );
        }
    }
}

#[test]
fn wrong_key_or_root_is_rejected() {
    let (tree, _) = tree_with(100);
    let root = tree.root();
    let proof = tree.prove(b"key-7");
    assert!(verify_proof(&root, b"key-8", Some(b"value-7"), &proof).is_err());
    assert!(verify_proof(&root, b"key-8", None, &proof).is_err());
    let mut other_root = root;
    other_root[0] ^= 1;
    assert!(matches!(
        verify_proof(&other_root, b"key-7", Some(b"value-7"), &proof),
        Err(ProofError::RootMismatch { .. })
    ));
    // An absence proof for one key says nothing about another key.
    let absent = tree.prove(b"absent");
    assert!(verify_proof(&root, b"key-7", None, &absent).is_err());
}

/// Flipping any single bit of an encoded proof either breaks decoding or verification.
#[test]
fn every_bit_flip_is_rejected() {
    let (tree, _) = tree_with(300);
    let root = tree.root();
    for (key, value) in [
        (b"key-5".as_slice(), Some(b"value-5".as_slice())),
        (b"absent-1".as_slice(), None),
        (b"absent-2".as_slice(), None),
    ] {
        let bytes = tree.prove(key).encode();
        verify_proof(&root, key, value, &Proof::decode(&bytes).unwrap()).unwrap();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut tampered = bytes.clone();
                tampered[i] ^= 1 << bit;
                if let Ok(proof) = Proof::decode(&tampered) {
                    assert!(
                        verify_proof(&root, key, value, &proof).is_err(),
                        "flip of bit {bit} in byte {i} accepted"
                    );
                }
            }
        }
    }
}

#[test]
fn non_canonical_proofs_are_rejected() {
    let (tree, _) = tree_with(10);
    let root = tree.root();
    let mut proof = tree.prove(b"key-1");
    proof.siblings.push(EMPTY);
    assert!(matches!(
        verify_proof(&root, b"key-1", Some(b"value-1"), &proof),
        Err(ProofError::EmptyDeepestSibling(_))
    ));
    let too_long = Proof {
        siblings: vec![[1; 32]; 257],
        terminal: Terminal::Empty,
    };
    assert_eq!(
        verify_proof(&root, b"key-1", None, &too_long),
        Err(ProofError::TooManySiblings(257))
    );
}

/// A leaf terminal that is not on the key's path cannot prove absence.
#[test]
fn leaf_off_path_is_rejected() {
    let (tree, _) = tree_with(64);
    let root = tree.root();
    let present = tree.prove(b"key-3");
    let Terminal::Leaf(leaf) = present.terminal else {
        panic!("inclusion proof must end in a leaf");
    };
    // Find a key whose path leaves the leaf's prefix at the proof's depth.
    let depth = present.siblings.len();
    let other = (0..)
        .map(|i| format!("probe-{i}").into_bytes())
        .find(|k| {
            let path = hyperchain_merkle::key_path(k);
            (0..depth).any(|i| {
                hyperchain_merkle::path_bit(&path, i) != hyperchain_merkle::path_bit(&leaf.path, i)
            })
        })
        .unwrap();
    assert_eq!(
        verify_proof(&root, &other, None, &present),
        Err(ProofError::LeafOffPath)
    );
}

fn state_fixture() -> (Hash32, TreeId, MemoryNodeStore, MemoryNodeStore) {
    let contract = TreeId([7; 32]);
    let (sub, _) = tree_with(40);
    let mut root_tree = MemoryNodeStore::new();
    root_tree.update([
        (b"account/alice".to_vec(), Some(b"100".to_vec())),
        (contract.link_key(), Some(sub.root().to_vec())),
        (TreeId([8; 32]).link_key(), Some([9u8; 32].to_vec())),
    ]);
    (root_tree.root(), contract, root_tree, sub)
}

type Hash32 = hyperchain_merkle::Hash;

#[test]
fn state_proofs() {
    let (state_root, contract, root_tree, sub) = state_fixture();
    let link = root_tree.prove(&contract.link_key());

    // Present key in a sub-tree.
    let proof = StateProof {
        subtree: Some(sub.prove(b"key-3")),
        link: link.clone(),
    };
    let proof = StateProof::decode(&proof.encode()).unwrap();
    verify_state_proof(&state_root, &contract, b"key-3", Some(b"value-3"), &proof).unwrap();
    assert!(matches!(
        verify_state_proof(&state_root, &contract, b"key-3", Some(b"nope"), &proof),
        Err(ProofError::Subtree(_))
    ));
    assert!(matches!(
        verify_state_proof(
            &state_root,
            &TreeId([8; 32]),
            b"key-3",
            Some(b"value-3"),
            &proof
        ),
        Err(ProofError::Link(_))
    ));

    // Absent key in a present sub-tree.
    let absent = StateProof {
        subtree: Some(sub.prove(b"missing")),
        link: link.clone(),
    };
    verify_state_proof(&state_root, &contract, b"missing", None, &absent).unwrap();

    // Absent key in an absent (empty) sub-tree.
    let empty_tree = TreeId([1; 32]);
    let no_tree = StateProof {
        subtree: None,
        link: root_tree.prove(&empty_tree.link_key()),
    };
    verify_state_proof(&state_root, &empty_tree, b"k", None, &no_tree).unwrap();
    assert!(verify_state_proof(&state_root, &empty_tree, b"k", Some(b"v"), &no_tree).is_err());
    // Claiming a linked sub-tree is empty fails.
    let lie = StateProof {
        subtree: None,
        link: link.clone(),
    };
    assert!(verify_state_proof(&state_root, &contract, b"key-3", None, &lie).is_err());

    // Root-tree keys.
    let alice = StateProof {
        subtree: None,
        link: root_tree.prove(b"account/alice"),
    };
    verify_state_proof(
        &state_root,
        &TreeId::ROOT,
        b"account/alice",
        Some(b"100"),
        &alice,
    )
    .unwrap();
    let with_sub = StateProof {
        subtree: Some(sub.prove(b"key-3")),
        link: root_tree.prove(b"account/alice"),
    };
    assert_eq!(
        verify_state_proof(
            &state_root,
            &TreeId::ROOT,
            b"account/alice",
            Some(b"100"),
            &with_sub
        ),
        Err(ProofError::SubtreeProofForRootTree)
    );

    // Sub-tree roots (storage commitments).
    verify_subtree_root(&state_root, &contract, &sub.root(), &link).unwrap();
    assert!(verify_subtree_root(&state_root, &contract, &[3; 32], &link).is_err());
    assert!(verify_subtree_root(&state_root, &contract, &EMPTY, &link).is_err());
    verify_subtree_root(&state_root, &empty_tree, &EMPTY, &no_tree.link).unwrap();
    verify_subtree_root(&state_root, &TreeId::ROOT, &state_root, &link).unwrap();
    assert!(verify_subtree_root(&state_root, &TreeId::ROOT, &sub.root(), &link).is_err());
}

#[test]
fn error_messages_say_what_is_wrong() {
    let (state_root, contract, root_tree, sub) = state_fixture();
    let proof = StateProof {
        subtree: Some(sub.prove(b"key-3")),
        link: root_tree.prove(&contract.link_key()),
    };
    let err = verify_state_proof(&state_root, &contract, b"key-3", Some(b"x"), &proof).unwrap_err();
    assert_eq!(
        err.to_string(),
        "key in sub-tree: the key is present with a different value"
    );
    let err = Proof::decode(&[9]).unwrap_err();
    assert_eq!(err, DecodeError::TerminalTag(9));
    assert_eq!(err.to_string(), "unknown proof terminal tag 0x09");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The decoders never panic on arbitrary bytes, and whatever they accept re-encodes to the
    /// same bytes (the encoding is canonical).
    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(proof) = Proof::decode(&bytes) {
            prop_assert_eq!(proof.encode(), bytes.clone());
            let _ = verify_proof(&EMPTY, b"k", None, &proof);
        }
        if let Ok(proof) = StateProof::decode(&bytes) {
            prop_assert_eq!(proof.encode(), bytes.clone());
            let _ = verify_state_proof(&EMPTY, &TreeId([1; 32]), b"k", Some(b"v"), &proof);
        }
    }

    /// Structured fuzzing: a valid prefix (tag, depth, bitmap) followed by random bytes reaches
    /// the sibling and trailing-byte checks that purely random input rarely gets to.
    #[test]
    fn decoder_handles_structured_garbage(
        tag in 0u8..3,
        depth in 0u16..300,
        rest in prop::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut bytes = vec![tag];
        if tag == 1 {
            bytes.extend_from_slice(&[0x55; 64]);
        }
        bytes.extend_from_slice(&depth.to_be_bytes());
        bytes.extend_from_slice(&rest);
        if let Ok(proof) = Proof::decode(&bytes) {
            prop_assert_eq!(proof.encode(), bytes);
        }
    }

    /// Random single-key proofs from random trees verify, and tampering with a sibling fails.
    #[test]
    fn random_trees(keys in prop::collection::btree_set(any::<u16>(), 1..200), probe in any::<u16>(), at in any::<usize>()) {
        let mut tree = MemoryNodeStore::new();
        tree.update(keys.iter().map(|k| (k.to_be_bytes(), Some(k.to_le_bytes()))));
        let root = tree.root();
        let value = keys.contains(&probe).then(|| probe.to_le_bytes());
        let mut proof = tree.prove(&probe.to_be_bytes());
        verify_proof(&root, &probe.to_be_bytes(), value.as_ref().map(|v| v.as_slice()), &proof).unwrap();
        if !proof.siblings.is_empty() {
            let i = at % proof.siblings.len();
            proof.siblings[i][at % 32] ^= 0x80;
            prop_assert!(verify_proof(&root, &probe.to_be_bytes(), value.as_ref().map(|v| v.as_slice()), &proof).is_err());
        }
    }
}
