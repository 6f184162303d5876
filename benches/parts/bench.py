#!/usr/bin/env python3
"""Long recordings in parts: one recording of about an hour (the transcription benchmark's eight sentences, a
conversation with short pauses and a longer one every twenty sentences) through `redscribe run` heard whole, then
cut into parts heard by 1, 2 and 4 workers at once (`--part-seconds`, `--concurrency`), each from a fresh data
folder, model load, upload and load included. Reports wall and CPU seconds, peak RSS, the row's word error rate
against the script and against the whole pass, and the parts. Not a test: nothing here asserts a time.

    benches/parts/run.sh [--minutes 60] [--workers 1,2,4] [--part-seconds 600]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE.parent.parent / "tests/fixtures/speech"
sys.path.insert(0, str(HERE.parent / "pipeline"))
from bench import LAUNCHER  # noqa: E402  (wall time, CPU seconds and peak RSS of one child process)

SENTENCES = [l for l in (FIXTURES / "sentences.txt").read_text().splitlines() if l.strip()]


def recording(folder, minutes):
    """About `minutes` of the sentences spoken in turn, 0.6 s after each and 4 s after every twentieth: (path,
    the words said)."""
    spoken = []
    for i, text in enumerate(SENTENCES):
        raw, part = folder / f"s{i}.espeak.wav", folder / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
        subprocess.run(["sox", "-D", str(raw), "-r", "16000", "-c", "1", str(part), "pad", "0", "0.6"], check=True)
        length = float(subprocess.run(["soxi", "-D", str(part)], stdout=subprocess.PIPE, text=True).stdout)
        spoken.append((part, text, length))
    pause = folder / "pause.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(pause), "trim", "0", "4"], check=True)
    files, words, total, n = [], [], 0.0, 0
    while total < minutes * 60:
        part, text, length = spoken[n % len(spoken)]
        files.append(str(part))
        words.append(text)
        total += length
        n += 1
        if n % 20 == 0:
            files.append(str(pause))
            total += 4
    listing = folder / "files.txt"
    out = folder / "input" / "meeting.wav"
    out.parent.mkdir()
    # sox takes the inputs on its command line: a few thousand short file names fit.
    subprocess.run(["sox", *files, str(out)], check=True)
    listing.write_text("\n".join(files))
    return out, " ".join(words)


def run(args, folder, name, part_seconds, workers):
    """One `redscribe run` of the recording from a fresh data folder: its figures and the row's text."""
    data = folder / f"data-{name}"
    cmd = [args.redscribe, "run", "--data-dir", str(data), "--part-seconds", part_seconds,
           "--concurrency", str(workers), str(folder / "input")]
    if args.model_dir:
        cmd[2:2] = ["--model-dir", str(args.model_dir)]
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{name} failed:\n{result['output'][-4000:]}")
    db = data / "warehouse" / "redscribe.duckdb"
    import duckdb  # noqa: PLC0415  (scripts/setup.sh installs it beside the aws CLI)
    con = duckdb.connect(str(db), read_only=True)
    text, duration = con.sql("select text, duration_s from public.transcription_results").fetchall()[0]
    segments = con.sql("select count(*) from public.transcription_segments").fetchall()[0][0]
    parts = sum(1 for l in result["output"].splitlines() if "recording(s) cut" in l)
    return {"wall_s": result["wall_s"], "cpu_s": result["cpu_s"], "rss_mb": result["peak_rss_mb"],
            "duration_s": duration, "segments": segments, "cut": parts > 0, "text": text}


def serve_latency(args, folder, name, part_seconds, workers):
    """Seconds from `aws s3 cp` returning to the row being queryable through the Data API, on a `redscribe serve`
    that has loaded its model already (the hour whole, or in parts heard `workers` at once)."""
    data = folder / f"serve-{name}"
    cmd = [args.redscribe, "serve", "--data-dir", str(data), "--s3-addr", "127.0.0.1:0", "--data-api-addr",
           "127.0.0.1:0", "--dashboard-addr", "127.0.0.1:0", "--part-seconds", part_seconds,
           "--concurrency", str(workers), "--batch-age-ms", "200"]
    if args.model_dir:
        cmd += ["--model-dir", str(args.model_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("or with any SDK"):
                break
        else:
            raise SystemExit("redscribe serve did not start")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_CONFIG_FILE": str(data / "aws/config"),
                    "AWS_SHARED_CREDENTIALS_FILE": str(data / "aws/credentials"), "AWS_PROFILE": "redscribe-local"})
        subprocess.run(["aws", "s3", "cp", "--only-show-errors", str(folder / "input" / "meeting.wav"),
                        "s3://recordings/in/meeting.wav"], env=env, check=True)
        uploaded = time.perf_counter()
        sql = "select count(*) as n from transcription_results where status = 'transcribed'"
        while time.perf_counter() - uploaded < 3600:
            out = subprocess.run([args.redscribe, "query", "--format", "json", sql],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            rows = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
            if rows and int(rows[0]["n"]) > 0:
                return time.perf_counter() - uploaded
            time.sleep(0.5)
        raise SystemExit(f"{name}: no row within an hour")
    finally:
        proc.terminate()
        proc.wait()


def wer(args, folder, name, reference, text):
    """`redscribe eval`'s word error rate of `text` against `reference`."""
    refs, hyps = folder / f"{name}.refs.tsv", folder / f"{name}.jsonl"
    refs.write_text(f"meeting.wav\t{reference}\n")
    hyps.write_text(json.dumps({"file": str(folder / "meeting.wav"), "text": text}) + "\n")
    out = subprocess.run([args.redscribe, "eval", str(refs), "--hypotheses", str(hyps)],
                         stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])["wer"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redscribe", required=True)
    parser.add_argument("--model-dir")
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--part-seconds", default="600")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--serve", action="store_true",
                        help="also time upload to queryable through `redscribe serve` for each run")
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        path, script = recording(folder, args.minutes)
        runs = {"whole": run(args, folder, "whole", "off", 1)}
        for n in [int(w) for w in args.workers.split(",")]:
            runs[f"parts x{n}"] = run(args, folder, f"parts-{n}", args.part_seconds, n)
        if args.serve:
            runs["whole"]["queryable_s"] = serve_latency(args, folder, "whole", "off", 1)
            for n in [int(w) for w in args.workers.split(",")]:
                runs[f"parts x{n}"]["queryable_s"] = serve_latency(args, folder, f"parts-{n}", args.part_seconds, n)
        whole_text = runs["whole"]["text"]
        for name, r in runs.items():
            r["wer"] = wer(args, folder, name, script, r["text"])
            r["wer_vs_whole"] = wer(args, folder, f"{name}-vs-whole", whole_text, r["text"])
        audio = runs["whole"]["duration_s"]
        print(f"{audio / 60:.1f} minutes of speech, parts of {args.part_seconds} s, tiny.en, `redscribe run` end to end")
        print("| run | wall s | CPU s | peak RSS MB | segments | WER vs script | WER vs whole | wall / whole |"
              " upload to queryable s |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, r in runs.items():
            queryable = f"{r['queryable_s']:.0f}" if "queryable_s" in r else "—"
            print(f"| {name} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['rss_mb']:.0f} | {r['segments']} | "
                  f"{100 * r['wer']:.1f} % | {100 * r['wer_vs_whole']:.1f} % | "
                  f"{r['wall_s'] / runs['whole']['wall_s']:.2f} | {queryable} |")
        if args.json:
            for r in runs.values():
                r.pop("text")
            pathlib.Path(args.json).write_text(json.dumps({"audio_s": audio, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
