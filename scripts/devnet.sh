#!/usr/bin/env bash
# The main job: builds hyperchain and starts a local network — 4 validator processes running
# BFT consensus (commonware simplex, threshold-BLS VRF) over authenticated TCP on loopback,
# and simulated Intel and AMD compute nodes in two regions that attest and register — then
# deploys example contracts through RPC and runs heavy calls on cross-vendor committees,
# printing which Intel/AMD pair executed each job and the agreed result.
# Ctrl-C stops every process cleanly; running it again resumes the same chain.
# Usage: scripts/devnet.sh [extra `hyperchain devnet` flags]   (data: .hyperchain/devnet)
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown >/dev/null
echo "==> building hyperchain (release; the first build takes several minutes)"
cargo build --release --quiet -p hyperchain-cli
exec target/release/hyperchain devnet --dir .hyperchain/devnet "$@"
