//! Validators on the deterministic runtime and the simulated network.

use crate::common::*;
use commonware_cryptography::{
    Signer as _,
    bls12381::{dkg::feldman_desmedt::deal, primitives::sharing::Mode},
    ed25519,
};
use commonware_p2p::simulated::{Config, Link, Network, Oracle};
use commonware_runtime::{
    Clock as _, Handle, Quota, Runner as _, Spawner as _, Supervisor as _, deterministic,
};
use commonware_utils::{N3f1, NZU32, NZUsize, TryCollect as _, ordered::Set, probability};
use hyperchain_chain::{
    app::{PublicKey, Scheme, Variant},
    execute::Executor,
    ledger::{Genesis, Ledger},
    mempool::Mempool,
    node::{self, Channels, MAX_MESSAGE_SIZE, NAMESPACE},
};
use hyperchain_contracts::COUNTER;
use hyperchain_sdk::{decode_all, encode};
use hyperchain_state::TreeId;
use hyperchain_types::{Address, Digest, ReceiptStatus};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const N: usize = 4;
const INCREMENTS: u64 = 12;

fn link() -> Link {
    Link {
        latency: Duration::from_millis(50),
        jitter: Duration::from_millis(10),
        success_rate: probability!(0.98),
    }
}

async fn set_links(
    oracle: &Oracle<PublicKey, deterministic::Context>,
    peers: &[PublicKey],
    connected: impl Fn(usize, usize) -> bool,
) {
    for (i, a) in peers.iter().enumerate() {
        for (j, b) in peers.iter().enumerate() {
            if i == j {
                continue;
            }
            let _ = oracle.remove_link(a.clone(), b.clone()).await; // absent at first
            if connected(i, j) {
                oracle.add_link(a.clone(), b.clone(), link()).await.unwrap();
            }
        }
    }
}

fn open_ledger(dir: &Path) -> Arc<Ledger> {
    let genesis = Genesis {
        chain_id: chain_id(),
        timestamp_ms: 0,
    };
    Arc::new(Ledger::open(dir, genesis, Executor::new(engine(), chain_id())).unwrap())
}

/// Runs one validator in its own task: aborting the handle aborts every actor it spawned
/// (tasks form a tree), which is how a validator crashes. Its consensus partitions survive in
/// the runtime's storage, its ledger on disk.
#[allow(clippy::too_many_arguments)]
fn spawn_validator(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    index: usize,
    incarnation: u32,
    me: PublicKey,
    scheme: Scheme,
    ledger: Arc<Ledger>,
    mempool: Arc<Mempool>,
) -> Handle<()> {
    let oracle = oracle.clone();
    context
        .child("validator")
        .with_attribute("index", index)
        .with_attribute("incarnation", incarnation)
        .spawn(move |ctx| async move {
            let quota = Quota::per_second(NZU32!(10_000));
            let control = oracle.control(me.clone());
            let channels = Channels {
                votes: control.register(0, quota).await.unwrap(),
                certificates: control.register(1, quota).await.unwrap(),
                resolver: control.register(2, quota).await.unwrap(),
                backfill: control.register(3, quota).await.unwrap(),
                broadcast: control.register(4, quota).await.unwrap(),
            };
            let node = node::start(
                ctx,
                &format!("validator-{index}"),
                me,
                scheme,
                ledger,
                mempool,
                oracle.manager(),
                control,
                channels,
            )
            .await;
            futures::future::join_all(node.handles).await;
        })
}

async fn wait_for(
    context: &deterministic::Context,
    ledgers: &[Arc<Ledger>],
    who: &[usize],
    height: u64,
) {
    while !who.iter().all(|&i| ledgers[i].tip().0 >= height) {
        context.sleep(Duration::from_millis(100)).await;
    }
}

fn counter_value(ledger: &Ledger, counter: &Address) -> u64 {
    ledger
        .get(&TreeId(counter.0), b"count")
        .unwrap()
        .map_or(0, |raw| decode_all::<u64>(&raw).unwrap())
}

/// What a run ends with.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    height: u64,
    state_root: Digest,
    counter: u64,
    auditor: String,
}

