//! The broker port: everything systrade asks of a broker — the account, positions, contract
//! details, historical bars, quotes, orders and their executions, and the connection's health —
//! behind one async trait, [`Broker`], so the whole pipeline runs offline on the simulated broker
//! and live on Interactive Brokers with one config change.
//!
//! Every call is bounded in time by the implementation (a broker that does not answer is a
//! [`BrokerError::Timeout`], never a hang). Errors are typed so a caller can tell what a retry
//! may fix ([`BrokerError::is_retryable`]) from what it cannot.
//!
//! Orders carry a client-chosen `order_ref`, unique per order: after a reconnect a caller finds
//! an order it may or may not have sent by its reference among the open orders and executions,
//! instead of sending it twice.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::contract::ContractId;
use super::instrument::InstrumentCode;
use super::ports::Frequency;
use super::series::{ContractPrices, FxPrices};

/// Why a broker call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrokerError {
    /// No connection, or it dropped during the call. Retry after reconnecting.
    #[error("broker disconnected: {detail}")]
    Disconnected { detail: String },
    /// The broker did not answer within the call's deadline.
    #[error("broker call `{call}` timed out after {seconds} s")]
    Timeout { call: String, seconds: f64 },
    /// The broker refused: too many requests. Retry after the given pause.
    #[error("broker pacing limit: {detail} (retry after {retry_after_seconds} s)")]
    Pacing {
        detail: String,
        retry_after_seconds: f64,
    },
    /// The broker rejected an order or request; retrying the same thing will not help.
    #[error("rejected by the broker: {reason}")]
    Rejected { reason: String },
    /// The broker does not know (or no longer trades) the contract.
    #[error("the broker does not know {instrument} {contract}: {detail}")]
    UnknownContract {
        instrument: InstrumentCode,
        contract: String,
        detail: String,
    },
    /// The broker has no spot FX rate for the currency (no mapping, or it does not know it).
    #[error("the broker has no spot FX for {currency}: {detail}")]
    UnknownCurrency { currency: String, detail: String },
    /// No market data permission for the instrument (IB errors 354, 10167, 10168, 10089,
    /// 10090).
    #[error("no market data permission for {instrument}: {detail}")]
    NoMarketData {
        instrument: InstrumentCode,
        detail: String,
    },
    /// The broker has no data for this request (IB error 162 without a pacing text: "HMDS
    /// query returned no data"): nothing in the window asked, not a permission problem.
    #[error("no data for this request for {instrument} {contract}: {detail}")]
    NoData {
        instrument: InstrumentCode,
        contract: String,
        detail: String,
    },
    /// The client id is used by another connection (IB error 326).
    #[error("client id {client_id} is already in use at the broker")]
    ClientIdInUse { client_id: i32 },
    /// No such order at the broker.
    #[error("the broker has no order {order}")]
    UnknownOrder { order: String },
    /// The account cannot be valued in that currency.
    #[error("the broker values the account in {base}, not {asked}; set capital.base_currency = \"{base}\"")]
    Currency { asked: String, base: String },
    /// Anything else the broker said, with its code when it has one.
    #[error("broker error{}: {detail}", code.map(|c| format!(" {c}")).unwrap_or_default())]
    Other { code: Option<i32>, detail: String },
}

impl BrokerError {
    /// Whether the same call may succeed later (after a reconnect or a pause).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            BrokerError::Disconnected { .. }
                | BrokerError::Timeout { .. }
                | BrokerError::Pacing { .. }
        )
    }
}

/// The health of the broker connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionHealth {
    pub connected: bool,
    /// When the connection was last known good.
    pub last_ok: Option<DateTime<Utc>>,
    /// Since when it has been down, if it is.
    pub down_since: Option<DateTime<Utc>>,
    /// Free text: server version, client id, simulated, ...
    pub detail: String,
}

/// The account's value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AccountValue {
    /// Net liquidation value (cash plus positions at market), in the asked currency.
    pub value: f64,
    /// Margin used by open positions, same currency.
    pub margin_used: f64,
}

/// A position the broker holds, by contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokerPosition {
    pub instrument: InstrumentCode,
    pub contract: ContractId,
    /// Contracts, signed (negative short).
    pub quantity: i64,
}

/// What the broker says about a contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractDetails {
    pub instrument: InstrumentCode,
    pub contract: ContractId,
    /// The exact last trading day.
    pub expiry: NaiveDate,
    /// Value of a full price move of one contract, in the instrument's currency.
    pub multiplier: f64,
    pub min_tick: f64,
    pub currency: String,
    /// Trading hours as the broker states them: IB's `YYYYMMDD:HHMM-YYYYMMDD:HHMM` sessions
    /// separated by `;` (a day may be `YYYYMMDD:CLOSED`), in `time_zone`.
    pub trading_hours: String,
    /// The exchange's time zone (IANA name, e.g. `US/Central`); empty when unknown.
    pub time_zone: String,
}

/// A top-of-book quote.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quote {
    pub ts: DateTime<Utc>,
    pub bid: f64,
    pub ask: f64,
    pub bid_size: f64,
    pub ask_size: f64,
    /// The last trade price, when known.
    pub last: Option<f64>,
}

/// How an order is priced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderPricing {
    Market,
    Limit { price: f64 },
}

