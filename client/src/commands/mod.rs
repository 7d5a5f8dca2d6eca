//! The commands of `byok8s`, and the session they share.

mod cancel;
mod list;
mod logs;
mod status;
mod submit;
mod watch;

use byok8s::{Client, ConnectOptions, Error, ExitCode, ServerUrl, connect};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::render::Printer;

/// What every command needs: where the daemon is and how to print.
pub struct Session {
    options: ConnectOptions,
    printer: Printer,
}

impl Session {
    fn new(global: GlobalArgs) -> Result<Self, Error> {
        let mut options = ConnectOptions::new(ServerUrl::parse(&global.server)?);
        options.ca_cert = global.ca_cert;
        Ok(Self {
            options,
            printer: Printer::new(global.output),
        })
    }

    /// Prepares the connection to the daemon; commands call this only once their local
    /// inputs are checked.
    fn connect(&self) -> Result<Client, Error> {
        connect(&self.options)
    }
}

/// Runs the command the command line names and returns how the process should exit.
pub async fn run(cli: Cli) -> Result<ExitCode, Error> {
    let mut session = Session::new(cli.global)?;
    match cli.command {
        Command::Submit(args) => submit::run(args, &mut session).await,
        Command::Status(args) => status::run(args, &session).await,
        Command::List(args) => list::run(args, &session).await,
        Command::Watch(args) => watch::run(args, &mut session).await,
        Command::Logs(args) => logs::run(args, &mut session).await,
        Command::Cancel(args) => cancel::run(args, &session).await,
    }
}
