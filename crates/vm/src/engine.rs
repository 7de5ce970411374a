//! The engine: compile once, cache by code hash, instantiate per call from a pool, meter fuel.

use crate::config::{EngineConfig, host_cost, wasmtime_config};
use crate::host::{self, HostExit, HostState, MemoryCap};
use crate::validate::{ModuleInfo, ValidationError, validate};
use hyperchain_types::{
    Address, CallOutcome, CallStatus, Digest, TrapKind, limits, sha256, sha256_parts,
};
use lru::LruCache;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::{InstancePre, Linker, Module, ModuleExport, Store, Trap};

/// Read access to one contract's storage as of the start of a call.
pub trait StorageReader {
    /// The value of `key`, or `None` if absent.
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// The expiry (block time, ms) of compute node `node_id` in the chain's identity
    /// accumulator, or `None` if it is not there (`compute_node_active` in the host API).
    /// Readers without a registry (tools, tests) have no nodes.
    fn compute_node_expiry(&self, node_id: &[u8; 32]) -> Result<Option<u64>, StorageError> {
        let _ = node_id;
        Ok(None)
    }
}

impl StorageReader for std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.get(key).cloned())
    }
}

/// The node could not read its own state. Not a contract fault: the call has no outcome and
/// the node must not commit anything depending on it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storage read failed: {0}")]
pub struct StorageError(pub String);

/// Failures of the node, as opposed to outcomes of the contract (which are [`CallStatus`]).
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The module was rejected at deploy time.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The engine could not compile a module it had validated.
    #[error("compilation failed: {0}")]
    Compile(String),
    /// Reading state failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Anything else the engine reported.
    #[error("engine failure: {0}")]
    Internal(String),
}

/// Who calls what, when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallContext {
    /// The account that sent the call.
    pub caller: Address,
    /// The contract being called.
    pub contract: Address,
    /// Height of the executing block.
    pub block_height: u64,
    /// Validated timestamp of the executing block, ms since the Unix epoch.
    pub block_time_ms: u64,
}

/// One call to make.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// Context visible to the contract.
    pub ctx: CallContext,
    /// Exported method to run.
    pub method: &'a str,
    /// Call input.
    pub input: &'a [u8],
    /// Most fuel the call may use.
    pub fuel_limit: u64,
}

/// A validated, compiled contract, ready to instantiate.
pub struct Contract {
    code_hash: Digest,
    info: ModuleInfo,
    pre: InstancePre<HostState>,
    methods: HashMap<String, ModuleExport>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("code_hash", &self.code_hash)
            .field("methods", &self.info.methods)
            .finish()
    }
}

impl Contract {
    /// SHA-256 of the module bytes.
    pub fn code_hash(&self) -> Digest {
        self.code_hash
    }

    /// What the module contains.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }
}

/// Module cache counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Loads served from memory.
    pub memory_hits: u64,
    /// Loads served from the on-disk cache.
    pub disk_hits: u64,
    /// Loads that compiled.
    pub compiles: u64,
}

/// How long a call holding a slot waits for the instance pool to take back a finished call's
/// place before it fails (a node failure; by then something else is wrong).
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The engine's instance slots: a call holds one while it runs, and a call finding none free
/// waits for one (calls never wait on each other, so this cannot deadlock). Block execution
/// thus never fails because other executions — or abandoned verifications still finishing —
/// hold every slot; it only waits.
struct Slots {
    free: Mutex<u32>,
    freed: parking_lot::Condvar,
}

impl Slots {
    fn take(&self) -> Slot<'_> {
        let mut free = self.free.lock();
        while *free == 0 {
            self.freed.wait(&mut free);
        }
        *free -= 1;
        Slot(self)
    }
}

/// A taken instance slot, given back when dropped.
struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock() += 1;
        self.0.freed.notify_one();
    }
}

struct Inner {
    engine: wasmtime::Engine,
    slots: Slots,
    linker: Linker<HostState>,
    config: EngineConfig,
    compat: u64,
    cache: Mutex<LruCache<Digest, Arc<Contract>>>,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    compiles: AtomicU64,
}

