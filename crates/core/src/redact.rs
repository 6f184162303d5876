//! PII redaction of a transcript, before anything of it leaves the process: values are replaced by tags named
//! after Amazon Transcribe's PII entity types (`[CREDIT_DEBIT_NUMBER]`), in the words, the segments and the text.
//!
//! The rules work on a channel's words in order, across segments (a value said over two segments is one value):
//! - **numbers**, as Whisper writes them — digits ("4111-1111", "4,111"), words ("four one one one", "forty one",
//!   "double four", "oh"), or a mix — are read into digit runs; a run is typed by the nearest cue word before it
//!   (`card`, `cvv`, `expires`, `social security`, `account`, `pin`, `phone`, `number`, …) and, without one, by
//!   its shape: a Luhn-valid 13–19 digits is a card, 3-2-4 digits a social security number, and any run of 7
//!   digits or more is redacted in doubt (Whisper mishears digits: a card comes out a digit short or long);
//! - an **IBAN** written as letters and digits is checked mod 97;
//! - an **e-mail** address is a word with `@` in it, or the spoken shape "jane dot doe at example dot com" (or
//!   "… at example.com": a name, `at`, and a domain whose last label is a known top-level domain);
//! - a run next to a tag takes the tag's type: a value cut in two (by a part's boundary, or a pause the rules
//!   stopped at) is caught whole.
//!
//! What the rules cannot catch: names and street addresses, which need a named-entity model (no package here ships
//! one), and numbers of fewer than 7 digits said with no cue word.

use std::collections::BTreeMap;

use crate::ports::{TimedText, Transcription, Word};

/// The kinds of value redacted, named as Amazon Transcribe names its PII entity types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Pii {
    CreditDebitNumber,
    CreditDebitCvv,
    CreditDebitExpiry,
    BankAccountNumber,
    BankRouting,
    Ssn,
    Phone,
    Email,
    Pin,
}

impl Pii {
    const ALL: [Pii; 9] = [
        Pii::CreditDebitNumber,
        Pii::CreditDebitCvv,
        Pii::CreditDebitExpiry,
        Pii::BankAccountNumber,
        Pii::BankRouting,
        Pii::Ssn,
        Pii::Phone,
        Pii::Email,
        Pii::Pin,
    ];

    /// The entity type's name.
    pub const fn name(self) -> &'static str {
        match self {
            Pii::CreditDebitNumber => "CREDIT_DEBIT_NUMBER",
            Pii::CreditDebitCvv => "CREDIT_DEBIT_CVV",
            Pii::CreditDebitExpiry => "CREDIT_DEBIT_EXPIRY",
            Pii::BankAccountNumber => "BANK_ACCOUNT_NUMBER",
            Pii::BankRouting => "BANK_ROUTING",
            Pii::Ssn => "SSN",
            Pii::Phone => "PHONE",
            Pii::Email => "EMAIL",
            Pii::Pin => "PIN",
        }
    }

    /// The tag that replaces a value: `[CREDIT_DEBIT_NUMBER]`.
    pub fn tag(self) -> String {
        format!("[{}]", self.name())
    }

    fn of_tag(word: &str) -> Option<Pii> {
        let name = word.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != ']');
        let name = name.strip_prefix('[')?.strip_suffix(']')?;
        Pii::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What a deployment (`REDSCRIBE_REDACT`, `--redact`) or a recording (`x-amz-meta-redact`) asks to redact: `pii`
/// (the text), `pii,audio` (the text, and a copy of the audio with the values silenced), or nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RedactOptions {
    pub pii: bool,
    /// A WAV copy of the recording with each redacted value silenced (`processed/redacted-audio/`).
    pub audio: bool,
}

/// The user-defined metadata name (`x-amz-meta-redact`) a recording asks for redaction with.
pub const REDACT_METADATA: &str = "redact";

impl std::str::FromStr for RedactOptions {
    type Err = String;
    fn from_str(s: &str) -> Result<RedactOptions, String> {
        let mut options = RedactOptions::default();
        for part in s.split(',').map(|p| p.trim().to_ascii_lowercase()).filter(|p| !p.is_empty()) {
            match part.as_str() {
                "pii" => options.pii = true,
                "audio" => options.audio = true,
                "off" | "none" => {}
                other => return Err(format!("redact {other:?}: pii, pii,audio or off")),
            }
        }
        if options.audio && !options.pii {
            return Err(
                "redact audio: the audio is silenced where the text is redacted, so it needs pii (pii,audio)".into()
            );
        }
        Ok(options)
    }
}

impl RedactOptions {
    /// Both asked for: each asks for what it asks.
    pub fn with(self, other: RedactOptions) -> RedactOptions {
        RedactOptions { pii: self.pii || other.pii, audio: self.audio || other.audio }
    }

    /// What a recording's metadata adds to the deployment's: it can ask for more, never for less (a value the
    /// metadata cannot parse asks for text redaction: in doubt, redact).
    pub fn with_metadata(self, metadata: &crate::ports::Metadata) -> RedactOptions {
        let asked = match metadata.get(REDACT_METADATA) {
            None => RedactOptions::default(),
            Some(v) => v.parse().unwrap_or(RedactOptions { pii: true, audio: false }),
        };
        self.with(asked)
    }
}

/// What was redacted: how many values of each type, and when each was said.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Redacted {
    pub counts: BTreeMap<Pii, u32>,
    /// Where in the recording each value was said (from its words' times): what a silenced copy of the audio
    /// silences. Times only, never the value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub said: Vec<Said>,
}

/// Seconds of audio silenced before and after each value in the silenced copy: a word's time is the model's
/// alignment (within 0.07 s of faster-whisper's at the 90th percentile, `benches/transcribe/words.py`), and the
/// sound of its first and last letters reaches past it.
pub const SILENCE_MARGIN_S: f64 = 0.25;

/// Where in the audio a redacted value was said: its words' times and the unwritten audio beside them ([`said`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Said {
    pub pii: Pii,
    pub channel: u16,
    pub start_s: f64,
    pub end_s: f64,
}

