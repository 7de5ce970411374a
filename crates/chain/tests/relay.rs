//! The block relay end to end on the simulated network: gossip carries a client's
//! transactions to every validator, and compact blocks are completed by fetching what a
//! validator lacks.

use crate::common::*;
use crate::sim::{Testnet, good_link, open_ledger, wait_for};
use commonware_cryptography::Signer as _;
use commonware_runtime::{Clock as _, Metrics as _, Runner as _, deterministic};
use hyperchain_chain::simnet::spawn_validator;
use hyperchain_chain::{ledger::Ledger, mempool::Mempool};
use hyperchain_contracts::COUNTER;
use hyperchain_sdk::encode;
use hyperchain_types::{Address, Digest, Payload, ReceiptStatus, SignedTransaction};
use std::sync::Arc;
use std::time::Duration;

const N: usize = 4;
const CALLS: u64 = 20;

/// How a test hands its transactions to validator 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// As the RPC does: admitted and gossiped to the other validators.
    Client,
    /// Into validator 0's pool only (as if gossip had been lost): the others see them first in
    /// validator 0's compact blocks and must fetch them.
    Local,
}

/// The sum over all validators of one of the relay's counters (`txs_fetched`, …).
fn relay_counter(context: &deterministic::Context, name: &str) -> u64 {
    let suffix = format!("relay_{name}_total");
    context
        .encode()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (metric, value) = l.rsplit_once(' ')?;
            let metric = metric.split('{').next()?;
            metric
                .ends_with(&suffix)
                .then(|| value.parse::<u64>().ok())?
        })
        .sum()
}

/// What a run ends with.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// The counter's final value.
    value: u64,
    /// Heights at which the calls were finalized.
    heights: Vec<u64>,
    /// The relay's counters, summed over validators: compact blocks rebuilt, transactions
    /// found in the pool, fetched from the sender, and gossiped.
    rebuilt: u64,
    from_pool: u64,
    fetched: u64,
    gossiped: u64,
}

/// `N` validators on the simulated network with ledgers in `dir` and gossiping pools of
/// `capacity` transactions: their ledgers, pools and task handles.
async fn network(
    context: &mut deterministic::Context,
    dir: &std::path::Path,
    capacity: usize,
) -> (
    Vec<Arc<Ledger>>,
    Vec<Arc<Mempool>>,
    Vec<commonware_runtime::Handle<()>>,
) {
    let net = Testnet::new(context, N, &good_link()).await;
    let genesis = net.genesis();
    let ledgers: Vec<Arc<Ledger>> = (0..N)
        .map(|i| open_ledger(&dir.join(format!("v{i}")), &genesis))
        .collect();
    let mempools: Vec<Arc<Mempool>> = (0..N)
        .map(|_| Arc::new(Mempool::new(chain_id(), capacity)))
        .collect();
    for pool in &mempools {
        pool.enable_gossip();
    }
    let handles = (0..N)
        .map(|i| {
            spawn_validator(
                context,
                &net.oracle,
                i,
                0,
                net.keys(i, &dir.join(format!("v{i}/secrets"))),
                ledgers[i].clone(),
                mempools[i].clone(),
            )
            .0
        })
        .collect();
    (ledgers, mempools, handles)
}

/// A deploy and `CALLS` increments by one account, all handed to validator 0. With
/// `crash_after_gossip`, validator 0 stops once the others hold every transaction, and the
/// remaining three (a quorum) must finalize them.
fn run(seed: u64, entry: Entry, crash_after_gossip: bool) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(600)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let (ledgers, mempools, handles) = network(&mut context, dir.path(), 10_000).await;
        let all: Vec<usize> = (0..N).collect();
        wait_for(&context, &ledgers, &all, 2).await;

        let alice = key(42);
        let counter = counter_address(&alice, 0);
        let mut txs: Vec<SignedTransaction> = vec![deploy(&alice, 0, COUNTER)];
        txs.extend((1..=CALLS).map(|i| call(&alice, i, counter, "increment", encode(&1u64))));
        let ids: Vec<Digest> = txs.iter().map(SignedTransaction::id).collect();
        let batch: Vec<_> = txs.into_iter().map(|tx| (tx, 0u64)).collect();
        let verdicts = match entry {
            Entry::Client => mempools[0].submit_batch(batch),
            Entry::Local => mempools[0].submit_gossiped(batch),
        };
        assert!(verdicts.iter().all(Result::is_ok), "{verdicts:?}");

        let running: Vec<usize> = if crash_after_gossip {
            // Once every other validator holds the transactions (gossip), stop validator 0:
            // from then on only the others propose.
            // (Before any of them is finalized: this seed's schedule gossips first.)
            while !mempools[1..]
                .iter()
                .all(|pool| pool.len() as u64 == CALLS + 1)
            {
                assert!(
                    ids.iter()
                        .all(|id| ledgers[0].receipt(id).unwrap().is_none()),
                    "finalized before every validator held them: pick another seed"
                );
                context.sleep(Duration::from_millis(5)).await;
            }
            handles[0].abort();
            (1..N).collect()
        } else {
            all.clone()
        };

        // Every transaction ends up finalized on every running validator.
        while !running.iter().all(|&i| {
            ids.iter()
                .all(|id| ledgers[i].receipt(id).unwrap().is_some())
        }) {
            context.sleep(Duration::from_millis(100)).await;
        }
        let target = running.iter().map(|&i| ledgers[i].tip().0).max().unwrap() + 1;
        wait_for(&context, &ledgers, &running, target).await;
        for &i in &running[1..] {
            for h in 0..=target {
                assert_eq!(
                    ledgers[i].block(h).unwrap(),
                    ledgers[running[0]].block(h).unwrap(),
                    "validator {i} differs at height {h}"
                );
            }
        }
        let heights: Vec<u64> = ids[1..]
            .iter()
            .map(|id| {
                let receipt = ledgers[running[0]].receipt(id).unwrap().unwrap();
                assert!(matches!(receipt.status, ReceiptStatus::Called { .. }));
                receipt.height
            })
            .collect();
        let value = ledgers[running[0]]
            .get(&hyperchain_state::TreeId(counter.0), b"count")
            .unwrap()
            .map_or(0, |raw| hyperchain_sdk::decode_all::<u64>(&raw).unwrap());
        for h in handles {
            h.abort();
        }
        Outcome {
            value,
            heights,
            rebuilt: relay_counter(&context, "blocks_rebuilt"),
            from_pool: relay_counter(&context, "txs_from_pool"),
            fetched: relay_counter(&context, "txs_fetched"),
            gossiped: relay_counter(&context, "txs_gossiped"),
        }
    })
}

