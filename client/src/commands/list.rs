//! `byok8s list`: the runs the caller may see, newest first.

use byok8s::proto::{ListRunsRequest, RunPhase};
use byok8s::{Error, ExitCode};

use super::Session;
use crate::cli::ListArgs;
use crate::label::label_map;

/// Prints the matching runs.
pub async fn run(args: ListArgs, session: &Session) -> Result<ExitCode, Error> {
    let request = ListRunsRequest {
        limit: args.limit.unwrap_or(0),
        phases: args
            .phases
            .into_iter()
            .map(|phase| RunPhase::from(phase) as i32)
            .collect(),
        labels: label_map(&args.labels),
    };
    let client = session.connect()?;
    let runs = client.list_runs(request).await?;
    session.printer.runs(&runs)?;
    Ok(ExitCode::Success)
}
