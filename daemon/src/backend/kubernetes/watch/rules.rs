//! Watching the rule Jobs Snakemake creates for the run, and their pods.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher::{self, Event};
use tokio::task::JoinSet;

use super::driver::job_running;
use super::{Followers, Shared, event_stream, follow_logs, forget, locked, report, run_pods};
use crate::backend::kubernetes::labels;
use crate::backend::kubernetes::rules;

pub async fn watch_rule_jobs(
    shared: Arc<Shared>,
    run_id: String,
    prefix_url: String,
    logs: Followers,
) {
    let api: Api<Job> = Api::namespaced(shared.client.clone(), &shared.namespace);
    let config = watcher::Config::default().labels(rules::RULE_JOB_SELECTOR);
    let mut pod_watches = JoinSet::new();
    let mut relist = Relist::default();
    let mut stream = std::pin::pin!(event_stream(api.clone(), config));
    while let Some(event) = stream.next().await {
        let (job, deleted) = match event {
            Event::Apply(job) => (job, false),
            Event::InitApply(job) => {
                relist.saw(&job);
                (job, false)
            }
            Event::Delete(job) => (job, true),
            Event::Init => {
                relist.begin();
                continue;
            }
            Event::InitDone => {
                relist.end(&mut locked(&shared.active_rule_jobs));
                *locked(&shared.rule_jobs_listed) = true;
                continue;
            }
        };
        if !rules::belongs_to_run(&job, &prefix_url) {
            continue;
        }
        let Some((name, rule)) = claim(&shared, &job, deleted) else {
            continue;
        };
        if pods_labelled(&job, &run_id) {
            run_pods::claimed(&shared, &name, &logs).await;
        } else {
            // A driver that does not label rule pods (an older runner image): their own watch.
            label_rule_job(&api, &name, &run_id).await;
            pod_watches.spawn(watch_rule_pods(shared.clone(), name, rule, logs.clone()));
        }
    }
}

/// The Jobs a (re-)list has shown so far. A list reports no deletion, so an active rule Job
/// deleted while the watch was down is missing from it, and would otherwise stay active for
/// good (which would keep the watchdog from ever looking at the run).
#[derive(Default)]
struct Relist {
    listed: Option<HashSet<String>>,
}

impl Relist {
    fn begin(&mut self) {
        self.listed = Some(HashSet::new());
    }

    fn saw(&mut self, job: &Job) {
        if let (Some(listed), Some(name)) = (&mut self.listed, &job.metadata.name) {
            listed.insert(name.clone());
        }
    }

    /// Keeps active only the Jobs the list showed.
    fn end(&mut self, active: &mut HashSet<String>) {
        if let Some(listed) = self.listed.take() {
            active.retain(|name| listed.contains(name));
        }
    }
}

/// Takes in a rule Job of the run; returns its name and rule the first time it is seen.
pub fn claim(shared: &Shared, job: &Job, deleted: bool) -> Option<(String, String)> {
    let name = job.metadata.name.clone().unwrap_or_default();
    let rule = rules::rule_name(job).unwrap_or_else(|| name.clone());
    track(shared, job, &name, deleted);
    let known = locked(&shared.rule_jobs).insert(name.clone(), rule.clone());
    if known.is_some() {
        return None;
    }
    locked(&shared.event_filter).watch_object(&name, &rule);
    Some((name, rule))
}

/// True when the Job's pods carry the run's label, so that the run's pod watch sees them.
fn pods_labelled(job: &Job, run_id: &str) -> bool {
    let labels = job
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|metadata| metadata.labels.as_ref());
    labels
        .and_then(|l| l.get(labels::RUN))
        .is_some_and(|run| run == run_id)
}

/// Keeps the sets of active rule Jobs and executor Secrets up to date.
fn track(shared: &Shared, job: &Job, name: &str, deleted: bool) {
    let mut active = locked(&shared.active_rule_jobs);
    if !deleted && job_running(job) {
        active.insert(name.to_owned());
    } else {
        active.remove(name);
    }
    if let Some(secret) = rules::executor_secret(job) {
        locked(&shared.executor_secrets).insert(secret);
    }
}

/// Labels a rule Job with its run, so that it can be found without the prefix from now on.
async fn label_rule_job(api: &Api<Job>, name: &str, run_id: &str) {
    let patch = serde_json::json!({ "metadata": { "labels": {
        labels::RUN: run_id, labels::MANAGED_BY: labels::MANAGER, labels::ROLE: "rule",
    }}});
    let params = kube::api::PatchParams::default();
    if let Err(error) = api
        .patch(name, &params, &kube::api::Patch::Merge(&patch))
        .await
    {
        tracing::debug!(job = name, error = %error, "could not label a rule Job");
    }
}

async fn watch_rule_pods(shared: Arc<Shared>, job: String, rule: String, logs: Followers) {
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &shared.namespace);
    let config = watcher::Config::default().labels(&format!("job-name={job}"));
    let mut stream = std::pin::pin!(event_stream(api.clone(), config));
    while let Some(event) = stream.next().await {
        let pod = match event {
            Event::Apply(pod) | Event::InitApply(pod) => pod,
            Event::Delete(pod) => {
                forget(&shared, &pod);
                continue;
            }
            Event::Init | Event::InitDone => continue,
        };
        report(&shared, &pod, &rule).await;
        follow_logs(&shared, &api, &pod, &rule, false, &logs).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str) -> Job {
        serde_json::from_value(serde_json::json!({ "metadata": { "name": name } })).unwrap()
    }

    #[test]
    fn a_job_deleted_while_the_watch_was_down_is_no_longer_active_after_a_relist() {
        let mut active = HashSet::from(["snakejob-a".to_owned(), "snakejob-b".to_owned()]);
        let mut relist = Relist::default();

        relist.begin();
        relist.saw(&job("snakejob-a"));
        relist.saw(&job("snakejob-c"));
        relist.end(&mut active);

        assert_eq!(active, HashSet::from(["snakejob-a".to_owned()]));
    }

    #[test]
    fn only_a_job_whose_pods_carry_this_run_is_left_to_the_runs_pod_watch() {
        let labelled = |run: &str| -> Job {
            serde_json::from_value(serde_json::json!({
                "metadata": { "name": "snakejob-a" },
                "spec": { "template": {
                    "metadata": { "labels": { "byok8s.io/run": run } },
                    "spec": { "containers": [] },
                }},
            }))
            .unwrap()
        };
        assert!(pods_labelled(&labelled("run-1"), "run-1"));
        assert!(!pods_labelled(&labelled("run-2"), "run-1"));
        assert!(!pods_labelled(&job("snakejob-a"), "run-1"));
    }

    #[test]
    fn events_outside_a_relist_change_nothing_at_its_end() {
        let mut active = HashSet::from(["snakejob-a".to_owned()]);
        let mut relist = Relist::default();
        relist.saw(&job("snakejob-x"));
        relist.end(&mut active);
        assert_eq!(active, HashSet::from(["snakejob-a".to_owned()]));
    }
}
