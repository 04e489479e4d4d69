//! Forecast scaling, capping and combination (`systems/forecast_scale_cap.py`,
//! `systems/forecast_combine.py`) with fixed scalars, weights and diversification multiplier.

/// `(raw × scalar)` clipped to `[-cap, cap]`; NaN stays NaN.
pub fn scale_and_cap(raw: &[f64], scalar: f64, cap: f64) -> Vec<f64> {
    raw.iter().map(|&x| (x * scalar).clamp(-cap, cap)).collect()
}

/// The combined forecast: `fdm × Σ wᵢ(t)·fᵢ(t)` over the forecasts that are not NaN (0 where
/// all are, as pandas' row sum), clipped to `[-cap, cap]`. `forecasts[i]` (forward filled) and
/// its daily weights `weights[i]` (see [`super::weights::fitted_weights`]) belong together; all
/// have the same length.
pub fn combine(forecasts: &[Vec<f64>], weights: &[Vec<f64>], fdm: f64, cap: f64) -> Vec<f64> {
    let n = forecasts.first().map_or(0, |f| f.len());
    (0..n)
        .map(|t| {
            let mut sum = 0.0;
            for (f, w) in forecasts.iter().zip(weights) {
                let x = w[t] * f[t];
                if !x.is_nan() {
                    sum += x;
                }
            }
            (sum * fdm).clamp(-cap, cap)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_caps_and_keeps_nan() {
        let out = scale_and_cap(&[1.0, 10.0, -10.0, f64::NAN], 3.0, 20.0);
        assert_eq!(out[..3], [3.0, 20.0, -20.0]);
        assert!(out[3].is_nan());
    }

    #[test]
    fn combines_with_daily_weights_and_cap() {
        let a = vec![f64::NAN, 10.0, 10.0, 20.0];
        let b = vec![f64::NAN, f64::NAN, 4.0, 20.0];
        let wa = vec![0.5, 1.0, 0.5, 0.5];
        let wb = vec![0.5, 0.0, 0.5, 0.5];
        let out = combine(&[a, b], &[wa, wb], 1.5, 20.0);
        assert_eq!(out[0], 0.0); // no forecast at all: pandas' empty sum
        assert_eq!(out[1], 15.0); // b missing: its weight went to a
        assert_eq!(out[2], 10.5);
        assert_eq!(out[3], 20.0); // capped
        assert!(combine(&[], &[], 1.0, 20.0).is_empty());
    }
}
