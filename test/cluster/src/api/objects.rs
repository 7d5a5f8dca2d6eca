//! Handlers for get, list, create, update, patch, delete and deletecollection.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http::Response;
use serde_json::{Value, json};

use super::query::Query;
use super::response::{self, Body};
use super::route::Route;
use crate::cluster::Cluster;
use crate::deletion::DeleteOptions;
use crate::object;
use crate::patch::PatchType;
use crate::registry::{self, Deleted};
use crate::status::{self, ApiError};

/// One resource request with its body read.
pub struct Call<'a> {
    pub cluster: &'a Arc<Cluster>,
    pub route: &'a Route,
    pub query: &'a Query,
    pub body: Bytes,
    pub content_type: String,
}

const JOB_ORPHAN_WARNING: &str = "child pods are preserved by default when jobs are deleted; set \
    propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning";

pub fn serve(verb: &str, call: Call) -> Result<Response<Body>, ApiError> {
    match verb {
        "get" => get(&call),
        "list" => list(&call),
        "create" => create(&call),
        "update" => update(&call),
        "patch" => patch(&call),
        "delete" => delete(&call),
        "deletecollection" => delete_collection(&call),
        _ => Err(ApiError::method_not_allowed(verb)),
    }
}

impl Call<'_> {
    fn namespace(&self) -> &str {
        self.route.namespace_or_empty()
    }

    fn name(&self) -> &str {
        self.route.name.as_deref().unwrap_or("")
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            ApiError::bad_request(format!(
                "couldn't get version/kind; json parse error: {error}"
            ))
        })
    }
}

fn get(call: &Call) -> Result<Response<Body>, ApiError> {
    let kind = call.route.kind;
    let object = call
        .cluster
        .store
        .get(kind, call.namespace(), call.name())
        .ok_or_else(|| ApiError::not_found(kind, call.name()))?;
    Ok(response::json(200, &object))
}

fn list(call: &Call) -> Result<Response<Body>, ApiError> {
    let kind = call.route.kind;
    let filter = call.query.filter(kind)?;
    let (objects, revision) = call
        .cluster
        .store
        .list(kind, call.route.namespace.as_deref());
    let mut items: Vec<Value> = objects
        .into_iter()
        .filter(|o| filter.matches(o))
        .map(without_type)
        .collect();
    let offset = continue_offset(call.query)?;
    items.drain(..offset.min(items.len()));
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(limit) = call
        .query
        .number("limit")?
        .filter(|l| *l > 0)
        .map(|l| l as usize)
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        metadata["continue"] = json!(continue_token(revision, offset + limit));
        metadata["remainingItemCount"] = json!(remaining);
    }
    let list = json!({
        "kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(),
        "metadata": metadata, "items": items,
    });
    Ok(response::json(200, &list))
}

/// List items carry no kind or apiVersion on a real server; the list says what they are.
fn without_type(mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.remove("kind");
        map.remove("apiVersion");
    }
    object
}

fn continue_token(revision: u64, offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{revision}:{offset}"))
}

fn continue_offset(query: &Query) -> Result<usize, ApiError> {
    let Some(token) = query.get("continue").filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let invalid = || ApiError::bad_request("continue key is not valid: invalid continue token");
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid())?;
    let (_, offset) = text.split_once(':').ok_or_else(invalid)?;
    offset.parse().map_err(|_| invalid())
}

fn create(call: &Call) -> Result<Response<Body>, ApiError> {
    let body = call.json_body()?;
    let created = registry::create(
        call.cluster,
        call.route.kind,
        call.namespace(),
        body,
        call.query.dry_run(),
    )?;
    Ok(response::json(201, &created))
}

fn update(call: &Call) -> Result<Response<Body>, ApiError> {
    let body = call.json_body()?;
    let subresource = call.route.subresource.as_deref();
    let updated = registry::update(
        call.cluster,
        call.route.kind,
        call.namespace(),
        call.name(),
        body,
        subresource,
        call.query.dry_run(),
    )?;
    Ok(response::json(200, &updated))
}

fn patch(call: &Call) -> Result<Response<Body>, ApiError> {
    let patch_type = PatchType::from_content_type(&call.content_type)?;
    if patch_type == PatchType::Apply && call.query.get("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "PATCH, fieldManager is required for apply requests",
        ));
    }
    let body = call.json_body()?;
    let existed = call
        .cluster
        .store
        .get(call.route.kind, call.namespace(), call.name())
        .is_some();
    let subresource = call.route.subresource.as_deref();
    let patched = registry::patch(
        call.cluster,
        call.route.kind,
        call.namespace(),
        call.name(),
        patch_type,
        body,
        subresource,
        call.query.dry_run(),
    )?;
    Ok(response::json(if existed { 200 } else { 201 }, &patched))
}

fn delete_options(call: &Call) -> Result<DeleteOptions, ApiError> {
    let mut options = DeleteOptions::parse(&call.body, &call.query.0)?;
    options.dry_run |= call.query.dry_run();
    Ok(options)
}

fn delete(call: &Call) -> Result<Response<Body>, ApiError> {
    let kind = call.route.kind;
    let options = delete_options(call)?;
    let deleted = registry::delete(call.cluster, kind, call.namespace(), call.name(), &options)?;
    let response = match deleted {
        // Pods answer with the deleted object; other types with a Status.
        Deleted::Gone(object) if kind.plural != "pods" => response::json(
            200,
            &status::deleted(kind, call.name(), object::uid(&object)),
        ),
        Deleted::Gone(object) | Deleted::Pending(object) => response::json(200, &object),
    };
    if kind.plural == "jobs" && options.propagation.is_none() {
        return Ok(response::warn(response, JOB_ORPHAN_WARNING));
    }
    Ok(response)
}

fn delete_collection(call: &Call) -> Result<Response<Body>, ApiError> {
    let kind = call.route.kind;
    let options = delete_options(call)?;
    let filter = call.query.filter(kind)?;
    let (objects, _) = call
        .cluster
        .store
        .list(kind, call.route.namespace.as_deref());
    let mut deleted = Vec::new();
    for object in objects.iter().filter(|o| filter.matches(o)) {
        match registry::delete(
            call.cluster,
            kind,
            object::namespace(object),
            object::name(object),
            &options,
        ) {
            Ok(Deleted::Gone(o) | Deleted::Pending(o)) => deleted.push(without_type(o)),
            Err(error) if error.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    let list = json!({
        "kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(),
        "metadata": {"resourceVersion": call.cluster.store.revision().to_string()}, "items": deleted,
    });
    Ok(response::json(200, &list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = continue_token(12, 500);
        let query = Query(vec![("continue".into(), token)]);
        assert_eq!(continue_offset(&query).unwrap(), 500);
        let bad = Query(vec![("continue".into(), "nonsense!".into())]);
        assert_eq!(continue_offset(&bad).unwrap_err().code, 400);
    }
}
