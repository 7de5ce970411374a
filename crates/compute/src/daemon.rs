//! The compute-node daemon: the host side around the [`Enclave`].
//!
//! 1. **Register**: evidence from the platform's [`EvidenceProvider`] binding the enclave's
//!    identity key and the latest finalized block, in a `Register` transaction signed by the
//!    enclave; wait for its receipt (a refusal names the failed check).
//! 2. **Serve**: once per finalized block (at most `poll` apart), list the jobs assigned to
//!    this node, execute each lane's run (its head and the jobs following it on the same
//!    committee, in order) in the enclave on fetched and proven state, on a blocking task,
//!    and send the run's signed receipts in one submission.
//! 3. **Re-attest** halfway through the membership's validity, with fresh evidence for the
//!    same identity key.
//!
//! The daemon is generic over commonware's runtime traits ([`Spawner`], [`Clock`]: tokio in
//! `hyperchain compute`, the deterministic runtime in simulations) and over how it reaches
//! validators ([`ChainClient`]: HTTP, or in process). Time is the runtime's clock, and the
//! enclave gets it through its [`Host`].
//!
//! A restart generates a new identity key (the old one never left the old enclave) and
//! registers again; the old identity expires.

use crate::client::{ChainClient, ChainError};
use crate::enclave::{Enclave, Host};
use crate::providers::EvidenceProvider;
use crate::unix_ms;
use commonware_macros::select;
use commonware_runtime::{Clock, Spawner};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use hyperchain_rpc::api::{
    ComputeFetchRequest, ComputeFetchResponse, JobView, ReceiptOutcome, ReceiptView, TxStatus,
};
use hyperchain_types::{
    CallStatus, Digest, Payload, Registration, RunId, SenderKey, SignedComputeReceipt,
};
use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How a node misbehaves (to exercise the chain's defences on devnets and in tests; a correct
/// node uses [`Fault::None`]). docs/COMPUTE.md, "For testers".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fault {
    /// Correct.
    #[default]
    None,
    /// Signs a wrong result for every job it executes (its output is replaced).
    WrongResult,
    /// Registers and re-attests, but never executes or answers.
    Silent,
    /// Executes its own jobs correctly and, at every finalized block, resends other nodes'
    /// receipts it saw in earlier blocks, in transactions of its own.
    Replay,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Fault::None),
            "wrong-result" => Ok(Fault::WrongResult),
            "silent" => Ok(Fault::Silent),
            "replay" => Ok(Fault::Replay),
            other => Err(format!(
                "unknown fault `{other}`: expected none, wrong-result, silent or replay"
            )),
        }
    }
}

