//! Writes sent to SQLite together: a [`Batch`] is several statements in one query string, so
//! they cost one hand-off to sqlx's connection thread instead of one each (SQLite runs them in
//! order and stops at the first error). It is always run inside the caller's transaction, which
//! makes the statements atomic: a failure rolls all of them back with the rest of it.
//!
//! Position moves are written this way: the position upserted, then the change recorded with
//! the position it produced (read back in the same statement).

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Encode, Sqlite, SqliteConnection, Type};

use super::db;
use crate::adapters::store::sqlite::ts;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::orders::{OrderError, OrderId};

/// Statements and their arguments, in order.
#[derive(Default)]
pub(crate) struct Batch {
    sql: String,
    args: SqliteArguments<'static>,
}

impl Batch {
    /// Appends a statement; its `?` are bound by the [`Batch::bind`] calls that follow.
    pub fn add(&mut self, statement: &str) -> &mut Self {
        self.sql.push_str(statement);
        self.sql.push_str(";\n");
        self
    }

    pub fn bind<T>(&mut self, value: T) -> Result<&mut Self, OrderError>
    where
        T: 'static + Send + Encode<'static, Sqlite> + Type<Sqlite>,
    {
        self.args.add(value).map_err(|e| OrderError::Database {
            detail: format!("cannot bind a value: {e}"),
        })?;
        Ok(self)
    }

    /// Runs every statement (nothing when empty).
    pub async fn run(self, conn: &mut SqliteConnection) -> Result<(), OrderError> {
        if self.sql.is_empty() {
            return Ok(());
        }
        sqlx::query_with(&self.sql, self.args)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        Ok(())
    }
}

/// Adds `change` to a strategy's position and records it.
pub(crate) fn move_strategy_position(
    batch: &mut Batch,
    strategy: &str,
    instrument: &InstrumentCode,
    change: i64,
    order_id: OrderId,
    exec_id: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), OrderError> {
    if change == 0 {
        return Ok(());
    }
    batch
        .add(
            "INSERT INTO strategy_positions (strategy, instrument, position, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (strategy, instrument) DO UPDATE SET position = position + excluded.position, updated_at = excluded.updated_at",
        )
        .bind(strategy.to_string())?
        .bind(instrument.as_str().to_string())?
        .bind(change)?
        .bind(ts(at))?
        .add(
            "INSERT INTO position_changes (level, strategy, instrument, contract, change, position, order_id, exec_id, at)
             SELECT 'strategy', strategy, instrument, '', ?, position, ?, ?, ?
             FROM strategy_positions WHERE strategy = ? AND instrument = ?",
        )
        .bind(change)?
        .bind(order_id)?
        .bind(exec_id.map(str::to_string))?
        .bind(ts(at))?
        .bind(strategy.to_string())?
        .bind(instrument.as_str().to_string())?;
    Ok(())
}

/// Adds `change` to the position in a contract and records it.
pub(crate) fn move_contract_position(
    batch: &mut Batch,
    instrument: &InstrumentCode,
    contract: ContractId,
    change: i64,
    order_id: OrderId,
    exec_id: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), OrderError> {
    if change == 0 {
        return Ok(());
    }
    batch
        .add(
            "INSERT INTO contract_positions (instrument, contract, position, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (instrument, contract) DO UPDATE SET position = position + excluded.position, updated_at = excluded.updated_at",
        )
        .bind(instrument.as_str().to_string())?
        .bind(contract.to_string())?
        .bind(change)?
        .bind(ts(at))?
        .add(
            "INSERT INTO position_changes (level, strategy, instrument, contract, change, position, order_id, exec_id, at)
             SELECT 'contract', '', instrument, contract, ?, position, ?, ?, ?
             FROM contract_positions WHERE instrument = ? AND contract = ?",
        )
        .bind(change)?
        .bind(order_id)?
        .bind(exec_id.map(str::to_string))?
        .bind(ts(at))?
        .bind(instrument.as_str().to_string())?
        .bind(contract.to_string())?;
    Ok(())
}

/// Locks an instrument unless it is locked already.
pub(crate) fn lock(
    batch: &mut Batch,
    instrument: &InstrumentCode,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), OrderError> {
    batch
        .add(
            "INSERT INTO instrument_locks (instrument, reason, locked_at) VALUES (?, ?, ?)
             ON CONFLICT (instrument) DO NOTHING",
        )
        .bind(instrument.as_str().to_string())?
        .bind(reason.to_string())?
        .bind(ts(at))?;
    Ok(())
}
