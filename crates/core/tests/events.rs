//! Table-driven tests of event normalisation against the JSON fixtures in `tests/fixtures/events/`.

use redscribe_core::events::{normalize_str, Envelope, SkipReason};
use redscribe_core::layout::Layout;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events/", $name))
    };
}

/// What one fixture must normalise to.
struct Case {
    name: &'static str,
    payload: &'static str,
    /// (bucket, decoded key, envelope, message id)
    objects: &'static [(&'static str, &'static str, Envelope, Option<&'static str>)],
    /// (reason, key)
    skipped: &'static [(SkipReason, Option<&'static str>)],
    /// message ids of invalid messages
    invalid: &'static [Option<&'static str>],
}

const CASES: &[Case] = &[
    Case {
        name: "direct S3 put, + is a space",
        payload: fixture!("s3_put.json"),
        objects: &[("recordings-prod", "calls/2026/call 0042.wav", Envelope::S3, None)],
        skipped: &[],
        invalid: &[],
    },
    Case {
        name: "keys with %2B, quotes, unicode, SQL and a literal percent",
        payload: fixture!("s3_keys.json"),
        objects: &[
            ("recordings-prod", "calls/a+b.wav", Envelope::S3, None),
            ("recordings-prod", "calls/it's a \"test\".wav", Envelope::S3, None),
            ("recordings-prod", "calls/録音 über.flac", Envelope::S3, None),
            ("recordings-prod", "calls/a'; drop table x; --.wav", Envelope::S3, None),
            ("recordings-prod", "calls/100% done.mp3", Envelope::S3, None),
        ],
        skipped: &[],
        invalid: &[],
    },
    Case {
        name: "folder markers, own outputs and duplicates are skipped; a removal is an erasure to make",
        payload: fixture!("s3_skips.json"),
        objects: &[
            // A zero-byte recording is work: it becomes a `failed` row and an `empty_object` quarantine record.
            ("recordings-prod", "calls/empty.wav", Envelope::S3, None),
            ("recordings-prod", "calls/gone.wav", Envelope::S3, None),
            ("recordings-prod", "calls/dup.wav", Envelope::S3, None),
            ("recordings-prod", "calls/keep.wav", Envelope::S3, None),
        ],
        skipped: &[
            (SkipReason::FolderMarker, Some("calls/")),
            (SkipReason::OwnOutput, Some("processed/transcription_results/dt=2026-11-23/abc-v1.parquet")),
            (SkipReason::OwnOutput, Some("rejected/not_audio/dt=2026-11-23/abc-v1.json")),
            (SkipReason::Duplicate, Some("calls/dup.wav")),
            (SkipReason::Duplicate, Some("calls/dup.wav")),
        ],
        invalid: &[],
    },
    Case {
        name: "s3:TestEvent is acknowledged and ignored",
        payload: fixture!("s3_test_event.json"),
        objects: &[],
        skipped: &[(SkipReason::TestEvent, None)],
        invalid: &[],
    },
    Case {
        name: "SQS batch: good messages processed, bad ones reported per message",
        payload: fixture!("sqs_s3.json"),
        objects: &[
            ("recordings-prod", "calls/first call.wav", Envelope::Sqs, Some("059f36b4-87a3-44ab-83d2-661975830a7d")),
            ("recordings-prod", "calls/second.ogg", Envelope::Sqs, Some("d1b2c3a4-0000-4000-8000-000000000005")),
            ("recordings-prod", "calls/third.m4a", Envelope::Sqs, Some("d1b2c3a4-0000-4000-8000-000000000005")),
        ],
        skipped: &[(SkipReason::TestEvent, None)],
        invalid: &[Some("8ee3f6e2-7f40-4b28-b5d9-6c0a5a1f0f00"), Some("c0a8d2f1-4a55-4f7e-9a3d-1e0d6ad1b2c3")],
    },
    Case {
        name: "SNS inside SQS",
        payload: fixture!("sns_sqs_s3.json"),
        objects: &[(
            "podcasts",
            "podcasts/ep 12 — final.mp3",
            Envelope::SnsSqs,
            Some("a1b2c3d4-1111-4111-8111-111111111111"),
        )],
        skipped: &[(SkipReason::TestEvent, None)],
        invalid: &[],
    },
    Case {
        name: "SNS invoking the function directly",
        payload: fixture!("sns_s3.json"),
        objects: &[("recordings-prod", "field/site 7/take 1.wav", Envelope::Sns, None)],
        skipped: &[],
        invalid: &[],
    },
    Case {
        name: "EventBridge Object Created",
        payload: fixture!("eventbridge_object_created.json"),
        objects: &[("recordings-prod", "meetings/weekly sync: q4.m4a", Envelope::EventBridge, None)],
        skipped: &[],
        invalid: &[],
    },
    Case {
        name: "EventBridge Object Deleted by a request: the recording is erased",
        payload: fixture!("eventbridge_object_deleted.json"),
        objects: &[("recordings-prod", "meetings/weekly sync: q4.m4a", Envelope::EventBridge, None)],
        skipped: &[],
        invalid: &[],
    },
    Case {
        name: "EventBridge Object Deleted by a lifecycle rule is retention, not work",
        payload: fixture!("eventbridge_lifecycle_expiration.json"),
        objects: &[],
        skipped: &[(SkipReason::NotObjectCreated, Some("meetings/weekly sync: q4.m4a"))],
        invalid: &[],
    },
    Case {
        name: "EventBridge delivered through SQS",
        payload: fixture!("sqs_eventbridge.json"),
        objects: &[(
            "recordings-prod",
            "meetings/weekly sync: q4.m4a",
            Envelope::EventBridge,
            Some("e0e0e0e0-3333-4333-8333-333333333333"),
        )],
        skipped: &[],
        invalid: &[],
    },
];

