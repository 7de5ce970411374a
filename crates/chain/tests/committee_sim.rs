//! Committee execution under consensus, on the deterministic runtime and simulated network:
//! four validators (one crashes mid-run: f = 1), compute nodes running as tasks beside them —
//! honest ones, a liar that signs wrong results and a silent one — and a client whose calls
//! to a cross-vendor counter become jobs.
//!
//! What must hold: every job is resolved (liveness returns after reassignment), no wrong
//! result is ever applied (the counter ends at the sum of the increments), the liar is
//! revoked with its receipt kept as evidence, the silent node is charged missed deadlines,
//! all live validators agree, and the same seed gives the same run.

use crate::common::*;
use crate::sim::{Testnet, good_link, open_ledger_with, spawn_validator, wait_for};
use commonware_codec::Encode as _;
use commonware_cryptography::Signer as _;
use commonware_runtime::{
    Clock as _, Handle, Runner as _, Spawner as _, Supervisor as _, deterministic,
};
use hyperchain_attest::sim::{SimFlavour, SimPlatform, generate_evidence};
use hyperchain_chain::execute::ContractSnapshot;
use hyperchain_chain::execute::read_code;
use hyperchain_chain::lanes;
use hyperchain_chain::ledger::Ledger;
use hyperchain_chain::mempool::Mempool;
use hyperchain_chain::registry::{self, ComputeParams, RegistryConfig};
use hyperchain_contracts::COUNTER;
use hyperchain_sdk::{decode_all, encode};
use hyperchain_state::TreeId;
use hyperchain_types::{
    Address, Digest, ExecutionMode, GovernanceAction, JobState, Payload, Registration, Resolution,
    SenderKey, SignedTransaction, Transaction, node_id,
};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const VALIDATORS: usize = 4;
const JOBS: u64 = 10;
const IMAGE: &[u8] = b"hyperchain compute runtime (simulation) v1";
const GOVERNANCE: u64 = 100;

/// How a simulated compute node behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Honest,
    /// Signs a wrong output and write set.
    Liar,
    /// Never answers.
    Silent,
}

/// The fleet: two Intel and two AMD nodes in one region, one of each vendor misbehaving.
const FLEET: [(u64, SimFlavour, Behaviour); 4] = [
    (500, SimFlavour::Intel, Behaviour::Honest),
    (501, SimFlavour::Intel, Behaviour::Liar),
    (502, SimFlavour::Amd, Behaviour::Honest),
    (503, SimFlavour::Amd, Behaviour::Silent),
];

fn identity(seed: u64) -> [u8; 32] {
    SenderKey::from(key(seed).public_key()).0
}

fn registry_config() -> RegistryConfig {
    RegistryConfig {
        governance: Some(key(GOVERNANCE).public_key().into()),
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
        payload,
    }
    .sign(&key(seed))
}

/// One step of a compute node: answer every run (a lane's head and its followers) assigned to
/// it on `ledger`'s finalized state that it has not answered yet. Returns the receipt transactions to submit.
fn answer(
    ledger: &Ledger,
    seed: u64,
    behaviour: Behaviour,
    nonce: &mut Option<u64>,
    answered: &mut BTreeSet<(Digest, u32)>,
) -> Vec<SignedTransaction> {
    if behaviour == Behaviour::Silent {
        return Vec::new();
    }
    let me = node_id(&identity(seed));
    let snapshot = ledger.snapshot().unwrap();
    let mut out = Vec::new();
    for contract in lanes::active_lanes(&snapshot).unwrap() {
        let lane = lanes::lane(&snapshot, &contract).unwrap().unwrap();
        // The head and its followers (the same committee), executed in order as one run.
        let run = lanes::assigned_run(&snapshot, &contract, &lane).unwrap();
        let Some(assignment) = run.first().and_then(|j| j.assignment.clone()) else {
            continue;
        };
        if !assignment.committee.iter().any(|m| m.id == me)
            || !answered.insert((run[0].id, assignment.attempt))
        {
            continue;
        }
        let record = lanes_contract(&snapshot, &contract);
        let code = read_code(|k| snapshot.get(&TreeId::ROOT, k), &record.code_hash).unwrap();
        let module = engine().load(&code).unwrap();
        let reader = ContractSnapshot {
            snapshot: ledger.snapshot().unwrap(),
            tree: TreeId(contract.0),
        };
        let outcomes = lanes::run_jobs(
            &engine(),
            &module,
            &run,
            Arc::new(reader),
            lane.chain,
            |_| {},
        )
        .unwrap();
        for (job, (pre_state, mut outcome)) in run.iter().zip(outcomes) {
            answered.insert((job.id, assignment.attempt));
            if behaviour == Behaviour::Liar {
                outcome.output = encode(&1_000_000u64);
                outcome
                    .writes
                    .insert(b"count".to_vec(), Some(encode(&1_000_000u64)));
            }
            let receipt =
                lanes::expected_receipt(chain_id(), record.code_hash, pre_state, job, outcome)
                    .sign(&key(seed));
            let account = SenderKey(identity(seed)).address();
            let n = nonce.get_or_insert_with(|| ledger.next_nonce(&account).unwrap());
            out.push(tx(seed, *n, Payload::Receipt(Box::new(receipt))));
            *n += 1;
        }
    }
    out
}

