//! The SAM template (`template.yaml`) deployed into moto's CloudFormation on loopback and read back through each
//! service's API (`deploy/emulator.py`), with the deployment tools `scripts/setup.sh` installs: what the stack tests
//! of both functions share.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::Moto;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

/// The virtual environment with SAM CLI, cfn-lint, checkov and moto's CloudFormation (scripts/setup.sh).
pub fn deploy_tools() -> PathBuf {
    let cache = std::env::var_os("REDSCRIBE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/redscribe"));
    let tools = cache.join("deploy-tools/bin");
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

    /// A queue's ARN by its logical id.
    pub fn queue_arn(&self, logical_id: &str) -> String {
        self.stack["queues"][logical_id]["QueueArn"].as_str().expect("a queue").to_string()
    }
}
