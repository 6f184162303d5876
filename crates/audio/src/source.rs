//! Where a recording's bytes come from.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::io::MediaSource;

use crate::AudioError;

/// A recording to read: a local file (streamed) or a buffer already in memory.
pub struct Source {
    inner: Box<dyn MediaSource>,
    size: u64,
}

impl Source {
    /// Opens a local file; it is read in a streaming fashion, never loaded whole.
    pub fn open(path: &Path) -> Result<Source, AudioError> {
        Source::from_file(File::open(path)?)
    }

    /// Reads an open file from its start (e.g. a spooled download; a clone of its handle for each pass).
    pub fn from_file(mut file: File) -> Result<Source, AudioError> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(AudioError::Unreadable(std::io::Error::other("not a regular file")));
        }
        file.seek(SeekFrom::Start(0))?;
        Ok(Source { size: meta.len(), inner: Box::new(file) })
    }

    /// Wraps bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Source {
        Source { size: bytes.len() as u64, inner: Box::new(Cursor::new(bytes)) }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads up to `n` leading bytes and rewinds.
    pub(crate) fn head(&mut self, n: usize) -> Result<Vec<u8>, AudioError> {
        let mut buf = Vec::with_capacity(n);
        (&mut self.inner).take(n as u64).read_to_end(&mut buf)?;
        self.inner.seek(SeekFrom::Start(0))?;
        Ok(buf)
    }

    pub(crate) fn into_media_source(self) -> Box<dyn MediaSource> {
        self.inner
    }
}
