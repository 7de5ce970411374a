//! The compute-node registry in block execution: registration with simulated evidence,
//! governance (policy, releases, revocation), re-attestation, expiry and the accumulator.

use crate::common::*;
use commonware_codec::{DecodeExt as _, Encode as _};
use commonware_cryptography::Signer as _;
use hyperchain_attest::sim::SimFlavour;
use hyperchain_attest::{AttestationPolicy, Platform};
use hyperchain_chain::execute::Executor;
use hyperchain_chain::registry::{ACCUMULATOR, RegistryConfig, node_key};
use hyperchain_chain::testkit::{MemoryChain, TEST_IMAGE};
use hyperchain_state::TreeId;
use hyperchain_types::{
    Digest, GovernanceAction, NodeRecord, Payload, ReceiptStatus, Registration, Revocation,
    RevokeReason, SignedTransaction, node_id,
};

const IMAGE: &[u8] = TEST_IMAGE;

/// The in-memory chain, with the registry's views.
struct Chain(MemoryChain);

impl std::ops::Deref for Chain {
    type Target = MemoryChain;
    fn deref(&self) -> &MemoryChain {
        &self.0
    }
}

impl std::ops::DerefMut for Chain {
    fn deref_mut(&mut self) -> &mut MemoryChain {
        &mut self.0
    }
}

impl Chain {
    fn new(policy: AttestationPolicy) -> Chain {
        let executor = Executor::new(engine(), chain_id()).with_registry(RegistryConfig {
            validators: vec![hyperchain_types::SenderKey::from(key(100).public_key()).address()],
            genesis_policy: policy,
            ..RegistryConfig::default()
        });
        Chain(MemoryChain::new(chain_id(), executor))
    }

    /// Executes one block of `txs` `advance_ms` after the previous one and commits it.
    fn block(&mut self, advance_ms: u64, txs: Vec<SignedTransaction>) -> Vec<ReceiptStatus> {
        let env = self.next_env(advance_ms, false);
        self.execute(env, &txs)
    }

    fn record(&self, identity: &[u8; 32]) -> Option<NodeRecord> {
        self.store
            .get(&TreeId::ROOT, &node_key(&node_id(identity)))
            .unwrap()
            .map(|raw| NodeRecord::decode(bytes::Bytes::from(raw)).unwrap())
    }

    fn in_accumulator(&self, identity: &[u8; 32]) -> Option<u64> {
        self.store
            .get(&ACCUMULATOR, &node_id(identity).0)
            .unwrap()
            .map(|raw| u64::from_be_bytes(raw.try_into().unwrap()))
    }

    /// A registration of `identity` on a simulated platform, fresh as of the last block,
    /// owned by (to be sent from) account 1.
    fn registration(&self, flavour: SimFlavour, identity: [u8; 32], image: &[u8]) -> Registration {
        self.0
            .registration_owned_by(address(&key(1)), flavour, identity, "eu", image)
    }
}

fn platform_tag(p: Platform) -> u8 {
    p.tag()
}

fn dev_policy() -> AttestationPolicy {
    AttestationPolicy {
        allow_simulated: true,
        ..AttestationPolicy::default()
    }
}

