//! The local warehouse: one DuckDB database file, the Redshift functions and system tables the loader relies on,
//! and `COPY` from the S3 stand-in's objects.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use duckdb::arrow::array::{Array, AsArray, RecordBatch};
use duckdb::arrow::datatypes::{
    DataType, Decimal128Type, Field as ArrowField, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use duckdb::arrow::util::display::{ArrayFormatter, FormatOptions};
use duckdb::{Connection, InterruptHandle};

use super::dialect::{ident, literal, table_name_parts, Compression, CopyFormat, CopyPlan, Step};
use crate::LocalError;

/// Set up at every open: the schema Redshift users expect, Redshift functions DuckDB lacks, and the system table
/// that failing COPYs write to. Idempotent.
const INIT_SQL: &str = "
CREATE SCHEMA IF NOT EXISTS public;
CREATE OR REPLACE MACRO main.getdate() AS CAST(get_current_timestamp() AT TIME ZONE 'UTC' AS TIMESTAMP);
CREATE OR REPLACE MACRO main.pg_last_copy_id() AS COALESCE(TRY_CAST(getvariable('pg_last_copy_id') AS BIGINT), -1);
CREATE OR REPLACE MACRO main.pg_last_query_id() AS COALESCE(TRY_CAST(getvariable('pg_last_query_id') AS BIGINT), -1);
CREATE TABLE IF NOT EXISTS main.sys_load_error_detail (
    user_id         INTEGER,
    query_id        BIGINT,
    transaction_id  BIGINT,
    session_id      INTEGER,
    database_name   VARCHAR,
    table_name      VARCHAR,
    start_time      TIMESTAMP,
    file_name       VARCHAR,
    line_number     BIGINT,
    column_name     VARCHAR,
    column_type     VARCHAR,
    column_length   VARCHAR,
    position        INTEGER,
    error_code      INTEGER,
    error_message   VARCHAR,
    raw_line        VARCHAR,
    raw_field_value VARCHAR
);
CREATE OR REPLACE VIEW main.stl_load_errors AS
SELECT user_id AS userid, session_id AS session, query_id AS query, file_name AS filename, line_number,
       column_name AS colname, column_type AS type, column_length AS col_length, position, raw_line,
       raw_field_value, error_code AS err_code, error_message AS err_reason, start_time AS starttime
FROM main.sys_load_error_detail;
";

/// Whether a translated statement changes the persistent schema (temporary tables live outside the WAL).
fn changes_schema(sql: &str) -> bool {
    let words: Vec<String> = sql.split_whitespace().take(2).map(str::to_ascii_uppercase).collect();
    match words.first().map(String::as_str) {
        Some("ALTER" | "DROP") => true,
        Some("CREATE") => !matches!(words.get(1).map(String::as_str), Some("TEMPORARY" | "TEMP")),
        _ => false,
    }
}

/// Closes DuckDB's doors to the host, for every connection of the database, once the setup is done: no file
/// outside the S3 stand-in's folder (`read_text('/etc/passwd')`, `read_csv`, `COPY … TO`, `ATTACH`, `glob`),
/// no extension to install or load, and no setting that could open them again (`lock_configuration`). COPY
/// still reads the objects: their folder is the one allowed directory.
fn lockdown_sql(objects: &Path) -> String {
    let mut folder = objects.to_string_lossy().into_owned();
    if !folder.ends_with('/') {
        folder.push('/');
    }
    format!(
        "SET GLOBAL TimeZone = 'UTC'; SET allowed_directories = [{}]; SET enable_external_access = false; \
         SET autoinstall_known_extensions = false; SET autoload_known_extensions = false; \
         SET lock_configuration = true;",
        literal(&folder)
    )
}

/// The warehouse behind the Data API stand-in.
pub struct Warehouse {
    root: Mutex<Connection>,
    objects: PathBuf,
    next_query_id: AtomicI64,
}

/// One value of a result set, as the Data API types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    String(String),
    Blob(Vec<u8>),
}

/// A result column, described with Redshift's type names.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub type_name: &'static str,
    pub nullable: bool,
    pub precision: i32,
    pub scale: i32,
    pub signed: bool,
    pub case_sensitive: bool,
}

/// What a statement returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

