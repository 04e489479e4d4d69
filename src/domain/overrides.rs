//! Overrides (B13): a person's instruction to scale down, close, freeze or only reduce the
//! positions of a strategy, an instrument, or one strategy's instrument. Pure values: parsing
//! from what a person types, pysystemtrade's stored numbers, combination and application to a
//! proposed trade. Where they are stored and which ones apply to a (strategy, instrument) is in
//! [`super::controls`].

use std::fmt;

use serde::{Serialize, Serializer};

/// A multiplier strictly between 0 and 1 (0 is [`Override::Close`], 1 [`Override::NoOverride`]).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Multiplier(f64);

impl Multiplier {
    pub fn get(self) -> f64 {
        self.0
    }
}

/// One override, or the combination of several.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Override {
    /// Trade normally (stored 1.0).
    NoOverride,
    /// Scale the desired position by a factor in (0, 1), rounding down.
    Scale(Multiplier),
    /// Close the position (stored 0.0): the desired position is scaled by 0.
    Close,
    /// Only trades that take the position towards zero (stored −2.0).
    ReduceOnly,
    /// No trades at all (stored −1.0).
    NoTrading,
}

/// A text or number that is not an override.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct OverrideError(pub String);

const NUMERIC_CLOSE: f64 = 0.0;
const NUMERIC_NONE: f64 = 1.0;
const NUMERIC_NO_TRADING: f64 = -1.0;
const NUMERIC_REDUCE_ONLY: f64 = -2.0;

impl Override {
    /// A multiplier in [0, 1]: 0 is [`Override::Close`], 1 [`Override::NoOverride`] (as
    /// pysystemtrade reads them back from its database). Anything else, NaN included, is an error.
    pub fn from_multiplier(f: f64) -> Result<Override, OverrideError> {
        if !(0.0..=1.0).contains(&f) {
            return Err(OverrideError(format!(
                "override multiplier {f} is not between 0 and 1"
            )));
        }
        Ok(if f == NUMERIC_CLOSE {
            Override::Close
        } else if f == NUMERIC_NONE {
            Override::NoOverride
        } else {
            Override::Scale(Multiplier(f))
        })
    }

    /// pysystemtrade's stored number: close 0.0, none 1.0, no-trading −1.0, reduce-only −2.0,
    /// else the multiplier.
    pub fn from_numeric(v: f64) -> Result<Override, OverrideError> {
        if v == NUMERIC_NO_TRADING {
            Ok(Override::NoTrading)
        } else if v == NUMERIC_REDUCE_ONLY {
            Ok(Override::ReduceOnly)
        } else {
            Self::from_multiplier(v).map_err(|_| {
                OverrideError(format!("{v} is not a stored override (0 to 1, -1 or -2)"))
            })
        }
    }

    /// The number pysystemtrade stores.
    pub fn to_numeric(self) -> f64 {
        match self {
            Override::NoOverride => NUMERIC_NONE,
            Override::Scale(m) => m.0,
            Override::Close => NUMERIC_CLOSE,
            Override::ReduceOnly => NUMERIC_REDUCE_ONLY,
            Override::NoTrading => NUMERIC_NO_TRADING,
        }
    }

    /// What a person types: `close`, `none`, `no-trading`, `reduce-only` (case-insensitive, `_`
    /// for `-` accepted) or a number from 0 to 1.
    pub fn parse(text: &str) -> Result<Override, OverrideError> {
        let t = text.trim().to_ascii_lowercase().replace('_', "-");
        match t.as_str() {
            "close" => return Ok(Override::Close),
            "none" => return Ok(Override::NoOverride),
            "no-trading" => return Ok(Override::NoTrading),
            "reduce-only" => return Ok(Override::ReduceOnly),
            _ => {}
        }
        let help = "use close, none, no-trading, reduce-only or a number from 0 to 1";
        match t.parse::<f64>() {
            Ok(f) if f.is_finite() => {
                Self::from_multiplier(f).map_err(|e| OverrideError(format!("{e}; {help}")))
            }
            _ => Err(OverrideError(format!(
                "`{}` is not an override; {help}",
                text.trim()
            ))),
        }
    }

    /// The multiplier this stands for, when it is one (none 1, close 0).
    pub fn as_multiplier(self) -> Option<f64> {
        match self {
            Override::NoOverride => Some(1.0),
            Override::Scale(m) => Some(m.0),
            Override::Close => Some(0.0),
            Override::ReduceOnly | Override::NoTrading => None,
        }
    }

    /// Both overrides at once (commutative): any no-trading → no-trading; else any close →
    /// close; else any reduce-only → reduce-only; else the product of the multipliers.
    pub fn combine(self, other: Override) -> Override {
        use Override::*;
        match (self, other) {
            (NoTrading, _) | (_, NoTrading) => NoTrading,
            (Close, _) | (_, Close) => Close,
            (ReduceOnly, _) | (_, ReduceOnly) => ReduceOnly,
            (a, b) => {
                let product = a.as_multiplier().unwrap_or(1.0) * b.as_multiplier().unwrap_or(1.0);
                // A product of two numbers in (0, 1] stays in [0, 1]; 0 only by underflow.
                Override::from_multiplier(product).unwrap_or(Close)
            }
        }
    }

    /// All of them, combined left to right from [`Override::NoOverride`].
    pub fn combine_all(overrides: impl IntoIterator<Item = Override>) -> Override {
        overrides
            .into_iter()
            .fold(Override::NoOverride, Override::combine)
    }

    /// The trade that replaces `trade` given the current `position` (B13):
    /// * a multiplier f (close is 0): unchanged when f is 1; else the new position is
    ///   ⌊(position + trade) × f⌋, rounded towards −∞ as pysystemtrade does (so a short of −3
    ///   at 0.5 becomes −2, a long of 3 becomes 1), and the trade is new − position;
    /// * reduce-only: a trade that would flip the sign (sign(0) = +1) closes the position; one
    ///   that would increase |position| becomes 0; others pass;
    /// * no-trading: 0.
    pub fn apply(self, position: i64, trade: i64) -> i64 {
        let p = i128::from(position);
        let desired = p + i128::from(trade);
        let new_trade = match self {
            Override::NoOverride => return trade,
            Override::NoTrading => return 0,
            Override::Scale(_) | Override::Close => {
                let f = self.as_multiplier().unwrap_or(1.0);
                // |desired| < 2^64 and f < 1: exact enough, and `as` saturates.
                let new_position = ((desired as f64) * f).floor() as i128;
                new_position - p
            }
            Override::ReduceOnly => {
                if sign(desired) != sign(p) {
                    -p
                } else if desired.abs() > p.abs() {
                    0
                } else {
                    i128::from(trade)
                }
            }
        };
        clamp_i64(new_trade)
    }
}

/// pysystemtrade's `sign`: +1 for zero.
fn sign(x: i128) -> i8 {
    if x >= 0 {
        1
    } else {
        -1
    }
}

fn clamp_i64(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Override::NoOverride => f.write_str("none"),
            Override::Scale(m) => write!(f, "{}", m.0),
            Override::Close => f.write_str("close"),
            Override::ReduceOnly => f.write_str("reduce-only"),
            Override::NoTrading => f.write_str("no-trading"),
        }
    }
}

/// As its text (`"close"`, `"0.5"`, …).
impl Serialize for Override {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests;
