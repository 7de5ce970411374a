//! The redb-backed store: tables, commits, snapshots and dry runs.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use hyperchain_merkle::{
    EMPTY, Hash, Node, NodeKey, NodeStore, Proof, StateProof, TreeId, TreeUpdate, Update,
    apply_updates, key_path, prove, value_hash,
};
use redb::backends::InMemoryBackend;
use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, Table, TableDefinition,
};

use crate::batch::{TreeWrites, WriteBatch};
use crate::error::StateError;
use crate::reader::{BatchRoots, KeyValue, StateReader};

/// Version of the on-disk layout written by this build.
pub const FORMAT_VERSION: u8 = 1;

/// File name of the database when [`Store::open`] is given a directory.
pub const DATABASE_FILE: &str = "state.redb";

type Bytes = &'static [u8];

/// `tree ‖ depth (u16 BE) ‖ prefix[..ceil(depth / 8)]` → `Node::encode()`.
const NODES: TableDefinition<'static, Bytes, Bytes> = TableDefinition::new("merkle_nodes");
/// `tree ‖ key` → value.
const VALUES: TableDefinition<'static, Bytes, Bytes> = TableDefinition::new("values");
/// Store metadata, see the `META_*` keys.
const META: TableDefinition<'static, &'static str, Bytes> = TableDefinition::new("meta");

const META_FORMAT: &str = "format";
const META_ROOT: &str = "state_root";
const META_HEIGHT: &str = "height";

fn node_db_key(tree: &TreeId, pos: &NodeKey) -> Vec<u8> {
    let mut key = Vec::with_capacity(32 + 2 + 32);
    key.extend_from_slice(&tree.0);
    pos.encode_into(&mut key);
    key
}

fn value_db_key(tree: &TreeId, key: &[u8]) -> Vec<u8> {
    let mut db_key = Vec::with_capacity(32 + key.len());
    db_key.extend_from_slice(&tree.0);
    db_key.extend_from_slice(key);
    db_key
}

fn hash_from(bytes: &[u8], what: &str) -> Result<Hash, StateError> {
    bytes
        .try_into()
        .map_err(|_| StateError::Corrupt(format!("{what} is {} bytes, not 32", bytes.len())))
}

/// The nodes of one tree, read from the node table of a transaction.
struct TreeNodes<'a, T> {
    table: &'a T,
    tree: TreeId,
}

impl<T: ReadableTable<Bytes, Bytes>> NodeStore for TreeNodes<'_, T> {
    type Error = StateError;

    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StateError> {
        let db_key = node_db_key(&self.tree, key);
        let Some(bytes) = self.table.get(db_key.as_slice())? else {
            return Ok(None);
        };
        Node::decode(bytes.value())
            .map(Some)
            .map_err(|e| StateError::Corrupt(format!("node at {key} of tree {}: {e}", self.tree)))
    }
}

fn read_height<M: ReadableTable<&'static str, Bytes>>(meta: &M) -> Result<u64, StateError> {
    match meta.get(META_HEIGHT)? {
        None => Ok(0),
        Some(bytes) => {
            let bytes: [u8; 8] = bytes.value().try_into().map_err(|_| {
                StateError::Corrupt(format!("height is {} bytes, not 8", bytes.value().len()))
            })?;
            Ok(u64::from_be_bytes(bytes))
        }
    }
}

fn read_state_root<M: ReadableTable<&'static str, Bytes>>(meta: &M) -> Result<Hash, StateError> {
    match meta.get(META_ROOT)? {
        None => Ok(EMPTY),
        Some(bytes) => hash_from(bytes.value(), "state root"),
    }
}

fn read_value<V: ReadableTable<Bytes, Bytes>>(
    values: &V,
    tree: &TreeId,
    key: &[u8],
) -> Result<Option<Vec<u8>>, StateError> {
    let db_key = value_db_key(tree, key);
    Ok(values.get(db_key.as_slice())?.map(|v| v.value().to_vec()))
}

