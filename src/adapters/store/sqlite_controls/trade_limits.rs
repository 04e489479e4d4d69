//! Trade limits (B15) in the `trade_limits` table (migration `20261125000010_trade_limits.sql`):
//! reads apply the rolling-period rule in memory; every write reads the row, applies the rule as
//! of its time, changes it and writes it back in the caller's `BEGIN IMMEDIATE` transaction.
//! A person's changes (set, reset, delete) go to `control_changes` as `trade_limit`; the trades
//! the stack handler counts do not.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

use super::{corrupt, db, get, optional, parse_ts, record_change, strategy, Change};
use crate::adapters::store::sqlite::ts;
use crate::domain::controls::{ControlError, StrategyName, TradeLimit};
use crate::domain::execution::relevant;
use crate::domain::instrument::InstrumentCode;

/// Instrument-wide limits first, then strategies' instruments; each by instrument, strategy and
/// period.
const ORDER: &str = "ORDER BY strategy <> '', instrument, strategy, period_days";

/// The key columns: (strategy, '' for instrument-wide; instrument; period).
pub(super) struct Key<'a> {
    pub strategy: &'a str,
    pub instrument: &'a str,
    pub period_days: u32,
}

impl<'a> Key<'a> {
    pub fn new(
        strategy: Option<&'a StrategyName>,
        instrument: &'a InstrumentCode,
        period_days: u32,
    ) -> Result<Self, ControlError> {
        if period_days == 0 {
            return Err(ControlError::Invalid(
                "a trade limit's period must be at least 1 day".into(),
            ));
        }
        Ok(Key {
            strategy: strategy.map(|s| s.as_str()).unwrap_or(""),
            instrument: instrument.as_str(),
            period_days,
        })
    }

    fn of(l: &'a TradeLimit) -> Self {
        Key {
            strategy: l.strategy.as_deref().unwrap_or(""),
            instrument: &l.instrument,
            period_days: l.period_days,
        }
    }
}

fn from_row(r: &SqliteRow) -> Result<TradeLimit, ControlError> {
    let s = optional(get::<String>(r, "strategy")?)
        .map(|s| strategy(&s).map(|n| n.as_str().to_string()))
        .transpose()?;
    let instrument = super::instrument(&get::<String>(r, "instrument")?)?;
    let period: i64 = get(r, "period_days")?;
    let period_days = u32::try_from(period)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| corrupt("trade limit period", format!("{period} days")))?;
    let limit: i64 = get(r, "limit")?;
    let trades: i64 = get(r, "trades_since_reset")?;
    if limit < 0 || trades < 0 {
        return Err(corrupt(
            "trade limit",
            format!("limit {limit}, trades {trades}"),
        ));
    }
    Ok(TradeLimit {
        strategy: s,
        instrument: instrument.to_string(),
        limit,
        period_days,
        trades_since_reset: trades,
        last_reset: parse_ts(&get::<String>(r, "last_reset")?)?,
    })
}

/// Every limit as stored (the period rule not applied).
pub(super) async fn all(conn: &mut SqliteConnection) -> Result<Vec<TradeLimit>, ControlError> {
    let rows = sqlx::query(&format!("SELECT * FROM trade_limits {ORDER}"))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    rows.iter().map(from_row).collect()
}

/// One key's limit as stored.
pub(super) async fn one(
    conn: &mut SqliteConnection,
    key: &Key<'_>,
) -> Result<Option<TradeLimit>, ControlError> {
    let row = sqlx::query(
        "SELECT * FROM trade_limits WHERE strategy = ? AND instrument = ? AND period_days = ?",
    )
    .bind(key.strategy)
    .bind(key.instrument)
    .bind(i64::from(key.period_days))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.map(|r| from_row(&r)).transpose()
}

