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

/// [`fitted_weights`] of the columns `wanted` only, for inputs that are steps: column k has no
/// data before grid index `starts[k]` (`None`: never) and data from there on — what an
/// instrument's forward-filled subsystem position is.
///
/// The fixed weights are NaN on the same days (the absent ones) in every column, so the EWMA
/// is one linear map for all of them and the smoothed row sum equals the EWMA of the row sums:
/// two EWMAs per wanted column instead of one per column. The row sums of the fixed weights are
/// the weights of the columns started by each day (all of them before any has started).
pub fn fitted_step_weights(
    weights: &[f64],
    starts: &[Option<usize>],
    present: &[bool],
    span: f64,
    wanted: &[usize],
) -> Vec<Vec<f64>> {
    let n = present.len();
    let k = weights.len().min(starts.len());
    let first_start = starts[..k].iter().flatten().min().copied();
    let all_nan = |i: usize| first_start.is_none_or(|s| i < s);
    let total: f64 = weights[..k].iter().sum();
    // Row sums: add each column's weight on the day it starts.
    let mut added = vec![0.0; n + 1];
    for col in 0..k {
        if let Some(s) = starts[col] {
            added[s.min(n)] += weights[col];
        }
    }
    let mut row_sums = Vec::with_capacity(n);
    let mut started = 0.0;
    for (i, here) in present.iter().enumerate() {
        started += added[i];
        row_sums.push(if !here {
            f64::NAN
        } else if all_nan(i) {
            total
        } else {
            started
        });
    }
    let smoothed_sums = ewma_mean(&row_sums, span);
    wanted
        .iter()
        .map(|&col| {
            let start = starts.get(col).copied().flatten();
            let w = weights.get(col).copied().unwrap_or(0.0);
            let fixed: Vec<f64> = present
                .iter()
                .enumerate()
                .map(|(i, here)| {
                    if !here {
                        f64::NAN
                    } else if all_nan(i) || start.is_some_and(|s| i >= s) {
                        w
                    } else {
                        0.0
                    }
                })
                .collect();
            ewma_mean(&fixed, span)
                .iter()
                .zip(&smoothed_sums)
                .map(|(v, sum)| v * (1.0 / if *sum == 0.0 { 0.0001 } else { *sum }))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAN: f64 = f64::NAN;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12
    }

    #[test]
    fn step_weights_equal_the_general_fit() {
        // Four columns: from the start, from day 3, from day 7, never; day 5 absent.
        let n = 12;
        let starts = [Some(0), Some(3), Some(7), None];
        let weights = [0.4, 0.3, 0.2, 0.1];
        let present: Vec<bool> = (0..n).map(|i| i != 5).collect();
        let columns: Vec<Vec<f64>> = starts
            .iter()
            .map(|s| {
                (0..n)
                    .map(|i| {
                        if s.is_some_and(|s| i >= s) {
                            1.0
                        } else {
                            f64::NAN
                        }
                    })
                    .collect()
            })
            .collect();
        let inputs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let general = fitted_weights(&weights, &inputs, Some(&present), 3.0);
        let steps = fitted_step_weights(&weights, &starts, &present, 3.0, &[0, 1, 2, 3]);
        for (g, s) in general.iter().zip(&steps) {
            for (a, b) in g.iter().zip(s) {
                assert!(
                    (a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-15,
                    "{g:?} vs {s:?}"
                );
            }
        }
        // Before any column starts, every column has its configured weight.
        let steps = fitted_step_weights(
            &weights,
            &[Some(2), Some(4), None, None],
            &present,
            3.0,
            &[0],
        );
        assert!((steps[0][0] - 0.4).abs() < 1e-15);
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
