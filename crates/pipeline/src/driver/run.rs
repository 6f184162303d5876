//! The driver's event loop. One task owns all the state: deliveries being admitted, units and how many of their
//! items are still open, recordings ready to process, work waiting out a backoff, the open batch. Admission and
//! processing run in spawned tasks (processing at most `concurrency` at once); loads run one at a time, in the
//! loop itself — one writer per table.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use redscribe_core::events::ObjectEvent;
use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::{Disposition, ErrorCode};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::admit::Admission;
use super::batch::{OpenBatch, Waiting};
use super::{Delivery, Driver, Item, Job, Listener, Settled};
use crate::load::LoadReport;
use crate::transcribe::{crash_message, Processed, ResultFile, TimeBudget};

/// Tries of a recording that fails with an internal error before it is quarantined (`retries_exhausted`), even
/// when the driver otherwise retries forever.
const INTERNAL_ATTEMPTS: u32 = 4;

/// Time kept at the end of an invocation after its last statement's deadline: to cancel a statement still
/// running and confirm it ended (the Data API adapter waits up to 10 s for that), then answer.
const STATEMENT_END_RESERVE: Duration = Duration::from_secs(15);

/// What a run did, in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub jobs: usize,
    pub retried: usize,
    pub batches: usize,
}

/// A delivery on its way in: whose it is and how many times its admission failed.
#[derive(Debug, Clone)]
struct Arriving<T> {
    token: T,
    delivery: Delivery,
    attempt: u32,
}

/// Work on its way: a delivery to admit, or an item with the unit it belongs to and how many times it failed.
#[derive(Debug, Clone)]
enum Work<T> {
    Admit(Arriving<T>),
    Process { job: u64, attempt: u32, event: ObjectEvent },
    Load(Waiting),
}

/// A unit of a job (an SQS message, or the job's records that came in none) with items still open.
struct Open<T> {
    token: T,
    message: Option<String>,
    outstanding: usize,
    retry: Option<PortError>,
}

struct State<T> {
    next_job: u64,
    jobs: HashMap<u64, Open<T>>,
    admitting: JoinSet<Result<Admission, PortError>>,
    arriving: HashMap<tokio::task::Id, Arriving<T>>,
    ready: VecDeque<(u64, u32, ObjectEvent)>,
    /// Work waiting out a backoff, by when it may go again (the counter keeps equal instants apart).
    waiting: BTreeMap<(Instant, u64), Work<T>>,
    waits: u64,
    running: JoinSet<(u64, u32, ObjectEvent, Result<Processed, PortError>)>,
    in_flight: HashMap<tokio::task::Id, (u64, u32, ObjectEvent)>,
    batch: OpenBatch,
    longest_load: Duration,
    totals: Totals,
}

impl<T> State<T> {
    fn new() -> State<T> {
        State {
            next_job: 0,
            jobs: HashMap::new(),
            admitting: JoinSet::new(),
            arriving: HashMap::new(),
            ready: VecDeque::new(),
            waiting: BTreeMap::new(),
            waits: 0,
            running: JoinSet::new(),
            in_flight: HashMap::new(),
            batch: OpenBatch::default(),
            longest_load: Duration::ZERO,
            totals: Totals::default(),
        }
    }

    /// Nothing is being processed or will be: what is in the open batch is all that will come.
    fn processing_idle(&self) -> bool {
        self.admitting.is_empty()
            && self.ready.is_empty()
            && self.running.is_empty()
            && !self.waiting.values().any(|w| matches!(w, Work::Process { .. } | Work::Admit(_)))
    }

    fn idle(&self) -> bool {
        self.processing_idle() && self.waiting.is_empty() && self.batch.is_empty()
    }

    /// One item of `job` is settled (`Some`: it still fails); the job too when it was its last.
    fn settle_item(&mut self, job: u64, failure: Option<PortError>, listener: &mut impl Listener<T>) {
        let Some(open) = self.jobs.get_mut(&job) else { return };
        if let Some(e) = failure {
            open.retry.get_or_insert(e);
        }
        open.outstanding = open.outstanding.saturating_sub(1);
        if open.outstanding == 0 {
            let open = self.jobs.remove(&job).expect("present");
            listener.settled(open.token, open.message, open.retry.map_or(Settled::Done, Settled::Retry));
        }
    }
}

