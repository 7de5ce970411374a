// The workloads, run natively: SHA-256 against known vectors and the `sha2` crate, matrix
// multiplication and sorting against naive reference implementations, and pinned checksums
// (a change to a workload definition would silently change what benchmarks measure).

use hyperchain_workloads::{
    SEED, Sha256, SplitMix64, checksum, matmul, sha256, sha256_chain, sort,
};
use proptest::prelude::*;
use sha2::Digest;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn reference_sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

#[test]
fn sha256_known_vectors() {
    // FIPS 180-4 / NIST CSRC examples.
    let vectors: [(&[u8], &str); 4] = [
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
        ),
    ];
    for (message, digest) in vectors {
        assert_eq!(hex(&sha256(message)), digest);
    }
    let million_a = vec![b'a'; 1_000_000];
    assert_eq!(
        hex(&sha256(&million_a)),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
}

#[test]
fn sha256_padding_boundaries() {
    for len in 0..200 {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        assert_eq!(sha256(&data), reference_sha256(&data), "length {len}");
    }
}

proptest! {
    #[test]
    fn sha256_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..1000)) {
        prop_assert_eq!(sha256(&data), reference_sha256(&data));
    }

    #[test]
    fn sha256_incremental_matches_one_shot(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(0usize..600, 0..6),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.sort_unstable();
        let mut hasher = Sha256::new();
        let mut start = 0;
        for cut in cuts {
            hasher.update(&data[start..cut]);
            start = cut;
        }
        hasher.update(&data[start..]);
        prop_assert_eq!(hasher.finalize(), sha256(&data));
    }
}

#[test]
fn sha256_chain_iterates() {
    assert_eq!(sha256_chain(0), [0; 32]);
    assert_eq!(sha256_chain(1), reference_sha256(&[0; 32]));
    assert_eq!(
        sha256_chain(2),
        reference_sha256(&reference_sha256(&[0; 32]))
    );
    let mut digest = [0u8; 32];
    for _ in 0..1000 {
        digest = reference_sha256(&digest);
    }
    assert_eq!(sha256_chain(1000), digest);
}

#[test]
fn splitmix64_reference_values() {
    // SplitMix64 from seed 0 (Vigna's reference implementation).
    let mut rng = SplitMix64::new(0);
    assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
    assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
}

fn reference_matmul(n: u32, seed: u64) -> u64 {
    let n = n as usize;
    let mut rng = SplitMix64::new(seed);
    let a: Vec<u64> = (0..n * n).map(|_| rng.next_u64() >> 32).collect();
    let b: Vec<u64> = (0..n * n).map(|_| rng.next_u64() >> 32).collect();
    let mut c = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            c.push((0..n).fold(0u64, |acc, k| {
                acc.wrapping_add(a[i * n + k].wrapping_mul(b[k * n + j]))
            }));
        }
    }
    checksum(c)
}

fn reference_sort(n: u32, seed: u64) -> u64 {
    let mut rng = SplitMix64::new(seed);
    let mut values: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
    values.sort();
    checksum(values)
}

#[test]
fn matmul_matches_reference() {
    for n in [0, 1, 2, 3, 7, 16, 33] {
        assert_eq!(matmul(n, SEED), reference_matmul(n, SEED), "n = {n}");
        assert_eq!(matmul(n, 1), reference_matmul(n, 1), "n = {n}, seed 1");
    }
}

#[test]
fn sort_matches_reference() {
    for n in [0, 1, 2, 10, 1000, 100_000] {
        assert_eq!(sort(n, SEED), reference_sort(n, SEED), "n = {n}");
    }
}

#[test]
fn checksums_are_pinned() {
    assert_eq!(checksum([]), 0xcbf2_9ce4_8422_2325);
    assert_eq!(hex(&sha256_chain(10_000)), PINNED_CHAIN);
    assert_eq!(matmul(64, SEED), PINNED_MATMUL);
    assert_eq!(sort(100_000, SEED), PINNED_SORT);
}

const PINNED_CHAIN: &str = "52e5e409cf0bfc76eb1b0d2c4ba4366afd7ec10e3620bc7751782f2ddecea19f";
const PINNED_MATMUL: u64 = 0x0b2f_355c_2247_fe76;
const PINNED_SORT: u64 = 0x587e_23d5_a70f_d95a;
