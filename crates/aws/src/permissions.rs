//! The AWS operations each Lambda function calls, as IAM actions, with what each is called on: the one list a
//! deployment's policies are made from. `template.yaml` grants exactly these, and a test holds the two equal
//! (`lambdas/load/tests/stack.rs`): an action missing there fails on the first call in AWS, an extra one is a
//! privilege nothing uses.
//!
//! Each entry names the adapter call that needs it; a new SDK call in [`crate::s3`] or [`crate::redshift`] belongs
//! here as well, or the deployed function is refused it.

/// What an action is granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Objects under the input prefix (the recordings the bucket's notification announces).
    Recordings,
    /// Objects under `processed/` (results, segments, words, attributes, subtitles and silenced copies of
    /// recordings).
    Processed,
    /// Objects under `manifests/` (COPY manifests and audit rows).
    Manifests,
    /// Objects under `rejected/` (quarantine records).
    Rejected,
    /// Objects under `manifests/attempts/` (the transcribe function's attempt markers).
    Attempts,
    /// Objects under `manifests/parts/` (a long recording's part requests and heard parts).
    Parts,
    /// Objects under `manifests/reprocess/` (requests to hear a recording again, written by `redscribe reprocess`).
    Reprocess,
    /// The bucket itself, listed under `manifests/parts/` only.
    PartsListing,
    /// The bucket itself, listed under `processed/transcription_results/` only.
    ResultsListing,
    /// The bucket itself, listed under `manifests/attempts/` only.
    AttemptsListing,
    /// The bucket itself, listed under the input prefix only (one recording's key at a time).
    RecordingsListing,
    /// The bucket's object versions, listed under the prefixes an erased recording's objects are in only
    /// (`processed/`, `rejected/`, `manifests/parts/`, `manifests/attempts/`).
    ErasureListing,
    /// The Redshift workgroup or cluster statements are submitted to.
    Warehouse,
    /// The statements this role submitted (the Data API scopes them by owner, not by ARN).
    OwnStatements,
    /// Temporary database credentials for the role or a database user (IAM authentication).
    Credentials,
    /// The one Secrets Manager secret the Data API signs in with.
    Secret,
    /// The function's own log group (Lambda writes its output there).
    LogGroup,
    /// The function's own SQS queue (Lambda's event source mapping polls it).
    Queue,
    /// The stack's customer-managed KMS key (`KmsKeyArn`), when one encrypts the bucket and the queues.
    Key,
}

/// One IAM action and what it is granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Grant {
    pub action: &'static str,
    pub scope: Scope,
    /// The call that needs it.
    pub why: &'static str,
}

const fn grant(action: &'static str, scope: Scope, why: &'static str) -> Grant {
    Grant { action, scope, why }
}

/// What the transcribe function's code calls.
pub const TRANSCRIBE: &[Grant] = &[
    grant("s3:GetObject", Scope::Recordings, "S3Objects::get_into (GetObject)"),
    // GetObject with the event's versionId (a versioned bucket's events carry one) is authorised as this action.
    grant("s3:GetObjectVersion", Scope::Recordings, "S3Objects::get_into (GetObject with versionId)"),
    // A recording's tags become its attributes; with the event's versionId the call is authorised as the second.
    grant("s3:GetObjectTagging", Scope::Recordings, "S3Objects::tags (GetObjectTagging)"),
    grant("s3:GetObjectVersionTagging", Scope::Recordings, "S3Objects::tags (GetObjectTagging with versionId)"),
    grant(
        "s3:PutObject",
        Scope::Processed,
        "S3Objects::put_with: result, detail and subtitle files; S3Objects::put_file: a recording's silenced copy",
    ),
    grant("s3:PutObject", Scope::Rejected, "S3Objects::put_with: quarantine records"),
    grant("s3:PutObject", Scope::Attempts, "S3Objects::put: a recording's attempt marker"),
    grant("s3:GetObject", Scope::Attempts, "S3Objects::get: a recording's attempt marker, once listed"),
    // Listed before it is read: without s3:ListBucket, S3 answers a GET of a missing key 403, not 404.
    grant("s3:ListBucket", Scope::AttemptsListing, "S3Objects::list: whether a recording has an attempt marker"),
    grant("s3:PutObject", Scope::Parts, "S3Objects::put: a long recording's part requests, a part heard"),
    grant("s3:GetObject", Scope::Parts, "S3Objects::get: a part's request, the parts heard when joining"),
    grant("s3:ListBucket", Scope::PartsListing, "S3Objects::find/list: whether a part is heard, and every part"),
    grant("s3:GetObject", Scope::Reprocess, "S3Objects::get: a reprocess request (redscribe reprocess --aws)"),
];

