//! A typed client of the API.
//!
//! What can be checked locally is checked: block views must hash to their digest, and state
//! proofs are verified with [`hyperchain_merkle::verify_state_proof`] against the state root
//! of the finalized block they name. With a [`LightClient`] (the chain id and its group public
//! key), [`Client::verified_block`] and [`Client::verified_proof`] also check the block's
//! finality certificate, so nothing the node says is trusted.

use crate::api::{
    AccountResponse, BlockTxsResponse, BlockView, BlocksResponse, ComputeFetchRequest,
    ComputeFetchResponse, ErrorBody, FeesResponse, Hex, JobView, JobsResponse, LaneView,
    MembershipResponse, NodeView, NodesResponse, NonceResponse, PreviewView, ProofResponse,
    ProposalView, ProposalsView, QueryRequest, QueryResponse, ReceiptView, StatusResponse,
    SubmitBatchRequest, SubmitBatchResponse, SubmitRequest, SubmitResponse, TokenView, TxStatus,
};
use commonware_codec::Encode as _;
use hyperchain_chain::light::{LightClient, LightError};
use hyperchain_merkle::{StateProof, TreeId, verify_state_proof};
use hyperchain_types::{Address, Digest, SignedTransaction, sha256_parts};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long a request may take, long polls excepted (they get their wait on top).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait of one long poll (the server's default maximum is 60 s).
const MAX_POLL: Duration = Duration::from_secs(30);

/// Failures of a client call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not usable.
    #[error("bad node URL `{0}`: expected http://host:port")]
    Url(String),
    /// The node could not be reached or the connection failed.
    #[error("request to {url} failed: {source}")]
    Transport {
        /// The request URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The node answered with an error.
    #[error("node answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The node's message.
        message: String,
    },
    /// The node's answer does not parse or is inconsistent.
    #[error("unexpected answer from {url}: {reason}")]
    Invalid {
        /// The request URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// A state proof does not verify.
    #[error("state proof does not verify: {0}")]
    InvalidProof(String),
    /// A block is not proven finalized: no certificate, a certificate the light client rejects,
    /// or a body that does not match the header.
    #[error("block at height {height} does not verify: {reason}")]
    Unverified {
        /// The block's height.
        height: u64,
        /// What failed (the light client's message when its check failed).
        reason: String,
        /// The light client's verdict, when its check failed.
        #[source]
        light: Option<LightError>,
    },
    /// The transaction will never be finalized.
    #[error("transaction dropped: {0}")]
    Dropped(String),
    /// Waiting ran out of time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// A value read with a verified state proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenValue {
    /// The value, or `None` if the key is absent.
    pub value: Option<Vec<u8>>,
    /// The proof (verified against `state_root`).
    pub proof: StateProof,
    /// The state root, equal to the finalized block's at `height`.
    pub state_root: Digest,
    /// The height of that block.
    pub height: u64,
}

/// A client of one node's API.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client of the node at `base_url` (e.g. `http://127.0.0.1:8545`).
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| ClientError::Url(base_url.to_owned()))?;
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            return Err(ClientError::Url(base_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|source| ClientError::Transport {
                url: base.clone(),
                source,
            })?;
        Ok(Client { http, base })
    }

    /// The node's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Result<T, (u16, String)>, ClientError> {
        let url = format!("{}{path}", self.base);
        let transport = |source| ClientError::Transport {
            url: url.clone(),
            source,
        };
        let mut req = self.http.request(method, &url).timeout(timeout);
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map(Ok)
                .map_err(|e| ClientError::Invalid {
                    url: url.clone(),
                    reason: e.to_string(),
                });
        }
        let message = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => body.error,
            Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        Ok(Err((status.as_u16(), message)))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request(Method::GET, path, None, REQUEST_TIMEOUT)
            .await?
            .map_err(api)
    }

    /// GET that maps 404 to `None`.
    async fn get_opt<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ClientError> {
        match self
            .request(Method::GET, path, None, REQUEST_TIMEOUT)
            .await?
        {
            Ok(v) => Ok(Some(v)),
            Err((404, _)) => Ok(None),
            Err(e) => Err(api(e)),
        }
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Invalid {
            url: path.to_owned(),
            reason: e.to_string(),
        })?;
        self.request(Method::POST, path, Some(body), REQUEST_TIMEOUT)
            .await?
            .map_err(api)
    }

    /// Submits a signed transaction; returns its id once the node's mempool accepted it.
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<Digest, ClientError> {
        let req = SubmitRequest {
            tx: tx.encode().to_vec().into(),
        };
        let resp: SubmitResponse = self.post("/tx", &req).await?;
        if resp.id != tx.id() {
            return Err(ClientError::Invalid {
                url: format!("{}/tx", self.base),
                reason: format!("node returned id {}, expected {}", resp.id, tx.id()),
            });
        }
        Ok(resp.id)
    }

    /// Submits several signed transactions in one request (at most
    /// [`crate::api::MAX_SUBMIT_BATCH`]); one result per transaction, in order: its id if the
    /// mempool accepted it, else the node's reason.
    pub async fn submit_batch(
        &self,
        txs: &[SignedTransaction],
    ) -> Result<Vec<Result<Digest, String>>, ClientError> {
        let req = SubmitBatchRequest {
            txs: txs.iter().map(|tx| tx.encode().to_vec().into()).collect(),
        };
        let resp: SubmitBatchResponse = self.post("/txs", &req).await?;
        let invalid = |reason: String| ClientError::Invalid {
            url: format!("{}/txs", self.base),
            reason,
        };
        if resp.results.len() != txs.len() {
            return Err(invalid(format!(
                "{} results for {} transactions",
                resp.results.len(),
                txs.len()
            )));
        }
        txs.iter()
            .zip(resp.results)
            .map(|(tx, result)| match (result.id, result.error) {
                (Some(id), None) if id == tx.id() => Ok(Ok(id)),
                (Some(id), None) => Err(invalid(format!(
                    "node returned id {id}, expected {}",
                    tx.id()
                ))),
                (None, Some(error)) => Ok(Err(error)),
                _ => Err(invalid(
                    "a result must have exactly one of id and error".into(),
                )),
            })
            .collect()
    }

    /// A transaction's status ([`TxStatus::Unknown`] if the node does not know it).
    pub async fn tx_status(&self, id: &Digest) -> Result<TxStatus, ClientError> {
        Ok(self
            .get_opt(&format!("/tx/{id}"))
            .await?
            .unwrap_or(TxStatus::Unknown))
    }

    /// Waits until the transaction is finalized and returns its receipt. Fails with
    /// [`ClientError::Dropped`] if it never will be, [`ClientError::Timeout`] after `timeout`.
    pub async fn wait_for_receipt(
        &self,
        id: &Digest,
        timeout: Duration,
    ) -> Result<ReceiptView, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Read the tip before the status, so a block finalized in between wakes the poll.
        let mut next = self.status().await?.height + 1;
        loop {
            match self.tx_status(id).await? {
                TxStatus::Finalized { receipt } => return Ok(receipt),
                TxStatus::Dropped { reason } => return Err(ClientError::Dropped(reason)),
                TxStatus::Pending | TxStatus::Unknown => {}
            }
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return Err(ClientError::Timeout(timeout));
            }
            let resp = self
                .subscribe_once(next, remaining.min(MAX_POLL), 1)
                .await?;
            next = resp.tip + 1;
        }
    }

    /// The finalized block at `height`, if any.
    pub async fn block(&self, height: u64) -> Result<Option<BlockView>, ClientError> {
        let block: Option<BlockView> = self.get_opt(&format!("/block/{height}")).await?;
        if let Some(b) = &block {
            self.check_block(b, Some(height), None)?;
        }
        Ok(block)
    }

    /// The newest state checkpoint the node serves (`GET /sync/checkpoint`); unverified: a
    /// joiner checks it with [`hyperchain_chain::statesync::verify_offer`].
    pub async fn sync_checkpoint(&self) -> Result<crate::api::CheckpointView, ClientError> {
        self.get("/sync/checkpoint").await
    }

    /// A chunk of the state at checkpoint `height` (`GET /sync/state/{height}`).
    pub async fn sync_state(
        &self,
        height: u64,
        after: Option<&[u8]>,
    ) -> Result<crate::api::StateChunkView, ClientError> {
        let path = match after {
            Some(after) => format!("/sync/state/{height}?after={}", hex::encode(after)),
            None => format!("/sync/state/{height}"),
        };
        self.get(&path).await
    }

    /// The finalized block at `height` with its transactions, if any: the block is checked
    /// as by [`Client::block`], each transaction decoded within the protocol's bounds, and
    /// their ids against the block's ids and its header's tx root.
    pub async fn block_transactions(
        &self,
        height: u64,
    ) -> Result<Option<(BlockView, Vec<SignedTransaction>)>, ClientError> {
        use commonware_codec::DecodeExt as _;
        let path = format!("/block/{height}/txs");
        let Some(resp): Option<BlockTxsResponse> = self.get_opt(&path).await? else {
            return Ok(None);
        };
        self.check_block(&resp.block, Some(height), None)?;
        let invalid = |reason: String| ClientError::Invalid {
            url: format!("{}{path}", self.base),
            reason,
        };
        if resp.txs.len() > hyperchain_types::block_limits::MAX_BLOCK_TXS {
            return Err(invalid(format!("{} transactions", resp.txs.len())));
        }
        let txs = resp
            .txs
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                if raw.0.len() > hyperchain_types::tx_limits::MAX_TX_SIZE {
                    return Err(invalid(format!("transaction {i} is too large")));
                }
                SignedTransaction::decode(bytes::Bytes::from(raw.0.clone()))
                    .map_err(|e| invalid(format!("transaction {i} does not decode: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<Digest> = txs.iter().map(SignedTransaction::id).collect();
        if ids != resp.block.txs || hyperchain_types::tx_root_from_ids(&ids) != resp.block.tx_root {
            return Err(invalid(
                "the transactions are not the block's (ids or tx root differ)".into(),
            ));
        }
        Ok(Some((resp.block, txs)))
    }

    /// The finalized block with `digest`, if any.
    pub async fn block_by_digest(&self, digest: &Digest) -> Result<Option<BlockView>, ClientError> {
        let block: Option<BlockView> = self.get_opt(&format!("/block/hash/{digest}")).await?;
        if let Some(b) = &block {
            self.check_block(b, None, Some(digest))?;
        }
        Ok(block)
    }

    fn check_block(
        &self,
        block: &BlockView,
        height: Option<u64>,
        digest: Option<&Digest>,
    ) -> Result<(), ClientError> {
        let invalid = |reason: String| ClientError::Invalid {
            url: format!("{}/block", self.base),
            reason,
        };
        let computed = block.header().digest();
        if computed != block.digest {
            return Err(invalid(format!(
                "block fields hash to {computed}, not the stated digest {}",
                block.digest
            )));
        }
        if height.is_some_and(|h| h != block.height) {
            return Err(invalid(format!(
                "asked for height {height:?}, got {}",
                block.height
            )));
        }
        if digest.is_some_and(|d| *d != block.digest) {
            return Err(invalid(format!(
                "asked for {digest:?}, got {}",
                block.digest
            )));
        }
        Ok(())
    }

    /// The finalized block at `height`, if any, verified with `light`: the block's finality
    /// certificate against the chain's group key, its chain id, and its transaction ids against
    /// the header's tx root. Fails with [`ClientError::Unverified`] if any check fails (also when
    /// the node has no certificate for it).
    pub async fn verified_block(
        &self,
        height: u64,
        light: &LightClient,
    ) -> Result<Option<BlockView>, ClientError> {
        let Some(block) = self.block(height).await? else {
            return Ok(None);
        };
        let header = block.header();
        let certificate = certificate_of(&block)?;
        light
            .verify_finalized(&header, certificate)
            .map_err(|e| unverified_by(height, e))?;
        let computed = tx_root_of_ids(&block.txs);
        if computed != header.tx_root {
            return Err(ClientError::Unverified {
                height,
                reason: format!(
                    "its transaction ids hash to {computed}, not the header's tx root {}",
                    header.tx_root
                ),
                light: None,
            });
        }
        Ok(Some(block))
    }

    /// The value of `key` in `tree` with a state proof, verified with `light` against the state
    /// root of the finalized header it names, whose finality certificate is verified too (the
    /// node's word for the root is not taken).
    pub async fn verified_proof(
        &self,
        tree: &TreeId,
        key: &[u8],
        light: &LightClient,
    ) -> Result<ProvenValue, ClientError> {
        let resp = self.proof_response(tree, key).await?;
        let proven = verify_proof_response(&resp)?;
        let block = self.block(resp.height).await?.ok_or_else(|| {
            ClientError::InvalidProof(format!("no finalized block at height {}", resp.height))
        })?;
        let header = block.header();
        let certificate = certificate_of(&block)?;
        light
            .verify_state(
                &header,
                certificate,
                &proven.proof,
                tree,
                key,
                proven.value.as_deref(),
            )
            .map_err(|e| match e {
                LightError::BadStateProof(e) => ClientError::InvalidProof(format!(
                    "against the finalized state root of block {}: {e}",
                    resp.height
                )),
                e => unverified_by(resp.height, e),
            })?;
        Ok(proven)
    }

    /// Finalized blocks from height `from` on, waiting up to `wait` for the first one (empty if
    /// none came). Loop on it, with `from = tip + 1`, to follow the chain.
    pub async fn subscribe(
        &self,
        from: u64,
        wait: Duration,
    ) -> Result<BlocksResponse, ClientError> {
        let resp = self.subscribe_once(from, wait, 0).await?;
        for (i, block) in resp.blocks.iter().enumerate() {
            self.check_block(block, Some(from + i as u64), None)?;
        }
        Ok(resp)
    }

    /// Waits (at most `wait`) until a block at height ≥ `from` is finalized; returns the
    /// finalized tip (below `from` on timeout). Cheap: at most one block is sent back.
    pub async fn wait_for_height(&self, from: u64, wait: Duration) -> Result<u64, ClientError> {
        Ok(self.subscribe_once(from, wait, 1).await?.tip)
    }

    /// `limit` 0 means the server's default.
    async fn subscribe_once(
        &self,
        from: u64,
        wait: Duration,
        limit: usize,
    ) -> Result<BlocksResponse, ClientError> {
        let mut path = format!(
            "/blocks/subscribe?from={from}&timeout_ms={}",
            wait.as_millis()
        );
        if limit > 0 {
            path.push_str(&format!("&limit={limit}"));
        }
        self.request(Method::GET, &path, None, REQUEST_TIMEOUT + wait)
            .await?
            .map_err(api)
    }

    /// Runs a read-only call on the latest finalized state.
    pub async fn query(&self, req: &QueryRequest) -> Result<QueryResponse, ClientError> {
        self.post("/query", req).await
    }

    /// The value of `key` in `tree` with a state proof, verified here against the state root
    /// of the finalized block it names.
    pub async fn proof(&self, tree: &TreeId, key: &[u8]) -> Result<ProvenValue, ClientError> {
        let resp = self.proof_response(tree, key).await?;
        let proven = verify_proof_response(&resp)?;
        let block = self.block(resp.height).await?.ok_or_else(|| {
            ClientError::InvalidProof(format!("no finalized block at height {}", resp.height))
        })?;
        if block.state_root != proven.state_root {
            return Err(ClientError::InvalidProof(format!(
                "state root {} is not block {}'s ({})",
                proven.state_root, resp.height, block.state_root
            )));
        }
        Ok(proven)
    }

    /// `GET /state/proof` for `key` of `tree`, checked to answer that question.
    async fn proof_response(
        &self,
        tree: &TreeId,
        key: &[u8],
    ) -> Result<ProofResponse, ClientError> {
        let tree_param = if tree.is_root() {
            "root".to_owned()
        } else {
            tree.to_string()
        };
        let resp: ProofResponse = self
            .get(&format!(
                "/state/proof?tree={tree_param}&key={}",
                hex::encode(key)
            ))
            .await?;
        if resp.tree.0 != tree.0 || resp.key.0 != key {
            return Err(ClientError::InvalidProof(
                "the answer is for another tree or key".into(),
            ));
        }
        Ok(resp)
    }

    /// The node's status.
    pub async fn status(&self) -> Result<StatusResponse, ClientError> {
        self.get("/status").await
    }

    /// The account's next nonce in the finalized state.
    pub async fn nonce(&self, account: &Address) -> Result<u64, ClientError> {
        let resp: NonceResponse = self.get(&format!("/account/{account}/nonce")).await?;
        Ok(resp.nonce)
    }

    /// The account's next nonce and balance in the finalized state.
    pub async fn account(&self, account: &Address) -> Result<AccountResponse, ClientError> {
        self.get(&format!("/account/{account}")).await
    }

    /// What open proposal `id` would do to the current compute members (`None`: no such
    /// open proposal).
    pub async fn preview(&self, id: &Digest) -> Result<Option<PreviewView>, ClientError> {
        self.get_opt(&format!("/proposal/{id}/preview")).await
    }

    /// The validator sets: the current epoch's, the next's, the decided set and candidates.
    pub async fn validators(&self) -> Result<crate::api::ValidatorsView, ClientError> {
        self.get("/validators").await
    }

    /// Every open governance proposal.
    pub async fn proposals(&self) -> Result<ProposalsView, ClientError> {
        self.get("/proposals").await
    }

    /// Open governance proposal `id` (`None`: unknown, carried out or lapsed).
    pub async fn proposal(&self, id: &Digest) -> Result<Option<ProposalView>, ClientError> {
        self.get_opt(&format!("/proposal/{id}")).await
    }

    /// The chain's fee schedule and total supply.
    pub async fn fees(&self) -> Result<FeesResponse, ClientError> {
        self.get("/fees").await
    }

    /// Registered compute nodes, filtered by `(name, value)` pairs among `region`, `vendor`,
    /// `platform` and `status`.
    pub async fn nodes(&self, filters: &[(&str, &str)]) -> Result<NodesResponse, ClientError> {
        self.get(&with_query("/nodes", filters)).await
    }

    /// A compute node's record, if registered.
    pub async fn node(&self, id: &Digest) -> Result<Option<NodeView>, ClientError> {
        self.get_opt(&format!("/node/{id}")).await
    }

    /// A compute node's attestation token (unverified: see
    /// `hyperchain_chain::token::verify_token`).
    pub async fn token(&self, id: &Digest) -> Result<Option<TokenView>, ClientError> {
        self.get_opt(&format!("/node/{id}/token")).await
    }

    /// A compute node's authenticated request for code or state: signed with its identity
    /// key (`identity`), answered only while the node is a current member. Check the answer
    /// with [`verify_compute_fetch`] before trusting it.
    pub async fn compute_fetch(
        &self,
        identity: &commonware_cryptography::ed25519::PrivateKey,
        chain_id: &Digest,
        request: &hyperchain_types::ComputeRequest,
        timestamp_ms: u64,
    ) -> Result<ComputeFetchResponse, ClientError> {
        use commonware_cryptography::Signer as _;
        let identity_key: [u8; 32] = hyperchain_types::SenderKey::from(identity.public_key()).0;
        let message = hyperchain_types::compute_request_message(
            chain_id,
            &identity_key,
            timestamp_ms,
            request,
        );
        let signature = identity.sign(hyperchain_types::COMPUTE_REQUEST_NAMESPACE, &message);
        let body = ComputeFetchRequest {
            identity_key: Hex(identity_key.to_vec()),
            request: Hex(request.encode().to_vec()),
            timestamp_ms,
            signature: Hex(signature.encode().to_vec()),
        };
        self.post("/compute/fetch", &body).await
    }

    /// A compute request already signed by the node's identity key (the enclave signs; the
    /// host only carries the body). Check the answer with [`verify_compute_fetch`].
    pub async fn compute_fetch_signed(
        &self,
        body: &ComputeFetchRequest,
    ) -> Result<ComputeFetchResponse, ClientError> {
        self.post("/compute/fetch", body).await
    }

    /// A job (a call to a TEE contract), if finalized.
    pub async fn job(&self, id: &Digest) -> Result<Option<JobView>, ClientError> {
        self.get_opt(&format!("/job/{id}")).await
    }

    /// Jobs: `filters` among `contract`, `node`, `state`, `limit` (see docs/RPC.md).
    pub async fn jobs(&self, filters: &[(&str, &str)]) -> Result<JobsResponse, ClientError> {
        self.get(&with_query("/jobs", filters)).await
    }

    /// A TEE contract's lane.
    pub async fn lane(&self, contract: &Address) -> Result<Option<LaneView>, ClientError> {
        self.get_opt(&format!("/lane/{contract}")).await
    }

    /// Whether node `id` is in the identity accumulator, with the proof.
    pub async fn membership(&self, id: &Digest) -> Result<MembershipResponse, ClientError> {
        self.get(&format!("/accumulator/{id}")).await
    }
}

pub use hyperchain_api::{verify_compute_fetch, verify_compute_fetch_proofs};

/// `path` with `filters` as its (escaped) query string.
fn with_query(path: &str, filters: &[(&str, &str)]) -> String {
    let query: Vec<String> = filters
        .iter()
        .map(|(k, v)| format!("{k}={}", url_escape(v)))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn url_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Decodes and verifies the proof of a `GET /state/proof` answer against its own state root.
/// (Also check that root against a finalized header, as [`Client::proof`] does.)
pub fn verify_proof_response(resp: &ProofResponse) -> Result<ProvenValue, ClientError> {
    let proof = StateProof::decode(&resp.proof.0)
        .map_err(|e| ClientError::InvalidProof(format!("malformed proof: {e}")))?;
    let value = resp.value.as_ref().map(|v| v.0.clone());
    verify_state_proof(
        &resp.state_root.0,
        &TreeId(resp.tree.0),
        &resp.key.0,
        value.as_deref(),
        &proof,
    )
    .map_err(|e| ClientError::InvalidProof(e.to_string()))?;
    Ok(ProvenValue {
        value,
        proof,
        state_root: resp.state_root,
        height: resp.height,
    })
}

/// The block's finality certificate, which a verified answer needs.
fn certificate_of(block: &BlockView) -> Result<&[u8], ClientError> {
    block
        .finalization
        .as_ref()
        .map(|c| c.0.as_slice())
        .ok_or_else(|| ClientError::Unverified {
            height: block.height,
            reason: "the node has no finality certificate for it".into(),
            light: None,
        })
}

fn unverified_by(height: u64, error: LightError) -> ClientError {
    ClientError::Unverified {
        height,
        reason: error.to_string(),
        light: Some(error),
    }
}

/// The tx root of a block whose transactions have these ids (`hyperchain_types::tx_root`,
/// computed from the ids a [`BlockView`] carries).
fn tx_root_of_ids(ids: &[Digest]) -> Digest {
    let count = (ids.len() as u32).to_be_bytes();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(ids.len() + 2);
    parts.push(b"hyperchain/tx-root/v1");
    parts.push(&count);
    parts.extend(ids.iter().map(|id| id.as_ref()));
    sha256_parts(&parts)
}

fn api((status, message): (u16, String)) -> ClientError {
    ClientError::Api { status, message }
}

impl ClientError {
    /// The HTTP status of an error answer from the node.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } => StatusCode::from_u16(*status).ok(),
            _ => None,
        }
    }
}

/// A node's RPC as a state-sync source (`hyperchain node --sync-from URL`): trusted for
/// liveness only; what it serves is verified ([`hyperchain_chain::statesync`]).
#[derive(Clone, Debug)]
pub struct RpcSyncSource(pub Client);

impl hyperchain_chain::statesync::SyncSource for RpcSyncSource {
    async fn checkpoint(
        &self,
    ) -> Result<hyperchain_chain::statesync::CheckpointOffer, hyperchain_chain::statesync::SyncError>
    {
        let view = self
            .0
            .sync_checkpoint()
            .await
            .map_err(|e| hyperchain_chain::statesync::SyncError::Source(e.to_string()))?;
        Ok(hyperchain_chain::statesync::CheckpointOffer {
            block: view.block.0,
            finalization: view.finalization.0,
            boundary: view.boundary.map(|b| (b.block.0, b.finalization.0)),
        })
    }

    async fn chunk(
        &self,
        height: u64,
        after: Option<hyperchain_state::ExportCursor>,
    ) -> Result<hyperchain_state::ExportChunk, hyperchain_chain::statesync::SyncError> {
        use hyperchain_chain::statesync::SyncError;
        let view = self
            .0
            .sync_state(height, after.as_ref().map(|c| c.0.as_slice()))
            .await
            .map_err(|e| SyncError::Source(e.to_string()))?;
        if view.height != height {
            return Err(SyncError::Source(format!(
                "asked for checkpoint {height}, got {}",
                view.height
            )));
        }
        let mut entries = Vec::with_capacity(view.entries.len());
        for entry in view.entries {
            let tree: [u8; 32] = entry
                .tree
                .0
                .try_into()
                .map_err(|_| SyncError::Source("a tree id is not 32 bytes".into()))?;
            entries.push((TreeId(tree), entry.key.0, entry.value.0));
        }
        Ok(hyperchain_state::ExportChunk {
            entries,
            next: view.next.map(|n| hyperchain_state::ExportCursor(n.0)),
        })
    }
}
