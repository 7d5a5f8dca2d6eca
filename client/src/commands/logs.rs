//! `byok8s logs`: a run's log lines, stored or followed.

use byok8s::proto::{EventKind, WatchRunRequest};
use byok8s::{Client, Error, ExitCode, FollowRequest};

use super::Session;
use super::watch::follow_to_outcome;
use crate::cli::LogsArgs;

/// Prints the stored lines and exits 0, or with `--follow` follows the run and exits with
/// its outcome like `watch`.
pub async fn run(args: LogsArgs, session: &mut Session) -> Result<ExitCode, Error> {
    let client = session.connect()?;
    if args.follow {
        let kinds = vec![EventKind::Log];
        let request = FollowRequest {
            run_id: args.run,
            after_seq: 0,
            kinds,
        };
        return follow_to_outcome(&client, request, session).await;
    }
    print_stored(&client, args.run, session).await?;
    Ok(ExitCode::Success)
}

async fn print_stored(client: &Client, run_id: String, session: &Session) -> Result<(), Error> {
    let kinds = vec![EventKind::Log as i32];
    let request = WatchRunRequest {
        run_id,
        after_seq: 0,
        follow: false,
        kinds,
    };
    let mut stream = client.watch_run(request).await?;
    let server = client.server();
    while let Some(event) = stream
        .message()
        .await
        .map_err(|s| Error::from_status(s, server))?
    {
        session.printer.event(&event)?;
    }
    Ok(())
}
