//! Running one instance of a container: bwrap in its own process group, stdout and stderr
//! into the log, and the stop sequence SIGTERM, grace period, SIGKILL.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::env::Env;
use super::sandbox::{BWRAP, Sandbox};
use super::{Groups, Stop, signals};
use crate::logs::{LogFiles, LogWriter};

/// How long log copying may lag behind the process's exit before it is abandoned.
const LOG_DRAIN: Duration = Duration::from_secs(2);

/// Everything needed to start a container instance.
pub struct Launch {
    pub name: String,
    pub argv: Vec<String>,
    pub env: Env,
    pub sandbox: Sandbox,
    pub logs: LogFiles,
}

/// How a container instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: i32,
    pub oom_killed: bool,
    /// The kubelet stopped it (pod deletion); its result no longer decides the pod's phase.
    pub stopped: bool,
}

impl Exit {
    pub fn reason(&self) -> &'static str {
        match (self.oom_killed, self.code) {
            (true, _) => "OOMKilled",
            (false, 0) => "Completed",
            _ => "Error",
        }
    }
}

/// Runs the instance until it exits or `stop` asks it to end; `started` is called once the
/// process exists, so the pod never reports a container running before it is.
pub async fn run(
    launch: Launch,
    groups: &Arc<Groups>,
    mut stop: watch::Receiver<Stop>,
    started: impl FnOnce(),
) -> std::io::Result<Exit> {
    let writer = Arc::new(LogWriter::create(&launch.logs).await?);
    let mut child = Command::new(BWRAP)
        .args(launch.sandbox.args(&launch.argv))
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let group = child.id().map(|id| id as i32).unwrap_or_default();
    groups.started(&launch.name, group);
    started();
    let copies = [
        tokio::spawn(copy(child.stdout.take(), "stdout", writer.clone())),
        tokio::spawn(copy(child.stderr.take(), "stderr", writer)),
    ];

    let (status, stopped) = wait(&mut child, group, &mut stop).await?;
    for copy in copies {
        let _ = tokio::time::timeout(LOG_DRAIN, copy).await;
    }
    tokio::fs::write(&launch.logs.done, b"").await?;
    let oom_killed = groups.finished(&launch.name);
    let code = if oom_killed { 137 } else { exit_code(status) };
    Ok(Exit {
        code,
        oom_killed,
        stopped,
    })
}

async fn wait(
    child: &mut Child,
    group: i32,
    stop: &mut watch::Receiver<Stop>,
) -> std::io::Result<(ExitStatus, bool)> {
    loop {
        let requested = *stop.borrow_and_update();
        if let Stop::Terminate { grace } = requested {
            return Ok((terminate(child, group, grace).await?, true));
        }
        tokio::select! {
            status = child.wait() => return Ok((status?, false)),
            changed = stop.changed() => {
                if changed.is_err() {
                    // The pod's controller is gone (shutdown): nothing may survive.
                    return Ok((terminate(child, group, Duration::ZERO).await?, true));
                }
            }
        }
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL for whatever is left.
async fn terminate(child: &mut Child, group: i32, grace: Duration) -> std::io::Result<ExitStatus> {
    if !grace.is_zero() {
        signals::terminate(group);
        if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
            signals::kill_group(group);
            return status;
        }
    }
    signals::kill_group(group);
    child.wait().await
}

fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

async fn copy(stream: Option<impl AsyncRead + Unpin>, name: &str, writer: Arc<LogWriter>) {
    let Some(stream) = stream else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let complete = line.last() == Some(&b'\n');
                let content = if complete {
                    &line[..line.len() - 1]
                } else {
                    &line[..]
                };
                if let Err(error) = writer.write(name, content, complete).await {
                    tracing::warn!(%error, "cannot write container log");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_reasons_follow_the_kubelet() {
        let exit = |code, oom_killed| Exit {
            code,
            oom_killed,
            stopped: false,
        };
        assert_eq!(exit(0, false).reason(), "Completed");
        assert_eq!(exit(2, false).reason(), "Error");
        assert_eq!(exit(137, true).reason(), "OOMKilled");
    }

    #[test]
    fn signals_become_128_plus_their_number() {
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
    }
}
