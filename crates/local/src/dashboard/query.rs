//! The shipped Grafana dashboard read as what it asks for, so that it can be drawn without Grafana: its panels
//! (kind, title, `gridPos`, unit) and each panel's queries with the dashboard's variables filled in — a CloudWatch
//! metric query (namespace, metric, dimensions, statistic) answered here over EMF documents ([`evaluate`]), or SQL
//! for the Redshift data source with Grafana's `$__timeFilter` macro expanded ([`expand_time_filter`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::LocalError;

/// The dashboard shipped in `dashboards/`.
pub const SHIPPED: &str = include_str!("../../../../dashboards/redscribe-pipeline.json");

/// A panel's place on Grafana's 24-column grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GridPos {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// One query of a panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Query {
    /// A CloudWatch metric: dimensions valued `*` match any value (one series per value).
    Metric { label: String, namespace: String, metric: String, statistic: String, dimensions: Vec<(String, String)> },
    /// SQL through the Redshift data source: a table, or time series when `time_series`.
    Sql { sql: String, time_series: bool },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    pub id: i64,
    /// Grafana's panel type (`timeseries`, `table`, …).
    pub kind: String,
    pub title: String,
    pub description: String,
    pub grid: GridPos,
    pub unit: String,
    /// `fieldConfig.defaults.custom.drawStyle` (`line`, `bars`, `points`).
    pub draw_style: String,
    /// Each query with its `refId`, in the panel's order.
    pub queries: Vec<(String, Query)>,
    /// The axes of the queries that have one of their own, by `refId` (`fieldConfig.overrides` matched
    /// `byFrameRefID`): a series in other units than the panel's draws against its own scale, as in Grafana.
    pub axes: BTreeMap<String, Axis>,
}

/// A query's own axis: its unit, and the side it is drawn on (`left`, `right`; Grafana's `custom.axisPlacement`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Axis {
    pub unit: String,
    pub placement: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    pub title: String,
    pub panels: Vec<Panel>,
}

impl Dashboard {
    /// The dashboard JSON's panels, with each variable at its default (`current.value`) unless `values` names it.
    pub fn parse(text: &str, values: &BTreeMap<String, String>) -> Result<Dashboard, LocalError> {
        let bad = |what: String| LocalError::Dashboard(what);
        let json: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        for v in json["templating"]["list"].as_array().into_iter().flatten() {
            let (Some(name), Some(value)) = (v["name"].as_str(), v["current"]["value"].as_str()) else { continue };
            vars.insert(name.to_string(), value.to_string());
        }
        vars.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
        let fill = |s: &str| fill_variables(s, &vars);
        let mut panels = Vec::new();
        for p in json["panels"].as_array().ok_or_else(|| bad("no panels".into()))? {
            let title = p["title"].as_str().unwrap_or_default().to_string();
            let grid = &p["gridPos"];
            let n = |k: &str| grid[k].as_u64().map(|v| v as u32).ok_or_else(|| bad(format!("{title}: gridPos.{k}")));
            let mut queries = Vec::new();
            for t in p["targets"].as_array().into_iter().flatten() {
                let ref_id = t["refId"].as_str().unwrap_or_default().to_string();
                if let Some(sql) = t["rawSQL"].as_str() {
                    queries.push((ref_id, Query::Sql { sql: fill(sql), time_series: t["format"].as_i64() == Some(0) }));
                    continue;
                }
                let dims = t["dimensions"].as_object().into_iter().flatten();
                let query = Query::Metric {
                    label: fill(t["label"].as_str().unwrap_or_default()),
                    namespace: fill(t["namespace"].as_str().unwrap_or_default()),
                    metric: t["metricName"]
                        .as_str()
                        .ok_or_else(|| bad(format!("{title}: a target without metricName")))?
                        .into(),
                    statistic: t["statistic"].as_str().unwrap_or("Average").into(),
                    dimensions: dims.map(|(k, v)| (k.clone(), fill(v.as_str().unwrap_or("*")))).collect(),
                };
                queries.push((ref_id, query));
            }
            panels.push(Panel {
                id: p["id"].as_i64().ok_or_else(|| bad(format!("{title}: no id")))?,
                kind: p["type"].as_str().unwrap_or("timeseries").into(),
                description: p["description"].as_str().unwrap_or_default().into(),
                grid: GridPos { x: n("x")?, y: n("y")?, w: n("w")?, h: n("h")? },
                unit: p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or_default().into(),
                draw_style: p["fieldConfig"]["defaults"]["custom"]["drawStyle"].as_str().unwrap_or("line").into(),
                axes: axes(&p["fieldConfig"]["overrides"]),
                title,
                queries,
            });
        }
        Ok(Dashboard { title: json["title"].as_str().unwrap_or_default().into(), panels })
    }
}

