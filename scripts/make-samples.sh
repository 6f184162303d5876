#!/usr/bin/env bash
# Generates sample recordings into a folder (default: samples/): speech from espeak-ng in several containers,
# a stereo music-like tone, a narrow-band phone call, a stereo A-law call with one speaker per channel, silence,
# and files that are not audio. `sox -R` seeds its
# dither noise: the same files every time (a random dither once flipped the tone between "" and "You").
set -euo pipefail
dir="${1:-samples}"
mkdir -p "$dir"
espeak-ng -w "$dir/.speech.wav" "Thank you for calling redscribe support. Your recording will be transcribed and loaded into the warehouse."
sox -R "$dir/.speech.wav" -r 16000 -c 1 -b 16 "$dir/call-0042.wav"
sox -R "$dir/.speech.wav" -r 8000 -c 1 -e u-law "$dir/phone-ulaw.wav"
sox -R "$dir/.speech.wav" -r 44100 -c 2 "$dir/meeting.flac"
sox -R "$dir/.speech.wav" -r 22050 -c 1 -t mp3 "$dir/podcast.mp3"
sox -R "$dir/.speech.wav" -r 44100 -c 1 -t vorbis "$dir/field-note.ogg"
ffmpeg -loglevel error -y -i "$dir/.speech.wav" -c:a aac -b:a 64k "$dir/voice memo.m4a"
sox -R -n -r 48000 -c 2 -b 16 "$dir/music.aiff" synth 3 sine 220 sine 330 vol 0.4
sox -R -n -r 16000 -c 1 -b 16 "$dir/silence.wav" trim 0 2
# A support call as telephony records it: 8 kHz A-law, the agent on the left channel, the caller on the right.
espeak-ng -w "$dir/.agent.wav" "Thank you for calling. How can I help you today?"
espeak-ng -v en+f3 -w "$dir/.caller.wav" "My invoice shows the wrong amount for last month."
agent_s="$(soxi -D "$dir/.agent.wav")"
caller_s="$(soxi -D "$dir/.caller.wav")"
sox -R "$dir/.agent.wav" -r 8000 -c 1 "$dir/.left.wav" pad 0 "$caller_s"
sox -R "$dir/.caller.wav" -r 8000 -c 1 "$dir/.right.wav" pad "$agent_s" 0
sox -R -M "$dir/.left.wav" "$dir/.right.wav" -e a-law "$dir/support-call.wav"
rm -f "$dir/.speech.wav" "$dir/.agent.wav" "$dir/.caller.wav" "$dir/.left.wav" "$dir/.right.wav"
printf 'Meeting notes\n- nothing here is audio\n' > "$dir/notes.mp3"
printf '%%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n' > "$dir/invoice.wav"
: > "$dir/empty.wav"
head -c 44 "$dir/call-0042.wav" > "$dir/header-only.wav"
echo 2 > "$dir/.samples-version"
echo "samples: $(ls "$dir" | wc -l) files in $dir"
