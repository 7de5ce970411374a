//! The enclave against a lying host.
//!
//! The host is untrusted: everything it hands the enclave must be proven against a finalized
//! header of the chain. These tests run a real chain (blocks executed on an in-memory store,
//! every header finalized by a four-validator devnet's threshold shares, every block revealing
//! the previous view's consensus seed), register simulated compute nodes whose identity keys
//! they hold, deploy the `counter` example in cross-vendor mode and get its calls assigned to
//! committees. A test `Host` answers the enclave's signed fetch requests from that chain the
//! way a validator's `POST /compute/fetch` does: values with proofs from `Snapshot::prove`, the
//! header of the state they come from and its finality certificate.
//!
//! The honest host gets receipts the chain applies; each lie (a tampered value, a proof of
//! another key, a forged certificate, stale state, wrong code, no answer at all) gets no
//! receipt and an error naming the check that failed.

#[path = "enclave/fixture.rs"]
mod fixture;

use commonware_codec::{DecodeExt as _, Encode as _};
use fixture::*;
use hyperchain_chain::execute::{code_key, contract_key};
use hyperchain_chain::lanes::{self, job_key, lane_key};
use hyperchain_compute::enclave::{EnclaveError, Executed};
use hyperchain_rpc::api::{ComputeFetchResponse, Hex};
use hyperchain_sdk::{decode_all, encode};
use hyperchain_state::TreeId;
use hyperchain_types::{
    ComputeRequest, ExecutionMode, Header, Job, JobState, LaneRecord, ReceiptStatus, Resolution,
    sha256,
};
use std::sync::Arc;

fn header_of(resp: &ComputeFetchResponse) -> Header {
    Header::decode(bytes::Bytes::from(resp.header.0.clone())).unwrap()
}

mod honest {
    use super::*;

    #[test]
    fn an_honest_host_gets_receipts_that_match_direct_execution_and_the_chain_applies() {
        let Scenario {
            mut chain,
            counter,
            jobs,
            ..
        } = Scenario::new(&[5]);
        let job_id = jobs[0];
        let job = chain.job(&job_id);
        let lane = chain.lane(&counter);
        let record = chain.record(&counter);
        let committee = chain.committee(&job_id);
        assert_eq!(committee.len(), 2, "one Intel and one AMD member");
        let direct = chain.run_directly(&job_id);
        assert_eq!(decode_all::<u64>(&direct.output).unwrap(), 5);

        let mut receipts = Vec::new();
        for id in &committee {
            let enclave = chain.enclave(id);
            assert_eq!(enclave.node_id(), *id);
            let host = chain.host();
            let executed = enclave.execute(host.clone(), &job_id).unwrap();
            let receipt = executed.receipt;
            assert!(receipt.verify_signature());
            assert_eq!(receipt.node_id(), *id);
            assert_eq!(executed.job, job);
            assert_eq!(executed.reads, 1, "the counter reads its value once");
            assert_eq!(
                receipt.receipt.outcome, direct,
                "the same outcome as validators"
            );
            assert_eq!(
                receipt.receipt,
                lanes::expected_receipt(
                    chain.chain_id(),
                    record.code_hash,
                    lane.state,
                    &job,
                    direct.clone()
                )
            );
            // The job, its module (the enclave's engine had not loaded it) and the one value.
            assert_eq!(
                host.seen(),
                vec![
                    ComputeRequest::Job(job_id),
                    ComputeRequest::Code(record.code_hash),
                    ComputeRequest::State {
                        contract: counter,
                        keys: vec![COUNT.to_vec()]
                    },
                ]
            );
            receipts.push(receipt);
        }
        assert_eq!(receipts[0].receipt, receipts[1].receipt, "members agree");

        // The chain accepts the first receipt and waits for the other member...
        let second = receipts.pop().unwrap();
        assert_eq!(chain.submit(receipts), vec![ReceiptStatus::Accepted]);
        let waiting = chain.job(&job_id);
        assert_eq!(waiting.state, JobState::Assigned);
        assert_eq!(waiting.assignment.unwrap().votes.len(), 1);
        // ...and applies the agreed result once both answered.
        assert_eq!(chain.submit(vec![second]), vec![ReceiptStatus::Accepted]);
        let JobState::Done(result) = chain.job(&job_id).state else {
            panic!("the job is resolved");
        };
        assert_eq!(result.resolution, Resolution::Agreed);
        assert_eq!(decode_all::<u64>(&result.output).unwrap(), 5);
        assert_eq!(result.post_state, chain.storage_root(&counter));
        let lane = chain.lane(&counter);
        assert_eq!((lane.head, lane.state), (1, result.post_state));
    }

