//! Faults the S3 stand-in can inject, the way S3 fails under load or misconfigured: `503 SlowDown` (throttling),
//! `500 InternalError`, `403 AccessDenied` (a grant missing) and `400 KMS.DisabledException` (the bucket's key
//! disabled), on the next reads (GET/HEAD) or writes (PUT/POST/DELETE). Tests and `redscribe serve` switch them
//! on to show that the pipeline retries, blames no recording for the service, loses nothing and loads nothing
//! twice.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use s3s::service::S3Service;
use s3s::{Body, HttpError};

/// What a failed request answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Fault {
    /// `503 SlowDown`: "Please reduce your request rate."
    SlowDown,
    /// `500 InternalError`: "We encountered an internal error. Please try again."
    InternalError,
    /// `403 AccessDenied`: the caller's role has no grant for the object (or its key).
    AccessDenied,
    /// `400 KMS.DisabledException`: the object's KMS key is disabled (S3 error responses, KMS-related codes).
    KmsDisabled,
}

impl S3Fault {
    const ALL: [S3Fault; 4] = [S3Fault::SlowDown, S3Fault::InternalError, S3Fault::AccessDenied, S3Fault::KmsDisabled];
}

impl S3Fault {
    fn response(self) -> Response<Body> {
        let (status, code, message) = match self {
            S3Fault::SlowDown => (StatusCode::SERVICE_UNAVAILABLE, "SlowDown", "Please reduce your request rate."),
            S3Fault::InternalError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
            ),
            S3Fault::AccessDenied => (StatusCode::FORBIDDEN, "AccessDenied", "Access Denied"),
            S3Fault::KmsDisabled => (
                StatusCode::BAD_REQUEST,
                "KMS.DisabledException",
                "The KMS key used to encrypt this object is disabled.",
            ),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
             <RequestId>redscribe-fault</RequestId></Error>"
        );
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
        response
    }
}

/// Counters of requests still to fail.
#[derive(Debug, Default)]
pub struct S3Faults {
    reads: [AtomicUsize; 4],
    writes: [AtomicUsize; 4],
}

fn slot(fault: S3Fault) -> usize {
    match fault {
        S3Fault::SlowDown => 0,
        S3Fault::InternalError => 1,
        S3Fault::AccessDenied => 2,
        S3Fault::KmsDisabled => 3,
    }
}

fn take(counters: &[AtomicUsize; 4]) -> Option<S3Fault> {
    S3Fault::ALL
        .into_iter()
        .find(|f| counters[slot(*f)].fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok())
}

impl S3Faults {
    /// The next `n` GET and HEAD requests fail with `fault`.
    pub fn fail_next_reads(&self, n: usize, fault: S3Fault) {
        self.reads[slot(fault)].store(n, Ordering::SeqCst);
    }

    /// The next `n` PUT, POST and DELETE requests fail with `fault`.
    pub fn fail_next_writes(&self, n: usize, fault: S3Fault) {
        self.writes[slot(fault)].store(n, Ordering::SeqCst);
    }

    /// Faults still pending, reads and writes together.
    pub fn pending(&self) -> usize {
        self.reads.iter().chain(&self.writes).map(|c| c.load(Ordering::SeqCst)).sum()
    }

    fn take_for(&self, method: &Method) -> Option<S3Fault> {
        if method == Method::GET || method == Method::HEAD {
            take(&self.reads)
        } else {
            take(&self.writes)
        }
    }
}

/// The S3 service behind the fault switch.
#[derive(Clone)]
pub(crate) struct WithFaults {
    pub(crate) inner: S3Service,
    pub(crate) faults: Arc<S3Faults>,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, HttpError>> + Send>>;

impl hyper::service::Service<Request<hyper::body::Incoming>> for WithFaults {
    type Response = Response<Body>;
    type Error = HttpError;
    type Future = Answer;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Answer {
        if let Some(fault) = self.faults.take_for(req.method()) {
            tracing::debug!(method = %req.method(), uri = %req.uri(), ?fault, "injected S3 fault");
            return Box::pin(async move { Ok(fault.response()) });
        }
        hyper::service::Service::call(&self.inner, req)
    }
}
