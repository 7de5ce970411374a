//! Committee execution: what a validator pays per committee job — checking the members'
//! signed receipts and applying the agreed write set — against what executing the job costs
//! (what every validator pays for the same call in replicated mode). Goal: ≤ 1 % for a 10 ms
//! job.
//!
//! Setup, deterministic and without consensus: an in-memory store whose root tree is padded
//! with [`FILLER`] keys (so root computations walk a realistic depth), a governance release,
//! one simulated Intel and one simulated AMD node in region `eu`, the `heavy` contract deployed
//! `cross-vendor ["eu"]`, a call `sha256_chain(ITERATIONS)` ordered in one block and assigned
//! by the seed of the next, and both members' honest receipts, each in a `Receipt` transaction
//! signed by the member's identity key (as the compute daemon sends them).
//!
//! - `committee/execute_job`: `lanes::run_job` of the call on the committed state.
//! - `committee/block/receipts=2/cold`: a validator executes (does not commit) the block that
//!   carries the two receipt transactions on a fresh `Base`, with a fresh `Executor` (empty
//!   signature and decoded-key caches: what a validator pays when it sees the transactions
//!   for the first time), and computes the block's state root.
//! - `committee/block/receipts=2/warm`: the same with an executor whose cache already holds the
//!   two transactions' signatures (its mempool admitted them). Receipt signatures inside the
//!   transactions are not cached and are always checked.
//! - `committee/block/empty`: the same state, no transactions: the fixed per-block cost.
//!   Per job = receipts − empty. Every measured block reveals its parent view's seed, as every
//!   block after the first must (a block without one would skip the per-block bookkeeping
//!   every real block pays).
//! - `committee/block/receipts=2/cold/sha256_chain_store`: the cold block for a job that also
//!   stores its result (one write to apply to the contract's storage tree).
//! - `committee/block/receipts=100/*` and `committee/block/empty_50_lanes`: 50 jobs on 50
//!   lanes (50 contracts) resolved by 100 receipts in one block.
//! - `committee/parts/*`: the pieces — one receipt signature check, one transaction signature
//!   check, the block's execution without its state root, the state root alone, and the batch's
//!   100 receipt signatures checked as one ed25519 batch (which block execution does not do).
//!
//! Every block iteration gets its own base (and, when cold, its own executor) built outside
//! the timed section; the executions are dropped outside it too.
//!
//! After the criterion runs, a summary re-measures the medians of the main figures and prints
//! the per-job cost and its ratio to the job's execution.

use commonware_codec::DecodeExt as _;
use commonware_cryptography::{BatchEntry, BatchVerifier as _, Signer as _, ed25519};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hyperchain_attest::AttestationPolicy;
use hyperchain_attest::sim::SimFlavour;
use hyperchain_chain::execute::{
    Base, BlockEnv, ContractSnapshot, Execution, Executor, contract_key,
};
use hyperchain_chain::lanes;
use hyperchain_chain::registry::{ComputeParams, RegistryConfig};
use hyperchain_chain::testkit::{MemoryChain, TEST_IMAGE, identity, key};
use hyperchain_state::{Store, TreeId, WriteBatch};
use hyperchain_types::{
    Address, ContractRecord, Digest, ExecutionMode, GovernanceAction, Job, JobState, Payload,
    RECEIPT_NAMESPACE, ReceiptStatus, Resolution, SignedComputeReceipt, SignedTransaction, node_id,
    sha256,
};
use hyperchain_vm::{Contract, Engine, EngineConfig, StorageReader};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rounds of SHA-256 in the job: one execution takes about 10 ms on the project's build
/// machine (measured and printed by the benchmark).
const ITERATIONS: u32 = 30_000;
/// Jobs of the batch variant (one per lane).
const BATCH_JOBS: usize = 50;
/// Keys padding the root tree (accounts, contracts, jobs of a running chain).
const FILLER: u32 = 100_000;
/// Fuel limit of the calls.
const FUEL_LIMIT: u64 = 10_000_000_000;
const GOVERNANCE: u64 = 100;
const OWNER: u64 = 1;
const CALLER: u64 = 2;
const INTEL: u64 = 1_001;
const AMD: u64 = 1_002;

