//! `hyperchain simulate`: committee execution at internet scale on the deterministic runtime
//! and the simulated network (see the `hyperchain-sim` crate for what is executed and what is
//! modelled).

use crate::jobbench::Workload;
use crate::plot::{Series, line_chart};
use anyhow::{Context as _, Result, bail};
use hyperchain_sdk::encode;
use hyperchain_sim::{Dissemination, ScaleConfig, ScaleResult};
use hyperchain_types::Address;
use hyperchain_vm::{Call, CallContext, Engine, EngineConfig};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Validators, spread round-robin over the regions.
    #[arg(long, default_value_t = 100)]
    validators: usize,
    /// Regions (1..=10): us-east, us-west, ca-central, sa-east, eu-west, eu-central, ap-south,
    /// ap-southeast, ap-northeast, au-southeast, with measured round trips between them.
    #[arg(long, default_value_t = 10)]
    regions: usize,
    /// Compute pairs (one Intel and one AMD node each) to simulate, comma-separated: one run
    /// for each.
    #[arg(long, value_delimiter = ',', default_values_t = [10, 25, 50, 100, 150, 200])]
    pairs: Vec<usize>,
    /// Job workloads, comma-separated: `heavy[:ITERATIONS]`. The execution time of each is
    /// its fuel divided by the fuel rate measured on this machine.
    #[arg(long, value_delimiter = ',', default_value = "heavy")]
    workload: Vec<Workload>,
    /// Use this execution time per job (milliseconds) instead of measuring.
    #[arg(long)]
    exec_ms: Option<f64>,
    /// How block contents reach validators, comma-separated (one series each): `compact` (as
    /// implemented: transactions gossiped once to every validator, blocks name them by 8-byte
    /// short ids), `digests` (blocks name gossiped batches), `full-blocks` (the leader sends
    /// every body to every validator, as before the block relay), `coded` (erasure-coded
    /// shards relayed by every validator, as commonware's coding marshal does), `both`
    /// (compact and full blocks) or `all`.
    #[arg(long, value_delimiter = ',', default_value = "compact")]
    dissemination: Vec<DisseminationArg>,
    /// When validators execute a block, comma-separated (one series each): `certify` (as
    /// implemented: the block carries its own state root, the leader executes before sending,
    /// validators vote to notarize once the block is here and to finalize once they executed
    /// it), `before-vote` (validators execute before the notarize vote too, as before
    /// marshal's Deferred wrapper), `deferred` (the block carries its parent's root: votes
    /// wait only for the parent's execution), `both` (before-vote and deferred) or `all`.
    #[arg(long, value_delimiter = ',', default_value = "certify")]
    execution: Vec<ExecutionArg>,
    /// Threads a validator checks signatures on, comma-separated: one series each.
    #[arg(long, value_delimiter = ',', default_values_t = [1])]
    verify_threads: Vec<usize>,
    /// Validator uplink in megabits per second (0: unlimited).
    #[arg(long, default_value_t = 1000)]
    egress_mbps: u64,
    /// Jobs each compute node executes at once.
    #[arg(long, default_value_t = 1)]
    slots: usize,
    /// Simulated seconds before measuring.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Simulated seconds measured.
    #[arg(long, default_value_t = 15.0)]
    seconds: f64,
    /// Seed of the deterministic runtime: the same seed gives the same figures.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Runs at once (each is single-threaded).
    #[arg(long, default_value_t = 2)]
    jobs_at_once: usize,
    /// Print the result as one JSON object on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    /// Also write the throughput-vs-pairs plot as SVG here.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Print (and with --svg, plot) the result of an earlier `--json` run saved in this file
    /// instead of simulating; the other options are ignored.
    #[arg(long)]
    from_json: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ExecutionArg {
    Certify,
    BeforeVote,
    Deferred,
    Both,
    All,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum DisseminationArg {
    Compact,
    Digests,
    FullBlocks,
    Coded,
    Both,
    All,
}

/// Fuel rate of this machine, from a few runs of the default heavy job.
struct Calibration {
    fuel_per_ms: f64,
    reference_fuel: u64,
    reference_ms: f64,
}

/// Runs `sha256_chain(iterations)` once: (fuel, milliseconds).
fn run_heavy(engine: &Engine, iterations: u32) -> Result<(u64, f64)> {
    let contract = engine
        .load(hyperchain_contracts::HEAVY)
        .map_err(|e| anyhow::anyhow!("loading the heavy contract: {e}"))?;
    let input = encode(&iterations);
    let started = Instant::now();
    let outcome = engine.call(
        &contract,
        Call {
            ctx: CallContext {
                caller: Address([0; 32]),
                contract: Address([1; 32]),
                block_height: 1,
                block_time_ms: 0,
            },
            method: "sha256_chain",
            input: &input,
            fuel_limit: u64::MAX / 2,
        },
        // `sha256_chain` reads no storage.
        Arc::new(std::collections::BTreeMap::<Vec<u8>, Vec<u8>>::new()),
    )?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if !outcome.status.is_ok() {
        bail!("sha256_chain({iterations}) failed: {:?}", outcome.status);
    }
    Ok((outcome.fuel_used, elapsed))
}

fn calibrate(engine: &Engine) -> Result<Calibration> {
    let iterations = crate::jobbench::DEFAULT_HEAVY;
    run_heavy(engine, iterations)?; // compile and warm up
    let mut times = Vec::new();
    let mut fuel = 0;
    for _ in 0..7 {
        let (f, ms) = run_heavy(engine, iterations)?;
        fuel = f;
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    Ok(Calibration {
        fuel_per_ms: fuel as f64 / median,
        reference_fuel: fuel,
        reference_ms: median,
    })
}

/// What sets a series apart: job time, dissemination, execution, signature threads.
fn parts(c: &ScaleConfig) -> [String; 4] {
    let dissemination = match c.dissemination {
        Dissemination::Digests => "digests",
        Dissemination::Compact => "compact blocks",
        Dissemination::FullBlocks => "full blocks",
        Dissemination::Coded => "coded blocks",
    };
    let execution = if c.deferred_execution {
        "deferred execution"
    } else if c.certify {
        "execution before the finalize vote"
    } else {
        "execution before the vote"
    };
    let threads = match c.verify_threads {
        1 => "1 verify thread".to_string(),
        n => format!("{n} verify threads"),
    };
    [
        format!("{:.1} ms jobs", c.exec_ms),
        dissemination.to_string(),
        execution.to_string(),
        threads,
    ]
}

/// A series in full.
fn describe(c: &ScaleConfig) -> String {
    let [exec, dissemination, execution, threads] = parts(c);
    format!("{exec}, {dissemination}, {execution}, {threads}")
}

/// What bounds a run that falls short of linear.
fn bound(r: &ScaleResult) -> &'static str {
    if r.efficiency >= 0.9 {
        return "-";
    }
    // A job is three transactions (the call and two receipts).
    let txs_per_block = 3.0 * r.jobs_per_sec / r.views_per_sec.max(f64::MIN_POSITIVE);
    if r.validator_exec_busy >= 0.9 {
        "validator block execution"
    } else if !r.deferred_execution && !r.certify && r.validator_exec_busy >= 0.3 {
        // Leader, then voters: execution fills the view twice over.
        "block execution before the vote"
    } else if !r.deferred_execution && r.validator_exec_busy >= 0.3 {
        // The next leader executes the parent, then its own block, before sending.
        "block execution by the leader"
    } else if r.dissemination.obeys_block_limits()
        && txs_per_block >= 0.9 * hyperchain_types::block_limits::MAX_BLOCK_TXS as f64
    {
        "block transaction limit"
    } else if r.validator_verify_busy >= 0.9 {
        "validator signature checks"
    } else if r.leader_uplink_busy >= 0.45 {
        "leader uplink"
    } else if r.dissemination == Dissemination::Coded {
        // The leader's shards, a hop, every validator's relay, another hop: each view waits
        // for a transfer that grows with the block, and blocks grow with the view.
        "coded block transfer in each view"
    } else {
        "consensus pipeline"
    }
}

/// A finished sweep: one series of runs per configuration.
struct Sweep {
    calibration: serde_json::Value,
    series: Vec<Vec<ScaleConfig>>,
    results: Vec<Vec<ScaleResult>>,
}

fn load(path: &std::path::Path) -> Result<Sweep> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let bad = || anyhow::anyhow!("{} is not the output of `simulate --json`", path.display());
    let mut series = Vec::new();
    let mut results = Vec::new();
    for s in doc["series"].as_array().ok_or_else(bad)? {
        let config: ScaleConfig = serde_json::from_value(s["config"].clone()).map_err(|_| bad())?;
        let runs: Vec<ScaleResult> =
            serde_json::from_value(s["runs"].clone()).map_err(|_| bad())?;
        if runs.is_empty() {
            return Err(bad());
        }
        series.push(
            runs.iter()
                .map(|r| ScaleConfig {
                    pairs: r.pairs,
                    ..config.clone()
                })
                .collect(),
        );
        results.push(runs);
    }
    if series.is_empty() {
        return Err(bad());
    }
    Ok(Sweep {
        calibration: doc["calibration"].clone(),
        series,
        results,
    })
}

