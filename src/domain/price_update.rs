//! Domain rules of the daily price updates (`update_fx_prices`, `update_historical_prices`),
//! independent of any adapter:
//!
//! * [`CleaningRules`] / [`clean_bars`]: pysystemtrade's cleaner defaults (B4): drop bars
//!   timestamped after "now", drop zero-volume bars (hourly only), drop bars whose close is 0;
//!   negative prices are kept. NaN closes are dropped too (they cannot be spike checked).
//! * [`SpikeDecisions`]: what people decided about earlier spikes of one series, and how that
//!   changes the next merge:
//!   - a **rejected** spike at `t`: the bar at `t` is dropped from freshly fetched data before
//!     merging, so the wrong price is never written and not recorded again on every run;
//!   - an **accepted** spike at `t`: when the new rows of a merge include `t`, that merge runs
//!     without the spike check (the accepted bar, and the rest of that batch, go through).
//!
//!   The first download of a series (nothing stored) is a backfill and is not spike checked.
//!   Pending spikes change nothing: the merge finds the same spike again (the spike log does
//!   not record it twice) and nothing is written for that series until someone decides.

use super::metadata::{SpikeRecord, SpikeStatus, SpikeSubject};
use super::ports::Frequency;
use super::series::{ContractPrices, Micros, PriceSeries};

/// Microseconds in a day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// Which fetched bars are dropped before merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleaningRules {
    pub drop_future: bool,
    pub drop_zero_volume: bool,
    pub drop_zero_close: bool,
    pub drop_negative: bool,
}

impl CleaningRules {
    /// pysystemtrade's defaults: zero-volume bars are dropped for intraday bars only.
    pub fn defaults(frequency: Frequency) -> Self {
        Self {
            drop_future: true,
            drop_zero_volume: frequency == Frequency::Hourly,
            drop_zero_close: true,
            drop_negative: false,
        }
    }

    fn keeps(&self, ts: Micros, close: f64, volume: f64, now: Micros) -> bool {
        !(close.is_nan()
            || (self.drop_future && ts > now)
            || (self.drop_zero_volume && volume == 0.0)
            || (self.drop_zero_close && close == 0.0)
            || (self.drop_negative && close < 0.0))
    }
}

/// The bars `rules` keep (`now`: the clock's time, for dropping future bars).
pub fn clean_bars(bars: &ContractPrices, now: Micros, rules: CleaningRules) -> ContractPrices {
    bars.select(|i| rules.keeps(bars.ts[i], bars.close[i], bars.volume[i], now))
}

/// FX rates without future, NaN or non-positive values.
pub fn clean_fx(series: &PriceSeries, now: Micros) -> PriceSeries {
    series.select(|t, v| t <= now && v.is_finite() && v > 0.0)
}

/// Where to fetch from: `lookback_days` before the last stored timestamp, or from the start of
/// the source's history when nothing is stored.
pub fn fetch_from(last_stored: Option<Micros>, lookback_days: u32) -> Micros {
    match last_stored {
        Some(t) => t.saturating_sub(i64::from(lookback_days) * DAY_MICROS),
        None => i64::MIN,
    }
}

/// Accepted and rejected spike timestamps of one series (subject and frequency).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpikeDecisions {
    pub accepted: Vec<Micros>,
    pub rejected: Vec<Micros>,
}

impl SpikeDecisions {
    /// The decisions among `records` about `subject` at `frequency` (pending ones are ignored).
    pub fn for_series(
        records: &[SpikeRecord],
        subject: &SpikeSubject,
        frequency: Frequency,
    ) -> Self {
        let mut out = Self::default();
        for r in records
            .iter()
            .filter(|r| r.subject == *subject && r.frequency == frequency)
        {
            match r.status {
                SpikeStatus::Accepted => out.accepted.push(r.ts),
                SpikeStatus::Rejected => out.rejected.push(r.ts),
                SpikeStatus::Pending => {}
            }
        }
        out
    }

    /// Fetched bars without the rejected ones.
    pub fn drop_rejected_bars(&self, bars: &ContractPrices) -> ContractPrices {
        bars.select(|i| !self.rejected.contains(&bars.ts[i]))
    }

    /// Fetched values without the rejected ones.
    pub fn drop_rejected_series(&self, series: &PriceSeries) -> PriceSeries {
        series.select(|t, _| !self.rejected.contains(&t))
    }

