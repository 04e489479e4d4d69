//! The risk report's calculations (§B29): the correlation of instruments' weekly returns
//! (exponentially weighted, pysystemtrade's `instrument_returns_correlation` settings), the
//! portfolio's annualised risk from position weights, volatilities and correlations, the
//! ordering of a correlation matrix by clustering, and OLS betas.

/// Span (weeks) of the correlation's exponential weighting.
pub const CORRELATION_SPAN: f64 = 75.0;
/// Correlations are clipped to ±this.
pub const CORRELATION_CLIP: f64 = 0.99;

/// The exponentially weighted (span `span`, pandas `adjust=True`) correlation of every pair of
/// columns of `returns` (all the same length; NaN = no return that period), over the periods
/// both have. Clipped to ±[`CORRELATION_CLIP`]; 1 on the diagonal; NaN where a pair has fewer
/// than three common periods or no variance.
pub fn ew_correlation(returns: &[Vec<f64>], span: f64) -> Vec<Vec<f64>> {
    let n = returns.len();
    let decay = 1.0 - 2.0 / (span + 1.0);
    let mut out = vec![vec![f64::NAN; n]; n];
    for i in 0..n {
        out[i][i] = 1.0;
        for j in i + 1..n {
            let len = returns[i].len().min(returns[j].len());
            // Weights by age from the last period.
            let (mut sw, mut sx, mut sy, mut count) = (0.0, 0.0, 0.0, 0usize);
            let mut pairs = Vec::new();
            for (t, (&x, &y)) in returns[i].iter().zip(&returns[j]).enumerate().take(len) {
                if x.is_finite() && y.is_finite() {
                    let w = decay.powi((len - 1 - t) as i32);
                    sw += w;
                    sx += w * x;
                    sy += w * y;
                    count += 1;
                    pairs.push((w, x, y));
                }
            }
            if count < 3 || sw == 0.0 {
                continue;
            }
            let (mx, my) = (sx / sw, sy / sw);
            let (mut cxy, mut cxx, mut cyy) = (0.0, 0.0, 0.0);
            for (w, x, y) in pairs {
                cxy += w * (x - mx) * (y - my);
                cxx += w * (x - mx) * (x - mx);
                cyy += w * (y - my) * (y - my);
            }
            if cxx <= 0.0 || cyy <= 0.0 {
                continue;
            }
            let c = (cxy / (cxx * cyy).sqrt()).clamp(-CORRELATION_CLIP, CORRELATION_CLIP);
            out[i][j] = c;
            out[j][i] = c;
        }
    }
    out
}

/// Annualised risk (same unit as `sigma`) of a portfolio with weights `w` (exposure as a
/// fraction of capital), annual volatilities `sigma` (fractions) and correlations `corr`:
/// `sqrt(wᵀ diag(σ) C diag(σ) w)`, with pysystemtrade's gaps: a missing correlation is 1, a
/// missing weight 0, a missing volatility 100 %.
pub fn portfolio_risk(w: &[f64], sigma: &[f64], corr: &[Vec<f64>]) -> f64 {
    let n = w.len().min(sigma.len()).min(corr.len());
    let wi = |i: usize| if w[i].is_finite() { w[i] } else { 0.0 };
    let si = |i: usize| if sigma[i].is_finite() { sigma[i] } else { 1.0 };
    let mut var = 0.0;
    for (i, row) in corr.iter().enumerate().take(n) {
        for j in 0..n {
            let c = row.get(j).copied().filter(|c| c.is_finite()).unwrap_or(1.0);
            var += wi(i) * si(i) * c * si(j) * wi(j);
        }
    }
    var.max(0.0).sqrt()
}

