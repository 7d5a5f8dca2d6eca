//! The RBAC Roles `deploy/` grants byok8sd and the runner, checked against the requests each
//! made on the test cluster, since the harness itself does not enforce RBAC.

use serde_json::Value;

use byok8s_test_cluster::RecordedRequest;

use crate::{repo_root, snakemake};

/// One rule of a Role: what it allows.
#[derive(Debug)]
pub struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
}

/// What a request asked for, as RBAC sees it.
#[derive(Debug, PartialEq)]
pub struct Access {
    pub api_group: String,
    /// `pods`, or `pods/log` for a subresource.
    pub resource: String,
    pub namespace: Option<String>,
    pub verb: String,
}

/// The rules of the Role `name` in `deploy/base/FILE`, read with the Python environment's
/// YAML parser.
pub fn role(file: &str, name: &str) -> Vec<Rule> {
    let path = repo_root().join("deploy/base").join(file);
    let python = snakemake().with_file_name("python");
    let script =
        "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    let output = std::process::Command::new(python)
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("run Python to read the Role");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let documents: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    let role = documents
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Role {name} in {}", path.display()));
    let strings = |rule: &Value, field: &str| -> Vec<String> {
        let items = rule[field].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let rules = role["rules"].as_array().cloned().unwrap_or_default();
    rules
        .iter()
        .map(|rule| Rule {
            api_groups: strings(rule, "apiGroups"),
            resources: strings(rule, "resources"),
            verbs: strings(rule, "verbs"),
        })
        .collect()
}

/// What the request asked for, or `None` for a request outside resources (discovery), which
/// every authenticated client may make.
pub fn access(request: &RecordedRequest) -> Option<Access> {
    let parts: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let (api_group, rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => (String::new(), rest),
        ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() => {
            (Some((*namespace).to_owned()), rest)
        }
        rest => (None, rest),
    };
    let resource = match rest {
        [] => return None,
        [resource] | [resource, _] => (*resource).to_owned(),
        [resource, _, subresource, ..] => format!("{resource}/{subresource}"),
    };
    Some(Access {
        api_group,
        resource,
        namespace,
        verb: request.verb.clone(),
    })
}

/// True when one of the rules allows the access in `namespace`, the Role's namespace.
pub fn allows(rules: &[Rule], access: &Access, namespace: &str) -> bool {
    let has = |list: &[String], value: &str| list.iter().any(|v| v == value || v == "*");
    access.namespace.as_deref() == Some(namespace)
        && rules.iter().any(|rule| {
            has(&rule.api_groups, &access.api_group)
                && has(&rule.resources, &access.resource)
                && has(&rule.verbs, &access.verb)
        })
}

/// Every request byok8sd (User-Agent `byok8sd/...`) and Snakemake's executor (the Kubernetes
/// Python client, `OpenAPI-Generator/...`) made, that their Role in `namespace` does not allow.
pub fn denied(requests: &[RecordedRequest], namespace: &str) -> Vec<String> {
    let daemon = role("daemon-rbac.yaml", "byok8sd");
    let runner = role("runner-rbac.yaml", "byok8s-runner");
    let mut denied: Vec<String> = requests
        .iter()
        .filter_map(|request| {
            let rules = if request.user_agent.starts_with("byok8sd/") {
                &daemon
            } else if request.user_agent.starts_with("OpenAPI-Generator/") {
                &runner
            } else {
                return None;
            };
            let access = access(request)?;
            (!allows(rules, &access, namespace)).then(|| {
                let who = request.user_agent.split('/').next().unwrap_or_default();
                format!("{who}: {} {}", access.verb, request.path)
            })
        })
        .collect();
    denied.sort();
    denied.dedup();
    denied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(verb: &str, path: &str) -> RecordedRequest {
        RecordedRequest {
            verb: verb.into(),
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            code: 200,
            user_agent: "byok8sd/0.1.0".into(),
        }
    }

    #[test]
    fn paths_name_their_group_resource_and_subresource() {
        let log = access(&request("get", "/api/v1/namespaces/n/pods/p/log")).unwrap();
        assert_eq!(
            (log.api_group.as_str(), log.resource.as_str()),
            ("", "pods/log")
        );
        let jobs = access(&request("list", "/apis/batch/v1/namespaces/n/jobs")).unwrap();
        assert_eq!(
            (jobs.api_group.as_str(), jobs.resource.as_str()),
            ("batch", "jobs")
        );
        assert_eq!(access(&request("get", "/apis")), None);
    }

    #[test]
    fn a_role_allows_only_its_verbs_in_its_namespace() {
        let rules = vec![Rule {
            api_groups: vec![String::new()],
            resources: vec!["pods".into()],
            verbs: vec!["list".into()],
        }];
        let listed = access(&request("list", "/api/v1/namespaces/n/pods")).unwrap();
        assert!(allows(&rules, &listed, "n"));
        assert!(!allows(&rules, &listed, "other"));
        let deleted = access(&request("delete", "/api/v1/namespaces/n/pods/p")).unwrap();
        assert!(!allows(&rules, &deleted, "n"));
    }
}
