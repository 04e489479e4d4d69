//! `backup_run_store`: a consistent copy of the run store into `<home>/backups/`, written under a
//! temporary name and renamed (never a half-written backup), keeping the newest `keep` copies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};
use crate::home::{backup_dir, backup_names, BACKUP_PREFIX, BACKUP_SUFFIX};

pub struct BackupRunStore;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupParams {
    /// How many backups to keep (default: config `backup.keep`).
    keep: Option<u32>,
    /// Where to write (default: config `backup.directory`, else `<home>/backups`).
    directory: Option<PathBuf>,
}

struct BackupTask {
    p: BackupParams,
}

impl TaskKind<App> for BackupRunStore {
    fn name(&self) -> &'static str {
        "backup_run_store"
    }
    fn summary(&self) -> &'static str {
        "copies the run store to <home>/backups (atomically), keeping the newest `keep`"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: BackupParams = parse_params(params)?;
        if p.keep == Some(0) {
            return Err(vec!["params: `keep` must be at least 1".into()]);
        }
        Ok(Arc::new(BackupTask { p }))
    }
}

#[async_trait]
impl Task<App> for BackupTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let cfg = &ctx.app.config.backup;
        let dir = backup_dir(
            &ctx.env.home,
            self.p.directory.as_deref().or(cfg.directory.as_deref()),
        );
        let keep = self.p.keep.unwrap_or(cfg.keep) as usize;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| TaskError::retryable(format!("cannot create {}: {e}", dir.display())))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let final_path = dir.join(format!("{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}"));
        let tmp_path = dir.join(format!(".{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}.partial"));
        let _ = tokio::fs::remove_file(&tmp_path).await;
        ctx.env
            .store
            .backup_to(&tmp_path)
            .await
            .map_err(|e| TaskError::retryable(format!("backup failed: {e}")))?;
        tokio::fs::rename(&tmp_path, &final_path)
            .await
            .map_err(|e| TaskError::retryable(format!("cannot rename backup into place: {e}")))?;
        let bytes = tokio::fs::metadata(&final_path)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let removed = prune(&dir, keep).map_err(|e| {
            TaskError::retryable(format!(
                "cannot prune old backups in {}: {e}",
                dir.display()
            ))
        })?;
        tracing::info!(path = %final_path.display(), bytes, removed, "run store backed up");
        Ok(json!({ "path": final_path.display().to_string(), "bytes": bytes, "removed": removed }))
    }
}

/// Deletes all but the newest `keep` backups (names sort by time).
fn prune(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let names = backup_names(dir)?;
    let excess = names.len().saturating_sub(keep);
    for n in &names[..excess] {
        std::fs::remove_file(dir.join(n))?;
    }
    Ok(excess)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "systrade-20260101T000000.000Z.db",
            "systrade-20260102T000000.000Z.db",
            "systrade-20260103T000000.000Z.db",
            "other.txt",
        ] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        assert_eq!(prune(dir.path(), 2).unwrap(), 1);
        assert!(!dir.path().join("systrade-20260101T000000.000Z.db").exists());
        assert!(dir.path().join("systrade-20260103T000000.000Z.db").exists());
        assert!(dir.path().join("other.txt").exists());
    }
}
