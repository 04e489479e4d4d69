//! `sleep`: waits for `duration`, then succeeds (tests, drills and pacing); a stop request ends
//! the wait at once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::engine::duration::parse_duration;
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct Sleep;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepParams {
    duration: String,
}

struct SleepTask {
    duration: Duration,
}

impl TaskKind<App> for Sleep {
    fn name(&self) -> &'static str {
        "sleep"
    }
    fn summary(&self) -> &'static str {
        "waits for `duration` (e.g. \"2s\"), then succeeds"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: SleepParams = parse_params(params)?;
        let duration =
            parse_duration(&p.duration).map_err(|e| vec![format!("params: `duration`: {e}")])?;
        Ok(Arc::new(SleepTask { duration }))
    }
}

#[async_trait]
impl Task<App> for SleepTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let started = std::time::Instant::now();
        if let Err(reason) = ctx.stop.sleep(self.duration).await {
            return Err(TaskError::stopped(format!(
                "{reason}; slept {} of {}",
                crate::engine::duration::format_duration(started.elapsed()),
                crate::engine::duration::format_duration(self.duration)
            )));
        }
        Ok(json!({ "slept_ms": self.duration.as_millis() as u64 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_duration() {
        let mut p = Params::new();
        p.insert("duration".into(), json!("2x"));
        assert!(Sleep.build(&p).err().unwrap()[0].contains("unknown unit"));
        p.insert("duration".into(), json!("20ms"));
        assert!(Sleep.build(&p).is_ok());
    }
}
