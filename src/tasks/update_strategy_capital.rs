//! `update_strategy_capital`: allocates the latest total capital over the strategies of
//! `strategies.weights`, each `weight / Σ weights` of it (§B10, sysproduction's
//! `update_strategy_capital`), and records one allocation per strategy. Fails (not retryable)
//! while there is no total capital.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::update_total_capital::capital_error;
use crate::app::App;
use crate::domain::capital::update_strategy_capital;
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct UpdateStrategyCapital;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

struct AllocateTask;

impl TaskKind<App> for UpdateStrategyCapital {
    fn name(&self) -> &'static str {
        "update_strategy_capital"
    }
    fn summary(&self) -> &'static str {
        "allocates total capital to the strategies by their weights"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let _: NoParams = parse_params(params)?;
        Ok(Arc::new(AllocateTask))
    }
}

#[async_trait]
impl Task<App> for AllocateTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        match update_strategy_capital(
            app.capital.as_ref(),
            &app.config.strategies.weights,
            app.clock.now(),
        )
        .await
        {
            Ok(entries) => {
                for e in &entries {
                    tracing::info!(strategy = %e.strategy, capital = e.capital, "strategy capital allocated");
                }
                Ok(json!({ "strategies": entries }))
            }
            Err(e) => {
                tracing::error!("{e}");
                Err(capital_error(e))
            }
        }
    }
}
