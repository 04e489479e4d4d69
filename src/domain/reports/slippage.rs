//! The slippage report (§B28; pysystemtrade's `sysproduction/reporting/data/costs.py`
//! `get_combined_df_of_costs`): an estimate of each instrument's slippage per contract per trade
//! from what its trades cost, set against the configured spread cost (`spreadcosts.csv`).
//!
//! * bid_ask_trades = median of −bid_ask, total_trades = median of −total_trading over the
//!   filled broker orders (§B27; positive = cost);
//! * bid_ask_sampled = median sampled spread ÷ 2 (no samples: NaN, weight 0);
//! * weights: trades = count ÷ 10, samples = count ÷ 150, configured = 1 (0 when the configured
//!   cost is missing or 0), normalised to sum to 1;
//! * estimate = weights · (max(bid_ask_trades, total_trades), bid_ask_sampled, configured),
//!   missing figures counting as 0 (their weights are 0 unless a trade had no prices);
//! * difference % = 100 × (estimate − configured) ÷ configured.

use serde::Serialize;

/// The median of the finite values; NaN when there are none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// What the estimate of one instrument is made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlippageInputs {
    /// −bid_ask of each filled order (price points).
    pub bid_ask_trades: f64,
    /// −total_trading of each filled order.
    pub total_trades: f64,
    pub trade_count: usize,
    /// Median sampled spread ÷ 2; NaN without samples.
    pub bid_ask_sampled: f64,
    pub sample_count: usize,
    /// The configured spread cost; NaN or 0 when missing.
    pub configured: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlippageEstimate {
    pub bid_ask_trades: f64,
    pub total_trades: f64,
    pub count_trades: usize,
    pub bid_ask_sampled: f64,
    pub count_sampled: usize,
    pub weight_trades: f64,
    pub weight_samples: f64,
    pub weight_config: f64,
    pub estimate: f64,
    pub configured: f64,
    #[serde(rename = "Difference")]
    pub difference_perc: f64,
}

impl SlippageEstimate {
    /// Every price figure divided by `tick` (weights and counts unchanged).
    pub fn in_ticks(&self, tick: f64) -> SlippageEstimate {
        SlippageEstimate {
            bid_ask_trades: self.bid_ask_trades / tick,
            total_trades: self.total_trades / tick,
            bid_ask_sampled: self.bid_ask_sampled / tick,
            estimate: self.estimate / tick,
            configured: self.configured / tick,
            ..*self
        }
    }
}

pub fn estimate(i: &SlippageInputs) -> SlippageEstimate {
    let configured_ok = i.configured.is_finite() && i.configured != 0.0;
    let raw = [
        i.trade_count as f64 / 10.0,
        i.sample_count as f64 / 150.0,
        if configured_ok { 1.0 } else { 0.0 },
    ];
    let total: f64 = raw.iter().sum();
    let w = raw.map(|x| if total > 0.0 { x / total } else { f64::NAN });
    let trading = i.bid_ask_trades.max(i.total_trades);
    let or0 = |x: f64| if x.is_finite() { x } else { 0.0 };
    let estimate = if total > 0.0 {
        w[0] * or0(trading) + w[1] * or0(i.bid_ask_sampled) + w[2] * or0(i.configured)
    } else {
        f64::NAN
    };
    SlippageEstimate {
        bid_ask_trades: i.bid_ask_trades,
        total_trades: i.total_trades,
        count_trades: i.trade_count,
        bid_ask_sampled: i.bid_ask_sampled,
        count_sampled: i.sample_count,
        weight_trades: w[0],
        weight_samples: w[1],
        weight_config: w[2],
        estimate,
        configured: i.configured,
        difference_perc: if configured_ok {
            100.0 * (estimate - i.configured) / i.configured
        } else {
            f64::NAN
        },
    }
}

/// One filled order's slippage cost in the base currency (positive = paid): half the spread
/// (`bid_ask`) and spread plus execution (`total`), each per contract × contracts × the value of
/// a price point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeCost {
    pub date: chrono::NaiveDate,
    pub bid_ask: f64,
    pub total: f64,
}

