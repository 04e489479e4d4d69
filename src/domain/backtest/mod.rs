//! The pure numeric stages of pysystemtrade's chapter-15 futures system for one instrument:
//! daily prices, volatility, raw forecasts of the EWMAC and carry rules, and scaled and capped
//! forecasts, and their combination with fixed weights. Columnar: every stage takes `&[f64]` slices on the instrument's business-day grid
//! and returns one `Vec<f64>` of the same length.
//!
//! The grid is every business day (Mon–Fri) from the first to the last adjusted or multiple
//! price, days without a price kept as NaN (pandas `resample("1B").last()`); see [`daily`].
//! Price-derived stages (vol, EWMAC) are computed on the adjusted prices' own days and are NaN
//! beyond them, as in pysystemtrade; carry runs over the whole grid.
//!
//! Position sizing, the portfolio's notional position and its buffers are in [`position`].

pub mod carry;
pub mod config;
pub mod daily;
pub mod ewmac;
pub mod forecast;
pub mod portfolio;
pub mod position;
pub mod vol;
pub mod weights;

#[cfg(test)]
mod golden_portfolio;
#[cfg(test)]
mod golden_positions;
#[cfg(test)]
mod golden_tests;

use std::ops::Range;

use crate::domain::series::{AdjustedPrices, MultiplePrices};

use daily::{diff, reindex, resample, Agg};
use vol::VolConfig;

/// What a trading rule computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleKind {
    /// `ewmac(price, vol, Lfast, Lslow)`.
    Ewmac { fast: f64, slow: f64 },
    /// `carry(raw_carry, smooth_days)`.
    Carry { smooth_days: f64 },
}

/// A trading rule variation with its fixed forecast scalar.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub kind: RuleKind,
    pub forecast_scalar: f64,
}

/// The parameters these stages use.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemConfig {
    pub vol: VolConfig,
    pub rules: Vec<Rule>,
    pub forecast_cap: f64,
    /// Fixed forecast weight per rule, by rule name.
    pub forecast_weights: Vec<(String, f64)>,
    /// Fixed forecast diversification multiplier.
    pub forecast_div_multiplier: f64,
    /// Span of the EWMA that smooths the daily forecast weights (`forecast_weight_ewma_span`).
    pub weight_smoothing_span: f64,
}

impl SystemConfig {
    /// The chapter-15 system: ewmac16_64, ewmac32_128, ewmac64_256 and carry (smooth 90) with
    /// pysystemtrade's fixed forecast scalars, cap 20, default vol parameters, fixed forecast
    /// weights 0.21/0.08/0.21/0.5 and FDM 1.31.
    pub fn chapter15() -> Self {
        let ewmac = |fast: f64, slow: f64, scalar: f64| Rule {
            name: format!("ewmac{fast}_{slow}"),
            kind: RuleKind::Ewmac { fast, slow },
            forecast_scalar: scalar,
        };
        Self {
            vol: VolConfig::default(),
            rules: vec![
                ewmac(16.0, 64.0, 3.75),
                ewmac(32.0, 128.0, 2.65),
                ewmac(64.0, 256.0, 1.87),
                Rule {
                    name: "carry".to_string(),
                    kind: RuleKind::Carry { smooth_days: 90.0 },
                    forecast_scalar: 30.0,
                },
            ],
            forecast_cap: 20.0,
            forecast_weights: vec![
                ("ewmac16_64".to_string(), 0.21),
                ("ewmac32_128".to_string(), 0.08),
                ("ewmac64_256".to_string(), 0.21),
                ("carry".to_string(), 0.50),
            ],
            forecast_div_multiplier: 1.31,
            weight_smoothing_span: weights::DEFAULT_WEIGHT_SMOOTHING_SPAN,
        }
    }
}

/// A named forecast series on the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub rule: String,
    pub values: Vec<f64>,
}

/// Every stage's output for one instrument, all on `days`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstrumentStages {
    /// Business days, as days since 1970-01-01.
    pub days: Vec<i64>,
    /// `rawdata.get_daily_prices`.
    pub price: Vec<f64>,
    /// `rawdata.daily_denominator_price` (PRICE of the multiple prices, not forward filled).
    pub denom_price: Vec<f64>,
    /// `rawdata.daily_returns_volatility`.
    pub daily_returns_vol: Vec<f64>,
    /// `rawdata.get_daily_percentage_volatility`.
    pub daily_pct_vol: Vec<f64>,
    /// `rawdata.raw_carry`.
    pub raw_carry: Vec<f64>,
    /// `rules.get_raw_forecast`, in the config's rule order.
    pub raw_forecasts: Vec<Forecast>,
    /// `forecastScaleCap.get_capped_forecast`, in the config's rule order.
    pub capped_forecasts: Vec<Forecast>,
    /// `combForecast.get_forecast_weights`: each weighted rule's daily weight, fitted to the
    /// forecasts available, smoothed and normalised (see [`weights`]); in rule-name order.
    pub forecast_weights: Vec<Forecast>,
    /// `combForecast.get_forecast_diversification_multiplier` (fixed), on the grid.
    pub fdm: Vec<f64>,
    /// `combForecast.get_combined_forecast` (fixed weights and FDM).
    pub combined_forecast: Vec<f64>,
    /// The indices of `days` that pysystemtrade's price-derived series (daily price, vol,
    /// percentage vol) are indexed on: the adjusted prices' own business days.
    pub price_span: Range<usize>,
    /// The indices of `days` that `rawdata.daily_denominator_price` is indexed on: the multiple
    /// prices' own business days.
    pub denom_span: Range<usize>,
}

