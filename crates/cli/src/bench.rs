//! `hyperchain bench`: finalized light-transaction throughput and finality latency of a fresh
//! local devnet (the validator processes of `hyperchain devnet`, without the demo); with
//! `--workload`, `--mode` or `--compare`, finalized job throughput per execution mode
//! (`jobbench.rs`).
//!
//! Deploys the `counter` example, pre-signs `--txs` `increment(1)` calls from `--accounts`
//! generated accounts (consecutive nonces per account, signed before the clock starts),
//! submits them concurrently to every validator's RPC in `POST /txs` batches of `--batch`,
//! and follows finalized blocks on
//! validator 0 to time each transaction from its submission to its block being observed
//! finalized. Each account's transactions all go to one validator (accounts are spread
//! round-robin over the validators), which gossips them to the others, so any leader can
//! include them and they arrive at every validator in nonce order.

use crate::devnet::{Events, create_network, start_network};
use crate::genesis::DEFAULT_BASE_PORT;
use crate::remote::{rpc_error, submit, wait_receipt};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use hyperchain_chain::fees::{UNIT, format_amount};
use hyperchain_chain::genesis::AccountKey;
use hyperchain_rpc::Client;
use hyperchain_rpc::api::{QueryRequest, ReceiptOutcome};
use hyperchain_sdk::{Decode as _, encode};
use hyperchain_types::{Address, Digest, ExecutionMode, Payload, SignedTransaction, Transaction};
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Fuel limit of each `increment` call: generous (an increment uses a few thousand units),
/// and small enough that a block with little fuel left can still take one.
const INCREMENT_FUEL: u64 = 10_000_000;
/// Concurrent submissions per validator.
const IN_FLIGHT: usize = 16;
/// How long to wait for the first block, the deploy, or any progress of finalization.
const WAIT: Duration = Duration::from_secs(60);
/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Number of validators. With --compare, a comma-separated list runs the comparison
    /// once per network size (e.g. `--validators 4,7`).
    #[arg(long, default_value = "4", value_delimiter = ',')]
    validators: Vec<usize>,
    /// Number of `increment(1)` transactions.
    #[arg(long, default_value_t = 2000)]
    txs: usize,
    /// Number of sending accounts.
    #[arg(long, default_value_t = 50)]
    accounts: usize,
    /// Transactions per `POST /txs` request (1 sends each alone; at most 2000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=2000))]
    batch: u16,
    /// Offered load in transactions per second (open loop: batches leave on schedule whether
    /// or not earlier ones are finalized). Default: everything as fast as the nodes accept
    /// it, which measures peak throughput; latency then mostly measures queueing.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rate: Option<u32>,
    /// Directory of the devnet (must not hold one yet); default: a temporary directory,
    /// removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// First port (p2p ports, then RPC ports).
    #[arg(long, default_value_t = DEFAULT_BASE_PORT)]
    base_port: u16,
    /// Print the result as one JSON object on stdout (progress as JSON lines on stderr).
    #[arg(long)]
    json: bool,
    /// Measure jobs instead of light transactions: `heavy[:ITERATIONS]` (`sha256_chain`,
    /// default 30000 ≈ 10 ms) or `light` (`increment`), executed in --mode.
    #[arg(long)]
    workload: Option<crate::jobbench::Workload>,
    /// Who executes the calls: replicated, single, committee(K), cross-vendor.
    #[arg(long, default_value = "replicated")]
    mode: ExecutionMode,
    /// Regions of the compute fleet (TEE modes; cross-vendor contracts require all).
    #[arg(long, default_value_t = 1)]
    regions: usize,
    /// Simulated Intel nodes and AMD nodes per region (TEE modes).
    #[arg(long, default_value_t = 1)]
    compute_per_region: usize,
    /// Number of calls (jobs) of the job workload.
    #[arg(long, default_value_t = 200)]
    jobs: usize,
    /// Contracts the jobs are spread over (each TEE contract is a lane; lanes run in parallel).
    #[arg(long, default_value_t = 100)]
    lanes: usize,
    /// Jobs of one lane a compute committee is given at once (`policy.compute.pipeline_depth`
    /// of the bench network; 1 turns pipelining off).
    #[arg(long, default_value_t = crate::genesis::DEFAULT_PIPELINE_DEPTH)]
    pipeline_depth: u32,
    /// Run the job workload in every mode (replicated, single, committee(2), cross-vendor),
    /// one after the other on fresh networks, and report each and the ratio of cross-vendor
    /// to replicated throughput (`ratio` in the JSON).
    #[arg(long)]
    compare: bool,
    /// With --compare, also write a bar chart of jobs/s per mode (and network size) as SVG.
    #[arg(long, requires = "compare")]
    svg: Option<PathBuf>,
    /// Job workloads: run every mode this many rounds (each round runs the modes one after
    /// the other, so slow spells of the machine hit them alike) and report each mode's median
    /// run, every round's jobs/s (`repeat_jobs_per_s`) and, with --compare, the median of the
    /// rounds' cross-vendor / replicated ratios (`ratio`; each round's in `ratios`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    repeat: u32,
}

