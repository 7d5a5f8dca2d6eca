//! The pieces a Kubernetes-backend test needs, all on 127.0.0.1: an S3-compatible server
//! that checks credentials, the strict test-cluster harness, and a byok8sd using both.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

use crate::{Daemon, Scratch, repo_root, snakemake};

pub const ACCESS_KEY: &str = "byok8s-test-access";
pub const SECRET_KEY: &str = "byok8s-test-secret-0123456789";
pub const BUCKET: &str = "byok8s";
pub const NAMESPACE: &str = "byok8s-runs";

pub use byok8s_test_cluster::Fault;
use byok8s_test_cluster::{Harness, HarnessOptions};

/// A child process killed when dropped.
struct Service {
    child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An S3-compatible server (s3s-fs) storing objects as files under `root/BUCKET/`.
pub struct S3 {
    _service: Service,
    pub endpoint: String,
    pub root: PathBuf,
}

impl S3 {
    pub fn start(scratch: &Scratch) -> S3 {
        let root = scratch.path().join("s3");
        std::fs::create_dir_all(root.join(BUCKET)).expect("create the bucket directory");
        let port = free_port();
        let child = Command::new(tool("s3s-fs"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let endpoint = format!("http://127.0.0.1:{port}");
        crate::eventually(Duration::from_secs(30), "s3s-fs to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        S3 {
            _service: Service { child },
            endpoint,
            root,
        }
    }

    /// True when the bucket holds an object at `key`.
    pub fn exists(&self, key: &str) -> bool {
        self.root.join(BUCKET).join(key).exists()
    }

    /// The content of an object, read from the server's files.
    pub fn object(&self, key: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(BUCKET).join(key)).ok()
    }
}

/// The strict Kubernetes API harness, running pods as local processes, with a runtime of its
/// own so that synchronous tests can drive it.
pub struct Cluster {
    harness: Option<Harness>,
    runtime: tokio::runtime::Runtime,
    pub kubeconfig: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The harness stops (with every pod process) inside the runtime it was started on.
        let harness = self.harness.take();
        self.runtime.block_on(async move { drop(harness) });
    }
}

impl Cluster {
    pub fn start(scratch: &Scratch, s3: &S3) -> Cluster {
        let venv_bin = snakemake().parent().expect("venv bin").to_owned();
        let python_path = repo_root().join("deploy/runner/python");
        let wheels = repo_root().join(".tools/wheels");
        // The repository may be anywhere, /tmp included, which pods do not share with the host.
        let options = HarnessOptions {
            runner_paths: vec![venv_bin],
            runner_dirs: vec![python_path.clone(), wheels.clone()],
            runner_env: vec![
                ("PYTHONPATH".into(), python_path.display().to_string()),
                ("PIP_NO_INDEX".into(), "1".into()),
                ("PIP_FIND_LINKS".into(), wheels.display().to_string()),
                ("PYTHONUNBUFFERED".into(), "1".into()),
            ],
            grace_cap_seconds: Some(3),
            ..HarnessOptions::default()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let state = scratch.path().join("cluster");
        std::fs::create_dir_all(&state).expect("harness state directory");
        let harness = runtime
            .block_on(Harness::start(&state, options))
            .expect("start the harness");
        let kubeconfig = harness.kubeconfig().to_owned();
        let cluster = Cluster {
            harness: Some(harness),
            runtime,
            kubeconfig,
        };
        cluster.prepare(s3);
        cluster
    }

    fn harness(&self) -> &Harness {
        self.harness.as_ref().expect("the harness runs until drop")
    }

    /// Makes the next matching requests fail, as a flaky API server would.
    pub fn inject(&self, fault: Fault) {
        self.runtime
            .block_on(self.harness().inject(&fault))
            .expect("inject a fault");
    }

    /// Ends every open watch stream.
    pub fn close_watches(&self) {
        self.runtime
            .block_on(self.harness().close_watches())
            .expect("close watches");
    }

    /// Every request the cluster served so far, with whose it was.
    pub fn requests(&self) -> Vec<byok8s_test_cluster::RecordedRequest> {
        self.runtime
            .block_on(self.harness().requests())
            .expect("read the request log")
    }

    /// Kills a pod's container as the kernel's OOM killer would.
    pub fn oom(&self, pod: &str) {
        self.runtime
            .block_on(self.harness().oom(NAMESPACE, pod))
            .expect("OOM a pod");
    }

    /// What a deployment provides in the runs' namespace: the service accounts and the S3
    /// credentials Secret.
    fn prepare(&self, _s3: &S3) {
        use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
        let namespace: Namespace = object(serde_json::json!({ "metadata": { "name": NAMESPACE } }));
        let secret: Secret = object(serde_json::json!({
            "metadata": { "name": "byok8s-s3" },
            "stringData": { "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY },
        }));
        self.block_on(async |client| {
            let params = PostParams::default();
            Api::<Namespace>::all(client.clone())
                .create(&params, &namespace)
                .await?;
            let accounts = Api::<ServiceAccount>::namespaced(client.clone(), NAMESPACE);
            for name in ["byok8s-runner", "byok8s-rule"] {
                let account = object(serde_json::json!({ "metadata": { "name": name } }));
                accounts.create(&params, &account).await?;
            }
            Api::<Secret>::namespaced(client, NAMESPACE)
                .create(&params, &secret)
                .await?;
            Ok(())
        });
    }

    /// Creates a Job in the runs' namespace from its JSON.
    pub fn create_job(&self, job: serde_json::Value) {
        let job: k8s_openapi::api::batch::v1::Job = object(job);
        self.block_on(async |client| {
            let jobs = Api::<k8s_openapi::api::batch::v1::Job>::namespaced(client, NAMESPACE);
            jobs.create(&PostParams::default(), &job).await.map(|_| ())
        });
    }

    /// True once the Job named `name` has ended: its Complete or Failed condition is True.
    pub fn job_ended(&self, name: &str) -> bool {
        self.block_on(async |client| {
            let jobs = Api::<k8s_openapi::api::batch::v1::Job>::namespaced(client, NAMESPACE);
            let job = jobs.get_opt(name).await?;
            let conditions = job
                .and_then(|job| job.status)
                .and_then(|status| status.conditions)
                .unwrap_or_default();
            Ok(conditions
                .iter()
                .any(|c| c.status == "True" && (c.type_ == "Complete" || c.type_ == "Failed")))
        })
    }

    /// True while the Job named `name` exists and is being deleted.
    pub fn job_deleting(&self, name: &str) -> bool {
        self.block_on(async |client| {
            let jobs = Api::<k8s_openapi::api::batch::v1::Job>::namespaced(client, NAMESPACE);
            let job = jobs.get_opt(name).await?;
            Ok(job.is_some_and(|job| job.metadata.deletion_timestamp.is_some()))
        })
    }

    /// Sets a pod's finalizers, which hold its deletion (and a foreground deletion of its
    /// Job) until they are removed.
    pub fn set_pod_finalizers(&self, pod: &str, finalizers: &[&str]) {
        let patch = serde_json::json!({ "metadata": { "finalizers": finalizers } });
        self.block_on(async |client| {
            let pods = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client, NAMESPACE);
            let params = kube::api::PatchParams::default();
            pods.patch(pod, &params, &kube::api::Patch::Merge(&patch))
                .await
                .map(|_| ())
        });
    }

    /// The name of the run's driver pod, once it exists.
    pub fn driver_pod(&self, run_id: &str) -> String {
        let prefix = format!("byok8s-{run_id}-");
        crate::eventually(crate::RUN_TIMEOUT, "the driver pod", || {
            self.names::<k8s_openapi::api::core::v1::Pod>()
                .into_iter()
                .find(|name| name.starts_with(&prefix))
        })
    }

    /// Names of objects of kind `K` in the runs' namespace.
    pub fn names<K>(&self) -> Vec<String>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        self.block_on(async |client| {
            let list = Api::<K>::namespaced(client, NAMESPACE)
                .list(&ListParams::default())
                .await?;
            Ok(list
                .items
                .into_iter()
                .filter_map(|o| o.meta().name.clone())
                .collect())
        })
    }

