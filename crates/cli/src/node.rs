//! `hyperchain node --config FILE`: one validator process.

use anyhow::Result;
use hyperchain_chain::config::ValidatorSetup;
use hyperchain_chain::runner::{RpcHandles, run_validator};
use std::path::Path;

pub fn run(config: &Path) -> Result<()> {
    let setup = ValidatorSetup::load(config)?;
    tracing::info!(
        config = %config.display(),
        data_dir = %setup.config.data_dir.display(),
        "starting validator"
    );
    run_validator(setup, |handles: RpcHandles| {
        tracing::info!(
            rpc_listen = %handles.listen,
            "this build does not include the RPC server; the address is not bound"
        );
    })?;
    Ok(())
}
