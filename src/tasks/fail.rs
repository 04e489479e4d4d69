//! `fail`: fails with `message` (for tests and drills of retries and failure propagation). With
//! `attempts = N` only the first N attempts of each execution fail, so retries can succeed.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct Fail;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailParams {
    #[serde(default = "default_message")]
    message: String,
    /// Fail only this many attempts (0: always).
    #[serde(default)]
    attempts: u32,
    #[serde(default = "yes")]
    retryable: bool,
}

fn default_message() -> String {
    "failed on purpose (task `fail`)".into()
}

fn yes() -> bool {
    true
}

struct FailTask {
    p: FailParams,
}

impl TaskKind<App> for Fail {
    fn name(&self) -> &'static str {
        "fail"
    }
    fn summary(&self) -> &'static str {
        "fails with `message`; with `attempts = N` only the first N attempts fail"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        Ok(Arc::new(FailTask {
            p: parse_params(params)?,
        }))
    }
}

#[async_trait]
impl Task<App> for FailTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        if self.p.attempts == 0 || ctx.attempt <= self.p.attempts {
            return Err(TaskError {
                message: self.p.message.clone(),
                retryable: self.p.retryable,
                stopped: false,
            });
        }
        Ok(json!({ "succeeded_on_attempt": ctx.attempt }))
    }
}