/// Runs the stages for one instrument from its adjusted and multiple prices.
pub fn run_instrument(
    adjusted: &AdjustedPrices,
    multiple: &MultiplePrices,
    cfg: &SystemConfig,
) -> InstrumentStages {
    // pysystemtrade's price stages live on the adjusted prices' business days; carry (and so
    // the carry forecast) on the union with the multiple prices' days. Both are contiguous
    // business-day ranges, so the union is one range; price stages are NaN outside their own.
    let daily = resample(&adjusted.ts, &adjusted.value, Agg::Last);
    let denom = resample(&multiple.ts, &multiple.price, Agg::Last);
    let ann_roll = resample(&multiple.ts, &carry::annualised_roll(multiple), Agg::Mean);
    let bounds = [&daily.days, &ann_roll.days]
        .into_iter()
        .filter_map(|d| Some((*d.first()?, *d.last()?)))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    let days = bounds.map_or_else(Vec::new, |(first, last)| daily::business_days(first, last));

    let returns = diff(&daily.values);
    let vol_own = vol::mixed_vol(&returns, &cfg.vol);
    let denom_own = reindex(&denom.days, &denom.values, &daily.days);
    let pct_own = vol::daily_pct_vol(&vol_own, &denom_own);

    let price = reindex(&daily.days, &daily.values, &days);
    let denom_price = reindex(&denom.days, &denom.values, &days);
    let daily_returns_vol = reindex(&daily.days, &vol_own, &days);
    let daily_pct_vol = reindex(&daily.days, &pct_own, &days);
    let ann_roll = reindex(&ann_roll.days, &ann_roll.values, &days);
    let raw_carry = carry::raw_carry(&ann_roll, &daily_returns_vol);

    let mut raw_forecasts = Vec::with_capacity(cfg.rules.len());
    let mut capped_forecasts = Vec::with_capacity(cfg.rules.len());
    for rule in &cfg.rules {
        let raw = match rule.kind {
            RuleKind::Ewmac { fast, slow } => reindex(
                &daily.days,
                &ewmac::ewmac(&daily.values, &vol_own, fast, slow),
                &days,
            ),
            RuleKind::Carry { smooth_days } => carry::carry_forecast(&raw_carry, smooth_days),
        };
        let capped = forecast::scale_and_cap(&raw, rule.forecast_scalar, cfg.forecast_cap);
        raw_forecasts.push(Forecast {
            rule: rule.name.clone(),
            values: raw,
        });
        capped_forecasts.push(Forecast {
            rule: rule.name.clone(),
            values: capped,
        });
    }

    // Forecast weights fitted to the forecasts, in rule-name order as pysystemtrade's
    // sorted rule list (rules without a weight take no part).
    let mut weighted: Vec<(&str, f64, Vec<f64>)> = capped_forecasts
        .iter()
        .filter_map(|f| {
            let (_, w) = cfg.forecast_weights.iter().find(|(r, _)| *r == f.rule)?;
            Some((f.rule.as_str(), *w, daily::ffill(&f.values)))
        })
        .collect();
    weighted.sort_by(|a, b| a.0.cmp(b.0));
    let raw_weights: Vec<f64> = weighted.iter().map(|(_, w, _)| *w).collect();
    let inputs: Vec<&[f64]> = weighted.iter().map(|(_, _, f)| f.as_slice()).collect();
    let fitted = weights::fitted_weights(&raw_weights, &inputs, None, cfg.weight_smoothing_span);
    let filled: Vec<Vec<f64>> = weighted.iter().map(|(_, _, f)| f.clone()).collect();
    let combined_forecast = if filled.is_empty() {
        vec![f64::NAN; days.len()]
    } else {
        forecast::combine(
            &filled,
            &fitted,
            cfg.forecast_div_multiplier,
            cfg.forecast_cap,
        )
    };
    let forecast_weights = weighted
        .iter()
        .zip(fitted)
        .map(|((rule, _, _), values)| Forecast {
            rule: rule.to_string(),
            values,
        })
        .collect();

    let fdm = vec![cfg.forecast_div_multiplier; days.len()];
    let price_span = span_of(&daily.days, &days);
    let denom_span = span_of(&denom.days, &days);
    InstrumentStages {
        price_span,
        denom_span,
        days,
        price,
        denom_price,
        daily_returns_vol,
        daily_pct_vol,
        raw_carry,
        raw_forecasts,
        capped_forecasts,
        forecast_weights,
        fdm,
        combined_forecast,
    }
}

/// Where the contiguous business-day run `sub` sits in `days` (which contains it); empty when
/// `sub` is empty.
fn span_of(sub: &[i64], days: &[i64]) -> Range<usize> {
    match sub.first() {
        Some(first) => {
            let start = days.partition_point(|d| d < first);
            start..(start + sub.len()).min(days.len())
        }
        None => 0..0,
    }
}
