//! `systrade controls trade-limits`: trade limits (B15) — at most N contracts per rolling period
//! of P days for an instrument (all strategies) or a strategy's instrument, which the stack
//! handler applies when it creates broker orders. `list`, `set`, `reset` (trades 0, the period
//! restarts now), `delete`, and `auto` (pysystemtrade's auto-populated instrument-wide limits
//! from capital, risk and exposure; shown, written with `--apply`). Bad input changes nothing
//! (exit 2).

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;

use super::{dash, instrument_code, invalid, strategy_name, ListArgs};
use crate::adapters::parquet::ParquetPriceStore;
use crate::adapters::reference_files::load_reference_data;
use crate::cli::context::Ctx;
use crate::cli::output::{local, print_json, table};
use crate::cli::prices::known_instrument;
use crate::domain::auto_limits::{auto_limits, instrument_risk, AutoLimits, RiskError};
use crate::domain::capital::CapitalStore;
use crate::domain::controls::{
    limit_for, ControlStore, LimitScope, PositionLimit, StrategyName, TradeLimit,
};
use crate::domain::instrument::InstrumentCode;
use crate::domain::ports::PriceStore;

/// The longest period accepted: ten years.
const MAX_PERIOD_DAYS: i64 = 3650;

#[derive(Args, Debug)]
pub struct TradeLimitsArgs {
    #[command(subcommand)]
    pub command: Option<TradeLimitsCommand>,
}

#[derive(Subcommand, Debug)]
pub enum TradeLimitsCommand {
    /// Every trade limit, with what is left now and when its period ends.
    List(ListArgs),
    /// Set the limit of an instrument (all strategies) or a strategy's instrument for a period;
    /// changing a limit keeps what was traded this period.
    Set(SetTradeLimitArgs),
    /// Start a limit's period again now: nothing traded.
    Reset(TradeLimitTargetArgs),
    /// Remove a trade limit.
    Delete(TradeLimitTargetArgs),
    /// Compute instrument-wide limits from capital, risk and exposure (pysystemtrade's
    /// auto-populate), with the position limits they imply; `--apply` writes the trade limits.
    Auto(AutoArgs),
}

#[derive(Args, Debug)]
pub struct TradeLimitTarget {
    /// The instrument.
    #[arg(long)]
    pub instrument: String,
    /// Only this strategy's trades in the instrument (default: all strategies together).
    #[arg(long)]
    pub strategy: Option<String>,
    /// The period in days (rolling from the last reset), 1 or more.
    #[arg(long, allow_negative_numbers = true)]
    pub period_days: i64,
}

