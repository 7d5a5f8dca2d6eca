//! Validation of `metadata`: names, labels, annotations, owner references, finalizers.

use serde_json::Value;

use super::names;
use crate::object;
use crate::resources::{NameRule, ResourceKind};
use crate::status::Cause;

const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// Causes against the metadata of any object.
pub fn validate(kind: &ResourceKind, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    causes.extend(name(kind, object::name(object)));
    causes.extend(labels(
        object.pointer("/metadata/labels"),
        "metadata.labels",
    ));
    causes.extend(annotations(object));
    causes.extend(owner_references(object));
    causes.extend(finalizers(object));
    causes
}

fn name(kind: &ResourceKind, name: &str) -> Option<Cause> {
    if name.is_empty() {
        return Some(Cause::required(
            "metadata.name",
            "name or generateName is required",
        ));
    }
    let error = match kind.name_rule {
        NameRule::Subdomain => names::subdomain_error(name),
        NameRule::Label => names::label_error(name),
    };
    error.map(|why| Cause::invalid("metadata.name", name, &why))
}

/// Causes against a label map at `field` (object labels, template labels, node selectors).
pub fn labels(labels: Option<&Value>, field: &str) -> Vec<Cause> {
    let Some(map) = labels.and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    for (key, value) in map {
        if let Some(why) = names::qualified_name_error(key) {
            causes.push(Cause::invalid(field, key, &why));
        }
        let text = value.as_str().unwrap_or_default();
        if let Some(why) = names::label_value_error(text) {
            causes.push(Cause::invalid(format!("{field}[{key}]"), text, &why));
        }
    }
    causes
}

fn annotations(object: &Value) -> Vec<Cause> {
    let Some(map) = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let mut causes: Vec<Cause> = map
        .keys()
        .filter_map(|key| {
            let why = names::qualified_name_error(&key.to_lowercase())?;
            Some(Cause::invalid("metadata.annotations", key, &why))
        })
        .collect();
    let size: usize = map
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map(str::len).unwrap_or(0))
        .sum();
    if size > ANNOTATIONS_MAX_BYTES {
        causes.push(Cause::too_long(
            "metadata.annotations",
            ANNOTATIONS_MAX_BYTES,
        ));
    }
    causes
}

fn owner_references(object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let references = object::owner_references(object);
    for (i, reference) in references.iter().enumerate() {
        let field = format!("metadata.ownerReferences[{i}]");
        for required in ["apiVersion", "kind", "name", "uid"] {
            if object::str_at(reference, &format!("/{required}")).is_empty() {
                causes.push(Cause::required(format!("{field}.{required}"), ""));
            }
        }
    }
    let controllers = references
        .iter()
        .filter(|r| r["controller"] == Value::Bool(true))
        .count();
    if controllers > 1 {
        let why = "Only one reference can have Controller set to true";
        causes.push(Cause::invalid("metadata.ownerReferences", "", why));
    }
    causes
}

fn finalizers(object: &Value) -> Vec<Cause> {
    object::finalizers(object)
        .iter()
        .filter_map(|f| {
            let why = names::qualified_name_error(f)?;
            Some(Cause::invalid("metadata.finalizers", f, &why))
        })
        .collect()
}

/// Causes against metadata changes an update may not make.
pub fn validate_update(old: &Value, new: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let added: Vec<String> = object::finalizers(new)
        .into_iter()
        .filter(|f| !object::finalizers(old).contains(f))
        .collect();
    if object::is_deleting(old) && !added.is_empty() {
        let why = "no new finalizers can be added if the object is being deleted";
        causes.push(Cause::forbidden("metadata.finalizers", why));
    }
    causes
}

/// Causes against a core/v1 Event.
pub fn validate_event(event: &Value) -> Vec<Cause> {
    let involved = object::str_at(event, "/involvedObject/namespace");
    let namespace = object::namespace(event);
    if !involved.is_empty() && involved != namespace {
        let why = "does not match event.namespace";
        return vec![Cause::invalid("involvedObject.namespace", involved, why)];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{NAMESPACES, PODS};
    use serde_json::json;

    #[test]
    fn pod_names_are_subdomains_and_namespaces_labels() {
        let pod = json!({"metadata": {"name": "a.b"}});
        assert!(validate(&PODS, &pod).is_empty());
        let namespace = json!({"metadata": {"name": "a.b"}});
        assert_eq!(validate(&NAMESPACES, &namespace)[0].field, "metadata.name");
    }

    #[test]
    fn bad_labels_are_named_by_key() {
        let pod = json!({"metadata": {"name": "p", "labels": {"ok": "a b", "bad key": "x"}}});
        let fields: Vec<String> = validate(&PODS, &pod).into_iter().map(|c| c.field).collect();
        assert!(fields.contains(&"metadata.labels[ok]".to_string()));
        assert!(fields.contains(&"metadata.labels".to_string()));
    }

    #[test]
    fn owner_references_need_uid_and_a_single_controller() {
        let pod = json!({"metadata": {"name": "p", "ownerReferences": [
            {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "controller": true},
            {"apiVersion": "batch/v1", "kind": "Job", "name": "k", "uid": "u", "controller": true}
        ]}});
        let fields: Vec<String> = validate(&PODS, &pod).into_iter().map(|c| c.field).collect();
        assert!(fields.contains(&"metadata.ownerReferences[0].uid".to_string()));
        assert!(fields.contains(&"metadata.ownerReferences".to_string()));
    }

    #[test]
    fn deleting_objects_take_no_new_finalizers() {
        let old = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
        let new = json!({"metadata": {"finalizers": ["x.io/y"]}});
        assert_eq!(validate_update(&old, &new).len(), 1);
    }
}
