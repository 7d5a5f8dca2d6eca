//! Validation of a Submit request: everything from the client is checked here, once.

use std::collections::BTreeMap;
use std::path::Path;

use byok8s_proto::rules::{self, MAX_DOCUMENT_BYTES, MAX_IDEMPOTENCY_KEY_CHARS};
use byok8s_proto::v1::{JsonDocument, SubmitRequest};
use serde_json::{Map, Value};

use crate::bundle::{self, BundleLimits};
use crate::error::Error;
use crate::run::RunSpec;

/// What a submission may carry.
#[derive(Clone, Copy, Debug)]
pub struct SubmissionLimits {
    pub max_bundle_bytes: usize,
    pub bundle: BundleLimits,
}

/// Far below the JSON parser's own recursion limit, so that a stored document always reads back
/// even inside the run record that wraps it.
const MAX_JSON_DEPTH: usize = 64;
const MAX_TARGETS: usize = 256;
const MAX_TARGET_CHARS: usize = 1024;
const MAX_LABELS: usize = 64;

/// A submission that passed every check.
#[derive(Debug)]
pub struct Submission {
    pub spec: RunSpec,
    /// SHA-256 of the spec and the bundle.
    pub digest: String,
    pub idempotency_key: Option<String>,
    pub bundle: Vec<u8>,
}

/// Checks a request and turns it into a [`Submission`]; the first problem found is reported.
pub fn validate(request: SubmitRequest, limits: SubmissionLimits) -> Result<Submission, Error> {
    let (workflow_name, workflow) = document("workflow", request.workflow)?;
    let (params_name, config) = document("params", request.params)?;
    let targets = targets(request.targets, &workflow, &workflow_name)?;
    let labels = labels(request.labels)?;
    let idempotency_key = idempotency_key(request.idempotency_key)?;
    let bundle = request.bundle.ok_or_else(|| invalid("bundle: missing"))?;
    check_bundle(&bundle.tar_gz, &bundle.snakefile, limits)?;

    let spec = RunSpec {
        workflow: workflow_name,
        params: params_name,
        config,
        targets,
        snakefile: bundle.snakefile,
        dry_run: request.dry_run,
        force: request.force,
        labels,
        namespace: request.namespace,
    };
    let digest = digest(&spec, &bundle.tar_gz);
    Ok(Submission {
        spec,
        digest,
        idempotency_key,
        bundle: bundle.tar_gz,
    })
}

/// The spec's JSON (its maps are ordered, so equal specs serialise alike) and the bundle.
fn digest(spec: &RunSpec, bundle: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let spec = serde_json::to_vec(spec).expect("a run spec always serialises");
    let mut hasher = Sha256::new();
    hasher.update(&spec);
    hasher.update([0]);
    hasher.update(bundle);
    format!("{:x}", hasher.finalize())
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidArgument(message.into())
}

/// A named JSON object: the name is safe to show and store, the JSON parses to an object.
fn document(
    what: &str,
    document: Option<JsonDocument>,
) -> Result<(String, Map<String, Value>), Error> {
    let document = document.ok_or_else(|| invalid(format!("{what}: missing")))?;
    if !rules::is_document_name(&document.name) {
        return Err(invalid(format!(
            "{what} name {:?} must be 1 to 253 letters, digits, '.', '_' or '-', \
             starting with a letter or digit",
            truncate(&document.name)
        )));
    }
    if document.json.len() > MAX_DOCUMENT_BYTES {
        return Err(invalid(format!(
            "{what} {}: larger than {MAX_DOCUMENT_BYTES} bytes",
            document.name
        )));
    }
    match serde_json::from_str(&document.json) {
        Ok(Value::Object(object)) if depth(&object) > MAX_JSON_DEPTH => Err(invalid(format!(
            "{what} {}: nested deeper than {MAX_JSON_DEPTH} levels",
            document.name
        ))),
        Ok(Value::Object(object)) => Ok((document.name, object)),
        Ok(_) => Err(invalid(format!(
            "{what} {}: must be a JSON object",
            document.name
        ))),
        Err(e) => Err(invalid(format!(
            "{what} {}: invalid JSON: {e}",
            document.name
        ))),
    }
}

