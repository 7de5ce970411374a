//! Intel SGX under Gramine: the DCAP quote from Gramine's `/dev/attestation` pseudo-files,
//! the DCAP collateral from a file the (untrusted) host keeps fresh.
//!
//! Gramine's interface (manifest `sgx.remote_attestation = "dcap"`):
//! - `attestation_type` reads `dcap`;
//! - writing 64 bytes to `user_report_data` sets the enclave report's data;
//! - reading `quote` has the quoting enclave produce a quote over that report.

use super::{
    EvidenceProvider, ProvidedEvidence, ProviderError, read_file, read_text, write_existing,
};
use hyperchain_attest::{Endorsements, Platform, limits};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where Gramine exposes its attestation pseudo-files.
pub const DEFAULT_GRAMINE_ROOT: &str = "/dev/attestation";

/// Header (48) + ISV enclave report body (384) + signature data length (4): the smallest
/// DCAP v3 quote that can hold a signature.
const MIN_QUOTE_LEN: usize = 48 + 384 + 4;
/// Largest collateral file read (the JSON of all collateral fields is ~15 KiB).
const MAX_COLLATERAL_FILE: usize = 4 * 1024 * 1024;

const MISSING_GRAMINE: &str = "Gramine attestation pseudo-file (running outside Gramine-SGX, or \
                               the manifest lacks sgx.remote_attestation = \"dcap\"?)";

/// SGX DCAP quotes through Gramine's `/dev/attestation`.
#[derive(Debug)]
pub struct GramineSgxProvider {
    root: PathBuf,
    collateral: PathBuf,
    /// `user_report_data` then `quote` is one enclave-wide exchange: one at a time.
    lock: Mutex<()>,
}

impl GramineSgxProvider {
    /// A provider reading Gramine's files under `root` ([`DEFAULT_GRAMINE_ROOT`] in an
    /// enclave) and the DCAP collateral JSON (`QuoteCollateralV3`, as dcap-qvl and PCCS tools
    /// write it) from `collateral`, re-read on every call so the host can refresh it.
    pub fn new(root: impl Into<PathBuf>, collateral: impl Into<PathBuf>) -> Self {
        GramineSgxProvider {
            root: root.into(),
            collateral: collateral.into(),
            lock: Mutex::new(()),
        }
    }

    /// The attestation directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn endorsements(&self) -> Result<Endorsements, ProviderError> {
        let bytes = read_file(
            &self.collateral,
            "DCAP collateral file",
            MAX_COLLATERAL_FILE,
        )
        .map_err(|e| match e {
            ProviderError::Missing { path, .. } => ProviderError::MissingEndorsement {
                what: "DCAP collateral",
                detail: format!(
                    "{} does not exist; fetch the collateral for this platform from a PCCS \
                         (see docs/EVIDENCE_PROVIDERS.md)",
                    path.display()
                ),
            },
            other => other,
        })?;
        let json = String::from_utf8(bytes).map_err(|_| ProviderError::Malformed {
            what: "DCAP collateral file",
            detail: format!("{} is not UTF-8", self.collateral.display()),
        })?;
        Endorsements::from_json(Platform::Sgx, &json).map_err(|detail| ProviderError::Malformed {
            what: "DCAP collateral file",
            detail: format!("{}: {detail}", self.collateral.display()),
        })
    }

    fn quote(&self, report_data: [u8; 64]) -> Result<Vec<u8>, ProviderError> {
        if !self.root.is_dir() {
            return Err(ProviderError::Missing {
                what: MISSING_GRAMINE,
                path: self.root.clone(),
            });
        }
        let kind_path = self.root.join("attestation_type");
        let kind = read_text(&kind_path, MISSING_GRAMINE)?;
        if kind != "dcap" {
            return Err(ProviderError::Unexpected {
                path: kind_path,
                expected: "dcap",
                found: kind,
                hint: "set sgx.remote_attestation = \"dcap\" in the Gramine manifest \
                       (EPID and \"none\" are not accepted by validators)",
            });
        }
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        write_existing(
            &self.root.join("user_report_data"),
            &report_data,
            MISSING_GRAMINE,
        )?;
        let quote_path = self.root.join("quote");
        let quote = read_file(&quote_path, MISSING_GRAMINE, limits::MAX_EVIDENCE)?;
        check_quote_header(&quote)?;
        Ok(quote)
    }
}

