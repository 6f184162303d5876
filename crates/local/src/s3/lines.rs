//! Append-only JSON-lines files that survive a crash in the middle of an append: the event journal, its
//! acknowledgements and the versions log.
//!
//! Every record is one line written whole and then synced; a record counts once its newline is on disk. A crash
//! (`kill -9`, power loss) can leave the last record cut anywhere, or a tail of bytes that never became a line.
//! Opening such a file drops that tail — truncating the file where the last good line ends — so the next append
//! starts a line of its own instead of being glued to the torn one (which would lose it, and make the file
//! unreadable at the next open). A line before the last that does not parse is real damage, not a torn append:
//! that stops the open with its line number.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::LocalError;

/// Reads every record of the file at `path` (none when it is missing), drops a torn tail from the file, and
/// returns the records with the file opened for appending.
pub(crate) fn open<T: DeserializeOwned>(path: &Path) -> Result<(Vec<T>, File), LocalError> {
    let io = |e: std::io::Error| LocalError::Io { path: path.into(), source: e };
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(&io)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let (records, good) = parse(path, &bytes)?;
    let file = OpenOptions::new().create(true).append(true).open(path).map_err(&io)?;
    if good < bytes.len() {
        tracing::warn!(
            path = %path.display(),
            dropped_bytes = bytes.len() - good,
            "dropping the torn tail of an append that never completed"
        );
        file.set_len(good as u64).map_err(&io)?;
        file.sync_all().map_err(&io)?;
    }
    Ok((records, file))
}

/// The records of `bytes` and how many leading bytes hold them (where a torn tail, if any, starts).
fn parse<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<(Vec<T>, usize), LocalError> {
    let mut records = Vec::new();
    let mut start = 0;
    let mut line_no = 0;
    while start < bytes.len() {
        line_no += 1;
        let Some(len) = bytes[start..].iter().position(|&b| b == b'\n') else {
            // No newline: an append cut short.
            return Ok((records, start));
        };
        let line = &bytes[start..start + len];
        let end = start + len + 1;
        if !line.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<T>(line) {
                Ok(record) => records.push(record),
                // The last line, whole but unreadable (a block of zeros after a power loss): torn too.
                Err(_) if end == bytes.len() => return Ok((records, start)),
                Err(e) => {
                    return Err(LocalError::Journal { path: path.into(), line: line_no, reason: e.to_string() });
                }
            }
        }
        start = end;
    }
    Ok((records, bytes.len()))
}

/// Appends one record as a line and syncs it: when this returns, the record survives a crash.
pub(crate) fn append<T: Serialize>(file: &mut File, record: &T) -> std::io::Result<()> {
    write(file, record)?;
    file.sync_data()
}

/// A file appended to, that can be cut back to a length: what [`write`] needs to undo an append that failed.
pub(crate) trait Appendable: Write {
    fn len(&self) -> std::io::Result<u64>;
    fn cut_to(&mut self, len: u64) -> std::io::Result<()>;
}

impl Appendable for File {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn cut_to(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)
    }
}

/// Appends one record as a line without syncing (the caller syncs, once for many lines). An append that fails
/// part-way (a full disk, an I/O error) is cut back off before the error is returned: its request is answered
/// with the error, and the next append — answered 200 — starts a line of its own instead of being glued to the
/// torn one and dropped with it at the next open.
pub(crate) fn write<T: Serialize>(file: &mut impl Appendable, record: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let before = file.len()?;
    if let Err(e) = file.write_all(&line) {
        file.cut_to(before)?;
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Rec {
        n: u32,
        text: String,
    }

    fn rec(n: u32) -> Rec {
        Rec { n, text: format!("record \"{n}\" ✓") }
    }

    #[test]
    fn a_cut_anywhere_in_the_last_record_loses_only_it_and_the_next_append_survives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let mut file = open::<Rec>(&path).unwrap().1;
        for n in 0..3 {
            append(&mut file, &rec(n)).unwrap();
        }
        drop(file);
        let whole = std::fs::read(&path).unwrap();
        let last_starts = whole[..whole.len() - 1].iter().rposition(|&b| b == b'\n').unwrap() + 1;
        for cut in last_starts..whole.len() {
            std::fs::write(&path, &whole[..cut]).unwrap();
            let (records, mut file) = open::<Rec>(&path).unwrap();
            assert_eq!(records, [rec(0), rec(1)], "cut at byte {cut}");
            append(&mut file, &rec(9)).unwrap();
            drop(file);
            let (records, _) = open::<Rec>(&path).unwrap();
            assert_eq!(records, [rec(0), rec(1), rec(9)], "append after a cut at byte {cut}");
        }
        // Zeros where the last line should be (size on disk, data not): torn as well.
        let mut zeroed = whole[..last_starts].to_vec();
        zeroed.extend([0u8; 40]);
        zeroed.push(b'\n');
        std::fs::write(&path, &zeroed).unwrap();
        assert_eq!(open::<Rec>(&path).unwrap().0, [rec(0), rec(1)]);
        assert_eq!(std::fs::read(&path).unwrap(), &whole[..last_starts]);
    }

    /// A file whose next write stops half-way with an error, as a full disk does.
    struct Filling {
        file: File,
        fail_next: bool,
    }

    impl Write for Filling {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if std::mem::take(&mut self.fail_next) {
                self.file.write_all(&buf[..buf.len() / 2])?;
                return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device"));
            }
            self.file.write(buf)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            self.file.flush()
        }
    }

    impl Appendable for Filling {
        fn len(&self) -> std::io::Result<u64> {
            self.file.len()
        }

        fn cut_to(&mut self, len: u64) -> std::io::Result<()> {
            self.file.cut_to(len)
        }
    }

    #[test]
    fn an_append_that_fails_part_way_is_cut_back_and_the_next_one_survives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let mut file = Filling { file: open::<Rec>(&path).unwrap().1, fail_next: false };
        write(&mut file, &rec(0)).unwrap();
        file.fail_next = true;
        assert!(write(&mut file, &rec(1)).is_err(), "the failed append is reported");
        write(&mut file, &rec(2)).unwrap();
        drop(file);
        let (records, _) = open::<Rec>(&path).unwrap();
        assert_eq!(records, [rec(0), rec(2)], "the append after the failure is kept");
    }

    #[test]
    fn damage_before_the_last_line_is_an_error_with_its_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        std::fs::write(&path, "{\"n\":1,\"text\":\"a\"}\n{\"n\":2,\nxx\n{\"n\":3,\"text\":\"c\"}\n").unwrap();
        match open::<Rec>(&path) {
            Err(LocalError::Journal { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a journal error, got {other:?}"),
        }
        // Untouched: damage is for a person to look at, not to be cut away.
        assert!(std::fs::read_to_string(&path).unwrap().contains("xx"));
    }
}
