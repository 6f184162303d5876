//! The Lambdas' typed configuration, read once at start from environment variables; a bad value is an error that
//! names the variable, before any event. The original deployment's variables are understood (`S3_BUCKET`,
//! `REDSHIFT_DB`, `REDSHIFT_USER`, `REDSHIFT_TABLE`, …); redscribe's own start with `REDSCRIBE_`. Pure: the caller
//! hands in the lookup (`std::env::var` in a Lambda, a map in tests).

use std::ops::RangeInclusive;
use std::path::PathBuf;

use redscribe_core::attributes::KeyPattern;
use redscribe_core::layout::Layout;
use redscribe_core::redact::RedactOptions;
use redscribe_core::settings::{self, var};
use redscribe_core::talk::ChannelRoles;

/// A variable with a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub reason: String,
}

/// Where the warehouse is and how to reach it through the Data API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseConfig {
    /// `REDSHIFT_DB`.
    pub database: String,
    /// `REDSHIFT_WORKGROUP` (Serverless) or `REDSHIFT_CLUSTER_ID` (provisioned): exactly one.
    pub workgroup: Option<String>,
    pub cluster: Option<String>,
    /// `REDSHIFT_USER` (temporary credentials for a provisioned cluster) or `REDSHIFT_SECRET_ARN`.
    pub db_user: Option<String>,
    pub secret_arn: Option<String>,
    /// `REDSHIFT_SCHEMA`, `REDSHIFT_TABLE` (default `transcription_results`).
    pub schema: Option<String>,
    pub table: String,
    /// `REDSHIFT_IAM_ROLE`: the role COPY reads S3 with (default: the cluster's default role).
    pub copy_role: Option<String>,
}

/// What a Lambda needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    /// `S3_BUCKET`: the recordings bucket (quarantine records of payloads that name no bucket go there).
    pub bucket: Option<String>,
    /// Output bucket and prefixes: `REDSCRIBE_OUTPUT_BUCKET` (default: the recording's bucket).
    pub layout: Layout,
    /// `REDSCRIBE_JSONL`: also write JSON Lines beside each Parquet file.
    pub jsonl: bool,
    /// `REDSCRIBE_REDACT`: what every transcript is redacted of (`pii`; default off).
    pub redact: RedactOptions,
    /// `REDSCRIBE_KEY_PATTERN`: the named groups of recordings' keys that become attributes (default none).
    pub key_pattern: Option<KeyPattern>,
    /// `REDSCRIBE_CHANNEL_ROLES`: the role of each channel of a call (`agent,customer`; default none).
    pub channel_roles: ChannelRoles,
    /// `REDSCRIBE_CONCURRENCY`: recordings of one invocation processed at once (default 2).
    pub concurrency: usize,
    /// `REDSCRIBE_TRANSCRIBE`: run Whisper (default true); false keeps rows to metadata.
    pub transcribe: bool,
    /// `REDSCRIBE_MODEL`: the Whisper model by name (`tiny.en`, `base`; the function looks for
    /// `/opt/models/whisper-<name>` in its layer). The name is checked where the engine is (the function's start).
    pub model: Option<String>,
    /// `REDSCRIBE_LANGUAGE`: the language spoken (`es`), so a multilingual model skips detection.
    pub language: Option<String>,
    /// `REDSCRIBE_DECODE`: `sequential` or `batched` (checked where the engine is, at the function's start).
    pub decode: Option<String>,
    /// `REDSCRIBE_BATCH_SIZE`: stretches of speech per batch when batched (default 8).
    pub batch_size: usize,
    /// `REDSCRIBE_MODEL_DIR`: a model folder instead (default: the named model's folder in the layer);
    /// `REDSCRIBE_BEAM_SIZE` (default 5).
    pub model_dir: Option<PathBuf>,
    pub beam_size: usize,
    /// `REDSCRIBE_MAX_OBJECT_BYTES` (default 2 GiB; the function's ephemeral storage must hold it) and
    /// `REDSCRIBE_MAX_DURATION_S` (default 14400): bigger or longer recordings are quarantined.
    pub limits: crate::transcribe::RecordingLimits,
    /// `REDSCRIBE_MAX_RECEIVES` (default 4): an SQS message received this often is quarantined unprocessed.
    pub max_receives: u32,
    /// `REDSCRIBE_INPUT_PREFIX`: where recordings are uploaded (default: anywhere in the bucket).
    pub input_prefix: String,
    /// `REDSCRIBE_PART_SECONDS`: recordings longer than this are heard in parts (default, `0` or `off`: whole;
    /// the stack sets 600 and routes the parts' requests back to the function).
    pub part_s: Option<f64>,
    /// `REDSCRIBE_FAULT_ABORT_ON` (tests only): processing a recording whose key contains it aborts the process.
    pub fault_abort_on: Option<String>,
    /// `REDSCRIBE_EXPECTED_RTF`: compute per second of audio to plan with until this process has measured its
    /// own (default: the model's figure, `redscribe_core::plan`).
    pub expected_rtf: Option<f64>,
    /// `REDSCRIBE_FUNCTION_TIMEOUT_S`: the function's timeout, which the runtime does not tell (the stack sets
    /// it); a recording that needs longer is quarantined `too_long`.
    pub function_timeout: Option<std::time::Duration>,
    /// `REDSCRIBE_METRICS_NAMESPACE` (default `Redscribe`).
    pub metrics_namespace: String,
    /// `REDSCRIBE_S3_PATH_STYLE`: path-style S3 addressing (for S3-compatible endpoints).
    pub s3_path_style: bool,
    /// Present when `REDSHIFT_DB` is set.
    pub warehouse: Option<WarehouseConfig>,
    /// The load function's bounds: `REDSCRIBE_LOAD_BATCH_FILES` (default 1000), `REDSCRIBE_LOAD_SWEEP_DAYS`
    /// (default 2), `REDSCRIBE_LOAD_MARGIN_S` (default 30: no batch starts with less time left).
    pub load: crate::invoke::LoadLimits,
    /// `REDSCRIBE_PRICES`: a price table of one's own (JSON, as `pricing/aws-us-east-1.json`), instead of the shipped.
    pub prices: Option<PathBuf>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (Lambda sets it): the memory the function is billed for, in MB.
    pub memory_mb: Option<u32>,
}

