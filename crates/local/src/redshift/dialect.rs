//! Redshift SQL in, DuckDB work out.
//!
//! Every statement is parsed with `sqlparser`'s Redshift dialect and rewritten on the syntax tree, never by searching
//! the text: table DDL loses the distribution and sort clauses (they have no effect on one machine) and the key
//! constraints (Redshift does not enforce them), character lengths become CHECK constraints (Redshift rejects a
//! value longer than its column, counted in bytes), `CREATE TEMP TABLE … (LIKE …)` becomes an empty copy, and
//! `COPY` becomes a [`CopyPlan`] that the engine runs against the S3 stand-in's objects. Data API `Parameters`
//! (`:name`) are bound on the token stream as string literals, as the service binds them. Anything the stand-in
//! cannot honour is an error in Redshift's words, never a silent success.

use std::collections::HashMap;

use sqlparser::ast::{
    CharacterLength, CheckConstraint, ColumnOption, ColumnOptionDef, CopyLegacyCsvOption, CopyLegacyOption, CopySource,
    CopyTarget, CreateTable, CreateTableLikeKind, DataType, Ident, ObjectName, Statement, Value,
};
use sqlparser::dialect::{GenericDialect, RedshiftSqlDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Redshift's length for `VARCHAR` and `TEXT` without one.
const DEFAULT_VARCHAR: u64 = 256;
/// Redshift's largest `VARCHAR`, and the length of `VARCHAR(MAX)`.
const MAX_VARCHAR: u64 = 65535;

/// A statement the engine can run.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// DuckDB SQL; `returns_rows` when the statement produces a result set.
    Sql { sql: String, returns_rows: bool },
    /// A Redshift `COPY … FROM 's3://…'`.
    Copy(CopyPlan),
    /// `BEGIN` / `START TRANSACTION`.
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK` / `ABORT`.
    Rollback,
    /// Accepted and without effect here (`VACUUM`, `ANALYZE`, `GRANT`, …).
    NoOp,
}

/// What one `COPY` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyPlan {
    /// Target table as written (DuckDB accepts the same quoting).
    pub table: String,
    /// Explicit column list; empty means every column in table order.
    pub columns: Vec<String>,
    /// `s3://bucket/prefix-or-key`, or the manifest's URI when `manifest` is set.
    pub source: String,
    pub format: CopyFormat,
    pub manifest: bool,
    pub compression: Option<Compression>,
    /// `IGNOREHEADER n`.
    pub ignore_header: u64,
    /// `NULL AS '…'`.
    pub null_as: Option<String>,
}

/// Input formats of `COPY`.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyFormat {
    /// `FORMAT AS PARQUET`: columns by position.
    Parquet,
    /// `JSON 'auto'`: object keys matched to column names.
    JsonAuto,
    /// `JSON 's3://…'`: a JSONPaths file, one path per column, by position.
    JsonPaths(String),
    /// `CSV [QUOTE AS 'q'] [DELIMITER 'd']`.
    Csv { delimiter: char, quote: char },
    /// The default text format: `|`-delimited (or `DELIMITER`), backslash escapes.
    Text { delimiter: char },
}

/// Compression of COPY's input files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

/// A statement the stand-in refuses, worded as Redshift words it where it has an equivalent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SqlError(pub String);

fn unsupported(what: impl std::fmt::Display) -> SqlError {
    SqlError(format!("{what} is not supported by the local Redshift stand-in"))
}

