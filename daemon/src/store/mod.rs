//! The run store: runs, their event log and archived log lines, in one SQLite database.
//!
//! Every method is a short transaction run on tokio's blocking pool, so callers stay async.
//! The interface speaks only in domain types, so a PostgreSQL store can sit behind it.

mod rows;
mod schema;

use std::path::Path;
use std::sync::{Arc, Mutex};

use byok8s_proto::v1::{RunEvent, RunPhase};
use rusqlite::Connection;

use crate::run::RunRecord;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),

    #[error("stored run {id} is unreadable")]
    Corrupt {
        id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An idempotency key came again with a different submission.
    #[error("idempotency key already used for a different submission (run {id})")]
    KeyReused { id: String },

    /// An event for a run that has already finished; a finished run never changes.
    #[error("run {id} has already finished")]
    Finished { id: String },

    #[error("the store's worker thread stopped")]
    Worker(#[from] tokio::task::JoinError),
}

/// How far into one log (a container's, named `pod/container`) a run has read.
#[derive(Clone, Debug, PartialEq)]
pub struct LogCursor {
    pub log: String,
    pub lines: u64,
}

/// Which runs a listing returns.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub limit: usize,
    pub phases: Vec<RunPhase>,
    pub labels: Vec<(String, String)>,
    /// Whether each run's params object (its Snakemake config) is read too; without it the
    /// runs' `spec.config` is empty.
    pub with_params: bool,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let connection = Connection::open(path)?;
        schema::prepare(&connection)?;
        Ok(Store {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Stores a new run, unless the user already has one with the same idempotency key:
    /// then that run is returned with `true` and nothing is written.
    pub async fn insert_run(&self, run: RunRecord) -> Result<(RunRecord, bool), StoreError> {
        self.call(move |c| rows::insert_run(c, run)).await
    }

    pub async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let id = id.to_owned();
        self.call(move |c| rows::get_run(c, &id)).await
    }

    pub async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        self.call(move |c| rows::list_runs(c, &filter)).await
    }

    /// Appends one event and applies what it says (phase, progress) to the run, atomically.
    pub async fn append_event(
        &self,
        event: RunEvent,
        cursor: Option<LogCursor>,
    ) -> Result<(), StoreError> {
        self.call(move |c| rows::append_event(c, &event, cursor.as_ref()))
            .await
    }

    /// How many lines of a log have been read and recorded; 0 for a log never read.
    pub async fn log_position(&self, run_id: &str, log: &str) -> Result<u64, StoreError> {
        let (run_id, log) = (run_id.to_owned(), log.to_owned());
        self.call(move |c| rows::log_position(c, &run_id, &log))
            .await
    }

    /// The sequence number of the run's newest event; 0 when it has none or does not exist.
    pub async fn last_seq(&self, run_id: &str) -> Result<u64, StoreError> {
        let run_id = run_id.to_owned();
        self.call(move |c| rows::last_seq(c, &run_id)).await
    }

    /// Up to `limit` events of a run with sequence numbers above `after_seq`, in order.
    pub async fn events_after(
        &self,
        run_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError> {
        let run_id = run_id.to_owned();
        self.call(move |c| rows::events_after(c, &run_id, after_seq, limit))
            .await
    }

    /// Records a backend fact about a run that callers may see (pod, pid, storage prefix).
    pub async fn set_detail(&self, run_id: &str, key: &str, value: &str) -> Result<(), StoreError> {
        let (run_id, key, value) = (run_id.to_owned(), key.to_owned(), value.to_owned());
        self.call(move |c| rows::set_detail(c, &run_id, &key, &value))
            .await
    }

    async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves SQLite itself consistent (every write is
            // a transaction), so a poisoned lock is safe to keep using.
            let mut guard = connection
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            work(&mut guard)
        })
        .await?
    }
}

#[cfg(test)]
pub mod tests {
    use std::time::SystemTime;

    use byok8s_proto::v1::{PhaseChanged, Progress, run_event::Kind};

    use super::*;
    use crate::run::RunSpec;

