//! Position sizing (`systems/positionsizing.py`), the portfolio's notional position with a fixed
//! instrument weight and IDM (`systems/portfolio.py`), and the forecast-method position buffers
//! (`systems/buffering.py`) for one instrument. Columnar: every output is one `Vec<f64>` on the
//! instrument's business-day grid ([`InstrumentStages::days`]).
//!
//! pysystemtrade keeps each series on its own index and aligns them step by step; here the
//! indices are spans of the one grid:
//! - `block_value` lives on the denominator price's days (`denom_span`), forward filled there;
//! - `instr_ccy_vol`, `instr_value_vol` and `vol_scalar` on the days both the denominator
//!   price and the percentage vol have (an inner join of the two spans);
//! - the positions and buffers on the whole grid (the combined forecast's index): the vol scalar
//!   is carried past its last day (`reindex(method="ffill")`, by index, so a NaN inside its span
//!   stays NaN in the position) and, for the buffer, forward filled by value.
//!
//! The FX rate is the instrument currency's USD rate as of each day's midnight (pandas
//! `reindex(method="ffill")` of the timestamped FX series onto the daily index), so a rate
//! stamped 23:00 applies from the next day on; see [`fx_on_days`].

use std::ops::Range;

use super::daily::ffill;
use super::InstrumentStages;
use crate::domain::series::Micros;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `syscore.dateutils.ROOT_BDAYS_INYEAR`: √256.
pub const ROOT_BDAYS_IN_YEAR: f64 = 16.0;

/// The parameters of position sizing, portfolio and buffering for one instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionConfig {
    /// `percentage_vol_target`, in percent a year.
    pub percentage_vol_target: f64,
    /// `notional_trading_capital`, in the base currency.
    pub notional_trading_capital: f64,
    /// `average_absolute_forecast`.
    pub average_absolute_forecast: f64,
    /// The instrument's fixed instrument weight.
    pub instrument_weight: f64,
    /// Fixed instrument diversification multiplier.
    pub idm: f64,
    /// `buffer_size` of the `forecast` buffer method.
    pub buffer_size: f64,
}

impl PositionConfig {
    /// The chapter-15 reference system: 20 % vol target on 250,000 (base currency USD), average
    /// absolute forecast 10, instrument weight 1/32, IDM 2.5, buffer size 0.1.
    pub fn chapter15() -> Self {
        Self {
            percentage_vol_target: 20.0,
            notional_trading_capital: 250_000.0,
            average_absolute_forecast: 10.0,
            instrument_weight: 1.0 / 32.0,
            idm: 2.5,
            buffer_size: 0.1,
        }
    }

    /// `positionSize.get_daily_cash_vol_target`: capital × target% / 100 / 16.
    pub fn daily_cash_vol_target(&self) -> f64 {
        self.notional_trading_capital * self.percentage_vol_target / 100.0 / ROOT_BDAYS_IN_YEAR
    }
}

/// Why positions cannot be sized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PositionError {
    #[error("FX series has {got} values for {want} days")]
    FxLength { got: usize, want: usize },
    #[error("point size {0} is not a positive finite number")]
    PointSize(f64),
    #[error("average absolute forecast {0} is not a positive finite number")]
    AverageForecast(f64),
}

/// Every position stage for one instrument, all on the stages' `days`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PositionStages {
    /// Instrument currency → base currency rate, as of each day.
    pub fx_rate: Vec<f64>,
    /// `positionSize.get_block_value`: denominator price × point size × 0.01.
    pub block_value: Vec<f64>,
    /// `positionSize.get_instrument_currency_vol`.
    pub instr_ccy_vol: Vec<f64>,
    /// `positionSize.get_instrument_value_vol`.
    pub instr_value_vol: Vec<f64>,
    /// `positionSize.get_volatility_scalar` (= average position at subsystem level).
    pub vol_scalar: Vec<f64>,
    /// `positionSize.get_subsystem_position`.
    pub subsystem_position: Vec<f64>,
    /// `portfolio.get_instrument_weights()` of this instrument, on its grid.
    pub instrument_weight: Vec<f64>,
    /// `portfolio.get_instrument_diversification_multiplier`, on the grid.
    pub idm: Vec<f64>,
    /// `portfolio.get_notional_position` (no risk overlay).
    pub notional_position: Vec<f64>,
    /// `portfolio.get_buffers` (forecast method).
    pub buffer: Vec<f64>,
    /// `portfolio.get_buffers_for_position`: upper edge.
    pub top_pos: Vec<f64>,
    /// `portfolio.get_buffers_for_position`: lower edge.
    pub bot_pos: Vec<f64>,
}

