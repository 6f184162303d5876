//! Helpers shared by the stand-ins' integration tests: clients, and the two stand-ins started together on
//! loopback port 0 over a temporary folder ([`Harness`]). Each test binary uses some of them.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
use aws_sdk_redshiftdata::types::{Field, StatusString};
use aws_sdk_s3::primitives::ByteStream;
use redscribe_local::redshift::{DataApiConfig, DataApiServer, DataApiServerConfig};
use redscribe_local::s3::{EventJournal, S3Server, S3ServerConfig};
use redscribe_local::Credentials;

pub const ROLE: &str = "arn:aws:iam::123456789012:role/redscribe-loader";

/// An `aws-sdk-s3` client for the S3 stand-in (path-style addressing, the given key pair).
pub fn s3_client(endpoint: &str, creds: &Credentials) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            &creds.access_key_id,
            &creds.secret_access_key,
            None,
            None,
            "test",
        ))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub struct Harness {
    pub api: DataApiServer,
    pub s3: S3Server,
    pub rs: aws_sdk_redshiftdata::Client,
    pub objects: aws_sdk_s3::Client,
    pub creds: Credentials,
    pub dir: tempfile::TempDir,
}

pub async fn start_with(config: DataApiConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let creds = Credentials::generate();
    let (journal, _events) = EventJournal::open(&dir.path().join("events"), "us-east-1").unwrap();
    let s3 = S3Server::start(
        S3ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            root: dir.path().join("s3"),
            credentials: creds.clone(),
        },
        Arc::new(journal),
    )
    .await
    .unwrap();
    let api = DataApiServer::start(DataApiServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        database_file: dir.path().join("warehouse").join("redscribe.duckdb"),
        objects: dir.path().join("s3"),
        credentials: creds.clone(),
        api: config,
    })
    .await
    .unwrap();
    let rs = rs_client(&api.endpoint_url(), &creds.access_key_id, &creds.secret_access_key);
    let objects = s3_client(&s3.endpoint_url(), &creds);
    objects.create_bucket().bucket("lake").send().await.unwrap();
    Harness { api, s3, rs, objects, creds, dir }
}

pub async fn start() -> Harness {
    start_with(DataApiConfig::default()).await
}

pub fn rs_client(endpoint: &str, key: &str, secret: &str) -> aws_sdk_redshiftdata::Client {
    let conf = aws_sdk_redshiftdata::config::Builder::new()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(aws_sdk_redshiftdata::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_redshiftdata::config::Credentials::new(key, secret, None, None, "test"))
        .build();
    aws_sdk_redshiftdata::Client::from_conf(conf)
}

impl Harness {
    pub async fn put(&self, key: &str, body: Vec<u8>) {
        self.objects.put_object().bucket("lake").key(key).body(ByteStream::from(body)).send().await.unwrap();
    }

    pub async fn execute(&self, sql: &str) -> String {
        self.rs.execute_statement().workgroup_name("local").database("dev").sql(sql).send().await.unwrap().id.unwrap()
    }

    pub async fn batch(&self, sqls: &[&str]) -> String {
        let mut req = self.rs.batch_execute_statement().cluster_identifier("local-cluster").database("dev");
        for s in sqls {
            req = req.sqls(*s);
        }
        req.send().await.unwrap().id.unwrap()
    }

    /// Polls DescribeStatement until the statement ends.
    pub async fn wait(&self, id: &str) -> DescribeStatementOutput {
        for _ in 0..600 {
            let d = self.rs.describe_statement().id(id).send().await.unwrap();
            match d.status() {
                Some(StatusString::Finished | StatusString::Failed | StatusString::Aborted) => return d,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        panic!("statement {id} did not finish");
    }

    pub async fn run_ok(&self, sql: &str) -> String {
        let id = self.execute(sql).await;
        let d = self.wait(&id).await;
        assert_eq!(d.status(), Some(&StatusString::Finished), "{sql}: {:?}", d.error());
        id
    }

    /// All records of a query, across pages.
    pub async fn query(&self, sql: &str) -> Vec<Vec<Field>> {
        let id = self.run_ok(sql).await;
        let mut rows = Vec::new();
        let mut token = None;
        loop {
            let page = self.rs.get_statement_result().id(&id).set_next_token(token).send().await.unwrap();
            rows.extend(page.records().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return rows;
            }
        }
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        match &self.query(sql).await[0][0] {
            Field::LongValue(n) => *n,
            other => panic!("{sql}: {other:?}"),
        }
    }

    pub async fn apply_migrations(&self) {
        for m in redscribe_core::migrations::MIGRATIONS {
            for sql in m.statements() {
                self.run_ok(&sql).await;
            }
        }
    }
}
