#!/usr/bin/env bash
# Deploys redscribe to AWS with template.yaml (README, "Deploy to AWS"):
#   1. scripts/package.sh   the two function zips and the Whisper layer, checked and smoke-run (dist/lambda/)
#   2. sam build            deploy/Makefile lays the zips out for SAM (.aws-sam/build/)
#   3. sam deploy           uploads the code and the layer to S3 (the layer is over Lambda's 50 MB direct upload)
#                           and creates or updates the stack; --guided the first time (it writes samconfig.toml),
#                           what samconfig.toml says after that
# Usage: scripts/deploy.sh [--guided] [--build-only] [any other `sam deploy` option, e.g. --parameter-overrides …]
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${REDSCRIBE_CACHE:-$HOME/.cache/redscribe}/deploy-tools/bin"
export SAM_CLI_TELEMETRY=0

build_only=false
deploy_args=()
for arg in "$@"; do
    case "$arg" in
        --build-only) build_only=true ;;
        *) deploy_args+=("$arg") ;;
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

step "package (scripts/package.sh)" scripts/package.sh
# SAM runs make in a copy of deploy/, so the zips are named by an absolute path.
export REDSCRIBE_DIST="$PWD/dist/lambda"
step "sam build" "$tools/sam" build --template-file template.yaml
if $build_only; then
    echo "deploy: built .aws-sam/build/ (sam deploy skipped: --build-only)"
    exit 0
fi
step "sam deploy" "$tools/sam" deploy --capabilities CAPABILITY_IAM --resolve-s3 "${deploy_args[@]}"
