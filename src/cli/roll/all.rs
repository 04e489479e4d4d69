//! `systrade roll ALL`: the roll report of every instrument with multiple prices, soonest roll
//! first (days to the desired roll date, then instrument), as pysystemtrade's
//! `interactive_update_roll_status` does for ALL. Read only: state changes stay per instrument.

use serde_json::json;

use super::{print_report, Env, RollArgs};
use crate::adapters::parquet::ParquetPriceStore;
use crate::cli::context::Ctx;
use crate::cli::output::print_json;
use crate::cli::CliError;
use crate::domain::instrument::ReferenceData;
use crate::domain::instrument::RollParameters;
use crate::domain::roll_report::RollReport;

/// The instrument argument that means every instrument.
pub(super) const ALL: &str = "ALL";

pub(super) async fn report_all(
    ctx: &Ctx,
    reference: &ReferenceData,
    prices: &ParquetPriceStore,
    a: &RollArgs,
) -> anyhow::Result<i32> {
    let refused = [
        (a.state.is_some(), "--state"),
        (a.undo, "--undo"),
        (a.confirm, "--confirm"),
        (a.interactive, "--interactive"),
        (a.yes, "--yes"),
        (a.forward_fill, "--forward-fill"),
    ];
    if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
        return Err(CliError::Invalid(format!(
            "`roll ALL` only shows the reports; {flag} changes one instrument: use `systrade roll \
             INSTRUMENT {flag}` (nothing changed)"
        ))
        .into());
    }
    let app = ctx.app();
    let (reports, skipped) =
        crate::reports::roll::all_roll_reports(&app, reference, None, ctx.clock.now())
            .await
            .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let reports: Vec<(RollReport, RollParameters)> = reports
        .into_iter()
        .filter_map(|r| {
            let params = reference.roll_parameters(&r.instrument)?.clone();
            Some((r, params))
        })
        .collect();
    if a.json {
        let reports: Vec<&RollReport> = reports.iter().map(|(r, _)| r).collect();
        print_json(&json!({ "reports": reports, "skipped": skipped }))?;
        return Ok(0);
    }
    if reports.is_empty() {
        outln!("no instrument has multiple prices to report on");
    }
    for (i, (r, params)) in reports.into_iter().enumerate() {
        if i > 0 {
            outln!();
        }
        let env = Env {
            ctx,
            prices,
            positions: Default::default(),
            code: r.instrument.clone(),
            params,
        };
        print_report(&env, &r)?;
    }
    for s in &skipped {
        eprintln!("skipped {s}");
    }
    Ok(0)
}
