//! The HTTP server: routes, request checks and the handlers.
//!
//! Every request value is treated as adversarial: bodies are size-limited before they are read,
//! hex and transactions are decoded with bounds, and a request that fails any check is answered
//! `400` (or `404`/`413`/`503`) with `{"error": "..."}` and changes nothing.

use crate::answer::{self, AnswerError, JobsQuery};
use crate::api::{
    AccountResponse, BlockTxsResponse, BlockView, BlocksResponse, BoundaryView, CheckpointView,
    ComputeFetchRequest, ComputeFetchResponse, ErrorBody, FeesResponse, Hex, JobView, JobsResponse,
    LaneView, MAX_SUBMIT_BATCH, MembershipResponse, NodeView, NodesResponse, NonceResponse,
    PreviewView, ProofResponse, ProposalView, ProposalsView, QueryRequest, QueryResponse,
    StateChunkView, StateEntryView, StatusResponse, SubmitBatchRequest, SubmitBatchResponse,
    SubmitRequest, SubmitResponse, SubmitResult, TokenView, TxStatus, parse_hex,
};
use crate::certificates::FinalityCertificates;
use crate::query::{QueryContext, QueryError, query};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use commonware_codec::{DecodeExt as _, Encode as _};
use hyperchain_chain::ledger::Ledger;
use hyperchain_chain::mempool::{Mempool, MempoolError};
use hyperchain_chain::{lanes, registry};
use hyperchain_state::{Snapshot, TreeId};
use hyperchain_types::{Address, Block, Digest, Sched, SignedTransaction, tx_limits};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Largest request body: a hex-encoded transaction of the largest size plus JSON framing.
pub const MAX_BODY: usize = 2 * tx_limits::MAX_TX_SIZE + 4096;
/// Longest key accepted by `GET /state/proof`.
pub const MAX_PROOF_KEY: usize = 1024;
/// How often a waiting `GET /blocks/subscribe` looks at the finalized tip.
const SUBSCRIBE_POLL: Duration = Duration::from_millis(20);

/// Limits and defaults of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcConfig {
    /// The node software version reported by `GET /status`.
    pub version: String,
    /// Fuel limit of a query that does not name one.
    pub default_query_fuel: u64,
    /// Largest fuel limit a query may name.
    pub max_query_fuel: u64,
    /// How long `GET /blocks/subscribe` waits when `timeout_ms` is absent.
    pub default_wait: Duration,
    /// Longest wait `GET /blocks/subscribe` accepts.
    pub max_wait: Duration,
    /// Most blocks one `GET /blocks/subscribe` response carries.
    pub max_blocks: usize,
    /// Most queries running at once (the size of the query engine's instance pool); more are
    /// answered 503 at once.
    pub max_concurrent_queries: u32,
    /// Most `GET /blocks/subscribe` requests waiting at once; more are answered 503 at once,
    /// so idle connections cannot pile up on the node.
    pub max_concurrent_waits: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            default_query_fuel: 10_000_000,
            max_query_fuel: 1_000_000_000,
            default_wait: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
            max_blocks: 100,
            max_concurrent_queries: 4,
            max_concurrent_waits: 256,
        }
    }
}

/// What the API serves from.
#[derive(Clone)]
pub struct RpcContext {
    /// Committed state, finalized blocks and receipts (and the executor queries run with).
    pub ledger: Arc<Ledger>,
    /// Where submitted transactions go.
    pub mempool: Arc<Mempool>,
    /// Finality certificates by height (the node's marshal mailbox).
    pub certificates: Arc<dyn FinalityCertificates>,
    /// Limits and defaults.
    pub config: RpcConfig,
}

