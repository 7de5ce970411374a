//! Attestation evidence verification (Intel SGX/TDX DCAP, AMD SEV-SNP, simulated) and policy evaluation; pure, no I/O, no clock.
//!
//! The model is IETF RATS: **evidence** (a quote or report) is checked against **endorsements**
//! (collateral the untrusted host supplies: certificates, TCB info, CRLs, VCEK) by one verifier
//! per platform, which returns typed [`Claims`] or a [`VerifyError`] naming the failed check.
//! The claims are then appraised against **reference values**, an [`AttestationPolicy`], by
//! [`evaluate`]. Both steps are deterministic functions of their inputs and the time passed in
//! (the block timestamp on chain): no network, no system clock.
//!
//! ```text
//! verify(platform, evidence, endorsements, now) -> Claims
//! evaluate(policy, claims, expected_report_data, now) -> ()
//! appraise(...)  = both, with a per-check report for operators
//! ```

mod binding;
mod claims;
mod dcap;
mod endorsements;
mod error;
mod policy;
pub mod sim;
mod snp;

pub use binding::{IDENTITY_DOMAIN, NodeBinding};
pub use claims::{Claims, DcapTcbStatus, Platform, PlatformDetails, Tcb, Vendor, claim_limits};
pub use dcap::INTEL_SGX_ROOT_CA_DER;
pub use dcap_qvl::QuoteCollateralV3;
pub use endorsements::{Endorsements, SimEndorsements, SnpEndorsements};
pub use error::VerifyError;
pub use policy::{
    AttestationPolicy, MAX_FUTURE_SKEW_SECS, Measurement, POLICY_CHECKS, PolicyCheck, PolicyError,
    TcbMinimums, TdxRegisters, evaluate, evaluate_standing, policy_checks, policy_limits,
};
pub use snp::{
    AMD_ARKS, SNP_REPORT_LEN, SnpTcb, check_chip_id, check_vcek_tcb,
    parse_report as parse_snp_report, vcek_tcb,
};

/// Input size limits. Changing them is a protocol change.
pub mod limits {
    /// Largest evidence accepted (DCAP quotes are ~5 KiB, SNP reports 1184 bytes).
    pub const MAX_EVIDENCE: usize = 64 * 1024;
    /// Largest single endorsement field (a CRL, a certificate chain, TCB info JSON).
    pub const MAX_COLLATERAL_FIELD: usize = 256 * 1024;
}

/// Verifies `evidence` for `platform` against `endorsements` at `now` (unix seconds) and returns
/// what it establishes. Rejects only evidence that is not authentic; whether the claims are
/// acceptable (measurement, TCB, debug, …) is for [`evaluate`].
pub fn verify(
    platform: Platform,
    evidence: &[u8],
    endorsements: &Endorsements,
    now: u64,
) -> Result<Claims, VerifyError> {
    if evidence.len() > limits::MAX_EVIDENCE {
        return Err(VerifyError::EvidenceTooLarge(evidence.len()));
    }
    let mismatch = || VerifyError::EndorsementsMismatch {
        platform,
        found: endorsements.kind(),
    };
    match platform {
        Platform::Sgx | Platform::Tdx => match endorsements {
            Endorsements::Dcap(c) => dcap::verify(platform, evidence, c, now),
            _ => Err(mismatch()),
        },
        Platform::SevSnp => match endorsements {
            Endorsements::SevSnp(e) => snp::verify(evidence, e, now),
            _ => Err(mismatch()),
        },
        Platform::SimIntel | Platform::SimAmd => match endorsements {
            Endorsements::Sim(e) => sim::verify(platform, evidence, e),
            _ => Err(mismatch()),
        },
    }
}