/// Writes a limit a person changed (insert or replace), `updated_at` = `at`.
async fn upsert(
    conn: &mut SqliteConnection,
    l: &TradeLimit,
    at: DateTime<Utc>,
) -> Result<(), ControlError> {
    let key = Key::of(l);
    sqlx::query(
        "INSERT INTO trade_limits (strategy, instrument, period_days, \"limit\", \
         trades_since_reset, last_reset, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (strategy, instrument, period_days) DO UPDATE SET \
         \"limit\" = excluded.\"limit\", trades_since_reset = excluded.trades_since_reset, \
         last_reset = excluded.last_reset, updated_at = excluded.updated_at",
    )
    .bind(key.strategy)
    .bind(key.instrument)
    .bind(i64::from(key.period_days))
    .bind(l.limit)
    .bind(l.trades_since_reset)
    .bind(ts(l.last_reset))
    .bind(ts(at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Writes a limit's count and clock (`updated_at` stays: no person changed it).
async fn update_count(conn: &mut SqliteConnection, l: &TradeLimit) -> Result<(), ControlError> {
    let key = Key::of(l);
    sqlx::query(
        "UPDATE trade_limits SET trades_since_reset = ?, last_reset = ? \
         WHERE strategy = ? AND instrument = ? AND period_days = ?",
    )
    .bind(l.trades_since_reset)
    .bind(ts(l.last_reset))
    .bind(key.strategy)
    .bind(key.instrument)
    .bind(i64::from(key.period_days))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// How a limit reads in the history: `4 per 1 day (3 traded)`.
fn describe(l: &TradeLimit) -> String {
    let days = if l.period_days == 1 { "day" } else { "days" };
    format!(
        "{} per {} {days} ({} traded)",
        l.limit, l.period_days, l.trades_since_reset
    )
}

fn change<'a>(
    key: &Key<'a>,
    old: Option<&TradeLimit>,
    new: Option<&TradeLimit>,
    at: DateTime<Utc>,
) -> Change<'a> {
    Change {
        control: "trade_limit",
        strategy: key.strategy,
        instrument: key.instrument,
        old: old.map(describe),
        new: new.map(describe),
        at,
    }
}

/// Sets a key's limit; returns the previous limit as of `at`.
pub(super) async fn set(
    conn: &mut SqliteConnection,
    key: &Key<'_>,
    limit: i64,
    at: DateTime<Utc>,
) -> Result<Option<TradeLimit>, ControlError> {
    if limit < 0 {
        return Err(ControlError::Invalid(format!(
            "a trade limit must be 0 or more contracts, not {limit}"
        )));
    }
    let mut previous = one(conn, key).await?;
    if let Some(p) = &mut previous {
        p.reset_if_due(at);
    }
    let new = match &previous {
        Some(p) => TradeLimit { limit, ..p.clone() },
        None => TradeLimit {
            strategy: optional(key.strategy.to_string()),
            instrument: key.instrument.to_string(),
            limit,
            period_days: key.period_days,
            trades_since_reset: 0,
            last_reset: at,
        },
    };
    upsert(conn, &new, at).await?;
    record_change(conn, change(key, previous.as_ref(), Some(&new), at)).await?;
    Ok(previous)
}

/// Restarts a key's period at `at` (0 trades); returns the limit before, as of `at`.
pub(super) async fn reset(
    conn: &mut SqliteConnection,
    key: &Key<'_>,
    at: DateTime<Utc>,
) -> Result<Option<TradeLimit>, ControlError> {
    let Some(mut previous) = one(conn, key).await? else {
        return Ok(None);
    };
    previous.reset_if_due(at);
    let new = TradeLimit {
        trades_since_reset: 0,
        last_reset: at,
        ..previous.clone()
    };
    upsert(conn, &new, at).await?;
    record_change(conn, change(key, Some(&previous), Some(&new), at)).await?;
    Ok(Some(previous))
}

/// Deletes a key's limit; returns it as of `at`.
pub(super) async fn delete(
    conn: &mut SqliteConnection,
    key: &Key<'_>,
    at: DateTime<Utc>,
) -> Result<Option<TradeLimit>, ControlError> {
    let Some(mut previous) = one(conn, key).await? else {
        return Ok(None);
    };
    previous.reset_if_due(at);
    sqlx::query(
        "DELETE FROM trade_limits WHERE strategy = ? AND instrument = ? AND period_days = ?",
    )
    .bind(key.strategy)
    .bind(key.instrument)
    .bind(i64::from(key.period_days))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    record_change(conn, change(key, Some(&previous), None, at)).await?;
    Ok(Some(previous))
}

/// Adds `abs_qty` to every limit relevant to an order of `strategy` in `instrument`, each after
/// the period rule as of `at`; returns them as written.
pub(super) async fn record(
    conn: &mut SqliteConnection,
    strategy: &str,
    instrument: &InstrumentCode,
    abs_qty: i64,
    at: DateTime<Utc>,
) -> Result<Vec<TradeLimit>, ControlError> {
    let rows = sqlx::query(&format!(
        "SELECT * FROM trade_limits WHERE instrument = ? {ORDER}"
    ))
    .bind(instrument.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let stored: Vec<TradeLimit> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    let mut written = Vec::new();
    for l in relevant(&stored, strategy, instrument.as_str()) {
        let mut l = l.clone();
        l.reset_if_due(at);
        l.record(abs_qty);
        update_count(conn, &l).await?;
        written.push(l);
    }
    Ok(written)
}
