//! The happy path: submit, pending → finalized, blocks, query, proofs, status, nonce, long poll.

use crate::common::*;
use hyperchain_contracts::COUNTER;
use hyperchain_merkle::TreeId;
use hyperchain_rpc::api::{QueryRequest, ReceiptOutcome, TxStatus};
use hyperchain_rpc::client::verify_proof_response;
use hyperchain_rpc::{ClientError, api::Hex};
use hyperchain_sdk::encode;
use hyperchain_types::contract_address;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_call_query_prove_and_follow() {
    let node = TestNode::start().await;
    let client = &node.client;
    let alice = key(1);
    let counter = contract_address(&address(&alice), 0);

    let status = client.status().await.unwrap();
    assert_eq!((status.height, status.mempool), (0, 0));
    assert_eq!(status.chain_id, chain_id());
    assert_eq!(status.digest, node.ledger.genesis().digest());
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));

    // Submitted transactions are pending until a block finalizes them.
    let deploy_id = client.submit(&deploy(&alice, 0, COUNTER)).await.unwrap();
    let call_id = client
        .submit(&call(&alice, 1, counter, "increment", encode(&4u64)))
        .await
        .unwrap();
    assert_eq!(
        client.tx_status(&deploy_id).await.unwrap(),
        TxStatus::Pending
    );
    assert_eq!(client.tx_status(&call_id).await.unwrap(), TxStatus::Pending);
    assert_eq!(client.status().await.unwrap().mempool, 2);
    assert_eq!(client.nonce(&address(&alice)).await.unwrap(), 0);

    let b1 = node.produce_block().await;
    assert_eq!(b1.txs.len(), 2);
    let TxStatus::Finalized { receipt } = client.tx_status(&deploy_id).await.unwrap() else {
        panic!("deploy not finalized");
    };
    assert_eq!((receipt.height, receipt.index), (1, 0));
    assert!(matches!(
        receipt.outcome,
        ReceiptOutcome::Deployed { address, .. } if address == counter
    ));
    let TxStatus::Finalized { receipt } = client.tx_status(&call_id).await.unwrap() else {
        panic!("call not finalized");
    };
    assert_eq!((receipt.height, receipt.index), (1, 1));
    assert!(receipt.fuel_used > 0);
    let ReceiptOutcome::Called {
        status,
        output,
        events,
    } = receipt.outcome
    else {
        panic!("not a call receipt");
    };
    assert!(status.is_ok(), "{status:?}");
    assert_eq!(output, Hex(encode(&4u64)));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].topic, Hex(b"incremented".to_vec()));

    // Blocks by height and digest, with their certificates (none for genesis).
    let view = client.block(1).await.unwrap().unwrap();
    assert_eq!(view.digest, b1.digest());
    assert_eq!(view.txs, vec![deploy_id, call_id]);
    assert_eq!(view.finalization, Some(Hex(TestCertificates::of(1))));
    assert_eq!(
        client.block_by_digest(&b1.digest()).await.unwrap(),
        Some(view)
    );
    let genesis = client.block(0).await.unwrap().unwrap();
    assert_eq!(genesis.finalization, None);
    assert_eq!(client.block(2).await.unwrap(), None);
    // And with their transactions, checked against the block's ids and tx root.
    let (with_txs, txs) = client.block_transactions(1).await.unwrap().unwrap();
    assert_eq!(Some(with_txs), client.block(1).await.unwrap());
    assert_eq!(txs, b1.txs);
    assert_eq!(client.block_transactions(2).await.unwrap(), None);

    let status = client.status().await.unwrap();
    assert_eq!((status.height, status.mempool), (1, 0));
    assert_eq!(status.state_root, b1.header.state_root);
    assert_eq!(client.nonce(&address(&alice)).await.unwrap(), 2);

    // A read-only query sees the finalized value and changes nothing.
    let get = QueryRequest::new(counter, "get", vec![]);
    let answer = client.query(&get).await.unwrap();
    assert!(answer.status.is_ok());
    assert_eq!(answer.output, Hex(encode(&4u64)));
    assert_eq!(
        (answer.height, answer.state_root),
        (1, b1.header.state_root)
    );
    let increment = QueryRequest::new(counter, "increment", encode(&10u64));
    let answer = client.query(&increment).await.unwrap();
    assert_eq!(answer.output, Hex(encode(&14u64)));
    assert_eq!(answer.writes.len(), 1);
    let storage_key = answer.reads.first().unwrap().clone();
    assert_eq!(
        client.query(&get).await.unwrap().output,
        Hex(encode(&4u64)),
        "query writes are discarded"
    );
    assert_eq!(
        client.status().await.unwrap().state_root,
        b1.header.state_root
    );
    // Contract faults are outcomes, not errors.
    let answer = client
        .query(&QueryRequest::new(counter, "no_such", vec![]))
        .await
        .unwrap();
    assert_eq!(answer.status.status, "trap");
    assert_eq!(answer.status.detail.as_deref(), Some("no_such_method"));

    // Proofs: a contract's storage value, an absent key, a root-tree value.
    let tree = TreeId(counter.0);
    let proven = client.proof(&tree, &storage_key.0).await.unwrap();
    assert_eq!(proven.value, Some(encode(&4u64)));
    assert_eq!(
        (proven.height, proven.state_root),
        (1, b1.header.state_root)
    );
    let absent = client.proof(&tree, b"missing").await.unwrap();
    assert_eq!(absent.value, None);
    // Accounts are state like any value: nonce and balance in one provable record.
    let account_key = hyperchain_chain::fees::account_key(&address(&alice));
    let proven = client.proof(&TreeId::ROOT, &account_key).await.unwrap();
    let record = hyperchain_chain::fees::Account::decode(proven.value.as_deref()).unwrap();
    assert_eq!(record.nonce, 2);

    // Tampered answers fail verification.
    let (code, body) = raw(
        reqwest::Method::GET,
        &format!(
            "{}/state/proof?tree={counter}&key={}",
            node.url,
            hex::encode(&storage_key.0)
        ),
        None,
    )
    .await;
    assert_eq!(code, 200);
    let resp: hyperchain_rpc::api::ProofResponse = serde_json::from_value(body).unwrap();
    verify_proof_response(&resp).unwrap();
    let mut wrong_value = resp.clone();
    wrong_value.value = Some(Hex(encode(&5u64)));
    assert!(matches!(
        verify_proof_response(&wrong_value),
        Err(ClientError::InvalidProof(_))
    ));
    let mut wrong_root = resp.clone();
    wrong_root.state_root = hyperchain_types::sha256(b"another root");
    assert!(verify_proof_response(&wrong_root).is_err());
    let mut flipped = resp.clone();
    let last = flipped.proof.0.len() - 1;
    flipped.proof.0[last] ^= 1;
    assert!(verify_proof_response(&flipped).is_err());
    let mut absent = resp.clone();
    absent.value = None;
    assert!(verify_proof_response(&absent).is_err());

    // Long poll: nothing yet, then the next block as soon as it is finalized.
    let empty = client
        .subscribe(2, Duration::from_millis(100))
        .await
        .unwrap();
    assert!(empty.blocks.is_empty());
    assert_eq!(empty.tip, 1);
    let waiter = {
        let client = client.clone();
        tokio::spawn(async move { client.subscribe(2, Duration::from_secs(20)).await })
    };
    let receipt_waiter = {
        let client = client.clone();
        let tx = call(&alice, 2, counter, "increment", encode(&1u64));
        let id = client.submit(&tx).await.unwrap();
        tokio::spawn(async move { client.wait_for_receipt(&id, Duration::from_secs(20)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished());
    let b2 = node.produce_block().await;
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.blocks.len(), 1);
    assert_eq!(got.blocks[0].digest, b2.digest());
    assert_eq!(
        got.blocks[0].finalization,
        Some(Hex(TestCertificates::of(2)))
    );
    let receipt = receipt_waiter.await.unwrap().unwrap();
    assert_eq!(receipt.height, 2);
    // From an old height, the blocks since then.
    let all = client.subscribe(0, Duration::ZERO).await.unwrap();
    assert_eq!(all.blocks.len(), 3);
    assert_eq!(all.tip, 2);

    // A transaction whose nonce another finalized transaction took is dropped.
    let mine = call(&alice, 3, counter, "increment", encode(&1u64));
    let id = client.submit(&mine).await.unwrap();
    node.finalize_txs(vec![call(&alice, 3, counter, "reset", vec![])])
        .await;
    assert!(matches!(
        client.tx_status(&id).await.unwrap(),
        TxStatus::Dropped { .. }
    ));
    assert!(matches!(
        client.wait_for_receipt(&id, Duration::from_secs(5)).await,
        Err(ClientError::Dropped(_))
    ));
    assert!(node.mempool.is_empty());

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_long_polls() {
    let node = TestNode::start().await;
    let client = node.client.clone();
    let poll = tokio::spawn(async move { client.subscribe(5, Duration::from_secs(30)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    node.stop().await;
    let answer = poll.await.unwrap().unwrap();
    assert!(answer.blocks.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
}
