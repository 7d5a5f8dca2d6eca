//! Shared support for the end-to-end tests: the real byok8sd and byok8s binaries, real
//! Snakemake, and temporary directories that are cleaned up even when a test fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

pub mod cluster;
pub mod rbac;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test/ has a parent")
        .to_owned()
}

/// A binary of this workspace, built by `cargo build --workspace` beside the test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// The Snakemake the tests run: `BYOK8S_TEST_SNAKEMAKE`, or the README's `.venv`.
pub fn snakemake() -> PathBuf {
    let path = std::env::var_os("BYOK8S_TEST_SNAKEMAKE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/snakemake"));
    assert!(
        path.exists(),
        "Snakemake not found at {}: run test/run-tests.sh, which creates .venv, or set BYOK8S_TEST_SNAKEMAKE",
        path.display()
    );
    path
}

/// A byok8sd on 127.0.0.1 with its own data directory, stopped when dropped.
pub struct Daemon {
    child: Option<Child>,
    pub address: String,
    data: PathBuf,
    /// Where the daemon runs, when it is given its data directory relative to it.
    cwd: Option<PathBuf>,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Daemon {
    /// Starts a daemon on a free port with a fresh data directory inside `scratch`.
    pub fn start(scratch: &Scratch, extra_args: &[&str]) -> Daemon {
        Daemon::start_with_env(scratch, extra_args, &[])
    }

    /// Like [`Daemon::start`], with extra environment variables for the daemon.
    pub fn start_with_env(scratch: &Scratch, extra_args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let data = scratch.path().join("data");
        let extra_args = extra_args.iter().map(|a| a.to_string()).collect();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut daemon = Daemon {
            child: None,
            address: String::new(),
            data,
            cwd: None,
            extra_args,
            env,
        };
        daemon.launch();
        daemon
    }

    /// Like [`Daemon::start`], run from `scratch` and given its data directory as the relative
    /// path `data`.
    pub fn start_relative(scratch: &Scratch, extra_args: &[&str]) -> Daemon {
        let mut daemon = Daemon {
            child: None,
            address: String::new(),
            data: scratch.path().join("data"),
            cwd: Some(scratch.path().to_owned()),
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
        };
        daemon.launch();
        daemon
    }

    /// The daemon's command line, with everything but `--listen`.
    pub fn command(&self) -> Command {
        let mut command = Command::new(binary("byok8sd"));
        command
            .args(["--log-format", "json", "--cancel-grace-seconds", "5"])
            .arg("--snakemake")
            .arg(snakemake())
            .args(&self.extra_args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("RUST_LOG");
        match &self.cwd {
            Some(cwd) => command.current_dir(cwd).args(["--data-dir", "data"]),
            None => command.arg("--data-dir").arg(&self.data),
        };
        command
    }

    fn launch(&mut self) {
        // A restart listens where the previous daemon did, so that clients can reconnect.
        let listen = if self.address.is_empty() {
            "127.0.0.1:0"
        } else {
            &self.address
        };
        let mut child = self
            .command()
            .args(["--listen", listen])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start byok8sd");
        let stderr = child.stderr.take().expect("stderr is piped");
        self.child = Some(child);
        self.address = wait_for_listening(stderr);
    }

    /// The daemon's self-signed certificate, which clients trust.
    pub fn ca_cert(&self) -> PathBuf {
        self.data.join("tls/server.crt")
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// Stops the daemon gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        self.signal_and_wait(Signal::SIGTERM);
    }

    /// Kills the daemon outright, as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        self.signal_and_wait(Signal::SIGKILL);
    }

    /// Starts the daemon again on the same data directory and address.
    pub fn restart(&mut self) {
        self.launch();
    }

    fn signal_and_wait(&mut self, signal: Signal) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
        let _ = kill(pid, signal);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut hung = false;
        while child.try_wait().expect("poll byok8sd").is_none() {
            if Instant::now() > deadline && !hung {
                hung = true;
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // A daemon that ignores SIGTERM is a bug; during a failing test's cleanup, one panic
        // is enough.
        if hung && !std::thread::panicking() {
            panic!("byok8sd did not exit within 30s of {signal}");
        }
    }

    /// The real client, pointed at this daemon and trusting its certificate.
    pub fn client(&self, dir: &Path) -> Command {
        let mut command = Command::new(binary("byok8s"));
        command
            .current_dir(dir)
            .env("BYOK8S_SERVER", self.url())
            .env("BYOK8S_CA_CERT", self.ca_cert())
            .env_remove("BYOK8S_OUTPUT")
            .stdin(Stdio::null());
        command
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        kill_processes_under(&self.data);
    }
}

/// Reads the daemon's JSON log until it says where it listens; keeps draining it afterwards
/// so the daemon never blocks on a full pipe.
fn wait_for_listening(stderr: std::process::ChildStderr) -> String {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if std::env::var_os("BYOK8S_TEST_DAEMON_LOG").is_some() {
                eprintln!("byok8sd: {line}");
            }
            let Ok(record) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if !sent && record["message"] == "listening" {
                let _ = sender.send(record["addr"].as_str().unwrap_or_default().to_owned());
                sent = true;
            }
        }
    });
    receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("byok8sd did not report listening within 30s")
}