#[derive(Args, Debug)]
pub struct TradeLimitTargetArgs {
    #[command(flatten)]
    pub target: TradeLimitTarget,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SetTradeLimitArgs {
    #[command(flatten)]
    pub target: TradeLimitTarget,
    /// Contracts per period (the sum of |legs| of the orders sent), 0 or more.
    #[arg(long, allow_negative_numbers = true)]
    pub limit: i64,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AutoArgs {
    /// The period of the trade limits, in days.
    #[arg(long, allow_negative_numbers = true)]
    pub period_days: i64,
    /// Only these instruments (repeat the flag); default: every instrument with adjusted prices.
    #[arg(long = "instrument")]
    pub instruments: Vec<String>,
    /// Write the instrument-wide trade limits (position limits are only shown).
    #[arg(long)]
    pub apply: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A checked key.
pub(super) struct Key {
    pub strategy: Option<StrategyName>,
    pub instrument: InstrumentCode,
    pub period_days: u32,
}

impl Key {
    fn scope(&self) -> String {
        let days = days(self.period_days);
        match &self.strategy {
            Some(s) => format!("{s}/{} per {days}", self.instrument),
            None => format!("{} (all strategies) per {days}", self.instrument),
        }
    }

    fn kind(&self) -> &'static str {
        if self.strategy.is_some() {
            "strategy_instrument"
        } else {
            "instrument"
        }
    }
}

pub(super) fn days(n: u32) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

pub(super) fn period(days: i64) -> anyhow::Result<u32> {
    if !(1..=MAX_PERIOD_DAYS).contains(&days) {
        return Err(invalid(format!(
            "the period must be 1 to {MAX_PERIOD_DAYS} days, not {days}"
        )));
    }
    u32::try_from(days).map_err(|_| invalid(format!("period {days} is out of range")))
}

pub(super) fn limit(n: i64) -> anyhow::Result<i64> {
    if n < 0 {
        return Err(invalid(format!(
            "a trade limit is 0 or more contracts, not {n} (0 stops trading the instrument)"
        )));
    }
    Ok(n)
}

/// Checks a target: period, then strategy name, then instrument (nothing is written on error).
pub(super) fn key(ctx: &Ctx, t: &TradeLimitTarget) -> anyhow::Result<Key> {
    let period_days = period(t.period_days)?;
    let strategy = t
        .strategy
        .as_deref()
        .map(|s| strategy_name(ctx, s))
        .transpose()?;
    let instrument = instrument_code(ctx, &t.instrument)?;
    Ok(Key {
        strategy,
        instrument,
        period_days,
    })
}

/// A trade limit as printed by `--json`.
#[derive(Debug, Serialize)]
struct TradeLimitJson<'a> {
    scope: &'static str,
    strategy: Option<&'a str>,
    instrument: &'a str,
    period_days: u32,
    limit: i64,
    traded: i64,
    capacity: i64,
    last_reset: chrono::DateTime<chrono::Utc>,
    /// When the period ends (rolling from the last reset).
    resets_at: chrono::DateTime<chrono::Utc>,
}

fn resets_at(l: &TradeLimit) -> chrono::DateTime<chrono::Utc> {
    l.last_reset + chrono::Duration::days(i64::from(l.period_days))
}

impl<'a> From<&'a TradeLimit> for TradeLimitJson<'a> {
    fn from(l: &'a TradeLimit) -> Self {
        TradeLimitJson {
            scope: if l.strategy.is_some() {
                "strategy_instrument"
            } else {
                "instrument"
            },
            strategy: l.strategy.as_deref(),
            instrument: &l.instrument,
            period_days: l.period_days,
            limit: l.limit,
            traded: l.trades_since_reset,
            capacity: l.capacity(),
            last_reset: l.last_reset,
            resets_at: resets_at(l),
        }
    }
}

pub async fn trade_limits(ctx: &Ctx, command: TradeLimitsCommand) -> anyhow::Result<i32> {
    match command {
        TradeLimitsCommand::List(l) => list(ctx, l.json).await,
        TradeLimitsCommand::Set(s) => {
            let key = key(ctx, &s.target)?;
            let n = limit(s.limit)?;
            set(ctx, &key, n, s.json).await
        }
        TradeLimitsCommand::Reset(r) => {
            let key = key(ctx, &r.target)?;
            reset(ctx, &key, r.json).await
        }
        TradeLimitsCommand::Delete(d) => {
            let key = key(ctx, &d.target)?;
            delete(ctx, &key, d.json).await
        }
        TradeLimitsCommand::Auto(a) => auto(ctx, a).await,
    }
}

