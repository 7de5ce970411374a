//! `hyperchain bench --workload heavy|light --mode …`: finalized **job** throughput of a fresh
//! local network — the same calls, executed by every validator (`replicated`) or by committees
//! of compute nodes (`single`, `committee(k)`, `cross-vendor`) — with latency and the CPU each
//! side spends per job. `--compare` runs `replicated` and `cross-vendor` one after the other on
//! fresh networks and reports the ratio of their throughputs.
//!
//! Method: deploy `--lanes` contracts in the mode (each TEE contract is its own lane, so lanes
//! run in parallel), pre-sign `--jobs` calls spread over the lanes and over one account per
//! validator (each account's calls go to one validator, which gossips them on), submit
//! them all at once, and follow validator 0: a replicated call is done when its block is
//! finalized, a TEE call when its job leaves the set of unresolved jobs after its call was
//! finalized. CPU is the processes' user + system time (`/proc/PID/stat`) over the run.

use crate::devnet::{Events, create_network, start_network};
use crate::remote::{rpc_error, submit, wait_receipt};
use anyhow::{Result, anyhow, bail};
use hyperchain_chain::genesis::AccountKey;
use hyperchain_rpc::api::{QueryRequest, ReceiptOutcome};
use hyperchain_sdk::encode;
use hyperchain_types::{Address, Digest, ExecutionMode, Payload, SignedTransaction, Transaction};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// Region names of bench fleets, in order.
pub const REGION_NAMES: [&str; 10] = hyperchain_chain::registry::DEFAULT_REGIONS;
/// How long the run may go without any job finishing.
const STALL: Duration = Duration::from_secs(90);
/// Fuel limit of each call when its need cannot be estimated.
const CALL_FUEL: u64 = 10_000_000_000;
/// Fuel of the read-only run that estimates a call's need (validators' default maximum).
const QUERY_FUEL: u64 = 1_000_000_000;

/// What each call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// `heavy.sha256_chain(iterations)`.
    Heavy(u32),
    /// `counter.increment(1)`.
    Light,
}

impl std::str::FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "light" => Ok(Workload::Light),
            None if s == "heavy" => Ok(Workload::Heavy(DEFAULT_HEAVY)),
            Some(("heavy", n)) => n
                .parse()
                .map(Workload::Heavy)
                .map_err(|_| format!("`{n}` is not a number of iterations")),
            _ => Err(format!(
                "unknown workload `{s}`: expected light, heavy or heavy:ITERATIONS"
            )),
        }
    }
}

/// Iterations of `sha256_chain` in `--workload heavy` (about 10 ms of execution here).
pub const DEFAULT_HEAVY: u32 = 30_000;

impl Workload {
    fn contract(self) -> &'static str {
        match self {
            Workload::Heavy(_) => "heavy",
            Workload::Light => "counter",
        }
    }

    fn call(self) -> (&'static str, Vec<u8>) {
        match self {
            Workload::Heavy(n) => ("sha256_chain", encode(&n)),
            Workload::Light => ("increment", encode(&1u64)),
        }
    }

    pub fn name(self) -> String {
        match self {
            Workload::Heavy(n) => format!("heavy:{n}"),
            Workload::Light => "light".into(),
        }
    }
}

/// One run's parameters.
#[derive(Clone, Debug)]
pub struct JobBench {
    pub mode: ExecutionMode,
    pub validators: usize,
    pub regions: usize,
    pub compute_per_region: usize,
    pub workload: Workload,
    pub jobs: usize,
    pub lanes: usize,
    pub pipeline_depth: u32,
    pub base_port: u16,
}

/// CPU time (user + system) of a process so far, in milliseconds (0 if unreadable).
fn cpu_ms(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks * 10.0 // 100 ticks per second
}

fn total_cpu_ms(pids: &[u32]) -> f64 {
    pids.iter().map(|&p| cpu_ms(p)).sum()
}

