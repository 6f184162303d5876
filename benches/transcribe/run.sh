#!/usr/bin/env bash
# Builds redscribe (release) and runs the transcription benchmark against faster-whisper on the same models:
# tiny.en and the multilingual base (fetched here if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh --models base
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --release --locked -p redscribe-cli
mkdir -p out
exec python3 benches/transcribe/bench.py --redscribe "$CARGO_TARGET_DIR/release/redscribe" \
    --models-dir "${REDSCRIBE_MODELS_DIR:-$HOME/.cache/redscribe/models}" \
    --threads "$(nproc)" --json out/bench-transcribe.json "$@"
