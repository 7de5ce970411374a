//! AMD SEV-SNP guests: the attestation report from the Linux **configfs-tsm** interface
//! (kernel ≥ 6.7), or from the legacy `/dev/sev-guest` ioctl; the ASK and VCEK from the
//! certificate table the host hands the guest, else from certificate files the operator
//! configures.
//!
//! configfs-tsm (`Documentation/ABI/testing/configfs-tsm` in the kernel): creating a directory
//! under `/sys/kernel/config/tsm/report` creates a report entry with the attributes
//! - `provider` (read): `sev_guest` on SEV-SNP;
//! - `privlevel` (write, optional): the VMPL to request the report at;
//! - `inblob` (write): the 64 bytes of report data;
//! - `outblob` (read): the 1184-byte attestation report;
//! - `auxblob` (read): the host's certificate table (empty if the host supplies none);
//! - `generation` (read): incremented by every write to the entry, so a reader can tell that
//!   someone else wrote between its writes and its reads.
//!
//! Removing the directory removes the entry.

use super::certtable::{CertTable, parse_cert_table};
use super::{
    EvidenceProvider, ProvidedEvidence, ProviderError, io_error, read_file, read_text,
    write_existing,
};
use hyperchain_attest::{Endorsements, Platform, SNP_REPORT_LEN, SnpEndorsements, limits};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where configfs-tsm report entries are created.
pub const DEFAULT_TSM_REPORT_ROOT: &str = "/sys/kernel/config/tsm/report";
/// The legacy SEV-SNP guest device.
pub const SEV_GUEST_DEVICE: &str = "/dev/sev-guest";

/// Largest certificate table read (a VCEK, ASK and ARK are ~5 KiB together; the kernel caps
/// configfs-tsm blobs at 32 KiB).
const MAX_AUXBLOB: usize = 64 * 1024;
/// Largest certificate file read.
const MAX_CERT_FILE: usize = 64 * 1024;

const MISSING_TSM: &str = "configfs-tsm report directory (is configfs mounted on \
                           /sys/kernel/config, and is this an SEV-SNP guest on Linux >= 6.7 \
                           with CONFIG_TSM_REPORTS and the sev-guest driver?)";
const MISSING_TSM_ATTR: &str = "configfs-tsm report attribute (kernel without SEV-SNP \
                                configfs-tsm support?)";
#[cfg(target_os = "linux")]
const MISSING_DEVICE: &str = "SEV-SNP guest device (not an SEV-SNP guest, or the sev-guest \
                              driver is not loaded?)";

/// Certificate files the operator supplies for when the host's certificate table lacks them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnpCertFiles {
    /// The VCEK (PEM or DER; AMD KDS serves it as DER).
    pub vcek: Option<PathBuf>,
    /// The ASK, optionally followed by the ARK, in PEM (AMD KDS's `cert_chain`); or the ASK
    /// alone in DER.
    pub cert_chain: Option<PathBuf>,
}

#[derive(Clone, Debug)]
enum Interface {
    Configfs {
        root: PathBuf,
        /// A fixed entry name; `None` makes a fresh one per report.
        entry: Option<String>,
    },
    SevGuestDevice,
}

/// What the provider tells an emulated kernel (tests): configfs attributes have side effects
/// that plain files do not.
#[cfg_attr(not(test), allow(dead_code))]
enum TsmEvent<'a> {
    Wrote(&'a Path),
    Read(&'a Path),
}

#[cfg(test)]
type KernelHook = std::sync::Arc<dyn Fn(TsmEvent<'_>) + Send + Sync>;

/// SEV-SNP attestation reports and their VCEK/ASK endorsements.
pub struct SevSnpProvider {
    interface: Interface,
    files: SnpCertFiles,
    privlevel: Option<u8>,
    /// One report at a time from this provider.
    lock: Mutex<()>,
    #[cfg(test)]
    kernel: Option<KernelHook>,
}

impl std::fmt::Debug for SevSnpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SevSnpProvider")
            .field("interface", &self.interface)
            .field("files", &self.files)
            .field("privlevel", &self.privlevel)
            .finish()
    }
}