/// Runs one measurement on a fresh network in `dir`.
pub fn run_one(b: &JobBench, dir: &Path, events: Events) -> Result<serde_json::Value> {
    if b.jobs == 0 || b.lanes == 0 {
        bail!("--jobs and --lanes must be at least 1");
    }
    if b.regions == 0 || b.regions > REGION_NAMES.len() {
        bail!("--regions must be between 1 and {}", REGION_NAMES.len());
    }
    let configs = create_network(
        dir,
        b.validators,
        "bench",
        b.base_port,
        b.pipeline_depth,
        events,
    )?;
    let mut running = start_network(dir, &configs, events)?;
    let rpcs = running.rpcs.clone();
    let regions: Vec<String> = REGION_NAMES[..b.regions]
        .iter()
        .map(|r| r.to_string())
        .collect();
    let runtime = crate::remote::runtime()?;
    let result = runtime.block_on(async {
        let client = crate::remote::client(&rpcs[0])?;
        crate::bench::wait_for_blocks(&client).await?;
        let fleet = if b.mode == ExecutionMode::Replicated {
            None
        } else {
            crate::fleet::register_release(dir, &client, events).await?;
            crate::fleet::fund_owners(dir, &rpcs, 2 * regions.len() * b.compute_per_region, events)
                .await?;
            // Compute nodes poll for work often: the bench measures throughput, not polling.
            let mut fleet =
                crate::fleet::start(dir, &rpcs, &regions, b.compute_per_region, 20, events)?;
            fleet.ready(&client).await?;
            Some(fleet)
        };
        let compute_pids = fleet.as_ref().map(|f| f.pids()).unwrap_or_default();
        let faucet = crate::remote::faucet_key(dir)?;
        let report = measure(
            b,
            &rpcs,
            &regions,
            &running.pids(),
            &compute_pids,
            &faucet,
            events,
        )
        .await;
        drop(fleet);
        report
    });
    let alive = running.check_alive();
    running.stop();
    let report = result?;
    alive?;
    Ok(report)
}

