//! `run_stack_handler` (sysproduction's `run_stack_handler`, §B16–§B23): claims the stack
//! handler role (one per home: a second handler is refused while the first lives), then runs
//! [`StackHandler::pass`] every `execution.poll_seconds` — reconcile with the broker, spawn
//! contract orders, force rolls, send broker orders through their algo, manage them, book the
//! fills, archive what completed — until the stacks are empty (`until_idle`; also when a pass
//! changed nothing and nothing works at the broker, so what is left waits on a lock, a roll
//! state or a quote) or `max_seconds` have passed. With `end_of_day = true` it instead cancels what is unfilled and archives every
//! order (the stacks start empty tomorrow).
//!
//! For the kill tests, in a debug build only, `SYSTRADE_ABORT_AT=STEP[:N]` aborts the process
//! (as `kill -9` would) at the Nth time the handler reaches step STEP
//! (`after_broker_order_written`, `after_order_sent`,
//! `after_order_recorded`, `after_fill_applied`, `after_spawn`, `after_complete`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::domain::execution::BestExecutionParams;
use crate::domain::orders::handler::{HandlerError, Hook, PassReport, StackHandler};
use crate::domain::orders::rejects::rejection_warnings;
use crate::domain::orders::BrokerOrder;
use crate::engine::task::{
    parse_params, Params, StopSignal, Task, TaskContext, TaskError, TaskKind,
};

pub struct RunStackHandler;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandlerParams {
    /// Cancel what is unfilled and archive every order instead of trading.
    #[serde(default)]
    end_of_day: bool,
    /// Stop once no instrument order is left on the stack (default true).
    #[serde(default = "default_true")]
    until_idle: bool,
    /// Stop after this many seconds of passes (default 600).
    #[serde(default = "default_max_seconds")]
    max_seconds: f64,
    /// With another stack handler live in this home, leave the orders on the stack for it and
    /// succeed (the daily run beside `run trading`) instead of failing (default false).
    #[serde(default)]
    defer_to_running: bool,
    /// Overrides `execution.passive_timeout_seconds` for this node (the daily batch); the total
    /// time-out is then at least twice it.
    #[serde(default)]
    passive_timeout_seconds: Option<f64>,
}

fn default_true() -> bool {
    true
}

fn default_max_seconds() -> f64 {
    600.0
}

struct HandlerTask {
    end_of_day: bool,
    until_idle: bool,
    max_seconds: f64,
    defer_to_running: bool,
    passive_timeout_seconds: Option<f64>,
}

/// How long a stopped handler waits for the broker to confirm its cancels (inside the engine's
/// 15 s signal grace).
const STOP_CANCEL_WAIT: Duration = Duration::from_secs(10);

/// A wait longer than this logs what it waits for, this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl TaskKind<App> for RunStackHandler {
    fn name(&self) -> &'static str {
        "run_stack_handler"
    }
    fn summary(&self) -> &'static str {
        "turns instrument orders into contract and broker orders, executes them and books the fills"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: HandlerParams = parse_params(params)?;
        if !(p.max_seconds.is_finite() && p.max_seconds > 0.0 && p.max_seconds <= 86_400.0) {
            return Err(vec![format!(
                "max_seconds must be above 0 and at most a day, got {}",
                p.max_seconds
            )]);
        }
        if let Some(t) = p.passive_timeout_seconds {
            if !(t.is_finite() && t > 0.0 && t <= 86_400.0) {
                return Err(vec![format!(
                    "passive_timeout_seconds must be above 0 and at most a day, got {t}"
                )]);
            }
        }
        if p.end_of_day && p.defer_to_running {
            return Err(vec![
                "defer_to_running does not go with end_of_day (the end of day must clear the stacks)"
                    .to_string(),
            ]);
        }
        Ok(Arc::new(HandlerTask {
            end_of_day: p.end_of_day,
            until_idle: p.until_idle,
            max_seconds: p.max_seconds,
            defer_to_running: p.defer_to_running,
            passive_timeout_seconds: p.passive_timeout_seconds,
        }))
    }
}

/// The test hook: aborts at the Nth arrival at the step named in `SYSTRADE_ABORT_AT`.
struct AbortHook {
    step: Option<(String, u32)>,
    seen: AtomicU32,
}

impl AbortHook {
    /// Only a debug build reads `SYSTRADE_ABORT_AT`: fault injection is not reachable from a
    /// release build.
    fn from_env() -> Self {
        let step = if cfg!(debug_assertions) {
            std::env::var("SYSTRADE_ABORT_AT")
                .ok()
                .map(|v| match v.split_once(':') {
                    Some((s, n)) => (s.to_string(), n.parse().unwrap_or(1)),
                    None => (v, 1),
                })
        } else {
            None
        };
        Self {
            step,
            seen: AtomicU32::new(0),
        }
    }

