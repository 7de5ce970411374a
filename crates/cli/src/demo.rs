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

/// Runs the demo against the node at `rpc`.
pub async fn run(dir: &Path, rpc: &str, json: bool) -> Result<()> {
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
    event(
        json,
        json!({"event": "demo_done", "counter": counter, "heavy": heavy, "key": key_path, "rpc": rpc}),
        || {
            format!(
                "demo done; try:\n  hyperchain call 0x{counter} increment u64:10 --key {} --decode u64 --rpc {rpc}\n  hyperchain query 0x{counter} get --decode u64 --rpc {rpc}",
                key_path.display()
            )
        },
    );
    Ok(())
}

/// Waits until the node answers and has finalized a block.
async fn wait_for_blocks(client: &Client, json: bool) -> Result<()> {
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
    let code = hyperchain_contracts::by_name(name)
        .ok_or_else(|| anyhow!("no example `{name}`"))?
        .to_vec();
    let payload = Payload::Deploy {
        code,
        mode: ExecutionMode::Replicated,
        regions: Vec::new(),
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
               "code_hash": code_hash, "tx_id": id, "height": r.height}),
        || {
            format!(
                "deployed {name} at 0x{address}\n  tx 0x{id}  finalized at height {}",
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
