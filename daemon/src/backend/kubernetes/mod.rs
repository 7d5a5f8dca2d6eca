//! The Kubernetes backend: each run is a driver Job that runs Snakemake with its Kubernetes
//! executor, so every rule job is a Job of its own, with S3 as the default storage.

mod cleanup;
pub mod driver;
mod events;
mod labels;
mod logs;
mod outcome;
mod pods;
mod rules;
pub mod settings;
mod staging;
mod watch;

use std::path::PathBuf;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use byok8s_proto::v1::RunPhase;
use k8s_openapi::api::batch::v1::Job;
use kube::api::PostParams;
use kube::{Api, Client};

use super::{Ending, EventSink, Outcome, StopRequest, StopSignal, stop_requested};
use crate::run::RunRecord;
use settings::{ClusterSettings, RunStorage};
use staging::{Staging, StagingError};
use watch::{DriverEnd, Leftovers, Limits, RunWatch};

/// How long log followers may take to catch up once the driver has ended.
const DRAIN: Duration = Duration::from_secs(30);

/// How often a new run's driver Job is looked up before the run fails.
const NEW_RUN_ATTEMPTS: usize = 6;
/// Waits between lookups of the driver Job, doubling from the first to the last: one GET
/// every few seconds is no burden to a struggling API server.
const LOOKUP_RETRY_FIRST: Duration = Duration::from_millis(500);
const LOOKUP_RETRY_MAX: Duration = Duration::from_secs(10);

/// What to do with a run once its driver Job has been looked up (or created).
enum Ready {
    /// The driver Job runs (or ran): watch it.
    Running,
    /// The run is over without watching: only cleanup is left.
    Over(Outcome),
    /// Someone asked the run to stop before its driver was watched.
    Stopped(StopRequest),
}

