//! Governance by the validators: a proposal takes effect with 2f+1 approvals and not before;
//! only validators propose and approve, once each; proposals lapse and are bounded.

use crate::common::*;
use hyperchain_attest::AttestationPolicy;
use hyperchain_attest::sim::SimFlavour;
use hyperchain_chain::execute::Executor;
use hyperchain_chain::governance::{MAX_OPEN_PER_VALIDATOR, PROPOSAL_TTL_MS, proposal, quorum};
use hyperchain_chain::registry::RegistryConfig;
use hyperchain_chain::testkit::{MemoryChain, TEST_IMAGE, identity};
use hyperchain_types::{Digest, GovernanceAction, Payload, ReceiptStatus};

/// The validators' seeds (their accounts govern).
const VALIDATORS: [u64; 4] = [11, 12, 13, 14];

fn chain() -> MemoryChain {
    let executor = Executor::new(engine(), chain_id()).with_registry(RegistryConfig {
        genesis_policy: AttestationPolicy {
            allow_simulated: true,
            ..AttestationPolicy::default()
        },
        validators: VALIDATORS.iter().map(|s| address(&key(*s))).collect(),
        ..RegistryConfig::default()
    });
    MemoryChain::new(chain_id(), executor)
}

fn release() -> GovernanceAction {
    GovernanceAction::AddRelease {
        version: "v1".into(),
        image: TEST_IMAGE.to_vec(),
        measurements: vec![],
    }
}

fn one(chain: &mut MemoryChain, seed: u64, payload: Payload) -> (Digest, ReceiptStatus) {
    let tx = chain.tx(seed, payload);
    (tx.id(), chain.run(vec![tx], true).remove(0))
}

fn reason(status: &ReceiptStatus) -> &str {
    match status {
        ReceiptStatus::Rejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Whether a simulated node of the test image can register (the release is in the policy).
fn release_in_force(chain: &mut MemoryChain, seed: u64) -> bool {
    let registration = chain.registration(SimFlavour::Intel, identity(seed), "eu", TEST_IMAGE);
    let (_, status) = one(chain, seed, Payload::Register(registration));
    status == ReceiptStatus::Accepted
}

#[test]
fn a_proposal_takes_effect_with_2f_plus_1_approvals_and_not_with_2f() {
    assert_eq!(quorum(4), 3);
    assert_eq!(
        (quorum(1), quorum(3), quorum(7), quorum(100)),
        (1, 3, 5, 67)
    );
    let mut chain = chain();
    let (id, status) = one(&mut chain, 11, Payload::Propose(release()));
    assert_eq!(status, ReceiptStatus::Accepted);
    let (_, status) = one(&mut chain, 12, Payload::Approve { proposal: id });
    assert_eq!(status, ReceiptStatus::Accepted);
    // 2f = 2 approvals: nothing happened.
    assert!(!release_in_force(&mut chain, 2_001));
    assert_eq!(
        proposal(&chain.store.snapshot().unwrap(), &id)
            .unwrap()
            .unwrap()
            .approvals
            .len(),
        2
    );
    // The third (2f+1) carries it out, and the proposal is gone.
    let (_, status) = one(&mut chain, 13, Payload::Approve { proposal: id });
    assert_eq!(status, ReceiptStatus::Accepted);
    assert!(
        proposal(&chain.store.snapshot().unwrap(), &id)
            .unwrap()
            .is_none()
    );
    assert!(release_in_force(&mut chain, 2_002));
    // Approving it again finds nothing.
    let (_, status) = one(&mut chain, 14, Payload::Approve { proposal: id });
    assert!(reason(&status).contains("no open proposal"));
}

#[test]
fn only_validators_propose_and_approve_and_each_approves_once() {
    let mut chain = chain();
    let (_, status) = one(&mut chain, 1, Payload::Propose(release()));
    assert!(reason(&status).contains("only a validator"));
    let (id, _) = one(&mut chain, 11, Payload::Propose(release()));
    let (_, status) = one(&mut chain, 1, Payload::Approve { proposal: id });
    assert!(reason(&status).contains("only a validator"));
    let (_, status) = one(&mut chain, 11, Payload::Approve { proposal: id });
    assert!(reason(&status).contains("already approved"));
    let (_, status) = one(
        &mut chain,
        12,
        Payload::Approve {
            proposal: Digest([9; 32]),
        },
    );
    assert!(reason(&status).contains("no open proposal"));
    assert!(!release_in_force(&mut chain, 2_001));
}

#[test]
fn proposals_lapse_and_each_validator_has_a_bounded_number_open() {
    let mut chain = chain();
    let (id, _) = one(&mut chain, 11, Payload::Propose(release()));
    // Past its time: approvals are refused and the record removed.
    let env = chain.next_env(PROPOSAL_TTL_MS, true);
    let tx = chain.tx(12, Payload::Approve { proposal: id });
    let status = chain.execute(env, &[tx]).remove(0);
    assert!(reason(&status).contains("lapsed"));
    assert!(
        proposal(&chain.store.snapshot().unwrap(), &id)
            .unwrap()
            .is_none()
    );

    // One validator cannot keep more than MAX_OPEN_PER_VALIDATOR open.
    for _ in 0..MAX_OPEN_PER_VALIDATOR {
        let (_, status) = one(&mut chain, 13, Payload::Propose(release()));
        assert_eq!(status, ReceiptStatus::Accepted);
    }
    let (_, status) = one(&mut chain, 13, Payload::Propose(release()));
    assert!(reason(&status).contains("open proposals"));
    // Once they lapse, it may propose again (its lapsed ones make room).
    let env = chain.next_env(PROPOSAL_TTL_MS, true);
    let tx = chain.tx(13, Payload::Propose(release()));
    assert_eq!(chain.execute(env, &[tx]), vec![ReceiptStatus::Accepted]);
}