/// Four validators; a client deploys the counter and increments it through validator 0.
/// With `faults`, validator 3 crashes and restarts from disk, then the network partitions
/// into halves (no quorum) and heals.
fn run(seed: u64, dir: &Path, faults: bool) -> Outcome {
    let dirs: Vec<PathBuf> = (0..N).map(|i| dir.join(format!("v{i}"))).collect();
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(1200)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let keys: Vec<ed25519::PrivateKey> =
            (0..N as u64).map(ed25519::PrivateKey::from_seed).collect();
        let participants: Set<PublicKey> =
            keys.iter().map(|k| k.public_key()).try_collect().unwrap();
        let peers: Vec<PublicKey> = participants.iter().cloned().collect();
        // A trusted dealer shares the threshold key (devnets only).
        let (output, shares) =
            deal::<Variant, _, N3f1>(&mut context, Mode::NonZeroCounter, participants.clone())
                .unwrap();
        let polynomial = output.public().clone();
        let scheme_of = |pk: &PublicKey| {
            Scheme::signer(
                NAMESPACE,
                participants.clone(),
                polynomial.clone(),
                shares.get_value(pk).unwrap().clone(),
            )
            .unwrap()
        };

        let (network, oracle) = Network::new_with_peers(
            context.child("network"),
            Config {
                max_size: MAX_MESSAGE_SIZE,
                max_peers_per_set: NZUsize!(N),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            peers.clone(),
        )
        .await;
        network.start();
        set_links(&oracle, &peers, |_, _| true).await;

        let mut ledgers: Vec<Arc<Ledger>> = dirs.iter().map(|d| open_ledger(d)).collect();
        let mempools: Vec<Arc<Mempool>> = (0..N)
            .map(|_| Arc::new(Mempool::new(chain_id(), 10_000)))
            .collect();
        let mut handles: Vec<Handle<()>> = peers
            .iter()
            .enumerate()
            .map(|(i, pk)| {
                spawn_validator(
                    &context,
                    &oracle,
                    i,
                    0,
                    pk.clone(),
                    scheme_of(pk),
                    ledgers[i].clone(),
                    mempools[i].clone(),
                )
            })
            .collect();

        // The client: deploy, then increments 1..=INCREMENTS, all to validator 0.
        let alice = key(42);
        let counter = counter_address(&alice, 0);
        let mut txs = vec![deploy(&alice, 0, COUNTER)];
        txs.extend((1..=INCREMENTS).map(|i| call(&alice, i, counter, "increment", encode(&i))));
        let last = txs.last().unwrap().id();
        for tx in txs {
            mempools[0].submit(tx, 0).unwrap();
        }
        let expected: u64 = (1..=INCREMENTS).sum();

        wait_for(&context, &ledgers, &[0, 1, 2, 3], 5).await;

        if faults {
            // Crash validator 3; the other three (a quorum of four) keep finalizing.
            handles[3].abort();
            let crashed_at = ledgers[3].tip().0;
            wait_for(&context, &ledgers, &[0, 1, 2], crashed_at + 10).await;
            // Restart it from disk (its ledger reopened, its consensus partitions kept). The
            // crashed tasks are gone, so the test holds the last reference to its ledger.
            let stand_in = ledgers[0].clone();
            let crashed = std::mem::replace(&mut ledgers[3], stand_in);
            let weak = Arc::downgrade(&crashed);
            drop(crashed);
            assert!(
                weak.upgrade().is_none(),
                "the crashed validator still holds its ledger"
            );
            ledgers[3] = open_ledger(&dirs[3]);
            assert!(
                ledgers[3].tip().0 >= crashed_at,
                "nothing finalized is lost"
            );
            handles[3] = spawn_validator(
                &context,
                &oracle,
                3,
                1,
                peers[3].clone(),
                scheme_of(&peers[3]),
                ledgers[3].clone(),
                Arc::new(Mempool::new(chain_id(), 10_000)),
            );
            let tip = ledgers[0].tip().0;
            wait_for(&context, &ledgers, &[0, 1, 2, 3], tip + 5).await;

            // Partition {0,1} | {2,3}: no side has a quorum, so nothing finalizes.
            set_links(&oracle, &peers, |i, j| (i < 2) == (j < 2)).await;
            context.sleep(Duration::from_secs(2)).await;
            let stalled = ledgers.iter().map(|l| l.tip().0).max().unwrap();
            context.sleep(Duration::from_secs(20)).await;
            let after = ledgers.iter().map(|l| l.tip().0).max().unwrap();
            assert_eq!(stalled, after, "no finality without a quorum");
            set_links(&oracle, &peers, |_, _| true).await;
            wait_for(&context, &ledgers, &[0, 1, 2, 3], after + 5).await;
        }

        // Wait for the last increment's receipt everywhere, then for a common height past it.
        while !ledgers.iter().all(|l| l.receipt(&last).unwrap().is_some()) {
            context.sleep(Duration::from_millis(100)).await;
        }
        let target = ledgers.iter().map(|l| l.tip().0).max().unwrap() + 2;
        wait_for(&context, &ledgers, &[0, 1, 2, 3], target).await;

        // Every validator finalized the same blocks and computed the same state.
        for height in 0..=target {
            let reference = ledgers[0].block(height).unwrap().expect("block");
            for (i, ledger) in ledgers.iter().enumerate().skip(1) {
                assert_eq!(
                    ledger.block(height).unwrap().as_ref(),
                    Some(&reference),
                    "validator {i} differs at height {height}"
                );
            }
        }
        for ledger in &ledgers {
            let (height, digest) = ledger.tip();
            let block = ledger.block(height).unwrap().unwrap();
            assert_eq!(block.digest(), digest);
            assert_eq!(ledger.state_root().unwrap(), block.header.state_root);
            assert_eq!(counter_value(ledger, &counter), expected);
            let receipt = ledger.receipt(&last).unwrap().unwrap();
            let ReceiptStatus::Called { output, .. } = receipt.status else {
                panic!("not a call receipt: {receipt:?}");
            };
            assert_eq!(decode_all::<u64>(&output).unwrap(), expected);
            assert!(!ledger.seeds().unwrap().is_empty(), "seeds are recorded");
        }
        let state_root = ledgers[0].block(target).unwrap().unwrap().header.state_root;
        for h in handles {
            h.abort();
        }
        Outcome {
            height: target,
            state_root,
            counter: expected,
            auditor: context.auditor().state(),
        }
    })
}

#[test]
fn four_validators_execute_the_same_chain() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = run(1, a.path(), false);
    let second = run(1, b.path(), false);
    assert_eq!(first, second, "same seed, same run");
    println!("{first:?}");
    assert_eq!(first.counter, (1..=INCREMENTS).sum::<u64>());
}

#[test]
fn crash_restart_and_partition() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(7, dir.path(), true);
    println!("{outcome:?}");
    assert_eq!(outcome.counter, (1..=INCREMENTS).sum::<u64>());
}
