//! CloudWatch Embedded Metric Format documents from the metric [catalog](crate::metrics).
//!
//! Stages record data points into a [`Recorder`]; whoever owns the process drains it into EMF documents: the
//! Lambdas print them on stdout at the end of every invocation (CloudWatch turns them into metrics), the CLI
//! appends them to a JSON-lines file. Points are grouped by their dimension values, one document per group; a
//! metric recorded several times in a group carries an array of values (at most 100, as EMF allows).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::metrics::{Dimension, Metric, Stage};
use crate::ErrorCode;

/// Most values of one metric in one document (EMF limit).
pub const MAX_VALUES: usize = 100;
/// Most metrics in one document (EMF limit).
pub const MAX_METRICS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    dimensions: Vec<(&'static str, String)>,
}

/// The values of each metric (by name) recorded under one set of dimension values.
type Group = BTreeMap<&'static str, (Metric, Vec<f64>)>;

/// Collects data points; safe to share between tasks.
#[derive(Debug)]
pub struct Recorder {
    namespace: String,
    function: String,
    model: Mutex<String>,
    points: Mutex<BTreeMap<Key, Group>>,
}

impl Recorder {
    /// `function` is the `Function` dimension: the Lambda function's name, or `redscribe` for the CLI.
    pub fn new(namespace: &str, function: &str) -> Recorder {
        Recorder {
            namespace: namespace.into(),
            function: function.into(),
            model: Mutex::new("none".into()),
            points: Mutex::default(),
        }
    }

    /// The `Model` dimension of the transcription metrics (one model per process).
    pub fn set_model(&self, model: &str) {
        *self.model.lock().unwrap_or_else(|p| p.into_inner()) = model.to_string();
    }

    /// Records one value. `stage` and `code` are used where the metric's catalog entry has those dimensions.
    pub fn record(&self, metric: Metric, value: f64, stage: Option<Stage>, code: Option<ErrorCode>) {
        let mut dimensions = Vec::new();
        for d in metric.dimensions() {
            let v = match d {
                Dimension::Function => self.function.clone(),
                Dimension::Stage => stage.map_or("unknown", Stage::as_str).to_string(),
                Dimension::ErrorCode => code.map_or("unknown", ErrorCode::as_str).to_string(),
                Dimension::Model => self.model.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            };
            dimensions.push((d.as_str(), v));
        }
        let mut points = self.points.lock().unwrap_or_else(|p| p.into_inner());
        let entry = points.entry(Key { dimensions }).or_default();
        entry.entry(metric.name()).or_insert_with(|| (metric, Vec::new())).1.push(value);
    }

    /// Counts one occurrence.
    pub fn count(&self, metric: Metric, stage: Option<Stage>, code: Option<ErrorCode>) {
        self.record(metric, 1.0, stage, code);
    }

    /// [`Recorder::drain`], stamped with the current time (what a process flushing its metrics wants).
    pub fn drain_now(&self) -> Vec<Value> {
        self.drain(chrono::Utc::now().timestamp_millis())
    }

    /// Takes every recorded point out as EMF documents stamped `timestamp_ms`.
    pub fn drain(&self, timestamp_ms: i64) -> Vec<Value> {
        let points = std::mem::take(&mut *self.points.lock().unwrap_or_else(|p| p.into_inner()));
        let mut docs = Vec::new();
        for (key, metrics) in points {
            let mut metrics: Vec<(Metric, Vec<f64>)> = metrics.into_values().collect();
            // Split what exceeds the per-document limits into further documents.
            while !metrics.is_empty() {
                let mut doc = Map::new();
                // The metrics of one key share its dimensions, and so their sets (the finest first).
                let sets: Vec<Vec<&'static str>> =
                    metrics[0].0.dimension_sets().iter().map(|set| set.iter().map(|d| d.as_str()).collect()).collect();
                for (name, value) in &key.dimensions {
                    doc.insert((*name).to_string(), Value::String(value.clone()));
                }
                let mut definitions = Vec::new();
                let mut rest = Vec::new();
                for (metric, mut values) in metrics.drain(..) {
                    if definitions.len() == MAX_METRICS {
                        rest.push((metric, values));
                        continue;
                    }
                    let tail = if values.len() > MAX_VALUES { values.split_off(MAX_VALUES) } else { Vec::new() };
                    definitions.push(json!({ "Name": metric.name(), "Unit": metric.unit().as_str() }));
                    let value = if values.len() == 1 { json!(values[0]) } else { json!(values) };
                    doc.insert(metric.name().to_string(), value);
                    if !tail.is_empty() {
                        rest.push((metric, tail));
                    }
                }
                doc.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": sets,
                            "Metrics": definitions,
                        }],
                    }),
                );
                docs.push(Value::Object(doc));
                metrics = rest;
            }
        }
        docs
    }
}