/// How deeply arrays and objects nest inside `object` (the object itself is level 1).
fn depth(object: &Map<String, Value>) -> usize {
    let mut deepest = 1;
    let mut pending: Vec<(&Value, usize)> = object.values().map(|v| (v, 2)).collect();
    while let Some((value, level)) = pending.pop() {
        let children: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            Value::Object(fields) => fields.values().collect(),
            _ => continue,
        };
        deepest = deepest.max(level);
        pending.extend(children.into_iter().map(|child| (child, level + 1)));
    }
    deepest
}

/// The explicit targets, or else the workflow file's `workflow_target`.
fn targets(
    explicit: Vec<String>,
    workflow: &Map<String, Value>,
    name: &str,
) -> Result<Vec<String>, Error> {
    let targets = if explicit.is_empty() {
        match workflow.get("workflow_target") {
            Some(Value::String(target)) => vec![target.clone()],
            Some(_) => {
                return Err(invalid(format!(
                    "workflow {name}: \"workflow_target\" must be a string"
                )));
            }
            None => {
                return Err(invalid(format!(
                    "workflow {name} has no \"workflow_target\" and no target was given"
                )));
            }
        }
    } else {
        explicit
    };
    if targets.len() > MAX_TARGETS {
        return Err(invalid(format!("targets: more than {MAX_TARGETS}")));
    }
    for target in &targets {
        check_target(target)?;
    }
    Ok(targets)
}

/// Targets are rule names or output paths inside the run's directory.
fn check_target(target: &str) -> Result<(), Error> {
    let shape_ok = !target.is_empty()
        && target.chars().count() <= MAX_TARGET_CHARS
        && !target.chars().any(char::is_control);
    if !shape_ok {
        return Err(invalid(format!(
            "target {:?}: must be 1 to {MAX_TARGET_CHARS} printable characters",
            truncate(target)
        )));
    }
    if !bundle::is_plain_relative(Path::new(target)) {
        return Err(invalid(format!(
            "target {target:?}: must be a rule name or a relative path without '..'"
        )));
    }
    Ok(())
}

/// Labels follow Kubernetes label syntax, so they can later be copied onto cluster objects.
fn labels(
    labels: std::collections::HashMap<String, String>,
) -> Result<BTreeMap<String, String>, Error> {
    if labels.len() > MAX_LABELS {
        return Err(invalid(format!("labels: more than {MAX_LABELS}")));
    }
    for (key, value) in &labels {
        if !rules::is_label_key(key) {
            return Err(invalid(format!(
                "label key {:?}: not a valid Kubernetes label key",
                truncate(key)
            )));
        }
        if !rules::is_label_value(value) {
            return Err(invalid(format!(
                "label {key}: value {:?} is not a valid Kubernetes label value",
                truncate(value)
            )));
        }
    }
    Ok(labels.into_iter().collect())
}

fn idempotency_key(key: String) -> Result<Option<String>, Error> {
    if key.is_empty() {
        return Ok(None);
    }
    if !rules::is_idempotency_key(&key) {
        return Err(invalid(format!(
            "idempotency key: must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"
        )));
    }
    Ok(Some(key))
}

fn check_bundle(tar_gz: &[u8], snakefile: &str, limits: SubmissionLimits) -> Result<(), Error> {
    if tar_gz.len() > limits.max_bundle_bytes {
        return Err(invalid(format!(
            "bundle: larger than {} bytes compressed",
            limits.max_bundle_bytes
        )));
    }
    if !bundle::is_plain_relative(Path::new(snakefile)) {
        return Err(invalid(format!(
            "snakefile {:?}: must be a relative path inside the bundle",
            truncate(snakefile)
        )));
    }
    bundle::inspect(tar_gz, Path::new(snakefile), limits.bundle).map_err(|e| invalid(e.to_string()))
}

