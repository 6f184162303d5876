//! The load stage: result files → one COPY manifest → one transaction (stage, COPY, de-duplicate, MERGE,
//! audit). When the COPY fails, the files named in `sys_load_error_detail` for that statement are quarantined
//! (a record under `rejected/load_rejected/` and a `load_audit` row) and the rest of the batch is loaded again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures_util::StreamExt;
use redscribe_core::cost::{CostModel, Usage};
use redscribe_core::emf::Recorder;
use redscribe_core::layout::Layout;
use redscribe_core::load::{
    audit_lines, load_statements, manifest, purge_statements, Batch, BatchFile, CopyAuthorization, Staged, Tables,
};
use redscribe_core::metrics::{Metric, Stage};
use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::quarantine::{QuarantineRecord, RecordingRef};
use redscribe_core::schema::{results_schema, Detail};
use redscribe_core::sql::literal;
use redscribe_core::{Disposition, ErrorCode};
use tracing::Instrument;

use crate::pending::{Recordings, Standing};
use crate::quarantine::{QuarantineSink, StoreSink};
use crate::transcribe::ResultFile;

/// Recordings listed at once to check that result files still answer them, before a load.
const STANDING_CHECKS_AT_ONCE: usize = 8;

/// Where and how the stage loads.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub tables: Tables,
    pub auth: CopyAuthorization,
    pub layout: Layout,
    /// Bucket for manifests and quarantine records.
    pub bucket: String,
    /// Rounds of taking out the files the warehouse names before a group of files is split in halves instead.
    pub max_isolation_rounds: usize,
    /// The recordings result files must answer ([`crate::pending::standing`]).
    pub recordings: Recordings,
}

/// What one call to [`Loader::load`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Files whose rows are now in the table.
    pub loaded: Vec<ResultFile>,
    /// Files the warehouse refused, or that answer no recording of the deployment, with the reason.
    pub rejected: Vec<(ResultFile, String)>,
    /// Files settled unloaded because their recording is gone or holds other bytes now, with what was found.
    pub superseded: Vec<(ResultFile, String)>,
    /// `BatchExecuteStatement` calls made (each holds one COPY of results).
    pub batches: usize,
}

impl LoadReport {
    /// Adds what another load did to this one (the reports of many batches as one).
    pub fn add(&mut self, other: &LoadReport) {
        self.loaded.extend(other.loaded.iter().cloned());
        self.rejected.extend(other.rejected.iter().cloned());
        self.superseded.extend(other.superseded.iter().cloned());
        self.batches += other.batches;
    }
}

/// What loading a set of files settled, and the files that failed transiently (to be tried again).
#[derive(Debug, Default)]
pub struct Isolated {
    pub report: LoadReport,
    pub failed: Vec<(ResultFile, PortError)>,
}

/// Why one load transaction failed: the statement's error, the files `sys_load_error_detail` names with their
/// messages (none when it names no file), and the batch, for the records of the named files.
struct Failed {
    error: PortError,
    named: Vec<(String, String)>,
    batch_id: String,
    manifest_uri: String,
}

/// The stage.
pub struct Loader<S, W> {
    store: Arc<S>,
    /// Where quarantine records of refused and unreadable files go.
    quarantine: Arc<dyn QuarantineSink>,
    warehouse: Arc<W>,
    config: LoadConfig,
    metrics: Option<Arc<Recorder>>,
    /// How a batch's cost is priced.
    cost: Option<CostModel>,
    /// Set by [`Loader::migrating`]: the schema is brought up to date before the first statement.
    schema: Option<tokio::sync::OnceCell<()>>,
}

impl<S: ObjectStore + 'static, W: Warehouse> Loader<S, W> {
    /// Reads result files and writes manifests through `store`; quarantine records go to the same store until
    /// [`Loader::with_quarantine`] chooses another sink.
    pub fn new(store: Arc<S>, warehouse: Arc<W>, config: LoadConfig) -> Loader<S, W> {
        let quarantine = Arc::new(StoreSink::new(store.clone()));
        Loader { store, quarantine, warehouse, config, metrics: None, cost: None, schema: None }
    }
}

