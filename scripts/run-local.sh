#!/usr/bin/env bash
# The main job: generate sample recordings (speech, music, a phone call, and files that are not audio), run
# redscribe over them, and query the rows it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --release --locked -p redscribe-cli
bin="$CARGO_TARGET_DIR/release/redscribe"

samples="${1:-samples}"
scripts/make-samples.sh "$samples"

out="${REDSCRIBE_OUT:-out}"
mkdir -p "$out"
echo "== redscribe inspect $samples"
"$bin" inspect --parquet "$out/transcription_results.parquet" --jsonl "$out/transcription_results.jsonl" "$samples"

echo "== rows in $out/transcription_results.parquet (queried with DuckDB)"
python3 - "$out/transcription_results.parquet" <<'PY'
import sys, duckdb
path = sys.argv[1]
duckdb.sql(f"""
    select regexp_replace(object_key, '.*/', '') as file, status, container, codec,
           round(duration_s, 2) as duration_s, sample_rate, channels, error_code
    from read_parquet('{path}') order by file
""").show(max_width=200)
PY
