//! Runs one validator as a process: the commonware tokio runtime with on-disk storage, the
//! ledger and mempool, authenticated p2p (`lookup`) over TCP with the genesis address book,
//! [`node::start`], progress reporting, and a graceful stop on SIGINT/SIGTERM.
//!
//! Data directory layout (`data_dir` of the configuration):
//!
//! ```text
//! consensus/     commonware storage: simplex journal, marshal archives (blocks and
//!                finalization certificates by height), marshal's caches
//! ledger/        index.redb (finalized blocks, receipts, seeds) and state/ (the state store)
//! status.json    the finalized tip, rewritten as it advances (for scripts and devnet)
//! ```

use crate::app::{PublicKey, now_ms};
use crate::config::ValidatorSetup;
use crate::execute::Executor;
use crate::genesis::{ChainSpec, GenesisError};
use crate::ledger::{Ledger, LedgerError};
use crate::mempool::Mempool;
use crate::node::{self, Channels, MAX_MESSAGE_SIZE, NAMESPACE, Node};
use commonware_codec::Encode as _;
use commonware_cryptography::ChaCha20Poly1305;
use commonware_p2p::authenticated::lookup;
use commonware_runtime::{Clock, Quota, Runner as _, Spawner as _, Supervisor as _, tokio};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{NZU32, NZUsize};
use hyperchain_types::{Digest, JobState};
use hyperchain_vm::{Engine, EngineConfig};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};

/// Consensus storage inside the data directory.
pub const CONSENSUS_DIR: &str = "consensus";
/// Ledger (index and state) inside the data directory.
pub const LEDGER_DIR: &str = "ledger";
/// The validator's secret store (its share of each epoch, dealer seeds, received dealings;
/// 0700) inside the data directory.
pub const SECRETS_DIR: &str = "secrets";
/// Status file inside the data directory.
pub const STATUS_FILE: &str = "status.json";
/// Prefix of the consensus storage partitions.
pub const PARTITION_PREFIX: &str = "validator";
/// How long a graceful stop may take before the process exits anyway.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages per second accepted from one peer on one channel.
const CHANNEL_QUOTA: u32 = 10_000;

/// Why a validator could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The genesis and key do not give a signing scheme.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The secret store cannot be opened.
    #[error("cannot open the secret store: {0}")]
    Secrets(String),
    /// The record of a state sync is unreadable.
    #[error(transparent)]
    Sync(#[from] crate::statesync::SyncError),
    /// The ledger could not be opened.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The contract engine could not be created.
    #[error("contract engine: {0}")]
    Engine(String),
    /// Signal handlers could not be installed.
    #[error("signal handlers: {0}")]
    Signals(std::io::Error),
    /// A consensus actor ended on its own.
    #[error("the validator stopped unexpectedly ({0}); see the log")]
    Stopped(String),
}

/// What the RPC server needs, handed to the `on_started` hook of [`run_validator`] once the
/// validator runs. The hook is called on a tokio worker of the validator's runtime, so it may
/// `tokio::spawn` the server; the server stops with the runtime.
#[derive(Clone)]
pub struct RpcHandles {
    /// Where the RPC server should listen (`rpc_listen` of the configuration).
    pub listen: SocketAddr,
    /// The genesis.
    pub spec: Arc<ChainSpec>,
    /// Committed state and the index of finalized blocks, receipts and seeds.
    pub ledger: Arc<Ledger>,
    /// Where submitted transactions go.
    pub mempool: Arc<Mempool>,
    /// marshal's mailbox: finalized blocks and their finalization certificates by height.
    pub marshal: crate::node::MarshalMailbox,
}

impl std::fmt::Debug for RpcHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcHandles")
            .field("listen", &self.listen)
            .field("chain", &self.spec.name)
            .finish_non_exhaustive()
    }
}

