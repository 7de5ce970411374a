//! Validators on the deterministic runtime and the simulated network.

use crate::common::*;
use commonware_p2p::simulated::Link;
use commonware_runtime::{Clock as _, Handle, Runner as _, deterministic};
use commonware_utils::probability;
pub(crate) use hyperchain_chain::simnet::{
    Testnet, TestnetGenesis, good_link, set_links, wait_for,
};
use hyperchain_chain::{ledger::Ledger, mempool::Mempool, simnet};
use hyperchain_contracts::COUNTER;
use hyperchain_sdk::{decode_all, encode};
use hyperchain_state::TreeId;
use hyperchain_types::{Address, Digest, ReceiptStatus};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const INCREMENTS: u64 = 12;

/// Slow and lossy links: 300 ms, 100 ms jitter, 20% loss.
fn bad_link() -> Link {
    Link {
        latency: Duration::from_millis(300),
        jitter: Duration::from_millis(100),
        success_rate: probability!(0.8),
    }
}

/// What goes wrong during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Faults {
    /// Nothing.
    None,
    /// The last validator crashes and restarts from disk, then the network partitions into
    /// halves (no quorum) and heals.
    CrashAndPartition,
    /// The last two validators crash at different times (both down together for a while) and
    /// restart at different times, while clients keep submitting.
    TwoCrashes,
}

/// One simulation: how many validators, over which links, with which faults.
struct Scenario {
    seed: u64,
    validators: usize,
    link: Link,
    faults: Faults,
}

/// A validator's ledger; blocks reveal consensus seeds, checked against the group key.
pub(crate) fn open_ledger(dir: &Path, genesis: &TestnetGenesis) -> Arc<Ledger> {
    open_ledger_with(dir, genesis, Default::default())
}

/// [`open_ledger`] with a registry configuration (governance, policy, execution modes).
pub(crate) fn open_ledger_with(
    dir: &Path,
    genesis: &TestnetGenesis,
    registry: hyperchain_chain::registry::RegistryConfig,
) -> Arc<Ledger> {
    simnet::open_ledger(dir, chain_id(), engine(), genesis, registry)
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

/// Stops validator `i` (aborting its task aborts every actor it spawned); returns the digests
/// of the blocks it had finalized.
fn crash(handles: &mut [Handle<()>], ledgers: &[Arc<Ledger>], i: usize) -> Vec<Digest> {
    handles[i].abort();
    (0..=ledgers[i].tip().0)
        .map(|h| {
            ledgers[i]
                .block(h)
                .unwrap()
                .expect("finalized block")
                .digest()
        })
        .collect()
}

/// Reopens crashed validator `i`'s ledger from disk (some time after the crash, once its tasks
/// are gone): every block it had finalized before the crash is there, unchanged.
fn reopen(
    ledgers: &mut [Arc<Ledger>],
    dirs: &[PathBuf],
    i: usize,
    finalized: &[Digest],
    genesis: &TestnetGenesis,
) {
    // The crashed tasks are gone, so the test holds the last reference to its ledger.
    let placeholder = ledgers[(i + 1) % ledgers.len()].clone();
    let crashed = std::mem::replace(&mut ledgers[i], placeholder);
    let weak = Arc::downgrade(&crashed);
    drop(crashed);
    assert!(
        weak.upgrade().is_none(),
        "the crashed validator {i} still holds its ledger"
    );
    ledgers[i] = open_ledger(&dirs[i], genesis);
    assert!(
        ledgers[i].tip().0 + 1 >= finalized.len() as u64,
        "validator {i} lost finalized blocks"
    );
    assert_finalized(&ledgers[i], i, finalized);
}

fn assert_finalized(ledger: &Ledger, i: usize, finalized: &[Digest]) {
    for (height, digest) in finalized.iter().enumerate() {
        let block = ledger
            .block(height as u64)
            .unwrap()
            .expect("finalized block");
        assert_eq!(
            &block.digest(),
            digest,
            "validator {i} changed its finalized block at height {height}"
        );
    }
}

/// Clients sending increments through several validators: the client of validator `v` signs
/// with `key(1000 + v)` and submits only to `v`'s mempool.
struct Clients {
    counter: Address,
    nonces: Vec<u64>,
    last: Vec<Option<Digest>>,
    sum: u64,
}

impl Clients {
    fn new(validators: usize, counter: Address) -> Self {
        Clients {
            counter,
            nonces: vec![0; validators],
            last: vec![None; validators],
            sum: 0,
        }
    }

    /// `per` increments through each of `targets`.
    fn submit(&mut self, mempools: &[Arc<Mempool>], targets: &[usize], per: u64) {
        for &v in targets {
            let signer = key(1000 + v as u64);
            for _ in 0..per {
                let nonce = self.nonces[v];
                let by = nonce + 1 + v as u64;
                let tx = call(&signer, nonce, self.counter, "increment", encode(&by));
                self.last[v] = Some(mempools[v].submit(tx, 0).unwrap());
                self.nonces[v] += 1;
                self.sum += by;
            }
        }
    }

    fn last(&self) -> impl Iterator<Item = Digest> + '_ {
        self.last.iter().flatten().copied()
    }
}

