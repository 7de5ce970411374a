//! The scale simulation on small networks: deterministic, linear while nothing binds, and
//! bent by whichever validator resource runs out.

use hyperchain_sim::{Costs, Dissemination, ScaleConfig, run};

fn small(pairs: usize) -> ScaleConfig {
    ScaleConfig {
        validators: 7,
        regions: 3,
        pairs,
        exec_ms: 10.0,
        warmup_secs: 3.0,
        measure_secs: 4.0,
        ..Default::default()
    }
}

#[test]
fn same_seed_same_run_other_seed_other_draws() {
    let a = run(&small(3)).unwrap();
    let b = run(&small(3)).unwrap();
    assert_eq!(a.jobs_per_sec, b.jobs_per_sec);
    assert_eq!(a.messages, b.messages);
    assert_eq!(a.latency_p50_ms, b.latency_p50_ms);
    let c = run(&ScaleConfig {
        seed: 7,
        ..small(3)
    })
    .unwrap();
    assert!(c.jobs_per_sec > 0.0);
    assert_ne!(
        (a.messages, a.latency_p99_ms),
        (c.messages, c.latency_p99_ms),
        "another seed draws other jitter"
    );
}

#[test]
fn throughput_scales_with_pairs_until_validators_bind() {
    let three = run(&small(3)).unwrap();
    let twelve = run(&small(12)).unwrap();
    for r in [&three, &twelve] {
        assert!(
            r.efficiency >= 0.9,
            "{} pairs: {:.0} of {:.0} jobs/s",
            r.pairs,
            r.jobs_per_sec,
            r.ideal_jobs_per_sec
        );
        assert!(r.compute_busy >= 0.9);
        assert!(r.validator_exec_busy < 0.5);
    }
    let ratio = twelve.jobs_per_sec / three.jobs_per_sec;
    assert!(
        (3.6..=4.4).contains(&ratio),
        "4× the pairs gave {ratio:.2}×"
    );

    // Make validator execution 40× dearer: the executor binds, below what it could do
    // alone, since it runs twice per view on the critical path (leader, then voters).
    let dear = |deferred_execution, certify| ScaleConfig {
        costs: Costs {
            resolve_job_us: 2_500.0,
            ..Costs::default()
        },
        deferred_execution,
        certify,
        lanes_per_pair: 40,
        ..small(12)
    };
    let before = run(&dear(false, false)).unwrap();
    let bound = dear(false, false).cpu_bound_jobs_per_sec();
    assert!(bound < dear(false, false).ideal_jobs_per_sec());
    assert!(
        before.jobs_per_sec <= bound * 1.05 && before.jobs_per_sec >= bound * 0.5,
        "{:.0} jobs/s against a bound of {bound:.0}",
        before.jobs_per_sec
    );
    assert!(before.efficiency < 0.9);
    // Deferred execution takes one execution off the critical path.
    let deferred = run(&dear(true, false)).unwrap();
    assert!(
        deferred.jobs_per_sec > 1.3 * before.jobs_per_sec,
        "deferred {:.0} vs {:.0} jobs/s",
        deferred.jobs_per_sec,
        before.jobs_per_sec
    );
    assert!(deferred.jobs_per_sec <= dear(true, false).cpu_bound_jobs_per_sec() * 1.05);
    assert!(
        deferred.validator_exec_busy > 0.8,
        "executor busy {:.2}",
        deferred.validator_exec_busy
    );
}

#[test]
fn certification_hides_voters_execution_behind_long_links() {
    // Validators over ten regions (long links), executing a block costs them 0.5 ms per job:
    // voting to notarize before executing (marshal's Deferred wrapper, as implemented) beats
    // executing first, and a block carrying its parent's root does better still.
    let config = |deferred_execution, certify| ScaleConfig {
        costs: Costs {
            resolve_job_us: 500.0,
            ..Costs::default()
        },
        deferred_execution,
        certify,
        validators: 10,
        regions: 10,
        lanes_per_pair: 40,
        ..small(12)
    };
    let before = run(&config(false, false)).unwrap();
    let certify = run(&config(false, true)).unwrap();
    let deferred = run(&config(true, false)).unwrap();
    assert!(
        certify.jobs_per_sec > 1.15 * before.jobs_per_sec,
        "certify {:.0} vs before the vote {:.0} jobs/s",
        certify.jobs_per_sec,
        before.jobs_per_sec
    );
    assert!(
        deferred.jobs_per_sec >= certify.jobs_per_sec,
        "deferred {:.0} vs certify {:.0} jobs/s",
        deferred.jobs_per_sec,
        certify.jobs_per_sec
    );
}

