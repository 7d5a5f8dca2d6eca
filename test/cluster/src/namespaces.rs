//! Namespaces: what each one holds from the start, and emptying one that is being deleted.

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::deletion::DeleteOptions;
use crate::object;
use crate::registry;
use crate::resources::{CONFIG_MAPS, NAMESPACES, ResourceKind, SERVICE_ACCOUNTS};
use crate::store::Key;

/// Namespaces that exist when the cluster starts.
pub const INITIAL: [&str; 3] = ["default", "kube-system", "kube-public"];

/// Creates the initial namespaces.
pub fn bootstrap(cluster: &Cluster) {
    for name in INITIAL {
        let namespace = json!({"metadata": {"name": name}});
        if let Err(error) = registry::create(cluster, &NAMESPACES, "", namespace, false) {
            tracing::error!(namespace = name, %error, "cannot create namespace");
        }
    }
}

/// Adds what controllers of a real cluster put into every new namespace: the `default`
/// ServiceAccount and the `kube-root-ca.crt` ConfigMap.
pub fn populate(cluster: &Cluster, namespace: &str) {
    let account = json!({"metadata": {"name": "default"}});
    let root_ca =
        json!({"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": cluster.ca_pem}});
    for (kind, object) in [(&SERVICE_ACCOUNTS, account), (&CONFIG_MAPS, root_ca)] {
        if let Err(error) = registry::create(cluster, kind, namespace, object, false) {
            tracing::warn!(namespace, %error, "cannot populate namespace");
        }
    }
}

/// Deletes everything in namespaces being deleted, and releases each once it is empty.
pub fn terminate(cluster: &Cluster, snapshot: &[(Key, Value)]) {
    let terminating = snapshot
        .iter()
        .filter(|(key, object)| key.resource == "namespaces" && object::is_deleting(object));
    for (key, _) in terminating {
        let contents: Vec<&(Key, Value)> = snapshot
            .iter()
            .filter(|(k, _)| k.namespace == key.name)
            .collect();
        for (content, object) in &contents {
            if !object::is_deleting(object) {
                delete(cluster, content);
            }
        }
        if contents.is_empty() {
            release(cluster, &key.name);
        }
    }
}

fn delete(cluster: &Cluster, key: &Key) {
    let Some(kind) = crate::resources::ALL
        .iter()
        .copied()
        .find(|k| k.plural == key.resource)
    else {
        return;
    };
    let options = DeleteOptions {
        propagation: Some(crate::deletion::Propagation::Background),
        ..DeleteOptions::default()
    };
    if let Err(error) = registry::delete(cluster, kind, &key.namespace, &key.name, &options) {
        tracing::debug!(%error, name = %key.name, "namespace cleanup could not delete");
    }
}

fn release(cluster: &Cluster, name: &str) {
    let kind: &'static ResourceKind = &NAMESPACES;
    let result = cluster.store.update(kind, "", name, |current| {
        let mut released = current.clone();
        released["spec"]["finalizers"] = json!([]);
        Ok(released)
    });
    if let Err(error) = result {
        tracing::debug!(%error, namespace = name, "namespace already gone");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deletion::{DeleteOptions, Propagation};
    use crate::resources::SECRETS;

    #[test]
    fn a_deleted_namespace_is_emptied_then_released() {
        let cluster = Cluster::for_tests();
        registry::create(
            &cluster,
            &NAMESPACES,
            "",
            json!({"metadata": {"name": "team"}}),
            false,
        )
        .unwrap();
        assert!(
            cluster
                .store
                .get(&SERVICE_ACCOUNTS, "team", "default")
                .is_some()
        );
        registry::create(
            &cluster,
            &SECRETS,
            "team",
            json!({"metadata": {"name": "s"}}),
            false,
        )
        .unwrap();
        let options = DeleteOptions {
            propagation: Some(Propagation::Background),
            ..DeleteOptions::default()
        };
        registry::delete(&cluster, &NAMESPACES, "", "team", &options).unwrap();
        let terminating = cluster.store.get(&NAMESPACES, "", "team").unwrap();
        assert_eq!(terminating["status"]["phase"], "Terminating");
        let refused = registry::create(
            &cluster,
            &SECRETS,
            "team",
            json!({"metadata": {"name": "t"}}),
            false,
        );
        assert_eq!(refused.unwrap_err().code, 403);
        for _ in 0..2 {
            terminate(&cluster, &cluster.store.snapshot());
        }
        assert!(cluster.store.get(&SECRETS, "team", "s").is_none());
        assert!(cluster.store.get(&NAMESPACES, "", "team").is_none());
    }
}
