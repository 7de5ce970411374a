//! Run the contracts in wasmtime against a small in-memory implementation of `hyperchain_v1`,
//! checking the SDK glue (argument decoding, output encoding, storage, events, reverts, the
//! panic handler and the allocator) and each contract's behaviour. The real engine lives in
//! `hyperchain-vm`; this host only implements the documented semantics simply.

use std::collections::BTreeMap;
use std::fmt;

use hyperchain_contracts::by_name;
use hyperchain_sdk::{Address, Decode, Encode, decode_all};
use sha2::Digest;
use wasmtime::{
    Caller, Config, Engine, Extern, Instance, Linker, Module, Store, StoreLimits,
    StoreLimitsBuilder, Trap,
};

const MEMORY_LIMIT: usize = 16 << 20;
const FUEL: u64 = 2_000_000_000;

/// How a call ended.
#[derive(Debug, PartialEq)]
enum Status {
    Ok(Vec<u8>),
    Reverted(String),
    Trap(String),
    OutOfFuel,
}

/// `abort` from the contract.
#[derive(Debug)]
struct Abort(String);

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reverted: {}", self.0)
    }
}

impl std::error::Error for Abort {}

/// A trap raised by the host (bad pointer, limit exceeded).
#[derive(Debug)]
struct HostTrap(&'static str);

impl fmt::Display for HostTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for HostTrap {}

struct CallState {
    input: Vec<u8>,
    output: Vec<u8>,
    storage: BTreeMap<Vec<u8>, Vec<u8>>,
    events: Vec<(Vec<u8>, Vec<u8>)>,
    caller: Address,
    self_address: Address,
    height: i64,
    time: i64,
    limits: StoreLimits,
}

/// A deployed contract with its storage.
struct Contract {
    engine: Engine,
    module: Module,
    linker: Linker<CallState>,
    storage: BTreeMap<Vec<u8>, Vec<u8>>,
    self_address: Address,
    fuel: u64,
    /// Events of the last successful call.
    events: Vec<(Vec<u8>, Vec<u8>)>,
}

fn memory<'a>(caller: &'a mut Caller<'_, CallState>) -> wasmtime::Result<&'a mut [u8]> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory.data_mut(caller)),
        _ => Err(wasmtime::Error::new(HostTrap("no memory"))),
    }
}

fn range(ptr: i32, len: i32, size: usize) -> wasmtime::Result<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize);
    match end {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(wasmtime::Error::new(HostTrap("memory out of bounds"))),
    }
}

fn read(caller: &mut Caller<'_, CallState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let mem = memory(caller)?;
    let range = range(ptr, len, mem.len())?;
    Ok(mem[range].to_vec())
}

fn write(caller: &mut Caller<'_, CallState>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let range = range(ptr, bytes.len() as i32, mem.len())?;
    mem[range].copy_from_slice(bytes);
    Ok(())
}

fn trap(kind: &'static str) -> wasmtime::Error {
    wasmtime::Error::new(HostTrap(kind))
}

