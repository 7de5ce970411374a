//! Engine limits, the wasmtime configuration and the fuel cost table.
//!
//! Everything here is consensus-critical: two validators with different limits or prices would
//! disagree about which calls run out of fuel or trap. The values are documented in
//! `docs/ENGINE.md`; change them only together with that page, as a protocol upgrade.

use wasmtime::{OperatorCost, wasmparser::WasmFeatures};

/// Limits checked at deploy time and enforced at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineLimits {
    /// Largest module, in bytes.
    pub max_code_size: usize,
    /// Most 64 KiB pages a contract's memory may have, initially or after growth.
    pub max_memory_pages: u32,
    /// Most tables a module may define.
    pub max_tables: u32,
    /// Most elements a table may start with (tables cannot grow beyond this either).
    pub max_table_elements: u32,
    /// Most functions (imported + defined).
    pub max_functions: u32,
    /// Most globals.
    pub max_globals: u32,
    /// Most locals in one function (parameters included).
    pub max_locals_per_function: u32,
    /// Most exports.
    pub max_exports: u32,
    /// Most data segments.
    pub max_data_segments: u32,
    /// Most element segments.
    pub max_element_segments: u32,
    /// Native stack wasm code may use, in bytes.
    pub max_stack_bytes: usize,
}

impl EngineLimits {
    /// The limits of protocol version 1.
    pub const V1: EngineLimits = EngineLimits {
        max_code_size: 2 * 1024 * 1024,
        max_memory_pages: 512, // 32 MiB
        max_tables: 1,
        max_table_elements: 8192,
        max_functions: 16_384,
        max_globals: 512,
        max_locals_per_function: 4096,
        max_exports: 1024,
        max_data_segments: 1024,
        max_element_segments: 256,
        max_stack_bytes: 512 * 1024,
    };

    /// Largest linear memory, in bytes.
    pub fn max_memory_bytes(&self) -> usize {
        self.max_memory_pages as usize * 65536
    }
}

/// Node-local settings that do not affect results.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Consensus limits.
    pub limits: EngineLimits,
    /// How many calls may run at once on this engine (size of the instance pool).
    pub max_concurrent_calls: u32,
    /// How many compiled modules to keep in memory.
    pub module_cache_entries: usize,
    /// Where to keep compiled modules across restarts (none: memory only).
    pub module_cache_dir: Option<std::path::PathBuf>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            limits: EngineLimits::V1,
            max_concurrent_calls: 32,
            module_cache_entries: 256,
            module_cache_dir: None,
        }
    }
}

/// The WebAssembly features a contract may use. Everything else is rejected at deploy time:
/// threads and shared memory (non-deterministic), relaxed SIMD (implementation-defined
/// results), memory64 and multi-memory (not needed, larger attack surface), exceptions, GC,
/// tail calls, the component model.
pub fn allowed_features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::SIMD
        | WasmFeatures::FLOATS
        | WasmFeatures::EXTENDED_CONST
}

/// Fuel prices of host API v1 functions. Every host call pays `HOST_CALL` plus its own price,
/// and per-byte prices for the bytes it moves between the contract's memory and the host.
pub mod host_cost {
    /// Price of every call, charged before the contract starts: instantiation and set-up.
    pub const CALL: u64 = 1_000;
    /// Base price of any host call.
    pub const HOST_CALL: u64 = 100;
    /// Per byte copied between contract memory and the host (input, output, keys, values).
    pub const PER_BYTE: u64 = 1;
    /// `storage_read`: a lookup in the state database.
    pub const STORAGE_READ: u64 = 2_000;
    /// `storage_write`: a new or changed entry in authenticated state.
    pub const STORAGE_WRITE: u64 = 5_000;
    /// `storage_write`: additional price per value byte stored.
    pub const STORAGE_WRITE_PER_BYTE: u64 = 5;
    /// `storage_remove`.
    pub const STORAGE_REMOVE: u64 = 5_000;
    /// `emit_event`.
    pub const EVENT: u64 = 500;
    /// `emit_event`: additional price per topic and payload byte.
    pub const EVENT_PER_BYTE: u64 = 2;
    /// `sha256`.
    pub const SHA256: u64 = 300;
    /// `sha256`: per input byte.
    pub const SHA256_PER_BYTE: u64 = 4;
    /// `ed25519_verify`.
    pub const ED25519_VERIFY: u64 = 150_000;
}

