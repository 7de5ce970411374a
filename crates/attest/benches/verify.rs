//! Benchmarks of evidence verification on the recorded samples.
//!
//! `cargo bench -p hyperchain-attest` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hyperchain_attest::sim::{self, SimFlavour, SimPlatform};
use hyperchain_attest::{Endorsements, Platform, SnpEndorsements, verify};

/// Inside every recorded collateral's validity window (2025-06-20T00:00:00Z).
const NOW: u64 = 1_750_377_600;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn dcap(platform: Platform, quote: &str, collateral: &str) -> (Vec<u8>, Endorsements) {
    let json = String::from_utf8(fixture(collateral)).unwrap();
    (
        fixture(quote),
        Endorsements::from_json(platform, &json).unwrap(),
    )
}

fn benches(c: &mut Criterion) {
    let report = hex::decode(
        String::from_utf8(fixture("report_milan.hex"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let sim_platform = SimPlatform::from_seed(SimFlavour::Intel, b"bench");
    let sim = sim::generate_evidence(&sim_platform, b"runtime image", false, [7; 64], NOW);
    let cases = [
        (
            Platform::Sgx,
            dcap(Platform::Sgx, "sgx_quote", "sgx_quote_collateral.json"),
        ),
        (
            Platform::Tdx,
            dcap(Platform::Tdx, "tdx_quote", "tdx_quote_collateral.json"),
        ),
        (
            Platform::SevSnp,
            (
                report,
                Endorsements::SevSnp(SnpEndorsements {
                    ark: None,
                    ask: fixture("ask_milan.pem"),
                    vcek: fixture("vcek_milan.der"),
                }),
            ),
        ),
        (Platform::SimIntel, (sim.evidence, sim.endorsements)),
    ];
    for (platform, (evidence, endorsements)) in &cases {
        verify(*platform, evidence, endorsements, NOW).unwrap();
        c.bench_function(&format!("attest::verify/platform={platform}"), |b| {
            b.iter(|| verify(*platform, black_box(evidence), black_box(endorsements), NOW).unwrap())
        });
    }
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