impl WarehouseConfig {
    /// The tables the stage loads (`REDSHIFT_SCHEMA`, `REDSHIFT_TABLE`).
    pub fn tables(&self) -> Result<redscribe_core::load::Tables, ConfigError> {
        redscribe_core::load::Tables::new(self.schema.as_deref(), &self.table).map_err(|e| ConfigError {
            variable: "REDSHIFT_TABLE",
            value: self.table.clone(),
            reason: e.to_string(),
        })
    }

    /// How COPY reads S3 (`REDSHIFT_IAM_ROLE`, else the warehouse's default role).
    pub fn copy_authorization(&self) -> redscribe_core::load::CopyAuthorization {
        match &self.copy_role {
            Some(arn) => redscribe_core::load::CopyAuthorization::IamRole(arn.clone()),
            None => redscribe_core::load::CopyAuthorization::DefaultRole,
        }
    }
}

impl FunctionConfig {
    /// The warehouse settings, which the load function cannot do without.
    pub fn require_warehouse(&self) -> Result<&WarehouseConfig, ConfigError> {
        self.warehouse.as_ref().ok_or_else(|| ConfigError {
            variable: "REDSHIFT_DB",
            value: String::new(),
            reason: "the load function needs the warehouse: set REDSHIFT_DB and REDSHIFT_WORKGROUP or \
                     REDSHIFT_CLUSTER_ID"
                .into(),
        })
    }

    /// The bucket the load function writes manifests and quarantine records to, and sweeps: the output bucket,
    /// else `S3_BUCKET`.
    pub fn require_bucket(&self) -> Result<String, ConfigError> {
        self.layout.output_bucket.clone().or_else(|| self.bucket.clone()).ok_or_else(|| ConfigError {
            variable: "S3_BUCKET",
            value: String::new(),
            reason: "the load function needs a bucket for manifests: set S3_BUCKET or REDSCRIBE_OUTPUT_BUCKET".into(),
        })
    }

    /// The recordings the load function's result files must answer: `S3_BUCKET` under `REDSCRIBE_INPUT_PREFIX`.
    pub fn recordings(&self) -> Result<crate::pending::Recordings, ConfigError> {
        let bucket = self.bucket.as_deref().ok_or_else(|| ConfigError {
            variable: "S3_BUCKET",
            value: String::new(),
            reason: "the load function loads only answers to recordings of its bucket: set S3_BUCKET".into(),
        })?;
        Ok(crate::pending::Recordings::under(bucket, &self.input_prefix))
    }

