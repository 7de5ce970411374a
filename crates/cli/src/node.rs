//! `hyperchain node --config FILE`: one validator process, serving the RPC API.

use anyhow::{Context, Result};
use hyperchain_chain::config::ValidatorSetup;
use hyperchain_chain::runner::{RpcHandles, run_validator};
use hyperchain_rpc::{RpcContext, serve};
use std::path::Path;
use std::sync::Arc;

pub fn run(config: &Path, sync_from: Option<&str>) -> Result<()> {
    let setup = ValidatorSetup::load(config)?;
    if let Some(url) = sync_from {
        if hyperchain_chain::runner::has_ledger(&setup) {
            tracing::info!("the node has a ledger already: --sync-from is not needed and ignored");
        } else {
            sync(&setup, url)?;
        }
    }
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

/// Syncs the node's ledger from the checkpoint the node at `url` serves.
fn sync(setup: &ValidatorSetup, url: &str) -> Result<()> {
    let source = hyperchain_rpc::RpcSyncSource(
        hyperchain_rpc::Client::new(url).with_context(|| format!("--sync-from {url}"))?,
    );
    tracing::info!(source = url, "syncing the state from a checkpoint");
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // A checkpoint the source stops keeping mid-way (a newer one replaced it) or a source that
    // is briefly unreachable is tried again from its newest checkpoint; a source offering
    // something that does not verify is not.
    const ATTEMPTS: u32 = 3;
    let mut attempt = 1;
    let start = loop {
        let mut reported = 0;
        let synced = runtime.block_on(hyperchain_chain::runner::sync_ledger(
            setup,
            &source,
            |height, entries| {
                if entries >= reported + 10_000 || reported == 0 {
                    tracing::info!(checkpoint = height, entries, "importing the state");
                    reported = entries.max(1);
                }
            },
        ));
        match synced {
            Err(hyperchain_chain::statesync::SyncError::Source(reason)) if attempt < ATTEMPTS => {
                tracing::warn!(%reason, attempt, "state sync interrupted; starting again");
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_secs(2));
            }
            other => {
                break other
                    .with_context(|| format!("state sync from {url} failed; nothing was kept"))?;
            }
        }
    };
    tracing::info!(
        epoch = start.info.epoch.get(),
        seconds = started.elapsed().as_secs_f64(),
        "state synced and checked against the certified header; starting from it"
    );
    Ok(())
}
