//! Committee selection (docs/DESIGN.md §5): a pure function from a consensus seed, a job and the
//! active compute nodes to the nodes that execute the job.
//!
//! - The randomness is the threshold-BLS VRF seed of a view **after** the job was finalized
//!   (the caller picks it; this module only consumes it), so no proposer could know the
//!   committee when it ordered the job. The seed, the job id and the attempt number are all
//!   inputs, so anyone holding them and the node list recomputes the same committee.
//! - `cross-vendor`: for each required region, one Intel and one AMD node of that region,
//!   each drawn uniformly. A region without an active node of either vendor is an error
//!   naming the region and vendor — the job waits; trust is never silently downgraded.
//! - `single` / `committee(k)`: k distinct nodes drawn uniformly from all active nodes.
//! - `exclude` lists nodes that must not serve (e.g. the silent members of a job being
//!   reassigned after its deadline).
//!
//! Draws are uniform: each index comes from SHA-256 of (domain, seed, job, attempt, context,
//! counter) by rejection sampling, and candidates are sorted by id first, so the input order
//! does not matter.

use hyperchain_attest::Vendor;
use hyperchain_types::{Digest, ReceiptVote, RunId, StallReason, sha256_parts};
use std::collections::BTreeSet;

/// Domain of committee randomness.
const DOMAIN: &[u8] = b"hyperchain/committee/v1";

/// An active compute node as selection sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The node id (SHA-256 of its identity key).
    pub id: Digest,
    /// Whose root of trust attested it.
    pub vendor: Vendor,
    /// The region it serves.
    pub region: String,
}

/// Who must execute a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitteeSpec {
    /// `k` distinct nodes of any vendor and region (`single` is `k = 1`).
    AnyOf(usize),
    /// One Intel and one AMD node in each of these regions.
    CrossVendor(Vec<String>),
}

/// Why no committee can be formed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// A required region has no active node of a vendor.
    #[error("region {region} has no active {vendor} compute node")]
    RegionLacksVendor {
        /// The region.
        region: String,
        /// The missing vendor.
        vendor: Vendor,
    },
    /// Fewer active nodes than the committee size.
    #[error("a committee of {needed} needs {needed} active compute nodes, {available} available")]
    NotEnoughNodes {
        /// The committee size.
        needed: usize,
        /// Active, non-excluded nodes.
        available: usize,
    },
    /// A cross-vendor contract with no region.
    #[error("a cross-vendor committee needs at least one region")]
    NoRegion,
}

/// The vendor tag job records use for `vendor` ([`hyperchain_types::VENDOR_INTEL`] or
/// [`hyperchain_types::VENDOR_AMD`]).
pub fn vendor_tag(vendor: Vendor) -> u8 {
    match vendor {
        Vendor::Intel => hyperchain_types::VENDOR_INTEL,
        Vendor::Amd => hyperchain_types::VENDOR_AMD,
    }
}

impl SelectionError {
    /// The typed reason a stalled job records.
    pub fn stall_reason(&self) -> StallReason {
        match self {
            SelectionError::RegionLacksVendor { region, vendor } => {
                StallReason::RegionLacksVendor {
                    region: region.clone(),
                    vendor: vendor_tag(*vendor),
                }
            }
            SelectionError::NotEnoughNodes { needed, available } => StallReason::NotEnoughNodes {
                needed: u32::try_from(*needed).unwrap_or(u32::MAX),
                available: u32::try_from(*available).unwrap_or(u32::MAX),
            },
            SelectionError::NoRegion => StallReason::NoRegion,
        }
    }
}

/// A member and why it was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The node.
    pub id: Digest,
    /// The region it was drawn for (cross-vendor) or serves.
    pub region: String,
    /// Its vendor.
    pub vendor: Vendor,
}

/// A deterministic stream of uniform draws for one (seed, job, attempt, context).
struct Draws<'a> {
    seed: &'a [u8],
    job: &'a Digest,
    attempt: u32,
    context: &'a [u8],
    counter: u64,
}

