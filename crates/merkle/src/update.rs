//! Batch updates over a node store, proof generation, and an in-memory node store.

use std::collections::BTreeMap;
use std::convert::Infallible;

use crate::hash::{EMPTY, Hash, key_path, value_hash};
use crate::node::{Leaf, MAX_DEPTH, Node, NodeKey};
use crate::proof::{Proof, Terminal};

/// Read access to the nodes of one tree, by position. Only the latest version of each position
/// is kept.
pub trait NodeStore {
    /// Error of the underlying storage.
    type Error: std::error::Error + 'static;

    /// The node at `key`, if any.
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, Self::Error>;
}

impl<S: NodeStore + ?Sized> NodeStore for &S {
    type Error = S::Error;

    fn node(&self, key: &NodeKey) -> Result<Option<Node>, Self::Error> {
        (**self).node(key)
    }
}

/// A tree operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TreeError<E: std::error::Error + 'static> {
    /// The node store failed.
    #[error("node store: {0}")]
    Store(#[source] E),
    /// A parent refers to a child the store does not hold.
    #[error("tree is inconsistent: the node at {0} is missing")]
    MissingNode(NodeKey),
    /// A node violates the tree's structure.
    #[error("tree is inconsistent at {at}: {what}")]
    Corrupt {
        /// Where.
        at: NodeKey,
        /// What is wrong.
        what: &'static str,
    },
}

/// One change of a batch: the path of a key and the hash of its new value (`None` = delete).
pub type Update = (Hash, Option<Hash>);

/// The result of [`apply_updates`]: the new root and the store changes that produce it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeUpdate {
    /// The new root hash (`EMPTY` if the tree became empty).
    pub root: Hash,
    /// Position-keyed changes in position order: `Some` writes (or overwrites) the node, `None`
    /// deletes it.
    pub writes: Vec<(NodeKey, Option<Node>)>,
}

/// The subtree at a position after the update.
enum Shape {
    Empty,
    /// A single leaf, not yet written: its parent decides its position.
    Leaf(Leaf),
    /// An internal node, already written at its position.
    Internal(Hash),
    /// Untouched by the batch: the stored subtree with this hash (leaf or internal).
    Unchanged(Hash),
}

struct Updater<'s, S> {
    store: &'s S,
    writes: BTreeMap<NodeKey, Option<Node>>,
}