fn linker(engine: &Engine) -> Linker<CallState> {
    const M: &str = "hyperchain_v1";
    let mut linker = Linker::new(engine);
    linker
        .func_wrap(M, "input_len", |c: Caller<'_, CallState>| {
            c.data().input.len() as i32
        })
        .unwrap()
        .func_wrap(M, "input_read", |mut c: Caller<'_, CallState>, dst: i32| {
            let input = c.data().input.clone();
            write(&mut c, dst, &input)
        })
        .unwrap()
        .func_wrap(
            M,
            "output_set",
            |mut c: Caller<'_, CallState>, ptr: i32, len: i32| {
                if len as u32 > 64 * 1024 {
                    return Err(trap("output too large"));
                }
                let bytes = read(&mut c, ptr, len)?;
                c.data_mut().output = bytes;
                Ok(())
            },
        )
        .unwrap()
        .func_wrap(
            M,
            "storage_read",
            |mut c: Caller<'_, CallState>, kp: i32, kl: i32, dst: i32, cap: i32| {
                let key = read(&mut c, kp, kl)?;
                let Some(value) = c.data().storage.get(&key).cloned() else {
                    return Ok(-1);
                };
                let n = value.len().min(cap as u32 as usize);
                write(&mut c, dst, &value[..n])?;
                Ok(value.len() as i32)
            },
        )
        .unwrap()
        .func_wrap(
            M,
            "storage_write",
            |mut c: Caller<'_, CallState>, kp: i32, kl: i32, vp: i32, vl: i32| {
                if kl as u32 > 256 || vl as u32 > 64 * 1024 {
                    return Err(trap("storage limit"));
                }
                let key = read(&mut c, kp, kl)?;
                let value = read(&mut c, vp, vl)?;
                c.data_mut().storage.insert(key, value);
                Ok(())
            },
        )
        .unwrap()
        .func_wrap(
            M,
            "storage_remove",
            |mut c: Caller<'_, CallState>, kp: i32, kl: i32| {
                let key = read(&mut c, kp, kl)?;
                c.data_mut().storage.remove(&key);
                Ok(())
            },
        )
        .unwrap()
        .func_wrap(M, "caller", |mut c: Caller<'_, CallState>, dst: i32| {
            let address = c.data().caller;
            write(&mut c, dst, &address.0)
        })
        .unwrap()
        .func_wrap(
            M,
            "self_address",
            |mut c: Caller<'_, CallState>, dst: i32| {
                let address = c.data().self_address;
                write(&mut c, dst, &address.0)
            },
        )
        .unwrap()
        .func_wrap(M, "block_height", |c: Caller<'_, CallState>| {
            c.data().height
        })
        .unwrap()
        .func_wrap(M, "block_time", |c: Caller<'_, CallState>| c.data().time)
        .unwrap()
        .func_wrap(
            M,
            "emit_event",
            |mut c: Caller<'_, CallState>, tp: i32, tl: i32, dp: i32, dl: i32| {
                if tl as u32 > 64 || dl as u32 > 4096 || c.data().events.len() >= 64 {
                    return Err(trap("event limit"));
                }
                let topic = read(&mut c, tp, tl)?;
                let data = read(&mut c, dp, dl)?;
                c.data_mut().events.push((topic, data));
                Ok(())
            },
        )
        .unwrap()
        .func_wrap(
            M,
            "abort",
            |mut c: Caller<'_, CallState>, ptr: i32, len: i32| {
                let bytes = read(&mut c, ptr, len)?;
                let message = String::from_utf8_lossy(&bytes).into_owned();
                Err::<(), _>(wasmtime::Error::new(Abort(message)))
            },
        )
        .unwrap()
        .func_wrap(
            M,
            "sha256",
            |mut c: Caller<'_, CallState>, ptr: i32, len: i32, dst: i32| {
                let data = read(&mut c, ptr, len)?;
                let digest: [u8; 32] = sha2::Sha256::digest(&data).into();
                write(&mut c, dst, &digest)
            },
        )
        .unwrap()
        .func_wrap(
            M,
            "ed25519_verify",
            // Plumbing only: "valid" means the signature starts with the public key.
            |mut c: Caller<'_, CallState>, pk: i32, mp: i32, ml: i32, sig: i32| {
                let pk = read(&mut c, pk, 32)?;
                read(&mut c, mp, ml)?;
                let sig = read(&mut c, sig, 64)?;
                Ok(i32::from(sig[..32] == pk[..]))
            },
        )
        .unwrap();
    linker
}

impl Contract {
    fn deploy(name: &str) -> Self {
        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(&engine, by_name(name).unwrap()).unwrap();
        let linker = linker(&engine);
        Self {
            engine,
            module,
            linker,
            storage: BTreeMap::new(),
            self_address: Address([0xcc; 32]),
            fuel: FUEL,
            events: Vec::new(),
        }
    }

