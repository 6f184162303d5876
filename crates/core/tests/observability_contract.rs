//! The contract between the metric catalog and what reads it: every redscribe metric a dashboard panel or an alarm
//! names is in the catalog, read with dimensions the catalog publishes it with (valid stage and error-code values),
//! and emitted by some code path; every dashboard is Grafana dashboard JSON; alarms are `PutMetricAlarm` inputs.

use std::path::{Path, PathBuf};

use redscribe_core::metrics::{Metric, Stage};
use redscribe_core::ErrorCode;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo runs tests with CARGO_MANIFEST_DIR")).join("../..")
}

fn json_files(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no JSON in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, v)
        })
        .collect()
}

/// Source text of every crate and Lambda, without the catalog itself.
fn sources() -> String {
    let mut text = String::new();
    let mut stack = vec![repo().join("crates"), repo().join("lambdas")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "tests" && n != "target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|x| x == "rs") && !path.ends_with("core/src/metrics.rs") {
                text.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    text
}

/// Checks one redscribe metric reference; `exact` when the dimension set must be the catalog's (alarms).
fn check_metric(what: &str, name: &str, dimensions: &[(String, String)], exact: bool, code: &str) {
    let metric = Metric::from_name(name).unwrap_or_else(|| panic!("{what}: {name} is not in the metric catalog"));
    // Variant names are the metric names: `Metric::RowsLoaded` is what code that records it says.
    assert!(code.contains(&format!("Metric::{name}")), "{what}: nothing records {name}");
    let published: Vec<&str> = metric.dimensions().iter().map(|d| d.as_str()).collect();
    for (key, value) in dimensions {
        assert!(published.contains(&key.as_str()), "{what}: {name} has no dimension {key} (it has {published:?})");
        let placeholder = value.starts_with('$') || value == "*";
        if key == "Stage" && !placeholder {
            assert!(Stage::ALL.iter().any(|s| s.as_str() == value), "{what}: stage {value}");
        }
        if key == "ErrorCode" && !placeholder {
            assert!(ErrorCode::parse(value).is_some(), "{what}: error code {value}");
        }
    }
    if exact {
        let mut keys: Vec<&str> = dimensions.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        let sets: Vec<Vec<&str>> = metric
            .dimension_sets()
            .iter()
            .map(|set| {
                let mut names: Vec<&str> = set.iter().map(|d| d.as_str()).collect();
                names.sort_unstable();
                names
            })
            .collect();
        assert!(
            sets.contains(&keys),
            "{what}: an alarm must name one of {name}'s dimension sets {sets:?}, not {keys:?}"
        );
    }
}

#[test]
fn dashboards_are_grafana_json_and_read_only_catalog_metrics() {
    let code = sources();
    let mut read = 0;
    for (path, dash) in json_files(&repo().join("dashboards")) {
        let what = path.display().to_string();
        for key in ["uid", "title", "schemaVersion", "panels", "templating"] {
            assert!(dash.get(key).is_some(), "{what}: no {key}");
        }
        let variables: Vec<&str> =
            dash["templating"]["list"].as_array().unwrap().iter().filter_map(|v| v["name"].as_str()).collect();
        for v in ["datasource", "region", "namespace", "function"] {
            assert!(variables.contains(&v), "{what}: no ${v} variable");
        }
        let mut ids = std::collections::HashSet::new();
        for panel in dash["panels"].as_array().unwrap() {
            assert!(ids.insert(panel["id"].as_i64().unwrap()), "{what}: duplicate panel id");
            for key in ["type", "title", "gridPos", "targets"] {
                assert!(panel.get(key).is_some(), "{what}: a panel without {key}");
            }
            for t in panel["targets"].as_array().unwrap() {
                // The warehouse's panels: SQL over the daily views, through Grafana's Redshift data source.
                if t["datasource"]["type"] == "grafana-redshift-datasource" {
                    assert!(variables.contains(&"warehouse"), "{what}: SQL panels need the $warehouse variable");
                    assert_eq!(t["datasource"]["uid"], "${warehouse}", "{what}: {}", panel["title"]);
                    let sql = t["rawSQL"].as_str().unwrap();
                    let views = ["transcription_daily", "transcription_failures_daily", "transcription_cost_daily"];
                    assert!(views.iter().any(|v| sql.contains(&format!("FROM {v} "))), "{what}: {sql}");
                    assert!(sql.contains("$__timeFilter(day)"), "{what}: the dashboard's time range: {sql}");
                    continue;
                }
                let namespace = t["namespace"].as_str().unwrap();
                let name = t["metricName"].as_str().unwrap();
                let stat = t["statistic"].as_str().unwrap();
                assert!(
                    ["Sum", "Average", "SampleCount", "Minimum", "Maximum"].contains(&stat)
                        || stat.strip_prefix('p').is_some_and(|p| p.parse::<f64>().is_ok()),
                    "{what}: statistic {stat}"
                );
                if namespace.starts_with("AWS/") {
                    continue;
                }
                assert_eq!(namespace, "$namespace", "{what}: {name} must read the templated namespace");
                let dims: Vec<(String, String)> = t["dimensions"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                check_metric(&format!("{what} / {}", panel["title"]), name, &dims, false, &code);
                read += 1;
            }
        }
    }
    assert!(read >= 15, "the dashboards read {read} redscribe metrics");
}

#[test]
fn alarms_are_put_metric_alarm_inputs_on_catalog_metrics() {
    let code = sources();
    let (path, alarms) = json_files(&repo().join("alarms")).remove(0);
    let mut names = std::collections::HashSet::new();
    for alarm in alarms.as_array().unwrap() {
        let name = alarm["AlarmName"].as_str().unwrap();
        let what = format!("{} / {name}", path.display());
        assert!(names.insert(name.to_string()), "{what}: duplicate");
        assert!(alarm["AlarmActions"].as_array().is_some_and(|a| !a.is_empty()), "{what}: notifies nobody");
        for key in ["EvaluationPeriods", "Threshold", "ComparisonOperator", "AlarmDescription"] {
            assert!(alarm.get(key).is_some(), "{what}: no {key}");
        }
        let mut metrics: Vec<&Value> = Vec::new();
        if alarm.get("MetricName").is_some() {
            metrics.push(alarm);
        }
        for m in alarm["Metrics"].as_array().into_iter().flatten() {
            if let Some(stat) = m.get("MetricStat") {
                metrics.push(&stat["Metric"]);
            }
            // CloudWatch refuses an alarm whose expression contains SEARCH (PutMetricAlarm, and so the stack).
            if let Some(expr) = m["Expression"].as_str() {
                assert!(!expr.to_ascii_uppercase().contains("SEARCH("), "{what}: an alarm cannot use SEARCH: {expr}");
            }
        }
        assert!(!metrics.is_empty() || alarm.get("Metrics").is_some(), "{what}: no metric");
        for m in metrics {
            if m["Namespace"].as_str().unwrap().starts_with("AWS/") {
                continue;
            }
            assert_eq!(m["Namespace"], "${NAMESPACE}", "{what}");
            let dims: Vec<(String, String)> = m["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| (d["Name"].as_str().unwrap().to_string(), d["Value"].as_str().unwrap().to_string()))
                .collect();
            check_metric(&what, m["MetricName"].as_str().unwrap(), &dims, true, &code);
        }
    }
    for required in ["redscribe-lambda-errors", "redscribe-dlq-not-empty", "redscribe-pipeline-stale"] {
        assert!(names.contains(required), "no {required}");
    }
}
