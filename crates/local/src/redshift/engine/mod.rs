//! The local warehouse: one DuckDB database file, the Redshift functions and system tables the loader relies on,
//! locked down to the S3 stand-in's objects, and sessions that run translated statements.
//!
//! - `copy`: `COPY … FROM 's3://…'` from the S3 stand-in's objects, and Redshift's load errors.
//! - `results`: DuckDB's Arrow results as Data API values and Redshift column metadata.

mod copy;
mod results;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use duckdb::arrow::array::RecordBatch;
use duckdb::{Connection, InterruptHandle};

use super::dialect::{literal, Step};
use crate::LocalError;
use results::result_set;

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
pub struct LocalWarehouse {
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
pub struct StepResult {
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

impl LocalWarehouse {
    /// Opens (creating when missing) the database file; `objects` is the S3 stand-in's folder, one sub-folder
    /// per bucket, that COPY reads from.
    pub fn open(db_file: &Path, objects: PathBuf) -> Result<LocalWarehouse, LocalError> {
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
        Ok(LocalWarehouse { root: Mutex::new(conn), objects, next_query_id: AtomicI64::new(seed) })
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
    warehouse: &'w LocalWarehouse,
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
    pub fn run(&mut self, step: &Step, query_id: i64) -> Result<StepResult, ExecError> {
        self.conn.execute_batch(&format!("SET VARIABLE pg_last_query_id = {query_id}"))?;
        match step {
            Step::NoOp => Ok(StepResult::default()),
            Step::Begin => {
                if !self.in_transaction {
                    self.begin()?;
                }
                Ok(StepResult::default())
            }
            Step::Commit => {
                if self.in_transaction {
                    self.commit()?;
                }
                Ok(StepResult::default())
            }
            Step::Rollback => {
                self.rollback();
                Ok(StepResult::default())
            }
            Step::Sql { sql, returns_rows: true } => {
                let mut stmt = self.conn.prepare(sql)?;
                let batches: Vec<RecordBatch> = stmt.query_arrow([])?.collect();
                let schema = stmt.schema();
                let result = result_set(schema.fields().iter().map(|f| f.as_ref()), &batches)?;
                Ok(StepResult { rows: result.rows.len() as i64, result: Some(result) })
            }
            Step::Sql { sql, returns_rows: false } => {
                let rows = self.conn.execute(sql, [])?;
                self.changed_schema |= changes_schema(sql);
                if !self.in_transaction {
                    self.checkpoint_schema();
                }
                Ok(StepResult { result: None, rows: rows as i64 })
            }
            Step::Copy(plan) => {
                let rows = self.copy(plan)?;
                self.conn.execute_batch(&format!("SET VARIABLE pg_last_copy_id = {query_id}"))?;
                Ok(StepResult { result: None, rows })
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
}
