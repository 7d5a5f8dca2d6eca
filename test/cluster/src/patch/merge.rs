//! JSON merge patch (RFC 7386): objects merge, null deletes, everything else replaces.

use serde_json::Value;

/// The result of merging `patch` into `target`.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch_map) = patch else {
        return patch.clone();
    };
    let mut result = match target {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    for (key, value) in patch_map {
        if value.is_null() {
            result.remove(key);
        } else {
            let merged = merge_patch(result.get(key).unwrap_or(&Value::Null), value);
            result.insert(key.clone(), merged);
        }
    }
    Value::Object(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_merge_and_nulls_delete() {
        let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1}});
        let patch = json!({"metadata": {"labels": {"b": null, "c": "3"}}});
        let merged = merge_patch(&target, &patch);
        assert_eq!(
            merged,
            json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"x": 1}})
        );
    }

    #[test]
    fn lists_are_replaced_whole() {
        let target = json!({"finalizers": ["a", "b"]});
        assert_eq!(
            merge_patch(&target, &json!({"finalizers": ["c"]})),
            json!({"finalizers": ["c"]})
        );
    }

    #[test]
    fn a_non_object_patch_replaces_the_target() {
        assert_eq!(merge_patch(&json!({"a": 1}), &json!([1])), json!([1]));
    }
}
