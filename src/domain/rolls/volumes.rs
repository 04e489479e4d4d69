//! Smoothed daily volumes of a contract, for the roll report and the automatic roll suggestion
//! (pysystemtrade's `daily_volumes` and `get_smoothed_volume_ignoring_old_data`).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Weekday};

use crate::domain::merge::ewma_mean;
use crate::domain::series::{ContractPrices, Micros, PriceSeries};

/// Only daily volumes this recent count (so stale data is ignored).
pub const VOLUME_LOOKBACK_DAYS: i64 = 14;
/// Span of the EWMA of daily volumes.
pub const VOLUME_EWMA_SPAN: f64 = 3.0;
/// Stands in for a zero priced-contract volume when dividing by it.
pub const NOTIONALLY_ZERO_VOLUME: f64 = 0.0001;

/// A bar's timestamp and volume.
type Row = (Micros, f64);

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// The notional daily close, 23:00:00, in seconds of the day.
const CLOSE_SECOND_OF_DAY: i64 = 23 * 3600;

fn is_close_bar(ts: Micros) -> bool {
    ts.div_euclid(1_000_000).rem_euclid(86_400) == CLOSE_SECOND_OF_DAY
}

/// The business day a timestamp's bin belongs to: its date, or the Friday before for a weekend
/// (pandas' `resample("1B")`, left-closed and left-labelled).
fn business_day(ts: Micros) -> NaiveDate {
    let date = DateTime::from_timestamp_micros(ts)
        .map(|t| t.date_naive())
        .unwrap_or(NaiveDate::MIN);
    match date.weekday() {
        Weekday::Sat => date - Duration::days(1),
        Weekday::Sun => date - Duration::days(2),
        _ => date,
    }
}

fn midnight_micros(date: NaiveDate) -> Micros {
    date.and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_micros()
}

/// Sums per business day over the whole range from the first to the last bin (days without rows
/// sum to 0; NaN volumes are skipped), as `resample("1B").sum()`.
fn business_day_sums(rows: &[Row]) -> BTreeMap<NaiveDate, f64> {
    let mut sums: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for (ts, v) in rows {
        let sum = sums.entry(business_day(*ts)).or_insert(0.0);
        if !v.is_nan() {
            *sum += v;
        }
    }
    if let (Some(first), Some(last)) = (
        sums.keys().next().copied(),
        sums.keys().next_back().copied(),
    ) {
        let mut day = first;
        while day < last {
            day += Duration::days(1);
            if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                sums.entry(day).or_insert(0.0);
            }
        }
    }
    sums
}

/// Daily volumes of a contract's (merged) bars without double counting: with intraday bars, the
/// volume of each business day is its 23:00 close bar's volume if there is one (and non-zero),
/// else the sum of its intraday bars; days where both are zero or missing are NaN, labelled at
/// midnight. With no intraday bars at all the volumes are returned as they are.
pub fn daily_volumes(prices: &ContractPrices) -> PriceSeries {
    let rows: Vec<Row> = prices
        .ts
        .iter()
        .copied()
        .zip(prices.volume.iter().copied())
        .collect();
    let (closing, intraday): (Vec<Row>, Vec<Row>) =
        rows.iter().partition(|(ts, _)| is_close_bar(*ts));
    if intraday.is_empty() {
        return PriceSeries {
            ts: rows.iter().map(|r| r.0).collect(),
            value: rows.iter().map(|r| r.1).collect(),
        };
    }
    let intraday = business_day_sums(&intraday);
    let closing = business_day_sums(&closing);
    let mut days: Vec<NaiveDate> = intraday.keys().chain(closing.keys()).copied().collect();
    days.sort_unstable();
    days.dedup();
    let nonzero = |v: Option<&f64>| v.copied().filter(|x| *x != 0.0).unwrap_or(f64::NAN);
    let mut out = PriceSeries::default();
    for day in days {
        let close = nonzero(closing.get(&day));
        out.ts.push(midnight_micros(day));
        out.value.push(if close.is_nan() {
            nonzero(intraday.get(&day))
        } else {
            close
        });
    }
    out
}

/// The latest smoothed daily volume of a contract: daily volumes of the last 14 days before
/// `now`, EWMA with span 3, last value. 0 with no bars or no recent volumes; NaN when every
/// recent day is NaN.
pub fn smoothed_volume(prices: &ContractPrices, now: Micros) -> f64 {
    if prices.is_empty() {
        return 0.0;
    }
    let daily = daily_volumes(prices);
    let cutoff = now - VOLUME_LOOKBACK_DAYS * MICROS_PER_DAY;
    let recent: Vec<f64> = daily
        .ts
        .iter()
        .zip(&daily.value)
        .filter(|(ts, _)| **ts >= cutoff)
        .map(|(_, v)| *v)
        .collect();
    ewma_mean(&recent, VOLUME_EWMA_SPAN)
        .last()
        .copied()
        .unwrap_or(0.0)
}

