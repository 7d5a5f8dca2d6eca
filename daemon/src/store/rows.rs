//! SQL for the run store: how runs and events map to rows.

use byok8s_proto::v1::{RunEvent, RunPhase, run_event::Kind};
use prost::Message;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{LogCursor, RunFilter, StoreError};
use crate::run::{RunRecord, is_terminal};
use crate::timestamps::{from_micros, to_micros};

const RUN_COLUMNS: &str = "id, user, spec, idempotency_key, digest, backend, phase, reason, created_us, \
     started_us, finished_us, progress_done, progress_total, last_seq, details";

pub fn insert_run(c: &mut Connection, run: RunRecord) -> Result<(RunRecord, bool), StoreError> {
    let tx = c.transaction()?;
    if let Some(key) = &run.idempotency_key {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE user = ?1 AND idempotency_key = ?2");
        let existing = tx
            .query_row(&sql, params![run.user, key], read_run)
            .optional()?;
        if let Some(existing) = existing {
            let existing = existing?;
            let same = existing.digest.is_empty() || existing.digest == run.digest;
            if !same {
                return Err(StoreError::KeyReused { id: existing.id });
            }
            return Ok((existing, true));
        }
    }

    let spec = serde_json::to_string(&run.spec).map_err(|e| corrupt(&run.id, e))?;
    let details = serde_json::to_string(&run.details).map_err(|e| corrupt(&run.id, e))?;
    tx.execute(
        &format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
        params![
            run.id,
            run.user,
            spec,
            run.idempotency_key,
            run.digest,
            run.backend,
            run.phase as i32,
            run.reason,
            to_micros(run.created_at),
            run.started_at.map(to_micros),
            run.finished_at.map(to_micros),
            run.progress_done,
            run.progress_total,
            run.last_seq,
            details,
        ],
    )?;
    tx.commit()?;
    Ok((run, false))
}

pub fn get_run(c: &mut Connection, id: &str) -> Result<Option<RunRecord>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
    c.query_row(&sql, [id], read_run).optional()?.transpose()
}

pub fn list_runs(c: &mut Connection, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
    let (sql, values) = list_query(filter);
    let mut statement = c.prepare(&sql)?;
    let mut runs = Vec::new();
    for row in statement.query_map(rusqlite::params_from_iter(values), read_run)? {
        // One unreadable run must not hide every other run from every user.
        match row? {
            Ok(run) => runs.push(run),
            Err(error) => {
                tracing::error!(error = %crate::error::chain(&error), "skipping an unreadable run");
            }
        }
    }
    Ok(runs)
}

/// The listing's SQL and its parameters: filtered, ordered and limited by SQLite, so that a
/// listing reads only the rows it returns.
fn list_query(filter: &RunFilter) -> (String, Vec<Value>) {
    // A run's params can be large and listings do not show them. A row whose spec is not
    // JSON goes through as it is, to be reported and skipped rather than fail the query.
    let spec = if filter.with_params {
        "spec"
    } else {
        "CASE WHEN json_valid(spec) THEN json_remove(spec, '$.config') ELSE spec END AS spec"
    };
    let columns = RUN_COLUMNS.replacen("spec", spec, 1);
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    if !filter.phases.is_empty() {
        let marks = vec!["?"; filter.phases.len()].join(", ");
        conditions.push(format!("phase IN ({marks})"));
        values.extend(filter.phases.iter().map(|p| Value::Integer(*p as i64)));
    }
    for (key, value) in &filter.labels {
        // json_each compares keys as plain strings; no client text becomes a JSON path.
        conditions.push(
            "CASE WHEN json_valid(runs.spec) THEN EXISTS (SELECT 1 FROM \
             json_each(runs.spec, '$.labels') AS label WHERE label.key = ? AND label.value = ?) \
             ELSE 0 END"
                .to_owned(),
        );
        values.extend([Value::Text(key.clone()), Value::Text(value.clone())]);
    }
    let conditions = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    values.push(Value::Integer(clamp(filter.limit as u64)));
    // By creation time: ids are ULIDs, whose order within one millisecond is random.
    let sql = format!(
        "SELECT {columns} FROM runs {conditions} ORDER BY created_us DESC, id DESC LIMIT ?"
    );
    (sql, values)
}