impl std::fmt::Debug for RpcContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcContext")
            .field("tip", &self.ledger.tip())
            .field("mempool", &self.mempool.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RpcContext {
    /// A context with the default [`RpcConfig`].
    pub fn new(
        ledger: Arc<Ledger>,
        mempool: Arc<Mempool>,
        certificates: Arc<dyn FinalityCertificates>,
    ) -> Self {
        RpcContext {
            ledger,
            mempool,
            certificates,
            config: RpcConfig::default(),
        }
    }
}

struct Shared {
    ctx: RpcContext,
    /// Transactions accepted through this server that may still be pending, with their sender
    /// and nonce (the mempool is keyed by sender and nonce, not by id).
    submitted: Mutex<HashMap<Digest, (Address, u64)>>,
    /// Set when the server shuts down, so that long polls return at once.
    shutdown: watch::Receiver<bool>,
    /// The engine queries run on (its own instance pool; created on the first query).
    query_engine: std::sync::OnceLock<Result<hyperchain_vm::Engine, String>>,
    /// Permits of queries running at once.
    query_permits: Arc<tokio::sync::Semaphore>,
    /// Permits of waiting subscriptions.
    wait_permits: Arc<tokio::sync::Semaphore>,
    /// Without a shutdown signal, the sender lives as long as the routes.
    _never_shut_down: Option<watch::Sender<bool>>,
}

type Ctx = State<Arc<Shared>>;

/// The API's routes over `ctx` (see docs/RPC.md).
pub fn router(ctx: RpcContext) -> Router {
    let (tx, rx) = watch::channel(false);
    routes(ctx, rx, Some(tx))
}

fn routes(
    ctx: RpcContext,
    shutdown: watch::Receiver<bool>,
    never_shut_down: Option<watch::Sender<bool>>,
) -> Router {
    let query_permits = Arc::new(tokio::sync::Semaphore::new(
        ctx.config.max_concurrent_queries.max(1) as usize,
    ));
    let wait_permits = Arc::new(tokio::sync::Semaphore::new(
        ctx.config.max_concurrent_waits.max(1) as usize,
    ));
    let shared = Arc::new(Shared {
        ctx,
        submitted: Mutex::new(HashMap::new()),
        query_engine: std::sync::OnceLock::new(),
        query_permits,
        wait_permits,
        shutdown,
        _never_shut_down: never_shut_down,
    });
    Router::new()
        .route("/tx", post(submit))
        .route("/txs", post(submit_batch))
        .route("/tx/{id}", get(tx_status))
        .route("/block/{height}", get(block_by_height))
        .route("/block/hash/{digest}", get(block_by_digest))
        .route("/block/{height}/txs", get(block_txs))
        .route("/blocks/subscribe", get(subscribe))
        .route("/query", post(query_contract))
        .route("/state/proof", get(state_proof))
        .route("/sync/checkpoint", get(sync_checkpoint))
        .route("/sync/state/{height}", get(sync_state))
        .route("/status", get(status))
        .route("/account/{address}/nonce", get(nonce))
        .route("/account/{address}", get(account))
        .route("/fees", get(fees))
        .route("/nodes", get(list_nodes))
        .route("/node/{id}", get(node_record))
        .route("/node/{id}/token", get(node_token))
        .route("/accumulator/{id}", get(membership))
        .route("/compute/fetch", post(compute_fetch))
        .route("/job/{id}", get(job_record))
        .route("/proposal/{id}", get(proposal_record))
        .route("/proposals", get(proposal_list))
        .route("/validators", get(validator_sets))
        .route("/proposal/{id}/preview", get(proposal_preview))
        .route("/jobs", get(list_jobs))
        .route("/lane/{contract}", get(lane_record))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Serves the API on `listener` until the process ends.
pub async fn serve(listener: TcpListener, ctx: RpcContext) -> std::io::Result<()> {
    serve_with_shutdown(listener, ctx, std::future::pending()).await
}

/// Serves the API on `listener` until `signal` completes, then stops accepting connections,
/// ends waiting long polls and returns once in-flight requests are answered.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    ctx: RpcContext,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = watch::channel(false);
    axum::serve(listener, routes(ctx, rx, None))
        .with_graceful_shutdown(async move {
            signal.await;
            let _ = tx.send(true);
        })
        .await
}

// ---- errors and extractors ----

/// An error response: a status code and `{"error": message}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The node itself failed (state, index or engine); logged, and answered 500.
    fn internal(error: impl std::fmt::Display) -> Self {
        tracing::warn!(%error, "rpc request failed on the node");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("node failure: {error}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

impl From<AnswerError> for ApiError {
    fn from(e: AnswerError) -> Self {
        let status = match &e {
            AnswerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AnswerError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AnswerError::Forbidden(_) => StatusCode::FORBIDDEN,
            AnswerError::NotFound(_) => StatusCode::NOT_FOUND,
            AnswerError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AnswerError::Node(_) => return ApiError::internal(e),
        };
        ApiError::new(status, e.to_string())
    }
}

/// A JSON body, parsed whatever its content type, with JSON errors.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let body = bytes::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        serde_json::from_slice(&body)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
    }
}

/// A path segment, with JSON errors.
struct Segment(String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(s)| Segment(s))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// Query parameters, with JSON errors.
struct Params<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Params(t))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

fn parse<T: std::str::FromStr<Err = String>>(what: &str, s: &str) -> ApiResult<T> {
    s.parse()
        .map_err(|e| ApiError::bad_request(format!("bad {what} `{}`: {e}", clip(s))))
}

/// At most 80 characters of an echoed value.
fn clip(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint (see docs/RPC.md)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint",
    )
}

// ---- handlers ----