    /// The enclave has no clock: every request carries the host's time, so a host whose
    /// clock is off (beyond the validators' window) only gets its own requests refused, and
    /// the enclave signs nothing.
    #[test]
    fn the_enclave_takes_its_time_from_the_host() {
        let scenario = Scenario::new(&[5]);
        let chain = &scenario.chain;
        let member = scenario.member();
        let skew = 30_000;
        let host = chain.host_with_skew(skew);
        let before = TestHost::validator_now_ms();
        chain
            .enclave(&member)
            .execute(host.clone(), &scenario.jobs[0])
            .unwrap();
        let after = TestHost::validator_now_ms();
        let stamps = host.stamps();
        assert_eq!(stamps.len(), 3, "job, code and one value");
        for stamp in stamps {
            assert!(
                (before + skew as u64..=after + skew as u64).contains(&stamp),
                "stamped {stamp}, host time {}..={}",
                before + skew as u64,
                after + skew as u64
            );
        }

        let late = chain.host_with_skew(-10 * 60_000);
        match refused(
            chain
                .enclave(&member)
                .execute(late.clone(), &scenario.jobs[0]),
        ) {
            EnclaveError::Host(message) => assert!(message.contains("stale request"), "{message}"),
            other => panic!("expected the validator's refusal, got {other:?}"),
        }
        assert!(late.seen().is_empty(), "nothing was answered");
    }

    #[test]
    fn a_cached_module_is_not_fetched_again() {
        let scenario = Scenario::new(&[5]);
        let chain = &scenario.chain;
        let engine = enclave_engine();
        engine.load(hyperchain_contracts::COUNTER).unwrap();
        let host = chain.host();
        chain
            .enclave_with(&scenario.member(), engine)
            .execute(host.clone(), &scenario.jobs[0])
            .unwrap();
        assert!(
            !host
                .seen()
                .iter()
                .any(|r| matches!(r, ComputeRequest::Code(_))),
            "{:?}",
            host.seen()
        );
    }

    /// Values are pinned to the storage commitment, not to a height: a value proven against an
    /// older header whose contract storage equals the job's pre-state is as good as the newest.
    #[test]
    fn values_from_an_older_header_with_the_same_storage_are_accepted() {
        let Scenario {
            mut chain,
            counter,
            jobs,
            ..
        } = Scenario::new(&[5, 7]);
        chain.serve(&jobs[0]);
        // The second job is assigned (by the block after the one that resolved the first);
        // two more blocks change nothing in the counter's storage.
        assert_eq!(chain.job(&jobs[1]).state, JobState::Assigned);
        let resolved_at = chain.tip().height;
        chain.block(vec![]);
        chain.block(vec![]);
        let host = chain.lying_host(move |served, request| {
            if is_count_read(request) {
                Ok(answer_from(served.at(resolved_at), request))
            } else {
                Ok(served.answer(request))
            }
        });
        let member = chain.committee(&jobs[1])[0];
        let executed = chain.enclave(&member).execute(host, &jobs[1]).unwrap();
        assert_eq!(
            decode_all::<u64>(&executed.receipt.receipt.outcome.output).unwrap(),
            12
        );
        assert_eq!(
            executed.receipt.receipt.pre_state,
            chain.storage_root(&counter)
        );
        assert_eq!(
            executed.receipt.receipt.outcome,
            chain.run_directly(&jobs[1])
        );
    }
}

mod reads {
    use super::*;

    /// Found in the code: the enclave fetched storage one key per round trip, so a job reading
    /// thousands of keys (here 1,500 absent ones) took one request each and its honest members
    /// missed their deadline. The enclave reads speculatively: a value it lacks is taken as
    /// absent, every such key is fetched afterwards in batches of up to 256, and the run is
    /// repeated only when a guess was wrong.
    #[test]
    fn thousands_of_reads_take_a_few_batched_fetches_and_give_the_right_receipt() {
        let Scenario { mut chain, .. } = Scenario::new(&[]);
        let spammer = chain.deploy(
            hyperchain_contracts::ADVERSARIAL,
            ExecutionMode::CrossVendor,
            &[REGION],
        );
        let call = chain.call_tx(spammer, "read_spam", encode(&1_500u32));
        let job = match chain.block(vec![call]).remove(0) {
            ReceiptStatus::Queued { job, .. } => job,
            other => panic!("{other:?}"),
        };
        while chain.job(&job).state != JobState::Assigned {
            chain.block(vec![]);
        }
        let mut receipts = Vec::new();
        for member in chain.committee(&job) {
            let host = chain.host();
            let executed = chain.enclave(&member).execute(host.clone(), &job).unwrap();
            let states = host
                .seen()
                .iter()
                .filter(|r| matches!(r, ComputeRequest::State { .. }))
                .count();
            assert!(
                states <= 1_500_usize.div_ceil(256) + 1,
                "{states} state fetches"
            );
            assert_eq!(executed.receipt.receipt.outcome, chain.run_directly(&job));
            receipts.push(executed.receipt);
        }
        assert_eq!(
            chain.submit(receipts),
            vec![ReceiptStatus::Accepted, ReceiptStatus::Accepted]
        );
        assert!(matches!(chain.job(&job).state, JobState::Done(_)));
    }

