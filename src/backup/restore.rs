//! Restoring a backup: into a new home (`restore_new`), or in place of the current one
//! (`restore_replace`). Either way the files are copied into a staging directory beside the
//! target (`<target>.restoring-STAMP`), synced and verified against the manifest (sizes,
//! checksums, the store's integrity check, every Parquet file read) before anything is renamed:
//! a failure leaves the target as it was. A backup whose schema is newer than this binary's
//! migrations is refused. `restore_replace` is refused while anything uses the home (see
//! `live`); it swaps the verified copy in with one atomic exchange of the two directories where
//! the filesystem has it (else two renames), keeps the old home aside as
//! `<home>.replaced-STAMP`, and moves into the restored home what backups do not hold: its
//! backups directory (when inside the home) and `logs/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fsops::{self, fault_point, io_err, sync_dir};
use super::live::home_users;
use super::manifest::Manifest;
use super::verify::{verify_tree, VerifyReport};
use super::BackupError;
use crate::adapters::store::sqlite_snapshot::latest_schema_version;
use crate::home::Home;

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreSummary {
    pub backup: PathBuf,
    pub home: PathBuf,
    pub files: usize,
    pub bytes: u64,
    /// Where the replaced home was kept (`--replace`).
    pub old_home: Option<PathBuf>,
    /// Entries moved from the old home into the restored one (`--replace`).
    pub moved_in: Vec<String>,
    pub seconds: f64,
    pub verify: VerifyReport,
}

/// Reads the manifest and refuses a backup this binary cannot restore.
pub fn restorable(backup: &Path) -> Result<Manifest, BackupError> {
    let m = Manifest::read(backup)?;
    let known = latest_schema_version();
    if m.schema_version > known {
        return Err(BackupError::NewerSchema {
            backup: backup.to_path_buf(),
            schema: m.schema_version,
            known,
            version: m.systrade_version.clone(),
        });
    }
    if m.entry(&m.store.path).is_none() {
        return Err(BackupError::Manifest {
            path: backup.join(super::manifest::MANIFEST),
            detail: format!("does not list the run store `{}`", m.store.path),
        });
    }
    Ok(m)
}

/// A sibling of `target` named `<target name>.<what>-<stamp>` that does not exist yet.
fn sibling(target: &Path, what: &str, now: DateTime<Utc>) -> Result<PathBuf, BackupError> {
    let name = target
        .file_name()
        .ok_or_else(|| BackupError::Target {
            path: target.to_path_buf(),
            detail: "has no directory name".into(),
        })?
        .to_string_lossy()
        .into_owned();
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let mut n = 0;
    loop {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let p = target.with_file_name(format!("{name}.{what}-{stamp}{suffix}"));
        if !p.exists() {
            return Ok(p);
        }
        n += 1;
    }
}

/// Copies every file of the manifest from `backup` into the new directory `stage`, syncs it and
/// verifies it; on failure `stage` is removed.
async fn stage_copy(
    backup: &Path,
    m: &Manifest,
    stage: &Path,
    started: Instant,
) -> Result<VerifyReport, BackupError> {
    // Missing or cut files are found before anything is written; changed bytes after the copy.
    let missing: Vec<String> = m
        .files
        .iter()
        .filter_map(|f| match std::fs::metadata(backup.join(&f.path)) {
            Ok(meta) if meta.is_file() && meta.len() == f.size => None,
            Ok(meta) => Some(format!(
                "{}: has {} bytes, the manifest says {}",
                f.path,
                meta.len(),
                f.size
            )),
            Err(e) => Some(format!("{}: {e}", f.path)),
        })
        .collect();
    if !missing.is_empty() {
        return Err(BackupError::Damaged {
            backup: backup.to_path_buf(),
            problems: missing,
        });
    }
    let (b, s, files) = (backup.to_path_buf(), stage.to_path_buf(), m.files.clone());
    let copied = tokio::task::spawn_blocking(move || -> Result<(), BackupError> {
        std::fs::create_dir(&s).map_err(io_err(&s))?;
        for (i, f) in files.iter().enumerate() {
            let from = b.join(&f.path);
            let to = s.join(&f.path);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            std::fs::copy(&from, &to).map_err(io_err(&from))?;
            fault_point(&format!("restore:{}", i + 1));
        }
        fsops::sync_tree(&s)
    })
    .await
    .map_err(|e| BackupError::Internal(e.to_string()))
    .and_then(|r| r);
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(stage);
        return Err(e);
    }
    let report = verify_tree(stage, m, &[], started).await;
    if !report.ok() {
        let _ = std::fs::remove_dir_all(stage);
        return Err(BackupError::Damaged {
            backup: backup.to_path_buf(),
            problems: report
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.detail))
                .collect(),
        });
    }
    Ok(report)
}

