//! Orders and positions (§B11–§B23, §B32): the three order stacks — instrument orders (a
//! strategy's signed trade in an instrument), contract orders (one or more contract legs, a roll
//! spread among them) and broker orders (what is sent: one contract each) — with their parent
//! and child links, the strategy and contract positions that fills move, instrument locks, and
//! the [`OrderStore`] port that keeps them (SQLite in `adapters::store::sqlite_orders`).
//!
//! The pure rules live in the submodules: order generation and netting ([`generate`]), spawning
//! contract orders by roll state ([`spawn`]), and fill accounting ([`fills`]).
//!
//! Crash safety is a property of the store's operations, each one transaction: an order is
//! written before it is sent (its `order_ref` is how the broker is asked about it after a
//! crash), and one execution moves the broker order, its contract order leg, the contract
//! position, the instrument order and the strategy position together, recorded under its
//! execution id so a repeated report is never counted twice.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::broker::Execution;
use super::contract::ContractId;
use super::instrument::InstrumentCode;

pub mod breaks;
pub mod expiry;
pub mod fills;
pub mod generate;
pub mod generator;
pub mod handler;
mod hours;
mod manage;
pub mod rejects;
pub mod sizing;
pub mod spawn;
pub mod stopping;

pub type OrderId = i64;

/// The strategy name of force-roll orders (pysystemtrade's `_ROLL_PSEUDO_STRATEGY`).
pub const ROLL_PSEUDO_STRATEGY: &str = "_roll";

/// How an order is to be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    /// Best execution: a passive limit order that turns aggressive (`algoOriginalBest`).
    Best,
    /// A market order.
    Market,
    /// A limit order at the order's limit price, left working.
    Limit,
    /// The zero-trade parent of a force-roll spread (pysystemtrade's `Zero-roll-order`).
    ZeroRoll,
    /// A trade done outside the system, recorded as filled (no broker order is sent).
    Balance,
}

impl OrderType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Best => "best",
            OrderType::Market => "market",
            OrderType::Limit => "limit",
            OrderType::ZeroRoll => "zero_roll",
            OrderType::Balance => "balance",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "best" => OrderType::Best,
            "market" => OrderType::Market,
            "limit" => OrderType::Limit,
            "zero_roll" => OrderType::ZeroRoll,
            "balance" => OrderType::Balance,
            other => {
                return Err(format!(
                    "`{other}` is not an order type (best, market, limit, zero_roll, balance)"
                ))
            }
        })
    }
}

impl fmt::Display for OrderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strategy's trade in an instrument (the instrument stack).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentOrder {
    pub id: OrderId,
    pub strategy: String,
    pub instrument: InstrumentCode,
    /// Contracts, signed (positive buys).
    pub trade: i64,
    /// Filled so far, signed like the trade (may exceed it: see `overfill`).
    pub fill: i64,
    /// Quantity-weighted average fill price (§E5: weighted, not pysystemtrade's plain mean).
    pub filled_price: Option<f64>,
    pub fill_time: Option<DateTime<Utc>>,
    pub order_type: OrderType,
    pub limit_price: Option<f64>,
    /// What the strategy saw: price, contract and time, for slippage reports.
    pub reference_price: Option<f64>,
    pub reference_contract: Option<ContractId>,
    pub reference_time: Option<DateTime<Utc>>,
    pub generated_at: DateTime<Utc>,
    pub manual: bool,
    pub roll_order: bool,
    /// On the stack (false once completed or cancelled and archived).
    pub active: bool,
    /// A person (or end of day) asked to cancel it: nothing more is spawned or sent.
    pub cancel_requested: bool,
    pub completed_at: Option<DateTime<Utc>>,
    /// Contract orders spawned from it.
    pub children: Vec<OrderId>,
}

impl InstrumentOrder {
    /// What is still to be filled (0 once filled or over-filled).
    pub fn remaining(&self) -> i64 {
        fills::remaining(self.trade, self.fill)
    }
}

/// One contract of a contract order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractLeg {
    pub contract: ContractId,
    pub trade: i64,
    pub fill: i64,
    pub filled_price: Option<f64>,
}

/// A trade in one contract, or a spread of several (the contract stack).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractOrder {
    pub id: OrderId,
    /// The instrument order it came from.
    pub parent: OrderId,
    pub strategy: String,
    pub instrument: InstrumentCode,
    pub legs: Vec<ContractLeg>,
    pub order_type: OrderType,
    pub limit_price: Option<f64>,
    pub reference_price: Option<f64>,
    pub roll_order: bool,
    pub manual: bool,
    pub active: bool,
    pub generated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Broker orders sent for it.
    pub children: Vec<OrderId>,
}

