//! Nothing a client sends to the Data API stand-in reaches a file outside the S3 stand-in's folder: DuckDB's
//! access to the host is off, and every S3 URL a COPY names (source, prefix, manifest entry, JSONPaths file) must
//! resolve inside its bucket. Each attempt ends `FAILED` with Redshift's `ERROR:` shape, and a COPY of a real
//! object still works beside them.

use aws_sdk_redshiftdata::types::StatusString;
use redscribe_local::Credentials;

mod common;
use common::{start, Harness, ROLE};

/// Runs `sql` and returns its error; panics if it succeeded.
async fn refused(h: &Harness, sql: &str) -> String {
    let id = h.execute(sql).await;
    let d = h.wait(&id).await;
    assert_eq!(d.status(), Some(&StatusString::Failed), "{sql} should fail");
    let error = d.error().unwrap_or_default().to_string();
    assert!(error.starts_with("ERROR: "), "{sql}: {error}");
    assert!(!error.contains("root:x:0:0"), "{sql} leaked the file: {error}");
    error
}

#[tokio::test]
async fn host_files_are_out_of_reach() {
    let h = start().await;
    h.run_ok("CREATE TABLE t (line VARCHAR(4096))").await;
    // A file the test owns, outside the data folder, that the warehouse must not read either.
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), "secret\n").unwrap();
    let outside = outside.path().display().to_string();

    for sql in [
        "SELECT * FROM read_text('/etc/passwd')".to_string(),
        "SELECT * FROM read_csv('/etc/passwd')".to_string(),
        format!("SELECT * FROM read_csv_auto('{outside}')"),
        "SELECT * FROM glob('/etc/*')".to_string(),
    ] {
        let error = refused(&h, &sql).await;
        assert!(error.contains("permission denied"), "{sql}: {error}");
    }
    // Refused by the dialect or by DuckDB, whichever sees them first.
    for sql in [
        format!("COPY (SELECT 1) TO '{outside}'"),
        format!("ATTACH '{outside}.db' AS other"),
        "SET enable_external_access = true".to_string(),
        "SET allowed_directories = ['/']".to_string(),
        "LOAD httpfs".to_string(),
    ] {
        refused(&h, &sql).await;
    }
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret\n", "nothing was written over it");

    // Keys that would leave the bucket's folder, in every place a COPY takes an S3 URL.
    h.put("ok/lines.csv", b"hello\n".to_vec()).await;
    let copy = |from: &str, options: &str| format!("COPY t FROM '{from}' IAM_ROLE '{ROLE}' {options}");
    for from in ["s3://lake//etc/passwd", "s3://lake/../../../../etc/passwd", "s3://lake/./ok/lines.csv"] {
        refused(&h, &copy(from, "CSV")).await;
    }
    let entries = serde_json::json!({ "entries": [
        { "url": "s3://lake/ok/lines.csv", "mandatory": true },
        { "url": "s3://lake//etc/passwd", "mandatory": true },
    ]});
    h.put("manifests/escape.json", serde_json::to_vec(&entries).unwrap()).await;
    refused(&h, &copy("s3://lake/manifests/escape.json", "CSV MANIFEST")).await;
    let entries = serde_json::json!({ "entries": [{ "url": "s3://lake/../../etc/passwd", "mandatory": true }] });
    h.put("manifests/dots.json", serde_json::to_vec(&entries).unwrap()).await;
    refused(&h, &copy("s3://lake/manifests/dots.json", "CSV MANIFEST")).await;
    h.put("ok/doc.json", br#"{"line": "x"}"#.to_vec()).await;
    refused(&h, &copy("s3://lake/ok/doc.json", "JSON 's3://lake//etc/jsonpaths.json'")).await;
    assert_eq!(h.scalar("SELECT COUNT(*) FROM t").await, 0, "nothing was loaded by any of them");

    // The way in that is meant to work still does.
    h.run_ok(&copy("s3://lake/ok/lines.csv", "CSV")).await;
    assert_eq!(h.scalar("SELECT COUNT(*) FROM t").await, 1);
}

/// The statement the stand-in checked is the one DuckDB runs, and only it: a text sqlparser reads as one
/// statement but DuckDB as three (a `[…]` identifier), and an EXPLAIN ANALYZE that would run a COPY … TO, are
/// refused, and nothing reaches the objects folder.
#[tokio::test]
async fn only_the_one_statement_checked_runs() {
    let h = start().await;
    h.put("ok/lines.csv", b"hello\n".to_vec()).await;
    let objects = h.dir.path().join("s3");
    let target = objects.join("lake/smuggled.csv");
    let to = target.display();
    for sql in [
        format!("SELECT [x]] AS q FROM (SELECT 1 AS x) t; COPY (SELECT 42 AS n) TO '{to}'; SELECT [1]"),
        format!("EXPLAIN ANALYZE COPY (SELECT 42 AS n) TO '{to}'"),
        format!("EXPLAIN COPY (SELECT 42 AS n) TO '{to}'"),
        "SELECT `x` FROM (SELECT 1 AS x) t".to_string(),
    ] {
        refused(&h, &sql).await;
    }
    assert!(!target.exists(), "a statement wrote into the objects folder");
    assert_eq!(h.scalar("SELECT 1 + 1").await, 2, "one plain statement still runs");
    assert!(!h.query("EXPLAIN SELECT 1").await.is_empty(), "EXPLAIN of a query still runs");
}

#[test]
fn generated_credentials_come_from_the_random_source() {
    let pairs: Vec<Credentials> = (0..64).map(|_| Credentials::generate()).collect();
    for c in &pairs {
        assert_eq!(c.access_key_id.len(), 20, "{}", c.access_key_id);
        assert!(c.access_key_id.starts_with("AKLOCAL"));
        assert_eq!(c.secret_access_key.len(), 40);
    }
    let distinct: std::collections::HashSet<&str> = pairs.iter().map(|c| c.secret_access_key.as_str()).collect();
    assert_eq!(distinct.len(), pairs.len(), "64 pairs made in the same instant are all different");
}
