//! A container's environment: the cluster's variables, envFrom, env with valueFrom, and the
//! `$(VAR)` expansion Kubernetes applies to env values, command and args.

use std::collections::HashMap;

use serde_json::Value;

use crate::cluster::Cluster;
use crate::object;
use crate::resources::{CONFIG_MAPS, SECRETS};
use crate::validate::data;

/// The resolved environment, in the order variables were defined.
pub type Env = Vec<(String, String)>;

/// Everything a container's processes see, or why the container cannot be configured
/// (reported as CreateContainerConfigError).
pub fn resolve(
    cluster: &Cluster,
    pod: &Value,
    container: &Value,
    home: &str,
) -> Result<Env, String> {
    let mut env = Env::new();
    let path = runner_path(cluster);
    let port = cluster.address.port().to_string();
    let base = [
        ("PATH", path.as_str()),
        ("HOME", home),
        ("HOSTNAME", object::name(pod)),
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
        ("KUBERNETES_SERVICE_PORT", port.as_str()),
        ("KUBERNETES_SERVICE_PORT_HTTPS", port.as_str()),
        ("KUBERNETES_PORT", &format!("tcp://127.0.0.1:{port}")),
    ];
    for (key, value) in &cluster.config.runner_env {
        set(&mut env, key, value.clone());
    }
    for (key, value) in base {
        set(&mut env, key, value.to_string());
    }
    for source in list(container, "envFrom") {
        env_from(cluster, pod, &source, &mut env)?;
    }
    for variable in list(container, "env") {
        let value = value_of(cluster, pod, &variable)?;
        if let Some(value) = value {
            let vars: HashMap<String, String> = env.iter().cloned().collect();
            set(
                &mut env,
                object::str_at(&variable, "/name"),
                expand(&value, &vars),
            );
        }
    }
    Ok(env)
}

/// PATH in pods: the runner paths first, at their real place, since that is where they are
/// bound (a path through `..` or a symlink may not exist in the pod, whose `/tmp` is its own).
fn runner_path(cluster: &Cluster) -> String {
    let host = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    let mut parts: Vec<String> = cluster
        .config
        .runner_paths
        .iter()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    parts.push(host);
    parts.join(":")
}

fn list(value: &Value, field: &str) -> Vec<Value> {
    value
        .get(field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn set(env: &mut Env, key: &str, value: String) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => env.push((key.to_string(), value)),
    }
}

fn env_from(cluster: &Cluster, pod: &Value, source: &Value, env: &mut Env) -> Result<(), String> {
    let prefix = object::str_at(source, "/prefix");
    let (reference, is_secret) = match (source.get("secretRef"), source.get("configMapRef")) {
        (Some(r), _) => (r, true),
        (None, Some(r)) => (r, false),
        (None, None) => return Ok(()),
    };
    let optional = reference["optional"] == Value::Bool(true);
    let Some(entries) = lookup_all(
        cluster,
        pod,
        object::str_at(reference, "/name"),
        is_secret,
        optional,
    )?
    else {
        return Ok(());
    };
    for (key, value) in entries {
        set(env, &format!("{prefix}{key}"), value);
    }
    Ok(())
}

fn value_of(cluster: &Cluster, pod: &Value, variable: &Value) -> Result<Option<String>, String> {
    let Some(source) = variable.get("valueFrom") else {
        return Ok(Some(object::str_at(variable, "/value").to_string()));
    };
    if let Some(field) = source.get("fieldRef") {
        return Ok(Some(field_value(pod, object::str_at(field, "/fieldPath"))));
    }
    if source.get("resourceFieldRef").is_some() {
        return Ok(Some("0".into()));
    }
    let (reference, is_secret) = match (source.get("secretKeyRef"), source.get("configMapKeyRef")) {
        (Some(r), _) => (r, true),
        (None, Some(r)) => (r, false),
        (None, None) => return Ok(None),
    };
    let optional = reference["optional"] == Value::Bool(true);
    let name = object::str_at(reference, "/name");
    let key = object::str_at(reference, "/key");
    let Some(entries) = lookup_all(cluster, pod, name, is_secret, optional)? else {
        return Ok(None);
    };
    match entries.into_iter().find(|(k, _)| k == key) {
        Some((_, value)) => Ok(Some(value)),
        None if optional => Ok(None),
        None => {
            let kind = if is_secret { "Secret" } else { "ConfigMap" };
            Err(format!(
                "couldn't find key {key} in {kind} {}/{name}",
                object::namespace(pod)
            ))
        }
    }
}

