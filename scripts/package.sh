#!/usr/bin/env bash
# Builds the deployable Lambda artifacts under dist/lambda/:
#   redscribe-transcribe-<arch>.zip        the transcribe function (bootstrap), provided.al2023
#   redscribe-load-<arch>.zip              the load function (bootstrap), provided.al2023
#   redscribe-whisper-layer-<arch>.zip     layer: lib/ (CTranslate2 + its OpenMP runtime), models/whisper-<model>/
# then checks that the binaries run on Amazon Linux 2023's C libraries, prints the sizes against Lambda's limits, and
# runs each function from its unpacked zips the way Lambda lays them out (scripts/lambda/smoke.py).
#
#   scripts/package.sh [--model tiny.en|base] [--image]     (model: or REDSCRIBE_MODEL; default tiny.en)
#
# A model whose function and layer pass Lambda's 250 MB unzipped limit (base: 150 MB of model, 83 MB of
# CTranslate2 and the 28 MB function) cannot go as a layer: the script then also lays out a container image context,
# dist/lambda/image/ (a Dockerfile on Lambda's provided:al2023 base image, the bootstrap, /opt/lib and /opt/models
# as the layer has them; images may be 10 GB), smoke-runs it as it runs the zips, and builds the image
# redscribe-transcribe:<model> where a Docker engine answers (scripts/deploy.sh pushes it to ECR). --image does so
# for a model that fits too.
#
# Built with the machine's own toolchain, for its architecture (x86_64 here): CTranslate2 comes as the shared
# library of the `ctranslate2` PyPI wheel for that architecture, and its C++ ABI (libstdc++) must match the code
# that calls it, which rules out cross-linking it with zig (`cargo lambda build --arm64` links libc++). The load
# function has no native dependency: `cargo lambda build --release --arm64 --bin redscribe-load` (cargo-lambda and
# ziglang from PyPI) builds it for Graviton when the aarch64 Rust standard library is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
model_name=${REDSCRIBE_MODEL:-tiny.en}
want_image=false
while (($#)); do
    case $1 in
        --model) model_name=$2; shift 2 ;;
        --image) want_image=true; shift ;;
        *) echo "usage: scripts/package.sh [--model tiny.en|base] [--image]" >&2; exit 2 ;;
    esac
done
scripts/setup.sh --models "$model_name" >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/redscribe/target}"
cargo build --release --locked --workspace --bins

arch=$(uname -m)
out=dist/lambda
rm -rf "$out"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# Amazon Linux 2023 has glibc 2.34 and GCC 11's libstdc++ (GLIBCXX_3.4.29): nothing may ask for newer.
max_version() { objdump -T "$1" | { grep -o "$2_[0-9.]*" || true; } | sed "s/$2_//" | sort -uV | tail -1; }
check_runs_on_al2023() {
    local file=$1 glibc glibcxx
    glibc=$(max_version "$file" GLIBC)
    glibcxx=$(max_version "$file" GLIBCXX)
    for pair in "$glibc 2.34 glibc" "${glibcxx:-0} 3.4.29 libstdc++"; do
        set -- $pair
        if [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1) != "$2" ]]; then
            echo "package: $(basename "$file") needs $3 $1; Amazon Linux 2023 has $2" >&2
            exit 1
        fi
    done
    echo "  $(basename "$file"): needs glibc ${glibc}, libstdc++ GLIBCXX_${glibcxx:-none} (AL2023: 2.34, 3.4.29)"
}

echo "package: functions"
for fn in transcribe load; do
    bin="$CARGO_TARGET_DIR/release/redscribe-$fn"
    check_runs_on_al2023 "$bin"
    mkdir -p "$stage/$fn"
    cp "$bin" "$stage/$fn/bootstrap"
    (cd "$stage/$fn" && zip -q -X "$OLDPWD/$out/redscribe-$fn-$arch.zip" bootstrap)
done

