//! Committee execution in block execution: TEE contracts' lanes and jobs, committees drawn
//! from revealed seeds, receipts, agreement, arbitration of disputes, deadlines, liveness, and
//! the mode-equivalence oracle (the same calls leave the same contract state in every mode).
//!
//! Compute nodes are simulated here by [`Member`]: it executes a job with the shared engine on
//! the committed state, like the compute daemon does on fetched and proven state, and signs a
//! receipt with its identity key. A Byzantine member changes its result before signing.

use crate::common::*;
use commonware_codec::DecodeExt as _;
use commonware_cryptography::{Signer as _, ed25519};
use hyperchain_attest::AttestationPolicy;
use hyperchain_attest::sim::SimFlavour;
use hyperchain_chain::committee::{Candidate, CommitteeSpec, select_committee};
use hyperchain_chain::execute::ContractSnapshot;
use hyperchain_chain::execute::{CODE_CHUNK, Executor, contract_key, read_code};
use hyperchain_chain::fees::{Account, FeeSchedule, SUPPLY_KEY, UNIT, account_key, decode_supply};
use hyperchain_chain::genesis::Genesis;
use hyperchain_chain::lanes::{self, DUE_BUCKET_MS, evidence_key, job_key, lane_key};
use hyperchain_chain::registry::{ACCUMULATOR, ComputeParams, RegistryConfig, StateView};
use hyperchain_chain::testkit::{MemoryChain, TEST_IMAGE};
use hyperchain_contracts::{COUNTER, TOKEN};
use hyperchain_sdk::{decode_all, encode};
use hyperchain_state::{Store, TreeId, WriteBatch};
use hyperchain_types::{
    Address, CallStatus, ContractRecord, Digest, ExecutionMode, Fee, GovernanceAction, Job,
    JobState, LaneRecord, Payload, ReceiptStatus, Resolution, Sched, SignedCommitment,
    SignedComputeReceipt, SignedTransaction, node_id,
};
use std::sync::Arc;

/// Four blocks (blocks are 1 s apart here).
const DEADLINE_MS: u64 = 4_000;
/// A run's deadline grows by 1 ms per million fuel of its jobs' limits.
const DEADLINE_FUEL_PER_MS: u64 = 1_000_000;
const SUSPEND_AFTER: u32 = 2;
/// A minute.
const SUSPENSION_MS: u64 = 60_000;
/// Ten blocks.
const MAX_STALL_MS: u64 = 10_000;
/// A stalled job is tried again this long after its last try.
const STALL_RETRY_MS: u64 = 1_000;

/// Reads a committed store as the test's view of state.
struct StoreView<'a>(&'a Store);

impl StateView for StoreView<'_> {
    fn read(
        &self,
        tree: &TreeId,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, hyperchain_chain::execute::ExecError> {
        Ok(self.0.get(tree, key)?)
    }
}

/// A simulated compute node (its region is in its registration).
struct Member {
    key: ed25519::PrivateKey,
}

impl Member {
    fn identity(&self) -> [u8; 32] {
        hyperchain_types::SenderKey::from(self.key.public_key()).0
    }

    fn id(&self) -> Digest {
        node_id(&self.identity())
    }
}

/// How a member answers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    Honest,
    /// Signs a different output (a wrong result).
    WrongOutput,
}

/// The in-memory chain and the simulated nodes registered on it.
struct Chain {
    chain: MemoryChain,
    members: Vec<Member>,
}

impl std::ops::Deref for Chain {
    type Target = MemoryChain;
    fn deref(&self) -> &MemoryChain {
        &self.chain
    }
}

impl std::ops::DerefMut for Chain {
    fn deref_mut(&mut self) -> &mut MemoryChain {
        &mut self.chain
    }
}

const GOVERNANCE: u64 = 100;
const CARRIER: u64 = 200;
/// A priced chain's schedule: the defaults, with bonds unlocking 5 s after membership ends.
const PRICED: FeeSchedule = FeeSchedule {
    unbonding_ms: 5_000,
    ..FeeSchedule::DEFAULT
};

/// The fee limit of every transaction on a priced chain: 100 HYP.
const PRICED_LIMIT: u64 = 100 * UNIT as u64;

/// The accounts a priced chain funds: callers, governance, the carrier, the fleet.
fn funded_seeds() -> impl Iterator<Item = u64> {
    (1..10)
        .chain([GOVERNANCE, CARRIER])
        .chain(1_001..1_100)
        .chain(2_001..2_010)
        .chain(3_001..3_100)
}

impl Chain {
    /// A chain whose committees take one job at a time (no pipelining).
    fn new() -> Chain {
        Chain::with_depth(1)
    }

    /// A chain whose committees take up to `pipeline_depth` jobs of a lane at once.
    fn with_depth(pipeline_depth: u32) -> Chain {
        Chain::with_params(pipeline_depth, 1)
    }

    /// ... and whose runs are dropped after `grace` blocks past their deadline.
    fn with_params(pipeline_depth: u32, grace: u32) -> Chain {
        Chain::with_fees(pipeline_depth, grace, FeeSchedule::FREE)
    }

    /// A chain with the default fee schedule, whose accounts (every seed these tests use)
    /// hold a million HYP each, and whose transactions offer `PRICED_LIMIT`.
    fn priced() -> Chain {
        Chain::with_fees(1, 1, PRICED)
    }

    fn balance(&self, seed: u64) -> u128 {
        self.account_of(&address(&key(seed)))
    }

    fn account_of(&self, address: &Address) -> u128 {
        let raw = self
            .store
            .get(&TreeId::ROOT, &account_key(address))
            .unwrap();
        Account::decode(raw.as_deref()).unwrap().balance
    }

    fn supply(&self) -> u128 {
        decode_supply(
            self.store
                .get(&TreeId::ROOT, SUPPLY_KEY)
                .unwrap()
                .as_deref(),
        )
        .unwrap()
    }

    /// What every funded account and every node's bond holds: with no proposer (every fee
    /// burned), the supply.
    fn held(&self) -> u128 {
        let bonds: u128 = self
            .members
            .iter()
            .filter_map(|m| {
                hyperchain_chain::registry::node(&StoreView(&self.store), &m.id()).unwrap()
            })
            .map(|record| record.bond)
            .sum();
        funded_seeds().map(|seed| self.balance(seed)).sum::<u128>() + bonds
    }

    fn with_fees(pipeline_depth: u32, grace: u32, fees: FeeSchedule) -> Chain {
        let executor = Executor::new(engine(), chain_id()).with_registry(RegistryConfig {
            fees,
            validators: vec![
                hyperchain_types::SenderKey::from(key(GOVERNANCE).public_key()).address(),
            ],
            genesis_policy: AttestationPolicy {
                allow_simulated: true,
                ..AttestationPolicy::default()
            },
            execution_modes: vec![
                ExecutionMode::Replicated,
                ExecutionMode::Single,
                ExecutionMode::Committee(4),
                ExecutionMode::CrossVendor,
            ],
            compute: ComputeParams {
                job_deadline_ms: DEADLINE_MS,
                suspend_after_failures: SUSPEND_AFTER,
                suspension_ms: SUSPENSION_MS,
                max_stall_ms: MAX_STALL_MS,
                deadline_fuel_per_ms: DEADLINE_FUEL_PER_MS,
                pipeline_depth,
                // Most tests here look at one deadline at a time; the grace has its own.
                deadline_grace_blocks: grace,
                stall_retry_ms: STALL_RETRY_MS,
            },
            ..RegistryConfig::default()
        });
        let store = Store::in_memory().unwrap();
        if !fees.is_free() {
            let genesis = Genesis {
                chain_id: chain_id(),
                timestamp_ms: 0,
                allocations: funded_seeds()
                    .map(|seed| (address(&key(seed)), 1_000_000 * UNIT))
                    .collect(),
                validators: Default::default(),
                reshare: None,
            };
            store.commit(&genesis.writes(), 0).unwrap();
        }
        let mut chain = Chain {
            chain: MemoryChain::on(store, chain_id(), executor),
            members: Vec::new(),
        };
        if !fees.is_free() {
            chain.chain.fee = Fee::limit(PRICED_LIMIT);
        }
        let release = chain.tx(
            GOVERNANCE,
            Payload::Propose(GovernanceAction::AddRelease {
                version: "v1".into(),
                image: TEST_IMAGE.to_vec(),
                measurements: vec![],
            }),
        );
        chain.block(vec![release]);
        chain
    }

    /// A block that reveals a new seed (blocks are a second apart; views advance by 2,
    /// leaving room for the seeds' views).
    fn block(&mut self, txs: Vec<SignedTransaction>) -> Vec<ReceiptStatus> {
        self.run(txs, true)
    }

    /// Registers a simulated node.
    fn add_member(&mut self, seed: u64, flavour: SimFlavour, region: &str) -> usize {
        self.register(seed, flavour, region);
        self.members.push(Member { key: key(seed) });
        self.members.len() - 1
    }

    /// One Intel and one AMD node in each of `regions`, plus `extra` more of each.
    fn fleet(&mut self, regions: &[&str], extra: usize) {
        let mut seed = 1_000;
        for region in regions {
            for _ in 0..=extra {
                for flavour in [SimFlavour::Intel, SimFlavour::Amd] {
                    seed += 1;
                    self.add_member(seed, flavour, region);
                }
            }
        }
    }

    fn deploy(
        &mut self,
        owner: u64,
        code: &[u8],
        mode: ExecutionMode,
        regions: &[&str],
    ) -> Address {
        let nonce = self.nonce(owner);
        let tx = self.tx(
            owner,
            Payload::Deploy {
                code: code.to_vec(),
                mode,
                regions: regions.iter().map(|r| r.to_string()).collect(),
            },
        );
        match &self.block(vec![tx])[0] {
            ReceiptStatus::Deployed { address, .. } => {
                assert_eq!(*address, counter_address(&key(owner), nonce));
                *address
            }
            other => panic!("deploy failed: {other:?}"),
        }
    }

    fn call_tx(
        &mut self,
        sender: u64,
        contract: Address,
        method: &str,
        input: Vec<u8>,
    ) -> SignedTransaction {
        self.tx(
            sender,
            Payload::Call {
                contract,
                method: method.into(),
                input,
                fuel_limit: FUEL,
            },
        )
    }

    fn job(&self, id: &Digest) -> Job {
        lanes::job(&StoreView(&self.store), id).unwrap().unwrap()
    }

    fn lane(&self, contract: &Address) -> LaneRecord {
        lanes::lane(&StoreView(&self.store), contract)
            .unwrap()
            .unwrap()
    }

    fn record(&self, contract: &Address) -> ContractRecord {
        let raw = self
            .store
            .get(&TreeId::ROOT, &contract_key(contract))
            .unwrap()
            .unwrap();
        ContractRecord::decode(bytes::Bytes::from(raw)).unwrap()
    }

    fn member(&self, id: &Digest) -> &Member {
        self.members
            .iter()
            .find(|m| m.id() == *id)
            .expect("a known member")
    }

    /// What member `id` signs for `job` on the committed state.
    fn receipt(&self, id: &Digest, job: &Digest, behaviour: Behaviour) -> SignedComputeReceipt {
        let job = self.job(job);
        let lane = self.lane(&job.contract);
        let record = self.record(&job.contract);
        let code = read_code(|k| self.store.get(&TreeId::ROOT, k), &record.code_hash).unwrap();
        assert!(code.len() <= 4 * CODE_CHUNK);
        let contract = engine().load(&code).unwrap();
        let tree = TreeId(job.contract.0);
        let reader = ContractSnapshot {
            snapshot: self.store.snapshot().unwrap(),
            tree,
        };
        let mut outcome = lanes::run_job(&engine(), &contract, &job, Arc::new(reader)).unwrap();
        if behaviour == Behaviour::WrongOutput {
            outcome.output = b"forty-two".to_vec();
            outcome
                .writes
                .insert(b"count".to_vec(), Some(encode(&42u64)));
        }
        lanes::expected_receipt(chain_id(), record.code_hash, lane.chain, &job, outcome)
            .sign(&self.member(id).key)
    }

