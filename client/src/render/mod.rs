//! Printing results on standard output, for people or as JSON.

mod clock;
mod events;
mod json;
mod runs;
mod terminal;

use std::io::{self, Write};

use byok8s::proto::{Run, RunEvent};
use byok8s::{Error, FollowObserver, is_terminal, phase_name};
use jiff::tz::TimeZone;
use serde_json::Value;

use crate::cli::OutputFormat;
use events::{event_line, outcome_line};
use json::{event_json, run_json, submitted_json};
use runs::Viewpoint;
pub use terminal::visible;

/// Writes each result in the chosen format; advice and warnings go to standard error.
pub struct Printer {
    format: OutputFormat,
    view: Viewpoint,
    /// Where the last reconnection was to resume, so that one outage, however many attempts
    /// it takes, is reported once.
    resuming_after: Option<u64>,
}

impl Printer {
    /// A printer for `format`, with times shown in the system's time zone.
    pub fn new(format: OutputFormat) -> Self {
        let view = Viewpoint {
            zone: TimeZone::system(),
            now: jiff::Timestamp::now(),
        };
        Self {
            format,
            view,
            resuming_after: None,
        }
    }

    /// True when output is for people, so extra lines may be added.
    pub fn is_human(&self) -> bool {
        self.format == OutputFormat::Human
    }

    /// One run.
    pub fn run(&self, run: &Run) -> Result<(), Error> {
        match self.format {
            OutputFormat::Human => write_out(&self.view.run_block(run)),
            OutputFormat::Json => write_document(&run_json(run)),
        }
    }

    /// A list of runs.
    pub fn runs(&self, runs: &[Run]) -> Result<(), Error> {
        match self.format {
            OutputFormat::Human if runs.is_empty() => write_out("no runs\n"),
            OutputFormat::Human => write_out(&self.view.run_table(runs)),
            OutputFormat::Json => write_document(&runs.iter().map(run_json).collect()),
        }
    }

    /// A freshly submitted run.
    pub fn submitted(&self, run: &Run, existing: bool) -> Result<(), Error> {
        if self.format == OutputFormat::Json {
            return write_document(&submitted_json(run, existing));
        }
        let note = if existing {
            " (existing run for this idempotency key)"
        } else {
            ""
        };
        write_out(&format!("submitted run {}{note}\n", visible(&run.id)))
    }

    /// The run as a cancel request left it.
    pub fn cancelled(&self, run: &Run) -> Result<(), Error> {
        if self.format == OutputFormat::Json {
            return write_document(&run_json(run));
        }
        write_out(&format!("{}\n", visible(&cancel_text(run))))
    }

    /// How a followed run ended, as the line `watch` shows for its final phase, on standard
    /// error, for people following output that leaves it out.
    pub fn outcome(&self, run: &Run) {
        if self.is_human() {
            eprintln!("{}", outcome_line(run));
        }
    }

    /// What to say before a reconnection: once per position, since every attempt of one
    /// outage resumes from the same event.
    fn resume_notice(&mut self, after_seq: u64) -> Option<String> {
        if self.resuming_after.replace(after_seq) == Some(after_seq) {
            return None;
        }
        Some(format!(
            "lost the connection to byok8sd; reconnecting to resume after event {after_seq}"
        ))
    }

    /// One event: a line for people, or one compact JSON object per line.
    pub fn event(&self, event: &RunEvent) -> Result<(), Error> {
        let line = match self.format {
            OutputFormat::Human => event_line(event, &self.view.zone),
            OutputFormat::Json => event_json(event).map(|value| value.to_string()),
        };
        match line {
            Some(line) => write_out(&format!("{line}\n")),
            None => Ok(()),
        }
    }
}

impl FollowObserver for Printer {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), Error> {
        self.event(event)
    }

    fn on_resume(&mut self, after_seq: u64) {
        if let Some(line) = self.resume_notice(after_seq) {
            eprintln!("{line}");
        }
    }
}

fn cancel_text(run: &Run) -> String {
    let phase = phase_name(run.phase);
    match phase {
        "cancelled" => format!("run {}: cancelled", run.id),
        _ if is_terminal(run.phase) => format!("run {} had already finished: {phase}", run.id),
        _ => format!("run {}: {phase} (cancellation requested)", run.id),
    }
}

fn write_document(value: &Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other);
    write_out(&format!("{}\n", text.map_err(Error::Output)?))
}

fn write_out(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Output)
}

#[cfg(test)]
mod tests {
    use byok8s::proto::RunPhase;

    use super::*;

    fn run_in(phase: RunPhase) -> Run {
        Run {
            id: "run-1".into(),
            phase: phase as i32,
            ..Run::default()
        }
    }

    #[test]
    fn cancelling_a_live_run_reports_it_cancelled() {
        assert_eq!(
            cancel_text(&run_in(RunPhase::Cancelled)),
            "run run-1: cancelled"
        );
    }

    #[test]
    fn cancelling_a_finished_run_says_how_it_had_ended() {
        let text = cancel_text(&run_in(RunPhase::Succeeded));
        assert_eq!(text, "run run-1 had already finished: succeeded");
    }

    #[test]
    fn a_cancel_still_in_progress_shows_the_current_phase() {
        let text = cancel_text(&run_in(RunPhase::Running));
        assert_eq!(text, "run run-1: running (cancellation requested)");
    }

    #[test]
    fn one_outage_is_reported_once_however_many_attempts_it_takes() {
        let mut printer = Printer::new(OutputFormat::Human);
        let notices: Vec<_> = [0, 0, 0, 7, 7, 9]
            .into_iter()
            .filter_map(|after_seq| printer.resume_notice(after_seq))
            .collect();
        assert_eq!(notices.len(), 3, "{notices:?}");
        assert!(notices[1].ends_with("resume after event 7"), "{notices:?}");
    }
}
