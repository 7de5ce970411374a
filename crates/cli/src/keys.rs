//! `hyperchain keys …`: account keys (ed25519) and their addresses.

use anyhow::{Context, Result};
use clap::Subcommand;
use hyperchain_chain::genesis::AccountKey;
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Generate an account key and print its address.
    ///
    /// With --out, the key is written to a new file readable only by you (mode 0600) and only
    /// the address and public key are printed; without it, the private key is printed too.
    Generate {
        /// Key file to create (never overwritten).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the address and public key of a key file.
    Show {
        /// The key file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: KeysCommand) -> Result<()> {
    match cmd {
        KeysCommand::Generate { out, json } => {
            let key = AccountKey::generate(commonware_utils::sys_rng());
            let file = key.to_file();
            if let Some(path) = &out {
                key.save(path)
                    .with_context(|| format!("cannot write the key file {}", path.display()))?;
            }
            if json {
                let mut v = json!({ "address": file.address, "public_key": file.public_key });
                match &out {
                    Some(path) => v["file"] = json!(path),
                    None => v["private_key"] = json!(file.private_key),
                }
                println!("{v}");
            } else {
                println!("address     {}", file.address);
                println!("public key  {}", file.public_key);
                match &out {
                    Some(path) => println!("saved to    {} (mode 0600)", path.display()),
                    None => println!(
                        "private key {}\n(not saved: use --out FILE to write a key file)",
                        file.private_key
                    ),
                }
            }
            Ok(())
        }
        KeysCommand::Show { file, json } => {
            let key = AccountKey::load(&file)?;
            let f = key.to_file();
            if json {
                println!(
                    "{}",
                    json!({ "address": f.address, "public_key": f.public_key, "file": file })
                );
            } else {
                println!("address     {}", f.address);
                println!("public key  {}", f.public_key);
            }
            Ok(())
        }
    }
}
