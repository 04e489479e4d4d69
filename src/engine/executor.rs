//! The executor: runs one workflow run to its end. Ready nodes run in parallel up to
//! `max_concurrency`; failed attempts retry with exponential backoff and jitter; attempts time
//! out; a failed node marks its downstream `upstream_failed` while independent branches go on;
//! repeating nodes run `every` interval up to `max_runs` or until the window closes or STOP;
//! `on_completion_only` nodes run once at the end. Every state change is written to the run
//! store before the executor moves on. Control STOP is polled twice a second.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use super::clock::Clock;
use super::logsink::LogBuffer;
use super::plan::Plan;
use super::process::{holder_is_dead, ProcessIdentity};
use super::spec::UpstreamRule;
use super::store::{
    AttemptChange, BeginRun, ControlState, LockHolder, NewRun, NewRunNode, NodeChange, NodeState,
    NodeUpdate, RunStatus, StoreError, Trigger,
};
use super::task::{EngineEnv, StopSignal, StopTrigger, TaskContext, TaskError};

/// How often the executor re-reads the control state (STOP is honoured within this).
pub const CONTROL_POLL: Duration = Duration::from_millis(500);
/// After Ctrl-C / SIGTERM, running tasks get this long to stop at a safe point (the stack
/// handler books its last fills) before they are aborted.
pub const SIGNAL_GRACE: Duration = Duration::from_secs(15);

/// What to do with each node in this run.
#[derive(Debug, Clone)]
pub enum NodePlan {
    Run,
    /// Not selected (partial trigger) or not for this machine; `output` is its latest known one.
    Skip {
        reason: String,
        output: Option<Value>,
    },
    /// Succeeded in an earlier run (rerun): its output is reused.
    Reuse {
        run_id: i64,
        output: Option<Value>,
    },
}

/// How a run is started.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub trigger: Trigger,
    pub parent_run_id: Option<i64>,
    /// Per node index; `None` runs every node.
    pub node_plans: Option<Vec<NodePlan>>,
    pub selection: Option<Value>,
    /// When the schedule window closes (ends repetition; for scheduled runs, stops the run).
    pub window_close: Option<DateTime<Utc>>,
    /// Started with `--force`: a control state STOP already set at the start is ignored until
    /// the state changes (a STOP set later still stops the run).
    pub forced: bool,
}

impl RunRequest {
    pub fn manual() -> Self {
        Self {
            trigger: Trigger::Manual,
            parent_run_id: None,
            node_plans: None,
            selection: None,
            window_close: None,
            forced: false,
        }
    }
}

/// Progress notifications for the terminal.
pub trait RunObserver: Send + Sync {
    fn run_started(&self, _run_id: i64, _workflow: &str, _nodes: usize) {}
    fn node_changed(
        &self,
        _node_id: &str,
        _state: NodeState,
        _attempt: u32,
        _detail: Option<&str>,
    ) {
    }
    fn run_finished(&self, _summary: &RunSummary) {}
}

/// An observer that shows nothing.
pub struct Silent;
impl RunObserver for Silent {}

/// The outcome of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub run_id: i64,
    pub workflow: String,
    pub status: RunStatus,
    pub nodes: BTreeMap<String, NodeState>,
    pub crashed_runs_recovered: Vec<i64>,
    pub message: Option<String>,
    pub seconds: f64,
    /// Each node's output warnings ([`super::task::output_warnings`]), nodes without omitted.
    pub warnings: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("workflow `{workflow}` is already running (run {run}, pid {pid} on {host}); wait for it, or stop it with `systrade control {workflow} stop`", run = holder.run_id.map_or("?".to_string(), |r| r.to_string()), pid = holder.pid, host = holder.host)]
    AlreadyRunning {
        workflow: String,
        holder: LockHolder,
    },
}

/// Runs workflows for an application context `C`.
pub struct Executor<C: 'static> {
    pub env: Arc<EngineEnv>,
    pub app: Arc<C>,
    pub clock: Arc<dyn Clock>,
    pub identity: ProcessIdentity,
    pub logs: Option<LogBuffer>,
    pub observer: Arc<dyn RunObserver>,
    /// Becomes true on Ctrl-C / SIGTERM.
    pub cancel: tokio::sync::watch::Receiver<bool>,
}

