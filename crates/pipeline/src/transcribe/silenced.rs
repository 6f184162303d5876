//! The silenced copy of a recording (`--redact pii,audio`): the recording decoded again, every value the text
//! redaction took out silenced at the times its words were said, written as WAV under
//! `processed/redacted-audio/` beside the row's other files.

use std::time::Instant;

use redscribe_audio::silence::{write_silenced, Stretch};
use redscribe_audio::Source;
use redscribe_core::events::ObjectEvent;
use redscribe_core::identity::recording_id;
use redscribe_core::ports::{ObjectStore, PortError, Transcription};
use redscribe_core::redact::{Redacted, SILENCE_MARGIN_S};
use redscribe_core::ErrorCode;

use super::TranscribeStage;

/// Where the recording's bytes for its silenced copy come from.
pub(crate) enum SilencedCopy {
    /// The spooled file this try heard.
    Spooled(std::fs::File),
    /// Read again (a recording heard in parts is joined by whichever part's try finishes last, which may not
    /// have read the recording at all).
    ReadAgain,
}

/// The stretches to silence: where each value may be in the audio ([`redscribe_core::redact::Said`]: from the word
/// before it to the word after it), widened by [`SILENCE_MARGIN_S`] on each side.
pub fn silence_stretches(redacted: Option<&Redacted>) -> Vec<Stretch> {
    let said = redacted.iter().flat_map(|r| &r.said);
    said.map(|s| Stretch { start_s: s.start_s - SILENCE_MARGIN_S, end_s: s.end_s + SILENCE_MARGIN_S }).collect()
}

impl<S: ObjectStore> TranscribeStage<S> {
    /// Writes the silenced copy of `recording` (`event`, naming the bytes the row answers) to `bucket`/`key`.
    pub(super) async fn write_silenced_copy(
        &self,
        event: &ObjectEvent,
        copy: SilencedCopy,
        t: &Transcription,
        bucket: &str,
        key: &str,
    ) -> Result<(), PortError> {
        let file = match copy {
            SilencedCopy::Spooled(file) => file,
            SilencedCopy::ReadAgain => {
                let id = recording_id(&event.object.bucket, &event.object.key);
                let (head, file) = self.read(event, &id, Instant::now()).await?;
                if head.etag.is_some() && event.object.etag.is_some() && head.etag != event.object.etag {
                    let why = "the recording now holds other bytes than the ones heard: no silenced copy of them";
                    return Err(PortError::new(ErrorCode::ObjectNotFound, why));
                }
                file
            }
        };
        let stretches = silence_stretches(t.pii_redacted.as_ref());
        let dir = self.config.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
        let out = tempfile::Builder::new()
            .prefix("redscribe-silenced-")
            .suffix(".wav")
            .tempfile_in(&dir)
            .map_err(|e| PortError::new(ErrorCode::Internal, format!("a file for the silenced copy: {e}")))?;
        let path = out.path().to_path_buf();
        let written = tokio::task::spawn_blocking(move || write_silenced(Source::from_file(file)?, &stretches, &path))
            .await
            .map_err(|e| PortError::new(ErrorCode::Crashed, super::crash_message(e)))?
            .map_err(|e| PortError::new(e.code(), format!("the silenced copy: {e}")))?;
        self.store.put_file(bucket, key, out.path(), "audio/wav").await?;
        tracing::info!(
            key,
            values = t.pii_redacted.as_ref().map_or(0, |r| r.said.len()),
            silenced_s = written.silenced_frames as f64 / f64::from(written.sample_rate),
            "silenced copy written"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redscribe_core::redact::{Pii, Said};

    #[test]
    fn each_value_is_silenced_with_a_margin_and_nothing_else() {
        assert!(silence_stretches(None).is_empty());
        assert!(silence_stretches(Some(&Redacted::default())).is_empty());
        let redacted = Redacted {
            counts: [(Pii::Ssn, 1)].into(),
            said: vec![Said { pii: Pii::Ssn, channel: 1, start_s: 3.0, end_s: 5.5 }],
        };
        let s = silence_stretches(Some(&redacted));
        assert_eq!(s, [Stretch { start_s: 3.0 - SILENCE_MARGIN_S, end_s: 5.5 + SILENCE_MARGIN_S }]);
    }
}
