#!/usr/bin/env bash
# The test command: installs what the tests need, then formatting, lints and every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
# The multilingual base model too: the tests transcribe with it by name.
scripts/setup.sh --models base
# Reuse a build cache outside the clone when the machine has one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
