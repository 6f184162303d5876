//! Where the transcribe stage keeps a recording while it hears it: a temporary file, written as the object
//! arrives and never held in memory, bounded by the size limit, gone when dropped (also after a crash: it has
//! no name). Lambda's `/tmp` is this folder in a function (its ephemeral storage is set up to 10 GB).

use std::path::Path;

use async_trait::async_trait;
use redscribe_core::ports::{ByteSink, PortError};
use redscribe_core::ErrorCode;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// A recording on its way to disk.
pub struct Spool {
    file: tokio::fs::File,
    written: u64,
    limit: u64,
}

fn io_error(what: &str, e: std::io::Error) -> PortError {
    // A full disk is this object's size meeting the folder's: the same every time.
    let code = if e.kind() == std::io::ErrorKind::StorageFull { ErrorCode::TooLarge } else { ErrorCode::Internal };
    PortError::new(code, format!("{what} the spool file: {e}"))
}

impl Spool {
    /// A new, empty spool in `dir` that takes at most `limit` bytes.
    pub fn create(dir: &Path, limit: u64) -> Result<Spool, PortError> {
        let file = tempfile::tempfile_in(dir).map_err(|e| io_error(&format!("creating in {}", dir.display()), e))?;
        Ok(Spool { file: tokio::fs::File::from_std(file), written: 0, limit })
    }

    /// The bytes written, as a file to read from its start.
    pub async fn finish(mut self) -> Result<std::fs::File, PortError> {
        self.file.flush().await.map_err(|e| io_error("writing", e))?;
        self.file.rewind().await.map_err(|e| io_error("rewinding", e))?;
        Ok(self.file.into_std().await)
    }
}

#[async_trait]
impl ByteSink for Spool {
    async fn restart(&mut self) -> Result<(), PortError> {
        self.file.flush().await.map_err(|e| io_error("writing", e))?;
        self.file.set_len(0).await.map_err(|e| io_error("emptying", e))?;
        self.file.rewind().await.map_err(|e| io_error("rewinding", e))?;
        self.written = 0;
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), PortError> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(PortError::new(
                ErrorCode::TooLarge,
                format!("the object is over the size limit of {} bytes", self.limit),
            ));
        }
        self.file.write_all(chunk).await.map_err(|e| io_error("writing", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[tokio::test]
    async fn a_spool_keeps_what_the_last_try_wrote_and_refuses_more_than_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::create(dir.path(), 10).unwrap();
        spool.write(b"first try").await.unwrap();
        spool.restart().await.unwrap();
        spool.write(b"0123").await.unwrap();
        spool.write(b"45678").await.unwrap();
        let mut back = String::new();
        spool.finish().await.unwrap().read_to_string(&mut back).unwrap();
        assert_eq!(back, "012345678");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the file has no name");

        let mut small = Spool::create(dir.path(), 4).unwrap();
        small.write(b"0123").await.unwrap();
        let e = small.write(b"4").await.unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge, "{e}");
    }
}