fn rejected(status: &ReceiptStatus) -> &str {
    match status {
        ReceiptStatus::Rejected(reason) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn release() -> Payload {
    Payload::Propose(GovernanceAction::AddRelease {
        version: "v1".into(),
        image: IMAGE.to_vec(),
        measurements: vec![],
    })
}

#[test]
fn registration_needs_a_release_then_joins_the_accumulator() {
    let mut chain = Chain::new(dev_policy());
    chain.block(1000, vec![]);
    let alice = [1u8; 32];

    // No release registered yet: the measurement is not allowed.
    let r = chain.registration(SimFlavour::Intel, alice, IMAGE);
    let tx = chain.tx(1, Payload::Register(r));
    let status = chain.block(1000, vec![tx]);
    assert!(rejected(&status[0]).contains("measurement"), "{status:?}");
    assert!(chain.record(&alice).is_none());

    // Only governance may add a release.
    let tx = chain.tx(1, release());
    assert!(rejected(&chain.block(1000, vec![tx])[0]).contains("governance"));
    let tx = chain.tx(100, release());
    assert_eq!(chain.block(1000, vec![tx]), vec![ReceiptStatus::Accepted]);

    // Now both vendors' simulated nodes register.
    let bob = [2u8; 32];
    let ra = chain.registration(SimFlavour::Intel, alice, IMAGE);
    let rb = chain.registration(SimFlavour::Amd, bob, IMAGE);
    let txs = vec![
        chain.tx(1, Payload::Register(ra)),
        chain.tx(1, Payload::Register(rb)),
    ];
    assert_eq!(
        chain.block(1000, txs),
        vec![ReceiptStatus::Accepted, ReceiptStatus::Accepted]
    );
    let record = chain.record(&alice).unwrap();
    assert_eq!(record.region, "eu");
    assert_eq!(record.platform, platform_tag(Platform::SimIntel));
    assert!(record.is_active(chain.time_ms));
    assert_eq!(
        record.expires_ms,
        chain.time_ms + 1000 * AttestationPolicy::default().token_validity_secs
    );
    assert_eq!(chain.in_accumulator(&alice), Some(record.expires_ms));
    assert!(chain.in_accumulator(&bob).is_some());
    assert!(chain.in_accumulator(&[3; 32]).is_none());

    // Registering twice is refused.
    let again = chain.registration(SimFlavour::Intel, alice, IMAGE);
    let tx = chain.tx(1, Payload::Register(again));
    assert!(rejected(&chain.block(1000, vec![tx])[0]).contains("already registered"));
}

#[test]
fn each_failed_check_is_named_and_changes_nothing() {
    let mut chain = Chain::new(dev_policy());
    chain.block(1000, vec![]);
    let tx = chain.tx(100, release());
    chain.block(1000, vec![tx]);
    let id = [7u8; 32];
    let root_before = chain.store.root().unwrap();

    let mut cases: Vec<(Registration, &str)> = Vec::new();
    // Evidence for another identity key (report data mismatch).
    let mut other = chain.registration(SimFlavour::Intel, [8; 32], IMAGE);
    other.identity_key = id;
    cases.push((other, "report data"));
    // Another image: its measurement is not in the policy.
    cases.push((
        chain.registration(SimFlavour::Intel, id, b"another image"),
        "measurement",
    ));
    // A stale freshness value.
    let mut stale = chain.registration(SimFlavour::Intel, id, IMAGE);
    stale.recent_block = Digest([0x55; 32]);
    cases.push((stale, "freshness"));
    // A flipped evidence byte.
    let mut tampered = chain.registration(SimFlavour::Intel, id, IMAGE);
    let last = tampered.evidence.len() - 1;
    tampered.evidence[last] ^= 1;
    cases.push((tampered, "evidence rejected"));
    // Garbage endorsements.
    let mut garbage = chain.registration(SimFlavour::Intel, id, IMAGE);
    garbage.endorsements = vec![9; 10];
    cases.push((garbage, "malformed endorsements"));
    // An unknown platform tag.
    let mut unknown = chain.registration(SimFlavour::Intel, id, IMAGE);
    unknown.platform = 200;
    cases.push((unknown, "unknown platform"));
    // No region.
    let mut no_region = chain.registration(SimFlavour::Intel, id, IMAGE);
    no_region.region.clear();
    cases.push((no_region, "region"));

    for (registration, needle) in cases {
        let tx = chain.tx(1, Payload::Register(registration));
        let status = chain.block(1000, vec![tx]);
        let reason = rejected(&status[0]);
        assert!(
            reason.contains(needle),
            "`{reason}` does not mention `{needle}`"
        );
        assert!(chain.record(&id).is_none());
        assert!(chain.in_accumulator(&id).is_none());
    }
    // Simulated evidence is refused when the policy does not allow it.
    let mut strict = Chain::new(AttestationPolicy::default());
    strict.block(1000, vec![]);
    let tx = strict.tx(100, release());
    strict.block(1000, vec![tx]);
    let r = strict.registration(SimFlavour::Amd, id, IMAGE);
    let tx = strict.tx(1, Payload::Register(r));
    assert!(rejected(&strict.block(1000, vec![tx])[0]).contains("simulated"));
    let _ = root_before;
}

#[test]
fn reattestation_extends_expiry_and_expiry_ends_membership() {
    let mut chain = Chain::new(dev_policy());
    chain.block(1000, vec![]);
    let tx = chain.tx(100, release());
    chain.block(1000, vec![tx]);
    // A node that registers itself (its identity key's account owns it).
    let id = hyperchain_chain::testkit::identity(9);
    let r = chain.0.registration(SimFlavour::Amd, id, "eu", IMAGE);
    let tx = chain.tx(9, Payload::Register(r));
    chain.block(1000, vec![tx]);
    let first = chain.record(&id).unwrap();

    // Fresh evidence an hour later extends membership.
    chain.block(3_600_000, vec![]);
    let r = chain.0.registration(SimFlavour::Amd, id, "eu", IMAGE);
    let tx = chain.tx(9, Payload::Reattest(r));
    assert_eq!(chain.block(1000, vec![tx]), vec![ReceiptStatus::Accepted]);
    let second = chain.record(&id).unwrap();
    assert_eq!(second.expires_ms, first.expires_ms + 3_601_000);
    assert_eq!(second.registered_ms, first.registered_ms);
    assert_eq!(chain.in_accumulator(&id), Some(second.expires_ms));

    // A different measurement (another release's image) is refused even if allowed.
    let tx = chain.tx(
        100,
        Payload::Propose(GovernanceAction::AddRelease {
            version: "v2".into(),
            image: b"v2 image".to_vec(),
            measurements: vec![],
        }),
    );
    chain.block(1000, vec![tx]);
    let r = chain.0.registration(SimFlavour::Amd, id, "eu", b"v2 image");
    let tx = chain.tx(9, Payload::Reattest(r));
    assert!(rejected(&chain.block(1000, vec![tx])[0]).contains("differs from the one registered"));

    // Past its expiry the node is no longer active and cannot re-attest.
    let validity = AttestationPolicy::default().token_validity_secs * 1000;
    chain.block(validity, vec![]);
    let record = chain.record(&id).unwrap();
    assert!(!record.is_active(chain.time_ms));
    assert_eq!(record.status(chain.time_ms), "expired");
    let r = chain.0.registration(SimFlavour::Amd, id, "eu", IMAGE);
    let tx = chain.tx(9, Payload::Reattest(r));
    assert!(rejected(&chain.block(1000, vec![tx])[0]).contains("expired"));
}

#[test]
fn governance_revokes_by_node_measurement_and_tcb() {
    let mut chain = Chain::new(dev_policy());
    chain.block(1000, vec![]);
    let v2 = Payload::Propose(GovernanceAction::AddRelease {
        version: "v2".into(),
        image: b"v2 image".to_vec(),
        measurements: vec![],
    });
    let txs = vec![chain.tx(100, release()), chain.tx(100, v2)];
    chain.block(1000, txs);
    let nodes: Vec<([u8; 32], &[u8])> = vec![
        ([1; 32], IMAGE),
        ([2; 32], IMAGE),
        ([3; 32], b"v2 image"),
        ([4; 32], b"v2 image"),
    ];
    let txs: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, (id, image))| {
            let r = chain.0.registration_owned_by(
                address(&key(i as u64 + 1)),
                SimFlavour::Intel,
                *id,
                "eu",
                image,
            );
            chain.tx(i as u64 + 1, Payload::Register(r))
        })
        .collect();
    assert!(
        chain
            .block(1000, txs)
            .iter()
            .all(|s| *s == ReceiptStatus::Accepted)
    );

    // By node.
    let tx = chain.tx(
        100,
        Payload::Propose(GovernanceAction::Revoke(Revocation::Node(node_id(
            &[1; 32],
        )))),
    );
    assert_eq!(chain.block(1000, vec![tx]), vec![ReceiptStatus::Accepted]);
    assert_eq!(
        chain.record(&[1; 32]).unwrap().status(chain.time_ms),
        "revoked"
    );
    assert!(chain.in_accumulator(&[1; 32]).is_none());
    assert!(chain.in_accumulator(&[2; 32]).is_some());

    // By measurement: both v2 nodes go at once.
    let v2_measurement = hyperchain_attest::sim::sim_measurement(SimFlavour::Intel, b"v2 image");
    let tx = chain.tx(
        100,
        Payload::Propose(GovernanceAction::Revoke(Revocation::Measurement(
            v2_measurement.to_vec(),
        ))),
    );
    chain.block(1000, vec![tx]);
    for id in [[3u8; 32], [4; 32]] {
        assert!(chain.in_accumulator(&id).is_none());
        assert_eq!(
            chain.record(&id).unwrap().revoked,
            Some(hyperchain_types::RevokeReason::Measurement)
        );
    }
    assert!(chain.in_accumulator(&[2; 32]).is_some());
    // Found in the code: the measurement stayed in the policy, so the revoked machines came
    // back with new identity keys. It leaves the policy with its nodes.
    let returning = chain.registration(SimFlavour::Intel, [6; 32], b"v2 image");
    let tx = chain.tx(1, Payload::Register(returning));
    let status = chain.block(1000, vec![tx]).remove(0);
    assert!(rejected(&status).contains("measurement"), "{status:?}");

    // Found in the code: a recall skipped TCBs of another shape (SEV-SNP Turin has 5
    // components, Milan 4). A recall that gives no minimum for a current node's shape is
    // refused and changes nothing.
    let tcb = chain.record(&[2; 32]).unwrap().tcb;
    let recall = |mins: Vec<Vec<u16>>| {
        Payload::Propose(GovernanceAction::Revoke(Revocation::TcbBelow {
            platform: platform_tag(Platform::SimIntel),
            mins,
        }))
    };
    let other_shape = vec![u16::MAX; tcb.len() + 1];
    let tx = chain.tx(100, recall(vec![other_shape.clone()]));
    let status = chain.block(1000, vec![tx]).remove(0);
    assert!(
        rejected(&status).contains(&format!("no minimum for TCBs of {} components", tcb.len())),
        "{status:?}"
    );
    assert!(chain.in_accumulator(&[2; 32]).is_some());

    // A TCB recall above node 2's TCB (with a minimum for each shape) removes it.
    let mut min = tcb.clone();
    min[0] += 1;
    let tx = chain.tx(100, recall(vec![other_shape, min]));
    assert_eq!(chain.block(1000, vec![tx]), vec![ReceiptStatus::Accepted]);
    assert!(chain.in_accumulator(&[2; 32]).is_none());
    assert_eq!(
        chain.record(&[2; 32]).unwrap().revoked,
        Some(hyperchain_types::RevokeReason::TcbRecall)
    );

    // A revoked identity key cannot come back.
    let r = chain.registration(SimFlavour::Intel, [1; 32], IMAGE);
    let tx = chain.tx(1, Payload::Register(r));
    assert!(rejected(&chain.block(1000, vec![tx])[0]).contains("revoked"));

    // Governance can tighten the policy; a malformed policy is refused.
    let tx = chain.tx(
        100,
        Payload::Propose(GovernanceAction::SetPolicy(vec![1, 2, 3])),
    );
    assert!(rejected(&chain.block(1000, vec![tx])[0]).contains("malformed policy"));
    let tx = chain.tx(
        100,
        Payload::Propose(GovernanceAction::SetPolicy(
            AttestationPolicy::default().encode().to_vec(),
        )),
    );
    assert_eq!(chain.block(1000, vec![tx]), vec![ReceiptStatus::Accepted]);
    let r = chain.registration(SimFlavour::Intel, [5; 32], IMAGE);
    let tx = chain.tx(5, Payload::Register(r));
    assert!(rejected(&chain.block(1000, vec![tx])[0]).contains("simulated"));
}

