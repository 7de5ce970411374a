//! Evidence providers: what produces, inside the TEE guest, evidence binding a 64-byte
//! `report_data` ([`hyperchain_attest::report_data`]), together with the endorsements the
//! validators need to check it.
//!
//! | name | provider | evidence from | endorsements from |
//! |---|---|---|---|
//! | `sim-intel`, `sim-amd` | [`SimProvider`] | [`hyperchain_attest::sim`] | the simulated platform certificate |
//! | `sgx` | [`GramineSgxProvider`] | Gramine's `/dev/attestation` (DCAP quote) | a DCAP collateral JSON file (from the operator's PCCS) |
//! | `sev-snp` | [`SevSnpProvider`] | configfs-tsm (`/sys/kernel/config/tsm/report`), or `/dev/sev-guest` | the host's certificate table (auxblob), else certificate files |
//!
//! Providers pass the platform's bytes through untouched: they do not check that the evidence
//! verifies or binds the requested report data (validators do; a node that wants to know
//! before submitting runs [`hyperchain_attest::appraise`] on the result). Operator
//! documentation: `docs/EVIDENCE_PROVIDERS.md`.

mod certtable;
mod gramine;
mod sim;
mod snp;

pub use certtable::{ARK_GUID, ASK_GUID, CertTable, VCEK_GUID, VLEK_GUID, parse_cert_table};
pub use gramine::{DEFAULT_GRAMINE_ROOT, GramineSgxProvider};
pub use sim::SimProvider;
pub use snp::{DEFAULT_TSM_REPORT_ROOT, SEV_GUEST_DEVICE, SevSnpProvider, SnpCertFiles};

use hyperchain_attest::{Endorsements, Platform};
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Evidence and endorsements as a compute node puts them in a registration transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvidedEvidence {
    /// The platform the evidence verifies as.
    pub platform: Platform,
    /// The quote or report, as the platform produced it.
    pub evidence: Vec<u8>,
    /// What makes the evidence checkable, supplied by the (untrusted) host.
    pub endorsements: Endorsements,
}

/// Produces evidence binding `report_data` on one platform.
pub trait EvidenceProvider: Send + Sync + std::fmt::Debug {
    /// The platform this provider's evidence verifies as.
    fn platform(&self) -> Platform;

    /// Evidence binding `report_data`, and its endorsements. `now_secs` (unix seconds) is the
    /// timestamp put in evidence that carries one (simulated); hardware evidence has none.
    fn evidence(
        &self,
        report_data: [u8; 64],
        now_secs: u64,
    ) -> Result<ProvidedEvidence, ProviderError>;
}

/// Why a provider could not produce evidence.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A device, pseudo-file or configured file does not exist.
    #[error("{what} not found at {}", path.display())]
    Missing {
        /// What was looked for, with a hint at the usual cause.
        what: &'static str,
        /// Where.
        path: PathBuf,
    },
    /// Reading, writing, creating or removing a file failed for another reason.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// `read`, `write`, `create` or `open`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file holds something other than what this provider needs (e.g. Gramine's
    /// `attestation_type` is not `dcap`, configfs-tsm's `provider` is not `sev_guest`).
    #[error("{} reads {found:?}, expected {expected:?}: {hint}", path.display())]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// What it should read.
        expected: &'static str,
        /// What it reads.
        found: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The platform reported an error (its own text).
    #[error("{platform} platform error: {detail}")]
    Platform {
        /// Which platform interface.
        platform: &'static str,
        /// The platform's error text.
        detail: String,
    },
    /// Output or a supplied file could not be parsed.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which output or file.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// Output has the wrong size.
    #[error("{what} is {found} bytes, expected {expected}")]
    SizeMismatch {
        /// Which output.
        what: &'static str,
        /// The size expected (a number or a range).
        expected: String,
        /// The size found.
        found: usize,
    },
    /// configfs-tsm's `generation` changed between our writes and our reads: another process
    /// wrote to the same report entry, so the report may not bind our report data.
    #[error(
        "{} went from {before} to {after}, expected {expected} after our {writes} write(s): \
         another writer raced us; retry",
        path.display()
    )]
    GenerationChanged {
        /// The `generation` file.
        path: PathBuf,
        /// Read before writing.
        before: u64,
        /// Read after the outputs were read.
        after: u64,
        /// `before` plus our writes.
        expected: u64,
        /// How many attributes we wrote.
        writes: u64,
    },
    /// An endorsement the validators need is neither supplied by the platform nor configured.
    #[error("no {what}: {detail}")]
    MissingEndorsement {
        /// Which certificate or collateral.
        what: &'static str,
        /// Where it was looked for and how to supply it.
        detail: String,
    },
    /// [`from_platform_name`] needs an option that was not given.
    #[error("platform {platform} needs option `{option}`: {what}")]
    MissingOption {
        /// The platform name.
        platform: &'static str,
        /// The option's name in [`ProviderOptions`].
        option: &'static str,
        /// What it is.
        what: &'static str,
    },
    /// An option's value is out of range.
    #[error("option `{option}`: {detail}")]
    InvalidOption {
        /// The option's name in [`ProviderOptions`].
        option: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// [`from_platform_name`] does not know the name, or this build cannot drive it.
    #[error("unsupported platform {name:?}: {detail}")]
    Unsupported {
        /// The name given.
        name: String,
        /// Which names are supported.
        detail: String,
    },
}

