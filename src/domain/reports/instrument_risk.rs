//! Per-instrument risk (§B29; pysystemtrade's `sysproduction/data/risk.py`
//! `get_risk_data_for_instrument`), shared by the instrument risk, minimum capital, costs and
//! risk reports.
//!
//! * daily price stdev = the last value (forward filled) of `mixed_vol_calc` over the daily
//!   changes of the adjusted price resampled to business days (last), last 512 business days;
//! * annual price stdev = daily × 16;
//! * price = the last adjusted price (the current priced contract's: Panama adjusts only the past);
//! * daily % stdev = 100 × the last (forward filled) of vol ÷ the current priced contract's price
//!   (the multiple prices' PRICE column resampled to business days, last 512, aligned to the vol
//!   and forward filled); annual % stdev = daily × 16;
//! * point size in base = point size × FX to base; contract exposure = point size base × price;
//!   daily/annual risk per contract = daily/annual price stdev × point size base;
//! * with a position and capital: exposure held % capital = 100 × position × exposure / capital,
//!   annual risk % capital = 100 × annual risk per contract × position / capital.

use serde::Serialize;

use crate::domain::backtest::daily::{diff, ffill, reindex, resample, Agg};
use crate::domain::backtest::vol::{mixed_vol, VolConfig};
use crate::domain::series::Micros;

/// pysystemtrade's `DAILY_RISK_CALC_LOOKBACK`: two years of business days.
pub const LOOKBACK_BUSINESS_DAYS: usize = 512;

/// √256.
pub const ROOT_BDAYS_IN_YEAR: f64 = 16.0;

/// What one instrument's risk is computed from.
pub struct RiskInputs<'a> {
    /// The adjusted prices.
    pub adjusted: (&'a [Micros], &'a [f64]),
    /// The current priced contract's prices (multiple prices' PRICE column).
    pub current: (&'a [Micros], &'a [f64]),
    pub point_size: f64,
    /// Base currency per unit of the instrument's currency.
    pub fx_to_base: f64,
    /// Contracts held across strategies.
    pub position: i64,
    /// Total capital in the base currency.
    pub capital: f64,
}

/// One instrument's risk, pysystemtrade's column names. NaN where the data do not allow it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentRisk {
    pub daily_price_stdev: f64,
    pub annual_price_stdev: f64,
    pub price: f64,
    pub daily_perc_stdev: f64,
    pub annual_perc_stdev: f64,
    pub point_size_base: f64,
    pub contract_exposure: f64,
    pub daily_risk_per_contract: f64,
    pub annual_risk_per_contract: f64,
    pub position: i64,
    pub capital: f64,
    pub exposure_held_perc_capital: f64,
    pub annual_risk_perc_capital: f64,
}

impl InstrumentRisk {
    /// Every figure is a number (pysystemtrade drops rows with NaN from its tables).
    pub fn is_complete(&self) -> bool {
        [
            self.daily_price_stdev,
            self.price,
            self.daily_perc_stdev,
            self.point_size_base,
        ]
        .iter()
        .all(|v| v.is_finite())
    }
}

fn last_of_ffilled(values: &[f64]) -> f64 {
    ffill(values).last().copied().unwrap_or(f64::NAN)
}

fn tail<T>(v: &[T], n: usize) -> &[T] {
    &v[v.len().saturating_sub(n)..]
}

