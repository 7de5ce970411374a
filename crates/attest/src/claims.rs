//! Claims: what a verifier established about the attester, one type for every platform.
//!
//! A verifier returns [`Claims`] only after every cryptographic check passed; whether the claims
//! are *acceptable* is the policy's business ([`crate::evaluate`]). Claims have a canonical
//! [`commonware_codec`] encoding so the chain can store them in node records.

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, RangeCfg, Read, ReadExt, ReadRangeExt, Write};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Decoding bounds for claims. Changing them is a protocol change.
pub mod claim_limits {
    /// Longest measurement (SNP and TDX measurements are 48 bytes).
    pub const MAX_MEASUREMENT: usize = 64;
    /// Most TCB components (TDX has 16 CPU SVNs, the PCE SVN and 16 TEE TCB SVNs).
    pub const MAX_TCB_COMPONENTS: usize = 64;
    /// Most advisory ids on one piece of evidence.
    pub const MAX_ADVISORIES: usize = 128;
    /// Longest advisory id (Intel's are like `INTEL-SA-00615`).
    pub const MAX_ADVISORY_LEN: usize = 64;
    /// Longest platform id (an SNP chip id is 64 bytes).
    pub const MAX_PLATFORM_ID: usize = 64;
}
use claim_limits::*;

/// The hardware vendor whose root of trust vouches for the evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vendor {
    /// Intel (SGX, TDX, and the `sim-intel` simulated flavour).
    Intel,
    /// AMD (SEV-SNP, and the `sim-amd` simulated flavour).
    Amd,
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vendor::Intel => "intel",
            Vendor::Amd => "amd",
        })
    }
}

/// The kind of evidence, which picks the verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// Intel SGX enclave, DCAP ECDSA quote (v3).
    Sgx,
    /// Intel TDX trust domain, DCAP ECDSA quote (v4/v5).
    Tdx,
    /// AMD SEV-SNP guest, attestation report signed by the VCEK.
    SevSnp,
    /// Simulated platform, Intel flavour (devnets only; anyone can forge it).
    SimIntel,
    /// Simulated platform, AMD flavour (devnets only; anyone can forge it).
    SimAmd,
}

impl Platform {
    /// Every platform, in encoding order.
    pub const ALL: [Platform; 5] = [
        Platform::Sgx,
        Platform::Tdx,
        Platform::SevSnp,
        Platform::SimIntel,
        Platform::SimAmd,
    ];

    /// The vendor whose root of trust signs this platform's evidence.
    pub fn vendor(self) -> Vendor {
        match self {
            Platform::Sgx | Platform::Tdx | Platform::SimIntel => Vendor::Intel,
            Platform::SevSnp | Platform::SimAmd => Vendor::Amd,
        }
    }

    /// Whether this is a simulated platform (no hardware behind it).
    pub fn is_simulated(self) -> bool {
        matches!(self, Platform::SimIntel | Platform::SimAmd)
    }

    /// The name used in policies, on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Sgx => "sgx",
            Platform::Tdx => "tdx",
            Platform::SevSnp => "sev-snp",
            Platform::SimIntel => "sim-intel",
            Platform::SimAmd => "sim-amd",
        }
    }

    /// The platform with encoding tag `tag`.
    pub fn from_tag(tag: u8) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.tag() == tag)
    }

    /// The platform's encoding tag (what registry transactions carry).
    pub fn tag(self) -> u8 {
        match self {
            Platform::Sgx => 0,
            Platform::Tdx => 1,
            Platform::SevSnp => 2,
            Platform::SimIntel => 3,
            Platform::SimAmd => 4,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unknown platform `{s}`: expected sgx, tdx, sev-snp, sim-intel or sim-amd")
            })
    }
}

impl Write for Platform {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
    }
}
impl EncodeSize for Platform {
    fn encode_size(&self) -> usize {
        1
    }
}
impl Read for Platform {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let t = u8::read(buf)?;
        Platform::from_tag(t).ok_or(Error::InvalidEnum(t))
    }
}