    fn call_raw(&mut self, from: Address, method: &str, input: Vec<u8>) -> Status {
        let state = CallState {
            input,
            output: Vec::new(),
            storage: self.storage.clone(),
            events: Vec::new(),
            caller: from,
            self_address: self.self_address,
            height: 42,
            time: 1_700_000_000_000,
            limits: StoreLimitsBuilder::new().memory_size(MEMORY_LIMIT).build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_fuel(self.fuel).unwrap();
        let instance: Instance = self.linker.instantiate(&mut store, &self.module).unwrap();
        let func = instance
            .get_typed_func::<(), ()>(&mut store, method)
            .unwrap();
        let result = func.call(&mut store, ());
        self.events.clear();
        match result {
            Ok(()) => {
                let state = store.into_data();
                self.storage = state.storage;
                self.events = state.events;
                Status::Ok(state.output)
            }
            Err(err) => {
                if let Some(Abort(message)) = err.downcast_ref::<Abort>() {
                    Status::Reverted(message.clone())
                } else if let Some(HostTrap(kind)) = err.downcast_ref::<HostTrap>() {
                    Status::Trap(kind.to_string())
                } else if let Some(Trap::OutOfFuel) = err.downcast_ref::<Trap>() {
                    Status::OutOfFuel
                } else if let Some(trap) = err.downcast_ref::<Trap>() {
                    Status::Trap(format!("{trap:?}"))
                } else {
                    panic!("unexpected error: {err:?}")
                }
            }
        }
    }

    fn call<T: Decode>(&mut self, from: Address, method: &str, args: impl Encode) -> T {
        match self.call_raw(from, method, args.encode()) {
            Status::Ok(output) => decode_all(&output).expect("decode output"),
            other => panic!("{method} failed: {other:?}"),
        }
    }

    fn revert(&mut self, from: Address, method: &str, args: impl Encode) -> String {
        match self.call_raw(from, method, args.encode()) {
            Status::Reverted(message) => message,
            other => panic!("{method} did not revert: {other:?}"),
        }
    }
}

const ALICE: Address = Address([0xa1; 32]);
const BOB: Address = Address([0xb0; 32]);

#[test]
fn counter_counts_and_emits() {
    let mut c = Contract::deploy("counter");
    assert_eq!(c.call::<u64>(ALICE, "get", ()), 0);
    assert_eq!(c.call::<u64>(ALICE, "increment", 5u64), 5);
    assert_eq!(c.call::<u64>(BOB, "increment", 7u64), 12);
    assert_eq!(
        c.events,
        [(b"incremented".to_vec(), (7u64, 12u64).encode())]
    );
    assert_eq!(c.call::<u64>(ALICE, "get", ()), 12);
    assert_eq!(c.revert(ALICE, "increment", u64::MAX), "counter overflow");
    assert_eq!(
        c.call::<u64>(ALICE, "get", ()),
        12,
        "a reverted call changes nothing"
    );
    c.call::<()>(ALICE, "reset", ());
    assert_eq!(c.events, [(b"reset".to_vec(), vec![])]);
    assert_eq!(c.call::<u64>(ALICE, "get", ()), 0);
}

#[test]
fn malformed_input_reverts_with_bad_input() {
    let mut c = Contract::deploy("counter");
    assert_eq!(
        c.call_raw(ALICE, "increment", vec![1, 2, 3]),
        Status::Reverted("bad input: unexpected end of input: needed 8 bytes, 3 left".into())
    );
    assert_eq!(
        c.call_raw(ALICE, "get", vec![0]),
        Status::Reverted("bad input: 1 trailing bytes".into())
    );
}

#[test]
fn token_mints_and_transfers() {
    let mut t = Contract::deploy("token");
    assert_eq!(t.revert(ALICE, "mint", (ALICE, 10u64)), "not initialized");
    t.call::<()>(BOB, "init", ALICE);
    assert_eq!(t.events, [(b"init".to_vec(), ALICE.encode())]);
    assert_eq!(t.revert(BOB, "init", BOB), "already initialized");
    assert_eq!(t.call::<Option<Address>>(BOB, "owner", ()), Some(ALICE));
    assert_eq!(
        t.revert(BOB, "mint", (BOB, 10u64)),
        "only the owner can mint"
    );
    t.call::<()>(ALICE, "mint", (ALICE, 100u64));
    assert_eq!(t.events, [(b"mint".to_vec(), (ALICE, 100u64).encode())]);
    assert_eq!(t.revert(ALICE, "mint", (BOB, u64::MAX)), "supply overflow");
    t.call::<()>(ALICE, "transfer", (BOB, 30u64));
    assert_eq!(
        t.events,
        [(b"transfer".to_vec(), (ALICE, BOB, 30u64).encode())]
    );
    assert_eq!(
        t.revert(BOB, "transfer", (ALICE, 31u64)),
        "insufficient balance"
    );
    t.call::<()>(BOB, "transfer", (BOB, 30u64));
    assert_eq!(t.call::<u64>(BOB, "balance_of", ALICE), 70);
    assert_eq!(t.call::<u64>(BOB, "balance_of", BOB), 30);
    assert_eq!(t.call::<u64>(BOB, "total_supply", ()), 100);
}

#[test]
fn heavy_matches_native_workloads() {
    use hyperchain_workloads as w;
    let mut h = Contract::deploy("heavy");
    assert_eq!(
        h.call::<[u8; 32]>(ALICE, "sha256_chain", 100u32),
        w::sha256_chain(100)
    );
    assert_eq!(
        h.call::<[u8; 32]>(ALICE, "sha256_chain_host", 100u32),
        w::sha256_chain(100)
    );
    assert_eq!(
        h.call::<u64>(ALICE, "matmul", 24u32),
        w::matmul(24, w::SEED)
    );
    assert_eq!(
        h.call::<u64>(ALICE, "sort", 5000u32),
        w::sort(5000, w::SEED)
    );
    assert_eq!(h.call::<Option<Vec<u8>>>(ALICE, "last", ()), None);
    let sorted = h.call::<u64>(ALICE, "sort_store", 10u32);
    assert_eq!(
        h.call::<Option<Vec<u8>>>(ALICE, "last", ()),
        Some(sorted.encode())
    );
}

#[test]
fn nan_methods_return_nans() {
    let mut n = Contract::deploy("nan");
    for method in [
        "f64_zero_div_zero",
        "f64_sqrt_neg_one",
        "f64_inf_sub_inf",
        "f64_zero_mul_inf",
        "f64_nan_add_nan",
        "f64_promote_nan",
    ] {
        assert!(
            f64::from_bits(n.call::<u64>(ALICE, method, ())).is_nan(),
            "{method}"
        );
    }
    for method in [
        "f32_zero_div_zero",
        "f32_sqrt_neg_one",
        "f32_inf_sub_inf",
        "f32_zero_mul_inf",
        "f32_nan_add_nan",
        "f32_demote_nan",
    ] {
        assert!(
            f32::from_bits(n.call::<u32>(ALICE, method, ())).is_nan(),
            "{method}"
        );
    }
    let (one, two) = (1.0f64.to_bits(), 2.0f64.to_bits());
    assert_eq!(
        n.call::<u64>(ALICE, "f64_op", (0u8, one, two)),
        3.0f64.to_bits()
    );
    assert!(f64::from_bits(n.call::<u64>(ALICE, "f64_op", (3u8, 0u64, 0u64))).is_nan());
    let four = 4.0f32.to_bits();
    assert_eq!(
        n.call::<u32>(ALICE, "f32_op", (4u8, four, 0u32)),
        2.0f32.to_bits()
    );
    assert_eq!(n.revert(ALICE, "f32_op", (99u8, 0u32, 0u32)), "unknown op");
    n.call::<()>(ALICE, "store_nans", ());
    assert_eq!(n.storage.len(), 2);
}

#[test]
fn adversarial_calls_end_deterministically() {
    let mut a = Contract::deploy("adversarial");
    a.fuel = 10_000_000;
    assert_eq!(
        a.call_raw(ALICE, "infinite_loop", vec![]),
        Status::OutOfFuel
    );
    assert_eq!(
        a.call_raw(ALICE, "infinite_host_loop", vec![]),
        Status::OutOfFuel
    );
    a.fuel = FUEL;
    let pages = MEMORY_LIMIT / 65536;
    assert_eq!(
        a.revert(ALICE, "memory_bomb", ()),
        format!("memory.grow failed at {pages} pages")
    );
    assert_eq!(
        a.call_raw(ALICE, "alloc_bomb", vec![]),
        Status::Trap("UnreachableCodeReached".into())
    );
    assert_eq!(a.call::<u32>(ALICE, "memory_grow", 100_000u32), u32::MAX);
    let depth = 1000u32;
    let expected = (1..=depth).fold(1u64, |acc, n| acc.rotate_left(7) ^ u64::from(n));
    assert_eq!(a.call::<u64>(ALICE, "deep_recursion", depth), expected);
    assert_eq!(
        a.call_raw(ALICE, "deep_recursion", 10_000_000u32.encode()),
        Status::Trap("StackOverflow".into())
    );
    assert_eq!(
        a.call_raw(ALICE, "big_output", 1000u32.encode()),
        Status::Ok(vec![0xab; 1000])
    );
    assert_eq!(
        a.call_raw(ALICE, "big_output", 65537u32.encode()),
        Status::Trap("output too large".into())
    );
    assert_eq!(
        a.call_raw(ALICE, "big_value", 65537u32.encode()),
        Status::Trap("storage limit".into())
    );
    assert_eq!(
        a.call_raw(ALICE, "big_key", 257u32.encode()),
        Status::Trap("storage limit".into())
    );
    a.call::<()>(ALICE, "storage_spam", 100u32);
    assert_eq!(a.storage.len(), 100);
    assert_eq!(
        a.call_raw(ALICE, "event_spam", 65u32.encode()),
        Status::Trap("event limit".into())
    );
    assert_eq!(
        a.revert(ALICE, "panic_msg", ()),
        "panicked: adversarial panic 42"
    );
    assert_eq!(
        a.call_raw(ALICE, "trap_unreachable", vec![]),
        Status::Trap("UnreachableCodeReached".into())
    );
    assert_eq!(a.call::<u32>(ALICE, "div_by_zero", (7u32, 2u32)), 3);
    assert_eq!(
        a.revert(ALICE, "div_by_zero", (7u32, 0u32)),
        "panicked: attempt to divide by zero"
    );
    for method in ["host_oob_read", "host_oob_write", "host_wrapping_range"] {
        assert_eq!(
            a.call_raw(ALICE, method, vec![]),
            Status::Trap("memory out of bounds".into()),
            "{method}"
        );
    }
}

#[test]
fn hostcalls_exercise_every_host_function() {
    let mut h = Contract::deploy("hostcalls");
    assert_eq!(
        h.call_raw(ALICE, "echo", b"raw bytes".to_vec()),
        Status::Ok(b"raw bytes".to_vec())
    );
    assert_eq!(h.call_raw(ALICE, "echo", vec![]), Status::Ok(vec![]));
    assert_eq!(h.call::<u32>(ALICE, "input_len", [7u8; 300]), 300);
    let key = b"key".to_vec();
    assert_eq!(h.call::<Option<Vec<u8>>>(ALICE, "read", &key), None);
    assert!(!h.call::<bool>(ALICE, "has", &key));
    h.call::<()>(ALICE, "write", (&key, b"v1".to_vec()));
    assert_eq!(
        h.call::<Option<Vec<u8>>>(ALICE, "read", &key),
        Some(b"v1".to_vec())
    );
    assert!(h.call::<bool>(ALICE, "has", &key));
    type Triple = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);
    assert_eq!(
        h.call::<Triple>(ALICE, "read_after_write", (&key, b"v2".to_vec())),
        (
            Some(b"v1".to_vec()),
            Some(b"v2".to_vec()),
            Some(b"v2v2".to_vec())
        )
    );
    assert_eq!(
        h.call::<(Option<Vec<u8>>, Option<Vec<u8>>)>(ALICE, "read_after_remove", &key),
        (Some(b"v2v2".to_vec()), None)
    );
    h.call::<()>(ALICE, "remove", &key);
    for len in [0u32, 1, 255, 256, 257, 5000, 65536] {
        h.call::<()>(ALICE, "write_pattern", (&key, len));
        assert_eq!(
            h.call::<Option<u32>>(ALICE, "read_len", &key),
            Some(len),
            "len {len}"
        );
    }
    let before = h.storage.clone();
    assert_eq!(
        h.revert(
            ALICE,
            "write_then_abort",
            (b"other".to_vec(), b"x".to_vec(), "stop".to_string())
        ),
        "stop"
    );
    assert_eq!(h.storage, before);
    assert_eq!(h.call::<Address>(BOB, "caller", ()), BOB);
    assert_eq!(
        h.call::<Address>(BOB, "self_address", ()),
        Address([0xcc; 32])
    );
    assert_eq!(
        h.call::<(u64, u64)>(BOB, "block", ()),
        (42, 1_700_000_000_000)
    );
    assert_eq!(
        h.call::<(Address, Address, u64, u64)>(BOB, "context", ()),
        (BOB, Address([0xcc; 32]), 42, 1_700_000_000_000)
    );
    h.call::<()>(ALICE, "emit", (b"topic".to_vec(), b"data".to_vec()));
    assert_eq!(h.events, [(b"topic".to_vec(), b"data".to_vec())]);
    h.call::<()>(ALICE, "emit_many", 64u32);
    assert_eq!(h.events.len(), 64);
    let digest: [u8; 32] = sha2::Sha256::digest(b"abc").into();
    assert_eq!(h.call::<[u8; 32]>(ALICE, "sha256", b"abc".to_vec()), digest);
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&[9; 32]);
    assert!(h.call::<bool>(ALICE, "ed25519_verify", ([9u8; 32], b"m".to_vec(), sig)));
    assert!(!h.call::<bool>(ALICE, "ed25519_verify", ([8u8; 32], b"m".to_vec(), sig)));
    assert_eq!(h.revert(ALICE, "abort", "why".to_string()), "why");
    assert_eq!(
        h.call_raw(
            ALICE,
            "output_twice",
            (b"first".to_vec(), b"second".to_vec()).encode()
        ),
        Status::Ok(b"second".to_vec())
    );
}

#[test]
fn template_greets() {
    let mut t = Contract::deploy("template");
    assert_eq!(
        t.call::<String>(ALICE, "greet", "world".to_string()),
        "Hello, world!"
    );
    t.call::<()>(ALICE, "set_greeting", "Hi".to_string());
    assert_eq!(
        t.call::<String>(BOB, "greet", "Bob".to_string()),
        "Hi, Bob!"
    );
    assert_eq!(
        t.revert(BOB, "set_greeting", "Yo".to_string()),
        "only the first setter may change the greeting"
    );
}

#[test]
fn noop_does_nothing() {
    let mut n = Contract::deploy("noop");
    assert_eq!(n.call_raw(ALICE, "noop", vec![]), Status::Ok(vec![]));
}