    /// The spike threshold for merging `new_ts` after `last_stored`: infinite (no check) when
    /// nothing is stored yet (the first download is a backfill, as pysystemtrade seeds history
    /// from files without a spike check) or when the rows the merge would add include an
    /// accepted spike; else `threshold`.
    pub fn threshold(&self, new_ts: &[Micros], last_stored: Option<Micros>, threshold: f64) -> f64 {
        let Some(last) = last_stored else {
            return f64::INFINITY;
        };
        let adds_accepted = new_ts
            .iter()
            .any(|t| *t > last && self.accepted.contains(t));
        if adds_accepted {
            f64::INFINITY
        } else {
            threshold
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contract::ContractId;
    use crate::domain::instrument::InstrumentCode;

    fn bars(rows: &[(Micros, f64, f64)]) -> ContractPrices {
        let mut b = ContractPrices::default();
        for (t, c, v) in rows {
            b.ts.push(*t);
            b.open.push(*c);
            b.high.push(*c);
            b.low.push(*c);
            b.close.push(*c);
            b.volume.push(*v);
        }
        b
    }

    #[test]
    fn cleaning_drops_future_zero_close_and_hourly_zero_volume() {
        let b = bars(&[
            (1, 10.0, 5.0),
            (2, 0.0, 5.0),
            (3, 11.0, 0.0),
            (4, f64::NAN, 1.0),
            (5, -1.0, 1.0),
            (6, 12.0, 1.0),
        ]);
        let hourly = clean_bars(&b, 5, CleaningRules::defaults(Frequency::Hourly));
        assert_eq!(hourly.ts, vec![1, 5]);
        let daily = clean_bars(&b, 5, CleaningRules::defaults(Frequency::Daily));
        assert_eq!(daily.ts, vec![1, 3, 5]);
        assert_eq!(daily.close, vec![10.0, 11.0, -1.0]);
        let fx = clean_fx(
            &PriceSeries {
                ts: vec![1, 2, 3, 9],
                value: vec![1.1, 0.0, f64::NAN, 1.2],
            },
            5,
        );
        assert_eq!(fx.ts, vec![1]);
    }

    #[test]
    fn fetch_from_looks_back_or_starts_at_the_beginning() {
        assert_eq!(fetch_from(None, 10), i64::MIN);
        assert_eq!(fetch_from(Some(10 * DAY_MICROS), 3), 7 * DAY_MICROS);
        assert_eq!(fetch_from(Some(i64::MIN + 1), 3), i64::MIN);
    }

    fn record(
        id: i64,
        subject: SpikeSubject,
        f: Frequency,
        ts: Micros,
        s: SpikeStatus,
    ) -> SpikeRecord {
        SpikeRecord {
            id,
            subject,
            frequency: f,
            ts,
            value: 1.0,
            ratio: 9.0,
            detected_at: chrono::DateTime::UNIX_EPOCH,
            status: s,
            resolved_at: None,
        }
    }

    #[test]
    fn decisions_filter_by_subject_and_frequency_and_apply() {
        let sp = SpikeSubject::Contract {
            instrument: InstrumentCode::new("SP500").unwrap(),
            contract: ContractId::parse("20240900").unwrap(),
        };
        let fx = SpikeSubject::Fx {
            currency: "EUR".into(),
        };
        let records = vec![
            record(1, sp.clone(), Frequency::Daily, 20, SpikeStatus::Rejected),
            record(2, sp.clone(), Frequency::Daily, 40, SpikeStatus::Accepted),
            record(3, sp.clone(), Frequency::Daily, 50, SpikeStatus::Pending),
            record(4, sp.clone(), Frequency::Hourly, 30, SpikeStatus::Rejected),
            record(5, fx.clone(), Frequency::Daily, 10, SpikeStatus::Rejected),
        ];
        let d = SpikeDecisions::for_series(&records, &sp, Frequency::Daily);
        assert_eq!(d.rejected, vec![20]);
        assert_eq!(d.accepted, vec![40]);
        let b = bars(&[(10, 1.0, 1.0), (20, 9.0, 1.0), (30, 1.0, 1.0)]);
        assert_eq!(d.drop_rejected_bars(&b).ts, vec![10, 30]);
        // the accepted bar is among the rows to add: no check
        assert!(d.threshold(&[30, 40], Some(30), 8.0).is_infinite());
        assert!(d.threshold(&[40], None, 8.0).is_infinite());
        // nothing stored: a backfill, not checked
        assert!(SpikeDecisions::default()
            .threshold(&[1, 2], None, 8.0)
            .is_infinite());
        // already stored, or not in the batch: the usual check
        assert_eq!(d.threshold(&[30, 40], Some(40), 8.0), 8.0);
        assert_eq!(d.threshold(&[50], Some(40), 8.0), 8.0);
        let f = SpikeDecisions::for_series(&records, &fx, Frequency::Daily);
        let s = PriceSeries {
            ts: vec![5, 10],
            value: vec![1.0, 2.0],
        };
        assert_eq!(f.drop_rejected_series(&s).ts, vec![5]);
    }

    #[test]
    fn an_infinite_threshold_lets_a_spike_through() {
        let old = bars(
            &(0..50)
                .map(|i| (i * DAY_MICROS, 100.0 + (i % 2) as f64, 1.0))
                .collect::<Vec<_>>(),
        );
        let new = bars(&[(50 * DAY_MICROS, 1000.0, 1.0)]);
        assert!(crate::domain::merge::spike_check_merge(&old, &new, 8.0).is_err());
        let out = crate::domain::merge::spike_check_merge(&old, &new, f64::INFINITY).unwrap();
        assert_eq!(out.new_rows, 1);
    }
}