/// The FX series (`ts` increasing, values) as of midnight of each of `days`: the last value
/// stamped at or before it, NaN before the first. USD instruments use a rate of 1.0 instead.
pub fn fx_on_days(ts: &[Micros], values: &[f64], days: &[i64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(days.len());
    let mut j = 0usize;
    for &day in days {
        let midnight = day.saturating_mul(MICROS_PER_DAY);
        while j < ts.len() && ts[j] <= midnight {
            j += 1;
        }
        out.push(if j == 0 { f64::NAN } else { values[j - 1] });
    }
    out
}

/// Sizes the positions of one instrument from its stages, its point size (value of a full price
/// move of one contract, instrument currency) and its FX rate on `stages.days`, with the
/// config's fixed instrument weight and IDM on every day. The portfolio run
/// ([`super::portfolio`]) uses [`size_subsystem`] and weights fitted across instruments instead.
pub fn size_positions(
    stages: &InstrumentStages,
    point_size: f64,
    fx: &[f64],
    cfg: &PositionConfig,
) -> Result<PositionStages, PositionError> {
    let mut p = size_subsystem(stages, point_size, fx, cfg)?;
    let n = stages.days.len();
    apply_portfolio(
        &mut p,
        &vec![cfg.instrument_weight; n],
        &vec![cfg.idm; n],
        cfg.buffer_size,
    );
    Ok(p)
}

/// The position sizing stages up to the subsystem position (FX, block value, currency and
/// value vol, vol scalar, subsystem position); the portfolio stage ([`apply_portfolio`]) is
/// left empty.
pub fn size_subsystem(
    stages: &InstrumentStages,
    point_size: f64,
    fx: &[f64],
    cfg: &PositionConfig,
) -> Result<PositionStages, PositionError> {
    let n = stages.days.len();
    if fx.len() != n {
        return Err(PositionError::FxLength {
            got: fx.len(),
            want: n,
        });
    }
    if !(point_size.is_finite() && point_size > 0.0) {
        return Err(PositionError::PointSize(point_size));
    }
    let avg = cfg.average_absolute_forecast;
    if !(avg.is_finite() && avg > 0.0) {
        return Err(PositionError::AverageForecast(avg));
    }
    let denom = clamp(&stages.denom_span, n);
    let sized = intersect(&denom, &clamp(&stages.price_span, n));

    // Block value on the denominator price's own days, forward filled there.
    let mut block_value = vec![f64::NAN; n];
    let mut last = f64::NAN;
    for i in denom.clone() {
        if let Some(&p) = stages.denom_price.get(i) {
            if !p.is_nan() {
                last = p;
            }
        }
        block_value[i] = last * point_size * 0.01;
    }

    // Currency vol, value vol and vol scalar on the inner join of the two indices.
    let target = cfg.daily_cash_vol_target();
    let mut instr_ccy_vol = vec![f64::NAN; n];
    let mut instr_value_vol = vec![f64::NAN; n];
    let mut vol_scalar = vec![f64::NAN; n];
    let mut last_ccy = f64::NAN;
    for i in sized.clone() {
        let pct = stages.daily_pct_vol.get(i).copied().unwrap_or(f64::NAN);
        let ccy = block_value[i] * pct;
        instr_ccy_vol[i] = ccy;
        if !ccy.is_nan() {
            last_ccy = ccy;
        }
        let value = last_ccy * fx[i];
        instr_value_vol[i] = value;
        vol_scalar[i] = target / value;
    }

    // Subsystem positions on the whole grid.
    let mut subsystem_position = vec![f64::NAN; n];
    let carried = sized.end.checked_sub(1).map_or(f64::NAN, |k| vol_scalar[k]);
    for (i, slot) in subsystem_position.iter_mut().enumerate().skip(sized.start) {
        let vs = if i < sized.end {
            vol_scalar[i]
        } else {
            carried
        };
        let forecast = stages.combined_forecast.get(i).copied().unwrap_or(f64::NAN);
        *slot = vs * forecast / avg;
    }

    Ok(PositionStages {
        fx_rate: fx.to_vec(),
        block_value,
        instr_ccy_vol,
        instr_value_vol,
        vol_scalar,
        subsystem_position,
        ..Default::default()
    })
}

/// The portfolio stage of one instrument: its notional position (subsystem position × daily
/// instrument weight × IDM, `portfolio.get_notional_position`) and the forecast-method buffers
/// around it (`|vol scalar × weight × IDM| × buffer_size`, the vol scalar forward filled; the
/// edges are the forward-filled position ± the forward-filled buffer). `weight` and `idm` are on
/// the instrument's grid (already forward filled onto it).
pub fn apply_portfolio(p: &mut PositionStages, weight: &[f64], idm: &[f64], buffer_size: f64) {
    let at = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(f64::NAN);
    p.notional_position = p
        .subsystem_position
        .iter()
        .enumerate()
        .map(|(i, pos)| pos * at(weight, i) * at(idm, i))
        .collect();
    p.buffer = ffill(&p.vol_scalar)
        .iter()
        .enumerate()
        .map(|(i, vs)| (vs * at(weight, i) * at(idm, i)).abs() * buffer_size)
        .collect();
    let pos_filled = ffill(&p.notional_position);
    let buf_filled = ffill(&p.buffer);
    p.top_pos = pos_filled
        .iter()
        .zip(&buf_filled)
        .map(|(p, b)| p + b)
        .collect();
    p.bot_pos = pos_filled
        .iter()
        .zip(&buf_filled)
        .map(|(p, b)| p - b)
        .collect();
    p.instrument_weight = weight.to_vec();
    p.idm = idm.to_vec();
}

fn clamp(r: &Range<usize>, n: usize) -> Range<usize> {
    r.start.min(n)..r.end.min(n)
}

fn intersect(a: &Range<usize>, b: &Range<usize>) -> Range<usize> {
    let start = a.start.max(b.start);
    start..a.end.min(b.end).max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(denom: &[f64], pct: &[f64], forecast: &[f64]) -> InstrumentStages {
        let n = denom.len();
        InstrumentStages {
            days: (0..n as i64).collect(),
            denom_price: denom.to_vec(),
            daily_pct_vol: pct.to_vec(),
            combined_forecast: forecast.to_vec(),
            price_span: 0..n,
            denom_span: 0..n,
            ..Default::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn daily_cash_vol_target_is_capital_times_target_over_16() {
        assert_eq!(PositionConfig::chapter15().daily_cash_vol_target(), 3125.0);
    }

    #[test]
    fn hand_computed_positions() {
        // Point size 100: block value = price (day 1 carried from day 0); ccy vol = price × pct.
        let s = stages(
            &[100.0, f64::NAN, 200.0],
            &[1.0, 2.0, 0.5],
            &[10.0, -5.0, 20.0],
        );
        let fx = [2.0, 2.0, 0.5];
        let cfg = PositionConfig::chapter15();
        let p = size_positions(&s, 100.0, &fx, &cfg).unwrap();
        assert_eq!(p.block_value, vec![100.0, 100.0, 200.0]);
        assert_eq!(p.instr_ccy_vol, vec![100.0, 200.0, 100.0]);
        assert_eq!(p.instr_value_vol, vec![200.0, 400.0, 50.0]);
        assert_eq!(p.vol_scalar, vec![3125.0 / 200.0, 3125.0 / 400.0, 62.5]);
        let sub = [15.625, -3.90625, 125.0];
        let scale = 2.5 / 32.0;
        for (i, &want) in sub.iter().enumerate() {
            assert!(close(p.subsystem_position[i], want));
            assert!(close(p.notional_position[i], want * scale));
            let buf = p.vol_scalar[i] * scale * 0.1;
            assert!(close(p.buffer[i], buf));
            assert!(close(p.top_pos[i], want * scale + buf));
            assert!(close(p.bot_pos[i], want * scale - buf));
        }
    }

    #[test]
    fn spans_decide_where_each_stage_lives() {
        // Denominator on days 0..4, percentage vol on days 1..3, forecast on all 5 days.
        let mut s = stages(
            &[100.0, 100.0, 100.0, 100.0, f64::NAN],
            &[f64::NAN, 1.0, f64::NAN, f64::NAN, f64::NAN],
            &[10.0; 5],
        );
        s.denom_span = 0..4;
        s.price_span = 1..3;
        let fx = [1.0; 5];
        let p = size_positions(&s, 100.0, &fx, &PositionConfig::chapter15()).unwrap();
        assert!(p.block_value[4].is_nan() && p.block_value[3] == 100.0);
        assert!(p.instr_ccy_vol[0].is_nan() && p.instr_ccy_vol[3].is_nan());
        assert_eq!(p.instr_ccy_vol[1], 100.0);
        assert!(p.instr_ccy_vol[2].is_nan());
        // Value vol forward fills the currency vol inside its index.
        assert_eq!(p.instr_value_vol[2], 100.0);
        assert!(p.subsystem_position[0].is_nan());
        // Past the vol scalar's last day the position keeps its last vol scalar.
        assert_eq!(p.subsystem_position[4], 31.25);
        assert!(close(p.buffer[4], 31.25 * 2.5 / 32.0 * 0.1));
    }

    #[test]
    fn fx_is_as_of_midnight() {
        let day = MICROS_PER_DAY;
        let ts = [
            day + 23 * 3_600_000_000,
            2 * day + 23 * 3_600_000_000,
            4 * day,
        ];
        let fx = fx_on_days(&ts, &[1.1, 1.2, 1.4], &[0, 1, 2, 3, 4, 5]);
        assert!(fx[0].is_nan() && fx[1].is_nan());
        assert_eq!(&fx[2..], &[1.1, 1.2, 1.4, 1.4]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let s = stages(&[1.0], &[1.0], &[1.0]);
        let cfg = PositionConfig::chapter15();
        assert_eq!(
            size_positions(&s, 1.0, &[], &cfg),
            Err(PositionError::FxLength { got: 0, want: 1 })
        );
        assert_eq!(
            size_positions(&s, 0.0, &[1.0], &cfg),
            Err(PositionError::PointSize(0.0))
        );
    }
}