/// The root of a sub-tree, from its link entry (`EMPTY` if unlinked).
fn read_subtree_root<V: ReadableTable<Bytes, Bytes>>(
    values: &V,
    tree: &TreeId,
) -> Result<Hash, StateError> {
    let db_key = value_db_key(&TreeId::ROOT, &tree.link_key());
    match values.get(db_key.as_slice())? {
        None => Ok(EMPTY),
        Some(bytes) => hash_from(bytes.value(), "sub-tree link"),
    }
}

fn hash_updates(writes: &TreeWrites) -> Vec<Update> {
    writes
        .iter()
        .map(|(key, value)| (key_path(key), value.as_deref().map(value_hash)))
        .collect()
}

/// Everything a commit writes, computed from one consistent read of the store.
struct Plan {
    roots: BatchRoots,
    node_writes: Vec<(TreeId, TreeUpdate)>,
    /// Sub-trees whose root changed, with the new root.
    link_writes: Vec<(TreeId, Hash)>,
}

/// Sub-trees first, then their link leaves together with the root-tree writes.
fn plan<N, V>(nodes: &N, values: &V, batch: &WriteBatch) -> Result<Plan, StateError>
where
    N: ReadableTable<Bytes, Bytes>,
    V: ReadableTable<Bytes, Bytes>,
{
    let mut tree_roots = BTreeMap::new();
    let mut node_writes = Vec::new();
    let mut link_writes = Vec::new();
    let mut root_updates = Vec::new();
    for (tree, writes) in batch.trees() {
        if tree.is_root() {
            root_updates.extend(hash_updates(writes));
            continue;
        }
        let update = apply_updates(
            &TreeNodes {
                table: nodes,
                tree: *tree,
            },
            hash_updates(writes),
        )?;
        if update.root != read_subtree_root(values, tree)? {
            let linked = (update.root != EMPTY).then(|| value_hash(&update.root));
            root_updates.push((key_path(&tree.link_key()), linked));
            link_writes.push((*tree, update.root));
        }
        tree_roots.insert(*tree, update.root);
        node_writes.push((*tree, update));
    }
    let root_update = apply_updates(
        &TreeNodes {
            table: nodes,
            tree: TreeId::ROOT,
        },
        root_updates,
    )?;
    if batch.tree(&TreeId::ROOT).is_some() {
        tree_roots.insert(TreeId::ROOT, root_update.root);
    }
    let state_root = root_update.root;
    node_writes.push((TreeId::ROOT, root_update));
    Ok(Plan {
        roots: BatchRoots {
            state_root,
            tree_roots,
        },
        node_writes,
        link_writes,
    })
}

fn write_plan(
    nodes: &mut Table<'_, Bytes, Bytes>,
    values: &mut Table<'_, Bytes, Bytes>,
    meta: &mut Table<'_, &'static str, Bytes>,
    batch: &WriteBatch,
    plan: &Plan,
    height: u64,
) -> Result<(), StateError> {
    for (tree, update) in &plan.node_writes {
        for (pos, node) in &update.writes {
            let key = node_db_key(tree, pos);
            match node {
                Some(node) => nodes.insert(key.as_slice(), node.encode().as_slice())?,
                None => nodes.remove(key.as_slice())?,
            };
        }
    }
    for (tree, writes) in batch.trees() {
        for (key, value) in writes {
            let key = value_db_key(tree, key);
            match value {
                Some(value) => values.insert(key.as_slice(), value.as_slice())?,
                None => values.remove(key.as_slice())?,
            };
        }
    }
    for (tree, root) in &plan.link_writes {
        let key = value_db_key(&TreeId::ROOT, &tree.link_key());
        if *root == EMPTY {
            values.remove(key.as_slice())?;
        } else {
            values.insert(key.as_slice(), root.as_slice())?;
        }
    }
    meta.insert(META_ROOT, plan.roots.state_root.as_slice())?;
    meta.insert(META_HEIGHT, height.to_be_bytes().as_slice())?;
    Ok(())
}