impl SevSnpProvider {
    /// Reports through configfs-tsm under `root` ([`DEFAULT_TSM_REPORT_ROOT`] in a guest), one
    /// fresh entry per report, removed afterwards; certificates the host does not supply come
    /// from `files`.
    pub fn configfs(root: impl Into<PathBuf>, files: SnpCertFiles) -> Self {
        SevSnpProvider {
            interface: Interface::Configfs {
                root: root.into(),
                entry: None,
            },
            files,
            privlevel: None,
            lock: Mutex::new(()),
            #[cfg(test)]
            kernel: None,
        }
    }

    /// Reports through the legacy `/dev/sev-guest` ioctl (the `sev` crate's `get_report`).
    /// The host's certificate table is not read on this path (the `sev` crate's
    /// extended-report parser follows the host's offsets unchecked), so the VCEK and ASK must
    /// come from `files`. Linux only; prefer [`SevSnpProvider::configfs`].
    pub fn sev_guest_device(files: SnpCertFiles) -> Result<Self, ProviderError> {
        if !cfg!(target_os = "linux") {
            return Err(ProviderError::Unsupported {
                name: "sev-snp (sev_guest_device)".into(),
                detail: format!("{SEV_GUEST_DEVICE} exists only on Linux"),
            });
        }
        Ok(SevSnpProvider {
            interface: Interface::SevGuestDevice,
            files,
            privlevel: None,
            lock: Mutex::new(()),
            #[cfg(test)]
            kernel: None,
        })
    }

    /// Uses the configfs-tsm entry `name` instead of a fresh one per report. An entry that
    /// already exists is used as is and left in place; one this provider creates is removed.
    pub fn with_entry_name(mut self, name: impl Into<String>) -> Self {
        if let Interface::Configfs { entry, .. } = &mut self.interface {
            *entry = Some(name.into());
        }
        self
    }

    /// Requests reports at VMPL `privlevel` (0–3; `None` leaves the kernel's default).
    pub fn with_privlevel(mut self, privlevel: Option<u8>) -> Self {
        self.privlevel = privlevel;
        self
    }

    #[cfg(test)]
    fn with_kernel(mut self, hook: KernelHook) -> Self {
        self.kernel = Some(hook);
        self
    }

    #[cfg(test)]
    fn emulate(&self, event: TsmEvent<'_>) {
        if let Some(k) = &self.kernel {
            k(event);
        }
    }

    #[cfg(not(test))]
    fn emulate(&self, _event: TsmEvent<'_>) {}

    /// The report and the host's certificate table (if any), through configfs-tsm.
    fn configfs_report(
        &self,
        root: &Path,
        entry: Option<&str>,
        report_data: [u8; 64],
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), ProviderError> {
        if !root.is_dir() {
            return Err(ProviderError::Missing {
                what: MISSING_TSM,
                path: root.to_path_buf(),
            });
        }
        let dir = root.join(entry.map_or_else(fresh_entry_name, str::to_string));
        let created = match std::fs::create_dir(&dir) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(io_error(e, "create", &dir, MISSING_TSM)),
        };
        let _entry = Entry { dir: &dir, created };

        let provider_path = dir.join("provider");
        let provider = read_text(&provider_path, MISSING_TSM_ATTR)?;
        if provider != "sev_guest" {
            return Err(ProviderError::Unexpected {
                path: provider_path,
                expected: "sev_guest",
                found: provider,
                hint: "this guest's TSM is not SEV-SNP (tdx_guest is a TDX guest)",
            });
        }
        let generation = dir.join("generation");
        let before = read_generation(&generation)?;
        let mut writes = 0u64;
        if let Some(level) = self.privlevel {
            let path = dir.join("privlevel");
            write_existing(&path, level.to_string().as_bytes(), MISSING_TSM_ATTR)?;
            writes += 1;
            self.emulate(TsmEvent::Wrote(&path));
        }
        let inblob = dir.join("inblob");
        write_existing(&inblob, &report_data, MISSING_TSM_ATTR)?;
        writes += 1;
        self.emulate(TsmEvent::Wrote(&inblob));

        let outblob = dir.join("outblob");
        let report = read_file(&outblob, MISSING_TSM_ATTR, limits::MAX_EVIDENCE)?;
        self.emulate(TsmEvent::Read(&outblob));
        let auxblob = dir.join("auxblob");
        let aux = match read_file(&auxblob, MISSING_TSM_ATTR, MAX_AUXBLOB) {
            Ok(b) if b.is_empty() => None,
            Ok(b) => Some(b),
            // Kernels without auxblob support: certificates come from the files.
            Err(ProviderError::Missing { .. }) => None,
            Err(e) => return Err(e),
        };
        self.emulate(TsmEvent::Read(&auxblob));

        let after = read_generation(&generation)?;
        let expected = before.checked_add(writes);
        if expected != Some(after) {
            return Err(ProviderError::GenerationChanged {
                path: generation,
                before,
                after,
                expected: expected.unwrap_or(u64::MAX),
                writes,
            });
        }
        Ok((report, aux))
    }

