//! The API server's strictness through kube-rs: validation, conflicts, auth, faults, 404s.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test is a failed test, with a backtrace"
)]

mod common;

use byok8s_test_cluster::Fault;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn api_error(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_names_are_unprocessable() {
    let cluster = common::start().await;
    let secrets: Api<Secret> = Api::default_namespaced(cluster.client.clone());
    let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "Bad_Name"}})).unwrap();
    let error = api_error(
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error
            .message
            .contains("metadata.name: Invalid value: \"Bad_Name\""),
        "{}",
        error.message
    );

    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    let dotted: Namespace = serde_json::from_value(json!({"metadata": {"name": "a.b"}})).unwrap();
    let error = api_error(
        namespaces
            .create(&PostParams::default(), &dotted)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 422);
}

#[tokio::test]
async fn bad_labels_and_restart_policy_always_jobs_are_refused() {
    let cluster = common::start().await;
    let jobs: Api<Job> = Api::default_namespaced(cluster.client.clone());
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "j", "labels": {"byok8s.io/run": "not valid!"}},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "command": ["true"]}]}}}
    }))
    .unwrap();
    let error = api_error(jobs.create(&PostParams::default(), &job).await.unwrap_err());
    assert_eq!(error.code, 422);
    assert!(
        error.message.contains("metadata.labels"),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .contains("spec.template.spec.restartPolicy: Unsupported value: \"Always\""),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn stale_updates_conflict() {
    let cluster = common::start().await;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(cluster.client.clone());
    let body: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"a": "1"}})).unwrap();
    let created = config_maps
        .create(&PostParams::default(), &body)
        .await
        .unwrap();
    let mut first = created.clone();
    first.data = Some([("a".to_string(), "2".to_string())].into());
    config_maps
        .replace("c", &PostParams::default(), &first)
        .await
        .unwrap();
    let error = api_error(
        config_maps
            .replace("c", &PostParams::default(), &created)
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
    assert!(
        error.message.contains("the object has been modified"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn creating_twice_is_already_exists_and_missing_namespaces_not_found() {
    let cluster = common::start().await;
    let body: Secret = serde_json::from_value(json!({"metadata": {"name": "s"}})).unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(cluster.client.clone());
    secrets.create(&PostParams::default(), &body).await.unwrap();
    let error = api_error(
        secrets
            .create(&PostParams::default(), &body)
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "AlreadyExists"));
    let elsewhere: Api<Secret> = Api::namespaced(cluster.client.clone(), "nowhere");
    let error = api_error(
        elsewhere
            .create(&PostParams::default(), &body)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 404);
    assert_eq!(error.message, "namespaces \"nowhere\" not found");
}

#[tokio::test]
async fn injected_faults_fail_the_next_matching_requests() {
    let cluster = common::start().await;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(cluster.client.clone());
    cluster
        .harness
        .inject(&Fault::new("list", "configmaps").count(2).code(500))
        .await
        .unwrap();
    for _ in 0..2 {
        let error = api_error(config_maps.list(&ListParams::default()).await.unwrap_err());
        assert_eq!((error.code, error.reason.as_str()), (500, "InternalError"));
    }
    config_maps.list(&ListParams::default()).await.unwrap();
    let requests = cluster.harness.requests().await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps";
    let codes: Vec<u16> = requests
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.code)
        .collect();
    assert_eq!(codes, vec![500, 500, 200]);
}

#[tokio::test]
async fn the_request_log_tells_clients_apart_by_their_user_agent() {
    let cluster = common::start().await;
    let kubeconfig = kube::config::Kubeconfig::read_from(cluster.harness.kubeconfig()).unwrap();
    let options = kube::config::KubeConfigOptions::default();
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    let agent = http::HeaderValue::from_static("byok8s-agent/1");
    config.headers.push((http::header::USER_AGENT, agent));
    let client = kube::Client::try_from(config).unwrap();
    let config_maps: Api<ConfigMap> = Api::default_namespaced(client);

    config_maps.list(&ListParams::default()).await.unwrap();

    let requests = cluster.harness.requests().await.unwrap();
    let listed = requests
        .iter()
        .find(|r| r.path == "/api/v1/namespaces/default/configmaps")
        .expect("the list is logged");
    assert_eq!(listed.user_agent, "byok8s-agent/1");
}

#[tokio::test]
async fn kube_rs_retries_unavailable_answers_by_itself() {
    let cluster = common::start().await;
    let jobs: Api<Job> = Api::default_namespaced(cluster.client.clone());
    let fault = Fault::new("list", "jobs").count(2).code(503);
    cluster.harness.inject(&fault).await.unwrap();
    jobs.list(&ListParams::default()).await.unwrap();
    let requests = cluster.harness.requests().await.unwrap();
    let path = "/apis/batch/v1/namespaces/default/jobs";
    let codes: Vec<u16> = requests
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.code)
        .collect();
    assert_eq!(codes, vec![503, 503, 200]);
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized() {
    let cluster = common::start().await;
    let intruder = common::client_for(&cluster.harness, Some("not-the-token")).await;
    let pods: Api<Pod> = Api::default_namespaced(intruder);
    let error = api_error(pods.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(error.code, 401);
}

#[tokio::test]
async fn unserved_resources_are_not_found() {
    let cluster = common::start().await;
    let request = http::Request::get("/apis/apps/v1/namespaces/default/deployments")
        .body(Vec::new())
        .unwrap();
    let error = cluster.client.request_text(request).await.unwrap_err();
    assert_eq!(api_error(error).code, 404);
}

#[tokio::test]
async fn merge_patches_change_labels_and_label_selectors_find_them() {
    let cluster = common::start().await;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(cluster.client.clone());
    for name in ["a", "b"] {
        let body: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"tier": "x"}}}))
                .unwrap();
        config_maps
            .create(&PostParams::default(), &body)
            .await
            .unwrap();
    }
    let patch = json!({"metadata": {"labels": {"tier": "y", "extra": "1"}}});
    config_maps
        .patch("b", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let strategic = json!({"metadata": {"labels": {"extra": null}}});
    config_maps
        .patch("b", &PatchParams::default(), &Patch::Strategic(&strategic))
        .await
        .unwrap();
    let found = config_maps
        .list(&ListParams::default().labels("tier in (y),!extra"))
        .await
        .unwrap();
    let names: Vec<String> = found
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names, vec!["b".to_string()]);
}

