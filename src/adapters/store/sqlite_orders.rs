//! [`OrderStore`] on the run store's SQLite file: the three order stacks, positions, locks and
//! the stack handler's state (migration `20261125000009_orders.sql`). Every method is one
//! `BEGIN IMMEDIATE` transaction, so a crash leaves each change whole or absent; fills,
//! completion and balance trades are in `sqlite_orders/fills.rs`.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;
use sqlx::{Connection, Row, SqliteConnection};

use super::sqlite::{ts, SqliteRunStore};
use crate::domain::broker::Execution;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::orders::generate::net_trade;
use crate::domain::orders::*;
use crate::engine::process::{holder_is_dead, ProcessIdentity};
use crate::engine::store::LockHolder;

#[path = "sqlite_orders/batch.rs"]
mod batch;
#[path = "sqlite_orders/fills.rs"]
mod fills;
mod history;
mod prune;

pub(super) fn db(e: sqlx::Error) -> OrderError {
    OrderError::Database {
        detail: e.to_string(),
    }
}

pub(super) fn corrupt(what: &str, detail: impl std::fmt::Display) -> OrderError {
    OrderError::Corrupt {
        what: what.into(),
        detail: detail.to_string(),
    }
}

pub(super) fn parse_ts(s: &str) -> Result<DateTime<Utc>, OrderError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("timestamp", format!("`{s}`: {e}")))
}

pub(super) fn opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>, OrderError> {
    s.map(|s| parse_ts(&s)).transpose()
}

pub(super) fn get<'r, T>(r: &'r SqliteRow, column: &str) -> Result<T, OrderError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    r.try_get(column).map_err(db)
}

pub(super) fn instrument(s: &str) -> Result<InstrumentCode, OrderError> {
    InstrumentCode::new(s).map_err(|e| corrupt("instrument code", e))
}

pub(super) fn contract(s: &str) -> Result<ContractId, OrderError> {
    ContractId::parse(s).map_err(|e| corrupt("contract id", e))
}

fn order_type(s: &str) -> Result<OrderType, OrderError> {
    OrderType::parse(s).map_err(|e| corrupt("order type", e))
}

/// Who runs the stack handler (`order_handler_state` key `handler`).
#[derive(Serialize, Deserialize)]
struct HandlerClaim {
    pid: i64,
    pid_start: Option<i64>,
    host: String,
    boot_id: Option<String>,
    acquired_at: DateTime<Utc>,
}

/// A contract order's leg as stored in its `legs` JSON.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredLeg {
    pub contract: String,
    pub trade: i64,
    pub fill: i64,
    pub filled_price: Option<f64>,
}

pub(super) fn legs_from_json(text: &str) -> Result<Vec<ContractLeg>, OrderError> {
    let stored: Vec<StoredLeg> =
        serde_json::from_str(text).map_err(|e| corrupt("contract order legs", e))?;
    stored
        .into_iter()
        .map(|l| {
            Ok(ContractLeg {
                contract: contract(&l.contract)?,
                trade: l.trade,
                fill: l.fill,
                filled_price: l.filled_price,
            })
        })
        .collect()
}

