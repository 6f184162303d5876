//! `redscribe dashboard`: the shipped Grafana dashboard drawn from a local run, on a page on loopback. Each panel's
//! CloudWatch queries are answered over the EMF documents of the data folder (`metrics/emf.jsonl`) as CloudWatch
//! would answer them, its SQL runs through the Data API stand-in over the warehouse; `--check` prints what each
//! panel has instead of serving the page.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use redscribe_aws::redshift::DataApi;
use redscribe_local::dashboard::query::{evaluate, expand_time_filter, Dashboard, Query, Series};
use serde_json::{json, Value};

use crate::local::data_dir_or_default;
use crate::target::Target;

#[derive(Debug, clap::Args)]
pub struct DashboardArgs {
    /// Data folder of the local run to draw [default: the user's data directory, e.g. ~/.local/share/redscribe]
    #[arg(long, value_name = "DIR", env = "REDSCRIBE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address of the page (loopback only; port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// A dashboard JSON of one's own [default: dashboards/redscribe-pipeline.json, compiled in].
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print each panel with how much data it has and exit (status 1 when a panel of redscribe's metrics or of
    /// the warehouse has none), instead of serving the page.
    #[arg(long)]
    check: bool,
}

/// The dashboard's variables as a local run has them: one process, one `Function` dimension for both stages.
fn local_variables() -> BTreeMap<String, String> {
    let function = "redscribe".to_string();
    BTreeMap::from([
        ("function".to_string(), function.clone()),
        ("load_function".to_string(), function),
        ("namespace".to_string(), redscribe_core::metrics::DEFAULT_NAMESPACE.to_string()),
    ])
}

pub fn run(args: DashboardArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let shutdown = crate::serve::Shutdown::listen();
        let text = match &args.file {
            Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            None => redscribe_local::dashboard::query::SHIPPED.to_string(),
        };
        let dashboard = Arc::new(Dashboard::parse(&text, &local_variables())?);
        let data_dir = data_dir_or_default(args.data_dir.as_ref())?;
        let target = Target::local(data_dir.clone()).await?;
        let source = Arc::new(Source { dashboard, data_dir, warehouse: target.warehouse.clone() });
        if args.check {
            let panels = source.panels().await;
            target.close().await?;
            return check(&panels);
        }
        let server = serve(source, args.addr).await?;
        println!("dashboard: {}", server.url());
        println!("(Ctrl-C stops it)");
        shutdown.requested().await;
        server.stop().await;
        target.close().await?;
        Ok(())
    })
}

/// Serves the page for `source` on `addr`; the caller prints its URL and stops it.
pub async fn serve(
    source: Arc<Source>,
    addr: SocketAddr,
) -> anyhow::Result<redscribe_local::dashboard::DashboardServer> {
    // uPlot is in the cache `scripts/setup.sh` installs into.
    let uplot = redscribe_core::settings::cache_dir_from_env().join("dashboard-tools/node_modules/uplot/dist");
    let panels: redscribe_local::dashboard::Panels = Arc::new(move || {
        let source = source.clone();
        Box::pin(async move { source.panels().await })
    });
    Ok(redscribe_local::dashboard::DashboardServer::start(addr, uplot, panels).await?)
}

/// What a panel's data comes from: the run's EMF documents and its warehouse.
pub struct Source {
    pub dashboard: Arc<Dashboard>,
    pub data_dir: PathBuf,
    pub warehouse: Arc<DataApi>,
}

impl Source {
    /// The shipped dashboard over the run in `data_dir` and its warehouse.
    pub fn shipped(data_dir: &Path, warehouse: Arc<DataApi>) -> anyhow::Result<Source> {
        let dashboard = Arc::new(Dashboard::parse(redscribe_local::dashboard::query::SHIPPED, &local_variables())?);
        Ok(Source { dashboard, data_dir: data_dir.to_path_buf(), warehouse })
    }

