//! The deployment (`template.yaml`): clean for cfn-lint, `sam validate --lint` and checkov; transformed by SAM and
//! created in moto's CloudFormation, then read back through each service's API; its policies exactly what
//! `redscribe_aws::permissions` says the code calls; its alarms those of `alarms/alarms.json`; the dashboard's
//! defaults its names; and the load function, started with exactly the environment the stack gives it (pointed at
//! the local stand-ins), loads a file the deployed notification routes to it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use redscribe_aws::permissions::{load_grants, transcribe_grants, Encryption, Scope, SignIn};
use redscribe_core::layout::Layout;
use redscribe_core::ports::{ObjectStore, Warehouse};
use redscribe_local::runtime_api::{Answer, RuntimeApi};
use redscribe_pipeline::config::FunctionConfig;
use redscribe_pipeline::{TranscribeConfig, TranscribeStage};
use redscribe_testkit::stack::{
    needed, repo_root, tool, Deployed, ATTEMPTS_LISTING, ERASURE_LISTING, OBJECT_SCOPES, PARTS_LISTING,
    RECORDINGS_LISTING, RESULTS_LISTING,
};
use redscribe_testkit::{drain, sqs_records, tone_wav, Function, Moto, StandIns};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_redscribe-load");
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:redshift-loader-AbCdEf";
const WORKGROUP_ID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn the_template_is_clean_for_cfn_lint_sam_validate_and_checkov() {
    let lint = tool("cfn-lint").arg("template.yaml").output().unwrap();
    assert!(lint.status.success(), "cfn-lint: {}", String::from_utf8_lossy(&lint.stdout));

    let validate = tool("sam").args(["validate", "--lint", "--region", "us-east-1"]).output().unwrap();
    assert!(validate.status.success(), "sam validate --lint: {}", String::from_utf8_lossy(&validate.stderr));

    let checkov = tool("checkov")
        .args(["-f", "template.yaml", "--framework", "cloudformation", "--skip-download", "-o", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&checkov.stdout).expect("checkov's JSON report");
    let failed: Vec<&Value> = report["results"]["failed_checks"].as_array().unwrap().iter().collect();
    assert!(
        failed.is_empty(),
        "checkov failed: {:?}",
        failed.iter().map(|c| format!("{} {}", c["check_id"], c["resource"])).collect::<Vec<_>>()
    );
    assert!(checkov.status.success());
    // Every skipped check is named in the template with its reason.
    let skipped = report["results"]["skipped_checks"].as_array().unwrap();
    assert!(!skipped.is_empty());
    for check in skipped {
        let reason = check["check_result"]["suppress_comment"].as_str().unwrap_or_default();
        assert!(reason.len() > 30, "{} on {} is skipped without a reason", check["check_id"], check["resource"]);
    }
    // And no skip is left over from a check that would pass anyway.
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    assert_eq!(template.matches("- id: CKV_").count(), skipped.len(), "a skip in the template that nothing needs");
    assert!(report["summary"]["passed"].as_u64().unwrap() > 30, "{}", report["summary"]);
}

/// What a statement's resource is, in terms of [`Scope`], for the stack `d`'s function `function`.
fn scope_of(d: &Deployed, function: &str, action: &str, resource: &str, condition: &Value) -> Scope {
    let bucket = d.bucket()["Name"].as_str().unwrap();
    let objects = format!("arn:aws:s3:::{bucket}/");
    if let Some(pattern) = resource.strip_prefix(&objects) {
        // Exactly one of the parts' prefixes and its wildcard, nothing narrower or wider.
        let part = OBJECT_SCOPES.iter().find(|(prefix, _)| pattern.strip_suffix('*') == Some(*prefix));
        return part.map(|(_, scope)| *scope).unwrap_or_else(|| panic!("{action} on {pattern} of the bucket"));
    }
    if resource == format!("arn:aws:s3:::{bucket}") {
        // Listing only under one prefix, named by the condition.
        let listings = [
            (RESULTS_LISTING, Scope::ResultsListing),
            (ATTEMPTS_LISTING, Scope::AttemptsListing),
            (PARTS_LISTING, Scope::PartsListing),
            (RECORDINGS_LISTING, Scope::RecordingsListing),
        ];
        for (prefix, scope) in listings {
            if condition == &json!({ "StringLike": { "s3:prefix": format!("{prefix}*") } }) {
                return scope;
            }
        }
        let erasure: Vec<String> = ERASURE_LISTING.iter().map(|p| format!("{p}*")).collect();
        if action == "s3:ListBucketVersions" && condition == &json!({ "StringLike": { "s3:prefix": erasure } }) {
            return Scope::ErasureListing;
        }
        panic!("{action} on the bucket under {condition}");
    }
    if resource == "*" {
        let owner = json!({ "StringEquals": { "redshift-data:statement-owner-iam-userid": "${aws:userid}" } });
        assert_eq!(condition, &owner, "{action} on every resource");
        return Scope::OwnStatements;
    }
    if resource == SECRET {
        return Scope::Secret;
    }
    if resource == KEY {
        return Scope::Key;
    }
    let (queue, group) = match function {
        "TranscribeFunction" => ("TranscribeQueue", format!("/aws/lambda/{}-transcribe", d.name)),
        _ => ("LoadQueue", format!("/aws/lambda/{}-load", d.name)),
    };
    if resource == d.queue_arn(queue) {
        return Scope::Queue;
    }
    // A log group's `Arn` attribute ends in `:*` in AWS; moto leaves that off.
    let group_arn = format!("arn:aws:logs:us-east-1:123456789012:log-group:{group}");
    if resource == format!("{group_arn}:*") || resource == group_arn {
        return Scope::LogGroup;
    }
    let warehouse = resource.contains(":workgroup/") || resource.ends_with(":cluster:c1");
    if action.starts_with("redshift-data:") && warehouse {
        return Scope::Warehouse;
    }
    if action.starts_with("redshift")
        && (warehouse || resource.contains(":dbname:c1/dev") || resource.contains(":dbuser:c1/loader"))
    {
        return Scope::Credentials;
    }
    panic!("{action} on {resource}: a resource no grant names");
}

/// A policy element that is one string or a list of them (`Action`, `Resource`, a condition's values), as a list.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
        other => panic!("{other}"),
    }
}

