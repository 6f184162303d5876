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
command -v cc >/dev/null || need_apt+=(build-essential)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)

if ((${#need_apt[@]})); then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Independent readers the tests use to check our Parquet and JSON Lines output, and the aws CLI.
missing_py=()
python3 -c "import pyarrow" 2>/dev/null || missing_py+=("pyarrow>=15")
python3 -c "import duckdb" 2>/dev/null || missing_py+=("duckdb>=1.1")
command -v aws >/dev/null && aws --version >/dev/null 2>&1 || missing_py+=("awscli>=1.36")
if ((${#missing_py[@]})); then
    echo "setup: installing from PyPI: ${missing_py[*]}"
    pip=(python3 -m pip install --quiet --disable-pip-version-check)
    # A distribution-managed Python refuses user installs unless told otherwise (PEP 668).
    "${pip[@]}" "${missing_py[@]}" 2>/dev/null || "${pip[@]}" --break-system-packages "${missing_py[@]}"
    # Under pyenv, new console scripts (aws) need their shims.
    if command -v pyenv >/dev/null; then pyenv rehash; fi
fi

command -v cargo >/dev/null || { echo "setup: cargo not found; install the Rust toolchain (rustup) first" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
echo "setup: ok"
