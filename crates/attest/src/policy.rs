//! Reference values ([`AttestationPolicy`]) and their evaluation against claims.
//!
//! [`evaluate`] is a pure function of the policy, the claims, the expected report data and the
//! time: every validator gets the same answer. [`policy_checks`] runs every check and reports
//! each one, for operators.

use crate::claims::{claim_limits::MAX_MEASUREMENT, read_string};
use crate::{Claims, DcapTcbStatus, Platform, PlatformDetails};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, RangeCfg, Read, ReadExt, Write};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};

/// Decoding bounds for policies. Changing them is a protocol change.
pub mod policy_limits {
    /// Most accepted measurements per platform.
    pub const MAX_MEASUREMENTS: usize = 256;
    /// Most allowed advisory ids.
    pub const MAX_ALLOWED_ADVISORIES: usize = 256;
    /// Most TCB shapes (component counts) one platform's minimum covers.
    pub const MAX_TCB_SHAPES: usize = 8;
    /// Most accepted sets of TDX registers.
    pub const MAX_TDX_REGISTER_SETS: usize = 16;
    /// Longest grace a policy change gives current members it rejects: 30 days.
    pub const MAX_RECOVERY_GRACE_SECS: u64 = 30 * 24 * 3600;
}
use policy_limits::*;

/// How far in the future an evidence timestamp may be (clock skew between the attester and the
/// block proposer), in seconds.
pub const MAX_FUTURE_SKEW_SECS: u64 = 60;

/// A platform's minimum TCB, one per TCB **shape** (number of components): one platform's TCBs
/// need not share a layout (SEV-SNP on Milan and Genoa has 4 components, on Turin 5, with an
/// FMC component first), and comparing components of different layouts would compare
/// unrelated numbers. A TCB meets the minimum of its own shape; a TCB of a shape with no
/// minimum does not meet it (a policy that sets minimums names every shape it accepts).
///
/// In JSON, a list of minimums (`[[3,0,8,115],[1,3,0,8,115]]`), or one (`[3,0,8,115]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcbMinimums(Vec<Vec<u16>>);

impl TcbMinimums {
    /// Minimums of distinct shapes, at most [`MAX_TCB_SHAPES`] of at most
    /// `MAX_TCB_COMPONENTS` components.
    pub fn new(minimums: Vec<Vec<u16>>) -> Result<TcbMinimums, String> {
        if minimums.len() > MAX_TCB_SHAPES {
            return Err(format!("more than {MAX_TCB_SHAPES} TCB shapes"));
        }
        let mut lengths = BTreeSet::new();
        for min in &minimums {
            if min.is_empty() || min.len() > crate::claims::claim_limits::MAX_TCB_COMPONENTS {
                return Err(format!("a minimum TCB has {} components", min.len()));
            }
            if !lengths.insert(min.len()) {
                return Err(format!(
                    "two minimum TCBs of {} components (one per shape)",
                    min.len()
                ));
            }
        }
        Ok(TcbMinimums(minimums))
    }

    /// One minimum (a single shape).
    pub fn single(min: Vec<u16>) -> TcbMinimums {
        TcbMinimums(vec![min])
    }

    /// The minimums, one per shape.
    pub fn minimums(&self) -> &[Vec<u16>] {
        &self.0
    }

    /// The minimum of `n` components, if any.
    pub fn for_shape(&self, n: usize) -> Option<&[u16]> {
        self.0.iter().find(|m| m.len() == n).map(Vec::as_slice)
    }

    /// Whether `tcb` meets the minimum of its shape; on failure, says why.
    pub fn check(&self, tcb: &crate::Tcb) -> Result<(), String> {
        match self.for_shape(tcb.svns.len()) {
            Some(min) => tcb.meets(min),
            None => Err(format!(
                "no minimum for a TCB of {} components (the policy sets minimums of {:?} \
                 components)",
                tcb.svns.len(),
                self.0.iter().map(Vec::len).collect::<Vec<_>>()
            )),
        }
    }
}

impl Serialize for TcbMinimums {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TcbMinimums {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(Vec<u16>),
            Many(Vec<Vec<u16>>),
        }
        let minimums = match Form::deserialize(d)? {
            Form::One(min) => vec![min],
            Form::Many(minimums) => minimums,
        };
        TcbMinimums::new(minimums).map_err(serde::de::Error::custom)
    }
}

impl Write for TcbMinimums {
    fn write(&self, buf: &mut impl BufMut) {
        (self.0.len() as u8).write(buf);
        for min in &self.0 {
            (min.len() as u8).write(buf);
            for c in min {
                c.write(buf);
            }
        }
    }
}

impl EncodeSize for TcbMinimums {
    fn encode_size(&self) -> usize {
        1 + self.0.iter().map(|m| 1 + 2 * m.len()).sum::<usize>()
    }
}

