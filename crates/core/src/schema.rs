//! The one Arrow schema of each warehouse table.
//!
//! Parquet `COPY` maps columns **by position** and requires the same column count, so the order of the fields
//! here is a contract with `sql/migrations/`. The contract test in `tests/ddl_contract.rs` parses the DDL and
//! fails if names, order, types or nullability drift apart.

use std::sync::{Arc, LazyLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Name of the results table.
pub const RESULTS_TABLE: &str = "transcription_results";
/// Name of the segments table.
pub const SEGMENTS_TABLE: &str = "transcription_segments";
/// Name of the words table.
pub const WORDS_TABLE: &str = "transcription_words";
/// Name of the attributes table.
pub const ATTRIBUTES_TABLE: &str = "transcription_attributes";
/// Name of the load audit table.
pub const LOAD_AUDIT_TABLE: &str = "load_audit";

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// Time zone of every `TIMESTAMPTZ` column: an offset (not a zone name), so no time zone database is needed.
pub const UTC: &str = "+00:00";

/// `TIMESTAMPTZ`: microseconds, UTC.
fn tstz(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())), nullable)
}

/// `TIMESTAMP` (no zone; values are UTC): the original schema's `timestamp` column.
fn ts(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, None), nullable)
}

static RESULTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        // The original three columns, first and in their original order.
        utf8("id", false),
        utf8("text", true),
        ts("timestamp", false),
        // Location.
        utf8("bucket", false),
        utf8("object_key", false),
        utf8("object_version", true),
        utf8("etag", true),
        utf8("sequencer", true),
        Field::new("size_bytes", DataType::Int64, true),
        utf8("content_type", true),
        // Audio metadata.
        utf8("container", true),
        utf8("codec", true),
        Field::new("duration_s", DataType::Float64, true),
        Field::new("sample_rate", DataType::Int32, true),
        Field::new("channels", DataType::Int32, true),
        Field::new("bit_rate", DataType::Int64, true),
        // Transcription.
        utf8("model", true),
        utf8("language", true),
        Field::new("word_count", DataType::Int32, true),
        Field::new("avg_logprob", DataType::Float64, true),
        Field::new("no_speech_prob", DataType::Float64, true),
        Field::new("text_truncated", DataType::Boolean, false),
        // Status.
        utf8("status", false),
        utf8("error_code", true),
        utf8("error_message", true),
        // Times and provenance.
        tstz("uploaded_at", true),
        tstz("processed_at", false),
        tstz("loaded_at", true),
        Field::new("processing_ms", DataType::Int64, true),
        utf8("pipeline_version", false),
        // Schema version 3 (sql/migrations/0003): appended, as ALTER TABLE ADD COLUMN does.
        Field::new("compression_ratio", DataType::Float64, true),
        utf8("quality_flag", true),
        // Schema version 4 (sql/migrations/0004).
        Field::new("language_probability", DataType::Float64, true),
        // Schema version 5 (sql/migrations/0005).
        Field::new("cost_usd", DataType::Float64, true),
        // Schema version 8 (sql/migrations/0008).
        utf8("pii_redacted", true),
        // Schema version 9 (sql/migrations/0009): attributes and talk time.
        tstz("recorded_at", true),
        utf8("call_id", true),
        utf8("agent_id", true),
        Field::new("agent_talk_s", DataType::Float64, true),
        Field::new("customer_talk_s", DataType::Float64, true),
        Field::new("non_talk_s", DataType::Float64, true),
        Field::new("generation", DataType::Int64, true),
    ]))
});

static SEGMENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8("id", false),
        utf8("object_version", true),
        Field::new("segment_index", DataType::Int32, false),
        Field::new("start_s", DataType::Float64, false),
        Field::new("end_s", DataType::Float64, false),
        utf8("text", false),
        Field::new("avg_logprob", DataType::Float64, true),
        Field::new("no_speech_prob", DataType::Float64, true),
        tstz("processed_at", false),
        // Schema version 3.
        Field::new("channel", DataType::Int32, true),
        // Schema version 9.
        utf8("speaker", true),
    ]))
});

static ATTRIBUTES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        // Schema version 9 (sql/migrations/0009).
        utf8("id", false),
        utf8("object_version", true),
        utf8("name", false),
        utf8("value", false),
        utf8("source", false),
        tstz("processed_at", false),
    ]))
});

static WORDS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        // Schema version 7 (sql/migrations/0007).
        utf8("id", false),
        utf8("object_version", true),
        Field::new("channel", DataType::Int32, false),
        Field::new("segment_index", DataType::Int32, false),
        Field::new("word_index", DataType::Int32, false),
        Field::new("start_s", DataType::Float64, false),
        Field::new("end_s", DataType::Float64, false),
        utf8("word", false),
        Field::new("probability", DataType::Float64, true),
        tstz("processed_at", false),
    ]))
});