/// Intel's verdict on a DCAP platform's TCB (from the signed TCB info and QE identity).
///
/// `Revoked` never appears: revoked platforms fail verification outright.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DcapTcbStatus {
    /// Fully patched.
    UpToDate,
    /// Patched, but software mitigations are needed (see the advisories).
    #[serde(rename = "SWHardeningNeeded")]
    SwHardeningNeeded,
    /// Patched, but the platform configuration needs a change (see the advisories).
    ConfigurationNeeded,
    /// Both of the above.
    #[serde(rename = "ConfigurationAndSWHardeningNeeded")]
    ConfigurationAndSwHardeningNeeded,
    /// Microcode/firmware is behind Intel's latest TCB recovery.
    OutOfDate,
    /// Out of date and needs a configuration change.
    OutOfDateConfigurationNeeded,
    /// TDX 1.5: launched on an out-of-date TCB that has since been updated in place.
    #[serde(rename = "TDRelaunchAdvised")]
    TdRelaunchAdvised,
    /// As above, and a configuration change is needed.
    #[serde(rename = "TDRelaunchAdvisedConfigurationNeeded")]
    TdRelaunchAdvisedConfigurationNeeded,
}

impl DcapTcbStatus {
    /// Every status, in encoding order.
    pub const ALL: [DcapTcbStatus; 8] = [
        DcapTcbStatus::UpToDate,
        DcapTcbStatus::SwHardeningNeeded,
        DcapTcbStatus::ConfigurationNeeded,
        DcapTcbStatus::ConfigurationAndSwHardeningNeeded,
        DcapTcbStatus::OutOfDate,
        DcapTcbStatus::OutOfDateConfigurationNeeded,
        DcapTcbStatus::TdRelaunchAdvised,
        DcapTcbStatus::TdRelaunchAdvisedConfigurationNeeded,
    ];

    /// Intel's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            DcapTcbStatus::UpToDate => "UpToDate",
            DcapTcbStatus::SwHardeningNeeded => "SWHardeningNeeded",
            DcapTcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            DcapTcbStatus::ConfigurationAndSwHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            DcapTcbStatus::OutOfDate => "OutOfDate",
            DcapTcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            DcapTcbStatus::TdRelaunchAdvised => "TDRelaunchAdvised",
            DcapTcbStatus::TdRelaunchAdvisedConfigurationNeeded => {
                "TDRelaunchAdvisedConfigurationNeeded"
            }
        }
    }

    fn tag(self) -> u8 {
        DcapTcbStatus::ALL
            .iter()
            .position(|s| *s == self)
            .map_or(u8::MAX, |i| i as u8)
    }
}

impl fmt::Display for DcapTcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DcapTcbStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DcapTcbStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown DCAP TCB status `{s}`"))
    }
}

impl Write for DcapTcbStatus {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
    }
}
impl EncodeSize for DcapTcbStatus {
    fn encode_size(&self) -> usize {
        1
    }
}
impl Read for DcapTcbStatus {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let t = u8::read(buf)?;
        DcapTcbStatus::ALL
            .get(t as usize)
            .copied()
            .ok_or(Error::InvalidEnum(t))
    }
}

/// A platform's TCB (trusted computing base) version, comparable component by component.
///
/// Layout of `svns` per platform:
/// - `sgx`: `cpu_svn[0..16]`, then `pce_svn` (17 components);
/// - `tdx`: `cpu_svn[0..16]`, `pce_svn`, then `tee_tcb_svn[0..16]` (33 components);
/// - `sev-snp`: `bootloader, tee, snp, microcode` of the report's `reported_tcb` (4 components;
///   a Turin report appends `fmc`);
/// - `sim-*`: the four SVNs in the simulated report.
///
/// A TCB *meets* a minimum when both have the same number of components and every component is
/// at least the minimum's (a partial order, like Intel's TCB level matching).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Tcb {
    /// Security version numbers, in the platform's layout above.
    pub svns: Vec<u16>,
    /// Intel's TCB status (DCAP platforms only).
    pub status: Option<DcapTcbStatus>,
}