/// A client deploys the counter and increments it through validator 0; with more than four
/// validators, further clients then send increments through several validators' mempools.
/// See [`Faults`] for what goes wrong meanwhile.
fn run(scenario: Scenario, dir: &Path) -> Outcome {
    let Scenario {
        seed,
        validators: n,
        link,
        faults,
    } = scenario;
    let dirs: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("v{i}"))).collect();
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(1200)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let net = Testnet::new(&mut context, n, &link).await;
        let genesis = net.genesis();
        let (peers, oracle) = (net.peers.as_slice(), &net.oracle);
        let mut ledgers: Vec<Arc<Ledger>> = dirs.iter().map(|d| open_ledger(d, &genesis)).collect();
        let mempools: Vec<Arc<Mempool>> = (0..n)
            .map(|_| Arc::new(Mempool::new(chain_id(), 10_000)))
            .collect();
        let spawn = |i: usize, incarnation: u32, ledger: Arc<Ledger>, mempool: Arc<Mempool>| {
            simnet::spawn_validator(
                &context,
                oracle,
                i,
                incarnation,
                net.keys(i, &dirs[i].join("secrets")),
                ledger,
                mempool,
            )
            .0
        };
        let mut handles: Vec<Handle<()>> = (0..n)
            .map(|i| spawn(i, 0, ledgers[i].clone(), mempools[i].clone()))
            .collect();
        let all: Vec<usize> = (0..n).collect();

        // The first client: deploy, then increments 1..=INCREMENTS, all to validator 0.
        let alice = key(42);
        let counter = counter_address(&alice, 0);
        let mut txs = vec![deploy(&alice, 0, COUNTER)];
        txs.extend((1..=INCREMENTS).map(|i| call(&alice, i, counter, "increment", encode(&i))));
        let deployed = txs[0].id();
        let alice_last = txs.last().unwrap().id();
        for tx in txs {
            mempools[0].submit(tx, 0).unwrap();
        }
        let mut clients = Clients::new(n, counter);

        wait_for(&context, &ledgers, &all, 5).await;
        // The others call the counter only once it exists.
        while n > 4 && ledgers[0].receipt(&deployed).unwrap().is_none() {
            context.sleep(Duration::from_millis(100)).await;
        }

        match faults {
            Faults::None => {
                if n > 4 {
                    clients.submit(&mempools, &all, 8);
                }
            }
            Faults::CrashAndPartition => {
                // Crash the last validator; the others (a quorum) keep finalizing.
                let down = n - 1;
                let up: Vec<usize> = (0..down).collect();
                let finalized = crash(&mut handles, &ledgers, down);
                wait_for(&context, &ledgers, &up, finalized.len() as u64 + 10).await;
                // Restart it from disk (its ledger reopened, its consensus partitions kept).
                reopen(&mut ledgers, &dirs, down, &finalized, &genesis);
                let mempool = Arc::new(Mempool::new(chain_id(), 10_000));
                handles[down] = spawn(down, 1, ledgers[down].clone(), mempool);
                let tip = ledgers[0].tip().0;
                wait_for(&context, &ledgers, &all, tip + 5).await;

                // Partition into halves: no side has a quorum, so nothing finalizes.
                set_links(oracle, peers, &link, |i, j| (i < n / 2) == (j < n / 2)).await;
                context.sleep(Duration::from_secs(2)).await;
                let stalled = ledgers.iter().map(|l| l.tip().0).max().unwrap();
                context.sleep(Duration::from_secs(20)).await;
                let after = ledgers.iter().map(|l| l.tip().0).max().unwrap();
                assert_eq!(stalled, after, "no finality without a quorum");
                set_links(oracle, peers, &link, |_, _| true).await;
                wait_for(&context, &ledgers, &all, after + 5).await;
            }
            Faults::TwoCrashes => {
                // The last two validators (f of 3f+1) crash and restart at different times;
                // clients keep sending through the others.
                assert!(n >= 7, "two crashes need f >= 2");
                let (a, b) = (n - 2, n - 1);
                let senders: Vec<usize> = (0..a).collect();
                clients.submit(&mempools, &senders, 4);

                let finalized_a = crash(&mut handles, &ledgers, a);
                let up: Vec<usize> = (0..a).chain([b]).collect();
                let tip = ledgers[0].tip().0;
                wait_for(&context, &ledgers, &up, tip + 4).await;
                clients.submit(&mempools, &senders, 4);

                let finalized_b = crash(&mut handles, &ledgers, b);
                // Five of seven: still a quorum.
                let tip = ledgers[0].tip().0;
                wait_for(&context, &ledgers, &senders, tip + 4).await;
                clients.submit(&mempools, &senders, 4);

                reopen(&mut ledgers, &dirs, a, &finalized_a, &genesis);
                let mempool = Arc::new(Mempool::new(chain_id(), 10_000));
                handles[a] = spawn(a, 1, ledgers[a].clone(), mempool);
                // `a` catches up while `b` is still down.
                let up: Vec<usize> = (0..=a).collect();
                let tip = ledgers[0].tip().0;
                wait_for(&context, &ledgers, &up, tip + 4).await;
                clients.submit(&mempools, &senders, 4);

                reopen(&mut ledgers, &dirs, b, &finalized_b, &genesis);
                let mempool = Arc::new(Mempool::new(chain_id(), 10_000));
                handles[b] = spawn(b, 1, ledgers[b].clone(), mempool);
                let tip = ledgers[0].tip().0;
                wait_for(&context, &ledgers, &all, tip + 4).await;
                clients.submit(&mempools, &senders, 4);

                // Wait for the last increments, then check nothing they had finalized moved.
                while !clients
                    .last()
                    .all(|id| ledgers.iter().all(|l| l.receipt(&id).unwrap().is_some()))
                {
                    context.sleep(Duration::from_millis(100)).await;
                }
                assert_finalized(&ledgers[a], a, &finalized_a);
                assert_finalized(&ledgers[b], b, &finalized_b);
            }
        }
        let expected: u64 = (1..=INCREMENTS).sum::<u64>() + clients.sum;

        // Wait for every client's last receipt everywhere, then for a common height past it.
        let last: Vec<Digest> = std::iter::once(alice_last).chain(clients.last()).collect();
        while !last
            .iter()
            .all(|id| ledgers.iter().all(|l| l.receipt(id).unwrap().is_some()))
        {
            context.sleep(Duration::from_millis(100)).await;
        }
        let target = ledgers.iter().map(|l| l.tip().0).max().unwrap() + 2;
        wait_for(&context, &ledgers, &all, target).await;

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
        let state_root = ledgers[0].block(target).unwrap().unwrap().header.state_root;
        for ledger in &ledgers {
            let (height, digest) = ledger.tip();
            let block = ledger.block(height).unwrap().unwrap();
            assert_eq!(block.digest(), digest);
            assert_eq!(ledger.state_root().unwrap(), block.header.state_root);
            assert_eq!(
                ledger.block(target).unwrap().unwrap().header.state_root,
                state_root
            );
            assert_eq!(counter_value(ledger, &counter), expected);
            for id in &last {
                let receipt = ledger.receipt(id).unwrap().unwrap();
                assert!(
                    matches!(receipt.status, ReceiptStatus::Called { .. }),
                    "not a call receipt: {receipt:?}"
                );
            }
            if clients.sum == 0 {
                let receipt = ledger.receipt(&alice_last).unwrap().unwrap();
                let ReceiptStatus::Called { output, .. } = receipt.status else {
                    unreachable!()
                };
                assert_eq!(decode_all::<u64>(&output).unwrap(), expected);
            }
            assert!(!ledger.seeds().unwrap().is_empty(), "seeds are recorded");
            // Blocks reveal seeds (committee randomness), each newer than the last and from an
            // earlier view than the block's.
            let mut last_seed = hyperchain_types::Round::ZERO;
            for height in 1..=target {
                let header = ledger.block(height).unwrap().unwrap().header;
                if let Some(seed) = header.seed {
                    assert!(seed.round > last_seed && seed.round < header.round());
                    last_seed = seed.round;
                }
            }
            assert!(
                last_seed > hyperchain_types::Round::ZERO,
                "no block revealed a seed"
            );
        }
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

