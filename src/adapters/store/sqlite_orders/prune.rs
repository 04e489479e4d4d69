//! The archived-orders cleaner's SQL: whole families (instrument order, its contract orders,
//! their broker orders and executions) archived before a cutoff, deleted children first (the
//! tables' foreign keys) in one `BEGIN IMMEDIATE` transaction. A family with anything still on
//! a stack is never touched; positions and `position_changes` stay.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::{db, opt_ts};
use crate::adapters::store::sqlite::ts;
use crate::domain::orders::{OrderError, PrunedOrders};

/// The instrument orders whose family goes: archived, completed (or, for an order without a
/// completion time, generated) before the cutoff `?`, and nothing below them active.
const FAMILIES: &str = "SELECT io.id FROM instrument_orders io
    WHERE io.active = 0 AND COALESCE(io.completed_at, io.generated_at) < ?1
      AND NOT EXISTS (SELECT 1 FROM contract_orders co WHERE co.parent_id = io.id AND co.active = 1)
      AND NOT EXISTS (SELECT 1 FROM broker_orders bo JOIN contract_orders co ON bo.parent_id = co.id
                      WHERE co.parent_id = io.id AND bo.active = 1)";

pub(super) async fn prune_archived_orders(
    pool: &SqlitePool,
    before: DateTime<Utc>,
    dry_run: bool,
) -> Result<PrunedOrders, OrderError> {
    let cutoff = ts(before);
    let contracts = format!("SELECT id FROM contract_orders WHERE parent_id IN ({FAMILIES})");
    let brokers = format!("SELECT id FROM broker_orders WHERE parent_id IN ({contracts})");
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    let (count, oldest, newest): (i64, Option<String>, Option<String>) = sqlx::query_as(&format!(
        "SELECT COUNT(*), MIN(COALESCE(completed_at, generated_at)),
                MAX(COALESCE(completed_at, generated_at))
         FROM instrument_orders WHERE id IN ({FAMILIES})"
    ))
    .bind(&cutoff)
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    let mut sizes = [0u64; 3];
    for (k, sql) in [
        format!("SELECT COUNT(*) FROM contract_orders WHERE id IN ({contracts})"),
        format!("SELECT COUNT(*) FROM broker_orders WHERE id IN ({brokers})"),
        format!("SELECT COUNT(*) FROM order_executions WHERE broker_order_id IN ({brokers})"),
    ]
    .into_iter()
    .enumerate()
    {
        let c: i64 = sqlx::query_scalar(&sql)
            .bind(&cutoff)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        sizes[k] = u64::try_from(c).unwrap_or(0);
    }
    if !dry_run && count > 0 {
        for sql in [
            format!("DELETE FROM order_executions WHERE broker_order_id IN ({brokers})"),
            format!("DELETE FROM broker_orders WHERE id IN ({brokers})"),
            format!("DELETE FROM contract_orders WHERE id IN ({contracts})"),
            format!("DELETE FROM instrument_orders WHERE id IN ({FAMILIES})"),
        ] {
            sqlx::query(&sql)
                .bind(&cutoff)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
    }
    tx.commit().await.map_err(db)?;
    Ok(PrunedOrders {
        instrument_orders: u64::try_from(count).unwrap_or(0),
        contract_orders: sizes[0],
        broker_orders: sizes[1],
        executions: sizes[2],
        oldest: opt_ts(oldest)?,
        newest: opt_ts(newest)?,
    })
}