#[test]
fn contracts_see_the_accumulator_through_the_host() {
    use hyperchain_sdk::{decode_all, encode};
    let mut chain = Chain::new(dev_policy());
    chain.block(1000, vec![]);
    let deployer = 50;
    let hostcalls = hyperchain_types::contract_address(&address(&key(deployer)), 0);
    let deploy = chain.tx(
        deployer,
        Payload::Deploy {
            code: hyperchain_contracts::HOSTCALLS.to_vec(),
            mode: hyperchain_types::ExecutionMode::Replicated,
            regions: vec![],
        },
    );
    let release = chain.tx(100, release());
    chain.block(1000, vec![deploy, release]);
    let identity = [42u8; 32];
    let id = node_id(&identity).0;
    let ask = |chain: &mut Chain| {
        chain.tx(
            deployer,
            Payload::Call {
                contract: hostcalls,
                method: "compute_node_active".into(),
                input: encode(&id),
                fuel_limit: 10_000_000,
            },
        )
    };
    let answer = |status: &ReceiptStatus| match status {
        ReceiptStatus::Called { status, output, .. } if status.is_ok() => {
            decode_all::<bool>(output).unwrap()
        }
        other => panic!("{other:?}"),
    };

    // Before, in the same block right after registering, and after revocation.
    let before = ask(&mut chain);
    let r = chain.registration(SimFlavour::Intel, identity, IMAGE);
    let register = chain.tx(1, Payload::Register(r));
    let after = ask(&mut chain);
    let statuses = chain.block(1000, vec![before, register, after]);
    assert!(!answer(&statuses[0]));
    assert_eq!(statuses[1], ReceiptStatus::Accepted);
    assert!(answer(&statuses[2]));
    let revoke = chain.tx(
        100,
        Payload::Propose(GovernanceAction::Revoke(Revocation::Node(Digest(id)))),
    );
    let after_revoke = ask(&mut chain);
    let statuses = chain.block(1000, vec![revoke, after_revoke]);
    assert!(!answer(&statuses[1]));
}

