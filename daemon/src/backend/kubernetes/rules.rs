//! Recognising the rule Jobs of a run. Snakemake's executor labels them only `app=snakemake`,
//! but each carries the run's unique storage prefix in its command, and the rule's name.

use k8s_openapi::api::batch::v1::Job;

/// Label selector of every Job Snakemake's Kubernetes executor creates.
pub const RULE_JOB_SELECTOR: &str = "app=snakemake";

/// The command line of a Job's first container, joined.
fn command_line(job: &Job) -> String {
    let container = job
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .and_then(|pod| pod.containers.first());
    let Some(container) = container else {
        return String::new();
    };
    let parts = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten());
    parts.map(String::as_str).collect::<Vec<_>>().join(" ")
}

/// True when `job` is a rule Job of the run whose storage prefix is `prefix_url`: the value of
/// the first `--default-storage-prefix` in its command is exactly that prefix. Snakemake puts
/// its own storage options before anything users control (wildcard values in `--target-jobs`,
/// which another run's user could fill with a forged option), so only the first counts; and
/// whole-value matching keeps `.../run-1` from claiming the Jobs of `.../run-10`.
pub fn belongs_to_run(job: &Job, prefix_url: &str) -> bool {
    const OPTION: &str = "--default-storage-prefix";
    let command = command_line(job);
    let words: Vec<&str> = command.split_whitespace().collect();
    let value =
        words
            .iter()
            .enumerate()
            .find_map(|(at, word)| match word.strip_prefix(OPTION)? {
                "" => Some(words.get(at + 1).copied()),
                rest => rest.strip_prefix('=').map(Some),
            });
    value
        .flatten()
        .is_some_and(|v| v.trim_matches(|c| c == '\'' || c == '"') == prefix_url)
}

/// The rule a Job runs, from `--allowed-rules NAME` in its command.
pub fn rule_name(job: &Job) -> Option<String> {
    let command = command_line(job);
    let mut words = command.split_whitespace();
    words.find(|word| *word == "--allowed-rules")?;
    let name = words.next()?.trim_matches(|c| c == '\'' || c == '"');
    Some(name.to_owned())
}

/// The Secret Snakemake's executor made for this run's rule jobs (it holds the storage
/// settings), found through the Jobs' environment. The executor names it with a random UUID;
/// a reference to any other Secret is not the executor's and is never returned. The driver
/// also makes that Secret a dependent of its pod, so garbage collection removes it when no
/// rule Job ever named it; deleting it by name as well covers drivers that did not.
pub fn executor_secret(job: &Job) -> Option<String> {
    let container = job
        .spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?;
    container.env.iter().flatten().find_map(|var| {
        let reference = var.value_from.as_ref()?.secret_key_ref.as_ref()?;
        is_uuid(&reference.name).then(|| reference.name.clone())
    })
}

/// `8-4-4-4-12` lowercase hexadecimal digits.
fn is_uuid(name: &str) -> bool {
    let groups: Vec<&str> = name.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let hex = |g: &&str| {
        g.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    lengths == [8, 4, 4, 4, 12] && groups.iter().all(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule Job as Snakemake 9's Kubernetes executor builds it.
    fn rule_job(command: &str) -> Job {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "snakejob-1", "labels": { "app": "snakemake" } },
            "spec": { "template": { "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "snakemake",
                    "command": ["/bin/sh"],
                    "args": ["-c", command],
                    "env": [{ "name": "SNAKEMAKE_STORAGE_S3_SECRET_KEY", "valueFrom": {
                        "secretKeyRef": { "name": "5f0c1a2b-0000-4000-8000-0123456789ab", "key": "k" }
                    }}],
                }],
            }}},
        }))
        .unwrap()
    }

    const COMMAND: &str = "pip install --target '.snakemake/pip-deployments' snakemake-storage-plugin-s3 && \
        python -m snakemake --deploy-sources s3://b/p/u/run-1/.snakemake/source/x.tar.xz abc \
        --default-storage-prefix s3://b/p/u/run-1 && python -m snakemake --snakefile Snakefile \
        --target-jobs 'zeta_a1:' --allowed-rules 'zeta_a1' --cores 1";

    #[test]
    fn a_rule_job_is_recognised_by_its_run_prefix() {
        let job = rule_job(COMMAND);
        assert!(belongs_to_run(&job, "s3://b/p/u/run-1"));
        assert!(!belongs_to_run(&job, "s3://b/p/u/run-2"));
    }

    #[test]
    fn a_prefix_does_not_claim_runs_whose_id_merely_starts_with_it() {
        let job = rule_job(&COMMAND.replace("run-1", "run-10"));
        assert!(!belongs_to_run(&job, "s3://b/p/u/run-1"));
    }

    #[test]
    fn the_prefix_elsewhere_in_the_command_does_not_claim_a_job() {
        let forged = "python -m snakemake --default-storage-prefix s3://b/p/u/run-2 \
            --target-jobs 'r:x=s3://b/p/u/run-1' --allowed-rules 'r'";
        assert!(!belongs_to_run(&rule_job(forged), "s3://b/p/u/run-1"));
        let joined = "python -m snakemake --default-storage-prefix='s3://b/p/u/run-1'";
        assert!(belongs_to_run(&rule_job(joined), "s3://b/p/u/run-1"));
    }

    #[test]
    fn a_forged_storage_prefix_after_the_real_one_claims_nothing() {
        let forged = "python -m snakemake --default-storage-prefix s3://b/p/u/run-2 \
            --target-jobs 'r:x= --default-storage-prefix s3://b/p/u/run-1' --allowed-rules 'r'";
        assert!(!belongs_to_run(&rule_job(forged), "s3://b/p/u/run-1"));
        assert!(belongs_to_run(&rule_job(forged), "s3://b/p/u/run-2"));
        let joined = "snakemake --default-storage-prefix=s3://b/p/u/run-2 \
            --target-jobs 'r:x= --default-storage-prefix=s3://b/p/u/run-1'";
        assert!(!belongs_to_run(&rule_job(joined), "s3://b/p/u/run-1"));
    }

    #[test]
    fn an_option_that_merely_starts_like_the_prefix_option_is_not_it() {
        let command = "snakemake --default-storage-prefixes s3://b/p/u/run-2 \
            --default-storage-prefix s3://b/p/u/run-1";
        assert!(belongs_to_run(&rule_job(command), "s3://b/p/u/run-1"));
    }

    #[test]
    fn secrets_not_named_like_the_executors_are_never_claimed() {
        let job = rule_job(COMMAND);
        let mut value = serde_json::to_value(&job).unwrap();
        value["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]
            ["name"] = "byok8s-s3".into();
        assert_eq!(
            executor_secret(&serde_json::from_value(value).unwrap()),
            None
        );
    }

    #[test]
    fn the_rule_name_comes_from_allowed_rules() {
        assert_eq!(rule_name(&rule_job(COMMAND)).as_deref(), Some("zeta_a1"));
        assert_eq!(rule_name(&rule_job("true")), None);
    }

    #[test]
    fn the_executor_secret_is_found_through_the_environment() {
        assert_eq!(
            executor_secret(&rule_job(COMMAND)).as_deref(),
            Some("5f0c1a2b-0000-4000-8000-0123456789ab")
        );
    }
}
