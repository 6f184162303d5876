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
}
