//! The ledger: building, verifying and finalizing blocks, persistence and idempotence.

use crate::common::*;
use hyperchain_chain::execute::Executor;
use hyperchain_chain::ledger::{Genesis, Ledger, LedgerError, Verdict};
use hyperchain_contracts::COUNTER;
use hyperchain_sdk::encode;
use hyperchain_types::{Digest, ReceiptStatus, sha256};

fn genesis() -> Genesis {
    Genesis {
        chain_id: chain_id(),
        timestamp_ms: 1_000,
    }
}

fn open(dir: &std::path::Path) -> Ledger {
    Ledger::open(dir, genesis(), Executor::new(engine(), chain_id())).unwrap()
}

#[test]
fn build_verify_finalize_and_reopen() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (open(dir_a.path()), open(dir_b.path()));
    assert_eq!(a.genesis(), b.genesis());
    let alice = key(1);
    let counter = counter_address(&alice, 0);
    let g = a.genesis().header.clone();

    // Block 1 built by A from candidates that include an invalid one (left out).
    let candidates = [
        deploy(&alice, 0, COUNTER),
        deploy(&alice, 0, COUNTER),
        call(&alice, 1, counter, "increment", encode(&4u64)),
    ];
    let b1 = a.build(&g, 2_000, 1, [1; 32], &candidates).unwrap();
    assert_eq!(b1.txs.len(), 2);
    assert_eq!(b1.header.height, 1);
    // Block 2 on the unfinalized block 1.
    let b2 = a
        .build(
            &b1.header,
            3_000,
            2,
            [1; 32],
            &[call(&alice, 2, counter, "increment", encode(&6u64))],
        )
        .unwrap();

    // B verifies both (block 2 before block 1 is finalized).
    let mut tampered = b2.clone();
    tampered.header.state_root = sha256(b"wrong");
    assert_eq!(b.execute(&b1).unwrap(), Verdict::Valid);
    assert!(matches!(b.execute(&tampered).unwrap(), Verdict::Invalid(_)));
    assert_eq!(b.execute(&b2).unwrap(), Verdict::Valid);

    for ledger in [&a, &b] {
        ledger.finalize(&b1).unwrap();
        ledger.finalize(&b1).unwrap(); // redelivery is a no-op
        ledger.finalize(&b2).unwrap();
        assert_eq!(ledger.tip(), (2, b2.digest()));
        assert_eq!(ledger.state_root().unwrap(), b2.header.state_root);
        assert_eq!(ledger.next_nonce(&address(&alice)).unwrap(), 3);
        let receipt = ledger.receipt(&b2.txs[0].id()).unwrap().unwrap();
        assert_eq!(receipt.height, 2);
        assert!(matches!(receipt.status, ReceiptStatus::Called { .. }));
        assert_eq!(ledger.block(1).unwrap().unwrap(), b1);
        assert_eq!(ledger.block_height(&b2.digest()).unwrap(), Some(2));
    }

    // A third node that never saw them applies the finalized blocks directly.
    let dir_c = tempfile::tempdir().unwrap();
    let c = open(dir_c.path());
    assert!(matches!(
        c.finalize(&b2),
        Err(LedgerError::Diverged { height: 2, .. })
    ));
    c.finalize(&b1).unwrap();
    c.finalize(&b2).unwrap();
    assert_eq!(c.state_root().unwrap(), b2.header.state_root);

    // Reopening resumes at the committed tip.
    drop(a);
    let a = open(dir_a.path());
    assert_eq!(a.tip(), (2, b2.digest()));
    assert!(a.is_known(&b2.digest()));
    drop(a);
    let wrong = Ledger::open(
        dir_a.path(),
        Genesis {
            chain_id: Digest([9; 32]),
            timestamp_ms: 1_000,
        },
        Executor::new(engine(), Digest([9; 32])),
    );
    assert!(matches!(wrong, Err(LedgerError::WrongChain { .. })));
}