/// What the load function's code calls. The credential grants are alternatives: which one a deployment needs
/// follows from how it signs in ([`credentials_action`]).
pub const LOAD: &[Grant] = &[
    grant("s3:GetObject", Scope::Processed, "S3Objects::get: result files read back before a batch"),
    grant("s3:ListBucket", Scope::ResultsListing, "S3Objects::list: the scheduled sweep (ListObjectsV2)"),
    // The loader checks a result file's recording still holds the bytes it answers, by a listing of its key:
    // the load function can tell which bytes a recording holds without being able to read them.
    grant("s3:ListBucket", Scope::RecordingsListing, "S3Objects::find: pending::standing before a load"),
    grant("s3:PutObject", Scope::Manifests, "S3Objects::put: the COPY manifest and the audit rows"),
    grant("s3:PutObject", Scope::Rejected, "S3Objects::put_with: quarantine records"),
    // An erasure deletes every version of its recording's objects (crates/pipeline/src/erasure.rs): listed by
    // ListObjectVersions, each removed by DeleteObject with its versionId, which S3 authorises as the second action.
    grant("s3:ListBucketVersions", Scope::ErasureListing, "S3Objects::delete_versions (ListObjectVersions)"),
    grant("s3:DeleteObjectVersion", Scope::Processed, "S3Objects::delete_versions: an erased recording's outputs"),
    grant("s3:DeleteObjectVersion", Scope::Rejected, "S3Objects::delete_versions: its quarantine records"),
    grant("s3:DeleteObjectVersion", Scope::Parts, "S3Objects::delete_versions: its parts"),
    grant("s3:DeleteObjectVersion", Scope::Attempts, "S3Objects::delete_versions: its attempt marker"),
    grant("redshift-data:ExecuteStatement", Scope::Warehouse, "DataApi::query: migrations' checks, load_audit"),
    grant("redshift-data:BatchExecuteStatement", Scope::Warehouse, "DataApi::run_batch_until: the load transaction"),
    grant("redshift-data:DescribeStatement", Scope::OwnStatements, "DataApi::wait"),
    grant("redshift-data:GetStatementResult", Scope::OwnStatements, "DataApi::query: result pages"),
    grant("redshift-data:CancelStatement", Scope::OwnStatements, "DataApi::cancel_and_confirm at the deadline"),
];

/// What each function needs of a customer-managed KMS key that encrypts the bucket (SSE-KMS) and the queues:
/// S3 decrypts what a GET reads and makes a data key for what a PUT writes with the caller's permission, and
/// Lambda's event source mapping decrypts the queue's messages with the function's role.
pub const KEY: &[Grant] = &[
    grant("kms:Decrypt", Scope::Key, "S3Objects::get_into/get under SSE-KMS; Lambda reading the encrypted queue"),
    grant("kms:GenerateDataKey", Scope::Key, "S3Objects::put_with/put under SSE-KMS"),
];

/// What Lambda itself does for each function: write its logs, poll its queue.
pub const LAMBDA_PLATFORM: &[Grant] = &[
    grant("logs:CreateLogStream", Scope::LogGroup, "Lambda: the function's output"),
    grant("logs:PutLogEvents", Scope::LogGroup, "Lambda: the function's output"),
    grant("sqs:ReceiveMessage", Scope::Queue, "Lambda's event source mapping"),
    grant("sqs:DeleteMessage", Scope::Queue, "Lambda's event source mapping"),
    grant("sqs:GetQueueAttributes", Scope::Queue, "Lambda's event source mapping"),
];

/// How the load function signs in to the warehouse, which decides the one credentials grant it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// A Secrets Manager secret: the Data API reads it with the caller's permission.
    Secret,
    /// Redshift Serverless, as the role itself.
    WorkgroupRole,
    /// A provisioned cluster, as the role itself (mapped to a database user `IAMR:<role>`).
    ClusterRole,
    /// A provisioned cluster, as a named database user.
    ClusterUser,
}

/// The action that gets the warehouse credentials, and what it is granted on.
pub fn credentials_action(sign_in: SignIn) -> Grant {
    match sign_in {
        SignIn::Secret => grant("secretsmanager:GetSecretValue", Scope::Secret, "the Data API reads the secret"),
        SignIn::WorkgroupRole => {
            grant("redshift-serverless:GetCredentials", Scope::Credentials, "the Data API, IAM authentication")
        }
        SignIn::ClusterRole => {
            grant("redshift:GetClusterCredentialsWithIAM", Scope::Credentials, "the Data API, IAM authentication")
        }
        SignIn::ClusterUser => grant("redshift:GetClusterCredentials", Scope::Credentials, "the Data API, DbUser"),
    }
}

/// Whether the stack's bucket and queues are encrypted with a customer-managed KMS key (`KmsKeyArn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// S3- and SQS-managed keys: no KMS grant is needed.
    Managed,
    /// A customer-managed key: [`KEY`] too.
    CustomerKey,
}

fn key_grants(encryption: Encryption) -> &'static [Grant] {
    match encryption {
        Encryption::Managed => &[],
        Encryption::CustomerKey => KEY,
    }
}

/// Everything the load function's role needs for one way of signing in.
pub fn load_grants(sign_in: SignIn, encryption: Encryption) -> Vec<Grant> {
    let mut grants: Vec<Grant> = LOAD.iter().chain(LAMBDA_PLATFORM).chain(key_grants(encryption)).copied().collect();
    grants.push(credentials_action(sign_in));
    grants
}

/// Everything the transcribe function's role needs.
pub fn transcribe_grants(encryption: Encryption) -> Vec<Grant> {
    TRANSCRIBE.iter().chain(LAMBDA_PLATFORM).chain(key_grants(encryption)).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_way_of_signing_in_needs_one_credentials_action_of_its_own() {
        let all = [SignIn::Secret, SignIn::WorkgroupRole, SignIn::ClusterRole, SignIn::ClusterUser];
        let actions: std::collections::BTreeSet<_> = all.iter().map(|s| credentials_action(*s).action).collect();
        assert_eq!(actions.len(), all.len());
        for sign_in in all {
            let grants = load_grants(sign_in, Encryption::Managed);
            assert_eq!(grants.iter().filter(|g| g.scope == Scope::Credentials || g.scope == Scope::Secret).count(), 1);
        }
    }
}
