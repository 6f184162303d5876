//! The Data API's operations over the local warehouse: statements run asynchronously (SUBMITTED → STARTED →
//! FINISHED | FAILED | ABORTED), batches in one transaction, results paged, errors in the service's shapes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use duckdb::InterruptHandle;
use tokio::sync::Semaphore;

use super::dialect::{translate, SqlError, Step};
use super::engine::{ExecError, ResultSet, Session, Warehouse};
use super::protocol::*;

/// The one database the local warehouse answers to.
pub const DATABASE: &str = "dev";
/// `BatchExecuteStatement` takes at most this many statements.
const MAX_BATCH: usize = 40;
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
}

impl Default for DataApiConfig {
    fn default() -> DataApiConfig {
        DataApiConfig { max_active_statements: 500, workers: 4, page_rows: 1000 }
    }
}

/// Faults a test (or `redscribe serve`) can switch on while the stand-in runs.
#[derive(Debug, Default)]
pub struct Faults {
    active_statements_exceeded: AtomicUsize,
    lost_responses: AtomicUsize,
}

impl Faults {
    /// The next `n` execute calls fail with `ActiveStatementsExceededException`.
    pub fn fail_next_with_active_statements_exceeded(&self, n: usize) {
        self.active_statements_exceeded.store(n, Ordering::SeqCst);
    }

    /// The next `n` execute calls start their statement, then answer `500 InternalServerException` as if the
    /// response were lost: a client that retries without its `ClientToken` runs the statement twice.
    pub fn lose_next_execute_responses(&self, n: usize) {
        self.lost_responses.store(n, Ordering::SeqCst);
    }

