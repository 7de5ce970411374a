//! Verification and policy evaluation on real recorded evidence (SGX and TDX quotes from
//! dcap-qvl, a Milan SEV-SNP report from `sev`) and on simulated evidence.

mod common;

use common::*;
use hyperchain_attest::sim::{self, SimFlavour, SimPlatform};
use hyperchain_attest::*;
use x509_cert::der::Decode;

fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

// ---------- real samples verify, with the expected claims ----------

#[test]
fn sgx_sample_verifies_with_expected_claims() {
    let (quote, endorsements) = sgx();
    let c = verify(Platform::Sgx, &quote, &endorsements, NOW).unwrap();
    assert_eq!(c.platform, Platform::Sgx);
    assert_eq!(c.vendor(), Vendor::Intel);
    assert_eq!(
        hx(&c.measurement),
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    );
    assert_eq!(
        c.tcb.status,
        Some(DcapTcbStatus::ConfigurationAndSwHardeningNeeded)
    );
    assert_eq!(c.advisories, ["INTEL-SA-00289", "INTEL-SA-00615"]);
    assert_eq!(
        c.tcb.svns,
        [11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13]
    );
    assert!(!c.debug);
    assert!(c.report_data.starts_with(b"Hello, world!"));
    assert_eq!(hx(&c.platform_id), "d04ec06d4e6d92dc90d0ad3cf5ee2ddf");
    assert_eq!(c.timestamp, None);
    match c.details {
        PlatformDetails::Sgx {
            mr_signer,
            isv_prod_id,
            isv_svn,
            fmspc,
            ..
        } => {
            assert_eq!(
                hx(&mr_signer),
                "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
            );
            assert_eq!((isv_prod_id, isv_svn), (0, 0));
            assert_eq!(hx(&fmspc), "00a067110000");
        }
        other => panic!("expected SGX details, got {other:?}"),
    }
}

#[test]
fn tdx_sample_verifies_with_expected_claims() {
    let (quote, endorsements) = tdx();
    let c = verify(Platform::Tdx, &quote, &endorsements, NOW).unwrap();
    assert_eq!(c.platform, Platform::Tdx);
    assert_eq!(c.vendor(), Vendor::Intel);
    assert_eq!(
        hx(&c.measurement),
        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
    );
    assert_eq!(c.tcb.status, Some(DcapTcbStatus::UpToDate));
    assert!(c.advisories.is_empty());
    assert_eq!(c.tcb.svns.len(), 33);
    assert_eq!(&c.tcb.svns[16..20], &[11, 6, 1, 3]);
    assert!(!c.debug);
    assert!(matches!(c.details, PlatformDetails::Tdx { .. }));
}

#[test]
fn snp_sample_verifies_with_expected_claims() {
    let (report, endorsements) = snp();
    let c = verify(Platform::SevSnp, &report, &endorsements, NOW).unwrap();
    assert_eq!(c.platform, Platform::SevSnp);
    assert_eq!(c.vendor(), Vendor::Amd);
    assert_eq!(
        hx(&c.measurement),
        "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"
    );
    assert_eq!(c.tcb.svns, [3, 0, 8, 115]);
    assert_eq!(c.tcb.status, None);
    assert!(!c.debug);
    assert_eq!(c.platform_id, report[0x1a0..0x1e0].to_vec());
    assert_eq!(&c.report_data[..], &report[0x50..0x90]);
    match c.details {
        PlatformDetails::SevSnp {
            version,
            vmpl,
            policy,
            ..
        } => {
            assert_eq!((version, vmpl, policy), (2, 0, 0x30000));
        }
        other => panic!("expected SEV-SNP details, got {other:?}"),
    }
}

#[test]
fn real_claims_round_trip_through_the_codec() {
    use commonware_codec::{DecodeExt, Encode};
    for (p, (e, n)) in [
        (Platform::Sgx, sgx()),
        (Platform::Tdx, tdx()),
        (Platform::SevSnp, snp()),
    ] {
        let c = verify(p, &e, &n, NOW).unwrap();
        assert_eq!(Claims::decode(c.encode()).unwrap(), c);
        let enc = n.encode();
        assert_eq!(Endorsements::decode(enc).unwrap(), n);
    }
}

