//! Validation of Pods and pod templates: containers, env, volumes, mounts, restart policy.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::names;
use crate::object;
use crate::status::Cause;

const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
const VOLUME_SOURCES: [&str; 8] = [
    "emptyDir",
    "secret",
    "configMap",
    "projected",
    "hostPath",
    "persistentVolumeClaim",
    "downwardAPI",
    "ephemeral",
];
const FIELD_PATHS: [&str; 8] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.podIP",
    "status.podIPs",
];

/// Causes against a whole Pod.
pub fn validate_pod(pod: &Value) -> Vec<Cause> {
    validate_spec(pod.get("spec").unwrap_or(&Value::Null), "spec")
}

/// Causes against a pod spec found at `path` (`spec` or `spec.template.spec`).
pub fn validate_spec(spec: &Value, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let volumes = volume_names(spec, path, &mut causes);
    let containers = list(spec, "containers");
    if containers.is_empty() {
        causes.push(Cause::required(format!("{path}.containers"), ""));
    }
    let mut seen = HashSet::new();
    for (field, items) in [
        ("initContainers", list(spec, "initContainers")),
        ("containers", containers),
    ] {
        for (i, container) in items.iter().enumerate() {
            let at = format!("{path}.{field}[{i}]");
            causes.extend(validate_container(container, &at, &volumes, &mut seen));
        }
    }
    causes.extend(restart_policy(spec, path));
    causes.extend(non_negative(spec, "terminationGracePeriodSeconds", path));
    causes.extend(super::meta::labels(
        spec.get("nodeSelector"),
        &format!("{path}.nodeSelector"),
    ));
    if let Some(deadline) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64)
        && deadline <= 0
    {
        let field = format!("{path}.activeDeadlineSeconds");
        causes.push(Cause::invalid(
            field,
            &deadline.to_string(),
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    causes
}

fn list(spec: &Value, field: &str) -> Vec<Value> {
    spec.get(field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn restart_policy(spec: &Value, path: &str) -> Option<Cause> {
    let policy = object::str_at(spec, "/restartPolicy");
    let field = format!("{path}.restartPolicy");
    if policy.is_empty() {
        return Some(Cause::required(field, ""));
    }
    (!RESTART_POLICIES.contains(&policy))
        .then(|| Cause::not_supported(field, policy, &RESTART_POLICIES))
}

fn non_negative(spec: &Value, key: &str, path: &str) -> Option<Cause> {
    let value = spec.get(key).and_then(Value::as_i64)?;
    let why = "must be greater than or equal to 0";
    (value < 0).then(|| Cause::invalid(format!("{path}.{key}"), &value.to_string(), why))
}

fn volume_names(spec: &Value, path: &str, causes: &mut Vec<Cause>) -> HashSet<String> {
    let mut names = HashSet::new();
    for (i, volume) in list(spec, "volumes").iter().enumerate() {
        let at = format!("{path}.volumes[{i}]");
        let name = object::str_at(volume, "/name");
        match names::label_error(name) {
            Some(_) if name.is_empty() => causes.push(Cause::required(format!("{at}.name"), "")),
            Some(why) => causes.push(Cause::invalid(format!("{at}.name"), name, &why)),
            None => {}
        }
        if !names.insert(name.to_string()) {
            causes.push(Cause::duplicate(format!("{at}.name"), name));
        }
        causes.extend(volume_source(volume, &at));
    }
    names
}

fn volume_source(volume: &Value, at: &str) -> Vec<Cause> {
    let sources: Vec<&str> = VOLUME_SOURCES
        .iter()
        .copied()
        .filter(|s| volume.get(*s).is_some())
        .collect();
    match sources.as_slice() {
        [] => vec![Cause::required(at, "must specify a volume type")],
        ["secret"] => required_name(
            volume,
            "/secret/secretName",
            &format!("{at}.secret.secretName"),
        ),
        ["configMap"] => required_name(volume, "/configMap/name", &format!("{at}.configMap.name")),
        [_] => Vec::new(),
        _ => vec![Cause::forbidden(
            at,
            "may not specify more than 1 volume type",
        )],
    }
}

fn required_name(value: &Value, pointer: &str, field: &str) -> Vec<Cause> {
    if object::str_at(value, pointer).is_empty() {
        vec![Cause::required(field, "")]
    } else {
        Vec::new()
    }
}

fn validate_container(
    container: &Value,
    at: &str,
    volumes: &HashSet<String>,
    seen: &mut HashSet<String>,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = object::str_at(container, "/name");
    if name.is_empty() {
        causes.push(Cause::required(format!("{at}.name"), ""));
    } else if let Some(why) = names::label_error(name) {
        causes.push(Cause::invalid(format!("{at}.name"), name, &why));
    } else if !seen.insert(name.to_string()) {
        causes.push(Cause::duplicate(format!("{at}.name"), name));
    }
    if object::str_at(container, "/image").trim().is_empty() {
        causes.push(Cause::required(format!("{at}.image"), ""));
    }
    causes.extend(validate_env(container, at));
    causes.extend(validate_env_from(container, at));
    causes.extend(validate_mounts(container, at, volumes));
    causes
}

fn validate_env(container: &Value, at: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (i, env) in list(container, "env").iter().enumerate() {
        let field = format!("{at}.env[{i}]");
        let name = object::str_at(env, "/name");
        if name.is_empty() {
            causes.push(Cause::required(format!("{field}.name"), ""));
        } else if let Some(why) = names::env_name_error(name) {
            causes.push(Cause::invalid(format!("{field}.name"), name, &why));
        }
        if let Some(source) = env.get("valueFrom") {
            causes.extend(validate_env_source(
                env,
                source,
                &format!("{field}.valueFrom"),
            ));
        }
    }
    causes
}

fn validate_env_source(env: &Value, source: &Value, at: &str) -> Vec<Cause> {
    let kinds: Vec<&str> = [
        "fieldRef",
        "resourceFieldRef",
        "configMapKeyRef",
        "secretKeyRef",
    ]
    .into_iter()
    .filter(|k| source.get(*k).is_some())
    .collect();
    let mut causes = Vec::new();
    if !object::str_at(env, "/value").is_empty() {
        let why = "may not be specified when `value` is not empty";
        causes.push(Cause::invalid(at, "", why));
    }
    match kinds.as_slice() {
        [] => causes.push(Cause::invalid(at, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")),
        ["fieldRef"] => causes.extend(field_ref(&source["fieldRef"], &format!("{at}.fieldRef"))),
        [kind @ ("configMapKeyRef" | "secretKeyRef")] => {
            causes.extend(key_ref(&source[*kind], &format!("{at}.{kind}")));
        }
        [_] => {}
        _ => causes.push(Cause::invalid(at, "", "may not have more than one field specified at a time")),
    }
    causes
}

fn field_ref(reference: &Value, at: &str) -> Option<Cause> {
    let path = object::str_at(reference, "/fieldPath");
    if path.is_empty() {
        return Some(Cause::required(format!("{at}.fieldPath"), ""));
    }
    let labelled =
        path.starts_with("metadata.labels[") || path.starts_with("metadata.annotations[");
    (!labelled && !FIELD_PATHS.contains(&path))
        .then(|| Cause::not_supported(format!("{at}.fieldPath"), path, &FIELD_PATHS))
}

fn key_ref(reference: &Value, at: &str) -> Vec<Cause> {
    let mut causes = required_name(reference, "/name", &format!("{at}.name"));
    let key = object::str_at(reference, "/key");
    if key.is_empty() {
        causes.push(Cause::required(format!("{at}.key"), ""));
    } else if let Some(why) = names::config_key_error(key) {
        causes.push(Cause::invalid(format!("{at}.key"), key, &why));
    }
    causes
}

fn validate_env_from(container: &Value, at: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (i, source) in list(container, "envFrom").iter().enumerate() {
        let field = format!("{at}.envFrom[{i}]");
        let refs: Vec<&str> = ["configMapRef", "secretRef"]
            .into_iter()
            .filter(|k| source.get(*k).is_some())
            .collect();
        match refs.as_slice() {
            [kind] => causes.extend(required_name(
                &source[*kind],
                "/name",
                &format!("{field}.{kind}.name"),
            )),
            [] => causes.push(Cause::invalid(
                field,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            )),
            _ => causes.push(Cause::invalid(
                field,
                "",
                "may not have more than one field specified at a time",
            )),
        }
    }
    causes
}

fn validate_mounts(container: &Value, at: &str, volumes: &HashSet<String>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut paths = HashSet::new();
    for (i, mount) in list(container, "volumeMounts").iter().enumerate() {
        let field = format!("{at}.volumeMounts[{i}]");
        let name = object::str_at(mount, "/name");
        if !volumes.contains(name) {
            causes.push(Cause::not_found(format!("{field}.name"), name));
        }
        let path = object::str_at(mount, "/mountPath");
        if path.is_empty() {
            causes.push(Cause::required(format!("{field}.mountPath"), ""));
        } else if !paths.insert(path.to_string()) {
            causes.push(Cause::invalid(
                format!("{field}.mountPath"),
                path,
                "must be unique",
            ));
        }
    }
    causes
}

/// Causes against a pod update: real servers allow changing little more than images.
pub fn validate_update(old: &Value, new: &Value) -> Vec<Cause> {
    if mutable_parts_blanked(&old["spec"]) == mutable_parts_blanked(&new["spec"]) {
        return Vec::new();
    }
    let why = "pod updates may not change fields other than `spec.containers[*].image`,\
               `spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,\
               `spec.tolerations` (only additions to existing tolerations),\
               `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was \
               previously negative)";
    vec![Cause::forbidden("spec", why)]
}

fn mutable_parts_blanked(spec: &Value) -> Value {
    let mut spec = spec.clone();
    for field in ["containers", "initContainers"] {
        if let Some(items) = spec.get_mut(field).and_then(Value::as_array_mut) {
            for container in items {
                container["image"] = json!("");
            }
        }
    }
    if let Some(map) = spec.as_object_mut() {
        map.remove("activeDeadlineSeconds");
        map.remove("tolerations");
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(spec: Value) -> Vec<String> {
        validate_spec(&spec, "spec")
            .into_iter()
            .map(|c| c.field)
            .collect()
    }

    #[test]
    fn a_minimal_spec_is_valid() {
        let spec = json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]});
        assert!(fields(spec).is_empty());
    }

    #[test]
    fn containers_are_required_with_name_and_image() {
        assert_eq!(
            fields(json!({"restartPolicy": "Never"})),
            vec!["spec.containers"]
        );
        let spec = json!({"restartPolicy": "Never", "containers": [{"name": "Bad_Name"}]});
        assert_eq!(
            fields(spec),
            vec!["spec.containers[0].name", "spec.containers[0].image"]
        );
    }

    #[test]
    fn container_names_are_unique_across_init_containers() {
        let spec = json!({"restartPolicy": "Never",
            "initContainers": [{"name": "c", "image": "i"}],
            "containers": [{"name": "c", "image": "i"}]});
        assert_eq!(fields(spec), vec!["spec.containers[0].name"]);
    }

    #[test]
    fn mounts_must_name_a_declared_volume() {
        let spec = json!({"restartPolicy": "Never",
            "volumes": [{"name": "workdir", "emptyDir": {}}],
            "containers": [{"name": "c", "image": "i", "volumeMounts": [
                {"name": "workdir", "mountPath": "/workdir"},
                {"name": "other", "mountPath": "/other"}]}]});
        assert_eq!(
            fields(spec),
            vec!["spec.containers[0].volumeMounts[1].name"]
        );
    }

    #[test]
    fn volumes_need_exactly_one_source() {
        let spec = json!({"restartPolicy": "Never",
            "volumes": [{"name": "a"}, {"name": "b", "emptyDir": {}, "secret": {"secretName": "s"}}],
            "containers": [{"name": "c", "image": "i"}]});
        assert_eq!(fields(spec), vec!["spec.volumes[0]", "spec.volumes[1]"]);
    }

    #[test]
    fn env_sources_are_checked() {
        let spec = json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "i", "env": [
            {"name": "1BAD", "value": "x"},
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s"}}},
            {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "spec.containers"}}},
            {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]});
        assert_eq!(
            fields(spec),
            vec![
                "spec.containers[0].env[0].name",
                "spec.containers[0].env[1].valueFrom.secretKeyRef.key",
                "spec.containers[0].env[2].valueFrom.fieldRef.fieldPath",
            ]
        );
    }

    #[test]
    fn unknown_restart_policies_are_unsupported() {
        let spec =
            json!({"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "i"}]});
        let causes = validate_spec(&spec, "spec");
        assert_eq!(causes[0].reason, "FieldValueNotSupported");
    }

    #[test]
    fn updates_may_change_images_but_not_commands() {
        let old = json!({"spec": {"containers": [{"name": "c", "image": "a", "command": ["x"]}]}});
        let image =
            json!({"spec": {"containers": [{"name": "c", "image": "b", "command": ["x"]}]}});
        let command =
            json!({"spec": {"containers": [{"name": "c", "image": "a", "command": ["y"]}]}});
        assert!(validate_update(&old, &image).is_empty());
        assert_eq!(validate_update(&old, &command).len(), 1);
    }
}
