//! Intel SGX and TDX DCAP quotes, verified with dcap-qvl.
//!
//! dcap-qvl checks the quote's ECDSA signature by the attestation key, the QE report (signed by
//! the PCK, binding the attestation key), the PCK chain to Intel's SGX root CA, both CRLs, the
//! TCB info and QE identity signatures and their validity at `now`, the QE identity, TCB level
//! matching (and for TDX the TDX module identity), and rejects revoked TCBs. We run it with a
//! *claims-only* policy and debug enclaves allowed, so that the TCB status, advisories and the
//! debug bit come back as claims and [`crate::AttestationPolicy`] decides on them.

use crate::claims::claim_limits::{MAX_ADVISORIES, MAX_ADVISORY_LEN, MAX_PLATFORM_ID};
use crate::{Claims, DcapTcbStatus, Platform, PlatformDetails, Tcb, VerifyError};
use dcap_qvl::configs::RustCryptoConfig;
use dcap_qvl::quote::{Quote, Report};
use dcap_qvl::verify::QuoteVerifier;
use dcap_qvl::{QuoteCollateralV3, QuotePolicy, TcbStatus};

/// Intel SGX Root CA (DER), the trust anchor for SGX and TDX. A reference value: it is pinned
/// here, not taken from the endorsements.
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("intel/sgx_root_ca.der");

pub(crate) fn verify(
    platform: Platform,
    quote: &[u8],
    collateral: &QuoteCollateralV3,
    now: u64,
) -> Result<Claims, VerifyError> {
    // Parse first so a quote of the wrong kind is reported as such, not as a signature failure.
    let parsed = Quote::parse(quote).map_err(|e| VerifyError::Malformed {
        what: "DCAP quote",
        detail: format!("{e:#}"),
    })?;
    let found = match parsed.report {
        Report::SgxEnclave(_) => Platform::Sgx,
        Report::TD10(_) | Report::TD15(_) | Report::TD15Ex(_) => Platform::Tdx,
    };
    if found != platform {
        return Err(VerifyError::WrongPlatform {
            expected: platform,
            found: format!("{found} quote"),
        });
    }

    let verified =
        QuoteVerifier::<RustCryptoConfig>::new_with_config(INTEL_SGX_ROOT_CA_DER.to_vec())
            .allow_debug(true)
            .verify_with_policy(quote, collateral, now, &QuotePolicy::claims_only(now))
            .map_err(|e| VerifyError::Dcap(format!("{e:#}")))?;

    let status = match verified.tcb.status {
        TcbStatus::UpToDate => DcapTcbStatus::UpToDate,
        TcbStatus::SWHardeningNeeded => DcapTcbStatus::SwHardeningNeeded,
        TcbStatus::ConfigurationNeeded => DcapTcbStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationAndSWHardeningNeeded => {
            DcapTcbStatus::ConfigurationAndSwHardeningNeeded
        }
        TcbStatus::OutOfDate => DcapTcbStatus::OutOfDate,
        TcbStatus::OutOfDateConfigurationNeeded => DcapTcbStatus::OutOfDateConfigurationNeeded,
        TcbStatus::TDRelaunchAdvised => DcapTcbStatus::TdRelaunchAdvised,
        TcbStatus::TDRelaunchAdvisedConfigurationNeeded => {
            DcapTcbStatus::TdRelaunchAdvisedConfigurationNeeded
        }
        // dcap-qvl already rejects this; keep the mapping total.
        TcbStatus::Revoked => return Err(VerifyError::Dcap("TCB status is Revoked".into())),
    };
    let advisories = verified.tcb.advisory_ids.clone();
    if advisories.len() > MAX_ADVISORIES || advisories.iter().any(|a| a.len() > MAX_ADVISORY_LEN) {
        return Err(VerifyError::Malformed {
            what: "DCAP collateral",
            detail: "too many or too long advisory ids".into(),
        });
    }
    let pck = &verified.platform.pck;
    if pck.ppid.len() > MAX_PLATFORM_ID {
        return Err(VerifyError::Malformed {
            what: "PCK certificate",
            detail: "PPID too long".into(),
        });
    }
    let mut svns: Vec<u16> = pck.cpu_svn.iter().map(|&s| u16::from(s)).collect();
    svns.push(pck.pce_svn);

    let (measurement, debug, details) = match &verified.report {
        Report::SgxEnclave(r) => (
            r.mr_enclave.to_vec(),
            r.attributes[0] & 0x02 != 0,
            PlatformDetails::Sgx {
                mr_signer: r.mr_signer,
                isv_prod_id: r.isv_prod_id,
                isv_svn: r.isv_svn,
                attributes: r.attributes,
                fmspc: pck.fmspc,
            },
        ),
        report => {
            let td = report.as_td10().ok_or_else(|| VerifyError::Malformed {
                what: "DCAP quote",
                detail: "TD report body missing".into(),
            })?;
            svns.extend(td.tee_tcb_svn.iter().map(|&s| u16::from(s)));
            (
                td.mr_td.to_vec(),
                td.td_attributes[0] & 0x01 != 0,
                PlatformDetails::Tdx {
                    mr_seam: td.mr_seam,
                    td_attributes: td.td_attributes,
                    xfam: td.xfam,
                    mr_config_id: td.mr_config_id,
                    mr_owner: td.mr_owner,
                    mr_owner_config: td.mr_owner_config,
                    rtmr: [td.rt_mr0, td.rt_mr1, td.rt_mr2, td.rt_mr3],
                    fmspc: pck.fmspc,
                },
            )
        }
    };
    let report_data = match &verified.report {
        Report::SgxEnclave(r) => r.report_data,
        report => report.as_td10().map(|t| t.report_data).unwrap_or([0; 64]),
    };

    Ok(Claims {
        platform,
        measurement,
        tcb: Tcb {
            svns,
            status: Some(status),
        },
        advisories,
        debug,
        report_data,
        platform_id: pck.ppid.clone(),
        timestamp: None,
        details,
    })
}
