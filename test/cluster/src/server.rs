//! Starting the cluster: certificates, kubeconfig, the HTTPS listener, the controllers, and
//! shutdown that leaves no pod process behind.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::{api, gc, jobs, kubeconfig, kubelet, namespaces, tls};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("creating the state directory {0}")]
    StateDir(PathBuf, #[source] std::io::Error),
    #[error("binding {0}")]
    Bind(SocketAddr, #[source] std::io::Error),
    #[error("writing {0}")]
    Write(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("bubblewrap is required to run pods: {0} not found (Debian package bubblewrap)")]
    NoBubblewrap(&'static str),
}

/// A started cluster: where it listens, and its kubeconfig.
pub struct Started {
    pub cluster: Arc<Cluster>,
    pub listener: TcpListener,
    pub acceptor: TlsAcceptor,
    pub kubeconfig: PathBuf,
}

/// Generates credentials, binds the listener, writes `ca.crt` and `kubeconfig`, creates
/// the initial namespaces.
pub async fn start(config: Config) -> Result<Started, StartError> {
    if !std::path::Path::new(kubelet::sandbox::BWRAP).exists() {
        return Err(StartError::NoBubblewrap(kubelet::sandbox::BWRAP));
    }
    let state_dir = config.state_dir.clone();
    std::fs::create_dir_all(&state_dir).map_err(|e| StartError::StateDir(state_dir.clone(), e))?;
    let certificates = tls::generate()?;
    let acceptor = TlsAcceptor::from(tls::server_config(&certificates)?);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Bind(config.listen, e))?;
    let address = listener
        .local_addr()
        .map_err(|e| StartError::Bind(config.listen, e))?;
    let token = crate::object::random_suffix(40);

    let kubeconfig = state_dir.join("kubeconfig");
    write(&state_dir.join("ca.crt"), &certificates.ca_pem)?;
    write(
        &kubeconfig,
        &kubeconfig::render(address, &certificates.ca_pem, &token),
    )?;
    let cluster = Arc::new(Cluster::new(config, address, token, certificates.ca_pem));
    namespaces::bootstrap(&cluster);
    Ok(Started {
        cluster,
        listener,
        acceptor,
        kubeconfig,
    })
}

fn write(path: &std::path::Path, contents: &str) -> Result<(), StartError> {
    std::fs::write(path, contents).map_err(|e| StartError::Write(path.to_path_buf(), e))
}

/// Runs the controllers and serves until `shutdown` resolves, then kills every pod process.
pub async fn serve(started: Started, shutdown: impl std::future::Future<Output = ()>) {
    let Started {
        cluster,
        listener,
        acceptor,
        ..
    } = started;
    let controllers = [
        tokio::spawn(jobs::run(cluster.clone())),
        tokio::spawn(kubelet::run(cluster.clone())),
        tokio::spawn(crate::controller::run(cluster.clone(), |c| {
            gc::reconcile(&c);
            std::future::ready(())
        })),
    ];
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => drop(tokio::spawn(connection(cluster.clone(), acceptor.clone(), stream))),
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
        }
    }
    for controller in controllers {
        controller.abort();
    }
    cluster.close_watches();
    cluster.processes.shutdown().await;
}

async fn connection(cluster: Arc<Cluster>, acceptor: TlsAcceptor, stream: tokio::net::TcpStream) {
    let tls = match acceptor.accept(stream).await {
        Ok(tls) => tls,
        Err(error) => return tracing::debug!(%error, "TLS handshake failed"),
    };
    let service = service_fn(move |request| {
        let cluster = cluster.clone();
        async move { Ok::<_, std::convert::Infallible>(api::handle(cluster, request).await) }
    });
    if let Err(error) = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), service)
        .await
    {
        tracing::debug!(%error, "connection ended with an error");
    }
}
