//! The enclave boundary (docs/DESIGN.md §2, §6): what runs inside the TEE.
//!
//! The enclave generates its ed25519 **identity key** and never lets it out: it signs the
//! node's transactions (registration, re-attestation, receipts — the node's account is the
//! identity key's), its authenticated fetch requests and its compute receipts. The **host**
//! (the untrusted rest of the node: networking, disk, the operator) only carries bytes
//! ([`Host`]). Everything the host hands in is verified before use:
//!
//! - every answer carries a finalized header and its finality certificate, checked with the
//!   [`LightClient`] against the network's group public key (the enclave's one trust anchor,
//!   from the genesis);
//! - every value comes with a state proof against that header's state root, for exactly the
//!   key the enclave asked for;
//! - the job record must show this node on the job's current committee; the code must hash to
//!   the contract's code hash; every storage value the call reads must be proven against the
//!   lane's recorded storage commitment (after the job before the head), so the enclave
//!   executes on exactly the state its receipt names. Jobs following the head on the same
//!   committee run on the head's proven state overlaid with the run's own earlier writes,
//!   and their receipts name the chained pre-state ([`hyperchain_types::chain_next`]).
//!
//! If anything fails, the enclave signs nothing.

use commonware_codec::{DecodeExt as _, Encode as _};
use commonware_cryptography::{Signer as _, ed25519};
use hyperchain_api::{ComputeFetchRequest, ComputeFetchResponse, Hex, ProvenEntry};
use hyperchain_merkle::{EMPTY, StateProof, TreeId, key_path, value_hash};
use hyperchain_stf::execute::{CODE_CHUNK, code_key, contract_key};
use hyperchain_stf::lanes::{self, job_key, lane_key};
use hyperchain_stf::light::LightClient;
use hyperchain_types::{
    COMPUTE_REQUEST_NAMESPACE, ComputeRequest, ContractRecord, Digest, Header, Job, JobState,
    LaneRecord, Payload, SenderKey, SignedComputeReceipt, SignedTransaction, Transaction,
    compute_request_message, node_id, tx_limits,
};
use hyperchain_vm::{Engine, StorageError, StorageReader};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The untrusted host's side of the boundary: it carries a signed request to a validator and
/// returns the answer, which the enclave then verifies, and it tells the time.
pub trait Host: Send + Sync {
    /// Sends `request` to a validator's `POST /compute/fetch`.
    fn fetch(&self, request: &ComputeFetchRequest) -> Result<ComputeFetchResponse, String>;

    /// The time now, in milliseconds since the Unix epoch, by the host's clock. The enclave
    /// has no clock of its own (a TEE's time comes from its host anyway, and the daemon's
    /// comes from its runtime, simulated or not): it stamps its fetch requests with this time
    /// and times each job with it. A host that lies about the time only gets its own requests
    /// refused (validators answer requests within `COMPUTE_REQUEST_WINDOW_MS` of their clock)
    /// and its own timings wrong; nothing the enclave signs depends on it.
    fn now_ms(&self) -> u64;
}

/// Why the enclave signed nothing.
#[derive(Debug, thiserror::Error)]
pub enum EnclaveError {
    /// The host could not deliver (network, validator refusal).
    #[error("host: {0}")]
    Host(String),
    /// An answer did not verify (certificate, proof, wrong key, wrong state).
    #[error("unverified answer: {0}")]
    Unverified(String),
    /// The job is not this node's to execute (any more).
    #[error("not assigned: {0}")]
    NotAssigned(String),
    /// The engine failed (not a contract fault).
    #[error("engine: {0}")]
    Engine(String),
}

/// The identity key and what it signs.
#[derive(Clone)]
struct Identity {
    key: ed25519::PrivateKey,
    public: [u8; 32],
    chain_id: Digest,
}

impl Identity {
    fn request(&self, request: &ComputeRequest, timestamp_ms: u64) -> ComputeFetchRequest {
        let message = compute_request_message(&self.chain_id, &self.public, timestamp_ms, request);
        let signature = self.key.sign(COMPUTE_REQUEST_NAMESPACE, &message);
        ComputeFetchRequest {
            identity_key: Hex(self.public.to_vec()),
            request: Hex(request.encode().to_vec()),
            timestamp_ms,
            signature: Hex(signature.encode().to_vec()),
        }
    }
}

