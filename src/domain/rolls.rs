//! Roll states (B8): what an instrument is doing about its next roll, which state may follow
//! which, the stack handler's automatic demotion, the automatic suggestion of a state from
//! volumes and dates, and the smoothed volumes it uses.
//!
//! Rolling the prices themselves (on `roll_adjusted`) is [`super::roll_prices`]; storing states is
//! [`super::metadata::RollStateStore`].

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// The roll state of an instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RollState {
    /// No rolling: trade only the priced contract (the default).
    NoRoll,
    /// Roll naturally: closing trades in the priced contract, opening trades in the forward.
    Passive,
    /// Roll now with a calendar-spread order.
    Force,
    /// Roll now with two outright orders.
    ForceOutright,
    /// Roll the multiple and adjusted prices onto the forward; back to `no_roll` when done.
    RollAdjusted,
    /// Close the position in the priced contract only.
    Close,
    /// Reduce only (the forward is not liquid yet and the roll is near).
    NoOpen,
}

impl RollState {
    pub const ALL: [RollState; 7] = [
        RollState::NoRoll,
        RollState::Passive,
        RollState::Force,
        RollState::ForceOutright,
        RollState::RollAdjusted,
        RollState::Close,
        RollState::NoOpen,
    ];

    /// The stable text name: `no_roll`, `passive`, `force`, `force_outright`, `roll_adjusted`,
    /// `close`, `no_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            RollState::NoRoll => "no_roll",
            RollState::Passive => "passive",
            RollState::Force => "force",
            RollState::ForceOutright => "force_outright",
            RollState::RollAdjusted => "roll_adjusted",
            RollState::Close => "close",
            RollState::NoOpen => "no_open",
        }
    }

    /// pysystemtrade's name: `No_Roll`, `Passive`, `Force`, `Force_Outright`, `Roll_Adjusted`,
    /// `Close`, `No_Open`.
    pub fn pysystemtrade_name(self) -> &'static str {
        match self {
            RollState::NoRoll => "No_Roll",
            RollState::Passive => "Passive",
            RollState::Force => "Force",
            RollState::ForceOutright => "Force_Outright",
            RollState::RollAdjusted => "Roll_Adjusted",
            RollState::Close => "Close",
            RollState::NoOpen => "No_Open",
        }
    }

    /// Parses either name, in any case, with `-` or `_` (`no-roll`, `No_Roll`, `NO_ROLL`).
    pub fn parse(s: &str) -> Result<Self, RollStateError> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| RollStateError::UnknownState {
                given: s.to_string(),
            })
    }

    /// One line on what the state does.
    pub fn explanation(self) -> &'static str {
        match self {
            RollState::NoRoll => "no rolling; trades only the priced contract",
            RollState::Passive => {
                "roll naturally: closing trades in the priced contract, opening trades in the forward"
            }
            RollState::Force => "roll now with a calendar-spread order",
            RollState::ForceOutright => "roll now with two outright orders",
            RollState::RollAdjusted => {
                "roll the multiple and adjusted prices onto the forward contract, then back to no_roll"
            }
            RollState::Close => "close the position in the priced contract only",
            RollState::NoOpen => "reduce only: close positions, open none (forward not liquid yet)",
        }
    }

    /// Force and force_outright: the roll trades both contracts.
    pub fn is_forced(self) -> bool {
        matches!(self, RollState::Force | RollState::ForceOutright)
    }
}

impl fmt::Display for RollState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RollState {
    type Err = RollStateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for RollState {
    type Error = RollStateError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RollState> for String {
    fn from(r: RollState) -> String {
        r.as_str().to_string()
    }
}

/// Invalid roll state names, transitions and settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollStateError {
    #[error(
        "unknown roll state `{given}`: use one of no_roll, passive, force, force_outright, \
         roll_adjusted, close, no_open"
    )]
    UnknownState { given: String },
    #[error(
        "cannot change the roll state from {from} to {to} {}: allowed are {}",
        position_words(*.has_position_in_priced),
        list(.allowed)
    )]
    NotAllowed {
        from: RollState,
        to: RollState,
        has_position_in_priced: bool,
        /// The allowed next states, the recommended one first.
        allowed: Vec<RollState>,
    },
    #[error("invalid default roll state if undecided `{given}`: use `ask` or a roll state name")]
    UnknownDefault { given: String },
}

