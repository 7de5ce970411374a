//! The compute-node daemon: the host side around the [`Enclave`].
//!
//! 1. **Register**: evidence from the platform's [`EvidenceProvider`] binding the enclave's
//!    identity key and the latest finalized block, in a `Register` transaction signed by the
//!    enclave; wait for its receipt (a refusal names the failed check).
//! 2. **Serve**: poll validators for jobs assigned to this node (`GET /jobs?node=`), execute
//!    each lane's run (its head and the jobs following it on the same committee, in order) in
//!    the enclave on fetched and proven state, and send the signed receipts in `Receipt`
//!    transactions to every configured validator (there is no mempool gossip).
//! 3. **Re-attest** halfway through the membership's validity, with fresh evidence for the
//!    same identity key.
//!
//! A restart generates a new identity key (the old one never left the old enclave) and
//! registers again; the old identity expires.

use crate::enclave::{Enclave, Host};
use crate::providers::EvidenceProvider;
use hyperchain_rpc::api::{ComputeFetchRequest, ComputeFetchResponse, ReceiptOutcome};
use hyperchain_rpc::{Client, ClientError};
use hyperchain_types::{CallStatus, Digest, Payload, Registration, RunId};
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How a node misbehaves (to exercise the chain's defences on devnets and in tests; a correct
/// node uses [`Fault::None`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fault {
    /// Correct.
    #[default]
    None,
    /// Signs a wrong result (its output is replaced).
    WrongResult,
    /// Never answers.
    Silent,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Fault::None),
            "wrong-result" => Ok(Fault::WrongResult),
            "silent" => Ok(Fault::Silent),
            other => Err(format!(
                "unknown fault `{other}`: expected none, wrong-result or silent"
            )),
        }
    }
}

/// What the daemon needs.
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    /// Validators' RPC base URLs, in order of preference: the first that answers serves
    /// queries and takes receipts (validators gossip transactions to each other); the others
    /// are fallbacks.
    pub rpc: Vec<String>,
    /// The region this node serves.
    pub region: String,
    /// How often to look for new jobs.
    pub poll: Duration,
    /// How long to wait for the registration's receipt.
    pub register_timeout: Duration,
    /// Misbehaviour, for tests and demos.
    pub fault: Fault,
    /// Jobs executed at once (jobs of different lanes are independent; fetch round trips
    /// overlap with execution).
    pub parallel: usize,
}

/// What the daemon reports as it works.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Registered: a member from this height on.
    Registered {
        /// The node id.
        node: Digest,
        /// The platform.
        platform: String,
        /// The region.
        region: String,
        /// Height of the block that accepted it.
        height: u64,
    },
    /// Fresh evidence accepted.
    Reattested {
        /// Height of the block that accepted it.
        height: u64,
    },
    /// A job executed and its receipt sent.
    Executed {
        /// The job.
        job: Digest,
        /// Its contract.
        contract: hyperchain_types::Address,
        /// Its lane position.
        lane_seq: u64,
        /// The committee attempt.
        attempt: u32,
        /// `ok`, `reverted`, `out_of_fuel` or `trap`.
        status: String,
        /// Fuel used.
        fuel_used: u64,
        /// Execution time (ms, fetches of read values included).
        millis: u64,
        /// Verified storage reads.
        reads: usize,
        /// The receipt transaction.
        tx: Digest,
    },
    /// A job was not executed.
    Skipped {
        /// The job.
        job: Digest,
        /// Why.
        reason: String,
    },
    /// A recoverable problem (the daemon keeps going).
    Warning {
        /// What happened.
        message: String,
    },
}

