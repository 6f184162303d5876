#!/usr/bin/env bash
# The main job: install what is needed (setup also generates the sample recordings: speech, music, a phone call,
# and files that are not audio), build, and run `redscribe demo` — the local stand-ins start, the samples are
# uploaded with the S3 SDK, every upload event goes through the pipeline (Parquet → COPY/MERGE through the Data
# API), and the rows of transcription_results are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
# The `local` profile (Cargo.toml): release's optimisation without its whole-program passes, which only the Lambda
# packages keep; the first build on a fresh 2-core machine takes about ten minutes instead of nineteen.
cargo build --profile local --locked -p redscribe-cli
bin="$CARGO_TARGET_DIR/local/redscribe"

# A data folder of its own, so this run does not touch the one `redscribe serve` uses by default.
data="${REDSCRIBE_DATA_DIR:-out/data}"
mkdir -p "$data"
# The job ends with the rows: the dashboard page of the run is one command away (printed at the end).
"$bin" demo --no-dashboard --data-dir "$data" --samples "${1:-samples}"

echo "== the same table read with DuckDB's own client (the local warehouse file)"
python3 - "$data/warehouse/redscribe.duckdb" <<'PY'
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.sql("select status, count(*) as recordings from public.transcription_results group by 1 order by 1"))
PY
echo "== the dashboard of this run, drawn on a page on loopback: $bin dashboard --data-dir $data"
