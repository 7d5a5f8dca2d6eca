//! The state every request handler and controller shares.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::sync::watch;

use crate::config::Config;
use crate::faults::Faults;
use crate::kubelet::Processes;
use crate::store::Store;

/// One running test cluster.
pub struct Cluster {
    pub store: Store,
    pub faults: Faults,
    pub config: Config,
    /// Where clients reach the API server.
    pub address: SocketAddr,
    /// The one bearer token the server accepts (kubeconfig and pod token files).
    pub token: String,
    pub ca_pem: String,
    /// Bumped to end every open watch stream.
    pub watch_epoch: watch::Sender<u64>,
    /// The processes the kubelet runs, by pod uid.
    pub processes: Processes,
}

impl Cluster {
    pub fn new(config: Config, address: SocketAddr, token: String, ca_pem: String) -> Self {
        Self {
            store: Store::default(),
            faults: Faults::default(),
            config,
            address,
            token,
            ca_pem,
            watch_epoch: watch::channel(0).0,
            processes: Processes::default(),
        }
    }

    /// The directory holding one pod's volumes, home, tmp and logs.
    pub fn pod_dir(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.config
            .state_dir
            .join("pods")
            .join(namespace)
            .join(format!("{name}-{uid}"))
    }

    /// Ends every open watch; clients reconnect from their last resourceVersion.
    pub fn close_watches(&self) {
        self.watch_epoch.send_modify(|epoch| *epoch += 1);
    }
}

#[cfg(test)]
impl Cluster {
    /// A cluster with its initial namespaces, not listening anywhere, for unit tests.
    pub fn for_tests() -> Self {
        let config = Config {
            state_dir: std::env::temp_dir().join("byok8s-test-cluster-unit"),
            listen: "127.0.0.1:0".parse().expect("a valid address"),
            runner_paths: Vec::new(),
            runner_dirs: Vec::new(),
            runner_env: Vec::new(),
            grace_cap_seconds: 1,
        };
        let cluster = Self::new(
            config,
            "127.0.0.1:1".parse().expect("a valid address"),
            "token".into(),
            "PEM".into(),
        );
        crate::namespaces::bootstrap(&cluster);
        cluster
    }
}
