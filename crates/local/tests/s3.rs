//! The S3 stand-in driven by the production SDK (`aws-sdk-s3`) and by the real `aws` CLI, on a loopback port 0.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use redscribe_core::events::normalize;
use redscribe_core::identity::Sequencer;
use redscribe_core::layout::Layout;
use redscribe_local::s3::{drain, Delivery, EventJournal, S3Server, S3ServerConfig};
use redscribe_local::Credentials;

mod common;
use common::s3_client;
use tokio::sync::mpsc::UnboundedReceiver;

struct Harness {
    server: S3Server,
    journal: Arc<EventJournal>,
    events: UnboundedReceiver<Delivery>,
    creds: Credentials,
    _dir: tempfile::TempDir,
}

async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let (journal, events) = EventJournal::open(&dir.path().join("events"), "us-east-1").unwrap();
    let journal = Arc::new(journal);
    let creds = Credentials::generate();
    let config = S3ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        root: dir.path().join("s3"),
        credentials: creds.clone(),
    };
    let server = S3Server::start(config, journal.clone()).await.unwrap();
    Harness { server, journal, events, creds, _dir: dir }
}

#[tokio::test]
async fn objects_round_trip_and_each_upload_raises_one_event() {
    let mut h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    s3.create_bucket().bucket("recordings").send().await.unwrap();

    let key = "in/it's a \"call\" + 録音.wav";
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    s3.put_object().bucket("recordings").key(key).body(ByteStream::from(body.clone())).send().await.unwrap();

    let head = s3.head_object().bucket("recordings").key(key).send().await.unwrap();
    assert_eq!(head.content_length(), Some(100_000));
    let got = s3.get_object().bucket("recordings").key(key).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), &body[..]);
    let range = s3.get_object().bucket("recordings").key(key).range("bytes=10-19").send().await.unwrap();
    assert_eq!(range.body.collect().await.unwrap().into_bytes().as_ref(), &body[10..20]);

    let listed = s3.list_objects_v2().bucket("recordings").prefix("in/").send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [key]);

    s3.copy_object()
        .bucket("recordings")
        .key("in/copy.wav")
        .copy_source("recordings/in/it's%20a%20%22call%22%20%2B%20%E9%8C%B2%E9%9F%B3.wav")
        .send()
        .await
        .unwrap();
    s3.delete_object().bucket("recordings").key("in/copy.wav").send().await.unwrap();
    assert!(s3.head_object().bucket("recordings").key("in/copy.wav").send().await.is_err());
    // Deleting what is not there raises nothing.
    s3.delete_object().bucket("recordings").key("in/never.wav").send().await.unwrap();

    let events = drain(&mut h.events);
    assert_eq!(events.len(), 3, "one event per upload (put, copy) and per deletion, none for reads");
    let layout = Layout::default();
    let put = normalize(&events[0].event, &layout).unwrap();
    assert_eq!(put.objects.len(), 1);
    let o = &put.objects[0];
    assert_eq!((o.object.bucket.as_str(), o.object.key.as_str(), o.object.size), ("recordings", key, Some(100_000)));
    assert_eq!(o.event_name, "ObjectCreated:Put");
    assert_eq!(o.object.etag.as_deref(), head.e_tag().map(|e| e.trim_matches('"')));
    let raw_key = events[0].event["Records"][0]["s3"]["object"]["key"].as_str().unwrap();
    assert_eq!(raw_key, "in/it%27s+a+%22call%22+%2B+%E9%8C%B2%E9%9F%B3.wav", "keys are URL-encoded like S3's");
    let copy = normalize(&events[1].event, &layout).unwrap();
    assert_eq!(copy.objects[0].object.key, "in/copy.wav");
    assert_eq!(copy.objects[0].event_name, "ObjectCreated:Copy");
    let seq =
        |n: &redscribe_core::events::Normalized| Sequencer::new(n.objects[0].object.sequencer.as_deref().unwrap());
    assert!(seq(&put) < seq(&copy));
    // The deletion: S3's record of a removal, no size or ETag, a later sequencer.
    let removed = normalize(&events[2].event, &layout).unwrap();
    let r = &removed.objects[0];
    assert_eq!((r.event_name.as_str(), r.object.key.as_str()), ("ObjectRemoved:Delete", "in/copy.wav"));
    assert_eq!((r.object.size, r.object.etag.as_deref()), (None, None));
    assert!(seq(&copy) < seq(&removed));
    h.server.stop().await;
}

