//! hyperchain at internet scale, simulated.
//!
//! A run puts `validators` validators and `pairs` compute pairs (one Intel and one AMD node
//! each) across up to ten cloud regions, on commonware's deterministic runtime and simulated
//! network: every message — proposals, votes, receipt batches, job notices, state fetches,
//! receipts — crosses a simulated link whose latency comes from measured inter-region round
//! trips ([`regions`]), and validators' bulk messages queue on a limited uplink. Time is simulated: a
//! run of 100 validators and 200 pairs covers 20 simulated seconds in well under a minute, and
//! the same seed gives the same run.
//!
//! What is modelled rather than executed, and why, is listed in [`model`]; the throughput a run
//! measures is finalized committee jobs per simulated second, next to the ideal (every pair
//! executing back to back) and the bound validator CPU would set.

pub mod model;
pub mod regions;

use serde::{Deserialize, Serialize};

/// Validator CPU costs, in microseconds unless named otherwise. The defaults are the
/// `committee` criterion benchmark's figures (see `docs/PERFORMANCE.md`) except where a field
/// says otherwise.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Costs {
    /// One ed25519 signature checked inside a batch. A receipt transaction carries two (the
    /// transaction's and the receipt's), a call one. Paid when a validator admits a batch, and
    /// spread over [`ScaleConfig::verify_threads`].
    pub signature_us: f64,
    /// Resolving one job once its receipts are in a block: the receipt checks against the job
    /// record, applying the write set and the job's share of the state root. Sequential.
    pub resolve_job_us: f64,
    /// Ordering one job (the call's lane and job records and their share of the root).
    /// Sequential. Estimated (the benchmark measures resolving jobs, not ordering them).
    pub order_job_us: f64,
    /// Fixed work per view, in milliseconds: threshold recovery of the notarization (with
    /// its seed) and the finalization from 67 of 100 votes (6.6 and 6.3 ms measured by
    /// `cargo bench -p hyperchain-chain --bench light -- consensus`), the batched checks of
    /// those votes and the block's storage commit (estimated at 7 ms together).
    pub view_ms: f64,
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            signature_us: 10.0,
            resolve_job_us: 62.0,
            order_job_us: 20.0,
            view_ms: 20.0,
        }
    }
}

/// Encoded sizes in bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sizes {
    /// A `Receipt` transaction of the heavy workload (two signatures, read and write sets).
    pub receipt_tx: usize,
    /// A call transaction.
    pub call_tx: usize,
    /// A vote.
    pub vote: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            receipt_tx: 620,
            call_tx: 180,
            vote: 240,
        }
    }
}

/// How block contents reach validators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dissemination {
    /// The leader sends the whole block, bodies included, to every validator, so its uplink
    /// carries `validators - 1` copies of every transaction (the implementation before the
    /// block relay). Blocks obey the implementation's limits (10,000 transactions, 8 MiB).
    FullBlocks,
    /// Validators already hold the transactions (each reaches every validator once, in
    /// batches); blocks name batches by digest.
    Digests,
    /// As implemented (`hyperchain_chain::relay`): transactions reach every validator once,
    /// in batches, as with digests, and a block names each of its transactions by an 8-byte
    /// short id (9 bytes on the wire). Blocks obey the implementation's limits.
    Compact,
    /// Erasure-coded blocks, as commonware's `marshal::coding` sends them: the leader
    /// Reed–Solomon-codes the block into one shard per validator (any `f + 1` rebuild it),
    /// sends each validator its shard, and every validator relays its own shard to all
    /// others. The leader's uplink carries about `n / (f + 1)` ≈ 3 blocks instead of `n − 1`;
    /// every validator carries as much again per block, and a block is complete after two
    /// hops. Blocks obey the same limits as full blocks.
    Coded,
}

impl Dissemination {
    /// Whether blocks carry the transactions themselves (checked when the block arrives).
    pub fn carries_bodies(self) -> bool {
        matches!(self, Dissemination::FullBlocks | Dissemination::Coded)
    }

    /// Whether blocks obey the implementation's limits on transactions and bytes.
    pub fn obeys_block_limits(self) -> bool {
        !matches!(self, Dissemination::Digests)
    }
}

/// One simulated network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScaleConfig {
    /// Seed of the deterministic runtime (link jitter, committee draws).
    pub seed: u64,
    pub validators: usize,
    /// Regions used, the first `regions` of [`regions::REGIONS`] (1..=10).
    pub regions: usize,
    /// Compute pairs (one Intel and one AMD node), spread round-robin over the regions.
    pub pairs: usize,
    /// Jobs each node executes at once.
    pub slots: usize,
    /// Execution time of one job in an enclave, in milliseconds (fuel / measured fuel rate).
    pub exec_ms: f64,
    /// Lanes (contracts) per pair: each lane has one job in flight and orders the next as soon
    /// as it resolves, so this sets how many jobs are in flight.
    pub lanes_per_pair: usize,
    /// Threads a validator checks signatures on.
    pub verify_threads: usize,
    /// Validator uplink in bytes per second; `None` for unlimited.
    pub egress_bytes_per_sec: Option<u64>,
    /// How often a validator forwards the transactions it received, in milliseconds.
    pub batch_interval_ms: u64,
    pub dissemination: Dissemination,
    /// `false`: a block carries its own state root, so the leader executes it before sending
    /// it; when validators execute it depends on [`Self::certify`]. `true`: a block carries
    /// its parent's root; the leader sends at once and a validator votes once it has executed
    /// the parent, executing the new block meanwhile.
    pub deferred_execution: bool,
    /// With `deferred_execution` false: `true` (as implemented, marshal's `Deferred`
    /// wrapper) — a validator votes to notarize as soon as the block is available and its
    /// context checks, executes it meanwhile, and votes to finalize once executed; the next
    /// leader still executes the parent and its own block before sending. `false` — every
    /// validator executes the block before its notarize vote (the implementation before the
    /// wrapper): execution sits on the critical path twice per view.
    #[serde(default)]
    pub certify: bool,
    /// Simulated seconds before measuring, and measured.
    pub warmup_secs: f64,
    pub measure_secs: f64,
    pub costs: Costs,
    pub sizes: Sizes,
}