async fn submit(State(shared): Ctx, JsonBody(req): JsonBody<SubmitRequest>) -> ApiResult<Response> {
    let raw = req.tx.0;
    if raw.len() > tx_limits::MAX_TX_SIZE {
        return Err(ApiError::bad_request(format!(
            "transaction too large: {} > {} bytes",
            raw.len(),
            tx_limits::MAX_TX_SIZE
        )));
    }
    let tx = SignedTransaction::decode(bytes::Bytes::from(raw))
        .map_err(|e| ApiError::bad_request(format!("malformed transaction: {e}")))?;
    let ctx = &shared.ctx;
    let sender = tx.tx.sender_address();
    let nonce = tx.tx.nonce;
    let standing = ctx.ledger.standing(&tx).map_err(ApiError::internal)?;
    let id = ctx.mempool.submit(tx, standing).map_err(|e| match e {
        // Retrying later can succeed: the pool (or the sender's share of it) drains.
        MempoolError::Full(_) | MempoolError::FullBytes(_) | MempoolError::SenderQuota(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        e => ApiError::bad_request(format!("transaction rejected: {e}")),
    })?;
    track(&shared, id, sender, nonce)?;
    Ok((StatusCode::ACCEPTED, Json(SubmitResponse { id })).into_response())
}

async fn submit_batch(
    State(shared): Ctx,
    JsonBody(req): JsonBody<SubmitBatchRequest>,
) -> ApiResult<Json<SubmitBatchResponse>> {
    if req.txs.len() > MAX_SUBMIT_BATCH {
        return Err(ApiError::bad_request(format!(
            "too many transactions: {} > {MAX_SUBMIT_BATCH} per request",
            req.txs.len()
        )));
    }
    let ctx = &shared.ctx;
    let mut results: Vec<Option<Result<Digest, String>>> = vec![None; req.txs.len()];
    // (position, sender, nonce) and (transaction, sender's next nonce) of the decoded ones.
    let mut meta: Vec<(usize, Address, u64)> = Vec::new();
    let mut decoded: Vec<SignedTransaction> = Vec::new();
    for (i, raw) in req.txs.into_iter().enumerate() {
        let raw = raw.0;
        if raw.len() > tx_limits::MAX_TX_SIZE {
            results[i] = Some(Err(format!(
                "transaction too large: {} > {} bytes",
                raw.len(),
                tx_limits::MAX_TX_SIZE
            )));
            continue;
        }
        match SignedTransaction::decode(bytes::Bytes::from(raw)) {
            Ok(tx) => {
                meta.push((i, tx.tx.sender_address(), tx.tx.nonce));
                decoded.push(tx);
            }
            Err(e) => results[i] = Some(Err(format!("malformed transaction: {e}"))),
        }
    }
    let standings = ctx.ledger.standings(&decoded).map_err(ApiError::internal)?;
    let batch = decoded.into_iter().zip(standings).collect();
    for ((i, sender, nonce), verdict) in meta.into_iter().zip(ctx.mempool.submit_batch(batch)) {
        results[i] = Some(match verdict {
            Ok(id) => {
                track(&shared, id, sender, nonce)?;
                Ok(id)
            }
            Err(e) => Err(format!("transaction rejected: {e}")),
        });
    }
    let results = results
        .into_iter()
        .map(|r| match r {
            Some(Ok(id)) => SubmitResult {
                id: Some(id),
                error: None,
            },
            Some(Err(error)) => SubmitResult {
                id: None,
                error: Some(error),
            },
            None => SubmitResult {
                id: None,
                error: Some("not processed".into()),
            },
        })
        .collect();
    Ok(Json(SubmitBatchResponse { results }))
}

/// Remembers an accepted transaction; when the record grows past twice the mempool, forgets
/// the ones whose nonce the finalized state has passed (they are finalized or dropped).
fn track(shared: &Shared, id: Digest, sender: Address, nonce: u64) -> ApiResult<()> {
    let mut submitted = shared.submitted.lock().unwrap_or_else(|e| e.into_inner());
    if submitted.len() >= 4096 && submitted.len() >= 2 * shared.ctx.mempool.len() {
        let ledger = &shared.ctx.ledger;
        let mut next: HashMap<Address, u64> = HashMap::new();
        let mut stale = Vec::new();
        for (id, (sender, nonce)) in submitted.iter() {
            let n = match next.get(sender) {
                Some(n) => *n,
                None => {
                    let n = ledger.next_nonce(sender).map_err(ApiError::internal)?;
                    next.insert(*sender, n);
                    n
                }
            };
            if *nonce < n {
                stale.push(*id);
            }
        }
        for id in stale {
            submitted.remove(&id);
        }
    }
    submitted.insert(id, (sender, nonce));
    Ok(())
}

async fn tx_status(State(shared): Ctx, Segment(id): Segment) -> ApiResult<Json<TxStatus>> {
    let id: Digest = parse("transaction id", &id)?;
    let ledger = &shared.ctx.ledger;
    let finalized = |ledger: &Ledger| -> ApiResult<Option<TxStatus>> {
        Ok(ledger
            .receipt(&id)
            .map_err(ApiError::internal)?
            .map(|r| TxStatus::Finalized {
                receipt: (&r).into(),
            }))
    };
    if let Some(status) = finalized(ledger)? {
        return Ok(Json(status));
    }
    let tracked = shared
        .submitted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&id)
        .copied();
    let Some((sender, nonce)) = tracked else {
        return Err(ApiError::not_found(format!("unknown transaction {id}")));
    };
    let next = ledger.next_nonce(&sender).map_err(ApiError::internal)?;
    if nonce >= next {
        return Ok(Json(TxStatus::Pending));
    }
    // The nonce was consumed: by this transaction if it was finalized meanwhile (receipts are
    // indexed before the state commit that advances the nonce), otherwise by another one.
    if let Some(status) = finalized(ledger)? {
        return Ok(Json(status));
    }
    Ok(Json(TxStatus::Dropped {
        reason: format!("another transaction of sender {sender} with nonce {nonce} was finalized"),
    }))
}

