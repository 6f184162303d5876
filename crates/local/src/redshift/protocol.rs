//! The Data API's wire shapes (AWS JSON 1.1), named as the service model names them
//! (`botocore/data/redshift-data/2019-12-20/service-2.json`). Timestamps are epoch seconds, as the JSON protocol
//! sends them; durations are nanoseconds.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::engine::{Column, Value};

/// `SqlParameter`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqlParameter {
    pub name: String,
    pub value: String,
}

/// Where a statement runs and who runs it; shared by `ExecuteStatement` and `BatchExecuteStatement`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    pub cluster_identifier: Option<String>,
    pub workgroup_name: Option<String>,
    pub database: Option<String>,
    pub db_user: Option<String>,
    pub secret_arn: Option<String>,
    pub statement_name: Option<String>,
    pub with_event: Option<bool>,
    pub client_token: Option<String>,
    pub result_format: Option<String>,
    pub session_keep_alive_seconds: Option<i64>,
    pub session_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteStatementInput {
    pub sql: String,
    pub parameters: Option<Vec<SqlParameter>>,
    #[serde(flatten)]
    pub target: Target,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchExecuteStatementInput {
    pub sqls: Vec<String>,
    pub parameters: Option<Vec<SqlParameter>>,
    #[serde(flatten)]
    pub target: Target,
}

/// The answer to both execute operations.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteOutput {
    pub id: String,
    pub created_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workgroup_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdInput {
    pub id: String,
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct SubStatementData {
    pub id: String,
    pub duration: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub status: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub query_string: String,
    pub result_rows: i64,
    pub result_size: i64,
    pub redshift_query_id: i64,
    pub has_result_set: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStatementResponse {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workgroup_name: Option<String>,
    pub duration: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub status: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub redshift_pid: i64,
    pub has_result_set: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_string: Option<String>,
    pub result_rows: i64,
    pub result_size: i64,
    pub redshift_query_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_parameters: Option<Vec<SqlParameter>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_statements: Option<Vec<SubStatementData>>,
    pub result_format: String,
}

/// `Field`: a union, exactly one member set.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub enum Field {
    IsNull(bool),
    BooleanValue(bool),
    LongValue(i64),
    DoubleValue(f64),
    StringValue(String),
    BlobValue(String),
}

impl From<&Value> for Field {
    fn from(v: &Value) -> Field {
        match v {
            Value::Null => Field::IsNull(true),
            Value::Bool(b) => Field::BooleanValue(*b),
            Value::Long(n) => Field::LongValue(*n),
            Value::Double(d) => Field::DoubleValue(*d),
            Value::String(s) => Field::StringValue(s.clone()),
            Value::Blob(b) => Field::BlobValue(base64::engine::general_purpose::STANDARD.encode(b)),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnMetadata {
    pub is_case_sensitive: bool,
    pub is_currency: bool,
    pub is_signed: bool,
    pub label: String,
    pub name: String,
    pub nullable: i32,
    pub precision: i32,
    pub scale: i32,
    pub schema_name: String,
    pub table_name: String,
    pub type_name: String,
    pub length: i32,
}

impl From<&Column> for ColumnMetadata {
    fn from(c: &Column) -> ColumnMetadata {
        ColumnMetadata {
            is_case_sensitive: c.case_sensitive,
            is_currency: false,
            is_signed: c.signed,
            label: c.name.clone(),
            name: c.name.clone(),
            // JDBC's columnNullable (1) / columnNullableUnknown (2), as the service reports them.
            nullable: if c.nullable { 1 } else { 0 },
            precision: c.precision,
            scale: c.scale,
            schema_name: String::new(),
            table_name: String::new(),
            type_name: c.type_name.to_string(),
            length: 0,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetStatementResultResponse {
    pub records: Vec<Vec<Field>>,
    pub column_metadata: Vec<ColumnMetadata>,
    pub total_num_rows: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelStatementResponse {
    pub status: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStatementsInput {
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub statement_name: Option<String>,
    pub status: Option<String>,
    pub role_level: Option<bool>,
    pub database: Option<String>,
    pub cluster_identifier: Option<String>,
    pub workgroup_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatementData {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_strings: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_name: Option<String>,
    pub created_at: f64,
    pub updated_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_parameters: Option<Vec<SqlParameter>>,
    pub is_batch_statement: bool,
    pub result_format: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStatementsResponse {
    pub statements: Vec<StatementData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// An error as the service returns it: HTTP status, `__type` and `message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// `ResourceNotFoundException.ResourceId`, `ExecuteStatementException.StatementId`.
    pub resource_id: Option<String>,
}

impl ApiError {
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError { status: 400, code: "ValidationException", message: message.into(), resource_id: None }
    }

    pub fn not_found(id: &str) -> ApiError {
        ApiError {
            status: 400,
            code: "ResourceNotFoundException",
            message: format!("Query does not exist: {id}"),
            resource_id: Some(id.to_string()),
        }
    }

    pub fn active_statements_exceeded(limit: usize) -> ApiError {
        ApiError {
            status: 400,
            code: "ActiveStatementsExceededException",
            message: format!("Active statements exceeded the allowed quota ({limit})."),
            resource_id: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError { status: 500, code: "InternalServerException", message: message.into(), resource_id: None }
    }

    /// Protocol-level errors (before an operation is known), as every AWS JSON service words them.
    pub fn protocol(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), resource_id: None }
    }

    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "__type": self.code, "message": self.message });
        if let Some(id) = &self.resource_id {
            body["ResourceId"] = serde_json::Value::String(id.clone());
        }
        body
    }
}
