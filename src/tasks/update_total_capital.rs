//! `update_total_capital`: reads the broker's account value in `capital.base_currency` and
//! moves total capital by `capital.method` (§B9, sysproduction's `update_total_capital`); the
//! margin used is recorded beside it. A move of the account value beyond `capital.max_change`
//! fails the task (not retryable), logged at error level, with nothing written, and raises a
//! critical `capital_change` alert naming the move and how to accept it, until a person runs
//! `systrade capital confirm`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::domain::alerts::{AlertContext, NewAlert, Severity};
use crate::domain::capital::{update_total_capital, CapitalError, UpdateRules};
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct UpdateTotalCapital;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

struct UpdateTask;

impl TaskKind<App> for UpdateTotalCapital {
    fn name(&self) -> &'static str {
        "update_total_capital"
    }
    fn summary(&self) -> &'static str {
        "moves total capital with the broker's account value (large moves need confirmation)"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let _: NoParams = parse_params(params)?;
        Ok(Arc::new(UpdateTask))
    }
}

/// A task error for a capital error: store and broker outages may pass on retry.
pub(crate) fn capital_error(e: CapitalError) -> TaskError {
    let retryable = match &e {
        CapitalError::Database { .. } | CapitalError::Conflict { .. } => true,
        CapitalError::Broker(b) => b.is_retryable(),
        _ => false,
    };
    TaskError {
        message: e.to_string(),
        retryable,
        stopped: false,
    }
}

/// The critical `capital_change` alert of a refused large change (none for other errors): the
/// previous and new account values, the change in percent, the limit, and how to accept it.
fn large_change_alert(e: &CapitalError, ctx: &TaskContext<App>) -> Option<NewAlert> {
    let CapitalError::LargeChange {
        previous,
        new,
        change_fraction,
        limit,
    } = e
    else {
        return None;
    };
    let change = if change_fraction.is_finite() {
        format!("{:+.2}%", change_fraction * 100.0)
    } else {
        "from zero".to_string()
    };
    let currency = &ctx.app.config.capital.base_currency;
    Some(NewAlert {
        severity: Severity::Critical,
        kind: "capital_change".into(),
        subject: format!(
            "total capital not updated: the account value moved {change} (limit {:.2}%)",
            limit * 100.0
        ),
        body: format!(
            "The broker's account value moved from {previous:.2} to {new:.2} {currency} \
             ({change}), more than capital.max_change ({:.2}%). update_total_capital wrote \
             nothing and failed; total and strategy capital stay at their last values until the \
             change is accepted.\n\n\
             What to do: check the account at the broker. If {new:.2} is right, accept it with \
             `systrade capital confirm` (the same as `systrade capital update --confirm-large`). \
             If the move is a deposit or withdrawal, record it with `systrade capital adjust \
             --deposit AMOUNT` or `--withdraw AMOUNT` instead, so it does not count as profit or \
             loss. Then re-run what did not succeed: `systrade rerun {}`.",
            limit * 100.0,
            ctx.run_id
        ),
        context: AlertContext {
            instrument: None,
            run_id: Some(ctx.run_id),
            node: Some(ctx.node_id.clone()),
        },
    })
}

#[async_trait]
impl Task<App> for UpdateTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        let cfg = &app.config.capital;
        let rules = UpdateRules {
            method: cfg.method,
            max_change: cfg.max_change,
            base_currency: &cfg.base_currency,
        };
        let broker = app.broker();
        match update_total_capital(
            app.capital.as_ref(),
            broker.as_ref(),
            rules,
            false,
            app.clock.now(),
        )
        .await
        {
            Ok(u) => {
                tracing::info!(
                    capital = u.entry.actual,
                    account_value = u.entry.broker,
                    pnl = u.pnl,
                    initialised = u.initialised,
                    "total capital updated"
                );
                Ok(json!({
                    "method": cfg.method,
                    "base_currency": cfg.base_currency,
                    "update": u,
                }))
            }
            Err(e) => {
                tracing::error!("{e}");
                if let Some(alert) = large_change_alert(&e, ctx) {
                    // The node still fails (and raises node_failed); this alert says what to do.
                    if let Err(raise) = app.raise(alert).await {
                        tracing::error!("cannot record the capital_change alert: {raise}");
                    }
                }
                Err(capital_error(e))
            }
        }
    }
}