    /// What member `id` signs for the run headed by `head` (the head and the jobs following
    /// it, executed in order on its own results). A liar changes the result of the job at
    /// `lie_at` and goes on from its lie (its later pre-states chain the wrong outcome).
    fn run_receipts(
        &self,
        id: &Digest,
        head: &Digest,
        lie_at: Option<usize>,
    ) -> Vec<SignedComputeReceipt> {
        let head = self.job(head);
        let lane = self.lane(&head.contract);
        assert_eq!(head.lane_seq, lane.head, "a run starts at the head");
        let drawn = head.assignment.as_ref().unwrap().run();
        let run: Vec<Job> = lanes::assigned_run(&StoreView(&self.store), &head.contract, &lane)
            .unwrap()
            .into_iter()
            .take_while(|j| j.assignment.as_ref().is_some_and(|a| a.run() == drawn))
            .collect();
        let record = self.record(&head.contract);
        let code = read_code(|k| self.store.get(&TreeId::ROOT, k), &record.code_hash).unwrap();
        let contract = engine().load(&code).unwrap();
        let reader = ContractSnapshot {
            snapshot: self.store.snapshot().unwrap(),
            tree: TreeId(head.contract.0),
        };
        let outcomes = lanes::run_jobs(
            &engine(),
            &contract,
            &run,
            Arc::new(reader),
            lane.chain,
            |_| {},
        )
        .unwrap();
        let mut chain = lane.chain;
        run.iter()
            .zip(outcomes)
            .enumerate()
            .map(|(i, (job, (pre_state, mut outcome)))| {
                if lie_at == Some(i) {
                    outcome.output = b"forty-two".to_vec();
                }
                let pre = if lie_at.is_some_and(|at| i > at) {
                    chain
                } else {
                    pre_state
                };
                chain = hyperchain_types::chain_next(&pre, &outcome);
                lanes::expected_receipt(chain_id(), record.code_hash, pre, job, outcome)
                    .sign(&self.member(id).key)
            })
            .collect()
    }

    /// A cross-vendor counter in `eu` (with `extra` more nodes of each vendor), `increments`
    /// ordered in one block, and the next block's seed assigning the first job's run.
    fn pipelined_counter(&mut self, extra: usize, increments: u64) -> (Address, Vec<Digest>) {
        self.fleet(&["eu"], extra);
        let counter = self.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
        let calls: Vec<SignedTransaction> = (1..=increments)
            .map(|i| self.call_tx(1, counter, "increment", encode(&i)))
            .collect();
        let jobs = self.run(calls, false).iter().map(queued).collect();
        self.block(vec![]);
        (counter, jobs)
    }

    /// A fleet in `eu` and `us` (two nodes of each vendor per region) and a token deployed in
    /// `mode` (cross-vendor in both regions).
    fn token(&mut self, mode: ExecutionMode) -> Address {
        self.fleet(&["eu", "us"], 1);
        let regions: &[&str] = if mode == ExecutionMode::CrossVendor {
            &["eu", "us"]
        } else {
            &[]
        };
        self.deploy(1, TOKEN, mode, regions)
    }

    /// Every member of `head`'s committee answers its whole run honestly.
    fn serve_run(&mut self, head: &Digest) -> Vec<ReceiptStatus> {
        let receipts = self
            .committee(head)
            .iter()
            .flat_map(|id| self.run_receipts(id, head, None))
            .collect();
        self.submit(receipts)
    }

    fn submit(&mut self, receipts: Vec<SignedComputeReceipt>) -> Vec<ReceiptStatus> {
        let txs = receipts
            .into_iter()
            .map(|r| self.tx(CARRIER, Payload::Receipt(Box::new(r))))
            .collect();
        self.block(txs)
    }

    /// Every member of `job`'s committee answers honestly.
    fn serve(&mut self, job: &Digest) {
        let committee = self.committee(job);
        let receipts = committee
            .iter()
            .map(|id| self.receipt(id, job, Behaviour::Honest))
            .collect();
        let statuses = self.submit(receipts);
        assert!(
            statuses.iter().all(|s| *s == ReceiptStatus::Accepted),
            "{statuses:?}"
        );
    }

    fn committee(&self, job: &Digest) -> Vec<Digest> {
        self.job(job)
            .assignment
            .expect("assigned")
            .committee
            .iter()
            .map(|m| m.id)
            .collect()
    }

    fn in_accumulator(&self, id: &Digest) -> bool {
        self.store.get(&ACCUMULATOR, &id.0).unwrap().is_some()
    }

    fn storage_root(&self, contract: &Address) -> Digest {
        Digest(
            self.store
                .snapshot()
                .unwrap()
                .tree_root(&TreeId(contract.0))
                .unwrap(),
        )
    }
}

fn queued(status: &ReceiptStatus) -> Digest {
    match status {
        ReceiptStatus::Queued { job, .. } => *job,
        other => panic!("expected a queued job, got {other:?}"),
    }
}

