//! Strategic merge patch: like a merge patch, but lists with a merge key merge item by item.
//!
//! Supported: merge keys of the lists clients patch (containers and volumes by name, env by
//! name, volumeMounts by mountPath, conditions by type, ownerReferences by uid), finalizers
//! merged as a set, `$patch: replace|delete` in maps and list items, `$retainKeys` ignored,
//! `$setElementOrder/...` ignored and `$deleteFromPrimitiveList/...`.

use serde_json::{Map, Value};

use crate::status::ApiError;

/// The key that identifies items of a list field, by the field's name.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "containerStatuses"
        | "initContainerStatuses" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "ports" => Some("containerPort"),
        _ => None,
    }
}

/// Lists of strings merged as sets rather than replaced.
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

pub fn strategic_merge(target: &Value, patch: &Value) -> Result<Value, ApiError> {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => merge_maps(t, p).map(Value::Object),
        (_, Value::Object(p)) => merge_maps(&Map::new(), p).map(Value::Object),
        _ => Ok(patch.clone()),
    }
}

fn merge_maps(
    target: &Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => return Ok(without_directives(patch)),
        Some("delete") => return Ok(Map::new()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown patch type: {other}"
            )));
        }
        None => {}
    }
    let mut result = target.clone();
    for (key, value) in patch {
        if key.starts_with("$setElementOrder/") || key == "$retainKeys" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            remove_primitives(&mut result, field, value);
            continue;
        }
        if value.is_null() {
            result.remove(key);
            continue;
        }
        let merged = merge_field(key, result.get(key), value)?;
        result.insert(key.clone(), merged);
    }
    Ok(result)
}

fn merge_field(key: &str, current: Option<&Value>, value: &Value) -> Result<Value, ApiError> {
    match (current, value) {
        (Some(Value::Object(t)), Value::Object(p)) => merge_maps(t, p).map(Value::Object),
        (Some(Value::Array(t)), Value::Array(p)) if is_set_list(key) => Ok(merge_set(t, p)),
        (Some(Value::Array(t)), Value::Array(p)) => match merge_key(key) {
            Some(merge_key) => merge_keyed(t, p, merge_key).map(Value::Array),
            None => Ok(Value::Array(strip_list(p))),
        },
        (_, Value::Object(p)) => merge_maps(&Map::new(), p).map(Value::Object),
        (_, Value::Array(p)) => Ok(Value::Array(strip_list(p))),
        _ => Ok(value.clone()),
    }
}

fn merge_keyed(target: &[Value], patch: &[Value], key: &str) -> Result<Vec<Value>, ApiError> {
    if patch
        .iter()
        .any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(strip_list(patch));
    }
    let mut result = target.to_vec();
    for item in patch {
        let id = item.get(key);
        let position = result
            .iter()
            .position(|existing| existing.get(key) == id && id.is_some());
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                result.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => result[i] = strategic_merge(&result[i], item)?,
            (None, false) => result.push(strategic_merge(&Value::Null, item)?),
        }
    }
    Ok(result)
}

fn merge_set(target: &[Value], patch: &[Value]) -> Value {
    let mut result = target.to_vec();
    for item in patch {
        if !result.contains(item) {
            result.push(item.clone());
        }
    }
    Value::Array(result)
}

fn remove_primitives(result: &mut Map<String, Value>, field: &str, values: &Value) {
    let Some(Value::Array(items)) = result.get_mut(field) else {
        return;
    };
    let remove = values.as_array().cloned().unwrap_or_default();
    items.retain(|item| !remove.contains(item));
}

fn without_directives(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn strip_list(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) => Value::Object(without_directives(map)),
            other => other.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name() {
        let target = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let patch = json!({"spec": {"containers": [{"name": "b", "image": "z"}]}});
        let merged = strategic_merge(&target, &patch).unwrap();
        assert_eq!(
            merged["spec"]["containers"],
            json!([{"name": "a", "image": "x"}, {"name": "b", "image": "z"}])
        );
    }

    #[test]
    fn unkeyed_lists_are_replaced() {
        let target = json!({"spec": {"args": ["a", "b"]}});
        let merged = strategic_merge(&target, &json!({"spec": {"args": ["c"]}})).unwrap();
        assert_eq!(merged["spec"]["args"], json!(["c"]));
    }

    #[test]
    fn finalizers_merge_as_a_set_and_can_be_removed() {
        let target = json!({"metadata": {"finalizers": ["a"]}});
        let merged =
            strategic_merge(&target, &json!({"metadata": {"finalizers": ["a", "b"]}})).unwrap();
        assert_eq!(merged["metadata"]["finalizers"], json!(["a", "b"]));
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
        let removed = strategic_merge(&merged, &patch).unwrap();
        assert_eq!(removed["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn patch_delete_removes_a_keyed_item() {
        let target = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]});
        let patch = json!({"env": [{"name": "A", "$patch": "delete"}]});
        let merged = strategic_merge(&target, &patch).unwrap();
        assert_eq!(merged["env"], json!([{"name": "B", "value": "2"}]));
    }

    #[test]
    fn conditions_merge_by_type() {
        let target = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "X", "status": "True"}]}});
        let merged = strategic_merge(&target, &patch).unwrap();
        assert_eq!(merged["status"]["conditions"].as_array().unwrap().len(), 2);
        assert_eq!(merged["status"]["conditions"][0]["status"], "True");
    }

    #[test]
    fn nulls_delete_and_patch_replace_replaces_a_map() {
        let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let patch = json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}});
        let merged = strategic_merge(&target, &patch).unwrap();
        assert_eq!(merged["metadata"]["labels"], json!({"c": "3"}));
        let merged =
            strategic_merge(&target, &json!({"metadata": {"labels": {"a": null}}})).unwrap();
        assert_eq!(merged["metadata"]["labels"], json!({"b": "2"}));
    }
}
