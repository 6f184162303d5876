//! Arrow batches to file bytes and back: Parquet (Snappy, the codec every Redshift `COPY` reads) and JSON Lines.
//!
//! Everything works on in-memory buffers; the caller decides where the bytes go.

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::CoreError;

/// Writes batches (all of one schema) as one Parquet file.
pub fn to_parquet(batches: &[RecordBatch]) -> Result<Vec<u8>, CoreError> {
    let Some(first) = batches.first() else {
        return Err(CoreError::SchemaMismatch { table: "parquet", reason: "no batch to write".into() });
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("redscribe {}", crate::PIPELINE_VERSION))
        .build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, first.schema(), Some(props))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(buf)
}

/// Reads every batch of a Parquet file.
pub fn from_parquet(bytes: Vec<u8>) -> Result<Vec<RecordBatch>, CoreError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// Writes batches as JSON Lines: one object per row, keys in column order, nulls omitted (what Redshift
/// `COPY … JSON 'auto'` expects). Timestamps are RFC 3339 strings.
pub fn to_jsonl(batches: &[RecordBatch]) -> Result<Vec<u8>, CoreError> {
    let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    Ok(writer.into_inner())
}