async fn block_view(shared: &Shared, block: Block) -> BlockView {
    let height = block.header.height;
    let certificate = if height == 0 {
        None
    } else {
        shared.ctx.certificates.finalization(height).await
    };
    BlockView::new(&block, certificate)
}

async fn block_by_height(
    State(shared): Ctx,
    Segment(height): Segment,
) -> ApiResult<Json<BlockView>> {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::bad_request(format!("bad height `{}`", clip(&height))))?;
    let block = shared
        .ctx
        .ledger
        .block(height)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no finalized block at height {height}")))?;
    Ok(Json(block_view(&shared, block).await))
}

/// A finalized block with its transactions, encoded (`GET /block/{height}/txs`).
async fn block_txs(
    State(shared): Ctx,
    Segment(height): Segment,
) -> ApiResult<Json<BlockTxsResponse>> {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::bad_request(format!("bad height `{}`", clip(&height))))?;
    let block = answer::block(&shared.ctx.ledger, height)?
        .ok_or_else(|| ApiError::not_found(format!("no finalized block at height {height}")))?;
    let txs = block
        .txs
        .iter()
        .map(|tx| Hex(tx.encode().to_vec()))
        .collect();
    Ok(Json(BlockTxsResponse {
        block: block_view(&shared, block).await,
        txs,
    }))
}

