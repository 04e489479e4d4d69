//! Daily-returns volatility: pysystemtrade's `mixed_vol_calc` (sysquant/estimators/vol.py) and
//! the percentage volatility of `rawdata.get_daily_percentage_volatility`.

use crate::domain::merge::ewma_mean;

use super::daily::ffill;

/// pysystemtrade's `BUSINESS_DAYS_IN_YEAR`.
pub const BUSINESS_DAYS_IN_YEAR: f64 = 256.0;

/// Parameters of `mixed_vol_calc` (`volatility_calculation` in the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolConfig {
    /// EWMA span of the fast standard deviation.
    pub days: f64,
    /// Observations before the fast standard deviation is defined.
    pub min_periods: usize,
    /// The slow vol is an EWMA (span `slow_vol_years × 256`) of the fast vol.
    pub slow_vol_years: f64,
    pub proportion_of_slow_vol: f64,
    /// Floor on the blended vol.
    pub vol_abs_min: f64,
    /// Multiplies the result (`multiplier_to_get_daily_vol`).
    pub multiplier: f64,
}

impl Default for VolConfig {
    /// The values of pysystemtrade's defaults.yaml.
    fn default() -> Self {
        Self {
            days: 35.0,
            min_periods: 10,
            slow_vol_years: 10.0,
            proportion_of_slow_vol: 0.3,
            vol_abs_min: 1e-10,
            multiplier: 1.0,
        }
    }
}

/// pandas `Series.ewm(span=span, min_periods=min_periods).std()` (`adjust=True`,
/// `ignore_na=False`, `bias=False`): the bias-corrected exponentially weighted variance, square
/// rooted (negative variances become 0). Follows pandas' `ewmcov` loop step by step.
pub fn ewm_std(values: &[f64], span: f64, min_periods: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let Some(&first) = values.first() else {
        return out;
    };
    let minp = min_periods.max(1);
    let com = (span - 1.0) / 2.0;
    let alpha = 1.0 / (1.0 + com);
    let old_wt_factor = 1.0 - alpha;
    let new_wt = 1.0;
    let mut mean = first;
    let mut nobs = usize::from(!first.is_nan());
    if first.is_nan() {
        mean = f64::NAN;
    }
    let mut cov = 0.0;
    let mut sum_wt = 1.0;
    let mut sum_wt2 = 1.0;
    let mut old_wt = 1.0;
    let emit = |nobs: usize, cov: f64, sum_wt: f64, sum_wt2: f64| -> f64 {
        if nobs < minp {
            return f64::NAN;
        }
        let numerator = sum_wt * sum_wt;
        let denominator = numerator - sum_wt2;
        let var = if denominator > 0.0 {
            (numerator / denominator) * cov
        } else {
            f64::NAN
        };
        if var < 0.0 {
            0.0
        } else {
            var.sqrt()
        }
    };
    out.push(emit(nobs, cov, sum_wt, sum_wt2));
    for &cur in &values[1..] {
        let observed = !cur.is_nan();
        nobs += usize::from(observed);
        if !mean.is_nan() {
            sum_wt *= old_wt_factor;
            sum_wt2 *= old_wt_factor * old_wt_factor;
            old_wt *= old_wt_factor;
            if observed {
                let old_mean = mean;
                if mean != cur {
                    mean = ((old_wt * old_mean) + (new_wt * cur)) / (old_wt + new_wt);
                }
                cov = ((old_wt * (cov + ((old_mean - mean) * (old_mean - mean))))
                    + (new_wt * ((cur - mean) * (cur - mean))))
                    / (old_wt + new_wt);
                sum_wt += new_wt;
                sum_wt2 += new_wt * new_wt;
                old_wt += new_wt;
            }
        } else if observed {
            mean = cur;
        }
        out.push(emit(nobs, cov, sum_wt, sum_wt2));
    }
    out
}

/// `mixed_vol_calc(daily_returns)`: 70% of the fast EWMA standard deviation plus 30% of its slow
/// EWMA, floored at `vol_abs_min`, times `multiplier`. NaN until the fast vol exists.
pub fn mixed_vol(daily_returns: &[f64], cfg: &VolConfig) -> Vec<f64> {
    let fast = ewm_std(daily_returns, cfg.days, cfg.min_periods);
    let slow = ewma_mean(&fast, cfg.slow_vol_years * BUSINESS_DAYS_IN_YEAR);
    let p = cfg.proportion_of_slow_vol;
    fast.iter()
        .zip(&slow)
        .map(|(&f, &s)| {
            let v = s * p + f * (1.0 - p);
            // pandas `vol[vol < min] = min` leaves NaN alone.
            let v = if v < cfg.vol_abs_min {
                cfg.vol_abs_min
            } else {
                v
            };
            cfg.multiplier * v
        })
        .collect()
}