impl ContractOrder {
    /// Whether every leg is filled.
    pub fn is_filled(&self) -> bool {
        self.legs
            .iter()
            .all(|l| fills::remaining(l.trade, l.fill) == 0)
    }
}

/// Where a broker order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BrokerOrderStatus {
    /// Written, not yet known to be at the broker (a crash here is recovered by its order_ref).
    Created,
    /// The broker took it; fills may come.
    Sent,
    Filled,
    Cancelled,
    Rejected,
}

impl BrokerOrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerOrderStatus::Created => "created",
            BrokerOrderStatus::Sent => "sent",
            BrokerOrderStatus::Filled => "filled",
            BrokerOrderStatus::Cancelled => "cancelled",
            BrokerOrderStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "created" => BrokerOrderStatus::Created,
            "sent" => BrokerOrderStatus::Sent,
            "filled" => BrokerOrderStatus::Filled,
            "cancelled" => BrokerOrderStatus::Cancelled,
            "rejected" => BrokerOrderStatus::Rejected,
            other => return Err(format!("`{other}` is not a broker order status")),
        })
    }

    /// No more sending or managing (fills that still arrive are recorded all the same).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            BrokerOrderStatus::Filled | BrokerOrderStatus::Cancelled | BrokerOrderStatus::Rejected
        )
    }
}

/// What was sent to the broker: one contract (a spread contract order is legged as one broker
/// order per leg).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokerOrder {
    pub id: OrderId,
    /// The contract order it executes.
    pub parent: OrderId,
    pub strategy: String,
    pub instrument: InstrumentCode,
    pub contract: ContractId,
    pub trade: i64,
    pub fill: i64,
    pub filled_price: Option<f64>,
    pub fill_time: Option<DateTime<Utc>>,
    /// `market` or `limit`.
    pub order_type: OrderType,
    pub limit_price: Option<f64>,
    /// Unique per order; how the broker is asked about it after a crash.
    pub order_ref: String,
    pub broker_id: Option<String>,
    pub status: BrokerOrderStatus,
    /// The algo managing it (`market`, `best`, `limit`).
    pub algo: String,
    /// Top of book when it was created (for the algo and slippage reports).
    pub side_price: Option<f64>,
    pub offside_price: Option<f64>,
    pub mid_price: Option<f64>,
    pub commission: f64,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// When a working limit order went aggressive.
    pub aggressive_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub active: bool,
}

/// A new instrument order (the store gives it its id).
#[derive(Debug, Clone, PartialEq)]
pub struct NewInstrumentOrder {
    pub strategy: String,
    pub instrument: InstrumentCode,
    pub trade: i64,
    pub order_type: OrderType,
    pub limit_price: Option<f64>,
    pub reference_price: Option<f64>,
    pub reference_contract: Option<ContractId>,
    pub reference_time: Option<DateTime<Utc>>,
    pub generated_at: DateTime<Utc>,
    /// Manual orders skip netting against the stack (§B12).
    pub manual: bool,
    pub roll_order: bool,
}

/// A new contract order for a parent instrument order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContractOrder {
    /// (contract, trade) per leg.
    pub legs: Vec<(ContractId, i64)>,
    pub order_type: OrderType,
    pub limit_price: Option<f64>,
    pub reference_price: Option<f64>,
}

/// A new broker order for a contract order's leg.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBrokerOrder {
    pub parent: OrderId,
    pub contract: ContractId,
    pub trade: i64,
    pub order_type: OrderType,
    pub limit_price: Option<f64>,
    pub algo: String,
    pub side_price: Option<f64>,
    pub offside_price: Option<f64>,
    pub mid_price: Option<f64>,
    pub created_at: DateTime<Utc>,
}

/// What happened to a new instrument order on the stack (§B12).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AddOutcome {
    Added {
        order: Box<InstrumentOrder>,
    },
    /// Orders for the same strategy and instrument already cover the trade.
    Netted {
        existing: Vec<OrderId>,
    },
    /// A zero trade is not an order.
    Zero,
}

/// A strategy's position in an instrument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyPosition {
    pub strategy: String,
    pub instrument: InstrumentCode,
    pub position: i64,
}