impl ResultSet {
    /// Bytes of the values, roughly as the service counts `ResultSize`.
    pub fn size(&self) -> i64 {
        let value_size = |v: &Value| match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Long(_) | Value::Double(_) => 8,
            Value::String(s) => s.len(),
            Value::Blob(b) => b.len(),
        };
        self.rows.iter().flat_map(|r| r.iter()).map(value_size).sum::<usize>() as i64
    }
}

/// What running one step produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub result: Option<ResultSet>,
    /// Rows inserted, updated or deleted (or returned, for a query).
    pub rows: i64,
}

/// One row of `sys_load_error_detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub file_name: String,
    pub line_number: Option<i64>,
    pub column_name: Option<String>,
    pub error_code: i32,
    pub error_message: String,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The SQL failed; the message is what the client sees.
    #[error("{0}")]
    Sql(String),
    /// A COPY failed; the rows go to `sys_load_error_detail`.
    #[error("{message}")]
    Load { message: String, table: String, errors: Vec<LoadError> },
    /// The statement was cancelled.
    #[error("Query cancelled on user's request")]
    Cancelled,
    /// A COPY of many files read at once failed; which file is to blame takes the statement again, file by file
    /// (see [`Session::set_exact_copy`]). Never reaches a client.
    #[error("COPY failed on the fast path: {0}")]
    RetryExact(String),
}

impl From<duckdb::Error> for ExecError {
    fn from(e: duckdb::Error) -> ExecError {
        let message = e.to_string();
        if message.contains("INTERRUPT") || message.contains("Interrupted") {
            ExecError::Cancelled
        } else if message.starts_with("Permission Error") {
            // What the lockdown refuses (`lockdown_sql`): a host file, an extension, a setting. Redshift has no
            // such functions for its users either; its answer to a forbidden object is "permission denied".
            ExecError::Sql(format!(
                "permission denied: the warehouse reads files only through COPY from its S3 endpoint ({message})"
            ))
        } else {
            ExecError::Sql(message)
        }
    }
}

impl Warehouse {
    /// Opens (creating when missing) the database file; `objects` is the S3 stand-in's folder, one sub-folder
    /// per bucket, that COPY reads from.
    pub fn open(db_file: &Path, objects: PathBuf) -> Result<Warehouse, LocalError> {
        if let Some(parent) = db_file.parent() {
            std::fs::create_dir_all(parent).map_err(LocalError::io(parent))?;
        }
        // Absolute, links resolved: the one folder the lockdown lets DuckDB read, compared with every path COPY
        // builds under it.
        std::fs::create_dir_all(&objects).map_err(LocalError::io(&objects))?;
        let objects = objects.canonicalize().map_err(LocalError::io(&objects))?;
        let engine = |e: duckdb::Error| LocalError::Engine(format!("{}: {e}", db_file.display()));
        let conn = Connection::open(db_file).map_err(engine)?;
        conn.execute_batch(INIT_SQL).map_err(engine)?;
        conn.execute_batch(&lockdown_sql(&objects)).map_err(engine)?;
        // What the WAL held is now in the file; a crash from here on replays only what comes after.
        conn.execute_batch("CHECKPOINT").map_err(engine)?;
        let last: i64 = conn
            .query_row("SELECT COALESCE(MAX(query_id), 0) FROM main.sys_load_error_detail", [], |r| r.get(0))
            .map_err(engine)?;
        // Query ids keep increasing across restarts, so recorded load errors never collide with new statements.
        let seed = last.max(chrono::Utc::now().timestamp_millis() % 1_000_000_000) + 1;
        Ok(Warehouse { root: Mutex::new(conn), objects, next_query_id: AtomicI64::new(seed) })
    }

