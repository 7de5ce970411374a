//! Integration tests of the engine against the example contracts (one binary, several modules).

use hyperchain_contracts as contracts;
use hyperchain_sdk::{Encode, decode_all, encode};
use hyperchain_types::{Address, CallOutcome, CallStatus, TrapKind, codec::Encode as _};
use hyperchain_vm::{Call, CallContext, Engine, EngineConfig, StorageReader};
use std::collections::BTreeMap;
use std::sync::Arc;

const FUEL: u64 = 10_000_000_000;

fn ctx() -> CallContext {
    CallContext {
        caller: Address([0xaa; 32]),
        contract: Address([0xcc; 32]),
        block_height: 42,
        block_time_ms: 1_700_000_000_000,
    }
}

fn engine() -> Engine {
    Engine::new(EngineConfig::default()).expect("engine")
}

type Storage = BTreeMap<Vec<u8>, Vec<u8>>;

fn run_with(
    engine: &Engine,
    code: &[u8],
    storage: &Storage,
    method: &str,
    input: &[u8],
    fuel: u64,
) -> CallOutcome {
    let contract = engine.load(code).expect("load");
    let reader: Arc<dyn StorageReader> = Arc::new(storage.clone());
    engine
        .call(
            &contract,
            Call {
                ctx: ctx(),
                method,
                input,
                fuel_limit: fuel,
            },
            reader,
        )
        .expect("no node failure")
}

fn run(code: &[u8], method: &str, args: &(impl Encode + ?Sized)) -> CallOutcome {
    run_with(
        &engine(),
        code,
        &Storage::new(),
        method,
        &encode(args),
        FUEL,
    )
}

/// Applies a successful call's writes to `storage`.
fn apply(storage: &mut Storage, outcome: &CallOutcome) {
    for (k, v) in &outcome.writes {
        match v {
            Some(v) => storage.insert(k.clone(), v.clone()),
            None => storage.remove(k),
        };
    }
}

/// One contract with its storage, calls applied in order: a chain of one contract.
struct Local {
    engine: Engine,
    code: &'static [u8],
    storage: Storage,
}

impl Local {
    fn new(code: &'static [u8]) -> Self {
        Local {
            engine: engine(),
            code,
            storage: Storage::new(),
        }
    }

    /// Runs a call against the current storage without applying it.
    fn call(&self, method: &str, args: &(impl Encode + ?Sized)) -> CallOutcome {
        run_with(
            &self.engine,
            self.code,
            &self.storage,
            method,
            &encode(args),
            FUEL,
        )
    }

    /// Runs a call that must succeed and applies its writes.
    fn apply_ok(&mut self, method: &str, args: &(impl Encode + ?Sized)) -> CallOutcome {
        let o = self.call(method, args);
        assert!(o.status.is_ok(), "{method}: {o:?}");
        apply(&mut self.storage, &o);
        o
    }
}

fn ok<T: hyperchain_sdk::Decode>(o: &CallOutcome) -> T {
    assert_eq!(o.status, CallStatus::Ok, "{o:?}");
    decode_all(&o.output).expect("output decodes")
}

mod determinism {
    use super::*;

    #[test]
    fn same_call_gives_identical_bytes_and_fuel_across_runs_and_engines() {
        let (a, b) = (engine(), engine());
        let calls: &[(&[u8], &str, Vec<u8>)] = &[
            (contracts::COUNTER, "increment", encode(&7u64)),
            (contracts::HEAVY, "sha256_chain", encode(&500u32)),
            (contracts::HEAVY, "matmul", encode(&24u32)),
            (contracts::HEAVY, "sort", encode(&2000u32)),
            (contracts::TOKEN, "total_supply", encode(&())),
            (contracts::HOSTCALLS, "context", encode(&())),
        ];
        for (code, method, input) in calls {
            let first = run_with(&a, code, &Storage::new(), method, input, FUEL);
            assert!(first.status.is_ok(), "{method}: {first:?}");
            for engine in [&a, &b, &a] {
                let again = run_with(engine, code, &Storage::new(), method, input, FUEL);
                assert_eq!(again.encode(), first.encode(), "{method} differs");
            }
        }
    }

