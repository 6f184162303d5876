#!/usr/bin/env python3
"""Transcription benchmark: redscribe (Whisper on CTranslate2 through ct2rs, in process), decoding sequentially and
batched, against faster-whisper's `transcribe` and its `BatchedInferencePipeline` (CTranslate2's Python build),
all with compute_type int8, the same model folder, the same recordings, the same thread count and beam, in one run.
Sets: English (eight sentences read by four espeak-ng speakers — accents, voices and rates of their own — one file
a sentence, and all eight in one file each), a conversation (the eight four times over in one file, two speakers
taking turns, 2.6 minutes of speech), multilingual (espeak-ng voices in ten languages, four sentences each, the
language detected; multilingual models only) and a long recording. Reports real-time factor, CPU seconds, peak
RSS, word error rate and language accuracy of each, and batched redscribe's RTF against faster-whisper's. Not a
test: nothing here asserts a time.

    benches/transcribe/run.sh
"""

import argparse
import importlib.util
import json
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE.parent.parent / "tests/fixtures/speech"
sys.path.insert(0, str(HERE.parent / "pipeline"))
from bench import LAUNCHER  # noqa: E402  (wall time, CPU seconds and peak RSS of one child process)

# Eight varied sentences, shared with the transcription tests.
SENTENCES = [l for l in (FIXTURES / "sentences.txt").read_text().splitlines() if l.strip()]
# Four sentences in each of ten languages: (ISO 639-1 code, which is also the espeak-ng voice, sentence).
MULTILINGUAL = [tuple(l.split("\t", 1)) for l in (FIXTURES / "multilingual.tsv").read_text().splitlines() if l.strip()]

# "redscribe batched" packs short stretches of speech into shared windows (the default); "unpacked" gives each
# stretch a window of its own (`--pack false`): the two window layouts, measured side by side. "padded" encodes
# every window as 30 s (`--trim-windows false`), as faster-whisper does, where "batched" encodes a short one with
# its audio and 4 s after it (at least 15 s).
# "faster-whisper batched words" is its batched pipeline with `word_timestamps=True`: what redscribe's batched
# decoding does (it places its segments by their words, aligned from the model's cross-attention).
ENGINES = ["redscribe sequential", "redscribe batched", "redscribe unpacked", "redscribe padded", "faster-whisper",
           "faster-whisper batched", "faster-whisper batched words"]


# English speakers: (espeak-ng voice and variant, words a minute) — British, American, Scottish and Caribbean
# English, voices of both kinds, slower and faster than espeak-ng's 175.
SPEAKERS = [("en", 175), ("en-us+f3", 160), ("en-gb-scotland+m3", 190), ("en-029+f2", 150)]


def speak(folder, name, voice, texts, pause_s=0.6, speakers=None):
    """One 16 kHz mono WAV of `texts` spoken by espeak-ng's `voice` (or by `speakers`, (voice, rate) pairs taking
    turns), a pause after each. Resampled without dither (`-D`): sox's dither is random, and with it every run heard
    a slightly different set."""
    parts = []
    for i, text in enumerate(texts):
        raw, part = folder / f"{name}-{i}.espeak.wav", folder / f"{name}-{i}.wav"
        who, rate = speakers[i % len(speakers)] if speakers else (voice, 175)
        subprocess.run(["espeak-ng", "-v", who, "-s", str(rate), "-w", str(raw), text], check=True)
        subprocess.run(["sox", "-D", str(raw), "-r", "16000", "-c", "1", str(part), "pad", "0", str(pause_s)],
                       check=True)
        parts.append(str(part))
    out = folder / f"{name}.wav"
    subprocess.run(["sox", *parts, str(out)] if len(parts) > 1 else ["cp", parts[0], str(out)], check=True)
    return out