impl Read for TcbMinimums {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let n = u8::read(buf)? as usize;
        if n > MAX_TCB_SHAPES {
            return Err(Error::Invalid("TcbMinimums", "too many shapes"));
        }
        let mut minimums = Vec::with_capacity(n);
        for _ in 0..n {
            let k = u8::read(buf)? as usize;
            minimums.push((0..k).map(|_| u16::read(buf)).collect::<Result<_, _>>()?);
        }
        TcbMinimums::new(minimums).map_err(|_| Error::Invalid("TcbMinimums", "malformed"))
    }
}

/// One accepted set of a TDX trust domain's registers beyond MRTD (the `measurement`): its
/// run-time measurement registers, MRCONFIGID and MROWNER. A register left out (`null`) is
/// not pinned. A policy lists one set per accepted VM configuration: RTMR0 measures the
/// virtual firmware's configuration, which varies with the VM's shape (memory size, CPU
/// count), RTMR1 the kernel and RTMR2 its command line and initrd, so a release pins those per
/// shape; RTMR3 is extended at run time by the guest itself and is normally left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TdxRegisters {
    /// RTMR0 (virtual firmware configuration).
    pub rtmr0: Option<Measurement>,
    /// RTMR1 (kernel).
    pub rtmr1: Option<Measurement>,
    /// RTMR2 (kernel command line, initrd).
    pub rtmr2: Option<Measurement>,
    /// RTMR3 (extended at run time).
    pub rtmr3: Option<Measurement>,
    /// MRCONFIGID (software-defined configuration id).
    pub mr_config_id: Option<Measurement>,
    /// MROWNER (software-defined owner id).
    pub mr_owner: Option<Measurement>,
}

impl TdxRegisters {
    fn pinned(&self) -> [(&'static str, &Option<Measurement>); 6] {
        [
            ("RTMR0", &self.rtmr0),
            ("RTMR1", &self.rtmr1),
            ("RTMR2", &self.rtmr2),
            ("RTMR3", &self.rtmr3),
            ("MRCONFIGID", &self.mr_config_id),
            ("MROWNER", &self.mr_owner),
        ]
    }

    /// Whether the quote's registers match every register this set pins; on failure, the
    /// first that differs.
    pub fn check(
        &self,
        rtmr: &[[u8; 48]; 4],
        mr_config_id: &[u8; 48],
        mr_owner: &[u8; 48],
    ) -> Result<(), &'static str> {
        let have: [&[u8]; 6] = [
            &rtmr[0],
            &rtmr[1],
            &rtmr[2],
            &rtmr[3],
            mr_config_id,
            mr_owner,
        ];
        for ((name, want), have) in self.pinned().into_iter().zip(have) {
            if want.as_ref().is_some_and(|w| w.0 != have) {
                return Err(name);
            }
        }
        Ok(())
    }
}

impl Write for TdxRegisters {
    fn write(&self, buf: &mut impl BufMut) {
        for (_, m) in self.pinned() {
            match m {
                None => 0u8.write(buf),
                Some(m) => {
                    1u8.write(buf);
                    m.0.write(buf);
                }
            }
        }
    }
}

impl EncodeSize for TdxRegisters {
    fn encode_size(&self) -> usize {
        self.pinned()
            .iter()
            .map(|(_, m)| 1 + m.as_ref().map_or(0, |m| m.0.encode_size()))
            .sum()
    }
}

impl Read for TdxRegisters {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let mut read = || -> Result<Option<Measurement>, Error> {
            match u8::read(buf)? {
                0 => Ok(None),
                1 => Ok(Some(Measurement(Vec::<u8>::read_cfg(
                    buf,
                    &(RangeCfg::new(1..=MAX_MEASUREMENT), ()),
                )?))),
                t => Err(Error::InvalidEnum(t)),
            }
        };
        Ok(TdxRegisters {
            rtmr0: read()?,
            rtmr1: read()?,
            rtmr2: read()?,
            rtmr3: read()?,
            mr_config_id: read()?,
            mr_owner: read()?,
        })
    }
}

/// A measurement (hex in JSON).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Measurement(pub Vec<u8>);

impl Serialize for Measurement {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Measurement {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bytes =
            hex::decode(s.strip_prefix("0x").unwrap_or(&s)).map_err(serde::de::Error::custom)?;
        if bytes.is_empty() || bytes.len() > MAX_MEASUREMENT {
            return Err(serde::de::Error::custom(format!(
                "a measurement is 1..={MAX_MEASUREMENT} bytes"
            )));
        }
        Ok(Measurement(bytes))
    }
}

