//! [`ChainClient`] over validators' HTTP API (`hyperchain_rpc::Client`), with fallback.

use super::{ChainClient, ChainError, Tip};
use hyperchain_rpc::api::{ComputeFetchRequest, ComputeFetchResponse, JobView, NodeView, TxStatus};
use hyperchain_rpc::{Client, ClientError};
use hyperchain_types::{Address, Digest, SignedTransaction};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Validators' HTTP APIs, in order of preference.
///
/// Reads (listings, fetches, nonces, statuses) go to the preferred validator or, while it
/// cannot be reached, to the next ones in turn; the first that answers becomes the preferred
/// one. Transactions go, in one request, to the first validator that accepts them all (it
/// gossips them to the others); the next is tried only if one refuses or is down.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clients: Vec<Client>,
    /// The validator reads go to first (an index into `clients`).
    preferred: AtomicUsize,
}

/// The typed error of a validator's answer.
fn chain_error(validator: &str, e: ClientError) -> ChainError {
    let validator = validator.to_string();
    match e {
        ClientError::Url(url) => ChainError::Config(format!(
            "bad validator URL `{url}`: expected http://host:port"
        )),
        ClientError::Transport { source, .. } => ChainError::Unreachable {
            validator,
            reason: source.to_string(),
        },
        ClientError::Api {
            status: 503,
            message,
        } => ChainError::NotYet {
            validator,
            reason: message,
        },
        ClientError::Api { status, message } if status >= 500 => ChainError::Failed {
            validator,
            reason: message,
        },
        ClientError::Api { message, .. } | ClientError::Dropped(message) => ChainError::Refused {
            validator,
            reason: message,
        },
        e @ (ClientError::Invalid { .. }
        | ClientError::InvalidProof(_)
        | ClientError::Unverified { .. }
        | ClientError::Timeout(_)) => ChainError::Invalid {
            validator,
            reason: e.to_string(),
        },
    }
}

impl HttpClient {
    /// A client of the validators at `urls` (`http://host:port`), in order of preference.
    pub fn new(urls: &[String]) -> Result<HttpClient, ChainError> {
        if urls.is_empty() {
            return Err(ChainError::Config("no validator RPC URL".into()));
        }
        let clients = urls
            .iter()
            .map(|url| Client::new(url).map_err(|e| chain_error(url, e)))
            .collect::<Result<_, _>>()?;
        Ok(HttpClient {
            inner: Arc::new(Inner {
                clients,
                preferred: AtomicUsize::new(0),
            }),
        })
    }

    /// Runs the read `op` on the preferred validator or, while validators cannot be reached,
    /// on the next ones in turn; the first that answers becomes the preferred one. Other
    /// errors (a refusal, a bad answer) are returned as they are.
    async fn read<T, F, Fut>(&self, op: F) -> Result<T, ChainError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let clients = &self.inner.clients;
        let n = clients.len();
        let first = self.inner.preferred.load(Ordering::Relaxed) % n;
        let mut last = None;
        for i in 0..n {
            let index = (first + i) % n;
            let client = &clients[index];
            match op(client.clone()).await {
                Err(e @ ClientError::Transport { .. }) => {
                    last = Some(chain_error(client.base_url(), e));
                }
                answer => {
                    if i > 0 {
                        self.inner.preferred.store(index, Ordering::Relaxed);
                    }
                    return answer.map_err(|e| chain_error(client.base_url(), e));
                }
            }
        }
        Err(last.expect("at least one validator"))
    }
}

impl ChainClient for HttpClient {
    async fn tip(&self) -> Result<Tip, ChainError> {
        let status = self.read(|c| async move { c.status().await }).await?;
        Ok(Tip {
            chain_id: status.chain_id,
            height: status.height,
            digest: status.digest,
            timestamp_ms: status.timestamp_ms,
        })
    }

    async fn wait_for_height(&self, from: u64, wait: Duration) -> Result<u64, ChainError> {
        self.read(|c| async move { c.wait_for_height(from, wait).await })
            .await
    }

    async fn assigned_jobs(&self, node: &Digest) -> Result<Vec<JobView>, ChainError> {
        let node = node.to_string();
        let listing = self
            .read(|c| {
                let node = node.clone();
                async move { c.jobs(&[("node", node.as_str())]).await }
            })
            .await?;
        Ok(listing.jobs)
    }

    async fn compute_fetch(
        &self,
        request: &ComputeFetchRequest,
    ) -> Result<ComputeFetchResponse, ChainError> {
        self.read(|c| async move { c.compute_fetch_signed(request).await })
            .await
    }

    async fn submit(&self, txs: &[SignedTransaction]) -> Result<(), ChainError> {
        let mut last = None;
        for client in &self.inner.clients {
            match client.submit_batch(txs).await {
                Ok(verdicts) => match verdicts.into_iter().find_map(Result::err) {
                    None => return Ok(()),
                    Some(reason) => {
                        last = Some(ChainError::Refused {
                            validator: client.base_url().to_string(),
                            reason,
                        })
                    }
                },
                Err(e) => last = Some(chain_error(client.base_url(), e)),
            }
        }
        Err(last.expect("at least one validator"))
    }

    async fn tx_status(&self, id: &Digest) -> Result<TxStatus, ChainError> {
        self.read(|c| async move { c.tx_status(id).await }).await
    }

    async fn nonce(&self, account: &Address) -> Result<u64, ChainError> {
        self.read(|c| async move { c.nonce(account).await }).await
    }

    async fn fees(&self) -> Result<hyperchain_chain::fees::FeeSchedule, ChainError> {
        self.read(|c| async move { c.fees().await.map(|f| f.schedule) })
            .await
    }

    async fn node(&self, id: &Digest) -> Result<Option<NodeView>, ChainError> {
        self.read(|c| async move { c.node(id).await }).await
    }

    async fn block_transactions(
        &self,
        height: u64,
    ) -> Result<Option<Vec<SignedTransaction>>, ChainError> {
        let block = self
            .read(|c| async move { c.block_transactions(height).await })
            .await?;
        Ok(block.map(|(_, txs)| txs))
    }
}
