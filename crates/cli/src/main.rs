//! The `hyperchain` command-line interface.

mod args;
mod attest;
mod bench;
mod compute;
mod demo;
mod devnet;
mod fleet;
mod genesis;
mod jobbench;
mod jobs;
mod keys;
mod node;
mod plot;
mod registry;
mod remote;
mod simulate;
mod vm;

use clap::{Parser, Subcommand};

/// hyperchain: a BFT blockchain for WASM smart contracts whose heavy calls run on small
/// committees of attested TEE compute nodes.
#[derive(Parser, Debug)]
#[command(name = "hyperchain", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run and inspect contracts with the deterministic engine, against local state.
    #[command(subcommand)]
    Vm(vm::VmCommand),
    /// Generate and show account keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Genesis: a key-generation ceremony among the validators (across hosts), devnets, and
    /// inspecting genesis documents.
    #[command(subcommand)]
    Genesis(genesis::GenesisCommand),
    /// Run one validator (`hyperchain node --config DIR/validator-0/config.json`), or manage
    /// compute nodes (`hyperchain node register | reattest | list | show | membership`).
    ///
    /// As a validator it logs each finalized block (height, digest, transactions, state root)
    /// and keeps `<data_dir>/status.json` current. It stops cleanly on Ctrl-C or SIGTERM
    /// (exit 0) and resumes from its data directory when started again. Set RUST_LOG to
    /// change the logging.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Node {
        /// The validator configuration (written by `hyperchain genesis init`, or by
        /// `hyperchain validator init` for a validator joining a running chain).
        #[arg(long, required = true)]
        config: Option<std::path::PathBuf>,
        /// A node of the chain whose RPC serves state checkpoints (http://HOST:PORT): on its
        /// first start (no ledger in the data directory yet) this node takes that node's
        /// newest checkpoint — its finality, its epoch's validators and the state's root all
        /// checked against the genesis — instead of replaying every block from genesis.
        /// Ignored once the node has a ledger.
        #[arg(long, value_name = "URL")]
        sync_from: Option<String>,
        #[command(subcommand)]
        action: Option<registry::NodeAction>,
    },
    /// Governance by the validators: runtime releases, the attestation policy, revocations.
    /// Each action is a proposal signed with a validator's key and takes effect once 2f+1
    /// validators approved it.
    #[command(subcommand)]
    Governance(registry::GovernanceCommand),
    /// Attestation tokens: fetch one from a node, verify one offline.
    #[command(subcommand)]
    Token(registry::TokenAction),
    /// The validator set: list the current, next and decided sets and the candidates; set up
    /// a joining validator; announce a candidate's key and p2p address (governance then
    /// admits it).
    #[command(subcommand)]
    Validator(registry::ValidatorCommand),
    /// Run a local devnet: ≥ 4 validator processes and a compute fleet over loopback.
    ///
    /// Creates a genesis in --dir if there is none (see `hyperchain genesis init`), otherwise
    /// resumes the chain stored there. Each validator is a separate `hyperchain node`
    /// process logging to DIR/validator-i/node.log; validator 0 serves RPC on the first RPC
    /// port (BASE_PORT + N, so `hyperchain status` finds a default devnet without --rpc).
    /// Governance then registers the devnet runtime release and simulated Intel and AMD
    /// compute nodes (`hyperchain compute`, logs in DIR/compute-i/compute.log) attest and
    /// register in each region. On a new devnet (or with --demo) a demo deploys and calls
    /// example contracts, then runs heavy calls on cross-vendor committees and prints which
    /// Intel/AMD pair executed each job. Ctrl-C stops everything cleanly.
    Devnet(devnet::DevnetArgs),
    /// Measure throughput on a fresh local network: light transactions (`increment(1)` on
    /// `counter`, sent to every validator), or with --workload/--mode/--compare heavy or light
    /// jobs executed replicated or by compute-node committees (jobs/s, latency, CPU per job).
    Bench(bench::BenchArgs),
    /// Simulate committee execution at internet scale: validators and compute pairs over up
    /// to ten cloud regions on the deterministic runtime and simulated network, one run per
    /// number of pairs; prints finalized jobs/s against linear scaling and what bounds it.
    ///
    /// Job execution time is the job's fuel over the fuel rate measured here first. Runs
    /// are deterministic for a --seed. Consensus is modelled on simplex's message pattern
    /// (see docs/PERFORMANCE.md for what is executed and what is modelled).
    Simulate(simulate::SimulateArgs),
    /// Deploy a contract through a node's RPC and print its address and code hash.
    ///
    /// Signs a deploy transaction with --key (nonce and chain id from the node), submits it
    /// and waits until it is finalized (--no-wait to return after submitting).
    Deploy(remote::DeployArgs),
    /// Call a contract method in a transaction and print the receipt.
    ///
    /// Exits with 2 if the call failed (reverted, out of fuel, trapped), 1 if the node
    /// refused or the chain rejected the transaction.
    #[command(after_help = args::TYPES_HELP)]
    Call(remote::CallArgs),
    /// Show an account's balance and next nonce (an address, or --key FILE).
    ///
    /// Balances are in base units; 1 HYP = 10^9 base units. A devnet's DIR/faucet.key holds
    /// one billion HYP at genesis.
    Balance(remote::BalanceArgs),
    /// Send HYP to another account and print the receipt (with the fee charged).
    ///
    /// The fee limit defaults to the estimate (`--estimate` prints it and sends nothing);
    /// the sender must hold the amount, the fee limit and the tip.
    Transfer(remote::TransferArgs),
    /// Run a read-only call on a node's latest finalized state (exit 2 if it fails).
    #[command(after_help = args::TYPES_HELP)]
    Query(remote::QueryArgs),
    /// Show a transaction's status and, once finalized, its receipt.
    Tx {
        /// The transaction id.
        id: hyperchain_types::Digest,
        /// Decode a call's output as these comma-separated types.
        #[arg(long)]
        decode: Option<String>,
        #[command(flatten)]
        conn: remote::Conn,
    },
    /// Show a node's chain id, finalized height, state root and mempool size.
    Status {
        #[command(flatten)]
        conn: remote::Conn,
    },
    /// Verify TEE attestation evidence against a policy; simulated evidence for devnets.
    #[command(subcommand)]
    Attest(attest::AttestCommand),
    /// Run a compute node: register with attestation evidence, then execute the jobs
    /// committees assign to it and send signed receipts.
    Compute(compute::ComputeArgs),
    /// Jobs (calls to TEE contracts): their committees, seeds, receipts and results.
    #[command(subcommand)]
    Job(jobs::JobCommand),
}

