//! Read-only commands: `validate`, `dag`, `runs`, `show`, `status`, `logs`, `tasks`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use serde_json::json;

use super::context::{load_config, resolve_home, Ctx, GlobalOpts};
use super::output::{local, local_opt, print_json, seconds_between, table};
use super::{CliError, DagArgs, LogsArgs, RunsArgs, ShowArgs, ValidateArgs};
use crate::app::{load_catalogue, plan_workflow, resolve_workflow, workflow_sources};
use crate::engine::diagnostic::Diagnostic;
use crate::engine::render::render;
use crate::engine::schedule::{
    decide, next_open, window_containing, AfterFacts, Decision, StartFacts,
};
use crate::engine::spec::Schedule;
use crate::engine::store::{LogQuery, NodeState, RunStore, Trigger};
use crate::engine::task::output_warnings;

/// `systrade validate NAME|FILE` / `--all`. Writes nothing.
pub async fn validate(opts: &GlobalOpts, a: ValidateArgs) -> anyhow::Result<i32> {
    let home = resolve_home(opts)?;
    let sources = if a.all {
        workflow_sources(&home).into_values().collect()
    } else {
        let Some(w) = &a.workflow else {
            return Err(CliError::Invalid(
                "name a workflow (or a .toml file), or pass --all".into(),
            )
            .into());
        };
        vec![resolve_workflow(&home, w)?]
    };
    let mut all_errors: Vec<Diagnostic> = Vec::new();
    let mut results = Vec::new();
    let env: Vec<(String, String)> = std::env::vars().collect();
    if let Err(d) = crate::config::Config::load(&home.config_path(), &env) {
        all_errors.extend(d.0);
    }
    if let Err(d) = load_catalogue(&home) {
        all_errors.extend(d.0);
    }
    for src in &sources {
        match plan_workflow(&home, src) {
            Ok(plan) => {
                results.push(json!({ "workflow": plan.spec.name, "path": src.path, "valid": true, "nodes": plan.dag.len() }));
                if !a.json {
                    outln!("{}: ok ({} nodes)", src.path, plan.dag.len());
                }
            }
            Err(d) => {
                results.push(json!({ "workflow": src.name, "path": src.path, "valid": false, "errors": d.0 }));
                all_errors.extend(d.0);
            }
        }
    }
    all_errors.dedup();
    if a.json {
        print_json(
            &json!({ "valid": all_errors.is_empty(), "workflows": results, "errors": all_errors }),
        )?;
    } else {
        for e in &all_errors {
            eprintln!("error: {e}");
        }
        if !all_errors.is_empty() {
            eprintln!(
                "{} error{} found",
                all_errors.len(),
                if all_errors.len() == 1 { "" } else { "s" }
            );
        }
    }
    Ok(if all_errors.is_empty() { 0 } else { 2 })
}

/// `systrade dag`.
pub async fn dag(opts: &GlobalOpts, a: DagArgs) -> anyhow::Result<i32> {
    let home = resolve_home(opts)?;
    load_config(&home)?;
    let source = resolve_workflow(&home, &a.workflow)?;
    let plan = plan_workflow(&home, &source)?;
    let states = match a.run {
        None => None,
        Some(id) => {
            let ctx = Ctx::open(opts).await?;
            let run = ctx
                .store
                .get_run(id)
                .await?
                .ok_or_else(|| CliError::Invalid(format!("no run {id}")))?;
            if run.workflow != plan.spec.name {
                return Err(CliError::Invalid(format!(
                    "run {id} is of workflow `{}`, not `{}`",
                    run.workflow, plan.spec.name
                ))
                .into());
            }
            let nodes = ctx.store.run_nodes(id).await?;
            Some(
                nodes
                    .into_iter()
                    .map(|n| (n.node_id, n.state))
                    .collect::<BTreeMap<String, NodeState>>(),
            )
        }
    };
    out!(
        "{}",
        render(
            &plan.spec,
            &plan.dag,
            states.as_ref(),
            a.format.into(),
            std::io::stdout().is_terminal()
        )
    );
    Ok(0)
}

