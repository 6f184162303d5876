#!/usr/bin/env bash
# Builds redscribe (the `local` profile, as scripts/run-local.sh) and runs the pipeline benchmark: redscribe vs the Python reference, same stand-ins.
# Usage: benches/pipeline/run.sh [RECORDINGS]   (default 1000)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh
python3 -c "import boto3" 2>/dev/null || python3 -m pip install --quiet boto3 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages boto3
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --profile local --locked -p redscribe-cli
exec python3 benches/pipeline/bench.py --redscribe "$CARGO_TARGET_DIR/local/redscribe" \
    --recordings "${1:-1000}" --json out/bench-pipeline.json
