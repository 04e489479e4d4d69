-- Capital (B9) and strategy capital (B10). Amounts in the base currency (config
-- capital.base_currency). Times are UTC, RFC 3339 with microseconds.

-- Total capital history; `at` strictly increases (the domain makes it so).
CREATE TABLE capital (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL UNIQUE,
    actual      REAL NOT NULL,
    max         REAL NOT NULL,
    accumulated REAL NOT NULL,
    broker      REAL NOT NULL
);

-- Margin used at the broker, read on each capital update.
CREATE TABLE margin (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    margin REAL NOT NULL
);

-- Capital allocated to each strategy; the newest row (by id) of a strategy is its capital.
CREATE TABLE strategy_capital (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy TEXT NOT NULL,
    at       TEXT NOT NULL,
    capital  REAL NOT NULL
);
CREATE INDEX strategy_capital_by_strategy ON strategy_capital (strategy, id);