pub(super) fn legs_to_json(legs: &[ContractLeg]) -> String {
    let stored: Vec<StoredLeg> = legs
        .iter()
        .map(|l| StoredLeg {
            contract: l.contract.to_string(),
            trade: l.trade,
            fill: l.fill,
            filled_price: l.filled_price.filter(|p| p.is_finite()),
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into())
}

pub(super) fn instrument_order_from_row(r: &SqliteRow) -> Result<InstrumentOrder, OrderError> {
    Ok(InstrumentOrder {
        id: get(r, "id")?,
        strategy: get(r, "strategy")?,
        instrument: instrument(&get::<String>(r, "instrument")?)?,
        trade: get(r, "trade")?,
        fill: get(r, "fill")?,
        filled_price: get(r, "filled_price")?,
        fill_time: opt_ts(get(r, "fill_time")?)?,
        order_type: order_type(&get::<String>(r, "order_type")?)?,
        limit_price: get(r, "limit_price")?,
        reference_price: get(r, "reference_price")?,
        reference_contract: get::<Option<String>>(r, "reference_contract")?
            .map(|c| contract(&c))
            .transpose()?,
        reference_time: opt_ts(get(r, "reference_time")?)?,
        generated_at: parse_ts(&get::<String>(r, "generated_at")?)?,
        manual: get(r, "manual")?,
        roll_order: get(r, "roll_order")?,
        active: get(r, "active")?,
        cancel_requested: get(r, "cancel_requested")?,
        completed_at: opt_ts(get(r, "completed_at")?)?,
        children: Vec::new(),
    })
}

pub(super) fn contract_order_from_row(r: &SqliteRow) -> Result<ContractOrder, OrderError> {
    Ok(ContractOrder {
        id: get(r, "id")?,
        parent: get(r, "parent_id")?,
        strategy: get(r, "strategy")?,
        instrument: instrument(&get::<String>(r, "instrument")?)?,
        legs: legs_from_json(&get::<String>(r, "legs")?)?,
        order_type: order_type(&get::<String>(r, "order_type")?)?,
        limit_price: get(r, "limit_price")?,
        reference_price: get(r, "reference_price")?,
        roll_order: get(r, "roll_order")?,
        manual: get(r, "manual")?,
        active: get(r, "active")?,
        generated_at: parse_ts(&get::<String>(r, "generated_at")?)?,
        completed_at: opt_ts(get(r, "completed_at")?)?,
        children: Vec::new(),
    })
}

pub(super) fn broker_order_from_row(r: &SqliteRow) -> Result<BrokerOrder, OrderError> {
    Ok(BrokerOrder {
        id: get(r, "id")?,
        parent: get(r, "parent_id")?,
        strategy: get(r, "strategy")?,
        instrument: instrument(&get::<String>(r, "instrument")?)?,
        contract: contract(&get::<String>(r, "contract")?)?,
        trade: get(r, "trade")?,
        fill: get(r, "fill")?,
        filled_price: get(r, "filled_price")?,
        fill_time: opt_ts(get(r, "fill_time")?)?,
        order_type: order_type(&get::<String>(r, "order_type")?)?,
        limit_price: get(r, "limit_price")?,
        order_ref: get(r, "order_ref")?,
        broker_id: get(r, "broker_id")?,
        status: BrokerOrderStatus::parse(&get::<String>(r, "status")?)
            .map_err(|e| corrupt("broker order status", e))?,
        algo: get(r, "algo")?,
        side_price: get(r, "side_price")?,
        offside_price: get(r, "offside_price")?,
        mid_price: get(r, "mid_price")?,
        commission: get(r, "commission")?,
        created_at: parse_ts(&get::<String>(r, "created_at")?)?,
        submitted_at: opt_ts(get(r, "submitted_at")?)?,
        aggressive_at: opt_ts(get(r, "aggressive_at")?)?,
        reason: get(r, "reason")?,
        active: get(r, "active")?,
    })
}

/// Child ids by parent id, from `table` (`contract_orders` or `broker_orders`), of the
/// `parents` just read (not the whole history).
async fn children_by_parent(
    conn: &mut SqliteConnection,
    table: &str,
    parents: &[OrderId],
) -> Result<HashMap<OrderId, Vec<OrderId>>, OrderError> {
    let mut map: HashMap<OrderId, Vec<OrderId>> = HashMap::new();
    if parents.is_empty() {
        return Ok(map);
    }
    let rows = sqlx::query(&format!(
        "SELECT id, parent_id FROM {table} WHERE parent_id IN (SELECT value FROM json_each(?)) ORDER BY id"
    ))
    .bind(id_list(parents))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for r in rows {
        map.entry(get(&r, "parent_id")?)
            .or_default()
            .push(get(&r, "id")?);
    }
    Ok(map)
}

/// Ids as a JSON array, for `IN (SELECT value FROM json_each(?))`.
pub(super) fn id_list(ids: &[OrderId]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

/// The `child_ids` column (`group_concat` of ids) as sorted ids.
fn parse_child_ids(r: &SqliteRow) -> Result<Vec<OrderId>, OrderError> {
    let Some(text) = get::<Option<String>>(r, "child_ids")? else {
        return Ok(Vec::new());
    };
    let mut ids = text
        .split(',')
        .map(|s| s.parse().map_err(|e| corrupt("child order ids", e)))
        .collect::<Result<Vec<OrderId>, OrderError>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// The row of order `id` of `table` with its children's ids (`child_ids`) from `children`.
async fn order_row_with_children(
    conn: &mut SqliteConnection,
    table: &str,
    children: &str,
    level: &'static str,
    id: OrderId,
) -> Result<SqliteRow, OrderError> {
    sqlx::query(&format!(
        "SELECT o.*, (SELECT group_concat(k.id) FROM {children} k WHERE k.parent_id = o.id) AS child_ids
         FROM {table} o WHERE o.id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .ok_or(OrderError::NotFound { level, id })
}

/// One instrument order with its children, in one query.
pub(super) async fn instrument_order_in(
    conn: &mut SqliteConnection,
    id: OrderId,
) -> Result<InstrumentOrder, OrderError> {
    let row = order_row_with_children(
        conn,
        "instrument_orders",
        "contract_orders",
        "instrument",
        id,
    )
    .await?;
    let mut order = instrument_order_from_row(&row)?;
    order.children = parse_child_ids(&row)?;
    Ok(order)
}

/// One contract order with its children, in one query.
pub(super) async fn contract_order_in(
    conn: &mut SqliteConnection,
    id: OrderId,
) -> Result<ContractOrder, OrderError> {
    let row =
        order_row_with_children(conn, "contract_orders", "broker_orders", "contract", id).await?;
    let mut order = contract_order_from_row(&row)?;
    order.children = parse_child_ids(&row)?;
    Ok(order)
}

pub(super) async fn child_ids(
    conn: &mut SqliteConnection,
    table: &str,
    parent: OrderId,
) -> Result<Vec<OrderId>, OrderError> {
    let rows = sqlx::query(&format!(
        "SELECT id FROM {table} WHERE parent_id = ? ORDER BY id"
    ))
    .bind(parent)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.iter().map(|r| get(r, "id")).collect()
}

pub(super) async fn lock_in(
    conn: &mut SqliteConnection,
    instrument: &InstrumentCode,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<bool, OrderError> {
    let done = sqlx::query(
        "INSERT INTO instrument_locks (instrument, reason, locked_at) VALUES (?, ?, ?)
         ON CONFLICT (instrument) DO NOTHING",
    )
    .bind(instrument.as_str())
    .bind(reason)
    .bind(ts(at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() > 0)
}

/// Inserts an instrument order; returns it.
pub(super) async fn insert_instrument_order(
    conn: &mut SqliteConnection,
    o: &NewInstrumentOrder,
    trade: i64,
) -> Result<InstrumentOrder, OrderError> {
    let row = sqlx::query(
        "INSERT INTO instrument_orders (strategy, instrument, trade, order_type, limit_price, reference_price,
             reference_contract, reference_time, generated_at, manual, roll_order)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
    )
    .bind(&o.strategy)
    .bind(o.instrument.as_str())
    .bind(trade)
    .bind(o.order_type.as_str())
    .bind(o.limit_price)
    .bind(o.reference_price.filter(|p| p.is_finite()))
    .bind(o.reference_contract.map(|c| c.to_string()))
    .bind(o.reference_time.map(ts))
    .bind(ts(o.generated_at))
    .bind(o.manual)
    .bind(o.roll_order)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    instrument_order_from_row(&row)
}

/// Writes the contract orders of an instrument order that has none yet (inside a transaction).
async fn spawn_in(
    conn: &mut SqliteConnection,
    parent: OrderId,
    children: &[NewContractOrder],
) -> Result<Vec<OrderId>, OrderError> {
    let p = instrument_order_in(conn, parent).await?;
    if !p.active || p.cancel_requested {
        return Err(OrderError::Refused(format!(
            "instrument order {parent} is not active or is being cancelled"
        )));
    }
    if !p.children.is_empty() {
        return Err(OrderError::Refused(format!(
            "instrument order {parent} already has contract orders {:?}",
            p.children
        )));
    }
    let mut ids = Vec::new();
    for child in children {
        let legs: Vec<ContractLeg> = child
            .legs
            .iter()
            .map(|&(contract, trade)| ContractLeg {
                contract,
                trade,
                fill: 0,
                filled_price: None,
            })
            .collect();
        let id: i64 = sqlx::query_scalar(
                "INSERT INTO contract_orders (parent_id, strategy, instrument, legs, order_type, limit_price,
                     reference_price, roll_order, manual, generated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(parent)
            .bind(&p.strategy)
            .bind(p.instrument.as_str())
            .bind(legs_to_json(&legs))
            .bind(child.order_type.as_str())
            .bind(child.limit_price)
            .bind(child.reference_price.filter(|x| x.is_finite()))
            .bind(p.roll_order)
            .bind(p.manual)
            .bind(ts(p.generated_at))
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        ids.push(id);
    }
    Ok(ids)
}

/// Writes one broker order (status `created`, its unique order_ref) inside a transaction.
async fn add_broker_order_in(
    conn: &mut SqliteConnection,
    order: &NewBrokerOrder,
) -> Result<BrokerOrder, OrderError> {
    let parent = contract_order_in(conn, order.parent).await?;
    if !parent.active {
        return Err(OrderError::Refused(format!(
            "contract order {} is not active",
            parent.id
        )));
    }
    if !parent.legs.iter().any(|l| l.contract == order.contract) {
        return Err(OrderError::Refused(format!(
            "contract order {} has no leg in {}",
            parent.id, order.contract
        )));
    }
    // Unique across installations sharing an account: the id and its creation
    // time. The id is known once inserted, so the reference is set right after, in
    // the same round trip.
    let pending = format!("pending-{}", ts(order.created_at));
    let rows = sqlx::query(
        "INSERT INTO broker_orders (parent_id, strategy, instrument, contract, trade, order_type, limit_price,
             order_ref, status, algo, side_price, offside_price, mid_price, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'created', ?, ?, ?, ?, ?);
         UPDATE broker_orders SET order_ref = 'systrade-' || id || '-' || ?
         WHERE id = last_insert_rowid() RETURNING *",
    )
    .bind(parent.id)
    .bind(&parent.strategy)
    .bind(parent.instrument.as_str())
    .bind(order.contract.to_string())
    .bind(order.trade)
    .bind(order.order_type.as_str())
    .bind(order.limit_price)
    .bind(&pending)
    .bind(&order.algo)
    .bind(order.side_price.filter(|x| x.is_finite()))
    .bind(order.offside_price.filter(|x| x.is_finite()))
    .bind(order.mid_price.filter(|x| x.is_finite()))
    .bind(ts(order.created_at))
    .bind(order.created_at.timestamp_micros())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let [row] = &rows[..] else {
        return Err(corrupt(
            "broker order",
            format!("{} rows written for one order", rows.len()),
        ));
    };
    broker_order_from_row(row)
}

/// The body of a transaction.
pub(super) type TxFuture<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, OrderError>> + Send + 'c>>;

impl SqliteRunStore {
    /// Runs `run` on the store's kept connection (one user at a time per process; SQLite's
    /// write lock serialises writers anyway). The connection is taken out while `run` runs: if
    /// it fails with a database error, or its future is dropped half way, the connection is
    /// dropped with it (SQLite rolls back what was not committed) and the next user opens a
    /// fresh one from the pool.
    async fn on_order_conn<T, F>(&self, run: F) -> Result<T, OrderError>
    where
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> TxFuture<'c, T>,
    {
        let mut kept = self.order_conn.lock().await;
        let mut conn = match kept.take() {
            Some(conn) => conn,
            None => self.pool().acquire().await.map_err(db)?.detach(),
        };
        let result = run(&mut conn).await;
        if !matches!(result, Err(OrderError::Database { .. })) {
            *kept = Some(conn);
        }
        result
    }

    /// The active (or archived) orders of `table`, oldest first, each built by `build` from its
    /// row and the ids of its children in `children` (one query for the children of all).
    async fn orders_with_children<T>(
        &self,
        table: &str,
        children: &str,
        active: bool,
        build: impl Fn(&SqliteRow, Vec<OrderId>) -> Result<T, OrderError>,
    ) -> Result<Vec<T>, OrderError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        let rows = sqlx::query(&format!(
            "SELECT * FROM {table} WHERE active = ? ORDER BY id"
        ))
        .bind(active)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let ids = rows
            .iter()
            .map(|r| get(r, "id"))
            .collect::<Result<Vec<OrderId>, _>>()?;
        let mut kids = children_by_parent(&mut conn, children, &ids).await?;
        rows.iter()
            .map(|r| {
                let id: OrderId = get(r, "id")?;
                build(r, kids.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction on the kept connection, committed when
    /// it succeeds.
    pub(super) async fn in_order_tx<T, F>(&self, body: F) -> Result<T, OrderError>
    where
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> TxFuture<'c, T> + Send + 'static,
        T: Send + 'static,
    {
        self.on_order_conn(move |conn| {
            Box::pin(async move {
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
                let value = body(&mut tx).await?;
                tx.commit().await.map_err(db)?;
                Ok(value)
            })
        })
        .await
    }
}

#[async_trait]
impl OrderStore for SqliteRunStore {
    async fn add_instrument_order(
        &self,
        order: &NewInstrumentOrder,
    ) -> Result<AddOutcome, OrderError> {
        let order = order.clone();
        self.in_order_tx(move |conn| {
            Box::pin(async move {
                let zero_allowed = order.manual || order.order_type == OrderType::ZeroRoll;
                let mut trade = order.trade;
                if !order.manual {
                    let rows = sqlx::query(
                        "SELECT id, trade, fill FROM instrument_orders
                         WHERE active = 1 AND cancel_requested = 0 AND strategy = ? AND instrument = ?",
                    )
                    .bind(&order.strategy)
                    .bind(order.instrument.as_str())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db)?;
                    let mut working = Vec::new();
                    let mut ids = Vec::new();
                    for r in &rows {
                        working.push((get::<i64>(r, "trade")?, get::<i64>(r, "fill")?));
                        ids.push(get::<i64>(r, "id")?);
                    }
                    if !working.is_empty() && order.order_type != OrderType::ZeroRoll {
                        trade = net_trade(order.trade, &working);
                        if trade == 0 {
                            return Ok(AddOutcome::Netted { existing: ids });
                        }
                    }
                }
                if trade == 0 && !zero_allowed {
                    return Ok(AddOutcome::Zero);
                }
                let added = insert_instrument_order(conn, &order, trade).await?;
                Ok(AddOutcome::Added {
                    order: Box::new(added),
                })
            })
        })
        .await
    }

    async fn instrument_orders(&self, active: bool) -> Result<Vec<InstrumentOrder>, OrderError> {
        self.orders_with_children("instrument_orders", "contract_orders", active, |r, kids| {
            let mut o = instrument_order_from_row(r)?;
            o.children = kids;
            Ok(o)
        })
        .await
    }

    async fn contract_orders(&self, active: bool) -> Result<Vec<ContractOrder>, OrderError> {
        self.orders_with_children("contract_orders", "broker_orders", active, |r, kids| {
            let mut o = contract_order_from_row(r)?;
            o.children = kids;
            Ok(o)
        })
        .await
    }

    async fn broker_orders(&self, active: bool) -> Result<Vec<BrokerOrder>, OrderError> {
        let rows = sqlx::query("SELECT * FROM broker_orders WHERE active = ? ORDER BY id")
            .bind(active)
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(broker_order_from_row).collect()
    }

    async fn spawn_contract_orders(
        &self,
        parent: OrderId,
        children: &[NewContractOrder],
    ) -> Result<Vec<OrderId>, OrderError> {
        let children = children.to_vec();
        self.in_order_tx(move |conn| {
            Box::pin(async move { spawn_in(conn, parent, &children).await })
        })
        .await
    }

    async fn spawn_many(
        &self,
        spawns: &[(OrderId, Vec<NewContractOrder>)],
    ) -> Result<Vec<Result<Vec<OrderId>, String>>, OrderError> {
        let spawns = spawns.to_vec();
        self.in_order_tx(move |conn| {
            Box::pin(async move {
                let mut out = Vec::with_capacity(spawns.len());
                for (parent, children) in &spawns {
                    out.push(match spawn_in(conn, *parent, children).await {
                        Ok(ids) => Ok(ids),
                        // Refused before anything was written for it: the others go on.
                        Err(OrderError::Refused(why)) => Err(why),
                        Err(e) => return Err(e),
                    });
                }
                Ok(out)
            })
        })
        .await
    }

    async fn add_broker_order(&self, order: &NewBrokerOrder) -> Result<BrokerOrder, OrderError> {
        let order = order.clone();
        self.in_order_tx(move |conn| {
            Box::pin(async move { add_broker_order_in(conn, &order).await })
        })
        .await
    }

    async fn add_broker_orders(
        &self,
        orders: &[NewBrokerOrder],
    ) -> Result<Vec<Result<BrokerOrder, String>>, OrderError> {
        let orders = orders.to_vec();
        self.in_order_tx(move |conn| {
            Box::pin(async move {
                let mut out = Vec::with_capacity(orders.len());
                for order in &orders {
                    out.push(match add_broker_order_in(conn, order).await {
                        Ok(bo) => Ok(bo),
                        // Refused before anything was written for it: the others go on.
                        Err(OrderError::Refused(why)) => Err(why),
                        Err(e) => return Err(e),
                    });
                }
                Ok(out)
            })
        })
        .await
    }

    async fn update_broker_order(
        &self,
        id: OrderId,
        update: &BrokerOrderUpdate,
    ) -> Result<(), OrderError> {
        // One statement (its own transaction), on the kept connection.
        let update = update.clone();
        let done = self
            .on_order_conn(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE broker_orders SET
                             status = COALESCE(?, status),
                             broker_id = COALESCE(?, broker_id),
                             submitted_at = COALESCE(?, submitted_at),
                             limit_price = COALESCE(?, limit_price),
                             aggressive_at = COALESCE(?, aggressive_at),
                             reason = COALESCE(?, reason)
                         WHERE id = ?",
                    )
                    .bind(update.status.map(|s| s.as_str()))
                    .bind(&update.broker_id)
                    .bind(update.submitted_at.map(ts))
                    .bind(update.limit_price)
                    .bind(update.aggressive_at.map(ts))
                    .bind(&update.reason)
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)
                })
            })
            .await?;
        if done.rows_affected() == 0 {
            return Err(OrderError::NotFound {
                level: "broker",
                id,
            });
        }
        Ok(())
    }

    async fn apply_execution(
        &self,
        execution: &Execution,
        at: DateTime<Utc>,
    ) -> Result<FillOutcome, OrderError> {
        let execution = execution.clone();
        self.in_order_tx(move |conn| Box::pin(fills::apply_execution(conn, execution, at)))
            .await
    }

    async fn apply_executions(
        &self,
        executions: &[Execution],
        at: DateTime<Utc>,
    ) -> Result<Vec<FillOutcome>, OrderError> {
        let executions = executions.to_vec();
        self.in_order_tx(move |conn| {
            Box::pin(async move {
                let mut out = Vec::with_capacity(executions.len());
                for e in executions {
                    out.push(fills::apply_execution(conn, e, at).await?);
                }
                Ok(out)
            })
        })
        .await
    }

    async fn complete_orders(
        &self,
        allow_partial: bool,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderId>, OrderError> {
        self.in_order_tx(move |conn| Box::pin(fills::complete_orders(conn, allow_partial, at)))
            .await
    }

    async fn request_cancel(&self, id: OrderId) -> Result<bool, OrderError> {
        let done = sqlx::query(
            "UPDATE instrument_orders SET cancel_requested = 1 WHERE id = ? AND active = 1",
        )
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn clear_stack(&self, level: StackLevel, at: DateTime<Utc>) -> Result<usize, OrderError> {
        self.in_order_tx(move |conn| Box::pin(fills::clear_stack(conn, level, at)))
            .await
    }

    async fn strategy_positions(&self) -> Result<Vec<StrategyPosition>, OrderError> {
        let rows = sqlx::query(
            "SELECT strategy, instrument, position FROM strategy_positions ORDER BY strategy, instrument",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(StrategyPosition {
                    strategy: get(r, "strategy")?,
                    instrument: instrument(&get::<String>(r, "instrument")?)?,
                    position: get(r, "position")?,
                })
            })
            .collect()
    }

    async fn position_changes(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<PositionChange>, OrderError> {
        history::position_changes(self.pool(), since).await
    }

    async fn contract_positions(&self) -> Result<Vec<ContractPosition>, OrderError> {
        let rows = sqlx::query(
            "SELECT instrument, contract, position FROM contract_positions ORDER BY instrument, contract",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(ContractPosition {
                    instrument: instrument(&get::<String>(r, "instrument")?)?,
                    contract: contract(&get::<String>(r, "contract")?)?,
                    position: get(r, "position")?,
                })
            })
            .collect()
    }

    async fn balance_trade(&self, trade: &BalanceTrade) -> Result<OrderId, OrderError> {
        let trade = trade.clone();
        self.in_order_tx(move |conn| Box::pin(fills::balance_trade(conn, trade)))
            .await
    }

    async fn locks(&self) -> Result<Vec<InstrumentLock>, OrderError> {
        let rows = sqlx::query("SELECT * FROM instrument_locks ORDER BY instrument")
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(InstrumentLock {
                    instrument: instrument(&get::<String>(r, "instrument")?)?,
                    reason: get(r, "reason")?,
                    locked_at: parse_ts(&get::<String>(r, "locked_at")?)?,
                })
            })
            .collect()
    }

    async fn lock_instrument(
        &self,
        instrument: &InstrumentCode,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, OrderError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        lock_in(&mut conn, instrument, reason, at).await
    }

    async fn unlock_instrument(&self, instrument: &InstrumentCode) -> Result<bool, OrderError> {
        let done = sqlx::query("DELETE FROM instrument_locks WHERE instrument = ?")
            .bind(instrument.as_str())
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_handler(&self) -> Result<Result<(), String>, OrderError> {
        self.in_order_tx(|conn| {
            Box::pin(async move {
                let me = ProcessIdentity::current();
                let held: Option<String> = sqlx::query_scalar(
                    "SELECT value FROM order_handler_state WHERE key = 'handler'",
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
                if let Some(text) = held {
                    if let Ok(holder) = serde_json::from_str::<HandlerClaim>(&text) {
                        let lock = LockHolder {
                            workflow: String::new(),
                            run_id: None,
                            pid: holder.pid,
                            pid_start: holder.pid_start,
                            host: holder.host.clone(),
                            boot_id: holder.boot_id.clone(),
                            acquired_at: holder.acquired_at,
                        };
                        let mine = holder.pid == me.pid && holder.host == me.host;
                        if !mine && !holder_is_dead(&lock, &me) {
                            return Ok(Err(format!(
                                "pid {} on {} since {}",
                                holder.pid, holder.host, holder.acquired_at
                            )));
                        }
                    }
                }
                let claim = HandlerClaim {
                    pid: me.pid,
                    pid_start: me.pid_start,
                    host: me.host.clone(),
                    boot_id: me.boot_id.clone(),
                    acquired_at: Utc::now(),
                };
                sqlx::query(
                    "INSERT INTO order_handler_state (key, value) VALUES ('handler', ?)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(serde_json::to_string(&claim).map_err(|e| corrupt("handler claim", e))?)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                Ok(Ok(()))
            })
        })
        .await
    }

    async fn release_handler(&self) -> Result<(), OrderError> {
        let me = ProcessIdentity::current();
        let held: Option<String> =
            sqlx::query_scalar("SELECT value FROM order_handler_state WHERE key = 'handler'")
                .fetch_optional(self.pool())
                .await
                .map_err(db)?;
        let mine = held
            .and_then(|t| serde_json::from_str::<HandlerClaim>(&t).ok())
            .is_some_and(|h| h.pid == me.pid && h.host == me.host);
        if mine {
            sqlx::query("DELETE FROM order_handler_state WHERE key = 'handler'")
                .execute(self.pool())
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    async fn executions_synced_at(&self) -> Result<Option<DateTime<Utc>>, OrderError> {
        let value: Option<String> = sqlx::query_scalar(
            "SELECT value FROM order_handler_state WHERE key = 'executions_synced_at'",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        opt_ts(value)
    }

    async fn set_executions_synced_at(&self, at: DateTime<Utc>) -> Result<(), OrderError> {
        sqlx::query(
            "INSERT INTO order_handler_state (key, value) VALUES ('executions_synced_at', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(ts(at))
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn prune_archived_orders(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PrunedOrders, OrderError> {
        prune::prune_archived_orders(self.pool(), before, dry_run).await
    }
}

#[cfg(test)]
#[path = "sqlite_orders/tests.rs"]
mod tests;

#[cfg(test)]
#[path = "sqlite_orders/props.rs"]
mod props;
