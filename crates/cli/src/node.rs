//! `hyperchain node --config FILE`: one validator process, serving the RPC API.

use anyhow::{Context, Result};
use hyperchain_chain::config::ValidatorSetup;
use hyperchain_chain::runner::{RpcHandles, run_validator};
use hyperchain_rpc::{RpcContext, serve};
use std::path::Path;
use std::sync::Arc;

pub fn run(config: &Path) -> Result<()> {
    let setup = ValidatorSetup::load(config)?;
    // Bound before consensus starts, so that a taken port fails the start with a reason.
    let rpc = std::net::TcpListener::bind(setup.config.rpc_listen)
        .with_context(|| format!("cannot listen for RPC on {}", setup.config.rpc_listen))?;
    rpc.set_nonblocking(true)?;
    tracing::info!(
        config = %config.display(),
        data_dir = %setup.config.data_dir.display(),
        "starting validator"
    );
    run_validator(setup, move |handles: RpcHandles| {
        let ctx = RpcContext::new(handles.ledger, handles.mempool, Arc::new(handles.marshal));
        // Runs on the validator's tokio runtime and stops with it.
        tokio::spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(rpc) {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::error!(error = %e, "cannot serve RPC");
                    return;
                }
            };
            tracing::info!(listen = %handles.listen, "RPC server listening");
            if let Err(e) = serve(listener, ctx).await {
                tracing::error!(error = %e, "RPC server failed");
            }
        });
    })?;
    Ok(())
}
