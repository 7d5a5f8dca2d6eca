//! The Job controller: creates a Job's pods from its template, counts successes and failures,
//! honours backoffLimit and activeDeadlineSeconds, and writes status, conditions and events.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::clock;
use crate::cluster::Cluster;
use crate::controller;
use crate::deletion::{DeleteOptions, Propagation};
use crate::events::{self, Source};
use crate::object;
use crate::registry;
use crate::resources::{JOBS, PODS};

/// Runs the controller until shutdown.
pub async fn run(cluster: Arc<Cluster>) {
    let mut controller = JobController::default();
    controller::run(cluster, move |cluster| {
        controller.reconcile(&cluster);
        std::future::ready(())
    })
    .await;
}

/// What the controller remembers per Job (by uid): pods already counted, so a pod that is
/// deleted after finishing is not counted twice or lost.
#[derive(Debug, Default)]
pub struct JobController {
    jobs: HashMap<String, Tally>,
}

#[derive(Debug, Default)]
struct Tally {
    succeeded: HashSet<String>,
    failed: HashSet<String>,
    /// Pods seen running: one that vanishes before finishing counts as failed.
    active: HashSet<String>,
    reported_create_failure: bool,
}

/// Where a Job stands after counting its pods.
enum Verdict {
    Complete,
    Failed(&'static str, &'static str),
    Running,
}

impl JobController {
    pub fn reconcile(&mut self, cluster: &Cluster) {
        let (jobs, _) = cluster.store.list(&JOBS, None);
        let (pods, _) = cluster.store.list(&PODS, None);
        let uids: HashSet<&str> = jobs.iter().map(object::uid).collect();
        self.jobs.retain(|uid, _| uids.contains(uid.as_str()));
        for job in &jobs {
            let owned: Vec<&Value> = pods.iter().filter(|p| controlled_by(p, job)).collect();
            let tally = self.jobs.entry(object::uid(job).to_string()).or_default();
            sync(cluster, job, &owned, tally);
        }
    }
}

fn controlled_by(pod: &Value, job: &Value) -> bool {
    object::owner_references(pod).iter().any(|r| {
        r["controller"] == Value::Bool(true) && object::str_at(r, "/uid") == object::uid(job)
    })
}

fn is_finished(job: &Value) -> bool {
    conditions(job).iter().any(|c| {
        matches!(object::str_at(c, "/type"), "Complete" | "Failed")
            && object::str_at(c, "/status") == "True"
    })
}

