//! AMD SEV-SNP attestation reports, verified with the `sev` crate plus our own checks.
//!
//! `sev` verifies signatures only (ARK self-signature, ARK→ASK, ASK→VCEK, VCEK→report). On top
//! of that we check, in order:
//! 1. the report is exactly the 1184-byte firmware format and *canonical* (re-encoding it gives
//!    the same bytes: reserved fields are zero), the signature scalars' unused high bytes are
//!    zero, the algorithm is ECDSA P-384/SHA-384 and the signing key is a VCEK;
//! 2. the ARK is one of AMD's published roots embedded here (a reference value — a supplied ARK
//!    must equal one of them);
//! 3. every certificate is valid at `now`;
//! 4. the VCEK's TCB extensions (bootloader, TEE, SNP, microcode, and FMC on Turin) equal the
//!    report's `reported_tcb` — the VCEK is derived from that TCB, so a report signed by a VCEK
//!    for another TCB is a downgrade;
//! 5. the VCEK's hwID equals the report's `chip_id`.
//!
//! Debug (guest policy bit 19), VMPL, measurement and report data become claims for the policy.

use crate::{Claims, Platform, PlatformDetails, SnpEndorsements, Tcb, VerifyError};
use sev::certs::snp::{Certificate, Chain, Verifiable, ca};
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser;
use std::sync::OnceLock;
use x509_cert::der::Decode;
use x509_cert::der::asn1::ObjectIdentifier;

/// Size of an SEV-SNP attestation report as the firmware returns it.
pub const SNP_REPORT_LEN: usize = 1184;

/// Largest certificate accepted (AMD's are about 1.5 KiB DER).
const MAX_CERT: usize = 16 * 1024;

/// AMD's published ARK (AMD Root Key) certificates: the SEV-SNP trust anchors.
pub const AMD_ARKS: [(&str, &[u8]); 3] = [
    ("Milan", include_bytes!("amd/ark_milan.pem")),
    ("Genoa", include_bytes!("amd/ark_genoa.pem")),
    ("Turin", include_bytes!("amd/ark_turin.pem")),
];

/// The VCEK's TCB component as reported in its X.509 extension and in `reported_tcb`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnpTcb {
    /// FMC SPL (Turin and later).
    pub fmc: Option<u8>,
    /// PSP bootloader SPL.
    pub bootloader: u8,
    /// PSP OS (TEE) SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// Microcode SPL.
    pub microcode: u8,
}

const OID_BL: &str = "1.3.6.1.4.1.3704.1.3.1";
const OID_TEE: &str = "1.3.6.1.4.1.3704.1.3.2";
const OID_SNP: &str = "1.3.6.1.4.1.3704.1.3.3";
const OID_UCODE: &str = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC: &str = "1.3.6.1.4.1.3704.1.3.9";
const OID_HWID: &str = "1.3.6.1.4.1.3704.1.4";

fn extension<'a>(cert: &'a x509_cert::Certificate, oid: &str) -> Option<&'a [u8]> {
    let oid = ObjectIdentifier::new(oid).ok()?;
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)
        .map(|e| e.extn_value.as_bytes())
}

fn spl(cert: &x509_cert::Certificate, oid: &'static str) -> Result<u8, VerifyError> {
    let raw = extension(cert, oid).ok_or(VerifyError::VcekExtension(oid))?;
    u8::from_der(raw).map_err(|_| VerifyError::VcekExtension(oid))
}

/// The TCB a VCEK was issued for, from its X.509 extensions.
pub fn vcek_tcb(vcek: &x509_cert::Certificate) -> Result<SnpTcb, VerifyError> {
    Ok(SnpTcb {
        fmc: match extension(vcek, OID_FMC) {
            Some(_) => Some(spl(vcek, OID_FMC)?),
            None => None,
        },
        bootloader: spl(vcek, OID_BL)?,
        tee: spl(vcek, OID_TEE)?,
        snp: spl(vcek, OID_SNP)?,
        microcode: spl(vcek, OID_UCODE)?,
    })
}