impl Redacted {
    /// The counts of several transcriptions (a call's channels, a recording's parts); `None` when none was
    /// redacted.
    pub fn sum<'a>(all: impl Iterator<Item = Option<&'a Redacted>>) -> Option<Redacted> {
        let mut total: Option<Redacted> = None;
        for one in all.flatten() {
            total.get_or_insert_with(Redacted::default).add(one);
        }
        total
    }

    /// Adds another's counts and times.
    pub fn add(&mut self, other: &Redacted) {
        for (pii, n) in &other.counts {
            *self.counts.entry(*pii).or_default() += n;
        }
        self.said.extend_from_slice(&other.said);
    }

    /// The times moved by `offset_s` (a part's, when parts are joined).
    pub fn shift(&mut self, offset_s: f64) {
        for s in &mut self.said {
            s.start_s += offset_s;
            s.end_s += offset_s;
        }
    }

    /// As the row's `pii_redacted` column holds it: `{"CREDIT_DEBIT_NUMBER":1,"EMAIL":2}` (`{}`: nothing found).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.counts).expect("counts serialise")
    }

    pub fn total(&self) -> u32 {
        self.counts.values().sum()
    }
}

/// What a word is to the rules: its text lower-cased without the punctuation around it.
fn plain(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric() && c != '@' && c != '+' && c != '[' && c != ']').to_lowercase()
}

fn ends_sentence(word: &str) -> bool {
    word.trim_end_matches(['"', '\'', ')']).ends_with(['.', '?', '!'])
}

const UNITS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const TEENS: [&str; 10] =
    ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// What one word adds to a run of digits.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// Digits as written ("4111-1111" → 41111111), and whether it was written as a date (`12/27`).
    Digits(String),
    Unit(u8),
    Teen(u8),
    Tens(u8),
    Hundred,
    /// "thousand", "million", "billion": that many zeros, which the numbers said after it fill ("five five five two
    /// thousand" is 5552000, "two thousand and twelve" 2012).
    Scale(usize),
    /// "double", "triple": the next digit said that many times.
    Repeat(usize),
    /// "oh" or "o": a zero inside a run.
    Oh,
    /// A word that joins the pieces of a number ("dash", "and") but says no digit.
    Joiner,
}

/// What one word, as the rules see it ([`plain`]), adds to a run of digits.
fn piece(w: &str) -> Option<Piece> {
    if !w.is_empty() && w.trim_start_matches('+').chars().all(|c| c.is_ascii_digit() || "-,./".contains(c)) {
        let digits: String = w.chars().filter(char::is_ascii_digit).collect();
        return (!digits.is_empty()).then_some(Piece::Digits(digits));
    }
    // Digits the model glued to the next word ("111Good"): three or more, so that "4th" or "10am" stay words.
    let leading: String = w.chars().take_while(char::is_ascii_digit).collect();
    if leading.len() >= 3 && w[leading.len()..].chars().all(char::is_alphabetic) {
        return Some(Piece::Digits(leading));
    }
    // "forty-one", "twenty-seven".
    if let Some((tens, unit)) = w.split_once('-') {
        if let (Some(t), Some(u)) = (TENS.iter().position(|x| *x == tens), UNITS.iter().position(|x| *x == unit)) {
            return Some(Piece::Digits(format!("{}{}", t + 2, u)));
        }
    }
    if let Some(u) = UNITS.iter().position(|x| *x == w) {
        return Some(Piece::Unit(u as u8));
    }
    if let Some(t) = TEENS.iter().position(|x| *x == w) {
        return Some(Piece::Teen(t as u8 + 10));
    }
    if let Some(t) = TENS.iter().position(|x| *x == w) {
        return Some(Piece::Tens(t as u8 + 2));
    }
    match w {
        "hundred" => Some(Piece::Hundred),
        "thousand" => Some(Piece::Scale(3)),
        "million" => Some(Piece::Scale(6)),
        "billion" => Some(Piece::Scale(9)),
        "double" => Some(Piece::Repeat(2)),
        "triple" => Some(Piece::Repeat(3)),
        "oh" | "o" | "nought" | "nil" => Some(Piece::Oh),
        "dash" | "hyphen" | "and" | "slash" | "-" => Some(Piece::Joiner),
        _ => None,
    }
}

/// The digits a run of pieces says: digit by digit ("four one one one" is 4111, "double four" 44, "oh" 0), or as
/// numbers are said ("forty one" is 41, "four hundred eleven" 411, "five five five two thousand" 5552000,
/// "twelve million three hundred thousand" 12300000), or both in turn.
fn digits_of(pieces: &[Piece]) -> String {
    let mut out = String::new();
    let mut said: Option<Spoken> = None;
    let mut repeat = 1usize;
    let finish = |out: &mut String, said: &mut Option<Spoken>| {
        if let Some(n) = said.take() {
            out.push_str(&n.total.saturating_add(n.group).to_string());
        }
    };
    for p in pieces {
        // A lone digit written as such combines as its word would ("forty 1").
        let p = match p {
            Piece::Digits(d) if d.len() == 1 && d != "0" => &Piece::Unit(d.as_bytes()[0] - b'0'),
            p => p,
        };
        match p {
            Piece::Digits(d) => {
                finish(&mut out, &mut said);
                out.push_str(d);
            }
            Piece::Unit(u) if repeat > 1 => {
                finish(&mut out, &mut said);
                out.push_str(&u.to_string().repeat(std::mem::replace(&mut repeat, 1)));
            }
            &Piece::Unit(u) => match said.as_mut() {
                Some(n) if n.takes_unit() => n.add(u64::from(u), Last::Unit),
                _ => {
                    finish(&mut out, &mut said);
                    said = Some(Spoken::new(u64::from(u), Last::Unit));
                }
            },
            &Piece::Teen(t) | &Piece::Tens(t) => {
                let (value, last) = match p {
                    Piece::Teen(_) => (u64::from(t), Last::Teen),
                    _ => (u64::from(t) * 10, Last::Tens),
                };
                match said.as_mut() {
                    Some(n) if matches!(n.last, Last::Hundred | Last::Scale) => n.add(value, last),
                    _ => {
                        finish(&mut out, &mut said);
                        said = Some(Spoken::new(value, last));
                    }
                }
            }
            Piece::Hundred => match said.as_mut() {
                Some(n) if n.group > 0 && n.group < 100 => {
                    n.group *= 100;
                    n.last = Last::Hundred;
                }
                _ => {
                    finish(&mut out, &mut said);
                    said = Some(Spoken::new(100, Last::Hundred));
                }
            },
            &Piece::Scale(zeros) => {
                let n = said.get_or_insert(Spoken::new(0, Last::Scale));
                n.total = n.total.saturating_add(n.group.max(1).saturating_mul(10u64.saturating_pow(zeros as u32)));
                n.group = 0;
                n.last = Last::Scale;
            }
            Piece::Repeat(n) => repeat = *n,
            Piece::Oh => {
                finish(&mut out, &mut said);
                out.push('0');
            }
            Piece::Joiner => {}
        }
    }
    finish(&mut out, &mut said);
    out
}

