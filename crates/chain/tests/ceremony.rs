//! The genesis ceremony on the simulated network: validators generate the chain's threshold key
//! together (no dealer), and a ceremony some validator missed completes no genesis.

use crate::sim::good_link;
use commonware_cryptography::bls12381::primitives::{ops, variant::MinSig};
use commonware_cryptography::{Signer as _, ed25519};
use commonware_parallel::Sequential;
use commonware_runtime::{Runner as _, deterministic};
use hyperchain_chain::ceremony::{CeremonyError, Completed};
use hyperchain_chain::genesis::{ChainSpec, DevnetOptions, Draft, ValidatorIdentity, devnet_draft};
use hyperchain_chain::simnet::{ceremony_network, spawn_ceremony};
use hyperchain_types::consensus::PublicKey;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

fn identities(n: u64) -> Vec<ValidatorIdentity> {
    (0..n)
        .map(|i| ValidatorIdentity {
            private_key: ed25519::PrivateKey::from_seed(1_000 + i),
        })
        .collect()
}

fn draft(identities: &[ValidatorIdentity]) -> Draft {
    let validators: Vec<(PublicKey, SocketAddr)> = identities
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                id.public_key(),
                SocketAddr::from(([127, 0, 0, 1], 7_000 + i as u16)),
            )
        })
        .collect();
    devnet_draft(
        "ceremony-test",
        1_700_000_000_000,
        &validators,
        None,
        DevnetOptions::default(),
    )
    .unwrap()
}

/// What a ceremony run ended with.
struct Run {
    /// Each online participant's outcome (`None`: still running at the limit).
    outcomes: Vec<Option<Result<Completed, CeremonyError>>>,
    /// Simulated time until the last outcome.
    elapsed: Duration,
    /// Bytes all participants received.
    bytes: u64,
}

/// Runs a ceremony among `identities` of which only those with `online[i]` take part, for at
/// most `limit` of simulated time.
fn ceremony(
    identities: Vec<ValidatorIdentity>,
    online: &[bool],
    stores: &Path,
    limit: Duration,
) -> Vec<Option<Result<Completed, CeremonyError>>> {
    ceremony_run(identities, online, stores, limit).outcomes
}

fn ceremony_run(
    identities: Vec<ValidatorIdentity>,
    online: &[bool],
    stores: &Path,
    limit: Duration,
) -> Run {
    let draft = draft(&identities);
    let online = online.to_vec();
    let stores = stores.to_path_buf();
    deterministic::Runner::timed(Duration::from_secs(3_600)).start(|context| async move {
        use commonware_runtime::Clock as _;
        let peers: Vec<PublicKey> = identities.iter().map(|i| i.public_key()).collect();
        let oracle = ceremony_network(&context, &peers, &good_link()).await;
        let received = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut runs = Vec::new();
        for (i, identity) in identities.into_iter().enumerate() {
            if online[i] {
                runs.push(spawn_ceremony(
                    &context,
                    &oracle,
                    i,
                    draft.clone(),
                    identity,
                    &stores.join(format!("v{i}")),
                    received.clone(),
                ));
            }
        }
        let mut outcomes: Vec<Option<_>> = runs.iter().map(|_| None).collect();
        let mut waited = Duration::ZERO;
        let step = Duration::from_millis(100);
        while waited < limit && outcomes.iter().any(Option::is_none) {
            context.sleep(step).await;
            waited += step;
            for ((_, receiver), outcome) in runs.iter_mut().zip(outcomes.iter_mut()) {
                if outcome.is_none() {
                    *outcome = receiver.try_recv().ok().flatten();
                }
            }
        }
        for (handle, _) in runs {
            handle.abort();
        }
        Run {
            outcomes,
            elapsed: waited,
            bytes: received.load(std::sync::atomic::Ordering::Relaxed),
        }
    })
}

