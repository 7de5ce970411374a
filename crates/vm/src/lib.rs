//! Deterministic WASM contract engine: validation, fuel metering, host API, module cache.
//!
//! One engine serves every place a contract runs — validators in replicated mode, enclaves on
//! compute nodes, validators arbitrating a dispute — so its results must be identical to the
//! bit everywhere:
//!
//! - **Determinism**: NaN canonicalization, no threads or relaxed SIMD, a bounded stack,
//!   memory capped by a resource limiter, and no source of time or randomness but the
//!   [`CallContext`].
//! - **Metering**: wasmtime fuel with the explicit [`config::operator_cost`] table (bulk memory
//!   operations per byte, memory growth per page) and [`config::host_cost`] prices for host
//!   calls. Running out is exact: `fuel_used` equals the limit.
//! - **Validation** at deploy time ([`validate`]) with a reason for every rejection.
//! - **Speed**: modules are compiled once and cached by code hash (in memory and optionally on
//!   disk, keyed by the engine's compatibility hash); calls instantiate from a pre-linked
//!   [`wasmtime::InstancePre`] into a pooling allocator.
//!
//! See `docs/ENGINE.md` for the cost table and limits, `docs/HOST_API.md` for the host API.

pub mod config;
mod crypto;
mod engine;
pub mod host;
pub mod validate;

pub use config::{EngineConfig, EngineLimits};
pub use engine::{
    CacheStats, Call, CallContext, Contract, Engine, StorageError, StorageReader, VmError,
};
pub use validate::{ModuleInfo, ValidationError, inspect};
