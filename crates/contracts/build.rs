//! Compile the contracts under `contracts/` to wasm32-unknown-unknown and put the modules in
//! `OUT_DIR`, for `src/lib.rs` to include.
//!
//! The inner cargo gets its own target directory under `OUT_DIR` (so it never waits on the
//! outer build's lock) and a scrubbed environment (so the outer build's flags, wrappers,
//! target, coverage instrumentation and jobserver do not leak into the contracts).

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, exit};

const TARGET: &str = "wasm32-unknown-unknown";

/// Cargo workspaces to build, relative to `contracts/`.
const WORKSPACES: &[&str] = &[".", "nan", "template"];

/// Contract name and the stem of its artifact.
const CONTRACTS: &[(&str, &str)] = &[
    ("counter", "counter"),
    ("token", "token"),
    ("heavy", "heavy"),
    ("nan", "nan"),
    ("adversarial", "adversarial"),
    ("hostcalls", "hostcalls"),
    ("noop", "noop"),
    ("template", "my_contract"),
];

/// Environment variables of the outer build that must not reach the inner one.
const SCRUBBED: &[&str] = &[
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "LLVM_PROFILE_FILE",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
];

/// Prefixes of scrubbed variables: `build.*` and `target.*` settings (target, target dir,
/// rustflags, wrappers, linkers, runners), profile overrides, coverage tooling, and the
/// per-package variables cargo sets for build scripts.
const SCRUBBED_PREFIXES: &[&str] = &[
    "CARGO_BUILD_",
    "CARGO_TARGET_",
    "CARGO_PROFILE_",
    "CARGO_LLVM_COV",
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "DEP_",
    "__CARGO",
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let repo = manifest_dir.join("../..");
    let repo = repo.canonicalize().unwrap_or(repo);
    let contracts = repo.join("contracts");
    let sdk = repo.join("crates/sdk");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    watch_sources(&contracts, &sdk);
    check_target_installed();

    let target_dir = out_dir.join("wasm-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    for workspace in WORKSPACES {
        build_workspace(&cargo, &repo, &contracts.join(workspace), &target_dir);
    }

    let release = target_dir.join(TARGET).join("release");
    for (name, stem) in CONTRACTS {
        let built = release.join(format!("{stem}.wasm"));
        let dest = out_dir.join(format!("{name}.wasm"));
        if let Err(err) = fs::copy(&built, &dest) {
            fail(&format!(
                "contract `{name}` was not built ({}: {err})",
                built.display()
            ));
        }
    }
}

fn build_workspace(cargo: &OsString, repo: &Path, workspace: &Path, target_dir: &Path) {
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .arg("build")
        .arg("--release")
        .args(["--target", TARGET])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if SCRUBBED.contains(&key) || SCRUBBED_PREFIXES.iter().any(|p| key.starts_with(p)) {
            command.env_remove(key);
        }
    }
    // Our own flags: map the checkout's absolute path to a fixed name, so that the modules
    // (panic locations) do not depend on where the repository is checked out.
    command.env(
        "CARGO_ENCODED_RUSTFLAGS",
        format!("--remap-path-prefix={}=hyperchain", repo.display()),
    );

    let output = match command.output() {
        Ok(output) => output,
        Err(err) => fail(&format!(
            "could not run cargo to build the contracts: {err}"
        )),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("can't find crate for `core`")
            || stderr.contains("target may not be installed")
        {
            fail_missing_target();
        }
        fail(&format!(
            "building the contracts in {} failed:\n{stderr}",
            workspace.display()
        ));
    }
    for line in stderr.lines().filter(|line| line.starts_with("warning")) {
        println!("cargo:warning=contracts: {line}");
    }
}

/// Rebuild when any contract source, manifest or lock file, or the SDK changes (but not when
/// a manual build writes to a `target` directory under `contracts/`). A new contract needs an
/// entry in `CONTRACTS`, which changes this file and so reruns it.
fn watch_sources(contracts: &Path, sdk: &Path) {
    let mut paths = vec![sdk.join("src"), sdk.join("Cargo.toml")];
    paths.push(contracts.join("Cargo.toml"));
    paths.push(contracts.join("Cargo.lock"));
    let entries = fs::read_dir(contracts)
        .unwrap_or_else(|err| fail(&format!("cannot read {}: {err}", contracts.display())));
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir.join("Cargo.toml").is_file() {
            for file in ["src", "Cargo.toml", "Cargo.lock", "README.md"] {
                paths.push(dir.join(file));
            }
        }
    }
    // A missing path would make cargo rerun this script on every build.
    for path in paths.into_iter().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn check_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    // If the sysroot cannot be determined, let the build itself report the problem.
    if let Some(sysroot) = sysroot
        && !sysroot.join("lib/rustlib").join(TARGET).is_dir()
    {
        fail_missing_target();
    }
}

fn fail_missing_target() -> ! {
    fail(
        "the wasm32-unknown-unknown target is missing: run `rustup target add wasm32-unknown-unknown`",
    )
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    exit(1)
}
