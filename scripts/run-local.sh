#!/usr/bin/env bash
# The main job: generate sample recordings (speech, music, a phone call, and files that are not audio), run the
# whole pipeline on them against the local stand-ins (S3 upload → events → Parquet → COPY/MERGE through the Data
# API), and query the rows that landed in the warehouse.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --release --locked -p redscribe-cli
bin="$CARGO_TARGET_DIR/release/redscribe"

samples="${1:-samples}"
scripts/make-samples.sh "$samples"

# A data folder of its own, so this run does not touch the one `redscribe serve` uses by default.
data="${REDSCRIBE_DATA_DIR:-out/data}"
mkdir -p "$data"
echo "== redscribe run --data-dir $data $samples"
"$bin" run --data-dir "$data" "$samples"

echo "== transcription_results in $data/warehouse/redscribe.duckdb (read with DuckDB's own client)"
python3 - "$data/warehouse/redscribe.duckdb" <<'PY'
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.sql("""
    select regexp_replace(object_key, '.*/', '') as file, status, error_code, container, codec,
           round(duration_s, 2) as duration_s, sample_rate, channels, loaded_at is not null as loaded
    from public.transcription_results order by file
""").show(max_width=200)
PY
echo "Query it yourself: redscribe serve --data-dir $data   then   redscribe query \"select * from transcription_results\""
