#!/usr/bin/env bash
# Long runs kept out of the test suite's time (CI runs scripts/test.sh only):
#   - many epochs of the deterministic simulation, each boundary a resharing
#     (SOAK_VALIDATORS, SOAK_EPOCHS, SOAK_EPOCH_BLOCKS; defaults 7, 20 and the genesis minimum);
#   - the ceremony on the simulated network (CEREMONY_SIZES, default 4,7,16,32);
#   - the ceremony's and a resharing's CPU and bytes per validator (RESHARE_SIZES, default 4,7,100).
# Usage: scripts/soak.sh [epochs|ceremony|reshare]...   (no argument: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown >/dev/null

runs=("$@")
[ ${#runs[@]} -eq 0 ] && runs=(epochs ceremony reshare)
for run in "${runs[@]}"; do
    case "$run" in
        epochs)
            cargo test --release -p hyperchain-chain --features testkit --test chain \
                many_epochs_reshare_the_key_every_time -- --ignored --nocapture ;;
        ceremony)
            CEREMONY_SIZES="${CEREMONY_SIZES:-4,7,16,32}" \
                cargo test --release -p hyperchain-chain --features testkit --test chain \
                ceremony_cost -- --ignored --nocapture ;;
        reshare)
            cargo bench -p hyperchain-chain --bench reshare ;;
        *)
            echo "unknown run '$run': expected epochs, ceremony or reshare" >&2
            exit 2 ;;
    esac
done
