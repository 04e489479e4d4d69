//! Trading controls a person sets (B13–B15): overrides, position limits and trade limits, who
//! they apply to, the store that keeps them ([`ControlStore`], SQLite in
//! `adapters::store::sqlite_controls`), and [`apply_controls`], the one call order generation
//! makes for each proposed trade. Trade limits apply later, when the stack handler creates broker
//! orders (`domain::orders::sizing`); their rules are in `domain::execution`.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use super::execution::TradeLimit;
use super::instrument::InstrumentCode;
pub use super::overrides::{Override, OverrideError};
pub use super::position_limits::{most_conservative, PositionLimit, PositionLimitError};

/// A strategy's name: letters, digits, `_` and `-` (as in `strategies.weights`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StrategyName(String);

impl StrategyName {
    pub fn new(name: &str) -> Result<Self, String> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(Self(name.to_string()))
        } else {
            Err(format!(
                "invalid strategy name `{name}`: use letters, digits, `_` or `-`"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StrategyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who an override applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OverrideScope {
    /// Every instrument of a strategy.
    Strategy(StrategyName),
    /// An instrument in every strategy.
    Instrument(InstrumentCode),
    /// One strategy's instrument.
    StrategyInstrument(StrategyName, InstrumentCode),
}

impl OverrideScope {
    /// From optional strategy and instrument; `None` when both are absent.
    pub fn from_parts(
        strategy: Option<StrategyName>,
        instrument: Option<InstrumentCode>,
    ) -> Option<OverrideScope> {
        match (strategy, instrument) {
            (Some(s), Some(i)) => Some(OverrideScope::StrategyInstrument(s, i)),
            (Some(s), None) => Some(OverrideScope::Strategy(s)),
            (None, Some(i)) => Some(OverrideScope::Instrument(i)),
            (None, None) => None,
        }
    }

    pub fn strategy(&self) -> Option<&StrategyName> {
        match self {
            OverrideScope::Strategy(s) | OverrideScope::StrategyInstrument(s, _) => Some(s),
            OverrideScope::Instrument(_) => None,
        }
    }

    pub fn instrument(&self) -> Option<&InstrumentCode> {
        match self {
            OverrideScope::Instrument(i) | OverrideScope::StrategyInstrument(_, i) => Some(i),
            OverrideScope::Strategy(_) => None,
        }
    }

    /// `strategy`, `instrument` or `strategy_instrument`.
    pub fn kind(&self) -> &'static str {
        match self {
            OverrideScope::Strategy(_) => "strategy",
            OverrideScope::Instrument(_) => "instrument",
            OverrideScope::StrategyInstrument(..) => "strategy_instrument",
        }
    }

    /// Whether it applies to this strategy's instrument.
    pub fn covers(&self, strategy: &StrategyName, instrument: &InstrumentCode) -> bool {
        match self {
            OverrideScope::Strategy(s) => s == strategy,
            OverrideScope::Instrument(i) => i == instrument,
            OverrideScope::StrategyInstrument(s, i) => s == strategy && i == instrument,
        }
    }
}

impl fmt::Display for OverrideScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverrideScope::Strategy(s) => write!(f, "strategy {s}"),
            OverrideScope::Instrument(i) => write!(f, "instrument {i}"),
            OverrideScope::StrategyInstrument(s, i) => write!(f, "{s}/{i}"),
        }
    }
}

/// Who a position limit applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LimitScope {
    /// The instrument's position across all strategies.
    Instrument(InstrumentCode),
    /// One strategy's position in the instrument.
    StrategyInstrument(StrategyName, InstrumentCode),
}

impl LimitScope {
    pub fn new(strategy: Option<StrategyName>, instrument: InstrumentCode) -> LimitScope {
        match strategy {
            Some(s) => LimitScope::StrategyInstrument(s, instrument),
            None => LimitScope::Instrument(instrument),
        }
    }

    pub fn strategy(&self) -> Option<&StrategyName> {
        match self {
            LimitScope::StrategyInstrument(s, _) => Some(s),
            LimitScope::Instrument(_) => None,
        }
    }

    pub fn instrument(&self) -> &InstrumentCode {
        match self {
            LimitScope::Instrument(i) | LimitScope::StrategyInstrument(_, i) => i,
        }
    }

    /// `instrument` or `strategy_instrument`.
    pub fn kind(&self) -> &'static str {
        match self {
            LimitScope::Instrument(_) => "instrument",
            LimitScope::StrategyInstrument(..) => "strategy_instrument",
        }
    }
}

impl fmt::Display for LimitScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitScope::Instrument(i) => write!(f, "instrument {i}"),
            LimitScope::StrategyInstrument(s, i) => write!(f, "{s}/{i}"),
        }
    }
}

/// A stored override.
#[derive(Debug, Clone, PartialEq)]
pub struct OverrideRecord {
    pub scope: OverrideScope,
    pub value: Override,
    pub updated_at: DateTime<Utc>,
}

