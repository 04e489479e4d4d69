//! The stack handler's view of a contract's trading: its details (asked of the broker once per
//! pass), where now stands in its trading hours, the time left to its close, and limit prices
//! rounded to its tick.

use super::handler::{lock, StackHandler};
use crate::domain::broker::ContractDetails;
use crate::domain::contract::ContractId;
use crate::domain::execution::{market_hours, round_to_tick, MarketHours};
use crate::domain::instrument::InstrumentCode;

impl StackHandler<'_> {
    pub(super) async fn round(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        price: f64,
    ) -> f64 {
        match self.details(instrument, contract).await {
            Some(d) => round_to_tick(price, d.min_tick),
            None => price,
        }
    }

    /// A contract's details, asked of the broker once per pass (`None` when it cannot say).
    pub(super) async fn details(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Option<ContractDetails> {
        let key = (instrument.clone(), contract);
        if let Some(known) = lock(&self.cache.details).get(&key) {
            return known.clone();
        }
        let details = self
            .broker
            .contract_details(instrument, contract)
            .await
            .ok();
        lock(&self.cache.details).insert(key, details.clone());
        details
    }

    /// Where now stands in a contract's trading hours (§B19 step 2, §B20 closing soon).
    pub(super) async fn hours(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> MarketHours {
        match self.details(instrument, contract).await {
            Some(d) => market_hours(&d.trading_hours, &d.time_zone, (self.now)()),
            None => MarketHours::Unknown,
        }
    }

    /// Time to the contract's close, when known.
    pub(super) async fn time_left(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Option<chrono::Duration> {
        match self.hours(instrument, contract).await {
            MarketHours::Open { closes_in_seconds } => {
                Some(chrono::Duration::seconds(closes_in_seconds))
            }
            MarketHours::Closed => Some(chrono::Duration::zero()),
            MarketHours::Unknown => None,
        }
    }
}