struct NodeRt {
    state: NodeState,
    executions: u32,
    /// Attempts within the current execution.
    attempt: u32,
    total_attempts: u32,
    output: Option<Value>,
    error: Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// When a retry or the next repetition is due.
    due: Option<Instant>,
    /// Between repetitions (state stays `running`).
    waiting_repeat: bool,
    /// Start time of the attempt in progress, if any.
    attempt_started: Option<DateTime<Utc>>,
    queued: bool,
}

impl NodeRt {
    fn update(&self) -> NodeUpdate {
        NodeUpdate {
            state: self.state,
            executions: self.executions,
            attempts: self.total_attempts,
            started_at: self.started_at,
            finished_at: self.finished_at,
            output: self.output.clone(),
            error: self.error.clone(),
        }
    }
}

type AttemptResult = (usize, Result<Value, TaskError>);

impl<C: Send + Sync + 'static> Executor<C> {
    pub async fn execute(
        &self,
        plan: &Plan<C>,
        req: RunRequest,
    ) -> Result<RunSummary, EngineError> {
        let spec = &plan.spec;
        let dag = &plan.dag;
        let store = self.env.store.clone();
        let started = std::time::Instant::now();
        let node_plans = req
            .node_plans
            .clone()
            .unwrap_or_else(|| vec![NodePlan::Run; dag.len()]);
        let mut rt: Vec<NodeRt> = Vec::with_capacity(dag.len());
        let mut new_nodes = Vec::with_capacity(dag.len());
        for (i, n) in spec.nodes.iter().enumerate() {
            let (state, output, reused_from, message) = match &node_plans[i] {
                NodePlan::Run => (NodeState::Pending, None, None, None),
                NodePlan::Skip { reason, output } => (
                    NodeState::Skipped,
                    output.clone(),
                    None,
                    Some(reason.clone()),
                ),
                NodePlan::Reuse { run_id, output } => {
                    (NodeState::Succeeded, output.clone(), Some(*run_id), None)
                }
            };
            new_nodes.push(NewRunNode {
                node_id: n.id.clone(),
                task: n.task.clone(),
                state,
                output: output.clone(),
                reused_from,
                message,
            });
            rt.push(NodeRt {
                state,
                executions: 0,
                attempt: 0,
                total_attempts: 0,
                output,
                error: None,
                started_at: None,
                finished_at: None,
                due: None,
                waiting_repeat: false,
                attempt_started: None,
                queued: false,
            });
        }
        let me = &self.identity;
        let lock = LockHolder {
            workflow: spec.name.clone(),
            run_id: None,
            pid: me.pid,
            pid_start: me.pid_start,
            host: me.host.clone(),
            boot_id: me.boot_id.clone(),
            acquired_at: self.clock.now(),
        };
        let new_run = NewRun {
            workflow: spec.name.clone(),
            trigger: req.trigger,
            parent_run_id: req.parent_run_id,
            definition_path: spec.source_path.clone(),
            definition_hash: spec.source_hash.clone(),
            selection: req.selection.clone(),
            started_at: self.clock.now(),
            lock,
            nodes: new_nodes,
        };
        let me_for_check = me.clone();
        let is_dead = move |h: &LockHolder| holder_is_dead(h, &me_for_check);
        let (run_id, crashed) = match store.begin_run(new_run, &is_dead).await? {
            BeginRun::Started { run_id, crashed } => (run_id, crashed),
            BeginRun::AlreadyRunning(holder) => {
                return Err(EngineError::AlreadyRunning {
                    workflow: spec.name.clone(),
                    holder,
                })
            }
        };
        let span = tracing::info_span!("run", run_id, workflow = %spec.name);
        let (stop_trigger, stop_signal) = StopSignal::channel();
        let (signal_trigger, signal_stop) = StopSignal::channel();
        let mut state = RunState {
            stop_trigger,
            stop_signal,
            signal_trigger,
            signal_stop,
            exec: self,
            plan,
            rt,
            run_id,
            join: JoinSet::new(),
            running: 0,
            ready: VecDeque::new(),
            stopping: None,
            window_closed: false,
            cancelled: false,
            task_nodes: Default::default(),
            changes: Vec::new(),
            to_spawn: Vec::new(),
        };
        let result = async {
            for c in &crashed {
                tracing::warn!(crashed_run = c, "previous run {c} crashed (its runner is gone); marked crashed. `systrade rerun {c}` re-executes what did not finish");
            }
            tracing::info!(trigger = %req.trigger, nodes = dag.len(), "run {run_id} of `{}` started", spec.name);
            self.observer.run_started(run_id, &spec.name, dag.len());
            state.run_loop(&req).await
        }
        .instrument(span.clone())
        .await;
        let result = match result {
            Ok(()) => state.flush().await,
            Err(e) => Err(e),
        };
        // Record the end even if the loop hit a store error, so the lock is not left behind.
        let (status, message) = match &result {
            Ok(()) => state.final_status(),
            Err(e) => (RunStatus::Failed, Some(format!("engine error: {e}"))),
        };
        let finished_at = self.clock.now();
        span.in_scope(|| match status {
            RunStatus::Succeeded => tracing::info!("run {run_id} succeeded"),
            other => tracing::warn!(
                "run {run_id} {other}{}",
                message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
        });
        self.flush_logs().await;
        store
            .finish_run(run_id, status, finished_at, message.as_deref())
            .await?;
        result?;
        let summary = RunSummary {
            run_id,
            workflow: spec.name.clone(),
            status,
            nodes: dag
                .ids
                .iter()
                .cloned()
                .zip(state.rt.iter().map(|r| r.state))
                .collect(),
            crashed_runs_recovered: crashed,
            message,
            seconds: started.elapsed().as_secs_f64(),
            warnings: (dag.ids.iter().cloned().zip(state.rt.iter()))
                .filter_map(|(id, r)| {
                    let w = r.output.as_ref().map(super::task::output_warnings)?;
                    (!w.is_empty()).then_some((id, w))
                })
                .collect(),
        };
        self.observer.run_finished(&summary);
        Ok(summary)
    }

    async fn flush_logs(&self) {
        if let Some(buf) = &self.logs {
            let events = buf.drain();
            if !events.is_empty() {
                if let Err(e) = self.env.store.append_logs(&events).await {
                    eprintln!(
                        "warning: could not write {} log events to the run store: {e}",
                        events.len()
                    );
                }
            }
        }
    }
}

