//! Tests of input resolution against files in a temporary directory.

use super::*;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

const ALPHA: (&str, &str) = ("workflow-alpha.json", r#"{"workflow_target": "target1"}"#);
const BLUE: (&str, &str) = ("params-blue.json", r#"{"name": "blue"}"#);

#[test]
fn workflow_name_without_json_suffix_is_found() {
    let dir = dir_with(&[ALPHA, BLUE]);
    let inputs = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &[]).unwrap();
    assert_eq!(inputs.workflow.name, "workflow-alpha");
    assert_eq!(inputs.workflow.path, PathBuf::from("workflow-alpha.json"));
    assert_eq!(inputs.params.name, "params-blue");
    assert_eq!(inputs.params.json, r#"{"name": "blue"}"#);
}

#[test]
fn name_given_with_json_suffix_is_used_as_is() {
    let dir = dir_with(&[ALPHA, BLUE]);
    let inputs = resolve_inputs(dir.path(), "workflow-alpha.json", "params-blue.json", &[]);
    assert_eq!(inputs.unwrap().workflow.name, "workflow-alpha");
}

#[test]
fn an_existing_file_without_suffix_wins_over_the_suffixed_one() {
    let dir = dir_with(&[
        ALPHA,
        BLUE,
        ("workflow-alpha", r#"{"workflow_target": "other"}"#),
    ]);
    let inputs = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &[]).unwrap();
    assert_eq!(inputs.workflow.path, PathBuf::from("workflow-alpha"));
    assert_eq!(inputs.targets, ["other"]);
}

#[test]
fn a_document_in_a_subdirectory_is_named_by_its_file_stem() {
    let dir = dir_with(&[BLUE]);
    fs::create_dir(dir.path().join("flows")).unwrap();
    fs::write(dir.path().join("flows/workflow-alpha.json"), ALPHA.1).unwrap();
    let inputs = resolve_inputs(dir.path(), "flows/workflow-alpha", "params-blue", &[]).unwrap();
    assert_eq!(inputs.workflow.name, "workflow-alpha");
}

#[test]
fn missing_file_error_names_both_tries() {
    let dir = dir_with(&[BLUE]);
    let err = resolve_inputs(dir.path(), "workflow-x", "params-blue", &[]).unwrap_err();
    let expected = "workflow file not found: tried workflow-x and workflow-x.json";
    assert_eq!(err.to_string(), expected);
}

#[test]
fn missing_file_given_with_suffix_is_named_once() {
    let dir = dir_with(&[ALPHA]);
    let err = resolve_inputs(dir.path(), "workflow-alpha", "params-x.json", &[]).unwrap_err();
    assert_eq!(err.to_string(), "params file not found: params-x.json");
}

#[test]
fn a_directory_is_not_taken_for_the_document() {
    let dir = dir_with(&[ALPHA, BLUE]);
    fs::create_dir(dir.path().join("params-dir")).unwrap();
    let err = resolve_inputs(dir.path(), "workflow-alpha", "params-dir", &[]).unwrap_err();
    assert!(matches!(err, InputError::NotAFile { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "params file params-dir is a directory, not a file"
    );
}

#[test]
fn a_directory_beside_the_suffixed_file_gives_way_to_it() {
    let dir = dir_with(&[ALPHA, BLUE]);
    fs::create_dir(dir.path().join("params-blue")).unwrap();
    let inputs = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &[]).unwrap();
    assert_eq!(inputs.params.path, Path::new("params-blue.json"));
}

#[test]
fn a_document_larger_than_byok8sd_accepts_is_refused_naming_the_file() {
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(1024 * 1024));
    let dir = dir_with(&[ALPHA, ("params-big.json", &big)]);
    let err = resolve_inputs(dir.path(), "workflow-alpha", "params-big", &[]).unwrap_err();
    assert!(matches!(err, InputError::TooLarge { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "params file params-big.json is larger than the 1.0 MiB byok8sd accepts"
    );
}

#[test]
fn invalid_json_names_the_file_and_the_position() {
    let dir = dir_with(&[ALPHA, ("params-bad.json", "{\n  \"name\": blue\n}")]);
    let err = resolve_inputs(dir.path(), "workflow-alpha", "params-bad", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "params file params-bad.json is not valid JSON"
    );
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("line 2 column"), "{cause}");
}

#[test]
fn json_that_is_not_an_object_is_refused() {
    let dir = dir_with(&[ALPHA, ("params-list.json", "[1, 2]")]);
    let err = resolve_inputs(dir.path(), "workflow-alpha", "params-list", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "params file params-list.json is not a JSON object"
    );
}

#[test]
fn missing_workflow_target_without_target_is_refused() {
    let dir = dir_with(&[("workflow-alpha.json", "{}"), BLUE]);
    let err = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &[]).unwrap_err();
    let expected = "workflow-alpha.json has no \"workflow_target\" and no TARGET was given";
    assert_eq!(err.to_string(), expected);
}

#[test]
fn explicit_targets_override_the_workflow_target() {
    let dir = dir_with(&[ALPHA, BLUE]);
    let targets = ["zeta.txt".to_owned(), "gamma.txt".to_owned()];
    let inputs = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &targets).unwrap();
    assert_eq!(inputs.targets, targets);
}

#[test]
fn explicit_targets_stand_in_for_a_missing_workflow_target() {
    let dir = dir_with(&[("workflow-alpha.json", "{}"), BLUE]);
    let targets = ["all".to_owned()];
    let inputs = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &targets).unwrap();
    assert_eq!(inputs.targets, ["all"]);
}