    fn take_active_statements_exceeded(&self) -> bool {
        self.active_statements_exceeded.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    fn take_lost_response(&self) -> bool {
        self.lost_responses.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
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
pub struct DataApi {
    warehouse: Arc<Warehouse>,
    registry: Mutex<Registry>,
    config: DataApiConfig,
    faults: Arc<Faults>,
    workers: Arc<Semaphore>,
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DataApi {
    pub fn new(warehouse: Arc<Warehouse>, config: DataApiConfig) -> DataApi {
        let workers = Arc::new(Semaphore::new(config.workers.max(1)));
        DataApi { warehouse, registry: Mutex::new(Registry::default()), config, faults: Arc::default(), workers }
    }

    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }

    /// Dispatches one operation (`X-Amz-Target: RedshiftData.<operation>`).
    pub async fn call(self: &Arc<Self>, operation: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
        fn input<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
            let body = if body.is_empty() { b"{}".as_slice() } else { body };
            serde_json::from_slice(body).map_err(|e| ApiError::protocol(400, "SerializationException", e.to_string()))
        }
        let output = match operation {
            "ExecuteStatement" => {
                let i: ExecuteStatementInput = input(body)?;
                serde_json::to_value(self.submit(vec![i.sql], i.parameters, i.target, false)?)
            }
            "BatchExecuteStatement" => {
                let i: BatchExecuteStatementInput = input(body)?;
                serde_json::to_value(self.submit(i.sqls, i.parameters, i.target, true)?)
            }
            "DescribeStatement" => serde_json::to_value(self.describe(&input::<IdInput>(body)?.id)?),
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
        tokio::spawn(async move {
            let Ok(_permit) = api.workers.clone().acquire_owned().await else { return };
            let warehouse = api.warehouse.clone();
            let task = tokio::task::spawn_blocking(move || run_statement(&warehouse, &shared));
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

/// Redshift prefixes its error messages with `ERROR: `.
fn redshift_error(message: &str) -> String {
    if message.starts_with("ERROR:") {
        message.to_string()
    } else {
        format!("ERROR: {message}")
    }
}

/// Runs a statement (or a batch, in one transaction) to its end state. Blocking.
fn run_statement(warehouse: &Warehouse, shared: &Shared) {
    let started = Instant::now();
    let (sqls, params, database, is_batch) = {
        let mut s = lock(shared);
        if s.cancel_requested {
            finish(&mut s, Status::Aborted, None, started);
            return;
        }
        s.status = Status::Started;
        s.updated_at = Utc::now();
        let params: HashMap<String, String> =
            s.parameters.iter().flatten().map(|p| (p.name.clone(), p.value.clone())).collect();
        (s.subs.iter().map(|x| x.query.clone()).collect::<Vec<_>>(), params, s.target.database.clone(), s.is_batch)
    };
    let fail_all = |message: String| {
        let mut s = lock(shared);
        for sub in &mut s.subs {
            sub.status = Status::Aborted;
        }
        if let Some(first) = s.subs.first_mut() {
            first.status = Status::Failed;
            first.error = Some(message.clone());
        }
        finish(&mut s, Status::Failed, Some(message), started);
    };
    if database.as_deref() != Some(DATABASE) {
        fail_all(format!("FATAL: database \"{}\" does not exist", database.unwrap_or_default()));
        return;
    }
    let mut session = match warehouse.session() {
        Ok(s) => s,
        Err(e) => return fail_all(redshift_error(&e.to_string())),
    };
    lock(shared).interrupt = Some(session.interrupt_handle());

    // A batch, or several statements in one ExecuteStatement, run in one transaction.
    let mut plans = Vec::with_capacity(sqls.len());
    for sql in &sqls {
        match translate(sql, &params) {
            Ok(steps) => plans.push(Ok(steps)),
            Err(e) => plans.push(Err(e)),
        }
    }
    let implicit_transaction = is_batch || plans.iter().any(|p| p.as_ref().is_ok_and(|s| s.len() > 1));
    // A COPY of many files first reads them at once; if that fails, the statement runs again from the start with
    // COPY reading file by file, so the failure names its file (the first attempt was rolled back).
    let mut failure: Option<(Status, String)> = None;
    for exact in [false, true] {
        session.set_exact_copy(exact);
        if implicit_transaction {
            if let Err(e) = session.begin() {
                return fail_all(redshift_error(&e.to_string()));
            }
        }
        match run_subs(&mut session, warehouse, shared, &plans, is_batch) {
            Err(Retry) => {
                session.rollback();
                continue;
            }
            Ok(f) => {
                failure = f;
                break;
            }
        }
    }
    match failure {
        Some((status, message)) => {
            session.rollback();
            let mut s = lock(shared);
            finish(&mut s, status, Some(message), started);
        }
        None => {
            let committed = if session.in_transaction() {
                if implicit_transaction {
                    session.commit()
                } else {
                    // A transaction opened by the SQL and never closed ends with its session, as on Redshift.
                    session.rollback();
                    Ok(())
                }
            } else {
                Ok(())
            };
            let mut s = lock(shared);
            match committed {
                Ok(()) => finish(&mut s, Status::Finished, None, started),
                Err(e) => finish(&mut s, Status::Failed, Some(redshift_error(&e.to_string())), started),
            }
        }
    }
}

/// The first attempt of a statement met a COPY that must run file by file.
struct Retry;

/// Runs every sub-statement in order (after the first failure, the rest are aborted); the failure, if any.
fn run_subs(
    session: &mut Session<'_>,
    warehouse: &Warehouse,
    shared: &Shared,
    plans: &[Result<Vec<Step>, SqlError>],
    is_batch: bool,
) -> Result<Option<(Status, String)>, Retry> {
    let mut failure: Option<(Status, String)> = None;
    for (i, plan) in plans.iter().enumerate() {
        if failure.is_some() {
            let mut s = lock(shared);
            s.subs[i].status = Status::Aborted;
            s.subs[i].updated_at = Utc::now();
            continue;
        }
        let sub_started = Instant::now();
        {
            let mut s = lock(shared);
            s.subs[i].status = Status::Started;
            s.subs[i].updated_at = Utc::now();
        }
        let query_id = warehouse.next_query_id();
        let outcome = match plan {
            Err(e) => Err(ExecError::Sql(e.0.clone())),
            Ok(steps) => run_steps(session, steps, query_id, is_batch),
        };
        let mut s = lock(shared);
        let cancelled = s.cancel_requested;
        let sub = &mut s.subs[i];
        sub.query_id = query_id;
        sub.updated_at = Utc::now();
        sub.duration_ns = sub_started.elapsed().as_nanos() as i64;
        match outcome {
            Ok((rows, result)) => {
                sub.status = Status::Finished;
                sub.rows = rows;
                sub.result = result.map(Arc::new);
            }
            Err(ExecError::RetryExact(why)) => {
                tracing::debug!(%why, "data api: COPY goes again file by file");
                return Err(Retry);
            }
            Err(ExecError::Cancelled) => {
                sub.status = Status::Aborted;
                failure = Some((Status::Aborted, "Query cancelled on user's request".to_string()));
            }
            Err(e) => {
                let status = if cancelled { Status::Aborted } else { Status::Failed };
                let message = redshift_error(&e.to_string());
                sub.status = status;
                sub.error = Some(message.clone());
                drop(s);
                if let ExecError::Load { errors, table, .. } = &e {
                    if let Err(record) = session.record_load_errors(query_id, table, errors) {
                        tracing::warn!(error = %record, "data api: could not record load errors");
                    }
                }
                failure = Some((status, message));
            }
        }
    }
    Ok(failure)
}

/// Runs the steps of one SQL text; the last result set (if any) is the statement's.
fn run_steps(
    session: &mut Session<'_>,
    steps: &[Step],
    query_id: i64,
    in_batch: bool,
) -> Result<(i64, Option<ResultSet>), ExecError> {
    let mut rows = 0;
    let mut result = None;
    for step in steps {
        // Inside a batch the whole batch is the transaction; its statements cannot end it early.
        if in_batch && matches!(step, Step::Begin | Step::Commit | Step::Rollback) {
            continue;
        }
        let outcome = session.run(step, query_id)?;
        rows = outcome.rows;
        if outcome.result.is_some() {
            result = outcome.result;
        }
    }
    Ok((rows, result))
}

fn finish(s: &mut Statement, status: Status, error: Option<String>, started: Instant) {
    s.status = status;
    s.error = error;
    s.updated_at = Utc::now();
    s.duration_ns = started.elapsed().as_nanos() as i64;
    s.interrupt = None;
}
