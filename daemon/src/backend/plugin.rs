//! Reading the byok8s Snakemake logger plugin: one `@@byok8s@@ {json}` line per event.

use byok8s_proto::v1::{JobFailed, JobFinished, JobStarted, Progress, run_event::Kind};
use serde_json::Value;

/// What the plugin puts before each event so that it stands out from Snakemake's own output.
const PREFIX: &str = "@@byok8s@@ ";

const MAX_REASON_CHARS: usize = 300;

/// The plugin's directory, written under the data directory and put on Snakemake's PYTHONPATH.
pub const PACKAGE: &str = "snakemake_logger_plugin_byok8s";
pub const SOURCE: &str =
    include_str!("../../../deploy/runner/python/snakemake_logger_plugin_byok8s/__init__.py");

/// One thing the plugin reported.
#[derive(Debug, PartialEq)]
pub enum Message {
    Event(Kind),
    /// A workflow-level error, kept as the run's failure reason.
    Error(String),
    /// A plugin event this daemon has no use for; it is not shown as output either.
    Ignored,
}

/// The output before a plugin message on this line, and the message; `None` for a line of
/// ordinary output.
///
/// Snakemake writes a message and its line break in two writes from another thread, and rule
/// commands share its output, so an event may follow the start of someone else's line. The
/// plugin writes each event whole in one write, so an event is never split.
pub fn split(line: &str) -> Option<(&str, Message)> {
    let start = line.find(PREFIX)?;
    Some((&line[..start], parse(&line[start..])?))
}

/// The plugin's message on this line, or `None` for a line of ordinary output.
pub fn parse(line: &str) -> Option<Message> {
    let value: Value = serde_json::from_str(line.strip_prefix(PREFIX)?).ok()?;
    let field = |name: &str| value.get(name);
    let number = |name: &str| field(name).and_then(Value::as_u64).unwrap_or(0);
    let text = |name: &str| field(name).and_then(Value::as_str).unwrap_or("").to_owned();

    let kind = match field("event")?.as_str()? {
        "run_info" => Kind::Progress(Progress {
            done: 0,
            total: number("total"),
        }),
        "progress" => Kind::Progress(Progress {
            done: number("done"),
            total: number("total"),
        }),
        "job_started" => Kind::JobStarted(JobStarted {
            jobid: number("jobid"),
            rule: text("rule"),
            outputs: strings(field("outputs")),
            wildcards: wildcards(field("wildcards")),
            details: Default::default(),
        }),
        "job_finished" => Kind::JobFinished(JobFinished {
            jobid: number("jobid"),
            rule: text("rule"),
        }),
        "job_failed" => Kind::JobFailed(JobFailed {
            jobid: number("jobid"),
            rule: text("rule"),
            message: text("message"),
        }),
        "error" => {
            return Some(Message::Error(error_reason(
                &text("rule"),
                &text("message"),
            )));
        }
        _ => return Some(Message::Ignored),
    };
    Some(Message::Event(kind))
}

/// Snakemake's messages span lines ("MissingRuleException:" then the useful part): they are
/// joined into one line and cut to a length that fits a status display.
fn error_reason(rule: &str, message: &str) -> String {
    let joined = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let message: String = joined.chars().take(MAX_REASON_CHARS).collect();
    let message = message.as_str();
    match (rule.is_empty(), message.is_empty()) {
        (false, false) => format!("rule {rule}: {message}"),
        (false, true) => format!("rule {rule} failed"),
        (true, _) => message.to_owned(),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    let items = value
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    items
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn wildcards(value: Option<&Value>) -> std::collections::HashMap<String, String> {
    let Some(object) = value.and_then(Value::as_object) else {
        return Default::default();
    };
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    object.iter().map(|(k, v)| (k.clone(), text(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_output_is_not_a_plugin_message() {
        assert_eq!(parse("Building DAG of jobs..."), None);
        assert_eq!(parse("@@byok8s@@ not json"), None);
    }

    #[test]
    fn job_started_carries_rule_outputs_and_wildcards() {
        let line = r#"@@byok8s@@ {"event":"job_started","jobid":3,"rule":"part","outputs":["parts/1.txt"],"wildcards":{"i":"1"}}"#;
        let Some(Message::Event(Kind::JobStarted(job))) = parse(line) else {
            panic!("not a job")
        };
        assert_eq!((job.jobid, job.rule.as_str()), (3, "part"));
        assert_eq!(job.outputs, ["parts/1.txt"]);
        assert_eq!(job.wildcards["i"], "1");
    }

    #[test]
    fn run_info_starts_progress_at_zero() {
        let line = r#"@@byok8s@@ {"event":"run_info","total":7,"per_rule":{"a":7}}"#;
        assert_eq!(
            parse(line),
            Some(Message::Event(Kind::Progress(Progress {
                done: 0,
                total: 7
            })))
        );
    }

    #[test]
    fn job_failures_keep_their_message() {
        let line =
            r#"@@byok8s@@ {"event":"job_failed","jobid":2,"rule":"doomed","message":"exit 3"}"#;
        let expected = JobFailed {
            jobid: 2,
            rule: "doomed".into(),
            message: "exit 3".into(),
        };
        assert_eq!(parse(line), Some(Message::Event(Kind::JobFailed(expected))));
    }

    #[test]
    fn errors_name_the_rule_and_join_the_message_into_one_line() {
        let line =
            r#"@@byok8s@@ {"event":"error","rule":"doomed","message":"Command failed\nmore"}"#;
        assert_eq!(
            parse(line),
            Some(Message::Error("rule doomed: Command failed more".into()))
        );
    }

    #[test]
    fn an_event_after_the_start_of_another_line_is_found_with_that_text() {
        let line = r#"Finished jobid: 7 (Rule: part)@@byok8s@@ {"event":"job_finished","jobid":7,"rule":"part"}"#;
        let expected = JobFinished {
            jobid: 7,
            rule: "part".into(),
        };
        assert_eq!(
            split(line),
            Some((
                "Finished jobid: 7 (Rule: part)",
                Message::Event(Kind::JobFinished(expected))
            ))
        );
        assert_eq!(split("100% done @@byok8s@@ {broken"), None);
    }

    #[test]
    fn unknown_events_are_ignored() {
        assert_eq!(
            parse(r#"@@byok8s@@ {"event":"rulegraph"}"#),
            Some(Message::Ignored)
        );
    }
}
