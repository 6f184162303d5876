#!/usr/bin/env bash
# Deploys redscribe to AWS with template.yaml (README, "Deploy to AWS"):
#   1. scripts/package.sh   the two function zips and the Whisper layer, checked and smoke-run (dist/lambda/); for a
#                           model over the layer limit (base) also the transcribe function's container image
#   2. docker push          that image, to --image-repository (an ECR repository URI), by digest
#   3. sam build            deploy/Makefile lays the zips out for SAM (.aws-sam/build/)
#   4. sam deploy           uploads the code and the layer to S3 (the layer is over Lambda's 50 MB direct upload)
#                           and creates or updates the stack; --guided the first time (it writes samconfig.toml),
#                           what samconfig.toml says after that
# The stack is always given what was packaged: WhisperModel and TranscribeImageUri (empty for the layer form),
# merged with samconfig.toml's parameters and any --parameter-overrides (scripts/lambda/overrides.py).
#
# Usage: scripts/deploy.sh [--guided] [--build-only] [--model tiny.en|base] [--image-repository URI]
#                          [--parameter-overrides K=V ...] [any other `sam deploy` option]
#   e.g. scripts/deploy.sh --model base --image-repository 123456789012.dkr.ecr.eu-west-1.amazonaws.com/redscribe
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${REDSCRIBE_CACHE:-$HOME/.cache/redscribe}/deploy-tools/bin"
export SAM_CLI_TELEMETRY=0

build_only=false
model=${REDSCRIBE_MODEL:-tiny.en}
repository=""
overrides=()
deploy_args=()
while (($#)); do
    case $1 in
        --build-only) build_only=true; shift ;;
        --model) model=$2; shift 2 ;;
        --image-repository) repository=$2; shift 2 ;;
        --parameter-overrides)
            shift
            while (($#)) && [[ $1 != --* ]]; do overrides+=("$1"); shift; done ;;
        *) deploy_args+=("$1"); shift ;;
    esac
done
# The first deployment asks for the stack's name, region and parameters, and keeps the answers.
if [[ ! -f samconfig.toml ]] && [[ " ${deploy_args[*]:-} " != *" --guided "* ]]; then
    deploy_args+=(--guided)
fi

step() {
    local name=$1 start=$SECONDS
    shift
    echo "deploy: $name"
    "$@"
    echo "deploy: $name took $((SECONDS - start)) s"
}

# The image, pushed to the repository by a tag of the moment; the stack names it by digest, so that a new image
# is a new parameter value and CloudFormation updates the function.
push_image() {
    local registry=${repository%%/*} region tag
    region=$(cut -d. -f4 <<<"$registry")
    tag="$repository:$model-$(date -u +%Y%m%dT%H%M%SZ)"
    docker tag "redscribe-transcribe:$model" "$tag"
    aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
    docker push "$tag"
    image_uri=$(docker inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$tag" | grep -m1 "^$repository@")
    echo "deploy: $image_uri"
}

package_args=(--model "$model")
[[ -z $repository ]] || package_args+=(--image)
step "package (scripts/package.sh ${package_args[*]})" scripts/package.sh "${package_args[@]}"
image_uri=""
if [[ -d dist/lambda/image ]] && ! $build_only; then
    if [[ -z $repository ]]; then
        echo "deploy: whisper-$model goes as a container image: name an ECR repository to push it to," >&2
        echo "  scripts/deploy.sh --model $model --image-repository <account>.dkr.ecr.<region>.amazonaws.com/<name>" >&2
        exit 2
    fi
    docker info >/dev/null 2>&1 || { echo "deploy: the image needs a Docker engine, and none answers" >&2; exit 1; }
    step "push the image (docker push)" push_image
fi
# SAM runs make in a copy of deploy/, so the zips are named by an absolute path.
export REDSCRIBE_DIST="$PWD/dist/lambda"
step "sam build" "$tools/sam" build --template-file template.yaml
if $build_only; then
    echo "deploy: built .aws-sam/build/ (sam deploy skipped: --build-only)"
    exit 0
fi
mapfile -t parameters < <(python3 scripts/lambda/overrides.py --config samconfig.toml -- \
    "${overrides[@]}" "WhisperModel=$model" "TranscribeImageUri=$image_uri")
step "sam deploy" "$tools/sam" deploy --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM --resolve-s3 \
    --parameter-overrides "${parameters[@]}" "${deploy_args[@]}"
