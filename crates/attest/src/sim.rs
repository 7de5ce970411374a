//! The simulated platform, for devnets and tests: the same structure as real TEEs, no hardware.
//!
//! # Anyone can forge simulated evidence
//!
//! The dev root key is derived from a **fixed, published seed**
//! ([`DEV_ROOT_SEED_DOMAIN`]): its private key is public knowledge, so simulated evidence proves
//! nothing about the attester. It exists so devnets and tests exercise registration,
//! re-attestation and cross-vendor committees end to end. [`crate::evaluate`] rejects it unless
//! the policy says `allow_simulated` — never set that on a network holding anything of value.
//!
//! # Structure
//!
//! - The dev root key (ed25519) signs a **platform certificate**
//!   `{flavour, platform_id (16 bytes), platform_key (ed25519 public key)}`; it is the
//!   endorsement.
//! - The platform key signs the **report** (the evidence)
//!   `{flavour, measurement (32), tcb (4 × u16 SVNs), debug, report_data (64), platform_id,
//!   timestamp (unix seconds)}`.
//! - The measurement of a runtime image is [`sim_measurement`], which validators recompute from
//!   the released image.
//!
//! Flavours `sim-intel` and `sim-amd` differ only in name (and so vendor), so cross-vendor
//! committee logic can run without hardware.

use crate::{Claims, Endorsements, Platform, PlatformDetails, SimEndorsements, Tcb, VerifyError};
use bytes::BufMut;
use commonware_codec::{Buf, Copying, DecodeExt, Encode, Error, FixedSize, Read, ReadExt, Write};
use ed25519_consensus::{Signature, SigningKey, VerificationKey};
use sha2::{Digest as _, Sha256};

/// The dev root key's private key is SHA-256 of this string. It is published on purpose.
pub const DEV_ROOT_SEED_DOMAIN: &[u8] = b"hyperchain-sim-dev-root-v1";
const CERT_DOMAIN: &[u8] = b"hyperchain-sim-platform-cert-v1";
const REPORT_DOMAIN: &[u8] = b"hyperchain-sim-report-v1";
const MEASUREMENT_DOMAIN: &[u8] = b"hyperchain-sim-measurement-v1";
const PLATFORM_KEY_DOMAIN: &[u8] = b"hyperchain-sim-platform-key-v1";

/// Which vendor a simulated platform pretends to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimFlavour {
    /// `sim-intel`.
    Intel,
    /// `sim-amd`.
    Amd,
}

impl SimFlavour {
    /// The platform this flavour verifies as.
    pub fn platform(self) -> Platform {
        match self {
            SimFlavour::Intel => Platform::SimIntel,
            SimFlavour::Amd => Platform::SimAmd,
        }
    }

    /// The flavour of a simulated platform (`None` for real ones).
    pub fn of(platform: Platform) -> Option<Self> {
        match platform {
            Platform::SimIntel => Some(SimFlavour::Intel),
            Platform::SimAmd => Some(SimFlavour::Amd),
            _ => None,
        }
    }

    fn tag(self) -> u8 {
        match self {
            SimFlavour::Intel => 0,
            SimFlavour::Amd => 1,
        }
    }
}

impl Write for SimFlavour {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
    }
}
impl FixedSize for SimFlavour {
    const SIZE: usize = 1;
}
impl Read for SimFlavour {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(SimFlavour::Intel),
            1 => Ok(SimFlavour::Amd),
            t => Err(Error::InvalidEnum(t)),
        }
    }
}

/// The measurement of a runtime image on the simulated platform:
/// `SHA-256("hyperchain-sim-measurement-v1" ‖ flavour name ‖ image)`, where the flavour name is
/// the ASCII `sim-intel` or `sim-amd`.
pub fn sim_measurement(flavour: SimFlavour, image: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(MEASUREMENT_DOMAIN);
    h.update(flavour.platform().as_str().as_bytes());
    h.update(image);
    h.finalize().into()
}

/// The dev root key (its private half is public: see the module docs).
pub fn dev_root_key() -> SigningKey {
    SigningKey::from(<[u8; 32]>::from(Sha256::digest(DEV_ROOT_SEED_DOMAIN)))
}

/// The dev root public key, the simulated platform's trust anchor.
pub fn dev_root_public_key() -> [u8; 32] {
    dev_root_key().verification_key().to_bytes()
}