#[test]
fn snp_accepts_pem_or_der_and_the_explicit_milan_ark() {
    let (report, _) = snp();
    let mut e = snp_endorsements();
    e.ark = Some(ark_milan_pem());
    verify(
        Platform::SevSnp,
        &report,
        &Endorsements::SevSnp(e.clone()),
        NOW,
    )
    .unwrap();
    // The embedded trust anchors are the ARKs the `sev` crate ships.
    let json = Endorsements::SevSnp(e).to_json();
    let back = Endorsements::from_json(Platform::SevSnp, &json).unwrap();
    verify(Platform::SevSnp, &report, &back, NOW).unwrap();
}

// ---------- wrong kind ----------

#[test]
fn evidence_of_another_kind_is_rejected() {
    let (sgx_quote, sgx_e) = sgx();
    let (tdx_quote, tdx_e) = tdx();
    let (report, snp_e) = snp();
    let e = verify(Platform::Tdx, &sgx_quote, &sgx_e, NOW).unwrap_err();
    assert!(matches!(e, VerifyError::WrongPlatform { .. }), "{e}");
    let e = verify(Platform::Sgx, &tdx_quote, &tdx_e, NOW).unwrap_err();
    assert!(matches!(e, VerifyError::WrongPlatform { .. }), "{e}");
    let e = verify(Platform::SevSnp, &report, &sgx_e, NOW).unwrap_err();
    assert!(matches!(e, VerifyError::EndorsementsMismatch { .. }), "{e}");
    let e = verify(Platform::Sgx, &sgx_quote, &snp_e, NOW).unwrap_err();
    assert_eq!(e.check(), "evidence-format");
    // TDX collateral does not vouch for the SGX quote.
    let e = verify(Platform::Sgx, &sgx_quote, &tdx_e, NOW).unwrap_err();
    assert!(matches!(e, VerifyError::Dcap(_)), "{e}");
    let e = verify(Platform::SevSnp, &sgx_quote, &snp_e, NOW).unwrap_err();
    assert_eq!(e.check(), "evidence-format");
}

// ---------- tampering ----------

/// Flips one bit at each of `positions` and checks the result is rejected, or — only where the
/// byte is outside the signed part and carries no meaning (for example padding after a PEM
/// chain) — yields exactly the original claims. Returns how many flips were rejected.
fn flip_each(
    platform: Platform,
    evidence: &[u8],
    endorsements: &Endorsements,
    positions: impl Iterator<Item = usize>,
    must_reject: impl Fn(usize) -> bool,
) -> usize {
    let original = verify(platform, evidence, endorsements, NOW).unwrap();
    let mut rejected = 0;
    for i in positions {
        let mut t = evidence.to_vec();
        t[i] ^= 1 << (i % 8);
        match verify(platform, &t, endorsements, NOW) {
            Err(e) => {
                assert!(!e.to_string().is_empty());
                rejected += 1;
            }
            Ok(c) => {
                assert!(
                    !must_reject(i),
                    "{platform}: flipping byte {i} was accepted"
                );
                assert_eq!(
                    c, original,
                    "{platform}: flipping byte {i} changed the claims"
                );
            }
        }
    }
    rejected
}

/// Where the PEM certification data (the PCK chain) starts inside a quote. Every byte before
/// it is covered by the quote signature or the QE report; the chain is authenticated by path
/// validation to Intel's root instead, so bytes of it that path validation does not use (the
/// copy of the root certificate, trailing padding) can change without changing the verdict.
fn pem_start(quote: &[u8]) -> usize {
    quote.windows(11).position(|w| w == b"-----BEGIN ").unwrap()
}

#[test]
fn tampered_sgx_quote_is_rejected() {
    let (quote, e) = sgx();
    let signed = pem_start(&quote);
    let n = flip_each(
        Platform::Sgx,
        &quote,
        &e,
        (0..quote.len()).step_by(3),
        |i| i < signed,
    );
    assert!(n >= signed / 3, "only {n} flips rejected");
}

