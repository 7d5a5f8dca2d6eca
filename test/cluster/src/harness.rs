//! A client for tests: starts `byok8s-test-cluster`, reads where it listens, drives the
//! `/_harness/` endpoints, and stops it (and every pod process) when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

pub use crate::faults::{Fault, RecordedRequest};

/// Environment variable naming the binary when it is not next to the test executable.
pub const BINARY_ENV: &str = "BYOK8S_TEST_CLUSTER_BIN";
const BINARY_NAME: &str = "byok8s-test-cluster";
/// How long a stopped cluster gets to kill its pods before it is killed itself.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "cannot find the {BINARY_NAME} binary; build it (cargo build -p byok8s-test-cluster) or set {BINARY_ENV}"
    )]
    NoBinary,
    #[error("starting {0}")]
    Spawn(PathBuf, #[source] std::io::Error),
    #[error("the test cluster did not announce where it listens: {0} (its log: {1})")]
    Announce(String, PathBuf),
    #[error("reading {0}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("talking to the test cluster: {0}")]
    Transport(String),
    #[error("the test cluster answered {code}: {body}")]
    Status { code: u16, body: String },
}

/// How to start the cluster.
#[derive(Debug, Clone, Default)]
pub struct HarnessOptions {
    /// The binary; by default `$BYOK8S_TEST_CLUSTER_BIN` or the one next to the test binary.
    pub binary: Option<PathBuf>,
    pub runner_paths: Vec<PathBuf>,
    /// Directories visible read-only in pods at their own paths.
    pub runner_dirs: Vec<PathBuf>,
    pub runner_env: Vec<(String, String)>,
    pub grace_cap_seconds: Option<u64>,
    /// Extra `BYOK8S_TEST_CLUSTER_LOG` filter, e.g. `debug`.
    pub log_filter: Option<String>,
}

/// A running test cluster; dropping it stops the cluster and every pod process.
pub struct Harness {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    address: SocketAddr,
    kubeconfig: PathBuf,
    state_dir: PathBuf,
    token: String,
    ca_pem: String,
}