/// What [`from_platform_name`] needs; each provider uses the fields named in its docs and
/// ignores the others.
#[derive(Clone, Debug, Default)]
pub struct ProviderOptions {
    /// `sim-*`: the runtime image file whose simulated measurement goes in the report.
    pub image: Option<PathBuf>,
    /// `sim-*`: seed of the simulated platform key (the same seed gives the same platform).
    pub platform_seed: Option<Vec<u8>>,
    /// `sim-*`: mark reports as produced by a debug-mode TEE.
    pub sim_debug: bool,
    /// `sgx`: Gramine's attestation directory (default [`DEFAULT_GRAMINE_ROOT`]).
    pub gramine_root: Option<PathBuf>,
    /// `sgx`: the DCAP collateral JSON file (`QuoteCollateralV3`), re-read on every call.
    pub dcap_collateral: Option<PathBuf>,
    /// `sev-snp`: the configfs-tsm report directory (default [`DEFAULT_TSM_REPORT_ROOT`]).
    pub tsm_root: Option<PathBuf>,
    /// `sev-snp`: use the `/dev/sev-guest` ioctl instead of configfs-tsm (endorsements then
    /// come from the certificate files only).
    pub sev_guest_device: bool,
    /// `sev-snp`: the VMPL (0–3) to request the report at (configfs-tsm `privlevel`).
    pub snp_privlevel: Option<u8>,
    /// `sev-snp`: VCEK certificate file (PEM or DER), used when the host supplies none.
    pub snp_vcek: Option<PathBuf>,
    /// `sev-snp`: ASK certificate file, optionally followed by the ARK (PEM, as AMD KDS's
    /// `cert_chain` serves them), or the ASK alone in DER; used when the host supplies none.
    pub snp_cert_chain: Option<PathBuf>,
}

/// The names [`from_platform_name`] accepts.
pub const PROVIDER_NAMES: [&str; 4] = ["sim-intel", "sim-amd", "sgx", "sev-snp"];

