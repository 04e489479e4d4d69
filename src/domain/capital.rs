//! Capital (§B9) and its allocation to strategies (§B10).
//!
//! Total capital is a history of [`CapitalEntry`] rows: the capital at risk (`actual`), its high
//! water mark (`max`, used by the `half` method), the accumulated profit and loss, and the
//! broker's account value it was computed from. Each update reads the account value `B`, takes
//! `p&l = B − B_prev` and moves capital by [`CapitalMethod`] ([`next_capital`]); a move larger
//! than `max_change` of the previous account value is refused until a person confirms it. A
//! deposit or withdrawal moves only the broker column ([`adjust_broker`]), so the next update's
//! p&l leaves it out. Strategies get `weight / Σ weights` of the total ([`allocate`]).
//!
//! Entry times strictly increase: an entry made with a clock at or before the last entry's time
//! (a fixed test clock, a clock stepped back) is given the last time + 1 µs. The store relies
//! on this to detect a concurrent writer ([`CapitalStore::append_capital`]).
//!
//! Pure rules plus the [`CapitalStore`] port; the SQLite store is
//! `adapters::store::sqlite_capital`.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::Serialize;

use super::broker::{Broker, BrokerError};

/// How total capital follows the broker's account value (§B9, `production_capital_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapitalMethod {
    /// Capital = previous capital + P&L (never below 0); the maximum follows it.
    Full,
    /// Losses reduce capital; profits only refill it up to the previous maximum.
    Half,
    /// Capital stays where it was set.
    Fixed,
}

impl CapitalMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CapitalMethod::Full => "full",
            CapitalMethod::Half => "half",
            CapitalMethod::Fixed => "fixed",
        }
    }
}

/// One row of the total capital history. Amounts are in the base currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CapitalEntry {
    pub at: DateTime<Utc>,
    /// Total capital at risk.
    pub actual: f64,
    /// The high water mark of capital (the `half` method's ceiling).
    pub max: f64,
    /// Profit and loss accumulated since capital was initialised.
    pub accumulated: f64,
    /// The broker's account value this row was computed from (adjusted for deposits and
    /// withdrawals).
    pub broker: f64,
}

/// Capital allocated to one strategy at a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyCapital {
    pub strategy: String,
    pub at: DateTime<Utc>,
    pub capital: f64,
}

/// Margin used at the broker, base currency, as read on a capital update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MarginEntry {
    pub at: DateTime<Utc>,
    pub margin: f64,
}

/// Errors of the capital rules and store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CapitalError {
    #[error("capital store: {detail}")]
    Database { detail: String },
    #[error("capital store holds an invalid {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error(
        "large capital change: the account value moved from {previous} to {new} ({:+.2}%), more \
         than the limit of {:.2}%; nothing was written. If the new value is right, run \
         `systrade capital confirm`",
        change_fraction * 100.0,
        limit * 100.0
    )]
    LargeChange {
        previous: f64,
        new: f64,
        /// `(new − previous) / previous` (infinite when previous is 0).
        change_fraction: f64,
        limit: f64,
    },
    #[error(
        "no total capital yet: run `systrade capital init VALUE` or `systrade capital update` \
         (or the update_total_capital task) first"
    )]
    NoCapital,
    #[error("invalid {what}: {detail}")]
    Invalid { what: String, detail: String },
    #[error(
        "the capital history changed meanwhile (expected the latest entry at {}, found {}); \
         nothing was written: look again and retry",
        opt_time(.expected),
        opt_time(.actual)
    )]
    Conflict {
        expected: Option<DateTime<Utc>>,
        actual: Option<DateTime<Utc>>,
    },
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
}

fn opt_time(t: &Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "none".into())
}

fn invalid(what: &str, detail: impl Into<String>) -> CapitalError {
    CapitalError::Invalid {
        what: what.into(),
        detail: detail.into(),
    }
}

