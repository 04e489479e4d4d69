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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::StrategyConfig;
use super::daily::{business_days, reindex};
use super::position::{apply_portfolio, fx_on_days, size_subsystem, PositionStages};
use super::weights::fitted_step_weights;
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
    /// A token that changes whenever any of the instrument's prices or the FX rates of
    /// `currencies` change; `None` when the inputs cannot tell (nothing is remembered).
    fn version(&self, _code: &InstrumentCode, _currencies: &[&str]) -> Option<String> {
        None
    }
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
    fn version(&self, code: &InstrumentCode, currencies: &[&str]) -> Option<String> {
        let mut v = self.prices_version(code)?;
        for c in currencies.iter().filter(|c| **c != "USD") {
            v.push(' ');
            v.push_str(&self.fx_version(c)?);
        }
        Some(v)
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

/// What the portfolio stage needs of one instrument: the span of its business days, the first
/// day its subsystem position exists (its weight is 0 before, see [`fitted_weights`](super::weights::fitted_weights)) and
/// whether it ever holds a position (one that never does takes no weight). These few numbers
/// stand for the whole instrument in the instrument weights, so an instrument that is not
/// shown can be remembered between runs instead of recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightInputs {
    pub first_day: i64,
    pub last_day: i64,
    pub first_position_day: Option<i64>,
    pub has_position: bool,
}

impl WeightInputs {
    fn of(run: &InstrumentRun) -> Option<WeightInputs> {
        let days = &run.stages.days;
        let pos = &run.positions.subsystem_position;
        Some(WeightInputs {
            first_day: *days.first()?,
            last_day: *days.last()?,
            first_position_day: days
                .iter()
                .zip(pos)
                .find(|(_, p)| !p.is_nan())
                .map(|(d, _)| *d),
            has_position: pos.iter().any(|p| !p.is_nan() && *p != 0.0),
        })
    }
}

/// An instrument's [`WeightInputs`] with the version of the inputs they were computed from
/// (the inputs' [`BacktestInputs::version`] and the instrument's reference data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    pub version: String,
    pub inputs: WeightInputs,
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
    run_strategy_shown(strategy, reference, inputs, threads, None, &BTreeMap::new()).0
}

/// Runs the instruments of `shown` (all of the strategy's for `None`) in full. Every other
/// instrument enters the portfolio stage through its [`Remembered`] weight inputs when their
/// version still matches, else it is run too. The result holds the instruments that were run
/// (and skipped), with the weight inputs of every instrument known after the run, to be
/// remembered for the next.
pub fn run_strategy_shown<I: BacktestInputs + ?Sized>(
    strategy: &StrategyConfig,
    reference: &ReferenceData,
    inputs: &I,
    threads: usize,
    shown: Option<&[String]>,
    remembered: &BTreeMap<String, Remembered>,
) -> (StrategyRun, BTreeMap<String, Remembered>) {
    let version = |code: &str| {
        let ic = InstrumentCode::new(code).ok()?;
        let instrument = reference.instrument(&ic)?;
        let v = inputs.version(&ic, &[&instrument.currency, &strategy.base_currency])?;
        Some(format!("{v} {instrument:?}"))
    };
    let mut known: BTreeMap<String, Remembered> = BTreeMap::new();
    let mut codes: Vec<&str> = Vec::new();
    for (code, _) in &strategy.instruments {
        let wanted = shown.is_none_or(|s| s.contains(code));
        let hit = (!wanted)
            .then(|| {
                let r = remembered.get(code)?;
                (version(code)? == r.version).then(|| r.clone())
            })
            .flatten();
        match hit {
            Some(r) => {
                known.insert(code.clone(), r);
            }
            None => codes.push(code),
        }
    }
    let results = parallel_map(&codes, threads, |code| {
        run_one(strategy, reference, inputs, code)
    });
    let mut run = StrategyRun::default();
    for (code, r) in codes.iter().zip(results) {
        match r.unwrap_or_else(|| Err("not run (a worker thread failed)".into())) {
            Ok(i) => {
                if let (Some(inputs), Some(version)) = (WeightInputs::of(&i), version(code)) {
                    known.insert(code.to_string(), Remembered { version, inputs });
                }
                run.instruments.push(i);
            }
            Err(reason) => run.skipped.push(Skipped {
                instrument: code.to_string(),
                reason,
            }),
        }
    }
    let others: BTreeMap<&str, WeightInputs> = known
        .iter()
        .filter(|(c, _)| !codes.contains(&c.as_str()))
        .map(|(c, r)| (c.as_str(), r.inputs))
        .collect();
    apply_instrument_weights(strategy, &mut run.instruments, &others);
    (run, known)
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
/// position and buffers with its weight and the (fixed) IDM. `others` are instruments that
/// were not run, known by their weight inputs alone; columns follow the strategy's order
/// either way, so the weights are the same to the bit.
fn apply_instrument_weights(
    strategy: &StrategyConfig,
    runs: &mut [InstrumentRun],
    others: &BTreeMap<&str, WeightInputs>,
) {
    let run_inputs: BTreeMap<&str, WeightInputs> = runs
        .iter()
        .filter_map(|r| Some((r.code.as_str(), WeightInputs::of(r)?)))
        .collect();
    let columns: Vec<(&str, f64, WeightInputs)> = strategy
        .instruments
        .iter()
        .filter_map(|(code, weight)| {
            let w = run_inputs
                .get(code.as_str())
                .or(others.get(code.as_str()))?;
            Some((code.as_str(), *weight, *w))
        })
        .collect();
    let bounds = columns
        .iter()
        .map(|(_, _, w)| (w.first_day, w.last_day))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    let Some((first, last)) = bounds else {
        return;
    };
    let grid = business_days(first, last);
    let mut present = vec![false; grid.len()];
    let mut raw_weights = Vec::with_capacity(columns.len());
    let mut starts = Vec::with_capacity(columns.len());
    for (_, weight, w) in &columns {
        let from = grid.partition_point(|d| *d < w.first_day);
        let to = grid.partition_point(|d| *d <= w.last_day);
        present[from..to].iter_mut().for_each(|p| *p = true);
        // pysystemtrade gives no weight to an instrument without any non-zero position.
        raw_weights.push(if w.has_position { *weight } else { 0.0 });
        // The forward-filled subsystem position on the grid: only where it starts (it is NaN
        // before its first position) matters to the fitted weights.
        starts.push(
            w.first_position_day
                .map(|d| grid.partition_point(|g| *g < d)),
        );
    }
    let wanted: Vec<usize> = runs
        .iter()
        .filter_map(|r| columns.iter().position(|(c, _, _)| *c == r.code))
        .collect();
    let weights = fitted_step_weights(
        &raw_weights,
        &starts,
        &present,
        strategy.instrument_weight_smoothing_span,
        &wanted,
    );
    let idm = strategy.position.idm;
    for r in runs.iter_mut() {
        let Some(k) = columns.iter().position(|(c, _, _)| *c == r.code) else {
            continue;
        };
        let Some(w) = wanted.iter().position(|&j| j == k) else {
            continue;
        };
        let days = &r.stages.days;
        let weight = reindex(&grid, &weights[w], days);
        let idm = vec![idm; days.len()];
        apply_portfolio(
            &mut r.positions,
            &weight,
            &idm,
            strategy.position.buffer_size,
        );
    }
}

#[cfg(test)]
#[path = "portfolio_tests.rs"]
mod tests;