#[test]
fn tampered_tdx_quote_is_rejected() {
    let (quote, e) = tdx();
    let signed = pem_start(&quote);
    let n = flip_each(
        Platform::Tdx,
        &quote,
        &e,
        (1..quote.len()).step_by(3),
        |i| i < signed,
    );
    assert!(n >= signed / 3, "only {n} flips rejected");
}

#[test]
fn tampered_snp_report_is_rejected_at_every_byte() {
    let (report, e) = snp();
    // Every byte: signed body, signature scalars (incl. their unused high bytes) and the
    // reserved tail.
    let n = flip_each(Platform::SevSnp, &report, &e, 0..report.len(), |_| true);
    assert_eq!(n, report.len());
}

#[test]
fn tampered_snp_report_names_the_failed_check() {
    let (report, e) = snp();
    let reason = |i: usize| {
        let mut t = report.clone();
        t[i] ^= 0x01;
        verify(Platform::SevSnp, &t, &e, NOW).unwrap_err()
    };
    // Measurement, report data, policy (debug bit 19), VMPL: signature.
    for i in [0x90, 0x50, 0x0a, 0x30] {
        assert_eq!(reason(i).check(), "report-signature", "byte {i:#x}");
    }
    // Signature algorithm.
    assert_eq!(reason(0x34).check(), "report-kind");
    // Reserved byte inside reported_tcb / after the signature: not canonical.
    assert_eq!(reason(0x182).check(), "evidence-format");
    assert_eq!(reason(report.len() - 1).check(), "evidence-format");
    // High byte of the signature's r scalar.
    assert_eq!(reason(0x2a0 + 60).check(), "report-signature");
}

#[test]
fn tampered_endorsements_are_rejected() {
    let (report, _) = snp();
    let vcek = vcek_der();
    for i in (0..vcek.len()).step_by(7) {
        let mut t = snp_endorsements();
        t.vcek = vcek.clone();
        t.vcek[i] ^= 1 << (i % 8);
        assert!(
            verify(Platform::SevSnp, &report, &Endorsements::SevSnp(t), NOW).is_err(),
            "VCEK byte {i}"
        );
    }

    let (quote, e) = sgx();
    let Endorsements::Dcap(c) = e else {
        unreachable!()
    };
    let mut t = c.clone();
    t.tcb_info = t.tcb_info.replacen(
        "\"tcbEvaluationDataNumber\":17",
        "\"tcbEvaluationDataNumber\":18",
        1,
    );
    assert_ne!(t.tcb_info, c.tcb_info);
    let e = verify(Platform::Sgx, &quote, &Endorsements::Dcap(t), NOW).unwrap_err();
    assert!(matches!(e, VerifyError::Dcap(_)), "{e}");
    let mut t = c.clone();
    t.qe_identity_signature[5] ^= 1;
    assert!(verify(Platform::Sgx, &quote, &Endorsements::Dcap(t), NOW).is_err());
    let mut t = c;
    t.pck_crl[40] ^= 1;
    assert!(verify(Platform::Sgx, &quote, &Endorsements::Dcap(t), NOW).is_err());
}

// ---------- time ----------

#[test]
fn expired_dcap_collateral_is_rejected() {
    for (p, (q, e)) in [(Platform::Sgx, sgx()), (Platform::Tdx, tdx())] {
        let err = verify(p, &q, &e, AFTER_DCAP_EXPIRY).unwrap_err();
        assert!(matches!(err, VerifyError::Dcap(_)), "{err}");
        assert!(err.to_string().contains("expired"), "{err}");
        // Before the collateral was issued.
        assert!(verify(p, &q, &e, NOW - 30 * 86_400).is_err());
    }
}

#[test]
fn expired_vcek_is_rejected() {
    let (report, e) = snp();
    let err = verify(Platform::SevSnp, &report, &e, AFTER_VCEK_EXPIRY).unwrap_err();
    assert!(
        matches!(err, VerifyError::CertificateValidity { which: "VCEK", .. }),
        "{err}"
    );
    // Before the VCEK was issued (2023-04-03).
    let err = verify(Platform::SevSnp, &report, &e, 1_672_531_200).unwrap_err();
    assert_eq!(err.check(), "certificate-validity");
}

// ---------- trust anchor ----------

