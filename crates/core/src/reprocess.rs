//! Hearing history again (`redscribe reprocess`): which rows a reprocess selects, and the request that asks the
//! transcribe stage to hear one recording version again.
//!
//! A reprocess is one *generation* (its start, Unix milliseconds). Each recording it selects is heard again as an
//! event of the version its row answers — the row's own sequencer, ETag and version id — carrying that generation,
//! so the load keeps the new row over the old one of the same version (`load::load_statements`: sequencer, then an
//! answer over a failure, then the generation), while a newer upload (a later sequencer, other bytes) still wins
//! over any reprocess.

use chrono::{DateTime, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::events::{ObjectEvent, ObjectVersion};
use crate::identity::ID_LEN;
use crate::sql::{literal, starts_with, Identifier};
use crate::CoreError;

/// A request to hear one recording version again, as `redscribe reprocess` writes it under
/// `manifests/reprocess/<generation>/` (`Layout::reprocess_request_key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReprocessRequest {
    /// The version as its row knows it, with the reprocess's generation.
    pub recording: ObjectEvent,
    /// The model the reprocess is for (`base`, `whisper-base`); a transcriber of another model refuses it.
    pub model: Option<String>,
}

/// Whether two spellings name one model (`base` and `whisper-base`).
pub fn same_model(a: &str, b: &str) -> bool {
    let bare = |m: &str| m.trim().to_ascii_lowercase().trim_start_matches("whisper-").to_string();
    bare(a) == bare(b)
}

/// Which date a reprocess's `--since`/`--until` are of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOf {
    /// When the recording was uploaded (`uploaded_at`).
    Upload,
    /// When its row was processed (`processed_at`).
    Processing,
}

impl DateOf {
    const fn column(self) -> &'static str {
        match self {
            DateOf::Upload => "uploaded_at",
            DateOf::Processing => "processed_at",
        }
    }
}

/// What a reprocess selects: rows whose date is within `since..=until` (whole UTC days, both inclusive), whose key
/// starts with `prefix`, among `ids` when a condition chose them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub date_of: DateOf,
    pub prefix: Option<String>,
}

/// The columns a selection reads of each row, in the order [`version_of`] takes them: the version, and the upload
/// time as seconds since the epoch (the new row keeps it; a number reads the same from every warehouse).
const COLUMNS: &str =
    "\"id\", \"bucket\", \"object_key\", \"object_version\", \"etag\", \"sequencer\", \"size_bytes\", \
                       EXTRACT(EPOCH FROM \"uploaded_at\")";

impl Selection {
    /// The `SELECT` of the rows it names, in `table`, among `ids` when given (at most a few hundred: the caller
    /// chunks them).
    pub fn query(&self, table: &Identifier, ids: Option<&[String]>) -> Result<String, CoreError> {
        // An erased recording's tombstone is nothing to hear again.
        let mut conditions = vec!["\"status\" <> 'erased'".to_string()];
        let column = self.date_of.column();
        if let Some(since) = self.since {
            conditions.push(format!("\"{column}\" >= {}", literal(&format!("{since} 00:00:00+00"))?));
        }
        if let Some(until) = self.until {
            let after = until.checked_add_days(Days::new(1)).ok_or_else(|| CoreError::Config("--until".into()))?;
            conditions.push(format!("\"{column}\" < {}", literal(&format!("{after} 00:00:00+00"))?));
        }
        if let Some(prefix) = self.prefix.as_deref().filter(|p| !p.is_empty()) {
            conditions.push(starts_with("object_key", prefix)?);
        }
        if let Some(ids) = ids {
            for id in ids {
                let valid = id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit());
                if !valid {
                    return Err(CoreError::Config(format!("{id:?} is not a recording id")));
                }
            }
            let list = ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(", ");
            conditions.push(if ids.is_empty() { "FALSE".into() } else { format!("\"id\" IN ({list})") });
        }
        Ok(format!("SELECT {COLUMNS} FROM {table} WHERE {} ORDER BY \"id\"", conditions.join(" AND ")))
    }
}

