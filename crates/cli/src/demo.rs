//! The devnet demo: once blocks finalize, deploy the `counter` and `heavy` examples through a
//! validator's RPC, call them, and print what happened.

use crate::devnet::event;
use crate::remote::{DEFAULT_FUEL, rpc_error, submit, wait_receipt};
use anyhow::{Result, anyhow, bail};
use hyperchain_chain::genesis::AccountKey;
use hyperchain_rpc::Client;
use hyperchain_rpc::api::{QueryRequest, ReceiptOutcome, ReceiptView};
use hyperchain_sdk::{Decode as _, encode};
use hyperchain_types::{Address, Digest, ExecutionMode, Payload};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// The demo account's key inside the devnet directory.
pub const DEMO_KEY_FILE: &str = "demo.key";
/// How long the demo waits for the first finalized block, and for each transaction.
const WAIT: Duration = Duration::from_secs(60);
/// `increment` amounts the demo sends.
const INCREMENTS: [u64; 3] = [1, 2, 3];
/// Iterations of the demo's `sha256_chain` call.
const CHAIN_ITERATIONS: u32 = 10_000;

/// What the demo account holds after funding (it pays every demo transaction's fees).
const DEMO_FUNDS: u128 = 10_000 * hyperchain_chain::fees::UNIT;

/// Heavy jobs the committee part of the demo sends, per lane.
pub const JOBS_PER_LANE: usize = 3;
/// Lanes (cross-vendor `heavy` contracts) of the committee part of the demo.
const LANES: usize = 2;

/// Runs the demo against the node at `rpc`; with `regions`, a compute fleet serves them and
/// the demo ends with heavy calls executed by cross-vendor committees.
pub async fn run(dir: &Path, rpc: &str, json: bool, regions: Option<&[String]>) -> Result<()> {
    let client = crate::remote::client(rpc)?;
    wait_for_blocks(&client, json).await?;

    let key_path = dir.join(DEMO_KEY_FILE);
    let key = if key_path.exists() {
        crate::remote::load_key(&key_path)?
    } else {
        let key = AccountKey::generate(commonware_utils::sys_rng());
        key.save(&key_path)?;
        key
    };
    event(
        json,
        json!({"event": "demo_account", "address": key.address(), "key": key_path}),
        || {
            format!(
                "demo account 0x{} (key {})",
                key.address(),
                key_path.display()
            )
        },
    );

    // Calls pay fees: the demo account is funded from the devnet's faucet.
    let grant = DEMO_FUNDS;
    let faucet = crate::remote::faucet_key(dir)?;
    if crate::remote::fund(&client, &faucet, &[(key.address(), grant)]).await? > 0 {
        event(
            json,
            json!({"event": "demo_funded", "address": key.address(), "amount": grant.to_string()}),
            || {
                format!(
                    "funded the demo account with {} from the faucet ({})",
                    hyperchain_chain::fees::format_amount(grant),
                    dir.join(crate::genesis::FAUCET_KEY_FILE).display()
                )
            },
        );
    }

    let counter = deploy(&client, &key, "counter", json).await?;

    // Submitted together (consecutive nonces), finalized in nonce order.
    let next = client
        .nonce(&key.address())
        .await
        .map_err(|e| rpc_error(rpc, e))?;
    let mut ids = Vec::new();
    for (i, n) in INCREMENTS.iter().enumerate() {
        let payload = Payload::Call {
            contract: counter,
            method: "increment".into(),
            input: encode(n),
            fuel_limit: DEFAULT_FUEL,
        };
        let id = submit(&client, &key, payload, Some(next + i as u64)).await?;
        event(
            json,
            json!({"event": "demo_submitted", "tx_id": id, "method": "increment", "arg": n}),
            || format!("  submitted increment({n})  tx 0x{id}"),
        );
        ids.push((*n, id));
    }
    for (n, id) in ids {
        let r = wait_receipt(&client, &id, WAIT).await?;
        let output = call_output(&r)?;
        let total = u64::decode(&mut output.as_slice()).map_err(|e| anyhow!("{e}"))?;
        event(
            json,
            json!({"event": "demo_called", "tx_id": id, "method": "increment", "arg": n,
                   "height": r.height, "output": total, "fuel_used": r.fuel_used}),
            || {
                format!(
                    "  increment({n}) → {total}  finalized at height {}, fuel {}",
                    r.height, r.fuel_used
                )
            },
        );
    }
    let q = client
        .query(&QueryRequest::new(counter, "get", Vec::new()))
        .await
        .map_err(|e| rpc_error(rpc, e))?;
    let total = u64::decode(&mut q.output.0.as_slice()).map_err(|e| anyhow!("{e}"))?;
    event(
        json,
        json!({"event": "demo_query", "method": "get", "output": total, "height": q.height}),
        || format!("  query get() = {total} at height {}", q.height),
    );

    let heavy = deploy(&client, &key, "heavy", json).await?;
    let payload = Payload::Call {
        contract: heavy,
        method: "sha256_chain".into(),
        input: encode(&CHAIN_ITERATIONS),
        fuel_limit: DEFAULT_FUEL,
    };
    let id = submit(&client, &key, payload, None).await?;
    let r = wait_receipt(&client, &id, WAIT).await?;
    let digest = hex::encode(call_output(&r)?);
    event(
        json,
        json!({"event": "demo_called", "tx_id": id, "method": "sha256_chain",
               "arg": CHAIN_ITERATIONS, "height": r.height, "output": digest,
               "fuel_used": r.fuel_used}),
        || {
            format!(
                "  sha256_chain({CHAIN_ITERATIONS}) → 0x{digest}\n    tx 0x{id}  finalized at height {}, fuel {}",
                r.height, r.fuel_used
            )
        },
    );
    if let Some(regions) = regions {
        committee_demo(&client, &key, regions, call_output(&r)?, json).await?;
    }
    let faucet_path = dir.join(crate::genesis::FAUCET_KEY_FILE);
    event(
        json,
        json!({"event": "demo_done", "counter": counter, "heavy": heavy, "key": key_path, "rpc": rpc,
               "faucet_key": faucet_path}),
        || {
            format!(
                "demo done; try:\n  hyperchain call 0x{counter} increment u64:10 --key {} --decode u64 --rpc {rpc}\n  hyperchain query 0x{counter} get --decode u64 --rpc {rpc}\n  hyperchain balance --key {} --rpc {rpc}\nfund any account from the faucet (it pays fees; `hyperchain keys generate --out me.key` makes one):\n  hyperchain transfer 100 --to ADDRESS --key {} --rpc {rpc}",
                key_path.display(),
                key_path.display(),
                faucet_path.display()
            )
        },
    );
    Ok(())
}