/// `v` if it is a finite number ≥ 0, else [`CapitalError::Invalid`] naming `what`.
pub fn non_negative(what: &str, v: f64) -> Result<f64, CapitalError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(invalid(
            what,
            format!("must be a finite number of at least 0, got {v}"),
        ))
    }
}

/// The time of an entry made at `now` after `prev`: `now`, or `prev.at` + 1 µs if the clock
/// is not past it, so entry times strictly increase.
pub fn entry_time(prev: Option<&CapitalEntry>, now: DateTime<Utc>) -> DateTime<Utc> {
    match prev {
        Some(p) if now <= p.at => p.at + Duration::microseconds(1),
        _ => now,
    }
}

/// The first entry: capital, maximum and account value all `value`, nothing accumulated.
pub fn initial_capital(value: f64, now: DateTime<Utc>) -> Result<CapitalEntry, CapitalError> {
    let value = non_negative("capital", value)?;
    Ok(CapitalEntry {
        at: now,
        actual: value,
        max: value,
        accumulated: 0.0,
        broker: value,
    })
}

/// The relative move of the account value from `previous` to `new`: `(new − previous) /
/// previous`; 0 if both are 0, infinite if only `previous` is.
pub fn change_fraction(previous: f64, new: f64) -> f64 {
    let pnl = new - previous;
    if pnl == 0.0 {
        0.0
    } else if previous == 0.0 {
        f64::INFINITY.copysign(pnl)
    } else {
        pnl / previous
    }
}

/// The §B9 update: the entry after `prev` given the broker's account value now.
///
/// With no previous entry, capital is initialised from the account value. Otherwise
/// `p&l = broker_value − prev.broker`; if `|p&l / prev.broker| > max_change` (strictly: a move
/// of exactly `max_change` is taken) the update is refused with
/// [`CapitalError::LargeChange`] unless `allow_large`. Then, by method:
/// `full`: actual = max(actual + p&l, 0), max = actual;
/// `half`: actual = max(min(actual + p&l, max), 0), max unchanged;
/// `fixed`: actual unchanged, max = actual.
/// Accumulated always grows by p&l.
pub fn next_capital(
    prev: Option<&CapitalEntry>,
    broker_value: f64,
    method: CapitalMethod,
    max_change: f64,
    allow_large: bool,
    now: DateTime<Utc>,
) -> Result<CapitalEntry, CapitalError> {
    if !broker_value.is_finite() {
        return Err(invalid(
            "account value",
            format!("the broker reported {broker_value}"),
        ));
    }
    let Some(prev) = prev else {
        return initial_capital(broker_value, now);
    };
    let pnl = broker_value - prev.broker;
    let fraction = change_fraction(prev.broker, broker_value);
    if !allow_large && fraction.abs() > max_change {
        return Err(CapitalError::LargeChange {
            previous: prev.broker,
            new: broker_value,
            change_fraction: fraction,
            limit: max_change,
        });
    }
    let (actual, max) = match method {
        CapitalMethod::Full => {
            let a = (prev.actual + pnl).max(0.0);
            (a, a)
        }
        CapitalMethod::Half => ((prev.actual + pnl).min(prev.max).max(0.0), prev.max),
        CapitalMethod::Fixed => (prev.actual, prev.actual),
    };
    Ok(CapitalEntry {
        at: entry_time(Some(prev), now),
        actual,
        max,
        accumulated: prev.accumulated + pnl,
        broker: broker_value,
    })
}

/// A deposit (`delta > 0`) or withdrawal (`delta < 0`) of `|delta|`: a new entry with only the
/// account value moved, so the next update does not count it as profit or loss. Refused if the
/// account value would fall below 0.
pub fn adjust_broker(
    prev: &CapitalEntry,
    delta: f64,
    now: DateTime<Utc>,
) -> Result<CapitalEntry, CapitalError> {
    if !delta.is_finite() || delta == 0.0 {
        return Err(invalid(
            "deposit or withdrawal",
            format!("must be a finite, non-zero amount, got {delta}"),
        ));
    }
    let broker = prev.broker + delta;
    if broker < 0.0 {
        return Err(invalid(
            "withdrawal",
            format!(
                "{} is more than the recorded account value {}",
                -delta, prev.broker
            ),
        ));
    }
    Ok(CapitalEntry {
        at: entry_time(Some(prev), now),
        broker,
        ..*prev
    })
}

