//! Discovery documents (/api, /apis, resource lists), /version and the health endpoints.

use http::Response;
use serde_json::{Value, json};

use super::response::{self, Body};
use crate::cluster::Cluster;
use crate::resources::{ALL, ResourceKind};

/// The Kubernetes version this cluster claims to be.
pub const VERSION: (&str, &str) = ("1", "33");

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Endpoints that need no token, as on a real cluster.
pub fn public(path: &str) -> Option<Response<Body>> {
    match path {
        "/healthz" | "/livez" | "/readyz" => Some(response::text(200, "ok")),
        "/version" => Some(response::json(200, &version())),
        _ => None,
    }
}

fn version() -> Value {
    let (major, minor) = VERSION;
    json!({
        "major": major, "minor": minor, "gitVersion": format!("v{major}.{minor}.0"),
        "gitCommit": "byok8s-test-cluster", "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// A discovery document, if `path` names one.
pub fn document(cluster: &Cluster, path: &str) -> Option<Response<Body>> {
    let document = match path.trim_end_matches('/') {
        "/api" => json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": cluster.address.to_string()}],
        }),
        "/apis" => json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group("batch")]}),
        "/apis/batch" => {
            let mut group = group("batch");
            group["kind"] = json!("APIGroup");
            group["apiVersion"] = json!("v1");
            group
        }
        "/api/v1" => resource_list("", "v1"),
        "/apis/batch/v1" => resource_list("batch", "v1"),
        _ => return None,
    };
    Some(response::json(200, &document))
}

fn group(name: &str) -> Value {
    let version = json!({"groupVersion": format!("{name}/v1"), "version": "v1"});
    json!({"name": name, "versions": [version.clone()], "preferredVersion": version})
}

fn resource_list(group: &str, version: &str) -> Value {
    let kinds: Vec<&ResourceKind> = ALL
        .iter()
        .copied()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    let mut resources = Vec::new();
    for kind in kinds {
        let mut entry = json!({
            "name": kind.plural, "singularName": kind.singular_name(), "namespaced": kind.namespaced,
            "kind": kind.kind, "verbs": VERBS,
        });
        if !kind.short_names.is_empty() {
            entry["shortNames"] = json!(kind.short_names);
        }
        resources.push(entry);
        for sub in kind.subresources {
            let verbs: &[&str] = if *sub == "log" {
                &["get"]
            } else {
                &["get", "patch", "update"]
            };
            resources.push(json!({
                "name": format!("{}/{sub}", kind.plural), "singularName": "", "namespaced": kind.namespaced,
                "kind": if *sub == "log" { "Pod" } else { kind.kind }, "verbs": verbs,
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_list_names_pods_and_their_log() {
        let list = resource_list("", "v1");
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"pods") && names.contains(&"pods/log") && names.contains(&"secrets")
        );
        assert!(!names.contains(&"jobs"));
    }

    #[test]
    fn the_batch_list_names_jobs_and_their_status() {
        let list = resource_list("batch", "v1");
        assert_eq!(list["groupVersion"], "batch/v1");
        assert_eq!(list["resources"].as_array().unwrap().len(), 2);
    }
}