/// The quote is a DCAP v3 ECDSA-P256 SGX quote (what validators verify); anything else is an
/// error here rather than a rejected transaction later.
fn check_quote_header(quote: &[u8]) -> Result<(), ProviderError> {
    const WHAT: &str = "SGX quote (Gramine quote file)";
    if quote.len() < MIN_QUOTE_LEN {
        return Err(ProviderError::SizeMismatch {
            what: WHAT,
            expected: format!("at least {MIN_QUOTE_LEN}"),
            found: quote.len(),
        });
    }
    let version = u16::from_le_bytes([quote[0], quote[1]]);
    let key_type = u16::from_le_bytes([quote[2], quote[3]]);
    let tee_type = u32::from_le_bytes([quote[4], quote[5], quote[6], quote[7]]);
    if version != 3 || key_type != 2 || tee_type != 0 {
        return Err(ProviderError::Malformed {
            what: WHAT,
            detail: format!(
                "header version {version}, attestation key type {key_type}, TEE type \
                 {tee_type:#x}; expected a DCAP v3 ECDSA-P256 SGX quote (3, 2, 0x0)"
            ),
        });
    }
    Ok(())
}

impl EvidenceProvider for GramineSgxProvider {
    fn platform(&self) -> Platform {
        Platform::Sgx
    }

