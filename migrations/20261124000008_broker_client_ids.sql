-- Client ids of live broker connections, one row per id in use, so two processes never connect
-- with the same id (IB refuses the second with error 326). A row whose process is gone (same
-- host and a dead PID, a reused PID, or an earlier boot) is reclaimed by the next lease.
-- Times are UTC, RFC 3339 with microseconds.
CREATE TABLE broker_client_ids (
    client_id   INTEGER PRIMARY KEY,
    pid         INTEGER NOT NULL,
    pid_start   INTEGER,
    host        TEXT NOT NULL,
    boot_id     TEXT,
    purpose     TEXT NOT NULL,
    acquired_at TEXT NOT NULL
);
