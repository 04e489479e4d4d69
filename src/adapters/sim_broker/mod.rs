//! `SimBroker`: the simulated broker (`broker.kind = "sim"`, the default for the demo and tests).
//!
//! - Prices come from a [`QuoteSource`]: [`StoredQuotes`] (the stored prices with a half spread
//!   from the spread costs) in production, [`ManualQuotes`] in tests and the benchmark.
//! - Market orders fill at the touch (buy at the ask, sell at the bid): the half spread is the
//!   slippage model. Limit orders fill, also at the touch, once the touch crosses their price.
//! - Working orders (limit orders, and the remainder of partial or late fills) are checked
//!   against the current quotes at the start of every call that reads or changes orders,
//!   positions, executions or the account ([`SimBroker::step`] does the same explicitly).
//! - Commission per fill: `per_block` × contracts + `percentage` × notional, plus `per_trade` on
//!   an order's first fill, in the instrument's currency (reference data).
//! - Account value = `broker.sim_account_value` + Σ over currencies of (cash from trading after
//!   commissions + positions at mid × point size), converted to the asked currency with the
//!   stored FX (a currency without FX is an error). Margin used is [`MARGIN_FRACTION`] of the
//!   absolute notional at mid.
//! - State (orders, executions, positions, cash, commissions) is in the run store's SQLite file,
//!   one transaction per change ([`state`]): an order placed and filled is one commit, one SQL
//!   statement, written before the call returns. The file is in WAL mode with
//!   `synchronous=NORMAL`, so a returned commit survives a crash of any process (a power loss
//!   needs `store.durability = "full"`).
//! - Faults are injected per [`SimFaults`].

mod faults;
mod quotes;
mod state;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

pub use faults::SimFaults;
pub use quotes::{ManualQuotes, QuoteSource, StoredQuotes, QUOTE_REFRESH};

/// What the simulated broker holds, read from its tables without trading (no waiting order is
/// filled, nothing written): `systrade doctor --broker` compares it with the system's positions.
pub async fn stored_positions(pool: &SqlitePool) -> Result<Vec<BrokerPosition>, BrokerError> {
    let state = state::State::load(pool).await?;
    Ok(state
        .positions
        .into_iter()
        .filter(|(_, q)| *q != 0)
        .map(|((instrument, contract), quantity)| BrokerPosition {
            instrument,
            contract,
            quantity,
        })
        .collect())
}

use crate::domain::broker::*;
use crate::domain::contract::ContractId;
use crate::domain::instrument::{Instrument, InstrumentCode, ReferenceData};
use crate::domain::ports::Frequency;
use crate::domain::series::{ContractPrices, FxPrices};
use crate::engine::clock::Clock;
use state::{Changes, SimOrder, State};

/// Margin used, as a fraction of the absolute notional of the positions at mid.
pub const MARGIN_FRACTION: f64 = 0.10;

pub struct SimBroker {
    pool: SqlitePool,
    quotes: Arc<dyn QuoteSource>,
    reference: Arc<ReferenceData>,
    clock: Arc<dyn Clock>,
    /// Account value before trading P&L, in `currency`.
    account_value: f64,
    currency: String,
    faults: Mutex<SimFaults>,
    calls: AtomicU64,
    disconnected: AtomicBool,
    stale: Mutex<std::collections::HashMap<(InstrumentCode, ContractId), Quote>>,
    /// Loaded on first use.
    state: tokio::sync::Mutex<Option<State>>,
    /// The connection state changes are written on: one, kept, so a commit needs no pool
    /// checkout, prepared with [`state::prepare`] (opened on the first write; dropped after a
    /// failed one).
    conn: tokio::sync::Mutex<Option<sqlx::SqliteConnection>>,
}

fn rejected(reason: impl Into<String>) -> BrokerError {
    BrokerError::Rejected {
        reason: reason.into(),
    }
}

