//! Light-client verification: a finality certificate (`light::verify_finalized`) and a
//! finality certificate plus a two-level state proof (`light::verify_state`); an attestation
//! token (`registry::verify_token`) and an accumulator membership proof against a known root
//! (`registry::verify_membership`).
//!
//! `consensus/100/*`: a validator's threshold-BLS work in one view of a 100-validator network
//! (quorum 67), the per-view cost the scale simulation charges (`hyperchain simulate`): one
//! notarize vote (a partial signature on the proposal and a partial seed signature) and one
//! finalize vote checked alone, and the notarization (two recoveries) and finalization (one)
//! assembled from 67 votes.

use commonware_codec::Encode as _;
use commonware_consensus::{
    simplex::types::{Finalization, Finalize, Notarization, Notarize, Proposal},
    types::{Epoch, Round, View},
};
use commonware_parallel::Sequential;
use commonware_utils::{TestRng, non_empty};
use criterion::{Criterion, criterion_group, criterion_main};
use hyperchain_chain::{
    block::to_consensus,
    genesis::{Devnet, deal_devnet},
    light::LightClient,
};
use hyperchain_merkle::{MemoryNodeStore, StateProof, TreeId};
use hyperchain_types::{Digest, Header, tx_root};
use std::hint::black_box;
use std::net::SocketAddr;

/// A four-validator devnet dealt from a fixed seed.
fn devnet() -> Devnet {
    devnet_of(4)
}

fn devnet_of(n: u16) -> Devnet {
    let addresses: Vec<SocketAddr> = (0..n)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], 9000 + i)))
        .collect();
    deal_devnet(TestRng::new(7), "bench", 1_000, &addresses).unwrap()
}

/// The encoded finalization of `header` in view `view`, signed by every validator.
fn finalize(devnet: &Devnet, header: &Header, view: u64) -> Vec<u8> {
    let proposal = Proposal::new(
        Round::new(Epoch::zero(), View::new(view)),
        View::new(view - 1),
        to_consensus(header.digest()),
    );
    let schemes: Vec<_> = devnet
        .validator_keys
        .iter()
        .map(|key| devnet.spec.signer(key).unwrap())
        .collect();
    let votes: Vec<_> = schemes
        .iter()
        .map(|scheme| Finalize::sign(scheme, proposal.clone()).unwrap())
        .collect();
    Finalization::from_finalizes(&schemes[0], non_empty![@votes.iter()], &Sequential)
        .unwrap()
        .encode()
        .to_vec()
}

fn bench(c: &mut Criterion) {
    let devnet = devnet();
    let light = LightClient::from_spec(&devnet.spec);

    // A token contract's storage with 10,000 balances, linked in a root tree with 255 other
    // contracts: a state proof of one balance.
    let contract = TreeId([7; 32]);
    let mut storage = MemoryNodeStore::new();
    storage.update((0u32..10_000).map(|i| (i.to_be_bytes(), Some(u64::from(i).to_be_bytes()))));
    let mut root = MemoryNodeStore::new();
    root.update((0u8..=254).map(|i| (TreeId([i; 32]).link_key(), Some([i; 32]))));
    let state_root = root.update([(contract.link_key(), Some(storage.root()))]);
    let key = 4_242u32.to_be_bytes();
    let value = 4_242u64.to_be_bytes();
    let proof = StateProof {
        subtree: Some(storage.prove(&key)),
        link: root.prove(&contract.link_key()),
    };

    let header = Header {
        chain_id: devnet.spec.chain_id,
        height: 1_000,
        parent: Digest([1; 32]),
        timestamp_ms: 1_000_000,
        tx_root: tx_root(&[]),
        state_root: Digest(state_root),
        epoch: 0,
        view: 1_200,
        parent_view: 1_199,
        leader: [3; 32],
        seed: None,
        reshare: hyperchain_types::Digest::ZERO,
    };
    let certificate = finalize(&devnet, &header, 1_200);
    light.verify_finalized(&header, &certificate).unwrap();
    light
        .verify_state(&header, &certificate, &proof, &contract, &key, Some(&value))
        .unwrap();

    c.bench_function("light::verify_finalized", |b| {
        b.iter(|| {
            light
                .verify_finalized(black_box(&header), black_box(&certificate))
                .unwrap()
        })
    });
    c.bench_function("light::verify_state", |b| {
        b.iter(|| {
            light
                .verify_state(
                    black_box(&header),
                    black_box(&certificate),
                    black_box(&proof),
                    &contract,
                    &key,
                    Some(&value),
                )
                .unwrap()
        })
    });
}