/// §B10, weighted: each strategy gets `w / Σw × total`, in the order given. Weights that are
/// not positive and finite get nothing (config validation rejects them); with no positive
/// weight the result is empty.
pub fn allocate(weights: &[(String, f64)], total: f64) -> Vec<(String, f64)> {
    let usable = |w: f64| w.is_finite() && w > 0.0;
    let sum: f64 = weights.iter().map(|(_, w)| *w).filter(|w| usable(*w)).sum();
    if sum <= 0.0 {
        return Vec::new();
    }
    weights
        .iter()
        .map(|(name, w)| {
            let share = if usable(*w) { w / sum * total } else { 0.0 };
            (name.clone(), share)
        })
        .collect()
}

/// The business day a date's values belong to: itself on a weekday, the Friday before on a
/// weekend (pandas' `resample("1B")` bins).
fn business_day(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Duration::days(1),
        Weekday::Sun => d - Duration::days(2),
        _ => d,
    }
}

/// Daily percentage returns of the account (§B9): the last accumulated p&l of each business
/// day (UTC dates), carried forward over business days without an entry, differenced, over
/// that day's last capital. One value per business day after the first; a day with zero
/// capital has NaN. `history` must be in time order.
pub fn daily_percentage_returns(history: &[CapitalEntry]) -> Vec<(NaiveDate, f64)> {
    let mut last: Vec<(NaiveDate, f64, f64)> = Vec::new();
    for e in history {
        let day = business_day(e.at.date_naive());
        match last.last_mut() {
            Some(l) if l.0 == day => {
                l.1 = e.accumulated;
                l.2 = e.actual;
            }
            _ => last.push((day, e.accumulated, e.actual)),
        }
    }
    let mut out = Vec::new();
    for pair in last.windows(2) {
        let (prev, cur) = (pair[0], pair[1]);
        let mut day = prev.0 + Duration::days(1);
        while day < cur.0 {
            if business_day(day) == day {
                out.push((day, if prev.2 == 0.0 { f64::NAN } else { 0.0 }));
            }
            day += Duration::days(1);
        }
        let ret = if cur.2 == 0.0 {
            f64::NAN
        } else {
            (cur.1 - prev.1) / cur.2
        };
        out.push((cur.0, ret));
    }
    out
}

/// Storage of total capital, margin and strategy capital. Histories are oldest first.
#[async_trait]
pub trait CapitalStore: Send + Sync {
    /// Every total capital entry, oldest first.
    async fn capital_history(&self) -> Result<Vec<CapitalEntry>, CapitalError>;

    /// The newest total capital entry.
    async fn latest_capital(&self) -> Result<Option<CapitalEntry>, CapitalError>;

    /// Appends `entry` if the newest entry is still the one read before computing it
    /// (`expected_previous_at`: its time, `None` for an empty history); otherwise
    /// [`CapitalError::Conflict`] and nothing is written. An entry not later than the newest is
    /// [`CapitalError::Invalid`].
    async fn append_capital(
        &self,
        entry: &CapitalEntry,
        expected_previous_at: Option<DateTime<Utc>>,
    ) -> Result<(), CapitalError>;

    /// Deletes the newest entry and returns it (`None` if the history is empty).
    async fn delete_last_capital(&self) -> Result<Option<CapitalEntry>, CapitalError>;

    /// Deletes every total capital entry; returns how many there were. Margin and strategy
    /// capital are kept.
    async fn delete_capital_history(&self) -> Result<u64, CapitalError>;

    async fn append_margin(&self, entry: &MarginEntry) -> Result<(), CapitalError>;