    fn reached(&self, step: &str) {
        if let Some((wanted, n)) = &self.step {
            if wanted == step && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == *n {
                eprintln!("SYSTRADE_ABORT_AT: aborting at {step}");
                std::process::abort();
            }
        }
    }
}

fn task_error(e: HandlerError) -> TaskError {
    let retryable = e.is_retryable();
    TaskError {
        message: e.to_string(),
        retryable,
        stopped: false,
    }
}

fn add(total: &mut PassReport, r: PassReport) {
    total.recovered += r.recovered;
    total.fills += r.fills;
    total.duplicate_fills += r.duplicate_fills;
    total.locked.extend(r.locked);
    total.unlocked.extend(r.unlocked);
    total.spawned += r.spawned;
    total.force_rolls += r.force_rolls;
    total.sent += r.sent;
    total.aggressive += r.aggressive;
    total.cancelled += r.cancelled;
    total.completed += r.completed;
    for note in r.notes {
        if !total.notes.contains(&note) {
            total.notes.push(note);
        }
    }
    for warning in r.warnings {
        if !total.warnings.contains(&warning) {
            total.warnings.push(warning);
        }
    }
}

#[async_trait]
impl Task<App> for HandlerTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        let orders = app.orders.as_ref();
        if let Err(holder) = orders
            .claim_handler()
            .await
            .map_err(|e| TaskError::retryable(e.to_string()))?
        {
            if self.defer_to_running {
                let left = orders
                    .instrument_orders(true)
                    .await
                    .map_err(|e| TaskError::retryable(e.to_string()))?
                    .len();
                let message = format!(
                    "another stack handler is running ({holder}): the {left} instrument orders on the stack are left to it"
                );
                tracing::info!("{message}");
                return Ok(json!({
                    "deferred": true,
                    "running_handler": holder,
                    "instrument_orders_left": left,
                    "message": message,
                }));
            }
            return Err(TaskError::fatal(format!(
                "another stack handler is running ({holder}); one per home"
            )));
        }
        let result = self.run_claimed(app, &ctx.stop).await;
        if let Err(e) = orders.release_handler().await {
            tracing::warn!("could not release the stack handler claim: {e}");
        }
        result
    }
}

impl HandlerTask {
    async fn run_claimed(&self, app: &App, stop: &StopSignal) -> Result<Value, TaskError> {
        let cfg = &app.config.execution;
        let ms = |s: f64| chrono::Duration::milliseconds((s * 1000.0) as i64);
        let passive = self
            .passive_timeout_seconds
            .unwrap_or(cfg.passive_timeout_seconds);
        let best = BestExecutionParams {
            passive_timeout: ms(passive),
            // An overridden passive time-out keeps room to go aggressive before the total one.
            total_timeout: ms(if self.passive_timeout_seconds.is_some() {
                cfg.total_timeout_seconds.max(2.0 * passive)
            } else {
                cfg.total_timeout_seconds
            }),
            reject_backoff: ms(cfg.reject_backoff_seconds),
            max_reject_tries: cfg.max_reject_tries,
            ..Default::default()
        };
        let run_started = app.clock.now();
        let broker = app.broker();
        let prices = app.price_store();
        let clock = app.clock.clone();
        let now = move || clock.now();
        let handler = StackHandler {
            orders: app.orders.as_ref(),
            broker: broker.as_ref(),
            rolls: app.metadata.as_ref(),
            contracts: app.metadata.as_ref(),
            prices: prices.as_ref(),
            controls: app.controls.as_ref(),
            best,
            now: &now,
            cache: Default::default(),
        };
        let abort = AbortHook::from_env();
        let hook = |step: &str| abort.reached(step);
        if self.end_of_day {
            let report = handler.end_of_day(&hook).await.map_err(task_error)?;
            tracing::info!(
                cancelled = report.cancelled,
                completed = report.completed,
                "end of day: stacks cleared"
            );
            return Ok(json!({ "end_of_day": report }));
        }
        let started = Instant::now();
        let mut last_progress = Instant::now();
        let mut total = PassReport::default();
        let mut passes = 0u32;
        let store_error =
            |e: crate::domain::orders::OrderError| TaskError::retryable(e.to_string());
        loop {
            let report = handler.pass(&hook).await.map_err(task_error)?;
            passes += 1;
            let progressed = report.spawned
                + report.force_rolls
                + report.sent
                + report.fills
                + report.aggressive
                + report.cancelled
                + report.completed
                + report.recovered
                > 0;
            add(&mut total, report);
            let active = app
                .orders
                .instrument_orders(true)
                .await
                .map_err(store_error)?
                .len();
            let broker_orders = app.orders.broker_orders(true).await.map_err(store_error)?;
            let working: Vec<&BrokerOrder> = broker_orders
                .iter()
                .filter(|b| !b.status.is_final())
                .collect();
            if self.until_idle && active == 0 {
                break;
            }
            // Orders that wait on something a pass cannot change (a lock, a roll state, no
            // quote, a rejection's backoff) with nothing working at the broker: stop rather
            // than spin.
            if self.until_idle && !progressed && working.is_empty() {
                tracing::info!(
                    active,
                    "stack handler stops: the orders left wait on locks, roll states, quotes or rejections"
                );
                break;
            }
            let elapsed = started.elapsed().as_secs_f64();
            if elapsed >= self.max_seconds {
                tracing::info!(
                    active,
                    "stack handler stops after max_seconds with orders on the stack"
                );
                break;
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                tracing::info!(
                    "{}",
                    progress(
                        &working,
                        &best,
                        app.clock.now(),
                        active,
                        self.max_seconds - elapsed
                    )
                );
            }
            if let Err(reason) = stop.sleep(Duration::from_secs_f64(cfg.poll_seconds)).await {
                return Err(self.stopped(&handler, &hook, &reason, passes, active).await);
            }
        }
        tracing::info!(
            passes,
            sent = total.sent,
            fills = total.fills,
            completed = total.completed,
            "stack handler finished"
        );
        for note in &total.notes {
            tracing::info!("{note}");
        }
        let broker_orders = app.orders.broker_orders(true).await.map_err(store_error)?;
        let mut warnings = total.warnings.clone();
        warnings.extend(rejection_warnings(&broker_orders, &best, run_started));
        for w in &warnings {
            tracing::warn!("{w}");
        }
        Ok(json!({ "passes": passes, "report": total, "warnings": warnings }))
    }

