-- The simulated broker's state (adapters::sim_broker): its orders, executions, positions per
-- contract, cash and commissions per currency, and id counters. Every state change (an order
-- placed and filled, a fill, a cancel) is one transaction, so a restart finds it intact.
-- Times are UTC RFC 3339; contract ids YYYYMMDD.

CREATE TABLE sim_orders (
    seq            INTEGER PRIMARY KEY,
    broker_id      TEXT    NOT NULL,
    order_ref      TEXT    NOT NULL UNIQUE,
    instrument     TEXT    NOT NULL,
    contract       INTEGER NOT NULL,
    quantity       INTEGER NOT NULL,
    limit_price    REAL,
    status         TEXT    NOT NULL,
    filled         INTEGER NOT NULL,
    avg_fill_price REAL,
    reason         TEXT,
    updated_at     TEXT    NOT NULL
);

CREATE TABLE sim_executions (
    seq                 INTEGER PRIMARY KEY,
    exec_id             TEXT    NOT NULL,
    broker_id           TEXT    NOT NULL,
    order_ref           TEXT    NOT NULL,
    instrument          TEXT    NOT NULL,
    contract            INTEGER NOT NULL,
    quantity            INTEGER NOT NULL,
    price               REAL    NOT NULL,
    ts                  TEXT    NOT NULL,
    commission          REAL    NOT NULL,
    commission_currency TEXT    NOT NULL
);

CREATE TABLE sim_positions (
    instrument TEXT    NOT NULL,
    contract   INTEGER NOT NULL,
    quantity   INTEGER NOT NULL,
    PRIMARY KEY (instrument, contract)
);

CREATE TABLE sim_cash (
    currency    TEXT PRIMARY KEY,
    cash        REAL NOT NULL,
    commissions REAL NOT NULL
);