/// Why the backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("could not configure the Kubernetes client")]
    Client(#[from] kube::Error),
    #[error("no Kubernetes configuration: neither in a cluster nor a kubeconfig")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("could not configure the S3 client")]
    Staging(#[from] StagingError),
}

pub struct KubernetesBackend {
    client: Client,
    settings: ClusterSettings,
    staging: Staging,
    runs_dir: PathBuf,
    limits: Limits,
}

impl KubernetesBackend {
    /// In-cluster configuration, or the kubeconfig at `kubeconfig` for development.
    pub async fn new(
        settings: ClusterSettings,
        kubeconfig: Option<PathBuf>,
        runs_dir: PathBuf,
    ) -> Result<Self, SetupError> {
        let mut config = match kubeconfig {
            Some(path) => {
                let kubeconfig =
                    kube::config::Kubeconfig::read_from(path).map_err(kube::Error::from)?;
                let options = kube::config::KubeConfigOptions::default();
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(kube::Error::from)?
            }
            None => kube::Config::infer().await?,
        };
        // Names byok8sd in the API server's audit log (kube-rs sends no User-Agent itself).
        let agent = concat!("byok8sd/", env!("CARGO_PKG_VERSION"));
        let agent = reqwest::header::HeaderValue::from_static(agent);
        config.headers.push((reqwest::header::USER_AGENT, agent));
        let client = Client::try_from(config)?;
        let staging = Staging::new(&settings.s3)?;
        let limits = Limits {
            watchdog: Duration::from_secs(settings.watchdog_seconds),
            stuck: Duration::from_secs(settings.stuck_seconds),
        };
        Ok(KubernetesBackend {
            client,
            settings,
            staging,
            runs_dir,
            limits,
        })
    }

    /// Deletes every Job byok8sd manages whose run is not in flight.
    pub async fn sweep(&self, in_flight: &[String]) {
        cleanup::sweep(&self.client, &self.settings.namespace, in_flight).await;
    }

    pub fn namespace(&self) -> &str {
        &self.settings.namespace
    }

    pub async fn execute(&self, run: &RunRecord, sink: EventSink, mut stop: StopSignal) -> Ending {
        let storage = self
            .settings
            .s3
            .run_storage(&labels::label_value(&run.user), &run.id);
        let ready = tokio::select! {
            ready = self.ensure_driver(run, &storage, &sink) => ready,
            request = stop_requested(&mut stop) => Ready::Stopped(request),
        };
        let outcome = match ready {
            Ready::Running => return self.follow(run, &storage, sink, stop).await,
            // The run goes on in the cluster (or starts again); the next start re-attaches.
            Ready::Stopped(StopRequest::Shutdown) => return Ending::Detached,
            Ready::Stopped(request) => request.outcome(),
            Ready::Over(outcome) => outcome,
        };
        outcome::record(&sink, &outcome).await;
        self.remove(run, &storage, Leftovers::default()).await;
        Ending::Finished(outcome)
    }

    /// Watches the run with its driver Job to its end, or until `stop` yields a request, and
    /// removes it unless the daemon is shutting down. The outcome is recorded before anything
    /// is deleted: a daemon that dies while deleting would otherwise not know it.
    async fn follow(
        &self,
        run: &RunRecord,
        storage: &RunStorage,
        sink: EventSink,
        mut stop: StopSignal,
    ) -> Ending {
        let mut watch = RunWatch::start(
            self.client.clone(),
            &self.settings.namespace,
            &run.id,
            &storage.prefix_url,
            sink.clone(),
            self.limits,
        );
        let end = tokio::select! {
            end = watch.driver_end() => Ok(end),
            request = stop_requested(&mut stop) => Err(request),
        };
        let outcome = match end {
            // The run goes on in the cluster; the next start re-attaches to it.
            Err(StopRequest::Shutdown) => return Ending::Detached,
            // Removing the run ends its containers, and so their logs.
            Err(request) => request.outcome(),
            // The driver may still run, and its log would not end before it is removed.
            Ok(DriverEnd::Stalled(reason)) => {
                watch.settle().await;
                Outcome::new(RunPhase::Failed, reason)
            }
            Ok(end) => {
                watch.settle().await;
                let logged = watch.finish_logs(DRAIN).await;
                judge(end, logged)
            }
        };
        outcome::record(&sink, &outcome).await;
        self.remove(run, storage, watch.leftovers()).await;
        watch.finish_logs(DRAIN).await;
        Ending::Finished(outcome)
    }

    /// Creates the driver Job unless it exists (a run re-attached after a restart), and says
    /// whether the run is to be watched or is over.
    async fn ensure_driver(
        &self,
        run: &RunRecord,
        storage: &RunStorage,
        sink: &EventSink,
    ) -> Ready {
        // Decided before a restart: only the cleanup was left to do.
        if let Some(outcome) = outcome::recorded(&run.details) {
            return Ready::Over(outcome);
        }
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        let name = driver::job_name(&run.id);
        // Its detail is recorded only after creation.
        let created = run.details.contains_key("driver_job");
        match existing_driver(&jobs, &name, created).await {
            Ok(true) => {
                tracing::info!(job = %name, "re-attaching to the driver Job");
                return Ready::Running;
            }
            // Starting it again would run the workflow a second time.
            Ok(false) if created => {
                let reason = "the driver Job disappeared while byok8sd was not watching";
                return Ready::Over(Outcome::new(RunPhase::Failed, reason));
            }
            Ok(false) => {}
            Err(reason) => return Ready::Over(Outcome::new(RunPhase::Failed, reason)),
        }
        match self.create_driver(run, storage, &jobs).await {
            Ok(()) => {}
            Err(reason) => return Ready::Over(Outcome::new(RunPhase::Failed, reason)),
        }
        sink.set_detail("namespace", &self.settings.namespace).await;
        sink.set_detail("driver_job", &name).await;
        sink.set_detail("storage_prefix", &storage.prefix_url).await;
        tracing::info!(job = %name, "driver Job created");
        Ready::Running
    }

    /// Uploads the run's files and creates its driver Job.
    async fn create_driver(
        &self,
        run: &RunRecord,
        storage: &RunStorage,
        jobs: &Api<Job>,
    ) -> Result<(), String> {
        let stored = crate::backend::local::run_dir(&self.runs_dir, &run.id).join("bundle.tar.gz");
        let bundle = tokio::fs::read(stored)
            .await
            .map_err(|e| format!("could not read the run's bundle: {e}"))?;
        let config = serde_json::to_vec(&run.spec.config).expect("a JSON object always serialises");
        self.staging
            .upload(storage, bundle, config)
            .await
            .map_err(|e| {
                format!(
                    "could not upload the run's files: {}",
                    crate::error::chain(&e)
                )
            })?;

        let job = driver::driver_job(run, storage, &self.settings);
        match jobs.create(&PostParams::default(), &job).await {
            // Created by a daemon that died before recording it: the same run, so keep it.
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            Err(error) => Err(format!("could not create the driver Job: {error}")),
        }
    }

    async fn remove(&self, run: &RunRecord, storage: &RunStorage, leftovers: Leftovers) {
        let namespace = &self.settings.namespace;
        cleanup::remove_run(
            &self.client,
            namespace,
            &run.id,
            storage,
            &self.staging,
            leftovers,
        )
        .await;
    }
}

/// Whether the driver Job exists. A wrong "no" would fail a run that is going on, so the API
/// is asked again with backoff: for a run whose Job was created (`patient`) as long as it
/// takes, since the run goes on in the cluster meanwhile; for a new run a few times.
async fn existing_driver(jobs: &Api<Job>, name: &str, patient: bool) -> Result<bool, String> {
    let retries = ExponentialBuilder::default()
        .with_min_delay(LOOKUP_RETRY_FIRST)
        .with_max_delay(LOOKUP_RETRY_MAX);
    let retries = if patient {
        retries.without_max_times()
    } else {
        retries.with_max_times(NEW_RUN_ATTEMPTS - 1)
    };
    let lookup = || jobs.get_opt(name);
    lookup
        .retry(retries)
        .sleep(tokio::time::sleep)
        .notify(|error, delay| {
            tracing::warn!(job = name, error = %error, ?delay, "cannot read the driver Job; retrying");
        })
        .await
        .map(|found| found.is_some())
        .map_err(|error| format!("could not reach the Kubernetes API: {error}"))
}

/// The run's outcome from how its driver ended and what its log said went wrong.
fn judge(end: DriverEnd, logged: Option<String>) -> Outcome {
    match end {
        DriverEnd::Succeeded => Outcome::new(RunPhase::Succeeded, ""),
        DriverEnd::Deleted => Outcome::new(RunPhase::Failed, "the driver Job was deleted"),
        DriverEnd::Stalled(reason) => Outcome::new(RunPhase::Failed, reason),
        DriverEnd::Failed(message) => {
            let reason = logged.filter(|r| !r.is_empty()).unwrap_or(message);
            Outcome::new(RunPhase::Failed, reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_reported_by_snakemake_explains_a_failed_driver_best() {
        let logged = Some("rule doomed: exit status 3".to_owned());
        let outcome = judge(DriverEnd::Failed("BackoffLimitExceeded".into()), logged);
        assert_eq!(
            outcome,
            Outcome::new(RunPhase::Failed, "rule doomed: exit status 3")
        );
    }

    #[test]
    fn without_a_logged_reason_the_job_condition_explains_it() {
        let outcome = judge(DriverEnd::Failed("BackoffLimitExceeded".into()), None);
        assert_eq!(outcome.reason, "BackoffLimitExceeded");
    }

    #[test]
    fn a_deleted_driver_fails_the_run() {
        assert_eq!(judge(DriverEnd::Deleted, None).phase, RunPhase::Failed);
        assert_eq!(
            judge(DriverEnd::Succeeded, Some("x".into())).phase,
            RunPhase::Succeeded
        );
    }
}
