//! Errors of the AWS adapters, each classified with a core [`ErrorCode`] so that one place decides retries.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
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
    /// A statement did not end before the deadline (it is cancelled).
    #[error("statement {id} did not finish within {seconds} s")]
    Deadline { id: String, seconds: u64 },
    /// Configuration that cannot work (caught before any call).
    #[error("configuration: {0}")]
    Config(String),
}

impl AwsError {
    /// The classification that decides retry or quarantine.
    pub fn code(&self) -> ErrorCode {
        match self {
            AwsError::Call { code, .. } => *code,
            AwsError::Statement { .. } => ErrorCode::LoadRejected,
            AwsError::Deadline { .. } => ErrorCode::ServiceUnavailable,
            AwsError::Config(_) => ErrorCode::Internal,
        }
    }

    /// Classifies an SDK error: throttling and quota errors, 5xx, timeouts and connection failures may succeed
    /// later; authentication, validation and missing resources will not.
    pub fn from_sdk<E, R>(operation: &'static str, err: aws_sdk_redshiftdata::error::SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        use aws_sdk_redshiftdata::error::SdkError;
        let (code, service_code, message) = match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => (
                ErrorCode::ServiceUnavailable,
                None,
                format!("{}", aws_sdk_redshiftdata::error::DisplayErrorContext(&err)),
            ),
            SdkError::ServiceError(service) => {
                let e = service.err();
                let service_code = e.code().map(str::to_string);
                let message = e.message().unwrap_or("no message").to_string();
                (classify(service_code.as_deref()), service_code, message)
            }
            _ => (ErrorCode::Internal, None, format!("{}", aws_sdk_redshiftdata::error::DisplayErrorContext(&err))),
        };
        AwsError::Call { operation, code, service_code, message }
    }
}

/// Service error codes to the core's classes.
fn classify(service_code: Option<&str>) -> ErrorCode {
    match service_code.unwrap_or_default() {
        "ActiveStatementsExceededException"
        | "ActiveSessionsExceededException"
        | "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => ErrorCode::Throttled,
        "InternalServerException" | "InternalFailure" | "ServiceUnavailable" | "DatabaseConnectionException" => {
            ErrorCode::ServiceUnavailable
        }
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "MissingAuthenticationTokenException"
        | "ExpiredTokenException" => ErrorCode::AccessDenied,
        _ => ErrorCode::LoadRejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redscribe_core::Disposition;

    #[test]
    fn quota_and_server_errors_retry_the_rest_do_not() {
        for code in ["ActiveStatementsExceededException", "ThrottlingException", "InternalServerException"] {
            assert_eq!(classify(Some(code)).disposition(), Disposition::Retry, "{code}");
        }
        for code in ["ValidationException", "ResourceNotFoundException", "InvalidSignatureException"] {
            assert_eq!(classify(Some(code)).disposition(), Disposition::Quarantine, "{code}");
        }
    }
}