/// The overrides that give the series of one query (`byFrameRefID`) a unit of their own, by `refId`.
fn axes(overrides: &Value) -> BTreeMap<String, Axis> {
    let mut axes = BTreeMap::new();
    for o in overrides.as_array().into_iter().flatten() {
        let (Some("byFrameRefID"), Some(ref_id)) = (o["matcher"]["id"].as_str(), o["matcher"]["options"].as_str())
        else {
            continue;
        };
        let property = |id: &str| {
            let found = o["properties"].as_array().into_iter().flatten().find(|p| p["id"] == id);
            found.and_then(|p| p["value"].as_str()).map(str::to_string)
        };
        if let Some(unit) = property("unit") {
            let placement = property("custom.axisPlacement").unwrap_or_else(|| "auto".into());
            axes.insert(ref_id.to_string(), Axis { unit, placement });
        }
    }
    axes
}

/// `$name` and `${name}` replaced by the variable's value (longest names first, so `$load_function` is not read
/// as `$load` + `_function`); unknown names are left as they are.
fn fill_variables(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out = text.to_string();
    for name in names {
        out = out.replace(&format!("${{{name}}}"), &vars[name]).replace(&format!("${name}"), &vars[name]);
    }
    out
}

/// Grafana's `$__timeFilter(column)` as the SQL data sources expand it: the column between the range's ends (UTC
/// timestamp literals, which Redshift and DuckDB both compare with a date or a timestamp column).
pub fn expand_time_filter(sql: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let ts = |t: DateTime<Utc>| format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S"));
    let mut out = String::new();
    let mut rest = sql;
    while let Some(at) = rest.find("$__timeFilter(") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "$__timeFilter(".len()..];
        let Some(close) = after.find(')') else { break };
        let column = after[..close].trim();
        out.push_str(&format!("{column} BETWEEN {} AND {}", ts(from), ts(to)));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// One line of a chart: its label and its `(time in ms, value)` points in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub label: String,
    pub points: Vec<(i64, f64)>,
}

/// A metric query answered over EMF documents as CloudWatch answers it: the documents of the namespace that
/// publish the metric under exactly the query's dimension names, with the given values (`*`: any, a series per
/// value), their data points grouped into periods of `period_ms` from `from_ms` and reduced by the statistic
/// (`Sum`, `Average`, `SampleCount`, `Minimum`, `Maximum`, `pNN`).
pub fn evaluate(docs: &[Value], query: &Query, from_ms: i64, period_ms: i64) -> Result<Vec<Series>, LocalError> {
    let Query::Metric { label, namespace, metric, statistic, dimensions } = query else {
        return Err(LocalError::Dashboard("not a metric query".into()));
    };
    let wanted: std::collections::BTreeSet<&str> = dimensions.iter().map(|(k, _)| k.as_str()).collect();
    // Values per series (the wildcard dimensions' values) per period.
    let mut groups: BTreeMap<Vec<String>, BTreeMap<i64, Vec<f64>>> = BTreeMap::new();
    for doc in docs {
        let Some(at) = doc["_aws"]["Timestamp"].as_i64() else { continue };
        let declared = doc["_aws"]["CloudWatchMetrics"].as_array().into_iter().flatten().any(|d| {
            d["Namespace"] == namespace.as_str()
                && d["Metrics"].as_array().into_iter().flatten().any(|m| m["Name"] == metric.as_str())
                && d["Dimensions"].as_array().into_iter().flatten().any(|set| {
                    let names: std::collections::BTreeSet<&str> =
                        set.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                    names == wanted
                })
        });
        if !declared {
            continue;
        }
        let mut key = Vec::new();
        let matches = dimensions.iter().all(|(name, value)| {
            let got = doc[name].as_str().unwrap_or_default();
            if value == "*" {
                key.push(got.to_string());
                true
            } else {
                got == value
            }
        });
        if !matches || at < from_ms {
            continue;
        }
        let values: Vec<f64> = match &doc[metric] {
            Value::Array(a) => a.iter().filter_map(Value::as_f64).collect(),
            v => v.as_f64().into_iter().collect(),
        };
        let period = from_ms + (at - from_ms) / period_ms * period_ms;
        groups.entry(key).or_default().entry(period).or_default().extend(values);
    }
    groups
        .into_iter()
        .map(|(key, periods)| {
            let points = periods
                .into_iter()
                .map(|(t, values)| Ok((t, reduce(statistic, values)?)))
                .collect::<Result<Vec<_>, LocalError>>()?;
            Ok(Series { label: series_label(label, metric, dimensions, &key), points })
        })
        .collect()
}

