//! The simulated broker's state, in memory and in the tables of migration
//! `20261124000007_sim_broker.sql`. A change is made in memory, then the rows it touched are
//! written in one transaction ([`State::commit`]); if that fails the caller drops the memory copy
//! and reloads it from the database, so memory never runs ahead of what is durable.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::adapters::store::sqlite::ts;
use crate::domain::broker::*;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;

/// An order with what only the simulator needs.
#[derive(Debug, Clone)]
pub struct SimOrder {
    pub seq: i64,
    pub state: OrderState,
    /// The call count from which it may fill (late-fill fault); 0 after a reload.
    pub eligible_at_call: u64,
}

/// Cash and commissions paid, per currency.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cash {
    /// Net cash from trading (buys negative, sells positive), after commissions.
    pub cash: f64,
    pub commissions: f64,
}

#[derive(Debug, Default)]
pub struct State {
    pub orders: Vec<SimOrder>,
    pub by_id: HashMap<String, usize>,
    pub refs: HashSet<String>,
    pub executions: Vec<Execution>,
    pub positions: BTreeMap<(InstrumentCode, ContractId), i64>,
    pub cash: BTreeMap<String, Cash>,
    /// Indexes of the orders not yet final.
    pub working: BTreeSet<usize>,
}

/// What a change touched, to be written.
#[derive(Debug, Default)]
pub struct Changes {
    pub orders: Vec<usize>,
    /// Indexes into `State::executions`.
    pub executions: Vec<usize>,
    pub positions: Vec<(InstrumentCode, ContractId)>,
    pub cash: Vec<String>,
}

pub fn db(e: sqlx::Error) -> BrokerError {
    BrokerError::Other {
        code: None,
        detail: format!("simulated broker store: {e}"),
    }
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> BrokerError {
    BrokerError::Other {
        code: None,
        detail: format!("simulated broker store: corrupt {what}: {detail}"),
    }
}

fn status_str(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Submitted => "submitted",
        OrderStatus::PartiallyFilled => "partially_filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Rejected => "rejected",
    }
}

fn parse_status(s: &str) -> Result<OrderStatus, BrokerError> {
    Ok(match s {
        "submitted" => OrderStatus::Submitted,
        "partially_filled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "cancelled" => OrderStatus::Cancelled,
        "rejected" => OrderStatus::Rejected,
        other => return Err(corrupt("order status", other)),
    })
}

fn get<'r, T>(r: &'r SqliteRow, column: &str) -> Result<T, BrokerError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    r.try_get(column).map_err(db)
}

fn instrument(r: &SqliteRow) -> Result<InstrumentCode, BrokerError> {
    let s: String = get(r, "instrument")?;
    InstrumentCode::new(&s).map_err(|e| corrupt("instrument", e))
}

fn contract(r: &SqliteRow) -> Result<ContractId, BrokerError> {
    let n: i64 = get(r, "contract")?;
    u32::try_from(n)
        .map_err(|e| corrupt("contract", e))
        .and_then(|n| ContractId::from_number(n).map_err(|e| corrupt("contract", e)))
}

fn time(r: &SqliteRow, column: &str) -> Result<DateTime<Utc>, BrokerError> {
    let s: String = get(r, column)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt(column, e))
}