fn good(seed: u64, validators: usize, faults: Faults) -> Scenario {
    Scenario {
        seed,
        validators,
        link: good_link(),
        faults,
    }
}

/// Runs `scenario` in a fresh directory, printing the outcome and the wall time.
fn run_timed(name: &str, scenario: Scenario) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let outcome = run(scenario, dir.path());
    println!("{name}: {outcome:?} in {:?}", start.elapsed());
    outcome
}

/// The counter after Alice's increments and `per` from each of `clients` clients (client `v`
/// increments by `v + 1`, `v + 2`, ...).
fn expected_sum(clients: u64, per: u64) -> u64 {
    let from_clients: u64 = (0..clients)
        .map(|v| (1..=per).map(|k| k + v).sum::<u64>())
        .sum();
    (1..=INCREMENTS).sum::<u64>() + from_clients
}

#[test]
fn four_validators_execute_the_same_chain() {
    let first = run_timed("first", good(1, 4, Faults::None));
    let second = run_timed("second", good(1, 4, Faults::None));
    assert_eq!(first, second, "same seed, same run");
    assert_eq!(first.counter, (1..=INCREMENTS).sum::<u64>());
}

#[test]
fn crash_restart_and_partition() {
    let outcome = run_timed("crash", good(7, 4, Faults::CrashAndPartition));
    assert_eq!(outcome.counter, (1..=INCREMENTS).sum::<u64>());
}

