//! Signals that a decode went wrong, as the reference implementations compute them.

use std::io::Write;

/// Bytes of the text over bytes of its zlib compression: repetition loops compress far better than speech
/// (the reference implementations retry above 2.4).
pub fn compression_ratio(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    if encoder.write_all(text.as_bytes()).is_err() {
        return 0.0;
    }
    match encoder.finish() {
        Ok(compressed) if !compressed.is_empty() => text.len() as f64 / compressed.len() as f64,
        _ => 0.0,
    }
}

/// Share of word n-grams that repeat an earlier one: 0 for varied speech, near 1 for a loop.
pub fn repeated_ngram_ratio(text: &str, n: usize) -> f64 {
    let words: Vec<String> = text.split_whitespace().map(|w| w.to_lowercase()).collect();
    if words.len() < n + 1 {
        return 0.0;
    }
    let grams: Vec<&[String]> = words.windows(n).collect();
    let mut seen = std::collections::HashSet::new();
    let repeated = grams.iter().filter(|g| !seen.insert(**g)).count();
    repeated as f64 / grams.len() as f64
}

/// Longest repeated block the loop check looks for, in characters: a phrase or two of any script.
const LOOP_MAX_PERIOD: usize = 64;
/// Copies of a block, back to back, that make a loop: a speaker may say "no, no, no" or "very, very, very, very",
/// a decoder stuck in a loop says it dozens of times.
const LOOP_MIN_REPEATS: usize = 5;
/// Characters a loop spans at least ("ha ha ha ha ha" is laughter, not a loop).
const LOOP_MIN_SPAN: usize = 24;

/// Loops in `units`: stretches where one block of at most `LOOP_MAX_PERIOD` units comes back to back at least
/// `LOOP_MIN_REPEATS` times over at least `LOOP_MIN_SPAN` units. Each is returned as the range of the copies after
/// the first (what to cut to keep the text said once). Works on characters, so in every script: with or without
/// spaces between words, in any alphabet.
pub fn loops<T: PartialEq>(units: &[T]) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < units.len() {
        // The shortest block that loops from here: "ab" rather than "abab".
        let run = (1..=LOOP_MAX_PERIOD.min((units.len() - i) / 2)).find_map(|period| {
            let matching = (i + period..units.len()).take_while(|&j| units[j] == units[j - period]).count();
            // Copies, a last one short of half a block or less counted whole (a loop ends anywhere).
            let copies = (period + matching + period / 2) / period;
            (copies >= LOOP_MIN_REPEATS && period * copies >= LOOP_MIN_SPAN).then_some((period, period + matching))
        });
        match run {
            Some((period, length)) => {
                found.push(i + period..i + length);
                i += length;
            }
            None => i += 1,
        }
    }
    found
}

/// Whether the text holds a loop ([`loops`]).
pub fn has_loop(text: &str) -> bool {
    !loops(&text.chars().collect::<Vec<_>>()).is_empty()
}

/// Cuts the loops out of pieces of text read in order (a transcript's segments), as if they were one text joined
/// by spaces: a loop that runs on across pieces is found too. Each loop is kept once; returns the pieces (trimmed,
/// possibly emptied) and how many loops were cut.
pub fn cut_loops(pieces: &[&str]) -> (Vec<String>, usize) {
    // Each character of the joined text, with the piece it came from (`None`: a joining space).
    let mut chars: Vec<char> = Vec::new();
    let mut owner: Vec<Option<usize>> = Vec::new();
    for (n, piece) in pieces.iter().enumerate() {
        if n > 0 {
            chars.push(' ');
            owner.push(None);
        }
        chars.extend(piece.trim().chars());
        owner.resize(chars.len(), Some(n));
    }
    let found = loops(&chars);
    let mut cut = vec![false; chars.len()];
    for range in &found {
        cut[range.clone()].iter_mut().for_each(|c| *c = true);
    }
    let mut kept = vec![String::new(); pieces.len()];
    for ((c, piece), cut) in chars.iter().zip(&owner).zip(&cut) {
        if let (Some(n), false) = (piece, cut) {
            kept[*n].push(*c);
        }
    }
    (kept.into_iter().map(|k| k.trim().to_string()).collect(), found.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_stand_out() {
        let speech = "Thank you for calling. Your recording will be transcribed and loaded into the warehouse.";
        let looped = "thank you thank you thank you thank you thank you thank you thank you thank you thank you";
        assert!(compression_ratio(speech) < 1.6, "{}", compression_ratio(speech));
        assert!(compression_ratio(looped) > 2.4, "{}", compression_ratio(looped));
        assert_eq!(repeated_ngram_ratio(speech, 3), 0.0);
        assert!(repeated_ngram_ratio(looped, 3) > 0.8);
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn loops_are_found_in_every_script_and_speech_is_left_alone() {
        // What a decoder stuck in a loop writes, in Latin, Cyrillic, Japanese (no spaces) and Arabic script.
        for looped in [
            "Obrigado pela ligação. minkünk, minkünk, minkünk, minkünk, minkünk, minkünk, minkünk,",
            "Спасибо за звонок. Спасибо за звонок. Спасибо за звонок. Спасибо за звонок. Спасибо за звонок.",
            "ご視聴ありがとうございましたご視聴ありがとうございましたご視聴ありがとうございましたご視聴ありがとうございましたご視聴ありがとうございました",
            "شكرا شكرا شكرا شكرا شكرا شكرا شكرا شكرا",
        ] {
            assert!(has_loop(looped), "{looped}");
        }
        for speech in [
            "Buenos días, quisiera hablar sobre la factura del mes pasado, por favor.",
            "No, no, no, that is not what I ordered. It was very, very, very, very good.",
            "ha ha ha ha ha, okay. 1000000 dollars.",
            "今日は天気がいいですね。明日は雨が降るそうです。",
            "",
        ] {
            assert!(!has_loop(speech), "{speech}");
        }
    }

    #[test]
    fn a_loop_is_kept_once_even_across_segments() {
        let pieces = ["Hola, buenas tardes.", "minkünk, minkünk, minkünk,", "minkünk, minkünk, minkünk, minkünk,"];
        let (kept, cut) = cut_loops(&pieces);
        assert_eq!(cut, 1);
        assert_eq!(kept, ["Hola, buenas tardes.", "minkünk,", ""]);
        // The shortest block is kept: "ab" of "ababab…", not "abab".
        assert_eq!(
            loops(&"xabababababababababababab".chars().collect::<Vec<_>>()),
            vec![std::ops::Range { start: 3, end: 25 }]
        );
        let speech = ["Thank you for calling.", "How can I help?"];
        assert_eq!(cut_loops(&speech), (vec![speech[0].to_string(), speech[1].to_string()], 0));
    }
}
