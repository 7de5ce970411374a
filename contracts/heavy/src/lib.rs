//! Example contract: CPU-heavy workloads from `hyperchain-workloads`, the same code the native
//! benchmarks run.
//!
//! | method | arguments | returns |
//! |---|---|---|
//! | `sha256_chain` | `iterations: u32` | `[u8; 32]`: `iterations` rounds of SHA-256 in WASM from 32 zero bytes |
//! | `sha256_chain_host` | `iterations: u32` | `[u8; 32]`: the same chain through the host's `sha256` |
//! | `matmul` | `n: u32` | `u64`: checksum of the product of two seeded `n × n` matrices |
//! | `sort` | `n: u32` | `u64`: checksum of `n` seeded `u64`s after sorting |
//! | `last` | — | `Option<Vec<u8>>`: the output of the last `*_store` call |
//! | `sha256_chain_store`, `matmul_store`, `sort_store` | as above | as above, and also store the result |
//!
//! Seeds are [`hyperchain_workloads::SEED`].

#![no_std]

use hyperchain_sdk::storage::StorageValue;
use hyperchain_sdk::{Bytes, encode, entry};
use hyperchain_workloads as workloads;

static LAST: StorageValue<Bytes> = StorageValue::new(b"last");

entry! {
    /// `iterations` rounds of SHA-256, computed in WASM.
    fn sha256_chain(iterations: u32) -> [u8; 32] {
        workloads::sha256_chain(iterations)
    }

    /// `iterations` rounds of SHA-256 through the host function (same result as `sha256_chain`).
    fn sha256_chain_host(iterations: u32) -> [u8; 32] {
        let mut digest = [0u8; 32];
        for _ in 0..iterations {
            digest = hyperchain_sdk::sha256(&digest);
        }
        digest
    }

    /// Checksum of the product of two seeded `n × n` matrices.
    fn matmul(n: u32) -> u64 {
        workloads::matmul(n, workloads::SEED)
    }

    /// Checksum of `n` seeded `u64`s after sorting.
    fn sort(n: u32) -> u64 {
        workloads::sort(n, workloads::SEED)
    }

    /// `sha256_chain`, also storing the result.
    fn sha256_chain_store(iterations: u32) -> [u8; 32] {
        store(workloads::sha256_chain(iterations))
    }

    /// `matmul`, also storing the result.
    fn matmul_store(n: u32) -> u64 {
        store(workloads::matmul(n, workloads::SEED))
    }

    /// `sort`, also storing the result.
    fn sort_store(n: u32) -> u64 {
        store(workloads::sort(n, workloads::SEED))
    }

    /// The encoded output of the last `*_store` call.
    fn last() -> Option<Bytes> {
        LAST.get()
    }
}

fn store<T: hyperchain_sdk::Encode>(result: T) -> T {
    LAST.set(&encode(&result));
    result
}