/// What was said last of a number said as numbers are.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Last {
    Unit,
    Teen,
    Tens,
    Hundred,
    Scale,
}

/// A number said as numbers are: the thousands, millions… said so far, and the group under a thousand after them.
#[derive(Debug, Clone, Copy)]
struct Spoken {
    total: u64,
    group: u64,
    last: Last,
}

impl Spoken {
    fn new(group: u64, last: Last) -> Spoken {
        Spoken { total: 0, group, last }
    }

    /// Whether a unit word goes on this number ("forty" one, "hundred" one, "thousand" one) rather than starting
    /// the next.
    fn takes_unit(&self) -> bool {
        match self.last {
            Last::Tens => self.group.is_multiple_of(10),
            Last::Hundred | Last::Scale => true,
            Last::Unit | Last::Teen => false,
        }
    }

    fn add(&mut self, value: u64, last: Last) {
        self.group += value;
        self.last = last;
    }
}

/// The Luhn check card numbers carry.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The IBAN check: the first four characters moved to the end, letters as 10–35, the number mod 97 is 1.
fn iban_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let mut rest = 0u32;
    for &c in b[4..].iter().chain(&b[..4]) {
        let value =
            if c.is_ascii_digit() { u32::from(c - b'0') } else { u32::from(c.to_ascii_uppercase() - b'A') + 10 };
        for d in value.to_string().chars() {
            rest = (rest * 10 + d.to_digit(10).unwrap_or(0)) % 97;
        }
    }
    rest == 1
}

/// Cue words (`*`: any ending), each with the type a number after it has and the lengths (in digits) that type
/// takes.
const CUES: [(&str, Pii, usize, usize); 28] = [
    ("card", Pii::CreditDebitNumber, 4, 40),
    ("credit", Pii::CreditDebitNumber, 4, 40),
    ("debit", Pii::CreditDebitNumber, 4, 40),
    ("visa", Pii::CreditDebitNumber, 4, 40),
    ("mastercard", Pii::CreditDebitNumber, 4, 40),
    ("amex", Pii::CreditDebitNumber, 4, 40),
    ("cvv", Pii::CreditDebitCvv, 3, 4),
    ("cv", Pii::CreditDebitCvv, 3, 4),
    ("cvc", Pii::CreditDebitCvv, 3, 4),
    ("security code", Pii::CreditDebitCvv, 3, 4),
    ("back of the card", Pii::CreditDebitCvv, 3, 4),
    ("expir*", Pii::CreditDebitExpiry, 3, 6),
    ("social security", Pii::Ssn, 4, 11),
    ("ssn", Pii::Ssn, 4, 11),
    ("account", Pii::BankAccountNumber, 4, 34),
    ("count number", Pii::BankAccountNumber, 4, 34),
    // A US routing (ABA) number is nine digits; other lengths after "routing" are the account's.
    ("routing", Pii::BankRouting, 9, 9),
    ("routing", Pii::BankAccountNumber, 4, 34),
    ("iban", Pii::BankAccountNumber, 4, 34),
    ("sort code", Pii::BankAccountNumber, 4, 34),
    ("pin", Pii::Pin, 4, 8),
    ("passcode", Pii::Pin, 4, 8),
    ("phone", Pii::Phone, 4, 15),
    ("mobile", Pii::Phone, 4, 15),
    ("call me", Pii::Phone, 4, 15),
    ("reach me", Pii::Phone, 4, 15),
    ("contact", Pii::Phone, 4, 15),
    (GENERIC_CUE, Pii::Phone, 4, 15),
];

/// The cue any number can follow ("my number is …"): it yields to a specific one.
const GENERIC_CUE: &str = "number";

/// How far back a cue word counts (words).
const CUE_WORDS: usize = 10;

/// Fewest digits redacted with no cue word.
const IN_DOUBT_DIGITS: usize = 7;

/// One word of a channel: where it is (segment, word) and its text.
struct Token {
    at: (usize, usize),
    text: String,
    plain: String,
}

/// A stretch of tokens to replace with a tag.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    from: usize,
    to: usize,
    pii: Pii,
}

/// The type the cue words before token `i` give a run of `n` digits: the nearest specific cue whose type takes
/// that many digits (`card` in "the number on the card is …"), else the generic `number`.
fn cue(tokens: &[Token], i: usize, n: usize) -> Option<Pii> {
    let text: Vec<&str> = tokens[i.saturating_sub(CUE_WORDS)..i].iter().map(|t| t.plain.as_str()).collect();
    let said = |at: usize, cue: &str| {
        cue.split(' ').enumerate().all(|(k, w)| {
            text.get(at + k).is_some_and(|t| match w.strip_suffix('*') {
                Some(prefix) => t.starts_with(prefix),
                None => *t == w,
            })
        })
    };
    let mut specific: Option<(usize, Pii)> = None;
    let mut generic = None;
    for (cue, pii, min, max) in CUES {
        if !(min..=max).contains(&n) {
            continue;
        }
        let Some(at) = (0..text.len()).rev().find(|&at| said(at, cue)) else { continue };
        let distance = text.len() - at;
        if cue == GENERIC_CUE {
            generic = Some(pii);
        } else if specific.is_none_or(|(d, _)| distance < d) {
            specific = Some((distance, pii));
        }
    }
    specific.map(|(_, pii)| pii).or(generic)
}

/// The type a run of digits has with no cue word, or `None` when it is too short to redact in doubt.
fn shape(digits: &str, written: &str) -> Option<Pii> {
    let n = digits.len();
    let ssn_shape = {
        let groups: Vec<usize> = written.split('-').map(str::len).collect();
        groups == [3, 2, 4]
    };
    match n {
        _ if ssn_shape => Some(Pii::Ssn),
        13..=19 => Some(Pii::CreditDebitNumber),
        9 => Some(Pii::Ssn),
        n if n >= 20 => Some(Pii::BankAccountNumber),
        n if n >= IN_DOUBT_DIGITS => Some(Pii::Phone),
        _ => None,
    }
}

