//! The journal of route runs: every run of this server (HTTP, replay, backfill), which
//! image it was about, and how it ended, so the console's image page can list the events it
//! produced and its queue page what is in flight. The dispatcher writes it. Bounded (the
//! oldest entries go first) and in memory only: it is a view for a person at the console, not
//! a ledger, and nothing decides anything from it.

use crate::domain::WireOutcome;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Finished entries kept; about 300 bytes each.
const MAX_ENTRIES: usize = 5_000;

/// One route run of one event.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// When the run started (UTC, `2026-12-07 04:21:29.523`: sorts as text).
    pub(crate) at: String,
    pub(crate) event_id: String,
    /// The CloudEvent type, or the pipeline event type a Pub/Sub message carries.
    pub(crate) event_type: String,
    pub(crate) route: String,
    /// The source image the event is about (a derived object's source, when it names one).
    pub(crate) bucket: String,
    pub(crate) name: String,
    /// `None` while the run is in flight.
    pub(crate) outcome: Option<WireOutcome>,
    pub(crate) detail: String,
    pub(crate) elapsed_ms: u64,
}

/// The journal; one per process, shared by every worker through `AppState`.
#[derive(Debug, Default)]
pub struct Journal {
    next_id: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    in_flight: BTreeMap<u64, Entry>,
    finished: VecDeque<Entry>,
}

/// What the journal notes when a run starts (the dispatcher fills it from the event).
#[derive(Debug, Clone, Default)]
pub struct RunStart {
    pub event_id: String,
    /// The CloudEvent type, or the pipeline event type a Pub/Sub message carries.
    pub event_type: String,
    pub route: String,
    /// The source image the event is about (a derived object's source, when it names one).
    pub bucket: String,
    pub name: String,
}

/// A run in flight; hand it back to [`Journal::finish`].
#[derive(Debug)]
pub struct Flight {
    id: u64,
    started: Instant,
}

impl Journal {
    /// Notes that a route started on an event.
    pub fn begin(&self, start: RunStart) -> Flight {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            at: now_text(),
            event_id: start.event_id,
            event_type: start.event_type,
            route: start.route,
            bucket: start.bucket,
            name: start.name,
            outcome: None,
            detail: String::new(),
            elapsed_ms: 0,
        };
        if let Ok(mut inner) = self.inner.lock() {
            inner.in_flight.insert(id, entry);
        }
        Flight {
            id,
            started: Instant::now(),
        }
    }

    /// Notes how the run ended.
    pub fn finish(&self, flight: Flight, outcome: WireOutcome, detail: &str) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let Some(mut entry) = inner.in_flight.remove(&flight.id) else {
            return;
        };
        entry.outcome = Some(outcome);
        detail.clone_into(&mut entry.detail);
        entry.elapsed_ms = u64::try_from(flight.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if inner.finished.len() >= MAX_ENTRIES {
            inner.finished.pop_front();
        }
        inner.finished.push_back(entry);
    }

    /// Runs in flight now, oldest first.
    pub(crate) fn in_flight(&self) -> Vec<Entry> {
        self.inner
            .lock()
            .map(|inner| inner.in_flight.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every run about one image (finished and in flight), by start, oldest first.
    pub(crate) fn for_image(&self, bucket: &str, name: &str) -> Vec<Entry> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        let about = |e: &&Entry| e.bucket == bucket && e.name == name;
        let mut entries: Vec<Entry> = inner.finished.iter().filter(about).cloned().collect();
        entries.extend(inner.in_flight.values().filter(about).cloned());
        entries.sort_by(|a, b| a.at.cmp(&b.at));
        entries
    }

    /// The latest finished runs that answered `retry` (their deliveries wait for a backoff).
    pub(crate) fn recent_retries(&self, limit: usize) -> Vec<Entry> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        inner
            .finished
            .iter()
            .rev()
            .filter(|e| e.outcome == Some(WireOutcome::Retry))
            .take(limit)
            .cloned()
            .collect()
    }
}

fn now_text() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn start(id: &str, name: &str) -> RunStart {
        RunStart {
            event_id: id.to_owned(),
            event_type: "google.cloud.storage.object.v1.finalized".to_owned(),
            route: "resize".to_owned(),
            bucket: "uploads".to_owned(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn a_run_is_in_flight_until_it_finishes_with_its_outcome() {
        let journal = Journal::default();

        let flight = journal.begin(start("e1", "a.jpg"));
        let during = journal.in_flight();
        journal.finish(flight, WireOutcome::Processed, "wrote 3 outputs");

        assert_eq!(during.len(), 1);
        assert_eq!(during[0].outcome, None);
        assert!(journal.in_flight().is_empty());
        let done = journal.for_image("uploads", "a.jpg");
        assert_eq!(done[0].outcome, Some(WireOutcome::Processed));
        assert_eq!(done[0].detail, "wrote 3 outputs");
    }

    #[test]
    fn an_images_runs_are_listed_apart_from_other_images() {
        let journal = Journal::default();

        for (id, name) in [("e1", "a.jpg"), ("e2", "a.jpg"), ("e3", "b.jpg")] {
            let flight = journal.begin(start(id, name));
            journal.finish(flight, WireOutcome::Processed, "");
        }

        let ids: Vec<String> = journal
            .for_image("uploads", "a.jpg")
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(ids, ["e1", "e2"]);
    }

    #[test]
    fn the_journal_keeps_only_the_latest_entries() {
        let journal = Journal::default();

        for i in 0..=MAX_ENTRIES {
            let flight = journal.begin(start(&format!("e{i}"), "a.jpg"));
            journal.finish(flight, WireOutcome::Processed, "");
        }

        let entries = journal.for_image("uploads", "a.jpg");
        assert_eq!(entries.len(), MAX_ENTRIES);
        assert!(
            entries.iter().all(|e| e.event_id != "e0"),
            "the oldest went"
        );
    }
}
