//! A devnet's compute fleet: `hyperchain compute` processes with simulated Intel and AMD
//! platforms in several regions, registered through attestation.
//!
//! Before starting them, the validators register the devnet runtime release (validator 0
//! proposes it, the others approve it to 2f+1), whose simulated measurements every validator recomputes from the image;
//! each node then generates its identity key, produces simulated evidence bound to it and to
//! the latest finalized block, and registers. The fleet is ready when every node is an active
//! member.

use crate::devnet::Events;
use crate::genesis::GENESIS_FILE;
use crate::registry::DEVNET_RUNTIME_IMAGE;
use crate::remote::{rpc_error, submit, wait_receipt};
use anyhow::{Context as _, Result, bail};
use hyperchain_chain::genesis::AccountKey;
use hyperchain_rpc::Client;
use hyperchain_rpc::api::ReceiptOutcome;
use hyperchain_types::{GovernanceAction, Payload};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A compute node's log inside the devnet directory.
pub const COMPUTE_LOG: &str = "compute.log";
/// How long the fleet may take to register.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// One compute node process.
pub(crate) struct ComputeProcess {
    pub index: usize,
    pub platform: &'static str,
    pub region: String,
    pub child: Child,
    pub log: PathBuf,
}

/// The running fleet.
pub(crate) struct Fleet {
    pub nodes: Vec<ComputeProcess>,
    events: Events,
}

/// The directory of compute node `index`.
pub fn compute_dir(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("compute-{index}"))
}

/// Registers the devnet runtime release (idempotent: a release already in the policy is not
/// added twice) by the validators: validator 0 proposes it and the others approve it until
/// 2f+1 have (the devnet holds every validator's key).
pub(crate) async fn register_release(dir: &Path, client: &Client, events: Events) -> Result<()> {
    let spec = hyperchain_chain::genesis::ChainSpec::load(&dir.join(GENESIS_FILE))?;
    let needed = hyperchain_chain::governance::quorum(spec.validators.len());
    let validator = |i: usize| -> Result<AccountKey> {
        let path = crate::genesis::validator_dir(dir, i).join(crate::genesis::VALIDATOR_KEY_FILE);
        let key = hyperchain_chain::genesis::ValidatorKey::load(&path)
            .map_err(|e| anyhow::anyhow!("cannot use validator {i}'s key: {e}"))?;
        Ok(AccountKey(key.private_key))
    };
    let payload = Payload::Propose(GovernanceAction::AddRelease {
        version: "devnet-v1".into(),
        image: DEVNET_RUNTIME_IMAGE.to_vec(),
        measurements: Vec::new(),
    });
    let proposal = submit(client, &validator(0)?, payload, None).await?;
    let mut r = wait_receipt(client, &proposal, Duration::from_secs(60)).await?;
    for i in 1..needed {
        if let ReceiptOutcome::Rejected { .. } = &r.outcome {
            break;
        }
        let approval = submit(client, &validator(i)?, Payload::Approve { proposal }, None).await?;
        r = wait_receipt(client, &approval, Duration::from_secs(60)).await?;
    }
    if let ReceiptOutcome::Rejected { reason } = &r.outcome {
        bail!("registering the devnet runtime release was rejected: {reason}");
    }
    events.emit(
        json!({"event": "release_registered", "height": r.height, "tx_id": proposal}),
        || {
            format!(
                "runtime release devnet-v1 registered at height {}, approved by {needed} of {} validators",
                r.height,
                spec.validators.len()
            )
        },
    );
    Ok(())
}

/// The simulated platform's seed (hex) inside a compute node's directory: its chip.
pub const PLATFORM_SEED_FILE: &str = "platform.seed";
/// An owner key file inside a compute node's directory.
pub const OWNER_KEY_FILE: &str = "owner.key";
/// What each compute node's owner holds after funding: its registrations' and
/// re-attestations' fees.
const OWNER_FUNDS: u128 = 1_000 * hyperchain_chain::fees::UNIT;

/// The owner keys of the `nodes` compute nodes (created when missing), funded from the
/// devnet's faucet. Each node's owner registers it and pays its fees.
pub(crate) async fn fund_owners(
    dir: &Path,
    rpcs: &[String],
    nodes: usize,
    events: Events,
) -> Result<()> {
    let mut grants = Vec::new();
    for index in 0..nodes {
        let node_dir = compute_dir(dir, index);
        std::fs::create_dir_all(&node_dir)
            .with_context(|| format!("cannot create {}", node_dir.display()))?;
        let path = node_dir.join(OWNER_KEY_FILE);
        let key = if path.exists() {
            crate::remote::load_key(&path)?
        } else {
            let key = AccountKey::generate(commonware_utils::sys_rng());
            key.save(&path)?;
            key
        };
        grants.push((key.address(), OWNER_FUNDS));
    }
    let faucet = crate::remote::faucet_key(dir)?;
    let clients = crate::remote::clients(rpcs)?;
    let funded = crate::remote::fund_all(&clients, &faucet, &grants).await?;
    if funded > 0 {
        events.emit(json!({"event": "owners_funded", "owners": funded}), || {
            format!("funded {funded} compute-node owner accounts from the faucet")
        });
    }
    Ok(())
}

