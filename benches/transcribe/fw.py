#!/usr/bin/env python3
"""faster-whisper's side of the transcription benchmark: the same model folder, int8, the same thread count and
beam; prints one JSON line per file (text, audio seconds, seconds to transcribe) after one with the load time."""

import argparse
import json
import time

from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    started = time.perf_counter()
    model = WhisperModel(args.model_dir, device="cpu", compute_type="int8", cpu_threads=args.threads)
    print(json.dumps({"model_load_s": time.perf_counter() - started}), flush=True)
    for path in args.files:
        t = time.perf_counter()
        audio = decode_audio(path)
        segments, info = model.transcribe(audio, beam_size=args.beam_size, language="en")
        text = " ".join(s.text.strip() for s in segments)
        print(json.dumps({"file": path, "text": text, "duration_s": info.duration,
                          "total_s": time.perf_counter() - t}), flush=True)


if __name__ == "__main__":
    main()
