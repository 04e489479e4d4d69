-- Trading controls a person sets: overrides (B13) and position limits (B14), with the history
-- of their changes. '' in strategy/instrument means "any" (a strategy-wide override has
-- instrument '', an instrument-wide one strategy ''), so the pair can be the primary key.
-- Times are UTC, RFC 3339 with microseconds.

-- value: pysystemtrade's encoding: a multiplier in [0, 1] (0 close, 1 none), -1 no-trading,
-- -2 reduce-only.
CREATE TABLE overrides (
    strategy   TEXT NOT NULL DEFAULT '',
    instrument TEXT NOT NULL DEFAULT '',
    value      REAL NOT NULL CHECK (value IN (-1.0, -2.0) OR (value >= 0.0 AND value <= 1.0)),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (strategy, instrument),
    CHECK (strategy <> '' OR instrument <> '')
);

-- max_contracts NULL: explicitly no limit.
CREATE TABLE position_limits (
    strategy      TEXT NOT NULL DEFAULT '',
    instrument    TEXT NOT NULL CHECK (instrument <> ''),
    max_contracts INTEGER CHECK (max_contracts IS NULL OR max_contracts >= 0),
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (strategy, instrument)
);

-- Every set and delete; old/new are the values as text, NULL when absent.
CREATE TABLE control_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    control    TEXT NOT NULL CHECK (control IN ('override', 'position_limit')),
    strategy   TEXT NOT NULL,
    instrument TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    at         TEXT NOT NULL
);
