//! A last look at every pod of a run before it is closed, so that no log is left unread.

use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use super::{Followers, Shared, follow_logs, locked, report, rules, run_pods};
use crate::backend::kubernetes::{labels, rules as rule_jobs};

/// Label the Job controller puts on a Job's pods (Kubernetes 1.27 adds a prefixed twin).
const JOB_NAME_LABEL: &str = "job-name";

/// Lists the driver's pods, the run's rule Jobs and their pods, takes each in, and starts
/// following every container log not followed yet. The watches cannot promise this: after a
/// restart they may not have listed anything yet when the driver Job is already complete, and
/// at any time they may lag behind the cluster.
pub async fn look_at_everything(shared: &Arc<Shared>, logs: &Followers) {
    let jobs: Api<Job> = Api::namespaced(shared.client.clone(), &shared.namespace);
    for job in list(&jobs, rule_jobs::RULE_JOB_SELECTOR).await {
        if rule_jobs::belongs_to_run(&job, &shared.prefix_url) {
            rules::claim(shared, &job, false);
        }
    }
    let pods: Api<Pod> = Api::namespaced(shared.client.clone(), &shared.namespace);
    let run_selector = labels::run_selector(shared.sink.run_id());
    for pod in list(&pods, &run_selector).await {
        run_pods::take_in(shared, &pods, &pod, logs).await;
    }
    // Rule pods without the run's label (from an older runner image), in one list whatever
    // the number of rule Jobs.
    let known = locked(&shared.rule_jobs).clone();
    for pod in list(&pods, JOB_NAME_LABEL).await {
        let job = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(JOB_NAME_LABEL));
        if let Some(rule) = job.and_then(|job| known.get(job)) {
            report(shared, &pod, rule).await;
            follow_logs(shared, &pods, &pod, rule, false, logs).await;
        }
    }
}

/// The objects matching `selector`; none when the API does not answer, which costs the
/// lines of logs not followed yet, not the run.
async fn list<K>(api: &Api<K>, selector: &str) -> Vec<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    match api.list(&ListParams::default().labels(selector)).await {
        Ok(list) => list.items,
        Err(error) => {
            tracing::warn!(selector, error = %error, "could not list the run's objects");
            Vec::new()
        }
    }
}
