//! Endorsements: the collateral that makes evidence checkable, supplied by the (untrusted) host.
//!
//! They travel inside the registration transaction with a canonical [`commonware_codec`]
//! encoding, and on disk as JSON ([`Endorsements::from_json`]):
//! - `sgx`/`tdx`: the collateral JSON that dcap-qvl reads and writes (`QuoteCollateralV3`:
//!   PEM issuer chains, TCB info and QE identity JSON with their signatures, DER CRLs in hex);
//! - `sev-snp`: `{"ask": …, "vcek": …, "ark": …}` where each certificate is PEM text or hex DER
//!   and `ark` is optional (if given it must be one of AMD's published roots);
//! - `sim-intel`/`sim-amd`: `{"platform_certificate": "<hex>"}`.

use crate::claims::read_string;
use crate::{Platform, limits::MAX_COLLATERAL_FIELD};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, ReadRangeExt, Write};
use dcap_qvl::QuoteCollateralV3;
use serde::{Deserialize, Serialize};

/// Collateral for one piece of evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endorsements {
    /// Intel DCAP collateral (PCK CRL and its chain, root CA CRL, TCB info, QE identity, and
    /// optionally the PCK chain when the quote does not embed it).
    Dcap(Box<QuoteCollateralV3>),
    /// AMD SEV-SNP certificates.
    SevSnp(SnpEndorsements),
    /// The simulated platform's certificate.
    Sim(SimEndorsements),
}

/// AMD SEV-SNP endorsements: the ASK and the VCEK (PEM or DER), and optionally the ARK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnpEndorsements {
    /// AMD Root Key certificate. Optional: the trust anchor is a reference value embedded in
    /// this crate; a supplied ARK must equal one of them.
    pub ark: Option<Vec<u8>>,
    /// AMD SEV Signing Key certificate (signed by the ARK).
    pub ask: Vec<u8>,
    /// Versioned Chip Endorsement Key certificate (signed by the ASK).
    pub vcek: Vec<u8>,
}

/// Simulated platform endorsements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEndorsements {
    /// The platform certificate, signed by the dev root key ([`crate::sim`]).
    pub platform_certificate: Vec<u8>,
}

impl Endorsements {
    /// What kind of endorsements these are.
    pub fn kind(&self) -> &'static str {
        match self {
            Endorsements::Dcap(_) => "dcap",
            Endorsements::SevSnp(_) => "sev-snp",
            Endorsements::Sim(_) => "sim",
        }
    }

    /// Parses the on-disk JSON form for `platform` (see the module docs).
    pub fn from_json(platform: Platform, json: &str) -> Result<Self, String> {
        match platform {
            Platform::Sgx | Platform::Tdx => serde_json::from_str::<QuoteCollateralV3>(json)
                .map(|c| Endorsements::Dcap(Box::new(c)))
                .map_err(|e| format!("DCAP collateral JSON: {e}")),
            Platform::SevSnp => {
                let j: SnpJson =
                    serde_json::from_str(json).map_err(|e| format!("SEV-SNP endorsements: {e}"))?;
                Ok(Endorsements::SevSnp(SnpEndorsements {
                    ark: j.ark.map(|a| cert_bytes(&a)).transpose()?,
                    ask: cert_bytes(&j.ask)?,
                    vcek: cert_bytes(&j.vcek)?,
                }))
            }
            Platform::SimIntel | Platform::SimAmd => {
                let j: SimJson = serde_json::from_str(json)
                    .map_err(|e| format!("simulated endorsements: {e}"))?;
                Ok(Endorsements::Sim(SimEndorsements {
                    platform_certificate: hex::decode(j.platform_certificate.trim())
                        .map_err(|e| format!("platform_certificate: {e}"))?,
                }))
            }
        }
    }

    /// The on-disk JSON form (DER certificates as PEM when they were PEM, else hex).
    pub fn to_json(&self) -> String {
        let v = match self {
            Endorsements::Dcap(c) => serde_json::to_value(c.as_ref()),
            Endorsements::SevSnp(s) => serde_json::to_value(SnpJson {
                ark: s.ark.as_deref().map(cert_text),
                ask: cert_text(&s.ask),
                vcek: cert_text(&s.vcek),
            }),
            Endorsements::Sim(s) => serde_json::to_value(SimJson {
                platform_certificate: hex::encode(&s.platform_certificate),
            }),
        };
        v.and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_default()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnpJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ark: Option<String>,
    ask: String,
    vcek: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimJson {
    platform_certificate: String,
}

fn cert_bytes(s: &str) -> Result<Vec<u8>, String> {
    let t = s.trim();
    if t.starts_with("-----BEGIN") {
        Ok(t.as_bytes().to_vec())
    } else {
        hex::decode(t).map_err(|e| format!("certificate is neither PEM nor hex DER: {e}"))
    }
}

fn cert_text(b: &[u8]) -> String {
    if b.starts_with(b"-----BEGIN") {
        String::from_utf8_lossy(b).into_owned()
    } else {
        hex::encode(b)
    }
}

// ---- canonical encoding ----

fn read_bytes(buf: &mut impl Buf) -> Result<Vec<u8>, Error> {
    Vec::<u8>::read_range(buf, 0..=MAX_COLLATERAL_FIELD)
}

fn read_text(buf: &mut impl Buf, what: &'static str) -> Result<String, Error> {
    read_string(buf, MAX_COLLATERAL_FIELD, what)
}

impl Write for Endorsements {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Endorsements::Dcap(c) => {
                0u8.write(buf);
                c.pck_crl_issuer_chain.as_bytes().write(buf);
                c.root_ca_crl.write(buf);
                c.pck_crl.write(buf);
                c.tcb_info_issuer_chain.as_bytes().write(buf);
                c.tcb_info.as_bytes().write(buf);
                c.tcb_info_signature.write(buf);
                c.qe_identity_issuer_chain.as_bytes().write(buf);
                c.qe_identity.as_bytes().write(buf);
                c.qe_identity_signature.write(buf);
                c.pck_certificate_chain
                    .as_ref()
                    .map(|s| s.as_bytes().to_vec())
                    .write(buf);
            }
            Endorsements::SevSnp(s) => {
                1u8.write(buf);
                s.ark.write(buf);
                s.ask.write(buf);
                s.vcek.write(buf);
            }
            Endorsements::Sim(s) => {
                2u8.write(buf);
                s.platform_certificate.write(buf);
            }
        }
    }
}