/// Forward volume relative to the priced contract's (a zero priced volume counts as 0.0001);
/// NaN (no usable volumes) counts as 0.
pub fn relative_volume(priced_volume: f64, forward_volume: f64) -> f64 {
    let denominator = if priced_volume == 0.0 {
        NOTIONALLY_ZERO_VOLUME
    } else {
        priced_volume
    };
    let r = forward_volume / denominator;
    if r.is_nan() {
        0.0
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::series::parse_timestamp;

    fn bars(rows: &[(&str, f64)]) -> ContractPrices {
        let n = rows.len();
        ContractPrices {
            ts: rows
                .iter()
                .map(|(t, _)| parse_timestamp(t).unwrap())
                .collect(),
            open: vec![1.0; n],
            high: vec![1.0; n],
            low: vec![1.0; n],
            close: vec![1.0; n],
            volume: rows.iter().map(|(_, v)| *v).collect(),
        }
    }

    fn ts(s: &str) -> Micros {
        parse_timestamp(s).unwrap()
    }

    fn show(p: &PriceSeries) -> Vec<(String, f64)> {
        p.ts.iter()
            .zip(&p.value)
            .map(|(t, v)| (crate::domain::series::format_timestamp(*t), *v))
            .collect()
    }

    #[test]
    fn close_bar_wins_over_intraday_sum() {
        // pysystemtrade's doctest: 2000-02-01 15:00 10, 16:00 5, 23:00 17 → 17.
        let p = bars(&[
            ("2000-02-01 15:00:00", 10.0),
            ("2000-02-01 16:00:00", 5.0),
            ("2000-02-01 23:00:00", 17.0),
        ]);
        assert_eq!(
            show(&daily_volumes(&p)),
            [("2000-02-01 00:00:00".into(), 17.0)]
        );
    }

    #[test]
    fn intraday_is_summed_where_no_close_bar() {
        // pysystemtrade's doctest: → 2000-02-01 15, 2000-02-02 2.
        let p = bars(&[
            ("2000-02-01 15:00:00", 10.0),
            ("2000-02-01 16:00:00", 5.0),
            ("2000-02-02 23:00:00", 2.0),
        ]);
        assert_eq!(
            show(&daily_volumes(&p)),
            [
                ("2000-02-01 00:00:00".into(), 15.0),
                ("2000-02-02 00:00:00".into(), 2.0)
            ]
        );
    }

    #[test]
    fn gaps_are_nan_and_weekends_go_to_friday() {
        // Fri 2000-02-04, Sat 02-05 (→ Fri), Tue 02-08; Mon 02-07 has nothing.
        let p = bars(&[
            ("2000-02-04 15:00:00", 1.0),
            ("2000-02-05 10:00:00", 2.0),
            ("2000-02-08 15:00:00", 4.0),
        ]);
        let d = daily_volumes(&p);
        assert_eq!(d.ts.len(), 3);
        assert_eq!(d.value[0], 3.0);
        assert!(d.value[1].is_nan());
        assert_eq!(d.value[2], 4.0);
        assert_eq!(
            crate::domain::series::format_timestamp(d.ts[1]),
            "2000-02-07 00:00:00"
        );
    }

    #[test]
    fn zero_close_bar_falls_back_to_intraday() {
        let p = bars(&[("2000-02-01 15:00:00", 10.0), ("2000-02-01 23:00:00", 0.0)]);
        assert_eq!(daily_volumes(&p).value, [10.0]);
    }

    #[test]
    fn daily_only_bars_are_returned_as_they_are() {
        let p = bars(&[("2000-02-01 23:00:00", 7.0), ("2000-02-02 23:00:00", 0.0)]);
        let d = daily_volumes(&p);
        assert_eq!(d.ts, p.ts);
        assert_eq!(d.value, [7.0, 0.0]);
    }

    #[test]
    fn smoothing_uses_the_last_14_days_with_span_3() {
        let p = bars(&[
            ("2000-01-03 23:00:00", 1000.0), // older than 14 days: ignored
            ("2000-02-01 23:00:00", 10.0),
            ("2000-02-02 23:00:00", 20.0),
            ("2000-02-03 23:00:00", 40.0),
        ]);
        let now = ts("2000-02-04 12:00:00");
        // pandas ewm(span=3) (α = 0.5, adjust=True) of [10, 20, 40]:
        // (40 + 0.5·20 + 0.25·10) / (1 + 0.5 + 0.25) = 52.5 / 1.75 = 30.
        assert!((smoothed_volume(&p, now) - 30.0).abs() < 1e-12);
        assert_eq!(smoothed_volume(&p, ts("2000-03-01 00:00:00")), 0.0);
        assert_eq!(smoothed_volume(&ContractPrices::default(), now), 0.0);
    }

    #[test]
    fn relative_volume_guards_zero_and_nan() {
        assert_eq!(relative_volume(200.0, 100.0), 0.5);
        assert!((relative_volume(0.0, 1.0) - 10_000.0).abs() < 1e-6);
        assert_eq!(relative_volume(f64::NAN, 5.0), 0.0);
        assert_eq!(relative_volume(5.0, f64::NAN), 0.0);
    }
}
