#!/usr/bin/env python3
"""Word timing benchmark: redscribe's words (batched and sequential decoding) against faster-whisper's
`word_timestamps=True` (`transcribe`, and the batched pipeline) on the same model folder and audio — the English
set's recordings of all eight sentences by four espeak-ng speakers, and the two-speaker conversation. Words are
matched by their text in order (difflib over the normalised words of each file); for each pair of engines the
median and 90th percentile of the difference of their start times (and of their ends), over every word both wrote.
Not a test: nothing here asserts a figure.

    python3 benches/transcribe/words.py --redscribe BIN --models-dir DIR [--model tiny.en] [--beam 5]
"""

import argparse
import difflib
import importlib.util
import json
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
# The transcription benchmark's sets (its module is named `bench`, as the pipeline benchmark's it imports is).
_spec = importlib.util.spec_from_file_location("transcribe_bench", HERE / "bench.py")
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
SENTENCES, SPEAKERS, conversation, speak = _bench.SENTENCES, _bench.SPEAKERS, _bench.conversation, _bench.speak


def redscribe(args, model_dir, decoding, files):
    cmd = [args.redscribe, "transcribe", "--words", "--model-dir", str(model_dir), "--threads", str(args.threads),
           "--beam-size", str(args.beam), "--decode", decoding, *map(str, files)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
    return {pathlib.Path(l["file"]).name: [(w["word"], w["start"], w["end"]) for s in l["segments"] for w in s["words"]]
            for l in map(json.loads, out.splitlines()) if l.get("file")}


def faster_whisper(args, model_dir, batched, files):
    cmd = [sys.executable, str(HERE / "fw.py"), "--model-dir", str(model_dir), "--threads", str(args.threads),
           "--beam-size", str(args.beam), "--words", *(["--batched"] if batched else []), *map(str, files)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
    return {pathlib.Path(l["file"]).name: [tuple(w) for w in l["words"]]
            for l in map(json.loads, out.splitlines()) if l.get("file")}


def norm(word):
    return re.sub(r"[^a-z0-9']", "", word.lower())


def differences(a, b):
    """Start and end differences (s) of the words both engines wrote, matched in order."""
    starts, ends = [], []
    for name in a.keys() & b.keys():
        x, y = a[name], b[name]
        matcher = difflib.SequenceMatcher(a=[norm(w[0]) for w in x], b=[norm(w[0]) for w in y], autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                starts.append(abs(x[block.a + k][1] - y[block.b + k][1]))
                ends.append(abs(x[block.a + k][2] - y[block.b + k][2]))
    return starts, ends


def p90(values):
    return sorted(values)[int(0.9 * (len(values) - 1))] if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redscribe", required=True)
    parser.add_argument("--models-dir", required=True, type=pathlib.Path)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    model_dir = args.models_dir / f"whisper-{args.model}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        files = [speak(folder, f"en{k}-all", None, SENTENCES, speakers=[s]) for k, s in enumerate(SPEAKERS)]
        files.append(conversation(folder, 4)[0][0])
        engines = {
            "redscribe batched": redscribe(args, model_dir, "batched", files),
            "redscribe sequential": redscribe(args, model_dir, "sequential", files),
            "faster-whisper": faster_whisper(args, model_dir, False, files),
            "faster-whisper batched": faster_whisper(args, model_dir, True, files),
        }
    report = {}
    print(f"{args.model}, beam {args.beam}: |start| and |end| differences in seconds, median / 90th percentile")
    print("| engines | words matched | start median | start p90 | end median | end p90 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for ours in ("redscribe batched", "redscribe sequential"):
        for theirs in ("faster-whisper", "faster-whisper batched"):
            starts, ends = differences(engines[ours], engines[theirs])
            row = {"words": len(starts), "start_median": statistics.median(starts), "start_p90": p90(starts),
                   "end_median": statistics.median(ends), "end_p90": p90(ends)}
            report[f"{ours} / {theirs}"] = row
            print(f"| {ours} / {theirs} | {row['words']} | {row['start_median']:.3f} | {row['start_p90']:.3f} | "
                  f"{row['end_median']:.3f} | {row['end_p90']:.3f} |")
    starts, ends = differences(engines["faster-whisper"], engines["faster-whisper batched"])
    print(f"| faster-whisper / faster-whisper batched | {len(starts)} | {statistics.median(starts):.3f} | "
          f"{p90(starts):.3f} | {statistics.median(ends):.3f} | {p90(ends):.3f} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