/// The reference values a chain accepts evidence against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttestationPolicy {
    /// Accepted measurements per platform. A platform with no entry (or an empty list) is not
    /// accepted at all.
    pub measurements: BTreeMap<Platform, Vec<Measurement>>,
    /// Minimum TCB per platform, one per TCB shape ([`TcbMinimums`]), in the layout of
    /// [`crate::Tcb`]. No entry: no minimum.
    pub min_tcb: BTreeMap<Platform, TcbMinimums>,
    /// Accepted sets of TDX registers beyond MRTD ([`TdxRegisters`]); a TDX quote must match
    /// one. A policy that accepts TDX measurements must list at least one set.
    pub tdx_registers: Vec<TdxRegisters>,
    /// DCAP TCB statuses accepted (default: `UpToDate` only).
    pub allowed_tcb_statuses: BTreeSet<DcapTcbStatus>,
    /// Advisory ids accepted; evidence with any other advisory is rejected (default: none).
    pub allowed_advisories: BTreeSet<String>,
    /// Accept debug-mode TEEs (default false: the host can read a debug TEE's memory).
    pub allow_debug: bool,
    /// Highest SEV-SNP VMPL accepted (default 0, the most privileged level).
    pub max_vmpl: u32,
    /// Oldest evidence accepted, for platforms whose evidence has a timestamp (seconds).
    pub max_evidence_age_secs: u64,
    /// How long a registration (attestation token) is valid (seconds).
    pub token_validity_secs: u64,
    /// How often nodes re-attest (seconds); less than `token_validity_secs`.
    pub reattestation_interval_secs: u64,
    /// Accept the simulated platforms. **Devnets only**: anyone can forge simulated evidence.
    pub allow_simulated: bool,
    /// When this policy takes effect, current members whose recorded evidence it rejects keep
    /// their membership this long (seconds) at most, to re-attest with evidence it accepts
    /// (e.g. after a TCB recovery: update the firmware, then re-attest). Default three days;
    /// at most [`policy_limits::MAX_RECOVERY_GRACE_SECS`].
    pub recovery_grace_secs: u64,
}

impl Default for AttestationPolicy {
    fn default() -> Self {
        AttestationPolicy {
            measurements: BTreeMap::new(),
            min_tcb: BTreeMap::new(),
            tdx_registers: Vec::new(),
            allowed_tcb_statuses: [DcapTcbStatus::UpToDate].into_iter().collect(),
            allowed_advisories: BTreeSet::new(),
            allow_debug: false,
            max_vmpl: 0,
            max_evidence_age_secs: 600,
            token_validity_secs: 24 * 3600,
            reattestation_interval_secs: 12 * 3600,
            allow_simulated: false,
            recovery_grace_secs: 3 * 24 * 3600,
        }
    }
}

impl AttestationPolicy {
    /// Parses a policy from JSON and checks it is coherent.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let p: AttestationPolicy = serde_json::from_str(json).map_err(|e| e.to_string())?;
        p.validate()?;
        Ok(p)
    }

    /// Checks the policy is coherent and within the encoding bounds.
    pub fn validate(&self) -> Result<(), String> {
        if self.recovery_grace_secs > policy_limits::MAX_RECOVERY_GRACE_SECS {
            return Err(format!(
                "recovery_grace_secs is at most {} (30 days)",
                policy_limits::MAX_RECOVERY_GRACE_SECS
            ));
        }
        if self.token_validity_secs == 0 {
            return Err("token_validity_secs must be positive".into());
        }
        if self.reattestation_interval_secs == 0
            || self.reattestation_interval_secs >= self.token_validity_secs
        {
            return Err(
                "reattestation_interval_secs must be positive and less than token_validity_secs"
                    .into(),
            );
        }
        for (p, ms) in &self.measurements {
            if ms.len() > MAX_MEASUREMENTS {
                return Err(format!("more than {MAX_MEASUREMENTS} measurements for {p}"));
            }
            if ms
                .iter()
                .any(|m| m.0.is_empty() || m.0.len() > MAX_MEASUREMENT)
            {
                return Err(format!("a measurement for {p} is empty or too long"));
            }
        }
        if self.tdx_registers.len() > MAX_TDX_REGISTER_SETS {
            return Err(format!(
                "more than {MAX_TDX_REGISTER_SETS} sets of TDX registers"
            ));
        }
        if self
            .tdx_registers
            .iter()
            .any(|set| set.pinned().iter().all(|(_, m)| m.is_none()))
        {
            return Err("a set of TDX registers pins none of them".into());
        }
        if self
            .measurements
            .get(&Platform::Tdx)
            .is_some_and(|m| !m.is_empty())
            && self.tdx_registers.is_empty()
        {
            return Err(
                "a policy accepting TDX measurements must pin its registers: list at least one \
                 set in tdx_registers (RTMR0-2, MRCONFIGID, MROWNER)"
                    .into(),
            );
        }
        for (platform, minimums) in &self.min_tcb {
            TcbMinimums::new(minimums.0.clone())
                .map_err(|e| format!("min_tcb of {platform}: {e}"))?;
        }
        if self.allowed_advisories.len() > MAX_ALLOWED_ADVISORIES
            || self
                .allowed_advisories
                .iter()
                .any(|a| a.len() > crate::claims::claim_limits::MAX_ADVISORY_LEN)
        {
            return Err("too many or too long allowed advisories".into());
        }
        Ok(())
    }

    /// The policy as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Evidence was verified but the policy does not accept it. [`PolicyError::check`] names the
