//! Watching the driver: its Job, whose end ends the run, and what its pod says.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher::{self, Event};
use tokio::sync::watch;

use super::{DriverEnd, Shared, event_stream, locked, report};
use crate::backend::kubernetes::pods;

pub async fn watch_driver_job(
    shared: Arc<Shared>,
    name: String,
    ended: watch::Sender<Option<DriverEnd>>,
) {
    let api: Api<Job> = Api::namespaced(shared.client.clone(), &shared.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(event_stream(api, config));
    // A (re-)list reports no deletion: a Job missing from it was deleted meanwhile.
    let mut listed = false;
    while let Some(event) = stream.next().await {
        let end = match event {
            Event::Apply(job) => job_end(&job),
            Event::InitApply(job) => {
                listed = true;
                job_end(&job)
            }
            Event::Delete(_) => Some(DriverEnd::Deleted),
            Event::Init => {
                listed = false;
                None
            }
            Event::InitDone => (!listed).then_some(DriverEnd::Deleted),
        };
        if let Some(end) = end {
            ended.send_replace(Some(end));
            return;
        }
    }
}

/// The end a Job's conditions record (batch/v1 JobCondition: Complete or Failed, status True).
fn job_end(job: &Job) -> Option<DriverEnd> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(DriverEnd::Succeeded),
            "Failed" => Some(DriverEnd::Failed(c.message.clone().unwrap_or_default())),
            _ => None,
        })
}

pub fn job_running(job: &Job) -> bool {
    job_end(job).is_none() && job.metadata.deletion_timestamp.is_none()
}

/// Reports a driver pod's changes and remembers why it failed, if it did.
pub async fn take_in(shared: &Shared, pod: &Pod) {
    report(shared, pod, "driver").await;
    if let Some(reason) = pods::failure_reason(pod) {
        *locked(&shared.driver_failure) = Some(reason);
    }
}