    /// Guesses that a value is absent are checked: a run that read present values is
    /// repeated with them, and its receipt matches direct execution.
    #[test]
    fn a_speculative_guess_that_was_wrong_is_corrected_before_signing() {
        let Scenario {
            mut chain,
            counter,
            jobs,
            ..
        } = Scenario::new(&[5, 7]);
        chain.serve(&jobs[0]);
        let member = chain.committee(&jobs[1])[0];
        let executed = chain
            .enclave(&member)
            .execute(chain.host(), &jobs[1])
            .unwrap();
        assert_eq!(
            decode_all::<u64>(&executed.receipt.receipt.outcome.output).unwrap(),
            12
        );
        assert_eq!(
            executed.receipt.receipt.outcome,
            chain.run_directly(&jobs[1])
        );
        assert_eq!(
            executed.receipt.receipt.pre_state,
            chain.storage_root(&counter)
        );
    }
}

mod pipelined {
    use super::*;

    /// A committee given three jobs runs them in order: the followers read the head's proven
    /// state through the run's own writes (one fetched value for the whole run), their
    /// receipts chain the pre-state, and the chain resolves all three in one block.
    #[test]
    fn a_run_executes_followers_on_its_own_results_and_resolves_in_one_block() {
        let Scenario {
            mut chain,
            counter,
            jobs,
            ..
        } = Scenario::pipelined(&[5, 7, 9], 3);
        let lane = chain.lane(&counter);
        let record = chain.record(&counter);
        for id in &jobs[1..] {
            assert_eq!(
                chain.job(id).state,
                JobState::Assigned,
                "the head's followers"
            );
        }
        let mut receipts = Vec::new();
        for member in chain.committee(&jobs[0]) {
            let host = chain.host();
            let run = chain
                .enclave(&member)
                .execute_run(host.clone(), &jobs)
                .unwrap();
            let outputs: Vec<u64> = run
                .iter()
                .map(|e| decode_all::<u64>(&e.receipt.receipt.outcome.output).unwrap())
                .collect();
            assert_eq!(outputs, vec![5, 12, 21]);
            assert_eq!(
                run.iter().map(|e| e.reads).collect::<Vec<_>>(),
                vec![1, 0, 0],
                "followers read the run's own write"
            );
            let mut pre_state = lane.chain;
            for e in &run {
                assert_eq!(e.receipt.receipt.pre_state, pre_state);
                pre_state = hyperchain_types::chain_next(&pre_state, &e.receipt.receipt.outcome);
            }
            assert_eq!(run[0].receipt.receipt.pre_state, lane.state);
            assert_eq!(
                host.seen(),
                vec![
                    ComputeRequest::Job(jobs[0]),
                    ComputeRequest::Job(jobs[1]),
                    ComputeRequest::Job(jobs[2]),
                    ComputeRequest::Code(record.code_hash),
                    ComputeRequest::State {
                        contract: counter,
                        keys: vec![COUNT.to_vec()]
                    },
                ]
            );
            receipts.extend(run.into_iter().map(|e| e.receipt));
        }
        let height = chain.tip().height;
        assert_eq!(chain.submit(receipts), vec![ReceiptStatus::Accepted; 6]);
        for (id, total) in jobs.iter().zip([5u64, 12, 21]) {
            let JobState::Done(result) = chain.job(id).state else {
                panic!("job {id} resolved");
            };
            assert_eq!(result.resolution, Resolution::Agreed);
            assert_eq!(result.height, height + 1);
            assert_eq!(decode_all::<u64>(&result.output).unwrap(), total);
        }
        assert_eq!(chain.lane(&counter).state, chain.storage_root(&counter));
    }

    #[test]
    fn a_run_must_start_at_the_head_and_follow_it_position_by_position() {
        let scenario = Scenario::pipelined(&[5, 7, 9], 3);
        let chain = &scenario.chain;
        let jobs = &scenario.jobs;
        let enclave = chain.enclave(&scenario.member());
        let first = |r: Result<Vec<Executed>, EnclaveError>| match r {
            Ok(run) => panic!("the enclave signed {} receipts", run.len()),
            Err(EnclaveError::NotAssigned(message)) => message,
            Err(other) => panic!("expected NotAssigned, got {other:?}"),
        };
        let message = first(enclave.execute_run(chain.host(), &jobs[1..]));
        assert!(message.contains("follows the head"), "{message}");
        let message = first(enclave.execute_run(chain.host(), &[jobs[0], jobs[2]]));
        assert!(message.contains("is not at lane position 1"), "{message}");
        let message = first(enclave.execute_run(chain.host(), &[jobs[0], jobs[0]]));
        assert!(message.contains("is not at lane position 1"), "{message}");
    }
}