/// The progress a validator reports in `<data_dir>/status.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The chain id.
    pub chain_id: String,
    /// This validator's identity key.
    pub public_key: String,
    /// The process writing the file.
    pub pid: u32,
    /// Whether the validator is running (false after a graceful stop).
    pub running: bool,
    /// Height of the last finalized (and applied) block.
    pub height: u64,
    /// Its digest.
    pub digest: String,
    /// Its state root.
    pub state_root: String,
    /// When the file was written (ms since the Unix epoch).
    pub updated_ms: u64,
}

impl Status {
    /// Reads a status file.
    pub fn load(path: &Path) -> std::io::Result<Status> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }
}

/// Path of the status file of a data directory.
pub fn status_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STATUS_FILE)
}

struct StatusWriter {
    path: PathBuf,
    chain_id: Digest,
    public_key: String,
}

impl StatusWriter {
    fn write(&self, ledger: &Ledger, running: bool, now_ms: u64) {
        let (height, digest) = ledger.tip();
        let state_root = ledger
            .block(height)
            .ok()
            .flatten()
            .map(|b| b.header.state_root.to_hex())
            .unwrap_or_default();
        let status = Status {
            chain_id: self.chain_id.to_hex(),
            public_key: self.public_key.clone(),
            pid: std::process::id(),
            running,
            height,
            digest: digest.to_hex(),
            state_root,
            updated_ms: now_ms,
        };
        // Write then rename, so readers never see a partial file.
        let tmp = self.path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(&status).expect("serializable");
        if let Err(e) = std::fs::write(&tmp, json).and_then(|_| std::fs::rename(&tmp, &self.path)) {
            warn!(error = %e, path = %self.path.display(), "cannot write the status file");
        }
    }
}

/// Logs every newly finalized block and keeps the status file current.
async fn report_progress<E: Clock>(clock: E, ledger: Arc<Ledger>, status: Arc<StatusWriter>) {
    let mut last = None;
    loop {
        let (height, _) = ledger.tip();
        if last != Some(height) {
            let from = last.map_or(height, |l: u64| l + 1);
            for h in from..=height {
                if let Ok(Some(block)) = ledger.block(h) {
                    info!(
                        height = h,
                        digest = %block.digest(),
                        txs = block.txs.len(),
                        state_root = %block.header.state_root,
                        "finalized"
                    );
                }
            }
            status.write(&ledger, true, now_ms(&clock));
            last = Some(height);
        }
        clock.sleep(Duration::from_millis(200)).await;
    }
}

/// What a validator's ledger starts from: the genesis state and block, which carries epoch 0's
/// key-generation output.
pub fn ledger_genesis(spec: &crate::genesis::ChainSpec) -> crate::genesis::Genesis {
    crate::genesis::Genesis {
        reshare: Some(crate::block::genesis_epoch_info(spec)),
        ..spec.ledger_genesis()
    }
}

/// Syncs the validator's ledger (which must not exist yet) from `source`'s newest checkpoint
/// instead of replaying the chain from genesis ([`crate::statesync`]); `progress` hears the
/// checkpoint's height and the entries imported after each chunk.
pub async fn sync_ledger(
    setup: &ValidatorSetup,
    source: &impl crate::statesync::SyncSource,
    progress: impl FnMut(u64, u64),
) -> Result<crate::statesync::SyncedStart, crate::statesync::SyncError> {
    crate::statesync::sync(
        source,
        &setup.config.data_dir.join(LEDGER_DIR),
        &ledger_genesis(&setup.spec),
        &crate::light::LightClient::from_spec(&setup.spec),
        setup.spec.blocks_per_epoch,
        progress,
    )
    .await
}

/// Whether the validator's data directory already holds a ledger.
pub fn has_ledger(setup: &ValidatorSetup) -> bool {
    setup
        .config
        .data_dir
        .join(LEDGER_DIR)
        .join(crate::ledger::INDEX_FILE)
        .exists()
}

