//! `systrade roll INSTRUMENT`: the roll report of one instrument and changes of its roll state
//! (pysystemtrade's `interactive_update_roll_status`, B8). Without flags it prints the report;
//! `--state` changes the state by the transition table; `roll_adjusted` rolls the multiple and
//! adjusted prices (see [`adjust`]) and leaves the state pending until `--confirm` or `--undo`;
//! `-i` offers the same actions in a menu on a terminal.
//!
//! The positions are the system's contract positions (all strategies) from the order stacks'
//! position store: they decide the allowed transitions, the suggestion, the demotion shown and
//! the trade-limit check. `roll ALL` prints the report of every instrument with multiple prices,
//! soonest roll first.

mod adjust;
mod all;
mod effects;

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::print_json;
use super::prices::known_instrument;
use super::CliError;
use crate::adapters::parquet::ParquetPriceStore;
use crate::adapters::reference_files::load_reference_data;
use crate::domain::contract::ContractId;
use crate::domain::instrument::{InstrumentCode, RollParameters};
use crate::domain::metadata::{MetadataError, RollStateStore};
use crate::domain::orders::OrderStore;
use crate::domain::ports::{Frequency, PriceStore};
use crate::domain::roll_report::RollReport;
use crate::domain::rolls::{check_transition, side_effects, RollSideEffect, RollState};
use crate::domain::series::{ContractPrices, MultiplePrices};

#[derive(Args, Debug)]
pub struct RollArgs {
    /// Instrument code, e.g. AUD, or ALL for the report of every instrument with multiple
    /// prices (soonest roll first; state changes stay per instrument).
    pub instrument: String,
    /// Change the roll state: no_roll, passive, force, force_outright, roll_adjusted, close,
    /// no_open. roll_adjusted rolls the multiple and adjusted prices (asks first unless --yes).
    #[arg(long, value_name = "STATE", conflicts_with_all = ["undo", "confirm", "interactive"])]
    pub state: Option<String>,
    /// Roll the prices without asking (needed when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// While roll_adjusted: restore the prices from before the roll and the previous state.
    #[arg(long, conflicts_with_all = ["confirm", "interactive"])]
    pub undo: bool,
    /// While roll_adjusted: keep the rolled prices, delete the backup and set no_roll.
    #[arg(long, conflicts_with = "interactive")]
    pub confirm: bool,
    /// Forward-fill missing prices before rolling (pysystemtrade's retry option).
    #[arg(long)]
    pub forward_fill: bool,
    /// Show the report, then choose an action from a menu (terminal only).
    #[arg(long, short = 'i')]
    pub interactive: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What the actions need.
struct Env<'a> {
    ctx: &'a Ctx,
    prices: &'a ParquetPriceStore,
    code: InstrumentCode,
    params: RollParameters,
    /// The system's position in each contract of the instrument (all strategies).
    positions: BTreeMap<ContractId, i64>,
}

/// Every stored contract position, by instrument and contract.
async fn all_positions(
    ctx: &Ctx,
) -> anyhow::Result<BTreeMap<InstrumentCode, BTreeMap<ContractId, i64>>> {
    let orders: &dyn OrderStore = ctx.store.as_ref();
    Ok(crate::reports::roll::contract_positions(orders).await?)
}