    pub fn open_temp() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("test.db")).expect("open store");
        (dir, store)
    }

    pub fn record(id: &str, key: Option<&str>) -> RunRecord {
        let spec = RunSpec {
            workflow: "workflow-alpha".into(),
            params: "params-blue".into(),
            config: Default::default(),
            targets: vec!["target1".into()],
            snakefile: "Snakefile".into(),
            dry_run: false,
            force: false,
            labels: [("team".to_owned(), "blue".to_owned())].into(),
            namespace: String::new(),
        };
        RunRecord {
            idempotency_key: key.map(str::to_owned),
            digest: "d1".into(),
            ..RunRecord::queued(id.into(), "anonymous", spec, "local")
        }
    }

    /// The ids of up to ten runs as a plain listing returns them.
    async fn listed_ids(store: &Store) -> Vec<String> {
        let filter = RunFilter {
            limit: 10,
            ..Default::default()
        };
        let runs = store.list_runs(filter).await.unwrap();
        runs.into_iter().map(|run| run.id).collect()
    }

    impl Store {
        async fn append_event_now(&self, event: RunEvent) -> Result<(), StoreError> {
            self.append_event(event, None).await
        }
    }

    fn event(id: &str, seq: u64, kind: Kind) -> RunEvent {
        let time = Some(crate::timestamps::to_timestamp(SystemTime::now()));
        RunEvent {
            run_id: id.into(),
            seq,
            time,
            kind: Some(kind),
        }
    }

    fn phase(phase: RunPhase) -> Kind {
        Kind::Phase(PhaseChanged {
            phase: phase as i32,
            reason: format!("{phase:?}"),
        })
    }

    #[tokio::test]
    async fn a_stored_run_reads_back_unchanged() {
        let (_dir, store) = open_temp();
        let run = record("run-a", None);
        store.insert_run(run.clone()).await.unwrap();
        let mut read = store.get_run("run-a").await.unwrap().unwrap();
        // The store keeps microseconds.
        read.created_at = run.created_at;
        assert_eq!(read, run);
    }

    #[tokio::test]
    async fn a_repeated_idempotency_key_returns_the_first_run() {
        let (_dir, store) = open_temp();
        let (_, existing) = store.insert_run(record("run-a", Some("k1"))).await.unwrap();
        assert!(!existing);
        let (run, existing) = store.insert_run(record("run-b", Some("k1"))).await.unwrap();
        assert!(existing);
        assert_eq!(run.id, "run-a");
        assert!(store.get_run("run-b").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_reused_idempotency_key_with_other_inputs_is_refused() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", Some("k1"))).await.unwrap();
        let mut other = record("run-b", Some("k1"));
        other.digest = "d2".into();
        let refused = store.insert_run(other).await;
        assert!(matches!(refused, Err(StoreError::KeyReused { id }) if id == "run-a"));
    }

    #[tokio::test]
    async fn phase_and_progress_events_update_the_run() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        store
            .append_event_now(event("run-a", 1, phase(RunPhase::Running)))
            .await
            .unwrap();
        let progress = Kind::Progress(Progress { done: 2, total: 5 });
        store
            .append_event_now(event("run-a", 2, progress))
            .await
            .unwrap();
        store
            .append_event_now(event("run-a", 3, phase(RunPhase::Succeeded)))
            .await
            .unwrap();

        let run = store.get_run("run-a").await.unwrap().unwrap();
        assert_eq!(run.phase, RunPhase::Succeeded);
        assert_eq!(
            (run.progress_done, run.progress_total, run.last_seq),
            (2, 5, 3)
        );
        assert!(run.started_at.is_some() && run.finished_at.is_some());
    }

    #[tokio::test]
    async fn events_after_a_number_come_back_in_order() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        for seq in 1..=5 {
            store
                .append_event_now(event("run-a", seq, phase(RunPhase::Running)))
                .await
                .unwrap();
        }
        let seqs: Vec<u64> = store
            .events_after("run-a", 2, 2)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [3, 4]);
        assert_eq!(store.last_seq("run-a").await.unwrap(), 5);
    }

    #[tokio::test]
    async fn a_finished_run_refuses_another_phase_change() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        store
            .append_event_now(event("run-a", 1, phase(RunPhase::Succeeded)))
            .await
            .unwrap();
        let late = store
            .append_event_now(event("run-a", 2, phase(RunPhase::Cancelled)))
            .await;
        assert!(matches!(late, Err(StoreError::Finished { .. })));
        let run = store.get_run("run-a").await.unwrap().unwrap();
        assert_eq!((run.phase, run.last_seq), (RunPhase::Succeeded, 1));
    }

    #[tokio::test]
    async fn a_finished_run_refuses_any_later_event() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        store
            .append_event_now(event("run-a", 1, phase(RunPhase::Failed)))
            .await
            .unwrap();
        let progress = Kind::Progress(Progress { done: 1, total: 1 });
        let late = store.append_event_now(event("run-a", 2, progress)).await;
        assert!(matches!(late, Err(StoreError::Finished { .. })), "{late:?}");
        assert!(store.events_after("run-a", 1, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_corrupt_run_does_not_hide_the_others_from_a_listing() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        store.insert_run(record("run-b", None)).await.unwrap();
        store
            .call(|c| Ok(c.execute("UPDATE runs SET spec = 'not json' WHERE id = 'run-a'", [])?))
            .await
            .unwrap();
        assert_eq!(listed_ids(&store).await, ["run-b"]);
    }

    #[tokio::test]
    async fn huge_sequence_numbers_and_counts_do_not_fail() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        let progress = Kind::Progress(Progress {
            done: u64::MAX,
            total: u64::MAX,
        });
        store
            .append_event_now(event("run-a", 1, progress))
            .await
            .unwrap();
        assert!(
            store
                .events_after("run-a", u64::MAX, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_duplicate_sequence_number_is_refused() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        store
            .append_event_now(event("run-a", 1, phase(RunPhase::Running)))
            .await
            .unwrap();
        assert!(
            store
                .append_event_now(event("run-a", 1, phase(RunPhase::Running)))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn listings_follow_creation_time_where_ids_disagree() {
        let (_dir, store) = open_temp();
        let mut older = record("run-b", None);
        older.created_at -= std::time::Duration::from_micros(300);
        store.insert_run(older).await.unwrap();
        store.insert_run(record("run-a", None)).await.unwrap();

        assert_eq!(listed_ids(&store).await, ["run-a", "run-b"]);
    }

    #[tokio::test]
    async fn listings_filter_by_phase_and_label_newest_first() {
        let (_dir, store) = open_temp();
        for id in ["run-1", "run-2", "run-3"] {
            store.insert_run(record(id, None)).await.unwrap();
        }
        store
            .append_event_now(event("run-2", 1, phase(RunPhase::Running)))
            .await
            .unwrap();

        assert_eq!(listed_ids(&store).await, ["run-3", "run-2", "run-1"]);

        let running = RunFilter {
            limit: 10,
            phases: vec![RunPhase::Running],
            ..Default::default()
        };
        assert_eq!(store.list_runs(running).await.unwrap().len(), 1);
        let other_team = RunFilter {
            limit: 10,
            labels: vec![("team".into(), "red".into())],
            ..Default::default()
        };
        assert!(store.list_runs(other_team).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_limit_counts_only_runs_that_match() {
        let (_dir, store) = open_temp();
        for (id, team) in [
            ("run-1", "blue"),
            ("run-2", "red"),
            ("run-3", "blue"),
            ("run-4", "red"),
        ] {
            let mut run = record(id, None);
            run.spec.labels = [("team".to_owned(), team.to_owned())].into();
            store.insert_run(run).await.unwrap();
        }
        let blue = RunFilter {
            limit: 1,
            labels: vec![("team".into(), "blue".into())],
            ..Default::default()
        };
        let ids: Vec<_> = store
            .list_runs(blue)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["run-3"]);
    }

    #[tokio::test]
    async fn listings_leave_out_params_unless_asked() {
        let (_dir, store) = open_temp();
        let mut run = record("run-a", None);
        run.spec.config = serde_json::json!({"name": "blue"})
            .as_object()
            .unwrap()
            .clone();
        store.insert_run(run).await.unwrap();

        let listed = store
            .list_runs(RunFilter {
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(listed[0].spec.config.is_empty());
        assert_eq!(
            listed[0].spec.labels["team"], "blue",
            "the rest of the spec is there"
        );

        let full = RunFilter {
            limit: 1,
            with_params: true,
            ..Default::default()
        };
        let listed = store.list_runs(full).await.unwrap();
        assert_eq!(listed[0].spec.config["name"], "blue");
    }

    #[tokio::test]
    async fn a_label_filter_with_json_path_characters_is_only_a_string() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        for key in ["team\"", "$.team", "team[0]", "a.b"] {
            let filter = RunFilter {
                limit: 10,
                labels: vec![(key.into(), "blue".into())],
                ..Default::default()
            };
            assert!(store.list_runs(filter).await.unwrap().is_empty(), "{key}");
        }
    }

    #[tokio::test]
    async fn a_log_position_advances_with_its_events() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        assert_eq!(store.log_position("run-a", "pod/c").await.unwrap(), 0);
        for (seq, lines) in [(1, 3), (2, 7)] {
            let cursor = LogCursor {
                log: "pod/c".into(),
                lines,
            };
            store
                .append_event(event("run-a", seq, phase(RunPhase::Running)), Some(cursor))
                .await
                .unwrap();
        }
        assert_eq!(store.log_position("run-a", "pod/c").await.unwrap(), 7);
        assert_eq!(store.log_position("run-a", "pod/other").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn details_accumulate_per_key() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        store.set_detail("run-a", "pid", "42").await.unwrap();
        store.set_detail("run-a", "pod", "p-1").await.unwrap();
        let run = store.get_run("run-a").await.unwrap().unwrap();
        assert_eq!(run.details["pid"], "42");
        assert_eq!(run.details["pod"], "p-1");
    }
}
