//! A validator's configuration file (`config.json`) and everything it points to, loaded and
//! validated before anything starts.

use crate::genesis::{ChainSpec, GenesisError, ValidatorKey};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default mempool capacity (transactions).
pub const DEFAULT_MEMPOOL_CAPACITY: usize = 100_000;
/// Default number of runtime worker threads.
pub const DEFAULT_WORKER_THREADS: usize = 2;

fn default_mempool_capacity() -> usize {
    DEFAULT_MEMPOOL_CAPACITY
}

fn default_worker_threads() -> usize {
    DEFAULT_WORKER_THREADS
}

/// The node configuration file. Relative paths are relative to the file's directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The genesis document.
    pub genesis: PathBuf,
    /// This validator's key file (identity key + threshold share, mode 0600).
    pub key: PathBuf,
    /// Where the node keeps its data (created if missing).
    pub data_dir: PathBuf,
    /// Address the p2p listener binds (the genesis names the address peers dial).
    pub p2p_listen: SocketAddr,
    /// Address the RPC server binds.
    pub rpc_listen: SocketAddr,
    /// Most transactions held in the mempool.
    #[serde(default = "default_mempool_capacity")]
    pub mempool_capacity: usize,
    /// Worker threads of the async runtime.
    #[serde(default = "default_worker_threads")]
    pub worker_threads: usize,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: serde_json::Error,
    },
    /// A value is out of range.
    #[error("{path}: `{field}`: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The genesis or the key file is invalid, or they do not belong together.
    #[error("{path}: {source}")]
    Genesis {
        /// The file at fault.
        path: PathBuf,
        /// The failure.
        source: GenesisError,
    },
}

impl NodeConfig {
    /// Writes the configuration as JSON to a new file.
    pub fn save(&self, path: &Path) -> Result<(), GenesisError> {
        let json = serde_json::to_string_pretty(self).expect("serializable");
        crate::genesis::write_new(path, format!("{json}\n").as_bytes(), 0o644)
    }
}

/// A loaded, validated validator: its configuration (with absolute paths), the genesis, and its
/// key — a genesis validator's identity and share (which belong to the genesis), or a joining
/// validator's identity alone (it receives its share in a resharing once governance admits
/// it).
#[derive(Debug)]
pub struct ValidatorSetup {
    /// The configuration, paths resolved.
    pub config: NodeConfig,
    /// The genesis.
    pub spec: ChainSpec,
    /// This validator's identity.
    pub identity: crate::genesis::ValidatorIdentity,
    /// Its share of the genesis key, if it is a genesis validator.
    pub genesis_share: Option<commonware_cryptography::bls12381::primitives::group::Share>,
}

impl ValidatorSetup {
    /// Reads the configuration at `path`, the genesis and the key it names, and checks that
    /// they belong together.
    pub fn load(path: &Path) -> Result<ValidatorSetup, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: NodeConfig =
            serde_json::from_str(&text).map_err(|source| ConfigError::Json {
                path: path.to_path_buf(),
                source,
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut config.genesis, &mut config.key, &mut config.data_dir] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        let invalid = |field, reason: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            field,
            reason: reason.to_string(),
        };
        if config.mempool_capacity == 0 {
            return Err(invalid("mempool_capacity", "must be at least 1"));
        }
        if config.worker_threads == 0 {
            return Err(invalid("worker_threads", "must be at least 1"));
        }
        if config.p2p_listen == config.rpc_listen {
            return Err(invalid("rpc_listen", "is the p2p listen address"));
        }
        let spec = ChainSpec::load(&config.genesis).map_err(|source| ConfigError::Genesis {
            path: config.genesis.clone(),
            source,
        })?;
        let identity = crate::genesis::ValidatorIdentity::load(&config.key).map_err(|source| {
            ConfigError::Genesis {
                path: config.key.clone(),
                source,
            }
        })?;
        let with_share = ValidatorKey::load(&config.key);
        let genesis_share = match (spec.validator(&identity.public_key()), with_share) {
            // A genesis validator's share must fit the polynomial at its position; a key with
            // a share that is not of this genesis is another chain's. Fails now, with a
            // reason, rather than when consensus starts.
            (Some(_), Err(source)) => {
                return Err(ConfigError::Genesis {
                    path: config.key.clone(),
                    source,
                });
            }
            (_, Ok(key)) => {
                spec.signer(&key).map_err(|source| ConfigError::Genesis {
                    path: config.key.clone(),
                    source,
                })?;
                Some(key.share)
            }
            // An identity alone, not in the genesis: a validator that joins later.
            (None, Err(_)) => None,
        };
        Ok(ValidatorSetup {
            config,
            spec,
            identity,
            genesis_share,
        })
    }
}
