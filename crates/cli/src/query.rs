//! `redscribe query "<SQL>"`: run SQL through the configured Redshift Data API (the local stand-in or real AWS)
//! and print the rows as a table, JSON Lines or CSV.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use redscribe_aws::redshift::{DataApi, Rows, WarehouseTarget};

/// Where statements run: flags, else the original deployment's environment variables, else the local defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct WarehouseArgs {
    /// Redshift Serverless workgroup [default: local, when no cluster is given]
    #[arg(long, value_name = "NAME", env = "REDSHIFT_WORKGROUP", conflicts_with = "cluster")]
    workgroup: Option<String>,
    /// Provisioned cluster identifier (env REDSHIFT_CLUSTER_ID, as the Lambdas read it; REDSHIFT_CLUSTER is taken too).
    #[arg(long, value_name = "ID", env = "REDSHIFT_CLUSTER_ID")]
    cluster: Option<String>,
    /// Database.
    #[arg(long, value_name = "NAME", env = "REDSHIFT_DB", default_value = "dev")]
    database: String,
    /// Database user for temporary credentials (provisioned clusters).
    #[arg(long, value_name = "USER", env = "REDSHIFT_USER")]
    db_user: Option<String>,
    /// Secrets Manager secret with the database credentials.
    #[arg(long, value_name = "ARN", env = "REDSHIFT_SECRET_ARN")]
    secret_arn: Option<String>,
    /// Data API endpoint (e.g. the one `redscribe serve` prints); otherwise the AWS configuration decides.
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL_REDSHIFT_DATA")]
    pub data_api_endpoint: Option<String>,
    /// AWS region; otherwise the AWS configuration decides.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

impl WarehouseArgs {
    pub fn target(&self) -> WarehouseTarget {
        // The earlier spelling, still understood.
        let cluster = self
            .cluster
            .clone()
            .or_else(|| std::env::var("REDSHIFT_CLUSTER").ok().filter(|c| !c.is_empty() && self.workgroup.is_none()));
        WarehouseTarget {
            workgroup: match (&self.workgroup, &cluster) {
                (None, None) => Some("local".to_string()),
                (w, _) => w.clone(),
            },
            cluster,
            database: self.database.clone(),
            db_user: self.db_user.clone(),
            secret_arn: self.secret_arn.clone(),
        }
    }

    pub async fn connect(&self) -> anyhow::Result<DataApi> {
        let conf = redscribe_aws::config::load(self.data_api_endpoint.as_deref(), self.region.as_deref()).await;
        Ok(DataApi::from_conf(&conf, self.target())?)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The SQL to run (Redshift dialect).
    sql: String,
    /// Output format: an aligned table, JSON Lines (one object per row) or CSV with a header.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Give up (and cancel the statement) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    timeout: u64,
    #[command(flatten)]
    warehouse: WarehouseArgs,
}

pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let rows = runtime.block_on(async {
        let api = args.warehouse.connect().await?;
        api.query_rows(&args.sql, &[], Duration::from_secs(args.timeout)).await.map_err(explain).context("query failed")
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Table => print_table(&mut out, &rows)?,
        Format::Json => print_json(&mut out, &rows)?,
        Format::Csv => print_csv(&mut out, &rows)?,
    }
    Ok(())
}

/// What to do about a failure the Data API's limits cause, added to its message.
fn explain(e: redscribe_aws::AwsError) -> anyhow::Error {
    let message = e.to_string();
    if message.contains("Packet for query is too large") {
        return anyhow::anyhow!(
            "{message}\n\nThe Data API returns rows of at most 64 KB, and a transcript may be up to 65,535 bytes. Read \
             a long text in parts of 16,000 characters (at most 64,000 bytes each), one row per part:\n  select id, \
             n, substring(text, (n - 1) * 16000 + 1, 16000) as part from transcription_results, (select 1 as n union \
             all select 2 union all select 3 union all select 4 union all select 5) as parts where id = '…' and \
             len(text) > (n - 1) * 16000 order by n\nor by its segments:\n  select segment_index, start_s, text from \
             transcription_segments where id = '…' order by segment_index"
        );
    }
    if message.contains("Database response exceeded size limit") {
        return anyhow::anyhow!(
            "{message}\n\nThe Data API returns at most 500 MB per statement: add a LIMIT, or page with a WHERE range."
        );
    }
    anyhow::Error::new(e)
}

pub fn print_table(out: &mut impl Write, rows: &Rows) -> anyhow::Result<()> {
    if rows.columns.is_empty() {
        writeln!(out, "OK")?;
        return Ok(());
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(&rows.columns);
    for row in &rows.rows {
        table.add_row(row.iter().map(|c| c.text()));
    }
    writeln!(out, "{table}")?;
    writeln!(out, "({} row{})", rows.rows.len(), if rows.rows.len() == 1 { "" } else { "s" })?;
    Ok(())
}

fn print_json(out: &mut impl Write, rows: &Rows) -> anyhow::Result<()> {
    for row in &rows.rows {
        let object: serde_json::Map<String, serde_json::Value> =
            rows.columns.iter().cloned().zip(row.iter().map(|c| c.json())).collect();
        writeln!(out, "{}", serde_json::Value::Object(object))?;
    }
    Ok(())
}

fn print_csv(out: &mut impl Write, rows: &Rows) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(&rows.columns)?;
    for row in &rows.rows {
        writer.write_record(row.iter().map(|c| c.text()))?;
    }
    writer.flush()?;
    Ok(())
}