async fn block_by_digest(
    State(shared): Ctx,
    Segment(digest): Segment,
) -> ApiResult<Json<BlockView>> {
    let digest: Digest = parse("block digest", &digest)?;
    let ledger = &shared.ctx.ledger;
    let not_found = || ApiError::not_found(format!("no finalized block with digest {digest}"));
    let height = ledger
        .block_height(&digest)
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let block = ledger
        .block(height)
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    Ok(Json(block_view(&shared, block).await))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeParams {
    from: Option<u64>,
    timeout_ms: Option<u64>,
    limit: Option<usize>,
}

async fn subscribe(
    State(shared): Ctx,
    Params(params): Params<SubscribeParams>,
) -> ApiResult<Json<BlocksResponse>> {
    let config = &shared.ctx.config;
    let wait = match params.timeout_ms {
        None => config.default_wait,
        Some(ms) => Duration::from_millis(ms),
    };
    if wait > config.max_wait {
        return Err(ApiError::bad_request(format!(
            "timeout_ms above the maximum of {} ms",
            config.max_wait.as_millis()
        )));
    }
    let limit = params.limit.unwrap_or(config.max_blocks);
    if limit == 0 || limit > config.max_blocks {
        return Err(ApiError::bad_request(format!(
            "limit must be 1..={}",
            config.max_blocks
        )));
    }
    let ledger = &shared.ctx.ledger;
    let from = params.from.unwrap_or_else(|| ledger.tip().0 + 1);
    // Held until the answer: a request that may wait counts against the bound.
    let _permit = if ledger.tip().0 >= from {
        None
    } else {
        Some(
            shared
                .wait_permits
                .clone()
                .try_acquire_owned()
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "this node serves at most {} waiting subscriptions at once; retry later",
                            config.max_concurrent_waits
                        ),
                    )
                })?,
        )
    };
    let deadline = tokio::time::Instant::now() + wait;
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (tip, _) = ledger.tip();
        if tip >= from {
            let last = tip.min(from.saturating_add(limit as u64 - 1));
            let mut blocks = Vec::with_capacity((last - from + 1) as usize);
            for height in from..=last {
                let block = ledger
                    .block(height)
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| {
                        ApiError::internal(format!("finalized block {height} missing"))
                    })?;
                blocks.push(block_view(&shared, block).await);
            }
            return Ok(Json(BlocksResponse { blocks, tip }));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline || *shutdown.borrow_and_update() {
            return Ok(Json(BlocksResponse {
                blocks: Vec::new(),
                tip,
            }));
        }
        tokio::select! {
            _ = tokio::time::sleep(SUBSCRIBE_POLL.min(deadline - now)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// The header of the block whose post-state a snapshot is.
struct Finalized {
    header: hyperchain_types::Header,
}

impl Finalized {
    fn digest(&self) -> Digest {
        self.header.digest()
    }
}

/// The finalized state and the header of the block it is the post-state of, from one
/// snapshot.
fn finalized_state(ledger: &Ledger) -> ApiResult<(Snapshot, Finalized)> {
    let (snapshot, header) = answer::finalized_state(ledger)?;
    Ok((snapshot, Finalized { header }))
}

async fn query_contract(
    State(shared): Ctx,
    JsonBody(req): JsonBody<QueryRequest>,
) -> ApiResult<Json<QueryResponse>> {
    let config = &shared.ctx.config;
    if req.method.len() > tx_limits::MAX_METHOD {
        return Err(ApiError::bad_request(format!(
            "method name longer than {} bytes",
            tx_limits::MAX_METHOD
        )));
    }
    if req.input.0.len() > hyperchain_types::limits::MAX_INPUT {
        return Err(ApiError::bad_request(format!(
            "input longer than {} bytes",
            hyperchain_types::limits::MAX_INPUT
        )));
    }
    let fuel_limit = req.fuel_limit.unwrap_or(config.default_query_fuel);
    if fuel_limit > config.max_query_fuel {
        return Err(ApiError::bad_request(format!(
            "fuel_limit {fuel_limit} above this node's maximum of {}",
            config.max_query_fuel
        )));
    }
    let (snapshot, block) = finalized_state(&shared.ctx.ledger)?;
    let state_root = block.header.state_root;
    let at = QueryContext {
        height: block.header.height,
        timestamp_ms: block.header.timestamp_ms,
    };
    let Ok(permit) = shared.query_permits.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "this node runs at most {} queries at once; retry later",
                config.max_concurrent_queries
            ),
        ));
    };
    let engine = shared
        .query_engine
        .get_or_init(|| {
            hyperchain_vm::Engine::new(hyperchain_vm::EngineConfig {
                max_concurrent_calls: config.max_concurrent_queries.max(1),
                ..hyperchain_vm::EngineConfig::default()
            })
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| ApiError::internal(format!("query engine: {e}")))?;
    // WASM is CPU work: keep it off the async workers.
    let outcome = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        query(
            &engine,
            Arc::new(snapshot),
            at,
            req.caller.unwrap_or(Address::ZERO),
            req.contract,
            &req.method,
            &req.input.0,
            fuel_limit,
        )
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| match e {
        QueryError::NoContract(_) => ApiError::not_found(e.to_string()),
        QueryError::Node(_) => ApiError::internal(e),
    })?;
    Ok(Json(QueryResponse::new(at.height, state_root, &outcome)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofParams {
    tree: Option<String>,
    key: String,
}

async fn state_proof(
    State(shared): Ctx,
    Params(params): Params<ProofParams>,
) -> ApiResult<Json<ProofResponse>> {
    let tree = match params.tree.as_deref() {
        None | Some("root") => TreeId::ROOT,
        Some(tree) => TreeId(parse::<Digest>("tree", tree)?.0),
    };
    let key = parse_hex(&params.key).map_err(|e| ApiError::bad_request(format!("bad key: {e}")))?;
    if key.len() > MAX_PROOF_KEY {
        return Err(ApiError::bad_request(format!(
            "key longer than {MAX_PROOF_KEY} bytes"
        )));
    }
    let (snapshot, block) = finalized_state(&shared.ctx.ledger)?;
    let value = snapshot.get(&tree, &key).map_err(ApiError::internal)?;
    let proof = snapshot.prove(&tree, &key).map_err(ApiError::internal)?;
    Ok(Json(ProofResponse {
        tree: Digest(tree.0),
        key: Hex(key),
        value: value.map(Hex),
        proof: Hex(proof.encode()),
        state_root: Digest(snapshot.root().map_err(ApiError::internal)?),
        height: block.header.height,
    }))
}

/// The newest state checkpoint this node serves to joining nodes (`GET /sync/checkpoint`).
async fn sync_checkpoint(State(shared): Ctx) -> ApiResult<Json<CheckpointView>> {
    let ledger = &shared.ctx.ledger;
    let blocks_per_epoch = ledger.executor().registry().blocks_per_epoch;
    let certificates = shared.ctx.certificates.clone();
    let (height, offer) = hyperchain_chain::statesync::offer(ledger, blocks_per_epoch, |height| {
        let certificates = certificates.clone();
        async move { certificates.finalization(height).await }
    })
    .await
    .map_err(ApiError::internal)?
    .ok_or_else(|| {
        ApiError::not_found(
            "no checkpoint yet: a node keeps one from each epoch's first and middle blocks",
        )
    })?;
    Ok(Json(CheckpointView {
        height,
        block: Hex(offer.block),
        finalization: Hex(offer.finalization),
        boundary: offer.boundary.map(|(block, finalization)| BoundaryView {
            block: Hex(block),
            finalization: Hex(finalization),
        }),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncStateParams {
    after: Option<String>,
}

/// A chunk of the state at checkpoint `height` (`GET /sync/state/{height}?after=HEX`).
async fn sync_state(
    State(shared): Ctx,
    Segment(height): Segment,
    Params(params): Params<SyncStateParams>,
) -> ApiResult<Json<StateChunkView>> {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::bad_request(format!("bad height `{}`", clip(&height))))?;
    let after = match params.after.as_deref() {
        None => None,
        Some(hex) => Some(hyperchain_state::ExportCursor(
            parse_hex(hex).map_err(|e| ApiError::bad_request(format!("bad after: {e}")))?,
        )),
    };
    let ledger = shared.ctx.ledger.clone();
    // Reading a chunk is disk work: off the async workers.
    let chunk = tokio::task::spawn_blocking(move || {
        hyperchain_chain::statesync::chunk(&ledger, height, after.as_ref())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::not_found(e.to_string()))?;
    Ok(Json(StateChunkView {
        height,
        entries: chunk
            .entries
            .into_iter()
            .map(|(tree, key, value)| StateEntryView {
                tree: Hex(tree.0.to_vec()),
                key: Hex(key),
                value: Hex(value),
            })
            .collect(),
        next: chunk.next.map(|cursor| Hex(cursor.0)),
    }))
}

async fn status(State(shared): Ctx) -> ApiResult<Json<StatusResponse>> {
    let ctx = &shared.ctx;
    let (snapshot, block) = finalized_state(&ctx.ledger)?;
    Ok(Json(StatusResponse {
        chain_id: ctx.ledger.genesis().header.chain_id,
        height: block.header.height,
        digest: block.digest(),
        timestamp_ms: block.header.timestamp_ms,
        state_root: Digest(snapshot.root().map_err(ApiError::internal)?),
        mempool: ctx.mempool.len(),
        version: ctx.config.version.clone(),
        epoch: hyperchain_chain::validators::active(&snapshot)
            .map_err(registry_error)?
            .map_or(0, |(epoch, _)| epoch),
        validators: governing(&snapshot, ctx.ledger.executor())?.len(),
    }))
}

/// The accounts of the validators that govern in `snapshot`.
fn governing(
    snapshot: &hyperchain_state::Snapshot,
    executor: &hyperchain_chain::execute::Executor,
) -> ApiResult<Vec<hyperchain_types::Address>> {
    hyperchain_chain::validators::governing(snapshot, executor.registry()).map_err(registry_error)
}

async fn validator_sets(State(shared): Ctx) -> ApiResult<Json<crate::api::ValidatorsView>> {
    use crate::api::{CandidateView, EpochSetView, ValidatorView, ValidatorsView};
    use hyperchain_chain::validators::{self, ValidatorSet};
    let (snapshot, Finalized { header }) = finalized_state(&shared.ctx.ledger)?;
    let views = |set: &ValidatorSet| -> Vec<ValidatorView> {
        set.0
            .iter()
            .map(|v| ValidatorView {
                public_key: Hex(v.public_key.to_vec()),
                address: v.address.clone(),
            })
            .collect()
    };
    let missing = || ApiError::not_found("this chain keeps no validator set in state");
    let (epoch, active) = validators::active(&snapshot)
        .map_err(registry_error)?
        .ok_or_else(missing)?;
    let (next_epoch, next) = validators::next(&snapshot)
        .map_err(registry_error)?
        .ok_or_else(missing)?;
    let pending = validators::pending(&snapshot)
        .map_err(registry_error)?
        .ok_or_else(missing)?;
    let candidates = validators::candidates(&snapshot)
        .map_err(registry_error)?
        .into_iter()
        .map(|(key, c)| CandidateView {
            public_key: Hex(key.to_vec()),
            address: c.address,
            announced_ms: c.announced_ms,
            lapses_ms: c.announced_ms.saturating_add(validators::CANDIDATE_TTL_MS),
        })
        .collect();
    Ok(Json(ValidatorsView {
        height: header.height,
        active: EpochSetView {
            epoch,
            validators: views(&active),
        },
        next: EpochSetView {
            epoch: next_epoch,
            validators: views(&next),
        },
        pending: views(&pending),
        candidates,
    }))
}

async fn nonce(State(shared): Ctx, Segment(address): Segment) -> ApiResult<Json<NonceResponse>> {
    let account = account(State(shared), Segment(address)).await?.0;
    Ok(Json(NonceResponse {
        address: account.address,
        nonce: account.nonce,
        height: account.height,
    }))
}

async fn account(
    State(shared): Ctx,
    Segment(address): Segment,
) -> ApiResult<Json<AccountResponse>> {
    let address: Address = parse("address", &address)?;
    let snapshot = shared.ctx.ledger.snapshot().map_err(ApiError::internal)?;
    let account =
        hyperchain_chain::execute::account_in(&snapshot, &address).map_err(ApiError::internal)?;
    Ok(Json(AccountResponse {
        address,
        nonce: account.nonce,
        balance: account.balance.to_string(),
        height: snapshot.height().map_err(ApiError::internal)?,
    }))
}

async fn fees(State(shared): Ctx) -> ApiResult<Json<FeesResponse>> {
    let snapshot = shared.ctx.ledger.snapshot().map_err(ApiError::internal)?;
    let raw = snapshot
        .get(&TreeId::ROOT, hyperchain_chain::fees::SUPPLY_KEY)
        .map_err(ApiError::internal)?;
    let supply =
        hyperchain_chain::fees::decode_supply(raw.as_deref()).map_err(ApiError::internal)?;
    Ok(Json(FeesResponse {
        schedule: *shared.ctx.ledger.executor().fees(),
        supply: supply.to_string(),
        height: snapshot.height().map_err(ApiError::internal)?,
    }))
}

// ---- compute-node registry ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFilter {
    region: Option<String>,
    vendor: Option<String>,
    platform: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFilter {
    /// Jobs of this contract's lane (the latest `limit`); otherwise every unresolved job.
    contract: Option<String>,
    /// Only jobs assigned to this node that it has not answered.
    node: Option<String>,
    /// Only jobs in this state.
    state: Option<String>,
    /// At most this many (default and cap [`MAX_JOBS_LISTED`]).
    limit: Option<usize>,
}

/// Most jobs one `GET /jobs` answer lists.
pub use crate::answer::MAX_JOBS_LISTED;

async fn proposal_record(
    State(shared): Ctx,
    Segment(id): Segment,
) -> ApiResult<Json<ProposalView>> {
    let id: Digest = parse("proposal id", &id)?;
    let (snapshot, _) = finalized_state(&shared.ctx.ledger)?;
    let proposal = open_proposal(&snapshot, &id)?;
    let validators = governing(&snapshot, shared.ctx.ledger.executor())?.len();
    Ok(Json(ProposalView::new(id, &proposal, validators)))
}

/// Open proposal `id` in `snapshot` (404 if there is none).
fn open_proposal(
    snapshot: &hyperchain_state::Snapshot,
    id: &Digest,
) -> ApiResult<hyperchain_types::Proposal> {
    hyperchain_chain::governance::proposal(snapshot, id)
        .map_err(registry_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no open proposal {id} (not finalized yet, carried out or lapsed)"
            ))
        })
}

async fn proposal_preview(
    State(shared): Ctx,
    Segment(id): Segment,
) -> ApiResult<Json<PreviewView>> {
    use crate::api::{EndedView, RegionImpactView};
    let id: Digest = parse("proposal id", &id)?;
    let (snapshot, Finalized { header }) = finalized_state(&shared.ctx.ledger)?;
    let proposal = open_proposal(&snapshot, &id)?;
    let executor = shared.ctx.ledger.executor();
    let now = hyperchain_chain::registry::Now {
        height: header.height,
        ms: header.timestamp_ms,
    };
    let preview =
        hyperchain_chain::registry::preview(&snapshot, executor.registry(), &proposal.action, now)
            .map_err(registry_error)?;
    let ended = preview
        .ended
        .iter()
        .map(|e| {
            let view = NodeView::new(&e.record, header.timestamp_ms);
            EndedView {
                id: view.id,
                region: view.region,
                platform: view.platform,
                vendor: view.vendor,
                at_ms: e.at_ms,
                reason: e.reason.clone(),
            }
        })
        .collect();
    let regions = preview
        .regions
        .iter()
        .map(|r| RegionImpactView {
            region: r.region.clone(),
            intel_before: r.intel_before,
            intel_after: r.intel_after,
            amd_before: r.amd_before,
            amd_after: r.amd_after,
            loses_a_vendor: r.loses_a_vendor(),
        })
        .collect();
    Ok(Json(PreviewView {
        proposal: ProposalView::new(id, &proposal, governing(&snapshot, executor)?.len()),
        height: header.height,
        now_ms: header.timestamp_ms,
        refused: preview.refused,
        ended,
        regions,
    }))
}

async fn proposal_list(State(shared): Ctx) -> ApiResult<Json<ProposalsView>> {
    let (snapshot, Finalized { header }) = finalized_state(&shared.ctx.ledger)?;
    let validators = governing(&snapshot, shared.ctx.ledger.executor())?;
    let proposals = hyperchain_chain::governance::open_proposals(&snapshot, &validators)
        .map_err(registry_error)?
        .iter()
        .map(|(id, p)| ProposalView::new(*id, p, validators.len()))
        .collect();
    Ok(Json(ProposalsView {
        height: header.height,
        now_ms: header.timestamp_ms,
        proposals,
    }))
}

async fn job_record(State(shared): Ctx, Segment(id): Segment) -> ApiResult<Json<JobView>> {
    let id: Digest = parse("job id", &id)?;
    let (snapshot, _) = finalized_state(&shared.ctx.ledger)?;
    let job = lanes::job(&snapshot, &id)
        .map_err(registry_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no job {id} (not finalized yet, or not a call to a TEE contract)"
            ))
        })?;
    Ok(Json(JobView::from(&job)))
}

