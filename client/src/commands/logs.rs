//! `byok8s logs`: a run's log lines, stored or followed.

use byok8s::proto::{EventKind, Run, WatchRunRequest};
use byok8s::{Client, Error, ExitCode, FollowRequest};

use super::Session;
use super::watch::{Followed, follow_to_end};
use crate::cli::LogsArgs;

/// Prints the stored lines and exits 0, or with `--follow` follows the run and exits with
/// its outcome like `watch`.
pub async fn run(args: LogsArgs, session: &mut Session) -> Result<ExitCode, Error> {
    let client = session.connect()?;
    if args.follow {
        return follow_logs(&client, args.run, args.after_seq, session).await;
    }
    print_stored(&client, args.run, args.after_seq, session).await?;
    Ok(ExitCode::Success)
}

/// Follows only log lines; since those do not say how the run ended, people are told that
/// on standard error at the end.
async fn follow_logs(
    client: &Client,
    run_id: String,
    after_seq: u64,
    session: &mut Session,
) -> Result<ExitCode, Error> {
    let request = FollowRequest {
        run_id: run_id.clone(),
        after_seq,
        kinds: vec![EventKind::Log],
    };
    let followed = follow_to_end(client, request, session, "logs -f").await?;
    if let Followed::Finished(phase) = followed
        && session.printer.is_human()
    {
        // The run as stored carries the reason; without it, the phase alone still tells.
        let run = client.get_run(&run_id).await.unwrap_or_else(|_| Run {
            id: run_id,
            phase: phase as i32,
            ..Run::default()
        });
        session.printer.outcome(&run);
    }
    Ok(followed.exit_code())
}

async fn print_stored(
    client: &Client,
    run_id: String,
    after_seq: u64,
    session: &Session,
) -> Result<(), Error> {
    let kinds = vec![EventKind::Log as i32];
    let request = WatchRunRequest {
        run_id,
        after_seq,
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
