//! The menu of `systrade overrides` / `systrade limits` / `systrade controls trade-limits` with no
//! subcommand, on a terminal: view, set and delete overrides, position limits and trade limits
//! (and reset trade limits) until "quit". A bad entry prints its error and returns to the menu;
//! nothing is written for it.

use std::io::IsTerminal;

use anyhow::Context as _;

use super::*;

/// Whether prompts can be shown.
pub fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn ask(prompt: &str) -> anyhow::Result<String> {
    dialoguer::Input::<String>::new()
        .with_prompt(prompt)
        .allow_empty(true)
        .interact_text()
        .context("input cancelled")
}

fn optional(text: String) -> Option<String> {
    let t = text.trim().to_string();
    (!t.is_empty()).then_some(t)
}

async fn set_override_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let target = OverrideTarget {
        strategy: optional(ask("Strategy (empty: every strategy)")?),
        instrument: optional(ask("Instrument (empty: every instrument)")?),
    };
    let scope = override_scope(ctx, &target)?;
    let value = ask("Override: close, none, no-trading, reduce-only or 0..1")?;
    let value = Override::parse(&value).map_err(|e| invalid(e.to_string()))?;
    set_override(ctx, &scope, value, false).await
}

async fn delete_override_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let all = ctx.store.overrides().await?;
    if all.is_empty() {
        outln!("no overrides to delete");
        return Ok(0);
    }
    let labels: Vec<String> = all
        .iter()
        .map(|r| format!("{}: {}", r.scope, r.value))
        .collect();
    let picked = dialoguer::Select::new()
        .with_prompt("Delete which override?")
        .items(&labels)
        .default(0)
        .interact()
        .context("menu cancelled")?;
    match all.get(picked) {
        Some(r) => delete_override(ctx, &r.scope, false).await,
        None => Ok(0),
    }
}

async fn set_limit_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let target = LimitTarget {
        instrument: ask("Instrument")?,
        strategy: optional(ask("Strategy (empty: all strategies together)")?),
    };
    let scope = limit_scope(ctx, &target)?;
    let limit = ask("Largest absolute position in contracts, or none")?;
    let limit = PositionLimit::parse(&limit).map_err(|e| invalid(e.to_string()))?;
    set_limit(ctx, &scope, limit, false).await
}

async fn delete_limit_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let all = ctx.store.position_limits().await?;
    if all.is_empty() {
        outln!("no position limits to delete");
        return Ok(0);
    }
    let labels: Vec<String> = all
        .iter()
        .map(|r| format!("{}: {}", r.scope, r.limit))
        .collect();
    let picked = dialoguer::Select::new()
        .with_prompt("Delete which position limit?")
        .items(&labels)
        .default(0)
        .interact()
        .context("menu cancelled")?;
    match all.get(picked) {
        Some(r) => delete_limit(ctx, &r.scope, false).await,
        None => Ok(0),
    }
}

fn trade_limit_target(ctx: &Ctx) -> anyhow::Result<trade_limits::Key> {
    let target = trade_limits::TradeLimitTarget {
        instrument: ask("Instrument")?,
        strategy: optional(ask("Strategy (empty: all strategies together)")?),
        period_days: number(&ask("Period in days")?)?,
    };
    trade_limits::key(ctx, &target)
}

fn number(text: &str) -> anyhow::Result<i64> {
    text.trim()
        .parse()
        .map_err(|_| invalid(format!("`{}` is not a whole number", text.trim())))
}

async fn set_trade_limit_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let key = trade_limit_target(ctx)?;
    let limit = trade_limits::limit(number(&ask("Contracts per period")?)?)?;
    trade_limits::set(ctx, &key, limit, false).await
}

async fn pick_trade_limit(ctx: &Ctx, verb: &str) -> anyhow::Result<Option<trade_limits::Key>> {
    let all = ctx.store.trade_limits(ctx.clock.now()).await?;
    if all.is_empty() {
        outln!("no trade limits to {verb}");
        return Ok(None);
    }
    let labels: Vec<String> = all
        .iter()
        .map(|l| {
            format!(
                "{}{} per {}: {} ({} traded)",
                l.strategy
                    .as_deref()
                    .map(|s| format!("{s}/"))
                    .unwrap_or_default(),
                l.instrument,
                trade_limits::days(l.period_days),
                l.limit,
                l.trades_since_reset
            )
        })
        .collect();
    let picked = dialoguer::Select::new()
        .with_prompt(format!("{verb} which trade limit?"))
        .items(&labels)
        .default(0)
        .interact()
        .context("menu cancelled")?;
    let Some(l) = all.get(picked) else {
        return Ok(None);
    };
    Ok(Some(trade_limits::Key {
        strategy: l
            .strategy
            .as_deref()
            .map(StrategyName::new)
            .transpose()
            .map_err(invalid)?,
        instrument: InstrumentCode::new(&l.instrument).map_err(invalid)?,
        period_days: l.period_days,
    }))
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<i32> {
    const ITEMS: [&str; 10] = [
        "view overrides, position limits and trade limits",
        "set an override (strategy, instrument, or both)",
        "delete an override",
        "set a position limit",
        "delete a position limit",
        "set a trade limit",
        "reset a trade limit (nothing traded, period restarts now)",
        "delete a trade limit",
        "auto-populated trade limits (shown, not written)",
        "quit",
    ];
    loop {
        let picked = dialoguer::Select::new()
            .with_prompt("Trading controls")
            .items(ITEMS)
            .default(0)
            .interact()
            .context("menu cancelled")?;
        let done = match picked {
            0 => {
                list_overrides(ctx, false).await?;
                outln!();
                list_limits(ctx, false).await?;
                outln!();
                trade_limits::list(ctx, false).await
            }
            1 => set_override_prompt(ctx).await,
            2 => delete_override_prompt(ctx).await,
            3 => set_limit_prompt(ctx).await,
            4 => delete_limit_prompt(ctx).await,
            5 => set_trade_limit_prompt(ctx).await,
            6 => match pick_trade_limit(ctx, "reset").await? {
                Some(key) => trade_limits::reset(ctx, &key, false).await,
                None => Ok(0),
            },
            7 => match pick_trade_limit(ctx, "delete").await? {
                Some(key) => trade_limits::delete(ctx, &key, false).await,
                None => Ok(0),
            },
            8 => match number(&ask("Period in days")?) {
                Ok(days) => trade_limits::auto_show(ctx, days).await,
                Err(e) => Err(e),
            },
            _ => return Ok(0),
        };
        if let Err(e) = done {
            eprintln!("error: {e:#}");
        }
    }
}
