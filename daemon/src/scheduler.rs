//! The scheduler: accepts runs, queues them for a free slot, drives each through the backend,
//! and stops them on request.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use byok8s_proto::v1::{PhaseChanged, RunPhase, SubmitRequest, run_event::Kind};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::backend::{
    Backend, Ending, EventSink, Outcome, StopRequest, StopSignal, local, stop_requested,
};
use crate::error::Error;
use crate::events::EventLog;
use crate::run::{RunRecord, is_terminal, new_run_id};
use crate::store::{RunFilter, Store, StoreError};
use crate::submission::{self, SubmissionLimits};

/// How the scheduler is set up.
pub struct SchedulerConfig {
    pub max_concurrent_runs: usize,
    pub runs_dir: PathBuf,
    pub limits: SubmissionLimits,
    /// How long CancelRun waits for the run to stop before answering with its current state.
    pub cancel_wait: Duration,
}

/// A run that has a task: queued or executing.
struct Active {
    stop: watch::Sender<Option<StopRequest>>,
    done: CancellationToken,
}

/// The task side of a registered run.
struct Registration {
    signal: StopSignal,
    done: CancellationToken,
}

/// The scheduler; cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    events: EventLog,
    backend: Backend,
    slots: Arc<Semaphore>,
    active: Mutex<HashMap<String, Active>>,
    tasks: TaskTracker,
    config: SchedulerConfig,
}

impl Scheduler {
    pub fn new(
        store: Store,
        events: EventLog,
        backend: Backend,
        config: SchedulerConfig,
    ) -> Scheduler {
        let inner = Inner {
            store,
            events,
            backend,
            slots: Arc::new(Semaphore::new(config.max_concurrent_runs.max(1))),
            active: Mutex::default(),
            tasks: TaskTracker::new(),
            config,
        };
        Scheduler {
            inner: Arc::new(inner),
        }
    }

    pub fn events(&self) -> &EventLog {
        &self.inner.events
    }

    /// Validates, stores and queues a submission. Returns the run and whether it already
    /// existed under the same idempotency key.
    pub async fn submit(
        &self,
        user: &str,
        request: SubmitRequest,
    ) -> Result<(RunRecord, bool), Error> {
        let limits = self.inner.config.limits;
        let submission = tokio::task::spawn_blocking(move || submission::validate(request, limits))
            .await
            .map_err(|e| Error::Payload(std::io::Error::other(e)))??;
        if let Err(message) = self
            .inner
            .backend
            .check_namespace(&submission.spec.namespace)
        {
            return Err(Error::InvalidArgument(message));
        }

        let record = RunRecord {
            id: new_run_id(),
            user: user.to_owned(),
            spec: submission.spec,
            idempotency_key: submission.idempotency_key,
            digest: submission.digest,
            backend: self.inner.backend.name().to_owned(),
            phase: RunPhase::Queued,
            reason: String::new(),
            created_at: SystemTime::now(),
            started_at: None,
            finished_at: None,
            progress_done: 0,
            progress_total: 0,
            last_seq: 0,
            details: Default::default(),
        };
        let dir = local::run_dir(&self.inner.config.runs_dir, &record.id);
        write_payload(&dir, &submission.bundle)
            .await
            .map_err(Error::Payload)?;

        // Registered before it is stored, so that a cancel arriving as soon as the run is
        // visible finds it and reaches its task.
        let new_id = record.id.clone();
        let registration = self.register(&new_id);
        let (record, existing) = match self.inner.store.insert_run(record).await {
            Ok(inserted) => inserted,
            Err(error) => {
                self.unregister(&new_id);
                remove_dir(&dir).await;
                return Err(error.into());
            }
        };
        if existing {
            self.unregister(&new_id);
            remove_dir(&dir).await;
            return Ok((record, true));
        }

        tracing::info!(run_id = %record.id, user, workflow = %record.spec.workflow, params = %record.spec.params, "run submitted");
        let queued = self.emit_phase(&record.id, RunPhase::Queued, "").await;
        self.spawn(record.clone(), registration);
        queued.map(|()| (record, false))
    }

    /// A run by id; runs of other users will be NotFound here once users exist.
    pub async fn get(&self, id: &str) -> Result<RunRecord, Error> {
        self.inner
            .store
            .get_run(id)
            .await?
            .ok_or_else(|| Error::RunNotFound(id.chars().take(64).collect()))
    }

    pub async fn list(&self, filter: RunFilter) -> Result<Vec<RunRecord>, Error> {
        Ok(self.inner.store.list_runs(filter).await?)
    }

    /// Asks a run to stop and waits a while for it to; a finished run is returned unchanged.
    pub async fn cancel(&self, id: &str, reason: String) -> Result<RunRecord, Error> {
        let run = self.get(id).await?;
        if is_terminal(run.phase) {
            return Ok(run);
        }
        // The reason is client text that will be shown to others: bounded, one line, visible.
        let reason: String = reason.chars().filter(|c| is_shown(*c)).take(500).collect();
        let reason = if reason.is_empty() {
            "cancelled on request".to_owned()
        } else {
            reason
        };
        let done = {
            let active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
            active.get(id).map(|a| {
                a.stop
                    .send_replace(Some(StopRequest::Cancel(reason.clone())));
                a.done.clone()
            })
        };
        match done {
            Some(done) => {
                tracing::info!(run_id = %id, "cancel requested");
                let _ = tokio::time::timeout(self.inner.config.cancel_wait, done.cancelled()).await;
            }
            // Not finished yet nobody drives it: nothing can be running, so record the end.
            None => self.emit_phase(id, RunPhase::Cancelled, &reason).await?,
        }
        self.get(id).await
    }

