//! `systrade positions`: the optimal positions run_systems stored (§B11), per strategy and
//! instrument — the unrounded notional position, its buffer edges, the reference price and
//! contract, the date of the prices and when it was computed — latest or as history.

use clap::{Args, Subcommand};
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::{print_json, table};
use super::CliError;
use crate::domain::instrument::InstrumentCode;
use crate::domain::optimal::{OptimalPosition, OptimalPositionStore};
use crate::engine::diagnostic::did_you_mean;

#[derive(Args, Debug)]
pub struct PositionsArgs {
    #[command(subcommand)]
    pub command: PositionsCommand,
}

#[derive(Subcommand, Debug)]
pub enum PositionsCommand {
    /// The latest optimal position of every strategy and instrument.
    Optimal(OptimalArgs),
    /// Every optimal position stored for one strategy and instrument, oldest first.
    History(HistoryArgs),
}

#[derive(Args, Debug)]
pub struct OptimalArgs {
    /// Only this strategy.
    #[arg(long)]
    pub strategy: Option<String>,
    /// As JSON: {"positions": [{strategy, instrument, computed_at, date, optimal, lower, upper,
    /// reference_price, reference_contract}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    #[arg(long)]
    pub strategy: String,
    #[arg(long)]
    pub instrument: String,
    /// As JSON (same objects as `positions optimal --json`).
    #[arg(long)]
    pub json: bool,
}

pub async fn positions(opts: &GlobalOpts, a: PositionsArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let store: &dyn OptimalPositionStore = ctx.store.as_ref();
    let (rows, json) = match a.command {
        PositionsCommand::Optimal(o) => {
            let rows = store
                .latest_optimal_positions(o.strategy.as_deref())
                .await?;
            if rows.is_empty() && !o.json {
                let which = o
                    .strategy
                    .map(|s| format!(" for strategy `{s}`"))
                    .unwrap_or_default();
                outln!("no optimal positions{which} yet: they are stored by the run_systems task of the daily workflow");
                return Ok(0);
            }
            (rows, o.json)
        }
        PositionsCommand::History(h) => {
            let code = InstrumentCode::new(&h.instrument)
                .map_err(|e| CliError::Invalid(format!("--instrument: {e}")))?;
            let reference = ctx.app().reference_data()?;
            if reference.instrument(&code).is_none() {
                let help = did_you_mean(
                    code.as_str(),
                    reference.instruments.keys().map(|c| c.as_str()),
                )
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
                return Err(CliError::Invalid(format!(
                    "--instrument: unknown instrument `{code}` (not in the reference data){help}"
                ))
                .into());
            }
            let rows = store.optimal_position_history(&h.strategy, &code).await?;
            if rows.is_empty() && !h.json {
                outln!(
                    "no optimal positions for strategy `{}` and instrument {code}",
                    h.strategy
                );
                return Ok(0);
            }
            (rows, h.json)
        }
    };
    if json {
        print_json(&json!({ "positions": rows }))?;
    } else {
        print_table(&rows)?;
    }
    Ok(0)
}

fn print_table(rows: &[OptimalPosition]) -> anyhow::Result<()> {
    let header = [
        "strategy",
        "instrument",
        "date",
        "optimal",
        "lower",
        "upper",
        "ref_price",
        "ref_contract",
        "computed_at",
    ];
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|p| {
            vec![
                p.strategy.clone(),
                p.instrument.to_string(),
                p.date.to_string(),
                format!("{:.3}", p.optimal),
                format!("{:.3}", p.lower),
                format!("{:.3}", p.upper),
                format!("{}", p.reference_price),
                p.reference_contract
                    .map_or_else(|| "-".to_string(), |c| c.to_string()),
                p.computed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]
        })
        .collect();
    out!("{}", table(&header, &body));
    Ok(())
}