    #[test]
    fn heavy_results_match_the_native_algorithm() {
        let o = run(contracts::HEAVY, "sha256_chain", &100u32);
        let out: [u8; 32] = ok(&o);
        assert_eq!(out, hyperchain_workloads::sha256_chain(100));
        let o = run(contracts::HEAVY, "matmul", &16u32);
        assert_eq!(
            ok::<u64>(&o),
            hyperchain_workloads::matmul(16, hyperchain_workloads::SEED)
        );
        let o = run(contracts::HEAVY, "sort", &1000u32);
        assert_eq!(
            ok::<u64>(&o),
            hyperchain_workloads::sort(1000, hyperchain_workloads::SEED)
        );
    }

    #[test]
    fn nan_results_have_canonical_bits() {
        const F64_CANON: u64 = 0x7ff8_0000_0000_0000;
        const F32_CANON: u32 = 0x7fc0_0000;
        for m in [
            "f64_zero_div_zero",
            "f64_sqrt_neg_one",
            "f64_inf_sub_inf",
            "f64_zero_mul_inf",
            "f64_nan_add_nan",
            "f64_promote_nan",
        ] {
            assert_eq!(ok::<u64>(&run(contracts::NAN, m, &())), F64_CANON, "{m}");
        }
        for m in [
            "f32_zero_div_zero",
            "f32_sqrt_neg_one",
            "f32_inf_sub_inf",
            "f32_zero_mul_inf",
            "f32_nan_add_nan",
            "f32_demote_nan",
        ] {
            assert_eq!(ok::<u32>(&run(contracts::NAN, m, &())), F32_CANON, "{m}");
        }
        // Arithmetic on NaNs with arbitrary sign and payload gives the canonical NaN too.
        let snan_neg: u64 = 0xfff0_0000_dead_beef;
        // (Ops 7 and 8, `a * 1.0` and `a + -0.0`, are folded away by LLVM before they reach
        // WebAssembly, so they return the input bits unchanged and are not checked here.)
        for op in [0u8, 1, 2, 3, 4] {
            let bits = ok::<u64>(&run(
                contracts::NAN,
                "f64_op",
                &(op, snan_neg, 1.5f64.to_bits()),
            ));
            assert_eq!(bits, F64_CANON, "op {op}");
        }
    }

    #[test]
    fn identical_sequences_give_identical_storage() {
        let run_sequence = || {
            let mut chain = Local::new(contracts::COUNTER);
            let fuel: Vec<u64> = [1u64, 2, 3, 4]
                .iter()
                .map(|by| chain.apply_ok("increment", by).fuel_used)
                .collect();
            assert_eq!(ok::<u64>(&chain.call("get", &())), 10);
            (chain.storage, fuel)
        };
        let (s1, f1) = run_sequence();
        let (s2, f2) = run_sequence();
        assert_eq!(s1, s2);
        assert_eq!(f1, f2);
    }
}

mod fuel {
    use super::*;

    #[test]
    fn out_of_fuel_is_exact_and_deterministic() {
        let engine = engine();
        let full = run_with(
            &engine,
            contracts::HEAVY,
            &Storage::new(),
            "sha256_chain",
            &encode(&200u32),
            FUEL,
        );
        assert!(full.status.is_ok());
        let needed = full.fuel_used;
        // Exactly enough fuel succeeds with the same usage.
        let exact = run_with(
            &engine,
            contracts::HEAVY,
            &Storage::new(),
            "sha256_chain",
            &encode(&200u32),
            needed,
        );
        assert_eq!(exact.status, CallStatus::Ok);
        assert_eq!(exact.fuel_used, needed);
        // One less runs out, uses the whole limit, and produces nothing.
        for limit in [needed - 1, needed / 2, 1_500, 999, 0] {
            let short = run_with(
                &engine,
                contracts::HEAVY,
                &Storage::new(),
                "sha256_chain",
                &encode(&200u32),
                limit,
            );
            assert_eq!(short.status, CallStatus::OutOfFuel, "limit {limit}");
            assert_eq!(short.fuel_used, limit);
            assert!(short.output.is_empty() && short.writes.is_empty() && short.events.is_empty());
            let again = run_with(
                &engine,
                contracts::HEAVY,
                &Storage::new(),
                "sha256_chain",
                &encode(&200u32),
                limit,
            );
            assert_eq!(again.encode(), short.encode());
        }
    }

