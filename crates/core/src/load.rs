//! The statements of one load (DESIGN 2.5), as SQL text for one `BatchExecuteStatement` — one transaction:
//!
//! 1. a temporary stage table like the target, filled by `COPY … FORMAT AS PARQUET MANIFEST`;
//! 2. the newest row per `id` kept (S3 `sequencer` order, then an answer over a failure, then the processing
//!    generation — a reprocess over the upload's own processing — then processing time):
//!    re-deliveries collapse, whatever order their files arrive in;
//! 3. rows of the same bytes (ETag) as the target's that come before it in that order dropped: a late event
//!    never overwrites a newer processing of those bytes, and a failure never replaces their transcript. A row of
//!    other bytes replaces the target's whatever its sequencer: the loader loads only files that answer the
//!    recording's current bytes (`pipeline::pending::standing`), so a claimed sequencer cannot pin a row. An
//!    erasure (status `erased`) and its tombstone are ordered against every row: nothing older comes back;
//! 4. `MERGE` into the target (update or insert), `loaded_at` set;
//! 5. the detail of the surviving rows (segments, words: [`Detail`]) replaces the old (deleted even when the batch
//!    brings none);
//! 6. one `load_audit` row per loaded file, copied from a JSON Lines file the loader writes beside the manifest
//!    ([`audit_lines`]) rather than listed in the statement.
//!
//! Every statement's text is the same size whatever the batch holds: the Data API refuses a statement over
//! 100 KB ([`STATEMENT_MAX_BYTES`]), and a literal list of 1,000 files would be three times that. Every value
//! is written with [`literal`]; every table name comes from a validated [`Identifier`].

use std::collections::BTreeMap;

use crate::schema::{load_audit_schema, results_schema, Detail, LOAD_AUDIT_TABLE, RESULTS_TABLE};
use crate::sql::{literal, Identifier};
use crate::CoreError;

/// The tables a load writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub results: Identifier,
    /// The detail tables, each as qualified as the results table.
    pub details: BTreeMap<Detail, Identifier>,
    pub audit: Identifier,
}

impl Tables {
    /// The tables of `sql/migrations`, optionally in a schema.
    pub fn new(schema: Option<&str>, results: &str) -> Result<Tables, CoreError> {
        let qualify = |name: &str| match schema {
            Some(s) => Identifier::parse(&format!("{s}.{name}")),
            None => Identifier::parse(name),
        };
        let details = Detail::ALL.iter().map(|&d| Ok((d, qualify(d.table())?))).collect::<Result<_, CoreError>>()?;
        Ok(Tables { results: qualify(results)?, details, audit: qualify(LOAD_AUDIT_TABLE)? })
    }

    /// The qualified name of a detail table.
    pub fn detail(&self, detail: Detail) -> &Identifier {
        &self.details[&detail]
    }
}

impl Default for Tables {
    fn default() -> Tables {
        Tables::new(None, RESULTS_TABLE).expect("the default table names are valid")
    }
}

/// How `COPY` is authorised to read S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyAuthorization {
    /// `IAM_ROLE 'arn:aws:iam::…:role/…'`.
    IamRole(String),
    /// `IAM_ROLE default`: the role set as the cluster's or workgroup's default.
    DefaultRole,
}

impl CopyAuthorization {
    fn sql(&self) -> Result<String, CoreError> {
        Ok(match self {
            CopyAuthorization::IamRole(arn) => format!("IAM_ROLE {}", literal(arn)?),
            CopyAuthorization::DefaultRole => "IAM_ROLE default".to_string(),
        })
    }
}

/// One file of the batch, the rows it holds and the ETag of its bytes as they were read (what `load_audit`
/// settles it as: the same key written again with other bytes is another file to load).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchFile {
    pub uri: String,
    pub rows: i64,
    pub etag: Option<String>,
    /// An erasure's result file: how many object versions of the recording were deleted before it loaded. Its audit
    /// row says `erased`, with that count, instead of `loaded`.
    pub erased: Option<usize>,
}

