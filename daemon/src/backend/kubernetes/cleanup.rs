//! Removing what a run created: its driver Job, its rule Jobs (with their pods, through
//! foreground deletion), the Secret Snakemake's executor made for it, and its staged files.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client};

use super::settings::RunStorage;
use super::staging::Staging;
use super::watch::Leftovers;
use super::{labels, rules};

/// How long to wait for the driver Job to be gone, pods included.
const GONE_WITHIN: Duration = Duration::from_secs(60);

/// Deletes everything of the run; failures are logged, not returned, so that one stuck object
/// does not keep the rest alive.
///
/// The driver goes first and is waited for: while it lives, Snakemake may still create rule
/// Jobs. Then every rule Job of the run is found again (labelled, remembered, or recognised
/// by the run's storage prefix) and deleted, then the executor's Secrets and the staged files.
pub async fn remove_run(
    client: &Client,
    namespace: &str,
    run_id: &str,
    storage: &RunStorage,
    staging: &Staging,
    leftovers: Leftovers,
) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    // Foreground: a Job is gone only once its pods are (Kubernetes garbage collection). The
    // default for batch/v1 Jobs would orphan the pods.
    let foreground = DeleteParams::foreground();
    let driver = vec![super::driver::job_name(run_id)];
    delete_all(&jobs, &driver, &foreground).await;

    let (mut rule_jobs, mut secrets) = (leftovers.rule_jobs, leftovers.executor_secrets);
    for job in run_jobs(&jobs, run_id, &storage.prefix_url).await {
        secrets.extend(rules::executor_secret(&job));
        rule_jobs.extend(job.metadata.name);
    }
    rule_jobs.sort();
    rule_jobs.dedup();
    delete_all(&jobs, &rule_jobs, &foreground).await;

    secrets.sort();
    secrets.dedup();
    let secret_api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for name in &secrets {
        delete(&secret_api, name, &DeleteParams::default()).await;
    }
    if let Err(error) = staging.remove(storage).await {
        let error = crate::error::chain(&error);
        tracing::warn!(run_id, error, "could not remove the run's staged files");
    }
}

/// Deletes the Jobs labelled as byok8sd's whose run is not in `in_flight`: left behind when
/// the daemon stopped between a run's end and its cleanup.
pub async fn sweep(client: &Client, namespace: &str, in_flight: &[String]) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let managed = format!("{}={}", labels::MANAGED_BY, labels::MANAGER);
    let listed = match jobs.list(&ListParams::default().labels(&managed)).await {
        Ok(list) => list.items,
        Err(error) => {
            tracing::warn!(error = %error, "could not list the Jobs byok8sd manages");
            return;
        }
    };
    let orphans: Vec<String> = listed
        .into_iter()
        .filter(|job| {
            let run = job
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::RUN));
            run.is_none_or(|run| !in_flight.contains(run))
        })
        .filter_map(|job| job.metadata.name)
        .collect();
    for name in &orphans {
        tracing::warn!(job = %name, "deleting a Job whose run is over");
    }
    delete_all(&jobs, &orphans, &DeleteParams::foreground()).await;
}

/// Deletes the Jobs and waits until they are gone.
async fn delete_all(jobs: &Api<Job>, names: &[String], params: &DeleteParams) {
    for name in names {
        delete(jobs, name, params).await;
    }
    wait_until_gone(jobs, names).await;
}

/// The run's rule Jobs still in the cluster: labelled with the run, or carrying its prefix.
async fn run_jobs(jobs: &Api<Job>, run_id: &str, prefix_url: &str) -> Vec<Job> {
    let mut found = Vec::new();
    for selector in [
        labels::run_selector(run_id),
        rules::RULE_JOB_SELECTOR.to_owned(),
    ] {
        match jobs.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => found.extend(list.items),
            Err(error) => tracing::warn!(run_id, error = %error, "could not list the run's Jobs"),
        }
    }
    found.retain(|job| {
        let labelled = job
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::RUN));
        labelled.is_some_and(|run| run == run_id) || rules::belongs_to_run(job, prefix_url)
    });
    found
}

async fn delete<K>(api: &Api<K>, name: &str, params: &DeleteParams)
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    match api.delete(name, params).await {
        Ok(_) => tracing::debug!(name, "deleted"),
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(error) => tracing::warn!(name, error = %error, "could not delete"),
    }
}

async fn wait_until_gone(jobs: &Api<Job>, names: &[String]) {
    let deadline = tokio::time::Instant::now() + GONE_WITHIN;
    for name in names {
        while matches!(jobs.get_opt(name).await, Ok(Some(_))) {
            if tokio::time::Instant::now() > deadline {
                tracing::warn!(job = %name, "still being deleted");
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
