//! Order generation (§B11) and netting on the instrument stack (§B12), as pure functions.
//!
//! - The trade for a strategy's instrument is zero inside the buffer `[lower, upper]` and goes
//!   to the nearer edge outside it. The edges are rounded half-to-even, as pysystemtrade does
//!   (Python's `round`), so a production position matches the backtest's (§E9: the float
//!   overrides' floor toward −∞ is kept too, in `overrides`, for the same reason).
//! - A new order is netted against the active orders of the same strategy and instrument: only
//!   the residual `desired − Σ(trade − fill)` is added, so running the generator twice puts
//!   nothing new on the stack. Netting across strategies is not done (pysystemtrade does not
//!   either, §E15): each strategy's orders are its own, and the broker sees both.

/// Python's `round`: half to even, as an integer; `None` for a non-finite or huge value.
pub fn round_half_even(x: f64) -> Option<i64> {
    if !x.is_finite() || x.abs() > 1e15 {
        return None;
    }
    let r = x.round();
    let r = if (x - x.trunc()).abs() == 0.5 && (r as i64) % 2 != 0 {
        r - x.signum()
    } else {
        r
    };
    Some(r as i64)
}

/// The trade that brings `position` into the buffer: to `round(lower)` from below, to
/// `round(upper)` from above, 0 inside. `None` when the edges are not finite or crossed.
pub fn buffered_trade(position: i64, lower: f64, upper: f64) -> Option<i64> {
    if lower > upper {
        return None;
    }
    let (lo, hi) = (round_half_even(lower)?, round_half_even(upper)?);
    let target = if (position as f64) < lower {
        lo
    } else if (position as f64) > upper {
        hi
    } else {
        position
    };
    Some(target - position)
}

/// §B12: what is left to add for a `desired` trade when orders already work on the stack for
/// the same strategy and instrument, given as (trade, fill) pairs.
pub fn net_trade(desired: i64, working: &[(i64, i64)]) -> i64 {
    let pending: i64 = working
        .iter()
        .map(|&(trade, fill)| super::fills::remaining(trade, fill))
        .sum();
    desired - pending
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_to_even_like_python() {
        for (x, r) in [
            (0.5, 0),
            (1.5, 2),
            (2.5, 2),
            (-0.5, 0),
            (-1.5, -2),
            (-2.5, -2),
            (2.4, 2),
            (-2.6, -3),
        ] {
            assert_eq!(round_half_even(x), Some(r), "{x}");
        }
        assert_eq!(round_half_even(f64::NAN), None);
    }

    #[test]
    fn trades_only_outside_the_buffer_to_its_edge() {
        assert_eq!(buffered_trade(0, 2.4, 4.6), Some(2));
        assert_eq!(buffered_trade(3, 2.4, 4.6), Some(0));
        assert_eq!(buffered_trade(7, 2.4, 4.6), Some(-2));
        assert_eq!(
            buffered_trade(-1, -3.5, -2.5),
            Some(-1),
            "to round(-2.5) = -2"
        );
        assert_eq!(buffered_trade(0, f64::NAN, 1.0), None);
        assert_eq!(buffered_trade(0, 2.0, 1.0), None);
    }

    #[test]
    fn netting_adds_only_the_residual() {
        assert_eq!(net_trade(5, &[]), 5);
        assert_eq!(net_trade(5, &[(3, 1)]), 3, "2 still to fill");
        assert_eq!(net_trade(2, &[(3, 1)]), 0);
        assert_eq!(net_trade(-1, &[(3, 0)]), -4, "the sign may flip");
    }
}