/// Restores `backup` into `target`, which must not exist or be an empty directory.
pub async fn restore_new(
    backup: &Path,
    target: &Path,
    now: DateTime<Utc>,
) -> Result<RestoreSummary, BackupError> {
    let started = Instant::now();
    let m = restorable(backup)?;
    let existed = target.exists();
    if existed {
        let empty = std::fs::read_dir(target)
            .map_err(|e| BackupError::Target {
                path: target.to_path_buf(),
                detail: format!("cannot be read: {e}"),
            })?
            .next()
            .is_none();
        if !empty {
            return Err(BackupError::Target {
                path: target.to_path_buf(),
                detail: "is not empty: restore into a new or empty directory, or use --replace \
                         to replace the home"
                    .into(),
            });
        }
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(BackupError::Target {
            path: target.to_path_buf(),
            detail: format!("cannot be created: {} does not exist", parent.display()),
        });
    }
    let stage = sibling(target, "restoring", now)?;
    let mut report = stage_copy(backup, &m, &stage, started).await?;
    // Renaming over an empty directory replaces it.
    if let Err(e) = std::fs::rename(&stage, target) {
        let _ = std::fs::remove_dir_all(&stage);
        return Err(io_err(target)(e));
    }
    sync_dir(parent)?;
    report.path = target.to_path_buf();
    Ok(RestoreSummary {
        backup: backup.to_path_buf(),
        home: target.to_path_buf(),
        files: m.files.len(),
        bytes: m.total_bytes(),
        old_home: None,
        moved_in: Vec::new(),
        seconds: started.elapsed().as_secs_f64(),
        verify: report,
    })
}

/// Replaces `home` with `backup`; `backups_dir` is the home's backup destination (moved into the
/// restored home when it is inside the old one).
pub async fn restore_replace(
    backup: &Path,
    home: &Home,
    backups_dir: &Path,
    now: DateTime<Utc>,
) -> Result<RestoreSummary, BackupError> {
    let started = Instant::now();
    let m = restorable(backup)?;
    let root = &home.root;
    if !root.is_dir() {
        return Err(BackupError::Target {
            path: root.clone(),
            detail: "does not exist, so there is nothing to replace: restore into it as a new \
                     home with --home"
                .into(),
        });
    }
    refuse_if_used(home).await?;
    let stage = sibling(root, "restoring", now)?;
    let mut report = stage_copy(backup, &m, &stage, started).await?;
    // The restored home gets the old one's permissions (a private home stays private).
    if let Ok(meta) = std::fs::metadata(root) {
        let _ = std::fs::set_permissions(&stage, meta.permissions());
    }
    // Anything that started while the copy ran is caught here.
    if let Err(e) = refuse_if_used(home).await {
        let _ = std::fs::remove_dir_all(&stage);
        return Err(e);
    }
    let aside = sibling(root, "replaced", now)?;
    fault_point("swap");
    if let Err(e) = swap_in(&stage, root, &aside) {
        let _ = std::fs::remove_dir_all(&stage);
        return Err(e);
    }
    let mut moved_in = Vec::new();
    let mut carried = vec![PathBuf::from("logs")];
    if let Ok(rel) = backups_dir.strip_prefix(root) {
        if !rel.as_os_str().is_empty() {
            carried.push(rel.to_path_buf());
        }
    }
    for rel in carried {
        let from = aside.join(&rel);
        let to = root.join(&rel);
        if from.exists() && !to.exists() {
            if let Some(parent) = to.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if std::fs::rename(&from, &to).is_ok() {
                moved_in.push(rel.display().to_string());
            }
        }
    }
    sync_dir(root)?;
    report.path = root.clone();
    Ok(RestoreSummary {
        backup: backup.to_path_buf(),
        home: root.clone(),
        files: m.files.len(),
        bytes: m.total_bytes(),
        old_home: Some(aside),
        moved_in,
        seconds: started.elapsed().as_secs_f64(),
        verify: report,
    })
}

async fn refuse_if_used(home: &Home) -> Result<(), BackupError> {
    let users = home_users(home).await;
    if !users.alive.is_empty() {
        return Err(BackupError::HomeInUse {
            home: home.root.clone(),
            users: users.alive,
        });
    }
    if let Some(e) = users.store_unreadable {
        tracing::warn!(
            "the run store's locks cannot be read ({e}); no systrade process on this machine uses the home"
        );
    }
    Ok(())
}

/// Puts `stage` at `root` and the old `root` at `aside`: one atomic exchange where the
/// filesystem supports it, else two renames (undone if the second fails).
fn swap_in(stage: &Path, root: &Path, aside: &Path) -> Result<(), BackupError> {
    let parent = root
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if exchange(stage, root).is_ok() {
        // `stage` now holds the old home.
        std::fs::rename(stage, aside).map_err(io_err(stage))?;
        return sync_dir(parent);
    }
    std::fs::rename(root, aside).map_err(io_err(root))?;
    if let Err(e) = std::fs::rename(stage, root) {
        let _ = std::fs::rename(aside, root);
        return Err(io_err(root)(e));
    }
    sync_dir(parent)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: renameat2 with two valid C strings; no memory is shared.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exchange_swaps_two_directories() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("new"), b"").unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("old"), b"").unwrap();
        swap_in(&a, &b, &c).unwrap();
        assert!(b.join("new").exists() && c.join("old").exists() && !a.exists());
        let s = sibling(&b, "replaced", "2024-06-28T23:30:00Z".parse().unwrap()).unwrap();
        assert_eq!(s, dir.path().join("b.replaced-20240628T233000Z"));
    }
}