impl Draws<'_> {
    /// A uniform index in `0..n` (`n > 0`), by rejection sampling of 64-bit words.
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let h = sha256_parts(&[
                DOMAIN,
                self.seed,
                &self.job.0,
                &self.attempt.to_be_bytes(),
                &(self.context.len() as u32).to_be_bytes(),
                self.context,
                &self.counter.to_be_bytes(),
            ]);
            self.counter += 1;
            let mut word = [0u8; 8];
            word.copy_from_slice(&h.0[..8]);
            let x = u64::from_be_bytes(word);
            if x < zone {
                return (x % n) as usize;
            }
        }
    }
}

/// The committee for `job` (its `attempt`-th assignment) from `seed`, among `candidates`
/// minus `exclude`.
pub fn select_committee(
    seed: &[u8],
    job: &Digest,
    attempt: u32,
    candidates: &[Candidate],
    exclude: &[Digest],
    spec: &CommitteeSpec,
) -> Result<Vec<Member>, SelectionError> {
    let excluded: BTreeSet<&Digest> = exclude.iter().collect();
    let mut pool: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| !excluded.contains(&c.id))
        .collect();
    pool.sort_by_key(|c| c.id);
    pool.dedup_by(|a, b| a.id == b.id);
    let member = |c: &Candidate| Member {
        id: c.id,
        region: c.region.clone(),
        vendor: c.vendor,
    };
    match spec {
        CommitteeSpec::AnyOf(k) => {
            if pool.len() < *k {
                return Err(SelectionError::NotEnoughNodes {
                    needed: *k,
                    available: pool.len(),
                });
            }
            let mut draws = Draws {
                seed,
                job,
                attempt,
                context: b"any",
                counter: 0,
            };
            // Partial Fisher-Yates: the first k positions are a uniform k-subset, in order.
            for i in 0..*k {
                let j = i + draws.below(pool.len() - i);
                pool.swap(i, j);
            }
            Ok(pool[..*k].iter().map(|c| member(c)).collect())
        }
        CommitteeSpec::CrossVendor(regions) => {
            if regions.is_empty() {
                return Err(SelectionError::NoRegion);
            }
            let mut out = Vec::with_capacity(2 * regions.len());
            for region in regions {
                for vendor in [Vendor::Intel, Vendor::Amd] {
                    let eligible: Vec<&&Candidate> = pool
                        .iter()
                        .filter(|c| c.vendor == vendor && c.region == *region)
                        .collect();
                    if eligible.is_empty() {
                        return Err(SelectionError::RegionLacksVendor {
                            region: region.clone(),
                            vendor,
                        });
                    }
                    let context = [region.as_bytes(), b"/", vendor.to_string().as_bytes()].concat();
                    let mut draws = Draws {
                        seed,
                        job,
                        attempt,
                        context: &context,
                        counter: 0,
                    };
                    out.push(member(eligible[draws.below(eligible.len())]));
                }
            }
            Ok(out)
        }
    }
}

/// What a receipt for a job must match: everything validators know before any member
/// answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobContext {
    /// This chain.
    pub chain_id: Digest,
    /// The contract whose lane runs the job.
    pub contract: hyperchain_types::Address,
    /// The job's lane position.
    pub lane_seq: u64,
    /// The job id.
    pub job: Digest,
    /// The committee draw the job is assigned to.
    pub run: RunId,
    /// The contract's code hash.
    pub code_hash: Digest,
    /// The lane's storage commitment after job `lane_seq − 1`.
    pub pre_state: Digest,
}

/// Why a receipt is not counted for a job.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptRejection {
    /// The signature is not the claimed node's.
    #[error("forged receipt: the signature is not node {0}'s")]
    BadSignature(Digest),
    /// The signer is not on this job's committee.
    #[error("node {0} is not a member of this job's committee")]
    NotAMember(Digest),
    /// The receipt is for another chain, contract, lane position, job, run, code or state.
    #[error("receipt does not apply to this job: {0} differs")]
    Mismatch(&'static str),
    /// The member already answered.
    #[error("node {0} already sent a receipt for this job")]
    Duplicate(Digest),
}