/// Parses Redshift SQL (one or more `;`-separated statements), binds `:name` parameters and translates each
/// statement.
pub fn translate(sql: &str, parameters: &HashMap<String, String>) -> Result<Vec<Step>, SqlError> {
    let dialect = RedshiftSqlDialect {};
    let tokens =
        Tokenizer::new(&dialect, sql).tokenize().map_err(|e| SqlError(format!("syntax error: {}", e.message)))?;
    // Redshift quotes identifiers with double quotes only; sqlparser's Redshift dialect also takes `[…]`, which
    // DuckDB reads as a list: text both would read differently is refused, not run.
    if let Some(word) = tokens.iter().find_map(|t| match t {
        Token::Word(w) if matches!(w.quote_style, Some('[') | Some('`')) => Some(w),
        _ => None,
    }) {
        return Err(SqlError(format!("syntax error at or near \"{}\"", word.quote_style.unwrap_or('['))));
    }
    let tokens = bind_parameters(tokens, parameters)?;
    let statements = Parser::new(&dialect)
        .with_tokens(tokens)
        .parse_statements()
        .map_err(|e| SqlError(format!("syntax error: {}", strip_parser_prefix(&e.to_string()))))?;
    if statements.is_empty() {
        return Err(SqlError("the SQL text holds no statement".into()));
    }
    statements.into_iter().map(translate_statement).map(|step| step.and_then(one_statement)).collect()
}

/// The one statement that was checked is the one DuckDB runs: the text rendered for it must hold no `;` as
/// DuckDB's own lexing reads it (DuckDB runs every statement of a text it is given), else it is refused.
fn one_statement(step: Step) -> Result<Step, SqlError> {
    if let Step::Sql { sql, .. } = &step {
        let tokens = Tokenizer::new(&sqlparser::dialect::DuckDbDialect {}, sql)
            .tokenize()
            .map_err(|e| SqlError(format!("syntax error: {}", e.message)))?;
        if tokens.contains(&Token::SemiColon) {
            return Err(SqlError("syntax error: the statement does not read as one statement".into()));
        }
    }
    Ok(step)
}

fn strip_parser_prefix(message: &str) -> &str {
    message.strip_prefix("sql parser error: ").unwrap_or(message)
}

/// Replaces every `:name` with the parameter's value as a string literal; Redshift casts it to the type the
/// context needs. A `:name` without a value is an error, as the service reports it.
fn bind_parameters(tokens: Vec<Token>, parameters: &HashMap<String, String>) -> Result<Vec<Token>, SqlError> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut iter = tokens.into_iter().peekable();
    while let Some(token) = iter.next() {
        if token == Token::Colon {
            if let Some(Token::Word(word)) = iter.peek() {
                if word.quote_style.is_none() {
                    let name = word.value.clone();
                    let value = parameters
                        .get(&name)
                        .ok_or_else(|| SqlError(format!("No value specified for parameter: {name}")))?;
                    iter.next();
                    out.push(Token::SingleQuotedString(value.clone()));
                    continue;
                }
            }
        }
        out.push(token);
    }
    Ok(out)
}

