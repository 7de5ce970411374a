#!/usr/bin/env bash
# The main job: builds hyperchain and runs example contracts through the deterministic engine
# against a local state directory, showing outputs, events, fuel, state roots and how the
# engine contains a misbehaving contract.
# Usage: scripts/demo.sh [state directory]   (default: .hyperchain/demo)
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown >/dev/null
echo "==> building hyperchain (release; the first build takes several minutes)"
cargo build --release --quiet -p hyperchain-cli
hc=target/release/hyperchain
state=${1:-.hyperchain/demo}
rm -rf "$state"

# step TITLE ARGS...: print the title (if any) and the command, then run it. Failed calls are
# part of the demo, so their exit code does not stop it.
step() {
    [ -n "$1" ] && printf '\n==> %s\n' "$1"
    printf '$ hyperchain %s\n' "${*:2}"
    "$hc" "${@:2}" || true
}

step "the built-in example contracts and their methods" vm examples
step "a counter: two increments, state persists between runs" \
    vm run counter increment u64:5 --decode u64 --state "$state"
step "" vm run counter increment u64:37 --decode u64 --state "$state"
step "a token: initialise, mint, transfer, and a transfer that reverts" \
    vm run token init addr:0x0101010101010101010101010101010101010101010101010101010101010101 --state "$state"
step "" vm run token mint addr:0x0101010101010101010101010101010101010101010101010101010101010101 u64:1000 --state "$state"
step "" vm run token transfer addr:0x0202020202020202020202020202020202020202020202020202020202020202 u64:250 --state "$state"
step "" vm run token balance_of addr:0x0202020202020202020202020202020202020202020202020202020202020202 --decode u64 --state "$state"
step "" vm run token transfer addr:0x0202020202020202020202020202020202020202020202020202020202020202 u64:5000 --state "$state"
step "heavy workloads: 20,000 rounds of SHA-256 in WASM, a 128x128 matrix product" \
    vm run heavy sha256_chain u32:20000 --decode hash --state "$state"
step "" vm run heavy matmul u32:128 --decode u64 --state "$state"
step "a contract that never stops is stopped by fuel, exactly at the limit" \
    vm run adversarial infinite_loop --fuel 50000000 --state "$state"
step "a memory bomb hits the 32 MiB cap" vm run adversarial memory_bomb --state "$state"
step "unbounded recursion hits the stack bound" vm run adversarial deep_recursion u32:100000000 --state "$state"
step "the state directory: one root commits every contract's storage" \
    vm state --contract counter --state "$state"
step "deploy-time validation of a module" vm inspect token
printf '\nDone. State is in %s; try: %s vm run --help\n' "$state" "$hc"
