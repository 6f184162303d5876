#!/usr/bin/env bash
# Builds redscribe (the `local` profile, as scripts/run-local.sh) and runs the long-recording benchmark: an hour heard whole, then in parts by 1, 2 and
# 4 workers.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --profile local --locked -p redscribe-cli
mkdir -p out
exec python3 benches/parts/bench.py --redscribe "$CARGO_TARGET_DIR/local/redscribe" --json out/bench-parts.json "$@"
