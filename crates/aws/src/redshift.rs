//! The Redshift Data API client: statements and batches submitted with retries on throttling, polled to the end
//! with backoff and a deadline, results paged into typed rows.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use redscribe_core::ports::{PortError, Warehouse};
use redscribe_core::{Disposition, ErrorCode};

use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
use aws_sdk_redshiftdata::types::{Field, SqlParameter, StatusString};
use aws_sdk_redshiftdata::Client;
use base64::Engine as _;

use crate::retry::RetryPolicy;
use crate::AwsError;

/// Which warehouse the statements run on, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseTarget {
    /// A Redshift Serverless workgroup, or …
    pub workgroup: Option<String>,
    /// … a provisioned cluster.
    pub cluster: Option<String>,
    pub database: String,
    /// Temporary credentials for this database user (provisioned clusters).
    pub db_user: Option<String>,
    /// A Secrets Manager secret holding the credentials.
    pub secret_arn: Option<String>,
}

impl WarehouseTarget {
    /// Checks that exactly one of workgroup and cluster is set.
    pub fn validate(&self) -> Result<(), AwsError> {
        match (&self.workgroup, &self.cluster) {
            (Some(_), Some(_)) => Err(AwsError::Config("set a workgroup or a cluster, not both".into())),
            (None, None) => Err(AwsError::Config("set a workgroup (Serverless) or a cluster (provisioned)".into())),
            _ if self.database.is_empty() => Err(AwsError::Config("the database name is empty".into())),
            _ => Ok(()),
        }
    }
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    fn from_field(field: &Field) -> Cell {
        match field {
            Field::IsNull(_) => Cell::Null,
            Field::BooleanValue(b) => Cell::Bool(*b),
            Field::LongValue(n) => Cell::Long(*n),
            Field::DoubleValue(d) => Cell::Double(*d),
            Field::StringValue(s) => Cell::Text(s.clone()),
            Field::BlobValue(b) => Cell::Blob(b.as_ref().to_vec()),
            _ => Cell::Null,
        }
    }

    /// The value as text (empty for NULL), for tables and CSV.
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Bool(b) => b.to_string(),
            Cell::Long(n) => n.to_string(),
            Cell::Double(d) => d.to_string(),
            Cell::Text(s) => s.clone(),
            Cell::Blob(b) => base64::engine::general_purpose::STANDARD.encode(b),
        }
    }

    /// The value as JSON.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Bool(b) => (*b).into(),
            Cell::Long(n) => (*n).into(),
            Cell::Double(d) => serde_json::Number::from_f64(*d).map_or(serde_json::Value::Null, Into::into),
            Cell::Text(_) | Cell::Blob(_) => self.text().into(),
        }
    }
}

/// The rows of a query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// How a statement (or a statement of a batch) ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub id: String,
    pub query_id: i64,
    /// Rows affected (or returned).
    pub rows: i64,
    pub has_result_set: bool,
    /// The statements of a batch, in order.
    pub statements: Vec<Finished>,
}

/// The Data API, for one warehouse.
#[derive(Debug, Clone)]
pub struct DataApi {
    client: Client,
    target: WarehouseTarget,
    retry: RetryPolicy,
    /// First and largest wait between two `DescribeStatement` calls.
    poll: (Duration, Duration),
    /// How long a statement may run before it is cancelled (the port's calls).
    statement_timeout: Duration,
}

impl DataApi {
    /// A client for `target` from an SDK configuration (see [`crate::config::load`]).
    /// A client from an SDK configuration. The SDK's own retries are off: [`RetryPolicy`] and
    /// [`ErrorCode::disposition`](redscribe_core::ErrorCode::disposition) are the one place that decides.
    pub fn from_conf(conf: &aws_config::SdkConfig, target: WarehouseTarget) -> Result<DataApi, AwsError> {
        let conf = aws_sdk_redshiftdata::config::Builder::from(conf)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        DataApi::new(Client::from_conf(conf), target)
    }

    pub fn new(client: Client, target: WarehouseTarget) -> Result<DataApi, AwsError> {
        target.validate()?;
        Ok(DataApi {
            client,
            target,
            retry: RetryPolicy::default(),
            poll: (Duration::from_millis(50), Duration::from_secs(2)),
            statement_timeout: Duration::from_secs(15 * 60),
        })
    }

