//! Fill accounting: what remains of an order, and quantity-weighted average prices (§E5: a
//! parent's fill price weighs each child fill by its quantity; pysystemtrade takes the plain
//! mean of the children's prices, which misprices a parent filled 1 lot here and 9 there).

/// Contracts still to fill of `trade` after `fill` (same sign as the trade; 0 when filled,
/// over-filled or filled the wrong way).
pub fn remaining(trade: i64, fill: i64) -> i64 {
    let left = trade - fill;
    if trade == 0 || left.signum() != trade.signum() {
        0
    } else {
        left
    }
}

/// The average price after adding `quantity` at `price` to `filled` at `average`.
pub fn weighted_average(filled: i64, average: Option<f64>, quantity: i64, price: f64) -> f64 {
    let (old_q, new_q) = (filled.unsigned_abs() as f64, quantity.unsigned_abs() as f64);
    match average {
        Some(avg) if old_q > 0.0 && avg.is_finite() => {
            (avg * old_q + price * new_q) / (old_q + new_q)
        }
        _ => price,
    }
}

/// The part of `quantity` (a fill of an order with `trade` already filled `fill`) beyond the
/// order's quantity.
pub fn overfill(trade: i64, fill: i64, quantity: i64) -> i64 {
    let after = fill + quantity;
    if trade.signum() != 0 && after.signum() == trade.signum() && after.abs() > trade.abs() {
        let before_excess = if fill.abs() > trade.abs() && fill.signum() == trade.signum() {
            fill.abs() - trade.abs()
        } else {
            0
        };
        (after.abs() - trade.abs() - before_excess) * trade.signum()
    } else if trade.signum() != 0 && quantity.signum() == -trade.signum() {
        // A fill the wrong way is all extra.
        quantity
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_is_zero_once_filled_or_overfilled() {
        assert_eq!(remaining(5, 2), 3);
        assert_eq!(remaining(-5, -2), -3);
        assert_eq!(remaining(5, 5), 0);
        assert_eq!(remaining(5, 7), 0);
        assert_eq!(remaining(0, 0), 0);
    }

    #[test]
    fn averages_weigh_by_quantity() {
        let avg = weighted_average(1, Some(100.0), 9, 110.0);
        assert!((avg - 109.0).abs() < 1e-12, "{avg}");
        assert_eq!(weighted_average(0, None, -3, 99.5), 99.5);
    }

    #[test]
    fn overfill_is_the_part_beyond_the_order() {
        assert_eq!(overfill(5, 4, 1), 0);
        assert_eq!(overfill(5, 4, 3), 2);
        assert_eq!(overfill(-5, -5, -2), -2);
        assert_eq!(overfill(5, 6, 1), 1, "already over: all of it");
        assert_eq!(overfill(5, 0, -1), -1, "the wrong way");
    }
}
