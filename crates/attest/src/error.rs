//! Why evidence failed verification, naming the check.

use crate::Platform;

/// Evidence failed verification. [`VerifyError::check`] names the failed check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The evidence is larger than any platform produces.
    #[error("evidence is {0} bytes, more than the {max} allowed", max = crate::limits::MAX_EVIDENCE)]
    EvidenceTooLarge(usize),
    /// The endorsements are for another kind of platform.
    #[error("endorsements are {found} endorsements but the evidence is {platform}")]
    EndorsementsMismatch {
        /// The platform being verified.
        platform: Platform,
        /// What kind of endorsements were supplied.
        found: &'static str,
    },
    /// The evidence or an endorsement could not be parsed.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which input.
        what: &'static str,
        /// The parser's complaint.
        detail: String,
    },
    /// The evidence is a different kind than the claimed platform (e.g. a TDX quote as `sgx`).
    #[error("evidence is {found}, expected {expected}")]
    WrongPlatform {
        /// The platform being verified.
        expected: Platform,
        /// What the evidence is.
        found: String,
    },
    /// Intel DCAP verification (dcap-qvl) failed: quote or QE report signature, PCK chain to
    /// Intel's root, CRLs, TCB info or QE identity signature, collateral validity at `now`,
    /// TCB level matching, or a revoked TCB. The detail is dcap-qvl's message.
    #[error("DCAP quote verification failed: {0}")]
    Dcap(String),
    /// The supplied ARK is not one of AMD's published roots embedded in this crate.
    #[error("the ARK is not one of AMD's published roots (Milan, Genoa, Turin)")]
    UntrustedArk,
    /// A certificate signature in ARK→ASK→VCEK does not verify.
    #[error("certificate chain: {0}")]
    CertificateChain(String),
    /// A certificate is not valid at the verification time.
    #[error("{which} certificate is not valid at {now} (valid from {not_before} to {not_after})")]
    CertificateValidity {
        /// Which certificate.
        which: &'static str,
        /// The verification time (unix seconds).
        now: u64,
        /// Start of validity (unix seconds).
        not_before: u64,
        /// End of validity (unix seconds).
        not_after: u64,
    },
    /// The report is a kind this verifier does not accept.
    #[error("unsupported report: {0}")]
    UnsupportedReport(String),
    /// The report's signature does not verify under the VCEK.
    #[error("report signature: {0}")]
    ReportSignature(String),
    /// A VCEK TCB extension is missing or malformed.
    #[error("VCEK extension {0} is missing or malformed")]
    VcekExtension(&'static str),
    /// The VCEK was issued for another TCB than the one the report says signed it.
    #[error("VCEK {field} SPL is {vcek} but the report's reported_tcb says {report}")]
    VcekTcbMismatch {
        /// The TCB component.
        field: &'static str,
        /// The value in the VCEK.
        vcek: u8,
        /// The value in the report.
        report: u8,
    },
    /// The VCEK was issued for another chip than the report's `chip_id`.
    #[error("VCEK hwID does not match the report's chip_id")]
    ChipIdMismatch,
    /// The simulated platform certificate is not signed by the dev root key.
    #[error("simulated platform certificate is not signed by the dev root key")]
    SimCertificateSignature,
    /// The simulated report is not signed by the certified platform key.
    #[error("simulated report is not signed by the platform key")]
    SimReportSignature,
    /// The simulated report and its certificate disagree (flavour or platform id).
    #[error("simulated report does not match its platform certificate: {0}")]
    SimPlatformMismatch(String),
}

impl VerifyError {
    /// The name of the failed check, as listed in [`crate::verification_checks`].
    pub fn check(&self) -> &'static str {
        use VerifyError::*;
        match self {
            EvidenceTooLarge(_) | EndorsementsMismatch { .. } | Malformed { .. } => {
                "evidence-format"
            }
            WrongPlatform { .. } | SimPlatformMismatch(_) => "platform-match",
            Dcap(_) => "dcap-quote",
            UntrustedArk => "trust-anchor",
            CertificateChain(_) | SimCertificateSignature => "certificate-chain",
            CertificateValidity { .. } => "certificate-validity",
            UnsupportedReport(_) => "report-kind",
            ReportSignature(_) | SimReportSignature => "report-signature",
            VcekExtension(_) | VcekTcbMismatch { .. } => "vcek-tcb",
            ChipIdMismatch => "vcek-chip-id",
        }
    }
}