    /// Margin entries, oldest first.
    async fn margin_history(&self) -> Result<Vec<MarginEntry>, CapitalError>;

    /// Records one allocation per strategy, all or nothing.
    async fn record_strategy_capital(
        &self,
        entries: &[StrategyCapital],
    ) -> Result<(), CapitalError>;

    /// Allocations of one strategy, oldest first.
    async fn strategy_capital_history(
        &self,
        strategy: &str,
    ) -> Result<Vec<StrategyCapital>, CapitalError>;

    /// The newest allocation of one strategy.
    async fn latest_strategy_capital(
        &self,
        strategy: &str,
    ) -> Result<Option<StrategyCapital>, CapitalError>;

    /// The newest allocation of every strategy ever allocated, by name.
    async fn latest_strategy_capitals(&self) -> Result<Vec<StrategyCapital>, CapitalError>;
}

/// What [`update_total_capital`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapitalUpdate {
    pub entry: CapitalEntry,
    /// The change of account value taken as profit or loss (0 when initialised).
    pub pnl: f64,
    /// The relative move of the account value (0 when initialised).
    pub change_fraction: f64,
    /// No capital existed: it was initialised from the account value.
    pub initialised: bool,
    /// The move was beyond the limit and taken because it was confirmed.
    pub large_change_confirmed: bool,
    /// Margin used at the broker, as recorded.
    pub margin: f64,
}

/// The settings of an update (config `capital.*`).
#[derive(Debug, Clone, Copy)]
pub struct UpdateRules<'a> {
    pub method: CapitalMethod,
    pub max_change: f64,
    pub base_currency: &'a str,
}

/// Reads the account value, applies [`next_capital`], appends the entry (refusing if another
/// writer appended meanwhile) and records the margin used. A refused large change writes
/// nothing.
pub async fn update_total_capital(
    store: &dyn CapitalStore,
    broker: &dyn Broker,
    rules: UpdateRules<'_>,
    allow_large: bool,
    now: DateTime<Utc>,
) -> Result<CapitalUpdate, CapitalError> {
    let account = broker.account_value(rules.base_currency).await?;
    let value = account.value;
    let margin = non_negative("margin used", account.margin_used)?;
    let prev = store.latest_capital().await?;
    let entry = next_capital(
        prev.as_ref(),
        value,
        rules.method,
        rules.max_change,
        allow_large,
        now,
    )?;
    store.append_capital(&entry, prev.map(|p| p.at)).await?;
    store
        .append_margin(&MarginEntry {
            at: entry.at,
            margin,
        })
        .await?;
    let (pnl, fraction) = match prev {
        Some(p) => (value - p.broker, change_fraction(p.broker, value)),
        None => (0.0, 0.0),
    };
    Ok(CapitalUpdate {
        entry,
        pnl,
        change_fraction: fraction,
        initialised: prev.is_none(),
        large_change_confirmed: fraction.abs() > rules.max_change,
        margin,
    })
}

/// Allocates the latest total capital over `weights` and records it ([`CapitalError::NoCapital`]
/// if there is none; [`CapitalError::Invalid`] without strategies).
pub async fn update_strategy_capital(
    store: &dyn CapitalStore,
    weights: &[(String, f64)],
    now: DateTime<Utc>,
) -> Result<Vec<StrategyCapital>, CapitalError> {
    let total = store
        .latest_capital()
        .await?
        .ok_or(CapitalError::NoCapital)?;
    let shares = allocate(weights, total.actual);
    if shares.is_empty() {
        return Err(invalid(
            "strategies.weights",
            "no strategy with a positive weight is configured",
        ));
    }
    let entries: Vec<StrategyCapital> = shares
        .into_iter()
        .map(|(strategy, capital)| StrategyCapital {
            strategy,
            at: now,
            capital,
        })
        .collect();
    store.record_strategy_capital(&entries).await?;
    Ok(entries)
}

#[cfg(test)]
mod tests;