fn position_words(has_position: bool) -> &'static str {
    if has_position {
        "with a position in the priced contract"
    } else {
        "without a position in the priced contract"
    }
}

fn list(states: &[RollState]) -> String {
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The states that may follow `current`, the recommended one first (pysystemtrade's transition
/// table, with `no_open`).
pub fn allowed_next(current: RollState, has_position_in_priced: bool) -> Vec<RollState> {
    use RollState::*;
    let states: &[RollState] = match (current, has_position_in_priced) {
        (NoRoll, false) => &[RollAdjusted, Passive, NoRoll, NoOpen],
        (NoRoll, true) => &[Passive, Force, ForceOutright, NoRoll, Close, NoOpen],
        (Passive, false) => &[RollAdjusted, Passive, NoRoll, NoOpen],
        (Passive, true) => &[Force, ForceOutright, Passive, NoRoll, Close, NoOpen],
        (Force | ForceOutright, false) => &[RollAdjusted, Passive],
        (Force | ForceOutright, true) => &[Force, ForceOutright, Passive, NoRoll, Close, NoOpen],
        (Close, false) => &[RollAdjusted, Passive],
        (Close, true) => &[Close, Force, ForceOutright, Passive, NoRoll, NoOpen],
        (RollAdjusted, false) => &[NoRoll],
        (RollAdjusted, true) => &[RollAdjusted],
        (NoOpen, false) => &[RollAdjusted, Passive, NoOpen],
        (NoOpen, true) => &[Close, Force, ForceOutright, Passive, NoRoll],
    };
    states.to_vec()
}

/// Whether `current` may become `requested`. Strictly the table: keeping the current state is
/// "no change" and should be handled by the caller before asking (for some rows, such as
/// `no_open` with a position, the current state is not in the list).
pub fn check_transition(
    current: RollState,
    requested: RollState,
    has_position_in_priced: bool,
) -> Result<(), RollStateError> {
    let allowed = allowed_next(current, has_position_in_priced);
    if allowed.contains(&requested) {
        Ok(())
    } else {
        Err(RollStateError::NotAllowed {
            from: current,
            to: requested,
            has_position_in_priced,
            allowed,
        })
    }
}

/// The stack handler's automatic demotion, checked before spawning contract orders and before
/// generating force-roll orders: a forced or closing state with no position left in the priced
/// contract has nothing to trade, so it becomes `passive` (log it as critical).
pub fn demotion(current: RollState, has_position_in_priced: bool) -> Option<RollState> {
    let trading_state = matches!(
        current,
        RollState::Force | RollState::ForceOutright | RollState::Close
    );
    (trading_state && !has_position_in_priced).then_some(RollState::Passive)
}

/// What has to happen around a state change, in this order (pysystemtrade's
/// `modify_roll_state`). The store records the state; the caller does these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum RollSideEffect {
    /// Leaving `no_open`: restore the instrument override stored when entering it.
    RestoreOverride,
    /// Entering `no_open`: store the current instrument override, then set it to reduce-only.
    SetReduceOnly,
    /// Entering `roll_adjusted`: roll the prices; on success set `no_roll`, on failure or when
    /// declined set the previous state back.
    RollPrices,
    /// Entering `force`, `force_outright` or `close`: warn if today's remaining trade-limit
    /// capacity is below `contracts_per_unit_position` × |priced position|.
    CheckTradeLimits { contracts_per_unit_position: u32 },
}

/// The side effects of changing `from` → `to` (none when unchanged).
pub fn side_effects(from: RollState, to: RollState) -> Vec<RollSideEffect> {
    let mut effects = Vec::new();
    if from == to {
        return effects;
    }
    if from == RollState::NoOpen {
        effects.push(RollSideEffect::RestoreOverride);
    }
    match to {
        RollState::NoOpen => effects.push(RollSideEffect::SetReduceOnly),
        RollState::RollAdjusted => effects.push(RollSideEffect::RollPrices),
        RollState::Force | RollState::ForceOutright => {
            effects.push(RollSideEffect::CheckTradeLimits {
                contracts_per_unit_position: 2,
            })
        }
        RollState::Close => effects.push(RollSideEffect::CheckTradeLimits {
            contracts_per_unit_position: 1,
        }),
        RollState::NoRoll | RollState::Passive => {}
    }
    effects
}

/// Contracts a roll in `state` trades for a priced position (both legs for forced rolls).
pub fn contracts_to_trade_for_roll(state: RollState, priced_position: i64) -> u64 {
    let legs = match state {
        RollState::Force | RollState::ForceOutright => 2,
        RollState::Close => 1,
        _ => 0,
    };
    priced_position.unsigned_abs() * legs
}

// ---------------------------------------------------------------------------------------------
// Automatic suggestion
// ---------------------------------------------------------------------------------------------

/// What the automatic roll status update suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum RollSuggestion {
    State(RollState),
    /// No automatic answer: ask the user (pysystemtrade's `Ask`; it recommends force,
    /// force_outright or close).
    Ask,
}

