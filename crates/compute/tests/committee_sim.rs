//! Committee execution under consensus, on the deterministic runtime and simulated network:
//! four validators (one crashes mid-run: f = 1) and, beside them, five compute nodes, each the
//! real daemon ([`ComputeNode`]) around the real enclave with the simulated evidence provider,
//! reaching one validator through the in-process chain client: two honest nodes, a liar
//! ([`Fault::WrongResult`]), a silent one ([`Fault::Silent`]) and a replayer ([`Fault::Replay`],
//! which executes its own jobs correctly and resends the others' old receipts). A client's
//! calls to a cross-vendor counter become jobs.
//!
//! What must hold: every job is resolved (liveness returns after reassignment), no wrong
//! result is ever applied (the counter ends at the sum of the increments), the liar is
//! revoked with its receipt kept as evidence, the silent node is charged missed deadlines,
//! every replayed receipt is rejected, no honest node (the replayer included) is ever charged
//! or revoked, all live validators agree, and the same seed gives the same run.

use commonware_cryptography::Signer as _;
use commonware_runtime::{
    Clock as _, Handle, Runner as _, Spawner as _, Supervisor as _, deterministic,
};
use hyperchain_attest::sim::SimFlavour;
use hyperchain_chain::lanes;
use hyperchain_chain::ledger::Ledger;
use hyperchain_chain::light::LightClient;
use hyperchain_chain::mempool::Mempool;
use hyperchain_chain::registry::{self, ComputeParams, RegistryConfig};
use hyperchain_chain::simnet::{Testnet, good_link, open_ledger, spawn_validator, wait_for};
use hyperchain_compute::client::{CertificateCache, InProcessClient};
use hyperchain_compute::daemon::{ComputeNode, DaemonConfig, Event, Fault};
use hyperchain_compute::enclave::Enclave;
use hyperchain_compute::providers::SimProvider;
use hyperchain_contracts::COUNTER;
use hyperchain_sdk::{decode_all, encode};
use hyperchain_state::TreeId;
use hyperchain_types::{
    Digest, ExecutionMode, GovernanceAction, JobState, Payload, ReceiptStatus, Resolution,
    SenderKey, SignedTransaction, Transaction, node_id, sha256,
};
use hyperchain_vm::{Engine, EngineConfig};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const VALIDATORS: usize = 4;
const JOBS: u64 = 10;
const FUEL: u64 = 10_000_000;
const IMAGE: &[u8] = b"hyperchain compute runtime (simulation) v1";
const REGION: &str = "eu";
const ALICE: u64 = 42;
/// Blocks per epoch in the simulation (each boundary reshares the validators' key).
const EPOCH_BLOCKS: u64 = 20;
/// The runtime seed of the simulation: a schedule in which the lying node is drawn.
const SEED: u64 = 1;

/// The fleet (identity-key seed, platform, behaviour), all in one region: three Intel nodes
/// (one lying, one replaying) and two AMD nodes (one silent).
const FLEET: [(u64, SimFlavour, Fault); 5] = [
    (500, SimFlavour::Intel, Fault::None),
    (501, SimFlavour::Intel, Fault::WrongResult),
    (502, SimFlavour::Amd, Fault::None),
    (503, SimFlavour::Amd, Fault::Silent),
    (504, SimFlavour::Intel, Fault::Replay),
];

fn chain_id() -> Digest {
    sha256(b"hyperchain committee simulation")
}

fn key(seed: u64) -> commonware_cryptography::ed25519::PrivateKey {
    commonware_cryptography::ed25519::PrivateKey::from_seed(seed)
}

fn node_of(seed: u64) -> Digest {
    node_id(&SenderKey::from(key(seed).public_key()).0)
}

/// The validators' engine: one per test process (it reserves a pool of instance slots).
fn validator_engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| Engine::new(EngineConfig::default()).expect("engine"))
        .clone()
}

/// An enclave's own engine: its module cache starts empty, so the enclave fetches the code.
fn enclave_engine() -> Engine {
    Engine::new(EngineConfig {
        max_concurrent_calls: 2,
        ..EngineConfig::default()
    })
    .expect("engine")
}

fn registry_config() -> RegistryConfig {
    RegistryConfig {
        genesis_policy: hyperchain_attest::AttestationPolicy {
            allow_simulated: true,
            ..Default::default()
        },
        execution_modes: vec![ExecutionMode::Replicated, ExecutionMode::CrossVendor],
        compute: ComputeParams {
            job_deadline_ms: 3_000,
            suspend_after_failures: 2,
            // Runs of up to two jobs: pipelined, and committees drawn often enough that
            // the liar is drawn.
            pipeline_depth: 2,
            ..ComputeParams::default()
        },
        ..RegistryConfig::default()
    }
}

