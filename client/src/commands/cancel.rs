//! `byok8s cancel`: stop a run.

use byok8s::{Error, ExitCode};

use super::Session;
use crate::cli::CancelArgs;

/// Asks the daemon to cancel the run and prints where that left it.
pub async fn run(args: CancelArgs, session: &Session) -> Result<ExitCode, Error> {
    let client = session.connect()?;
    let run = client.cancel_run(&args.run, &args.reason).await?;
    session.printer.cancelled(&run)?;
    Ok(ExitCode::Success)
}