/// `systrade runs`.
pub async fn runs(opts: &GlobalOpts, a: RunsArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let runs = ctx
        .store
        .list_runs(a.workflow.as_deref(), a.limit.max(1))
        .await?;
    if a.json {
        print_json(&runs)?;
        return Ok(0);
    }
    if runs.is_empty() {
        outln!("no runs yet");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.workflow.clone(),
                r.trigger.to_string(),
                r.parent_run_id
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.status.to_string(),
                local(r.started_at),
                seconds_between(Some(r.started_at), r.finished_at),
                r.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &["RUN", "WORKFLOW", "TRIGGER", "PARENT", "STATUS", "STARTED", "TOOK", "MESSAGE"],
            &rows
        )
    );
    Ok(0)
}

/// `systrade show RUN_ID`.
pub async fn show(opts: &GlobalOpts, a: ShowArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let run = ctx.store.get_run(a.run_id).await?.ok_or_else(|| {
        CliError::Invalid(format!("no run {}; `systrade runs` lists them", a.run_id))
    })?;
    let nodes = ctx.store.run_nodes(run.id).await?;
    let attempts = ctx.store.attempts(run.id).await?;
    if a.json {
        print_json(&json!({ "run": run, "nodes": nodes, "attempts": attempts }))?;
        return Ok(0);
    }
    outln!(
        "run {} of `{}` ({}), {}",
        run.id,
        run.workflow,
        run.trigger,
        run.status
    );
    if let Some(p) = run.parent_run_id {
        outln!("  rerun of run {p}");
    }
    outln!(
        "  started {}  finished {}  took {}",
        local(run.started_at),
        local_opt(run.finished_at),
        seconds_between(Some(run.started_at), run.finished_at)
    );
    outln!(
        "  pid {} on {}  definition {} ({})",
        run.pid,
        run.host,
        run.definition_path,
        run.definition_hash
    );
    if let Some(m) = &run.message {
        outln!("  {m}");
    }
    outln!();
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let note = match (n.reused_from, &n.error) {
                (Some(r), _) => format!("reused from run {r}"),
                (None, Some(e)) => e.clone(),
                _ => String::new(),
            };
            vec![
                n.node_id.clone(),
                n.task.clone(),
                n.state.to_string(),
                n.executions.to_string(),
                n.attempts.to_string(),
                seconds_between(n.started_at, n.finished_at),
                note,
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &["NODE", "TASK", "STATE", "RUNS", "ATTEMPTS", "TOOK", "NOTE"],
            &rows
        )
    );
    let warnings: Vec<(&str, String)> = nodes
        .iter()
        .flat_map(|n| {
            let list = n.output.as_ref().map(output_warnings).unwrap_or_default();
            list.into_iter().map(move |w| (n.node_id.as_str(), w))
        })
        .collect();
    if !warnings.is_empty() {
        outln!("\nwarnings:");
        for (node, w) in warnings {
            outln!("  {node}: {w}");
        }
    }
    let failed: Vec<_> = attempts
        .iter()
        .filter(|t| t.status != NodeState::Succeeded)
        .collect();
    if !failed.is_empty() {
        outln!("\nattempts that did not succeed:");
        for t in failed {
            outln!(
                "  {} run {} attempt {} {} at {}: {}",
                t.node_id,
                t.execution,
                t.attempt,
                t.status,
                local(t.started_at),
                t.error.clone().unwrap_or_default()
            );
        }
    }
    Ok(0)
}

/// Facts the scheduler uses for one workflow.
pub async fn start_facts(ctx: &Ctx, name: &str, schedule: &Schedule) -> anyhow::Result<StartFacts> {
    let locks = ctx.store.locks().await?;
    let me = &ctx.identity;
    let live = |w: &str| {
        locks
            .iter()
            .find(|l| l.workflow == w && !crate::engine::process::holder_is_dead(l, me))
            .cloned()
    };
    let mut after = Vec::new();
    for w in &schedule.after_workflows {
        after.push(AfterFacts {
            workflow: w.clone(),
            running: live(w).is_some(),
            last_success_end: ctx.store.last_success(w).await?.and_then(|r| r.finished_at),
        });
    }
    Ok(StartFacts {
        control: ctx.store.control_state(name).await?,
        running: live(name),
        last_start: ctx
            .store
            .last_run(name, &[Trigger::Schedule, Trigger::Manual])
            .await?
            .map(|r| r.started_at),
        after,
    })
}