impl Tcb {
    /// Whether this TCB meets `min` (same layout, every component at least `min`'s). On failure,
    /// says which component fell short.
    pub fn meets(&self, min: &[u16]) -> Result<(), String> {
        if self.svns.len() != min.len() {
            return Err(format!(
                "TCB has {} components but the minimum has {}",
                self.svns.len(),
                min.len()
            ));
        }
        match self
            .svns
            .iter()
            .zip(min)
            .position(|(have, need)| have < need)
        {
            None => Ok(()),
            Some(i) => Err(format!(
                "TCB component {i} is {} below the minimum {}",
                self.svns[i], min[i]
            )),
        }
    }
}

/// Platform-specific claims beyond the common ones.
// One per `Claims`, never in bulk: boxing the TDX variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PlatformDetails {
    /// SGX enclave identity.
    Sgx {
        /// MRSIGNER: hash of the enclave signer's key.
        #[serde(serialize_with = "hex_ser")]
        mr_signer: [u8; 32],
        /// ISV product id.
        isv_prod_id: u16,
        /// ISV security version.
        isv_svn: u16,
        /// Enclave attributes (bit 1 of byte 0: debug).
        #[serde(serialize_with = "hex_ser")]
        attributes: [u8; 16],
        /// Intel's platform family id (from the PCK certificate).
        #[serde(serialize_with = "hex_ser")]
        fmspc: [u8; 6],
    },
    /// TDX trust-domain identity.
    Tdx {
        /// Measurement of the TDX module.
        #[serde(serialize_with = "hex_ser")]
        mr_seam: [u8; 48],
        /// TD attributes (bit 0: debug).
        #[serde(serialize_with = "hex_ser")]
        td_attributes: [u8; 8],
        /// Extended features allowed in the TD.
        #[serde(serialize_with = "hex_ser")]
        xfam: [u8; 8],
        /// Software-defined configuration id.
        #[serde(serialize_with = "hex_ser")]
        mr_config_id: [u8; 48],
        /// Software-defined owner id.
        #[serde(serialize_with = "hex_ser")]
        mr_owner: [u8; 48],
        /// Software-defined owner configuration.
        #[serde(serialize_with = "hex_ser")]
        mr_owner_config: [u8; 48],
        /// Runtime measurement registers 0..3.
        #[serde(serialize_with = "rtmr_ser")]
        rtmr: [[u8; 48]; 4],
        /// Intel's platform family id (from the PCK certificate).
        #[serde(serialize_with = "hex_ser")]
        fmspc: [u8; 6],
    },
    /// SEV-SNP guest identity.
    SevSnp {
        /// Report format version.
        version: u32,
        /// Guest SVN from the ID block.
        guest_svn: u32,
        /// Guest policy (bit 19: debug allowed).
        policy: u64,
        /// VMPL the report was requested from (0 = most privileged).
        vmpl: u32,
        /// Family id from the ID block.
        #[serde(serialize_with = "hex_ser")]
        family_id: [u8; 16],
        /// Image id from the ID block.
        #[serde(serialize_with = "hex_ser")]
        image_id: [u8; 16],
        /// Data the hypervisor supplied at launch.
        #[serde(serialize_with = "hex_ser")]
        host_data: [u8; 32],
        /// SHA-384 of the ID key (zero without an ID block).
        #[serde(serialize_with = "hex_ser")]
        id_key_digest: [u8; 48],
        /// SHA-384 of the author key (zero without one).
        #[serde(serialize_with = "hex_ser")]
        author_key_digest: [u8; 48],
    },
    /// Simulated platforms carry nothing more.
    Sim,
}