/// Every (action, scope) a role's inline policies allow.
fn granted(d: &Deployed, role: &str, function: &str) -> BTreeSet<(String, Scope)> {
    let mut out = BTreeSet::new();
    for document in d.stack["roles"][role]["Policies"].as_object().unwrap().values() {
        for statement in document["Statement"].as_array().unwrap() {
            assert_eq!(statement["Effect"], "Allow");
            let condition = statement.get("Condition").cloned().unwrap_or(Value::Null);
            for action in strings(&statement["Action"]) {
                for resource in strings(&statement["Resource"]) {
                    out.insert((action.clone(), scope_of(d, function, &action, &resource, &condition)));
                }
            }
        }
    }
    assert!(d.stack["roles"][role]["AttachedPolicies"].as_array().unwrap().is_empty(), "no managed policy");
    out
}

fn code(grants: Vec<redscribe_aws::permissions::Grant>) -> BTreeSet<(String, Scope)> {
    grants.into_iter().map(|g| (g.action.to_string(), g.scope)).collect()
}

/// A stack name, how its load function signs in, how its data is encrypted, and the parameters that say so.
type Variant = (&'static str, SignIn, Encryption, &'static [(&'static str, &'static str)]);

/// The database users the COPY role's trust lets use it (`sts:ExternalId`), none when any may.
fn copy_users(d: &Deployed) -> Vec<String> {
    let trust = &d.stack["roles"]["CopyRole"]["AssumeRolePolicyDocument"]["Statement"][0];
    match trust.get("Condition") {
        None => Vec::new(),
        Some(condition) => strings(&condition["StringEquals"]["sts:ExternalId"]),
    }
}

#[test]
fn each_role_grants_exactly_what_the_code_calls_for_every_way_of_signing_in() {
    use Encryption::{CustomerKey, Managed};
    let moto = Moto::start_program(&redscribe_testkit::stack::deploy_tools().join("moto_server"));
    let variants: [Variant; 6] = [
        ("workgroup-role", SignIn::WorkgroupRole, Managed, &[("RedshiftWorkgroup", "wg")]),
        (
            "workgroup-id",
            SignIn::WorkgroupRole,
            Managed,
            &[("RedshiftWorkgroup", "wg"), ("RedshiftWorkgroupId", WORKGROUP_ID)],
        ),
        ("workgroup-secret", SignIn::Secret, Managed, &[("RedshiftWorkgroup", "wg"), ("RedshiftSecretArn", SECRET)]),
        ("cluster-role", SignIn::ClusterRole, Managed, &[("RedshiftClusterId", "c1")]),
        ("cluster-user", SignIn::ClusterUser, Managed, &[("RedshiftClusterId", "c1"), ("RedshiftDbUser", "loader")]),
        ("encrypted", SignIn::WorkgroupRole, CustomerKey, &[("RedshiftWorkgroup", "wg"), ("KmsKeyArn", KEY)]),
    ];
    // One moto, one stack per variant.
    let mut moto = Some(moto);
    for (stack, sign_in, encryption, parameters) in variants {
        let d = Deployed::deploy_into(moto.take().unwrap(), stack, parameters);
        assert_eq!(granted(&d, "LoadRole", "LoadFunction"), code(load_grants(sign_in, encryption)), "{sign_in:?}");
        assert_eq!(granted(&d, "TranscribeRole", "TranscribeFunction"), code(transcribe_grants(encryption)));
        // Only the load function's database user may have COPY assume the COPY role, where it is known.
        let user = |at: &str, name: &str| format!("arn:aws:redshift:us-east-1:123456789012:dbuser:{at}/{name}");
        let role_user = format!("IAMR:{stack}-load-us-east-1");
        let expected = match (stack, sign_in) {
            ("workgroup-id", _) => {
                vec![user("wg", &role_user), user(&format!("serverless-123456789012-{WORKGROUP_ID}"), &role_user)]
            }
            (_, SignIn::ClusterRole) => vec![user("c1", &role_user)],
            (_, SignIn::ClusterUser) => vec![user("c1", "loader")],
            // A secret's user, and a workgroup's ARN without its id, are not known to the template.
            _ => Vec::new(),
        };
        assert_eq!(copy_users(&d), expected, "{stack}");
        assert_eq!(d.stack["roles"]["LoadRole"]["RoleName"], format!("{stack}-load-us-east-1"));
        if encryption == CustomerKey {
            // The bucket, the four queues and the topic under the key; COPY may decrypt with it.
            let sse = &d.bucket()["Encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"];
            assert_eq!((sse["SSEAlgorithm"].as_str(), sse["KMSMasterKeyID"].as_str()), (Some("aws:kms"), Some(KEY)));
            for queue in ["TranscribeQueue", "TranscribeDeadLetterQueue", "LoadQueue", "LoadDeadLetterQueue"] {
                assert_eq!(d.stack["queues"][queue]["KmsMasterKeyId"], KEY, "{queue}");
            }
            assert_eq!(d.stack["topics"][0]["Attributes"]["KmsMasterKeyId"], KEY);
            let copy = &d.stack["roles"]["CopyRole"]["Policies"]["copy"]["Statement"];
            let decrypt = copy.as_array().unwrap().iter().find(|s| s["Action"] == "kms:Decrypt").expect("kms:Decrypt");
            assert_eq!(decrypt["Resource"], KEY);
        }
        // The function reaches the warehouse the way the parameters say.
        let env: BTreeMap<String, String> = d.function_env("LoadFunction", &[]).into_iter().collect();
        let config = FunctionConfig::from_lookup(|k| env.get(k).cloned()).expect("the deployed environment");
        let warehouse = config.require_warehouse().unwrap();
        match sign_in {
            SignIn::WorkgroupRole | SignIn::Secret => assert_eq!(warehouse.workgroup.as_deref(), Some("wg")),
            SignIn::ClusterRole | SignIn::ClusterUser => assert_eq!(warehouse.cluster.as_deref(), Some("c1")),
        }
        assert_eq!(warehouse.secret_arn.is_some(), sign_in == SignIn::Secret);
        assert_eq!(warehouse.db_user.as_deref(), (sign_in == SignIn::ClusterUser).then_some("loader"));
        moto = Some(d.moto);
    }
}