fn rejected(status: &ReceiptStatus) -> &str {
    match status {
        ReceiptStatus::Rejected(reason) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn done(job: &Job) -> &hyperchain_types::JobResult {
    match &job.state {
        JobState::Done(result) => result,
        other => panic!("job not done: {other:?}"),
    }
}

#[test]
fn a_cross_vendor_job_runs_on_one_intel_and_one_amd_node_per_region() {
    let mut chain = Chain::new();
    chain.fleet(&["eu", "us"], 2);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu", "us"]);
    let lane = chain.lane(&counter);
    assert_eq!((lane.next_seq, lane.head), (0, 0));
    assert_eq!(lane.state, chain.storage_root(&counter));

    // The call is ordered, not executed: validators spend no fuel on it.
    let call = chain.call_tx(1, counter, "increment", encode(&5u64));
    let job_id = queued(&chain.run(vec![call.clone()], false)[0]);
    assert_eq!(job_id, call.id());
    let job = chain.job(&job_id);
    assert_eq!(job.state, JobState::Waiting);
    assert_eq!((job.lane_seq, job.caller), (0, address(&key(1))));

    // A block without a new seed cannot assign it; the next seed (of a later view) does.
    chain.run(vec![], false);
    assert_eq!(chain.job(&job_id).state, JobState::Waiting);
    chain.block(vec![]);
    let job = chain.job(&job_id);
    assert_eq!(job.state, JobState::Assigned);
    let assignment = job.assignment.clone().unwrap();
    assert_eq!(assignment.attempt, 0);
    assert!(
        assignment.seed_round > job.round,
        "a seed nobody knew when the job was ordered"
    );
    let shape: Vec<(&str, u8)> = assignment
        .committee
        .iter()
        .map(|m| (m.region.as_str(), m.vendor))
        .collect();
    assert_eq!(
        shape,
        vec![
            ("eu", hyperchain_types::VENDOR_INTEL),
            ("eu", hyperchain_types::VENDOR_AMD),
            ("us", hyperchain_types::VENDOR_INTEL),
            ("us", hyperchain_types::VENDOR_AMD)
        ]
    );
    // Anyone recomputes the committee from the recorded seed and the node list.
    let pool: Vec<Candidate> = lanes::candidates(&StoreView(&chain.store), chain.time_ms).unwrap();
    let recomputed = select_committee(
        &assignment.seed.0,
        &job_id,
        0,
        &pool,
        &[],
        &CommitteeSpec::CrossVendor(vec!["eu".into(), "us".into()]),
    )
    .unwrap();
    assert_eq!(
        recomputed.iter().map(|m| m.id).collect::<Vec<_>>(),
        chain.committee(&job_id)
    );

    // Members answer over two blocks (inside the deadline): nothing applies until all four
    // agree.
    let committee = chain.committee(&job_id);
    for (i, pair) in committee.chunks(2).enumerate() {
        let receipts = pair
            .iter()
            .map(|id| chain.receipt(id, &job_id, Behaviour::Honest))
            .collect();
        assert_eq!(chain.submit(receipts), vec![ReceiptStatus::Accepted; 2]);
        if i == 0 {
            let job = chain.job(&job_id);
            assert_eq!(job.state, JobState::Assigned);
            assert_eq!(job.assignment.unwrap().votes.len(), 2);
        }
    }
    let job = chain.job(&job_id);
    let result = done(&job);
    assert_eq!(result.resolution, Resolution::Agreed);
    assert_eq!(result.status, CallStatus::Ok);
    assert_eq!(decode_all::<u64>(&result.output).unwrap(), 5);
    assert_eq!(result.post_state, chain.storage_root(&counter));
    assert!(
        job.assignment.unwrap().votes.is_empty(),
        "votes are not kept"
    );
    assert_eq!(
        lanes::pending_outcome(&StoreView(&chain.store), &job_id).unwrap(),
        None,
        "nor the outcome they voted for"
    );
    let lane = chain.lane(&counter);
    assert_eq!((lane.next_seq, lane.head), (1, 1));
    assert_eq!(lane.state, chain.storage_root(&counter));
    assert!(
        lanes::active_lanes(&chain.store.snapshot().unwrap())
            .unwrap()
            .is_empty()
    );
    // A late receipt for a resolved job changes nothing.
    let late = chain.receipt(&committee[0], &job_id, Behaviour::Honest);
    let reason = chain.submit(vec![late])[0].clone();
    assert!(
        rejected(&reason).contains("is done, not awaiting receipts"),
        "{reason:?}"
    );
}

#[test]
fn jobs_of_a_lane_run_in_order_and_lanes_are_independent() {
    let mut chain = Chain::new();
    chain.fleet(&["eu"], 3);
    let a = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    let b = chain.deploy(2, COUNTER, ExecutionMode::Committee(3), &[]);
    let calls = vec![
        chain.call_tx(1, a, "increment", encode(&1u64)),
        chain.call_tx(1, a, "increment", encode(&2u64)),
        chain.call_tx(2, b, "increment", encode(&10u64)),
    ];
    let jobs: Vec<Digest> = chain.run(calls, false).iter().map(queued).collect();
    chain.block(vec![]);
    // Both heads are assigned; the second job of lane a waits for the first.
    assert_eq!(chain.job(&jobs[0]).state, JobState::Assigned);
    assert_eq!(chain.job(&jobs[1]).state, JobState::Waiting);
    assert_eq!(chain.job(&jobs[2]).state, JobState::Assigned);
    assert_eq!(chain.committee(&jobs[2]).len(), 3);
    // Lane b finishes first; lane a's head then its next job.
    chain.serve(&jobs[2]);
    assert_eq!(
        decode_all::<u64>(&done(&chain.job(&jobs[2])).output).unwrap(),
        10
    );
    chain.serve(&jobs[0]);
    // The next job is drawn by the next block's seed, which the block that resolved the
    // head could not know.
    let next = chain.job(&jobs[1]);
    assert_eq!(next.state, JobState::Waiting);
    assert_eq!(next.drawable_after, chain.round);
    chain.block(vec![]);
    assert_eq!(chain.job(&jobs[1]).state, JobState::Assigned);
    assert!(chain.job(&jobs[1]).assignment.unwrap().seed_round > next.drawable_after);
    chain.serve(&jobs[1]);
    assert_eq!(
        decode_all::<u64>(&done(&chain.job(&jobs[1])).output).unwrap(),
        3
    );
    assert_eq!(chain.lane(&a).head, 2);
}

#[test]
fn a_pipelined_committee_takes_the_jobs_ordered_before_its_seed_and_resolves_them_in_one_block() {
    let mut chain = Chain::with_depth(4);
    chain.fleet(&["eu"], 1);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    let calls: Vec<SignedTransaction> = (1..=6u64)
        .map(|i| chain.call_tx(1, counter, "increment", encode(&i)))
        .collect();
    let mut jobs: Vec<Digest> = chain.run(calls, false).iter().map(queued).collect();
    // The block that reveals the seed also orders a seventh call: it knew the seed, so it
    // may not follow this committee.
    let late = chain.call_tx(1, counter, "increment", encode(&7u64));
    jobs.extend(chain.block(vec![late]).iter().map(queued));

    let head = chain.job(&jobs[0]).assignment.unwrap();
    for id in &jobs[1..4] {
        let job = chain.job(id);
        assert_eq!(job.state, JobState::Assigned, "jobs 1–3 follow the head");
        let follows = job.assignment.unwrap();
        assert_eq!(
            (&follows.committee, follows.seed_round, follows.attempt),
            (&head.committee, head.seed_round, head.attempt)
        );
        assert!(job.round < head.seed_round);
        assert_eq!(
            follows.deadline_ms,
            u64::MAX,
            "no deadline until it is the head"
        );
    }
    for id in &jobs[4..] {
        assert_eq!(
            chain.job(id).state,
            JobState::Waiting,
            "beyond the depth or too late"
        );
    }
    // A receipt for the head reserves the fuel of arbitrating what it may resolve: the head,
    // and the followers whose receipts are all in (none yet).
    let reserve = |chain: &Chain, job: &Digest| {
        lanes::receipt_reserve(&StoreView(&chain.store), job).unwrap()
    };
    assert_eq!(reserve(&chain, &jobs[0]), FUEL);
    assert_eq!(
        reserve(&chain, &jobs[1]),
        0,
        "a follower's receipt resolves nothing"
    );

    // Followers' receipts are kept until their job becomes the head.
    let committee = chain.committee(&jobs[0]);
    let runs: Vec<Vec<SignedComputeReceipt>> = committee
        .iter()
        .map(|id| chain.run_receipts(id, &jobs[0], None))
        .collect();
    assert_eq!(
        runs[0][1].receipt.pre_state,
        hyperchain_types::chain_next(&chain.lane(&counter).chain, &runs[0][0].receipt.outcome)
    );
    let followers: Vec<SignedComputeReceipt> = runs.iter().flat_map(|r| r[1..].to_vec()).collect();
    let statuses = chain.submit(followers);
    assert_eq!(statuses, vec![ReceiptStatus::Accepted; 6]);
    assert_eq!(chain.lane(&counter).head, 0);
    assert_eq!(chain.job(&jobs[1]).assignment.unwrap().votes.len(), 2);
    assert_eq!(
        reserve(&chain, &jobs[0]),
        4 * FUEL,
        "the whole run may now resolve"
    );

    // The head's receipts resolve the head and then each follower, in the same block.
    let statuses = chain.submit(runs.iter().map(|r| r[0].clone()).collect());
    assert_eq!(statuses, vec![ReceiptStatus::Accepted; 2]);
    let mut total = 0;
    for (i, id) in jobs[..4].iter().enumerate() {
        let result = done(&chain.job(id)).clone();
        total += i as u64 + 1;
        assert_eq!(result.resolution, Resolution::Agreed);
        assert_eq!(decode_all::<u64>(&result.output).unwrap(), total);
        assert_eq!(result.height, chain.height, "all four in one block");
    }
    let lane = chain.lane(&counter);
    assert_eq!(lane.head, 4);
    assert_eq!(lane.state, chain.storage_root(&counter));
    // The next run is drawn by the next block's seed (one the resolving block's proposer
    // could not know): the late call follows it.
    assert_eq!(chain.job(&jobs[4]).state, JobState::Waiting);
    chain.block(vec![]);
    let lane = chain.lane(&counter);
    let next = chain.job(&jobs[4]).assignment.unwrap();
    // Its deadline covers the whole run (jobs 4–6), which members execute before answering.
    assert_eq!(
        next.deadline_ms,
        chain.time_ms + DEADLINE_MS + 3 * FUEL / DEADLINE_FUEL_PER_MS
    );
    assert!(next.seed_round > head.seed_round);
    assert_eq!(chain.job(&jobs[6]).state, JobState::Assigned);
    assert_eq!(
        lane.chain, lane.state,
        "a drawn committee starts from the storage commitment"
    );
    // The next run (jobs 4–6) resolves in one block too.
    assert_eq!(chain.serve_run(&jobs[4]), vec![ReceiptStatus::Accepted; 6]);
    assert_eq!(
        decode_all::<u64>(&done(&chain.job(&jobs[6])).output).unwrap(),
        28
    );
    assert!(
        lanes::active_lanes(&chain.store.snapshot().unwrap())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_lie_on_a_follower_is_arbitrated_when_it_becomes_the_head() {
    let mut chain = Chain::with_depth(3);
    let (counter, jobs) = chain.pipelined_counter(1, 3);
    let committee = chain.committee(&jobs[0]);
    let (honest, liar) = (committee[0], committee[1]);
    // The liar is honest on the head, lies on the first follower and chains its lie into the
    // second. The followers' receipts arrive first.
    let truth = chain.run_receipts(&honest, &jobs[0], None);
    let lies = chain.run_receipts(&liar, &jobs[0], Some(1));
    assert_eq!(lies[0], chain.run_receipts(&liar, &jobs[0], None)[0]);
    let followers = [&truth[1..], &lies[1..]].concat();
    assert_eq!(chain.submit(followers), vec![ReceiptStatus::Accepted; 4]);
    // Both followers already disagree: a head receipt reserves the fuel to arbitrate them.
    assert_eq!(
        lanes::receipt_reserve(&StoreView(&chain.store), &jobs[0]).unwrap(),
        3 * FUEL
    );
    let statuses = chain.submit(vec![truth[0].clone(), lies[0].clone()]);
    assert_eq!(statuses, vec![ReceiptStatus::Accepted; 2]);

    // The head is agreed; the lie is arbitrated when its job becomes the head.
    assert_eq!(done(&chain.job(&jobs[0])).resolution, Resolution::Agreed);
    let result = done(&chain.job(&jobs[1])).clone();
    assert_eq!(
        result.resolution,
        Resolution::Arbitrated {
            revoked: vec![liar]
        }
    );
    assert_eq!(decode_all::<u64>(&result.output).unwrap(), 3);
    assert!(result.fuel_used > 0, "validators executed the job");
    let kept = chain
        .store
        .get(&TreeId::ROOT, &evidence_key(&jobs[1], &liar))
        .unwrap()
        .unwrap();
    assert_eq!(
        SignedCommitment::decode(bytes::Bytes::from(kept)).unwrap(),
        lies[1].signed_commitment()
    );
    assert!(!chain.in_accumulator(&liar) && chain.in_accumulator(&honest));
    // The job behind it leaves the liar's committee: drawn afresh by the next block's
    // seed, without the liar.
    assert_eq!(chain.job(&jobs[2]).state, JobState::Waiting);
    chain.block(vec![]);
    let next = chain.job(&jobs[2]).assignment.unwrap();
    assert!(next.votes.is_empty());
    assert!(next.committee.iter().all(|m| m.id != liar));
    chain.serve_run(&jobs[2]);
    let result = done(&chain.job(&jobs[2])).clone();
    assert_eq!(result.resolution, Resolution::Agreed);
    assert_eq!(decode_all::<u64>(&result.output).unwrap(), 6);
    assert_eq!(chain.lane(&counter).state, chain.storage_root(&counter));
}

#[test]
fn a_replaced_committee_takes_the_followers_and_their_old_receipts_are_dropped() {
    let mut chain = Chain::with_depth(3);
    let (_, jobs) = chain.pipelined_counter(2, 3);
    let committee = chain.committee(&jobs[0]);
    // One member answers the whole run; the other stays silent past the deadline.
    let answered = chain.run_receipts(&committee[0], &jobs[0], None);
    chain.submit(answered);
    assert_eq!(chain.job(&jobs[2]).assignment.unwrap().votes.len(), 1);
    let deadline = chain.job(&jobs[0]).assignment.unwrap().deadline_ms;
    while chain.time_ms < deadline {
        chain.block(vec![]);
    }
    // The next block's seed draws the run again.
    chain.block(vec![]);
    let head = chain.job(&jobs[0]).assignment.unwrap();
    assert_eq!(head.attempt, 1);
    assert!(head.excluded.contains(&committee[1]));
    for id in &jobs[1..] {
        let follows = chain.job(id).assignment.unwrap();
        assert_eq!((follows.attempt, &follows.committee), (1, &head.committee));
        assert!(
            follows.votes.is_empty(),
            "the old committee's votes are dropped"
        );
    }
    // The new committee: one member answers the whole run, the other only the head so far.
    let members = chain.committee(&jobs[0]);
    let first = chain.run_receipts(&members[0], &jobs[0], None);
    let second = chain.run_receipts(&members[1], &jobs[0], None);
    chain.submit([first, vec![second[0].clone()]].concat());
    assert!(matches!(chain.job(&jobs[0]).state, JobState::Done(_)));
    // The first follower is the head now, waiting for one receipt: its deadline has started.
    let now_head = chain.job(&jobs[1]);
    assert_eq!(now_head.state, JobState::Assigned);
    assert_eq!(
        now_head.assignment.unwrap().deadline_ms,
        chain.time_ms + DEADLINE_MS + FUEL / DEADLINE_FUEL_PER_MS
    );
    chain.submit(second[1..].to_vec());
    assert_eq!(
        decode_all::<u64>(&done(&chain.job(&jobs[2])).output).unwrap(),
        6
    );
}

/// Runs `calls` (sender, method, input) against a token contract deployed in `mode` and
/// returns its final storage commitment and every call's status and output.
fn run_token(
    mode: ExecutionMode,
    calls: &[(u64, &str, Vec<u8>)],
) -> (Digest, Vec<(CallStatus, Vec<u8>)>) {
    run_token_on(Chain::new(), mode, calls)
}

fn run_token_on(
    mut chain: Chain,
    mode: ExecutionMode,
    calls: &[(u64, &str, Vec<u8>)],
) -> (Digest, Vec<(CallStatus, Vec<u8>)>) {
    let token = chain.token(mode);
    let mut results = Vec::new();
    for (sender, method, input) in calls {
        let tx = chain.call_tx(*sender, token, method, input.clone());
        match chain.block(vec![tx]).remove(0) {
            ReceiptStatus::Called { status, output, .. } => results.push((status, output)),
            ReceiptStatus::Queued { job, .. } => {
                chain.block(vec![]);
                chain.serve(&job);
                let result = done(&chain.job(&job)).clone();
                assert_eq!(result.resolution, Resolution::Agreed);
                results.push((result.status, result.output));
            }
            other => panic!("{other:?}"),
        }
        if chain.chain.fee != Fee::NONE {
            assert_eq!(
                chain.held(),
                chain.supply(),
                "{mode}: nothing created or lost"
            );
        }
    }
    (chain.storage_root(&token), results)
}

/// [`run_token`] with every call ordered in one block and committees taking up to
/// `depth` jobs at once: runs are served until every job is resolved.
fn run_token_pipelined(
    mode: ExecutionMode,
    calls: &[(u64, &str, Vec<u8>)],
    depth: u32,
) -> (Digest, Vec<(CallStatus, Vec<u8>)>) {
    let mut chain = Chain::with_depth(depth);
    let token = chain.token(mode);
    let txs = calls
        .iter()
        .map(|(sender, method, input)| chain.call_tx(*sender, token, method, input.clone()))
        .collect();
    let jobs: Vec<Digest> = chain.run(txs, false).iter().map(queued).collect();
    chain.block(vec![]);
    let mut runs = 0;
    while chain.lane(&token).head < jobs.len() as u64 {
        let head = jobs[chain.lane(&token).head as usize];
        if chain.job(&head).state == JobState::Waiting {
            chain.block(vec![]);
        }
        chain.serve_run(&head);
        runs += 1;
    }
    assert_eq!(runs, jobs.len().div_ceil(depth as usize), "full runs");
    let results = jobs
        .iter()
        .map(|id| {
            let result = done(&chain.job(id)).clone();
            assert_eq!(result.resolution, Resolution::Agreed);
            (result.status, result.output)
        })
        .collect();
    (chain.storage_root(&token), results)
}

/// Mode equivalence holds with fees: every mode leaves the same contract state and outputs
/// (fee limits large enough for each mode's committee), and every mode's charges only move
/// tokens (checked after every call inside `run_token_on`).
#[test]
fn every_mode_leaves_the_same_contract_state_with_fees() {
    let owner = hyperchain_sdk::Address(address(&key(1)).0);
    let bob = hyperchain_sdk::Address(address(&key(2)).0);
    let calls: Vec<(u64, &str, Vec<u8>)> = vec![
        (1, "init", encode(&owner)),
        (1, "mint", encode(&(owner, 1_000u64))),
        (1, "transfer", encode(&(bob, 250u64))),
        (2, "transfer", encode(&(owner, 1_000u64))), // reverts
        (2, "transfer", encode(&(owner, 50u64))),
    ];
    let replicated = run_token_on(Chain::priced(), ExecutionMode::Replicated, &calls);
    for mode in [
        ExecutionMode::Single,
        ExecutionMode::Committee(3),
        ExecutionMode::CrossVendor,
    ] {
        assert_eq!(
            run_token_on(Chain::priced(), mode, &calls),
            replicated,
            "{mode} differs from replicated"
        );
    }
}

#[test]
fn every_mode_leaves_the_same_contract_state() {
    let owner = hyperchain_sdk::Address(address(&key(1)).0);
    let bob = hyperchain_sdk::Address(address(&key(2)).0);
    let calls: Vec<(u64, &str, Vec<u8>)> = vec![
        (1, "init", encode(&owner)),
        (1, "mint", encode(&(owner, 1_000u64))),
        (1, "transfer", encode(&(bob, 250u64))),
        (2, "transfer", encode(&(owner, 1_000u64))), // reverts: insufficient balance
        (2, "mint", encode(&(bob, 5u64))),           // reverts: not the owner
        (2, "transfer", encode(&(owner, 50u64))),
        (3, "balance_of", encode(&bob)),
    ];
    let replicated = run_token(ExecutionMode::Replicated, &calls);
    assert!(
        replicated.1.iter().any(|(s, _)| !s.is_ok()),
        "the sequence has failing calls"
    );
    for mode in [
        ExecutionMode::Single,
        ExecutionMode::Committee(3),
        ExecutionMode::CrossVendor,
    ] {
        assert_eq!(
            run_token(mode, &calls),
            replicated,
            "{mode} differs from replicated"
        );
    }
    // Pipelined: followers execute on their members' own results, failing calls included.
    for (mode, depth) in [
        (ExecutionMode::Single, 8),
        (ExecutionMode::CrossVendor, 3),
        (ExecutionMode::Committee(3), 2),
    ] {
        assert_eq!(
            run_token_pipelined(mode, &calls, depth),
            replicated,
            "{mode} with pipeline depth {depth} differs from replicated"
        );
    }
}

#[test]
fn a_liar_is_outvoted_by_arbitration_revoked_and_its_receipt_kept() {
    let mut chain = Chain::new();
    chain.fleet(&["eu"], 1);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    let call = chain.call_tx(1, counter, "increment", encode(&7u64));
    let job = queued(&chain.block(vec![call])[0]);
    chain.block(vec![]);
    let committee = chain.committee(&job);
    let (honest, liar) = (committee[0], committee[1]);
    let lie = chain.receipt(&liar, &job, Behaviour::WrongOutput);
    let truth = chain.receipt(&honest, &job, Behaviour::Honest);
    assert_eq!(
        chain.submit(vec![lie.clone(), truth]),
        vec![ReceiptStatus::Accepted; 2]
    );

    let result = done(&chain.job(&job)).clone();
    assert_eq!(
        result.resolution,
        Resolution::Arbitrated {
            revoked: vec![liar]
        }
    );
    assert_eq!(
        decode_all::<u64>(&result.output).unwrap(),
        7,
        "the correct result applies"
    );
    assert_eq!(result.post_state, chain.storage_root(&counter));
    assert!(
        !chain.in_accumulator(&liar),
        "the liar leaves the accumulator"
    );
    assert!(chain.in_accumulator(&honest));
    let record = hyperchain_chain::registry::node(&StoreView(&chain.store), &liar)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.revoked,
        Some(hyperchain_types::RevokeReason::WrongResult { job })
    );
    let evidence = chain
        .store
        .get(&TreeId::ROOT, &evidence_key(&job, &liar))
        .unwrap()
        .unwrap();
    let kept = SignedCommitment::decode(bytes::Bytes::from(evidence)).unwrap();
    assert_eq!(kept, lie.signed_commitment());
    assert!(
        kept.verify_signature(),
        "the evidence is the liar's own signature"
    );
}

#[test]
fn forged_replayed_and_foreign_receipts_are_refused_and_change_nothing() {
    let mut chain = Chain::new();
    chain.fleet(&["eu"], 1);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    let first = chain.call_tx(1, counter, "increment", encode(&1u64));
    let mut jobs: Vec<Digest> = chain.block(vec![first]).iter().map(queued).collect();
    chain.block(vec![]);
    // Ordered after the head's seed view: waits, it does not follow.
    let second = chain.call_tx(1, counter, "increment", encode(&2u64));
    jobs.extend(chain.block(vec![second]).iter().map(queued));
    assert_eq!(chain.job(&jobs[1]).state, JobState::Waiting);
    let committee = chain.committee(&jobs[0]);
    let member = committee[0];
    let good = chain.receipt(&member, &jobs[0], Behaviour::Honest);
    let stranger = chain
        .members
        .iter()
        .map(Member::id)
        .find(|id| !committee.contains(id))
        .unwrap();

    let mut forged = good.clone();
    forged.receipt.outcome.output = vec![1];
    let from_stranger = chain.receipt(&stranger, &jobs[0], Behaviour::Honest);
    let mut other_lane_seq = good.receipt.clone();
    other_lane_seq.lane_seq = 1;
    let mut other_chain = good.receipt.clone();
    other_chain.chain_id = Digest([9; 32]);
    let mut other_pre_state = good.receipt.clone();
    other_pre_state.pre_state = Digest([8; 32]);
    let signer = &chain.member(&member).key;
    let replays: Vec<SignedComputeReceipt> = [other_lane_seq, other_chain, other_pre_state]
        .into_iter()
        .map(|r| r.sign(signer))
        .collect();
    // The same member's receipt for the job behind the head.
    let mut next_job = good.receipt.clone();
    next_job.job = jobs[1];
    let not_awaited = next_job.sign(signer);
    let unknown = {
        let mut r = good.receipt.clone();
        r.job = Digest([7; 32]);
        r.sign(signer)
    };

    let before = chain.job(&jobs[0]);
    let mut bad = vec![forged, from_stranger];
    bad.extend(replays);
    bad.push(not_awaited);
    bad.push(unknown);
    let statuses = chain.submit(bad);
    let reasons: Vec<&str> = statuses.iter().map(rejected).collect();
    assert!(reasons[0].contains("forged receipt"), "{}", reasons[0]);
    assert!(reasons[1].contains("not a member"), "{}", reasons[1]);
    assert!(reasons[2].contains("lane position"), "{}", reasons[2]);
    assert!(reasons[3].contains("chain id"), "{}", reasons[3]);
    assert!(reasons[4].contains("pre-state"), "{}", reasons[4]);
    assert!(
        reasons[5].contains("waiting, not awaiting receipts"),
        "{}",
        reasons[5]
    );
    assert!(reasons[6].contains("unknown job"), "{}", reasons[6]);
    assert_eq!(
        chain.job(&jobs[0]),
        before,
        "refused receipts change nothing"
    );
    assert!(chain.in_accumulator(&member) && chain.in_accumulator(&stranger));

    // A duplicate from a member that already answered is refused too.
    let statuses = chain.submit(vec![good.clone(), good]);
    assert_eq!(statuses[0], ReceiptStatus::Accepted);
    assert!(
        rejected(&statuses[1]).contains("already sent"),
        "{statuses:?}"
    );
}

#[test]
fn a_silent_committee_is_replaced_after_its_deadline_and_repeat_offenders_suspended() {
    let mut chain = Chain::new();
    chain.fleet(&["eu"], 2);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    let call = chain.call_tx(1, counter, "increment", encode(&1u64));
    let job = queued(&chain.block(vec![call])[0]);
    chain.block(vec![]);
    let first = chain.job(&job).assignment.unwrap();
    // The Intel member answers, the AMD member stays silent past the deadline.
    let answered = chain.receipt(&first.committee[0].id, &job, Behaviour::Honest);
    chain.submit(vec![answered]);
    while chain.time_ms < first.deadline_ms {
        chain.block(vec![]);
    }
    // The block past the deadline sends the job back; the next block's seed draws it.
    assert_eq!(chain.job(&job).state, JobState::Waiting);
    chain.block(vec![]);
    let second = chain.job(&job).assignment.unwrap();
    assert_eq!(second.attempt, 1);
    assert_eq!(second.excluded, vec![first.committee[1].id]);
    assert!(
        !second
            .committee
            .iter()
            .any(|m| m.id == first.committee[1].id)
    );
    assert!(second.votes.is_empty());
    let silent = first.committee[1].id;
    assert_eq!(
        lanes::liveness_failures(&StoreView(&chain.store), &silent).unwrap(),
        1
    );
    assert_eq!(
        lanes::liveness_failures(&StoreView(&chain.store), &first.committee[0].id).unwrap(),
        0,
        "a member that answered is not charged"
    );
    // Liveness returns: the fresh committee agrees.
    chain.serve(&job);
    assert_eq!(done(&chain.job(&job)).resolution, Resolution::Agreed);

    // A node that misses SUSPEND_AFTER deadlines is not drawn for SUSPENSION_MS, then is
    // again, its count started afresh.
    let params = ComputeParams {
        job_deadline_ms: DEADLINE_MS,
        suspend_after_failures: SUSPEND_AFTER,
        suspension_ms: SUSPENSION_MS,
        ..ComputeParams::default()
    };
    let suspended = lanes::liveness(&StoreView(&chain.store), &silent)
        .unwrap()
        .charge(&params, chain.time_ms);
    assert_eq!(
        suspended,
        lanes::Liveness {
            misses: 0,
            suspended_until_ms: chain.time_ms + SUSPENSION_MS
        }
    );
    let mut batch = WriteBatch::new();
    batch.put(
        TreeId::ROOT,
        lanes::liveness_key(&silent),
        suspended.encode(),
    );
    chain.store.commit(&batch, chain.height).unwrap();
    let pool = lanes::candidates(&StoreView(&chain.store), chain.time_ms).unwrap();
    assert!(!pool.iter().any(|c| c.id == silent));
    assert_eq!(pool.len(), chain.members.len() - 1);
    let later = chain.time_ms + SUSPENSION_MS;
    let pool = lanes::candidates(&StoreView(&chain.store), later).unwrap();
    assert!(pool.iter().any(|c| c.id == silent), "the suspension ends");
}

#[test]
fn a_region_without_a_vendor_stalls_the_job_with_a_reason_until_one_joins() {
    let mut chain = Chain::new();
    chain.fleet(&["eu"], 0);
    chain.add_member(50, SimFlavour::Intel, "ap");
    let contract = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu", "ap"]);
    let call = chain.call_tx(1, contract, "increment", encode(&1u64));
    let job = queued(&chain.block(vec![call])[0]);
    chain.block(vec![]);
    let stalled = chain.job(&job);
    assert_eq!(
        stalled.state,
        JobState::Stalled {
            reason: hyperchain_types::StallReason::RegionLacksVendor {
                region: "ap".into(),
                vendor: hyperchain_types::VENDOR_AMD
            },
            since_ms: chain.time_ms
        }
    );
    // Never a silent downgrade: nobody is assigned.
    assert!(stalled.assignment.is_none());
    chain.add_member(51, SimFlavour::Amd, "ap");
    // A stalled lane is looked at again when its retry is due (STALL_RETRY_MS after the
    // failed draw, acted on by the first block ending after that second), then drawn by the
    // next block: not re-scanned by every block in between.
    let mut blocks = 0;
    while chain.job(&job).state != JobState::Assigned {
        assert!(blocks < 3, "drawn once the retry is due");
        chain.block(vec![]);
        blocks += 1;
    }
    chain.serve(&job);
    assert_eq!(done(&chain.job(&job)).resolution, Resolution::Agreed);
}

#[test]
fn deploys_are_bounded_by_chain_policy() {
    let mut chain = Chain::new();
    let cases: Vec<(ExecutionMode, Vec<String>, &str)> = vec![
        (
            ExecutionMode::Committee(5),
            vec![],
            "not enabled by chain policy",
        ),
        (ExecutionMode::CrossVendor, vec![], "at least one region"),
        (
            ExecutionMode::CrossVendor,
            vec!["eu".into(), "eu".into()],
            "listed twice",
        ),
        (
            ExecutionMode::CrossVendor,
            vec!["".into()],
            "must not be empty",
        ),
        (
            ExecutionMode::Single,
            vec!["eu".into()],
            "only cross-vendor",
        ),
    ];
    for (mode, regions, expected) in cases {
        let tx = chain.tx(
            1,
            Payload::Deploy {
                code: COUNTER.to_vec(),
                mode,
                regions,
            },
        );
        let status = chain.block(vec![tx]).remove(0);
        assert!(rejected(&status).contains(expected), "{mode}: {status:?}");
    }
    // The default policy allows replicated contracts only.
    let mut plain = Chain::new();
    plain.executor = Executor::new(engine(), chain_id());
    let tx = plain.tx(
        1,
        Payload::Deploy {
            code: COUNTER.to_vec(),
            mode: ExecutionMode::Single,
            regions: vec![],
        },
    );
    assert!(rejected(&plain.block(vec![tx])[0]).contains("not enabled"));
}

#[test]
fn job_records_are_stored_where_documented() {
    let mut chain = Chain::new();
    chain.fleet(&["eu"], 0);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::Single, &[]);
    let call = chain.call_tx(1, counter, "increment", encode(&1u64));
    let job = queued(&chain.block(vec![call])[0]);
    assert!(
        chain
            .store
            .get(&TreeId::ROOT, &job_key(&job))
            .unwrap()
            .is_some()
    );
    assert!(
        chain
            .store
            .get(&TreeId::ROOT, &lane_key(&counter))
            .unwrap()
            .is_some()
    );
    assert_eq!(
        lanes::lane_job(&StoreView(&chain.store), &counter, 0)
            .unwrap()
            .unwrap()
            .id,
        job
    );
    assert_eq!(
        lanes::active_lanes(&chain.store.snapshot().unwrap()).unwrap(),
        vec![counter]
    );
    let (round, _) = lanes::latest_seed(&StoreView(&chain.store)).unwrap();
    assert_eq!(
        round,
        hyperchain_types::Round::new(chain.round.epoch, chain.round.view - 1)
    );
}

/// Found by trying: a call whose write set (20 values of 60 KiB) does not fit one state value
/// made every validator fail the block that took its first receipt (the receipt was kept in
/// the job record), so nothing finalized until the job's honest members were charged as
/// silent. Whatever a call writes, its receipts fit a transaction and its job record fits
/// state; the call ends the same way in every mode.
#[test]
fn a_call_with_a_huge_write_set_never_fails_a_block_and_ends_alike_in_every_mode() {
    let args = encode(&(20u32, 60 * 1024u32));
    let mut results = Vec::new();
    for mode in [ExecutionMode::Replicated, ExecutionMode::CrossVendor] {
        let mut chain = Chain::new();
        chain.fleet(&["eu"], 0);
        let regions: &[&str] = if mode == ExecutionMode::CrossVendor {
            &["eu"]
        } else {
            &[]
        };
        let contract = chain.deploy(1, hyperchain_contracts::ADVERSARIAL, mode, regions);
        let call = chain.call_tx(1, contract, "write_set_bomb", args.clone());
        let status = chain.block(vec![call]).remove(0);
        let (status, root) = match status {
            ReceiptStatus::Queued { job, .. } => {
                chain.block(vec![]);
                chain.serve(&job);
                let result = done(&chain.job(&job)).clone();
                assert_eq!(result.resolution, Resolution::Agreed);
                (result.status, result.post_state)
            }
            ReceiptStatus::Called { status, .. } => (status, chain.storage_root(&contract)),
            other => panic!("{other:?}"),
        };
        assert_eq!(root, chain.storage_root(&contract));
        results.push((status, root));
    }
    assert_eq!(
        results[0].0,
        CallStatus::Trap(hyperchain_types::TrapKind::StorageLimit)
    );
    assert_eq!(results[0], results[1], "the same end in every mode");
}

/// Found in the code: a follower's signed receipt named no run, so after its run was dropped
/// (a liar arbitrated on the head) anyone could replay it into the job's next run. It was
/// counted for the honest signer, its real answer was then refused as a duplicate, and the
/// old receipt's stale pre-state got the honest signer revoked with its own signature.
#[test]
fn an_old_follower_receipt_replayed_into_a_new_run_is_refused_and_its_signer_stays_honest() {
    let mut chain = Chain::with_depth(3);
    // One AMD node: it is on every committee.
    chain.add_member(1001, SimFlavour::Intel, "eu");
    chain.add_member(1002, SimFlavour::Intel, "eu");
    chain.add_member(1003, SimFlavour::Amd, "eu");
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    let calls: Vec<SignedTransaction> = (1..=3u64)
        .map(|i| chain.call_tx(1, counter, "increment", encode(&i)))
        .collect();
    let jobs: Vec<Digest> = chain.run(calls, false).iter().map(queued).collect();
    chain.block(vec![]);
    let committee = chain.committee(&jobs[0]);
    let (liar, honest) = (committee[0], committee[1]);
    assert_eq!(chain.job(&jobs[2]).state, JobState::Assigned, "a follower");
    let honest_run = chain.run_receipts(&honest, &jobs[0], None);
    let lie = chain.run_receipts(&liar, &jobs[0], Some(0)).remove(0);
    let statuses = chain.submit([honest_run.clone(), vec![lie]].concat());
    assert!(statuses.iter().all(|s| *s == ReceiptStatus::Accepted));
    assert!(!chain.in_accumulator(&liar));
    // The run was dropped; the next head gets a fresh committee with the honest node on it.
    chain.block(vec![]);
    assert!(chain.committee(&jobs[1]).contains(&honest));
    assert_eq!(chain.job(&jobs[2]).state, JobState::Assigned);

    // Anyone replays the honest node's receipt for the last job from the dropped run.
    let replay = chain.submit(vec![honest_run[2].clone()]).remove(0);
    assert!(rejected(&replay).contains("run"), "{replay:?}");
    let statuses = chain.serve_run(&jobs[1]);
    assert!(
        statuses.iter().all(|s| *s == ReceiptStatus::Accepted),
        "{statuses:?}"
    );
    assert_eq!(done(&chain.job(&jobs[2])).resolution, Resolution::Agreed);
    assert_eq!(
        decode_all::<u64>(&done(&chain.job(&jobs[2])).output).unwrap(),
        6
    );
    assert!(chain.in_accumulator(&honest), "the honest signer stays");
}

/// Found in the code: the block that resolved a head drew the next one at once, with a seed
/// its proposer already knew, over the pool as it stood mid-block — so the proposer could put
/// its own registrations before the resolving receipt and steer the draw. A job that becomes
/// drawable in a block is drawn by a later block's seed, over that block's parent's pool:
/// registrations in the drawing block itself do not count.
#[test]
fn registrations_in_the_block_that_resolves_a_head_do_not_steer_the_next_draw() {
    let mut chain = Chain::new();
    chain.fleet(&["eu"], 0);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    let first = chain.call_tx(1, counter, "increment", encode(&1u64));
    let first = queued(&chain.block(vec![first])[0]);
    chain.block(vec![]);
    // Ordered after the head's seed: it cannot follow, it waits for the head.
    let second = chain.call_tx(1, counter, "increment", encode(&2u64));
    let second = queued(&chain.block(vec![second])[0]);

    // The proposer registers its own nodes ahead of the receipts that resolve the head.
    let mut txs = Vec::new();
    for (seed, flavour) in [(700, SimFlavour::Intel), (701, SimFlavour::Amd)] {
        let registration = chain.registration(
            flavour,
            hyperchain_chain::testkit::identity(seed),
            "eu",
            TEST_IMAGE,
        );
        txs.push(chain.tx(seed, Payload::Register(registration)));
    }
    for id in chain.committee(&first) {
        let receipt = chain.receipt(&id, &first, Behaviour::Honest);
        txs.push(chain.tx(CARRIER, Payload::Receipt(Box::new(receipt))));
    }
    let statuses = chain.block(txs);
    assert!(
        statuses.iter().all(|s| *s == ReceiptStatus::Accepted),
        "{statuses:?}"
    );
    assert!(matches!(chain.job(&first).state, JobState::Done(_)));
    let waiting = chain.job(&second);
    assert_eq!(
        waiting.state,
        JobState::Waiting,
        "not drawn with a known seed"
    );
    assert_eq!(waiting.drawable_after, chain.round);

    // The next block draws it, over its parent's pool, with a seed of a later view; more
    // registrations in that block do not count.
    let pool = lanes::candidates(&StoreView(&chain.store), chain.time_ms + 1_000).unwrap();
    let mut late = Vec::new();
    for (seed, flavour) in [(702, SimFlavour::Intel), (703, SimFlavour::Amd)] {
        let registration = chain.registration(
            flavour,
            hyperchain_chain::testkit::identity(seed),
            "eu",
            TEST_IMAGE,
        );
        late.push(chain.tx(seed, Payload::Register(registration)));
    }
    chain.block(late);
    let assignment = chain.job(&second).assignment.unwrap();
    assert!(assignment.seed_round > waiting.drawable_after);
    let recomputed = select_committee(
        &assignment.seed.0,
        &second,
        assignment.attempt,
        &pool,
        &[],
        &CommitteeSpec::CrossVendor(vec!["eu".into()]),
    )
    .unwrap();
    assert_eq!(
        recomputed.iter().map(|m| m.id).collect::<Vec<_>>(),
        chain.committee(&second)
    );
    let now = lanes::candidates(&StoreView(&chain.store), chain.time_ms).unwrap();
    assert_eq!(
        now.len(),
        pool.len() + 2,
        "the late nodes joined, for later draws"
    );
}

/// Found by trying: a fresh account deployed a cross-vendor contract naming region `zz`, where
/// no node can ever be, and its calls stalled forever. Deploys and registrations must name the
/// chain's regions; a job that cannot get a committee for `max_stall_ms` fails with the typed
/// reason, its call changes nothing, and the lane goes on.
#[test]
fn unknown_regions_are_refused_and_a_job_stalled_too_long_fails_and_its_lane_goes_on() {
    let mut chain = Chain::new();
    chain.fleet(&["eu"], 0);
    let tx = chain.tx(
        1,
        Payload::Deploy {
            code: COUNTER.to_vec(),
            mode: ExecutionMode::CrossVendor,
            regions: vec!["eu".into(), "zz".into()],
        },
    );
    let status = chain.block(vec![tx]).remove(0);
    assert!(
        rejected(&status).contains("region `zz` is not one of the chain's regions"),
        "{status:?}"
    );
    let registration = chain.registration(
        SimFlavour::Amd,
        hyperchain_chain::testkit::identity(77),
        "zz",
        TEST_IMAGE,
    );
    let tx = chain.tx(77, Payload::Register(registration));
    let status = chain.block(vec![tx]).remove(0);
    assert!(rejected(&status).contains("region `zz`"), "{status:?}");

    // A known region without an AMD node: the job stalls, then fails; the next job runs once
    // the region has its node.
    let contract = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu", "ap"]);
    chain.add_member(50, SimFlavour::Intel, "ap");
    let calls = vec![
        chain.call_tx(1, contract, "increment", encode(&1u64)),
        chain.call_tx(1, contract, "increment", encode(&2u64)),
    ];
    let jobs: Vec<Digest> = chain.block(calls).iter().map(queued).collect();
    chain.block(vec![]);
    let JobState::Stalled { since_ms, .. } = chain.job(&jobs[0]).state else {
        panic!("{:?}", chain.job(&jobs[0]).state);
    };
    while chain.job(&jobs[0]).state_name() == "stalled" {
        // Its last try is due at `since + MAX_STALL_MS` (acted on by the first block ending
        // after that second, drawn by the next).
        assert!(chain.time_ms < since_ms + MAX_STALL_MS + 2 * DUE_BUCKET_MS);
        chain.block(vec![]);
    }
    assert!(
        chain.time_ms >= since_ms + MAX_STALL_MS,
        "not failed before its time"
    );
    let failed = chain.job(&jobs[0]);
    assert_eq!(
        failed.state,
        JobState::Failed(hyperchain_types::JobFailure {
            reason: hyperchain_types::StallReason::RegionLacksVendor {
                region: "ap".into(),
                vendor: hyperchain_types::VENDOR_AMD
            },
            height: chain.height
        })
    );
    let lane = chain.lane(&contract);
    assert_eq!(lane.head, 1, "the lane went on");
    assert_eq!(lane.state, chain.storage_root(&contract), "nothing changed");
    chain.add_member(51, SimFlavour::Amd, "ap");
    // The next job stalled too; it is drawn once its retry is due.
    let mut blocks = 0;
    while chain.job(&jobs[1]).state != JobState::Assigned {
        assert!(blocks < 3, "{:?}", chain.job(&jobs[1]).state);
        chain.block(vec![]);
        blocks += 1;
    }
    chain.serve(&jobs[1]);
    assert_eq!(
        decode_all::<u64>(&done(&chain.job(&jobs[1])).output).unwrap(),
        2,
        "the failed call left no trace"
    );
}

/// A lane whose head waits (stalled: its region has no AMD node) and lanes that are idle are
/// not looked at by the blocks between the stalled head's tries: a block's reads of state do
/// not grow with their number. (Before the time-bucketed queues, every block read each active
/// lane's record and head job: two values per stalled lane.)
#[test]
fn idle_and_stalled_lanes_cost_a_block_nothing() {
    let reads_with = |lanes: usize| {
        let mut chain = Chain::new();
        chain.fleet(&["eu"], 0);
        chain.add_member(50, SimFlavour::Intel, "ap");
        let mut stalled = Vec::new();
        for _ in 0..lanes {
            stalled.push(chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu", "ap"]));
            chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
        }
        let calls = stalled
            .iter()
            .map(|c| chain.call_tx(1, *c, "increment", encode(&1u64)))
            .collect();
        let jobs: Vec<Digest> = chain.block(calls).iter().map(queued).collect();
        chain.block(vec![]);
        for job in &jobs {
            assert_eq!(chain.job(job).state_name(), "stalled");
        }
        assert_eq!(
            lanes::active_lanes(&chain.store.snapshot().unwrap())
                .unwrap()
                .len(),
            lanes
        );
        // A block between the tries (the next is due STALL_RETRY_MS after the last).
        chain.run(vec![], true);
        let between = chain.last_block_reads;
        for job in &jobs {
            assert_eq!(chain.job(job).state_name(), "stalled");
        }
        between
    };
    let few = reads_with(2);
    let many = reads_with(40);
    assert_eq!(
        few, many,
        "a block's reads do not depend on how many lanes wait"
    );
}

/// A Byzantine proposer of the block at a run's deadline leaves an honest member's receipt out.
/// With no grace the member is charged a miss it did nothing to deserve (the attack); with the
/// default grace the next proposer includes the receipt and nobody is charged.
#[test]
fn a_proposer_leaving_a_receipt_out_at_the_deadline_cannot_get_its_signer_charged() {
    let charged_with_grace = |grace: u32| {
        let mut chain = Chain::with_params(1, grace);
        chain.fleet(&["eu"], 0);
        let contract = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
        let call = chain.call_tx(1, contract, "increment", encode(&1u64));
        let job = queued(&chain.block(vec![call])[0]);
        chain.block(vec![]);
        let committee = chain.committee(&job);
        let receipts: Vec<SignedComputeReceipt> = committee
            .iter()
            .map(|id| chain.receipt(id, &job, Behaviour::Honest))
            .collect();
        // The members answered in time, but the proposers of the blocks up to the deadline
        // leave their receipts out; the block at the deadline is the last to do so.
        let deadline = chain.job(&job).assignment.unwrap().deadline_ms;
        while chain.time_ms < deadline {
            chain.block(vec![]);
        }
        let txs = receipts
            .into_iter()
            .map(|r| chain.tx(CARRIER, Payload::Receipt(Box::new(r))))
            .collect();
        chain.block(txs);
        let charged = committee
            .iter()
            .filter(|id| {
                lanes::liveness(&StoreView(&chain.store), id)
                    .unwrap()
                    .misses
                    > 0
            })
            .count();
        (charged, chain.job(&job).is_final())
    };
    assert_eq!(
        charged_with_grace(1),
        (2, false),
        "the attack, without a grace"
    );
    assert_eq!(
        charged_with_grace(hyperchain_chain::registry::DEFAULT_DEADLINE_GRACE_BLOCKS),
        (0, true),
        "the next proposer's block took the receipts"
    );
}

/// How a member of the property test's fleet behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conduct {
    /// Answers every run it is on, in the block after it is assigned.
    Honest,
    /// Answers every run with a lie on its head.
    Liar,
    /// Never answers.
    Silent,
}

/// One step of an adversarial schedule.
#[derive(Clone, Debug)]
enum Step {
    /// A call incrementing the counter by this much.
    Call(u8),
    /// A block: the pending transactions, and the answers of the members of every assigned run.
    Block,
    /// Anyone replays a receipt signed earlier (any member, any job, any run).
    Replay(usize),
    /// A new honest node of this vendor registers.
    Join(bool),
    /// Time passes without a block (the next block comes this many seconds later).
    Pause(u8),
    /// The next block's proposer leaves every receipt out (they reach the block after it);
    /// never more than the grace allows in a row.
    Censor,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (1u8..5).prop_map(Step::Call),
        5 => Just(Step::Block),
        2 => any::<usize>().prop_map(Step::Replay),
        1 => any::<bool>().prop_map(Step::Join),
        1 => (1u8..6).prop_map(Step::Pause),
        1 => Just(Step::Censor),
    ]
}

/// Checks the invariants of docs/THREATS.md after a block: no honest node revoked, charged
/// or suspended; job records bounded; the jobs done so far, in lane order, returned the sums
/// a reference counter gives (failed jobs change nothing).
fn check_invariants(
    chain: &Chain,
    counter: &Address,
    conduct: &std::collections::HashMap<Digest, Conduct>,
    increments: &std::collections::HashMap<Digest, u64>,
    jobs: &[Digest],
) {
    let view = StoreView(&chain.store);
    if chain.chain.fee != Fee::NONE {
        let escrow: u128 = jobs
            .iter()
            .filter_map(|id| lanes::job(&view, id).unwrap())
            .map(|job| job.funds.held + job.funds.receipts)
            .sum();
        assert_eq!(
            chain.held() + escrow,
            chain.supply(),
            "accounts, bonds and escrows hold the supply"
        );
        for (id, c) in conduct {
            if *c == Conduct::Honest
                && let Some(record) = hyperchain_chain::registry::node(&view, id).unwrap()
            {
                assert_eq!(record.bond, PRICED.node_bond as u128, "honest bonds stay");
            }
        }
    }
    for (id, c) in conduct {
        if *c != Conduct::Honest {
            continue;
        }
        let record = hyperchain_chain::registry::node(&view, id)
            .unwrap()
            .unwrap();
        assert_eq!(record.revoked, None, "honest node {id} revoked");
        assert_eq!(
            lanes::liveness(&view, id).unwrap(),
            lanes::Liveness::default(),
            "honest node {id} charged"
        );
    }
    let mut total = 0u64;
    for id in jobs {
        let job = chain.job(id);
        assert!(
            commonware_codec::EncodeSize::encode_size(&job) < 256 * 1024,
            "job record bounded"
        );
        match &job.state {
            JobState::Done(result) => {
                if result.status == CallStatus::Ok {
                    total += increments[id];
                }
                assert_eq!(
                    decode_all::<u64>(&result.output).unwrap(),
                    total,
                    "job {} returned what the reference counter holds",
                    job.lane_seq
                );
            }
            JobState::Failed(_) => {}
            _ => break,
        }
    }
    let lane = chain.lane(counter);
    assert!(lane.head <= lane.next_seq);
    // No lane is forgotten: an active lane is in the active set and in the queue its head's
    // state calls for; an idle one is in neither.
    let active = lanes::active_lanes(&chain.store.snapshot().unwrap()).unwrap();
    assert_eq!(lanes::active_count(&view).unwrap(), active.len() as u64);
    if lane.head < lane.next_seq {
        assert!(active.contains(counter), "in the active set");
        let head = lanes::lane_job(&view, counter, lane.head).unwrap().unwrap();
        match (&head.state, lane.sched) {
            (JobState::Waiting, Sched::Draw)
            | (JobState::Stalled { .. }, Sched::Due(_))
            | (JobState::Assigned, Sched::Due(_) | Sched::Late) => {}
            (state, sched) => panic!("head {state:?} queued as {sched:?}"),
        }
    } else {
        assert!(!active.contains(counter), "an idle lane is not active");
        assert_eq!(lane.sched, Sched::None);
    }
}

/// Random adversarial schedules (calls, blocks, replays of any receipt ever signed, new
/// nodes, pauses past deadlines) against a fleet with honest, lying and silent members:
/// block execution never fails, honest nodes are never revoked or charged, and the results
/// match a reference counter, checked after every block; at the end every job has ended.
#[test]
fn adversarial_schedules_keep_the_invariants() {
    use proptest::prelude::*;
    let config = ProptestConfig {
        cases: 128,
        ..ProptestConfig::default()
    };
    proptest::test_runner::TestRunner::new(config)
        .run(&proptest::collection::vec(step(), 1..48), |steps| {
            run_schedule(&steps, FeeSchedule::FREE);
            Ok(())
        })
        .unwrap();
}

/// [`adversarial_schedules_keep_the_invariants`] on a chain with fees, escrows and bonds:
/// also, after every block, the accounts, the nodes' bonds and the jobs' escrows hold exactly
/// the supply (fees only move tokens or burn them, whatever liars, silent members, replays,
/// censoring proposers and pauses do), and honest members' bonds are never touched.
#[test]
fn adversarial_schedules_with_fees_conserve_the_supply() {
    use proptest::prelude::*;
    let config = ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    };
    proptest::test_runner::TestRunner::new(config)
        .run(&proptest::collection::vec(step(), 1..48), |steps| {
            run_schedule(&steps, PRICED);
            Ok(())
        })
        .unwrap();
}

