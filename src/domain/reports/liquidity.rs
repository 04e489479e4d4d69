//! The liquidity report (§B31; pysystemtrade's `sysproduction/reporting/data/volume.py`): how
//! much of each market trades a day.
//!
//! * a contract's daily volumes: one value per UTC day — the daily bar's volume where there is
//!   a daily bar, else the sum of that day's hourly bars (never both: pysystemtrade sums the
//!   merged daily and hourly bars, which counts a day with both twice, §E decision);
//! * a contract's average = the mean of its daily volumes on the days within the last
//!   [`VOLUME_DAYS`] calendar days;
//! * contracts (per day) = the largest average over the instrument's contracts with bars;
//! * risk ($m per day) = contracts × annual risk per contract (base currency) ÷ 1,000,000.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::series::Micros;

/// Calendar days of volume averaged (pysystemtrade's `calendar_days_back`).
pub const VOLUME_DAYS: i64 = 30;

const DAY: Micros = 86_400_000_000;

/// Volume per UTC day (day number since the epoch) of one contract: the daily bars' volume,
/// and for days without a daily bar the sum of the hourly bars.
pub fn daily_volumes(
    daily: (&[Micros], &[f64]),
    hourly: (&[Micros], &[f64]),
) -> BTreeMap<i64, f64> {
    let mut out: BTreeMap<i64, f64> = BTreeMap::new();
    for (t, v) in daily.0.iter().zip(daily.1) {
        if v.is_finite() {
            out.insert(t.div_euclid(DAY), *v);
        }
    }
    let mut from_hours: BTreeMap<i64, f64> = BTreeMap::new();
    for (t, v) in hourly.0.iter().zip(hourly.1) {
        let day = t.div_euclid(DAY);
        if v.is_finite() && !out.contains_key(&day) {
            *from_hours.entry(day).or_default() += v;
        }
    }
    out.extend(from_hours);
    out
}

/// The mean of the daily volumes on days from `now − VOLUME_DAYS` (its day included) to `now`;
/// NaN when there are none.
pub fn average_daily_volume(volumes: &BTreeMap<i64, f64>, now: Micros) -> f64 {
    let first = (now - VOLUME_DAYS * DAY).div_euclid(DAY);
    let last = now.div_euclid(DAY);
    let recent: Vec<f64> = volumes.range(first..=last).map(|(_, v)| *v).collect();
    if recent.is_empty() {
        f64::NAN
    } else {
        recent.iter().sum::<f64>() / recent.len() as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Liquidity {
    /// Best average daily volume, contracts (NaN: no contract traded in the window).
    pub contracts: f64,
    /// Volume in $m of annual risk per day.
    pub risk: f64,
}

/// An instrument's liquidity from its contracts' averages and its annual risk per contract.
pub fn liquidity(contract_averages: &[f64], annual_risk_per_contract: f64) -> Liquidity {
    let contracts = contract_averages
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NAN, f64::max);
    Liquidity {
        contracts,
        risk: contracts * annual_risk_per_contract / 1e6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Micros = 3_600_000_000;

    #[test]
    fn a_day_with_a_daily_bar_counts_once() {
        // Day 10 has a daily bar (23:00, 500) and hourly bars (100 + 200): 500, not 800.
        // Day 11 has only hourly bars: 50 + 70 = 120.
        let daily_ts = [10 * DAY + 23 * H];
        let hourly_ts = [
            10 * DAY + 14 * H,
            10 * DAY + 15 * H,
            11 * DAY + 14 * H,
            11 * DAY + 15 * H,
        ];
        let v = daily_volumes(
            (&daily_ts, &[500.0]),
            (&hourly_ts, &[100.0, 200.0, 50.0, 70.0]),
        );
        assert_eq!(v.get(&10), Some(&500.0));
        assert_eq!(v.get(&11), Some(&120.0));
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn only_the_last_30_days_are_averaged() {
        // Days 100..=140 with volume = day number; now is day 140 at noon: days 110..=140 are
        // averaged: mean of 110..=140 = 125.
        let v: BTreeMap<i64, f64> = (100..=140).map(|d| (d, d as f64)).collect();
        let avg = average_daily_volume(&v, 140 * DAY + 12 * H);
        assert!((avg - 125.0).abs() < 1e-12, "{avg}");
        assert!(average_daily_volume(&v, 200 * DAY).is_nan());
    }

    #[test]
    fn the_best_contract_and_its_risk() {
        // max(120, NaN, 800) = 800 contracts a day; at 40,000 of annual risk per contract:
        // 800 × 40,000 / 1e6 = 32 $m a day.
        let l = liquidity(&[120.0, f64::NAN, 800.0], 40_000.0);
        assert_eq!(l.contracts, 800.0);
        assert!((l.risk - 32.0).abs() < 1e-12);
        let none = liquidity(&[f64::NAN], 40_000.0);
        assert!(none.contracts.is_nan() && none.risk.is_nan());
    }
}
