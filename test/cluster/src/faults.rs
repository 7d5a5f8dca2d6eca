//! Injected failures and the request log that tests assert on.

use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use crate::status::ApiError;

/// Requests kept in the log; older ones are dropped first.
const REQUEST_LOG_LIMIT: usize = 100_000;

/// "The next `count` requests matching this fail with `code`."
///
/// `verb` is a Kubernetes verb (get, list, watch, create, update, patch, delete,
/// deletecollection) and `resource` a plural (jobs, pods, ...); either may be `*`. Without
/// `subresource` only requests to the main resource match; `*` matches any subresource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub verb: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default = "internal_error")]
    pub code: u16,
}

impl Fault {
    /// The next request with this verb on this resource (no subresource) fails with 500.
    pub fn new(verb: &str, resource: &str) -> Self {
        Self {
            verb: verb.into(),
            resource: resource.into(),
            subresource: None,
            namespace: None,
            name: None,
            count: 1,
            code: 500,
        }
    }

    pub fn subresource(mut self, subresource: &str) -> Self {
        self.subresource = Some(subresource.into());
        self
    }

    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn count(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    pub fn code(mut self, code: u16) -> Self {
        self.code = code;
        self
    }
}

fn one() -> u32 {
    1
}

fn internal_error() -> u16 {
    500
}

/// One served request, as `GET /_harness/requests` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub verb: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub code: u16,
    /// The client's User-Agent header, which tells whose request it was.
    #[serde(default)]
    pub user_agent: String,
}

/// What a resource request is about, for matching faults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInfo {
    pub verb: &'static str,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<Vec<Fault>>,
    log: Mutex<Vec<RecordedRequest>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Faults {
    pub fn arm(&self, fault: Fault) {
        if fault.count > 0 {
            lock(&self.armed).push(fault);
        }
    }

    /// The error an armed fault makes this request fail with, using up one of its count.
    pub fn trigger(&self, request: &RequestInfo) -> Option<ApiError> {
        let mut armed = lock(&self.armed);
        let index = armed.iter().position(|f| f.matches(request))?;
        let fault = &mut armed[index];
        fault.count -= 1;
        let code = fault.code;
        if fault.count == 0 {
            armed.remove(index);
        }
        Some(injected(code))
    }

    pub fn record(&self, request: RecordedRequest) {
        let mut log = lock(&self.log);
        if log.len() == REQUEST_LOG_LIMIT {
            log.remove(0);
        }
        log.push(request);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).clone()
    }
}

impl Fault {
    fn matches(&self, request: &RequestInfo) -> bool {
        let wild = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        let optional = |pattern: &Option<String>, value: &Option<String>| match pattern {
            None => true,
            Some(p) => p == "*" || Some(p) == value.as_ref(),
        };
        let subresource = match &self.subresource {
            None => request.subresource.is_none(),
            Some(_) => optional(&self.subresource, &request.subresource),
        };
        wild(&self.verb, request.verb)
            && wild(&self.resource, &request.resource)
            && subresource
            && optional(&self.namespace, &request.namespace)
            && optional(&self.name, &request.name)
    }
}

/// A Status for an injected failure, with the reason a real server gives that code.
fn injected(code: u16) -> ApiError {
    let reason = match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    };
    ApiError::new(code, reason, format!("injected fault: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(json: &str) -> Fault {
        serde_json::from_str(json).unwrap()
    }

    fn request(verb: &'static str, resource: &str, subresource: Option<&str>) -> RequestInfo {
        RequestInfo {
            verb,
            resource: resource.into(),
            subresource: subresource.map(String::from),
            namespace: Some("default".into()),
            name: Some("j".into()),
        }
    }

    #[test]
    fn a_fault_fires_count_times_then_disarms() {
        let faults = Faults::default();
        faults.arm(fault(
            r#"{"verb":"get","resource":"jobs","subresource":"status","count":2,"code":503}"#,
        ));
        let status = request("get", "jobs", Some("status"));
        assert_eq!(faults.trigger(&status).unwrap().code, 503);
        assert_eq!(
            faults.trigger(&status).unwrap().reason,
            "ServiceUnavailable"
        );
        assert!(faults.trigger(&status).is_none());
    }

    #[test]
    fn without_a_subresource_only_the_main_resource_matches() {
        let faults = Faults::default();
        faults.arm(fault(r#"{"verb":"get","resource":"jobs"}"#));
        assert!(
            faults
                .trigger(&request("get", "jobs", Some("status")))
                .is_none()
        );
        assert!(faults.trigger(&request("list", "jobs", None)).is_none());
        assert_eq!(
            faults.trigger(&request("get", "jobs", None)).unwrap().code,
            500
        );
    }

    #[test]
    fn namespaces_and_wildcards_narrow_and_widen() {
        let faults = Faults::default();
        faults.arm(fault(r#"{"verb":"*","resource":"*","namespace":"other"}"#));
        assert!(faults.trigger(&request("get", "pods", None)).is_none());
        faults.arm(fault(r#"{"verb":"*","resource":"pods","subresource":"*"}"#));
        assert!(
            faults
                .trigger(&request("get", "pods", Some("log")))
                .is_some()
        );
    }
}
