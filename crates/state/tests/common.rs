//! Helpers shared by the test modules.

use std::collections::BTreeMap;

use hyperchain_merkle::MemoryNodeStore;
use hyperchain_state::{EMPTY, Hash, TreeId, WriteBatch};

/// The contents of a state: tree → key → value.
pub type Model = BTreeMap<TreeId, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Applies `batch` to `model`.
pub fn apply(model: &mut Model, batch: &WriteBatch) {
    for (tree, writes) in batch.trees() {
        let entries = model.entry(*tree).or_default();
        for (key, value) in writes {
            match value {
                Some(value) => entries.insert(key.clone(), value.clone()),
                None => entries.remove(key),
            };
        }
    }
    model.retain(|_, entries| !entries.is_empty());
}

/// The state root of `model`, computed independently of the store with in-memory trees.
pub fn expected_root(model: &Model) -> Hash {
    let mut root_tree = MemoryNodeStore::new();
    let mut root_entries: BTreeMap<Vec<u8>, Vec<u8>> =
        model.get(&TreeId::ROOT).cloned().unwrap_or_default();
    for (tree, entries) in model {
        if tree.is_root() {
            continue;
        }
        let mut sub = MemoryNodeStore::new();
        let root = sub.update(entries.iter().map(|(k, v)| (k, Some(v))));
        assert_ne!(root, EMPTY);
        root_entries.insert(tree.link_key(), root.to_vec());
    }
    root_tree.update(root_entries.iter().map(|(k, v)| (k, Some(v))))
}

/// A batch writing all of `model`.
pub fn batch_of(model: &Model) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (tree, entries) in model {
        for (key, value) in entries {
            batch.put(*tree, key.clone(), value.clone());
        }
    }
    batch
}

/// splitmix64: a tiny deterministic generator for reproducible workloads.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