fn is_number_start(p: &Piece) -> bool {
    !matches!(p, Piece::Joiner | Piece::Hundred | Piece::Scale(_))
}

/// Words after a number that make it an amount of money or a share, which no PII type is.
const AMOUNT_WORDS: [&str; 12] =
    ["dollars", "dollar", "bucks", "cents", "euros", "euro", "pounds", "pence", "yen", "rupees", "percent", "%"];

/// Whether the run of tokens `from..=to` is an amount: written with a currency sign ("$1,200,000") or followed
/// by a currency word ("two million dollars").
fn is_amount(tokens: &[Token], from: usize, to: usize) -> bool {
    let signed = tokens[from..=to].iter().any(|t| t.text.contains(['$', '€', '£', '¥', '%']));
    signed || tokens.get(to + 1).is_some_and(|t| AMOUNT_WORDS.contains(&t.plain.as_str()))
}

/// Runs of number words and digits, each typed, and the IBANs written as such.
fn number_spans(tokens: &[Token]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if let Some(span) = iban_at(tokens, i) {
            i = span.to + 1;
            spans.push(span);
            continue;
        }
        let starts = piece(&tokens[i].plain).filter(is_number_start).or_else(|| month_at(tokens, i));
        let Some(first) = starts.or_else(|| homophone_before_digits(tokens, i)) else {
            i += 1;
            continue;
        };
        let mut pieces = vec![first];
        let mut end = i;
        while end + 1 < tokens.len() && !ends_sentence(&tokens[end].text) {
            match piece(&tokens[end + 1].plain).or_else(|| homophone(&tokens[end + 1].plain)) {
                // A joiner belongs to the run only when a number follows it.
                Some(Piece::Joiner) if tokens.get(end + 2).and_then(|t| piece(&t.plain)).is_none() => break,
                Some(p) => pieces.push(p),
                None => break,
            }
            end += 1;
        }
        // A lone "oh" or number word is a run of one digit: kept unless a tag or a cue takes it.
        let digits = digits_of(&pieces);
        let written = tokens[i..=end].iter().map(|t| t.plain.as_str()).collect::<Vec<_>>().join("");
        let next_to_tag = [i.checked_sub(1), Some(end + 1)]
            .into_iter()
            .flatten()
            .find_map(|k| tokens.get(k).and_then(|t| Pii::of_tag(&t.text)));
        // A month and a year written with a slash ("03/27", "zero three slash 27").
        let slashed = (3..=4).contains(&digits.len()) && (written.contains('/') || written.contains("slash"));
        // An amount is no value of any type, whatever cue came before it ("the card balance is 1,200 dollars").
        let amount = next_to_tag.is_none() && is_amount(tokens, i, end);
        let pii = next_to_tag
            .filter(|_| !amount)
            .or_else(|| slashed.then_some(Pii::CreditDebitExpiry))
            .or_else(|| cue(tokens, i, digits.len()))
            .or_else(|| (luhn(&digits) && (13..=19).contains(&digits.len())).then_some(Pii::CreditDebitNumber))
            .or_else(|| shape(&digits, &written));
        if let (Some(pii), false, false) = (pii, digits.is_empty(), amount) {
            spans.push(Span { from: i, to: end, pii });
        }
        i = end + 1;
    }
    spans
}

/// A word the model writes for a digit it heard ("for" for "four", "free" for "three"), read as that digit inside a
/// number.
fn homophone(plain: &str) -> Option<Piece> {
    match plain {
        "for" => Some(Piece::Unit(4)),
        "free" => Some(Piece::Unit(3)),
        _ => None,
    }
}

/// A homophone that starts a number: one followed by digits ("for 111" for "four one one one").
fn homophone_before_digits(tokens: &[Token], i: usize) -> Option<Piece> {
    let next_is_number = tokens.get(i + 1).and_then(|t| piece(&t.plain)).is_some_and(|p| is_number_start(&p));
    homophone(&tokens[i].plain).filter(|_| next_is_number && !ends_sentence(&tokens[i].text))
}

/// A month name said after an expiry cue ("expires December twenty seven"): the start of a date.
fn month_at(tokens: &[Token], i: usize) -> Option<Piece> {
    let m = MONTHS.iter().position(|m| *m == tokens[i].plain)?;
    let next_is_number = tokens.get(i + 1).and_then(|t| piece(&t.plain)).is_some_and(|p| is_number_start(&p));
    (next_is_number && cue(tokens, i, 4) == Some(Pii::CreditDebitExpiry))
        .then(|| Piece::Digits(format!("{:02}", m + 1)))
}

/// An IBAN written over one word or several ("GB82 WEST 1234 5698 7654 32") from token `i`: the longest that
/// passes the mod-97 check.
fn iban_at(tokens: &[Token], i: usize) -> Option<Span> {
    let upper = |t: &Token| t.text.trim_matches(|c: char| !c.is_alphanumeric()).to_uppercase();
    let first = upper(&tokens[i]);
    if first.len() < 4 || !first.chars().take(2).all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut joined = String::new();
    let mut found = None;
    for (k, t) in tokens.iter().enumerate().skip(i).take(9) {
        let part = upper(t);
        if part.is_empty() || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        joined.push_str(&part);
        if iban_valid(&joined) {
            found = Some(Span { from: i, to: k, pii: Pii::BankAccountNumber });
        }
        if ends_sentence(&t.text) {
            break;
        }
    }
    found
}

/// Top-level domains a spoken address ends with.
const TLDS: [&str; 16] =
    ["com", "org", "net", "edu", "gov", "io", "co", "uk", "us", "de", "fr", "ca", "au", "info", "biz", "me"];

/// The last of the words glued to word `i`: the model writes "jane.doe@example.com" as "jane", ".doe", "@example",
/// ".com".
fn glued_end(tokens: &[Token], i: usize) -> usize {
    (i + 1..tokens.len().min(i + 8))
        .take_while(|&k| tokens[k].text.starts_with(['.', '@', '_', '-']) && tokens[k].text.len() > 1)
        .last()
        .unwrap_or(i)
}

