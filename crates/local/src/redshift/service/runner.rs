//! Running a submitted statement (or a batch, in one transaction) to its end state on a warehouse session:
//! translate, execute step by step, retry a Parquet COPY file by file to name the failing file, record load
//! errors, and leave the statement `FINISHED`, `FAILED` or `ABORTED`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use super::super::dialect::{translate, SqlError, Step};
use super::super::engine::{ExecError, LocalWarehouse, ResultSet, Session};
use super::super::protocol::Field;
use super::{lock, Shared, Statement, Status, DATABASE};

/// Redshift prefixes its error messages with `ERROR: `.
pub(super) fn redshift_error(message: &str) -> String {
    if message.starts_with("ERROR:") {
        message.to_string()
    } else {
        format!("ERROR: {message}")
    }
}

/// Runs a statement (or a batch, in one transaction) to its end state. Blocking. `hold` (a fault) keeps it
/// STARTED that long before it runs, unless it is cancelled meanwhile; `injected` (a fault) ends it FAILED with
/// that error instead of running it.
pub(super) fn run_statement(
    warehouse: &LocalWarehouse,
    shared: &Shared,
    hold: Option<std::time::Duration>,
    injected: Option<String>,
    limit: std::time::Duration,
) {
    let started = Instant::now();
    if let Some(hold) = hold {
        {
            let mut s = lock(shared);
            s.status = Status::Started;
            s.updated_at = Utc::now();
        }
        while started.elapsed() < hold && !lock(shared).cancel_requested {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let (sqls, params, database, is_batch) = {
        let mut s = lock(shared);
        if s.cancel_requested {
            finish(&mut s, Status::Aborted, Some("Query cancelled on user's request".into()), started);
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
    if let Some(error) = injected {
        return fail_all(error);
    }
    if database.as_deref() != Some(DATABASE) {
        fail_all(format!("FATAL: database \"{}\" does not exist", database.unwrap_or_default()));
        return;
    }
    let mut session = match warehouse.session() {
        Ok(s) => s,
        Err(e) => return fail_all(redshift_error(&e.to_string())),
    };
    let interrupt = session.interrupt_handle();
    lock(shared).interrupt = Some(interrupt.clone());
    // The time limit: a watchdog interrupts the statement when it passes; ending the statement ends the watch.
    let (_running, ended) = std::sync::mpsc::channel::<()>();
    let watched = shared.clone();
    let left = limit.saturating_sub(started.elapsed());
    std::thread::spawn(move || {
        if ended.recv_timeout(left) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            lock(&watched).timed_out = true;
            interrupt.interrupt();
        }
    });

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
    warehouse: &LocalWarehouse,
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
        let timed_out = s.timed_out;
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
            Err(ExecError::Cancelled) if timed_out => {
                let message = "ERROR: canceling statement due to statement timeout".to_string();
                sub.status = Status::Failed;
                sub.error = Some(message.clone());
                failure = Some((Status::Failed, message));
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
        if let Some(r) = &outcome.result {
            check_result_size(r)?;
        }
        if outcome.result.is_some() {
            result = outcome.result;
        }
    }
    Ok((rows, result))
}

/// The most bytes of one result row the Data API returns: "The Data API size limit is 64 KB per row in the
/// result set returned by the database" (Amazon Redshift Management Guide, "Troubleshooting issues for Amazon
/// Redshift Data API", "Packet for query is too large"). Counted here as the row's fields as the response
/// encodes them, so a 65,535-byte VARCHAR alone is already over.
const ROW_MAX_BYTES: usize = 64 * 1024;
/// The most bytes of a whole result set: 500 MB (the same page, "Database response exceeded size limit").
const RESULT_MAX_BYTES: usize = 500 * 1024 * 1024;

/// Fails a statement whose result the service would not return, as the service does.
fn check_result_size(result: &ResultSet) -> Result<(), ExecError> {
    let mut total = 0usize;
    for (i, row) in result.rows.iter().enumerate() {
        let size: usize =
            row.iter().map(|v| serde_json::to_vec(&Field::from(v)).map_or(0, |b| b.len())).sum::<usize>() + 2;
        if size > ROW_MAX_BYTES {
            return Err(ExecError::Sql(format!(
                "Packet for query is too large: row {} of the result is {size} bytes; the Data API returns rows of at \
                 most 64 KB",
                i + 1
            )));
        }
        total += size;
        if total > RESULT_MAX_BYTES {
            return Err(ExecError::Sql(
                "Database response exceeded size limit: the Data API returns result sets of at most 500 MB".into(),
            ));
        }
    }
    Ok(())
}

fn finish(s: &mut Statement, status: Status, error: Option<String>, started: Instant) {
    s.status = status;
    s.error = error;
    s.updated_at = Utc::now();
    s.duration_ns = started.elapsed().as_nanos() as i64;
    s.interrupt = None;
}
