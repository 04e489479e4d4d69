//! What a backup of a home holds, found by walking it: `config.toml` and every file under
//! `data/` (the Parquet price store, roll backups), `backtests/`, `workflows/`, `tasks/`,
//! `strategies/`, `config/` (reference data) and `reports/`. The run store is not walked: it is
//! snapshotted through the store. Left out, and listed as such: `logs/` (the scheduler's output
//! files; run logs are in the store), the backup destination, any other top-level entry, hidden
//! names (temporary files of atomic writes: `.NAME.tmp-*`), symbolic links and lock files.

use std::path::{Path, PathBuf};

use super::fsops::io_err;
use super::BackupError;
use crate::home::Home;

/// The run store's file name in a home and in a backup.
pub const STORE_FILE: &str = "systrade.db";

/// A file to back up.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFile {
    /// Relative to the home, `/`-separated.
    pub rel: String,
    pub abs: PathBuf,
}

/// A home's files to back up, sorted by path, and what was left out.
#[derive(Debug, Default)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
    /// Top-level entries of the home (and links inside the walked directories) not backed up.
    pub left_out: Vec<String>,
}

/// The walked directories of a home.
fn walked_dirs(home: &Home) -> Vec<PathBuf> {
    vec![
        home.data_dir(),
        home.backtests_dir(),
        home.workflows_dir(),
        home.tasks_dir(),
        home.strategies_dir(),
        home.reference_dir(),
        home.reports_dir(),
    ]
}

/// Walks `home`; `exclude` are directories never entered (the backup destination).
pub fn plan(home: &Home, exclude: &[PathBuf]) -> Result<Plan, BackupError> {
    let excluded: Vec<PathBuf> = exclude
        .iter()
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .collect();
    let is_excluded = |p: &Path| {
        let c = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        excluded.contains(&c)
    };
    let mut plan = Plan::default();
    let config = home.config_path();
    if config.is_file() {
        plan.files.push(PlannedFile {
            rel: rel_of(&home.root, &config),
            abs: config,
        });
    }
    let dirs = walked_dirs(home);
    for dir in &dirs {
        if dir.is_dir() && !is_excluded(dir) {
            walk(&home.root, dir, &is_excluded, &mut plan)?;
        }
    }
    let top = std::fs::read_dir(&home.root).map_err(io_err(&home.root))?;
    for entry in top.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let known = dirs.contains(&path)
            || path == home.config_path()
            || [
                STORE_FILE.to_string(),
                format!("{STORE_FILE}-wal"),
                format!("{STORE_FILE}-shm"),
            ]
            .contains(&name)
            || is_excluded(&path);
        if !known {
            plan.left_out.push(name);
        }
    }
    plan.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    plan.left_out.sort();
    Ok(plan)
}

fn walk(
    root: &Path,
    dir: &Path,
    is_excluded: &dyn Fn(&Path) -> bool,
    plan: &mut Plan,
) -> Result<(), BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        // Deleted while walking (a cleaner, a roll confirmation): nothing to back up there.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_symlink() {
            plan.left_out.push(rel_of(root, &path));
        } else if kind.is_dir() {
            if !is_excluded(&path) {
                walk(root, &path, is_excluded, plan)?;
            }
        } else if kind.is_file() {
            plan.files.push(PlannedFile {
                rel: rel_of(root, &path),
                abs: path,
            });
        }
    }
    Ok(())
}

/// `path` relative to `root` with `/` separators.
pub fn rel_of(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_takes_the_homes_state_and_leaves_out_logs_temps_and_backups() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            root: dir.path().to_path_buf(),
        };
        let write = |rel: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, rel).unwrap();
        };
        for rel in [
            "config.toml",
            "systrade.db",
            "systrade.db-wal",
            "data/multiple/SP500.parquet",
            "data/multiple/.SP500.parquet.tmp-1-2",
            "data/contracts/SP500/20240900.daily.parquet",
            "backtests/s/20240628T000000Z.parquet",
            "workflows/mine.toml",
            "tasks/mine.toml",
            "strategies/s.toml",
            "config/instrumentconfig.csv",
            "reports/status_2024-06-28.txt",
            "logs/daily.log",
            "backups/systrade-backup-x/manifest.json",
            "data/bk/inside.txt",
            "runner.out",
        ] {
            write(rel);
        }
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("data/link")).unwrap();
        let p = plan(
            &home,
            &[dir.path().join("backups"), dir.path().join("data/bk")],
        )
        .unwrap();
        let rels: Vec<&str> = p.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            rels,
            [
                "backtests/s/20240628T000000Z.parquet",
                "config.toml",
                "config/instrumentconfig.csv",
                "data/contracts/SP500/20240900.daily.parquet",
                "data/multiple/SP500.parquet",
                "reports/status_2024-06-28.txt",
                "strategies/s.toml",
                "tasks/mine.toml",
                "workflows/mine.toml",
            ]
        );
        assert_eq!(p.left_out, ["data/link", "logs", "runner.out"]);
        assert!(p.files.iter().all(|f| f.abs == dir.path().join(&f.rel)));
    }
}