#[test]
fn gossiped_transactions_are_finalized_by_the_other_validators() {
    let outcome = run(27, Entry::Client, true);
    assert_eq!(outcome.value, CALLS);
    // (Validator 0's own counters went with it.) The blocks that carried them named them by short id, found in the others' pools.
    assert!(outcome.from_pool > CALLS, "{outcome:?}");
    assert!(outcome.rebuilt > 0);
}

#[test]
fn compact_blocks_fetch_what_a_validator_lacks() {
    // Only validator 0 holds the transactions, so every block that carries them is one of
    // its compact blocks, which the others complete by asking it.
    let outcome = run(22, Entry::Local, false);
    assert_eq!(outcome.value, CALLS);
    assert_eq!(outcome.gossiped, 0);
    assert_eq!(outcome.from_pool, 0, "{outcome:?}");
    // Each of the other three fetched every transaction (at least the quorum did).
    assert!(outcome.fetched >= 2 * (CALLS + 1), "{outcome:?}");
    assert!(outcome.heights.iter().all(|h| *h > 0));
}

#[test]
fn relayed_runs_replay() {
    let first = run(23, Entry::Client, false);
    assert_eq!(first.value, CALLS);
    assert_eq!(first.gossiped, CALLS + 1, "validator 0 gossiped each once");
    assert_eq!(first, run(23, Entry::Client, false));
}

/// The fill attempts against validator 0's pool, gossiped to the others: 25 accounts
/// queueing nonces 1..=600 with 0 missing (more than a block holds), four accounts queueing 2 MiB transactions up to
/// their share, and junk receipts. An honest transaction submitted afterwards is finalized
/// within a few blocks on every validator.
#[test]
fn an_honest_transaction_finalizes_while_the_pool_is_under_fill_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = deterministic::Config::new()
        .with_seed(3)
        .with_timeout(Some(Duration::from_secs(600)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let (ledgers, mempools, _handles) = network(&mut context, dir.path(), 40_000).await;
        let all: Vec<usize> = (0..N).collect();
        wait_for(&context, &ledgers, &all, 2).await;

        // Gapped nonces, more than a block holds: never includable.
        let gapped: Vec<(SignedTransaction, u64)> = (500..525)
            .flat_map(|seed| {
                (1..=600).map(move |n| (call(&key(seed), n, Address([1; 32]), "get", vec![]), 0u64))
            })
            .collect();
        assert!(mempools[0].submit_batch(gapped).iter().all(Result::is_ok));
        // 2 MiB transactions, each account up to its share of the pool.
        let junk = vec![0u8; hyperchain_types::tx_limits::MAX_CODE];
        let large: Vec<(SignedTransaction, u64)> = (600..604)
            .flat_map(|seed| {
                let junk = junk.clone();
                (0..4).map(move |n| (deploy(&key(seed), n, &junk), 0u64))
            })
            .collect();
        assert!(mempools[0].submit_batch(large).iter().all(Result::is_ok));
        // Junk receipts: refused (their signatures do not verify).
        let forged = hyperchain_types::Transaction {
            chain_id: chain_id(),
            sender: key(700).public_key().into(),
            nonce: 0,
            fee: hyperchain_types::Fee::NONE,
            payload: Payload::Receipt(Box::new({
                let mut signed = hyperchain_types::ComputeReceipt {
                    chain_id: chain_id(),
                    contract: Address([2; 32]),
                    lane_seq: 0,
                    job: Digest([3; 32]),
                    run: hyperchain_types::RunId {
                        head: 0,
                        attempt: 0,
                    },
                    code_hash: Digest([4; 32]),
                    pre_state: Digest([5; 32]),
                    outcome: hyperchain_types::CallOutcome::failed(
                        hyperchain_types::CallStatus::Ok,
                        1,
                        Default::default(),
                    ),
                }
                .sign(&key(701));
                signed.receipt.lane_seq = 1; // no longer what was signed
                signed
            })),
        }
        .sign(&key(700));
        assert!(mempools[0].submit(forged, 0).is_err());

        // The honest transaction, submitted last.
        let alice = key(42);
        let honest = deploy(&alice, 0, COUNTER);
        let submitted_at = ledgers[0].tip().0;
        mempools[0].submit(honest.clone(), 0).unwrap();
        while !all
            .iter()
            .all(|&i| ledgers[i].receipt(&honest.id()).unwrap().is_some())
        {
            context.sleep(Duration::from_millis(50)).await;
        }
        let receipt = ledgers[0].receipt(&honest.id()).unwrap().unwrap();
        assert!(
            matches!(receipt.status, ReceiptStatus::Deployed { .. }),
            "{:?}",
            receipt.status
        );
        assert!(
            receipt.height <= submitted_at + 4,
            "finalized at {} after submission at {submitted_at}",
            receipt.height
        );
    });
}