    fn evidence(
        &self,
        report_data: [u8; 64],
        _now_secs: u64,
    ) -> Result<ProvidedEvidence, ProviderError> {
        // Collateral first: a missing file is the operator's to fix and needs no enclave call.
        let endorsements = self.endorsements()?;
        let evidence = self.quote(report_data)?;
        Ok(ProvidedEvidence {
            platform: Platform::Sgx,
            evidence,
            endorsements,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    struct FakeGramine {
        dir: tempfile::TempDir,
        collateral: PathBuf,
    }

    /// A Gramine attestation directory whose `quote` is the recorded SGX quote.
    fn fake_gramine(kind: &str) -> FakeGramine {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("attestation");
        std::fs::create_dir(&root).expect("mkdir");
        std::fs::write(root.join("attestation_type"), kind).expect("write");
        std::fs::write(root.join("user_report_data"), b"").expect("write");
        std::fs::write(root.join("quote"), fixtures::SGX_QUOTE).expect("write");
        let collateral = dir.path().join("collateral.json");
        std::fs::write(&collateral, fixtures::SGX_COLLATERAL).expect("write");
        FakeGramine { dir, collateral }
    }

    impl FakeGramine {
        fn root(&self) -> PathBuf {
            self.dir.path().join("attestation")
        }
        fn provider(&self) -> GramineSgxProvider {
            GramineSgxProvider::new(self.root(), &self.collateral)
        }
    }

    #[test]
    fn recorded_quote_passes_through_and_verifies() {
        let fake = fake_gramine("dcap");
        let rd = hyperchain_attest::NodeBinding {
            chain_id: &[1; 32],
            identity_pk: &[2; 32],
            owner: &[4; 32],
            region: "eu",
        }
        .report_data(&[3; 32]);
        let out = fake.provider().evidence(rd, 0).expect("evidence");
        assert_eq!(out.platform, Platform::Sgx);
        assert_eq!(out.evidence, fixtures::SGX_QUOTE);
        // The provider wrote exactly the requested bytes.
        let written = std::fs::read(fake.root().join("user_report_data")).expect("read");
        assert_eq!(written, rd);
        let claims = hyperchain_attest::verify(
            Platform::Sgx,
            &out.evidence,
            &out.endorsements,
            fixtures::NOW,
        )
        .expect("recorded quote verifies with the recorded collateral");
        // The recorded quote binds its own report data, not ours (no enclave here): the
        // provider passed the quote through untouched.
        // (SGX quote v3: 48-byte header, then the report body with report_data at 320..384.)
        assert_eq!(
            claims.report_data.as_slice(),
            &fixtures::SGX_QUOTE[48 + 320..48 + 384]
        );
        assert_ne!(claims.report_data, rd);
        // gramine `attestation_type` may carry a trailing newline.
        let fake = fake_gramine("dcap\n");
        assert!(fake.provider().evidence(rd, 0).is_ok());
    }

    #[test]
    fn wrong_attestation_type_is_named() {
        for kind in ["epid", "none", ""] {
            let fake = fake_gramine(kind);
            let err = fake.provider().evidence([0; 64], 0).expect_err(kind);
            assert!(
                matches!(&err, ProviderError::Unexpected { expected: "dcap", found, .. } if found == kind),
                "{err}"
            );
            assert!(err.to_string().contains("sgx.remote_attestation"), "{err}");
            // Nothing was written.
            let written = std::fs::read(fake.root().join("user_report_data")).expect("read");
            assert!(written.is_empty());
        }
    }

    #[test]
    fn missing_root_and_files_name_their_path() {
        let fake = fake_gramine("dcap");
        let absent = fake.dir.path().join("no-such-dir");
        let err = GramineSgxProvider::new(&absent, &fake.collateral)
            .evidence([0; 64], 0)
            .expect_err("no root");
        assert!(
            matches!(&err, ProviderError::Missing { path, .. } if *path == absent),
            "{err}"
        );
        assert!(err.to_string().contains("Gramine"), "{err}");

        for file in ["attestation_type", "user_report_data", "quote"] {
            let fake = fake_gramine("dcap");
            std::fs::remove_file(fake.root().join(file)).expect("rm");
            let err = fake.provider().evidence([0; 64], 0).expect_err(file);
            assert!(
                matches!(&err, ProviderError::Missing { path, .. } if path.ends_with(file)),
                "{file}: {err}"
            );
        }

        let fake = fake_gramine("dcap");
        std::fs::remove_file(&fake.collateral).expect("rm");
        let err = fake
            .provider()
            .evidence([0; 64], 0)
            .expect_err("no collateral");
        assert!(
            matches!(
                err,
                ProviderError::MissingEndorsement {
                    what: "DCAP collateral",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("collateral.json"), "{err}");
    }

    #[test]
    fn malformed_quote_and_collateral_are_errors() {
        let fake = fake_gramine("dcap");
        std::fs::write(fake.root().join("quote"), &fixtures::SGX_QUOTE[..100]).expect("write");
        let err = fake.provider().evidence([0; 64], 0).expect_err("short");
        assert!(
            matches!(err, ProviderError::SizeMismatch { found: 100, .. }),
            "{err}"
        );

        let mut tdx_like = fixtures::SGX_QUOTE.to_vec();
        tdx_like[0] = 4;
        tdx_like[4] = 0x81;
        std::fs::write(fake.root().join("quote"), &tdx_like).expect("write");
        let err = fake
            .provider()
            .evidence([0; 64], 0)
            .expect_err("not v3 sgx");
        assert!(matches!(err, ProviderError::Malformed { .. }), "{err}");

        std::fs::write(
            fake.root().join("quote"),
            vec![0u8; limits::MAX_EVIDENCE + 1],
        )
        .expect("write");
        let err = fake.provider().evidence([0; 64], 0).expect_err("huge");
        assert!(matches!(err, ProviderError::SizeMismatch { .. }), "{err}");

        std::fs::write(&fake.collateral, "{\"not\": \"collateral\"}").expect("write");
        let err = fake.provider().evidence([0; 64], 0).expect_err("bad json");
        assert!(
            matches!(
                err,
                ProviderError::Malformed {
                    what: "DCAP collateral file",
                    ..
                }
            ),
            "{err}"
        );
    }
}