fn chain_id() -> Digest {
    sha256(b"hyperchain committee bench")
}

fn registry() -> RegistryConfig {
    RegistryConfig {
        validators: vec![hyperchain_types::SenderKey::from(key(GOVERNANCE).public_key()).address()],
        genesis_policy: AttestationPolicy {
            allow_simulated: true,
            ..AttestationPolicy::default()
        },
        execution_modes: vec![ExecutionMode::Replicated, ExecutionMode::CrossVendor],
        compute: ComputeParams::default(),
        // The default fee schedule: calls escrow their committee's pay, receipts are paid
        // from it, jobs settle when they resolve.
        fees: hyperchain_chain::fees::FeeSchedule::default(),
        ..RegistryConfig::default()
    }
}

/// What a validator starts from when it sees a block: no cached signatures or keys.
fn cold_executor(engine: &Engine) -> Executor {
    Executor::new(engine.clone(), chain_id()).with_registry(registry())
}

/// The in-memory chain of the lane tests, over a root tree padded with `FILLER` keys.
struct Chain {
    engine: Engine,
    chain: MemoryChain,
}

impl std::ops::Deref for Chain {
    type Target = MemoryChain;
    fn deref(&self) -> &MemoryChain {
        &self.chain
    }
}

impl std::ops::DerefMut for Chain {
    fn deref_mut(&mut self) -> &mut MemoryChain {
        &mut self.chain
    }
}

impl Chain {
    fn new(engine: &Engine) -> Chain {
        let store = Store::in_memory().unwrap();
        let mut filler = WriteBatch::new();
        for i in 0..FILLER {
            let k = [b"bench/filler/".as_slice(), &i.to_be_bytes()].concat();
            filler.put(TreeId::ROOT, k, sha256(&i.to_be_bytes()).0.to_vec());
        }
        // The accounts that send transactions are funded at genesis.
        let genesis = hyperchain_chain::genesis::Genesis {
            chain_id: chain_id(),
            timestamp_ms: 0,
            allocations: [GOVERNANCE, OWNER, CALLER, INTEL, AMD]
                .into_iter()
                .map(|seed| {
                    (
                        hyperchain_types::account_address(&key(seed).public_key()),
                        1_000_000 * hyperchain_chain::fees::UNIT,
                    )
                })
                .collect(),
            validators: Default::default(),
            reshare: None,
        };
        for (tree, writes) in genesis.writes().trees() {
            for (k, v) in writes {
                filler.set(*tree, k.clone(), v.clone());
            }
        }
        store.commit(&filler, 0).unwrap();
        let mut chain = Chain {
            engine: engine.clone(),
            chain: MemoryChain::on(store, chain_id(), cold_executor(engine)),
        };
        chain.chain.fee = hyperchain_types::Fee::limit(100 * hyperchain_chain::fees::UNIT as u64);
        let release = chain.tx(
            GOVERNANCE,
            Payload::Propose(GovernanceAction::AddRelease {
                version: "v1".into(),
                image: TEST_IMAGE.to_vec(),
                measurements: vec![],
            }),
        );
        assert_eq!(
            chain.run(vec![release], true),
            vec![ReceiptStatus::Accepted]
        );
        chain
    }

    /// The committed state.
    fn job(&self, id: &Digest) -> Job {
        lanes::job(&*self.base(), id).unwrap().unwrap()
    }

    fn record(&self, contract: &Address) -> ContractRecord {
        let raw = self
            .store
            .get(&TreeId::ROOT, &contract_key(contract))
            .unwrap()
            .unwrap();
        ContractRecord::decode(bytes::Bytes::from(raw)).unwrap()
    }

    fn reader(&self, contract: &Address) -> Arc<dyn StorageReader> {
        Arc::new(ContractSnapshot {
            snapshot: self.store.snapshot().unwrap(),
            tree: TreeId(contract.0),
        })
    }
}

