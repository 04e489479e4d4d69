//! Building a first multiple-prices series from per-contract daily closes and the roll
//! parameters, for a market with no price history yet (a new instrument, or the simulated
//! exchange in the demo). The priced contract on each day is the first held contract whose
//! desired roll date (approximate expiry + `RollOffsetDays`) is still ahead; the forward is the
//! next held contract; the carry is the next (CarryOffset +1) or previous (−1) priced contract.

use std::collections::BTreeMap;

use super::contract::ContractId;
use super::instrument::RollParameters;
use super::series::{ContractPrices, Micros, MultiplePrices};
use chrono::Datelike;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BootstrapError {
    #[error("no daily closes for any priced contract: nothing to build multiple prices from")]
    NoPrices,
    #[error("roll parameters have carry offset {0}; it must be +1 or -1")]
    BadCarryOffset(i32),
}

/// The held contract priced on calendar day `date`: the first one whose desired roll date is
/// after `date`.
pub fn priced_contract_on(params: &RollParameters, date: chrono::NaiveDate) -> ContractId {
    let mut c = ContractId::monthly(date.year(), date.month()).at_or_after_in(&params.hold_cycle);
    // Step back first, in case an earlier contract (rolling late) is still the priced one.
    for _ in 0..24 {
        let prev = c.previous_in(&params.hold_cycle);
        if roll_date(prev, params) > date {
            c = prev;
        } else {
            break;
        }
    }
    while roll_date(c, params) <= date {
        c = c.next_in(&params.hold_cycle);
    }
    c
}

/// Desired roll date of a held contract.
pub fn roll_date(c: ContractId, params: &RollParameters) -> chrono::NaiveDate {
    c.approx_expiry(params.expiry_offset) + chrono::Duration::days(params.roll_offset_days as i64)
}

/// Carry contract of a priced contract.
pub fn carry_contract(
    priced: ContractId,
    params: &RollParameters,
) -> Result<ContractId, BootstrapError> {
    match params.carry_offset {
        1 => Ok(priced.next_in(&params.priced_cycle)),
        -1 => Ok(priced.previous_in(&params.priced_cycle)),
        other => Err(BootstrapError::BadCarryOffset(other)),
    }
}

fn close_at(bars: Option<&ContractPrices>, ts: Micros) -> f64 {
    bars.and_then(|b| b.ts.binary_search(&ts).ok().map(|i| b.close[i]))
        .unwrap_or(f64::NAN)
}