pub fn append_event(
    c: &mut Connection,
    event: &RunEvent,
    cursor: Option<&LogCursor>,
) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    // A run's terminal phase is its last event: watchers stop reading there, so anything
    // later (a log line drained after the end) would be stored but never seen.
    let sql = "SELECT phase FROM runs WHERE id = ?1";
    let phase: Option<i32> = tx
        .query_row(sql, [&event.run_id], |row| row.get(0))
        .optional()?;
    let phase = phase.and_then(|p| RunPhase::try_from(p).ok());
    if phase.is_some_and(is_terminal) {
        return Err(StoreError::Finished {
            id: event.run_id.clone(),
        });
    }
    tx.execute(
        "INSERT INTO events (run_id, seq, kind, body) VALUES (?1, ?2, ?3, ?4)",
        params![
            event.run_id,
            event.seq,
            kind_name(event),
            event.encode_to_vec()
        ],
    )?;
    tx.execute(
        "UPDATE runs SET last_seq = ?2 WHERE id = ?1",
        params![event.run_id, event.seq],
    )?;
    apply_to_run(&tx, event)?;
    if let Some(cursor) = cursor {
        tx.execute(
            "INSERT INTO log_cursors (run_id, log, lines) VALUES (?1, ?2, ?3) \
             ON CONFLICT (run_id, log) DO UPDATE SET lines = excluded.lines",
            params![event.run_id, cursor.log, clamp(cursor.lines)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Keeps the run row's summary (phase, times, progress) in step with its event log.
fn apply_to_run(tx: &rusqlite::Transaction, event: &RunEvent) -> rusqlite::Result<()> {
    let micros = event
        .time
        .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000);
    match &event.kind {
        Some(Kind::Phase(change)) => {
            let phase = change.phase();
            let started = (phase == RunPhase::Running).then_some(micros).flatten();
            let finished = is_terminal(phase).then_some(micros).flatten();
            tx.execute(
                "UPDATE runs SET phase = ?2, reason = ?3, \
                 started_us = COALESCE(started_us, ?4), finished_us = COALESCE(finished_us, ?5) \
                 WHERE id = ?1",
                params![event.run_id, change.phase, change.reason, started, finished],
            )?;
        }
        Some(Kind::Progress(progress)) => {
            tx.execute(
                "UPDATE runs SET progress_done = ?2, progress_total = ?3 WHERE id = ?1",
                params![event.run_id, clamp(progress.done), clamp(progress.total)],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// SQLite integers are signed; counts reported by a workflow are clamped, not refused.
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn kind_name(event: &RunEvent) -> &'static str {
    match &event.kind {
        Some(Kind::Phase(_)) => "phase",
        Some(Kind::JobStarted(_)) => "job_started",
        Some(Kind::JobFinished(_)) => "job_finished",
        Some(Kind::JobFailed(_)) => "job_failed",
        Some(Kind::Progress(_)) => "progress",
        Some(Kind::Log(_)) => "log",
        Some(Kind::Cluster(_)) => "cluster",
        None => "unknown",
    }
}

pub fn log_position(c: &mut Connection, run_id: &str, log: &str) -> Result<u64, StoreError> {
    let sql = "SELECT lines FROM log_cursors WHERE run_id = ?1 AND log = ?2";
    let lines: Option<i64> = c
        .query_row(sql, [run_id, log], |row| row.get(0))
        .optional()?;
    Ok(lines.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

pub fn last_seq(c: &mut Connection, run_id: &str) -> Result<u64, StoreError> {
    let sql = "SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?1";
    Ok(c.query_row(sql, [run_id], |row| row.get(0))?)
}

pub fn events_after(
    c: &mut Connection,
    run_id: &str,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<RunEvent>, StoreError> {
    let mut statement = c.prepare_cached(
        "SELECT body FROM events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = statement.query_map(params![run_id, clamp(after_seq), limit], |row| {
        row.get::<_, Vec<u8>>(0)
    })?;
    rows.map(|body| {
        let body = body?;
        RunEvent::decode(body.as_slice()).map_err(|e| corrupt(run_id, e))
    })
    .collect()
}

pub fn set_detail(
    c: &mut Connection,
    run_id: &str,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE runs SET details = json_set(details, '$.' || json_quote(?2), ?3) WHERE id = ?1",
        params![run_id, key, value],
    )?;
    Ok(())
}

/// Reads one run row; a row whose JSON columns do not parse is reported, not skipped.
fn read_run(row: &Row) -> rusqlite::Result<Result<RunRecord, StoreError>> {
    let id: String = row.get("id")?;
    let spec: String = row.get("spec")?;
    let details: String = row.get("details")?;
    let spec = match serde_json::from_str(&spec) {
        Ok(spec) => spec,
        Err(e) => return Ok(Err(corrupt(&id, e))),
    };
    let details = match serde_json::from_str(&details) {
        Ok(details) => details,
        Err(e) => return Ok(Err(corrupt(&id, e))),
    };
    let phase: i32 = row.get("phase")?;
    Ok(Ok(RunRecord {
        id,
        user: row.get("user")?,
        spec,
        idempotency_key: row.get("idempotency_key")?,
        digest: row.get::<_, Option<String>>("digest")?.unwrap_or_default(),
        backend: row.get("backend")?,
        phase: RunPhase::try_from(phase).unwrap_or(RunPhase::Unspecified),
        reason: row.get("reason")?,
        created_at: from_micros(row.get("created_us")?),
        started_at: row.get::<_, Option<i64>>("started_us")?.map(from_micros),
        finished_at: row.get::<_, Option<i64>>("finished_us")?.map(from_micros),
        progress_done: row.get("progress_done")?,
        progress_total: row.get("progress_total")?,
        last_seq: row.get("last_seq")?,
        details,
    }))
}

fn corrupt(id: &str, source: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        source: Box::new(source),
    }
}
