//! `hyperchain deploy | call | query | tx | status`: clients of a node's RPC API
//! (`hyperchain_rpc::Client`, run on a small tokio runtime per command).

use crate::args::{decode_output, encode_args};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use hyperchain_chain::fees::{format_amount, parse_amount};
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
    pub fee: FeeArgs,
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
    pub fee: FeeArgs,
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
    submit_with(client, key, payload, nonce, &FeeArgs::default()).await
}

/// The fee options of a transaction command.
#[derive(Args, Debug, Clone, Default)]
pub struct FeeArgs {
    /// The most the transaction may be charged (HYP, e.g. 0.5, or base units as 500u).
    /// Default: the estimate (the schedule's charge for it, plus for a call twice the state
    /// a read-only run says it writes).
    #[arg(long, value_parser = parse_amount_u64)]
    pub fee_limit: Option<u64>,
    /// Paid to the block's proposer on top of the charge; higher tips are included first.
    #[arg(long, value_parser = parse_amount_u64, default_value = "0")]
    pub tip: u64,
    /// Print the estimated fee and send nothing.
    #[arg(long)]
    pub estimate: bool,
}

fn parse_amount_u64(text: &str) -> Result<u64, String> {
    let units = parse_amount(text)?;
    u64::try_from(units).map_err(|_| format!("`{text}` is more than a fee can be"))
}

/// What a transaction is expected to cost, from the chain's schedule and, for a call, a
/// read-only run on the finalized state.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Estimate {
    /// The schedule's charge for any inclusion (bytes, code, evidence).
    pub base: u64,
    /// The fuel the read-only run used, and its charge.
    pub fuel_used: u64,
    /// The charge for that fuel.
    pub fuel: u64,
    /// Bytes of state the run wrote, and their charge.
    pub state_bytes: u64,
    /// The charge for those bytes.
    pub state: u64,
    /// The least fee limit the chain accepts (base + the whole fuel limit; for a call to a
    /// TEE contract, its committee's pay, one arbitration and the receipts too).
    pub required: u64,
    /// Members of the committee that executes the call (0: validators execute it).
    pub committee: u64,
    /// The fee limit chosen: the required one plus twice the state charge.
    pub limit: u64,
    /// The expected charge: base + fuel + state.
    pub expected: u64,
}

/// Estimates `tx`'s fee (its own fee fields are ignored).
pub async fn estimate(client: &Client, tx: &Transaction) -> Result<Estimate> {
    let url = client.base_url();
    let schedule = client.fees().await.map_err(|e| rpc_error(url, e))?.schedule;
    let mut required = schedule.required_unsigned(tx);
    let base = schedule.base_of(
        &tx.payload,
        commonware_codec::EncodeSize::encode_size(tx) + 64,
    );
    // A TEE contract's committee is paid from the call's fee limit.
    let mut committee = 0;
    if let Payload::Call {
        contract,
        fuel_limit,
        ..
    } = &tx.payload
        && let Some(lane) = client.lane(contract).await.map_err(|e| rpc_error(url, e))?
    {
        committee = committee_size(&lane.mode, lane.regions.len());
        if let Err(needed) =
            hyperchain_chain::execute::job_funds(&schedule, *fuel_limit, committee, base, 0)
        {
            required = needed;
        }
    }
    let (fuel_used, state_bytes) = match &tx.payload {
        Payload::Call {
            contract,
            method,
            input,
            fuel_limit,
        } => {
            let mut request = QueryRequest::new(*contract, method.clone(), input.clone());
            request.caller = Some(tx.sender_address());
            request.fuel_limit = Some(*fuel_limit);
            match client.query(&request).await {
                Ok(run) => {
                    let bytes: u64 = run
                        .writes
                        .iter()
                        .filter_map(|(k, v)| v.as_ref().map(|v| (k.len() / 2 + v.0.len()) as u64))
                        .sum();
                    (run.fuel_used, bytes)
                }
                // The node may cap read-only runs below the call's fuel limit: the estimate
                // then covers the required charge only.
                Err(_) => (0, 0),
            }
        }
        _ => (0, 0),
    };
    let fuel = schedule.fuel(fuel_used);
    let state = schedule.state(state_bytes);
    Ok(Estimate {
        base,
        fuel_used,
        fuel,
        state_bytes,
        state,
        required,
        committee,
        limit: required.saturating_add(state.saturating_mul(2)),
        expected: base.saturating_add(fuel).saturating_add(state),
    })
}

/// Members of a committee of `mode` (`single`, `committee(K)`, `cross-vendor`) over `regions`
/// regions.
pub fn committee_size(mode: &str, regions: usize) -> u64 {
    match mode.parse::<ExecutionMode>() {
        Ok(ExecutionMode::Single) => 1,
        Ok(ExecutionMode::Committee(k)) => k as u64,
        Ok(ExecutionMode::CrossVendor) => 2 * regions as u64,
        _ => 0,
    }
}

