//! `hyperchain deploy | call | query | tx | status`: clients of a node's RPC API
//! (`hyperchain_rpc::Client`, run on a small tokio runtime per command).

use crate::args::{decode_output, encode_args};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use hyperchain_chain::genesis::AccountKey;
use hyperchain_rpc::api::{QueryRequest, ReceiptOutcome, ReceiptView, TxStatus};
use hyperchain_rpc::{Client, ClientError};
use hyperchain_types::{Address, Digest, ExecutionMode, Payload, Transaction};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The RPC URL of validator 0 of a default devnet (`hyperchain devnet`, 4 validators):
/// RPC ports follow the p2p ports.
/// (`DEFAULT_BASE_PORT` + 4; checked by a unit test.)
pub const DEFAULT_RPC: &str = "http://127.0.0.1:30404";

/// Default fuel limit of a call.
pub const DEFAULT_FUEL: u64 = 1_000_000_000;

/// Where the node is and how to print.
#[derive(Args, Debug, Clone)]
pub struct Conn {
    /// The node's RPC URL (default: validator 0 of a default `hyperchain devnet`).
    #[arg(long, env = "HYPERCHAIN_RPC", default_value = DEFAULT_RPC)]
    pub rpc: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Waiting for finality.
#[derive(Args, Debug, Clone)]
pub struct Wait {
    /// Wait for the transaction to be finalized and print its receipt (the default).
    #[arg(long, overrides_with = "no_wait")]
    pub wait: bool,
    /// Print the transaction id once the node accepted it, without waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for finality, in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// A `.wasm` file or a built-in example name (see `hyperchain vm examples`).
    pub contract: String,
    /// The sender's account key file (`hyperchain keys generate --out FILE`).
    #[arg(long)]
    pub key: PathBuf,
    /// Who executes the contract's calls: replicated, single, committee(K), cross-vendor.
    #[arg(long, default_value = "replicated")]
    pub mode: ExecutionMode,
    /// Regions whose compute nodes execute it (TEE modes); repeatable.
    #[arg(long = "region")]
    pub regions: Vec<String>,
    /// Nonce to use (default: the account's next nonce on the node).
    #[arg(long)]
    pub nonce: Option<u64>,
    #[command(flatten)]
    pub wait: Wait,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// The contract address.
    pub contract: Address,
    /// The method.
    pub method: String,
    /// Arguments as TYPE:VALUE (see below).
    pub args: Vec<String>,
    /// The sender's account key file.
    #[arg(long)]
    pub key: PathBuf,
    /// Fuel limit.
    #[arg(long, default_value_t = DEFAULT_FUEL)]
    pub fuel: u64,
    /// Decode the output as these comma-separated types (e.g. `u64` or `addr,?u64`).
    #[arg(long)]
    pub decode: Option<String>,
    /// Nonce to use (default: the account's next nonce on the node).
    #[arg(long)]
    pub nonce: Option<u64>,
    #[command(flatten)]
    pub wait: Wait,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The contract address.
    pub contract: Address,
    /// The method.
    pub method: String,
    /// Arguments as TYPE:VALUE (see below).
    pub args: Vec<String>,
    /// Decode the output as these comma-separated types.
    #[arg(long)]
    pub decode: Option<String>,
    /// Fuel limit (default: the node's).
    #[arg(long)]
    pub fuel: Option<u64>,
    /// The caller the contract sees (default: the zero address).
    #[arg(long)]
    pub caller: Option<Address>,
    #[command(flatten)]
    pub conn: Conn,
}

/// Builds the small runtime a command runs its client on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A client for each of `urls`.
pub fn clients(urls: &[String]) -> Result<Vec<Client>> {
    urls.iter().map(|u| client(u)).collect()
}

pub fn client(url: &str) -> Result<Client> {
    Client::new(url).map_err(|e| anyhow!("{e} (set --rpc or HYPERCHAIN_RPC)"))
}

/// An RPC failure, saying which node it was.
pub fn rpc_error(url: &str, e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Transport { .. } => {
            anyhow!(
                "cannot reach the node at {url}: {e} (is it running? set --rpc or HYPERCHAIN_RPC)"
            )
        }
        ClientError::Api {
            status: 400,
            message,
        } => anyhow!("rejected by {url}: {message}"),
        other => anyhow!("{url}: {other}"),
    }
}