/// The enclave: identity key, light client and contract engine.
pub struct Enclave {
    identity: Identity,
    light: Arc<VerifiedHeaders>,
    engine: Engine,
}

/// The light client, remembering the last few headers whose finality it verified (answers
/// of the same block then cost a hash instead of a threshold-signature check).
struct VerifiedHeaders {
    light: LightClient,
    recent: Mutex<std::collections::VecDeque<(Digest, Vec<u8>)>>,
}

impl VerifiedHeaders {
    /// [`hyperchain_api::verify_compute_fetch`] with the certificate check skipped
    /// for a (header, certificate) pair verified before.
    fn verify(&self, resp: &ComputeFetchResponse) -> Result<Header, String> {
        let digest = hyperchain_types::sha256(&resp.header.0);
        let known = self.recent.lock().is_ok_and(|r| {
            r.iter()
                .any(|(d, c)| *d == digest && c.as_slice() == resp.certificate.0.as_slice())
        });
        if !known {
            let header = hyperchain_api::verify_compute_fetch(&self.light, resp)?;
            if let Ok(mut recent) = self.recent.lock() {
                if recent.len() >= 8 {
                    recent.pop_front();
                }
                recent.push_back((digest, resp.certificate.0.clone()));
            }
            return Ok(header);
        }
        // Same header and certificate as verified before: only the entries' proofs are new.
        hyperchain_api::verify_compute_fetch_proofs(resp)
    }
}

impl std::fmt::Debug for Enclave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enclave")
            .field("node_id", &self.node_id())
            .finish_non_exhaustive()
    }
}

/// A job executed and signed.
#[derive(Clone, Debug)]
pub struct Executed {
    /// The signed receipt to send to validators.
    pub receipt: SignedComputeReceipt,
    /// The job it answers.
    pub job: Job,
    /// Time spent executing the call (fetches of the values it read included).
    pub elapsed: Duration,
    /// Storage values it read that were proven (not written by the run's earlier jobs).
    pub reads: usize,
}

impl Enclave {
    /// A new enclave for the chain `light` verifies, with a fresh identity key generated
    /// inside it.
    pub fn new(light: LightClient, engine: Engine) -> Enclave {
        let key = hyperchain_stf::genesis::AccountKey::generate(commonware_utils::sys_rng()).0;
        Enclave::with_key(light, engine, key)
    }

    /// An enclave with a given identity key (tests and simulations).
    pub fn with_key(light: LightClient, engine: Engine, key: ed25519::PrivateKey) -> Enclave {
        let public = SenderKey::from(key.public_key()).0;
        Enclave {
            identity: Identity {
                key,
                public,
                chain_id: light.chain_id(),
            },
            light: Arc::new(VerifiedHeaders {
                light,
                recent: Mutex::new(Default::default()),
            }),
            engine,
        }
    }

    /// The identity public key.
    pub fn identity_key(&self) -> [u8; 32] {
        self.identity.public
    }

    /// The node id (`SHA-256` of the identity key), its accumulator element.
    pub fn node_id(&self) -> Digest {
        node_id(&self.identity.public)
    }

    /// The chain this enclave serves.
    pub fn chain_id(&self) -> Digest {
        self.identity.chain_id
    }

    /// The node's account address (the identity key's account).
    pub fn account(&self) -> hyperchain_types::Address {
        SenderKey(self.identity.public).address()
    }

    /// The `report_data` its evidence must carry: the binding of its identity key, its
    /// `owner` (the account that registers it, pays its fees and receives its payments) and
    /// `region`, and `recent_block`.
    pub fn report_data(
        &self,
        region: &str,
        recent_block: &Digest,
        owner: &hyperchain_types::Address,
    ) -> [u8; 64] {
        hyperchain_attest::NodeBinding {
            chain_id: &self.identity.chain_id.0,
            identity_pk: &self.identity.public,
            owner: &owner.0,
            region,
        }
        .report_data(&recent_block.0)
    }

