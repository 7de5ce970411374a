//! `hyperchain attest …`: verify attestation evidence against a policy, check by check; produce
//! simulated evidence for devnets; print a policy template. File formats: docs/ATTESTATION.md.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hyperchain_attest::sim::{self, SimFlavour, SimPlatform};
use hyperchain_attest::{AttestationPolicy, Endorsements, Platform, Verdict, appraise};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum AttestCommand {
    /// Verify evidence and appraise it against a policy, showing every check.
    ///
    /// Exits 0 if the evidence verifies and the policy accepts it, 2 if it is rejected, 1 on a
    /// usage or file error.
    Verify(VerifyArgs),
    /// Produce simulated evidence (devnets only: anyone can forge it) into --out-dir:
    /// `evidence.bin` and `endorsements.json`.
    SimEvidence(SimEvidenceArgs),
    /// Print the default attestation policy as JSON, to edit into a policy file.
    PolicyTemplate,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The evidence: a quote or report, as raw bytes or hex text.
    pub evidence: PathBuf,
    /// sgx, tdx, sev-snp, sim-intel or sim-amd.
    #[arg(long)]
    pub platform: Platform,
    /// The endorsements JSON file (DCAP collateral JSON for sgx/tdx; see docs/ATTESTATION.md).
    #[arg(long)]
    pub endorsements: PathBuf,
    /// The policy JSON file (default: the built-in default policy, which accepts no
    /// measurement).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Verification time in unix seconds (default: this machine's clock).
    #[arg(long)]
    pub now: Option<u64>,
    /// Expected report data (128 hex digits); without it that check is skipped.
    #[arg(long)]
    pub report_data: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SimEvidenceArgs {
    /// sim-intel or sim-amd.
    #[arg(long)]
    pub flavour: Platform,
    /// The runtime image whose simulated measurement goes in the report.
    #[arg(long)]
    pub image: PathBuf,
    /// The node's identity public key (64 hex digits), bound into the report data.
    #[arg(long)]
    pub identity_key: String,
    /// The owner account (64 hex digits) that will register the node, bound into the report
    /// data (default: the identity key's own account).
    #[arg(long)]
    pub owner: Option<String>,
    /// The region the node will serve, bound into the report data.
    #[arg(long)]
    pub region: String,
    /// The chain id (64 hex digits), bound into the report data.
    #[arg(
        long,
        default_value = "0000000000000000000000000000000000000000000000000000000000000000"
    )]
    pub chain_id: String,
    /// Hash of a recent finalized block (64 hex digits), the freshness half of the report data.
    #[arg(
        long,
        default_value = "0000000000000000000000000000000000000000000000000000000000000000"
    )]
    pub recent_block: String,
    /// Seed of the simulated platform key (the same seed gives the same platform).
    #[arg(long, default_value = "devnet")]
    pub platform_seed: String,
    /// Mark the report as produced by a debug-mode TEE.
    #[arg(long)]
    pub debug: bool,
    /// Report timestamp in unix seconds (default: this machine's clock).
    #[arg(long)]
    pub timestamp: Option<u64>,
    /// Directory to write evidence.bin and endorsements.json into (created if missing).
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: AttestCommand) -> Result<()> {
    match cmd {
        AttestCommand::Verify(args) => verify(args),
        AttestCommand::SimEvidence(args) => sim_evidence(args),
        AttestCommand::PolicyTemplate => {
            println!("{}", AttestationPolicy::default().to_json());
            Ok(())
        }
    }
}

fn system_now() -> Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs())
}

fn hex_array<const N: usize>(s: &str, what: &str) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s.trim().trim_start_matches("0x"), &mut out)
        .with_context(|| format!("{what}: expected {} hex digits", 2 * N))?;
    Ok(out)
}

/// Evidence files are raw bytes, or hex text (as the recorded SEV-SNP sample is).
fn read_evidence(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(text) = std::str::from_utf8(&raw) {
        let t = text.trim();
        if !t.is_empty() && t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(hex::decode(t)?);
        }
    }
    Ok(raw)
}

