//! Runs for people: one run as an aligned key/value block, many as a table.

use std::collections::HashMap;

use byok8s::phase_name;
use byok8s::proto::Run;
use jiff::tz::TimeZone;

use super::clock::{age, date_time, instant};
use super::events::progress_fraction;
use super::terminal::visible;

/// Where and when runs are being looked at, so times read relative to now and local.
pub struct Viewpoint {
    pub zone: TimeZone,
    pub now: jiff::Timestamp,
}

impl Viewpoint {
    /// One run as `key: value` lines with the values aligned.
    pub fn run_block(&self, run: &Run) -> String {
        let mut rows = vec![
            ("id", run.id.clone()),
            ("phase", phase_name(run.phase).to_owned()),
            ("reason", run.reason.clone()),
            ("workflow", run.workflow.clone()),
            ("params", run.params.clone()),
            ("targets", run.targets.join(", ")),
            ("user", run.user.clone()),
            ("created", self.when(run.created_at.as_ref(), true)),
            ("started", self.when(run.started_at.as_ref(), false)),
            ("finished", self.when(run.finished_at.as_ref(), false)),
            (
                "progress",
                run.progress
                    .as_ref()
                    .map(progress_fraction)
                    .unwrap_or_default(),
            ),
            ("backend", run.backend.clone()),
            ("labels", pairs(&run.labels)),
            ("details", pairs(&run.details)),
        ];
        rows.extend(optional_rows(run));
        let width = rows.iter().map(|(key, _)| key.len() + 2).max().unwrap_or(0);
        rows.iter()
            .map(|(key, value)| block_line(key, value, width))
            .collect()
    }

    /// Runs as a table with a header row.
    pub fn run_table(&self, runs: &[Run]) -> String {
        let header = [
            "ID", "PHASE", "WORKFLOW", "PARAMS", "TARGETS", "PROGRESS", "CREATED",
        ];
        let mut rows = vec![header.map(str::to_owned).to_vec()];
        rows.extend(runs.iter().map(|run| self.table_row(run)));
        table(&rows)
    }

    fn table_row(&self, run: &Run) -> Vec<String> {
        let progress = run
            .progress
            .as_ref()
            .map(|p| format!("{}/{}", p.done, p.total));
        let created = run.created_at.as_ref().and_then(instant);
        vec![
            run.id.clone(),
            phase_name(run.phase).to_owned(),
            run.workflow.clone(),
            run.params.clone(),
            run.targets.join(","),
            progress.unwrap_or_else(|| "-".to_owned()),
            created.map_or_else(|| "-".to_owned(), |at| age(at, self.now, &self.zone)),
        ]
    }

    fn when(&self, timestamp: Option<&prost_types::Timestamp>, with_age: bool) -> String {
        let Some(at) = timestamp.and_then(instant) else {
            return String::new();
        };
        let shown = date_time(at, &self.zone);
        if with_age {
            format!("{shown} ({})", age(at, self.now, &self.zone))
        } else {
            shown
        }
    }
}

/// Rows shown only when they say something: a namespace, or a dry-run or forced run.
fn optional_rows(run: &Run) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    if !run.namespace.is_empty() {
        rows.push(("namespace", run.namespace.clone()));
    }
    if run.dry_run {
        rows.push(("dry run", "yes".to_owned()));
    }
    if run.force {
        rows.push(("force", "yes".to_owned()));
    }
    rows
}

fn block_line(key: &str, value: &str, width: usize) -> String {
    let value = if value.is_empty() { "-" } else { value };
    let value = visible(value);
    format!("{:<width$}{value}\n", format!("{key}:"))
}

/// `key=value` pairs sorted by key, so output is stable.
fn pairs(map: &HashMap<String, String>) -> String {
    let mut pairs: Vec<_> = map
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    pairs.sort();
    pairs.join(", ")
}

fn table(rows: &[Vec<String>]) -> String {
    // Escaped before the columns are measured, so that they stay aligned.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| visible(cell).into_owned()).collect())
        .collect();
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter().map(|row| table_line(row, &widths)).collect()
}

fn table_line(row: &[String], widths: &[usize]) -> String {
    let cells: Vec<_> = row
        .iter()
        .zip(widths)
        .map(|(cell, width)| format!("{cell:<width$}"))
        .collect();
    format!("{}\n", cells.join("  ").trim_end())
}

#[cfg(test)]
mod tests;
