//! The simulated platform ([`hyperchain_attest::sim`]), for devnets. Anyone can forge its
//! evidence; validators accept it only under a policy with `allow_simulated`.

use super::{EvidenceProvider, ProvidedEvidence, ProviderError};
use hyperchain_attest::Platform;
use hyperchain_attest::sim::{SimFlavour, SimPlatform, generate_evidence, sim_measurement};

/// Signs simulated reports for one runtime image with a platform key derived from a seed.
#[derive(Clone)]
pub struct SimProvider {
    platform: SimPlatform,
    image: Vec<u8>,
    debug: bool,
}

impl SimProvider {
    /// A provider for `image` (the runtime image bytes, whose measurement validators recompute
    /// from the released image) on the simulated platform derived from `seed`
    /// ([`SimPlatform::from_seed`]: the same seed gives the same platform id and key).
    pub fn new(flavour: SimFlavour, seed: &[u8], image: Vec<u8>) -> Self {
        SimProvider {
            platform: SimPlatform::from_seed(flavour, seed),
            image,
            debug: false,
        }
    }

    /// Marks the reports as produced by a debug-mode TEE (policies refuse them unless they
    /// set `allow_debug`).
    pub fn with_debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// The measurement put in every report.
    pub fn measurement(&self) -> [u8; 32] {
        sim_measurement(self.platform.flavour, &self.image)
    }

    /// The simulated platform (its id and TCB).
    pub fn sim_platform(&self) -> &SimPlatform {
        &self.platform
    }
}

impl std::fmt::Debug for SimProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the platform key, not the image.
        f.debug_struct("SimProvider")
            .field("platform", &self.platform.flavour.platform())
            .field("platform_id", &hex::encode(self.platform.platform_id))
            .field("measurement", &hex::encode(self.measurement()))
            .field("image_len", &self.image.len())
            .field("debug", &self.debug)
            .finish()
    }
}

impl EvidenceProvider for SimProvider {
    fn platform(&self) -> Platform {
        self.platform.flavour.platform()
    }

    fn evidence(
        &self,
        report_data: [u8; 64],
        now_secs: u64,
    ) -> Result<ProvidedEvidence, ProviderError> {
        let e = generate_evidence(
            &self.platform,
            &self.image,
            self.debug,
            report_data,
            now_secs,
        );
        Ok(ProvidedEvidence {
            platform: self.platform(),
            evidence: e.evidence,
            endorsements: e.endorsements,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_verifies_and_binds_the_report_data() {
        let rd = hyperchain_attest::NodeBinding {
            chain_id: &[1; 32],
            identity_pk: &[2; 32],
            owner: &[4; 32],
            region: "eu",
        }
        .report_data(&[3; 32]);
        for (flavour, platform) in [
            (SimFlavour::Intel, Platform::SimIntel),
            (SimFlavour::Amd, Platform::SimAmd),
        ] {
            let p = SimProvider::new(flavour, b"node-1", b"runtime image".to_vec());
            assert_eq!(p.platform(), platform);
            let out = p.evidence(rd, 1_700_000_000).expect("evidence");
            assert_eq!(out.platform, platform);
            let claims = hyperchain_attest::verify(
                platform,
                &out.evidence,
                &out.endorsements,
                1_700_000_000,
            )
            .expect("verifies");
            assert_eq!(claims.report_data, rd);
            assert_eq!(claims.measurement, p.measurement().to_vec());
            assert_eq!(
                claims.measurement,
                sim_measurement(flavour, b"runtime image").to_vec()
            );
            assert_eq!(claims.timestamp, Some(1_700_000_000));
            assert!(!claims.debug);
            assert_eq!(claims.platform_id, p.sim_platform().platform_id.to_vec());
        }
    }

    #[test]
    fn same_seed_same_platform_and_debug_flag() {
        let a = SimProvider::new(SimFlavour::Amd, b"s", vec![1]);
        let b = SimProvider::new(SimFlavour::Amd, b"s", vec![2]).with_debug(true);
        assert_eq!(a.sim_platform().platform_id, b.sim_platform().platform_id);
        assert_ne!(a.measurement(), b.measurement());
        let out = b.evidence([9; 64], 5).expect("evidence");
        let claims =
            hyperchain_attest::verify(Platform::SimAmd, &out.evidence, &out.endorsements, 5)
                .expect("verifies");
        assert!(claims.debug);
        assert!(!format!("{b:?}").contains("key"));
    }
}
