//! File mechanics of the Parquet store: atomic replacement of a file (temp file in the same
//! directory, fsync, rename, fsync of the directory) and reading a whole file into a
//! `DataFrame`, with every failure mapped to a typed [`PriceStoreError`].

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, ErrorKind};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use polars::prelude::{DataFrame, ParquetCompression, ParquetReader, ParquetWriter, SerReader};

use crate::domain::ports::PriceStoreError;

/// Marker between the target's name and the writer's identity in temp file names:
/// `.<name>.tmp-<pid>-<n>`.
pub(super) const TEMP_MARKER: &str = ".tmp-";

/// Compression of every written file: uncompressed was the fastest to write and to read at
/// these sizes (figures in the docs of `adapters::parquet`).
const COMPRESSION: ParquetCompression = ParquetCompression::Uncompressed;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io_err(path: &Path, source: std::io::Error) -> PriceStoreError {
    PriceStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the whole file. `Ok(None)` when it does not exist.
pub(super) fn read_frame(path: &Path) -> Result<Option<DataFrame>, PriceStoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, e)),
    };
    ParquetReader::new(file)
        .finish()
        .map(Some)
        .map_err(|e| PriceStoreError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

/// Replaces `path` with `df` atomically: a crash leaves the old file or the new one under the
/// real name, never a partial one (at worst a `.NAME.tmp-*` file, which reads and listings
/// ignore).
pub(super) fn write_frame_atomic(path: &Path, df: &mut DataFrame) -> Result<(), PriceStoreError> {
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (d, n.to_string_lossy()),
        _ => {
            return Err(PriceStoreError::Write {
                path: path.to_path_buf(),
                detail: "not a file path".into(),
            })
        }
    };
    ensure_dir(dir)?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}{TEMP_MARKER}{}-{n}", std::process::id()));
    let result = write_temp(&tmp, path, df).and_then(|()| {
        fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
        sync_dir(dir)
    });
    if result.is_err() {
        // Best effort: the temp file is ignored by readers anyway.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_temp(tmp: &Path, target: &Path, df: &mut DataFrame) -> Result<(), PriceStoreError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| io_err(tmp, e))?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    ParquetWriter::new(&mut out)
        .with_compression(COMPRESSION)
        .finish(df)
        .map_err(|e| PriceStoreError::Write {
            path: target.to_path_buf(),
            detail: e.to_string(),
        })?;
    let file = out.into_inner().map_err(|e| io_err(tmp, e.into_error()))?;
    file.sync_all().map_err(|e| io_err(tmp, e))
}

/// Creates `dir` (and missing parents), fsyncing each parent of a directory it creates so the
/// new entry survives a power loss.
fn ensure_dir(dir: &Path) -> Result<(), PriceStoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        ensure_dir(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(io_err(dir, e)),
    }
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), PriceStoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// File names directly in `dir` that end in `suffix` (not temp files, not hidden), with the
/// suffix removed. A missing directory has none.
pub(super) fn stems_in(dir: &Path, suffix: &str) -> Result<Vec<String>, PriceStoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || name.contains(TEMP_MARKER) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if let Some(stem) = name.strip_suffix(suffix) {
            out.push(stem.to_string());
        }
    }
    Ok(out)
}