async fn measure(
    b: &JobBench,
    rpcs: &[String],
    regions: &[String],
    validator_pids: &[u32],
    compute_pids: &[u32],
    faucet: &AccountKey,
    events: Events,
) -> Result<serde_json::Value> {
    let clients = crate::remote::clients(rpcs)?;
    let follow = &clients[0];
    let url = follow.base_url().to_owned();
    let status = follow.status().await.map_err(|e| rpc_error(&url, e))?;

    // The lanes: one contract each, deployed in the mode.
    let deployer = AccountKey::generate(commonware_utils::sys_rng());
    crate::remote::fund_all(
        &clients,
        faucet,
        &[(deployer.address(), 1_000 * hyperchain_chain::fees::UNIT)],
    )
    .await?;
    let code = hyperchain_contracts::by_name(b.workload.contract())
        .ok_or_else(|| anyhow!("no example `{}`", b.workload.contract()))?
        .to_vec();
    let mut deploys = Vec::new();
    for i in 0..b.lanes {
        let payload = Payload::Deploy {
            code: code.clone(),
            mode: b.mode,
            regions: if b.mode == ExecutionMode::CrossVendor {
                regions.to_vec()
            } else {
                Vec::new()
            },
        };
        deploys.push(submit(follow, &deployer, payload, Some(i as u64)).await?);
    }
    let mut lanes: Vec<Address> = Vec::new();
    for id in deploys {
        match wait_receipt(follow, &id, Duration::from_secs(60))
            .await?
            .outcome
        {
            ReceiptOutcome::Deployed { address, .. } => lanes.push(address),
            other => bail!("deploying {} failed: {other:?}", b.workload.contract()),
        }
    }
    events.emit(
        json!({"event": "deployed", "contract": b.workload.contract(), "lanes": lanes.len(),
               "mode": b.mode.to_string()}),
        || {
            format!(
                "deployed {} {} contracts ({})",
                lanes.len(),
                b.workload.contract(),
                b.mode
            )
        },
    );

    // The calls' fuel limit, as a client sets it: twice what a read-only run of the call
    // used (a run of jobs given to one committee is bounded by the sum of its fuel limits,
    // so a generous limit shortens runs); the most a call may have if that run fails.
    let (method, input) = b.workload.call();
    let estimate = follow
        .query(&QueryRequest {
            fuel_limit: Some(QUERY_FUEL),
            ..QueryRequest::new(lanes[0], method, input.clone())
        })
        .await
        .ok()
        .filter(|q| q.status.is_ok())
        .map(|q| q.fuel_used);
    let fuel_limit = estimate.map_or(CALL_FUEL, |used| (2 * used).clamp(1_000_000, CALL_FUEL));
    events.emit(
        json!({"event": "fuel_limit", "fuel_limit": fuel_limit, "estimated_fuel": estimate}),
        || match estimate {
            Some(used) => format!("fuel limit {fuel_limit} per call (a read-only run used {used})"),
            None => format!("fuel limit {fuel_limit} per call (the read-only run did not finish)"),
        },
    );

    // Sign every call before the clock starts: call i goes to lane i % L, from the account
    // of validator i % V.
    let accounts: Vec<AccountKey> = (0..clients.len())
        .map(|_| AccountKey::generate(commonware_utils::sys_rng()))
        .collect();
    let schedule = follow
        .fees()
        .await
        .map_err(|e| rpc_error(&url, e))?
        .schedule;
    // A TEE call's fee limit also pays its committee (and what its result writes).
    let members = match b.mode {
        ExecutionMode::Replicated => 0,
        mode => crate::remote::committee_size(&mode.to_string(), regions.len()),
    };
    let priced = |mut tx: Transaction| {
        let required = schedule.required_unsigned(&tx);
        let base = required - schedule.fuel(fuel_limit);
        let limit =
            match hyperchain_chain::execute::job_funds(&schedule, fuel_limit, members, base, 0) {
                Err(needed) if members > 0 => needed + schedule.state(64 * 1024),
                _ => required,
            };
        tx.fee = hyperchain_types::Fee::limit(limit);
        tx
    };
    let per_call = priced(Transaction {
        chain_id: status.chain_id,
        sender: commonware_cryptography::Signer::public_key(&accounts[0].0).into(),
        nonce: 0,
        fee: hyperchain_types::Fee::NONE,
        payload: Payload::Call {
            contract: lanes[0],
            method: method.into(),
            input: input.clone(),
            fuel_limit,
        },
    })
    .fee
    .max_total();
    let per_account = per_call * b.jobs.div_ceil(accounts.len()) as u128;
    let grants: Vec<(Address, u128)> = accounts
        .iter()
        .map(|a| (a.address(), per_account))
        .collect();
    crate::remote::fund_all(&clients, faucet, &grants).await?;
    let mut per_validator: Vec<Vec<SignedTransaction>> = vec![Vec::new(); clients.len()];
    let mut nonces = vec![0u64; accounts.len()];
    for i in 0..b.jobs {
        let a = i % accounts.len();
        let tx = priced(Transaction {
            chain_id: status.chain_id,
            sender: commonware_cryptography::Signer::public_key(&accounts[a].0).into(),
            nonce: nonces[a],
            fee: hyperchain_types::Fee::NONE,
            payload: Payload::Call {
                contract: lanes[i % lanes.len()],
                method: method.into(),
                input: input.clone(),
                fuel_limit,
            },
        })
        .sign(&accounts[a].0);
        nonces[a] += 1;
        per_validator[a].push(tx);
    }
    let ids: HashSet<Digest> = per_validator.iter().flatten().map(|t| t.id()).collect();

    let cpu_validators = total_cpu_ms(validator_pids);
    let cpu_compute = total_cpu_ms(compute_pids);
    let start_height = follow
        .status()
        .await
        .map_err(|e| rpc_error(&url, e))?
        .height;
    let started = Instant::now();
    for (client, txs) in clients.iter().zip(&per_validator) {
        for chunk in txs.chunks(500) {
            for verdict in client
                .submit_batch(chunk)
                .await
                .map_err(|e| rpc_error(client.base_url(), e))?
            {
                if let Err(reason) = verdict {
                    bail!("a call was refused by {}: {reason}", client.base_url());
                }
            }
        }
    }

    // Follow validator 0: calls finalized (from blocks), jobs resolved (leaving the unresolved
    // set once their call is finalized).
    let tee = b.mode != ExecutionMode::Replicated;
    let mut next = start_height + 1;
    let mut finalized: HashMap<Digest, Instant> = HashMap::new();
    let mut done: HashMap<Digest, Instant> = HashMap::new();
    let mut last_progress = Instant::now();
    let mut last_report = Instant::now();
    while done.len() < b.jobs {
        let resp = follow
            .subscribe(next, Duration::from_millis(100))
            .await
            .map_err(|e| rpc_error(&url, e))?;
        let now = Instant::now();
        for block in &resp.blocks {
            for id in block.txs.iter().filter(|id| ids.contains(id)) {
                finalized.entry(*id).or_insert(now);
            }
            next = block.height + 1;
        }
        if tee {
            let pending: HashSet<Digest> = follow
                .jobs(&[("limit", "1000")])
                .await
                .map_err(|e| rpc_error(&url, e))?
                .jobs
                .into_iter()
                .map(|j| j.id)
                .collect();
            for id in finalized.keys() {
                if !pending.contains(id) && !done.contains_key(id) {
                    done.insert(*id, now);
                    last_progress = now;
                }
            }
        } else {
            for (id, at) in &finalized {
                if done.insert(*id, *at).is_none() {
                    last_progress = now;
                }
            }
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let elapsed = started.elapsed().as_secs_f64();
            events.emit(
                json!({"event": "progress", "elapsed_s": elapsed, "calls_finalized": finalized.len(),
                       "jobs_done": done.len(), "jobs": b.jobs}),
                || {
                    format!(
                        "[{elapsed:>6.1}s] calls finalized {}/{}  jobs done {}/{}",
                        finalized.len(),
                        b.jobs,
                        done.len(),
                        b.jobs
                    )
                },
            );
        }
        if last_progress.elapsed() > STALL {
            bail!(
                "no job finished for {STALL:?} ({} of {} done)",
                done.len(),
                b.jobs
            );
        }
    }
    let wall = done
        .values()
        .max()
        .map_or(0.0, |t| t.duration_since(started).as_secs_f64());
    let cpu_validators = total_cpu_ms(validator_pids) - cpu_validators;
    let cpu_compute = total_cpu_ms(compute_pids) - cpu_compute;

    // Check every result: each call succeeded (and, for TEE modes, how it was resolved).
    let mut resolutions: HashMap<String, usize> = HashMap::new();
    // Jobs resolved per (lane, block): more than one when committees take runs of jobs.
    let mut per_lane_block: HashMap<(Address, u64), usize> = HashMap::new();
    let mut failed = 0;
    for id in &ids {
        if tee {
            let job = follow
                .job(id)
                .await
                .map_err(|e| rpc_error(&url, e))?
                .ok_or_else(|| anyhow!("job {id} vanished"))?;
            let result = job.result.ok_or_else(|| anyhow!("job {id} not done"))?;
            failed += usize::from(!result.status.is_ok());
            *per_lane_block
                .entry((job.contract, result.height))
                .or_default() += 1;
            *resolutions.entry(result.resolution).or_default() += 1;
        } else {
            let r = follow
                .wait_for_receipt(id, Duration::from_secs(5))
                .await
                .map_err(|e| rpc_error(&url, e))?;
            if !matches!(&r.outcome, ReceiptOutcome::Called { status, .. } if status.is_ok()) {
                failed += 1;
            }
        }
    }
    let mut latencies: Vec<f64> = done
        .values()
        .map(|t| t.duration_since(started).as_secs_f64() * 1e3)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        let i = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        (latencies[i] * 10.0).round() / 10.0
    };
    let jobs = b.jobs as f64;
    Ok(json!({
        "mode": b.mode.to_string(),
        "workload": b.workload.name(),
        "validators": clients.len(),
        "regions": if tee { b.regions } else { 0 },
        "compute_nodes": compute_pids.len(),
        "lanes": b.lanes,
        "pipeline_depth": if tee { b.pipeline_depth } else { 0 },
        "fuel_limit": fuel_limit,
        "jobs": b.jobs,
        "failed": failed,
        "resolutions": resolutions,
        "max_jobs_per_lane_block": per_lane_block.values().max().copied().unwrap_or(0),
        "wall_s": wall,
        "jobs_per_s": if wall > 0.0 { jobs / wall } else { 0.0 },
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
        "validator_cpu_ms_per_job": cpu_validators / jobs,
        "compute_cpu_ms_per_job": cpu_compute / jobs,
    }))
}

