//! Validation as a real API server does it: every failed field becomes a cause of a 422 Invalid.

pub mod data;
pub mod job;
pub mod meta;
pub mod names;
pub mod pod;

use serde_json::Value;

use crate::object;
use crate::resources::ResourceKind;
use crate::status::{ApiError, Cause};

/// Checks an object about to be created.
pub fn create(kind: &ResourceKind, object: &Value) -> Result<(), ApiError> {
    let mut causes = meta::validate(kind, object);
    causes.extend(by_kind(kind, object));
    finish(kind, object, causes)
}

/// Checks an update of `old` to `new`, including the fields a real server keeps immutable.
pub fn update(kind: &ResourceKind, old: &Value, new: &Value) -> Result<(), ApiError> {
    let mut causes = meta::validate(kind, new);
    causes.extend(meta::validate_update(old, new));
    causes.extend(by_kind(kind, new));
    causes.extend(match kind.plural {
        "pods" => pod::validate_update(old, new),
        "jobs" => job::validate_update(old, new),
        "secrets" | "configmaps" => data::validate_update(old, new),
        _ => Vec::new(),
    });
    finish(kind, new, causes)
}

fn by_kind(kind: &ResourceKind, object: &Value) -> Vec<Cause> {
    match kind.plural {
        "pods" => pod::validate_pod(object),
        "jobs" => job::validate(object),
        "secrets" => data::validate_secret(object),
        "configmaps" => data::validate_config_map(object),
        "events" => meta::validate_event(object),
        _ => Vec::new(),
    }
}

fn finish(kind: &ResourceKind, object: &Value, causes: Vec<Cause>) -> Result<(), ApiError> {
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(kind, object::name(object), &causes))
    }
}

/// Checks the JSON shape a typed decoder would insist on; a mismatch is a 400, as in Go.
pub fn shape(object: &Value, pointer: &str, expected: Shape) -> Result<(), ApiError> {
    let Some(value) = object.pointer(pointer) else {
        return Ok(());
    };
    let fits = match expected {
        Shape::Object => value.is_object() || value.is_null(),
        Shape::Array => value.is_array() || value.is_null(),
        Shape::Strings => {
            value.is_null()
                || value
                    .as_array()
                    .is_some_and(|items| items.iter().all(Value::is_string))
        }
        Shape::StringMap => {
            value.is_null()
                || value
                    .as_object()
                    .is_some_and(|map| map.values().all(Value::is_string))
        }
    };
    if fits {
        return Ok(());
    }
    let field = pointer.trim_start_matches('/').replace('/', ".");
    Err(ApiError::bad_request(format!(
        "json: cannot unmarshal {} into Go struct field {field} of type {}",
        json_type(value),
        expected.go_type()
    )))
}

/// The JSON shapes [`shape`] can insist on.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Object,
    Array,
    Strings,
    StringMap,
}

impl Shape {
    fn go_type(self) -> &'static str {
        match self {
            Shape::Object => "struct",
            Shape::Array => "[]struct",
            Shape::Strings => "[]string",
            Shape::StringMap => "map[string]string",
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