#[test]
fn seven_validators_with_clients_on_several_mempools() {
    let outcome = run_timed("seven", good(3, 7, Faults::None));
    // Alice's increments and eight from each of seven clients.
    assert_eq!(outcome.counter, expected_sum(7, 8));
}

#[test]
fn slow_lossy_links() {
    let scenario = Scenario {
        seed: 5,
        validators: 5,
        link: bad_link(),
        faults: Faults::None,
    };
    let outcome = run_timed("lossy", scenario);
    assert_eq!(outcome.counter, expected_sum(5, 8));
}

#[test]
fn two_validators_crash_and_restart_at_different_times() {
    let outcome = run_timed("two crashes", good(11, 7, Faults::TwoCrashes));
    // Five waves of four increments from the clients of the five validators that stay up.
    assert_eq!(outcome.counter, expected_sum(5, 20));
}

/// Epochs with the key reshared at every boundary (epochs of 30 blocks, 4 validators): the
/// chain goes on across three boundaries; each epoch's last block carries that epoch's
/// successful resharing output, whose group key is the genesis's; headers name the epoch of
/// their height, every validator finalizes the same blocks, and a certificate of epoch 3
/// verifies with the genesis group key alone.
#[test]
fn the_key_is_reshared_at_every_epoch_boundary() {
    const L: u64 = 30;
    let dir = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..4).map(|i| dir.path().join(format!("v{i}"))).collect();
    let cfg = deterministic::Config::new()
        .with_seed(5)
        .with_timeout(Some(Duration::from_secs(1200)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let net = Testnet::new(&mut context, 4, &good_link())
            .await
            .with_epochs(L);
        let genesis = net.genesis();
        let ledgers: Vec<Arc<Ledger>> = dirs.iter().map(|d| open_ledger(d, &genesis)).collect();
        let keys: Vec<_> = (0..4)
            .map(|i| net.keys(i, &dirs[i].join("secrets")))
            .collect();
        let mut marshals = Vec::new();
        for (i, keys) in keys.into_iter().enumerate() {
            let (_, marshal) = simnet::spawn_validator(
                &context,
                &net.oracle,
                i,
                0,
                keys,
                ledgers[i].clone(),
                Arc::new(Mempool::new(chain_id(), 1_000)),
            );
            marshals.push(marshal);
        }
        let all: Vec<usize> = (0..4).collect();
        wait_for(&context, &ledgers, &all, 3 * L + 2).await;

        // A block of epoch 3 — signed by shares three resharings away from the genesis's —
        // verifies with a light client that knows only the genesis group key, as does one of
        // epoch 0.
        let marshal = marshals.remove(0).await.unwrap();
        let light = hyperchain_chain::light::LightClient::new(chain_id(), genesis.group);
        for height in [5, 3 * L + 1] {
            use commonware_codec::Encode as _;
            let block = ledgers[0].block(height).unwrap().unwrap();
            let certificate = marshal
                .get_finalization(commonware_consensus::types::Height::new(height))
                .await
                .unwrap_or_else(|| panic!("no finalization at height {height}"));
            assert_eq!(
                light.verify_finalized(&block.header, &certificate.encode()),
                Ok(()),
                "height {height}"
            );
        }
        reshared(
            &ledgers.iter().collect::<Vec<_>>(),
            3 * L + 2,
            L,
            &genesis.group,
        );
    });
}

/// Checks that every one of `ledgers` finalized the same blocks up to `to`, each header naming
/// the epoch of its height (epochs of `l` blocks), and that the last block of each epoch
/// carries a successful resharing output for the next epoch with the group key `group`;
/// returns those outputs.
fn reshared(
    ledgers: &[&Arc<Ledger>],
    to: u64,
    l: u64,
    group: &hyperchain_chain::genesis::GroupPublicKey,
) -> Vec<
    commonware_glue::dkg::types::EpochInfo<
        hyperchain_types::consensus::Variant,
        hyperchain_types::consensus::PublicKey,
        commonware_glue::dkg::network::Addresses<hyperchain_types::consensus::PublicKey>,
    >,
