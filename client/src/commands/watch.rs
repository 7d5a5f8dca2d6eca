//! `byok8s watch`: follow a run to its end and exit with its outcome.

use byok8s::{Client, Error, ExitCode, FollowRequest, follow};

use super::Session;
use crate::cli::WatchArgs;

/// Follows every event of the run.
pub async fn run(args: WatchArgs, session: &mut Session) -> Result<ExitCode, Error> {
    let client = session.connect()?;
    let request = FollowRequest {
        run_id: args.run,
        after_seq: args.after_seq,
        kinds: Vec::new(),
    };
    follow_to_outcome(&client, request, session).await
}

/// Prints the followed events and turns the run's final phase into the exit code.
pub async fn follow_to_outcome(
    client: &Client,
    request: FollowRequest,
    session: &mut Session,
) -> Result<ExitCode, Error> {
    let phase = follow(client, request, &mut session.printer).await?;
    Ok(ExitCode::for_phase(phase as i32))
}
