//! `update_total_capital`: reads the broker's account value in `capital.base_currency` and
//! moves total capital by `capital.method` (§B9, sysproduction's `update_total_capital`); the
//! margin used is recorded beside it. A move of the account value beyond `capital.max_change`
//! fails the task (not retryable), logged at error level, with nothing written, until a person
//! runs `systrade capital confirm`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
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
                Err(capital_error(e))
            }
        }
    }
}