/// The authenticated state, persisted in a redb database.
///
/// All reads of one [`Snapshot`] come from one committed version; the convenience reads on
/// `Store` each take a fresh snapshot. Commits are atomic and durable when they return.
pub struct Store {
    db: Database,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if missing) the store at `path`: an existing directory, or a path ending
    /// in `.redb`, or an existing database file; any other missing path is created as a
    /// directory. Inside a directory the database is [`DATABASE_FILE`]. Reopening after a crash
    /// sees every commit that returned before it, plus possibly the one in flight, never part of
    /// a commit.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StateError> {
        let file = database_file(path.as_ref())?;
        Store::init(Database::create(file)?)
    }

    /// A store held in memory (same code path as [`Store::open`], nothing persisted).
    pub fn in_memory() -> Result<Store, StateError> {
        Store::init(Database::builder().create_with_backend(InMemoryBackend::new())?)
    }

    fn init(db: Database) -> Result<Store, StateError> {
        let txn = db.begin_write()?;
        {
            txn.open_table(NODES)?;
            txn.open_table(VALUES)?;
            let mut meta = txn.open_table(META)?;
            let format = meta.get(META_FORMAT)?.map(|v| v.value().to_vec());
            match format.as_deref() {
                None => {
                    meta.insert(META_FORMAT, [FORMAT_VERSION].as_slice())?;
                }
                Some([FORMAT_VERSION]) => {}
                Some(other) => {
                    return Err(StateError::Format {
                        found: other.first().copied().unwrap_or(0),
                        expected: FORMAT_VERSION,
                    });
                }
            }
        }
        txn.commit()?;
        Ok(Store { db })
    }

    /// A consistent read view of the latest commit.
    pub fn snapshot(&self) -> Result<Snapshot, StateError> {
        let txn = self.db.begin_read()?;
        Ok(Snapshot {
            nodes: txn.open_table(NODES)?,
            values: txn.open_table(VALUES)?,
            meta: txn.open_table(META)?,
        })
    }

    /// Applies `batch` atomically and records `height`; returns the new state root.
    ///
    /// Sub-trees are updated first, then their links and the root-tree writes; nodes, values
    /// and metadata are written in one transaction that is durable when this returns. A batch
    /// that fails [`WriteBatch::validate`], or a `height` below the current one, writes nothing.
    pub fn commit(&self, batch: &WriteBatch, height: u64) -> Result<Hash, StateError> {
        batch.validate()?;
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let state_root = {
            let mut nodes = txn.open_table(NODES)?;
            let mut values = txn.open_table(VALUES)?;
            let mut meta = txn.open_table(META)?;
            let current = read_height(&meta)?;
            if height < current {
                return Err(StateError::HeightRegression { height, current });
            }
            let plan = plan(&nodes, &values, batch)?;
            write_plan(&mut nodes, &mut values, &mut meta, batch, &plan, height)?;
            plan.roots.state_root
        };
        txn.commit()?;
        Ok(state_root)
    }

    /// The state root (`EMPTY` for a fresh store).
    pub fn root(&self) -> Result<Hash, StateError> {
        self.snapshot()?.root()
    }

    /// The height recorded by the last commit (0 for a fresh store).
    pub fn height(&self) -> Result<u64, StateError> {
        self.snapshot()?.height()
    }

    /// See [`Snapshot::get`].
    pub fn get(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.snapshot()?.get(tree, key)
    }

    /// See [`Snapshot::tree_root`].
    pub fn tree_root(&self, tree: &TreeId) -> Result<Hash, StateError> {
        self.snapshot()?.tree_root(tree)
    }

    /// See [`Snapshot::prove`].
    pub fn prove(&self, tree: &TreeId, key: &[u8]) -> Result<StateProof, StateError> {
        self.snapshot()?.prove(tree, key)
    }

    /// See [`Snapshot::prove_tree_root`].
    pub fn prove_tree_root(&self, tree: &TreeId) -> Result<(Hash, Proof), StateError> {
        self.snapshot()?.prove_tree_root(tree)
    }

    /// See [`Snapshot::scan_prefix`].
    pub fn scan_prefix(
        &self,
        tree: &TreeId,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StateError> {
        self.snapshot()?.scan_prefix(tree, prefix, limit)
    }

    /// See [`Snapshot::compute_roots`].
    pub fn compute_roots(&self, batch: &WriteBatch) -> Result<BatchRoots, StateError> {
        self.snapshot()?.compute_roots(batch)
    }

    /// See [`Snapshot::compute_root`].
    pub fn compute_root(&self, batch: &WriteBatch) -> Result<Hash, StateError> {
        self.snapshot()?.compute_root(batch)
    }
}