impl RollSuggestion {
    /// `ask` or a roll state name (any spelling [`RollState::parse`] accepts).
    pub fn parse(s: &str) -> Result<Self, RollStateError> {
        if s.trim().eq_ignore_ascii_case("ask") {
            return Ok(RollSuggestion::Ask);
        }
        RollState::parse(s)
            .map(RollSuggestion::State)
            .map_err(|_| RollStateError::UnknownDefault {
                given: s.to_string(),
            })
    }

    pub fn state(self) -> Option<RollState> {
        match self {
            RollSuggestion::State(s) => Some(s),
            RollSuggestion::Ask => None,
        }
    }
}

impl fmt::Display for RollSuggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RollSuggestion::State(s) => f.write_str(s.as_str()),
            RollSuggestion::Ask => f.write_str("ask"),
        }
    }
}

impl From<RollSuggestion> for String {
    fn from(s: RollSuggestion) -> String {
        s.to_string()
    }
}

/// pysystemtrade's `roll_status_auto_update` defaults.
pub const DEFAULT_AUTO_ROLL_IF_RELATIVE_VOLUME_HIGHER_THAN: f64 = 1.0;
pub const DEFAULT_MIN_RELATIVE_VOLUME: f64 = 0.01;
pub const DEFAULT_MIN_ABSOLUTE_VOLUME: f64 = 100.0;
pub const DEFAULT_NEAR_EXPIRY_DAYS: i64 = 10;
pub const DEFAULT_ROLL_STATE_IF_UNDECIDED: RollSuggestion = RollSuggestion::Ask;
pub const DEFAULT_AUTO_ROLL_EXPIRED: bool = true;

/// Settings of the automatic suggestion (`roll_status_auto_update`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AutoRollConfig {
    /// The forward is liquid if its volume relative to the priced contract exceeds this...
    pub auto_roll_if_relative_volume_higher_than: f64,
    /// ...or if the relative volume exceeds this and its absolute volume exceeds
    /// `min_absolute_volume`.
    pub min_relative_volume: f64,
    pub min_absolute_volume: f64,
    /// The desired roll date is near when fewer than this many days away.
    pub near_expiry_days: i64,
    /// Suggestion when the forward is liquid, a position is held and the roll is near.
    pub default_roll_state_if_undecided: RollSuggestion,
    /// Suggest `roll_adjusted` for an expired priced contract with no position, liquid or not.
    pub auto_roll_expired: bool,
}

impl Default for AutoRollConfig {
    fn default() -> Self {
        Self {
            auto_roll_if_relative_volume_higher_than:
                DEFAULT_AUTO_ROLL_IF_RELATIVE_VOLUME_HIGHER_THAN,
            min_relative_volume: DEFAULT_MIN_RELATIVE_VOLUME,
            min_absolute_volume: DEFAULT_MIN_ABSOLUTE_VOLUME,
            near_expiry_days: DEFAULT_NEAR_EXPIRY_DAYS,
            default_roll_state_if_undecided: DEFAULT_ROLL_STATE_IF_UNDECIDED,
            auto_roll_expired: DEFAULT_AUTO_ROLL_EXPIRED,
        }
    }
}