impl Harness {
    /// Starts the cluster with its state (kubeconfig, CA, pods, `cluster.log`) in `state_dir`.
    pub async fn start(state_dir: &Path, options: HarnessOptions) -> Result<Harness, HarnessError> {
        let binary = find_binary(options.binary.clone())?;
        let mut child = spawn(&binary, state_dir, &options)?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let log = state_dir.join("cluster.log");
        let announce = tokio::task::spawn_blocking(move || read_announcement(stdout));
        let (stdout, line) = match announce.await {
            Ok(Ok(read)) => read,
            Ok(Err(why)) => return Err(HarnessError::Announce(why, log)),
            Err(join) => return Err(HarnessError::Announce(join.to_string(), log)),
        };
        let announced: Value = serde_json::from_str(&line)
            .map_err(|e| HarnessError::Announce(e.to_string(), log.clone()))?;
        let address = announced["listening"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| HarnessError::Announce(line.clone(), log.clone()))?;
        let kubeconfig = PathBuf::from(announced["kubeconfig"].as_str().unwrap_or_default());
        let text = std::fs::read_to_string(&kubeconfig)
            .map_err(|e| HarnessError::Read(kubeconfig.clone(), e))?;
        let ca_path = state_dir.join("ca.crt");
        let ca_pem =
            std::fs::read_to_string(&ca_path).map_err(|e| HarnessError::Read(ca_path, e))?;
        let token = token_of(&text)
            .ok_or_else(|| HarnessError::Announce("no token in kubeconfig".into(), log))?;
        Ok(Harness {
            child,
            _stdout: stdout,
            address,
            kubeconfig,
            state_dir: state_dir.into(),
            token,
            ca_pem,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Makes the next `fault.count` matching requests fail with `fault.code`.
    pub async fn inject(&self, fault: &Fault) -> Result<(), HarnessError> {
        let body = serde_json::to_value(fault).expect("faults serialize");
        self.call(Method::POST, "/_harness/faults", Some(body))
            .await
            .map(drop)
    }

    /// Ends every open watch stream.
    pub async fn close_watches(&self) -> Result<(), HarnessError> {
        self.call(Method::POST, "/_harness/close-watches", None)
            .await
            .map(drop)
    }

    /// Compacts the watch history: any older resourceVersion gets 410 Gone.
    pub async fn expire(&self) -> Result<(), HarnessError> {
        self.call(Method::POST, "/_harness/expire", None)
            .await
            .map(drop)
    }

    /// SIGKILLs the pod's running containers, reported as OOMKilled with exit code 137.
    pub async fn oom(&self, namespace: &str, name: &str) -> Result<(), HarnessError> {
        let path = format!("/_harness/pods/{namespace}/{name}/oom");
        self.call(Method::POST, &path, None).await.map(drop)
    }

    /// Every API request served so far (harness endpoints excluded), oldest first.
    pub async fn requests(&self) -> Result<Vec<RecordedRequest>, HarnessError> {
        let value = self.call(Method::GET, "/_harness/requests", None).await?;
        serde_json::from_value(value).map_err(|e| HarnessError::Transport(e.to_string()))
    }

    /// Stops the cluster (SIGTERM, then SIGKILL after a timeout) and waits for it.
    pub fn stop(mut self) -> std::io::Result<std::process::ExitStatus> {
        self.terminate()
    }

    fn terminate(&mut self) -> std::io::Result<std::process::ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, HarnessError> {
        let transport = |e: &dyn std::fmt::Display| HarnessError::Transport(e.to_string());
        let tcp = tokio::net::TcpStream::connect(self.address)
            .await
            .map_err(|e| transport(&e))?;
        let tls = connector(&self.ca_pem)?
            .connect(ServerName::try_from("127.0.0.1").expect("a valid IP"), tcp)
            .await
            .map_err(|e| transport(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| transport(&e))?;
        tokio::spawn(connection);
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.address.to_string())
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes))
            .map_err(|e| transport(&e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| transport(&e))?;
        let code = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(&e))?
            .to_bytes();
        if !(200..300).contains(&code) {
            return Err(HarnessError::Status {
                code,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| transport(&e))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Err(error) = self.terminate() {
            eprintln!("warning: stopping the test cluster failed: {error}");
        }
    }
}

fn find_binary(explicit: Option<PathBuf>) -> Result<PathBuf, HarnessError> {
    if let Some(path) = explicit.or_else(|| std::env::var_os(BINARY_ENV).map(PathBuf::from)) {
        return Ok(path);
    }
    let exe = std::env::current_exe().map_err(|_| HarnessError::NoBinary)?;
    let candidates = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(BINARY_NAME));
    candidates
        .into_iter()
        .find(|c| c.is_file())
        .ok_or(HarnessError::NoBinary)
}

fn spawn(binary: &Path, state_dir: &Path, options: &HarnessOptions) -> Result<Child, HarnessError> {
    std::fs::create_dir_all(state_dir).map_err(|e| HarnessError::Spawn(binary.into(), e))?;
    let log = std::fs::File::create(state_dir.join("cluster.log"))
        .map_err(|e| HarnessError::Spawn(binary.into(), e))?;
    let mut command = Command::new(binary);
    command
        .arg("--state-dir")
        .arg(state_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    for path in &options.runner_paths {
        command.arg("--runner-path").arg(path);
    }
    for dir in &options.runner_dirs {
        command.arg("--runner-dir").arg(dir);
    }
    for (key, value) in &options.runner_env {
        command.arg("--runner-env").arg(format!("{key}={value}"));
    }
    if let Some(cap) = options.grace_cap_seconds {
        command.arg("--grace-cap-seconds").arg(cap.to_string());
    }
    if let Some(filter) = &options.log_filter {
        command.env("BYOK8S_TEST_CLUSTER_LOG", filter);
    }
    command
        .spawn()
        .map_err(|e| HarnessError::Spawn(binary.into(), e))
}

fn read_announcement(stdout: ChildStdout) -> Result<(BufReader<ChildStdout>, String), String> {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => Err("it exited before listening".into()),
        Ok(_) => Ok((reader, line.trim().to_string())),
        Err(error) => Err(error.to_string()),
    }
}

fn token_of(kubeconfig: &str) -> Option<String> {
    kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .map(String::from)
}

fn connector(ca_pem: &str) -> Result<tokio_rustls::TlsConnector, HarnessError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let certificate = certificate.map_err(|e| HarnessError::Transport(e.to_string()))?;
        roots
            .add(certificate)
            .map_err(|e| HarnessError::Transport(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HarnessError::Transport(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
