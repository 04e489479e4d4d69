//! The inputs of the auto-populated trade and position limits (§B15) from the stored prices,
//! and the limits themselves ([`crate::domain::execution::StandardPositionInputs`] has the
//! rules and pysystemtrade's defaults).
//!
//! Per instrument, in the base currency (as §B29's risk report):
//! * annual price risk = the standard deviation of daily changes of the adjusted price over the
//!   last year (365 days back from the last price; one price per UTC day, the day's last) × 16
//!   (√256 business days). pysystemtrade's report uses the last value of its blended EWMA vol;
//!   a plain standard deviation of the year is used here (no estimator to calibrate, and the
//!   limits are a rough safety bound rounded to contracts);
//! * cash risk per contract = annual price risk × point size × FX to base;
//! * notional exposure per contract = |last adjusted price| × point size × FX to base (the last
//!   adjusted price is the current priced contract's: Panama adjusts only the past);
//! * FX to base = the last stored rate of the instrument's currency in USD over the base's
//!   (`fx/CCY` is the USD value of one unit; USD is 1);
//! * average daily volume: not known (no volume bound).

use serde::Serialize;

use super::execution::{auto_position_limit, auto_trade_limit, StandardPositionInputs};
use super::instrument::Instrument;
use super::ports::{PriceStore, PriceStoreError};
use super::series::PriceSeries;

const DAY_MICROS: i64 = 86_400_000_000;

/// Daily price changes needed for a standard deviation (pysystemtrade's vol needs 10 periods).
pub const MIN_DAILY_CHANGES: usize = 10;

/// Why an instrument's limits cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// The price store failed (I/O, a corrupt file).
    #[error(transparent)]
    Store(#[from] PriceStoreError),
    /// Prices or FX rates are missing or too few.
    #[error("{0}")]
    Missing(String),
}

/// What an instrument's standard position is computed from, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentRisk {
    pub instrument: String,
    pub currency: String,
    pub point_size: f64,
    /// Base currency per unit of the instrument's currency.
    pub fx_to_base: f64,
    pub last_price: f64,
    /// Annualised standard deviation of daily price changes, price units.
    pub annual_price_stdev: f64,
    /// How many daily changes it was computed from.
    pub daily_changes: usize,
    pub annual_cash_risk_per_contract: f64,
    pub notional_exposure_per_contract: f64,
    /// Average daily volume in contracts: unknown (no volume bound).
    pub average_daily_volume: Option<f64>,
}

/// The auto-populated limits of one instrument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoLimits {
    #[serde(flatten)]
    pub risk: InstrumentRisk,
    pub standard_position: f64,
    /// Instrument-wide, for the period asked.
    pub trade_limit: i64,
    pub position_limit: i64,
}

/// The last finite value of a series.
fn last_finite(series: &PriceSeries) -> Option<f64> {
    series.value.iter().rev().copied().find(|v| v.is_finite())
}

/// The annualised (× 16) sample standard deviation of the daily changes of `series` over the
/// `days` before its last price (one price per UTC day, the day's last finite one), and how many
/// changes; `None` with fewer than [`MIN_DAILY_CHANGES`].
pub fn annual_price_stdev(series: &PriceSeries, days: i64) -> Option<(f64, usize)> {
    let last_ts = series
        .ts
        .iter()
        .zip(&series.value)
        .rev()
        .find(|(_, v)| v.is_finite())
        .map(|(t, _)| *t)?;
    let first_day = last_ts.div_euclid(DAY_MICROS) - days;
    let mut daily: Vec<(i64, f64)> = Vec::new();
    for (&t, &v) in series.ts.iter().zip(&series.value) {
        let day = t.div_euclid(DAY_MICROS);
        if !v.is_finite() || day <= first_day || t > last_ts {
            continue;
        }
        match daily.last_mut() {
            Some((d, value)) if *d == day => *value = v,
            _ => daily.push((day, v)),
        }
    }
    let changes: Vec<f64> = daily.windows(2).map(|w| w[1].1 - w[0].1).collect();
    let n = changes.len();
    if n < MIN_DAILY_CHANGES {
        return None;
    }
    let mean = changes.iter().sum::<f64>() / n as f64;
    let var = changes.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((var.sqrt() * 16.0, n))
}

/// The USD value of one unit of `currency`: 1 for USD, else the last stored rate.
fn usd_value(store: &dyn PriceStore, currency: &str) -> Result<f64, RiskError> {
    if currency == "USD" {
        return Ok(1.0);
    }
    let rate = store
        .read_fx(currency)?
        .as_ref()
        .and_then(last_finite)
        .filter(|r| *r > 0.0);
    rate.ok_or_else(|| RiskError::Missing(format!("no {currency}USD FX rate stored")))
}

/// Base currency per unit of `currency`, from the last stored rates.
pub fn fx_to_base(store: &dyn PriceStore, currency: &str, base: &str) -> Result<f64, RiskError> {
    if currency == base {
        return Ok(1.0);
    }
    Ok(usd_value(store, currency)? / usd_value(store, base)?)
}

