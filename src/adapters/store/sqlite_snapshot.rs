//! Read-only looks at a run store file that this process does not have open: its schema
//! (migration) version, SQLite's integrity check, and who holds its locks (workflow runs, the
//! scheduler, the stack handler). Used by backups and restores, which must never modify a
//! backup's copy of the store nor open a live home's store for writing.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row, SqliteConnection};

use crate::engine::store::LockHolder;

/// The newest migration this binary knows: a store whose schema is newer was written by a newer
/// systrade.
pub fn latest_schema_version() -> i64 {
    super::sqlite::migrator_versions().max().unwrap_or(0)
}

/// How to open the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A file nothing writes (a backup's copy, a restored home before first use): opened
    /// `immutable`, so SQLite creates no -wal/-shm beside it and takes no locks.
    Frozen,
    /// A live store others may be writing: read-only, through its WAL.
    Live,
}

async fn connect(path: &Path, access: Access) -> Result<SqliteConnection, String> {
    if !path.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(|e| e.to_string())?
        .read_only(true)
        .immutable(access == Access::Frozen)
        .create_if_missing(false);
    options
        .connect()
        .await
        .map_err(|e| format!("cannot be opened: {e}"))
}

/// The highest applied migration of the store at `path` (`None`: no migration table).
pub async fn schema_version(path: &Path, access: Access) -> Result<Option<i64>, String> {
    let mut conn = connect(path, access).await?;
    let has_table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut conn)
    .await
    .map_err(|e| format!("cannot be read: {e}"))?;
    let version = match has_table {
        None => None,
        Some(_) => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("cannot read its migrations: {e}"))?,
    };
    let _ = sqlx::Connection::close(conn).await;
    Ok(version)
}

/// `PRAGMA integrity_check` of the file: the problems SQLite reports (empty: the file is sound).
pub async fn integrity_problems(path: &Path, access: Access) -> Result<Vec<String>, String> {
    let mut conn = connect(path, access).await?;
    let rows = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("integrity check failed: {e}"))?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .filter(|s| s != "ok")
        .collect())
}

/// Every recorded holder of the store's locks: workflow runs and the scheduler (`locks`), and the
/// stack handler's claim (`order_handler_state`). Dead holders are included; the caller decides.
pub async fn lock_holders(path: &Path) -> Result<Vec<LockHolder>, String> {
    let mut conn = connect(path, Access::Live).await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name IN ('locks', 'order_handler_state')",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| format!("cannot be read: {e}"))?;
    let mut holders = Vec::new();
    if tables.iter().any(|t| t == "locks") {
        let rows = sqlx::query(
            "SELECT name, run_id, pid, pid_start, host, boot_id, acquired_at FROM locks",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("cannot read its locks: {e}"))?;
        for r in rows {
            let at: String = r.try_get("acquired_at").unwrap_or_default();
            holders.push(LockHolder {
                workflow: r.try_get("name").unwrap_or_default(),
                run_id: r.try_get("run_id").unwrap_or_default(),
                pid: r.try_get("pid").unwrap_or_default(),
                pid_start: r.try_get("pid_start").unwrap_or_default(),
                host: r.try_get("host").unwrap_or_default(),
                boot_id: r.try_get("boot_id").unwrap_or_default(),
                acquired_at: parse_time(&at),
            });
        }
    }
    if tables.iter().any(|t| t == "order_handler_state") {
        let claim: Option<String> =
            sqlx::query_scalar("SELECT value FROM order_handler_state WHERE key = 'handler'")
                .fetch_optional(&mut conn)
                .await
                .map_err(|e| format!("cannot read the stack handler's claim: {e}"))?;
        if let Some(text) = claim {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            holders.push(LockHolder {
                workflow: "stack handler".into(),
                run_id: None,
                pid: v["pid"].as_i64().unwrap_or_default(),
                pid_start: v["pid_start"].as_i64(),
                host: v["host"].as_str().unwrap_or_default().to_string(),
                boot_id: v["boot_id"].as_str().map(str::to_string),
                acquired_at: parse_time(v["acquired_at"].as_str().unwrap_or_default()),
            });
        }
    }
    let _ = sqlx::Connection::close(conn).await;
    Ok(holders)
}

fn parse_time(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::store::sqlite::{Durability, SqliteRunStore};
    use crate::engine::store::RunStore;

    #[tokio::test]
    async fn a_backup_copy_reads_its_version_and_passes_the_check_without_side_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("systrade.db");
        let store = SqliteRunStore::open(&db, Durability::Normal).await.unwrap();
        let copy = dir.path().join("copy").join("systrade.db");
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        store.backup_to(&copy).await.unwrap();
        assert_eq!(
            schema_version(&copy, Access::Frozen).await.unwrap(),
            Some(latest_schema_version())
        );
        assert!(integrity_problems(&copy, Access::Frozen)
            .await
            .unwrap()
            .is_empty());
        let names: Vec<String> = std::fs::read_dir(copy.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["systrade.db"], "nothing created beside the copy");
        assert!(lock_holders(&db).await.unwrap().is_empty());
        store.close().await;
        assert!(schema_version(&dir.path().join("none.db"), Access::Frozen)
            .await
            .is_err());
    }
}