    /// A transaction from the node's account, signed inside the enclave.
    pub fn sign_tx(
        &self,
        nonce: u64,
        fee: hyperchain_types::Fee,
        payload: Payload,
    ) -> SignedTransaction {
        Transaction {
            chain_id: self.identity.chain_id,
            sender: SenderKey(self.identity.public),
            nonce,
            fee,
            payload,
        }
        .sign(&self.identity.key)
    }

    /// The unsigned form of [`Self::sign_tx`] (to price it before signing).
    pub fn unsigned_tx(&self, nonce: u64, payload: Payload) -> Transaction {
        Transaction {
            chain_id: self.identity.chain_id,
            sender: SenderKey(self.identity.public),
            nonce,
            fee: hyperchain_types::Fee::NONE,
            payload,
        }
    }

    /// Signs `receipt` with the identity key. Used only to model Byzantine nodes (which sign
    /// whatever they like); a correct node signs what [`Enclave::execute`] computed.
    pub fn sign_receipt(&self, receipt: hyperchain_types::ComputeReceipt) -> SignedComputeReceipt {
        receipt.sign(&self.identity.key)
    }

    /// A signed fetch request stamped `timestamp_ms` (the host's time, [`Host::now_ms`]).
    pub fn request(&self, request: &ComputeRequest, timestamp_ms: u64) -> ComputeFetchRequest {
        self.identity.request(request, timestamp_ms)
    }

    /// Fetches `request` through `host` and verifies the answer: finality certificate, then
    /// one proof per entry, each for the key expected at its position (`expected`, a prefix
    /// check when the list is open-ended).
    fn fetch_verified(
        &self,
        host: &dyn Host,
        request: &ComputeRequest,
    ) -> Result<(Header, Vec<ProvenEntry>), EnclaveError> {
        let resp = host
            .fetch(&self.request(request, host.now_ms()))
            .map_err(EnclaveError::Host)?;
        let header = self.light.verify(&resp).map_err(EnclaveError::Unverified)?;
        Ok((header, resp.entries))
    }

    /// Reads a job's record, its lane and its contract from proven state, and checks that
    /// this node is on its current committee and the job is its lane's head.
    pub fn fetch_job(
        &self,
        host: &dyn Host,
        job_id: &Digest,
    ) -> Result<(Job, LaneRecord, ContractRecord), EnclaveError> {
        let (job, lane, record) = self.fetch_records(host, job_id)?;
        if lane.head != job.lane_seq {
            return Err(EnclaveError::NotAssigned(format!(
                "job {job_id} follows the head of its lane (position {}, head {}): it runs \
                 after the head, in the same run",
                job.lane_seq, lane.head
            )));
        }
        Ok((job, lane, record))
    }

    /// Reads a job's record, its lane and its contract from proven state, and checks that
    /// the job is assigned and this node is on its current committee.
    fn fetch_records(
        &self,
        host: &dyn Host,
        job_id: &Digest,
    ) -> Result<(Job, LaneRecord, ContractRecord), EnclaveError> {
        let (_, entries) = self.fetch_verified(host, &ComputeRequest::Job(*job_id))?;
        let value = |i: usize, key: &[u8], what: &str| -> Result<Vec<u8>, EnclaveError> {
            let entry = entries
                .get(i)
                .ok_or_else(|| EnclaveError::Unverified(format!("no {what} in the answer")))?;
            if entry.tree.0 != TreeId::ROOT.0 || entry.key.0 != key {
                return Err(EnclaveError::Unverified(format!(
                    "the answer proves another key than the {what}"
                )));
            }
            entry
                .value
                .as_ref()
                .map(|v| v.0.clone())
                .ok_or_else(|| EnclaveError::Unverified(format!("the {what} is proven absent")))
        };
        let decode_err = |what: &str, e: commonware_codec::Error| {
            EnclaveError::Unverified(format!("{what} does not decode: {e}"))
        };
        let job = Job::decode(bytes::Bytes::from(value(0, &job_key(job_id), "job")?))
            .map_err(|e| decode_err("job", e))?;
        let lane = LaneRecord::decode(bytes::Bytes::from(value(
            1,
            &lane_key(&job.contract),
            "lane",
        )?))
        .map_err(|e| decode_err("lane", e))?;
        let record = ContractRecord::decode(bytes::Bytes::from(value(
            2,
            &contract_key(&job.contract),
            "contract record",
        )?))
        .map_err(|e| decode_err("contract record", e))?;
        if job.state != JobState::Assigned || job.lane_seq < lane.head {
            return Err(EnclaveError::NotAssigned(format!(
                "job {job_id} is {} at lane position {} (head {})",
                job.state_name(),
                job.lane_seq,
                lane.head
            )));
        }
        let me = self.node_id();
        let assignment = job.assignment.as_ref().ok_or_else(|| {
            EnclaveError::Unverified("an assigned job without a committee".into())
        })?;
        if !assignment.committee.iter().any(|m| m.id == me) {
            return Err(EnclaveError::NotAssigned(format!(
                "node {me} is not on job {job_id}'s committee (attempt {})",
                assignment.attempt
            )));
        }
        Ok((job, lane, record))
    }

