//! [`ControlStore`] (overrides, position limits, trade limits and their history) on the run
//! store's SQLite file and pool: tables from migrations `20261124000005_controls.sql` and
//! `20261125000010_trade_limits.sql` (trade limits in [`trade_limits`]). Every change reads the
//! previous value, writes, and records the change in one `BEGIN IMMEDIATE` transaction.

mod trade_limits;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::sqlite::{ts, SqliteRunStore};
use crate::domain::controls::*;
use crate::domain::instrument::InstrumentCode;

fn db(e: sqlx::Error) -> ControlError {
    ControlError::Database {
        detail: e.to_string(),
    }
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> ControlError {
    ControlError::Corrupt {
        what: what.into(),
        detail: detail.to_string(),
    }
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, ControlError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("timestamp", format!("`{s}`: {e}")))
}

fn get<'r, T>(r: &'r SqliteRow, column: &str) -> Result<T, ControlError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    r.try_get(column).map_err(db)
}

/// '' is "any".
fn optional(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn strategy(s: &str) -> Result<StrategyName, ControlError> {
    StrategyName::new(s).map_err(|e| corrupt("strategy name", e))
}

fn instrument(s: &str) -> Result<InstrumentCode, ControlError> {
    InstrumentCode::new(s).map_err(|e| corrupt("instrument code", e))
}

/// (strategy, instrument) columns of a scope.
fn override_key(scope: &OverrideScope) -> (&str, &str) {
    (
        scope.strategy().map(|s| s.as_str()).unwrap_or(""),
        scope.instrument().map(|i| i.as_str()).unwrap_or(""),
    )
}

fn limit_key(scope: &LimitScope) -> (&str, &str) {
    (
        scope.strategy().map(|s| s.as_str()).unwrap_or(""),
        scope.instrument().as_str(),
    )
}

fn override_from_row(r: &SqliteRow) -> Result<OverrideRecord, ControlError> {
    let s = optional(get::<String>(r, "strategy")?)
        .map(|s| strategy(&s))
        .transpose()?;
    let i = optional(get::<String>(r, "instrument")?)
        .map(|i| instrument(&i))
        .transpose()?;
    let scope = OverrideScope::from_parts(s, i)
        .ok_or_else(|| corrupt("override", "neither strategy nor instrument"))?;
    let value: f64 = get(r, "value")?;
    Ok(OverrideRecord {
        scope,
        value: Override::from_numeric(value).map_err(|e| corrupt("override value", e))?,
        updated_at: parse_ts(&get::<String>(r, "updated_at")?)?,
    })
}

fn limit_from_row(r: &SqliteRow) -> Result<LimitRecord, ControlError> {
    let s = optional(get::<String>(r, "strategy")?)
        .map(|s| strategy(&s))
        .transpose()?;
    let i = instrument(&get::<String>(r, "instrument")?)?;
    let max: Option<i64> = get(r, "max_contracts")?;
    let limit = match max {
        None => PositionLimit::NoLimit,
        Some(n) => PositionLimit::Contracts(
            u64::try_from(n).map_err(|_| corrupt("position limit", format!("{n} < 0")))?,
        ),
    };
    Ok(LimitRecord {
        scope: LimitScope::new(s, i),
        limit,
        updated_at: parse_ts(&get::<String>(r, "updated_at")?)?,
    })
}

/// Ordering of lists: strategies, then instruments, then pairs (overrides); instruments, then
/// pairs (limits); each by name.
const OVERRIDE_ORDER: &str =
    "ORDER BY (instrument <> '') + 2 * (strategy <> '' AND instrument <> ''), \
     strategy, instrument";
const LIMIT_ORDER: &str = "ORDER BY strategy <> '', instrument, strategy";

async fn override_in(
    conn: &mut SqliteConnection,
    scope: &OverrideScope,
) -> Result<Option<OverrideRecord>, ControlError> {
    let (s, i) = override_key(scope);
    let row = sqlx::query("SELECT * FROM overrides WHERE strategy = ? AND instrument = ?")
        .bind(s)
        .bind(i)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.map(|r| override_from_row(&r)).transpose()
}

async fn limit_in(
    conn: &mut SqliteConnection,
    scope: &LimitScope,
) -> Result<Option<LimitRecord>, ControlError> {
    let (s, i) = limit_key(scope);
    let row = sqlx::query("SELECT * FROM position_limits WHERE strategy = ? AND instrument = ?")
        .bind(s)
        .bind(i)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.map(|r| limit_from_row(&r)).transpose()
}

struct Change<'a> {
    control: &'a str,
    strategy: &'a str,
    instrument: &'a str,
    old: Option<String>,
    new: Option<String>,
    at: DateTime<Utc>,
}

