//! The fake TWS's state built from a systrade home, for `systrade broker fake-ib`: every
//! instrument with stored contract prices and an IB mapping becomes IB futures contracts with
//! their daily and hourly bars and a quote (last close ± half the spread cost), in IB's price
//! unit (÷ `priceMagnifier`); every stored FX series with an IB pair becomes that spot pair with
//! daily bars, quoted IB's way round; the account value and positions are the simulated
//! broker's.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::contracts::IbContractMap;
use super::fake_server::{
    FakeAccountValue, FakeBar, FakeBarSeries, FakeContract, FakeIbState, FakePosition, FakeQuote,
};
use crate::domain::broker::Broker;
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::ports::{Frequency, PriceStore};
use crate::domain::series::ContractPrices;

/// The account the fake reports.
pub const FAKE_ACCOUNT: &str = "DU0000001";

fn bars(prices: &ContractPrices, magnifier: f64) -> Vec<FakeBar> {
    (0..prices.len())
        .filter_map(|i| {
            let time = Utc.timestamp_micros(prices.ts[i]).single()?;
            let close = prices.close[i];
            if !close.is_finite() {
                return None;
            }
            let or_close = |x: f64| if x.is_finite() { x } else { close };
            Some(FakeBar {
                time,
                open: or_close(prices.open[i]) / magnifier,
                high: or_close(prices.high[i]) / magnifier,
                low: or_close(prices.low[i]) / magnifier,
                close: close / magnifier,
                volume: if prices.volume[i].is_finite() {
                    prices.volume[i]
                } else {
                    0.0
                },
            })
        })
        .collect()
}

/// Builds the fake's state; `base_currency` is the account's currency.
pub async fn fake_state_from_home(
    prices: &dyn PriceStore,
    reference: &ReferenceData,
    contracts: &IbContractMap,
    broker: &dyn Broker,
    base_currency: &str,
) -> Result<FakeIbState, String> {
    let mut state = FakeIbState {
        accounts: vec![FAKE_ACCOUNT.to_string()],
        ..Default::default()
    };
    let account = broker
        .account_value(base_currency)
        .await
        .map_err(|e| format!("the simulated broker's account value: {e}"))?;
    for (tag, value) in [
        ("NetLiquidation", account.value),
        ("MaintMarginReq", account.margin_used),
        ("TotalCashValue", account.value),
    ] {
        state.account_values.push(FakeAccountValue {
            account: FAKE_ACCOUNT.into(),
            tag: tag.into(),
            value: format!("{value:.2}"),
            currency: base_currency.to_string(),
        });
    }
    let mut by_key: BTreeMap<(InstrumentCode, u32), FakeContract> = BTreeMap::new();
    let mut next_con_id = 100_000;
    for instrument in reference.instruments.keys() {
        let Ok(config) = contracts.get(instrument) else {
            continue;
        };
        let listed = prices
            .contracts_with_prices(instrument, Frequency::Daily)
            .map_err(|e| e.to_string())?;
        let expiry_offset = reference
            .roll_parameters(instrument)
            .map_or(0, |r| r.expiry_offset);
        let spread = reference
            .spread_costs
            .get(instrument)
            .copied()
            .unwrap_or(0.0);
        for contract in listed {
            next_con_id += 1;
            let expiry = contract.approx_expiry(expiry_offset);
            let mut fake = FakeContract::future(
                next_con_id,
                &config.symbol,
                &config.exchange,
                config
                    .currency
                    .as_deref()
                    .or_else(|| {
                        reference
                            .instrument(instrument)
                            .map(|i| i.currency.as_str())
                    })
                    .unwrap_or("USD"),
                config.ib_multiplier,
                &expiry.format("%Y%m%d").to_string(),
            );
            fake.long_name = format!("{instrument} {contract}");
            for (frequency, bar_size) in
                [(Frequency::Daily, "1 day"), (Frequency::Hourly, "1 hour")]
            {
                let Some(series) = prices
                    .read_contract(instrument, contract, frequency)
                    .map_err(|e| e.to_string())?
                else {
                    continue;
                };
                let bars = bars(&series, config.price_magnifier);
                if frequency == Frequency::Daily {
                    if let Some(last) = bars.last() {
                        let half = spread / 2.0 / config.price_magnifier;
                        state.quotes.insert(
                            next_con_id,
                            FakeQuote {
                                bid: Some(last.close - half),
                                ask: Some(last.close + half),
                                last: Some(last.close),
                                bid_size: 10.0,
                                ask_size: 10.0,
                                last_size: 1.0,
                            },
                        );
                    }
                }
                state.bar_series.push(FakeBarSeries {
                    con_id: next_con_id,
                    bar_size: bar_size.into(),
                    bars,
                });
            }
            by_key.insert((instrument.clone(), contract.as_number()), fake.clone());
            state.contracts.push(fake);
        }
    }
    // Spot FX: every stored currency IB has a pair for, as IB quotes the pair (USD.JPY in
    // yen per dollar), daily midpoint bars of the stored rates.
    for pair in contracts.spot_fx_pairs() {
        let Some(rates) = prices.read_fx(&pair.currency).map_err(|e| e.to_string())? else {
            continue;
        };
        next_con_id += 1;
        let fx_bars = rates
            .ts
            .iter()
            .zip(&rates.value)
            .filter(|(_, v)| v.is_finite() && **v > 0.0)
            .filter_map(|(&ts, &v)| {
                let ib = if pair.invert { 1.0 / v } else { v };
                Some(FakeBar {
                    time: Utc.timestamp_micros(ts).single()?,
                    open: ib,
                    high: ib,
                    low: ib,
                    close: ib,
                    volume: 0.0,
                })
            })
            .collect();
        state
            .contracts
            .push(FakeContract::forex(next_con_id, &pair.ccy1, &pair.ccy2));
        state.bar_series.push(FakeBarSeries {
            con_id: next_con_id,
            bar_size: "1 day".into(),
            bars: fx_bars,
        });
    }
    for position in broker
        .positions()
        .await
        .map_err(|e| format!("the simulated broker's positions: {e}"))?
    {
        if let Some(contract) =
            by_key.get(&(position.instrument.clone(), position.contract.as_number()))
        {
            state.positions.push(FakePosition {
                account: FAKE_ACCOUNT.into(),
                contract: contract.clone(),
                position: position.quantity as f64,
                avg_cost: 0.0,
            });
        }
    }
    Ok(state)
}
