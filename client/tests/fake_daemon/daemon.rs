//! The stand-in byok8sd: a tonic `Runs` server, over TLS on a loopback port or over in-process
//! pipes.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use byok8s::proto::runs_server::{Runs, RunsServer};
use byok8s::proto::{
    CancelRunRequest, GetRunRequest, ListRunsRequest, ListRunsResponse, Run, RunEvent, RunPhase,
    SubmitRequest, SubmitResponse, WatchRunRequest,
};
use byok8s::{Client, ConnectOptions, ServerUrl};
use hyper_util::rt::TokioIo;
use tokio_stream::wrappers::{TcpListenerStream, UnboundedReceiverStream};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Endpoint, Identity, Server, ServerTlsConfig, Uri};
use tonic::{Request, Response, Status};

use crate::script::{Interruption, Script, run, stream_items};

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
        let dropped = script.dropped_connections;
        let incoming = TcpListenerStream::new(listener).filter_map(move |connection| {
            // Leaving a connection out drops it, closed before the TLS handshake.
            let seen = counter.fetch_add(1, Ordering::SeqCst);
            (seen >= dropped).then_some(connection)
        });
        let script = Arc::new(Mutex::new(script));
        let server = Server::builder()
            .tls_config(ServerTlsConfig::new().identity(identity))
            .unwrap()
            .add_service(service(&script))
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

/// A stand-in daemon reached through in-process pipes, for tests on tokio's paused clock:
/// with no real I/O to wait for, the clock moves only when every task waits for a timer.
pub struct InMemoryDaemon {
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl InMemoryDaemon {
    /// Starts a daemon serving `script` and a client connected to it with default options.
    pub fn start(script: Script) -> (Self, Client) {
        let script = Arc::new(Mutex::new(script));
        let (pipes, accepted) = tokio::sync::mpsc::unbounded_channel();
        let incoming = UnboundedReceiverStream::new(accepted).map(Ok::<_, std::io::Error>);
        let server = Server::builder()
            .add_service(service(&script))
            .serve_with_incoming(incoming);
        let task = tokio::spawn(async move { server.await.unwrap() });
        let connector = tower::service_fn(move |_: Uri| {
            let (client_end, server_end) = tokio::io::duplex(64 * 1024);
            let sent = pipes.send(server_end);
            async move {
                sent.map_err(|_| std::io::Error::other("the stand-in daemon has stopped"))?;
                Ok::<_, std::io::Error>(TokioIo::new(client_end))
            }
        });
        let channel = Endpoint::from_static("http://in-memory.invalid")
            .connect_with_connector_lazy(connector);
        let options = ConnectOptions::new(ServerUrl::parse("https://in-memory.invalid:1").unwrap());
        let client = Client::from_channel(channel, &options);
        (Self { script, task }, client)
    }

    /// The state and the requests received so far.
    pub fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }
}

impl Drop for InMemoryDaemon {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn service(script: &Arc<Mutex<Script>>) -> RunsServer<Handler> {
    RunsServer::new(Handler {
        script: script.clone(),
    })
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
        let stall = self.script().stall_get_run;
        if stall {
            std::future::pending::<()>().await;
        }
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
        let interruption = {
            let mut script = self.script();
            script.watches.push(request.clone());
            script.interruptions.pop_front()
        };
        match interruption {
            Some(Interruption::Refuse) => {
                return Err(Status::unavailable("daemon is shutting down"));
            }
            Some(Interruption::Stall) => std::future::pending::<()>().await,
            _ => {}
        }
        let script = self.script();
        let items = tokio_stream::iter(stream_items(&script.events, &request, interruption));
        let stream: EventStream = match interruption {
            Some(Interruption::Hold { .. }) => Box::pin(items.chain(tokio_stream::pending())),
            _ => Box::pin(items),
        };
        Ok(Response::new(stream))
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