/// Prints one run's report as text.
pub fn print_report(r: &serde_json::Value) {
    println!(
        "{} × {} ({}): {} validators, {} compute nodes in {} region(s), {} lanes{}",
        r["jobs"],
        r["workload"].as_str().unwrap_or_default(),
        r["mode"].as_str().unwrap_or_default(),
        r["validators"],
        r["compute_nodes"],
        r["regions"],
        r["lanes"],
        match r["pipeline_depth"].as_u64() {
            Some(d) if d > 0 => format!(", pipeline depth {d}"),
            _ => String::new(),
        }
    );
    println!(
        "  finalized jobs/s {:.2}  (wall {:.2} s; {} failed)",
        r["jobs_per_s"].as_f64().unwrap_or_default(),
        r["wall_s"].as_f64().unwrap_or_default(),
        r["failed"]
    );
    let l = &r["latency_ms"];
    println!(
        "  latency (submit → result final) p50 {} ms  p99 {} ms",
        l["p50"], l["p99"]
    );
    println!(
        "  CPU per job: validators (all) {:.2} ms, compute nodes (all) {:.2} ms",
        r["validator_cpu_ms_per_job"].as_f64().unwrap_or_default(),
        r["compute_cpu_ms_per_job"].as_f64().unwrap_or_default()
    );
    if let Some(res) = r["resolutions"].as_object()
        && !res.is_empty()
    {
        println!(
            "  resolutions {}  (most jobs of one lane resolved in one block: {})",
            serde_json::Value::Object(res.clone()),
            r["max_jobs_per_lane_block"]
        );
    }
}