/// A run's finalized jobs per second.
fn jobs_per_s(report: &serde_json::Value) -> f64 {
    report["jobs_per_s"].as_f64().unwrap_or_default()
}

/// The median of `values` (the lower middle one of an even count); 0 when empty.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// The run with the median throughput among `runs` of one mode, with every run's jobs/s
/// added as `repeat_jobs_per_s` when there are several.
fn median_run(runs: &[serde_json::Value]) -> serde_json::Value {
    let rates: Vec<f64> = runs.iter().map(jobs_per_s).collect();
    let middle = median(&rates);
    let mut chosen = runs
        .iter()
        .find(|r| jobs_per_s(r) == middle)
        .cloned()
        .unwrap_or_default();
    if runs.len() > 1 {
        chosen["repeat_jobs_per_s"] = json!(rates);
    }
    chosen
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.validators.is_empty() {
        bail!("--validators needs a number");
    }
    if args.validators.len() > 1 && !args.compare {
        bail!("several --validators values need --compare");
    }
    if args.workload.is_some() || args.compare || args.mode != ExecutionMode::Replicated {
        return run_jobs(args);
    }
    if args.txs == 0 || args.accounts == 0 {
        bail!("--txs and --accounts must be at least 1");
    }
    let events = Events {
        json: args.json,
        stderr: args.json,
    };
    let (dir, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            let dir = std::env::temp_dir()
                .join(format!("hyperchain-bench-{}-{nanos}", std::process::id()));
            (dir, true)
        }
    };
    let outcome = (|| -> Result<serde_json::Value> {
        let configs = create_network(
            &dir,
            args.validators[0],
            "bench",
            args.base_port,
            args.pipeline_depth,
            events,
        )?;
        let mut running = start_network(&dir, &configs, events)?;
        let rpcs = running.rpcs.clone();
        let faucet = crate::remote::faucet_key(&dir)?;
        let result = crate::remote::runtime()?.block_on(measure(&args, &rpcs, &faucet, events));
        let alive = running.check_alive();
        running.stop();
        let report = result?;
        alive?;
        Ok(report)
    })();
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = outcome?;
    if args.json {
        println!("{report}");
    } else {
        print_report(&report);
    }
    Ok(())
}

/// A fresh directory for one network (removed afterwards unless --dir was given).
fn bench_dir(args: &BenchArgs, suffix: &str) -> (PathBuf, bool) {
    match &args.dir {
        Some(dir) => (dir.join(suffix), false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            let dir = std::env::temp_dir().join(format!(
                "hyperchain-bench-{}-{nanos}-{suffix}",
                std::process::id()
            ));
            (dir, true)
        }
    }
}