#[test]
fn wrong_ark_is_rejected() {
    let (report, _) = snp();
    // A certificate that is not one of AMD's roots (here: the ASK) as ARK.
    let mut e = snp_endorsements();
    e.ark = Some(e.ask.clone());
    let err = verify(Platform::SevSnp, &report, &Endorsements::SevSnp(e), NOW).unwrap_err();
    assert_eq!(err, VerifyError::UntrustedArk);
    // A real AMD root of another generation does not sign the Milan ASK.
    let mut e = snp_endorsements();
    e.ark = Some(AMD_ARKS[1].1.to_vec());
    let err = verify(Platform::SevSnp, &report, &Endorsements::SevSnp(e), NOW).unwrap_err();
    assert_eq!(err.check(), "certificate-chain", "{err}");
    // An ASK from elsewhere (the VCEK) is signed by no trusted ARK.
    let mut e = snp_endorsements();
    e.ask = e.vcek.clone();
    let err = verify(Platform::SevSnp, &report, &Endorsements::SevSnp(e), NOW).unwrap_err();
    assert_eq!(err.check(), "certificate-chain", "{err}");
}

// ---------- VCEK TCB and chip id ----------

#[test]
fn vcek_tcb_must_equal_reported_tcb() {
    let vcek = x509_cert::Certificate::from_der(&vcek_der()).unwrap();
    let (report, e) = snp();
    let parsed = parse_snp_report(&report).unwrap();
    let reported = SnpTcb {
        fmc: parsed.reported_tcb.fmc,
        bootloader: parsed.reported_tcb.bootloader,
        tee: parsed.reported_tcb.tee,
        snp: parsed.reported_tcb.snp,
        microcode: parsed.reported_tcb.microcode,
    };
    let from_vcek = vcek_tcb(&vcek).unwrap();
    assert_eq!(
        from_vcek,
        SnpTcb {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115
        }
    );
    check_vcek_tcb(&from_vcek, &reported).unwrap();
    // A report claiming a newer SNP firmware than the VCEK was issued for.
    let newer = SnpTcb { snp: 9, ..reported };
    assert_eq!(
        check_vcek_tcb(&from_vcek, &newer),
        Err(VerifyError::VcekTcbMismatch {
            field: "snp",
            vcek: 8,
            report: 9
        })
    );
    let older = SnpTcb {
        microcode: 0x72,
        ..reported
    };
    assert_eq!(
        check_vcek_tcb(&from_vcek, &older).unwrap_err().check(),
        "vcek-tcb"
    );

    // Editing reported_tcb in the report itself breaks the signature first.
    let mut t = report.clone();
    t[0x186] = 9; // reported_tcb.snp
    let err = verify(Platform::SevSnp, &t, &e, NOW).unwrap_err();
    assert_eq!(err.check(), "report-signature", "{err}");

    // Chip id.
    check_chip_id(&vcek, &parsed.chip_id).unwrap();
    let mut other = parsed.chip_id;
    other[63] ^= 1;
    assert_eq!(
        check_chip_id(&vcek, &other),
        Err(VerifyError::ChipIdMismatch)
    );
}

// ---------- policy on real claims ----------

fn policy_for(c: &Claims) -> AttestationPolicy {
    let mut p = AttestationPolicy::default();
    p.measurements
        .insert(c.platform, vec![Measurement(c.measurement.clone())]);
    p
}

