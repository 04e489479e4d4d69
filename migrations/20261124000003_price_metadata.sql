-- Price metadata beside the price series: the contract table (B5), roll states and their
-- history (B8), and price spikes waiting for a decision (B3).
-- Times are UTC, RFC 3339 with microseconds; dates are YYYY-MM-DD; contract ids YYYYMMDD.

CREATE TABLE contracts (
    instrument      TEXT    NOT NULL,
    contract_id     TEXT    NOT NULL,
    expiry          TEXT    NOT NULL,
    expiry_is_exact INTEGER NOT NULL CHECK (expiry_is_exact IN (0, 1)),
    sampling        INTEGER NOT NULL CHECK (sampling IN (0, 1)),
    updated_at      TEXT    NOT NULL,
    PRIMARY KEY (instrument, contract_id)
);
CREATE INDEX contracts_sampling ON contracts (instrument, sampling);

CREATE TABLE roll_states (
    instrument TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('no_roll', 'passive', 'force', 'force_outright', 'roll_adjusted', 'close', 'no_open')),
    updated_at TEXT NOT NULL
);

CREATE TABLE roll_state_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    instrument TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    at         TEXT NOT NULL,
    note       TEXT
);
CREATE INDEX roll_state_history_by_instrument ON roll_state_history (instrument, id);

-- A spike is of a contract's bars (instrument and contract_id set) or of FX rates (currency set).
CREATE TABLE spikes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instrument  TEXT,
    contract_id TEXT,
    currency    TEXT,
    frequency   TEXT    NOT NULL CHECK (frequency IN ('daily', 'hourly', 'merged')),
    ts          TEXT    NOT NULL,
    value       REAL,    -- NULL: NaN (SQLite stores NaN as NULL)
    ratio       REAL,
    detected_at TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
    resolved_at TEXT,
    CHECK ((instrument IS NOT NULL AND contract_id IS NOT NULL AND currency IS NULL)
        OR (instrument IS NULL AND contract_id IS NULL AND currency IS NOT NULL)),
    CHECK ((status = 'pending') = (resolved_at IS NULL))
);
CREATE INDEX spikes_by_status ON spikes (status, id);
-- The same spike is pending at most once (NULLs made comparable).
CREATE UNIQUE INDEX spikes_pending_once ON spikes (
    COALESCE(instrument, ''), COALESCE(contract_id, ''), COALESCE(currency, ''), frequency, ts
) WHERE status = 'pending';
