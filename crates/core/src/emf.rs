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

    /// Takes every recorded point out as EMF documents stamped `timestamp_ms`.
    pub fn drain(&self, timestamp_ms: i64) -> Vec<Value> {
        let points = std::mem::take(&mut *self.points.lock().unwrap_or_else(|p| p.into_inner()));
        let mut docs = Vec::new();
        for (key, metrics) in points {
            let mut metrics: Vec<(Metric, Vec<f64>)> = metrics.into_values().collect();
            // Split what exceeds the per-document limits into further documents.
            while !metrics.is_empty() {
                let mut doc = Map::new();
                let names: Vec<&'static str> = key.dimensions.iter().map(|(n, _)| *n).collect();
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
                            "Dimensions": [names],
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
        assert!(r.drain(0).is_empty(), "drained");
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