fn tx(seed: u64, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: chain_id(),
        sender: key(seed).public_key().into(),
        nonce,
        fee: hyperchain_types::Fee::NONE,
        payload,
    }
    .sign(&key(seed))
}

/// Waits (at most `within` of simulated time) until `done` holds.
async fn until(
    context: &deterministic::Context,
    within: Duration,
    what: &str,
    done: impl Fn() -> bool,
) {
    let deadline = context.current() + within;
    while !done() {
        assert!(
            context.current() < deadline,
            "{what}: not within {within:?}"
        );
        context.sleep(Duration::from_millis(100)).await;
    }
}

/// What a run ends with (compared across runs with the same seed).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    state_root: Digest,
    counter: u64,
    arbitrated: usize,
    reassigned: usize,
    executed: usize,
    replayed: usize,
    auditor: String,
}

/// One compute node: the daemon around an enclave holding identity key `seed`, registering
/// itself, then serving through `client` until aborted; its events go to `events`.
fn spawn_compute_node(
    context: &deterministic::Context,
    (seed, flavour, fault): (u64, SimFlavour, Fault),
    light: LightClient,
    client: InProcessClient<deterministic::Context>,
    events: Arc<Mutex<Vec<Event>>>,
) -> Handle<()> {
    context
        .child("compute")
        .with_attribute("node", seed)
        .spawn(move |context| async move {
            let enclave = Enclave::with_key(light, enclave_engine(), key(seed));
            let provider = Arc::new(SimProvider::new(
                flavour,
                &seed.to_be_bytes(),
                IMAGE.to_vec(),
            ));
            let config = DaemonConfig {
                region: REGION.into(),
                poll: Duration::from_millis(100),
                register_timeout: Duration::from_secs(60),
                fault,
                parallel: 2,
                owner: None,
            };
            let node = ComputeNode::new(context, enclave, provider, client, config).unwrap();
            let report = move |event| events.lock().unwrap().push(event);
            node.run(true, report, futures::future::pending())
                .await
                .unwrap_or_else(|e| panic!("compute node {seed} stopped: {e}"));
        })
}

