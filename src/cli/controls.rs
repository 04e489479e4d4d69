//! `systrade overrides`, `systrade limits` and `systrade controls trade-limits`: the trading
//! controls a person sets (pysystemtrade's `interactive_controls` options for overrides,
//! position limits and trade limits, B13–B15). Each has `list`, `set` and `delete` (trade limits
//! also `reset` and `auto`, in [`trade_limits`]); without a subcommand, on a terminal, a menu
//! offers the same (see [`menu`]). Instruments must be in the reference data; bad values change
//! nothing (exit 2).

mod menu;
mod trade_limits;

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::{local, print_json, table};
use super::prices::known_instrument;
use super::CliError;
use crate::adapters::reference_files::load_reference_data;
use crate::domain::controls::{
    ControlStore, LimitRecord, LimitScope, Override, OverrideRecord, OverrideScope, PositionLimit,
    StrategyName,
};
use crate::domain::instrument::InstrumentCode;

#[derive(Args, Debug)]
pub struct OverridesArgs {
    #[command(subcommand)]
    pub command: Option<OverridesCommand>,
}

#[derive(Subcommand, Debug)]
pub enum OverridesCommand {
    /// Every stored override.
    List(ListArgs),
    /// Set the override of a strategy, an instrument, or a strategy's instrument.
    Set(SetOverrideArgs),
    /// Remove the override of a strategy, an instrument, or a strategy's instrument.
    Delete(DeleteOverrideArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct OverrideTarget {
    /// The strategy (alone: all its instruments).
    #[arg(long)]
    pub strategy: Option<String>,
    /// The instrument (alone: in every strategy).
    #[arg(long)]
    pub instrument: Option<String>,
}

#[derive(Args, Debug)]
pub struct SetOverrideArgs {
    #[command(flatten)]
    pub target: OverrideTarget,
    /// close, none, no-trading, reduce-only, or a multiplier from 0 to 1 (0.5 halves the
    /// position; 0 is close, 1 is none).
    #[arg(allow_hyphen_values = true)]
    pub value: String,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DeleteOverrideArgs {
    #[command(flatten)]
    pub target: OverrideTarget,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LimitsArgs {
    #[command(subcommand)]
    pub command: Option<LimitsCommand>,
}

#[derive(Subcommand, Debug)]
pub enum LimitsCommand {
    /// Every stored position limit.
    List(ListArgs),
    /// Set the position limit of an instrument (all strategies) or of a strategy's instrument.
    Set(SetLimitArgs),
    /// Remove a position limit.
    Delete(DeleteLimitArgs),
}

#[derive(Args, Debug)]
pub struct LimitTarget {
    /// The instrument.
    #[arg(long)]
    pub instrument: String,
    /// Only this strategy's position in the instrument (default: all strategies together).
    #[arg(long)]
    pub strategy: Option<String>,
}

#[derive(Args, Debug)]
pub struct SetLimitArgs {
    #[command(flatten)]
    pub target: LimitTarget,
    /// The largest absolute position in contracts (>= 0), or `none` for no limit.
    #[arg(allow_hyphen_values = true)]
    pub limit: String,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DeleteLimitArgs {
    #[command(flatten)]
    pub target: LimitTarget,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ControlsArgs {
    #[command(subcommand)]
    pub command: ControlsCommand,
}

#[derive(Subcommand, Debug)]
pub enum ControlsCommand {
    /// Trade limits: at most N contracts per rolling period of P days for an instrument (all
    /// strategies) or a strategy's instrument; the stack handler cuts broker orders to them.
    /// list, set, reset, delete, auto; a menu without a subcommand.
    TradeLimits(trade_limits::TradeLimitsArgs),
}

/// An override as printed by `--json`.
#[derive(Debug, Serialize)]
struct OverrideJson {
    scope: &'static str,
    strategy: Option<String>,
    instrument: Option<String>,
    /// The text form: close, none, no-trading, reduce-only or the multiplier.
    #[serde(rename = "override")]
    value: Override,
    /// pysystemtrade's stored number.
    numeric: f64,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<&OverrideRecord> for OverrideJson {
    fn from(r: &OverrideRecord) -> Self {
        OverrideJson {
            scope: r.scope.kind(),
            strategy: r.scope.strategy().map(|s| s.to_string()),
            instrument: r.scope.instrument().map(|i| i.to_string()),
            value: r.value,
            numeric: r.value.to_numeric(),
            updated_at: r.updated_at,
        }
    }
}

/// A position limit as printed by `--json`.
#[derive(Debug, Serialize)]
struct LimitJson {
    scope: &'static str,
    strategy: Option<String>,
    instrument: String,
    /// Contracts, or null for no limit.
    limit: PositionLimit,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<&LimitRecord> for LimitJson {
    fn from(r: &LimitRecord) -> Self {
        LimitJson {
            scope: r.scope.kind(),
            strategy: r.scope.strategy().map(|s| s.to_string()),
            instrument: r.scope.instrument().to_string(),
            limit: r.limit,
            updated_at: r.updated_at,
        }
    }
}

fn invalid(msg: impl Into<String>) -> anyhow::Error {
    CliError::Invalid(msg.into()).into()
}

/// A strategy name from the command line; a note on stderr when it is not configured.
fn strategy_name(ctx: &Ctx, text: &str) -> anyhow::Result<StrategyName> {
    let name = StrategyName::new(text.trim()).map_err(invalid)?;
    let configured = &ctx.config.strategies.weights;
    if !configured.is_empty() && !configured.iter().any(|(n, _)| n == name.as_str()) {
        let names: Vec<&str> = configured.iter().map(|(n, _)| n.as_str()).collect();
        let help = crate::engine::diagnostic::did_you_mean(name.as_str(), names.iter().copied())
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        eprintln!(
            "note: strategy `{name}` is not in strategies.weights ({}){help}",
            names.join(", ")
        );
    }
    Ok(name)
}

fn instrument_code(ctx: &Ctx, text: &str) -> anyhow::Result<InstrumentCode> {
    let reference = load_reference_data(&ctx.home.reference_dir())?;
    known_instrument(&reference, text.trim())
}

fn override_scope(ctx: &Ctx, t: &OverrideTarget) -> anyhow::Result<OverrideScope> {
    let strategy = t
        .strategy
        .as_deref()
        .map(|s| strategy_name(ctx, s))
        .transpose()?;
    let instrument = t
        .instrument
        .as_deref()
        .map(|i| instrument_code(ctx, i))
        .transpose()?;
    OverrideScope::from_parts(strategy, instrument).ok_or_else(|| {
        invalid("give --strategy S, --instrument I, or both (the strategy's instrument)")
    })
}

fn limit_scope(ctx: &Ctx, t: &LimitTarget) -> anyhow::Result<LimitScope> {
    let instrument = instrument_code(ctx, &t.instrument)?;
    let strategy = t
        .strategy
        .as_deref()
        .map(|s| strategy_name(ctx, s))
        .transpose()?;
    Ok(LimitScope::new(strategy, instrument))
}

/// Prints `systrade NAME --help` on stderr (used off a terminal with no subcommand).
fn help_and_exit_2(name: &str) -> anyhow::Result<i32> {
    help_and_exit_2_for(&[name], "list, set, delete")
}

/// Prints `systrade WORDS... --help` on stderr and asks for one of `subcommands`.
fn help_and_exit_2_for(words: &[&str], subcommands: &str) -> anyhow::Result<i32> {
    use clap::CommandFactory;
    let args = std::iter::once("systrade")
        .chain(words.iter().copied())
        .chain(std::iter::once("--help"));
    let name = words.join(" ");
    match super::Cli::command().try_get_matches_from(args) {
        Err(e) => eprintln!("{}", e.render()),
        Ok(_) => eprintln!(
            "usage: systrade {name} <{}>",
            subcommands.replace(", ", "|")
        ),
    }
    eprintln!("error: give a subcommand ({subcommands}); the menu needs a terminal");
    Ok(2)
}

pub async fn overrides(opts: &GlobalOpts, a: OverridesArgs) -> anyhow::Result<i32> {
    let Some(command) = a.command else {
        if !menu::on_terminal() {
            return help_and_exit_2("overrides");
        }
        let ctx = Ctx::open(opts).await?;
        return menu::run(&ctx).await;
    };
    let ctx = Ctx::open(opts).await?;
    match command {
        OverridesCommand::List(l) => list_overrides(&ctx, l.json).await,
        OverridesCommand::Set(s) => {
            let scope = override_scope(&ctx, &s.target)?;
            let value = Override::parse(&s.value).map_err(|e| invalid(e.to_string()))?;
            set_override(&ctx, &scope, value, s.json).await
        }
        OverridesCommand::Delete(d) => {
            let scope = override_scope(&ctx, &d.target)?;
            delete_override(&ctx, &scope, d.json).await
        }
    }
}

pub async fn limits(opts: &GlobalOpts, a: LimitsArgs) -> anyhow::Result<i32> {
    let Some(command) = a.command else {
        if !menu::on_terminal() {
            return help_and_exit_2("limits");
        }
        let ctx = Ctx::open(opts).await?;
        return menu::run(&ctx).await;
    };
    let ctx = Ctx::open(opts).await?;
    match command {
        LimitsCommand::List(l) => list_limits(&ctx, l.json).await,
        LimitsCommand::Set(s) => {
            let scope = limit_scope(&ctx, &s.target)?;
            let limit = PositionLimit::parse(&s.limit).map_err(|e| invalid(e.to_string()))?;
            set_limit(&ctx, &scope, limit, s.json).await
        }
        LimitsCommand::Delete(d) => {
            let scope = limit_scope(&ctx, &d.target)?;
            delete_limit(&ctx, &scope, d.json).await
        }
    }
}

pub async fn controls(opts: &GlobalOpts, a: ControlsArgs) -> anyhow::Result<i32> {
    match a.command {
        ControlsCommand::TradeLimits(t) => {
            let Some(command) = t.command else {
                if !menu::on_terminal() {
                    return help_and_exit_2_for(
                        &["controls", "trade-limits"],
                        "list, set, reset, delete, auto",
                    );
                }
                let ctx = Ctx::open(opts).await?;
                return menu::run(&ctx).await;
            };
            let ctx = Ctx::open(opts).await?;
            trade_limits::trade_limits(&ctx, command).await
        }
    }
}

fn dash(s: Option<String>) -> String {
    s.unwrap_or_else(|| "-".into())
}

async fn list_overrides(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let all = ctx.store.overrides().await?;
    if json {
        let rows: Vec<OverrideJson> = all.iter().map(OverrideJson::from).collect();
        print_json(&json!({ "overrides": rows }))?;
        return Ok(0);
    }
    if all.is_empty() {
        outln!("no overrides: every strategy and instrument trades normally");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|r| {
            vec![
                r.scope.kind().to_string(),
                dash(r.scope.strategy().map(|s| s.to_string())),
                dash(r.scope.instrument().map(|i| i.to_string())),
                r.value.to_string(),
                local(r.updated_at),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &["scope", "strategy", "instrument", "override", "updated"],
            &rows
        )
    );
    Ok(0)
}

async fn set_override(
    ctx: &Ctx,
    scope: &OverrideScope,
    value: Override,
    json: bool,
) -> anyhow::Result<i32> {
    let previous = ctx
        .store
        .set_override(scope, value, ctx.clock.now())
        .await?;
    let previous = previous.map(|p| p.value);
    if json {
        print_json(&json!({
            "action": "set",
            "scope": scope.kind(),
            "strategy": scope.strategy(),
            "instrument": scope.instrument(),
            "override": value,
            "numeric": value.to_numeric(),
            "previous": previous,
        }))?;
    } else {
        match previous {
            Some(p) => outln!("override of {scope}: {p} -> {value}"),
            None => outln!("override of {scope}: {value}"),
        }
    }
    Ok(0)
}

async fn delete_override(ctx: &Ctx, scope: &OverrideScope, json: bool) -> anyhow::Result<i32> {
    let Some(previous) = ctx.store.delete_override(scope, ctx.clock.now()).await? else {
        return Err(invalid(format!(
            "no override stored for {scope}; nothing deleted (`systrade overrides list` shows them)"
        )));
    };
    if json {
        print_json(&json!({
            "action": "delete",
            "scope": scope.kind(),
            "strategy": scope.strategy(),
            "instrument": scope.instrument(),
            "previous": previous.value,
        }))?;
    } else {
        outln!("override of {scope} deleted (was {})", previous.value);
    }
    Ok(0)
}

async fn list_limits(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let all = ctx.store.position_limits().await?;
    if json {
        let rows: Vec<LimitJson> = all.iter().map(LimitJson::from).collect();
        print_json(&json!({ "position_limits": rows }))?;
        return Ok(0);
    }
    if all.is_empty() {
        outln!("no position limits");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|r| {
            vec![
                r.scope.kind().to_string(),
                dash(r.scope.strategy().map(|s| s.to_string())),
                r.scope.instrument().to_string(),
                r.limit.to_string(),
                local(r.updated_at),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &["scope", "strategy", "instrument", "limit", "updated"],
            &rows
        )
    );
    Ok(0)
}

async fn set_limit(
    ctx: &Ctx,
    scope: &LimitScope,
    limit: PositionLimit,
    json: bool,
) -> anyhow::Result<i32> {
    let previous = ctx
        .store
        .set_position_limit(scope, limit, ctx.clock.now())
        .await?
        .map(|p| p.limit);
    if json {
        print_json(&json!({
            "action": "set",
            "scope": scope.kind(),
            "strategy": scope.strategy(),
            "instrument": scope.instrument(),
            "limit": limit,
            // null when none was stored; {"limit": null} when it was "no limit".
            "previous": previous.map(|p| json!({ "limit": p })),
        }))?;
    } else {
        match previous {
            Some(p) => outln!("position limit of {scope}: {p} -> {limit}"),
            None => outln!("position limit of {scope}: {limit}"),
        }
    }
    Ok(0)
}

async fn delete_limit(ctx: &Ctx, scope: &LimitScope, json: bool) -> anyhow::Result<i32> {
    let Some(previous) = ctx
        .store
        .delete_position_limit(scope, ctx.clock.now())
        .await?
    else {
        return Err(invalid(format!(
            "no position limit stored for {scope}; nothing deleted (`systrade limits list` shows them)"
        )));
    };
    if json {
        print_json(&json!({
            "action": "delete",
            "scope": scope.kind(),
            "strategy": scope.strategy(),
            "instrument": scope.instrument(),
            "previous": { "limit": previous.limit },
        }))?;
    } else {
        outln!("position limit of {scope} deleted (was {})", previous.limit);
    }
    Ok(0)
}
