//! Validation of Secrets and ConfigMaps: keys, base64 values, the 1 MiB limit, immutability.

use base64::Engine;
use serde_json::Value;

use super::names;
use crate::status::Cause;

/// The most data a Secret or ConfigMap may hold, as on a real server.
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

pub fn validate_secret(secret: &Value) -> Vec<Cause> {
    let mut causes = keys(secret, "data");
    let decoded: usize = entries(secret, "data")
        .map(|(_, v)| {
            decode(v.as_str().unwrap_or_default())
                .map(|d| d.len())
                .unwrap_or(0)
        })
        .sum();
    if decoded > MAX_DATA_BYTES {
        causes.push(Cause::too_long("data", MAX_DATA_BYTES));
    }
    causes
}

pub fn validate_config_map(config_map: &Value) -> Vec<Cause> {
    let mut causes = keys(config_map, "data");
    causes.extend(keys(config_map, "binaryData"));
    let size: usize = entries(config_map, "data")
        .chain(entries(config_map, "binaryData"))
        .map(|(k, v)| k.len() + v.as_str().map(str::len).unwrap_or(0))
        .sum();
    if size > MAX_DATA_BYTES {
        causes.push(Cause::too_long("data", MAX_DATA_BYTES));
    }
    causes
}

fn entries<'a>(object: &'a Value, field: &str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    object
        .get(field)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn keys(object: &Value, field: &str) -> Vec<Cause> {
    entries(object, field)
        .filter_map(|(key, _)| {
            let why = names::config_key_error(key)?;
            Some(Cause::invalid(format!("{field}[{key}]"), key, &why))
        })
        .collect()
}

/// Decodes a base64 value of a Secret's `data` (or a ConfigMap's `binaryData`).
pub fn decode(value: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| e.to_string())
}

/// Causes against an update: `type` never changes, and `immutable: true` freezes the data.
pub fn validate_update(old: &Value, new: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    if old.get("type") != new.get("type") {
        causes.push(Cause::invalid(
            "type",
            new["type"].as_str().unwrap_or(""),
            "field is immutable",
        ));
    }
    if old.get("immutable") == Some(&Value::Bool(true)) {
        for field in ["data", "binaryData", "immutable"] {
            if old.get(field) != new.get(field) {
                let why = "field is immutable when `immutable` is set";
                causes.push(Cause::forbidden(field, why));
            }
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_follow_the_config_key_syntax() {
        let secret = json!({"data": {"ok.key": "eA==", "bad/key": "eA=="}});
        let causes = validate_secret(&secret);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "data[bad/key]");
    }

    #[test]
    fn immutable_secrets_refuse_new_data() {
        let old = json!({"type": "Opaque", "immutable": true, "data": {"a": "eA=="}});
        let new = json!({"type": "Opaque", "immutable": true, "data": {"a": "eQ=="}});
        assert_eq!(validate_update(&old, &new).len(), 1);
    }

    #[test]
    fn secret_types_never_change() {
        let old = json!({"type": "Opaque"});
        let new = json!({"type": "kubernetes.io/tls"});
        assert_eq!(validate_update(&old, &new)[0].field, "type");
    }
}