/// The deterministic contract engine. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Engine {
    /// Builds an engine with `config`.
    pub fn new(config: EngineConfig) -> Result<Self, VmError> {
        let engine = wasmtime::Engine::new(&wasmtime_config(&config))
            .map_err(|e| VmError::Internal(format!("cannot configure wasmtime: {e}")))?;
        let mut linker = Linker::new(&engine);
        host::link(&mut linker).map_err(|e| VmError::Internal(e.to_string()))?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let compat = h.finish();
        let entries = NonZeroUsize::new(config.module_cache_entries.max(1)).expect("non-zero");
        Ok(Engine {
            inner: Arc::new(Inner {
                engine,
                slots: Slots {
                    free: Mutex::new(config.max_concurrent_calls.max(1)),
                    freed: parking_lot::Condvar::new(),
                },
                linker,
                compat,
                cache: Mutex::new(LruCache::new(entries)),
                config,
                memory_hits: AtomicU64::new(0),
                disk_hits: AtomicU64::new(0),
                compiles: AtomicU64::new(0),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Identifies the compiled-code format: artefacts are reusable only between engines with
    /// the same value (same wasmtime build, settings and CPU features).
    pub fn compatibility(&self) -> u64 {
        self.inner.compat
    }

    /// Deploy-time validation only.
    pub fn validate(&self, code: &[u8]) -> Result<ModuleInfo, ValidationError> {
        validate(code, &self.inner.config.limits)
    }

    /// Validates and compiles `code`, or returns the cached contract with the same hash.
    pub fn load(&self, code: &[u8]) -> Result<Arc<Contract>, VmError> {
        let code_hash = sha256(code);
        if let Some(c) = self.cached(&code_hash) {
            return Ok(c);
        }
        let info = self.validate(code)?;
        let module = self.compile(code, &code_hash)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&module)
            .map_err(|e| VmError::Internal(format!("cannot link: {e}")))?;
        let methods = info
            .methods
            .iter()
            .filter_map(|m| module.get_export_index(m).map(|e| (m.clone(), e)))
            .collect();
        let contract = Arc::new(Contract {
            code_hash,
            info,
            pre,
            methods,
        });
        self.inner.cache.lock().put(code_hash, contract.clone());
        Ok(contract)
    }

    /// The contract with this code hash, if it is compiled and in memory.
    pub fn cached(&self, code_hash: &Digest) -> Option<Arc<Contract>> {
        let hit = self.inner.cache.lock().get(code_hash).cloned();
        if hit.is_some() {
            self.inner.memory_hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Module cache counters since the engine was built.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            memory_hits: self.inner.memory_hits.load(Ordering::Relaxed),
            disk_hits: self.inner.disk_hits.load(Ordering::Relaxed),
            compiles: self.inner.compiles.load(Ordering::Relaxed),
        }
    }

    fn compile(&self, code: &[u8], code_hash: &Digest) -> Result<Module, VmError> {
        let inner = &self.inner;
        let path = inner
            .config
            .module_cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{code_hash}-{:016x}.cwasm", inner.compat)));
        if let Some(module) = path
            .as_deref()
            .and_then(|p| self.load_artefact(p, code_hash))
        {
            inner.disk_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(module);
        }
        let module = Module::from_binary(&inner.engine, code)
            .map_err(|e| VmError::Compile(e.to_string()))?;
        inner.compiles.fetch_add(1, Ordering::Relaxed);
        if let Some(path) = path {
            // The cache is an optimisation: failing to write it is not an error.
            if let Err(e) = self.store_artefact(&path, code_hash, &module) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write compiled module cache");
            }
        }
        Ok(module)
    }

    fn artefact_tag(&self, code_hash: &Digest, artefact: &[u8]) -> Digest {
        sha256_parts(&[
            b"hyperchain/cwasm/v1",
            &code_hash.0,
            &self.inner.compat.to_le_bytes(),
            artefact,
        ])
    }

    fn load_artefact(&self, path: &Path, code_hash: &Digest) -> Option<Module> {
        let bytes = std::fs::read(path).ok()?;
        let (tag, artefact) = bytes.split_at_checked(32)?;
        if tag != self.artefact_tag(code_hash, artefact).0 {
            tracing::warn!(path = %path.display(), "ignoring corrupt compiled module cache entry");
            return None;
        }
        // SAFETY: `Module::deserialize` requires bytes produced by `Module::serialize` of a
        // compatible engine. The file name carries our compatibility hash and the tag above
        // proves the bytes are exactly what `store_artefact` wrote for this code hash and
        // engine; anyone able to rewrite the node's data directory is outside the threat model.
        unsafe { Module::deserialize(&self.inner.engine, artefact) }.ok()
    }

    fn store_artefact(
        &self,
        path: &Path,
        code_hash: &Digest,
        module: &Module,
    ) -> std::io::Result<()> {
        let artefact = module
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        let mut bytes = self.artefact_tag(code_hash, &artefact).0.to_vec();
        bytes.extend_from_slice(&artefact);
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(tmp, path)
    }

    /// Instantiates `contract` in `store`, which holds a slot. The pool has a place for every
    /// slot, but a place freed by a finished call reaches the pool only once wasmtime has
    /// decommitted its memory (in batches, and a flush by another thread may be under way), so
    /// a pool found full while holding a slot is only a wait: it is tried again.
    fn instantiate(
        &self,
        contract: &Contract,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<wasmtime::Instance> {
        let started = std::time::Instant::now();
        loop {
            match contract.pre.instantiate(&mut *store) {
                Err(e)
                    if e.is::<wasmtime::PoolConcurrencyLimitError>()
                        && started.elapsed() < POOL_WAIT =>
                {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                other => return other,
            }
        }
    }

    /// Runs one call. Contract faults (revert, trap, out of fuel) are an `Ok` outcome; `Err`
    /// means the node itself failed and the call has no outcome.
    pub fn call(
        &self,
        contract: &Contract,
        call: Call<'_>,
        reader: Arc<dyn StorageReader>,
    ) -> Result<CallOutcome, VmError> {
        let fail = |status, fuel| Ok(CallOutcome::failed(status, fuel, BTreeSet::new()));
        if call.input.len() > limits::MAX_INPUT {
            return fail(CallStatus::Trap(TrapKind::InputTooLarge), 0);
        }
        let Some(export) = contract.methods.get(call.method) else {
            return fail(CallStatus::Trap(TrapKind::NoSuchMethod), 0);
        };
        if call.fuel_limit < host_cost::CALL {
            return fail(CallStatus::OutOfFuel, call.fuel_limit);
        }
        let state = HostState {
            cap: MemoryCap {
                max_bytes: self.inner.config.limits.max_memory_bytes(),
                refused: false,
            },
            memory: None,
            ctx: call.ctx,
            input: call.input.to_vec(),
            output: Vec::new(),
            reader,
            reads: BTreeSet::new(),
            read_bytes: 0,
            writes: Default::default(),
            write_bytes: 0,
            events: Vec::new(),
        };
        // Every store holds a slot, taken before it and given back after it is dropped, so the
        // instance pool (sized to the slots) always has room.
        let _slot = self.inner.slots.take();
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.cap);
        // wasmtime checks fuel only at function entries and loop headers, so straight-line code
        // can overshoot the budget before a check, and its counter reads 0 once overshot. One
        // unit of slack makes the rule exact: the call is out of fuel iff it consumed more than
        // its limit, which shows as either a fuel trap or no fuel left at the end.
        let budget = call.fuel_limit - host_cost::CALL + 1;
        store
            .set_fuel(budget)
            .map_err(|e| VmError::Internal(e.to_string()))?;

        let result = match self.instantiate(contract, &mut store) {
            Ok(instance) => {
                let memory = instance.get_memory(&mut store, "memory");
                store.data_mut().memory = memory;
                let func = instance
                    .get_module_export(&mut store, export)
                    .and_then(|e| e.into_func())
                    .ok_or_else(|| {
                        VmError::Internal(format!("export `{}` vanished", call.method))
                    })?;
                let typed = func
                    .typed::<(), ()>(&store)
                    .map_err(|e| VmError::Internal(format!("method type changed: {e}")))?;
                typed.call(&mut store, ())
            }
            Err(e) => Err(e),
        };

        let left = store
            .get_fuel()
            .map_err(|e| VmError::Internal(e.to_string()))?;
        let refused = store.data().cap.refused;
        let state = store.into_data();
        let status = match result {
            Ok(()) if left == 0 => CallStatus::OutOfFuel,
            Ok(()) => CallStatus::Ok,
            Err(e) => classify(e, refused)?,
        };
        let fuel_used = match status {
            CallStatus::OutOfFuel => call.fuel_limit,
            _ => (host_cost::CALL + budget - left).min(call.fuel_limit),
        };
        if !status.is_ok() {
            return Ok(CallOutcome::failed(status, fuel_used, state.reads));
        }
        Ok(CallOutcome {
            status,
            output: state.output,
            events: state.events,
            fuel_used,
            reads: state.reads,
            writes: state.writes,
        })
    }
}

/// Maps an error that ended a call to its status, or to a node failure.
fn classify(err: wasmtime::Error, memory_refused: bool) -> Result<CallStatus, VmError> {
    let err = match err.downcast::<HostExit>() {
        Ok(exit) => {
            return match exit {
                HostExit::Revert(msg) => Ok(CallStatus::Reverted(msg)),
                HostExit::Trap(kind) => Ok(CallStatus::Trap(kind)),
                HostExit::OutOfFuel => Ok(CallStatus::OutOfFuel),
                HostExit::Storage(e) => Err(VmError::Storage(e)),
            };
        }
        Err(err) => err,
    };
    let Some(trap) = err.downcast_ref::<Trap>() else {
        return Err(VmError::Internal(err.to_string()));
    };
    let kind = match *trap {
        Trap::OutOfFuel => return Ok(CallStatus::OutOfFuel),
        Trap::StackOverflow => TrapKind::StackOverflow,
        // A contract whose allocator was refused memory typically ends in one of these.
        Trap::UnreachableCodeReached | Trap::MemoryOutOfBounds if memory_refused => {
            TrapKind::MemoryLimit
        }
        Trap::UnreachableCodeReached => TrapKind::Unreachable,
        Trap::MemoryOutOfBounds | Trap::HeapMisaligned => TrapKind::MemoryOutOfBounds,
        Trap::TableOutOfBounds | Trap::IndirectCallToNull | Trap::BadSignature => {
            TrapKind::IndirectCall
        }
        Trap::IntegerOverflow => TrapKind::IntegerOverflow,
        Trap::IntegerDivisionByZero => TrapKind::IntegerDivideByZero,
        Trap::BadConversionToInteger => TrapKind::BadConversionToInteger,
        _ => TrapKind::Other,
    };
    Ok(CallStatus::Trap(kind))
}
