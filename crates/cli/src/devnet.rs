//! `hyperchain devnet`: a local chain of validator **processes** (this binary re-executed as
//! `hyperchain node --config …`) over real loopback sockets, with progress output, a clean
//! stop on Ctrl-C and resumption from its directory.

use crate::genesis::{
    CONFIG_FILE, DEFAULT_BASE_PORT, GENESIS_FILE, init, print_init, validator_dir,
};
use anyhow::{Context, Result, bail};
use clap::Args;
use hyperchain_chain::config::ValidatorSetup;
use hyperchain_chain::genesis::ChainSpec;
use hyperchain_chain::runner::{Status, status_path};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A validator's log inside its directory.
pub const LOG_FILE: &str = "node.log";
/// How long stopping validators may take before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

#[derive(Args, Debug)]
pub struct DevnetArgs {
    /// Directory of the devnet: created with a new genesis if it has none, resumed otherwise.
    #[arg(long, default_value = ".hyperchain/devnet")]
    dir: PathBuf,
    /// Number of validators of a new devnet.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// First port of a new devnet (p2p ports, then RPC ports).
    #[arg(long, default_value_t = DEFAULT_BASE_PORT)]
    base_port: u16,
    /// Chain name of a new devnet.
    #[arg(long, default_value = "devnet")]
    chain: String,
    /// Print JSON lines (events and progress) instead of text.
    #[arg(long)]
    json: bool,
    /// Run the demo even when resuming (it runs by default on a new devnet): once blocks
    /// finalize, create DIR/demo.key, deploy the `counter` and `heavy` examples through
    /// validator 0's RPC, send `increment` calls and a `sha256_chain` call, and print their
    /// transaction ids, finalized heights, outputs and fuel.
    #[arg(long, conflicts_with = "no_demo")]
    demo: bool,
    /// Do not run the demo on a new devnet.
    #[arg(long)]
    no_demo: bool,
    /// Regions of the compute fleet (comma-separated); cross-vendor contracts of the demo
    /// require all of them.
    #[arg(long, value_delimiter = ',', default_value = "eu,us")]
    regions: Vec<String>,
    /// Simulated Intel nodes and AMD nodes to run in each region (0: no compute fleet).
    #[arg(long, default_value_t = 1)]
    compute_per_region: usize,
    /// Jobs of one lane a compute committee is given at once, for a new devnet
    /// (`policy.compute.pipeline_depth`; 1 turns pipelining off).
    #[arg(long, default_value_t = crate::genesis::DEFAULT_PIPELINE_DEPTH)]
    pipeline_depth: u32,
}

struct Validator {
    index: usize,
    child: Child,
    data_dir: PathBuf,
    log: PathBuf,
}

