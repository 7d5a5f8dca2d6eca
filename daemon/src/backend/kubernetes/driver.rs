//! The driver Job of a run: one pod that fetches the bundle and runs Snakemake with the
//! Kubernetes executor, so each rule job becomes a Job of its own.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};

use super::labels;
use super::settings::{ClusterSettings, RunStorage};
use crate::run::RunRecord;

/// Where the driver unpacks the bundle; Snakemake's working directory.
const WORKDIR: &str = "/workdir";

/// Name of the driver Job of a run: run ids are already valid Kubernetes names.
pub fn job_name(run_id: &str) -> String {
    format!("byok8s-{run_id}")
}

/// The driver Job for `run`.
pub fn driver_job(run: &RunRecord, storage: &RunStorage, settings: &ClusterSettings) -> Job {
    let labels = labels::run_labels(run, "driver");
    let manifest = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(&run.id),
            "namespace": settings.namespace,
            "labels": labels,
        },
        "spec": {
            // Snakemake is not safe to restart mid-run; a failed driver fails the run.
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": labels },
                "spec": pod_spec(run, storage, settings),
            },
        },
    });
    serde_json::from_value(manifest).expect("the driver manifest matches the Job schema")
}

fn pod_spec(run: &RunRecord, storage: &RunStorage, settings: &ClusterSettings) -> Value {
    json!({
        "restartPolicy": "Never",
        "serviceAccountName": settings.runner_service_account,
        "securityContext": {
            "runAsNonRoot": true,
            "seccompProfile": { "type": "RuntimeDefault" },
        },
        "containers": [{
            "name": "driver",
            "image": settings.runner_image,
            "command": ["python", "-m", "byok8s_driver"],
            "args": driver_args(run, storage, settings),
            "workingDir": WORKDIR,
            "env": environment(run, settings),
            "resources": {
                "requests": { "cpu": settings.driver_cpu, "memory": settings.driver_memory },
                "limits": { "memory": settings.driver_memory },
            },
            "securityContext": {
                "allowPrivilegeEscalation": false,
                "capabilities": { "drop": ["ALL"] },
            },
            "volumeMounts": [{ "name": "workdir", "mountPath": WORKDIR }],
        }],
        "volumes": [{ "name": "workdir", "emptyDir": {} }],
    })
}

/// The driver's arguments: where to fetch the run's files, then Snakemake's command line as
/// an argument vector (nothing here passes through a shell).
pub fn driver_args(
    run: &RunRecord,
    storage: &RunStorage,
    settings: &ClusterSettings,
) -> Vec<String> {
    let s3 = &settings.s3;
    let mut args = vec![
        "--bundle".to_owned(),
        s3.url(&storage.bundle_key),
        "--config".to_owned(),
        s3.url(&storage.config_key),
        "--".to_owned(),
        "snakemake".to_owned(),
    ];
    let snakemake = [
        ("--snakefile", run.spec.snakefile.clone()),
        ("--configfile", ".byok8s/config.json".to_owned()),
        ("--executor", "kubernetes".to_owned()),
        ("--jobs", settings.max_rule_jobs.to_string()),
        ("--default-storage-provider", "s3".to_owned()),
        ("--default-storage-prefix", storage.prefix_url.clone()),
        ("--kubernetes-namespace", settings.namespace.clone()),
        (
            "--kubernetes-service-account-name",
            settings.rule_service_account.clone(),
        ),
        ("--container-image", settings.runner_image.clone()),
        (
            "--seconds-between-status-checks",
            settings.status_check_seconds.to_string(),
        ),
        ("--logger", "byok8s".to_owned()),
        // Snakemake 9 reads `profiles/default/` of the workflow's directory unless told
        // `none`: a submitted bundle could set any option byok8sd does not pass (privileged
        // rule pods, persistent volumes, storage settings).
        ("--workflow-profile", "none".to_owned()),
    ];
    for (flag, value) in snakemake {
        args.extend([flag.to_owned(), value]);
    }
    // byok8sd deletes rule Jobs itself once the run is over: Snakemake would delete each as
    // it finishes, and with it the log lines a restarted daemon has not read yet.
    args.extend(
        [
            "--kubernetes-omit-job-cleanup",
            "--nocolor",
            "--printshellcmds",
        ]
        .map(str::to_owned),
    );
    if run.spec.dry_run {
        args.push("--dry-run".to_owned());
    }
    if run.spec.force {
        args.push("--forceall".to_owned());
    }
    // List options such as --configfile swallow following words, so targets go after `--`.
    args.push("--".to_owned());
    args.extend(run.spec.targets.iter().cloned());
    args
}