/// What the daemon needs (the validators it talks to are its [`ChainClient`]'s).
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    /// The region this node serves.
    pub region: String,
    /// How often to look for new jobs when no block comes.
    pub poll: Duration,
    /// How long to wait for the registration's receipt.
    pub register_timeout: Duration,
    /// Misbehaviour, for tests and demos.
    pub fault: Fault,
    /// Runs executed at once (runs of different lanes are independent; fetch round trips
    /// overlap with execution).
    pub parallel: usize,
    /// The owner account's key: it signs the `Register` transaction (bound in the evidence),
    /// pays the node's fees and receives its payments. `None`: the node's own identity
    /// account owns it (and must be funded on a chain with fees).
    pub owner: Option<commonware_cryptography::ed25519::PrivateKey>,
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
    /// Another node's old receipt sent again ([`Fault::Replay`]).
    Replayed {
        /// The job the receipt answers.
        job: Digest,
        /// The node that signed it.
        signer: Digest,
        /// The transaction that carried it again.
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
    /// Validators gave no usable answer.
    #[error("validators: {0}")]
    Chain(#[from] ChainError),
    /// The evidence provider failed.
    #[error("evidence: {0}")]
    Evidence(#[from] crate::providers::ProviderError),
    /// The chain refused the registration (or dropped its transaction).
    #[error("registration refused: {0}")]
    Refused(String),
    /// A transaction was not finalized in time.
    #[error("transaction {tx} not finalized within {waited:?}")]
    Timeout {
        /// The transaction.
        tx: Digest,
        /// How long the daemon waited.
        waited: Duration,
    },
    /// A task of the daemon ended without its result (it panicked or was aborted).
    #[error("task ended without a result: {0}")]
    Task(String),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
}

/// The enclave's host: fetches through the [`ChainClient`] (the enclave checks every answer
/// against the chain's finality whichever validator gives it) and the runtime's clock.
///
/// The enclave reads storage synchronously while a call runs, on a blocking task; a fetch
/// waits there for the client's future, which completes without that thread's help
/// ([`ChainClient`]).
struct ChainHost<E, C> {
    shared: Arc<Shared<E, C>>,
}

impl<E: Clock, C: ChainClient> Host for ChainHost<E, C> {
    fn fetch(&self, request: &ComputeFetchRequest) -> Result<ComputeFetchResponse, String> {
        futures::executor::block_on(self.shared.client.compute_fetch(request))
            .map_err(|e| e.to_string())
    }

    fn now_ms(&self) -> u64 {
        unix_ms(self.shared.clock.current())
    }
}

/// A compute node: enclave, evidence provider and validator client, on runtime `E`.
pub struct ComputeNode<E, C> {
    context: E,
    shared: Arc<Shared<E, C>>,
}

/// What the node's concurrent tasks share.
struct Shared<E, C> {
    /// The runtime's clock.
    clock: E,
    enclave: Arc<Enclave>,
    provider: Arc<dyn EvidenceProvider>,
    client: C,
    config: DaemonConfig,
    /// The account's next nonce (`None`: read it from a validator). Held while a transaction
    /// is signed and sent, so nonces leave in order.
    nonce: futures::lock::Mutex<Option<u64>>,
}

impl<E, C> std::fmt::Debug for ComputeNode<E, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputeNode")
            .field("node", &self.shared.enclave.node_id())
            .field("region", &self.shared.config.region)
            .finish_non_exhaustive()
    }
}

fn status_name(status: &CallStatus) -> String {
    match status {
        CallStatus::Ok => "ok".into(),
        CallStatus::Reverted(_) => "reverted".into(),
        CallStatus::OutOfFuel => "out_of_fuel".into(),
        CallStatus::Trap(_) => "trap".into(),
        CallStatus::OutOfFee => "out_of_fee".into(),
    }
}

/// Longest single wait for a block while waiting for a receipt.
const RECEIPT_POLL: Duration = Duration::from_secs(5);
/// How often the node checks whether it is time to re-attest.
const REATTEST_CHECK: Duration = Duration::from_secs(5);
/// [`Fault::Replay`]: other nodes' receipts kept to be resent.
const REPLAY_KEPT: usize = 64;
/// [`Fault::Replay`]: receipts resent per finalized block.
const REPLAY_PER_BLOCK: usize = 8;
/// [`Fault::Replay`]: most blocks read at once when catching up.
const REPLAY_LOOKBACK: u64 = 16;

impl<E: Spawner + Clock, C: ChainClient> ComputeNode<E, C> {
    /// A node around `enclave` producing evidence with `provider`, reaching validators with
    /// `client`, running its tasks on `context`.
    pub fn new(
        context: E,
        enclave: Enclave,
        provider: Arc<dyn EvidenceProvider>,
        client: C,
        config: DaemonConfig,
    ) -> Result<ComputeNode<E, C>, DaemonError> {
        if config.region.is_empty() {
            return Err(DaemonError::Config("the region must not be empty".into()));
        }
        let clock = context.child("clock");
        Ok(ComputeNode {
            context,
            shared: Arc::new(Shared {
                clock,
                enclave: Arc::new(enclave),
                provider,
                client,
                config,
                nonce: futures::lock::Mutex::new(None),
            }),
        })
    }

    /// The enclave (its node id, identity key).
    pub fn enclave(&self) -> &Enclave {
        &self.shared.enclave
    }

    /// Registers the node (evidence verified by the validators at block time).
    pub async fn register(&self) -> Result<Event, DaemonError> {
        self.shared.register().await
    }
}

impl<E: Clock, C: ChainClient> Shared<E, C> {
    /// Signs a transaction with the next nonce and sends it; nonces leave in order.
    async fn send(&self, payload: Payload) -> Result<Digest, DaemonError> {
        Ok(self.send_batch(vec![payload]).await?.remove(0))
    }