impl PlatformDetails {
    fn tag(&self) -> u8 {
        match self {
            PlatformDetails::Sgx { .. } => 0,
            PlatformDetails::Tdx { .. } => 1,
            PlatformDetails::SevSnp { .. } => 2,
            PlatformDetails::Sim => 3,
        }
    }

    fn fits(&self, platform: Platform) -> bool {
        matches!(
            (self, platform),
            (PlatformDetails::Sgx { .. }, Platform::Sgx)
                | (PlatformDetails::Tdx { .. }, Platform::Tdx)
                | (PlatformDetails::SevSnp { .. }, Platform::SevSnp)
                | (PlatformDetails::Sim, Platform::SimIntel | Platform::SimAmd)
        )
    }
}

/// What verified evidence says about the attester.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Claims {
    /// Which kind of evidence this was.
    pub platform: Platform,
    /// Code identity: MRENCLAVE (sgx, 32 bytes), MRTD (tdx, 48), launch measurement (sev-snp,
    /// 48), [`crate::sim::sim_measurement`] (sim, 32).
    #[serde(serialize_with = "hex_ser")]
    pub measurement: Vec<u8>,
    /// The platform's TCB version (and Intel's status for DCAP).
    pub tcb: Tcb,
    /// Security advisories that apply to this TCB (DCAP; empty elsewhere).
    pub advisories: Vec<String>,
    /// Whether the TEE runs in debug mode (its memory is then readable by the host).
    pub debug: bool,
    /// The 64 bytes the attester bound into the evidence (see [`crate::report_data`]).
    #[serde(serialize_with = "hex_ser")]
    pub report_data: [u8; 64],
    /// Hardware identity: PPID (sgx/tdx, from the PCK certificate), chip id (sev-snp),
    /// platform id (sim).
    #[serde(serialize_with = "hex_ser")]
    pub platform_id: Vec<u8>,
    /// When the evidence was produced (unix seconds), if the platform says so (sim only).
    pub timestamp: Option<u64>,
    /// Platform-specific claims.
    pub details: PlatformDetails,
}

impl Claims {
    /// The vendor whose root of trust vouches for these claims.
    pub fn vendor(&self) -> Vendor {
        self.platform.vendor()
    }

    /// The claims as pretty JSON (byte strings in hex), for operators.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(obj) = v.as_object_mut() {
            obj.insert("vendor".into(), self.vendor().to_string().into());
        }
        v
    }
}

fn hex_ser<S: Serializer, T: AsRef<[u8]>>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v.as_ref()))
}

fn rtmr_ser<S: Serializer>(v: &[[u8; 48]; 4], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(hex::encode))
}

// ---- canonical encoding ----

fn write_string(s: &str, buf: &mut impl BufMut) {
    s.as_bytes().write(buf);
}

fn string_size(s: &str) -> usize {
    s.as_bytes().encode_size()
}

pub(crate) fn read_string(
    buf: &mut impl Buf,
    max: usize,
    what: &'static str,
) -> Result<String, Error> {
    let raw = Vec::<u8>::read_range(buf, 0..=max)?;
    String::from_utf8(raw).map_err(|_| Error::Invalid(what, "not UTF-8"))
}

impl Write for Tcb {
    fn write(&self, buf: &mut impl BufMut) {
        self.svns.write(buf);
        self.status.write(buf);
    }
}
impl EncodeSize for Tcb {
    fn encode_size(&self) -> usize {
        self.svns.encode_size() + self.status.encode_size()
    }
}
impl Read for Tcb {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Tcb {
            svns: Vec::<u16>::read_cfg(buf, &(RangeCfg::new(0..=MAX_TCB_COMPONENTS), ()))?,
            status: Option::<DcapTcbStatus>::read(buf)?,
        })
    }
}