/// The system's position in a contract (all strategies).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractPosition {
    pub instrument: InstrumentCode,
    pub contract: ContractId,
    pub position: i64,
}

/// One change of a recorded position (a fill, a balance trade), with the execution's price
/// and time when it came from one: the positions' history, for the P&L report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionChange {
    /// `Some` for a contract position; `None` for a strategy position.
    pub contract: Option<ContractId>,
    /// The strategy of a strategy position (empty for a contract position).
    pub strategy: String,
    pub instrument: InstrumentCode,
    /// Contracts, signed.
    pub change: i64,
    /// The position after the change.
    pub position: i64,
    /// When it happened: the execution's time if it came from one, else when it was recorded.
    pub at: DateTime<Utc>,
    /// The execution's price, if it came from one.
    pub price: Option<f64>,
}

/// An instrument no orders may be spawned or sent for, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentLock {
    pub instrument: InstrumentCode,
    pub reason: String,
    pub locked_at: DateTime<Utc>,
}

/// What applying one execution did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FillOutcome {
    Applied {
        broker_order: OrderId,
        instrument_order: OrderId,
        /// The broker order's instrument.
        instrument: InstrumentCode,
        /// Contracts filled beyond the order's quantity: recorded, the positions follow the
        /// broker, and the instrument is locked.
        overfill: i64,
        /// The broker order had been cancelled or rejected (a fill after a cancel): booked, and
        /// the instrument locked, as for an over-fill.
        late: bool,
    },
    /// This execution id was applied before.
    Duplicate,
    /// No broker order has this order_ref (not ours, or from another installation).
    NotOurs,
}

/// A trade done outside the system, recorded at all three levels as filled (§B32
/// `balance_trade`): moves the strategy and the contract position together.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceTrade {
    pub strategy: String,
    pub instrument: InstrumentCode,
    pub contract: ContractId,
    pub quantity: i64,
    pub price: f64,
    pub at: DateTime<Utc>,
}

/// Which of the three stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackLevel {
    Instrument,
    Contract,
    Broker,
}

