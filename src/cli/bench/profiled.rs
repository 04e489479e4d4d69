//! Where the order-stack benchmark's time goes: the stack handler's ports wrapped so every call
//! is counted and timed by name (`orders.apply_execution`, `broker.place_order`,
//! `prices.read_multiple`, ...). What is left of the wall time is the handler's own work. The
//! wrappers only delegate; a clock read either side of a call costs well under a microsecond.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::domain::broker::*;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::metadata::{MetadataError, RollStateChange, RollStateRecord, RollStateStore};
use crate::domain::orders::*;
use crate::domain::ports::{Frequency, PriceStore, PriceStoreError};
use crate::domain::rolls::RollState;
use crate::domain::series::{
    AdjustedPrices, ContractPrices, FxPrices, MultiplePrices, RollCalendar,
};

/// Calls and total time by name.
#[derive(Default)]
pub struct Profile {
    spans: Mutex<BTreeMap<&'static str, (u64, Duration)>>,
}

impl Profile {
    fn add(&self, name: &'static str, took: Duration) {
        if let Ok(mut spans) = self.spans.lock() {
            let e = spans.entry(name).or_default();
            e.0 += 1;
            e.1 += took;
        }
    }

    pub async fn time<T>(&self, name: &'static str, f: impl Future<Output = T>) -> T {
        let t = Instant::now();
        let out = f.await;
        self.add(name, t.elapsed());
        out
    }

    pub fn time_sync<T>(&self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.add(name, t.elapsed());
        out
    }

    /// `[{what, calls, seconds, us_per_call}]`, the most time first.
    pub fn report(&self) -> Vec<Value> {
        let mut rows: Vec<(&'static str, u64, Duration)> = self
            .spans
            .lock()
            .map(|s| s.iter().map(|(k, (n, d))| (*k, *n, *d)).collect())
            .unwrap_or_default();
        rows.sort_by_key(|r| std::cmp::Reverse(r.2));
        rows.into_iter()
            .map(|(what, calls, took)| {
                let secs = took.as_secs_f64();
                json!({
                    "what": what,
                    "calls": calls,
                    "seconds": secs,
                    "us_per_call": secs * 1e6 / calls.max(1) as f64,
                })
            })
            .collect()
    }
}

/// An [`OrderStore`] that times every call.
pub struct Orders<'a> {
    pub inner: &'a dyn OrderStore,
    pub profile: &'a Profile,
}

