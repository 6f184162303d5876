//! Word error rate with the usual normalisation: lower case, punctuation removed, digits spelled out as words
//! (so "42" and "forty two" compare equal), whitespace collapsed.

/// Words of `text`, normalised.
pub fn normalise(text: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '%' {
            cleaned.push_str(" percent ");
        } else if c.is_alphanumeric() || c == '\'' {
            cleaned.extend(c.to_lowercase());
        } else {
            cleaned.push(' ');
        }
    }
    cleaned
        .split_whitespace()
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .flat_map(|w| match w.parse::<u64>() {
            Ok(n) if w.len() <= 12 => spell(n),
            _ => vec![w.to_string()],
        })
        .collect()
}

fn spell(n: u64) -> Vec<String> {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    fn below_thousand(n: u64, out: &mut Vec<String>) {
        if n >= 100 {
            out.push(ONES[(n / 100) as usize].into());
            out.push("hundred".into());
        }
        let rest = n % 100;
        if rest >= 20 {
            out.push(TENS[(rest / 10) as usize].into());
            if !rest.is_multiple_of(10) {
                out.push(ONES[(rest % 10) as usize].into());
            }
        } else if rest > 0 || n == 0 {
            out.push(ONES[rest as usize].into());
        }
    }
    if n == 0 {
        return vec!["zero".into()];
    }
    let mut out = Vec::new();
    for (scale, name) in [(1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand")] {
        if !(n / scale).is_multiple_of(1000) {
            below_thousand(n / scale % 1000, &mut out);
            out.push(name.into());
        }
    }
    if !n.is_multiple_of(1000) {
        below_thousand(n % 1000, &mut out);
    }
    out
}

/// Edit distance in words (substitutions, insertions, deletions) between the normalised texts, and the number of
/// reference words.
pub fn word_errors(reference: &str, hypothesis: &str) -> (usize, usize) {
    let (r, h) = (normalise(reference), normalise(hypothesis));
    let mut previous: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut current = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let substitution = previous[j] + usize::from(rw != hw);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    (previous[h.len()], r.len())
}

/// Word error rate of one pair (errors over reference words; 0 for two empty texts).
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (errors, words) = word_errors(reference, hypothesis);
    if words == 0 {
        return if errors == 0 { 0.0 } else { 1.0 };
    }
    errors as f64 / words as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_and_distance() {
        assert_eq!(normalise("Hello, World! It's 42."), ["hello", "world", "it's", "forty", "two"]);
        assert_eq!(normalise("1,205"), ["one", "two", "hundred", "five"]);
        assert_eq!(wer("the cat sat", "the cat sat"), 0.0);
        assert_eq!(wer("the cat sat", "The cat, sat."), 0.0);
        assert!((wer("the cat sat on the mat", "the cat sat on mat") - 1.0 / 6.0).abs() < 1e-9);
        assert!((wer("a b c", "x b c d") - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(wer("", ""), 0.0);
        assert_eq!(wer("", "words"), 1.0);
        assert_eq!(wer("call 911", "call nine hundred eleven"), 0.0);
        assert_eq!(wer("grew by twelve percent", "grew by 12%"), 0.0);
    }
}