/// Prints an estimate.
pub fn print_estimate(e: &Estimate, json: bool) {
    if json {
        println!("{}", json!({"estimate": e}));
        return;
    }
    println!("base       {}", format_amount(e.base as u128));
    println!(
        "fuel       {} ({} fuel in a read-only run)",
        format_amount(e.fuel as u128),
        e.fuel_used
    );
    println!(
        "state      {} ({} bytes written)",
        format_amount(e.state as u128),
        e.state_bytes
    );
    println!("expected   {}", format_amount(e.expected as u128));
    if e.committee > 0 {
        println!(
            "committee  {} members, paid from the fee limit (the unused part is refunded when the job ends)",
            e.committee
        );
    }
    println!(
        "fee limit  {} (required at least {})",
        format_amount(e.limit as u128),
        format_amount(e.required as u128)
    );
}

/// The unsigned transaction `key` would send with `payload` (nonce from the node unless
/// given), without a fee yet.
pub async fn unsigned(
    client: &Client,
    key: &AccountKey,
    payload: Payload,
    nonce: Option<u64>,
) -> Result<Transaction> {
    let url = client.base_url();
    let status = client.status().await.map_err(|e| rpc_error(url, e))?;
    let nonce = match nonce {
        Some(n) => n,
        None => client
            .nonce(&key.address())
            .await
            .map_err(|e| rpc_error(url, e))?,
    };
    Ok(Transaction {
        chain_id: status.chain_id,
        sender: commonware_cryptography::Signer::public_key(&key.0).into(),
        nonce,
        fee: hyperchain_types::Fee::NONE,
        payload,
    })
}

/// Sends `payload` with the fee options and returns its id to wait for; with `--estimate`
/// prints the estimate instead, with `--no-wait` says it was submitted (both: `None`).
#[allow(clippy::too_many_arguments)]
async fn send_or_estimate(
    client: &Client,
    key: &AccountKey,
    payload: Payload,
    nonce: Option<u64>,
    fee: &FeeArgs,
    conn: &Conn,
    wait: &Wait,
) -> Result<Option<Digest>> {
    if fee.estimate {
        let tx = unsigned(client, key, payload, nonce).await?;
        print_estimate(&estimate(client, &tx).await?, conn.json);
        return Ok(None);
    }
    let id = submit_with(client, key, payload, nonce, fee).await?;
    if wait.no_wait {
        submitted(conn, &id);
        return Ok(None);
    }
    Ok(Some(id))
}

