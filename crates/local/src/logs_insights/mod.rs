//! CloudWatch Logs Insights queries (the `.logsinsights` files of `dashboards/queries/`), parsed and run over log
//! events as CloudWatch runs them, so the queries shipped with the dashboard are tried on the logs the functions
//! write rather than only read.
//!
//! The subset is what those queries use, from the Logs Insights QL reference
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html>): `fields` (with `as` and
//! functions), `display`, `filter` (`and`, `or`, `not`, `=`, `!=`, `<`, `<=`, `>`, `>=`, `like /re/`, `=~`,
//! `like "text"`, `in [...]`), `stats` (`count`, `count_distinct`, `sum`, `avg`, `min`, `max`, `pct`; `by`),
//! `sort` and `limit`; the functions `coalesce`, `ispresent`, `isempty`, `isblank`, `tolower`, `toupper`,
//! `strlen`. Anything else is an error naming it. As CloudWatch does, a JSON log event's fields are discovered
//! with nested objects flattened by dots (`span.requestId`) and array elements by index; every event has
//! `@timestamp`, `@message` and `@logStream`; a query without `fields` or `display` shows `@timestamp` and
//! `@message`; at most 10,000 rows come back.

mod parse;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::LocalError;
pub use parse::Command;
use parse::{Aggregate, AggregateFunction, Comparison, Expr, Function, Pattern, Projection};

/// The most rows a query returns (GetQueryResults).
pub const MAX_ROWS: usize = 10_000;

/// One log event as CloudWatch Logs stores it.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    pub message: String,
    pub log_stream: String,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    pub commands: Vec<Command>,
}

/// One result row: its fields in display order, as GetQueryResults gives them (text; fields without a value
/// left out).
pub type Row = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Num(f64),
    Str(String),
}

type Record = BTreeMap<String, Val>;

impl Query {
    pub fn parse(text: &str) -> Result<Query, LocalError> {
        Ok(Query { commands: parse::parse(text)? })
    }

    /// The query over `events`, as CloudWatch answers it.
    pub fn run(&self, events: &[LogEvent]) -> Vec<Row> {
        let mut records: Vec<Record> = events.iter().map(discover).collect();
        let mut shown: Vec<String> = Vec::new();
        let mut limited = false;
        for command in &self.commands {
            match command {
                Command::Fields(projections) => {
                    for record in &mut records {
                        project(record, projections);
                    }
                    for p in projections {
                        if !shown.contains(&p.name) {
                            shown.push(p.name.clone());
                        }
                    }
                }
                Command::Display(names) => shown = names.clone(),
                Command::Filter(condition) => records.retain(|r| truthy(&eval(condition, r))),
                Command::Stats { aggregates, by } => {
                    records = stats(&records, aggregates, by);
                    shown =
                        by.iter().map(|p| p.name.clone()).chain(aggregates.iter().map(|(_, n)| n.clone())).collect();
                }
                Command::Sort(keys) => sort(&mut records, keys),
                Command::Limit(n) => {
                    records.truncate(*n);
                    limited = true;
                }
            }
        }
        if !limited {
            records.truncate(MAX_ROWS);
        }
        if shown.is_empty() {
            shown = vec!["@timestamp".into(), "@message".into()];
        }
        records
            .iter()
            .map(|r| {
                shown
                    .iter()
                    .filter_map(|name| match (name.as_str(), r.get(name)?) {
                        (_, Val::Null) => None,
                        ("@timestamp", Val::Num(ms)) => Some((name.clone(), format_timestamp(*ms))),
                        (_, v) => Some((name.clone(), text(v))),
                    })
                    .collect()
            })
            .collect()
    }
}

/// The fields CloudWatch discovers in an event: its own, and a JSON object's flattened.
fn discover(event: &LogEvent) -> Record {
    let mut record = Record::new();
    record.insert("@timestamp".into(), Val::Num(event.timestamp_ms as f64));
    record.insert("@message".into(), Val::Str(event.message.clone()));
    record.insert("@logStream".into(), Val::Str(event.log_stream.clone()));
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(event.message.trim()) {
        for (key, value) in &object {
            flatten(key, value, &mut record);
        }
    }
    record
}

