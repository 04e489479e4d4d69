//! A whole strategy's backtest: every instrument's stages and position sizing (on worker
//! threads), then the portfolio stage across instruments — instrument weights fitted to the
//! instruments that have positions, smoothed and normalised ([`super::weights`]), the IDM, each
//! instrument's notional position and buffers.
//!
//! Inputs come through [`BacktestInputs`] (any [`PriceStore`] is one). An instrument whose
//! prices or FX rates are missing, empty or all NaN is [`Skipped`] with the reason and takes no
//! part in the portfolio; the others go on. The portfolio index is every business day from the
//! first to the last day of any instrument; a day in none of the instruments' grids ages the
//! weights' EWMA as pysystemtrade's `resample("1B")` does.

use serde::Serialize;

use super::config::StrategyConfig;
use super::daily::{business_days, ffill, reindex};
use super::position::{apply_portfolio, fx_on_days, size_subsystem, PositionStages};
use super::weights::fitted_weights;
use super::{run_instrument, InstrumentStages};
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::parallel::parallel_map;
use crate::domain::ports::PriceStore;
use crate::domain::series::{AdjustedPrices, FxPrices, MultiplePrices};

/// Where a backtest reads prices. FX rates are of `CCY` in USD (`CCYUSD`), as stored.
pub trait BacktestInputs: Sync {
    fn adjusted(&self, code: &InstrumentCode) -> Result<Option<AdjustedPrices>, String>;
    fn multiple(&self, code: &InstrumentCode) -> Result<Option<MultiplePrices>, String>;
    fn fx(&self, currency: &str) -> Result<Option<FxPrices>, String>;
}

impl<T: PriceStore + ?Sized> BacktestInputs for T {
    fn adjusted(&self, code: &InstrumentCode) -> Result<Option<AdjustedPrices>, String> {
        self.read_adjusted(code).map_err(|e| e.to_string())
    }
    fn multiple(&self, code: &InstrumentCode) -> Result<Option<MultiplePrices>, String> {
        self.read_multiple(code).map_err(|e| e.to_string())
    }
    fn fx(&self, currency: &str) -> Result<Option<FxPrices>, String> {
        self.read_fx(currency).map_err(|e| e.to_string())
    }
}

/// One instrument's results, all on `stages.days`.
#[derive(Debug, Clone)]
pub struct InstrumentRun {
    pub code: String,
    /// The contract priced at the last multiple-prices row.
    pub reference_contract: Option<crate::domain::contract::ContractId>,
    pub stages: InstrumentStages,
    pub positions: PositionStages,
}

/// Why an instrument the home does not collect is left out (not a failure: nothing to run).
pub const NO_ADJUSTED_PRICES: &str = "no adjusted prices in the store";

/// An instrument left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub instrument: String,
    pub reason: String,
}

/// A strategy's backtest.
#[derive(Debug, Clone, Default)]
pub struct StrategyRun {
    /// In the strategy's (sorted) instrument order.
    pub instruments: Vec<InstrumentRun>,
    pub skipped: Vec<Skipped>,
}

/// Runs `strategy` over `inputs` on `threads` worker threads (at least one).
pub fn run_strategy<I: BacktestInputs + ?Sized>(
    strategy: &StrategyConfig,
    reference: &ReferenceData,
    inputs: &I,
    threads: usize,
) -> StrategyRun {
    let codes: Vec<&str> = strategy
        .instruments
        .iter()
        .map(|(c, _)| c.as_str())
        .collect();
    let results = parallel_map(&codes, threads, |code| {
        run_one(strategy, reference, inputs, code)
    });
    let mut run = StrategyRun::default();
    for (code, r) in codes.iter().zip(results) {
        match r.unwrap_or_else(|| Err("not run (a worker thread failed)".into())) {
            Ok(i) => run.instruments.push(i),
            Err(reason) => run.skipped.push(Skipped {
                instrument: code.to_string(),
                reason,
            }),
        }
    }
    apply_instrument_weights(strategy, &mut run.instruments);
    run
}

