//! What a DELETE does to an object: preconditions, propagation finalizers, grace periods.

use serde_json::{Value, json};

use crate::clock;
use crate::object;
use crate::resources::ResourceKind;
use crate::status::ApiError;

pub const ORPHAN_FINALIZER: &str = "orphan";
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// How dependents of a deleted owner are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

/// The parts of `DeleteOptions` the cluster honours.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads the options from a DeleteOptions JSON body or, only when the body is empty, from
    /// the query string: the API server ignores query parameters once a body is sent.
    pub fn parse(body: &[u8], query: &[(String, String)]) -> Result<Self, ApiError> {
        if body.iter().any(|b| !b.is_ascii_whitespace()) {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?;
            return Self::from_json(&value);
        }
        let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let value = json!({
            "propagationPolicy": get("propagationPolicy"),
            "gracePeriodSeconds": get("gracePeriodSeconds").and_then(|g| g.parse::<i64>().ok()),
            "orphanDependents": get("orphanDependents").map(|o| o == "true"),
            "dryRun": get("dryRun").map(|d| vec![d]),
        });
        Self::from_json(&value)
    }

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let policy = value.get("propagationPolicy").and_then(Value::as_str);
        let orphan = value.get("orphanDependents").and_then(Value::as_bool);
        let propagation = match (policy, orphan) {
            (Some(_), Some(_)) => {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    "propagationPolicy: Invalid value: \"\": orphanDependents and deletionPropagation cannot be both set",
                ));
            }
            (Some("Orphan"), None) | (None, Some(true)) => Some(Propagation::Orphan),
            (Some("Background"), None) | (None, Some(false)) => Some(Propagation::Background),
            (Some("Foreground"), None) => Some(Propagation::Foreground),
            (Some(other), None) => {
                let message = format!(
                    "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                );
                return Err(ApiError::new(422, "Invalid", message));
            }
            (None, None) => None,
        };
        let dry_run = value
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| !d.is_empty());
        Ok(Self {
            propagation,
            grace_period_seconds: value.get("gracePeriodSeconds").and_then(Value::as_i64),
            precondition_uid: string(value, "/preconditions/uid"),
            precondition_resource_version: string(value, "/preconditions/resourceVersion"),
            dry_run,
        })
    }
}

fn string(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(String::from)
}

/// The propagation a type uses when the client names none: batch/v1 Jobs orphan their pods
/// for backwards compatibility, everything else deletes dependents in the background.
pub fn default_propagation(kind: &ResourceKind) -> Propagation {
    if kind.plural == "jobs" {
        Propagation::Orphan
    } else {
        Propagation::Background
    }
}

/// The object as the delete leaves it; the store removes it when nothing holds it.
pub fn plan(
    kind: &ResourceKind,
    current: &Value,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    check_preconditions(kind, current, options)?;
    let mut object = current.clone();
    let grace = grace_period(kind, current, options);
    if object::is_deleting(current) {
        shorten_grace(&mut object, grace);
        return Ok(object);
    }
    let policy = options
        .propagation
        .unwrap_or_else(|| default_propagation(kind));
    let mut finalizers = object::finalizers(&object);
    let added = match policy {
        Propagation::Orphan => Some(ORPHAN_FINALIZER),
        Propagation::Foreground => Some(FOREGROUND_FINALIZER),
        Propagation::Background => None,
    };
    if let Some(added) = added.filter(|f| !finalizers.iter().any(|x| x == f)) {
        finalizers.push(added.to_string());
    }
    object::set_finalizers(&mut object, &finalizers);
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
    let metadata = object::metadata_mut(&mut object);
    metadata.insert("deletionTimestamp".into(), json!(clock::seconds(at)));
    metadata.insert("deletionGracePeriodSeconds".into(), json!(grace));
    if kind.plural == "namespaces" {
        object["status"]["phase"] = json!("Terminating");
    }
    Ok(object)
}

