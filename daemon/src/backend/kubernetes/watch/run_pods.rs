//! Watching every pod labelled with the run: the driver's, and the rule pods that the driver
//! labels (the executor itself labels them `app=snakemake` only), with one watch.
//!
//! A label alone proves nothing: workflow code in another run's driver could create a Job
//! whose pods carry this run's labels. A pod is taken for the run's only when the Job that
//! controls it is the run's driver Job or one of its rule Jobs (recognised by the storage
//! prefix); a pod whose Job is not known yet waits until it is.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher::{self, Event};

use super::{Followers, Shared, driver, event_stream, follow_logs, forget, locked, report};
use crate::backend::kubernetes::labels;

pub async fn watch_run_pods(shared: Arc<Shared>, logs: Followers) {
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &shared.namespace);
    let selector = labels::run_selector(shared.sink.run_id());
    let config = watcher::Config::default().labels(&selector);
    let mut stream = std::pin::pin!(event_stream(api.clone(), config));
    while let Some(event) = stream.next().await {
        match event {
            Event::Apply(pod) | Event::InitApply(pod) => take_in(&shared, &api, &pod, &logs).await,
            Event::Delete(pod) => {
                forget(&shared, &pod);
                if let Some(job) = controlling_job(&pod) {
                    locked(&shared.unclaimed_pods).remove(job);
                }
            }
            Event::Init | Event::InitDone => {}
        }
    }
}

/// Reports a pod of the run and follows its logs, or keeps it until its rule Job is claimed.
pub async fn take_in(shared: &Arc<Shared>, api: &Api<Pod>, pod: &Pod, logs: &Followers) {
    let Some(job) = controlling_job(pod) else {
        return;
    };
    if job == shared.driver_job {
        driver::take_in(shared, pod).await;
        return follow_logs(shared, api, pod, "driver", true, logs).await;
    }
    let rule = {
        let rule_jobs = locked(&shared.rule_jobs);
        // Kept under the rule Jobs' lock, so that a claim cannot slip in between.
        let Some(rule) = rule_jobs.get(job).cloned() else {
            locked(&shared.unclaimed_pods).insert(job.to_owned(), pod.clone());
            return;
        };
        rule
    };
    report(shared, pod, &rule).await;
    follow_logs(shared, api, pod, &rule, false, logs).await;
}

/// The pod that waited for the rule Job `job`, now that the Job is the run's.
pub async fn claimed(shared: &Arc<Shared>, job: &str, logs: &Followers) {
    let waiting = locked(&shared.unclaimed_pods).remove(job);
    if let Some(pod) = waiting {
        let api: Api<Pod> = Api::namespaced(shared.client.clone(), &shared.namespace);
        take_in(shared, &api, &pod, logs).await;
    }
}

/// The name of the Job that controls the pod (batch/v1 sets a controller reference on every
/// pod a Job creates; only its controller can create them).
pub fn controlling_job(pod: &Pod) -> Option<&str> {
    let references = pod.metadata.owner_references.as_deref()?;
    references
        .iter()
        .find(|r| r.controller == Some(true) && r.kind == "Job" && r.api_version == "batch/v1")
        .map(|r| r.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_controlling_job_owns_a_pod() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "p", "ownerReferences": [
                { "apiVersion": "batch/v1", "kind": "Job", "name": "other", "uid": "u1" },
                { "apiVersion": "batch/v1", "kind": "Job", "name": "snakejob-1", "uid": "u2",
                  "controller": true },
            ]},
        }))
        .unwrap();
        assert_eq!(controlling_job(&pod), Some("snakejob-1"));
        let orphan: Pod =
            serde_json::from_value(serde_json::json!({ "metadata": { "name": "p" } })).unwrap();
        assert_eq!(controlling_job(&orphan), None);
    }
}