/// S3 settings for the storage plugin and for the driver's own download, credentials by
/// reference to the deployment's Secret; and the pod's identity, which the driver gives the
/// Secret Snakemake's executor creates as its owner, so that garbage collection removes that
/// Secret with the pod however the run ends.
fn field(name: &str, path: &str) -> Value {
    json!({ "name": name, "valueFrom": { "fieldRef": { "fieldPath": path } } })
}

fn environment(run: &RunRecord, settings: &ClusterSettings) -> Vec<Value> {
    let s3 = &settings.s3;
    let secret = |name: &str, key: &str| {
        json!({
            "name": name,
            "valueFrom": { "secretKeyRef": { "name": s3.credentials_secret, "key": key } },
        })
    };
    let mut env = vec![
        secret("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        secret("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        secret("SNAKEMAKE_STORAGE_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
        secret("SNAKEMAKE_STORAGE_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
        json!({ "name": "PYTHONUNBUFFERED", "value": "1" }),
        field("BYOK8S_POD_NAME", "metadata.name"),
        field("BYOK8S_POD_UID", "metadata.uid"),
        json!({ "name": "BYOK8S_RUN", "value": run.id }),
    ];
    let values: BTreeMap<&str, &Option<String>> = BTreeMap::from([
        ("AWS_ENDPOINT_URL", &s3.endpoint_url),
        ("SNAKEMAKE_STORAGE_S3_ENDPOINT_URL", &s3.endpoint_url),
        ("AWS_DEFAULT_REGION", &s3.region),
        ("SNAKEMAKE_STORAGE_S3_REGION", &s3.region),
    ]);
    for (name, value) in values {
        if let Some(value) = value {
            env.push(json!({ "name": name, "value": value }));
        }
    }
    env
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::backend::kubernetes::settings::S3Settings;
    use crate::store::tests::record;

    pub fn settings() -> ClusterSettings {
        ClusterSettings {
            namespace: "byok8s-runs".into(),
            runner_image: "byok8s/runner:0.1.0".into(),
            runner_service_account: "byok8s-runner".into(),
            rule_service_account: "byok8s-rule".into(),
            s3: S3Settings {
                bucket: "byok8s-data".into(),
                prefix: "runs".into(),
                endpoint_url: Some("http://minio.byok8s.svc:9000".into()),
                region: Some("us-east-1".into()),
                credentials_secret: "byok8s-s3".into(),
            },
            driver_cpu: "500m".into(),
            driver_memory: "1Gi".into(),
            status_check_seconds: 10,
            max_rule_jobs: 8,
            watchdog_seconds: 300,
            stuck_seconds: 600,
        }
    }

    pub fn driver_for(run: &RunRecord) -> Job {
        let settings = settings();
        let storage = settings.s3.run_storage(&run.user, &run.id);
        driver_job(run, &storage, &settings)
    }

    #[test]
    fn the_driver_job_matches_its_snapshot() {
        let job = driver_for(&record("run-01jexample", None));
        insta::assert_json_snapshot!(job);
    }

    #[test]
    fn targets_come_after_a_double_dash_at_the_end() {
        let mut run = record("run-1", None);
        run.spec.targets = vec!["--delete-all-output".into(), "zeta.txt".into()];
        let settings = settings();
        let args = driver_args(&run, &settings.s3.run_storage("u", "run-1"), &settings);
        let tail = &args[args.len() - 3..];
        assert_eq!(tail, ["--", "--delete-all-output", "zeta.txt"]);
    }

    #[test]
    fn credentials_are_referenced_never_inlined() {
        let job = serde_json::to_value(driver_for(&record("run-1", None))).unwrap();
        let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
        for var in env.as_array().unwrap() {
            let name = var["name"].as_str().unwrap();
            if name.contains("KEY") {
                assert!(
                    var.get("value").is_none(),
                    "{name} must come from the Secret"
                );
                assert_eq!(var["valueFrom"]["secretKeyRef"]["name"], "byok8s-s3");
            }
        }
    }

    #[test]
    fn no_workflow_profile_from_the_bundle_is_read() {
        let run = record("run-1", None);
        let settings = settings();
        let args = driver_args(&run, &settings.s3.run_storage("u", "run-1"), &settings);
        let at = args.iter().position(|a| a == "--workflow-profile");
        assert_eq!(at.map(|i| args[i + 1].as_str()), Some("none"));
    }

    #[test]
    fn dry_runs_and_forced_runs_pass_their_flags() {
        let mut run = record("run-1", None);
        run.spec.dry_run = true;
        run.spec.force = true;
        let settings = settings();
        let args = driver_args(&run, &settings.s3.run_storage("u", "run-1"), &settings);
        assert!(args.contains(&"--dry-run".to_owned()));
        assert!(args.contains(&"--forceall".to_owned()));
    }
}