/// Waits until the node answers and has finalized a block.
pub(crate) async fn wait_for_blocks(client: &Client, json: bool) -> Result<()> {
    event(
        json,
        json!({"event": "demo_waiting", "rpc": client.base_url()}),
        || {
            format!(
                "demo: waiting for the first finalized block at {}",
                client.base_url()
            )
        },
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(s) = client.status().await
            && s.height >= 1
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("no finalized block at {} after {WAIT:?}", client.base_url());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn deploy(client: &Client, key: &AccountKey, name: &str, json: bool) -> Result<Address> {
    deploy_mode(client, key, name, ExecutionMode::Replicated, &[], json).await
}

async fn deploy_mode(
    client: &Client,
    key: &AccountKey,
    name: &str,
    mode: ExecutionMode,
    regions: &[String],
    json: bool,
) -> Result<Address> {
    let code = hyperchain_contracts::by_name(name)
        .ok_or_else(|| anyhow!("no example `{name}`"))?
        .to_vec();
    let payload = Payload::Deploy {
        code,
        mode,
        regions: regions.to_vec(),
    };
    let id = submit(client, key, payload, None).await?;
    let r = wait_receipt(client, &id, WAIT).await?;
    let (address, code_hash): (Address, Digest) = match &r.outcome {
        ReceiptOutcome::Deployed { address, code_hash } => (*address, *code_hash),
        ReceiptOutcome::Rejected { reason } => bail!("deploying {name} was rejected: {reason}"),
        other => bail!("unexpected receipt for deploying {name}: {other:?}"),
    };
    event(
        json,
        json!({"event": "demo_deployed", "contract": name, "address": address,
               "code_hash": code_hash, "tx_id": id, "height": r.height, "mode": mode.to_string(),
               "regions": regions}),
        || {
            let how = if mode == ExecutionMode::Replicated {
                String::new()
            } else {
                format!(" ({mode}, regions {})", regions.join(", "))
            };
            format!(
                "deployed {name} at 0x{address}{how}\n  tx 0x{id}  finalized at height {}",
                r.height
            )
        },
    );
    Ok(address)
}

fn call_output(r: &ReceiptView) -> Result<Vec<u8>> {
    match &r.outcome {
        ReceiptOutcome::Called { status, output, .. } if status.is_ok() => Ok(output.0.clone()),
        ReceiptOutcome::Called { status, .. } => bail!(
            "call 0x{} failed: {}{}",
            r.tx_id,
            status.status,
            status
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ),
        ReceiptOutcome::Rejected { reason } => bail!("call 0x{} rejected: {reason}", r.tx_id),
        ReceiptOutcome::Deployed { .. } => bail!("0x{} is a deploy", r.tx_id),
        ReceiptOutcome::Accepted => bail!("0x{} is not a call", r.tx_id),
        ReceiptOutcome::Queued { job, .. } => {
            bail!("call 0x{} is a job for compute nodes (0x{job})", r.tx_id)
        }
    }
}

/// The committee part of the demo: heavy calls to cross-vendor contracts, each executed by
/// one Intel and one AMD enclave per region, validators agreeing on the signed results.
async fn committee_demo(
    client: &Client,
    key: &AccountKey,
    regions: &[String],
    replicated_output: Vec<u8>,
    json: bool,
) -> Result<()> {
    event(
        json,
        json!({"event": "demo_committee", "regions": regions}),
        || {
            format!(
                "committee execution: {LANES} cross-vendor contracts (lanes), {} heavy jobs, \
                 one Intel + one AMD enclave per region ({})",
                LANES * JOBS_PER_LANE,
                regions.join(", ")
            )
        },
    );
    let mut lanes = Vec::new();
    for _ in 0..LANES {
        lanes.push(
            deploy_mode(
                client,
                key,
                "heavy",
                ExecutionMode::CrossVendor,
                regions,
                json,
            )
            .await?,
        );
    }
    let started = std::time::Instant::now();
    let next = client
        .nonce(&key.address())
        .await
        .map_err(|e| rpc_error(client.base_url(), e))?;
    let mut calls = Vec::new();
    for i in 0..LANES * JOBS_PER_LANE {
        let contract = lanes[i % LANES];
        let payload = Payload::Call {
            contract,
            method: "sha256_chain".into(),
            input: encode(&CHAIN_ITERATIONS),
            fuel_limit: DEFAULT_FUEL,
        };
        calls.push(submit(client, key, payload, Some(next + i as u64)).await?);
    }
    let mut jobs = Vec::new();
    for id in &calls {
        let r = wait_receipt(client, id, WAIT).await?;
        match r.outcome {
            ReceiptOutcome::Queued { job, .. } => jobs.push((job, r.height, r.fuel_used)),
            other => bail!("call 0x{id} was not queued as a job: {other:?}"),
        }
    }
    let mut total_fuel = 0u64;
    let mut last_height = 0;
    for (job, ordered_at, validator_fuel) in jobs {
        let view = crate::jobs::wait_done(client, &job, 3 * WAIT, |_| {}).await?;
        let result = view
            .result
            .as_ref()
            .ok_or_else(|| anyhow!("job 0x{job} is done but the node shows no result"))?;
        let assignment = view.assignment.as_ref();
        let committee: Vec<serde_json::Value> = assignment
            .map(|a| {
                a.committee
                    .iter()
                    .map(|m| json!({"node": m.id, "region": m.region, "vendor": m.vendor}))
                    .collect()
            })
            .unwrap_or_default();
        let same = result.output.0 == replicated_output;
        total_fuel += result.fuel_used;
        last_height = last_height.max(result.height);
        event(
            json,
            json!({"event": "demo_job", "job": job, "contract": view.contract,
                   "lane_seq": view.lane_seq, "ordered_at": ordered_at,
                   "applied_at": result.height, "seed_round": assignment.map(|a| a.seed_round),
                   "attempt": assignment.map(|a| a.attempt), "committee": committee,
                   "resolution": result.resolution, "fuel_used": result.fuel_used,
                   "validator_fuel": validator_fuel, "matches_replicated": same}),
            || {
                let pairs = assignment
                    .map(|a| {
                        a.committee
                            .chunks(2)
                            .map(|pair| {
                                let region = pair.first().map_or("", |m| m.region.as_str());
                                let ids: Vec<String> = pair
                                    .iter()
                                    .map(|m| format!("{} 0x{}…", m.vendor, &m.id.to_string()[..8]))
                                    .collect();
                                format!("{region}: {}", ids.join(" + "))
                            })
                            .collect::<Vec<_>>()
                            .join("  ")
                    })
                    .unwrap_or_default();
                format!(
                    "  job 0x{}… lane 0x{}…#{}  {pairs}\n    {} (attempt {}, seed of view {}), fuel {} on the enclaves, 0 on validators; ordered at height {ordered_at}, applied at {}; {}",
                    &job.to_string()[..10],
                    &view.contract.to_string()[..8],
                    view.lane_seq,
                    result.resolution,
                    assignment.map_or(0, |a| a.attempt),
                    assignment.map_or_else(String::new, |a| a.seed_round.to_string()),
                    result.fuel_used,
                    result.height,
                    if same {
                        "same output as replicated execution"
                    } else {
                        "OUTPUT DIFFERS from replicated execution"
                    }
                )
            },
        );
        if !same {
            bail!("job 0x{job} output differs from the replicated execution of the same call");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let count = LANES * JOBS_PER_LANE;
    event(
        json,
        json!({"event": "demo_committee_done", "jobs": count, "seconds": seconds,
               "jobs_per_second": count as f64 / seconds, "enclave_fuel": total_fuel,
               "last_height": last_height}),
        || {
            format!(
                "committee execution: {count} heavy jobs finalized in {seconds:.1} s ({:.2} jobs/s) \
                 across {LANES} lanes; {total_fuel} fuel spent in enclaves, none by validators\n  \
                 inspect one: hyperchain job show 0x<job> --rpc {}",
                count as f64 / seconds,
                client.base_url()
            )
        },
    );
    Ok(())
}