/// A simulated platform certificate: the dev root vouches for a platform key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimCertificate {
    /// Vendor flavour.
    pub flavour: SimFlavour,
    /// Platform (chip) id.
    pub platform_id: [u8; 16],
    /// The platform's ed25519 public key.
    pub platform_key: [u8; 32],
    /// Dev root signature over the fields above, in the certificate domain.
    pub signature: [u8; 64],
}

impl SimCertificate {
    fn signed_message(&self) -> Vec<u8> {
        let mut m = CERT_DOMAIN.to_vec();
        self.flavour.write(&mut m);
        m.extend_from_slice(&self.platform_id);
        m.extend_from_slice(&self.platform_key);
        m
    }
}

impl Write for SimCertificate {
    fn write(&self, buf: &mut impl BufMut) {
        self.flavour.write(buf);
        self.platform_id.write(buf);
        self.platform_key.write(buf);
        self.signature.write(buf);
    }
}
impl FixedSize for SimCertificate {
    const SIZE: usize = 1 + 16 + 32 + 64;
}
impl Read for SimCertificate {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(SimCertificate {
            flavour: SimFlavour::read(buf)?,
            platform_id: <[u8; 16]>::read(buf)?,
            platform_key: <[u8; 32]>::read(buf)?,
            signature: <[u8; 64]>::read(buf)?,
        })
    }
}

/// A simulated attestation report (the evidence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimReport {
    /// Vendor flavour.
    pub flavour: SimFlavour,
    /// [`sim_measurement`] of the runtime image.
    pub measurement: [u8; 32],
    /// TCB SVNs (compared component-wise against the policy's minimum).
    pub tcb: [u16; 4],
    /// Debug mode.
    pub debug: bool,
    /// Bound data ([`crate::report_data`]).
    pub report_data: [u8; 64],
    /// Must equal the certificate's platform id.
    pub platform_id: [u8; 16],
    /// When the report was produced (unix seconds).
    pub timestamp: u64,
    /// Platform-key signature over the fields above, in the report domain.
    pub signature: [u8; 64],
}

impl SimReport {
    fn signed_message(&self) -> Vec<u8> {
        let mut m = REPORT_DOMAIN.to_vec();
        self.flavour.write(&mut m);
        m.extend_from_slice(&self.measurement);
        for s in self.tcb {
            s.write(&mut m);
        }
        self.debug.write(&mut m);
        m.extend_from_slice(&self.report_data);
        m.extend_from_slice(&self.platform_id);
        self.timestamp.write(&mut m);
        m
    }
}

impl Write for SimReport {
    fn write(&self, buf: &mut impl BufMut) {
        self.flavour.write(buf);
        self.measurement.write(buf);
        self.tcb.write(buf);
        self.debug.write(buf);
        self.report_data.write(buf);
        self.platform_id.write(buf);
        self.timestamp.write(buf);
        self.signature.write(buf);
    }
}
impl FixedSize for SimReport {
    const SIZE: usize = 1 + 32 + 8 + 1 + 64 + 16 + 8 + 64;
}
impl Read for SimReport {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(SimReport {
            flavour: SimFlavour::read(buf)?,
            measurement: <[u8; 32]>::read(buf)?,
            tcb: <[u16; 4]>::read(buf)?,
            debug: bool::read(buf)?,
            report_data: <[u8; 64]>::read(buf)?,
            platform_id: <[u8; 16]>::read(buf)?,
            timestamp: u64::read(buf)?,
            signature: <[u8; 64]>::read(buf)?,
        })
    }
}

/// A simulated TEE platform: its key, id and TCB.
#[derive(Clone, Debug)]
pub struct SimPlatform {
    /// Vendor flavour.
    pub flavour: SimFlavour,
    /// Platform id (put in the certificate and every report).
    pub platform_id: [u8; 16],
    /// TCB SVNs put in every report.
    pub tcb: [u16; 4],
    key: SigningKey,
}