/// The stages and subsystem position of one instrument ([`apply_instrument_weights`] adds the
/// portfolio stage).
fn run_one<I: BacktestInputs + ?Sized>(
    strategy: &StrategyConfig,
    reference: &ReferenceData,
    inputs: &I,
    code: &str,
) -> Result<InstrumentRun, String> {
    let ic = InstrumentCode::new(code).map_err(|e| e.to_string())?;
    let instrument = reference
        .instrument(&ic)
        .ok_or("not in the reference data")?;
    let cfg = strategy
        .position_config(code)
        .ok_or("not in the strategy")?;
    let adjusted = inputs.adjusted(&ic)?.ok_or(NO_ADJUSTED_PRICES)?;
    if !adjusted.value.iter().any(|v| v.is_finite()) {
        return Err("adjusted prices are empty or all NaN".into());
    }
    let multiple = inputs
        .multiple(&ic)?
        .ok_or("no multiple prices in the store")?;
    if !multiple.price.iter().any(|v| v.is_finite()) {
        return Err("multiple prices are empty or have no PRICE values".into());
    }
    let stages = run_instrument(&adjusted, &multiple, &strategy.system);
    let fx = fx_to_base(
        inputs,
        &instrument.currency,
        &strategy.base_currency,
        &stages.days,
    )?;
    let positions =
        size_subsystem(&stages, instrument.point_size, &fx, &cfg).map_err(|e| e.to_string())?;
    Ok(InstrumentRun {
        code: code.to_string(),
        reference_contract: multiple.price_contract.last().copied(),
        stages,
        positions,
    })
}

/// The rate from `currency` to `base` as of each of `days`: 1 for the same currency, else
/// `CCYUSD / BASEUSD` (USD's own rate being 1), each as of the day's midnight — what
/// pysystemtrade's cross rate (outer join, forward fill, divide) gives on the day grid.
pub fn fx_to_base<I: BacktestInputs + ?Sized>(
    inputs: &I,
    currency: &str,
    base: &str,
    days: &[i64],
) -> Result<Vec<f64>, String> {
    if currency == base {
        return Ok(vec![1.0; days.len()]);
    }
    let usd_rate = |ccy: &str| -> Result<Vec<f64>, String> {
        if ccy == "USD" {
            return Ok(vec![1.0; days.len()]);
        }
        let fx = inputs
            .fx(ccy)?
            .ok_or_else(|| format!("no {ccy}USD FX rates in the store"))?;
        if !fx.value.iter().any(|v| v.is_finite()) {
            return Err(format!("{ccy}USD FX rates are empty or all NaN"));
        }
        Ok(fx_on_days(&fx.ts, &fx.value, days))
    };
    let num = usd_rate(currency)?;
    if base == "USD" {
        return Ok(num);
    }
    let den = usd_rate(base)?;
    Ok(num.iter().zip(&den).map(|(a, b)| a / b).collect())
}

/// The portfolio stage: instrument weights fitted to the instruments' subsystem positions on
/// the portfolio's business-day index, smoothed and normalised; then each instrument's notional
/// position and buffers with its weight and the (fixed) IDM.
fn apply_instrument_weights(strategy: &StrategyConfig, runs: &mut [InstrumentRun]) {
    let bounds = runs
        .iter()
        .filter_map(|r| Some((*r.stages.days.first()?, *r.stages.days.last()?)))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    let Some((first, last)) = bounds else {
        return;
    };
    let grid = business_days(first, last);
    let mut present = vec![false; grid.len()];
    let mut columns: Vec<Vec<f64>> = Vec::with_capacity(runs.len());
    let mut raw_weights = Vec::with_capacity(runs.len());
    for r in runs.iter() {
        let days = &r.stages.days;
        if let (Some(a), Some(b)) = (days.first(), days.last()) {
            let from = grid.partition_point(|d| d < a);
            let to = grid.partition_point(|d| d <= b);
            present[from..to].iter_mut().for_each(|p| *p = true);
        }
        let pos = &r.positions.subsystem_position;
        let weight = strategy
            .instruments
            .iter()
            .find(|(c, _)| *c == r.code)
            .map_or(0.0, |(_, w)| *w);
        // pysystemtrade gives no weight to an instrument without any non-zero position.
        let has_position = pos.iter().any(|p| !p.is_nan() && *p != 0.0);
        raw_weights.push(if has_position { weight } else { 0.0 });
        columns.push(ffill(&reindex(days, pos, &grid)));
    }
    let inputs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let weights = fitted_weights(
        &raw_weights,
        &inputs,
        Some(&present),
        strategy.instrument_weight_smoothing_span,
    );
    let idm = strategy.position.idm;
    for (r, w) in runs.iter_mut().zip(weights) {
        let days = &r.stages.days;
        let weight = reindex(&grid, &w, days);
        let idm = vec![idm; days.len()];
        apply_portfolio(
            &mut r.positions,
            &weight,
            &idm,
            strategy.position.buffer_size,
        );
    }
}
