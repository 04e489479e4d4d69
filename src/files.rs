//! Writing a whole file so that a crash never leaves part of it under its name: the bytes go to a
//! temporary file in the same directory, which is given its permissions, synced and renamed
//! over the target.

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
