//! Admission of pods: the ServiceAccount must exist and its token is mounted, as the
//! ServiceAccount admission plugin of a real API server does it.

use serde_json::{Value, json};

use crate::object;
use crate::resources::{PODS, SERVICE_ACCOUNTS};
use crate::status::ApiError;
use crate::store::Store;

/// Where every container finds its token, CA certificate and namespace.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Checks and mutates a pod about to be created.
pub fn pod(store: &Store, pod: &mut Value) -> Result<(), ApiError> {
    let namespace = object::namespace(pod).to_string();
    let name = object::name(pod).to_string();
    let spec = object::object_mut(pod, "spec");
    let account = spec
        .get("serviceAccountName")
        .or_else(|| spec.get("serviceAccount"))
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .unwrap_or("default")
        .to_string();
    spec.insert("serviceAccountName".into(), json!(account));
    spec.insert("serviceAccount".into(), json!(account));
    spec.entry("priority").or_insert(json!(0));
    spec.entry("preemptionPolicy")
        .or_insert(json!("PreemptLowerPriority"));

    let Some(found) = store.get(&SERVICE_ACCOUNTS, &namespace, &account) else {
        let why = format!(
            "error looking up service account {namespace}/{account}: serviceaccount \"{account}\" not found"
        );
        return Err(ApiError::forbidden(&PODS, &name, &why));
    };
    let automount = spec
        .get("automountServiceAccountToken")
        .or_else(|| found.get("automountServiceAccountToken"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if automount {
        mount_token(pod);
    }
    Ok(())
}

/// Adds the projected token volume and mounts it in every container that has nothing there.
fn mount_token(pod: &mut Value) {
    let volume_name = format!("kube-api-access-{}", object::random_suffix(5));
    let spec = object::object_mut(pod, "spec");
    let volumes = spec.entry("volumes").or_insert(json!([]));
    if let Some(volumes) = volumes.as_array_mut() {
        volumes.push(token_volume(&volume_name));
    }
    for field in ["initContainers", "containers"] {
        for container in spec
            .get_mut(field)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            add_mount(container, &volume_name);
        }
    }
}

fn add_mount(container: &mut Value, volume_name: &str) {
    let Some(map) = container.as_object_mut() else {
        return;
    };
    let mounts = map.entry("volumeMounts").or_insert(json!([]));
    let Some(mounts) = mounts.as_array_mut() else {
        return;
    };
    if mounts
        .iter()
        .any(|m| object::str_at(m, "/mountPath") == TOKEN_MOUNT_PATH)
    {
        return;
    }
    mounts.push(json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH}));
}

fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::NAMESPACES;

    fn store() -> Store {
        let store = Store::default();
        store
            .create(&NAMESPACES, json!({"metadata": {"name": "d"}}))
            .unwrap();
        store
            .create(
                &SERVICE_ACCOUNTS,
                json!({"metadata": {"name": "default", "namespace": "d"}}),
            )
            .unwrap();
        store
    }

    fn new_pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "d"}, "spec": spec})
    }

    #[test]
    fn pods_get_the_default_account_and_its_token_mounted() {
        let mut p = new_pod(json!({"containers": [{"name": "c", "image": "i"}]}));
        pod(&store(), &mut p).unwrap();
        assert_eq!(p["spec"]["serviceAccountName"], "default");
        let mount = &p["spec"]["containers"][0]["volumeMounts"][0];
        assert_eq!(mount["mountPath"], TOKEN_MOUNT_PATH);
        assert_eq!(p["spec"]["volumes"][0]["name"], mount["name"]);
    }

    #[test]
    fn opting_out_of_automount_mounts_nothing() {
        let spec = json!({"automountServiceAccountToken": false, "containers": [{"name": "c", "image": "i"}]});
        let mut p = new_pod(spec);
        pod(&store(), &mut p).unwrap();
        assert!(p["spec"].get("volumes").is_none());
    }

    #[test]
    fn a_missing_service_account_is_forbidden() {
        let mut p = new_pod(json!({"serviceAccountName": "runner", "containers": []}));
        let error = pod(&store(), &mut p).unwrap_err();
        assert_eq!(error.code, 403);
        assert!(
            error
                .message
                .contains("serviceaccount \"runner\" not found"),
            "{}",
            error.message
        );
    }
}
