//! Slippage of filled broker orders (§B27; pysystemtrade's
//! `sysproduction/reporting/data/trades.py`). With s = +1 for a buy and −1 for a sell,
//! slip(a, b) = s × (a − b) (negative is bad; NaN when either price is missing):
//!
//! * delay = slip(parent reference price, mid) — the market moved between the strategy's price
//!   and the order;
//! * bid_ask = slip(mid, side price) — half the spread;
//! * execution = slip(side price, filled price);
//! * total_trading = bid_ask + execution;
//! * versus_limit = slip(limit, filled); versus_parent_limit = slip(parent limit, filled).
//!
//! In price points per contract; ×10,000 ÷ annual price stdev for basis points of annual vol;
//! × point size in the base currency for cash per contract (§E12: not times the quantity, as
//! pysystemtrade). Delays in seconds: submit − reference time, fill − submit (negative → NaN).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The prices and times of one filled broker order and its parents.
#[derive(Debug, Clone, PartialEq)]
pub struct TradePrices {
    /// Signed contracts traded.
    pub fill: i64,
    /// The contract order's reference price.
    pub parent_reference_price: Option<f64>,
    /// The contract order's limit price.
    pub parent_limit_price: Option<f64>,
    pub mid_price: Option<f64>,
    pub side_price: Option<f64>,
    pub limit_price: Option<f64>,
    pub filled_price: Option<f64>,
    /// The instrument order's reference time.
    pub parent_reference_time: Option<DateTime<Utc>>,
    pub submit_time: Option<DateTime<Utc>>,
    pub fill_time: Option<DateTime<Utc>>,
}

/// Slippage items, price points per contract.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Slippage {
    pub delay: f64,
    pub bid_ask: f64,
    pub execution: f64,
    pub versus_limit: f64,
    pub versus_parent_limit: f64,
    pub total_trading: f64,
}

impl Slippage {
    /// Every item times `k` (cash: the point size in base; vol: 10,000 ÷ annual price stdev).
    pub fn scaled(&self, k: f64) -> Slippage {
        Slippage {
            delay: self.delay * k,
            bid_ask: self.bid_ask * k,
            execution: self.execution * k,
            versus_limit: self.versus_limit * k,
            versus_parent_limit: self.versus_parent_limit * k,
            total_trading: self.total_trading * k,
        }
    }

    pub fn items(&self) -> [f64; 6] {
        [
            self.delay,
            self.bid_ask,
            self.execution,
            self.versus_limit,
            self.versus_parent_limit,
            self.total_trading,
        ]
    }
}

/// The names of [`Slippage::items`], in order.
pub const ITEMS: [&str; 6] = [
    "delay",
    "bid_ask",
    "execution",
    "versus_limit",
    "versus_parent_limit",
    "total_trading",
];

fn slip(sign: f64, first: Option<f64>, second: Option<f64>) -> f64 {
    match (first, second) {
        (Some(a), Some(b)) => sign * (a - b),
        _ => f64::NAN,
    }
}

pub fn slippage(t: &TradePrices) -> Slippage {
    let s = if t.fill < 0 { -1.0 } else { 1.0 };
    let bid_ask = slip(s, t.mid_price, t.side_price);
    let execution = slip(s, t.side_price, t.filled_price);
    Slippage {
        delay: slip(s, t.parent_reference_price, t.mid_price),
        bid_ask,
        execution,
        versus_limit: slip(s, t.limit_price, t.filled_price),
        versus_parent_limit: slip(s, t.parent_limit_price, t.filled_price),
        total_trading: bid_ask + execution,
    }
}

/// Seconds from `first` to `second`; NaN when either is missing or the difference is negative.
pub fn delay_seconds(first: Option<DateTime<Utc>>, second: Option<DateTime<Utc>>) -> f64 {
    match (first, second) {
        (Some(a), Some(b)) if b >= a => (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sell() -> TradePrices {
        TradePrices {
            fill: -3,
            parent_reference_price: Some(100.0),
            parent_limit_price: None,
            mid_price: Some(99.5),
            side_price: Some(99.4),
            limit_price: Some(99.4),
            filled_price: Some(99.3),
            parent_reference_time: Some("2024-06-27T23:00:00Z".parse().unwrap()),
            submit_time: Some("2024-06-27T23:00:02Z".parse().unwrap()),
            fill_time: Some("2024-06-27T23:00:01Z".parse().unwrap()),
        }
    }

    #[test]
    fn a_sell_below_its_prices_slips_by_hand() {
        let s = slippage(&sell());
        // Selling: the market fell 0.5 before the order, half the spread is 0.1, and the fill
        // was 0.1 under the bid.
        assert!((s.delay - -0.5).abs() < 1e-12);
        assert!((s.bid_ask - -0.1).abs() < 1e-12);
        assert!((s.execution - -0.1).abs() < 1e-12);
        assert!((s.total_trading - -0.2).abs() < 1e-12);
        assert!((s.versus_limit - -0.1).abs() < 1e-12);
        assert!(s.versus_parent_limit.is_nan());
        let cash = s.scaled(50.0);
        assert!((cash.total_trading - -10.0).abs() < 1e-9);
    }

    #[test]
    fn delays_are_seconds_and_negative_ones_are_unknown() {
        let t = sell();
        assert_eq!(delay_seconds(t.parent_reference_time, t.submit_time), 2.0);
        assert!(delay_seconds(t.submit_time, t.fill_time).is_nan());
        assert!(delay_seconds(None, t.fill_time).is_nan());
    }
}