/// The cumulative costs by day, oldest first: each day with a trade, the sums of every trade up
/// to and including it. A trade whose cost is not known (NaN) adds nothing; the count of those
/// is returned.
pub fn cumulative_costs(trades: &[TradeCost]) -> (Vec<(chrono::NaiveDate, f64, f64)>, usize) {
    let mut by_day: std::collections::BTreeMap<chrono::NaiveDate, (f64, f64)> =
        std::collections::BTreeMap::new();
    let mut unknown = 0;
    for t in trades {
        let e = by_day.entry(t.date).or_insert((0.0, 0.0));
        if t.bid_ask.is_finite() && t.total.is_finite() {
            e.0 += t.bid_ask;
            e.1 += t.total;
        } else {
            unknown += 1;
        }
    }
    let (mut bid_ask, mut total) = (0.0, 0.0);
    let out = by_day
        .into_iter()
        .map(|(d, (b, t))| {
            bid_ask += b;
            total += t;
            (d, bid_ask, total)
        })
        .collect();
    (out, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_skip_missing_values() {
        assert_eq!(median(&[3.0, f64::NAN, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[f64::NAN]).is_nan());
    }

    #[test]
    fn hand_computed_estimate() {
        // 5 trades (weight 0.5), no samples (0), a configured 0.25 (1): weights 1/3, 0, 2/3.
        // trading = max(0.1, 0.4) = 0.4; estimate = 0.4/3 + 0.25 × 2/3 = 0.3;
        // difference = 100 × (0.3 − 0.25) / 0.25 = 20%.
        let e = estimate(&SlippageInputs {
            bid_ask_trades: 0.1,
            total_trades: 0.4,
            trade_count: 5,
            bid_ask_sampled: f64::NAN,
            sample_count: 0,
            configured: 0.25,
        });
        assert!((e.weight_trades - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(e.weight_samples, 0.0);
        assert!((e.estimate - 0.3).abs() < 1e-12, "{}", e.estimate);
        assert!((e.difference_perc - 20.0).abs() < 1e-9);
        // In ticks of 0.25: estimate 1.2, configured 1.
        let t = e.in_ticks(0.25);
        assert!((t.estimate - 1.2).abs() < 1e-12 && (t.configured - 1.0).abs() < 1e-12);
    }

    #[test]
    fn without_a_configured_cost_the_trades_decide() {
        // 2 trades (0.2) and 300 samples (2) without configuration: weights 1/11 and 10/11;
        // estimate = 0.5/11 + 0.2 × 10/11 = 2.5/11; no difference.
        let e = estimate(&SlippageInputs {
            bid_ask_trades: 0.5,
            total_trades: f64::NAN,
            trade_count: 2,
            bid_ask_sampled: 0.2,
            sample_count: 300,
            configured: 0.0,
        });
        assert!((e.estimate - 2.5 / 11.0).abs() < 1e-12, "{}", e.estimate);
        assert_eq!(e.weight_config, 0.0);
        assert!(e.difference_perc.is_nan());
    }

    #[test]
    fn cumulative_costs_sum_by_day_and_skip_unknown_costs() {
        let d = |day| chrono::NaiveDate::from_ymd_opt(2025, 6, day).unwrap();
        let trades = [
            TradeCost {
                date: d(3),
                bid_ask: 5.0,
                total: 7.0,
            },
            TradeCost {
                date: d(2),
                bid_ask: 1.0,
                total: 2.0,
            },
            TradeCost {
                date: d(3),
                bid_ask: f64::NAN,
                total: 1.0,
            },
            TradeCost {
                date: d(3),
                bid_ask: 0.5,
                total: -1.0,
            },
        ];
        let (curve, unknown) = cumulative_costs(&trades);
        assert_eq!(unknown, 1);
        assert_eq!(curve, vec![(d(2), 1.0, 2.0), (d(3), 6.5, 8.0)]);
        assert_eq!(cumulative_costs(&[]).0, vec![]);
    }
}
