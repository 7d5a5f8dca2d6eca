//! Jobs end to end through kube-rs: pods created, watched to completion, logs, conditions,
//! backoff, foreground deletion.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test is a failed test, with a backtrace"
)]

mod common;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{DeleteParams, ListParams, LogParams, PostParams, PropagationPolicy};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde_json::json;

fn job(name: &str, script: &str, backoff_limit: i32) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "snakemake"}},
        "spec": {"backoffLimit": backoff_limit, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "runner", "command": ["/bin/sh", "-c", script]}]
        }}}
    }))
    .unwrap()
}

async fn wait_for_condition(jobs: &Api<Job>, name: &str, kind: &str) -> Job {
    common::eventually(30, kind, || async {
        let job = jobs.get(name).await.ok()?;
        let conditions = job.status.as_ref()?.conditions.clone()?;
        conditions
            .iter()
            .any(|c| c.type_ == kind && c.status == "True")
            .then_some(job)
    })
    .await
}

#[tokio::test]
async fn a_job_runs_its_pod_to_completion_and_its_log_is_readable() {
    let cluster = common::start().await;
    let client: Client = cluster.client.clone();
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    jobs.create(
        &PostParams::default(),
        &job("hello", "echo hello; echo world", 0),
    )
    .await
    .unwrap();

    let config = watcher::Config::default().labels("job-name=hello");
    let succeeded = watcher(pods.clone(), config)
        .applied_objects()
        .try_filter(|pod| {
            let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
            std::future::ready(phase.as_deref() == Some("Succeeded"))
        })
        .boxed();
    let pod = tokio::time::timeout(std::time::Duration::from_secs(30), succeeded.into_future())
        .await
        .expect("the pod succeeds in time")
        .0
        .expect("the watch yields the pod")
        .unwrap();

    let name = pod.metadata.name.clone().unwrap();
    assert!(name.starts_with("hello-"), "{name}");
    let labels = pod.metadata.labels.clone().unwrap();
    assert_eq!(labels["batch.kubernetes.io/job-name"], "hello");
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("Job", Some(true), Some(true))
    );
    let terminated = pod.status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );

    let log = pods.logs(&name, &LogParams::default()).await.unwrap();
    assert_eq!(log, "hello\nworld\n");
    let stamped = pods
        .logs(
            &name,
            &LogParams {
                timestamps: true,
                tail_lines: Some(1),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    let (stamp, line) = stamped.trim_end().split_once(' ').unwrap();
    assert!(stamp.ends_with('Z') && stamp.contains('T'), "{stamp}");
    assert_eq!(line, "world");

    let done = wait_for_condition(&jobs, "hello", "Complete").await;
    let status = done.status.unwrap();
    assert_eq!((status.succeeded, status.active), (Some(1), None));
    assert!(status.completion_time.is_some() && status.start_time.is_some());

    let events: Api<Event> = Api::default_namespaced(client);
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    for reason in ["SuccessfulCreate", "Completed", "Scheduled", "Started"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "missing event {reason} in {reasons:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_job_is_retried_until_its_backoff_limit() {
    let cluster = common::start().await;
    let jobs: Api<Job> = Api::default_namespaced(cluster.client.clone());
    jobs.create(
        &PostParams::default(),
        &job("flaky", "echo failing; exit 3", 1),
    )
    .await
    .unwrap();
    let failed = wait_for_condition(&jobs, "flaky", "Failed").await;
    let status = failed.status.unwrap();
    assert_eq!(status.failed, Some(2));
    let condition = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Failed")
        .unwrap();
    assert_eq!(condition.reason.as_deref(), Some("BackoffLimitExceeded"));

    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    let listed = pods
        .list(&ListParams::default().labels("job-name=flaky"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2);
    let pod = &listed.items[0];
    let state = pod
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .clone()
        .unwrap();
    assert_eq!(state.terminated.unwrap().exit_code, 3);
    let name = pod.metadata.name.as_deref().unwrap();
    let previous = pods
        .logs(
            name,
            &LogParams {
                previous: true,
                ..LogParams::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        previous
            .to_string()
            .contains("previous terminated container \"main\""),
        "{previous}"
    );
}

#[tokio::test]
async fn foreground_deletion_removes_the_pods_before_the_job() {
    let cluster = common::start().await;
    let jobs: Api<Job> = Api::default_namespaced(cluster.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    jobs.create(
        &PostParams::default(),
        &job("sleeper", "exec sleep 3003", 0),
    )
    .await
    .unwrap();
    let selector = ListParams::default().labels("job-name=sleeper");
    common::eventually(20, "a running pod", || async {
        let listed = pods.list(&selector).await.ok()?;
        let phase = listed.items.first()?.status.as_ref()?.phase.clone()?;
        (phase == "Running").then_some(())
    })
    .await;
    common::eventually(10, "the process", || async {
        common::process_running("sleep 3003").then_some(())
    })
    .await;

    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..DeleteParams::default()
    };
    jobs.delete("sleeper", &params).await.unwrap();
    let deleting = jobs.get("sleeper").await.unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(
        deleting.metadata.finalizers.unwrap(),
        vec!["foregroundDeletion".to_string()]
    );

    common::eventually(20, "the job to go", || async {
        jobs.get_opt("sleeper")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        pods.list(&selector).await.unwrap().items.is_empty(),
        "pods go before their job"
    );
    assert!(
        !common::process_running("sleep 3003"),
        "the pod's process is gone"
    );
}

#[tokio::test]
async fn finished_jobs_with_a_ttl_are_deleted_with_their_pods() {
    let cluster = common::start().await;
    let jobs: Api<Job> = Api::default_namespaced(cluster.client.clone());
    let mut short_lived = job("ephemeral", "true", 0);
    short_lived
        .spec
        .as_mut()
        .unwrap()
        .ttl_seconds_after_finished = Some(0);
    jobs.create(&PostParams::default(), &short_lived)
        .await
        .unwrap();
    common::eventually(30, "the job to expire", || async {
        jobs.get_opt("ephemeral")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    let left = pods
        .list(&ListParams::default().labels("job-name=ephemeral"))
        .await
        .unwrap();
    assert!(left.items.is_empty());
}