/// Starts `per_region` Intel and `per_region` AMD simulated nodes in each region, each
/// registered by the owner key in its directory ([`fund_owners`]).
pub(crate) fn start(
    dir: &Path,
    rpcs: &[String],
    regions: &[String],
    per_region: usize,
    poll_ms: u64,
    events: Events,
) -> Result<Fleet> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let mut fleet = Fleet {
        nodes: Vec::new(),
        events,
    };
    let mut index = 0;
    for region in regions {
        for _ in 0..per_region {
            for platform in ["sim-intel", "sim-amd"] {
                let node_dir = compute_dir(dir, index);
                std::fs::create_dir_all(&node_dir)
                    .with_context(|| format!("cannot create {}", node_dir.display()))?;
                // The simulated chip persists across restarts: a restarted node's new
                // identity replaces its old one (and keeps its bond), one identity per chip.
                let seed_path = node_dir.join(PLATFORM_SEED_FILE);
                let platform_seed = match std::fs::read_to_string(&seed_path) {
                    Ok(seed) => seed.trim().to_string(),
                    Err(_) => {
                        // 16 random bytes (from a fresh key's address).
                        let random = AccountKey::generate(commonware_utils::sys_rng()).address();
                        let seed = hex::encode(&random.0[..16]);
                        std::fs::write(&seed_path, &seed)
                            .with_context(|| format!("cannot write {}", seed_path.display()))?;
                        seed
                    }
                };
                let log = node_dir.join(COMPUTE_LOG);
                let out = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .with_context(|| format!("cannot open {}", log.display()))?;
                let err = out.try_clone()?;
                let mut cmd = Command::new(&exe);
                cmd.arg("compute")
                    .arg("--platform")
                    .arg(platform)
                    .arg("--region")
                    .arg(region)
                    .arg("--genesis")
                    .arg(dir.join(GENESIS_FILE))
                    .arg("--poll-ms")
                    .arg(poll_ms.to_string())
                    .arg("--owner-key")
                    .arg(node_dir.join(OWNER_KEY_FILE))
                    .arg("--platform-seed")
                    .arg(&platform_seed)
                    .arg("--json");
                // Each node starts its list at a different validator, so their reads and
                // receipts spread over the validators (which gossip the receipts on).
                for rpc in rpcs.iter().cycle().skip(index).take(rpcs.len()) {
                    cmd.arg("--rpc").arg(rpc);
                }
                let child = cmd
                    .stdin(Stdio::null())
                    .stdout(out)
                    .stderr(err)
                    .spawn()
                    .with_context(|| format!("cannot start compute node {index}"))?;
                events.emit(
                    json!({"event": "compute_started", "index": index, "platform": platform,
                           "region": region, "pid": child.id(), "log": log}),
                    || {
                        format!(
                            "compute node {index} ({platform}, region {region}) started (pid {}), log {}",
                            child.id(),
                            log.display()
                        )
                    },
                );
                fleet.nodes.push(ComputeProcess {
                    index,
                    platform,
                    region: region.clone(),
                    child,
                    log,
                });
                index += 1;
            }
        }
    }
    Ok(fleet)
}

impl Fleet {
    /// The compute nodes' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.child.id()).collect()
    }

    /// Waits until every node has registered (its log reports it), failing if one exits.
    pub async fn ready(&mut self, client: &Client) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.check_alive()?;
            let registered: Vec<(usize, String, u64)> = self
                .nodes
                .iter()
                .filter_map(|n| {
                    let text = std::fs::read_to_string(&n.log).ok()?;
                    text.lines().rev().find_map(|line| {
                        let v: serde_json::Value = serde_json::from_str(line).ok()?;
                        (v["event"] == "registered").then(|| {
                            (
                                n.index,
                                v["node"].as_str().unwrap_or_default().to_string(),
                                v["height"].as_u64().unwrap_or_default(),
                            )
                        })
                    })
                })
                .collect();
            if registered.len() == self.nodes.len() {
                for (index, id, height) in registered {
                    let n = &self.nodes[index];
                    self.events.emit(
                        json!({"event": "compute_registered", "index": index, "node": id,
                               "platform": n.platform, "region": n.region, "height": height}),
                        || {
                            format!(
                                "  node 0x{}… {:<9} region {:<4} attested and registered at height {height}",
                                &id[..12.min(id.len())],
                                n.platform,
                                n.region
                            )
                        },
                    );
                }
                let active = client
                    .nodes(&[("status", "active")])
                    .await
                    .map_err(|e| rpc_error(client.base_url(), e))?;
                self.events.emit(
                    json!({"event": "fleet_ready", "nodes": self.nodes.len(), "active": active.nodes.len()}),
                    || format!("compute fleet ready: {} active members in the accumulator", active.nodes.len()),
                );
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "only {} of {} compute nodes registered after {READY_TIMEOUT:?}; see their logs in compute-*/{COMPUTE_LOG}",
                    registered.len(),
                    self.nodes.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Fails if a node exited.
    pub fn check_alive(&mut self) -> Result<()> {
        for n in self.nodes.iter_mut() {
            if let Some(status) = n.child.try_wait()? {
                bail!(
                    "compute node {} ({}, {}) exited ({status}); see {}",
                    n.index,
                    n.platform,
                    n.region,
                    n.log.display()
                );
            }
        }
        Ok(())
    }

    /// Stops every node (SIGTERM, then kill after a grace period).
    pub fn stop(&mut self) {
        let statuses = crate::devnet::stop_children(
            self.nodes.iter_mut().map(|n| &mut n.child),
            Duration::from_secs(10),
        );
        for (n, status) in self.nodes.iter().zip(statuses) {
            let code = status.and_then(|s| s.code());
            self.events.emit(
                json!({"event": "compute_stopped", "index": n.index, "exit_code": code}),
                || format!("compute node {} stopped", n.index),
            );
        }
        self.nodes.clear();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop();
    }
}
