use super::*;

fn event(ms: i64, message: serde_json::Value) -> LogEvent {
    LogEvent { timestamp_ms: ms, message: message.to_string(), log_stream: "2026/12/03/[$LATEST]abc".into() }
}

fn events() -> Vec<LogEvent> {
    vec![
        event(
            1_000,
            serde_json::json!({"message": "processed", "status": "transcribed", "key": "a.wav", "processing_ms": 900, "span": {"requestId": "r-1"}}),
        ),
        event(
            2_000,
            serde_json::json!({"message": "processed", "status": "failed", "stage": "decode", "error_code": "not_audio", "key": "b.txt", "processing_ms": 12, "span": {"requestId": "r-1"}}),
        ),
        event(
            3_000,
            serde_json::json!({"message": "processing failed: SlowDown", "code": "throttled", "key": "c.wav", "attempt": 1}),
        ),
        event(
            4_000,
            serde_json::json!({"message": "processed", "status": "failed", "stage": "decode", "error_code": "not_audio", "key": "d.bin", "processing_ms": 30, "tags": ["x", "y"]}),
        ),
        LogEvent {
            timestamp_ms: 5_000,
            message: "REPORT RequestId: r-1 Duration: 10.00 ms".into(),
            log_stream: "s".into(),
        },
    ]
}

fn run(query: &str) -> Vec<Row> {
    Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}")).run(&events())
}

fn column(rows: &[Row], name: &str) -> Vec<String> {
    rows.iter().filter_map(|r| r.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())).collect()
}

#[test]
fn filter_sort_and_limit_pick_the_slowest_of_what_matches() {
    let rows = run("fields key, processing_ms | filter message = \"processed\" | sort processing_ms desc | limit 2");
    assert_eq!(column(&rows, "key"), ["a.wav", "d.bin"]);
    assert_eq!(rows[0], [("key".into(), "a.wav".into()), ("processing_ms".into(), "900".into())]);
    // Ascending, and numbers compared as numbers (12 before 30 before 900).
    let rows = run("fields key | filter ispresent(processing_ms) | sort processing_ms asc");
    assert_eq!(column(&rows, "key"), ["b.txt", "d.bin", "a.wav"]);
}

#[test]
fn nested_fields_are_discovered_with_dots_and_backticks_quote_them() {
    let rows = run("fields key | filter `span.requestId` = \"r-1\" | sort @timestamp asc");
    assert_eq!(column(&rows, "key"), ["a.wav", "b.txt"]);
    assert_eq!(column(&run("fields key | filter tags.1 = \"y\""), "key"), ["d.bin"]);
}

#[test]
fn stats_groups_by_computed_fields_and_counts() {
    let rows = run("filter (message = \"processed\" and status = \"failed\") or message like /^processing failed/
         | fields coalesce(stage, \"retry\") as at, coalesce(error_code, code) as reason
         | stats count(*) as recordings by at, reason | sort recordings desc");
    assert_eq!(
        rows,
        [
            vec![
                ("at".into(), "decode".into()),
                ("reason".into(), "not_audio".into()),
                ("recordings".into(), "2".into())
            ],
            vec![
                ("at".into(), "retry".into()),
                ("reason".into(), "throttled".into()),
                ("recordings".into(), "1".into())
            ],
        ]
    );
    let rows = run("stats avg(processing_ms) as mean, max(processing_ms), pct(processing_ms, 50), count(key)");
    assert_eq!(
        rows,
        [vec![
            ("mean".into(), "314".into()),
            ("max(processing_ms)".into(), "900".into()),
            ("pct(processing_ms,50)".into(), "30".into()),
            ("count(key)".into(), "4".into()),
        ]]
    );
}

#[test]
fn without_fields_a_query_shows_timestamp_and_message_and_text_lines_are_events_too() {
    let rows = run("filter @message like \"REPORT\"");
    assert_eq!(
        rows,
        [vec![
            ("@timestamp".into(), "1970-01-01 00:00:05.000".into()),
            ("@message".into(), "REPORT RequestId: r-1 Duration: 10.00 ms".into()),
        ]]
    );
    // not, not like, in, and comments.
    let rows = run("# the failures but the undecodable\nfields key | filter status = \"failed\" # inline\n| filter error_code not in [\"x\"] and not key like /^b/");
    assert_eq!(column(&rows, "key"), ["d.bin"]);
}

#[test]
fn what_is_not_read_here_is_an_error_that_names_it() {
    for (query, says) in [
        ("fields a | parse @message \"* *\" as x, y", "the command `parse`"),
        ("filter a = 1 |", "an empty command"),
        ("filter bin(a) = 1", "the function `bin`"),
        ("stats median(a)", "the aggregate `median`"),
        ("filter a = \"open", "never closed"),
        ("filter a like /(/", "regular expression"),
        ("fields a + 1", "unexpected '+'"),
        ("limit 0", "limit takes a whole number"),
        ("filter a = 1 b", "after a complete command"),
    ] {
        let e = Query::parse(query).expect_err(query).to_string();
        assert!(e.contains(says), "{query}: {e}");
    }
}