    /// A new session (its own connection: its own transaction, temporary tables and variables).
    pub fn session(&self) -> Result<Session<'_>, ExecError> {
        let conn = self.root.lock().map_err(|_| ExecError::Sql("warehouse lock poisoned".into()))?.try_clone()?;
        // UTC is set for every connection at open, before the configuration was locked.
        conn.execute_batch("SET search_path = 'public,main';")?;
        Ok(Session {
            interrupt: conn.interrupt_handle(),
            conn,
            warehouse: self,
            in_transaction: false,
            changed_schema: false,
            exact_copy: false,
        })
    }

    /// A new `RedshiftQueryId`.
    pub fn next_query_id(&self) -> i64 {
        self.next_query_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Path of an object of the S3 stand-in, refusing keys that would leave the bucket's folder.
    /// A key that starts with `/` would make `join` start again at the file system's root; `..` and `.` would
    /// walk out of (or around) the bucket: none of them is a key the S3 stand-in can hold.
    fn object_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        if bucket.is_empty() || bucket.contains(['/', '\\', '\0']) || bucket.starts_with('.') {
            return None;
        }
        if key.starts_with('/') || key.contains('\0') || key.split('/').any(|part| part == ".." || part == ".") {
            return None;
        }
        let path = self.objects.join(bucket).join(key);
        path.starts_with(&self.objects).then_some(path)
    }

    /// Keys under a prefix (Redshift's rule: every key that starts with it), sorted.
    fn list_prefix(&self, bucket: &str, prefix: &str) -> Vec<(String, PathBuf)> {
        let Some(root) = self.object_path(bucket, "") else { return Vec::new() };
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(kind) = entry.file_type() else { continue };
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file() {
                    let Ok(rel) = path.strip_prefix(&root) else { continue };
                    let key = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
                    if key.starts_with(prefix) {
                        found.push((key, path));
                    }
                }
            }
        }
        found.sort();
        found
    }
}

/// A connection with its transaction state.
pub struct Session<'w> {
    conn: Connection,
    warehouse: &'w Warehouse,
    interrupt: Arc<InterruptHandle>,
    in_transaction: bool,
    /// The open transaction changed the schema: checkpoint after its commit ([`Session::checkpoint_schema`]).
    changed_schema: bool,
    /// COPY reads Parquet files one statement each (slow, names the failing file) instead of all at once.
    exact_copy: bool,
}

