//! `hyperchain vm …`: run contracts through the engine against a local state directory.

use crate::args::{TYPES_HELP, decode_output, encode_args};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hyperchain_chain::execute::ContractSnapshot;
use hyperchain_state::{Store, TreeId, WriteBatch};
use hyperchain_types::{Address, CallOutcome, Digest, sha256_parts};
use hyperchain_vm::{Call, CallContext, Engine, EngineConfig, ValidationError};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum VmCommand {
    /// Run a contract method against a local state directory and commit its writes.
    ///
    /// The contract is a `.wasm` file or the name of a built-in example (see `hyperchain vm
    /// examples`). Its storage lives in the state directory under the contract's address
    /// (by default derived from its code hash), so repeated runs build on each other.
    #[command(after_help = TYPES_HELP)]
    Run(Box<RunArgs>),
    /// Show a module's imports, exports and methods, and whether (and why not) it would be
    /// accepted for deployment.
    Inspect {
        /// A `.wasm` file or a built-in example name.
        contract: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the built-in example contracts and their methods.
    Examples {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show a state directory: state root, height, and a contract's storage.
    State {
        /// State directory.
        #[arg(long, default_value = DEFAULT_STATE)]
        state: PathBuf,
        /// Contract whose storage to list: an address, or a `.wasm` file / example name
        /// (meaning the default address `vm run` gives it).
        #[arg(long)]
        contract: Option<String>,
        /// Most keys to list.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

const DEFAULT_STATE: &str = ".hyperchain/vm-state";

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A `.wasm` file or a built-in example name (counter, token, heavy, …).
    contract: String,
    /// The method to call.
    method: String,
    /// Arguments as TYPE:VALUE (see below).
    args: Vec<String>,
    /// Raw call input in hex, instead of typed arguments.
    #[arg(long, conflicts_with = "args")]
    input_hex: Option<String>,
    /// State directory (created if missing).
    #[arg(long, default_value = DEFAULT_STATE)]
    state: PathBuf,
    /// Contract address (default: derived from the code hash).
    #[arg(long)]
    address: Option<Address>,
    /// Caller address.
    #[arg(
        long,
        default_value = "0x0101010101010101010101010101010101010101010101010101010101010101"
    )]
    caller: Address,
    /// Block height seen by the contract (default: the state's height + 1).
    #[arg(long)]
    height: Option<u64>,
    /// Block time in ms since the Unix epoch seen by the contract (default: now).
    #[arg(long)]
    time_ms: Option<u64>,
    /// Fuel limit.
    #[arg(long, default_value_t = 10_000_000_000)]
    fuel: u64,
    /// Decode the output as these comma-separated types (e.g. `u64` or `addr,?u64`).
    #[arg(long)]
    decode: Option<String>,
    /// Run without committing the writes.
    #[arg(long)]
    dry_run: bool,
    /// Keep compiled modules in this directory across runs.
    #[arg(long)]
    module_cache: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: VmCommand) -> Result<()> {
    match cmd {
        VmCommand::Run(args) => run_call(*args),
        VmCommand::Inspect { contract, json } => inspect(&contract, json),
        VmCommand::Examples { json } => examples(json),
        VmCommand::State {
            state,
            contract,
            limit,
            json,
        } => show_state(&state, contract.as_deref(), limit, json),
    }
}

/// Loads module bytes from a file, or a built-in example by name.
pub fn load_code(contract: &str) -> Result<Vec<u8>> {
    let path = Path::new(contract);
    if path.exists() {
        return std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    }
    if let Some(code) = hyperchain_contracts::by_name(contract) {
        return Ok(code.to_vec());
    }
    let names: Vec<_> = hyperchain_contracts::ALL.iter().map(|(n, _)| *n).collect();
    bail!(
        "no file `{contract}` and no built-in example of that name (examples: {})",
        names.join(", ")
    )
}

/// The address `vm run` gives a contract when none is given.
fn default_address(code_hash: &Digest) -> Address {
    Address(sha256_parts(&[b"hyperchain/vm-run/address", &code_hash.0]).0)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn run_call(a: RunArgs) -> Result<()> {
    let code = load_code(&a.contract)?;
    let input = match &a.input_hex {
        Some(h) => {
            hex::decode(h.strip_prefix("0x").unwrap_or(h)).context("--input-hex is not hex")?
        }
        None => encode_args(&a.args)?,
    };
    let engine = Engine::new(EngineConfig {
        module_cache_dir: a.module_cache.clone(),
        ..Default::default()
    })?;
    let contract = engine
        .load(&code)
        .map_err(|e| anyhow::anyhow!("cannot load {}: {e}", a.contract))?;
    if !contract.info().methods.contains(&a.method) {
        bail!(
            "{} has no method `{}` (methods: {})",
            a.contract,
            a.method,
            contract.info().methods.join(", ")
        );
    }
    let address = a
        .address
        .unwrap_or_else(|| default_address(&contract.code_hash()));
    let store =
        Store::open(&a.state).with_context(|| format!("opening state {}", a.state.display()))?;
    let snapshot = store.snapshot()?;
    let height = a.height.unwrap_or(snapshot.height()? + 1);
    let tree = TreeId(address.0);
    let reader = Arc::new(ContractSnapshot { snapshot, tree });
    let ctx = CallContext {
        caller: a.caller,
        contract: address,
        block_height: height,
        block_time_ms: a.time_ms.unwrap_or_else(now_ms),
    };
    let started = std::time::Instant::now();
    let outcome = engine.call(
        &contract,
        Call {
            ctx,
            method: &a.method,
            input: &input,
            fuel_limit: a.fuel,
        },
        reader,
    )?;
    let elapsed = started.elapsed();

    let commit = if outcome.status.is_ok() && !outcome.writes.is_empty() && !a.dry_run {
        let mut batch = WriteBatch::new();
        for (k, v) in &outcome.writes {
            batch.set(tree, k.clone(), v.clone());
        }
        let root = store
            .commit(&batch, height)
            .context("committing the call's writes")?;
        Some((height, Digest(root)))
    } else {
        None
    };
    let storage_root = Digest(store.tree_root(&tree)?);
    let decoded = match (&a.decode, outcome.status.is_ok()) {
        (Some(spec), true) => Some(decode_output(spec, &outcome.output)?),
        _ => None,
    };

    if a.json {
        let mut v = serde_json::to_value(&outcome)?;
        let obj = v.as_object_mut().expect("object");
        obj.insert("contract".into(), json!(address));
        obj.insert("code_hash".into(), json!(contract.code_hash()));
        obj.insert("method".into(), json!(a.method));
        obj.insert("fuel_limit".into(), json!(a.fuel));
        obj.insert("elapsed_us".into(), json!(elapsed.as_micros() as u64));
        obj.insert("storage_root".into(), json!(storage_root));
        obj.insert(
            "committed".into(),
            json!(commit.map(|(h, r)| json!({"height": h, "state_root": r}))),
        );
        if let Some(d) = decoded {
            obj.insert("decoded".into(), d);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_outcome(&outcome, &a, &address, decoded, elapsed);
        match commit {
            Some((h, root)) => println!(
                "committed  {} write(s) at height {h}\n  state root    0x{root}\n  storage root  0x{storage_root}",
                outcome.writes.len()
            ),
            None if a.dry_run && !outcome.writes.is_empty() => {
                println!("dry run    {} write(s) not committed", outcome.writes.len())
            }
            None => println!("storage root  0x{storage_root} (unchanged)"),
        }
    }
    if !outcome.status.is_ok() {
        // Scripts can tell a failed call from a successful one by the exit code.
        std::process::exit(2);
    }
    Ok(())
}

fn print_outcome(
    o: &CallOutcome,
    a: &RunArgs,
    address: &Address,
    decoded: Option<serde_json::Value>,
    elapsed: std::time::Duration,
) {
    println!("contract   0x{address}");
    println!("method     {}", a.method);
    println!("status     {}", o.status);
    if o.status.is_ok() {
        let shown = if o.output.is_empty() {
            "(empty)".to_string()
        } else {
            format!("0x{}", hex::encode(&o.output))
        };
        println!("output     {shown}");
        if let Some(d) = decoded {
            println!("decoded    {d}");
        }
    }
    println!("fuel       {} of {} ({:.2?})", o.fuel_used, a.fuel, elapsed);
    println!("events     {}", o.events.len());
    for (i, e) in o.events.iter().enumerate() {
        println!(
            "  [{i}] {} 0x{}",
            String::from_utf8(e.topic.clone())
                .unwrap_or_else(|_| format!("0x{}", hex::encode(&e.topic))),
            hex::encode(&e.data)
        );
    }
    println!(
        "reads      {} key(s), writes {} key(s)",
        o.reads.len(),
        o.writes.len()
    );
}

fn inspect(contract: &str, json: bool) -> Result<()> {
    let code = load_code(contract)?;
    let info = hyperchain_vm::inspect(&code);
    let verdict: Result<(), ValidationError> = match &info {
        Ok(_) => Engine::new(EngineConfig::default())?
            .validate(&code)
            .map(|_| ()),
        Err(e) => Err(e.clone()),
    };
    let code_hash = hyperchain_types::sha256(&code);
    if json {
        let v = json!({
            "code_hash": code_hash,
            "info": info.as_ref().ok(),
            "deployable": verdict.is_ok(),
            "rejection": verdict.as_ref().err().map(|e| e.to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("code hash  0x{code_hash}");
        if let Ok(info) = &info {
            println!("size       {} bytes", info.size);
            println!(
                "memory     {} page(s) initial{}",
                info.memory_initial_pages.unwrap_or(0),
                info.memory_max_pages
                    .map(|m| format!(", {m} max"))
                    .unwrap_or_default()
            );
            println!(
                "functions  {}, globals {}, tables {}",
                info.functions, info.globals, info.tables
            );
            println!("imports    {}", info.imports.len());
            for i in &info.imports {
                println!("  {}::{}  {}", i.module, i.name, i.kind);
            }
            println!("exports    {}", info.exports.len());
            for e in &info.exports {
                let sig = e.signature.as_deref().unwrap_or(&e.kind);
                println!(
                    "  {}  {sig}{}",
                    e.name,
                    if e.callable { "  (method)" } else { "" }
                );
            }
        }
        match &verdict {
            Ok(()) => println!("verdict    deployable"),
            Err(e) => println!("verdict    rejected: {e}"),
        }
    }
    if verdict.is_err() {
        std::process::exit(2);
    }
    Ok(())
}

fn examples(json: bool) -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let mut list = Vec::new();
    for (name, code) in hyperchain_contracts::ALL {
        let info = engine.validate(code)?;
        list.push(json!({"name": name, "size": code.len(), "code_hash": hyperchain_types::sha256(code), "methods": info.methods}));
        if !json {
            println!(
                "{name:<12} {:>7} bytes  {}",
                code.len(),
                info.methods.join(", ")
            );
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    }
    Ok(())
}

fn show_state(dir: &Path, contract: Option<&str>, limit: usize, json: bool) -> Result<()> {
    if !dir.exists() {
        bail!(
            "no state at {} (run `hyperchain vm run` first)",
            dir.display()
        );
    }
    let store = Store::open(dir)?;
    let snap = store.snapshot()?;
    let address = match contract {
        None => None,
        Some(c) => Some(match c.parse::<Address>() {
            Ok(a) => a,
            Err(_) => default_address(&hyperchain_types::sha256(&load_code(c)?)),
        }),
    };
    let root = Digest(snap.root()?);
    let height = snap.height()?;
    let storage = match address {
        Some(a) => {
            let tree = TreeId(a.0);
            let entries = snap.scan_prefix(&tree, &[], limit)?;
            Some((a, Digest(snap.tree_root(&tree)?), entries))
        }
        None => None,
    };
    if json {
        let v = json!({
            "state_root": root,
            "height": height,
            "contract": storage.as_ref().map(|(a, r, entries)| json!({
                "address": a,
                "storage_root": r,
                "entries": entries.iter().map(|kv| json!({"key": hex::encode(&kv.0), "value": hex::encode(&kv.1)})).collect::<Vec<_>>(),
            })),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("state root  0x{root}\nheight      {height}");
        if let Some((a, r, entries)) = storage {
            println!(
                "contract    0x{a}\nstorage     0x{r}, {} entr(ies) shown",
                entries.len()
            );
            for kv in entries {
                println!("  0x{} = 0x{}", hex::encode(&kv.0), hex::encode(&kv.1));
            }
        }
    }
    Ok(())
}