/// Client text echoed in an error is cut short, so an error never carries a whole payload.
fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use byok8s_proto::v1::Bundle;
    use flate2::{Compression, write::GzEncoder};

    use super::*;

    const LIMITS: SubmissionLimits = SubmissionLimits {
        max_bundle_bytes: 64 * 1024,
        bundle: BundleLimits {
            max_unpacked_bytes: 64 * 1024,
            max_entries: 100,
        },
    };

    fn snakefile_bundle() -> Bundle {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        let mut header = tar::Header::new_gnu();
        header.set_size(8);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, "Snakefile", &b"rule a:\n"[..])
            .unwrap();
        let tar_gz = builder.into_inner().unwrap().finish().unwrap();
        Bundle {
            tar_gz,
            snakefile: "Snakefile".into(),
        }
    }

    fn request() -> SubmitRequest {
        SubmitRequest {
            workflow: Some(JsonDocument {
                name: "workflow-alpha".into(),
                json: r#"{"workflow_target": "target1"}"#.into(),
            }),
            params: Some(JsonDocument {
                name: "params-blue".into(),
                json: r#"{"name": "blue"}"#.into(),
            }),
            bundle: Some(snakefile_bundle()),
            ..Default::default()
        }
    }

    fn refusal(request: SubmitRequest) -> String {
        match validate(request, LIMITS) {
            Err(Error::InvalidArgument(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_workflow_target_is_the_default_target_and_params_become_config() {
        let submission = validate(request(), LIMITS).unwrap();
        assert_eq!(submission.spec.targets, ["target1"]);
        assert_eq!(submission.spec.config["name"], "blue");
        assert_eq!(submission.spec.workflow, "workflow-alpha");
    }

    #[test]
    fn explicit_targets_override_the_workflow_target() {
        let mut request = request();
        request.targets = vec!["target3".into()];
        assert_eq!(validate(request, LIMITS).unwrap().spec.targets, ["target3"]);
    }

    #[test]
    fn a_workflow_without_target_is_refused_by_name() {
        let mut request = request();
        request.workflow.as_mut().unwrap().json = "{}".into();
        assert!(refusal(request).contains("workflow-alpha has no \"workflow_target\""));
    }

    #[test]
    fn params_that_are_not_an_object_are_refused() {
        let mut request = request();
        request.params.as_mut().unwrap().json = "[1, 2]".into();
        assert!(refusal(request).contains("must be a JSON object"));
    }

    #[test]
    fn invalid_json_is_refused_with_the_parser_position() {
        let mut request = request();
        request.params.as_mut().unwrap().json = "{\"name\": ".into();
        assert!(refusal(request).contains("invalid JSON"));
    }

    #[test]
    fn targets_escaping_the_run_directory_are_refused() {
        for target in ["../x.txt", "/etc/passwd", "a/../../b"] {
            let mut request = request();
            request.targets = vec![target.into()];
            assert!(refusal(request).contains("relative path"), "{target}");
        }
    }

    #[test]
    fn document_names_with_path_characters_are_refused() {
        let mut request = request();
        request.workflow.as_mut().unwrap().name = "../wf".into();
        assert!(refusal(request).contains("workflow name"));
    }

    #[test]
    fn document_names_must_start_with_a_letter_or_digit() {
        for name in [".", "..", "-rf", ""] {
            let mut request = request();
            request.params.as_mut().unwrap().name = name.into();
            assert!(refusal(request).contains("params name"), "{name:?}");
        }
    }

    #[test]
    fn deeply_nested_params_are_refused_before_they_reach_the_store() {
        let mut request = request();
        let nested = format!("{{\"a\": {}{}}}", "[".repeat(100), "]".repeat(100));
        request.params.as_mut().unwrap().json = nested;
        assert!(refusal(request).contains("nested deeper"));
    }

    #[test]
    fn moderately_nested_params_are_accepted() {
        let mut request = request();
        let nested = format!("{{\"a\": {}{}}}", "[".repeat(40), "]".repeat(40));
        request.params.as_mut().unwrap().json = nested;
        assert!(validate(request, LIMITS).is_ok());
    }

    #[test]
    fn malformed_labels_are_refused() {
        let mut request = request();
        request.labels = [("bad key".to_owned(), "v".to_owned())].into();
        assert!(refusal(request).contains("label key"));
    }

    #[test]
    fn a_bundle_missing_its_snakefile_is_refused() {
        let mut request = request();
        request.bundle.as_mut().unwrap().snakefile = "workflow/Snakefile".into();
        assert!(refusal(request).contains("not a file in the bundle"));
    }

    #[test]
    fn an_oversized_bundle_is_refused_before_it_is_opened() {
        let mut request = request();
        request.bundle.as_mut().unwrap().tar_gz = vec![0; LIMITS.max_bundle_bytes + 1];
        assert!(refusal(request).contains("larger than"));
    }

    #[test]
    fn idempotency_keys_with_spaces_are_refused() {
        let mut request = request();
        request.idempotency_key = "a b".into();
        assert!(refusal(request).contains("idempotency key"));
    }
}