echo "package: the Whisper layer"
ct2=$(readlink -f .ctranslate2)
model=$(readlink -f "${REDSCRIBE_MODEL_DIR:-$HOME/.cache/redscribe/models/whisper-$model_name}")
models="$stage/layer/models/whisper-$model_name"
mkdir -p "$stage/layer/lib" "$models"
# The wheel's libraries under their sonames (what the binary and libctranslate2 ask the loader for).
for lib in "$ct2"/libctranslate2-*.so.* "$ct2"/libgomp-*.so.*; do
    soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    cp "$lib" "$stage/layer/lib/${soname:-$(basename "$lib")}"
    check_runs_on_al2023 "$stage/layer/lib/${soname:-$(basename "$lib")}"
done
cp "$model"/{config.json,model.bin,tokenizer.json} "$models/"
cp "$model"/vocabulary.* "$models/"
(cd "$stage/layer" && zip -q -X -r "$OLDPWD/$out/redscribe-whisper-layer-$arch.zip" lib models)

echo "package: sizes (Lambda: 50 MB per zip uploaded directly, larger through S3; 250 MB unzipped for a function and its layers)"
total=0
for z in "$out"/*.zip; do
    unzipped=$(unzip -l "$z" | tail -1 | awk '{print $1}')
    printf '  %-40s %6.1f MB zipped %6.1f MB unzipped\n' "$(basename "$z")" \
        "$(echo "$(stat -c %s "$z") / 1048576" | bc -l)" "$(echo "$unzipped / 1048576" | bc -l)"
    [[ $z == *load* ]] || total=$((total + unzipped))
done
printf '  transcribe function + layer (whisper-%s): %.1f MB unzipped of 250\n' "$model_name" \
    "$(echo "$total / 1048576" | bc -l)"
image="$out/image"
if ((total >= 250 * 1048576)); then
    echo "package: over Lambda's 250 MB as a layer: the function goes as a container image"
    want_image=true
fi
if $want_image; then
    # The same files as a container image (Lambda's limit for those is 10 GB).
    mkdir -p "$image/opt"
    cp "$CARGO_TARGET_DIR/release/redscribe-transcribe" "$image/bootstrap"
    cp -r "$stage/layer/lib" "$stage/layer/models" "$image/opt/"
    cat >"$image/Dockerfile" <<DOCKERFILE
# The transcribe function with whisper-$model_name, as a Lambda container image (made by scripts/package.sh).
FROM public.ecr.aws/lambda/provided:al2023
COPY opt/ /opt/
ENV LD_LIBRARY_PATH=/opt/lib REDSCRIBE_MODEL=$model_name
COPY bootstrap /var/task/bootstrap
ENTRYPOINT ["/var/task/bootstrap"]
DOCKERFILE
    echo "package: the container image context is in $image/"
fi

echo "package: smoke runs (each function from its unpacked zips, one event)"
test_event='{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-24T00:00:00Z","Bucket":"recordings","RequestId":"1","HostId":"h"}'
python3 scripts/lambda/smoke.py --function "$out/redscribe-transcribe-$arch.zip" \
    --layer "$out/redscribe-whisper-layer-$arch.zip" --event "$test_event" \
    --env "REDSCRIBE_MODEL_DIR={opt}/models/whisper-$model_name" --env "S3_BUCKET=recordings"
python3 scripts/lambda/smoke.py --function "$out/redscribe-load-$arch.zip" --event "$test_event" \
    --env "REDSHIFT_DB=dev" --env "REDSHIFT_WORKGROUP=smoke" --env "S3_BUCKET=recordings" \
    --env "AWS_ENDPOINT_URL=http://127.0.0.1:9"
if $want_image; then
    python3 scripts/lambda/smoke.py --image "$image" --event "$test_event" \
        --env "REDSCRIBE_MODEL_DIR={opt}/models/whisper-$model_name" --env "S3_BUCKET=recordings"
    if docker info >/dev/null 2>&1; then
        echo "package: docker build redscribe-transcribe:$model_name"
        docker build --platform "linux/$arch" -t "redscribe-transcribe:$model_name" "$image"
    else
        echo "package: no Docker engine here; where one runs:"
        echo "  docker build --platform linux/$arch -t redscribe-transcribe:$model_name $image"
        echo "  (scripts/deploy.sh --model $model_name --image-repository URI builds, pushes and deploys it)"
    fi
fi
echo "package: done, $out/"
