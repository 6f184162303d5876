//! Arrow batches from DuckDB turned into Data API values, with Redshift's type names and text forms.

use duckdb::arrow::array::{Array, AsArray, RecordBatch};
use duckdb::arrow::datatypes::{
    DataType, Decimal128Type, Field as ArrowField, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use duckdb::arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{Column, ExecError, ResultSet, Value};

/// Converts Arrow batches to Data API values, with Redshift's type names and text forms.
pub(super) fn result_set<'a>(
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
