#!/usr/bin/env bash
# Builds redscribe (release) and runs the transcription benchmark against faster-whisper on the same model.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --release --locked -p redscribe-cli
mkdir -p out
exec python3 benches/transcribe/bench.py --redscribe "$CARGO_TARGET_DIR/release/redscribe" \
    --model-dir "${REDSCRIBE_MODEL_DIR:-$HOME/.cache/redscribe/models/whisper-tiny.en}" \
    --threads "$(nproc)" --json out/bench-transcribe.json