/// failed check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Simulated evidence, and the policy does not allow it.
    #[error(
        "{0} evidence is simulated (anyone can forge it) and the policy does not allow simulated platforms"
    )]
    SimulatedNotAllowed(Platform),
    /// The policy lists no measurement for the platform.
    #[error("the policy accepts no measurement for {0}")]
    PlatformNotAllowed(Platform),
    /// The measurement is not among the accepted ones.
    #[error("measurement {measurement} is not accepted for {platform}")]
    MeasurementNotAllowed {
        /// The platform.
        platform: Platform,
        /// The measurement (hex).
        measurement: String,
    },
    /// The TCB is below the policy's minimum.
    #[error("TCB below the minimum for {platform}: {detail}")]
    TcbBelowMinimum {
        /// The platform.
        platform: Platform,
        /// Which component fell short.
        detail: String,
    },
    /// The DCAP TCB status is not allowed.
    #[error("DCAP TCB status {0} is not allowed")]
    TcbStatusNotAllowed(DcapTcbStatus),
    /// DCAP claims without a TCB status (cannot come from the verifier).
    #[error("DCAP claims carry no TCB status")]
    MissingTcbStatus,
    /// An advisory applies that the policy does not allow.
    #[error("advisory {0} is not allowed")]
    AdvisoryNotAllowed(String),
    /// The TEE runs in debug mode.
    #[error("the TEE runs in debug mode")]
    DebugNotAllowed,
    /// The TDX quote's registers match none of the accepted sets.
    #[error("TDX registers match none of the policy's {sets} accepted set(s): {detail}")]
    TdxRegistersNotAllowed {
        /// How many sets the policy accepts.
        sets: usize,
        /// Which register differed from each set.
        detail: String,
    },
    /// The SEV-SNP report came from a less privileged VMPL than allowed.
    #[error("VMPL {vmpl} is above the maximum {max}")]
    VmplTooHigh {
        /// The report's VMPL.
        vmpl: u32,
        /// The policy's maximum.
        max: u32,
    },
    /// The report data is not the expected binding.
    #[error("report data {found} differs from the expected {expected}")]
    ReportDataMismatch {
        /// Expected (hex).
        expected: String,
        /// Found (hex).
        found: String,
    },
    /// The evidence is older than allowed.
    #[error("evidence is {age} s old, more than the {max} s allowed")]
    EvidenceTooOld {
        /// Age in seconds.
        age: u64,
        /// Maximum in seconds.
        max: u64,
    },
    /// The evidence is dated in the future.
    #[error("evidence timestamp {timestamp} is after now {now} (+{MAX_FUTURE_SKEW_SECS} s skew)")]
    EvidenceFromFuture {
        /// The evidence timestamp.
        timestamp: u64,
        /// The evaluation time.
        now: u64,
    },
}

impl PolicyError {
    /// The name of the failed check, as in [`POLICY_CHECKS`].
    pub fn check(&self) -> &'static str {
        use PolicyError::*;
        match self {
            SimulatedNotAllowed(_) => "simulated",
            PlatformNotAllowed(_) | MeasurementNotAllowed { .. } => "measurement",
            TcbBelowMinimum { .. } => "min-tcb",
            TcbStatusNotAllowed(_) | MissingTcbStatus => "tcb-status",
            AdvisoryNotAllowed(_) => "advisories",
            DebugNotAllowed => "debug",
            VmplTooHigh { .. } => "vmpl",
            TdxRegistersNotAllowed { .. } => "tdx-registers",
            ReportDataMismatch { .. } => "report-data",
            EvidenceTooOld { .. } | EvidenceFromFuture { .. } => "evidence-age",
        }
    }
}

/// The policy checks, in evaluation order.
pub const POLICY_CHECKS: [&str; 10] = [
    "simulated",
    "measurement",
    "min-tcb",
    "tcb-status",
    "advisories",
    "debug",
    "vmpl",
    "tdx-registers",
    "report-data",
    "evidence-age",
];

/// The outcome of one policy check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyCheck {
    /// Passed, with what was established.
    Passed(String),
    /// Does not apply to these claims (or no expected value was given), with why.
    NotApplicable(String),
    /// Failed.
    Failed(PolicyError),
}

