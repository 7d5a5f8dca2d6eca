//! The Kubernetes backend: each run is a driver Job that runs Snakemake with its Kubernetes
//! executor, so every rule job is a Job of its own, with S3 as the default storage.

mod cleanup;
pub mod driver;
mod events;
mod labels;
mod logs;
mod pods;
mod rules;
pub mod settings;
mod staging;
mod watch;

use std::path::PathBuf;
use std::time::Duration;

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
        let config = match kubeconfig {
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
        let client = Client::try_from(config)?;
        let staging = Staging::new(&settings.s3)?;
        let limits = Limits {
            watchdog: Duration::from_secs(settings.watchdog_seconds),
            stuck: Duration::from_secs(settings::stuck_seconds()),
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
        if let Err(reason) = self.ensure_driver(run, &storage, &sink).await {
            self.remove(run, &storage, Leftovers::default()).await;
            return Ending::Finished(Outcome::new(RunPhase::Failed, reason));
        }

        let mut watch = RunWatch::start(
            self.client.clone(),
            &self.settings.namespace,
            &run.id,
            &storage.prefix_url,
            sink,
            self.limits,
        );
        let end = tokio::select! {
            end = watch.driver_end() => Ok(end),
            request = stop_requested(&mut stop) => Err(request),
        };
        match end {
            // The run goes on in the cluster; the next start re-attaches to it.
            Err(StopRequest::Shutdown) => Ending::Detached,
            // Removing the run ends its containers, and so their logs.
            Err(request) => {
                self.remove(run, &storage, watch.leftovers()).await;
                watch.finish(DRAIN).await;
                Ending::Finished(request.outcome())
            }
            // The driver may still run, and its log would not end before it is removed.
            Ok(DriverEnd::Stalled(reason)) => {
                watch.settle().await;
                self.remove(run, &storage, watch.leftovers()).await;
                watch.finish(DRAIN).await;
                Ending::Finished(Outcome::new(RunPhase::Failed, reason))
            }
            Ok(end) => {
                watch.settle().await;
                let leftovers = watch.leftovers();
                let logged = watch.finish(DRAIN).await;
                self.remove(run, &storage, leftovers).await;
                Ending::Finished(judge(end, logged))
            }
        }
    }

    /// Creates the driver Job unless it exists (a run re-attached after a restart).
    async fn ensure_driver(
        &self,
        run: &RunRecord,
        storage: &RunStorage,
        sink: &EventSink,
    ) -> Result<(), String> {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        let name = driver::job_name(&run.id);
        match existing_driver(&jobs, &name).await? {
            true => {
                tracing::info!(job = %name, "re-attaching to the driver Job");
                return Ok(());
            }
            // Created before (its detail is recorded only after creation): starting it again
            // would run the workflow a second time.
            false if run.details.contains_key("driver_job") => {
                return Err("the driver Job disappeared while byok8sd was not watching".into());
            }
            false => {}
        }

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
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(error) => return Err(format!("could not create the driver Job: {error}")),
        }
        sink.set_detail("namespace", &self.settings.namespace).await;
        sink.set_detail("driver_job", &name).await;
        sink.set_detail("storage_prefix", &storage.prefix_url).await;
        tracing::info!(job = %name, "driver Job created");
        Ok(())
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

/// Whether the driver Job exists, asking again for a while when the API does not answer: a
/// wrong "no" would fail a run that is going on.
async fn existing_driver(jobs: &Api<Job>, name: &str) -> Result<bool, String> {
    let mut attempts = 0;
    loop {
        match jobs.get_opt(name).await {
            Ok(found) => return Ok(found.is_some()),
            Err(error) if attempts == 5 => {
                return Err(format!("could not reach the Kubernetes API: {error}"));
            }
            Err(error) => tracing::warn!(job = name, error = %error, "retrying"),
        }
        attempts += 1;
        tokio::time::sleep(Duration::from_secs(2 << attempts)).await;
    }
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
