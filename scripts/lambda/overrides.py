#!/usr/bin/env python3
"""The stack parameters for `sam deploy --parameter-overrides`: samconfig.toml's, then the command line's, then
scripts/deploy.sh's own (what it packaged), each later one winning.

A `--parameter-overrides` given on the command line replaces samconfig.toml's whole list, so what the first,
guided deployment saved (the warehouse, the alarm address, …) would be lost when deploy.sh sets the model: this
merges them instead. Prints one KEY="VALUE" per line, the form SAM CLI reads (an empty or spaced value too).

    overrides.py --config samconfig.toml [--config-env default] -- KEY=VALUE ...
"""

import argparse
import os
import shlex
import tomllib


def saved(path, env):
    """What `sam deploy --guided` saved: a string of KEY="VALUE" pairs (or a list of them)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        config = tomllib.load(f)
    value = config.get(env, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
    return shlex.split(value) if isinstance(value, str) else [p for v in value for p in shlex.split(v)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="samconfig.toml")
    p.add_argument("--config-env", default="default")
    p.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    args = p.parse_args()
    merged = {}
    for pair in saved(args.config, args.config_env) + args.pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            p.error(f"{pair}: not KEY=VALUE")
        merged[key] = value
    for key, value in merged.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        print(f'{key}="{escaped}"')


if __name__ == "__main__":
    main()