/// Checks that the VCEK's TCB equals the report's `reported_tcb`, naming the first component
/// that differs.
pub fn check_vcek_tcb(vcek: &SnpTcb, reported: &SnpTcb) -> Result<(), VerifyError> {
    let fields = [
        (
            "bootloader",
            Some(vcek.bootloader),
            Some(reported.bootloader),
        ),
        ("tee", Some(vcek.tee), Some(reported.tee)),
        ("snp", Some(vcek.snp), Some(reported.snp)),
        ("microcode", Some(vcek.microcode), Some(reported.microcode)),
        ("fmc", vcek.fmc, reported.fmc),
    ];
    for (field, v, r) in fields {
        if v != r {
            return Err(VerifyError::VcekTcbMismatch {
                field,
                vcek: v.unwrap_or(0),
                report: r.unwrap_or(0),
            });
        }
    }
    Ok(())
}

/// Checks the VCEK's hwID extension against the report's chip id. Milan/Genoa hwIDs are the
/// full 64 bytes; Turin's are 8 bytes and the rest of the chip id is zero.
pub fn check_chip_id(vcek: &x509_cert::Certificate, chip_id: &[u8; 64]) -> Result<(), VerifyError> {
    let hwid = extension(vcek, OID_HWID).ok_or(VerifyError::VcekExtension(OID_HWID))?;
    if !(hwid.len() == 64 || hwid.len() == 8) {
        return Err(VerifyError::VcekExtension(OID_HWID));
    }
    let (head, tail) = chip_id.split_at(hwid.len());
    if head != hwid || tail.iter().any(|&b| b != 0) {
        return Err(VerifyError::ChipIdMismatch);
    }
    Ok(())
}

/// The embedded ARKs, parsed once.
fn trusted_arks() -> &'static [Certificate] {
    static ARKS: OnceLock<Vec<Certificate>> = OnceLock::new();
    ARKS.get_or_init(|| {
        AMD_ARKS
            .iter()
            .filter_map(|(_, pem)| Certificate::from_pem(pem).ok())
            .collect()
    })
}

fn parse_cert(bytes: &[u8], what: &'static str) -> Result<Certificate, VerifyError> {
    if bytes.len() > MAX_CERT {
        return Err(VerifyError::Malformed {
            what,
            detail: format!("{} bytes, more than {MAX_CERT}", bytes.len()),
        });
    }
    let parsed = if bytes.starts_with(b"-----BEGIN") {
        Certificate::from_pem(bytes)
    } else {
        Certificate::from_der(bytes)
    };
    parsed.map_err(|e| VerifyError::Malformed {
        what,
        detail: e.to_string(),
    })
}

/// RFC 5280 §4.1.1.2: the outer signature algorithm must equal the signed one. `sev` reads only
/// the outer OID, so without this the unsigned outer parameters could vary freely.
fn check_signature_fields(cert: &x509_cert::Certificate, which: &str) -> Result<(), VerifyError> {
    if cert.signature_algorithm != cert.tbs_certificate.signature {
        return Err(VerifyError::CertificateChain(format!(
            "{which} certificate's outer signature algorithm differs from the signed one"
        )));
    }
    Ok(())
}

fn der(cert: &Certificate) -> Vec<u8> {
    cert.to_der().unwrap_or_default()
}

fn check_validity(
    cert: &x509_cert::Certificate,
    which: &'static str,
    now: u64,
) -> Result<(), VerifyError> {
    let v = &cert.tbs_certificate.validity;
    let not_before = v.not_before.to_unix_duration().as_secs();
    let not_after = v.not_after.to_unix_duration().as_secs();
    if now < not_before || now > not_after {
        return Err(VerifyError::CertificateValidity {
            which,
            now,
            not_before,
            not_after,
        });
    }
    Ok(())
}

/// Parses a report strictly: exact length, canonical encoding (reserved bytes zero).
pub fn parse_report(bytes: &[u8]) -> Result<AttestationReport, VerifyError> {
    let malformed = |detail: String| VerifyError::Malformed {
        what: "SEV-SNP report",
        detail,
    };
    if bytes.len() != SNP_REPORT_LEN {
        return Err(malformed(format!(
            "{} bytes, expected {SNP_REPORT_LEN}",
            bytes.len()
        )));
    }
    let report = AttestationReport::from_bytes(bytes).map_err(|e| malformed(e.to_string()))?;
    let again = report.to_bytes().map_err(|e| malformed(e.to_string()))?;
    if again[..] != bytes[..] {
        return Err(malformed(
            "not in canonical form (a reserved field is non-zero)".into(),
        ));
    }
    Ok(report)
}