pub fn load_key(path: &Path) -> Result<AccountKey> {
    // The error names the file.
    AccountKey::load(path).map_err(|e| anyhow!("cannot use the account key: {e}"))
}

/// Signs `payload` from `key` with the chain's id and the account's next nonce (or `nonce`)
/// and submits it; returns the id.
pub async fn submit(
    client: &Client,
    key: &AccountKey,
    payload: Payload,
    nonce: Option<u64>,
) -> Result<Digest> {
    let url = client.base_url();
    let status = client.status().await.map_err(|e| rpc_error(url, e))?;
    let nonce = match nonce {
        Some(n) => n,
        None => client
            .nonce(&key.address())
            .await
            .map_err(|e| rpc_error(url, e))?,
    };
    let tx = Transaction {
        chain_id: status.chain_id,
        sender: commonware_cryptography::Signer::public_key(&key.0).into(),
        nonce,
        payload,
    }
    .sign(&key.0);
    client.submit(&tx).await.map_err(|e| match e {
        ClientError::Api {
            status: 400,
            message,
        } => {
            anyhow!("transaction rejected by {url}: {message}")
        }
        e => rpc_error(url, e),
    })
}

/// Waits for the receipt of `id`.
pub async fn wait_receipt(client: &Client, id: &Digest, timeout: Duration) -> Result<ReceiptView> {
    let url = client.base_url();
    client
        .wait_for_receipt(id, timeout)
        .await
        .map_err(|e| match e {
            ClientError::Timeout(t) => anyhow!(
                "transaction {id} not finalized after {t:?} (check later with `hyperchain tx {id}`)"
            ),
            ClientError::Dropped(reason) => anyhow!("transaction {id} dropped: {reason}"),
            e => rpc_error(url, e),
        })
}

/// A receipt as JSON, with the output decoded as `decode` when the call succeeded.
pub fn receipt_json(r: &ReceiptView, decode: Option<&str>) -> Result<Value> {
    let mut v = serde_json::to_value(r)?;
    if let (Some(spec), ReceiptOutcome::Called { status, output, .. }) = (decode, &r.outcome)
        && status.is_ok()
    {
        v["decoded"] = decode_output(spec, &output.0)?;
    }
    Ok(v)
}

fn topic(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| format!("0x{}", hex::encode(bytes)))
}

/// Prints a receipt as text.
pub fn print_receipt(r: &ReceiptView, decoded: Option<&Value>) {
    println!("tx         0x{}", r.tx_id);
    println!("finalized  height {} (index {})", r.height, r.index);
    match &r.outcome {
        ReceiptOutcome::Deployed { address, code_hash } => {
            println!("deployed   0x{address}");
            println!("code hash  0x{code_hash}");
        }
        ReceiptOutcome::Called {
            status,
            output,
            events,
        } => {
            match &status.detail {
                Some(d) => println!("status     {} ({d})", status.status),
                None => println!("status     {}", status.status),
            }
            if status.is_ok() {
                let shown = if output.0.is_empty() {
                    "(empty)".to_string()
                } else {
                    format!("0x{}", hex::encode(&output.0))
                };
                println!("output     {shown}");
                if let Some(d) = decoded {
                    println!("decoded    {d}");
                }
            }
            println!("fuel       {}", r.fuel_used);
            println!("events     {}", events.len());
            for (i, e) in events.iter().enumerate() {
                println!("  [{i}] {} 0x{}", topic(&e.topic.0), hex::encode(&e.data.0));
            }
        }
        ReceiptOutcome::Rejected { reason } => println!("rejected   {reason}"),
        ReceiptOutcome::Accepted => println!("accepted"),
        ReceiptOutcome::Queued { job, lane_seq } => {
            println!("queued     job 0x{job} at lane position {lane_seq}");
            println!("           (its committee's result: hyperchain job show 0x{job})");
        }
    }
}

