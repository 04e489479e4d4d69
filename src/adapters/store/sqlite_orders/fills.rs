//! The order store's fill path and archive, each called inside one transaction: applying an
//! execution upward (broker order → contract leg and contract position → instrument order and
//! strategy position), completing order families, clearing a stack, and balance trades.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::{
    broker_order_from_row, child_ids, contract_order_in, db, insert_instrument_order,
    instrument_order_in, legs_to_json, lock_in, move_contract_position, move_strategy_position,
};
use crate::adapters::store::sqlite::ts;
use crate::domain::broker::Execution;
use crate::domain::orders::fills::{overfill, remaining, weighted_average};
use crate::domain::orders::*;

pub(super) async fn apply_execution(
    conn: &mut SqliteConnection,
    e: Execution,
    at: DateTime<Utc>,
) -> Result<FillOutcome, OrderError> {
    let seen: Option<i64> = sqlx::query_scalar("SELECT 1 FROM order_executions WHERE exec_id = ?")
        .bind(&e.exec_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    if seen.is_some() {
        return Ok(FillOutcome::Duplicate);
    }
    let Some(row) = sqlx::query("SELECT * FROM broker_orders WHERE order_ref = ?")
        .bind(&e.order_ref)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
    else {
        return Ok(FillOutcome::NotOurs);
    };
    let bo = broker_order_from_row(&row)?;
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
    sqlx::query(
        "UPDATE broker_orders SET fill = ?, filled_price = ?, fill_time = ?, commission = commission + ?,
             status = ?, broker_id = COALESCE(broker_id, ?) WHERE id = ?",
    )
    .bind(fill)
    .bind(weighted_average(bo.fill, bo.filled_price, q, e.price))
    .bind(ts(e.ts))
    .bind(e.commission)
    .bind(status.as_str())
    .bind(&e.broker_id)
    .bind(bo.id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;

    // The contract order's leg and the contract position.
    let mut co = contract_order_in(conn, bo.parent).await?;
    let Some(leg) = co.legs.iter_mut().find(|l| l.contract == bo.contract) else {
        return Err(super::corrupt(
            "broker order",
            format!(
                "{} is for {}, not a leg of contract order {}",
                bo.id, bo.contract, co.id
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
    sqlx::query("UPDATE contract_orders SET legs = ? WHERE id = ?")
        .bind(legs_to_json(&co.legs))
        .bind(co.id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    move_contract_position(
        conn,
        &bo.instrument,
        bo.contract,
        q,
        bo.id,
        Some(&e.exec_id),
        at,
    )
    .await?;

    // The instrument order and the strategy position: not for the legs of a zero-trade roll
    // (a force roll moves contracts, not the strategy's position).
    let io = instrument_order_in(conn, co.parent).await?;
    if io.order_type != OrderType::ZeroRoll {
        sqlx::query(
            "UPDATE instrument_orders SET fill = ?, filled_price = ?, fill_time = ? WHERE id = ?",
        )
        .bind(io.fill + q)
        .bind(weighted_average(io.fill, io.filled_price, q, e.price))
        .bind(ts(e.ts))
        .bind(io.id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
        move_strategy_position(
            conn,
            &io.strategy,
            &io.instrument,
            q,
            io.id,
            Some(&e.exec_id),
            at,
        )
        .await?;
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
        lock_in(conn, &bo.instrument, &reason, at).await?;
    }
    sqlx::query(
        "INSERT INTO order_executions (exec_id, broker_order_id, quantity, price, commission, currency, executed_at, overfill, applied_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&e.exec_id)
    .bind(bo.id)
    .bind(q)
    .bind(e.price)
    .bind(e.commission)
    .bind(&e.commission_currency)
    .bind(ts(e.ts))
    .bind(extra)
    .bind(ts(at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(FillOutcome::Applied {
        broker_order: bo.id,
        instrument_order: io.id,
        overfill: extra,
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

pub(super) async fn complete_orders(
    conn: &mut SqliteConnection,
    allow_partial: bool,
    at: DateTime<Utc>,
) -> Result<Vec<OrderId>, OrderError> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM instrument_orders WHERE active = 1 ORDER BY id")
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    let mut done = Vec::new();
    for id in ids {
        let io = instrument_order_in(conn, id).await?;
        let (contract_orders, broker_orders) = family(conn, id).await?;
        let live = broker_orders.iter().any(|b| !b.status.is_final());
        if live {
            continue;
        }
        let filled = io.remaining() == 0
            && contract_orders.iter().all(|c| c.is_filled())
            && (io.order_type != OrderType::ZeroRoll || !contract_orders.is_empty());
        if filled || io.cancel_requested || allow_partial {
            archive(conn, &io, &contract_orders, &broker_orders, at).await?;
            done.push(id);
        }
    }
    Ok(done)
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
    move_contract_position(
        conn,
        &t.instrument,
        t.contract,
        t.quantity,
        io.id,
        None,
        t.at,
    )
    .await?;
    move_strategy_position(
        conn,
        &t.strategy,
        &t.instrument,
        t.quantity,
        io.id,
        None,
        t.at,
    )
    .await?;
    Ok(io.id)
}
