//! The scheduler: accepts runs, queues them for a free slot, drives each through the backend,
//! and stops them on request.

mod restart;
mod task;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use byok8s_proto::v1::{RunPhase, SubmitRequest};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backend::{Backend, StopRequest, StopSignal, local};
use crate::error::Error;
use crate::events::EventLog;
use crate::run::{RunRecord, is_terminal, new_run_id};
use crate::store::{RunFilter, Store};
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

/// The runs that have a task, and whether the daemon is stopping; one lock for both, so that
/// no run registers unseen by a shutdown.
#[derive(Default)]
struct Registry {
    runs: HashMap<String, Active>,
    stopping: bool,
}

/// The task side of a registered run.
struct Registration {
    signal: StopSignal,
    done: CancellationToken,
    /// A slot taken before the task started (for a run re-attached after a restart).
    slot: Option<OwnedSemaphorePermit>,
}

/// A run's place in the first-come queue for slots. Tasks start in whatever order the
/// runtime picks, so each waits for the run queued before it to have a slot (or to have left
/// the queue) before it waits for one itself.
struct QueuePlace {
    /// Cancelled once the run before this one no longer waits.
    ahead: CancellationToken,
    /// Cancelled once this run no longer waits, which lets the next one go.
    mine: CancellationToken,
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
    /// The place of the run queued last, which the next one waits behind.
    queue_tail: Mutex<CancellationToken>,
    registry: Mutex<Registry>,
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
            queue_tail: Mutex::new(waited_for()),
            registry: Mutex::default(),
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
        if self.registry().stopping {
            return Err(Error::ShuttingDown);
        }
        let limits = self.inner.config.limits;
        let submission = tokio::task::spawn_blocking(move || submission::validate(request, limits))
            .await
            .map_err(|e| Error::Payload(std::io::Error::other(e)))??;
        self.inner
            .backend
            .check_namespace(&submission.spec.namespace)
            .map_err(Error::InvalidArgument)?;

        let backend = self.inner.backend.name();
        let record = RunRecord {
            idempotency_key: submission.idempotency_key,
            digest: submission.digest,
            ..RunRecord::queued(new_run_id(), user, submission.spec, backend)
        };
        let dir = local::run_dir(&self.inner.config.runs_dir, &record.id);
        write_payload(&dir, &submission.bundle)
            .await
            .map_err(Error::Payload)?;

        self.store_and_start(record, &dir).await
    }

    /// Stores a new run and starts its task, or returns the run an idempotency key names.
    async fn store_and_start(
        &self,
        record: RunRecord,
        dir: &std::path::Path,
    ) -> Result<(RunRecord, bool), Error> {
        // Registered before it is stored, so that a cancel arriving as soon as the run is
        // visible finds it and reaches its task.
        let new_id = record.id.clone();
        let registration = self.register(&new_id);
        let (record, existing) = match self.inner.store.insert_run(record).await {
            Ok(inserted) => inserted,
            Err(error) => {
                self.unregister(&new_id);
                remove_dir(dir).await;
                return Err(error.into());
            }
        };
        if existing {
            self.unregister(&new_id);
            remove_dir(dir).await;
            return Ok((record, true));
        }

        tracing::info!(run_id = %record.id, user = %record.user, workflow = %record.spec.workflow, params = %record.spec.params, "run submitted");
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
        let reason = shown_reason(&reason);
        let reason = if reason.is_empty() {
            "cancelled on request".to_owned()
        } else {
            reason
        };
        let done = self.registry().runs.get(id).map(|active| {
            active
                .stop
                .send_replace(Some(StopRequest::Cancel(reason.clone())));
            active.done.clone()
        });
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

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // Every change to the registry is a single insert, remove or flag, so a panic while
        // holding the lock cannot leave it half-changed.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Makes a run reachable by cancel and shutdown. A run registered while the daemon stops
    /// is told to stop at once.
    fn register(&self, run_id: &str) -> Registration {
        let mut registry = self.registry();
        let initial = registry.stopping.then_some(StopRequest::Shutdown);
        let (stop, signal) = watch::channel(initial);
        let done = CancellationToken::new();
        let active = Active {
            stop,
            done: done.clone(),
        };
        registry.runs.insert(run_id.to_owned(), active);
        Registration {
            signal,
            done,
            slot: None,
        }
    }

    fn unregister(&self, run_id: &str) {
        self.registry().runs.remove(run_id);
    }

    /// The next place in the queue for slots, behind every run given one before.
    fn join_queue(&self) -> QueuePlace {
        let mine = CancellationToken::new();
        let mut tail = self
            .inner
            .queue_tail
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let ahead = std::mem::replace(&mut *tail, mine.clone());
        QueuePlace { ahead, mine }
    }
}

/// A place nobody waits behind any more.
fn waited_for() -> CancellationToken {
    let token = CancellationToken::new();
    token.cancel();
    token
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

/// A cancel reason from a client, as it will be shown to others: one line (line breaks and
/// tabs become spaces), nothing invisible, at most 500 characters.
fn shown_reason(reason: &str) -> String {
    let one_line = reason.chars().map(|c| if c.is_control() { ' ' } else { c });
    let shown: String = one_line.filter(|c| is_shown(*c)).take(500).collect();
    shown.trim().to_owned()
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
    fn a_reason_keeps_its_words_apart_on_one_line() {
        assert_eq!(
            shown_reason("line1\nline2\u{1b}[31m\u{202e}"),
            "line1 line2 [31m"
        );
        assert_eq!(shown_reason(" \t\n"), "");
    }

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
