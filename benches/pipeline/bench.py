#!/usr/bin/env python3
"""Pipeline benchmark: N small recordings through the metadata path, redscribe against a plain Python reference
(reference.py: boto3 GET, per-file JSON PUT, one Data API COPY per file, polled), both against the same local
stand-ins (`redscribe serve --no-pipeline`) in one run. Reports recordings/s, COPY statements, CPU seconds and
peak RSS of each, and their ratios. Not a test: nothing here asserts a time.

    benches/pipeline/run.sh            # builds, then runs this with 1,000 recordings
"""

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import wave

import boto3

HERE = pathlib.Path(__file__).resolve().parent

# Runs a command and reports its wall time, CPU seconds and peak RSS (the launcher's only child is the command).
LAUNCHER = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": p.returncode, "wall_s": wall, "cpu_s": r.ru_utime + r.ru_stime,
                  "peak_rss_mb": r.ru_maxrss / 1024, "output": p.stdout}))
"""


def make_recordings(folder, n):
    """n distinct half-second 16 kHz mono WAVs (a tone each), as phone-call snippets would be."""
    folder.mkdir(parents=True, exist_ok=True)
    rate = 16000
    for i in range(n):
        freq = 200 + (i % 600)
        frames = b"".join(
            int(8000 * math.sin(2 * math.pi * freq * t / rate)).to_bytes(2, "little", signed=True)
            for t in range(rate // 2)
        )
        with wave.open(str(folder / f"call-{i:05d}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(frames)


def start_stand_ins(binary, data):
    proc = subprocess.Popen(
        [binary, "serve", "--data-dir", str(data), "--s3-addr", "127.0.0.1:0", "--data-api-addr", "127.0.0.1:0",
         "--no-pipeline"],
        stdout=subprocess.PIPE, text=True,
    )
    for line in proc.stdout:
        if line.startswith("The pipeline is off"):
            break
    else:
        raise SystemExit("redscribe serve did not start")
    env = dict(os.environ)
    env.update({
        "AWS_CONFIG_FILE": str(data / "aws/config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(data / "aws/credentials"),
        "AWS_PROFILE": "redscribe-local",
    })
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        env.pop(k, None)
    return proc, env


def copy_statements(env):
    """COPY statements the Data API has run so far (single statements and inside batches)."""
    os.environ.update({k: env[k] for k in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE")})
    client = boto3.session.Session().client("redshift-data")
    count, token = 0, None
    while True:
        page = client.list_statements(MaxResults=100, **({"NextToken": token} if token else {}))
        for s in page["Statements"]:
            queries = s.get("QueryStrings") or [s.get("QueryString", "")]
            count += sum(1 for q in queries if q.lstrip().upper().startswith("COPY "))
        token = page.get("NextToken")
        if not token:
            return count


def measure(cmd, env):
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], env=env, stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{result['output'][-4000:]}")
    return result


def process_cpu_s(pid):
    """CPU seconds a running process has used so far (user + system, from /proc)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def query(binary, env, sql):
    out = subprocess.run([binary, "query", "--format", "json", sql], env=env, stdout=subprocess.PIPE, text=True, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redscribe", required=True, help="the redscribe binary (a release build)")
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="workers of each side")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="redscribe-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        make_recordings(tmp / "in", args.recordings)
        serve, env = start_stand_ins(args.redscribe, tmp / "data")
        try:
            subprocess.run(["aws", "s3", "mb", "s3://bench"], env=env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["aws", "s3", "cp", "--recursive", "--quiet", str(tmp / "in"), "s3://bench/in/"],
                           env=env, check=True)

            copies0 = copy_statements(env)
            served0 = process_cpu_s(serve.pid)
            reference = measure([sys.executable, str(HERE / "reference.py"), "--bucket", "bench", "--prefix", "in/",
                                 "--workers", str(args.concurrency)], env)
            copies1 = copy_statements(env)
            served1 = process_cpu_s(serve.pid)
            # Metadata only, as the reference does: what is compared is the pipeline, not the model.
            ours = measure([args.redscribe, "backfill", "--aws", "--s3-path-style", "--no-transcribe",
                            "--concurrency", str(args.concurrency), "s3://bench/in/"], env)
            copies2 = copy_statements(env)
            served2 = process_cpu_s(serve.pid)
            reference["copies"], ours["copies"] = copies1 - copies0, copies2 - copies1
            # What the stand-ins (S3 and the Data API over DuckDB) spent serving each side: on a small machine the
            # two share its cores, so this bounds how fast either side can go. (The COPY counts' queries fall
            # between the readings and are counted too; they are a few List calls.)
            reference["stand_ins_cpu_s"], ours["stand_ins_cpu_s"] = served1 - served0, served2 - served1

            # Both must have loaded every recording, once.
            got_ref = query(args.redscribe, env, "SELECT COUNT(*) AS n, COUNT(DISTINCT object_key) AS k FROM reference_results")
            got_ours = query(args.redscribe, env,
                             "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS k FROM transcription_results "
                             "WHERE object_key LIKE 'in/%' AND status = 'metadata_only'")
            for name, got in (("reference", got_ref), ("redscribe", got_ours)):
                if int(got[0]["n"]) != args.recordings or int(got[0]["k"]) != args.recordings:
                    raise SystemExit(f"{name} loaded {got} rows, expected {args.recordings}")
        finally:
            serve.terminate()
            serve.wait(timeout=30)

    n = args.recordings
    rows = [
        ("wall time (s)", reference["wall_s"], ours["wall_s"], reference["wall_s"] / ours["wall_s"]),
        ("recordings/s", n / reference["wall_s"], n / ours["wall_s"], reference["wall_s"] / ours["wall_s"]),
        ("COPY statements", reference["copies"], ours["copies"], reference["copies"] / max(ours["copies"], 1)),
        ("CPU seconds", reference["cpu_s"], ours["cpu_s"], reference["cpu_s"] / max(ours["cpu_s"], 1e-9)),
        ("peak RSS (MB)", reference["peak_rss_mb"], ours["peak_rss_mb"], reference["peak_rss_mb"] / ours["peak_rss_mb"]),
        ("stand-ins CPU s", reference["stand_ins_cpu_s"], ours["stand_ins_cpu_s"],
         reference["stand_ins_cpu_s"] / max(ours["stand_ins_cpu_s"], 1e-9)),
    ]
    print(f"\n{n} recordings, {args.concurrency} workers each, same stand-ins, one run "
          "(ratio = reference / redscribe: > 1 means redscribe is better)")
    print(f"{'':18}{'reference (py)':>16}{'redscribe':>12}{'ratio':>9}")
    for name, r, o, ratio in rows:
        fmt = "{:>16.0f}{:>12.0f}" if name == "COPY statements" else "{:>16.2f}{:>12.2f}"
        print(f"{name:18}" + fmt.format(r, o) + f"{ratio:>8.1f}x")
    cores = os.cpu_count()
    for name, side in (("reference", reference), ("redscribe", ours)):
        busy = (side["cpu_s"] + side["stand_ins_cpu_s"]) / (side["wall_s"] * cores)
        print(f"{name}: {1000 * side['wall_s'] / n:.2f} ms a recording; client {1000 * side['cpu_s'] / n:.2f} ms and "
              f"stand-ins {1000 * side['stand_ins_cpu_s'] / n:.2f} ms of CPU a recording; the {cores} cores "
              f"{100 * busy:.0f} % busy")
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.json).write_text(json.dumps({"recordings": n, "reference": reference, "redscribe": ours}, indent=2))


if __name__ == "__main__":
    main()
