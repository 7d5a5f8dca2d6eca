//! The garbage collector: ownerReferences, foreground and orphan deletion, dangling dependents.

use std::collections::HashMap;

use serde_json::Value;

use crate::cluster::Cluster;
use crate::deletion::{DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Propagation};
use crate::namespaces;
use crate::object;
use crate::registry;
use crate::resources::{ALL, ResourceKind};
use crate::store::Key;

/// One pass over every object.
pub fn reconcile(cluster: &Cluster) {
    let snapshot = cluster.store.snapshot();
    let graph = Graph::new(&snapshot);
    for (key, object) in &snapshot {
        let finalizers = object::finalizers(object);
        if object::is_deleting(object) && finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
            orphan_dependents(cluster, &graph, key, object);
        }
        if object::is_deleting(object) && finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
            delete_dependents_first(cluster, &graph, key, object);
        }
        if !object::is_deleting(object) && graph.owners_all_gone(key, object) {
            delete(cluster, key, Propagation::Background);
        }
    }
    namespaces::terminate(cluster, &snapshot);
}

/// Who owns whom, by uid.
struct Graph<'a> {
    by_uid: HashMap<&'a str, (&'a Key, &'a Value)>,
    objects: &'a [(Key, Value)],
}

impl<'a> Graph<'a> {
    fn new(objects: &'a [(Key, Value)]) -> Self {
        let by_uid = objects
            .iter()
            .map(|(k, v)| (object::uid(v), (k, v)))
            .collect();
        Self { by_uid, objects }
    }

    fn dependents(&self, owner: &Value) -> Vec<&'a (Key, Value)> {
        let uid = object::uid(owner);
        self.objects
            .iter()
            .filter(|(_, v)| {
                object::owner_references(v)
                    .iter()
                    .any(|r| object::str_at(r, "/uid") == uid)
            })
            .collect()
    }

    /// True when the object has owners of types this cluster serves and none of them
    /// exists any more (in its namespace, or cluster-scoped).
    fn owners_all_gone(&self, key: &Key, object: &Value) -> bool {
        let references: Vec<Value> = object::owner_references(object)
            .into_iter()
            .filter(|r| {
                ResourceKind::by_kind(object::str_at(r, "/apiVersion"), object::str_at(r, "/kind"))
                    .is_some()
            })
            .collect();
        !references.is_empty() && references.iter().all(|r| !self.owner_exists(key, r))
    }

    fn owner_exists(&self, key: &Key, reference: &Value) -> bool {
        match self.by_uid.get(object::str_at(reference, "/uid")) {
            Some((owner, _)) => owner.namespace.is_empty() || owner.namespace == key.namespace,
            None => false,
        }
    }
}

/// Orphan propagation: dependents lose their reference to the owner, then the owner goes.
fn orphan_dependents(cluster: &Cluster, graph: &Graph, key: &Key, owner: &Value) {
    let uid = object::uid(owner).to_string();
    for (dependent_key, _) in graph.dependents(owner) {
        edit(cluster, dependent_key, |object| {
            let kept: Vec<Value> = object::owner_references(object)
                .into_iter()
                .filter(|r| object::str_at(r, "/uid") != uid)
                .collect();
            object::metadata_mut(object).insert("ownerReferences".into(), Value::Array(kept));
        });
    }
    remove_finalizer(cluster, key, ORPHAN_FINALIZER);
}

/// Foreground propagation: dependents are deleted, and the owner stays (with its finalizer)
/// until no dependent that blocks owner deletion exists any more.
fn delete_dependents_first(cluster: &Cluster, graph: &Graph, key: &Key, owner: &Value) {
    let dependents = graph.dependents(owner);
    for (dependent_key, dependent) in &dependents {
        if !object::is_deleting(dependent) {
            delete(cluster, dependent_key, Propagation::Background);
        }
    }
    let uid = object::uid(owner);
    let blocking = dependents.iter().any(|(_, dependent)| {
        object::owner_references(dependent).iter().any(|r| {
            object::str_at(r, "/uid") == uid && r["blockOwnerDeletion"] == Value::Bool(true)
        })
    });
    if !blocking {
        remove_finalizer(cluster, key, FOREGROUND_FINALIZER);
    }
}

fn remove_finalizer(cluster: &Cluster, key: &Key, finalizer: &str) {
    edit(cluster, key, |object| {
        let kept: Vec<String> = object::finalizers(object)
            .into_iter()
            .filter(|f| f != finalizer)
            .collect();
        object::set_finalizers(object, &kept);
    });
}

fn kind_of(key: &Key) -> Option<&'static ResourceKind> {
    ALL.iter().copied().find(|k| k.plural == key.resource)
}