fn run_schedule(steps: &[Step], fees: FeeSchedule) {
    use std::collections::{HashMap, HashSet};
    let grace = hyperchain_chain::registry::DEFAULT_DEADLINE_GRACE_BLOCKS;
    let mut chain = Chain::with_fees(2, grace, fees);
    let mut conduct: HashMap<Digest, Conduct> = HashMap::new();
    for (seed, flavour, c) in [
        (2_001, SimFlavour::Intel, Conduct::Honest),
        (2_002, SimFlavour::Intel, Conduct::Honest),
        (2_003, SimFlavour::Intel, Conduct::Liar),
        (2_004, SimFlavour::Amd, Conduct::Honest),
        (2_005, SimFlavour::Amd, Conduct::Honest),
        (2_006, SimFlavour::Amd, Conduct::Silent),
    ] {
        let i = chain.add_member(seed, flavour, "eu");
        conduct.insert(chain.members[i].id(), c);
    }
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    let mut increments: HashMap<Digest, u64> = HashMap::new();
    let mut jobs: Vec<Digest> = Vec::new();
    let mut pending: Vec<SignedTransaction> = Vec::new();
    let mut signed: Vec<SignedComputeReceipt> = Vec::new();
    let mut answered: HashSet<(Digest, hyperchain_types::RunId, Digest)> = HashSet::new();
    let mut next_seed = 3_000u64;
    let mut pause_ms = 0u64;
    // Receipts left out by censoring proposers, and how many blocks in a row censored.
    let mut held: Vec<SignedTransaction> = Vec::new();
    let mut censor_next = false;
    let mut censored_in_a_row = 0u32;

    // The members' answers to every assigned run of the counter's lane, as they stand.
    let answers = |chain: &Chain,
                   conduct: &HashMap<Digest, Conduct>,
                   answered: &mut HashSet<(Digest, hyperchain_types::RunId, Digest)>,
                   signed: &mut Vec<SignedComputeReceipt>|
     -> Vec<SignedComputeReceipt> {
        let lane = chain.lane(&counter);
        if lane.head >= lane.next_seq {
            return Vec::new();
        }
        let head = lanes::lane_job(&StoreView(&chain.store), &counter, lane.head)
            .unwrap()
            .unwrap();
        let Some(a) = head
            .assignment
            .clone()
            .filter(|_| head.state == JobState::Assigned)
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for member in &a.committee {
            let behaviour = conduct.get(&member.id).copied().unwrap_or(Conduct::Honest);
            if behaviour == Conduct::Silent || !answered.insert((head.id, a.run(), member.id)) {
                continue;
            }
            let lie = (behaviour == Conduct::Liar).then_some(0);
            let run = chain.run_receipts(&member.id, &head.id, lie);
            signed.extend(run.iter().cloned());
            out.extend(run);
        }
        out
    };

    let block = |chain: &mut Chain, txs: Vec<SignedTransaction>, pause_ms: u64| {
        let env = chain.next_env(1_000 + pause_ms, true);
        chain.execute(env, &txs)
    };

    for step in steps {
        match step {
            Step::Call(by) => {
                let tx = chain.call_tx(1, counter, "increment", encode(&u64::from(*by)));
                increments.insert(tx.id(), u64::from(*by));
                jobs.push(tx.id());
                pending.push(tx);
            }
            Step::Replay(i) if !signed.is_empty() => {
                let receipt = signed[i % signed.len()].clone();
                pending.push(chain.tx(CARRIER, Payload::Receipt(Box::new(receipt))));
            }
            Step::Replay(_) => {}
            Step::Join(intel) => {
                next_seed += 1;
                let flavour = if *intel {
                    SimFlavour::Intel
                } else {
                    SimFlavour::Amd
                };
                let identity = hyperchain_chain::testkit::identity(next_seed);
                let registration = chain.registration(flavour, identity, "eu", TEST_IMAGE);
                pending.push(chain.tx(next_seed, Payload::Register(registration)));
                chain.members.push(Member {
                    key: key(next_seed),
                });
                conduct.insert(node_id(&identity), Conduct::Honest);
            }
            Step::Pause(secs) => pause_ms += u64::from(*secs) * 1_000,
            Step::Censor => censor_next = true,
            Step::Block => {
                let mut txs = std::mem::take(&mut pending);
                for r in answers(&chain, &conduct, &mut answered, &mut signed) {
                    held.push(chain.tx(CARRIER, Payload::Receipt(Box::new(r))));
                }
                // A proposer may leave receipts out, but within consensus rules at most
                // `grace − 1` proposers in a row are assumed to (docs/THREATS.md).
                if std::mem::take(&mut censor_next) && censored_in_a_row + 1 < grace {
                    censored_in_a_row += 1;
                    // Replayed receipts are transactions like any other: keep them only if
                    // their carrier's nonce order allows, i.e. hold every carrier tx.
                    let (carried, rest): (Vec<_>, Vec<_>) = txs
                        .into_iter()
                        .partition(|tx| matches!(tx.tx.payload, Payload::Receipt(_)));
                    held.extend(carried);
                    held.sort_by_key(|tx| tx.tx.nonce);
                    txs = rest;
                } else {
                    censored_in_a_row = 0;
                    txs.append(&mut held);
                    txs.sort_by_key(|tx| (tx.tx.sender.0, tx.tx.nonce));
                }
                block(&mut chain, txs, std::mem::take(&mut pause_ms));
                check_invariants(&chain, &counter, &conduct, &increments, &jobs);
            }
        }
    }
    // Then blocks with only the members' answers, until every job has ended.
    let mut txs = std::mem::take(&mut pending);
    txs.append(&mut held);
    txs.sort_by_key(|tx| (tx.tx.sender.0, tx.tx.nonce));
    for _ in 0..200 {
        for r in answers(&chain, &conduct, &mut answered, &mut signed) {
            txs.push(chain.tx(CARRIER, Payload::Receipt(Box::new(r))));
        }
        block(&mut chain, std::mem::take(&mut txs), 0);
        check_invariants(&chain, &counter, &conduct, &increments, &jobs);
        let lane = chain.lane(&counter);
        if lane.head == lane.next_seq {
            break;
        }
    }
    let lane = chain.lane(&counter);
    assert_eq!(lane.head, lane.next_seq, "every job ended");
    for id in &jobs {
        assert!(chain.job(id).is_final(), "job {id} ended");
    }
}