impl State {
    pub async fn load(pool: &SqlitePool) -> Result<State, BrokerError> {
        let mut state = State::default();
        for r in sqlx::query("SELECT * FROM sim_orders ORDER BY seq")
            .fetch_all(pool)
            .await
            .map_err(db)?
        {
            let limit: Option<f64> = get(&r, "limit_price")?;
            let status: String = get(&r, "status")?;
            let order = SimOrder {
                seq: get(&r, "seq")?,
                eligible_at_call: 0,
                state: OrderState {
                    broker_id: get(&r, "broker_id")?,
                    request: OrderRequest {
                        order_ref: get(&r, "order_ref")?,
                        instrument: instrument(&r)?,
                        contract: contract(&r)?,
                        quantity: get(&r, "quantity")?,
                        pricing: match limit {
                            Some(price) => OrderPricing::Limit { price },
                            None => OrderPricing::Market,
                        },
                    },
                    status: parse_status(&status)?,
                    filled: get(&r, "filled")?,
                    avg_fill_price: get(&r, "avg_fill_price")?,
                    reason: get(&r, "reason")?,
                    updated_at: time(&r, "updated_at")?,
                },
            };
            state.add_order(order);
        }
        for r in sqlx::query("SELECT * FROM sim_executions ORDER BY seq")
            .fetch_all(pool)
            .await
            .map_err(db)?
        {
            state.executions.push(Execution {
                exec_id: get(&r, "exec_id")?,
                broker_id: get(&r, "broker_id")?,
                order_ref: get(&r, "order_ref")?,
                instrument: instrument(&r)?,
                contract: contract(&r)?,
                quantity: get(&r, "quantity")?,
                price: get(&r, "price")?,
                ts: time(&r, "ts")?,
                commission: get(&r, "commission")?,
                commission_currency: get(&r, "commission_currency")?,
            });
        }
        for r in sqlx::query("SELECT * FROM sim_positions")
            .fetch_all(pool)
            .await
            .map_err(db)?
        {
            state
                .positions
                .insert((instrument(&r)?, contract(&r)?), get(&r, "quantity")?);
        }
        for r in sqlx::query("SELECT * FROM sim_cash")
            .fetch_all(pool)
            .await
            .map_err(db)?
        {
            state.cash.insert(
                get(&r, "currency")?,
                Cash {
                    cash: get(&r, "cash")?,
                    commissions: get(&r, "commissions")?,
                },
            );
        }
        Ok(state)
    }

    pub fn add_order(&mut self, order: SimOrder) -> usize {
        let i = self.orders.len();
        self.by_id.insert(order.state.broker_id.clone(), i);
        self.refs.insert(order.state.request.order_ref.clone());
        self.orders.push(order);
        self.refresh_working(i);
        i
    }

    /// Keeps `working` in step with order `i`'s status.
    pub fn refresh_working(&mut self, i: usize) {
        if self.orders[i].state.status.is_final() {
            self.working.remove(&i);
        } else {
            self.working.insert(i);
        }
    }

    /// The next order sequence number (ids are `sim-<seq>`).
    pub fn next_order_seq(&self) -> i64 {
        self.orders.last().map_or(1, |o| o.seq + 1)
    }

    /// Writes the rows `changes` touched, in one transaction.
    pub async fn commit(&self, pool: &SqlitePool, changes: &Changes) -> Result<(), BrokerError> {
        let mut tx = pool.begin().await.map_err(db)?;
        for &i in &changes.orders {
            let o = &self.orders[i];
            let s = &o.state;
            let limit = match s.request.pricing {
                OrderPricing::Limit { price } => Some(price),
                OrderPricing::Market => None,
            };
            sqlx::query(
                "INSERT OR REPLACE INTO sim_orders (seq, broker_id, order_ref, instrument, \
                 contract, quantity, limit_price, status, filled, avg_fill_price, reason, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(o.seq)
            .bind(&s.broker_id)
            .bind(&s.request.order_ref)
            .bind(s.request.instrument.as_str())
            .bind(s.request.contract.as_number() as i64)
            .bind(s.request.quantity)
            .bind(limit)
            .bind(status_str(s.status))
            .bind(s.filled)
            .bind(s.avg_fill_price)
            .bind(&s.reason)
            .bind(ts(s.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for &i in &changes.executions {
            let e = &self.executions[i];
            sqlx::query(
                "INSERT INTO sim_executions (seq, exec_id, broker_id, order_ref, instrument, \
                 contract, quantity, price, ts, commission, commission_currency) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(i as i64 + 1)
            .bind(&e.exec_id)
            .bind(&e.broker_id)
            .bind(&e.order_ref)
            .bind(e.instrument.as_str())
            .bind(e.contract.as_number() as i64)
            .bind(e.quantity)
            .bind(e.price)
            .bind(ts(e.ts))
            .bind(e.commission)
            .bind(&e.commission_currency)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for key in &changes.positions {
            let q = self.positions.get(key).copied().unwrap_or(0);
            sqlx::query(
                "INSERT OR REPLACE INTO sim_positions (instrument, contract, quantity) \
                 VALUES (?, ?, ?)",
            )
            .bind(key.0.as_str())
            .bind(key.1.as_number() as i64)
            .bind(q)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for c in &changes.cash {
            let v = self.cash.get(c).copied().unwrap_or_default();
            sqlx::query(
                "INSERT OR REPLACE INTO sim_cash (currency, cash, commissions) VALUES (?, ?, ?)",
            )
            .bind(c)
            .bind(v.cash)
            .bind(v.commissions)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}