/// Checks one receipt for a job without re-executing it: signature, membership, and that it
/// applies to this job at this lane position and state.
pub fn check_receipt(
    ctx: &JobContext,
    committee: &[Member],
    receipt: &hyperchain_types::SignedComputeReceipt,
) -> Result<(), ReceiptRejection> {
    check_receipt_with(ctx, committee, receipt, |r| r.verify_signature())
}

/// [`check_receipt`] with the signature check supplied (e.g. a cache of verified signatures);
/// it runs last, after the cheap checks.
pub fn check_receipt_with(
    ctx: &JobContext,
    committee: &[Member],
    receipt: &hyperchain_types::SignedComputeReceipt,
    verify_signature: impl FnOnce(&hyperchain_types::SignedComputeReceipt) -> bool,
) -> Result<(), ReceiptRejection> {
    let id = receipt.node_id();
    if !committee.iter().any(|m| m.id == id) {
        return Err(ReceiptRejection::NotAMember(id));
    }
    let r = &receipt.receipt;
    for (differs, what) in [
        (r.chain_id != ctx.chain_id, "chain id"),
        (r.contract != ctx.contract, "contract"),
        (r.lane_seq != ctx.lane_seq, "lane position"),
        (r.job != ctx.job, "job"),
        (r.run != ctx.run, "run"),
        (r.code_hash != ctx.code_hash, "code hash"),
        (r.pre_state != ctx.pre_state, "pre-state"),
    ] {
        if differs {
            return Err(ReceiptRejection::Mismatch(what));
        }
    }
    if !verify_signature(receipt) {
        return Err(ReceiptRejection::BadSignature(id));
    }
    Ok(())
}

/// Where a job stands given its members' votes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// Some members have not answered.
    Waiting {
        /// Their ids.
        missing: Vec<Digest>,
    },
    /// Every member signed the same pre-state and outcome.
    Agreed {
        /// The pre-state they name.
        pre_state: Digest,
        /// The digest of the outcome they signed.
        outcome: Digest,
    },
    /// Members signed different pre-states or outcomes: validators arbitrate by re-executing.
    Disagreed,
}

