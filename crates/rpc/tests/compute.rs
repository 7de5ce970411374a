//! Round-trip authentication: compute nodes fetch code and state with requests signed by
//! their identity key, served only while they are current members, each value with a proof.

use crate::common::*;
use hyperchain_attest::sim::SimFlavour;
use hyperchain_contracts::COUNTER;
use hyperchain_rpc::ClientError;
use hyperchain_sdk::encode;
use hyperchain_types::{
    ComputeRequest, GovernanceAction, Payload, Revocation, contract_address, node_id,
};

fn status_of(e: &ClientError) -> u16 {
    e.status().map(|s| s.as_u16()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_fetch_proven_code_and_state_and_no_one_else_does() {
    let node = TestNode::start().await;
    let alice = key(1);
    let counter = contract_address(&address(&alice), 0);
    let image = b"runtime".to_vec();
    node.finalize_txs(vec![
        deploy(&alice, 0, COUNTER),
        call(&alice, 1, counter, "increment", encode(&5u64)),
        tx(
            GOVERNANCE_SEED,
            0,
            Payload::Propose(GovernanceAction::AddRelease {
                version: "v1".into(),
                image: image.clone(),
                measurements: vec![],
            }),
        ),
    ])
    .await;

    // The node registers with simulated evidence bound to the latest finalized block.
    let identity = key(7);
    let tip = node.client.status().await.unwrap();
    let registration = sim_registration(7, SimFlavour::Amd, b"seed", &image, &tip);
    let registration_key = registration.identity_key;
    let b = node
        .finalize_txs(vec![tx(7, 0, Payload::Register(registration))])
        .await;
    assert_eq!(
        node.ledger.receipt(&b.txs[0].id()).unwrap().unwrap().status,
        hyperchain_types::ReceiptStatus::Accepted
    );

    // State: the counter's storage, each value with a proof against the finalized root.
    let state_root = node.client.status().await.unwrap().state_root;
    let get = ComputeRequest::State {
        contract: counter,
        keys: vec![b"count".to_vec(), b"absent".to_vec()],
    };
    let resp = node
        .client
        .compute_fetch(&identity, &chain_id(), &get, now_ms())
        .await
        .unwrap();
    assert_eq!(resp.entries.len(), 2);
    for entry in &resp.entries {
        let proof = hyperchain_merkle::StateProof::decode(&entry.proof.0).unwrap();
        hyperchain_merkle::verify_state_proof(
            &state_root.0,
            &hyperchain_merkle::TreeId(counter.0),
            &entry.key.0,
            entry.value.as_ref().map(|v| v.0.as_slice()),
            &proof,
        )
        .unwrap();
    }
    assert_eq!(
        resp.entries[0].value.as_ref().map(|v| v.0.clone()),
        Some(5u64.to_le_bytes().to_vec())
    );
    assert!(resp.entries[1].value.is_none());
    assert_eq!(
        resp.header.0.len(),
        <hyperchain_types::Header as commonware_codec::FixedSize>::SIZE
    );

    // Code: the module's chunks, then a proof that there is no further chunk.
    let code = ComputeRequest::Code(hyperchain_types::sha256(COUNTER));
    let resp = node
        .client
        .compute_fetch(&identity, &chain_id(), &code, now_ms())
        .await
        .unwrap();
    let chunks: Vec<u8> = resp
        .entries
        .iter()
        .filter_map(|e| e.value.as_ref())
        .flat_map(|v| v.0.clone())
        .collect();
    assert_eq!(chunks, COUNTER);
    assert!(resp.entries.last().unwrap().value.is_none());

    // Anyone else is refused, with the reason.
    let stranger = key(8);
    let err = node
        .client
        .compute_fetch(&stranger, &chain_id(), &get, now_ms())
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 403, "{err}");
    assert!(err.to_string().contains("not registered"), "{err}");
    // A stale (replayed) request.
    let err = node
        .client
        .compute_fetch(&identity, &chain_id(), &get, now_ms() - 10 * 60_000)
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 401, "{err}");
    assert!(err.to_string().contains("stale"), "{err}");
    // Signed for another chain: the signature does not verify here.
    let err = node
        .client
        .compute_fetch(
            &identity,
            &hyperchain_types::Digest([9; 32]),
            &get,
            now_ms(),
        )
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 401, "{err}");
    assert!(err.to_string().contains("bad signature"), "{err}");

    // Revoked: refused at once.
    node.finalize_txs(vec![tx(
        GOVERNANCE_SEED,
        1,
        Payload::Propose(GovernanceAction::Revoke(Revocation::Node(node_id(
            &registration_key,
        )))),
    )])
    .await;
    let err = node
        .client
        .compute_fetch(&identity, &chain_id(), &get, now_ms())
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 403, "{err}");
    assert!(err.to_string().contains("revoked"), "{err}");
    node.stop().await;
}