    /// The report through `/dev/sev-guest`.
    #[cfg(target_os = "linux")]
    fn device_report(&self, report_data: [u8; 64]) -> Result<Vec<u8>, ProviderError> {
        let mut fw = sev::firmware::guest::Firmware::open()
            .map_err(|e| io_error(e, "open", Path::new(SEV_GUEST_DEVICE), MISSING_DEVICE))?;
        fw.get_report(None, Some(report_data), self.privlevel.map(u32::from))
            .map_err(|e| ProviderError::Platform {
                platform: "sev-guest",
                detail: e.to_string(),
            })
    }

    #[cfg(not(target_os = "linux"))]
    fn device_report(&self, _report_data: [u8; 64]) -> Result<Vec<u8>, ProviderError> {
        Err(ProviderError::Unsupported {
            name: "sev-snp (sev_guest_device)".into(),
            detail: format!("{SEV_GUEST_DEVICE} exists only on Linux"),
        })
    }

    /// The endorsements: each certificate from the host's table if it has it, else from the
    /// configured files.
    fn endorsements(&self, table: Option<CertTable>) -> Result<SnpEndorsements, ProviderError> {
        let source = match (&self.interface, &table) {
            (Interface::SevGuestDevice, _) => {
                "the /dev/sev-guest path does not read the host's certificates"
            }
            (_, None) => "the host supplied no certificate table (auxblob empty)",
            (_, Some(_)) => "the host's certificate table (auxblob) lacks it",
        };
        let table = table.unwrap_or_default();
        let vcek = match table.vcek {
            Some(v) => v,
            None => match &self.files.vcek {
                Some(path) => read_vcek_file(path)?,
                None => {
                    let vlek = if table.has_vlek {
                        " (it holds a VLEK, but validators accept only VCEK-signed reports)"
                    } else {
                        ""
                    };
                    return Err(ProviderError::MissingEndorsement {
                        what: "VCEK certificate",
                        detail: format!(
                            "{source}{vlek}, and no VCEK file is configured (`snp_vcek`): \
                             fetch this chip's VCEK for its reported TCB from AMD KDS \
                             (docs/EVIDENCE_PROVIDERS.md)"
                        ),
                    });
                }
            },
        };
        // The chain file is read only when the table lacks the ASK (the ARK is optional).
        let (file_ask, file_ark) = match (&self.files.cert_chain, &table.ask) {
            (Some(path), None) => {
                let chain = read_chain_file(path)?;
                (Some(chain.ask), chain.ark)
            }
            _ => (None, None),
        };
        let Some(ask) = table.ask.or(file_ask) else {
            return Err(ProviderError::MissingEndorsement {
                what: "ASK certificate",
                detail: format!(
                    "{source}, and no certificate chain file is configured (`snp_cert_chain`): \
                     fetch cert_chain for this processor family from AMD KDS \
                     (docs/EVIDENCE_PROVIDERS.md)"
                ),
            });
        };
        Ok(SnpEndorsements {
            ark: table.ark.or(file_ark),
            ask,
            vcek,
        })
    }
}

impl EvidenceProvider for SevSnpProvider {
    fn platform(&self) -> Platform {
        Platform::SevSnp
    }

