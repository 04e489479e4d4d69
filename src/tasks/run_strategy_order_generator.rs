//! `run_strategy_order_generator` (sysproduction's strategy order generator, §B11–§B14): for
//! each strategy of `strategies.weights`, turns the latest optimal positions into instrument
//! orders on the instrument stack — outside the buffer only, to its edge — after overrides and
//! position limits, skipping locked instruments, netted against orders already on the stack
//! (so running it twice adds nothing). A strategy that fails is reported after the others ran.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::instruments::{finish, Excluded, Subject};
use crate::app::App;
use crate::domain::controls::StrategyName;
use crate::domain::instrument::InstrumentCode;
use crate::domain::orders::generator::{generate_orders, GeneratorError};
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct RunStrategyOrderGenerator;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GeneratorParams {
    /// Strategies (default: every strategy of `strategies.weights`).
    strategies: Option<Vec<String>>,
}

struct GeneratorTask {
    strategies: Option<Vec<StrategyName>>,
}

impl TaskKind<App> for RunStrategyOrderGenerator {
    fn name(&self) -> &'static str {
        "run_strategy_order_generator"
    }
    fn summary(&self) -> &'static str {
        "puts each strategy's buffered trades on the instrument stack"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: GeneratorParams = parse_params(params)?;
        let strategies = match p.strategies {
            None => None,
            Some(list) => {
                let mut names = Vec::new();
                let mut errors = Vec::new();
                for s in &list {
                    match StrategyName::new(s) {
                        Ok(n) => names.push(n),
                        Err(e) => errors.push(format!("params: strategies: {e}")),
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                Some(names)
            }
        };
        Ok(Arc::new(GeneratorTask { strategies }))
    }
}

#[async_trait]
impl Task<App> for GeneratorTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        let configured: Vec<String> = app
            .config
            .strategies
            .weights
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        let strategies = match &self.strategies {
            Some(list) => {
                if let Some(unknown) = list.iter().find(|s| !configured.contains(&s.to_string())) {
                    return Err(TaskError::fatal(format!(
                        "strategy `{unknown}` is not in strategies.weights ({})",
                        configured.join(", ")
                    )));
                }
                list.clone()
            }
            None => configured
                .iter()
                .filter_map(|n| StrategyName::new(n).ok())
                .collect(),
        };
        let now = app.clock.now();
        // Instruments that failed upstream (prices, FX, sizing) get no new orders today.
        let excluded = Excluded::from_inputs(&ctx.inputs);
        let reference = app.reference_data().ok();
        let left_alone = move |code: &InstrumentCode| {
            let currency = reference
                .as_ref()
                .and_then(|r| r.instrument(code))
                .map(|i| i.currency.clone());
            excluded.reason(code.as_str(), currency.as_deref())
        };
        let excluded = Excluded::from_inputs(&ctx.inputs);
        let mut reports = serde_json::Map::new();
        let mut failures = Vec::new();
        let mut retryable = true;
        for strategy in &strategies {
            match generate_orders(
                strategy,
                app.optimal.as_ref(),
                app.orders.as_ref(),
                app.controls.as_ref(),
                now,
                &left_alone,
            )
            .await
            {
                Ok(generated) => {
                    let added = generated.iter().filter(|g| g.order_id.is_some()).count();
                    tracing::info!(strategy = %strategy, instruments = generated.len(), added, "orders generated");
                    reports.insert(strategy.to_string(), json!(generated));
                }
                Err(e) => {
                    retryable &= matches!(e, GeneratorError::Orders(_) | GeneratorError::Store(_));
                    tracing::error!(strategy = %strategy, "{e}");
                    failures.push(format!("{strategy}: {e}"));
                }
            }
        }
        if !failures.is_empty() {
            return Err(TaskError {
                message: failures.join("; "),
                retryable,
                stopped: false,
            });
        }
        let mut out = serde_json::Map::new();
        out.insert("strategies".into(), Value::Object(reports));
        finish(out, Vec::new(), &excluded, Subject::Instruments, false)
    }
}