mod assignment {
    use super::*;

    #[test]
    fn a_node_off_the_committee_signs_nothing() {
        let scenario = Scenario::new(&[5]);
        let chain = &scenario.chain;
        let job = scenario.jobs[0];
        let outsider = chain.outsider(&job);
        let host = chain.host();
        match refused(chain.enclave(&outsider).execute(host.clone(), &job)) {
            EnclaveError::NotAssigned(message) => {
                assert!(message.contains("is not on job"), "{message}");
                assert!(message.contains(&outsider.to_string()), "{message}");
            }
            other => panic!("expected NotAssigned, got {other:?}"),
        }
        assert_eq!(
            host.seen(),
            vec![ComputeRequest::Job(job)],
            "nothing more is fetched"
        );
    }

    #[test]
    fn jobs_that_are_waiting_or_done_are_nobodys_to_execute() {
        let Scenario {
            mut chain, jobs, ..
        } = Scenario::new(&[5, 7]);
        let member = chain.committee(&jobs[0])[0];
        // The second job waits behind the first.
        match refused(chain.enclave(&member).execute(chain.host(), &jobs[1])) {
            EnclaveError::NotAssigned(message) => {
                assert!(
                    message.contains("is waiting at lane position 1 (head 0)"),
                    "{message}"
                )
            }
            other => panic!("expected NotAssigned, got {other:?}"),
        }
        chain.serve(&jobs[0]);
        match refused(chain.enclave(&member).execute(chain.host(), &jobs[0])) {
            EnclaveError::NotAssigned(message) => {
                assert!(message.contains("is done"), "{message}")
            }
            other => panic!("expected NotAssigned, got {other:?}"),
        }
    }

    /// The outsider's host rewrites the job record to put it on the committee (keeping the
    /// honest proof): the proof no longer holds.
    #[test]
    fn a_host_cannot_put_its_node_on_the_committee() {
        let scenario = Scenario::new(&[5]);
        let chain = &scenario.chain;
        let job = scenario.jobs[0];
        let outsider = chain.outsider(&job);
        let host = chain.lying_host(move |served, request| {
            let mut resp = served.answer(request);
            if let ComputeRequest::Job(_) = request {
                let raw = resp.entries[0].value.as_ref().unwrap().0.clone();
                let mut forged = Job::decode(bytes::Bytes::from(raw)).unwrap();
                forged.assignment.as_mut().unwrap().committee[0].id = outsider;
                resp.entries[0].value = Some(Hex(forged.encode().to_vec()));
            }
            Ok(resp)
        });
        let message = unverified(chain.enclave(&outsider).execute(host.clone(), &job));
        assert!(message.contains("does not verify"), "{message}");
        assert!(message.contains(&hex::encode(job_key(&job))), "{message}");
        assert_eq!(host.seen().len(), 1);
    }
}

mod tampering {
    use super::*;

    /// Each entry of the job answer with its value changed and its proof kept.
    #[test]
    fn tampered_job_lane_and_contract_records_are_unverified() {
        let scenario = Scenario::new(&[5]);
        let chain = &scenario.chain;
        let job = scenario.jobs[0];
        let member = scenario.member();
        type Tamper = fn(Vec<u8>) -> Vec<u8>;
        let tampers: Vec<(usize, Tamper)> = vec![
            // The job's input: another amount.
            (0, |raw| {
                let mut job = Job::decode(bytes::Bytes::from(raw)).unwrap();
                job.input = encode(&1_000u64);
                job.encode().to_vec()
            }),
            // The lane's pre-state: storage the host made up.
            (1, |raw| {
                let mut lane = LaneRecord::decode(bytes::Bytes::from(raw)).unwrap();
                lane.state = sha256(b"made-up storage");
                lane.encode().to_vec()
            }),
            // The contract record: one byte flipped.
            (2, |mut raw| {
                *raw.last_mut().unwrap() ^= 1;
                raw
            }),
        ];
        for (index, tamper) in tampers {
            let host = chain.lying_host(move |served, request| {
                let mut resp = served.answer(request);
                if let ComputeRequest::Job(_) = request {
                    let entry = &mut resp.entries[index];
                    entry.value = Some(Hex(tamper(entry.value.take().unwrap().0)));
                }
                Ok(resp)
            });
            let message = unverified(chain.enclave(&member).execute(host, &job));
            assert!(
                message.contains("does not verify"),
                "entry {index}: {message}"
            );
        }
    }

    /// The job record claimed absent, with the proof of its presence.
    #[test]
    fn a_record_claimed_absent_is_unverified() {
        let scenario = Scenario::new(&[5]);
        let chain = &scenario.chain;
        let host = chain.lying_host(|served, request| {
            let mut resp = served.answer(request);
            resp.entries[0].value = None;
            Ok(resp)
        });
        let message = unverified(
            chain
                .enclave(&scenario.member())
                .execute(host, &scenario.jobs[0]),
        );
        assert!(message.contains("does not verify"), "{message}");
    }