impl<S: NodeStore> Updater<'_, S> {
    fn read(&self, key: &NodeKey) -> Result<Option<Node>, TreeError<S::Error>> {
        self.store.node(key).map_err(TreeError::Store)
    }

    fn read_child(&self, key: &NodeKey) -> Result<Node, TreeError<S::Error>> {
        self.read(key)?.ok_or(TreeError::MissingNode(*key))
    }

    /// Applies `updates` (sorted by path, unique, all below `pos`, not empty) to the subtree at
    /// `pos` whose stored node is `existing`.
    fn update(
        &mut self,
        pos: NodeKey,
        existing: Option<Node>,
        updates: &[Update],
    ) -> Result<Shape, TreeError<S::Error>> {
        match existing {
            None => self.build(pos, updates),
            Some(Node::Leaf(leaf)) => {
                if !pos.contains(&leaf.path) {
                    return Err(TreeError::Corrupt {
                        at: pos,
                        what: "leaf is not on its own path",
                    });
                }
                // The leaf is re-placed by whoever ends up owning it.
                self.writes.insert(pos, None);
                let merged = merge_leaf(updates, leaf);
                self.build(pos, &merged)
            }
            Some(Node::Internal { left, right }) => {
                if pos.depth() >= MAX_DEPTH {
                    return Err(TreeError::Corrupt {
                        at: pos,
                        what: "internal node at the maximum depth",
                    });
                }
                self.writes.insert(pos, None);
                let split = updates.partition_point(|(path, _)| !pos.direction(path));
                let (left_updates, right_updates) = updates.split_at(split);
                let left = self.child(pos.child(false), left, left_updates)?;
                let right = self.child(pos.child(true), right, right_updates)?;
                self.combine(pos, left, right)
            }
        }
    }

    fn child(
        &mut self,
        pos: NodeKey,
        hash: Hash,
        updates: &[Update],
    ) -> Result<Shape, TreeError<S::Error>> {
        match (updates.is_empty(), hash == EMPTY) {
            (true, true) => Ok(Shape::Empty),
            (true, false) => Ok(Shape::Unchanged(hash)),
            (false, true) => self.build(pos, updates),
            (false, false) => {
                let existing = self.read_child(&pos)?;
                self.update(pos, Some(existing), updates)
            }
        }
    }

    /// Builds the subtree at the (empty) position `pos` from the inserts among `entries`
    /// (sorted, unique, below `pos`); deletes are no-ops here.
    fn build(&mut self, pos: NodeKey, entries: &[Update]) -> Result<Shape, TreeError<S::Error>> {
        let mut inserts = entries
            .iter()
            .filter_map(|(path, value)| value.map(|v| (path, v)));
        let Some((path, value_hash)) = inserts.next() else {
            return Ok(Shape::Empty);
        };
        if inserts.next().is_none() {
            return Ok(Shape::Leaf(Leaf {
                path: *path,
                value_hash,
            }));
        }
        if pos.depth() >= MAX_DEPTH {
            // Two distinct paths always differ in one of their 256 bits.
            return Err(TreeError::Corrupt {
                at: pos,
                what: "two leaves share a full path",
            });
        }
        let split = entries.partition_point(|(path, _)| !pos.direction(path));
        let (left, right) = entries.split_at(split);
        let left = self.build(pos.child(false), left)?;
        let right = self.build(pos.child(true), right)?;
        self.combine(pos, left, right)
    }

    /// Joins the two children of `pos`, collapsing single leaves upwards.
    fn combine(
        &mut self,
        pos: NodeKey,
        left: Shape,
        right: Shape,
    ) -> Result<Shape, TreeError<S::Error>> {
        match (left, right) {
            (Shape::Empty, Shape::Empty) => Ok(Shape::Empty),
            (Shape::Leaf(leaf), Shape::Empty) | (Shape::Empty, Shape::Leaf(leaf)) => {
                Ok(Shape::Leaf(leaf))
            }
            (Shape::Unchanged(hash), Shape::Empty) => self.lone_child(pos, false, hash),
            (Shape::Empty, Shape::Unchanged(hash)) => self.lone_child(pos, true, hash),
            (left, right) => {
                let left = self.place(pos.child(false), left);
                let right = self.place(pos.child(true), right);
                let node = Node::Internal { left, right };
                let hash = node.hash();
                self.writes.insert(pos, Some(node));
                Ok(Shape::Internal(hash))
            }
        }
    }

    /// `pos` lost one side; the untouched other side floats up if it is a single leaf.
    fn lone_child(
        &mut self,
        pos: NodeKey,
        right: bool,
        hash: Hash,
    ) -> Result<Shape, TreeError<S::Error>> {
        let child_pos = pos.child(right);
        match self.read_child(&child_pos)? {
            Node::Leaf(leaf) => {
                self.writes.insert(child_pos, None);
                Ok(Shape::Leaf(leaf))
            }
            Node::Internal { .. } => {
                let node = if right {
                    Node::Internal {
                        left: EMPTY,
                        right: hash,
                    }
                } else {
                    Node::Internal {
                        left: hash,
                        right: EMPTY,
                    }
                };
                let parent = node.hash();
                self.writes.insert(pos, Some(node));
                Ok(Shape::Internal(parent))
            }
        }
    }

    /// Writes a pending leaf at `pos`; returns the hash of the subtree at `pos`.
    fn place(&mut self, pos: NodeKey, shape: Shape) -> Hash {
        match shape {
            Shape::Empty => EMPTY,
            Shape::Leaf(leaf) => {
                self.writes.insert(pos, Some(Node::Leaf(leaf)));
                leaf.hash()
            }
            Shape::Internal(hash) | Shape::Unchanged(hash) => hash,
        }
    }
}

/// `updates` plus the existing `leaf`, unless an update replaces or deletes it.
fn merge_leaf(updates: &[Update], leaf: Leaf) -> Vec<Update> {
    let mut merged = Vec::with_capacity(updates.len() + 1);
    let at = updates.partition_point(|(path, _)| *path < leaf.path);
    merged.extend_from_slice(&updates[..at]);
    if updates.get(at).is_none_or(|(path, _)| *path != leaf.path) {
        merged.push((leaf.path, Some(leaf.value_hash)));
    }
    merged.extend_from_slice(&updates[at..]);
    merged
}

/// The root hash of the tree in `store` (`EMPTY` if it has no root node).
pub fn root_hash<S: NodeStore>(store: &S) -> Result<Hash, TreeError<S::Error>> {
    Ok(store
        .node(&NodeKey::ROOT)
        .map_err(TreeError::Store)?
        .map_or(EMPTY, |node| node.hash()))
}

