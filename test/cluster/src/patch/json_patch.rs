//! JSON patch (RFC 6902): add, remove, replace, move, copy and test at JSON pointers.

use serde_json::Value;

use crate::status::ApiError;

/// Applies every operation in order; any failure leaves `current` untouched.
pub fn apply(current: &Value, patch: &Value) -> Result<Value, ApiError> {
    let operations = patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch must be an array of operations"))?;
    let mut document = current.clone();
    for operation in operations {
        apply_one(&mut document, operation).map_err(|why| {
            ApiError::new(
                422,
                "Invalid",
                format!("the server rejected our request due to an error in our request: {why}"),
            )
        })?;
    }
    Ok(document)
}

fn apply_one(document: &mut Value, operation: &Value) -> Result<(), String> {
    let op = operation
        .get("op")
        .and_then(Value::as_str)
        .ok_or("missing op")?;
    let path = operation
        .get("path")
        .and_then(Value::as_str)
        .ok_or("missing path")?;
    let value = || {
        operation
            .get("value")
            .cloned()
            .ok_or_else(|| format!("missing value for {op}"))
    };
    let from = || {
        operation
            .get("from")
            .and_then(Value::as_str)
            .ok_or("missing from")
    };
    match op {
        "add" => add(document, path, value()?),
        "remove" => remove(document, path).map(drop),
        "replace" => {
            remove(document, path)?;
            add(document, path, value()?)
        }
        "move" => {
            let moved = remove(document, from()?)?;
            add(document, path, moved)
        }
        "copy" => {
            let copied = document
                .pointer(from()?)
                .cloned()
                .ok_or("copy from a missing path")?;
            add(document, path, copied)
        }
        "test" => match document.pointer(path) {
            Some(found) if *found == value()? => Ok(()),
            _ => Err(format!("testing value {path} failed")),
        },
        other => Err(format!("unexpected operation {other:?}")),
    }
}

fn split(path: &str) -> Result<(&str, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("invalid path {path:?}"))?;
    Ok((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn add(document: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *document = value;
        return Ok(());
    }
    let (parent, key) = split(path)?;
    match document.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key, value);
            Ok(())
        }
        Some(Value::Array(items)) if key == "-" => {
            items.push(value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index: usize = key.parse().map_err(|_| format!("invalid index {key:?}"))?;
            if index > items.len() {
                return Err(format!("index {index} out of bounds"));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!(
            "add operation does not apply: doc is missing path: {path:?}"
        )),
    }
}

fn remove(document: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, key) = split(path)?;
    let missing = || format!("remove operation does not apply: doc is missing path: {path:?}");
    match document.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&key).ok_or_else(missing),
        Some(Value::Array(items)) => {
            let index: usize = key.parse().map_err(|_| missing())?;
            (index < items.len())
                .then(|| items.remove(index))
                .ok_or_else(missing)
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_apply_in_order() {
        let current = json!({"metadata": {"labels": {"a": "1"}, "finalizers": ["x"]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/labels/a", "value": "1"},
            {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "3"}
        ]);
        let patched = apply(&current, &patch).unwrap();
        assert_eq!(
            patched,
            json!({"metadata": {"labels": {"a": "3", "b/c": "2"}, "finalizers": []}})
        );
    }

    #[test]
    fn a_failed_test_rejects_the_whole_patch() {
        let current = json!({"a": 1});
        let patch = json!([{"op": "test", "path": "/a", "value": 2}]);
        assert_eq!(apply(&current, &patch).unwrap_err().code, 422);
    }

    #[test]
    fn removing_a_missing_path_fails() {
        let patch = json!([{"op": "remove", "path": "/nope"}]);
        assert!(apply(&json!({}), &patch).is_err());
    }
}
