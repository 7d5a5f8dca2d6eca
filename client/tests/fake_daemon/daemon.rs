//! The stand-in byok8sd: a tonic `Runs` server with a self-signed certificate.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use byok8s::proto::runs_server::{Runs, RunsServer};
use byok8s::proto::{
    CancelRunRequest, GetRunRequest, ListRunsRequest, ListRunsResponse, Run, RunEvent, RunPhase,
    SubmitRequest, SubmitResponse, WatchRunRequest,
};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use crate::script::{Script, run, stream_items};

/// A running stand-in daemon; it stops when dropped.
pub struct FakeDaemon {
    pub url: String,
    pub ca_file: PathBuf,
    script: Arc<Mutex<Script>>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl FakeDaemon {
    /// Starts a daemon serving `script` on a free loopback port.
    pub async fn start(script: Script) -> Self {
        // Built with the rest of the workspace, two TLS implementations are linked in; the
        // daemon and the client binary choose ring, and so does this stand-in.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let ca_file = dir.path().join("daemon.pem");
        std::fs::write(&ca_file, certified.cert.pem()).unwrap();
        let identity =
            Identity::from_pem(certified.cert.pem(), certified.signing_key.serialize_pem());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let incoming = TcpListenerStream::new(listener).map(move |connection| {
            counter.fetch_add(1, Ordering::SeqCst);
            connection
        });
        let script = Arc::new(Mutex::new(script));
        let service = RunsServer::new(Handler {
            script: script.clone(),
        });
        let server = Server::builder()
            .tls_config(ServerTlsConfig::new().identity(identity))
            .unwrap()
            .add_service(service)
            .serve_with_incoming(incoming);
        let task = tokio::spawn(async move { server.await.unwrap() });
        Self {
            url,
            ca_file,
            script,
            connections,
            task,
            _dir: dir,
        }
    }

    /// The state and the requests received so far.
    pub fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }

    /// How many TCP connections were accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Handler {
    script: Arc<Mutex<Script>>,
}

impl Handler {
    fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<RunEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Runs for Handler {
    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let mut script = self.script();
        let request = request.into_inner();
        script.submits.push(request.clone());
        if script.submit_failures > 0 {
            script.submit_failures -= 1;
            return Err(Status::unavailable("daemon is starting"));
        }
        let existing = script
            .runs
            .iter()
            .find(|r| r.idempotency_key == request.idempotency_key);
        if let Some(run) = existing {
            return Ok(Response::new(SubmitResponse {
                run: Some(run.clone()),
                existing: true,
            }));
        }
        let mut created = run(
            &format!("run-{}", script.runs.len() + 1),
            RunPhase::Queued,
            0,
        );
        created.workflow = request.workflow.map(|d| d.name).unwrap_or_default();
        created.idempotency_key = request.idempotency_key;
        script.runs.push(created.clone());
        Ok(Response::new(SubmitResponse {
            run: Some(created),
            existing: false,
        }))
    }

    async fn get_run(&self, request: Request<GetRunRequest>) -> Result<Response<Run>, Status> {
        let id = request.into_inner().run_id;
        self.find(&id).map(Response::new)
    }

    async fn list_runs(
        &self,
        request: Request<ListRunsRequest>,
    ) -> Result<Response<ListRunsResponse>, Status> {
        let mut script = self.script();
        let request = request.into_inner();
        let runs = script
            .runs
            .iter()
            .filter(|r| request.phases.is_empty() || request.phases.contains(&r.phase));
        let runs = runs.cloned().collect();
        script.lists.push(request);
        Ok(Response::new(ListRunsResponse { runs }))
    }

    type WatchRunStream = EventStream;

    async fn watch_run(
        &self,
        request: Request<WatchRunRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let request = request.into_inner();
        self.find(&request.run_id)?;
        let mut script = self.script();
        script.watches.push(request.clone());
        let interruption = script.interruptions.pop_front();
        let items = stream_items(&script.events, &request, interruption);
        Ok(Response::new(Box::pin(tokio_stream::iter(items))))
    }

    async fn cancel_run(
        &self,
        request: Request<CancelRunRequest>,
    ) -> Result<Response<Run>, Status> {
        let request = request.into_inner();
        let mut script = self.script();
        script.cancels.push(request.clone());
        let run = script.runs.iter_mut().find(|r| r.id == request.run_id);
        let run =
            run.ok_or_else(|| Status::not_found(format!("run {} not found", request.run_id)))?;
        if !byok8s::is_terminal(run.phase) {
            run.phase = RunPhase::Cancelled as i32;
        }
        Ok(Response::new(run.clone()))
    }
}

impl Handler {
    fn find(&self, id: &str) -> Result<Run, Status> {
        let script = self.script();
        let run = script.runs.iter().find(|r| r.id == id).cloned();
        run.ok_or_else(|| Status::not_found(format!("run {id} not found")))
    }
}
