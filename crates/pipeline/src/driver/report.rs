//! The one summary of a run, for every front end: the Lambdas answer from it (`batchItemFailures`, or counts),
//! the one-shot commands print it, the tests compare it. It is a [`Listener`] that keeps everything it hears.

use std::collections::BTreeMap;

use redscribe_core::events::ObjectEvent;
use redscribe_core::ports::PortError;
use redscribe_core::ErrorCode;

use super::{Admitted, Listener, Settled};
use crate::load::LoadReport;
use crate::transcribe::Processed;

/// What processing a recording gave: a result (written, or quarantined), or a transient failure to retry.
pub type Outcome = (ObjectEvent, Result<Processed, PortError>);

/// A recording's version: bucket, key, version id, sequencer.
type Version = (String, String, Option<String>, Option<String>);

/// What a run did.
#[derive(Debug)]
pub struct Report<T> {
    /// The last outcome of each recording (by bucket, key, version and sequencer: a recording retried within the
    /// run appears once).
    outcomes: BTreeMap<Version, Outcome>,
    /// Files loaded and refused, and the COPY statements it took.
    pub load: LoadReport,
    /// What needed no work.
    pub admitted: Admitted,
    /// How each unit settled, in the order it did: the job's token, the SQS message (`None`: the job's records
    /// that came in none).
    pub settled: Vec<(T, Option<String>, Settled)>,
}

impl<T> Default for Report<T> {
    fn default() -> Report<T> {
        Report {
            outcomes: BTreeMap::new(),
            load: LoadReport::default(),
            admitted: Admitted::default(),
            settled: Vec::new(),
        }
    }
}

impl<T> Listener<T> for Report<T> {
    fn admitted(&mut self, counts: &Admitted) {
        self.admitted.add(counts);
    }

    fn processed(&mut self, event: &ObjectEvent, outcome: &Result<Processed, PortError>) {
        let key = (
            event.object.bucket.clone(),
            event.object.key.clone(),
            event.object.version_id.clone(),
            event.object.sequencer.clone(),
        );
        self.outcomes.insert(key, (event.clone(), outcome.clone()));
    }

    fn loaded(&mut self, report: &LoadReport) {
        self.load.add(report);
    }

    fn settled(&mut self, token: T, message: Option<String>, settled: Settled) {
        self.settled.push((token, message, settled));
    }
}

impl<T> Report<T> {
    /// The last outcome of each recording.
    pub fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.values()
    }

    /// Result files written, quarantined ones included.
    pub fn files(&self) -> impl Iterator<Item = &Processed> {
        self.outcomes().filter_map(|(_, r)| r.as_ref().ok()).filter(|p| p.file().is_some())
    }

    /// Recordings cut into parts (their rows come as their last parts are heard), and parts heard.
    pub fn parted(&self) -> (usize, usize) {
        let ok = || self.outcomes().filter_map(|(_, r)| r.as_ref().ok());
        let split = ok().filter(|p| matches!(p, Processed::Split { .. })).count();
        (split, ok().filter(|p| matches!(p, Processed::Part { .. })).count())
    }

    /// Recordings written (`metadata_only` or `transcribed`).
    pub fn written(&self) -> usize {
        self.files().filter(|p| matches!(p, Processed::Written(_))).count()
    }

    /// Recordings quarantined, by code.
    pub fn quarantined(&self) -> BTreeMap<ErrorCode, usize> {
        let mut by_code = BTreeMap::new();
        for p in self.files() {
            if let Processed::Quarantined { code, .. } = p {
                *by_code.entry(*code).or_default() += 1;
            }
        }
        by_code
    }

    /// Units to deliver again, with the first failure of each.
    pub fn to_retry(&self) -> impl Iterator<Item = (&T, Option<&str>, &PortError)> {
        self.settled.iter().filter_map(|(t, m, s)| match s {
            Settled::Retry(e) => Some((t, m.as_deref(), e)),
            Settled::Done => None,
        })
    }

    /// SQS messages to deliver again; `Err` when records that came in no message must be (the whole delivery).
    pub fn retry_messages(&self) -> Result<Vec<String>, PortError> {
        let mut messages = Vec::new();
        for (_, message, e) in self.to_retry() {
            match message {
                Some(m) => messages.push(m.to_string()),
                None => return Err(e.clone()),
            }
        }
        messages.sort();
        messages.dedup();
        Ok(messages)
    }
}

impl<T: PartialEq> Report<T> {
    /// Whether every unit of job `token` settled [`Settled::Done`] (and at least one did): its delivery can be
    /// acknowledged.
    pub fn done(&self, token: &T) -> bool {
        let mut units = self.settled.iter().filter(|(t, _, _)| t == token).peekable();
        units.peek().is_some() && units.all(|(_, _, s)| *s == Settled::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry() -> Settled {
        Settled::Retry(PortError::new(ErrorCode::Throttled, "slow down"))
    }

    #[test]
    fn sqs_messages_come_back_alone_and_records_of_no_message_fail_the_delivery() {
        let mut report = Report::<()>::default();
        report.settled((), Some("m-2".into()), retry());
        report.settled((), Some("m-1".into()), Settled::Done);
        report.settled((), Some("m-2".into()), retry());
        assert_eq!(report.retry_messages().unwrap(), ["m-2"], "each message once");
        report.settled((), None, retry());
        assert_eq!(report.retry_messages().unwrap_err().code, ErrorCode::Throttled, "a direct invocation fails whole");
    }

    #[test]
    fn a_job_is_done_when_every_unit_of_it_is() {
        let mut report = Report::<u64>::default();
        assert!(!report.done(&1), "a job not settled is not done");
        report.settled(1, Some("a".into()), Settled::Done);
        report.settled(2, None, Settled::Done);
        assert!(report.done(&1) && report.done(&2));
        report.settled(1, Some("b".into()), retry());
        assert!(!report.done(&1), "one unit of it still fails");
        assert_eq!(report.to_retry().map(|(t, m, _)| (*t, m)).collect::<Vec<_>>(), [(1, Some("b"))]);
    }
}
