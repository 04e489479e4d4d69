//! `systrade doctor`: checks a home and says what to do. Owns the check model ([`Check`],
//! [`Status`]), the list of checks ([`CHECKS`], each an independent function of the opened
//! [`Doctor`]) and the exit code. The checks only read: the run store is opened read-only (as an
//! immutable file when no process has it open, so not even SQLite's -shm/-wal files appear), no
//! migration runs, nothing is created in the home.
//!
//! | check | damage | warning |
//! |---|---|---|
//! | `run_store` | empty, garbage, truncated or foreign `systrade.db`, `integrity_check` problems, written by a newer systrade, missing in a used home | no store yet |
//! | `config` | `config.toml`, reference data or a strategy file invalid | |
//! | `workflows` | the task catalogue, or a scheduled workflow, invalid | an unscheduled workflow invalid |
//! | `price_files` | a Parquet file unreadable or cut short, a price file the stores name missing | series that disagree, leftovers |
//! | `locks` | | locks and runs whose holders are dead |
//! | `positions` | | position breaks, instrument locks |
//! | `disk` | | under 1 GiB or 5 % free |
//! | `broker` (`--broker`) | | the broker unreachable |
//! | `backups` | | no backup, the newest older than 96 hours or failing its verification |

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::adapters::store::sqlite::SqliteRunStore;
use crate::adapters::store::sqlite_file::{DamagedStore, StoreFile};
use crate::config::Config;
use crate::engine::diagnostic::Diagnostics;
use crate::home::Home;

mod backups;
mod home_checks;
mod prices;
mod store;

/// How a check came out. Ordered: the worst status of all checks decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not run: what it needs is missing or damaged (another check says so).
    Skipped,
    Ok,
    Warning,
    Damage,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Damage => "damage",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The check's name (`run_store`, `price_files`, ...).
    pub check: &'static str,
    pub status: Status,
    /// What was found, in one line.
    pub found: String,
    /// Each problem, naming its file (and line) or instrument.
    pub details: Vec<String>,
    /// What to do about it: the command that repairs it. `None` when all is well.
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(check: &'static str, found: impl Into<String>) -> Check {
        Check {
            check,
            status: Status::Ok,
            found: found.into(),
            details: Vec::new(),
            fix: None,
        }
    }

    pub fn skipped(check: &'static str, why: impl Into<String>) -> Check {
        Check {
            status: Status::Skipped,
            ..Check::ok(check, why)
        }
    }

    pub fn bad(
        check: &'static str,
        status: Status,
        found: impl Into<String>,
        details: Vec<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            check,
            status,
            found: found.into(),
            details,
            fix: Some(fix.into()),
        }
    }
}

/// How to repair the run store, as every command that opens it says it (the composition root
/// knows the backups).
#[derive(Debug, Clone, Default)]
pub struct StoreRepair {
    /// For a damaged file.
    pub damaged: String,
    /// For a missing file in a home that was in use.
    pub missing: String,
    /// What in the home shows a store was in use there (empty: a new home).
    pub in_use: Vec<String>,
}

/// What the checks look at: the home, its config, and its run store opened read-only.
pub struct Doctor {
    pub home: Home,
    /// The home's config; when it is invalid, the shipped defaults (the `config` check says
    /// so); `None` only if even those do not load.
    pub config: Option<Config>,
    pub config_errors: Option<Diagnostics>,
    /// What is at the run store's path.
    pub store_file: Result<StoreFile, DamagedStore>,
    /// The run store, opened read-only, when its file is usable (`Err`: why it did not open).
    pub store: Result<SqliteRunStore, String>,
    pub repair: StoreRepair,
    /// Also ask the broker (`--broker`).
    pub broker: bool,
    pub now: DateTime<Utc>,
}

impl Doctor {
    /// Loads the home's config (`env`: the process environment) and opens its run store for
    /// reading. Never fails: what cannot be opened is what the checks report.
    pub async fn open(
        home: Home,
        env: &[(String, String)],
        repair: StoreRepair,
        broker: bool,
        now: DateTime<Utc>,
    ) -> Doctor {
        let (config, config_errors) = match Config::load(&home.config_path(), env) {
            Ok(c) => (Some(c), None),
            Err(d) => (
                Config::load(std::path::Path::new("/nonexistent"), &[]).ok(),
                Some(d),
            ),
        };
        let db = home.db_path();
        let store_file = crate::adapters::store::sqlite_file::inspect(&db).await;
        let store = match &store_file {
            Ok(StoreFile::Usable) => SqliteRunStore::open_read_only(&db)
                .await
                .map_err(|e| e.to_string()),
            Ok(StoreFile::Missing) => Err(format!("{} does not exist", db.display())),
            Err(d) => Err(d.to_string()),
        };
        Doctor {
            home,
            config,
            config_errors,
            store_file,
            store,
            repair,
            broker,
            now,
        }
    }

    /// Closes the read-only store.
    pub async fn close(self) {
        if let Ok(store) = self.store {
            store.close().await;
        }
    }
}

/// A check's future.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Check> + Send + 'a>>;
/// A check: an independent function of the opened home.
pub type CheckFn = for<'a> fn(&'a Doctor) -> CheckFuture<'a>;

/// Every check, in the order they are shown. A new check is one function and one line here.
pub const CHECKS: &[CheckFn] = &[
    |d| Box::pin(store::run_store(d)),
    |d| Box::pin(home_checks::config(d)),
    |d| Box::pin(home_checks::workflows(d)),
    |d| Box::pin(prices::price_files(d)),
    |d| Box::pin(home_checks::locks(d)),
    |d| Box::pin(home_checks::positions(d)),
    |d| Box::pin(home_checks::disk(d)),
    |d| Box::pin(home_checks::broker(d)),
    |d| Box::pin(backups::backups(d)),
];

/// Runs every check.
pub async fn run(doctor: &Doctor) -> Vec<Check> {
    let mut out = Vec::with_capacity(CHECKS.len());
    for check in CHECKS {
        out.push(check(doctor).await);
    }
    out
}

/// 0 healthy, 1 warnings, 2 damage.
pub fn exit_code(checks: &[Check]) -> i32 {
    match checks.iter().map(|c| c.status).max() {
        Some(Status::Damage) => 2,
        Some(Status::Warning) => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_status_decides_the_exit_code() {
        let with = |s: Status| Check {
            status: s,
            ..Check::ok("x", "")
        };
        assert_eq!(exit_code(&[with(Status::Ok), with(Status::Skipped)]), 0);
        assert_eq!(exit_code(&[with(Status::Warning), with(Status::Ok)]), 1);
        assert_eq!(exit_code(&[with(Status::Warning), with(Status::Damage)]), 2);
        assert_eq!(exit_code(&[]), 0);
    }
}