async fn list_jobs(
    State(shared): Ctx,
    Params(filter): Params<JobFilter>,
) -> ApiResult<Json<JobsResponse>> {
    let query = JobsQuery {
        contract: filter
            .contract
            .as_deref()
            .map(|c| parse("contract", c))
            .transpose()?,
        node: filter
            .node
            .as_deref()
            .map(|n| parse("node id", n))
            .transpose()?,
        state: filter.state,
        limit: filter.limit,
    };
    Ok(Json(answer::jobs(&shared.ctx.ledger, &query)?))
}

async fn lane_record(State(shared): Ctx, Segment(contract): Segment) -> ApiResult<Json<LaneView>> {
    let contract: Address = parse("contract", &contract)?;
    let (snapshot, _) = finalized_state(&shared.ctx.ledger)?;
    let lane = lanes::lane(&snapshot, &contract)
        .map_err(registry_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!("{contract} has no lane (absent or replicated)"))
        })?;
    let raw = snapshot
        .get(
            &TreeId::ROOT,
            &hyperchain_chain::execute::contract_key(&contract),
        )
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("lane of {contract} without a contract")))?;
    let record = hyperchain_types::ContractRecord::decode(bytes::Bytes::from(raw))
        .map_err(ApiError::internal)?;
    Ok(Json(LaneView {
        contract,
        mode: record.mode.to_string(),
        regions: record.regions,
        next_seq: lane.next_seq,
        head: lane.head,
        state: lane.state,
        chain: lane.chain,
        queue: match lane.sched {
            Sched::None => "none",
            Sched::Draw => "draw",
            Sched::Late => "late",
            Sched::Due(_) => "due",
        }
        .into(),
        due_ms: match lane.sched {
            Sched::Due(bucket) => Some(bucket.saturating_mul(lanes::DUE_BUCKET_MS)),
            _ => None,
        },
    }))
}