#[tokio::test]
async fn deleting_a_job_without_a_policy_orphans_its_pods_and_warns() {
    let cluster = common::start().await;
    let jobs: Api<Job> = Api::default_namespaced(cluster.client.clone());
    let job: Job = serde_json::from_value(json!({"metadata": {"name": "orphaner"}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "i", "command": ["sleep", "3002"]}]}}}}))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    let selector = ListParams::default().labels("job-name=orphaner");
    common::eventually(20, "the job's pod", || async {
        pods.list(&selector)
            .await
            .ok()
            .filter(|l| !l.items.is_empty())
    })
    .await;
    jobs.delete("orphaner", &DeleteParams::default())
        .await
        .unwrap();
    common::eventually(10, "the job to go", || async {
        jobs.get_opt("orphaner")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let left = pods.list(&selector).await.unwrap();
    assert_eq!(
        left.items.len(),
        1,
        "the pod is orphaned, as on a real cluster"
    );
    assert!(
        left.items[0]
            .metadata
            .owner_references
            .as_ref()
            .is_none_or(Vec::is_empty)
    );
    pods.delete_collection(&DeleteParams::default(), &selector)
        .await
        .unwrap();
}

#[tokio::test]
async fn server_side_apply_creates_then_merges() {
    let cluster = common::start().await;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(cluster.client.clone());
    let params = PatchParams::apply("byok8s-test");
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}});
    config_maps
        .patch("applied", &params, &Patch::Apply(&first))
        .await
        .unwrap();
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"b": "2"}});
    let merged = config_maps
        .patch("applied", &params, &Patch::Apply(&second))
        .await
        .unwrap();
    let data = merged.data.unwrap();
    assert_eq!(
        (
            data.get("a").map(String::as_str),
            data.get("b").map(String::as_str)
        ),
        (Some("1"), Some("2"))
    );
    let request = http::Request::patch("/api/v1/namespaces/default/configmaps/applied")
        .header("content-type", "application/apply-patch+yaml")
        .body(serde_json::to_vec(&second).unwrap())
        .unwrap();
    let error = api_error(cluster.client.request_text(request).await.unwrap_err());
    assert_eq!(error.code, 400, "apply needs a fieldManager");
}