/// The agreement of `votes` (each from a receipt that passed [`check_receipt`] for the same
/// run; later duplicates of a member are ignored). Disagreement is reported as soon as two
/// members differ.
pub fn agreement(committee: &[Member], votes: &[ReceiptVote]) -> Agreement {
    let mut by_member: std::collections::BTreeMap<Digest, &ReceiptVote> = Default::default();
    for v in votes {
        by_member.entry(v.node_id()).or_insert(v);
    }
    let mut answers = by_member.values().map(|v| (v.pre_state, v.outcome));
    let first = answers.next();
    if answers.any(|a| Some(a) != first) {
        return Agreement::Disagreed;
    }
    let missing: Vec<Digest> = committee
        .iter()
        .map(|m| m.id)
        .filter(|id| !by_member.contains_key(id))
        .collect();
    match first {
        Some((pre_state, outcome)) if missing.is_empty() => {
            Agreement::Agreed { pre_state, outcome }
        }
        _ => Agreement::Waiting { missing },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(i: u8, vendor: Vendor, region: &str) -> Candidate {
        Candidate {
            id: Digest([i; 32]),
            vendor,
            region: region.into(),
        }
    }

    fn fleet() -> Vec<Candidate> {
        let mut out = Vec::new();
        for (r, region) in ["eu", "us", "ap"].iter().enumerate() {
            for i in 0..4u8 {
                out.push(node(r as u8 * 10 + i, Vendor::Intel, region));
                out.push(node(100 + r as u8 * 10 + i, Vendor::Amd, region));
            }
        }
        out
    }

    #[test]
    fn cross_vendor_is_one_intel_and_one_amd_per_region() {
        let spec = CommitteeSpec::CrossVendor(vec!["eu".into(), "ap".into()]);
        let c = select_committee(b"seed", &Digest([1; 32]), 0, &fleet(), &[], &spec).unwrap();
        let shape: Vec<(&str, Vendor)> = c.iter().map(|m| (m.region.as_str(), m.vendor)).collect();
        assert_eq!(
            shape,
            vec![
                ("eu", Vendor::Intel),
                ("eu", Vendor::Amd),
                ("ap", Vendor::Intel),
                ("ap", Vendor::Amd)
            ]
        );
    }

    #[test]
    fn same_inputs_same_committee_whatever_the_order() {
        let spec = CommitteeSpec::CrossVendor(vec!["us".into()]);
        let job = Digest([2; 32]);
        let a = select_committee(b"s", &job, 0, &fleet(), &[], &spec).unwrap();
        let mut shuffled = fleet();
        shuffled.reverse();
        shuffled.rotate_left(5);
        assert_eq!(
            select_committee(b"s", &job, 0, &shuffled, &[], &spec).unwrap(),
            a
        );
        // Another seed, job or attempt draws again (some of 64 differ).
        let others: BTreeSet<Vec<Digest>> = (0..64u32)
            .map(|attempt| {
                select_committee(b"s", &job, attempt, &fleet(), &[], &spec)
                    .unwrap()
                    .into_iter()
                    .map(|m| m.id)
                    .collect()
            })
            .collect();
        assert!(others.len() > 8, "{}", others.len());
    }

    #[test]
    fn a_region_without_a_vendor_is_an_error_never_a_downgrade() {
        let nodes: Vec<Candidate> = fleet()
            .into_iter()
            .filter(|c| !(c.region == "us" && c.vendor == Vendor::Amd))
            .collect();
        let spec = CommitteeSpec::CrossVendor(vec!["eu".into(), "us".into()]);
        let err = select_committee(b"s", &Digest([3; 32]), 0, &nodes, &[], &spec).unwrap_err();
        assert_eq!(
            err,
            SelectionError::RegionLacksVendor {
                region: "us".into(),
                vendor: Vendor::Amd
            }
        );
        assert_eq!(err.to_string(), "region us has no active amd compute node");
        let unknown = CommitteeSpec::CrossVendor(vec!["mars".into()]);
        assert!(select_committee(b"s", &Digest([3; 32]), 0, &nodes, &[], &unknown).is_err());
        assert_eq!(
            select_committee(
                b"s",
                &Digest([3; 32]),
                0,
                &nodes,
                &[],
                &CommitteeSpec::CrossVendor(vec![])
            ),
            Err(SelectionError::NoRegion)
        );
    }

    #[test]
    fn committees_of_k_are_distinct_and_respect_exclusions() {
        let nodes = fleet();
        let excluded: Vec<Digest> = nodes.iter().take(20).map(|c| c.id).collect();
        for attempt in 0..50 {
            let c = select_committee(
                b"s",
                &Digest([4; 32]),
                attempt,
                &nodes,
                &excluded,
                &CommitteeSpec::AnyOf(3),
            )
            .unwrap();
            let ids: BTreeSet<Digest> = c.iter().map(|m| m.id).collect();
            assert_eq!(ids.len(), 3);
            assert!(ids.iter().all(|id| !excluded.contains(id)));
        }
        assert_eq!(
            select_committee(
                b"s",
                &Digest([4; 32]),
                0,
                &nodes,
                &excluded,
                &CommitteeSpec::AnyOf(5)
            ),
            Err(SelectionError::NotEnoughNodes {
                needed: 5,
                available: 4
            })
        );
    }

    #[test]
    fn draws_are_close_to_uniform() {
        // 4 Intel nodes in "eu": over 8,000 jobs each should be picked ~2,000 times.
        let spec = CommitteeSpec::CrossVendor(vec!["eu".into()]);
        let mut counts = std::collections::BTreeMap::<Digest, u32>::new();
        for j in 0..8_000u32 {
            let job = hyperchain_types::sha256(&j.to_be_bytes());
            let c = select_committee(b"seed", &job, 0, &fleet(), &[], &spec).unwrap();
            *counts.entry(c[0].id).or_default() += 1;
        }
        assert_eq!(counts.len(), 4);
        for (id, n) in counts {
            assert!((1_800..=2_200).contains(&n), "{id}: {n}");
        }
    }

    mod receipts {
        use super::super::*;
        use commonware_cryptography::{Signer as _, ed25519};
        use hyperchain_types::{Address, CallOutcome, CallStatus, ComputeReceipt};

        fn identity(seed: u64) -> ed25519::PrivateKey {
            ed25519::PrivateKey::from_seed(seed)
        }

        fn member(seed: u64, vendor: Vendor) -> Member {
            let key = hyperchain_types::SenderKey::from(identity(seed).public_key()).0;
            Member {
                id: hyperchain_types::node_id(&key),
                region: "eu".into(),
                vendor,
            }
        }

        fn ctx() -> JobContext {
            JobContext {
                chain_id: Digest([1; 32]),
                contract: Address([2; 32]),
                lane_seq: 3,
                job: Digest([4; 32]),
                run: RunId {
                    head: 3,
                    attempt: 0,
                },
                code_hash: Digest([5; 32]),
                pre_state: Digest([6; 32]),
            }
        }

        fn receipt(output: u8) -> ComputeReceipt {
            let c = ctx();
            ComputeReceipt {
                chain_id: c.chain_id,
                contract: c.contract,
                lane_seq: c.lane_seq,
                job: c.job,
                run: c.run,
                code_hash: c.code_hash,
                pre_state: c.pre_state,
                outcome: CallOutcome {
                    output: vec![output],
                    ..CallOutcome::failed(CallStatus::Ok, 10, Default::default())
                },
            }
        }

        #[test]
        fn members_agree_or_disagree_and_others_are_refused() {
            let committee = vec![member(1, Vendor::Intel), member(2, Vendor::Amd)];
            let intel = receipt(7).sign(&identity(1));
            let amd = receipt(7).sign(&identity(2));
            for r in [&intel, &amd] {
                check_receipt(&ctx(), &committee, r).unwrap();
            }
            let vote = ReceiptVote::of;
            assert_eq!(
                agreement(&committee, &[vote(&intel)]),
                Agreement::Waiting {
                    missing: vec![committee[1].id]
                }
            );
            assert_eq!(
                agreement(&committee, &[vote(&intel), vote(&amd)]),
                Agreement::Agreed {
                    pre_state: ctx().pre_state,
                    outcome: receipt(7).outcome_digest(),
                }
            );
            // A repeated vote of a member counts once.
            assert_eq!(
                agreement(&committee, &[vote(&intel), vote(&intel)]),
                Agreement::Waiting {
                    missing: vec![committee[1].id]
                }
            );

            // A liar, or a member naming another pre-state, disagrees.
            let liar = receipt(8).sign(&identity(2));
            assert_eq!(
                agreement(&committee, &[vote(&intel), vote(&liar)]),
                Agreement::Disagreed
            );
            let mut elsewhere = receipt(7);
            elsewhere.pre_state = Digest([61; 32]);
            let elsewhere = elsewhere.sign(&identity(2));
            assert_eq!(
                agreement(&committee, &[vote(&intel), vote(&elsewhere)]),
                Agreement::Disagreed
            );

            // A non-member, a forgery, and replays onto another job, lane position or chain.
            let stranger = receipt(7).sign(&identity(3));
            assert!(matches!(
                check_receipt(&ctx(), &committee, &stranger),
                Err(ReceiptRejection::NotAMember(_))
            ));
            let mut forged = intel.clone();
            forged.receipt.outcome.output = vec![9];
            assert!(matches!(
                check_receipt(&ctx(), &committee, &forged),
                Err(ReceiptRejection::BadSignature(_))
            ));
            for (field, mut other) in [
                ("job", ctx()),
                ("lane position", ctx()),
                ("chain id", ctx()),
                ("run", ctx()),
                ("pre-state", ctx()),
            ] {
                match field {
                    "job" => other.job = Digest([40; 32]),
                    "lane position" => other.lane_seq += 1,
                    "chain id" => other.chain_id = Digest([10; 32]),
                    "run" => other.run.attempt += 1,
                    _ => other.pre_state = Digest([60; 32]),
                }
                assert_eq!(
                    check_receipt(&other, &committee, &intel),
                    Err(ReceiptRejection::Mismatch(field))
                );
            }
        }
    }
}
