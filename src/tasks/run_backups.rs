//! `run_backups`: one whole-home backup (`crate::backup`: the run store's snapshot, Parquet
//! files, backtest states, config, workflows, task overrides) into the configured destination,
//! then retention — sysproduction's `run_backups`, after the cleaners in the daily workflow.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::app::App;
use crate::backup::{create_backup, destination, BackupError, BackupRequest};
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct RunBackups;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupParams {
    /// Where to write (default: config `backup.destination`, else `<home>/backups`).
    destination: Option<PathBuf>,
    /// Newest backups kept (default: config `backup.keep_daily`).
    keep_daily: Option<u32>,
    /// Weeks with one backup kept beyond those (default: config `backup.keep_weekly`).
    keep_weekly: Option<u32>,
}

struct BackupTask {
    p: BackupParams,
}

impl TaskKind<App> for RunBackups {
    fn name(&self) -> &'static str {
        "run_backups"
    }
    fn summary(&self) -> &'static str {
        "backs up the whole home (store snapshot, Parquet, states, config) with retention"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: BackupParams = parse_params(params)?;
        if p.keep_daily == Some(0) {
            return Err(vec![
                "params: `keep_daily` must be at least 1 (the backup just written is kept)".into(),
            ]);
        }
        Ok(Arc::new(BackupTask { p }))
    }
}

#[async_trait]
impl Task<App> for BackupTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        let cfg = &app.config.backup;
        let (dest, create_dest) = destination(
            &app.home,
            self.p.destination.as_deref().or(cfg.destination.as_deref()),
        );
        let req = BackupRequest {
            home: app.home.clone(),
            dest,
            create_dest,
            keep_daily: self.p.keep_daily.unwrap_or(cfg.keep_daily),
            keep_weekly: self.p.keep_weekly.unwrap_or(cfg.keep_weekly),
            now: app.clock.now(),
        };
        let summary = create_backup(ctx.env.store.as_ref(), &req, None)
            .await
            .map_err(|e| match e {
                // Damage of the store, a destination that is not there, no space: trying again
                // in a few seconds does not help.
                BackupError::Store(_)
                | BackupError::Destination { .. }
                | BackupError::NoSpace { .. } => TaskError::fatal(e.to_string()),
                _ => TaskError::retryable(e.to_string()),
            })?;
        tracing::info!(
            path = %summary.path.display(),
            files = summary.files,
            copied = summary.copied,
            linked = summary.linked,
            bytes = summary.bytes,
            expired = summary.expired.len(),
            "home backed up"
        );
        serde_json::to_value(&summary).map_err(|e| TaskError::fatal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked() {
        let params = |v: Value| -> Params { v.as_object().cloned().unwrap_or_default() };
        let ok = serde_json::json!({ "keep_daily": 3, "keep_weekly": 0 });
        assert!(RunBackups.build(&params(ok)).is_ok());
        let e = RunBackups
            .build(&params(serde_json::json!({ "keep_daily": 0 })))
            .err()
            .unwrap();
        assert!(e[0].contains("at least 1"), "{e:?}");
        assert!(RunBackups
            .build(&params(serde_json::json!({ "keep": 3 })))
            .is_err());
    }
}
