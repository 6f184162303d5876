//! Names the container from the content's leading bytes (never from the file name), and describes content that
//! is not audio so a rejection can say what it is.
//!
//! The name is only a label and a hint: `symphonia` still has to open and decode the stream before a recording
//! counts as audio.

/// Bytes [`container`] needs to look at.
pub const SNIFF_LEN: usize = 64;

/// The container whose signature starts `head`, as stored in `transcription_results.container`.
pub fn container(head: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if (at(0, b"RIFF") || at(0, b"RF64")) && at(8, b"WAVE") {
        Some("wav")
    } else if at(0, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        Some("aiff")
    } else if at(0, b"fLaC") {
        Some("flac")
    } else if at(0, b"OggS") {
        Some("ogg")
    } else if at(4, b"ftyp") {
        Some("mp4")
    } else if at(0, b"caff") {
        Some("caf")
    } else if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("mkv")
    } else if at(0, b"ID3") {
        Some("mp3")
    } else {
        mpeg_sync(head)
    }
}

/// An MPEG audio elementary stream: an 11-bit frame sync at offset 0. Layer bits `00` is an ADTS (AAC) header.
fn mpeg_sync(head: &[u8]) -> Option<&'static str> {
    let (&b0, &b1) = (head.first()?, head.get(1)?);
    if b0 != 0xFF || b1 & 0xE0 != 0xE0 {
        return None;
    }
    let version = (b1 >> 3) & 0b11;
    let layer = (b1 >> 1) & 0b11;
    match (version, layer) {
        (0b01, _) => None, // reserved version
        (0b10 | 0b11, 0b00) if b1 & 0xF0 == 0xF0 => Some("adts"),
        (_, 0b00) => None, // reserved layer
        _ => Some("mp3"),
    }
}

/// The symphonia probe hint for a container name.
pub fn hint_extension(container: &str) -> &'static str {
    match container {
        "wav" => "wav",
        "aiff" => "aiff",
        "flac" => "flac",
        "ogg" => "ogg",
        "mp4" => "m4a",
        "caf" => "caf",
        "mkv" => "mkv",
        "adts" => "aac",
        _ => "mp3",
    }
}

/// A short description of content that is not a recognised audio container.
pub fn describe_non_audio(head: &[u8]) -> &'static str {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"%PDF-") {
        "a PDF document"
    } else if starts(b"\x89PNG") || starts(&[0xFF, 0xD8, 0xFF]) || starts(b"GIF8") {
        "an image"
    } else if starts(b"PK\x03\x04") || starts(&[0x1F, 0x8B]) {
        "an archive"
    } else if starts(b"RIFF") {
        "a RIFF file that is not WAVE"
    } else if looks_like_text(head) {
        "text"
    } else {
        "unrecognised binary data"
    }
}

fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        // The sniff window may end inside a multi-byte character.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
        Err(_) => return false,
    };
    !valid.is_empty() && valid.chars().all(|c| !c.is_control() || c.is_whitespace())
}

/// The MIME type of a container name as [`container`] returns it.
pub fn mime_type(container: &str) -> &'static str {
    match container {
        "wav" => "audio/wav",
        "aiff" => "audio/aiff",
        "flac" => "audio/flac",
        "ogg" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "mp4" => "audio/mp4",
        "adts" => "audio/aac",
        "caf" => "audio/x-caf",
        "mkv" => "audio/webm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_named_from_their_signatures() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"RIFF\x24\x00\x00\x00WAVEfmt ", Some("wav")),
            (b"RIFF\x24\x00\x00\x00AVI LIST", None),
            (b"FORM\x00\x00\x00\x00AIFFCOMM", Some("aiff")),
            (b"FORM\x00\x00\x00\x00AIFCFVER", Some("aiff")),
            (b"fLaC\x00\x00\x00\x22", Some("flac")),
            (b"OggS\x00\x02", Some("ogg")),
            (b"\x00\x00\x00\x20ftypM4A ", Some("mp4")),
            (b"ID3\x04\x00\x00", Some("mp3")),
            (&[0xFF, 0xFB, 0x90, 0x64], Some("mp3")),
            (&[0xFF, 0xF3, 0x64, 0xC4], Some("mp3")),
            (&[0xFF, 0xF1, 0x50, 0x80], Some("adts")),
            (&[0xFF, 0xE9, 0x00, 0x00], None),
            (b"caff\x00\x01", Some("caf")),
            (&[0x1A, 0x45, 0xDF, 0xA3, 0x9F], Some("mkv")),
            (b"%PDF-1.7", None),
            (b"hello world", None),
            (b"", None),
            (&[0xFF], None),
        ];
        for (head, want) in cases {
            assert_eq!(container(head), *want, "{head:?}");
        }
    }

    #[test]
    fn non_audio_is_described() {
        assert_eq!(describe_non_audio(b"%PDF-1.7\n%\xE2\xE3"), "a PDF document");
        assert_eq!(describe_non_audio("meeting notes: café ☕\n".as_bytes()), "text");
        assert_eq!(describe_non_audio(&[0x00, 0x9A, 0x13, 0x01]), "unrecognised binary data");
        assert_eq!(describe_non_audio(b"\x89PNG\r\n"), "an image");
        // A window that ends inside a multi-byte character is still text.
        assert_eq!(describe_non_audio(&"notes ü".as_bytes()[..7]), "text");
    }
}