#[tokio::test]
async fn a_multipart_upload_raises_one_event_when_completed() {
    let mut h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    s3.create_bucket().bucket("recordings").send().await.unwrap();
    let key = "in/long meeting.flac";
    let upload = s3.create_multipart_upload().bucket("recordings").key(key).send().await.unwrap();
    let id = upload.upload_id().unwrap();
    let part_size = 8 * 1024 * 1024;
    let total = 20 * 1024 * 1024;
    let mut parts = Vec::new();
    for (n, start) in (0..total).step_by(part_size).enumerate() {
        let len = part_size.min(total - start);
        let bytes = vec![(n as u8).wrapping_mul(37); len];
        let part = s3
            .upload_part()
            .bucket("recordings")
            .key(key)
            .upload_id(id)
            .part_number(n as i32 + 1)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .unwrap();
        parts.push(CompletedPart::builder().part_number(n as i32 + 1).e_tag(part.e_tag().unwrap()).build());
        assert!(drain(&mut h.events).is_empty(), "no event before the upload completes");
    }
    s3.complete_multipart_upload()
        .bucket("recordings")
        .key(key)
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    let events = drain(&mut h.events);
    assert_eq!(events.len(), 1);
    let n = normalize(&events[0].event, &Layout::default()).unwrap();
    assert_eq!(n.objects[0].event_name, "ObjectCreated:CompleteMultipartUpload");
    assert_eq!(n.objects[0].object.size, Some(total as i64));
    assert!(n.objects[0].object.etag.as_deref().unwrap().ends_with("-3"), "{:?}", n.objects[0].object.etag);
    h.server.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_403() {
    let h = start().await;
    let bad = Credentials { secret_access_key: "not-the-secret".into(), ..h.creds.clone() };
    let s3 = s3_client(&h.server.endpoint_url(), &bad);
    let err = s3.create_bucket().bucket("recordings").send().await.unwrap_err();
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(403), "{err:?}");
    h.server.stop().await;
}

#[tokio::test]
async fn non_loopback_addresses_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _rx) = EventJournal::open(dir.path(), "us-east-1").unwrap();
    let config = S3ServerConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        root: dir.path().join("s3"),
        credentials: Credentials::generate(),
    };
    assert!(S3Server::start(config, Arc::new(journal)).await.is_err());
}

#[tokio::test]
async fn unacknowledged_events_are_delivered_again_after_a_restart() {
    let mut h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    s3.create_bucket().bucket("rec").send().await.unwrap();
    for k in ["a.wav", "b.wav", "c.wav"] {
        s3.put_object().bucket("rec").key(k).body(ByteStream::from_static(b"RIFF")).send().await.unwrap();
    }
    let first = drain(&mut h.events);
    assert_eq!(first.len(), 3);
    h.journal.ack(first[0].seq).unwrap();
    h.journal.ack(first[2].seq).unwrap();
    let dir = h.journal.dir().to_path_buf();
    h.server.stop().await;
    drop(h.journal);

    let (reopened, mut rx) = EventJournal::open(&dir, "us-east-1").unwrap();
    let again = drain(&mut rx);
    assert_eq!(again, vec![first[1].clone()], "only the unacknowledged event comes back, unchanged");
    reopened.ack(again[0].seq).unwrap();
    drop(reopened);
    let (_, mut rx) = EventJournal::open(&dir, "us-east-1").unwrap();
    assert!(drain(&mut rx).is_empty());
}