    fn evidence(
        &self,
        report_data: [u8; 64],
        _now_secs: u64,
    ) -> Result<ProvidedEvidence, ProviderError> {
        if let Some(level) = self.privlevel
            && level > 3
        {
            return Err(ProviderError::InvalidOption {
                option: "snp_privlevel",
                detail: format!("VMPL {level}: must be 0 to 3"),
            });
        }
        let (report, aux) = {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            match &self.interface {
                Interface::Configfs { root, entry } => {
                    self.configfs_report(root, entry.as_deref(), report_data)?
                }
                Interface::SevGuestDevice => (self.device_report(report_data)?, None),
            }
        };
        if report.len() != SNP_REPORT_LEN {
            return Err(ProviderError::SizeMismatch {
                what: "SEV-SNP attestation report",
                expected: SNP_REPORT_LEN.to_string(),
                found: report.len(),
            });
        }
        let table = aux.as_deref().map(parse_cert_table).transpose()?;
        let endorsements = self.endorsements(table)?;
        Ok(ProvidedEvidence {
            platform: Platform::SevSnp,
            evidence: report,
            endorsements: Endorsements::SevSnp(endorsements),
        })
    }
}

/// `hyperchain-<pid>-<n>`: unique among this machine's processes and this process's reports.
fn fresh_entry_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "hyperchain-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A report entry; removes the directory on drop if this provider created it.
struct Entry<'a> {
    dir: &'a Path,
    created: bool,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        if self.created
            && let Err(e) = std::fs::remove_dir(self.dir)
        {
            tracing::warn!(entry = %self.dir.display(), error = %e, "cannot remove configfs-tsm report entry");
        }
    }
}

fn read_generation(path: &Path) -> Result<u64, ProviderError> {
    let text = read_text(path, MISSING_TSM_ATTR)?;
    text.parse().map_err(|_| ProviderError::Malformed {
        what: "configfs-tsm generation",
        detail: format!("{} reads {text:?}, not a number", path.display()),
    })
}

/// The PEM certificate blocks of `text`, each as its own PEM text.
fn pem_blocks(text: &str, what: &'static str) -> Result<Vec<Vec<u8>>, ProviderError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            return Err(ProviderError::Malformed {
                what,
                detail: "a certificate's BEGIN line has no END line".into(),
            });
        };
        let end = start + len + END.len();
        let mut block = rest.as_bytes()[start..end].to_vec();
        block.push(b'\n');
        out.push(block);
        rest = &rest[end..];
    }
    if out.is_empty() {
        return Err(ProviderError::Malformed {
            what,
            detail: "PEM text without a CERTIFICATE block".into(),
        });
    }
    Ok(out)
}

/// A certificate file's certificates: PEM blocks, or one DER certificate.
fn read_certs(path: &Path, what: &'static str) -> Result<Vec<Vec<u8>>, ProviderError> {
    let bytes = read_file(path, what, MAX_CERT_FILE)?;
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(trimmed).map_err(|_| ProviderError::Malformed {
            what,
            detail: format!("{} is PEM but not UTF-8", path.display()),
        })?;
        pem_blocks(text, what)
    } else if bytes.first() == Some(&0x30) {
        Ok(vec![bytes])
    } else {
        Err(ProviderError::Malformed {
            what,
            detail: format!("{} is neither PEM nor DER", path.display()),
        })
    }
}

fn read_vcek_file(path: &Path) -> Result<Vec<u8>, ProviderError> {
    const WHAT: &str = "SEV-SNP VCEK file";
    let mut certs = read_certs(path, WHAT)?;
    match (certs.pop(), certs.is_empty()) {
        (Some(vcek), true) => Ok(vcek),
        _ => Err(ProviderError::Malformed {
            what: WHAT,
            detail: format!("{} holds more than one certificate", path.display()),
        }),
    }
}

/// The certificates of a chain file.
struct ChainFile {
    ask: Vec<u8>,
    ark: Option<Vec<u8>>,
}

