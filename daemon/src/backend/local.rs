//! The local backend: one Snakemake process per run, in the run's own directory.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use byok8s_proto::v1::{LogLine, LogStream, RunPhase, run_event::Kind};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::output::{self, Lines};
use super::{EventSink, Outcome, StopSignal, plugin, stop_requested};
use crate::bundle::{self, BundleLimits};
use crate::run::RunRecord;

/// How long output readers may take to finish after the process group is gone.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the local backend.
#[derive(Clone, Debug)]
pub struct LocalBackend {
    pub snakemake: PathBuf,
    pub cores: usize,
    pub runs_dir: PathBuf,
    /// Holds the logger plugin package; prepended to Snakemake's PYTHONPATH.
    pub python_path: PathBuf,
    /// How long Snakemake gets to clean up after SIGINT before the run's processes are killed.
    pub grace: Duration,
    pub bundle_limits: BundleLimits,
}

/// Where a run's files live: `runs/<id>/` holds the stored bundle and config, `work/` the
/// unpacked bundle, which is also Snakemake's working directory.
pub fn run_dir(runs_dir: &Path, run_id: &str) -> PathBuf {
    runs_dir.join(run_id)
}

impl LocalBackend {
    /// Writes the logger plugin where Snakemake will find it.
    pub fn install_plugin(&self) -> std::io::Result<()> {
        let package = self.python_path.join(plugin::PACKAGE);
        std::fs::create_dir_all(&package)?;
        std::fs::write(package.join("__init__.py"), plugin::SOURCE)
    }

    pub async fn execute(&self, run: &RunRecord, sink: EventSink, mut stop: StopSignal) -> Outcome {
        let dir = run_dir(&self.runs_dir, &run.id);
        let prepared = tokio::task::spawn_blocking({
            let (dir, limits, config) = (dir.clone(), self.bundle_limits, run.spec.config.clone());
            move || prepare(&dir, limits, &config)
        });
        match prepared.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                let error = crate::error::chain(&*error);
                return refuse(&sink, format!("could not prepare the run: {error}")).await;
            }
            Err(error) => {
                return refuse(&sink, format!("could not prepare the run: {error}")).await;
            }
        }

        let (mut child, reader) = match self.spawn(run, &dir, &sink) {
            Ok(started) => started,
            Err(error) => {
                let reason = format!("could not start {}: {error}", self.snakemake.display());
                return refuse(&sink, reason).await;
            }
        };
        let Some(pid) = child.id() else {
            return refuse(&sink, "Snakemake exited before it could be watched".into()).await;
        };
        sink.set_detail("pid", &pid.to_string()).await;
        sink.set_detail("workdir", &dir.join("work").display().to_string())
            .await;
        tracing::info!(pid, "snakemake started");

        let stopped = tokio::select! {
            status = child.wait() => Err(status),
            request = stop_requested(&mut stop) => Ok(request),
        };
        let status = match &stopped {
            Err(status) => status.as_ref().ok().copied(),
            Ok(_) => self.interrupt(&mut child, pid).await,
        };
        // Rule processes Snakemake left behind (after a crash, say) go with their group.
        signal_group(pid, Signal::SIGKILL);
        let error = drain(reader).await;

        match stopped {
            Ok(request) => request.outcome(),
            Err(_) => judge(status, error),
        }
    }

    /// Starts Snakemake with its stdout and stderr on one pipe, read by a task of its own.
    ///
    /// One pipe keeps lines in the order they were written, as a terminal shows them: the
    /// logger plugin's events on stdout stay next to Snakemake's messages about the same jobs
    /// on stderr.
    fn spawn(
        &self,
        run: &RunRecord,
        dir: &Path,
        sink: &EventSink,
    ) -> std::io::Result<(Child, Reader)> {
        let (reader, writer) = std::io::pipe()?;
        let mut command = self.command(run, dir);
        command.stdout(writer.try_clone()?).stderr(writer);
        let child = command.spawn()?;
        // The command holds the pipe's writing end; it must close here, or the output would
        // never end.
        drop(command);
        let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into())?;
        let lines = Lines::snakemake(LogStream::Combined);
        Ok((
            child,
            tokio::spawn(output::forward(reader, lines, sink.clone())),
        ))
    }

    fn command(&self, run: &RunRecord, dir: &Path) -> Command {
        let work = dir.join("work");
        let mut command = Command::new(&self.snakemake);
        command
            .arg("--snakefile")
            .arg(work.join(&run.spec.snakefile))
            .arg("--directory")
            .arg(&work)
            .arg("--configfile")
            .arg(dir.join("config.json"))
            .args(["--cores", &self.cores.to_string()])
            .args(["--logger", "byok8s", "--nocolor", "--printshellcmds"])
            // A profile in the bundle (profiles/default/) could set any option, such as another
            // executor or more cores than the daemon grants; the daemon's settings stand.
            .args(["--workflow-profile", "none"]);
        if run.spec.dry_run {
            command.arg("--dry-run");
        }
        if run.spec.force {
            command.arg("--forceall");
        }
        // List options such as --configfile swallow following words, so targets go after `--`.
        command.arg("--").args(&run.spec.targets);

        command
            .current_dir(&work)
            .env("PYTHONPATH", python_path(&self.python_path))
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            // Its own process group, so that cancelling reaches every rule process too.
            .process_group(0)
            // Should the daemon stop before the run's task (a shutdown that timed out),
            // Snakemake goes with it rather than running on unrecorded.
            .kill_on_drop(true);
        command
    }

    /// Asks Snakemake to stop with SIGINT (it then deletes running jobs; on SIGTERM it would
    /// wait for them), and kills the group if it has not exited within the grace period.
    async fn interrupt(&self, child: &mut Child, pid: u32) -> Option<ExitStatus> {
        signal_group(pid, Signal::SIGINT);
        match tokio::time::timeout(self.grace, child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                tracing::warn!(pid, "snakemake ignored SIGINT; killing its process group");
                signal_group(pid, Signal::SIGKILL);
                child.wait().await.ok()
            }
        }
    }
}

