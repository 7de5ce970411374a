//! [`ChainClient`] over one validator's ledger and mempool in the same process: how compute
//! nodes reach validators in simulations on the deterministic runtime, where there is no
//! HTTP.
//!
//! It lives in this crate rather than in the simulation because it answers with the RPC
//! server's own functions (`hyperchain_rpc::answer`: the compute fetch's authentication,
//! membership check and proofs, the job listing, node records), so a simulated node gets
//! exactly what the HTTP API would give it; and it costs this crate no dependency, since
//! `hyperchain-rpc` (the HTTP client's crate) already links the node.
//!
//! Every answer is ready at once (no `.await` on another task), which the enclave's blocking
//! fetches need on a single-threaded runtime ([`ChainClient`]). The one thing a validator
//! cannot give synchronously is a finality certificate (its marshal actor holds them), so a
//! [`CertificateCache`] task fetches the latest block's as it is finalized; the client reports
//! as finalized only the blocks whose certificate it can serve.

use super::{ChainClient, ChainError, Tip};
use commonware_codec::Encode as _;
use commonware_runtime::{Clock, Handle, Spawner};
use hyperchain_chain::ledger::Ledger;
use hyperchain_chain::mempool::Mempool;
use hyperchain_rpc::FinalityCertificates;
use hyperchain_rpc::answer::{self, AnswerError, JobsQuery};
use hyperchain_rpc::api::{
    ComputeFetchRequest, ComputeFetchResponse, Hex, JobView, NodeView, TxStatus,
};
use hyperchain_types::{Address, Digest, SignedTransaction};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the in-process client looks at its validator's finalized tip.
const TICK: Duration = Duration::from_millis(10);
/// Certificates kept (of the latest finalized blocks).
const KEPT_CERTIFICATES: usize = 16;

/// The encoded finality certificates of a validator's latest finalized blocks, kept current
/// by a task that asks the validator's marshal for each new tip's.
#[derive(Clone, Debug, Default)]
pub struct CertificateCache {
    certificates: Arc<Mutex<BTreeMap<u64, Vec<u8>>>>,
}

impl CertificateCache {
    /// Starts following `ledger`'s finalized tip on `context`, fetching each new tip's
    /// certificate from `source`. The task ends with `context`'s parent or when the handle is
    /// aborted.
    pub fn follow<E: Clock + Spawner>(
        context: E,
        ledger: Arc<Ledger>,
        source: impl FinalityCertificates,
    ) -> (CertificateCache, Handle<()>) {
        let cache = CertificateCache::default();
        let handle = context.spawn({
            let cache = cache.clone();
            move |context| async move {
                loop {
                    let (tip, _) = ledger.tip();
                    if tip > cache.latest().unwrap_or(0)
                        && let Some(certificate) = source.finalization(tip).await
                    {
                        cache.insert(tip, certificate);
                    }
                    context.sleep(TICK).await;
                }
            }
        });
        (cache, handle)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Vec<u8>>> {
        self.certificates.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, height: u64, certificate: Vec<u8>) {
        let mut certificates = self.lock();
        certificates.insert(height, certificate);
        while certificates.len() > KEPT_CERTIFICATES {
            certificates.pop_first();
        }
    }

    /// The certificate of the finalized block at `height`, if kept.
    pub fn get(&self, height: u64) -> Option<Vec<u8>> {
        self.lock().get(&height).cloned()
    }

    /// The highest height with a kept certificate.
    pub fn latest(&self) -> Option<u64> {
        self.lock().last_key_value().map(|(h, _)| *h)
    }
}

/// One validator's ledger and mempool, in this process.
pub struct InProcessClient<E> {
    clock: Arc<E>,
    name: Arc<str>,
    ledger: Arc<Ledger>,
    mempool: Arc<Mempool>,
    certificates: CertificateCache,
}

impl<E> Clone for InProcessClient<E> {
    fn clone(&self) -> Self {
        InProcessClient {
            clock: self.clock.clone(),
            name: self.name.clone(),
            ledger: self.ledger.clone(),
            mempool: self.mempool.clone(),
            certificates: self.certificates.clone(),
        }
    }
}

impl<E> std::fmt::Debug for InProcessClient<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessClient")
            .field("validator", &self.name)
            .field("tip", &self.ledger.tip())
            .finish_non_exhaustive()
    }
}

impl<E: Clock> InProcessClient<E> {
    /// A client of the validator `name` whose ledger and mempool these are, with the
    /// certificates `certificates` keeps; `clock` times waits and compute requests.
    pub fn new(
        clock: E,
        name: &str,
        ledger: Arc<Ledger>,
        mempool: Arc<Mempool>,
        certificates: CertificateCache,
    ) -> Self {
        InProcessClient {
            clock: Arc::new(clock),
            name: name.into(),
            ledger,
            mempool,
            certificates,
        }
    }

