-- Trade limits (B15): at most `limit` contracts (the sum of |legs| of broker orders sent) per
-- rolling period of `period_days` days, for one strategy's instrument or (strategy '') the
-- instrument across strategies. `trades_since_reset` counts what was sent since `last_reset`;
-- the period restarts (trades 0, clock now) at the first write more than `period_days` after
-- `last_reset` (reads apply the same rule without writing). `updated_at` is when a person last
-- set or reset the limit. Times are UTC, RFC 3339 with microseconds.
CREATE TABLE trade_limits (
    strategy           TEXT NOT NULL DEFAULT '',
    instrument         TEXT NOT NULL CHECK (instrument <> ''),
    period_days        INTEGER NOT NULL CHECK (period_days > 0),
    "limit"            INTEGER NOT NULL CHECK ("limit" >= 0),
    trades_since_reset INTEGER NOT NULL DEFAULT 0 CHECK (trades_since_reset >= 0),
    last_reset         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (strategy, instrument, period_days)
);

-- The history of control changes now also records trade limits (set, reset, delete; the trades
-- the stack handler counts are not history). SQLite cannot change a CHECK in place: the table is
-- rebuilt with its rows and ids (AUTOINCREMENT carries on from the highest id).
CREATE TABLE control_changes_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    control    TEXT NOT NULL CHECK (control IN ('override', 'position_limit', 'trade_limit')),
    strategy   TEXT NOT NULL,
    instrument TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    at         TEXT NOT NULL
);
INSERT INTO control_changes_new (id, control, strategy, instrument, old_value, new_value, at)
    SELECT id, control, strategy, instrument, old_value, new_value, at FROM control_changes;
DROP TABLE control_changes;
ALTER TABLE control_changes_new RENAME TO control_changes;