/// What one load carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The loader's id for the batch; recorded in `load_audit.statement_id`.
    pub id: String,
    /// The result files, one group per shape (a file written before a migration added columns has fewer).
    pub results: Vec<Staged>,
    /// The detail files of the batch's results, by table, one group per shape (a table the batch brings no file
    /// of is absent).
    pub details: BTreeMap<Detail, Vec<Staged>>,
    /// Where the loader wrote [`audit_lines`] of this batch (an `s3://` URI no other object's key extends).
    pub audit_file: String,
}

/// Files of one table with the same columns, and the manifest that lists them: `columns` is how many of the
/// table's columns they hold, the first ones in order ([`crate::schema::leading_columns`]). Parquet `COPY` maps
/// columns by position and refuses a file whose column count is not the table's ("COPY from columnar data
/// formats", Amazon Redshift Database Developer Guide), so files of an earlier schema are copied into a stage of
/// their own shape and moved into the table's stage with the later columns NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub columns: usize,
    pub manifest: String,
    pub files: Vec<BatchFile>,
}

/// The most text the Data API takes in one SQL statement: "The maximum query statement size is 100 KB"
/// (Amazon Redshift Management Guide, "Considerations when calling the Amazon Redshift Data API"); past it the
/// call fails with `ValidationException` "Cannot process query string larger than 100kB". Counted here as
/// 100,000 bytes, the stricter reading.
pub const STATEMENT_MAX_BYTES: usize = 100_000;

/// The most statements one `BatchExecuteStatement` takes (`Sqls`: a list of 1 to 40, in the service's API
/// model).
pub const BATCH_MAX_STATEMENTS: usize = 40;

const STAGE: &str = "redscribe_stage_results";
const LATEST: &str = "redscribe_latest_results";
const STAGE_AUDIT: &str = "redscribe_stage_audit";

fn columns(schema: &arrow_schema::Schema) -> Vec<String> {
    schema.fields().iter().map(|f| format!("\"{}\"", f.name())).collect()
}

/// A sequencer comparable as text, as [`crate::identity::Sequencer`] compares them: trimmed, upper-cased, and
/// right-padded with zeros to the column's width (64), so `'0a'` and `'0A00'` are the same point in time and a
/// shorter sequencer never sorts after a longer one that extends it.
fn ordered_sequencer(table: &str) -> String {
    format!("RPAD(UPPER(TRIM(COALESCE({table}.\"sequencer\", ''))), 64, '0')")
}

/// 1 for a row that is an answer (transcribed, metadata only), 0 for a failure: of two processings of the same
/// version, a failure never wins over an answer, whichever came last.
fn answered(table: &str) -> String {
    format!("CASE WHEN {table}.\"status\" = 'failed' THEN 0 ELSE 1 END")
}

/// Whether a row is an erasure's tombstone.
fn erased(table: &str) -> String {
    format!("{table}.\"status\" = 'erased'")
}

/// The processing generation of a row: 0 for its upload's event, a reprocess's start (Unix ms) otherwise.
fn generation(table: &str) -> String {
    format!("COALESCE({table}.\"generation\", 0)")
}

/// Whether `a`'s row comes before `b`'s in the one order every load uses, whatever order files arrive in: the
/// S3 sequencer (a later upload wins), then an answer over a failure (of the same version), then the later
/// processing generation (a reprocess over the upload's own processing, a later reprocess over an earlier), then
/// the later processing.
fn comes_before(a: &str, b: &str) -> String {
    let (sa, sb) = (ordered_sequencer(a), ordered_sequencer(b));
    let (oa, ob) = (answered(a), answered(b));
    let (ga, gb) = (generation(a), generation(b));
    let (pa, pb) = (format!("{a}.\"processed_at\""), format!("{b}.\"processed_at\""));
    format!(
        "({sa} < {sb} OR ({sa} = {sb} AND ({oa} < {ob} OR ({oa} = {ob} AND ({ga} < {gb} OR ({ga} = {gb} AND \
         {pa} < {pb}))))))"
    )
}