#[async_trait]
impl OrderStore for Orders<'_> {
    async fn add_instrument_order(
        &self,
        order: &NewInstrumentOrder,
    ) -> Result<AddOutcome, OrderError> {
        let f = self.inner.add_instrument_order(order);
        self.profile.time("orders.add_instrument_order", f).await
    }
    async fn instrument_orders(&self, active: bool) -> Result<Vec<InstrumentOrder>, OrderError> {
        let f = self.inner.instrument_orders(active);
        self.profile.time("orders.instrument_orders", f).await
    }
    async fn contract_orders(&self, active: bool) -> Result<Vec<ContractOrder>, OrderError> {
        let f = self.inner.contract_orders(active);
        self.profile.time("orders.contract_orders", f).await
    }
    async fn broker_orders(&self, active: bool) -> Result<Vec<BrokerOrder>, OrderError> {
        let f = self.inner.broker_orders(active);
        self.profile.time("orders.broker_orders", f).await
    }
    async fn spawn_contract_orders(
        &self,
        parent: OrderId,
        children: &[NewContractOrder],
    ) -> Result<Vec<OrderId>, OrderError> {
        let f = self.inner.spawn_contract_orders(parent, children);
        self.profile.time("orders.spawn_contract_orders", f).await
    }
    async fn add_broker_order(&self, order: &NewBrokerOrder) -> Result<BrokerOrder, OrderError> {
        let f = self.inner.add_broker_order(order);
        self.profile.time("orders.add_broker_order", f).await
    }
    async fn update_broker_order(
        &self,
        id: OrderId,
        update: &BrokerOrderUpdate,
    ) -> Result<(), OrderError> {
        let f = self.inner.update_broker_order(id, update);
        self.profile.time("orders.update_broker_order", f).await
    }
    async fn apply_execution(
        &self,
        execution: &Execution,
        at: DateTime<Utc>,
    ) -> Result<FillOutcome, OrderError> {
        let f = self.inner.apply_execution(execution, at);
        self.profile.time("orders.apply_execution", f).await
    }
    async fn add_broker_orders(
        &self,
        orders: &[NewBrokerOrder],
    ) -> Result<Vec<Result<BrokerOrder, String>>, OrderError> {
        let f = self.inner.add_broker_orders(orders);
        self.profile.time("orders.add_broker_orders", f).await
    }
    async fn apply_executions(
        &self,
        executions: &[Execution],
        at: DateTime<Utc>,
    ) -> Result<Vec<FillOutcome>, OrderError> {
        let f = self.inner.apply_executions(executions, at);
        self.profile.time("orders.apply_executions", f).await
    }
    async fn spawn_many(
        &self,
        spawns: &[(OrderId, Vec<NewContractOrder>)],
    ) -> Result<Vec<Result<Vec<OrderId>, String>>, OrderError> {
        let f = self.inner.spawn_many(spawns);
        self.profile.time("orders.spawn_many", f).await
    }
    async fn complete_orders(
        &self,
        allow_partial: bool,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderId>, OrderError> {
        let f = self.inner.complete_orders(allow_partial, at);
        self.profile.time("orders.complete_orders", f).await
    }
    async fn request_cancel(&self, id: OrderId) -> Result<bool, OrderError> {
        let f = self.inner.request_cancel(id);
        self.profile.time("orders.request_cancel", f).await
    }
    async fn clear_stack(&self, level: StackLevel, at: DateTime<Utc>) -> Result<usize, OrderError> {
        let f = self.inner.clear_stack(level, at);
        self.profile.time("orders.clear_stack", f).await
    }
    async fn strategy_positions(&self) -> Result<Vec<StrategyPosition>, OrderError> {
        let f = self.inner.strategy_positions();
        self.profile.time("orders.strategy_positions", f).await
    }
    async fn contract_positions(&self) -> Result<Vec<ContractPosition>, OrderError> {
        let f = self.inner.contract_positions();
        self.profile.time("orders.contract_positions", f).await
    }
    async fn position_changes(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<PositionChange>, OrderError> {
        let f = self.inner.position_changes(since);
        self.profile.time("orders.position_changes", f).await
    }
    async fn balance_trade(&self, trade: &BalanceTrade) -> Result<OrderId, OrderError> {
        let f = self.inner.balance_trade(trade);
        self.profile.time("orders.balance_trade", f).await
    }
    async fn locks(&self) -> Result<Vec<InstrumentLock>, OrderError> {
        let f = self.inner.locks();
        self.profile.time("orders.locks", f).await
    }
    async fn lock_instrument(
        &self,
        instrument: &InstrumentCode,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, OrderError> {
        let f = self.inner.lock_instrument(instrument, reason, at);
        self.profile.time("orders.lock_instrument", f).await
    }
    async fn unlock_instrument(&self, instrument: &InstrumentCode) -> Result<bool, OrderError> {
        let f = self.inner.unlock_instrument(instrument);
        self.profile.time("orders.unlock_instrument", f).await
    }
    async fn claim_handler(&self) -> Result<Result<(), String>, OrderError> {
        self.inner.claim_handler().await
    }
    async fn release_handler(&self) -> Result<(), OrderError> {
        self.inner.release_handler().await
    }
    async fn executions_synced_at(&self) -> Result<Option<DateTime<Utc>>, OrderError> {
        let f = self.inner.executions_synced_at();
        self.profile.time("orders.executions_synced_at", f).await
    }
    async fn set_executions_synced_at(&self, at: DateTime<Utc>) -> Result<(), OrderError> {
        let f = self.inner.set_executions_synced_at(at);
        self.profile
            .time("orders.set_executions_synced_at", f)
            .await
    }
    async fn prune_archived_orders(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PrunedOrders, OrderError> {
        let f = self.inner.prune_archived_orders(before, dry_run);
        self.profile.time("orders.prune_archived_orders", f).await
    }
}

/// A [`Broker`] that times every call.
pub struct Timed<'a> {
    pub inner: &'a dyn Broker,
    pub profile: &'a Profile,
}

#[async_trait]
impl Broker for Timed<'_> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn health(&self) -> ConnectionHealth {
        self.inner.health().await
    }
    async fn account_value(&self, currency: &str) -> Result<AccountValue, BrokerError> {
        let f = self.inner.account_value(currency);
        self.profile.time("broker.account_value", f).await
    }
    async fn positions(&self) -> Result<Vec<BrokerPosition>, BrokerError> {
        let f = self.inner.positions();
        self.profile.time("broker.positions", f).await
    }
    async fn contract_details(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<ContractDetails, BrokerError> {
        let f = self.inner.contract_details(instrument, contract);
        self.profile.time("broker.contract_details", f).await
    }
    async fn historical_bars(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<ContractPrices, BrokerError> {
        let f = self.inner.historical_bars(instrument, contract, frequency);
        self.profile.time("broker.historical_bars", f).await
    }
    async fn fx_history(&self, currency: &str) -> Result<FxPrices, BrokerError> {
        let f = self.inner.fx_history(currency);
        self.profile.time("broker.fx_history", f).await
    }
    async fn quote(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Quote, BrokerError> {
        let f = self.inner.quote(instrument, contract);
        self.profile.time("broker.quote", f).await
    }
    async fn place_order(&self, order: &OrderRequest) -> Result<OrderState, BrokerError> {
        let f = self.inner.place_order(order);
        self.profile.time("broker.place_order", f).await
    }
    async fn modify_order(
        &self,
        broker_id: &str,
        limit_price: f64,
    ) -> Result<OrderState, BrokerError> {
        let f = self.inner.modify_order(broker_id, limit_price);
        self.profile.time("broker.modify_order", f).await
    }
    async fn cancel_order(&self, broker_id: &str) -> Result<OrderState, BrokerError> {
        let f = self.inner.cancel_order(broker_id);
        self.profile.time("broker.cancel_order", f).await
    }
    async fn order_state(&self, broker_id: &str) -> Result<OrderState, BrokerError> {
        let f = self.inner.order_state(broker_id);
        self.profile.time("broker.order_state", f).await
    }
    async fn open_orders(&self) -> Result<Vec<OrderState>, BrokerError> {
        let f = self.inner.open_orders();
        self.profile.time("broker.open_orders", f).await
    }
    async fn executions(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Execution>, BrokerError> {
        let f = self.inner.executions(since);
        self.profile.time("broker.executions", f).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

/// Roll states, `roll_state` timed.
pub struct Rolls<'a> {
    pub inner: &'a dyn RollStateStore,
    pub profile: &'a Profile,
}

#[async_trait]
impl RollStateStore for Rolls<'_> {
    async fn roll_state(&self, instrument: &InstrumentCode) -> Result<RollState, MetadataError> {
        let f = self.inner.roll_state(instrument);
        self.profile.time("rolls.roll_state", f).await
    }
    async fn roll_states(&self) -> Result<Vec<RollStateRecord>, MetadataError> {
        self.inner.roll_states().await
    }
    async fn set_roll_state(
        &self,
        instrument: &InstrumentCode,
        expected: Option<RollState>,
        state: RollState,
        at: DateTime<Utc>,
        note: Option<&str>,
    ) -> Result<Option<RollStateChange>, MetadataError> {
        self.inner
            .set_roll_state(instrument, expected, state, at, note)
            .await
    }
    async fn roll_state_history(
        &self,
        instrument: Option<&InstrumentCode>,
        limit: i64,
    ) -> Result<Vec<RollStateChange>, MetadataError> {
        self.inner.roll_state_history(instrument, limit).await
    }
}

/// Prices, `read_multiple` timed (the only price the handler reads).
pub struct Prices<'a> {
    pub inner: &'a dyn PriceStore,
    pub profile: &'a Profile,
}

impl PriceStore for Prices<'_> {
    fn read_multiple(
        &self,
        code: &InstrumentCode,
    ) -> Result<Option<MultiplePrices>, PriceStoreError> {
        self.profile
            .time_sync("prices.read_multiple", || self.inner.read_multiple(code))
    }
    fn write_multiple(
        &self,
        code: &InstrumentCode,
        prices: &MultiplePrices,
    ) -> Result<(), PriceStoreError> {
        self.inner.write_multiple(code, prices)
    }
    fn read_adjusted(
        &self,
        code: &InstrumentCode,
    ) -> Result<Option<AdjustedPrices>, PriceStoreError> {
        self.inner.read_adjusted(code)
    }
    fn write_adjusted(
        &self,
        code: &InstrumentCode,
        prices: &AdjustedPrices,
    ) -> Result<(), PriceStoreError> {
        self.inner.write_adjusted(code, prices)
    }
    fn read_fx(&self, currency: &str) -> Result<Option<FxPrices>, PriceStoreError> {
        self.inner.read_fx(currency)
    }
    fn write_fx(&self, currency: &str, prices: &FxPrices) -> Result<(), PriceStoreError> {
        self.inner.write_fx(currency, prices)
    }
    fn read_contract(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<Option<ContractPrices>, PriceStoreError> {
        self.inner.read_contract(code, contract, frequency)
    }
    fn write_contract(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
        prices: &ContractPrices,
    ) -> Result<(), PriceStoreError> {
        self.inner.write_contract(code, contract, frequency, prices)
    }
    fn read_roll_calendar(
        &self,
        code: &InstrumentCode,
    ) -> Result<Option<RollCalendar>, PriceStoreError> {
        self.inner.read_roll_calendar(code)
    }
    fn write_roll_calendar(
        &self,
        code: &InstrumentCode,
        calendar: &RollCalendar,
    ) -> Result<(), PriceStoreError> {
        self.inner.write_roll_calendar(code, calendar)
    }
    fn instruments_with_multiple(&self) -> Result<Vec<InstrumentCode>, PriceStoreError> {
        self.inner.instruments_with_multiple()
    }
    fn instruments_with_adjusted(&self) -> Result<Vec<InstrumentCode>, PriceStoreError> {
        self.inner.instruments_with_adjusted()
    }
    fn instruments_with_roll_calendar(&self) -> Result<Vec<InstrumentCode>, PriceStoreError> {
        self.inner.instruments_with_roll_calendar()
    }
    fn instruments_with_contract_prices(&self) -> Result<Vec<InstrumentCode>, PriceStoreError> {
        self.inner.instruments_with_contract_prices()
    }
    fn fx_currencies(&self) -> Result<Vec<String>, PriceStoreError> {
        self.inner.fx_currencies()
    }
    fn contracts_with_prices(
        &self,
        code: &InstrumentCode,
        frequency: Frequency,
    ) -> Result<Vec<ContractId>, PriceStoreError> {
        self.inner.contracts_with_prices(code, frequency)
    }
}
