//! Turning a Snakemake process's output streams into run events, line by line.

use byok8s_proto::v1::LogStream;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use super::EventSink;
use super::plugin::{self, Message};

/// Longer lines are split into pieces of this size, so one runaway line cannot exhaust memory.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// What a stream said about how the run went.
#[derive(Debug, Default)]
pub struct Report {
    /// The last workflow-level error the logger plugin reported.
    pub error: Option<String>,
}

/// Reads `stream` to its end, emitting plugin events as run events and every other line as a
/// log line from `source`.
///
/// A rule's shell command shares Snakemake's stdout, so it could print a line that looks like
/// a plugin event; it can only mislead the events of its own run.
pub async fn forward(stream: impl AsyncRead + Unpin, kind: LogStream, sink: EventSink) -> Report {
    let mut reader = BufReader::new(stream);
    let mut report = Report::default();
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buffer)
            .await
        {
            Ok(0) => return report,
            Ok(_) => handle(&buffer, kind, &sink, &mut report).await,
            Err(error) => {
                tracing::warn!(error = %error, "reading Snakemake's output failed");
                return report;
            }
        }
    }
}

async fn handle(bytes: &[u8], kind: LogStream, sink: &EventSink, report: &mut Report) {
    let text = String::from_utf8_lossy(bytes);
    let line = text.trim_end_matches(['\n', '\r']);
    match plugin::parse(line) {
        Some(Message::Event(event)) => sink.emit(event).await,
        Some(Message::Error(reason)) => report.error = Some(reason),
        Some(Message::Ignored) => {}
        None => sink.log("snakemake", kind, line.to_owned()).await,
    }
}
