//! The stack handler (§B16–§B23, sysproduction `run_stack_handler`): one [`StackHandler::pass`]
//! runs its methods in order — recover broker orders a crash left unconfirmed, book the broker's
//! executions, check position breaks (locking instruments), spawn contract orders by roll
//! state, create force-roll orders, send broker orders through an algo, manage working orders,
//! book executions again and archive completed families. [`StackHandler::end_of_day`] cancels
//! what is unfilled and archives everything.
//!
//! Crash safety rests on the order store (one transaction per step, executions applied once by
//! id) and on the broker contract that an `order_ref` is never accepted twice: a broker order
//! is written (`created`) before it is sent, and at start-up every `created` order is looked up
//! at the broker by its reference — found, it is marked sent; not found, it is sent now, and a
//! broker that already had it refuses it, so it is never sent twice.
//!
//! Decisions: a spread contract order (a force roll) is legged — one broker order per leg —
//! because the broker port sends single-contract orders (IB combo orders can come later);
//! average prices are quantity-weighted (§E5); trade-limit capacity is clamped at zero (§E6);
//! liquidity sizing uses the size quoted on the side we trade against (§E7). Sizing by trade
//! limits and liquidity, and counting what was sent, are in [`super::sizing`]; managing working
//! orders in `manage`; trading hours and contract details in `hours`.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::breaks::position_breaks;
use super::fills::remaining;
use super::spawn::{force_roll, plan_children, ForceRoll, SpawnPlan};
use super::*;
use crate::domain::broker::{Broker, BrokerError, OrderPricing, OrderRequest, OrderStatus};
use crate::domain::contract::ContractId;
use crate::domain::controls::{ControlError, ControlStore};
use crate::domain::execution::{
    analyse, initial_order, BestExecutionParams, InitialOrder, MarketHours, Tick, TickAnalysis,
};
use crate::domain::metadata::{ContractStore, RollStateStore};
use crate::domain::ports::PriceStore;
use crate::domain::rolls::{demotion, RollState};

/// Why a pass could not run (the node fails; a retry may help).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Orders(#[from] OrderError),
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Controls(#[from] ControlError),
    #[error("{0}")]
    Store(String),
}