/// Runs every policy check on `claims`, in [`POLICY_CHECKS`] order. `expected_report_data`
/// `None` skips the report-data check (for inspecting evidence; the chain always passes it).
pub fn policy_checks(
    policy: &AttestationPolicy,
    claims: &Claims,
    expected_report_data: Option<&[u8; 64]>,
    now: u64,
) -> Vec<(&'static str, PolicyCheck)> {
    use PolicyCheck::*;
    let platform = claims.platform;
    let mut out = Vec::with_capacity(POLICY_CHECKS.len());

    out.push((
        "simulated",
        if !platform.is_simulated() {
            Passed(format!("{platform} is hardware-backed"))
        } else if policy.allow_simulated {
            Passed("simulated platform allowed by the policy (devnet)".into())
        } else {
            Failed(PolicyError::SimulatedNotAllowed(platform))
        },
    ));

    let m = hex::encode(&claims.measurement);
    out.push((
        "measurement",
        match policy.measurements.get(&platform) {
            None => Failed(PolicyError::PlatformNotAllowed(platform)),
            Some(list) if list.is_empty() => Failed(PolicyError::PlatformNotAllowed(platform)),
            Some(list) if list.iter().any(|x| x.0 == claims.measurement) => {
                Passed(format!("{m} is accepted"))
            }
            Some(_) => Failed(PolicyError::MeasurementNotAllowed {
                platform,
                measurement: m,
            }),
        },
    ));

    out.push((
        "min-tcb",
        match policy.min_tcb.get(&platform) {
            None => NotApplicable(format!("no minimum TCB for {platform}")),
            Some(min) => match min.check(&claims.tcb) {
                Ok(()) => Passed(format!(
                    "{:?} meets {:?}",
                    claims.tcb.svns,
                    min.for_shape(claims.tcb.svns.len()).unwrap_or_default()
                )),
                Err(detail) => Failed(PolicyError::TcbBelowMinimum { platform, detail }),
            },
        },
    ));

    out.push((
        "tcb-status",
        if matches!(platform, Platform::Sgx | Platform::Tdx) {
            match claims.tcb.status {
                None => Failed(PolicyError::MissingTcbStatus),
                Some(s) if policy.allowed_tcb_statuses.contains(&s) => {
                    Passed(format!("{s} is allowed"))
                }
                Some(s) => Failed(PolicyError::TcbStatusNotAllowed(s)),
            }
        } else {
            NotApplicable(format!("{platform} has no DCAP TCB status"))
        },
    ));

    out.push((
        "advisories",
        match claims
            .advisories
            .iter()
            .find(|a| !policy.allowed_advisories.contains(*a))
        {
            Some(a) => Failed(PolicyError::AdvisoryNotAllowed(a.clone())),
            None if claims.advisories.is_empty() => Passed("none apply".into()),
            None => Passed(format!("all allowed: {}", claims.advisories.join(", "))),
        },
    ));

    out.push((
        "debug",
        if !claims.debug {
            Passed("not in debug mode".into())
        } else if policy.allow_debug {
            Passed("debug mode, allowed by the policy".into())
        } else {
            Failed(PolicyError::DebugNotAllowed)
        },
    ));

    out.push((
        "vmpl",
        match claims.details {
            PlatformDetails::SevSnp { vmpl, .. } if vmpl > policy.max_vmpl => {
                Failed(PolicyError::VmplTooHigh {
                    vmpl,
                    max: policy.max_vmpl,
                })
            }
            PlatformDetails::SevSnp { vmpl, .. } => Passed(format!("VMPL {vmpl}")),
            _ => NotApplicable(format!("{platform} has no VMPL")),
        },
    ));

    out.push((
        "tdx-registers",
        match &claims.details {
            PlatformDetails::Tdx {
                rtmr,
                mr_config_id,
                mr_owner,
                ..
            } => {
                let misses: Vec<String> = policy
                    .tdx_registers
                    .iter()
                    .enumerate()
                    .filter_map(|(i, set)| {
                        set.check(rtmr, mr_config_id, mr_owner)
                            .err()
                            .map(|name| format!("set {i}: {name} differs"))
                    })
                    .collect();
                if misses.len() < policy.tdx_registers.len() {
                    Passed("the registers match an accepted set".into())
                } else {
                    Failed(PolicyError::TdxRegistersNotAllowed {
                        sets: policy.tdx_registers.len(),
                        detail: if misses.is_empty() {
                            "the policy accepts none".into()
                        } else {
                            misses.join("; ")
                        },
                    })
                }
            }
            _ => NotApplicable(format!("{platform} is not TDX")),
        },
    ));

    out.push((
        "report-data",
        match expected_report_data {
            None => NotApplicable("no expected report data given".into()),
            Some(e) if *e == claims.report_data => Passed("matches the expected binding".into()),
            Some(e) => Failed(PolicyError::ReportDataMismatch {
                expected: hex::encode(e),
                found: hex::encode(claims.report_data),
            }),
        },
    ));

    out.push((
        "evidence-age",
        match claims.timestamp {
            None => NotApplicable(format!(
                "{platform} evidence has no timestamp (freshness comes from the report data)"
            )),
            Some(ts) if ts > now.saturating_add(MAX_FUTURE_SKEW_SECS) => {
                Failed(PolicyError::EvidenceFromFuture { timestamp: ts, now })
            }
            Some(ts) => {
                let age = now.saturating_sub(ts);
                if age > policy.max_evidence_age_secs {
                    Failed(PolicyError::EvidenceTooOld {
                        age,
                        max: policy.max_evidence_age_secs,
                    })
                } else {
                    Passed(format!("{age} s old"))
                }
            }
        },
    ));
    out
}