pub fn run(args: SimulateArgs) -> Result<()> {
    let sweep = match &args.from_json {
        Some(path) => load(path)?,
        None => simulate(&args)?,
    };
    report(&args, &sweep)
}

fn simulate(args: &SimulateArgs) -> Result<Sweep> {
    if args.pairs.is_empty() || args.workload.is_empty() || args.verify_threads.is_empty() {
        bail!("give at least one value for --pairs, --workload and --verify-threads");
    }
    if let Some(&p) = args.pairs.iter().find(|&&p| p < args.regions) {
        bail!(
            "--pairs {p} is fewer than --regions {}: every region needs a pair",
            args.regions
        );
    }
    if args.jobs_at_once == 0 {
        bail!("--jobs-at-once must be at least 1");
    }
    let mut exec_times = Vec::new();
    let calibration = match args.exec_ms {
        Some(ms) if ms.is_finite() && ms > 0.0 => {
            exec_times.push(ms);
            None
        }
        Some(ms) => bail!("--exec-ms must be a positive number of milliseconds, not {ms}"),
        None => {
            let engine = Engine::new(EngineConfig::default()).context("starting the engine")?;
            let cal = calibrate(&engine)?;
            eprintln!(
                "calibration: sha256_chain({}) uses {} fuel in {:.2} ms here: {:.1} Mfuel/s",
                crate::jobbench::DEFAULT_HEAVY,
                cal.reference_fuel,
                cal.reference_ms,
                cal.fuel_per_ms / 1000.0
            );
            for w in &args.workload {
                let Workload::Heavy(iterations) = *w else {
                    bail!("the simulation models heavy jobs only (--workload heavy[:ITERATIONS])");
                };
                let (fuel, _) = run_heavy(&engine, iterations)?;
                let ms = fuel as f64 / cal.fuel_per_ms;
                eprintln!(
                    "  sha256_chain({iterations}): {fuel} fuel → {ms:.2} ms per job in the model"
                );
                exec_times.push(ms);
            }
            Some(cal)
        }
    };
    let mut disseminations: Vec<Dissemination> = Vec::new();
    for arg in &args.dissemination {
        let named: &[Dissemination] = match arg {
            DisseminationArg::Compact => &[Dissemination::Compact],
            DisseminationArg::Digests => &[Dissemination::Digests],
            DisseminationArg::FullBlocks => &[Dissemination::FullBlocks],
            DisseminationArg::Coded => &[Dissemination::Coded],
            DisseminationArg::Both => &[Dissemination::Compact, Dissemination::FullBlocks],
            DisseminationArg::All => &[
                Dissemination::Compact,
                Dissemination::Digests,
                Dissemination::FullBlocks,
                Dissemination::Coded,
            ],
        };
        for d in named {
            if !disseminations.contains(d) {
                disseminations.push(*d);
            }
        }
    }
    // (deferred execution, certify) per series.
    let mut executions: Vec<(bool, bool)> = Vec::new();
    for arg in &args.execution {
        let named: &[(bool, bool)] = match arg {
            ExecutionArg::Certify => &[(false, true)],
            ExecutionArg::BeforeVote => &[(false, false)],
            ExecutionArg::Deferred => &[(true, false)],
            ExecutionArg::Both => &[(false, false), (true, false)],
            ExecutionArg::All => &[(false, false), (false, true), (true, false)],
        };
        for e in named {
            if !executions.contains(e) {
                executions.push(*e);
            }
        }
    }
    let egress = (args.egress_mbps > 0).then(|| args.egress_mbps * 1_000_000 / 8);
    let mut series: Vec<Vec<ScaleConfig>> = Vec::new();
    for &exec_ms in &exec_times {
        for (&dissemination, &(deferred_execution, certify)) in disseminations
            .iter()
            .flat_map(|d| executions.iter().map(move |e| (d, e)))
        {
            for &threads in &args.verify_threads {
                series.push(
                    args.pairs
                        .iter()
                        .map(|&pairs| ScaleConfig {
                            seed: args.seed,
                            validators: args.validators,
                            regions: args.regions,
                            pairs,
                            slots: args.slots,
                            exec_ms,
                            verify_threads: threads,
                            egress_bytes_per_sec: egress,
                            dissemination,
                            deferred_execution,
                            certify,
                            warmup_secs: args.warmup,
                            measure_secs: args.seconds,
                            ..Default::default()
                        })
                        .collect(),
                );
            }
        }
    }
    for config in series.iter().flatten() {
        config.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    }

    // Run everything, `jobs_at_once` at a time, longest (most pairs) first: `pop` takes from
    // the end.
    let mut work: Vec<(usize, usize)> = series
        .iter()
        .enumerate()
        .flat_map(|(s, runs)| (0..runs.len()).map(move |r| (s, r)))
        .collect();
    work.sort_by_key(|&(s, r)| series[s][r].pairs);
    let total = work.len();
    let queue = std::sync::Mutex::new(work);
    let results = std::sync::Mutex::new(vec![vec![None; args.pairs.len()]; series.len()]);
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..args.jobs_at_once.min(total) {
            scope.spawn(|| {
                loop {
                    let Some((s, r)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let config = &series[s][r];
                    let started = Instant::now();
                    let result = hyperchain_sim::run(config).expect("validated");
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    eprintln!(
                        "[{n}/{total}] {}, {} pairs: {:.0} jobs/s ({:.1} % of linear) in {:.0} s",
                        describe(config),
                        config.pairs,
                        result.jobs_per_sec,
                        result.efficiency * 100.0,
                        started.elapsed().as_secs_f64()
                    );
                    results.lock().unwrap()[s][r] = Some(result);
                }
            });
        }
    });
    let results: Vec<Vec<ScaleResult>> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|runs| {
            runs.into_iter()
                .map(|r| r.expect("every run finished"))
                .collect()
        })
        .collect();

    let calibration = calibration.map_or(serde_json::Value::Null, |c| {
        json!({
            "reference_iterations": crate::jobbench::DEFAULT_HEAVY,
            "reference_fuel": c.reference_fuel,
            "reference_ms": c.reference_ms,
            "fuel_per_ms": c.fuel_per_ms,
        })
    });
    Ok(Sweep {
        calibration,
        series,
        results,
    })
}

