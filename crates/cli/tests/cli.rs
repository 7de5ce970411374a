//! End-to-end tests of the `hyperchain` binary, as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

fn hyperchain(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hyperchain"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run hyperchain")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

mod vm {
    use super::*;

    #[test]
    fn counter_state_persists_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let first = json(&hyperchain(
            d,
            &[
                "vm",
                "run",
                "counter",
                "increment",
                "u64:5",
                "--decode",
                "u64",
                "--json",
            ],
        ));
        assert_eq!(first["status"], "ok");
        assert_eq!(first["decoded"], "5");
        assert_eq!(first["events"].as_array().unwrap().len(), 1);
        assert_eq!(first["committed"]["height"], 1);
        let second = json(&hyperchain(
            d,
            &[
                "vm",
                "run",
                "counter",
                "increment",
                "u64:7",
                "--decode",
                "u64",
                "--json",
            ],
        ));
        assert_eq!(second["decoded"], "12");
        assert_eq!(second["committed"]["height"], 2);

        let state = json(&hyperchain(
            d,
            &["vm", "state", "--contract", "counter", "--json"],
        ));
        assert_eq!(state["height"], 2);
        assert_eq!(state["state_root"], second["committed"]["state_root"]);
        assert_eq!(state["contract"]["storage_root"], second["storage_root"]);
        assert_eq!(state["contract"]["entries"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn failed_and_dry_runs_commit_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        json(&hyperchain(
            d,
            &["vm", "run", "counter", "increment", "u64:1", "--json"],
        ));
        let before = json(&hyperchain(d, &["vm", "state", "--json"]));

        // Out of fuel: exit code 2, status reported, nothing committed.
        let out = hyperchain(
            d,
            &[
                "vm",
                "run",
                "heavy",
                "sha256_chain_store",
                "u32:1000",
                "--fuel",
                "5000",
                "--json",
            ],
        );
        assert_eq!(out.status.code(), Some(2));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["status"], "out_of_fuel");
        assert_eq!(v["fuel_used"], 5000);
        assert!(v["committed"].is_null());

        // A revert.
        let out = hyperchain(
            d,
            &[
                "vm",
                "run",
                "token",
                "transfer",
                &format!("addr:{}", "22".repeat(32)),
                "u64:1",
            ],
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("reverted"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );

        // A dry run that would write.
        let out = json(&hyperchain(
            d,
            &[
                "vm",
                "run",
                "counter",
                "increment",
                "u64:1",
                "--dry-run",
                "--json",
            ],
        ));
        assert!(out["committed"].is_null());
        assert_eq!(out["writes"].as_object().unwrap().len(), 1);

        let after = json(&hyperchain(d, &["vm", "state", "--json"]));
        assert_eq!(before, after);
    }

    #[test]
    fn bad_input_gets_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let cases: &[(&[&str], &str)] = &[
            (
                &["vm", "run", "counter", "increment", "5"],
                "must be TYPE:VALUE",
            ),
            (&["vm", "run", "counter", "increment", "u64:-1"], "u64:-1"),
            (
                &["vm", "run", "counter", "nope"],
                "has no method `nope` (methods: get, increment, reset)",
            ),
            (
                &["vm", "run", "nosuch.wasm", "m"],
                "no file `nosuch.wasm` and no built-in example",
            ),
            (
                &["vm", "run", "counter", "get", "--input-hex", "zz"],
                "--input-hex is not hex",
            ),
            (
                &["vm", "state", "--state", "missing-dir"],
                "no state at missing-dir",
            ),
        ];
        for (args, msg) in cases {
            let out = hyperchain(d, args);
            assert!(!out.status.success(), "{args:?} should fail");
            assert!(stderr(&out).contains(msg), "{args:?}: {}", stderr(&out));
        }
        // Nothing was created by the failed runs except what they opened legitimately.
        assert!(!d.join("missing-dir").exists());
    }

    #[test]
    fn inspect_explains_rejections() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ok = json(&hyperchain(d, &["vm", "inspect", "token", "--json"]));
        assert_eq!(ok["deployable"], true);
        assert!(
            ok["info"]["methods"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "transfer")
        );

        std::fs::write(d.join("bad.wasm"), b"\0asm\x01\0\0\0\x05garbage").unwrap();
        let out = hyperchain(d, &["vm", "inspect", "bad.wasm"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stdout).contains("rejected: malformed module"));

        // A module importing something outside the host API (hand-assembled: imports env::f).
        let module: &[u8] = &[
            0, 97, 115, 109, 1, 0, 0, 0, // header
            1, 4, 1, 96, 0, 0, // type section: one () -> ()
            2, 9, 1, 3, b'e', b'n', b'v', 1, b'f', 0, 0, // import env::f
            3, 2, 1, 0, // one function of type 0
            7, 5, 1, 1, b'm', 0, 1, // export "m" = func 1
            10, 4, 1, 2, 0, 11, // body
        ];
        std::fs::write(d.join("imports.wasm"), module).unwrap();
        let out = hyperchain(d, &["vm", "inspect", "imports.wasm", "--json"]);
        assert_eq!(out.status.code(), Some(2));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["deployable"], false);
        assert!(
            v["rejection"]
                .as_str()
                .unwrap()
                .contains("forbidden import env::f"),
            "{v}"
        );
    }

    #[test]
    fn examples_lists_every_contract() {
        let dir = tempfile::tempdir().unwrap();
        let v = json(&hyperchain(dir.path(), &["vm", "examples", "--json"]));
        let names: Vec<_> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect();
        for n in [
            "counter",
            "token",
            "heavy",
            "adversarial",
            "nan",
            "hostcalls",
            "noop",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }
    }
}