fn run(seed: u64, dir: &Path) -> Outcome {
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(1200)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        // Epochs of 20 blocks: committees are drawn, and jobs resolved, across boundaries
        // at which the validators' key is reshared.
        let net = Testnet::new(&mut context, VALIDATORS, &good_link())
            .await
            .with_epochs(EPOCH_BLOCKS);
        let group = net.group();
        let genesis = net.genesis();
        let ledgers: Vec<Arc<Ledger>> = (0..VALIDATORS)
            .map(|i| {
                open_ledger(
                    &dir.join(format!("v{i}")),
                    chain_id(),
                    validator_engine(),
                    &genesis,
                    registry_config(),
                )
            })
            .collect();
        let mempools: Vec<Arc<Mempool>> = (0..VALIDATORS)
            .map(|_| Arc::new(Mempool::new(chain_id(), 10_000)))
            .collect();
        let mut handles = Vec::new();
        let mut marshals = Vec::new();
        for i in 0..VALIDATORS {
            let (handle, marshal) = spawn_validator(
                &context,
                &net.oracle,
                i,
                0,
                net.keys(i, &dir.join(format!("v{i}/secrets"))),
                ledgers[i].clone(),
                mempools[i].clone(),
            );
            handles.push(handle);
            marshals.push(marshal);
        }
        let marshals: Vec<_> = futures::future::join_all(marshals)
            .await
            .into_iter()
            .map(|m| m.expect("validator started"))
            .collect();
        let all: Vec<usize> = (0..VALIDATORS).collect();
        wait_for(&context, &ledgers, &all, 2).await;

        // The validators (identity seeds 0..4) register the runtime release: one proposes,
        // two more approve (2f+1 of 4).
        let release = tx(
            0,
            0,
            Payload::Propose(GovernanceAction::AddRelease {
                version: "v1".into(),
                image: IMAGE.to_vec(),
                measurements: vec![],
            }),
        );
        let proposal = release.id();
        mempools[0].submit(release, 0).unwrap();
        until(
            &context,
            Duration::from_secs(60),
            "release proposal",
            || ledgers[0].receipt(&proposal).unwrap().is_some(),
        )
        .await;
        let mut last = proposal;
        for validator in [1, 2] {
            let approval = tx(validator, 0, Payload::Approve { proposal });
            last = approval.id();
            mempools[0].submit(approval, 0).unwrap();
        }
        until(&context, Duration::from_secs(60), "release", || {
            ledgers[0].receipt(&last).unwrap().is_some()
        })
        .await;

        // The compute nodes reach validators 0 and 1 in turn (validator 3 will crash), each
        // validator's finality certificates kept by one task.
        let reached = [0usize, 1];
        let caches: Vec<CertificateCache> = reached
            .iter()
            .map(|&v| {
                let marshal = marshals[v].clone();
                CertificateCache::follow(context.child("certificates"), ledgers[v].clone(), marshal)
                    .0
            })
            .collect();
        let events: Vec<Arc<Mutex<Vec<Event>>>> = FLEET
            .iter()
            .map(|_| Arc::new(Mutex::new(Vec::new())))
            .collect();
        let fleet_handles: Vec<Handle<()>> = FLEET
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let v = reached[i % reached.len()];
                let client = InProcessClient::new(
                    context.child("client"),
                    &format!("validator-{v}"),
                    ledgers[v].clone(),
                    mempools[v].clone(),
                    caches[i % reached.len()].clone(),
                );
                let light = LightClient::new(chain_id(), group);
                spawn_compute_node(&context, *node, light, client, events[i].clone())
            })
            .collect();
        // Each registers itself (evidence from the simulated provider, checked at block time)
        // and reports it once it has seen the registration's receipt.
        let registered = |i: usize| {
            let me = node_of(FLEET[i].0);
            events[i]
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, Event::Registered { node, .. } if *node == me))
        };
        until(&context, Duration::from_secs(120), "registrations", || {
            (0..FLEET.len()).all(registered)
        })
        .await;
        let members = registry::nodes(&ledgers[0].snapshot().unwrap()).unwrap();
        assert_eq!(members.len(), FLEET.len(), "every node registered");

        // The client: a cross-vendor counter and JOBS increments.
        let alice = key(ALICE);
        let counter = hyperchain_types::contract_address(
            &hyperchain_types::account_address(&alice.public_key()),
            0,
        );
        let deploy = tx(
            ALICE,
            0,
            Payload::Deploy {
                code: COUNTER.to_vec(),
                mode: ExecutionMode::CrossVendor,
                regions: vec![REGION.into()],
            },
        );
        let calls: Vec<SignedTransaction> = (1..=JOBS)
            .map(|i| {
                tx(
                    ALICE,
                    i,
                    Payload::Call {
                        contract: counter,
                        method: "increment".into(),
                        input: encode(&i),
                        fuel_limit: FUEL,
                    },
                )
            })
            .collect();
        let jobs: Vec<Digest> = calls.iter().map(|c| c.id()).collect();
        mempools[0].submit(deploy, 0).unwrap();
        for c in calls {
            mempools[0].submit(c, 0).unwrap();
        }

        // A validator crashes while jobs run (f = 1); the rest keep going.
        wait_for(&context, &ledgers, &[0], ledgers[0].tip().0 + 10).await;
        handles[3].abort();
        let live = [0usize, 1, 2];

        // Every job resolves.
        until(
            &context,
            Duration::from_secs(600),
            "every job resolved",
            || {
                let snapshot = ledgers[0].snapshot().unwrap();
                jobs.iter().all(|id| {
                    lanes::job(&snapshot, id)
                        .unwrap()
                        .is_some_and(|j| matches!(j.state, JobState::Done(_)))
                })
            },
        )
        .await;
        // A few more blocks, so that replays of the last receipts are finalized too.
        let target = ledgers[0].tip().0 + 5;
        wait_for(&context, &ledgers, &live, target).await;

        // No wrong result applied: the counter is the sum of the increments.
        let snapshot = ledgers[0].snapshot().unwrap();
        let count = snapshot
            .get(&TreeId(counter.0), b"count")
            .unwrap()
            .map(|raw| decode_all::<u64>(&raw).unwrap())
            .unwrap();
        assert_eq!(count, (1..=JOBS).sum::<u64>());

        let liar = node_of(FLEET[1].0);
        let silent = node_of(FLEET[3].0);
        let mut arbitrated = 0;
        let mut reassigned = 0;
        let mut pipelined = 0;
        let mut last_height = 0;
        for (i, id) in jobs.iter().enumerate() {
            let job = lanes::job(&snapshot, id).unwrap().unwrap();
            let JobState::Done(result) = &job.state else {
                unreachable!()
            };
            if result.height == last_height {
                pipelined += 1;
            }
            last_height = result.height;
            assert_eq!(
                decode_all::<u64>(&result.output).unwrap(),
                (1..=i as u64 + 1).sum::<u64>(),
                "job {i} applied the correct output"
            );
            let assignment = job.assignment.as_ref().unwrap();
            if assignment.attempt > 0 {
                reassigned += 1;
            }
            if let Resolution::Arbitrated { revoked } = &result.resolution {
                arbitrated += 1;
                assert_eq!(revoked, &vec![liar], "only the liar is revoked");
                assert!(
                    snapshot
                        .get(&TreeId::ROOT, &lanes::evidence_key(id, &liar))
                        .unwrap()
                        .is_some(),
                    "the liar's receipt is kept as evidence"
                );
            }
        }
        assert!(arbitrated >= 1, "the liar was drawn and caught");
        assert!(pipelined >= 1, "a follower resolved in its head's block");
        let liar_record = registry::node(&snapshot, &liar).unwrap().unwrap();
        assert!(liar_record.revoked.is_some());
        assert!(
            snapshot
                .get(&registry::ACCUMULATOR, &liar.0)
                .unwrap()
                .is_none(),
            "the liar left the accumulator"
        );
        assert!(reassigned >= 1, "the silent node's jobs were reassigned");
        let silent_liveness = lanes::liveness(&snapshot, &silent).unwrap();
        assert!(
            silent_liveness.misses >= 1 || silent_liveness.suspended_until_ms > 0,
            "the silent node was charged: {silent_liveness:?}"
        );

        // Every receipt the replayer resent was rejected, and no honest node (the replayer,
        // which executes its own jobs correctly, included) was charged or revoked.
        let replayer = node_of(FLEET[4].0);
        let replays: Vec<(Digest, Digest)> = events[4]
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::Replayed { signer, tx, .. } => Some((*signer, *tx)),
                _ => None,
            })
            .collect();
        let mut rejected = 0;
        for (signer, id) in &replays {
            assert_ne!(*signer, replayer, "it replays other nodes' receipts");
            if let Some(receipt) = ledgers[0].receipt(id).unwrap() {
                assert!(
                    matches!(receipt.status, ReceiptStatus::Rejected(_)),
                    "a replayed receipt of {signer} was not rejected: {receipt:?}"
                );
                rejected += 1;
            }
        }
        assert!(rejected >= 1, "replays were finalized, and rejected");
        for (seed, _, fault) in FLEET {
            if matches!(fault, Fault::None | Fault::Replay) {
                let id = node_of(seed);
                let record = registry::node(&snapshot, &id).unwrap().unwrap();
                assert!(record.revoked.is_none(), "honest node {seed} revoked");
                let liveness = lanes::liveness(&snapshot, &id).unwrap();
                assert_eq!(
                    (liveness.misses, liveness.suspended_until_ms),
                    (0, 0),
                    "honest node {seed} charged"
                );
            }
        }
        // The daemons really executed: the honest AMD node serves every committee once the
        // silent one is excluded, and the liar signed what arbitration revoked it for.
        let executed = |i: usize| {
            events[i]
                .lock()
                .unwrap()
                .iter()
                .filter(|e| matches!(e, Event::Executed { .. }))
                .count()
        };
        assert!(executed(2) >= 1 && executed(1) >= 1);
        assert_eq!(executed(3), 0, "the silent node never answers");

        // Every live validator finalized the same chain, across epoch boundaries.
        let last = ledgers[0].block(target).unwrap().unwrap().header;
        assert!(
            last.epoch >= 2,
            "the run crossed at least two epoch boundaries (at height {target}, epoch {})",
            last.epoch
        );
        let state_root = last.state_root;
        for &i in &live {
            assert_eq!(
                ledgers[i].block(target).unwrap().unwrap().header.state_root,
                state_root,
                "validator {i} differs"
            );
        }
        for h in fleet_handles {
            h.abort();
        }
        for h in handles.drain(..) {
            h.abort();
        }
        Outcome {
            state_root,
            counter: count,
            arbitrated,
            reassigned,
            executed: (0..FLEET.len()).map(executed).sum(),
            replayed: replays.len(),
            auditor: context.auditor().state(),
        }
    })
}

#[test]
fn the_real_daemon_under_byzantine_nodes_and_a_crashed_validator_never_changes_the_result() {
    let first_dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let first = run(SEED, first_dir.path());
    println!("first: {first:?} in {:?}", started.elapsed());
    let second_dir = tempfile::tempdir().unwrap();
    let second = run(SEED, second_dir.path());
    assert_eq!(first, second, "same seed, same run");
}
