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
        "failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[path = "cli/attest.rs"]
mod attest;

/// `hyperchain simulate`: the scale simulation from the command line, on a small network.
mod simulate {
    use super::*;

    #[test]
    fn simulate_prints_runs_per_series_and_plots_them() {
        let dir = tempfile::tempdir().unwrap();
        let args = [
            "simulate",
            "--validators",
            "7",
            "--regions",
            "3",
            "--pairs",
            "3,6",
            "--warmup",
            "2",
            "--seconds",
            "3",
            "--execution",
            "certify,deferred",
            "--json",
            "--svg",
            "scale.svg",
        ];
        let out = hyperchain(dir.path(), &args);
        let report = json(&out);
        assert!(stderr(&out).contains("calibration: sha256_chain(30000) uses"));
        assert!(report["calibration"]["fuel_per_ms"].as_f64().unwrap() > 0.0);
        let series = report["series"].as_array().unwrap();
        assert_eq!(series.len(), 2, "{report}");
        assert_eq!(series[0]["config"]["deferred_execution"], false);
        assert_eq!(series[0]["config"]["certify"], true);
        assert_eq!(series[0]["config"]["dissemination"], "compact");
        assert_eq!(series[1]["config"]["deferred_execution"], true);
        for s in series {
            let runs = s["runs"].as_array().unwrap();
            assert_eq!(runs.len(), 2);
            assert_eq!(runs[0]["pairs"], 3);
            assert_eq!(runs[1]["pairs"], 6);
            for r in runs {
                assert!(r["efficiency"].as_f64().unwrap() > 0.9, "{r}");
                assert_eq!(r["bound"], "-", "{r}");
            }
            let (a, b) = (
                runs[0]["jobs_per_sec"].as_f64().unwrap(),
                runs[1]["jobs_per_sec"].as_f64().unwrap(),
            );
            assert!(b > 1.8 * a, "twice the pairs: {a} → {b}");
        }
        let svg = std::fs::read_to_string(dir.path().join("scale.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("deferred execution"));
        assert_eq!(svg.matches("<circle").count(), 4);

        // With the execution time fixed (not measured), the same seed gives the same figures.
        let mut fixed = args.to_vec();
        fixed.extend(["--exec-ms", "10"]);
        let first = json(&hyperchain(dir.path(), &fixed));
        let second = json(&hyperchain(dir.path(), &fixed));
        assert!(first["calibration"].is_null());
        assert_eq!(first["series"], second["series"]);

        // A saved result prints and plots again without simulating.
        std::fs::write(dir.path().join("saved.json"), first.to_string()).unwrap();
        let replot = hyperchain(
            dir.path(),
            &[
                "simulate",
                "--from-json",
                "saved.json",
                "--json",
                "--svg",
                "again.svg",
            ],
        );
        assert_eq!(json(&replot)["series"], first["series"]);
        let again = std::fs::read_to_string(dir.path().join("again.svg")).unwrap();
        assert!(
            again.contains("execution before the finalize vote")
                && again.contains("deferred execution")
        );
        std::fs::write(dir.path().join("bad.json"), "{\"series\": 3}").unwrap();
        let bad = hyperchain(dir.path(), &["simulate", "--from-json", "bad.json"]);
        assert!(!bad.status.success());
        assert!(
            stderr(&bad).contains("is not the output of `simulate --json`"),
            "{}",
            stderr(&bad)
        );
        let text = hyperchain(
            dir.path(),
            &[
                "simulate",
                "--validators",
                "7",
                "--regions",
                "3",
                "--pairs",
                "3",
                "--warmup",
                "1",
                "--seconds",
                "2",
                "--exec-ms",
                "20",
                "--dissemination",
                "digests,coded",
            ],
        );
        assert!(text.status.success(), "{}", stderr(&text));
        let stdout = String::from_utf8_lossy(&text.stdout);
        for series in [
            "20.0 ms jobs, digests, execution before the finalize vote, 1 verify thread",
            "20.0 ms jobs, coded blocks, execution before the finalize vote, 1 verify thread",
        ] {
            assert!(stdout.contains(series), "{stdout}");
        }
        assert!(stdout.contains("linear%"), "{stdout}");
    }

    #[test]
    fn simulate_refuses_bad_configurations() {
        let dir = tempfile::tempdir().unwrap();
        for (args, expected) in [
            (
                vec!["--pairs", "2", "--regions", "3"],
                "every region needs a pair",
            ),
            (vec!["--workload", "light"], "heavy jobs only"),
            (vec!["--exec-ms", "0"], "positive number"),
            (
                vec!["--regions", "11", "--pairs", "11"],
                "regions must be 1..=10",
            ),
            (
                vec!["--validators", "3", "--regions", "3", "--pairs", "3"],
                "at least 4 validators",
            ),
        ] {
            let mut all = vec!["simulate", "--seconds", "1"];
            all.extend(args);
            let out = hyperchain(dir.path(), &all);
            assert!(!out.status.success(), "{all:?} succeeded");
            assert!(stderr(&out).contains(expected), "{all:?}: {}", stderr(&out));
        }
    }
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

mod chain {
    use super::*;
    use hyperchain_chain::runner::Status;
    use std::net::TcpListener;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::PathBuf;
    use std::process::{Child, Stdio};
    use std::time::{Duration, Instant};

    const VALIDATORS: usize = 4;
    const TIMEOUT: Duration = Duration::from_secs(120);

    /// A base port with `count` consecutive free ports on 127.0.0.1.
    fn free_ports(count: u16) -> u16 {
        let mut base = 20_000 + (std::process::id() % 2_000) as u16 * 10;
        loop {
            let listeners: Vec<_> = (0..count)
                .map_while(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
                .collect();
            if listeners.len() == count as usize {
                return base;
            }
            base += count + 7;
        }
    }

    #[test]
    fn keys_generate_writes_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let v = json(&hyperchain(
            d,
            &["keys", "generate", "--out", "alice.key", "--json"],
        ));
        let address = v["address"].as_str().unwrap();
        assert_eq!(address.len(), 64);
        assert!(v.get("private_key").is_none(), "written, not printed");
        let mode = std::fs::metadata(d.join("alice.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let shown = json(&hyperchain(d, &["keys", "show", "alice.key", "--json"]));
        assert_eq!(shown["address"], address);
        // Never overwritten.
        let again = hyperchain(d, &["keys", "generate", "--out", "alice.key"]);
        assert!(!again.status.success());
        assert!(stderr(&again).contains("alice.key"), "{}", stderr(&again));
    }

    #[test]
    fn genesis_init_writes_a_devnet_and_refuses_to_overwrite_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let base = free_ports(8);
        let base_text = base.to_string();
        let args = [
            "genesis",
            "init",
            "--validators",
            "4",
            "--dir",
            "net",
            "--chain",
            "testnet",
            "--base-port",
            &base_text,
            "--pipeline-depth",
            "4",
            "--json",
        ];
        // A pipeline depth out of range is refused before anything is written.
        let mut bad = args.to_vec();
        bad[11] = "0";
        let out = hyperchain(d, &bad);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("--pipeline-depth"),
            "{}",
            stderr(&out)
        );
        assert!(!d.join("net").exists());
        let report = json(&hyperchain(d, &args));
        assert_eq!(report["chain"], "testnet");
        let validators = report["validators"].as_array().unwrap();
        assert_eq!(validators.len(), 4);
        assert_eq!(validators[3]["p2p"], format!("127.0.0.1:{}", base + 3));
        assert_eq!(validators[3]["rpc"], format!("127.0.0.1:{}", base + 7));
        assert_eq!(report["key_generation"], "ceremony", "{report}");
        for i in 0..4 {
            let key = d.join(format!("net/validator-{i}/validator.key"));
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", key.display());
            assert!(d.join(format!("net/validator-{i}/config.json")).exists());
        }
        let shown = json(&hyperchain(
            d,
            &["genesis", "show", "net/genesis.json", "--json"],
        ));
        assert_eq!(shown["chain_id"], report["chain_id"]);
        assert_eq!(shown["threshold"], 3);
        assert_eq!(shown["compute"]["pipeline_depth"], 4);

        let again = hyperchain(d, &args);
        assert!(!again.status.success());
        assert!(
            stderr(&again).contains("already exists"),
            "{}",
            stderr(&again)
        );

        // A node whose key file others can read does not start.
        let key = d.join("net/validator-0/validator.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = hyperchain(d, &["node", "--config", "net/validator-0/config.json"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    }

    /// A genesis ceremony across processes, as operators on separate hosts run it: each
    /// validator generates its key, a draft names them, and each runs its part. With one
    /// validator missing, the others write nothing (its share would be public) and say so; with
    /// all four, each gets the same genesis and its own share, which a node accepts. A key
    /// that is not in the draft is refused.
    #[test]
    fn a_genesis_ceremony_across_processes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let base = free_ports(4);
        let mut validators = Vec::new();
        for i in 0..4 {
            std::fs::create_dir_all(d.join(format!("v{i}"))).unwrap();
            let key = format!("v{i}/validator.key");
            let made = json(&hyperchain(
                d,
                &["genesis", "keygen", "--out", &key, "--json"],
            ));
            let pk = made["public_key"].as_str().unwrap().to_string();
            validators.push(format!("{pk}@127.0.0.1:{}", base + i));
        }
        let mut draft_args = vec!["genesis", "draft", "--out", "draft.json"];
        for v in &validators {
            draft_args.extend(["--validator", v.as_str()]);
        }
        let drafted = hyperchain(d, &draft_args);
        assert!(drafted.status.success(), "{}", stderr(&drafted));
        let draft_shown = json(&hyperchain(d, &["genesis", "show", "draft.json", "--json"]));
        assert_eq!(draft_shown["draft"], true, "{draft_shown}");

        let run = |who: &[usize], attempt: &str| -> Vec<Output> {
            let children: Vec<Child> = who
                .iter()
                .map(|i| {
                    Command::new(env!("CARGO_BIN_EXE_hyperchain"))
                        .current_dir(d)
                        .args(["genesis", "ceremony", "--genesis", "draft.json", "--json"])
                        .args(["--linger", "2", "--key"])
                        .arg(format!("v{i}/validator.key"))
                        .arg("--out")
                        .arg(format!("v{i}/genesis.json"))
                        .arg("--data-dir")
                        .arg(format!("v{i}/ceremony-{attempt}"))
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            children
                .into_iter()
                .map(|c| c.wait_with_output().unwrap())
                .collect()
        };

        // Validator 3 is missing: the others' ceremony reveals its share, so none completes.
        for out in run(&[0, 1, 2], "first") {
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            assert!(stderr(&out).contains("revealed"), "{}", stderr(&out));
        }
        for i in 0..4 {
            assert!(!d.join(format!("v{i}/genesis.json")).exists());
            let key = std::fs::read_to_string(d.join(format!("v{i}/validator.key"))).unwrap();
            assert!(!key.contains("bls_share"), "no share was added");
        }

        // All four: the same genesis everywhere, a share each.
        let outs = run(&[0, 1, 2, 3], "second");
        let mut ids = Vec::new();
        for out in &outs {
            assert!(out.status.success(), "{}", stderr(out));
            ids.push(json(out)["chain_id"].as_str().unwrap().to_string());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
        let shown = json(&hyperchain(
            d,
            &["genesis", "show", "v0/genesis.json", "--json"],
        ));
        assert_eq!(shown["chain_id"], ids[0].as_str());
        assert_eq!(shown["threshold"], 3);
        for i in 0..4 {
            let key = std::fs::read_to_string(d.join(format!("v{i}/validator.key"))).unwrap();
            assert!(key.contains("bls_share"), "{key}");
            let a = std::fs::read(d.join(format!("v{i}/genesis.json"))).unwrap();
            let b = std::fs::read(d.join("v0/genesis.json")).unwrap();
            assert_eq!(a, b, "identical genesis files");
        }

        // A key the draft does not name is refused before any network is used.
        json(&hyperchain(
            d,
            &["genesis", "keygen", "--out", "stranger.key", "--json"],
        ));
        let stranger = hyperchain(
            d,
            &[
                "genesis",
                "ceremony",
                "--genesis",
                "draft.json",
                "--key",
                "stranger.key",
                "--out",
                "stranger-genesis.json",
            ],
        );
        assert_eq!(stranger.status.code(), Some(1));
        assert!(
            stderr(&stranger).contains("not one of the draft's validators"),
            "{}",
            stderr(&stranger)
        );
    }

    struct Node {
        child: Child,
        config: PathBuf,
        data: PathBuf,
        log: PathBuf,
    }

    impl Node {
        fn start(dir: &Path, index: usize) -> Node {
            Node::start_in(dir.join(format!("validator-{index}")))
        }

        /// `hyperchain node` configured by `vdir/config.json`, its data in `vdir/data`.
        fn start_in(vdir: PathBuf) -> Node {
            Node::start_with(vdir, &[])
        }

        /// [`Node::start_in`] with more arguments.
        fn start_with(vdir: PathBuf, args: &[&str]) -> Node {
            let log = vdir.join("node.log");
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap();
            let config = vdir.join("config.json");
            let child = Command::new(env!("CARGO_BIN_EXE_hyperchain"))
                .arg("node")
                .arg("--config")
                .arg(&config)
                .args(args)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("start hyperchain node");
            Node {
                child,
                config,
                data: vdir.join("data"),
                log,
            }
        }

        fn status(&self) -> Option<Status> {
            Status::load(&self.data.join("status.json")).ok()
        }

        fn height(&self) -> u64 {
            self.status().map_or(0, |s| s.height)
        }
    }

    /// `genesis init` of a 4-validator devnet in `dir/net` on free loopback ports, and its
    /// validators started as `hyperchain node` processes.
    fn start_devnet(dir: &Path) -> (PathBuf, Vec<Node>) {
        let base = free_ports(2 * VALIDATORS as u16);
        let base = base.to_string();
        json(&hyperchain(
            dir,
            &[
                "genesis",
                "init",
                "--validators",
                "4",
                "--dir",
                "net",
                "--base-port",
                &base,
                "--json",
            ],
        ));
        let net = dir.join("net");
        let nodes = (0..VALIDATORS).map(|i| Node::start(&net, i)).collect();
        (net, nodes)
    }

    fn wait_until(nodes: &mut [Node], what: &str, done: impl Fn(&[Node]) -> bool) {
        wait_until_for(nodes, what, TIMEOUT, done)
    }

    /// `wait_until` with its own time limit.
    fn wait_until_for(
        nodes: &mut [Node],
        what: &str,
        limit: Duration,
        done: impl Fn(&[Node]) -> bool,
    ) {
        let start = Instant::now();
        while !done(nodes) {
            for (i, n) in nodes.iter_mut().enumerate() {
                if let Ok(Some(status)) = n.child.try_wait() {
                    let log = std::fs::read_to_string(&n.log).unwrap_or_default();
                    panic!("validator {i} exited ({status}) waiting for {what}:\n{log}");
                }
            }
            let heights: Vec<u64> = nodes.iter().map(Node::height).collect();
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; heights {heights:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Four validator processes started by the key-generation ceremony, with epochs of 174
    /// blocks (the shortest for 4), under a stream of transactions, with a compute node
    /// registered in epoch 0. A fifth process set up by `validator init` announces itself;
    /// governance admits it and removes validator 3; in epoch 1 it starts by state sync from
    /// validator 1's checkpoint. Over TCP the chain crosses three epoch boundaries — each a
    /// resharing of the key, whose output the last block of each epoch carries — after which
    /// the newcomer holds a share: with validators 0 and 3 stopped, the newcomer and
    /// validators 1 and 2 (3 of 4) go on finalizing. Tokens of epoch 0 and of the last epoch
    /// verify with the genesis group key alone; every process holds the same blocks and no
    /// transaction is lost. An epoch too short for the validators is refused at genesis.
    #[test]
    fn a_validator_joins_and_another_leaves_across_processes() {
        const EPOCH: u64 = 174;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let base = free_ports(10);
        let init = json(&hyperchain(
            d,
            &[
                "genesis",
                "init",
                "--validators",
                "4",
                "--dir",
                "net",
                "--base-port",
                &base.to_string(),
                "--blocks-per-epoch",
                &EPOCH.to_string(),
                "--json",
            ],
        ));
        let short = hyperchain(
            d,
            &[
                "genesis",
                "init",
                "--validators",
                "4",
                "--dir",
                "short",
                "--base-port",
                &base.to_string(),
                "--blocks-per-epoch",
                "100",
                "--dealer",
            ],
        );
        assert!(
            stderr(&short).contains("blocks_per_epoch"),
            "{}",
            stderr(&short)
        );
        let net = d.join("net");
        let mut nodes = Running((0..VALIDATORS).map(|i| Node::start(&net, i)).collect());
        wait_until(&mut nodes.0, "height 1 everywhere", |n| {
            n.iter().all(|n| n.height() >= 1)
        });
        let rpc0 = rpc_url(&nodes.0[0].config);
        let rpc1 = rpc_url(&nodes.0[1].config);
        let load = Load::start(d, &rpc1);

        // A compute node registered in epoch 0, and its attestation token from then.
        govern(d, &rpc0, &["add-release"]);
        funded(d, &rpc0, "op.key");
        json(&hyperchain(
            d,
            &["keys", "generate", "--out", "intel.key", "--json"],
        ));
        let registered = json(&hyperchain_at(
            d,
            &rpc0,
            &[
                "node",
                "register",
                "--platform",
                "sim-intel",
                "--identity",
                "intel.key",
                "--region",
                "eu",
                "--key",
                "op.key",
                "--json",
            ],
        ));
        assert_eq!(registered["outcome"]["kind"], "accepted", "{registered}");
        let intel_id =
            json(&hyperchain_at(d, &rpc0, &["node", "list", "--json"]))["nodes"][0]["id"]
                .as_str()
                .unwrap()
                .to_string();
        let token = |rpc: &str, out: &str| {
            let got = hyperchain_at(d, rpc, &["token", "get", &intel_id, "--out", out]);
            assert!(got.status.success(), "{}", stderr(&got));
        };
        token(&rpc0, "epoch0.token");
        let group_key = json(&hyperchain(
            d,
            &["genesis", "show", "net/genesis.json", "--json"],
        ))["group_public_key"]
            .as_str()
            .unwrap()
            .to_string();

        // The newcomer: its directory, its account funded, its announcement, its process.
        let p2p = format!("127.0.0.1:{}", base + 8);
        let joiner = json(&hyperchain(
            d,
            &[
                "validator",
                "init",
                "--genesis",
                "net/genesis.json",
                "--dir",
                "joiner",
                "--p2p-listen",
                &p2p,
                "--rpc-listen",
                &format!("127.0.0.1:{}", base + 9),
                "--json",
            ],
        ));
        let joiner_pk = joiner["public_key"].as_str().unwrap().to_string();
        let account = joiner["account"].as_str().unwrap();
        let sent = json(&hyperchain_at(
            d,
            &rpc0,
            &[
                "transfer",
                "10",
                "--to",
                account,
                "--key",
                "net/faucet.key",
                "--json",
            ],
        ));
        assert_eq!(sent["outcome"]["kind"], "accepted", "{sent}");
        let announced = json(&hyperchain_at(
            d,
            &rpc0,
            &[
                "validator",
                "announce",
                "--validator-key",
                "joiner/validator.key",
                "--address",
                &p2p,
                "--json",
            ],
        ));
        assert_eq!(announced["outcome"]["kind"], "accepted", "{announced}");

        // Governance admits it and removes validator 3.
        let leaver_pk = init["validators"][3]["public_key"].as_str().unwrap();
        govern(d, &rpc0, &["admit-validator", &joiner_pk]);
        govern(d, &rpc0, &["remove-validator", leaver_pk]);
        let decided = json(&hyperchain_at(d, &rpc0, &["status", "--json"]))["height"]
            .as_u64()
            .unwrap();
        // It signs three boundaries after the deciding epoch (four after its middle block).
        let effective = decided / EPOCH + if decided % EPOCH < EPOCH / 2 { 3 } else { 4 };
        let target = effective * EPOCH + 3;

        // In epoch 1 (the validators' peer sets name it from then on), the newcomer starts
        // from validator 1's newest checkpoint instead of replaying the chain.
        wait_until_for(&mut nodes.0, "epoch 1", TIMEOUT * 2, |n| {
            n.iter().all(|n| n.height() > EPOCH)
        });
        // A source that cannot be reached: a clear error, and nothing kept.
        let unreachable = format!("http://127.0.0.1:{}", free_ports(1));
        let failed = hyperchain(
            d,
            &[
                "node",
                "--config",
                "joiner/config.json",
                "--sync-from",
                &unreachable,
            ],
        );
        assert!(!failed.status.success());
        assert!(
            stderr(&failed).contains("nothing was kept"),
            "{}",
            stderr(&failed)
        );
        assert!(!d.join("joiner/data/ledger").exists());
        nodes
            .0
            .push(Node::start_with(d.join("joiner"), &["--sync-from", &rpc1]));
        wait_until(&mut nodes.0, "the newcomer to sync", |n| {
            n[4].height() >= EPOCH
        });
        let log = std::fs::read_to_string(&nodes.0[4].log).unwrap();
        assert!(log.contains("state synced"), "{log}");
        let floor = nodes.0[4].height();
        for boundary in 2..=effective {
            wait_until_for(
                &mut nodes.0,
                &format!("epoch {boundary}"),
                TIMEOUT * 2,
                |n| {
                    n.iter()
                        .all(|n| n.height() >= (boundary * EPOCH).min(target))
                },
            );
        }
        wait_until(&mut nodes.0, "the newcomer's epoch", |n| {
            n.iter().all(|n| n.height() >= target)
        });
        let sets = http_get(&nodes.0[4].config, "/validators");
        assert_eq!(sets["active"]["epoch"], effective, "{sets}");
        let active: Vec<&str> = sets["active"]["validators"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["public_key"].as_str().unwrap())
            .collect();
        assert!(active.contains(&joiner_pk.as_str()), "{sets}");
        assert!(!active.contains(&leaver_pk), "{sets}");
        for epoch in 0..effective {
            let last = http_get(
                &nodes.0[1].config,
                &format!("/block/{}", (epoch + 1) * EPOCH - 1),
            );
            assert!(
                last["reshare"].is_string(),
                "epoch {epoch}'s last block: {last}"
            );
        }
        // Tokens verify with the genesis's group key alone, whichever epoch's validators
        // signed their block: one minted in epoch 0, one served now by the newcomer.
        let rpc_joiner = rpc_url(&nodes.0[4].config);
        token(&rpc_joiner, "later.token");
        for (file, epoch_at_least) in [("epoch0.token", 0), ("later.token", effective)] {
            let verified = json(&hyperchain(
                d,
                &[
                    "token",
                    "verify",
                    file,
                    "--network-key",
                    &group_key,
                    "--json",
                ],
            ));
            assert_eq!(verified["valid"], true, "{verified}");
            let height = verified["height"].as_u64().unwrap();
            assert!(height / EPOCH >= epoch_at_least, "{file}: {verified}");
            if epoch_at_least == 0 {
                assert!(height < EPOCH, "{file}: {verified}");
            }
        }

        // The newcomer holds blocks from its checkpoint on, not before.
        let (joiner_status, _) = http_status(&nodes.0[4].config, "/block/1");
        assert_eq!(joiner_status, 404);
        let at_floor = http_get(&nodes.0[4].config, &format!("/block/{floor}"));
        assert_eq!(
            at_floor["digest"],
            http_get(&nodes.0[1].config, &format!("/block/{floor}"))["digest"]
        );

        // Validators 0 and 3 stop: the newcomer's share is needed for a quorum, and the chain
        // goes on. What they finalized is in everyone's chain.
        let mut stopped = Vec::new();
        for i in [3, 0] {
            let mut node = nodes.0.remove(i);
            node.child.kill().unwrap();
            node.child.wait().unwrap();
            stopped.push(Status::load(&node.data.join("status.json")).unwrap());
        }
        let target = nodes.0.iter().map(Node::height).max().unwrap() + 10;
        wait_until(
            &mut nodes.0,
            "validators 1, 2 and the newcomer to go on",
            |n| n.iter().all(|n| n.height() >= target),
        );
        for s in &stopped {
            let block = http_get(&nodes.0[2].config, &format!("/block/{}", s.height));
            assert_eq!(block["digest"], s.digest.as_str(), "{block}");
        }
        let digests: Vec<serde_json::Value> = nodes
            .0
            .iter()
            .map(|n| http_get(&n.config, &format!("/block/{target}"))["digest"].clone())
            .collect();
        assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
        load.finish(d, &rpc_url(&nodes.0[2].config));
    }

    /// Four `hyperchain node` processes over loopback TCP; validator 3 is killed with SIGKILL,
    /// the others keep finalizing, and once restarted it catches up from its own disk and its
    /// peers. Then everyone stops gracefully and every ledger holds the same chain.
    #[test]
    fn four_processes_survive_a_kill_and_catch_up() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (net, mut nodes) = start_devnet(d);
        wait_until(&mut nodes, "height 3 everywhere", |n| {
            n.iter().all(|n| n.height() >= 3)
        });

        // Load: a counter deployed through validator 0, then a stream of increments sent to it
        // (explicit nonces, not waiting) during the kill, the restart and the catch-up.
        let rpc0 = rpc_url(&nodes[0].config);
        let load = Load::start(d, &rpc0);

        // kill -9 validator 3.
        let victim = nodes.pop().unwrap();
        let mut child = victim.child;
        child.kill().unwrap();
        child.wait().unwrap();
        let killed_height = Status::load(&victim.data.join("status.json"))
            .unwrap()
            .height;
        let target = nodes.iter().map(Node::height).max().unwrap() + 5;
        wait_until(&mut nodes, "the others to advance", |n| {
            n.iter().all(|n| n.height() >= target)
        });

        // Restart it: it resumes at least where it was and catches up with the others.
        nodes.push(Node::start(&net, 3));
        wait_until(&mut nodes, "the restarted validator to resume", |n| {
            n[3].status().is_some_and(|s| s.running && s.pid != 0)
                && n[3].status().unwrap().height >= killed_height
        });
        let others = nodes[..3].iter().map(Node::height).max().unwrap();
        wait_until(&mut nodes, "the restarted validator to catch up", |n| {
            n[3].height() >= others
        });

        // Every increment sent under load is finalized, and the restarted validator's state
        // has all of them.
        let rpc3 = rpc_url(&nodes[3].config);
        load.finish(d, &rpc3);

        // Each validator serves RPC: the restarted one answers with the chain's id and tip,
        // and blocks come with their finality certificates.
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(net.join("genesis.json")).unwrap())
                .unwrap();
        let rpc = nodes[3].status().unwrap();
        let status = http_get(&nodes[3].config, "/status");
        assert_eq!(status["chain_id"], report["chain_id"]);
        assert!(status["height"].as_u64().unwrap() >= rpc.height);
        let block = http_get(&nodes[0].config, "/block/2");
        assert_eq!(block["height"], 2);
        assert!(block["finalization"].is_string(), "{block}");

        // Graceful stop: SIGTERM, exit 0.
        for n in &nodes {
            let pid = rustix::process::Pid::from_child(&n.child);
            rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        }
        for (i, n) in nodes.iter_mut().enumerate() {
            let status = n.child.wait().unwrap();
            assert!(status.success(), "validator {i} exited with {status}");
            assert!(!n.status().unwrap().running);
        }

        // Every validator finalized the same blocks, and nothing finalized was lost.
        let heads: Vec<Status> = nodes.iter().map(|n| n.status().unwrap()).collect();
        let common = heads.iter().map(|s| s.height).min().unwrap();
        assert!(common >= others, "{heads:?}");
        // One engine for the process (it reserves a pool of instance slots).
        let engine = hyperchain_vm::Engine::new(hyperchain_vm::EngineConfig::default()).unwrap();
        let ledgers: Vec<_> = nodes
            .iter()
            .map(|n| open_ledger(&n.config, engine.clone()))
            .collect();
        for height in 0..=common {
            let reference = ledgers[0].block(height).unwrap().expect("finalized block");
            for (i, ledger) in ledgers.iter().enumerate().skip(1) {
                assert_eq!(
                    ledger.block(height).unwrap().as_ref(),
                    Some(&reference),
                    "validator {i} differs at height {height}"
                );
            }
        }
    }

    /// A GET to the RPC server of the validator configured by `config`: the status code and
    /// the body.
    fn http_status(config: &Path, path: &str) -> (u16, String) {
        use std::io::{Read as _, Write as _};
        let setup = hyperchain_chain::config::ValidatorSetup::load(config).unwrap();
        let mut stream = std::net::TcpStream::connect(setup.config.rpc_listen).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (code, body.to_string())
    }

    /// A GET to the RPC server of the validator configured by `config` (plain HTTP/1.0),
    /// which must answer 200: its JSON body.
    fn http_get(config: &Path, path: &str) -> serde_json::Value {
        let (code, body) = http_status(config, path);
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn open_ledger(
        config: &Path,
        engine: hyperchain_vm::Engine,
    ) -> hyperchain_chain::ledger::Ledger {
        let setup = hyperchain_chain::config::ValidatorSetup::load(config).unwrap();
        hyperchain_chain::ledger::Ledger::open(
            &setup
                .config
                .data_dir
                .join(hyperchain_chain::runner::LEDGER_DIR),
            setup.spec.ledger_genesis(),
            hyperchain_chain::execute::Executor::new(engine, setup.spec.chain_id),
        )
        .unwrap()
    }

    /// A counter deployed by a funded `load.key`, and a thread sending it increments (explicit
    /// nonces, not waiting) to one validator's RPC until `finish`.
    struct Load {
        counter: String,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        thread: std::thread::JoinHandle<u64>,
    }

    impl Load {
        fn start(dir: &Path, rpc: &str) -> Load {
            funded(dir, rpc, "load.key");
            let deployed = json(&hyperchain(
                dir,
                &[
                    "deploy", "counter", "--key", "load.key", "--rpc", rpc, "--json",
                ],
            ));
            let counter = deployed["address"].as_str().unwrap().to_string();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let thread = {
                let (stop, dir, rpc, counter) = (
                    stop.clone(),
                    dir.to_path_buf(),
                    rpc.to_string(),
                    counter.clone(),
                );
                std::thread::spawn(move || {
                    let mut sent = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let nonce = (sent + 1).to_string();
                        let out = hyperchain(
                            &dir,
                            &[
                                "call",
                                &counter,
                                "increment",
                                "u64:1",
                                "--key",
                                "load.key",
                                "--nonce",
                                &nonce,
                                "--no-wait",
                                "--fuel",
                                "10000000",
                                "--rpc",
                                &rpc,
                            ],
                        );
                        assert!(
                            out.status.success(),
                            "{}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                        sent += 1;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    sent
                })
            };
            Load {
                counter,
                stop,
                thread,
            }
        }

        /// Stops sending and waits until the counter read through `rpc` holds every increment
        /// sent: none was lost.
        fn finish(self, dir: &Path, rpc: &str) {
            self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let sent = self.thread.join().unwrap();
            assert!(sent > 0);
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let v = json(&hyperchain(
                    dir,
                    &[
                        "query",
                        &self.counter,
                        "get",
                        "--decode",
                        "u64",
                        "--rpc",
                        rpc,
                        "--json",
                    ],
                ));
                if v["decoded"].as_str() == Some(sent.to_string().as_str()) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "counter {} of {sent} increments",
                    v["decoded"]
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    /// Kills the validators when a test ends (or panics).
    struct Running(Vec<Node>);

    impl Drop for Running {
        fn drop(&mut self) {
            for n in &mut self.0 {
                let _ = n.child.kill();
                let _ = n.child.wait();
            }
        }
    }

    /// A 4-process devnet in `dir` once every validator finalized height 1: its directory,
    /// the running validators (stopped when dropped) and validator 0's RPC URL.
    fn live_devnet(dir: &Path) -> (PathBuf, Running, String) {
        let (net, nodes) = start_devnet(dir);
        let mut nodes = Running(nodes);
        wait_until(&mut nodes.0, "height 1 everywhere", |n| {
            n.iter().all(|n| n.height() >= 1)
        });
        let rpc = rpc_url(&nodes.0[0].config);
        (net, nodes, rpc)
    }

    /// Governance action `args` (`governance ARGS…`) proposed by validator 0 and approved by
    /// validators 1 and 2 (2f+1 of 4): the last approval's `--json` output, once carried out.
    fn govern(dir: &Path, rpc: &str, args: &[&str]) -> serde_json::Value {
        let mut proposal_args = vec!["governance"];
        proposal_args.extend_from_slice(args);
        proposal_args.extend(["--validator-key", "net/validator-0/validator.key", "--json"]);
        let proposed = json(&hyperchain_at(dir, rpc, &proposal_args));
        assert_eq!(proposed["outcome"]["kind"], "accepted", "{proposed}");
        let id = proposed["tx_id"].as_str().unwrap().to_string();
        let mut last = proposed;
        for v in 1..=2 {
            let key = format!("net/validator-{v}/validator.key");
            last = json(&hyperchain_at(
                dir,
                rpc,
                &[
                    "governance",
                    "approve",
                    &id,
                    "--validator-key",
                    &key,
                    "--json",
                ],
            ));
            assert_eq!(last["outcome"]["kind"], "accepted", "{last}");
        }
        last
    }

    /// Creates the account key file `key` in `dir` (if missing) and funds it with 1,000 HYP
    /// from the devnet's faucet (`net/faucet.key`) with `hyperchain transfer`; its address.
    fn funded(dir: &Path, rpc: &str, key: &str) -> String {
        if !dir.join(key).exists() {
            json(&hyperchain(
                dir,
                &["keys", "generate", "--out", key, "--json"],
            ));
        }
        let address = json(&hyperchain(dir, &["keys", "show", key, "--json"]))["address"]
            .as_str()
            .unwrap()
            .to_string();
        let sent = json(&hyperchain_at(
            dir,
            rpc,
            &[
                "transfer",
                "1000",
                "--to",
                &address,
                "--key",
                "net/faucet.key",
                "--json",
            ],
        ));
        assert_eq!(sent["outcome"]["kind"], "accepted", "{sent}");
        address
    }

    /// `hyperchain ARGS --rpc RPC` in `dir`.
    fn hyperchain_at(dir: &Path, rpc: &str, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--rpc", rpc]);
        hyperchain(dir, &all)
    }

    fn rpc_url(config: &Path) -> String {
        let setup = hyperchain_chain::config::ValidatorSetup::load(config).unwrap();
        format!("http://{}", setup.config.rpc_listen)
    }

    /// `keys generate`, `deploy counter`, `call increment` twice, `query get`, `tx`, `status`
    /// against a 4-process devnet, and the errors a user meets.
    #[test]
    fn deploy_call_query_tx_and_status_over_rpc() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (_net, nodes) = start_devnet(d);
        let mut nodes = Running(nodes);
        wait_until(&mut nodes.0, "height 1 everywhere", |n| {
            n.iter().all(|n| n.height() >= 1)
        });
        let rpc = rpc_url(&nodes.0[0].config);
        let with_rpc = |args: &[&str]| {
            let mut all: Vec<&str> = args.to_vec();
            all.extend(["--rpc", rpc.as_str()]);
            hyperchain(d, &all)
        };
        let alice = json(&hyperchain(
            d,
            &["keys", "generate", "--out", "alice.key", "--json"],
        ))["address"]
            .as_str()
            .unwrap()
            .to_string();

        // A fresh key holds nothing: its deploy is refused with the reason, nothing changes.
        let unfunded = with_rpc(&["deploy", "counter", "--key", "alice.key", "--json"]);
        assert_eq!(unfunded.status.code(), Some(1), "{}", stderr(&unfunded));
        assert!(
            stderr(&unfunded).contains("the payer holds 0 base units"),
            "{}",
            stderr(&unfunded)
        );
        let before = json(&with_rpc(&["balance", &alice, "--json"]));
        assert_eq!(
            (before["balance"].as_str(), before["nonce"].as_u64()),
            (Some("0"), Some(0))
        );

        // Funded from the faucet with `transfer`; `balance` shows it, by address or key.
        funded(d, &rpc, "alice.key");
        let after = json(&with_rpc(&["balance", "--key", "alice.key", "--json"]));
        assert_eq!(after["balance"], "1000000000000", "{after}");
        assert_eq!(after["address"], alice.as_str(), "{after}");
        let estimate = json(&with_rpc(&[
            "deploy",
            "counter",
            "--key",
            "alice.key",
            "--estimate",
            "--json",
        ]));
        let expected = estimate["estimate"]["expected"].as_u64().unwrap();
        assert!(expected > 0, "{estimate}");

        let deployed = json(&with_rpc(&[
            "deploy",
            "counter",
            "--key",
            "alice.key",
            "--json",
        ]));
        let address = deployed["address"].as_str().unwrap().to_string();
        assert_eq!(address.len(), 64, "{deployed}");
        assert_eq!(deployed["code_hash"].as_str().unwrap().len(), 64);
        // A deploy pays exactly its base charge (bytes and code), as estimated.
        assert_eq!(deployed["fee"].as_u64(), Some(expected), "{deployed}");
        let paid = json(&with_rpc(&["balance", "--key", "alice.key", "--json"]));
        assert_eq!(
            paid["balance"].as_str().unwrap().parse::<u128>().unwrap(),
            1_000_000_000_000 - expected as u128,
            "{paid}"
        );

        let mut last_tx = String::new();
        for (n, total) in [(5, "5"), (7, "12")] {
            let arg = format!("u64:{n}");
            let called = json(&with_rpc(&[
                "call",
                &address,
                "increment",
                &arg,
                "--key",
                "alice.key",
                "--decode",
                "u64",
                "--json",
            ]));
            assert_eq!(called["outcome"]["status"], "ok", "{called}");
            assert_eq!(called["decoded"], total, "{called}");
            assert!(called["fuel_used"].as_u64().unwrap() > 0);
            assert!(called["fee"].as_u64().unwrap() > 0, "{called}");
            assert!(called["height"].as_u64().unwrap() >= 1);
            last_tx = called["tx_id"].as_str().unwrap().to_string();
        }
        let got = json(&with_rpc(&[
            "query", &address, "get", "--decode", "u64", "--json",
        ]));
        assert_eq!(got["decoded"], "12", "{got}");

        let tx = json(&with_rpc(&["tx", &last_tx, "--json"]));
        assert_eq!(tx["status"], "finalized", "{tx}");
        assert_eq!(tx["tx_id"], last_tx);
        let text = with_rpc(&["tx", &last_tx]);
        assert!(text.status.success(), "{}", stderr(&text));

        let status = json(&with_rpc(&["status", "--json"]));
        assert!(status["height"].as_u64().unwrap() >= 2, "{status}");
        assert_eq!(status["chain_id"].as_str().unwrap().len(), 64);
        assert_eq!(
            (status["epoch"].as_u64(), status["validators"].as_u64()),
            (Some(0), Some(4)),
            "{status}"
        );

        // A failed call exits with 2.
        let failed = with_rpc(&[
            "call",
            &address,
            "increment",
            "--key",
            "alice.key",
            "--json",
        ]);
        assert_eq!(failed.status.code(), Some(2), "{}", stderr(&failed));

        // Errors say what was wrong.
        std::fs::write(d.join("bad.key"), "not a key").unwrap();
        std::fs::set_permissions(d.join("bad.key"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let bad_key = with_rpc(&["deploy", "counter", "--key", "bad.key"]);
        assert_eq!(bad_key.status.code(), Some(1));
        assert!(stderr(&bad_key).contains("bad.key"), "{}", stderr(&bad_key));

        let unknown = "ab".repeat(32);
        let query = with_rpc(&["query", &unknown, "get"]);
        assert_eq!(query.status.code(), Some(1));
        assert!(
            stderr(&query).contains(&unknown) || stderr(&query).contains("no contract"),
            "{}",
            stderr(&query)
        );

        let port = free_ports(1);
        let nowhere = format!("http://127.0.0.1:{port}");
        let out = hyperchain(d, &["status", "--rpc", &nowhere]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains(&format!("cannot reach the node at {nowhere}")),
            "{}",
            stderr(&out)
        );
        let out = Command::new(env!("CARGO_BIN_EXE_hyperchain"))
            .args(["status"])
            .env("HYPERCHAIN_RPC", &nowhere)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(stderr(&out).contains(&nowhere), "{}", stderr(&out));
    }

    /// `hyperchain devnet` on a new directory runs the demo through RPC, keeps reporting
    /// finalized heights and stops cleanly on SIGINT.
    #[test]
    fn devnet_runs_the_demo_and_stops_on_ctrl_c() {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let base = free_ports(2 * VALIDATORS as u16).to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hyperchain"))
            .args(["devnet", "--dir", "net", "--base-port", &base, "--json"])
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        let mut events = Vec::new();
        let mut progress_after_demo = false;
        while !progress_after_demo {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(v) = rx.recv_timeout(left) else {
                let _ = child.kill();
                panic!("no demo within {TIMEOUT:?}: {events:?}");
            };
            let kind = v["event"].as_str().unwrap_or_default().to_string();
            assert_ne!(kind, "demo_failed", "{v}");
            if kind == "progress"
                && events
                    .iter()
                    .any(|e: &serde_json::Value| e["event"] == "demo_done")
            {
                progress_after_demo = true;
            }
            events.push(v);
        }
        let calls: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| e["event"] == "demo_called" && e["method"] == "increment")
            .collect();
        assert_eq!(calls.len(), 3, "{events:?}");
        assert_eq!(calls[2]["output"], 6);
        assert!(calls[2]["height"].as_u64().unwrap() >= 1);
        let query = events.iter().find(|e| e["event"] == "demo_query").unwrap();
        assert_eq!(query["output"], 6);
        assert!(d.join("net/demo.key").exists());

        // The compute fleet: governance registered the release, then one simulated Intel and
        // one simulated AMD node per region attested and registered.
        let of = |kind: &str| -> Vec<&serde_json::Value> {
            events.iter().filter(|e| e["event"] == kind).collect()
        };
        assert_eq!(of("release_registered").len(), 1, "{events:?}");
        let mut fleet: Vec<(String, String)> = of("compute_registered")
            .iter()
            .map(|e| {
                (
                    e["region"].as_str().unwrap().to_string(),
                    e["platform"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        fleet.sort();
        assert_eq!(
            fleet,
            [
                ("eu", "sim-amd"),
                ("eu", "sim-intel"),
                ("us", "sim-amd"),
                ("us", "sim-intel")
            ]
            .map(|(r, p)| (r.to_string(), p.to_string()))
        );
        // Heavy calls ran on cross-vendor committees: one Intel and one AMD node per region,
        // all agreeing, with the replicated result, and no fuel spent by validators.
        let jobs = of("demo_job");
        assert_eq!(jobs.len(), 6, "{events:?}");
        for job in &jobs {
            let shape: Vec<(String, String)> = job["committee"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["region"].as_str().unwrap().to_string(),
                        m["vendor"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(
                shape,
                [
                    ("eu", "intel"),
                    ("eu", "amd"),
                    ("us", "intel"),
                    ("us", "amd")
                ]
                .map(|(r, v)| (r.to_string(), v.to_string())),
                "{job}"
            );
            assert_eq!(job["resolution"], "agreed", "{job}");
            assert_eq!(job["matches_replicated"], true, "{job}");
            assert_eq!(job["validator_fuel"], 0, "{job}");
            assert!(job["fuel_used"].as_u64().unwrap() > 1_000_000, "{job}");
            assert!(job["seed_round"]["view"].as_u64().unwrap() > 0, "{job}");
        }
        assert_eq!(of("demo_committee_done")[0]["jobs"], 6);

        // The job and its lane from the CLI.
        let rpc = of("demo_done")[0]["rpc"].as_str().unwrap().to_string();
        let job_id = jobs[0]["job"].as_str().unwrap();
        let out = hyperchain(d, &["job", "show", job_id, "--rpc", &rpc, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let shown = json(&out);
        assert_eq!(shown["state"], "done");
        assert_eq!(shown["result"]["resolution"], "agreed");
        assert_eq!(
            shown["assignment"]["committee"].as_array().unwrap().len(),
            4
        );
        let contract = jobs[0]["contract"].as_str().unwrap();
        let out = hyperchain(d, &["job", "lane", contract, "--rpc", &rpc, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let lane = json(&out);
        assert_eq!(lane["mode"], "cross-vendor");
        assert_eq!(lane["next_seq"], 3);
        assert_eq!(lane["head"], 3);
        let out = hyperchain(d, &["job", "show", &"ab".repeat(32), "--rpc", &rpc]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("no job"), "{}", stderr(&out));

        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "devnet exited with {status}");
    }

    #[test]
    fn bench_finalizes_every_transaction() {
        let dir = tempfile::tempdir().unwrap();
        // Tests running at the same time take the first ports of the same free range.
        let base = (free_ports(64) + 32).to_string();
        let out = hyperchain(
            dir.path(),
            &[
                "bench",
                "--txs",
                "200",
                "--accounts",
                "10",
                "--base-port",
                &base,
                "--json",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let report = json(&out);
        assert_eq!(report["txs"], 200, "{report}");
        assert_eq!(report["submitted"], 200, "{report}");
        assert_eq!(report["finalized"], 200, "{report}");
        assert_eq!(report["counter"], 200, "{report}");
        assert!(report["tx_per_s"].as_f64().unwrap() > 0.0, "{report}");
        assert!(report["latency_ms"]["p50"].as_f64().is_some(), "{report}");
        assert!(report["blocks"].as_u64().unwrap() >= 1, "{report}");
    }

    /// One cross-vendor contract: with pipelining off its lane resolves one job per block; on,
    /// its committees take runs of jobs and resolve several in one block.
    #[test]
    fn one_busy_contract_resolves_runs_of_jobs_per_block_when_pipelined() {
        let dir = tempfile::tempdir().unwrap();
        let base = (free_ports(64) + 40).to_string();
        for depth in ["1", "32"] {
            let out = hyperchain(
                dir.path(),
                &[
                    "bench",
                    "--workload",
                    "heavy:2000",
                    "--mode",
                    "cross-vendor",
                    "--lanes",
                    "1",
                    "--jobs",
                    "12",
                    "--pipeline-depth",
                    depth,
                    "--base-port",
                    &base,
                    "--json",
                ],
            );
            assert!(out.status.success(), "{}", stderr(&out));
            let report = json(&out);
            assert_eq!(report["failed"], 0, "{report}");
            assert_eq!(report["resolutions"]["agreed"], 12, "{report}");
            assert_eq!(report["pipeline_depth"].to_string(), depth, "{report}");
            // The bench sets the calls' fuel limit from a read-only run, as a client would.
            assert!(
                report["fuel_limit"].as_u64().unwrap() < 1_000_000_000,
                "{report}"
            );
            let most = report["max_jobs_per_lane_block"].as_u64().unwrap();
            if depth == "1" {
                assert_eq!(most, 1, "one job per lane per block: {report}");
            } else {
                assert!(most >= 2, "a run resolved in one block: {report}");
            }
        }
    }

    /// `bench --compare`: the same jobs in every mode (replicated, single, committee(2),
    /// cross-vendor), each on a fresh network, with the throughputs and the cross-vendor ratio.
    #[test]
    fn bench_compares_replicated_and_cross_vendor_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let base = (free_ports(64) + 40).to_string();
        let out = hyperchain(
            dir.path(),
            &[
                "bench",
                "--compare",
                "--workload",
                "heavy:2000",
                "--jobs",
                "8",
                "--lanes",
                "4",
                "--repeat",
                "2",
                "--base-port",
                &base,
                "--json",
                "--svg",
                "modes.svg",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let report = json(&out);
        assert_eq!(report["validators"], 4, "{report}");
        let svg = std::fs::read_to_string(dir.path().join("modes.svg")).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        for name in [
            "replicated",
            "single TEE",
            "committee(2)",
            "cross-vendor",
            "4 validators",
        ] {
            assert!(svg.contains(name), "{name} missing from the chart");
        }
        assert_eq!(svg.matches("<rect").count(), 1 + 4, "{svg}");
        for (mode, name) in [
            ("replicated", "replicated"),
            ("cross_vendor", "cross-vendor"),
        ] {
            let r = &report[mode];
            assert_eq!(r["mode"], name, "{report}");
            assert_eq!(r["jobs"], 8, "{report}");
            assert_eq!(r["failed"], 0, "{report}");
            assert!(r["jobs_per_s"].as_f64().unwrap() > 0.0, "{report}");
            assert!(
                r["validator_cpu_ms_per_job"].as_f64().unwrap() > 0.0,
                "{report}"
            );
        }
        assert_eq!(
            report["cross_vendor"]["resolutions"]["agreed"], 8,
            "{report}"
        );
        assert_eq!(report["cross_vendor"]["compute_nodes"], 2, "{report}");
        assert!(report["ratio"].as_f64().unwrap() > 0.0, "{report}");
        // Two rounds: every mode's median run (the lower of two) and both rounds' ratios.
        let floats = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_f64().unwrap())
                .collect()
        };
        let ratios = floats(&report["ratios"]);
        assert_eq!(ratios.len(), 2, "{report}");
        assert_eq!(
            report["ratio"].as_f64().unwrap(),
            ratios[0].min(ratios[1]),
            "{report}"
        );
        for mode in ["replicated", "single", "committee", "cross_vendor"] {
            let rates = floats(&report[mode]["repeat_jobs_per_s"]);
            assert_eq!(rates.len(), 2, "{report}");
            assert_eq!(
                report[mode]["jobs_per_s"].as_f64().unwrap(),
                rates[0].min(rates[1]),
                "{report}"
            );
        }
    }

    /// A compute node process (`hyperchain compute --json`), killed when dropped.
    struct ComputeProc {
        child: Child,
        out: PathBuf,
    }

    impl ComputeProc {
        /// `rpc`: the validators' URLs, in order of preference.
        fn start(dir: &Path, name: &str, rpc: &[&str], platform: &str, fault: &str) -> ComputeProc {
            // Its owner registers it and pays its fees (the last URL is always up).
            let owner = format!("{name}.owner.key");
            funded(dir, rpc[rpc.len() - 1], &owner);
            let out = dir.join(format!("{name}.out"));
            let file = std::fs::File::create(&out).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_hyperchain"))
                .args([
                    "compute",
                    "--platform",
                    platform,
                    "--region",
                    "eu",
                    "--genesis",
                    "net/genesis.json",
                    "--poll-ms",
                    "100",
                    "--fault",
                    fault,
                    "--owner-key",
                    &owner,
                    "--json",
                ])
                .args(rpc.iter().flat_map(|url| ["--rpc", url]))
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(file.try_clone().unwrap())
                .stderr(file)
                .spawn()
                .unwrap();
            ComputeProc { child, out }
        }

        /// Waits for the node's registration and returns its id.
        fn registered(&mut self) -> String {
            let start = Instant::now();
            loop {
                let text = std::fs::read_to_string(&self.out).unwrap_or_default();
                for line in text.lines() {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                        && v["event"] == "registered"
                    {
                        return v["node"].as_str().unwrap().to_string();
                    }
                }
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("compute node exited ({status}):\n{text}");
                }
                assert!(start.elapsed() < TIMEOUT, "no registration:\n{text}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    impl Drop for ComputeProc {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A dispute as a user sees it: a cross-vendor contract whose only Intel node lies. The
    /// call still returns the correct result (validators arbitrate), the liar is revoked and
    /// its receipt kept; the next job stalls with a clear reason (no Intel node left in the
    /// region — trust is never downgraded) until an Intel node joins that executes correctly
    /// but also resends the other nodes' receipts (`--fault replay`): the job resolves by
    /// agreement, every receipt it resends is rejected, and the honest node is not charged.
    #[test]
    fn a_lying_compute_node_is_arbitrated_and_revoked_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (_net, _nodes, rpc) = live_devnet(d);
        let with_rpc = |args: &[&str]| hyperchain_at(d, &rpc, args);
        let release = govern(d, &rpc, &["add-release"]);
        assert_eq!(release["outcome"]["kind"], "accepted", "{release}");
        let mut liar = ComputeProc::start(d, "liar", &[&rpc], "sim-intel", "wrong-result");
        // The honest node's first validator is down for good: it registers, reads and
        // fetches through the next one.
        let down = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", listener.local_addr().unwrap())
        };
        let mut amd = ComputeProc::start(d, "amd", &[&down, &rpc], "sim-amd", "none");
        let liar_id = liar.registered();
        amd.registered();

        funded(d, &rpc, "user.key");
        let deployed = json(&with_rpc(&[
            "deploy",
            "heavy",
            "--key",
            "user.key",
            "--mode",
            "cross-vendor",
            "--region",
            "eu",
            "--json",
        ]));
        let heavy = deployed["outcome"]["address"].as_str().unwrap().to_string();
        let expected = json(&with_rpc(&[
            "query",
            &heavy,
            "sha256_chain",
            "u32:1000",
            "--json",
        ]))["output"]
            .clone();

        // The call waits for the committee: arbitrated, with the correct output.
        let called = json(&with_rpc(&[
            "call",
            &heavy,
            "sha256_chain",
            "u32:1000",
            "--key",
            "user.key",
            "--json",
        ]));
        assert_eq!(called["outcome"]["kind"], "queued", "{called}");
        let job = &called["job"];
        assert_eq!(job["state"], "done", "{called}");
        assert_eq!(job["result"]["resolution"], "arbitrated", "{called}");
        assert_eq!(job["result"]["revoked"][0], liar_id.as_str(), "{called}");
        assert_eq!(
            job["result"]["output"], expected,
            "the correct result applies"
        );
        let amd_log = std::fs::read_to_string(&amd.out).unwrap();
        assert!(
            amd_log.contains(r#""event":"executed""#),
            "the node whose first validator is down served the job:\n{amd_log}"
        );
        let shown = json(&with_rpc(&["node", "show", &liar_id, "--json"]));
        assert_eq!(shown["status"], "revoked", "{shown}");
        assert!(
            shown["revoked"].as_str().unwrap().contains("wrong result"),
            "{shown}"
        );

        // No Intel node left in eu: the next job stalls with the reason, never downgraded.
        let queued = json(&with_rpc(&[
            "call",
            &heavy,
            "sha256_chain",
            "u32:1000",
            "--key",
            "user.key",
            "--no-wait",
            "--json",
        ]));
        let tx = queued["tx_id"].as_str().unwrap().to_string();
        let stalled = {
            let start = Instant::now();
            loop {
                let out = with_rpc(&["job", "show", &tx, "--json"]);
                if out.status.success() {
                    let v = json(&out);
                    if v["state"] == "stalled" {
                        break v;
                    }
                }
                assert!(start.elapsed() < TIMEOUT, "the job never stalled");
                std::thread::sleep(Duration::from_millis(200));
            }
        };
        assert_eq!(
            stalled["reason"], "region eu has no active intel compute node",
            "{stalled}"
        );
        // An Intel node joins (correct, but replaying); the job resolves by agreement.
        let mut intel = ComputeProc::start(d, "intel", &[&rpc], "sim-intel", "replay");
        intel.registered();
        let start = Instant::now();
        let done = loop {
            let v = json(&with_rpc(&["job", "show", &tx, "--json"]));
            if v["state"] == "done" {
                break v;
            }
            assert!(start.elapsed() < TIMEOUT, "the job never resolved: {v}");
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(done["result"]["resolution"], "agreed", "{done}");
        assert_eq!(done["result"]["output"], expected);
        // It tries to resend the AMD node's receipt for that job (read from the block through
        // `GET /block/{height}/txs`): the validator drops it before any block can include it
        // (already counted), so nobody pays for it and it changes nothing.
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&intel.out).unwrap();
            let refused = text
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .any(|v| {
                    v["event"] == "warning"
                        && v["message"].as_str().is_some_and(|m| {
                            m.contains("replay failed") && m.contains("already counted")
                        })
                });
            if refused {
                break;
            }
            assert!(start.elapsed() < TIMEOUT, "no refused replay:\n{text}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let amd_id = amd.registered();
        let honest = json(&with_rpc(&["node", "show", &amd_id, "--json"]));
        assert_eq!(honest["status"], "active", "{honest}");
        assert_eq!(honest["missed_deadlines"], 0, "{honest}");
        drop((liar, amd, intel));
    }

    /// A compute node re-attests on its own before its membership expires: with a 10 s token
    /// validity it is still an active member after 15 s, with a later attestation time.
    #[test]
    fn a_compute_node_re_attests_before_its_membership_expires() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (_net, _nodes, rpc) = live_devnet(d);
        let with_rpc = |args: &[&str]| hyperchain_at(d, &rpc, args);
        std::fs::write(
            d.join("policy.json"),
            serde_json::json!({
                "measurements": {}, "min_tcb": {}, "allowed_tcb_statuses": ["UpToDate"],
                "allowed_advisories": [], "allow_debug": false, "max_vmpl": 0,
                "max_evidence_age_secs": 600, "token_validity_secs": 10,
                "reattestation_interval_secs": 5, "allow_simulated": true
            })
            .to_string(),
        )
        .unwrap();
        let set = govern(d, &rpc, &["set-policy", "policy.json"]);
        assert_eq!(set["outcome"]["kind"], "accepted", "{set}");
        let release = govern(d, &rpc, &["add-release"]);
        assert_eq!(release["outcome"]["kind"], "accepted", "{release}");
        let mut node = ComputeProc::start(d, "node", &[&rpc], "sim-amd", "none");
        let id = node.registered();
        let first = json(&with_rpc(&["node", "show", &id, "--json"]));
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&node.out).unwrap();
            if text.contains("\"reattested\"") && start.elapsed() > Duration::from_secs(12) {
                break;
            }
            assert!(start.elapsed() < TIMEOUT, "no re-attestation:\n{text}");
            std::thread::sleep(Duration::from_millis(250));
        }
        let later = json(&with_rpc(&["node", "show", &id, "--json"]));
        assert_eq!(later["status"], "active", "{later}");
        assert!(
            later["attested_ms"].as_u64() > first["attested_ms"].as_u64(),
            "{first} -> {later}"
        );
        assert!(later["expires_ms"].as_u64() > first["expires_ms"].as_u64());
        drop(node);
    }

    /// The compute-node registry from the CLI: a registration refused until governance
    /// registers the runtime release, simulated Intel and AMD nodes registered, listed by
    /// vendor, a token verified offline with only the group key (and refused once tampered
    /// with or revoked), accumulator membership proofs, and governance-only revocation.
    #[test]
    fn compute_nodes_register_and_their_tokens_verify_offline() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (_net, _nodes, rpc) = live_devnet(d);
        let with_rpc = |args: &[&str]| hyperchain_at(d, &rpc, args);
        for k in ["intel.key", "amd.key"] {
            json(&hyperchain(d, &["keys", "generate", "--out", k, "--json"]));
        }
        // The operator owns the nodes: it registers them and pays their fees.
        funded(d, &rpc, "op.key");
        let register = |platform: &str, identity: &str| {
            with_rpc(&[
                "node",
                "register",
                "--platform",
                platform,
                "--identity",
                identity,
                "--region",
                "eu",
                "--key",
                "op.key",
                "--json",
            ])
        };

        // No release yet: the receipt names the failed check and the command exits 1.
        let refused = register("sim-intel", "intel.key");
        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains("measurement"),
            "{}",
            stderr(&refused)
        );
        // Real platforms' evidence comes from the TEE, not from this command.
        let real = register("sgx", "intel.key");
        assert!(
            stderr(&real).contains("inside the TEE"),
            "{}",
            stderr(&real)
        );

        // There is no governance key: only a validator's key proposes.
        let not_gov = with_rpc(&[
            "governance",
            "add-release",
            "--validator-key",
            "op.key",
            "--json",
        ]);
        assert!(
            stderr(&not_gov).contains("cannot use the validator key"),
            "{}",
            stderr(&not_gov)
        );
        let release = govern(d, &rpc, &["add-release"]);
        assert_eq!(release["outcome"]["kind"], "accepted", "{release}");

        for (platform, key) in [("sim-intel", "intel.key"), ("sim-amd", "amd.key")] {
            let r = json(&register(platform, key));
            assert_eq!(r["outcome"]["kind"], "accepted", "{r}");
        }
        let listed = json(&with_rpc(&["node", "list", "--vendor", "amd", "--json"]));
        let amd = listed["nodes"].as_array().unwrap();
        assert_eq!(amd.len(), 1, "{listed}");
        assert_eq!(amd[0]["platform"], "sim-amd");
        assert_eq!(amd[0]["status"], "active");
        let all = json(&with_rpc(&["node", "list", "--json"]));
        let intel_id = all["nodes"][0]["id"].as_str().unwrap().to_string();
        let amd_id = amd[0]["id"].as_str().unwrap().to_string();
        // The owner posted a bond with each registration (100 HYP by the default schedule).
        assert_eq!(amd[0]["bond"], "100000000000", "{listed}");

        // The owner deregisters the AMD node; its bond stays locked for the unbonding delay.
        let left = json(&with_rpc(&[
            "node",
            "deregister",
            &amd_id,
            "--key",
            "op.key",
            "--json",
        ]));
        assert_eq!(left["outcome"]["kind"], "accepted", "{left}");
        let shown = json(&with_rpc(&["node", "show", &amd_id, "--json"]));
        assert_eq!(shown["status"], "revoked", "{shown}");
        let early = with_rpc(&[
            "node",
            "withdraw-bond",
            &amd_id,
            "--key",
            "op.key",
            "--json",
        ]);
        assert_eq!(early.status.code(), Some(1), "{}", stderr(&early));
        assert!(stderr(&early).contains("unlocks"), "{}", stderr(&early));

        // Governance by the validators: a revocation proposed by validator 0 and approved by
        // validator 1 (2f = 2 of 4) does nothing; validator 2's approval (2f+1) carries it out.
        let third = json(&hyperchain(
            d,
            &["keys", "generate", "--out", "third.key", "--json"],
        ));
        let r = json(&register("sim-intel", "third.key"));
        assert_eq!(r["outcome"]["kind"], "accepted", "{r}");
        let third_pk: [u8; 32] = hex::decode(third["public_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let third_id = hyperchain_types::node_id(&third_pk).to_hex();
        let proposed = json(&with_rpc(&[
            "governance",
            "revoke",
            "--node",
            &third_id,
            "--validator-key",
            "net/validator-0/validator.key",
            "--json",
        ]));
        assert_eq!(proposed["outcome"]["kind"], "accepted", "{proposed}");
        let proposal = proposed["tx_id"].as_str().unwrap().to_string();
        let approve = |validator: usize| {
            let key = format!("net/validator-{validator}/validator.key");
            json(&with_rpc(&[
                "governance",
                "approve",
                &proposal,
                "--validator-key",
                &key,
                "--json",
            ]))
        };
        assert_eq!(approve(1)["outcome"]["kind"], "accepted");
        let shown = json(&with_rpc(&["governance", "show", &proposal, "--json"]));
        assert_eq!(shown["approvals"].as_array().unwrap().len(), 2, "{shown}");
        assert_eq!(shown["needed"], 3, "{shown}");
        assert_eq!(
            shown["action"],
            format!("revoke node {third_id}"),
            "{shown}"
        );
        let listed = json(&with_rpc(&["governance", "list", "--json"]));
        assert_eq!(listed["proposals"].as_array().unwrap().len(), 1, "{listed}");
        assert_eq!(listed["proposals"][0]["id"], proposal.as_str(), "{listed}");
        let member = json(&with_rpc(&["node", "membership", &third_id, "--json"]));
        assert_eq!(member["member"], true, "2f approvals do nothing: {member}");
        assert_eq!(approve(2)["outcome"]["kind"], "accepted");
        let member = json(&with_rpc(&["node", "membership", &third_id, "--json"]));
        assert_eq!(
            member["member"], false,
            "2f+1 approvals revoke it: {member}"
        );
        let gone = with_rpc(&["governance", "show", &proposal]);
        assert_eq!(gone.status.code(), Some(1), "carried out, no longer open");
        let listed = json(&with_rpc(&["governance", "list", "--json"]));
        assert_eq!(listed["proposals"], serde_json::json!([]), "{listed}");

        // A policy that accepts no measurement, previewed before anyone approves it: the
        // one active member (Intel, eu) would lose its membership after the recovery grace,
        // leaving eu without an Intel node.
        std::fs::write(
            d.join("strict.json"),
            r#"{"measurements": {}, "allow_simulated": true, "recovery_grace_secs": 7200}"#,
        )
        .unwrap();
        let proposed = json(&with_rpc(&[
            "governance",
            "set-policy",
            "strict.json",
            "--validator-key",
            "net/validator-0/validator.key",
            "--json",
        ]));
        let strict = proposed["tx_id"].as_str().unwrap().to_string();
        let preview = json(&with_rpc(&["governance", "preview", &strict, "--json"]));
        let ended = preview["ended"].as_array().unwrap();
        assert_eq!(ended.len(), 1, "{preview}");
        assert_eq!(ended[0]["id"], intel_id.as_str(), "{preview}");
        assert_eq!(ended[0]["vendor"], "intel", "{preview}");
        assert!(
            ended[0]["reason"].as_str().unwrap().contains("measurement"),
            "{preview}"
        );
        assert_eq!(preview["regions"][0]["region"], "eu", "{preview}");
        assert_eq!(preview["regions"][0]["loses_a_vendor"], true, "{preview}");
        let text = with_rpc(&["governance", "preview", &strict]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("region eu, intel: 1"), "{text}");
        assert!(text.contains("in 2 h unless it re-attests"), "{text}");
        assert!(text.contains("WARNING: region eu"), "{text}");

        // A token verifies offline with the group key alone, and not once tampered with.
        let genesis = json(&hyperchain(
            d,
            &["genesis", "show", "net/genesis.json", "--json"],
        ));
        let group_key = genesis["group_public_key"].as_str().unwrap().to_string();
        let got = hyperchain(
            d,
            &[
                "token",
                "get",
                &intel_id,
                "--out",
                "intel.token",
                "--rpc",
                &rpc,
            ],
        );
        assert!(got.status.success(), "{}", stderr(&got));
        let verified = json(&hyperchain(
            d,
            &[
                "token",
                "verify",
                "intel.token",
                "--network-key",
                &group_key,
                "--json",
            ],
        ));
        assert_eq!(verified["valid"], true, "{verified}");
        assert_eq!(verified["node"]["id"], intel_id.as_str());
        let mut token: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("intel.token")).unwrap()).unwrap();
        let cert = token["certificate"].as_str().unwrap().to_string();
        let flipped = if &cert[10..11] == "0" { "1" } else { "0" };
        token["certificate"] = format!("{}{flipped}{}", &cert[..10], &cert[11..]).into();
        std::fs::write(d.join("bad.token"), token.to_string()).unwrap();
        let bad = hyperchain(
            d,
            &["token", "verify", "bad.token", "--network-key", &group_key],
        );
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));

        // Membership, verified against a finalized block; a stranger is not a member.
        let member = json(&with_rpc(&[
            "node",
            "membership",
            &intel_id,
            "--network-key",
            &group_key,
            "--json",
        ]));
        assert_eq!(member["member"], true, "{member}");
        assert!(member["verified_at_height"].as_u64().is_some(), "{member}");
        let stranger = "11".repeat(32);
        let other = json(&with_rpc(&[
            "node",
            "membership",
            &stranger,
            "--network-key",
            &group_key,
            "--json",
        ]));
        assert_eq!(other["member"], false, "{other}");

        // A validator candidate announces its key and address; governance admits it into the
        // decided set, which governs two epochs later.
        let candidate = json(&hyperchain(
            d,
            &["genesis", "keygen", "--out", "candidate.key", "--json"],
        ));
        let candidate_pk = candidate["public_key"].as_str().unwrap().to_string();
        let pk: [u8; 32] = hex::decode(&candidate_pk).unwrap().try_into().unwrap();
        let candidate_account = hyperchain_types::SenderKey(pk).address().to_hex();
        let sent = json(&with_rpc(&[
            "transfer",
            "10",
            "--to",
            &candidate_account,
            "--key",
            "net/faucet.key",
            "--json",
        ]));
        assert_eq!(sent["outcome"]["kind"], "accepted", "{sent}");
        let announced = json(&with_rpc(&[
            "validator",
            "announce",
            "--validator-key",
            "candidate.key",
            "--address",
            "127.0.0.1:39999",
            "--json",
        ]));
        assert_eq!(announced["outcome"]["kind"], "accepted", "{announced}");
        let sets = json(&with_rpc(&["validator", "list", "--json"]));
        assert_eq!(sets["active"]["epoch"], 0, "{sets}");
        assert_eq!(
            sets["active"]["validators"].as_array().unwrap().len(),
            4,
            "{sets}"
        );
        assert_eq!(sets["candidates"][0]["public_key"], candidate_pk.as_str());
        govern(d, &rpc, &["admit-validator", &candidate_pk]);
        let sets = json(&with_rpc(&["validator", "list", "--json"]));
        assert_eq!(sets["pending"].as_array().unwrap().len(), 5, "{sets}");
        assert_eq!(
            sets["active"]["validators"].as_array().unwrap().len(),
            4,
            "the current epoch keeps its set: {sets}"
        );
        assert_eq!(sets["candidates"], serde_json::json!([]), "{sets}");
        let status = json(&with_rpc(&["status", "--json"]));
        assert_eq!(status["validators"], 4, "{status}");

        // Revocation ends membership at once; the node's new token is refused.
        let revoked = govern(d, &rpc, &["revoke", "--node", &intel_id]);
        assert_eq!(revoked["outcome"]["kind"], "accepted", "{revoked}");
        let member = json(&with_rpc(&["node", "membership", &intel_id, "--json"]));
        assert_eq!(member["member"], false, "{member}");
        hyperchain(
            d,
            &[
                "token",
                "get",
                &intel_id,
                "--out",
                "revoked.token",
                "--rpc",
                &rpc,
            ],
        );
        let refused = hyperchain(
            d,
            &[
                "token",
                "verify",
                "revoked.token",
                "--network-key",
                &group_key,
            ],
        );
        assert_eq!(refused.status.code(), Some(2));
        assert!(stderr(&refused).contains("revoked"), "{}", stderr(&refused));
        // The token fetched before the revocation shows the node as it was at its block; a
        // verifier bounds how old that block may be.
        let stale = hyperchain(
            d,
            &[
                "token",
                "verify",
                "intel.token",
                "--network-key",
                &group_key,
                "--max-age-secs",
                "0",
            ],
        );
        assert_eq!(stale.status.code(), Some(2));
        assert!(
            stderr(&stale).contains("fetch a fresh token"),
            "{}",
            stderr(&stale)
        );
    }
}
