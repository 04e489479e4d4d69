//! `systrade run`, `trigger` and `rerun`: each makes one recorded run.

use serde_json::json;

use super::context::{cancel_on_signals, load_config, resolve_home, Ctx, GlobalOpts};
use super::{CliError, RerunArgs, RunArgs, TriggerArgs};
use crate::app::{App, WorkflowSource};
use crate::engine::diagnostic::did_you_mean;
use crate::engine::executor::{NodePlan, RunRequest, RunSummary};
use crate::engine::plan::Plan;
use crate::engine::schedule::window_containing;
use crate::engine::store::{ControlState, NodeState, RunStatus, RunStore, Trigger};

/// Refuses to start when the control state says so, unless forced.
async fn check_control(ctx: &Ctx, workflow: &str, force: bool) -> anyhow::Result<()> {
    let state = ctx.store.control_state(workflow).await?;
    if state != ControlState::Go && !force {
        return Err(CliError::Refused(format!(
            "workflow `{workflow}` is in control state {}; `systrade control {workflow} go` allows runs again (or pass --force)",
            state.as_str().to_uppercase()
        ))
        .into());
    }
    Ok(())
}

/// When the current schedule window closes; for unlimited repeating nodes outside any window,
/// "now" (they run once).
fn window_close(ctx: &Ctx, plan: &Plan<App>) -> Option<chrono::DateTime<chrono::Utc>> {
    let schedule = plan.spec.schedule.as_ref()?;
    let now = ctx.clock.now();
    match window_containing(schedule, now) {
        Some((_, close)) => Some(close),
        None if plan
            .spec
            .nodes
            .iter()
            .any(|n| n.repeat.as_ref().is_some_and(|r| r.max_runs.is_none())) =>
        {
            Some(now)
        }
        None => None,
    }
}

pub async fn execute(
    ctx: &Ctx,
    plan: &Plan<App>,
    req: RunRequest,
    json: bool,
) -> anyhow::Result<i32> {
    let executor = ctx.executor(ctx.progress(json), cancel_on_signals());
    let app = executor.app.clone();
    // Alerts logged while the run goes (a broker down past its deadline) are raised as they come.
    let forwarder = tokio::spawn({
        let app = app.clone();
        async move {
            for tick in 1u64.. {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                // A broker connection in use is checked even while no node calls it, so an
                // outage past broker.ib_disconnect_alert_seconds raises its alert.
                if tick % 5 == 0 {
                    app.broker.keep_alive().await;
                }
                app.forward_logged_alerts().await;
            }
        }
    });
    let summary = executor.execute(plan, req).await;
    // The run's broker connection ends with it (IB gives its client id back).
    executor.app.broker.close().await;
    forwarder.abort();
    app.forward_logged_alerts().await;
    let summary = summary?;
    for alert in crate::app::run_alerts(ctx.store.as_ref(), &summary).await {
        if let Err(e) = app.raise(alert).await {
            tracing::error!("cannot record an alert of run {}: {e}", summary.run_id);
        }
    }
    report(&summary, json)?;
    Ok(match summary.status {
        RunStatus::Succeeded => 0,
        RunStatus::Cancelled if summary.message.as_deref() == Some("cancelled by signal") => 130,
        _ => 1,
    })
}