impl EncodeSize for Endorsements {
    fn encode_size(&self) -> usize {
        1 + match self {
            Endorsements::Dcap(c) => {
                c.pck_crl_issuer_chain.as_bytes().encode_size()
                    + c.root_ca_crl.encode_size()
                    + c.pck_crl.encode_size()
                    + c.tcb_info_issuer_chain.as_bytes().encode_size()
                    + c.tcb_info.as_bytes().encode_size()
                    + c.tcb_info_signature.encode_size()
                    + c.qe_identity_issuer_chain.as_bytes().encode_size()
                    + c.qe_identity.as_bytes().encode_size()
                    + c.qe_identity_signature.encode_size()
                    + c.pck_certificate_chain
                        .as_ref()
                        .map_or(1, |s| 1 + s.as_bytes().encode_size())
            }
            Endorsements::SevSnp(s) => {
                s.ark.encode_size() + s.ask.encode_size() + s.vcek.encode_size()
            }
            Endorsements::Sim(s) => s.platform_certificate.encode_size(),
        }
    }
}

impl Read for Endorsements {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => Endorsements::Dcap(Box::new(QuoteCollateralV3 {
                pck_crl_issuer_chain: read_text(buf, "pck_crl_issuer_chain")?,
                root_ca_crl: read_bytes(buf)?,
                pck_crl: read_bytes(buf)?,
                tcb_info_issuer_chain: read_text(buf, "tcb_info_issuer_chain")?,
                tcb_info: read_text(buf, "tcb_info")?,
                tcb_info_signature: read_bytes(buf)?,
                qe_identity_issuer_chain: read_text(buf, "qe_identity_issuer_chain")?,
                qe_identity: read_text(buf, "qe_identity")?,
                qe_identity_signature: read_bytes(buf)?,
                pck_certificate_chain: if bool::read(buf)? {
                    Some(read_text(buf, "pck_certificate_chain")?)
                } else {
                    None
                },
            })),
            1 => Endorsements::SevSnp(SnpEndorsements {
                ark: if bool::read(buf)? {
                    Some(read_bytes(buf)?)
                } else {
                    None
                },
                ask: read_bytes(buf)?,
                vcek: read_bytes(buf)?,
            }),
            2 => Endorsements::Sim(SimEndorsements {
                platform_certificate: read_bytes(buf)?,
            }),
            t => return Err(Error::InvalidEnum(t)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};
    use proptest::prelude::*;

    #[test]
    fn round_trips() {
        for e in [
            Endorsements::SevSnp(SnpEndorsements {
                ark: None,
                ask: b"-----BEGIN CERTIFICATE-----".to_vec(),
                vcek: vec![0x30, 1, 2],
            }),
            Endorsements::SevSnp(SnpEndorsements {
                ark: Some(vec![1]),
                ask: vec![2],
                vcek: vec![3],
            }),
            Endorsements::Sim(SimEndorsements {
                platform_certificate: vec![1, 2, 3],
            }),
        ] {
            let enc = e.encode();
            assert_eq!(enc.len(), e.encode_size());
            assert_eq!(Endorsements::decode(enc).unwrap(), e);
            let platform = match e {
                Endorsements::SevSnp(_) => Platform::SevSnp,
                _ => Platform::SimAmd,
            };
            assert_eq!(Endorsements::from_json(platform, &e.to_json()).unwrap(), e);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Endorsements::decode(commonware_codec::Copying(bytes.as_slice()));
        }

        #[test]
        fn arbitrary_json_never_panics(s in ".{0,200}") {
            for p in Platform::ALL {
                let _ = Endorsements::from_json(p, &s);
            }
        }
    }
}