/// `jobs` calls of `method(ITERATIONS)` on as many `heavy` lanes, assigned to the Intel + AMD
/// committee, and the block of receipts that resolves them all.
struct Scenario {
    chain: Chain,
    /// The receipt transactions (two per job: Intel's, then AMD's).
    receipts: Vec<SignedTransaction>,
    /// The environment of the block that carries them.
    env: BlockEnv,
    /// The first job, its contract and its compiled code (for `run_job`).
    job: Job,
    contract: Arc<Contract>,
}

impl Scenario {
    fn new(engine: &Engine, jobs: usize, method: &str) -> Scenario {
        let mut chain = Chain::new(engine);
        chain.register(INTEL, SimFlavour::Intel, "eu");
        chain.register(AMD, SimFlavour::Amd, "eu");
        let deploys = (0..jobs)
            .map(|_| {
                chain.tx(
                    OWNER,
                    Payload::Deploy {
                        code: hyperchain_contracts::HEAVY.to_vec(),
                        mode: ExecutionMode::CrossVendor,
                        regions: vec!["eu".into()],
                    },
                )
            })
            .collect();
        let contracts: Vec<Address> = chain
            .run(deploys, false)
            .into_iter()
            .map(|s| match s {
                ReceiptStatus::Deployed { address, .. } => address,
                other => panic!("deploy failed: {other:?}"),
            })
            .collect();
        let input = hyperchain_sdk::encode(&ITERATIONS);
        let calls = contracts
            .iter()
            .map(|contract| {
                chain.tx(
                    CALLER,
                    Payload::Call {
                        contract: *contract,
                        method: method.into(),
                        input: input.clone(),
                        fuel_limit: FUEL_LIMIT,
                    },
                )
            })
            .collect();
        let ids: Vec<Digest> = chain
            .run(calls, false)
            .into_iter()
            .map(|s| match s {
                ReceiptStatus::Queued { job, .. } => job,
                other => panic!("expected a queued job, got {other:?}"),
            })
            .collect();
        // The next block reveals a seed nobody knew when the calls were ordered.
        chain.run(vec![], true);

        let members: HashMap<Digest, u64> = [INTEL, AMD]
            .into_iter()
            .map(|seed| (node_id(&identity(seed)), seed))
            .collect();
        let mut receipts = Vec::new();
        let mut first = None;
        for id in &ids {
            let job = chain.job(id);
            assert_eq!(job.state, JobState::Assigned);
            let record = chain.record(&job.contract);
            let contract = engine.load(hyperchain_contracts::HEAVY).unwrap();
            let lane = lanes::lane(&*chain.base(), &job.contract).unwrap().unwrap();
            // Both members compute the same outcome; run it once.
            let outcome =
                lanes::run_job(engine, &contract, &job, chain.reader(&job.contract)).unwrap();
            assert!(outcome.status.is_ok(), "{}", outcome.status);
            let receipt =
                lanes::expected_receipt(chain_id(), record.code_hash, lane.state, &job, outcome);
            for member in &job.assignment.as_ref().unwrap().committee {
                let seed = members[&member.id];
                let signed = receipt.clone().sign(&key(seed));
                receipts.push(chain.tx(seed, Payload::Receipt(Box::new(signed))));
            }
            first.get_or_insert((job, contract));
        }
        assert_eq!(receipts.len(), 2 * jobs);
        let (job, contract) = first.unwrap();
        let scenario = Scenario {
            // Like every block after the first, it reveals its parent view's seed.
            env: chain.next_env(1_000, true),
            chain,
            receipts,
            job,
            contract,
        };
        scenario.check(&ids);
        scenario
    }

    /// Executes the receipts block once and checks every job resolved by agreement.
    fn check(&self, ids: &[Digest]) {
        let base = self.chain.base();
        let execution = self.validate(&cold_executor(&self.chain.engine), &base, true);
        assert!(execution.invalid.is_empty(), "{:?}", execution.invalid);
        assert!(
            execution
                .receipts
                .iter()
                .all(|r| r.status == ReceiptStatus::Accepted && r.fuel_used == 0),
            "{:?}",
            execution.receipts
        );
        let after = Base::new(
            self.chain.store.snapshot().unwrap(),
            Arc::new(execution.batch),
        );
        for id in ids {
            let job = lanes::job(&after, id).unwrap().unwrap();
            match job.state {
                JobState::Done(result) => assert_eq!(result.resolution, Resolution::Agreed),
                other => panic!("job not resolved: {other:?}"),
            }
        }
    }

