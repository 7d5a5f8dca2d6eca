//! `byok8s watch`: follow a run to its end and exit with its outcome.

use byok8s::proto::{RunEvent, RunPhase};
use byok8s::{Client, Error, ExitCode, FollowObserver, FollowRequest, follow};

use super::Session;
use crate::cli::WatchArgs;
use crate::render::Printer;

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

/// Prints the followed events and turns how following ended into the exit code.
pub async fn follow_to_outcome(
    client: &Client,
    request: FollowRequest,
    session: &mut Session,
) -> Result<ExitCode, Error> {
    follow_to_end(client, request, session, "watch")
        .await
        .map(|followed| followed.exit_code())
}

/// How following a run ended.
pub enum Followed {
    /// The run finished in this phase.
    Finished(RunPhase),
    /// The person pressed Ctrl-C; the run goes on.
    Interrupted,
}

impl Followed {
    /// The code `byok8s` exits with after following ended this way.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Finished(phase) => ExitCode::for_phase(*phase as i32),
            Self::Interrupted => ExitCode::Interrupted,
        }
    }
}

/// Prints the followed events until the run finishes or Ctrl-C stops following, which leaves
/// the run alone and tells on standard error how to resume (with the `byok8s` command
/// `resume`, such as `watch`) or cancel it.
pub async fn follow_to_end(
    client: &Client,
    request: FollowRequest,
    session: &mut Session,
    resume: &str,
) -> Result<Followed, Error> {
    let run_id = request.run_id.clone();
    let mut position = Position {
        after_seq: request.after_seq,
        printer: &mut session.printer,
    };
    // Dropping the follow at Ctrl-C happens between events, so none is printed in part.
    let finished = tokio::select! {
        phase = follow(client, request, &mut position) => Some(phase?),
        () = ctrl_c() => None,
    };
    let Some(phase) = finished else {
        let after_seq = position.after_seq;
        eprintln!("stopped following run {run_id} after event {after_seq}; the run goes on");
        eprintln!(
            "hint: resume with `byok8s {resume} {run_id} --after-seq {after_seq}`, or stop the \
             run with `byok8s cancel {run_id}`"
        );
        return Ok(Followed::Interrupted);
    };
    Ok(Followed::Finished(phase))
}

/// Resolves at Ctrl-C; never, when the signal cannot be caught, since SIGINT then keeps its
/// default of ending the process.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Hands events to the printer and remembers the last one, to say where to resume.
struct Position<'a> {
    after_seq: u64,
    printer: &'a mut Printer,
}

impl FollowObserver for Position<'_> {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), Error> {
        self.printer.on_event(event)?;
        self.after_seq = event.seq;
        Ok(())
    }

    fn on_resume(&mut self, after_seq: u64) {
        self.after_seq = after_seq;
        self.printer.on_resume(after_seq);
    }
}