fn aws_cli(endpoint: &str, creds: &Credentials, args: &[&str]) -> String {
    let out = Command::new("aws")
        .args(["--endpoint-url", endpoint, "--region", "us-east-1"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the aws CLI ({e}); install it with scripts/setup.sh"));
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_works_against_it_including_multipart() {
    let mut h = start().await;
    let endpoint = h.server.endpoint_url();
    let creds = h.creds.clone();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big recording.wav");
    std::fs::write(&big, vec![7u8; 20 * 1024 * 1024]).unwrap();
    let small = dir.path().join("small.wav");
    std::fs::write(&small, b"RIFF....WAVE").unwrap();
    let (big, small) = (big.clone(), small.clone());
    let listing = tokio::task::spawn_blocking(move || {
        let s = |p: &Path| p.to_str().unwrap().to_owned();
        aws_cli(&endpoint, &creds, &["s3", "mb", "s3://recordings"]);
        aws_cli(&endpoint, &creds, &["s3", "cp", &s(&big), "s3://recordings/in/big recording.wav"]);
        aws_cli(&endpoint, &creds, &["s3", "cp", &s(&small), "s3://recordings/in/small.wav"]);
        aws_cli(&endpoint, &creds, &["s3", "ls", "s3://recordings/in/"])
    })
    .await
    .unwrap();
    assert!(listing.contains("big recording.wav") && listing.contains("small.wav"), "{listing}");
    let events = drain(&mut h.events);
    assert_eq!(events.len(), 2, "one event per upload, multipart included");
    let names: Vec<String> =
        events.iter().map(|e| normalize(&e.event, &Layout::default()).unwrap().objects[0].event_name.clone()).collect();
    assert_eq!(names, ["ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Put"]);
    h.server.stop().await;
}

#[tokio::test]
async fn versioned_buckets_give_each_upload_a_version_id_in_the_response_head_and_event() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let mut h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    s3.create_bucket().bucket("versioned").send().await.unwrap();
    let plain = s3.put_object().bucket("versioned").key("a.wav").body(ByteStream::from_static(b"one")).send().await;
    assert_eq!(plain.unwrap().version_id(), None, "no version id before versioning is enabled");
    s3.put_bucket_versioning()
        .bucket("versioned")
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .unwrap();
    let status = s3.get_bucket_versioning().bucket("versioned").send().await.unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Enabled));

    let first = s3.put_object().bucket("versioned").key("a.wav").body(ByteStream::from_static(b"two")).send().await;
    let first = first.unwrap().version_id().unwrap().to_string();
    let second = s3.put_object().bucket("versioned").key("a.wav").body(ByteStream::from_static(b"three")).send().await;
    let second = second.unwrap().version_id().unwrap().to_string();
    assert_ne!(first, second);
    let head = s3.head_object().bucket("versioned").key("a.wav").send().await.unwrap();
    assert_eq!(head.version_id(), Some(second.as_str()));
    let got = s3.get_object().bucket("versioned").key("a.wav").version_id(&second).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"three");
    // The version the second upload replaced is kept, and read by its id.
    let old = s3.get_object().bucket("versioned").key("a.wav").version_id(&first).send().await.unwrap();
    assert_eq!(old.version_id(), Some(first.as_str()));
    assert_eq!(old.body.collect().await.unwrap().into_bytes().as_ref(), b"two");
    let unknown = s3.get_object().bucket("versioned").key("a.wav").version_id("0".repeat(32)).send().await;
    assert_eq!(unknown.unwrap_err().into_service_error().meta().code(), Some("NoSuchVersion"));

    let events = drain(&mut h.events);
    let versions: Vec<_> = events
        .iter()
        .map(|d| d.event["Records"][0]["s3"]["object"]["versionId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(versions, vec![None, Some(first.clone()), Some(second.clone())]);
    let _ = &h.journal;

    // The state survives a restart of the server.
    let root = h._dir.path().join("s3");
    h.server.stop().await;
    let config = S3ServerConfig { addr: "127.0.0.1:0".parse().unwrap(), root, credentials: h.creds.clone() };
    let server = S3Server::start(config, h.journal.clone()).await.unwrap();
    let s3 = s3_client(&server.endpoint_url(), &h.creds);
    let head = s3.head_object().bucket("versioned").key("a.wav").send().await.unwrap();
    assert_eq!(head.version_id(), Some(second.as_str()));
    let old = s3.head_object().bucket("versioned").key("a.wav").version_id(&first).send().await.unwrap();
    assert_eq!(old.content_length(), Some(3), "the noncurrent version survives a restart too");
    server.stop().await;
}

/// A versioning-enabled bucket as S3 keeps it: a delete without a version id leaves the object behind a delete
/// marker, every version and marker is listed, and only deletes that name them remove them — the marker's removal
/// making what it hid current again.
#[tokio::test]
async fn a_versioned_delete_leaves_a_marker_and_only_named_versions_go() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let mut h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    s3.create_bucket().bucket("versions").send().await.unwrap();
    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    s3.put_bucket_versioning().bucket("versions").versioning_configuration(enabled).send().await.unwrap();
    let mut ids = Vec::new();
    for body in [&b"one"[..], b"two"] {
        let put = s3.put_object().bucket("versions").key("k.wav").body(ByteStream::from_static(body));
        ids.push(
            put.content_type("audio/wav").metadata("who", "me").send().await.unwrap().version_id().unwrap().to_string(),
        );
    }
    drain(&mut h.events);
    let deleted = s3.delete_object().bucket("versions").key("k.wav").send().await.unwrap();
    assert_eq!(deleted.delete_marker(), Some(true));
    let marker = deleted.version_id().unwrap().to_string();
    assert!(s3.head_object().bucket("versions").key("k.wav").send().await.is_err(), "hidden behind the marker");
    let listed = s3.list_objects_v2().bucket("versions").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));

    let versions = s3.list_object_versions().bucket("versions").prefix("k").send().await.unwrap();
    let objects: Vec<_> = versions.versions().iter().map(|v| (v.version_id().unwrap(), v.is_latest())).collect();
    assert_eq!(objects, [(ids[1].as_str(), Some(false)), (ids[0].as_str(), Some(false))], "newest first");
    let markers: Vec<_> = versions.delete_markers().iter().map(|m| (m.version_id().unwrap(), m.is_latest())).collect();
    assert_eq!(markers, [(marker.as_str(), Some(true))]);
    // A page of one, then the rest from the markers.
    let page = s3.list_object_versions().bucket("versions").max_keys(2).send().await.unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    let rest = s3
        .list_object_versions()
        .bucket("versions")
        .key_marker(page.next_key_marker().unwrap())
        .version_id_marker(page.next_version_id_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.versions().len() + page.delete_markers().len() + rest.versions().len() + rest.delete_markers().len(),
        3
    );

    // The marker removed: the newest version is current again, with its metadata.
    let unmarked = s3.delete_object().bucket("versions").key("k.wav").version_id(&marker).send().await.unwrap();
    assert_eq!(unmarked.delete_marker(), Some(true));
    let head = s3.head_object().bucket("versions").key("k.wav").send().await.unwrap();
    assert_eq!((head.version_id(), head.content_type()), (Some(ids[1].as_str()), Some("audio/wav")));
    assert_eq!(head.metadata().unwrap().get("who").map(String::as_str), Some("me"));
    // Each version deleted by its id: gone for good, an `ObjectRemoved:Delete` of each.
    for id in ids.iter().rev() {
        s3.delete_object().bucket("versions").key("k.wav").version_id(id).send().await.unwrap();
    }
    let versions = s3.list_object_versions().bucket("versions").send().await.unwrap();
    assert!(versions.versions().is_empty() && versions.delete_markers().is_empty(), "{versions:?}");
    assert!(s3.head_object().bucket("versions").key("k.wav").send().await.is_err());
    let events: Vec<_> = drain(&mut h.events)
        .iter()
        .map(|d| {
            let r = &d.event["Records"][0];
            (r["eventName"].as_str().unwrap().to_string(), r["s3"]["object"]["versionId"].as_str().map(str::to_string))
        })
        .collect();
    let removed = |v: &str| ("ObjectRemoved:Delete".to_string(), Some(v.to_string()));
    let expected =
        [("ObjectRemoved:DeleteMarkerCreated".to_string(), Some(marker.clone())), removed(&ids[1]), removed(&ids[0])];
    assert_eq!(events, expected);
    h.server.stop().await;
}