/// `systrade status`.
pub async fn status(opts: &GlobalOpts, json_out: bool) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let now = ctx.clock.now();
    let locks = ctx.store.locks().await?;
    let mut out = Vec::new();
    let mut plans: BTreeMap<String, Option<Schedule>> = BTreeMap::new();
    for (name, src) in workflow_sources(&ctx.home) {
        let plan = crate::app::plan_workflow(&ctx.home, &src);
        let (schedule, valid_error) = match &plan {
            Ok(p) => (p.spec.schedule.clone(), None),
            Err(d) => (None, Some(d.to_string())),
        };
        plans.insert(name.clone(), schedule.clone());
        let control = ctx.store.control_state(&name).await?;
        let lock = locks.iter().find(|l| l.workflow == name).cloned();
        let lock_dead = lock
            .as_ref()
            .is_some_and(|l| crate::engine::process::holder_is_dead(l, &ctx.identity));
        let last = ctx
            .store
            .list_runs(Some(&name), 1)
            .await?
            .into_iter()
            .next();
        let scheduler = match &schedule {
            None => None,
            Some(s) => Some(decide(s, now, &start_facts(&ctx, &name, s).await?)),
        };
        let window = schedule.as_ref().map(|s| match window_containing(s, now) {
            Some((open, close)) => json!({ "open": true, "opened_at": open, "closes_at": close }),
            None => json!({ "open": false, "next_open": next_open(s, now) }),
        });
        out.push(json!({
            "workflow": name,
            "path": src.path,
            "valid": valid_error.is_none(),
            "error": valid_error,
            "control": control,
            "running": lock.as_ref().filter(|_| !lock_dead).map(|l| json!({ "run_id": l.run_id, "pid": l.pid, "host": l.host, "since": l.acquired_at })),
            "stale_lock": lock.as_ref().filter(|_| lock_dead).map(|l| json!({ "run_id": l.run_id, "pid": l.pid, "host": l.host })),
            "last_run": last.as_ref().map(|r| json!({ "id": r.id, "status": r.status, "trigger": r.trigger, "started_at": r.started_at, "finished_at": r.finished_at })),
            "schedule": schedule,
            "window": window,
            "scheduler": scheduler,
        }));
    }
    if json_out {
        print_json(&json!({ "now": now, "home": ctx.home.root, "workflows": out }))?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = out
        .iter()
        .map(|w| {
            let running = if let Some(r) = w["running"].as_object() {
                format!("running (run {}, pid {})", r["run_id"], r["pid"])
            } else if w["stale_lock"].is_object() {
                "crashed? (dead lock holder; run `systrade startup`)".into()
            } else {
                "idle".into()
            };
            let last = w["last_run"]
                .as_object()
                .map(|r| format!("#{} {}", r["id"], r["status"].as_str().unwrap_or("")))
                .unwrap_or_else(|| "-".into());
            let schedule: Option<Schedule> = plans
                .get(w["workflow"].as_str().unwrap_or(""))
                .cloned()
                .flatten();
            let in_zone = |t: chrono::DateTime<chrono::Utc>| match &schedule {
                Some(s) => zoned(t, s),
                None => local(t),
            };
            let sched = match (
                w["window"].as_object(),
                serde_json::from_value::<Option<Decision>>(w["scheduler"].clone())
                    .ok()
                    .flatten(),
            ) {
                (None, _) => "manual only".to_string(),
                (Some(_), Some(Decision::Start { .. })) => "due now".into(),
                (Some(_), Some(Decision::Wait { reason, next_open })) => {
                    format!(
                        "{reason}{}",
                        next_open
                            .map(|t| format!("; next window {}", in_zone(t)))
                            .unwrap_or_default()
                    )
                }
                (Some(_), None) => "-".into(),
            };
            let sched = match &schedule {
                Some(s) => format!("{} {sched}", window_text(s)),
                None => sched,
            };
            let state = if w["valid"].as_bool() == Some(false) {
                "INVALID".to_string()
            } else {
                w["control"].as_str().unwrap_or("").to_uppercase()
            };
            vec![
                w["workflow"].as_str().unwrap_or("").to_string(),
                state,
                running,
                last,
                sched,
            ]
        })
        .collect();
    outln!(
        "now {} UTC ({} on this machine)",
        now.format("%Y-%m-%d %H:%M:%S"),
        now.with_timezone(&chrono::Local).format("%H:%M %:z")
    );
    out!(
        "{}",
        table(
            &["WORKFLOW", "CONTROL", "PROCESS", "LAST RUN", "SCHEDULE"],
            &rows
        )
    );
    Ok(0)
}

