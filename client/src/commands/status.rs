//! `byok8s status`: show one run.

use byok8s::{Error, ExitCode};

use super::Session;
use crate::cli::RunArgs;

/// Prints the run's current state.
pub async fn run(args: RunArgs, session: &Session) -> Result<ExitCode, Error> {
    let client = session.connect()?;
    let run = client.get_run(&args.run).await?;
    session.printer.run(&run)?;
    Ok(ExitCode::Success)
}