    /// The counter's value changed (5 → 1,000) with its proof kept: the call never sees it.
    #[test]
    fn a_tampered_storage_value_is_refused() {
        let Scenario {
            mut chain, jobs, ..
        } = Scenario::new(&[5, 7]);
        chain.serve(&jobs[0]);
        let member = chain.committee(&jobs[1])[0];
        let host = chain.lying_host(|served, request| {
            let mut resp = served.answer(request);
            if is_count_read(request) {
                assert_eq!(resp.entries[0].value, Some(Hex(encode(&5u64))));
                resp.entries[0].value = Some(Hex(encode(&1_000u64)));
            }
            Ok(resp)
        });
        let message = refused_read(chain.enclave(&member).execute(host, &jobs[1]));
        assert!(message.contains("does not verify"), "{message}");
        assert!(message.contains(&hex::encode(COUNT)), "{message}");
    }

    /// A value made up for a key that is absent (the first job reads an empty storage).
    #[test]
    fn a_value_invented_for_an_absent_key_is_refused() {
        let scenario = Scenario::new(&[5]);
        let host = scenario.chain.lying_host(|served, request| {
            let mut resp = served.answer(request);
            if is_count_read(request) {
                assert_eq!(resp.entries[0].value, None);
                resp.entries[0].value = Some(Hex(encode(&41u64)));
            }
            Ok(resp)
        });
        let message = refused_read(
            scenario
                .chain
                .enclave(&scenario.member())
                .execute(host, &scenario.jobs[0]),
        );
        assert!(message.contains("does not verify"), "{message}");
    }
}

mod other_keys {
    use super::*;

    /// Job answers whose entries prove other keys than the ones asked for (each proof valid
    /// for its own key).
    #[test]
    fn a_job_answer_proving_other_keys_is_unverified() {
        let scenario = Scenario::new(&[5]);
        let chain = &scenario.chain;
        let job = scenario.jobs[0];
        let counter = scenario.counter;
        let token = scenario.token;
        type Lie = Box<dyn Fn(&mut ComputeFetchResponse, &fixture::Finalized) + Send + Sync>;
        let cases: Vec<(Lie, &str)> = vec![
            // The lane record where the job record should be.
            (
                Box::new(|resp, _| resp.entries.swap(0, 1)),
                "proves another key than the job",
            ),
            // Another contract's record: the token's, which has no lane.
            (
                Box::new(move |resp, block| {
                    resp.entries[2] = prove(&block.state, TreeId::ROOT, contract_key(&token))
                }),
                "proves another key than the contract record",
            ),
            // The token's lane (proven absent: a replicated contract has none).
            (
                Box::new(move |resp, block| {
                    resp.entries[1] = prove(&block.state, TreeId::ROOT, lane_key(&token))
                }),
                "proves another key than the lane",
            ),
            // The job key proven in the counter's storage tree instead of the root tree.
            (
                Box::new(move |resp, block| {
                    resp.entries[0] = prove(&block.state, TreeId(counter.0), job_key(&job))
                }),
                "proves another key than the job",
            ),
            // The requested key, with the value and proof of another key.
            (
                Box::new(move |resp, block| {
                    let other = prove(&block.state, TreeId::ROOT, lane_key(&counter));
                    resp.entries[0].value = other.value;
                    resp.entries[0].proof = other.proof;
                }),
                "does not verify",
            ),
            // The contract record left out.
            (
                Box::new(|resp, _| {
                    resp.entries.pop();
                }),
                "no contract record in the answer",
            ),
        ];
        for (lie, expected) in cases {
            let lie = Arc::new(lie);
            let host = chain.lying_host(move |served, request| {
                let mut resp = served.answer(request);
                if let ComputeRequest::Job(_) = request {
                    lie(&mut resp, served.latest());
                }
                Ok(resp)
            });
            let message = unverified(chain.enclave(&scenario.member()).execute(host, &job));
            assert!(message.contains(expected), "{expected}: {message}");
        }
    }