    /// Signs transactions with consecutive nonces and submits them together (one validator
    /// takes them and gossips them to the others); nonces leave in order.
    async fn send_batch(&self, payloads: Vec<Payload>) -> Result<Vec<Digest>, DaemonError> {
        let mut nonce = self.nonce.lock().await;
        let next = match *nonce {
            Some(n) => n,
            None => self.client.nonce(&self.enclave.account()).await?,
        };
        // Receipts pay nothing (their job's escrow does); anything else pays the schedule's
        // required charge, from the owner for a re-attestation.
        let schedule = if payloads.iter().all(|p| matches!(p, Payload::Receipt(_))) {
            hyperchain_chain::fees::FeeSchedule::FREE
        } else {
            self.client.fees().await?
        };
        let txs: Vec<_> = payloads
            .into_iter()
            .zip(next..)
            .map(|(payload, n)| {
                let fee = match payload {
                    Payload::Receipt(_) => hyperchain_types::Fee::NONE,
                    _ => hyperchain_types::Fee::limit(
                        schedule.required_unsigned(&self.enclave.unsigned_tx(n, payload.clone())),
                    ),
                };
                self.enclave.sign_tx(n, fee, payload)
            })
            .collect();
        match self.client.submit(&txs).await {
            Ok(()) => {
                *nonce = Some(next + txs.len() as u64);
                Ok(txs.iter().map(|tx| tx.id()).collect())
            }
            Err(e) => {
                // Perhaps our nonce is stale (a restart, a dropped transaction): re-read it.
                *nonce = None;
                Err(e.into())
            }
        }
    }