pub(super) async fn list(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let all = ctx.store.trade_limits(ctx.clock.now()).await?;
    if json {
        let rows: Vec<TradeLimitJson> = all.iter().map(TradeLimitJson::from).collect();
        print_json(&json!({ "trade_limits": rows }))?;
        return Ok(0);
    }
    if all.is_empty() {
        outln!("no trade limits: orders are sent whole");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|l| {
            vec![
                dash(l.strategy.clone()),
                l.instrument.clone(),
                days(l.period_days),
                l.limit.to_string(),
                l.trades_since_reset.to_string(),
                l.capacity().to_string(),
                local(resets_at(l)),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &[
                "strategy",
                "instrument",
                "period",
                "limit",
                "traded",
                "left",
                "period ends"
            ],
            &rows
        )
    );
    Ok(0)
}

pub(super) async fn set(ctx: &Ctx, key: &Key, limit: i64, json: bool) -> anyhow::Result<i32> {
    let now = ctx.clock.now();
    let previous = ctx
        .store
        .set_trade_limit(
            key.strategy.as_ref(),
            &key.instrument,
            key.period_days,
            limit,
            now,
        )
        .await?;
    let traded = previous.as_ref().map_or(0, |p| p.trades_since_reset);
    let capacity = (limit - traded).max(0);
    if json {
        print_json(&json!({
            "action": "set",
            "scope": key.kind(),
            "strategy": key.strategy,
            "instrument": key.instrument,
            "period_days": key.period_days,
            "limit": limit,
            "traded": traded,
            "capacity": capacity,
            "previous": previous.as_ref().map(|p| json!({ "limit": p.limit })),
        }))?;
    } else {
        let scope = key.scope();
        match previous {
            Some(p) => outln!(
                "trade limit of {scope}: {} -> {limit} ({traded} traded this period, {capacity} left)",
                p.limit
            ),
            None => outln!("trade limit of {scope}: {limit}"),
        }
    }
    Ok(0)
}

pub(super) async fn reset(ctx: &Ctx, key: &Key, json: bool) -> anyhow::Result<i32> {
    let now = ctx.clock.now();
    let Some(previous) = ctx
        .store
        .reset_trade_limit(key.strategy.as_ref(), &key.instrument, key.period_days, now)
        .await?
    else {
        return Err(invalid(format!(
            "no trade limit stored for {}; nothing reset (`systrade controls trade-limits list` shows them)",
            key.scope()
        )));
    };
    if json {
        print_json(&json!({
            "action": "reset",
            "scope": key.kind(),
            "strategy": key.strategy,
            "instrument": key.instrument,
            "period_days": key.period_days,
            "limit": previous.limit,
            "last_reset": now,
            "previous": { "traded": previous.trades_since_reset, "last_reset": previous.last_reset },
        }))?;
    } else {
        outln!(
            "trade limit of {} reset: {} traded -> 0, {} left until {}",
            key.scope(),
            previous.trades_since_reset,
            previous.limit,
            local(now + chrono::Duration::days(i64::from(key.period_days)))
        );
    }
    Ok(0)
}

pub(super) async fn delete(ctx: &Ctx, key: &Key, json: bool) -> anyhow::Result<i32> {
    let Some(previous) = ctx
        .store
        .delete_trade_limit(
            key.strategy.as_ref(),
            &key.instrument,
            key.period_days,
            ctx.clock.now(),
        )
        .await?
    else {
        return Err(invalid(format!(
            "no trade limit stored for {}; nothing deleted (`systrade controls trade-limits list` shows them)",
            key.scope()
        )));
    };
    if json {
        print_json(&json!({
            "action": "delete",
            "scope": key.kind(),
            "strategy": key.strategy,
            "instrument": key.instrument,
            "period_days": key.period_days,
            "previous": { "limit": previous.limit, "traded": previous.trades_since_reset },
        }))?;
    } else {
        outln!(
            "trade limit of {} deleted (was {}, {} traded)",
            key.scope(),
            previous.limit,
            previous.trades_since_reset
        );
    }
    Ok(0)
}

/// One instrument's auto limits with the limits stored now.
#[derive(Debug, Serialize)]
struct AutoRow {
    #[serde(flatten)]
    limits: AutoLimits,
    /// The instrument-wide trade limit stored for the period (before `--apply`).
    current_trade_limit: Option<i64>,
    /// The instrument-wide position limit stored (`null` also for "no limit").
    current_position_limit: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Skipped {
    instrument: String,
    reason: String,
}

fn f(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// `auto` for every instrument, shown only (the menu).
pub(super) async fn auto_show(ctx: &Ctx, period_days: i64) -> anyhow::Result<i32> {
    let args = AutoArgs {
        period_days,
        instruments: Vec::new(),
        apply: false,
        json: false,
    };
    auto(ctx, args).await
}

async fn auto(ctx: &Ctx, a: AutoArgs) -> anyhow::Result<i32> {
    let period_days = period(a.period_days)?;
    let reference = load_reference_data(&ctx.home.reference_dir())?;
    let mut wanted: Vec<InstrumentCode> = a
        .instruments
        .iter()
        .map(|i| known_instrument(&reference, i.trim()))
        .collect::<anyhow::Result<_>>()?;
    let mut seen = std::collections::HashSet::new();
    wanted.retain(|c| seen.insert(c.clone()));
    let prices = ParquetPriceStore::new(ctx.home.data_dir());
    if wanted.is_empty() {
        wanted = prices
            .instruments_with_adjusted()?
            .into_iter()
            .filter(|c| reference.instrument(c).is_some())
            .collect();
    }
    if wanted.is_empty() {
        anyhow::bail!(
            "no instrument has adjusted prices: update or import prices first \
             (`systrade import pysystemtrade`, or the daily workflow)"
        );
    }
    let capital = ctx.store.latest_capital().await?.ok_or_else(|| {
        anyhow::anyhow!(
            "no total capital yet: `systrade capital init VALUE` (or the daily workflow's \
             update_total_capital) sets it"
        )
    })?;
    let base = &ctx.config.capital.base_currency;
    let now = ctx.clock.now();
    let trade_limits = ctx.store.trade_limits(now).await?;
    let position_limits = ctx.store.position_limits().await?;
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for code in &wanted {
        let Some(instrument) = reference.instrument(code) else {
            continue;
        };
        let risk = match instrument_risk(&prices, instrument, base) {
            Ok(r) => r,
            Err(RiskError::Missing(reason)) => {
                skipped.push(Skipped {
                    instrument: code.to_string(),
                    reason,
                });
                continue;
            }
            Err(e @ RiskError::Store(_)) => return Err(e.into()),
        };
        let Some(limits) = auto_limits(capital.actual, risk, period_days) else {
            skipped.push(Skipped {
                instrument: code.to_string(),
                reason: "no standard position: capital, risk or exposure is not positive".into(),
            });
            continue;
        };
        let current_trade_limit = trade_limits
            .iter()
            .find(|l| {
                l.strategy.is_none()
                    && l.instrument == code.as_str()
                    && l.period_days == period_days
            })
            .map(|l| l.limit);
        let current_position_limit =
            match limit_for(&position_limits, &LimitScope::Instrument(code.clone())) {
                PositionLimit::Contracts(n) => Some(n),
                PositionLimit::NoLimit => None,
            };
        rows.push(AutoRow {
            limits,
            current_trade_limit,
            current_position_limit,
        });
    }
    if rows.is_empty() {
        let why: Vec<String> = skipped
            .iter()
            .map(|s| format!("{}: {}", s.instrument, s.reason))
            .collect();
        anyhow::bail!("no limits could be computed: {}", why.join("; "));
    }
    if a.apply {
        for r in &rows {
            let code = InstrumentCode::new(&r.limits.risk.instrument).map_err(invalid)?;
            ctx.store
                .set_trade_limit(None, &code, period_days, r.limits.trade_limit, now)
                .await?;
        }
    }
    if a.json {
        print_json(&json!({
            "capital": capital.actual,
            "base_currency": base,
            "period_days": period_days,
            "applied": a.apply,
            "instruments": rows,
            "skipped": skipped,
        }))?;
        return Ok(0);
    }
    outln!(
        "capital {} {base}; trade limits per {}; risk = annual stdev of daily price changes \
         (last year) x point size x FX; no volume data",
        f(capital.actual, 0),
        days(period_days)
    );
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let k = &r.limits.risk;
            vec![
                k.instrument.clone(),
                k.currency.clone(),
                f(k.point_size, 2),
                f(k.fx_to_base, 4),
                f(k.last_price, 2),
                f(k.annual_price_stdev, 2),
                f(k.annual_cash_risk_per_contract, 0),
                f(k.notional_exposure_per_contract, 0),
                f(r.limits.standard_position, 2),
                r.limits.trade_limit.to_string(),
                r.current_trade_limit
                    .map_or_else(|| "-".into(), |n| n.to_string()),
                r.limits.position_limit.to_string(),
                r.current_position_limit
                    .map_or_else(|| "-".into(), |n| n.to_string()),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &[
                "instrument",
                "ccy",
                "point",
                "fx",
                "price",
                "stdev/yr",
                "risk/contract",
                "notional",
                "standard",
                "trade limit",
                "now",
                "position limit",
                "now",
            ],
            &cells
        )
    );
    for s in &skipped {
        outln!("skipped {}: {}", s.instrument, s.reason);
    }
    if a.apply {
        outln!(
            "set {} instrument-wide trade limits per {} (what was traded this period is kept)",
            rows.len(),
            days(period_days)
        );
    } else {
        outln!("nothing written: add --apply to set these trade limits");
    }
    Ok(0)
}