pub(crate) fn event(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

/// The configurations of an existing devnet directory, in validator order.
fn existing_configs(dir: &Path) -> Vec<PathBuf> {
    (0..)
        .map(|i| validator_dir(dir, i).join(CONFIG_FILE))
        .take_while(|p| p.exists())
        .collect()
}

pub fn run(args: DevnetArgs) -> Result<()> {
    let dir = &args.dir;
    // A devnet's genesis knows the default regions; its fleet must serve some of them.
    let known = hyperchain_chain::registry::default_regions();
    if let Some(unknown) = args.regions.iter().find(|r| !known.contains(r)) {
        bail!(
            "--regions: `{unknown}` is not one of a devnet chain's regions ({})",
            known.join(", ")
        );
    }
    let fresh = !dir.join(GENESIS_FILE).exists();
    let configs = if !fresh {
        let spec = ChainSpec::load(&dir.join(GENESIS_FILE))?;
        let configs = existing_configs(dir);
        if configs.is_empty() {
            bail!(
                "{} has a genesis but no validator-0/{CONFIG_FILE}",
                dir.display()
            );
        }
        event(
            args.json,
            json!({"event": "resume", "dir": dir, "chain": spec.name,
                   "chain_id": spec.chain_id.to_hex(), "validators": configs.len()}),
            || {
                format!(
                    "resuming chain {} ({}) with {} validators from {}",
                    spec.name,
                    spec.chain_id,
                    configs.len(),
                    dir.display()
                )
            },
        );
        configs
    } else {
        create_network(
            dir,
            args.validators,
            &args.chain,
            args.base_port,
            args.pipeline_depth,
            Events::stdout(args.json),
        )?
    };

    let mut running = start_network(dir, &configs, Events::stdout(args.json))?;
    let rpc = running.rpcs.first().cloned();
    let demo = (fresh || args.demo) && !args.no_demo;
    if !args.json {
        println!("press Ctrl-C to stop; run the same command again to resume");
        if let Some(rpc) = &rpc {
            println!("RPC of validator 0: {rpc} (e.g. `hyperchain status --rpc {rpc}`)");
        }
    }

    let mut fleet: Option<crate::fleet::Fleet> = None;
    let with_fleet = args.compute_per_region > 0 && !args.regions.is_empty();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal handler")
        .and_then(|rt| {
            rt.block_on(async {
                let mut signals = Signals::new()?;
                if let (true, Some(rpc)) = (with_fleet, &rpc) {
                    let start = async {
                        let client = crate::remote::client(rpc)?;
                        crate::demo::wait_for_blocks(&client, args.json).await?;
                        crate::fleet::register_release(dir, &client, Events::stdout(args.json))
                            .await?;
                        crate::fleet::fund_owners(
                            dir,
                            &running.rpcs,
                            2 * args.regions.len() * args.compute_per_region,
                            Events::stdout(args.json),
                        )
                        .await?;
                        let mut started = crate::fleet::start(
                            dir,
                            &running.rpcs,
                            &args.regions,
                            args.compute_per_region,
                            100,
                            Events::stdout(args.json),
                        )?;
                        started.ready(&client).await?;
                        anyhow::Ok(started)
                    };
                    tokio::select! {
                        _ = signals.stopped() => return Ok(()),
                        result = start => match result {
                            Ok(started) => fleet = Some(started),
                            Err(e) => event(
                                args.json,
                                json!({"event": "fleet_failed", "error": format!("{e:#}")}),
                                || format!("compute fleet failed: {e:#}"),
                            ),
                        }
                    }
                }
                if let (true, Some(rpc)) = (demo, &rpc) {
                    let regions = fleet.as_ref().map(|_| args.regions.as_slice());
                    tokio::select! {
                        _ = signals.stopped() => return Ok(()),
                        result = crate::demo::run(dir, rpc, args.json, regions) => {
                            if let Err(e) = result {
                                event(
                                    args.json,
                                    json!({"event": "demo_failed", "error": format!("{e:#}")}),
                                    || format!("demo failed: {e:#}"),
                                );
                            }
                        }
                    }
                }
                watch(&mut running.validators, &mut signals, args.json).await
            })
        });
    if let Some(mut fleet) = fleet {
        fleet.stop();
    }
    running.stop();
    outcome
}

/// Where a network's events go: JSON lines or text, on stdout or (for commands whose stdout
/// is a result, like `bench`) on stderr.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Events {
    pub json: bool,
    pub stderr: bool,
}

impl Events {
    pub fn stdout(json: bool) -> Events {
        Events {
            json,
            stderr: false,
        }
    }

    pub fn emit(self, value: serde_json::Value, text: impl FnOnce() -> String) {
        if !self.stderr {
            return event(self.json, value, text);
        }
        if self.json {
            eprintln!("{value}");
        } else {
            eprintln!("{}", text());
        }
    }
}

/// Creates a new devnet (genesis and validator configurations) in `dir`; returns the
/// configurations in validator order.
pub(crate) fn create_network(
    dir: &Path,
    validators: usize,
    chain: &str,
    base_port: u16,
    pipeline_depth: u32,
    events: Events,
) -> Result<Vec<PathBuf>> {
    let report = init(
        dir,
        validators,
        chain,
        base_port,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        hyperchain_chain::genesis::DevnetOptions {
            compute: crate::genesis::compute_params(pipeline_depth)?,
            fees: hyperchain_chain::fees::FeeSchedule::default(),
            allocations: Vec::new(),
            blocks_per_epoch: None,
        },
        crate::genesis::KeyGeneration::Ceremony,
    )?;
    if events.json {
        events.emit(json!({"event": "genesis", "report": report}), String::new);
    } else if events.stderr {
        eprintln!(
            "genesis of chain {} ({}) with {} validators in {}",
            report.chain,
            report.chain_id,
            report.validators.len(),
            dir.display()
        );
    } else {
        print_init(&report);
    }
    Ok(report.validators.into_iter().map(|v| v.config).collect())
}

/// A devnet's running validator processes.
pub(crate) struct Running {
    validators: Vec<Validator>,
    /// Each validator's RPC base URL, in validator order.
    pub rpcs: Vec<String>,
    events: Events,
}

impl Running {
    /// The validators' process ids, in validator order.
    pub fn pids(&self) -> Vec<u32> {
        self.validators.iter().map(|v| v.child.id()).collect()
    }

    /// Checks that every validator is still running.
    pub fn check_alive(&mut self) -> Result<()> {
        for v in self.validators.iter_mut() {
            if let Some(status) = v.child.try_wait()? {
                bail!(
                    "validator {} exited ({status}); see {}",
                    v.index,
                    v.log.display()
                );
            }
        }
        Ok(())
    }