struct RunState<'a, C: 'static> {
    /// Asks the running tasks to stop (STOP, window closed, signal).
    stop_trigger: StopTrigger,
    /// Given to every regular node's attempt.
    stop_signal: StopSignal,
    /// Asks the nodes that run on the way out (on-completion nodes, and `upstream =
    /// "finished"` nodes started after a STOP) to stop: only Ctrl-C / SIGTERM.
    signal_trigger: StopTrigger,
    /// Given to the way-out nodes' attempts.
    signal_stop: StopSignal,
    exec: &'a Executor<C>,
    plan: &'a Plan<C>,
    rt: Vec<NodeRt>,
    run_id: i64,
    join: JoinSet<AttemptResult>,
    running: usize,
    ready: VecDeque<usize>,
    /// Why the run is winding down (STOP, window closed).
    stopping: Option<String>,
    /// The schedule window's stop time has passed: unlimited repetitions end.
    window_closed: bool,
    cancelled: bool,
    task_nodes: std::collections::HashMap<tokio::task::Id, usize>,
    /// Changes not yet written; flushed in one transaction before any task starts and before
    /// the executor waits.
    changes: Vec<NodeChange>,
    /// Attempts prepared by `start_attempt`, spawned once their start is durable.
    to_spawn: Vec<(usize, AttemptFuture)>,
}

type AttemptFuture = std::pin::Pin<Box<dyn std::future::Future<Output = AttemptResult> + Send>>;

