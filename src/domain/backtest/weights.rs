//! Fixed weights fitted to the series they weight, smoothed and normalised: pysystemtrade's
//! treatment of forecast weights (`ForecastCombine.get_forecast_weights`) and of instrument
//! weights (`Portfolios.get_instrument_weights`).
//!
//! For each day of the grid:
//! 1. a column whose input (forward filled) is still NaN gets weight 0 — unless every input is
//!    NaN that day, when the configured weights stand (`fix_weights_vs_position_or_forecast`);
//! 2. each column is smoothed with an EWMA of span `span` (pandas `ewm(span).mean()`);
//! 3. each row is scaled to sum to 1 (`weights_sum_to_one`; an all-zero row stays zero).
//!
//! So an instrument or rule whose history starts later takes its weight from the others until
//! it has data, and its weight then fades in over about `span` days instead of jumping.

use crate::domain::merge::ewma_mean;

/// pysystemtrade's `forecast_weight_ewma_span` and `instrument_weight_ewma_span` default.
pub const DEFAULT_WEIGHT_SMOOTHING_SPAN: f64 = 125.0;

/// The smoothed, normalised weights of `inputs.len()` columns on a grid of `n` days.
///
/// `weights[k]` is column k's configured weight; `inputs[k]` its series on the grid, already
/// forward filled. `present[i] == false` marks a grid day that is in none of the inputs' indices
/// (pandas' `resample("1B").mean()` makes it a NaN row, which the EWMA then ages past); `None`
/// means every day is present. Returns one weight series per column.
pub fn fitted_weights(
    weights: &[f64],
    inputs: &[&[f64]],
    present: Option<&[bool]>,
    span: f64,
) -> Vec<Vec<f64>> {
    let n = inputs.first().map_or(0, |c| c.len());
    let k = weights.len().min(inputs.len());
    // Step 1: weights fixed to the inputs.
    let mut fixed: Vec<Vec<f64>> = vec![Vec::with_capacity(n); k];
    for i in 0..n {
        let here = present.is_none_or(|p| p.get(i).copied().unwrap_or(false));
        let all_nan = inputs[..k].iter().all(|c| c[i].is_nan());
        for (col, out) in fixed.iter_mut().enumerate() {
            out.push(if !here {
                f64::NAN
            } else if all_nan || !inputs[col][i].is_nan() {
                weights[col]
            } else {
                0.0
            });
        }
    }
    // Step 2: smoothing, column by column.
    let smoothed: Vec<Vec<f64>> = fixed.iter().map(|c| ewma_mean(c, span)).collect();
    // Step 3: rows sum to one (NaN stays NaN; pandas' row sum skips NaN).
    let mut out: Vec<Vec<f64>> = vec![Vec::with_capacity(n); k];
    for i in 0..n {
        let mut sum = 0.0;
        for c in &smoothed {
            if !c[i].is_nan() {
                sum += c[i];
            }
        }
        let multiplier = 1.0 / if sum == 0.0 { 0.0001 } else { sum };
        for (col, o) in out.iter_mut().enumerate() {
            o.push(multiplier * smoothed[col][i]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAN: f64 = f64::NAN;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12
    }

    #[test]
    fn full_data_keeps_the_configured_weights() {
        let a = [1.0, 2.0, 3.0];
        let b = [4.0, 5.0, 6.0];
        let w = fitted_weights(&[0.25, 0.75], &[&a, &b], None, 125.0);
        assert!(w[0].iter().all(|&x| close(x, 0.25)));
        assert!(w[1].iter().all(|&x| close(x, 0.75)));
    }

    #[test]
    fn a_late_column_takes_no_weight_until_it_has_data_then_fades_in() {
        // Every input NaN on day 0: configured weights stand. Day 1: only `a`.
        let a = [NAN, 1.0, 1.0, 1.0];
        let b = [NAN, NAN, 2.0, 2.0];
        let w = fitted_weights(&[0.5, 0.5], &[&a, &b], None, 3.0);
        assert!(close(w[0][0], 0.5) && close(w[1][0], 0.5));
        // Hand computed with α = 0.5 (span 3), adjust=True weights 1, 0.5, 0.25, ...
        let ewm = |xs: &[f64]| {
            let (mut num, mut den) = (0.0, 0.0);
            for (age, x) in xs.iter().rev().enumerate() {
                let wt = 0.5f64.powi(age as i32);
                num += wt * x;
                den += wt;
            }
            num / den
        };
        for day in 1..4 {
            let sa = ewm(&[0.5, 0.5, 0.5, 0.5][..=day]);
            let sb = ewm(&[0.5, 0.0, 0.5, 0.5][..=day]);
            assert!(close(w[0][day], sa / (sa + sb)), "day {day}");
            assert!(close(w[1][day], sb / (sa + sb)), "day {day}");
        }
        assert!(w[1][1] < w[1][2] && w[1][2] < w[1][3] && w[1][3] < 0.5);
    }

    #[test]
    fn absent_days_age_the_average_and_zero_rows_stay_zero() {
        // An absent day is a NaN input to the EWMA: it carries the average (as pandas) and
        // ages the older weights.
        let a = [1.0, 1.0, 1.0];
        let b = [1.0, 1.0, 1.0];
        let w = fitted_weights(&[0.5, 0.5], &[&a, &b], Some(&[true, false, true]), 125.0);
        assert!(close(w[0][1], 0.5) && close(w[1][2], 0.5));
        let w = fitted_weights(&[0.0], &[&a], None, 125.0);
        assert_eq!(w[0], vec![0.0; 3]);
        assert!(fitted_weights(&[], &[], None, 125.0).is_empty());
    }
}
