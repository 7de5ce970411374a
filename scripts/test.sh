#!/usr/bin/env bash
# The test command: installs what the build needs, then runs every test in the workspace.
# Usage: scripts/test.sh [extra args for cargo nextest / cargo test]
set -euo pipefail
cd "$(dirname "$0")/.."

# Example contracts are compiled to WebAssembly by the normal build.
rustup target add wasm32-unknown-unknown >/dev/null

# The enclave's crate links nothing of the node (docs/DESIGN.md §2).
scripts/check-enclave-deps.sh

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
    cargo test --workspace --doc
else
    cargo test --workspace "$@"
fi