/// A schedule's window as the status table shows it: days, hours and time zone, e.g.
/// `Mon-Fri 20:15-23:50 Europe/London;`.
fn window_text(s: &Schedule) -> String {
    use chrono::Weekday::*;
    let days = if s.days == [Mon, Tue, Wed, Thu, Fri] {
        "Mon-Fri".to_string()
    } else if s.days.len() == 7 {
        "daily".to_string()
    } else {
        s.days
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{days} {}-{} {};",
        s.start.format("%H:%M"),
        s.stop.format("%H:%M"),
        s.timezone.name()
    )
}

/// An instant in the schedule's time zone, with the zone's abbreviation and, when that is not
/// UTC, the UTC time: `2026-11-30 20:15 GMT (20:15 UTC)`.
fn zoned(t: chrono::DateTime<chrono::Utc>, s: &Schedule) -> String {
    let there = t.with_timezone(&s.timezone);
    let text = there.format("%a %Y-%m-%d %H:%M %Z").to_string();
    if s.timezone == chrono_tz::UTC {
        text
    } else {
        format!("{text} ({} UTC)", t.format("%H:%M"))
    }
}

/// `systrade logs`.
pub async fn logs(opts: &GlobalOpts, a: LogsArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let run_id = match a.run {
        Some(id) => {
            ctx.store
                .get_run(id)
                .await?
                .ok_or_else(|| CliError::Invalid(format!("no run {id}")))?;
            id
        }
        None => match ctx.store.list_runs(None, 1).await?.into_iter().next() {
            Some(r) => r.id,
            None => {
                outln!("no runs yet");
                return Ok(0);
            }
        },
    };
    let mut query = LogQuery {
        run_id: Some(run_id),
        node_id: a.node.clone(),
        min_level: a.level.clone(),
        after_id: None,
        limit: None,
    };
    loop {
        let batch = ctx.store.logs(&query).await?;
        for r in &batch {
            if a.json {
                outln!("{}", serde_json::to_string(r)?);
            } else {
                let e = &r.event;
                let fields = super::output::fields_suffix(e.fields.as_ref());
                outln!(
                    "{} {:<5} {}{}{}",
                    local(e.ts),
                    e.level.to_uppercase(),
                    e.node_id
                        .as_ref()
                        .map(|n| format!("[{n}] "))
                        .unwrap_or_default(),
                    e.message,
                    fields
                );
            }
        }
        if let Some(last) = batch.last() {
            query.after_id = Some(last.id);
        }
        if !a.follow {
            break;
        }
        let finished = ctx
            .store
            .get_run(run_id)
            .await?
            .is_some_and(|r| r.finished_at.is_some());
        if finished && batch.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(0)
}

/// `systrade tasks`.
pub async fn tasks(opts: &GlobalOpts, json_out: bool) -> anyhow::Result<i32> {
    let home = resolve_home(opts)?;
    load_config(&home)?;
    let cat = load_catalogue(&home)?;
    if json_out {
        print_json(&cat.iter().collect::<Vec<_>>())?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = cat
        .iter()
        .map(|t| {
            let kind = match &t.implementation {
                crate::engine::catalogue::TaskImpl::Handler(h) => format!("rust:{h}"),
                crate::engine::catalogue::TaskImpl::Command(c) => {
                    format!("command:{}", c.first().cloned().unwrap_or_default())
                }
            };
            vec![t.name.clone(), kind, t.description.clone()]
        })
        .collect();
    out!("{}", table(&["TASK", "KIND", "DESCRIPTION"], &rows));
    Ok(0)
}