/// The escrow of a call to a TEE contract (docs/DESIGN.md §10): the caller's fee limit, less
/// its base charge, is held by the job; each agreeing member's owner is paid the fuel it used,
/// the receipts' inclusion is paid from it (their carrier pays nothing), the state the result
/// writes is charged, and the rest returns to the caller. Nothing is created or lost.
#[test]
fn the_escrow_pays_the_committee_and_its_receipts_and_the_rest_returns_to_the_caller() {
    let mut chain = Chain::priced();
    let schedule = FeeSchedule::default();
    chain.fleet(&["eu"], 0);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    assert_eq!(chain.held(), chain.supply());

    let caller_before = chain.balance(1);
    let call = chain.call_tx(1, counter, "increment", encode(&5u64));
    let job_id = queued(&chain.run(vec![call.clone()], false)[0]);
    let job = chain.job(&job_id);
    let base = schedule.base(&call) as u128;
    assert_eq!(
        job.funds.held + job.funds.receipts,
        PRICED_LIMIT as u128 - base,
        "the rest of the fee limit is in escrow"
    );
    assert_eq!(chain.balance(1), caller_before - PRICED_LIMIT as u128);
    assert_eq!(
        chain.held() + job.funds.held + job.funds.receipts,
        chain.supply()
    );

    chain.block(vec![]);
    let members = chain.committee(&job_id);
    let owners: Vec<u64> = members
        .iter()
        .map(|id| 1_001 + chain.members.iter().position(|m| m.id() == *id).unwrap() as u64)
        .collect();
    let owners_before: Vec<u128> = owners.iter().map(|s| chain.balance(*s)).collect();
    let carrier_before = chain.balance(CARRIER);
    let supply_before = chain.supply();
    chain.serve(&job_id);

    let job = chain.job(&job_id);
    let result = done(&job);
    assert_eq!(result.status, CallStatus::Ok);
    assert_eq!((job.funds.held, job.funds.receipts), (0, 0), "settled");
    // The carrier of the receipts paid nothing.
    assert_eq!(chain.balance(CARRIER), carrier_before);
    // Each member's owner was paid the fuel the job used.
    let pay = schedule.fuel(result.fuel_used) as u128;
    assert!(pay > 0);
    for (owner, before) in owners.iter().zip(owners_before) {
        assert_eq!(chain.balance(*owner), before + pay);
    }
    // Receipts' inclusion and the state the result wrote were charged (burned: these blocks
    // name no proposer); the rest came back to the caller.
    let burned = supply_before - chain.supply();
    let state = schedule.state(1 + 8 + "count".len() as u64) as u128;
    assert!(burned > 0);
    assert_eq!(
        chain.balance(1),
        caller_before - base - 2 * pay - burned,
        "refunded: the escrow less the members' pay, the receipts and the state ({state})"
    );
    assert_eq!(chain.held(), chain.supply(), "nothing created or lost");
}