fn lanes_contract(
    snapshot: &hyperchain_state::Snapshot,
    contract: &Address,
) -> hyperchain_types::ContractRecord {
    use commonware_codec::DecodeExt as _;
    let raw = snapshot
        .get(
            &TreeId::ROOT,
            &hyperchain_chain::execute::contract_key(contract),
        )
        .unwrap()
        .unwrap();
    hyperchain_types::ContractRecord::decode(bytes::Bytes::from(raw)).unwrap()
}

/// A node's registration with simulated evidence bound to the latest finalized block.
fn registration(ledger: &Ledger, seed: u64, flavour: SimFlavour) -> Registration {
    let (height, digest) = ledger.tip();
    let time_ms = ledger.block(height).unwrap().unwrap().header.timestamp_ms;
    let id = identity(seed);
    let platform = SimPlatform::from_seed(flavour, &id);
    let report_data = hyperchain_attest::NodeBinding {
        chain_id: &chain_id().0,
        identity_pk: &id,
        owner: &hyperchain_types::SenderKey(id).address().0,
        region: "eu",
    }
    .report_data(&digest.0);
    let evidence = generate_evidence(&platform, IMAGE, false, report_data, time_ms / 1000);
    Registration {
        identity_key: id,
        platform: flavour.platform().tag(),
        region: "eu".into(),
        evidence: evidence.evidence,
        endorsements: evidence.endorsements.encode().to_vec(),
        recent_block: digest,
    }
}

/// What a run ends with (compared across runs with the same seed).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    state_root: Digest,
    counter: u64,
    arbitrated: usize,
    reassigned: usize,
    auditor: String,
}

