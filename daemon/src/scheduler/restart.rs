//! The scheduler across daemon restarts: picking up the runs a previous daemon left, and
//! stopping the runs of this one when it shuts down.

use std::time::Duration;

use byok8s_proto::v1::RunPhase;

use super::Scheduler;
use crate::backend::{StopRequest, local};
use crate::error::Error;
use crate::run::RunRecord;
use crate::store::RunFilter;

impl Scheduler {
    /// Brings the store in line with a fresh start: runs that were executing when the daemon
    /// stopped are re-attached where the backend keeps them going, and interrupted (their
    /// leftover processes killed) where it does not; queued runs are queued again.
    pub async fn recover(&self) -> Result<(), Error> {
        let filter = RunFilter {
            limit: usize::MAX,
            phases: vec![RunPhase::Queued, RunPhase::Running],
            labels: vec![],
            // Queued runs start from these records.
            with_params: true,
        };
        let mut runs = self.inner.store.list_runs(filter).await?;
        runs.reverse();
        let in_flight: Vec<String> = runs.iter().map(|run| run.id.clone()).collect();
        self.inner.backend.sweep(&in_flight).await;

        // Executing runs first, so that they take the free slots before queued runs wait for
        // them.
        let (executing, queued): (Vec<_>, Vec<_>) = runs
            .into_iter()
            .partition(|run| run.phase == RunPhase::Running);
        for run in executing {
            self.recover_executing(run).await?;
        }
        for run in queued {
            if let Some(reason) = self.foreign_backend(&run) {
                self.interrupt(&run, &reason).await?;
                continue;
            }
            tracing::info!(run_id = %run.id, "queueing again after restart");
            let registration = self.register(&run.id);
            self.spawn(run, registration);
        }
        Ok(())
    }

    async fn recover_executing(&self, run: RunRecord) -> Result<(), Error> {
        if let Some(reason) = self.foreign_backend(&run) {
            return self.interrupt(&run, &reason).await;
        }
        if self.inner.backend.runs_survive_restarts() {
            tracing::info!(run_id = %run.id, "re-attaching after restart");
            let mut registration = self.register(&run.id);
            registration.slot = self.inner.slots.clone().try_acquire_owned().ok();
            self.spawn(run, registration);
            return Ok(());
        }
        local::kill_leftovers(&self.inner.config.runs_dir, &run);
        self.interrupt(&run, "byok8sd stopped while the run was in flight")
            .await
    }

    /// Why a run cannot continue on this daemon's backend, if it was submitted to another.
    fn foreign_backend(&self, run: &RunRecord) -> Option<String> {
        let backend = self.inner.backend.name();
        (run.backend != backend).then(|| {
            format!(
                "byok8sd restarted with the {backend} backend; the run was on the {} backend",
                run.backend
            )
        })
    }

    async fn interrupt(&self, run: &RunRecord, reason: &str) -> Result<(), Error> {
        tracing::warn!(run_id = %run.id, reason, "run interrupted");
        self.emit_phase(&run.id, RunPhase::Interrupted, reason)
            .await
    }