/// Words that may be part of a name said before "at" in an address: letters, and not a word that introduces it.
fn is_name_word(t: &Token) -> bool {
    const NOT_NAMES: [&str; 12] =
        ["is", "my", "email", "address", "it's", "its", "at", "me", "to", "was", "the", "mail"];
    !t.plain.is_empty() && t.plain.chars().all(char::is_alphabetic) && !NOT_NAMES.contains(&t.plain.as_str())
}

/// Words after which a domain as written is an address whose "at" was lost.
const EMAIL_CUES: [&str; 4] = ["email", "e-mail", "mail", "address"];
/// How far back an e-mail cue counts (words).
const EMAIL_CUE_WORDS: usize = 4;

/// Whether a word is a domain as written ("example.com").
fn is_domain(word: &str) -> bool {
    let w = plain(word);
    let labels: Vec<&str> = w.split('.').collect();
    labels.len() >= 2 && labels.iter().all(|l| !l.is_empty()) && TLDS.contains(labels.last().unwrap_or(&""))
}

/// Addresses written with `@`, and spoken ones: "jane dot doe at example dot com".
fn email_spans(tokens: &[Token]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if spans.last().is_some_and(|s| s.to >= i) {
            continue;
        }
        // The word and the ones glued to it: the model writes "jane.doe@example.com" as the words "jane", ".doe",
        // "@example", ".com".
        let glued_to = glued_end(tokens, i);
        let glued: String = tokens[i..=glued_to].iter().map(|t| t.text.as_str()).collect();
        let written = plain(&glued);
        if written.contains('@') && written.len() > 2 {
            spans.push(Span { from: i, to: glued_to, pii: Pii::Email });
            continue;
        }
        // An address whose "at" the model did not hear ("jain.do.example.com") after an e-mail cue.
        let cued = tokens[i.saturating_sub(EMAIL_CUE_WORDS)..i].iter().any(|c| EMAIL_CUES.contains(&c.plain.as_str()));
        if cued && is_domain(&glued) {
            spans.push(Span { from: i, to: glued_to, pii: Pii::Email });
            continue;
        }
        if t.plain != "at" || i == 0 {
            continue;
        }
        // The domain: a written one, or labels joined by "dot" ending in a known top-level domain.
        let mut end = None;
        if let Some(domain_end) = (i + 1 < tokens.len()).then(|| glued_end(tokens, i + 1)) {
            let domain: String = tokens[i + 1..=domain_end].iter().map(|t| t.text.as_str()).collect();
            if is_domain(&domain) {
                end = Some(domain_end);
            }
        }
        if end.is_none() {
            let mut k = i + 1;
            while tokens.get(k + 1).is_some_and(|d| d.plain == "dot") {
                if tokens.get(k + 2).is_some_and(|l| TLDS.contains(&l.plain.as_str())) {
                    end = Some(k + 2);
                }
                k += 2;
            }
        }
        let Some(end) = end else { continue };
        // The name before "at": a word, and words joined to it by "dot", "underscore" or "dash" — or, as the
        // model writes a name it could not spell ("Sam Anders Corley"), up to three words back to a word that
        // introduces it.
        let mut start = i - 1;
        while start >= 2 && ["dot", "underscore", "dash"].contains(&tokens[start - 1].plain.as_str()) {
            start -= 2;
        }
        while start + 3 > i && start >= 1 && is_name_word(&tokens[start - 1]) && !ends_sentence(&tokens[start - 1].text)
        {
            start -= 1;
        }
        spans.push(Span { from: start, to: end, pii: Pii::Email });
    }
    spans
}

/// Redacts `t` in place, adds what was found to `t.pii_redacted` and returns it. Idempotent: a transcript redacted
/// already (a long recording's parts, joined) keeps its tags, and digits next to a tag are taken into it.
pub fn redact(t: &mut Transcription) -> Redacted {
    let found = redact_values(t);
    t.pii_redacted.get_or_insert_with(Redacted::default).add(&found);
    found
}

fn redact_values(t: &mut Transcription) -> Redacted {
    let mut redacted = Redacted::default();
    let mut changed = std::collections::BTreeSet::new();
    // Segments without words get words of their text for the rules to read, dropped again below: their times
    // are a guess, not the model's, and must not reach `transcription_words`.
    let invented: Vec<usize> = (0..t.segments.len()).filter(|&s| ensure_words(&mut t.segments[s])).collect();
    // Each segment's text and words as the model wrote them, for the segments a value is found in.
    let written: Vec<(String, Vec<String>)> =
        t.segments.iter().map(|s| (s.text.clone(), s.words.iter().map(|w| w.text.clone()).collect())).collect();
    let mut channels: Vec<u16> = t.segments.iter().map(|s| s.channel).collect();
    channels.sort_unstable();
    channels.dedup();
    for channel in channels {
        let tokens: Vec<Token> = t
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.channel == channel)
            .flat_map(|(i, s)| {
                s.words.iter().enumerate().map(move |(j, w)| Token {
                    at: (i, j),
                    text: w.text.clone(),
                    plain: plain(&w.text),
                })
            })
            .collect();
        let longest = longest_word_s(t, &tokens);
        let mut spans = email_spans(&tokens);
        let taken = |spans: &[Span], s: &Span| spans.iter().any(|o| s.from <= o.to && o.from <= s.to);
        for span in number_spans(&tokens) {
            if !taken(&spans, &span) {
                spans.push(span);
            }
        }
        spans.sort_by_key(|s| s.from);
        for span in &spans {
            *redacted.counts.entry(span.pii).or_default() += 1;
            changed.extend(tokens[span.from..=span.to].iter().map(|t| t.at.0));
            redacted.said.push(said(t, &tokens, span, channel, longest));
            replace(t, &tokens, span);
        }
    }
    // Only the segments a value was in are written again: their text with each word replaced as its word was,
    // what lies between words kept (a language written without spaces stays without them).
    for &s in &changed {
        let segment = &mut t.segments[s];
        let now: Vec<&str> = segment.words.iter().map(|w| w.text.as_str()).collect();
        segment.text = rewrite(&written[s].0, &written[s].1, &now)
            .unwrap_or_else(|| now.iter().filter(|w| !w.is_empty()).copied().collect::<Vec<_>>().join(" "));
        segment.words.retain(|w| !w.text.is_empty());
    }
    for &s in &invented {
        t.segments[s].words.clear();
    }
    if changed.is_empty() {
        return redacted;
    }
    t.segments.retain(|s| !s.text.is_empty());
    t.text = t.segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
    redacted
}