fn database_file(path: &Path) -> Result<PathBuf, StateError> {
    if path.is_dir() {
        return Ok(path.join(DATABASE_FILE));
    }
    if path.exists() || path.extension().is_some_and(|ext| ext == "redb") {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        return Ok(path.to_path_buf());
    }
    fs::create_dir_all(path)?;
    Ok(path.join(DATABASE_FILE))
}

/// Where a state export goes on: the storage key of the last entry sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportCursor(pub Vec<u8>);

/// A chunk of a state export ([`Snapshot::export`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportChunk {
    /// `(tree, key, value)` in storage order, without sub-tree links.
    pub entries: Vec<(TreeId, Vec<u8>, Vec<u8>)>,
    /// The cursor of the next chunk; none after the last.
    pub next: Option<ExportCursor>,
}

/// A consistent read view: every read, proof and root comes from the same committed version,
/// whatever is committed meanwhile.
pub struct Snapshot {
    nodes: ReadOnlyTable<Bytes, Bytes>,
    values: ReadOnlyTable<Bytes, Bytes>,
    meta: ReadOnlyTable<&'static str, Bytes>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot").finish_non_exhaustive()
    }
}

impl Snapshot {
    /// The state root (`EMPTY` for a fresh store).
    pub fn root(&self) -> Result<Hash, StateError> {
        read_state_root(&self.meta)
    }

    /// The height recorded by the last commit (0 for a fresh store).
    pub fn height(&self) -> Result<u64, StateError> {
        read_height(&self.meta)
    }

    /// The value of `key` in `tree` (a direct lookup, no tree walk).
    pub fn get(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        read_value(&self.values, tree, key)
    }

    /// The root of `tree`: the state root for [`TreeId::ROOT`], the storage commitment of a
    /// contract for its sub-tree (`EMPTY` if the sub-tree is empty).
    pub fn tree_root(&self, tree: &TreeId) -> Result<Hash, StateError> {
        if tree.is_root() {
            self.root()
        } else {
            read_subtree_root(&self.values, tree)
        }
    }

