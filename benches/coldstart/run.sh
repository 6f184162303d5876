#!/usr/bin/env bash
# Builds the Lambdas (release) and times their cold starts against a Python/boto3 function.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh
python3 -c "import boto3" 2>/dev/null || python3 -m pip install --quiet boto3
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --release --locked --workspace --bins
exec python3 benches/coldstart/bench.py --binary "$CARGO_TARGET_DIR/release/redscribe-transcribe" \
    --load-binary "$CARGO_TARGET_DIR/release/redscribe-load" \
    --model-dir "${REDSCRIBE_MODEL_DIR:-$HOME/.cache/redscribe/models/whisper-tiny.en}" "$@"
