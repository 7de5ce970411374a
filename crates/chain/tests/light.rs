//! The light client: finalized blocks and state of a simulated chain verify with the group key
//! alone; tampered certificates, headers, keys and proofs are rejected with the right error.

use crate::common::*;
use crate::sim::{Testnet, good_link, open_ledger, wait_for};
use commonware_codec::Encode as _;
use commonware_consensus::{
    simplex::types::{
        Finalization, Finalize, Notarization, Notarize, Nullification, Nullify, Proposal,
    },
    types::{Epoch, Height, Round, View},
};
use commonware_cryptography::sha256;
use commonware_parallel::Sequential;
use commonware_runtime::{Clock as _, Quota, Runner as _, Supervisor as _, deterministic};
use commonware_utils::{NZU32, non_empty};
use hyperchain_chain::{
    app::Scheme,
    block::to_consensus,
    genesis::{Devnet, GroupPublicKey},
    ledger::Ledger,
    light::{LightClient, LightError},
    mempool::Mempool,
    node::{self, Channels},
};
use hyperchain_contracts::COUNTER;
use hyperchain_merkle::{StateProof, TreeId};
use hyperchain_sdk::encode;
use hyperchain_types::{Block, Digest, Header};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// What a simulated chain leaves for a light client.
struct Finalized {
    /// The network's group public key.
    group_key: GroupPublicKey,
    /// Finalized blocks from height 1 on, with validator 0's stored certificate of each.
    blocks: Vec<(Block, Vec<u8>)>,
    /// A state proof of the counter's `count` at the last finalized height of the state.
    proof: StateProof,
    /// The counter's tree.
    counter: TreeId,
    /// The counter's encoded value in that state.
    count: Vec<u8>,
    /// The height of that state.
    proof_height: u64,
}

/// Four validators on the deterministic runtime finalize a counter deployment and a few
/// increments; then the blocks, validator 0's finalization certificates and a state proof are
/// taken out.
fn simulate(seed: u64) -> Finalized {
    const VALIDATORS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(600)));
    deterministic::Runner::new(cfg).start(|mut context| async move {
        let net = Testnet::new(&mut context, VALIDATORS, &good_link()).await;
        let (peers, polynomial, oracle) = (&net.peers, &net.polynomial, &net.oracle);
        let genesis = net.genesis();

        let ledgers: Vec<Arc<Ledger>> = (0..VALIDATORS)
            .map(|i| open_ledger(&dir.path().join(format!("v{i}")), &genesis))
            .collect();
        let mempools: Vec<Arc<Mempool>> = (0..VALIDATORS)
            .map(|_| Arc::new(Mempool::new(chain_id(), 10_000)))
            .collect();
        let mut nodes = Vec::new();
        for (i, me) in peers.iter().enumerate() {
            let keys = net.keys(i, &dir.path().join(format!("v{i}/secrets")));
            let quota = Quota::per_second(NZU32!(10_000));
            let control = oracle.control(me.clone());
            let channels = Channels {
                votes: control.register(0, quota).await.unwrap(),
                certificates: control.register(1, quota).await.unwrap(),
                resolver: control.register(2, quota).await.unwrap(),
                backfill: control.register(3, quota).await.unwrap(),
                relay: control.register(4, quota).await.unwrap(),
                dkg: control.register(5, quota).await.unwrap(),
            };
            nodes.push(
                node::start(
                    context.child("validator").with_attribute("index", i),
                    &format!("validator-{i}"),
                    keys,
                    ledgers[i].clone(),
                    mempools[i].clone(),
                    hyperchain_chain::simnet::addressable(oracle),
                    control,
                    channels,
                )
                .await,
            );
        }

        let alice = key(42);
        let counter = counter_address(&alice, 0);
        mempools[0].submit(deploy(&alice, 0, COUNTER), 0).unwrap();
        for i in 1..=3u64 {
            mempools[0]
                .submit(call(&alice, i, counter, "increment", encode(&i)), 0)
                .unwrap();
        }
        let all: Vec<usize> = (0..VALIDATORS).collect();
        wait_for(&context, &ledgers, &all, 6).await;
        let last = call(&alice, 3, counter, "increment", encode(&3u64)).id();
        while ledgers[0].receipt(&last).unwrap().is_none() {
            context.sleep(Duration::from_millis(100)).await;
        }

        // A state proof from one snapshot, at the height of that snapshot.
        let snapshot = ledgers[0].snapshot().unwrap();
        let proof_height = snapshot.height().unwrap();
        let tree = TreeId(counter.0);
        let count = snapshot.get(&tree, b"count").unwrap().expect("counted");
        let proof = snapshot.prove(&tree, b"count").unwrap();

        let tip = ledgers[0].tip().0;
        let mut blocks = Vec::new();
        for height in 1..=tip {
            let block = ledgers[0].block(height).unwrap().expect("finalized block");
            let certificate = nodes[0]
                .marshal
                .get_finalization(Height::new(height))
                .await
                .unwrap_or_else(|| panic!("no stored finalization at height {height}"));
            blocks.push((block, certificate.encode().to_vec()));
        }
        for node in nodes {
            for handle in node.handles {
                handle.abort();
            }
        }
        Finalized {
            group_key: *polynomial.public(),
            blocks,
            proof,
            counter: tree,
            count,
            proof_height,
        }
    })
}