    fn error(&self, e: AnswerError) -> ChainError {
        let validator = self.name.to_string();
        let reason = e.to_string();
        match e {
            AnswerError::BadRequest(_)
            | AnswerError::Unauthorized(_)
            | AnswerError::Forbidden(_)
            | AnswerError::NotFound(_) => ChainError::Refused { validator, reason },
            AnswerError::Unavailable(_) => ChainError::NotYet { validator, reason },
            AnswerError::Node(_) => ChainError::Failed { validator, reason },
        }
    }

    fn failed(&self, e: impl std::fmt::Display) -> ChainError {
        ChainError::Failed {
            validator: self.name.to_string(),
            reason: e.to_string(),
        }
    }

    /// The finalized height whose certificate this client can serve.
    fn certified_height(&self) -> u64 {
        let (tip, _) = self.ledger.tip();
        self.certificates.latest().map_or(0, |h| h.min(tip))
    }

    fn now_ms(&self) -> u64 {
        crate::unix_ms(self.clock.current())
    }
}

impl<E: Clock> ChainClient for InProcessClient<E> {
    async fn tip(&self) -> Result<Tip, ChainError> {
        let (height, digest) = self.ledger.tip();
        let header = self
            .ledger
            .header(height)
            .map_err(|e| self.failed(e))?
            .ok_or_else(|| self.failed(format!("finalized block {height} missing")))?;
        Ok(Tip {
            chain_id: self.ledger.genesis().header.chain_id,
            height,
            digest,
            timestamp_ms: header.timestamp_ms,
        })
    }

    async fn wait_for_height(&self, from: u64, wait: Duration) -> Result<u64, ChainError> {
        let deadline = self.clock.current() + wait;
        loop {
            let height = self.certified_height();
            let now = self.clock.current();
            if height >= from || now >= deadline {
                return Ok(height);
            }
            let left = deadline.duration_since(now).unwrap_or_default();
            self.clock.sleep(TICK.min(left)).await;
        }
    }

    async fn assigned_jobs(&self, node: &Digest) -> Result<Vec<JobView>, ChainError> {
        let listing = answer::jobs(&self.ledger, &JobsQuery::assigned_to(*node))
            .map_err(|e| self.error(e))?;
        Ok(listing.jobs)
    }

    async fn compute_fetch(
        &self,
        request: &ComputeFetchRequest,
    ) -> Result<ComputeFetchResponse, ChainError> {
        let answer = answer::compute_fetch(&self.ledger, request, self.now_ms())
            .map_err(|e| self.error(e))?;
        let height = answer.header.height;
        let certificate = self.certificates.get(height).ok_or_else(|| {
            self.error(AnswerError::Unavailable(format!(
                "no finality certificate for block {height} on this node yet"
            )))
        })?;
        Ok(ComputeFetchResponse {
            header: Hex(answer.header.encode().to_vec()),
            certificate: Hex(certificate),
            entries: answer.entries,
        })
    }

    async fn submit(&self, txs: &[SignedTransaction]) -> Result<(), ChainError> {
        let standings = self.ledger.standings(txs).map_err(|e| self.failed(e))?;
        let batch = txs.iter().cloned().zip(standings).collect();
        match self
            .mempool
            .submit_batch(batch)
            .into_iter()
            .find_map(Result::err)
        {
            None => Ok(()),
            Some(e) => Err(ChainError::Refused {
                validator: self.name.to_string(),
                reason: format!("transaction rejected: {e}"),
            }),
        }
    }

    async fn tx_status(&self, id: &Digest) -> Result<TxStatus, ChainError> {
        Ok(match self.ledger.receipt(id).map_err(|e| self.failed(e))? {
            Some(receipt) => TxStatus::Finalized {
                receipt: (&receipt).into(),
            },
            None => TxStatus::Pending,
        })
    }

    async fn nonce(&self, account: &Address) -> Result<u64, ChainError> {
        self.ledger.next_nonce(account).map_err(|e| self.failed(e))
    }

    async fn fees(&self) -> Result<hyperchain_chain::fees::FeeSchedule, ChainError> {
        Ok(*self.ledger.executor().fees())
    }

    async fn node(&self, id: &Digest) -> Result<Option<NodeView>, ChainError> {
        match answer::node(&self.ledger, id) {
            Ok(view) => Ok(Some(view)),
            // Never registered, or pruned (as `GET /node/{id}` answers 404).
            Err(AnswerError::NotFound(_)) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    async fn block_transactions(
        &self,
        height: u64,
    ) -> Result<Option<Vec<SignedTransaction>>, ChainError> {
        let block = answer::block(&self.ledger, height).map_err(|e| self.error(e))?;
        Ok(block.map(|b| b.txs))
    }
}