/// A call whose fee limit cannot pay its committee is refused at once (it pays its base
/// charge, as any included failure does), and a job that never ran returns all its escrow.
#[test]
fn a_committee_the_limit_cannot_pay_is_refused_and_a_failed_job_refunds_its_escrow() {
    let mut chain = Chain::priced();
    let schedule = FeeSchedule::default();
    chain.fleet(&["eu"], 0);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    // The least limit a replicated call would need: enough for the fuel, not the committee.
    let probe = chain.call_tx(1, counter, "increment", encode(&1u64));
    let required = schedule.required(&probe);
    chain.chain.fee = Fee::limit(required);
    let cheap = chain.call_tx(1, counter, "increment", encode(&1u64));
    chain.chain.fee = Fee::limit(PRICED_LIMIT);
    let before = chain.balance(1);
    let statuses = chain.block(vec![probe, cheap.clone()]);
    assert!(
        rejected(&statuses[1]).contains("committee of 2"),
        "{statuses:?}"
    );
    assert_eq!(
        chain.balance(1),
        before - PRICED_LIMIT as u128 - schedule.base(&cheap) as u128,
        "the refused call paid its base charge; the other holds its limit in escrow"
    );

    // A region nobody serves: the job stalls, then fails, and the caller gets the escrow back.
    let mut chain = Chain::priced();
    chain.fleet(&["eu"], 0);
    let stranded = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["us"]);
    let before = chain.balance(1);
    let call = chain.call_tx(1, stranded, "increment", encode(&1u64));
    let job_id = queued(&chain.block(vec![call.clone()])[0]);
    for _ in 0..(MAX_STALL_MS / 1_000 + 4) {
        chain.block(vec![]);
    }
    let job = chain.job(&job_id);
    assert!(matches!(job.state, JobState::Failed(_)), "{:?}", job.state);
    assert_eq!((job.funds.held, job.funds.receipts), (0, 0));
    assert_eq!(chain.balance(1), before - schedule.base(&call) as u128);
    assert_eq!(chain.held(), chain.supply());
}

