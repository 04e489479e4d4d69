//! The order store's fill path and archive, each called inside one transaction: applying an
//! execution upward (broker order → contract leg and contract position → instrument order and
//! strategy position), completing order families, clearing a stack, and balance trades.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use std::collections::HashMap;

use super::batch::{lock, move_contract_position, move_strategy_position, Batch};
use super::{
    broker_order_from_row, child_ids, contract_order_from_row, contract_order_in, db, get, id_list,
    insert_instrument_order, instrument_order_from_row, instrument_order_in, legs_from_json,
    legs_to_json,
};
use crate::adapters::store::sqlite::ts;
use crate::domain::broker::Execution;
use crate::domain::instrument::InstrumentCode;
use crate::domain::orders::fills::{overfill, remaining, weighted_average};
use crate::domain::orders::*;

/// What applying an execution reads: whether its id was applied, its broker order, and the
/// parts of the contract and instrument orders above that it moves — in one query.
const EXECUTION_FAMILY: &str = "
    SELECT EXISTS (SELECT 1 FROM order_executions WHERE exec_id = ?) AS seen,
           b.*,
           c.id AS co_id, c.parent_id AS co_parent, c.legs AS co_legs,
           i.id AS io_id, i.strategy AS io_strategy, i.instrument AS io_instrument,
           i.order_type AS io_order_type, i.fill AS io_fill, i.filled_price AS io_filled_price
    FROM (SELECT 1) AS one
    LEFT JOIN broker_orders b ON b.order_ref = ?
    LEFT JOIN contract_orders c ON c.id = b.parent_id
    LEFT JOIN instrument_orders i ON i.id = c.parent_id";