/// Recorded SEV-SNP and SGX evidence (the `hyperchain-attest` fixtures) goes through the real
/// verifiers during block execution: the signatures, chains and TCB checks pass at a block
/// time inside the collateral's validity, the policy's measurement and TCB checks pass, and
/// the registration is refused only because the recorded report data does not bind this
/// chain and identity key (it was produced for someone else).
#[test]
fn recorded_hardware_evidence_is_verified_on_chain() {
    use hyperchain_attest::{DcapTcbStatus, Endorsements, Measurement, SnpEndorsements};
    let fixture = |name: &str| {
        let path = format!(
            "{}/../attest/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let snp_report = hex::decode(
        String::from_utf8(fixture("report_milan.hex"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let snp_endorsements = Endorsements::SevSnp(SnpEndorsements {
        ark: None,
        ask: fixture("ask_milan.pem"),
        vcek: fixture("vcek_milan.der"),
    });
    let sgx_quote = fixture("sgx_quote");
    let sgx_endorsements = Endorsements::from_json(
        Platform::Sgx,
        &String::from_utf8(fixture("sgx_quote_collateral.json")).unwrap(),
    )
    .unwrap();
    // 2025-06-20, inside every recorded collateral's validity.
    let now_s = 1_750_377_600u64;
    let snp_claims =
        hyperchain_attest::verify(Platform::SevSnp, &snp_report, &snp_endorsements, now_s).unwrap();
    let sgx_claims =
        hyperchain_attest::verify(Platform::Sgx, &sgx_quote, &sgx_endorsements, now_s).unwrap();
    let mut policy = AttestationPolicy::default();
    policy.measurements.insert(
        Platform::SevSnp,
        vec![Measurement(snp_claims.measurement.clone())],
    );
    policy.measurements.insert(
        Platform::Sgx,
        vec![Measurement(sgx_claims.measurement.clone())],
    );
    policy.allowed_tcb_statuses = [
        DcapTcbStatus::UpToDate,
        DcapTcbStatus::SwHardeningNeeded,
        DcapTcbStatus::ConfigurationNeeded,
        DcapTcbStatus::ConfigurationAndSwHardeningNeeded,
        DcapTcbStatus::OutOfDate,
    ]
    .into_iter()
    .collect();
    policy.allowed_advisories = sgx_claims.advisories.iter().cloned().collect();
    let mut chain = Chain::new(policy);
    chain.time_ms = now_s * 1000;
    chain.block(1000, vec![]);
    for (platform, evidence, endorsements) in [
        (Platform::SevSnp, snp_report, snp_endorsements),
        (Platform::Sgx, sgx_quote, sgx_endorsements),
    ] {
        let r = Registration {
            identity_key: [77; 32],
            platform: platform_tag(platform),
            region: "eu".into(),
            evidence: evidence.clone(),
            endorsements: endorsements.encode().to_vec(),
            recent_block: chain.parent,
        };
        let tx = chain.tx(1, Payload::Register(r.clone()));
        let status = chain.block(1000, vec![tx]);
        let reason = rejected(&status[0]);
        assert!(
            reason.starts_with("policy rejected (report-data)"),
            "{platform:?}: {reason}"
        );
        // A flipped evidence byte fails verification instead, naming the check.
        let mut tampered = r;
        tampered.evidence[100] ^= 0x01;
        let tx = chain.tx(1, Payload::Register(tampered));
        let status = chain.block(1000, vec![tx]);
        assert!(
            rejected(&status[0]).starts_with("evidence rejected"),
            "{platform:?}: {:?}",
            status[0]
        );
    }
}

/// Found in the code: region and owner were not bound in the evidence, so anyone who copied a
/// node's registration from the mempool could submit it first, from their own account (taking
/// the node) or for another region (stranding it), and the node's own registration was then
/// refused as a duplicate.
#[test]
fn a_copied_registration_cannot_be_submitted_from_another_account_or_for_another_region() {
    let mut chain = Chain::new(dev_policy());
    chain.block(1000, vec![]);
    let tx = chain.tx(100, release());
    chain.block(1000, vec![tx]);
    let id = hyperchain_chain::testkit::identity(9);
    let genuine = chain.0.registration(SimFlavour::Intel, id, "eu", IMAGE);
    let elsewhere = Registration {
        region: "us".into(),
        ..genuine.clone()
    };
    let copies = vec![
        chain.tx(66, Payload::Register(genuine.clone())),
        chain.tx(9, Payload::Register(elsewhere)),
        chain.tx(9, Payload::Register(genuine)),
    ];
    let statuses = chain.block(1000, copies);
    for status in &statuses[..2] {
        assert!(rejected(status).contains("report-data"), "{status:?}");
    }
    assert_eq!(statuses[2], ReceiptStatus::Accepted);
    let record = chain.record(&id).unwrap();
    assert_eq!(
        (record.owner, record.region.as_str()),
        (address(&key(9)), "eu")
    );
}

/// Found in the code: any account could send a `Reattest` (a replay of the node's recent
/// evidence), and re-attesting cleared the node's missed deadlines, so a silent node's
/// suspension could be lifted by anyone for free.
#[test]
fn only_the_node_itself_reattests_and_reattesting_keeps_its_missed_deadlines() {
    let mut chain = Chain::new(dev_policy());
    chain.block(1000, vec![]);
    let tx = chain.tx(100, release());
    chain.block(1000, vec![tx]);
    let id = hyperchain_chain::testkit::identity(9);
    let r = chain.0.registration(SimFlavour::Intel, id, "eu", IMAGE);
    let tx = chain.tx(9, Payload::Register(r));
    assert_eq!(chain.block(1000, vec![tx]), vec![ReceiptStatus::Accepted]);
    // The node has a suspension on record.
    let suspended = hyperchain_chain::lanes::Liveness {
        misses: 1,
        suspended_until_ms: chain.time_ms + 3_600_000,
    };
    let mut batch = hyperchain_state::WriteBatch::new();
    batch.put(
        TreeId::ROOT,
        hyperchain_chain::lanes::liveness_key(&node_id(&id)),
        suspended.encode(),
    );
    chain.store.commit(&batch, chain.height).unwrap();

    let fresh = chain.0.registration(SimFlavour::Intel, id, "eu", IMAGE);
    let stranger = chain.tx(66, Payload::Reattest(fresh.clone()));
    let moved = chain.tx(
        9,
        Payload::Reattest(Registration {
            region: "us".into(),
            ..fresh.clone()
        }),
    );
    let own = chain.tx(9, Payload::Reattest(fresh));
    let statuses = chain.block(1000, vec![stranger, moved, own]);
    assert!(rejected(&statuses[0]).contains("itself"), "{statuses:?}");
    assert!(rejected(&statuses[1]).contains("region"), "{statuses:?}");
    assert_eq!(statuses[2], ReceiptStatus::Accepted);
    let view = chain.store.snapshot().unwrap();
    assert_eq!(
        hyperchain_chain::lanes::liveness(&view, &node_id(&id)).unwrap(),
        suspended,
        "fresh evidence says nothing about liveness"
    );
}

/// Found in the code: expired and revoked nodes stayed in the registry's index forever, so
/// after enough churn (4,096 registrations ever) nobody could register again. A full index
/// makes room by dropping revoked and expired nodes; their records are pruned to compact
/// tombstones, so their keys can never return.
#[test]
fn a_full_registry_makes_room_by_dropping_revoked_and_expired_nodes() {
    let executor = Executor::new(engine(), chain_id()).with_registry(RegistryConfig {
        validators: vec![hyperchain_types::SenderKey::from(key(100).public_key()).address()],
        genesis_policy: dev_policy(),
        max_nodes: 2,
        ..RegistryConfig::default()
    });
    let mut chain = Chain(MemoryChain::new(chain_id(), executor));
    chain.block(1000, vec![]);
    let tx = chain.tx(100, release());
    chain.block(1000, vec![tx]);
    let register = |chain: &mut Chain, seed: u64| {
        let identity = hyperchain_chain::testkit::identity(seed);
        let r = chain
            .0
            .registration(SimFlavour::Intel, identity, "eu", IMAGE);
        let tx = chain.tx(seed, Payload::Register(r));
        (identity, chain.block(1000, vec![tx]).remove(0))
    };
    let (first, status) = register(&mut chain, 11);
    assert_eq!(status, ReceiptStatus::Accepted);
    let (_, status) = register(&mut chain, 12);
    assert_eq!(status, ReceiptStatus::Accepted);
    let (_, status) = register(&mut chain, 13);
    assert!(rejected(&status).contains("full"), "{status:?}");

    // Governance revokes the first: the next registration takes its place.
    let tx = chain.tx(
        100,
        Payload::Propose(GovernanceAction::Revoke(Revocation::Node(node_id(&first)))),
    );
    chain.block(1000, vec![tx]);
    let (third, status) = register(&mut chain, 13);
    assert_eq!(status, ReceiptStatus::Accepted);
    // The index kept the rest in order and appended the newcomer.
    let view = chain.store.snapshot().unwrap();
    assert_eq!(
        hyperchain_chain::registry::node_ids(&view).unwrap(),
        vec![
            node_id(&hyperchain_chain::testkit::identity(12)),
            node_id(&third)
        ]
    );
    // The revoked key still cannot come back.
    let (_, status) = register(&mut chain, 11);
    assert!(rejected(&status).contains("revoked"), "{status:?}");
    // Its record was pruned to a compact tombstone (the record is about 200 bytes).
    assert!(chain.record(&first).is_none(), "its record was pruned");
    let view = chain.store.snapshot().unwrap();
    let tomb = hyperchain_chain::registry::tombstone(&view, &node_id(&first))
        .unwrap()
        .expect("a tombstone");
    assert_eq!(tomb.revoked, Some(RevokeReason::Governance));
    let raw = view
        .get(
            &TreeId::ROOT,
            &hyperchain_chain::registry::tomb_key(&node_id(&first)),
        )
        .unwrap()
        .unwrap();
    assert!(raw.len() <= 75, "{} bytes", raw.len());
    assert_eq!(chain.in_accumulator(&first), None);

    // Once every member has expired, new nodes take their places.
    let validity = AttestationPolicy::default().token_validity_secs * 1000;
    chain.block(validity, vec![]);
    let (_, status) = register(&mut chain, 14);
    assert_eq!(status, ReceiptStatus::Accepted);
    let (_, status) = register(&mut chain, 12);
    assert!(rejected(&status).contains("expired"), "{status:?}");
}

/// TCB recovery without an outage (issue: another TEE network lost 7 of its 22 TDX nodes for
/// days after an Intel TCB recovery): a policy that raises the minimum TCB judges the current
/// members by their recorded evidence. The preview lists who would lose membership per region
/// and vendor, and says the region would lose its last AMD node. Once carried out, a failing
/// member keeps its membership for the policy's recovery grace only: one that re-attests with
/// updated firmware stays, one that does not is no longer a member when the grace ends. The
/// members the policy accepts are untouched.
#[test]
fn a_tcb_recovery_evicts_members_after_a_grace_unless_they_re_attest() {
    use hyperchain_attest::TcbMinimums;
    use hyperchain_chain::registry::{Now, preview};
    let mut chain = Chain::new(dev_policy());
    chain.block(1000, vec![]);
    let tx = chain.tx(100, release());
    chain.block(1000, vec![tx]);
    let register = |chain: &mut Chain, seed: u64, flavour: SimFlavour| {
        let id = hyperchain_chain::testkit::identity(seed);
        let r = chain.0.registration(flavour, id, "eu", IMAGE);
        let tx = chain.tx(seed, Payload::Register(r));
        assert_eq!(chain.block(1000, vec![tx]), vec![ReceiptStatus::Accepted]);
        id
    };
    let amd_updating = register(&mut chain, 21, SimFlavour::Amd);
    let amd_stale = register(&mut chain, 22, SimFlavour::Amd);
    let intel = register(&mut chain, 23, SimFlavour::Intel);

    // The recovery: SEV-SNP (simulated AMD) TCBs below [2, 1, 1, 1] fail; a one-hour grace.
    let grace_ms = 3_600_000;
    let mut policy = dev_policy();
    policy.measurements = chain
        .store
        .get(&TreeId::ROOT, hyperchain_chain::registry::POLICY_KEY)
        .unwrap()
        .map(|raw| AttestationPolicy::decode(bytes::Bytes::from(raw)).unwrap())
        .unwrap()
        .measurements;
    policy.min_tcb.insert(
        Platform::SimAmd,
        TcbMinimums::new(vec![vec![2, 1, 1, 1]]).unwrap(),
    );
    policy.recovery_grace_secs = grace_ms / 1000;
    let action = GovernanceAction::SetPolicy(policy.encode().to_vec());

    let now = Now {
        height: 0,
        ms: chain.time_ms,
    };
    let cfg = RegistryConfig {
        genesis_policy: dev_policy(),
        ..RegistryConfig::default()
    };
    let seen = preview(&chain.store.snapshot().unwrap(), &cfg, &action, now).unwrap();
    assert_eq!(seen.refused, None);
    let mut ended: Vec<_> = seen.ended.iter().map(|e| e.record.identity_key).collect();
    ended.sort();
    let mut expected = vec![amd_updating, amd_stale];
    expected.sort();
    assert_eq!(
        ended, expected,
        "both AMD members fail; the Intel one passes"
    );
    assert!(
        seen.ended
            .iter()
            .all(|e| e.at_ms == chain.time_ms + grace_ms)
    );
    assert!(seen.ended[0].reason.contains("min-tcb"), "{:?}", seen.ended);
    assert_eq!(seen.regions.len(), 1);
    let eu = &seen.regions[0];
    assert_eq!((eu.intel_before, eu.intel_after), (1, 1));
    assert_eq!((eu.amd_before, eu.amd_after), (2, 0));
    assert!(eu.loses_a_vendor(), "eu would lose its last AMD member");

    let tx = chain.tx(100, Payload::Propose(action));
    assert_eq!(chain.block(1000, vec![tx]), vec![ReceiptStatus::Accepted]);
    let since = chain.time_ms;
    for id in [amd_updating, amd_stale] {
        let record = chain.record(&id).unwrap();
        assert_eq!(record.fails_policy_since, Some(since));
        assert!(record.expires_ms <= since + grace_ms);
        assert!(
            record.is_active(chain.time_ms),
            "still a member during the grace"
        );
        assert_eq!(chain.in_accumulator(&id), Some(record.expires_ms));
    }
    let untouched = chain.record(&intel).unwrap();
    assert_eq!(untouched.fails_policy_since, None);
    assert!(untouched.expires_ms > since + grace_ms);

    // Old firmware cannot re-attest; updated firmware can, and ends the grace.
    let owner = hyperchain_types::SenderKey(amd_updating).address();
    let old = chain.0.registration_with_tcb(
        owner,
        SimFlavour::Amd,
        &amd_updating,
        amd_updating,
        "eu",
        IMAGE,
        None,
    );
    let tx = chain.tx(21, Payload::Reattest(old));
    assert!(rejected(&chain.block(1000, vec![tx])[0]).contains("min-tcb"));
    let updated = chain.0.registration_with_tcb(
        owner,
        SimFlavour::Amd,
        &amd_updating,
        amd_updating,
        "eu",
        IMAGE,
        Some([2, 1, 1, 1]),
    );
    let tx = chain.tx(21, Payload::Reattest(updated));
    assert_eq!(chain.block(1000, vec![tx]), vec![ReceiptStatus::Accepted]);
    let recovered = chain.record(&amd_updating).unwrap();
    assert_eq!(recovered.fails_policy_since, None);
    assert!(recovered.expires_ms > since + grace_ms);

    // When the grace ends, the member that did not re-attest is no longer one.
    chain.block(grace_ms, vec![]);
    let stale = chain.record(&amd_stale).unwrap();
    assert!(!stale.is_active(chain.time_ms));
    assert_eq!(stale.status(chain.time_ms), "expired");
    assert!(
        chain
            .record(&amd_updating)
            .unwrap()
            .is_active(chain.time_ms)
    );
    assert!(chain.record(&intel).unwrap().is_active(chain.time_ms));
}
