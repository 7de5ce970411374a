//! Compute-node registry commands: `hyperchain node register | reattest | list | show |
//! membership`, `hyperchain governance ...` and `hyperchain token get | verify`.

use crate::remote::{
    Conn, Wait, client, exit_for, load_key, print_receipt, receipt_json, rpc_error, runtime,
    submit, submitted, wait_receipt,
};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use commonware_codec::Encode as _;
use hyperchain_attest::sim::{SimFlavour, SimPlatform, generate_evidence};
use hyperchain_attest::{AttestationPolicy, Platform};
use hyperchain_chain::genesis::{AccountKey, ChainSpec};
use hyperchain_chain::light::LightClient;
use hyperchain_chain::token::{AttestationToken, verify_token};
use hyperchain_rpc::api::{NodeView, TokenView};
use hyperchain_state::StateProof;
use hyperchain_types::{
    Digest, GovernanceAction, Header, Payload, Registration, Revocation, node_id,
};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// The runtime image simulated compute nodes measure when no `--image` is given. A devnet's
/// governance registers it as a release (`hyperchain governance add-release` without
/// `--image`), after which simulated nodes running it can register.
pub const DEVNET_RUNTIME_IMAGE: &[u8] = b"hyperchain compute runtime (devnet) v1";

#[derive(Subcommand, Debug)]
pub enum NodeAction {
    /// Register a compute node: create its evidence and submit `Register`.
    ///
    /// Only simulated platforms can be driven from this command (`sim-intel`, `sim-amd`):
    /// real SGX and SEV-SNP evidence is produced inside the TEE by the compute node itself.
    /// The evidence binds H(domain ‖ chain id ‖ identity key ‖ owner ‖ region) and the latest
    /// finalized block, so nobody can submit a copy from another account or for another region.
    Register(RegisterArgs),
    /// Re-attest a registered node with fresh evidence (same identity key, measurement, owner
    /// and region), signed by the node's own identity key. It does not lift a suspension for
    /// missed deadlines.
    Reattest(ReattestArgs),
    /// List registered compute nodes (filters combine).
    List {
        /// Only nodes of this region.
        #[arg(long)]
        region: Option<String>,
        /// Only `intel` or `amd` nodes.
        #[arg(long)]
        vendor: Option<String>,
        /// Only nodes of this platform (sgx, tdx, sev-snp, sim-intel, sim-amd).
        #[arg(long)]
        platform: Option<String>,
        /// Only `active`, `expired` or `revoked` nodes.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// End a node's membership (signed by its owner's key); its bond unlocks after the
    /// chain's unbonding delay (`policy.fees.unbonding_ms`).
    Deregister {
        /// The node id.
        id: Digest,
        /// The owner's account key file.
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        conn: Conn,
    },
    /// Return a node's bond to its owner once its membership has ended and the unbonding
    /// delay passed (a node arbitration found lying has forfeited it).
    WithdrawBond {
        /// The node id.
        id: Digest,
        /// The owner's account key file.
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        conn: Conn,
    },
    /// Show one node's record.
    Show {
        /// The node id (SHA-256 of its identity key).
        id: Digest,
        #[command(flatten)]
        conn: Conn,
    },
    /// Whether a node is in the identity accumulator, with the proof (verified with the
    /// network key when `--network-key` is given).
    Membership {
        /// The node id.
        id: Digest,
        /// The network's group public key (hex); verifies the proof and its block's
        /// finality certificate offline.
        #[arg(long)]
        network_key: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// The evidence platform: sim-intel or sim-amd.
    #[arg(long)]
    platform: String,
    /// The node's identity key file (an ed25519 key, `hyperchain keys generate --out FILE`).
    #[arg(long)]
    identity: PathBuf,
    /// The region the node serves.
    #[arg(long)]
    region: String,
    /// The runtime image the simulated platform measures (default: the devnet runtime).
    #[arg(long)]
    image: Option<PathBuf>,
    /// The account paying for and owning the registration.
    #[arg(long)]
    key: PathBuf,
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    wait: Wait,
}

#[derive(Args, Debug)]
pub struct ReattestArgs {
    /// The evidence platform: sim-intel or sim-amd.
    #[arg(long)]
    platform: String,
    /// The node's identity key file; it signs the transaction (only the node re-attests
    /// itself).
    #[arg(long)]
    identity: PathBuf,
    /// The runtime image the simulated platform measures (default: the devnet runtime).
    #[arg(long)]
    image: Option<PathBuf>,
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    wait: Wait,
}

#[derive(Subcommand, Debug)]
pub enum GovernanceCommand {
    /// Register a compute-runtime release: validators recompute the simulated platforms'
    /// measurements from the image; real platforms' measurements are given.
    AddRelease {
        /// Release version, for operators.
        #[arg(long, default_value = "devnet-v1")]
        version: String,
        /// The runtime image (default: the devnet runtime image).
        #[arg(long)]
        image: Option<PathBuf>,
        /// A real platform's measurement, `PLATFORM:HEX` (repeatable).
        #[arg(long = "measurement")]
        measurements: Vec<String>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Replace the attestation policy with a JSON policy file
    /// (`hyperchain attest policy-template` prints one).
    SetPolicy {
        /// The policy file.
        policy: PathBuf,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Revoke nodes: one node, every node with a measurement, or every node of a platform
    /// whose TCB is below a level. Membership ends at once.
    Revoke {
        /// A node id.
        #[arg(long, group = "target")]
        node: Option<Digest>,
        /// A measurement (hex).
        #[arg(long, group = "target")]
        measurement: Option<String>,
        /// `PLATFORM:SVN,SVN,...`: nodes of PLATFORM with a TCB below this. Repeat it for each
        /// TCB shape the platform's nodes have (e.g. SEV-SNP Milan/Genoa with 4 components and
        /// Turin with 5), all for one platform.
        #[arg(long, group = "target")]
        tcb_below: Vec<String>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// What an open proposal would do to the current compute members, were it carried out
    /// now: the members whose membership it ends (at once for a revocation; for a policy,
    /// when its recovery grace ends unless they re-attest with evidence it accepts), per
    /// region and vendor, and the regions it would leave without an Intel or AMD member.
    Preview {
        /// The proposal id.
        proposal: Digest,
        #[command(flatten)]
        conn: Conn,
    },
    /// List the open proposals: what each does, its approvals and how many it needs.
    List {
        #[command(flatten)]
        conn: Conn,
    },
    /// Admit an announced validator candidate: it receives its share in the resharing two
    /// epochs later and signs from the epoch after (three epoch boundaries).
    AdmitValidator {
        /// The candidate's consensus key (hex, as `hyperchain validator list` shows it).
        public_key: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Remove a validator (it stops signing three epoch boundaries later).
    RemoveValidator {
        /// The validator's consensus key (hex).
        public_key: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Show an open proposal: what it does, who approved it, how many approvals it needs,
    /// when it lapses.
    Show {
        /// The proposal id.
        proposal: Digest,
        #[command(flatten)]
        conn: Conn,
    },
    /// Approve a validator's open proposal (with a validator's key): it takes effect at 2f+1
    /// approvals of the validators.
    Approve {
        /// The proposal id (the proposing transaction's id).
        proposal: Digest,
        /// The approving validator's key file (`validator.key`).
        #[arg(long)]
        validator_key: PathBuf,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        wait: Wait,
    },
}

#[derive(Args, Debug)]
pub struct GovArgs {
    /// A validator's key file (`validator.key`): its account proposes the action, which takes
    /// effect once 2f+1 validators approved it (`hyperchain governance approve`; the proposer
    /// counts as the first). The proposal's id is the transaction id printed.
    #[arg(long)]
    validator_key: PathBuf,
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    wait: Wait,
}

/// A validator's consensus key (with or without its share), as the account key that signs
/// its governance and announcement transactions.
fn validator_account(path: &std::path::Path) -> Result<AccountKey> {
    let key = hyperchain_chain::genesis::ValidatorIdentity::load(path)
        .map_err(|e| anyhow!("cannot use the validator key: {e}"))?;
    Ok(AccountKey(key.private_key))
}

#[derive(Subcommand, Debug)]
pub enum ValidatorCommand {
    /// The validator sets: the current epoch's (it signs and governs), the next epoch's, the
    /// set governance has decided (it signs three epoch boundaries after the epoch that
    /// decided it) and the candidates waiting for admission.
    List {
        #[command(flatten)]
        conn: Conn,
    },
    /// Announce this key as a validator candidate with its p2p address (or, for a validator,
    /// change its address). Governance then admits it (`hyperchain governance
    /// admit-validator KEY`); announcements lapse after seven days.
    Announce {
        /// The candidate's key file (`hyperchain genesis keygen`; a validator's validator.key).
        #[arg(long)]
        validator_key: PathBuf,
        /// Its p2p address, HOST:PORT.
        #[arg(long)]
        address: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        wait: Wait,
    },
    /// Set up a joining validator in DIR: a new identity key (`validator.key`; it holds no
    /// share until a resharing deals it one), the chain's genesis and a node configuration.
    /// Then fund the key's account, `validator announce` it, ask the validators to admit it,
    /// and in the epoch after their decision start `hyperchain node --config DIR/config.json
    /// --sync-from http://VALIDATOR_RPC` (it starts from a checkpoint and follows the chain).
    Init {
        /// The chain's genesis document (a completed one: `genesis ceremony` or `genesis init`).
        #[arg(long)]
        genesis: PathBuf,
        /// The directory to create (refused if it exists and is not empty).
        #[arg(long)]
        dir: PathBuf,
        /// Address the node's p2p listener binds; announce the address peers reach it at.
        #[arg(long)]
        p2p_listen: std::net::SocketAddr,
        /// Address the node's RPC server binds.
        #[arg(long)]
        rpc_listen: std::net::SocketAddr,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `validator init`: DIR with a new identity key, a copy of the genesis and a configuration.
fn init_joiner(
    genesis: &std::path::Path,
    dir: &std::path::Path,
    p2p_listen: std::net::SocketAddr,
    rpc_listen: std::net::SocketAddr,
    json: bool,
) -> Result<()> {
    use hyperchain_chain::config::{DEFAULT_MEMPOOL_CAPACITY, DEFAULT_WORKER_THREADS, NodeConfig};
    let spec = ChainSpec::load(genesis).map_err(|e| anyhow!("{}: {e}", genesis.display()))?;
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("{}", dir.display()))?
            .next()
            .is_some()
    {
        bail!("{} exists and is not empty", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    std::fs::copy(genesis, dir.join("genesis.json"))
        .with_context(|| format!("copy {} into {}", genesis.display(), dir.display()))?;
    let identity =
        hyperchain_chain::genesis::ValidatorIdentity::generate(&mut commonware_utils::sys_rng());
    identity.save(&dir.join("validator.key"))?;
    let config = NodeConfig {
        genesis: "genesis.json".into(),
        key: "validator.key".into(),
        data_dir: "data".into(),
        p2p_listen,
        rpc_listen,
        mempool_capacity: DEFAULT_MEMPOOL_CAPACITY,
        worker_threads: DEFAULT_WORKER_THREADS,
    };
    let config_path = dir.join("config.json");
    config.save(&config_path)?;
    let public_key = identity.public_key();
    let account = hyperchain_types::SenderKey::from(public_key.clone()).address();
    let public_key = hex::encode(public_key.encode());
    if json {
        println!(
            "{}",
            json!({
                "chain_id": spec.chain_id.to_string(),
                "public_key": public_key,
                "account": account.to_hex(),
                "config": config_path,
            })
        );
    } else {
        println!("joining validator set up in {}", dir.display());
        println!("chain      {} ({})", spec.name, spec.chain_id);
        println!("public key {public_key}");
        println!("account    {}", account.to_hex());
        println!("next:");
        println!(
            "  1. fund the account (it pays its own fees): hyperchain transfer 10 --to {} --key FUNDED.key",
            account.to_hex()
        );
        println!(
            "  2. hyperchain validator announce --validator-key {} --address HOST:PORT",
            dir.join("validator.key").display()
        );
        println!(
            "  3. hyperchain node --config {} --sync-from http://VALIDATOR_RPC   (it starts \
             from that node's newest checkpoint and follows the chain)",
            config_path.display()
        );
        println!(
            "  4. a validator proposes `hyperchain governance admit-validator {public_key}`; 2f+1 approve"
        );
    }
    Ok(())
}

pub fn validator(cmd: ValidatorCommand) -> Result<()> {
    match cmd {
        ValidatorCommand::Init {
            genesis,
            dir,
            p2p_listen,
            rpc_listen,
            json,
        } => init_joiner(&genesis, &dir, p2p_listen, rpc_listen, json),
        ValidatorCommand::Announce {
            validator_key,
            address,
            conn,
            wait,
        } => {
            hyperchain_chain::validators::check_address(&address)
                .map_err(|e| anyhow!("--address: {e}"))?;
            let key = validator_account(&validator_key)?;
            send(&key, Payload::AnnounceValidator { address }, &conn, &wait)
        }
        ValidatorCommand::List { conn } => {
            let client = client(&conn.rpc)?;
            let view = runtime()?
                .block_on(client.validators())
                .map_err(|e| rpc_error(&conn.rpc, e))?;
            if conn.json {
                println!("{}", serde_json::to_string_pretty(&view)?);
                return Ok(());
            }
            let list = |vs: &[hyperchain_rpc::api::ValidatorView]| {
                for v in vs {
                    println!("  {}  {}", hex::encode(&v.public_key.0), v.address);
                }
            };
            println!(
                "epoch {} (current, governs): {} validators",
                view.active.epoch,
                view.active.validators.len()
            );
            list(&view.active.validators);
            println!(
                "epoch {} (next): {} validators",
                view.next.epoch,
                view.next.validators.len()
            );
            list(&view.next.validators);
            println!(
                "decided (from epoch {} on): {} validators",
                view.next.epoch + 1,
                view.pending.len()
            );
            list(&view.pending);
            if !view.candidates.is_empty() {
                println!("candidates: {}", view.candidates.len());
                for c in &view.candidates {
                    println!(
                        "  {}  {}  (lapses at {} ms)",
                        hex::encode(&c.public_key.0),
                        c.address,
                        c.lapses_ms
                    );
                }
            }
            Ok(())
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Fetch a node's attestation token (record + state proof + finality certificate).
    Get {
        /// The node id.
        id: Digest,
        /// Write the token to this file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The node's RPC URL.
        #[arg(long, env = "HYPERCHAIN_RPC", default_value = crate::remote::DEFAULT_RPC)]
        rpc: String,
    },
    /// Verify a token offline with the network's group public key: no node is contacted.
    ///
    /// Exit 0 if valid, 2 if not, 1 if the file cannot be read.
    Verify {
        /// The token file (`hyperchain token get --out FILE`).
        file: PathBuf,
        /// The network's group public key (hex; `hyperchain genesis show` prints it).
        #[arg(long, required_unless_present = "genesis")]
        network_key: Option<String>,
        /// Or take the key and chain id from a genesis file.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Also require the node to be valid at this time (unix ms; default: now).
        #[arg(long)]
        now_ms: Option<u64>,
        /// The oldest token block accepted, in seconds before `--now-ms`. A token shows the
        /// node as it was at its block; a revocation since then is invisible to it, so a
        /// verifier bounds its age.
        #[arg(long, default_value_t = 3600)]
        max_age_secs: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn flavour(platform: &str) -> Result<SimFlavour> {
    match platform {
        "sim-intel" => Ok(SimFlavour::Intel),
        "sim-amd" => Ok(SimFlavour::Amd),
        "sgx" | "tdx" | "sev-snp" => bail!(
            "{platform} evidence is produced inside the TEE by the compute node itself; this \
             command drives the simulated platforms (sim-intel, sim-amd)"
        ),
        other => bail!("unknown platform `{other}`: expected sim-intel or sim-amd"),
    }
}

/// `--tcb-below PLATFORM:SVN,...` (repeated once per TCB shape, one platform).
fn tcb_recall(args: &[String]) -> Result<Revocation> {
    let mut platform = None;
    let mut mins: Vec<Vec<u16>> = Vec::new();
    for t in args {
        let (name, svns) = t
            .split_once(':')
            .ok_or_else(|| anyhow!("--tcb-below `{t}`: expected PLATFORM:SVN,SVN,..."))?;
        let p = platform_by_name(name)?;
        if platform.is_some_and(|q| q != p) {
            bail!(
                "--tcb-below: one platform per recall ({} and {p})",
                platform.unwrap()
            );
        }
        platform = Some(p);
        let min = svns
            .split(',')
            .map(|s| s.trim().parse::<u16>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("--tcb-below `{t}`: {e}"))?;
        if mins.iter().any(|m| m.len() == min.len()) {
            bail!(
                "--tcb-below: two minimums of {} components (one per TCB shape)",
                min.len()
            );
        }
        mins.push(min);
    }
    Ok(Revocation::TcbBelow {
        platform: platform.expect("at least one --tcb-below").tag(),
        mins,
    })
}

fn platform_by_name(name: &str) -> Result<Platform> {
    Platform::ALL
        .into_iter()
        .find(|p| p.as_str() == name)
        .ok_or_else(|| {
            anyhow!("unknown platform `{name}`: expected sgx, tdx, sev-snp, sim-intel or sim-amd")
        })
}

fn read_image(image: &Option<PathBuf>) -> Result<Vec<u8>> {
    match image {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        }
        None => Ok(DEVNET_RUNTIME_IMAGE.to_vec()),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Submits `payload`, waits (unless told not to) and prints the receipt.
fn send(key: &AccountKey, payload: Payload, conn: &Conn, wait: &Wait) -> Result<()> {
    let client = client(&conn.rpc)?;
    runtime()?.block_on(async {
        let id = submit(&client, key, payload, None).await?;
        if wait.no_wait {
            submitted(conn, &id);
            return Ok(());
        }
        if !conn.json {
            eprintln!("submitted 0x{id}, waiting for finality…");
        }
        let r = wait_receipt(&client, &id, Duration::from_secs(wait.timeout)).await?;
        if conn.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&receipt_json(&r, None)?)?
            );
        } else {
            print_receipt(&r, None);
        }
        exit_for(&r)
    })
}

/// Simulated evidence for the node whose identity key is in `identity`, owned by `owner` and
/// serving `region`, fresh as of the latest finalized block.
fn registration(
    platform: &str,
    identity: &std::path::Path,
    image: &Option<PathBuf>,
    owner: &hyperchain_types::Address,
    region: &str,
    conn: &Conn,
) -> Result<Registration> {
    let flavour = flavour(platform)?;
    let identity = load_key(identity)?;
    let identity_key: [u8; 32] = commonware_cryptography::Signer::public_key(&identity.0)
        .encode()
        .as_ref()
        .try_into()
        .context("an ed25519 public key is 32 bytes")?;
    let image = read_image(image)?;
    let client = client(&conn.rpc)?;
    let status = runtime()?
        .block_on(client.status())
        .map_err(|e| rpc_error(&conn.rpc, e))?;
    let report_data = hyperchain_attest::NodeBinding {
        chain_id: &status.chain_id.0,
        identity_pk: &identity_key,
        owner: &owner.0,
        region,
    }
    .report_data(&status.digest.0);
    // The simulated platform's key derives from the identity key, so that a node keeps its
    // platform across restarts.
    let platform = SimPlatform::from_seed(flavour, &identity_key);
    let evidence = generate_evidence(&platform, &image, false, report_data, now_ms() / 1000);
    Ok(Registration {
        identity_key,
        platform: flavour.platform().tag(),
        region: region.to_string(),
        evidence: evidence.evidence,
        endorsements: evidence.endorsements.encode().to_vec(),
        recent_block: status.digest,
    })
}

fn print_node(n: &NodeView) {
    println!("node         0x{}", n.id);
    println!("  platform   {} ({})", n.platform, n.vendor);
    println!("  region     {}", n.region);
    println!("  status     {}", n.status);
    if let Some(reason) = &n.revoked {
        println!("  revoked    {reason}");
    }
    if n.missed_deadlines > 0 {
        println!(
            "  missed     {} job deadline(s) since its last suspension",
            n.missed_deadlines
        );
    }
    if n.suspended_until_ms > 0 {
        println!(
            "  suspended  from committees until block time {} ms",
            n.suspended_until_ms
        );
    }
    println!("  measurement {}", hex::encode(&n.measurement.0));
    println!("  tcb        {:?}", n.tcb);
    println!("  owner      0x{}", n.owner);
    if let Ok(bond) = n.bond.parse::<u128>() {
        println!(
            "  bond       {}",
            hyperchain_chain::fees::format_amount(bond)
        );
    }
    println!("  expires    {} ms", n.expires_ms);
}

pub fn node(action: NodeAction) -> Result<()> {
    match action {
        NodeAction::Register(a) => {
            if a.region.is_empty() {
                bail!("--region is required to register a node");
            }
            let key = load_key(&a.key)?;
            let owner = key.address();
            let r = registration(
                &a.platform,
                &a.identity,
                &a.image,
                &owner,
                &a.region,
                &a.conn,
            )?;
            if !a.conn.json {
                eprintln!(
                    "registering node 0x{} ({}, region {})",
                    node_id(&r.identity_key),
                    a.platform,
                    a.region
                );
            }
            send(&key, Payload::Register(r), &a.conn, &a.wait)
        }
        NodeAction::Deregister {
            id,
            key,
            wait,
            conn,
        } => send(
            &load_key(&key)?,
            Payload::Deregister { node: id },
            &conn,
            &wait,
        ),
        NodeAction::WithdrawBond {
            id,
            key,
            wait,
            conn,
        } => send(
            &load_key(&key)?,
            Payload::WithdrawBond { node: id },
            &conn,
            &wait,
        ),
        NodeAction::Reattest(a) => {
            // The evidence binds the owner and region on record.
            let key = load_key(&a.identity)?;
            let id = node_id(
                &hyperchain_types::SenderKey::from(commonware_cryptography::Signer::public_key(
                    &key.0,
                ))
                .0,
            );
            let client = client(&a.conn.rpc)?;
            let record = runtime()?
                .block_on(client.node(&id))
                .map_err(|e| rpc_error(&a.conn.rpc, e))?
                .ok_or_else(|| anyhow!("node 0x{id} is not registered (register it first)"))?;
            let r = registration(
                &a.platform,
                &a.identity,
                &a.image,
                &record.owner,
                &record.region,
                &a.conn,
            )?;
            send(&key, Payload::Reattest(r), &a.conn, &a.wait)
        }
        NodeAction::List {
            region,
            vendor,
            platform,
            status,
            conn,
        } => {
            let client = client(&conn.rpc)?;
            let mut filters = Vec::new();
            for (k, v) in [
                ("region", &region),
                ("vendor", &vendor),
                ("platform", &platform),
                ("status", &status),
            ] {
                if let Some(v) = v {
                    filters.push((k, v.as_str()));
                }
            }
            let resp = runtime()?
                .block_on(client.nodes(&filters))
                .map_err(|e| rpc_error(&conn.rpc, e))?;
            if conn.json {
                println!("{}", serde_json::to_string_pretty(&resp)?);
                return Ok(());
            }
            println!("{} node(s) at height {}", resp.nodes.len(), resp.height);
            for n in &resp.nodes {
                println!(
                    "0x{}  {:<9} {:<5} {:<12} {}",
                    n.id, n.platform, n.vendor, n.region, n.status
                );
            }
            Ok(())
        }
        NodeAction::Show { id, conn } => {
            let client = client(&conn.rpc)?;
            let node = runtime()?
                .block_on(client.node(&id))
                .map_err(|e| rpc_error(&conn.rpc, e))?
                .ok_or_else(|| anyhow!("no node 0x{id}"))?;
            if conn.json {
                println!("{}", serde_json::to_string_pretty(&node)?);
            } else {
                print_node(&node);
            }
            Ok(())
        }
        NodeAction::Membership {
            id,
            network_key,
            conn,
        } => {
            let client = client(&conn.rpc)?;
            let resp = runtime()?
                .block_on(client.membership(&id))
                .map_err(|e| rpc_error(&conn.rpc, e))?;
            let verified = match &network_key {
                None => None,
                Some(key) => {
                    let header = decode_header(&resp.header.0)?;
                    let light = light_client(key, header.chain_id)?;
                    let certificate = resp.certificate.as_ref().ok_or_else(|| {
                        anyhow!("the node has no finality certificate for that block yet")
                    })?;
                    let proof = StateProof::decode(&resp.proof.0)
                        .map_err(|e| anyhow!("malformed proof: {e}"))?;
                    let value = resp.expires_ms.map(|e| e.to_be_bytes().to_vec());
                    light
                        .verify_state(
                            &header,
                            &certificate.0,
                            &proof,
                            &hyperchain_state::TreeId(resp.tree.0),
                            &id.0,
                            value.as_deref(),
                        )
                        .map_err(|e| anyhow!("the membership proof does not verify: {e}"))?;
                    Some(header.height)
                }
            };
            if conn.json {
                let mut v = serde_json::to_value(&resp)?;
                v["verified_at_height"] = json!(verified);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "node 0x{id}: {}",
                    if resp.member {
                        "member"
                    } else {
                        "not a member"
                    }
                );
                if let Some(e) = resp.expires_ms {
                    println!("expires      {e} ms");
                }
                match verified {
                    Some(h) => println!("proof        verified against finalized block {h}"),
                    None => println!("proof        not verified (pass --network-key)"),
                }
            }
            Ok(())
        }
    }
}

/// An RPC answer about open proposal `id`: an error naming the node, or that there is none.
fn open_proposal<T>(
    conn: &Conn,
    id: &Digest,
    answer: Result<Option<T>, hyperchain_rpc::ClientError>,
) -> Result<T> {
    answer.map_err(|e| rpc_error(&conn.rpc, e))?.ok_or_else(|| {
        anyhow!("no open proposal 0x{id} (not finalized yet, carried out or lapsed)")
    })
}

pub fn governance(action: GovernanceCommand) -> Result<()> {
    let (action, gov) = match action {
        GovernanceCommand::Preview { proposal, conn } => {
            let client = client(&conn.rpc)?;
            let view = open_proposal(
                &conn,
                &proposal,
                runtime()?.block_on(client.preview(&proposal)),
            )?;
            if conn.json {
                println!("{}", serde_json::to_string_pretty(&view)?);
                return Ok(());
            }
            println!(
                "proposal 0x{} ({}), at height {}",
                view.proposal.id, view.proposal.action, view.height
            );
            if let Some(reason) = &view.refused {
                println!("it would be refused: {reason}");
                return Ok(());
            }
            if view.ended.is_empty() {
                println!("no current member would lose its membership");
            } else {
                println!(
                    "{} member(s) would lose their membership:",
                    view.ended.len()
                );
                let mut groups: std::collections::BTreeMap<(&str, &str), Vec<_>> =
                    Default::default();
                for e in &view.ended {
                    groups
                        .entry((e.region.as_str(), e.vendor.as_str()))
                        .or_default()
                        .push(e);
                }
                for ((region, vendor), members) in groups {
                    println!("  region {region}, {vendor}: {}", members.len());
                    for e in members {
                        let when = if e.at_ms <= view.now_ms {
                            "at once".to_string()
                        } else {
                            format!(
                                "in {} h unless it re-attests",
                                (e.at_ms - view.now_ms).div_ceil(3_600_000)
                            )
                        };
                        println!("    0x{} ({}) {when}: {}", e.id, e.platform, e.reason);
                    }
                }
            }
            for r in &view.regions {
                if r.loses_a_vendor {
                    println!(
                        "WARNING: region {} would be left with {} Intel and {} AMD member(s) \
                         (now {} and {}): its cross-vendor contracts would stall",
                        r.region, r.intel_after, r.amd_after, r.intel_before, r.amd_before
                    );
                }
            }
            return Ok(());
        }
        GovernanceCommand::List { conn } => {
            let client = client(&conn.rpc)?;
            let list = runtime()?
                .block_on(client.proposals())
                .map_err(|e| rpc_error(&conn.rpc, e))?;
            if conn.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.proposals.is_empty() {
                println!("no open proposals at height {}", list.height);
            } else {
                for p in &list.proposals {
                    let state = if p.lapses_ms <= list.now_ms {
                        "lapsed".to_string()
                    } else {
                        format!("{}/{} approvals", p.approvals.len(), p.needed)
                    };
                    println!("0x{}  {}  {}  by 0x{}", p.id, state, p.action, p.proposer);
                }
            }
            return Ok(());
        }
        GovernanceCommand::Show { proposal, conn } => {
            let client = client(&conn.rpc)?;
            let view = open_proposal(
                &conn,
                &proposal,
                runtime()?.block_on(client.proposal(&proposal)),
            )?;
            if conn.json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                println!("proposal   0x{}", view.id);
                println!("action     {}", view.action);
                println!("proposer   0x{}", view.proposer);
                println!(
                    "approvals  {} of the {} needed",
                    view.approvals.len(),
                    view.needed
                );
                for a in &view.approvals {
                    println!("  0x{a}");
                }
                println!("lapses at  {} ms (block time)", view.lapses_ms);
            }
            return Ok(());
        }
        GovernanceCommand::Approve {
            proposal,
            validator_key,
            conn,
            wait,
        } => {
            let key = validator_account(&validator_key)?;
            return send(&key, Payload::Approve { proposal }, &conn, &wait);
        }
        GovernanceCommand::AddRelease {
            version,
            image,
            measurements,
            gov,
        } => {
            let mut parsed = Vec::new();
            for m in &measurements {
                let (platform, hex_value) = m
                    .split_once(':')
                    .ok_or_else(|| anyhow!("--measurement `{m}`: expected PLATFORM:HEX"))?;
                let platform = platform_by_name(platform)?;
                let value = hex::decode(hex_value.trim_start_matches("0x"))
                    .map_err(|e| anyhow!("--measurement `{m}`: {e}"))?;
                parsed.push((platform.tag(), value));
            }
            (
                GovernanceAction::AddRelease {
                    version,
                    image: read_image(&image)?,
                    measurements: parsed,
                },
                gov,
            )
        }
        GovernanceCommand::AdmitValidator { public_key, gov } => (
            GovernanceAction::AdmitValidator {
                public_key: consensus_key(&public_key)?,
            },
            gov,
        ),
        GovernanceCommand::RemoveValidator { public_key, gov } => (
            GovernanceAction::RemoveValidator {
                public_key: consensus_key(&public_key)?,
            },
            gov,
        ),
        GovernanceCommand::SetPolicy { policy, gov } => {
            let text = std::fs::read_to_string(&policy)
                .with_context(|| format!("cannot read {}", policy.display()))?;
            let policy = AttestationPolicy::from_json(&text)
                .map_err(|e| anyhow!("{}: {e}", policy.display()))?;
            (GovernanceAction::SetPolicy(policy.encode().to_vec()), gov)
        }
        GovernanceCommand::Revoke {
            node,
            measurement,
            tcb_below,
            gov,
        } => {
            let revocation = match (node, measurement, tcb_below.is_empty()) {
                (Some(id), None, true) => Revocation::Node(id),
                (None, Some(m), true) => Revocation::Measurement(
                    hex::decode(m.trim_start_matches("0x"))
                        .map_err(|e| anyhow!("--measurement: {e}"))?,
                ),
                (None, None, false) => tcb_recall(&tcb_below)?,
                _ => bail!("give exactly one of --node, --measurement, --tcb-below"),
            };
            (GovernanceAction::Revoke(revocation), gov)
        }
    };
    send(
        &validator_account(&gov.validator_key)?,
        Payload::Propose(action),
        &gov.conn,
        &gov.wait,
    )
}

/// A consensus key given as hex.
fn consensus_key(text: &str) -> Result<[u8; 32]> {
    hex::decode(text.trim_start_matches("0x"))
        .ok()
        .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
        .ok_or_else(|| anyhow!("`{text}` is not a 32-byte key in hex"))
}

fn decode_header(bytes: &[u8]) -> Result<Header> {
    use commonware_codec::DecodeExt as _;
    Header::decode(bytes::Bytes::copy_from_slice(bytes))
        .map_err(|e| anyhow!("malformed header: {e}"))
}

fn light_client(network_key: &str, chain_id: Digest) -> Result<LightClient> {
    let key = hex::decode(network_key.trim_start_matches("0x"))
        .map_err(|e| anyhow!("--network-key: {e}"))?;
    LightClient::from_encoded_key(chain_id, &key).map_err(|e| anyhow!("--network-key: {e}"))
}

pub fn token(action: TokenAction) -> Result<()> {
    match action {
        TokenAction::Get { id, out, rpc } => {
            let client = client(&rpc)?;
            let token = runtime()?
                .block_on(client.token(&id))
                .map_err(|e| rpc_error(&rpc, e))?
                .ok_or_else(|| anyhow!("no node 0x{id}"))?;
            let text = serde_json::to_string_pretty(&token)? + "\n";
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("token of node 0x{id} written to {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        TokenAction::Verify {
            file,
            network_key,
            genesis,
            now_ms: at,
            max_age_secs,
            json,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let view: TokenView = serde_json::from_str(&text)
                .map_err(|e| anyhow!("{} is not a token: {e}", file.display()))?;
            let header = decode_header(&view.header.0)?;
            let light = match (&genesis, &network_key) {
                (Some(path), _) => {
                    let spec = ChainSpec::load(path).map_err(|e| anyhow!("{e}"))?;
                    LightClient::from_spec(&spec)
                }
                (None, Some(key)) => light_client(key, header.chain_id)?,
                (None, None) => bail!("give --network-key or --genesis"),
            };
            let at = at.unwrap_or_else(now_ms);
            let verdict = AttestationToken::from_parts(
                &view.record.0,
                &view.header.0,
                view.certificate.0.clone(),
                &view.proof.0,
            )
            .and_then(|token| {
                let freshness = hyperchain_chain::token::TokenFreshness {
                    now_ms: at,
                    max_age_ms: max_age_secs.saturating_mul(1000),
                };
                verify_token(&token, &light, Some(freshness))
            });
            match verdict {
                Ok(record) => {
                    let node = NodeView::new(&record, at);
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&json!({
                                "valid": true, "height": header.height, "node": node
                            }))?
                        );
                    } else {
                        println!(
                            "valid: node 0x{} is attested at finalized block {} (chain 0x{})",
                            record.id(),
                            header.height,
                            header.chain_id
                        );
                        print_node(&node);
                    }
                    Ok(())
                }
                Err(e) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(
                                &json!({"valid": false, "error": e.to_string()})
                            )?
                        );
                    } else {
                        eprintln!("invalid token: {e}");
                    }
                    std::process::exit(2);
                }
            }
        }
    }
}