/// The provider for a command-line platform name (one of [`PROVIDER_NAMES`]).
pub fn from_platform_name(
    name: &str,
    options: &ProviderOptions,
) -> Result<Box<dyn EvidenceProvider>, ProviderError> {
    match name {
        "sim-intel" | "sim-amd" => {
            let (platform, flavour) = if name == "sim-intel" {
                ("sim-intel", hyperchain_attest::sim::SimFlavour::Intel)
            } else {
                ("sim-amd", hyperchain_attest::sim::SimFlavour::Amd)
            };
            let image_path = options
                .image
                .as_deref()
                .ok_or(ProviderError::MissingOption {
                    platform,
                    option: "image",
                    what: "the runtime image file whose measurement validators recompute",
                })?;
            let seed = options
                .platform_seed
                .as_deref()
                .ok_or(ProviderError::MissingOption {
                    platform,
                    option: "platform_seed",
                    what: "the seed of the simulated platform key",
                })?;
            let image = read_file(image_path, "runtime image", usize::MAX)?;
            Ok(Box::new(
                SimProvider::new(flavour, seed, image).with_debug(options.sim_debug),
            ))
        }
        "sgx" => {
            let collateral =
                options
                    .dcap_collateral
                    .clone()
                    .ok_or(ProviderError::MissingOption {
                        platform: "sgx",
                        option: "dcap_collateral",
                        what: "the DCAP collateral JSON file fetched from a PCCS",
                    })?;
            let root = options
                .gramine_root
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_GRAMINE_ROOT));
            Ok(Box::new(GramineSgxProvider::new(root, collateral)))
        }
        "sev-snp" => {
            if let Some(level) = options.snp_privlevel
                && level > 3
            {
                return Err(ProviderError::InvalidOption {
                    option: "snp_privlevel",
                    detail: format!("VMPL {level}: must be 0 to 3"),
                });
            }
            let files = SnpCertFiles {
                vcek: options.snp_vcek.clone(),
                cert_chain: options.snp_cert_chain.clone(),
            };
            let provider = if options.sev_guest_device {
                SevSnpProvider::sev_guest_device(files)?
            } else {
                let root = options
                    .tsm_root
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_TSM_REPORT_ROOT));
                SevSnpProvider::configfs(root, files)
            };
            Ok(Box::new(provider.with_privlevel(options.snp_privlevel)))
        }
        "tdx" => Err(ProviderError::Unsupported {
            name: name.to_string(),
            detail: format!(
                "no TDX evidence provider yet; supported: {}",
                PROVIDER_NAMES.join(", ")
            ),
        }),
        _ => Err(ProviderError::Unsupported {
            name: name.to_string(),
            detail: format!("supported: {}", PROVIDER_NAMES.join(", ")),
        }),
    }
}

// ---- file helpers shared by the providers ----

/// Maps an I/O error on `path` to [`ProviderError::Missing`] (not found) or
/// [`ProviderError::Io`].
fn io_error(
    e: std::io::Error,
    action: &'static str,
    path: &Path,
    what: &'static str,
) -> ProviderError {
    if e.kind() == std::io::ErrorKind::NotFound {
        ProviderError::Missing {
            what,
            path: path.to_path_buf(),
        }
    } else {
        ProviderError::Io {
            action,
            path: path.to_path_buf(),
            source: e,
        }
    }
}

/// Reads at most `limit` bytes of `path`; more is a [`ProviderError::SizeMismatch`].
fn read_file(path: &Path, what: &'static str, limit: usize) -> Result<Vec<u8>, ProviderError> {
    let file = std::fs::File::open(path).map_err(|e| io_error(e, "open", path, what))?;
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap)
        .read_to_end(&mut out)
        .map_err(|e| io_error(e, "read", path, what))?;
    if out.len() > limit {
        return Err(ProviderError::SizeMismatch {
            what,
            expected: format!("at most {limit}"),
            found: out.len(),
        });
    }
    Ok(out)
}

/// Reads a small text attribute and trims surrounding whitespace.
fn read_text(path: &Path, what: &'static str) -> Result<String, ProviderError> {
    let bytes = read_file(path, what, 4096)?;
    String::from_utf8(bytes)
        .map(|s| s.trim().to_string())
        .map_err(|_| ProviderError::Malformed {
            what,
            detail: format!("{} is not UTF-8 text", path.display()),
        })
}

