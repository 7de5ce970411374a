//! Recorded evidence and endorsements (see fixtures/README.md).
#![allow(dead_code)]

use hyperchain_attest::{Endorsements, Platform, SnpEndorsements};

/// Inside every recorded collateral's validity window (2025-06-20T00:00:00Z).
pub const NOW: u64 = 1_750_377_600;
/// After the DCAP TCB info, QE identity and PCK CRL expire (2025-07-20T00:00:00Z).
pub const AFTER_DCAP_EXPIRY: u64 = 1_752_969_600;
/// After the Milan VCEK expires (2031-01-01T00:00:00Z).
pub const AFTER_VCEK_EXPIRY: u64 = 1_924_992_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn sgx() -> (Vec<u8>, Endorsements) {
    let collateral = String::from_utf8(fixture("sgx_quote_collateral.json")).unwrap();
    (
        fixture("sgx_quote"),
        Endorsements::from_json(Platform::Sgx, &collateral).unwrap(),
    )
}

pub fn tdx() -> (Vec<u8>, Endorsements) {
    let collateral = String::from_utf8(fixture("tdx_quote_collateral.json")).unwrap();
    (
        fixture("tdx_quote"),
        Endorsements::from_json(Platform::Tdx, &collateral).unwrap(),
    )
}

pub fn snp_endorsements() -> SnpEndorsements {
    SnpEndorsements {
        ark: None,
        ask: fixture("ask_milan.pem"),
        vcek: fixture("vcek_milan.der"),
    }
}

pub fn snp() -> (Vec<u8>, Endorsements) {
    let hex_report = String::from_utf8(fixture("report_milan.hex")).unwrap();
    (
        hex::decode(hex_report.trim()).unwrap(),
        Endorsements::SevSnp(snp_endorsements()),
    )
}

pub fn vcek_der() -> Vec<u8> {
    fixture("vcek_milan.der")
}

pub fn ark_milan_pem() -> Vec<u8> {
    let chain = String::from_utf8(fixture("cert_chain_milan")).unwrap();
    // cert_chain_milan is ASK then ARK.
    let start = chain.rfind("-----BEGIN CERTIFICATE-----").unwrap();
    chain.as_bytes()[start..].to_vec()
}