    /// What a validator does with the block: execute it, then compute its state root.
    fn validate(&self, executor: &Executor, base: &Arc<Base>, receipts: bool) -> Execution {
        let txs: &[SignedTransaction] = if receipts { &self.receipts } else { &[] };
        let execution = executor.execute(base, self.env, txs).unwrap();
        black_box(base.state_root(&execution.batch).unwrap());
        execution
    }

    /// An executor whose signature cache holds the receipt transactions' signatures.
    fn warm_executor(&self) -> Executor {
        let executor = cold_executor(&self.chain.engine);
        self.validate(&executor, &self.chain.base(), true);
        executor
    }

    fn run_job(&self) -> hyperchain_types::CallOutcome {
        lanes::run_job(
            &self.chain.engine,
            &self.contract,
            &self.job,
            self.chain.reader(&self.job.contract),
        )
        .unwrap()
    }
}

fn group(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("committee");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g
}

/// Criterion benchmarks of a block on `s`'s state, `label`ling the receipts variants.
fn bench_blocks(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    s: &Scenario,
    empty_label: &str,
) {
    let n = s.receipts.len();
    g.bench_function(format!("block/receipts={n}/cold"), |b| {
        b.iter_batched(
            || (cold_executor(&s.chain.engine), s.chain.base()),
            |(executor, base)| s.validate(&executor, &base, true),
            BatchSize::PerIteration,
        )
    });
    let warm = s.warm_executor();
    g.bench_function(format!("block/receipts={n}/warm"), |b| {
        b.iter_batched(
            || s.chain.base(),
            |base| s.validate(&warm, &base, true),
            BatchSize::PerIteration,
        )
    });
    g.bench_function(format!("block/{empty_label}"), |b| {
        b.iter_batched(
            || (cold_executor(&s.chain.engine), s.chain.base()),
            |(executor, base)| s.validate(&executor, &base, false),
            BatchSize::PerIteration,
        )
    });
}

fn bench(c: &mut Criterion) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let single = Scenario::new(&engine, 1, "sha256_chain");
    let mut g = group(c);
    g.bench_function("execute_job", |b| b.iter(|| black_box(single.run_job())));
    bench_blocks(&mut g, &single, "empty");

    parts(&mut g, &single);
    let signed = receipts_of(&single)[0].clone();
    let tx = single.receipts[0].clone();
    g.bench_function("parts/receipt_signature", |b| {
        b.iter(|| assert!(black_box(&signed).verify_signature()))
    });
    g.bench_function("parts/tx_signature", |b| {
        b.iter(|| assert!(black_box(&tx).verify_signature()))
    });

    // A job that writes its result (one storage write to apply and commit).
    let store = Scenario::new(&engine, 1, "sha256_chain_store");
    g.bench_function("block/receipts=2/cold/sha256_chain_store", |b| {
        b.iter_batched(
            || (cold_executor(&engine), store.chain.base()),
            |(executor, base)| store.validate(&executor, &base, true),
            BatchSize::PerIteration,
        )
    });

    let batch = Scenario::new(&engine, BATCH_JOBS, "sha256_chain");
    bench_blocks(&mut g, &batch, &format!("empty_{BATCH_JOBS}_lanes"));
    parts(&mut g, &batch);
    // What the batch's receipt signatures would cost checked as one batch with their keys
    // already decoded, the way transaction signatures are checked.
    let receipts = receipts_of(&batch);
    let keys: Vec<ed25519::PublicKey> = receipts
        .iter()
        .map(|r| {
            hyperchain_types::SenderKey(r.node_key)
                .public_key()
                .unwrap()
        })
        .collect();
    let messages: Vec<Vec<u8>> = receipts
        .iter()
        .map(|r| r.receipt.digest().0.to_vec())
        .collect();
    let items: Vec<usize> = (0..receipts.len()).collect();
    g.bench_function(
        format!("parts/receipt_signatures_batched/{}", receipts.len()),
        |b| {
            b.iter(|| {
                assert!(ed25519::PublicKey::verify_batch(
                    &mut commonware_utils::sys_rng(),
                    &items,
                    |_, &i| BatchEntry {
                        public_key: &keys[i],
                        namespace: RECEIPT_NAMESPACE,
                        message: &messages[i],
                        signature: &receipts[i].signature,
                    },
                    &commonware_parallel::Sequential,
                ))
            })
        },
    );
    g.finish();

    summary(&engine, &single, &store, &batch);
}

