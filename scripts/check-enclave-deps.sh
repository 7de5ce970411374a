#!/usr/bin/env bash
# What a TEE measures must stay small: the enclave's crate may not depend on the node, its
# database, its p2p stack or any HTTP client or server. commonware-consensus (for certificate
# types) brings commonware's runtime, and with it tokio, hyper and axum: those are allowed only
# through commonware's crates, never used directly by a hyperchain crate.
set -euo pipefail
cd "$(dirname "$0")/.."

crate=hyperchain-enclave
tree=$(cargo tree -p "$crate" -e normal --prefix none --offline 2>/dev/null || cargo tree -p "$crate" -e normal --prefix none)
fail=0
for forbidden in hyperchain-chain hyperchain-rpc hyperchain-compute hyperchain-cli redb; do
    if grep -q "^$forbidden " <<<"$tree"; then
        echo "error: $crate depends on $forbidden" >&2
        cargo tree -p "$crate" -e normal -i "$forbidden" >&2 || true
        fail=1
    fi
done
for runtime in tokio axum hyper reqwest; do
    if ! grep -q "^$runtime " <<<"$tree"; then
        continue
    fi
    direct=$(cargo tree -p "$crate" -e normal -i "$runtime" --depth 1 --prefix none | tail -n +2 | grep '^hyperchain-' || true)
    if [ -n "$direct" ]; then
        echo "error: $runtime is a direct dependency of: $direct" >&2
        fail=1
    fi
done
# The compute daemon runs on commonware's runtime traits: it may not use tokio directly (the
# binary picks the runtime; simulations run the daemon on the deterministic one).
daemon=hyperchain-compute
direct=$(cargo tree -p "$daemon" -e normal --depth 1 --prefix none --offline 2>/dev/null || cargo tree -p "$daemon" -e normal --depth 1 --prefix none)
if grep -q '^tokio ' <<<"$direct"; then
    echo "error: tokio is a direct dependency of $daemon (use commonware_runtime's traits)" >&2
    fail=1
fi
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "enclave dependency check: no node, database or direct runtime/HTTP crate in $crate's tree; no direct tokio in $daemon"
