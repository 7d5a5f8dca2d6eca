//! The HTTP API: authentication, routing to discovery, resources, logs and the harness
//! endpoints, and the request log.

mod discovery;
mod harness;
mod log;
mod objects;
pub mod query;
pub mod response;
pub mod route;
mod watch;

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use self::query::Query;
use self::response::Body;
use self::route::Route;
use crate::cluster::Cluster;
use crate::faults::{RecordedRequest, RequestInfo};
use crate::status::ApiError;

/// The largest request body accepted, as on a real API server (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Serves one request.
pub async fn handle(cluster: Arc<Cluster>, request: Request<Incoming>) -> Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let raw_query = request.uri().query().unwrap_or("").to_string();
    let query = Query::parse(Some(&raw_query));
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let harness = path.starts_with("/_harness/");
    let (verb, response) = dispatch(&cluster, request, &path, &query).await;
    tracing::debug!(%method, %path, code = response.status().as_u16(), "request");
    if !harness {
        cluster.faults.record(RecordedRequest {
            verb: verb.to_string(),
            method: method.to_string(),
            path,
            query: raw_query,
            code: response.status().as_u16(),
            user_agent,
        });
    }
    response
}

async fn dispatch(
    cluster: &Arc<Cluster>,
    request: Request<Incoming>,
    path: &str,
    query: &Query,
) -> (&'static str, Response<Body>) {
    if let Some(response) = discovery::public(path) {
        return ("get", response);
    }
    if !authorized(cluster, &request) {
        return ("", response::error(&ApiError::unauthorized()));
    }
    if let Some(rest) = path.strip_prefix("/_harness/") {
        return ("harness", harness::handle(cluster, request, rest).await);
    }
    if let Some(response) = discovery::document(cluster, path) {
        return ("get", response);
    }
    match Route::parse(path) {
        Ok(route) => resource(cluster, request, route, query).await,
        Err(error) => ("", response::error(&error)),
    }
}

/// Only the cluster's bearer token is accepted; the scheme is case-insensitive (RFC 7235),
/// and Python's in-cluster configuration sends `bearer`.
fn authorized(cluster: &Cluster, request: &Request<Incoming>) -> bool {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some((scheme, token)) = header.and_then(|h| h.split_once(' ')) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && token.trim() == cluster.token
}

/// The Kubernetes verb of a resource request, or 405.
fn verb(method: &Method, route: &Route, query: &Query) -> Result<&'static str, ApiError> {
    let named = route.name.is_some();
    let verb = match (method.as_str(), named) {
        ("GET", true) => "get",
        ("GET", false) if query.flag("watch") => "watch",
        ("GET", false) => "list",
        ("POST", false) if route.namespace.is_some() || !route.kind.namespaced => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return Err(ApiError::method_not_allowed(method.as_str())),
    };
    let log_only_get = route.subresource.as_deref() == Some("log") && verb != "get";
    if log_only_get {
        return Err(ApiError::method_not_allowed(method.as_str()));
    }
    Ok(verb)
}

async fn resource(
    cluster: &Arc<Cluster>,
    request: Request<Incoming>,
    route: Route,
    query: &Query,
) -> (&'static str, Response<Body>) {
    let verb = match verb(request.method(), &route, query) {
        Ok(verb) => verb,
        Err(error) => return ("", response::error(&error)),
    };
    let info = RequestInfo {
        verb,
        resource: route.kind.plural.to_string(),
        subresource: route.subresource.clone(),
        namespace: route.namespace.clone(),
        name: route.name.clone(),
    };
    if let Some(error) = cluster.faults.trigger(&info) {
        return (verb, response::error(&error));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(error) => return (verb, response::error(&error)),
    };
    let call = objects::Call {
        cluster,
        route: &route,
        query,
        body,
        content_type,
    };
    let response = match verb {
        "get" if route.subresource.as_deref() == Some("log") => log::serve(cluster, &route, query),
        "watch" => watch::serve(cluster, &route, query),
        _ => objects::serve(verb, call),
    };
    (
        verb,
        response.unwrap_or_else(|error| response::error(&error)),
    )
}

async fn read_body(request: Request<Incoming>) -> Result<Bytes, ApiError> {
    match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_BODY}"),
        )),
        Err(error) => Err(ApiError::bad_request(format!(
            "cannot read the request body: {error}"
        ))),
    }
}