    /// Storage answers that prove other keys, or not exactly one value.
    #[test]
    fn a_storage_answer_proving_other_keys_is_refused() {
        let Scenario {
            mut chain,
            counter,
            jobs,
            ..
        } = Scenario::new(&[5, 7]);
        chain.serve(&jobs[0]);
        let member = chain.committee(&jobs[1])[0];
        type Lie = Box<dyn Fn(&mut ComputeFetchResponse, &fixture::Finalized) + Send + Sync>;
        let cases: Vec<(Lie, &str)> = vec![
            // The absence of another key in the counter's storage ("count" is 5).
            (
                Box::new(move |resp, block| {
                    resp.entries[0] = prove(&block.state, TreeId(counter.0), b"other".to_vec())
                }),
                "proves another key",
            ),
            // "count" in the root tree (absent there) instead of the counter's storage.
            (
                Box::new(|resp, block| {
                    resp.entries[0] = prove(&block.state, TreeId::ROOT, COUNT.to_vec())
                }),
                "proves another key",
            ),
            // Two values for one key.
            (
                Box::new(|resp, _| {
                    let copy = resp.entries[0].clone();
                    resp.entries.push(copy);
                }),
                "expected exactly 1 proven value",
            ),
            // No value at all.
            (
                Box::new(|resp, _| resp.entries.clear()),
                "expected exactly 1 proven value",
            ),
        ];
        for (lie, expected) in cases {
            let lie = Arc::new(lie);
            let host = chain.lying_host(move |served, request| {
                let mut resp = served.answer(request);
                if is_count_read(request) {
                    lie(&mut resp, served.latest());
                }
                Ok(resp)
            });
            let message = refused_read(chain.enclave(&member).execute(host, &jobs[1]));
            assert!(message.contains(expected), "{expected}: {message}");
        }
    }
}

mod finality {
    use super::*;

    type Forge = Box<dyn Fn(&mut ComputeFetchResponse, &fixture::Served) + Send + Sync>;

    /// Forged, absent, misapplied and non-final certificates on the job answer.
    #[test]
    fn headers_without_a_valid_finalization_are_unverified() {
        let scenario = Scenario::new(&[5]);
        let chain = &scenario.chain;
        let impostors = fixture::Validators::deal(8);
        assert_ne!(
            impostors.devnet.spec.group_public_key(),
            chain.validators.devnet.spec.group_public_key()
        );
        let impostors = Arc::new(impostors);
        let validators = chain.validators.clone();
        let cases: Vec<(Forge, &str)> = vec![
            // The header finalized by another dealer's validators.
            (
                {
                    let impostors = impostors.clone();
                    Box::new(move |resp, _| {
                        let header = header_of(resp);
                        resp.certificate = Hex(impostors
                            .finalize(&header, header.view - 1)
                            .encode()
                            .to_vec());
                    })
                },
                "does not verify against the group key",
            ),
            // No certificate.
            (
                Box::new(|resp, _| resp.certificate = Hex(Vec::new())),
                "malformed certificate",
            ),
            // The certificate of the previous block.
            (
                Box::new(|resp, served| {
                    let previous = &served.history[served.history.len() - 2];
                    resp.certificate = Hex(previous.certificate.clone());
                }),
                "the certificate finalizes block",
            ),
            // A notarization by the real validators: valid, but not final.
            (
                {
                    let validators = validators.clone();
                    Box::new(move |resp, _| {
                        let header = header_of(resp);
                        resp.certificate = Hex(validators.notarize(&header, header.view - 1));
                    })
                },
                "not a finalization: the certificate is a valid notarization",
            ),
            // A header with a state root the host made up, under the real certificate.
            (
                Box::new(|resp, _| {
                    let mut header = header_of(resp);
                    header.state_root = sha256(b"made-up state");
                    resp.header = Hex(header.encode().to_vec());
                }),
                "the certificate finalizes block",
            ),
            // A header of another chain, finalized by the same group key.
            (
                {
                    let validators = validators.clone();
                    Box::new(move |resp, _| {
                        let mut header = header_of(resp);
                        header.chain_id = sha256(b"another chain");
                        resp.header = Hex(header.encode().to_vec());
                        resp.certificate = Hex(validators
                            .finalize(&header, header.view - 1)
                            .encode()
                            .to_vec());
                    })
                },
                "header of chain",
            ),
        ];
        for (forge, expected) in cases {
            let forge = Arc::new(forge);
            let host = chain.lying_host(move |served, request| {
                let mut resp = served.answer(request);
                forge(&mut resp, served);
                Ok(resp)
            });
            let message = unverified(
                chain
                    .enclave(&scenario.member())
                    .execute(host.clone(), &scenario.jobs[0]),
            );
            assert!(message.contains(expected), "{expected}: {message}");
            assert_eq!(host.seen().len(), 1, "{expected}: nothing more is fetched");
        }
    }

    /// The storage read's answer under another dealer's certificate.
    #[test]
    fn a_storage_value_under_a_forged_certificate_is_refused() {
        let scenario = Scenario::new(&[5]);
        let impostors = Arc::new(fixture::Validators::deal(8));
        let host = scenario.chain.lying_host(move |served, request| {
            let mut resp = served.answer(request);
            if is_count_read(request) {
                let header = header_of(&resp);
                resp.certificate = Hex(impostors
                    .finalize(&header, header.view - 1)
                    .encode()
                    .to_vec());
            }
            Ok(resp)
        });
        let message = refused_read(
            scenario
                .chain
                .enclave(&scenario.member())
                .execute(host, &scenario.jobs[0]),
        );
        assert!(
            message.contains("does not verify against the group key"),
            "{message}"
        );
    }