/// `text` with its words (`was`, in order) replaced by `now` (an emptied word goes with the space before it), what
/// lies between them kept; `None` when a word is not found where the text says it should be.
fn rewrite(text: &str, was: &[String], now: &[&str]) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (old, new) in was.iter().zip(now) {
        let old = old.trim();
        if old.is_empty() {
            out.push_str(new);
            continue;
        }
        let at = cursor + text[cursor..].find(old)?;
        if !new.is_empty() {
            out.push_str(&text[cursor..at]);
            out.push_str(new);
        }
        cursor = at + old.len();
    }
    out.push_str(&text[cursor..]);
    Some(out.trim().to_string())
}

/// The longest a channel's word plausibly lasts: twice its median word, between 0.3 and 1.4 s.
fn longest_word_s(t: &Transcription, tokens: &[Token]) -> f64 {
    let mut lengths: Vec<f64> = tokens
        .iter()
        .map(|x| &t.segments[x.at.0].words[x.at.1])
        .map(|w| w.end_s - w.start_s)
        .filter(|&d| d > 0.0)
        .collect();
    lengths.sort_by(f64::total_cmp);
    lengths.get(lengths.len() / 2).map_or(1.4, |median| (2.0 * median).clamp(0.3, 1.4))
}

/// A segment without words (a result written before words were timed) gets its text's words, spread over its time;
/// whether it did.
fn ensure_words(segment: &mut TimedText) -> bool {
    if !segment.words.is_empty() || segment.text.trim().is_empty() {
        return false;
    }
    let texts: Vec<&str> = segment.text.split_whitespace().collect();
    let step = (segment.end_s - segment.start_s) / texts.len() as f64;
    segment.words = texts
        .iter()
        .enumerate()
        .map(|(k, w)| Word {
            start_s: segment.start_s + step * k as f64,
            end_s: segment.start_s + step * (k + 1) as f64,
            text: w.to_string(),
            probability: 1.0,
        })
        .collect();
    true
}

/// Where the span's value may be in the audio (before its words are replaced): from the end of the channel's word
/// before it to the start of the word after it (or its segment's edge). Not only its own words' times: the model
/// leaves some of a value unwritten — a card's repeated digits read as a loop and cut, a number it stopped short
/// of — and what is unwritten beside a value is, in doubt, more of it.
/// A neighbour longer than `longest` seconds took in some of the value (the alignment ran "is" 0.5 s into the "four"
/// after it): only its first (or last) `longest` seconds are its own.
fn said(t: &Transcription, tokens: &[Token], span: &Span, channel: u16, longest: f64) -> Said {
    let word = |x: &Token| &t.segments[x.at.0].words[x.at.1];
    let words = tokens[span.from..=span.to].iter().map(word);
    let (first, last) = words.fold((f64::MAX, f64::MIN), |(a, b), w| (a.min(w.start_s), b.max(w.end_s)));
    let before = match span.from.checked_sub(1).map(|k| word(&tokens[k])) {
        Some(w) => w.end_s.min(w.start_s + longest),
        None => t.segments[tokens[span.from].at.0].start_s,
    };
    let after = match tokens.get(span.to + 1).map(word) {
        Some(w) => w.start_s.max(w.end_s - longest),
        None => t.segments[tokens[span.to].at.0].end_s,
    };
    let (start_s, end_s) = (before.min(first), after.max(last));
    Said { pii: span.pii, channel, start_s, end_s: end_s.max(start_s) }
}