/// Which certificate to sign.
#[derive(Clone, Copy)]
enum Kind {
    Finalization,
    Notarization,
    Nullification,
}

/// A certificate of `kind` on `header` in view 10, signed by every validator of `devnet`.
fn certify(devnet: &Devnet, header: &Header, kind: Kind) -> Vec<u8> {
    certify_in(devnet, header, kind, Epoch::zero())
}

/// [`certify`] in view 10 of `epoch`.
fn certify_in(devnet: &Devnet, header: &Header, kind: Kind, epoch: Epoch) -> Vec<u8> {
    let round = Round::new(epoch, View::new(10));
    let proposal = Proposal::new(round, View::new(9), to_consensus(header.digest()));
    let schemes: Vec<Scheme> = devnet
        .validator_keys
        .iter()
        .map(|key| devnet.spec.signer(key).unwrap())
        .collect();
    match kind {
        Kind::Finalization => {
            let votes: Vec<_> = schemes
                .iter()
                .map(|s| Finalize::sign(s, proposal.clone()).unwrap())
                .collect();
            Finalization::from_finalizes(&schemes[0], non_empty![@votes.iter()], &Sequential)
                .unwrap()
                .encode()
        }
        Kind::Notarization => {
            let votes: Vec<_> = schemes
                .iter()
                .map(|s| Notarize::sign(s, proposal.clone()).unwrap())
                .collect();
            Notarization::from_notarizes(&schemes[0], non_empty![@votes.iter()], &Sequential)
                .unwrap()
                .encode()
        }
        Kind::Nullification => {
            let votes: Vec<_> = schemes
                .iter()
                .map(|s| Nullify::sign::<sha256::Digest>(s, round).unwrap())
                .collect();
            Nullification::from_nullifies(&schemes[0], non_empty![@votes.iter()], &Sequential)
                .unwrap()
                .encode()
        }
    }
    .to_vec()
}

fn header_of(devnet: &Devnet) -> Header {
    Block::genesis(devnet.spec.chain_id, 1_000, Digest([3; 32])).header
}

type Tamper = fn(&mut Header);