    /// How long a statement run through the [`Warehouse`] port may take before it is cancelled.
    pub fn with_statement_timeout(mut self, timeout: Duration) -> DataApi {
        self.statement_timeout = timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> DataApi {
        self.retry = retry;
        self
    }

    /// The SDK client (for what the port does not cover, e.g. `ListStatements`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn target(&self) -> &WarehouseTarget {
        &self.target
    }

    /// Submits one SQL text; `parameters` bind `:name` placeholders as values.
    pub async fn submit(&self, sql: &str, parameters: &[(&str, &str)]) -> Result<String, AwsError> {
        let params: Option<Vec<SqlParameter>> = if parameters.is_empty() {
            None
        } else {
            let mut out = Vec::with_capacity(parameters.len());
            for (name, value) in parameters {
                out.push(
                    SqlParameter::builder()
                        .name(*name)
                        .value(*value)
                        .build()
                        .map_err(|e| AwsError::Config(format!("parameter {name}: {e}")))?,
                );
            }
            Some(out)
        };
        let t = &self.target;
        let out = self
            .retry
            .send("ExecuteStatement", || {
                self.client
                    .execute_statement()
                    .sql(sql)
                    .database(&t.database)
                    .set_workgroup_name(t.workgroup.clone())
                    .set_cluster_identifier(t.cluster.clone())
                    .set_db_user(t.db_user.clone())
                    .set_secret_arn(t.secret_arn.clone())
                    .set_parameters(params.clone())
                    .send()
            })
            .await?;
        out.id.ok_or_else(|| AwsError::Config("ExecuteStatement returned no id".into()))
    }

    /// Submits statements that run in one transaction. `client_token` makes a retried submission idempotent.
    pub async fn submit_batch(&self, sqls: &[String], client_token: Option<&str>) -> Result<String, AwsError> {
        let t = &self.target;
        let out = self
            .retry
            .send("BatchExecuteStatement", || {
                self.client
                    .batch_execute_statement()
                    .set_sqls(Some(sqls.to_vec()))
                    .database(&t.database)
                    .set_workgroup_name(t.workgroup.clone())
                    .set_cluster_identifier(t.cluster.clone())
                    .set_db_user(t.db_user.clone())
                    .set_secret_arn(t.secret_arn.clone())
                    .set_client_token(client_token.map(str::to_string))
                    .send()
            })
            .await?;
        out.id.ok_or_else(|| AwsError::Config("BatchExecuteStatement returned no id".into()))
    }

