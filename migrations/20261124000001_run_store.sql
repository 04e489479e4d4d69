-- The engine's run store: runs, node states, attempts, log events, control states, locks.
-- Times are UTC, RFC 3339 with microseconds, so text order is time order.

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow        TEXT    NOT NULL,
    trigger         TEXT    NOT NULL CHECK (trigger IN ('schedule', 'manual', 'rerun')),
    parent_run_id   INTEGER REFERENCES runs(id),
    status          TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'crashed')),
    started_at      TEXT    NOT NULL,
    finished_at     TEXT,
    pid             INTEGER NOT NULL,
    host            TEXT    NOT NULL,
    definition_path TEXT    NOT NULL,
    definition_hash TEXT    NOT NULL,
    selection       TEXT,
    message         TEXT
);
CREATE INDEX runs_by_workflow ON runs (workflow, started_at);

CREATE TABLE run_nodes (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_id     TEXT    NOT NULL,
    task        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    executions  INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT,
    finished_at TEXT,
    output      TEXT,
    error       TEXT,
    reused_from INTEGER,
    PRIMARY KEY (run_id, node_id)
);
CREATE INDEX run_nodes_by_node ON run_nodes (node_id, state);

CREATE TABLE node_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    node_id     TEXT    NOT NULL,
    execution   INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    error       TEXT,
    output      TEXT
);
CREATE INDEX node_attempts_by_run ON node_attempts (run_id, node_id);

CREATE TABLE log_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id   INTEGER,
    node_id  TEXT,
    ts       TEXT NOT NULL,
    level    TEXT NOT NULL,
    target   TEXT NOT NULL,
    message  TEXT NOT NULL,
    fields   TEXT
);
CREATE INDEX log_events_by_run ON log_events (run_id, id);
CREATE INDEX log_events_by_ts ON log_events (ts);

CREATE TABLE control (
    workflow   TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('go', 'stop', 'no-run')),
    updated_at TEXT NOT NULL
);

CREATE TABLE locks (
    name        TEXT PRIMARY KEY,
    run_id      INTEGER,
    pid         INTEGER NOT NULL,
    pid_start   INTEGER,
    host        TEXT    NOT NULL,
    boot_id     TEXT,
    acquired_at TEXT    NOT NULL
);
