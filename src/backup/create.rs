//! Writing one backup: under the destination's lock, leftovers of killed backups are removed,
//! the home is planned, files unchanged since the previous backup are hard-linked from it and
//! the others copied (hashed on the way), the run store is snapshotted through the store
//! (`RunStore::backup_to`: SQLite's `VACUUM INTO`, a consistent copy of the live database), all
//! into `.systrade-backup-STAMP.partial/`, `manifest.json` is written last, the whole tree is
//! synced, and the directory is renamed to `systrade-backup-STAMP` (then the destination is synced). A kill
//! at any moment leaves the complete backups as they were, plus at most a `.partial` directory
//! that the next backup removes. Expired backups are renamed `.deleting` before they are removed,
//! so no half-deleted directory ever carries a final name.
//!
//! Consistency: the store is one transaction-consistent snapshot; each other file is one whole
//! version of itself (copied from a single open handle; the Parquet store and atomic writes
//! replace files by renames). Files are copied after the store snapshot, so they are as new as
//! the store or newer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fsops::{self, copy_hashing, fault_point, io_err, sync_dir, DestLock};
use super::list::{list, DELETING, PARTIAL, PREFIX};
use super::manifest::{FileEntry, Manifest, SourceStat, StoreEntry, FORMAT, MANIFEST};
use super::plan::{plan, PlannedFile, STORE_FILE};
use super::retention::Kind;
use super::BackupError;
use crate::adapters::store::sqlite_snapshot::{schema_version, Access};
use crate::engine::store::RunStore;
use crate::home::Home;

/// Called with (bytes done, bytes to copy) as files are copied.
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// What to back up and where.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    pub home: Home,
    pub dest: PathBuf,
    /// Whether `dest` may be created when missing (the default `<home>/backups`); a configured
    /// destination must exist (a disk or share that is not mounted must not fill the local disk).
    pub create_dest: bool,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    /// The app clock's time: names the backup.
    pub now: DateTime<Utc>,
}

/// What a backup did.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSummary {
    pub name: String,
    pub path: PathBuf,
    pub created_at: DateTime<Utc>,
    pub schema_version: i64,
    pub files: usize,
    pub copied: usize,
    pub linked: usize,
    /// All files' sizes.
    pub bytes: u64,
    /// Bytes written (the store and the copied files).
    pub bytes_copied: u64,
    pub seconds: f64,
    /// `.partial` / `.deleting` directories of earlier backups removed.
    pub leftovers_removed: Vec<String>,
    /// Backups deleted by retention.
    pub expired: Vec<String>,
    /// Entries of the home not backed up.
    pub left_out: Vec<String>,
}

/// Space kept free beyond the estimate: 5% of it plus 16 MiB.
fn margin(bytes: u64) -> u64 {
    bytes / 20 + (16 << 20)
}

enum Source {
    Copy,
    /// Hard-link the previous backup's copy: (its name, its entry).
    Link(String, FileEntry),
}

struct Prepared {
    _lock: DestLock,
    req: BackupRequest,
    name: String,
    created_at: DateTime<Utc>,
    partial: PathBuf,
    prev_dir: Option<PathBuf>,
    work: Vec<(PlannedFile, Source)>,
    to_copy: u64,
    leftovers_removed: Vec<String>,
    left_out: Vec<String>,
}

/// Writes one backup of `req.home` (whose run store is `store`) into `req.dest`.
pub async fn create_backup(
    store: &dyn RunStore,
    req: &BackupRequest,
    progress: Option<ProgressFn>,
) -> Result<BackupSummary, BackupError> {
    let started = Instant::now();
    let r = req.clone();
    let prepared = blocking(move || prepare(r)).await?;
    let partial = prepared.partial.clone();
    let result = async {
        let db = partial.join(STORE_FILE);
        store
            .backup_to(&db)
            .await
            .map_err(|e| BackupError::Store(e.to_string()))?;
        let version = schema_version(&db, Access::Frozen)
            .await
            .map_err(|detail| BackupError::Store(format!("the snapshot {detail}")))?
            .unwrap_or(0);
        blocking(move || finish(prepared, version, progress, started)).await
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    result
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BackupError> + Send + 'static,
) -> Result<T, BackupError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BackupError::Internal(e.to_string()))?
}