/// A stored position limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRecord {
    pub scope: LimitScope,
    pub limit: PositionLimit,
    pub updated_at: DateTime<Utc>,
}

/// A change of a control, kept in the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlChange {
    pub id: i64,
    /// `override`, `position_limit` or `trade_limit`.
    pub control: String,
    pub strategy: Option<String>,
    pub instrument: Option<String>,
    /// Text of the value before and after; `None` when there was none / it was deleted.
    pub old: Option<String>,
    pub new: Option<String>,
    pub at: DateTime<Utc>,
}

/// The override for a strategy's instrument: the strategy's, the instrument's and the pair's,
/// combined (in that order, as pysystemtrade); [`Override::NoOverride`] when none is stored.
pub fn combined_override(
    overrides: &[OverrideRecord],
    strategy: &StrategyName,
    instrument: &InstrumentCode,
) -> Override {
    let rank = |s: &OverrideScope| match s {
        OverrideScope::Strategy(_) => 0,
        OverrideScope::Instrument(_) => 1,
        OverrideScope::StrategyInstrument(..) => 2,
    };
    let mut relevant: Vec<&OverrideRecord> = overrides
        .iter()
        .filter(|r| r.scope.covers(strategy, instrument))
        .collect();
    relevant.sort_by_key(|r| rank(&r.scope));
    Override::combine_all(relevant.into_iter().map(|r| r.value))
}

/// The limit stored for a scope; [`PositionLimit::NoLimit`] when none is.
pub fn limit_for(limits: &[LimitRecord], scope: &LimitScope) -> PositionLimit {
    limits
        .iter()
        .find(|r| &r.scope == scope)
        .map(|r| r.limit)
        .unwrap_or(PositionLimit::NoLimit)
}

/// Why a trade was changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "control", rename_all = "snake_case")]
pub enum ControlReason {
    Override {
        value: Override,
        from: i64,
        to: i64,
    },
    /// The instrument's limit (position across all strategies) and the strategy's own limit,
    /// the more conservative of the two cuts.
    PositionLimit {
        instrument_limit: PositionLimit,
        strategy_limit: PositionLimit,
        instrument_position: i64,
        strategy_position: i64,
        from: i64,
        to: i64,
    },
}

impl fmt::Display for ControlReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlReason::Override { value, from, to } => {
                write!(f, "override {value}: trade {from} -> {to}")
            }
            ControlReason::PositionLimit {
                instrument_limit,
                strategy_limit,
                instrument_position,
                strategy_position,
                from,
                to,
            } => write!(
                f,
                "position limits (instrument {instrument_limit} at position \
                 {instrument_position}, strategy {strategy_limit} at position \
                 {strategy_position}): trade {from} -> {to}"
            ),
        }
    }
}

/// A proposed trade after the controls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlledTrade {
    pub trade: i64,
    /// What changed it, in order; empty when it passed unchanged.
    pub reasons: Vec<ControlReason>,
}

/// The controls on one proposed instrument trade of a strategy, in pysystemtrade's order:
/// 1. the combined override ([`combined_override`]) applied to the strategy's position;
/// 2. the position limits: the instrument's against `instrument_position` (all strategies) and
///    the strategy's against `strategy_position`, each cutting the overridden trade, the more
///    conservative result kept ([`most_conservative`], which departs from pysystemtrade where
///    its rule would break a limit).
///
/// Exception (ours): under no-trading the trade is 0 and the limits are not applied, so a
/// position above a limit is not traded down while an instrument is frozen (pysystemtrade would
/// trade it down to the limit).
pub fn apply_controls(
    strategy: &StrategyName,
    instrument: &InstrumentCode,
    strategy_position: i64,
    instrument_position: i64,
    proposed_trade: i64,
    overrides: &[OverrideRecord],
    limits: &[LimitRecord],
) -> ControlledTrade {
    let mut reasons = Vec::new();
    let value = combined_override(overrides, strategy, instrument);
    let after_override = value.apply(strategy_position, proposed_trade);
    if after_override != proposed_trade {
        reasons.push(ControlReason::Override {
            value,
            from: proposed_trade,
            to: after_override,
        });
    }
    if value == Override::NoTrading {
        return ControlledTrade { trade: 0, reasons };
    }
    let instrument_limit = limit_for(limits, &LimitScope::Instrument(instrument.clone()));
    let strategy_limit = limit_for(
        limits,
        &LimitScope::StrategyInstrument(strategy.clone(), instrument.clone()),
    );
    let by_instrument = instrument_limit.apply(instrument_position, after_override);
    let by_strategy = strategy_limit.apply(strategy_position, after_override);
    let trade = most_conservative(
        instrument_position,
        after_override,
        by_instrument,
        by_strategy,
    );
    if trade != after_override {
        reasons.push(ControlReason::PositionLimit {
            instrument_limit,
            strategy_limit,
            instrument_position,
            strategy_position,
            from: after_override,
            to: trade,
        });
    }
    ControlledTrade { trade, reasons }
}