/// Units the EMF specification accepts.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Largest log event CloudWatch Logs accepts, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Checks one document against the CloudWatch Embedded Metric Format specification: the `_aws` metadata with an
/// integer `Timestamp` and metric directives; each directive's namespace, dimension sets (at most 30 keys, each a
/// string member of the root) and metric definitions (at most 100, each naming a root member that is a number or
/// at most 100 numbers, with a valid unit); and the size of a log event.
pub fn validate(doc: &Value) -> Result<(), String> {
    let root = doc.as_object().ok_or("the document is not a JSON object")?;
    let size = doc.to_string().len();
    if size > MAX_DOCUMENT_BYTES {
        return Err(format!("{size} bytes: more than a log event holds"));
    }
    let aws = root.get("_aws").and_then(Value::as_object).ok_or("no _aws object")?;
    if !aws.get("Timestamp").is_some_and(|t| t.is_i64() || t.is_u64()) {
        return Err("_aws.Timestamp is not an integer (milliseconds since the epoch)".into());
    }
    let directives = aws.get("CloudWatchMetrics").and_then(Value::as_array).ok_or("no _aws.CloudWatchMetrics array")?;
    for d in directives {
        let namespace = d["Namespace"].as_str().ok_or("a directive without Namespace")?;
        if namespace.trim().is_empty() || namespace.len() > 1024 {
            return Err(format!("namespace {namespace:?}"));
        }
        for set in d["Dimensions"].as_array().ok_or("a directive without Dimensions")? {
            let keys = set.as_array().ok_or("a dimension set that is not an array")?;
            if keys.len() > 30 {
                return Err(format!("a dimension set of {} keys (at most 30)", keys.len()));
            }
            for key in keys {
                let key = key.as_str().ok_or("a dimension key that is not a string")?;
                if !root.get(key).is_some_and(Value::is_string) {
                    return Err(format!("dimension {key} has no string value in the document"));
                }
            }
        }
        let metrics = d["Metrics"].as_array().ok_or("a directive without Metrics")?;
        if metrics.len() > 100 {
            return Err(format!("{} metrics in one directive (at most 100)", metrics.len()));
        }
        for m in metrics {
            let name =
                m["Name"].as_str().filter(|n| !n.is_empty() && n.len() <= 1024).ok_or("a metric without a Name")?;
            if let Some(unit) = m.get("Unit") {
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Err(format!("{name}: unit {unit}"));
                }
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                other => return Err(format!("{name}: value {other:?} is not a number or at most 100 numbers")),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_group_by_dimension_values_into_emf_documents() {
        let r = Recorder::new("Redscribe", "redscribe");
        r.count(Metric::RecordingsProcessed, Some(Stage::Write), None);
        r.count(Metric::RecordingsProcessed, Some(Stage::Write), None);
        r.count(Metric::RecordingsQuarantined, Some(Stage::Decode), Some(ErrorCode::NotAudio));
        r.record(Metric::RowsLoaded, 12.0, None, None);
        let docs = r.drain(1_700_000_000_000);
        assert_eq!(docs.len(), 3);
        let processed = docs.iter().find(|d| d.get("RecordingsProcessed").is_some()).unwrap();
        assert_eq!(processed["RecordingsProcessed"], json!([1.0, 1.0]));
        assert_eq!(processed["Stage"], "write");
        assert_eq!(processed["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function", "Stage"]]));
        assert_eq!(processed["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Count");
        let quarantined = docs.iter().find(|d| d.get("RecordingsQuarantined").is_some()).unwrap();
        assert_eq!(quarantined["ErrorCode"], "not_audio");
        // Published per stage and code, and as the function's total (what an alarm reads).
        let sets = json!([["Function", "Stage", "ErrorCode"], ["Function"]]);
        assert_eq!(quarantined["_aws"]["CloudWatchMetrics"][0]["Dimensions"], sets);
        assert!(r.drain(0).is_empty(), "drained");
    }

    #[test]
    fn every_metric_with_every_code_makes_documents_the_specification_accepts() {
        let r = Recorder::new("Redscribe", "redscribe-transcribe");
        r.set_model("whisper-tiny.en");
        for metric in Metric::ALL {
            for code in ErrorCode::ALL {
                for i in 0..150 {
                    r.record(metric, f64::from(i), Some(Stage::Transcribe), Some(code));
                }
            }
        }
        let docs = r.drain(1_700_000_000_000);
        assert!(!docs.is_empty());
        for doc in &docs {
            validate(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        }
        // And the checks bite.
        let mut bad = docs[0].clone();
        bad["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Parsecs");
        assert!(validate(&bad).is_err());
        let mut bad = docs[0].clone();
        bad.as_object_mut().unwrap().remove("Function");
        assert!(validate(&bad).unwrap_err().contains("Function"));
        let mut bad = docs[0].clone();
        bad["_aws"]["Timestamp"] = json!("now");
        assert!(validate(&bad).is_err());
    }

    #[test]
    fn more_than_100_values_spill_into_another_document() {
        let r = Recorder::new("Redscribe", "f");
        for i in 0..250 {
            r.record(Metric::StageLatency, f64::from(i), Some(Stage::Load), None);
        }
        let docs = r.drain(0);
        let sizes: Vec<usize> = docs.iter().map(|d| d["StageLatency"].as_array().unwrap().len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
    }
}
