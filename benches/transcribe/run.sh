#!/usr/bin/env bash
# Builds redscribe (the `local` profile, as scripts/run-local.sh) and runs the transcription benchmark against
# faster-whisper on the same models: tiny.en and the multilingual base (fetched here if missing). `--sizes`: the
# Lambda memory sizes' cost instead. `--profiles`: also the `release` build (what the Lambda packages are), as an
# engine of its own, to show that the local profile transcribes as fast.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh --models base
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --profile local --locked -p redscribe-cli
bin="$CARGO_TARGET_DIR/local/redscribe"
mkdir -p out
models_dir="${REDSCRIBE_MODELS_DIR:-$HOME/.cache/redscribe/models}"
# `--sizes`: what each Lambda memory size costs per audio minute instead (benches/transcribe/sizes.py).
if [ "${1:-}" = "--sizes" ]; then
    shift
    exec python3 benches/transcribe/sizes.py --redscribe "$bin" \
        --models-dir "$models_dir" --json out/bench-sizes.json "$@"
fi
if [ "${1:-}" = "--profiles" ]; then
    shift
    cargo build --release --locked -p redscribe-cli
    set -- --release-build "$CARGO_TARGET_DIR/release/redscribe" "$@"
fi
exec python3 benches/transcribe/bench.py --redscribe "$bin" \
    --models-dir "$models_dir" --threads "$(nproc)" --json out/bench-transcribe.json "$@"
