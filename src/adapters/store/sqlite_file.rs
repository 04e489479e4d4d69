//! Checks of the run store's file before anything opens it for writing: a file that exists but
//! is empty, is not SQLite, is shorter than its header says with no WAL beside it (truncated),
//! or is a SQLite database of some other program is damage, and is reported — never silently
//! re-initialised; a store with a migration this binary does not know was written by a newer
//! systrade and is refused too (migrating or writing it could break it for that version). The
//! checks only read: the file is left byte for byte as it was, and no -shm/-wal file is made
//! when no process has it open.

use sqlx::{ConnectOptions, Row};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What is at the run store's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreFile {
    /// No file: a new store may be created.
    Missing,
    /// A systrade store (or an empty SQLite database with no tables yet).
    Usable,
}

/// Why the file at the run store's path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", path.display())]
pub struct DamagedStore {
    pub path: PathBuf,
    pub detail: String,
    /// `Some` when the store is whole but of a newer systrade (the fix is an upgrade).
    pub newer: Option<NewerSchema>,
}

/// A store whose schema is newer than this binary's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewerSchema {
    /// The newest migration applied to the store.
    pub store: i64,
    /// The newest migration this binary knows.
    pub binary: i64,
}

const MAGIC: &[u8; 16] = b"SQLite format 3\0";

fn damaged(path: &Path, detail: impl Into<String>) -> DamagedStore {
    DamagedStore {
        path: path.to_path_buf(),
        detail: detail.into(),
        newer: None,
    }
}

/// Reads the header of `path` and, if it is a SQLite database, lists its tables through a
/// read-only connection.
pub async fn inspect(path: &Path) -> Result<StoreFile, DamagedStore> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreFile::Missing),
        Err(e) => return Err(damaged(path, format!("cannot be read: {e}"))),
    };
    if !meta.is_file() {
        return Err(damaged(path, "is not a file"));
    }
    let size = meta.len();
    if size == 0 {
        return Err(damaged(
            path,
            "is empty (0 bytes): the run store's history, capital and positions are gone from it",
        ));
    }
    let mut header = [0u8; 100];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut header))
        .map_err(|e| damaged(path, format!("cannot be read: {e}")))?;
    if read < 100 || &header[..16] != MAGIC {
        return Err(damaged(
            path,
            format!("is not a SQLite database ({size} bytes without a SQLite header)"),
        ));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    let pages = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    let counter = &header[24..28];
    let valid_for = &header[92..96];
    // The header's page count is only meaningful when it is current (SQLite's rule), and only
    // when no WAL is beside the file: while connections are open, a checkpoint may have written
    // page 1 before the pages that extend the file.
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    if pages > 0 && counter == valid_for && !wal.exists() && size < pages * page_size {
        return Err(damaged(
            path,
            format!(
                "is truncated: {size} bytes, but its header says {pages} pages of {page_size} bytes ({} bytes)",
                pages * page_size
            ),
        ));
    }
    let options = super::sqlite::read_only_options(path, super::sqlite::is_quiescent(path))
        .map_err(|e| damaged(path, e.to_string()))?;
    let mut conn = options
        .connect()
        .await
        .map_err(|e| damaged(path, format!("cannot be opened: {e}")))?;
    let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| damaged(path, format!("cannot be read: {e}")))?
        .iter()
        .filter_map(|r| r.try_get::<String, _>("name").ok())
        .collect();
    let applied: Vec<i64> = if tables.iter().any(|t| t == "_sqlx_migrations") {
        sqlx::query("SELECT version FROM _sqlx_migrations")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| damaged(path, format!("cannot be read: {e}")))?
            .iter()
            .filter_map(|r| r.try_get::<i64, _>("version").ok())
            .collect()
    } else {
        Vec::new()
    };
    let _ = sqlx::Connection::close(conn).await;
    let known = super::sqlite::known_migrations();
    if let Some(&newest) = applied.iter().filter(|v| !known.contains(v)).max() {
        let binary = known.iter().copied().max().unwrap_or(0);
        return Err(DamagedStore {
            path: path.to_path_buf(),
            detail: format!(
                "was written by a newer systrade (schema {newest} > {binary}): upgrade systrade \
                 to open this home"
            ),
            newer: Some(NewerSchema {
                store: newest,
                binary,
            }),
        });
    }
    if !tables.is_empty() && !tables.iter().any(|t| t == "_sqlx_migrations") {
        let mut shown: Vec<&str> = tables.iter().map(String::as_str).take(5).collect();
        if tables.len() > 5 {
            shown.push("…");
        }
        return Err(damaged(
            path,
            format!(
                "is a SQLite database of another program (tables {}), not a systrade run store",
                shown.join(", ")
            ),
        ));
    }
    Ok(StoreFile::Usable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;

    async fn fresh_store(dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("systrade.db");
        let store = super::super::sqlite::SqliteRunStore::open(
            &path,
            super::super::sqlite::Durability::Normal,
        )
        .await
        .unwrap();
        store.close().await;
        path
    }

    #[tokio::test]
    async fn a_missing_file_may_be_created_and_a_store_is_usable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("systrade.db");
        assert_eq!(inspect(&path).await, Ok(StoreFile::Missing));
        let path = fresh_store(dir.path()).await;
        assert_eq!(inspect(&path).await, Ok(StoreFile::Usable));
    }

    #[tokio::test]
    async fn empty_foreign_and_truncated_files_are_damage_and_left_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("systrade.db");
        std::fs::write(&path, b"").unwrap();
        let e = inspect(&path).await.unwrap_err();
        assert!(e.detail.contains("is empty (0 bytes)"), "{e}");

        std::fs::write(&path, b"hello, this is a text file, not a database at all").unwrap();
        let e = inspect(&path).await.unwrap_err();
        assert!(e.detail.contains("is not a SQLite database"), "{e}");

        let path = fresh_store(&dir.path().join("ok")).await;
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 8192, "a migrated store has several pages");
        std::fs::write(&path, &bytes[..4096]).unwrap();
        let e = inspect(&path).await.unwrap_err();
        assert!(e.detail.contains("is truncated"), "{e}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            &bytes[..4096],
            "left as it was"
        );

        let other = dir.path().join("other.db");
        let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{}", other.display()))
            .unwrap()
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE photos (id INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = sqlx::Connection::close(conn).await;
        let before = std::fs::read(&other).unwrap();
        let e = inspect(&other).await.unwrap_err();
        assert!(e.detail.contains("another program (tables photos)"), "{e}");
        assert_eq!(std::fs::read(&other).unwrap(), before);
    }

    #[tokio::test]
    async fn a_store_of_a_newer_systrade_is_refused_and_no_side_file_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let path = fresh_store(dir.path()).await;
        let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (29991231000099, 'future', 1, x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let _ = sqlx::Connection::close(conn).await;
        let before = std::fs::read(&path).unwrap();
        let e = inspect(&path).await.unwrap_err();
        assert!(
            e.detail
                .contains("written by a newer systrade (schema 29991231000099 > "),
            "{e}"
        );
        assert_eq!(e.newer.map(|n| n.store), Some(29991231000099));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["systrade.db"], "no -wal or -shm left");
    }
}
