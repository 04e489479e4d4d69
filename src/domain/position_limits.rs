//! Position limits (B14): the largest absolute position, in contracts, allowed in an instrument
//! (across all strategies) or in one strategy's instrument, and the cutting of a proposed trade
//! so the position ends within it. Pure; storage and lookup are in [`super::controls`].

use std::fmt;

use serde::{Serialize, Serializer};

/// A limit on |position|, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PositionLimit {
    NoLimit,
    /// At most this many contracts long or short.
    Contracts(u64),
}

/// A text that is not a position limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PositionLimitError(pub String);

impl PositionLimit {
    /// `none` (or `no-limit`) or a whole number of contracts ≥ 0.
    pub fn parse(text: &str) -> Result<PositionLimit, PositionLimitError> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase().replace('_', "-");
        if lower == "none" || lower == "no-limit" {
            return Ok(PositionLimit::NoLimit);
        }
        match t.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(PositionLimit::Contracts(n.unsigned_abs())),
            Ok(n) => Err(PositionLimitError(format!(
                "a position limit cannot be negative ({n}); use a number of contracts >= 0 or `none`"
            ))),
            Err(_) => Err(PositionLimitError(format!(
                "`{t}` is not a position limit; use a whole number of contracts >= 0 or `none`"
            ))),
        }
    }

    /// The trade that replaces `trade` so that the position stays within the limit.
    pub fn apply(self, position: i64, trade: i64) -> i64 {
        match self {
            PositionLimit::NoLimit => trade,
            PositionLimit::Contracts(limit) => cut_trade(position, limit, trade),
        }
    }

    pub fn contracts(self) -> Option<u64> {
        match self {
            PositionLimit::NoLimit => None,
            PositionLimit::Contracts(n) => Some(n),
        }
    }
}

impl fmt::Display for PositionLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PositionLimit::NoLimit => f.write_str("no limit"),
            PositionLimit::Contracts(n) => write!(f, "{n}"),
        }
    }
}

/// As the number of contracts, or `null` for no limit.
impl Serialize for PositionLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PositionLimit::NoLimit => s.serialize_none(),
            PositionLimit::Contracts(n) => s.serialize_u64(*n),
        }
    }
}

/// pysystemtrade's `sign`: +1 for zero.
fn sign(x: i128) -> i128 {
    if x >= 0 {
        1
    } else {
        -1
    }
}

/// pysystemtrade's `apply_position_limit_to_single_leg_trade` for position `p`, limit `L`,
/// proposed trade `t`, new position `n = p + t`:
/// * |n| ≤ L: `t`;
/// * |p| ≤ L (the trade takes a position within the limit beyond it): to the limit on the side
///   `n` lies, `sign(n)·L − p`;
/// * |p| > L (already beyond it): if `t` keeps the side of `p` or does not reach 0 (for p ≥ 0:
///   `t ≥ 0` or `n > 0`), back to the limit on `p`'s side, `sign(p)·(L − |p|)` — even when
///   the proposed trade was smaller or zero; else (through zero and beyond) `sign(n)·L − p`.
///
/// That is the new position clamped to [−L, L] (a property test checks it), so the new position
/// is always within the limit; see the tests for pysystemtrade's examples.
pub fn cut_trade(position: i64, limit: u64, trade: i64) -> i64 {
    let p = i128::from(position);
    let t = i128::from(trade);
    let l = i128::from(limit);
    let n = p + t;
    if n.abs() <= l {
        return trade;
    }
    let to_limit_on_new_side = sign(n) * l - p;
    let back_to_limit = sign(p) * (l - p.abs());
    let cut = if p.abs() <= l {
        to_limit_on_new_side
    } else if p >= 0 {
        if t >= 0 || n > 0 {
            back_to_limit
        } else {
            to_limit_on_new_side
        }
    } else if t < 0 || n < 0 {
        back_to_limit
    } else {
        to_limit_on_new_side
    };
    i64::try_from(cut).unwrap_or(if cut < 0 { i64::MIN } else { i64::MAX })
}

/// Of a trade cut by the instrument limit (`by_instrument`) and the same `proposed` trade cut
/// by the strategy's limit (`by_strategy`), the more conservative.
///
/// pysystemtrade (`calculate_most_conservative_qty_from_list_of_qty_with_limits_applied`) takes
/// the smaller when the instrument position (all strategies) is ≥ 0, else the larger. That
/// picks the wrong one when both cuts raise a sell (or both lower a buy): instrument position
/// 0, strategy limit 0, no instrument limit, sell 20 → min(−20, 0) = −20, beyond the strategy's
/// limit. Ours: when both cuts move the trade the same way, the one that moves it further
/// (both ≤ proposed: the smaller; both ≥: the larger), which meets both limits; only when they
/// move it opposite ways (the two limits cannot both be met) pysystemtrade's rule decides.
pub fn most_conservative(
    instrument_position: i64,
    proposed: i64,
    by_instrument: i64,
    by_strategy: i64,
) -> i64 {
    let (a, b) = (by_instrument, by_strategy);
    if a <= proposed && b <= proposed {
        a.min(b)
    } else if a >= proposed && b >= proposed {
        a.max(b)
    } else if instrument_position >= 0 {
        a.min(b)
    } else {
        a.max(b)
    }
}

#[cfg(test)]
mod tests;
