//! Tests of the error report: headline, cause lines and hints.

use std::path::PathBuf;

use byok8s::ServerUrl;
use tonic::Status;

use super::*;

fn server() -> ServerUrl {
    ServerUrl::parse("https://127.0.0.1:50051").unwrap()
}

fn unreachable_because(cause: &str) -> Error {
    let source = Box::new(io::Error::other(cause.to_owned()));
    Error::Unreachable {
        server: server(),
        source,
    }
}

#[test]
fn a_server_error_shows_its_message_and_code_name() {
    let error = Error::from_status(Status::not_found("run x not found"), &server());
    let expected = "\
error: run x not found
  caused by: gRPC status NOT_FOUND
hint: `byok8s list` shows the runs you can see
";
    assert_eq!(report(&error).unwrap(), expected);
}

#[test]
fn a_refused_connection_names_the_server_and_hints_at_the_daemon() {
    let error = unreachable_because("tcp connect error: Connection refused (os error 111)");
    let expected = "\
error: cannot reach byok8sd at https://127.0.0.1:50051
  caused by: tcp connect error: Connection refused (os error 111)
hint: is byok8sd running? check --server / BYOK8S_SERVER
";
    assert_eq!(report(&error).unwrap(), expected);
}

#[test]
fn a_certificate_failure_hints_at_ca_cert() {
    let error = unreachable_because("invalid peer certificate: UnknownIssuer");
    let text = report(&error).unwrap();
    assert!(
        text.ends_with("hint: pass the daemon's certificate with --ca-cert or BYOK8S_CA_CERT\n")
    );
}

#[test]
fn a_missing_target_hints_at_both_remedies() {
    let error = Error::Input(InputError::NoTarget {
        path: PathBuf::from("workflow-alpha.json"),
    });
    let text = report(&error).unwrap();
    assert!(text.starts_with(
        "error: workflow-alpha.json has no \"workflow_target\" and no TARGET was given\n"
    ));
    assert!(text.contains("hint: name a TARGET"), "{text}");
}

#[test]
fn an_oversized_bundle_hints_at_the_ignore_file() {
    let dir = PathBuf::from("/work/flow");
    let error = Error::Bundle(BundleError::TooLarge {
        dir,
        found: 70 << 20,
        cap: 64 << 20,
    });
    let text = report(&error).unwrap();
    assert!(text.contains("holds 70.0 MiB of files, more than the bundle size cap of 64.0 MiB"));
    assert!(text.contains(
        "hint: list what the run does not need (data, results) in /work/flow/.byok8signore"
    ));
}

#[test]
fn a_repeated_cause_is_shown_once() {
    let inner = io::Error::other("same words");
    let error = Error::Output(io::Error::other(inner));
    let text = report(&error).unwrap();
    assert_eq!(text.matches("same words").count(), 1, "{text}");
}

#[test]
fn a_cause_repeated_further_down_the_chain_is_shown_once() {
    #[derive(Debug, thiserror::Error)]
    #[error("tcp connect error")]
    struct Connect(#[source] io::Error);
    #[derive(Debug, thiserror::Error)]
    #[error("transport error")]
    struct Transport(#[source] Connect);
    #[derive(Debug, thiserror::Error)]
    #[error("tcp connect error")]
    struct Outer(#[source] Transport);
    let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    let error = Error::Unreachable {
        server: server(),
        source: Box::new(Outer(Transport(Connect(refused)))),
    };
    let text = report(&error).unwrap();
    assert_eq!(text.matches("tcp connect error").count(), 1, "{text}");
    assert!(text.contains("  caused by: transport error\n"), "{text}");
}

#[test]
fn giving_up_a_follow_says_how_to_resume() {
    let error = Error::FollowGaveUp {
        run_id: "run-1".into(),
        after_seq: 12,
        source: Box::new(unreachable_because("daemon is restarting")),
    };
    let expected = "\
error: stopped following run run-1 after event 12
  caused by: cannot reach byok8sd at https://127.0.0.1:50051
  caused by: daemon is restarting
hint: the run goes on; once byok8sd can be reached, resume with `byok8s watch run-1 --after-seq 12`
";
    assert_eq!(report(&error).unwrap(), expected);
    assert_eq!(error.exit_code().as_u8(), 4);
}

#[test]
fn a_closed_pipe_is_reported_silently() {
    let error = Error::Output(io::Error::from(io::ErrorKind::BrokenPipe));
    assert_eq!(report(&error), None);
}

#[test]
fn control_characters_in_a_server_message_are_shown_escaped() {
    let status = Status::failed_precondition("refused\u{1b}[2J by policy");
    let text = report(&Error::from_status(status, &server())).unwrap();
    assert!(
        text.starts_with("error: refused\\u{1b}[2J by policy\n"),
        "{text}"
    );
}
