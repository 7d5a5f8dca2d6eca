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
fn an_empty_or_invisible_idempotency_key_is_a_usage_error() {
    for key in ["", "a b", "ключ", &"k".repeat(257)] {
        let err = parse(&["submit", "w", "p", "--idempotency-key", key]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation, "{key:?}");
        assert!(err.to_string().contains("visible ASCII"), "{err}");
    }
    let cli = parse(&["submit", "w", "p", "--idempotency-key", &"k".repeat(256)]).unwrap();
    let Command::Submit(args) = cli.command else {
        panic!("not submit")
    };
    assert_eq!(args.idempotency_key.map(|key| key.len()), Some(256));
}

#[test]
fn an_empty_run_id_is_a_usage_error() {
    for command in ["status", "watch", "logs", "cancel"] {
        let err = parse(&[command, ""]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue, "{command}");
    }
}

#[test]
fn a_list_limit_above_what_the_daemon_returns_is_a_usage_error() {
    let err = parse(&["list", "--limit", "1001"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueValidation);
    assert!(parse(&["list", "--limit", "1000"]).is_ok());
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
    assert!(help.contains("  4    cannot reach the daemon"), "{help}");
    insta::assert_snapshot!("byok8s_help", help);
}

/// The rows of the README's exit-code table, as (code, meaning) without Markdown backticks.
fn readme_exit_codes() -> Vec<(String, String)> {
    let readme = include_str!("../../../README.md");
    let (_, section) = readme.split_once("### Exit codes").unwrap();
    section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].replace('`', ""))
        })
        .collect()
}

#[test]
fn the_help_and_the_readme_give_the_same_exit_codes() {
    let help: Vec<(String, String)> = EXIT_CODES
        .lines()
        .skip(1)
        .map(|line| {
            let (code, meaning) = line.trim().split_once(' ').unwrap();
            (code.to_owned(), meaning.trim().to_owned())
        })
        .collect();
    assert_eq!(help, readme_exit_codes());
}

#[test]
fn submit_help_lists_its_options() {
    insta::assert_snapshot!("byok8s_submit_help", help_of(&["submit", "--help"]));
}