/// An instrument's risk and exposure per contract in `base`, from the stored adjusted prices
/// (the last year) and FX.
pub fn instrument_risk(
    store: &dyn PriceStore,
    instrument: &Instrument,
    base: &str,
) -> Result<InstrumentRisk, RiskError> {
    let code = &instrument.code;
    let adjusted = store
        .read_adjusted(code)?
        .ok_or_else(|| RiskError::Missing(format!("no adjusted prices for {code}")))?;
    let last_price = last_finite(&adjusted)
        .ok_or_else(|| RiskError::Missing(format!("no adjusted price for {code}")))?;
    let (annual_price_stdev, daily_changes) =
        annual_price_stdev(&adjusted, 365).ok_or_else(|| {
            RiskError::Missing(format!(
                "fewer than {MIN_DAILY_CHANGES} daily price changes of {code} in the last year"
            ))
        })?;
    let fx = fx_to_base(store, &instrument.currency, base)?;
    let point_size_base = instrument.point_size * fx;
    Ok(InstrumentRisk {
        instrument: code.to_string(),
        currency: instrument.currency.clone(),
        point_size: instrument.point_size,
        fx_to_base: fx,
        last_price,
        annual_price_stdev,
        daily_changes,
        annual_cash_risk_per_contract: annual_price_stdev * point_size_base,
        notional_exposure_per_contract: last_price.abs() * point_size_base,
        average_daily_volume: None,
    })
}

/// The auto-populated limits for `capital` (total, base currency) and a trade-limit period;
/// `None` when the standard position cannot be computed (a zero risk or exposure, say).
pub fn auto_limits(capital: f64, risk: InstrumentRisk, period_days: u32) -> Option<AutoLimits> {
    let mut inputs = StandardPositionInputs::new(
        capital,
        risk.annual_cash_risk_per_contract,
        risk.notional_exposure_per_contract,
    );
    inputs.average_daily_volume = risk.average_daily_volume;
    let standard = inputs.standard_position()?;
    Some(AutoLimits {
        risk,
        standard_position: standard,
        trade_limit: auto_trade_limit(standard, period_days),
        position_limit: auto_position_limit(standard),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[(i64, f64)]) -> PriceSeries {
        PriceSeries {
            ts: values.iter().map(|(t, _)| *t).collect(),
            value: values.iter().map(|(_, v)| *v).collect(),
        }
    }

    #[test]
    fn stdev_of_daily_changes_over_the_last_year_annualised() {
        // Alternating +1/−1 changes: mean 0, sample variance n/(n−1).
        let mut rows: Vec<(i64, f64)> = (0..21)
            .map(|d| {
                (
                    d * DAY_MICROS + 3_600_000_000,
                    if d % 2 == 0 { 100.0 } else { 101.0 },
                )
            })
            .collect();
        // An earlier price of a day, which the day's last one replaces; a NaN, ignored.
        rows.push((DAY_MICROS / 48, 500.0));
        rows.push((DAY_MICROS + 7_200_000_000, f64::NAN));
        rows.sort_by_key(|r| r.0);
        let (stdev, n) = annual_price_stdev(&series(&rows), 365).unwrap();
        assert_eq!(n, 20);
        let expected = (20.0f64 / 19.0).sqrt() * 16.0;
        assert!((stdev - expected).abs() < 1e-12, "{stdev} vs {expected}");
        // Only the last `days` count: a huge move long ago is left out.
        let mut old = rows.clone();
        for r in &mut old {
            r.0 += 400 * DAY_MICROS;
        }
        old.insert(0, (0, 1_000_000.0));
        let (stdev_old, n_old) = annual_price_stdev(&series(&old), 365).unwrap();
        assert_eq!(n_old, 20);
        assert!((stdev_old - expected).abs() < 1e-12);
        // Too few changes: none.
        assert_eq!(annual_price_stdev(&series(&rows[..10]), 365), None);
        assert_eq!(annual_price_stdev(&PriceSeries::default(), 365), None);
    }

    #[test]
    fn limits_follow_the_standard_position() {
        let risk = InstrumentRisk {
            instrument: "X".into(),
            currency: "USD".into(),
            point_size: 50.0,
            fx_to_base: 1.0,
            last_price: 4000.0,
            annual_price_stdev: 800.0,
            daily_changes: 250,
            annual_cash_risk_per_contract: 40_000.0,
            notional_exposure_per_contract: 200_000.0,
            average_daily_volume: None,
        };
        // risk: 2 × 1e6 × 2.5 × 0.04 × 0.25 / 40000 = 1.25; leverage 5; concentration 1.
        let l = auto_limits(1_000_000.0, risk.clone(), 1).unwrap();
        assert_eq!(l.standard_position, 1.0);
        assert_eq!((l.trade_limit, l.position_limit), (4, 1));
        // Larger capital: risk 12.5, leverage 50, concentration 12 → 12; over 5 days
        // ceil(12 × √5 × 0.33) = 9.
        let l = auto_limits(10_000_000.0, risk.clone(), 5).unwrap();
        assert_eq!(l.standard_position, 12.0);
        assert_eq!((l.trade_limit, l.position_limit), (9, 12));
        let zero = InstrumentRisk {
            annual_cash_risk_per_contract: 0.0,
            ..risk
        };
        assert!(auto_limits(1_000_000.0, zero, 1).is_none());
    }
}
