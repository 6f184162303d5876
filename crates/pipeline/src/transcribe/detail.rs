//! A recording's detail files, written beside its result file and loaded with it: its transcript's segments
//! (`transcription_segments`) and words (`transcription_words`), and its attributes (`transcription_attributes`),
//! one Parquet file each per recording version; and its subtitles (SubRip and WebVTT), for players rather than the warehouse.

use chrono::{DateTime, Utc};
use redscribe_core::attributes::Attributes;
use redscribe_core::encode::to_parquet;
use redscribe_core::layout::Layout;
use redscribe_core::ports::{ObjectStore, PortError, Transcription};
use redscribe_core::record::{
    attributes_batch, segments_batch, words_batch, AttributeRow, ResultRow, SegmentRow, WordRow,
};
use redscribe_core::schema::Detail;
use redscribe_core::subtitles::{cues, render, SubtitleFormat};
use redscribe_core::talk::ChannelRoles;
use redscribe_core::ErrorCode;

/// A Parquet file of a transcript's detail, loaded with its result file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailFile {
    pub detail: Detail,
    pub key: String,
    pub size: u64,
    pub rows: i64,
    /// How many of the table's columns it holds: all, unless it was written under an earlier schema.
    pub columns: usize,
}

/// The rows of `transcription_segments` of a transcript, in its order, each with its channel's role.
pub fn segment_rows(
    row: &ResultRow,
    t: &Transcription,
    processed_at: DateTime<Utc>,
    roles: &ChannelRoles,
) -> Vec<SegmentRow> {
    t.segments
        .iter()
        .enumerate()
        .map(|(i, s)| SegmentRow {
            id: row.id.clone(),
            object_version: row.object_version.clone(),
            segment_index: i as i32,
            start_s: s.start_s,
            end_s: s.end_s,
            text: s.text.clone(),
            avg_logprob: s.avg_logprob,
            no_speech_prob: s.no_speech_prob,
            processed_at,
            channel: i32::from(s.channel),
            speaker: t.channels_apart.then(|| roles.role(s.channel)).flatten().map(str::to_string),
        })
        .collect()
}

/// The rows of `transcription_words` of a transcript: each segment's words, numbered within it.
pub fn word_rows(row: &ResultRow, t: &Transcription, processed_at: DateTime<Utc>) -> Vec<WordRow> {
    t.segments
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.words.iter().enumerate().map(move |(j, w)| WordRow {
                id: row.id.clone(),
                object_version: row.object_version.clone(),
                channel: i32::from(s.channel),
                segment_index: i as i32,
                word_index: j as i32,
                start_s: w.start_s,
                end_s: w.end_s,
                word: w.text.clone(),
                probability: Some(w.probability),
                processed_at,
            })
        })
        .collect()
}

/// The rows of `transcription_attributes` of a recording: one per source and name (the first, should two names
/// be the same once cut to the column).
pub fn attribute_rows(row: &ResultRow, attributes: &Attributes, processed_at: DateTime<Utc>) -> Vec<AttributeRow> {
    let mut seen = std::collections::HashSet::new();
    attributes
        .list
        .iter()
        .filter(|a| seen.insert((a.source, a.name.clone())))
        .map(|a| AttributeRow {
            id: row.id.clone(),
            object_version: row.object_version.clone(),
            name: a.name.clone(),
            value: a.value.clone(),
            source: a.source.as_str().to_string(),
            processed_at,
        })
        .collect()
}

/// Where a transcript's files go: the recording's row (its id), the version token its files are named by, the
/// processing time (their day, and the rows' `processed_at`), the bucket and the layout.
pub struct Outputs<'a, S: ?Sized> {
    pub store: &'a S,
    pub layout: &'a Layout,
    pub bucket: &'a str,
    pub row: &'a ResultRow,
    pub version: &'a str,
    pub processed_at: DateTime<Utc>,
    /// The role of each channel, for the segments' speaker.
    pub roles: &'a ChannelRoles,
}

impl<S: ObjectStore + ?Sized> Outputs<'_, S> {
    /// Writes the detail files of a recording — its transcript's segments and words (`said`, when something was),
    /// its attributes — and returns them (a table with no rows gets no file).
    pub async fn write_details(
        &self,
        said: Option<&Transcription>,
        attributes: &Attributes,
    ) -> Result<Vec<DetailFile>, PortError> {
        let internal = |what: String| PortError::new(ErrorCode::Internal, what);
        let mut written = Vec::new();
        for detail in Detail::ALL {
            let (batch, rows) = match (detail, said) {
                (Detail::Segments, Some(t)) => {
                    let rows = segment_rows(self.row, t, self.processed_at, self.roles);
                    (segments_batch(&rows), rows.len())
                }
                (Detail::Words, Some(t)) => {
                    let rows = word_rows(self.row, t, self.processed_at);
                    (words_batch(&rows), rows.len())
                }
                (Detail::Segments | Detail::Words, None) => continue,
                (Detail::Attributes, _) => {
                    let rows = attribute_rows(self.row, attributes, self.processed_at);
                    (attributes_batch(&rows), rows.len())
                }
            };
            if rows == 0 {
                continue;
            }
            let batch = batch.map_err(|e| internal(format!("building the {}: {e}", detail.table())))?;
            let body = to_parquet(&[batch]).map_err(|e| internal(format!("{} Parquet: {e}", detail.table())))?;
            let key = self.layout.detail_key(detail, self.processed_at.date_naive(), &self.row.id, self.version);
            let columns = detail.schema().fields().len();
            let file = DetailFile { detail, key, size: body.len() as u64, rows: rows as i64, columns };
            self.store.put(self.bucket, &file.key, body, "application/vnd.apache.parquet").await?;
            written.push(file);
        }
        Ok(written)
    }

    /// Writes the transcript's subtitles, one file per format (none when nothing was said).
    pub async fn write_subtitles(&self, t: &Transcription) -> Result<(), PortError> {
        let cues = cues(&t.segments);
        if cues.is_empty() {
            return Ok(());
        }
        for format in SubtitleFormat::ALL {
            let key = self.layout.subtitles_key(self.processed_at.date_naive(), &self.row.id, self.version, format);
            self.store.put(self.bucket, &key, render(&cues, format).into_bytes(), format.content_type()).await?;
        }
        Ok(())
    }
}
