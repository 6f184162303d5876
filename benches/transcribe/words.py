#!/usr/bin/env python3
"""Word timing benchmark: redscribe's words (batched and sequential decoding) against faster-whisper's
`word_timestamps=True` (`transcribe`, and the batched pipeline) on the same model folder and audio — the English
set's recordings of all eight sentences by four espeak-ng speakers, and the two-speaker conversation. Each word is
paired with the other engine's nearest word of the same text within 2 s; for each pair of engines the median and
90th percentile of the difference of their start times (and of their ends), over every word both wrote.
Not a test: nothing here asserts a figure.

    python3 benches/transcribe/words.py --redscribe BIN --models-dir DIR [--model tiny.en] [--beam 5]
"""

import argparse
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


def differences(a, b, names):
    """Start and end differences (s) of the words both engines wrote in the files `names`: each of `a`'s words paired
    with the nearest unpaired word of `b` with the same text whose start is within `TOLERANCE_S` (a sequence match
    such as difflib's pairs the conversation's words with the same sentence's next repetition, 39 s on, wherever the
    two texts part for a word). Also how many of `a`'s words there were."""
    starts, ends, total = [], [], 0
    for name in names:
        x, y = a[name], b[name]
        total += len(x)
        used = set()
        for word, start, end in x:
            near = [(abs(start - w[1]), k) for k, w in enumerate(y)
                    if k not in used and norm(w[0]) == norm(word) and abs(start - w[1]) <= TOLERANCE_S]
            if near:
                _, k = min(near)
                used.add(k)
                starts.append(abs(start - y[k][1]))
                ends.append(abs(end - y[k][2]))
    return starts, ends, total


# Starts further apart than this are not the same word said once.
TOLERANCE_S = 2.0


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
    sets = {"english": [f.name for f in files[:-1]], "conversation": [files[-1].name]}
    print(f"{args.model}, beam {args.beam}: |start| and |end| differences in seconds, median / 90th percentile")
    print("| set | engines | words matched within 2 s | start median | start p90 | end median | end p90 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    pairs = [(o, t) for o in ("redscribe batched", "redscribe sequential") for t in ("faster-whisper",
             "faster-whisper batched")] + [("faster-whisper", "faster-whisper batched")]
    for set_name, names in sets.items():
        for ours, theirs in pairs:
            starts, ends, total = differences(engines[ours], engines[theirs], names)
            row = {"words": len(starts), "of": total, "start_median": statistics.median(starts), "start_p90": p90(starts),
                   "end_median": statistics.median(ends), "end_p90": p90(ends)}
            report[f"{set_name}: {ours} / {theirs}"] = row
            print(f"| {set_name} | {ours} / {theirs} | {row['words']} of {total} | {row['start_median']:.3f} | "
                  f"{row['start_p90']:.3f} | {row['end_median']:.3f} | {row['end_p90']:.3f} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
