//! The EWMAC trend rule (`systems/provided/rules/ewmac.py`): fast minus slow EWMA of the daily
//! price, divided by the forward-filled daily returns volatility. Unscaled, uncapped.

use crate::domain::merge::ewma_mean;

use super::daily::ffill;

/// `ewmac(price, vol, Lfast, Lslow)`; `price` and `vol` on the same daily grid.
pub fn ewmac(price: &[f64], vol: &[f64], fast_span: f64, slow_span: f64) -> Vec<f64> {
    let fast = ewma_mean(price, fast_span);
    let slow = ewma_mean(price, slow_span);
    let vol = ffill(vol);
    fast.iter()
        .zip(&slow)
        .zip(&vol)
        .map(|((&f, &s), &v)| (f - s) / v)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewmac_by_hand() {
        // span 1 → the price itself; span 3 → α = 0.5.
        let p = [1.0, 3.0, f64::NAN];
        let v = [f64::NAN, 2.0, f64::NAN];
        let out = ewmac(&p, &v, 1.0, 3.0);
        assert!(out[0].is_nan()); // no vol yet
                                  // slow at 1: (0.5·1 + 3) / 1.5 = 7/3; fast = 3 → (3 − 7/3) / 2 = 1/3.
        assert!((out[1] - 1.0 / 3.0).abs() < 1e-15);
        // NaN price: both EWMAs hold, vol is forward filled.
        assert!((out[2] - 1.0 / 3.0).abs() < 1e-15);
    }
}