pub(crate) fn verify(
    report_bytes: &[u8],
    endorsements: &SnpEndorsements,
    now: u64,
) -> Result<Claims, VerifyError> {
    let report = parse_report(report_bytes)?;
    let ask = parse_cert(&endorsements.ask, "ASK certificate")?;
    let vcek = parse_cert(&endorsements.vcek, "VCEK certificate")?;
    let supplied_ark = match &endorsements.ark {
        Some(ark) => Some(der(&parse_cert(ark, "ARK certificate")?)),
        None => None,
    };
    if report.version < 2 {
        return Err(VerifyError::UnsupportedReport(format!(
            "report version {}",
            report.version
        )));
    }
    if report.sig_algo != 1 {
        return Err(VerifyError::UnsupportedReport(format!(
            "signature algorithm {} (expected 1, ECDSA P-384 with SHA-384)",
            report.sig_algo
        )));
    }
    if report.key_info.signing_key() != 0 {
        return Err(VerifyError::UnsupportedReport(format!(
            "signing key {} (only VCEK-signed reports are accepted)",
            report.key_info.signing_key()
        )));
    }

    let trusted = trusted_arks();
    let ark = match supplied_ark {
        Some(supplied) => trusted
            .iter()
            .find(|t| der(t) == supplied)
            .cloned()
            .ok_or(VerifyError::UntrustedArk)?,
        // The root whose subject issued this ASK (the chain check below verifies it signed it).
        None => {
            let issuer = x509_cert::Certificate::from(ask.clone())
                .tbs_certificate
                .issuer;
            trusted
                .iter()
                .find(|ark| {
                    x509_cert::Certificate::from((*ark).clone())
                        .tbs_certificate
                        .subject
                        == issuer
                })
                .cloned()
                .ok_or_else(|| {
                    VerifyError::CertificateChain(
                        "the ASK was not issued by any of AMD's published ARKs".into(),
                    )
                })?
        }
    };
    let chain = Chain {
        ca: ca::Chain { ark, ask },
        vek: vcek,
    };
    (&chain)
        .verify()
        .map_err(|e| VerifyError::CertificateChain(e.to_string()))?;

    let ark_x: x509_cert::Certificate = chain.ca.ark.clone().into();
    let ask_x: x509_cert::Certificate = chain.ca.ask.clone().into();
    let vcek_x: x509_cert::Certificate = chain.vek.clone().into();
    check_signature_fields(&ark_x, "ARK")?;
    check_signature_fields(&ask_x, "ASK")?;
    check_signature_fields(&vcek_x, "VCEK")?;
    check_validity(&ark_x, "ARK", now)?;
    check_validity(&ask_x, "ASK", now)?;
    check_validity(&vcek_x, "VCEK", now)?;

    // `sev` reads only the low 48 bytes of each 72-byte scalar; the rest must be zero or the
    // same signature would have many encodings.
    let sig = &report.signature;
    if sig.r()[48..].iter().chain(&sig.s()[48..]).any(|&b| b != 0) {
        return Err(VerifyError::ReportSignature(
            "signature scalar has non-zero bytes beyond 48".into(),
        ));
    }
    (&chain.vek, &report)
        .verify()
        .map_err(|e| VerifyError::ReportSignature(e.to_string()))?;

    let reported = SnpTcb {
        fmc: report.reported_tcb.fmc,
        bootloader: report.reported_tcb.bootloader,
        tee: report.reported_tcb.tee,
        snp: report.reported_tcb.snp,
        microcode: report.reported_tcb.microcode,
    };
    check_vcek_tcb(&vcek_tcb(&vcek_x)?, &reported)?;
    check_chip_id(&vcek_x, &report.chip_id)?;

    let mut svns = vec![
        u16::from(reported.bootloader),
        u16::from(reported.tee),
        u16::from(reported.snp),
        u16::from(reported.microcode),
    ];
    if let Some(fmc) = reported.fmc {
        svns.push(u16::from(fmc));
    }
    Ok(Claims {
        platform: Platform::SevSnp,
        measurement: report.measurement.to_vec(),
        tcb: Tcb { svns, status: None },
        advisories: Vec::new(),
        debug: report.policy.debug_allowed(),
        report_data: report.report_data,
        platform_id: report.chip_id.to_vec(),
        timestamp: None,
        details: PlatformDetails::SevSnp {
            version: report.version,
            guest_svn: report.guest_svn,
            policy: u64::from(report.policy),
            vmpl: report.vmpl,
            family_id: report.family_id,
            image_id: report.image_id,
            host_data: report.host_data,
            id_key_digest: report.id_key_digest,
            author_key_digest: report.author_key_digest,
        },
    })
}