fn flatten(path: &str, value: &Value, record: &mut Record) {
    match value {
        Value::Object(object) => object.iter().for_each(|(k, v)| flatten(&format!("{path}.{k}"), v, record)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| flatten(&format!("{path}.{i}"), v, record)),
        Value::Null => {}
        Value::Number(n) => drop(record.insert(path.into(), n.as_f64().map_or(Val::Null, Val::Num))),
        Value::Bool(b) => drop(record.insert(path.into(), Val::Str(b.to_string()))),
        Value::String(s) => drop(record.insert(path.into(), Val::Str(s.clone()))),
    }
}

fn project(record: &mut Record, projections: &[Projection]) {
    for p in projections {
        let value = eval(&p.expr, record);
        record.insert(p.name.clone(), value);
    }
}

/// A condition's value: 1 or 0, as Logs Insights gives booleans.
fn boolean(b: bool) -> Val {
    Val::Num(f64::from(u8::from(b)))
}

fn eval(expr: &Expr, record: &Record) -> Val {
    match expr {
        Expr::Field(name) => record.get(name).cloned().unwrap_or(Val::Null),
        Expr::Str(s) => Val::Str(s.clone()),
        Expr::Num(n) => Val::Num(*n),
        Expr::Not(e) => boolean(!truthy(&eval(e, record))),
        Expr::And(a, b) => boolean(truthy(&eval(a, record)) && truthy(&eval(b, record))),
        Expr::Or(a, b) => boolean(truthy(&eval(a, record)) || truthy(&eval(b, record))),
        Expr::Compare(a, op, b) => boolean(compare(&eval(a, record), *op, &eval(b, record))),
        Expr::Like { expr, pattern, negated } => match eval(expr, record) {
            Val::Null => boolean(false),
            v => {
                let s = text(&v);
                let matched = match pattern {
                    Pattern::Regex(re) => re.is_match(&s),
                    Pattern::Contains(part) => s.contains(part.as_str()),
                };
                boolean(matched != *negated)
            }
        },
        Expr::In { expr, list, negated } => {
            let v = eval(expr, record);
            let found = !matches!(v, Val::Null) && list.iter().any(|e| compare(&v, Comparison::Eq, &eval(e, record)));
            boolean(found != *negated)
        }
        Expr::Call { function, args } => call(*function, args, record),
    }
}

fn call(function: Function, args: &[Expr], record: &Record) -> Val {
    // The parser checked the arity: every function has a first argument.
    match (function, eval(&args[0], record)) {
        (Function::Coalesce, Val::Null) => {
            args[1..].iter().map(|a| eval(a, record)).find(|v| *v != Val::Null).unwrap_or(Val::Null)
        }
        (Function::Coalesce, v) => v,
        (Function::IsPresent, v) => boolean(v != Val::Null),
        (Function::IsEmpty, v) => boolean(v == Val::Null || v == Val::Str(String::new())),
        (Function::IsBlank, v) => boolean(text(&v).trim().is_empty()),
        (_, Val::Null) => Val::Null,
        (Function::ToLower, v) => Val::Str(text(&v).to_lowercase()),
        (Function::ToUpper, v) => Val::Str(text(&v).to_uppercase()),
        (Function::StrLen, v) => Val::Num(text(&v).chars().count() as f64),
    }
}

fn truthy(v: &Val) -> bool {
    match v {
        Val::Null => false,
        Val::Num(n) => *n != 0.0,
        Val::Str(s) => !s.is_empty() && s != "false",
    }
}

/// A number compared with a number, or with text that is a number, numerically; otherwise as text. Nothing
/// compares with a missing field.
fn compare(a: &Val, op: Comparison, b: &Val) -> bool {
    let order = match (number(a), number(b)) {
        _ if matches!(a, Val::Null) || matches!(b, Val::Null) => return false,
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(text(a).cmp(&text(b))),
    };
    let Some(order) = order else { return false };
    match op {
        Comparison::Eq => order.is_eq(),
        Comparison::Ne => order.is_ne(),
        Comparison::Lt => order.is_lt(),
        Comparison::Le => order.is_le(),
        Comparison::Gt => order.is_gt(),
        Comparison::Ge => order.is_ge(),
    }
}

