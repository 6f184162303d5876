//! The shipped CloudWatch alarms (`alarms/alarms.json`): a list of `PutMetricAlarm` inputs, spelled as the API and
//! `aws cloudwatch put-metric-alarm --cli-input-json` spell them, with `${NAME}` placeholders for what differs
//! between deployments (the SNS topic, the namespace, the function names, …). [`render`] fills the placeholders
//! and reads the alarms into typed [`AlarmSpec`]s; a field the API does not know is an error, so the file cannot
//! drift from what `PutMetricAlarm` accepts.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The alarms file, compiled in: `redscribe alarms` applies it unless given another.
pub const SHIPPED: &str = include_str!("../../../alarms/alarms.json");

/// One `PutMetricAlarm` input: a single metric (`MetricName`, `Namespace`, `Statistic`, …) or metric math
/// (`Metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AlarmSpec {
    pub alarm_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_enabled: Option<bool>,
    #[serde(default, rename = "OKActions", skip_serializing_if = "Vec::is_empty")]
    pub ok_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarm_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insufficient_data_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub evaluation_periods: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    pub comparison_operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_low_sample_count_percentile: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricQuery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_metric_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// One entry of a metric-math alarm's `Metrics`: a metric (`MetricStat`) or an expression over the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetricQuery {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetricStat {
    pub metric: MetricRef,
    pub period: i32,
    pub stat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetricRef {
    pub namespace: String,
    pub metric_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
}

/// The `${NAME}` placeholders of an alarms file.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                names.insert(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    names
}

/// Fills every placeholder of an alarms file from `values` and reads its alarms. A placeholder without a value
/// is an error naming it (an alarm pointing at `${SNS_TOPIC_ARN}` would never notify anyone). Values are
/// inserted as JSON string content, so a value cannot change the document's shape.
pub fn render(text: &str, values: &BTreeMap<String, String>) -> Result<Vec<AlarmSpec>, CoreError> {
    let missing: Vec<String> = placeholders(text).into_iter().filter(|name| !values.contains_key(name)).collect();
    if !missing.is_empty() {
        return Err(CoreError::Alarms(format!("no value for {}", missing.join(", "))));
    }
    let mut filled = text.to_string();
    for (name, value) in values {
        let escaped = serde_json::to_string(value)?;
        filled = filled.replace(&format!("${{{name}}}"), &escaped[1..escaped.len() - 1]);
    }
    let alarms: Vec<AlarmSpec> = serde_json::from_str(&filled).map_err(|e| CoreError::Alarms(e.to_string()))?;
    let mut names = BTreeSet::new();
    for alarm in &alarms {
        if !names.insert(alarm.alarm_name.as_str()) {
            return Err(CoreError::Alarms(format!("{} is defined twice", alarm.alarm_name)));
        }
        let (single, math) = (alarm.metric_name.is_some(), !alarm.metrics.is_empty());
        if single == math {
            return Err(CoreError::Alarms(format!(
                "{}: give either MetricName (one metric) or Metrics (metric math), not both or neither",
                alarm.alarm_name
            )));
        }
    }
    Ok(alarms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_shipped_alarms_render_with_every_placeholder_filled() {
        let names = placeholders(SHIPPED);
        assert!(names.contains("SNS_TOPIC_ARN") && names.contains("NAMESPACE"), "{names:?}");
        let all: BTreeMap<String, String> = names.iter().map(|n| (n.clone(), format!("value-of-{n}"))).collect();
        let alarms = render(SHIPPED, &all).unwrap();
        assert_eq!(alarms.len(), 13);
        let text = serde_json::to_string(&alarms).unwrap();
        assert!(!text.contains("${"), "{text}");
        assert!(alarms.iter().all(|a| a.alarm_actions == ["value-of-SNS_TOPIC_ARN"]));
    }

    #[test]
    fn a_missing_value_or_an_unknown_field_is_an_error() {
        let e = render(SHIPPED, &values(&[("NAMESPACE", "Redscribe")])).unwrap_err().to_string();
        assert!(e.contains("SNS_TOPIC_ARN"), "{e}");
        let typo = r#"[{"AlarmName": "a", "MetricName": "m", "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold", "Treshold": 1}]"#;
        assert!(render(typo, &BTreeMap::new()).unwrap_err().to_string().contains("Treshold"));
        let both = r#"[{"AlarmName": "a", "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold"}]"#;
        assert!(render(both, &BTreeMap::new()).unwrap_err().to_string().contains("either"));
    }

    #[test]
    fn values_cannot_change_the_document() {
        let text = r#"[{"AlarmName": "${N}", "MetricName": "m", "EvaluationPeriods": 1, "ComparisonOperator": "LessThanThreshold"}]"#;
        let alarms = render(text, &values(&[("N", "x\", \"Threshold\": 5, \"y")])).unwrap();
        assert_eq!(alarms[0].alarm_name, "x\", \"Threshold\": 5, \"y");
        assert_eq!(alarms[0].threshold, None);
    }
}