    /// The code answer under another dealer's certificate.
    #[test]
    fn code_under_a_forged_certificate_is_unverified() {
        let scenario = Scenario::new(&[5]);
        let impostors = Arc::new(fixture::Validators::deal(8));
        let host = scenario.chain.lying_host(move |served, request| {
            let mut resp = served.answer(request);
            if let ComputeRequest::Code(_) = request {
                let header = header_of(&resp);
                resp.certificate = Hex(impostors
                    .finalize(&header, header.view - 1)
                    .encode()
                    .to_vec());
            }
            Ok(resp)
        });
        let message = unverified(
            scenario
                .chain
                .enclave(&scenario.member())
                .execute(host, &scenario.jobs[0]),
        );
        assert!(
            message.contains("does not verify against the group key"),
            "{message}"
        );
    }
}

mod stale_state {
    use super::*;

    /// The first job resolves (the counter goes 0 → 5) and the second is assigned with that
    /// storage as its pre-state. The host answers the job honestly but the counter's value
    /// from a finalized header before the first job resolved (absent: the storage was empty):
    /// a genuinely finalized, correctly proven value of the wrong state.
    #[test]
    fn a_value_from_before_the_pre_state_is_refused() {
        let Scenario {
            mut chain,
            counter,
            jobs,
            ..
        } = Scenario::new(&[5, 7]);
        let before = chain.tip().height;
        let old_storage = chain.storage_root(&counter);
        chain.serve(&jobs[0]);
        let pre_state = chain.lane(&counter).state;
        assert_ne!(
            pre_state, old_storage,
            "the first job moved the lane's state"
        );
        let member = chain.committee(&jobs[1])[0];
        let host = chain.lying_host(move |served, request| {
            if is_count_read(request) {
                Ok(answer_from(served.at(before), request))
            } else {
                Ok(served.answer(request))
            }
        });
        let message = refused_read(chain.enclave(&member).execute(host.clone(), &jobs[1]));
        assert!(message.contains("not the job's pre-state"), "{message}");
        assert!(message.contains(&pre_state.to_string()), "{message}");
        assert!(message.contains(&old_storage.to_string()), "{message}");
        assert_eq!(
            host.seen().iter().filter(|r| is_count_read(r)).count(),
            1,
            "the call stops at the first refused read"
        );
    }

    /// The same lie one step further: the whole answer (job, lane, value) from before the
    /// first job resolved, when the second job was still waiting.
    #[test]
    fn a_job_record_from_before_its_assignment_is_not_assigned() {
        let Scenario {
            mut chain, jobs, ..
        } = Scenario::new(&[5, 7]);
        let before = chain.tip().height;
        chain.serve(&jobs[0]);
        let member = chain.committee(&jobs[1])[0];
        let host =
            chain.lying_host(move |served, request| Ok(answer_from(served.at(before), request)));
        match refused(chain.enclave(&member).execute(host, &jobs[1])) {
            EnclaveError::NotAssigned(message) => {
                assert!(message.contains("is waiting"), "{message}")
            }
            other => panic!("expected NotAssigned, got {other:?}"),
        }
    }
}

mod code {
    use super::*;

    fn refuse_code(
        scenario: &Scenario,
        lie: impl Fn(&mut ComputeFetchResponse, &fixture::Served) + Send + Sync + 'static,
    ) -> String {
        let host = scenario.chain.lying_host(move |served, request| {
            let mut resp = served.answer(request);
            if let ComputeRequest::Code(_) = request {
                lie(&mut resp, served);
            }
            Ok(resp)
        });
        let message = unverified(
            scenario
                .chain
                .enclave(&scenario.member())
                .execute(host.clone(), &scenario.jobs[0]),
        );
        assert!(
            !host.seen().iter().any(is_count_read),
            "no call runs on unverified code"
        );
        message
    }

    #[test]
    fn the_counter_is_one_chunk_and_its_end_marker() {
        let scenario = Scenario::new(&[5]);
        let record = scenario.chain.record(&scenario.counter);
        assert_eq!(record.code_hash, sha256(hyperchain_contracts::COUNTER));
        let resp = scenario
            .chain
            .served()
            .answer(&ComputeRequest::Code(record.code_hash));
        assert_eq!(resp.entries.len(), 2);
        assert_eq!(
            resp.entries[0].value,
            Some(Hex(hyperchain_contracts::COUNTER.to_vec()))
        );
        assert_eq!(resp.entries[1].value, None);
    }

