//! `clean`: one of the cleaners (sysproduction's `run_cleaners`), chosen by `what` =
//! `run_logs | run_attempts | archived_orders | backtest_states | reports | kept_email`,
//! deletes what is older than `keep_days` (default: the kind's config key, see
//! `app::cleaners`). The output says what was deleted: how many, the oldest and newest, and the
//! files. The same code as `systrade clean`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::app::cleaners::{clean, Cleanable, MAX_KEEP_DAYS};
use crate::app::App;
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct Clean;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CleanParams {
    what: String,
    keep_days: Option<u32>,
}

struct CleanTask {
    what: Cleanable,
    keep_days: Option<u32>,
}

impl TaskKind<App> for Clean {
    fn name(&self) -> &'static str {
        "clean"
    }
    fn summary(&self) -> &'static str {
        "deletes one kind of old thing (`what`) older than its retention"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: CleanParams = parse_params(params)?;
        let mut errors = Vec::new();
        let what = Cleanable::parse(&p.what);
        if what.is_none() {
            errors.push(format!(
                "what: `{}` is not one of: {}",
                p.what,
                Cleanable::choices()
            ));
        }
        if let Some(d) = p.keep_days.filter(|d| !(1..=MAX_KEEP_DAYS).contains(d)) {
            errors.push(format!(
                "keep_days: must be from 1 to {MAX_KEEP_DAYS} days, got {d}"
            ));
        }
        match what {
            Some(what) if errors.is_empty() => Ok(Arc::new(CleanTask {
                what,
                keep_days: p.keep_days,
            })),
            _ => Err(errors),
        }
    }
}

#[async_trait]
impl Task<App> for CleanTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let cleaned = clean(&ctx.app, self.what, self.keep_days, false)
            .await
            .map_err(|e| TaskError::retryable(e.to_string()))?;
        serde_json::to_value(&cleaned).map_err(|e| TaskError::fatal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(params: Value) -> String {
        match Clean.build(params.as_object().unwrap()) {
            Ok(_) => panic!("{params} built"),
            Err(e) => e.join("\n"),
        }
    }

    #[test]
    fn what_is_required_and_checked_and_keep_days_bounded() {
        assert!(err(json!({})).contains("what"), "{}", err(json!({})));
        let e = err(json!({ "what": "logs" }));
        assert!(
            e.contains("`logs` is not one of: run_logs | run_attempts"),
            "{e}"
        );
        let e = err(json!({ "what": "reports", "keep_days": 0 }));
        assert!(e.contains("keep_days: must be from 1"), "{e}");
        assert!(err(json!({ "what": "reports", "keep": 3 })).contains("keep"));
        for c in Cleanable::ALL {
            let p = json!({ "what": c.as_str(), "keep_days": 3 });
            assert!(Clean.build(p.as_object().unwrap()).is_ok(), "{c}");
        }
    }
}