impl SimBroker {
    /// A simulated broker keeping its state in `pool` (a run store with the migrations applied).
    pub fn new(
        pool: SqlitePool,
        quotes: Arc<dyn QuoteSource>,
        reference: Arc<ReferenceData>,
        clock: Arc<dyn Clock>,
        account_value: f64,
        currency: impl Into<String>,
        faults: SimFaults,
    ) -> Self {
        Self {
            pool,
            quotes,
            reference,
            clock,
            account_value,
            currency: currency.into(),
            faults: Mutex::new(faults),
            calls: AtomicU64::new(0),
            disconnected: AtomicBool::new(false),
            stale: Mutex::new(Default::default()),
            state: tokio::sync::Mutex::new(None),
            conn: tokio::sync::Mutex::new(None),
        }
    }

    pub fn faults(&self) -> SimFaults {
        self.faults.lock().map(|f| *f).unwrap_or_default()
    }

    pub fn set_faults(&self, faults: SimFaults) {
        if let Ok(mut f) = self.faults.lock() {
            *f = faults;
        }
    }

    /// Restores the connection after an injected disconnect (the call count starts again).
    pub fn reconnect(&self) {
        self.calls.store(0, Ordering::SeqCst);
        self.disconnected.store(false, Ordering::SeqCst);
    }

    /// The time now, to the microsecond (as stored).
    fn now(&self) -> DateTime<Utc> {
        let t = self.clock.now();
        DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
    }