impl<S: ObjectStore, W: Warehouse> Loader<S, W> {
    /// Keeps quarantine records (of refused, unreadable and invalid announcements) in `sink`.
    pub fn with_quarantine(mut self, sink: Arc<dyn QuarantineSink>) -> Loader<S, W> {
        self.quarantine = sink;
        self
    }

    /// Where the loader keeps quarantine records.
    pub fn quarantine_sink(&self) -> &dyn QuarantineSink {
        self.quarantine.as_ref()
    }

    /// Prices each batch (the `EstimatedCost` metric) with `model`: the load's Lambda time at the function's
    /// memory, its request, the manifests and audit file written, the files COPY reads, and the files' queue
    /// messages. The warehouse's compute is not in it (shared, and priced apart: [`redscribe_core::cost`]).
    pub fn with_cost(mut self, model: CostModel) -> Loader<S, W> {
        self.cost = Some(model);
        self
    }

    /// Brings the warehouse's schema up to date ([`crate::migrate`]) once, before the first load that needs the
    /// warehouse (what a long-lived function wants: nothing to do at start, nothing for an event without work).
    pub fn migrating(mut self) -> Loader<S, W> {
        self.schema = Some(tokio::sync::OnceCell::new());
        self
    }

    /// Runs the migrations if this loader is [`Loader::migrating`] and has not run them yet, ending by `deadline`.
    pub async fn ensure_schema(&self, deadline: Option<std::time::Instant>) -> Result<(), PortError> {
        if let Some(schema) = &self.schema {
            let warehouse = self.warehouse.as_ref();
            schema
                .get_or_try_init(|| async { crate::migrate::migrate_until(warehouse, deadline).await.map(|_| ()) })
                .await?;
        }
        Ok(())
    }