    #[test]
    fn fuel_grows_with_work() {
        let small = run(contracts::HEAVY, "sha256_chain", &10u32).fuel_used;
        let big = run(contracts::HEAVY, "sha256_chain", &100u32).fuel_used;
        assert!(big > 5 * small, "{small} vs {big}");
    }

    #[test]
    fn host_calls_are_charged() {
        // The host sha256 costs a known price per byte: 100 more bytes cost 500 more fuel
        // in the host function (plus the contract's own copying of the input).
        let a = run(contracts::HOSTCALLS, "sha256", &vec![0u8; 100]).fuel_used;
        let b = run(contracts::HOSTCALLS, "sha256", &vec![0u8; 200]).fuel_used;
        assert!(b - a >= 500, "{a} {b}");
    }

    #[test]
    fn bulk_memory_is_charged_per_byte() {
        // A large output is copied with memory.copy / host copies: cost scales with size.
        let a = run(contracts::ADVERSARIAL, "big_output", &1_000u32).fuel_used;
        let b = run(contracts::ADVERSARIAL, "big_output", &60_000u32).fuel_used;
        assert!(b - a >= 59_000, "{a} {b}");
    }
}

mod adversarial {
    use super::*;

    fn status(method: &str, args: &(impl Encode + ?Sized), fuel: u64) -> CallStatus {
        run_with(
            &engine(),
            contracts::ADVERSARIAL,
            &Storage::new(),
            method,
            &encode(args),
            fuel,
        )
        .status
    }

    #[test]
    fn every_attack_ends_with_its_error_and_the_engine_stays_healthy() {
        let engine = engine();
        type Expect = Box<dyn Fn(&CallStatus) -> bool>;
        let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
            (
                "infinite_loop",
                encode(&()),
                Box::new(|s| *s == CallStatus::OutOfFuel),
            ),
            (
                "infinite_host_loop",
                encode(&()),
                Box::new(|s| *s == CallStatus::OutOfFuel),
            ),
            (
                "memory_bomb",
                encode(&()),
                Box::new(|s| {
                    matches!(s, CallStatus::Reverted(m) if m.starts_with("memory.grow failed at 512 pages"))
                        || *s == CallStatus::Trap(TrapKind::MemoryLimit)
                }),
            ),
            (
                "alloc_bomb",
                encode(&()),
                Box::new(|s| {
                    matches!(s, CallStatus::Reverted(m) if m.contains("memory allocation"))
                        || *s == CallStatus::Trap(TrapKind::MemoryLimit)
                }),
            ),
            (
                "deep_recursion",
                encode(&10_000_000u32),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::StackOverflow)),
            ),
            (
                "big_output",
                encode(&(64 * 1024 + 1u32)),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::OutputTooLarge)),
            ),
            (
                "big_value",
                encode(&(64 * 1024 + 1u32)),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::StorageLimit)),
            ),
            (
                "big_key",
                encode(&257u32),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::StorageLimit)),
            ),
            (
                "event_spam",
                encode(&65u32),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::EventLimit)),
            ),
            (
                "storage_spam",
                encode(&5_000u32),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::StorageLimit)),
            ),
            (
                "panic_msg",
                encode(&()),
                Box::new(|s| *s == CallStatus::Reverted("panicked: adversarial panic 42".into())),
            ),
            (
                "trap_unreachable",
                encode(&()),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::Unreachable)),
            ),
            (
                "host_oob_read",
                encode(&()),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::MemoryOutOfBounds)),
            ),
            (
                "host_oob_write",
                encode(&()),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::MemoryOutOfBounds)),
            ),
            (
                "host_wrapping_range",
                encode(&()),
                Box::new(|s| *s == CallStatus::Trap(TrapKind::MemoryOutOfBounds)),
            ),
        ];
        for (method, input, expect) in &cases {
            let o = run_with(
                &engine,
                contracts::ADVERSARIAL,
                &Storage::new(),
                method,
                input,
                2_000_000_000,
            );
            assert!(expect(&o.status), "{method}: got {}", o.status);
            assert!(
                o.writes.is_empty() && o.events.is_empty() && o.output.is_empty(),
                "{method}"
            );
            // Same again: deterministic.
            let again = run_with(
                &engine,
                contracts::ADVERSARIAL,
                &Storage::new(),
                method,
                input,
                2_000_000_000,
            );
            assert_eq!(again.encode(), o.encode(), "{method}");
        }
        // The engine is healthy afterwards: normal calls work, many times (pool slots freed).
        for i in 0..100u64 {
            let o = run_with(
                &engine,
                contracts::COUNTER,
                &Storage::new(),
                "increment",
                &encode(&i),
                FUEL,
            );
            assert_eq!(ok::<u64>(&o), i);
        }
    }

    #[test]
    fn limits_just_inside_succeed() {
        assert_eq!(status("big_output", &(64 * 1024u32), FUEL), CallStatus::Ok);
        assert_eq!(status("big_value", &(64 * 1024u32), FUEL), CallStatus::Ok);
        assert_eq!(status("big_key", &256u32, FUEL), CallStatus::Ok);
        assert_eq!(status("event_spam", &64u32, FUEL), CallStatus::Ok);
        assert_eq!(status("deep_recursion", &1000u32, FUEL), CallStatus::Ok);
    }

    #[test]
    fn memory_grow_beyond_the_cap_returns_minus_one() {
        let o = run(contracts::ADVERSARIAL, "memory_grow", &10_000u32);
        assert_eq!(ok::<u32>(&o), u32::MAX);
        let o = run(contracts::ADVERSARIAL, "memory_grow", &1u32);
        assert_ne!(ok::<u32>(&o), u32::MAX);
    }

    #[test]
    fn unknown_method_and_oversized_input_are_errors() {
        let o = run(contracts::COUNTER, "no_such_method", &());
        assert_eq!(o.status, CallStatus::Trap(TrapKind::NoSuchMethod));
        let huge = vec![0u8; hyperchain_types::limits::MAX_INPUT + 1];
        let o = run_with(
            &engine(),
            contracts::HOSTCALLS,
            &Storage::new(),
            "echo",
            &huge,
            FUEL,
        );
        assert_eq!(o.status, CallStatus::Trap(TrapKind::InputTooLarge));
    }
}

