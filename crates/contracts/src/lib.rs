//! The example contracts, compiled to wasm32-unknown-unknown by this crate's build script.
//!
//! The sources live in `contracts/` (a cargo workspace of its own, plus the standalone `nan`
//! and `template` crates); `build.rs` compiles them in release mode with the `contracts/`
//! profile, so depending on this crate is all it takes to get fresh modules. Building requires
//! the target: `rustup target add wasm32-unknown-unknown`.
//!
//! Each contract's methods, argument and return types (in the SDK encoding) are documented at
//! the top of its `src/lib.rs`.

#![no_std]

macro_rules! contract {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".wasm"))
    };
}

/// `counter`: `increment(by: u64) -> u64`, `get() -> u64`, `reset()`.
pub const COUNTER: &[u8] = contract!("counter");

/// `token`: `init(owner: Address)`, `mint(to: Address, amount: u64)`,
/// `transfer(to: Address, amount: u64)`, `balance_of(who: Address) -> u64`,
/// `total_supply() -> u64`, `owner() -> Option<Address>`.
pub const TOKEN: &[u8] = contract!("token");

/// `heavy`: `sha256_chain(iterations: u32) -> [u8; 32]`, `sha256_chain_host(iterations: u32)
/// -> [u8; 32]`, `matmul(n: u32) -> u64`, `sort(n: u32) -> u64`, the `*_store` variants and
/// `last() -> Option<Vec<u8>>`. The workloads are `hyperchain-workloads`, also usable natively.
pub const HEAVY: &[u8] = contract!("heavy");

/// `nan`: float operations that produce NaNs, returning raw bits (for NaN canonicalization).
pub const NAN: &[u8] = contract!("nan");

/// `adversarial`: infinite loops, memory bombs, deep recursion, oversized outputs, keys,
/// values and event counts, panics, traps and out-of-bounds host pointers.
pub const ADVERSARIAL: &[u8] = contract!("adversarial");

/// `hostcalls`: one method per host function, plus storage read-after-write checks and raw
/// `echo`.
pub const HOSTCALLS: &[u8] = contract!("hostcalls");

/// `noop`: one method, `noop()`, that does nothing; no imports, no allocator.
pub const NOOP: &[u8] = contract!("noop");

/// `template`: the contract template, `greet(name: String) -> String`,
/// `set_greeting(greeting: String)`.
pub const TEMPLATE: &[u8] = contract!("template");

/// Every contract, by name.
pub const ALL: &[(&str, &[u8])] = &[
    ("counter", COUNTER),
    ("token", TOKEN),
    ("heavy", HEAVY),
    ("nan", NAN),
    ("adversarial", ADVERSARIAL),
    ("hostcalls", HOSTCALLS),
    ("noop", NOOP),
    ("template", TEMPLATE),
];

/// The module of the contract called `name`, if there is one.
pub fn by_name(name: &str) -> Option<&'static [u8]> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, code)| *code)
}