impl Default for ScaleConfig {
    fn default() -> Self {
        ScaleConfig {
            seed: 0,
            validators: 100,
            regions: 10,
            pairs: 10,
            slots: 1,
            exec_ms: 10.0,
            lanes_per_pair: 0,
            verify_threads: 1,
            egress_bytes_per_sec: Some(125_000_000),
            batch_interval_ms: 100,
            dissemination: Dissemination::Digests,
            deferred_execution: false,
            certify: true,
            warmup_secs: 5.0,
            measure_secs: 15.0,
            costs: Costs::default(),
            sizes: Sizes::default(),
        }
    }
}

impl ScaleConfig {
    /// Lanes per pair when `lanes_per_pair` is 0: enough jobs in flight to keep every slot
    /// busy through a job's trip through consensus (three seconds of work: about twice the trip at 100 validators over ten regions).
    pub fn effective_lanes_per_pair(&self) -> usize {
        if self.lanes_per_pair > 0 {
            return self.lanes_per_pair;
        }
        let per_sec = 1000.0 / self.exec_ms * self.slots as f64;
        ((per_sec * 3.0).ceil() as usize).max(4)
    }

    /// Jobs per second if every pair executed back to back.
    pub fn ideal_jobs_per_sec(&self) -> f64 {
        self.pairs as f64 * self.slots as f64 * 1000.0 / self.exec_ms
    }

    /// Jobs per second validator CPU allows, ignoring the fixed per-view work: the lower of
    /// what the executor sustains — the sequential part of a job, twice per view when
    /// execution precedes the vote (leader, then voters) — and what the signature threads
    /// sustain (five signatures per job: the call's, and two per receipt transaction).
    pub fn cpu_bound_jobs_per_sec(&self) -> f64 {
        let c = &self.costs;
        let on_path = if self.deferred_execution || self.certify {
            1.0
        } else {
            2.0
        };
        let executor = 1e6 / (on_path * (c.resolve_job_us + c.order_job_us));
        let signatures = 1e6 * self.verify_threads.max(1) as f64 / (5.0 * c.signature_us);
        executor.min(signatures)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.validators < 4 {
            return Err("at least 4 validators".into());
        }
        if !(1..=regions::REGIONS.len()).contains(&self.regions) {
            return Err(format!("regions must be 1..={}", regions::REGIONS.len()));
        }
        if self.pairs == 0 || self.slots == 0 || self.verify_threads == 0 {
            return Err("pairs, slots and verify threads must be at least 1".into());
        }
        if self.pairs < self.regions {
            return Err(format!(
                "{} pairs cannot cover {} regions: every region needs a pair",
                self.pairs, self.regions
            ));
        }
        if self.validators < self.regions {
            return Err("every region needs a validator".into());
        }
        if self.exec_ms.is_nan() || self.exec_ms <= 0.0 {
            return Err("execution time must be positive".into());
        }
        if self.measure_secs <= 0.0 || self.warmup_secs < 0.0 {
            return Err("measure for a positive time".into());
        }
        if self.batch_interval_ms == 0 {
            return Err("batch interval must be positive".into());
        }
        Ok(())
    }
}

/// What one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScaleResult {
    pub pairs: usize,
    pub validators: usize,
    pub regions: usize,
    pub exec_ms: f64,
    pub dissemination: Dissemination,
    pub deferred_execution: bool,
    #[serde(default)]
    pub certify: bool,
    pub verify_threads: usize,
    /// Jobs resolved by finalized blocks per simulated second, over the measured window.
    pub jobs_per_sec: f64,
    pub ideal_jobs_per_sec: f64,
    /// `jobs_per_sec / ideal_jobs_per_sec`.
    pub efficiency: f64,
    pub cpu_bound_jobs_per_sec: f64,
    /// From ordering a job (its lane freed) to the block that resolves it.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub views_per_sec: f64,
    /// Share of the window the busiest validator's executor (sequential block execution) was
    /// busy, and its signature threads.
    pub validator_exec_busy: f64,
    pub validator_verify_busy: f64,
    /// Share of the window leaders' uplinks spent sending proposals (one leader at a time,
    /// so near 1 means block dissemination binds).
    pub leader_uplink_busy: f64,
    /// Share of the window compute slots were executing.
    pub compute_busy: f64,
    /// Bytes per second the busiest validator sent.
    pub validator_egress_bytes_per_sec: f64,
    /// Messages the simulated network delivered.
    pub messages: u64,
}

/// Runs one simulation.
pub fn run(config: &ScaleConfig) -> Result<ScaleResult, String> {
    config.validate()?;
    Ok(model::run(config))
}
