//! The market monitor report (§B31; pysystemtrade's `sysproduction/reporting/data/pricechanges.py`
//! and `market_monitor_report.py`): each instrument's move over a period ending now, in percent
//! and in units of its volatility.
//!
//! Over the window [start, end] of the forward-filled adjusted prices:
//! * change = 100 × (last ÷ first − 1);
//! * vol adjusted = (last − first) ÷ (σ × √(days between start and end)), σ = the last value of the
//!   exponentially weighted standard deviation (centre of mass 30) of the daily changes of the
//!   prices up to the start, sampled at each business day's start (pandas
//!   `resample("1B").ffill()`).
//!
//! Periods: `1B` (one business day back, same time of day), `7D`, `1M`, `3M`, `6M`, `YTD`
//! (from 1 January) and `12M`. pysystemtrade reads only the first digit of a period, so its `12M`
//! table covers one month; here `12M` is twelve months (ARCHITECTURE.md, decisions).

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc, Weekday};
use serde::Serialize;

use crate::domain::backtest::daily::{diff, ffill};
use crate::domain::backtest::vol::ewm_std;
use crate::domain::series::Micros;

/// The periods of the full report, in its order.
pub const PERIODS: [&str; 7] = ["1B", "7D", "1M", "3M", "6M", "YTD", "12M"];

/// Centre of mass of the volatility's EWMA (pandas `ewm(30)`).
const VOL_COM: f64 = 30.0;

const DAY_MICROS: i64 = 86_400_000_000;

/// One instrument's move.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Move {
    /// Percent (1 = 1%).
    pub change: f64,
    pub vol_adjusted: f64,
}

/// The start of `period` ending at `end`; `None` for a period it does not know.
pub fn period_start(period: &str, end: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if period == "YTD" {
        let jan1 = NaiveDate::from_ymd_opt(end.year(), 1, 1)?;
        return Some(jan1.and_hms_opt(0, 0, 0)?.and_utc());
    }
    let (digits, unit) = period.split_at(period.len().checked_sub(1)?);
    let n: u32 = digits.parse().ok()?;
    match unit {
        "D" => Some(end - Duration::days(i64::from(n))),
        "W" => Some(end - Duration::weeks(i64::from(n))),
        "M" => end.checked_sub_months(Months::new(n)),
        "Y" => end.checked_sub_months(Months::new(n.checked_mul(12)?)),
        "B" => {
            let mut t = end;
            let mut left = n;
            while left > 0 {
                t -= Duration::days(1);
                if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
                    left -= 1;
                }
            }
            Some(t)
        }
        _ => None,
    }
}

/// The move of the prices `(ts, values)` (timestamps increasing) from `start` to `end`; `None`
/// when the window holds no price or the volatility at the start is unknown.
pub fn market_move(ts: &[Micros], values: &[f64], start: Micros, end: Micros) -> Option<Move> {
    let prices = ffill(values);
    let from = ts.partition_point(|&t| t < start);
    let to = ts.partition_point(|&t| t <= end);
    if from >= to {
        return None;
    }
    let (first, last) = (prices[from], prices[to - 1]);
    let change = 100.0 * (last / first - 1.0);
    let sigma = stdev_at(ts, &prices, start)?;
    let days = (end - start) as f64 / DAY_MICROS as f64;
    let vol_adjusted = (last - first) / (sigma * days.sqrt());
    (change.is_finite() && vol_adjusted.is_finite()).then_some(Move {
        change,
        vol_adjusted,
    })
}

/// σ of the daily changes up to `start`: prices sampled at the start (00:00) of every business
/// day from the first price's day to the last one at or before `start`, each the last price at
/// or before that instant.
fn stdev_at(ts: &[Micros], prices: &[f64], start: Micros) -> Option<f64> {
    let upto = ts.partition_point(|&t| t <= start);
    if upto == 0 {
        return None;
    }
    let first_day = ts[0].div_euclid(DAY_MICROS);
    let last_day = ts[upto - 1].div_euclid(DAY_MICROS);
    let mut sampled = Vec::new();
    let mut j = 0usize;
    for day in first_day..=last_day {
        // 1970-01-01 was a Thursday: weekday index 0 = Monday.
        if (day + 3).rem_euclid(7) >= 5 {
            continue;
        }
        let at = day * DAY_MICROS;
        while j < upto && ts[j] <= at {
            j += 1;
        }
        sampled.push(if j == 0 { f64::NAN } else { prices[j - 1] });
    }
    let vol = ewm_std(&diff(&sampled), 2.0 * VOL_COM + 1.0, 0);
    vol.last().copied().filter(|v| v.is_finite() && *v > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn periods_end_now_and_twelve_months_is_a_year() {
        let end = at("2024-06-10T14:30:00Z"); // a Monday
        assert_eq!(period_start("1B", end), Some(at("2024-06-07T14:30:00Z")));
        assert_eq!(period_start("7D", end), Some(at("2024-06-03T14:30:00Z")));
        assert_eq!(period_start("3M", end), Some(at("2024-03-10T14:30:00Z")));
        assert_eq!(period_start("12M", end), Some(at("2023-06-10T14:30:00Z")));
        assert_eq!(period_start("YTD", end), Some(at("2024-01-01T00:00:00Z")));
        assert_eq!(period_start("2Q", end), None);
        assert_eq!(period_start("", end), None);
    }

    #[test]
    fn change_and_vol_adjusted_change_by_hand() {
        // Daily closes at 23:00 alternating 100, 101 for 200 days, then 110 on the last day.
        let day0 = at("2024-01-01T23:00:00Z").timestamp_micros();
        let n = 200;
        let ts: Vec<Micros> = (0..n).map(|k| day0 + k as i64 * DAY_MICROS).collect();
        let mut values: Vec<f64> = (0..n).map(|k| 100.0 + (k % 2) as f64).collect();
        values[n - 1] = 110.0;
        let end = ts[n - 1];
        let start = ts[n - 11]; // ten days before the end, at a close
        let m = market_move(&ts, &values, start, end).unwrap();
        let first = values[n - 11];
        assert!((m.change - 100.0 * (110.0 / first - 1.0)).abs() < 1e-12);
        // σ is about 1 (changes of ±1 seen on business days); ten days: √10.
        let sigma = (110.0 - first) / (m.vol_adjusted * 10f64.sqrt());
        assert!((sigma - 1.0).abs() < 0.1, "σ = {sigma}");
    }

    #[test]
    fn an_empty_window_gives_no_move() {
        let ts = vec![0, DAY_MICROS];
        let values = vec![1.0, 2.0];
        assert_eq!(
            market_move(&ts, &values, 5 * DAY_MICROS, 6 * DAY_MICROS),
            None
        );
    }
}
