//! Tests of the command line: parsing, validation and help text.

use clap::{CommandFactory, error::ErrorKind};

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("byok8s").chain(args.iter().copied()))
}

#[test]
fn the_command_line_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn submit_takes_targets_after_workflow_and_params() {
    let cli = parse(&[
        "submit",
        "workflow-zeta",
        "params-red",
        "zeta.txt",
        "--dry-run",
    ])
    .unwrap();
    let Command::Submit(args) = cli.command else {
        panic!("not submit")
    };
    assert_eq!(args.targets, ["zeta.txt"]);
    assert!(args.dry_run);
    assert_eq!(args.snakefile, PathBuf::from("Snakefile"));
}

#[test]
fn global_options_may_follow_the_command() {
    let cli = parse(&[
        "status",
        "run-1",
        "--output",
        "json",
        "--server",
        "https://h:1",
    ])
    .unwrap();
    assert_eq!(cli.global.output, OutputFormat::Json);
    assert_eq!(cli.global.server, "https://h:1");
}

#[test]
fn a_malformed_label_is_a_usage_error() {
    let err = parse(&["submit", "w", "p", "--label", "team"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueValidation);
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn list_filters_repeat() {
    let cli = parse(&[
        "list", "--phase", "failed", "--phase", "running", "--limit", "5",
    ])
    .unwrap();
    let Command::List(args) = cli.command else {
        panic!("not list")
    };
    assert_eq!(args.phases, [PhaseFilter::Failed, PhaseFilter::Running]);
    assert_eq!(args.limit, Some(5));
}

#[test]
fn an_unknown_phase_is_a_usage_error() {
    let err = parse(&["list", "--phase", "done"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
}

#[test]
fn logs_follow_has_a_short_flag() {
    let cli = parse(&["logs", "run-1", "-f"]).unwrap();
    let Command::Logs(args) = cli.command else {
        panic!("not logs")
    };
    assert!(args.follow);
}

fn help_of(args: &[&str]) -> String {
    let err = parse(args).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DisplayHelp);
    err.to_string()
}

#[test]
fn top_level_help_documents_the_exit_codes() {
    let help = help_of(&["--help"]);
    assert!(help.contains("  4  cannot reach the server"), "{help}");
    insta::assert_snapshot!("byok8s_help", help);
}

#[test]
fn submit_help_lists_its_options() {
    insta::assert_snapshot!("byok8s_submit_help", help_of(&["submit", "--help"]));
}