    /// Brings the store in line with a fresh start: runs that were executing when the daemon
    /// stopped are interrupted (and their leftover processes killed); queued runs are queued again.
    pub async fn recover(&self) -> Result<(), Error> {
        let filter = RunFilter {
            limit: usize::MAX,
            phases: vec![RunPhase::Queued, RunPhase::Running],
            labels: vec![],
        };
        let mut runs = self.inner.store.list_runs(filter).await?;
        runs.reverse();
        let in_flight: Vec<String> = runs.iter().map(|run| run.id.clone()).collect();
        self.inner.backend.sweep(&in_flight).await;
        for run in runs {
            if run.phase == RunPhase::Queued {
                tracing::info!(run_id = %run.id, "queueing again after restart");
                self.start(run);
                continue;
            }
            if self.inner.backend.runs_survive_restarts() {
                tracing::info!(run_id = %run.id, "re-attaching after restart");
                self.start(run);
                continue;
            }
            local::kill_leftovers(&self.inner.config.runs_dir, &run);
            let reason = "byok8sd stopped while the run was in flight";
            tracing::warn!(run_id = %run.id, reason, "run interrupted");
            self.emit_phase(&run.id, RunPhase::Interrupted, reason)
                .await?;
        }
        Ok(())
    }

    /// Stops every run this daemon drives (they end interrupted) and waits for them to finish.
    pub async fn shutdown(&self, wait: Duration) {
        {
            let active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
            for run in active.values() {
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

    fn start(&self, run: RunRecord) {
        let registration = self.register(&run.id);
        self.spawn(run, registration);
    }

    /// Makes a run reachable by cancel and shutdown.
    fn register(&self, run_id: &str) -> Registration {
        let (stop, signal) = watch::channel(None);
        let done = CancellationToken::new();
        let mut active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
        active.insert(
            run_id.to_owned(),
            Active {
                stop,
                done: done.clone(),
            },
        );
        Registration { signal, done }
    }

    fn unregister(&self, run_id: &str) {
        let mut active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
        active.remove(run_id);
    }

    fn spawn(&self, run: RunRecord, registration: Registration) {
        let span = tracing::info_span!("run", run_id = %run.id);
        let scheduler = self.clone();
        self.inner.tasks.spawn(
            async move {
                scheduler.drive(&run, registration.signal).await;
                scheduler.unregister(&run.id);
                registration.done.cancel();
            }
            .instrument(span),
        );
    }

    /// Waits for a slot, executes the run and records how it ended.
    async fn drive(&self, run: &RunRecord, mut signal: StopSignal) {
        let _slot = tokio::select! {
            slot = self.inner.slots.clone().acquire_owned() => {
                slot.expect("the slot semaphore is never closed")
            }
            request = stop_requested(&mut signal) => {
                // A queued run loses nothing in a shutdown: it stays queued in the store and
                // starts after the next start.
                if request != StopRequest::Shutdown {
                    self.finish(run, request.outcome()).await;
                }
                return;
            }
        };

        // A run re-attached after a restart is running already.
        let starting = run.phase != RunPhase::Running;
        if starting
            && self
                .emit_phase(&run.id, RunPhase::Running, "")
                .await
                .is_err()
        {
            return;
        }
        tracing::info!(reattached = !starting, "run started");
        let sink = EventSink::new(self.inner.events.clone(), run.id.clone());
        match self.inner.backend.execute(run, sink, signal).await {
            Ending::Finished(outcome) => self.finish(run, outcome).await,
            Ending::Detached => tracing::info!("left running for the next start"),
        }
    }

    async fn finish(&self, run: &RunRecord, outcome: Outcome) {
        tracing::info!(phase = ?outcome.phase, reason = %outcome.reason, "run finished");
        let _ = self
            .emit_phase(&run.id, outcome.phase, &outcome.reason)
            .await;
    }

    async fn emit_phase(&self, run_id: &str, phase: RunPhase, reason: &str) -> Result<(), Error> {
        let change = PhaseChanged {
            phase: phase as i32,
            reason: reason.to_owned(),
        };
        match self.inner.events.append(run_id, Kind::Phase(change)).await {
            Ok(_) => Ok(()),
            // Lost a race with the run's own end (a cancel as it finishes): the end stands.
            Err(StoreError::Finished { .. }) => {
                tracing::debug!(run_id, ?phase, "run already finished; phase change dropped");
                Ok(())
            }
            Err(error) => {
                tracing::error!(run_id, error = %crate::error::chain(&error), "could not record a phase change");
                Err(error.into())
            }
        }
    }
}

async fn write_payload(dir: &std::path::Path, bundle: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    tokio::fs::write(dir.join("bundle.tar.gz"), bundle).await
}

async fn remove_dir(dir: &std::path::Path) {
    if let Err(error) = tokio::fs::remove_dir_all(dir).await {
        tracing::warn!(dir = %dir.display(), error = %error, "could not remove a run directory");
    }
}

/// Characters of client text worth showing to others: no control characters, and none of the
/// invisible ones that reorder or hide text (bidirectional overrides, zero-width marks, line
/// and paragraph separators).
fn is_shown(c: char) -> bool {
    let invisible = matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}' | '\u{feff}');
    !c.is_control() && !invisible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_control_characters_are_not_shown() {
        for c in ['\n', '\u{202e}', '\u{200b}', '\u{2028}', '\u{feff}'] {
            assert!(!is_shown(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', '→'] {
            assert!(is_shown(c), "{c:?}");
        }
    }
}
