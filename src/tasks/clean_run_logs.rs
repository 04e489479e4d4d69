//! `clean_run_logs`: deletes run log events older than `keep_days` (default: config
//! `logging.retention_days`), as sysproduction's `clean_truncate_log_files` does.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct CleanRunLogs;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CleanParams {
    keep_days: Option<u32>,
}

struct CleanTask {
    keep_days: Option<u32>,
}

impl TaskKind<App> for CleanRunLogs {
    fn name(&self) -> &'static str {
        "clean_run_logs"
    }
    fn summary(&self) -> &'static str {
        "deletes run log events older than `keep_days`"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: CleanParams = parse_params(params)?;
        Ok(Arc::new(CleanTask {
            keep_days: p.keep_days,
        }))
    }
}

#[async_trait]
impl Task<App> for CleanTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let days = self
            .keep_days
            .unwrap_or(ctx.app.config.logging.retention_days);
        let before = ctx.app.clock.now() - chrono::Duration::days(days as i64);
        let deleted = ctx
            .env
            .store
            .prune_logs(before)
            .await
            .map_err(|e| TaskError::retryable(e.to_string()))?;
        tracing::info!(deleted, keep_days = days, "old run log events deleted");
        Ok(json!({ "deleted": deleted, "keep_days": days }))
    }
}
