#!/usr/bin/env python3
"""Cold start of the Lambdas: time from process start to its first `GET /runtime/invocation/next` on a Lambda
Runtime API on loopback (the moment Lambda would hand it an event), for the transcribe function without the model
(REDSCRIBE_TRANSCRIBE=false) and with the model loaded at init, for the load function, and for a Python function that does what such a
function usually does at init (import boto3, create S3 and Redshift Data API clients). Median of N starts each,
one run; ratios against the Python function. Not a test: nothing here asserts a time.

    benches/coldstart/run.sh
"""

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

PYTHON_FUNCTION = """
import os, urllib.request
import boto3
s3 = boto3.client("s3")
data_api = boto3.client("redshift-data")
urllib.request.urlopen("http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/next")
"""


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Records when `next` is first asked for, and answers 410 so the function stops."""

    first_poll = None
    polled = threading.Event()

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next") and RuntimeApi.first_poll is None:
            RuntimeApi.first_poll = time.perf_counter()
            RuntimeApi.polled.set()
        self.send_response(410)
        self.end_headers()

    def log_message(self, *args):
        pass


def start(cmd, env, server):
    RuntimeApi.first_poll = None
    RuntimeApi.polled.clear()
    env = dict(os.environ, **env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = started + 60
    while not RuntimeApi.polled.wait(0.005):
        if proc.poll() is not None or time.perf_counter() > deadline:
            proc.kill()
            raise SystemExit(f"{cmd[0]} never polled:\n{proc.stderr.read().decode(errors='replace')[-2000:]}")
    ms = (RuntimeApi.first_poll - started) * 1000
    proc.kill()
    proc.wait()
    return ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the redscribe-transcribe binary (release)")
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--load-binary", help="the redscribe-load binary (release)")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    common = {
        "AWS_LAMBDA_FUNCTION_NAME": "redscribe-transcribe", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "S3_BUCKET": "recordings", "RUST_LOG": "warn",
    }
    cases = [
        ("redscribe, no model", [args.binary], dict(common, REDSCRIBE_TRANSCRIBE="false")),
        ("redscribe, model at init", [args.binary], dict(common, REDSCRIBE_MODEL_DIR=args.model_dir)),
        ("Python + boto3 clients", [sys.executable, "-c", PYTHON_FUNCTION], common),
    ]
    if args.load_binary:
        load_env = dict(common, AWS_LAMBDA_FUNCTION_NAME="redscribe-load", REDSHIFT_DB="dev", REDSHIFT_WORKGROUP="bench")
        cases.insert(2, ("redscribe load function", [args.load_binary], load_env))
    results = {}
    for name, cmd, env in cases:
        start(cmd, env, server)  # warm the page cache: every case starts from files already read once
        results[name] = statistics.median(start(cmd, env, server) for _ in range(args.runs))
    python = results["Python + boto3 clients"]
    print(f"\nprocess start -> first GET /runtime/invocation/next, median of {args.runs}, one run")
    print(f"{'':28}{'ms':>9}{'vs Python':>11}")
    for name, ms in results.items():
        print(f"{name:28}{ms:9.1f}{python / ms:10.1f}x")
    server.shutdown()


if __name__ == "__main__":
    main()