impl Session<'_> {
    /// Interrupts whatever the session is running, from another thread.
    pub fn interrupt_handle(&self) -> Arc<InterruptHandle> {
        self.interrupt.clone()
    }

    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Makes COPY read Parquet files one by one, so a failure names its file. A COPY of many Parquet files
    /// first reads them all in one statement, as Redshift reads a manifest in parallel; when that fails it answers
    /// [`ExecError::RetryExact`], and the caller runs the statement again with this set, after a rollback (a failed
    /// statement aborts DuckDB's transaction, and DuckDB has no savepoints).
    pub fn set_exact_copy(&mut self, exact: bool) {
        self.exact_copy = exact;
    }

    pub fn begin(&mut self) -> Result<(), ExecError> {
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        self.in_transaction = true;
        Ok(())
    }

    pub fn commit(&mut self) -> Result<(), ExecError> {
        self.in_transaction = false;
        self.conn.execute_batch("COMMIT")?;
        self.checkpoint_schema();
        Ok(())
    }

    /// After a committed schema change, folds the WAL into the database file, so the change is never replayed
    /// from the WAL after a crash (DuckDB 1.5 fails to replay some `ALTER TABLE`s). Best effort: DuckDB refuses a
    /// checkpoint while another transaction writes, and the next one (or the next open) does it then.
    fn checkpoint_schema(&mut self) {
        if std::mem::take(&mut self.changed_schema) {
            if let Err(e) = self.conn.execute_batch("CHECKPOINT") {
                tracing::debug!(error = %e, "checkpoint after a schema change deferred");
            }
        }
    }

    pub fn rollback(&mut self) {
        if self.in_transaction {
            self.in_transaction = false;
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// Runs one translated statement as query `query_id`.
    pub fn run(&mut self, step: &Step, query_id: i64) -> Result<Outcome, ExecError> {
        self.conn.execute_batch(&format!("SET VARIABLE pg_last_query_id = {query_id}"))?;
        match step {
            Step::NoOp => Ok(Outcome::default()),
            Step::Begin => {
                if !self.in_transaction {
                    self.begin()?;
                }
                Ok(Outcome::default())
            }
            Step::Commit => {
                if self.in_transaction {
                    self.commit()?;
                }
                Ok(Outcome::default())
            }
            Step::Rollback => {
                self.rollback();
                Ok(Outcome::default())
            }
            Step::Sql { sql, returns_rows: true } => {
                let mut stmt = self.conn.prepare(sql)?;
                let batches: Vec<RecordBatch> = stmt.query_arrow([])?.collect();
                let schema = stmt.schema();
                let result = result_set(schema.fields().iter().map(|f| f.as_ref()), &batches)?;
                Ok(Outcome { rows: result.rows.len() as i64, result: Some(result) })
            }
            Step::Sql { sql, returns_rows: false } => {
                let rows = self.conn.execute(sql, [])?;
                self.changed_schema |= changes_schema(sql);
                if !self.in_transaction {
                    self.checkpoint_schema();
                }
                Ok(Outcome { result: None, rows: rows as i64 })
            }
            Step::Copy(plan) => {
                let rows = self.copy(plan)?;
                self.conn.execute_batch(&format!("SET VARIABLE pg_last_copy_id = {query_id}"))?;
                Ok(Outcome { result: None, rows })
            }
        }
    }

    /// Writes the rows of a failed COPY to `sys_load_error_detail`, outside any transaction (they survive the
    /// rollback of the statement that failed, as Redshift's system tables do).
    pub fn record_load_errors(&mut self, query_id: i64, table: &str, errors: &[LoadError]) -> Result<(), ExecError> {
        self.rollback();
        let mut stmt = self.conn.prepare(
            "INSERT INTO main.sys_load_error_detail (user_id, query_id, transaction_id, session_id, database_name, \
             table_name, start_time, file_name, line_number, column_name, error_code, error_message) \
             VALUES (100, ?, ?, 1, 'dev', ?, getdate(), ?, ?, ?, ?, ?)",
        )?;
        for e in errors {
            stmt.execute(duckdb::params![
                query_id,
                query_id,
                table,
                e.file_name,
                e.line_number,
                e.column_name,
                e.error_code,
                e.error_message
            ])?;
        }
        Ok(())
    }

    /// Columns (name, DuckDB type) of a table, in order.
    fn table_columns(&self, table: &str) -> Result<Vec<(String, String)>, ExecError> {
        let parts = table_name_parts(table).map_err(|e| ExecError::Sql(e.0))?;
        let (schema, name) = match parts.as_slice() {
            [name] => (None, name.clone()),
            [schema, name] => (Some(schema.clone()), name.clone()),
            [_, schema, name] => (Some(schema.clone()), name.clone()),
            _ => return Err(ExecError::Sql(format!("invalid table name {table}"))),
        };
        let mut stmt = self.conn.prepare(
            "SELECT column_name, data_type FROM duckdb_columns() \
             WHERE table_name = ? AND (? IS NULL OR schema_name = ?) \
             ORDER BY (schema_name = 'temp' OR database_name = 'temp') DESC, (schema_name = 'public') DESC, \
                      column_index",
        )?;
        let rows = stmt.query_map(duckdb::params![name, schema, schema], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut columns: Vec<(String, String)> = Vec::new();
        for row in rows {
            let (column, data_type): (String, String) = row?;
            // The first table found wins (temporary, then public, then others), as the search path resolves it.
            if columns.iter().any(|(c, _)| *c == column) {
                break;
            }
            columns.push((column, data_type));
        }
        if columns.is_empty() {
            return Err(ExecError::Sql(format!("relation \"{table}\" does not exist")));
        }
        Ok(columns)
    }

    /// The files a COPY reads: every key under the prefix, or the manifest's entries.
    fn copy_files(&self, plan: &CopyPlan) -> Result<Vec<(String, PathBuf)>, ExecError> {
        let (bucket, key) = split_s3_uri(&plan.source)?;
        if !plan.manifest {
            let files = self.warehouse.list_prefix(bucket, key);
            if files.is_empty() {
                return Err(ExecError::Sql(format!("The specified S3 prefix '{key}' does not exist")));
            }
            return Ok(files.into_iter().map(|(k, p)| (format!("s3://{bucket}/{k}"), p)).collect());
        }
        let manifest_path = self.warehouse.object_path(bucket, key).filter(|p| p.is_file()).ok_or_else(|| {
            ExecError::Sql(format!(
                "Problem reading manifest file - S3ServiceException:The specified key does not exist.,Status 404,\
                 Error NoSuchKey,Key {key}"
            ))
        })?;
        let text = std::fs::read(&manifest_path).map_err(|e| ExecError::Sql(format!("reading manifest: {e}")))?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| ExecError::Sql(format!("Manifest file is not in correct format: {e}")))?;
        let columnar = matches!(plan.format, CopyFormat::Parquet);
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for entry in manifest.entries {
            if columnar && entry.meta.as_ref().and_then(|m| m.content_length).is_none() {
                return Err(ExecError::Sql(format!(
                    "Manifest file is not in correct format: entry {} needs meta content_length for columnar files",
                    entry.url
                )));
            }
            let path = split_s3_uri(&entry.url)
                .ok()
                .and_then(|(b, k)| self.warehouse.object_path(b, k))
                .filter(|p| p.is_file());
            match path {
                Some(p) => files.push((entry.url, p)),
                None if entry.mandatory => errors.push(LoadError {
                    file_name: entry.url.clone(),
                    line_number: None,
                    column_name: None,
                    error_code: 8001,
                    error_message: format!(
                        "Manifest entry is mandatory and missing: S3ServiceException:The specified key does not \
                         exist.,Status 404,Error NoSuchKey,Key {}",
                        entry.url
                    ),
                }),
                None => {}
            }
        }
        if !errors.is_empty() {
            let message =
                format!("Load into table '{}' failed. Check 'sys_load_error_detail' for details.", plan.table);
            return Err(ExecError::Load { message, table: plan.table.clone(), errors });
        }
        Ok(files)
    }

    /// Runs a COPY: each file in turn, inside the caller's transaction; the first bad file fails the statement
    /// (Redshift's default MAXERROR 0) with its rows for `sys_load_error_detail`.
    fn copy(&mut self, plan: &CopyPlan) -> Result<i64, ExecError> {
        let table_columns = self.table_columns(&plan.table)?;
        let columns: Vec<(String, String)> = if plan.columns.is_empty() {
            table_columns
        } else {
            let mut chosen = Vec::new();
            for wanted in &plan.columns {
                let folded = table_name_parts(wanted).map_err(|e| ExecError::Sql(e.0))?.pop().unwrap_or_default();
                let found = table_columns.iter().find(|(c, _)| *c == folded).ok_or_else(|| {
                    ExecError::Sql(format!("column \"{folded}\" of relation \"{}\" does not exist", plan.table))
                })?;
                chosen.push(found.clone());
            }
            chosen
        };
        let files = self.copy_files(plan)?;
        let jsonpaths = match &plan.format {
            CopyFormat::JsonPaths(uri) => Some(self.read_jsonpaths(uri, columns.len())?),
            _ => None,
        };
        let target = columns.iter().map(|(c, _)| ident(c)).collect::<Vec<_>>().join(", ");
        if matches!(plan.format, CopyFormat::Parquet) && files.len() > 1 && !self.exact_copy {
            return self.copy_parquet_at_once(plan, &columns, &target, &files);
        }
        let mut total = 0i64;
        for (uri, path) in &files {
            let sql = match self.file_select(plan, &columns, path, jsonpaths.as_deref()) {
                Ok(select) => format!("INSERT INTO {} ({target}) {select}", plan.table),
                Err(message) => return Err(load_failure(plan, uri, message)),
            };
            match self.conn.execute(&sql, []) {
                Ok(n) => total += n as i64,
                Err(e) => {
                    let e = ExecError::from(e);
                    if matches!(e, ExecError::Cancelled) {
                        return Err(e);
                    }
                    return Err(load_failure(plan, uri, e.to_string()));
                }
            }
        }
        Ok(total)
    }

    fn read_jsonpaths(&self, uri: &str, columns: usize) -> Result<Vec<String>, ExecError> {
        let (bucket, key) = split_s3_uri(uri)?;
        let path = self
            .warehouse
            .object_path(bucket, key)
            .filter(|p| p.is_file())
            .ok_or_else(|| ExecError::Sql(format!("JSONPath file {uri} does not exist")))?;
        let text = std::fs::read(path).map_err(|e| ExecError::Sql(format!("reading {uri}: {e}")))?;
        let parsed: JsonPaths =
            serde_json::from_slice(&text).map_err(|e| ExecError::Sql(format!("Invalid JSONPath file {uri}: {e}")))?;
        if parsed.jsonpaths.len() != columns {
            return Err(ExecError::Sql(format!(
                "Number of jsonpaths and the number of columns should match. JSONPath size: {}, Number of columns \
                 in table or column list: {columns}",
                parsed.jsonpaths.len()
            )));
        }
        Ok(parsed.jsonpaths)
    }

    /// The fast path of a Parquet COPY: one `DESCRIBE` and one `INSERT` over every file. Any failure —
    /// different columns in some file, a value that does not fit — is [`ExecError::RetryExact`].
    fn copy_parquet_at_once(
        &mut self,
        plan: &CopyPlan,
        columns: &[(String, String)],
        target: &str,
        files: &[(String, PathBuf)],
    ) -> Result<i64, ExecError> {
        let list = files.iter().map(|(_, p)| literal(&p.to_string_lossy())).collect::<Vec<_>>().join(", ");
        // union_by_name = false: every file must have the first file's columns, or the read fails.
        let source = format!("read_parquet([{list}], hive_partitioning = false, union_by_name = false)");
        let retry = |e: duckdb::Error| match ExecError::from(e) {
            ExecError::Cancelled => ExecError::Cancelled,
            other => ExecError::RetryExact(other.to_string()),
        };
        // The read takes later files by the first file's column names and would ignore extra columns: every
        // file must have the same shape, or the exact path decides.
        let shapes: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(DISTINCT n) FROM (SELECT COUNT(*) AS n FROM parquet_schema([{list}]) GROUP BY file_name)"),
                [],
                |r| r.get(0),
            )
            .map_err(retry)?;
        if shapes != 1 {
            return Err(ExecError::RetryExact("files of different shapes".into()));
        }
        let names: Vec<String> = self
            .conn
            .prepare(&format!("DESCRIBE SELECT * FROM {source}"))
            .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
            .map_err(retry)?;
        if names.len() != columns.len() {
            return Err(ExecError::RetryExact("column count".into()));
        }
        let select = names.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let sql = format!("INSERT INTO {} ({target}) SELECT {select} FROM {source}", plan.table);
        Ok(self.conn.execute(&sql, []).map_err(retry)? as i64)
    }

    /// `SELECT …` reading one file as the target columns; an error message for a file that cannot match.
    fn file_select(
        &self,
        plan: &CopyPlan,
        columns: &[(String, String)],
        path: &Path,
        jsonpaths: Option<&[String]>,
    ) -> Result<String, String> {
        let file = literal(&path.to_string_lossy());
        let compression = match plan.compression {
            Some(Compression::Gzip) => ", compression = 'gzip'",
            Some(Compression::Zstd) => ", compression = 'zstd'",
            None => "",
        };
        let as_varchar =
            columns.iter().map(|(c, _)| format!("{}: 'VARCHAR'", literal(c))).collect::<Vec<_>>().join(", ");
        let names = columns.iter().map(|(c, _)| ident(c)).collect::<Vec<_>>().join(", ");
        match &plan.format {
            CopyFormat::Parquet => {
                // Columns by position; a different count fails, as it does on Redshift. Folders named `key=value`
                // are plain folders to COPY, not partitions (DuckDB would add them as columns).
                let describe = format!("DESCRIBE SELECT * FROM read_parquet({file}, hive_partitioning = false)");
                let source: Vec<String> = self
                    .conn
                    .prepare(&describe)
                    .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
                    .map_err(|e| format!("Invalid Parquet file: {e}"))?;
                if source.len() != columns.len() {
                    return Err(format!(
                        "Unmatched number of columns between table and file. Table columns: {}, Data columns: {}",
                        columns.len(),
                        source.len()
                    ));
                }
                let select = source.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
                Ok(format!("SELECT {select} FROM read_parquet({file}, hive_partitioning = false)"))
            }
            CopyFormat::JsonAuto => Ok(format!(
                "SELECT {names} FROM read_json({file}, format = 'auto', hive_partitioning = false, columns = {{{as_varchar}}}{compression})"
            )),
            CopyFormat::JsonPaths(_) => {
                let paths = jsonpaths.unwrap_or_default();
                let select = paths
                    .iter()
                    .zip(columns)
                    .map(|(p, (c, _))| format!("json_extract_string(json, {}) AS {}", literal(p), ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ");
                Ok(format!("SELECT {select} FROM read_json_objects({file}, format = 'auto', hive_partitioning = false{compression})"))
            }
            CopyFormat::Csv { delimiter, quote } => Ok(format!(
                "SELECT {names} FROM read_csv({file}, hive_partitioning = false, header = false, auto_detect = false, skip = {}, delim = {}, \
                 quote = {}, escape = {}, columns = {{{as_varchar}}}{}{compression})",
                plan.ignore_header,
                literal(&delimiter.to_string()),
                literal(&quote.to_string()),
                literal(&quote.to_string()),
                null_option(plan),
            )),
            CopyFormat::Text { delimiter } => Ok(format!(
                "SELECT {names} FROM read_csv({file}, hive_partitioning = false, header = false, auto_detect = false, skip = {}, delim = {}, \
                 quote = '', escape = '', columns = {{{as_varchar}}}{}{compression})",
                plan.ignore_header,
                literal(&delimiter.to_string()),
                null_option(plan),
            )),
        }
    }
}

fn null_option(plan: &CopyPlan) -> String {
    match &plan.null_as {
        Some(s) => format!(", nullstr = {}", literal(s)),
        None => String::new(),
    }
}

/// A failed file of a COPY, classified with Redshift's load error codes where one fits.
fn load_failure(plan: &CopyPlan, uri: &str, message: String) -> ExecError {
    let (code, column) = classify_load_error(&message);
    ExecError::Load {
        message: format!("Load into table '{}' failed. Check 'sys_load_error_detail' for details.", plan.table),
        table: plan.table.clone(),
        errors: vec![LoadError {
            file_name: uri.to_string(),
            line_number: None,
            column_name: column,
            error_code: code,
            error_message: message.chars().take(512).collect(),
        }],
    }
}

fn classify_load_error(message: &str) -> (i32, Option<String>) {
    if let Some(rest) = message.split("NOT NULL constraint failed: ").nth(1) {
        let column = rest.split_whitespace().next().unwrap_or(rest);
        let column = column.rsplit('.').next().unwrap_or(column).to_string();
        return (1213, Some(column));
    }
    if message.contains("CHECK constraint failed") && message.contains("strlen(") {
        let column = message.split("strlen(").nth(1).and_then(|r| r.split(')').next()).map(str::to_string);
        return (1204, column);
    }
    if message.contains("Unmatched number of columns") {
        return (1202, None);
    }
    if message.contains("timestamp") || message.contains("TIMESTAMP") {
        return (1206, None);
    }
    if message.contains("date") || message.contains("DATE") {
        return (1205, None);
    }
    if message.contains("Could not convert") || message.contains("Conversion Error") {
        return (1207, None);
    }
    (1200, None)
}

fn split_s3_uri(uri: &str) -> Result<(&str, &str), ExecError> {
    uri.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/').or(Some((rest, ""))))
        .filter(|(bucket, _)| !bucket.is_empty())
        .ok_or_else(|| ExecError::Sql(format!("Invalid S3 URI '{uri}'")))
}

#[derive(serde::Deserialize)]
struct Manifest {
    entries: Vec<ManifestEntry>,
}

#[derive(serde::Deserialize)]
struct ManifestEntry {
    url: String,
    #[serde(default)]
    mandatory: bool,
    meta: Option<ManifestMeta>,
}

#[derive(serde::Deserialize)]
struct ManifestMeta {
    content_length: Option<u64>,
}

#[derive(serde::Deserialize)]
struct JsonPaths {
    jsonpaths: Vec<String>,
}

/// Converts Arrow batches to Data API values, with Redshift's type names and text forms.
fn result_set<'a>(
    fields: impl Iterator<Item = &'a ArrowField>,
    batches: &[RecordBatch],
) -> Result<ResultSet, ExecError> {
    let columns: Vec<Column> = fields.map(column_of).collect();
    let options = FormatOptions::new()
        .with_null("")
        .with_date_format(Some("%Y-%m-%d"))
        .with_timestamp_format(Some(TIMESTAMP_FORMAT));
    let mut rows = Vec::new();
    for batch in batches {
        let mut formatters = Vec::with_capacity(batch.num_columns());
        for array in batch.columns() {
            // Timestamps are formatted in `cell` (a zone name would need chrono-tz in arrow's formatter).
            formatters.push(match array.data_type() {
                DataType::Timestamp(..) => None,
                _ => {
                    Some(ArrayFormatter::try_new(array.as_ref(), &options).map_err(|e| ExecError::Sql(e.to_string()))?)
                }
            });
        }
        for row in 0..batch.num_rows() {
            let mut values = Vec::with_capacity(batch.num_columns());
            for (array, formatter) in batch.columns().iter().zip(&formatters) {
                values.push(cell(array.as_ref(), formatter.as_ref(), row));
            }
            rows.push(values);
        }
    }
    Ok(ResultSet { columns, rows })
}

/// Redshift's text form of timestamps; `TIMESTAMPTZ` adds `+00` (sessions run in UTC).
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

/// DuckDB's `HUGEINT` (what `SUM` of integers returns) arrives as a 38-digit decimal; Redshift's `SUM` of
/// integers is a `BIGINT`.
fn is_hugeint(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Decimal128(38, 0))
}

