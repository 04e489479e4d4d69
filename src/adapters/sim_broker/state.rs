//! The simulated broker's state, in memory and in the tables of migration
//! `20261124000007_sim_broker.sql`. A change is made in memory, then the rows it touched are
//! written in one transaction ([`State::commit`]); if that fails the caller drops the memory copy
//! and reloads it from the database, so memory never runs ahead of what is durable.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

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

    /// Writes the rows `changes` touched as one statement: a multi-row insert into
    /// [`WRITE_SCHEMA`]'s `sim_write` view, whose triggers upsert each row into its table. One
    /// statement is one transaction (it commits, or rolls back whole), and it is one result from
    /// sqlx's connection worker: each further statement of a `BEGIN; …; COMMIT` batch was
    /// another cross-thread hand-off, which cost more than SQLite's own work. Upserts change
    /// positions, cash and updated orders in place (no index pages rewritten).
    pub async fn commit(
        &self,
        conn: &mut SqliteConnection,
        changes: &Changes,
    ) -> Result<(), BrokerError> {
        let mut w = Write::default();
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
            w.row(
                ORDER_ROW,
                [
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
                ],
            );
        }
        for &i in &changes.executions {
            let e = &self.executions[i];
            w.row(
                EXECUTION_ROW,
                [
                    Arg::I(i as i64 + 1),
                    Arg::S(Some(e.broker_id.clone())),
                    Arg::S(Some(e.order_ref.clone())),
                    Arg::S(Some(e.exec_id.clone())),
                    Arg::S(Some(e.instrument.as_str().to_string())),
                    Arg::I(e.contract.as_number() as i64),
                    Arg::I(e.quantity),
                    Arg::F(Some(e.price)),
                    Arg::S(Some(ts(e.ts))),
                    Arg::F(Some(e.commission)),
                    Arg::S(Some(e.commission_currency.clone())),
                ],
            );
        }
        for (n, key) in changes.positions.iter().enumerate() {
            if changes.positions[..n].contains(key) {
                continue;
            }
            w.row(
                POSITION_ROW,
                [
                    Arg::S(Some(key.0.as_str().to_string())),
                    Arg::I(key.1.as_number() as i64),
                    Arg::I(self.positions.get(key).copied().unwrap_or(0)),
                ],
            );
        }
        for (n, c) in changes.cash.iter().enumerate() {
            if changes.cash[..n].contains(c) {
                continue;
            }
            let v = self.cash.get(c).copied().unwrap_or_default();
            w.row(
                CASH_ROW,
                [
                    Arg::F(Some(v.commissions)),
                    Arg::S(Some(c.clone())),
                    Arg::F(Some(v.cash)),
                ],
            );
        }
        if w.args.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::query(&w.sql);
        for a in w.args {
            q = match a {
                Arg::I(v) => q.bind(v),
                Arg::F(v) => q.bind(v),
                Arg::S(v) => q.bind(v),
            };
        }
        // The first (and only) result is sent once the statement has stepped to its end, i.e.
        // after the commit; not waiting for the end of the stream saves a second wake-up.
        let mut results = sqlx::Executor::fetch_many(&mut *conn, q);
        let first = first_result(|cx| results.as_mut().poll_next(cx)).await;
        match first {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(db(e)),
            None => Err(BrokerError::Other {
                code: None,
                detail: "simulated broker store: the write returned no result".into(),
            }),
        }
    }
}

/// How long [`first_result`] polls before it sleeps until woken.
pub const SPIN: Duration = Duration::from_micros(150);