    /// Counts a call and fails it if the connection is down.
    fn call(&self) -> Result<u64, BrokerError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let at = self.faults().disconnect_at_call;
        if at > 0 && n >= at {
            self.disconnected.store(true, Ordering::SeqCst);
        }
        if self.disconnected.load(Ordering::SeqCst) {
            return Err(BrokerError::Disconnected {
                detail: format!("simulated disconnect (call {n})"),
            });
        }
        Ok(n)
    }

    fn instrument(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
    ) -> Result<&Instrument, BrokerError> {
        self.reference
            .instrument(code)
            .ok_or_else(|| BrokerError::UnknownContract {
                instrument: code.clone(),
                contract: contract.to_string(),
                detail: "not in the reference data".into(),
            })
    }

    fn current_quote(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Quote, BrokerError> {
        let stale = self.faults().stale_prices;
        if stale {
            if let Some(q) = self
                .stale
                .lock()
                .ok()
                .and_then(|s| s.get(&(instrument.clone(), contract)).copied())
            {
                return Ok(q);
            }
        }
        let q = self.quotes.quote(instrument, contract)?;
        if stale {
            if let Ok(mut s) = self.stale.lock() {
                s.insert((instrument.clone(), contract), q);
            }
        }
        Ok(q)
    }

    /// Fills working orders the current quotes reach (see the module docs), durably.
    pub async fn step(&self) -> Result<(), BrokerError> {
        let n = self.call()?;
        let mut guard = self.lock().await?;
        self.sweep(&mut guard, n).await
    }

    async fn lock(&self) -> Result<tokio::sync::MutexGuard<'_, Option<State>>, BrokerError> {
        let mut guard = self.state.lock().await;
        if guard.is_none() {
            *guard = Some(State::load(&self.pool).await?);
        }
        Ok(guard)
    }

    /// Writes `changes`; on failure forgets the memory copy so it is reloaded.
    async fn commit(&self, slot: &mut Option<State>, changes: &Changes) -> Result<(), BrokerError> {
        let Some(state) = slot.as_ref() else {
            return Ok(());
        };
        let mut conn = self.conn.lock().await;
        if conn.is_none() {
            let mut c = self.pool.acquire().await.map_err(state::db)?.detach();
            state::prepare(&mut c).await?;
            *conn = Some(c);
        }
        let result = match conn.as_mut() {
            Some(c) => state.commit(c, changes).await,
            None => Ok(()),
        };
        if let Err(e) = result {
            *slot = None;
            *conn = None;
            return Err(e);
        }
        Ok(())
    }

    async fn sweep(&self, slot: &mut Option<State>, call: u64) -> Result<(), BrokerError> {
        let Some(state) = slot.as_mut() else {
            return Ok(());
        };
        let mut changes = Changes::default();
        let working: Vec<usize> = state.working.iter().copied().collect();
        for i in working {
            // A contract without a quote now keeps its orders working (try_fill changes
            // nothing before its last fallible step).
            if let Err(e) = self.try_fill(state, i, call, &mut changes) {
                tracing::debug!("simulated broker: order {i} not checked: {e}");
            }
        }
        if changes.orders.is_empty() {
            return Ok(());
        }
        self.commit(slot, &changes).await
    }

    /// Fills order `i` (or part of it, per the faults) if it is due and the touch reaches it.
    fn try_fill(
        &self,
        state: &mut State,
        i: usize,
        call: u64,
        changes: &mut Changes,
    ) -> Result<(), BrokerError> {
        let order = &state.orders[i];
        if call < order.eligible_at_call {
            return Ok(());
        }
        let req = order.state.request.clone();
        let remaining = req.quantity - order.state.filled;
        if remaining == 0 {
            return Ok(());
        }
        let q = self.current_quote(&req.instrument, req.contract)?;
        let touch = if remaining > 0 { q.ask } else { q.bid };
        let reached = match req.pricing {
            OrderPricing::Market => true,
            OrderPricing::Limit { price } => {
                if remaining > 0 {
                    touch <= price
                } else {
                    touch >= price
                }
            }
        };
        if !reached || !touch.is_finite() {
            return Ok(());
        }
        let inst = self.instrument(&req.instrument, req.contract)?;
        let qty = self.faults().fill_quantity(remaining);
        let notional = qty.abs() as f64 * touch * inst.point_size;
        let mut commission = inst.per_block * qty.abs() as f64 + inst.percentage * notional.abs();
        if order.state.filled == 0 {
            commission += inst.per_trade;
        }
        let now = self.now();
        let exec = Execution {
            exec_id: format!("sim-exec-{}", state.executions.len() + 1),
            broker_id: order.state.broker_id.clone(),
            order_ref: req.order_ref.clone(),
            instrument: req.instrument.clone(),
            contract: req.contract,
            quantity: qty,
            price: touch,
            ts: now,
            commission,
            commission_currency: inst.currency.clone(),
        };
        let cash = state.cash.entry(inst.currency.clone()).or_default();
        cash.cash -= qty as f64 * touch * inst.point_size + commission;
        cash.commissions += commission;
        let key = (req.instrument.clone(), req.contract);
        *state.positions.entry(key.clone()).or_default() += qty;
        let o = &mut state.orders[i].state;
        let before = o.filled;
        o.filled += qty;
        let paid = o.avg_fill_price.unwrap_or(0.0) * before as f64 + touch * qty as f64;
        o.avg_fill_price = Some(paid / o.filled as f64);
        o.status = if o.filled == req.quantity {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        o.updated_at = now;
        state.refresh_working(i);
        state.executions.push(exec);
        changes.executions.push(state.executions.len() - 1);
        changes.orders.push(i);
        changes.positions.push(key);
        changes.cash.push(inst.currency.clone());
        Ok(())
    }

    fn order_index(state: &State, broker_id: &str) -> Result<usize, BrokerError> {
        state
            .by_id
            .get(broker_id)
            .copied()
            .ok_or_else(|| BrokerError::UnknownOrder {
                order: broker_id.to_string(),
            })
    }

    /// `amount` in `from` converted to `to` with the stored FX.
    fn convert(&self, amount: f64, from: &str, to: &str) -> Result<f64, BrokerError> {
        if from.eq_ignore_ascii_case(to) || amount == 0.0 {
            return Ok(amount);
        }
        let usd = |c: &str| -> Result<f64, BrokerError> {
            self.quotes
                .usd_value(c)?
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| BrokerError::Other {
                    code: None,
                    detail: format!("the simulated broker has no FX rate for {c}"),
                })
        };
        Ok(amount * usd(from)? / usd(to)?)
    }
}

