//! The kubelet through kube-rs: volumes and env from Secrets, init containers, restarts,
//! deletion killing processes, the OOM fault, and waiting on missing configuration.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test is a failed test, with a backtrace"
)]

mod common;

use k8s_openapi::api::core::v1::{ContainerState, Pod, Secret};
use kube::Api;
use kube::api::{DeleteParams, LogParams, PostParams};
use serde_json::{Value, json};

fn pod(name: &str, spec: Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

async fn phase_of(pods: &Api<Pod>, name: &str, wanted: &str) -> Pod {
    common::eventually(30, wanted, || async {
        let pod = pods.get(name).await.ok()?;
        (pod.status.as_ref()?.phase.as_deref() == Some(wanted)).then_some(pod)
    })
    .await
}

fn state(pod: &Pod) -> ContainerState {
    reported_state(pod).unwrap()
}

/// The first container's state, once the kubelet has reported one.
fn reported_state(pod: &Pod) -> Option<ContainerState> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.first()?.state.clone()
}

#[tokio::test]
async fn a_pod_sees_its_empty_dir_secret_volume_and_secret_env() {
    let cluster = common::start().await;
    let secrets: Api<Secret> = Api::default_namespaced(cluster.client.clone());
    let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "creds"}, "stringData": {"key": "s3cr3t", "file.txt": "from-a-file"}})).unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let script = "echo data > /workdir/out && cat /workdir/out && cat /etc/creds/file.txt && echo && \
                  echo $SECRET_ENV $POD_NAME && cat /var/run/secrets/kubernetes.io/serviceaccount/namespace && \
                  echo && pwd && test -w /tmp && ! test -w /usr";
    let spec = json!({
        "restartPolicy": "Never",
        "volumes": [{"name": "workdir", "emptyDir": {}}, {"name": "creds", "secret": {"secretName": "creds"}}],
        "containers": [{"name": "c", "image": "i", "command": ["/bin/sh", "-c", script], "workingDir": "/workdir",
            "volumeMounts": [{"name": "workdir", "mountPath": "/workdir"}, {"name": "creds", "mountPath": "/etc/creds"}],
            "env": [
                {"name": "SECRET_ENV", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "key"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ]}]
    });
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    pods.create(&PostParams::default(), &pod("reader", spec))
        .await
        .unwrap();
    let done = common::eventually(30, "the pod to finish", || async {
        let pod = pods.get("reader").await.ok()?;
        matches!(
            pod.status.as_ref()?.phase.as_deref(),
            Some("Succeeded" | "Failed")
        )
        .then_some(pod)
    })
    .await;
    let log = pods.logs("reader", &LogParams::default()).await.unwrap();
    assert_eq!(
        done.status.unwrap().phase.as_deref(),
        Some("Succeeded"),
        "log: {log}"
    );
    assert_eq!(log, "data\nfrom-a-file\ns3cr3t reader\ndefault\n/workdir\n");
    assert!(
        !std::path::Path::new("/workdir/out").exists(),
        "nothing is written on the host's /"
    );
}

