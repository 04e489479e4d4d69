//! `systrade scheduler`: the long-running daemon that replaces the crontab. Every poll interval
//! it evaluates each scheduled workflow (window, weekday, control state, lock, previous
//! workflows), starts due ones as `systrade run NAME --scheduled` child processes (their output
//! appended to `<home>/logs/NAME.log`), marks runs whose runner died as crashed (the
//! sysproduction monitor's dead-PID check), and raises a `missed_window` alert once per window
//! for a workflow that did not start in it (`engine::schedule::missed_window` decides; the
//! alert recorded in the store is what says it was raised). One scheduler per home.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::inspect::start_facts;
use super::output::print_json;
use super::CliError;
use crate::app::{plan_workflow, workflow_sources, App};
use crate::engine::process::holder_is_dead;
use crate::engine::schedule::{
    decide, missed_window, window_containing, Decision, StartFacts, WindowCheck,
};
use crate::engine::spec::Schedule;
use crate::engine::store::{LockHolder, RunStore};

const SCHEDULER_LOCK: &str = "__scheduler__";

#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// Evaluate once, start what is due, wait for those runs, and exit.
    #[arg(long)]
    pub once: bool,
    /// Print what would be started and why, start nothing (implies --once).
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

struct Child {
    process: tokio::process::Child,
    window_open: DateTime<Utc>,
}

/// One scheduled workflow evaluated at one instant.
struct Evaluated {
    name: String,
    schedule: Schedule,
    facts: StartFacts,
    decision: Decision,
    missed: WindowCheck,
}

pub async fn scheduler(opts: &GlobalOpts, a: SchedulerArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    if a.dry_run {
        let evaluated = evaluate(&ctx, ctx.clock.now()).await?;
        if a.json {
            print_json(
                &evaluated
                    .iter()
                    .map(|e| json!({ "workflow": e.name, "decision": e.decision, "missed_window": e.missed }))
                    .collect::<Vec<_>>(),
            )?;
        } else {
            for e in &evaluated {
                let w = &e.name;
                match &e.decision {
                    Decision::Start { .. } => outln!("{w}: would start now"),
                    Decision::Wait { reason, .. } => outln!("{w}: waits: {reason}"),
                }
                if let WindowCheck::Missed(m) = &e.missed {
                    outln!("{w}: its window opened with nothing running ({}): a missed_window alert (once per window)", m.reason);
                }
            }
        }
        return Ok(0);
    }
    let me = &ctx.identity;
    let lock = LockHolder {
        workflow: SCHEDULER_LOCK.into(),
        run_id: None,
        pid: me.pid,
        pid_start: me.pid_start,
        host: me.host.clone(),
        boot_id: me.boot_id.clone(),
        acquired_at: ctx.clock.now(),
    };
    let me2 = me.clone();
    if let Some(holder) = ctx
        .store
        .acquire_lock(&lock, &move |h| holder_is_dead(h, &me2))
        .await?
    {
        return Err(CliError::Refused(format!(
            "a scheduler is already running for this home (pid {} on {})",
            holder.pid, holder.host
        ))
        .into());
    }
    let result = serve(&ctx, &a).await;
    ctx.store.release_lock(SCHEDULER_LOCK, me.pid).await?;
    result
}

/// Decisions and missed-window checks for every valid scheduled workflow, in name order;
/// `since`: when this scheduler started.
async fn evaluate(ctx: &Ctx, since: DateTime<Utc>) -> anyhow::Result<Vec<Evaluated>> {
    let now = ctx.clock.now();
    let grace =
        chrono::Duration::minutes(i64::from(ctx.config.scheduler.missed_window_alert_minutes));
    let mut out = Vec::new();
    for (name, src) in workflow_sources(&ctx.home) {
        let plan = match plan_workflow(&ctx.home, &src) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(workflow = %name, "workflow is invalid and will not be scheduled:\n{e}");
                continue;
            }
        };
        let Some(schedule) = plan.spec.schedule.clone() else {
            continue;
        };
        let facts = start_facts(ctx, &name, &schedule).await?;
        let decision = decide(&schedule, now, &facts);
        let missed = missed_window(&schedule, now, &facts, grace, since);
        out.push(Evaluated {
            name,
            schedule,
            facts,
            decision,
            missed,
        });
    }
    Ok(out)
}

/// Raises the `missed_window` alert of `e` unless one was recorded for that window before (by
/// this scheduler or an earlier one). `app` is made on first use.
async fn alert_missed_window(
    ctx: &Ctx,
    app: &mut Option<Arc<App>>,
    e: &Evaluated,
) -> anyhow::Result<()> {
    let WindowCheck::Missed(m) = &e.missed else {
        return Ok(());
    };
    let app = app.get_or_insert_with(|| ctx.app());
    let alert = crate::app::missed_window_alert(
        &e.name,
        &e.schedule,
        m,
        e.facts.running.as_ref(),
        ctx.clock.now(),
    );
    if app.alerts.exists(&alert.kind, &alert.subject).await? {
        return Ok(());
    }
    let raised = app.raise(alert).await?;
    tracing::error!(workflow = %e.name, alert = raised.id, window = %m.open, "scheduled window opened with nothing running: {}", m.reason);
    Ok(())
}

