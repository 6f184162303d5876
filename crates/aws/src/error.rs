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
            AwsError::Statement { status, message, .. } => statement_code(status, message),
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
        let in_doubt = matches!(e, AwsError::Deadline { ended: false, .. });
        PortError { code: e.code(), message: e.to_string(), query_id, exhausted, in_doubt }
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
        // S3 reading or writing an object under a KMS key the role may not use, or one disabled or pending
        // deletion: a grant or the key is wrong, not the object (S3 error responses, "KMS.*" codes).
        code if code.starts_with("KMS.") => ErrorCode::AccessDenied,
        "NoSuchKey" | "NoSuchBucket" | "NoSuchVersion" | "NotFound" => ErrorCode::ObjectNotFound,
        // Data API: "The SQL statement encountered an environmental error while running" (API reference,
        // ExecuteStatement / BatchExecuteStatement errors) — the warehouse's moment, not the statement's input.
        "ExecuteStatementException" | "BatchExecuteStatementException" => ErrorCode::ServiceUnavailable,
        // Data API: invalid input (a database, workgroup or secret that does not exist or is not allowed) and a
        // resource that cannot be found — how the stack is configured, not what is being loaded.
        "ValidationException" | "ResourceNotFoundException" => ErrorCode::NotConfigured,
        _ => return None,
    })
}

/// What a statement that ran and ended FAILED or ABORTED says of itself, from the warehouse's error text
/// (Redshift reports its errors as `ERROR: <text>`, keeping PostgreSQL's wording for the common ones):
/// - the warehouse's moment, retried whole with the files pending (`service_unavailable`):
///   an `ABORTED` statement (stopped by an operator: DescribeStatement's status), a serializable isolation
///   violation (`ERROR: 1023`: "Retry the canceled transaction", Redshift Database Developer Guide,
///   Troubleshooting serializable isolation errors), a query cancelled by a WLM query monitoring rule's abort
///   action or on a user's request (WLM query monitoring rules: "the query is evicted from the queue"), a full
///   disk, a connection lost while it ran, a cluster or workgroup resuming;
/// - a missing grant or object, blocked with the files pending until an operator fixes it:
///   `permission denied` (SQLSTATE 42501), a COPY role that cannot be assumed or has no access to the bucket or
///   its KMS key (COPY authorization, "Role-based access control"), and a relation, schema or role that
///   `does not exist` (42P01, 3F000);
/// - anything else is the statement's input: `load_rejected`, and `sys_load_error_detail` may name the file.
pub fn statement_code(status: &str, message: &str) -> ErrorCode {
    let m = message.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if status.eq_ignore_ascii_case("ABORTED")
        || any(&[
            "serializable isolation violation",
            "error: 1023",
            "error:1023",
            "could not serialize access",
            "cancelled by wlm",
            "canceled by wlm",
            "query monitoring rule",
            "cancelled on user's request",
            "canceling statement due to user request",
            "canceling statement due to statement timeout",
            "disk full",
            "terminating connection",
            "server closed the connection",
            "is resuming",
            "is being resumed",
        ])
    {
        ErrorCode::ServiceUnavailable
    } else if any(&[
        "permission denied",
        "not authorized to assume",
        "not authorized to get credentials",
        "access denied",
        "accessdenied",
        "kms",
    ]) {
        ErrorCode::AccessDenied
    } else if any(&["does not exist"]) && any(&["relation", "schema", "role", "table", "database", "bucket"]) {
        ErrorCode::NotConfigured
    } else {
        ErrorCode::LoadRejected
    }
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
        for code in ["NoSuchKey", "NoSuchVersion"] {
            assert_eq!(classify(Some(code)).unwrap().disposition(), Disposition::Quarantine, "{code}");
        }
        for code in [
            "ValidationException",
            "ResourceNotFoundException",
            "InvalidSignatureException",
            "AccessDenied",
            "KMS.DisabledException",
        ] {
            assert_eq!(classify(Some(code)).unwrap().disposition(), Disposition::Blocked, "{code}");
        }
        assert_eq!(classify(Some("BatchExecuteStatementException")), Some(ErrorCode::ServiceUnavailable));
        assert_eq!(classify(Some("SomethingNew")), None);
        assert_eq!(by_status(503).disposition(), Disposition::Retry);
        assert_eq!(by_status(500).disposition(), Disposition::Retry);
        assert_eq!(by_status(404), ErrorCode::ObjectNotFound);
        assert_eq!(by_status(409), ErrorCode::ServiceRejected, "an unknown 4xx is not the warehouse refusing a file");
    }

    #[test]
    fn only_a_cancel_not_seen_to_end_leaves_the_statement_in_doubt() {
        let cancelled = |ended| PortError::from(AwsError::Deadline { id: "s".into(), seconds: 3, ended });
        assert!(cancelled(false).in_doubt && !cancelled(true).in_doubt);
        assert_eq!(cancelled(false).code.disposition(), Disposition::Retry, "retried, by a later delivery");
    }

    #[test]
    fn a_failed_statement_is_blamed_on_its_input_only_when_the_warehouse_names_nothing_else() {
        let cases = [
            ("FAILED", "ERROR: 1023 DETAIL: Serializable isolation violation on table - 100412, transactions forming the cycle are: 1201, 1202 (pid:4417)", ErrorCode::ServiceUnavailable),
            ("FAILED", "ERROR: Query (84113) cancelled by WLM abort action of Query Monitoring Rule \"long_copies\".", ErrorCode::ServiceUnavailable),
            ("ABORTED", "Query was stopped by the user", ErrorCode::ServiceUnavailable),
            ("FAILED", "ERROR: Disk Full", ErrorCode::ServiceUnavailable),
            ("FAILED", "ERROR: User arn:aws:redshift:eu-west-1:123456789012:dbuser:wg/IAMR:loader is not authorized to assume IAM Role arn:aws:iam::123456789012:role/copy", ErrorCode::AccessDenied),
            ("FAILED", "ERROR: S3ServiceException:Access Denied,Status 403,Error AccessDenied", ErrorCode::AccessDenied),
            ("FAILED", "ERROR: permission denied for relation transcription_results", ErrorCode::AccessDenied),
            ("FAILED", "ERROR: relation \"public.transcription_results\" does not exist", ErrorCode::NotConfigured),
            ("FAILED", "ERROR: Load into table 'stage' failed. Check 'sys_load_error_detail' system table for details.", ErrorCode::LoadRejected),
            ("FAILED", "Conversion Error: Could not convert string 'x' to INT64", ErrorCode::LoadRejected),
        ];
        for (status, message, code) in cases {
            assert_eq!(statement_code(status, message), code, "{message}");
        }
    }
}
