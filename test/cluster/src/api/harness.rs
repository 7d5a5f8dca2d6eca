//! The `/_harness/` endpoints tests use to inject faults and inspect traffic.

use std::sync::Arc;

use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;

use super::response::{self, Body};
use crate::cluster::Cluster;
use crate::faults::Fault;
use crate::object;
use crate::resources::PODS;
use crate::status::ApiError;

pub async fn handle(
    cluster: &Arc<Cluster>,
    request: Request<Incoming>,
    path: &str,
) -> Response<Body> {
    let method = request.method().clone();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let result = match (&method, segments.as_slice()) {
        (&Method::POST, ["faults"]) => arm(cluster, request).await,
        (&Method::POST, ["close-watches"]) => {
            cluster.close_watches();
            Ok(json!({"closed": true}))
        }
        (&Method::POST, ["expire"]) => {
            cluster.store.compact();
            Ok(json!({"compactedThrough": cluster.store.revision().to_string()}))
        }
        (&Method::POST, ["pods", namespace, name, "oom"]) => oom(cluster, namespace, name),
        (&Method::GET, ["requests"]) => {
            Ok(serde_json::to_value(cluster.faults.requests()).unwrap_or_default())
        }
        _ => Err(ApiError::path_not_found()),
    };
    match result {
        Ok(body) => response::json(200, &body),
        Err(error) => response::error(&error),
    }
}

async fn arm(cluster: &Cluster, request: Request<Incoming>) -> Result<serde_json::Value, ApiError> {
    let body = request
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .to_bytes();
    let fault: Fault = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid fault: {e}")))?;
    tracing::info!(verb = %fault.verb, resource = %fault.resource, count = fault.count, code = fault.code, "fault armed");
    cluster.faults.arm(fault);
    Ok(json!({"armed": true}))
}

fn oom(cluster: &Cluster, namespace: &str, name: &str) -> Result<serde_json::Value, ApiError> {
    let pod = cluster
        .store
        .get(&PODS, namespace, name)
        .ok_or_else(|| ApiError::not_found(&PODS, name))?;
    if !cluster.processes.oom_kill(object::uid(&pod)) {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!("pod {namespace}/{name} has no running container"),
        ));
    }
    Ok(json!({"killed": true}))
}