/// The first item of a query's result stream (`poll` polls it). sqlx runs SQLite on its own
/// thread; a commit there takes ~50 µs, and waking this thread from sleep afterwards cost as
/// much again on the 2-core VM (the caller's CPU had gone idle). So the stream is first polled in a loop for up
/// to [`SPIN`] (holding this runtime thread that long, about one commit), then awaited as usual
/// (a checkpointing commit, a busy database). It is only for the broker's own writes, one per
/// change: a few a day in production, 10,000 in `systrade bench --broker`.
async fn first_result<T>(mut poll: impl FnMut(&mut Context<'_>) -> Poll<Option<T>>) -> Option<T> {
    let quick = {
        let mut cx = Context::from_waker(Waker::noop());
        let until = Instant::now() + SPIN;
        loop {
            match poll(&mut cx) {
                Poll::Ready(r) => break Some(r),
                Poll::Pending if Instant::now() < until => std::hint::spin_loop(),
                Poll::Pending => break None,
            }
        }
    };
    match quick {
        Some(r) => r,
        None => std::future::poll_fn(poll).await,
    }
}

/// The write path's schema, created on the connection the broker keeps ([`prepare`]): a TEMP
/// view of every column a change writes (`kind` says which table a row is for, unused columns
/// are NULL) and one `INSTEAD OF INSERT` trigger per table. TEMP objects live in that
/// connection only: nothing is added to the file's schema, other connections never see them,
/// and TEMP triggers may write the main database's tables.
pub const WRITE_SCHEMA: &str = "
CREATE TEMP VIEW IF NOT EXISTS sim_write AS SELECT
    NULL AS kind, NULL AS seq, NULL AS broker_id, NULL AS order_ref, NULL AS exec_id,
    NULL AS instrument, NULL AS contract, NULL AS quantity, NULL AS limit_price, NULL AS status,
    NULL AS filled, NULL AS avg_fill_price, NULL AS reason, NULL AS price, NULL AS at,
    NULL AS commission, NULL AS currency, NULL AS cash
WHERE 0;
CREATE TEMP TRIGGER IF NOT EXISTS sim_write_order INSTEAD OF INSERT ON sim_write
WHEN NEW.kind = 'order' BEGIN
    INSERT INTO sim_orders (seq, broker_id, order_ref, instrument, contract, quantity,
        limit_price, status, filled, avg_fill_price, reason, updated_at)
    VALUES (NEW.seq, NEW.broker_id, NEW.order_ref, NEW.instrument, NEW.contract, NEW.quantity,
        NEW.limit_price, NEW.status, NEW.filled, NEW.avg_fill_price, NEW.reason, NEW.at)
    ON CONFLICT (seq) DO UPDATE SET limit_price = excluded.limit_price,
        status = excluded.status, filled = excluded.filled,
        avg_fill_price = excluded.avg_fill_price, reason = excluded.reason,
        updated_at = excluded.updated_at;
END;
CREATE TEMP TRIGGER IF NOT EXISTS sim_write_execution INSTEAD OF INSERT ON sim_write
WHEN NEW.kind = 'execution' BEGIN
    INSERT INTO sim_executions (seq, exec_id, broker_id, order_ref, instrument, contract,
        quantity, price, ts, commission, commission_currency)
    VALUES (NEW.seq, NEW.exec_id, NEW.broker_id, NEW.order_ref, NEW.instrument, NEW.contract,
        NEW.quantity, NEW.price, NEW.at, NEW.commission, NEW.currency);
END;
CREATE TEMP TRIGGER IF NOT EXISTS sim_write_position INSTEAD OF INSERT ON sim_write
WHEN NEW.kind = 'position' BEGIN
    INSERT INTO sim_positions (instrument, contract, quantity)
    VALUES (NEW.instrument, NEW.contract, NEW.quantity)
    ON CONFLICT (instrument, contract) DO UPDATE SET quantity = excluded.quantity;
END;
CREATE TEMP TRIGGER IF NOT EXISTS sim_write_cash INSTEAD OF INSERT ON sim_write
WHEN NEW.kind = 'cash' BEGIN
    INSERT INTO sim_cash (currency, cash, commissions)
    VALUES (NEW.currency, NEW.cash, NEW.commission)
    ON CONFLICT (currency) DO UPDATE SET cash = excluded.cash,
        commissions = excluded.commissions;
END;
";

/// WAL pages after which a commit on the broker's connection checkpoints (SQLite's default is
/// 1000). A checkpoint runs inside the commit that crosses the mark and syncs the WAL and the
/// database file: at 5 pages per order, the default made every 200th round trip wait for two
/// fsyncs (a fifth of the benchmark's time). The WAL file may grow to 16 MB.
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 4000;

/// Sets up `conn` for [`State::commit`]: creates [`WRITE_SCHEMA`] (idempotent) and sets
/// [`WAL_AUTOCHECKPOINT_PAGES`] (a setting of this connection only).
pub async fn prepare(conn: &mut SqliteConnection) -> Result<(), BrokerError> {
    let pragma = format!("PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};");
    sqlx::query(&pragma).execute(&mut *conn).await.map_err(db)?;
    sqlx::query(WRITE_SCHEMA)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// One row of `sim_write` per kind: the columns in view order, `?` where a value is bound.
const ORDER_ROW: &str =
    "('order', ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL, NULL)";
const EXECUTION_ROW: &str =
    "('execution', ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, ?, ?, ?, ?, NULL)";
const POSITION_ROW: &str =
    "('position', NULL, NULL, NULL, NULL, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)";
const CASH_ROW: &str =
    "('cash', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ?, ?, ?)";

/// The insert [`State::commit`] sends, built row by row.
#[derive(Default)]
struct Write {
    sql: String,
    args: Vec<Arg>,
}

impl Write {
    fn row<const N: usize>(&mut self, row: &str, args: [Arg; N]) {
        debug_assert_eq!(row.matches('?').count(), N);
        self.sql.push_str(if self.sql.is_empty() {
            "INSERT INTO sim_write VALUES "
        } else {
            ", "
        });
        self.sql.push_str(row);
        self.args.extend(args);
    }
}