    fn tree_nodes(&self, tree: TreeId) -> TreeNodes<'_, ReadOnlyTable<Bytes, Bytes>> {
        TreeNodes {
            table: &self.nodes,
            tree,
        }
    }

    /// A proof of `key`'s value or absence in `tree` against [`Snapshot::root`], for
    /// [`hyperchain_merkle::verify_state_proof`].
    pub fn prove(&self, tree: &TreeId, key: &[u8]) -> Result<StateProof, StateError> {
        if tree.is_root() {
            let link = prove(&self.tree_nodes(TreeId::ROOT), &key_path(key))?;
            return Ok(StateProof {
                subtree: None,
                link,
            });
        }
        let (subtree_root, link) = self.prove_tree_root(tree)?;
        let subtree = if subtree_root == EMPTY {
            None
        } else {
            Some(prove(&self.tree_nodes(*tree), &key_path(key))?)
        };
        Ok(StateProof { subtree, link })
    }

    /// The root of sub-tree `tree` (`EMPTY` if empty) and the proof of its link against
    /// [`Snapshot::root`], for [`hyperchain_merkle::verify_subtree_root`].
    pub fn prove_tree_root(&self, tree: &TreeId) -> Result<(Hash, Proof), StateError> {
        if tree.is_root() {
            return Err(StateError::RootTreeHasNoLink);
        }
        let root = read_subtree_root(&self.values, tree)?;
        let link = prove(&self.tree_nodes(TreeId::ROOT), &key_path(&tree.link_key()))?;
        Ok((root, link))
    }

    /// Up to `limit` entries of `tree` whose key starts with `prefix`, in key order. In the root
    /// tree this includes the sub-tree link entries (`b"\x00tree/" ‖ id` → sub-tree root).
    pub fn scan_prefix(
        &self,
        tree: &TreeId,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StateError> {
        let start = value_db_key(tree, prefix);
        let mut out = Vec::new();
        for entry in self.values.range(start.as_slice()..)? {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry?;
            let key = key.value();
            if !key.starts_with(&start) {
                break;
            }
            out.push((key[32..].to_vec(), value.value().to_vec()));
        }
        Ok(out)
    }

    /// The next entries of the whole state after `after` (none: from the start), in storage
    /// order (tree, then key), for state sync: at most `max_entries`, and no more than
    /// `max_bytes` of keys and values once at least one entry is taken. Sub-tree link entries
    /// are left out: committing the entries rebuilds them, so a store that commits every chunk
    /// ends with this snapshot's state root. `next` is the cursor of the following chunk, none
    /// after the last.
    pub fn export(
        &self,
        after: Option<&ExportCursor>,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<ExportChunk, StateError> {
        use std::ops::Bound;
        let start = match after {
            Some(cursor) => Bound::Excluded(cursor.0.as_slice()),
            None => Bound::Unbounded,
        };
        let mut entries = Vec::new();
        let mut bytes = 0;
        let mut last = None;
        for entry in self.values.range::<&[u8]>((start, Bound::Unbounded))? {
            if entries.len() >= max_entries.max(1) || (bytes >= max_bytes && !entries.is_empty()) {
                return Ok(ExportChunk {
                    entries,
                    next: last.map(ExportCursor),
                });
            }
            let (key, value) = entry?;
            let db_key = key.value();
            let tree = TreeId(
                db_key[..32]
                    .try_into()
                    .expect("value keys start with a tree id"),
            );
            let key = &db_key[32..];
            last = Some(db_key.to_vec());
            if hyperchain_merkle::is_reserved_key(&tree, key) {
                continue;
            }
            let value = value.value();
            bytes += key.len() + value.len();
            entries.push((tree, key.to_vec(), value.to_vec()));
        }
        Ok(ExportChunk {
            entries,
            next: None,
        })
    }

    /// The roots `batch` would produce if committed on top of this snapshot, without writing
    /// anything (e.g. to check the storage commitment a receipt claims).
    pub fn compute_roots(&self, batch: &WriteBatch) -> Result<BatchRoots, StateError> {
        batch.validate()?;
        Ok(plan(&self.nodes, &self.values, batch)?.roots)
    }

    /// The state root `batch` would produce if committed on top of this snapshot.
    pub fn compute_root(&self, batch: &WriteBatch) -> Result<Hash, StateError> {
        Ok(self.compute_roots(batch)?.state_root)
    }
}

impl StateReader for Snapshot {
    fn get(&self, tree: &TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Snapshot::get(self, tree, key)
    }

    fn tree_root(&self, tree: &TreeId) -> Result<Hash, StateError> {
        Snapshot::tree_root(self, tree)
    }

    fn compute_roots(&self, batch: &WriteBatch) -> Result<BatchRoots, StateError> {
        Snapshot::compute_roots(self, batch)
    }

    fn scan_prefix(
        &self,
        tree: &TreeId,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StateError> {
        Snapshot::scan_prefix(self, tree, prefix, limit)
    }
}