/// Resolves on SIGINT or SIGTERM, naming the signal.
async fn shutdown_signal(
    mut interrupt: ::tokio::signal::unix::Signal,
    mut terminate: ::tokio::signal::unix::Signal,
) -> &'static str {
    ::tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}

/// The authenticated, encrypted p2p configuration (SAKE handshake, CUPS streams) of
/// `identity` listening on `listen`, in `namespace`: local-network timings for a local
/// address, internet ones otherwise.
pub(crate) fn p2p_config(
    identity: &commonware_cryptography::ed25519::PrivateKey,
    namespace: &[u8],
    listen: SocketAddr,
    max_peers_per_set: std::num::NonZeroUsize,
    max_message: u32,
) -> lookup::Config<Cups<Sake<commonware_cryptography::ed25519::PrivateKey>, ChaCha20Poly1305>> {
    let handshake = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer: identity.clone(),
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let namespace = [namespace, b"/p2p"].concat();
    let build = if is_local(listen.ip()) {
        lookup::Config::local
    } else {
        lookup::Config::recommended
    };
    build(
        handshake,
        &namespace,
        listen,
        max_peers_per_set,
        max_message,
        NZUsize!(1024),
    )
}

pub(crate) fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified(),
    }
}

/// Runs the validator described by `setup` until SIGINT or SIGTERM, then stops its actors,
/// flushes and returns `Ok`. `on_started` receives the handles an RPC server needs once the
/// validator runs. Restarting on the same data directory resumes where it stopped (or crashed).
pub fn run_validator<F>(setup: ValidatorSetup, on_started: F) -> Result<(), RunError>
where
    F: FnOnce(RpcHandles) + Send + 'static,
{
    let ValidatorSetup {
        config,
        spec,
        identity,
        genesis_share,
    } = setup;
    let me: PublicKey = identity.public_key();
    let secrets = crate::ceremony::FileSecretStore::open(&config.data_dir.join(SECRETS_DIR))
        .map_err(|e| RunError::Secrets(e.to_string()))?;
    if genesis_share.is_none() {
        info!(
            "not a genesis validator: following the chain; a resharing gives this node its \
             share once governance admits it (hyperchain validator announce)"
        );
    }
    let engine =
        Engine::new(EngineConfig::default()).map_err(|e| RunError::Engine(e.to_string()))?;
    let genesis = ledger_genesis(&spec);
    let ledger = Arc::new(Ledger::open(
        &config.data_dir.join(LEDGER_DIR),
        genesis,
        Executor::new(engine, spec.chain_id)
            .with_registry(spec.registry_config())
            .with_seed_verifier(crate::light::LightClient::from_spec(&spec)),
    )?);
    let (tip, digest) = ledger.tip();
    info!(chain = %spec.name, chain_id = %spec.chain_id, height = tip, %digest, "ledger opened");
    let synced = crate::statesync::SyncedStart::load(&config.data_dir.join(LEDGER_DIR))?;
    if let Some(start) = &synced {
        info!(
            epoch = start.info.epoch.get(),
            "this node was synced from a checkpoint: it holds blocks from there on"
        );
    }
    let receipts_ledger = ledger.clone();
    let mempool = Arc::new(
        Mempool::with_signatures(
            spec.chain_id,
            config.mempool_capacity,
            ledger.executor().signatures().clone(),
        )
        .with_fees(spec.fees)
        // A receipt is queued (and goes first in blocks) only if its signer is on the job's
        // current committee in committed state, for the current run, and not yet counted
        // (one lookup): a duplicate or replayed receipt is dropped before inclusion.
        .with_receipt_check(Arc::new(move |r| {
            receipts_ledger.snapshot().ok().is_some_and(|view| {
                crate::lanes::job(&view, &r.receipt.job)
                    .ok()
                    .flatten()
                    .and_then(|job| job.assignment.filter(|_| job.state == JobState::Assigned))
                    .is_some_and(|a| {
                        let node = r.node_id();
                        a.run() == r.receipt.run
                            && a.committee.iter().any(|m| m.id == node)
                            && !a.votes.iter().any(|v| v.node_id() == node)
                    })
            })
        })),
    );
    let status = Arc::new(StatusWriter {
        path: status_path(&config.data_dir),
        chain_id: spec.chain_id,
        public_key: hex::encode(me.encode()),
    });
    let spec = Arc::new(spec);

    let runtime = tokio::Config::new()
        .with_worker_threads(config.worker_threads)
        .with_storage_directory(config.data_dir.join(CONSENSUS_DIR));
    tokio::Runner::new(runtime).start(|context| async move {
        // Installed first, so that a signal during start-up also stops gracefully.
        use ::tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
        let terminate = signal(SignalKind::terminate()).map_err(RunError::Signals)?;

        // An epoch's peers are its dealers, players and next players: up to three sets.
        let p2p_config = p2p_config(
            &identity.private_key,
            NAMESPACE,
            config.p2p_listen,
            NZUsize!(3 * spec.validators.len()),
            MAX_MESSAGE_SIZE,
        );
        // The epoch orchestrator activates each epoch's peers (its dealers, players and next
        // players, at the addresses the chain committed) under the epoch's id.
        let (mut network, oracle) = lookup::Network::new(context.child("p2p"), p2p_config);
        let quota = Quota::per_second(NZU32!(CHANNEL_QUOTA));
        let channels = Channels {
            votes: network.register(node::CHANNELS[0], quota),
            certificates: network.register(node::CHANNELS[1], quota),
            resolver: network.register(node::CHANNELS[2], quota),
            backfill: network.register(node::CHANNELS[3], quota),
            relay: network.register(node::CHANNELS[4], quota),
            dkg: network.register(node::CHANNELS[5], quota),
        };
        let network_handle = network.start();
        info!(listen = %config.p2p_listen, peers = spec.validators.len(), "p2p started");

        let Node {
            ledger,
            mempool,
            marshal,
            mut handles,
        } = node::start(
            context.child("node"),
            PARTITION_PREFIX,
            node::Keys {
                identity: identity.private_key.clone(),
                genesis_share,
                secrets,
                group_key: *spec.group_public_key(),
                blocks_per_epoch: std::num::NonZeroU64::new(spec.blocks_per_epoch)
                    .expect("a validated genesis has a positive epoch length"),
                synced,
            },
            ledger,
            mempool,
            commonware_glue::dkg::network::AddressableManager::new(oracle.clone()),
            oracle,
            channels,
        )
        .await;
        handles.push(network_handle);
        info!("consensus started");

        on_started(RpcHandles {
            listen: config.rpc_listen,
            spec: spec.clone(),
            ledger: ledger.clone(),
            mempool,
            marshal,
        });

        let progress = context.child("progress").spawn({
            let ledger = ledger.clone();
            let status = status.clone();
            move |ctx| report_progress(ctx, ledger, status)
        });

        let actors = futures::future::select_all(handles);
        let outcome =
            match futures::future::select(Box::pin(shutdown_signal(interrupt, terminate)), actors)
                .await
            {
                futures::future::Either::Left((signal, _)) => {
                    info!(signal, "stopping");
                    Ok(())
                }
                futures::future::Either::Right(((result, index, _), _)) => {
                    let reason = format!("actor {index} ended: {result:?}");
                    error!(%reason, "validator stopped unexpectedly");
                    Err(RunError::Stopped(reason))
                }
            };
        progress.abort();
        let stopped_ms = now_ms(&context);
        // Actors watch the stop signal, sync their journals and exit.
        if let Err(e) = context.stop(0, Some(STOP_TIMEOUT)).await {
            warn!(error = ?e, "not every actor stopped in time");
        }
        status.write(&ledger, false, stopped_ms);
        let (height, digest) = ledger.tip();
        info!(height, %digest, "stopped");
        outcome
    })
}