fn check_preconditions(
    kind: &ResourceKind,
    current: &Value,
    options: &DeleteOptions,
) -> Result<(), ApiError> {
    let name = object::name(current);
    if let Some(uid) = &options.precondition_uid
        && uid != object::uid(current)
    {
        let why = format!(
            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
            object::uid(current)
        );
        return Err(ApiError::conflict(kind, name, &why));
    }
    if let Some(version) = &options.precondition_resource_version
        && version != object::resource_version(current)
    {
        let why = format!(
            "Precondition failed: ResourceVersion in precondition: {version}, ResourceVersion in object meta: {}",
            object::resource_version(current)
        );
        return Err(ApiError::conflict(kind, name, &why));
    }
    Ok(())
}

/// Pods get a grace period while a kubelet runs them; everything else goes at once.
fn grace_period(kind: &ResourceKind, current: &Value, options: &DeleteOptions) -> i64 {
    if kind.plural != "pods" {
        return 0;
    }
    let phase = object::str_at(current, "/status/phase");
    let unscheduled = object::str_at(current, "/spec/nodeName").is_empty();
    if unscheduled || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    let spec_grace = current
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    options
        .grace_period_seconds
        .or(spec_grace)
        .unwrap_or(30)
        .max(0)
}

fn shorten_grace(object: &mut Value, grace: i64) {
    let current = object
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    if current.is_some_and(|c| grace < c) {
        object::metadata_mut(object).insert("deletionGracePeriodSeconds".into(), json!(grace));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{JOBS, PODS, SECRETS};

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_body_hides_the_query_string_as_on_a_real_server() {
        let q = query(&[("propagationPolicy", "Foreground")]);
        assert_eq!(DeleteOptions::parse(b"{}", &q).unwrap().propagation, None);
        assert_eq!(
            DeleteOptions::parse(b"", &q).unwrap().propagation,
            Some(Propagation::Foreground)
        );
    }

    #[test]
    fn jobs_orphan_their_pods_by_default() {
        let job = json!({"metadata": {"name": "j", "uid": "u"}});
        let deleted = plan(&JOBS, &job, &DeleteOptions::default()).unwrap();
        assert_eq!(object::finalizers(&deleted), vec!["orphan".to_string()]);
        let secret = plan(&SECRETS, &job, &DeleteOptions::default()).unwrap();
        assert!(object::finalizers(&secret).is_empty());
    }

    #[test]
    fn foreground_deletion_adds_its_finalizer() {
        let job = json!({"metadata": {"name": "j"}});
        let options = DeleteOptions {
            propagation: Some(Propagation::Foreground),
            ..Default::default()
        };
        let deleted = plan(&JOBS, &job, &options).unwrap();
        assert_eq!(
            object::finalizers(&deleted),
            vec!["foregroundDeletion".to_string()]
        );
        assert_eq!(deleted["metadata"]["deletionGracePeriodSeconds"], 0);
    }

    #[test]
    fn running_pods_get_their_grace_period() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n", "terminationGracePeriodSeconds": 7},
            "status": {"phase": "Running"}});
        let deleted = plan(&PODS, &pod, &DeleteOptions::default()).unwrap();
        assert_eq!(deleted["metadata"]["deletionGracePeriodSeconds"], 7);
        let finished = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n"}, "status": {"phase": "Failed"}});
        let deleted = plan(&PODS, &finished, &DeleteOptions::default()).unwrap();
        assert_eq!(deleted["metadata"]["deletionGracePeriodSeconds"], 0);
    }

    #[test]
    fn a_stale_uid_precondition_conflicts() {
        let secret = json!({"metadata": {"name": "s", "uid": "a"}});
        let options = DeleteOptions {
            precondition_uid: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(plan(&SECRETS, &secret, &options).unwrap_err().code, 409);
    }

    #[test]
    fn both_orphan_flags_at_once_are_invalid() {
        let body = br#"{"propagationPolicy": "Orphan", "orphanDependents": true}"#;
        assert_eq!(DeleteOptions::parse(body, &[]).unwrap_err().code, 422);
    }
}
