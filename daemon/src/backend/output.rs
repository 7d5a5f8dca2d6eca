//! Turning Snakemake's output into run events, line by line: logger plugin lines become
//! events, every other line a log line.

use byok8s_proto::v1::{LogLine, LogStream, run_event::Kind};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use super::EventSink;
use super::plugin::{self, Message};
use crate::store::LogCursor;

/// Longer lines are split into pieces of this size, so one runaway line cannot exhaust memory.
pub const MAX_LINE_BYTES: u64 = 64 * 1024;

/// Where lines come from, and what they said about how the run went.
///
/// A rule's shell command shares Snakemake's output, so it could print a line that looks like
/// a plugin event; it can only mislead the events of its own run.
#[derive(Debug)]
pub struct Lines {
    source: String,
    pod: String,
    stream: LogStream,
    /// Whether plugin lines are read as events (Snakemake's own output) or shown as they are.
    plugin_events: bool,
    /// The last workflow-level error the logger plugin reported.
    pub error: Option<String>,
}

impl Lines {
    /// Snakemake's own output on `stream`: plugin lines are events.
    pub fn snakemake(stream: LogStream) -> Lines {
        Lines {
            source: "snakemake".into(),
            pod: String::new(),
            stream,
            plugin_events: true,
            error: None,
        }
    }

    /// Output of a pod's container, labelled with its source (a rule, or the driver).
    pub fn pod(source: &str, pod: &str, plugin_events: bool) -> Lines {
        Lines {
            source: source.to_owned(),
            pod: pod.to_owned(),
            // A container's log holds both of its streams, in the order written.
            stream: LogStream::Combined,
            plugin_events,
            error: None,
        }
    }

    /// Records one line (without its line break).
    pub async fn handle(&mut self, line: &str, sink: &EventSink) {
        for event in self.events(line) {
            sink.emit(event).await;
        }
    }

    /// Records one line read from a log, with how far into that log it was.
    pub async fn handle_at(&mut self, line: &str, sink: &EventSink, cursor: LogCursor) {
        for event in self.events(line) {
            sink.emit_at(event, cursor.clone()).await;
        }
    }

    /// The events a line becomes: a log line, a plugin event, or the start of someone else's
    /// line followed by a plugin event.
    fn events(&mut self, line: &str) -> Vec<Kind> {
        let found = self.plugin_events.then(|| plugin::split(line)).flatten();
        let Some((before, message)) = found else {
            return vec![self.log_line(line)];
        };
        let mut events = Vec::new();
        if !before.is_empty() {
            events.push(self.log_line(before));
        }
        match message {
            Message::Event(event) => events.push(event),
            Message::Error(reason) => self.error = Some(reason),
            Message::Ignored => {}
        }
        events
    }

    fn log_line(&self, line: &str) -> Kind {
        Kind::Log(LogLine {
            source: self.source.clone(),
            line: line.to_owned(),
            stream: self.stream as i32,
            pod: self.pod.clone(),
        })
    }
}

/// Reads `stream` to its end through `lines`.
pub async fn forward(stream: impl AsyncRead + Unpin, mut lines: Lines, sink: EventSink) -> Lines {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buffer)
            .await
        {
            Ok(0) => return lines,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buffer);
                lines
                    .handle(text.trim_end_matches(['\n', '\r']), &sink)
                    .await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "reading Snakemake's output failed");
                return lines;
            }
        }
    }
}