    /// Fetches the module with `code_hash` and checks it hashes to it.
    fn fetch_code(&self, host: &dyn Host, code_hash: &Digest) -> Result<Vec<u8>, EnclaveError> {
        let (_, entries) = self.fetch_verified(host, &ComputeRequest::Code(*code_hash))?;
        let mut code = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            if entry.tree.0 != TreeId::ROOT.0 || entry.key.0 != code_key(code_hash, i as u16) {
                return Err(EnclaveError::Unverified(format!(
                    "code chunk {i} is proven under another key"
                )));
            }
            match &entry.value {
                Some(chunk) if chunk.0.len() <= CODE_CHUNK => code.extend_from_slice(&chunk.0),
                Some(_) => return Err(EnclaveError::Unverified("oversized code chunk".into())),
                None => break,
            }
            if code.len() > tx_limits::MAX_CODE {
                return Err(EnclaveError::Unverified("code larger than allowed".into()));
            }
        }
        if entries.last().is_none_or(|e| e.value.is_some()) {
            return Err(EnclaveError::Unverified(
                "the answer does not prove where the code ends".into(),
            ));
        }
        if hyperchain_types::sha256(&code) != *code_hash {
            return Err(EnclaveError::Unverified(
                "the code does not hash to the contract's code hash".into(),
            ));
        }
        Ok(code)
    }

    /// Executes job `job_id` if this node is on its committee and it is its lane's head:
    /// [`Enclave::execute_run`] of that one job.
    pub fn execute(&self, host: Arc<dyn Host>, job_id: &Digest) -> Result<Executed, EnclaveError> {
        let mut run = self.execute_run(host, std::slice::from_ref(job_id))?;
        Ok(run.remove(0))
    }

    /// Executes a run: the lane's head `jobs[0]` and the jobs following it on the same
    /// committee (`jobs[1..]`, consecutive lane positions). Fetches and verifies every job,
    /// the code and every value the calls read (proven against the head's pre-state: the run
    /// starts before the head resolves, and the head cannot resolve without this node's
    /// receipt), runs the jobs in order, each on the storage the ones before it left, and
    /// signs one receipt per job, each naming its chained pre-state.
    pub fn execute_run(
        &self,
        host: Arc<dyn Host>,
        jobs: &[Digest],
    ) -> Result<Vec<Executed>, EnclaveError> {
        let Some(head_id) = jobs.first() else {
            return Ok(Vec::new());
        };
        let (head, lane, record) = self.fetch_job(host.as_ref(), head_id)?;
        let attempt = |job: &Job| job.assignment.as_ref().map(|a| (a.run(), a.seed_round));
        let mut run = vec![head];
        for (i, id) in jobs.iter().enumerate().skip(1) {
            let (job, _, _) = self.fetch_records(host.as_ref(), id)?;
            let head = &run[0];
            if job.contract != head.contract || job.lane_seq != head.lane_seq + i as u64 {
                return Err(EnclaveError::NotAssigned(format!(
                    "job {id} is not at lane position {} of {}",
                    head.lane_seq + i as u64,
                    head.contract
                )));
            }
            if attempt(&job) != attempt(head) {
                return Err(EnclaveError::NotAssigned(format!(
                    "job {id} does not follow job {}'s committee",
                    head.id
                )));
            }
            run.push(job);
        }
        let contract = match self.engine.cached(&record.code_hash) {
            Some(contract) => contract,
            None => {
                let code = self.fetch_code(host.as_ref(), &record.code_hash)?;
                self.engine
                    .load(&code)
                    .map_err(|e| EnclaveError::Engine(e.to_string()))?
            }
        };
        let storage = Arc::new(ProvenStorage {
            identity: self.identity.clone(),
            light: self.light.clone(),
            host,
            contract: run[0].contract,
            pre_state: lane.state,
            cache: Mutex::new(HashMap::new()),
            speculative: std::sync::atomic::AtomicBool::new(true),
            guessed: Mutex::new(Default::default()),
            failure: Mutex::new(None),
        });
        // Speculative rounds: a value not yet fetched is taken as absent and its key noted;
        // the noted keys are then fetched in batches. If every guess was right the outcomes
        // stand (each read saw its proven value); otherwise the run is repeated with what was
        // learnt. After SPECULATIVE_ROUNDS the run reads one proven value at a time. A run
        // reading thousands of independent keys costs a few round trips, not thousands.
        let mut round = 0;
        let (outcomes, marks) = loop {
            let speculative = round < SPECULATIVE_ROUNDS;
            storage
                .speculative
                .store(speculative, std::sync::atomic::Ordering::SeqCst);
            // Time of each job (the last round's), by the host's clock.
            let mut marks = Vec::with_capacity(run.len());
            let mut started = storage.host.now_ms();
            let outcomes = lanes::run_jobs(
                &self.engine,
                &contract,
                &run,
                storage.clone(),
                lane.chain,
                |_| {
                    let now = storage.host.now_ms();
                    marks.push(Duration::from_millis(now.saturating_sub(started)));
                    started = now;
                },
            )
            .map_err(|e| {
                // A refused read surfaces as the engine's storage error; report what it was.
                storage
                    .failure
                    .lock()
                    .ok()
                    .and_then(|mut f| f.take())
                    .unwrap_or_else(|| EnclaveError::Engine(e.to_string()))
            })?;
            let guessed = storage.take_guesses();
            if guessed.is_empty() || storage.fetch_many(&guessed)? {
                break (outcomes, marks);
            }
            round += 1;
        };
        // Values each job read from the proven storage (not from the run's earlier writes).
        let mut written = std::collections::HashSet::new();
        let fetched: Vec<usize> = outcomes
            .iter()
            .map(|(_, outcome)| {
                let proven = outcome
                    .reads
                    .iter()
                    .filter(|k| !written.contains(*k))
                    .count();
                if outcome.status.is_ok() {
                    written.extend(outcome.writes.keys().cloned());
                }
                proven
            })
            .collect();
        Ok(run
            .into_iter()
            .zip(outcomes)
            .zip(marks.into_iter().zip(fetched))
            .map(|((job, (pre_state, outcome)), (elapsed, reads))| Executed {
                reads,
                receipt: lanes::expected_receipt(
                    self.identity.chain_id,
                    record.code_hash,
                    pre_state,
                    &job,
                    outcome,
                )
                .sign(&self.identity.key),
                job,
                elapsed,
            })
            .collect())
    }
}