async fn record_change(conn: &mut SqliteConnection, c: Change<'_>) -> Result<(), ControlError> {
    sqlx::query(
        "INSERT INTO control_changes (control, strategy, instrument, old_value, new_value, at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(c.control)
    .bind(c.strategy)
    .bind(c.instrument)
    .bind(c.old)
    .bind(c.new)
    .bind(ts(c.at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Sets the `column` of the (strategy, instrument) row of `table` (one of the controls tables)
/// to `value`, and records the change.
async fn upsert_control<V>(
    conn: &mut SqliteConnection,
    table: &'static str,
    column: &'static str,
    value: V,
    c: Change<'_>,
) -> Result<(), ControlError>
where
    V: 'static + Send + for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    let sql = format!(
        "INSERT INTO {table} (strategy, instrument, {column}, updated_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (strategy, instrument) DO UPDATE SET {column} = excluded.{column}, \
         updated_at = excluded.updated_at"
    );
    sqlx::query(&sql)
        .bind(c.strategy)
        .bind(c.instrument)
        .bind(value)
        .bind(ts(c.at))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    record_change(conn, c).await
}

/// Deletes the (strategy, instrument) row of `table` (one of the controls tables) and records
/// the change.
async fn delete_control(
    conn: &mut SqliteConnection,
    table: &'static str,
    c: Change<'_>,
) -> Result<(), ControlError> {
    sqlx::query(&format!(
        "DELETE FROM {table} WHERE strategy = ? AND instrument = ?"
    ))
    .bind(c.strategy)
    .bind(c.instrument)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    record_change(conn, c).await
}

fn limit_column(limit: PositionLimit) -> Result<Option<i64>, ControlError> {
    limit
        .contracts()
        .map(|n| {
            i64::try_from(n).map_err(|_| ControlError::Database {
                detail: format!("position limit {n} is too large to store"),
            })
        })
        .transpose()
}

impl SqliteRunStore {
    async fn immediate(&self) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, ControlError> {
        self.pool().begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

#[async_trait]
impl ControlStore for SqliteRunStore {
    async fn overrides(&self) -> Result<Vec<OverrideRecord>, ControlError> {
        let rows = sqlx::query(&format!("SELECT * FROM overrides {OVERRIDE_ORDER}"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(override_from_row).collect()
    }

    async fn override_for(
        &self,
        scope: &OverrideScope,
    ) -> Result<Option<OverrideRecord>, ControlError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        override_in(&mut conn, scope).await
    }

    async fn set_override(
        &self,
        scope: &OverrideScope,
        value: Override,
        at: DateTime<Utc>,
    ) -> Result<Option<OverrideRecord>, ControlError> {
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let previous = override_in(&mut tx, scope).await?;
        let (s, i) = override_key(scope);
        upsert_control(
            &mut tx,
            "overrides",
            "value",
            value.to_numeric(),
            Change {
                control: "override",
                strategy: s,
                instrument: i,
                old: previous.as_ref().map(|p| p.value.to_string()),
                new: Some(value.to_string()),
                at,
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(previous)
    }

    async fn delete_override(
        &self,
        scope: &OverrideScope,
        at: DateTime<Utc>,
    ) -> Result<Option<OverrideRecord>, ControlError> {
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let previous = override_in(&mut tx, scope).await?;
        if let Some(p) = &previous {
            let (s, i) = override_key(scope);
            delete_control(
                &mut tx,
                "overrides",
                Change {
                    control: "override",
                    strategy: s,
                    instrument: i,
                    old: Some(p.value.to_string()),
                    new: None,
                    at,
                },
            )
            .await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(previous)
    }

    async fn position_limits(&self) -> Result<Vec<LimitRecord>, ControlError> {
        let rows = sqlx::query(&format!("SELECT * FROM position_limits {LIMIT_ORDER}"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(limit_from_row).collect()
    }

    async fn position_limit(
        &self,
        scope: &LimitScope,
    ) -> Result<Option<LimitRecord>, ControlError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        limit_in(&mut conn, scope).await
    }

    async fn set_position_limit(
        &self,
        scope: &LimitScope,
        limit: PositionLimit,
        at: DateTime<Utc>,
    ) -> Result<Option<LimitRecord>, ControlError> {
        let column = limit_column(limit)?;
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let previous = limit_in(&mut tx, scope).await?;
        let (s, i) = limit_key(scope);
        upsert_control(
            &mut tx,
            "position_limits",
            "max_contracts",
            column,
            Change {
                control: "position_limit",
                strategy: s,
                instrument: i,
                old: previous.as_ref().map(|p| p.limit.to_string()),
                new: Some(limit.to_string()),
                at,
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(previous)
    }

    async fn delete_position_limit(
        &self,
        scope: &LimitScope,
        at: DateTime<Utc>,
    ) -> Result<Option<LimitRecord>, ControlError> {
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let previous = limit_in(&mut tx, scope).await?;
        if let Some(p) = &previous {
            let (s, i) = limit_key(scope);
            delete_control(
                &mut tx,
                "position_limits",
                Change {
                    control: "position_limit",
                    strategy: s,
                    instrument: i,
                    old: Some(p.limit.to_string()),
                    new: None,
                    at,
                },
            )
            .await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(previous)
    }

    async fn control_changes(&self, limit: i64) -> Result<Vec<ControlChange>, ControlError> {
        let rows = sqlx::query("SELECT * FROM control_changes ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(ControlChange {
                    id: get(r, "id")?,
                    control: get(r, "control")?,
                    strategy: optional(get::<String>(r, "strategy")?),
                    instrument: optional(get::<String>(r, "instrument")?),
                    old: get(r, "old_value")?,
                    new: get(r, "new_value")?,
                    at: parse_ts(&get::<String>(r, "at")?)?,
                })
            })
            .collect()
    }

    async fn trade_limits(&self, now: DateTime<Utc>) -> Result<Vec<TradeLimit>, ControlError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        let mut all = trade_limits::all(&mut conn).await?;
        for l in &mut all {
            l.reset_if_due(now);
        }
        Ok(all)
    }

    async fn set_trade_limit(
        &self,
        strategy: Option<&StrategyName>,
        instrument: &InstrumentCode,
        period_days: u32,
        limit: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<TradeLimit>, ControlError> {
        let key = trade_limits::Key::new(strategy, instrument, period_days)?;
        let mut tx = self.immediate().await?;
        let previous = trade_limits::set(&mut tx, &key, limit, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(previous)
    }

    async fn reset_trade_limit(
        &self,
        strategy: Option<&StrategyName>,
        instrument: &InstrumentCode,
        period_days: u32,
        at: DateTime<Utc>,
    ) -> Result<Option<TradeLimit>, ControlError> {
        let key = trade_limits::Key::new(strategy, instrument, period_days)?;
        let mut tx = self.immediate().await?;
        let previous = trade_limits::reset(&mut tx, &key, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(previous)
    }

    async fn delete_trade_limit(
        &self,
        strategy: Option<&StrategyName>,
        instrument: &InstrumentCode,
        period_days: u32,
        at: DateTime<Utc>,
    ) -> Result<Option<TradeLimit>, ControlError> {
        let key = trade_limits::Key::new(strategy, instrument, period_days)?;
        let mut tx = self.immediate().await?;
        let previous = trade_limits::delete(&mut tx, &key, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(previous)
    }

    async fn record_trade(
        &self,
        strategy: &str,
        instrument: &InstrumentCode,
        abs_qty: i64,
        at: DateTime<Utc>,
    ) -> Result<Vec<TradeLimit>, ControlError> {
        let mut tx = self.immediate().await?;
        let written = trade_limits::record(&mut tx, strategy, instrument, abs_qty, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests;