def english_set(folder):
    """For each speaker, one WAV per sentence and one of all of them (over 30 s: the long-form path). Returns
    [(path, text, lang)]."""
    out = []
    for k, speaker in enumerate(SPEAKERS):
        out += [(speak(folder, f"en{k}-{i}", None, [s], speakers=[speaker]), s, "en") for i, s in enumerate(SENTENCES)]
        out.append((speak(folder, f"en{k}-all", None, SENTENCES, speakers=[speaker]), " ".join(SENTENCES), "en"))
    return out


def conversation(folder, repeats):
    """The eight sentences `repeats` times over in one file, two speakers taking turns: minutes of speech with short
    pauses, the case batched decoding is for. Returns [(path, text, lang)]."""
    texts = SENTENCES * repeats
    return [(speak(folder, "en-dense", None, texts, speakers=SPEAKERS[:2]), " ".join(texts), "en")]


def multilingual_set(folder):
    """One WAV per language, its sentences one after the other. Returns [(path, text, lang)]."""
    languages = sorted({lang for lang, _ in MULTILINGUAL})
    out = []
    for lang in languages:
        texts = [t for l, t in MULTILINGUAL if l == lang]
        out.append((speak(folder, f"ml-{lang}", lang, texts), " ".join(texts), lang))
    return out


def long_recording(folder, minutes):
    """`minutes` minutes of one sentence a minute (the eight in turn) and silence between, as FLAC: a sparse
    recording, the case packing is for. Returns (path, script)."""
    said = [SENTENCES[i % len(SENTENCES)] for i in range(minutes)]
    parts = []
    for i, sentence in enumerate(SENTENCES[:minutes]):
        raw, minute = folder / f"long-{i}.espeak.wav", folder / f"minute-{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(raw), sentence], check=True)
        subprocess.run(["sox", "-D", str(raw), "-r", "16000", "-c", "1", str(minute),
                        "pad", "0", "60", "trim", "0", "60"], check=True)
        parts.append(str(minute))
    out = folder / f"{minutes}min.flac"
    subprocess.run(["sox", *[parts[i % len(parts)] for i in range(minutes)], str(out)], check=True)
    return out, " ".join(said)


def hour(folder):
    """The hour of conversation that `benches/parts` hears in parts (the eight sentences in turn, 0.6 s after each
    and 4 s after every twentieth), heard whole here. Returns [(path, text, lang)]."""
    spec = importlib.util.spec_from_file_location("parts_bench", HERE.parent / "parts" / "bench.py")
    parts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parts)
    (folder / "hour").mkdir()
    path, words = parts.recording(folder / "hour", 60)
    # Beside the other sets' files: `redscribe eval` finds a reference's file in the folder of the references.
    return [(path.rename(folder / "hour.wav"), words, "en")]


def heard(text, sentence):
    """How many times the sentence's first four words were heard."""
    probe = " ".join(sentence.lower().split()[:4]).strip(".,")
    return " ".join(text.lower().replace(",", "").split()).count(probe)


def command(args, engine, model_dir, beam, language):
    """The command line that transcribes with `engine` (files follow)."""
    if engine.startswith("redscribe"):
        how = engine.split()[1]
        # "redscribe release": batched, packed, from the `release` build (`--release-build`).
        binary = args.release_build if how == "release" else args.redscribe
        cmd = [binary, "transcribe", "--model-dir", str(model_dir), "--threads", str(args.threads),
               "--beam-size", str(beam), "--decode", "sequential" if how == "sequential" else "batched",
               "--pack", "false" if how == "unpacked" else "true", "--batch-size", str(args.batch_size),
               "--trim-windows", "false" if how == "padded" else "true"]
        return cmd + (["--language", language] if language else [])
    cmd = [sys.executable, str(HERE / "fw.py"), "--model-dir", str(model_dir), "--threads", str(args.threads),
           "--beam-size", str(beam), "--batch-size", str(args.batch_size)]
    cmd += ["--batched"] if "batched" in engine else []
    cmd += ["--words"] if engine.endswith("words") else []
    return cmd + (["--language", language] if language else [])