/// The per-operator fuel table (protocol version 1).
///
/// Starts from wasmtime's default (1 per operator; 0 for `nop`, `drop`, `block`, `loop`,
/// `else`, `end`, `return`, `unreachable`) and prices the operators that cost a real CPU
/// several cycles: divisions, square roots, calls, and the bulk operations whose work depends
/// on a runtime operand, which are charged per byte, element or page.
pub fn operator_cost() -> OperatorCost {
    let mut c = OperatorCost::new();
    for div in [
        &mut c.I32DivS,
        &mut c.I32DivU,
        &mut c.I32RemS,
        &mut c.I32RemU,
        &mut c.I64DivS,
        &mut c.I64DivU,
        &mut c.I64RemS,
        &mut c.I64RemU,
        &mut c.F32Div,
        &mut c.F64Div,
        &mut c.F32Sqrt,
        &mut c.F64Sqrt,
    ] {
        *div = 8;
    }
    c.Call = 4;
    c.CallIndirect = 6;
    c.MemoryGrow = 100;
    c.MemorySize = 1;
    c.TableGrow = 100;

    let v = &mut c.variable;
    v.memory_copy_per_byte = 1;
    v.memory_fill_per_byte = 1;
    v.memory_init_per_byte = 1;
    // Largest price representable per page; growth is also bounded by the memory cap.
    v.memory_grow_per_page = 255;
    v.table_copy_per_element = 1;
    v.table_fill_per_element = 1;
    v.table_init_per_element = 1;
    v.table_grow_per_element = 4;
    c
}

/// The wasmtime configuration every validator and compute node uses.
pub(crate) fn wasmtime_config(cfg: &EngineConfig) -> wasmtime::Config {
    let limits = &cfg.limits;
    let mut c = wasmtime::Config::new();
    // Determinism: exactly the allowed features, nothing else. Deploy-time validation checks
    // the same set, so the engine never sees a module using anything more.
    c.wasm_features(!allowed_features(), false);
    c.wasm_features(allowed_features(), true);
    c.cranelift_nan_canonicalization(true);
    c.max_wasm_stack(limits.max_stack_bytes);
    // Metering.
    c.consume_fuel(true);
    c.operator_cost(operator_cost());
    // Speed: compile with optimisations, skip backtrace capture on traps.
    c.cranelift_opt_level(wasmtime::OptLevel::Speed);
    c.wasm_backtrace_max_frames(None);
    c.parallel_compilation(true);
    // Fast per-call instantiation from a pre-reserved pool.
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_core_instances(cfg.max_concurrent_calls)
        .total_memories(cfg.max_concurrent_calls)
        .total_tables(cfg.max_concurrent_calls)
        .max_memories_per_module(1)
        .max_tables_per_module(limits.max_tables)
        .table_elements(limits.max_table_elements as usize)
        .max_memory_size(limits.max_memory_bytes())
        .max_core_instance_size(1 << 20)
        // Keep a little of each memory resident between calls so small calls don't fault it in.
        .linear_memory_keep_resident(64 * 1024)
        .table_keep_resident(64 * 1024)
        // Return the rest of a used memory to the kernel in batches, not with one `madvise`
        // per call (which showed up as several percent of a validator's CPU).
        .decommit_batch_size(32);
    c.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_table_prices_expensive_operators() {
        let c = operator_cost();
        assert_eq!(c.I64DivU, 8);
        assert_eq!(c.I32Add, 1);
        assert_eq!(c.Nop, 0);
        assert_eq!(c.variable.memory_grow_per_page, 255);
    }

    #[test]
    fn engine_builds_with_v1_config() {
        wasmtime::Engine::new(&wasmtime_config(&EngineConfig::default())).unwrap();
    }
}
