//! Crash recovery: a child process commits in a loop and is killed with SIGKILL at a random
//! moment; the reopened store must hold exactly the last commit it reported, or the one after.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyperchain_state::{Store, TreeId, WriteBatch};

use crate::common::{Model, Rng, apply, expected_root, hex};

/// Selects the writer mode of this test binary and names the store directory.
const WRITER_ENV: &str = "HYPERCHAIN_STATE_CRASH_WRITER_DIR";
const WRITER_TEST: &str = "crash::writer_process";

/// The batch committed at `height`: deterministic, so the expected state of any height can be
/// regenerated. Mixes inserts, overwrites and deletes over five trees.
fn batch_for(height: u64) -> WriteBatch {
    let mut rng = Rng(height.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let trees = [
        TreeId::ROOT,
        TreeId([1; 32]),
        TreeId([2; 32]),
        TreeId([3; 32]),
        TreeId([0xee; 32]),
    ];
    let mut batch = WriteBatch::new();
    let writes = 50 + rng.below(400);
    for _ in 0..writes {
        let tree = trees[rng.below(trees.len() as u64) as usize];
        let key = format!("key/{}", rng.below(3000)).into_bytes();
        if rng.below(5) == 0 {
            batch.delete(tree, key);
        } else {
            let len = rng.below(300) as usize;
            let fill = rng.next().to_le_bytes();
            let value: Vec<u8> = (0..len).map(|i| fill[i % 8] ^ (i as u8)).collect();
            batch.put(tree, key, value);
        }
    }
    batch
}

fn model_at(height: u64) -> Model {
    let mut model = Model::new();
    for h in 1..=height {
        apply(&mut model, &batch_for(h));
    }
    model
}

/// Writer mode: commit heights after the store's current one until killed, reporting each.
#[test]
#[ignore = "child process of `crash_recovery`, selected by its environment variable"]
fn writer_process() {
    let Some(dir) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&dir)).unwrap();
    let mut height = store.height().unwrap();
    loop {
        height += 1;
        let root = store.commit(&batch_for(height), height).unwrap();
        println!("committed {height} {}", hex(&root));
    }
}

fn random_u64() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    Rng(nanos ^ u64::from(std::process::id())).next()
}

/// Runs the writer until it has committed a few heights, kills it, and returns the commits it
/// reported.
fn run_and_kill(dir: &Path, rng: &mut Rng) -> Vec<(u64, String)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([WRITER_TEST, "--exact", "--include-ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(WRITER_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest may print the test's name on the same line as its first output.
            if let Some((_, rest)) = line.split_once("committed ") {
                let (height, root) = rest.split_once(' ').unwrap();
                // The receiver may be gone once the test has what it needs.
                let _ = tx.send((height.parse::<u64>().unwrap(), root.to_string()));
            }
        }
    });
    let mut reported = Vec::new();
    // Wait for a few commits so the kill lands in steady-state writing, then a random delay.
    let target = 2 + rng.below(6) as usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    while reported.len() < target && Instant::now() < deadline {
        if let Ok(commit) = rx.recv_timeout(Duration::from_millis(100)) {
            reported.push(commit);
        }
    }
    std::thread::sleep(Duration::from_micros(rng.below(200_000)));
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    reported.extend(rx.try_iter());
    assert!(!reported.is_empty(), "the writer never committed");
    reported
}

#[test]
fn crash_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(random_u64());
    let mut last_height = 0;
    for round in 0..4 {
        let reported = run_and_kill(dir.path(), &mut rng);
        let (printed_height, printed_root) = reported.last().cloned().unwrap();
        assert_eq!(
            reported[0].0,
            last_height + 1,
            "round {round} resumed wrongly"
        );
        let store = Store::open(dir.path()).unwrap();
        let height = store.height().unwrap();
        let root = store.root().unwrap();
        // The commit after the last printed one may have completed before its line was written.
        assert!(
            height == printed_height || height == printed_height + 1,
            "round {round}: store at height {height}, last reported {printed_height}"
        );
        if height == printed_height {
            assert_eq!(
                hex(&root),
                printed_root,
                "round {round}: root differs from report"
            );
        }
        eprintln!("round {round}: killed after reporting {printed_height}, recovered {height}");
        let model = model_at(height);
        assert_eq!(
            root,
            expected_root(&model),
            "round {round}: root of height {height}"
        );
        for (tree, entries) in &model {
            let stored: Model = [(
                *tree,
                store
                    .scan_prefix(tree, b"key/", usize::MAX)
                    .unwrap()
                    .into_iter()
                    .collect(),
            )]
            .into();
            assert_eq!(
                stored[tree], *entries,
                "round {round}: contents of tree {tree}"
            );
        }
        last_height = height;
    }
}