#[test]
fn fixtures_normalise_as_expected() {
    let layout = Layout::default();
    for case in CASES {
        let got = normalize_str(case.payload, &layout).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let objects: Vec<_> = got
            .objects
            .iter()
            .map(|o| (o.object.bucket.as_str(), o.object.key.as_str(), o.envelope, o.message_id.as_deref()))
            .collect();
        assert_eq!(objects, case.objects, "{}: objects", case.name);
        let skipped: Vec<_> = got.skipped.iter().map(|s| (s.reason, s.key.as_deref())).collect();
        assert_eq!(skipped, case.skipped, "{}: skipped", case.name);
        let invalid: Vec<_> = got.invalid.iter().map(|i| i.message_id.as_deref()).collect();
        assert_eq!(invalid, case.invalid, "{}: invalid", case.name);
        for i in &got.invalid {
            assert!(!i.reason.is_empty(), "{}: invalid message without a reason", case.name);
        }
    }
}

#[test]
fn object_details_ride_along() {
    let got = normalize_str(fixture!("s3_put.json"), &Layout::default()).unwrap();
    let o = &got.objects[0];
    assert_eq!(o.object.size, Some(245760));
    assert_eq!(o.object.version_id.as_deref(), Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"));
    assert_eq!(o.object.etag.as_deref(), Some("9b2cf535f27731c974343645a3985328"));
    assert_eq!(o.object.sequencer.as_deref(), Some("0055AED6DCD90281E5"));
    assert_eq!(o.event_name, "ObjectCreated:Put");
    assert_eq!(o.event_time.unwrap().to_rfc3339(), "2026-11-23T09:15:02.123+00:00");

    let eb = normalize_str(fixture!("eventbridge_object_created.json"), &Layout::default()).unwrap();
    let o = &eb.objects[0];
    assert_eq!(o.event_name, "ObjectCreated:CompleteMultipartUpload");
    assert_eq!(o.object.size, Some(5242880));
    assert_eq!(o.object.version_id.as_deref(), Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"));
    assert_eq!(o.object.etag.as_deref(), Some("b1946ac92492d2347c6235b4d2611184-2"));
}

#[test]
fn the_latest_duplicate_wins() {
    let got = normalize_str(fixture!("s3_skips.json"), &Layout::default()).unwrap();
    let dup = got.objects.iter().find(|o| o.object.key == "calls/dup.wav").unwrap();
    assert_eq!(dup.object.sequencer.as_deref(), Some("0055AED6DCD90281E6"));
    assert_eq!(dup.object.etag.as_deref(), Some("22222222222222222222222222222222"));
}

#[test]
fn listed_objects_are_skipped_by_the_rules_announced_ones_are() {
    let listed = |key: &str| redscribe_core::events::ObjectEvent::created("b", key);
    let keys = ["in/a.wav", "in/", "processed/transcription_results/dt=2026-12-01/x.parquet", "in/a.wav"];
    let got = redscribe_core::events::filter_listed(keys.iter().map(|k| listed(k)).collect(), &Layout::default());
    assert_eq!(got.objects.iter().map(|o| o.object.key.as_str()).collect::<Vec<_>>(), ["in/a.wav"]);
    let reasons: Vec<SkipReason> = got.skipped.iter().map(|s| s.reason).collect();
    assert_eq!(reasons, [SkipReason::FolderMarker, SkipReason::OwnOutput, SkipReason::Duplicate]);
}

#[test]
fn unrecognised_payloads_are_errors_not_panics() {
    let layout = Layout::default();
    for payload in ["{}", "[]", "null", "{\"Records\": 5}", "{\"Records\": [{\"eventSource\": \"aws:dynamodb\"}]}"] {
        assert!(normalize_str(payload, &layout).is_err(), "{payload}");
    }
    assert!(normalize_str("not json", &layout).is_err());
    // An S3 record missing required fields at the top level is an error, not a silent skip.
    assert!(normalize_str("{\"Records\": [{\"eventSource\": \"aws:s3\"}]}", &layout).is_err());
}

#[test]
fn fixtures_round_trip_through_aws_lambda_events_types() {
    use aws_lambda_events::event::s3::S3Event;
    use aws_lambda_events::event::sqs::SqsEvent;
    let s3: S3Event = serde_json::from_str(fixture!("s3_keys.json")).unwrap();
    let again: S3Event = serde_json::from_str(&serde_json::to_string(&s3).unwrap()).unwrap();
    assert_eq!(s3, again);
    let sqs: SqsEvent = serde_json::from_str(fixture!("sqs_s3.json")).unwrap();
    assert_eq!(sqs.records.len(), 5);
}

#[test]
fn the_load_stage_hears_of_parquet_result_files_only() {
    use redscribe_core::events::normalize_results;
    let layout = Layout::default();
    // The same notifications, read by the load stage: only the Parquet result file is its work.
    let payload: serde_json::Value = serde_json::from_str(fixture!("s3_skips.json")).unwrap();
    let got = normalize_results(&payload, &layout).unwrap();
    let keys: Vec<&str> = got.objects.iter().map(|o| o.object.key.as_str()).collect();
    assert_eq!(keys, ["processed/transcription_results/dt=2026-11-23/abc-v1.parquet"]);
    let not_results: Vec<&str> =
        got.skipped.iter().filter(|s| s.reason == SkipReason::NotAResult).filter_map(|s| s.key.as_deref()).collect();
    for key in ["calls/empty.wav", "calls/keep.wav", "calls/gone.wav", "rejected/not_audio/dt=2026-11-23/abc-v1.json"] {
        assert!(not_results.contains(&key), "{key} in {not_results:?}");
    }
    // Folder markers keep their own reason.
    assert!(got.skipped.iter().any(|s| s.reason == SkipReason::FolderMarker));
}

#[test]
fn an_eventbridge_deletion_is_the_notification_s_removal() {
    let got = normalize_str(fixture!("eventbridge_object_deleted.json"), &Layout::default()).unwrap();
    let [deleted] = got.objects.as_slice() else { panic!("one object: {:?}", got.objects) };
    assert!(deleted.is_removal());
    assert_eq!(deleted.event_name, "ObjectRemoved:DeleteMarkerCreated");
    assert_eq!(deleted.object.sequencer.as_deref(), Some("00617F0A3B8C2A1F44"));
    assert_eq!(deleted.object.size, None);
    let permanent = fixture!("eventbridge_object_deleted.json").replace("Delete Marker Created", "Permanently Deleted");
    let got = normalize_str(&permanent, &Layout::default()).unwrap();
    assert_eq!(got.objects[0].event_name, "ObjectRemoved:Delete");
}
