//! The load side of an erasure (`transcribe/erase.rs` writes it): before the tombstone loads, the objects of every
//! processing of the recording it outranks go — result and JSON Lines files, detail files, subtitles, silenced
//! copy, parts, attempt marker and quarantine records — every version of each
//! ([`ObjectStore::delete_versions`]). The processings are the recording's result files `load_audit` knows
//! (loaded, or quarantined by the load), each read for what its row names: its sequencer (a processing of a later
//! upload of the key is not the erasure's to delete) and its failure (where its quarantine record is). Every step
//! can be taken again: an erasure whose deletions fail transiently goes back to be retried, and its tombstone loads
//! only once they are done, its `load_audit` row saying `erased` and how many object versions went.
//!
//! A result file the loader never settled (one still on its way when the recording was deleted) is superseded when
//! it arrives — its recording is gone — and its objects go then ([`Loader::delete_unloaded`]).

use std::collections::BTreeMap;

use redscribe_core::identity::Sequencer;
use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::record::ResultRow;
use redscribe_core::sql::literal;
use redscribe_core::ErrorCode;

use crate::load::Loader;
use crate::transcribe::ResultFile;

/// Recordings whose known files one `load_audit` query asks for (the statement stays far below 100 KB).
const IDS_PER_QUERY: usize = 100;

/// The result files `load_audit` knows, by (recording id, bucket, key), each with the load-rejections recorded for
/// it (each a quarantine record: its day and batch).
type KnownFiles = BTreeMap<(String, String, String), Vec<(chrono::NaiveDate, String)>>;

impl<S: ObjectStore, W: Warehouse> Loader<S, W> {
    /// Deletes what each erasure outranks. The erasures, each with how many object versions went
    /// ([`ResultFile::erased`]), and those whose deletions failed, with the error (tried again later).
    pub(crate) async fn delete_erased(
        &self,
        erasures: Vec<ResultFile>,
        deadline: Option<std::time::Instant>,
    ) -> (Vec<ResultFile>, Vec<(ResultFile, PortError)>) {
        let ids: Vec<&str> = erasures.iter().map(|f| f.id.as_str()).collect();
        let known = match self.known_files(&ids, deadline).await {
            Ok(known) => known,
            Err(e) => return (Vec::new(), erasures.into_iter().map(|f| (f, e.clone())).collect()),
        };
        let (mut done, mut failed) = (Vec::new(), Vec::new());
        for mut erasure in erasures {
            match self.delete_outranked(&erasure, &known).await {
                Ok(deleted) => {
                    tracing::info!(id = %erasure.id, deleted, "the erased recording's objects deleted");
                    erasure.erased = Some(deleted);
                    done.push(erasure);
                }
                Err(e) => failed.push((erasure, e)),
            }
        }
        (done, failed)
    }

    /// Deletes the objects of every processing of `erasure`'s recording in `known` that it outranks (its own file
    /// aside); how many object versions went.
    async fn delete_outranked(&self, erasure: &ResultFile, known: &KnownFiles) -> Result<usize, PortError> {
        let mut deleted = 0;
        for ((id, bucket, key), rejections) in known {
            if *id == erasure.id && *key != erasure.key {
                deleted += self.delete_if_outranked(erasure, bucket, key, rejections).await?;
            }
        }
        Ok(deleted)
    }

    /// Deletes every object of the processing whose result file is `bucket/key` (and of its load-rejections) if
    /// `erasure` outranks it; how many object versions went.
    async fn delete_if_outranked(
        &self,
        erasure: &ResultFile,
        bucket: &str,
        key: &str,
        rejections: &[(chrono::NaiveDate, String)],
    ) -> Result<usize, PortError> {
        // `None`: gone already (an erasure cut short deletes the result file last), or not a result row: what is
        // left of it goes.
        let row = read_row(self.store().as_ref(), bucket, key).await?;
        if let Some(row) = &row {
            let later = |s: &Option<String>| s.as_deref().map(Sequencer::new);
            if later(&row.sequencer) > later(&erasure.source.object.sequencer) {
                // A later upload's processing: the recording it answers is not the one erased.
                return Ok(0);
            }
        }
        let mut deleted = 0;
        for (day, batch) in rejections {
            // The record is written just before its audit row: on the row's day, or the day before across midnight.
            for day in [Some(*day), day.pred_opt()].into_iter().flatten() {
                let record = self.config().layout.rejected_key(ErrorCode::LoadRejected, day, &erasure.id, batch);
                deleted += self.store().delete_versions(&self.config().bucket, &record).await?;
            }
        }
        deleted += self.delete_outputs(bucket, key, row.as_ref().and_then(|r| r.error_code)).await?;
        Ok(deleted)
    }

