//! The P&L and account curve reports' calculations (§B30, §A5 items 26 and 39).
//!
//! - A position's P&L over a window: on the union of its price timestamps and its fills (a
//!   fill's price stands at its time; several fills at one time: their quantity-weighted
//!   price), `pnl_t = position_{t−1} × (price_t − price_{t−1}) × value of one point at t`,
//!   summed over the window's timestamps. "Value of one point" is point size × FX to the base
//!   currency ÷ capital × 100: percent of capital.
//! - The account's daily P&L in percent: [`crate::domain::capital::daily_percentage_returns`]
//!   × 100, on the capital at risk (§E11 decided: not pysystemtrade's `Max` column, which
//!   understates a day's P&L in a drawdown; the instrument P&L uses the same capital, so the
//!   residual compares like with like).
//! - The account curve: the cumulative sum of the daily percentages over each period.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

/// A position change for [`position_pnl`]: when, by how much, and at what price (`None` for a
/// change without an execution, such as a balance trade: the position changes, no price is
/// inserted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub quantity: i64,
    pub price: Option<f64>,
}

/// The P&L (in the unit `point_value` gives) of a position over `(start, end]`.
///
/// `prices` and `changes` are in time order; `position_at_start` is the position held after
/// every change at or before `start`. The price at or before `start` is the first reference;
/// without one, the first price in the window is.
pub fn position_pnl(
    prices: &[(DateTime<Utc>, f64)],
    changes: &[Change],
    position_at_start: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    point_value: impl Fn(DateTime<Utc>) -> f64,
) -> f64 {
    let mut last_price = prices
        .iter()
        .take_while(|(t, _)| *t <= start)
        .filter(|(_, p)| p.is_finite())
        .last()
        .map(|(_, p)| *p);
    let mut prices = prices
        .iter()
        .skip_while(|(t, _)| *t <= start)
        .take_while(|(t, _)| *t <= end)
        .filter(|(_, p)| p.is_finite())
        .peekable();
    let mut changes = changes
        .iter()
        .skip_while(|c| c.at <= start)
        .take_while(|c| c.at <= end)
        .peekable();
    let mut position = position_at_start;
    let mut pnl = 0.0;
    loop {
        let t = match (prices.peek(), changes.peek()) {
            (Some((tp, _)), Some(c)) => (*tp).min(c.at),
            (Some((tp, _)), None) => *tp,
            (None, Some(c)) => c.at,
            (None, None) => break,
        };
        let mut price = None;
        while let Some((_, p)) = prices.next_if(|(tp, _)| *tp == t) {
            price = Some(*p);
        }
        let (mut quantity, mut filled, mut value) = (0i64, 0i64, 0.0);
        while let Some(c) = changes.next_if(|c| c.at == t) {
            quantity += c.quantity;
            if let Some(p) = c.price.filter(|p| p.is_finite()) {
                filled += c.quantity.abs();
                value += c.quantity.abs() as f64 * p;
            }
        }
        if filled > 0 {
            price = Some(value / filled as f64);
        }
        if let Some(p) = price {
            if let Some(before) = last_price {
                if position != 0 {
                    pnl += position as f64 * (p - before) * point_value(t);
                }
            }
            last_price = Some(p);
        }
        position += quantity;
    }
    pnl
}

/// The position held after every change at or before `at`, from the position now and the
/// changes since (`changes` holds every change after `at`, in any order).
pub fn position_at(now: i64, changes: &[Change], at: DateTime<Utc>) -> i64 {
    now - changes
        .iter()
        .filter(|c| c.at > at)
        .map(|c| c.quantity)
        .sum::<i64>()
}

/// One period of the account curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePeriod {
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Business days with a P&L in the period.
    pub days: usize,
    /// The cumulative daily P&L (percent of capital) by day.
    pub curve: Vec<(NaiveDate, f64)>,
    /// The curve's last value: the period's P&L in percent.
    pub total: f64,
    /// The deepest fall of the curve from its running high, in percentage points (≤ 0).
    pub max_drawdown: f64,
}

/// The account curve of `daily` (business day, P&L in percent; NaN days add nothing) over
/// `from..=to`.
pub fn curve(
    name: &str,
    daily: &[(NaiveDate, f64)],
    from: NaiveDate,
    to: NaiveDate,
) -> CurvePeriod {
    let mut sum = 0.0;
    let mut high = 0.0f64;
    let mut max_drawdown = 0.0f64;
    let mut points = Vec::new();
    for (d, v) in daily.iter().filter(|(d, _)| *d >= from && *d <= to) {
        if v.is_finite() {
            sum += v;
        }
        high = high.max(sum);
        max_drawdown = max_drawdown.min(sum - high);
        points.push((*d, sum));
    }
    CurvePeriod {
        name: name.to_string(),
        from,
        to,
        days: points.len(),
        total: sum,
        max_drawdown,
        curve: points,
    }
}

