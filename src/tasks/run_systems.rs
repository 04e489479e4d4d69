//! `run_systems`: for each strategy of `strategies.weights` (sysproduction's run_systems, §B11),
//! runs the strategy's backtest over the stored prices with the strategy's capital as notional
//! capital, stores each instrument's optimal position (last notional position, buffer edges,
//! reference price and contract), keeps the backtest state for reports and deletes states older
//! than `strategies.backtest_keep_days`.
//!
//! An instrument with missing or NaN prices, or without a finite position at its last date, is
//! reported (in the output's `skipped`, `failed` and warnings) and gets no new optimal position;
//! the others go on (an instrument the home does not collect is only `skipped`). Failures
//! upstream are passed on (`excluded`) for the order generator. A strategy that cannot run at
//! all (bad file, no capital, currency mismatch) fails the task after the other strategies
//! have run.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::instruments::{finish, Excluded, Failure, Subject};
use crate::app::App;
use crate::domain::backtest::portfolio::{run_strategy, NO_ADJUSTED_PRICES};
use crate::domain::optimal::{optimal_positions, BACKTEST_STATE_ROWS};
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct RunSystems;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunSystemsParams {
    /// Worker threads of each backtest (default 2).
    #[serde(default = "default_threads")]
    threads: usize,
}

fn default_threads() -> usize {
    2
}

struct RunSystemsTask {
    threads: usize,
}

impl TaskKind<App> for RunSystems {
    fn name(&self) -> &'static str {
        "run_systems"
    }
    fn summary(&self) -> &'static str {
        "runs each strategy's backtest and stores its optimal positions"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: RunSystemsParams = parse_params(params)?;
        if !(1..=64).contains(&p.threads) {
            return Err(vec![format!(
                "threads must be between 1 and 64, got {}",
                p.threads
            )]);
        }
        Ok(Arc::new(RunSystemsTask { threads: p.threads }))
    }
}

fn fatal(msg: String) -> TaskError {
    tracing::error!("{msg}");
    TaskError::fatal(msg)
}

#[async_trait]
impl Task<App> for RunSystemsTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        let reference = Arc::new(app.reference_data().map_err(|d| fatal(d.to_string()))?);
        let mut reports = Vec::new();
        let mut failures = Vec::new();
        for (name, _) in &app.config.strategies.weights {
            match run_one(app, name, reference.clone(), self.threads).await {
                Ok(report) => reports.push(report),
                Err(e) => {
                    tracing::error!(strategy = %name, "{e}");
                    failures.push(format!("{name}: {e}"));
                }
            }
        }
        if !failures.is_empty() {
            return Err(TaskError::fatal(failures.join("; ")));
        }
        // Instruments a strategy could not size get no new optimal position: the order
        // generator leaves them alone, as it does those that failed upstream. Instruments the
        // home does not collect (no adjusted prices at all) are not failures.
        let skipped: Vec<Failure> = reports
            .iter()
            .flat_map(|r| {
                let strategy = r["strategy"].as_str().unwrap_or_default().to_string();
                r["skipped"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|s| s["reason"] != NO_ADJUSTED_PRICES)
                    .map(move |s| Failure {
                        instrument: s["instrument"].as_str().unwrap_or_default().to_string(),
                        message: format!(
                            "strategy {strategy}: no new optimal position: {}",
                            s["reason"].as_str().unwrap_or_default()
                        ),
                    })
            })
            .collect();
        let mut out = serde_json::Map::new();
        out.insert("strategies".into(), json!(reports));
        finish(
            out,
            skipped,
            &Excluded::from_inputs(&ctx.inputs),
            Subject::Instruments,
            false,
        )
    }
}

async fn run_one(
    app: &App,
    name: &str,
    reference: Arc<crate::domain::instrument::ReferenceData>,
    threads: usize,
) -> Result<Value, String> {
    let loaded = app.strategy(name, &reference)?;
    let base = &app.config.capital.base_currency;
    if &loaded.config.base_currency != base {
        return Err(format!(
            "{}: the strategy values positions in {} but capital is in {base} \
             (capital.base_currency); make them the same",
            loaded.path, loaded.config.base_currency
        ));
    }
    let capital = app
        .capital
        .latest_strategy_capital(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "no capital allocated to strategy `{name}`: run update_strategy_capital \
                 (after `systrade capital init VALUE` if there is no total capital yet)"
            )
        })?;
    if !(capital.capital.is_finite() && capital.capital > 0.0) {
        return Err(format!(
            "strategy `{name}` has capital {}: nothing to size positions with",
            capital.capital
        ));
    }
    let mut config = loaded.config;
    config.position.notional_trading_capital = capital.capital;
    let store = app.price_store();
    let now = app.clock.now();
    let run = tokio::task::spawn_blocking({
        let config = config.clone();
        let reference = reference.clone();
        move || run_strategy(&config, &reference, store.as_ref(), threads)
    })
    .await
    .map_err(|e| format!("the backtest stopped: {e}"))?;

    let (positions, unsized_) = optimal_positions(name, &run, now);
    let mut skipped = run.skipped.clone();
    skipped.extend(unsized_);
    for s in &skipped {
        tracing::warn!(strategy = %name, instrument = %s.instrument, "skipped: {}", s.reason);
    }
    app.optimal
        .record_optimal_positions(&positions)
        .await
        .map_err(|e| e.to_string())?;

    let states = app.backtest_states();
    let keep_days = app.config.strategies.backtest_keep_days;
    let text = loaded.text;
    let strategy = name.to_string();
    let (state, cleaned) = tokio::task::spawn_blocking(move || {
        let state = states.write_state(&strategy, now, &run, &text, BACKTEST_STATE_ROWS)?;
        let cutoff = now - chrono::Duration::days(i64::from(keep_days));
        let cleaned = states.prune_states(Some(&strategy), cutoff, false)?.len();
        Ok::<_, crate::domain::optimal::OptimalError>((state, cleaned))
    })
    .await
    .map_err(|e| format!("storing the backtest state stopped: {e}"))?
    .map_err(|e| e.to_string())?;
    tracing::info!(
        strategy = %name,
        capital = capital.capital,
        positions = positions.len(),
        skipped = skipped.len(),
        "optimal positions stored"
    );
    Ok(json!({
        "strategy": name,
        "capital": capital.capital,
        "optimal_positions": positions.len(),
        "skipped": skipped,
        "backtest_state": state.path.display().to_string(),
        "states_cleaned": cleaned,
    }))
}
