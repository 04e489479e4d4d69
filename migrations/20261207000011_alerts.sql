-- Alerts (issue 15): every alert raised, with what happened to its e-mail, and the per-subject
-- de-duplication state (§B25). Times are UTC, RFC 3339 with microseconds.

-- state: sent (the mail server took it), kept (could not be sent: sent with the next successful
-- send), suppressed (same subject e-mailed less than 24 h before), not_sent (no [email]).
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    time            TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    kind            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    instrument      TEXT,
    run_id          INTEGER,
    node            TEXT,
    state           TEXT NOT NULL CHECK (state IN ('sent', 'kept', 'suppressed', 'not_sent')),
    sent_at         TEXT,
    send_error      TEXT,
    acknowledged_at TEXT
);
CREATE INDEX alerts_kept ON alerts (state) WHERE state = 'kept';
CREATE INDEX alerts_unacknowledged ON alerts (id) WHERE acknowledged_at IS NULL;

-- last_sent: the last successful send of a non-report message with this subject; warning_sent:
-- the last "no more e-mails with this subject today" warning.
CREATE TABLE email_subjects (
    subject      TEXT PRIMARY KEY,
    last_sent    TEXT,
    warning_sent TEXT
);