/// Why the daemon stopped.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// No validator could be reached.
    #[error("rpc: {0}")]
    Rpc(#[from] ClientError),
    /// The evidence provider failed.
    #[error("evidence: {0}")]
    Evidence(#[from] crate::providers::ProviderError),
    /// The chain refused the registration.
    #[error("registration refused: {0}")]
    Refused(String),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
}

/// The host's transport: blocking calls into the async RPC client, for the enclave's
/// synchronous storage reads (run on a blocking thread), through [`Shared::read`] (the enclave
/// checks every answer against the chain's finality whichever validator gives it).
struct RpcHost {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
}

impl Host for RpcHost {
    fn fetch(&self, request: &ComputeFetchRequest) -> Result<ComputeFetchResponse, String> {
        self.runtime
            .block_on(self.shared.read(|c| {
                let request = request.clone();
                async move { c.compute_fetch_signed(&request).await }
            }))
            .map_err(|e| e.to_string())
    }

    fn now_ms(&self) -> u64 {
        now_ms()
    }
}

/// A compute node: enclave, evidence provider and validator clients.
pub struct ComputeNode {
    shared: Arc<Shared>,
}

/// What the node's concurrent tasks share.
struct Shared {
    enclave: Arc<Enclave>,
    provider: Arc<dyn EvidenceProvider>,
    clients: Vec<Client>,
    config: DaemonConfig,
    /// The account's next nonce (`None`: read it from a validator). Held while a transaction
    /// is signed and sent, so nonces leave in order.
    nonce: tokio::sync::Mutex<Option<u64>>,
    /// The validator reads go to first (an index into `clients`): the first that answered
    /// when the one before could not be reached.
    preferred: AtomicUsize,
}

impl std::fmt::Debug for ComputeNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputeNode")
            .field("node", &self.shared.enclave.node_id())
            .field("region", &self.shared.config.region)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn status_name(status: &CallStatus) -> String {
    match status {
        CallStatus::Ok => "ok".into(),
        CallStatus::Reverted(_) => "reverted".into(),
        CallStatus::OutOfFuel => "out_of_fuel".into(),
        CallStatus::Trap(_) => "trap".into(),
    }
}

impl ComputeNode {
    /// A node around `enclave` producing evidence with `provider`.
    pub fn new(
        enclave: Enclave,
        provider: Arc<dyn EvidenceProvider>,
        config: DaemonConfig,
    ) -> Result<ComputeNode, DaemonError> {
        if config.rpc.is_empty() {
            return Err(DaemonError::Config("no validator RPC URL".into()));
        }
        if config.region.is_empty() {
            return Err(DaemonError::Config("the region must not be empty".into()));
        }
        let clients = config
            .rpc
            .iter()
            .map(|url| Client::new(url))
            .collect::<Result<_, _>>()?;
        Ok(ComputeNode {
            shared: Arc::new(Shared {
                enclave: Arc::new(enclave),
                provider,
                clients,
                config,
                nonce: tokio::sync::Mutex::new(None),
                preferred: AtomicUsize::new(0),
            }),
        })
    }

    /// The enclave (its node id, identity key).
    pub fn enclave(&self) -> &Enclave {
        &self.shared.enclave
    }

    /// Registers the node (evidence verified by the validators at block time).
    pub async fn register(&mut self) -> Result<Event, DaemonError> {
        self.shared.register().await
    }
}

impl Shared {
    /// Runs the read `op` on the preferred validator or, while validators cannot be reached,
    /// on the next ones in turn; the first that answers becomes the preferred one. Errors
    /// other than an unreachable validator (an API refusal, a bad answer) are returned as
    /// they are.
    async fn read<T, F, Fut>(&self, op: F) -> Result<T, ClientError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let n = self.clients.len();
        let first = self.preferred.load(Ordering::Relaxed) % n;
        let mut last = None;
        for i in 0..n {
            let index = (first + i) % n;
            match op(self.clients[index].clone()).await {
                Err(e @ ClientError::Transport { .. }) => last = Some(e),
                answer => {
                    if i > 0 {
                        self.preferred.store(index, Ordering::Relaxed);
                    }
                    return answer;
                }
            }
        }
        Err(last.expect("at least one validator"))
    }

    /// Signs a transaction with the next nonce and sends it to the first validator that
    /// accepts it; nonces leave in order.
    async fn send(&self, payload: Payload) -> Result<Digest, DaemonError> {
        Ok(self.send_batch(vec![payload]).await?.remove(0))
    }

    /// Signs transactions with consecutive nonces and sends them, in one request, to the first
    /// validator that accepts them all (it gossips them to the others); nonces leave in order.
    async fn send_batch(&self, payloads: Vec<Payload>) -> Result<Vec<Digest>, DaemonError> {
        let mut nonce = self.nonce.lock().await;
        let next = match *nonce {
            Some(n) => n,
            None => {
                let account = self.enclave.account();
                self.read(|c| async move { c.nonce(&account).await })
                    .await?
            }
        };
        let txs: Vec<_> = payloads
            .into_iter()
            .zip(next..)
            .map(|(payload, n)| self.enclave.sign_tx(n, payload))
            .collect();
        let mut last_error = None;
        let mut accepted = false;
        // One validator takes them and gossips them to the others; the next is tried only if
        // it refuses or cannot be reached.
        for client in &self.clients {
            match client.submit_batch(&txs).await {
                Ok(verdicts) => match verdicts.into_iter().find_map(Result::err) {
                    None => {
                        accepted = true;
                        break;
                    }
                    Some(reason) => {
                        last_error = Some(ClientError::Api {
                            status: 400,
                            message: format!("{}: {reason}", client.base_url()),
                        })
                    }
                },
                Err(e) => last_error = Some(e),
            }
        }
        match (accepted, last_error) {
            (true, _) => {
                *nonce = Some(next + txs.len() as u64);
                Ok(txs.iter().map(|tx| tx.id()).collect())
            }
            (false, Some(e)) => {
                // Perhaps our nonce is stale (a restart, a dropped transaction): re-read it.
                *nonce = None;
                Err(e.into())
            }
            (false, None) => unreachable!("at least one client"),
        }
    }

    /// Fresh evidence bound to the latest finalized block.
    async fn registration(&self) -> Result<Registration, DaemonError> {
        let tip = self.read(|c| async move { c.status().await }).await?;
        if tip.chain_id != self.enclave.chain_id() {
            return Err(DaemonError::Config(format!(
                "the validator serves chain {}, the genesis describes {}",
                tip.chain_id,
                self.enclave.chain_id()
            )));
        }
        let report_data = self.enclave.report_data(&self.config.region, &tip.digest);
        let provided = self.provider.evidence(report_data, now_ms() / 1000)?;
        use commonware_codec::Encode as _;
        Ok(Registration {
            identity_key: self.enclave.identity_key(),
            platform: provided.platform.tag(),
            region: self.config.region.clone(),
            evidence: provided.evidence,
            endorsements: provided.endorsements.encode().to_vec(),
            recent_block: tip.digest,
        })
    }

    /// Submits `payload` and waits for its receipt: the height of the accepting block.
    async fn attest(&self, payload: Payload) -> Result<u64, DaemonError> {
        let id = self.send(payload).await?;
        let wait = self.config.register_timeout;
        let receipt = self
            .read(|c| async move { c.wait_for_receipt(&id, wait).await })
            .await?;
        match receipt.outcome {
            ReceiptOutcome::Accepted => Ok(receipt.height),
            ReceiptOutcome::Rejected { reason } => Err(DaemonError::Refused(reason)),
            other => Err(DaemonError::Refused(format!(
                "unexpected receipt {other:?}"
            ))),
        }
    }

    async fn register(&self) -> Result<Event, DaemonError> {
        let registration = self.registration().await?;
        let height = self.attest(Payload::Register(registration)).await?;
        Ok(Event::Registered {
            node: self.enclave.node_id(),
            platform: self.provider.platform().as_str().to_string(),
            region: self.config.region.clone(),
            height,
        })
    }

    /// Re-attests if past half of the membership's validity.
    async fn maybe_reattest(&self) -> Result<Option<Event>, DaemonError> {
        let id = self.enclave.node_id();
        let Some(record) = self.read(|c| async move { c.node(&id).await }).await? else {
            return Ok(None);
        };
        let half = record.attested_ms + (record.expires_ms.saturating_sub(record.attested_ms)) / 2;
        if now_ms() < half {
            return Ok(None);
        }
        let registration = self.registration().await?;
        let height = self.attest(Payload::Reattest(registration)).await?;
        Ok(Some(Event::Reattested { height }))
    }

    /// Executes a run (a lane's head and the jobs following it on the same committee) and
    /// sends the receipts, in lane order.
    async fn serve(self: &Arc<Self>, run: Vec<Digest>) -> Result<Vec<Event>, DaemonError> {
        let host: Arc<dyn Host> = Arc::new(RpcHost {
            shared: self.clone(),
            runtime: tokio::runtime::Handle::current(),
        });
        let enclave = self.enclave.clone();
        let ids = run.clone();
        let executed = tokio::task::spawn_blocking(move || enclave.execute_run(host, &ids))
            .await
            .map_err(|e| DaemonError::Config(format!("execution task failed: {e}")))?;
        let mut executed = match executed {
            Ok(executed) => executed,
            Err(e) => {
                let reason = e.to_string();
                return Ok(run
                    .into_iter()
                    .map(|job| Event::Skipped {
                        job,
                        reason: reason.clone(),
                    })
                    .collect());
            }
        };
        if self.config.fault == Fault::WrongResult {
            for executed in &mut executed {
                // A Byzantine node: claims another output, re-signed with its real key.
                let mut receipt = executed.receipt.receipt.clone();
                receipt.outcome.output = b"a wrong result".to_vec();
                receipt.outcome.status = CallStatus::Ok;
                executed.receipt = self.enclave.sign_receipt(receipt);
            }
        }
        // The run's receipts leave together, in lane order, in one request.
        let txs = self
            .send_batch(
                executed
                    .iter()
                    .map(|e| Payload::Receipt(Box::new(e.receipt.clone())))
                    .collect(),
            )
            .await?;
        let mut events = Vec::with_capacity(executed.len());
        for (executed, tx) in executed.into_iter().zip(txs) {
            let outcome = &executed.receipt.receipt.outcome;
            let (status, fuel_used) = (status_name(&outcome.status), outcome.fuel_used);
            events.push(Event::Executed {
                job: executed.job.id,
                contract: executed.job.contract,
                lane_seq: executed.job.lane_seq,
                attempt: executed.job.assignment.as_ref().map_or(0, |a| a.attempt),
                status,
                fuel_used,
                millis: executed.elapsed.as_millis() as u64,
                reads: executed.reads,
                tx,
            });
        }
        Ok(events)
    }
}