/// Kills every process whose working directory is below `dir`: Snakemake runs a daemon
/// started, which a killed daemon could not stop itself.
pub fn kill_processes_under(dir: &Path) {
    for pid in processes_under(dir) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Pids of processes whose working directory is below `dir`.
pub fn processes_under(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
        })
        .collect()
}

/// A temporary directory for one test, removed when dropped.
pub struct Scratch {
    dir: TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("byok8s-test-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies `test/workflows/<name>` into the scratch directory and returns the copy.
    pub fn workflow(&self, name: &str) -> PathBuf {
        let source = repo_root().join("test/workflows").join(name);
        let target = self.path().join("workflows").join(name);
        copy_tree(&source, &target);
        target
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

fn copy_tree(source: &Path, target: &Path) {
    std::fs::create_dir_all(target).expect("create workflow copy");
    for entry in std::fs::read_dir(source).expect("read workflow dir") {
        let entry = entry.expect("dir entry");
        let to = target.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy workflow file");
        }
    }
}

/// A finished client invocation.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Each stdout line parsed as JSON (for `--output json`).
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON: {}: {e}", self.stdout))
    }
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a client command to completion, killing it after `timeout`.
pub fn run(command: &mut Command, timeout: Duration) -> Outcome {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start byok8s");
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(timeout) {
        Ok(output) => outcome(output.expect("byok8s output")),
        Err(_) => {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            panic!("byok8s did not finish within {timeout:?}");
        }
    }
}

fn outcome(output: Output) -> Outcome {
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Polls `check` until it returns a value or `timeout` passes.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A bound that only a hung run reaches: runs of the test workflows take seconds locally and
/// under two minutes on the test cluster, even six at once on two cores.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// A client's JSON event lines, with the questions tests ask of them.
pub struct Events(pub Vec<Value>);

impl Events {
    pub fn of(outcome: &Outcome) -> Events {
        Events(
            outcome
                .json_lines()
                .into_iter()
                .filter(|e| e.get("seq").is_some())
                .collect(),
        )
    }

    pub fn kind(&self, kind: &str) -> Vec<&Value> {
        self.0.iter().filter(|e| e["kind"] == kind).collect()
    }

    pub fn run_id(&self) -> String {
        self.0
            .first()
            .and_then(|e| e["run_id"].as_str())
            .expect("at least one event")
            .to_owned()
    }

    pub fn phases(&self) -> Vec<String> {
        self.kind("phase")
            .iter()
            .map(|e| e["phase"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub fn seqs(&self) -> Vec<u64> {
        self.0
            .iter()
            .map(|e| e["seq"].as_u64().expect("seq is a number"))
            .collect()
    }

    /// Job ids of events of `kind`, sorted.
    pub fn jobids(&self, kind: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .kind(kind)
            .iter()
            .map(|e| e["jobid"].as_u64().expect("jobid"))
            .collect();
        ids.sort_unstable();
        ids
    }

    pub fn last_progress(&self) -> (u64, u64) {
        let last = self
            .kind("progress")
            .last()
            .copied()
            .cloned()
            .expect("a progress event");
        (
            last["done"].as_u64().expect("done"),
            last["total"].as_u64().expect("total"),
        )
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.kind("log")
            .iter()
            .map(|e| e["line"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// `byok8s --output json submit ARGS --follow` in `dir`, to the end of the run.
pub fn submit_and_follow(daemon: &Daemon, dir: &Path, args: &[&str]) -> Outcome {
    let mut command = daemon.client(dir);
    command
        .args(["--output", "json", "submit"])
        .args(args)
        .arg("--follow");
    run(&mut command, RUN_TIMEOUT)
}

/// `byok8s --output json submit ARGS` in `dir`: the new run's id.
pub fn submit(daemon: &Daemon, dir: &Path, args: &[&str]) -> String {
    let mut command = daemon.client(dir);
    command.args(["--output", "json", "submit"]).args(args);
    let outcome = run(&mut command, Duration::from_secs(60));
    assert_eq!(outcome.code, 0, "{outcome:?}");
    outcome.json()["id"].as_str().expect("run id").to_owned()
}

/// `byok8s --output json status RUN`: the run object.
pub fn status(daemon: &Daemon, dir: &Path, run_id: &str) -> Value {
    let mut command = daemon.client(dir);
    command.args(["--output", "json", "status", run_id]);
    let outcome = run(&mut command, Duration::from_secs(30));
    assert_eq!(outcome.code, 0, "{outcome:?}");
    outcome.json()
}

/// `byok8s --output json watch RUN --after-seq N` to the end of the run.
pub fn watch(daemon: &Daemon, dir: &Path, run_id: &str, after_seq: u64) -> Outcome {
    let mut command = daemon.client(dir);
    command.args([
        "--output",
        "json",
        "watch",
        run_id,
        "--after-seq",
        &after_seq.to_string(),
    ]);
    run(&mut command, RUN_TIMEOUT)
}

/// A `byok8s --output json watch` running in the background, read line by line as it prints.
pub struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<Value>,
}

impl Follower {
    pub fn start(daemon: &Daemon, dir: &Path, run_id: &str) -> Follower {
        let mut command = daemon.client(dir);
        command.args(["--output", "json", "watch", run_id]);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start byok8s watch");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Follower {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Submits `args` from `dir` and follows the new run until its first job has started, to
    /// catch a run in the middle: the run's id and its follower.
    pub fn submit_under_way(daemon: &Daemon, dir: &Path, args: &[&str]) -> (String, Follower) {
        let run_id = submit(daemon, dir, args);
        let mut follower = Follower::start(daemon, dir, &run_id);
        follower.wait_for("job_started");
        (run_id, follower)
    }

    /// Reads events until one of `kind` arrives; returns it.
    pub fn wait_for(&mut self, kind: &str) -> Value {
        let deadline = Instant::now() + RUN_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {kind} event within {RUN_TIMEOUT:?}"));
            let event: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
            self.seen.push(event.clone());
            if event["kind"] == kind {
                return event;
            }
        }
    }

    /// Waits for the watch to end; returns its exit code and every event it printed.
    pub fn finish(mut self) -> (i32, Events) {
        let deadline = Instant::now() + RUN_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll byok8s watch") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "byok8s watch did not end within {RUN_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}")),
            );
        }
        (
            status.code().unwrap_or(-1),
            Events(std::mem::take(&mut self.seen)),
        )
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
