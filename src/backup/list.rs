//! The backups in a destination: `systrade-backup-<UTC time>` directories with a readable
//! manifest are backups (their names sort by time); `.systrade-backup-*.partial` (being written,
//! or left by a backup that was killed) and `.systrade-backup-*.deleting` (an expired backup
//! being removed) are incomplete and never offered as backups, nor is a final name without a
//! readable manifest (damage, listed with the reason).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::manifest::Manifest;
use super::retention::{classify, Kind};
use super::BackupError;

/// Final names: `systrade-backup-20240628T233000.123Z`.
pub const PREFIX: &str = "systrade-backup-";
/// Suffix of a backup being written (`.<final name>.partial`).
pub const PARTIAL: &str = ".partial";
/// Suffix of an expired backup being deleted (`.<final name>.deleting`).
pub const DELETING: &str = ".deleting";

/// A complete backup.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    pub name: String,
    pub path: PathBuf,
    pub created_at: DateTime<Utc>,
    pub kind: Kind,
    pub schema_version: i64,
    pub systrade_version: String,
    pub files: usize,
    /// Sum of the files' sizes.
    pub bytes: u64,
    /// Files hard-linked from the backup before (they take no new space).
    pub linked: usize,
}

/// A directory that is not a usable backup.
#[derive(Debug, Clone, Serialize)]
pub struct Incomplete {
    pub name: String,
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Listing {
    /// Oldest first.
    pub backups: Vec<BackupInfo>,
    pub incomplete: Vec<Incomplete>,
}

impl Listing {
    pub fn newest(&self) -> Option<&BackupInfo> {
        self.backups.last()
    }
}

/// Lists `dest`; a missing destination is an error naming it.
pub fn list(dest: &Path, keep_daily: u32, keep_weekly: u32) -> Result<Listing, BackupError> {
    let entries = std::fs::read_dir(dest).map_err(|e| BackupError::Destination {
        path: dest.to_path_buf(),
        detail: if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist (no backup was made there yet, or the disk or share is not mounted)"
                .into()
        } else {
            format!("cannot be read: {e}")
        },
    })?;
    let mut listing = Listing::default();
    let mut found: Vec<(String, PathBuf, Manifest)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if let Some(inner) = name.strip_prefix('.') {
            if inner.starts_with(PREFIX) {
                let reason = if inner.ends_with(PARTIAL) {
                    "unfinished: being written, or left by a backup that was stopped (the next \
                     backup removes it)"
                } else if inner.ends_with(DELETING) {
                    "expired: being deleted (the next backup finishes deleting it)"
                } else {
                    "not a backup name"
                };
                listing.incomplete.push(Incomplete {
                    name,
                    path,
                    reason: reason.into(),
                });
            }
            continue;
        }
        if !name.starts_with(PREFIX) {
            continue;
        }
        match Manifest::read(&path) {
            Ok(m) => found.push((name, path, m)),
            Err(e) => listing.incomplete.push(Incomplete {
                name,
                path,
                reason: e.to_string(),
            }),
        }
    }
    found.sort_by(|a, b| (a.2.created_at, &a.0).cmp(&(b.2.created_at, &b.0)));
    let times: Vec<(String, DateTime<Utc>)> = found
        .iter()
        .map(|(n, _, m)| (n.clone(), m.created_at))
        .collect();
    let kinds = classify(&times, keep_daily, keep_weekly);
    for ((name, path, m), kind) in found.into_iter().zip(kinds) {
        listing.backups.push(BackupInfo {
            files: m.files.len(),
            bytes: m.total_bytes(),
            linked: m.linked(),
            name,
            path,
            created_at: m.created_at,
            kind,
            schema_version: m.schema_version,
            systrade_version: m.systrade_version,
        });
    }
    listing.incomplete.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(listing)
}

/// A backup named by the user: a path (anything with a `/`, or an existing directory that is
/// not a name in `dest`), else a name listed in `dest`. An unknown name is an error listing the
/// newest few.
pub fn resolve(dest: &Path, arg: &str) -> Result<PathBuf, BackupError> {
    let as_name = !arg.contains('/') && arg != "." && arg != "..";
    if as_name {
        let candidate = dest.join(arg);
        if arg.starts_with(PREFIX) && candidate.is_dir() {
            return Ok(candidate);
        }
        if !Path::new(arg).is_dir() {
            let newest = list(dest, u32::MAX, 0)
                .map(|l| {
                    l.backups
                        .iter()
                        .rev()
                        .take(5)
                        .map(|b| b.name.clone())
                        .collect()
                })
                .unwrap_or_default();
            return Err(BackupError::UnknownBackup {
                name: arg.to_string(),
                dest: dest.to_path_buf(),
                newest,
            });
        }
    }
    let path = PathBuf::from(arg);
    if !path.is_dir() {
        return Err(BackupError::UnknownBackup {
            name: arg.to_string(),
            dest: dest.to_path_buf(),
            newest: Vec::new(),
        });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::manifest::{StoreEntry, FORMAT, MANIFEST};

    pub(crate) fn fake_backup(dest: &Path, name: &str, at: &str) {
        let dir = dest.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let m = Manifest {
            format: FORMAT,
            systrade_version: "0.1.0".into(),
            schema_version: 1,
            created_at: at.parse().unwrap(),
            home: "/h".into(),
            store: StoreEntry {
                engine: "sqlite".into(),
                path: "systrade.db".into(),
                method: "vacuum_into".into(),
            },
            files: vec![],
        };
        std::fs::write(dir.join(MANIFEST), m.to_json()).unwrap();
    }

    #[test]
    fn listing_tells_backups_from_unfinished_and_damaged_directories() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fake_backup(
            d,
            "systrade-backup-20240627T233000.000Z",
            "2024-06-27T23:30:00Z",
        );
        fake_backup(
            d,
            "systrade-backup-20240628T233000.000Z",
            "2024-06-28T23:30:00Z",
        );
        std::fs::create_dir(d.join(".systrade-backup-20240629T233000.000Z.partial")).unwrap();
        std::fs::create_dir(d.join("systrade-backup-20240630T233000.000Z")).unwrap();
        std::fs::create_dir(d.join("unrelated")).unwrap();
        let l = list(d, 1, 0).unwrap();
        let names: Vec<&str> = l.backups.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "systrade-backup-20240627T233000.000Z",
                "systrade-backup-20240628T233000.000Z"
            ]
        );
        assert_eq!(l.backups[1].kind, Kind::Daily);
        assert_eq!(l.backups[0].kind, Kind::Expired);
        assert_eq!(l.incomplete.len(), 2, "{:?}", l.incomplete);
        assert!(l.incomplete[0].reason.contains("unfinished"));
        assert!(l.incomplete[1].reason.contains("cannot be read"));

        assert_eq!(
            resolve(d, "systrade-backup-20240628T233000.000Z").unwrap(),
            d.join("systrade-backup-20240628T233000.000Z")
        );
        let e = resolve(d, "systrade-backup-nope").unwrap_err().to_string();
        assert!(
            e.contains("systrade-backup-nope")
                && e.contains("systrade-backup-20240628T233000.000Z"),
            "{e}"
        );
        let p = d.join("systrade-backup-20240627T233000.000Z");
        assert_eq!(resolve(d, &p.display().to_string()).unwrap(), p);
        assert!(list(&d.join("missing"), 1, 0)
            .unwrap_err()
            .to_string()
            .contains("not mounted"));
    }
}
