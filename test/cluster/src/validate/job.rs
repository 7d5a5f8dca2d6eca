//! Validation of batch/v1 Jobs: the pod template, its restart policy, counts and immutability.

use serde_json::Value;

use super::{meta, pod};
use crate::object;
use crate::status::Cause;

const JOB_RESTART_POLICIES: [&str; 2] = ["OnFailure", "Never"];
const COMPLETION_MODES: [&str; 2] = ["NonIndexed", "Indexed"];

/// Causes against a whole Job.
pub fn validate(job: &Value) -> Vec<Cause> {
    let spec = job.get("spec").unwrap_or(&Value::Null);
    let mut causes = Vec::new();
    let Some(template) = spec.get("template") else {
        causes.push(Cause::required("spec.template", ""));
        return causes;
    };
    let labels = template.pointer("/metadata/labels");
    causes.extend(meta::labels(labels, "spec.template.metadata.labels"));
    let template_spec = template.get("spec").unwrap_or(&Value::Null);
    let mut pod_causes = pod::validate_spec(template_spec, "spec.template.spec");
    pod_causes.retain(|c| c.field != "spec.template.spec.restartPolicy");
    causes.extend(pod_causes);
    causes.extend(restart_policy(template_spec));
    for field in [
        "parallelism",
        "completions",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        causes.extend(non_negative(spec, field));
    }
    causes.extend(positive(spec, "activeDeadlineSeconds"));
    causes.extend(completion_mode(spec));
    causes.extend(selector_matches(spec, labels));
    causes
}

fn restart_policy(template_spec: &Value) -> Option<Cause> {
    let policy = object::str_at(template_spec, "/restartPolicy");
    let field = "spec.template.spec.restartPolicy";
    (!JOB_RESTART_POLICIES.contains(&policy))
        .then(|| Cause::not_supported(field, policy, &JOB_RESTART_POLICIES))
}

fn non_negative(spec: &Value, field: &str) -> Option<Cause> {
    let value = spec.get(field).and_then(Value::as_i64)?;
    let why = "must be greater than or equal to 0";
    (value < 0).then(|| Cause::invalid(format!("spec.{field}"), &value.to_string(), why))
}

fn positive(spec: &Value, field: &str) -> Option<Cause> {
    let value = spec.get(field).and_then(Value::as_i64)?;
    let why = "must be greater than 0";
    (value <= 0).then(|| Cause::invalid(format!("spec.{field}"), &value.to_string(), why))
}

fn completion_mode(spec: &Value) -> Option<Cause> {
    let mode = spec.get("completionMode").and_then(Value::as_str)?;
    (!COMPLETION_MODES.contains(&mode))
        .then(|| Cause::not_supported("spec.completionMode", mode, &COMPLETION_MODES))
}

/// The selector must select the template's labels, or the Job could never see its pods.
fn selector_matches(spec: &Value, labels: Option<&Value>) -> Option<Cause> {
    let wanted = spec
        .pointer("/selector/matchLabels")
        .and_then(Value::as_object)?;
    let labels = labels.and_then(Value::as_object);
    let all = wanted
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
    let why = "`selector` does not match template `labels`";
    (!all).then(|| Cause::invalid("spec.template.metadata.labels", "", why))
}

/// Causes against changes a Job's spec may not make once created.
pub fn validate_update(old: &Value, new: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    for field in ["template", "completions", "selector", "completionMode"] {
        if old["spec"].get(field) != new["spec"].get(field) {
            let field = format!("spec.{field}");
            causes.push(Cause::invalid(field, "", "field is immutable"));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(restart_policy: &str) -> Value {
        json!({"metadata": {"name": "j"}, "spec": {"backoffLimit": 0, "template": {
            "metadata": {"labels": {"job-name": "j"}},
            "spec": {"restartPolicy": restart_policy, "containers": [{"name": "c", "image": "i"}]}}}})
    }

    #[test]
    fn never_and_on_failure_are_the_only_restart_policies() {
        assert!(validate(&job("Never")).is_empty());
        assert!(validate(&job("OnFailure")).is_empty());
        let causes = validate(&job("Always"));
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec.template.spec.restartPolicy");
        assert!(
            causes[0]
                .message
                .contains("supported values: \"OnFailure\", \"Never\"")
        );
    }

    #[test]
    fn a_job_needs_a_template_with_containers() {
        let causes = validate(&json!({"spec": {}}));
        assert_eq!(causes[0].field, "spec.template");
        let mut empty = job("Never");
        empty["spec"]["template"]["spec"]["containers"] = json!([]);
        assert_eq!(validate(&empty)[0].field, "spec.template.spec.containers");
    }

    #[test]
    fn negative_backoff_limits_are_invalid() {
        let mut bad = job("Never");
        bad["spec"]["backoffLimit"] = json!(-1);
        assert_eq!(validate(&bad)[0].field, "spec.backoffLimit");
    }

    #[test]
    fn the_template_is_immutable() {
        let old = job("Never");
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other");
        assert_eq!(validate_update(&old, &new)[0].field, "spec.template");
        let mut scaled = old.clone();
        scaled["spec"]["backoffLimit"] = json!(3);
        assert!(validate_update(&old, &scaled).is_empty());
    }
}