impl Write for PlatformDetails {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
        match self {
            PlatformDetails::Sgx {
                mr_signer,
                isv_prod_id,
                isv_svn,
                attributes,
                fmspc,
            } => {
                mr_signer.write(buf);
                isv_prod_id.write(buf);
                isv_svn.write(buf);
                attributes.write(buf);
                fmspc.write(buf);
            }
            PlatformDetails::Tdx {
                mr_seam,
                td_attributes,
                xfam,
                mr_config_id,
                mr_owner,
                mr_owner_config,
                rtmr,
                fmspc,
            } => {
                mr_seam.write(buf);
                td_attributes.write(buf);
                xfam.write(buf);
                mr_config_id.write(buf);
                mr_owner.write(buf);
                mr_owner_config.write(buf);
                for r in rtmr {
                    r.write(buf);
                }
                fmspc.write(buf);
            }
            PlatformDetails::SevSnp {
                version,
                guest_svn,
                policy,
                vmpl,
                family_id,
                image_id,
                host_data,
                id_key_digest,
                author_key_digest,
            } => {
                version.write(buf);
                guest_svn.write(buf);
                policy.write(buf);
                vmpl.write(buf);
                family_id.write(buf);
                image_id.write(buf);
                host_data.write(buf);
                id_key_digest.write(buf);
                author_key_digest.write(buf);
            }
            PlatformDetails::Sim => {}
        }
    }
}
impl EncodeSize for PlatformDetails {
    fn encode_size(&self) -> usize {
        1 + match self {
            PlatformDetails::Sgx { .. } => 32 + 2 + 2 + 16 + 6,
            PlatformDetails::Tdx { .. } => 48 + 8 + 8 + 48 * 3 + 48 * 4 + 6,
            PlatformDetails::SevSnp { .. } => 4 + 4 + 8 + 4 + 16 + 16 + 32 + 48 + 48,
            PlatformDetails::Sim => 0,
        }
    }
}
impl Read for PlatformDetails {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => PlatformDetails::Sgx {
                mr_signer: <[u8; 32]>::read(buf)?,
                isv_prod_id: u16::read(buf)?,
                isv_svn: u16::read(buf)?,
                attributes: <[u8; 16]>::read(buf)?,
                fmspc: <[u8; 6]>::read(buf)?,
            },
            1 => PlatformDetails::Tdx {
                mr_seam: <[u8; 48]>::read(buf)?,
                td_attributes: <[u8; 8]>::read(buf)?,
                xfam: <[u8; 8]>::read(buf)?,
                mr_config_id: <[u8; 48]>::read(buf)?,
                mr_owner: <[u8; 48]>::read(buf)?,
                mr_owner_config: <[u8; 48]>::read(buf)?,
                rtmr: [
                    <[u8; 48]>::read(buf)?,
                    <[u8; 48]>::read(buf)?,
                    <[u8; 48]>::read(buf)?,
                    <[u8; 48]>::read(buf)?,
                ],
                fmspc: <[u8; 6]>::read(buf)?,
            },
            2 => PlatformDetails::SevSnp {
                version: u32::read(buf)?,
                guest_svn: u32::read(buf)?,
                policy: u64::read(buf)?,
                vmpl: u32::read(buf)?,
                family_id: <[u8; 16]>::read(buf)?,
                image_id: <[u8; 16]>::read(buf)?,
                host_data: <[u8; 32]>::read(buf)?,
                id_key_digest: <[u8; 48]>::read(buf)?,
                author_key_digest: <[u8; 48]>::read(buf)?,
            },
            3 => PlatformDetails::Sim,
            t => return Err(Error::InvalidEnum(t)),
        })
    }
}