/// Whether `a`'s row and `b`'s answer the same bytes of their recording (the same ETag, or neither has one).
fn same_bytes(a: &str, b: &str) -> String {
    format!("COALESCE({a}.\"etag\", '') = COALESCE({b}.\"etag\", '')")
}

/// The statements of one load, in order, for one `BatchExecuteStatement` (at most 40 statements).
pub fn load_statements(tables: &Tables, auth: &CopyAuthorization, batch: &Batch) -> Result<Vec<String>, CoreError> {
    let auth = auth.sql()?;
    let results = &tables.results;
    let cols = columns(&results_schema());
    let list = cols.join(", ");
    let mut sql = vec![format!("CREATE TEMP TABLE {STAGE} (LIKE {results})")];
    sql.extend(copy_statements(&results_schema(), STAGE, results, &auth, &batch.results)?);
    sql.extend([
        format!("CREATE TEMP TABLE {LATEST} (LIKE {results})"),
        format!(
            "INSERT INTO {LATEST} ({list}) SELECT {list} FROM (SELECT {list}, ROW_NUMBER() OVER (PARTITION BY \"id\" \
             ORDER BY {} DESC, {} DESC, {} DESC, \"processed_at\" DESC) AS redscribe_rank FROM {STAGE}) AS ranked \
             WHERE redscribe_rank = 1",
            ordered_sequencer(STAGE),
            answered(STAGE),
            generation(STAGE)
        ),
        // An erasure, and the tombstone it leaves, are ordered against any row whatever its bytes: a later upload
        // replaces the tombstone, nothing older of the recording replaces it or survives it.
        format!(
            "DELETE FROM {LATEST} USING {results} WHERE {LATEST}.\"id\" = {results}.\"id\" AND ({} OR {} OR {}) \
             AND {}",
            same_bytes(LATEST, &results.to_string()),
            erased(LATEST),
            erased(&results.to_string()),
            comes_before(LATEST, &results.to_string())
        ),
    ]);
    let updates = cols
        .iter()
        .filter(|c| *c != "\"id\"")
        .map(|c| if c == "\"loaded_at\"" { format!("{c} = GETDATE()") } else { format!("{c} = s.{c}") })
        .collect::<Vec<_>>()
        .join(", ");
    let values = cols
        .iter()
        .map(|c| if c == "\"loaded_at\"" { "GETDATE()".to_string() } else { format!("s.{c}") })
        .collect::<Vec<_>>()
        .join(", ");
    sql.push(format!(
        "MERGE INTO {results} USING {LATEST} AS s ON {results}.\"id\" = s.\"id\" \
         WHEN MATCHED THEN UPDATE SET {updates} WHEN NOT MATCHED THEN INSERT ({list}) VALUES ({values})"
    ));
    for detail in Detail::ALL {
        let groups = batch.details.get(&detail).map_or(&[][..], Vec::as_slice);
        sql.extend(detail_statements(detail, tables.detail(detail), &auth, groups)?);
    }
    // The audit rows: staged from the batch's JSON Lines file, then written with the batch's id and time.
    sql.push(format!(
        "CREATE TEMP TABLE {STAGE_AUDIT} (\"file_uri\" VARCHAR(1024), \"manifest_uri\" VARCHAR(1024), \
         \"table_name\" VARCHAR(127), \"rows_loaded\" BIGINT, \"file_etag\" VARCHAR(64), \"status\" VARCHAR(16), \
         \"error_message\" VARCHAR(1024))"
    ));
    sql.push(format!("COPY {STAGE_AUDIT} FROM {} {auth} FORMAT AS JSON 'auto'", literal(&batch.audit_file)?));
    let audit_cols = columns(&load_audit_schema()).join(", ");
    sql.push(format!(
        "INSERT INTO {} ({audit_cols}) SELECT \"file_uri\", \"manifest_uri\", \"table_name\", {}, \"rows_loaded\", \
         COALESCE(\"status\", 'loaded'), \"error_message\", GETDATE(), \"file_etag\" FROM {STAGE_AUDIT}",
        tables.audit,
        literal(&batch.id)?
    ));
    if sql.len() > BATCH_MAX_STATEMENTS || sql.iter().any(|s| s.len() > STATEMENT_MAX_BYTES) {
        return Err(CoreError::Load(format!(
            "the load does not fit the Data API: {} statements (at most {BATCH_MAX_STATEMENTS}), the longest {} bytes \
             (at most {STATEMENT_MAX_BYTES})",
            sql.len(),
            sql.iter().map(String::len).max().unwrap_or_default()
        )));
    }
    Ok(sql)
}

