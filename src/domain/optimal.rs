//! Optimal positions (§B11): what `run_systems` leaves for the order generator — per strategy
//! and instrument, the notional position at the backtest's last date with its buffer edges and
//! the price and contract it was computed against — and the backtest states kept for reports.
//!
//! [`optimal_positions`] extracts them from a [`StrategyRun`]; an instrument whose last
//! position or buffer is not a finite number is reported as skipped instead, never stored as
//! NaN. [`OptimalPositionStore`] keeps their history (SQLite); [`BacktestStateStore`] keeps each
//! run's recent series as one file per run (Parquet), cleaned after a configured number of days.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::backtest::portfolio::{InstrumentRun, Skipped, StrategyRun};
use super::contract::ContractId;
use super::instrument::InstrumentCode;

/// One instrument's optimal position for one strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptimalPosition {
    pub strategy: String,
    pub instrument: InstrumentCode,
    /// When run_systems computed it.
    pub computed_at: DateTime<Utc>,
    /// The backtest's last date, which the position is for.
    pub date: NaiveDate,
    /// The notional position (contracts, unrounded).
    pub optimal: f64,
    /// Lower edge of the buffer (`bot_pos`).
    pub lower: f64,
    /// Upper edge of the buffer (`top_pos`).
    pub upper: f64,
    /// The last daily back-adjusted price.
    pub reference_price: f64,
    /// The contract that was priced at the last multiple-prices row.
    pub reference_contract: Option<ContractId>,
}

/// Errors of the optimal position and backtest state stores.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimalError {
    #[error("optimal position store: {detail}")]
    Database { detail: String },
    #[error("optimal position store holds an invalid {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("backtest state {path}: {detail}")]
    State { path: String, detail: String },
}

/// The history of optimal positions.
#[async_trait]
pub trait OptimalPositionStore: Send + Sync {
    /// Appends `positions` in one transaction.
    async fn record_optimal_positions(
        &self,
        positions: &[OptimalPosition],
    ) -> Result<(), OptimalError>;
    /// The latest optimal position of every (strategy, instrument), optionally of one strategy,
    /// sorted by strategy then instrument.
    async fn latest_optimal_positions(
        &self,
        strategy: Option<&str>,
    ) -> Result<Vec<OptimalPosition>, OptimalError>;
    /// Every optimal position of one (strategy, instrument), oldest first.
    async fn optimal_position_history(
        &self,
        strategy: &str,
        instrument: &InstrumentCode,
    ) -> Result<Vec<OptimalPosition>, OptimalError>;
}

/// A stored backtest state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestStateInfo {
    pub strategy: String,
    pub computed_at: DateTime<Utc>,
    pub path: PathBuf,
}

/// One instrument's series in a stored backtest state: column name (the golden files' names)
/// and values on `days` (days since 1970-01-01).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoredSeries {
    pub instrument: String,
    pub days: Vec<i64>,
    pub columns: Vec<(String, Vec<f64>)>,
}

/// Where backtest states are kept.
pub trait BacktestStateStore: Send + Sync {
    /// Stores the last `rows` grid days of every instrument's series of `run`, with the strategy
    /// config text it ran with. Atomic: a state is either whole or absent.
    fn write_state(
        &self,
        strategy: &str,
        computed_at: DateTime<Utc>,
        run: &StrategyRun,
        config_text: &str,
        rows: usize,
    ) -> Result<BacktestStateInfo, OptimalError>;
    /// The stored states of `strategy` (every strategy when `None`), oldest first.
    fn list_states(&self, strategy: Option<&str>) -> Result<Vec<BacktestStateInfo>, OptimalError>;
    /// The series of one stored state.
    fn read_state(&self, state: &BacktestStateInfo) -> Result<Vec<StoredSeries>, OptimalError>;
    /// The states of `strategy` (every strategy when `None`) computed before `cutoff`, except
    /// each strategy's newest, which is never deleted (the strategy report reads it): deleted
    /// with their config files, or with `dry_run` only listed. Oldest first.
    fn prune_states(
        &self,
        strategy: Option<&str>,
        cutoff: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Vec<BacktestStateInfo>, OptimalError>;
}

/// How many business days of each series a backtest state keeps (two years, the golden files'
/// window): enough for reports of recent behaviour, small enough to write in milliseconds.
pub const BACKTEST_STATE_ROWS: usize = 500;

/// Every series of one instrument's run under the golden files' column names, in their order.
pub fn named_series(r: &InstrumentRun) -> Vec<(String, &[f64])> {
    let s = &r.stages;
    let p = &r.positions;
    let mut columns: Vec<(String, &[f64])> = vec![
        ("price".into(), &s.price),
        ("denom_price".into(), &s.denom_price),
        ("daily_returns_vol".into(), &s.daily_returns_vol),
        ("daily_pct_vol".into(), &s.daily_pct_vol),
        ("raw_carry".into(), &s.raw_carry),
    ];
    for f in &s.raw_forecasts {
        columns.push((format!("rawfc_{}", f.rule), &f.values));
    }
    for f in &s.capped_forecasts {
        columns.push((format!("capfc_{}", f.rule), &f.values));
    }
    for f in &s.forecast_weights {
        columns.push((format!("fw_{}", f.rule), &f.values));
    }
    let rest: [(&str, &[f64]); 14] = [
        ("fdm", &s.fdm),
        ("combined_forecast", &s.combined_forecast),
        ("fx_rate_ffill", &p.fx_rate),
        ("block_value", &p.block_value),
        ("instr_ccy_vol", &p.instr_ccy_vol),
        ("instr_value_vol", &p.instr_value_vol),
        ("vol_scalar", &p.vol_scalar),
        ("subsystem_position", &p.subsystem_position),
        ("instrument_weight", &p.instrument_weight),
        ("idm", &p.idm),
        ("notional_position", &p.notional_position),
        ("buffer", &p.buffer),
        ("top_pos", &p.top_pos),
        ("bot_pos", &p.bot_pos),
    ];
    columns.extend(rest.into_iter().map(|(name, v)| (name.to_string(), v)));
    columns
}

/// The date of day number `day` (days since 1970-01-01).
pub fn day_date(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(day))
}

