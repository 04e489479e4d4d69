-- Optimal positions (B11): what run_systems computed for each (strategy, instrument), kept as
-- history; the latest row of a pair is its current optimal position.
-- Times are UTC RFC 3339; dates YYYY-MM-DD; contract ids YYYYMMDD.

CREATE TABLE optimal_positions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy           TEXT    NOT NULL,
    instrument         TEXT    NOT NULL,
    computed_at        TEXT    NOT NULL,
    date               TEXT    NOT NULL,
    optimal            REAL    NOT NULL,
    lower              REAL    NOT NULL,
    upper              REAL    NOT NULL,
    reference_price    REAL    NOT NULL,
    reference_contract TEXT
);
CREATE INDEX optimal_positions_by_pair ON optimal_positions (strategy, instrument, id);