/// [`submit`] with the fee options: the limit given, or the estimate's.
pub async fn submit_with(
    client: &Client,
    key: &AccountKey,
    payload: Payload,
    nonce: Option<u64>,
    fee: &FeeArgs,
) -> Result<Digest> {
    let url = client.base_url();
    let mut tx = unsigned(client, key, payload, nonce).await?;
    let limit = match fee.fee_limit {
        Some(limit) => limit,
        None => estimate(client, &tx).await?.limit,
    };
    tx.fee = hyperchain_types::Fee {
        limit,
        tip: fee.tip,
    };
    let tx = tx.sign(&key.0);
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
    println!("fee        {}", format_amount(r.fee as u128));
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
        let Some(id) =
            send_or_estimate(&client, &key, payload, a.nonce, &a.fee, &a.conn, &a.wait).await?
        else {
            return Ok(());
        };
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
        let Some(id) =
            send_or_estimate(&client, &key, payload, a.nonce, &a.fee, &a.conn, &a.wait).await?
        else {
            return Ok(());
        };
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
        println!("epoch       {} ({} validators)", s.epoch, s.validators);
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

#[derive(Args, Debug)]
pub struct BalanceArgs {
    /// The account's address (64 hex digits); or give --key.
    #[arg(required_unless_present = "key", conflicts_with = "key")]
    pub address: Option<Address>,
    /// An account key file: show that account.
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub conn: Conn,
}

/// `hyperchain balance`: an account's balance and next nonce in the finalized state.
pub fn balance(a: BalanceArgs) -> Result<()> {
    let address = match (&a.address, &a.key) {
        (Some(address), _) => *address,
        (None, Some(key)) => load_key(key)?.address(),
        (None, None) => bail!("give an address or --key"),
    };
    let client = client(&a.conn.rpc)?;
    runtime()?.block_on(async {
        let url = client.base_url();
        let account = client
            .account(&address)
            .await
            .map_err(|e| rpc_error(url, e))?;
        let units = account.balance().map_err(|e| anyhow!("{url}: {e}"))?;
        if a.conn.json {
            println!(
                "{}",
                json!({"address": address, "balance": account.balance, "balance_hyp": format_amount(units),
                       "nonce": account.nonce, "height": account.height})
            );
        } else {
            println!("account  0x{address}");
            println!("balance  {} ({units} base units)", format_amount(units));
            println!("nonce    {}", account.nonce);
            println!("height   {}", account.height);
        }
        Ok(())
    })
}

#[derive(Args, Debug)]
pub struct TransferArgs {
    /// How much to send: HYP (e.g. 12.5) or base units (e.g. 1500u).
    #[arg(value_parser = parse_amount)]
    pub amount: u128,
    /// The receiving account's address.
    #[arg(long)]
    pub to: Address,
    /// The sender's account key file.
    #[arg(long)]
    pub key: PathBuf,
    /// Nonce to use (default: the account's next nonce on the node).
    #[arg(long)]
    pub nonce: Option<u64>,
    #[command(flatten)]
    pub fee: FeeArgs,
    #[command(flatten)]
    pub wait: Wait,
    #[command(flatten)]
    pub conn: Conn,
}

/// `hyperchain transfer`: moves tokens to another account.
pub fn transfer(a: TransferArgs) -> Result<()> {
    let key = load_key(&a.key)?;
    let client = client(&a.conn.rpc)?;
    let payload = Payload::Transfer {
        to: a.to,
        amount: a.amount,
    };
    runtime()?.block_on(async {
        let Some(id) =
            send_or_estimate(&client, &key, payload, a.nonce, &a.fee, &a.conn, &a.wait).await?
        else {
            return Ok(());
        };
        if !a.conn.json {
            eprintln!(
                "submitted 0x{id}: {} to 0x{}, waiting for finality…",
                format_amount(a.amount),
                a.to
            );
        }
        let r = wait_receipt(&client, &id, Duration::from_secs(a.wait.timeout)).await?;
        if a.conn.json {
            let mut v = receipt_json(&r, None)?;
            v["to"] = json!(a.to);
            v["amount"] = json!(a.amount.to_string());
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print_receipt(&r, None);
        }
        exit_for(&r)
    })
}

/// A devnet's faucet key (`DIR/faucet.key`, funded at genesis).
pub fn faucet_key(dir: &Path) -> Result<AccountKey> {
    let path = dir.join(crate::genesis::FAUCET_KEY_FILE);
    AccountKey::load(&path).map_err(|e| anyhow!("cannot use the devnet faucet key: {e}"))
}

/// Tops each of `grants` up to its amount from `faucet` (accounts already holding it get
/// nothing), in one batch of transfers with consecutive nonces, and waits until every one is
/// finalized. Returns how many transfers were sent.
pub async fn fund(
    client: &Client,
    faucet: &AccountKey,
    grants: &[(Address, u128)],
) -> Result<usize> {
    fund_all(std::slice::from_ref(client), faucet, grants).await
}

/// [`fund`] through `clients[0]`, also waiting until every client's node has applied the
/// transfers (the funded accounts' transactions may go to any of them).
pub async fn fund_all(
    clients: &[Client],
    faucet: &AccountKey,
    grants: &[(Address, u128)],
) -> Result<usize> {
    let client = &clients[0];
    let url = client.base_url();
    let mut needed = Vec::new();
    for (address, amount) in grants {
        let held = client
            .account(address)
            .await
            .map_err(|e| rpc_error(url, e))?
            .balance()
            .map_err(|e| anyhow!("{url}: {e}"))?;
        if held < *amount {
            needed.push((*address, amount - held));
        }
    }
    if needed.is_empty() {
        return Ok(0);
    }
    let first = unsigned(
        client,
        faucet,
        Payload::Transfer {
            to: Address::ZERO,
            amount: 0,
        },
        None,
    )
    .await?;
    let limit = estimate(client, &first).await?.limit;
    let txs: Vec<_> = needed
        .iter()
        .enumerate()
        .map(|(i, (to, amount))| {
            Transaction {
                nonce: first.nonce + i as u64,
                fee: hyperchain_types::Fee::limit(limit),
                payload: Payload::Transfer {
                    to: *to,
                    amount: *amount,
                },
                ..first.clone()
            }
            .sign(&faucet.0)
        })
        .collect();
    // Batches of at most 1,000 (the RPC's per-request limit is higher).
    for chunk in txs.chunks(1_000) {
        let verdicts = client
            .submit_batch(chunk)
            .await
            .map_err(|e| rpc_error(url, e))?;
        if let Some(Err(reason)) = verdicts.into_iter().find(Result::is_err) {
            bail!("funding from the faucet was refused by {url}: {reason}");
        }
    }
    let mut height = 0;
    for tx in &txs {
        let r = wait_receipt(client, &tx.id(), Duration::from_secs(120)).await?;
        if let ReceiptOutcome::Rejected { reason } = &r.outcome {
            bail!("funding from the faucet was rejected: {reason}");
        }
        height = height.max(r.height);
    }
    wait_everywhere(clients, height).await?;
    Ok(txs.len())
}

/// Waits until every client's node has applied the finalized block at `height`.
pub async fn wait_everywhere(clients: &[Client], height: u64) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for client in clients {
        let url = client.base_url();
        while client.status().await.map_err(|e| rpc_error(url, e))?.height < height {
            if std::time::Instant::now() > deadline {
                bail!("{url} did not reach height {height} within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}