#[test]
fn full_blocks_are_bound_by_the_leader_uplink_coded_blocks_less_and_compact_blocks_not() {
    // 8 MB/s uplinks: each validator's batches fit (about 1.7 MB/s of transactions in all),
    // but a leader sending every body to 6 peers (about 10 MB/s) does not. Coded, the leader
    // sends 7 shards of a third of the block and each validator relays its own shard to 6.
    let limited = |dissemination| ScaleConfig {
        egress_bytes_per_sec: Some(8_000_000),
        dissemination,
        // Execution before the vote, as these figures were first taken.
        certify: false,
        lanes_per_pair: 100,
        ..small(12)
    };
    let digests = run(&limited(Dissemination::Digests)).unwrap();
    let full = run(&limited(Dissemination::FullBlocks)).unwrap();
    assert!(
        digests.efficiency >= 0.9,
        "digests: {:.2}",
        digests.efficiency
    );
    assert!(
        full.jobs_per_sec < 0.8 * digests.jobs_per_sec,
        "full blocks {:.0} vs digests {:.0} jobs/s",
        full.jobs_per_sec,
        digests.jobs_per_sec
    );
    assert!(
        full.leader_uplink_busy > 0.6,
        "uplink busy {:.2}",
        full.leader_uplink_busy
    );
    assert!(digests.leader_uplink_busy < 0.1);
    let coded = run(&limited(Dissemination::Coded)).unwrap();
    // With 7 validators coding saves less than at 100 (the leader sends 7/3 of a block and
    // the relays 2 more, on the view's critical path, against 6), but it does save.
    assert!(
        coded.jobs_per_sec > 1.2 * full.jobs_per_sec,
        "coded {:.0} vs full blocks {:.0} jobs/s",
        coded.jobs_per_sec,
        full.jobs_per_sec
    );
    assert!(
        coded.leader_uplink_busy < 0.5 * full.leader_uplink_busy,
        "coded leader uplink busy {:.2}, full blocks {:.2}",
        coded.leader_uplink_busy,
        full.leader_uplink_busy
    );
    // Every validator relays a shard of every block: it sends more than with digests.
    assert!(coded.validator_egress_bytes_per_sec > digests.validator_egress_bytes_per_sec);
    // Compact blocks (as implemented) name each transaction in 9 bytes: the leader's uplink
    // stays nearly idle and throughput matches digests.
    let compact = run(&limited(Dissemination::Compact)).unwrap();
    assert!(
        compact.efficiency >= 0.9,
        "compact: {:.2}",
        compact.efficiency
    );
    assert!(
        compact.leader_uplink_busy < 0.1,
        "compact leader uplink busy {:.2}",
        compact.leader_uplink_busy
    );
}

#[test]
fn bad_configurations_are_refused() {
    let cases = [
        (
            ScaleConfig {
                validators: 3,
                ..small(3)
            },
            "at least 4 validators",
        ),
        (
            ScaleConfig {
                regions: 11,
                ..small(11)
            },
            "regions must be",
        ),
        (
            ScaleConfig {
                pairs: 2,
                ..small(3)
            },
            "every region needs a pair",
        ),
        (
            ScaleConfig {
                exec_ms: 0.0,
                ..small(3)
            },
            "positive",
        ),
        (
            ScaleConfig {
                verify_threads: 0,
                ..small(3)
            },
            "at least 1",
        ),
    ];
    for (config, expected) in cases {
        let err = run(&config).unwrap_err();
        assert!(err.contains(expected), "{err}");
    }
}