#[tokio::test]
async fn user_metadata_is_kept_up_to_the_limit_s3_enforces() {
    let mut h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    s3.create_bucket().bucket("recordings").send().await.unwrap();

    let put = |key: &'static str, value: String| {
        s3.put_object()
            .bucket("recordings")
            .key(key)
            .metadata("recording-key", value)
            .body(ByteStream::from_static(b"x"))
    };
    // 2,048 bytes of names and values: kept, and read back by GET and HEAD.
    let fits = "k".repeat(2048 - "recording-key".len());
    put("fits", fits.clone()).send().await.unwrap();
    let got = s3.get_object().bucket("recordings").key("fits").send().await.unwrap();
    assert_eq!(got.metadata().and_then(|m| m.get("recording-key")), Some(&fits));
    let head = s3.head_object().bucket("recordings").key("fits").send().await.unwrap();
    assert_eq!(head.metadata().and_then(|m| m.get("recording-key")), Some(&fits));

    // One byte more is refused as S3 refuses it, and the object is not written (nor announced).
    let e = put("over", format!("{fits}k")).send().await.unwrap_err();
    let code = e.as_service_error().and_then(|e| aws_sdk_s3::error::ProvideErrorMetadata::code(e));
    assert_eq!(code, Some("MetadataTooLarge"), "{e:?}");
    assert!(s3.head_object().bucket("recordings").key("over").send().await.is_err());
    let multipart = s3
        .create_multipart_upload()
        .bucket("recordings")
        .key("over")
        .metadata("recording-key", format!("{fits}k"))
        .send()
        .await;
    assert!(multipart.is_err(), "a multipart upload with too much metadata is refused at its start");
    assert_eq!(drain(&mut h.events).len(), 1);
}