mod traps {
    use super::*;

    fn trap_of(body: &str) -> CallStatus {
        let wat = format!(
            r#"(module (memory (export "memory") 1) (type $t (func)) (table 2 funcref)
                 (func $other (param i32))
                 (elem (i32.const 1) func $other)
                 (func (export "m") {body}))"#
        );
        let code = wat::parse_str(&wat).expect("wat");
        run_with(&engine(), &code, &Storage::new(), "m", &[], FUEL).status
    }

    #[test]
    fn each_wasm_trap_has_its_kind() {
        let cases = [
            (
                "(drop (i32.div_s (i32.const 1) (i32.const 0)))",
                TrapKind::IntegerDivideByZero,
            ),
            (
                "(drop (i64.rem_u (i64.const 1) (i64.const 0)))",
                TrapKind::IntegerDivideByZero,
            ),
            (
                "(drop (i32.div_s (i32.const -2147483648) (i32.const -1)))",
                TrapKind::IntegerOverflow,
            ),
            (
                "(drop (i32.trunc_f32_s (f32.const nan)))",
                TrapKind::BadConversionToInteger,
            ),
            (
                "(drop (i64.trunc_f64_u (f64.const -1)))",
                TrapKind::IntegerOverflow,
            ),
            (
                "(drop (i32.load (i32.const 65535)))",
                TrapKind::MemoryOutOfBounds,
            ),
            (
                "(i32.store (i32.const -1) (i32.const 0))",
                TrapKind::MemoryOutOfBounds,
            ),
            (
                "(call_indirect (type $t) (i32.const 0))",
                TrapKind::IndirectCall,
            ),
            (
                "(call_indirect (type $t) (i32.const 1))",
                TrapKind::IndirectCall,
            ),
            (
                "(call_indirect (type $t) (i32.const 7))",
                TrapKind::IndirectCall,
            ),
            ("unreachable", TrapKind::Unreachable),
        ];
        for (body, kind) in cases {
            assert_eq!(trap_of(body), CallStatus::Trap(kind), "{body}");
        }
        // Saturating conversions never trap.
        assert_eq!(
            trap_of("(drop (i32.trunc_sat_f32_s (f32.const nan)))"),
            CallStatus::Ok
        );
    }
}

