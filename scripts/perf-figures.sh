#!/usr/bin/env bash
# Regenerates the figures and tables of docs/PERFORMANCE.md (see there for what each shows).
#
#   scripts/perf-figures.sh            # the scale simulation (about 40 minutes on 2 cores)
#   scripts/perf-figures.sh --local    # also the local mode comparison (about 10 minutes more)
#
# Writes docs/img/*.svg and the JSON they are drawn from next to them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p hyperchain-cli
hc=target/release/hyperchain
mkdir -p docs/img

# 100 validators over 10 regions, 10..200 compute pairs, 10 ms jobs: full blocks (before the
# block relay), digests and coded blocks, each with execution before the vote and deferred.
"$hc" simulate --workload heavy --dissemination digests,full-blocks,coded --execution both \
  --json --svg docs/img/scale-heavy.svg > docs/img/scale-heavy.json
# The same network with ten times heavier jobs (about 100 ms).
"$hc" simulate --workload heavy:300000 --dissemination digests,full-blocks \
  --json --svg docs/img/scale-heavier.svg > docs/img/scale-heavier.json
# As implemented: compact blocks over gossiped transactions, validators executing before the
# finalize vote (certify), next to executing before the notarize vote and deferred execution.
"$hc" simulate --workload heavy --dissemination compact --execution all \
  --json --svg docs/img/scale-compact.svg > docs/img/scale-compact.json
"$hc" simulate --workload heavy:300000 --dissemination compact --execution certify \
  --json --svg docs/img/scale-compact-heavier.svg > docs/img/scale-compact-heavier.json

if [[ "${1:-}" == "--local" ]]; then
  # Real validators and compute nodes on this machine: every execution mode, 4 and 7 validators.
  "$hc" bench --compare --validators 4,7 --repeat 5 --json --svg docs/img/modes.svg > docs/img/modes.json
fi
