//! `systrade capital`: total capital and its allocation to strategies (pysystemtrade's
//! `interactive_update_capital_manual` and the capital views of `interactive_diagnostics`,
//! §B9/§B10). `show` the history, `init` the first value, `update` from the broker as the daily
//! task does (`confirm` / `--confirm-large` take a move beyond `capital.max_change`), `adjust`
//! for deposits and withdrawals, `delete` entries, `strategies` for the allocation. Without a
//! subcommand, a menu on a terminal.

use std::io::IsTerminal;

use anyhow::Context as _;
use clap::{ArgGroup, Args, Subcommand};
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::{local, print_json, table};
use super::CliError;
use crate::domain::capital::{
    adjust_broker, initial_capital, non_negative, update_total_capital, CapitalEntry, CapitalError,
    CapitalStore, CapitalUpdate, UpdateRules,
};

#[derive(Args, Debug)]
pub struct CapitalArgs {
    #[command(subcommand)]
    pub command: Option<CapitalCommand>,
}

#[derive(Subcommand, Debug)]
pub enum CapitalCommand {
    /// Total capital history (time, capital, maximum, accumulated p&l, account value) and the
    /// latest strategy capital.
    Show {
        /// Only the newest N entries.
        #[arg(long)]
        limit: Option<usize>,
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set the initial capital (refused when capital exists, unless --replace).
    Init(InitArgs),
    /// Read the broker's account value and move capital as the daily task does.
    Update {
        /// Take a move beyond capital.max_change (after checking the account yourself).
        #[arg(long)]
        confirm_large: bool,
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Accept a large change refused by the update: update from the broker with no limit.
    Confirm {
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Record a deposit or withdrawal (moves only the account value, so it is not p&l).
    Adjust(AdjustArgs),
    /// Delete the newest capital entry or the whole history.
    Delete(DeleteArgs),
    /// Capital of each strategy: weights, shares of total capital, recorded allocations; with a
    /// name, that strategy's history.
    Strategies {
        /// One strategy's allocation history.
        strategy: Option<String>,
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Total capital (base currency); also the account value and maximum unless given.
    #[arg(allow_negative_numbers = true)]
    pub value: f64,
    /// Maximum capital (the `half` method's high water mark). Default: VALUE.
    #[arg(long, allow_negative_numbers = true)]
    pub max: Option<f64>,
    /// Accumulated p&l to start from. Default: 0.
    #[arg(long, allow_negative_numbers = true)]
    pub accumulated: Option<f64>,
    /// The broker's account value. Default: VALUE.
    #[arg(long, allow_negative_numbers = true)]
    pub broker: Option<f64>,
    /// Delete the existing history first.
    #[arg(long)]
    pub replace: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("amount").required(true).args(["deposit", "withdraw"])))]
pub struct AdjustArgs {
    /// Amount deposited (base currency).
    #[arg(long, allow_negative_numbers = true)]
    pub deposit: Option<f64>,
    /// Amount withdrawn (base currency).
    #[arg(long, allow_negative_numbers = true)]
    pub withdraw: Option<f64>,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["last", "all"])))]
pub struct DeleteArgs {
    /// The newest entry.
    #[arg(long)]
    pub last: bool,
    /// Every entry (then `init` or `update` starts again).
    #[arg(long)]
    pub all: bool,
    /// Do not ask (needed when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Exit codes: bad input 2, a refused large change or a concurrent writer 3, else 1.
fn cli_error(e: CapitalError) -> anyhow::Error {
    match e {
        CapitalError::Invalid { .. } | CapitalError::NoCapital => {
            CliError::Invalid(e.to_string()).into()
        }
        CapitalError::Broker(ref b) if !b.is_retryable() => CliError::Invalid(e.to_string()).into(),
        CapitalError::LargeChange { .. } | CapitalError::Conflict { .. } => {
            CliError::Refused(e.to_string()).into()
        }
        other => other.into(),
    }
}

fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn money(v: f64) -> String {
    format!("{v:.2}")
}

pub async fn capital(opts: &GlobalOpts, a: CapitalArgs) -> anyhow::Result<i32> {
    let Some(command) = a.command else {
        if !on_terminal() {
            use clap::CommandFactory as _;
            let mut cli = super::Cli::command();
            cli.build();
            if let Some(sub) = cli.find_subcommand_mut("capital") {
                eprintln!("{}", sub.render_help());
            }
            return Ok(2);
        }
        let ctx = Ctx::open(opts).await?;
        return menu(&ctx).await;
    };
    let ctx = Ctx::open(opts).await?;
    match command {
        CapitalCommand::Show { limit, json } => show(&ctx, limit, json).await,
        CapitalCommand::Init(i) => init(&ctx, &i).await,
        CapitalCommand::Update {
            confirm_large,
            json,
        } => update(&ctx, confirm_large, json).await,
        CapitalCommand::Confirm { json } => update(&ctx, true, json).await,
        CapitalCommand::Adjust(a) => {
            let delta = match (a.deposit, a.withdraw) {
                (Some(d), None) => positive("deposit", d)?,
                (None, Some(w)) => -positive("withdrawal", w)?,
                _ => {
                    return Err(CliError::Invalid("give --deposit X or --withdraw X".into()).into())
                }
            };
            adjust(&ctx, delta, a.json).await
        }
        CapitalCommand::Delete(d) => delete(&ctx, d.all, d.yes, d.json).await,
        CapitalCommand::Strategies { strategy, json } => match strategy {
            Some(s) => strategy_history(&ctx, &s, json).await,
            None => strategies(&ctx, json).await,
        },
    }
}

fn positive(what: &str, v: f64) -> anyhow::Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(CliError::Invalid(format!("the {what} must be a positive amount, got {v}")).into())
    }
}