/// An order of the matrix's rows that puts correlated instruments together: average-linkage
/// agglomerative clustering on the distance 1 − correlation (a missing correlation is
/// distance 1), the leaves in merge order.
pub fn cluster_order(corr: &[Vec<f64>]) -> Vec<usize> {
    let n = corr.len();
    let dist = |a: usize, b: usize| {
        let c = corr[a].get(b).copied().unwrap_or(f64::NAN);
        if c.is_finite() {
            1.0 - c
        } else {
            1.0
        }
    };
    let mut clusters: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    while clusters.len() > 1 {
        let mut best = (f64::INFINITY, 0, 1);
        for a in 0..clusters.len() {
            for b in a + 1..clusters.len() {
                let mut total = 0.0;
                for &x in &clusters[a] {
                    for &y in &clusters[b] {
                        total += dist(x, y);
                    }
                }
                let mean = total / (clusters[a].len() * clusters[b].len()) as f64;
                if mean < best.0 {
                    best = (mean, a, b);
                }
            }
        }
        let (_, a, b) = best;
        let merged = clusters.remove(b);
        clusters[a].extend(merged);
    }
    clusters.pop().unwrap_or_default()
}

/// The OLS slope of `y` on `x` over the periods both have (NaN with fewer than three or no
/// variance in `x`).
pub fn ols_slope(y: &[f64], x: &[f64]) -> f64 {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .collect();
    if pairs.len() < 3 {
        return f64::NAN;
    }
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (a, b)| (sx + a / n, sy + b / n));
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (a, b) in &pairs {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
    }
    if sxx == 0.0 {
        f64::NAN
    } else {
        sxy / sxx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_of_moving_together_apart_and_independently() {
        let a: Vec<f64> = (0..40).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
        let b: Vec<f64> = a.iter().map(|x| 2.0 * x + 1.0).collect();
        let c: Vec<f64> = a.iter().map(|x| -x).collect();
        let mut d = a.clone();
        d[3] = f64::NAN;
        let corr = ew_correlation(&[a, b, c, d], 75.0);
        assert_eq!(corr[0][0], 1.0);
        // Perfectly together or apart: clipped at ±0.99.
        assert_eq!(corr[0][1], 0.99);
        assert_eq!(corr[0][2], -0.99);
        assert_eq!(corr[1][0], corr[0][1]);
        // A gap only drops that period.
        assert_eq!(corr[0][3], 0.99);
    }

    #[test]
    fn portfolio_risk_by_hand() {
        // Two positions of 50% and 30% of capital at 20% and 10% vol, correlation 0.5:
        // var = 0.1² + 0.03² + 2 × 0.5 × 0.1 × 0.03 = 0.01 + 0.0009 + 0.003 = 0.0139.
        let corr = vec![vec![1.0, 0.5], vec![0.5, 1.0]];
        let r = portfolio_risk(&[0.5, 0.3], &[0.2, 0.1], &corr);
        assert!((r - 0.0139f64.sqrt()).abs() < 1e-12, "{r}");
        // A short against a long with correlation 1 nets out: 0.1 − 0.1 = 0.
        let one = vec![vec![1.0, f64::NAN], vec![f64::NAN, 1.0]];
        let r = portfolio_risk(&[0.5, -1.0], &[0.2, 0.1], &one);
        assert!(r.abs() < 1e-12, "missing correlation counts as 1: {r}");
    }

    #[test]
    fn clusters_keep_correlated_instruments_together() {
        // 0 and 2 move together, 1 and 3 move together, the pairs apart.
        let corr = vec![
            vec![1.0, 0.0, 0.9, 0.1],
            vec![0.0, 1.0, 0.1, 0.8],
            vec![0.9, 0.1, 1.0, 0.0],
            vec![0.1, 0.8, 0.0, 1.0],
        ];
        let order = cluster_order(&corr);
        let pos = |i: usize| order.iter().position(|&x| x == i).unwrap();
        assert_eq!(pos(0).abs_diff(pos(2)), 1, "{order:?}");
        assert_eq!(pos(1).abs_diff(pos(3)), 1, "{order:?}");
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3]);
    }

    #[test]
    fn ols_slope_by_hand() {
        let x = [1.0, 2.0, 3.0, 4.0, f64::NAN];
        let y = [2.5, 4.5, 6.5, 8.5, 100.0];
        assert!((ols_slope(&y, &x) - 2.0).abs() < 1e-12);
        assert!(ols_slope(&[1.0, 2.0], &[1.0, 2.0]).is_nan());
    }
}
