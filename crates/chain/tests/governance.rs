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

/// The validator set in state, changed by governance and by epochs of 16 blocks: a candidate
/// announces its key and address; its admission with 2f approvals does nothing and with 2f+1
/// is decided; the middle block of the epoch commits it as a player of the epoch after next's
/// resharing, and it signs — and governs — from the epoch after that, when the quorum grows to
/// 4 of 5. A removed validator keeps governing until its removal takes effect the same way;
/// then its proposals are refused and its earlier approvals no longer count.
#[test]
fn validators_join_and_leave_three_epochs_after_governance_decides() {
    use hyperchain_chain::genesis::Genesis;
    use hyperchain_chain::validators::{self, Validator, ValidatorSet};
    use hyperchain_state::Store;
    const L: u64 = 16;
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
        blocks_per_epoch: L,
        ..RegistryConfig::default()
    });
    let mut chain = MemoryChain::on(store, chain_id(), executor);
    let view = |chain: &MemoryChain| chain.store.snapshot().unwrap();
    // Blocks as consensus makes them: the first block of each epoch (height e·L) starts it.
    let block = |chain: &mut MemoryChain, seed: u64, payload: Payload| {
        let tx = chain.tx(seed, payload);
        let env = chain.consensus_env(1_000, (chain.height + 1).is_multiple_of(L));
        (tx.id(), chain.execute(env, &[tx]).remove(0))
    };
    let to_epoch = |chain: &mut MemoryChain, epoch: u64| {
        while chain.round.epoch < epoch {
            let env = chain.consensus_env(1_000, (chain.height + 1).is_multiple_of(L));
            chain.execute(env, &[]);
        }
    };
    let governing = |chain: &MemoryChain| validators::active(&view(chain)).unwrap().unwrap();

    // A candidate announces (a bad address is refused) in the first half of epoch 0.
    const NEWCOMER: u64 = 50;
    let newcomer = hyperchain_types::SenderKey::from(key(NEWCOMER).public_key()).0;
    let address = |a: &str| Payload::AnnounceValidator { address: a.into() };
    let (_, status) = block(&mut chain, NEWCOMER, address("nowhere"));
    assert!(reason(&status).contains("HOST:PORT"));
    let (_, status) = block(&mut chain, NEWCOMER, address("10.0.0.50:30400"));
    assert_eq!(status, ReceiptStatus::Accepted);
    assert_eq!(validators::candidates(&view(&chain)).unwrap().len(), 1);

    // Admission: 2f approvals decide nothing, 2f+1 do (by the epoch's middle block, 8).
    let admit = GovernanceAction::AdmitValidator {
        public_key: newcomer,
    };
    let (id, status) = block(&mut chain, 11, Payload::Propose(admit));
    assert_eq!(status, ReceiptStatus::Accepted);
    let not_yet = |chain: &MemoryChain| {
        !validators::pending(&view(chain))
            .unwrap()
            .unwrap()
            .contains(&newcomer)
    };
    block(&mut chain, 12, Payload::Approve { proposal: id });
    assert!(not_yet(&chain), "2f approvals");
    assert_eq!(chain.height, 4);
    block(&mut chain, 13, Payload::Approve { proposal: id });
    assert!(!not_yet(&chain), "2f+1 approvals");
    assert!(validators::candidates(&view(&chain)).unwrap().is_empty());
    to_epoch(&mut chain, 1);
    assert!(
        validators::epoch_set(&view(&chain), 2)
            .unwrap()
            .unwrap()
            .contains(&newcomer),
        "epoch 0's middle block committed it as a player of epoch 2's resharing"
    );

    // Epochs 1 and 2: the genesis set still signs and governs.
    for epoch in [1, 2] {
        to_epoch(&mut chain, epoch);
        let (e, active) = governing(&chain);
        assert_eq!((e, active.0.len()), (epoch, 4));
        let (_, status) = block(&mut chain, NEWCOMER, Payload::Propose(release()));
        assert!(reason(&status).contains("not authorised"), "epoch {epoch}");
    }

    // Epoch 3: five validators; the newcomer proposes; the quorum is 4 of 5.
    to_epoch(&mut chain, 3);
    let (_, active) = governing(&chain);
    assert_eq!(active.0.len(), 5);
    let remove = GovernanceAction::RemoveValidator {
        public_key: hyperchain_types::SenderKey::from(key(14).public_key()).0,
    };
    let (id, status) = block(&mut chain, NEWCOMER, Payload::Propose(remove));
    assert_eq!(status, ReceiptStatus::Accepted);
    for approver in [11, 12] {
        block(&mut chain, approver, Payload::Approve { proposal: id });
    }
    assert_eq!(
        validators::pending(&view(&chain)).unwrap().unwrap().0.len(),
        5,
        "3 of 5 approvals decide nothing"
    );
    block(&mut chain, 13, Payload::Approve { proposal: id });
    assert_eq!(
        validators::pending(&view(&chain)).unwrap().unwrap().0.len(),
        4
    );

    // Validator 14 governs until its removal takes effect (epoch 6): it opens a proposal in
    // epoch 3 and approves another in epoch 5.
    let (own, status) = block(&mut chain, 14, Payload::Propose(release()));
    assert_eq!(status, ReceiptStatus::Accepted);
    to_epoch(&mut chain, 5);
    assert_eq!(governing(&chain).1.0.len(), 5);
    let (other, status) = block(&mut chain, 11, Payload::Propose(release()));
    assert_eq!(status, ReceiptStatus::Accepted);
    block(&mut chain, 14, Payload::Approve { proposal: other });

    // Epoch 6: 14 is gone. It can no longer propose or approve, and its approvals no longer
    // count: 11 and 14 approved `other`, and 12 brings it to 2 counted of the 3 needed.
    to_epoch(&mut chain, 6);
    let (_, active) = governing(&chain);
    assert_eq!(active.0.len(), 4);
    let (_, status) = block(&mut chain, 14, Payload::Propose(release()));
    assert!(reason(&status).contains("not authorised"));
    let (_, status) = block(&mut chain, 14, Payload::Approve { proposal: own });
    assert!(reason(&status).contains("not authorised"));
    // 14's own open proposal went with it: it is no longer kept, listed or approvable.
    assert!(
        proposal(&view(&chain), &own).unwrap().is_none(),
        "withdrawn when 14 left the set"
    );
    assert!(
        hyperchain_chain::governance::open_proposals(
            &view(&chain),
            &[hyperchain_types::SenderKey::from(key(14).public_key()).address()]
        )
        .unwrap()
        .is_empty()
    );
    let (_, status) = block(&mut chain, 11, Payload::Approve { proposal: own });
    assert!(reason(&status).contains("no open proposal"), "{status:?}");
    block(&mut chain, 12, Payload::Approve { proposal: other });
    assert!(
        proposal(&view(&chain), &other).unwrap().is_some(),
        "11 and 12 count; 14's approval does not"
    );
    block(&mut chain, NEWCOMER, Payload::Approve { proposal: other });
    assert!(
        proposal(&view(&chain), &other).unwrap().is_none(),
        "11, 12 and the newcomer: 3 of the 4 validators, carried out"
    );
}
