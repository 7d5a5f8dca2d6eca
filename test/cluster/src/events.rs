//! core/v1 Events that controllers and the kubelet record about the objects they act on.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::clock;
use crate::cluster::Cluster;
use crate::object;
use crate::registry;
use crate::resources::{EVENTS, ResourceKind};

/// Who records an event, as `source.component` names it.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    JobController,
    Kubelet,
    Scheduler,
}

impl Source {
    fn component(self) -> &'static str {
        match self {
            Source::JobController => "job-controller",
            Source::Kubelet => "kubelet",
            Source::Scheduler => "default-scheduler",
        }
    }
}

/// Makes event names unique even within one nanosecond.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Records a Normal event about `involved`.
pub fn normal(
    cluster: &Cluster,
    source: Source,
    kind: &ResourceKind,
    involved: &Value,
    reason: &str,
    message: &str,
) {
    record(cluster, source, kind, involved, "Normal", reason, message);
}

/// Records a Warning event about `involved`.
pub fn warning(
    cluster: &Cluster,
    source: Source,
    kind: &ResourceKind,
    involved: &Value,
    reason: &str,
    message: &str,
) {
    record(cluster, source, kind, involved, "Warning", reason, message);
}

fn record(
    cluster: &Cluster,
    source: Source,
    kind: &ResourceKind,
    involved: &Value,
    event_type: &str,
    reason: &str,
    message: &str,
) {
    let namespace = object::namespace(involved);
    let event = build(source, kind, involved, event_type, reason, message);
    if let Err(error) = registry::create(cluster, &EVENTS, namespace, event, false) {
        tracing::debug!(%error, reason, "event not recorded");
    }
}

fn build(
    source: Source,
    kind: &ResourceKind,
    involved: &Value,
    event_type: &str,
    reason: &str,
    message: &str,
) -> Value {
    let nanos =
        jiff::Timestamp::now().as_nanosecond() as u64 + SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let now = clock::now_seconds();
    json!({
        "metadata": {"name": format!("{}.{nanos:x}", object::name(involved))},
        "involvedObject": {
            "kind": kind.kind,
            "namespace": object::namespace(involved),
            "name": object::name(involved),
            "uid": object::uid(involved),
            "apiVersion": kind.api_version(),
            "resourceVersion": object::resource_version(involved),
        },
        "reason": reason,
        "message": message,
        "source": {"component": source.component(), "host": crate::kubelet::NODE_NAME},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": event_type,
        "eventTime": null,
        "reportingComponent": source.component(),
        "reportingInstance": crate::kubelet::NODE_NAME,
    })
}