> {
    use commonware_glue::dkg::ReshareBlock as _;
    use commonware_glue::dkg::types::{EpochOutcome, Payload};
    let mut outputs = Vec::new();
    for height in 1..=to {
        let block = ledgers[0].block(height).unwrap().unwrap();
        assert_eq!(block.header.epoch, height / l, "height {height}");
        for (i, other) in ledgers.iter().enumerate().skip(1) {
            assert_eq!(
                other.block(height).unwrap().unwrap().digest(),
                block.digest(),
                "ledger {i} at height {height}"
            );
        }
        if (height + 1) % l == 0 {
            let Some(Payload::EpochInfo(info)) = hyperchain_chain::block::Block(block).payload()
            else {
                panic!("the last block of epoch {} carries no output", height / l);
            };
            assert_eq!(info.outcome, EpochOutcome::Success, "height {height}");
            assert_eq!(info.epoch.get(), height / l + 1);
            assert_eq!(
                info.output.public().public(),
                group,
                "the group key never changes"
            );
            outputs.push(info);
        }
    }
    outputs
}

/// Waits until `ledger` finalized transaction `id`.
/// A fee-free transaction of `signer` with `nonce` (the simulated chains charge no fees).
fn tx(
    signer: &commonware_cryptography::ed25519::PrivateKey,
    nonce: u64,
    payload: hyperchain_types::Payload,
) -> hyperchain_types::SignedTransaction {
    use commonware_cryptography::Signer as _;
    hyperchain_types::Transaction {
        chain_id: chain_id(),
        sender: signer.public_key().into(),
        nonce,
        fee: hyperchain_types::Fee::NONE,
        payload,
    }
    .sign(signer)
}

async fn until_included(
    context: &deterministic::Context,
    ledger: &Ledger,
    id: hyperchain_types::Digest,
) {
    while ledger.receipt(&id).unwrap().is_none() {
        context.sleep(Duration::from_millis(100)).await;
    }
}

/// A validator joins and another leaves a running chain (epochs of 30 blocks) under traffic,
/// with a crash during a resharing: a fifth node, not in the genesis, follows the chain from
/// genesis, announces itself, and governance admits it while also removing validator 3;
/// validator 1 crashes while epoch 2's resharing deals the joiner its share, and comes back. The resharing hands the joiner a share and leaves
/// validator 3 out; from then on the joiner is in the signing set and validator 3 is not, the
/// group key is the genesis's throughout, and every running node finalizes the same blocks.
#[test]
fn a_validator_joins_and_another_leaves_through_the_resharing() {
    use commonware_cryptography::Signer as _;
    use hyperchain_types::{GovernanceAction, Payload as Tx};
    const L: u64 = 30;
    let dir = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..5).map(|i| dir.path().join(format!("v{i}"))).collect();
    let cfg = deterministic::Config::new()
        .with_seed(9)
        .with_timeout(Some(Duration::from_secs(3_000)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let net = Testnet::new(&mut context, 4, &good_link())
            .await
            .with_epochs(L);
        let genesis = net.genesis();
        let mut ledgers: Vec<Arc<Ledger>> = dirs.iter().map(|d| open_ledger(d, &genesis)).collect();
        let mempools: Vec<Arc<Mempool>> = (0..5)
            .map(|_| Arc::new(Mempool::new(chain_id(), 1_000)))
            .collect();
        let joiner_keys = net.joiner(77, &good_link(), &dirs[4].join("secrets")).await;
        let joiner_identity = joiner_keys.identity.clone();
        let joiner = joiner_identity.public_key();
        let mut keys: Vec<_> = (0..4)
            .map(|i| net.keys(i, &dirs[i].join("secrets")))
            .collect();
        keys.push(joiner_keys);
        let identities: Vec<_> = keys.iter().map(|k| k.identity.clone()).collect();
        let mut handles: Vec<Handle<()>> = keys
            .into_iter()
            .enumerate()
            .map(|(i, k)| {
                simnet::spawn_validator(
                    &context,
                    &net.oracle,
                    i,
                    0,
                    k,
                    ledgers[i].clone(),
                    mempools[i].clone(),
                )
                .0
            })
            .collect();
        let genesis_validators: Vec<_> = (0..4).collect();
        wait_for(&context, &ledgers, &genesis_validators, 1).await;

        // Traffic throughout: a counter deployed and incremented 1..=60.
        const INCREMENTS: u64 = 60;
        let alice = key(42);
        let counter = counter_address(&alice, 0);
        mempools[0].submit(deploy(&alice, 0, COUNTER), 0).unwrap();
        for i in 1..=INCREMENTS {
            mempools[0]
                .submit(call(&alice, i, counter, "increment", encode(&i)), 0)
                .unwrap();
        }

        // The joiner announces; validator 0 proposes its admission and validator 3's removal;
        // validators 1 and 2 approve both (3 of 4).
        let joiner_key = hyperchain_types::SenderKey::from(joiner.clone()).0;
        let leaver_key = hyperchain_types::SenderKey::from(net.peers[3].clone()).0;
        let announce = tx(
            &joiner_identity,
            0,
            Tx::AnnounceValidator {
                address: "127.0.0.1:7077".into(),
            },
        );
        let announced = announce.id();
        mempools[0].submit(announce, 0).unwrap();
        until_included(&context, &ledgers[0], announced).await;
        let admit = tx(
            &identities[0],
            0,
            Tx::Propose(GovernanceAction::AdmitValidator {
                public_key: joiner_key,
            }),
        );
        let remove = tx(
            &identities[0],
            1,
            Tx::Propose(GovernanceAction::RemoveValidator {
                public_key: leaver_key,
            }),
        );
        let (admit_id, remove_id) = (admit.id(), remove.id());
        mempools[0].submit(admit, 0).unwrap();
        mempools[0].submit(remove, 0).unwrap();
        until_included(&context, &ledgers[0], remove_id).await;
        let mut last = remove_id;
        for v in [1, 2] {
            for (nonce, proposal) in [(0, admit_id), (1, remove_id)] {
                let approval = tx(&identities[v], nonce, Tx::Approve { proposal });
                last = approval.id();
                mempools[0].submit(approval, 0).unwrap();
            }
        }
        until_included(&context, &ledgers[0], last).await;
        let decided = ledgers[0].tip().0;

        // Validator 1 crashes in the first half of epoch 2, while the resharing deals the
        // joiner its share, and comes back from disk.
        wait_for(&context, &ledgers, &[0, 1, 2, 4], 2 * L + 2).await;
        let finalized = crash(&mut handles, &ledgers, 1);
        wait_for(&context, &ledgers, &[0, 2, 3, 4], 2 * L + 6).await;
        context.sleep(Duration::from_secs(3)).await;
        reopen(&mut ledgers, &dirs, 1, &finalized, &genesis);
        handles[1] = simnet::spawn_validator(
            &context,
            &net.oracle,
            1,
            1,
            net.keys(1, &dirs[1].join("secrets")),
            ledgers[1].clone(),
            Arc::new(Mempool::new(chain_id(), 1_000)),
        )
        .0;

        // Three boundaries after the decision's epoch (four if it came after the middle), the
        // joiner signs and validator 3 does not.
        let target = (decided / L + 5) * L + 2;
        let running = [0, 1, 2, 4];
        wait_for(&context, &ledgers, &running, target).await;
        let state = ledgers[0].snapshot().unwrap();
        let (epoch, active) = hyperchain_chain::validators::active(&state)
            .unwrap()
            .unwrap();
        assert_eq!(epoch, target / L);
        assert!(active.contains(&joiner_key), "the joiner signs");
        assert!(!active.contains(&leaver_key), "validator 3 left");
        let running: Vec<&Arc<Ledger>> = running.iter().map(|&i| &ledgers[i]).collect();
        let joiner_dealt_to = reshared(&running, target, L, &genesis.group)
            .iter()
            .any(|info| info.output.players().position(&joiner).is_some());
        assert!(joiner_dealt_to, "a resharing dealt the joiner a share");
        // Every increment sent is applied, on the joiner as on the others.
        let total: u64 = (1..=INCREMENTS).sum();
        for ledger in &running {
            assert_eq!(counter_value(ledger, &counter), total);
        }
    });
}