/// A lane's jobs listed for this node, as one run: (job, the run it is assigned to) in lane
/// order.
type Run = Vec<(Digest, RunId)>;

/// Groups a listing into runs: consecutive lane positions of one contract assigned to one
/// committee draw (the validator lists each lane's head, then the jobs following it).
fn runs(jobs: &[hyperchain_rpc::api::JobView]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut last: Option<(hyperchain_types::Address, u64, RunId)> = None;
    for job in jobs {
        let attempt = job.assignment.as_ref().map_or(RunId::default(), |a| RunId {
            head: a.run_head,
            attempt: a.attempt,
        });
        let follows = last.is_some_and(|(contract, seq, a)| {
            contract == job.contract && seq + 1 == job.lane_seq && a == attempt
        });
        match out.last_mut() {
            Some(run) if follows => run.push((job.id, attempt)),
            _ => out.push(vec![(job.id, attempt)]),
        }
        last = Some((job.contract, job.lane_seq, attempt));
    }
    out
}

impl ComputeNode {
    /// Serves jobs until `shutdown` completes, reporting through `report`. Registers first if
    /// `register` is set. Up to `config.parallel` jobs run at once.
    pub async fn run(
        self,
        register: bool,
        report: impl Fn(Event) + Send,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), DaemonError> {
        let shared = self.shared;
        if register {
            report(shared.register().await?);
        }
        let me = shared.enclave.node_id().to_string();
        let parallel = shared.config.parallel.max(1);
        // Jobs taken, per (job, run); a job whose execution failed is taken again later.
        // Kept while the job is listed for this node (its receipt not yet finalized) or running.
        let mut taken: HashSet<(Digest, RunId)> = HashSet::new();
        let mut in_flight: HashSet<(Digest, RunId)> = HashSet::new();
        let mut running: tokio::task::JoinSet<(Run, Result<Vec<Event>, DaemonError>)> =
            tokio::task::JoinSet::new();
        let mut last_reattest_check = std::time::Instant::now();
        // Runs listed for this node and not yet started, in the validator's order. Refreshed
        // once per finalized block (at most `poll` apart when blocks are slow); a finished
        // run's slot goes to the next of them at once rather than at the next block, so
        // execution does not idle between blocks.
        let mut queue: VecDeque<Run> = VecDeque::new();
        let mut next_height = 0u64;
        let poll = shared.config.poll;
        tokio::pin!(shutdown);
        loop {
            let new_block = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Ok((run, result)) = done {
                        for key in &run {
                            in_flight.remove(key);
                        }
                        match result {
                            Ok(events) => {
                                for event in events {
                                    if let Event::Skipped { job, .. } = &event {
                                        // Try again later (e.g. a validator lagging behind).
                                        taken.retain(|key| key.0 != *job);
                                    }
                                    report(event);
                                }
                            }
                            Err(e) => {
                                for key in &run {
                                    taken.remove(key);
                                }
                                report(Event::Warning {
                                    message: format!("job {}: {e}", run[0].0),
                                });
                            }
                        }
                    }
                    false
                }
                tip = shared.read(|c| async move { c.wait_for_height(next_height, poll).await }) => {
                    match tip {
                        Ok(tip) => next_height = tip + 1,
                        Err(_) => tokio::time::sleep(shared.config.poll).await,
                    }
                    true
                }
            };
            if new_block {
                if last_reattest_check.elapsed() > Duration::from_secs(5) {
                    last_reattest_check = std::time::Instant::now();
                    match shared.maybe_reattest().await {
                        Ok(Some(event)) => report(event),
                        Ok(None) => {}
                        Err(e) => report(Event::Warning {
                            message: format!("re-attestation failed: {e}"),
                        }),
                    }
                }
                if shared.config.fault == Fault::Silent {
                    continue;
                }
                // With every slot busy and work still queued, the listing can wait a block.
                if running.len() < parallel || queue.is_empty() {
                    let listing = shared
                        .read(|c| {
                            let me = me.clone();
                            async move { c.jobs(&[("node", me.as_str())]).await }
                        })
                        .await;
                    match listing {
                        Ok(resp) => {
                            let listed = runs(&resp.jobs);
                            let set: HashSet<&(Digest, RunId)> = listed.iter().flatten().collect();
                            taken.retain(|key| set.contains(key) || in_flight.contains(key));
                            queue = listed
                                .into_iter()
                                .map(|run| {
                                    run.into_iter()
                                        .filter(|key| !taken.contains(key))
                                        .collect::<Run>()
                                })
                                .filter(|run| !run.is_empty())
                                .collect();
                        }
                        Err(e) => report(Event::Warning {
                            message: format!("cannot list jobs: {e}"),
                        }),
                    }
                }
            }
            while running.len() < parallel {
                let Some(run) = queue.pop_front() else { break };
                let run: Run = run.into_iter().filter(|key| taken.insert(*key)).collect();
                if run.is_empty() {
                    continue;
                }
                in_flight.extend(run.iter().copied());
                let shared = shared.clone();
                let ids = run.iter().map(|key| key.0).collect();
                running.spawn(async move { (run, shared.serve(ids).await) });
            }
        }
    }
}
