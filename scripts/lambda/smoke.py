#!/usr/bin/env python3
"""Runs a packaged Lambda function the way Lambda lays it out, and hands it one event.

The function zip is unpacked as the task folder and each layer zip into one "opt" folder; the bootstrap starts
with only what Lambda gives a function (no HOME, no cache, no RUNPATH help: LD_LIBRARY_PATH ends with the layer's
lib/ as /opt/lib does in Lambda), against a Lambda Runtime API on loopback that serves one event and prints the
function's answer. Exit status 0 when the function answered.

    scripts/lambda/smoke.py --function dist/lambda/redscribe-transcribe-x86_64.zip \
        --layer dist/lambda/redscribe-whisper-layer-x86_64.zip --event '{"Event": "s3:TestEvent", ...}'

With --image DIR instead, the function is a container image context scripts/package.sh laid out: its bootstrap,
its opt/ as /opt, and the Dockerfile's ENV (each /opt in a value standing for that folder).
"""

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import zipfile


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    event = b"{}"
    served = False
    answer = None
    done = threading.Event()

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next") and not RuntimeApi.served:
            RuntimeApi.served = True
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "smoke-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", "99999999999999")
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:smoke")
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(RuntimeApi.event)
        else:
            # Long-poll forever after the one event; the smoke run stops the function.
            RuntimeApi.done.wait(120)
            self.send_response(410)
            self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        RuntimeApi.answer = (self.path.rsplit("/", 1)[-1], body.decode(errors="replace"))
        self.send_response(202)
        self.end_headers()
        RuntimeApi.done.set()

    def log_message(self, *args):
        pass


def dockerfile_env(dockerfile, opt):
    """The ENV lines of a Dockerfile (`ENV A=1 B=2`), /opt in their values moved to `opt`."""
    env = {}
    for line in open(dockerfile):
        words = line.split()
        if words[:1] == ["ENV"]:
            for pair in words[1:]:
                name, value = pair.split("=", 1)
                env[name] = value.replace("/opt", opt)
    return env


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--function")
    p.add_argument("--image", help="a container image context (Dockerfile, bootstrap, opt/) instead of zips")
    p.add_argument("--layer", action="append", default=[])
    p.add_argument("--event", required=True)
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the function ({opt}: the layers)")
    args = p.parse_args()
    if bool(args.function) == bool(args.image):
        p.error("one of --function or --image")
    with tempfile.TemporaryDirectory() as root:
        task, opt = os.path.join(root, "task"), os.path.join(root, "opt")
        image_env = {}
        if args.image:
            task, opt = os.path.abspath(args.image), os.path.abspath(os.path.join(args.image, "opt"))
            image_env = dockerfile_env(os.path.join(args.image, "Dockerfile"), opt)
        for archive, into in ([(args.function, task)] if args.function else []) + [(layer, opt) for layer in args.layer]:
            with zipfile.ZipFile(archive) as z:
                z.extractall(into)
                for info in z.infolist():
                    mode = info.external_attr >> 16
                    if mode:
                        os.chmod(os.path.join(into, info.filename), mode & 0o777)
        RuntimeApi.event = args.event.encode()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env = {
            "PATH": "/usr/bin:/bin",
            "LD_LIBRARY_PATH": os.path.join(opt, "lib"),
            "LAMBDA_TASK_ROOT": task,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": "smoke",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "smoke",
            "AWS_SECRET_ACCESS_KEY": "smoke",
        }
        env.update(image_env)
        # "{opt}" in a value stands for where the layers are (/opt in Lambda).
        env.update((k, v.replace("{opt}", opt)) for k, v in (kv.split("=", 1) for kv in args.env))
        proc = subprocess.Popen([os.path.join(task, "bootstrap")], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        answered = RuntimeApi.done.wait(120)
        proc.kill()
        out, err = proc.communicate()
        server.shutdown()
        if not answered or RuntimeApi.answer is None:
            sys.exit(f"no answer from {args.function or args.image}:\n{err.decode(errors='replace')[-3000:]}")
        kind, body = RuntimeApi.answer
        print(json.dumps({"function": os.path.basename(os.path.normpath(args.function or args.image)), "answer": kind, "body": json.loads(body)}))
        if kind != "response":
            sys.exit(f"the function failed:\n{err.decode(errors='replace')[-3000:]}")


if __name__ == "__main__":
    main()
