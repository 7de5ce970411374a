//! Benchmarks of the state store and its proofs.
//!
//! `cargo bench -p hyperchain-state` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hyperchain_merkle::{verify_proof, verify_state_proof};
use hyperchain_state::{Store, TreeId, WriteBatch};

const CONTRACT: TreeId = TreeId([0xc1; 32]);
const KEYS: u64 = 100_000;
const WRITES: u64 = 10_000;

fn key(i: u64) -> Vec<u8> {
    format!("key/{i:016x}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    let mut v = vec![0u8; 64];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v[8..16].copy_from_slice(&round.to_le_bytes());
    v
}

/// A store on disk holding `KEYS` keys in one contract's sub-tree, written in batches of 10k.
fn populated(dir: &std::path::Path) -> Store {
    let store = Store::open(dir).unwrap();
    for chunk in 0..KEYS / WRITES {
        let mut batch = WriteBatch::new();
        for i in chunk * WRITES..(chunk + 1) * WRITES {
            batch.put(CONTRACT, key(i), value(i, 0));
        }
        store.commit(&batch, chunk + 1).unwrap();
    }
    store
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path());
    let mut height = store.height().unwrap();

    // 10k writes: 8k overwrites of existing keys spread over the tree, 1k inserts, 1k deletes
    // (the deleted keys are re-inserted by the next iteration's batch to keep the size stable).
    let mut round = 0u64;
    c.bench_function(&format!("state::commit/writes={WRITES}"), |b| {
        b.iter_batched(
            || {
                round += 1;
                let mut batch = WriteBatch::new();
                for j in 0..WRITES {
                    let i = (j * 7919 + round * 104_729) % KEYS;
                    match j % 10 {
                        0 => batch.delete(CONTRACT, key(i)),
                        1 => batch.put(CONTRACT, key(KEYS + round * WRITES + j), value(j, round)),
                        _ => batch.put(CONTRACT, key(i), value(i, round)),
                    }
                }
                batch
            },
            |batch| {
                height += 1;
                store.commit(&batch, height).unwrap()
            },
            BatchSize::PerIteration,
        )
    });

    let mut i = 0u64;
    c.bench_function(&format!("state::get/keys={KEYS}"), |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(store.get(&CONTRACT, &key(i)).unwrap())
        })
    });

    let snapshot = store.snapshot().unwrap();
    let state_root = snapshot.root().unwrap();
    c.bench_function(&format!("merkle::prove/keys={KEYS}"), |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(snapshot.prove(&CONTRACT, &key(i)).unwrap())
        })
    });

    let probe = key(123);
    let probe_value = snapshot.get(&CONTRACT, &probe).unwrap();
    let proof = snapshot.prove(&CONTRACT, &probe).unwrap();
    c.bench_function("merkle::verify", |b| {
        let sub = proof.subtree.as_ref().unwrap();
        let sub_root = snapshot.tree_root(&CONTRACT).unwrap();
        b.iter(|| verify_proof(&sub_root, &probe, probe_value.as_deref(), black_box(sub)).unwrap())
    });
    c.bench_function("merkle::verify_state_proof", |b| {
        b.iter(|| {
            verify_state_proof(
                &state_root,
                &CONTRACT,
                &probe,
                probe_value.as_deref(),
                black_box(&proof),
            )
            .unwrap()
        })
    });
    let encoded = proof.encode();
    c.bench_function("merkle::decode_state_proof", |b| {
        b.iter(|| hyperchain_merkle::StateProof::decode(black_box(&encoded)).unwrap())
    });
}

criterion_group!(state, benches);
criterion_main!(state);
