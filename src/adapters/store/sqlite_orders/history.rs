//! The positions' history: `position_changes`, with the price and time of the execution each
//! change came from (none for balance trades).

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::{contract, db, get, instrument, parse_ts};
use crate::adapters::store::sqlite::ts;
use crate::domain::orders::{OrderError, PositionChange};

pub(super) async fn position_changes(
    pool: &SqlitePool,
    since: DateTime<Utc>,
) -> Result<Vec<PositionChange>, OrderError> {
    let rows = sqlx::query(
        "SELECT pc.level, pc.strategy, pc.instrument, pc.contract, pc.change, pc.position, pc.at,
                oe.price, oe.executed_at
         FROM position_changes pc LEFT JOIN order_executions oe ON oe.exec_id = pc.exec_id
         WHERE COALESCE(oe.executed_at, pc.at) >= ?
         ORDER BY COALESCE(oe.executed_at, pc.at), pc.id",
    )
    .bind(ts(since))
    .fetch_all(pool)
    .await
    .map_err(db)?;
    rows.iter()
        .map(|r| {
            let level: String = get(r, "level")?;
            let executed: Option<String> = get(r, "executed_at")?;
            let at: String = get(r, "at")?;
            Ok(PositionChange {
                contract: if level == "contract" {
                    Some(contract(&get::<String>(r, "contract")?)?)
                } else {
                    None
                },
                strategy: get(r, "strategy")?,
                instrument: instrument(&get::<String>(r, "instrument")?)?,
                change: get(r, "change")?,
                position: get(r, "position")?,
                at: parse_ts(executed.as_deref().unwrap_or(&at))?,
                price: get(r, "price")?,
            })
        })
        .collect()
}
