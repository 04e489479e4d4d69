-- The three order stacks (§B12, §B32), positions, instrument locks and the stack handler's
-- state. Times are UTC, RFC 3339 with microseconds. An order stays in its table for life:
-- `active = 1` is the stack, `active = 0` the historic table (archived on completion); ids come
-- from AUTOINCREMENT and are never reused.

CREATE TABLE instrument_orders (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy           TEXT NOT NULL,
    instrument         TEXT NOT NULL,
    trade              INTEGER NOT NULL,
    fill               INTEGER NOT NULL DEFAULT 0,
    filled_price       REAL,
    fill_time          TEXT,
    order_type         TEXT NOT NULL,
    limit_price        REAL,
    reference_price    REAL,
    reference_contract TEXT,
    reference_time     TEXT,
    generated_at       TEXT NOT NULL,
    manual             INTEGER NOT NULL DEFAULT 0,
    roll_order         INTEGER NOT NULL DEFAULT 0,
    active             INTEGER NOT NULL DEFAULT 1,
    cancel_requested   INTEGER NOT NULL DEFAULT 0,
    completed_at       TEXT
);
CREATE INDEX instrument_orders_active ON instrument_orders (active, strategy, instrument);

-- legs: JSON [{"contract": "20261200", "trade": 2, "fill": 0, "filled_price": null}, ...]
CREATE TABLE contract_orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id       INTEGER NOT NULL REFERENCES instrument_orders (id),
    strategy        TEXT NOT NULL,
    instrument      TEXT NOT NULL,
    legs            TEXT NOT NULL,
    order_type      TEXT NOT NULL,
    limit_price     REAL,
    reference_price REAL,
    roll_order      INTEGER NOT NULL DEFAULT 0,
    manual          INTEGER NOT NULL DEFAULT 0,
    active          INTEGER NOT NULL DEFAULT 1,
    generated_at    TEXT NOT NULL,
    completed_at    TEXT
);
CREATE INDEX contract_orders_parent ON contract_orders (parent_id);
CREATE INDEX contract_orders_active ON contract_orders (active);

CREATE TABLE broker_orders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id     INTEGER NOT NULL REFERENCES contract_orders (id),
    strategy      TEXT NOT NULL,
    instrument    TEXT NOT NULL,
    contract      TEXT NOT NULL,
    trade         INTEGER NOT NULL,
    fill          INTEGER NOT NULL DEFAULT 0,
    filled_price  REAL,
    fill_time     TEXT,
    order_type    TEXT NOT NULL,
    limit_price   REAL,
    order_ref     TEXT NOT NULL UNIQUE,
    broker_id     TEXT,
    status        TEXT NOT NULL CHECK (status IN ('created', 'sent', 'filled', 'cancelled', 'rejected')),
    algo          TEXT NOT NULL,
    side_price    REAL,
    offside_price REAL,
    mid_price     REAL,
    commission    REAL NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    submitted_at  TEXT,
    aggressive_at TEXT,
    reason        TEXT,
    active        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX broker_orders_parent ON broker_orders (parent_id);
CREATE INDEX broker_orders_active ON broker_orders (active);

-- Every execution applied, once: the exec id is the key that makes a repeated report harmless.
CREATE TABLE order_executions (
    exec_id         TEXT PRIMARY KEY,
    broker_order_id INTEGER NOT NULL REFERENCES broker_orders (id),
    quantity        INTEGER NOT NULL,
    price           REAL NOT NULL,
    commission      REAL NOT NULL,
    currency        TEXT NOT NULL,
    executed_at     TEXT NOT NULL,
    overfill        INTEGER NOT NULL DEFAULT 0,
    applied_at      TEXT NOT NULL
);

CREATE TABLE strategy_positions (
    strategy   TEXT NOT NULL,
    instrument TEXT NOT NULL,
    position   INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (strategy, instrument)
);

CREATE TABLE contract_positions (
    instrument TEXT NOT NULL,
    contract   TEXT NOT NULL,
    position   INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (instrument, contract)
);

-- Every position change: level 'strategy' (contract '') or 'contract' (strategy '').
CREATE TABLE position_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    level      TEXT NOT NULL CHECK (level IN ('strategy', 'contract')),
    strategy   TEXT NOT NULL,
    instrument TEXT NOT NULL,
    contract   TEXT NOT NULL,
    change     INTEGER NOT NULL,
    position   INTEGER NOT NULL,
    order_id   INTEGER,
    exec_id    TEXT,
    at         TEXT NOT NULL
);

CREATE TABLE instrument_locks (
    instrument TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    locked_at  TEXT NOT NULL
);

-- Small key/value state of the stack handler (`executions_synced_at`).
CREATE TABLE order_handler_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
