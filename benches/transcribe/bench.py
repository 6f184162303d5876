#!/usr/bin/env python3
"""Transcription benchmark: redscribe (Whisper on CTranslate2 through ct2rs, in process) against faster-whisper
(CTranslate2's Python build, compute_type int8), same model folder, same recordings, same thread count, beam 1 and
5, in one run. Reports real-time factor, model-load time, peak RSS and word error rate of each, and ratios.
Not a test: nothing here asserts a time.

    benches/transcribe/run.sh
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pipeline"))
from bench import LAUNCHER  # noqa: E402  (wall time, CPU seconds and peak RSS of one child process)

# Eight varied sentences, shared with the transcription tests.
SENTENCES = [l for l in (HERE.parent.parent / "tests/fixtures/speech/sentences.txt").read_text().splitlines() if l.strip()]


def make_recordings(folder):
    """One WAV per sentence, and one of all of them (over 30 s: the long-form path). Returns (path, reference)."""
    out = []
    parts = []
    for i, text in enumerate(SENTENCES):
        raw = folder / f"s{i}.espeak.wav"
        wav = folder / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(wav)], check=True)
        out.append((wav, text))
        parts.append(str(wav))
    long = folder / "all.wav"
    subprocess.run(["sox", *parts, str(long)], check=True)
    out.append((long, " ".join(SENTENCES)))
    return out


def make_long(folder, minutes):
    """`minutes` minutes of one sentence a minute and silence between, as FLAC. Returns (path, sentence)."""
    sentence = SENTENCES[0]
    raw, minute, out = folder / "long.espeak.wav", folder / "minute.wav", folder / f"{minutes}min.flac"
    subprocess.run(["espeak-ng", "-w", str(raw), sentence], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(minute), "pad", "0", "60", "trim", "0", "60"],
                   check=True)
    subprocess.run(["sox", *[str(minute)] * minutes, str(out)], check=True)
    return out, sentence


def heard(text, sentence):
    """How many times the sentence's first four words were heard."""
    probe = " ".join(sentence.lower().split()[:4]).strip(".,")
    return " ".join(text.lower().replace(",", "").split()).count(probe)


def run(cmd):
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{result['output'][-4000:]}")
    return result


def wer_of(redscribe, refs_tsv, lines, folder, name):
    """WER over the set, scored by `redscribe eval` (its normalisation) from the engine's JSON lines."""
    hyps = folder / f"{name}.jsonl"
    hyps.write_text("".join(json.dumps({"file": l["file"], "text": l["text"]}) + "\n" for l in lines))
    out = subprocess.run([redscribe, "eval", str(refs_tsv), "--hypotheses", str(hyps)],
                         stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])["wer"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redscribe", required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    parser.add_argument("--long-minutes", type=int, default=60,
                        help="length of the long recording (one sentence a minute; 0: skip it)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="redscribe-asr-") as tmp:
        tmp = pathlib.Path(tmp)
        recordings = make_recordings(tmp)
        files = [str(p) for p, _ in recordings]
        refs_tsv = tmp / "refs.tsv"
        refs_tsv.write_text("".join(f"{p.name}\t{t}\n" for p, t in recordings))
        for beam in (1, 5):
            ours = run([args.redscribe, "transcribe", "--model-dir", args.model_dir, "--threads", str(args.threads),
                        "--beam-size", str(beam), *files])
            lines = [json.loads(l) for l in ours["output"].splitlines() if l.startswith("{")]
            audio = sum(l["duration_s"] for l in lines)
            results[("redscribe", beam)] = {
                "rtf": sum(l["timing"]["total_s"] for l in lines) / audio,
                "load_s": lines[0]["timing"]["model_load_s"],
                "rss_mb": ours["peak_rss_mb"], "cpu_s": ours["cpu_s"],
                "wer": wer_of(args.redscribe, refs_tsv, lines, tmp, f"redscribe-{beam}"),
            }
            theirs = run([sys.executable, str(HERE / "fw.py"), "--model-dir", args.model_dir, "--threads",
                          str(args.threads), "--beam-size", str(beam), *files])
            lines = [json.loads(l) for l in theirs["output"].splitlines() if l.startswith("{")]
            load, lines = lines[0]["model_load_s"], lines[1:]
            audio = sum(l["duration_s"] for l in lines)
            results[("faster-whisper", beam)] = {
                "rtf": sum(l["total_s"] for l in lines) / audio,
                "load_s": load, "rss_mb": theirs["peak_rss_mb"], "cpu_s": theirs["cpu_s"],
                "wer": wer_of(args.redscribe, refs_tsv, lines, tmp, f"faster-whisper-{beam}"),
            }
        if args.long_minutes:
            long, sentence = make_long(tmp, args.long_minutes)
            ours = run([args.redscribe, "transcribe", "--model-dir", args.model_dir, "--threads", str(args.threads),
                        "--beam-size", "5", str(long)])
            line = next(json.loads(l) for l in ours["output"].splitlines() if l.startswith("{"))
            results[("redscribe", "long")] = {"wall_s": ours["wall_s"], "rss_mb": ours["peak_rss_mb"],
                                              "heard": heard(line["text"], sentence)}
            theirs = run([sys.executable, str(HERE / "fw.py"), "--model-dir", args.model_dir, "--threads",
                          str(args.threads), "--beam-size", "5", str(long)])
            line = [json.loads(l) for l in theirs["output"].splitlines() if l.startswith("{")][1]
            results[("faster-whisper", "long")] = {"wall_s": theirs["wall_s"], "rss_mb": theirs["peak_rss_mb"],
                                                   "heard": heard(line["text"], sentence)}
    print(f"\n{len(SENTENCES) + 1} recordings ({len(SENTENCES)} sentences and all of them in one file), "
          f"{args.threads} threads, int8, one run. ratio = faster-whisper / redscribe (> 1: redscribe is better)")
    print(f"{'':10}{'':17}{'faster-whisper':>15}{'redscribe':>11}{'ratio':>8}")
    for beam in (1, 5):
        fw, rs = results[("faster-whisper", beam)], results[("redscribe", beam)]
        for name, key, fmt in (("RTF", "rtf", "{:.3f}"), ("model load s", "load_s", "{:.2f}"),
                               ("peak RSS MB", "rss_mb", "{:.0f}"), ("CPU s", "cpu_s", "{:.1f}"),
                               ("WER %", "wer", "{:.1%}")):
            ratio = fw[key] / rs[key] if rs[key] else float("nan")
            print(f"beam {beam:<5}{name:17}{fmt.format(fw[key]):>15}{fmt.format(rs[key]):>11}{ratio:>7.2f}x")
    if args.long_minutes:
        fw, rs = results[("faster-whisper", "long")], results[("redscribe", "long")]
        print(f"\n{args.long_minutes}-minute FLAC, one sentence a minute (expected {args.long_minutes} times), beam 5:")
        for name, key, fmt in (("wall s", "wall_s", "{:.1f}"), ("peak RSS MB", "rss_mb", "{:.0f}"),
                               ("sentences heard", "heard", "{}")):
            ratio = fw[key] / rs[key] if rs[key] else float("nan")
            print(f"{'long':10}{name:17}{fmt.format(fw[key]):>15}{fmt.format(rs[key]):>11}{ratio:>7.2f}x")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({f"{k[0]} beam {k[1]}": v for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