/// Four validators generate the chain's key together: each ends with the same genesis and its
/// own share, which no other participant's store holds; three shares sign for the group key;
/// the genesis round-trips through its document.
#[test]
fn four_validators_complete_their_genesis_by_ceremony() {
    let dir = tempfile::tempdir().unwrap();
    let outcomes = ceremony(
        identities(4),
        &[true; 4],
        dir.path(),
        Duration::from_secs(120),
    );
    let done: Vec<Completed> = outcomes
        .into_iter()
        .map(|o| o.expect("completed within two minutes").expect("a genesis"))
        .collect();
    let spec = &done[0].spec;
    for d in &done {
        assert_eq!(d.spec.chain_id, spec.chain_id, "every participant agrees");
        spec.signer(&d.key).expect("its share fits the polynomial");
    }
    let mut indices: Vec<_> = done.iter().map(|d| d.key.share.index).collect();
    indices.dedup();
    assert_eq!(indices.len(), 4, "one share each");
    assert_eq!(spec.polynomial.required(), 3);
    assert!(spec.dkg_output.revealed().is_empty());
    // A quorum's dealings suffice; the selected dealers are among the validators.
    assert!(spec.dkg_output.dealers().len() >= 3);

    // Each store holds only its own validator's share.
    for (i, d) in done.iter().enumerate() {
        let shares: Vec<_> = std::fs::read_dir(dir.path().join(format!("v{i}")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("share-"))
            .collect();
        assert_eq!(shares, vec!["share-0".to_string()], "{i}");
        let _ = d;
    }

    // Any three shares sign for the group key.
    let message = b"a finality certificate";
    let partials: Vec<_> = done[1..]
        .iter()
        .map(|d| ops::threshold::sign_message::<MinSig>(&d.key.share, b"test", message))
        .collect();
    let signature =
        ops::threshold::recover::<MinSig, _>(&spec.polynomial, &partials, &Sequential).unwrap();
    ops::verify_message::<MinSig>(spec.group_public_key(), b"test", message, &signature)
        .expect("the group key verifies");

    let again = ChainSpec::from_doc(&spec.to_doc()).unwrap();
    assert_eq!(again.chain_id, spec.chain_id);
}

/// A participant that crashes mid-ceremony and restarts on the same storage and secret store
/// resumes it (a dealer replays its stored seed, so it deals nothing new): every participant
/// completes the same genesis.
#[test]
fn a_participant_that_crashes_mid_ceremony_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let ids = identities(4);
    let draft = draft(&ids);
    let stores = dir.path().to_path_buf();
    let outcomes =
        deterministic::Runner::timed(Duration::from_secs(3_600)).start(|context| async move {
            use commonware_runtime::Clock as _;
            let peers: Vec<PublicKey> = ids.iter().map(|i| i.public_key()).collect();
            let oracle = ceremony_network(&context, &peers, &good_link()).await;
            let received = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let mut runs: Vec<_> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    spawn_ceremony(
                        &context,
                        &oracle,
                        i,
                        draft.clone(),
                        id.clone(),
                        &stores.join(format!("v{i}")),
                        received.clone(),
                    )
                })
                .collect();
            // Validator 3 crashes early in the dealing phase, and comes back 2 s later.
            context.sleep(Duration::from_millis(700)).await;
            let (crashed, _) = runs.remove(3);
            crashed.abort();
            context.sleep(Duration::from_secs(2)).await;
            runs.push(spawn_ceremony(
                &context,
                &oracle,
                3,
                draft.clone(),
                ids[3].clone(),
                &stores.join("v3"),
                received.clone(),
            ));
            let mut outcomes: Vec<Option<_>> = runs.iter().map(|_| None).collect();
            for _ in 0..600 {
                if outcomes.iter().all(Option::is_some) {
                    break;
                }
                context.sleep(Duration::from_millis(100)).await;
                for ((_, receiver), outcome) in runs.iter_mut().zip(outcomes.iter_mut()) {
                    if outcome.is_none() {
                        *outcome = receiver.try_recv().ok().flatten();
                    }
                }
            }
            for (handle, _) in runs {
                handle.abort();
            }
            outcomes
        });
    let ids: Vec<_> = outcomes
        .into_iter()
        .map(|o| {
            o.expect("completed within a minute")
                .expect("a genesis")
                .spec
                .chain_id
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

/// A validator that misses the ceremony would start the chain with a public share (its
/// dealings are revealed): the others complete no genesis and say to run it again.
#[test]
fn a_ceremony_a_validator_missed_completes_no_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let outcomes = ceremony(
        identities(4),
        &[true, true, true, false],
        dir.path(),
        Duration::from_secs(300),
    );
    assert_eq!(outcomes.len(), 3);
    for outcome in outcomes {
        match outcome {
            Some(Err(CeremonyError::Revealed(1))) => {}
            Some(Err(e)) => panic!("unexpected failure: {e}"),
            Some(Ok(done)) => panic!("a genesis with a missing validator: {}", done.spec.chain_id),
            None => panic!("no outcome within five minutes"),
        }
    }
}

/// What a ceremony costs, for docs/OPERATORS.md: simulated time to completion and bytes
/// received per validator, for 4, 7 and 100 validators on links of 50 ms ± 10 ms with 2%
/// loss. Long (100 validators): run it by hand with
/// `CEREMONY_SIZES=4,7,100 cargo test -p hyperchain-chain --features testkit --test chain
/// ceremony_cost -- --ignored --nocapture`.
#[test]
#[ignore]
fn ceremony_cost() {
    let sizes: Vec<u64> = std::env::var("CEREMONY_SIZES")
        .map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![4, 7, 100]);
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let run = ceremony_run(
            identities(n),
            &vec![true; n as usize],
            dir.path(),
            Duration::from_secs(3_000),
        );
        let done = run
            .outcomes
            .iter()
            .filter(|o| matches!(o, Some(Ok(_))))
            .count();
        println!(
            "{n} validators: {done} completed in {:.1} s simulated ({:.1} s to run), \
             {} KiB received per validator",
            run.elapsed.as_secs_f64(),
            started.elapsed().as_secs_f64(),
            run.bytes / n / 1024
        );
        assert_eq!(done, n as usize);
    }
}