/// Whether `policy` still accepts a member's recorded `claims` — the claims of evidence the
/// chain accepted earlier — judged on every claim but the evidence's binding and age (which
/// were checked when it was accepted): what a policy change does to current members.
pub fn evaluate_standing(policy: &AttestationPolicy, claims: &Claims) -> Result<(), PolicyError> {
    let fresh = Claims {
        timestamp: None,
        ..claims.clone()
    };
    for (name, c) in policy_checks(policy, &fresh, None, 0) {
        if let PolicyCheck::Failed(e) = c
            && name != "report-data"
            && name != "evidence-age"
        {
            return Err(e);
        }
    }
    Ok(())
}

/// Whether `policy` accepts `claims` bound to `expected_report_data` at time `now` (unix
/// seconds). The first failed check, in [`POLICY_CHECKS`] order, is the error.
pub fn evaluate(
    policy: &AttestationPolicy,
    claims: &Claims,
    expected_report_data: &[u8; 64],
    now: u64,
) -> Result<(), PolicyError> {
    for (_, c) in policy_checks(policy, claims, Some(expected_report_data), now) {
        if let PolicyCheck::Failed(e) = c {
            return Err(e);
        }
    }
    Ok(())
}

// ---- canonical encoding ----

impl Write for AttestationPolicy {
    fn write(&self, buf: &mut impl BufMut) {
        (self.measurements.len() as u32).write(buf);
        for (p, ms) in &self.measurements {
            p.write(buf);
            (ms.len() as u32).write(buf);
            for m in ms {
                m.0.write(buf);
            }
        }
        self.min_tcb.write(buf);
        self.tdx_registers.write(buf);
        self.allowed_tcb_statuses.write(buf);
        (self.allowed_advisories.len() as u32).write(buf);
        for a in &self.allowed_advisories {
            a.as_bytes().write(buf);
        }
        self.allow_debug.write(buf);
        self.max_vmpl.write(buf);
        self.max_evidence_age_secs.write(buf);
        self.token_validity_secs.write(buf);
        self.reattestation_interval_secs.write(buf);
        self.allow_simulated.write(buf);
        self.recovery_grace_secs.write(buf);
    }
}

impl EncodeSize for AttestationPolicy {
    fn encode_size(&self) -> usize {
        4 + self
            .measurements
            .values()
            .map(|ms| 1 + 4 + ms.iter().map(|m| m.0.encode_size()).sum::<usize>())
            .sum::<usize>()
            + self.min_tcb.encode_size()
            + self.tdx_registers.encode_size()
            + self.allowed_tcb_statuses.encode_size()
            + 4
            + self
                .allowed_advisories
                .iter()
                .map(|a| a.as_bytes().encode_size())
                .sum::<usize>()
            + 1
            + 4
            + 8 * 3
            + 1
            + 8
    }
}