/// Numbers compared as numbers (moto answers 0.0 where the file says 0), objects by the keys `expected` has.
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Object(a), Value::Object(b)) => a.iter().all(|(k, v)| b.get(k).is_some_and(|w| matches(v, w))),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(x, y)),
        (a, b) => a == b,
    }
}

#[test]
fn the_stack_reads_back_as_the_template_says_and_agrees_with_alarms_and_dashboard() {
    let pattern = r"in/(?P<queue>[^/]+)/(?P<call_id>[0-9a-f-]{36})\.wav";
    let d = Deployed::deploy(&[
        ("RedshiftWorkgroup", "wg"),
        ("AlarmEmail", "ops@example.com"),
        ("KeyPattern", pattern),
        ("ChannelRoles", "agent,customer"),
    ]);
    let s = &d.stack;
    let bucket = d.bucket()["Name"].as_str().unwrap().to_string();
    assert_eq!(bucket, "redscribe-123456789012-us-east-1");

    // Functions: runtime, handler, layers, memory, timeout, reserved concurrency, environment.
    let transcribe = d.function("TranscribeFunction");
    let load = d.function("LoadFunction");
    for f in [transcribe, load] {
        assert_eq!(f["Runtime"], "provided.al2023");
        assert_eq!(f["Handler"], "bootstrap");
        assert_eq!(f["Architectures"], json!(["x86_64"]));
    }
    assert_eq!(transcribe["FunctionName"], "redscribe-transcribe");
    assert_eq!(load["FunctionName"], "redscribe-load");
    let layers = transcribe["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert!(layers[0]["Arn"].as_str().unwrap().contains("WhisperLayer"), "{layers:?}");
    assert_eq!(load["Layers"], json!([]));
    assert_eq!(transcribe["MemorySize"], 1769);
    assert_eq!(transcribe["Timeout"], 900);
    assert_eq!(transcribe["ReservedConcurrentExecutions"], 10);
    assert_eq!(load["Timeout"], 300);
    assert_eq!(load["ReservedConcurrentExecutions"], 1, "the table's one writer");

    // What the functions' own configuration makes of their environment agrees with the stack around them.
    let config_of = |logical: &str| {
        let env: BTreeMap<String, String> = d.function_env(logical, &[]).into_iter().collect();
        FunctionConfig::from_lookup(|k| env.get(k).cloned()).expect("the deployed environment")
    };
    let t = config_of("TranscribeFunction");
    assert_eq!(t.bucket.as_deref(), Some(bucket.as_str()));
    assert_eq!(t.function_timeout, Some(Duration::from_secs(900)), "REDSCRIBE_FUNCTION_TIMEOUT_S is the timeout");
    // Long recordings in parts of ten minutes, whose requests the bucket routes back (below).
    assert_eq!(t.part_s, Some(600.0));
    assert_eq!(t.limits.max_duration_s, 4.0 * 3600.0, "MaxAudioHours, converted by the function");
    // Attributes from keys (KeyPattern) and the call's sides (ChannelRoles), as the function reads them.
    assert_eq!(t.key_pattern.as_ref().map(|p| p.as_str()), Some(pattern));
    assert_eq!((t.channel_roles.role(0), t.channel_roles.role(1)), (Some("agent"), Some("customer")));
    let recordings = &s["queues"]["TranscribeQueue"];
    let redrive: Value = serde_json::from_str(recordings["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], d.queue_arn("TranscribeDeadLetterQueue"));
    let max_receive = redrive["maxReceiveCount"].as_u64().unwrap();
    assert!(u64::from(t.max_receives) < max_receive, "quarantined before the DLQ: {} < {max_receive}", t.max_receives);
    let visibility: u64 = recordings["VisibilityTimeout"].as_str().unwrap().parse().unwrap();
    assert!(visibility >= 6 * 900, "visibility {visibility} s");
    // The spool holds the largest recording let in (moto keeps no ephemeral storage: read from the template).
    let ephemeral_mb =
        s["transformed"]["Resources"]["TranscribeFunction"]["Properties"]["EphemeralStorage"]["Size"].as_u64().unwrap();
    assert!(t.limits.max_bytes <= ephemeral_mb * 1024 * 1024, "{} bytes in {ephemeral_mb} MB", t.limits.max_bytes);

    let l = config_of("LoadFunction");
    let warehouse = l.require_warehouse().unwrap();
    assert_eq!((warehouse.workgroup.as_deref(), warehouse.database.as_str()), (Some("wg"), "dev"));
    assert_eq!(warehouse.copy_role.as_deref(), s["roles"]["CopyRole"]["Arn"].as_str());
    assert_eq!(l.require_bucket().unwrap(), bucket);
    assert!(l.load.margin < Duration::from_secs(300) / 2, "a batch can start");
    let results = &s["queues"]["LoadQueue"];
    let redrive: Value = serde_json::from_str(results["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], d.queue_arn("LoadDeadLetterQueue"));
    assert_eq!(redrive["maxReceiveCount"], 10);

    // Event sources: each queue to its function, answers per message; the load queue batched by a window.
    let mappings = s["event_source_mappings"].as_array().unwrap();
    let mapping = |queue: &str| mappings.iter().find(|m| m["EventSourceArn"] == d.queue_arn(queue)).unwrap();
    let m = mapping("TranscribeQueue");
    assert!(m["FunctionArn"].as_str().unwrap().ends_with(":function:redscribe-transcribe"));
    assert_eq!(m["FunctionResponseTypes"], json!(["ReportBatchItemFailures"]));
    let m = mapping("LoadQueue");
    assert!(m["FunctionArn"].as_str().unwrap().ends_with(":function:redscribe-load"));
    assert_eq!(m["FunctionResponseTypes"], json!(["ReportBatchItemFailures"]));
    assert_eq!(m["MaximumBatchingWindowInSeconds"], 60);
    assert_eq!(m["BatchSize"].as_u64().unwrap() as usize, l.load.batch.files, "one batch, one COPY");

    // The sweep's schedule.
    let rules = s["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["ScheduleExpression"], "rate(15 minutes)");
    assert!(rules[0]["Targets"][0]["Arn"].as_str().unwrap().ends_with(":function:redscribe-load"));
    assert_eq!(rules[0]["Targets"][0]["Input"], r#"{"sweep": true}"#);

    // The alarm topic and its subscription.
    let topic = &s["topics"][0];
    assert!(topic["TopicArn"].as_str().unwrap().ends_with(":redscribe-alarms"));
    assert_eq!(topic["Subscriptions"][0]["Protocol"], "email");
    assert_eq!(topic["Subscriptions"][0]["Endpoint"], "ops@example.com");

    // Roles: each trusted by its service only.
    for (role, service) in
        [("TranscribeRole", json!("lambda.amazonaws.com")), ("LoadRole", json!("lambda.amazonaws.com"))]
    {
        let trust = &s["roles"][role]["AssumeRolePolicyDocument"]["Statement"];
        assert_eq!(trust.as_array().unwrap().len(), 1);
        assert_eq!(trust[0]["Principal"]["Service"], service);
    }
    let copy = &s["roles"]["CopyRole"];
    let copy_trust = &copy["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"];
    assert_eq!(copy_trust, &json!(["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]));
    let copy_statements = &copy["Policies"]["copy"]["Statement"];
    assert_eq!(
        copy_statements[0]["Resource"],
        json!([format!("arn:aws:s3:::{bucket}/processed/*"), format!("arn:aws:s3:::{bucket}/manifests/*")]),
        "COPY reads the results and manifests prefixes only"
    );

    // The bucket: versioned, encrypted, private, TLS only, lifecycle for what the pipeline writes.
    let b = d.bucket();
    assert_eq!(b["Versioning"], "Enabled");
    assert_eq!(b["Encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256");
    for flag in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(b["PublicAccessBlock"][flag], true, "{flag}");
    }
    let expiring: BTreeSet<&str> = b["Lifecycle"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["Expiration"]["Days"].is_number())
        .map(|r| r["Filter"]["Prefix"].as_str().unwrap())
        .collect();
    assert_eq!(expiring, BTreeSet::from(["manifests/", "rejected/"]));
    let deny = &b["Policy"]["Statement"][0];
    assert_eq!(
        (deny["Effect"].as_str(), &deny["Condition"]["Bool"]["aws:SecureTransport"]),
        (Some("Deny"), &json!("false"))
    );
    // Notifications: recordings to the transcribe queue, result files to the load queue, nothing of the
    // pipeline's own output back to transcription.
    let recordings_queue = d.queue_arn("TranscribeQueue");
    let results_queue = d.queue_arn("LoadQueue");
    assert_eq!(d.route("in/calls/2026/a b.wav").as_deref(), Some(recordings_queue.as_str()));
    // A long recording's part requests are work for the transcribe function too; its heard parts are not.
    let layout = Layout::default();
    let request = layout.part_request_key("0a1b", "v1", 3);
    assert_eq!(d.route(&request).as_deref(), Some(recordings_queue.as_str()), "{request}");
    assert_eq!(d.route(&layout.part_heard_key("0a1b", "v1", 3)), None);
    // Recordings deleted go there too: each is erased.
    let removals = d.bucket()["Notification"]["QueueConfigurations"].as_array().unwrap().iter().any(|c| {
        c["Events"].to_string().contains("s3:ObjectRemoved:*")
            && c["QueueArn"] == recordings_queue.as_str()
            && c["Filter"]["Key"]["FilterRules"].to_string().contains("\"in/\"")
    });
    assert!(removals, "{}", d.bucket()["Notification"]);
    // A reprocess's requests (redscribe reprocess --aws) go to the transcribe queue too.
    let reprocess = layout.reprocess_request_key(1_796_116_500_000, "0a1b", "v1");
    assert_eq!(d.route(&reprocess).as_deref(), Some(recordings_queue.as_str()), "{reprocess}");
    let result_file = "processed/transcription_results/dt=2026-12-02/x-1.parquet";
    assert_eq!(d.route(result_file).as_deref(), Some(results_queue.as_str()));
    for key in ["processed/transcription_segments/dt=2026-12-02/x-1.parquet", "rejected/too_long/x.json", "manifests/m"]
    {
        assert_eq!(d.route(key), None, "{key}");
    }
    assert!(Layout::default().is_output(&bucket, result_file));

    // Log groups with retention.
    let groups: BTreeMap<&str, &Value> = s["log_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["logGroupName"].as_str().unwrap(), &g["retentionInDays"]))
        .collect();
    assert_eq!(groups["/aws/lambda/redscribe-transcribe"], 30);
    assert_eq!(groups["/aws/lambda/redscribe-load"], 30);

    // The alarms are alarms/alarms.json, filled in with the stack's names.
    let names = [
        ("SNS_TOPIC_ARN", topic["TopicArn"].as_str().unwrap()),
        ("NAMESPACE", "Redscribe"),
        ("TRANSCRIBE_FUNCTION", "redscribe-transcribe"),
        ("LOAD_FUNCTION", "redscribe-load"),
        (
            "DLQ_NAME",
            s["queues"]["TranscribeDeadLetterQueue"]["QueueArn"].as_str().unwrap().rsplit(':').next().unwrap(),
        ),
        (
            "RESULTS_DLQ_NAME",
            s["queues"]["LoadDeadLetterQueue"]["QueueArn"].as_str().unwrap().rsplit(':').next().unwrap(),
        ),
        ("MODEL", "whisper-tiny.en"),
    ];
    let values: BTreeMap<String, String> = names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let specs = redscribe_core::alarms::render(redscribe_core::alarms::SHIPPED, &values).unwrap();
    let deployed = s["alarms"].as_array().unwrap();
    assert_eq!(deployed.len(), specs.len(), "one alarm in the stack for each in alarms.json");
    for spec in specs {
        let expected = serde_json::to_value(&spec).unwrap();
        let actual = deployed.iter().find(|a| a["AlarmName"] == expected["AlarmName"]).unwrap_or_else(|| {
            panic!("{} is in alarms.json, not in the stack", expected["AlarmName"]);
        });
        assert!(matches(&expected, actual), "{}:\n alarms.json {expected}\n stack {actual}", expected["AlarmName"]);
    }

    // The dashboard's defaults are the stack's names.
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("dashboards/redscribe-pipeline.json")).unwrap())
            .unwrap();
    let variable = |name: &str| {
        let list = dashboard["templating"]["list"].as_array().unwrap();
        list.iter().find(|v| v["name"] == name).unwrap()["current"]["value"].as_str().unwrap().to_string()
    };
    assert_eq!(variable("namespace"), "Redscribe");
    assert_eq!(variable("function"), "redscribe-transcribe");
    assert_eq!(variable("load_function"), "redscribe-load");
    assert_eq!(variable("queue"), s["stack"]["outputs"]["RecordingsQueue"].as_str().unwrap());
    assert_eq!(variable("dlq"), s["stack"]["outputs"]["RecordingsDeadLetterQueue"].as_str().unwrap());

    // What moto's CloudFormation skipped was applied through the APIs, and says so.
    let applied: Vec<&str> = s["applied_through_api"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for part in ["InputBucket.NotificationConfiguration", "LambdaErrorsAlarm", "AlarmSubscription"] {
        assert!(applied.contains(&part), "{part} in {applied:?}");
    }
    assert!(s["stack"]["resource_count"].as_u64().unwrap() >= 30, "{}", s["stack"]["resource_count"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_load_function_answers_with_the_environment_the_stack_gives_it() {
    let d = tokio::task::spawn_blocking(|| Deployed::deploy(&[("RedshiftWorkgroup", "wg")])).await.unwrap();
    let mut stand_ins = StandIns::start().await;
    let bucket = d.create_bucket_in(&stand_ins);
    let store = stand_ins.store().await;

    // A recording under the input prefix, processed as the transcribe function would (metadata only here).
    store.put(&bucket, "in/calls/a.wav", tone_wav(16_000, 1.0), "audio/wav").await.unwrap();
    let stage = TranscribeStage::new(store.clone(), TranscribeConfig::default());
    for delivery in drain(&mut stand_ins.events) {
        for object in redscribe_core::events::normalize(&delivery.event, &Layout::default()).unwrap().objects {
            stage.process(&object).await.unwrap();
        }
    }
    // What the deployed notification sends to the load queue: the result file, not its segments.
    let deliveries = d.routed_to("LoadQueue", &drain(&mut stand_ins.events));
    assert_eq!(deliveries.len(), 1);

    // Exactly the deployed environment; on top, what Lambda provides (region, credentials) and the stand-ins'
    // endpoints in place of AWS's.
    let local = stand_ins.function_env().into_iter().filter(|(k, _)| *k != "S3_BUCKET").collect::<Vec<_>>();
    let env = d.function_env("LoadFunction", &local);
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    // From here on only the function calls the stand-ins: what they record is what its role must allow.
    let (s3_calls, data_api_calls) = (stand_ins.s3.calls(), stand_ins.data_api.as_ref().unwrap().calls());
    s3_calls.start();
    data_api_calls.start();
    let function = Function::start(BINARY, "redscribe-load", &api.address(), &env);
    let batch = api.invoke(json!({ "Records": sqs_records(&deliveries) }));
    let answer = api.outcome(&batch, Duration::from_secs(120)).await.expect("an answer");
    assert_eq!(answer, Answer::Response(json!({ "batchItemFailures": [] })), "{:?}", function.stderr);
    let swept = api.invoke(json!({ "sweep": true }));
    api.outcome(&swept, Duration::from_secs(60)).await.unwrap();
    let mut calls: Vec<_> = s3_calls.take().into_iter().chain(data_api_calls.take()).collect();
    let warehouse = stand_ins.warehouse().await;
    let rows = warehouse.query("SELECT object_key, status FROM transcription_results").await.unwrap();
    assert_eq!(rows, [[Some("in/calls/a.wav".to_string()), Some("metadata_only".to_string())]]);

    // The recording deleted: its erasure, written as the transcribe function writes it, loads through the
    // function, which deletes the recording's objects first (every version: ListObjectVersions, DeleteObject).
    store.delete(&bucket, "in/calls/a.wav").await.unwrap();
    for delivery in drain(&mut stand_ins.events) {
        for object in redscribe_core::events::normalize(&delivery.event, &Layout::default()).unwrap().objects {
            stage.process(&object).await.unwrap();
        }
    }
    let erasures = d.routed_to("LoadQueue", &drain(&mut stand_ins.events));
    assert_eq!(erasures.len(), 1);
    s3_calls.start();
    data_api_calls.start();
    let erased = api.invoke(json!({ "Records": sqs_records(&erasures) }));
    let answer = api.outcome(&erased, Duration::from_secs(120)).await.expect("an answer");
    assert_eq!(answer, Answer::Response(json!({ "batchItemFailures": [] })), "{:?}", function.stderr);
    calls.extend(s3_calls.take().into_iter().chain(data_api_calls.take()));
    let rows = warehouse.query("SELECT object_key, status FROM transcription_results").await.unwrap();
    assert_eq!(rows, [[Some("in/calls/a.wav".to_string()), Some("erased".to_string())]]);
    let left = store.list(&bucket, "processed/").await.unwrap();
    assert_eq!(left.len(), 1, "the erasure's own file only: {left:?}");

    let allowed = code(load_grants(SignIn::WorkgroupRole, Encryption::Managed));
    let made: BTreeSet<(String, Scope)> = calls.iter().filter_map(|c| needed(c, &bucket)).collect();
    for call in &made {
        assert!(allowed.contains(call), "the function called {call:?}, which its role does not allow");
    }
    // It read, listed, wrote a manifest, ran the load and erased: the list is not merely a superset.
    for part in [Scope::Processed, Scope::ResultsListing, Scope::Manifests, Scope::Warehouse, Scope::OwnStatements] {
        assert!(made.iter().any(|(_, s)| *s == part), "{part:?} in {made:?}");
    }
    assert!(made.contains(&("s3:ListBucketVersions".to_string(), Scope::ErasureListing)), "{made:?}");
    assert!(made.contains(&("s3:DeleteObjectVersion".to_string(), Scope::Processed)), "{made:?}");
    // The schedule's event, as the deployed rule sends it.
    let input: Value = serde_json::from_str(d.stack["rules"][0]["Targets"][0]["Input"].as_str().unwrap()).unwrap();
    let swept = api.invoke(input);
    let answer = api.outcome(&swept, Duration::from_secs(60)).await.unwrap();
    let Answer::Response(answer) = answer else { panic!("{answer:?}") };
    assert_eq!((answer["loaded"].as_u64(), answer["already_settled"].as_u64()), (Some(0), Some(1)), "{answer}");
    drop(function);
    stand_ins.stop().await;
}

#[test]
fn sam_build_lays_out_the_packaged_zips_and_sam_deploy_takes_either_form_of_the_transcribe_function() {
    // What scripts/package.sh leaves in dist/lambda/, with a marker in place of each binary and the layer.
    let dist = tempfile::tempdir().unwrap();
    let arch = std::env::consts::ARCH;
    for (zip, file) in [
        (format!("redscribe-transcribe-{arch}.zip"), "bootstrap"),
        (format!("redscribe-load-{arch}.zip"), "bootstrap"),
        (format!("redscribe-whisper-layer-{arch}.zip"), "lib/libctranslate2.so.4"),
    ] {
        let content = tempfile::tempdir().unwrap();
        let path = content.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &zip).unwrap();
        let zipped = std::process::Command::new("zip")
            .current_dir(content.path())
            .args(["-q", "-r"])
            .arg(dist.path().join(&zip))
            .arg(file)
            .status()
            .expect("zip (scripts/setup.sh)");
        assert!(zipped.success());
    }
    let build = tempfile::tempdir().unwrap();
    let output = tool("sam")
        .args(["build", "--template-file", "template.yaml", "--build-dir"])
        .arg(build.path())
        .env("REDSCRIBE_DIST", dist.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "sam build: {}", String::from_utf8_lossy(&output.stdout));
    for (dir, file, from) in [
        ("TranscribeFunction", "bootstrap", "transcribe"),
        ("LoadFunction", "bootstrap", "load"),
        ("WhisperLayer", "lib/libctranslate2.so.4", "whisper-layer"),
    ] {
        let laid_out = std::fs::read_to_string(build.path().join(dir).join(file)).unwrap();
        assert_eq!(laid_out, format!("redscribe-{from}-{arch}.zip"));
    }
    assert!(!build.path().join("TranscribeImageFunction").exists(), "the image form has nothing to build");

    // `sam deploy` packages the built template and goes on to the change set for the layer form and for the image
    // form alike, asking neither for an image repository (moto's CloudFormation then fails to read the template
    // from its S3 at CreateChangeSet; that far is SAM CLI's part).
    let moto = Moto::start_program(&redscribe_testkit::stack::deploy_tools().join("moto_server"));
    let create = "import boto3; boto3.client('s3', region_name='us-east-1').create_bucket(Bucket='artifacts')";
    let made = tool("python").args(["-c", create]).envs(moto.env()).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // The parameters as scripts/deploy.sh hands them over: what the guided run saved, then its own.
    let saved = tempfile::tempdir().unwrap();
    let config = saved.path().join("samconfig.toml");
    let toml = r#"version = 0.1
[default.deploy.parameters]
parameter_overrides = "RedshiftWorkgroup=\"wg\" AlarmEmail=\"ops@example.com\" WhisperModel=\"tiny.en\""
"#;
    std::fs::write(&config, toml).unwrap();
    let image = "TranscribeImageUri=123456789012.dkr.ecr.us-east-1.amazonaws.com/redscribe-transcribe:base";
    let forms = [("layer", ["WhisperModel=tiny.en", "TranscribeImageUri="]), ("image", ["WhisperModel=base", image])];
    for (stack, ours) in forms {
        let merged = tool("python")
            .arg("scripts/lambda/overrides.py")
            .arg("--config")
            .arg(&config)
            .arg("--")
            .args(ours)
            .output()
            .unwrap();
        assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
        let overrides: Vec<String> = String::from_utf8(merged.stdout).unwrap().lines().map(str::to_string).collect();
        let output = tool("sam")
            .args(["deploy", "--template-file"])
            .arg(build.path().join("template.yaml"))
            .args(["--stack-name", stack, "--s3-bucket", "artifacts", "--region", "us-east-1"])
            .args([
                "--capabilities",
                "CAPABILITY_IAM",
                "CAPABILITY_NAMED_IAM",
                "--no-execute-changeset",
                "--no-progressbar",
            ])
            .arg("--parameter-overrides")
            .args(&overrides)
            .envs(moto.env())
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(
            output.status.success() || said.contains("when calling the CreateChangeSet operation"),
            "sam deploy ({stack}): {said}"
        );
        assert!(said.contains("Initiating deployment"), "{said}");
        // Nothing saved is lost, and what was packaged wins.
        let (model, uri) = (ours[0].split_once('=').unwrap().1, ours[1].split_once('=').unwrap().1);
        let expected = format!(
            r#"{{"RedshiftWorkgroup": "wg", "AlarmEmail": "ops@example.com", "WhisperModel": "{model}", "TranscribeImageUri": "{uri}"}}"#
        );
        assert!(said.contains(&expected), "{expected} in {said}");
    }
    // Without the packaged zips the build says what to run.
    let empty = tempfile::tempdir().unwrap();
    let output = tool("sam")
        .args(["build", "--template-file", "template.yaml", "--build-dir"])
        .arg(build.path().join("again"))
        .env("REDSCRIBE_DIST", empty.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(said.contains("run scripts/package.sh"), "{said}");
}

/// Result files come only from redscribe: the bucket policy denies writes under the pipeline's prefixes to every
/// principal but the stack's two function roles, and the operator role when one is given (for backfill or replay
/// with --aws).
/// Retention: recordings and results expire by lifecycle rules when the parameters say so, and the load function
/// is told the result retention for the rows (lifecycle expiry raises no event for them to follow).
#[test]
fn retention_parameters_become_lifecycle_rules_and_the_load_functions_purge() {
    let d = Deployed::deploy(&[
        ("RedshiftWorkgroup", "wg"),
        ("RecordingRetentionDays", "365"),
        ("ResultRetentionDays", "730"),
    ]);
    let expiring: BTreeMap<String, u64> = d.bucket()["Lifecycle"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["Expiration"]["Days"].is_number())
        .map(|r| (r["Filter"]["Prefix"].as_str().unwrap().to_string(), r["Expiration"]["Days"].as_u64().unwrap()))
        .collect();
    let expected = [("in/", 365), ("processed/", 730), ("manifests/", 30), ("rejected/", 90)];
    assert_eq!(expiring, expected.into_iter().map(|(p, d)| (p.to_string(), d)).collect::<BTreeMap<_, _>>());
    // The bucket is versioned: what each rule expires goes for good a day later, not with old-versions' 30 days.
    for rule in d.bucket()["Lifecycle"].as_array().unwrap().iter().filter(|r| r["Expiration"]["Days"].is_number()) {
        assert_eq!(rule["NoncurrentVersionExpiration"]["NoncurrentDays"], 1, "{rule}");
    }
    let env: BTreeMap<String, String> = d.function_env("LoadFunction", &[]).into_iter().collect();
    let config = FunctionConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    assert_eq!(config.load.retention_days, Some(730));
}

#[test]
fn only_the_pipelines_roles_may_write_under_its_prefixes() {
    let operator = "arn:aws:iam::123456789012:role/redscribe-operator";
    for with_operator in [false, true] {
        let mut parameters = vec![("RedshiftWorkgroup", "wg")];
        if with_operator {
            parameters.push(("OperatorRoleArn", operator));
        }
        let d = Deployed::deploy(&parameters);
        let bucket = d.bucket()["Name"].as_str().unwrap().to_string();
        let statements = d.bucket()["Policy"]["Statement"].as_array().unwrap().clone();
        let deny = statements
            .iter()
            .find(|s| s["Sid"] == "OnlyThePipelineWritesItsOutputs")
            .unwrap_or_else(|| panic!("no such statement: {statements:?}"));
        assert_eq!((deny["Effect"].as_str(), deny["Principal"].as_str()), (Some("Deny"), Some("*")));
        assert_eq!(deny["Action"], "s3:PutObject");
        let mut resources = strings(&deny["Resource"]);
        resources.sort();
        let expected: Vec<String> =
            ["manifests", "processed", "rejected"].iter().map(|p| format!("arn:aws:s3:::{bucket}/{p}/*")).collect();
        assert_eq!(resources, expected);
        let allowed: BTreeSet<String> =
            strings(&deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]).into_iter().collect();
        let mut roles: BTreeSet<String> = ["TranscribeRole", "LoadRole"]
            .iter()
            .map(|r| d.stack["roles"][*r]["Arn"].as_str().unwrap().to_string())
            .collect();
        if with_operator {
            roles.insert(operator.to_string());
        }
        assert_eq!(allowed, roles, "with the operator role: {with_operator}");
    }
}

/// With an existing Serverless workgroup, its id (a parameter) narrows the Data API and credential grants to it;
/// without one they name every workgroup of the account and region (a name does not tell the ARN).
#[test]
fn a_workgroup_id_narrows_the_warehouse_grants_to_that_workgroup() {
    let id = "0f3c4a7e-12ab-4cde-8f90-1234567890ab";
    for given in [false, true] {
        let mut parameters = vec![("RedshiftWorkgroup", "wg")];
        if given {
            parameters.push(("RedshiftWorkgroupId", id));
        }
        let d = Deployed::deploy(&parameters);
        let statements = d.stack["roles"]["LoadRole"]["Policies"]["code"]["Statement"].as_array().unwrap().clone();
        let resource = |sid: &str| {
            let s = statements.iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no {sid}: {statements:?}"));
            s["Resource"].as_str().unwrap().to_string()
        };
        let expected =
            format!("arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/{}", if given { id } else { "*" });
        assert_eq!(resource("SubmitStatements"), expected);
        assert_eq!(resource("WorkgroupCredentials"), expected);
    }
}
