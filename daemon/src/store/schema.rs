//! The database schema and the connection settings the store relies on.

use rusqlite::Connection;

/// WAL lets watchers read while a run appends; `synchronous = NORMAL` under WAL loses at most
/// the last transactions on power loss, never consistency (sqlite.org/wal.html).
const SETTINGS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 5000;
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id              TEXT PRIMARY KEY,
    user            TEXT NOT NULL,
    spec            TEXT NOT NULL,
    idempotency_key TEXT,
    backend         TEXT NOT NULL,
    phase           INTEGER NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    created_us      INTEGER NOT NULL,
    started_us      INTEGER,
    finished_us     INTEGER,
    progress_done   INTEGER NOT NULL DEFAULT 0,
    progress_total  INTEGER NOT NULL DEFAULT 0,
    last_seq        INTEGER NOT NULL DEFAULT 0,
    details         TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_by_idempotency_key
    ON runs (user, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_by_phase ON runs (phase);

CREATE TABLE IF NOT EXISTS events (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    seq     INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    body    BLOB NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
";

/// Changes to the first schema, in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    "ALTER TABLE runs ADD COLUMN digest TEXT;",
    "CREATE TABLE log_cursors (
        run_id TEXT NOT NULL REFERENCES runs (id),
        log    TEXT NOT NULL,
        lines  INTEGER NOT NULL,
        PRIMARY KEY (run_id, log)
    ) WITHOUT ROWID;",
    "CREATE INDEX runs_by_creation ON runs (created_us, id);",
];

/// Applies the settings, creates whatever tables are missing and migrates older databases.
pub fn prepare(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(SETTINGS)?;
    connection.execute_batch(SCHEMA)?;
    let applied: usize = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (number, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        connection.execute_batch(&format!(
            "BEGIN; {migration} PRAGMA user_version = {}; COMMIT;",
            number + 1
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preparing_twice_applies_each_migration_once() {
        let connection = Connection::open_in_memory().unwrap();
        prepare(&connection).unwrap();
        prepare(&connection).unwrap();
        let version: usize = connection
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
    }
}