/// Errors of the control store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    #[error("control store: {detail}")]
    Database { detail: String },
    #[error("control store holds an invalid {what}: {detail}")]
    Corrupt { what: String, detail: String },
    /// A value the store refuses to write (nothing was written).
    #[error("{0}")]
    Invalid(String),
}

impl ControlError {
    /// Whether trying again may help (the database was busy or unavailable).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ControlError::Database { .. })
    }
}

/// Where overrides, position limits and trade limits are kept. Every change a person makes
/// records its time (`updated_at`) and a row of history ([`ControlChange`]); setters and
/// deleters return the previous record.
///
/// Trade limits (B15) are keyed by (strategy, instrument, period in days), `strategy: None`
/// being the instrument across strategies. The rolling-period rule
/// ([`TradeLimit::reset_if_due`]) is applied on every read without writing, and written by the
/// next write of the limit; so a period restarts at the first trade (or change) after the last
/// one ended.
#[async_trait]
pub trait ControlStore: Send + Sync {
    /// Every override, by scope (strategies, instruments, pairs; each sorted).
    async fn overrides(&self) -> Result<Vec<OverrideRecord>, ControlError>;

    async fn override_for(
        &self,
        scope: &OverrideScope,
    ) -> Result<Option<OverrideRecord>, ControlError>;

    /// Stores the override of a scope (`none` is stored too, as pysystemtrade does).
    async fn set_override(
        &self,
        scope: &OverrideScope,
        value: Override,
        at: DateTime<Utc>,
    ) -> Result<Option<OverrideRecord>, ControlError>;

    /// Removes the override of a scope; `None` when there was none.
    async fn delete_override(
        &self,
        scope: &OverrideScope,
        at: DateTime<Utc>,
    ) -> Result<Option<OverrideRecord>, ControlError>;

    /// Every position limit: instruments, then pairs, each sorted.
    async fn position_limits(&self) -> Result<Vec<LimitRecord>, ControlError>;

    async fn position_limit(&self, scope: &LimitScope)
        -> Result<Option<LimitRecord>, ControlError>;

    /// Stores the limit of a scope (`NoLimit` is stored as an explicit "no limit").
    async fn set_position_limit(
        &self,
        scope: &LimitScope,
        limit: PositionLimit,
        at: DateTime<Utc>,
    ) -> Result<Option<LimitRecord>, ControlError>;

    /// Removes the limit of a scope; `None` when there was none.
    async fn delete_position_limit(
        &self,
        scope: &LimitScope,
        at: DateTime<Utc>,
    ) -> Result<Option<LimitRecord>, ControlError>;

    /// The most recent changes of overrides and limits, newest first.
    async fn control_changes(&self, limit: i64) -> Result<Vec<ControlChange>, ControlError>;

    /// Every trade limit as of `now` (periods that ended read as reset: 0 trades, clock `now`):
    /// instrument-wide ones first, then strategies' instruments; each by instrument, strategy
    /// and period.
    async fn trade_limits(&self, now: DateTime<Utc>) -> Result<Vec<TradeLimit>, ControlError>;

    /// Sets the limit (contracts per period, ≥ 0; the period ≥ 1 day) of a key. A new limit
    /// starts with 0 trades and its clock at `at`; changing an existing one keeps its trades and
    /// clock (after the period rule as of `at`), so a lowered limit can leave no capacity.
    /// Returns the previous limit as of `at`.
    async fn set_trade_limit(
        &self,
        strategy: Option<&StrategyName>,
        instrument: &InstrumentCode,
        period_days: u32,
        limit: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<TradeLimit>, ControlError>;

    /// Starts a key's period again by hand: 0 trades, clock restarted at `at`. Returns the limit
    /// as it was (as of `at`); `None` when none is stored (nothing is written).
    async fn reset_trade_limit(
        &self,
        strategy: Option<&StrategyName>,
        instrument: &InstrumentCode,
        period_days: u32,
        at: DateTime<Utc>,
    ) -> Result<Option<TradeLimit>, ControlError>;

    /// Removes a key's limit; `None` when there was none.
    async fn delete_trade_limit(
        &self,
        strategy: Option<&StrategyName>,
        instrument: &InstrumentCode,
        period_days: u32,
        at: DateTime<Utc>,
    ) -> Result<Option<TradeLimit>, ControlError>;

    /// Counts an order of `strategy` in `instrument` that was sent: `abs_qty` (its Σ|legs|) is
    /// added to every relevant limit ([`crate::domain::execution::relevant`]: the instrument's
    /// and that strategy's, every period), each after the period rule as of `at`, in one
    /// transaction. Returns the limits as written (none: nothing limits this order).
    async fn record_trade(
        &self,
        strategy: &str,
        instrument: &InstrumentCode,
        abs_qty: i64,
        at: DateTime<Utc>,
    ) -> Result<Vec<TradeLimit>, ControlError>;
}

#[cfg(test)]
mod tests;