fn prepare(req: BackupRequest) -> Result<Prepared, BackupError> {
    let dest = &req.dest;
    if !dest.exists() {
        if !req.create_dest {
            return Err(BackupError::Destination {
                path: dest.clone(),
                detail: "does not exist: create it, or mount the disk or share it is on (a \
                         configured destination is never created, so an unmounted share does \
                         not fill the local disk)"
                    .into(),
            });
        }
        std::fs::create_dir_all(dest).map_err(io_err(dest))?;
    }
    if !dest.is_dir() {
        return Err(BackupError::Destination {
            path: dest.clone(),
            detail: "is not a directory".into(),
        });
    }
    let lock = DestLock::acquire(dest)?;
    let leftovers_removed = remove_leftovers(dest)?;
    let listing = list(dest, u32::MAX, 0)?;
    let home_root = req.home.root.display().to_string();
    let prev = listing
        .newest()
        .and_then(|b| Manifest::read(&b.path).ok().map(|m| (b.clone(), m)))
        .filter(|(_, m)| m.home == home_root);
    let planned = plan(&req.home, std::slice::from_ref(dest))?;
    let mut work = Vec::with_capacity(planned.files.len());
    let mut to_copy = store_size(&req.home.root);
    for f in planned.files {
        let Ok(meta) = std::fs::metadata(&f.abs) else {
            continue;
        };
        let stat = SourceStat::of(&meta);
        let linked = prev.as_ref().and_then(|(b, m)| {
            let e = m.entry(&f.rel)?;
            let copy = std::fs::metadata(b.path.join(&f.rel)).ok()?;
            (e.source == Some(stat) && copy.len() == e.size && e.size == stat.size)
                .then(|| (b.name.clone(), e.clone()))
        });
        match linked {
            Some((name, e)) => work.push((f, Source::Link(name, e))),
            None => {
                to_copy += stat.size;
                work.push((f, Source::Copy));
            }
        }
    }
    let needed = to_copy + margin(to_copy);
    let available = fsops::free_bytes(dest)?;
    if available < needed {
        return Err(BackupError::NoSpace {
            dest: dest.clone(),
            needed,
            available,
        });
    }
    // The name shows milliseconds; the manifest's time is the same instant.
    let mut created_at = chrono::SubsecRound::trunc_subsecs(req.now, 3);
    let mut name;
    loop {
        name = format!("{PREFIX}{}", created_at.format("%Y%m%dT%H%M%S%.3fZ"));
        if !dest.join(&name).exists() && !dest.join(format!(".{name}{PARTIAL}")).exists() {
            break;
        }
        created_at += chrono::Duration::milliseconds(1);
    }
    let partial = dest.join(format!(".{name}{PARTIAL}"));
    std::fs::create_dir(&partial).map_err(io_err(&partial))?;
    Ok(Prepared {
        _lock: lock,
        prev_dir: prev.map(|(b, _)| b.path),
        req,
        name,
        created_at,
        partial,
        work,
        to_copy,
        leftovers_removed,
        left_out: planned.left_out,
    })
}

/// The run store's size on disk (with its WAL): the snapshot is at most that.
fn store_size(home: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|ext| std::fs::metadata(home.join(format!("{STORE_FILE}{ext}"))).ok())
        .map(|m| m.len())
        .sum()
}

/// Removes `.partial` and `.deleting` directories (the caller holds the destination's lock, so
/// none of them is being written).
fn remove_leftovers(dest: &Path) -> Result<Vec<String>, BackupError> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dest).map_err(io_err(dest))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let leftover = name.strip_prefix('.').is_some_and(|n| {
            n.starts_with(PREFIX) && (n.ends_with(PARTIAL) || n.ends_with(DELETING))
        });
        if leftover {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(io_err(&path))?;
            removed.push(name);
        }
    }
    if !removed.is_empty() {
        sync_dir(dest)?;
    }
    removed.sort();
    Ok(removed)
}

