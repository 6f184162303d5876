#!/usr/bin/env python3
"""Lambda sizes: what a minute of audio costs and how long a ten-minute part takes at each memory size of the
transcribe function. Lambda gives CPU in proportion to memory (one vCPU per 1,769 MB, up to 6 at 10,240 MB), so
the bench measures redscribe's real-time factor (batched, the default, beam 5) at every thread count this machine
has, fits Amdahl's law to it (the share of the work that runs in parallel), extrapolates to the vCPUs this machine
lacks, and prices each size with the price table. Not a test: nothing here asserts a time.

    benches/transcribe/run.sh --sizes [--models tiny.en,base]
"""

import argparse
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
# The transcription benchmark's sets and launcher (it imports the pipeline benchmark's as `bench`).
_spec = importlib.util.spec_from_file_location("transcribe_bench", HERE / "bench.py")
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
LAUNCHER, SENTENCES, speak = _bench.LAUNCHER, _bench.SENTENCES, _bench.speak

# Memory sizes (MB) and the vCPUs Lambda gives them.
SIZES = [1769, 3538, 5307, 7076, 8845, 10240]
MB_PER_VCPU = 1769
# A ten-minute part (the default PartSeconds) must be heard within this many seconds: the latency the default
# size is chosen for (a recording of any length is then a row about a minute after its upload).
PART_S, PART_LATENCY_S = 600, 60


def rtf(args, model_dir, threads, path):
    """redscribe's real-time factor on `path` with `threads` threads: decode time over audio, model load left out."""
    cmd = [args.redscribe, "transcribe", "--model-dir", str(model_dir), "--threads", str(threads), "--beam-size", "5",
           str(path)]
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], stdout=subprocess.PIPE, text=True, check=True)
    run = json.loads(out.stdout)
    line = next(json.loads(l) for l in run["output"].splitlines() if l.startswith("{"))
    return line["timing"]["decode_s"] / line["duration_s"], run["peak_rss_mb"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redscribe", required=True)
    parser.add_argument("--models-dir", required=True, type=pathlib.Path)
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--prices", default=str(HERE.parent.parent / "pricing/aws-us-east-1.json"))
    parser.add_argument("--json")
    args = parser.parse_args()
    prices = json.loads(pathlib.Path(args.prices).read_text())["lambda"]
    cores = os.cpu_count() or 1
    results = {}
    with tempfile.TemporaryDirectory(prefix="redscribe-sizes-") as tmp:
        # Minutes of conversation: the eight sentences four times over (the benchmark's conversation set).
        path = speak(pathlib.Path(tmp), "conversation", "en", SENTENCES * 4)
        for model in args.models.split(","):
            model_dir = args.models_dir / f"whisper-{model}"
            measured = {n: rtf(args, model_dir, n, path) for n in range(1, cores + 1)}
            one = measured[1][0]
            # Amdahl: rtf(n) = rtf(1) × ((1 - p) + p / n), p fitted to the largest thread count measured.
            n, last = cores, measured[cores][0]
            p = min(max((1 - last / one) / (1 - 1 / n), 0.0), 1.0) if n > 1 else 0.9
            rows = []
            for mb in SIZES:
                vcpus = mb / MB_PER_VCPU
                threads = max(1, round(vcpus))
                fitted = one * ((1 - p) + p / min(vcpus, 6))
                figure = measured[threads][0] if threads in measured and abs(vcpus - threads) < 0.01 else fitted
                usd_per_minute = figure * 60 * mb / 1024 * prices["gb_second_x86_64"]
                rows.append({"memory_mb": mb, "vcpus": round(vcpus, 2), "threads": threads, "rtf": figure,
                             "measured": threads in measured and abs(vcpus - threads) < 0.01,
                             "part_s": figure * PART_S, "usd_per_audio_minute": usd_per_minute})
            meeting = [r for r in rows if r["part_s"] <= PART_LATENCY_S]
            cheapest = min(meeting, key=lambda r: r["usd_per_audio_minute"]) if meeting else None
            results[model] = {"parallel_share": p, "peak_rss_mb": {n: m[1] for n, m in measured.items()},
                              "sizes": rows, "cheapest_meeting_latency": cheapest}
            print(f"\n{model}: conversation set, batched, beam 5; {cores} cores measured, parallel share {p:.2f}\n")
            print("| memory MB | vCPU | threads | RTF | 10-min part s | USD per audio minute |")
            print("| ---: | ---: | ---: | ---: | ---: | ---: |")
            for r in rows:
                mark = "" if r["measured"] else " (extrapolated)"
                print(f"| {r['memory_mb']} | {r['vcpus']:.2f} | {r['threads']} | {r['rtf']:.4f}{mark} | "
                      f"{r['part_s']:.0f} | {r['usd_per_audio_minute']:.6f} |")
            if cheapest:
                print(f"\ncheapest size hearing a {PART_S // 60}-minute part within {PART_LATENCY_S} s: "
                      f"{cheapest['memory_mb']} MB")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