/// Keys guessed absent in a speculative round: in the order first read, and as a set.
#[derive(Default)]
struct Guesses {
    order: Vec<Vec<u8>>,
    seen: std::collections::HashSet<Vec<u8>>,
}

/// Runs of a job in which the enclave guesses that values it has not fetched are absent,
/// before it falls back to fetching each value as the call reads it.
const SPECULATIVE_ROUNDS: usize = 4;

/// A contract's storage as the enclave reads it: each value fetched through the host and
/// proven against a finalized header **and** against the lane's pre-state commitment.
struct ProvenStorage {
    identity: Identity,
    light: Arc<VerifiedHeaders>,
    host: Arc<dyn Host>,
    contract: hyperchain_types::Address,
    pre_state: Digest,
    /// Proven values (`None`: proven absent).
    cache: Mutex<HashMap<Vec<u8>, Option<Vec<u8>>>>,
    /// Whether a value not in the cache is guessed absent (and its key noted) rather than
    /// fetched at once.
    speculative: std::sync::atomic::AtomicBool,
    /// Keys guessed absent in this round.
    guessed: Mutex<Guesses>,
    /// Why the first refused read was refused (the engine only sees a storage error).
    failure: Mutex<Option<EnclaveError>>,
}

impl ProvenStorage {
    /// The keys guessed absent since the last call.
    fn take_guesses(&self) -> Vec<Vec<u8>> {
        self.guessed
            .lock()
            .map(|mut g| std::mem::take(&mut *g).order)
            .unwrap_or_default()
    }