    /// Deletes every object of a result file left unloaded because its recording is gone; how many versions went.
    pub(crate) async fn delete_unloaded(&self, file: &ResultFile) -> Result<usize, PortError> {
        let row = read_row(self.store().as_ref(), &file.bucket, &file.key).await?;
        self.delete_outputs(&file.bucket, &file.key, row.and_then(|r| r.error_code)).await
    }

    /// Deletes every version of the objects of the processing whose result file is `bucket/key` (its quarantine
    /// record too when its row failed with `code`); how many went.
    async fn delete_outputs(&self, bucket: &str, key: &str, code: Option<ErrorCode>) -> Result<usize, PortError> {
        let Some(prefixes) = self.config().layout.outputs_of(key, code) else { return Ok(0) };
        let mut deleted = 0;
        for prefix in prefixes {
            deleted += self.store().delete_versions(bucket, &prefix).await?;
        }
        Ok(deleted)
    }

    /// The result files of the recordings `ids` that `load_audit` records as loaded or quarantined, keyed by
    /// (id, bucket, key), with the load-rejections of each.
    async fn known_files(&self, ids: &[&str], deadline: Option<std::time::Instant>) -> Result<KnownFiles, PortError> {
        let internal = |e: redscribe_core::CoreError| PortError::new(ErrorCode::Internal, e.to_string());
        let tables = &self.config().tables;
        let mut known = KnownFiles::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let any_of = chunk
                .iter()
                .map(|id| Ok(format!("POSITION({} IN \"file_uri\") > 0", literal(&format!("/{id}-"))?)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(internal)?
                .join(" OR ");
            let sql = format!(
                "SELECT DISTINCT \"file_uri\", \"status\", \"statement_id\", \"loaded_at\" FROM {} WHERE \
                 \"table_name\" = {} AND \"status\" IN ('loaded', 'quarantined') AND ({any_of})",
                tables.audit,
                literal(tables.results.name()).map_err(internal)?,
            );
            for row in self.warehouse().query_until(&sql, deadline).await? {
                let mut row = row.into_iter();
                let (Some(uri), status, batch, at) =
                    (row.next().flatten(), row.next().flatten(), row.next().flatten(), row.next().flatten())
                else {
                    continue;
                };
                let Some((bucket, key)) = uri.strip_prefix("s3://").and_then(|r| r.split_once('/')) else { continue };
                let name = key.rsplit('/').next().unwrap_or_default();
                let Some(id) = chunk.iter().find(|id| name.starts_with(&format!("{id}-"))) else { continue };
                let entry = known.entry((id.to_string(), bucket.to_string(), key.to_string())).or_default();
                let day = at.as_deref().and_then(|t| t.get(..10)).and_then(|d| d.parse().ok());
                if let (Some("quarantined"), Some(batch), Some(day)) = (status.as_deref(), batch, day) {
                    entry.push((day, batch));
                }
            }
        }
        Ok(known)
    }
}

/// The one row of a result file, or `None` when the file is gone or holds no row this stage could have written.
async fn read_row<S: ObjectStore + ?Sized>(store: &S, bucket: &str, key: &str) -> Result<Option<ResultRow>, PortError> {
    let object = match crate::pending::get_bounded(store, bucket, key).await {
        Ok(object) => object,
        Err(e) if matches!(e.code, ErrorCode::ObjectNotFound | ErrorCode::LoadRejected) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(batches) = redscribe_core::encode::from_parquet(object.body) else { return Ok(None) };
    Ok(batches.iter().find_map(|b| redscribe_core::record::results_from_batch(b).ok()?.into_iter().next()))
}
