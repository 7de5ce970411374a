//! Jobs and lanes over RPC: a call to a cross-vendor contract becomes a job, its committee is
//! listed with the seed that drew it, members find it with `GET /jobs?node=`, fetch it with a
//! proof, answer with receipts, and the result shows up in `GET /job/{id}`; bad requests get
//! clear errors.

use crate::common::*;
use commonware_codec::DecodeExt as _;
use commonware_cryptography::Signer as _;
use hyperchain_attest::sim::SimFlavour;
use hyperchain_chain::execute::{contract_key, read_code};
use hyperchain_chain::lanes;
use hyperchain_contracts::COUNTER;
use hyperchain_rpc::api::ReceiptOutcome;
use hyperchain_sdk::encode;
use hyperchain_state::TreeId;
use hyperchain_types::{
    ComputeRequest, ContractRecord, ExecutionMode, GovernanceAction, Payload, SeedReveal,
    SenderKey, contract_address, node_id,
};
use hyperchain_vm::{StorageError, StorageReader};
use std::sync::Arc;
use std::time::Duration;

struct Reader(hyperchain_state::Snapshot, TreeId);

impl StorageReader for Reader {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.0
            .get(&self.1, key)
            .map_err(|e| StorageError(e.to_string()))
    }
}

/// Produces a block, records a seed for its view and produces the block that reveals it:
/// every job ordered so far may then be assigned. Returns the seed's view.
async fn reveal_later_seed(node: &TestNode, signature: [u8; 48]) -> hyperchain_types::Round {
    node.produce_block().await;
    let round = node
        .ledger
        .block(node.ledger.tip().0)
        .unwrap()
        .unwrap()
        .header
        .round();
    node.ledger.record_seed(round, signature);
    node.produce_block().await;
    round
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_listed_fetched_answered_and_resolved() {
    let node = TestNode::start().await;
    let image = b"runtime".to_vec();
    node.finalize_txs(vec![tx(
        GOVERNANCE_SEED,
        0,
        Payload::Propose(GovernanceAction::AddRelease {
            version: "v1".into(),
            image: image.clone(),
            measurements: vec![],
        }),
    )])
    .await;
    // One Intel and one AMD node in eu (identity keys 7 and 8; each its own account).
    let tip = node.client.status().await.unwrap();
    let mut registrations = Vec::new();
    for (seed, flavour) in [(7u64, SimFlavour::Intel), (8, SimFlavour::Amd)] {
        let identity = SenderKey::from(key(seed).public_key()).0;
        let registration = sim_registration(seed, flavour, &identity, &image, &tip);
        registrations.push(tx(seed, 0, Payload::Register(registration)));
    }
    node.finalize_txs(registrations).await;

    let alice = key(1);
    let counter = contract_address(&address(&alice), 0);
    let replicated = contract_address(&address(&alice), 1);
    let deploy = tx(
        1,
        0,
        Payload::Deploy {
            code: COUNTER.to_vec(),
            mode: ExecutionMode::CrossVendor,
            regions: vec!["eu".into()],
        },
    );
    let call = call(&alice, 2, counter, "increment", encode(&5u64));
    let job_id = call.id();
    node.finalize_txs(vec![
        deploy,
        super::common::deploy(&alice, 1, COUNTER),
        call,
    ])
    .await;
    let receipt = node
        .client
        .wait_for_receipt(&job_id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        receipt.outcome,
        ReceiptOutcome::Queued {
            job: job_id,
            lane_seq: 0
        }
    );
    let job = node.client.job(&job_id).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.lane_seq), ("waiting", 0));
    assert!(job.assignment.is_none());

    // A block later, the next block reveals the seed of a view after the job's: assigned.
    let round = reveal_later_seed(&node, [9; 48]).await;
    let job = node.client.job(&job_id).await.unwrap().unwrap();
    assert_eq!(job.state, "assigned");
    let assignment = job.assignment.clone().unwrap();
    assert_eq!(assignment.seed_round, round.into());
    assert_eq!(
        assignment.seed,
        SeedReveal {
            round,
            signature: [9; 48]
        }
        .randomness()
    );
    let vendors: Vec<&str> = assignment
        .committee
        .iter()
        .map(|m| m.vendor.as_str())
        .collect();
    assert_eq!(vendors, ["intel", "amd"]);
    let intel = node_id(&SenderKey::from(key(7).public_key()).0);
    assert_eq!(assignment.committee[0].id, intel);

    // A second call queues behind the head: listed as waiting, not as anyone's work.
    let second = super::common::call(&alice, 3, counter, "increment", encode(&1u64));
    let second_id = second.id();
    node.finalize_txs(vec![second]).await;

    // Members discover it; others do not.
    let mine = node
        .client
        .jobs(&[("node", &intel.to_string())])
        .await
        .unwrap();
    assert_eq!(
        mine.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![job_id]
    );
    let stranger = node_id(&[3; 32]).to_string();
    assert!(
        node.client
            .jobs(&[("node", &stranger)])
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    let ids = |resp: hyperchain_rpc::api::JobsResponse| -> Vec<_> {
        resp.jobs.iter().map(|j| j.id).collect()
    };
    let pending = node.client.jobs(&[]).await.unwrap();
    assert_eq!(ids(pending), vec![job_id, second_id]);
    let assigned = node.client.jobs(&[("state", "assigned")]).await.unwrap();
    assert_eq!(ids(assigned), vec![job_id]);
    let waiting = node.client.jobs(&[("state", "waiting")]).await.unwrap();
    assert_eq!(ids(waiting), vec![second_id]);
    let lane = node.client.lane(&counter).await.unwrap().unwrap();
    assert_eq!(
        (lane.mode.as_str(), lane.next_seq, lane.head),
        ("cross-vendor", 2, 0)
    );
    assert_eq!(lane.regions, vec!["eu".to_string()]);
    // Its head is assigned: the lane waits for the head's deadline.
    assert_eq!(lane.queue, "due");
    let deadline = node
        .client
        .job(&job_id)
        .await
        .unwrap()
        .unwrap()
        .assignment
        .unwrap()
        .deadline_ms;
    assert_eq!(lane.due_ms, Some(deadline / 1000 * 1000));

    // The authenticated fetch of a job proves its record, lane and contract record.
    let resp = node
        .client
        .compute_fetch(&key(7), &chain_id(), &ComputeRequest::Job(job_id), now_ms())
        .await
        .unwrap();
    let keys: Vec<Vec<u8>> = resp.entries.iter().map(|e| e.key.0.clone()).collect();
    assert_eq!(
        keys,
        vec![
            lanes::job_key(&job_id),
            lanes::lane_key(&counter),
            contract_key(&counter)
        ]
    );
    let state_root = node.client.status().await.unwrap().state_root;
    for entry in &resp.entries {
        let proof = hyperchain_merkle::StateProof::decode(&entry.proof.0).unwrap();
        hyperchain_merkle::verify_state_proof(
            &state_root.0,
            &hyperchain_merkle::TreeId::ROOT,
            &entry.key.0,
            entry.value.as_ref().map(|v| v.0.as_slice()),
            &proof,
        )
        .unwrap();
    }

    // Both members answer (receipts computed on the finalized state) and the job resolves.
    let snapshot = node.ledger.snapshot().unwrap();
    let job_record = lanes::job(&snapshot, &job_id).unwrap().unwrap();
    let lane_record = lanes::lane(&snapshot, &counter).unwrap().unwrap();
    let record = ContractRecord::decode(bytes::Bytes::from(
        snapshot
            .get(&TreeId::ROOT, &contract_key(&counter))
            .unwrap()
            .unwrap(),
    ))
    .unwrap();
    let code = read_code(|k| snapshot.get(&TreeId::ROOT, k), &record.code_hash).unwrap();
    let module = engine().load(&code).unwrap();
    let outcome = lanes::run_job(
        &engine(),
        &module,
        &job_record,
        Arc::new(Reader(node.ledger.snapshot().unwrap(), TreeId(counter.0))),
    )
    .unwrap();
    for seed in [7u64, 8] {
        let receipt = lanes::expected_receipt(
            chain_id(),
            record.code_hash,
            lane_record.state,
            &job_record,
            outcome.clone(),
        )
        .sign(&key(seed));
        node.client
            .submit(&tx(seed, 1, Payload::Receipt(Box::new(receipt))))
            .await
            .unwrap();
    }
    // A third call, in the block that resolves the first.
    let third = super::common::call(&alice, 4, counter, "increment", encode(&2u64));
    let third_id = third.id();
    node.client.submit(&third).await.unwrap();
    node.produce_block().await;
    let job = node.client.job(&job_id).await.unwrap().unwrap();
    assert_eq!(job.state, "done");
    let result = job.result.unwrap();
    assert_eq!(result.resolution, "agreed");
    assert_eq!(result.output.0, encode(&5u64));
    assert_eq!(
        job.assignment.unwrap().answered.len(),
        0,
        "receipts are not kept once applied"
    );
    assert_eq!(
        ids(node.client.jobs(&[]).await.unwrap()),
        vec![second_id, third_id],
        "the later calls are pending"
    );
    let second = node.client.job(&second_id).await.unwrap().unwrap();
    assert_eq!(
        second.state, "waiting",
        "not drawn by a seed the block knew"
    );
    let resolved_in = node.ledger.block(node.ledger.tip().0).unwrap().unwrap();
    assert_eq!(second.drawable_after, resolved_in.header.round().into());

    // A seed of a later view draws the second call's committee, which also takes the third
    // (ordered before that seed), and a member's listing shows the run in lane order.
    reveal_later_seed(&node, [10; 48]).await;
    let run = node
        .client
        .jobs(&[("node", &intel.to_string())])
        .await
        .unwrap();
    assert_eq!(ids(run), vec![second_id, third_id]);
    assert_eq!(
        ids(node.client.jobs(&[("state", "assigned")]).await.unwrap()),
        vec![second_id, third_id]
    );
    let follower = node.client.job(&third_id).await.unwrap().unwrap();
    assert_eq!(
        follower.assignment.unwrap().seed_round,
        node.client
            .job(&second_id)
            .await
            .unwrap()
            .unwrap()
            .assignment
            .unwrap()
            .seed_round
    );
    let lane = node.client.lane(&counter).await.unwrap().unwrap();
    assert_eq!((lane.head, lane.chain), (1, lane.state));
    let done = node
        .client
        .jobs(&[("contract", &counter.to_string()), ("state", "done")])
        .await
        .unwrap();
    assert_eq!(done.jobs.len(), 1);

    // Errors.
    let url = &node.url;
    for (path, status, says) in [
        ("/job/zz".to_string(), 400, "job id"),
        (format!("/job/{}", "ab".repeat(32)), 404, "no job"),
        ("/jobs?state=finished".to_string(), 400, "bad state"),
        ("/jobs?colour=blue".to_string(), 400, "colour"),
        ("/jobs?node=12".to_string(), 400, "node id"),
        (
            format!("/jobs?contract={replicated}"),
            404,
            "not a TEE contract",
        ),
        (format!("/lane/{replicated}"), 404, "no lane"),
    ] {
        let (code, body) = raw(reqwest::Method::GET, &format!("{url}{path}"), None).await;
        assert_eq!(code, status, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{path}: {body}"
        );
    }
    node.stop().await;
}
