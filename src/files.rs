//! Writing a whole file so that a crash never leaves part of it under its name: the bytes go to a
//! temporary file in the same directory, which is given its permissions, synced and renamed
//! over the target. Also the free space of a filesystem (statvfs), which backups and doctor
//! check.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` (whose directory must exist) atomically, with permissions `mode`
/// (Unix; e.g. 0o644 for a file people edit, 0o600 for private data).
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The space of the filesystem holding `path` (which must exist): (bytes an unprivileged user
/// may still write, total bytes).
pub fn filesystem_space(path: &Path) -> std::io::Result<(u64, u64)> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c` is a valid NUL-terminated path and `stat` a zeroed statvfs that the call fills.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let block = stat.f_frsize as u64;
    Ok((
        (stat.f_bavail as u64).saturating_mul(block),
        (stat.f_blocks as u64).saturating_mul(block),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filesystems_space_is_read_and_a_missing_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (free, total) = filesystem_space(dir.path()).unwrap();
        assert!(total > 0 && free <= total, "{free} of {total}");
        let missing = dir.path().join("not-here");
        assert_eq!(
            filesystem_space(&missing).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
    }
}
