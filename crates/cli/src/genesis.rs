//! `hyperchain genesis …`: create a devnet genesis (validator keys, threshold shares, node
//! configurations) and inspect genesis documents.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use hyperchain_chain::config::NodeConfig;
use hyperchain_chain::fees::FeeSchedule;
use hyperchain_chain::genesis::{ChainSpec, DevnetOptions, deal_devnet_with};
use hyperchain_chain::registry::ComputeParams;
pub use hyperchain_chain::registry::DEFAULT_PIPELINE_DEPTH;
use serde::Serialize;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Genesis document inside a devnet directory.
pub const GENESIS_FILE: &str = "genesis.json";
/// The faucet account's key inside a devnet directory (funded at genesis).
pub const FAUCET_KEY_FILE: &str = "faucet.key";
/// A validator's key file inside its directory.
pub const VALIDATOR_KEY_FILE: &str = "validator.key";
/// A validator's configuration inside its directory.
pub const CONFIG_FILE: &str = "config.json";
/// Default first port of a devnet.
pub const DEFAULT_BASE_PORT: u16 = 30400;

#[derive(Subcommand, Debug)]
pub enum GenesisCommand {
    /// Create a devnet: a genesis, every validator's keys and a node configuration each.
    ///
    /// DEVNETS ONLY: this command is a trusted dealer. It generates every validator's
    /// identity key and threshold-BLS share, so whoever runs it (or can read DIR) can sign
    /// for the whole chain. Writes DIR/genesis.json, DIR/faucet.key (an
    /// account funded with one billion HYP at genesis) and, for each
    /// validator i, DIR/validator-i/{validator.key,config.json}. Validator i listens for p2p
    /// on HOST:(BASE_PORT + i) and for RPC on HOST:(BASE_PORT + N + i).
    Init {
        /// Number of validators (4 tolerates one fault).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Directory to create the devnet in (must not hold a genesis yet).
        #[arg(long)]
        dir: PathBuf,
        /// Chain name (part of the chain id).
        #[arg(long, default_value = "devnet")]
        chain: String,
        /// First port (p2p ports first, then RPC ports).
        #[arg(long, default_value_t = DEFAULT_BASE_PORT)]
        base_port: u16,
        /// Address the validators listen on and dial each other at.
        #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
        host: IpAddr,
        /// Jobs of one lane a compute committee is given at once (`policy.compute.pipeline_depth`:
        /// the head and the jobs behind it ordered before its seed; 1 turns pipelining off).
        #[arg(long, default_value_t = DEFAULT_PIPELINE_DEPTH)]
        pipeline_depth: u32,
        /// A chain whose fee schedule charges nothing (`policy.fees` all zeros). By default
        /// every transaction pays by the default schedule (docs/DESIGN.md §10).
        #[arg(long)]
        no_fees: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate a genesis document and show its chain id, validators and group key.
    Show {
        /// The genesis document.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// One validator of a devnet created by [`init`].
#[derive(Debug, Serialize)]
pub struct InitValidator {
    pub index: usize,
    pub public_key: String,
    pub p2p: SocketAddr,
    pub rpc: SocketAddr,
    pub config: PathBuf,
}

/// What [`init`] created.
#[derive(Debug, Serialize)]
pub struct InitReport {
    pub chain: String,
    pub chain_id: String,
    pub genesis: PathBuf,
    pub faucet_key: PathBuf,
    pub faucet: String,
    pub validators: Vec<InitValidator>,
}

/// The directory of validator `index` in a devnet directory.
pub fn validator_dir(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("validator-{index}"))
}

/// Creates a devnet in `dir` (see `GenesisCommand::Init`).
/// `policy.compute` with `pipeline_depth` (checked) and the other defaults.
pub fn compute_params(pipeline_depth: u32) -> Result<ComputeParams> {
    let params = ComputeParams {
        pipeline_depth,
        ..ComputeParams::default()
    };
    params
        .validate()
        .map_err(|e| anyhow::anyhow!("--pipeline-depth: {e}"))?;
    Ok(params)
}

pub fn init(
    dir: &Path,
    validators: usize,
    chain: &str,
    base_port: u16,
    host: IpAddr,
    compute: ComputeParams,
    fees: FeeSchedule,
) -> Result<InitReport> {
    if validators == 0 {
        bail!("--validators must be at least 1");
    }
    let last_port = base_port as usize + 2 * validators - 1;
    if base_port == 0 || last_port > u16::MAX as usize {
        bail!("ports {base_port}..={last_port} are not all valid ports: lower --base-port");
    }
    let genesis = dir.join(GENESIS_FILE);
    if genesis.exists() {
        bail!(
            "{} already exists: remove the directory to start a new chain",
            genesis.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let port = |i: usize| base_port + i as u16;
    let p2p: Vec<SocketAddr> = (0..validators)
        .map(|i| SocketAddr::new(host, port(i)))
        .collect();
    let timestamp_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_millis() as u64;
    let devnet = deal_devnet_with(
        commonware_utils::sys_rng(),
        chain,
        timestamp_ms,
        &p2p,
        DevnetOptions {
            compute,
            fees,
            allocations: Vec::new(),
        },
    )?;

    let mut report = InitReport {
        chain: devnet.spec.name.clone(),
        chain_id: devnet.spec.chain_id.to_hex(),
        genesis: genesis.clone(),
        faucet_key: dir.join(FAUCET_KEY_FILE),
        faucet: devnet.faucet.address().to_hex(),
        validators: Vec::new(),
    };
    for (i, key) in devnet.validator_keys.iter().enumerate() {
        let vdir = validator_dir(dir, i);
        std::fs::create_dir_all(&vdir)
            .with_context(|| format!("cannot create {}", vdir.display()))?;
        key.save(&vdir.join(VALIDATOR_KEY_FILE))?;
        let config = NodeConfig {
            genesis: Path::new("..").join(GENESIS_FILE),
            key: VALIDATOR_KEY_FILE.into(),
            data_dir: "data".into(),
            p2p_listen: p2p[i],
            rpc_listen: SocketAddr::new(host, port(validators + i)),
            mempool_capacity: hyperchain_chain::config::DEFAULT_MEMPOOL_CAPACITY,
            worker_threads: hyperchain_chain::config::DEFAULT_WORKER_THREADS,
        };
        let config_path = vdir.join(CONFIG_FILE);
        config.save(&config_path)?;
        report.validators.push(InitValidator {
            index: i,
            public_key: hex::encode(commonware_codec::Encode::encode(&key.public_key())),
            p2p: config.p2p_listen,
            rpc: config.rpc_listen,
            config: config_path,
        });
    }
    devnet.faucet.save(&report.faucet_key)?;
    // Written last: a directory with a genesis is complete.
    devnet.spec.save(&genesis)?;
    Ok(report)
}

pub fn print_init(report: &InitReport) {
    println!(
        "chain {} ({} validators), chain id {}",
        report.chain,
        report.validators.len(),
        report.chain_id
    );
    println!("  genesis         {}", report.genesis.display());
    println!(
        "  faucet key      {} (account 0x{}, {})",
        report.faucet_key.display(),
        report.faucet,
        hyperchain_chain::fees::format_amount(hyperchain_chain::genesis::DEVNET_FAUCET_BALANCE)
    );
    for v in &report.validators {
        println!(
            "  validator {}  p2p {}  rpc {}  config {}",
            v.index,
            v.p2p,
            v.rpc,
            v.config.display()
        );
    }
    println!("  (devnet dealer: these files hold every validator's secrets)");
}

pub fn run(cmd: GenesisCommand) -> Result<()> {
    match cmd {
        GenesisCommand::Init {
            validators,
            dir,
            chain,
            base_port,
            host,
            pipeline_depth,
            no_fees,
            json,
        } => {
            let compute = compute_params(pipeline_depth)?;
            let fees = if no_fees {
                FeeSchedule::FREE
            } else {
                FeeSchedule::default()
            };
            let report = init(&dir, validators, &chain, base_port, host, compute, fees)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_init(&report);
                println!(
                    "start a validator with: hyperchain node --config {}",
                    report.validators[0].config.display()
                );
            }
            Ok(())
        }
        GenesisCommand::Show { file, json } => {
            let spec = ChainSpec::load(&file)?;
            let doc = spec.to_doc();
            if json {
                println!(
                    "{}",
                    json!({
                        "chain": doc.chain,
                        "chain_id": doc.chain_id,
                        "timestamp_ms": doc.timestamp_ms,
                        "validators": doc.validators,
                        "threshold": spec.polynomial.required(),
                        "group_public_key": doc.group_public_key,
                        "governance": "proposals approved by 2f+1 validators",
                        "execution_modes": doc.policy.execution_modes,
                        "compute": doc.policy.compute,
                    })
                );
            } else {
                println!("chain            {}", doc.chain);
                println!("chain id         {}", spec.chain_id);
                println!("timestamp (ms)   {}", doc.timestamp_ms);
                println!(
                    "validators       {} (threshold {})",
                    doc.validators.len(),
                    spec.polynomial.required()
                );
                for v in &doc.validators {
                    println!("  {}  {}", v.public_key, v.address);
                }
                println!("group public key {}", spec.group_public_key_hex());
                println!(
                    "governance       proposals approved by {} of the {} validators",
                    hyperchain_chain::governance::quorum(doc.validators.len()),
                    doc.validators.len()
                );
                println!("execution modes  {}", doc.policy.execution_modes.join(", "));
                println!("regions          {}", doc.policy.regions.join(", "));
                let c = &doc.policy.compute;
                println!(
                    "compute          job deadline {} ms, suspend for {} ms after {} missed \
                     deadlines ({} blocks of grace), retry a stalled job every {} ms, fail it \
                     after {} ms, pipeline depth {}",
                    c.job_deadline_ms,
                    c.suspension_ms,
                    c.suspend_after_failures,
                    c.deadline_grace_blocks,
                    c.stall_retry_ms,
                    c.max_stall_ms,
                    c.pipeline_depth
                );
            }
            Ok(())
        }
    }
}
