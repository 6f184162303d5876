//! `COPY … FROM 's3://…'` on the local warehouse: the files a plan names (a prefix, or a manifest's entries), each
//! read with DuckDB's Parquet, JSON or CSV reader from the S3 stand-in's folder, and Redshift's load errors for
//! those that fail.

use std::path::{Path, PathBuf};

use super::super::dialect::{ident, literal, table_name_parts, Compression, CopyFormat, CopyPlan};
use super::{ExecError, LoadError, Session};

impl Session<'_> {
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
    pub(super) fn copy(&mut self, plan: &CopyPlan) -> Result<i64, ExecError> {
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
