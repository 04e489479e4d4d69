//! The simulated broker's state, in memory and in the tables of migration
//! `20261124000007_sim_broker.sql`. A change is made in memory, then the rows it touched are
//! written in one transaction ([`State::commit`]); if that fails the caller drops the memory copy
//! and reloads it from the database, so memory never runs ahead of what is durable.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

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

/// A bound value of [`State::commit`]'s query.
enum Arg {
    I(i64),
    F(Option<f64>),
    S(Option<String>),
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

    /// Writes the rows `changes` touched, in one transaction sent as one multi-statement query
    /// (`BEGIN; …; COMMIT`): one trip to the connection's worker thread per change. If it fails
    /// the caller drops the connection, which rolls back whatever the query had begun.
    pub async fn commit(
        &self,
        conn: &mut SqliteConnection,
        changes: &Changes,
    ) -> Result<(), BrokerError> {
        let mut sql = String::from("BEGIN;");
        let mut args: Vec<Arg> = Vec::new();
        for (n, &i) in changes.orders.iter().enumerate() {
            if changes.orders[..n].contains(&i) {
                continue;
            }
            let o = &self.orders[i];
            let s = &o.state;
            let limit = match s.request.pricing {
                OrderPricing::Limit { price } => Some(price),
                OrderPricing::Market => None,
            };
            sql.push_str(
                "INSERT OR REPLACE INTO sim_orders (seq, broker_id, order_ref, instrument, \
                 contract, quantity, limit_price, status, filled, avg_fill_price, reason, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);",
            );
            args.extend([
                Arg::I(o.seq),
                Arg::S(Some(s.broker_id.clone())),
                Arg::S(Some(s.request.order_ref.clone())),
                Arg::S(Some(s.request.instrument.as_str().to_string())),
                Arg::I(s.request.contract.as_number() as i64),
                Arg::I(s.request.quantity),
                Arg::F(limit),
                Arg::S(Some(status_str(s.status).to_string())),
                Arg::I(s.filled),
                Arg::F(s.avg_fill_price),
                Arg::S(s.reason.clone()),
                Arg::S(Some(ts(s.updated_at))),
            ]);
        }
        for &i in &changes.executions {
            let e = &self.executions[i];
            sql.push_str(
                "INSERT INTO sim_executions (seq, exec_id, broker_id, order_ref, instrument, \
                 contract, quantity, price, ts, commission, commission_currency) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);",
            );
            args.extend([
                Arg::I(i as i64 + 1),
                Arg::S(Some(e.exec_id.clone())),
                Arg::S(Some(e.broker_id.clone())),
                Arg::S(Some(e.order_ref.clone())),
                Arg::S(Some(e.instrument.as_str().to_string())),
                Arg::I(e.contract.as_number() as i64),
                Arg::I(e.quantity),
                Arg::F(Some(e.price)),
                Arg::S(Some(ts(e.ts))),
                Arg::F(Some(e.commission)),
                Arg::S(Some(e.commission_currency.clone())),
            ]);
        }
        for (n, key) in changes.positions.iter().enumerate() {
            if changes.positions[..n].contains(key) {
                continue;
            }
            sql.push_str(
                "INSERT OR REPLACE INTO sim_positions (instrument, contract, quantity) \
                 VALUES (?, ?, ?);",
            );
            args.extend([
                Arg::S(Some(key.0.as_str().to_string())),
                Arg::I(key.1.as_number() as i64),
                Arg::I(self.positions.get(key).copied().unwrap_or(0)),
            ]);
        }
        for (n, c) in changes.cash.iter().enumerate() {
            if changes.cash[..n].contains(c) {
                continue;
            }
            let v = self.cash.get(c).copied().unwrap_or_default();
            sql.push_str(
                "INSERT OR REPLACE INTO sim_cash (currency, cash, commissions) VALUES (?, ?, ?);",
            );
            args.extend([
                Arg::S(Some(c.clone())),
                Arg::F(Some(v.cash)),
                Arg::F(Some(v.commissions)),
            ]);
        }
        sql.push_str("COMMIT;");
        let mut q = sqlx::query(&sql);
        for a in args {
            q = match a {
                Arg::I(v) => q.bind(v),
                Arg::F(v) => q.bind(v),
                Arg::S(v) => q.bind(v),
            };
        }
        q.execute(&mut *conn).await.map_err(db)?;
        Ok(())
    }
}
