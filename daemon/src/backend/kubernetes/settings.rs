//! How the Kubernetes backend is set up: where runs go, what they run, where their files live.

/// Settings of the Kubernetes backend, from the daemon's flags.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// Namespace of every run's driver and rule Jobs.
    pub namespace: String,
    /// Image of driver and rule pods: Snakemake, its plugins and the byok8s driver.
    pub runner_image: String,
    /// Service account of driver pods; it may only manage rule Jobs in the namespace.
    pub runner_service_account: String,
    /// Service account of rule pods, which run workflow code; it should have no permissions.
    pub rule_service_account: String,
    pub s3: S3Settings,
    pub driver_cpu: String,
    pub driver_memory: String,
    /// Snakemake's `--seconds-between-status-checks` for rule Jobs.
    pub status_check_seconds: u32,
    /// Snakemake's `--jobs`: rule Jobs of one run at once.
    pub max_rule_jobs: u32,
    /// A run whose rule Jobs have all ended while its driver reports nothing for this long is
    /// failed: Snakemake's executor can lose track of a job and then wait forever.
    pub watchdog_seconds: u64,
    /// A run whose driver or rule pod stays unable to start (an image that cannot be pulled, a
    /// missing Secret, no node that fits) for this long is failed.
    pub stuck_seconds: u64,
}

/// Where runs keep their files.
#[derive(Clone, Debug)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix under which each run gets `USER/RUN/`.
    pub prefix: String,
    /// For S3-compatible stores such as MinIO.
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    /// Secret in the runs' namespace with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`,
    /// passed to pods by reference; the daemon never copies its values.
    pub credentials_secret: String,
}

/// The S3 locations of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStorage {
    /// `s3://BUCKET/PREFIX/USER/RUN`: Snakemake's default storage prefix, unique per run.
    pub prefix_url: String,
    /// Object keys of the uploaded bundle and config, which only the driver reads.
    pub bundle_key: String,
    pub config_key: String,
}

impl S3Settings {
    pub fn run_storage(&self, user: &str, run_id: &str) -> RunStorage {
        let base = [self.prefix.trim_matches('/'), user, run_id]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        RunStorage {
            prefix_url: format!("s3://{}/{base}", self.bucket),
            bundle_key: format!("{base}/.byok8s/bundle.tar.gz"),
            config_key: format!("{base}/.byok8s/config.json"),
        }
    }

    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(prefix: &str) -> S3Settings {
        S3Settings {
            bucket: "runs".into(),
            prefix: prefix.into(),
            endpoint_url: None,
            region: None,
            credentials_secret: "s3".into(),
        }
    }

    #[test]
    fn each_run_gets_its_own_prefix_under_its_user() {
        let storage = s3("byok8s").run_storage("alice", "run-1");
        assert_eq!(storage.prefix_url, "s3://runs/byok8s/alice/run-1");
        assert_eq!(
            storage.bundle_key,
            "byok8s/alice/run-1/.byok8s/bundle.tar.gz"
        );
    }

    #[test]
    fn an_empty_or_slashed_prefix_adds_no_empty_path_segment() {
        assert_eq!(s3("").run_storage("u", "r").prefix_url, "s3://runs/u/r");
        assert_eq!(
            s3("/a/b/").run_storage("u", "r").prefix_url,
            "s3://runs/a/b/u/r"
        );
    }
}