fn report(summary: &RunSummary, json: bool) -> anyhow::Result<()> {
    if json {
        return super::output::print_json(summary);
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in summary.nodes.values() {
        *counts.entry(s.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    outln!(
        "run {} of `{}` {} in {:.2}s ({})",
        summary.run_id,
        summary.workflow,
        summary.status,
        summary.seconds,
        parts.join(", ")
    );
    let n_warnings: usize = summary.warnings.values().map(Vec::len).sum();
    if n_warnings > 0 {
        outln!("{n_warnings} warning(s):");
        for (node, list) in &summary.warnings {
            for w in list {
                outln!("  {node}: {w}");
            }
        }
    }
    if summary.status != RunStatus::Succeeded {
        for (node, state) in &summary.nodes {
            if matches!(
                state,
                NodeState::Failed
                    | NodeState::UpstreamFailed
                    | NodeState::Cancelled
                    | NodeState::Crashed
            ) {
                outln!("  {node}: {state}");
            }
        }
        outln!(
            "details: `systrade show {}`; re-run what did not succeed: `systrade rerun {}`",
            summary.run_id,
            summary.run_id
        );
    }
    Ok(())
}

pub async fn run(opts: &GlobalOpts, a: RunArgs) -> anyhow::Result<i32> {
    let plan = validated_plan(opts, &a.workflow)?;
    let ctx = Ctx::open(opts).await?;
    check_control(&ctx, &plan.spec.name, a.force).await?;
    let mut req = RunRequest::manual();
    req.node_plans = Some(pin_to_machines(&ctx, &plan, vec![NodePlan::Run; plan.dag.len()]).await?);
    req.window_close = window_close(&ctx, &plan);
    req.forced = a.force;
    if a.scheduled {
        let Some(schedule) = plan.spec.schedule.as_ref() else {
            return Err(CliError::Invalid(format!(
                "workflow `{}` has no schedule",
                plan.spec.name
            ))
            .into());
        };
        let Some((_, close)) = window_containing(schedule, ctx.clock.now()) else {
            return Err(CliError::Refused(format!(
                "workflow `{}` is outside its schedule window",
                plan.spec.name
            ))
            .into());
        };
        req.trigger = Trigger::Schedule;
        req.window_close = Some(close);
    }
    execute(&ctx, &plan, req, a.json).await
}

pub async fn trigger(opts: &GlobalOpts, a: TriggerArgs) -> anyhow::Result<i32> {
    let plan = validated_plan(opts, &a.workflow)?;
    let Some(&start) = plan.dag.index.get(&a.node) else {
        let help = did_you_mean(&a.node, plan.dag.ids.iter().map(String::as_str))
            .unwrap_or_else(|| format!("its nodes are: {}", plan.dag.ids.join(", ")));
        return Err(CliError::Invalid(format!(
            "workflow `{}` has no node `{}`; {help}",
            plan.spec.name, a.node
        ))
        .into());
    };
    let ctx = Ctx::open(opts).await?;
    check_control(&ctx, &plan.spec.name, a.force).await?;
    let (mode, selected) = if a.with_upstream {
        ("with_upstream", plan.dag.with_upstream(start))
    } else if a.with_downstream {
        ("with_downstream", plan.dag.with_downstream(start))
    } else {
        ("only", vec![start])
    };
    let mut node_plans = Vec::with_capacity(plan.dag.len());
    for (i, id) in plan.dag.ids.iter().enumerate() {
        if selected.contains(&i) {
            node_plans.push(NodePlan::Run);
        } else {
            let output = ctx
                .store
                .latest_output(&plan.spec.name, id)
                .await?
                .map(|(_, v)| v);
            node_plans.push(NodePlan::Skip {
                reason: format!("not selected (trigger {} {mode})", a.node),
                output,
            });
        }
    }
    let names: Vec<&str> = selected.iter().map(|&i| plan.dag.ids[i].as_str()).collect();
    let mut req = RunRequest::manual();
    req.node_plans = Some(pin_to_machines(&ctx, &plan, node_plans).await?);
    req.selection = Some(json!({ "node": a.node, "mode": mode, "nodes": names }));
    req.window_close = window_close(&ctx, &plan);
    req.forced = a.force;
    execute(&ctx, &plan, req, a.json).await
}

pub async fn rerun(opts: &GlobalOpts, a: RerunArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let parent =
        match a.run_id {
            Some(id) => ctx.store.get_run(id).await?.ok_or_else(|| {
                CliError::Invalid(format!("no run {id}; `systrade runs` lists them"))
            })?,
            None => ctx
                .store
                .list_runs(a.workflow.as_deref(), 1)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    CliError::Invalid(match &a.workflow {
                        Some(w) => format!("workflow `{w}` has no runs yet"),
                        None => "there are no runs yet".into(),
                    })
                })?,
        };
    let source = source_of(&ctx, &parent.workflow, &parent.definition_path)?;
    let plan = ctx.plan(&source)?;
    if plan.spec.source_hash != parent.definition_hash {
        tracing::warn!(
            "the definition of `{}` changed since run {}; re-running with the current one",
            parent.workflow,
            parent.id
        );
    }
    check_control(&ctx, &plan.spec.name, a.force).await?;
    let parent_nodes = ctx.store.run_nodes(parent.id).await?;
    let mut node_plans = Vec::with_capacity(plan.dag.len());
    let mut to_run = Vec::new();
    for id in &plan.dag.ids {
        match parent_nodes.iter().find(|n| &n.node_id == id) {
            Some(n) if n.state == NodeState::Succeeded => node_plans.push(NodePlan::Reuse {
                run_id: n.reused_from.unwrap_or(parent.id),
                output: n.output.clone(),
            }),
            Some(n) if n.state == NodeState::Skipped => node_plans.push(NodePlan::Skip {
                reason: format!("skipped in run {}", parent.id),
                output: n.output.clone(),
            }),
            _ => {
                to_run.push(id.clone());
                node_plans.push(NodePlan::Run);
            }
        }
    }
    if to_run.is_empty() {
        let msg = format!(
            "run {} of `{}` has nothing to re-run: every node succeeded or was skipped",
            parent.id, parent.workflow
        );
        if a.json {
            super::output::print_json(
                &json!({ "parent_run_id": parent.id, "rerun": serde_json::Value::Null, "message": msg }),
            )?;
        } else {
            outln!("{msg}");
        }
        return Ok(0);
    }
    tracing::info!(
        "re-running {} of run {}: {}",
        to_run.len(),
        parent.id,
        to_run.join(", ")
    );
    let mut req = RunRequest::manual();
    req.trigger = Trigger::Rerun;
    req.parent_run_id = Some(parent.id);
    req.node_plans = Some(pin_to_machines(&ctx, &plan, node_plans).await?);
    req.selection = Some(json!({ "rerun_of": parent.id, "nodes": to_run }));
    req.window_close = window_close(&ctx, &plan);
    req.forced = a.force;
    execute(&ctx, &plan, req, a.json).await
}

/// Parses and validates before anything is created or written, so bad input leaves no state.
fn validated_plan(opts: &GlobalOpts, workflow: &str) -> anyhow::Result<Plan<App>> {
    let home = resolve_home(opts)?;
    load_config(&home)?;
    let source = crate::app::resolve_workflow(&home, workflow)?;
    Ok(crate::app::plan_workflow(&home, &source)?)
}

/// Nodes with `machine = "..."` other than this host are skipped here (their latest output, if
/// any, is passed downstream): one workflow file can serve several machines.
async fn pin_to_machines(
    ctx: &Ctx,
    plan: &Plan<App>,
    mut plans: Vec<NodePlan>,
) -> anyhow::Result<Vec<NodePlan>> {
    for (i, node) in plan.spec.nodes.iter().enumerate() {
        let Some(machine) = &node.machine else {
            continue;
        };
        if machine != &ctx.identity.host && matches!(plans[i], NodePlan::Run) {
            let output = ctx
                .store
                .latest_output(&plan.spec.name, &node.id)
                .await?
                .map(|(_, v)| v);
            plans[i] = NodePlan::Skip {
                reason: format!(
                    "runs on machine `{machine}`, this is `{}`",
                    ctx.identity.host
                ),
                output,
            };
        }
    }
    Ok(plans)
}

/// The definition a rerun uses: the same file when the parent ran from a path that still
/// exists, else the workflow by name.
/// The definition a run was started from: the shipped workflow for `builtin:` runs, else the file
/// it recorded (an absolute path; runs recorded before paths were made absolute hold the path as
/// typed, relative to the directory they were started in). A file that cannot be read is an error: falling back to another workflow of the
/// same name would re-run something else.
fn source_of(ctx: &Ctx, workflow: &str, definition_path: &str) -> anyhow::Result<WorkflowSource> {
    if definition_path.starts_with("builtin:") {
        return ctx.resolve(workflow);
    }
    let path = std::path::Path::new(definition_path);
    match std::fs::read(path) {
        Ok(bytes) => Ok(WorkflowSource {
            name: workflow.to_string(),
            path: path.display().to_string(),
            bytes,
        }),
        Err(e) => Err(CliError::Invalid(format!(
            "workflow `{workflow}` of this run was started from {}, which cannot be read now ({e}); \
             restore the file, or start the workflow afresh with `systrade run`",
            path.display()
        ))
        .into()),
    }
}