/// A long run behind a flag: `SOAK_VALIDATORS` validators (default 7) through `SOAK_EPOCHS`
/// epochs (default 20) of `SOAK_EPOCH_BLOCKS` blocks (default: the genesis minimum for that
/// many validators, 238 for 7), every boundary a resharing whose
/// output keeps the genesis group key, every validator finalizing the same blocks. Run it with
/// `scripts/soak.sh` (or `cargo test -p hyperchain-chain --features testkit --test chain
/// many_epochs -- --ignored --nocapture`); it prints the simulated and real time taken.
#[test]
#[ignore]
fn many_epochs_reshare_the_key_every_time() {
    let env = |name: &str, default: u64| {
        std::env::var(name).map_or(default, |v| v.parse().expect("a number"))
    };
    let n = env("SOAK_VALIDATORS", 7) as usize;
    let (epochs, l) = (
        env("SOAK_EPOCHS", 20),
        env(
            "SOAK_EPOCH_BLOCKS",
            hyperchain_chain::genesis::min_blocks_per_epoch(n),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..n).map(|i| dir.path().join(format!("v{i}"))).collect();
    let cfg = deterministic::Config::new()
        .with_seed(21)
        .with_timeout(Some(Duration::from_secs(100 * epochs * l)));
    let started = std::time::Instant::now();
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let net = Testnet::new(&mut context, n, &good_link())
            .await
            .with_epochs(l);
        let genesis = net.genesis();
        let ledgers: Vec<Arc<Ledger>> = dirs.iter().map(|d| open_ledger(d, &genesis)).collect();
        for (i, ledger) in ledgers.iter().enumerate() {
            let _ = simnet::spawn_validator(
                &context,
                &net.oracle,
                i,
                0,
                net.keys(i, &dirs[i].join("secrets")),
                ledger.clone(),
                Arc::new(Mempool::new(chain_id(), 1_000)),
            );
        }
        let all: Vec<usize> = (0..n).collect();
        let simulated = context.current();
        wait_for(&context, &ledgers, &all, epochs * l + 1).await;
        let simulated = context
            .current()
            .duration_since(simulated)
            .unwrap_or_default();
        let ledgers: Vec<&Arc<Ledger>> = ledgers.iter().collect();
        let outputs = reshared(&ledgers, epochs * l + 1, l, &genesis.group);
        assert_eq!(outputs.len() as u64, epochs);
        println!(
            "{n} validators, {epochs} epochs of {l} blocks: every resharing succeeded; \
             {:.0} s simulated, {:.0} s to run",
            simulated.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    });
}

