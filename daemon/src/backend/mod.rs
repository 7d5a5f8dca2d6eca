//! Backends execute runs and report what happens as events; each returns how the run ended.

pub mod kubernetes;
pub mod local;
mod output;
mod plugin;
pub mod snakemake;

use byok8s_proto::v1::{RunPhase, run_event::Kind};

use crate::events::EventLog;
use crate::run::RunRecord;
use crate::store::{LogCursor, StoreError};

/// How a run ended, as the backend saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub phase: RunPhase,
    pub reason: String,
}

impl Outcome {
    pub fn new(phase: RunPhase, reason: impl Into<String>) -> Outcome {
        Outcome {
            phase,
            reason: reason.into(),
        }
    }
}

/// How executing a run ended for this daemon.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// The run is over.
    Finished(Outcome),
    /// The daemon stopped following a run that goes on without it (in a cluster); the next
    /// start picks it up again.
    Detached,
}

/// Why a run is being stopped before it finished on its own.
#[derive(Clone, Debug, PartialEq)]
pub enum StopRequest {
    /// A user asked; the run ends cancelled.
    Cancel(String),
    /// The daemon is shutting down; the run ends interrupted.
    Shutdown,
}

impl StopRequest {
    pub fn outcome(&self) -> Outcome {
        match self {
            StopRequest::Cancel(reason) => Outcome::new(RunPhase::Cancelled, reason.clone()),
            StopRequest::Shutdown => Outcome::new(
                RunPhase::Interrupted,
                "byok8sd shut down while the run was in flight",
            ),
        }
    }
}

/// The backends this daemon can run workflows on.
pub enum Backend {
    Local(local::LocalBackend),
    // Boxed: a daemon has exactly one backend, so the size difference costs nothing but
    // clippy's attention.
    Kubernetes(Box<kubernetes::KubernetesBackend>),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Local(_) => "local",
            Backend::Kubernetes(_) => "kubernetes",
        }
    }

    /// Whether runs may ask for `namespace` (empty: the default).
    pub fn check_namespace(&self, namespace: &str) -> Result<(), String> {
        match self {
            _ if namespace.is_empty() => Ok(()),
            Backend::Local(_) => Err("namespace: the local backend does not use namespaces".into()),
            Backend::Kubernetes(cluster) if cluster.namespace() == namespace => Ok(()),
            Backend::Kubernetes(cluster) => Err(format!(
                "namespace: this daemon runs every run in {}",
                cluster.namespace()
            )),
        }
    }

    /// Removes what the backend left of runs that are not in flight (after a crash between a
    /// run's end and its cleanup, say).
    pub async fn sweep(&self, in_flight: &[String]) {
        if let Backend::Kubernetes(cluster) = self {
            cluster.sweep(in_flight).await;
        }
    }

    /// True when runs keep executing while the daemon is down, so that a restarted daemon
    /// re-attaches to them instead of marking them interrupted.
    pub fn runs_survive_restarts(&self) -> bool {
        matches!(self, Backend::Kubernetes(_))
    }

    /// Executes the run to its end, or until `stop` yields a request.
    pub async fn execute(&self, run: &RunRecord, sink: EventSink, stop: StopSignal) -> Ending {
        match self {
            Backend::Local(local) => Ending::Finished(local.execute(run, sink, stop).await),
            Backend::Kubernetes(cluster) => cluster.execute(run, sink, stop).await,
        }
    }
}

/// Resolves once someone asks the run to stop, with what they asked.
pub type StopSignal = tokio::sync::watch::Receiver<Option<StopRequest>>;

/// Waits until a stop is requested. A dropped sender means nobody can ask any more.
pub async fn stop_requested(stop: &mut StopSignal) -> StopRequest {
    let request = match stop.wait_for(Option::is_some).await {
        Ok(request) => request.clone(),
        Err(_) => None,
    };
    match request {
        Some(request) => request,
        None => std::future::pending().await,
    }
}

/// Where a backend sends a run's events.
#[derive(Clone)]
pub struct EventSink {
    events: EventLog,
    run_id: String,
}

impl EventSink {
    pub fn new(events: EventLog, run_id: String) -> EventSink {
        EventSink { events, run_id }
    }

    /// Records an event. A store failure is logged and the run goes on: losing one event is
    /// better than killing a workflow that is doing its work.
    pub async fn emit(&self, kind: Kind) {
        let result = self.events.append(&self.run_id, kind).await;
        self.report(result.err());
    }

    /// Records an event read from a log, with how many lines of that log are now read.
    pub async fn emit_at(&self, kind: Kind, cursor: LogCursor) {
        let result = self
            .events
            .append_at(&self.run_id, kind, Some(cursor))
            .await;
        self.report(result.err());
    }

    fn report(&self, error: Option<StoreError>) {
        match error {
            None => {}
            // Output still draining after the run's end has nowhere to go.
            Some(StoreError::Finished { .. }) => {
                tracing::debug!(run_id = %self.run_id, "run is over; late event dropped");
            }
            Some(error) => {
                let error = crate::error::chain(&error);
                tracing::error!(run_id = %self.run_id, error, "could not record event");
            }
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn store(&self) -> &crate::store::Store {
        self.events.store()
    }

    /// Records a backend fact about the run, shown in the run's details.
    pub async fn set_detail(&self, key: &str, value: &str) {
        if let Err(error) = self
            .events
            .store()
            .set_detail(&self.run_id, key, value)
            .await
        {
            tracing::error!(run_id = %self.run_id, error = %crate::error::chain(&error), "could not record a run detail");
        }
    }
}