/// An attestation token of one node among 1,000 registered ones (root tree with their
/// records), and a membership proof in an accumulator of 1,000 nodes.
fn bench_registry(c: &mut Criterion) {
    use hyperchain_chain::registry::{ACCUMULATOR, node_key};
    use hyperchain_chain::token::{AttestationToken, verify_token};
    use hyperchain_types::{Address, NodeRecord, node_id};
    let devnet = devnet();
    let light = LightClient::from_spec(&devnet.spec);
    let record = |i: u32| NodeRecord {
        identity_key: [i as u8; 32].map(|b| b ^ (i >> 8) as u8),
        platform: 3,
        region: "eu".into(),
        measurement: vec![9; 32],
        tcb: vec![1, 1, 1, 1],
        owner: Address([1; 32]),
        registered_ms: 1,
        attested_ms: 1,
        expires_ms: u64::MAX,
        revoked: None,
        bond: 0,
        chip: hyperchain_types::Digest([2; 32]),
        fails_policy_since: None,
    };
    let records: Vec<NodeRecord> = (0..1_000).map(record).collect();
    let mut accumulator = MemoryNodeStore::new();
    accumulator.update(
        records
            .iter()
            .map(|r| (r.id().0, Some(u64::MAX.to_be_bytes()))),
    );
    let mut root = MemoryNodeStore::new();
    root.update(
        records
            .iter()
            .map(|r| (node_key(&r.id()), Some(r.encode().to_vec()))),
    );
    let state_root = root.update([(ACCUMULATOR.link_key(), Some(accumulator.root()))]);
    let target = &records[421];
    let header = Header {
        chain_id: devnet.spec.chain_id,
        height: 1_000,
        parent: Digest([1; 32]),
        timestamp_ms: 1_000_000,
        tx_root: tx_root(&[]),
        state_root: Digest(state_root),
        epoch: 0,
        view: 1_200,
        parent_view: 1_199,
        leader: [3; 32],
        seed: None,
        reshare: hyperchain_types::Digest::ZERO,
    };
    let token = AttestationToken {
        record: target.clone(),
        header: header.clone(),
        certificate: finalize(&devnet, &header, 1_200),
        proof: StateProof {
            subtree: None,
            link: root.prove(&node_key(&target.id())),
        },
    };
    let at = Some(hyperchain_chain::token::TokenFreshness {
        now_ms: 2_000_000,
        max_age_ms: u64::MAX,
    });
    verify_token(&token, &light, at).unwrap();
    let id = node_id(&target.identity_key);
    let membership = StateProof {
        subtree: Some(accumulator.prove(&id.0)),
        link: root.prove(&ACCUMULATOR.link_key()),
    };
    let expiry = u64::MAX.to_be_bytes();
    hyperchain_merkle::verify_state_proof(
        &state_root,
        &ACCUMULATOR,
        &id.0,
        Some(&expiry),
        &membership,
    )
    .unwrap();

    c.bench_function("registry::verify_token", |b| {
        b.iter(|| verify_token(black_box(&token), &light, at).unwrap())
    });
    c.bench_function("registry::verify_membership", |b| {
        b.iter(|| {
            hyperchain_merkle::verify_state_proof(
                black_box(&state_root),
                &ACCUMULATOR,
                &id.0,
                Some(&expiry),
                black_box(&membership),
            )
            .unwrap()
        })
    });
}

fn bench_consensus(c: &mut Criterion) {
    let devnet = devnet_of(100);
    let schemes: Vec<_> = devnet
        .validator_keys
        .iter()
        .map(|key| devnet.spec.signer(key).unwrap())
        .collect();
    let proposal = Proposal::new(
        Round::new(Epoch::zero(), View::new(10)),
        View::new(9),
        to_consensus(Digest([3; 32])),
    );
    let quorum = 67;
    let notarizes: Vec<_> = schemes[..quorum]
        .iter()
        .map(|s| Notarize::sign(s, proposal.clone()).unwrap())
        .collect();
    let finalizes: Vec<_> = schemes[..quorum]
        .iter()
        .map(|s| Finalize::sign(s, proposal.clone()).unwrap())
        .collect();
    let mut rng = TestRng::new(1);
    assert!(notarizes[5].verify(&mut rng, &schemes[0], &Sequential));
    assert!(finalizes[5].verify(&mut rng, &schemes[0], &Sequential));
    let mut g = c.benchmark_group("consensus/100");
    g.sample_size(10);
    g.bench_function("verify_notarize_vote", |b| {
        b.iter(|| assert!(notarizes[black_box(5)].verify(&mut rng, &schemes[0], &Sequential)))
    });
    g.bench_function("verify_finalize_vote", |b| {
        b.iter(|| assert!(finalizes[black_box(5)].verify(&mut rng, &schemes[0], &Sequential)))
    });
    g.bench_function("notarization_from_67", |b| {
        b.iter(|| {
            Notarization::from_notarizes(&schemes[0], non_empty![@notarizes.iter()], &Sequential)
                .unwrap()
        })
    });
    g.bench_function("finalization_from_67", |b| {
        b.iter(|| {
            Finalization::from_finalizes(&schemes[0], non_empty![@finalizes.iter()], &Sequential)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_registry, bench_consensus);
criterion_main!(benches);