/// The verification checks for `platform`, in order, with what each establishes.
pub fn verification_checks(platform: Platform) -> &'static [(&'static str, &'static str)] {
    match platform {
        Platform::Sgx | Platform::Tdx => &[
            ("evidence-format", "the quote and collateral parse"),
            (
                "platform-match",
                "the quote is of the claimed kind (SGX or TDX)",
            ),
            (
                "dcap-quote",
                "quote signed by the attestation key, QE report signed by the PCK and binding \
                 that key, PCK chain to Intel's SGX root CA, CRLs, TCB info and QE identity \
                 signed and valid now, TCB level matched, not revoked",
            ),
        ],
        Platform::SevSnp => &[
            (
                "evidence-format",
                "the report and certificates parse; the report is canonical",
            ),
            (
                "report-kind",
                "report v2+, ECDSA P-384/SHA-384, signed by a VCEK",
            ),
            ("trust-anchor", "the ARK is one of AMD's published roots"),
            (
                "certificate-chain",
                "ARK self-signed, ARK signs ASK, ASK signs VCEK",
            ),
            ("certificate-validity", "ARK, ASK and VCEK are valid now"),
            ("report-signature", "the VCEK signs the report"),
            (
                "vcek-tcb",
                "the VCEK's TCB extensions equal the report's reported_tcb",
            ),
            (
                "vcek-chip-id",
                "the VCEK's hwID equals the report's chip_id",
            ),
        ],
        Platform::SimIntel | Platform::SimAmd => &[
            (
                "evidence-format",
                "the report and platform certificate parse",
            ),
            (
                "certificate-chain",
                "the dev root key signs the platform certificate",
            ),
            (
                "platform-match",
                "report flavour and platform id match the certificate",
            ),
            ("report-signature", "the platform key signs the report"),
        ],
    }
}

/// A check's verdict in an [`Appraisal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// The check did not run (an earlier one failed) or does not apply.
    Skip,
}

/// One line of an [`Appraisal`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckOutcome {
    /// `verify` or `policy`.
    pub stage: &'static str,
    /// The check's name.
    pub name: &'static str,
    /// Its verdict.
    pub verdict: Verdict,
    /// What was established, or why it failed or was skipped.
    pub detail: String,
}

/// Verification and policy evaluation, check by check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appraisal {
    /// Every check, verification first.
    pub checks: Vec<CheckOutcome>,
    /// The claims, if verification passed.
    pub claims: Option<Claims>,
}

impl Appraisal {
    /// Whether the evidence verified and the policy accepts it.
    pub fn accepted(&self) -> bool {
        self.claims.is_some() && self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }
}

/// Runs [`verify`] then every policy check and reports each check (for operator tooling; the
/// chain uses [`verify`] and [`evaluate`]). `expected_report_data` `None` skips that check.
pub fn appraise(
    platform: Platform,
    evidence: &[u8],
    endorsements: &Endorsements,
    policy: &AttestationPolicy,
    expected_report_data: Option<&[u8; 64]>,
    now: u64,
) -> Appraisal {
    let result = verify(platform, evidence, endorsements, now);
    let failed = result.as_ref().err().map(|e| e.check());
    let mut checks = Vec::new();
    let mut seen_failure = false;
    for &(name, what) in verification_checks(platform) {
        let (verdict, detail) = match (&result, failed) {
            (Err(e), Some(f)) if f == name && !seen_failure => {
                seen_failure = true;
                (Verdict::Fail, e.to_string())
            }
            _ if seen_failure => (Verdict::Skip, "not run: an earlier check failed".into()),
            _ => (Verdict::Pass, what.to_string()),
        };
        checks.push(CheckOutcome {
            stage: "verify",
            name,
            verdict,
            detail,
        });
    }
    match result {
        Ok(claims) => {
            for (name, c) in policy_checks(policy, &claims, expected_report_data, now) {
                let (verdict, detail) = match c {
                    PolicyCheck::Passed(d) => (Verdict::Pass, d),
                    PolicyCheck::NotApplicable(d) => (Verdict::Skip, d),
                    PolicyCheck::Failed(e) => (Verdict::Fail, e.to_string()),
                };
                checks.push(CheckOutcome {
                    stage: "policy",
                    name,
                    verdict,
                    detail,
                });
            }
            Appraisal {
                checks,
                claims: Some(claims),
            }
        }
        Err(e) => {
            if !seen_failure {
                // Defensive: an error whose check is not in the list still shows up.
                checks.push(CheckOutcome {
                    stage: "verify",
                    name: e.check(),
                    verdict: Verdict::Fail,
                    detail: e.to_string(),
                });
            }
            for name in POLICY_CHECKS {
                checks.push(CheckOutcome {
                    stage: "policy",
                    name,
                    verdict: Verdict::Skip,
                    detail: "not run: verification failed".into(),
                });
            }
            Appraisal {
                checks,
                claims: None,
            }
        }
    }
}