fn timestamp(array: &dyn Array, unit: TimeUnit, row: usize) -> Option<chrono::DateTime<chrono::Utc>> {
    match unit {
        TimeUnit::Second => chrono::DateTime::from_timestamp(array.as_primitive::<TimestampSecondType>().value(row), 0),
        TimeUnit::Millisecond => {
            chrono::DateTime::from_timestamp_millis(array.as_primitive::<TimestampMillisecondType>().value(row))
        }
        TimeUnit::Microsecond => {
            chrono::DateTime::from_timestamp_micros(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        TimeUnit::Nanosecond => {
            Some(chrono::DateTime::from_timestamp_nanos(array.as_primitive::<TimestampNanosecondType>().value(row)))
        }
    }
}

fn cell(array: &dyn Array, formatter: Option<&ArrayFormatter<'_>>, row: usize) -> Value {
    let text = |row| formatter.map(|f| f.value(row).to_string()).unwrap_or_default();
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Timestamp(unit, tz) => match timestamp(array, *unit, row) {
            Some(t) => {
                let text = t.format(TIMESTAMP_FORMAT).to_string();
                Value::String(if tz.is_some() { text + "+00" } else { text })
            }
            None => Value::Null,
        },
        data_type if is_hugeint(data_type) => {
            let v = array.as_primitive::<Decimal128Type>().value(row);
            i64::try_from(v).map(Value::Long).unwrap_or_else(|_| Value::String(v.to_string()))
        }
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Value::Long(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Long(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Long(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Long(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => {
            text(row).parse().map(Value::Long).unwrap_or(Value::Null)
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            text(row).parse().map(Value::Double).unwrap_or(Value::Null)
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let bytes = match array.data_type() {
                DataType::Binary => array.as_binary::<i32>().value(row).to_vec(),
                DataType::LargeBinary => array.as_binary::<i64>().value(row).to_vec(),
                _ => array.as_binary_view().value(row).to_vec(),
            };
            Value::Blob(bytes)
        }
        _ => Value::String(text(row)),
    }
}

fn column_of(field: &ArrowField) -> Column {
    let (type_name, precision, scale, signed) = match field.data_type() {
        DataType::Boolean => ("bool", 1, 0, false),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => ("int2", 5, 0, true),
        DataType::Int32 | DataType::UInt16 => ("int4", 10, 0, true),
        DataType::Int64 | DataType::UInt32 => ("int8", 19, 0, true),
        DataType::UInt64 => ("numeric", 20, 0, true),
        data_type if is_hugeint(data_type) => ("int8", 19, 0, true),
        DataType::Float16 | DataType::Float32 => ("float4", 8, 8, true),
        DataType::Float64 => ("float8", 17, 17, true),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => ("numeric", i32::from(*p), i32::from(*s), true),
        DataType::Date32 | DataType::Date64 => ("date", 13, 0, false),
        DataType::Timestamp(_, None) => ("timestamp", 29, 6, false),
        DataType::Timestamp(_, Some(_)) => ("timestamptz", 35, 6, false),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => ("varbyte", 65535, 0, false),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ("varchar", 65535, 0, false),
        _ => ("super", 65535, 0, false),
    };
    Column {
        name: field.name().clone(),
        type_name,
        nullable: field.is_nullable(),
        precision,
        scale,
        signed,
        case_sensitive: type_name == "varchar",
    }
}