impl StackLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            StackLevel::Instrument => "instrument",
            StackLevel::Contract => "contract",
            StackLevel::Broker => "broker",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OrderError {
    #[error("order store: {detail}")]
    Database { detail: String },
    #[error("order store holds an invalid {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("no {level} order {id}")]
    NotFound { level: &'static str, id: OrderId },
    /// The request contradicts the stack's state (nothing was written).
    #[error("{0}")]
    Refused(String),
}

/// The three order stacks, positions and locks. Every method is one transaction.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Puts an order on the instrument stack, netted against the active orders of the same
    /// strategy and instrument unless it is manual (§B12).
    async fn add_instrument_order(
        &self,
        order: &NewInstrumentOrder,
    ) -> Result<AddOutcome, OrderError>;

    /// Active orders (`active = true`) or the archived history, oldest first.
    async fn instrument_orders(&self, active: bool) -> Result<Vec<InstrumentOrder>, OrderError>;
    async fn contract_orders(&self, active: bool) -> Result<Vec<ContractOrder>, OrderError>;
    async fn broker_orders(&self, active: bool) -> Result<Vec<BrokerOrder>, OrderError>;

    /// Writes the contract orders of an instrument order that has none yet, and links them.
    async fn spawn_contract_orders(
        &self,
        parent: OrderId,
        children: &[NewContractOrder],
    ) -> Result<Vec<OrderId>, OrderError>;

    /// Writes a broker order (status `Created`, a fresh `order_ref`) before it is sent.
    async fn add_broker_order(&self, order: &NewBrokerOrder) -> Result<BrokerOrder, OrderError>;

    /// Writes several broker orders in one transaction; one that is refused (its contract
    /// order archived, no such leg) gets its reason and is not written.
    async fn add_broker_orders(
        &self,
        orders: &[NewBrokerOrder],
    ) -> Result<Vec<Result<BrokerOrder, String>>, OrderError> {
        let mut out = Vec::with_capacity(orders.len());
        for o in orders {
            out.push(match self.add_broker_order(o).await {
                Ok(bo) => Ok(bo),
                Err(OrderError::Refused(why)) => Err(why),
                Err(e) => return Err(e),
            });
        }
        Ok(out)
    }

    /// Records what the broker said of a broker order (`Sent` with its id, or a final status),
    /// a new limit price, or that it went aggressive.
    async fn update_broker_order(
        &self,
        id: OrderId,
        update: &BrokerOrderUpdate,
    ) -> Result<(), OrderError>;

    /// Applies one execution: broker order, contract leg, contract position, instrument order
    /// and strategy position move together, once per execution id.
    async fn apply_execution(
        &self,
        execution: &Execution,
        at: DateTime<Utc>,
    ) -> Result<FillOutcome, OrderError>;

    /// Applies several executions in order, in one transaction (each once, by id).
    async fn apply_executions(
        &self,
        executions: &[Execution],
        at: DateTime<Utc>,
    ) -> Result<Vec<FillOutcome>, OrderError> {
        let mut out = Vec::with_capacity(executions.len());
        for e in executions {
            out.push(self.apply_execution(e, at).await?);
        }
        Ok(out)
    }

    /// Spawns the contract orders of several instrument orders in one transaction; a parent
    /// that is refused (already spawned, cancelled, archived) gets its reason and nothing is
    /// written for it.
    async fn spawn_many(
        &self,
        spawns: &[(OrderId, Vec<NewContractOrder>)],
    ) -> Result<Vec<Result<Vec<OrderId>, String>>, OrderError> {
        let mut out = Vec::with_capacity(spawns.len());
        for (parent, children) in spawns {
            out.push(match self.spawn_contract_orders(*parent, children).await {
                Ok(ids) => Ok(ids),
                Err(OrderError::Refused(why)) => Err(why),
                Err(e) => return Err(e),
            });
        }
        Ok(out)
    }

    /// Archives every instrument order whose family is done (§B22): all filled, or — for an
    /// order whose cancel was requested, or when `allow_partial` — nothing left working at
    /// the broker. Returns the archived instrument order ids.
    async fn complete_orders(
        &self,
        allow_partial: bool,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderId>, OrderError>;

    /// Asks to cancel an instrument order and its family; `false` when it is not active.
    async fn request_cancel(&self, id: OrderId) -> Result<bool, OrderError>;

    /// Removes every active order of one stack that has no live broker order below it (the
    /// orders are archived as cancelled); returns how many.
    async fn clear_stack(&self, level: StackLevel, at: DateTime<Utc>) -> Result<usize, OrderError>;

    async fn strategy_positions(&self) -> Result<Vec<StrategyPosition>, OrderError>;
    async fn contract_positions(&self) -> Result<Vec<ContractPosition>, OrderError>;
    /// Every position change (strategy and contract level) at or after `since`, oldest first.
    async fn position_changes(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<PositionChange>, OrderError>;

    /// Records a balance trade at all three levels; returns the instrument order id.
    async fn balance_trade(&self, trade: &BalanceTrade) -> Result<OrderId, OrderError>;

    async fn locks(&self) -> Result<Vec<InstrumentLock>, OrderError>;
    /// Locks an instrument (a no-op when it is locked already); returns whether it was new.
    async fn lock_instrument(
        &self,
        instrument: &InstrumentCode,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, OrderError>;
    /// Returns whether it was locked.
    async fn unlock_instrument(&self, instrument: &InstrumentCode) -> Result<bool, OrderError>;

    /// Makes this process the one stack handler; `Err(holder)` describes the live process that
    /// already is (a dead holder's claim is taken over).
    async fn claim_handler(&self) -> Result<Result<(), String>, OrderError>;
    /// Gives the claim back (a no-op when this process does not hold it).
    async fn release_handler(&self) -> Result<(), OrderError>;

    /// The execution id watermark: when executions were last read from the broker.
    async fn executions_synced_at(&self) -> Result<Option<DateTime<Utc>>, OrderError>;
    async fn set_executions_synced_at(&self, at: DateTime<Utc>) -> Result<(), OrderError>;

    /// Deletes whole archived order families — an instrument order archived (completed) before
    /// `before` with its contract orders, broker orders and their executions — when nothing in
    /// the family is on a stack. Positions and their history are kept. With `dry_run` the
    /// families are only counted.
    async fn prune_archived_orders(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PrunedOrders, OrderError>;
}

/// What the archived-orders cleaner found (or deleted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PrunedOrders {
    /// Instrument orders, each with its family.
    pub instrument_orders: u64,
    pub contract_orders: u64,
    pub broker_orders: u64,
    pub executions: u64,
    /// The oldest and newest completion time among the instrument orders.
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

/// A change to a broker order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrokerOrderUpdate {
    pub status: Option<BrokerOrderStatus>,
    pub broker_id: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub limit_price: Option<f64>,
    pub aggressive_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}