    /// Polls `DescribeStatement` (backoff from 50 ms to 2 s) until the statement ends or `timeout` passes. A
    /// `DescribeStatement` that fails transiently says nothing of the statement, which runs on: it is asked again
    /// until the deadline, never taken for the statement's failure. At the deadline the statement is cancelled
    /// and the cancel confirmed ([`DataApi::cancel_and_confirm`]).
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Finished, AwsError> {
        let deadline = Instant::now() + timeout;
        let mut pause = self.poll.0;
        loop {
            match self.describe(id).await {
                Ok(d) => {
                    if let Some(end) = ended(id, &d) {
                        return end;
                    }
                }
                Err(e) if e.code().disposition() == Disposition::Retry => {
                    tracing::warn!(id, error = %e, "DescribeStatement failed; the statement runs on, asking again");
                }
                Err(e) => return Err(e),
            }
            if Instant::now() + pause > deadline {
                return self.cancel_and_confirm(id, timeout).await;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(self.poll.1);
        }
    }

    async fn describe(&self, id: &str) -> Result<DescribeStatementOutput, AwsError> {
        self.client.describe_statement().id(id).send().await.map_err(|e| AwsError::from_sdk("DescribeStatement", e))
    }

    /// Cancels a statement past its deadline and waits (at most [`CANCEL_CONFIRM`]) until it has ended: a statement
    /// that finished before the cancel reached it committed, and is returned as finished; one that ended otherwise,
    /// or whose end cannot be confirmed, is a [`AwsError::Deadline`] saying which.
    async fn cancel_and_confirm(&self, id: &str, timeout: Duration) -> Result<Finished, AwsError> {
        if let Err(e) = self.client.cancel_statement().id(id).send().await {
            // Refused when the statement has just ended: what it ended as is asked below.
            tracing::info!(id, error = %AwsError::from_sdk("CancelStatement", e), "cancel not taken");
        }
        let until = Instant::now() + CANCEL_CONFIRM;
        loop {
            if let Ok(d) = self.describe(id).await {
                match ended(id, &d) {
                    Some(Ok(finished)) => return Ok(finished),
                    Some(Err(_)) => {
                        return Err(AwsError::Deadline { id: id.to_string(), seconds: timeout.as_secs(), ended: true })
                    }
                    None => {}
                }
            }
            if Instant::now() >= until {
                tracing::error!(id, "the statement was cancelled but has not ended");
                return Err(AwsError::Deadline { id: id.to_string(), seconds: timeout.as_secs(), ended: false });
            }
            tokio::time::sleep(self.poll.0.max(Duration::from_millis(200))).await;
        }
    }

    /// Every row of a finished statement's result, across pages.
    pub async fn fetch(&self, id: &str) -> Result<Rows, AwsError> {
        let pages = self
            .retry
            .pages(
                "GetStatementResult",
                |token| self.client.get_statement_result().id(id).set_next_token(token).send(),
                |page| page.next_token().map(str::to_string),
            )
            .await?;
        let mut out = Rows::default();
        for page in pages {
            if out.columns.is_empty() {
                out.columns = page.column_metadata().iter().map(|c| c.name().unwrap_or_default().to_string()).collect();
            }
            out.rows.extend(page.records().iter().map(|r| r.iter().map(Cell::from_field).collect()));
        }
        Ok(out)
    }

    /// Runs one SQL text to its end and returns its rows (empty when it has no result set).
    pub async fn query_rows(
        &self,
        sql: &str,
        parameters: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Rows, AwsError> {
        let id = self.submit(sql, parameters).await?;
        let finished = self.wait(&id, timeout).await?;
        if finished.has_result_set {
            self.fetch(&id).await
        } else {
            Ok(Rows::default())
        }
    }
}

impl DataApi {
    /// How long a statement may run: the statement timeout, or less when `deadline` comes sooner. No time left
    /// is a transient failure before anything is submitted.
    fn time_left(&self, deadline: Option<Instant>) -> Result<Duration, PortError> {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let timeout = left.map_or(self.statement_timeout, |l| l.min(self.statement_timeout));
        if timeout.is_zero() {
            return Err(PortError::new(ErrorCode::ServiceUnavailable, "no time left to run the statement"));
        }
        Ok(timeout)
    }
}

/// How long a cancelled statement may take to end before the cancel is reported unconfirmed.
const CANCEL_CONFIRM: Duration = Duration::from_secs(10);

/// What a described statement ended as, when it has ended.
fn ended(id: &str, d: &DescribeStatementOutput) -> Option<Result<Finished, AwsError>> {
    match d.status() {
        Some(StatusString::Finished) => {
            let statements = d
                .sub_statements()
                .iter()
                .map(|s| Finished {
                    id: s.id().to_string(),
                    query_id: s.redshift_query_id(),
                    rows: s.result_rows(),
                    has_result_set: s.has_result_set().unwrap_or(false),
                    statements: Vec::new(),
                })
                .collect();
            Some(Ok(Finished {
                id: id.to_string(),
                query_id: d.redshift_query_id(),
                rows: d.result_rows(),
                has_result_set: d.has_result_set().unwrap_or(false),
                statements,
            }))
        }
        Some(StatusString::Failed | StatusString::Aborted) => {
            // For a batch, the failing statement's query id is what sys_load_error_detail knows.
            let failed = d.sub_statements().iter().find(|s| s.error().is_some());
            Some(Err(AwsError::Statement {
                id: id.to_string(),
                status: d.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                message: d.error().unwrap_or("no error message").to_string(),
                query_id: failed.map_or(d.redshift_query_id(), |s| s.redshift_query_id()),
            }))
        }
        _ => None,
    }
}

#[async_trait]
impl Warehouse for DataApi {
    async fn run_batch(&self, sqls: &[String], token: &str) -> Result<(), PortError> {
        self.run_batch_until(sqls, token, None).await
    }

    async fn run_batch_until(&self, sqls: &[String], token: &str, deadline: Option<Instant>) -> Result<(), PortError> {
        let timeout = self.time_left(deadline)?;
        let id = self.submit_batch(sqls, Some(token)).await?;
        self.wait(&id, timeout).await?;
        Ok(())
    }

    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PortError> {
        self.query_until(sql, None).await
    }

    async fn query_until(&self, sql: &str, deadline: Option<Instant>) -> Result<Vec<Vec<Option<String>>>, PortError> {
        let timeout = self.time_left(deadline)?;
        let rows = self.query_rows(sql, &[], timeout).await?;
        Ok(rows
            .rows
            .into_iter()
            .map(|r| r.into_iter().map(|c| if c == Cell::Null { None } else { Some(c.text()) }).collect())
            .collect())
    }
}