fn edit(cluster: &Cluster, key: &Key, change: impl FnOnce(&mut Value)) {
    let Some(kind) = kind_of(key) else {
        return;
    };
    let result = cluster
        .store
        .update(kind, &key.namespace, &key.name, |current| {
            let mut edited = current.clone();
            change(&mut edited);
            Ok(edited)
        });
    if let Err(error) = result {
        tracing::debug!(%error, name = %key.name, "garbage collector edit skipped");
    }
}

fn delete(cluster: &Cluster, key: &Key, propagation: Propagation) {
    let Some(kind) = kind_of(key) else {
        return;
    };
    let options = DeleteOptions {
        propagation: Some(propagation),
        ..DeleteOptions::default()
    };
    match registry::delete(cluster, kind, &key.namespace, &key.name, &options) {
        Ok(_) => tracing::debug!(resource = key.resource, name = %key.name, "garbage collected"),
        Err(error) => tracing::debug!(%error, name = %key.name, "garbage collection skipped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{JOBS, PODS, SECRETS};
    use serde_json::json;

    fn job(cluster: &Cluster) -> Value {
        let body = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "i", "command": ["true"]}]}}}});
        registry::create(cluster, &JOBS, "default", body, false).unwrap()
    }

    fn owned_secret(cluster: &Cluster, owner: &Value, name: &str, block: bool) {
        let reference = json!({"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": object::uid(owner), "blockOwnerDeletion": block});
        let body = json!({"metadata": {"name": name, "ownerReferences": [reference]}});
        registry::create(cluster, &SECRETS, "default", body, false).unwrap();
    }

    fn delete_job(cluster: &Cluster, propagation: Propagation) {
        let options = DeleteOptions {
            propagation: Some(propagation),
            ..DeleteOptions::default()
        };
        registry::delete(cluster, &JOBS, "default", "j", &options).unwrap();
    }

    fn exists(cluster: &Cluster, kind: &ResourceKind, name: &str) -> bool {
        cluster.store.get(kind, "default", name).is_some()
    }

    #[test]
    fn background_deletion_removes_dependents_after_the_owner() {
        let cluster = Cluster::for_tests();
        let owner = job(&cluster);
        owned_secret(&cluster, &owner, "s", false);
        delete_job(&cluster, Propagation::Background);
        assert!(!exists(&cluster, &JOBS, "j"));
        assert!(exists(&cluster, &SECRETS, "s"));
        reconcile(&cluster);
        assert!(!exists(&cluster, &SECRETS, "s"));
    }

    #[test]
    fn foreground_deletion_keeps_the_owner_until_blocking_dependents_are_gone() {
        let cluster = Cluster::for_tests();
        let owner = job(&cluster);
        owned_secret(&cluster, &owner, "s", true);
        delete_job(&cluster, Propagation::Foreground);
        let deleting = cluster.store.get(&JOBS, "default", "j").unwrap();
        assert_eq!(
            object::finalizers(&deleting),
            vec![FOREGROUND_FINALIZER.to_string()]
        );
        reconcile(&cluster);
        assert!(!exists(&cluster, &SECRETS, "s"));
        reconcile(&cluster);
        assert!(!exists(&cluster, &JOBS, "j"));
    }

    #[test]
    fn orphan_deletion_strips_the_owner_reference() {
        let cluster = Cluster::for_tests();
        let owner = job(&cluster);
        owned_secret(&cluster, &owner, "s", true);
        delete_job(&cluster, Propagation::Orphan);
        reconcile(&cluster);
        assert!(!exists(&cluster, &JOBS, "j"));
        let secret = cluster.store.get(&SECRETS, "default", "s").unwrap();
        assert!(object::owner_references(&secret).is_empty());
        reconcile(&cluster);
        assert!(exists(&cluster, &SECRETS, "s"));
    }

    #[test]
    fn owners_of_unserved_kinds_are_left_alone() {
        let cluster = Cluster::for_tests();
        let reference =
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "nope"});
        let body = json!({"metadata": {"name": "s", "ownerReferences": [reference]}});
        registry::create(&cluster, &SECRETS, "default", body, false).unwrap();
        reconcile(&cluster);
        assert!(exists(&cluster, &SECRETS, "s"));
    }

    #[test]
    fn unscheduled_pods_of_a_deleted_job_go_at_once() {
        let cluster = Cluster::for_tests();
        let owner = job(&cluster);
        let reference = json!({"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": object::uid(&owner), "controller": true});
        let pod = json!({"metadata": {"name": "p", "ownerReferences": [reference]}, "spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "i"}]}});
        registry::create(&cluster, &PODS, "default", pod, false).unwrap();
        delete_job(&cluster, Propagation::Background);
        reconcile(&cluster);
        assert!(!exists(&cluster, &PODS, "p"));
    }
}