/// Keys that would leave their bucket's folder are refused with 400 before anything touches the disk (this
/// endpoint keeps objects as files); a folder marker, as the console makes, is an object like any other.
#[tokio::test]
async fn keys_that_escape_their_bucket_are_refused_and_folder_markers_are_kept() {
    let mut h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    for bucket in ["recordings", "other"] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let root = h._dir.path().join("s3");
    let before = walk(&root);
    for key in ["../other/x", "in/../../escape.wav", "./in/a.wav", "in//a.wav", "/in/a.wav", "in/a\0.wav", ".."] {
        let put = s3.put_object().bucket("recordings").key(key).body(ByteStream::from_static(b"x")).send().await;
        let e = put.expect_err(key);
        let status = e.raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(400), "{key}: {e:?}");
        let get = s3.get_object().bucket("recordings").key(key).send().await;
        assert!(get.is_err(), "{key}");
    }
    assert_eq!(walk(&root), before, "nothing written");
    assert!(drain(&mut h.events).is_empty(), "no event for a refused key");

    s3.put_object().bucket("recordings").key("in/folder/").body(ByteStream::from_static(b"")).send().await.unwrap();
    // Its event is raised, as S3 raises it, and the pipeline skips it as a folder marker.
    let events = drain(&mut h.events);
    assert_eq!(events.len(), 1);
    let normalized = normalize(&events[0].event, &Layout::default()).unwrap();
    assert!(normalized.objects.is_empty() && normalized.skipped.len() == 1, "{normalized:?}");
    h.server.stop().await;
}

/// Every file under `dir`, as paths relative to it.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// An upload refused for its body (a Content-MD5 that does not match: `BadDigest`) leaves the object as it was,
/// as S3 does, and raises no event; refused for a new key, it leaves no object.
#[tokio::test]
async fn a_refused_upload_leaves_the_old_bytes() {
    let mut h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    s3.create_bucket().bucket("recordings").send().await.unwrap();
    s3.put_object().bucket("recordings").key("in/a.wav").body(ByteStream::from_static(b"old")).send().await.unwrap();
    drain(&mut h.events);
    // The MD5 of sixteen zero bytes' worth of nothing: no body has it.
    let wrong = "AAAAAAAAAAAAAAAAAAAAAA==";
    for key in ["in/a.wav", "in/new.wav"] {
        let put =
            s3.put_object().bucket("recordings").key(key).content_md5(wrong).body(ByteStream::from_static(b"new"));
        let e = put.send().await.expect_err("refused");
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400), "{e:?}");
    }
    let got = s3.get_object().bucket("recordings").key("in/a.wav").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"old");
    assert!(s3.head_object().bucket("recordings").key("in/new.wav").send().await.is_err(), "no object");
    assert!(drain(&mut h.events).is_empty(), "no event for a refused upload");
    let state = h._dir.path().join("s3-state");
    assert!(!walk(&state).iter().any(|f| f.contains("aside")), "{:?}", walk(&state));
    // The stand-in's own state is outside the objects folder (which the Data API stand-in's COPY may read).
    assert!(state.join("versions.jsonl").exists());
    assert!(!walk(&h._dir.path().join("s3")).iter().any(|f| f.contains("versions")));
    h.server.stop().await;
}