/// All decoded entries of a Secret or ConfigMap; None when it is missing but optional.
fn lookup_all(
    cluster: &Cluster,
    pod: &Value,
    name: &str,
    is_secret: bool,
    optional: bool,
) -> Result<Option<Vec<(String, String)>>, String> {
    let kind = if is_secret { &SECRETS } else { &CONFIG_MAPS };
    let Some(found) = cluster.store.get(kind, object::namespace(pod), name) else {
        if optional {
            return Ok(None);
        }
        let what = if is_secret { "secret" } else { "configmap" };
        return Err(format!("{what} \"{name}\" not found"));
    };
    let data = found
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let entries = data
        .into_iter()
        .map(|(key, value)| {
            let text = value.as_str().unwrap_or_default();
            let decoded = if is_secret {
                String::from_utf8_lossy(&data::decode(text).unwrap_or_default()).into_owned()
            } else {
                text.to_string()
            };
            (key, decoded)
        })
        .collect();
    Ok(Some(entries))
}

/// The downward API value of a field path.
pub fn field_value(pod: &Value, path: &str) -> String {
    if let Some(key) = bracketed(path, "metadata.labels") {
        return object::str_at(pod, &format!("/metadata/labels/{}", key.replace('/', "~1")))
            .to_string();
    }
    if let Some(key) = bracketed(path, "metadata.annotations") {
        return object::str_at(
            pod,
            &format!("/metadata/annotations/{}", key.replace('/', "~1")),
        )
        .to_string();
    }
    match path {
        "status.podIP" | "status.hostIP" | "status.podIPs" => "127.0.0.1".into(),
        "spec.nodeName" => super::NODE_NAME.into(),
        other => object::str_at(pod, &format!("/{}", other.replace('.', "/"))).to_string(),
    }
}

fn bracketed<'a>(path: &'a str, field: &str) -> Option<&'a str> {
    path.strip_prefix(field)?
        .strip_prefix("['")?
        .strip_suffix("']")
}

/// Kubernetes' `$(VAR)` expansion: defined variables are replaced, undefined references are
/// left as written, and `$$` becomes `$` (so `$$(X)` is the literal `$(X)`).
pub fn expand(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(').and_then(|r| r.split_once(')')) {
            let (name, tail) = reference;
            match vars.get(name) {
                Some(value) => out.push_str(value),
                None => out.push_str(&format!("$({name})")),
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> HashMap<String, String> {
        [("A".to_string(), "1".to_string())].into_iter().collect()
    }

    #[test]
    fn defined_references_expand_and_others_stay() {
        assert_eq!(expand("x$(A)y", &vars()), "x1y");
        assert_eq!(expand("$(B) $(date)", &vars()), "$(B) $(date)");
        assert_eq!(expand("cost: $5 $(A", &vars()), "cost: $5 $(A");
    }

    #[test]
    fn double_dollars_collapse_like_on_a_real_cluster() {
        assert_eq!(expand("$$(A)", &vars()), "$(A)");
        assert_eq!(expand("echo $$", &vars()), "echo $");
    }

    #[test]
    fn runner_paths_go_on_path_where_they_are_bound() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("venv/bin")).unwrap();
        std::fs::create_dir_all(dir.path().join("checkout/test")).unwrap();
        let mut cluster = Cluster::for_tests();
        cluster.config.runner_paths = vec![dir.path().join("checkout/test/../../venv/bin")];

        let path = runner_path(&cluster);

        let real = std::fs::canonicalize(dir.path().join("venv/bin")).unwrap();
        assert!(path.starts_with(&format!("{}:", real.display())), "{path}");
        assert_eq!(
            crate::kubelet::runner_roots(&cluster),
            [real.parent().unwrap()]
        );
    }

    #[test]
    fn field_refs_read_the_pod() {
        let pod = json!({"metadata": {"name": "p", "namespace": "n", "labels": {"job-name": "j"}}});
        assert_eq!(field_value(&pod, "metadata.name"), "p");
        assert_eq!(field_value(&pod, "metadata.namespace"), "n");
        assert_eq!(field_value(&pod, "metadata.labels['job-name']"), "j");
        assert_eq!(field_value(&pod, "status.podIP"), "127.0.0.1");
    }
}