    /// Other code (the token's) in the counter's chunk, with the chunk's proof.
    #[test]
    fn other_code_under_the_code_hash_is_unverified() {
        let scenario = Scenario::new(&[5]);
        let message = refuse_code(&scenario, |resp, _| {
            resp.entries[0].value = Some(Hex(hyperchain_contracts::TOKEN.to_vec()))
        });
        assert!(message.contains("does not verify"), "{message}");
    }

    /// The module cut short, with the chunk's proof.
    #[test]
    fn a_truncated_chunk_is_unverified() {
        let scenario = Scenario::new(&[5]);
        let message = refuse_code(&scenario, |resp, _| {
            let chunk = &mut resp.entries[0].value.as_mut().unwrap().0;
            chunk.truncate(chunk.len() / 2);
        });
        assert!(message.contains("does not verify"), "{message}");
    }

    /// The chunk list without the proof of where the code ends.
    #[test]
    fn a_chunk_list_without_its_end_is_unverified() {
        let scenario = Scenario::new(&[5]);
        let message = refuse_code(&scenario, |resp, _| {
            resp.entries.pop();
        });
        assert!(
            message.contains("does not prove where the code ends"),
            "{message}"
        );
        let message = refuse_code(&scenario, |resp, _| resp.entries.clear());
        assert!(
            message.contains("does not prove where the code ends"),
            "{message}"
        );
    }

    /// The first chunk left out: the end marker stands where chunk 0 should be.
    #[test]
    fn a_chunk_list_with_a_chunk_missing_is_unverified() {
        let scenario = Scenario::new(&[5]);
        let message = refuse_code(&scenario, |resp, _| {
            resp.entries.remove(0);
        });
        assert!(
            message.contains("code chunk 0 is proven under another key"),
            "{message}"
        );
    }

    /// A validly proven module, but another one: the token's chunks.
    #[test]
    fn another_modules_chunks_are_unverified() {
        let scenario = Scenario::new(&[5]);
        let token_hash = scenario.chain.record(&scenario.token).code_hash;
        let message = refuse_code(&scenario, move |resp, served| {
            *resp = served.answer(&ComputeRequest::Code(token_hash));
        });
        assert!(
            message.contains("code chunk 0 is proven under another key"),
            "{message}"
        );
    }

    /// The chunk's key relabelled as the requested one, over the token's value and proof.
    #[test]
    fn another_modules_chunk_relabelled_is_unverified() {
        let scenario = Scenario::new(&[5]);
        let token_hash = scenario.chain.record(&scenario.token).code_hash;
        let message = refuse_code(&scenario, move |resp, served| {
            let token = served.answer(&ComputeRequest::Code(token_hash));
            resp.entries[0].value = token.entries[0].value.clone();
            resp.entries[0].proof = token.entries[0].proof.clone();
        });
        assert!(message.contains("does not verify"), "{message}");
        assert!(
            message.contains(&hex::encode(code_key(
                &sha256(hyperchain_contracts::COUNTER),
                0
            ))),
            "{message}"
        );
    }
}

mod unreachable {
    use super::*;

    #[test]
    fn a_host_that_cannot_deliver_gets_no_receipt() {
        let scenario = Scenario::new(&[5]);
        let host = scenario
            .chain
            .lying_host(|_, _| Err("connection refused".to_string()));
        match refused(
            scenario
                .chain
                .enclave(&scenario.member())
                .execute(host.clone(), &scenario.jobs[0]),
        ) {
            EnclaveError::Host(message) => assert_eq!(message, "connection refused"),
            other => panic!("expected a host error, got {other:?}"),
        }
        assert_eq!(host.seen(), vec![ComputeRequest::Job(scenario.jobs[0])]);
    }

    #[test]
    fn a_host_that_fails_on_the_code_gets_no_receipt() {
        let scenario = Scenario::new(&[5]);
        let host = scenario.chain.lying_host(|served, request| match request {
            ComputeRequest::Code(_) => Err("validator refused: 503".to_string()),
            _ => Ok(served.answer(request)),
        });
        match refused(
            scenario
                .chain
                .enclave(&scenario.member())
                .execute(host, &scenario.jobs[0]),
        ) {
            EnclaveError::Host(message) => assert_eq!(message, "validator refused: 503"),
            other => panic!("expected a host error, got {other:?}"),
        }
    }

    /// A host that fails in the middle of the call: the read fails, the call has no outcome.
    #[test]
    fn a_host_that_fails_on_a_storage_read_gets_no_receipt() {
        let scenario = Scenario::new(&[5]);
        let host = scenario.chain.lying_host(|served, request| {
            if is_count_read(request) {
                Err("timed out".to_string())
            } else {
                Ok(served.answer(request))
            }
        });
        let message = refused_read(
            scenario
                .chain
                .enclave(&scenario.member())
                .execute(host, &scenario.jobs[0]),
        );
        assert!(message.contains("host: timed out"), "{message}");
    }
}