fn translate_statement(statement: Statement) -> Result<Step, SqlError> {
    match statement {
        Statement::StartTransaction { .. } => Ok(Step::Begin),
        Statement::Commit { .. } => Ok(Step::Commit),
        Statement::Rollback { savepoint: None, .. } => Ok(Step::Rollback),
        Statement::Copy { source, to, target, options, legacy_options, .. } => {
            if to {
                return Err(unsupported("COPY … TO (use UNLOAD on Redshift)"));
            }
            if !options.is_empty() {
                return Err(unsupported("COPY with PostgreSQL WITH options"));
            }
            copy_plan(source, target, legacy_options).map(Step::Copy)
        }
        Statement::CreateTable(table) => create_table(table),
        Statement::Vacuum(_) | Statement::Analyze(_) | Statement::Grant(_) | Statement::Revoke(_) => Ok(Step::NoOp),
        // EXPLAIN of a query only, and without ANALYZE (which runs it): Redshift's EXPLAIN plans a query.
        Statement::Explain { analyze: true, .. } => Err(unsupported("EXPLAIN ANALYZE")),
        Statement::Explain { statement, .. } if !matches!(*statement, Statement::Query(_)) => {
            Err(unsupported("EXPLAIN of anything but a query"))
        }
        statement @ (Statement::Query(_)
        | Statement::Explain { .. }
        | Statement::ExplainTable { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowVariable { .. }) => Ok(Step::Sql { sql: statement.to_string(), returns_rows: true }),
        statement @ (Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Merge(_)
        | Statement::Truncate(_)
        | Statement::CreateView(_)
        | Statement::CreateSchema { .. }
        | Statement::Drop { .. }
        | Statement::AlterTable(_)
        | Statement::Set(_)
        | Statement::Comment { .. }) => Ok(Step::Sql { sql: statement.to_string(), returns_rows: false }),
        other => {
            let text = other.to_string();
            let head: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            Err(unsupported(format!("the statement \"{head} …\"")))
        }
    }
}

/// `CREATE TABLE` for DuckDB: Redshift's physical clauses dropped, its types mapped, lengths checked.
fn create_table(mut table: CreateTable) -> Result<Step, SqlError> {
    if let Some(like) = table.like.take() {
        let (CreateTableLikeKind::Parenthesized(like) | CreateTableLikeKind::Plain(like)) = like;
        if !table.columns.is_empty() {
            return Err(unsupported("CREATE TABLE with both columns and LIKE"));
        }
        // An empty table with the source's columns and types.
        let temporary = if table.temporary { "TEMPORARY " } else { "" };
        let if_not_exists = if table.if_not_exists { "IF NOT EXISTS " } else { "" };
        return Ok(Step::Sql {
            sql: format!(
                "CREATE {temporary}TABLE {if_not_exists}{} AS SELECT * FROM {} LIMIT 0",
                table.name, like.name
            ),
            returns_rows: false,
        });
    }
    table.diststyle = None;
    table.distkey = None;
    table.sortkey = None;
    table.backup = None;
    // Redshift accepts key constraints as planner hints and enforces none of them.
    table.constraints.clear();
    for column in &mut table.columns {
        column.options.retain(|o| {
            !matches!(o.option, ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_) | ColumnOption::ForeignKey(_))
        });
        let (data_type, max_bytes) = duckdb_type(&column.data_type)?;
        column.data_type = data_type;
        if let Some(limit) = max_bytes {
            column
                .options
                .push(ColumnOptionDef { name: None, option: ColumnOption::Check(length_check(&column.name, limit)?) });
        }
    }
    Ok(Step::Sql { sql: Statement::CreateTable(table).to_string(), returns_rows: false })
}

/// `strlen(column) <= limit`: DuckDB's `strlen` counts bytes, as Redshift's VARCHAR lengths do. Named with its
/// catalog (`system.main.strlen`): DuckDB 1.5 cannot replay an `ALTER TABLE … ADD COLUMN` from its WAL on a table
/// whose CHECK calls an unqualified function ("GetDefaultDatabase with no default database set"), which left the
/// warehouse unopenable after a crash between a migration and the next checkpoint.
fn length_check(column: &Ident, limit: u64) -> Result<CheckConstraint, SqlError> {
    let expr = Parser::new(&GenericDialect {})
        .try_with_sql(&format!("system.main.strlen({column}) <= {limit}"))
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError(format!("internal: length check for {column}: {e}")))?;
    Ok(CheckConstraint { name: None, expr: Box::new(expr), no_inherit: false, enforced: None })
}

fn char_length(length: &Option<CharacterLength>, default: u64) -> u64 {
    match length {
        None => default,
        Some(CharacterLength::Max) => MAX_VARCHAR,
        Some(CharacterLength::IntegerLength { length, .. }) => *length,
    }
}

/// The DuckDB type for a Redshift column type, and the byte limit to check for character types.
fn duckdb_type(data_type: &DataType) -> Result<(DataType, Option<u64>), SqlError> {
    let varchar = |limit: u64| -> Result<(DataType, Option<u64>), SqlError> {
        if limit == 0 || limit > MAX_VARCHAR {
            return Err(SqlError(format!("length for type varchar cannot exceed {MAX_VARCHAR}")));
        }
        Ok((DataType::Varchar(None), Some(limit)))
    };
    match data_type {
        DataType::Varchar(l) | DataType::CharacterVarying(l) | DataType::Nvarchar(l) => {
            varchar(char_length(l, DEFAULT_VARCHAR))
        }
        DataType::Char(l) | DataType::Character(l) => varchar(char_length(l, 1)),
        DataType::Text => varchar(DEFAULT_VARCHAR),
        DataType::Custom(name, _) => {
            let name = name.to_string().to_ascii_lowercase();
            match name.as_str() {
                "super" => Ok((DataType::JSON, None)),
                "bpchar" => varchar(DEFAULT_VARCHAR),
                "timestamptz" | "timetz" | "float8" | "float4" | "int2" | "int4" | "int8" | "bool" => {
                    Ok((data_type.clone(), None))
                }
                _ => Err(SqlError(format!("type \"{name}\" does not exist"))),
            }
        }
        other => Ok((other.clone(), None)),
    }
}