    /// Every panel with its data, as the page draws them.
    pub async fn panels(&self) -> Value {
        let docs = read_emf(&self.data_dir.join("metrics/emf.jsonl"));
        let now = Utc::now();
        let first = docs.iter().filter_map(|d| d["_aws"]["Timestamp"].as_i64()).min();
        // The charts span the run's metrics (at most a day); periods of a hundredth of it, a second at least.
        let to_ms = now.timestamp_millis();
        let from_ms = first.unwrap_or(to_ms - 86_400_000).max(to_ms - 86_400_000) / 1000 * 1000;
        let period_ms = ((to_ms - from_ms) / 100).max(1000) / 1000 * 1000;
        // The daily views: the last 30 days.
        let sql_from = now - chrono::Duration::days(30);
        let mut panels = Vec::new();
        for panel in &self.dashboard.panels {
            let warehouse = panel.queries.iter().any(|(_, q)| matches!(q, Query::Sql { .. }));
            // Daily views span their days; the metrics the run's time.
            let range = if warehouse { [sql_from.timestamp_millis(), to_ms] } else { [from_ms, to_ms] };
            let mut out = json!({
                "id": panel.id, "kind": panel.kind, "title": panel.title, "description": panel.description,
                "grid": panel.grid, "unit": panel.unit, "draw_style": panel.draw_style, "range": range,
                "series": [], "table": null, "note": null,
                "source": if warehouse { "warehouse" } else { "cloudwatch" },
            });
            let mut series = Vec::new();
            let mut notes = Vec::new();
            for (ref_id, query) in &panel.queries {
                // A series drawn against its query's own axis, when the panel gives it one.
                let axis = panel.axes.get(ref_id);
                let drawn = |s: Series| {
                    json!({
                        "label": s.label, "points": s.points,
                        "unit": axis.map_or(panel.unit.as_str(), |a| a.unit.as_str()),
                        "placement": axis.map_or("auto", |a| a.placement.as_str()),
                    })
                };
                match query {
                    Query::Metric { namespace, .. } if namespace.starts_with("AWS/") => {
                        notes.push(format!("{namespace} is published by AWS itself: no local source"));
                    }
                    Query::Metric { .. } => match evaluate(&docs, query, from_ms, period_ms) {
                        Ok(s) => series.extend(s.into_iter().map(drawn)),
                        Err(e) => notes.push(e.to_string()),
                    },
                    Query::Sql { sql, time_series } => match self.sql(sql, sql_from, now).await {
                        Ok(rows) if *time_series => series.extend(time_series_of(&rows).into_iter().map(drawn)),
                        Ok(rows) => out["table"] = rows,
                        Err(e) => notes.push(format!("{e:#}")),
                    },
                }
            }
            notes.dedup();
            out["series"] = Value::Array(series);
            out["note"] = if notes.is_empty() { Value::Null } else { notes.join("; ").into() };
            panels.push(out);
        }
        json!({
            "title": self.dashboard.title, "from": from_ms, "to": to_ms, "period_s": period_ms / 1000,
            "panels": panels,
        })
    }

    async fn sql(&self, sql: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<Value> {
        let sql = expand_time_filter(sql, from, to);
        let rows = self.warehouse.query_rows(&sql, &[], Duration::from_secs(60)).await?;
        Ok(json!({
            "columns": rows.columns,
            "rows": rows.rows.iter().map(|r| r.iter().map(|c| c.json()).collect::<Vec<_>>()).collect::<Vec<_>>(),
        }))
    }
}

/// A table whose first column is a time (a date or a timestamp) as one series per further numeric column.
fn time_series_of(table: &Value) -> Vec<Series> {
    let columns: Vec<&str> = table["columns"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let rows = table["rows"].as_array().cloned().unwrap_or_default();
    let time = |v: &Value| -> Option<i64> {
        let s = v.as_str()?;
        let date = chrono::NaiveDate::parse_from_str(&s[..s.len().min(10)], "%Y-%m-%d").ok()?;
        Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
    };
    (1..columns.len())
        .map(|c| Series {
            label: columns[c].to_string(),
            points: rows.iter().filter_map(|r| Some((time(&r[0])?, r[c].as_f64()?))).collect(),
        })
        .collect()
}

fn read_emf(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// `--check`: one line per panel; fails when one that a local run can fill has nothing.
fn check(panels: &Value) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    for p in panels["panels"].as_array().into_iter().flatten() {
        let points: usize =
            p["series"].as_array().into_iter().flatten().map(|s| s["points"].as_array().map_or(0, Vec::len)).sum();
        let rows = p["table"]["rows"].as_array().map_or(0, Vec::len);
        let note = p["note"].as_str().unwrap_or_default();
        let aws_only = points == 0 && rows == 0 && note.contains("published by AWS itself");
        let what = if p["table"].is_null() { format!("{points} points") } else { format!("{rows} rows") };
        println!(
            "{:>3}  {:<11} {:<50} {what}{}",
            p["id"],
            p["source"].as_str().unwrap_or_default(),
            p["title"].as_str().unwrap_or_default(),
            if note.is_empty() { String::new() } else { format!("  ({note})") }
        );
        if points == 0 && rows == 0 && !aws_only {
            missing.push(p["title"].as_str().unwrap_or_default().to_string());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} panel(s) without data: {}", missing.len(), missing.join(", "))
    }
}
