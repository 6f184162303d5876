//! A Lambda Runtime API on loopback: the protocol between a function's runtime client and the Lambda service
//! (`GET /2018-06-01/runtime/invocation/next`, `POST …/invocation/{id}/response`, `POST …/invocation/{id}/error`,
//! `POST /2018-06-01/runtime/init/error`). A Lambda binary started with `AWS_LAMBDA_RUNTIME_API` pointing here runs
//! as it would in Lambda: tests hand it events and read its answers; the cold-start benchmark times its first poll.
//! As strict as Lambda about time: an answer posted after the invocation's deadline (`Lambda-Runtime-Deadline-Ms`)
//! counts for nothing, and the invocation ends as Lambda ends it, `Sandbox.Timedout` ("Task timed out").

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use tokio::sync::Notify;

use crate::http::Served;
use crate::LocalError;

/// Largest answer accepted (Lambda's synchronous response limit).
const MAX_BODY: usize = 6 << 20;
/// Deadline given with an invocation unless the caller names another.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(120);
/// ARN reported as the invoked function's.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:redscribe-local";

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `POST …/response`: the function's answer.
    Response(Value),
    /// `POST …/error`: the error document and its `Lambda-Runtime-Function-Error-Type` header.
    Error { error_type: Option<String>, body: Value },
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<(String, Value, Duration)>>,
    queued: Notify,
    outcomes: Mutex<HashMap<String, Answer>>,
    /// When each invocation handed out must have answered.
    deadlines: Mutex<HashMap<String, Instant>>,
    answered: Notify,
    first_poll: Mutex<Option<Instant>>,
    init_error: Mutex<Option<Value>>,
    closed: AtomicBool,
}

/// A running Runtime API.
pub struct RuntimeApi {
    served: Served,
    state: Arc<State>,
}

impl RuntimeApi {
    /// Binds `addr` (loopback; port 0 picks a free one).
    pub async fn start(addr: SocketAddr) -> Result<RuntimeApi, LocalError> {
        let state = Arc::new(State::default());
        let for_service = state.clone();
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let state = for_service.clone();
            async move { Ok::<_, Infallible>(handle(&state, request).await) }
        });
        let served = Served::start(addr, "lambda-runtime-api", service).await?;
        Ok(RuntimeApi { served, state })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`host:port`, no scheme).
    pub fn address(&self) -> String {
        self.served.addr().to_string()
    }

    /// Queues an event; returns its request id.
    pub fn invoke(&self, event: Value) -> String {
        self.invoke_with_timeout(event, INVOCATION_TIMEOUT)
    }

    /// Queues an event whose deadline is `timeout` after the function picks it up (what the function's configured
    /// timeout gives in Lambda); returns its request id.
    pub fn invoke_with_timeout(&self, event: Value, timeout: Duration) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.state.queue).push_back((id.clone(), event, timeout));
        self.state.queued.notify_one();
        id
    }

    /// Waits up to `timeout` for the function's answer to one invocation.
    pub async fn outcome(&self, request_id: &str, timeout: Duration) -> Option<Answer> {
        let until = Instant::now() + timeout;
        loop {
            let answered = self.state.answered.notified();
            if let Some(outcome) = lock(&self.state.outcomes).get(request_id) {
                return Some(outcome.clone());
            }
            let left = until.checked_duration_since(Instant::now())?;
            let _ = tokio::time::timeout(left, answered).await;
        }
    }

    /// When the function first asked for an invocation (it has initialised by then).
    pub fn first_poll(&self) -> Option<Instant> {
        *lock(&self.state.first_poll)
    }

    /// The error the function reported while initialising, if any.
    pub fn init_error(&self) -> Option<Value> {
        lock(&self.state.init_error).clone()
    }

    /// Releases functions waiting for an invocation and stops the server.
    pub async fn stop(self) {
        self.state.closed.store(true, Ordering::SeqCst);
        self.state.queued.notify_waiters();
        self.served.stop().await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

async fn handle(state: &Arc<State>, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return reply(StatusCode::NOT_FOUND, serde_json::json!({ "errorMessage": "unknown path" }));
    };
    if parts.method == http::Method::GET && rest == "invocation/next" {
        return next(state).await;
    }
    if parts.method != http::Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, serde_json::json!({ "errorMessage": "method" }));
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return reply(StatusCode::PAYLOAD_TOO_LARGE, serde_json::json!({ "errorMessage": e.to_string() })),
    };
    let value: Value =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    if rest == "init/error" {
        *lock(&state.init_error) = Some(value);
        return reply(StatusCode::ACCEPTED, serde_json::json!({ "status": "OK" }));
    }
    let mut segments = rest.split('/');
    let (Some("invocation"), Some(id), Some(kind), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return reply(StatusCode::NOT_FOUND, serde_json::json!({ "errorMessage": "unknown path" }));
    };
    let outcome = match kind {
        "response" => Answer::Response(value),
        "error" => Answer::Error {
            error_type: parts
                .headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: value,
        },
        _ => return reply(StatusCode::NOT_FOUND, serde_json::json!({ "errorMessage": "unknown path" })),
    };
    // Past its deadline Lambda has stopped the function and answered for it: what it posts then counts for nothing.
    let late = lock(&state.deadlines).get(id).is_some_and(|d| Instant::now() > *d);
    let outcome = if late { timed_out() } else { outcome };
    lock(&state.outcomes).insert(id.to_string(), outcome);
    state.answered.notify_waiters();
    reply(StatusCode::ACCEPTED, serde_json::json!({ "status": "OK" }))
}

/// What Lambda reports for an invocation that ran past its deadline.
fn timed_out() -> Answer {
    Answer::Error {
        error_type: Some("Sandbox.Timedout".into()),
        body: serde_json::json!({ "errorMessage": "Task timed out", "errorType": "Sandbox.Timedout" }),
    }
}

/// Long-polls for the next event, as the Lambda service does.
async fn next(state: &Arc<State>) -> Response<Full<Bytes>> {
    lock(&state.first_poll).get_or_insert_with(Instant::now);
    loop {
        if state.closed.load(Ordering::SeqCst) {
            return reply(StatusCode::GONE, serde_json::json!({ "errorMessage": "the runtime API is stopping" }));
        }
        let queued = state.queued.notified();
        if let Some((id, event, timeout)) = lock(&state.queue).pop_front() {
            lock(&state.deadlines).insert(id.clone(), Instant::now() + timeout);
            let deadline = std::time::SystemTime::now() + timeout;
            let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
            let mut response = reply(StatusCode::OK, event);
            let headers = response.headers_mut();
            for (name, value) in [
                ("lambda-runtime-aws-request-id", id),
                ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
                ("lambda-runtime-invoked-function-arn", FUNCTION_ARN.to_string()),
                ("lambda-runtime-trace-id", format!("Root=1-{:08x}-{}", deadline_ms / 1000, "0".repeat(24))),
            ] {
                if let Ok(v) = http::HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            }
            return response;
        }
        queued.await;
    }
}