fn entry_row(e: &CapitalEntry) -> Vec<String> {
    vec![
        local(e.at),
        money(e.actual),
        money(e.max),
        money(e.accumulated),
        money(e.broker),
    ]
}

async fn show(ctx: &Ctx, limit: Option<usize>, json: bool) -> anyhow::Result<i32> {
    let store = ctx.store.as_ref();
    let mut history = store.capital_history().await.map_err(cli_error)?;
    if let Some(n) = limit {
        history.drain(..history.len().saturating_sub(n));
    }
    let strategies = store.latest_strategy_capitals().await.map_err(cli_error)?;
    let margin = store.margin_history().await.map_err(cli_error)?.pop();
    let cfg = &ctx.config.capital;
    if json {
        print_json(&json!({
            "base_currency": cfg.base_currency,
            "method": cfg.method,
            "max_change": cfg.max_change,
            "history": history,
            "strategies": strategies,
            "margin": margin,
        }))?;
        return Ok(0);
    }
    outln!(
        "Total capital ({}, method {}, large change beyond {:.1}%):",
        cfg.base_currency,
        cfg.method.as_str(),
        cfg.max_change * 100.0
    );
    if history.is_empty() {
        outln!("  none yet: `systrade capital init VALUE` or `systrade capital update`");
    } else {
        let rows: Vec<Vec<String>> = history.iter().map(entry_row).collect();
        out!(
            "{}",
            table(
                &["time", "capital", "max", "accumulated", "account value"],
                &rows
            )
        );
    }
    if let Some(m) = margin {
        outln!("Margin used: {} (at {})", money(m.margin), local(m.at));
    }
    if !strategies.is_empty() {
        outln!("Strategy capital:");
        let rows: Vec<Vec<String>> = strategies
            .iter()
            .map(|s| vec![s.strategy.clone(), local(s.at), money(s.capital)])
            .collect();
        out!("{}", table(&["strategy", "time", "capital"], &rows));
    }
    Ok(0)
}

async fn init(ctx: &Ctx, a: &InitArgs) -> anyhow::Result<i32> {
    let store = ctx.store.as_ref();
    let now = ctx.clock.now();
    let mut entry = initial_capital(a.value, now).map_err(cli_error)?;
    if let Some(m) = a.max {
        entry.max = non_negative("maximum capital", m).map_err(cli_error)?;
    }
    if let Some(b) = a.broker {
        entry.broker = non_negative("account value", b).map_err(cli_error)?;
    }
    if let Some(acc) = a.accumulated {
        if !acc.is_finite() {
            return Err(CliError::Invalid(format!(
                "the accumulated p&l must be a finite number, got {acc}"
            ))
            .into());
        }
        entry.accumulated = acc;
    }
    let existing = store.latest_capital().await.map_err(cli_error)?;
    let mut deleted = 0;
    if let Some(last) = existing {
        if !a.replace {
            return Err(CliError::Invalid(format!(
                "capital already exists (latest {} at {}); `--replace` deletes the history and \
                 starts again, `systrade capital adjust` records deposits and withdrawals",
                money(last.actual),
                local(last.at)
            ))
            .into());
        }
        deleted = store.delete_capital_history().await.map_err(cli_error)?;
    }
    store
        .append_capital(&entry, None)
        .await
        .map_err(cli_error)?;
    if a.json {
        print_json(&json!({ "entry": entry, "deleted": deleted }))?;
    } else {
        if deleted > 0 {
            outln!("deleted {deleted} capital entries");
        }
        outln!(
            "capital initialised: {} (max {}, accumulated {}, account value {})",
            money(entry.actual),
            money(entry.max),
            money(entry.accumulated),
            money(entry.broker)
        );
    }
    Ok(0)
}