/// A validator joins by state sync (epochs of 30 blocks): governance admits a fifth node in
/// epoch 0; in epoch 1 — once the validators' peer sets name it — it takes validator 0's newest
/// checkpoint (an epoch's first or middle block), checks its finality and the previous
/// epoch's output against the genesis group key, imports the state and checks its root, and
/// starts from there: it holds no block below the checkpoint, is dealt its share in epoch 2's
/// resharing, signs from epoch 3, and finalizes the same blocks as everyone. A source whose
/// checkpoint does not verify is refused and leaves nothing behind.
#[test]
fn a_validator_joins_by_state_sync() {
    use commonware_cryptography::Signer as _;
    use hyperchain_chain::statesync::{LedgerSource, SyncError};
    use hyperchain_types::{GovernanceAction, Payload as Tx};
    const L: u64 = 30;
    let dir = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..5).map(|i| dir.path().join(format!("v{i}"))).collect();
    let cfg = deterministic::Config::new()
        .with_seed(13)
        .with_timeout(Some(Duration::from_secs(3_000)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let net = Testnet::new(&mut context, 4, &good_link())
            .await
            .with_epochs(L);
        let genesis = net.genesis();
        let mut ledgers: Vec<Arc<Ledger>> =
            dirs[..4].iter().map(|d| open_ledger(d, &genesis)).collect();
        let mempool = Arc::new(Mempool::new(chain_id(), 1_000));
        let mut joiner_keys = net.joiner(78, &good_link(), &dirs[4].join("secrets")).await;
        let joiner_identity = joiner_keys.identity.clone();
        let joiner = hyperchain_types::SenderKey::from(joiner_identity.public_key()).0;
        let keys: Vec<_> = (0..4)
            .map(|i| net.keys(i, &dirs[i].join("secrets")))
            .collect();
        let identities: Vec<_> = keys.iter().map(|k| k.identity.clone()).collect();
        let mut marshals = Vec::new();
        for (i, keys) in keys.into_iter().enumerate() {
            let (_, marshal) = simnet::spawn_validator(
                &context,
                &net.oracle,
                i,
                0,
                keys,
                ledgers[i].clone(),
                if i == 0 {
                    mempool.clone()
                } else {
                    Arc::new(Mempool::new(chain_id(), 1_000))
                },
            );
            marshals.push(marshal);
        }
        let genesis_validators: Vec<usize> = (0..4).collect();
        wait_for(&context, &ledgers, &genesis_validators, 1).await;

        // The joiner announces itself; validators 0, 1 and 2 admit it.
        let announce = tx(
            &joiner_identity,
            0,
            Tx::AnnounceValidator {
                address: "127.0.0.1:7078".into(),
            },
        );
        let announced = announce.id();
        mempool.submit(announce, 0).unwrap();
        until_included(&context, &ledgers[0], announced).await;
        let admit = tx(
            &identities[0],
            0,
            Tx::Propose(GovernanceAction::AdmitValidator { public_key: joiner }),
        );
        let admit_id = admit.id();
        mempool.submit(admit, 0).unwrap();
        until_included(&context, &ledgers[0], admit_id).await;
        let mut last = admit_id;
        for v in [1, 2] {
            let approval = tx(&identities[v], 0, Tx::Approve { proposal: admit_id });
            last = approval.id();
            mempool.submit(approval, 0).unwrap();
        }
        until_included(&context, &ledgers[0], last).await;
        let decided = ledgers[0].tip().0;
        assert!(
            decided < L / 2,
            "decided in epoch 0's first half ({decided})"
        );

        // In epoch 1, after its middle block: validator 0's newest checkpoint is that block.
        wait_for(&context, &ledgers, &genesis_validators, L + L / 2 + 2).await;
        let source = LedgerSource {
            ledger: ledgers[0].clone(),
            marshal: marshals.remove(0).await.unwrap(),
            blocks_per_epoch: L,
        };

        // A source serving another chain's certificates is refused; nothing is kept.
        let other = Testnet::new(&mut context, 4, &good_link()).await.genesis();
        let refused = simnet::sync_ledger(
            &dirs[4].join("ledger"),
            chain_id(),
            engine(),
            &other,
            &source,
        )
        .await
        .unwrap_err();
        assert!(matches!(refused, SyncError::Invalid(_)), "{refused}");
        assert!(!dirs[4].join("ledger").exists());

        let (ledger, start) = simnet::sync_ledger(
            &dirs[4].join("ledger"),
            chain_id(),
            engine(),
            &genesis,
            &source,
        )
        .await
        .unwrap();
        let floor = ledger.tip().0;
        assert_eq!(floor, L + L / 2, "the checkpoint at epoch 1's middle block");
        assert_eq!(start.info.epoch.get(), 1);
        assert!(
            ledger.block(1).unwrap().is_none(),
            "no block below the floor"
        );
        assert_eq!(
            ledger.state_root().unwrap(),
            ledgers[0].block(floor).unwrap().unwrap().header.state_root
        );
        joiner_keys.synced = Some(start);
        ledgers.push(ledger);
        let (_joiner, joiner_marshal) = simnet::spawn_validator(
            &context,
            &net.oracle,
            4,
            0,
            joiner_keys,
            ledgers[4].clone(),
            Arc::new(Mempool::new(chain_id(), 1_000)),
        );

        // Three boundaries after the decision's epoch the joiner signs; its blocks from the
        // floor on are everyone's.
        let target = 3 * L + L / 2;
        let all: Vec<usize> = (0..5).collect();
        wait_for(&context, &ledgers, &all, target).await;
        let state = ledgers[4].snapshot().unwrap();
        let (epoch, active) = hyperchain_chain::validators::active(&state)
            .unwrap()
            .unwrap();
        assert_eq!(epoch, 3);
        assert!(active.contains(&joiner), "the synced joiner signs");
        // Its marshal started at the floor: it never fetched the blocks below.
        let joiner_marshal = joiner_marshal.await.unwrap();
        for height in [1, floor - 1] {
            let below = commonware_consensus::types::Height::new(height);
            assert!(
                joiner_marshal.get_finalization(below).await.is_none(),
                "{height}"
            );
        }
        assert!(
            joiner_marshal
                .get_finalization(commonware_consensus::types::Height::new(floor + 1))
                .await
                .is_some()
        );
        for height in floor..=target {
            assert_eq!(
                ledgers[4].block(height).unwrap().unwrap().digest(),
                ledgers[1].block(height).unwrap().unwrap().digest(),
                "height {height}"
            );
        }
        let genesis_ledgers: Vec<&Arc<Ledger>> = ledgers[..4].iter().collect();
        let dealt = reshared(&genesis_ledgers, target, L, &genesis.group)
            .iter()
            .any(|info| {
                info.output
                    .players()
                    .position(&joiner_identity.public_key())
                    .is_some()
            });
        assert!(dealt, "a resharing dealt the synced joiner a share");
    });
}