fn verify(args: VerifyArgs) -> Result<()> {
    let evidence = read_evidence(&args.evidence)?;
    let text = std::fs::read_to_string(&args.endorsements)
        .with_context(|| format!("cannot read {}", args.endorsements.display()))?;
    let endorsements = Endorsements::from_json(args.platform, &text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("{}", args.endorsements.display()))?;
    let policy = match &args.policy {
        None => AttestationPolicy::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            AttestationPolicy::from_json(&text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("policy {}", p.display()))?
        }
    };
    let expected = args
        .report_data
        .as_deref()
        .map(|s| hex_array::<64>(s, "--report-data"))
        .transpose()?;
    let now = match args.now {
        Some(n) => n,
        None => system_now()?,
    };

    let a = appraise(
        args.platform,
        &evidence,
        &endorsements,
        &policy,
        expected.as_ref(),
        now,
    );
    let accepted = a.accepted();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "platform": args.platform,
                "vendor": args.platform.vendor(),
                "now": now,
                "accepted": accepted,
                "checks": a.checks,
                "claims": a.claims.as_ref().map(|c| c.to_json()),
            }))?
        );
    } else {
        println!(
            "{} evidence ({} vendor), verified at {now}",
            args.platform,
            args.platform.vendor()
        );
        for c in &a.checks {
            let verdict = match c.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "skip",
            };
            println!("  {:<6} {:<21} {verdict}  {}", c.stage, c.name, c.detail);
        }
        if let Some(c) = &a.claims {
            println!("claims");
            println!("  measurement  {}", hex::encode(&c.measurement));
            match c.tcb.status {
                Some(s) => println!("  tcb          {:?} ({s})", c.tcb.svns),
                None => println!("  tcb          {:?}", c.tcb.svns),
            }
            if !c.advisories.is_empty() {
                println!("  advisories   {}", c.advisories.join(", "));
            }
            println!("  debug        {}", c.debug);
            println!("  report data  {}", hex::encode(c.report_data));
            println!("  platform id  {}", hex::encode(&c.platform_id));
            if let Some(ts) = c.timestamp {
                println!("  timestamp    {ts}");
            }
        }
        println!("{}", if accepted { "ACCEPTED" } else { "REJECTED" });
    }
    if !accepted {
        std::process::exit(2);
    }
    Ok(())
}

fn sim_evidence(args: SimEvidenceArgs) -> Result<()> {
    let Some(flavour) = SimFlavour::of(args.flavour) else {
        bail!(
            "--flavour must be sim-intel or sim-amd, not {}",
            args.flavour
        );
    };
    let image = std::fs::read(&args.image)
        .with_context(|| format!("cannot read {}", args.image.display()))?;
    let identity = hex_array::<32>(&args.identity_key, "--identity-key")?;
    let chain_id = hex_array::<32>(&args.chain_id, "--chain-id")?;
    let recent = hex_array::<32>(&args.recent_block, "--recent-block")?;
    let owner = match &args.owner {
        Some(owner) => hex_array::<32>(owner, "--owner")?,
        None => hyperchain_types::SenderKey(identity).address().0,
    };
    let report_data = hyperchain_attest::NodeBinding {
        chain_id: &chain_id,
        identity_pk: &identity,
        owner: &owner,
        region: &args.region,
    }
    .report_data(&recent);
    let timestamp = match args.timestamp {
        Some(t) => t,
        None => system_now()?,
    };
    let platform = SimPlatform::from_seed(flavour, args.platform_seed.as_bytes());
    let ev = sim::generate_evidence(&platform, &image, args.debug, report_data, timestamp);

    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let evidence_path = args.out_dir.join("evidence.bin");
    let endorsements_path = args.out_dir.join("endorsements.json");
    std::fs::write(&evidence_path, &ev.evidence)
        .with_context(|| format!("cannot write {}", evidence_path.display()))?;
    std::fs::write(&endorsements_path, ev.endorsements.to_json())
        .with_context(|| format!("cannot write {}", endorsements_path.display()))?;

    let measurement = hex::encode(sim::sim_measurement(flavour, &image));
    if args.json {
        println!(
            "{}",
            json!({
                "platform": args.flavour,
                "evidence": evidence_path,
                "endorsements": endorsements_path,
                "measurement": measurement,
                "report_data": hex::encode(report_data),
                "platform_id": hex::encode(platform.platform_id),
                "timestamp": timestamp,
                "debug": args.debug,
            })
        );
    } else {
        println!(
            "simulated {} evidence (devnets only: anyone can forge it)",
            args.flavour
        );
        println!("  evidence      {}", evidence_path.display());
        println!("  endorsements  {}", endorsements_path.display());
        println!("  measurement   {measurement}");
        println!("  report data   {}", hex::encode(report_data));
        println!("  platform id   {}", hex::encode(platform.platform_id));
        println!("  timestamp     {timestamp}");
    }
    Ok(())
}