/// The signed receipts `s`'s block carries.
fn receipts_of(s: &Scenario) -> Vec<SignedComputeReceipt> {
    s.receipts
        .iter()
        .map(|tx| match &tx.tx.payload {
            Payload::Receipt(r) => (**r).clone(),
            other => panic!("not a receipt: {other:?}"),
        })
        .collect()
}

/// The receipts block of `s` in pieces: its execution alone (cold), and the state root of its
/// writes and of the empty block's.
fn parts(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, s: &Scenario) {
    let n = s.receipts.len();
    g.bench_function(format!("parts/execute_only/receipts={n}/cold"), |b| {
        b.iter_batched(
            || (cold_executor(&s.chain.engine), s.chain.base()),
            |(executor, base)| executor.execute(&base, s.env, &s.receipts).unwrap(),
            BatchSize::PerIteration,
        )
    });
    for (label, txs) in [
        (format!("receipts={n}"), &s.receipts[..]),
        ("empty".into(), &[]),
    ] {
        let base = s.chain.base();
        let batch = cold_executor(&s.chain.engine)
            .execute(&base, s.env, txs)
            .unwrap()
            .batch;
        let lanes = s.receipts.len() / 2;
        g.bench_function(format!("parts/state_root/{label}/lanes={lanes}"), |b| {
            b.iter(|| base.state_root(black_box(&batch)).unwrap())
        });
    }
}

/// Median wall time of `runs` runs of `f` (each after its untimed `setup`).
fn median<T, R>(runs: usize, mut setup: impl FnMut() -> T, mut f: impl FnMut(T) -> R) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            black_box(f(input));
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// Re-measures the medians of the main figures and prints the per-job cost and the ratio.
fn summary(engine: &Engine, single: &Scenario, store: &Scenario, batch: &Scenario) {
    const RUNS: usize = 41;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let execute = median(RUNS, || (), |_| single.run_job());
    let block = |s: &Scenario, receipts: bool| {
        us(median(
            RUNS,
            || (cold_executor(engine), s.chain.base()),
            |(executor, base)| s.validate(&executor, &base, receipts),
        ))
    };
    let warm_block = |s: &Scenario| {
        let executor = s.warm_executor();
        us(median(
            RUNS,
            || s.chain.base(),
            |base| s.validate(&executor, &base, true),
        ))
    };
    let fuel = single.run_job().fuel_used;
    println!();
    println!(
        "committee summary: sha256_chain({ITERATIONS}) executes in {:.2} ms ({fuel} fuel)",
        us(execute) / 1e3
    );
    let rows = [
        ("1 job, cold", 1, block(single, true), block(single, false)),
        ("1 job, warm", 1, warm_block(single), block(single, false)),
        (
            "1 job storing its result, cold",
            1,
            block(store, true),
            block(store, false),
        ),
        (
            "50 jobs, cold",
            BATCH_JOBS,
            block(batch, true),
            block(batch, false),
        ),
        (
            "50 jobs, warm",
            BATCH_JOBS,
            warm_block(batch),
            block(batch, false),
        ),
    ];
    for (label, jobs, full, empty) in rows {
        let per_job = (full - empty) / jobs as f64;
        println!(
            "  {label}: receipts block {full:.1} µs, empty block {empty:.1} µs, per job {per_job:.1} µs = {:.3} % of executing the job",
            100.0 * per_job / us(execute)
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