/// The ASK and, if present, the ARK (in that order, as AMD KDS's `cert_chain` serves them).
fn read_chain_file(path: &Path) -> Result<ChainFile, ProviderError> {
    const WHAT: &str = "SEV-SNP certificate chain file";
    let mut certs = read_certs(path, WHAT)?.into_iter();
    match (certs.next(), certs.next(), certs.next()) {
        (Some(ask), ark, None) => Ok(ChainFile { ask, ark }),
        _ => Err(ProviderError::Malformed {
            what: WHAT,
            detail: format!(
                "{} holds more than two certificates (expected the ASK, then optionally the ARK)",
                path.display()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::certtable::{ARK_GUID, ASK_GUID, VCEK_GUID, VLEK_GUID, build_cert_table};
    use super::super::fixtures;
    use super::*;
    use std::sync::Arc;

    const ENTRY: &str = "test-entry";

    /// A configfs-tsm report directory with one pre-created entry (a plain directory cannot
    /// create attributes on `mkdir` the way configfs does) and a kernel emulation that bumps
    /// `generation` on every write, as the kernel does.
    struct FakeTsm {
        dir: tempfile::TempDir,
    }

    impl FakeTsm {
        fn new(outblob: &[u8], auxblob: Option<&[u8]>) -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let entry = dir.path().join("report").join(ENTRY);
            std::fs::create_dir_all(&entry).expect("mkdir");
            std::fs::write(entry.join("provider"), "sev_guest\n").expect("write");
            std::fs::write(entry.join("generation"), "0\n").expect("write");
            std::fs::write(entry.join("inblob"), b"").expect("write");
            std::fs::write(entry.join("privlevel"), b"").expect("write");
            std::fs::write(entry.join("outblob"), outblob).expect("write");
            if let Some(aux) = auxblob {
                std::fs::write(entry.join("auxblob"), aux).expect("write");
            }
            FakeTsm { dir }
        }

        fn root(&self) -> PathBuf {
            self.dir.path().join("report")
        }

        fn entry(&self) -> PathBuf {
            self.root().join(ENTRY)
        }

        fn provider(&self, files: SnpCertFiles) -> SevSnpProvider {
            self.provider_with(files, false)
        }

        /// `race`: another writer bumps the generation while we read the outblob.
        fn provider_with(&self, files: SnpCertFiles, race: bool) -> SevSnpProvider {
            let entry = self.entry();
            let generation = entry.join("generation");
            let bump = move || {
                let g: u64 = std::fs::read_to_string(&generation)
                    .expect("read")
                    .trim()
                    .parse()
                    .expect("number");
                std::fs::write(&generation, format!("{}\n", g + 1)).expect("write");
            };
            SevSnpProvider::configfs(self.root(), files)
                .with_entry_name(ENTRY)
                .with_kernel(Arc::new(move |event| match event {
                    TsmEvent::Wrote(p) => {
                        assert_eq!(p.parent(), Some(entry.as_path()), "wrote outside the entry");
                        bump();
                    }
                    TsmEvent::Read(p) if race && p.ends_with("outblob") => bump(),
                    TsmEvent::Read(_) => {}
                }))
        }
    }

    fn aux_vcek_ask() -> Vec<u8> {
        build_cert_table(&[
            (VCEK_GUID, fixtures::VCEK_DER),
            (ASK_GUID, fixtures::ASK_PEM),
        ])
    }

    fn rd() -> [u8; 64] {
        hyperchain_attest::NodeBinding {
            chain_id: &[7; 32],
            identity_pk: &[8; 32],
            owner: &[10; 32],
            region: "eu",
        }
        .report_data(&[9; 32])
    }

    #[test]
    fn recorded_report_and_auxblob_verify() {
        let report = fixtures::snp_report();
        let fake = FakeTsm::new(&report, Some(&aux_vcek_ask()));
        let out = fake
            .provider(SnpCertFiles::default())
            .with_privlevel(Some(0))
            .evidence(rd(), 0)
            .expect("evidence");
        assert_eq!(out.platform, Platform::SevSnp);
        assert_eq!(out.evidence, report);
        let Endorsements::SevSnp(e) = &out.endorsements else {
            panic!("not SEV-SNP endorsements");
        };
        assert_eq!(e.vcek, fixtures::VCEK_DER);
        assert_eq!(e.ask, fixtures::ASK_PEM);
        assert_eq!(e.ark, None);
        let claims = hyperchain_attest::verify(
            Platform::SevSnp,
            &out.evidence,
            &out.endorsements,
            fixtures::NOW,
        )
        .expect("recorded report verifies with the auxblob's VCEK and ASK");
        // The recorded report binds its own report data (offset 0x50), passed through untouched.
        assert_eq!(claims.report_data.as_slice(), &report[0x50..0x90]);
        // What the provider wrote.
        assert_eq!(
            std::fs::read(fake.entry().join("inblob")).expect("read"),
            rd()
        );
        assert_eq!(
            std::fs::read_to_string(fake.entry().join("privlevel")).expect("read"),
            "0"
        );
        // A pre-existing entry is left in place.
        assert!(fake.entry().is_dir());
    }

    #[test]
    fn files_fill_in_what_the_host_does_not_supply() {
        let report = fixtures::snp_report();
        let dir = tempfile::tempdir().expect("tempdir");
        let vcek = dir.path().join("vcek.der");
        std::fs::write(&vcek, fixtures::VCEK_DER).expect("write");
        let chain = dir.path().join("cert_chain.pem");
        std::fs::write(&chain, fixtures::CERT_CHAIN_PEM).expect("write");
        let files = SnpCertFiles {
            vcek: Some(vcek),
            cert_chain: Some(chain),
        };

        // No auxblob file, an empty one, and one with only the ARK.
        let ark_only = build_cert_table(&[(ARK_GUID, hyperchain_attest::AMD_ARKS[0].1)]);
        for aux in [None, Some(&b""[..]), Some(ark_only.as_slice())] {
            let fake = FakeTsm::new(&report, aux);
            let out = fake
                .provider(files.clone())
                .evidence(rd(), 0)
                .expect("evidence");
            let Endorsements::SevSnp(e) = &out.endorsements else {
                panic!("not SEV-SNP endorsements");
            };
            assert_eq!(e.vcek, fixtures::VCEK_DER);
            assert!(e.ask.starts_with(b"-----BEGIN CERTIFICATE-----"));
            assert!(e.ark.is_some(), "ARK from the chain file or the table");
            hyperchain_attest::verify(
                Platform::SevSnp,
                &out.evidence,
                &out.endorsements,
                fixtures::NOW,
            )
            .expect("verifies with the file certificates");
        }

        // VCEK in PEM, ASK alone in PEM.
        let vcek_pem = dir.path().join("vcek.pem");
        std::fs::write(&vcek_pem, pem(fixtures::VCEK_DER)).expect("write");
        let ask = dir.path().join("ask.pem");
        std::fs::write(&ask, fixtures::ASK_PEM).expect("write");
        let fake = FakeTsm::new(&report, None);
        let out = fake
            .provider(SnpCertFiles {
                vcek: Some(vcek_pem),
                cert_chain: Some(ask),
            })
            .evidence(rd(), 0)
            .expect("evidence");
        let Endorsements::SevSnp(e) = &out.endorsements else {
            panic!("not SEV-SNP endorsements");
        };
        assert!(e.ark.is_none());
        hyperchain_attest::verify(
            Platform::SevSnp,
            &out.evidence,
            &out.endorsements,
            fixtures::NOW,
        )
        .expect("verifies with a PEM VCEK");
    }

    /// DER to PEM (test helper; base64 by hand to avoid a dependency).
    fn pem(der: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut b64 = String::new();
        for chunk in der.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    b64.push('=');
                }
            }
        }
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).expect("ascii"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    #[test]
    fn missing_root_is_named_and_created_entries_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let absent = dir.path().join("no-tsm");
        let err = SevSnpProvider::configfs(&absent, SnpCertFiles::default())
            .evidence(rd(), 0)
            .expect_err("no root");
        assert!(
            matches!(&err, ProviderError::Missing { path, .. } if *path == absent),
            "{err}"
        );
        assert!(err.to_string().contains("configfs"), "{err}");

        // A plain directory: the provider's mkdir makes an empty entry without attributes;
        // the error names the attribute and the entry is removed again.
        let root = dir.path().join("report");
        std::fs::create_dir(&root).expect("mkdir");
        let err = SevSnpProvider::configfs(&root, SnpCertFiles::default())
            .evidence(rd(), 0)
            .expect_err("no attributes");
        assert!(
            matches!(&err, ProviderError::Missing { path, .. } if path.ends_with("provider")),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(&root).expect("ls").count(), 0);
    }

    #[test]
    fn wrong_provider_is_named() {
        let fake = FakeTsm::new(&fixtures::snp_report(), Some(&aux_vcek_ask()));
        std::fs::write(fake.entry().join("provider"), "tdx_guest\n").expect("write");
        let err = fake
            .provider(SnpCertFiles::default())
            .evidence(rd(), 0)
            .expect_err("tdx");
        assert!(
            matches!(&err, ProviderError::Unexpected { expected: "sev_guest", found, .. } if found == "tdx_guest"),
            "{err}"
        );
        // Nothing was written.
        assert!(
            std::fs::read(fake.entry().join("inblob"))
                .expect("read")
                .is_empty()
        );
    }

    #[test]
    fn generation_change_is_detected() {
        let fake = FakeTsm::new(&fixtures::snp_report(), Some(&aux_vcek_ask()));
        let err = fake
            .provider_with(SnpCertFiles::default(), true)
            .evidence(rd(), 0)
            .expect_err("raced");
        assert!(
            matches!(
                err,
                ProviderError::GenerationChanged {
                    before: 0,
                    after: 2,
                    expected: 1,
                    writes: 1,
                    ..
                }
            ),
            "{err}"
        );
        // Without the kernel's increments the count does not add up either.
        let fake = FakeTsm::new(&fixtures::snp_report(), Some(&aux_vcek_ask()));
        let err = SevSnpProvider::configfs(fake.root(), SnpCertFiles::default())
            .with_entry_name(ENTRY)
            .evidence(rd(), 0)
            .expect_err("no increment");
        assert!(
            matches!(err, ProviderError::GenerationChanged { .. }),
            "{err}"
        );
        // Garbage in `generation`.
        let fake = FakeTsm::new(&fixtures::snp_report(), Some(&aux_vcek_ask()));
        std::fs::write(fake.entry().join("generation"), "many").expect("write");
        let err = fake
            .provider(SnpCertFiles::default())
            .evidence(rd(), 0)
            .expect_err("garbage");
        assert!(matches!(err, ProviderError::Malformed { .. }), "{err}");
    }

    #[test]
    fn truncated_or_oversized_report_is_a_size_mismatch() {
        let report = fixtures::snp_report();
        for len in [0, 1, SNP_REPORT_LEN - 1] {
            let fake = FakeTsm::new(&report[..len], Some(&aux_vcek_ask()));
            let err = fake
                .provider(SnpCertFiles::default())
                .evidence(rd(), 0)
                .expect_err("truncated");
            assert!(
                matches!(err, ProviderError::SizeMismatch { found, .. } if found == len),
                "{err}"
            );
        }
        let mut long = report.clone();
        long.push(0);
        let fake = FakeTsm::new(&long, Some(&aux_vcek_ask()));
        let err = fake
            .provider(SnpCertFiles::default())
            .evidence(rd(), 0)
            .expect_err("long");
        assert!(matches!(err, ProviderError::SizeMismatch { .. }), "{err}");
    }

    #[test]
    fn no_vcek_anywhere_is_named() {
        let report = fixtures::snp_report();
        let cases: [(Option<Vec<u8>>, &str); 3] = [
            (None, "no certificate table"),
            (
                Some(build_cert_table(&[(ASK_GUID, fixtures::ASK_PEM)])),
                "lacks it",
            ),
            (
                Some(build_cert_table(&[
                    (VLEK_GUID, fixtures::VCEK_DER),
                    (ASK_GUID, fixtures::ASK_PEM),
                ])),
                "VLEK",
            ),
        ];
        for (aux, says) in cases {
            let fake = FakeTsm::new(&report, aux.as_deref());
            let err = fake
                .provider(SnpCertFiles::default())
                .evidence(rd(), 0)
                .expect_err("no vcek");
            assert!(
                matches!(
                    err,
                    ProviderError::MissingEndorsement {
                        what: "VCEK certificate",
                        ..
                    }
                ),
                "{err}"
            );
            let text = err.to_string();
            assert!(text.contains(says) && text.contains("snp_vcek"), "{text}");
        }
        // VCEK but no ASK anywhere.
        let aux = build_cert_table(&[(VCEK_GUID, fixtures::VCEK_DER)]);
        let fake = FakeTsm::new(&report, Some(&aux));
        let err = fake
            .provider(SnpCertFiles::default())
            .evidence(rd(), 0)
            .expect_err("no ask");
        assert!(
            matches!(
                err,
                ProviderError::MissingEndorsement {
                    what: "ASK certificate",
                    ..
                }
            ),
            "{err}"
        );
        // A configured file that is absent names its path.
        let fake = FakeTsm::new(&report, None);
        let absent = fake.dir.path().join("vcek.der");
        let err = fake
            .provider(SnpCertFiles {
                vcek: Some(absent.clone()),
                cert_chain: None,
            })
            .evidence(rd(), 0)
            .expect_err("absent file");
        assert!(
            matches!(&err, ProviderError::Missing { path, .. } if *path == absent),
            "{err}"
        );
    }

    #[test]
    fn malformed_auxblob_and_files_are_errors() {
        let report = fixtures::snp_report();
        let good = aux_vcek_ask();
        for bad in [
            good[..10].to_vec(),
            good[..good.len() - 1].to_vec(),
            vec![0xff; 100],
        ] {
            let fake = FakeTsm::new(&report, Some(&bad));
            let err = fake
                .provider(SnpCertFiles::default())
                .evidence(rd(), 0)
                .expect_err("malformed table");
            assert!(
                matches!(
                    err,
                    ProviderError::Malformed {
                        what: "SEV-SNP certificate table",
                        ..
                    }
                ),
                "{err}"
            );
        }

        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "not a certificate").expect("write");
        let two = dir.path().join("two.pem");
        std::fs::write(&two, fixtures::CERT_CHAIN_PEM).expect("write");
        let three = dir.path().join("three.pem");
        let mut t = fixtures::CERT_CHAIN_PEM.to_vec();
        t.extend_from_slice(fixtures::ASK_PEM);
        std::fs::write(&three, t).expect("write");
        let unterminated = dir.path().join("unterminated.pem");
        std::fs::write(&unterminated, &fixtures::ASK_PEM[..100]).expect("write");
        for files in [
            SnpCertFiles {
                vcek: Some(junk.clone()),
                cert_chain: None,
            },
            SnpCertFiles {
                vcek: Some(two.clone()),
                cert_chain: None,
            },
            SnpCertFiles {
                vcek: Some(unterminated.clone()),
                cert_chain: None,
            },
        ] {
            let fake = FakeTsm::new(&report, None);
            let err = fake
                .provider(files)
                .evidence(rd(), 0)
                .expect_err("bad vcek file");
            assert!(matches!(err, ProviderError::Malformed { .. }), "{err}");
        }
        let aux = build_cert_table(&[(VCEK_GUID, fixtures::VCEK_DER)]);
        for chain in [junk, three, unterminated] {
            let fake = FakeTsm::new(&report, Some(&aux));
            let err = fake
                .provider(SnpCertFiles {
                    vcek: None,
                    cert_chain: Some(chain),
                })
                .evidence(rd(), 0)
                .expect_err("bad chain file");
            assert!(matches!(err, ProviderError::Malformed { .. }), "{err}");
        }
    }

    #[test]
    fn invalid_privlevel_is_refused_before_any_write() {
        let fake = FakeTsm::new(&fixtures::snp_report(), Some(&aux_vcek_ask()));
        let err = fake
            .provider(SnpCertFiles::default())
            .with_privlevel(Some(4))
            .evidence(rd(), 0)
            .expect_err("vmpl 4");
        assert!(matches!(err, ProviderError::InvalidOption { .. }), "{err}");
        assert!(
            std::fs::read(fake.entry().join("inblob"))
                .expect("read")
                .is_empty()
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sev_guest_device_absent_is_named() {
        if Path::new(SEV_GUEST_DEVICE).exists() {
            return; // an SEV-SNP guest: this test is about machines without the device
        }
        let err = SevSnpProvider::sev_guest_device(SnpCertFiles::default())
            .expect("linux")
            .evidence(rd(), 0)
            .expect_err("no device");
        assert!(
            matches!(&err, ProviderError::Missing { path, .. } if path == Path::new(SEV_GUEST_DEVICE)),
            "{err}"
        );
    }

    #[test]
    fn fresh_entry_names_differ() {
        assert_ne!(fresh_entry_name(), fresh_entry_name());
    }
}
