//! Block execution without consensus.

use crate::common::*;
use hyperchain_chain::execute::{Base, BlockEnv, Execution, Executor, InvalidTx, merge};
use hyperchain_contracts::COUNTER;
use hyperchain_sdk::{decode_all, encode};
use hyperchain_state::{Store, TreeId, WriteBatch};
use hyperchain_types::{CallStatus, Digest, ExecutionMode, ReceiptStatus, SignedTransaction};
use std::sync::Arc;

const ENV: BlockEnv = BlockEnv {
    height: 1,
    parent: Digest([0; 32]),
    timestamp_ms: 1_000,
    round: hyperchain_types::Round::new(0, 1),
    seed: None,
    leader: [0; 32],
};

fn executor() -> Executor {
    Executor::new(engine(), chain_id())
}

fn base(store: &Store, pending: WriteBatch) -> Arc<Base> {
    Arc::new(Base::new(store.snapshot().unwrap(), Arc::new(pending)))
}

fn run(store: &Store, txs: &[SignedTransaction]) -> (Execution, Digest) {
    let base = base(store, WriteBatch::new());
    let execution = executor().execute(&base, ENV, txs).unwrap();
    let root = base.state_root(&execution.batch).unwrap();
    (execution, root)
}

fn counter_value(output: &[u8]) -> u64 {
    decode_all::<u64>(output).unwrap()
}

#[test]
fn deploy_and_increment_twice() {
    let store = Store::in_memory().unwrap();
    let alice = key(1);
    let counter = counter_address(&alice, 0);
    let txs = [
        deploy(&alice, 0, COUNTER),
        call(&alice, 1, counter, "increment", encode(&5u64)),
        call(&alice, 2, counter, "increment", encode(&7u64)),
    ];
    let (execution, root) = run(&store, &txs);
    assert!(execution.invalid.is_empty());
    assert_eq!(execution.included, vec![0, 1, 2]);
    let r = &execution.receipts;
    assert_eq!(
        r[0].status,
        ReceiptStatus::Deployed {
            address: counter,
            code_hash: hyperchain_types::sha256(COUNTER)
        }
    );
    for (i, expected) in [(1, 5), (2, 12)] {
        let ReceiptStatus::Called {
            status,
            output,
            events,
        } = &r[i].status
        else {
            panic!("not a call: {:?}", r[i]);
        };
        assert_eq!(*status, CallStatus::Ok);
        assert_eq!(counter_value(output), expected);
        assert_eq!(events.len(), 1);
        assert!(r[i].fuel_used > 0);
        assert_eq!(r[i].index, i as u32);
        assert_eq!(r[i].height, 1);
    }
    // Committing the batch yields the computed root, and the value is in the contract's tree.
    let committed = store.commit(&execution.batch, 1).unwrap();
    assert_eq!(Digest(committed), root);
    let count = store.get(&TreeId(counter.0), b"count").unwrap();
    assert!(count.is_some());

    // A later block sees the committed state.
    let next = [call(&alice, 3, counter, "increment", encode(&1u64))];
    let (execution, _) = run(&store, &next);
    let ReceiptStatus::Called { output, .. } = &execution.receipts[0].status else {
        panic!()
    };
    assert_eq!(counter_value(output), 13);
}

#[test]
fn pending_writes_of_unfinalized_ancestors_are_visible() {
    let store = Store::in_memory().unwrap();
    let alice = key(1);
    let counter = counter_address(&alice, 0);
    let first = [
        deploy(&alice, 0, COUNTER),
        call(&alice, 1, counter, "increment", encode(&2u64)),
    ];
    let parent_base = base(&store, WriteBatch::new());
    let parent = executor().execute(&parent_base, ENV, &first).unwrap();
    // The child executes on the committed snapshot overlaid with the parent's writes.
    let child_base = base(&store, merge(&WriteBatch::new(), &parent.batch));
    let second = [call(&alice, 2, counter, "increment", encode(&3u64))];
    let child = executor().execute(&child_base, ENV, &second).unwrap();
    let ReceiptStatus::Called { output, .. } = &child.receipts[0].status else {
        panic!()
    };
    assert_eq!(counter_value(output), 5);
    // Same root as executing both blocks' transactions in one go.
    let child_root = child_base.state_root(&child.batch).unwrap();
    let all: Vec<_> = first.iter().chain(second.iter()).cloned().collect();
    assert_eq!(run(&store, &all).1, child_root);
}

