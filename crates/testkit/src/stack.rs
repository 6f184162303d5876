//! The SAM template (`template.yaml`) deployed into moto's CloudFormation on loopback and read back through each
//! service's API (`deploy/emulator.py`), with the deployment tools `scripts/setup.sh` installs: what the stack tests
//! of both functions share.

use std::path::PathBuf;
use std::process::Command;

use redscribe_aws::permissions::Scope;
use serde_json::Value;

use crate::Moto;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

/// The virtual environment with SAM CLI, cfn-lint, checkov and moto's CloudFormation (scripts/setup.sh).
pub fn deploy_tools() -> PathBuf {
    let tools = crate::cache_dir().join("deploy-tools/bin");
    assert!(
        tools.join("sam").is_file(),
        "{}: run scripts/setup.sh (it installs the deployment tools)",
        tools.display()
    );
    tools
}

/// One of the deployment tools, run from the repository's root.
pub fn tool(name: &str) -> Command {
    let mut command = Command::new(deploy_tools().join(name));
    command.current_dir(repo_root()).env("SAM_CLI_TELEMETRY", "0").env_remove("AWS_PROFILE");
    command
}

/// A stack of `template.yaml` created in moto, and everything it holds as the services describe it.
pub struct Deployed {
    pub moto: Moto,
    pub name: String,
    /// `deploy/emulator.py`'s output: `functions`, `queues`, `event_source_mappings`, `rules`, `topics`, `roles`,
    /// `buckets`, `log_groups`, `alarms`, the `transformed` template, and what was `applied_through_api`.
    pub stack: Value,
}

impl Deployed {
    /// Deploys the template as stack `redscribe` with `parameters` into a moto of its own.
    pub fn deploy(parameters: &[(&str, &str)]) -> Deployed {
        let moto = Moto::start_program(&deploy_tools().join("moto_server"));
        Deployed::deploy_into(moto, "redscribe", parameters)
    }

    /// Deploys the template as stack `name` into `moto`.
    pub fn deploy_into(moto: Moto, name: &str, parameters: &[(&str, &str)]) -> Deployed {
        let mut command = tool("python");
        command.arg("deploy/emulator.py").args(["--endpoint", &moto.endpoint_url, "--stack-name", name]);
        for (key, value) in parameters {
            command.args(["--param", &format!("{key}={value}")]);
        }
        let output = command.output().expect("the deployment tools' Python");
        assert!(output.status.success(), "deploy/emulator.py: {}", String::from_utf8_lossy(&output.stderr));
        let stack = serde_json::from_slice(&output.stdout).expect("the emulator's JSON");
        Deployed { moto, name: name.to_string(), stack }
    }

    /// A function by its logical id, as `GetFunctionConfiguration` describes it (plus its reserved concurrency).
    pub fn function(&self, logical_id: &str) -> &Value {
        let f = &self.stack["functions"][logical_id];
        assert!(f.is_object(), "no function {logical_id} in the stack");
        f
    }

    /// The function's environment as deployed, with what Lambda itself would add to reach the local stand-ins in
    /// place of AWS: `overrides` last.
    pub fn function_env(&self, logical_id: &str, overrides: &[(&'static str, String)]) -> Vec<(String, String)> {
        let vars = self.function(logical_id)["Environment"]["Variables"].as_object().expect("variables");
        let mut env: Vec<(String, String)> =
            vars.iter().map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_string())).collect();
        // What Lambda itself sets from the function's configuration.
        let memory = self.function(logical_id)["MemorySize"].as_u64().expect("the function's memory");
        env.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), memory.to_string()));
        env.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.clone())));
        env
    }

    /// The stack's bucket.
    pub fn bucket(&self) -> &Value {
        &self.stack["buckets"]["InputBucket"]
    }

    /// The queue (its ARN) the bucket's notification sends a new object's event to, if any: S3's prefix and
    /// suffix rules, as the deployed notification configuration has them.
    pub fn route(&self, key: &str) -> Option<String> {
        let configs = self.bucket()["Notification"]["QueueConfigurations"].as_array()?;
        configs
            .iter()
            .find(|c| {
                c["Filter"]["Key"]["FilterRules"].as_array().into_iter().flatten().all(|rule| {
                    let value = rule["Value"].as_str().unwrap_or_default();
                    match rule["Name"].as_str().unwrap_or_default().to_ascii_lowercase().as_str() {
                        "prefix" => key.starts_with(value),
                        "suffix" => key.ends_with(value),
                        other => panic!("filter rule {other}"),
                    }
                })
            })
            .map(|c| c["QueueArn"].as_str().expect("an ARN").to_string())
    }

    /// Makes the stack's bucket in the S3 stand-in as the stack has it (versioning as deployed), with the aws CLI;
    /// returns its name.
    pub fn create_bucket_in(&self, stand_ins: &crate::StandIns) -> String {
        let bucket = self.bucket()["Name"].as_str().expect("a bucket").to_string();
        let versioning = self.bucket()["Versioning"].as_str().unwrap_or("Suspended");
        let aws = |args: &[&str]| {
            let output = Command::new("aws")
                .args(["--endpoint-url", &stand_ins.s3.endpoint_url(), "--region", "us-east-1"])
                .args(args)
                .env("AWS_ACCESS_KEY_ID", &stand_ins.credentials.access_key_id)
                .env("AWS_SECRET_ACCESS_KEY", &stand_ins.credentials.secret_access_key)
                .env_remove("AWS_PROFILE")
                .output()
                .expect("the aws CLI (scripts/setup.sh)");
            assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        };
        aws(&["s3api", "create-bucket", "--bucket", &bucket]);
        let status = format!("Status={versioning}");
        aws(&["s3api", "put-bucket-versioning", "--bucket", &bucket, "--versioning-configuration", &status]);
        bucket
    }

    /// The deliveries whose object the deployed notification sends to the queue `queue` (a logical id).
    pub fn routed_to(
        &self,
        queue: &str,
        deliveries: &[redscribe_local::s3::Delivery],
    ) -> Vec<redscribe_local::s3::Delivery> {
        let arn = self.queue_arn(queue);
        deliveries.iter().filter(|d| self.route(&delivered_key(d)).as_deref() == Some(arn.as_str())).cloned().collect()
    }

    /// A queue's ARN by its logical id.
    pub fn queue_arn(&self, logical_id: &str) -> String {
        self.stack["queues"][logical_id]["QueueArn"].as_str().expect("a queue").to_string()
    }
}