#[test]
fn finalized_blocks_of_a_simulated_chain_verify_and_tampering_is_rejected() {
    let finalized = simulate(3);
    let light = LightClient::new(chain_id(), finalized.group_key);
    assert!(finalized.blocks.len() >= 6);

    // Every finalized block verifies with its stored certificate.
    for (block, certificate) in &finalized.blocks {
        light
            .verify_finalized(&block.header, certificate)
            .unwrap_or_else(|e| panic!("height {}: {e}", block.header.height));
    }

    // A certificate of another block.
    for pair in finalized.blocks.windows(2) {
        let (a, cert_a) = &pair[0];
        let (b, cert_b) = &pair[1];
        assert_eq!(
            light.verify_finalized(&a.header, cert_b),
            Err(LightError::WrongBlock {
                certified: b.digest(),
                header: a.digest(),
            })
        );
        assert!(matches!(
            light.verify_finalized(&b.header, cert_a),
            Err(LightError::WrongBlock { .. })
        ));
    }

    let (block, certificate) = finalized.blocks.last().unwrap();
    let header = &block.header;

    // A flipped bit or byte anywhere in the certificate.
    for position in 0..certificate.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut tampered = certificate.clone();
            tampered[position] ^= mask;
            match light.verify_finalized(header, &tampered) {
                Err(
                    LightError::MalformedCertificate(_)
                    | LightError::WrongBlock { .. }
                    | LightError::BadSignature,
                ) => {}
                other => panic!("byte {position} ^ {mask:#x}: {other:?}"),
            }
        }
    }
    // Truncated or extended.
    for len in 0..certificate.len() {
        assert!(
            matches!(
                light.verify_finalized(header, &certificate[..len]),
                Err(LightError::MalformedCertificate(_))
            ),
            "truncated to {len}"
        );
    }
    let mut extended = certificate.clone();
    extended.push(0);
    assert!(matches!(
        light.verify_finalized(header, &extended),
        Err(LightError::MalformedCertificate(_))
    ));

    // A header with a modified field.
    let tampers: [Tamper; 5] = [
        |h| h.height += 1,
        |h| h.parent.0[0] ^= 1,
        |h| h.timestamp_ms += 1,
        |h| h.tx_root.0[31] ^= 1,
        |h| h.state_root.0[5] ^= 1,
    ];
    for tamper in tampers {
        let mut modified = header.clone();
        tamper(&mut modified);
        assert!(matches!(
            light.verify_finalized(&modified, certificate),
            Err(LightError::WrongBlock { .. })
        ));
    }
    let mut other_chain = header.clone();
    other_chain.chain_id = hyperchain_types::sha256(b"another chain");
    assert_eq!(
        light.verify_finalized(&other_chain, certificate),
        Err(LightError::WrongChain {
            expected: chain_id(),
            found: other_chain.chain_id,
        })
    );

    // The group key of another dealer run.
    let other_key = *devnet(99, 4).spec.group_public_key();
    assert_ne!(other_key, finalized.group_key);
    let impostor = LightClient::new(chain_id(), other_key);
    assert_eq!(
        impostor.verify_finalized(header, certificate),
        Err(LightError::BadSignature)
    );

    // A light client of another chain id.
    let elsewhere = LightClient::new(
        hyperchain_types::sha256(b"another chain"),
        finalized.group_key,
    );
    assert!(matches!(
        elsewhere.verify_finalized(header, certificate),
        Err(LightError::WrongChain { .. })
    ));

    // The state: the counter's value at the proof's height, against that block's state root.
    let (block, certificate) = &finalized.blocks[finalized.proof_height as usize - 1];
    assert_eq!(block.header.height, finalized.proof_height);
    let (tree, count) = (&finalized.counter, finalized.count.as_slice());
    light
        .verify_state(
            &block.header,
            certificate,
            &finalized.proof,
            tree,
            b"count",
            Some(count),
        )
        .unwrap();
    // Another value, absence, another key.
    assert!(matches!(
        light.verify_state(
            &block.header,
            certificate,
            &finalized.proof,
            tree,
            b"count",
            Some(b"\x00")
        ),
        Err(LightError::BadStateProof(_))
    ));
    assert!(matches!(
        light.verify_state(
            &block.header,
            certificate,
            &finalized.proof,
            tree,
            b"count",
            None
        ),
        Err(LightError::BadStateProof(_))
    ));
    assert!(matches!(
        light.verify_state(
            &block.header,
            certificate,
            &finalized.proof,
            tree,
            b"other",
            Some(count)
        ),
        Err(LightError::BadStateProof(_))
    ));
    // A finalized block with another state root (the one before the deployment).
    let (earlier, earlier_cert) = finalized
        .blocks
        .iter()
        .find(|(b, _)| b.header.state_root != block.header.state_root)
        .unwrap();
    assert!(matches!(
        light.verify_state(
            &earlier.header,
            earlier_cert,
            &finalized.proof,
            tree,
            b"count",
            Some(count)
        ),
        Err(LightError::BadStateProof(_))
    ));
    // A header claiming the state root is not finalized.
    let mut claimed = earlier.header.clone();
    claimed.state_root = block.header.state_root;
    assert!(matches!(
        light.verify_state(
            &claimed,
            earlier_cert,
            &finalized.proof,
            tree,
            b"count",
            Some(count)
        ),
        Err(LightError::WrongBlock { .. })
    ));
}