/// The `SELECT` of the ids a user's condition names, run as a statement of its own (the condition is the user's
/// SQL over the table, in their warehouse; it reaches no statement of the load).
pub fn ids_where(table: &Identifier, condition: &str) -> Result<String, CoreError> {
    if condition.contains(';') {
        return Err(CoreError::Config("--where is one condition, without ';'".into()));
    }
    Ok(format!("SELECT \"id\" FROM {table} WHERE ({condition})"))
}

/// The event that hears again the recording version a selected row answers (its columns in [`Selection::query`]'s
/// order), in the reprocess of `generation`: its id and the event, or why not.
pub fn event_of(row: &[Option<String>], generation: i64) -> Result<(String, ObjectEvent), String> {
    let cell = |i: usize| row.get(i).cloned().flatten();
    let id = cell(0).ok_or("a row without an id")?;
    let (bucket, key) = (cell(1).ok_or("a row without a bucket")?, cell(2).ok_or("a row without a key")?);
    let size = match cell(6) {
        Some(s) => Some(s.parse::<i64>().map_err(|_| format!("size_bytes {s:?}"))?),
        None => None,
    };
    let object = ObjectVersion {
        version_id: cell(3),
        etag: cell(4),
        sequencer: cell(5),
        size,
        ..ObjectVersion::new(&bucket, &key)
    };
    let uploaded_at = match cell(7) {
        Some(s) => {
            let seconds: f64 = s.parse().map_err(|_| format!("uploaded_at {s:?}"))?;
            DateTime::from_timestamp_micros((seconds * 1e6).round() as i64)
        }
        None => None,
    };
    Ok((id, ObjectEvent { event_time: uploaded_at, generation: Some(generation), ..ObjectEvent::of(object) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Identifier {
        Identifier::parse("transcription_results").unwrap()
    }

    #[test]
    fn a_selection_is_whole_days_both_inclusive() {
        let s = Selection {
            since: NaiveDate::from_ymd_opt(2026, 11, 1),
            until: NaiveDate::from_ymd_opt(2026, 11, 30),
            date_of: DateOf::Upload,
            prefix: Some("in/sales_100%/".into()),
        };
        let sql = s.query(&table(), None).unwrap();
        assert!(sql.contains("\"uploaded_at\" >= '2026-11-01 00:00:00+00'"), "{sql}");
        assert!(sql.contains("\"uploaded_at\" < '2026-12-01 00:00:00+00'"), "the last day whole: {sql}");
        assert!(sql.contains("LEFT(\"object_key\", 14) = 'in/sales_100%/'"), "{sql}");
        assert!(sql.contains("\"status\" <> 'erased'"), "a tombstone is not heard again: {sql}");
        let by_processing = Selection { date_of: DateOf::Processing, prefix: None, ..s.clone() };
        assert!(by_processing.query(&table(), None).unwrap().contains("\"processed_at\" >= "));
        let id = "a".repeat(ID_LEN);
        assert!(s.query(&table(), Some(std::slice::from_ref(&id))).unwrap().contains(&format!("\"id\" IN ('{id}')")));
        assert!(s.query(&table(), Some(&[])).unwrap().contains("FALSE"), "a condition that chose nothing");
        assert!(s.query(&table(), Some(&["x' OR '1'='1".into()])).is_err());
    }

    #[test]
    fn a_condition_is_one_statement_and_rows_give_versions() {
        assert_eq!(
            ids_where(&table(), "agent_id = '042'").unwrap(),
            "SELECT \"id\" FROM \"transcription_results\" WHERE (agent_id = '042')"
        );
        assert!(ids_where(&table(), "true; drop table x").is_err());
        let row = ["id1", "b", "in/a.wav", "v1", "e1", "0A", "42", "1796116500.25"].map(|v| Some(v.to_string()));
        let (id, event) = event_of(&row, 7).unwrap();
        assert_eq!((id.as_str(), event.object.sequencer.as_deref(), event.object.size), ("id1", Some("0A"), Some(42)));
        assert_eq!(event.event_time.unwrap().to_rfc3339(), "2026-12-01T09:15:00.250+00:00");
        assert_eq!(event.generation, Some(7));
        assert!(same_model("base", "whisper-base") && !same_model("tiny.en", "whisper-base"));
    }
}
