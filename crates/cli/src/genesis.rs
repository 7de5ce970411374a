//! `hyperchain genesis …`: create a devnet genesis (validator keys, threshold shares, node
//! configurations) and inspect genesis documents.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use hyperchain_chain::config::NodeConfig;
use hyperchain_chain::fees::FeeSchedule;
use hyperchain_chain::genesis::{
    AccountKey, ChainSpec, DevnetOptions, Draft, ValidatorIdentity, ValidatorKey, deal_devnet_with,
    devnet_draft,
};
use hyperchain_chain::registry::ComputeParams;
pub use hyperchain_chain::registry::DEFAULT_PIPELINE_DEPTH;
use serde::Serialize;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Genesis document inside a devnet directory.
pub const GENESIS_FILE: &str = "genesis.json";
/// The draft genesis a devnet's ceremony completed, inside a devnet directory.
pub const DRAFT_FILE: &str = "genesis.draft.json";
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
    /// Create a devnet on this host: a genesis, every validator's keys and a node
    /// configuration each.
    ///
    /// Each validator generates its identity key in its own process (`genesis keygen`) and
    /// the validators generate the threshold key together in a ceremony over loopback
    /// (`genesis ceremony`), so no process holds another's share (`--dealer` deals them all
    /// in one process instead: tests only). Writes DIR/genesis.json, DIR/genesis.draft.json,
    /// DIR/faucet.key (an account funded with one billion HYP at genesis) and, for each
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
        /// TESTS ONLY: one process deals every validator's key and share (it could sign for
        /// the whole chain), instead of the validators' ceremony.
        #[arg(long)]
        dealer: bool,
        /// Blocks per epoch, each ending with a resharing of the key (default 2,048; at least
        /// 2·⌈4·n·ln n + 64⌉ for n validators: 174 for 4).
        #[arg(long)]
        blocks_per_epoch: Option<u64>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Generate a validator's identity key (ed25519, mode 0600), the first step of a genesis
    /// ceremony: send its public key and p2p address to whoever writes the draft genesis. The
    /// threshold share is added by `genesis ceremony`.
    Keygen {
        /// The key file to create (e.g. validator.key).
        #[arg(long)]
        out: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a draft genesis for a ceremony: the validators (their public keys and p2p
    /// addresses, from `genesis keygen`), the devnet policy (every execution mode, simulated
    /// platforms allowed) and fee schedule, each validator's account funded. Edit its policy
    /// and allocations as the chain needs before handing it to every validator.
    Draft {
        /// A validator: PUBLIC_KEY@HOST:PORT (repeat for each; 1 to 1,024).
        #[arg(long = "validator", required = true)]
        validators: Vec<String>,
        /// Chain name (part of the chain id).
        #[arg(long, default_value = "devnet")]
        chain: String,
        /// An account to fund with one billion HYP (e.g. a faucet's address).
        #[arg(long)]
        faucet: Option<hyperchain_types::Address>,
        /// `policy.compute.pipeline_depth`.
        #[arg(long, default_value_t = DEFAULT_PIPELINE_DEPTH)]
        pipeline_depth: u32,
        /// A chain whose fee schedule charges nothing.
        #[arg(long)]
        no_fees: bool,
        /// The draft to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run this validator's part of the genesis ceremony: with the other validators of the
    /// draft (each running this command on its host, reachable at its draft address), generate
    /// the chain's threshold key by a distributed key generation. No one, this process
    /// included, ever holds another validator's share.
    ///
    /// On success, adds this validator's share to its key file and writes the complete genesis
    /// (the same on every host: compare the chain ids printed). It fails, changing nothing, if
    /// a validator missed the ceremony (its share would be public): run it again with every
    /// validator online and a new --data-dir. Exit 0 on success, 1 otherwise.
    Ceremony {
        /// The draft genesis (`genesis draft`), identical on every host.
        #[arg(long)]
        genesis: PathBuf,
        /// This validator's key file (`genesis keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the complete genesis.
        #[arg(long)]
        out: PathBuf,
        /// Listen address (default: this validator's address in the draft; e.g. 0.0.0.0:PORT
        /// behind NAT).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// The ceremony's storage (default: ceremony/ beside the key file). Rerun with the
        /// same directory to resume after a crash.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Seconds to keep serving the other validators after completing, so that slower
        /// ones complete too.
        #[arg(long, default_value_t = 10)]
        linger: u64,
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
    pub key_generation: KeyGeneration,
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

/// How a devnet's threshold key is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyGeneration {
    /// Each validator generates its identity key in its own process, and the validators run
    /// the genesis ceremony over loopback: no process holds another's share.
    Ceremony,
    /// One process deals every key and share (tests only: it could sign for the chain alone).
    Dealer,
}

pub fn init(
    dir: &Path,
    validators: usize,
    chain: &str,
    base_port: u16,
    host: IpAddr,
    options: DevnetOptions,
    keys: KeyGeneration,
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
    let (spec, faucet) = match keys {
        KeyGeneration::Dealer => {
            let devnet = deal_devnet_with(
                commonware_utils::sys_rng(),
                chain,
                timestamp_ms,
                &p2p,
                options,
            )?;
            for (i, key) in devnet.validator_keys.iter().enumerate() {
                let vdir = validator_dir(dir, i);
                std::fs::create_dir_all(&vdir)
                    .with_context(|| format!("cannot create {}", vdir.display()))?;
                key.save(&vdir.join(VALIDATOR_KEY_FILE))?;
            }
            (devnet.spec, devnet.faucet)
        }
        KeyGeneration::Ceremony => {
            let faucet = AccountKey::generate(commonware_utils::sys_rng());
            let spec = ceremony_over_loopback(dir, chain, timestamp_ms, &p2p, &faucet, options)?;
            (spec, faucet)
        }
    };

    let mut report = InitReport {
        chain: spec.name.clone(),
        chain_id: spec.chain_id.to_hex(),
        genesis: genesis.clone(),
        faucet_key: dir.join(FAUCET_KEY_FILE),
        faucet: faucet.address().to_hex(),
        key_generation: keys,
        validators: Vec::new(),
    };
    for (i, v) in spec.validators.iter().enumerate() {
        let vdir = validator_dir(dir, i);
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
            public_key: hex::encode(commonware_codec::Encode::encode(&v.public_key)),
            p2p: config.p2p_listen,
            rpc: config.rpc_listen,
            config: config_path,
        });
    }
    faucet.save(&report.faucet_key)?;
    // Written last: a directory with a genesis is complete.
    spec.save(&genesis)?;
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
    match report.key_generation {
        KeyGeneration::Dealer => {
            println!("  (devnet dealer: these files hold every validator's secrets)")
        }
        KeyGeneration::Ceremony => println!(
            "  (threshold key made by the validators' ceremony: each share exists only in its \
             validator's key file)"
        ),
    }
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
            dealer,
            blocks_per_epoch,
            json,
        } => {
            let compute = compute_params(pipeline_depth)?;
            let fees = if no_fees {
                FeeSchedule::FREE
            } else {
                FeeSchedule::default()
            };
            let keys = if dealer {
                KeyGeneration::Dealer
            } else {
                KeyGeneration::Ceremony
            };
            let options = DevnetOptions {
                compute,
                fees,
                allocations: Vec::new(),
                blocks_per_epoch,
            };
            let report = init(&dir, validators, &chain, base_port, host, options, keys)?;
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
        GenesisCommand::Keygen { out, json } => {
            let identity = ValidatorIdentity::generate(&mut commonware_utils::sys_rng());
            identity.save(&out)?;
            let public_key = hex::encode(commonware_codec::Encode::encode(&identity.public_key()));
            if json {
                println!("{}", json!({"public_key": public_key, "file": out}));
            } else {
                println!("validator identity key written to {}", out.display());
                println!("public key {public_key}");
                println!(
                    "give it, with this validator's p2p address, to whoever writes the draft \
                     genesis (`hyperchain genesis draft --validator {public_key}@HOST:PORT ...`)"
                );
            }
            Ok(())
        }
        GenesisCommand::Draft {
            validators,
            chain,
            faucet,
            pipeline_depth,
            no_fees,
            out,
        } => {
            let mut entries = Vec::new();
            for v in &validators {
                entries.push(parse_validator(v)?);
            }
            let fees = if no_fees {
                FeeSchedule::FREE
            } else {
                FeeSchedule::default()
            };
            let timestamp_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .context("the clock is before 1970")?
                .as_millis() as u64;
            let draft = devnet_draft(
                &chain,
                timestamp_ms,
                &entries,
                faucet,
                DevnetOptions {
                    compute: compute_params(pipeline_depth)?,
                    fees,
                    allocations: Vec::new(),
                    blocks_per_epoch: None,
                },
            )?;
            save_draft(&draft, &out)?;
            eprintln!(
                "draft genesis of chain {chain} with {} validators written to {}; each \
                 validator runs `hyperchain genesis ceremony --genesis {} --key validator.key \
                 --out genesis.json`",
                entries.len(),
                out.display(),
                out.display()
            );
            Ok(())
        }
        GenesisCommand::Ceremony {
            genesis,
            key,
            out,
            listen,
            data_dir,
            linger,
            json,
        } => {
            let done = ceremony(&genesis, &key, &out, listen, data_dir, linger, json)?;
            if json {
                println!(
                    "{}",
                    json!({
                        "chain": done.spec.name,
                        "chain_id": done.spec.chain_id.to_hex(),
                        "group_public_key": done.spec.group_public_key_hex(),
                        "genesis": out,
                        "key": key,
                        "share_index": done.key.share.index.get(),
                    })
                );
            } else {
                println!(
                    "ceremony complete: chain {} id {}",
                    done.spec.name, done.spec.chain_id
                );
                println!("  group public key {}", done.spec.group_public_key_hex());
                println!("  genesis          {}", out.display());
                println!("  share added to   {}", key.display());
                println!("compare the chain id with the other validators before starting nodes");
            }
            Ok(())
        }
        GenesisCommand::Show { file, json } => {
            let raw = hyperchain_chain::genesis::read_doc(&file)?;
            if raw.dkg_output.is_empty() {
                let draft = Draft::from_doc(&raw)?;
                if json {
                    println!(
                        "{}",
                        json!({
                            "draft": true,
                            "chain": draft.name,
                            "timestamp_ms": draft.timestamp_ms,
                            "validators": raw.validators,
                        })
                    );
                } else {
                    println!(
                        "draft genesis of chain {} with {} validators: not complete until its \
                         validators run `hyperchain genesis ceremony`",
                        draft.name,
                        draft.validators.len()
                    );
                    for v in &raw.validators {
                        println!("  {}  {}", v.public_key, v.address);
                    }
                }
                return Ok(());
            }
            let spec = ChainSpec::from_doc(&raw)?;
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
                        "dealers": spec.dkg_output.dealers().len(),
                        "blocks_per_epoch": spec.blocks_per_epoch,
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
                println!("epoch length     {} blocks", spec.blocks_per_epoch);
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

/// `PUBLIC_KEY@HOST:PORT`.
fn parse_validator(text: &str) -> Result<(hyperchain_types::consensus::PublicKey, SocketAddr)> {
    use commonware_codec::DecodeExt as _;
    let (key, address) = text
        .split_once('@')
        .ok_or_else(|| anyhow::anyhow!("--validator `{text}`: expected PUBLIC_KEY@HOST:PORT"))?;
    let raw = hex::decode(key.trim_start_matches("0x"))
        .map_err(|e| anyhow::anyhow!("--validator `{text}`: public key: {e}"))?;
    let key = hyperchain_types::consensus::PublicKey::decode(bytes::Bytes::from(raw))
        .map_err(|e| anyhow::anyhow!("--validator `{text}`: not an ed25519 public key: {e}"))?;
    let address: SocketAddr = address
        .parse()
        .map_err(|e| anyhow::anyhow!("--validator `{text}`: address: {e}"))?;
    Ok((key, address))
}

/// Writes `draft` to a new file.
fn save_draft(draft: &Draft, path: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(&draft.to_doc())? + "\n";
    hyperchain_chain::genesis::write_new(path, json.as_bytes(), 0o644)?;
    Ok(())
}

/// This validator's part of a ceremony (see `GenesisCommand::Ceremony`): the complete genesis
/// and key, once written.
fn ceremony(
    genesis: &Path,
    key_path: &Path,
    out: &Path,
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    linger: u64,
    json: bool,
) -> Result<hyperchain_chain::ceremony::Completed> {
    use hyperchain_chain::ceremony::{ProcessOptions, run_process};
    if out.exists() {
        bail!("{} already exists: choose another --out", out.display());
    }
    let draft = Draft::load(genesis)?;
    let identity = ValidatorIdentity::load(key_path)?;
    let me = identity.public_key();
    let Some(entry) = draft.validators.iter().find(|v| v.public_key == me) else {
        bail!(
            "the key in {} ({}) is not one of the draft's validators",
            key_path.display(),
            hex::encode(commonware_codec::Encode::encode(&me))
        );
    };
    // A key that already holds a share keeps it unless this ceremony (resumed) produced it.
    let existing = ValidatorKey::load(key_path).ok();
    let data_dir = data_dir.unwrap_or_else(|| {
        key_path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("ceremony")
    });
    let options = ProcessOptions {
        draft: draft.clone(),
        identity,
        listen: listen.unwrap_or(entry.address),
        data_dir,
        linger: std::time::Duration::from_secs(linger),
    };
    let quiet = json;
    let done = run_process(options, move |line| {
        if !quiet {
            eprintln!("ceremony: {line}");
        }
    })?;
    match existing {
        Some(old) if old.share == done.key.share => {}
        Some(_) => bail!(
            "{} already holds a different threshold share: use a new key for a new ceremony",
            key_path.display()
        ),
        None => done.key.replace(key_path)?,
    }
    done.spec.save(out)?;
    Ok(done)
}

/// The devnet's validators generate their identity keys, each in its own process, and run the
/// ceremony over loopback, each in its own process: the complete genesis.
fn ceremony_over_loopback(
    dir: &Path,
    chain: &str,
    timestamp_ms: u64,
    p2p: &[SocketAddr],
    faucet: &AccountKey,
    options: DevnetOptions,
) -> Result<ChainSpec> {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().context("cannot find this program to run the ceremony")?;
    let mut validators = Vec::new();
    for (i, address) in p2p.iter().enumerate() {
        let vdir = validator_dir(dir, i);
        std::fs::create_dir_all(&vdir)
            .with_context(|| format!("cannot create {}", vdir.display()))?;
        let out = Command::new(&exe)
            .args(["genesis", "keygen", "--json", "--out"])
            .arg(vdir.join(VALIDATOR_KEY_FILE))
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run `genesis keygen`")?;
        if !out.status.success() {
            bail!("validator {i}'s `genesis keygen` failed");
        }
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let key = report["public_key"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("`genesis keygen` printed no public key"))?;
        validators.push(parse_validator(&format!("{key}@{address}"))?);
    }
    let draft = devnet_draft(
        chain,
        timestamp_ms,
        &validators,
        Some(faucet.address()),
        options,
    )?;
    let draft_path = dir.join(DRAFT_FILE);
    let _ = std::fs::remove_file(&draft_path);
    save_draft(&draft, &draft_path)?;
    eprintln!(
        "genesis ceremony among {} validators over loopback (each in its own process)…",
        p2p.len()
    );
    let children: Vec<_> = (0..p2p.len())
        .map(|i| {
            let vdir = validator_dir(dir, i);
            let _ = std::fs::remove_file(vdir.join(GENESIS_FILE));
            let _ = std::fs::remove_dir_all(vdir.join("ceremony"));
            Command::new(&exe)
                .args([
                    "genesis",
                    "ceremony",
                    "--json",
                    "--linger",
                    "2",
                    "--genesis",
                ])
                .arg(&draft_path)
                .arg("--key")
                .arg(vdir.join(VALIDATOR_KEY_FILE))
                .arg("--out")
                .arg(vdir.join(GENESIS_FILE))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .context("cannot run `genesis ceremony`")
        })
        .collect::<Result<_>>()?;
    let mut failures = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            failures.push(format!(
                "validator {i}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    if !failures.is_empty() {
        bail!("the genesis ceremony failed:\n{}", failures.join("\n"));
    }
    let mut spec: Option<ChainSpec> = None;
    for i in 0..p2p.len() {
        let path = validator_dir(dir, i).join(GENESIS_FILE);
        let theirs = ChainSpec::load(&path)?;
        if let Some(first) = &spec
            && first.chain_id != theirs.chain_id
        {
            bail!(
                "validator {i} completed a different genesis ({})",
                theirs.chain_id
            );
        }
        std::fs::remove_file(&path)?;
        let _ = std::fs::remove_dir_all(validator_dir(dir, i).join("ceremony"));
        spec.get_or_insert(theirs);
    }
    spec.ok_or_else(|| anyhow::anyhow!("no validators"))
}
