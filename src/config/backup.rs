//! The `[backup]` section: where whole-home backups go and how many are kept. Issue 16 renamed
//! the run-store backup's keys: `keep` is now `keep_daily` (with `keep_weekly` beside it) and
//! `directory` is now `destination`; the old names are refused with the new one named.

use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// The newest backups kept whatever their dates.
    pub keep_daily: u32,
    /// Beyond those, the newest backup of each of this many ISO weeks.
    pub keep_weekly: u32,
    /// `None`: `<home>/backups`. Relative paths are relative to the home.
    pub destination: Option<PathBuf>,
}

/// Keys that were renamed: (old, new, what changed).
pub const RENAMED: &[(&str, &str, &str)] = &[
    (
        "backup.keep",
        "backup.keep_daily",
        "backups are now whole-home backups; keep_weekly keeps one per week beyond the daily ones",
    ),
    (
        "backup.directory",
        "backup.destination",
        "the same meaning: where backups go",
    ),
];

/// The help for an unknown `section.key` that was renamed.
pub fn renamed_help(key: &str) -> Option<String> {
    RENAMED
        .iter()
        .find(|(old, _, _)| *old == key)
        .map(|(old, new, why)| format!("`{old}` was renamed `{new}` ({why}): rename it"))
}

type Problems = Vec<(&'static str, String)>;

pub fn parse(entries: &BTreeMap<String, (toml::Value, super::Source)>) -> (BackupConfig, Problems) {
    let mut problems = Problems::new();
    let int = |k: &str| {
        entries
            .get(k)
            .and_then(|(v, _)| v.as_integer())
            .unwrap_or_default()
    };
    let mut count = |key: &'static str, min: i64| {
        let n = int(key);
        if !(min..=10_000).contains(&n) {
            problems.push((key, format!("must be between {min} and 10000, got {n}")));
            return min as u32;
        }
        n as u32
    };
    // At least one daily backup, so the one just written is never deleted.
    let keep_daily = count("backup.keep_daily", 1);
    let keep_weekly = count("backup.keep_weekly", 0);
    let dest = entries
        .get("backup.destination")
        .and_then(|(v, _)| v.as_str())
        .unwrap_or_default();
    let config = BackupConfig {
        keep_daily,
        keep_weekly,
        destination: (!dest.is_empty()).then(|| PathBuf::from(dest)),
    };
    (config, problems)
}
