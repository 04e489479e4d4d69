//! `IbBroker`'s historical data: contract bars (daily and hourly, converted with the IB
//! config's `priceMagnifier`) and daily spot FX (IB's `MIDPOINT` bars of the pair on IDEALPRO,
//! inverted into USD values where IB quotes USD first, as pysystemtrade does). Both count
//! against the historical data pacing window, and daily bars are stamped 23:00 UTC of their
//! trading date, the store's rule.

use ibapi::market_data::historical::{
    Bar, BarSize, BarTimestamp, Duration as IbDuration, WhatToShow,
};

use super::broker::IbBroker;
use super::calls::map_error;
use crate::domain::broker::BrokerError;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::ports::Frequency;
use crate::domain::series::{ContractPrices, FxPrices, Micros};

/// A bar's time: 23:00 UTC of its date for daily bars, its start for intraday ones.
fn bar_time(bar: &Bar) -> Option<Micros> {
    match bar.date {
        BarTimestamp::Date(d) => {
            chrono::NaiveDate::from_ymd_opt(d.year(), d.month() as u32, u32::from(d.day()))
                .and_then(|d| d.and_hms_opt(23, 0, 0))
                .map(|t| t.and_utc().timestamp_micros())
        }
        BarTimestamp::DateTime(t) => Some(t.unix_timestamp() * 1_000_000),
    }
}

impl IbBroker {
    /// Daily (a year) or hourly (30 days) bars of one contract, oldest first.
    pub(super) async fn contract_bars(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<ContractPrices, BrokerError> {
        let config = self.config(instrument)?.clone();
        let (bar_size, duration) = match frequency {
            Frequency::Daily => (BarSize::Day, IbDuration::years(1)),
            Frequency::Hourly => (BarSize::Hour, IbDuration::days(30)),
            Frequency::Merged => {
                return Err(BrokerError::Rejected {
                    reason: "ask the broker for daily or hourly bars, not merged".into(),
                })
            }
        };
        self.note_historical_request()?;
        let ib_contract = config.ib_contract(contract);
        self.call("historical_bars", |client| async move {
            let data = client
                .historical_data(&ib_contract, bar_size)
                .duration(duration)
                .fetch()
                .await
                .map_err(|e| map_error(e, Some(instrument), &contract.to_string()))?;
            let m = config.price_magnifier;
            let mut prices = ContractPrices::default();
            for bar in &data.bars {
                let Some(ts) = bar_time(bar) else { continue };
                prices.ts.push(ts);
                prices.open.push(bar.open * m);
                prices.high.push(bar.high * m);
                prices.low.push(bar.low * m);
                prices.close.push(bar.close * m);
                prices.volume.push(bar.volume);
            }
            Ok(prices)
        })
        .await
    }

    /// A year of daily spot FX of `currency` as USD values, oldest first: the closes of IB's
    /// daily `MIDPOINT` bars of the currency's pair, inverted where the pair starts with USD.
    pub(super) async fn spot_fx_bars(&self, currency: &str) -> Result<FxPrices, BrokerError> {
        let pair = self.contracts.spot_fx(currency)?.clone();
        self.note_historical_request()?;
        let ib_contract = pair.ib_contract();
        self.call("fx_history", |client| async move {
            let data = client
                .historical_data(&ib_contract, BarSize::Day)
                .duration(IbDuration::years(1))
                .what_to_show(WhatToShow::MidPoint)
                .fetch()
                .await
                .map_err(|e| match map_error(e, None, "") {
                    // No such pair, no permission for it, no data for it (pacing is told
                    // apart by its text before the code is looked at).
                    BrokerError::Other {
                        code: Some(code @ (200 | 162 | 354)),
                        detail,
                    } => BrokerError::UnknownCurrency {
                        currency: pair.currency.clone(),
                        detail: format!(
                            "IB pair {}.{}: IB error {code}: {detail}",
                            pair.ccy1, pair.ccy2
                        ),
                    },
                    other => other,
                })?;
            let mut rates = FxPrices::default();
            for bar in &data.bars {
                if let (Some(ts), Some(rate)) = (bar_time(bar), pair.our_rate(bar.close)) {
                    rates.ts.push(ts);
                    rates.value.push(rate);
                }
            }
            Ok(rates)
        })
        .await
    }
}
