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

/// Characters a block must span to count as said again word for word: longer than the phrases a template repeats
/// ("is the budget report for "), shorter than a sentence.
const REPEAT_BLOCK: usize = 32;
/// Share of a text said for the third time or more, word for word, from which the text repeats itself.
const REPEAT_SHARE: f64 = 0.2;

/// Share of the text's characters that start a block of [`REPEAT_BLOCK`] characters said at least twice before,
/// verbatim: near 0 for speech, however formulaic (a list read from a template changes a number or a name every
/// sentence), near 1 for a decoder that says one sentence over and over.
pub fn said_again_share(text: &str) -> f64 {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < REPEAT_BLOCK {
        return 0.0;
    }
    let mut seen: std::collections::HashMap<&[char], usize> = std::collections::HashMap::new();
    let blocks = chars.windows(REPEAT_BLOCK);
    let total = blocks.len();
    let again = blocks
        .filter(|block| {
            let count = seen.entry(block).or_default();
            *count += 1;
            *count >= 3
        })
        .count();
    again as f64 / total as f64
}

/// Whether a text repeats itself as a loop does: it compresses above `threshold` (the reference implementations'
/// signal) *and* the compression comes from blocks said again word for word ([`said_again_share`]). The ratio
/// alone also rises on speech read from a template, and a window judged a loop is sampled again at a higher
/// temperature, where a sample that drops a sentence or two compresses less and "passes".
pub fn repeats_itself(text: &str, threshold: f64) -> bool {
    looks_looped(compression_ratio(text), text, threshold)
}

/// [`repeats_itself`] with the text's compression ratio already measured; the blocks are counted only when the
/// ratio is above the threshold.
pub fn looks_looped(compression_ratio: f64, text: &str, threshold: f64) -> bool {
    compression_ratio > threshold && said_again_share(text) > REPEAT_SHARE
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
        assert_eq!(said_again_share(speech), 0.0);
        assert!(said_again_share(looped) > 0.5);
        assert_eq!(compression_ratio(""), 0.0);
        assert!(repeats_itself(&[speech; 4].join(" "), 2.4));
        assert!(!repeats_itself(speech, 2.4));
    }

    #[test]
    fn speech_read_from_a_template_compresses_well_and_is_no_loop() {
        let months = ["January", "February", "March", "April", "May", "June", "July", "August"];
        let listed: Vec<String> = (10..19)
            .map(|n| format!("Item {n} is the budget report for {}, and it is ready.", months[n % 8]))
            .collect();
        let listed = listed.join(" ");
        assert!(compression_ratio(&listed) > 2.4, "{}", compression_ratio(&listed));
        assert!(said_again_share(&listed) < 0.05, "{}", said_again_share(&listed));
        assert!(!repeats_itself(&listed, 2.4));
        // One sentence said over and over, or a decoder stuck on it, is.
        let stuck = "Item 10 is the budget report for March, and it is ready. ".repeat(6);
        assert!(said_again_share(&stuck) > 0.5 && repeats_itself(&stuck, 2.4));
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
