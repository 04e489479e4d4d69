//! Business-day resampling, as pandas `Series.resample("1B")`.
//!
//! Each timestamp (naive, stored as UTC micros) belongs to its calendar day; Saturday and Sunday
//! fall in the bin of the Friday before (pandas' business-day bins run from one business day to
//! the next). The grid runs over every business day from the first bin to the last; days without
//! an observation are kept, as NaN (pandas keeps empty bins).

use crate::domain::series::Micros;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 (a Thursday) of a timestamp.
pub fn day_number(ts: Micros) -> i64 {
    ts.div_euclid(MICROS_PER_DAY)
}

/// Monday = 0 … Sunday = 6.
pub fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// The business day (as a day number) whose bin holds `day`: itself on a weekday, the Friday
/// before on a weekend.
pub fn business_bin(day: i64) -> i64 {
    match weekday(day) {
        5 => day - 1,
        6 => day - 2,
        _ => day,
    }
}

/// Every business day from `first` to `last` (both business days), inclusive.
pub fn business_days(first: i64, last: i64) -> Vec<i64> {
    let mut out = Vec::with_capacity(((last - first).max(0) * 5 / 7 + 2) as usize);
    let mut d = first;
    while d <= last {
        if weekday(d) < 5 {
            out.push(d);
        }
        d += 1;
    }
    out
}

/// How a bin's values become one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    /// The last non-NaN value (pandas `.last()`).
    Last,
    /// The mean of the non-NaN values (pandas `.mean()`).
    Mean,
}

/// A series resampled onto business days: `days[i]` (day numbers) and `values[i]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DailySeries {
    pub days: Vec<i64>,
    pub values: Vec<f64>,
}

/// Resamples `(ts, values)` (timestamps increasing) to business days with `agg`. Bins with no
/// non-NaN value are NaN.
pub fn resample(ts: &[Micros], values: &[f64], agg: Agg) -> DailySeries {
    let n = ts.len().min(values.len());
    if n == 0 {
        return DailySeries::default();
    }
    let first = business_bin(day_number(ts[0]));
    let last = business_bin(day_number(ts[n - 1]));
    let days = business_days(first, last);
    let mut out = vec![f64::NAN; days.len()];
    let mut slot = 0usize;
    let mut sum = 0.0;
    let mut count = 0usize;
    let flush = |slot: usize, sum: &mut f64, count: &mut usize, out: &mut [f64]| {
        if agg == Agg::Mean && *count > 0 {
            out[slot] = *sum / *count as f64;
        }
        *sum = 0.0;
        *count = 0;
    };
    for i in 0..n {
        let bin = business_bin(day_number(ts[i]));
        if bin != days[slot] {
            flush(slot, &mut sum, &mut count, &mut out);
            while days[slot] < bin {
                slot += 1;
            }
        }
        let v = values[i];
        if !v.is_nan() {
            match agg {
                Agg::Last => out[slot] = v,
                Agg::Mean => {
                    sum += v;
                    count += 1;
                }
            }
        }
    }
    flush(slot, &mut sum, &mut count, &mut out);
    DailySeries { days, values: out }
}

/// `values` (on `from`, increasing day numbers) placed on `to` (increasing): NaN where `from`
/// has no such day (pandas `reindex`).
pub fn reindex(from: &[i64], values: &[f64], to: &[i64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(to.len());
    let mut j = 0usize;
    for &d in to {
        while j < from.len() && from[j] < d {
            j += 1;
        }
        out.push(if j < from.len() && from[j] == d {
            values[j]
        } else {
            f64::NAN
        });
    }
    out
}

/// Forward fill (pandas `ffill`): each NaN takes the last non-NaN value before it.
pub fn ffill(values: &[f64]) -> Vec<f64> {
    let mut last = f64::NAN;
    values
        .iter()
        .map(|&v| {
            if !v.is_nan() {
                last = v;
            }
            last
        })
        .collect()
}

/// First differences (pandas `diff`): NaN first, NaN where either side is NaN.
pub fn diff(values: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    if values.is_empty() {
        return out;
    }
    out.push(f64::NAN);
    out.extend(values.windows(2).map(|w| w[1] - w[0]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::series::parse_timestamp;

    fn t(s: &str) -> Micros {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn weekdays_and_bins() {
        // 1970-01-01 was a Thursday; 2023-08-26 a Saturday.
        assert_eq!(weekday(0), 3);
        let sat = day_number(t("2023-08-26 10:00:00"));
        assert_eq!(weekday(sat), 5);
        assert_eq!(business_bin(sat), sat - 1);
        assert_eq!(business_bin(sat + 1), sat - 1);
        assert_eq!(business_bin(sat + 2), sat + 2);
    }

    #[test]
    fn last_keeps_empty_days_and_folds_weekends_into_friday() {
        let ts = [
            t("2023-08-24 15:00:00"), // Thu
            t("2023-08-24 23:00:00"), // Thu close
            t("2023-08-26 12:00:00"), // Sat -> Fri
            t("2023-08-29 23:00:00"), // Tue (Mon empty)
            t("2023-08-30 23:00:00"),
        ];
        let v = [1.0, 2.0, 3.0, 4.0, f64::NAN];
        let r = resample(&ts, &v, Agg::Last);
        assert_eq!(r.days.len(), 5); // Thu Fri Mon Tue Wed
        assert_eq!(r.values[0], 2.0);
        assert_eq!(r.values[1], 3.0);
        assert!(r.values[2].is_nan());
        assert_eq!(r.values[3], 4.0);
        assert!(r.values[4].is_nan());
        let m = resample(&ts, &v, Agg::Mean);
        assert_eq!(m.values[0], 1.5);
    }

    #[test]
    fn reindex_ffill_diff() {
        assert_eq!(
            format!("{:?}", reindex(&[1, 2, 4], &[1.0, 2.0, 4.0], &[0, 2, 3, 4])),
            "[NaN, 2.0, NaN, 4.0]"
        );
        assert_eq!(
            format!("{:?}", ffill(&[f64::NAN, 1.0, f64::NAN, 3.0])),
            "[NaN, 1.0, 1.0, 3.0]"
        );
        assert_eq!(
            format!("{:?}", diff(&[1.0, 3.0, f64::NAN, 4.0])),
            "[NaN, 2.0, NaN, NaN]"
        );
        assert!(diff(&[]).is_empty());
    }
}