/// The parts of the stack's bucket (with its default `InputPrefix`) a grant on objects names, by prefix.
pub const OBJECT_SCOPES: [(&str, Scope); 7] = [
    ("in/", Scope::Recordings),
    ("processed/", Scope::Processed),
    // Before `manifests/`: the narrower prefix is the one a key is in.
    (ATTEMPTS_LISTING, Scope::Attempts),
    (PARTS_LISTING, Scope::Parts),
    ("manifests/reprocess/", Scope::Reprocess),
    ("manifests/", Scope::Manifests),
    ("rejected/", Scope::Rejected),
];

/// The part of the bucket an object key is in.
pub fn object_scope(key: &str) -> Option<Scope> {
    OBJECT_SCOPES.iter().find(|(prefix, _)| key.starts_with(prefix)).map(|(_, scope)| *scope)
}

/// The prefix the load function lists (the scheduled sweep), and its role may list.
pub const RESULTS_LISTING: &str = "processed/transcription_results/";

/// The prefix of a long recording's parts, which the transcribe function lists and its role may.
pub const PARTS_LISTING: &str = "manifests/parts/";

/// The stack's default `InputPrefix`, under which the load function lists a recording's key.
pub const RECORDINGS_LISTING: &str = "in/";

/// The prefix of the attempt markers, which the transcribe function lists (one key at a time) and its role may.
pub const ATTEMPTS_LISTING: &str = "manifests/attempts/";

/// The prefixes under which the load function lists object versions (an erased recording's objects), and its role
/// may.
pub const ERASURE_LISTING: [&str; 4] = ["processed/", "rejected/", PARTS_LISTING, ATTEMPTS_LISTING];

/// The object key of an S3 event the stand-in raised, decoded (S3 sends it URL-encoded, `+` for a space).
pub fn delivered_key(delivery: &redscribe_local::s3::Delivery) -> String {
    let raw = delivery.event["Records"][0]["s3"]["object"]["key"].as_str().expect("an S3 event");
    redscribe_core::events::decode_key(raw).expect("a key S3 could send")
}

/// What a grant of `redscribe_aws::permissions` would have to be to allow `call` (a request the stand-ins recorded)
/// on the stack's bucket: its action and its scope. `None` for a call on another bucket.
pub fn needed(call: &redscribe_local::calls::Call, bucket: &str) -> Option<(String, Scope)> {
    let scope = if call.action.starts_with("redshift-data:") {
        match call.action.as_str() {
            "redshift-data:ExecuteStatement" | "redshift-data:BatchExecuteStatement" => Scope::Warehouse,
            _ => Scope::OwnStatements,
        }
    } else {
        if call.bucket.as_deref() != Some(bucket) {
            return None;
        }
        let scope = match (&call.key, &call.prefix) {
            (Some(key), _) => object_scope(key),
            (None, Some(prefix)) if call.action == "s3:ListBucketVersions" => {
                ERASURE_LISTING.iter().any(|p| prefix.starts_with(p)).then_some(Scope::ErasureListing)
            }
            (None, Some(prefix)) if prefix.starts_with(RESULTS_LISTING) => Some(Scope::ResultsListing),
            (None, Some(prefix)) if prefix.starts_with(ATTEMPTS_LISTING) => Some(Scope::AttemptsListing),
            (None, Some(prefix)) if prefix.starts_with(PARTS_LISTING) => Some(Scope::PartsListing),
            (None, Some(prefix)) if prefix.starts_with(RECORDINGS_LISTING) => Some(Scope::RecordingsListing),
            _ => None,
        };
        scope.unwrap_or_else(|| panic!("{call:?}: on no part of the bucket a grant names"))
    };
    Some((call.action.clone(), scope))
}