/// Unpacks the stored bundle and writes the params as Snakemake's config file.
fn prepare(
    dir: &Path,
    limits: BundleLimits,
    config: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let work = dir.join("work");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let archive = bundle::read_file(&dir.join("bundle.tar.gz"))?;
    bundle::unpack(&archive, &work, limits)?;
    std::fs::write(dir.join("config.json"), serde_json::to_vec(config)?)?;
    Ok(())
}

fn python_path(plugin_dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![plugin_dir.to_path_buf()];
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| plugin_dir.as_os_str().to_owned())
}

type Reader = tokio::task::JoinHandle<Lines>;

/// Waits for the output to end; still open after the timeout means a process outside the group
/// holds the pipe, and its remaining output is given up.
async fn drain(reader: Reader) -> Option<String> {
    match tokio::time::timeout(DRAIN_TIMEOUT, reader).await {
        Ok(lines) => lines.ok().and_then(|lines| lines.error),
        Err(_) => {
            tracing::warn!("Snakemake's output did not close; later lines are lost");
            None
        }
    }
}

fn signal_group(pid: u32, signal: Signal) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // ESRCH just means the group is already gone.
    let _ = killpg(Pid::from_raw(pid), signal);
}

fn judge(status: Option<ExitStatus>, error: Option<String>) -> Outcome {
    if status.is_some_and(|s| s.success()) {
        return Outcome::new(RunPhase::Succeeded, "");
    }
    let reason = error.unwrap_or_else(|| match status {
        Some(status) => format!("snakemake {}", describe(status)),
        None => "lost track of the snakemake process".to_owned(),
    });
    Outcome::new(RunPhase::Failed, reason)
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "ended".to_owned(),
    }
}

/// Fails a run that never got to Snakemake, saying why in its log too, where a user reading
/// only the logs would otherwise see nothing at all.
async fn refuse(sink: &EventSink, reason: String) -> Outcome {
    let line = LogLine {
        source: "byok8sd".into(),
        line: reason.clone(),
        stream: LogStream::Daemon as i32,
        pod: String::new(),
    };
    sink.emit(Kind::Log(line)).await;
    Outcome::new(RunPhase::Failed, reason)
}

/// Kills what is left of a run whose daemon died: the process group of its Snakemake, if that
/// process still runs in the run's directory (so a reused pid is never touched).
pub fn kill_leftovers(runs_dir: &Path, run: &RunRecord) {
    let Some(pid) = run.details.get("pid").and_then(|p| p.parse::<u32>().ok()) else {
        return;
    };
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"));
    let work = run_dir(runs_dir, &run.id).join("work");
    if cwd.is_ok_and(|cwd| cwd == work) {
        tracing::warn!(run_id = %run.id, pid, "killing a Snakemake left over from before the restart");
        signal_group(pid, Signal::SIGKILL);
    }
}
