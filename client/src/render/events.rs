//! One human-readable line per run event.

use byok8s::phase_name;
use byok8s::proto::run_event::Kind;
use byok8s::proto::{
    ClusterEvent, JobStarted, LogLine, LogStream, PhaseChanged, Progress, Run, RunEvent,
};
use jiff::tz::TimeZone;

use super::clock::clock_time;
use super::terminal::visible;

/// The event as `HH:MM:SS <what happened>`, with remote text made [`visible`], or `None` for
/// kinds this client does not know.
pub fn event_line(event: &RunEvent, zone: &TimeZone) -> Option<String> {
    let body = match event.kind.as_ref()? {
        Kind::Phase(change) => phase_text(&event.run_id, change),
        Kind::JobStarted(job) => job_started_text(job),
        Kind::JobFinished(job) => format!("job {} {} finished", job.jobid, job.rule),
        Kind::JobFailed(job) => with_detail(
            format!("job {} {} FAILED", job.jobid, job.rule),
            &job.message,
        ),
        Kind::Progress(progress) => progress_text(progress),
        Kind::Log(log) => log_text(log),
        Kind::Cluster(cluster) => cluster_text(cluster),
    };
    let time = clock_time(event.time.as_ref(), zone);
    Some(format!("{time} {}", visible(&body)))
}

/// `run ID PHASE: reason`, as a run stands now, made [`visible`].
pub fn outcome_line(run: &Run) -> String {
    let change = PhaseChanged {
        phase: run.phase,
        reason: run.reason.clone(),
    };
    visible(&phase_text(&run.id, &change)).into_owned()
}

fn phase_text(run_id: &str, change: &PhaseChanged) -> String {
    with_detail(
        format!("run {run_id} {}", phase_name(change.phase)),
        &change.reason,
    )
}

fn job_started_text(job: &JobStarted) -> String {
    let text = format!("job {} {} started", job.jobid, job.rule);
    match job.outputs.as_slice() {
        [] => text,
        outputs => format!("{text} ({})", outputs.join(", ")),
    }
}

/// Progress with a whole percentage.
pub fn progress_text(progress: &Progress) -> String {
    format!("progress {}", progress_fraction(progress))
}

/// `done/total (pct%)`, rounded as Snakemake's own "N of M steps" lines beside it are: to the
/// nearest percent, halves to even, and never 0% or 100% until that is exactly true.
pub fn progress_fraction(progress: &Progress) -> String {
    format!(
        "{}/{} ({}%)",
        progress.done,
        progress.total,
        percent(progress.done, progress.total)
    )
}

fn percent(done: u64, total: u64) -> u128 {
    let (done, total) = (u128::from(done), u128::from(total));
    if total == 0 || done == 0 {
        return 0;
    }
    if done >= total {
        return 100;
    }
    let (quotient, remainder) = (done * 100 / total, done * 100 % total);
    let up = match (remainder * 2).cmp(&total) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => quotient % 2 == 1,
        std::cmp::Ordering::Less => false,
    };
    (quotient + u128::from(up)).clamp(1, 99)
}

/// `<source> <object> <reason>: <message>`, with warnings marked so they stand out.
fn cluster_text(cluster: &ClusterEvent) -> String {
    let mark = if cluster.warning { "WARNING " } else { "" };
    let source = if cluster.source.is_empty() {
        "cluster"
    } else {
        &cluster.source
    };
    with_detail(
        format!("{mark}[{source}] {} {}", cluster.object, cluster.reason),
        &cluster.message,
    )
}

fn log_text(log: &LogLine) -> String {
    let source = match (log.source.as_str(), LogStream::try_from(log.stream)) {
        ("", Ok(LogStream::Daemon)) => "byok8sd",
        ("", _) => "log",
        (source, _) => source,
    };
    format!("[{source}] {}", log.line.trim_end_matches(['\r', '\n']))
}

fn with_detail(text: String, detail: &str) -> String {
    if detail.is_empty() {
        text
    } else {
        format!("{text}: {detail}")
    }
}

#[cfg(test)]
mod tests;