/// The finality certificate of block `height`, or 503 if this node does not have it (yet).
async fn required_certificate(shared: &Shared, height: u64) -> ApiResult<Vec<u8>> {
    shared
        .ctx
        .certificates
        .finalization(height)
        .await
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("no finality certificate for block {height} on this node yet"),
            )
        })
}

fn registry_error(e: hyperchain_chain::execute::ExecError) -> ApiError {
    ApiError::internal(e)
}

async fn list_nodes(
    State(shared): Ctx,
    Params(filter): Params<NodeFilter>,
) -> ApiResult<Json<NodesResponse>> {
    if let Some(status) = &filter.status
        && !["active", "expired", "revoked"].contains(&status.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "bad status `{status}`: expected active, expired or revoked"
        )));
    }
    let (snapshot, block) = finalized_state(&shared.ctx.ledger)?;
    let now = block.header.timestamp_ms;
    let nodes = registry::nodes(&snapshot)
        .map_err(registry_error)?
        .iter()
        .map(|r| {
            let l = lanes::liveness(&snapshot, &r.id()).unwrap_or_default();
            NodeView::new(r, now).with_liveness(l.misses, l.suspended_until_ms)
        })
        .filter(|n| {
            filter.region.as_ref().is_none_or(|r| *r == n.region)
                && filter.vendor.as_ref().is_none_or(|v| *v == n.vendor)
                && filter.platform.as_ref().is_none_or(|p| *p == n.platform)
                && filter.status.as_ref().is_none_or(|s| *s == n.status)
        })
        .collect();
    Ok(Json(NodesResponse {
        height: block.header.height,
        timestamp_ms: now,
        nodes,
    }))
}

