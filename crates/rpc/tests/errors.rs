//! Bad requests get clear JSON errors with proper status codes and change nothing.

use crate::common::*;
use commonware_codec::Encode as _;
use hyperchain_contracts::COUNTER;
use hyperchain_rpc::ClientError;
use hyperchain_rpc::RpcConfig;
use hyperchain_rpc::api::{QueryRequest, TxStatus};
use hyperchain_rpc::server::MAX_BODY;
use hyperchain_sdk::encode;
use hyperchain_types::{Transaction, contract_address, sha256};
use reqwest::Method;

/// Asserts `code` and that the `error` message contains `needle`.
async fn expect(
    node: &TestNode,
    method: Method,
    path: &str,
    body: Option<&str>,
    code: u16,
    needle: &str,
) {
    let (got, json) = raw(
        method,
        &format!("{}{path}", node.url),
        body.map(|b| b.as_bytes().to_vec()),
    )
    .await;
    let message = json["error"].as_str().unwrap_or_default();
    assert_eq!(got, code, "{path}: {json}");
    assert!(
        message.contains(needle),
        "{path}: `{message}` does not mention `{needle}`"
    );
}

fn tx_body(tx: &hyperchain_types::SignedTransaction) -> String {
    format!(r#"{{"tx":"{}"}}"#, hex::encode(tx.encode()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_change_nothing() {
    let node = TestNode::start().await;
    let alice = key(1);
    let counter = contract_address(&address(&alice), 0);
    node.client
        .submit(&deploy(&alice, 0, COUNTER))
        .await
        .unwrap();
    node.produce_block().await;
    let before = node.client.status().await.unwrap();
    assert_eq!((before.height, before.mempool), (1, 0));

    // Submissions.
    let post = Method::POST;
    expect(
        &node,
        post.clone(),
        "/tx",
        Some("not json"),
        400,
        "malformed JSON body",
    )
    .await;
    expect(
        &node,
        post.clone(),
        "/tx",
        Some(r#"{"tx":"zz"}"#),
        400,
        "invalid hex",
    )
    .await;
    expect(
        &node,
        post.clone(),
        "/tx",
        Some(r#"{"tx":"00"}"#),
        400,
        "malformed transaction",
    )
    .await;
    expect(
        &node,
        post.clone(),
        "/tx",
        Some(r#"{"tx":"","x":1}"#),
        400,
        "unknown field",
    )
    .await;
    let good = call(&alice, 1, counter, "increment", encode(&1u64));
    let mut trailing = good.encode().to_vec();
    trailing.push(0);
    let body = format!(r#"{{"tx":"{}"}}"#, hex::encode(&trailing));
    expect(
        &node,
        post.clone(),
        "/tx",
        Some(&body),
        400,
        "malformed transaction",
    )
    .await;
    let mut forged = good.clone();
    forged.tx.nonce = 2;
    expect(
        &node,
        post.clone(),
        "/tx",
        Some(&tx_body(&forged)),
        400,
        "bad signature",
    )
    .await;
    let other_chain = Transaction {
        chain_id: sha256(b"another chain"),
        ..good.tx.clone()
    }
    .sign(&alice);
    expect(
        &node,
        post.clone(),
        "/tx",
        Some(&tx_body(&other_chain)),
        400,
        "wrong chain id",
    )
    .await;
    let stale = call(&alice, 0, counter, "increment", encode(&1u64));
    expect(
        &node,
        post.clone(),
        "/tx",
        Some(&tx_body(&stale)),
        400,
        "stale nonce",
    )
    .await;
    let huge = format!(r#"{{"tx":"{}"}}"#, "00".repeat(MAX_BODY / 2 + 1));
    expect(&node, post.clone(), "/tx", Some(&huge), 413, "").await;
    let after = node.client.status().await.unwrap();
    assert_eq!(after, before, "refused submissions change nothing");

    // A duplicate of an accepted transaction is refused; the original stays.
    let id = node.client.submit(&good).await.unwrap();
    let duplicate = node.client.submit(&good).await.unwrap_err();
    assert_eq!(duplicate.status().map(|s| s.as_u16()), Some(400));
    assert!(
        duplicate.to_string().contains("already queued"),
        "{duplicate}"
    );
    assert_eq!(node.client.status().await.unwrap().mempool, 1);
    assert_eq!(node.client.tx_status(&id).await.unwrap(), TxStatus::Pending);

    // Lookups.
    let get = Method::GET;
    expect(
        &node,
        get.clone(),
        "/tx/xyz",
        None,
        400,
        "bad transaction id",
    )
    .await;
    let unknown = sha256(b"unknown");
    expect(
        &node,
        get.clone(),
        &format!("/tx/{unknown}"),
        None,
        404,
        "unknown transaction",
    )
    .await;
    assert_eq!(
        node.client.tx_status(&unknown).await.unwrap(),
        TxStatus::Unknown
    );
    expect(&node, get.clone(), "/block/abc", None, 400, "bad height").await;
    expect(&node, get.clone(), "/block/-1", None, 400, "bad height").await;
    expect(
        &node,
        get.clone(),
        "/block/7",
        None,
        404,
        "no finalized block at height 7",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/block/abc/txs",
        None,
        400,
        "bad height",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/block/7/txs",
        None,
        404,
        "no finalized block at height 7",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/block/hash/12",
        None,
        400,
        "bad block digest",
    )
    .await;
    expect(
        &node,
        get.clone(),
        &format!("/block/hash/{unknown}"),
        None,
        404,
        "no finalized block",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/account/xyz/nonce",
        None,
        400,
        "bad address",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/blocks/subscribe?from=x",
        None,
        400,
        "from",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/blocks/subscribe?timeout_ms=600000",
        None,
        400,
        "timeout_ms",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/blocks/subscribe?limit=0",
        None,
        400,
        "limit",
    )
    .await;

    // Proofs.
    expect(&node, get.clone(), "/state/proof", None, 400, "key").await;
    expect(
        &node,
        get.clone(),
        "/state/proof?key=zz",
        None,
        400,
        "bad key",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/state/proof?tree=12&key=00",
        None,
        400,
        "bad tree",
    )
    .await;
    let long_key = "00".repeat(2000);
    expect(
        &node,
        get.clone(),
        &format!("/state/proof?key={long_key}"),
        None,
        400,
        "longer",
    )
    .await;

    // Queries.
    let q = |req: &QueryRequest| serde_json::to_string(req).unwrap();
    let nobody = QueryRequest::new(sha256(b"nobody").0.into(), "get", vec![]);
    expect(
        &node,
        post.clone(),
        "/query",
        Some(&q(&nobody)),
        404,
        "no contract at",
    )
    .await;
    let mut greedy = QueryRequest::new(counter, "get", vec![]);
    greedy.fuel_limit = Some(u64::MAX);
    expect(
        &node,
        post.clone(),
        "/query",
        Some(&q(&greedy)),
        400,
        "fuel_limit",
    )
    .await;
    let long = QueryRequest::new(counter, "m".repeat(100), vec![]);
    expect(
        &node,
        post.clone(),
        "/query",
        Some(&q(&long)),
        400,
        "method name",
    )
    .await;
    expect(
        &node,
        post.clone(),
        "/query",
        Some(r#"{"contract":"00"}"#),
        400,
        "64 hex digits",
    )
    .await;
    expect(
        &node,
        post.clone(),
        "/query",
        Some("[]"),
        400,
        "malformed JSON body",
    )
    .await;

    // Routing.
    expect(&node, get.clone(), "/nope", None, 404, "no such endpoint").await;
    expect(
        &node,
        Method::DELETE,
        "/status",
        None,
        405,
        "method not allowed",
    )
    .await;
    expect(&node, get.clone(), "/tx", None, 405, "method not allowed").await;

    // The client reports the node's message.
    let err = node.client.query(&greedy).await.unwrap_err();
    assert!(matches!(err, ClientError::Api { status: 400, .. }), "{err}");
    assert!(hyperchain_rpc::Client::new("ftp://x").is_err());

    let end = node.client.status().await.unwrap();
    assert_eq!(
        (end.height, end.state_root, end.mempool),
        (1, before.state_root, 1)
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_submission_gets_one_verdict_per_transaction() {
    let node = TestNode::start().await;
    let alice = key(1);
    let bob = key(2);
    let counter = contract_address(&address(&alice), 0);
    node.client
        .submit(&deploy(&alice, 0, COUNTER))
        .await
        .unwrap();
    node.produce_block().await;

    let good = call(&alice, 1, counter, "increment", encode(&1u64));
    let mut forged = call(&bob, 0, counter, "increment", encode(&1u64));
    forged.tx.nonce = 1;
    let stale = call(&alice, 0, counter, "increment", encode(&1u64));
    let next = call(&alice, 2, counter, "increment", encode(&2u64));
    let verdicts = node
        .client
        .submit_batch(&[good.clone(), forged, stale, next.clone(), good.clone()])
        .await
        .unwrap();
    assert_eq!(verdicts[0], Ok(good.id()));
    assert!(verdicts[1].as_ref().unwrap_err().contains("bad signature"));
    assert!(verdicts[2].as_ref().unwrap_err().contains("stale nonce"));
    assert_eq!(verdicts[3], Ok(next.id()));
    assert!(verdicts[4].as_ref().unwrap_err().contains("already queued"));
    assert_eq!(node.client.status().await.unwrap().mempool, 2);

    // Undecodable entries are refused one by one; the request as a whole is refused only
    // when it is not a valid request.
    let body = format!(r#"{{"txs":["00","{}"]}}"#, "ab".repeat(3));
    let (code, json) = raw(
        Method::POST,
        &format!("{}/txs", node.url),
        Some(body.into_bytes()),
    )
    .await;
    assert_eq!(code, 200, "{json}");
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .contains("malformed transaction"),
            "{r}"
        );
        assert!(r.get("id").is_none());
    }
    expect(
        &node,
        Method::POST,
        "/txs",
        Some(r#"{"txs":["zz"]}"#),
        400,
        "invalid hex",
    )
    .await;
    let too_many = format!(
        r#"{{"txs":[{}]}}"#,
        vec![r#""00""#; hyperchain_rpc::api::MAX_SUBMIT_BATCH + 1].join(",")
    );
    expect(
        &node,
        Method::POST,
        "/txs",
        Some(&too_many),
        400,
        "too many transactions",
    )
    .await;
    assert_eq!(node.client.status().await.unwrap().mempool, 2);

    // The accepted ones are finalized like any other.
    node.produce_block().await;
    let answer = node
        .client
        .query(&QueryRequest::new(counter, "get", vec![]))
        .await
        .unwrap();
    assert_eq!(answer.output, hyperchain_rpc::api::Hex(encode(&3u64)));
}

/// Found in the code: RPC queries ran on the block executor's engine, so enough concurrent
/// queries made block execution find every instance slot taken and fail with `Busy`. Queries
/// run on the server's own engine, at most `max_concurrent_queries` at once (more are refused
/// at once), and blocks execute whatever the query load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_load_never_takes_the_block_executors_engine() {
    // A block executor with a single instance slot: one stolen slot would fail its block.
    let executor_engine = hyperchain_vm::Engine::new(hyperchain_vm::EngineConfig {
        max_concurrent_calls: 1,
        ..hyperchain_vm::EngineConfig::default()
    })
    .unwrap();
    let config = RpcConfig {
        max_concurrent_queries: 2,
        max_query_fuel: 10_000_000_000,
        ..RpcConfig::default()
    };
    let node = TestNode::start_with(executor_engine, config).await;
    let alice = key(1);
    let counter = contract_address(&address(&alice), 0);
    let spinner = contract_address(&address(&alice), 1);
    node.finalize_txs(vec![
        deploy(&alice, 0, COUNTER),
        deploy(&alice, 1, hyperchain_contracts::ADVERSARIAL),
    ])
    .await;

    // Eight long queries at once: two run, the others are refused at once.
    let long = {
        let mut q = QueryRequest::new(spinner, "infinite_loop", vec![]);
        q.fuel_limit = Some(10_000_000_000);
        q
    };
    let queries: Vec<_> = (0..8)
        .map(|_| {
            let client = node.client.clone();
            let q = long.clone();
            tokio::spawn(async move { client.query(&q).await })
        })
        .collect();

    // Meanwhile a block with a call executes on the executor's own slot.
    let block = node
        .finalize_txs(vec![call(&alice, 2, counter, "increment", encode(&3u64))])
        .await;
    let receipt = node.ledger.receipt(&block.txs[0].id()).unwrap().unwrap();
    assert!(
        matches!(&receipt.status, hyperchain_types::ReceiptStatus::Called { status, .. } if status.is_ok()),
        "{receipt:?}"
    );
    let (mut ran, mut refused) = (0, 0);
    for query in queries {
        match query.await.unwrap() {
            Ok(outcome) => {
                assert_eq!(outcome.status.status, "out_of_fuel");
                ran += 1;
            }
            Err(ClientError::Api {
                status: 503,
                message,
            }) => {
                assert!(message.contains("at most 2 queries at once"), "{message}");
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(ran >= 1 && refused >= 1, "{ran} ran, {refused} refused");
    node.stop().await;
}

/// Found in the code (issue 16): long polls were unbounded, so idle `GET /blocks/subscribe`
/// connections could pile up on a node. Beyond `max_concurrent_waits` a new waiting request
/// is answered 503 at once; one that needs no wait (its blocks exist) is always served, and a
/// slot frees when a wait ends.
#[tokio::test]
async fn waiting_subscriptions_are_bounded() {
    let config = RpcConfig {
        max_concurrent_waits: 2,
        ..RpcConfig::default()
    };
    let node = TestNode::start_with(engine(), config).await;
    let far = format!("{}/blocks/subscribe?from=1000000&timeout_ms=5000", node.url);
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let far = far.clone();
            tokio::spawn(async move { raw(Method::GET, &far, None).await })
        })
        .collect();
    // Once both waits hold their slots, a third waiting request is refused at once (asked
    // without waiting itself until then, so it never holds a slot for long).
    let third = format!("{}/blocks/subscribe?from=1000000&timeout_ms=0", node.url);
    let mut refused = None;
    for _ in 0..40 {
        let (code, json) = raw(Method::GET, &third, None).await;
        if code == 503 {
            refused = Some(json);
            break;
        }
        assert_eq!(code, 200, "{json}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refused = refused.expect("a third waiting subscription is refused");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 2 waiting subscriptions"),
        "{refused}"
    );
    // Blocks that exist need no wait: served whatever the waits.
    let (code, json) = raw(
        Method::GET,
        &format!("{}/blocks/subscribe?from=0&timeout_ms=1000", node.url),
        None,
    )
    .await;
    assert_eq!(code, 200, "{json}");
    for w in waiting {
        let (code, json) = w.await.unwrap();
        assert_eq!(code, 200, "{json}");
        assert_eq!(json["blocks"].as_array().map(Vec::len), Some(0));
    }
    // The slots are free again.
    let (code, _) = raw(
        Method::GET,
        &format!("{}/blocks/subscribe?from=1000000&timeout_ms=100", node.url),
        None,
    )
    .await;
    assert_eq!(code, 200);
}

/// The state-sync endpoints refuse what they cannot serve with a reason: no checkpoint yet (a
/// node keeps them at each epoch's first and middle blocks), a malformed height or cursor, a
/// checkpoint the node does not keep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_endpoints_refuse_what_they_cannot_serve() {
    let node = TestNode::start().await;
    node.produce_block().await;
    let get = Method::GET;
    expect(
        &node,
        get.clone(),
        "/sync/checkpoint",
        None,
        404,
        "no checkpoint yet",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/sync/state/abc",
        None,
        400,
        "bad height",
    )
    .await;
    expect(
        &node,
        get.clone(),
        "/sync/state/1?after=zz",
        None,
        400,
        "bad after",
    )
    .await;
    expect(&node, get.clone(), "/sync/state/1?from=00", None, 400, "").await;
    expect(&node, get, "/sync/state/1", None, 404, "no longer kept").await;
    node.stop().await;
}