#[async_trait]
impl Broker for SimBroker {
    fn kind(&self) -> &'static str {
        "sim"
    }

    async fn health(&self) -> ConnectionHealth {
        let connected = !self.disconnected.load(Ordering::SeqCst);
        ConnectionHealth {
            connected,
            last_ok: connected.then(|| self.now()),
            down_since: None,
            detail: "simulated broker".into(),
        }
    }

    async fn account_value(&self, currency: &str) -> Result<AccountValue, BrokerError> {
        let n = self.call()?;
        let mut guard = self.lock().await?;
        self.sweep(&mut guard, n).await?;
        let Some(state) = guard.as_ref() else {
            return Err(BrokerError::Other {
                code: None,
                detail: "simulated broker state unavailable".into(),
            });
        };
        let mut value = self
            .convert(self.account_value, &self.currency, currency)
            .map_err(|_| BrokerError::Currency {
                asked: currency.to_string(),
                base: self.currency.clone(),
            })?;
        let mut margin = 0.0;
        for (c, cash) in &state.cash {
            value += self.convert(cash.cash, c, currency)?;
        }
        for ((code, contract), qty) in &state.positions {
            if *qty == 0 {
                continue;
            }
            let inst = self.instrument(code, *contract)?;
            let q = self.current_quote(code, *contract)?;
            let at_mid = *qty as f64 * (q.bid + q.ask) / 2.0 * inst.point_size;
            let at_mid = self.convert(at_mid, &inst.currency, currency)?;
            value += at_mid;
            margin += MARGIN_FRACTION * at_mid.abs();
        }
        Ok(AccountValue {
            value,
            margin_used: margin,
        })
    }

    async fn positions(&self) -> Result<Vec<BrokerPosition>, BrokerError> {
        let n = self.call()?;
        let mut guard = self.lock().await?;
        self.sweep(&mut guard, n).await?;
        Ok(guard
            .as_ref()
            .map(|s| {
                s.positions
                    .iter()
                    .filter(|(_, q)| **q != 0)
                    .map(|((i, c), q)| BrokerPosition {
                        instrument: i.clone(),
                        contract: *c,
                        quantity: *q,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn contract_details(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<ContractDetails, BrokerError> {
        self.call()?;
        let inst = self.instrument(instrument, contract)?;
        let offset = self
            .reference
            .roll_parameters(instrument)
            .map_or(0, |r| r.expiry_offset);
        Ok(ContractDetails {
            instrument: instrument.clone(),
            contract,
            expiry: contract.approx_expiry(offset),
            multiplier: inst.point_size,
            min_tick: 0.0,
            currency: inst.currency.clone(),
            trading_hours: "simulated: always open".into(),
            time_zone: String::new(),
        })
    }

    async fn historical_bars(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<ContractPrices, BrokerError> {
        self.call()?;
        self.quotes.bars(instrument, contract, frequency)
    }

    async fn fx_history(&self, currency: &str) -> Result<FxPrices, BrokerError> {
        self.call()?;
        self.quotes.fx_history(currency)
    }

    async fn quote(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Quote, BrokerError> {
        self.call()?;
        self.current_quote(instrument, contract)
    }

    async fn place_order(&self, order: &OrderRequest) -> Result<OrderState, BrokerError> {
        let n = self.call()?;
        if order.quantity == 0 {
            return Err(rejected("an order for 0 contracts"));
        }
        if order.order_ref.trim().is_empty() {
            return Err(rejected("an order without an order_ref"));
        }
        if let OrderPricing::Limit { price } = order.pricing {
            if !price.is_finite() {
                return Err(rejected(format!("limit price {price}")));
            }
        }
        self.instrument(&order.instrument, order.contract)?;
        let faults = self.faults();
        let mut guard = self.lock().await?;
        let Some(state) = guard.as_mut() else {
            return Err(rejected("simulated broker state unavailable"));
        };
        if state.refs.contains(&order.order_ref) {
            return Err(rejected(format!(
                "order_ref `{}` was already used",
                order.order_ref
            )));
        }
        let seq = state.next_order_seq();
        let mut changes = Changes::default();
        let i = state.add_order(SimOrder {
            seq,
            eligible_at_call: n + faults.late_fill_calls,
            state: OrderState {
                broker_id: format!("sim-{seq}"),
                request: order.clone(),
                status: if faults.reject_orders {
                    OrderStatus::Rejected
                } else {
                    OrderStatus::Submitted
                },
                filled: 0,
                avg_fill_price: None,
                reason: faults
                    .reject_orders
                    .then(|| "rejected by the simulated broker (injected fault)".to_string()),
                updated_at: self.now(),
            },
        });
        changes.orders.push(i);
        if !faults.reject_orders {
            if let Err(e) = self.try_fill(state, i, n, &mut changes) {
                *guard = None;
                return Err(e);
            }
        }
        let out = state.orders[i].state.clone();
        self.commit(&mut guard, &changes).await?;
        Ok(out)
    }

    async fn modify_order(
        &self,
        broker_id: &str,
        limit_price: f64,
    ) -> Result<OrderState, BrokerError> {
        let n = self.call()?;
        if !limit_price.is_finite() {
            return Err(rejected(format!("limit price {limit_price}")));
        }
        let mut guard = self.lock().await?;
        let Some(state) = guard.as_mut() else {
            return Err(rejected("simulated broker state unavailable"));
        };
        let i = Self::order_index(state, broker_id)?;
        let o = &mut state.orders[i].state;
        if o.status.is_final() {
            return Err(rejected(format!("order {broker_id} is {:?}", o.status)));
        }
        if !matches!(o.request.pricing, OrderPricing::Limit { .. }) {
            return Err(rejected(format!("order {broker_id} is a market order")));
        }
        o.request.pricing = OrderPricing::Limit { price: limit_price };
        o.updated_at = self.now();
        let mut changes = Changes::default();
        changes.orders.push(i);
        if let Err(e) = self.try_fill(state, i, n, &mut changes) {
            *guard = None;
            return Err(e);
        }
        let out = state.orders[i].state.clone();
        self.commit(&mut guard, &changes).await?;
        Ok(out)
    }

    async fn cancel_order(&self, broker_id: &str) -> Result<OrderState, BrokerError> {
        let n = self.call()?;
        let mut guard = self.lock().await?;
        self.sweep(&mut guard, n).await?;
        let Some(state) = guard.as_mut() else {
            return Err(rejected("simulated broker state unavailable"));
        };
        let i = Self::order_index(state, broker_id)?;
        let o = &mut state.orders[i].state;
        if o.status.is_final() {
            return Ok(o.clone());
        }
        o.status = OrderStatus::Cancelled;
        o.reason = Some("cancelled on request".into());
        o.updated_at = self.now();
        let out = o.clone();
        state.refresh_working(i);
        let changes = Changes {
            orders: vec![i],
            ..Default::default()
        };
        self.commit(&mut guard, &changes).await?;
        Ok(out)
    }

    async fn order_state(&self, broker_id: &str) -> Result<OrderState, BrokerError> {
        let n = self.call()?;
        let mut guard = self.lock().await?;
        self.sweep(&mut guard, n).await?;
        let Some(state) = guard.as_ref() else {
            return Err(rejected("simulated broker state unavailable"));
        };
        let i = Self::order_index(state, broker_id)?;
        Ok(state.orders[i].state.clone())
    }

    async fn open_orders(&self) -> Result<Vec<OrderState>, BrokerError> {
        let n = self.call()?;
        let mut guard = self.lock().await?;
        self.sweep(&mut guard, n).await?;
        Ok(guard
            .as_ref()
            .map(|s| {
                s.orders
                    .iter()
                    .filter(|o| !o.state.status.is_final())
                    .map(|o| o.state.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn executions(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Execution>, BrokerError> {
        let n = self.call()?;
        let mut guard = self.lock().await?;
        self.sweep(&mut guard, n).await?;
        let twice = self.faults().duplicate_executions;
        let mut out = Vec::new();
        for e in guard.as_ref().map(|s| &s.executions[..]).unwrap_or(&[]) {
            if since.is_none_or(|s| e.ts >= s) {
                out.push(e.clone());
                if twice {
                    out.push(e.clone());
                }
            }
        }
        Ok(out)
    }
}
