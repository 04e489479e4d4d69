//! `systrade prices spikes` and `systrade prices check-spikes`: list the price spikes the daily
//! updates found, and accept or reject them (by id, or interactively on a terminal). An accepted
//! spike's bar is written by the next update; a rejected bar is dropped from then on (see
//! `domain::price_update`).

use std::collections::BTreeSet;
use std::io::IsTerminal;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use super::super::context::Ctx;
use super::super::output::{local, local_opt, print_json, table};
use super::super::CliError;
use super::GlobalOpts;
use crate::domain::metadata::{
    MetadataError, SpikeLog, SpikeQuery, SpikeRecord, SpikeResolution, SpikeStatus, SpikeSubject,
};
use crate::domain::ports::Frequency;
use crate::domain::price_update::DAY_MICROS;
use crate::domain::series::format_timestamp;

#[derive(Args, Debug)]
pub struct SpikesArgs {
    /// Every spike, also accepted and rejected ones (default: pending only).
    #[arg(long)]
    pub all: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CheckSpikesArgs {
    /// Accept this pending spike (the price is right): the next update writes it.
    #[arg(long, value_name = "ID")]
    pub accept: Vec<i64>,
    /// Reject this pending spike (the price is wrong): the next update drops that bar.
    #[arg(long, value_name = "ID")]
    pub reject: Vec<i64>,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What applies a decision: the next run of the task that updates that series.
fn apply_hint(resolved: &[SpikeRecord]) -> String {
    let fx = resolved
        .iter()
        .any(|r| matches!(r.subject, SpikeSubject::Fx { .. }));
    let contracts = resolved
        .iter()
        .any(|r| matches!(r.subject, SpikeSubject::Contract { .. }));
    let tasks: Vec<&str> = [
        (
            contracts,
            "`systrade trigger daily update_historical_prices`",
        ),
        (fx, "`systrade trigger daily update_fx_prices`"),
    ]
    .into_iter()
    .filter_map(|(on, t)| on.then_some(t))
    .collect();
    format!(
        "the next {} (or the daily run) applies {}",
        tasks.join(" / "),
        if resolved.len() == 1 { "it" } else { "them" }
    )
}

fn spike_json(r: &SpikeRecord) -> serde_json::Value {
    json!({
        "id": r.id,
        "subject": r.subject,
        "series": r.subject.to_string(),
        "frequency": r.frequency,
        "timestamp": format_timestamp(r.ts),
        "value": r.value,
        "ratio": r.ratio,
        "detected_at": r.detected_at,
        "status": r.status,
        "resolved_at": r.resolved_at,
        "description": r.describe(),
    })
}

fn spike_row(r: &SpikeRecord) -> Vec<String> {
    vec![
        r.id.to_string(),
        r.subject.to_string(),
        r.frequency.as_str().to_string(),
        format_timestamp(r.ts),
        format!("{}", r.value),
        format!("{:.2}", r.ratio),
        local(r.detected_at),
        r.status.to_string(),
        local_opt(r.resolved_at),
    ]
}

const HEADER: [&str; 9] = [
    "id",
    "series",
    "frequency",
    "timestamp",
    "value",
    "ratio",
    "detected",
    "status",
    "resolved",
];

pub async fn spikes(opts: &GlobalOpts, a: SpikesArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let list = ctx
        .store
        .spikes(&SpikeQuery {
            status: (!a.all).then_some(SpikeStatus::Pending),
            ..Default::default()
        })
        .await?;
    if a.json {
        print_json(&json!({ "spikes": list.iter().map(spike_json).collect::<Vec<_>>() }))?;
    } else if list.is_empty() {
        outln!("no {}price spikes", if a.all { "" } else { "pending " });
    } else {
        let rows: Vec<Vec<String>> = list.iter().map(spike_row).collect();
        out!("{}", table(&HEADER, &rows));
        if list.iter().any(|r| r.status == SpikeStatus::Pending) {
            outln!("review them with `systrade prices check-spikes`");
        }
    }
    Ok(0)
}

pub async fn check_spikes(opts: &GlobalOpts, a: CheckSpikesArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    if a.accept.is_empty() && a.reject.is_empty() {
        if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() || a.json {
            return Err(CliError::Invalid(
                "not a terminal: name the spikes to resolve with --accept ID / --reject ID (list them with `systrade prices spikes`)".into(),
            )
            .into());
        }
        return interactive(&ctx).await;
    }
    // Validate everything first: nothing changes unless every id is a pending spike.
    let mut seen = BTreeSet::new();
    let decisions: Vec<(i64, SpikeResolution)> = a
        .accept
        .iter()
        .map(|id| (*id, SpikeResolution::Accept))
        .chain(a.reject.iter().map(|id| (*id, SpikeResolution::Reject)))
        .collect();
    for (id, _) in &decisions {
        if !seen.insert(*id) {
            return Err(CliError::Invalid(format!("spike {id} is named twice")).into());
        }
        match ctx.store.spike(*id).await? {
            None => return Err(CliError::Invalid(format!("no spike with id {id}")).into()),
            Some(r) if r.status != SpikeStatus::Pending => {
                return Err(CliError::Invalid(format!(
                    "spike {id} is already {} ({})",
                    r.status,
                    r.describe()
                ))
                .into())
            }
            Some(_) => {}
        }
    }
    let mut resolved = Vec::new();
    for (id, resolution) in decisions {
        let r = ctx
            .store
            .resolve_spike(id, resolution, ctx.clock.now())
            .await
            .map_err(|e| match e {
                MetadataError::UnknownSpike { .. } | MetadataError::SpikeAlreadyResolved { .. } => {
                    anyhow::Error::from(CliError::Invalid(e.to_string()))
                }
                other => other.into(),
            })?;
        resolved.push(r);
    }
    if a.json {
        print_json(&json!({
            "resolved": resolved.iter().map(spike_json).collect::<Vec<_>>(),
            "next": apply_hint(&resolved),
        }))?;
    } else {
        for r in &resolved {
            outln!("spike {} {}: {}", r.id, r.status, r.describe());
        }
        outln!("{}", apply_hint(&resolved));
    }
    Ok(0)
}

/// The stored values around a spike (a few before) and what the market has around it now.
fn context_lines(ctx: &Ctx, spike: &SpikeRecord) -> anyhow::Result<Vec<String>> {
    let app = ctx.app();
    let store = app.price_store();
    let reference = app
        .reference_data()
        .map_err(|e| anyhow::anyhow!("reference data: {e}"))?;
    let market = app.market(&reference);
    let (from, to) = (spike.ts - 7 * DAY_MICROS, spike.ts + 3 * DAY_MICROS);
    type Points = Vec<(i64, f64)>;
    let (stored, fetched): (Points, Points) = match &spike.subject {
        SpikeSubject::Fx { currency } => {
            let s = store.read_fx(currency)?.unwrap_or_default();
            let f = market.fx_rates(currency, from, to).unwrap_or_default();
            (
                s.ts.into_iter().zip(s.value).collect(),
                f.ts.into_iter().zip(f.value).collect(),
            )
        }
        SpikeSubject::Contract {
            instrument,
            contract,
        } => {
            let s = store
                .read_contract(instrument, *contract, spike.frequency)?
                .unwrap_or_default();
            let f = market
                .contract_bars(instrument, *contract, spike.frequency, from, to)
                .unwrap_or_default();
            (
                s.ts.into_iter().zip(s.close).collect(),
                f.ts.into_iter().zip(f.close).collect(),
            )
        }
    };
    let mut lines = Vec::new();
    let before: Vec<_> = stored.iter().filter(|(t, _)| *t < spike.ts).collect();
    for (t, v) in &before[before.len().saturating_sub(5)..] {
        lines.push(format!("  stored   {}  {v}", format_timestamp(*t)));
    }
    let around: Vec<_> = fetched
        .iter()
        .filter(|(t, _)| before.last().is_none_or(|(l, _)| t > l))
        .take(6)
        .collect();
    for (t, v) in around {
        let mark = if *t == spike.ts { "  <- spike" } else { "" };
        lines.push(format!("  market   {}  {v}{mark}", format_timestamp(*t)));
    }
    Ok(lines)
}

async fn interactive(ctx: &Ctx) -> anyhow::Result<i32> {
    let pending = ctx.store.spikes(&SpikeQuery::default()).await?;
    if pending.is_empty() {
        outln!("no pending price spikes");
        return Ok(0);
    }
    let mut resolved = Vec::new();
    for spike in pending {
        outln!("\nspike {}: {}", spike.id, spike.describe());
        match context_lines(ctx, &spike) {
            Ok(lines) => {
                for l in lines {
                    outln!("{l}");
                }
            }
            Err(e) => outln!("  (cannot show the surrounding prices: {e})"),
        }
        let unit = match spike.frequency {
            Frequency::Hourly => "bar",
            _ => "price",
        };
        let choices = [
            format!("accept: the {unit} is right, write it"),
            format!("reject: the {unit} is wrong, drop it"),
            "skip: decide later".to_string(),
            "quit".to_string(),
        ];
        let picked = dialoguer::Select::new()
            .with_prompt(format!("Spike {}", spike.id))
            .items(&choices)
            .default(2)
            .interact()
            .context("menu cancelled")?;
        let resolution = match picked {
            0 => SpikeResolution::Accept,
            1 => SpikeResolution::Reject,
            3 => break,
            _ => continue,
        };
        let r = ctx
            .store
            .resolve_spike(spike.id, resolution, ctx.clock.now())
            .await?;
        outln!("spike {} {}", r.id, r.status);
        resolved.push(r);
    }
    if !resolved.is_empty() {
        outln!("{}", apply_hint(&resolved));
    }
    Ok(0)
}