    /// Stops every validator cleanly (see [`stop_all`]).
    pub fn stop(&mut self) {
        stop_all(&mut self.validators, self.events);
        self.validators.clear();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts one `hyperchain node` process per configuration of the devnet in `dir` (after
/// checking them all), each logging to its directory's [`LOG_FILE`].
pub(crate) fn start_network(dir: &Path, configs: &[PathBuf], events: Events) -> Result<Running> {
    let mut data_dirs = Vec::new();
    let mut rpcs = Vec::new();
    for config in configs {
        let setup = ValidatorSetup::load(config)?;
        rpcs.push(format!("http://{}", setup.config.rpc_listen));
        data_dirs.push(setup.config.data_dir);
    }

    let exe = std::env::current_exe().context("cannot find this executable")?;
    let mut running = Running {
        validators: Vec::new(),
        rpcs,
        events,
    };
    for (index, (config, data_dir)) in configs.iter().zip(data_dirs).enumerate() {
        let log = validator_dir(dir, index).join(LOG_FILE);
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let err = out.try_clone()?;
        // On an error, dropping `running` stops the validators started so far.
        let child = Command::new(&exe)
            .arg("node")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start validator {index}"))?;
        events.emit(
            json!({"event": "started", "validator": index, "pid": child.id(), "log": log}),
            || {
                format!(
                    "validator {index} started (pid {}), log {}",
                    child.id(),
                    log.display()
                )
            },
        );
        running.validators.push(Validator {
            index,
            child,
            data_dir,
            log,
        });
    }
    Ok(running)
}

/// Ctrl-C and SIGTERM.
pub(crate) struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn new() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    /// Returns when either arrives.
    pub(crate) async fn stopped(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// How often progress lines are printed while heights advance.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);

/// Prints progress until Ctrl-C/SIGTERM (Ok) or until a validator exits on its own (Err).
async fn watch(validators: &mut [Validator], signals: &mut Signals, json: bool) -> Result<()> {
    let started = Instant::now();
    let mut shown: Option<Vec<Option<u64>>> = None;
    let mut shown_at = Instant::now();
    loop {
        tokio::select! {
            _ = signals.stopped() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        for v in validators.iter_mut() {
            if let Some(status) = v.child.try_wait()? {
                bail!(
                    "validator {} exited ({status}); see {}",
                    v.index,
                    v.log.display()
                );
            }
        }
        let heights: Vec<Option<u64>> = validators
            .iter()
            .map(|v| {
                Status::load(&status_path(&v.data_dir))
                    .ok()
                    .map(|s| s.height)
            })
            .collect();
        // A line when heights change, at most every few seconds (blocks are frequent), and
        // one now and then even when nothing moves, so a stall is visible.
        let changed = shown.as_ref() != Some(&heights);
        let due = shown.is_none()
            || (changed && shown_at.elapsed() >= PROGRESS_EVERY)
            || shown_at.elapsed() >= 3 * PROGRESS_EVERY;
        if due {
            let elapsed = started.elapsed().as_secs_f64();
            event(
                json,
                json!({"event": "progress", "elapsed_s": elapsed, "finalized_heights": heights}),
                || {
                    let list: Vec<String> = heights
                        .iter()
                        .enumerate()
                        .map(|(i, h)| match h {
                            Some(h) => format!("v{i} {h:>5}"),
                            None => format!("v{i}     -"),
                        })
                        .collect();
                    format!("[{elapsed:>7.1}s] finalized  {}", list.join("  "))
                },
            );
            shown = Some(heights);
            shown_at = Instant::now();
        }
    }
}

/// Sends SIGTERM to every running child, then returns each one's exit status as it exits,
/// killing the ones still running after `grace`.
pub(crate) fn stop_children<'a>(
    children: impl IntoIterator<Item = &'a mut Child>,
    grace: Duration,
) -> Vec<Option<std::process::ExitStatus>> {
    use rustix::process::{Pid, Signal, kill_process};
    let mut children: Vec<&mut Child> = children.into_iter().collect();
    for child in children.iter_mut() {
        if matches!(child.try_wait(), Ok(None)) {
            // Already gone if it exited meanwhile; nothing else to do then.
            let _ = kill_process(Pid::from_child(child), Signal::TERM);
        }
    }
    let deadline = Instant::now() + grace;
    children
        .into_iter()
        .map(|child| {
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => break Some(status),
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        let _ = child.kill();
                        break child.wait().ok();
                    }
                }
            }
        })
        .collect()
}

/// Stops every running validator ([`stop_children`]) and reports the height each stopped at.
fn stop_all(validators: &mut [Validator], events: Events) {
    let statuses = stop_children(validators.iter_mut().map(|v| &mut v.child), STOP_GRACE);
    for (v, status) in validators.iter_mut().zip(statuses) {
        let height = Status::load(&status_path(&v.data_dir))
            .ok()
            .map(|s| s.height);
        let code = status.and_then(|s| s.code());
        events.emit(
            json!({"event": "stopped", "validator": v.index, "exit_code": code, "height": height}),
            || {
                format!(
                    "validator {} stopped ({}) at height {}",
                    v.index,
                    status.map_or("unknown status".into(), |s| s.to_string()),
                    height.map_or("-".into(), |h| h.to_string())
                )
            },
        );
    }
}