async fn run_update(ctx: &Ctx, allow_large: bool) -> Result<CapitalUpdate, CapitalError> {
    let cfg = &ctx.config.capital;
    let broker = ctx.app().broker();
    update_total_capital(
        ctx.store.as_ref(),
        broker.as_ref(),
        UpdateRules {
            method: cfg.method,
            max_change: cfg.max_change,
            base_currency: &cfg.base_currency,
        },
        allow_large,
        ctx.clock.now(),
    )
    .await
}

async fn update(ctx: &Ctx, allow_large: bool, json: bool) -> anyhow::Result<i32> {
    let u = match run_update(ctx, allow_large).await {
        Ok(u) => u,
        Err(e @ CapitalError::LargeChange { .. }) if !json && on_terminal() => {
            // §B9's interactive retry with no limit.
            eprintln!("{e}");
            let take = dialoguer::Confirm::new()
                .with_prompt("Is the new account value right? Take the change")
                .default(false)
                .interact()
                .context("prompt cancelled")?;
            if !take {
                outln!("nothing written");
                return Ok(3);
            }
            run_update(ctx, true).await.map_err(cli_error)?
        }
        Err(e) => return Err(cli_error(e)),
    };
    if json {
        print_json(&u)?;
        return Ok(0);
    }
    let e = &u.entry;
    if u.initialised {
        outln!(
            "capital initialised from the account value: {}",
            money(e.actual)
        );
    } else {
        outln!(
            "account value {} (p&l {}, {:+.2}%{}): capital {}, max {}, accumulated {}",
            money(e.broker),
            money(u.pnl),
            u.change_fraction * 100.0,
            if u.large_change_confirmed {
                ", large change confirmed"
            } else {
                ""
            },
            money(e.actual),
            money(e.max),
            money(e.accumulated)
        );
    }
    Ok(0)
}

async fn adjust(ctx: &Ctx, delta: f64, json: bool) -> anyhow::Result<i32> {
    let store = ctx.store.as_ref();
    let prev = store
        .latest_capital()
        .await
        .map_err(cli_error)?
        .ok_or_else(|| cli_error(CapitalError::NoCapital))?;
    let entry = adjust_broker(&prev, delta, ctx.clock.now()).map_err(cli_error)?;
    store
        .append_capital(&entry, Some(prev.at))
        .await
        .map_err(cli_error)?;
    if json {
        print_json(&json!({ "delta": delta, "entry": entry }))?;
    } else {
        outln!(
            "{} of {} recorded: account value {} -> {} (capital unchanged at {})",
            if delta > 0.0 { "deposit" } else { "withdrawal" },
            money(delta.abs()),
            money(prev.broker),
            money(entry.broker),
            money(entry.actual)
        );
    }
    Ok(0)
}

async fn delete(ctx: &Ctx, all: bool, yes: bool, json: bool) -> anyhow::Result<i32> {
    let store = ctx.store.as_ref();
    let history = store.capital_history().await.map_err(cli_error)?;
    let Some(last) = history.last() else {
        if json {
            print_json(&json!({ "deleted": 0 }))?;
        } else {
            outln!("no capital entries; nothing deleted");
        }
        return Ok(0);
    };
    let what = if all {
        format!("all {} capital entries", history.len())
    } else {
        format!(
            "the newest capital entry ({} at {})",
            money(last.actual),
            local(last.at)
        )
    };
    if !yes {
        if !on_terminal() {
            return Err(CliError::Invalid(format!(
                "refusing to delete {what} without --yes when not on a terminal"
            ))
            .into());
        }
        let sure = dialoguer::Confirm::new()
            .with_prompt(format!("Delete {what}?"))
            .default(false)
            .interact()
            .context("prompt cancelled")?;
        if !sure {
            outln!("nothing deleted");
            return Ok(0);
        }
    }
    let deleted = if all {
        store.delete_capital_history().await.map_err(cli_error)?
    } else {
        u64::from(
            store
                .delete_last_capital()
                .await
                .map_err(cli_error)?
                .is_some(),
        )
    };
    if json {
        print_json(&json!({ "deleted": deleted }))?;
    } else {
        outln!("deleted {what}");
    }
    Ok(0)
}