#[test]
fn invalid_transactions_have_no_effect() {
    let store = Store::in_memory().unwrap();
    let alice = key(1);
    let mut bad_signature = deploy(&alice, 0, COUNTER);
    bad_signature.tx.nonce = 5;
    let mut wrong_chain = deploy(&alice, 0, COUNTER);
    wrong_chain.tx.chain_id = hyperchain_types::sha256(b"other chain");
    wrong_chain = wrong_chain.tx.sign(&alice);
    let txs = [
        bad_signature,
        wrong_chain,
        deploy(&alice, 1, COUNTER), // nonce gap
        deploy(&alice, 0, COUNTER),
        deploy(&alice, 0, COUNTER), // replay
    ];
    let (execution, root) = run(&store, &txs);
    assert_eq!(execution.included, vec![3]);
    let reasons: Vec<_> = execution
        .invalid
        .iter()
        .map(|(i, r)| (*i, r.clone()))
        .collect();
    assert_eq!(reasons[0], (0, InvalidTx::BadSignature));
    assert!(matches!(reasons[1], (1, InvalidTx::WrongChain { .. })));
    assert_eq!(
        reasons[2],
        (
            2,
            InvalidTx::Nonce {
                expected: 0,
                found: 1
            }
        )
    );
    assert_eq!(
        reasons[3],
        (
            4,
            InvalidTx::Nonce {
                expected: 1,
                found: 0
            }
        )
    );
    // Leaving out the invalid transactions gives the same state.
    assert_eq!(run(&store, &txs[3..4]).1, root);
}

#[test]
fn rejected_transactions_consume_their_nonce() {
    let store = Store::in_memory().unwrap();
    let alice = key(1);
    let nowhere = counter_address(&alice, 99);
    let txs = [
        deploy(&alice, 0, b"\0asm not really"),
        deploy_mode(&alice, 1, COUNTER, ExecutionMode::Single),
        call(&alice, 2, nowhere, "increment", encode(&1u64)),
        deploy(&alice, 3, COUNTER),
    ];
    let (execution, _) = run(&store, &txs);
    assert!(execution.invalid.is_empty());
    let reason = |i: usize| match &execution.receipts[i].status {
        ReceiptStatus::Rejected(reason) => reason.clone(),
        other => panic!("receipt {i} not rejected: {other:?}"),
    };
    assert!(reason(0).starts_with("invalid module"), "{}", reason(0));
    assert!(reason(1).contains("mode not enabled by chain policy"));
    assert!(reason(2).starts_with("no contract at"));
    assert!(matches!(
        execution.receipts[3].status,
        ReceiptStatus::Deployed { .. }
    ));
    // A failed call has no effect beyond the nonce.
    let counter = counter_address(&alice, 3);
    store.commit(&execution.batch, 1).unwrap();
    let (execution, _) = run(
        &store,
        &[call(&alice, 4, counter, "no_such_method", vec![])],
    );
    let ReceiptStatus::Called { status, .. } = &execution.receipts[0].status else {
        panic!()
    };
    assert!(!status.is_ok());
    // The nonce, and what every block writes: the recent-block slot (evidence freshness)
    // and the lanes' clock (the block's round, whose seed the next block reveals).
    assert_eq!(execution.batch.len(), 3, "only the nonce is written");
}

#[test]
fn same_transactions_give_the_same_root() {
    let alice = key(1);
    let bob = key(2);
    let counter = counter_address(&alice, 0);
    let mut txs = vec![deploy(&alice, 0, COUNTER)];
    for i in 0..5 {
        txs.push(call(&alice, 1 + i, counter, "increment", encode(&(i + 1))));
        txs.push(call(&bob, i, counter, "increment", encode(&10u64)));
    }
    let (a, root_a) = run(&Store::in_memory().unwrap(), &txs);
    let (b, root_b) = run(&Store::in_memory().unwrap(), &txs);
    assert_eq!(root_a, root_b);
    assert_eq!(a, b);
    let ReceiptStatus::Called { output, .. } = &a.receipts.last().unwrap().status else {
        panic!()
    };
    assert_eq!(counter_value(output), 15 + 50);
    // A different order of the same transactions is a different execution.
    let mut swapped = txs.clone();
    swapped.swap(1, 2);
    let (_, root_c) = run(&Store::in_memory().unwrap(), &swapped);
    assert_eq!(
        root_a, root_c,
        "increments commute, so the state is the same"
    );
}
