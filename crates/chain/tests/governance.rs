//! Governance by the validators: a proposal takes effect with 2f+1 approvals and not before;
//! only validators propose and approve, once each; proposals lapse and are bounded.

use crate::common::*;
use commonware_cryptography::Signer as _;
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
    assert!(reason(&status).contains("only a current validator"));
    let (id, _) = one(&mut chain, 11, Payload::Propose(release()));
    let (_, status) = one(&mut chain, 1, Payload::Approve { proposal: id });
    assert!(reason(&status).contains("only a current validator"));
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

/// The validator set in state, changed by governance and by epochs: a candidate announces its
/// key and address; its admission with 2f approvals does nothing and with 2f+1 is decided; the
/// decided set becomes the next epoch's at the following boundary and governs from the one
/// after (glue's rule: committed in the last block of epoch e−2), when the newcomer proposes
/// and the quorum grows to 4 of 5. A removed validator keeps governing until its removal takes
/// effect; then its proposals are refused and its earlier approvals no longer count.
#[test]
fn validators_join_and_leave_two_epochs_after_governance_decides() {
    use hyperchain_chain::genesis::Genesis;
    use hyperchain_chain::validators::{self, Validator, ValidatorSet};
    use hyperchain_state::Store;
    let set = ValidatorSet::new(
        VALIDATORS
            .iter()
            .map(|s| Validator {
                public_key: hyperchain_types::SenderKey::from(key(*s).public_key()).0,
                address: format!("10.0.0.{s}:30400"),
            })
            .collect(),
    );
    let store = Store::in_memory().unwrap();
    let genesis = Genesis {
        validators: set.clone(),
        ..Genesis::unfunded(chain_id(), 0)
    };
    store.commit(&genesis.writes(), 0).unwrap();
    // No validators in the configuration: the set in state governs.
    let executor = Executor::new(engine(), chain_id()).with_registry(RegistryConfig {
        genesis_policy: AttestationPolicy {
            allow_simulated: true,
            ..AttestationPolicy::default()
        },
        ..RegistryConfig::default()
    });
    let mut chain = MemoryChain::on(store, chain_id(), executor);
    let view = |chain: &MemoryChain| chain.store.snapshot().unwrap();
    let block = |chain: &mut MemoryChain, seed: u64, payload: Payload, new_epoch: bool| {
        let tx = chain.tx(seed, payload);
        let env = chain.consensus_env(1_000, new_epoch);
        (tx.id(), chain.execute(env, &[tx]).remove(0))
    };
    let boundary = |chain: &mut MemoryChain| {
        let env = chain.consensus_env(1_000, true);
        chain.execute(env, &[]);
    };

    // A candidate announces; a bad address is refused.
    const NEWCOMER: u64 = 50;
    let newcomer = hyperchain_types::SenderKey::from(key(NEWCOMER).public_key()).0;
    let (_, status) = block(
        &mut chain,
        NEWCOMER,
        Payload::AnnounceValidator {
            address: "nowhere".into(),
        },
        false,
    );
    assert!(reason(&status).contains("HOST:PORT"));
    let (_, status) = block(
        &mut chain,
        NEWCOMER,
        Payload::AnnounceValidator {
            address: "10.0.0.50:30400".into(),
        },
        false,
    );
    assert_eq!(status, ReceiptStatus::Accepted);
    assert_eq!(validators::candidates(&view(&chain)).unwrap().len(), 1);
    // Not a validator yet: it cannot propose.
    let (_, status) = block(&mut chain, NEWCOMER, Payload::Propose(release()), false);
    assert!(reason(&status).contains("not authorised"));

    // Admission: 2f approvals decide nothing, 2f+1 do.
    let admit = GovernanceAction::AdmitValidator {
        public_key: newcomer,
    };
    let (id, status) = block(&mut chain, 11, Payload::Propose(admit), false);
    assert_eq!(status, ReceiptStatus::Accepted);
    block(&mut chain, 12, Payload::Approve { proposal: id }, false);
    assert!(
        !validators::pending(&view(&chain))
            .unwrap()
            .unwrap()
            .contains(&newcomer)
    );
    block(&mut chain, 13, Payload::Approve { proposal: id }, false);
    assert!(
        validators::pending(&view(&chain))
            .unwrap()
            .unwrap()
            .contains(&newcomer)
    );
    assert!(validators::candidates(&view(&chain)).unwrap().is_empty());
    let (epoch, active) = validators::active(&view(&chain)).unwrap().unwrap();
    assert_eq!((epoch, active.0.len()), (0, 4), "epoch 0 keeps its set");

    // Epoch 1: the decided set is the next one, not yet the current one.
    boundary(&mut chain);
    let (epoch, active) = validators::active(&view(&chain)).unwrap().unwrap();
    assert_eq!((epoch, active.0.len()), (1, 4));
    let (next_epoch, next) = validators::next(&view(&chain)).unwrap().unwrap();
    assert_eq!((next_epoch, next.contains(&newcomer)), (2, true));
    let (_, status) = block(&mut chain, NEWCOMER, Payload::Propose(release()), false);
    assert!(reason(&status).contains("not authorised"));

    // Epoch 2: five validators govern; the newcomer proposes; the quorum is 4 of 5.
    boundary(&mut chain);
    let (epoch, active) = validators::active(&view(&chain)).unwrap().unwrap();
    assert_eq!((epoch, active.0.len()), (2, 5));
    let remove = GovernanceAction::RemoveValidator {
        public_key: hyperchain_types::SenderKey::from(key(14).public_key()).0,
    };
    let (id, status) = block(&mut chain, NEWCOMER, Payload::Propose(remove), false);
    assert_eq!(status, ReceiptStatus::Accepted);
    for approver in [11, 12] {
        block(
            &mut chain,
            approver,
            Payload::Approve { proposal: id },
            false,
        );
    }
    assert_eq!(
        validators::pending(&view(&chain)).unwrap().unwrap().0.len(),
        5,
        "3 of 5 approvals decide nothing"
    );
    block(&mut chain, 13, Payload::Approve { proposal: id }, false);
    assert_eq!(
        validators::pending(&view(&chain)).unwrap().unwrap().0.len(),
        4
    );

    // Validator 14 still governs in epochs 2 and 3: it opens a proposal and approves another.
    let (own, status) = block(&mut chain, 14, Payload::Propose(release()), false);
    assert_eq!(status, ReceiptStatus::Accepted);
    boundary(&mut chain);
    let (other, status) = block(&mut chain, 11, Payload::Propose(release()), false);
    assert_eq!(status, ReceiptStatus::Accepted);
    block(&mut chain, 14, Payload::Approve { proposal: other }, false);

    // Epoch 4: 14 is gone. It can no longer propose or approve, and its approvals no longer
    // count: 11 and 14 approved `other`, and 12 and 13 bring it to 3 counted of the 4 needed.
    boundary(&mut chain);
    let (epoch, active) = validators::active(&view(&chain)).unwrap().unwrap();
    assert_eq!((epoch, active.0.len()), (4, 4));
    let (_, status) = block(&mut chain, 14, Payload::Propose(release()), false);
    assert!(reason(&status).contains("not authorised"));
    let (_, status) = block(&mut chain, 14, Payload::Approve { proposal: own }, false);
    assert!(reason(&status).contains("not authorised"));
    block(&mut chain, 12, Payload::Approve { proposal: other }, false);
    assert!(
        proposal(&view(&chain), &other).unwrap().is_some(),
        "11 and 12 count; 14's approval does not"
    );
    block(
        &mut chain,
        NEWCOMER,
        Payload::Approve { proposal: other },
        false,
    );
    assert!(
        proposal(&view(&chain), &other).unwrap().is_none(),
        "11, 12 and the newcomer: 3 of the 4 validators, carried out"
    );
}