/// With fees, arbitration is paid from the escrow too: the honest member is paid, the liar is
/// not, and validators' re-execution is charged; the caller gets the rest back.
#[test]
fn an_arbitrated_job_pays_the_honest_member_and_not_the_liar() {
    let mut chain = Chain::priced();
    let schedule = FeeSchedule::default();
    chain.fleet(&["eu"], 0);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    let call = chain.call_tx(1, counter, "increment", encode(&7u64));
    let job = queued(&chain.block(vec![call.clone()])[0]);
    chain.block(vec![]);
    let committee = chain.committee(&job);
    let (honest, liar) = (committee[0], committee[1]);
    let owner = |chain: &Chain, id: &Digest| {
        1_001 + chain.members.iter().position(|m| m.id() == *id).unwrap() as u64
    };
    let (honest_owner, liar_owner) = (owner(&chain, &honest), owner(&chain, &liar));
    let (honest_before, liar_before) = (chain.balance(honest_owner), chain.balance(liar_owner));
    let lie = chain.receipt(&liar, &job, Behaviour::WrongOutput);
    let truth = chain.receipt(&honest, &job, Behaviour::Honest);
    assert_eq!(
        chain.submit(vec![lie, truth]),
        vec![ReceiptStatus::Accepted; 2]
    );
    let result = done(&chain.job(&job)).clone();
    assert_eq!(
        result.resolution,
        Resolution::Arbitrated {
            revoked: vec![liar]
        }
    );
    let pay = schedule.fuel(result.fuel_used) as u128;
    assert_eq!(chain.balance(honest_owner), honest_before + pay);
    assert_eq!(chain.balance(liar_owner), liar_before, "a liar is not paid");
    // The liar's bond is forfeited (it paid for the arbitration); the honest node keeps its.
    let record = |id: &Digest| {
        hyperchain_chain::registry::node(&StoreView(&chain.store), id)
            .unwrap()
            .unwrap()
    };
    assert_eq!(record(&liar).bond, 0);
    assert_eq!(record(&honest).bond, PRICED.node_bond as u128);
    assert_eq!(chain.held(), chain.supply(), "nothing created or lost");
    // It cannot be withdrawn later either.
    let withdraw = chain.tx(liar_owner, Payload::WithdrawBond { node: liar });
    let status = chain.block(vec![withdraw]).remove(0);
    assert!(rejected(&status).contains("holds no bond"), "{status:?}");
}

