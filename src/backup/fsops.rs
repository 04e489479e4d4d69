//! File mechanics of backups: copying a file while hashing it (from one open handle, so the copy
//! is one whole version of a file that is replaced by renames meanwhile), hashing, syncing
//! directories, the destination's free space, the destination's lock, and the fault hooks the
//! tests use in debug builds.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::{hex, SourceStat};
use super::BackupError;

const BUFFER: usize = 1 << 20;

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a copy wrote.
pub(super) struct Copied {
    pub size: u64,
    pub sha256: String,
    pub source: SourceStat,
}

/// Copies `src` to the new file `dst` (created, never overwritten), hashing the bytes on the
/// way, with `src`'s permissions. Not synced: the caller syncs the whole tree once
/// ([`sync_tree`]). `Ok(None)` when `src` vanished first.
pub(super) fn copy_hashing(src: &Path, dst: &Path) -> Result<Option<Copied>, BackupError> {
    let mut from = match File::open(src) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(src)(e)),
    };
    let meta = from.metadata().map_err(io_err(src))?;
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dst)
        .map_err(io_err(dst))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(src)(e)),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n]).map_err(io_err(dst))?;
        size += n as u64;
    }
    to.set_permissions(meta.permissions())
        .map_err(io_err(dst))?;
    Ok(Some(Copied {
        size,
        sha256: hex(&hasher.finalize()),
        source: SourceStat::of(&meta),
    }))
}

/// Size and SHA-256 (lower-case hex) of a file, read in pieces.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex(&hasher.finalize())))
}

/// Makes a directory's entries (new files, renames) durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Makes everything written under `root` durable: one `syncfs` of its filesystem on Linux
/// (one journal commit, where an fsync per file costs a disk flush each: 1,200 files took 6 s
/// of waiting), else an fsync of every file and directory.
pub(super) fn sync_tree(root: &Path) -> Result<(), BackupError> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let dir = File::open(root).map_err(io_err(root))?;
        // SAFETY: syncfs on a descriptor we own; no memory is involved.
        let r = unsafe { libc::syncfs(dir.as_raw_fd()) };
        if r != 0 {
            return Err(io_err(root)(std::io::Error::last_os_error()));
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        for dir in dirs_under(root).iter().rev() {
            for entry in std::fs::read_dir(dir).map_err(io_err(dir))?.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    let p = entry.path();
                    File::open(&p)
                        .and_then(|f| f.sync_all())
                        .map_err(io_err(&p))?;
                }
            }
            sync_dir(dir)?;
        }
        Ok(())
    }
}

/// Bytes an unprivileged user may still write on the filesystem holding `dir`.
pub(super) fn free_bytes(dir: &Path) -> Result<u64, BackupError> {
    #[cfg(debug_assertions)]
    if let Some(n) = std::env::var("SYSTRADE_TEST_BACKUP_FREE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Ok(n);
    }
    crate::files::filesystem_space(dir)
        .map(|(free, _)| free)
        .map_err(io_err(dir))
}

/// The destination's lock file: one backup at a time writes into a destination (a second one
/// would delete the first one's unfinished directory as a leftover).
pub(super) const LOCK_FILE: &str = ".systrade-backup.lock";

/// An exclusive `flock` on the destination's lock file, released when dropped (or when the
/// process dies, however it dies).
pub(super) struct DestLock {
    _file: File,
}

impl DestLock {
    pub fn acquire(dest: &Path) -> Result<DestLock, BackupError> {
        use std::os::unix::io::AsRawFd;
        let path = dest.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(BackupError::Busy {
                dest: dest.to_path_buf(),
                holder: holder.trim().to_string(),
            });
        }
        let _ = file.set_len(0);
        let _ = writeln!(file, "pid {}", std::process::id());
        Ok(DestLock { _file: file })
    }
}

/// Test hook (debug builds only): `SYSTRADE_TEST_BACKUP_ABORT=POINT` aborts the process at that
/// point, as a kill -9 would stop it (no unwinding, no clean-up). Points: `file:N` (after the Nth
/// file is copied or linked), `manifest` (before the manifest is written), `rename` (before the
/// backup gets its final name), `prune` (while an old backup is being deleted), `restore:N` (after
/// the Nth file of a restore), `swap` (before a restored home is swapped in).
pub(super) fn fault_point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("SYSTRADE_TEST_BACKUP_ABORT").is_ok_and(|v| v == point) {
        eprintln!("SYSTRADE_TEST_BACKUP_ABORT: aborting at {point}");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

/// Every directory under `root` (itself included), parents before children.
#[cfg_attr(target_os = "linux", allow(dead_code))]
pub(super) fn dirs_under(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = std::fs::read_dir(&out[i]) {
            let mut subdirs: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            subdirs.sort();
            out.extend(subdirs);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_has_the_bytes_hash_and_mode_of_its_source() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a");
        std::fs::write(&src, b"abc").unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o600)).unwrap();
        let dst = dir.path().join("b");
        let c = copy_hashing(&src, &dst).unwrap().unwrap();
        assert_eq!(c.size, 3);
        // SHA-256("abc"), FIPS 180-2's example.
        assert_eq!(
            c.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(std::fs::read(&dst).unwrap(), b"abc");
        let mode = std::fs::metadata(&dst).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(hash_file(&dst).unwrap(), (3, c.sha256.clone()));
        assert_eq!(c.source, SourceStat::of(&std::fs::metadata(&src).unwrap()));
        assert!(copy_hashing(&src, &dst).is_err(), "never overwrites");
        assert!(
            copy_hashing(&dir.path().join("gone"), &dir.path().join("c"))
                .unwrap()
                .is_none()
        );
        assert!(free_bytes(dir.path()).unwrap() > 0);
    }

    #[test]
    fn one_backup_at_a_time_holds_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let first = DestLock::acquire(dir.path()).unwrap();
        let e = DestLock::acquire(dir.path()).err().unwrap().to_string();
        assert!(e.contains("another backup"), "{e}");
        drop(first);
        assert!(DestLock::acquire(dir.path()).is_ok());
    }
}