fn finish(
    p: Prepared,
    schema_version: i64,
    progress: Option<ProgressFn>,
    started: Instant,
) -> Result<BackupSummary, BackupError> {
    let db = p.partial.join(STORE_FILE);
    let (db_size, db_sha) = fsops::hash_file(&db).map_err(io_err(&db))?;
    let mut files = vec![FileEntry {
        path: STORE_FILE.into(),
        size: db_size,
        sha256: db_sha,
        linked_from: None,
        source: None,
    }];
    let mut done = db_size;
    let mut copied = 1;
    let mut linked = 0;
    let mut bytes_copied = db_size;
    let report = |done: u64| {
        if let Some(f) = &progress {
            f(done, p.to_copy.max(done));
        }
    };
    report(done);
    for (i, (f, source)) in p.work.iter().enumerate() {
        let to = p.partial.join(&f.rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let entry = match (source, &p.prev_dir) {
            (Source::Link(prev, e), Some(prev_dir))
                if std::fs::hard_link(prev_dir.join(&f.rel), &to).is_ok() =>
            {
                linked += 1;
                Some(FileEntry {
                    linked_from: Some(prev.clone()),
                    ..e.clone()
                })
            }
            _ => match copy_hashing(&f.abs, &to)? {
                // Deleted since the plan (a cleaner): not in this backup.
                None => None,
                Some(c) => {
                    copied += 1;
                    bytes_copied += c.size;
                    done += c.size;
                    report(done);
                    Some(FileEntry {
                        path: f.rel.clone(),
                        size: c.size,
                        sha256: c.sha256,
                        linked_from: None,
                        source: Some(c.source),
                    })
                }
            },
        };
        files.extend(entry);
        fault_point(&format!("file:{}", i + 1));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        format: FORMAT,
        systrade_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        created_at: p.created_at,
        home: p.req.home.root.display().to_string(),
        store: StoreEntry {
            engine: "sqlite".into(),
            path: STORE_FILE.into(),
            method: "vacuum_into".into(),
        },
        files,
    };
    fault_point("manifest");
    write_new(&p.partial.join(MANIFEST), &manifest.to_json())?;
    // Every file, directory and the manifest are on disk before the rename makes it a backup.
    fsops::sync_tree(&p.partial)?;
    fault_point("rename");
    let final_path = p.req.dest.join(&p.name);
    std::fs::rename(&p.partial, &final_path).map_err(io_err(&final_path))?;
    sync_dir(&p.req.dest)?;
    let expired = prune(&p.req, &p.name)?;
    Ok(BackupSummary {
        files: manifest.files.len(),
        bytes: manifest.total_bytes(),
        name: p.name,
        path: final_path,
        created_at: p.created_at,
        schema_version,
        copied,
        linked,
        bytes_copied,
        seconds: started.elapsed().as_secs_f64(),
        leftovers_removed: p.leftovers_removed,
        expired,
        left_out: p.left_out,
    })
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))
}

/// Deletes the expired backups (never `just_written`): each is renamed `.NAME.deleting` first.
fn prune(req: &BackupRequest, just_written: &str) -> Result<Vec<String>, BackupError> {
    let listing = list(&req.dest, req.keep_daily, req.keep_weekly)?;
    let mut expired = Vec::new();
    for b in listing
        .backups
        .iter()
        .filter(|b| b.kind == Kind::Expired && b.name != just_written)
    {
        let aside = req.dest.join(format!(".{}{DELETING}", b.name));
        std::fs::rename(&b.path, &aside).map_err(io_err(&b.path))?;
        sync_dir(&req.dest)?;
        fault_point("prune");
        std::fs::remove_dir_all(&aside).map_err(io_err(&aside))?;
        expired.push(b.name.clone());
    }
    Ok(expired)
}