async fn strategies(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let store = ctx.store.as_ref();
    let total = store.latest_capital().await.map_err(cli_error)?;
    let weights = &ctx.config.strategies.weights;
    let shares = crate::domain::capital::allocate(weights, total.map_or(0.0, |t| t.actual));
    let sum: f64 = weights.iter().map(|(_, w)| w).sum();
    let mut rows = Vec::new();
    for (name, weight) in weights {
        let recorded = store
            .latest_strategy_capital(name)
            .await
            .map_err(cli_error)?;
        let share = shares
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, s)| *s);
        rows.push(json!({
            "strategy": name,
            "weight": weight,
            "fraction": if sum > 0.0 { weight / sum } else { 0.0 },
            "share_of_latest_total": total.map(|_| share),
            "recorded": recorded,
        }));
    }
    if json {
        print_json(&json!({
            "base_currency": ctx.config.capital.base_currency,
            "total_capital": total,
            "strategies": rows,
        }))?;
        return Ok(0);
    }
    match total {
        Some(t) => outln!(
            "Total capital {} {} (at {})",
            money(t.actual),
            ctx.config.capital.base_currency,
            local(t.at)
        ),
        None => outln!(
            "No total capital yet: `systrade capital init VALUE` or `systrade capital update`"
        ),
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let rec = &r["recorded"];
            vec![
                r["strategy"].as_str().unwrap_or_default().to_string(),
                format!("{}", r["weight"]),
                format!("{:.1}%", r["fraction"].as_f64().unwrap_or(0.0) * 100.0),
                r["share_of_latest_total"]
                    .as_f64()
                    .map_or("-".into(), money),
                rec["capital"].as_f64().map_or("-".into(), money),
                rec["at"].as_str().unwrap_or("-").to_string(),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &[
                "strategy",
                "weight",
                "fraction",
                "share now",
                "recorded",
                "recorded at"
            ],
            &table_rows
        )
    );
    Ok(0)
}

async fn strategy_history(ctx: &Ctx, name: &str, json: bool) -> anyhow::Result<i32> {
    let store = ctx.store.as_ref();
    let history = store
        .strategy_capital_history(name)
        .await
        .map_err(cli_error)?;
    let configured = ctx.config.strategies.weights.iter().any(|(n, _)| n == name);
    if history.is_empty() && !configured {
        let names: Vec<&str> = ctx
            .config
            .strategies
            .weights
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        return Err(CliError::Invalid(format!(
            "unknown strategy `{name}`: not in strategies.weights and never allocated{}",
            crate::engine::diagnostic::did_you_mean(name, names.iter().copied())
                .map(|h| format!(" ({h})"))
                .unwrap_or_else(|| format!(" (configured: {})", names.join(", ")))
        ))
        .into());
    }
    if json {
        print_json(&json!({ "strategy": name, "history": history }))?;
        return Ok(0);
    }
    if history.is_empty() {
        outln!("{name}: no capital allocated yet (run update_strategy_capital)");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|s| vec![local(s.at), money(s.capital)])
        .collect();
    outln!("Capital of {name}:");
    out!("{}", table(&["time", "capital"], &rows));
    Ok(0)
}

/// The menu shown by `systrade capital` on a terminal.
async fn menu(ctx: &Ctx) -> anyhow::Result<i32> {
    let items = [
        "Show capital",
        "Update capital from the broker's account value",
        "Update and accept a large change (no limit)",
        "Initialise capital",
        "Record a deposit",
        "Record a withdrawal",
        "Delete the newest capital entry",
        "Delete all capital entries",
        "Show strategy capital",
        "Quit",
    ];
    let picked = dialoguer::Select::new()
        .with_prompt("Capital")
        .items(items)
        .default(0)
        .interact()
        .context("menu cancelled")?;
    let amount = |prompt: &str| -> anyhow::Result<f64> {
        let text: String = dialoguer::Input::new()
            .with_prompt(prompt)
            .interact_text()
            .context("prompt cancelled")?;
        text.trim()
            .parse::<f64>()
            .map_err(|_| CliError::Invalid(format!("`{text}` is not a number")).into())
    };
    match picked {
        0 => show(ctx, None, false).await,
        1 => update(ctx, false, false).await,
        2 => update(ctx, true, false).await,
        3 => {
            let value = amount("Total capital (base currency)")?;
            let replace = ctx
                .store
                .latest_capital()
                .await
                .map_err(cli_error)?
                .is_some()
                && dialoguer::Confirm::new()
                    .with_prompt("Capital exists: delete its history and start again?")
                    .default(false)
                    .interact()
                    .context("prompt cancelled")?;
            init(
                ctx,
                &InitArgs {
                    value,
                    max: None,
                    accumulated: None,
                    broker: None,
                    replace,
                    json: false,
                },
            )
            .await
        }
        4 => {
            adjust(
                ctx,
                positive("deposit", amount("Amount deposited")?)?,
                false,
            )
            .await
        }
        5 => {
            adjust(
                ctx,
                -positive("withdrawal", amount("Amount withdrawn")?)?,
                false,
            )
            .await
        }
        6 => delete(ctx, false, false, false).await,
        7 => delete(ctx, true, false, false).await,
        8 => strategies(ctx, false).await,
        _ => Ok(0),
    }
}