def transcribe(args, engine, model_dir, beam, language, files):
    """Runs one engine over `files`: (one dict per file: text, language, duration_s, total_s; the run's figures)."""
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *command(args, engine, model_dir, beam, language),
                          *map(str, files)], stdout=subprocess.PIPE, text=True, check=True)
    run = json.loads(out.stdout)
    if run["rc"] != 0:
        raise SystemExit(f"{engine} failed:\n{run['output'][-4000:]}")
    lines = [json.loads(l) for l in run["output"].splitlines() if l.startswith("{")]
    if engine.startswith("redscribe"):
        lines = [{**l, "total_s": l["timing"]["total_s"]} for l in lines]
    else:
        lines = lines[1:]
    return lines, run


def wer_of(args, folder, name, recordings, lines):
    """WER over a set, scored by `redscribe eval` (its normalisation) from the engine's lines."""
    refs, hyps = folder / f"{name}.refs.tsv", folder / f"{name}.jsonl"
    refs.write_text("".join(f"{path.name}\t{text}\n" for path, text, _ in recordings))
    hyps.write_text("".join(json.dumps({"file": l["file"], "text": l["text"]}) + "\n" for l in lines))
    out = subprocess.run([args.redscribe, "eval", str(refs), "--hypotheses", str(hyps)],
                         stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])["wer"]


def measure(args, folder, model, model_dir, beam, set_name, recordings, language):
    """Every engine over one set: {engine: figures}."""
    figures = {}
    for engine in ENGINES:
        lines, run = transcribe(args, engine, model_dir, beam, language, [p for p, _, _ in recordings])
        audio = sum(l["duration_s"] for l in lines)
        name = f"{model}-{set_name}-{beam}-{engine.replace(' ', '-')}"
        figures[engine] = {
            "rtf": sum(l["total_s"] for l in lines) / audio,
            # Seconds spent decoding windows again at higher temperatures (redscribe reports it; faster-whisper
            # does not).
            "fallback_s": sum(l["timing"]["fallback_s"] for l in lines) if engine.startswith("redscribe") else None,
            "cpu_s": run["cpu_s"], "rss_mb": run["peak_rss_mb"], "wall_s": run["wall_s"],
            "wer": wer_of(args, folder, name, recordings, lines),
            "language_accuracy": sum(l["language"] == lang for l, (_, _, lang) in zip(lines, recordings)) / len(lines),
            "languages": [l["language"] for l in lines],
        }
    return figures


def measure_long(args, folder, model, model_dir, path, script):
    figures = {}
    for engine in ENGINES:
        lines, run = transcribe(args, engine, model_dir, 5, "en", [path])
        name = f"{model}-long-{engine.replace(' ', '-')}"
        fallback = lines[0]["timing"]["fallback_s"] if engine.startswith("redscribe") else None
        figures[engine] = {"wall_s": run["wall_s"], "cpu_s": run["cpu_s"], "rss_mb": run["peak_rss_mb"],
                           "fallback_s": fallback,
                           "rtf": lines[0]["total_s"] / lines[0]["duration_s"],
                           "heard": sum(heard(lines[0]["text"], s) for s in SENTENCES),
                           "wer": wer_of(args, folder, name, [(path, script, "en")], lines)}
    return figures


def is_multilingual(model):
    """English-only Whisper models are named `<size>.en` (their config lists the language tokens all the same)."""
    return not model.endswith(".en")


