//! The Data API's operations over the local warehouse: statements run asynchronously (SUBMITTED → STARTED →
//! FINISHED | FAILED | ABORTED), batches in one transaction, results paged, errors in the service's shapes.
//!
//! - `runner`: a submitted statement run to its end state on a warehouse session.
//! - `faults`: refused statements and lost responses, switched on by tests and `redscribe serve`.

mod faults;
mod runner;

pub use faults::Faults;
use runner::run_statement;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use duckdb::InterruptHandle;
use tokio::sync::Semaphore;

use super::engine::{LocalWarehouse, ResultSet};
use super::protocol::*;

/// The one database the local warehouse answers to.
pub const DATABASE: &str = "dev";
/// `BatchExecuteStatement` takes at most this many statements (`Sqls`: a list of 1 to 40 in the service's API
/// model, `SqlList`).
const MAX_BATCH: usize = redscribe_core::load::BATCH_MAX_STATEMENTS;
/// The most text of one statement (see [`redscribe_core::load::STATEMENT_MAX_BYTES`] for the source).
const MAX_STATEMENT_BYTES: usize = redscribe_core::load::STATEMENT_MAX_BYTES;
/// Statements remembered for `DescribeStatement` / `ListStatements` (the service keeps them 24 hours).
const MAX_REMEMBERED: usize = 10_000;

/// Limits and faults of the Data API stand-in.
#[derive(Debug, Clone)]
pub struct DataApiConfig {
    /// Statements submitted or running at once before `ActiveStatementsExceededException` (the service's quota
    /// is 500 per cluster or workgroup).
    pub max_active_statements: usize,
    /// Statements executing at once; the rest wait as SUBMITTED.
    pub workers: usize,
    /// Records per `GetStatementResult` page.
    pub page_rows: usize,
    /// How long a statement may run before it is cancelled and ends `FAILED` ("canceling statement due to
    /// statement timeout"): the Data API's limit is 24 hours ("The maximum query run time", Amazon Redshift
    /// Data API quotas); a test sets less.
    pub statement_timeout: std::time::Duration,
}

impl Default for DataApiConfig {
    fn default() -> DataApiConfig {
        DataApiConfig {
            max_active_statements: 500,
            workers: 4,
            page_rows: 1000,
            statement_timeout: std::time::Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Submitted,
    Started,
    Finished,
    Failed,
    Aborted,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "SUBMITTED",
            Status::Started => "STARTED",
            Status::Finished => "FINISHED",
            Status::Failed => "FAILED",
            Status::Aborted => "ABORTED",
        }
    }

    fn is_active(self) -> bool {
        matches!(self, Status::Submitted | Status::Started)
    }
}

struct Sub {
    query: String,
    status: Status,
    error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    duration_ns: i64,
    rows: i64,
    query_id: i64,
    result: Option<Arc<ResultSet>>,
}

struct Statement {
    id: String,
    target: Target,
    is_batch: bool,
    parameters: Option<Vec<SqlParameter>>,
    status: Status,
    error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    duration_ns: i64,
    subs: Vec<Sub>,
    cancel_requested: bool,
    /// The statement ran past the time limit and was interrupted.
    timed_out: bool,
    interrupt: Option<Arc<InterruptHandle>>,
}

type Shared = Arc<Mutex<Statement>>;

#[derive(Default)]
struct Registry {
    by_id: HashMap<String, Shared>,
    order: Vec<String>,
    by_client_token: HashMap<String, String>,
}

/// The Data API over a warehouse.
pub struct DataApiService {
    warehouse: Arc<LocalWarehouse>,
    registry: Mutex<Registry>,
    config: DataApiConfig,
    faults: Arc<Faults>,
    workers: Arc<Semaphore>,
    /// The operations called while recording, as IAM actions (each Data API operation is authorised as the
    /// action of its own name, `redshift-data:<Operation>`).
    calls: Arc<crate::calls::CallLog>,
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DataApiService {
    pub fn new(warehouse: Arc<LocalWarehouse>, config: DataApiConfig) -> DataApiService {
        let workers = Arc::new(Semaphore::new(config.workers.max(1)));
        let registry = Mutex::new(Registry::default());
        DataApiService { warehouse, registry, config, faults: Arc::default(), workers, calls: Arc::default() }
    }

    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }

    /// The operations called, while recording.
    pub fn calls(&self) -> Arc<crate::calls::CallLog> {
        self.calls.clone()
    }

    /// Dispatches one operation (`X-Amz-Target: RedshiftData.<operation>`).
    pub async fn call(self: &Arc<Self>, operation: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
        fn input<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
            let body = if body.is_empty() { b"{}".as_slice() } else { body };
            serde_json::from_slice(body).map_err(|e| ApiError::protocol(400, "SerializationException", e.to_string()))
        }
        self.calls.push(|| crate::calls::Call::action(format!("redshift-data:{operation}")));
        let output = match operation {
            "ExecuteStatement" => {
                let i: ExecuteStatementInput = input(body)?;
                serde_json::to_value(self.submit(vec![i.sql], i.parameters, i.target, false)?)
            }
            "BatchExecuteStatement" => {
                let i: BatchExecuteStatementInput = input(body)?;
                serde_json::to_value(self.submit(i.sqls, i.parameters, i.target, true)?)
            }
            "DescribeStatement" => {
                let id = input::<IdInput>(body)?.id;
                if self.faults.take_failed_describe() {
                    return Err(ApiError::internal("Internal server error (injected: the statement runs on)."));
                }
                serde_json::to_value(self.describe(&id)?)
            }
            "GetStatementResult" => serde_json::to_value(self.result(input(body)?)?),
            "CancelStatement" => serde_json::to_value(self.cancel(&input::<IdInput>(body)?.id)?),
            "ListStatements" => serde_json::to_value(self.list(input(body)?)?),
            other => {
                return Err(ApiError::protocol(400, "UnknownOperationException", format!("Unknown operation {other}")))
            }
        };
        output.map_err(|e| ApiError::internal(e.to_string()))
    }

    fn validate_target(target: &Target) -> Result<(), ApiError> {
        match (&target.cluster_identifier, &target.workgroup_name) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation("Specify either ClusterIdentifier or WorkgroupName, not both."))
            }
            (None, None) => return Err(ApiError::validation("Either ClusterIdentifier or WorkgroupName is required.")),
            _ => {}
        }
        if target.database.as_deref().unwrap_or("").is_empty() {
            return Err(ApiError::validation("Database is required."));
        }
        if target.session_id.is_some() || target.session_keep_alive_seconds.is_some() {
            return Err(ApiError::validation(
                "Sessions (SessionId, SessionKeepAliveSeconds) are not supported by the local stand-in.",
            ));
        }
        if target.result_format.as_deref().is_some_and(|f| f != "JSON") {
            return Err(ApiError::validation("ResultFormat CSV is not supported by the local stand-in."));
        }
        Ok(())
    }

    fn submit(
        self: &Arc<Self>,
        sqls: Vec<String>,
        parameters: Option<Vec<SqlParameter>>,
        target: Target,
        is_batch: bool,
    ) -> Result<ExecuteOutput, ApiError> {
        Self::validate_target(&target)?;
        if sqls.is_empty() || sqls.len() > MAX_BATCH {
            return Err(ApiError::validation(format!("Sqls must hold 1 to {MAX_BATCH} statements.")));
        }
        if sqls.iter().any(|s| s.trim().is_empty()) {
            return Err(ApiError::validation("Sql must not be empty."));
        }
        // The service's words, for each statement of a batch as for one statement.
        if sqls.iter().any(|s| s.len() > MAX_STATEMENT_BYTES) {
            return Err(ApiError::validation("Cannot process query string larger than 100kB"));
        }
        if let Some(p) = &parameters {
            if p.is_empty() {
                return Err(ApiError::validation("Parameters, when given, must hold at least one parameter."));
            }
            if let Some(bad) =
                p.iter().find(|p| p.name.is_empty() || !p.name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()))
            {
                return Err(ApiError::validation(format!("Invalid parameter name '{}'.", bad.name)));
            }
        }
        let output_of = |s: &Statement| ExecuteOutput {
            id: s.id.clone(),
            created_at: epoch(s.created_at),
            cluster_identifier: s.target.cluster_identifier.clone(),
            workgroup_name: s.target.workgroup_name.clone(),
            database: s.target.database.clone(),
            db_user: s.target.db_user.clone(),
            secret_arn: s.target.secret_arn.clone(),
        };
        // As the service: `ClientToken` is 1 to 64 characters.
        if let Some(token) = &target.client_token {
            if token.is_empty() || token.chars().count() > 64 {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{token}' at 'clientToken' failed to satisfy constraint: \
                     Member must have length less than or equal to 64"
                )));
            }
        }
        let mut registry = lock(&self.registry);
        // The same ClientToken returns the statement it started, instead of running it twice.
        if let Some(existing) = target.client_token.as_ref().and_then(|t| registry.by_client_token.get(t)) {
            if let Some(s) = registry.by_id.get(existing) {
                return Ok(output_of(&lock(s)));
            }
        }
        if self.faults.take_active_statements_exceeded() {
            return Err(ApiError::active_statements_exceeded(self.config.max_active_statements));
        }
        let active = registry.by_id.values().filter(|s| lock(s).status.is_active()).count();
        if active >= self.config.max_active_statements {
            return Err(ApiError::active_statements_exceeded(self.config.max_active_statements));
        }
        let now = Utc::now();
        let id = uuid::Uuid::new_v4().to_string();
        let subs = sqls
            .iter()
            .map(|q| Sub {
                query: q.clone(),
                status: Status::Submitted,
                error: None,
                created_at: now,
                updated_at: now,
                duration_ns: 0,
                rows: -1,
                query_id: 0,
                result: None,
            })
            .collect();
        let statement = Statement {
            id: id.clone(),
            target,
            is_batch,
            parameters,
            status: Status::Submitted,
            error: None,
            created_at: now,
            updated_at: now,
            duration_ns: 0,
            subs,
            cancel_requested: false,
            timed_out: false,
            interrupt: None,
        };
        let output = output_of(&statement);
        if let Some(token) = &statement.target.client_token {
            registry.by_client_token.insert(token.clone(), id.clone());
        }
        let shared = Arc::new(Mutex::new(statement));
        registry.by_id.insert(id.clone(), shared.clone());
        registry.order.push(id);
        if registry.order.len() > MAX_REMEMBERED {
            let old = registry.order.remove(0);
            registry.by_id.remove(&old);
            registry.by_client_token.retain(|_, v| *v != old);
        }
        drop(registry);

        let api = self.clone();
        let hold = if is_batch { self.faults.take_slow_statement() } else { None };
        let injected = if is_batch { self.faults.take_failed_batch() } else { None };
        tokio::spawn(async move {
            let Ok(_permit) = api.workers.clone().acquire_owned().await else { return };
            let warehouse = api.warehouse.clone();
            let limit = api.config.statement_timeout;
            let task = tokio::task::spawn_blocking(move || run_statement(&warehouse, &shared, hold, injected, limit));
            if let Err(e) = task.await {
                tracing::error!(error = %e, "data api: statement worker panicked");
            }
        });
        if self.faults.take_lost_response() {
            return Err(ApiError::internal("Internal server error (injected: the statement started)."));
        }
        Ok(output)
    }

    fn find(&self, id: &str) -> Result<(Shared, Option<usize>), ApiError> {
        let (base, sub) = match id.split_once(':') {
            Some((base, n)) => {
                let n: usize = n.parse().map_err(|_| ApiError::validation(format!("Invalid statement id {id}")))?;
                (base, Some(n))
            }
            None => (id, None),
        };
        let statement = lock(&self.registry).by_id.get(base).cloned().ok_or_else(|| ApiError::not_found(id))?;
        if let Some(n) = sub {
            let s = lock(&statement);
            if !s.is_batch || n == 0 || n > s.subs.len() {
                return Err(ApiError::not_found(id));
            }
            return Ok((statement.clone(), Some(n - 1)));
        }
        Ok((statement, None))
    }

    fn describe(&self, id: &str) -> Result<DescribeStatementResponse, ApiError> {
        let (shared, sub) = self.find(id)?;
        let s = lock(&shared);
        let sub_data = |i: usize, sub: &Sub| SubStatementData {
            id: format!("{}:{}", s.id, i + 1),
            duration: sub.duration_ns,
            error: sub.error.clone(),
            status: sub.status.as_str().to_string(),
            created_at: epoch(sub.created_at),
            updated_at: epoch(sub.updated_at),
            query_string: sub.query.clone(),
            result_rows: sub.rows,
            result_size: sub.result.as_ref().map_or(-1, |r| r.size()),
            redshift_query_id: sub.query_id,
            has_result_set: sub.result.is_some(),
        };
        let (status, error, duration, created, updated, query, rows, size, query_id, has_result) = match sub {
            Some(i) => {
                let d = sub_data(i, &s.subs[i]);
                let status = d.status.clone();
                (
                    status,
                    d.error,
                    d.duration,
                    d.created_at,
                    d.updated_at,
                    Some(d.query_string),
                    d.result_rows,
                    d.result_size,
                    d.redshift_query_id,
                    d.has_result_set,
                )
            }
            None if s.is_batch => {
                let rows = s.subs.iter().filter(|x| x.rows >= 0).map(|x| x.rows).sum::<i64>();
                (
                    s.status.as_str().to_string(),
                    s.error.clone(),
                    s.duration_ns,
                    epoch(s.created_at),
                    epoch(s.updated_at),
                    None,
                    rows,
                    -1,
                    s.subs.iter().map(|x| x.query_id).max().unwrap_or(0),
                    s.subs.iter().any(|x| x.result.is_some()),
                )
            }
            None => {
                let d = sub_data(0, &s.subs[0]);
                (
                    s.status.as_str().to_string(),
                    s.error.clone(),
                    s.duration_ns,
                    epoch(s.created_at),
                    epoch(s.updated_at),
                    Some(d.query_string),
                    d.result_rows,
                    d.result_size,
                    d.redshift_query_id,
                    d.has_result_set,
                )
            }
        };
        Ok(DescribeStatementResponse {
            id: id.to_string(),
            secret_arn: s.target.secret_arn.clone(),
            db_user: s.target.db_user.clone(),
            database: s.target.database.clone(),
            cluster_identifier: s.target.cluster_identifier.clone(),
            workgroup_name: s.target.workgroup_name.clone(),
            duration,
            error,
            status,
            created_at: created,
            updated_at: updated,
            redshift_pid: i64::from(std::process::id()),
            has_result_set: has_result,
            query_string: query,
            result_rows: rows,
            result_size: size,
            redshift_query_id: query_id,
            query_parameters: s.parameters.clone(),
            sub_statements: (s.is_batch && sub.is_none())
                .then(|| s.subs.iter().enumerate().map(|(i, x)| sub_data(i, x)).collect()),
            result_format: "JSON".to_string(),
        })
    }

    fn result(&self, input: IdInput) -> Result<GetStatementResultResponse, ApiError> {
        let (shared, sub) = self.find(&input.id)?;
        let result = {
            let s = lock(&shared);
            if s.is_batch && sub.is_none() {
                return Err(ApiError::validation(
                    "Use the sub-statement id (<id>:<n>) to get the result of a statement of a batch.",
                ));
            }
            let sub = &s.subs[sub.unwrap_or(0)];
            if sub.status != Status::Finished {
                return Err(ApiError::validation("Query has not finished or results are not available."));
            }
            sub.result.clone().ok_or_else(|| {
                ApiError::validation("Query does not have result. Please check query status with DescribeStatement.")
            })?
        };
        let start = match &input.next_token {
            None => 0,
            Some(token) => decode_token(token, &input.id)?,
        };
        let end = (start + self.config.page_rows).min(result.rows.len());
        let records = result.rows[start.min(end)..end].iter().map(|r| r.iter().map(Field::from).collect()).collect();
        Ok(GetStatementResultResponse {
            records,
            column_metadata: result.columns.iter().map(ColumnMetadata::from).collect(),
            total_num_rows: result.rows.len() as i64,
            next_token: (end < result.rows.len()).then(|| encode_token(&input.id, end)),
        })
    }

    fn cancel(&self, id: &str) -> Result<CancelStatementResponse, ApiError> {
        let (shared, _) = self.find(id)?;
        let mut s = lock(&shared);
        if !s.status.is_active() {
            return Err(ApiError::validation(format!(
                "Could not cancel a query that is already in {} state with ID: {id}",
                s.status.as_str()
            )));
        }
        s.cancel_requested = true;
        if let Some(handle) = &s.interrupt {
            handle.interrupt();
        }
        Ok(CancelStatementResponse { status: true })
    }

    fn list(&self, input: ListStatementsInput) -> Result<ListStatementsResponse, ApiError> {
        let max = match input.max_results {
            None | Some(0) => 100,
            Some(n @ 1..=100) => n as usize,
            Some(n) => return Err(ApiError::validation(format!("MaxResults {n} is out of range 0..100."))),
        };
        let wanted = input.status.as_deref().unwrap_or("ALL").to_string();
        let start = match &input.next_token {
            None => 0,
            Some(token) => decode_token(token, "list")?,
        };
        let registry = lock(&self.registry);
        let mut matching = registry.order.iter().rev().filter_map(|id| registry.by_id.get(id)).filter(|s| {
            let s = lock(s);
            (wanted == "ALL" || s.status.as_str() == wanted)
                && input
                    .statement_name
                    .as_ref()
                    .is_none_or(|n| s.target.statement_name.as_ref().is_some_and(|x| x.starts_with(n.as_str())))
                && input.database.as_ref().is_none_or(|d| s.target.database.as_ref() == Some(d))
        });
        let page: Vec<StatementData> = matching
            .by_ref()
            .skip(start)
            .take(max)
            .map(|s| {
                let s = lock(s);
                StatementData {
                    id: s.id.clone(),
                    query_string: (!s.is_batch).then(|| s.subs[0].query.clone()),
                    query_strings: s.is_batch.then(|| s.subs.iter().map(|x| x.query.clone()).collect()),
                    secret_arn: s.target.secret_arn.clone(),
                    status: s.status.as_str().to_string(),
                    statement_name: s.target.statement_name.clone(),
                    created_at: epoch(s.created_at),
                    updated_at: epoch(s.updated_at),
                    query_parameters: s.parameters.clone(),
                    is_batch_statement: s.is_batch,
                    result_format: "JSON".to_string(),
                }
            })
            .collect();
        let more = matching.next().is_some();
        let next_token = more.then(|| encode_token("list", start + page.len()));
        Ok(ListStatementsResponse { statements: page, next_token })
    }
}

fn encode_token(scope: &str, offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{scope}|{offset}"))
}

fn decode_token(token: &str, scope: &str) -> Result<usize, ApiError> {
    let bad = || ApiError::validation("Invalid NextToken.");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (s, offset) = raw.rsplit_once('|').ok_or_else(bad)?;
    if s != scope {
        return Err(bad());
    }
    offset.parse().map_err(|_| bad())
}