mod host_api {
    use super::*;

    #[test]
    fn context_is_visible() {
        let (caller, me, h, t): ([u8; 32], [u8; 32], u64, u64) =
            ok(&run(contracts::HOSTCALLS, "context", &()));
        assert_eq!(caller, ctx().caller.0);
        assert_eq!(me, ctx().contract.0);
        assert_eq!((h, t), (ctx().block_height, ctx().block_time_ms));
    }

    #[test]
    fn storage_reads_see_own_writes_and_are_recorded() {
        let o = run(
            contracts::HOSTCALLS,
            "read_after_write",
            &(b"k".to_vec(), b"v".to_vec()),
        );
        type Three = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);
        let (before, after, again): Three = ok(&o);
        assert_eq!(before, None);
        assert_eq!(after.as_deref(), Some(&b"v"[..]));
        assert_eq!(again.as_deref(), Some(&b"vv"[..]));
        assert!(o.reads.contains(&b"k"[..]));
        assert_eq!(o.writes.get(&b"k"[..]), Some(&Some(b"vv".to_vec())));

        // Reading existing state, removing it.
        let mut storage = Storage::new();
        storage.insert(b"k".to_vec(), b"old".to_vec());
        let o = run_with(
            &engine(),
            contracts::HOSTCALLS,
            &storage,
            "read_after_remove",
            &encode(&b"k".to_vec()),
            FUEL,
        );
        let (before, after): (Option<Vec<u8>>, Option<Vec<u8>>) = ok(&o);
        assert_eq!(before.as_deref(), Some(&b"old"[..]));
        assert_eq!(after, None);
        assert_eq!(o.writes.get(&b"k"[..]), Some(&None));
    }

    #[test]
    fn long_values_are_read_completely() {
        let mut chain = Local::new(contracts::HOSTCALLS);
        chain.apply_ok("write_pattern", &(b"p".to_vec(), 5000u32));
        let o = chain.call("read_len", &b"p".to_vec());
        assert_eq!(ok::<Option<u32>>(&o), Some(5000));
    }

    #[test]
    fn revert_discards_writes_and_events() {
        let o = run(
            contracts::HOSTCALLS,
            "write_then_abort",
            &(b"k".to_vec(), b"v".to_vec(), "no thanks".to_string()),
        );
        assert_eq!(o.status, CallStatus::Reverted("no thanks".into()));
        assert!(o.writes.is_empty() && o.events.is_empty() && o.output.is_empty());
    }

    #[test]
    fn events_are_kept_in_order() {
        let o = run(contracts::HOSTCALLS, "emit_many", &3u32);
        assert!(o.status.is_ok());
        let data: Vec<_> = o.events.iter().map(|e| e.data.clone()).collect();
        assert_eq!(
            data,
            vec![
                0u32.to_le_bytes().to_vec(),
                1u32.to_le_bytes().to_vec(),
                2u32.to_le_bytes().to_vec()
            ]
        );
        assert!(o.events.iter().all(|e| e.topic == b"many"));
    }

    #[test]
    fn crypto_helpers() {
        let out: [u8; 32] = ok(&run(contracts::HOSTCALLS, "sha256", &b"abc".to_vec()));
        assert_eq!(
            hex::encode(out),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );

        let sk = ed25519_consensus::SigningKey::from([9u8; 32]);
        let pk = sk.verification_key().to_bytes();
        let sig = sk.sign(b"pay 5").to_bytes();
        assert!(ok::<bool>(&run(
            contracts::HOSTCALLS,
            "ed25519_verify",
            &(pk, b"pay 5".to_vec(), sig)
        )));
        assert!(!ok::<bool>(&run(
            contracts::HOSTCALLS,
            "ed25519_verify",
            &(pk, b"pay 6".to_vec(), sig)
        )));
    }

    #[test]
    fn token_transfers_and_reverts() {
        let mut chain = Local::new(contracts::TOKEN);
        let owner = ctx().caller.0;
        let bob = [0xbb; 32];
        chain.apply_ok("init", &owner);
        chain.apply_ok("mint", &(owner, 100u64));
        let o = chain.apply_ok("transfer", &(bob, 30u64));
        assert!(!o.events.is_empty());
        assert_eq!(ok::<u64>(&chain.call("balance_of", &owner)), 70);
        assert_eq!(ok::<u64>(&chain.call("balance_of", &bob)), 30);
        let o = chain.call("transfer", &(bob, 71u64));
        assert!(
            matches!(&o.status, CallStatus::Reverted(m) if m.contains("insufficient balance")),
            "{o:?}"
        );
    }
}

