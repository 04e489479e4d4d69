//! The menu of `systrade overrides` / `systrade limits` with no subcommand, on a terminal: view,
//! set and delete overrides and position limits until "quit". A bad entry prints its error and
//! returns to the menu; nothing is written for it.

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

pub async fn run(ctx: &Ctx) -> anyhow::Result<i32> {
    const ITEMS: [&str; 6] = [
        "view overrides and position limits",
        "set an override (strategy, instrument, or both)",
        "delete an override",
        "set a position limit",
        "delete a position limit",
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
                list_limits(ctx, false).await
            }
            1 => set_override_prompt(ctx).await,
            2 => delete_override_prompt(ctx).await,
            3 => set_limit_prompt(ctx).await,
            4 => delete_limit_prompt(ctx).await,
            _ => return Ok(0),
        };
        if let Err(e) = done {
            eprintln!("error: {e:#}");
        }
    }
}