/// The COPYs that fill `stage` (a table like `table`, of `schema`) from `groups`: a group of the table's shape
/// straight in; a group of an earlier schema into a stage of its own columns (created empty from the table's
/// first columns), then moved into `stage` with the later columns NULL.
fn copy_statements(
    schema: &arrow_schema::Schema,
    stage: &str,
    table: &Identifier,
    auth: &str,
    groups: &[Staged],
) -> Result<Vec<String>, CoreError> {
    let all = columns(schema);
    let mut sql = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        if group.columns == 0 || group.columns > all.len() || groups[..i].iter().any(|g| g.columns == group.columns) {
            return Err(CoreError::Load(format!(
                "a group of {} columns for a stage of {} (one group per shape)",
                group.columns,
                all.len()
            )));
        }
        let manifest = literal(&group.manifest)?;
        if group.columns == all.len() {
            sql.push(format!("COPY {stage} FROM {manifest} {auth} FORMAT AS PARQUET MANIFEST"));
            continue;
        }
        let older = format!("{stage}_{}", group.columns);
        let list = all[..group.columns].join(", ");
        sql.push(format!("CREATE TEMP TABLE {older} AS SELECT {list} FROM {table} LIMIT 0"));
        sql.push(format!("COPY {older} FROM {manifest} {auth} FORMAT AS PARQUET MANIFEST"));
        sql.push(format!("INSERT INTO {stage} ({list}) SELECT {list} FROM {older}"));
    }
    Ok(sql)
}

/// The detail of a recording whose row is replaced goes, whether or not the new processing has any (a re-upload
/// that is now silence leaves no stale text behind); the batch's files of it, when it brings some, are staged and
/// the rows of the processing that produced each surviving row (same id, same processing time) inserted.
fn detail_statements(
    detail: Detail,
    table: &Identifier,
    auth: &str,
    groups: &[Staged],
) -> Result<Vec<String>, CoreError> {
    let mut sql = vec![format!("DELETE FROM {table} USING {LATEST} WHERE {table}.\"id\" = {LATEST}.\"id\"")];
    if !groups.is_empty() {
        let stage = format!("redscribe_stage_{}", detail.table());
        let schema = detail.schema();
        let cols = columns(&schema);
        let list = cols.join(", ");
        let select = cols.iter().map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ");
        sql.push(format!("CREATE TEMP TABLE {stage} (LIKE {table})"));
        sql.extend(copy_statements(&schema, &stage, table, auth, groups)?);
        sql.push(format!(
            "INSERT INTO {table} ({list}) SELECT {select} FROM {stage} AS d JOIN {LATEST} AS l \
             ON d.\"id\" = l.\"id\" AND d.\"processed_at\" = l.\"processed_at\""
        ));
    }
    Ok(sql)
}

