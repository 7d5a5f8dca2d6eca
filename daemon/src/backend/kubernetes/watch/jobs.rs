//! Which jobs Snakemake counts as running, read from the logger plugin's lines in the driver's
//! log, and whether each runs in the driver itself (a localrule) or as a rule Job.

use std::collections::HashMap;

use serde_json::Value;

/// What the logger plugin puts before each event (`snakemake_logger_plugin_byok8s`).
const PLUGIN_PREFIX: &str = "@@byok8s@@ ";

/// The last state of each job Snakemake started.
#[derive(Debug, Default)]
pub struct SnakemakeJobs {
    jobs: HashMap<u64, Job>,
}

#[derive(Debug)]
struct Job {
    local: bool,
    running: bool,
}

impl SnakemakeJobs {
    /// Takes in one line of the driver's log. Reading the log again from its start (after a
    /// restart or a broken stream) replays the same events in order and ends in the same state.
    pub fn read(&mut self, line: &str) {
        let Some(event) = line
            .strip_prefix(PLUGIN_PREFIX)
            .and_then(|json| serde_json::from_str::<Value>(json).ok())
        else {
            return;
        };
        let Some(jobid) = event.get("jobid").and_then(Value::as_u64) else {
            return;
        };
        match event.get("event").and_then(Value::as_str) {
            Some("job_started") => {
                // A driver whose plugin does not say counts its jobs as rule Jobs, as before.
                let local = event.get("local").and_then(Value::as_bool) == Some(true);
                self.jobs.insert(
                    jobid,
                    Job {
                        local,
                        running: true,
                    },
                );
            }
            Some("job_finished" | "job_failed") => {
                if let Some(job) = self.jobs.get_mut(&jobid) {
                    job.running = false;
                }
            }
            _ => {}
        }
    }

    /// True while Snakemake counts some job as running that runs as a rule Job.
    pub fn waits_for_rule_jobs(&self) -> bool {
        self.jobs.values().any(|job| job.running && !job.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(lines: &[&str]) -> SnakemakeJobs {
        let mut jobs = SnakemakeJobs::default();
        for line in lines {
            jobs.read(line);
        }
        jobs
    }

    const STARTED: &str =
        r#"@@byok8s@@ {"event":"job_started","jobid":1,"rule":"a","local":false}"#;
    const FINISHED: &str = r#"@@byok8s@@ {"event":"job_finished","jobid":1,"rule":"a"}"#;
    const LOCAL: &str = r#"@@byok8s@@ {"event":"job_started","jobid":2,"rule":"b","local":true}"#;

    #[test]
    fn a_started_rule_job_is_waited_for_until_it_finishes() {
        assert!(read(&[STARTED]).waits_for_rule_jobs());
        assert!(!read(&[STARTED, FINISHED]).waits_for_rule_jobs());
    }

    #[test]
    fn a_local_job_is_never_waited_for_as_a_rule_job() {
        assert!(!read(&[STARTED, FINISHED, LOCAL]).waits_for_rule_jobs());
    }

    #[test]
    fn a_retried_job_is_running_again_and_replaying_the_log_changes_nothing() {
        let failed = r#"@@byok8s@@ {"event":"job_failed","jobid":1,"rule":"a","message":"x"}"#;
        let jobs = read(&[STARTED, failed, STARTED, failed, STARTED]);
        assert!(jobs.waits_for_rule_jobs());
    }

    #[test]
    fn ordinary_output_and_other_events_change_nothing() {
        let jobs = read(&[
            "building zeta",
            r#"@@byok8s@@ {"event":"progress","done":1}"#,
        ]);
        assert!(!jobs.waits_for_rule_jobs());
    }
}