def table(title, figures, rows):
    print(f"\n{title}\n")
    print("| | " + " | ".join(ENGINES) + " |")
    print("| --- |" + " ---: |" * len(ENGINES))
    for label, key, fmt in rows:
        cell = lambda v: "–" if v is None else fmt.format(v)  # noqa: E731
        print(f"| {label} | " + " | ".join(cell(figures[e].get(key)) for e in ENGINES) + " |")
    fw, fwb, batched = figures["faster-whisper"], figures["faster-whisper batched"], figures["redscribe batched"]
    fwbw = figures["faster-whisper batched words"]
    line = (f"redscribe batched RTF / faster-whisper RTF = {batched['rtf'] / fw['rtf']:.2f}, "
            f"/ faster-whisper batched RTF = {batched['rtf'] / fwb['rtf']:.2f}, "
            f"/ faster-whisper batched with words RTF = {batched['rtf'] / fwbw['rtf']:.2f}")
    if "wer" in fw:
        line += f"; WER {100 * (batched['wer'] - fw['wer']):+.1f} points"
    print(f"\n{line}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redscribe", required=True)
    parser.add_argument("--models-dir", required=True, type=pathlib.Path,
                        help="the folder holding whisper-<name> model folders (scripts/setup.sh --models ...)")
    parser.add_argument("--models", default="tiny.en,base", help="comma-separated model names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beams", default="1,5", help="beam sizes of the short sets")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sets", default="english,conversation,multilingual",
                        help="comma-separated sets to run: english, conversation, multilingual, and hour (an hour "
                             "of conversation, the one benches/parts cuts into parts; at --beams only, about 10 "
                             "minutes a model for all engines with tiny.en); the sparse long recording: "
                             "--long-minutes")
    parser.add_argument("--json")
    parser.add_argument("--release-build",
                        help="redscribe built with the release profile: run batched as one more engine beside the "
                             "local profile's (benches/transcribe/run.sh --profiles)")
    parser.add_argument("--long-minutes", type=int, default=20,
                        help="length of the long recording (one sentence a minute; 0: skip it)")
    args = parser.parse_args()
    if args.release_build:
        ENGINES.append("redscribe release")
    beams = [int(b) for b in args.beams.split(",")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="redscribe-asr-") as tmp:
        tmp = pathlib.Path(tmp)
        chosen = args.sets.split(",")
        made = {"english": lambda: (english_set(tmp), "en"), "conversation": lambda: (conversation(tmp, 4), "en"),
                "multilingual": lambda: (multilingual_set(tmp), None), "hour": lambda: (hour(tmp), "en")}
        sets = {name: make() for name, make in made.items() if name in chosen}
        long = long_recording(tmp, args.long_minutes) if args.long_minutes else None
        for model in args.models.split(","):
            model_dir = args.models_dir / f"whisper-{model}"
            for set_name, (recordings, language) in sets.items():
                if set_name == "multilingual" and not is_multilingual(model):
                    continue
                audio = sum(float(subprocess.run(["soxi", "-D", str(p)], stdout=subprocess.PIPE, text=True).stdout)
                            for p, _, _ in recordings)
                for beam in beams:
                    key = f"{model} {set_name} beam {beam}"
                    results[key] = measure(args, tmp, model, model_dir, beam, set_name, recordings, language)
                    rows = [("RTF", "rtf", "{:.3f}"), ("CPU s", "cpu_s", "{:.1f}"), ("peak RSS MB", "rss_mb", "{:.0f}"),
                            ("WER %", "wer", "{:.1%}"), ("fallback s", "fallback_s", "{:.1f}")]
                    if set_name == "multilingual":
                        rows.append(("language accuracy", "language_accuracy", "{:.0%}"))
                        rows.append(("languages heard", "languages", "{}"))
                    table(f"{key}: {len(recordings)} recordings, {audio:.0f} s, {args.threads} threads, int8",
                          results[key], rows)
            if long:
                key = f"{model} long beam 5"
                results[key] = measure_long(args, tmp, model, model_dir, *long)
                table(f"{key}: {args.long_minutes}-minute FLAC, one sentence a minute (heard: of {args.long_minutes})",
                      results[key], [("wall s", "wall_s", "{:.1f}"), ("RTF", "rtf", "{:.4f}"),
                                     ("CPU s", "cpu_s", "{:.1f}"), ("peak RSS MB", "rss_mb", "{:.0f}"),
                                     ("sentences heard", "heard", "{}"), ("WER %", "wer", "{:.1%}"),
                                     ("fallback s", "fallback_s", "{:.1f}")])
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
