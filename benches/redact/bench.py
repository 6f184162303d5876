#!/usr/bin/env python3
"""PII redaction benchmark: synthetic calls read out card numbers, CVVs, expiry dates, bank accounts (IBANs),
routing numbers, social security numbers, phone numbers, e-mail addresses and PINs — each in digits and in words,
as espeak-ng speaks them — and `redscribe transcribe --redact pii,audio` hears them. Recall: a value counts as
caught when its tag is in the redacted text and none of its digits (4 in a row) or its address is left; in the
audio, when every sample where it was said is silent in the silenced copy (each call is said in three pieces —
"Hello." and the cue, the value, "Thank you." — joined, so where the value is is known to the sample).
Precision: the English sentences of the transcription benchmark (which say no such value) heard with and without
redaction, their word error rate and the tags found in them (each a false positive). Also what Whisper wrote for
each missed value, and the cost of redaction (and of writing the silenced copies) in time. Not a test: nothing
here asserts a figure.

    python3 benches/redact/bench.py --redscribe BIN [--model tiny.en] [--json F]
"""

import argparse
import json
import pathlib
import random
import re
import subprocess
import sys
import tempfile
import wave

HERE = pathlib.Path(__file__).resolve().parent
SENTENCES = [l for l in (HERE.parent.parent / "tests/fixtures/speech/sentences.txt").read_text().splitlines()
             if l.strip()]

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def luhn_complete(prefix, length):
    """A card number starting with `prefix`, `length` digits, with its Luhn check digit."""
    rng = random.Random(prefix + str(length))
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(body)):
        d = int(d)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def iban_gb(bank, sort_code, account):
    """A valid GB IBAN (mod 97 check digits)."""
    bban = bank + sort_code + account
    numeric = "".join(str(int(c, 36)) for c in bban + "GB00")
    return f"GB{98 - int(numeric) % 97:02d}{bban}"


def spoken(digits):
    """Digits said one by one: "four one one one"."""
    return " ".join(WORDS[int(d)] for d in digits if d.isdigit())


def grouped(digits, size=4):
    return " ".join(digits[i:i + size] for i in range(0, len(digits), size))


def values():
    """(type, (cue, value) as said in digits, (cue, value) as said in words, the digits or address to look for
    afterwards)."""
    rng = random.Random(7)
    out = []
    for prefix in ["4", "51", "37", "6011"]:
        card = luhn_complete(prefix, 15 if prefix == "37" else 16)
        out.append(("CREDIT_DEBIT_NUMBER", ("My card number is", f"{grouped(card)}."),
                    ("My card number is", f"{spoken(card)}."), card))
    for _ in range(2):
        cvv = f"{rng.randrange(100, 1000)}"
        out.append(("CREDIT_DEBIT_CVV", ("The security code on the back is", f"{cvv}."),
                    ("The CVV is", f"{spoken(cvv)}."), cvv))
    for month, year in [(3, 27), (11, 29)]:
        out.append(("CREDIT_DEBIT_EXPIRY", ("It expires", f"{month:02d}/{year}."),
                    ("The expiry date is", f"{spoken(f'{month:02d}')} {spoken(str(year))}."), f"{month:02d}{year}"))
    for account in ["31926819", "12345678"]:
        iban = iban_gb("WEST", "123456", account)
        out.append(("BANK_ACCOUNT_NUMBER", ("My IBAN is", f"{iban}."),
                    ("My account number is", f"{spoken(account)}."), account))
    for routing in ["021000021", "011401533"]:
        out.append(("BANK_ROUTING", ("The routing number is", f"{routing}."),
                    ("The routing number is", f"{spoken(routing)}."), routing))
    for ssn in ["219-09-9999", "078-05-1120"]:
        out.append(("SSN", ("My social security number is", f"{ssn}."),
                    ("My social security number is", f"{spoken(ssn)}."), ssn.replace("-", "")))
    for phone in ["2025550143", "6175550198"]:
        out.append(("PHONE", ("You can call me on", f"{phone[:3]} {phone[3:6]} {phone[6:]}."),
                    ("My phone number is", f"{spoken(phone)}."), phone))
    for name, domain in [("jane.doe", "example.com"), ("sam_lee", "mail.org")]:
        said = name.replace(".", " dot ").replace("_", " underscore ") + " at " + domain.replace(".", " dot ")
        out.append(("EMAIL", ("My email is", f"{name}@{domain}."), ("My email address is", f"{said}."),
                    f"{name}@{domain}"))
    for pin in ["4932", "7310"]:
        out.append(("PIN", ("My PIN is", f"{pin}."), ("The pin is", f"{spoken(pin)}."), pin))
    return out