fn number(v: &Val) -> Option<f64> {
    match v {
        Val::Num(n) => Some(*n),
        Val::Str(s) => s.parse().ok().filter(|n: &f64| n.is_finite()),
        Val::Null => None,
    }
}

/// `sort a desc, b asc`: by each key in turn.
fn sort(records: &mut [Record], keys: &[(String, bool)]) {
    records.sort_by(|a, b| {
        keys.iter()
            .map(|(field, descending)| {
                let order = sort_order(a.get(field).unwrap_or(&Val::Null), b.get(field).unwrap_or(&Val::Null));
                if *descending {
                    order.reverse()
                } else {
                    order
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
}

/// Ascending as the `sort` command orders: text before numbers, numbers by value; missing fields last.
fn sort_order(a: &Val, b: &Val) -> Ordering {
    match (a, b) {
        (Val::Null, Val::Null) => Ordering::Equal,
        (Val::Null, _) => Ordering::Greater,
        (_, Val::Null) => Ordering::Less,
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => text(a).cmp(&text(b)),
        },
    }
}

fn stats(records: &[Record], aggregates: &[(Aggregate, String)], by: &[Projection]) -> Vec<Record> {
    // Groups in the order they are first seen; a record missing a grouping field is in no group.
    let mut groups: Vec<(Vec<Val>, Vec<&Record>)> = Vec::new();
    for record in records {
        let key: Vec<Val> = by.iter().map(|p| eval(&p.expr, record)).collect();
        if key.iter().any(|v| matches!(v, Val::Null)) {
            continue;
        }
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(record),
            None => groups.push((key, vec![record])),
        }
    }
    if by.is_empty() && groups.is_empty() {
        groups.push((Vec::new(), Vec::new()));
    }
    groups
        .into_iter()
        .map(|(key, members)| {
            let mut out: Record = by.iter().map(|p| p.name.clone()).zip(key).collect();
            for (aggregate, name) in aggregates {
                out.insert(name.clone(), aggregate_of(aggregate, &members));
            }
            out
        })
        .collect()
}

fn aggregate_of(aggregate: &Aggregate, members: &[&Record]) -> Val {
    let Some(arg) = &aggregate.arg else { return Val::Num(members.len() as f64) };
    let values: Vec<Val> = members.iter().map(|r| eval(arg, r)).filter(|v| !matches!(v, Val::Null)).collect();
    let mut numbers: Vec<f64> = values.iter().filter_map(number).collect();
    match aggregate.function {
        AggregateFunction::Count => Val::Num(values.len() as f64),
        AggregateFunction::CountDistinct => {
            let mut distinct: Vec<String> = values.iter().map(text).collect();
            distinct.sort();
            distinct.dedup();
            Val::Num(distinct.len() as f64)
        }
        _ if numbers.is_empty() => Val::Null,
        AggregateFunction::Sum => Val::Num(numbers.iter().sum()),
        AggregateFunction::Avg => Val::Num(numbers.iter().sum::<f64>() / numbers.len() as f64),
        AggregateFunction::Min => Val::Num(numbers.iter().copied().fold(f64::INFINITY, f64::min)),
        AggregateFunction::Max => Val::Num(numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        AggregateFunction::Pct(p) => redscribe_core::metrics::percentile(&mut numbers, p).map_or(Val::Null, Val::Num),
    }
}

fn text(v: &Val) -> String {
    match v {
        Val::Null => String::new(),
        Val::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Val::Num(n) => n.to_string(),
        Val::Str(s) => s.clone(),
    }
}

/// `@timestamp` as Logs Insights shows it: `2026-12-03 04:24:24.000`, UTC.
fn format_timestamp(ms: f64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map_or_else(|| text(&Val::Num(ms)), |t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
}

#[cfg(test)]
mod tests;