    /// Stops every run this daemon drives (executing ones end interrupted, queued ones stay
    /// queued), refuses new ones, and waits for the runs' tasks to finish.
    pub async fn shutdown(&self, wait: Duration) {
        {
            let mut registry = self.registry();
            registry.stopping = true;
            for run in registry.runs.values() {
                run.stop.send_replace(Some(StopRequest::Shutdown));
            }
        }
        self.inner.tasks.close();
        if tokio::time::timeout(wait, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some runs did not stop in time");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use byok8s_proto::v1::SubmitRequest;

    use super::*;
    use crate::backend::Backend;
    use crate::backend::local::LocalBackend;
    use crate::bundle::BundleLimits;
    use crate::error::Error;
    use crate::events::EventLog;
    use crate::scheduler::SchedulerConfig;
    use crate::store::Store;
    use crate::store::tests::record;
    use crate::submission::SubmissionLimits;

    /// A scheduler on the local backend whose Snakemake never runs in these tests.
    pub(crate) fn scheduler(dir: &Path, slots: usize) -> Scheduler {
        let store = Store::open(&dir.join("byok8sd.db")).unwrap();
        let events = EventLog::new(store.clone());
        let bundle = BundleLimits {
            max_unpacked_bytes: 1 << 20,
            max_entries: 100,
        };
        let backend = Backend::Local(LocalBackend {
            snakemake: "snakemake-is-not-run-here".into(),
            cores: 1,
            runs_dir: dir.join("runs"),
            python_path: dir.join("python"),
            grace: Duration::from_secs(1),
            bundle_limits: bundle,
        });
        let config = SchedulerConfig {
            max_concurrent_runs: slots,
            runs_dir: dir.join("runs"),
            limits: SubmissionLimits {
                max_bundle_bytes: 1 << 20,
                bundle,
            },
            cancel_wait: Duration::from_secs(5),
        };
        Scheduler::new(store, events, backend, config)
    }

    #[tokio::test]
    async fn a_stopping_daemon_refuses_new_runs_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let scheduler = scheduler(dir.path(), 1);
        scheduler.shutdown(Duration::from_secs(1)).await;

        let refused = scheduler
            .submit("anonymous", SubmitRequest::default())
            .await;

        assert!(matches!(refused, Err(Error::ShuttingDown)), "{refused:?}");
        let filter = RunFilter {
            limit: 10,
            ..Default::default()
        };
        assert!(scheduler.list(filter).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_run_registered_while_stopping_is_told_to_stop_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let scheduler = scheduler(dir.path(), 1);
        scheduler.shutdown(Duration::from_secs(1)).await;

        let registration = scheduler.register("run-late");

        assert_eq!(*registration.signal.borrow(), Some(StopRequest::Shutdown));
    }

    #[tokio::test]
    async fn runs_left_by_another_backend_are_interrupted_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let scheduler = scheduler(dir.path(), 1);
        let mut run = record("run-k", None);
        run.backend = "kubernetes".into();
        scheduler.inner.store.insert_run(run).await.unwrap();

        scheduler.recover().await.unwrap();

        let run = scheduler.get("run-k").await.unwrap();
        assert_eq!(run.phase, RunPhase::Interrupted);
        assert!(run.reason.contains("kubernetes backend"), "{}", run.reason);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn runs_queued_before_a_restart_start_in_the_order_they_came() {
        let dir = tempfile::tempdir().unwrap();
        let scheduler = scheduler(dir.path(), 1);
        let ids: Vec<String> = (0..8).map(|n| format!("run-{n}")).collect();
        for id in &ids {
            scheduler
                .inner
                .store
                .insert_run(record(id, None))
                .await
                .unwrap();
        }

        scheduler.recover().await.unwrap();

        // One slot: each run starts (and fails at once, Snakemake being absent) only after
        // the one before it has ended.
        let mut started = Vec::new();
        for id in &ids {
            let run = tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    let run = scheduler.get(id).await.unwrap();
                    if crate::run::is_terminal(run.phase) {
                        return run;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .expect("every run ends");
            started.push((run.started_at.expect("it started"), run.id));
        }
        started.sort();
        let order: Vec<&String> = started.iter().map(|(_, id)| id).collect();
        assert_eq!(order, ids.iter().collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_queued_run_cancelled_as_a_slot_frees_never_starts() {
        let dir = tempfile::tempdir().unwrap();
        let scheduler = scheduler(dir.path(), 1);
        let busy = scheduler.inner.slots.clone().try_acquire_owned().unwrap();
        scheduler
            .inner
            .store
            .insert_run(record("run-q", None))
            .await
            .unwrap();
        let registration = scheduler.register("run-q");
        let done = registration.done.clone();
        scheduler.spawn(scheduler.get("run-q").await.unwrap(), registration);
        tokio::task::yield_now().await;

        // Both happen before the task looks again: the stop must win over the slot.
        let stop = scheduler.registry().runs["run-q"].stop.clone();
        stop.send_replace(Some(StopRequest::Cancel("no".into())));
        drop(busy);
        done.cancelled().await;

        let run = scheduler.get("run-q").await.unwrap();
        assert_eq!(run.phase, RunPhase::Cancelled);
        assert_eq!(run.started_at, None, "it never started");
    }
}