#[test]
fn only_finalizations_by_the_group_key_verify() {
    let devnet = devnet(1, 4);
    let light = LightClient::from_spec(&devnet.spec);
    let header = header_of(&devnet);
    light
        .verify_finalized(&header, &certify(&devnet, &header, Kind::Finalization))
        .unwrap();
    assert_eq!(
        light.verify_finalized(&header, &certify(&devnet, &header, Kind::Notarization)),
        Err(LightError::NotAFinalization("notarization"))
    );
    assert_eq!(
        light.verify_finalized(&header, &certify(&devnet, &header, Kind::Nullification)),
        Err(LightError::NotAFinalization("nullification"))
    );

    // Another dealer run of the same chain document: same chain id, another group key.
    let other = devnet_with_chain(&devnet, 2);
    let forged = certify(&other, &header, Kind::Finalization);
    assert_eq!(
        light.verify_finalized(&header, &forged),
        Err(LightError::BadSignature)
    );
    assert_eq!(
        light.verify_finalized(&header, &certify(&other, &header, Kind::Notarization)),
        Err(LightError::BadSignature)
    );
    // Not a finalization's encoding, and not a valid nullification either.
    assert!(matches!(
        light.verify_finalized(&header, &certify(&other, &header, Kind::Nullification)),
        Err(LightError::MalformedCertificate(_))
    ));

    // The encoded group key round-trips; garbage does not decode.
    let encoded = light.group_public_key().encode();
    let again = LightClient::from_encoded_key(devnet.spec.chain_id, &encoded).unwrap();
    assert_eq!(again.group_public_key(), light.group_public_key());
    assert!(matches!(
        LightClient::from_encoded_key(devnet.spec.chain_id, &encoded[1..]),
        Err(LightError::MalformedGroupKey(_))
    ));
}

/// A devnet dealt from `seed` whose headers carry `like`'s chain id (only the keys differ).
fn devnet_with_chain(like: &Devnet, seed: u64) -> Devnet {
    let mut other = devnet(seed, like.validator_keys.len() as u16);
    other.spec.chain_id = like.spec.chain_id;
    other
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes are never a valid certificate, and never panic.
    #[test]
    fn random_bytes_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (devnet, header, _) = fixture();
        let light = LightClient::from_spec(&devnet.spec);
        prop_assert!(light.verify_finalized(header, &bytes).is_err());
    }

    /// The right proposal with random signature bytes.
    #[test]
    fn random_signatures_never_verify(signature in proptest::collection::vec(any::<u8>(), 96)) {
        let (devnet, header, certificate) = fixture();
        let light = LightClient::from_spec(&devnet.spec);
        let mut certificate = certificate.clone();
        let at = certificate.len() - signature.len();
        certificate[at..].copy_from_slice(&signature);
        prop_assert!(matches!(
            light.verify_finalized(header, &certificate),
            Err(LightError::MalformedCertificate(_) | LightError::BadSignature)
        ));
    }

    /// Random group keys do not decode, or do not verify.
    #[test]
    fn random_group_keys_never_verify(key in proptest::collection::vec(any::<u8>(), 96)) {
        let (devnet, header, certificate) = fixture();
        if let Ok(light) = LightClient::from_encoded_key(devnet.spec.chain_id, &key) {
            prop_assert!(light.verify_finalized(header, certificate).is_err());
        }
    }
}

/// One devnet, header and finalization of it for the property tests (dealing and signing are
/// the slow part).
fn fixture() -> &'static (Devnet, Header, Vec<u8>) {
    static FIXTURE: std::sync::OnceLock<(Devnet, Header, Vec<u8>)> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let devnet = devnet(5, 4);
        let header = header_of(&devnet);
        let certificate = certify(&devnet, &header, Kind::Finalization);
        (devnet, header, certificate)
    })
}