async fn serve(ctx: &Ctx, a: &SchedulerArgs) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("cannot find the systrade executable")?;
    std::fs::create_dir_all(ctx.home.logs_dir())
        .with_context(|| format!("cannot create {}", ctx.home.logs_dir().display()))?;
    let mut children: HashMap<String, Child> = HashMap::new();
    let mut started_windows: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut failures = 0;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let mut last_reason: HashMap<String, String> = HashMap::new();
    // Windows whose missed-window alert is known to be recorded (saves asking the store).
    let mut alerted: HashSet<(String, DateTime<Utc>)> = HashSet::new();
    let mut app: Option<Arc<App>> = None;
    let since = ctx.clock.now();
    tracing::info!(home = %ctx.home.root.display(), "scheduler started");
    loop {
        // Dead runners: mark their runs crashed and free their locks (sysproduction's monitor).
        for lock in ctx.store.locks().await? {
            if lock.workflow != SCHEDULER_LOCK && holder_is_dead(&lock, &ctx.identity) {
                if let Some(run) = ctx.store.mark_crashed(&lock, ctx.clock.now()).await? {
                    tracing::error!(workflow = %lock.workflow, run, pid = lock.pid, "runner died: run {run} marked crashed; `systrade rerun {run}` to recover");
                    // Nobody else will find it crashed now: the alert is raised here.
                    let alert =
                        crate::app::crashed_run_alert(&lock.workflow, run, "by the scheduler");
                    let app = app.get_or_insert_with(|| ctx.app());
                    if let Err(e) = app.raise(alert).await {
                        tracing::error!("cannot record the alert of crashed run {run}: {e}");
                    }
                }
            }
        }
        for e in evaluate(ctx, since).await? {
            if let WindowCheck::Missed(m) = &e.missed {
                if alerted.insert((e.name.clone(), m.open)) {
                    if let Err(err) = alert_missed_window(ctx, &mut app, &e).await {
                        // Forget it, so the next poll tries again.
                        alerted.remove(&(e.name.clone(), m.open));
                        tracing::error!(workflow = %e.name, "cannot record the missed-window alert: {err:#}");
                    }
                }
            }
            let Evaluated { name, decision, .. } = e;
            match decision {
                Decision::Start { .. } => {
                    let Some(schedule) =
                        plan_workflow(&ctx.home, &workflow_sources(&ctx.home)[&name])
                            .ok()
                            .and_then(|p| p.spec.schedule.clone())
                    else {
                        continue;
                    };
                    let Some((open, _)) = window_containing(&schedule, ctx.clock.now()) else {
                        continue;
                    };
                    if children.contains_key(&name) || started_windows.get(&name) == Some(&open) {
                        continue;
                    }
                    let (log, log_path, kept) = super::scheduler_log::open(
                        &ctx.home.logs_dir(),
                        &name,
                        ctx.clock.now(),
                        ctx.config.logging.retention_days,
                        super::scheduler_log::ROTATE_AT_BYTES,
                    )
                    .with_context(|| {
                        format!(
                            "cannot open or rotate {}",
                            ctx.home.logs_dir().join(format!("{name}.log")).display()
                        )
                    })?;
                    if let Some(to) = &kept.rotated_to {
                        tracing::info!(workflow = %name, "log file rotated to {}", to.display());
                    }
                    for gone in &kept.deleted {
                        tracing::info!(workflow = %name, "deleted {} (older than logging.retention_days)", gone.display());
                    }
                    let log_err = log.try_clone()?;
                    let process = tokio::process::Command::new(&exe)
                        .arg("--home")
                        .arg(&ctx.home.root)
                        .arg("run")
                        .arg(&name)
                        .arg("--scheduled")
                        .stdin(Stdio::null())
                        .stdout(Stdio::from(log))
                        .stderr(Stdio::from(log_err))
                        .spawn()
                        .with_context(|| format!("cannot start a runner for `{name}`"))?;
                    tracing::info!(workflow = %name, pid = process.id(), log = %log_path.display(), "started scheduled run");
                    started_windows.insert(name.clone(), open);
                    children.insert(
                        name.clone(),
                        Child {
                            process,
                            window_open: open,
                        },
                    );
                    last_reason.remove(&name);
                }
                Decision::Wait { reason, .. } => {
                    if last_reason.get(&name) != Some(&reason) {
                        tracing::info!(workflow = %name, "waiting: {reason}");
                        last_reason.insert(name, reason);
                    }
                }
            }
        }
        let mut finished = Vec::new();
        for (name, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.process.try_wait() {
                if status.success() {
                    tracing::info!(workflow = %name, "scheduled run finished");
                } else {
                    failures += 1;
                    tracing::warn!(workflow = %name, code = status.code(), "scheduled run did not succeed; see `systrade runs --workflow {name}`");
                }
                finished.push(name.clone());
            }
        }
        for f in finished {
            if let Some(c) = children.remove(&f) {
                tracing::debug!(workflow = %f, window = %c.window_open, "runner reaped");
            }
        }
        if a.once && children.is_empty() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(ctx.config.scheduler.poll_interval) => {}
            _ = tokio::signal::ctrl_c() => { stop_children(&mut children).await; break; }
            _ = term.recv() => { stop_children(&mut children).await; break; }
        }
    }
    tracing::info!("scheduler stopped");
    Ok(if failures == 0 { 0 } else { 1 })
}

/// Forwards SIGTERM to running runners (each records a clean cancel) and waits for them.
async fn stop_children(children: &mut HashMap<String, Child>) {
    for (name, c) in children.iter() {
        if let Some(pid) = c.process.id() {
            tracing::warn!(workflow = %name, pid, "stopping runner");
            // SAFETY: kill(2) with a valid pid and signal number.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
    }
    for (_, c) in children.iter_mut() {
        let _ = c.process.wait().await;
    }
    children.clear();
}
