//! Errors of the AWS adapters, each classified with a core [`ErrorCode`] so that one place decides retries.

use aws_sdk_redshiftdata::config::http::HttpResponse;
use aws_sdk_redshiftdata::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use redscribe_core::ports::PortError;
use redscribe_core::ErrorCode;

/// Why an AWS call or a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A service call failed; `code` says whether it is worth retrying.
    #[error("{operation}: {message} ({code})")]
    Call { operation: &'static str, code: ErrorCode, service_code: Option<String>, message: String },
    /// A statement ran and ended FAILED or ABORTED.
    #[error("statement {id} {status}: {message}")]
    Statement { id: String, status: String, message: String, query_id: i64 },
    /// A statement did not end before the deadline: it was cancelled, and `ended` says whether it was seen to
    /// end (an unconfirmed cancel may still commit).
    #[error("statement {id} did not finish within {seconds} s (cancelled{})", if *ended { "" } else { "; its end is not confirmed" })]
    Deadline { id: String, seconds: u64, ended: bool },
    /// Configuration that cannot work (caught before any call).
    #[error("configuration: {0}")]
    Config(String),
    /// A retryable failure that [`crate::retry::RetryPolicy`] tried `attempts` times, the last failing so.
    #[error("{last} (tried {attempts} times)")]
    Exhausted { attempts: u32, last: Box<AwsError> },
}

impl AwsError {
    /// The classification that decides retry or quarantine.
    pub fn code(&self) -> ErrorCode {
        match self {
            AwsError::Call { code, .. } => *code,
            AwsError::Statement { .. } => ErrorCode::LoadRejected,
            AwsError::Deadline { .. } => ErrorCode::ServiceUnavailable,
            AwsError::Config(_) => ErrorCode::Internal,
            AwsError::Exhausted { last, .. } => last.code(),
        }
    }

    /// Classifies an SDK error: throttling and quota errors, 5xx, timeouts and connection failures may succeed
    /// later; authentication, validation and missing resources will not.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let context =
            |err: &SdkError<E, HttpResponse>| format!("{}", aws_sdk_redshiftdata::error::DisplayErrorContext(err));
        let (code, service_code, message) = match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
                (ErrorCode::ServiceUnavailable, None, context(&err))
            }
            SdkError::ServiceError(service) => {
                let e = service.err();
                let service_code = e.code().map(str::to_string);
                let message = e.message().map_or_else(|| context(&err), str::to_string);
                // No code known (e.g. a HEAD answered 404 or 503): the HTTP status decides.
                let status = service.raw().status().as_u16();
                let (code, message) = match classify(service_code.as_deref()) {
                    Some(code) => (code, message),
                    None => (by_status(status), format!("HTTP {status}: {message}")),
                };
                (code, service_code, message)
            }
            _ => (ErrorCode::Internal, None, context(&err)),
        };
        AwsError::Call { operation, code, service_code, message }
    }
}

impl From<AwsError> for PortError {
    fn from(e: AwsError) -> PortError {
        let (query_id, exhausted) = match &e {
            AwsError::Statement { query_id, .. } => (Some(*query_id), false),
            AwsError::Exhausted { .. } => (None, true),
            _ => (None, false),
        };
        PortError { code: e.code(), message: e.to_string(), query_id, exhausted }
    }
}

/// The class of an HTTP status without an error code.
fn by_status(status: u16) -> ErrorCode {
    match status {
        404 => ErrorCode::ObjectNotFound,
        401 | 403 => ErrorCode::AccessDenied,
        429 | 503 => ErrorCode::Throttled,
        500..=599 => ErrorCode::ServiceUnavailable,
        // A client error no code names: said as what it is, not as the warehouse's refusal of a file.
        _ => ErrorCode::ServiceRejected,
    }
}

/// Service error codes (S3 and the Data API) to the core's classes; `None` when the code is unknown.
fn classify(service_code: Option<&str>) -> Option<ErrorCode> {
    Some(match service_code? {
        "ActiveStatementsExceededException"
        | "ActiveSessionsExceededException"
        | "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown"
        | "RequestTimeTooSkewed" => ErrorCode::Throttled,
        "InternalServerException"
        | "InternalFailure"
        | "InternalError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "DatabaseConnectionException"
        | "RequestTimeout" => ErrorCode::ServiceUnavailable,
        "AccessDeniedException"
        | "AccessDenied"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "MissingAuthenticationTokenException"
        | "ExpiredTokenException" => ErrorCode::AccessDenied,
        "NoSuchKey" | "NoSuchBucket" | "NoSuchVersion" | "NotFound" => ErrorCode::ObjectNotFound,
        "ValidationException"
        | "ResourceNotFoundException"
        | "ExecuteStatementException"
        | "BatchExecuteStatementException" => ErrorCode::LoadRejected,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use redscribe_core::Disposition;

    #[test]
    fn quota_and_server_errors_retry_the_rest_do_not() {
        for code in ["ActiveStatementsExceededException", "ThrottlingException", "InternalServerException", "SlowDown"]
        {
            assert_eq!(classify(Some(code)).unwrap().disposition(), Disposition::Retry, "{code}");
        }
        for code in ["ValidationException", "ResourceNotFoundException", "InvalidSignatureException", "NoSuchKey"] {
            assert_eq!(classify(Some(code)).unwrap().disposition(), Disposition::Quarantine, "{code}");
        }
        assert_eq!(classify(Some("SomethingNew")), None);
        assert_eq!(by_status(503).disposition(), Disposition::Retry);
        assert_eq!(by_status(500).disposition(), Disposition::Retry);
        assert_eq!(by_status(404), ErrorCode::ObjectNotFound);
        assert_eq!(by_status(409), ErrorCode::ServiceRejected, "an unknown 4xx is not the warehouse refusing a file");
    }
}