impl Env<'_> {
    /// The position in a contract (0 when none is recorded).
    fn position(&self, contract: ContractId) -> i64 {
        self.positions.get(&contract).copied().unwrap_or(0)
    }

    /// The priced contract of the last multiple-prices row and the position in it.
    fn priced(&self) -> anyhow::Result<(ContractId, i64)> {
        let m = self.multiple()?;
        let pc = m.price_contract.last().copied().ok_or_else(|| {
            CliError::Invalid(format!("`{}` has no multiple prices rows", self.code))
        })?;
        Ok((pc, self.position(pc)))
    }

    async fn state(&self) -> anyhow::Result<RollState> {
        Ok(self.ctx.store.roll_state(&self.code).await?)
    }

    fn multiple(&self) -> anyhow::Result<MultiplePrices> {
        match self.prices.read_multiple(&self.code)? {
            Some(m) if !m.is_empty() => Ok(m),
            _ => Err(CliError::Invalid(format!(
                "`{}` has no multiple prices; import or update prices first",
                self.code
            ))
            .into()),
        }
    }

    /// Merged bars of a contract, else daily.
    fn bars(&self, contract: ContractId) -> anyhow::Result<Option<ContractPrices>> {
        for f in [Frequency::Merged, Frequency::Daily] {
            if let Some(b) = self.prices.read_contract(&self.code, contract, f)? {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    /// Compare-and-set of the state; a concurrent change is refused (exit 2).
    async fn set_state(&self, from: RollState, to: RollState, note: &str) -> anyhow::Result<()> {
        let now = self.ctx.clock.now();
        match self
            .ctx
            .store
            .set_roll_state(&self.code, Some(from), to, now, Some(note))
            .await
        {
            Ok(_) => Ok(()),
            Err(e @ MetadataError::RollStateConflict { .. }) => {
                Err(CliError::Invalid(format!("{e}; nothing changed, look again")).into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

pub async fn roll(opts: &GlobalOpts, a: RollArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let reference = load_reference_data(&ctx.home.reference_dir())?;
    let prices = ParquetPriceStore::new(ctx.home.data_dir());
    if a.instrument == all::ALL {
        return all::report_all(&ctx, &reference, &prices, &a).await;
    }
    let code = known_instrument(&reference, &a.instrument)?;
    let params = reference.roll_parameters(&code).cloned().ok_or_else(|| {
        CliError::Invalid(format!("`{code}` has no roll parameters (rollconfig)"))
    })?;
    let positions = all_positions(&ctx).await?.remove(&code).unwrap_or_default();
    let env = Env {
        ctx: &ctx,
        prices: &prices,
        code,
        params,
        positions,
    };
    if a.undo {
        return adjust::undo(&env, a.json).await;
    }
    if a.confirm {
        return adjust::confirm(&env, a.json).await;
    }
    if let Some(s) = &a.state {
        let to = RollState::parse(s).map_err(|e| CliError::Invalid(e.to_string()))?;
        return change_state(&env, to, &a).await;
    }
    let report = report(&env).await?;
    if a.interactive {
        return interactive(&env, &report, &a).await;
    }
    if a.json {
        print_json(&report)?;
    } else {
        print_report(&env, &report)?;
    }
    Ok(0)
}

async fn report(env: &Env<'_>) -> anyhow::Result<RollReport> {
    use crate::reports::roll::{instrument_roll_report, RollDataError};
    instrument_roll_report(
        env.ctx.store.as_ref(),
        env.prices,
        &env.code,
        &env.params,
        &env.positions,
        env.ctx.clock.now(),
    )
    .await
    .map_err(|e| match e {
        RollDataError::Store(m) => anyhow::anyhow!(m),
        other => CliError::Invalid(other.to_string()).into(),
    })
}

fn num(v: f64) -> String {
    crate::cli::output::price_cell(v, "-")
}

/// Hides floating-point noise in differences of prices.
fn rounded(v: f64) -> f64 {
    (v * 1e10).round() / 1e10
}

fn print_report(env: &Env<'_>, r: &RollReport) -> anyhow::Result<()> {
    outln!(
        "Roll status of {} (last multiple prices row {})",
        r.instrument,
        r.last_row
    );
    outln!("  state:        {} ({})", r.state, r.state.explanation());
    if adjust::pending_backup(env)?.is_some() && r.state == RollState::RollAdjusted {
        outln!("                prices rolled, pending: `--confirm` keeps them, `--undo` restores");
    }
    if let Some(d) = r.demoted_to {
        outln!(
            "                no position in the priced contract: the stack handler trades it as {d}"
        );
    }
    let others: Vec<String> = r
        .positions
        .iter()
        .filter(|h| h.contract != r.price.contract && h.contract != r.forward.contract)
        .map(|h| format!("{} {:+}", h.contract, h.position))
        .collect();
    outln!(
        "  positions:    priced {} {:+}, forward {} {:+}{}",
        r.price.contract,
        r.priced_position,
        r.forward.contract,
        r.forward_position,
        if others.is_empty() {
            String::new()
        } else {
            format!(", other {}", others.join(", "))
        }
    );
    let allowed: Vec<String> = r
        .allowed_next
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == 0 {
                format!("{s} (recommended)")
            } else {
                s.to_string()
            }
        })
        .collect();
    outln!("  allowed next: {}", allowed.join(", "));
    outln!("  suggestion:   {}", r.suggestion);
    outln!("  contracts (~ = approximate expiry):");
    for (name, c) in [
        ("price", &r.price),
        ("forward", &r.forward),
        ("carry", &r.carry),
    ] {
        outln!(
            "    {name:<8} {}  expiry {}{}  last {}",
            c.contract,
            if c.expiry_exact { "" } else { "~" },
            c.expiry,
            num(c.last_price)
        );
    }
    outln!(
        "  days to:      price expiry {}, carry expiry {}, desired roll {} ({})",
        r.days_to_price_expiry,
        r.days_to_carry_expiry,
        r.days_to_desired_roll,
        r.desired_roll_date
    );
    outln!(
        "  volumes:      priced {:.1}, forward {:.1}, relative {:.3}",
        r.priced_volume,
        r.forward_volume,
        r.relative_volume
    );
    outln!(
        "  carry:        forward - price {}, carry - price {}",
        num(rounded(r.forward_minus_price)),
        num(rounded(r.carry_minus_price))
    );
    Ok(())
}

async fn change_state(env: &Env<'_>, to: RollState, a: &RollArgs) -> anyhow::Result<i32> {
    let from = env.state().await?;
    if from == to {
        if a.json {
            print_json(
                &json!({ "instrument": env.code, "from": from, "to": to, "changed": false }),
            )?;
        } else {
            outln!("{}: already {to}; nothing changed", env.code);
        }
        return Ok(0);
    }
    let (priced, q) = env.priced()?;
    check_transition(from, to, q != 0).map_err(|e| {
        CliError::Invalid(format!(
            "{}: {e} (position {q:+} in the priced contract {priced}); nothing changed",
            env.code
        ))
    })?;
    let effects = side_effects(from, to);
    if to == RollState::RollAdjusted {
        // Leaving no_open puts the instrument's override back before the prices roll.
        let restore: Vec<_> = effects
            .iter()
            .copied()
            .filter(|e| *e == RollSideEffect::RestoreOverride)
            .collect();
        for n in effects::apply(env, &restore, to, q).await? {
            if !a.json {
                outln!("note: {n}");
            }
        }
        return adjust::roll_adjusted(env, from, a).await;
    }
    env.set_state(from, to, "systrade roll --state").await?;
    let notes = effects::apply(env, &effects, to, q).await?;
    // Leaving roll_adjusted for no_roll keeps the rolled prices, as --confirm does.
    let dropped = if from == RollState::RollAdjusted {
        adjust::delete_backups(env)?
    } else {
        0
    };
    if a.json {
        print_json(&json!({
            "instrument": env.code, "from": from, "to": to, "changed": true,
            "side_effects": effects, "notes": notes, "backups_deleted": dropped,
        }))?;
    } else {
        outln!("{}: roll state {from} -> {to}", env.code);
        for n in &notes {
            outln!("note: {n}");
        }
        if dropped > 0 {
            outln!("the rolled prices are kept; roll backup deleted");
        }
    }
    Ok(0)
}

/// Whether prompts can be shown.
fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

async fn interactive(env: &Env<'_>, report: &RollReport, a: &RollArgs) -> anyhow::Result<i32> {
    if !on_terminal() {
        return Err(CliError::Invalid(
            "--interactive needs a terminal; use --state STATE, --undo or --confirm instead".into(),
        )
        .into());
    }
    print_report(env, report)?;
    enum Choice {
        State(RollState),
        Confirm,
        Undo,
        Leave,
    }
    let mut choices: Vec<(String, Choice)> = report
        .allowed_next
        .iter()
        .enumerate()
        .filter(|(_, s)| **s != report.state)
        .map(|(i, s)| {
            let label = format!(
                "{s}{}: {}",
                if i == 0 { " (recommended)" } else { "" },
                s.explanation()
            );
            (label, Choice::State(*s))
        })
        .collect();
    if report.state == RollState::RollAdjusted && adjust::pending_backup(env)?.is_some() {
        choices.push((
            "confirm the roll (keep the rolled prices)".into(),
            Choice::Confirm,
        ));
        choices.push((
            "undo the roll (restore the previous prices)".into(),
            Choice::Undo,
        ));
    }
    choices.push((format!("leave unchanged ({})", report.state), Choice::Leave));
    let labels: Vec<&str> = choices.iter().map(|(l, _)| l.as_str()).collect();
    let picked = dialoguer::Select::new()
        .with_prompt(format!("New roll state for {}", env.code))
        .items(&labels)
        .default(0)
        .interact()
        .context("menu cancelled")?;
    match choices.get(picked).map(|(_, c)| c) {
        Some(Choice::State(s)) => change_state(env, *s, a).await,
        Some(Choice::Confirm) => adjust::confirm(env, a.json).await,
        Some(Choice::Undo) => adjust::undo(env, a.json).await,
        Some(Choice::Leave) | None => {
            outln!("{}: roll state left at {}", env.code, report.state);
            Ok(0)
        }
    }
}