/// The statements that purge every row processed before `cutoff` (its segments, words and attributes with it),
/// for one `BatchExecuteStatement`: what a deployment's result retention (`ResultRetentionDays`) does to the
/// warehouse, since S3's lifecycle expiry of the files raises no event. The purge is recorded in `load_audit`
/// (status `purged`, the cutoff in its `file_uri`), under `statement_id` `id`.
pub fn purge_statements(
    tables: &Tables,
    cutoff: chrono::DateTime<chrono::Utc>,
    id: &str,
) -> Result<Vec<String>, CoreError> {
    let results = &tables.results;
    let before = literal(&cutoff.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())?;
    let mut sql: Vec<String> = Detail::ALL
        .iter()
        .map(|d| {
            let table = tables.detail(*d);
            format!(
                "DELETE FROM {table} USING {results} WHERE {table}.\"id\" = {results}.\"id\" AND \
                 {results}.\"processed_at\" < {before}"
            )
        })
        .collect();
    sql.push(format!("DELETE FROM {results} WHERE \"processed_at\" < {before}"));
    let cutoff_text = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    sql.push(format!(
        "INSERT INTO {} (\"file_uri\", \"manifest_uri\", \"table_name\", \"statement_id\", \"rows_loaded\", \
         \"status\", \"error_message\", \"loaded_at\") VALUES ({}, NULL, {}, {}, 0, 'purged', {}, GETDATE())",
        tables.audit,
        literal(&format!("retention:{cutoff_text}"))?,
        literal(results.name())?,
        literal(id)?,
        literal(&format!("rows processed before {cutoff_text} purged by the result retention"))?,
    ));
    Ok(sql)
}

/// The batch's `load_audit` rows as JSON Lines, for the COPY of [`load_statements`]: one line per file of the
/// batch — results, then each detail table's — with its manifest, its table and its rows.
pub fn audit_lines(tables: &Tables, batch: &Batch) -> Vec<u8> {
    let mut files = of(&batch.results, &tables.results);
    for (detail, groups) in &batch.details {
        files.extend(of(groups, tables.detail(*detail)));
    }
    let mut out = Vec::new();
    for (file, manifest, table) in files {
        let mut line = serde_json::json!({
            "file_uri": file.uri,
            "manifest_uri": manifest,
            "table_name": table.name(),
            "rows_loaded": file.rows,
            "file_etag": file.etag,
        });
        if let Some(objects) = file.erased {
            line["status"] = "erased".into();
            line["error_message"] = format!("erasure: {objects} object versions of the recording deleted").into();
        }
        serde_json::to_writer(&mut out, &line).expect("JSON serialises");
        out.push(b'\n');
    }
    out
}

/// Each file of `groups` with its group's manifest and `table`.
fn of<'a>(groups: &'a [Staged], table: &'a Identifier) -> Vec<(&'a BatchFile, &'a String, &'a Identifier)> {
    groups.iter().flat_map(|g| g.files.iter().map(move |f| (f, &g.manifest, table))).collect()
}