/// The optimal positions of a strategy run at each instrument's last date; instruments whose
/// position, buffer edges or reference price there are not finite are skipped with the reason.
pub fn optimal_positions(
    strategy: &str,
    run: &StrategyRun,
    computed_at: DateTime<Utc>,
) -> (Vec<OptimalPosition>, Vec<Skipped>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for r in &run.instruments {
        match optimal_of(strategy, r, computed_at) {
            Ok(p) => out.push(p),
            Err(reason) => skipped.push(Skipped {
                instrument: r.code.clone(),
                reason,
            }),
        }
    }
    (out, skipped)
}

fn optimal_of(
    strategy: &str,
    r: &InstrumentRun,
    computed_at: DateTime<Utc>,
) -> Result<OptimalPosition, String> {
    let last = r
        .stages
        .days
        .len()
        .checked_sub(1)
        .ok_or("no business days with prices")?;
    let day = r.stages.days[last];
    let date = day_date(day).ok_or("last date out of range")?;
    let at = |v: &[f64]| v.get(last).copied().unwrap_or(f64::NAN);
    let p = &r.positions;
    let (optimal, lower, upper) = (at(&p.notional_position), at(&p.bot_pos), at(&p.top_pos));
    for (name, v) in [
        ("notional position", optimal),
        ("lower buffer", lower),
        ("upper buffer", upper),
    ] {
        if !v.is_finite() {
            let why = if !at(&p.vol_scalar).is_finite() && !at(&r.stages.daily_pct_vol).is_finite()
            {
                "no volatility (prices missing or too few)"
            } else if !at(&r.stages.combined_forecast).is_finite() {
                "no combined forecast"
            } else {
                "missing or NaN inputs"
            };
            return Err(format!("{name} at {date} is {v}: {why}"));
        }
    }
    let reference_price = r
        .stages
        .price
        .iter()
        .rev()
        .copied()
        .find(|v| v.is_finite())
        .ok_or("no daily price")?;
    Ok(OptimalPosition {
        strategy: strategy.to_string(),
        instrument: InstrumentCode::new(&r.code).map_err(|e| e.to_string())?,
        computed_at,
        date,
        optimal,
        lower,
        upper,
        reference_price,
        reference_contract: r.reference_contract,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::backtest::position::PositionStages;
    use crate::domain::backtest::InstrumentStages;

    fn instrument(code: &str, notional: f64, vol_scalar: f64) -> InstrumentRun {
        InstrumentRun {
            code: code.into(),
            reference_contract: ContractId::parse("20231200").ok(),
            stages: InstrumentStages {
                days: vec![19_599, 19_600],
                price: vec![100.0, f64::NAN],
                daily_pct_vol: vec![1.0, f64::NAN],
                combined_forecast: vec![5.0, 5.0],
                ..Default::default()
            },
            positions: PositionStages {
                notional_position: vec![1.0, notional],
                bot_pos: vec![0.5, notional - 0.5],
                top_pos: vec![1.5, notional + 0.5],
                vol_scalar: vec![2.0, vol_scalar],
                ..Default::default()
            },
        }
    }

    #[test]
    fn last_date_positions_and_nan_skipped_with_a_reason() {
        let run = StrategyRun {
            instruments: vec![
                instrument("AUD", 2.25, 2.0),
                instrument("GOLD", f64::NAN, f64::NAN),
            ],
            skipped: Vec::new(),
        };
        let now = DateTime::parse_from_rfc3339("2026-11-24T21:00:00Z")
            .unwrap()
            .to_utc();
        let (positions, skipped) = optimal_positions("s", &run, now);
        assert_eq!(positions.len(), 1);
        let p = &positions[0];
        assert_eq!((p.optimal, p.lower, p.upper), (2.25, 1.75, 2.75));
        assert_eq!(p.date, NaiveDate::from_ymd_opt(2023, 8, 31).unwrap());
        // The last finite daily price.
        assert_eq!(p.reference_price, 100.0);
        assert_eq!(skipped[0].instrument, "GOLD");
        assert!(
            skipped[0].reason.contains("is NaN: no volatility"),
            "{}",
            skipped[0].reason
        );
    }
}