/// `100 × vol / |ffill(denominator price)|`, both on the same daily grid.
pub fn daily_pct_vol(vol: &[f64], denom_price: &[f64]) -> Vec<f64> {
    let denom = ffill(denom_price);
    vol.iter()
        .zip(&denom)
        .map(|(&v, &d)| 100.0 * (v / d.abs()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bias-corrected weighted standard deviation, computed directly (pandas' definition):
    /// the biased variance times Σw² / (Σw² − Σwᵢ²).
    fn weighted_std(w: &[f64], x: &[f64]) -> f64 {
        let sw: f64 = w.iter().sum();
        let m = w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() / sw;
        let var_b = w
            .iter()
            .zip(x)
            .map(|(a, b)| a * (b - m).powi(2))
            .sum::<f64>()
            / sw;
        let sw2: f64 = w.iter().map(|a| a * a).sum();
        (var_b * sw * sw / (sw * sw - sw2)).sqrt()
    }

    #[test]
    fn ewm_std_matches_pandas_by_hand() {
        // pandas: pd.Series([1, 2, 4]).ewm(span=3).std() -> [NaN, 0.7071067811865476, 1.5275252316519468]
        let s = ewm_std(&[1.0, 2.0, 4.0], 3.0, 0);
        assert!(s[0].is_nan());
        assert!((s[1] - 0.5f64.sqrt()).abs() < 1e-15);
        // α = 0.5: weights 0.25, 0.5, 1 on 1, 2, 4; mean = 4.5/1.75; biased var then
        // corrected by Σw² / (Σw² − Σw²ᵢ) = 3.0625 / (3.0625 − 1.3125).
        let w = [0.25, 0.5, 1.0];
        let x = [1.0, 2.0, 4.0];
        let expected = weighted_std(&w, &x);
        assert!((s[2] - expected).abs() < 1e-14, "{} vs {expected}", s[2]);
    }

    #[test]
    fn ewm_std_min_periods_and_nan_ageing() {
        let s = ewm_std(&[f64::NAN, 1.0, 2.0, f64::NAN, 4.0], 3.0, 2);
        assert!(s[0].is_nan() && s[1].is_nan());
        assert!((s[2] - 0.5f64.sqrt()).abs() < 1e-15);
        // A NaN keeps the estimate (weights age but the ratio is unchanged).
        assert!(!s[3].is_nan());
        // Weights after the gap: 0.125, 0.25 (aged twice / once ... ) -> compare to a direct sum.
        let w = [0.125, 0.25, 1.0];
        let x = [1.0, 2.0, 4.0];
        let expected = weighted_std(&w, &x);
        assert!((s[4] - expected).abs() < 1e-14, "{} vs {expected}", s[4]);
        assert!(ewm_std(&[], 3.0, 1).is_empty());
    }

    #[test]
    fn mixed_vol_blends_and_floors() {
        let cfg = VolConfig {
            min_periods: 2,
            ..VolConfig::default()
        };
        let r = [0.0, 0.0, 0.0];
        let v = mixed_vol(&r, &cfg);
        assert!(v[0].is_nan());
        assert_eq!(v[1], 1e-10);
        let r = [1.0, -1.0, 1.0, -1.0];
        let v = mixed_vol(&r, &cfg);
        let fast = ewm_std(&r, 35.0, 2);
        // Second defined point: slow = EWMA(span 2560) of fast[1], fast[2].
        let a = 1.0 - 2.0 / 2561.0;
        let slow = (a * fast[1] + fast[2]) / (a + 1.0);
        assert!((v[2] - (0.3 * slow + 0.7 * fast[2])).abs() < 1e-15);
        let pct = daily_pct_vol(&[1.0, 1.0, f64::NAN], &[-50.0, f64::NAN, 10.0]);
        assert_eq!(pct[0], 2.0);
        assert_eq!(pct[1], 2.0);
        assert!(pct[2].is_nan());
    }
}