    /// Records the stage's metrics (batch size and bytes, COPY duration, rows loaded, failures) into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Recorder>) -> Loader<S, W> {
        self.metrics = Some(metrics);
        self
    }

    fn record(&self, metric: Metric, value: f64, code: Option<ErrorCode>) {
        if let Some(m) = &self.metrics {
            m.record(metric, value, Some(Stage::Load), code);
        }
    }

    /// Loads the files; a file the warehouse refuses is quarantined and the rest loaded. `Err` when some file
    /// failed transiently (the first such failure): nothing of those files was committed, they can be loaded again.
    pub async fn load(&self, files: Vec<ResultFile>) -> Result<LoadReport, PortError> {
        let isolated = self.load_until(files, None).await;
        match isolated.failed.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(isolated.report),
        }
    }

    /// Loads the files, isolating the ones that fail for good ([`Loader::isolate`]), with every statement ending
    /// by `deadline` (the invocation's): one still running then is cancelled, so no statement outlives the
    /// invocation that started it.
    pub async fn load_until(&self, files: Vec<ResultFile>, deadline: Option<std::time::Instant>) -> Isolated {
        if files.is_empty() {
            return Isolated::default();
        }
        let started = Instant::now();
        let read = files.iter().map(|f| 1 + f.details.len() as u32).sum::<u32>();
        let messages = files.len() as f64;
        let mut isolated = Isolated::default();
        let files = self.current_only(files, deadline, &mut isolated).await;
        let files = self.erasures_ready(files, deadline, &mut isolated).await;
        let loaded = self.isolate(files, deadline).await;
        isolated.report.add(&loaded.report);
        isolated.failed.extend(loaded.failed);
        // The load stage's wall time for the batch: manifests, audit, COPY and MERGE, any isolation rounds.
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.record(Metric::StageLatency, elapsed_ms, None);
        if let Some(model) = &self.cost {
            let usage = Usage {
                lambda_ms: elapsed_ms,
                requests: 1.0,
                // Per statement: the results manifest, the segments and words ones, the audit rows.
                s3_puts: 4 * isolated.report.batches.max(1) as u32,
                s3_gets: read,
                sqs_requests: 3.0 * messages,
                ..Usage::default()
            };
            self.record(Metric::EstimatedCost, model.cost(usage), None);
        }
        isolated
    }

    /// The files whose recordings still hold the bytes they answer ([`crate::pending::standing`], a few listings
    /// at once). The others are settled into `out`: a superseded file unloaded, one that answers no recording of
    /// this deployment refused (quarantined), one that could not be checked handed back with the error.
    async fn current_only(
        &self,
        files: Vec<ResultFile>,
        deadline: Option<std::time::Instant>,
        out: &mut Isolated,
    ) -> Vec<ResultFile> {
        let recordings = &self.config.recordings;
        let checks: Vec<_> = futures_util::stream::iter(files)
            .map(|file| async move {
                let standing = crate::pending::standing(self.store.as_ref(), recordings, &file).await;
                (file, standing)
            })
            .buffered(STANDING_CHECKS_AT_ONCE)
            .collect()
            .await;
        let mut current = Vec::new();
        let mut unchecked = Vec::new();
        for (file, standing) in checks {
            match standing {
                Ok(Standing::Current) => current.push(file),
                Ok(Standing::Superseded(why)) => {
                    tracing::info!(file = %file.uri(), "not loaded: {why}");
                    out.report.superseded.push((file, why));
                }
                Ok(Standing::Gone(why)) => match self.delete_unloaded(&file).await {
                    Ok(deleted) => {
                        tracing::info!(file = %file.uri(), deleted, "not loaded, its objects deleted: {why}");
                        out.report.superseded.push((file, why));
                    }
                    Err(e) => unchecked.push((file, e)),
                },
                Err(e) if e.code.disposition().blames_the_item() => {
                    match self.reject(&file, &e.message, deadline).await {
                        Ok(()) => out.report.rejected.push((file, e.message)),
                        Err(q) => out.failed.push((file, q)),
                    }
                }
                Err(e) => unchecked.push((file, e)),
            }
        }
        self.hand_back(unchecked, out);
        current
    }

    /// The files with each erasure among them ready to load: the objects it outranks deleted first
    /// ([`Loader::delete_erased`]). An erasure whose deletions failed goes into `out` to be tried again.
    async fn erasures_ready(
        &self,
        files: Vec<ResultFile>,
        deadline: Option<std::time::Instant>,
        out: &mut Isolated,
    ) -> Vec<ResultFile> {
        let (erasures, mut files): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.source.is_removal());
        if erasures.is_empty() {
            return files;
        }
        let (ready, failed) = self.delete_erased(erasures, deadline).await;
        self.hand_back(failed, out);
        files.extend(ready);
        files
    }

    /// Files that cannot be settled now, handed back in `out` to be tried again: one load failure counted by the
    /// first one's error, and why they wait said when it blocks.
    fn hand_back(&self, failed: Vec<(ResultFile, PortError)>, out: &mut Isolated) {
        if let Some((_, e)) = failed.first() {
            self.record(Metric::LoadFailures, 1.0, Some(e.code));
            self.note_blocked(failed.len(), e);
        }
        out.failed.extend(failed);
    }

    /// Says why `files` files wait when `e` is a missing grant, role or table (`LoadsBlocked`): no file is to
    /// blame, none is split off or quarantined.
    fn note_blocked(&self, files: usize, e: &PortError) {
        if e.code.disposition() == Disposition::Blocked {
            tracing::error!(files, code = e.code.as_str(), "load blocked: {}", e.message);
            self.record(Metric::LoadsBlocked, files as f64, Some(e.code));
        }
    }

    /// The one isolation layer, so that a file that fails for good costs only itself: the files
    /// `sys_load_error_detail` names are quarantined and the rest loaded again (at most `max_isolation_rounds`
    /// times for one group); a statement that fails for good naming no file is split in halves, each loaded on
    /// its own, until the file to blame stands alone and is quarantined (a record and a `load_audit` row). A
    /// transient failure is not split: its files come back to be retried.
    async fn isolate(&self, files: Vec<ResultFile>, deadline: Option<std::time::Instant>) -> Isolated {
        let mut out = Isolated::default();
        // Groups still to load, and the rounds of named files each has had; the first half is loaded first.
        let mut groups = vec![(files, 0usize)];
        while let Some((mut group, rounds)) = groups.pop() {
            if group.is_empty() {
                continue;
            }
            if !self.fits(&group) && group.iter().any(|f| shape_of(f) != shape_of(&group[0])) {
                // Files of many earlier schemas at once (a deployment after several migrations): loaded a shape at
                // a time, each in a transaction of its own.
                let mut shapes: BTreeMap<Vec<usize>, Vec<ResultFile>> = BTreeMap::new();
                for file in group {
                    shapes.entry(shape_of(&file)).or_default().push(file);
                }
                groups.extend(shapes.into_values().map(|files| (files, rounds)));
                continue;
            }
            let failed = match self.load_once(&group, deadline, &mut out.report).await {
                Ok(()) => {
                    out.report.loaded.append(&mut group);
                    continue;
                }
                Err(failed) => failed,
            };
            let named = |f: &ResultFile| {
                failed
                    .named
                    .iter()
                    .find(|(uri, _)| *uri == f.uri() || f.details.iter().any(|d| *uri == f.detail_uri(d)))
            };
            if rounds < self.config.max_isolation_rounds && group.iter().any(|f| named(f).is_some()) {
                let (rejected, rest): (Vec<_>, Vec<_>) = group.into_iter().partition(|f| named(f).is_some());
                for file in rejected {
                    let message = named(&file).map_or_else(|| failed.error.message.clone(), |(_, m)| m.clone());
                    match self.quarantine(&file, &message, &failed.batch_id, &failed.manifest_uri, deadline).await {
                        Ok(()) => {
                            self.record(Metric::LoadFailures, 1.0, Some(ErrorCode::LoadRejected));
                            out.report.rejected.push((file, message));
                        }
                        Err(e) => out.failed.push((file, e)),
                    }
                }
                groups.push((rest, rounds + 1));
                continue;
            }
            let e = failed.error;
            self.record(Metric::LoadFailures, 1.0, Some(e.code));
            self.note_blocked(group.len(), &e);
            if !e.code.disposition().blames_the_item() {
                out.failed.extend(group.into_iter().map(|f| (f, e.clone())));
            } else if group.len() > 1 {
                tracing::warn!(
                    files = group.len(),
                    code = e.code.as_str(),
                    "load failed for good; splitting the batch"
                );
                let second = group.split_off(group.len() / 2);
                groups.push((second, rounds));
                groups.push((group, rounds));
            } else {
                let file = group.pop().expect("one file");
                match self.reject(&file, &e.message, deadline).await {
                    Ok(()) => out.report.rejected.push((file, e.message)),
                    Err(q) => out.failed.push((file, q)),
                }
            }
        }
        out
    }

    /// Whether one transaction can load `files`: each group of files of an earlier schema adds statements, and a
    /// `BatchExecuteStatement` takes at most 40. Files of one shape always fit.
    fn fits(&self, files: &[ResultFile]) -> bool {
        let mut shapes: BTreeMap<Option<Detail>, std::collections::BTreeSet<usize>> = BTreeMap::new();
        for file in files {
            shapes.entry(None).or_default().insert(file.columns);
            for d in &file.details {
                shapes.entry(Some(d.detail)).or_default().insert(d.columns);
            }
        }
        let staged = |columns: &std::collections::BTreeSet<usize>| {
            columns.iter().map(|&columns| Staged { columns, manifest: String::new(), files: Vec::new() }).collect()
        };
        let batch = Batch {
            id: String::new(),
            results: shapes.get(&None).map(staged).unwrap_or_default(),
            details: Detail::ALL.into_iter().filter_map(|d| Some((d, staged(shapes.get(&Some(d))?)))).collect(),
            audit_file: String::new(),
        };
        load_statements(&self.config.tables, &self.config.auth, &batch).is_ok()
    }

    /// One load transaction over `files`: their manifests and audit rows, then one `BatchExecuteStatement`.
    async fn load_once(
        &self,
        files: &[ResultFile],
        deadline: Option<std::time::Instant>,
        report: &mut LoadReport,
    ) -> Result<(), Failed> {
        let batch_id = uuid::Uuid::new_v4().to_string();
        let day = Utc::now().date_naive();
        let manifest_key = self.config.layout.manifest_key(day, &batch_id);
        let manifest_uri = format!("s3://{}/{manifest_key}", self.config.bucket);
        let failed = |error: PortError| Failed {
            error,
            named: Vec::new(),
            batch_id: batch_id.clone(),
            manifest_uri: manifest_uri.clone(),
        };
        // One manifest per table and shape: today's files under the batch's name, a group written under an earlier
        // schema under the batch's name and its column count.
        let results = files.iter().map(|f| {
            let file = BatchFile { uri: f.uri(), rows: f.rows, etag: f.etag.clone(), erased: f.erased };
            (f.columns, f.size, file)
        });
        let results = self.write_manifests(day, &batch_id, None, results.collect()).await.map_err(failed)?;
        // Each detail table the files have rows of (segments, words): manifests of its own, loaded in the same
        // transaction.
        let mut details = BTreeMap::new();
        for detail in Detail::ALL {
            let of: Vec<_> = files
                .iter()
                .flat_map(|f| f.details.iter().filter(|d| d.detail == detail).map(move |d| (f, d)))
                .map(|(f, d)| {
                    let file = BatchFile { uri: f.detail_uri(d), rows: d.rows, ..BatchFile::default() };
                    (d.columns, d.size, file)
                })
                .collect();
            if !of.is_empty() {
                details.insert(detail, self.write_manifests(day, &batch_id, Some(detail), of).await.map_err(failed)?);
            }
        }
        let audit_key = self.config.layout.audit_rows_key(day, &batch_id);
        let batch = Batch {
            id: batch_id.clone(),
            results,
            details,
            audit_file: format!("s3://{}/{audit_key}", self.config.bucket),
        };
        let audit = audit_lines(&self.config.tables, &batch);
        self.store.put(&self.config.bucket, &audit_key, audit, "application/x-ndjson").await.map_err(failed)?;
        let sqls = load_statements(&self.config.tables, &self.config.auth, &batch)
            .map_err(|e| failed(PortError::new(ErrorCode::Internal, e.to_string())))?;
        report.batches += 1;
        self.record(Metric::LoadBatchSize, files.len() as f64, None);
        self.record(Metric::LoadBatchBytes, files.iter().map(|f| f.size).sum::<u64>() as f64, None);
        let copy_started = Instant::now();
        let span = tracing::info_span!("load", batch = %batch_id, files = files.len());
        let outcome = self.warehouse.run_batch_until(&sqls, &batch_id, deadline).instrument(span).await;
        self.record(Metric::CopyDuration, copy_started.elapsed().as_secs_f64() * 1000.0, None);
        match outcome {
            Ok(()) => {
                self.record(Metric::RowsLoaded, files.iter().map(|f| f.rows).sum::<i64>() as f64, None);
                let now = Utc::now();
                // A reprocess's rows were queryable long ago: only an upload's own processing is timed.
                let uploads = files.iter().filter(|f| f.source.generation.is_none());
                for uploaded in uploads.filter_map(|f| f.source.event_time) {
                    let seconds = (now - uploaded).num_milliseconds().max(0) as f64 / 1000.0;
                    self.record(Metric::UploadToQueryableLatency, seconds, None);
                }
                tracing::info!(batch = %batch_id, files = files.len(), "loaded");
                Ok(())
            }
            Err(e) if e.code == ErrorCode::LoadRejected && e.query_id.is_some() => {
                let named = self.files_in_error(e.query_id.unwrap_or_default(), deadline).await.map_err(failed)?;
                Err(Failed { named, ..failed(e) })
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// Writes the COPY manifests of one table's files of a batch (`detail`, or the results), one per shape: the
    /// table's own under the batch's name (the results' is `manifest_key(day, batch_id)`, what quarantine records
    /// name), an earlier schema's with its column count after it. Each file comes with its column count and size.
    async fn write_manifests(
        &self,
        day: chrono::NaiveDate,
        batch_id: &str,
        detail: Option<Detail>,
        files: Vec<(usize, u64, BatchFile)>,
    ) -> Result<Vec<Staged>, PortError> {
        let full = detail.map_or_else(results_schema, Detail::schema).fields().len();
        let mut shapes: BTreeMap<usize, Vec<(u64, BatchFile)>> = BTreeMap::new();
        for (columns, size, file) in files {
            shapes.entry(columns).or_default().push((size, file));
        }
        let mut groups = Vec::new();
        // Today's shape first: the order the statements copy them in.
        for (columns, of) in shapes.into_iter().rev() {
            let mut name = batch_id.to_string();
            if let Some(d) = detail {
                name = format!("{name}-{}", d.table());
            }
            if columns != full {
                name = format!("{name}-{columns}");
            }
            let key = self.config.layout.manifest_key(day, &name);
            let entries: Vec<(String, u64)> = of.iter().map(|(size, file)| (file.uri.clone(), *size)).collect();
            crate::put_json(self.store.as_ref(), &self.config.bucket, &key, &manifest(&entries)).await?;
            let files = of.into_iter().map(|(_, f)| f).collect();
            groups.push(Staged { columns, manifest: format!("s3://{}/{key}", self.config.bucket), files });
        }
        Ok(groups)
    }

    /// Files (and their first error) that `sys_load_error_detail` records for a query.
    async fn files_in_error(
        &self,
        query_id: i64,
        deadline: Option<std::time::Instant>,
    ) -> Result<Vec<(String, String)>, PortError> {
        let sql = format!(
            "SELECT TRIM(file_name), MIN(TRIM(error_message)) FROM sys_load_error_detail WHERE query_id = {query_id} \
             GROUP BY 1"
        );
        let rows = self.warehouse.query_until(&sql, deadline).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut r = r.into_iter();
                Some((r.next()??, r.next().flatten().unwrap_or_default()))
            })
            .collect())
    }

    /// A quarantine record for a file the warehouse refused, and its `load_audit` row.
    async fn quarantine(
        &self,
        file: &ResultFile,
        message: &str,
        batch_id: &str,
        manifest_uri: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<(), PortError> {
        let rejected = Rejected {
            uri: file.uri(),
            id: &file.id,
            recording: Some(RecordingRef::from(&file.source)),
            batch_id,
            manifest_uri: Some(manifest_uri),
        };
        self.settle_rejected(rejected, message, deadline).await
    }

    /// Quarantines a result file the warehouse refuses for a reason no error table names (the driver found it by
    /// loading it alone): a record and a `load_audit` row, so nothing tries it again.
    pub async fn reject(
        &self,
        file: &ResultFile,
        message: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<(), PortError> {
        // Named by the file: a rejection tried again (its audit row failed transiently) rewrites its own record,
        // and its audit statement carries the same client token.
        let batch_id = format!("isolated-{}", redscribe_core::identity::recording_id("isolated", &file.uri()));
        let rejected = Rejected {
            uri: file.uri(),
            id: &file.id,
            recording: Some(RecordingRef::from(&file.source)),
            batch_id: &batch_id,
            manifest_uri: None,
        };
        self.settle_rejected(rejected, message, deadline).await?;
        self.record(Metric::LoadFailures, 1.0, Some(ErrorCode::LoadRejected));
        Ok(())
    }

    /// Settles a result file that cannot be read back (not Parquet, not a result row): a quarantine record naming
    /// the file and the recording its metadata names (what `replay` processes again), and a `load_audit` row, so
    /// no announcement or sweep tries it again. A file that names no recording (not written by the stage) gets a
    /// record with a `null` recording: replay reports it and leaves it.
    pub async fn quarantine_unreadable(
        &self,
        bucket: &str,
        key: &str,
        message: &str,
        recording: Option<RecordingRef>,
        deadline: Option<std::time::Instant>,
    ) -> Result<(), PortError> {
        let uri = format!("s3://{bucket}/{key}");
        let stem = key.rsplit('/').next().unwrap_or(key);
        let id = stem.split_once('-').map_or(stem, |(id, _)| id);
        let batch_id = format!("unreadable-{}", uuid::Uuid::new_v4());
        let rejected = Rejected { uri, id, recording, batch_id: &batch_id, manifest_uri: None };
        self.settle_rejected(rejected, message, deadline).await?;
        self.record(Metric::LoadFailures, 1.0, Some(ErrorCode::LoadRejected));
        Ok(())
    }

    async fn settle_rejected(
        &self,
        r: Rejected<'_>,
        message: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<(), PortError> {
        let day = Utc::now().date_naive();
        let key = self.config.layout.rejected_key(ErrorCode::LoadRejected, day, r.id, r.batch_id);
        let mut record = QuarantineRecord::new(ErrorCode::LoadRejected, message, Stage::Load);
        record.recording = r.recording;
        record.id = Some(r.id.to_string());
        record.file = Some(r.uri.clone());
        record.batch = Some(r.batch_id.to_string());
        record.manifest = r.manifest_uri.map(str::to_string);
        self.quarantine.keep(&self.config.bucket, &key, &record).await?;
        let text = |s: &str| literal(s).map_err(|e| PortError::new(ErrorCode::Internal, e.to_string()));
        let (message, _) =
            redscribe_core::record::truncate_utf8(message, redscribe_core::record::ERROR_MESSAGE_MAX_BYTES);
        let audit = format!(
            "INSERT INTO {} (\"file_uri\", \"manifest_uri\", \"table_name\", \"statement_id\", \"rows_loaded\", \"status\", \
             \"error_message\", \"loaded_at\") VALUES ({}, {}, {}, {}, 0, 'quarantined', {}, GETDATE())",
            self.config.tables.audit,
            text(&r.uri)?,
            match r.manifest_uri {
                Some(m) => text(m)?,
                None => "NULL".into(),
            },
            text(self.config.tables.results.name())?,
            text(r.batch_id)?,
            text(message)?,
        );
        // A client token is at most 64 characters: a digest of batch and file.
        let token = redscribe_core::identity::recording_id(r.batch_id, &r.uri);
        self.warehouse.run_batch_until(&[audit], &token, deadline).await?;
        // With the stage and code a recording's failure has: dashboards/queries/ count it with them.
        let (stage, error_code) = (Stage::Load.as_str(), ErrorCode::LoadRejected.as_str());
        tracing::warn!(file = %r.uri, id = %r.id, stage, error_code, reason = %message, "load rejected the file; quarantined");
        Ok(())
    }

    /// Purges every row processed more than `days` days ago, with its segments, words and attributes, in one
    /// transaction recorded in `load_audit` (`purged`); the cutoff it used.
    pub async fn purge_until(
        &self,
        days: u32,
        deadline: Option<std::time::Instant>,
    ) -> Result<chrono::DateTime<Utc>, PortError> {
        self.ensure_schema(deadline).await?;
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
        let id = format!("purge-{}", uuid::Uuid::new_v4());
        let sqls = purge_statements(&self.config.tables, cutoff, &id)
            .map_err(|e| PortError::new(ErrorCode::Internal, e.to_string()))?;
        // A client token is at most 64 characters: the purge's id is 42.
        self.warehouse.run_batch_until(&sqls, &id, deadline).await?;
        tracing::info!(%cutoff, days, "rows past the result retention purged");
        Ok(cutoff)
    }

    /// Counts a message that did not announce anything (kept as a quarantine record by [`crate::invoke`]).
    pub fn record_invalid(&self) {
        if let Some(m) = &self.metrics {
            m.record(Metric::RecordingsQuarantined, 1.0, Some(Stage::Load), Some(ErrorCode::InvalidEvent));
        }
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    pub fn warehouse(&self) -> &W {
        &self.warehouse
    }

    pub fn config(&self) -> &LoadConfig {
        &self.config
    }
}

/// The shape of a result file and its detail files: how many columns each holds.
fn shape_of(file: &ResultFile) -> Vec<usize> {
    let mut shape = vec![file.columns];
    shape.extend(Detail::ALL.iter().map(|d| file.details.iter().find(|f| f.detail == *d).map_or(0, |f| f.columns)));
    shape
}

/// A file taken out of the load, and where it was when it was.
struct Rejected<'a> {
    uri: String,
    id: &'a str,
    recording: Option<RecordingRef>,
    batch_id: &'a str,
    manifest_uri: Option<&'a str>,
}
