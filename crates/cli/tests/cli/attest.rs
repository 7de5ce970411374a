//! `hyperchain attest …` on simulated evidence and the recorded hardware samples.

use super::*;
use std::path::PathBuf;

/// Inside the recorded collateral's validity window (2025-06-20T00:00:00Z).
const NOW: &str = "1750377600";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../attest/tests/fixtures")
        .join(name)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn verdict<'a>(report: &'a serde_json::Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"))["verdict"]
        .as_str()
        .unwrap()
}

#[test]
fn policy_template_is_the_strict_default() {
    let dir = tempfile::tempdir().unwrap();
    let p = json(&hyperchain(dir.path(), &["attest", "policy-template"]));
    assert_eq!(p["allow_simulated"], false);
    assert_eq!(p["allow_debug"], false);
    assert_eq!(p["allowed_tcb_statuses"], serde_json::json!(["UpToDate"]));
}

#[test]
fn simulated_evidence_round_trip_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("image.bin"), b"compute runtime v1").unwrap();
    let identity = "11".repeat(32);
    let made = json(&hyperchain(
        d,
        &[
            "attest",
            "sim-evidence",
            "--flavour",
            "sim-intel",
            "--image",
            "image.bin",
            "--identity-key",
            &identity,
            "--region",
            "eu",
            "--timestamp",
            "1000",
            "--out-dir",
            "ev",
            "--json",
        ],
    ));
    let measurement = made["measurement"].as_str().unwrap().to_string();
    let report_data = made["report_data"].as_str().unwrap().to_string();
    assert!(d.join("ev/evidence.bin").exists());

    let verify = |extra: &[&str]| {
        let mut args = vec![
            "attest",
            "verify",
            "ev/evidence.bin",
            "--platform",
            "sim-intel",
            "--endorsements",
            "ev/endorsements.json",
            "--now",
            "1010",
            "--json",
        ];
        args.extend_from_slice(extra);
        hyperchain(d, &args)
    };

    // The default policy refuses simulated evidence (and lists no measurement).
    let out = verify(&[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let r = stdout_json(&out);
    assert_eq!(r["accepted"], false);
    assert_eq!(verdict(&r, "report-signature"), "pass");
    assert_eq!(verdict(&r, "simulated"), "fail");

    // A devnet policy accepting this image.
    let mut policy: serde_json::Value = serde_json::from_str(
        &String::from_utf8(hyperchain(d, &["attest", "policy-template"]).stdout).unwrap(),
    )
    .unwrap();
    policy["allow_simulated"] = true.into();
    policy["measurements"] = serde_json::json!({ "sim-intel": [measurement] });
    std::fs::write(d.join("policy.json"), policy.to_string()).unwrap();
    let out = verify(&["--policy", "policy.json", "--report-data", &report_data]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = stdout_json(&out);
    assert_eq!(r["accepted"], true);
    assert_eq!(r["claims"]["platform"], "sim-intel");
    assert_eq!(r["claims"]["vendor"], "intel");
    assert_eq!(verdict(&r, "report-data"), "pass");

    // Wrong report data: rejected, naming the check.
    let out = verify(&["--policy", "policy.json", "--report-data", &"00".repeat(64)]);
    assert_eq!(code(&out), 2);
    assert_eq!(verdict(&stdout_json(&out), "report-data"), "fail");

    // Tampered evidence: verification fails.
    let mut ev = std::fs::read(d.join("ev/evidence.bin")).unwrap();
    ev[10] ^= 1;
    std::fs::write(d.join("ev/evidence.bin"), ev).unwrap();
    let out = verify(&["--policy", "policy.json"]);
    assert_eq!(code(&out), 2);
    let r = stdout_json(&out);
    assert_eq!(verdict(&r, "report-signature"), "fail");
    assert!(r["claims"].is_null());

    // Text output.
    let out = hyperchain(
        d,
        &[
            "attest",
            "verify",
            "ev/evidence.bin",
            "--platform",
            "sim-intel",
            "--endorsements",
            "ev/endorsements.json",
            "--now",
            "1010",
        ],
    );
    assert_eq!(code(&out), 2);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("report-signature") && text.contains("REJECTED"),
        "{text}"
    );
}

#[test]
fn recorded_hardware_samples() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // SGX: verifies; the strict default policy rejects its TCB status.
    let quote = fixture("sgx_quote");
    let collateral = fixture("sgx_quote_collateral.json");
    let out = hyperchain(
        d,
        &[
            "attest",
            "verify",
            quote.to_str().unwrap(),
            "--platform",
            "sgx",
            "--endorsements",
            collateral.to_str().unwrap(),
            "--now",
            NOW,
            "--json",
        ],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let r = stdout_json(&out);
    assert_eq!(verdict(&r, "dcap-quote"), "pass");
    assert_eq!(verdict(&r, "tcb-status"), "fail");
    assert_eq!(
        r["claims"]["tcb"]["status"],
        "ConfigurationAndSWHardeningNeeded"
    );

    // SEV-SNP: endorsements file with the ASK as PEM and the VCEK as hex DER.
    let endorsements = serde_json::json!({
        "ask": std::fs::read_to_string(fixture("ask_milan.pem")).unwrap(),
        "vcek": hex::encode(std::fs::read(fixture("vcek_milan.der")).unwrap()),
    });
    std::fs::write(d.join("snp.json"), endorsements.to_string()).unwrap();
    let policy = serde_json::json!({ "measurements": { "sev-snp": [
        "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"
    ] } });
    std::fs::write(d.join("policy.json"), policy.to_string()).unwrap();
    let report = fixture("report_milan.hex");
    let out = hyperchain(
        d,
        &[
            "attest",
            "verify",
            report.to_str().unwrap(),
            "--platform",
            "sev-snp",
            "--endorsements",
            "snp.json",
            "--policy",
            "policy.json",
            "--now",
            NOW,
        ],
    );
    assert_eq!(
        code(&out),
        0,
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ACCEPTED"));

    // After the VCEK expires.
    let out = hyperchain(
        d,
        &[
            "attest",
            "verify",
            report.to_str().unwrap(),
            "--platform",
            "sev-snp",
            "--endorsements",
            "snp.json",
            "--policy",
            "policy.json",
            "--now",
            "1924992000",
            "--json",
        ],
    );
    assert_eq!(code(&out), 2);
    assert_eq!(verdict(&stdout_json(&out), "certificate-validity"), "fail");
}

#[test]
fn file_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = hyperchain(
        dir.path(),
        &[
            "attest",
            "verify",
            "missing.bin",
            "--platform",
            "sgx",
            "--endorsements",
            "x.json",
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("missing.bin"), "{}", stderr(&out));
    std::fs::write(dir.path().join("e.bin"), b"x").unwrap();
    std::fs::write(dir.path().join("bad.json"), b"{}").unwrap();
    let out = hyperchain(
        dir.path(),
        &[
            "attest",
            "verify",
            "e.bin",
            "--platform",
            "sev-snp",
            "--endorsements",
            "bad.json",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}