impl SimPlatform {
    /// A platform whose key is derived from `seed` (so a devnet node keeps its platform across
    /// restarts): key = SHA-256("hyperchain-sim-platform-key-v1" ‖ seed), platform id = the
    /// first 16 bytes of SHA-256(public key). TCB `[1, 1, 1, 1]`.
    pub fn from_seed(flavour: SimFlavour, seed: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(PLATFORM_KEY_DOMAIN);
        h.update(seed);
        let key = SigningKey::from(<[u8; 32]>::from(h.finalize()));
        let digest = Sha256::digest(key.verification_key().to_bytes());
        let mut platform_id = [0u8; 16];
        platform_id.copy_from_slice(&digest[..16]);
        SimPlatform {
            flavour,
            platform_id,
            tcb: [1, 1, 1, 1],
            key,
        }
    }

    /// The platform certificate, signed by the dev root key.
    pub fn certificate(&self) -> SimCertificate {
        let mut cert = SimCertificate {
            flavour: self.flavour,
            platform_id: self.platform_id,
            platform_key: self.key.verification_key().to_bytes(),
            signature: [0; 64],
        };
        cert.signature = dev_root_key().sign(&cert.signed_message()).to_bytes();
        cert
    }

    /// A signed report for a runtime `image` binding `report_data` at `timestamp`.
    pub fn report(
        &self,
        image: &[u8],
        debug: bool,
        report_data: [u8; 64],
        timestamp: u64,
    ) -> SimReport {
        let mut report = SimReport {
            flavour: self.flavour,
            measurement: sim_measurement(self.flavour, image),
            tcb: self.tcb,
            debug,
            report_data,
            platform_id: self.platform_id,
            timestamp,
            signature: [0; 64],
        };
        report.signature = self.key.sign(&report.signed_message()).to_bytes();
        report
    }
}

/// Evidence and endorsements as a compute node submits them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvidence {
    /// The encoded [`SimReport`].
    pub evidence: Vec<u8>,
    /// The platform certificate.
    pub endorsements: Endorsements,
}

/// Produces simulated evidence (used by devnet compute nodes and tests).
pub fn generate_evidence(
    platform: &SimPlatform,
    image: &[u8],
    debug: bool,
    report_data: [u8; 64],
    timestamp: u64,
) -> SimEvidence {
    SimEvidence {
        evidence: platform
            .report(image, debug, report_data, timestamp)
            .encode()
            .to_vec(),
        endorsements: Endorsements::Sim(SimEndorsements {
            platform_certificate: platform.certificate().encode().to_vec(),
        }),
    }
}

pub(crate) fn verify(
    platform: Platform,
    evidence: &[u8],
    endorsements: &SimEndorsements,
) -> Result<Claims, VerifyError> {
    let report = SimReport::decode(Copying(evidence)).map_err(|e| VerifyError::Malformed {
        what: "simulated report",
        detail: e.to_string(),
    })?;
    let cert = SimCertificate::decode(Copying(endorsements.platform_certificate.as_slice()))
        .map_err(|e| VerifyError::Malformed {
            what: "simulated platform certificate",
            detail: e.to_string(),
        })?;
    let root = VerificationKey::try_from(dev_root_public_key())
        .map_err(|_| VerifyError::SimCertificateSignature)?;
    root.verify(&Signature::from(cert.signature), &cert.signed_message())
        .map_err(|_| VerifyError::SimCertificateSignature)?;
    if report.flavour.platform() != platform {
        return Err(VerifyError::WrongPlatform {
            expected: platform,
            found: format!("{} report", report.flavour.platform()),
        });
    }
    if cert.flavour != report.flavour {
        return Err(VerifyError::SimPlatformMismatch(
            "certificate flavour differs from the report's".into(),
        ));
    }
    if cert.platform_id != report.platform_id {
        return Err(VerifyError::SimPlatformMismatch(
            "certificate platform id differs from the report's".into(),
        ));
    }
    let key = VerificationKey::try_from(cert.platform_key)
        .map_err(|_| VerifyError::SimReportSignature)?;
    key.verify(&Signature::from(report.signature), &report.signed_message())
        .map_err(|_| VerifyError::SimReportSignature)?;

    Ok(Claims {
        platform,
        measurement: report.measurement.to_vec(),
        tcb: Tcb {
            svns: report.tcb.to_vec(),
            status: None,
        },
        advisories: Vec::new(),
        debug: report.debug,
        report_data: report.report_data,
        platform_id: report.platform_id.to_vec(),
        timestamp: Some(report.timestamp),
        details: PlatformDetails::Sim,
    })
}