/// The parts of a series' description that differ between series (all of it if none do).
fn legend(config: &ScaleConfig, all: &[&ScaleConfig]) -> String {
    let all: Vec<[String; 4]> = all.iter().map(|c| parts(c)).collect();
    let mine = parts(config);
    let differing: Vec<&str> = (0..4)
        .filter(|&i| all.iter().any(|p| p[i] != all[0][i]))
        .map(|i| mine[i].as_str())
        .collect();
    if differing.is_empty() {
        describe(config)
    } else {
        differing.join(", ")
    }
}

fn report(args: &SimulateArgs, sweep: &Sweep) -> Result<()> {
    let Sweep {
        calibration,
        series,
        results,
    } = sweep;
    let first = &series[0][0];
    let mut exec_times: Vec<f64> = series.iter().map(|runs| runs[0].exec_ms).collect();
    exec_times.dedup();
    let max_pairs = series.iter().flatten().map(|c| c.pairs).max().unwrap_or(1) as f64;
    if let Some(path) = &args.svg {
        let mut lines = Vec::new();
        let firsts: Vec<&ScaleConfig> = series.iter().map(|runs| &runs[0]).collect();
        for &exec_ms in &exec_times {
            lines.push(Series {
                name: format!("linear, {exec_ms:.1} ms jobs"),
                points: vec![
                    (0.0, 0.0),
                    (max_pairs, max_pairs * first.slots as f64 * 1000.0 / exec_ms),
                ],
                reference: true,
            });
        }
        for (s, runs) in series.iter().enumerate() {
            lines.push(Series {
                name: legend(&runs[0], &firsts),
                points: results[s]
                    .iter()
                    .map(|r| (r.pairs as f64, r.jobs_per_sec))
                    .collect(),
                reference: false,
            });
        }
        let common = if exec_times.len() == 1 {
            format!(", {:.1} ms jobs", exec_times[0])
        } else {
            String::new()
        };
        let title = format!(
            "{} validators, {} regions{common}: finalized committee jobs/s",
            first.validators, first.regions
        );
        std::fs::write(
            path,
            line_chart(&title, "compute pairs", "jobs per second", &lines),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }

    if args.json {
        let out = json!({
            "validators": first.validators,
            "regions": first.regions,
            "seed": first.seed,
            "calibration": calibration,
            "series": series.iter().zip(results).map(|(runs, rs)| json!({
                "name": describe(&runs[0]),
                "config": runs[0],
                "runs": rs.iter().map(|r| {
                    let mut v = serde_json::to_value(r).expect("serializable");
                    v["bound"] = json!(bound(r));
                    v
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} validators over {} regions, {} simulated seconds measured after {} of warm-up (seed {})",
        first.validators, first.regions, first.measure_secs, first.warmup_secs, first.seed
    );
    for (runs, rs) in series.iter().zip(results) {
        println!("\n{}", describe(&runs[0]));
        println!(
            "{:>6} {:>9} {:>9} {:>8} {:>8} {:>6} {:>7} {:>7}  bound",
            "pairs", "linear", "jobs/s", "linear%", "views/s", "exec", "verify", "uplink"
        );
        for r in rs {
            println!(
                "{:>6} {:>9.0} {:>9.0} {:>7.1}% {:>8.2} {:>5.0}% {:>6.0}% {:>6.0}%  {}",
                r.pairs,
                r.ideal_jobs_per_sec,
                r.jobs_per_sec,
                r.efficiency * 100.0,
                r.views_per_sec,
                r.validator_exec_busy * 100.0,
                r.validator_verify_busy * 100.0,
                r.leader_uplink_busy * 100.0,
                bound(r)
            );
        }
        println!(
            "validator CPU allows at most about {:.0} jobs/s (block execution on the critical path; signature threads)",
            rs[0].cpu_bound_jobs_per_sec
        );
    }
    Ok(())
}