    /// On a stop between passes: cancels what works at the broker (a bounded wait) and says
    /// what it cancelled and what it could not.
    async fn stopped(
        &self,
        handler: &StackHandler<'_>,
        hook: Hook<'_>,
        reason: &str,
        passes: u32,
        active: usize,
    ) -> TaskError {
        let why = format!("stack handler stopped: {reason}");
        let detail = match handler.cancel_working(&why, STOP_CANCEL_WAIT, hook).await {
            Ok(c) => {
                for (id, what) in &c.not_cancelled {
                    tracing::error!(
                        order = id,
                        "broker order still working after the stop: {what}; the next start reconciles it"
                    );
                }
                let ids = |v: &[i64]| {
                    v.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut parts = vec![format!("{} broker orders cancelled", c.cancelled.len())];
                if !c.cancelled.is_empty() {
                    parts[0].push_str(&format!(" ({})", ids(&c.cancelled)));
                }
                if !c.filled.is_empty() {
                    parts.push(format!(
                        "{} filled before the cancel ({})",
                        c.filled.len(),
                        ids(&c.filled)
                    ));
                }
                if !c.not_cancelled.is_empty() {
                    let left: Vec<String> = c
                        .not_cancelled
                        .iter()
                        .map(|(id, what)| format!("{id}: {what}"))
                        .collect();
                    parts.push(format!(
                        "{} not cancelled ({}), reconciled at the next start",
                        left.len(),
                        left.join("; ")
                    ));
                }
                parts.join(", ")
            }
            Err(e) => {
                tracing::error!("cancelling the working broker orders after the stop failed: {e}");
                format!("cancelling the working broker orders failed ({e}); the next start reconciles them")
            }
        };
        tracing::warn!(
            active,
            "stack handler stops between passes: {reason}; {detail}"
        );
        TaskError::stopped(format!(
            "{reason}; the stack handler stopped after {passes} passes with {active} instrument orders on the stack; {detail}"
        ))
    }
}

/// What a waiting handler waits for: the orders working at the broker, when the first passive
/// limit goes aggressive, and the time left of `max_seconds`.
fn progress(
    working: &[&BrokerOrder],
    best: &BestExecutionParams,
    now: chrono::DateTime<chrono::Utc>,
    active: usize,
    left: f64,
) -> String {
    let aggressive_in = working
        .iter()
        .filter(|b| b.algo == "best" && b.aggressive_at.is_none())
        .filter_map(|b| b.submitted_at)
        .map(|t| (t + best.passive_timeout - now).num_milliseconds() as f64 / 1000.0)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.min(s))));
    let mut text = format!(
        "stack handler waits: {active} instrument orders on the stack, {} broker orders working",
        working.len()
    );
    if let Some(s) = aggressive_in {
        text.push_str(&format!(
            "; the first passive limit goes aggressive in {:.0} s",
            s.max(0.0)
        ));
    }
    text.push_str(&format!("; {:.0} s left of max_seconds", left.max(0.0)));
    text
}