    /// Fresh evidence bound to the latest finalized block.
    async fn registration(&self) -> Result<Registration, DaemonError> {
        let tip = self.client.tip().await?;
        if tip.chain_id != self.enclave.chain_id() {
            return Err(DaemonError::Config(format!(
                "the validator serves chain {}, the genesis describes {}",
                tip.chain_id,
                self.enclave.chain_id()
            )));
        }
        let report_data =
            self.enclave
                .report_data(&self.config.region, &tip.digest, &self.owner_address());
        let now_secs = unix_ms(self.clock.current()) / 1000;
        let provided = self.provider.evidence(report_data, now_secs)?;
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

    /// Waits (at most `register_timeout`) until transaction `id` is finalized; its receipt.
    async fn wait_for_receipt(&self, id: &Digest) -> Result<ReceiptView, DaemonError> {
        let waited = self.config.register_timeout;
        let deadline = self.clock.current() + waited;
        // Read the tip before the status, so a block finalized in between ends the wait.
        let mut next = self.client.tip().await?.height + 1;
        loop {
            match self.client.tx_status(id).await? {
                TxStatus::Finalized { receipt } => return Ok(receipt),
                TxStatus::Dropped { reason } => {
                    return Err(DaemonError::Refused(format!(
                        "transaction {id} dropped: {reason}"
                    )));
                }
                TxStatus::Pending | TxStatus::Unknown => {}
            }
            let left = deadline
                .duration_since(self.clock.current())
                .unwrap_or_default();
            if left.is_zero() {
                return Err(DaemonError::Timeout { tx: *id, waited });
            }
            let tip = self
                .client
                .wait_for_height(next, left.min(RECEIPT_POLL))
                .await?;
            next = next.max(tip + 1);
        }
    }

    /// The account that owns this node.
    fn owner_address(&self) -> hyperchain_types::Address {
        match &self.config.owner {
            Some(key) => {
                SenderKey::from(commonware_cryptography::Signer::public_key(key)).address()
            }
            None => self.enclave.account(),
        }
    }

    /// Sends `Register` from the owner account (signed on the host with the owner's key),
    /// paying the schedule's required charge.
    async fn send_registration(&self, registration: Registration) -> Result<Digest, DaemonError> {
        let Some(key) = &self.config.owner else {
            return self.send(Payload::Register(registration)).await;
        };
        let sender = SenderKey::from(commonware_cryptography::Signer::public_key(key));
        let nonce = self.client.nonce(&sender.address()).await?;
        let mut tx = hyperchain_types::Transaction {
            chain_id: self.enclave.chain_id(),
            sender,
            nonce,
            fee: hyperchain_types::Fee::NONE,
            payload: Payload::Register(registration),
        };
        tx.fee = hyperchain_types::Fee::limit(self.client.fees().await?.required_unsigned(&tx));
        let tx = tx.sign(key);
        self.client.submit(std::slice::from_ref(&tx)).await?;
        Ok(tx.id())
    }

    /// Submits `payload` and waits for its receipt: the height of the accepting block.
    async fn attest(&self, payload: Payload) -> Result<u64, DaemonError> {
        let id = match payload {
            Payload::Register(registration) => self.send_registration(registration).await?,
            payload => self.send(payload).await?,
        };
        let receipt = self.wait_for_receipt(&id).await?;
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
        let Some(record) = self.client.node(&id).await? else {
            return Ok(None);
        };
        let half = record.attested_ms + (record.expires_ms.saturating_sub(record.attested_ms)) / 2;
        if unix_ms(self.clock.current()) < half {
            return Ok(None);
        }
        let registration = self.registration().await?;
        let height = self.attest(Payload::Reattest(registration)).await?;
        Ok(Some(Event::Reattested { height }))
    }

    /// [`Fault::Replay`]: reads the blocks finalized since the last call (up to `tip`),
    /// keeps the receipts other nodes signed, and resends those resent least (oldest first),
    /// in transactions of this node's account.
    async fn replay(&self, replays: &mut Replays, tip: u64) -> Result<Vec<Event>, DaemonError> {
        let me = self.enclave.node_id();
        let account = SenderKey(self.enclave.identity_key());
        let from = replays
            .next
            .unwrap_or(tip)
            .max(tip.saturating_sub(REPLAY_LOOKBACK - 1))
            .max(1);
        let mut read = false;
        for height in from..=tip {
            let Some(txs) = self.client.block_transactions(height).await? else {
                break;
            };
            for tx in txs {
                if tx.tx.sender == account {
                    continue;
                }
                if let Payload::Receipt(receipt) = tx.tx.payload
                    && receipt.node_id() != me
                {
                    if replays.seen.len() >= REPLAY_KEPT {
                        replays.seen.pop_front();
                    }
                    replays.seen.push_back((0, *receipt));
                }
            }
            replays.next = Some(height + 1);
            read = true;
        }
        if !read || replays.seen.is_empty() {
            return Ok(Vec::new());
        }
        // A stable sort: among the receipts resent least, the oldest first.
        let mut order: Vec<usize> = (0..replays.seen.len()).collect();
        order.sort_by_key(|&i| replays.seen[i].0);
        order.truncate(REPLAY_PER_BLOCK);
        let txs = self
            .send_batch(
                order
                    .iter()
                    .map(|&i| Payload::Receipt(Box::new(replays.seen[i].1.clone())))
                    .collect(),
            )
            .await?;
        Ok(order
            .into_iter()
            .zip(txs)
            .map(|(i, tx)| {
                let (count, receipt) = &mut replays.seen[i];
                *count += 1;
                Event::Replayed {
                    job: receipt.receipt.job,
                    signer: receipt.node_id(),
                    tx,
                }
            })
            .collect())
    }
}

impl<E: Spawner + Clock, C: ChainClient> Shared<E, C> {
    /// Executes a run (a lane's head and the jobs following it on the same committee) in the
    /// enclave on a blocking task of `context`, and sends the receipts, in lane order.
    async fn serve(
        self: Arc<Self>,
        context: E,
        run: Vec<Digest>,
    ) -> Result<Vec<Event>, DaemonError> {
        let host: Arc<dyn Host> = Arc::new(ChainHost {
            shared: self.clone(),
        });
        let enclave = self.enclave.clone();
        let ids = run.clone();
        let executed = context
            .child("enclave")
            .shared(true)
            .spawn(move |_| async move { enclave.execute_run(host, &ids) })
            .await
            .map_err(|e| DaemonError::Task(format!("execution: {e}")))?;
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

/// [`Fault::Replay`]'s memory: other nodes' receipts seen in finalized blocks.
#[derive(Default)]
struct Replays {
    /// The next height to read (`None`: the tip at the first call).
    next: Option<u64>,
    /// (times resent, receipt), oldest first; at most [`REPLAY_KEPT`].
    seen: VecDeque<(u32, SignedComputeReceipt)>,
}

/// A lane's jobs listed for this node, as one run: (job, the run it is assigned to) in lane
/// order.
type Run = Vec<(Digest, RunId)>;

/// Groups a listing into runs: consecutive lane positions of one contract assigned to one
/// committee draw (the validator lists each lane's head, then the jobs following it).
fn runs(jobs: &[JobView]) -> Vec<Run> {
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

/// A run being executed: its jobs and, when it ends, its events.
type Running = BoxFuture<'static, (Run, Result<Vec<Event>, DaemonError>)>;

impl<E: Spawner + Clock, C: ChainClient> ComputeNode<E, C> {
    /// Serves jobs until `shutdown` completes, reporting through `report`. Registers first if
    /// `register` is set. Up to `config.parallel` runs execute at once, each on its own task.
    pub async fn run(
        self,
        register: bool,
        report: impl Fn(Event) + Send,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), DaemonError> {
        let ComputeNode { context, shared } = self;
        if register {
            report(shared.register().await?);
        }
        let me = shared.enclave.node_id();
        let fault = shared.config.fault;
        let parallel = shared.config.parallel.max(1);
        // Jobs taken, per (job, run); a job whose execution failed is taken again later.
        // Kept while the job is listed for this node (its receipt not yet finalized) or running.
        let mut taken: BTreeSet<(Digest, RunId)> = BTreeSet::new();
        let mut in_flight: BTreeSet<(Digest, RunId)> = BTreeSet::new();
        let mut running: FuturesUnordered<Running> = FuturesUnordered::new();
        let mut last_reattest_check = shared.clock.current();
        // Runs listed for this node and not yet started, in the validator's order. Refreshed
        // once per finalized block (at most `poll` apart when blocks are slow); a finished
        // run's slot goes to the next of them at once rather than at the next block, so
        // execution does not idle between blocks.
        let mut queue: VecDeque<Run> = VecDeque::new();
        let mut replays = Replays::default();
        let mut next_height = 0u64;
        let poll = shared.config.poll;
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let new_block = select! {
                _ = &mut shutdown => {
                    return Ok(());
                },
                Some((run, result)) = running.next() => {
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
                    false
                },
                tip = shared.client.wait_for_height(next_height, poll) => {
                    match tip {
                        Ok(tip) => next_height = tip + 1,
                        Err(_) => shared.clock.sleep(poll).await,
                    }
                    true
                },
            };
            if new_block {
                let now = shared.clock.current();
                if now.duration_since(last_reattest_check).unwrap_or_default() > REATTEST_CHECK {
                    last_reattest_check = now;
                    match shared.maybe_reattest().await {
                        Ok(Some(event)) => report(event),
                        Ok(None) => {}
                        Err(e) => report(Event::Warning {
                            message: format!("re-attestation failed: {e}"),
                        }),
                    }
                }
                if fault == Fault::Replay && next_height > 0 {
                    match shared.replay(&mut replays, next_height - 1).await {
                        Ok(events) => events.into_iter().for_each(&report),
                        Err(e) => report(Event::Warning {
                            message: format!("replay failed: {e}"),
                        }),
                    }
                }
                if fault == Fault::Silent {
                    continue;
                }
                // With every slot busy and work still queued, the listing can wait a block.
                if running.len() < parallel || queue.is_empty() {
                    match shared.client.assigned_jobs(&me).await {
                        Ok(jobs) => {
                            let listed = runs(&jobs);
                            let set: BTreeSet<&(Digest, RunId)> = listed.iter().flatten().collect();
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
                let ids = run.iter().map(|key| key.0).collect();
                let task = context.child("run").spawn({
                    let shared = shared.clone();
                    move |context| shared.serve(context, ids)
                });
                running.push(Box::pin(async move {
                    let result = task
                        .await
                        .unwrap_or_else(|e| Err(DaemonError::Task(format!("run: {e}"))));
                    (run, result)
                }));
            }
        }
    }
}