#[tokio::test]
async fn init_containers_run_first_and_on_failure_pods_restart_in_place() {
    let cluster = common::start().await;
    let spec = json!({
        "restartPolicy": "OnFailure",
        "volumes": [{"name": "w", "emptyDir": {}}],
        "initContainers": [{"name": "init", "image": "i", "command": ["/bin/sh", "-c", "echo init > /w/order"],
            "volumeMounts": [{"name": "w", "mountPath": "/w"}]}],
        "containers": [{"name": "main", "image": "i", "command": ["/bin/sh", "-c",
            "echo run >> /w/order; cat /w/order; test $(wc -l < /w/order) -ge 3"],
            "volumeMounts": [{"name": "w", "mountPath": "/w"}]}]
    });
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    pods.create(&PostParams::default(), &pod("retry", spec))
        .await
        .unwrap();
    let done = phase_of(&pods, "retry", "Succeeded").await;
    let status = done
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .clone();
    assert_eq!(status.restart_count, 1);
    assert_eq!(status.last_state.unwrap().terminated.unwrap().exit_code, 1);
    let log = pods.logs("retry", &LogParams::default()).await.unwrap();
    assert_eq!(log, "init\nrun\nrun\n");
    let previous = pods
        .logs(
            "retry",
            &LogParams {
                previous: true,
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(previous, "init\nrun\n");
}

#[tokio::test]
async fn deleting_a_pod_ends_its_processes_after_sigterm() {
    let cluster = common::start().await;
    let script = "trap 'echo got TERM; exit 0' TERM; sleep 3004 & wait";
    let spec = json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 30,
        "containers": [{"name": "c", "image": "i", "command": ["/bin/sh", "-c", script]}]});
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    pods.create(&PostParams::default(), &pod("victim", spec))
        .await
        .unwrap();
    phase_of(&pods, "victim", "Running").await;
    common::eventually(10, "the process", || async {
        common::process_running("sleep 3004").then_some(())
    })
    .await;

    let deleted = pods
        .delete("victim", &DeleteParams::default())
        .await
        .unwrap();
    let pending = deleted.left().expect("a running pod is deleted gracefully");
    assert_eq!(pending.metadata.deletion_grace_period_seconds, Some(30));
    common::eventually(15, "the pod to go", || async {
        pods.get_opt("victim")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    common::eventually(5, "the process to end", || async {
        (!common::process_running("sleep 3004")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_oom_fault_reports_oom_killed_with_exit_code_137() {
    let cluster = common::start().await;
    let spec = json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "i", "command": ["sleep", "3005"]}]});
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    pods.create(&PostParams::default(), &pod("hog", spec))
        .await
        .unwrap();
    phase_of(&pods, "hog", "Running").await;
    cluster.harness.oom("default", "hog").await.unwrap();
    let failed = phase_of(&pods, "hog", "Failed").await;
    let terminated = state(&failed).terminated.unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (137, Some("OOMKilled"))
    );
    assert!(!common::process_running("sleep 3005"));
}

#[tokio::test]
async fn a_missing_secret_keeps_the_container_waiting_until_it_exists() {
    let cluster = common::start().await;
    let spec = json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "i", "command": ["/bin/sh", "-c", "echo $V"],
        "env": [{"name": "V", "valueFrom": {"secretKeyRef": {"name": "later", "key": "v"}}}]}]});
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    pods.create(&PostParams::default(), &pod("patient", spec))
        .await
        .unwrap();
    common::eventually(10, "CreateContainerConfigError", || async {
        let pod = pods.get("patient").await.ok()?;
        // Polled from the pod's creation on, before the kubelet reports any container.
        let waiting = reported_state(&pod)?.waiting?;
        (waiting.reason.as_deref() == Some("CreateContainerConfigError")).then_some(())
    })
    .await;
    assert_eq!(
        pods.get("patient")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Pending")
    );
    let waiting = pods
        .logs("patient", &LogParams::default())
        .await
        .unwrap_err();
    assert!(
        waiting
            .to_string()
            .contains("is waiting to start: CreateContainerConfigError"),
        "{waiting}"
    );

    let secrets: Api<Secret> = Api::default_namespaced(cluster.client.clone());
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "later"}, "stringData": {"v": "arrived"}}),
    )
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    phase_of(&pods, "patient", "Succeeded").await;
    assert_eq!(
        pods.logs("patient", &LogParams::default()).await.unwrap(),
        "arrived\n"
    );
}

#[tokio::test]
async fn pods_of_a_missing_service_account_are_forbidden() {
    let cluster = common::start().await;
    let spec = json!({"restartPolicy": "Never", "serviceAccountName": "runner",
        "containers": [{"name": "c", "image": "i", "command": ["true"]}]});
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    let error = pods
        .create(&PostParams::default(), &pod("lonely", spec))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("serviceaccount \"runner\" not found"),
        "{error}"
    );
}

#[tokio::test]
async fn following_a_log_streams_until_the_container_ends() {
    use futures_util::AsyncBufReadExt;
    use futures_util::TryStreamExt;
    let cluster = common::start().await;
    let spec = json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "i",
        "command": ["/bin/sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"]}]});
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    pods.create(&PostParams::default(), &pod("talker", spec))
        .await
        .unwrap();
    phase_of(&pods, "talker", "Running").await;
    let stream = pods
        .log_stream(
            "talker",
            &LogParams {
                follow: true,
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    let lines: Vec<String> = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.lines().try_collect(),
    )
    .await
    .expect("the stream ends with the container")
    .unwrap();
    assert_eq!(lines, vec!["line 1", "line 2", "line 3"]);
}

#[tokio::test]
async fn stopping_the_cluster_kills_every_pod_process() {
    let cluster = common::start().await;
    let spec = json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 300,
        "containers": [{"name": "c", "image": "i", "command": ["/bin/sh", "-c", "trap '' TERM; setsid sleep 3006 & wait"]}]});
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    pods.create(&PostParams::default(), &pod("survivor", spec))
        .await
        .unwrap();
    common::eventually(20, "the process", || async {
        common::process_running("sleep 3006").then_some(())
    })
    .await;
    let status = cluster.harness.stop().unwrap();
    assert!(status.success(), "{status:?}");
    common::eventually(5, "no survivor", || async {
        (!common::process_running("sleep 3006")).then_some(())
    })
    .await;
}
