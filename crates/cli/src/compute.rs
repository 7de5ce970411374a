//! `hyperchain compute`: run a compute node (docs/COMPUTE.md).

use crate::registry::DEVNET_RUNTIME_IMAGE;
use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use commonware_runtime::Runner as _;
use hyperchain_attest::sim::SimFlavour;
use hyperchain_chain::genesis::ChainSpec;
use hyperchain_chain::light::LightClient;
use hyperchain_compute::client::HttpClient;
use hyperchain_compute::daemon::{ComputeNode, DaemonConfig, Event, Fault};
use hyperchain_compute::enclave::Enclave;
use hyperchain_compute::providers::{self, EvidenceProvider, ProviderOptions, SimProvider};
use hyperchain_vm::{Engine, EngineConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Run a compute node: generate an identity key inside the (simulated or real) TEE, register
/// it with attestation evidence, then execute the jobs committees assign to it and send
/// signed receipts to the validators.
///
/// Progress is printed as one line per event (`--json`: one JSON object per line). The node
/// re-attests halfway through its membership's validity and stops cleanly on Ctrl-C. A
/// restart registers a new identity (the old key never leaves the old enclave).
#[derive(Args, Debug)]
pub struct ComputeArgs {
    /// The TEE platform: sim-intel, sim-amd (devnets), sgx (Gramine), sev-snp (configfs-tsm or
    /// /dev/sev-guest). See docs/EVIDENCE_PROVIDERS.md.
    #[arg(long)]
    platform: String,
    /// The region this node serves (committees of cross-vendor contracts are drawn per region).
    #[arg(long)]
    region: String,
    /// The genesis file: the chain id and the group public key every answer is verified with.
    #[arg(long)]
    genesis: PathBuf,
    /// A validator's RPC URL; repeat for several: reads go to the first that can be reached,
    /// receipts to the first that accepts them (it gossips them to the others).
    #[arg(long, required = true)]
    rpc: Vec<String>,
    /// sim-*: the runtime image whose simulated measurement goes in the evidence (default:
    /// the devnet runtime release).
    #[arg(long)]
    image: Option<PathBuf>,
    /// sim-*: seed of the simulated platform key, hex (default: random, a distinct machine).
    #[arg(long)]
    platform_seed: Option<String>,
    /// sgx: Gramine's attestation directory.
    #[arg(long)]
    gramine_root: Option<PathBuf>,
    /// sgx: DCAP collateral JSON file (from the operator's PCCS).
    #[arg(long)]
    dcap_collateral: Option<PathBuf>,
    /// sev-snp: configfs-tsm report directory.
    #[arg(long)]
    tsm_root: Option<PathBuf>,
    /// sev-snp: use /dev/sev-guest instead of configfs-tsm.
    #[arg(long)]
    sev_guest_device: bool,
    /// sev-snp: VCEK certificate file, when the host supplies none.
    #[arg(long)]
    snp_vcek: Option<PathBuf>,
    /// sev-snp: ASK (+ARK) certificate chain file, when the host supplies none.
    #[arg(long)]
    snp_cert_chain: Option<PathBuf>,
    /// How often to look for new jobs, in milliseconds.
    #[arg(long, default_value_t = 100)]
    poll_ms: u64,
    /// Jobs executed at once (of different lanes).
    #[arg(long, default_value_t = 2)]
    parallel: usize,
    /// How long to wait for the registration to be finalized, in seconds.
    #[arg(long, default_value_t = 60)]
    register_timeout: u64,
    /// Misbehave on purpose, to test the chain's defences on a devnet (docs/COMPUTE.md, "For
    /// testers"): none, wrong-result (signs wrong outputs), silent (never answers) or replay
    /// (also resends other nodes' old receipts).
    #[arg(long, default_value = "none")]
    fault: Fault,
    /// The owner account's key file (`hyperchain keys new`): it signs the registration (the
    /// evidence binds it), pays the node's fees and receives its payments. Without it the
    /// node's own identity account owns it, which on a chain with fees holds nothing.
    #[arg(long)]
    owner_key: Option<std::path::PathBuf>,
    /// Print one JSON object per event.
    #[arg(long)]
    json: bool,
}

fn provider(args: &ComputeArgs) -> Result<Arc<dyn EvidenceProvider>> {
    let seed = match &args.platform_seed {
        Some(hex_seed) => hex::decode(hex_seed.trim_start_matches("0x"))
            .map_err(|e| anyhow!("--platform-seed is not hex: {e}"))?,
        None => {
            let key = hyperchain_chain::genesis::AccountKey::generate(commonware_utils::sys_rng());
            key.address().0.to_vec()
        }
    };
    let flavour = match args.platform.as_str() {
        "sim-intel" => Some(SimFlavour::Intel),
        "sim-amd" => Some(SimFlavour::Amd),
        _ => None,
    };
    if let (Some(flavour), None) = (flavour, &args.image) {
        return Ok(Arc::new(SimProvider::new(
            flavour,
            &seed,
            DEVNET_RUNTIME_IMAGE.to_vec(),
        )));
    }
    let options = ProviderOptions {
        image: args.image.clone(),
        platform_seed: Some(seed),
        gramine_root: args.gramine_root.clone(),
        dcap_collateral: args.dcap_collateral.clone(),
        tsm_root: args.tsm_root.clone(),
        sev_guest_device: args.sev_guest_device,
        snp_vcek: args.snp_vcek.clone(),
        snp_cert_chain: args.snp_cert_chain.clone(),
        ..ProviderOptions::default()
    };
    Ok(Arc::from(
        providers::from_platform_name(&args.platform, &options)
            .map_err(|e| anyhow!("--platform {}: {e}", args.platform))?,
    ))
}

fn print(event: &Event, json: bool) {
    if json {
        if let Ok(line) = serde_json::to_string(event) {
            println!("{line}");
        }
        return;
    }
    match event {
        Event::Registered {
            node,
            platform,
            region,
            height,
        } => println!("registered  node 0x{node} ({platform}, region {region}) at height {height}"),
        Event::Reattested { height } => println!("re-attested at height {height}"),
        Event::Executed {
            job,
            lane_seq,
            attempt,
            status,
            fuel_used,
            millis,
            reads,
            ..
        } => println!(
            "executed    job 0x{job} (lane position {lane_seq}, attempt {attempt}): {status}, \
             {fuel_used} fuel, {millis} ms, {reads} proven reads; receipt sent"
        ),
        Event::Replayed { job, signer, tx } => {
            println!("replayed    node 0x{signer}'s receipt for job 0x{job} in tx 0x{tx}")
        }
        Event::Skipped { job, reason } => println!("skipped     job 0x{job}: {reason}"),
        Event::Warning { message } => eprintln!("warning: {message}"),
    }
}

/// Runs `hyperchain compute`.
pub fn run(args: ComputeArgs) -> Result<()> {
    if args.region.is_empty() {
        bail!("--region must not be empty");
    }
    let spec = ChainSpec::load(&args.genesis)
        .with_context(|| format!("cannot load the genesis {}", args.genesis.display()))?;
    let provider = provider(&args)?;
    let engine =
        Engine::new(EngineConfig::default()).map_err(|e| anyhow!("contract engine: {e}"))?;
    let enclave = Enclave::new(LightClient::from_spec(&spec), engine);
    let config = DaemonConfig {
        region: args.region.clone(),
        poll: Duration::from_millis(args.poll_ms.max(10)),
        register_timeout: Duration::from_secs(args.register_timeout),
        fault: args.fault,
        parallel: args.parallel,
        owner: match &args.owner_key {
            Some(path) => Some(
                hyperchain_chain::genesis::AccountKey::load(path)
                    .with_context(|| format!("--owner-key {}", path.display()))?
                    .0,
            ),
            None => None,
        },
    };
    let client = HttpClient::new(&args.rpc).map_err(|e| anyhow!("--rpc: {e}"))?;
    let json = args.json;
    // The daemon runs on commonware's runtime traits; a process runs it on the tokio runtime.
    // It stores nothing: the runtime's storage directory is a temporary one.
    let storage = tempfile::tempdir().context("cannot create a temporary directory")?;
    let runtime = commonware_runtime::tokio::Config::new()
        .with_worker_threads(2)
        .with_storage_directory(storage.path());
    commonware_runtime::tokio::Runner::new(runtime).start(|context| async move {
        let mut signals = crate::devnet::Signals::new()?;
        let shutdown = async move { signals.stopped().await };
        let node = ComputeNode::new(context, enclave, provider, client, config)?;
        node.run(true, move |event| print(&event, json), shutdown)
            .await
            .map_err(|e| anyhow!("{e}"))
    })
}