/// Found in the code: a proposer could reveal no seed (vetoing every draw it did not like) or
/// any unrevealed seed of an earlier view (choosing among draws). A block reveals exactly the
/// seed of its parent's round, and none on the genesis. Across an epoch boundary that is the
/// previous epoch's last round: the same view of another epoch is another seed.
#[test]
fn a_block_reveals_exactly_its_parents_seed() {
    use hyperchain_types::Round;
    let devnet = devnet(7, 4);
    let executor = hyperchain_chain::execute::Executor::new(engine(), devnet.spec.chain_id)
        .with_seed_verifier(LightClient::from_spec(&devnet.spec));
    let mut header = header_of(&devnet);
    header.height = 2;
    header.view = 12;
    header.parent_view = 9;
    let parent = Round::new(0, 9);

    header.seed = Some(seed_of(&devnet, parent));
    assert_eq!(executor.check_seed(&header, parent), Ok(()));
    for (seed, complaint) in [
        (None, "reveals no seed"),
        (Some(seed_of(&devnet, Round::new(0, 8))), "not its parent's"),
        (
            Some(seed_of(&devnet, Round::new(0, 10))),
            "not its parent's",
        ),
        (Some(seed_of(&devnet, Round::new(1, 9))), "not its parent's"),
        (
            Some(hyperchain_types::SeedReveal {
                round: parent,
                ..seed_of(&devnet, Round::new(0, 8))
            }),
            "does not verify",
        ),
        (
            // The signature of view 9 in epoch 1, claimed for epoch 0.
            Some(hyperchain_types::SeedReveal {
                round: parent,
                ..seed_of(&devnet, Round::new(1, 9))
            }),
            "does not verify",
        ),
        (
            Some(seed_of(&devnet_with_chain(&devnet, 8), parent)),
            "does not verify",
        ),
    ] {
        header.seed = seed;
        let reason = executor.check_seed(&header, parent).unwrap_err();
        assert!(reason.contains(complaint), "{reason}");
    }
    // The first block of epoch 1 reveals the seed of epoch 0's last round.
    header.epoch = 1;
    header.view = 1;
    header.parent_view = 0;
    header.seed = Some(seed_of(&devnet, parent));
    assert_eq!(executor.check_seed(&header, parent), Ok(()));
    // On the genesis (round zero) there is no seed to reveal.
    header.epoch = 0;
    header.seed = None;
    assert_eq!(executor.check_seed(&header, Round::ZERO), Ok(()));
    header.seed = Some(seed_of(&devnet, parent));
    assert!(
        executor
            .check_seed(&header, Round::ZERO)
            .unwrap_err()
            .contains("genesis")
    );
}

/// Found in the code: a token stayed valid after its node was revoked, with no bound on the
/// age of its header. A token shows the node as it was at its block; a verifier bounds the
/// header's age (and a header from the future is refused).
#[test]
fn a_token_verifies_only_while_its_block_is_recent_enough() {
    use hyperchain_chain::registry::node_key;
    use hyperchain_chain::token::{AttestationToken, TokenError, TokenFreshness, verify_token};
    use hyperchain_merkle::MemoryNodeStore;
    use hyperchain_types::{Address, NodeRecord};
    let devnet = devnet(11, 4);
    let light = LightClient::from_spec(&devnet.spec);
    let record = NodeRecord {
        identity_key: [7; 32],
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
    let mut root = MemoryNodeStore::new();
    let state_root = root.update([(node_key(&record.id()), Some(record.encode().to_vec()))]);
    let mut header = header_of(&devnet);
    header.height = 5;
    header.view = 10;
    header.parent_view = 9;
    header.timestamp_ms = 1_000_000;
    header.state_root = Digest(state_root);
    let token = AttestationToken {
        record: record.clone(),
        header: header.clone(),
        certificate: certify(&devnet, &header, Kind::Finalization),
        proof: hyperchain_merkle::StateProof {
            subtree: None,
            link: root.prove(&node_key(&record.id())),
        },
    };
    let at = |now_ms: u64| {
        Some(TokenFreshness {
            now_ms,
            max_age_ms: 60_000,
        })
    };
    assert_eq!(verify_token(&token, &light, None).unwrap(), record);
    assert_eq!(verify_token(&token, &light, at(1_060_000)).unwrap(), record);
    assert!(matches!(
        verify_token(&token, &light, at(1_060_001)),
        Err(TokenError::Stale {
            header_ms: 1_000_000,
            ..
        })
    ));
    assert!(matches!(
        verify_token(&token, &light, at(900_000)),
        Err(TokenError::FromTheFuture { .. })
    ));
}

/// Epochs change who signs, never the key certificates verify against: a finalization made in
/// a later epoch (round 3/10) verifies with a light client built from the genesis alone, as
/// does one of epoch 0, and the epoch's certificate finalizes only its own header.
#[test]
fn a_certificate_of_a_later_epoch_verifies_with_the_genesis_key_alone() {
    let devnet = devnet(11, 4);
    let light = LightClient::from_spec(&devnet.spec);
    let mut header = header_of(&devnet);
    header.epoch = 3;
    header.view = 10;
    let later = certify_in(&devnet, &header, Kind::Finalization, Epoch::new(3));
    assert_eq!(light.verify_finalized(&header, &later), Ok(()));
    let genesis_epoch = header_of(&devnet);
    let early = certify(&devnet, &genesis_epoch, Kind::Finalization);
    assert_eq!(light.verify_finalized(&genesis_epoch, &early), Ok(()));
    assert!(light.verify_finalized(&genesis_epoch, &later).is_err());
}
