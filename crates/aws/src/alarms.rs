//! CloudWatch alarms: the shipped alarm definitions ([`redscribe_core::alarms`]) created or updated with
//! `PutMetricAlarm` (idempotent: the same name replaces the alarm), and read back with `DescribeAlarms`.

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, StandardUnit, Statistic,
};
use aws_sdk_cloudwatch::Client;
use redscribe_core::alarms::{self, AlarmSpec};

use crate::retry::RetryPolicy;
use crate::AwsError;

/// An alarm as CloudWatch reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: Option<String>,
    /// The metric, or `metric math` for an alarm on an expression.
    pub metric: String,
    pub comparison: String,
    pub threshold: Option<f64>,
    pub actions_enabled: bool,
    pub actions: Vec<String>,
}

/// CloudWatch, for alarms.
#[derive(Debug, Clone)]
pub struct Alarms {
    client: Client,
    retry: RetryPolicy,
}

impl Alarms {
    /// A client from an SDK configuration; the SDK's own retries are off.
    pub fn from_conf(conf: &aws_config::SdkConfig) -> Alarms {
        let conf = aws_sdk_cloudwatch::config::Builder::from(conf)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        Alarms { client: Client::from_conf(conf), retry: RetryPolicy::default() }
    }

    /// Creates or replaces one alarm.
    pub async fn put(&self, spec: &AlarmSpec) -> Result<(), AwsError> {
        let bad = |what: &str, value: &str| AwsError::Config(format!("{}: {what} {value:?}", spec.alarm_name));
        let comparison = ComparisonOperator::try_parse(&spec.comparison_operator)
            .map_err(|_| bad("unknown ComparisonOperator", &spec.comparison_operator))?;
        let statistic = match &spec.statistic {
            Some(s) => Some(Statistic::try_parse(s).map_err(|_| bad("unknown Statistic", s))?),
            None => None,
        };
        let unit = match &spec.unit {
            Some(u) => Some(StandardUnit::try_parse(u).map_err(|_| bad("unknown Unit", u))?),
            None => None,
        };
        let metrics = spec.metrics.iter().map(|q| query(spec, q)).collect::<Result<Vec<_>, _>>()?;
        let request = self
            .client
            .put_metric_alarm()
            .alarm_name(&spec.alarm_name)
            .set_alarm_description(spec.alarm_description.clone())
            .set_actions_enabled(spec.actions_enabled)
            .set_ok_actions(non_empty(&spec.ok_actions))
            .set_alarm_actions(non_empty(&spec.alarm_actions))
            .set_insufficient_data_actions(non_empty(&spec.insufficient_data_actions))
            .set_metric_name(spec.metric_name.clone())
            .set_namespace(spec.namespace.clone())
            .set_statistic(statistic)
            .set_extended_statistic(spec.extended_statistic.clone())
            .set_dimensions(non_empty(&dimensions(&spec.dimensions)))
            .set_period(spec.period)
            .set_unit(unit)
            .evaluation_periods(spec.evaluation_periods)
            .set_datapoints_to_alarm(spec.datapoints_to_alarm)
            .set_threshold(spec.threshold)
            .comparison_operator(comparison)
            .set_treat_missing_data(spec.treat_missing_data.clone())
            .set_evaluate_low_sample_count_percentile(spec.evaluate_low_sample_count_percentile.clone())
            .set_metrics(non_empty(&metrics))
            .set_threshold_metric_id(spec.threshold_metric_id.clone());
        self.retry.send("PutMetricAlarm", || request.clone().send()).await?;
        Ok(())
    }

    /// Every metric alarm whose name starts with `prefix`, in name order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<AlarmState>, AwsError> {
        let pages = self
            .retry
            .pages(
                "DescribeAlarms",
                |token| self.client.describe_alarms().alarm_name_prefix(prefix).set_next_token(token).send(),
                |page| page.next_token().map(str::to_string),
            )
            .await?;
        let mut out: Vec<AlarmState> = pages.iter().flat_map(|p| p.metric_alarms().iter().map(state)).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// Applies every alarm of a rendered alarms file; returns their names.
pub async fn apply(alarms_api: &Alarms, specs: &[AlarmSpec]) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    for spec in specs {
        alarms_api.put(spec).await?;
        names.push(spec.alarm_name.clone());
    }
    Ok(names)
}

fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

fn dimensions(dims: &[alarms::Dimension]) -> Vec<Dimension> {
    dims.iter().map(|d| Dimension::builder().name(&d.name).value(&d.value).build()).collect()
}

fn query(spec: &AlarmSpec, q: &alarms::MetricQuery) -> Result<MetricDataQuery, AwsError> {
    let stat = match &q.metric_stat {
        None => None,
        Some(s) => {
            let unit = match &s.unit {
                Some(u) => Some(
                    StandardUnit::try_parse(u)
                        .map_err(|_| AwsError::Config(format!("{}: unknown Unit {u:?}", spec.alarm_name)))?,
                ),
                None => None,
            };
            let metric = Metric::builder()
                .namespace(&s.metric.namespace)
                .metric_name(&s.metric.metric_name)
                .set_dimensions(non_empty(&dimensions(&s.metric.dimensions)))
                .build();
            Some(MetricStat::builder().metric(metric).period(s.period).stat(&s.stat).set_unit(unit).build())
        }
    };
    Ok(MetricDataQuery::builder()
        .id(&q.id)
        .set_metric_stat(stat)
        .set_expression(q.expression.clone())
        .set_label(q.label.clone())
        .set_return_data(q.return_data)
        .set_period(q.period)
        .build())
}

fn state(a: &MetricAlarm) -> AlarmState {
    AlarmState {
        name: a.alarm_name().unwrap_or_default().to_string(),
        state: a.state_value().map(|s| s.as_str().to_string()).unwrap_or_default(),
        reason: a.state_reason().map(str::to_string),
        metric: a.metric_name().map_or_else(|| "metric math".to_string(), str::to_string),
        comparison: a.comparison_operator().map(|c| c.as_str().to_string()).unwrap_or_default(),
        threshold: a.threshold(),
        actions_enabled: a.actions_enabled().unwrap_or(false),
        actions: a.alarm_actions().to_vec(),
    }
}