/// A validator crashes while an epoch's resharing deals (epoch 1 of 30 blocks) and restarts
/// from disk — its ledger, consensus partitions and secret store — a few seconds later: the
/// others go on, it catches up, and every resharing still succeeds with the genesis's group key.
#[test]
fn a_validator_crashing_during_a_reshare_comes_back() {
    const L: u64 = 30;
    let dir = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..4).map(|i| dir.path().join(format!("v{i}"))).collect();
    let cfg = deterministic::Config::new()
        .with_seed(11)
        .with_timeout(Some(Duration::from_secs(1200)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let net = Testnet::new(&mut context, 4, &good_link())
            .await
            .with_epochs(L);
        let genesis = net.genesis();
        let mut ledgers: Vec<Arc<Ledger>> = dirs.iter().map(|d| open_ledger(d, &genesis)).collect();
        let spawn = |i: usize, incarnation: u32, ledger: Arc<Ledger>| {
            simnet::spawn_validator(
                &context,
                &net.oracle,
                i,
                incarnation,
                net.keys(i, &dirs[i].join("secrets")),
                ledger,
                Arc::new(Mempool::new(chain_id(), 1_000)),
            )
            .0
        };
        let mut handles: Vec<Handle<()>> =
            (0..4).map(|i| spawn(i, 0, ledgers[i].clone())).collect();
        let all: Vec<usize> = (0..4).collect();
        wait_for(&context, &ledgers, &all, L + 3).await;
        let finalized = crash(&mut handles, &ledgers, 2);
        wait_for(&context, &ledgers, &[0, 1, 3], L + 10).await;
        context.sleep(Duration::from_secs(3)).await;
        reopen(&mut ledgers, &dirs, 2, &finalized, &genesis);
        handles[2] = spawn(2, 1, ledgers[2].clone());
        wait_for(&context, &ledgers, &all, 3 * L + 2).await;
        reshared(
            &ledgers.iter().collect::<Vec<_>>(),
            3 * L + 2,
            L,
            &genesis.group,
        );
    });
}