async fn node_record(State(shared): Ctx, Segment(id): Segment) -> ApiResult<Json<NodeView>> {
    let id: Digest = parse("node id", &id)?;
    Ok(Json(answer::node(&shared.ctx.ledger, &id)?))
}

async fn node_token(State(shared): Ctx, Segment(id): Segment) -> ApiResult<Json<TokenView>> {
    let id: Digest = parse("node id", &id)?;
    let (snapshot, block) = finalized_state(&shared.ctx.ledger)?;
    let record = registry::node(&snapshot, &id)
        .map_err(registry_error)?
        .ok_or_else(|| ApiError::not_found(format!("no node {id}")))?;
    let proof = snapshot
        .prove(&TreeId::ROOT, &registry::node_key(&id))
        .map_err(ApiError::internal)?;
    let height = block.header.height;
    let certificate = required_certificate(&shared, height).await?;
    Ok(Json(TokenView {
        node: NodeView::new(&record, block.header.timestamp_ms),
        record: Hex(record.encode().to_vec()),
        header: Hex(block.header.encode().to_vec()),
        certificate: Hex(certificate),
        proof: Hex(proof.encode()),
    }))
}

async fn membership(
    State(shared): Ctx,
    Segment(id): Segment,
) -> ApiResult<Json<MembershipResponse>> {
    let id: Digest = parse("node id", &id)?;
    let (snapshot, block) = finalized_state(&shared.ctx.ledger)?;
    let tree = *registry::ACCUMULATOR;
    let value = snapshot.get(&tree, &id.0).map_err(ApiError::internal)?;
    let proof = snapshot.prove(&tree, &id.0).map_err(ApiError::internal)?;
    let expires_ms = value
        .map(|v| {
            <[u8; 8]>::try_from(v.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| ApiError::internal("corrupt accumulator entry"))
        })
        .transpose()?;
    let certificate = shared
        .ctx
        .certificates
        .finalization(block.header.height)
        .await;
    Ok(Json(MembershipResponse {
        id,
        member: expires_ms.is_some_and(|e| block.header.timestamp_ms < e),
        expires_ms,
        tree: Digest(tree.0),
        proof: Hex(proof.encode()),
        header: Hex(block.header.encode().to_vec()),
        certificate: certificate.map(Hex),
    }))
}

/// Serves code and state to current members only, each value with its proof
/// ([`answer::compute_fetch`], with this machine's clock), and the header's certificate.
async fn compute_fetch(
    State(shared): Ctx,
    JsonBody(req): JsonBody<ComputeFetchRequest>,
) -> ApiResult<Json<ComputeFetchResponse>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let answer = answer::compute_fetch(&shared.ctx.ledger, &req, now)?;
    let certificate = required_certificate(&shared, answer.header.height).await?;
    Ok(Json(ComputeFetchResponse {
        header: Hex(answer.header.encode().to_vec()),
        certificate: Hex(certificate),
        entries: answer.entries,
    }))
}
