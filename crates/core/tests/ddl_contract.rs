//! The contract between `sql/migrations/` and the Arrow schemas: Parquet `COPY` maps columns by position, so
//! names, order, types and nullability must agree exactly.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow_schema::{DataType, TimeUnit};
use redscribe_core::identity::ID_LEN;
use redscribe_core::record::{ERROR_MESSAGE_MAX_BYTES, TEXT_MAX_BYTES, WORD_MAX_BYTES};
use redscribe_core::schema::{tables, UTC};
use sqlparser::ast::{AlterTableOperation, CharacterLength, ColumnDef, ColumnOption, DataType as SqlType, Statement};
use sqlparser::dialect::RedshiftSqlDialect;
use sqlparser::parser::Parser;

struct Column {
    name: String,
    ty: SqlType,
    not_null: bool,
}

fn migrations() -> Vec<(String, String)> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo runs tests with CARGO_MANIFEST_DIR"))
        .join("../../sql/migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no migrations in {}", dir.display());
    files.into_iter().map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap())).collect()
}

fn column(c: &ColumnDef) -> Column {
    Column {
        name: c.name.value.clone(),
        ty: c.data_type.clone(),
        not_null: c.options.iter().any(|o| matches!(o.option, ColumnOption::NotNull)),
    }
}

/// Every table as the migrations leave it, in order: CREATE TABLE, then each ALTER TABLE … ADD COLUMN appended at
/// the end (as Redshift does).
fn parsed_tables() -> BTreeMap<String, Vec<Column>> {
    let mut out = BTreeMap::new();
    for (path, sql) in migrations() {
        let statements = Parser::parse_sql(&RedshiftSqlDialect {}, &sql).unwrap_or_else(|e| panic!("{path}: {e}"));
        for st in statements {
            match st {
                Statement::CreateTable(ct) => {
                    out.insert(ct.name.to_string(), ct.columns.iter().map(column).collect());
                }
                Statement::AlterTable(alter) => {
                    let cols: &mut Vec<Column> =
                        out.get_mut(&alter.name.to_string()).unwrap_or_else(|| panic!("{path}: {} first", alter.name));
                    for op in &alter.operations {
                        match op {
                            AlterTableOperation::AddColumn { column_def, column_position: None, .. } => {
                                cols.push(column(column_def))
                            }
                            other => panic!("{path}: the contract test does not follow {other}"),
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The Arrow type a Redshift column type is read into from Parquet, or None when the DDL uses a type the
/// pipeline never writes.
fn arrow_for(ty: &SqlType) -> Option<DataType> {
    Some(match ty {
        SqlType::Varchar(_) | SqlType::CharacterVarying(_) => DataType::Utf8,
        SqlType::BigInt(_) | SqlType::Int8(_) => DataType::Int64,
        SqlType::Integer(_) | SqlType::Int(_) | SqlType::Int4(_) => DataType::Int32,
        SqlType::DoublePrecision | SqlType::Float8 => DataType::Float64,
        SqlType::Boolean | SqlType::Bool => DataType::Boolean,
        SqlType::Timestamp(_, sqlparser::ast::TimezoneInfo::None)
        | SqlType::Timestamp(_, sqlparser::ast::TimezoneInfo::WithoutTimeZone) => {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        }
        SqlType::Timestamp(_, sqlparser::ast::TimezoneInfo::Tz)
        | SqlType::Timestamp(_, sqlparser::ast::TimezoneInfo::WithTimeZone) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
        }
        _ => return None,
    })
}

fn varchar_len(ty: &SqlType) -> Option<u64> {
    match ty {
        SqlType::Varchar(Some(CharacterLength::IntegerLength { length, .. })) => Some(*length),
        _ => None,
    }
}

#[test]
fn ddl_and_arrow_schemas_agree_column_by_column() {
    let ddl = parsed_tables();
    for (table, schema) in tables() {
        let cols = ddl.get(table).unwrap_or_else(|| panic!("no CREATE TABLE {table} in sql/migrations"));
        let ddl_names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let arrow_names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(ddl_names, arrow_names, "{table}: column names or order differ");
        for (col, field) in cols.iter().zip(schema.fields()) {
            let want = arrow_for(&col.ty).unwrap_or_else(|| panic!("{table}.{}: unexpected type {}", col.name, col.ty));
            assert_eq!(&want, field.data_type(), "{table}.{}: DDL {} vs Arrow", col.name, col.ty);
            assert_eq!(col.not_null, !field.is_nullable(), "{table}.{}: nullability differs", col.name);
            if let SqlType::Varchar(_) = col.ty {
                assert!(varchar_len(&col.ty).is_some(), "{table}.{}: VARCHAR needs an explicit length", col.name);
            }
        }
    }
}

#[test]
fn length_limits_in_code_match_the_ddl() {
    let ddl = parsed_tables();
    let len = |table: &str, column: &str| {
        let c = ddl[table].iter().find(|c| c.name == column).unwrap_or_else(|| panic!("{table}.{column}"));
        varchar_len(&c.ty).unwrap()
    };
    assert_eq!(len("transcription_results", "text"), TEXT_MAX_BYTES as u64);
    assert_eq!(len("transcription_segments", "text"), TEXT_MAX_BYTES as u64);
    assert_eq!(len("transcription_words", "word"), WORD_MAX_BYTES as u64);
    assert_eq!(len("transcription_results", "error_message"), ERROR_MESSAGE_MAX_BYTES as u64);
    assert_eq!(len("transcription_results", "id"), 50, "the original schema's id is VARCHAR(50)");
    assert!(ID_LEN as u64 <= len("transcription_results", "id"));
    assert!(len("transcription_results", "object_key") >= 1024, "S3 keys are up to 1024 bytes");
}

#[test]
fn no_column_uses_text_or_unbounded_types() {
    for (table, cols) in parsed_tables() {
        for c in &cols {
            assert!(
                !matches!(c.ty, SqlType::Text | SqlType::Varchar(None)),
                "{table}.{} would become VARCHAR(256) in Redshift",
                c.name
            );
        }
    }
}

#[test]
fn added_columns_may_be_null() {
    // Rows loaded before a migration have no value for what it adds; Redshift would need a DEFAULT.
    for (path, sql) in migrations() {
        for st in Parser::parse_sql(&RedshiftSqlDialect {}, &sql).unwrap() {
            if let Statement::AlterTable(alter) = st {
                for op in &alter.operations {
                    if let AlterTableOperation::AddColumn { column_def, .. } = op {
                        assert!(!column(column_def).not_null, "{path}: {}.{}", alter.name, column_def.name);
                    }
                }
            }
        }
    }
}

#[test]
fn migrations_define_the_daily_views() {
    let all: String = migrations().into_iter().map(|(_, s)| s).collect();
    let statements = Parser::parse_sql(&RedshiftSqlDialect {}, &all).unwrap();
    let views: Vec<String> = statements
        .iter()
        .filter_map(|s| match s {
            Statement::CreateView(v) => Some(v.name.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(views, ["transcription_daily", "transcription_failures_daily", "transcription_cost_daily"]);
}