pub(super) async fn apply_execution(
    conn: &mut SqliteConnection,
    e: Execution,
    at: DateTime<Utc>,
) -> Result<FillOutcome, OrderError> {
    let row = sqlx::query(EXECUTION_FAMILY)
        .bind(&e.exec_id)
        .bind(&e.order_ref)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    if get::<bool>(&row, "seen")? {
        return Ok(FillOutcome::Duplicate);
    }
    if get::<Option<i64>>(&row, "id")?.is_none() {
        return Ok(FillOutcome::NotOurs);
    }
    let bo = broker_order_from_row(&row)?;
    let Some(co_id) = get::<Option<i64>>(&row, "co_id")? else {
        return Err(OrderError::NotFound {
            level: "contract",
            id: bo.parent,
        });
    };
    let co_parent: i64 = get(&row, "co_parent")?;
    let mut legs = legs_from_json(&get::<String>(&row, "co_legs")?)?;
    let Some(io_id) = get::<Option<i64>>(&row, "io_id")? else {
        return Err(OrderError::NotFound {
            level: "instrument",
            id: co_parent,
        });
    };
    let io_type = OrderType::parse(&get::<String>(&row, "io_order_type")?)
        .map_err(|e| super::corrupt("order type", e))?;
    let io_strategy: String = get(&row, "io_strategy")?;
    let io_instrument = InstrumentCode::new(&get::<String>(&row, "io_instrument")?)
        .map_err(|e| super::corrupt("instrument code", e))?;
    let io_fill: i64 = get(&row, "io_fill")?;
    let io_filled_price: Option<f64> = get(&row, "io_filled_price")?;
    let q = e.quantity;
    let late = matches!(
        bo.status,
        BrokerOrderStatus::Cancelled | BrokerOrderStatus::Rejected
    );
    let mut extra = overfill(bo.trade, bo.fill, q);
    let fill = bo.fill + q;
    let status = if remaining(bo.trade, fill) == 0 && !bo.status.is_final() {
        BrokerOrderStatus::Filled
    } else if bo.status == BrokerOrderStatus::Created {
        BrokerOrderStatus::Sent
    } else {
        bo.status
    };
    // Every write below goes to SQLite as one batch (one round trip), inside the transaction.
    let mut batch = Batch::default();
    batch
        .add(
            "UPDATE broker_orders SET fill = ?, filled_price = ?, fill_time = ?, commission = commission + ?,
                 status = ?, broker_id = COALESCE(broker_id, ?) WHERE id = ?",
        )
        .bind(fill)?
        .bind(weighted_average(bo.fill, bo.filled_price, q, e.price))?
        .bind(ts(e.ts))?
        .bind(e.commission)?
        .bind(status.as_str())?
        .bind(e.broker_id.clone())?
        .bind(bo.id)?;

    // The contract order's leg and the contract position.
    let Some(leg) = legs.iter_mut().find(|l| l.contract == bo.contract) else {
        return Err(super::corrupt(
            "broker order",
            format!(
                "{} is for {}, not a leg of contract order {co_id}",
                bo.id, bo.contract
            ),
        ));
    };
    if extra == 0 {
        // Another broker order of the same leg (one that replaced a cancelled one) may
        // already have filled it.
        extra = overfill(leg.trade, leg.fill, q);
    }
    leg.filled_price = Some(weighted_average(leg.fill, leg.filled_price, q, e.price));
    leg.fill += q;
    batch
        .add("UPDATE contract_orders SET legs = ? WHERE id = ?")
        .bind(legs_to_json(&legs))?
        .bind(co_id)?;
    move_contract_position(
        &mut batch,
        &bo.instrument,
        bo.contract,
        q,
        bo.id,
        Some(&e.exec_id),
        at,
    )?;

    // The instrument order and the strategy position: not for the legs of a zero-trade roll
    // (a force roll moves contracts, not the strategy's position).
    if io_type != OrderType::ZeroRoll {
        batch
            .add("UPDATE instrument_orders SET fill = ?, filled_price = ?, fill_time = ? WHERE id = ?")
            .bind(io_fill + q)?
            .bind(weighted_average(io_fill, io_filled_price, q, e.price))?
            .bind(ts(e.ts))?
            .bind(io_id)?;
        move_strategy_position(
            &mut batch,
            &io_strategy,
            &io_instrument,
            q,
            io_id,
            Some(&e.exec_id),
            at,
        )?;
    }
    if extra != 0 || late {
        let reason = if extra != 0 {
            format!(
                "over-fill: broker order {} ({} {}) filled {extra} beyond its order (execution {}); positions follow the broker",
                bo.id, bo.instrument, bo.contract, e.exec_id
            )
        } else {
            format!(
                "fill after cancel: broker order {} ({} {}) was {} but filled {q} (execution {}); positions follow the broker",
                bo.id, bo.instrument, bo.contract, bo.status.as_str(), e.exec_id
            )
        };
        tracing::error!(instrument = %bo.instrument, critical = true, "{reason}");
        lock(&mut batch, &bo.instrument, &reason, at)?;
    }
    batch
        .add(
            "INSERT INTO order_executions (exec_id, broker_order_id, quantity, price, commission, currency, executed_at, overfill, applied_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.exec_id.clone())?
        .bind(bo.id)?
        .bind(q)?
        .bind(e.price)?
        .bind(e.commission)?
        .bind(e.commission_currency.clone())?
        .bind(ts(e.ts))?
        .bind(extra)?
        .bind(ts(at))?;
    batch.run(conn).await?;
    Ok(FillOutcome::Applied {
        broker_order: bo.id,
        instrument_order: io_id,
        instrument: bo.instrument,
        overfill: extra,
        late,
    })
}

/// The ids of an instrument order's family: its contract orders and their broker orders.
async fn family(
    conn: &mut SqliteConnection,
    id: OrderId,
) -> Result<(Vec<ContractOrder>, Vec<BrokerOrder>), OrderError> {
    let mut contract_orders = Vec::new();
    let mut broker_orders = Vec::new();
    for c in child_ids(conn, "contract_orders", id).await? {
        let co = contract_order_in(conn, c).await?;
        for b in &co.children {
            let row = sqlx::query("SELECT * FROM broker_orders WHERE id = ?")
                .bind(b)
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
            broker_orders.push(broker_order_from_row(&row)?);
        }
        contract_orders.push(co);
    }
    Ok((contract_orders, broker_orders))
}

/// Archives an instrument order and its family.
async fn archive(
    conn: &mut SqliteConnection,
    io: &InstrumentOrder,
    contract_orders: &[ContractOrder],
    broker_orders: &[BrokerOrder],
    at: DateTime<Utc>,
) -> Result<(), OrderError> {
    let when = ts(at);
    sqlx::query("UPDATE instrument_orders SET active = 0, completed_at = ? WHERE id = ?")
        .bind(&when)
        .bind(io.id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    for co in contract_orders {
        sqlx::query("UPDATE contract_orders SET active = 0, completed_at = ? WHERE id = ?")
            .bind(&when)
            .bind(co.id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    for bo in broker_orders {
        sqlx::query("UPDATE broker_orders SET active = 0 WHERE id = ?")
            .bind(bo.id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Archives the families that are done. Reads every active instrument order with its whole
/// family (contract orders, archived or not, and their broker orders) in three queries and
/// archives in three statements, whatever the number of orders.
pub(super) async fn complete_orders(
    conn: &mut SqliteConnection,
    allow_partial: bool,
    at: DateTime<Utc>,
) -> Result<Vec<OrderId>, OrderError> {
    let rows = sqlx::query("SELECT * FROM instrument_orders WHERE active = 1 ORDER BY id")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let co_rows = sqlx::query(
        "SELECT * FROM contract_orders
         WHERE parent_id IN (SELECT id FROM instrument_orders WHERE active = 1) ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let bo_rows = sqlx::query(
        "SELECT b.* FROM broker_orders b
         JOIN contract_orders c ON c.id = b.parent_id
         JOIN instrument_orders i ON i.id = c.parent_id
         WHERE i.active = 1 ORDER BY b.id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut broker_orders: HashMap<OrderId, Vec<BrokerOrder>> = HashMap::new();
    for r in &bo_rows {
        let bo = broker_order_from_row(r)?;
        broker_orders.entry(bo.parent).or_default().push(bo);
    }
    let mut contract_orders: HashMap<OrderId, Vec<ContractOrder>> = HashMap::new();
    for r in &co_rows {
        let co = contract_order_from_row(r)?;
        contract_orders.entry(co.parent).or_default().push(co);
    }
    let (mut done, mut cos_done, mut bos_done) = (Vec::new(), Vec::new(), Vec::new());
    for r in &rows {
        let io = instrument_order_from_row(r)?;
        let cos = contract_orders.remove(&io.id).unwrap_or_default();
        let bos: Vec<&BrokerOrder> = cos
            .iter()
            .flat_map(|c| broker_orders.get(&c.id).into_iter().flatten())
            .collect();
        if bos.iter().any(|b| !b.status.is_final()) {
            continue;
        }
        let filled = io.remaining() == 0
            && cos.iter().all(|c| c.is_filled())
            && (io.order_type != OrderType::ZeroRoll || !cos.is_empty());
        if filled || io.cancel_requested || allow_partial {
            done.push(io.id);
            cos_done.extend(cos.iter().map(|c| c.id));
            bos_done.extend(bos.iter().map(|b| b.id));
        }
    }
    archive_many(conn, &done, &cos_done, &bos_done, at).await?;
    Ok(done)
}

/// Archives instrument, contract and broker orders by id, one statement per stack.
async fn archive_many(
    conn: &mut SqliteConnection,
    instrument_orders: &[OrderId],
    contract_orders: &[OrderId],
    broker_orders: &[OrderId],
    at: DateTime<Utc>,
) -> Result<(), OrderError> {
    let when = ts(at);
    if !instrument_orders.is_empty() {
        sqlx::query(
            "UPDATE instrument_orders SET active = 0, completed_at = ?
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(&when)
        .bind(id_list(instrument_orders))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    if !contract_orders.is_empty() {
        sqlx::query(
            "UPDATE contract_orders SET active = 0, completed_at = ?
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(&when)
        .bind(id_list(contract_orders))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    if !broker_orders.is_empty() {
        sqlx::query(
            "UPDATE broker_orders SET active = 0 WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(id_list(broker_orders))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

pub(super) async fn clear_stack(
    conn: &mut SqliteConnection,
    level: StackLevel,
    at: DateTime<Utc>,
) -> Result<usize, OrderError> {
    let mut cleared = 0;
    match level {
        StackLevel::Instrument => {
            let ids: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM instrument_orders WHERE active = 1")
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db)?;
            for id in ids {
                let io = instrument_order_in(conn, id).await?;
                let (cos, bos) = family(conn, id).await?;
                if bos.iter().all(|b| b.status.is_final()) {
                    sqlx::query("UPDATE instrument_orders SET cancel_requested = 1 WHERE id = ?")
                        .bind(id)
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                    archive(conn, &io, &cos, &bos, at).await?;
                    cleared += 1;
                }
            }
        }
        StackLevel::Contract => {
            let ids: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM contract_orders WHERE active = 1")
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db)?;
            for id in ids {
                let co = contract_order_in(conn, id).await?;
                let live: Option<i64> = sqlx::query_scalar(
                    "SELECT 1 FROM broker_orders WHERE parent_id = ? AND status IN ('created', 'sent')",
                )
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
                if live.is_none() {
                    // Its parent must not spawn again: it is cancelled with it.
                    sqlx::query("UPDATE instrument_orders SET cancel_requested = 1 WHERE id = ?")
                        .bind(co.parent)
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                    sqlx::query(
                        "UPDATE contract_orders SET active = 0, completed_at = ? WHERE id = ?",
                    )
                    .bind(ts(at))
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                    sqlx::query("UPDATE broker_orders SET active = 0 WHERE parent_id = ?")
                        .bind(id)
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                    cleared += 1;
                }
            }
        }
        StackLevel::Broker => {
            let done = sqlx::query(
                "UPDATE broker_orders SET active = 0 WHERE active = 1 AND status IN ('filled', 'cancelled', 'rejected')",
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            cleared = done.rows_affected() as usize;
        }
    }
    Ok(cleared)
}

pub(super) async fn balance_trade(
    conn: &mut SqliteConnection,
    t: BalanceTrade,
) -> Result<OrderId, OrderError> {
    let new = NewInstrumentOrder {
        strategy: t.strategy.clone(),
        instrument: t.instrument.clone(),
        trade: t.quantity,
        order_type: OrderType::Balance,
        limit_price: None,
        reference_price: Some(t.price),
        reference_contract: Some(t.contract),
        reference_time: Some(t.at),
        generated_at: t.at,
        manual: true,
        roll_order: false,
    };
    let io = insert_instrument_order(conn, &new, t.quantity).await?;
    let when = ts(t.at);
    let legs = vec![ContractLeg {
        contract: t.contract,
        trade: t.quantity,
        fill: t.quantity,
        filled_price: Some(t.price),
    }];
    let co_id: i64 = sqlx::query_scalar(
        "INSERT INTO contract_orders (parent_id, strategy, instrument, legs, order_type, reference_price, manual, active, generated_at, completed_at)
         VALUES (?, ?, ?, ?, 'balance', ?, 1, 0, ?, ?) RETURNING id",
    )
    .bind(io.id)
    .bind(&t.strategy)
    .bind(t.instrument.as_str())
    .bind(legs_to_json(&legs))
    .bind(t.price)
    .bind(&when)
    .bind(&when)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO broker_orders (parent_id, strategy, instrument, contract, trade, fill, filled_price, fill_time,
             order_type, order_ref, status, algo, created_at, active)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'balance', ?, 'filled', 'balance', ?, 0)",
    )
    .bind(co_id)
    .bind(&t.strategy)
    .bind(t.instrument.as_str())
    .bind(t.contract.to_string())
    .bind(t.quantity)
    .bind(t.quantity)
    .bind(t.price)
    .bind(&when)
    .bind(format!("systrade-balance-{}-{}", io.id, t.at.timestamp_micros()))
    .bind(&when)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "UPDATE instrument_orders SET fill = trade, filled_price = ?, fill_time = ?, active = 0, completed_at = ? WHERE id = ?",
    )
    .bind(t.price)
    .bind(&when)
    .bind(&when)
    .bind(io.id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let mut batch = Batch::default();
    move_contract_position(
        &mut batch,
        &t.instrument,
        t.contract,
        t.quantity,
        io.id,
        None,
        t.at,
    )?;
    move_strategy_position(
        &mut batch,
        &t.strategy,
        &t.instrument,
        t.quantity,
        io.id,
        None,
        t.at,
    )?;
    batch.run(conn).await?;
    Ok(io.id)
}