/// A series' name as Grafana's CloudWatch data source writes it: the query's label with `${PROP('Dim.NAME')}`
/// replaced by the series' value of that dimension; without such a reference, the wildcard values after it.
fn series_label(label: &str, metric: &str, dimensions: &[(String, String)], key: &[String]) -> String {
    let name = if label.is_empty() { metric } else { label };
    let wildcards = dimensions.iter().filter(|(_, v)| v == "*").map(|(k, _)| k).zip(key);
    let mut out = name.to_string();
    let mut referenced = false;
    for (dim, value) in wildcards.clone() {
        let reference = format!("${{PROP('Dim.{dim}')}}");
        referenced |= out.contains(&reference);
        out = out.replace(&reference, value);
    }
    if !referenced && !key.is_empty() {
        out = format!("{out} {}", key.join(" "));
    }
    out
}

/// A CloudWatch statistic of a period's values (percentiles by nearest rank).
fn reduce(statistic: &str, mut values: Vec<f64>) -> Result<f64, LocalError> {
    let n = values.len() as f64;
    Ok(match statistic {
        "Sum" => values.iter().sum(),
        "Average" => values.iter().sum::<f64>() / n,
        "SampleCount" => n,
        "Minimum" => values.iter().copied().fold(f64::INFINITY, f64::min),
        "Maximum" => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        p => {
            let q: f64 = p
                .strip_prefix('p')
                .and_then(|q| q.parse().ok())
                .filter(|q| (0.0..=100.0).contains(q))
                .ok_or_else(|| LocalError::Dashboard(format!("statistic {p}")))?;
            redscribe_core::metrics::percentile(&mut values, q).unwrap_or(f64::NAN)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(at: i64, dims: &[&str], values: &[(&str, &str)], metric: &str, v: Value) -> Value {
        let mut d = json!({
            "_aws": { "Timestamp": at, "CloudWatchMetrics": [{
                "Namespace": "Redscribe", "Dimensions": [dims], "Metrics": [{ "Name": metric, "Unit": "None" }]
            }]},
        });
        for (k, val) in values {
            d[*k] = json!(val);
        }
        d[metric] = v;
        d
    }

    fn query(dims: &[(&str, &str)], statistic: &str) -> Query {
        Query::Metric {
            label: "latency".into(),
            namespace: "Redscribe".into(),
            metric: "StageLatency".into(),
            statistic: statistic.into(),
            dimensions: dims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn the_shipped_dashboard_parses_with_its_variables_filled() {
        let values = BTreeMap::from([("function".to_string(), "fn-a".to_string())]);
        let d = Dashboard::parse(SHIPPED, &values).unwrap();
        assert!(d.panels.len() >= 14);
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains("$function") && !text.contains("$namespace") && text.contains("fn-a"), "{text}");
        assert!(text.contains("redscribe-load"), "the default of $load_function");
        let sql = d.panels.iter().flat_map(|p| &p.queries).filter(|(_, q)| matches!(q, Query::Sql { .. })).count();
        assert!(sql >= 3);
        // The real-time factor's panel: each query on an axis of its own.
        let rtf = d.panels.iter().find(|p| p.id == 5).unwrap();
        let axes: Vec<(&str, &str, &str)> =
            rtf.axes.iter().map(|(r, a)| (r.as_str(), a.unit.as_str(), a.placement.as_str())).collect();
        assert_eq!(axes, [("A", "none", "left"), ("B", "s", "right")]);
    }

    #[test]
    fn time_filters_expand_to_the_range() {
        let from = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let to = DateTime::parse_from_rfc3339("2026-12-02T12:30:00Z").unwrap().with_timezone(&Utc);
        let sql = expand_time_filter("SELECT 1 FROM v WHERE $__timeFilter(day) AND $__timeFilter( t )", from, to);
        assert_eq!(
            sql,
            "SELECT 1 FROM v WHERE day BETWEEN TIMESTAMP '2026-12-01 00:00:00' AND TIMESTAMP '2026-12-02 12:30:00' \
             AND t BETWEEN TIMESTAMP '2026-12-01 00:00:00' AND TIMESTAMP '2026-12-02 12:30:00'"
        );
    }

    #[test]
    fn queries_match_the_dimension_set_and_reduce_each_period() {
        let f = [("Function", "fa"), ("Stage", "load")];
        let docs = [
            doc(1_000, &["Function", "Stage"], &f, "StageLatency", json!([10.0, 30.0])),
            doc(1_500, &["Function", "Stage"], &f, "StageLatency", json!(20.0)),
            doc(2_100, &["Function", "Stage"], &[("Function", "fa"), ("Stage", "write")], "StageLatency", json!(5.0)),
            // Another dimension set, another function: neither is the query's metric.
            doc(1_200, &["Function"], &[("Function", "fa")], "StageLatency", json!(99.0)),
            doc(1_200, &["Function", "Stage"], &[("Function", "fb"), ("Stage", "load")], "StageLatency", json!(7.0)),
        ];
        let load = evaluate(&docs, &query(&[("Function", "fa"), ("Stage", "load")], "Sum"), 1_000, 1_000).unwrap();
        assert_eq!(load, [Series { label: "latency".into(), points: vec![(1_000, 60.0)] }]);
        let avg = evaluate(&docs, &query(&[("Function", "fa"), ("Stage", "load")], "Average"), 0, 1_000).unwrap();
        assert_eq!(avg[0].points, [(1_000, 20.0)]);
        let p90 = evaluate(&docs, &query(&[("Function", "fa"), ("Stage", "load")], "p90"), 0, 1_000).unwrap();
        assert_eq!(p90[0].points, [(1_000, 30.0)]);
        let stages = evaluate(&docs, &query(&[("Function", "fa"), ("Stage", "*")], "SampleCount"), 0, 1_000).unwrap();
        let got: Vec<(&str, &[(i64, f64)])> = stages.iter().map(|s| (s.label.as_str(), &s.points[..])).collect();
        assert_eq!(got, [("latency load", &[(1_000, 3.0)][..]), ("latency write", &[(2_000, 1.0)][..])]);
        let mut named = query(&[("Function", "fa"), ("Stage", "*")], "Sum");
        if let Query::Metric { label, .. } = &mut named {
            *label = "p50 ${PROP('Dim.Stage')}".into();
        }
        let labels: Vec<String> = evaluate(&docs, &named, 0, 1_000).unwrap().into_iter().map(|s| s.label).collect();
        assert_eq!(labels, ["p50 load", "p50 write"]);
        let only = evaluate(&docs, &query(&[("Function", "fa")], "Maximum"), 0, 1_000).unwrap();
        assert_eq!(only[0].points, [(1_000, 99.0)]);
        assert!(evaluate(&docs, &query(&[("Function", "fa"), ("Stage", "load")], "p101"), 0, 1_000).is_err());
    }
}