#[test]
fn dcap_tcb_status_and_advisories_are_policy_decisions() {
    let (q, e) = sgx();
    let c = verify(Platform::Sgx, &q, &e, NOW).unwrap();
    let rd = c.report_data;
    let mut p = policy_for(&c);
    // Default: UpToDate only.
    assert_eq!(
        evaluate(&p, &c, &rd, NOW),
        Err(PolicyError::TcbStatusNotAllowed(
            DcapTcbStatus::ConfigurationAndSwHardeningNeeded
        ))
    );
    p.allowed_tcb_statuses
        .insert(DcapTcbStatus::ConfigurationAndSwHardeningNeeded);
    assert_eq!(
        evaluate(&p, &c, &rd, NOW),
        Err(PolicyError::AdvisoryNotAllowed("INTEL-SA-00289".into()))
    );
    p.allowed_advisories.insert("INTEL-SA-00289".into());
    p.allowed_advisories.insert("INTEL-SA-00615".into());
    assert_eq!(evaluate(&p, &c, &rd, NOW), Ok(()));
    // Minimum TCB: PCE SVN 13 is enough for 13, not for 14.
    let mut min = c.tcb.svns.clone();
    p.min_tcb
        .insert(Platform::Sgx, TcbMinimums::single(min.clone()));
    assert_eq!(evaluate(&p, &c, &rd, NOW), Ok(()));
    *min.last_mut().unwrap() = 14;
    p.min_tcb.insert(Platform::Sgx, TcbMinimums::single(min));
    assert_eq!(evaluate(&p, &c, &rd, NOW).unwrap_err().check(), "min-tcb");

    // TDX sample is UpToDate: the default policy's status check passes (its registers
    // pinned as the quote has them).
    let (q, e) = tdx();
    let c = verify(Platform::Tdx, &q, &e, NOW).unwrap();
    let mut p = policy_for(&c);
    let PlatformDetails::Tdx { rtmr, .. } = &c.details else {
        panic!("TDX details");
    };
    p.tdx_registers = vec![TdxRegisters {
        rtmr0: Some(Measurement(rtmr[0].to_vec())),
        ..TdxRegisters::default()
    }];
    assert!(p.validate().is_ok());
    assert_eq!(evaluate(&p, &c, &c.report_data, NOW), Ok(()));
}

#[test]
fn wrong_report_data_is_rejected() {
    let (r, e) = snp();
    let c = verify(Platform::SevSnp, &r, &e, NOW).unwrap();
    let p = policy_for(&c);
    assert_eq!(evaluate(&p, &c, &c.report_data, NOW), Ok(()));
    let expected = NodeBinding {
        chain_id: &[1; 32],
        identity_pk: &[2; 32],
        owner: &[4; 32],
        region: "eu",
    }
    .report_data(&[3; 32]);
    let err = evaluate(&p, &c, &expected, NOW).unwrap_err();
    assert!(
        matches!(err, PolicyError::ReportDataMismatch { .. }),
        "{err}"
    );
}

#[test]
fn disallowed_measurement_is_rejected() {
    let (r, e) = snp();
    let c = verify(Platform::SevSnp, &r, &e, NOW).unwrap();
    let mut p = AttestationPolicy::default();
    assert_eq!(
        evaluate(&p, &c, &c.report_data, NOW),
        Err(PolicyError::PlatformNotAllowed(Platform::SevSnp))
    );
    p.measurements
        .insert(Platform::SevSnp, vec![Measurement(vec![0; 48])]);
    assert!(matches!(
        evaluate(&p, &c, &c.report_data, NOW),
        Err(PolicyError::MeasurementNotAllowed { .. })
    ));
}

#[test]
fn debug_tee_is_rejected_by_default() {
    // No recorded sample runs in debug mode (and the bit is signed), so use the verified claims
    // with the bit set, and simulated evidence produced in debug mode.
    let (q, e) = sgx();
    let mut c = verify(Platform::Sgx, &q, &e, NOW).unwrap();
    let mut p = policy_for(&c);
    p.allowed_tcb_statuses.insert(c.tcb.status.unwrap());
    p.allowed_advisories.extend(c.advisories.iter().cloned());
    c.debug = true;
    assert_eq!(
        evaluate(&p, &c, &c.report_data, NOW),
        Err(PolicyError::DebugNotAllowed)
    );

    let platform = SimPlatform::from_seed(SimFlavour::Intel, b"node-1");
    let rd = [5; 64];
    let ev = sim::generate_evidence(&platform, b"image", true, rd, NOW);
    let c = verify(Platform::SimIntel, &ev.evidence, &ev.endorsements, NOW).unwrap();
    assert!(c.debug);
    let mut p = policy_for(&c);
    p.allow_simulated = true;
    assert_eq!(
        evaluate(&p, &c, &rd, NOW),
        Err(PolicyError::DebugNotAllowed)
    );
    p.allow_debug = true;
    assert_eq!(evaluate(&p, &c, &rd, NOW), Ok(()));
}

// ---------- simulated platform ----------

