//! The JSON shapes of runs and events, mapped by hand from the protobuf messages.

use std::collections::HashMap;

use byok8s::phase_name;
use byok8s::proto::run_event::Kind;
use byok8s::proto::{LogStream, Progress, Run, RunEvent};
use serde_json::{Map, Value, json};

use super::clock::rfc3339;

/// A run as a JSON object: phase as a lowercase name, times as RFC 3339 or null.
pub fn run_json(run: &Run) -> Value {
    json!({
        "id": run.id,
        "user": run.user,
        "phase": phase_name(run.phase),
        "reason": run.reason,
        "workflow": run.workflow,
        "params": run.params,
        "targets": run.targets,
        "dry_run": run.dry_run,
        "force": run.force,
        "labels": string_map(&run.labels),
        "idempotency_key": run.idempotency_key,
        "backend": run.backend,
        "namespace": run.namespace,
        "created_at": rfc3339(run.created_at.as_ref()),
        "started_at": rfc3339(run.started_at.as_ref()),
        "finished_at": rfc3339(run.finished_at.as_ref()),
        "progress": run.progress.as_ref().map(progress_json),
        "last_seq": run.last_seq,
        "details": string_map(&run.details),
    })
}

/// A submitted run: the run object plus `existing`, which tells a script whether its
/// idempotency key found an earlier run instead of creating one.
pub fn submitted_json(run: &Run, existing: bool) -> Value {
    let mut object = run_json(run);
    object["existing"] = json!(existing);
    object
}

/// An event as one flat JSON object with a `kind` field, or `None` for kinds this client
/// does not know.
pub fn event_json(event: &RunEvent) -> Option<Value> {
    let (kind, fields) = kind_json(event.kind.as_ref()?);
    let mut object = Map::new();
    object.insert("run_id".into(), json!(event.run_id));
    object.insert("seq".into(), json!(event.seq));
    object.insert("time".into(), json!(rfc3339(event.time.as_ref())));
    object.insert("kind".into(), json!(kind));
    if let Value::Object(fields) = fields {
        object.extend(fields);
    }
    Some(Value::Object(object))
}

fn kind_json(kind: &Kind) -> (&'static str, Value) {
    match kind {
        Kind::Phase(change) => (
            "phase",
            json!({ "phase": phase_name(change.phase), "reason": change.reason }),
        ),
        Kind::JobStarted(job) => (
            "job_started",
            json!({
                "jobid": job.jobid,
                "rule": job.rule,
                "outputs": job.outputs,
                "wildcards": string_map(&job.wildcards),
                "details": string_map(&job.details),
            }),
        ),
        Kind::JobFinished(job) => (
            "job_finished",
            json!({ "jobid": job.jobid, "rule": job.rule }),
        ),
        Kind::JobFailed(job) => (
            "job_failed",
            json!({ "jobid": job.jobid, "rule": job.rule, "message": job.message }),
        ),
        Kind::Progress(progress) => ("progress", progress_json(progress)),
        Kind::Log(log) => (
            "log",
            json!({
                "source": log.source,
                "line": log.line,
                "stream": stream_name(log.stream),
                "pod": log.pod,
            }),
        ),
        Kind::Cluster(cluster) => (
            "cluster",
            json!({
                "object": cluster.object,
                "reason": cluster.reason,
                "message": cluster.message,
                "warning": cluster.warning,
                "source": cluster.source,
            }),
        ),
    }
}

fn progress_json(progress: &Progress) -> Value {
    json!({ "done": progress.done, "total": progress.total })
}

fn string_map(map: &HashMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn stream_name(stream: i32) -> &'static str {
    match LogStream::try_from(stream) {
        Ok(LogStream::Stdout) => "stdout",
        Ok(LogStream::Stderr) => "stderr",
        Ok(LogStream::Daemon) => "daemon",
        Ok(LogStream::Combined) => "combined",
        Ok(LogStream::Unspecified) => "unspecified",
        Err(_) => "unknown",
    }
}

#[cfg(test)]
mod tests;