/// An order to send: one contract, signed quantity (positive buys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Unique per order, chosen by the caller (e.g. `systrade-<broker order id>`); it is how an
    /// order is found again after a reconnect.
    pub order_ref: String,
    pub instrument: InstrumentCode,
    pub contract: ContractId,
    pub quantity: i64,
    pub pricing: OrderPricing,
}

/// Where an order stands at the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted, nothing filled yet.
    Submitted,
    PartiallyFilled,
    Filled,
    Cancelled,
    Rejected,
}

impl OrderStatus {
    /// No more fills can come.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected
        )
    }
}

/// An order's state at the broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    /// The broker's id for the order.
    pub broker_id: String,
    pub request: OrderRequest,
    pub status: OrderStatus,
    /// Contracts filled so far, signed like the order.
    pub filled: i64,
    /// Average fill price, when anything filled.
    pub avg_fill_price: Option<f64>,
    /// Why it was rejected or cancelled, when it was.
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One fill (an execution report), with its commission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Unique per execution at the broker: a repeated report has the same id.
    pub exec_id: String,
    pub broker_id: String,
    pub order_ref: String,
    pub instrument: InstrumentCode,
    pub contract: ContractId,
    /// Contracts, signed (positive bought).
    pub quantity: i64,
    pub price: f64,
    pub ts: DateTime<Utc>,
    pub commission: f64,
    pub commission_currency: String,
}

/// Everything systrade asks of a broker.
#[async_trait]
pub trait Broker: Send + Sync {
    /// Short name for messages: "sim", "ib".
    fn kind(&self) -> &'static str;

    /// The connection's state (never fails: a dead connection is reported, not an error).
    async fn health(&self) -> ConnectionHealth;

    /// Net liquidation value and margin used, in `currency`.
    async fn account_value(&self, currency: &str) -> Result<AccountValue, BrokerError>;

    /// Every position the account holds, by contract.
    async fn positions(&self) -> Result<Vec<BrokerPosition>, BrokerError>;

    async fn contract_details(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<ContractDetails, BrokerError>;

    /// Historical bars of one contract, oldest first (`Daily` or `Hourly`).
    async fn historical_bars(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<ContractPrices, BrokerError>;

    /// Daily spot FX, oldest first, as the USD value of one unit of `currency` (inverted
    /// when the broker quotes the pair the other way round), stamped 23:00 UTC of each day.
    async fn fx_history(&self, currency: &str) -> Result<FxPrices, BrokerError>;

    /// The current top of book.
    async fn quote(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Quote, BrokerError>;

    /// Sends an order; returns its state right after the broker took it (a market order may
    /// already be filled). An `order_ref` the broker has seen before is refused with
    /// [`BrokerError::Rejected`] rather than sent twice.
    async fn place_order(&self, order: &OrderRequest) -> Result<OrderState, BrokerError>;

    /// Changes the limit price of a working order.
    async fn modify_order(
        &self,
        broker_id: &str,
        limit_price: f64,
    ) -> Result<OrderState, BrokerError>;

    /// Asks to cancel a working order; the returned state may still show fills that raced it.
    async fn cancel_order(&self, broker_id: &str) -> Result<OrderState, BrokerError>;

    /// One order's state, by the broker's id.
    async fn order_state(&self, broker_id: &str) -> Result<OrderState, BrokerError>;

    /// Orders not yet final.
    async fn open_orders(&self) -> Result<Vec<OrderState>, BrokerError>;

    /// Executions since `since` (all the broker keeps when `None`), oldest first.
    async fn executions(&self, since: Option<DateTime<Utc>>)
        -> Result<Vec<Execution>, BrokerError>;

    /// Closes the connection and gives back what it holds (an IB client id). Call before the
    /// process exits; a process that dies without it has its client id reclaimed later.
    async fn close(&self) {}

    /// Checks a connection that has been in use and reconnects it when it dropped, so an outage
    /// is noticed (and alerted on) even while nothing calls the broker; a broker not used yet is
    /// left alone. A run's runner calls it every few seconds.
    async fn keep_alive(&self) {}
}

/// A client id held by a process for its broker connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientIdLease {
    pub client_id: i32,
    pub pid: i64,
    pub host: String,
    /// What holds it ("run daily", "broker check", ...).
    pub purpose: String,
    pub acquired_at: DateTime<Utc>,
    /// The holding process is certainly gone (its lease will be reclaimed).
    pub dead: bool,
}

/// Client ids leased per process from the store, so that every process of one installation
/// connects with its own id (pysystemtrade's `ib_idoffset` and "clear client ids").
#[async_trait]
pub trait ClientIdLeases: Send + Sync {
    /// Leases the lowest id in `first..=last` that is free or held by a dead process, skipping
    /// `skip` (ids the broker just refused as in use by someone else).
    async fn acquire(
        &self,
        first: i32,
        last: i32,
        skip: &[i32],
        purpose: &str,
    ) -> Result<i32, BrokerError>;

    /// Gives an id back (a no-op for an id this process does not hold).
    async fn release(&self, client_id: i32) -> Result<(), BrokerError>;

    /// Every lease, live or dead.
    async fn leases(&self) -> Result<Vec<ClientIdLease>, BrokerError>;

    /// Deletes the leases of dead processes; returns how many.
    async fn clear_dead(&self) -> Result<usize, BrokerError>;
}