mod validation {
    use super::*;
    use hyperchain_vm::ValidationError;

    fn reject(wat: &str) -> ValidationError {
        let wasm = wat::parse_str(wat).expect("wat");
        engine().validate(&wasm).expect_err("must be rejected")
    }

    #[test]
    fn every_example_contract_validates() {
        for (name, code) in contracts::ALL {
            let info = engine()
                .validate(code)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!info.methods.is_empty(), "{name}");
        }
    }

    #[test]
    fn malformed_modules_are_rejected() {
        let e = engine().validate(b"\0asm\x01\0\0\0garbage").unwrap_err();
        assert!(matches!(e, ValidationError::Malformed(_)), "{e}");
        let e = engine().validate(b"not wasm at all").unwrap_err();
        assert!(e.to_string().starts_with("malformed module"), "{e}");
        let e = engine().validate(&[]).unwrap_err();
        assert!(matches!(e, ValidationError::Malformed(_)), "{e}");
    }

    #[test]
    fn imports_outside_the_host_api_are_rejected() {
        let e = reject(
            r#"(module (import "env" "clock" (func)) (memory (export "memory") 1) (func (export "m")))"#,
        );
        assert!(e.to_string().contains("forbidden import env::clock"), "{e}");
        let e = reject(
            r#"(module (import "hyperchain_v1" "random" (func)) (memory (export "memory") 1) (func (export "m")))"#,
        );
        assert!(e.to_string().contains("no such host function"), "{e}");
        let e = reject(
            r#"(module (import "hyperchain_v1" "block_height" (func (result i32))) (memory (export "memory") 1) (func (export "m")))"#,
        );
        assert!(e.to_string().contains("expected `func () -> i64`"), "{e}");
        let e = reject(r#"(module (import "hyperchain_v1" "mem" (memory 1)) (func (export "m")))"#);
        assert!(matches!(e, ValidationError::ForbiddenImport { .. }), "{e}");
    }

    #[test]
    fn disabled_features_are_rejected() {
        let e = reject(r#"(module (memory 1 1 shared) (func (export "m")))"#);
        assert!(matches!(e, ValidationError::DisabledFeature(_)), "{e}");
        let e = reject(
            r#"(module (func (export "m") (drop (i32x4.relaxed_trunc_f32x4_s (v128.const i32x4 0 0 0 0)))))"#,
        );
        assert!(matches!(e, ValidationError::DisabledFeature(_)), "{e}");
        let e = reject(r#"(module (memory i64 1) (func (export "m")))"#);
        assert!(matches!(e, ValidationError::DisabledFeature(_)), "{e}");
        let e = reject(r#"(module (func $f) (func (export "m") (return_call $f)))"#);
        assert!(matches!(e, ValidationError::DisabledFeature(_)), "{e}");
    }

    #[test]
    fn limits_are_enforced() {
        let e = reject(r#"(module (memory 513) (func (export "m")))"#);
        assert!(
            e.to_string()
                .contains("initial memory (pages) exceeds the limit: 513 > 512"),
            "{e}"
        );
        let e = reject(r#"(module (table 8193 funcref) (func (export "m")))"#);
        assert!(e.to_string().contains("table size"), "{e}");
        let e = reject(r#"(module (table 1 funcref) (table 1 funcref) (func (export "m")))"#);
        assert!(e.to_string().contains("tables exceeds"), "{e}");
        let globals: String = (0..513).map(|_| "(global i32 (i32.const 0))").collect();
        let e = reject(&format!(r#"(module {globals} (func (export "m")))"#));
        assert!(
            e.to_string()
                .contains("globals exceeds the limit: 513 > 512"),
            "{e}"
        );
        let locals: String = (0..4097).map(|_| " i32").collect();
        let e = reject(&format!(r#"(module (func (export "m") (local{locals})))"#));
        assert!(e.to_string().contains("locals in one function"), "{e}");
        let funcs: String = (0..16_385).map(|_| "(func)").collect();
        let e = reject(&format!(r#"(module {funcs} (func (export "m")))"#));
        assert!(e.to_string().contains("functions exceeds"), "{e}");
        let big = vec![0u8; 2 * 1024 * 1024 + 1];
        let e = engine().validate(&big).unwrap_err();
        assert!(e.to_string().contains("code size"), "{e}");
    }

    #[test]
    fn contract_shape_is_enforced() {
        let e = reject(r#"(module (func $s) (start $s) (func (export "m")))"#);
        assert!(e.to_string().contains("start function"), "{e}");
        let e = reject(
            r#"(module (import "hyperchain_v1" "block_height" (func (result i64))) (func (export "m")))"#,
        );
        assert!(e.to_string().contains("does not export its memory"), "{e}");
        let e = reject(r#"(module (func (export "f") (param i32)))"#);
        assert!(e.to_string().contains("no callable method"), "{e}");
    }

    #[test]
    fn rejected_modules_are_not_loaded() {
        let wasm =
            wat::parse_str(r#"(module (import "env" "x" (func)) (func (export "m")))"#).unwrap();
        assert!(engine().load(&wasm).is_err());
    }
}

mod cache {
    use super::*;

    #[test]
    fn modules_compile_once_per_code_hash() {
        let engine = engine();
        let a = engine.load(contracts::COUNTER).unwrap();
        let b = engine.load(contracts::COUNTER).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let stats = engine.cache_stats();
        assert_eq!((stats.compiles, stats.memory_hits), (1, 1));
        assert_eq!(a.code_hash(), hyperchain_types::sha256(contracts::COUNTER));
    }

    #[test]
    fn disk_cache_survives_restarts_and_ignores_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let config = || EngineConfig {
            module_cache_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let first = Engine::new(config()).unwrap();
        let expected = run_with(
            &first,
            contracts::COUNTER,
            &Storage::new(),
            "increment",
            &encode(&3u64),
            FUEL,
        );
        assert_eq!(first.cache_stats().compiles, 1);

        let second = Engine::new(config()).unwrap();
        let got = run_with(
            &second,
            contracts::COUNTER,
            &Storage::new(),
            "increment",
            &encode(&3u64),
            FUEL,
        );
        assert_eq!(
            second.cache_stats(),
            hyperchain_vm::CacheStats {
                memory_hits: 0,
                disk_hits: 1,
                compiles: 0
            }
        );
        assert_eq!(got.encode(), expected.encode());

        // Corrupt every artefact: the next engine recompiles instead of trusting it.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let mut bytes = std::fs::read(&path).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
        }
        let third = Engine::new(config()).unwrap();
        let got = run_with(
            &third,
            contracts::COUNTER,
            &Storage::new(),
            "increment",
            &encode(&3u64),
            FUEL,
        );
        assert_eq!(third.cache_stats().compiles, 1);
        assert_eq!(got.encode(), expected.encode());
    }

    /// Concurrent calls share one engine, each with the outcome of a call alone. Found by the
    /// peak-load bench: with every instance slot taken, a call failed (`Busy`), and a validator
    /// applying a finalized block stopped. More callers than slots now wait for one.
    #[test]
    fn more_concurrent_calls_than_slots_wait_for_one() {
        let engine = Engine::new(EngineConfig {
            max_concurrent_calls: 2,
            ..Default::default()
        })
        .unwrap();
        let contract = engine.load(contracts::HEAVY).unwrap();
        let input = encode(&50u32);
        let call = || {
            engine
                .call(
                    &contract,
                    Call {
                        ctx: ctx(),
                        method: "sha256_chain",
                        input: &input,
                        fuel_limit: FUEL,
                    },
                    Arc::new(Storage::new()),
                )
                .map(|o| o.encode())
        };
        let expected = call().unwrap();
        let outcomes: Vec<_> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..16)
                .map(|_| s.spawn(|| (0..25).map(|_| call()).collect::<Vec<_>>()))
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect()
        });
        assert_eq!(outcomes.len(), 400);
        for outcome in outcomes {
            assert_eq!(outcome.unwrap(), expected);
        }
    }
}