/// The `COPY` manifest for a set of files (`content_length` is required for Parquet entries).
pub fn manifest(files: &[(String, u64)]) -> serde_json::Value {
    let entries: Vec<_> = files
        .iter()
        .map(|(url, len)| serde_json::json!({ "url": url, "mandatory": true, "meta": { "content_length": len } }))
        .collect();
    serde_json::json!({ "entries": entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results_columns() -> usize {
        results_schema().fields().len()
    }

    fn batch() -> Batch {
        Batch {
            id: "b-1".into(),
            results: vec![Staged {
                columns: results_columns(),
                manifest: "s3://out/manifests/m.json".into(),
                files: vec![BatchFile {
                    uri: "s3://out/processed/a'; drop table x; --.parquet".into(),
                    rows: 1,
                    ..BatchFile::default()
                }],
            }],
            details: BTreeMap::new(),
            audit_file: "s3://out/manifests/m.audit.jsonl".into(),
        }
    }

    #[test]
    fn values_are_literals_and_names_are_quoted() {
        let tables = Tables::new(Some("analytics"), "transcription_results").unwrap();
        let sql =
            load_statements(&tables, &CopyAuthorization::IamRole("arn:aws:iam::1:role/r".into()), &batch()).unwrap();
        assert_eq!(sql.len(), 12);
        assert!(sql[0].contains("(LIKE \"analytics\".\"transcription_results\")"), "{}", sql[0]);
        assert!(sql[1].ends_with("IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET MANIFEST"), "{}", sql[1]);
        assert!(sql[6].starts_with("DELETE FROM \"analytics\".\"transcription_segments\""), "no segments: old ones go");
        assert!(sql[7].starts_with("DELETE FROM \"analytics\".\"transcription_words\""), "no words: old ones go");
        assert!(sql[8].starts_with("DELETE FROM \"analytics\".\"transcription_attributes\""), "nor attributes");
        assert!(sql[10].contains("'s3://out/manifests/m.audit.jsonl'"), "{}", sql[10]);
        assert!(sql[11].starts_with("INSERT INTO \"analytics\".\"load_audit\""), "{}", sql[11]);
        let lines = String::from_utf8(audit_lines(&tables, &batch())).unwrap();
        let line: serde_json::Value = serde_json::from_str(lines.trim_end()).unwrap();
        assert_eq!(line["file_uri"], "s3://out/processed/a'; drop table x; --.parquet");
        assert_eq!(line["table_name"], "transcription_results");
        assert_eq!(line.get("status"), None, "loaded, as the statement says when a line does not");
        let mut erasure = batch();
        erasure.results[0].files[0].erased = Some(7);
        let lines = String::from_utf8(audit_lines(&tables, &erasure)).unwrap();
        let line: serde_json::Value = serde_json::from_str(lines.trim_end()).unwrap();
        assert_eq!(line["status"], "erased");
        assert_eq!(line["error_message"], "erasure: 7 object versions of the recording deleted");
    }

    #[test]
    fn statements_are_the_same_size_whatever_the_batch_holds() {
        let auth = CopyAuthorization::DefaultRole;
        let one = load_statements(&Tables::default(), &auth, &batch()).unwrap();
        let mut many = batch();
        many.results[0].files = (0..5000)
            .map(|i| BatchFile {
                uri: format!("s3://out/processed/dt=2026-12-02/{i:032x}-v.parquet"),
                rows: 1,
                ..BatchFile::default()
            })
            .collect();
        let sql = load_statements(&Tables::default(), &auth, &many).unwrap();
        assert_eq!(sql, one, "the files are in the manifest and the audit file, not in the statements");
        assert!(sql.iter().all(|s| s.len() < STATEMENT_MAX_BYTES / 10));
        assert_eq!(String::from_utf8(audit_lines(&Tables::default(), &many)).unwrap().lines().count(), 5000);
    }

    #[test]
    fn each_detail_table_adds_three_statements() {
        let mut b = batch();
        let file = |uri: &str, rows, detail: Detail| {
            vec![Staged {
                columns: detail.schema().fields().len(),
                manifest: format!("{uri}.manifest"),
                files: vec![BatchFile { uri: uri.into(), rows, ..BatchFile::default() }],
            }]
        };
        b.details.insert(Detail::Segments, file("s3://out/processed/s.parquet", 3, Detail::Segments));
        let sql = load_statements(&Tables::default(), &CopyAuthorization::DefaultRole, &b).unwrap();
        assert_eq!(sql.len(), 15);
        b.details.insert(Detail::Words, file("s3://out/processed/w.parquet", 30, Detail::Words));
        let sql = load_statements(&Tables::default(), &CopyAuthorization::DefaultRole, &b).unwrap();
        assert_eq!(sql.len(), 18);
        assert!(sql
            .iter()
            .any(|s| s.starts_with("COPY redscribe_stage_transcription_words FROM 's3://out/processed/w")));
        let lines = String::from_utf8(audit_lines(&Tables::default(), &b)).unwrap();
        let lines: Vec<&str> = lines.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].contains("\"table_name\":\"transcription_segments\""), "{lines:?}");
        assert!(lines[1].contains("s3://out/processed/s.parquet.manifest"), "{lines:?}");
        assert!(lines[2].contains("\"table_name\":\"transcription_words\""), "{lines:?}");
        assert!(lines[2].contains("\"rows_loaded\":30"), "{lines:?}");
    }

    #[test]
    fn files_of_an_earlier_schema_go_through_a_stage_of_their_own_shape() {
        let mut b = batch();
        // A result file written before cost_usd was appended (schema 4: 33 columns), beside one of today's.
        b.results.push(Staged {
            columns: 33,
            manifest: "s3://out/manifests/m-older.json".into(),
            files: vec![BatchFile { uri: "s3://out/processed/old.parquet".into(), rows: 1, ..BatchFile::default() }],
        });
        let sql = load_statements(&Tables::default(), &CopyAuthorization::DefaultRole, &b).unwrap();
        assert_eq!(sql.len(), 15, "three more statements: the older stage, its COPY, its move");
        let older = "redscribe_stage_results_33";
        assert!(sql[2].starts_with(&format!("CREATE TEMP TABLE {older} AS SELECT \"id\", \"text\"")), "{}", sql[2]);
        assert!(sql[2].ends_with("\"language_probability\" FROM \"transcription_results\" LIMIT 0"), "{}", sql[2]);
        assert!(sql[3].starts_with(&format!("COPY {older} FROM 's3://out/manifests/m-older.json'")), "{}", sql[3]);
        assert!(sql[4].starts_with("INSERT INTO redscribe_stage_results (\"id\""), "{}", sql[4]);
        assert!(!sql[4].contains("cost_usd"), "the later columns stay NULL: {}", sql[4]);
        let lines = String::from_utf8(audit_lines(&Tables::default(), &b)).unwrap();
        assert!(lines.lines().nth(1).unwrap().contains("m-older.json"), "{lines}");
        // One group per shape, and no shape wider than the table.
        let mut twice = b.clone();
        twice.results.push(twice.results[1].clone());
        assert!(load_statements(&Tables::default(), &CopyAuthorization::DefaultRole, &twice).is_err());
        let mut wider = batch();
        wider.results[0].columns += 1;
        assert!(load_statements(&Tables::default(), &CopyAuthorization::DefaultRole, &wider).is_err());
    }

    #[test]
    fn a_purge_takes_the_detail_with_the_rows_and_records_itself() {
        let cutoff = chrono::DateTime::from_timestamp(1_796_116_500, 0).unwrap();
        let sql = purge_statements(&Tables::default(), cutoff, "purge-1").unwrap();
        assert_eq!(sql.len(), Detail::ALL.len() + 2);
        assert!(
            sql[0].starts_with("DELETE FROM \"transcription_segments\" USING \"transcription_results\""),
            "{}",
            sql[0]
        );
        assert!(sql[0].ends_with("\"processed_at\" < '2026-12-01 09:15:00.000000+00'"), "{}", sql[0]);
        assert_eq!(
            sql[3],
            "DELETE FROM \"transcription_results\" WHERE \"processed_at\" < '2026-12-01 09:15:00.000000+00'"
        );
        assert!(sql[4].contains("'retention:2026-12-01T09:15:00Z'") && sql[4].contains("'purged'"), "{}", sql[4]);
    }

    #[test]
    fn manifest_entries_are_mandatory_with_lengths() {
        let m = manifest(&[("s3://b/k.parquet".into(), 42)]);
        assert_eq!(m["entries"][0]["mandatory"], true);
        assert_eq!(m["entries"][0]["meta"]["content_length"], 42);
    }
}
