//! Forecast scaling, capping and combination (`systems/forecast_scale_cap.py`,
//! `systems/forecast_combine.py`) with fixed scalars, weights and diversification multiplier.

/// `(raw × scalar)` clipped to `[-cap, cap]`; NaN stays NaN.
pub fn scale_and_cap(raw: &[f64], scalar: f64, cap: f64) -> Vec<f64> {
    raw.iter().map(|&x| (x * scalar).clamp(-cap, cap)).collect()
}

/// The combined forecast with fixed weights: `fdm × Σ wᵢ·ffill(capped_i)` (NaN forecasts left
/// out of the sum, NaN where every one is NaN), clipped to `[-cap, cap]`. `forecasts[i]` and
/// `weights[i]` belong together; all forecasts have the same length.
pub fn combine(forecasts: &[&[f64]], weights: &[f64], fdm: f64, cap: f64) -> Vec<f64> {
    let n = forecasts.first().map_or(0, |f| f.len());
    let filled: Vec<Vec<f64>> = forecasts.iter().map(|f| super::daily::ffill(f)).collect();
    (0..n)
        .map(|t| {
            let mut sum = 0.0;
            let mut any = false;
            for (f, &w) in filled.iter().zip(weights) {
                let x = f[t];
                if !x.is_nan() {
                    sum += w * x;
                    any = true;
                }
            }
            if any {
                (sum * fdm).clamp(-cap, cap)
            } else {
                f64::NAN
            }
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
    fn combines_with_fixed_weights_ffill_and_cap() {
        let a = [f64::NAN, 10.0, f64::NAN, 20.0];
        let b = [f64::NAN, f64::NAN, 4.0, 20.0];
        let out = combine(&[&a, &b], &[0.5, 0.5], 1.5, 20.0);
        assert!(out[0].is_nan());
        assert_eq!(out[1], 7.5); // b missing: left out, not renormalised
        assert_eq!(out[2], 10.5); // a forward filled
        assert_eq!(out[3], 20.0); // capped
        assert!(combine(&[], &[], 1.0, 20.0).is_empty());
    }
}
