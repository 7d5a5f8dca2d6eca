//! The defaults a real API server fills in on create, so clients read back what they would.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::object::{self, child_map, object_mut};
use crate::status::ApiError;

/// Fills the defaults of `object` of the type `plural`; `object` already has its uid.
pub fn apply(plural: &str, object: &mut Value) -> Result<(), ApiError> {
    match plural {
        "pods" => pod(object),
        "jobs" => job(object),
        "secrets" => secret(object)?,
        "namespaces" => namespace(object),
        _ => {}
    }
    Ok(())
}

fn pod(pod: &mut Value) {
    pod_spec(object_mut(pod, "spec"));
    // Status belongs to the kubelet; what a client sends on create is dropped.
    pod["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
}

/// Defaults of a pod spec, also applied to Job templates.
pub fn pod_spec(spec: &mut Map<String, Value>) {
    let defaults = [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
        ("enableServiceLinks", json!(true)),
    ];
    for (key, value) in defaults {
        spec.entry(key).or_insert(value);
    }
    for field in ["containers", "initContainers"] {
        for container in spec
            .get_mut(field)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            self::container(container);
        }
    }
    for volume in spec
        .get_mut("volumes")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        for source in ["secret", "configMap", "projected"] {
            if let Some(source) = volume.get_mut(source).and_then(Value::as_object_mut) {
                source.entry("defaultMode").or_insert(json!(420));
            }
        }
    }
}

fn container(container: &mut Value) {
    let Some(map) = container.as_object_mut() else {
        return;
    };
    let image = map.get("image").and_then(Value::as_str).unwrap_or_default();
    let policy = if image.ends_with(":latest") || !has_tag(image) {
        "Always"
    } else {
        "IfNotPresent"
    };
    map.entry("imagePullPolicy").or_insert(json!(policy));
    map.entry("terminationMessagePath")
        .or_insert(json!("/dev/termination-log"));
    map.entry("terminationMessagePolicy")
        .or_insert(json!("File"));
    map.entry("resources").or_insert(json!({}));
    for env in map
        .get_mut("env")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(field_ref) = env
            .pointer_mut("/valueFrom/fieldRef")
            .and_then(Value::as_object_mut)
        {
            field_ref.entry("apiVersion").or_insert(json!("v1"));
        }
    }
}

fn has_tag(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    last.contains(':') || last.contains('@')
}

fn job(job: &mut Value) {
    let uid = object::uid(job).to_string();
    let name = object::name(job).to_string();
    job["status"] = json!({});
    object::metadata_mut(job).insert("generation".into(), json!(1));
    let spec = object_mut(job, "spec");
    let defaults = [
        ("parallelism", json!(1)),
        ("completions", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
        ("manualSelector", Value::Null),
    ];
    for (key, value) in defaults {
        spec.entry(key).or_insert(value);
    }
    spec.remove("manualSelector");
    let selector = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    spec.entry("selector").or_insert(selector);
    let template = spec.entry("template").or_insert(json!({}));
    let labels = child_map(object_mut(template, "metadata"), "labels");
    for (key, value) in job_labels(&name, &uid) {
        labels.insert(key.into(), json!(value));
    }
    pod_spec(object_mut(template, "spec"));
}

/// The labels a Job's pods carry so that selectors find them.
pub fn job_labels<'a>(name: &'a str, uid: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("batch.kubernetes.io/controller-uid", uid),
        ("batch.kubernetes.io/job-name", name),
        ("controller-uid", uid),
        ("job-name", name),
    ]
}

fn secret(secret: &mut Value) -> Result<(), ApiError> {
    let map = secret.as_object_mut().expect("callers pass objects");
    map.entry("type").or_insert(json!("Opaque"));
    for (key, value) in map
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let text = value.as_str().unwrap_or_default();
        if let Err(error) = base64::engine::general_purpose::STANDARD.decode(text) {
            let message =
                format!("error decoding data[{key}] of Secret: illegal base64 data: {error}");
            return Err(ApiError::bad_request(message));
        }
    }
    // stringData is write-only: merged into data, never stored.
    if let Some(Value::Object(plain)) = map.remove("stringData") {
        let data = object_mut(secret, "data");
        for (key, value) in plain {
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(value.as_str().unwrap_or_default());
            data.insert(key, json!(encoded));
        }
    }
    Ok(())
}

fn namespace(namespace: &mut Value) {
    let name = object::name(namespace).to_string();
    let labels = child_map(object::metadata_mut(namespace), "labels");
    labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    namespace["spec"] = json!({"finalizers": ["kubernetes"]});
    namespace["status"] = json!({"phase": "Active"});
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_default_to_always_and_lose_client_status() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Succeeded"}});
        apply("pods", &mut pod).unwrap();
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod["status"]["phase"], "Pending");
    }

    #[test]
    fn jobs_get_selector_labels_and_a_backoff_limit() {
        let mut job = json!({"metadata": {"name": "j", "uid": "u1"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:1"}]}}}});
        apply("jobs", &mut job).unwrap();
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(
            job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "u1"
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"]["job-name"],
            "j"
        );
        assert_eq!(
            job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
    }

    #[test]
    fn secret_string_data_is_encoded_into_data() {
        let mut secret = json!({"stringData": {"k": "v"}});
        apply("secrets", &mut secret).unwrap();
        assert_eq!(secret["data"]["k"], "dg==");
        assert!(secret.get("stringData").is_none());
        assert_eq!(secret["type"], "Opaque");
    }

    #[test]
    fn secret_data_must_be_base64() {
        let mut secret = json!({"data": {"k": "not base64!"}});
        assert_eq!(apply("secrets", &mut secret).unwrap_err().code, 400);
    }
}