#[test]
fn simulated_round_trip() {
    for flavour in [SimFlavour::Intel, SimFlavour::Amd] {
        let platform = SimPlatform::from_seed(flavour, b"node-7");
        let rd = NodeBinding {
            chain_id: &[1; 32],
            identity_pk: &[2; 32],
            owner: &[4; 32],
            region: "eu",
        }
        .report_data(&[3; 32]);
        let image = b"compute runtime v1";
        let ev = sim::generate_evidence(&platform, image, false, rd, NOW);
        let c = verify(flavour.platform(), &ev.evidence, &ev.endorsements, NOW + 5).unwrap();
        assert_eq!(c.platform, flavour.platform());
        assert_eq!(
            c.vendor(),
            if flavour == SimFlavour::Intel {
                Vendor::Intel
            } else {
                Vendor::Amd
            }
        );
        // Validators recompute the measurement from the released image.
        assert_eq!(c.measurement, sim::sim_measurement(flavour, image).to_vec());
        assert_ne!(
            sim::sim_measurement(SimFlavour::Intel, image),
            sim::sim_measurement(SimFlavour::Amd, image)
        );
        assert_eq!(c.report_data, rd);
        assert_eq!(c.timestamp, Some(NOW));
        assert_eq!(c.tcb.svns, [1, 1, 1, 1]);
        assert_eq!(c.platform_id, platform.platform_id.to_vec());

        let mut p = AttestationPolicy::default();
        p.measurements.insert(
            flavour.platform(),
            vec![Measurement(sim::sim_measurement(flavour, image).to_vec())],
        );
        // Rejected unless the policy allows simulated platforms.
        assert_eq!(
            evaluate(&p, &c, &rd, NOW + 5),
            Err(PolicyError::SimulatedNotAllowed(flavour.platform()))
        );
        p.allow_simulated = true;
        assert_eq!(evaluate(&p, &c, &rd, NOW + 5), Ok(()));
        // Too old.
        assert_eq!(
            evaluate(&p, &c, &rd, NOW + 601).unwrap_err().check(),
            "evidence-age"
        );

        // JSON endorsements round trip.
        let json = ev.endorsements.to_json();
        let back = Endorsements::from_json(flavour.platform(), &json).unwrap();
        assert_eq!(back, ev.endorsements);
    }
}

#[test]
fn simulated_tampering_is_rejected() {
    let platform = SimPlatform::from_seed(SimFlavour::Amd, b"node-2");
    let ev = sim::generate_evidence(&platform, b"img", false, [9; 64], NOW);
    let n = flip_each(
        Platform::SimAmd,
        &ev.evidence,
        &ev.endorsements,
        0..ev.evidence.len(),
        |_| true,
    );
    assert_eq!(n, ev.evidence.len());
    let Endorsements::Sim(cert) = &ev.endorsements else {
        unreachable!()
    };
    for i in 0..cert.platform_certificate.len() {
        let mut t = cert.clone();
        t.platform_certificate[i] ^= 1 << (i % 8);
        assert!(
            verify(Platform::SimAmd, &ev.evidence, &Endorsements::Sim(t), NOW).is_err(),
            "certificate byte {i}"
        );
    }
    // Evidence of one flavour is not the other.
    let err = verify(Platform::SimIntel, &ev.evidence, &ev.endorsements, NOW).unwrap_err();
    assert!(matches!(err, VerifyError::WrongPlatform { .. }), "{err}");
    // Another platform's certificate does not vouch for this report.
    let other = SimPlatform::from_seed(SimFlavour::Amd, b"node-3");
    let ev2 = sim::generate_evidence(&other, b"img", false, [9; 64], NOW);
    let err = verify(Platform::SimAmd, &ev.evidence, &ev2.endorsements, NOW).unwrap_err();
    assert_eq!(err.check(), "platform-match");
    // A platform certificate not signed by the dev root.
    let mut forged = platform.certificate();
    forged.signature = [0; 64];
    let e = Endorsements::Sim(SimEndorsements {
        platform_certificate: commonware_codec::Encode::encode(&forged).to_vec(),
    });
    let err = verify(Platform::SimAmd, &ev.evidence, &e, NOW).unwrap_err();
    assert_eq!(err, VerifyError::SimCertificateSignature);
}