fn run(seed: u64, dir: &Path) -> Outcome {
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(1200)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let net = Testnet::new(&mut context, VALIDATORS, &good_link()).await;
        let (peers, polynomial, oracle) = (&net.peers, &net.polynomial, &net.oracle);

        let ledgers: Vec<Arc<Ledger>> = (0..VALIDATORS)
            .map(|i| {
                open_ledger_with(
                    &dir.join(format!("v{i}")),
                    polynomial.public(),
                    registry_config(),
                )
            })
            .collect();
        let mempools: Vec<Arc<Mempool>> = (0..VALIDATORS)
            .map(|_| Arc::new(Mempool::new(chain_id(), 10_000)))
            .collect();
        let mut handles: Vec<Handle<()>> = (0..VALIDATORS)
            .map(|i| {
                let scheme = net.scheme(i);
                spawn_validator(
                    &context,
                    oracle,
                    i,
                    0,
                    peers[i].clone(),
                    scheme,
                    ledgers[i].clone(),
                    mempools[i].clone(),
                )
            })
            .collect();
        let submit_all = |txs: Vec<SignedTransaction>| {
            for tx in txs {
                for mempool in &mempools {
                    let _ = mempool.submit(tx.clone(), 0);
                }
            }
        };
        let all: Vec<usize> = (0..VALIDATORS).collect();
        wait_for(&context, &ledgers, &all, 2).await;

        // Governance registers the runtime release, then the nodes register.
        let release = tx(
            GOVERNANCE,
            0,
            Payload::Govern(GovernanceAction::AddRelease {
                version: "v1".into(),
                image: IMAGE.to_vec(),
                measurements: vec![],
            }),
        );
        let release_id = release.id();
        submit_all(vec![release]);
        while ledgers[0].receipt(&release_id).unwrap().is_none() {
            context.sleep(Duration::from_millis(50)).await;
        }
        let registrations: Vec<SignedTransaction> = FLEET
            .iter()
            .map(|(seed, flavour, _)| {
                let r = registration(&ledgers[0], *seed, *flavour);
                tx(*seed, 0, Payload::Register(r))
            })
            .collect();
        let last_registration = registrations.last().unwrap().id();
        submit_all(registrations);
        while ledgers[0].receipt(&last_registration).unwrap().is_none() {
            context.sleep(Duration::from_millis(50)).await;
        }
        let members = registry::nodes(&ledgers[0].snapshot().unwrap()).unwrap();
        assert_eq!(members.len(), FLEET.len(), "every node registered");

        // The compute nodes run beside the validators, each reading validator 0's or 1's
        // finalized state and sending receipts to every mempool.
        let mut fleet_handles = Vec::new();
        for (i, (seed, _, behaviour)) in FLEET.iter().copied().enumerate() {
            let ledger = ledgers[i % 2].clone();
            let mempools = mempools.clone();
            fleet_handles.push(context.child("compute").spawn(move |ctx| async move {
                let mut nonce = None;
                let mut answered = BTreeSet::new();
                loop {
                    for tx in answer(&ledger, seed, behaviour, &mut nonce, &mut answered) {
                        for mempool in &mempools {
                            let _ = mempool.submit(tx.clone(), 0);
                        }
                    }
                    ctx.sleep(Duration::from_millis(100)).await;
                }
            }));
        }

        // The client: a cross-vendor counter and JOBS increments.
        let alice = key(42);
        let counter = counter_address(&alice, 0);
        let deploy = tx(
            42,
            0,
            Payload::Deploy {
                code: COUNTER.to_vec(),
                mode: ExecutionMode::CrossVendor,
                regions: vec!["eu".into()],
            },
        );
        let calls: Vec<SignedTransaction> = (1..=JOBS)
            .map(|i| call(&alice, i, counter, "increment", encode(&i)))
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
        let deadline = context.current() + Duration::from_secs(600);
        loop {
            let snapshot = ledgers[0].snapshot().unwrap();
            let done = jobs.iter().all(|id| {
                lanes::job(&snapshot, id)
                    .unwrap()
                    .is_some_and(|j| matches!(j.state, JobState::Done(_)))
            });
            if done {
                break;
            }
            assert!(context.current() < deadline, "jobs did not all resolve");
            context.sleep(Duration::from_millis(200)).await;
        }
        let target = ledgers[0].tip().0;
        wait_for(&context, &ledgers, &live, target).await;

        // No wrong result applied: the counter is the sum of the increments.
        let snapshot = ledgers[0].snapshot().unwrap();
        let count = snapshot
            .get(&TreeId(counter.0), b"count")
            .unwrap()
            .map(|raw| decode_all::<u64>(&raw).unwrap())
            .unwrap();
        assert_eq!(count, (1..=JOBS).sum::<u64>());

        let liar = node_id(&identity(FLEET[1].0));
        let silent = node_id(&identity(FLEET[3].0));
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

        // Every live validator finalized the same chain.
        let state_root = ledgers[0].block(target).unwrap().unwrap().header.state_root;
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
            auditor: context.auditor().state(),
        }
    })
}

#[test]
fn byzantine_compute_nodes_and_a_crashed_validator_never_change_the_result() {
    let first_dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let first = run(7, first_dir.path());
    println!("first: {first:?} in {:?}", started.elapsed());
    let second_dir = tempfile::tempdir().unwrap();
    let second = run(7, second_dir.path());
    assert_eq!(first, second, "same seed, same run");
}