fn copy_plan(source: CopySource, target: CopyTarget, options: Vec<CopyLegacyOption>) -> Result<CopyPlan, SqlError> {
    let CopySource::Table { table_name, columns } = source else {
        return Err(unsupported("COPY from a query"));
    };
    let CopyTarget::File { filename } = target else {
        return Err(SqlError("COPY needs a FROM 's3://bucket/prefix' source".into()));
    };
    if !filename.starts_with("s3://") {
        return Err(SqlError(format!("Invalid S3 URI '{filename}': COPY reads s3:// objects only")));
    }
    let mut plan = CopyPlan {
        table: table_name.to_string(),
        columns: columns.iter().map(Ident::to_string).collect(),
        source: filename,
        format: CopyFormat::Text { delimiter: '|' },
        manifest: false,
        compression: None,
        ignore_header: 0,
        null_as: None,
    };
    let mut delimiter: Option<char> = None;
    let mut authorized = false;
    for option in options {
        match option {
            CopyLegacyOption::IamRole(_) | CopyLegacyOption::Credentials(_) => authorized = true,
            CopyLegacyOption::Parquet => plan.format = CopyFormat::Parquet,
            CopyLegacyOption::Json(None) => plan.format = CopyFormat::JsonAuto,
            CopyLegacyOption::Json(Some(arg)) => {
                plan.format = match arg.to_ascii_lowercase().as_str() {
                    "auto" => CopyFormat::JsonAuto,
                    _ if arg.starts_with("s3://") => CopyFormat::JsonPaths(arg),
                    _ => return Err(unsupported(format!("JSON '{arg}'"))),
                }
            }
            CopyLegacyOption::Csv(csv_options) => {
                let mut quote = '"';
                for o in csv_options {
                    match o {
                        CopyLegacyCsvOption::Quote(q) => quote = q,
                        other => return Err(unsupported(format!("CSV option {other}"))),
                    }
                }
                plan.format = CopyFormat::Csv { delimiter: ',', quote };
            }
            CopyLegacyOption::Delimiter(d) => delimiter = Some(d),
            CopyLegacyOption::Manifest { .. } => plan.manifest = true,
            CopyLegacyOption::Gzip => plan.compression = Some(Compression::Gzip),
            CopyLegacyOption::Zstd => plan.compression = Some(Compression::Zstd),
            CopyLegacyOption::IgnoreHeader(n) => plan.ignore_header = n,
            CopyLegacyOption::Null(s) => plan.null_as = Some(s),
            CopyLegacyOption::TimeFormat(f) | CopyLegacyOption::DateFormat(f) => match f.as_deref() {
                None | Some("auto") | Some("AUTO") => {}
                Some(other) => return Err(unsupported(format!("TIMEFORMAT/DATEFORMAT '{other}' (only 'auto')"))),
            },
            // Accepted, without effect on one machine.
            CopyLegacyOption::Region(_)
            | CopyLegacyOption::CompUpdate { .. }
            | CopyLegacyOption::StatUpdate(_)
            | CopyLegacyOption::AcceptAnyDate
            | CopyLegacyOption::EmptyAsNull
            | CopyLegacyOption::BlankAsNull => {}
            other => return Err(unsupported(format!("COPY option {other}"))),
        }
    }
    if !authorized {
        return Err(SqlError("COPY needs an authorization: IAM_ROLE or CREDENTIALS".into()));
    }
    if let Some(d) = delimiter {
        match &mut plan.format {
            CopyFormat::Csv { delimiter, .. } | CopyFormat::Text { delimiter } => *delimiter = d,
            _ => return Err(SqlError("DELIMITER applies to CSV and text input only".into())),
        }
    }
    if plan.ignore_header > 0 && !matches!(plan.format, CopyFormat::Csv { .. } | CopyFormat::Text { .. }) {
        return Err(SqlError("IGNOREHEADER applies to CSV and text input only".into()));
    }
    Ok(plan)
}

