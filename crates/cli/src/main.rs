//! The `hyperchain` command-line interface.

mod args;
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
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Vm(cmd) => vm::run(cmd),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