fn conditions(job: &Value) -> Vec<Value> {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn sync(cluster: &Cluster, job: &Value, pods: &[&Value], tally: &mut Tally) {
    if is_finished(job) {
        return expire_after_ttl(cluster, job);
    }
    count(pods, tally);
    let active: Vec<&Value> = pods.iter().copied().filter(|p| is_active(p)).collect();
    let verdict = judge(job, pods, tally);
    match verdict {
        Verdict::Complete | Verdict::Failed(..) => {
            for pod in &active {
                delete_pod(cluster, job, pod);
            }
        }
        Verdict::Running if should_create(job, pods) => create_pod(cluster, job, tally),
        Verdict::Running => {}
    }
    write_status(cluster, job, pods, tally, &verdict);
}

/// ttlSecondsAfterFinished: a finished Job is deleted (foreground, as the TTL controller
/// does) once that long has passed since it finished.
fn expire_after_ttl(cluster: &Cluster, job: &Value) {
    let Some(ttl) = job
        .pointer("/spec/ttlSecondsAfterFinished")
        .and_then(Value::as_i64)
    else {
        return;
    };
    let finished = conditions(job)
        .iter()
        .filter_map(|c| clock::parse(object::str_at(c, "/lastTransitionTime")))
        .max();
    let due = finished.is_some_and(|at| jiff::Timestamp::now().as_second() - at.as_second() >= ttl);
    if due && !object::is_deleting(job) {
        let options = DeleteOptions {
            propagation: Some(Propagation::Foreground),
            ..DeleteOptions::default()
        };
        let deleted = registry::delete(
            cluster,
            &JOBS,
            object::namespace(job),
            object::name(job),
            &options,
        );
        if let Err(error) = deleted {
            tracing::debug!(%error, job = object::name(job), "TTL deletion skipped");
        }
    }
}

fn phase(pod: &Value) -> &str {
    object::str_at(pod, "/status/phase")
}

fn is_active(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !object::is_deleting(pod)
}

fn count(pods: &[&Value], tally: &mut Tally) {
    let present: HashSet<&str> = pods.iter().map(|p| object::uid(p)).collect();
    let vanished: Vec<String> = tally
        .active
        .iter()
        .filter(|u| !present.contains(u.as_str()))
        .cloned()
        .collect();
    for uid in vanished {
        tally.active.remove(&uid);
        if !tally.succeeded.contains(&uid) {
            tally.failed.insert(uid);
        }
    }
    for pod in pods {
        let uid = object::uid(pod).to_string();
        match phase(pod) {
            "Succeeded" => drop(tally.succeeded.insert(uid)),
            "Failed" => drop(tally.failed.insert(uid)),
            _ => drop(tally.active.insert(uid)),
        }
    }
}

/// Failures count failed pods and, for OnFailure, container restarts, as the real
/// controller does against backoffLimit.
fn judge(job: &Value, pods: &[&Value], tally: &Tally) -> Verdict {
    let completions = job
        .pointer("/spec/completions")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let backoff_limit = job
        .pointer("/spec/backoffLimit")
        .and_then(Value::as_u64)
        .unwrap_or(6);
    let restarts: u64 = pods.iter().map(|p| restart_count(p)).sum();
    if tally.succeeded.len() as u64 >= completions {
        return Verdict::Complete;
    }
    if tally.failed.len() as u64 + restarts > backoff_limit {
        return Verdict::Failed(
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        );
    }
    if deadline_passed(job) {
        return Verdict::Failed(
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        );
    }
    Verdict::Running
}

fn restart_count(pod: &Value) -> u64 {
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    statuses
        .into_iter()
        .flatten()
        .filter_map(|s| s["restartCount"].as_u64())
        .sum()
}

fn deadline_passed(job: &Value) -> bool {
    let Some(deadline) = job
        .pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
    else {
        return false;
    };
    let started = clock::parse(object::str_at(job, "/status/startTime"));
    started.is_some_and(|s| jiff::Timestamp::now().as_second() - s.as_second() >= deadline)
}

/// One pod at a time (parallelism and completions of 1), never while the Job is being
/// deleted or suspended; a terminating pod is replaced at once (TerminatingOrFailed).
fn should_create(job: &Value, pods: &[&Value]) -> bool {
    let suspended = job.pointer("/spec/suspend") == Some(&Value::Bool(true));
    !object::is_deleting(job) && !suspended && !pods.iter().any(|p| is_active(p))
}

fn create_pod(cluster: &Cluster, job: &Value, tally: &mut Tally) {
    let template = job
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut metadata = template
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    metadata["generateName"] = json!(format!("{}-", object::name(job)));
    metadata["ownerReferences"] = json!([{
        "apiVersion": "batch/v1", "kind": "Job", "name": object::name(job), "uid": object::uid(job),
        "controller": true, "blockOwnerDeletion": true,
    }]);
    let pod = json!({"metadata": metadata, "spec": template.get("spec").cloned().unwrap_or_else(|| json!({}))});
    match registry::create(cluster, &PODS, object::namespace(job), pod, false) {
        Ok(pod) => {
            tally.active.insert(object::uid(&pod).to_string());
            let message = format!("Created pod: {}", object::name(&pod));
            events::normal(
                cluster,
                Source::JobController,
                &JOBS,
                job,
                "SuccessfulCreate",
                &message,
            );
        }
        Err(error) if !tally.reported_create_failure => {
            tally.reported_create_failure = true;
            let message = format!("Error creating: {}", error.message);
            events::warning(
                cluster,
                Source::JobController,
                &JOBS,
                job,
                "FailedCreate",
                &message,
            );
        }
        Err(_) => {}
    }
}

fn delete_pod(cluster: &Cluster, job: &Value, pod: &Value) {
    let options = DeleteOptions {
        propagation: Some(Propagation::Background),
        ..DeleteOptions::default()
    };
    if registry::delete(
        cluster,
        &PODS,
        object::namespace(pod),
        object::name(pod),
        &options,
    )
    .is_ok()
    {
        let message = format!("Deleted pod: {}", object::name(pod));
        events::normal(
            cluster,
            Source::JobController,
            &JOBS,
            job,
            "SuccessfulDelete",
            &message,
        );
    }
}

fn write_status(cluster: &Cluster, job: &Value, pods: &[&Value], tally: &Tally, verdict: &Verdict) {
    let status = build_status(job, pods, tally, verdict);
    if job.get("status") == Some(&status) {
        return;
    }
    let uid = object::uid(job).to_string();
    let result = cluster.store.update(
        &JOBS,
        object::namespace(job),
        object::name(job),
        |current| {
            let mut updated = current.clone();
            if object::uid(current) == uid {
                updated["status"] = status;
            }
            Ok(updated)
        },
    );
    if result.is_ok() {
        record_verdict(cluster, job, verdict);
    }
}

fn record_verdict(cluster: &Cluster, job: &Value, verdict: &Verdict) {
    match verdict {
        Verdict::Complete => events::normal(
            cluster,
            Source::JobController,
            &JOBS,
            job,
            "Completed",
            "Job completed",
        ),
        Verdict::Failed(reason, message) => {
            events::warning(cluster, Source::JobController, &JOBS, job, reason, message)
        }
        Verdict::Running => {}
    }
}

fn build_status(job: &Value, pods: &[&Value], tally: &Tally, verdict: &Verdict) -> Value {
    let now = clock::now_seconds();
    let running = matches!(verdict, Verdict::Running);
    let active = if running {
        pods.iter().filter(|p| is_active(p)).count()
    } else {
        0
    };
    let ready = if running {
        pods.iter().filter(|p| is_ready(p)).count()
    } else {
        0
    };
    let terminating = pods
        .iter()
        .filter(|p| object::is_deleting(p) && !matches!(phase(p), "Succeeded" | "Failed"))
        .count();
    let mut status = json!({
        "startTime": job.pointer("/status/startTime").cloned().unwrap_or_else(|| json!(now)),
        "ready": ready,
        "terminating": terminating,
        "uncountedTerminatedPods": {},
    });
    // Counts of zero are omitted, as the real API serializes them.
    for (field, value) in [
        ("active", active),
        ("succeeded", tally.succeeded.len()),
        ("failed", tally.failed.len()),
    ] {
        if value > 0 {
            status[field] = json!(value);
        }
    }
    match verdict {
        Verdict::Complete => {
            let reason = (
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            );
            status["conditions"] = json!([
                condition("SuccessCriteriaMet", reason, &now),
                condition("Complete", reason, &now)
            ]);
            status["completionTime"] = json!(now);
        }
        Verdict::Failed(reason, message) => {
            let why = (*reason, *message);
            status["conditions"] = json!([
                condition("FailureTarget", why, &now),
                condition("Failed", why, &now)
            ]);
        }
        Verdict::Running => {}
    }
    status
}

fn is_ready(pod: &Value) -> bool {
    let conditions = pod.pointer("/status/conditions").and_then(Value::as_array);
    conditions
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn condition(kind: &str, (reason, message): (&str, &str), now: &str) -> Value {
    json!({
        "type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
        "reason": reason, "message": message,
    })
}