/// Exits as a receipt says: 1 for a rejected transaction, 2 for a failed call.
pub fn exit_for(r: &ReceiptView) -> Result<()> {
    match &r.outcome {
        ReceiptOutcome::Rejected { reason } => {
            bail!(
                "transaction 0x{} rejected at height {}: {reason}",
                r.tx_id,
                r.height
            )
        }
        ReceiptOutcome::Called { status, .. } if !status.is_ok() => {
            // Scripts can tell a failed call from a successful one by the exit code.
            std::process::exit(2)
        }
        _ => Ok(()),
    }
}

pub fn submitted(conn: &Conn, id: &Digest) {
    if conn.json {
        println!("{}", json!({"tx_id": id, "status": "pending"}));
    } else {
        println!("submitted 0x{id} to {} (not waiting)", conn.rpc);
    }
}

pub fn deploy(a: DeployArgs) -> Result<()> {
    let code = crate::vm::load_code(&a.contract)?;
    // The chain would reject it after finalizing it (consuming a nonce): say why now.
    if let Err(e) = hyperchain_vm::inspect(&code) {
        bail!("{} cannot be deployed: {e}", a.contract);
    }
    let key = load_key(&a.key)?;
    let client = client(&a.conn.rpc)?;
    let payload = Payload::Deploy {
        code,
        mode: a.mode,
        regions: a.regions.clone(),
    };
    runtime()?.block_on(async {
        let id = submit(&client, &key, payload, a.nonce).await?;
        if a.wait.no_wait {
            submitted(&a.conn, &id);
            return Ok(());
        }
        if !a.conn.json {
            eprintln!("submitted 0x{id}, waiting for finality…");
        }
        let r = wait_receipt(&client, &id, Duration::from_secs(a.wait.timeout)).await?;
        if a.conn.json {
            let mut v = receipt_json(&r, None)?;
            if let ReceiptOutcome::Deployed { address, code_hash } = &r.outcome {
                v["address"] = json!(address);
                v["code_hash"] = json!(code_hash);
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print_receipt(&r, None);
        }
        exit_for(&r)
    })
}

pub fn call(a: CallArgs) -> Result<()> {
    let input = encode_args(&a.args)?;
    let key = load_key(&a.key)?;
    let client = client(&a.conn.rpc)?;
    let payload = Payload::Call {
        contract: a.contract,
        method: a.method.clone(),
        input,
        fuel_limit: a.fuel,
    };
    runtime()?.block_on(async {
        let id = submit(&client, &key, payload, a.nonce).await?;
        if a.wait.no_wait {
            submitted(&a.conn, &id);
            return Ok(());
        }
        if !a.conn.json {
            eprintln!("submitted 0x{id}, waiting for finality…");
        }
        let started = std::time::Instant::now();
        let timeout = Duration::from_secs(a.wait.timeout);
        let r = wait_receipt(&client, &id, timeout).await?;
        let mut v = receipt_json(&r, a.decode.as_deref())?;
        if let ReceiptOutcome::Queued { job, .. } = &r.outcome {
            // A TEE contract: wait for its committee's agreed result too.
            if !a.conn.json {
                print_receipt(&r, None);
                eprintln!("waiting for the committee's result…");
            }
            let left = timeout.saturating_sub(started.elapsed());
            let json = a.conn.json;
            let mut progress = Vec::new();
            let view = crate::jobs::wait_done(&client, job, left, |step| {
                if !json && step.state != "done" {
                    eprintln!("{}", step.describe());
                }
                progress.push(step.clone());
            })
            .await?;
            if view.state == "failed" {
                // No committee could be formed for too long: the call changed nothing.
                if a.conn.json {
                    v["job"] = serde_json::to_value(&view)?;
                    v["progress"] = serde_json::to_value(&progress)?;
                    println!("{}", serde_json::to_string_pretty(&v)?);
                } else {
                    crate::jobs::print_job(&view);
                }
                std::process::exit(2);
            }
            let result = view
                .result
                .as_ref()
                .ok_or_else(|| anyhow!("job 0x{job} is done but the node shows no result"))?;
            let decoded = match (&a.decode, result.status.is_ok()) {
                (Some(spec), true) => Some(decode_output(spec, &result.output.0)?),
                _ => None,
            };
            if a.conn.json {
                v["job"] = serde_json::to_value(&view)?;
                v["progress"] = serde_json::to_value(&progress)?;
                if let Some(d) = &decoded {
                    v["decoded"] = d.clone();
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                crate::jobs::print_job(&view);
                if let Some(d) = &decoded {
                    println!("decoded    {d}");
                }
            }
            if !result.status.is_ok() {
                std::process::exit(2);
            }
            return Ok(());
        }
        if a.conn.json {
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print_receipt(&r, v.get("decoded"));
        }
        exit_for(&r)
    })
}

pub fn query(a: QueryArgs) -> Result<()> {
    let input = encode_args(&a.args)?;
    let client = client(&a.conn.rpc)?;
    let mut req = QueryRequest::new(a.contract, a.method.clone(), input);
    req.fuel_limit = a.fuel;
    req.caller = a.caller;
    let resp = runtime()?
        .block_on(client.query(&req))
        .map_err(|e| match e {
            ClientError::Api {
                status: 404,
                message,
            } => anyhow!("{message} (asked {})", a.conn.rpc),
            e => rpc_error(&a.conn.rpc, e),
        })?;
    let decoded = match (&a.decode, resp.status.is_ok()) {
        (Some(spec), true) => Some(decode_output(spec, &resp.output.0)?),
        _ => None,
    };
    if a.conn.json {
        let mut v = serde_json::to_value(&resp)?;
        if let Some(d) = &decoded {
            v["decoded"] = d.clone();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("contract   0x{}", a.contract);
        println!("method     {}", a.method);
        println!(
            "state      height {}, root 0x{}",
            resp.height, resp.state_root
        );
        match &resp.status.detail {
            Some(d) => println!("status     {} ({d})", resp.status.status),
            None => println!("status     {}", resp.status.status),
        }
        if resp.status.is_ok() {
            println!("output     0x{}", hex::encode(&resp.output.0));
            if let Some(d) = &decoded {
                println!("decoded    {d}");
            }
        }
        println!("fuel       {}", resp.fuel_used);
        println!("events     {}", resp.events.len());
        for (i, e) in resp.events.iter().enumerate() {
            println!("  [{i}] {} 0x{}", topic(&e.topic.0), hex::encode(&e.data.0));
        }
    }
    if !resp.status.is_ok() {
        std::process::exit(2);
    }
    Ok(())
}

pub fn tx(id: Digest, decode: Option<String>, conn: Conn) -> Result<()> {
    let client = client(&conn.rpc)?;
    let status = runtime()?
        .block_on(client.tx_status(&id))
        .map_err(|e| rpc_error(&conn.rpc, e))?;
    match &status {
        TxStatus::Finalized { receipt } => {
            let mut v = receipt_json(receipt, decode.as_deref())?;
            if conn.json {
                v["status"] = json!("finalized");
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_receipt(receipt, v.get("decoded"));
            }
        }
        TxStatus::Unknown => bail!("transaction 0x{id} is not known to {}", conn.rpc),
        other => {
            if conn.json {
                println!("{}", serde_json::to_string(other)?);
            } else {
                match other {
                    TxStatus::Dropped { reason } => {
                        println!("tx         0x{id}\ndropped    {reason}")
                    }
                    _ => println!(
                        "tx         0x{id}\npending    in the mempool of {}",
                        conn.rpc
                    ),
                }
            }
        }
    }
    Ok(())
}

pub fn status(conn: Conn) -> Result<()> {
    let client = client(&conn.rpc)?;
    let s = runtime()?
        .block_on(client.status())
        .map_err(|e| rpc_error(&conn.rpc, e))?;
    if conn.json {
        let mut v = serde_json::to_value(&s)?;
        v["rpc"] = json!(conn.rpc);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("node        {} (version {})", conn.rpc, s.version);
        println!("chain id    {}", s.chain_id);
        println!("finalized   height {} (0x{})", s.height, s.digest);
        println!("state root  0x{}", s.state_root);
        println!("mempool     {} transaction(s)", s.mempool);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_rpc_is_the_default_devnets_first_validator() {
        assert_eq!(
            super::DEFAULT_RPC,
            format!("http://127.0.0.1:{}", crate::genesis::DEFAULT_BASE_PORT + 4)
        );
    }
}