/// Listing a prefix walks only the folder it lies in (S3 lists from its index), with S3's order, paging and
/// start-after, whatever else the bucket holds.
#[tokio::test]
async fn a_listing_gives_the_prefix_s_keys_in_order_and_pages_through_them() {
    let h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    s3.create_bucket().bucket("listed").send().await.unwrap();
    let keys = ["in/a/1.wav", "in/a/2.wav", "in/b.wav", "inbox/x", "processed/y.parquet", "top"];
    for key in keys {
        s3.put_object().bucket("listed").key(key).body(ByteStream::from_static(b"x")).send().await.unwrap();
    }
    let list = |prefix: &str, start_after: Option<&str>, max: Option<i32>, token: Option<String>| {
        let s3 = s3.clone();
        let prefix = prefix.to_string();
        let start_after = start_after.map(str::to_string);
        async move {
            let out = s3
                .list_objects_v2()
                .bucket("listed")
                .prefix(prefix)
                .set_start_after(start_after)
                .set_max_keys(max)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            assert!(out.contents().iter().all(|o| o.e_tag().is_some() && o.size() == Some(1)));
            let keys: Vec<String> = out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
            (keys, out.is_truncated() == Some(true), out.next_continuation_token().map(str::to_string))
        }
    };
    assert_eq!(list("in/a/1", None, None, None).await.0, ["in/a/1.wav"]);
    assert_eq!(list("in", None, None, None).await.0, ["in/a/1.wav", "in/a/2.wav", "in/b.wav", "inbox/x"]);
    assert_eq!(list("in/", Some("in/a/2.wav"), None, None).await.0, ["in/b.wav"]);
    assert_eq!(list("nowhere/", None, None, None).await, (vec![], false, None));
    // Pages of two over the whole bucket, in order, each page's last key the next token.
    let (mut all, mut token) = (Vec::new(), None);
    loop {
        let (page, truncated, next) = list("", None, Some(2), token).await;
        assert!(page.len() <= 2);
        all.extend(page);
        if !truncated {
            break;
        }
        token = next;
    }
    assert_eq!(all, keys);
}

#[tokio::test]
async fn object_versions_are_listed_and_removed_one_by_one_as_s3_does() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let mut h = start().await;
    let s3 = s3_client(&h.server.endpoint_url(), &h.creds);
    for bucket in ["plain", "versioned"] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    s3.put_bucket_versioning().bucket("versioned").versioning_configuration(enabled).send().await.unwrap();
    for bucket in ["plain", "versioned"] {
        for key in ["out/a-1.parquet", "out/a-1.jsonl", "out/b-1.parquet"] {
            s3.put_object().bucket(bucket).key(key).body(ByteStream::from_static(b"x")).send().await.unwrap();
        }
    }
    drain(&mut h.events);

    // The current versions under a prefix, a page at a time: `null` in a bucket never versioned.
    let page = s3.list_object_versions().bucket("plain").prefix("out/a-").max_keys(1).send().await.unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    let first: Vec<_> = page.versions().iter().map(|v| (v.key().unwrap(), v.version_id().unwrap())).collect();
    assert_eq!(first, [("out/a-1.jsonl", "null")]);
    let rest = s3
        .list_object_versions()
        .bucket("plain")
        .prefix("out/a-")
        .key_marker(page.next_key_marker().unwrap())
        .version_id_marker(page.next_version_id_marker().unwrap())
        .send()
        .await
        .unwrap();
    let rest: Vec<_> = rest.versions().iter().map(|v| (v.key().unwrap(), v.is_latest())).collect();
    assert_eq!(rest, [("out/a-1.parquet", Some(true))]);
    let versioned = s3.list_object_versions().bucket("versioned").prefix("out/a-").send().await.unwrap();
    let ids: Vec<_> = versioned.versions().iter().map(|v| v.version_id().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|v| v.len() == 32), "{ids:?}");

    // A delete naming the version removes it for good (no marker): `ObjectRemoved:Delete` of that version; one
    // naming a version that is not kept removes nothing.
    let kept = s3.delete_object().bucket("versioned").key("out/a-1.parquet").version_id("0".repeat(32)).send().await;
    assert!(kept.is_ok());
    assert!(s3.head_object().bucket("versioned").key("out/a-1.parquet").send().await.is_ok());
    let gone = s3.delete_object().bucket("versioned").key("out/a-1.parquet").version_id(&ids[1]).send().await;
    assert_eq!(gone.unwrap().version_id(), Some(ids[1].as_str()));
    s3.delete_object().bucket("plain").key("out/a-1.parquet").version_id("null").send().await.unwrap();
    for bucket in ["plain", "versioned"] {
        assert!(s3.head_object().bucket(bucket).key("out/a-1.parquet").send().await.is_err(), "{bucket}");
        assert!(s3.head_object().bucket(bucket).key("out/b-1.parquet").send().await.is_ok(), "{bucket}");
    }
    let events = drain(&mut h.events);
    let removed: Vec<_> = events
        .iter()
        .map(|d| {
            let r = &d.event["Records"][0];
            (r["eventName"].as_str().unwrap().to_string(), r["s3"]["object"]["versionId"].as_str().map(str::to_string))
        })
        .collect();
    assert_eq!(
        removed,
        [("ObjectRemoved:Delete".to_string(), Some(ids[1].clone())), ("ObjectRemoved:Delete".to_string(), None)]
    );
    h.server.stop().await;
}
