//! A run's task: waits for an execution slot, executes the run and records how it ended.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use byok8s_proto::v1::{PhaseChanged, RunPhase, run_event::Kind};
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::{QueuePlace, Registration, Scheduler};
use crate::backend::{Ending, EventSink, Outcome, StopRequest, StopSignal, stop_requested};
use crate::error::Error;
use crate::run::RunRecord;
use crate::store::StoreError;

/// What waiting for a slot came to.
enum Admission {
    /// Execute, holding this slot (none for a run that was executing before a restart).
    Execute(Option<OwnedSemaphorePermit>),
    /// Stopped while waiting.
    Stopped(StopRequest),
}

impl Scheduler {
    /// Starts the run's task; runs queue for slots in the order of these calls.
    pub(super) fn spawn(&self, run: RunRecord, registration: Registration) {
        let span = tracing::info_span!("run", run_id = %run.id);
        let scheduler = self.clone();
        let place = self.join_queue();
        self.inner.tasks.spawn(
            async move {
                let done = registration.done.clone();
                scheduler.drive(&run, registration, place).await;
                scheduler.unregister(&run.id);
                done.cancel();
            }
            .instrument(span),
        );
    }

    /// Waits for a slot, executes the run and records how it ended.
    async fn drive(&self, run: &RunRecord, registration: Registration, place: QueuePlace) {
        let Registration {
            mut signal, slot, ..
        } = registration;
        let _slot = match self.admit(run, slot, place, &mut signal).await {
            Admission::Execute(slot) => slot,
            // A queued run loses nothing in a shutdown: it stays queued in the store and
            // starts after the next start.
            Admission::Stopped(StopRequest::Shutdown) => return,
            Admission::Stopped(request) => return self.finish(run, request.outcome()).await,
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

    async fn admit(
        &self,
        run: &RunRecord,
        slot: Option<OwnedSemaphorePermit>,
        place: QueuePlace,
        signal: &mut StopSignal,
    ) -> Admission {
        // However this ends, the run no longer waits, and the next one in line may.
        let _leave_queue = place.mine.drop_guard();
        // A run that was executing before a restart is executing still (in a cluster): making
        // it queue would leave it unwatched, and a cancel would not reach it. Recovery gave it
        // a slot if one was free; otherwise it runs beyond the limit until it ends.
        if run.phase == RunPhase::Running {
            return Admission::Execute(slot);
        }
        let slots = self.inner.slots.clone();
        let turn = async move {
            place.ahead.cancelled().await;
            slots.acquire_owned().await
        };
        tokio::select! {
            // A stop asked for while a slot frees up wins: a run to be stopped never starts.
            biased;
            request = stop_requested(signal) => Admission::Stopped(request),
            slot = turn => {
                Admission::Execute(Some(slot.expect("the slot semaphore is never closed")))
            }
        }
    }

    /// Records the run's end. Retried for a while: a run whose end is not recorded stays
    /// "running" with nothing driving it until the next start.
    async fn finish(&self, run: &RunRecord, outcome: Outcome) {
        tracing::info!(phase = ?outcome.phase, reason = %outcome.reason, "run finished");
        let record = || self.emit_phase(&run.id, outcome.phase, &outcome.reason);
        let retries = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(8);
        let _ = record.retry(retries).sleep(tokio::time::sleep).await;
    }

    pub(super) async fn emit_phase(
        &self,
        run_id: &str,
        phase: RunPhase,
        reason: &str,
    ) -> Result<(), Error> {
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
                let error_text = crate::error::chain(&error);
                tracing::error!(
                    run_id,
                    error = error_text,
                    "could not record a phase change"
                );
                Err(error.into())
            }
        }
    }
}