/// What the suggestion looks at (the roll report's numbers for one instrument).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RollSuggestionInputs {
    /// Whole days until the priced contract's expiry ([`days_until`]); ≤ 0 means expired.
    pub days_to_price_expiry: i64,
    /// Whole days until the desired roll date (priced expiry + roll offset days).
    pub days_to_desired_roll: i64,
    /// Position in the priced contract, all strategies.
    pub priced_position: i64,
    /// Smoothed forward volume / smoothed priced volume ([`relative_volume`]); NaN counts as 0.
    pub relative_volume: f64,
    /// Smoothed forward volume in contracts ([`smoothed_volume`]); NaN counts as 0.
    pub forward_volume: f64,
}

impl RollSuggestionInputs {
    /// Liquid forward: relative volume above `auto_roll_if_relative_volume_higher_than`, or above
    /// `min_relative_volume` with an absolute volume above `min_absolute_volume` (the absolute
    /// volume truncated to whole contracts first, as pysystemtrade's `int(...)`).
    pub fn forward_is_liquid(&self, config: &AutoRollConfig) -> bool {
        let relative = nan_to_zero(self.relative_volume);
        let absolute = nan_to_zero(self.forward_volume).trunc();
        relative > config.auto_roll_if_relative_volume_higher_than
            || (relative > config.min_relative_volume && absolute > config.min_absolute_volume)
    }

    /// Close to the desired roll date: fewer than `near_expiry_days` days away.
    pub fn roll_is_near(&self, config: &AutoRollConfig) -> bool {
        self.days_to_desired_roll < config.near_expiry_days
    }
}

fn nan_to_zero(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x
    }
}

/// pysystemtrade's `suggest_roll_state_for_instrument`, rules in order:
/// 1. priced contract expired (days to expiry ≤ 0), `auto_roll_expired`, no position →
///    `roll_adjusted`;
/// 2. liquid forward, no position → `roll_adjusted`;
/// 3. liquid forward, position, roll near → `default_roll_state_if_undecided` (`Ask`);
/// 4. liquid forward, position, roll not near → `passive`;
/// 5. illiquid forward, roll near → `no_open`;
/// 6. illiquid forward, roll not near → `no_roll`.
pub fn suggest_roll_state(
    inputs: &RollSuggestionInputs,
    config: &AutoRollConfig,
) -> RollSuggestion {
    let no_position = inputs.priced_position == 0;
    let expired = inputs.days_to_price_expiry <= 0;
    if expired && config.auto_roll_expired && no_position {
        return RollSuggestion::State(RollState::RollAdjusted);
    }
    let near = inputs.roll_is_near(config);
    if inputs.forward_is_liquid(config) {
        if no_position {
            RollSuggestion::State(RollState::RollAdjusted)
        } else if near {
            config.default_roll_state_if_undecided
        } else {
            RollSuggestion::State(RollState::Passive)
        }
    } else if near {
        RollSuggestion::State(RollState::NoOpen)
    } else {
        RollSuggestion::State(RollState::NoRoll)
    }
}

/// Whole days from `now` until midnight at the start of `date`, rounded down, as pysystemtrade's
/// `(expiry - datetime.now()).days`: on the day before expiry this is already 0 once past
/// midnight, and on the expiry day itself -1.
pub fn days_until(date: NaiveDate, now: NaiveDateTime) -> i64 {
    let start = date.and_time(chrono::NaiveTime::MIN);
    (start - now).num_seconds().div_euclid(86_400)
}

/// Days to the priced contract's expiry and to the desired roll date (expiry + roll offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RollTiming {
    pub days_to_price_expiry: i64,
    pub days_to_desired_roll: i64,
    pub desired_roll_date: NaiveDate,
}

pub fn roll_timing(
    price_expiry: NaiveDate,
    roll_offset_days: i32,
    now: NaiveDateTime,
) -> RollTiming {
    let desired_roll_date = price_expiry + chrono::Duration::days(roll_offset_days as i64);
    RollTiming {
        days_to_price_expiry: days_until(price_expiry, now),
        days_to_desired_roll: days_until(desired_roll_date, now),
        desired_roll_date,
    }
}

mod volumes;

pub use volumes::{
    daily_volumes, relative_volume, smoothed_volume, NOTIONALLY_ZERO_VOLUME, VOLUME_EWMA_SPAN,
    VOLUME_LOOKBACK_DAYS,
};

#[cfg(test)]
mod tests;