static LOAD_AUDIT: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8("file_uri", false),
        utf8("manifest_uri", true),
        utf8("table_name", false),
        utf8("statement_id", true),
        Field::new("rows_loaded", DataType::Int64, true),
        utf8("status", false),
        utf8("error_message", true),
        tstz("loaded_at", false),
        // Version 6: the ETag of the bytes loaded.
        utf8("file_etag", true),
    ]))
});

/// The tables of a transcript's detail: each loaded from a file of its own beside the result file, in the same
/// transaction, and replaced whenever its recording's row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Detail {
    Segments,
    Words,
    /// What the recording is about: its key's named groups, its metadata, its tags (`crate::attributes`).
    Attributes,
}

impl Detail {
    /// Every detail table, in load order.
    pub const ALL: [Detail; 3] = [Detail::Segments, Detail::Words, Detail::Attributes];

    /// The table's name.
    pub const fn table(self) -> &'static str {
        match self {
            Detail::Segments => SEGMENTS_TABLE,
            Detail::Words => WORDS_TABLE,
            Detail::Attributes => ATTRIBUTES_TABLE,
        }
    }

    /// The table's schema.
    pub fn schema(self) -> SchemaRef {
        match self {
            Detail::Segments => segments_schema(),
            Detail::Words => words_schema(),
            Detail::Attributes => attributes_schema(),
        }
    }
}

/// Schema of `transcription_results`.
pub fn results_schema() -> SchemaRef {
    RESULTS.clone()
}

/// Schema of `transcription_segments`.
pub fn segments_schema() -> SchemaRef {
    SEGMENTS.clone()
}

/// Schema of `transcription_words`.
pub fn words_schema() -> SchemaRef {
    WORDS.clone()
}

/// Schema of `transcription_attributes`.
pub fn attributes_schema() -> SchemaRef {
    ATTRIBUTES.clone()
}

/// Schema of `load_audit`.
pub fn load_audit_schema() -> SchemaRef {
    LOAD_AUDIT.clone()
}

/// How many of `table`'s columns a file holds, when it holds the first ones in order with the same types: a file
/// written under an earlier schema (migrations only ever append columns, and every column appended is nullable),
/// or under this one. Any other shape — a column renamed, moved, retyped, or one the table does not have — is
/// refused with the first difference.
pub fn leading_columns(table: &Schema, file: &Schema) -> Result<usize, String> {
    let (want, got) = (table.fields(), file.fields());
    if got.len() > want.len() {
        return Err(format!("{} columns, more than the table's {}", got.len(), want.len()));
    }
    for (i, (w, g)) in want.iter().zip(got.iter()).enumerate() {
        if w.name() != g.name() || w.data_type() != g.data_type() {
            return Err(format!(
                "column {} is {} {}, where the table has {} {}",
                i + 1,
                g.name(),
                g.data_type(),
                w.name(),
                w.data_type()
            ));
        }
    }
    if got.is_empty() {
        return Err("no columns".into());
    }
    Ok(got.len())
}

/// How many of `table`'s columns a file's batches hold ([`leading_columns`]); a file with no batch holds them all.
pub fn file_columns(table: &Schema, batches: &[arrow_array::RecordBatch]) -> Result<usize, String> {
    match batches.first() {
        None => Ok(table.fields().len()),
        Some(batch) => {
            leading_columns(table, &batch.schema()).map_err(|why| format!("not a schema of the table: {why}"))
        }
    }
}

/// Every table with its schema, in migration order.
pub fn tables() -> [(&'static str, SchemaRef); 5] {
    [
        (RESULTS_TABLE, results_schema()),
        (SEGMENTS_TABLE, segments_schema()),
        (LOAD_AUDIT_TABLE, load_audit_schema()),
        (WORDS_TABLE, words_schema()),
        (ATTRIBUTES_TABLE, attributes_schema()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_schema_is_the_first_columns_in_order() {
        let table = results_schema();
        let first = |n: usize| Schema::new(table.fields()[..n].to_vec());
        assert_eq!(leading_columns(&table, &table), Ok(table.fields().len()));
        assert_eq!(leading_columns(&table, &first(30)), Ok(30));
        assert!(leading_columns(&table, &first(0)).is_err());
        let mut moved: Vec<_> = table.fields()[..3].to_vec();
        moved.swap(1, 2);
        let why = leading_columns(&table, &Schema::new(moved)).unwrap_err();
        assert!(why.starts_with("column 2 is timestamp"), "{why}");
        let mut retyped: Vec<_> = table.fields()[..2].to_vec();
        retyped[1] = Arc::new(Field::new("text", DataType::LargeUtf8, true));
        assert!(leading_columns(&table, &Schema::new(retyped)).is_err());
        let mut wider: Vec<_> = table.fields().to_vec();
        wider.push(Arc::new(utf8("extra", true)));
        assert!(leading_columns(&table, &Schema::new(wider)).is_err());
    }
}