impl Read for AttestationPolicy {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        use crate::claims::claim_limits::MAX_ADVISORY_LEN;
        let n = u32::read(buf)? as usize;
        if n > Platform::ALL.len() {
            return Err(Error::Invalid("AttestationPolicy", "too many platforms"));
        }
        let mut measurements = BTreeMap::new();
        let mut last: Option<Platform> = None;
        for _ in 0..n {
            let p = Platform::read(buf)?;
            if last.is_some_and(|l| l >= p) {
                return Err(Error::Invalid(
                    "AttestationPolicy",
                    "platforms not ascending",
                ));
            }
            last = Some(p);
            let k = u32::read(buf)? as usize;
            if k > MAX_MEASUREMENTS {
                return Err(Error::Invalid("AttestationPolicy", "too many measurements"));
            }
            let ms = (0..k)
                .map(|_| {
                    Vec::<u8>::read_cfg(buf, &(RangeCfg::new(1..=MAX_MEASUREMENT), ()))
                        .map(Measurement)
                })
                .collect::<Result<_, _>>()?;
            measurements.insert(p, ms);
        }
        let min_tcb = BTreeMap::<Platform, TcbMinimums>::read_cfg(
            buf,
            &(RangeCfg::new(0..=Platform::ALL.len()), ((), ())),
        )?;
        let tdx_registers =
            Vec::<TdxRegisters>::read_cfg(buf, &(RangeCfg::new(0..=MAX_TDX_REGISTER_SETS), ()))?;
        let allowed_tcb_statuses = BTreeSet::<DcapTcbStatus>::read_cfg(
            buf,
            &(RangeCfg::new(0..=DcapTcbStatus::ALL.len()), ()),
        )?;
        let k = u32::read(buf)? as usize;
        if k > MAX_ALLOWED_ADVISORIES {
            return Err(Error::Invalid("AttestationPolicy", "too many advisories"));
        }
        let mut allowed_advisories = BTreeSet::new();
        for _ in 0..k {
            let a = read_string(buf, MAX_ADVISORY_LEN, "advisory")?;
            if allowed_advisories.last().is_some_and(|l: &String| *l >= a) {
                return Err(Error::Invalid(
                    "AttestationPolicy",
                    "advisories not ascending",
                ));
            }
            allowed_advisories.insert(a);
        }
        Ok(AttestationPolicy {
            measurements,
            min_tcb,
            tdx_registers,
            allowed_tcb_statuses,
            allowed_advisories,
            allow_debug: bool::read(buf)?,
            max_vmpl: u32::read(buf)?,
            max_evidence_age_secs: u64::read(buf)?,
            token_validity_secs: u64::read(buf)?,
            reattestation_interval_secs: u64::read(buf)?,
            allow_simulated: bool::read(buf)?,
            recovery_grace_secs: u64::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};
    use proptest::prelude::*;

    fn policy() -> AttestationPolicy {
        let mut p = AttestationPolicy::default();
        p.measurements
            .insert(Platform::SevSnp, vec![Measurement(vec![7; 48])]);
        p.measurements.insert(
            Platform::Sgx,
            vec![Measurement(vec![1; 32]), Measurement(vec![2; 32])],
        );
        // SEV-SNP TCBs of Milan/Genoa (4 components) and Turin (5, FMC first).
        p.min_tcb.insert(
            Platform::SevSnp,
            TcbMinimums::new(vec![vec![3, 0, 8, 115], vec![1, 3, 0, 8, 115]]).unwrap(),
        );
        p.allowed_advisories.insert("INTEL-SA-00615".into());
        p.allowed_advisories.insert("INTEL-SA-00289".into());
        p
    }

    #[test]
    fn policy_round_trips_in_codec_and_json() {
        let p = policy();
        let enc = p.encode();
        assert_eq!(enc.len(), p.encode_size());
        assert_eq!(AttestationPolicy::decode(enc).unwrap(), p);
        assert_eq!(AttestationPolicy::from_json(&p.to_json()).unwrap(), p);
        let d = AttestationPolicy::default();
        assert_eq!(AttestationPolicy::decode(d.encode()).unwrap(), d);
    }

    #[test]
    fn defaults_are_strict() {
        let d = AttestationPolicy::default();
        assert!(!d.allow_simulated && !d.allow_debug);
        assert_eq!(
            d.allowed_tcb_statuses.iter().copied().collect::<Vec<_>>(),
            vec![DcapTcbStatus::UpToDate]
        );
        // An empty JSON object is the default policy.
        assert_eq!(AttestationPolicy::from_json("{}").unwrap(), d);
        assert!(AttestationPolicy::from_json(r#"{"allow_simulatd": true}"#).is_err());
    }

    #[test]
    fn incoherent_policies_are_refused() {
        assert!(
            AttestationPolicy::from_json(
                r#"{"token_validity_secs": 10, "reattestation_interval_secs": 20}"#
            )
            .is_err()
        );
        assert!(AttestationPolicy::from_json(r#"{"measurements": {"sgx": ["zz"]}}"#).is_err());
        // Two minimums of one shape, or an empty one.
        assert!(
            AttestationPolicy::from_json(r#"{"min_tcb": {"sev-snp": [[1,2,3,4],[5,6,7,8]]}}"#)
                .is_err()
        );
        assert!(AttestationPolicy::from_json(r#"{"min_tcb": {"sev-snp": [[]]}}"#).is_err());
    }

    #[test]
    fn a_minimum_tcb_is_one_list_or_one_per_shape() {
        let one = AttestationPolicy::from_json(r#"{"min_tcb": {"sev-snp": [3,0,8,115]}}"#).unwrap();
        assert_eq!(
            one.min_tcb[&Platform::SevSnp],
            TcbMinimums::single(vec![3, 0, 8, 115])
        );
        let both = AttestationPolicy::from_json(
            r#"{"min_tcb": {"sev-snp": [[3,0,8,115],[1,3,0,8,115]]}}"#,
        )
        .unwrap();
        let minimums = &both.min_tcb[&Platform::SevSnp];
        assert_eq!(minimums.for_shape(5), Some(&[1, 3, 0, 8, 115][..]));
        assert_eq!(minimums.for_shape(4), Some(&[3, 0, 8, 115][..]));
        assert_eq!(minimums.for_shape(3), None);
        assert_eq!(AttestationPolicy::decode(both.encode()).unwrap(), both);
    }

    #[test]
    fn evaluation_names_each_check() {
        let p = policy();
        let mut c = crate::claims::tests_support::snp_claims();
        c.measurement = vec![7; 48];
        c.advisories.clear();
        let rd = c.report_data;
        assert_eq!(evaluate(&p, &c, &rd, 0), Ok(()));

        let mut bad = c.clone();
        bad.measurement = vec![8; 48];
        assert_eq!(
            evaluate(&p, &bad, &rd, 0).unwrap_err().check(),
            "measurement"
        );

        let mut bad = c.clone();
        bad.tcb.svns = vec![3, 0, 7, 115];
        assert_eq!(evaluate(&p, &bad, &rd, 0).unwrap_err().check(), "min-tcb");
        // Found in the code: one minimum could not fit both Milan's 4 components and Turin's
        // 5. Each shape meets its own minimum; a shape with none does not pass.
        let mut turin = c.clone();
        turin.tcb.svns = vec![1, 3, 0, 8, 115];
        assert_eq!(evaluate(&p, &turin, &rd, 0), Ok(()));
        turin.tcb.svns = vec![0, 3, 0, 8, 115];
        assert_eq!(evaluate(&p, &turin, &rd, 0).unwrap_err().check(), "min-tcb");
        let mut odd = c.clone();
        odd.tcb.svns = vec![9, 9, 9];
        let err = evaluate(&p, &odd, &rd, 0).unwrap_err();
        assert!(
            err.to_string().contains("no minimum for a TCB of 3"),
            "{err}"
        );

        let mut bad = c.clone();
        bad.debug = true;
        assert_eq!(
            evaluate(&p, &bad, &rd, 0),
            Err(PolicyError::DebugNotAllowed)
        );

        let mut bad = c.clone();
        if let PlatformDetails::SevSnp { vmpl, .. } = &mut bad.details {
            *vmpl = 1;
        }
        assert_eq!(evaluate(&p, &bad, &rd, 0).unwrap_err().check(), "vmpl");

        assert_eq!(
            evaluate(&p, &c, &[0; 64], 0).unwrap_err().check(),
            "report-data"
        );

        let mut bad = c.clone();
        bad.advisories = vec!["AMD-SB-1".into()];
        assert_eq!(
            evaluate(&p, &bad, &rd, 0),
            Err(PolicyError::AdvisoryNotAllowed("AMD-SB-1".into()))
        );

        let mut bad = c.clone();
        bad.platform = Platform::Tdx;
        assert_eq!(
            evaluate(&p, &bad, &rd, 0),
            Err(PolicyError::PlatformNotAllowed(Platform::Tdx))
        );
    }

    #[test]
    fn evidence_age() {
        let mut p = policy();
        p.allow_simulated = true;
        p.measurements
            .insert(Platform::SimAmd, vec![Measurement(vec![7; 48])]);
        p.min_tcb.clear();
        let mut c = crate::claims::tests_support::snp_claims();
        c.platform = Platform::SimAmd;
        c.details = PlatformDetails::Sim;
        c.measurement = vec![7; 48];
        c.timestamp = Some(1000);
        c.advisories.clear();
        let rd = c.report_data;
        assert_eq!(evaluate(&p, &c, &rd, 1000 + 600), Ok(()));
        assert_eq!(
            evaluate(&p, &c, &rd, 1000 + 601),
            Err(PolicyError::EvidenceTooOld { age: 601, max: 600 })
        );
        assert_eq!(evaluate(&p, &c, &rd, 1000 - 60), Ok(()));
        assert_eq!(
            evaluate(&p, &c, &rd, 1000 - 61).unwrap_err().check(),
            "evidence-age"
        );
        p.allow_simulated = false;
        assert_eq!(
            evaluate(&p, &c, &rd, 1000),
            Err(PolicyError::SimulatedNotAllowed(Platform::SimAmd))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = AttestationPolicy::decode(commonware_codec::Copying(bytes.as_slice()));
        }

        #[test]
        fn arbitrary_json_never_panics(s in ".{0,200}") {
            let _ = AttestationPolicy::from_json(&s);
        }
    }
}
