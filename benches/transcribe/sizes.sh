#!/usr/bin/env bash
# Builds redscribe (release) and measures what each Lambda memory size of the transcribe function costs per audio
# minute and how long it takes over a ten-minute part (threads measured on this machine, the rest extrapolated).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh --models base
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --release --locked -p redscribe-cli
mkdir -p out
exec python3 benches/transcribe/sizes.py --redscribe "$CARGO_TARGET_DIR/release/redscribe" \
    --models-dir "${REDSCRIBE_MODELS_DIR:-$HOME/.cache/redscribe/models}" --json out/bench-sizes.json "$@"
