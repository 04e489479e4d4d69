//! `systrade control` (GO / STOP / NO-RUN per workflow) and `systrade startup` (crash recovery
//! after a reboot: dead lock holders' runs are marked crashed and their locks released).

use clap::Args;
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::{local, print_json, table};
use super::CliError;
use crate::app::workflow_sources;
use crate::engine::diagnostic::did_you_mean;
use crate::engine::process::holder_is_dead;
use crate::engine::store::{ControlState, RunStore};

#[derive(Args, Debug)]
pub struct ControlArgs {
    /// Workflow name (or, with --all, the state).
    pub workflow: Option<String>,
    /// go, stop or no-run.
    pub state: Option<String>,
    /// Set every known workflow to the given state.
    #[arg(long)]
    pub all: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_state(s: &str) -> anyhow::Result<ControlState> {
    let norm = s.to_ascii_lowercase().replace('_', "-");
    let norm = if norm == "norun" {
        "no-run".to_string()
    } else {
        norm
    };
    ControlState::parse(&norm).ok_or_else(|| {
        CliError::Invalid(format!(
            "unknown control state `{s}`: use go, stop or no-run"
        ))
        .into()
    })
}

pub async fn control(opts: &GlobalOpts, a: ControlArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let known: Vec<String> = workflow_sources(&ctx.home).into_keys().collect();
    let targets: Vec<(String, ControlState)> = match (a.all, &a.workflow, &a.state) {
        (true, Some(state), None) => {
            let s = parse_state(state)?;
            known.iter().map(|w| (w.clone(), s)).collect()
        }
        (true, _, _) => {
            return Err(CliError::Invalid(
                "with --all give just the state: `systrade control --all stop`".into(),
            )
            .into())
        }
        (false, Some(w), Some(state)) => {
            let s = parse_state(state)?;
            if !known.contains(w) {
                let help = did_you_mean(w, known.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("known workflows: {}", known.join(", ")));
                return Err(CliError::Invalid(format!("no workflow named `{w}`; {help}")).into());
            }
            vec![(w.clone(), s)]
        }
        (false, Some(w), None) => {
            return Err(
                CliError::Invalid(format!("give the state for `{w}`: go, stop or no-run")).into(),
            )
        }
        (false, None, _) => Vec::new(),
    };
    let now = ctx.clock.now();
    for (w, s) in &targets {
        ctx.store.set_control_state(w, *s, now).await?;
        if !a.json {
            outln!("{w}: {}", s.as_str().to_uppercase());
        }
    }
    if targets.is_empty() {
        let states = ctx.store.control_states().await?;
        let rows: Vec<_> = known
            .iter()
            .map(|w| {
                let rec = states.iter().find(|r| &r.workflow == w);
                json!({ "workflow": w, "state": rec.map_or(ControlState::Go, |r| r.state), "updated_at": rec.map(|r| r.updated_at) })
            })
            .collect();
        if a.json {
            print_json(&rows)?;
        } else {
            let table_rows: Vec<Vec<String>> = known
                .iter()
                .map(|w| {
                    let rec = states.iter().find(|r| &r.workflow == w);
                    vec![
                        w.clone(),
                        rec.map_or("GO".into(), |r| r.state.as_str().to_uppercase()),
                        rec.map(|r| local(r.updated_at))
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            out!("{}", table(&["WORKFLOW", "STATE", "SINCE"], &table_rows));
        }
    } else if a.json {
        print_json(
            &targets
                .iter()
                .map(|(w, s)| json!({ "workflow": w, "state": s }))
                .collect::<Vec<_>>(),
        )?;
    }
    Ok(0)
}

/// `systrade startup`: what sysproduction's startup does (mark processes finished), but only for
/// holders that are really dead, and recording which runs crashed.
pub async fn startup(opts: &GlobalOpts, json_out: bool) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let now = ctx.clock.now();
    let mut crashed = Vec::new();
    let mut alive = Vec::new();
    for lock in ctx.store.locks().await? {
        if holder_is_dead(&lock, &ctx.identity) {
            if let Some(run) = ctx.store.mark_crashed(&lock, now).await? {
                crashed.push(run);
            }
            tracing::warn!(workflow = %lock.workflow, pid = lock.pid, "released the lock of a dead process");
        } else {
            alive.push(lock);
        }
    }
    let orphans = ctx.store.crash_orphan_runs(now).await?;
    crashed.extend(orphans);
    crashed.sort_unstable();
    crashed.dedup();
    let app = ctx.app();
    for &run_id in &crashed {
        let workflow = match ctx.store.get_run(run_id).await {
            Ok(Some(run)) => run.workflow,
            _ => "?".into(),
        };
        let alert = crate::app::crashed_run_alert(&workflow, run_id, "by `systrade startup`");
        if let Err(e) = app.raise(alert).await {
            tracing::error!("cannot record the alert of crashed run {run_id}: {e}");
        }
    }
    if json_out {
        print_json(&json!({ "crashed_runs": crashed, "still_running": alive }))?;
    } else {
        if crashed.is_empty() {
            outln!("no crashed runs found");
        }
        for r in &crashed {
            outln!("run {r} crashed; `systrade rerun {r}` re-executes what did not finish");
        }
        for l in &alive {
            outln!(
                "`{}` is still running (pid {} on {})",
                l.workflow,
                l.pid,
                l.host
            );
        }
    }
    Ok(0)
}
