//! Engine benchmarks: per-call overhead, and heavy workloads in WASM against the same Rust
//! code compiled natively (`hyperchain-workloads`).
//!
//! Run with `cargo bench -p hyperchain-vm --bench vm`. Names follow
//! `module::operation/param=value`; compare `vm::heavy/...` with `native::heavy/...`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hyperchain_contracts as contracts;
use hyperchain_sdk::encode;
use hyperchain_types::Address;
use hyperchain_vm::{Call, CallContext, Engine, EngineConfig, StorageReader};
use hyperchain_workloads as workloads;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn ctx() -> CallContext {
    CallContext {
        caller: Address([1; 32]),
        contract: Address([2; 32]),
        block_height: 1,
        block_time_ms: 0,
    }
}

fn per_call_overhead(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let noop = engine.load(contracts::NOOP).unwrap();
    let counter = engine.load(contracts::COUNTER).unwrap();
    let empty: Arc<dyn StorageReader> = Arc::new(BTreeMap::<Vec<u8>, Vec<u8>>::new());
    let mut g = c.benchmark_group("vm::call");
    g.bench_function("noop", |b| {
        b.iter(|| {
            let call = Call {
                ctx: ctx(),
                method: "noop",
                input: &[],
                fuel_limit: 1_000_000,
            };
            black_box(engine.call(&noop, call, empty.clone()).unwrap())
        })
    });
    let input = encode(&1u64);
    g.bench_function("counter_increment", |b| {
        b.iter(|| {
            let call = Call {
                ctx: ctx(),
                method: "increment",
                input: &input,
                fuel_limit: 1_000_000,
            };
            black_box(engine.call(&counter, call, empty.clone()).unwrap())
        })
    });
    g.bench_function("load_cached", |b| {
        b.iter(|| black_box(engine.load(contracts::COUNTER).unwrap()))
    });
    g.finish();
}

fn heavy(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let heavy = engine.load(contracts::HEAVY).unwrap();
    let empty: Arc<dyn StorageReader> = Arc::new(BTreeMap::<Vec<u8>, Vec<u8>>::new());
    let wasm = |method: &str, size: u32| {
        let input = encode(&size);
        let call = Call {
            ctx: ctx(),
            method,
            input: &input,
            fuel_limit: u64::MAX / 2,
        };
        let o = engine.call(&heavy, call, empty.clone()).unwrap();
        assert!(o.status.is_ok(), "{method}: {}", o.status);
        o
    };
    type Native = fn(u32) -> Vec<u8>;
    let cases: [(&str, u32, Native); 3] = [
        ("sha256_chain", 10_000, |n| {
            workloads::sha256_chain(n).to_vec()
        }),
        ("matmul", 96, |n| {
            workloads::matmul(n, workloads::SEED).to_le_bytes().to_vec()
        }),
        ("sort", 50_000, |n| {
            workloads::sort(n, workloads::SEED).to_le_bytes().to_vec()
        }),
    ];
    for (method, size, native) in cases {
        // Same answer both ways, or the comparison means nothing.
        let out = wasm(method, size).output;
        assert_eq!(out, native(size), "{method}: wasm and native disagree");
        let mut g = c.benchmark_group(format!("heavy::{method}"));
        g.sample_size(20).measurement_time(Duration::from_secs(8));
        g.bench_with_input(
            BenchmarkId::new("wasm", format!("size={size}")),
            &size,
            |b, &n| b.iter(|| black_box(wasm(method, n))),
        );
        g.bench_with_input(
            BenchmarkId::new("native", format!("size={size}")),
            &size,
            |b, &n| b.iter(|| black_box(native(black_box(n)))),
        );
        g.finish();
    }
}

criterion_group!(benches, per_call_overhead, heavy);
criterion_main!(benches);