    /// Fetches and proves `keys` in batches of up to `MAX_REQUEST_KEYS`, caching
    /// each value; whether every one of them is absent.
    fn fetch_many(&self, keys: &[Vec<u8>]) -> Result<bool, EnclaveError> {
        let mut all_absent = true;
        for batch in keys.chunks(hyperchain_types::registry::MAX_REQUEST_KEYS) {
            let values = self.fetch_batch(batch)?;
            let mut cache = self
                .cache
                .lock()
                .map_err(|_| EnclaveError::Engine("storage cache poisoned".into()))?;
            for (key, value) in batch.iter().zip(values) {
                all_absent &= value.is_none();
                cache.insert(key.clone(), value);
            }
        }
        Ok(all_absent)
    }

    fn fetch(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EnclaveError> {
        let mut values = self.fetch_batch(std::slice::from_ref(&key.to_vec()))?;
        Ok(values.pop().flatten())
    }

    /// One request for `keys`: each value proven against a finalized header and against the
    /// lane's pre-state, in the order asked.
    fn fetch_batch(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, EnclaveError> {
        let unverified = |e: String| EnclaveError::Unverified(e);
        let request = ComputeRequest::State {
            contract: self.contract,
            keys: keys.to_vec(),
        };
        let resp = self
            .host
            .fetch(&self.identity.request(&request, self.host.now_ms()))
            .map_err(EnclaveError::Host)?;
        self.light.verify(&resp).map_err(unverified)?;
        if resp.entries.len() != keys.len() {
            return Err(unverified(format!(
                "expected exactly {} proven value(s), got {}",
                keys.len(),
                resp.entries.len()
            )));
        }
        resp.entries
            .iter()
            .zip(keys)
            .map(|(entry, key)| self.check_entry(entry, key))
            .collect()
    }

    fn check_entry(
        &self,
        entry: &ProvenEntry,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, EnclaveError> {
        let unverified = |e: String| EnclaveError::Unverified(e);
        if entry.tree.0 != self.contract.0 || entry.key.0 != key {
            return Err(unverified("the answer proves another key".into()));
        }
        let value = entry.value.as_ref().map(|v| v.0.clone());
        // The header proves the value is in the contract's storage at that height; the
        // sub-tree proof pins it to the lane's pre-state.
        let proof = StateProof::decode(&entry.proof.0).map_err(|e| unverified(e.to_string()))?;
        let subtree_root = match &proof.subtree {
            None => EMPTY,
            Some(p) => p
                .implied_root(&key_path(key), value.as_deref().map(value_hash).as_ref())
                .map_err(|e| unverified(e.to_string()))?,
        };
        if Digest(subtree_root) != self.pre_state {
            return Err(unverified(format!(
                "the value is proven against storage commitment {}, not the job's pre-state {}",
                Digest(subtree_root),
                self.pre_state
            )));
        }
        Ok(value)
    }
}

impl StorageReader for ProvenStorage {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(key).cloned()) {
            return Ok(hit);
        }
        if self.speculative.load(std::sync::atomic::Ordering::SeqCst) {
            if let Ok(mut guessed) = self.guessed.lock()
                && guessed.seen.insert(key.to_vec())
            {
                guessed.order.push(key.to_vec());
            }
            return Ok(None);
        }
        let value = match self.fetch(key) {
            Ok(value) => value,
            Err(e) => {
                let message = e.to_string();
                if let Ok(mut failure) = self.failure.lock() {
                    failure.get_or_insert(e);
                }
                return Err(StorageError(message));
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key.to_vec(), value.clone());
        }
        Ok(value)
    }
}