/// The span's words replaced: the first by the tag (spanning the span's words of its segment, keeping the
/// punctuation around the value), the rest emptied (dropped by [`redact`]) — a value said over two segments is one
/// tag, in the segment it began in.
fn replace(t: &mut Transcription, tokens: &[Token], span: &Span) {
    let is_closing =
        |c: &char| matches!(c, '.' | ',' | '?' | '!' | ';' | ':' | '。' | '，' | '？' | '！' | '、' | '；' | '：');
    let closing: String = tokens[span.to].text.chars().rev().take_while(is_closing).collect();
    let closing: String = closing.chars().rev().collect();
    let opening: String = tokens[span.from].text.chars().take_while(|c| matches!(c, '"' | '(' | '\'')).collect();
    let (first_segment, first_word) = tokens[span.from].at;
    let end = tokens[span.from..=span.to]
        .iter()
        .filter(|x| x.at.0 == first_segment)
        .map(|x| t.segments[x.at.0].words[x.at.1].end_s)
        .fold(f64::MIN, f64::max);
    for token in &tokens[span.from + 1..=span.to] {
        t.segments[token.at.0].words[token.at.1].text.clear();
    }
    let word = &mut t.segments[first_segment].words[first_word];
    word.text = format!("{opening}{}{closing}", span.pii.tag());
    word.end_s = end.max(word.start_s);
    word.probability = 1.0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, channel: u16) -> TimedText {
        let words: Vec<Word> = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                start_s: i as f64 * 0.4,
                end_s: i as f64 * 0.4 + 0.3,
                text: w.into(),
                probability: 0.9,
            })
            .collect();
        TimedText {
            start_s: 0.0,
            end_s: words.last().map_or(0.0, |w| w.end_s),
            text: text.into(),
            avg_logprob: None,
            no_speech_prob: None,
            channel,
            words,
        }
    }

    fn heard(segments: Vec<TimedText>) -> Transcription {
        Transcription {
            text: segments.iter().map(|s| s.text.clone()).collect::<Vec<_>>().join(" "),
            language: Some("en".into()),
            language_probability: None,
            segments,
            avg_logprob: None,
            no_speech_prob: None,
            compression_ratio: None,
            quality_flag: crate::ports::QualityFlag::Ok,
            audio_seconds: 10.0,
            decode_seconds: 1.0,
            fallback_seconds: 0.0,
            channels_apart: false,
            pii_redacted: None,
        }
    }

    fn redacted(text: &str) -> (String, String) {
        let mut t = heard(vec![words(text, 0)]);
        let found = redact(&mut t);
        (t.text, found.to_json())
    }

    #[test]
    fn card_numbers_in_digits_words_and_misheard_are_caught() {
        let cases = [
            "my card number is 4111 1111 1111 1111.",
            "my card number is 4111-1111-1111-1111.",
            "my card number is four one one one one one one one one one one one one one one one.",
            "the number on the card is 4001 10011 1001 1001 thanks",
            "it is 4111 1111 1111 1111 okay",
        ];
        for case in cases {
            let (text, found) = redacted(case);
            assert!(
                text.contains("[CREDIT_DEBIT_NUMBER]") && !text.contains("1111") && !text.contains("one one"),
                "{case} → {text}"
            );
            assert_eq!(found, r#"{"CREDIT_DEBIT_NUMBER":1}"#, "{case}");
        }
        assert_eq!(redacted("my card number is 4111 1111 1111 1111.").0, "my card number is [CREDIT_DEBIT_NUMBER].");
    }

    #[test]
    fn each_type_by_its_cue_and_shape() {
        let cases = [
            ("the cvv is 123", "the cvv is [CREDIT_DEBIT_CVV]"),
            ("it expires 12/27 okay", "it expires [CREDIT_DEBIT_EXPIRY] okay"),
            ("it expires December twenty seven.", "it expires [CREDIT_DEBIT_EXPIRY]."),
            ("my social security number is 123-45-6789", "my social security number is [SSN]"),
            ("it is 123-45-6789 yes", "it is [SSN] yes"),
            ("my account number is 12345678", "my account number is [BANK_ACCOUNT_NUMBER]"),
            ("the routing number is 021000021 and", "the routing number is [BANK_ROUTING] and"),
            ("the iban is GB82 WEST 1234 5698 7654 32 thanks", "the iban is [BANK_ACCOUNT_NUMBER] thanks"),
            ("send it to DE89370400440532013000", "send it to [BANK_ACCOUNT_NUMBER]"),
            ("my pin is four four three two", "my pin is [PIN]"),
            ("call me on five five five, one two three four.", "call me on [PHONE]."),
            ("my number is 555 0199", "my number is [PHONE]"),
            ("email jane.doe@example.com today", "email [EMAIL] today"),
            ("it is jane dot doe at example dot com", "it is [EMAIL]"),
            ("it's jain.gov. At example.com", "it's [EMAIL]"),
            ("My email is jain.do.example.com. Goodbye.", "My email is [EMAIL]. Goodbye."),
            ("My email is jain .co .com. Goodbye.", "My email is [EMAIL]. Goodbye."),
            ("write to jane .doe @example .com today", "write to [EMAIL] today"),
            // As tiny.en wrote a card number read out by espeak-ng: 25 digits.
            ("My card number is 4111 11111111 111111 1111111, you", "My card number is [CREDIT_DEBIT_NUMBER], you"),
            ("You can reach me on 5 5 5 0 1 9. Goodbye.", "You can reach me on [PHONE]. Goodbye."),
            ("My card number is for 111Good bye!", "My card number is [CREDIT_DEBIT_NUMBER] bye!"),
            // As tiny.en wrote the calls of benches/redact.
            ("Hello, the CV is 431. Thank you.", "Hello, the CV is [CREDIT_DEBIT_CVV]. Thank you."),
            ("the next fire is zero free slash 27. Thank", "the next fire is [CREDIT_DEBIT_EXPIRY]. Thank"),
            ("my count number is 1, 2, 3, 4, 5, 6, 7, 8. Thank", "my count number is [BANK_ACCOUNT_NUMBER]. Thank"),
            ("my email is jane dot go at emple .com. Thank you.", "my email is [EMAIL]. Thank you."),
            ("my email is family at mail .org. Thank you.", "my email is [EMAIL]. Thank you."),
            ("my email address is Sam Anders Corley at mail .org. Thank", "my email address is [EMAIL]. Thank"),
            ("My card number is 4,111. Goodbye.", "My card number is [CREDIT_DEBIT_NUMBER]. Goodbye."),
            // Scale words: a phone number's last four said as a thousand, a number said in its hundreds.
            ("call me on five five five two thousand.", "call me on [PHONE]."),
            ("my phone is eight hundred five five five one thousand and twelve ok", "my phone is [PHONE] ok"),
            (
                "my account number is twelve million three hundred thousand",
                "my account number is [BANK_ACCOUNT_NUMBER]",
            ),
        ];
        for (said, want) in cases {
            assert_eq!(redacted(said).0, want, "{said}");
        }
    }

    #[test]
    fn ordinary_speech_keeps_its_numbers_and_its_at() {
        for said in [
            "Item 10 is the budget report for March, and it is ready.",
            "We met at the office at 9 and left at 5.",
            "The invoice shows 250 dollars for 2026.",
            "Look at it. Oh, I see.",
            "Thanks for 3 days and for the 4th time, for 10 minutes.",
            "Visit www.example.com for more.",
            "We sat at home. Half of 3/4 is 3/8 and it was free 2 days.",
            "The house sold for $1,200,000 in 2019, and the card balance is 1,250,000 dollars.",
            "It cost two million four hundred thousand dollars, up 12,500,000 percent.",
        ] {
            assert_eq!(redacted(said), (said.to_string(), "{}".to_string()), "{said}");
        }
    }

    #[test]
    fn a_value_across_segments_and_one_cut_at_a_tag_are_caught_whole() {
        // Said over two segments: one value, the tag in the first, the rest of it gone from the second.
        let mut second = words("1111 1111 thanks", 0);
        second.shift(10.0, None);
        let mut t = heard(vec![words("my card number is 4111 1111", 0), second]);
        let found = redact(&mut t);
        assert_eq!(t.text, "my card number is [CREDIT_DEBIT_NUMBER] thanks");
        assert_eq!(found.total(), 1);
        // Said from the end of "is" to the start of "thanks", over both segments: what the audio copy silences.
        let said = found.said[0];
        assert!((said.start_s - 1.5).abs() < 1e-9 && (said.end_s - 10.8).abs() < 1e-9, "{said:?}");
        // A part's redacted end, and the digits the next part began with.
        let mut t = heard(vec![words("card [CREDIT_DEBIT_NUMBER]", 0), words("1111 1111 bye", 0)]);
        redact(&mut t);
        assert_eq!(t.text, "card [CREDIT_DEBIT_NUMBER] [CREDIT_DEBIT_NUMBER] bye");
        // Idempotent.
        let before = t.clone();
        redact(&mut t);
        assert_eq!(t, before);
    }

    #[test]
    fn the_word_keeps_the_span_s_times_and_each_channel_is_its_own() {
        let mut t = heard(vec![words("card 4111 1111 1111 1111 ok", 0), words("my card is fine", 1)]);
        redact(&mut t);
        let tag = &t.segments[0].words[1];
        assert_eq!(tag.text, "[CREDIT_DEBIT_NUMBER]");
        assert!((tag.start_s - 0.4).abs() < 1e-9 && (tag.end_s - 1.9).abs() < 1e-9, "{tag:?}");
        assert_eq!(t.segments[1].text, "my card is fine");
        let said = &t.pii_redacted.as_ref().unwrap().said;
        assert_eq!(said.len(), 1);
        assert_eq!((said[0].pii, said[0].channel), (Pii::CreditDebitNumber, 0));
        // From the end of "card" to the start of "ok".
        assert!((said[0].start_s - 0.3).abs() < 1e-9 && (said[0].end_s - 2.0).abs() < 1e-9, "{said:?}");
        // A neighbour that runs long (the alignment ran it into the value) keeps only a plausible length.
        let mut t = heard(vec![words("card 4111 1111 1111 1111 ok", 0)]);
        t.segments[0].words[0].end_s = 1.0;
        t.segments[0].words[1].start_s = 1.0;
        redact(&mut t);
        let said = &t.pii_redacted.as_ref().unwrap().said;
        assert!((said[0].start_s - 0.6).abs() < 1e-9, "{said:?}");
        // A value that ends its channel's words reaches its segment's end.
        let mut t = heard(vec![words("call me on 555 0199", 0)]);
        t.segments[0].end_s = 4.0;
        redact(&mut t);
        let said = &t.pii_redacted.as_ref().unwrap().said;
        assert!((said[0].start_s - 1.1).abs() < 1e-9 && (said[0].end_s - 4.0).abs() < 1e-9, "{said:?}");
    }

    #[test]
    fn a_recording_can_ask_for_more_redaction_never_less() {
        let deployment: RedactOptions = "pii".parse().unwrap();
        let meta = |v: &str| crate::ports::Metadata::from([(REDACT_METADATA.to_string(), v.to_string())]);
        assert_eq!(deployment.with_metadata(&meta("off")), deployment);
        let none = RedactOptions::default();
        let text = RedactOptions { pii: true, audio: false };
        let both = RedactOptions { pii: true, audio: true };
        assert_eq!(none.with_metadata(&meta("pii,audio")), both);
        assert_eq!(deployment.with_metadata(&meta(" PII , Audio ")), both);
        assert_eq!(both.with_metadata(&meta("pii")), both);
        assert_eq!(none.with_metadata(&meta("PII")), text);
        assert!(none.with_metadata(&meta("gibberish")).pii, "in doubt, redact");
        // The audio alone is no request the rules can answer: the text it would be silenced by is not redacted.
        assert!("audio".parse::<RedactOptions>().unwrap_err().contains("pii,audio"));
        assert_eq!(none.with_metadata(&meta("audio")), text);
        assert_eq!(none.with_metadata(&crate::ports::Metadata::new()), none);
        assert!("pii,foo".parse::<RedactOptions>().is_err());
        assert_eq!("".parse::<RedactOptions>().unwrap(), none);
    }

    #[test]
    fn counts_add_up_and_read_as_the_column_holds_them() {
        let mut t = heard(vec![words("card 4111 1111 1111 1111 and call me on 555 0199 or 555 0100", 0)]);
        redact(&mut t);
        let found = t.pii_redacted.clone().unwrap();
        assert_eq!(found.to_json(), r#"{"CREDIT_DEBIT_NUMBER":1,"PHONE":2}"#);
        assert_eq!(Redacted::sum([Some(&found), None, Some(&found)].into_iter()).unwrap().total(), 6);
        assert_eq!(Redacted::sum([None, None].into_iter()), None);
    }

    #[test]
    fn a_segment_without_words_is_redacted_and_gets_none_invented() {
        let mut segment = words("my card number is 4111 1111 1111 1111 thanks", 0);
        segment.words.clear();
        let mut t = heard(vec![segment, words("and you", 0)]);
        redact(&mut t);
        assert_eq!(t.segments[0].text, "my card number is [CREDIT_DEBIT_NUMBER] thanks");
        assert!(t.segments[0].words.is_empty(), "{:?}", t.segments[0].words);
        assert_eq!(t.segments[1].words.len(), 2);
    }

    #[test]
    fn a_language_written_without_spaces_keeps_its_text_around_a_tag() {
        // Chinese, as the alignment splits it: a word a character, the digits one word.
        let text = "我的电话是5550199。谢谢";
        let chars: Vec<String> = ["我", "的", "电", "话", "是", "5550199。", "谢", "谢"].map(String::from).to_vec();
        let mut segment = words(&chars.join(" "), 0);
        segment.text = text.into();
        let mut t = heard(vec![segment]);
        redact(&mut t);
        assert_eq!(t.text, "我的电话是[PHONE]。谢谢");
        // A text that does not hold its words as written is written again from them.
        assert_eq!(rewrite("a b", &["c".to_string()], &["d"]), None);
    }

    #[test]
    fn scale_words_fill_their_zeros() {
        let digits = |said: &str| digits_of(&said.split(' ').map(|w| piece(w).unwrap()).collect::<Vec<_>>());
        assert_eq!(digits("five five five two thousand"), "5552000");
        assert_eq!(digits("two thousand and twelve"), "2012");
        assert_eq!(digits("twelve million three hundred thousand"), "12300000");
        assert_eq!(digits("one hundred thousand"), "100000");
        assert_eq!(digits("four thousand one hundred eleven"), "4111");
        assert_eq!(digits("one billion two hundred million"), "1200000000");
    }

    #[test]
    fn checks_hold_for_known_values() {
        assert!(luhn("4111111111111111") && !luhn("4111111111111112"));
        assert!(iban_valid("GB82WEST12345698765432") && !iban_valid("GB82WEST12345698765433"));
        assert_eq!(digits_of(&[Piece::Tens(4), Piece::Unit(1), Piece::Teen(11)]), "4111");
        assert_eq!(digits_of(&[Piece::Unit(4), Piece::Hundred, Piece::Teen(11)]), "411");
        assert_eq!(digits_of(&[Piece::Repeat(2), Piece::Unit(4), Piece::Oh, Piece::Unit(7)]), "4407");
    }
}