// ---------- per-check report ----------

#[test]
fn appraisal_reports_every_check() {
    let (r, e) = snp();
    let c = verify(Platform::SevSnp, &r, &e, NOW).unwrap();
    let p = policy_for(&c);
    let a = appraise(Platform::SevSnp, &r, &e, &p, Some(&c.report_data), NOW);
    assert!(a.accepted());
    assert_eq!(
        a.checks.len(),
        verification_checks(Platform::SevSnp).len() + POLICY_CHECKS.len()
    );
    assert!(a.checks.iter().all(|c| c.verdict != Verdict::Fail));

    // Verification failure: the failing check, then nothing else runs.
    let a = appraise(Platform::SevSnp, &r, &e, &p, None, AFTER_VCEK_EXPIRY);
    assert!(!a.accepted());
    let failed: Vec<_> = a
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.name)
        .collect();
    assert_eq!(failed, ["certificate-validity"]);
    let pos = a
        .checks
        .iter()
        .position(|c| c.name == "certificate-validity")
        .unwrap();
    assert!(a.checks[..pos].iter().all(|c| c.verdict == Verdict::Pass));
    assert!(
        a.checks[pos + 1..]
            .iter()
            .all(|c| c.verdict == Verdict::Skip)
    );

    // Policy failure: every policy check is still reported.
    let (q, e) = sgx();
    let a = appraise(
        Platform::Sgx,
        &q,
        &e,
        &AttestationPolicy::default(),
        None,
        NOW,
    );
    assert!(!a.accepted());
    let failed: Vec<_> = a
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.name)
        .collect();
    assert_eq!(failed, ["measurement", "tcb-status", "advisories"]);
}

/// Found in the code: a TDX quote was judged by MRTD alone, so a TD running the accepted
/// firmware with any kernel, command line or owner passed. The policy pins RTMR0–3,
/// MRCONFIGID and MROWNER, with several accepted sets (one per VM shape: RTMR0 varies with it).
#[test]
fn tdx_registers_are_pinned_with_several_accepted_sets() {
    let (quote, endorsements) = tdx();
    let c = verify(Platform::Tdx, &quote, &endorsements, NOW).unwrap();
    let rd = c.report_data;
    let PlatformDetails::Tdx {
        rtmr,
        mr_config_id,
        mr_owner,
        ..
    } = c.details.clone()
    else {
        panic!("TDX details");
    };
    let mut p = policy_for(&c);
    // Accepting a TDX measurement without pinning the registers is refused.
    assert!(p.validate().unwrap_err().contains("tdx_registers"));

    let pin = |rtmr1: [u8; 48]| TdxRegisters {
        rtmr0: Some(Measurement(rtmr[0].to_vec())),
        rtmr1: Some(Measurement(rtmr1.to_vec())),
        rtmr2: Some(Measurement(rtmr[2].to_vec())),
        rtmr3: None,
        mr_config_id: Some(Measurement(mr_config_id.to_vec())),
        mr_owner: Some(Measurement(mr_owner.to_vec())),
    };
    let mut other_kernel = rtmr[1];
    other_kernel[0] ^= 1;
    p.allowed_tcb_statuses = DcapTcbStatus::ALL.into_iter().collect();
    p.allowed_advisories = c.advisories.iter().cloned().collect();
    p.tdx_registers = vec![pin(other_kernel)];
    assert!(p.validate().is_ok());
    let err = evaluate(&p, &c, &rd, NOW).unwrap_err();
    assert_eq!(err.check(), "tdx-registers");
    assert!(err.to_string().contains("RTMR1 differs"), "{err}");
    // A second accepted set (another VM shape or kernel) matches.
    p.tdx_registers.push(pin(rtmr[1]));
    assert_eq!(evaluate(&p, &c, &rd, NOW), Ok(()));
    // The policy round-trips with its register sets.
    assert_eq!(AttestationPolicy::from_json(&p.to_json()).unwrap(), p);
    use commonware_codec::{DecodeExt as _, Encode as _};
    assert_eq!(AttestationPolicy::decode(p.encode()).unwrap(), p);
}