impl HandlerError {
    pub fn is_retryable(&self) -> bool {
        match self {
            HandlerError::Orders(OrderError::Database { .. }) => true,
            HandlerError::Broker(b) => b.is_retryable(),
            HandlerError::Controls(c) => c.is_retryable(),
            _ => false,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PassReport {
    pub recovered: usize,
    pub fills: usize,
    pub duplicate_fills: usize,
    pub locked: Vec<String>,
    pub unlocked: Vec<String>,
    pub spawned: usize,
    pub force_rolls: usize,
    pub sent: usize,
    pub aggressive: usize,
    pub cancelled: usize,
    pub completed: usize,
    /// Orders left waiting, and why (locked instrument, roll state, a refused quote, ...).
    pub notes: Vec<String>,
    /// What the run summary shows: orders refused because their contract expired.
    pub warnings: Vec<String>,
}

/// The prefix of the locks the handler sets for position breaks (and lifts when they heal).
pub const BREAK_LOCK: &str = "position break";

pub struct StackHandler<'a> {
    pub orders: &'a dyn OrderStore,
    pub broker: &'a dyn Broker,
    pub rolls: &'a dyn RollStateStore,
    /// Contract expiries: no order is spawned into an expired contract.
    pub contracts: &'a dyn ContractStore,
    pub prices: &'a dyn PriceStore,
    /// Trade limits (§B15): read when sizing broker orders, counted when one is sent.
    pub controls: &'a dyn ControlStore,
    pub best: BestExecutionParams,
    /// The clock (UTC).
    pub now: &'a (dyn Fn() -> DateTime<Utc> + Send + Sync),
    /// Per-pass reads (`PassCache::default()`).
    pub cache: PassCache,
}

/// What one pass reads once and reuses: each instrument's (priced, forward) contracts and
/// stored roll state, and the trade limits (kept up to date with the trades the pass counts).
/// Cleared at the start of every pass.
#[derive(Default)]
pub struct PassCache {
    contracts: std::sync::Mutex<HashMap<InstrumentCode, Option<(ContractId, ContractId)>>>,
    rolls: std::sync::Mutex<HashMap<InstrumentCode, RollState>>,
    expiries: std::sync::Mutex<HashMap<InstrumentCode, HashMap<ContractId, chrono::NaiveDate>>>,
    pub(super) limits: std::sync::Mutex<Option<Vec<crate::domain::execution::TradeLimit>>>,
    pub(super) details: std::sync::Mutex<
        HashMap<(InstrumentCode, ContractId), Option<crate::domain::broker::ContractDetails>>,
    >,
}

pub(super) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl PassCache {
    fn clear(&self) {
        lock(&self.contracts).clear();
        lock(&self.rolls).clear();
        lock(&self.expiries).clear();
        *lock(&self.limits) = None;
        lock(&self.details).clear();
    }
}

/// A point in a pass where a test can stop the process (as `kill -9` would).
pub type Hook<'a> = &'a (dyn Fn(&str) + Send + Sync);

impl StackHandler<'_> {
    /// The broker ids of the orders the broker still works.
    pub(super) async fn open_broker_ids(&self) -> Result<HashSet<String>, HandlerError> {
        Ok(self
            .broker
            .open_orders()
            .await?
            .into_iter()
            .map(|o| o.broker_id)
            .collect())
    }

    /// Every method once, in order. `hook` is called at each step boundary of an order's journey
    /// (`after_broker_order_written`, `after_order_sent`, `after_fill_applied`, ...).
    pub async fn pass(&self, hook: Hook<'_>) -> Result<PassReport, HandlerError> {
        self.cache.clear();
        let mut report = PassReport::default();
        self.recover_unsent(&mut report, hook).await?;
        self.book_executions(&mut report, hook).await?;
        self.check_breaks(&mut report).await?;
        self.spawn(&mut report).await?;
        hook("after_spawn");
        self.force_rolls(&mut report).await?;
        self.send(&mut report, hook).await?;
        self.manage(&mut report).await?;
        self.book_executions(&mut report, hook).await?;
        report.completed += self
            .orders
            .complete_orders(false, (self.now)())
            .await?
            .len();
        hook("after_complete");
        Ok(report)
    }

    /// Cancels every working broker order, books what filled, and archives every order family
    /// (partly filled or not): the stacks are empty for tomorrow (§B22 safe stack removal).
    pub async fn end_of_day(&self, hook: Hook<'_>) -> Result<PassReport, HandlerError> {
        self.cache.clear();
        let mut report = PassReport::default();
        self.recover_unsent(&mut report, hook).await?;
        for io in self.orders.instrument_orders(true).await? {
            self.orders.request_cancel(io.id).await?;
        }
        for bo in self.orders.broker_orders(true).await? {
            if bo.status == BrokerOrderStatus::Sent {
                self.cancel(&bo, "end of day").await?;
                report.cancelled += 1;
            }
        }
        self.book_executions(&mut report, hook).await?;
        report.completed += self.orders.complete_orders(true, (self.now)()).await?.len();
        Ok(report)
    }

    pub(super) async fn cancel(&self, bo: &BrokerOrder, why: &str) -> Result<(), HandlerError> {
        let Some(id) = &bo.broker_id else {
            return Ok(());
        };
        let state = match self.broker.cancel_order(id).await {
            Ok(state) => state,
            Err(BrokerError::UnknownOrder { .. }) => {
                self.mark(bo.id, BrokerOrderStatus::Cancelled, why).await?;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let status = match state.status {
            OrderStatus::Filled => BrokerOrderStatus::Filled,
            OrderStatus::Rejected => BrokerOrderStatus::Rejected,
            _ => BrokerOrderStatus::Cancelled,
        };
        self.mark(bo.id, status, why).await
    }

    async fn mark(
        &self,
        id: OrderId,
        status: BrokerOrderStatus,
        why: &str,
    ) -> Result<(), HandlerError> {
        self.orders
            .update_broker_order(
                id,
                &BrokerOrderUpdate {
                    status: Some(status),
                    reason: Some(why.to_string()),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    /// Broker orders written but not known to be sent (a crash between writing and sending, or
    /// between sending and recording): found at the broker by order_ref → sent; not found →
    /// sent now (a broker that had it refuses the reference, so it is never sent twice).
    async fn recover_unsent(
        &self,
        report: &mut PassReport,
        hook: Hook<'_>,
    ) -> Result<(), HandlerError> {
        let unsent: Vec<BrokerOrder> = self
            .orders
            .broker_orders(true)
            .await?
            .into_iter()
            .filter(|b| b.status == BrokerOrderStatus::Created)
            .collect();
        if unsent.is_empty() {
            return Ok(());
        }
        let open = self.broker.open_orders().await?;
        let executions = self.broker.executions(None).await?;
        for bo in unsent {
            let known = open
                .iter()
                .find(|o| o.request.order_ref == bo.order_ref)
                .map(|o| o.broker_id.clone())
                .or_else(|| {
                    executions
                        .iter()
                        .find(|e| e.order_ref == bo.order_ref)
                        .map(|e| e.broker_id.clone())
                });
            match known {
                Some(broker_id) => {
                    self.count_trade(&bo).await?;
                    self.orders
                        .update_broker_order(
                            bo.id,
                            &BrokerOrderUpdate {
                                status: Some(BrokerOrderStatus::Sent),
                                broker_id: Some(broker_id),
                                submitted_at: Some((self.now)()),
                                ..Default::default()
                            },
                        )
                        .await?;
                }
                None => self.submit(&bo, hook).await?,
            }
            report.recovered += 1;
        }
        Ok(())
    }

    /// Sends a written broker order and records the broker's answer.
    async fn submit(&self, bo: &BrokerOrder, hook: Hook<'_>) -> Result<(), HandlerError> {
        let pricing = match (bo.order_type, bo.limit_price) {
            (OrderType::Limit, Some(price)) => OrderPricing::Limit { price },
            _ => OrderPricing::Market,
        };
        let request = OrderRequest {
            order_ref: bo.order_ref.clone(),
            instrument: bo.instrument.clone(),
            contract: bo.contract,
            quantity: bo.trade,
            pricing,
        };
        match self.broker.place_order(&request).await {
            Ok(state) => {
                hook("after_order_sent");
                let status = match state.status {
                    OrderStatus::Filled => BrokerOrderStatus::Filled,
                    OrderStatus::Cancelled => BrokerOrderStatus::Cancelled,
                    OrderStatus::Rejected => BrokerOrderStatus::Rejected,
                    OrderStatus::Submitted | OrderStatus::PartiallyFilled => {
                        BrokerOrderStatus::Sent
                    }
                };
                // Counted before the answer is recorded: a crash in between counts it again
                // at recovery (too much, the safe side), never not at all.
                if status != BrokerOrderStatus::Rejected {
                    self.count_trade(bo).await?;
                }
                self.orders
                    .update_broker_order(
                        bo.id,
                        &BrokerOrderUpdate {
                            status: Some(status),
                            broker_id: Some(state.broker_id),
                            submitted_at: Some((self.now)()),
                            reason: state.reason,
                            ..Default::default()
                        },
                    )
                    .await?;
                hook("after_order_recorded");
                Ok(())
            }
            // Not sent, or unknown whether: left `created`, looked up again next pass.
            Err(e) if e.is_retryable() => Err(e.into()),
            Err(e) => {
                tracing::error!(order = bo.id, instrument = %bo.instrument, "broker order refused: {e}");
                self.mark(bo.id, BrokerOrderStatus::Rejected, &e.to_string())
                    .await
            }
        }
    }

    /// Books every execution the broker reports since the last sync (each once, by id), and
    /// picks up orders the broker cancelled or rejected.
    pub(super) async fn book_executions(
        &self,
        report: &mut PassReport,
        hook: Hook<'_>,
    ) -> Result<(), HandlerError> {
        let started = (self.now)();
        let since = self
            .orders
            .executions_synced_at()
            .await?
            .map(|t| t - chrono::Duration::hours(1));
        let executions = self.broker.executions(since).await?;
        // One transaction for all of them: each is applied once by id, all or none.
        for outcome in self
            .orders
            .apply_executions(&executions, (self.now)())
            .await?
        {
            match outcome {
                FillOutcome::Applied {
                    broker_order,
                    instrument_order,
                    instrument,
                    overfill,
                    late,
                } => {
                    report.fills += 1;
                    if overfill != 0 || late {
                        let what = if overfill != 0 {
                            format!("filled {overfill} contract(s) beyond its quantity")
                        } else {
                            "filled after it was cancelled or rejected".to_string()
                        };
                        // Raised as a critical alert (app::AlertLogLayer).
                        tracing::error!(
                            target: "systrade::alert",
                            severity = "critical",
                            kind = "overfill",
                            instrument = %instrument,
                            "{instrument}: broker order {broker_order} {what}; positions follow the broker, the instrument is locked (instrument order {instrument_order})"
                        );
                    }
                    hook("after_fill_applied");
                }
                FillOutcome::Duplicate => report.duplicate_fills += 1,
                FillOutcome::NotOurs => {}
            }
        }
        self.orders.set_executions_synced_at(started).await?;
        let sent: Vec<BrokerOrder> = self
            .orders
            .broker_orders(true)
            .await?
            .into_iter()
            .filter(|b| b.status == BrokerOrderStatus::Sent && b.broker_id.is_some())
            .collect();
        if sent.is_empty() {
            return Ok(());
        }
        // Orders the broker still works need no question each: one list of the open ones, then
        // the state of each order that left it (filled, cancelled or rejected there).
        let open = self.open_broker_ids().await?;
        for bo in sent {
            let Some(id) = bo.broker_id.as_ref().filter(|id| !open.contains(*id)) else {
                continue;
            };
            let state = match self.broker.order_state(id).await {
                Ok(s) => s,
                Err(BrokerError::UnknownOrder { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let status = match state.status {
                OrderStatus::Cancelled => BrokerOrderStatus::Cancelled,
                OrderStatus::Rejected => BrokerOrderStatus::Rejected,
                OrderStatus::Filled if remaining(bo.trade, bo.fill) == 0 => {
                    BrokerOrderStatus::Filled
                }
                _ => continue,
            };
            let why = state.reason.unwrap_or_else(|| "by the broker".into());
            self.mark(bo.id, status, &why).await?;
        }
        Ok(())
    }

    /// §B23: locks instruments whose contract positions differ from the broker's, and lifts the
    /// break locks of instruments that agree again (other locks stay until a person lifts them).
    async fn check_breaks(&self, report: &mut PassReport) -> Result<(), HandlerError> {
        let broker = self.broker.positions().await?;
        let contract = self.orders.contract_positions().await?;
        let strategy = self.orders.strategy_positions().await?;
        let breaks = position_breaks(&strategy, &contract, &broker);
        let now = (self.now)();
        for b in &breaks.external {
            let reason = format!(
                "{BREAK_LOCK}: {} {} system {} broker {}",
                b.instrument, b.contract, b.system, b.broker
            );
            if self
                .orders
                .lock_instrument(&b.instrument, &reason, now)
                .await?
            {
                // Raised as a critical alert (app::AlertLogLayer).
                tracing::error!(
                    target: "systrade::alert",
                    severity = "critical",
                    kind = "position_break",
                    instrument = %b.instrument,
                    "{reason}; instrument locked"
                );
                report.locked.push(b.instrument.to_string());
            }
        }
        let broken: HashSet<_> = breaks.instruments_to_lock().into_iter().collect();
        for lock in self.orders.locks().await? {
            if lock.reason.starts_with(BREAK_LOCK) && !broken.contains(&lock.instrument) {
                self.orders.unlock_instrument(&lock.instrument).await?;
                tracing::info!(instrument = %lock.instrument, "position break healed; instrument unlocked");
                report.unlocked.push(lock.instrument.to_string());
            }
        }
        Ok(())
    }

    /// (priced, forward) contracts of an instrument: the last multiple-prices row.
    fn current_contracts(
        &self,
        instrument: &InstrumentCode,
    ) -> Result<Option<(ContractId, ContractId)>, HandlerError> {
        if let Some(known) = lock(&self.cache.contracts).get(instrument) {
            return Ok(*known);
        }
        let multiple = self
            .prices
            .read_multiple(instrument)
            .map_err(|e| HandlerError::Store(e.to_string()))?;
        let current =
            multiple.and_then(|m| Some((*m.price_contract.last()?, *m.forward_contract.last()?)));
        lock(&self.cache.contracts).insert(instrument.clone(), current);
        Ok(current)
    }

    async fn roll_state(
        &self,
        instrument: &InstrumentCode,
        q: i64,
    ) -> Result<RollState, HandlerError> {
        let cached = lock(&self.cache.rolls).get(instrument).copied();
        let state = match cached {
            Some(state) => state,
            None => {
                let state = self
                    .rolls
                    .roll_state(instrument)
                    .await
                    .map_err(|e| HandlerError::Store(e.to_string()))?;
                lock(&self.cache.rolls).insert(instrument.clone(), state);
                state
            }
        };
        // §B8 auto-demotion: a forced or closing state with nothing in the priced contract.
        Ok(match demotion(state, q != 0) {
            Some(demoted) => {
                tracing::warn!(instrument = %instrument, "roll state {state} with no position in the priced contract: treated as {demoted}");
                demoted
            }
            None => state,
        })
    }

    /// The first of `legs` whose contract expired before today, with its expiry.
    async fn expired_leg(
        &self,
        instrument: &InstrumentCode,
        legs: &[(ContractId, i64)],
    ) -> Result<Option<(ContractId, chrono::NaiveDate)>, HandlerError> {
        let cached = lock(&self.cache.expiries).get(instrument).cloned();
        let expiries = match cached {
            Some(e) => e,
            None => {
                let e: HashMap<ContractId, chrono::NaiveDate> = self
                    .contracts
                    .contracts(instrument)
                    .await
                    .map_err(|e| HandlerError::Store(e.to_string()))?
                    .into_iter()
                    .map(|r| (r.contract, r.expiry))
                    .collect();
                lock(&self.cache.expiries).insert(instrument.clone(), e.clone());
                e
            }
        };
        let today = (self.now)().date_naive();
        Ok(legs.iter().find_map(|(c, _)| {
            let expiry = *expiries.get(c)?;
            super::expiry::is_expired(expiry, today).then_some((*c, expiry))
        }))
    }

    /// §B16: contract orders for new instrument orders.
    async fn spawn(&self, report: &mut PassReport) -> Result<(), HandlerError> {
        let locked: HashSet<InstrumentCode> = self
            .orders
            .locks()
            .await?
            .into_iter()
            .map(|l| l.instrument)
            .collect();
        let positions = contract_positions_by_key(self.orders.contract_positions().await?);
        let mut spawns: Vec<(OrderId, Vec<NewContractOrder>)> = Vec::new();
        for io in self.orders.instrument_orders(true).await? {
            if !io.children.is_empty()
                || io.cancel_requested
                || matches!(io.order_type, OrderType::ZeroRoll | OrderType::Balance)
            {
                continue;
            }
            if locked.contains(&io.instrument) {
                report
                    .notes
                    .push(format!("order {}: {} is locked", io.id, io.instrument));
                continue;
            }
            // One instrument's unreadable prices hold back only its own orders.
            let Some((priced, forward)) =
                self.current_contracts(&io.instrument).unwrap_or_else(|e| {
                    tracing::error!(instrument = %io.instrument, "order {}: {e}", io.id);
                    None
                })
            else {
                report.notes.push(format!(
                    "order {}: {} has no readable multiple prices (no priced contract)",
                    io.id, io.instrument
                ));
                continue;
            };
            let q = positions
                .get(&(io.instrument.clone(), priced))
                .copied()
                .unwrap_or(0);
            let state = self.roll_state(&io.instrument, q).await?;
            match plan_children(state, io.remaining(), priced, Some(forward), q) {
                SpawnPlan::Children { legs } if legs.is_empty() => {}
                SpawnPlan::Children { legs } => {
                    if let Some((contract, expiry)) =
                        self.expired_leg(&io.instrument, &legs).await?
                    {
                        let warning = super::expiry::expired_contract_warning(
                            &io.instrument,
                            io.id,
                            contract,
                            expiry,
                            q,
                        );
                        tracing::error!("{warning}");
                        report
                            .notes
                            .push(format!("order {}: contract {contract} expired", io.id));
                        report.warnings.push(warning);
                        continue;
                    }
                    let children: Vec<NewContractOrder> = legs
                        .into_iter()
                        .map(|(contract, trade)| NewContractOrder {
                            legs: vec![(contract, trade)],
                            order_type: io.order_type,
                            limit_price: io.limit_price,
                            reference_price: (io.reference_contract == Some(contract))
                                .then_some(io.reference_price)
                                .flatten(),
                        })
                        .collect();
                    spawns.push((io.id, children));
                }
                SpawnPlan::Wait { reason } => {
                    report.notes.push(format!("order {}: {reason}", io.id));
                }
            }
        }
        // One transaction for the pass's spawns.
        for ((id, children), outcome) in spawns.iter().zip(self.orders.spawn_many(&spawns).await?) {
            match outcome {
                Ok(_) => report.spawned += children.len(),
                Err(why) => report.notes.push(format!("order {id}: not spawned: {why}")),
            }
        }
        Ok(())
    }

    /// §B17: force-roll orders for instruments in `force`, `force_outright` or `close` with a
    /// priced position, unless roll or contract orders for them are already working.
    async fn force_rolls(&self, report: &mut PassReport) -> Result<(), HandlerError> {
        let instrument_orders = self.orders.instrument_orders(true).await?;
        let contract_orders = self.orders.contract_orders(true).await?;
        let strategy_positions = self.orders.strategy_positions().await?;
        let positions = contract_positions_by_key(self.orders.contract_positions().await?);
        let locked: HashSet<InstrumentCode> = self
            .orders
            .locks()
            .await?
            .into_iter()
            .map(|l| l.instrument)
            .collect();
        let mut instruments: Vec<InstrumentCode> =
            positions.keys().map(|(i, _)| i.clone()).collect();
        instruments.dedup();
        // A zero-roll parent left without children (a crash between its two writes).
        let orphans: Vec<&InstrumentOrder> = instrument_orders
            .iter()
            .filter(|o| o.order_type == OrderType::ZeroRoll && o.children.is_empty())
            .collect();
        for instrument in instruments {
            if locked.contains(&instrument) {
                continue;
            }
            let current = self.current_contracts(&instrument).unwrap_or_else(|e| {
                report
                    .notes
                    .push(format!("{instrument}: no force roll: {e}"));
                None
            });
            let Some((priced, forward)) = current else {
                continue;
            };
            let q = positions
                .get(&(instrument.clone(), priced))
                .copied()
                .unwrap_or(0);
            let state = self.roll_state(&instrument, q).await?;
            let Some(roll) = force_roll(state, priced, forward, q) else {
                continue;
            };
            let orphan = orphans.iter().find(|o| o.instrument == instrument);
            let on_stack: Vec<&InstrumentOrder> = instrument_orders
                .iter()
                .filter(|o| o.instrument == instrument)
                .collect();
            if orphan.is_none() && on_stack.iter().any(|o| o.roll_order) {
                continue;
            }
            if contract_orders.iter().any(|c| c.instrument == instrument) {
                if orphan.is_none() {
                    tracing::error!(instrument = %instrument, "force roll waits: contract orders are working for it");
                    report.notes.push(format!(
                        "{instrument}: force roll waits for working contract orders"
                    ));
                }
                continue;
            }
            if matches!(roll, ForceRoll::Spread { .. } | ForceRoll::Outright { .. })
                && on_stack.len() == 1
                && on_stack[0].remaining().signum() == -q.signum()
            {
                continue; // the one order on the stack reduces the position: it rolls it.
            }
            let now = (self.now)();
            let (parent, children) = match roll {
                ForceRoll::Spread { legs } => (
                    self.zero_roll_parent(orphan.copied(), &instrument, now)
                        .await?,
                    vec![NewContractOrder {
                        legs,
                        order_type: OrderType::Best,
                        limit_price: None,
                        reference_price: None,
                    }],
                ),
                ForceRoll::Outright { legs } => (
                    self.zero_roll_parent(orphan.copied(), &instrument, now)
                        .await?,
                    legs.into_iter()
                        .map(|leg| NewContractOrder {
                            legs: vec![leg],
                            order_type: OrderType::Best,
                            limit_price: None,
                            reference_price: None,
                        })
                        .collect(),
                ),
                ForceRoll::Close { trade } => {
                    let holder = strategy_positions
                        .iter()
                        .filter(|p| p.instrument == instrument && p.position != 0)
                        .max_by_key(|p| p.position.abs())
                        .map(|p| p.strategy.clone())
                        .unwrap_or_else(|| ROLL_PSEUDO_STRATEGY.to_string());
                    let added = self
                        .orders
                        .add_instrument_order(&NewInstrumentOrder {
                            strategy: holder,
                            instrument: instrument.clone(),
                            trade,
                            order_type: OrderType::Best,
                            limit_price: None,
                            reference_price: None,
                            reference_contract: Some(priced),
                            reference_time: Some(now),
                            generated_at: now,
                            manual: true,
                            roll_order: true,
                        })
                        .await?;
                    let AddOutcome::Added { order } = added else {
                        continue;
                    };
                    (
                        order.id,
                        vec![NewContractOrder {
                            legs: vec![(priced, trade)],
                            order_type: OrderType::Best,
                            limit_price: None,
                            reference_price: None,
                        }],
                    )
                }
            };
            self.orders.spawn_contract_orders(parent, &children).await?;
            tracing::info!(instrument = %instrument, state = %state, "force-roll order created");
            report.force_rolls += 1;
        }
        Ok(())
    }

    async fn zero_roll_parent(
        &self,
        orphan: Option<&InstrumentOrder>,
        instrument: &InstrumentCode,
        now: DateTime<Utc>,
    ) -> Result<OrderId, HandlerError> {
        if let Some(o) = orphan {
            return Ok(o.id);
        }
        let added = self
            .orders
            .add_instrument_order(&NewInstrumentOrder {
                strategy: ROLL_PSEUDO_STRATEGY.into(),
                instrument: instrument.clone(),
                trade: 0,
                order_type: OrderType::ZeroRoll,
                limit_price: None,
                reference_price: None,
                reference_contract: None,
                reference_time: Some(now),
                generated_at: now,
                manual: false,
                roll_order: true,
            })
            .await?;
        match added {
            AddOutcome::Added { order } => Ok(order.id),
            other => Err(HandlerError::Store(format!(
                "the zero-roll order for {instrument} was not added: {other:?}"
            ))),
        }
    }

    /// §B19: a broker order for every contract-order leg with something left to fill and
    /// nothing working at the broker, through the order's algo.
    async fn send(&self, report: &mut PassReport, hook: Hook<'_>) -> Result<(), HandlerError> {
        let locked: HashSet<InstrumentCode> = self
            .orders
            .locks()
            .await?
            .into_iter()
            .map(|l| l.instrument)
            .collect();
        let cancelling: HashSet<OrderId> = self
            .orders
            .instrument_orders(true)
            .await?
            .into_iter()
            .filter(|o| o.cancel_requested)
            .map(|o| o.id)
            .collect();
        let broker_orders = self.orders.broker_orders(true).await?;
        let live: HashSet<(OrderId, ContractId)> = broker_orders
            .iter()
            .filter(|b| !b.status.is_final())
            .map(|b| (b.parent, b.contract))
            .collect();
        let rejected = super::rejects::rejections(&broker_orders);
        let now = (self.now)();
        let mut to_send: Vec<NewBrokerOrder> = Vec::new();
        for co in self.orders.contract_orders(true).await? {
            if cancelling.contains(&co.parent) {
                continue;
            }
            if locked.contains(&co.instrument) {
                report.notes.push(format!(
                    "contract order {}: {} is locked",
                    co.id, co.instrument
                ));
                continue;
            }
            // §B19 step 2: nothing is sent for a contract whose market is closed now.
            let mut closed = None;
            for leg in &co.legs {
                if self.hours(&co.instrument, leg.contract).await == MarketHours::Closed {
                    closed = Some(leg.contract);
                }
            }
            if let Some(contract) = closed {
                report.notes.push(format!(
                    "contract order {}: the market for {} {contract} is closed",
                    co.id, co.instrument
                ));
                continue;
            }
            // What is left of each leg with nothing working at the broker, sized (§B19 step 3).
            let pending: Vec<i64> = co
                .legs
                .iter()
                .map(|leg| {
                    if live.contains(&(co.id, leg.contract)) {
                        return 0;
                    }
                    // A rejected leg waits its backoff, and is not sent after its last try.
                    if let Some(r) = rejected.get(&(co.id, leg.contract)) {
                        if !r.may_send(&self.best, now) {
                            report.notes.push(r.warning(&self.best));
                            return 0;
                        }
                    }
                    remaining(leg.trade, leg.fill)
                })
                .collect();
            if pending.iter().all(|&q| q == 0) {
                continue;
            }
            for (contract, quantity, tick) in self.size_legs(&co, &pending, report).await? {
                let new = self
                    .price_order(&co, contract, quantity, tick.as_ref())
                    .await;
                // Later legs of this pass are sized against what this one will use.
                self.reserve_trade(&co.strategy, &co.instrument, quantity);
                to_send.push(new);
            }
        }
        if to_send.is_empty() {
            return Ok(());
        }
        // Written (`created`) in one transaction before any is sent: a crash from here on is
        // recovered by looking each up at the broker by its order_ref.
        let written = self.orders.add_broker_orders(&to_send).await?;
        hook("after_broker_order_written");
        for bo in written {
            let bo = match bo {
                Ok(bo) => bo,
                Err(why) => {
                    report
                        .notes
                        .push(format!("broker order not written: {why}"));
                    continue;
                }
            };
            match self.submit(&bo, hook).await {
                Ok(()) => report.sent += 1,
                Err(e) if e.is_retryable() => {
                    report
                        .notes
                        .push(format!("broker order {}: not sent yet: {e}", bo.id));
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The top of the book for a best-execution leg, seen from its side; `None` (noted) when
    /// the broker has no valid quote for it.
    pub(super) async fn leg_tick(
        &self,
        co: &ContractOrder,
        contract: ContractId,
        quantity: i64,
        report: &mut PassReport,
    ) -> Result<Option<TickAnalysis>, HandlerError> {
        let quote = match self.broker.quote(&co.instrument, contract).await {
            Ok(q) => q,
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                report
                    .notes
                    .push(format!("contract order {}: no quote: {e}", co.id));
                return Ok(None);
            }
        };
        let tick = Tick {
            bid: quote.bid,
            ask: quote.ask,
            bid_size: quote.bid_size,
            ask_size: quote.ask_size,
        };
        let analysis = analyse(&tick, quantity);
        if analysis.is_none() {
            report.notes.push(format!(
                "contract order {}: no valid bid and ask for {} {contract}",
                co.id, co.instrument
            ));
        }
        Ok(analysis)
    }

    /// The broker order for one sized leg: market, limit at the order's price, or the
    /// best-execution algo's first order on `tick` (a passive limit at the offside price, or
    /// market when not viable).
    async fn price_order(
        &self,
        co: &ContractOrder,
        contract: ContractId,
        quantity: i64,
        tick: Option<&TickAnalysis>,
    ) -> NewBrokerOrder {
        let mut new = NewBrokerOrder {
            parent: co.id,
            contract,
            trade: quantity,
            order_type: OrderType::Market,
            limit_price: None,
            algo: "market".into(),
            side_price: None,
            offside_price: None,
            mid_price: None,
            created_at: (self.now)(),
        };
        match (co.order_type, tick) {
            (OrderType::Limit, _) => {
                new.order_type = OrderType::Limit;
                new.limit_price = co.limit_price;
                new.algo = "limit".into();
            }
            (OrderType::Best, Some(analysis)) => {
                new.algo = "best".into();
                new.side_price = Some(analysis.side_price);
                new.offside_price = Some(analysis.offside_price);
                new.mid_price = Some(analysis.mid);
                let time_left = self.time_left(&co.instrument, contract).await;
                if let InitialOrder::Limit { price } =
                    initial_order(analysis, quantity, time_left, &self.best)
                {
                    new.order_type = OrderType::Limit;
                    new.limit_price = Some(self.round(&co.instrument, contract, price).await);
                }
            }
            // Best without a tick is not sized (size_legs drops it); the rest are market.
            _ => {}
        }
        new
    }
}

fn contract_positions_by_key(
    positions: Vec<ContractPosition>,
) -> BTreeMap<(InstrumentCode, ContractId), i64> {
    positions
        .into_iter()
        .map(|p| ((p.instrument, p.contract), p.position))
        .collect()
}
