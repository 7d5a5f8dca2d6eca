//! The command line of `byok8s`: its options, commands and help text.

use std::path::PathBuf;

use byok8s::proto::RunPhase;
use byok8s_proto::rules;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::label::Label;

/// The exit codes, as the README's table lists them.
const EXIT_CODES: &str = "\
Exit codes:
  0    success; for watch, logs -f and submit --follow: the run succeeded
  1    the run failed
  2    usage error or bad input (nothing was sent), or the daemon refused the request as invalid
  3    the run was cancelled or interrupted
  4    cannot reach the daemon (connection refused, TLS failure, unavailable, no answer in time)
  5    run not found
  6    any other error from the daemon (such as permission denied), or output that cannot be written
  130  following was stopped with Ctrl-C; the run goes on";

/// Run Snakemake workflows on byok8sd and follow them.
#[derive(Debug, Parser)]
#[command(name = "byok8s", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The daemon's https URL.
    #[arg(
        long,
        global = true,
        env = "BYOK8S_SERVER",
        hide_env_values = true,
        value_name = "URL",
        default_value = "https://127.0.0.1:50051"
    )]
    pub server: String,
    /// PEM file with the CA (or the daemon's self-signed certificate) to trust; without it
    /// the public web roots are trusted.
    #[arg(
        long,
        global = true,
        env = "BYOK8S_CA_CERT",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub ca_cert: Option<PathBuf>,
    /// How to print results.
    #[arg(
        long,
        global = true,
        env = "BYOK8S_OUTPUT",
        hide_env_values = true,
        value_enum,
        default_value_t,
        value_name = "FORMAT"
    )]
    pub output: OutputFormat,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Lines and tables for people.
    #[default]
    Human,
    /// JSON: one document, or one object per line for events.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit a workflow run.
    Submit(SubmitArgs),
    /// Show one run.
    Status(RunArgs),
    /// List runs, newest first.
    List(ListArgs),
    /// Follow a run's events until it finishes; exits with the run's outcome.
    Watch(WatchArgs),
    /// Print a run's log lines.
    Logs(LogsArgs),
    /// Cancel a queued or running run.
    Cancel(CancelArgs),
}

/// Arguments of `submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The workflow JSON file; `.json` may be left off.
    pub workflow: String,
    /// The params JSON file, which becomes Snakemake's config; `.json` may be left off.
    pub params: String,
    /// Targets to build instead of the workflow file's "workflow_target".
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// The Snakefile; its directory is uploaded with the run.
    #[arg(long, value_name = "PATH", default_value = "Snakefile")]
    pub snakefile: PathBuf,
    /// Only plan the run (Snakemake --dry-run).
    #[arg(long)]
    pub dry_run: bool,
    /// Rebuild every target even if its outputs exist (Snakemake --forceall).
    #[arg(long)]
    pub force: bool,
    /// After submitting, follow the run like `watch` and exit with its outcome.
    #[arg(long)]
    pub follow: bool,
    /// A label to attach, as KEY=VALUE; repeatable, a later KEY replaces an earlier one.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<Label>,
    /// Makes retried submissions return the first run instead of starting another; a fresh
    /// key is made for each invocation when none is given.
    #[arg(long, value_name = "KEY", value_parser = idempotency_key)]
    pub idempotency_key: Option<String>,
    /// Kubernetes namespace to run in (kubernetes backend only); the daemon's default when
    /// left off.
    #[arg(long, value_name = "NAME")]
    pub namespace: Option<String>,
}

/// Arguments of commands that name one run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The run's id.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub run: String,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// At most this many runs, up to 1000; the server's default (100) when left off or 0.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(..=MAX_LIST_LIMIT))]
    pub limit: Option<u32>,
    /// Only runs in this phase; repeatable.
    #[arg(long = "phase", value_enum, value_name = "PHASE")]
    pub phases: Vec<PhaseFilter>,
    /// Only runs carrying this label, as KEY=VALUE; repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<Label>,
}

/// Arguments of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The run's id.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub run: String,
    /// Start after this event sequence number, to continue an earlier watch.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub after_seq: u64,
}

/// Arguments of `logs`.
#[derive(Debug, Args)]
#[command(after_help = "With --follow, byok8s exits with the run's outcome code, like watch.")]
pub struct LogsArgs {
    /// The run's id.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub run: String,
    /// Keep printing new lines until the run finishes.
    #[arg(short, long)]
    pub follow: bool,
    /// Only lines of events after this sequence number, to continue an earlier `logs -f`.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub after_seq: u64,
}

/// Arguments of `cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run's id.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub run: String,
    /// Why, recorded in the run's reason.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
}

/// The most runs byok8sd returns from one listing, as the range check of `--limit` takes it.
const MAX_LIST_LIMIT: i64 = rules::MAX_LIST_LIMIT as i64;

/// Refuses a key byok8sd would refuse, and an empty one, which would silently stand for "no
/// key" (as an unset shell variable would give) and so lose the protection it was given for.
fn idempotency_key(text: &str) -> Result<String, String> {
    if !rules::is_idempotency_key(text) {
        return Err(format!(
            "must be 1 to {} visible ASCII characters",
            rules::MAX_IDEMPOTENCY_KEY_CHARS
        ));
    }
    Ok(text.to_owned())
}

/// A run phase to filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseFilter {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl From<PhaseFilter> for RunPhase {
    fn from(filter: PhaseFilter) -> Self {
        match filter {
            PhaseFilter::Queued => Self::Queued,
            PhaseFilter::Running => Self::Running,
            PhaseFilter::Succeeded => Self::Succeeded,
            PhaseFilter::Failed => Self::Failed,
            PhaseFilter::Cancelled => Self::Cancelled,
            PhaseFilter::Interrupted => Self::Interrupted,
        }
    }
}

#[cfg(test)]
mod tests;