/// `--workload`, `--mode` or `--compare`: finalized job throughput.
fn run_jobs(args: BenchArgs) -> Result<()> {
    use crate::jobbench::{JobBench, Workload, print_report as print_jobs, run_one};
    let events = Events {
        json: args.json,
        stderr: args.json,
    };
    let modes = if args.compare {
        vec![
            ExecutionMode::Replicated,
            ExecutionMode::Single,
            ExecutionMode::Committee(2),
            ExecutionMode::CrossVendor,
        ]
    } else {
        vec![args.mode]
    };
    const KEYS: [&str; 4] = ["replicated", "single", "committee", "cross_vendor"];
    let mut outs = Vec::new();
    for &validators in &args.validators {
        let bench = JobBench {
            mode: args.mode,
            validators,
            regions: args.regions,
            compute_per_region: args.compute_per_region,
            workload: args
                .workload
                .unwrap_or(Workload::Heavy(crate::jobbench::DEFAULT_HEAVY)),
            jobs: args.jobs,
            lanes: args.lanes,
            pipeline_depth: args.pipeline_depth,
            base_port: args.base_port,
        };
        // runs[mode][round]
        let rounds = args.repeat.max(1);
        let mut runs: Vec<Vec<serde_json::Value>> = vec![Vec::new(); modes.len()];
        for round in 1..=rounds {
            for (i, &mode) in modes.iter().enumerate() {
                let run = JobBench {
                    mode,
                    ..bench.clone()
                };
                events.emit(
                    json!({"event": "run", "mode": mode.to_string(), "workload": run.workload.name(),
                           "jobs": run.jobs, "validators": run.validators,
                           "round": round, "rounds": rounds}),
                    || {
                        let of = if rounds > 1 {
                            format!(" (round {round} of {rounds})")
                        } else {
                            String::new()
                        };
                        format!(
                            "— {mode}: {} jobs of {} on {validators} validators{of}",
                            run.jobs,
                            run.workload.name()
                        )
                    },
                );
                let (dir, temporary) = bench_dir(&args, &mode.to_string().replace(['(', ')'], "-"));
                let report = run_one(&run, &dir, events);
                if temporary {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                runs[i].push(report?);
            }
        }
        let reports: Vec<serde_json::Value> = runs.iter().map(|r| median_run(r)).collect();
        let out = if args.compare {
            // Each round's ratio compares runs made under the same conditions; report their
            // median.
            let ratios: Vec<f64> = runs[0]
                .iter()
                .zip(&runs[3])
                .map(|(replicated, cross)| {
                    if jobs_per_s(replicated) > 0.0 {
                        jobs_per_s(cross) / jobs_per_s(replicated)
                    } else {
                        0.0
                    }
                })
                .collect();
            let mut out = serde_json::Map::new();
            out.insert("validators".into(), json!(validators));
            for (key, report) in KEYS.iter().zip(&reports) {
                out.insert(key.to_string(), report.clone());
            }
            out.insert("ratio".into(), json!(median(&ratios)));
            if ratios.len() > 1 {
                out.insert("ratios".into(), json!(ratios));
            }
            serde_json::Value::Object(out)
        } else {
            reports[0].clone()
        };
        outs.push(out);
    }
    if let Some(path) = &args.svg {
        let categories: Vec<String> = outs
            .iter()
            .map(|o| format!("{} validators", o["validators"]))
            .collect();
        let series: Vec<(String, Vec<f64>)> = KEYS
            .iter()
            .zip(["replicated", "single TEE", "committee(2)", "cross-vendor"])
            .map(|(key, name)| {
                let values = outs
                    .iter()
                    .map(|o| o[key]["jobs_per_s"].as_f64().unwrap_or_default())
                    .collect();
                (name.to_string(), values)
            })
            .collect();
        let title = if args.repeat > 1 {
            format!(
                "{} heavy jobs, median of {} rounds: finalized jobs/s per mode",
                args.jobs, args.repeat
            )
        } else {
            format!(
                "{} heavy jobs on this machine: finalized jobs/s by execution mode",
                args.jobs
            )
        };
        std::fs::write(
            path,
            crate::plot::bar_chart(&title, "jobs per second", &categories, &series),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        events.emit(json!({"event": "svg", "path": path}), || {
            format!("wrote {}", path.display())
        });
    }
    if args.json {
        // One network size: the comparison itself; several: a list of them.
        if outs.len() == 1 {
            println!("{}", outs[0]);
        } else {
            println!("{}", serde_json::Value::Array(outs));
        }
    } else {
        for out in &outs {
            if args.compare {
                println!("== {} validators", out["validators"]);
                for key in KEYS {
                    print_jobs(&out[key]);
                }
                let each = out["ratios"]
                    .as_array()
                    .map(|all| {
                        let list: Vec<String> = all
                            .iter()
                            .map(|r| format!("{:.2}×", r.as_f64().unwrap_or_default()))
                            .collect();
                        format!(" (median of {} rounds: {})", all.len(), list.join(", "))
                    })
                    .unwrap_or_default();
                println!(
                    "cross-vendor / replicated throughput: {:.2}×{each}",
                    out["ratio"].as_f64().unwrap_or_default()
                );
            } else {
                print_jobs(out);
            }
        }
    }
    Ok(())
}

fn print_report(r: &serde_json::Value) {
    println!(
        "transactions: {} submitted, {} finalized, {} rejected",
        r["submitted"], r["finalized"], r["rejected"]
    );
    println!("counter after the run: {}", r["counter"]);
    println!(
        "wall time (first submit → last finalized): {:.3} s",
        r["wall_s"].as_f64().unwrap_or_default()
    );
    println!(
        "finalized light-tx throughput: {:.0} tx/s",
        r["tx_per_s"].as_f64().unwrap_or_default()
    );
    let l = &r["latency_ms"];
    println!(
        "finality latency (submit → observed finalized): p50 {} ms, p99 {} ms, max {} ms",
        l["p50"], l["p99"], l["max"]
    );
    println!(
        "blocks: {} (avg {:.1} txs/block, max {})",
        r["blocks"],
        r["avg_txs_per_block"].as_f64().unwrap_or_default(),
        r["max_txs_per_block"]
    );
}

/// Submissions and finalizations so far.
#[derive(Default)]
struct Progress {
    submit_at: Mutex<HashMap<Digest, Instant>>,
    submitted: AtomicUsize,
    rejected: Mutex<Vec<String>>,
    done_submitting: AtomicBool,
    /// Batches handed out so far (paces the submissions under `--rate`).
    batches: AtomicUsize,
}

async fn measure(
    args: &BenchArgs,
    rpcs: &[String],
    faucet: &AccountKey,
    events: Events,
) -> Result<serde_json::Value> {
    let clients = crate::remote::clients(rpcs)?;
    let follow = &clients[0];
    let url = follow.base_url().to_owned();
    wait_for_blocks(follow).await?;
    let status = follow.status().await.map_err(|e| rpc_error(&url, e))?;
    let schedule = follow
        .fees()
        .await
        .map_err(|e| rpc_error(&url, e))?
        .schedule;

    // The accounts, funded from the faucet before the clock starts.
    let deployer = AccountKey::generate(commonware_utils::sys_rng());
    let accounts: Vec<AccountKey> = (0..args.accounts)
        .map(|_| AccountKey::generate(commonware_utils::sys_rng()))
        .collect();
    let input = encode(&1u64);
    let call = |key: &AccountKey, nonce: u64, counter: Address| {
        let mut tx = Transaction {
            chain_id: status.chain_id,
            sender: commonware_cryptography::Signer::public_key(&key.0).into(),
            nonce,
            fee: hyperchain_types::Fee::NONE,
            payload: Payload::Call {
                contract: counter,
                method: "increment".into(),
                input: input.clone(),
                fuel_limit: INCREMENT_FUEL,
            },
        };
        tx.fee = hyperchain_types::Fee::limit(schedule.required_unsigned(&tx));
        tx.sign(&key.0)
    };
    let per_call = call(&deployer, 0, Address::ZERO).tx.fee.max_total();
    let per_account = per_call * args.txs.div_ceil(args.accounts) as u128;
    let mut grants: Vec<(Address, u128)> = vec![(deployer.address(), 1_000 * UNIT)];
    grants.extend(accounts.iter().map(|a| (a.address(), per_account)));
    let funded = crate::remote::fund_all(&clients, faucet, &grants).await?;
    events.emit(
        json!({"event": "funded", "accounts": funded, "per_account": per_account.to_string()}),
        || {
            format!(
                "funded {funded} accounts from the faucet ({} each for their calls)",
                format_amount(per_account)
            )
        },
    );

    // Deploy the counter.
    let code = hyperchain_contracts::by_name("counter")
        .ok_or_else(|| anyhow!("no example `counter`"))?
        .to_vec();
    let payload = Payload::Deploy {
        code,
        mode: ExecutionMode::Replicated,
        regions: Vec::new(),
    };
    let id = submit(follow, &deployer, payload, None).await?;
    let counter = match wait_receipt(follow, &id, WAIT).await?.outcome {
        ReceiptOutcome::Deployed { address, .. } => address,
        other => bail!("deploying counter failed: {other:?}"),
    };
    events.emit(
        json!({"event": "deployed", "contract": "counter", "address": counter}),
        || format!("deployed counter at 0x{counter}"),
    );

    // Sign everything before the clock starts; account a sends through validator a % n.
    let mut queues: Vec<VecDeque<SignedTransaction>> = vec![VecDeque::new(); clients.len()];
    let mut nonces = vec![0u64; accounts.len()];
    for i in 0..args.txs {
        let a = i % accounts.len();
        let tx = call(&accounts[a], nonces[a], counter);
        nonces[a] += 1;
        queues[a % clients.len()].push_back(tx);
    }
    let ids: Arc<HashSet<Digest>> = Arc::new(queues.iter().flatten().map(|t| t.id()).collect());
    events.emit(
        json!({"event": "signed", "txs": args.txs, "accounts": args.accounts}),
        || {
            format!(
                "signed {} increment(1) transactions from {} accounts; submitting to {} validators",
                args.txs,
                args.accounts,
                clients.len()
            )
        },
    );

    let progress = Arc::new(Progress::default());
    let start_height = follow
        .status()
        .await
        .map_err(|e| rpc_error(&url, e))?
        .height;
    let started = Instant::now();

    // Submitters: IN_FLIGHT workers per validator, started round-robin over validators.
    let queues: Vec<Arc<Mutex<VecDeque<SignedTransaction>>>> = queues
        .into_iter()
        .map(|q| Arc::new(Mutex::new(q)))
        .collect();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        for (client, queue) in clients.iter().zip(&queues) {
            let (client, queue, progress) = (client.clone(), queue.clone(), progress.clone());
            let batch_size = usize::from(args.batch);
            let rate = args.rate;
            workers.spawn(async move {
                loop {
                    let batch: Vec<SignedTransaction> = {
                        let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
                        let n = queue.len().min(batch_size);
                        queue.drain(..n).collect()
                    };
                    if batch.is_empty() {
                        break;
                    }
                    if let Some(rate) = rate {
                        // Open loop: batch k leaves at k·batch/rate seconds after the start.
                        let k = progress.batches.fetch_add(1, Ordering::Relaxed);
                        let due = started
                            + Duration::from_secs_f64((k * batch_size) as f64 / f64::from(rate));
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let ids: Vec<Digest> = batch.iter().map(|tx| tx.id()).collect();
                    let now = Instant::now();
                    progress
                        .submit_at
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(ids.iter().map(|id| (*id, now)));
                    let url = client.base_url().to_owned();
                    let verdicts = match client.submit_batch(&batch).await {
                        Ok(verdicts) => verdicts,
                        Err(e) => {
                            let reason = format!("{:#}", rpc_error(&url, e));
                            vec![Err(reason); batch.len()]
                        }
                    };
                    for (id, verdict) in ids.iter().zip(verdicts) {
                        match verdict {
                            Ok(_) => {
                                progress.submitted.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(reason) => {
                                progress
                                    .submit_at
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .remove(id);
                                progress
                                    .rejected
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .push(format!("{url}: {reason}"));
                            }
                        }
                    }
                }
            });
        }
    }
    let submitters = {
        let progress = progress.clone();
        async move {
            while workers.join_next().await.is_some() {}
            progress.done_submitting.store(true, Ordering::Relaxed);
        }
    };

    // Follower: finalized blocks on validator 0.
    let finalized_at: Arc<Mutex<HashMap<Digest, Instant>>> = Arc::default();
    let follower = {
        let (progress, finalized_at, ids) = (progress.clone(), finalized_at.clone(), ids.clone());
        async move {
            let mut next = start_height + 1;
            // (height, bench txs) of blocks with bench transactions.
            let mut blocks: Vec<(u64, usize)> = Vec::new();
            let mut last_progress = Instant::now();
            loop {
                let resp = follow
                    .subscribe(next, Duration::from_secs(2))
                    .await
                    .map_err(|e| rpc_error(follow.base_url(), e))?;
                let now = Instant::now();
                for block in &resp.blocks {
                    let mut finalized = finalized_at.lock().unwrap_or_else(|e| e.into_inner());
                    let mut ours = 0;
                    for id in block.txs.iter().filter(|id| ids.contains(id)) {
                        finalized.entry(*id).or_insert(now);
                        ours += 1;
                    }
                    if ours > 0 {
                        blocks.push((block.height, ours));
                        last_progress = now;
                    }
                    next = block.height + 1;
                }
                let done = progress.done_submitting.load(Ordering::Relaxed);
                let finalized = finalized_at.lock().unwrap_or_else(|e| e.into_inner()).len();
                if done && finalized >= progress.submitted.load(Ordering::Relaxed) {
                    return Ok::<_, anyhow::Error>(blocks);
                }
                if last_progress.elapsed() > WAIT {
                    bail!(
                        "no bench transaction finalized for {WAIT:?} ({finalized} of {} finalized)",
                        progress.submitted.load(Ordering::Relaxed)
                    );
                }
            }
        }
    };

    let total = args.txs;
    let reporter = {
        let (progress, finalized_at) = (progress.clone(), finalized_at.clone());
        async move {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let submitted = progress.submitted.load(Ordering::Relaxed);
                let finalized = finalized_at.lock().unwrap_or_else(|e| e.into_inner()).len();
                let elapsed = started.elapsed().as_secs_f64();
                events.emit(
                    json!({"event": "progress", "elapsed_s": elapsed, "submitted": submitted,
                           "finalized": finalized, "txs": total}),
                    || {
                        format!(
                            "[{elapsed:>6.1}s] submitted {submitted}/{total}  finalized {finalized}/{total}"
                        )
                    },
                );
            }
        }
    };

    let blocks = tokio::select! {
        (_, blocks) = async { tokio::join!(submitters, follower) } => blocks?,
        _ = reporter => unreachable!("the reporter never returns"),
    };

    // Every increment(1) that succeeded shows in the counter.
    let q = follow
        .query(&QueryRequest::new(counter, "get", Vec::new()))
        .await
        .map_err(|e| rpc_error(&url, e))?;
    let counter_value = u64::decode(&mut q.output.0.as_slice()).map_err(|e| anyhow!("{e}"))?;
    let submit_at = progress.submit_at.lock().unwrap_or_else(|e| e.into_inner());
    let finalized_at = finalized_at.lock().unwrap_or_else(|e| e.into_inner());
    let rejected = progress.rejected.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(first) = rejected.first() {
        events.emit(
            json!({"event": "rejected", "count": rejected.len(), "first": first}),
            || format!("{} transactions rejected; first: {first}", rejected.len()),
        );
    }
    let first_submit = submit_at.values().min().copied().unwrap_or(started);
    let last_final = finalized_at.values().max().copied().unwrap_or(first_submit);
    let wall = last_final.duration_since(first_submit).as_secs_f64();
    let mut latencies: Vec<f64> = finalized_at
        .iter()
        .filter_map(|(id, at)| {
            submit_at
                .get(id)
                .map(|s| at.saturating_duration_since(*s).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        (latencies[i] * 10.0).round() / 10.0
    };
    let finalized = finalized_at.len();
    let block_count = blocks.len();
    Ok(json!({
        "validators": clients.len(),
        "accounts": args.accounts,
        "batch": args.batch,
        "rate": args.rate,
        "txs": args.txs,
        "submitted": progress.submitted.load(Ordering::Relaxed),
        "rejected": rejected.len(),
        "finalized": finalized,
        "counter": counter_value,
        "wall_s": wall,
        "tx_per_s": if wall > 0.0 { finalized as f64 / wall } else { 0.0 },
        "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)},
        "blocks": block_count,
        "first_height": blocks.first().map(|b| b.0),
        "last_height": blocks.last().map(|b| b.0),
        "avg_txs_per_block": if block_count > 0 { finalized as f64 / block_count as f64 } else { 0.0 },
        "max_txs_per_block": blocks.iter().map(|b| b.1).max().unwrap_or(0),
    }))
}

/// Waits until the node answers and has finalized a block.
pub(crate) async fn wait_for_blocks(client: &Client) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(s) = client.status().await
            && s.height >= 1
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(anyhow!("no finalized block after {WAIT:?}"))
                .with_context(|| format!("waiting for {}", client.base_url()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_lower_middle_value() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.0);
    }

    #[test]
    fn the_median_run_is_reported_with_every_rounds_rate() {
        let runs = vec![
            json!({"mode": "replicated", "jobs_per_s": 30.0, "round": 1}),
            json!({"mode": "replicated", "jobs_per_s": 20.0, "round": 2}),
            json!({"mode": "replicated", "jobs_per_s": 25.0, "round": 3}),
        ];
        let chosen = median_run(&runs);
        assert_eq!(chosen["round"], 2 + 1);
        assert_eq!(chosen["repeat_jobs_per_s"], json!([30.0, 20.0, 25.0]));
        let alone = median_run(&runs[..1]);
        assert_eq!(alone["round"], 1);
        assert!(alone.get("repeat_jobs_per_s").is_none());
    }
}