RATE = 16000


def speak_piece(folder, name, text):
    raw, wav = folder / f"{name}.espeak.wav", folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw), text], check=True)
    subprocess.run(["sox", "-D", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True)
    return wav


def speak(folder, name, text):
    """ "Hello. {text} Thank you." as one recording."""
    return speak_piece(folder, name, f"Hello. {text} Thank you.")


def frames(wav):
    with wave.open(str(wav)) as w:
        return w.getnframes()


def speak_value(folder, name, cue, value):
    """The call in three pieces joined — "Hello." and the cue, the value, "Thank you." — and the frames the value
    fills (less espeak-ng's quiet 50 ms at each end of a piece)."""
    pieces = [speak_piece(folder, f"{name}.{k}", t) for k, t in enumerate([f"Hello. {cue}", value, "Thank you."])]
    wav = folder / f"{name}.wav"
    subprocess.run(["sox", *map(str, pieces), str(wav)], check=True)
    start = frames(pieces[0])
    return wav, (start + RATE // 20, start + frames(pieces[1]) - RATE // 20)


def silenced(copy, span):
    """The share of the value's frames that are silent in the silenced copy."""
    with wave.open(str(copy)) as w:
        w.setpos(span[0])
        data = w.readframes(span[1] - span[0])
    samples = [int.from_bytes(data[i:i + 2], "little", signed=True) for i in range(0, len(data), 2)]
    return sum(1 for v in samples if v == 0) / max(1, len(samples))


def transcribe(args, files, redact, audio_dir=None):
    cmd = [args.redscribe, "transcribe", "--model", args.model, "--threads", str(args.threads)]
    # The calls are English: a multilingual model is told so, as an English contact centre would set it (joined
    # pieces of espeak-ng speech otherwise read as Thai or Vietnamese now and then).
    cmd += [] if args.model.endswith(".en") else ["--language", "en"]
    if audio_dir:
        cmd += ["--redact", "pii,audio", "--redacted-audio-dir", str(audio_dir)]
    elif redact:
        cmd += ["--redact", "pii"]
    out = subprocess.run(cmd + [str(f) for f in files], stdout=subprocess.PIPE, text=True, check=True)
    return {pathlib.Path(l["file"]).name: l for l in map(json.loads, out.stdout.splitlines()) if l.get("file")}


def left_of(value, text):
    """Whether any of the value is left in the text: 4 of its digits in a row, or its address's name or domain."""
    if "@" in value:
        name, domain = value.split("@")
        words = re.sub(r"[^a-z0-9]", " ", text.lower()).split()
        squashed = "".join(words)
        # The name run together anywhere ("samlee"), or the domain's name as a word of its own ("mail", not the
        # "mail" in "email").
        return re.sub(r"[^a-z0-9]", "", name) in squashed or domain.split(".")[0] in words
    digits = re.sub(r"\D", "", text)
    return any(value[i:i + 4] in digits for i in range(0, max(1, len(value) - 3))) if len(value) >= 4 \
        else value in digits


def wer(args, folder, name, refs, lines):
    ref_file, hyp_file = folder / f"{name}.refs.tsv", folder / f"{name}.jsonl"
    ref_file.write_text("".join(f"{file}\t{text}\n" for file, text in refs))
    hyp_file.write_text("".join(json.dumps({"file": l["file"], "text": l["text"]}) + "\n" for l in lines.values()))
    out = subprocess.run([args.redscribe, "eval", str(ref_file), "--hypotheses", str(hyp_file)],
                         stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])["wer"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redscribe", required=True)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        cases = []
        for i, (kind, digits, words, value) in enumerate(values()):
            for form, (cue, said) in (("digits", digits), ("words", words)):
                wav, span = speak_value(folder, f"pii-{i}-{form}", cue, said)
                cases.append((kind, form, f"{cue} {said}", value, wav, span))
        plain = transcribe(args, [c[4] for c in cases], redact=False)
        redacted = transcribe(args, [c[4] for c in cases], redact=True)
        copies = folder / "copies"
        copies.mkdir()
        with_audio = transcribe(args, [c[4] for c in cases], redact=True, audio_dir=copies)
        by_type, missed, gone, audio = {}, [], 0, {"silenced": 0, "share": [], "cases": []}
        for kind, form, text, value, wav, span in cases:
            out = redacted[wav.name]["text"]
            share = silenced(with_audio[wav.name]["redacted_audio"], span)
            audio["silenced"] += share == 1.0
            audio["share"].append(share)
            caught = f"[{kind}]" in out and not left_of(value, out)
            tagged = "[" in out and not left_of(value, out)
            audio["cases"].append({"type": kind, "form": form, "share": share, "gone_from_text": tagged,
                                   "redacted": with_audio[wav.name]["text"]})
            # Whatever its tag: nothing of the value left, and some tag where it was.
            gone += "[" in out and not left_of(value, out)
            hit = by_type.setdefault(kind, {"digits": [0, 0], "words": [0, 0]})[form]
            hit[0] += caught
            hit[1] += 1
            if not caught:
                missed.append({"type": kind, "form": form, "said": text, "whisper": plain[wav.name]["text"],
                               "redacted": out})
        english = [(f"en-{i}", s, speak(folder, f"en-{i}", s)) for i, s in enumerate(SENTENCES)]
        refs = [(wav.name, f"Hello. {s} Thank you.") for _, s, wav in english]
        en_plain = transcribe(args, [w for _, _, w in english], redact=False)
        en_redacted = transcribe(args, [w for _, _, w in english], redact=True)
        false_tags = sum(len(re.findall(r"\[[A-Z_]+\]", l["text"])) for l in en_redacted.values())
        report = {
            "model": args.model,
            "recall": by_type,
            "values": len(cases),
            "caught": sum(h[0] for t in by_type.values() for h in t.values()),
            "gone": gone,
            "missed": missed,
            "english_wer_plain": wer(args, folder, "plain", refs, en_plain),
            "english_wer_redacted": wer(args, folder, "redacted", refs, en_redacted),
            "english_false_tags": false_tags,
            "total_s_plain": sum(l["timing"]["total_s"] for l in plain.values()),
            "total_s_redacted": sum(l["timing"]["total_s"] for l in redacted.values()),
            "total_s_redacted_audio": sum(l["timing"]["total_s"] for l in with_audio.values()),
            "audio_values_silenced": audio["silenced"],
            "audio_share_silenced": sum(audio["share"]) / len(audio["share"]),
            "audio": audio["cases"],
        }
    print(f"recall: {report['caught']} of {report['values']} values caught with their type; {report['gone']} gone "
          f"from the text whatever their tag")
    print(f"audio: {report['audio_values_silenced']} of {report['values']} values silent to the sample in the "
          f"silenced copy; {100 * report['audio_share_silenced']:.1f} % of all their samples")
    for c in report["audio"]:
        if c["gone_from_text"] and c["share"] < 1.0:
            print(f"  gone from the text, {100 * c['share']:.0f} % silenced: {c['type']} ({c['form']}): "
                  f"{c['redacted']!r}")
    print(f"time: {report['total_s_plain']:.1f} s plain, {report['total_s_redacted']:.1f} s redacted, "
          f"{report['total_s_redacted_audio']:.1f} s with the silenced copies")
    print("| type | digits | words |\n| --- | ---: | ---: |")
    for kind, forms in by_type.items():
        print(f"| {kind} | {forms['digits'][0]}/{forms['digits'][1]} | {forms['words'][0]}/{forms['words'][1]} |")
    print(f"precision: English WER {report['english_wer_plain']:.3f} plain, {report['english_wer_redacted']:.3f} "
          f"redacted; {false_tags} tags in sentences that say no value")
    for m in missed:
        print(f"missed {m['type']} ({m['form']}): said {m['said']!r}; Whisper wrote {m['whisper']!r}; "
              f"redacted {m['redacted']!r}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