/// Applies a batch of updates (path, new value hash or `None` to delete) to the tree in `store`
/// and returns the new root and the node writes and deletes that produce it; `store` itself is not
/// modified. If a path occurs more than once, its last update wins. Deleting an absent key is a
/// no-op.
///
/// Every stored node the batch touches is read exactly once, and every new node is hashed once.
pub fn apply_updates<S: NodeStore>(
    store: &S,
    mut updates: Vec<Update>,
) -> Result<TreeUpdate, TreeError<S::Error>> {
    // Stable sort, then keep the last update of each path.
    updates.sort_by_key(|update| update.0);
    let mut unique: Vec<Update> = Vec::with_capacity(updates.len());
    for update in updates {
        match unique.last_mut() {
            Some(last) if last.0 == update.0 => *last = update,
            _ => unique.push(update),
        }
    }
    let existing = store.node(&NodeKey::ROOT).map_err(TreeError::Store)?;
    if unique.is_empty() {
        return Ok(TreeUpdate {
            root: existing.map_or(EMPTY, |node| node.hash()),
            writes: Vec::new(),
        });
    }
    let mut updater = Updater {
        store,
        writes: BTreeMap::new(),
    };
    let shape = updater.update(NodeKey::ROOT, existing, &unique)?;
    let root = updater.place(NodeKey::ROOT, shape);
    Ok(TreeUpdate {
        root,
        writes: updater.writes.into_iter().collect(),
    })
}

/// Builds the proof for `path` (a key's [`key_path`]) from the tree in `store`: inclusion if the
/// key is present, exclusion otherwise.
pub fn prove<S: NodeStore>(store: &S, path: &Hash) -> Result<Proof, TreeError<S::Error>> {
    let mut pos = NodeKey::ROOT;
    let mut siblings = Vec::new();
    let Some(mut node) = store.node(&pos).map_err(TreeError::Store)? else {
        return Ok(Proof {
            siblings,
            terminal: Terminal::Empty,
        });
    };
    loop {
        match node {
            Node::Leaf(leaf) => {
                return Ok(Proof {
                    siblings,
                    terminal: Terminal::Leaf(leaf),
                });
            }
            Node::Internal { left, right } => {
                if pos.depth() >= MAX_DEPTH {
                    return Err(TreeError::Corrupt {
                        at: pos,
                        what: "internal node at the maximum depth",
                    });
                }
                let right_side = pos.direction(path);
                let (next, sibling) = if right_side {
                    (right, left)
                } else {
                    (left, right)
                };
                siblings.push(sibling);
                if next == EMPTY {
                    return Ok(Proof {
                        siblings,
                        terminal: Terminal::Empty,
                    });
                }
                pos = pos.child(right_side);
                node = store
                    .node(&pos)
                    .map_err(TreeError::Store)?
                    .ok_or(TreeError::MissingNode(pos))?;
            }
        }
    }
}

/// A whole tree held in memory: for tests, tools and light clients that build small trees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryNodeStore {
    nodes: BTreeMap<NodeKey, Node>,
}

impl MemoryNodeStore {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies the changes computed by [`apply_updates`].
    pub fn apply(&mut self, update: &TreeUpdate) {
        for (key, node) in &update.writes {
            match node {
                Some(node) => self.nodes.insert(*key, *node),
                None => self.nodes.remove(key),
            };
        }
    }

    /// Sets (`Some`) or deletes (`None`) keys and returns the new root.
    pub fn update<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        changes: impl IntoIterator<Item = (K, Option<V>)>,
    ) -> Hash {
        let updates = changes
            .into_iter()
            .map(|(key, value)| {
                (
                    key_path(key.as_ref()),
                    value.map(|v| value_hash(v.as_ref())),
                )
            })
            .collect();
        let update = match apply_updates(&*self, updates) {
            Ok(update) => update,
            Err(TreeError::Store(never)) => match never {},
            // The store only ever holds what `apply_updates` produced.
            Err(e) => unreachable!("in-memory tree is consistent: {e}"),
        };
        self.apply(&update);
        update.root
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.nodes.get(&NodeKey::ROOT).map_or(EMPTY, Node::hash)
    }

    /// The proof for `key`.
    pub fn prove(&self, key: &[u8]) -> Proof {
        match prove(self, &key_path(key)) {
            Ok(proof) => proof,
            Err(TreeError::Store(never)) => match never {},
            Err(e) => unreachable!("in-memory tree is consistent: {e}"),
        }
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// All stored nodes in position order.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeKey, &Node)> {
        self.nodes.iter()
    }
}

impl NodeStore for MemoryNodeStore {
    type Error = Infallible;

    fn node(&self, key: &NodeKey) -> Result<Option<Node>, Infallible> {
        Ok(self.nodes.get(key).copied())
    }
}