/// Multiple prices on every timestamp where the priced contract of that day has a daily close.
/// A roll happens on the first timestamp whose day maps to a new priced contract; the row
/// before it then holds the old priced and forward closes, as the Panama stitch needs (if the
/// forward has no close there, the stitch reports it).
pub fn build_multiple_prices(
    params: &RollParameters,
    daily: &BTreeMap<ContractId, ContractPrices>,
) -> Result<MultiplePrices, BootstrapError> {
    carry_contract(ContractId::monthly(2000, 1), params)?;
    let mut all_ts: Vec<Micros> = daily.values().flat_map(|b| b.ts.iter().copied()).collect();
    all_ts.sort_unstable();
    all_ts.dedup();
    let mut out = MultiplePrices::default();
    for ts in all_ts {
        let Some(date) = chrono::DateTime::from_timestamp_micros(ts).map(|d| d.date_naive()) else {
            continue;
        };
        let priced = priced_contract_on(params, date);
        let Some(bars) = daily.get(&priced) else {
            continue;
        };
        let price = close_at(Some(bars), ts);
        if price.is_nan() {
            continue;
        }
        let forward = priced.next_in(&params.hold_cycle);
        let carry = carry_contract(priced, params)?;
        out.ts.push(ts);
        out.price.push(price);
        out.price_contract.push(priced);
        out.forward.push(close_at(daily.get(&forward), ts));
        out.forward_contract.push(forward);
        out.carry.push(close_at(daily.get(&carry), ts));
        out.carry_contract.push(carry);
    }
    if out.is_empty() {
        return Err(BootstrapError::NoPrices);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::instrument::{InstrumentCode, RollCycle};
    use crate::domain::panama::panama_stitch;
    use chrono::NaiveDate;

    fn params(hold: &str, priced: &str, roll_offset: i32, carry: i32) -> RollParameters {
        RollParameters {
            code: InstrumentCode::new("X").unwrap(),
            hold_cycle: RollCycle::parse(hold).unwrap(),
            roll_offset_days: roll_offset,
            carry_offset: carry,
            priced_cycle: RollCycle::parse(priced).unwrap(),
            expiry_offset: 14,
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn priced_contract_rolls_at_the_desired_roll_date() {
        let p = params("HMUZ", "HMUZ", -5, 1);
        // March 2024 expires ~15 Mar; roll 5 days before: 10 Mar.
        assert_eq!(
            priced_contract_on(&p, day(2024, 3, 9)).to_string(),
            "20240300"
        );
        assert_eq!(
            priced_contract_on(&p, day(2024, 3, 10)).to_string(),
            "20240600"
        );
        assert_eq!(
            priced_contract_on(&p, day(2023, 12, 20)).to_string(),
            "20240300"
        );
        // A contract rolled a year early (STIR-like offset) is still found.
        let stir = params("HMUZ", "HMUZ", -400, 1);
        assert_eq!(
            priced_contract_on(&stir, day(2024, 1, 2)).to_string(),
            "20250300"
        );
    }

    #[test]
    fn builds_rows_with_forward_and_carry_and_stitches() {
        let p = params("Z", "HMUZ", -10, 1);
        let mut daily = BTreeMap::new();
        let ts = |y, m, d| {
            day(y, m, d)
                .and_hms_opt(23, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_micros()
        };
        let bars = |points: &[(i64, f64)]| ContractPrices {
            ts: points.iter().map(|p| p.0).collect(),
            open: points.iter().map(|p| p.1).collect(),
            high: points.iter().map(|p| p.1).collect(),
            low: points.iter().map(|p| p.1).collect(),
            close: points.iter().map(|p| p.1).collect(),
            volume: points.iter().map(|_| 1.0).collect(),
        };
        let days = [
            ts(2023, 12, 1),
            ts(2023, 12, 4),
            ts(2023, 12, 5),
            ts(2023, 12, 6),
        ];
        // Dec-23 rolls 10 days before ~15 Dec: 5 Dec.
        daily.insert(
            ContractId::parse("20231200").unwrap(),
            bars(&[(days[0], 100.0), (days[1], 101.0), (days[2], 102.0)]),
        );
        daily.insert(
            ContractId::parse("20241200").unwrap(),
            bars(&[
                (days[0], 90.0),
                (days[1], 91.0),
                (days[2], 92.0),
                (days[3], 93.0),
            ]),
        );
        daily.insert(
            ContractId::parse("20240300").unwrap(),
            bars(&[(days[1], 99.0)]),
        );
        let m = build_multiple_prices(&p, &daily).unwrap();
        assert_eq!(m.len(), 4, "{m:?}");
        assert_eq!(m.price_contract[1].to_string(), "20231200");
        assert_eq!(m.forward[1], 91.0);
        assert_eq!(m.carry[1], 99.0);
        assert_eq!(m.price_contract[2].to_string(), "20241200");
        assert_eq!(m.price[2], 92.0);
        let adj = panama_stitch(&m, false).unwrap();
        // Before the roll, adjusted = old price + (forward - price) of the row before the roll.
        assert_eq!(adj.value[1], 101.0 + (91.0 - 101.0));
        assert_eq!(adj.value[2], 92.0);
    }

    #[test]
    fn rejects_bad_carry_offset_and_no_prices() {
        assert_eq!(
            build_multiple_prices(&params("Z", "Z", -5, 2), &BTreeMap::new()),
            Err(BootstrapError::BadCarryOffset(2))
        );
        assert_eq!(
            build_multiple_prices(&params("Z", "Z", -5, 1), &BTreeMap::new()),
            Err(BootstrapError::NoPrices)
        );
    }
}
