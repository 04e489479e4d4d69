//! `noop`: does nothing and succeeds; optionally outputs a given JSON value (tests, benchmarks,
//! and joining branches of a DAG).

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::app::App;
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct Noop;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoopParams {
    #[serde(default)]
    output: Value,
}

struct NoopTask {
    output: Value,
}

impl TaskKind<App> for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn summary(&self) -> &'static str {
        "does nothing and succeeds, with `output` as its output"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: NoopParams = parse_params(params)?;
        Ok(Arc::new(NoopTask { output: p.output }))
    }
}

#[async_trait]
impl Task<App> for NoopTask {
    async fn run(&self, _ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        Ok(self.output.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_params() {
        let mut p = Params::new();
        p.insert("outptu".into(), Value::Null);
        let errs = Noop.build(&p).err().unwrap();
        assert!(errs[0].contains("unknown field `outptu`"), "{errs:?}");
    }
}
