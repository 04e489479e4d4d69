//! The log files of scheduled runs: `<home>/logs/NAME.log`, which the scheduler appends each
//! scheduled run's stdout and stderr to. Before a run starts, a file that has reached
//! [`ROTATE_AT_BYTES`] is renamed `NAME.log.YYYYMMDDTHHMMSSZ` and a new one begun, and rotated
//! files last written more than `logging.retention_days` ago are deleted (the same retention as
//! the run store's log events), so the directory neither grows without bound nor loses a day
//! still within retention.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

/// A scheduled run's log file is rotated once it holds this much (10 MiB).
pub const ROTATE_AT_BYTES: u64 = 10 * 1024 * 1024;

/// What [`open`] did besides opening the file.
#[derive(Debug, Default, PartialEq)]
pub struct Housekeeping {
    /// The rotated file the full log became.
    pub rotated_to: Option<PathBuf>,
    /// Rotated files deleted for being older than the retention.
    pub deleted: Vec<PathBuf>,
}

/// Opens `dir/NAME.log` for appending, rotating it first when it has reached `rotate_at` bytes
/// and deleting `NAME.log.*` files last modified more than `retention_days` before `now`.
pub fn open(
    dir: &Path,
    name: &str,
    now: DateTime<Utc>,
    retention_days: u32,
    rotate_at: u64,
) -> std::io::Result<(File, PathBuf, Housekeeping)> {
    let path = dir.join(format!("{name}.log"));
    let mut done = Housekeeping::default();
    if std::fs::metadata(&path).is_ok_and(|m| m.len() >= rotate_at) {
        let mut to = dir.join(format!("{name}.log.{}", now.format("%Y%m%dT%H%M%SZ")));
        let mut n = 1;
        while to.exists() {
            to = dir.join(format!("{name}.log.{}-{n}", now.format("%Y%m%dT%H%M%SZ")));
            n += 1;
        }
        std::fs::rename(&path, &to)?;
        done.rotated_to = Some(to);
    }
    let cutoff = SystemTime::from(now) - Duration::from_secs(u64::from(retention_days) * 86_400);
    let prefix = format!("{name}.log.");
    for entry in std::fs::read_dir(dir)?.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if !file_name.starts_with(&prefix) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < cutoff);
        if old {
            std::fs::remove_file(entry.path())?;
            done.deleted.push(entry.path());
        }
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    Ok((file, path, done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn now() -> DateTime<Utc> {
        "2026-12-07T20:15:00Z".parse().unwrap()
    }

    #[test]
    fn a_full_log_is_rotated_and_a_new_one_begun() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("daily.log"), vec![b'x'; 100]).unwrap();
        let (mut f, path, done) = open(dir.path(), "daily", now(), 30, 100).unwrap();
        let rotated = dir.path().join("daily.log.20261207T201500Z");
        assert_eq!(done.rotated_to.as_deref(), Some(rotated.as_path()));
        assert_eq!(std::fs::read(&rotated).unwrap().len(), 100);
        f.write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(path).unwrap(), "new\n");
        // Rotated twice in the same second: the name is still unique.
        std::fs::write(dir.path().join("daily.log"), vec![b'y'; 100]).unwrap();
        let (_, _, done) = open(dir.path(), "daily", now(), 30, 100).unwrap();
        assert_eq!(
            done.rotated_to,
            Some(dir.path().join("daily.log.20261207T201500Z-1"))
        );
        assert_eq!(std::fs::read(&rotated).unwrap(), vec![b'x'; 100]);
    }

    #[test]
    fn a_log_below_the_size_is_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("daily.log"), "old\n").unwrap();
        let (mut f, path, done) = open(dir.path(), "daily", now(), 30, 100).unwrap();
        assert_eq!(done, Housekeeping::default());
        f.write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(path).unwrap(), "old\nnew\n");
    }

    #[test]
    fn rotated_files_past_the_retention_are_deleted_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let set_age = |name: &str, days: u64| {
            let p = dir.path().join(name);
            std::fs::write(&p, "x").unwrap();
            let f = File::options().write(true).open(&p).unwrap();
            f.set_modified(SystemTime::from(now()) - Duration::from_secs(days * 86_400))
                .unwrap();
            p
        };
        let old = set_age("daily.log.20261001T201500Z", 31);
        let recent = set_age("daily.log.20261120T201500Z", 29);
        let other = set_age("trading.log.20261001T201500Z", 60);
        let current = set_age("daily.log", 60);
        let (_, _, done) = open(dir.path(), "daily", now(), 30, 100).unwrap();
        assert_eq!(done.deleted, vec![old.clone()]);
        assert!(!old.exists());
        assert!(recent.exists() && other.exists() && current.exists());
    }
}
