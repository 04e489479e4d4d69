//! Whole-home backups and restores (sysproduction's `run_backups`): one consistent snapshot of a
//! home — the run store through the store's online snapshot (`RunStore::backup_to`, SQLite's
//! `VACUUM INTO`), every Parquet file, backtest states, config, workflows, task overrides,
//! strategies, reference data and reports — into `<destination>/systrade-backup-<UTC time>/`
//! with a `manifest.json` of every file's size and SHA-256. No CLI code here.
//!
//! - [`plan`]: what a backup holds (and leaves out) of a home.
//! - [`create`]: writing a backup (temporary name, fsyncs, manifest last, rename), hard links
//!   for files unchanged since the previous backup, free space first, retention after.
//! - [`retention`]: which backups are kept (newest daily ones, one per week beyond).
//! - [`list`]: the backups of a destination, and naming one.
//! - [`verify`]: checking a backup (or a restored home) against its manifest.
//! - [`restore`]: into a new home, or in place of the current one (`live`: nothing may use it).
//! - [`manifest`], `fsops`: the manifest format; file mechanics and test fault hooks.
//!
//! The only run store is SQLite; a PostgreSQL-backed home would keep its store in the database
//! server, and its backup would hold a `pg_dump` of it in place of `systrade.db` (the manifest's
//! `store.engine` and `store.method` say which).

pub mod create;
mod fsops;
pub mod list;
pub mod live;
pub mod manifest;
pub mod plan;
pub mod restore;
pub mod retention;
pub mod verify;

use std::path::PathBuf;

pub use create::{create_backup, BackupRequest, BackupSummary, ProgressFn};
pub use fsops::hash_file;
pub use list::{list, resolve, BackupInfo, Listing};
pub use restore::{restore_new, restore_replace, RestoreSummary};
pub use retention::Kind;
pub use verify::{verify_backup, Problem, VerifyReport};

/// Why a backup, verify or restore could not be done.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the backup destination {}: {detail}", path.display())]
    Destination { path: PathBuf, detail: String },
    #[error(
        "not enough free space in {}: the backup needs about {} MiB (with a margin) and {} MiB \
         are free; free some space, lower backup.keep_daily / backup.keep_weekly, or set \
         backup.destination to a larger disk",
        dest.display(), needed >> 20, available >> 20
    )]
    NoSpace {
        dest: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("another backup is being written to {} ({holder}); try again when it is done", dest.display())]
    Busy { dest: PathBuf, holder: String },
    #[error("the run store could not be snapshotted: {0}")]
    Store(String),
    #[error("{}: {detail}", path.display())]
    Manifest { path: PathBuf, detail: String },
    #[error("{}", unknown_backup(name, dest, newest))]
    UnknownBackup {
        name: String,
        dest: PathBuf,
        newest: Vec<String>,
    },
    #[error(
        "{} was written by systrade {version} with store schema {schema}, newer than this \
         systrade ({}) knows ({known}); restore it with that version or newer",
        backup.display(), env!("CARGO_PKG_VERSION")
    )]
    NewerSchema {
        backup: PathBuf,
        schema: i64,
        known: i64,
        version: String,
    },
    #[error("{}: {detail}", path.display())]
    Target { path: PathBuf, detail: String },
    #[error(
        "{} is in use, so it is not replaced (nothing was changed): {}. Stop these first \
         (`systrade control stop`, stop the scheduler), or restore into a new home with --home",
        home.display(), users.join("; ")
    )]
    HomeInUse { home: PathBuf, users: Vec<String> },
    #[error(
        "the backup {} is damaged, so nothing was restored: {}",
        backup.display(), problems.join("; ")
    )]
    Damaged {
        backup: PathBuf,
        problems: Vec<String>,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl BackupError {
    /// Bad input by the user (an unknown backup, a non-empty target), as opposed to the state of
    /// the machine.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            BackupError::UnknownBackup { .. } | BackupError::Target { .. }
        )
    }
    /// Refused because something is using the home or the destination.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            BackupError::HomeInUse { .. } | BackupError::Busy { .. }
        )
    }
}

fn unknown_backup(name: &str, dest: &std::path::Path, newest: &[String]) -> String {
    if newest.is_empty() {
        format!(
            "no backup `{name}`: not a backup directory, and {} holds no backups",
            dest.display()
        )
    } else {
        format!(
            "no backup `{name}` in {}; the newest are: {} (`systrade backup list` shows them all)",
            dest.display(),
            newest.join(", ")
        )
    }
}

/// Where a home's backups go: `configured` (relative to the home when relative), else
/// `<home>/backups`; and whether it may be created (only the default).
pub fn destination(
    home: &crate::home::Home,
    configured: Option<&std::path::Path>,
) -> (PathBuf, bool) {
    match configured {
        Some(p) if p.is_absolute() => (p.to_path_buf(), false),
        Some(p) => (home.root.join(p), false),
        None => (home.root.join("backups"), true),
    }
}

#[cfg(test)]
mod tests;