    /// How the function prices its work: the price table (`REDSCRIBE_PRICES`, read here, or the shipped one) at
    /// the function's memory (else `default_memory_mb`), on the architecture it was built for.
    pub fn cost_model(&self, default_memory_mb: u32) -> Result<redscribe_core::cost::CostModel, ConfigError> {
        let prices = match &self.prices {
            None => redscribe_core::cost::Prices::shipped(),
            Some(path) => {
                let error =
                    |reason: String| ConfigError { variable: var::PRICES, value: path.display().to_string(), reason };
                let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
                redscribe_core::cost::Prices::from_json(&text).map_err(|e| error(e.to_string()))?
            }
        };
        let arch = match std::env::consts::ARCH {
            "aarch64" => redscribe_core::cost::Arch::Arm64,
            _ => redscribe_core::cost::Arch::X86_64,
        };
        Ok(redscribe_core::cost::CostModel { prices, memory_mb: self.memory_mb.unwrap_or(default_memory_mb), arch })
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<FunctionConfig, ConfigError> {
        FunctionConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `var` (a variable's value, or `None` when unset).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<FunctionConfig, ConfigError> {
        let text = |name: &'static str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let flag = |name: &'static str, default: bool| match text(name) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError { variable: name, value: v, reason: "expected true or false".into() }),
            },
        };
        let number = |name: &'static str, default: usize, range: RangeInclusive<usize>| match text(name) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(ConfigError {
                    variable: name,
                    value: v,
                    reason: format!("expected a whole number {}..={}", range.start(), range.end()),
                }),
            },
        };
        let mut layout = Layout::default();
        layout.output_bucket = text("REDSCRIBE_OUTPUT_BUCKET");
        let warehouse = match text("REDSHIFT_DB") {
            None => None,
            Some(database) => {
                // `REDSHIFT_CLUSTER` (the CLI's earlier spelling) is taken for `REDSHIFT_CLUSTER_ID`.
                let cluster = text("REDSHIFT_CLUSTER_ID").or_else(|| text("REDSHIFT_CLUSTER"));
                let workgroup = text("REDSHIFT_WORKGROUP");
                let table = text("REDSHIFT_TABLE").unwrap_or_else(|| redscribe_core::schema::RESULTS_TABLE.into());
                let schema = text("REDSHIFT_SCHEMA").filter(|s| s != "public");
                // The migrations create their tables by name in the default schema: rows sent elsewhere would
                // go to a table they never made.
                if table != redscribe_core::schema::RESULTS_TABLE {
                    return Err(ConfigError {
                        variable: "REDSHIFT_TABLE",
                        value: table,
                        reason: "the migrations create transcription_results; another table name is not supported"
                            .into(),
                    });
                }
                if let Some(schema) = schema {
                    return Err(ConfigError {
                        variable: "REDSHIFT_SCHEMA",
                        value: schema,
                        reason: "the migrations create their tables in the default schema (public); set the \
                                 database user's search_path instead"
                            .into(),
                    });
                }
                if workgroup.is_some() == cluster.is_some() {
                    return Err(ConfigError {
                        variable: "REDSHIFT_WORKGROUP",
                        value: workgroup.unwrap_or_default(),
                        reason: "set exactly one of REDSHIFT_WORKGROUP (Serverless) and REDSHIFT_CLUSTER_ID".into(),
                    });
                }
                if var("REDSHIFT_PASSWORD").is_some() {
                    return Err(ConfigError {
                        variable: "REDSHIFT_PASSWORD",
                        value: "…".into(),
                        reason: "passwords do not go in variables: use REDSHIFT_SECRET_ARN or the function's role"
                            .into(),
                    });
                }
                Some(WarehouseConfig {
                    database,
                    workgroup,
                    cluster,
                    db_user: text("REDSHIFT_USER"),
                    secret_arn: text("REDSHIFT_SECRET_ARN"),
                    schema: None,
                    table,
                    copy_role: text("REDSHIFT_IAM_ROLE"),
                })
            }
        };
        Ok(FunctionConfig {
            bucket: text("S3_BUCKET"),
            layout,
            jsonl: flag("REDSCRIBE_JSONL", false)?,
            redact: match text(var::REDACT) {
                None => RedactOptions::default(),
                Some(v) => v.parse().map_err(|reason| ConfigError { variable: var::REDACT, value: v, reason })?,
            },
            key_pattern: match text(var::KEY_PATTERN) {
                None => None,
                Some(v) => Some(KeyPattern::parse(&v).map_err(|e| ConfigError {
                    variable: var::KEY_PATTERN,
                    value: v,
                    reason: e.to_string(),
                })?),
            },
            channel_roles: match text(var::CHANNEL_ROLES) {
                None => ChannelRoles::default(),
                Some(v) => ChannelRoles::parse(&v).map_err(|e| ConfigError {
                    variable: var::CHANNEL_ROLES,
                    value: v,
                    reason: e.to_string(),
                })?,
            },
            concurrency: number(var::CONCURRENCY, settings::LAMBDA_CONCURRENCY, settings::CONCURRENCY_RANGE)?,
            transcribe: flag("REDSCRIBE_TRANSCRIBE", true)?,
            model: text(var::MODEL),
            language: text(var::LANGUAGE),
            decode: text(var::DECODE),
            batch_size: number(var::BATCH_SIZE, settings::DEFAULT_BATCH_SIZE, settings::BATCH_SIZE_RANGE)?,
            model_dir: text(var::MODEL_DIR).map(PathBuf::from),
            beam_size: number(var::BEAM_SIZE, settings::DEFAULT_BEAM_SIZE, settings::BEAM_SIZE_RANGE)?,
            limits: crate::transcribe::RecordingLimits {
                max_bytes: number(var::MAX_OBJECT_BYTES, settings::DEFAULT_MAX_OBJECT_BYTES as usize, 1..=10 << 40)?
                    as u64,
                // Seconds, as the CLI's --max-duration takes them: fractions allowed. The stack hands hours as its
                // parameter has them (CloudFormation cannot multiply); the seconds win when both are set.
                max_duration_s: match (text(var::MAX_DURATION_S), text(var::MAX_AUDIO_HOURS)) {
                    (Some(v), _) => settings::parse_seconds(&v).map_err(|reason| ConfigError {
                        variable: var::MAX_DURATION_S,
                        value: v,
                        reason,
                    })?,
                    (None, Some(v)) => {
                        settings::parse_seconds(&v).map(|h| h * 3600.0).map_err(|reason| ConfigError {
                            variable: var::MAX_AUDIO_HOURS,
                            value: v,
                            reason: reason.replace("seconds", "hours"),
                        })?
                    }
                    (None, None) => settings::DEFAULT_MAX_DURATION_S,
                },
            },
            max_receives: number(var::MAX_RECEIVES, settings::DEFAULT_MAX_RECEIVES as usize, 1..=1000)? as u32,
            input_prefix: text(var::INPUT_PREFIX).unwrap_or_default(),
            part_s: match text(var::PART_SECONDS) {
                None => None,
                Some(v) => settings::parse_part_seconds(&v).map_err(|reason| ConfigError {
                    variable: var::PART_SECONDS,
                    value: v,
                    reason,
                })?,
            },
            fault_abort_on: text(var::FAULT_ABORT_ON),
            expected_rtf: match text("REDSCRIBE_EXPECTED_RTF") {
                None => None,
                Some(v) => match v.parse::<f64>() {
                    Ok(r) if r > 0.0 && r < 100.0 => Some(r),
                    _ => {
                        return Err(ConfigError {
                            variable: "REDSCRIBE_EXPECTED_RTF",
                            value: v,
                            reason: "expected a number above 0 (seconds of compute per second of audio)".into(),
                        })
                    }
                },
            },
            function_timeout: match text("REDSCRIBE_FUNCTION_TIMEOUT_S") {
                None => None,
                Some(_) => {
                    Some(std::time::Duration::from_secs(number("REDSCRIBE_FUNCTION_TIMEOUT_S", 900, 1..=900)? as u64))
                }
            },
            metrics_namespace: text("REDSCRIBE_METRICS_NAMESPACE").unwrap_or_else(|| "Redscribe".into()),
            s3_path_style: flag(var::S3_PATH_STYLE, false)?,
            warehouse,
            load: crate::invoke::LoadLimits {
                batch: crate::driver::BatchLimits {
                    files: number(
                        var::LOAD_BATCH_FILES,
                        settings::DEFAULT_LOAD_BATCH_FILES,
                        settings::LOAD_BATCH_FILES_RANGE,
                    )?,
                    ..Default::default()
                },
                sweep_days: number("REDSCRIBE_LOAD_SWEEP_DAYS", 2, 1..=31)? as u32,
                margin: std::time::Duration::from_secs(number("REDSCRIBE_LOAD_MARGIN_S", 30, 0..=900)? as u64),
                // 0 (the stack's default): kept for good.
                retention_days: Some(number(var::RESULT_RETENTION_DAYS, 0, 0..=36_500)? as u32).filter(|d| *d > 0),
            },
            prices: text(var::PRICES).map(PathBuf::from),
            memory_mb: match text("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
                None => None,
                Some(_) => Some(number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 128, 128..=10_240)? as u32),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<FunctionConfig, ConfigError> {
        FunctionConfig::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn defaults_and_the_original_variables() {
        let c = read(&[
            ("S3_BUCKET", "recordings"),
            ("REDSHIFT_DB", "dev"),
            ("REDSHIFT_USER", "awsuser"),
            ("REDSHIFT_CLUSTER_ID", "analytics"),
            ("REDSHIFT_TABLE", "transcription_results"),
        ])
        .unwrap();
        assert_eq!(c.bucket.as_deref(), Some("recordings"));
        assert!(c.transcribe && !c.jsonl && !c.s3_path_style);
        assert_eq!((c.concurrency, c.beam_size, c.metrics_namespace.as_str()), (2, 5, "Redscribe"));
        let w = c.warehouse.unwrap();
        assert_eq!(
            (w.database.as_str(), w.cluster.as_deref(), w.db_user.as_deref()),
            ("dev", Some("analytics"), Some("awsuser"))
        );
        assert_eq!(read(&[]).unwrap().warehouse, None);
        assert_eq!(read(&[]).unwrap().require_warehouse().unwrap_err().variable, "REDSHIFT_DB");
        assert_eq!(read(&[]).unwrap().require_bucket().unwrap_err().variable, "S3_BUCKET");
        assert_eq!(
            read(&[("S3_BUCKET", "in"), ("REDSCRIBE_OUTPUT_BUCKET", "out")]).unwrap().require_bucket().unwrap(),
            "out"
        );
        let recordings = read(&[("S3_BUCKET", "in"), (var::INPUT_PREFIX, "calls/")]).unwrap().recordings().unwrap();
        assert!(recordings.holds("in", "calls/a.wav") && !recordings.holds("in", "other/a.wav"));
        assert!(!recordings.holds("elsewhere", "calls/a.wav"));
        assert_eq!(read(&[]).unwrap().recordings().unwrap_err().variable, "S3_BUCKET");
        let load = read(&[]).unwrap().load;
        assert_eq!((load.batch.files, load.sweep_days, load.margin.as_secs()), (1000, 2, 30));
        assert_eq!(load.retention_days, None);
        assert_eq!(read(&[(var::RESULT_RETENTION_DAYS, "0")]).unwrap().load.retention_days, None);
        assert_eq!(read(&[(var::RESULT_RETENTION_DAYS, "365")]).unwrap().load.retention_days, Some(365));
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(read(&[("REDSCRIBE_JSONL", "maybe")]).unwrap_err().variable, "REDSCRIBE_JSONL");
        assert_eq!(read(&[("REDSCRIBE_CONCURRENCY", "0")]).unwrap_err().variable, "REDSCRIBE_CONCURRENCY");
        assert_eq!(read(&[("REDSCRIBE_BEAM_SIZE", "five")]).unwrap_err().variable, "REDSCRIBE_BEAM_SIZE");
        assert_eq!(read(&[("REDSCRIBE_EXPECTED_RTF", "-1")]).unwrap_err().variable, "REDSCRIBE_EXPECTED_RTF");
        // A duration is seconds with fractions, as the CLI's --max-duration takes it.
        assert_eq!(read(&[("REDSCRIBE_MAX_DURATION_S", "90.5")]).unwrap().limits.max_duration_s, 90.5);
        assert_eq!(read(&[("REDSCRIBE_MAX_DURATION_S", "0")]).unwrap_err().variable, "REDSCRIBE_MAX_DURATION_S");
        assert_eq!(read(&[(var::MAX_AUDIO_HOURS, "6")]).unwrap().limits.max_duration_s, 21_600.0);
        assert_eq!(read(&[(var::MAX_AUDIO_HOURS, "none")]).unwrap_err().variable, var::MAX_AUDIO_HOURS);
        assert_eq!(
            read(&[("REDSCRIBE_FUNCTION_TIMEOUT_S", "3600")]).unwrap_err().variable,
            "REDSCRIBE_FUNCTION_TIMEOUT_S"
        );
        let c = read(&[("REDSCRIBE_FUNCTION_TIMEOUT_S", "600"), ("REDSCRIBE_MAX_RECEIVES", "3")]).unwrap();
        assert_eq!((c.function_timeout.map(|t| t.as_secs()), c.max_receives), (Some(600), 3));
        assert_eq!(read(&[("REDSCRIBE_LOAD_SWEEP_DAYS", "90")]).unwrap_err().variable, "REDSCRIBE_LOAD_SWEEP_DAYS");
        // Attributes and roles: a pattern must parse and name a group; roles must be names, each once.
        assert_eq!(read(&[(var::KEY_PATTERN, r"in/.*")]).unwrap_err().variable, var::KEY_PATTERN);
        assert_eq!(read(&[(var::KEY_PATTERN, r"in/(?P<q>")]).unwrap_err().variable, var::KEY_PATTERN);
        let pattern = read(&[(var::KEY_PATTERN, r"in/(?P<queue>[^/]+)/.*")]).unwrap().key_pattern.unwrap();
        assert_eq!(pattern.attributes("in/sales/a.wav").unwrap()[0].value, "sales");
        assert_eq!(read(&[(var::CHANNEL_ROLES, "agent,agent")]).unwrap_err().variable, var::CHANNEL_ROLES);
        assert_eq!(read(&[(var::CHANNEL_ROLES, "agent,customer")]).unwrap().channel_roles.role(1), Some("customer"));
        // Parts: off unless asked for; at least a minute.
        assert_eq!(read(&[]).unwrap().part_s, None);
        assert_eq!(read(&[(var::PART_SECONDS, "600")]).unwrap().part_s, Some(600.0));
        assert_eq!(read(&[(var::PART_SECONDS, "off")]).unwrap().part_s, None);
        assert_eq!(read(&[(var::PART_SECONDS, "30")]).unwrap_err().variable, var::PART_SECONDS);
        // Rows go where the migrations put the tables, or the function does not start.
        let other_table = read(&[("REDSHIFT_DB", "dev"), ("REDSHIFT_WORKGROUP", "w"), ("REDSHIFT_TABLE", "calls")]);
        assert_eq!(other_table.unwrap_err().variable, "REDSHIFT_TABLE");
        let schema = read(&[("REDSHIFT_DB", "dev"), ("REDSHIFT_WORKGROUP", "w"), ("REDSHIFT_SCHEMA", "analytics")]);
        assert_eq!(schema.unwrap_err().variable, "REDSHIFT_SCHEMA");
        let public = read(&[("REDSHIFT_DB", "dev"), ("REDSHIFT_WORKGROUP", "w"), ("REDSHIFT_SCHEMA", "public")]);
        assert_eq!(public.unwrap().warehouse.unwrap().schema, None);
        let alias = read(&[("REDSHIFT_DB", "dev"), ("REDSHIFT_CLUSTER", "analytics")]).unwrap();
        assert_eq!(alias.warehouse.unwrap().cluster.as_deref(), Some("analytics"), "the CLI's earlier spelling");
        let both = read(&[("REDSHIFT_DB", "dev"), ("REDSHIFT_WORKGROUP", "w"), ("REDSHIFT_CLUSTER_ID", "c")]);
        assert_eq!(both.unwrap_err().variable, "REDSHIFT_WORKGROUP");
        let password = read(&[("REDSHIFT_DB", "dev"), ("REDSHIFT_WORKGROUP", "w"), ("REDSHIFT_PASSWORD", "hunter2")]);
        let e = password.unwrap_err();
        assert_eq!(e.variable, "REDSHIFT_PASSWORD");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