/// pysystemtrade's account curve periods ending `today`: year to date, 12 months, 3, 5 and 10
/// years, and everything (99 years).
pub fn standard_periods(today: NaiveDate) -> Vec<(&'static str, NaiveDate)> {
    let years = |n: i32| {
        today
            .with_year(today.year() - n)
            .unwrap_or(today - Duration::days(365 * i64::from(n)))
    };
    vec![
        (
            "YTD",
            NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
        ),
        ("12M", years(1)),
        ("3Y", years(3)),
        ("5Y", years(5)),
        ("10Y", years(10)),
        ("99Y", years(99)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + h * 3600, 0).unwrap()
    }

    #[test]
    fn a_held_position_earns_the_price_moves_and_fills_insert_their_price() {
        // Long 2 from before the window; prices 100 (before) → 101 → 103; at hour 3 buy 1 at
        // 102.5 (so 103 → 102.5 is earned on 2), then 104 at hour 4 on 3 contracts:
        // 2×1 + 2×2 + 2×(−0.5) + 3×1.5 = 2 + 4 − 1 + 4.5 = 9.5 points; × 10 per point = 95.
        let prices = [(t(0), 100.0), (t(1), 101.0), (t(2), 103.0), (t(4), 104.0)];
        let changes = [Change {
            at: t(3),
            quantity: 1,
            price: Some(102.5),
        }];
        let pnl = position_pnl(&prices, &changes, 2, t(0), t(5), |_| 10.0);
        assert!((pnl - 95.0).abs() < 1e-9, "{pnl}");
        // Only the window counts: from hour 2 on, 2×(−0.5) + 3×1.5 = 3.5 points.
        let pnl = position_pnl(&prices, &changes, 2, t(2), t(5), |_| 1.0);
        assert!((pnl - 3.5).abs() < 1e-9, "{pnl}");
    }

    #[test]
    fn fills_at_one_time_take_their_weighted_price_and_balance_trades_none() {
        // Flat, then at hour 1 buy 1 at 10 and 3 at 12 (weighted 11.5) while the price
        // series says 11; at hour 2 the price is 13: 4 × (13 − 11.5) = 6. A balance trade of
        // −4 at hour 3 (no price) then leaves nothing held for the move to 20.
        let prices = [(t(0), 9.0), (t(1), 11.0), (t(2), 13.0), (t(4), 20.0)];
        let changes = [
            Change {
                at: t(1),
                quantity: 1,
                price: Some(10.0),
            },
            Change {
                at: t(1),
                quantity: 3,
                price: Some(12.0),
            },
            Change {
                at: t(3),
                quantity: -4,
                price: None,
            },
        ];
        let pnl = position_pnl(&prices, &changes, 0, t(0), t(5), |_| 1.0);
        assert!((pnl - 6.0).abs() < 1e-9, "{pnl}");
    }

    #[test]
    fn no_reference_price_before_the_window_starts_from_the_first_inside() {
        let prices = [(t(2), 50.0), (t(3), 51.0)];
        let pnl = position_pnl(&prices, &[], -1, t(0), t(5), |_| 2.0);
        assert!((pnl + 2.0).abs() < 1e-9, "short 1 loses 1 point × 2: {pnl}");
    }

    #[test]
    fn the_position_at_a_time_undoes_later_changes() {
        let changes = [
            Change {
                at: t(1),
                quantity: 2,
                price: Some(1.0),
            },
            Change {
                at: t(3),
                quantity: -5,
                price: Some(1.0),
            },
        ];
        assert_eq!(position_at(-1, &changes, t(0)), 2);
        assert_eq!(position_at(-1, &changes, t(2)), 4);
        assert_eq!(position_at(-1, &changes, t(3)), -1);
    }

    #[test]
    fn the_curve_sums_days_and_finds_the_drawdown() {
        let d = |n: u32| NaiveDate::from_ymd_opt(2024, 3, n).unwrap();
        let daily = [
            (d(1), 1.0),
            (d(4), 2.0),
            (d(5), f64::NAN),
            (d(6), -4.0),
            (d(7), 0.5),
        ];
        let c = curve("x", &daily, d(1), d(7));
        assert_eq!(c.days, 5);
        assert!((c.total + 0.5).abs() < 1e-12);
        // High 3 after day 4, low −1 after day 6: a 4-point drawdown.
        assert!((c.max_drawdown + 4.0).abs() < 1e-12);
        let c = curve("x", &daily, d(6), d(7));
        assert_eq!(c.curve, vec![(d(6), -4.0), (d(7), -3.5)]);
    }

    #[test]
    fn standard_periods_end_today() {
        let p = standard_periods(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        let names: Vec<&str> = p.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["YTD", "12M", "3Y", "5Y", "10Y", "99Y"]);
        assert_eq!(p[0].1, NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        // 2023-02-29 does not exist: 365 days back instead.
        assert_eq!(p[1].1, NaiveDate::from_ymd_opt(2023, 3, 1).unwrap());
    }
}