impl<C: Send + Sync + 'static> RunState<'_, C> {
    async fn run_loop(&mut self, req: &RunRequest) -> Result<(), StoreError> {
        let spec = self.plan.spec.clone();
        let mut cancel = self.exec.cancel.clone();
        let mut poll = tokio::time::interval(CONTROL_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ignore_stop = req.forced;
        self.propagate_failures().await?;
        self.enqueue_ready();
        loop {
            self.start_ready().await?;
            if self.running == 0 && self.ready.is_empty() && self.all_regular_done() {
                if !self.start_completion_nodes().await? {
                    break;
                }
                continue;
            }
            let next_due = self.rt.iter().filter_map(|r| r.due).min();
            tokio::select! {
                Some(joined) = self.join.join_next_with_id(), if !self.join.is_empty() => {
                    self.attempt_done(joined).await?;
                    // Take every other attempt that has already finished, so their records are
                    // written in the same transaction.
                    while let Some(joined) = self.join.try_join_next_with_id() {
                        self.attempt_done(joined).await?;
                    }
                }
                _ = sleep_until_opt(next_due), if next_due.is_some() => {
                    let now = Instant::now();
                    for i in 0..self.rt.len() {
                        if self.rt[i].due.is_some_and(|d| d <= now) {
                            self.rt[i].due = None;
                            self.ready.push_front(i);
                            self.rt[i].queued = true;
                        }
                    }
                }
                _ = poll.tick() => {
                    self.exec.flush_logs().await;
                    if self.stopping.is_none() {
                        let control = self.exec.env.store.control_state(&spec.name).await?;
                        if control != ControlState::Stop {
                            ignore_stop = false;
                        }
                        if control == ControlState::Stop && !ignore_stop {
                            self.begin_stopping("stopped by control state STOP".into()).await?;
                        } else if let Some(close) = req.window_close {
                            if self.exec.clock.now() >= close && !self.window_closed {
                                self.window_closed = true;
                                if req.trigger == Trigger::Schedule {
                                    self.begin_stopping("the schedule window closed".into()).await?;
                                } else {
                                    self.end_repetitions().await?;
                                }
                            }
                        }
                    }
                }
                changed = cancel.changed() => {
                    if changed.is_err() || *cancel.borrow() {
                        self.cancel_all().await?;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    async fn attempt_done(
        &mut self,
        joined: Result<(tokio::task::Id, AttemptResult), tokio::task::JoinError>,
    ) -> Result<(), StoreError> {
        let (i, result) = match joined {
            Ok((id, r)) => {
                self.task_nodes.remove(&id);
                r
            }
            Err(e) if e.is_cancelled() => return Ok(()),
            Err(e) => {
                // A panicking task is a failed attempt, never a crashed runner.
                let Some(i) = self.task_nodes.remove(&e.id()) else {
                    return Ok(());
                };
                (i, Err(TaskError::fatal(format!("task panicked: {e}"))))
            }
        };
        self.running -= 1;
        self.finish_attempt(i, result).await
    }

    /// Records a node's current state (and an attempt's start or end) at the next flush.
    fn stage(&mut self, i: usize, attempt: Option<AttemptChange>) {
        self.changes.push(NodeChange {
            node_id: self.plan.dag.ids[i].clone(),
            node: self.rt[i].update(),
            attempt,
        });
    }

    /// Writes the staged changes in one transaction, then starts the prepared attempts.
    async fn flush(&mut self) -> Result<(), StoreError> {
        if !self.changes.is_empty() {
            let changes = std::mem::take(&mut self.changes);
            self.exec.env.store.record(self.run_id, &changes).await?;
        }
        for (i, future) in std::mem::take(&mut self.to_spawn) {
            let handle = self.join.spawn(future);
            self.task_nodes.insert(handle.id(), i);
        }
        Ok(())
    }

    fn spec_node(&self, i: usize) -> &super::spec::NodeSpec {
        &self.plan.spec.nodes[i]
    }

    fn all_regular_done(&self) -> bool {
        self.rt
            .iter()
            .enumerate()
            .all(|(i, r)| self.spec_node(i).on_completion_only || r.state.is_final())
    }

    fn enqueue_ready(&mut self) {
        if self.cancelled {
            return;
        }
        for &i in &self.plan.dag.topo {
            let r = &self.rt[i];
            let node = self.spec_node(i);
            if r.state != NodeState::Pending || r.queued || node.on_completion_only {
                continue;
            }
            // While stopping only the nodes that run on the way out start.
            if self.stopping.is_some() && node.upstream != UpstreamRule::Finished {
                continue;
            }
            let upstream_ok = |u: usize| match node.upstream {
                UpstreamRule::Succeeded => self.rt[u].state.satisfies_downstream(),
                UpstreamRule::Finished => self.rt[u].state.is_final(),
            };
            if self.plan.dag.upstream[i].iter().all(|&u| upstream_ok(u)) {
                self.rt[i].queued = true;
                self.ready.push_back(i);
            }
        }
    }

    async fn start_ready(&mut self) -> Result<(), StoreError> {
        while self.running < self.plan.spec.max_concurrency && !self.cancelled {
            let Some(i) = self.ready.pop_front() else {
                break;
            };
            self.rt[i].queued = false;
            let node = self.spec_node(i);
            if self.stopping.is_some()
                && !node.on_completion_only
                && !(node.upstream == UpstreamRule::Finished
                    && self.rt[i].state == NodeState::Pending)
            {
                continue;
            }
            self.start_attempt(i);
        }
        self.flush().await
    }

    /// Prepares an attempt: its start is staged, the task future queued for `flush`.
    fn start_attempt(&mut self, i: usize) {
        let exec = self.exec;
        let now = exec.clock.now();
        let node = self.plan.spec.nodes[i].clone();
        {
            let r = &mut self.rt[i];
            if r.state == NodeState::Pending || (r.waiting_repeat && r.state == NodeState::Running)
            {
                r.executions += 1;
                r.attempt = 0;
            }
            r.waiting_repeat = false;
            r.attempt += 1;
            r.total_attempts += 1;
            r.state = NodeState::Running;
            r.started_at.get_or_insert(now);
            r.finished_at = None;
        }
        let (execution, attempt) = (self.rt[i].executions, self.rt[i].attempt);
        self.rt[i].attempt_started = Some(now);
        self.stage(
            i,
            Some(AttemptChange {
                execution,
                attempt,
                status: NodeState::Running,
                started_at: now,
                finished_at: None,
                error: None,
                output: None,
            }),
        );
        exec.observer
            .node_changed(&node.id, NodeState::Running, attempt, None);
        let inputs: BTreeMap<String, Value> = self.plan.dag.upstream[i]
            .iter()
            .filter_map(|&u| {
                self.rt[u]
                    .output
                    .clone()
                    .map(|o| (self.plan.dag.ids[u].clone(), o))
            })
            .collect();
        let ctx = TaskContext {
            run_id: self.run_id,
            workflow: self.plan.spec.name.clone(),
            node_id: node.id.clone(),
            attempt,
            execution,
            inputs,
            app: exec.app.clone(),
            env: exec.env.clone(),
            stop: if node.on_completion_only || self.stopping.is_some() {
                self.signal_stop.clone()
            } else {
                self.stop_signal.clone()
            },
        };
        let task = self.plan.tasks[i].clone();
        let timeout = node.policy.timeout;
        let span =
            tracing::info_span!("node", node_id = %node.id, task = %node.task, execution, attempt);
        self.running += 1;
        let future = Box::pin(
            async move {
                tracing::info!("started");
                let result = match timeout {
                    Some(limit) => match tokio::time::timeout(limit, task.run(&ctx)).await {
                        Ok(r) => r,
                        Err(_) => Err(TaskError::retryable(format!(
                            "timed out after {}",
                            super::duration::format_duration(limit)
                        ))),
                    },
                    None => task.run(&ctx).await,
                };
                (i, result)
            }
            .instrument(span),
        );
        self.to_spawn.push((i, future));
    }

    async fn finish_attempt(
        &mut self,
        i: usize,
        result: Result<Value, TaskError>,
    ) -> Result<(), StoreError> {
        let exec = self.exec;
        let now = exec.clock.now();
        let node = self.plan.spec.nodes[i].clone();
        let attempt_started = self.rt[i].attempt_started.take();
        let span = tracing::info_span!("node", node_id = %node.id, task = %node.task);
        let _g = span.enter();
        // Nothing recorded or logged from here on shows a secret.
        let result = result.map(super::secrets::mask_json).map_err(|mut e| {
            e.message = super::secrets::mask_owned(std::mem::take(&mut e.message));
            e
        });
        let (attempt_status, error, output) = match result {
            Ok(output) => {
                for w in super::task::output_warnings(&output) {
                    tracing::warn!("{w}");
                }
                let r = &mut self.rt[i];
                r.output = Some(output.clone());
                r.error = None;
                let repeat_again = node.repeat.as_ref().is_some_and(|rep| {
                    self.stopping.is_none()
                        && !self.cancelled
                        && rep.max_runs.is_none_or(|m| r.executions < m)
                        && !(rep.max_runs.is_none() && self.window_closed)
                });
                if repeat_again {
                    let every = node.repeat.as_ref().map_or(Duration::ZERO, |r| r.every);
                    r.waiting_repeat = true;
                    r.due = Some(Instant::now() + every);
                    tracing::info!(
                        execution = r.executions,
                        "succeeded; runs again in {}",
                        super::duration::format_duration(every)
                    );
                } else {
                    r.state = NodeState::Succeeded;
                    r.finished_at = Some(now);
                    tracing::info!(
                        executions = r.executions,
                        attempts = r.total_attempts,
                        "succeeded"
                    );
                }
                (NodeState::Succeeded, None, Some(output))
            }
            Err(err) if err.stopped => {
                let r = &mut self.rt[i];
                r.error = Some(err.message.clone());
                r.state = NodeState::Cancelled;
                r.waiting_repeat = false;
                r.due = None;
                r.finished_at = Some(now);
                tracing::warn!(attempt = r.attempt, "stopped early: {}", err.message);
                (NodeState::Cancelled, Some(err.message), None)
            }
            Err(err) => {
                let r = &mut self.rt[i];
                let can_retry = err.retryable
                    && r.attempt <= node.policy.retries
                    && self.stopping.is_none()
                    && !self.cancelled;
                r.error = Some(err.message.clone());
                if can_retry {
                    let delay = super::duration::backoff_delay(node.policy.backoff, r.attempt);
                    r.state = NodeState::Retrying;
                    r.due = Some(Instant::now() + delay);
                    tracing::warn!(attempt = r.attempt, error = %err.message, "attempt failed; retrying in {}", super::duration::format_duration(delay));
                } else {
                    r.state = NodeState::Failed;
                    r.finished_at = Some(now);
                    tracing::error!(attempt = r.attempt, error = %err.message, "failed");
                }
                (NodeState::Failed, Some(err.message), None)
            }
        };
        drop(_g);
        let (execution, attempt) = (self.rt[i].executions, self.rt[i].attempt);
        let change = attempt_started.map(|started_at| AttemptChange {
            execution,
            attempt,
            status: attempt_status,
            started_at,
            finished_at: Some(now),
            error,
            output,
        });
        self.stage(i, change);
        exec.observer.node_changed(
            &node.id,
            self.rt[i].state,
            self.rt[i].attempt,
            self.rt[i].error.as_deref(),
        );
        // (Under Ctrl-C every unfinished node is recorded cancelled instead.)
        if self.rt[i].state == NodeState::Failed
            || (self.rt[i].state == NodeState::Cancelled && !self.cancelled)
        {
            self.propagate_failures().await?;
        }
        self.enqueue_ready();
        Ok(())
    }

    /// Marks pending descendants of failed nodes `upstream_failed`.
    async fn propagate_failures(&mut self) -> Result<(), StoreError> {
        let topo = self.plan.dag.topo.clone();
        for i in topo {
            if self.rt[i].state != NodeState::Pending
                || self.spec_node(i).upstream == UpstreamRule::Finished
            {
                continue;
            }
            let blocked = self.plan.dag.upstream[i].iter().any(|&u| {
                let s = self.rt[u].state;
                s.is_final() && !s.satisfies_downstream()
            });
            if blocked {
                let failed_up: Vec<&str> = self.plan.dag.upstream[i]
                    .iter()
                    .filter(|&&u| {
                        self.rt[u].state.is_final() && !self.rt[u].state.satisfies_downstream()
                    })
                    .map(|&u| self.plan.dag.ids[u].as_str())
                    .collect();
                let r = &mut self.rt[i];
                r.state = NodeState::UpstreamFailed;
                r.error = Some(format!(
                    "upstream did not succeed: {}",
                    failed_up.join(", ")
                ));
                r.finished_at = Some(self.exec.clock.now());
                self.stage(i, None);
                let id = &self.plan.dag.ids[i];
                self.exec.observer.node_changed(
                    id,
                    NodeState::UpstreamFailed,
                    0,
                    self.rt[i].error.as_deref(),
                );
            }
        }
        Ok(())
    }

    /// STOP or window close: nothing new starts; running attempts finish; waiting nodes end.
    async fn begin_stopping(&mut self, reason: String) -> Result<(), StoreError> {
        tracing::warn!("{reason}: running nodes are asked to stop; only nodes that run on the way out (`upstream = \"finished\"`, `on_completion_only`) start");
        self.stopping = Some(reason.clone());
        self.stop_trigger.request(&reason);
        let finishing = |n: &super::spec::NodeSpec| {
            n.on_completion_only || n.upstream == UpstreamRule::Finished
        };
        self.ready.retain(|&i| finishing(&self.plan.spec.nodes[i]));
        for i in 0..self.rt.len() {
            let n = &self.plan.spec.nodes[i];
            if n.on_completion_only
                || (n.upstream == UpstreamRule::Finished && self.rt[i].state == NodeState::Pending)
            {
                continue;
            }
            let r = &mut self.rt[i];
            r.queued = false;
            let new_state = match r.state {
                NodeState::Pending | NodeState::Retrying => NodeState::Cancelled,
                NodeState::Running if r.waiting_repeat => NodeState::Succeeded,
                _ => continue,
            };
            r.state = new_state;
            r.due = None;
            r.waiting_repeat = false;
            r.finished_at = Some(self.exec.clock.now());
            if new_state == NodeState::Cancelled {
                r.error = Some(reason.clone());
            }
            self.stage(i, None);
            let id = &self.plan.dag.ids[i];
            self.exec
                .observer
                .node_changed(id, new_state, 0, Some(&reason));
        }
        self.propagate_failures().await?;
        self.enqueue_ready();
        Ok(())
    }

    /// Repeating nodes stop repeating (manual runs past the window's stop time).
    async fn end_repetitions(&mut self) -> Result<(), StoreError> {
        for i in 0..self.rt.len() {
            if self.rt[i].waiting_repeat
                && self.plan.spec.nodes[i]
                    .repeat
                    .as_ref()
                    .is_some_and(|r| r.max_runs.is_none())
            {
                let r = &mut self.rt[i];
                r.waiting_repeat = false;
                r.due = None;
                r.state = NodeState::Succeeded;
                r.finished_at = Some(self.exec.clock.now());
                self.stage(i, None);
                let id = &self.plan.dag.ids[i];
                self.exec
                    .observer
                    .node_changed(id, NodeState::Succeeded, 0, Some("window closed"));
            }
        }
        self.enqueue_ready();
        Ok(())
    }

    /// Queues the `on_completion_only` nodes once; returns false when there is nothing left.
    async fn start_completion_nodes(&mut self) -> Result<bool, StoreError> {
        let pending: Vec<usize> = (0..self.rt.len())
            .filter(|&i| {
                self.plan.spec.nodes[i].on_completion_only
                    && self.rt[i].state == NodeState::Pending
                    && !self.rt[i].queued
            })
            .collect();
        if pending.is_empty() || self.cancelled {
            return Ok(self.running > 0
                || !self.ready.is_empty()
                || self.rt.iter().any(|r| !r.state.is_final()));
        }
        for i in pending {
            self.rt[i].queued = true;
            self.ready.push_back(i);
        }
        self.start_ready().await?;
        Ok(true)
    }

    /// Ctrl-C / SIGTERM: running attempts are asked to stop and get [`SIGNAL_GRACE`] to do so
    /// (their results are recorded as usual), then the rest are aborted (their process groups
    /// killed); nothing new starts and every unfinished node is recorded `cancelled`.
    async fn cancel_all(&mut self) -> Result<(), StoreError> {
        const REASON: &str = "cancelled by signal";
        self.cancelled = true;
        self.stop_trigger.request(REASON);
        self.signal_trigger.request(REASON);
        self.ready.clear();
        if !self.join.is_empty() {
            tracing::warn!(
                "{REASON}: running nodes are asked to stop; waiting up to {} before aborting them (Ctrl-C again exits at once)",
                super::duration::format_duration(SIGNAL_GRACE)
            );
            let deadline = Instant::now() + SIGNAL_GRACE;
            while !self.join.is_empty() {
                match tokio::time::timeout_at(deadline, self.join.join_next_with_id()).await {
                    Ok(Some(joined)) => self.attempt_done(joined).await?,
                    Ok(None) | Err(_) => break,
                }
            }
            self.flush().await?;
            if !self.join.is_empty() {
                tracing::warn!("{REASON}: aborting the nodes still running");
            }
        }
        self.join.abort_all();
        while self.join.join_next().await.is_some() {}
        self.task_nodes.clear();
        self.running = 0;
        let now = self.exec.clock.now();
        for i in 0..self.rt.len() {
            let r = &mut self.rt[i];
            if r.state.is_final() {
                continue;
            }
            let attempt_started = r.attempt_started.take();
            r.state = NodeState::Cancelled;
            r.error = Some("cancelled by signal".into());
            r.finished_at = Some(now);
            r.due = None;
            let (execution, attempt) = (r.executions, r.attempt);
            let change = attempt_started.map(|started_at| AttemptChange {
                execution,
                attempt,
                status: NodeState::Cancelled,
                started_at,
                finished_at: Some(now),
                error: Some("cancelled by signal".into()),
                output: None,
            });
            self.stage(i, change);
            let id = self.plan.dag.ids[i].clone();
            self.exec
                .observer
                .node_changed(&id, NodeState::Cancelled, 0, Some("cancelled"));
        }
        self.to_spawn.clear();
        self.flush().await
    }

    fn final_status(&self) -> (RunStatus, Option<String>) {
        if self.cancelled {
            return (RunStatus::Cancelled, Some("cancelled by signal".into()));
        }
        let count = |s: NodeState| self.rt.iter().filter(|r| r.state == s).count();
        let failed =
            count(NodeState::Failed) + count(NodeState::UpstreamFailed) + count(NodeState::Crashed);
        if failed > 0 {
            let names: Vec<&str> = self
                .rt
                .iter()
                .enumerate()
                .filter(|(_, r)| r.state == NodeState::Failed)
                .map(|(i, _)| self.plan.dag.ids[i].as_str())
                .collect();
            return (
                RunStatus::Failed,
                Some(format!("failed: {}", names.join(", "))),
            );
        }
        if count(NodeState::Cancelled) > 0 {
            return (RunStatus::Cancelled, self.stopping.clone());
        }
        let warned: Vec<&str> = (self.rt.iter().enumerate())
            .filter(|(_, r)| {
                r.output
                    .as_ref()
                    .is_some_and(|o| !super::task::output_warnings(o).is_empty())
            })
            .map(|(i, _)| self.plan.dag.ids[i].as_str())
            .collect();
        let note = format!(
            "succeeded with warnings from {}: `systrade show`",
            warned.join(", ")
        );
        (RunStatus::Succeeded, (!warned.is_empty()).then_some(note))
    }
}

async fn sleep_until_opt(due: Option<Instant>) {
    match due {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
