//! Checking a backup (or a home just restored from one) against its manifest: every file's size
//! and SHA-256, no file missing and none that the manifest does not list, SQLite's integrity
//! check of the store (opened read-only and immutable: nothing is written beside it), and every
//! Parquet file opened and all its rows read. Every problem is reported with its file, not just
//! the first.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fsops::hash_file;
use super::manifest::{FileEntry, Manifest, MANIFEST};
use super::plan::rel_of;
use crate::adapters::store::sqlite_snapshot::{integrity_problems, latest_schema_version, Access};

/// One thing wrong, by file (relative to the backup).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub path: String,
    pub detail: String,
}

/// The outcome of a check.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub path: PathBuf,
    pub created_at: Option<DateTime<Utc>>,
    pub schema_version: Option<i64>,
    pub systrade_version: Option<String>,
    /// The schema is newer than this binary knows (restore refuses it).
    pub newer_schema: bool,
    pub files: usize,
    pub bytes: u64,
    pub parquet_files: usize,
    pub parquet_rows: u64,
    /// `ok`, or what the integrity check found (also in `problems`).
    pub store_integrity: String,
    pub problems: Vec<Problem>,
    pub seconds: f64,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the backup in `dir`.
pub async fn verify_backup(dir: &Path) -> VerifyReport {
    let started = Instant::now();
    match Manifest::read(dir) {
        Ok(m) => verify_tree(dir, &m, &[MANIFEST], started).await,
        Err(e) => VerifyReport {
            path: dir.to_path_buf(),
            created_at: None,
            schema_version: None,
            systrade_version: None,
            newer_schema: false,
            files: 0,
            bytes: 0,
            parquet_files: 0,
            parquet_rows: 0,
            store_integrity: "not checked".into(),
            problems: vec![Problem {
                path: MANIFEST.into(),
                detail: e.to_string(),
            }],
            seconds: started.elapsed().as_secs_f64(),
        },
    }
}

/// Checks the files under `root` against `m`; `ignore` are top-level names not in the manifest
/// that belong there (the manifest itself).
pub(super) async fn verify_tree(
    root: &Path,
    m: &Manifest,
    ignore: &[&str],
    started: Instant,
) -> VerifyReport {
    let root_owned = root.to_path_buf();
    let entries = m.files.clone();
    let ignore: Vec<String> = ignore.iter().map(|s| s.to_string()).collect();
    let checked = tokio::task::spawn_blocking(move || check_files(&root_owned, &entries, &ignore))
        .await
        .unwrap_or_else(|e| {
            (
                vec![Problem {
                    path: String::new(),
                    detail: format!("the check stopped: {e}"),
                }],
                0,
                0,
            )
        });
    let (mut problems, parquet_files, parquet_rows) = checked;
    let db = root.join(&m.store.path);
    let store_integrity = if db.is_file() {
        match integrity_problems(&db, Access::Frozen).await {
            Ok(p) if p.is_empty() => "ok".to_string(),
            Ok(p) => {
                let text = p.join("; ");
                problems.push(Problem {
                    path: m.store.path.clone(),
                    detail: format!("SQLite's integrity check: {text}"),
                });
                text
            }
            Err(e) => {
                problems.push(Problem {
                    path: m.store.path.clone(),
                    detail: e.clone(),
                });
                e
            }
        }
    } else {
        "missing".to_string()
    };
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    VerifyReport {
        path: root.to_path_buf(),
        created_at: Some(m.created_at),
        schema_version: Some(m.schema_version),
        systrade_version: Some(m.systrade_version.clone()),
        newer_schema: m.schema_version > latest_schema_version(),
        files: m.files.len(),
        bytes: m.total_bytes(),
        parquet_files,
        parquet_rows,
        store_integrity,
        problems,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Size, hash and (Parquet) rows of every listed file, on a few threads; plus the files that
/// are there but not listed.
fn check_files(
    root: &Path,
    entries: &[FileEntry],
    ignore: &[String],
) -> (Vec<Problem>, usize, u64) {
    let mut problems = Vec::new();
    let mut present = Vec::new();
    collect_files(root, root, &mut present);
    for rel in &present {
        let listed = entries
            .binary_search_by(|e| e.path.as_str().cmp(rel))
            .is_ok();
        if !listed && !ignore.contains(rel) {
            problems.push(Problem {
                path: rel.clone(),
                detail: "is not in the manifest".into(),
            });
        }
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    let results: Vec<(Vec<Problem>, usize, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut out = (Vec::new(), 0usize, 0u64);
                    for e in entries.iter().skip(t).step_by(threads) {
                        check_one(root, e, &mut out);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    (
                        vec![Problem {
                            path: String::new(),
                            detail: "a checking thread panicked".into(),
                        }],
                        0,
                        0,
                    )
                })
            })
            .collect()
    });
    let mut parquet_files = 0;
    let mut parquet_rows = 0;
    for (p, n, rows) in results {
        problems.extend(p);
        parquet_files += n;
        parquet_rows += rows;
    }
    (problems, parquet_files, parquet_rows)
}

fn check_one(root: &Path, e: &FileEntry, out: &mut (Vec<Problem>, usize, u64)) {
    let path = root.join(&e.path);
    let problem = |detail: String| Problem {
        path: e.path.clone(),
        detail,
    };
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => {
            out.0.push(problem("is not a regular file".into()));
            return;
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            out.0.push(problem("is missing".into()));
            return;
        }
        Err(err) => {
            out.0.push(problem(format!("cannot be read: {err}")));
            return;
        }
    };
    if meta.len() != e.size {
        out.0.push(problem(format!(
            "has {} bytes, the manifest says {}",
            meta.len(),
            e.size
        )));
        return;
    }
    match hash_file(&path) {
        Ok((_, sha)) if sha == e.sha256 => {}
        Ok(_) => {
            out.0.push(problem(
                "differs from the manifest (SHA-256 mismatch): the file was changed or damaged"
                    .into(),
            ));
            return;
        }
        Err(err) => {
            out.0.push(problem(format!("cannot be read: {err}")));
            return;
        }
    }
    if e.path.ends_with(".parquet") {
        match crate::adapters::parquet::read_all_rows(&path) {
            Ok(rows) => {
                out.1 += 1;
                out.2 += rows as u64;
            }
            Err(err) => out
                .0
                .push(problem(format!("is not a readable Parquet file: {err}"))),
        }
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_files(root, &path, out),
            Ok(_) => out.push(rel_of(root, &path)),
            Err(_) => {}
        }
    }
}
