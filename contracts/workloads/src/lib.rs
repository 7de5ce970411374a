//! Heavy, deterministic workloads shared by the `heavy` contract and native benchmarks.
//!
//! The same Rust code runs compiled to WASM (inside the `heavy` contract) and natively (in the
//! main workspace's benchmarks), so the two timings compare the engine, not two algorithms.
//! Every workload is a pure function of its size and seed and ends in a small checksum, which
//! lets callers check that WASM and native computed the same thing.

#![no_std]

extern crate alloc;

mod sha256;

pub use sha256::{Sha256, sha256};

use alloc::vec::Vec;

/// The seed the `heavy` contract uses for its generated inputs.
pub const SEED: u64 = 0x6879_7065_7263_6861;

/// `iterations` rounds of SHA-256 starting from 32 zero bytes: `h₀ = 0³², hᵢ₊₁ = SHA-256(hᵢ)`.
pub fn sha256_chain(iterations: u32) -> [u8; 32] {
    let mut digest = [0u8; 32];
    for _ in 0..iterations {
        digest = sha256(&digest);
    }
    digest
}

/// The SplitMix64 generator: a small, fast, portable source of pseudo-random `u64`s.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// An order-sensitive 64-bit checksum of a sequence of words (FNV-1a over words).
pub fn checksum(words: impl IntoIterator<Item = u64>) -> u64 {
    words.into_iter().fold(0xcbf2_9ce4_8422_2325, |acc, word| {
        (acc ^ word).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Multiply two `n × n` matrices of `u32`s drawn from `seed` (first A, then B, row-major),
/// accumulating in `u64` with wrapping arithmetic, and return the [`checksum`] of the product
/// in row-major order. Uses `3 n²` words of memory.
pub fn matmul(n: u32, seed: u64) -> u64 {
    let n = n as usize;
    let cells = n.checked_mul(n).expect("matrix too large");
    let mut rng = SplitMix64::new(seed);
    let a: Vec<u64> = (0..cells).map(|_| rng.next_u64() >> 32).collect();
    let b: Vec<u64> = (0..cells).map(|_| rng.next_u64() >> 32).collect();
    let mut c = alloc::vec![0u64; cells];
    // i-k-j order: the inner loop walks rows of B and C contiguously.
    for i in 0..n {
        let row = &mut c[i * n..(i + 1) * n];
        for k in 0..n {
            let aik = a[i * n + k];
            let b_row = &b[k * n..(k + 1) * n];
            for (cij, bkj) in row.iter_mut().zip(b_row) {
                *cij = cij.wrapping_add(aik.wrapping_mul(*bkj));
            }
        }
    }
    checksum(c)
}

/// Sort `n` pseudo-random `u64`s drawn from `seed` and return the [`checksum`] of the sorted
/// sequence. Uses `n` words of memory.
pub fn sort(n: u32, seed: u64) -> u64 {
    let mut rng = SplitMix64::new(seed);
    let mut values: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
    values.sort_unstable();
    checksum(values)
}
