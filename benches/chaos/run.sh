#!/usr/bin/env bash
# The chaos run the README reports: the suite's chaos test at scale (the test build, shared with scripts/test.sh). `redscribe serve` is SIGKILLed at
# random moments while the aws CLI uploads, restarted over torn journal tails and once into a storm of refused
# Data API statements, with one recording whose processing crashes; at the end it prints
#   chaos: N uploads succeeded (…), K kill -9, R rows, L lost, D doubled, in S s
# and fails unless L = D = 0, every event is acknowledged and serve stops cleanly.
# Usage: benches/chaos/run.sh [UPLOADS] [KILLS]   (default 200 uploads, 12 kills)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
export REDSCRIBE_CHAOS_UPLOADS="${1:-200}" REDSCRIBE_CHAOS_KILLS="${2:-12}"
exec cargo test --locked --workspace --test chaos -- --nocapture
