//! Create, update, patch and delete with a real API server's semantics, shared by the HTTP
//! API and the controllers: server-set fields, defaults, admission, validation, preconditions.

use serde_json::{Value, json};

use crate::admission;
use crate::clock;
use crate::cluster::Cluster;
use crate::defaults;
use crate::deletion::{self, DeleteOptions};
use crate::namespaces;
use crate::object;
use crate::patch::{self, PatchType};
use crate::resources::ResourceKind;
use crate::status::ApiError;
use crate::store::Outcome;
use crate::validate;

/// Longest generateName prefix kept; five random characters follow it.
const GENERATE_NAME_MAX: usize = 58;

/// Fields only the server sets; whatever a client sends for them is replaced.
const SERVER_METADATA: [&str; 6] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
];

/// Creates `body` in `namespace` ("" for cluster-scoped types).
pub fn create(
    cluster: &Cluster,
    kind: &'static ResourceKind,
    namespace: &str,
    body: Value,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let mut object = prepare_create(kind, namespace, body)?;
    defaults::apply(kind.plural, &mut object)?;
    if kind.plural == "pods" {
        admission::pod(&cluster.store, &mut object)?;
    }
    validate::create(kind, &object)?;
    if dry_run {
        return Ok(object);
    }
    let created = cluster.store.create(kind, object)?;
    if kind.plural == "namespaces" {
        namespaces::populate(cluster, object::name(&created));
    }
    Ok(created)
}

fn prepare_create(kind: &ResourceKind, namespace: &str, body: Value) -> Result<Value, ApiError> {
    let mut object = check_body(kind, body)?;
    check_namespace(kind, namespace, &object)?;
    if !object::resource_version(&object).is_empty() {
        return Err(ApiError::internal(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let generate = object::str_at(&object, "/metadata/generateName").to_string();
    let metadata = object::metadata_mut(&mut object);
    if metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
        && !generate.is_empty()
    {
        let prefix: String = generate.chars().take(GENERATE_NAME_MAX).collect();
        metadata.insert(
            "name".into(),
            json!(format!("{prefix}{}", object::random_suffix(5))),
        );
    }
    for field in SERVER_METADATA {
        metadata.remove(field);
    }
    if kind.namespaced {
        metadata.insert("namespace".into(), json!(namespace));
    }
    metadata.insert("uid".into(), json!(object::new_uid()));
    metadata.insert("creationTimestamp".into(), json!(clock::now_seconds()));
    Ok(object)
}

/// The body must be an object of this type; apiVersion and kind may be left out.
fn check_body(kind: &ResourceKind, body: Value) -> Result<Value, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    };
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if !api_version.is_empty() && api_version != kind.api_version() {
        let message = format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            kind.api_version()
        );
        return Err(ApiError::bad_request(message));
    }
    let sent_kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    if !sent_kind.is_empty() && sent_kind != kind.kind {
        let message = format!(
            "the kind in the data ({sent_kind}) does not match the expected kind ({})",
            kind.kind
        );
        return Err(ApiError::bad_request(message));
    }
    map.insert("apiVersion".into(), json!(kind.api_version()));
    map.insert("kind".into(), json!(kind.kind));
    Ok(Value::Object(map))
}

fn check_namespace(kind: &ResourceKind, namespace: &str, object: &Value) -> Result<(), ApiError> {
    let sent = object::namespace(object);
    if kind.namespaced && !sent.is_empty() && sent != namespace {
        let message =
            "the namespace of the provided object does not match the namespace sent on the request";
        return Err(ApiError::bad_request(message));
    }
    Ok(())
}

/// Replaces an object (PUT), or its status when `subresource` is `status`.
pub fn update(
    cluster: &Cluster,
    kind: &'static ResourceKind,
    namespace: &str,
    name: &str,
    body: Value,
    subresource: Option<&str>,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let body = check_body(kind, body)?;
    check_namespace(kind, namespace, &body)?;
    let sent_name = object::name(&body);
    if sent_name != name {
        let message = format!(
            "the name of the object ({sent_name}) does not match the name on the URL ({name})"
        );
        return Err(ApiError::bad_request(message));
    }
    write(cluster, kind, namespace, name, dry_run, |old| {
        prepare_update(kind, old, body, subresource)
    })
}

/// Patches an object; an apply patch of a missing object creates it.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of a PATCH request; a struct would only rename them"
)]
pub fn patch(
    cluster: &Cluster,
    kind: &'static ResourceKind,
    namespace: &str,
    name: &str,
    patch_type: PatchType,
    body: Value,
    subresource: Option<&str>,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let missing = cluster.store.get(kind, namespace, name).is_none();
    if missing && patch_type == PatchType::Apply && subresource.is_none() {
        let mut created = body;
        object::metadata_mut(&mut created).insert("name".into(), json!(name));
        return create(cluster, kind, namespace, created, dry_run);
    }
    write(cluster, kind, namespace, name, dry_run, |old| {
        let patched = patch::apply(patch_type, old, &body)?;
        let patched = check_body(kind, patched)?;
        prepare_update(kind, old, patched, subresource)
    })
}

fn write<F>(
    cluster: &Cluster,
    kind: &'static ResourceKind,
    namespace: &str,
    name: &str,
    dry_run: bool,
    change: F,
) -> Result<Value, ApiError>
where
    F: FnOnce(&Value) -> Result<Value, ApiError>,
{
    if dry_run {
        let current = cluster
            .store
            .get(kind, namespace, name)
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        return change(&current);
    }
    Ok(cluster
        .store
        .update(kind, namespace, name, change)?
        .object()
        .clone())
}