/// A string literal for DuckDB SQL that the engine builds itself (file paths, names).
pub fn literal(value: &str) -> String {
    Value::SingleQuotedString(value.to_string()).to_string()
}

/// A quoted identifier for DuckDB SQL that the engine builds itself.
pub fn ident(name: &str) -> String {
    Ident::with_quote('"', name).to_string()
}

/// Parses a table name the way Redshift would (for catalog lookups).
pub fn table_name_parts(name: &str) -> Result<Vec<String>, SqlError> {
    let object: ObjectName = Parser::new(&RedshiftSqlDialect {})
        .try_with_sql(name)
        .and_then(|mut p| p.parse_object_name(false))
        .map_err(|e| SqlError(format!("invalid table name {name}: {e}")))?;
    Ok(object
        .0
        .iter()
        .map(|part| {
            let ident = part.as_ident().cloned().unwrap_or_else(|| Ident::new(part.to_string()));
            // Unquoted names fold to lower case in Redshift.
            if ident.quote_style.is_some() {
                ident.value
            } else {
                ident.value.to_lowercase()
            }
        })
        .collect())
}

/// Whether an expression is a plain literal (used by tests of the parameter binding).
#[cfg(test)]
fn is_string_literal(expr: &sqlparser::ast::Expr, expected: &str) -> bool {
    matches!(expr, sqlparser::ast::Expr::Value(v) if v.value == Value::SingleQuotedString(expected.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Step {
        let mut steps = translate(sql, &HashMap::new()).unwrap();
        assert_eq!(steps.len(), 1, "{sql}");
        steps.remove(0)
    }

    fn sql_of(step: Step) -> String {
        match step {
            Step::Sql { sql, .. } => sql,
            other => panic!("expected SQL, got {other:?}"),
        }
    }

    #[test]
    fn create_table_drops_physical_clauses_and_checks_lengths() {
        let sql = sql_of(one(
            "CREATE TABLE IF NOT EXISTS t (id VARCHAR(50) NOT NULL, body VARCHAR(MAX), note TEXT, flag CHAR, \
             doc SUPER, ts TIMESTAMPTZ, PRIMARY KEY (id)) DISTSTYLE KEY DISTKEY (id) SORTKEY (ts)",
        ));
        assert!(!sql.contains("DISTSTYLE") && !sql.contains("SORTKEY") && !sql.contains("PRIMARY KEY"), "{sql}");
        assert!(sql.contains("CHECK (system.main.strlen(id) <= 50)"), "{sql}");
        assert!(sql.contains("CHECK (system.main.strlen(body) <= 65535)"), "{sql}");
        assert!(sql.contains("CHECK (system.main.strlen(note) <= 256)"), "{sql}");
        assert!(sql.contains("CHECK (system.main.strlen(flag) <= 1)"), "{sql}");
        assert!(sql.contains("doc JSON"), "{sql}");
    }

    #[test]
    fn varchar_longer_than_redshift_allows_is_refused() {
        let err = translate("CREATE TABLE t (a VARCHAR(70000))", &HashMap::new()).unwrap_err();
        assert!(err.0.contains("cannot exceed 65535"), "{err}");
    }

    #[test]
    fn temp_table_like_becomes_an_empty_copy() {
        let sql = sql_of(one("CREATE TEMP TABLE stage (LIKE transcription_results)"));
        assert_eq!(sql, "CREATE TEMPORARY TABLE stage AS SELECT * FROM transcription_results LIMIT 0");
    }

    #[test]
    fn copy_parquet_manifest() {
        let Step::Copy(plan) = one(
            "COPY public.t FROM 's3://b/manifests/m.json' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET MANIFEST",
        ) else {
            panic!()
        };
        assert_eq!(plan.table, "public.t");
        assert_eq!(plan.format, CopyFormat::Parquet);
        assert!(plan.manifest);
        assert_eq!(plan.source, "s3://b/manifests/m.json");
    }

    #[test]
    fn copy_json_csv_and_columns() {
        let Step::Copy(p) = one("COPY t (a, b) FROM 's3://b/p/' IAM_ROLE default JSON 'auto' TIMEFORMAT 'auto'") else {
            panic!()
        };
        assert_eq!(p.columns, vec!["a", "b"]);
        assert_eq!(p.format, CopyFormat::JsonAuto);
        let Step::Copy(p) = one("COPY t FROM 's3://b/p' IAM_ROLE default JSON 's3://b/paths.json' GZIP") else {
            panic!()
        };
        assert_eq!(p.format, CopyFormat::JsonPaths("s3://b/paths.json".into()));
        assert_eq!(p.compression, Some(Compression::Gzip));
        let Step::Copy(p) = one("COPY t FROM 's3://b/p' CREDENTIALS 'aws_access_key_id=x' CSV IGNOREHEADER 1") else {
            panic!()
        };
        assert_eq!(p.format, CopyFormat::Csv { delimiter: ',', quote: '"' });
        assert_eq!(p.ignore_header, 1);
    }

    #[test]
    fn copy_without_authorization_or_from_local_file_is_refused() {
        assert!(translate("COPY t FROM 's3://b/p' FORMAT AS PARQUET", &HashMap::new()).is_err());
        assert!(translate("COPY t FROM '/etc/passwd' IAM_ROLE default CSV", &HashMap::new()).is_err());
        assert!(translate(
            "COPY t FROM 's3://b/p' IAM_ROLE default FORMAT AS PARQUET DATEFORMAT 'YYYY'",
            &HashMap::new()
        )
        .is_err());
    }

    #[test]
    fn transactions_and_maintenance() {
        let steps = translate("BEGIN; END; COMMIT; ROLLBACK; VACUUM t; ANALYZE t", &HashMap::new()).unwrap();
        assert_eq!(steps, vec![Step::Begin, Step::Commit, Step::Commit, Step::Rollback, Step::NoOp, Step::NoOp]);
    }

    #[test]
    fn merge_and_delete_using_pass_through() {
        let merge = sql_of(one("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET text = s.text \
             WHEN NOT MATCHED THEN INSERT (id, text) VALUES (s.id, s.text)"));
        assert!(merge.starts_with("MERGE INTO t USING s"), "{merge}");
        let delete = sql_of(one("DELETE FROM t USING s WHERE t.id = s.id"));
        assert_eq!(delete, "DELETE FROM t USING s WHERE t.id = s.id");
    }

    #[test]
    fn parameters_bind_as_literals_even_when_hostile() {
        let mut params = HashMap::new();
        params.insert("key".to_string(), "in/a'; drop table t; --.wav".to_string());
        let steps = translate("SELECT * FROM t WHERE object_key = :key AND x::text = 'a'", &params).unwrap();
        let sql = sql_of(steps.into_iter().next().unwrap());
        assert_eq!(sql, "SELECT * FROM t WHERE object_key = 'in/a''; drop table t; --.wav' AND x::TEXT = 'a'");
        // The bound value parses back as one literal.
        let expr = Parser::new(&GenericDialect {}).try_with_sql("'in/a''; drop table t; --.wav'").unwrap().parse_expr();
        assert!(is_string_literal(&expr.unwrap(), "in/a'; drop table t; --.wav"));
    }

    #[test]
    fn missing_parameter_is_an_error() {
        let err = translate("SELECT :missing", &HashMap::new()).unwrap_err();
        assert!(err.0.contains("missing"), "{err}");
    }

    #[test]
    fn unsupported_statements_are_errors() {
        assert!(translate("UNLOAD ('select 1') TO 's3://b/p' IAM_ROLE default", &HashMap::new()).is_err());
        assert!(translate("CREATE TABLE t (g GEOMETRY)", &HashMap::new()).is_err());
    }

    #[test]
    fn table_names_fold_like_redshift() {
        assert_eq!(table_name_parts("Public.Transcription_Results").unwrap(), vec!["public", "transcription_results"]);
        assert_eq!(table_name_parts("\"MiXed\"").unwrap(), vec!["MiXed"]);
    }
}