/// The risk figures of one instrument.
pub fn instrument_risk(i: &RiskInputs<'_>) -> InstrumentRisk {
    let daily = resample(i.adjusted.0, i.adjusted.1, Agg::Last);
    let days = tail(&daily.days, LOOKBACK_BUSINESS_DAYS);
    let prices = tail(&daily.values, LOOKBACK_BUSINESS_DAYS);
    let vol = mixed_vol(&diff(prices), &VolConfig::default());
    let daily_price_stdev = last_of_ffilled(&vol);

    let current = resample(i.current.0, i.current.1, Agg::Last);
    let denom = reindex(
        tail(&current.days, LOOKBACK_BUSINESS_DAYS),
        tail(&current.values, LOOKBACK_BUSINESS_DAYS),
        days,
    );
    let denom = ffill(&denom);
    let perc: Vec<f64> = vol.iter().zip(&denom).map(|(v, d)| v / d).collect();
    let daily_perc_stdev = 100.0 * last_of_ffilled(&perc);

    let price = i.adjusted.1.last().copied().unwrap_or(f64::NAN);
    let point_size_base = i.point_size * i.fx_to_base;
    let contract_exposure = point_size_base * price;
    let annual_price_stdev = daily_price_stdev * ROOT_BDAYS_IN_YEAR;
    let annual_risk_per_contract = annual_price_stdev * point_size_base;
    let position = i.position as f64;
    InstrumentRisk {
        daily_price_stdev,
        annual_price_stdev,
        price,
        daily_perc_stdev,
        annual_perc_stdev: daily_perc_stdev * ROOT_BDAYS_IN_YEAR,
        point_size_base,
        contract_exposure,
        daily_risk_per_contract: daily_price_stdev * point_size_base,
        annual_risk_per_contract,
        position: i.position,
        capital: i.capital,
        exposure_held_perc_capital: 100.0 * position * contract_exposure / i.capital,
        annual_risk_perc_capital: 100.0 * annual_risk_per_contract * position / i.capital,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    /// Business days from Monday 2024-01-01, `n` of them, as timestamps at 23:00.
    fn business_days(n: usize) -> Vec<Micros> {
        let monday = 19_723; // 2024-01-01
        let mut out = Vec::new();
        let mut d = monday;
        while out.len() < n {
            if (d + 3) % 7 < 5 {
                out.push(d * DAY + 23 * 3_600_000_000);
            }
            d += 1;
        }
        out
    }

    #[test]
    fn a_steady_trend_has_no_vol_and_the_exposure_of_its_last_price() {
        // Prices rising by 1 every day: every daily change is 1, so the standard deviation of
        // the changes is 0 (floored at 1e-10), and the % stdev is that over the price.
        let ts = business_days(100);
        let adjusted: Vec<f64> = (0..100).map(|k| 100.0 + k as f64).collect();
        let r = instrument_risk(&RiskInputs {
            adjusted: (&ts, &adjusted),
            current: (&ts, &adjusted),
            point_size: 50.0,
            fx_to_base: 2.0,
            position: 3,
            capital: 1_000_000.0,
        });
        assert!(r.daily_price_stdev < 1e-9, "{r:?}");
        assert_eq!(r.price, 199.0);
        assert_eq!(r.point_size_base, 100.0);
        assert_eq!(r.contract_exposure, 19_900.0);
        assert!((r.exposure_held_perc_capital - 100.0 * 3.0 * 19_900.0 / 1e6).abs() < 1e-12);
        assert!(r.is_complete());
    }

    #[test]
    fn alternating_changes_give_the_hand_computed_vol() {
        // Changes alternate +1, -1: after enough days the EW standard deviation of the changes
        // approaches 1 (its mean tends to 0, each squared deviation to 1). The slow part is an EW
        // mean of the fast one, so the blend tends to 1 as well.
        let n = 600;
        let ts = business_days(n);
        let adjusted: Vec<f64> = (0..n).map(|k| 100.0 + (k % 2) as f64).collect();
        let current: Vec<f64> = vec![200.0; n];
        let r = instrument_risk(&RiskInputs {
            adjusted: (&ts, &adjusted),
            current: (&ts, &current),
            point_size: 1.0,
            fx_to_base: 1.0,
            position: 0,
            capital: 1.0,
        });
        assert!((r.daily_price_stdev - 1.0).abs() < 0.02, "{r:?}");
        assert!((r.annual_price_stdev - 16.0 * r.daily_price_stdev).abs() < 1e-12);
        // % stdev over the current contract's price (200), not the adjusted one.
        assert!((r.daily_perc_stdev - 100.0 * r.daily_price_stdev / 200.0).abs() < 1e-9);
        assert_eq!(r.annual_risk_perc_capital, 0.0);
    }

    #[test]
    fn too_little_history_is_incomplete_not_a_panic() {
        let ts = business_days(5);
        let adjusted = vec![1.0, 2.0, 3.0, 2.0, 1.0];
        let r = instrument_risk(&RiskInputs {
            adjusted: (&ts, &adjusted),
            current: (&[], &[]),
            point_size: 1.0,
            fx_to_base: 1.0,
            position: 1,
            capital: 100.0,
        });
        assert!(!r.is_complete());
        assert!(r.daily_price_stdev.is_nan());
    }
}