/// The object an update of `old` to `new` stores: preconditions checked, server-owned fields
/// kept, status or spec left alone depending on the subresource, then validated.
fn prepare_update(
    kind: &ResourceKind,
    old: &Value,
    mut new: Value,
    subresource: Option<&str>,
) -> Result<Value, ApiError> {
    let name = object::name(old);
    let sent_version = object::resource_version(&new);
    if !sent_version.is_empty() && sent_version != object::resource_version(old) {
        return Err(ApiError::stale(kind, name));
    }
    let sent_uid = object::uid(&new);
    if !sent_uid.is_empty() && sent_uid != object::uid(old) {
        let why = format!(
            "Precondition failed: UID in precondition: {sent_uid}, UID in object meta: {}",
            object::uid(old)
        );
        return Err(ApiError::conflict(kind, name, &why));
    }
    if subresource == Some("status") {
        let mut updated = old.clone();
        updated["status"] = new.get("status").cloned().unwrap_or(json!({}));
        return Ok(updated);
    }
    keep_server_fields(old, &mut new);
    if kind.has_subresource("status") {
        match old.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => drop(new.as_object_mut().map(|m| m.remove("status"))),
        }
    }
    if kind.plural == "jobs" && old.get("spec") != new.get("spec") {
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        object::metadata_mut(&mut new).insert("generation".into(), json!(generation + 1));
    }
    if kind.plural == "secrets" {
        defaults::apply(kind.plural, &mut new)?;
    }
    validate::update(kind, old, &new)?;
    Ok(new)
}

fn keep_server_fields(old: &Value, new: &mut Value) {
    let old_metadata = old
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let metadata = object::metadata_mut(new);
    for field in SERVER_METADATA
        .iter()
        .chain(["name", "namespace", "resourceVersion"].iter())
    {
        match old_metadata.get(*field) {
            Some(value) => metadata.insert((*field).to_string(), value.clone()),
            None => metadata.remove(*field),
        };
    }
}

/// What a delete did.
pub enum Deleted {
    /// The object is gone; this was its last state.
    Gone(Value),
    /// The object is being deleted (grace period, finalizers); this is its state now.
    Pending(Value),
}

pub fn delete(
    cluster: &Cluster,
    kind: &'static ResourceKind,
    namespace: &str,
    name: &str,
    options: &DeleteOptions,
) -> Result<Deleted, ApiError> {
    if options.dry_run {
        let current = cluster
            .store
            .get(kind, namespace, name)
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        return deletion::plan(kind, &current, options).map(Deleted::Pending);
    }
    let outcome = cluster.store.update(kind, namespace, name, |current| {
        deletion::plan(kind, current, options)
    })?;
    Ok(match outcome {
        Outcome::Removed(object) => Deleted::Gone(object),
        Outcome::Stored(object) | Outcome::Unchanged(object) => Deleted::Pending(object),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{JOBS, PODS, SECRETS};

    #[test]
    fn a_mismatched_kind_is_a_bad_request() {
        let error = check_body(&JOBS, json!({"apiVersion": "v1", "kind": "Job"})).unwrap_err();
        assert_eq!(error.code, 400);
        let fine = check_body(&JOBS, json!({"metadata": {}})).unwrap();
        assert_eq!(
            (fine["apiVersion"].as_str(), fine["kind"].as_str()),
            (Some("batch/v1"), Some("Job"))
        );
    }

    #[test]
    fn creating_with_a_resource_version_is_refused() {
        let body = json!({"metadata": {"name": "s", "resourceVersion": "5"}});
        assert_eq!(
            prepare_create(&SECRETS, "default", body).unwrap_err().code,
            500
        );
    }

    #[test]
    fn generate_name_gets_a_random_suffix() {
        let body = json!({"metadata": {"generateName": "run-"}});
        let object = prepare_create(&SECRETS, "default", body).unwrap();
        let name = object::name(&object);
        assert!(name.starts_with("run-") && name.len() == 9, "{name}");
        assert_eq!(object::namespace(&object), "default");
    }

    #[test]
    fn a_stale_resource_version_conflicts() {
        let old = json!({"metadata": {"name": "s", "resourceVersion": "7"}});
        let new = json!({"metadata": {"name": "s", "resourceVersion": "6"}});
        let error = prepare_update(&SECRETS, &old, new, None).unwrap_err();
        assert_eq!((error.code, error.reason), (409, "Conflict"));
    }

    #[test]
    fn updates_ignore_status_and_status_updates_ignore_spec() {
        let old = json!({"metadata": {"name": "p", "resourceVersion": "1", "uid": "u"},
            "spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"},
            "status": {"phase": "Running"}});
        let mut new = old.clone();
        new["status"]["phase"] = json!("Succeeded");
        let updated = prepare_update(&PODS, &old, new.clone(), None).unwrap();
        assert_eq!(updated["status"]["phase"], "Running");
        new["spec"]["restartPolicy"] = json!("Always");
        let status = prepare_update(&PODS, &old, new, Some("status")).unwrap();
        assert_eq!(status["status"]["phase"], "Succeeded");
        assert_eq!(status["spec"]["restartPolicy"], "Never");
    }
}
