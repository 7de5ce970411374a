//! Arbitrary and mutated inputs to every parser and verifier: an error, never a panic.

mod common;

use common::*;
use hyperchain_attest::*;
use proptest::prelude::*;

fn mutate(base: &[u8], edits: &[(usize, u8)], cut: Option<usize>, extra: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(i, b) in edits {
        if !v.is_empty() {
            let n = v.len();
            v[i % n] = b;
        }
    }
    if let Some(c) = cut {
        v.truncate(c % (base.len() + 1));
    }
    v.extend_from_slice(extra);
    v
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn arbitrary_evidence_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        let (_, sgx_e) = sgx();
        let (_, snp_e) = snp();
        let sim_e = Endorsements::Sim(SimEndorsements { platform_certificate: bytes.clone() });
        for p in Platform::ALL {
            for e in [&sgx_e, &snp_e, &sim_e] {
                let _ = verify(p, &bytes, e, NOW);
            }
        }
        let _ = parse_snp_report(&bytes);
    }

    #[test]
    fn mutated_dcap_quotes_never_panic(
        edits in edits(), cut in proptest::option::of(any::<usize>()),
        extra in proptest::collection::vec(any::<u8>(), 0..16), tdx_quote in any::<bool>(),
    ) {
        let (p, (q, e)) = if tdx_quote { (Platform::Tdx, tdx()) } else { (Platform::Sgx, sgx()) };
        let _ = verify(p, &mutate(&q, &edits, cut, &extra), &e, NOW);
    }

    #[test]
    fn mutated_snp_reports_never_panic(
        edits in edits(), cut in proptest::option::of(any::<usize>()),
        extra in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let (r, e) = snp();
        let m = mutate(&r, &edits, cut, &extra);
        let _ = verify(Platform::SevSnp, &m, &e, NOW);
        let _ = parse_snp_report(&m);
    }

    #[test]
    fn arbitrary_full_length_snp_reports_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), SNP_REPORT_LEN..=SNP_REPORT_LEN),
        version in 0u32..8,
    ) {
        let mut b = bytes;
        b[..4].copy_from_slice(&version.to_le_bytes());
        let (_, e) = snp();
        let _ = verify(Platform::SevSnp, &b, &e, NOW);
    }

    #[test]
    fn mutated_snp_certificates_never_panic(
        edits in edits(), cut in proptest::option::of(any::<usize>()), which in 0u8..3,
    ) {
        let (r, _) = snp();
        let mut e = snp_endorsements();
        match which {
            0 => e.vcek = mutate(&e.vcek, &edits, cut, &[]),
            1 => e.ask = mutate(&e.ask, &edits, cut, &[]),
            _ => e.ark = Some(mutate(&ark_milan_pem(), &edits, cut, &[])),
        }
        let _ = verify(Platform::SevSnp, &r, &Endorsements::SevSnp(e), NOW);
    }

    #[test]
    fn mutated_dcap_collateral_never_panics(
        edits in edits(), field in 0u8..6, now_offset in -40i64 * 86_400..40 * 86_400,
    ) {
        let (q, e) = sgx();
        let Endorsements::Dcap(mut c) = e else { unreachable!() };
        match field {
            0 => c.root_ca_crl = mutate(&c.root_ca_crl, &edits, None, &[]),
            1 => c.pck_crl = mutate(&c.pck_crl, &edits, None, &[]),
            2 => c.tcb_info_signature = mutate(&c.tcb_info_signature, &edits, None, &[]),
            3 => c.qe_identity_signature = mutate(&c.qe_identity_signature, &edits, None, &[]),
            4 => {
                let t = mutate(c.tcb_info.as_bytes(), &edits, None, &[]);
                c.tcb_info = String::from_utf8_lossy(&t).into_owned();
            }
            _ => {
                let t = mutate(c.pck_crl_issuer_chain.as_bytes(), &edits, None, &[]);
                c.pck_crl_issuer_chain = String::from_utf8_lossy(&t).into_owned();
            }
        }
        let now = NOW.saturating_add_signed(now_offset);
        let _ = verify(Platform::Sgx, &q, &Endorsements::Dcap(c), now);
    }

    #[test]
    fn arbitrary_times_never_panic(now in any::<u64>()) {
        for (p, (e, n)) in [(Platform::Sgx, sgx()), (Platform::SevSnp, snp())] {
            let _ = verify(p, &e, &n, now);
        }
    }
}
