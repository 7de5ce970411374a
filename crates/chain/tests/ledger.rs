//! The ledger: building, verifying and finalizing blocks, persistence and idempotence.

use crate::common::*;
use hyperchain_chain::execute::Executor;
use hyperchain_chain::ledger::{Genesis, Ledger, LedgerError, Verdict};
use hyperchain_contracts::COUNTER;
use hyperchain_sdk::encode;
use hyperchain_types::{Digest, ReceiptStatus, sha256};

fn genesis() -> Genesis {
    Genesis::unfunded(chain_id(), 1_000)
}

/// The validators whose seeds the test blocks reveal.
fn validators() -> &'static hyperchain_chain::genesis::Devnet {
    static DEVNET: std::sync::OnceLock<hyperchain_chain::genesis::Devnet> =
        std::sync::OnceLock::new();
    DEVNET.get_or_init(|| devnet(3, 4))
}

fn open(dir: &std::path::Path) -> Ledger {
    let seeds = hyperchain_chain::light::LightClient::new(
        chain_id(),
        *validators().spec.group_public_key(),
    );
    let executor = Executor::new(engine(), chain_id()).with_seed_verifier(seeds);
    Ledger::open(dir, genesis(), executor).unwrap()
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
    let r = hyperchain_types::Round::new;
    let b1 = a.build(&g, 2_000, r(0, 1), [1; 32], &candidates).unwrap();
    assert_eq!(b1.txs.len(), 2);
    assert_eq!(b1.header.height, 1);
    // Block 2 on the unfinalized block 1 reveals the seed of block 1's round; A cannot build
    // it before it has seen that seed.
    assert!(matches!(
        a.build(&b1.header, 3_000, r(0, 2), [1; 32], &[]),
        Err(LedgerError::SeedUnknown(round)) if round == r(0, 1)
    ));
    a.record_seed(r(0, 1), seed_of(validators(), r(0, 1)).signature);
    let b2 = a
        .build(
            &b1.header,
            3_000,
            r(0, 2),
            [1; 32],
            &[call(&alice, 2, counter, "increment", encode(&6u64))],
        )
        .unwrap();

    assert_eq!(b2.header.seed, Some(seed_of(validators(), r(0, 1))));
    // B verifies both (block 2 before block 1 is finalized).
    let mut tampered = b2.clone();
    tampered.header.state_root = sha256(b"wrong");
    assert_eq!(b.execute(&b1).unwrap(), Verdict::Valid);
    let mut unseeded = b2.clone();
    unseeded.header.seed = None;
    match b.execute(&unseeded).unwrap() {
        Verdict::Invalid(reason) => assert!(reason.contains("reveals no seed"), "{reason}"),
        Verdict::Valid => panic!("a block withholding its parent's seed is valid"),
    }
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
        Genesis::unfunded(Digest([9; 32]), 1_000),
        Executor::new(engine(), Digest([9; 32])),
    );
    assert!(matches!(wrong, Err(LedgerError::WrongChain { .. })));
}