    /// Runs `work` with a client of the harness on a runtime of its own.
    fn block_on<T>(&self, work: impl AsyncFnOnce(Client) -> Result<T, kube::Error>) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).expect("read the kubeconfig");
            let options = KubeConfigOptions::default();
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .expect("kubeconfig");
            let client = Client::try_from(config).expect("client");
            work(client).await.expect("a request to the harness")
        })
    }
}

fn object<K: serde::de::DeserializeOwned>(value: serde_json::Value) -> K {
    serde_json::from_value(value).expect("a well-formed object")
}

/// Flags of a byok8sd that runs everything on the harness, with its S3 credentials in its
/// environment as a deployment would give them.
pub fn daemon(scratch: &Scratch, cluster: &Cluster, s3: &S3, extra: &[&str]) -> Daemon {
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let mut args = vec![
        "--backend",
        "kubernetes",
        "--kubeconfig",
        &kubeconfig,
        "--namespace",
        NAMESPACE,
        "--s3-bucket",
        BUCKET,
        "--s3-endpoint-url",
        &s3.endpoint,
        "--s3-region",
        "us-east-1",
        "--status-check-seconds",
        "1",
    ];
    args.extend_from_slice(extra);
    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    Daemon::start_with_env(scratch, &args, &env)
}

fn tool(name: &str) -> PathBuf {
    let path = repo_root().join(".tools/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run test/setup-tools.sh",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// Where a run's outputs are in the bucket, from its status details.
pub fn output_key(run: &serde_json::Value, file: &str) -> String {
    let prefix = run["details"]["storage_prefix"]
        .as_str()
        .expect("storage_prefix detail");
    let key = prefix
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .expect("prefix in the bucket");
    format!("{key}/{file}")
}