/// Writes `bytes` to an existing file in one `write` and closes it (configfs binary
/// attributes take effect on close). Never creates the file: the kernel or Gramine does.
fn write_existing(path: &Path, bytes: &[u8], what: &'static str) -> Result<(), ProviderError> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| io_error(e, "open", path, what))?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| io_error(e, "write", path, what))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! The recorded evidence of `crates/attest/tests/fixtures` (see its README).

    /// Inside every recorded collateral's validity window (2025-06-20T00:00:00Z).
    pub const NOW: u64 = 1_750_377_600;
    pub const SGX_QUOTE: &[u8] = include_bytes!("../../../attest/tests/fixtures/sgx_quote");
    pub const SGX_COLLATERAL: &str =
        include_str!("../../../attest/tests/fixtures/sgx_quote_collateral.json");
    pub const SNP_REPORT_HEX: &str =
        include_str!("../../../attest/tests/fixtures/report_milan.hex");
    pub const VCEK_DER: &[u8] = include_bytes!("../../../attest/tests/fixtures/vcek_milan.der");
    pub const ASK_PEM: &[u8] = include_bytes!("../../../attest/tests/fixtures/ask_milan.pem");
    /// ASK then ARK, PEM (as AMD KDS's `cert_chain` serves them).
    pub const CERT_CHAIN_PEM: &[u8] =
        include_bytes!("../../../attest/tests/fixtures/cert_chain_milan");

    pub fn snp_report() -> Vec<u8> {
        hex::decode(SNP_REPORT_HEX.trim()).expect("fixture is hex")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_build_providers_or_name_the_missing_option() {
        let dir = tempfile::tempdir().expect("tempdir");
        let image = dir.path().join("runtime.img");
        std::fs::write(&image, b"runtime").expect("write image");

        let err =
            from_platform_name("sim-intel", &ProviderOptions::default()).expect_err("no image");
        assert!(err.to_string().contains("`image`"), "{err}");
        let err = from_platform_name(
            "sim-amd",
            &ProviderOptions {
                image: Some(image.clone()),
                ..Default::default()
            },
        )
        .expect_err("no seed");
        assert!(err.to_string().contains("`platform_seed`"), "{err}");
        let err = from_platform_name(
            "sim-amd",
            &ProviderOptions {
                image: Some(dir.path().join("absent.img")),
                platform_seed: Some(b"s".to_vec()),
                ..Default::default()
            },
        )
        .expect_err("image absent");
        assert!(
            matches!(&err, ProviderError::Missing { path, .. } if path.ends_with("absent.img")),
            "{err}"
        );

        let sim = ProviderOptions {
            image: Some(image),
            platform_seed: Some(b"seed".to_vec()),
            ..Default::default()
        };
        let p = from_platform_name("sim-intel", &sim).expect("sim-intel");
        assert_eq!(p.platform(), Platform::SimIntel);
        let p = from_platform_name("sim-amd", &sim).expect("sim-amd");
        assert_eq!(p.platform(), Platform::SimAmd);

        let err = from_platform_name("sgx", &ProviderOptions::default()).expect_err("sgx");
        assert!(err.to_string().contains("`dcap_collateral`"), "{err}");
        let p = from_platform_name(
            "sgx",
            &ProviderOptions {
                dcap_collateral: Some(dir.path().join("collateral.json")),
                ..Default::default()
            },
        )
        .expect("sgx");
        assert_eq!(p.platform(), Platform::Sgx);

        let p = from_platform_name("sev-snp", &ProviderOptions::default()).expect("sev-snp");
        assert_eq!(p.platform(), Platform::SevSnp);
        let err = from_platform_name(
            "sev-snp",
            &ProviderOptions {
                snp_privlevel: Some(4),
                ..Default::default()
            },
        )
        .expect_err("vmpl 4");
        assert!(err.to_string().contains("snp_privlevel"), "{err}");

        for name in ["tdx", "SGX", "", "sim"] {
            let err = from_platform_name(name, &sim).expect_err(name);
            assert!(matches!(err, ProviderError::Unsupported { .. }), "{err}");
            assert!(err.to_string().contains("sev-snp"), "{err}");
        }
    }

    #[test]
    fn read_file_enforces_its_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, [7u8; 10]).expect("write");
        assert_eq!(read_file(&path, "f", 10).expect("fits"), vec![7u8; 10]);
        let err = read_file(&path, "f", 9).expect_err("too big");
        assert!(
            matches!(err, ProviderError::SizeMismatch { found: 10, .. }),
            "{err}"
        );
    }

    #[test]
    fn write_existing_never_creates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("inblob");
        let err = write_existing(&path, b"x", "inblob").expect_err("absent");
        assert!(matches!(err, ProviderError::Missing { .. }), "{err}");
        assert!(!path.exists());
    }
}