fn main() {
    let cli = Cli::parse();
    // A validator reports its progress through its log.
    let default_filter = match cli.command {
        Command::Node { action: None, .. } => "warn,hyperchain_chain=info,hyperchain=info",
        Command::Compute(_) => "error",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Vm(cmd) => vm::run(cmd),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Genesis(cmd) => genesis::run(cmd),
        Command::Node {
            action: Some(action),
            ..
        } => registry::node(action),
        Command::Node {
            config: Some(config),
            sync_from,
            action: None,
        } => node::run(&config, sync_from.as_deref()),
        Command::Node { .. } => Err(anyhow::anyhow!(
            "give --config FILE to run a validator, or a subcommand (see --help)"
        )),
        Command::Governance(cmd) => registry::governance(cmd),
        Command::Token(cmd) => registry::token(cmd),
        Command::Validator(cmd) => registry::validator(cmd),
        Command::Devnet(args) => devnet::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Deploy(args) => remote::deploy(args),
        Command::Call(args) => remote::call(args),
        Command::Balance(args) => remote::balance(args),
        Command::Transfer(args) => remote::transfer(args),
        Command::Query(args) => remote::query(args),
        Command::Tx { id, decode, conn } => remote::tx(id, decode, conn),
        Command::Status { conn } => remote::status(conn),
        Command::Attest(cmd) => attest::run(cmd),
        Command::Compute(args) => compute::run(args),
        Command::Job(cmd) => jobs::run(cmd),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
