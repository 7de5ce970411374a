#!/usr/bin/env bash
# The main job: builds hyperchain and starts a local network — 4 validator processes running
# BFT consensus (commonware simplex, threshold-BLS VRF) over authenticated TCP on loopback —
# then deploys example contracts through RPC, sends calls and prints where they finalized.
# Ctrl-C stops every validator cleanly; running it again resumes the same chain.
# Usage: scripts/devnet.sh [extra `hyperchain devnet` flags]   (data: .hyperchain/devnet)
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown >/dev/null
echo "==> building hyperchain (release; the first build takes several minutes)"
cargo build --release --quiet -p hyperchain-cli
exec target/release/hyperchain devnet --dir .hyperchain/devnet "$@"