/// An owner posts a bond with its node's registration; after deregistering, the bond unlocks
/// once the unbonding delay has passed, and only the owner can take it back.
#[test]
fn a_bond_returns_to_its_owner_after_deregistration_and_the_unbonding_delay() {
    let mut chain = Chain::priced();
    let owner = 1_001;
    let before = chain.balance(owner);
    let index = chain.add_member(owner, SimFlavour::Intel, "eu");
    let node = chain.members[index].id();
    let registered = before - chain.balance(owner);
    let bond = PRICED.node_bond as u128;
    assert!(registered > bond, "the bond and the registration fee");
    let record = |chain: &Chain| {
        hyperchain_chain::registry::node(&StoreView(&chain.store), &node)
            .unwrap()
            .unwrap()
    };
    assert_eq!(record(&chain).bond, bond);
    assert_eq!(chain.held(), chain.supply());

    // Still a member: nothing to withdraw; someone else cannot deregister it.
    let early = chain.tx(owner, Payload::WithdrawBond { node });
    assert!(rejected(&chain.block(vec![early]).remove(0)).contains("still a member"));
    let stranger = chain.tx(2, Payload::Deregister { node });
    assert!(rejected(&chain.block(vec![stranger]).remove(0)).contains("owner"));

    let leave = chain.tx(owner, Payload::Deregister { node });
    assert_eq!(chain.block(vec![leave]), vec![ReceiptStatus::Accepted]);
    assert!(!chain.in_accumulator(&node), "membership ended");
    let locked = chain.tx(owner, Payload::WithdrawBond { node });
    assert!(rejected(&chain.block(vec![locked]).remove(0)).contains("unlocks"));
    for _ in 0..(PRICED.unbonding_ms / 1_000) {
        chain.block(vec![]);
    }
    let balance = chain.balance(owner);
    let withdraw = chain.tx(owner, Payload::WithdrawBond { node });
    let fee = schedule_base(&withdraw);
    assert_eq!(chain.block(vec![withdraw]), vec![ReceiptStatus::Accepted]);
    assert_eq!(chain.balance(owner), balance + bond - fee);
    assert_eq!(record(&chain).bond, 0);
    assert_eq!(chain.held(), chain.supply());
}

fn schedule_base(tx: &SignedTransaction) -> u128 {
    PRICED.base(tx) as u128
}

/// One active identity per TEE chip: another owner's second identity on the chip is refused
/// (a bond cannot be dodged by minting identities); the same owner's new identity (a restart)
/// replaces the old one and takes over its bond.
#[test]
fn a_second_identity_on_the_same_chip_is_refused_or_replaces_the_first() {
    let mut chain = Chain::priced();
    let register = |chain: &mut Chain, owner: u64, seed: u64| {
        let registration = chain.registration_on(
            address(&key(owner)),
            SimFlavour::Amd,
            b"one chip",
            hyperchain_chain::testkit::identity(seed),
            "eu",
            hyperchain_chain::testkit::TEST_IMAGE,
        );
        let tx = chain.tx(owner, Payload::Register(registration));
        chain.block(vec![tx]).remove(0)
    };
    let node = |seed: u64| node_id(&hyperchain_chain::testkit::identity(seed));
    let record = |chain: &Chain, seed: u64| {
        hyperchain_chain::registry::node(&StoreView(&chain.store), &node(seed))
            .unwrap()
            .unwrap()
    };
    let bond = PRICED.node_bond as u128;
    assert_eq!(register(&mut chain, 1, 2_001), ReceiptStatus::Accepted);
    assert_eq!(record(&chain, 2_001).bond, bond);

    // Another owner, same chip: refused while the first identity is active.
    let before = chain.balance(2);
    let status = register(&mut chain, 2, 2_002);
    assert!(
        rejected(&status).contains("already serves active node"),
        "{status:?}"
    );
    assert!(chain.balance(2) > before - bond, "no bond taken");

    // The same owner restarts the node with a new identity: it replaces the first and keeps
    // the bond (no second bond is posted).
    let before = chain.balance(1);
    assert_eq!(register(&mut chain, 1, 2_003), ReceiptStatus::Accepted);
    assert!(chain.balance(1) > before - bond, "no second bond");
    assert_eq!(record(&chain, 2_003).bond, bond);
    let old = record(&chain, 2_001);
    assert_eq!(old.bond, 0);
    assert_eq!(
        old.revoked,
        Some(hyperchain_types::RevokeReason::Replaced { by: node(2_003) })
    );
    assert!(!chain.in_accumulator(&node(2_001)));
    assert!(chain.in_accumulator(&node(2_003)));
}

/// An owner who cannot post the bond cannot register a node (and pays the registration fee).
#[test]
fn an_owner_without_the_bond_cannot_register() {
    let mut chain = Chain::priced();
    let poor = key(77);
    let fee = PRICED_LIMIT as u128;
    let grant = chain.tx(
        1,
        Payload::Transfer {
            to: address(&poor),
            amount: fee + PRICED.node_bond as u128 / 2,
        },
    );
    assert_eq!(chain.block(vec![grant]), vec![ReceiptStatus::Accepted]);
    let registration = chain.registration(
        SimFlavour::Intel,
        hyperchain_chain::testkit::identity(77),
        "eu",
        hyperchain_chain::testkit::TEST_IMAGE,
    );
    let tx = chain.tx(77, Payload::Register(registration));
    let status = chain.block(vec![tx]).remove(0);
    assert!(rejected(&status).contains("bond"), "{status:?}");
    assert!(!chain.in_accumulator(&node_id(&hyperchain_chain::testkit::identity(77))));
}

/// Epochs restart simplex's views (issue: ordered by bare view, no seed after an epoch
/// boundary would be "newer" and every TEE job would wait forever). Blocks made as consensus
/// makes them, each revealing exactly its parent's round's seed: a job ordered in the last
/// block of epoch 0 (at a high view) is not drawn by the first block of epoch 1, which reveals
/// the seed of that very block's round, but by the second, which reveals the seed of round
/// 1/1 — a later round, of a lower view. The committee executes it and the job resolves.
#[test]
fn a_job_ordered_just_before_an_epoch_boundary_is_assigned_after_it() {
    use hyperchain_types::Round;
    let mut chain = Chain::new();
    chain.fleet(&["eu"], 0);
    let counter = chain.deploy(1, COUNTER, ExecutionMode::CrossVendor, &["eu"]);
    // Epoch 0 runs to a high view, so that epoch 1's views are all lower.
    for _ in 0..50 {
        let env = chain.consensus_env(1_000, false);
        chain.execute(env, &[]);
    }
    let call = chain.call_tx(1, counter, "increment", encode(&5u64));
    let env = chain.consensus_env(1_000, false);
    let ordered_at = env.round;
    let job_id = queued(&chain.execute(env, std::slice::from_ref(&call))[0]);
    assert!(ordered_at.view > 50, "{ordered_at}");
    assert_eq!(chain.job(&job_id).round, ordered_at);

    // Epoch 1, view 1: it reveals the seed of the boundary block's own round, which the job's
    // proposer knew. Not drawn.
    let env = chain.consensus_env(1_000, true);
    assert_eq!(env.round, Round::new(1, 1));
    assert_eq!(env.seed.unwrap().round, ordered_at);
    chain.execute(env, &[]);
    assert_eq!(chain.job(&job_id).state, JobState::Waiting);

    // Epoch 1, view 2: the seed of round 1/1 is later than the job's (though its view is lower).
    let env = chain.consensus_env(1_000, false);
    assert_eq!(env.seed.unwrap().round, Round::new(1, 1));
    chain.execute(env, &[]);
    let job = chain.job(&job_id);
    assert_eq!(job.state, JobState::Assigned);
    let assignment = job.assignment.clone().unwrap();
    assert_eq!(assignment.seed_round, Round::new(1, 1));
    assert!(assignment.seed_round > job.round && assignment.seed_round.view < job.round.view);

    chain.serve(&job_id);
    assert_eq!(
        decode_all::<u64>(&done(&chain.job(&job_id)).output).unwrap(),
        5
    );
}