#[test]
fn an_empty_workflow_target_is_refused() {
    let dir = dir_with(&[("workflow-alpha.json", r#"{"workflow_target": ""}"#), BLUE]);
    let err = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &[]).unwrap_err();
    assert!(
        matches!(err, InputError::InvalidDefaultTarget { .. }),
        "{err:?}"
    );
}

#[test]
fn snakefile_must_be_an_existing_file() {
    let dir = dir_with(&[("Snakefile", "rule all:\n")]);
    assert!(resolve_snakefile(dir.path(), Path::new("Snakefile")).is_ok());
    let err = resolve_snakefile(dir.path(), Path::new("wf/Snakefile")).unwrap_err();
    assert_eq!(err.to_string(), "Snakefile not found: wf/Snakefile");
    fs::create_dir(dir.path().join("wf")).unwrap();
    let err = resolve_snakefile(dir.path(), Path::new("wf")).unwrap_err();
    assert_eq!(err.to_string(), "Snakefile wf is a directory, not a file");
}

#[test]
fn an_explicit_target_overrides_a_workflow_target_of_the_wrong_type() {
    let dir = dir_with(&[("workflow-alpha.json", r#"{"workflow_target": 5}"#), BLUE]);
    let targets = ["all".to_owned()];
    let inputs = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &targets).unwrap();
    assert_eq!(inputs.targets, ["all"]);
}

#[test]
fn a_workflow_target_of_the_wrong_type_without_target_is_refused_naming_the_file() {
    let dir = dir_with(&[("workflow-alpha.json", r#"{"workflow_target": 5}"#), BLUE]);
    let err = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("\"workflow_target\" in workflow-alpha.json must be"),
        "{err}"
    );
}

#[test]
fn targets_that_would_leave_the_run_directory_are_refused_before_sending() {
    let dir = dir_with(&[ALPHA, BLUE]);
    for target in [
        "../x.txt",
        "/etc/passwd",
        "a/../../b",
        "",
        ".",
        "bad\u{1b}[2J",
    ] {
        let targets = [target.to_owned()];
        let err = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &targets);
        assert!(
            matches!(err, Err(InputError::InvalidTarget { .. })),
            "{target:?}: {err:?}"
        );
    }
}

#[test]
fn rule_names_and_relative_output_paths_are_accepted_as_targets() {
    let dir = dir_with(&[ALPHA, BLUE]);
    let targets = ["all", "results/zeta.txt", "./x.txt"].map(str::to_owned);
    let inputs = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &targets).unwrap();
    assert_eq!(inputs.targets, targets);
}

#[test]
fn a_refused_target_is_named_in_the_error() {
    let dir = dir_with(&[ALPHA, BLUE]);
    let targets = ["../../escape.txt".to_owned()];
    let err = resolve_inputs(dir.path(), "workflow-alpha", "params-blue", &targets).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("TARGET \"../../escape.txt\" must be a rule name or a relative path"),
        "{text}"
    );
}

#[test]
fn a_workflow_target_that_would_leave_the_run_directory_is_refused_naming_the_file() {
    let workflow = ("workflow-up.json", r#"{"workflow_target": "../up.txt"}"#);
    let dir = dir_with(&[workflow, BLUE]);
    let err = resolve_inputs(dir.path(), "workflow-up", "params-blue", &[]).unwrap_err();
    assert!(
        matches!(&err, InputError::InvalidDefaultTarget { path } if path == Path::new("workflow-up.json")),
        "{err:?}"
    );
}

#[test]
fn a_document_whose_name_byok8sd_would_refuse_is_named_before_sending() {
    let dir = dir_with(&[ALPHA, ("my params.json", r#"{"name": "blue"}"#)]);
    let err = resolve_inputs(dir.path(), "workflow-alpha", "my params", &[]).unwrap_err();
    assert!(
        matches!(
            &err,
            InputError::InvalidName {
                role: DocumentRole::Params,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("params file my params.json cannot be sent"),
        "{err}"
    );
}

#[test]
fn a_document_name_must_start_with_a_letter_or_digit() {
    let dir = dir_with(&[BLUE, ("-rf.json", r#"{"workflow_target": "all"}"#)]);
    let err = resolve_inputs(dir.path(), "-rf", "params-blue", &[]).unwrap_err();
    assert!(matches!(err, InputError::InvalidName { .. }), "{err:?}");
}
