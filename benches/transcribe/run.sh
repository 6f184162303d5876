#!/usr/bin/env bash
# Builds redscribe (release) and runs the transcription benchmark against faster-whisper on the same models:
# tiny.en and the multilingual base (fetched here if missing). `--sizes`: the Lambda memory sizes' cost instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh --models base
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --release --locked -p redscribe-cli
mkdir -p out
models_dir="${REDSCRIBE_MODELS_DIR:-$HOME/.cache/redscribe/models}"
# `--sizes`: what each Lambda memory size costs per audio minute instead (benches/transcribe/sizes.py).
if [ "${1:-}" = "--sizes" ]; then
    shift
    exec python3 benches/transcribe/sizes.py --redscribe "$CARGO_TARGET_DIR/release/redscribe" \
        --models-dir "$models_dir" --json out/bench-sizes.json "$@"
fi
exec python3 benches/transcribe/bench.py --redscribe "$CARGO_TARGET_DIR/release/redscribe" \
    --models-dir "$models_dir" --threads "$(nproc)" --json out/bench-transcribe.json "$@"
