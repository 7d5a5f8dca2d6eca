//! A pod's volumes as directories under its pod directory: emptyDir, secret, configMap,
//! projected (service-account token, CA, namespace), downwardAPI and hostPath.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::env;
use crate::cluster::Cluster;
use crate::object;
use crate::resources::{CONFIG_MAPS, SECRETS};
use crate::validate::data;

/// A prepared volume: where its files are, and whether containers get it read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub path: PathBuf,
    pub read_only: bool,
}

/// Prepares every volume of `pod`, or says why one cannot be set up (a FailedMount event).
pub fn prepare(
    cluster: &Cluster,
    pod: &Value,
    pod_dir: &Path,
) -> Result<HashMap<String, Volume>, String> {
    let mut prepared = HashMap::new();
    let volumes = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for volume in volumes {
        let name = object::str_at(&volume, "/name").to_string();
        let dir = pod_dir.join("volumes").join(&name);
        let prepared_volume = prepare_one(cluster, pod, &volume, &dir)
            .map_err(|why| format!("MountVolume.SetUp failed for volume \"{name}\" : {why}"))?;
        prepared.insert(name, prepared_volume);
    }
    Ok(prepared)
}

fn prepare_one(
    cluster: &Cluster,
    pod: &Value,
    volume: &Value,
    dir: &Path,
) -> Result<Volume, String> {
    if let Some(host) = volume.pointer("/hostPath/path").and_then(Value::as_str) {
        return Ok(Volume {
            path: host.into(),
            read_only: false,
        });
    }
    if volume.get("persistentVolumeClaim").is_some() {
        let claim = object::str_at(volume, "/persistentVolumeClaim/claimName");
        return Err(format!(
            "persistentvolumeclaim \"{claim}\" not found (this test cluster has no storage)"
        ));
    }
    let files = if volume.get("emptyDir").is_some() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        return Ok(Volume {
            path: dir.into(),
            read_only: false,
        });
    } else if let Some(secret) = volume.get("secret") {
        source_files(
            cluster,
            pod,
            secret,
            object::str_at(secret, "/secretName"),
            true,
        )?
    } else if let Some(config_map) = volume.get("configMap") {
        source_files(
            cluster,
            pod,
            config_map,
            object::str_at(config_map, "/name"),
            false,
        )?
    } else if let Some(projected) = volume.get("projected") {
        projected_files(cluster, pod, projected)?
    } else if let Some(downward) = volume.get("downwardAPI") {
        downward_files(pod, downward)
    } else {
        return Err("unsupported volume type".into());
    };
    let mode = volume
        .as_object()
        .and_then(|v| v.values().find_map(|s| s.get("defaultMode")?.as_u64()));
    write_files(dir, &files, mode.unwrap_or(0o644) as u32)?;
    Ok(Volume {
        path: dir.into(),
        read_only: true,
    })
}

type Files = Vec<(String, Vec<u8>)>;

/// The files of a secret or configMap source, honouring `items` and `optional`.
fn source_files(
    cluster: &Cluster,
    pod: &Value,
    source: &Value,
    name: &str,
    is_secret: bool,
) -> Result<Files, String> {
    let kind = if is_secret { &SECRETS } else { &CONFIG_MAPS };
    let Some(found) = cluster.store.get(kind, object::namespace(pod), name) else {
        if source["optional"] == Value::Bool(true) {
            return Ok(Vec::new());
        }
        let what = if is_secret { "secret" } else { "configmap" };
        return Err(format!("{what} \"{name}\" not found"));
    };
    let entries = decoded_entries(&found, is_secret);
    let Some(items) = source.get("items").and_then(Value::as_array) else {
        return Ok(entries);
    };
    let mut files = Vec::new();
    for item in items {
        let key = object::str_at(item, "/key");
        match entries.iter().find(|(k, _)| k == key) {
            Some((_, content)) => {
                files.push((object::str_at(item, "/path").to_string(), content.clone()))
            }
            None if source["optional"] == Value::Bool(true) => {}
            None => {
                return Err(format!(
                    "references non-existent {} key: {key}",
                    if is_secret { "secret" } else { "config" }
                ));
            }
        }
    }
    Ok(files)
}

fn decoded_entries(object: &Value, is_secret: bool) -> Files {
    let mut files = Vec::new();
    for (field, base64) in [("data", is_secret), ("binaryData", true)] {
        for (key, value) in object
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let text = value.as_str().unwrap_or_default();
            let content = if base64 {
                data::decode(text).unwrap_or_default()
            } else {
                text.as_bytes().to_vec()
            };
            files.push((key.clone(), content));
        }
    }
    files
}

fn projected_files(cluster: &Cluster, pod: &Value, projected: &Value) -> Result<Files, String> {
    let mut files = Vec::new();
    for source in projected
        .get("sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(token) = source.get("serviceAccountToken") {
            let path = object::str_at(token, "/path");
            files.push((path.to_string(), cluster.token.clone().into_bytes()));
        } else if let Some(secret) = source.get("secret") {
            files.extend(source_files(
                cluster,
                pod,
                secret,
                object::str_at(secret, "/name"),
                true,
            )?);
        } else if let Some(config_map) = source.get("configMap") {
            files.extend(source_files(
                cluster,
                pod,
                config_map,
                object::str_at(config_map, "/name"),
                false,
            )?);
        } else if let Some(downward) = source.get("downwardAPI") {
            files.extend(downward_files(pod, downward));
        }
    }
    Ok(files)
}

fn downward_files(pod: &Value, downward: &Value) -> Files {
    let items = downward
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    items
        .iter()
        .map(|item| {
            let value = env::field_value(pod, object::str_at(item, "/fieldRef/fieldPath"));
            (
                object::str_at(item, "/path").to_string(),
                value.into_bytes(),
            )
        })
        .collect()
}

/// Writes `files` fresh into `dir`; paths must stay inside it.
fn write_files(dir: &Path, files: &Files, mode: u32) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for (path, content) in files {
        let relative = Path::new(path);
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(format!("invalid path {path:?} in volume"));
        }
        let target = dir.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&target, content).map_err(|e| e.to_string())?;
        let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_may_not_escape_the_volume() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![("../evil".to_string(), b"x".to_vec())];
        assert!(write_files(&dir.path().join("v"), &files, 0o644).is_err());
        let nested = vec![("a/b".to_string(), b"x".to_vec())];
        write_files(&dir.path().join("v"), &nested, 0o644).unwrap();
        assert_eq!(std::fs::read(dir.path().join("v/a/b")).unwrap(), b"x");
    }

    #[test]
    fn downward_files_carry_the_namespace() {
        let pod = serde_json::json!({"metadata": {"namespace": "n"}});
        let downward = serde_json::json!({"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]});
        assert_eq!(
            downward_files(&pod, &downward),
            vec![("namespace".to_string(), b"n".to_vec())]
        );
    }
}
