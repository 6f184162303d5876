#!/usr/bin/env python3
"""faster-whisper's side of the transcription benchmark: the same model folder, int8, the same thread count and
beam, `transcribe` or the `BatchedInferencePipeline` (with `--words`, word timestamps, each word's times printed);
prints one JSON line per file (text, language, audio seconds, seconds to transcribe) after one with the load time."""

import argparse
import json
import time

import ctranslate2
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.audio import decode_audio


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--language", help="the language spoken (default: detected)")
    parser.add_argument("--batched", action="store_true", help="BatchedInferencePipeline instead of transcribe")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--words", action="store_true", help="word_timestamps=True, and each word's times printed")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    started = time.perf_counter()
    model = WhisperModel(args.model_dir, device="cpu", compute_type="int8", cpu_threads=args.threads)
    pipeline = BatchedInferencePipeline(model) if args.batched else None
    # Temperature fallbacks sample; a fixed seed (as redscribe's) makes a run's word error rate repeatable.
    ctranslate2.set_random_seed(1)
    print(json.dumps({"model_load_s": time.perf_counter() - started}), flush=True)
    for path in args.files:
        t = time.perf_counter()
        audio = decode_audio(path)
        if pipeline:
            segments, info = pipeline.transcribe(audio, beam_size=args.beam_size, language=args.language,
                                                 batch_size=args.batch_size, word_timestamps=args.words)
        else:
            segments, info = model.transcribe(audio, beam_size=args.beam_size, language=args.language,
                                              word_timestamps=args.words)
        segments = list(segments)
        text = " ".join(s.text.strip() for s in segments)
        line = {"file": path, "text": text, "language": info.language,
                "language_probability": info.language_probability, "duration_s": info.duration,
                "total_s": time.perf_counter() - t}
        if args.words:
            line["words"] = [[w.word.strip(), w.start, w.end] for s in segments for w in (s.words or [])]
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