impl<S: ObjectStore + 'static, W: Warehouse + 'static> Driver<S, W> {
    /// Runs until `input` is closed and every job it gave is settled.
    pub async fn run<T: Clone, L: Listener<T>>(
        &self,
        mut input: UnboundedReceiver<Job<T>>,
        listener: &mut L,
    ) -> Totals {
        let mut st = State::new();
        let mut open = true;
        loop {
            self.start_processing(&mut st, listener);
            let flush = !open && st.processing_idle();
            if st.batch.due(&self.config.batch, self.config.batch_age, flush) {
                self.load_batch(&mut st, listener).await;
                continue;
            }
            if !open && st.idle() {
                break;
            }
            let wake = [st.waiting.keys().next().map(|(t, _)| *t), st.batch.due_at(self.config.batch_age)]
                .into_iter()
                .flatten()
                .min();
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                job = input.recv(), if open => match job {
                    Some(job) => {
                        st.totals.jobs += 1;
                        self.start_admission(&mut st, Arriving { token: job.token, delivery: job.delivery, attempt: 0 });
                    }
                    None => open = false,
                },
                Some(joined) = st.admitting.join_next_with_id(), if !st.admitting.is_empty() => {
                    let (id, result) = match joined {
                        Ok((id, result)) => (id, result),
                        Err(e) => (e.id(), Err(PortError::new(ErrorCode::Internal, crash_message(e)))),
                    };
                    let arriving = st.arriving.remove(&id).expect("every admission is known");
                    self.admitted(&mut st, arriving, result, listener);
                }
                Some(joined) = st.running.join_next_with_id(), if !st.running.is_empty() => {
                    let finished = match joined {
                        Ok((id, (job, attempt, event, outcome))) => {
                            st.in_flight.remove(&id);
                            (job, attempt, event, outcome)
                        }
                        Err(e) => {
                            let (job, attempt, event) = st.in_flight.remove(&e.id()).expect("every task is known");
                            let outcome = self.crashed(&event, attempt, e).await;
                            (job, attempt, event, outcome)
                        }
                    };
                    self.processed(&mut st, finished, listener);
                }
                _ = tokio::time::sleep_until(wake.unwrap_or(far).into()), if wake.is_some() => self.wake(&mut st),
            }
        }
        st.totals
    }

    /// Runs over `jobs`, then returns: a one-shot pass.
    pub async fn run_all<T: Clone, L: Listener<T>>(&self, jobs: Vec<Job<T>>, listener: &mut L) -> Totals {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        for job in jobs {
            let _ = tx.send(job);
        }
        drop(tx);
        self.run(rx, listener).await
    }

    /// Admits a delivery in a task of its own ([`Driver::admit`]).
    fn start_admission<T>(&self, st: &mut State<T>, arriving: Arriving<T>) {
        let (driver, delivery) = (self.clone(), arriving.delivery.clone());
        let handle =
            st.admitting.spawn(async move { driver.admit(&delivery).await }.instrument(tracing::Span::current()));
        st.arriving.insert(handle.id(), arriving);
    }

    /// A delivery admitted: its units open with their items; what needed no work is told; a delivery that could
    /// not be admitted is tried again after a backoff, or settled to be delivered again.
    fn admitted<T: Clone>(
        &self,
        st: &mut State<T>,
        arriving: Arriving<T>,
        result: Result<Admission, PortError>,
        listener: &mut impl Listener<T>,
    ) {
        let admission = match result {
            Ok(admission) => admission,
            Err(e) => {
                tracing::warn!(
                    code = e.code.as_str(),
                    attempt = arriving.attempt,
                    "admitting a delivery failed: {}",
                    e.message
                );
                let next = Arriving { attempt: arriving.attempt + 1, ..arriving };
                return self.retry_later(st, Work::Admit(next), e, listener);
            }
        };
        listener.admitted(&admission.counts);
        for (event, outcome) in &admission.outcomes {
            listener.processed(event, outcome);
        }
        if admission.units.is_empty() {
            listener.settled(arriving.token, None, Settled::Done);
            return;
        }
        // Least suspect first (a stable sort: otherwise in message order).
        let mut units: Vec<_> = admission.units.into_iter().collect();
        units.sort_by_key(|(_, unit)| unit.suspicion);
        for (message, unit) in units {
            let id = st.next_job;
            st.next_job += 1;
            let open =
                Open { token: arriving.token.clone(), message, outstanding: unit.items.len(), retry: unit.failure };
            if unit.items.is_empty() {
                listener.settled(open.token, open.message, open.retry.map_or(Settled::Done, Settled::Retry));
                continue;
            }
            st.jobs.insert(id, open);
            for item in unit.items {
                match item {
                    Item::Recording(event) if self.stage.is_some() => st.ready.push_back((id, 0, event)),
                    Item::Result(file) if self.loader.is_some() => st.batch.push(Waiting { job: id, attempt: 0, file }),
                    // Work this driver cannot do is a wiring bug: the unit is handed back rather than lost.
                    _ => st.settle_item(
                        id,
                        Some(PortError::new(ErrorCode::Internal, "this driver has no stage for the item")),
                        listener,
                    ),
                }
            }
        }
    }

    /// Starts processing while there is room (at most `concurrency` recordings at once). Past the deadline (less
    /// the margin) nothing starts: what is left goes back, to be delivered again.
    fn start_processing<T>(&self, st: &mut State<T>, listener: &mut impl Listener<T>) {
        let Some(stage) = &self.stage else { return };
        let budget = TimeBudget {
            deadline: self.config.deadline.map(|d| d.checked_sub(self.config.margin).unwrap_or(d)),
            total: self.config.time_limit.map(|t| t.saturating_sub(self.config.margin)),
        };
        while st.running.len() < self.config.concurrency.max(1) {
            let Some((job, attempt, event)) = st.ready.pop_front() else { break };
            if budget.deadline.is_some_and(|d| Instant::now() >= d) {
                let e = PortError::new(ErrorCode::ServiceUnavailable, "no time left in the invocation to start it");
                st.settle_item(job, Some(e), listener);
                continue;
            }
            let (stage, task_event) = (stage.clone(), event.clone());
            // Each task logs inside the caller's span (in a Lambda, the invocation's, with its request id).
            let handle = st.running.spawn(
                async move {
                    let outcome = stage.process_attempt(&task_event, attempt + 1, budget).await;
                    (job, attempt, task_event, outcome)
                }
                .instrument(tracing::Span::current()),
            );
            st.in_flight.insert(handle.id(), (job, attempt, event));
        }
    }

    /// A processing task that panicked outside the stage's own guard: the recording is quarantined `crashed`.
    async fn crashed(
        &self,
        event: &ObjectEvent,
        attempt: u32,
        e: tokio::task::JoinError,
    ) -> Result<Processed, PortError> {
        let message = crash_message(e);
        tracing::error!(bucket = %event.object.bucket, key = %event.object.key, "processing crashed: {message}");
        match &self.stage {
            Some(stage) => stage.quarantine(event, attempt + 1, ErrorCode::Crashed, &message).await,
            None => Err(PortError::new(ErrorCode::Internal, message)),
        }
    }

    fn processed<T>(
        &self,
        st: &mut State<T>,
        (job, attempt, event, outcome): (u64, u32, ObjectEvent, Result<Processed, PortError>),
        listener: &mut impl Listener<T>,
    ) {
        listener.processed(&event, &outcome);
        match outcome {
            Ok(processed) => match processed.file().filter(|_| self.loader.is_some()) {
                Some(file) => st.batch.push(Waiting { job, attempt: 0, file: file.clone() }),
                // Nothing to load here (no loader, a part heard, a recording cut into parts): done.
                None => st.settle_item(job, None, listener),
            },
            // A bug of ours that this recording triggers every time: quarantined, not retried forever.
            Err(e) if e.code == ErrorCode::Internal && attempt + 1 >= INTERNAL_ATTEMPTS => {
                let Some(stage) = self.stage.clone() else { return st.settle_item(job, Some(e), listener) };
                tracing::error!(bucket = %event.object.bucket, key = %event.object.key, attempt, "internal error again: {}", e.message);
                let message = format!("an internal error, {} times: {}", attempt + 1, e.message);
                let task_event = event.clone();
                let handle = st.running.spawn(
                    async move {
                        let code = ErrorCode::RetriesExhausted;
                        let outcome = stage.quarantine(&task_event, attempt + 1, code, &message).await;
                        (job, attempt + 1, task_event, outcome)
                    }
                    .instrument(tracing::Span::current()),
                );
                st.in_flight.insert(handle.id(), (job, attempt + 1, event));
            }
            Err(e) => {
                tracing::warn!(bucket = %event.object.bucket, key = %event.object.key, code = e.code.as_str(), attempt, "processing failed: {}", e.message);
                self.retry_later(st, Work::Process { job, attempt: attempt + 1, event }, e, listener);
            }
        }
    }

    /// Puts work back after a backoff, or settles it as still failing when its attempts are used up or the wait
    /// would pass the deadline. A delivery that fails to be admitted for a reason no retry fixes (an internal
    /// error) is given up after [`INTERNAL_ATTEMPTS`] even when the driver otherwise retries forever.
    fn retry_later<T>(&self, st: &mut State<T>, work: Work<T>, e: PortError, listener: &mut impl Listener<T>) {
        let attempt = match &work {
            Work::Admit(a) => a.attempt,
            Work::Process { attempt, .. } => *attempt,
            Work::Load(w) => w.attempt,
        };
        let at = Instant::now() + self.config.retries.backoff.delay(attempt.saturating_sub(1));
        // One retry layer: a driver that tries only a few times (a Lambda invocation, a one-shot command) does not
        // multiply the adapter's retries — a call the adapter already retried to exhaustion goes back to the
        // caller at once. A driver that retries forever (`serve`) waits and tries again: it has no caller.
        // A missing grant or table is not fixed within seconds: a brief driver hands the work back at once.
        let blocked = e.code.disposition() == Disposition::Blocked;
        // A statement that may still commit is never followed by a second submission of its work, however the
        // driver retries: the work goes back, and a later delivery finds what it did in `load_audit`.
        let used_up = e.in_doubt
            || self.config.retries.attempts.is_some_and(|max| attempt >= max || e.exhausted || blocked)
            || (matches!(work, Work::Admit(_))
                && e.code.disposition().blames_the_item()
                && attempt >= INTERNAL_ATTEMPTS);
        let too_late = self.config.deadline.is_some_and(|d| at + self.config.margin > d);
        if used_up || too_late {
            match work {
                Work::Admit(a) => listener.settled(a.token, None, Settled::Retry(e)),
                Work::Process { job, .. } => st.settle_item(job, Some(e), listener),
                Work::Load(w) => st.settle_item(w.job, Some(e), listener),
            }
            return;
        }
        st.totals.retried += 1;
        st.waits += 1;
        st.waiting.insert((at, st.waits), work);
    }

    /// Work whose backoff is over goes again.
    fn wake<T>(&self, st: &mut State<T>) {
        let now = Instant::now();
        while let Some(entry) = st.waiting.first_entry() {
            if entry.key().0 > now {
                break;
            }
            match entry.remove() {
                Work::Admit(arriving) => self.start_admission(st, arriving),
                Work::Process { job, attempt, event } => st.ready.push_back((job, attempt, event)),
                Work::Load(w) => st.batch.push(w),
            }
        }
    }

    /// Loads the first batch of the open one, splitting around a file that fails for good; transient failures
    /// wait out a backoff. With a deadline, no batch starts that might not end before it.
    async fn load_batch<T>(&self, st: &mut State<T>, listener: &mut impl Listener<T>) {
        let Some(loader) = &self.loader else { return };
        let needed = self.config.margin.max(st.longest_load.mul_f64(1.5));
        if let Some(left) = self.config.deadline.map(|d| d.saturating_duration_since(Instant::now())) {
            if left < needed {
                tracing::info!(
                    left_ms = left.as_millis() as u64,
                    needed_ms = needed.as_millis() as u64,
                    "no time for another batch"
                );
                let e = PortError::new(ErrorCode::ServiceUnavailable, "no time left in the invocation for this batch");
                for w in st.batch.drain() {
                    st.settle_item(w.job, Some(e.clone()), listener);
                }
                return;
            }
        }
        let waiting = st.batch.take(&self.config.batch);
        // One file may wait for several jobs (announced twice): loaded once, settled for each.
        let mut owners: HashMap<String, Vec<Waiting>> = HashMap::new();
        let mut files: Vec<ResultFile> = Vec::new();
        for w in waiting {
            let uri = w.file.uri();
            if !owners.contains_key(&uri) {
                files.push(w.file.clone());
            }
            owners.entry(uri).or_default().push(w);
        }
        let started = Instant::now();
        // Statements end before the invocation does, with time to cancel one and see it end.
        let statements_end = self.config.deadline.map(|d| d.checked_sub(STATEMENT_END_RESERVE).unwrap_or(d));
        let isolated = loader.load_until(files, statements_end).await;
        st.longest_load = st.longest_load.max(started.elapsed());
        st.totals.batches += isolated.report.batches;
        listener.loaded(&isolated.report);
        let LoadReport { loaded, rejected, superseded, .. } = isolated.report;
        let settled = loaded.iter().chain(rejected.iter().chain(&superseded).map(|(f, _)| f));
        for file in settled {
            for w in owners.remove(&file.uri()).unwrap_or_default() {
                st.settle_item(w.job, None, listener);
            }
        }
        for (file, e) in isolated.failed {
            tracing::warn!(file = %file.uri(), code = e.code.as_str(), "load failed: {}", e.message);
            for w in owners.remove(&file.uri()).unwrap_or_default() {
                let next = Waiting { attempt: w.attempt + 1, ..w };
                self.retry_later(st, Work::Load(next), e.clone(), listener);
            }
        }
        // A file the loader neither loaded nor refused would be a bug there: its jobs are handed back, not lost.
        for w in owners.into_values().flatten() {
            let e = PortError::new(ErrorCode::Internal, format!("the load did not settle {}", w.file.uri()));
            st.settle_item(w.job, Some(e), listener);
        }
    }
}