impl Write for Claims {
    fn write(&self, buf: &mut impl BufMut) {
        self.platform.write(buf);
        self.measurement.write(buf);
        self.tcb.write(buf);
        (self.advisories.len() as u32).write(buf);
        for a in &self.advisories {
            write_string(a, buf);
        }
        self.debug.write(buf);
        self.report_data.write(buf);
        self.platform_id.write(buf);
        self.timestamp.write(buf);
        self.details.write(buf);
    }
}
impl EncodeSize for Claims {
    fn encode_size(&self) -> usize {
        self.platform.encode_size()
            + self.measurement.encode_size()
            + self.tcb.encode_size()
            + 4
            + self
                .advisories
                .iter()
                .map(|a| string_size(a))
                .sum::<usize>()
            + self.debug.encode_size()
            + self.report_data.encode_size()
            + self.platform_id.encode_size()
            + self.timestamp.encode_size()
            + self.details.encode_size()
    }
}
impl Read for Claims {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let platform = Platform::read(buf)?;
        let measurement = Vec::<u8>::read_range(buf, 0..=MAX_MEASUREMENT)?;
        let tcb = Tcb::read(buf)?;
        let n = u32::read(buf)? as usize;
        if n > MAX_ADVISORIES {
            return Err(Error::Invalid("Claims", "too many advisories"));
        }
        let advisories = (0..n)
            .map(|_| read_string(buf, MAX_ADVISORY_LEN, "advisory"))
            .collect::<Result<_, _>>()?;
        let debug = bool::read(buf)?;
        let report_data = <[u8; 64]>::read(buf)?;
        let platform_id = Vec::<u8>::read_range(buf, 0..=MAX_PLATFORM_ID)?;
        let timestamp = Option::<u64>::read(buf)?;
        let details = PlatformDetails::read(buf)?;
        if !details.fits(platform) {
            return Err(Error::Invalid(
                "Claims",
                "details do not match the platform",
            ));
        }
        Ok(Claims {
            platform,
            measurement,
            tcb,
            advisories,
            debug,
            report_data,
            platform_id,
            timestamp,
            details,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn snp_claims() -> Claims {
        Claims {
            platform: Platform::SevSnp,
            measurement: vec![7; 48],
            tcb: Tcb {
                svns: vec![3, 0, 8, 115],
                status: None,
            },
            advisories: vec!["X-1".into()],
            debug: false,
            report_data: [9; 64],
            platform_id: vec![1; 64],
            timestamp: Some(5),
            details: PlatformDetails::SevSnp {
                version: 2,
                guest_svn: 0,
                policy: 0x30000,
                vmpl: 0,
                family_id: [0; 16],
                image_id: [0; 16],
                host_data: [0; 32],
                id_key_digest: [0; 48],
                author_key_digest: [0; 48],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::snp_claims as sample;
    use super::*;
    use commonware_codec::{DecodeExt, Encode};
    use proptest::prelude::*;

    #[test]
    fn claims_round_trip() {
        let c = sample();
        let enc = c.encode();
        assert_eq!(enc.len(), c.encode_size());
        assert_eq!(Claims::decode(enc).unwrap(), c);
    }

    #[test]
    fn details_must_fit_platform() {
        let mut c = sample();
        c.platform = Platform::Sgx;
        assert!(Claims::decode(c.encode()).is_err());
    }

    #[test]
    fn tcb_meets_is_componentwise() {
        let t = Tcb {
            svns: vec![3, 0, 8, 115],
            status: None,
        };
        assert!(t.meets(&[3, 0, 8, 115]).is_ok());
        assert!(t.meets(&[2, 0, 0, 0]).is_ok());
        assert!(t.meets(&[3, 1, 0, 0]).unwrap_err().contains("component 1"));
        assert!(t.meets(&[3, 0, 8]).is_err());
    }

    #[test]
    fn names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
        }
        for s in DcapTcbStatus::ALL {
            assert_eq!(s.as_str().parse::<DcapTcbStatus>().unwrap(), s);
            let j = serde_json::to_string(&s).unwrap();
            assert_eq!(j, format!("\"{}\"", s.as_str()));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Claims::decode(commonware_codec::Copying(bytes.as_slice()));
        }
    }
}
