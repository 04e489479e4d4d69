//! A backup's `manifest.json`: every file with its size and SHA-256 (and, for a file hard-linked
//! from the previous backup, that backup's name), the store's schema version, the systrade version,
//! the time and the home. Written last, so a directory without a readable manifest is never a
//! backup.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::BackupError;

/// The manifest's file name inside a backup.
pub const MANIFEST: &str = "manifest.json";
/// The layout version of the manifest; a newer one is refused by this binary.
pub const FORMAT: u32 = 1;

/// What the source file was when it was copied: the same file (device and inode), untouched
/// (size, modification and change times in nanoseconds) is the same bytes. The Parquet store and
/// every atomic write replace a file by a rename (a new inode), and an edit in place moves the
/// change time, which no program can set back, so an equal stat means the file was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStat {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl SourceStat {
    #[cfg(unix)]
    pub fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}

/// One file of a backup, by its path relative to the home (and to the backup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative path with `/` separators.
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// The backup this file is hard-linked from (unchanged since it), `None` when copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_from: Option<String>,
    /// The home's file when it was backed up (absent for the store, which is always a fresh
    /// snapshot), to tell an unchanged file at the next backup without reading it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceStat>,
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub systrade_version: String,
    /// The run store's highest applied migration.
    pub schema_version: i64,
    pub created_at: DateTime<Utc>,
    /// The home that was backed up (absolute).
    pub home: String,
    /// The run store's engine and its file in the backup.
    pub store: StoreEntry,
    /// Sorted by path.
    pub files: Vec<FileEntry>,
}

/// Which store the backup holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreEntry {
    /// `sqlite`: the only run store there is (a PostgreSQL store would be dumped, not copied).
    pub engine: String,
    /// Its path in the backup (`systrade.db`).
    pub path: String,
    /// How it was taken: `vacuum_into` (SQLite's consistent snapshot of a live database).
    pub method: String,
}

impl Manifest {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
    pub fn linked(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.linked_from.is_some())
            .count()
    }
    pub fn entry(&self, path: &str) -> Option<&FileEntry> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    /// Reads and checks `<dir>/manifest.json`.
    pub fn read(dir: &Path) -> Result<Manifest, BackupError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read(&path).map_err(|e| BackupError::Manifest {
            path: path.clone(),
            detail: format!("cannot be read: {e}"),
        })?;
        let mut m: Manifest = serde_json::from_slice(&text).map_err(|e| BackupError::Manifest {
            path: path.clone(),
            detail: format!("is not a systrade backup manifest: {e}"),
        })?;
        if m.format > FORMAT {
            return Err(BackupError::Manifest {
                path,
                detail: format!(
                    "has format {} and this systrade ({}) reads format {FORMAT}: it was written by a \
                     newer systrade ({}); use that version",
                    m.format,
                    env!("CARGO_PKG_VERSION"),
                    m.systrade_version
                ),
            });
        }
        for f in &m.files {
            if !safe_relative(&f.path) {
                return Err(BackupError::Manifest {
                    path,
                    detail: format!("lists the path `{}`, which leaves the backup", f.path),
                });
            }
        }
        m.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(m)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// A relative path of plain names (no `..`, no root, no empty parts): safe to join to a directory.
pub fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT,
            systrade_version: "0.1.0".into(),
            schema_version: 20261207000011,
            created_at: "2024-06-28T23:30:00Z".parse().unwrap(),
            home: "/h".into(),
            store: StoreEntry {
                engine: "sqlite".into(),
                path: "systrade.db".into(),
                method: "vacuum_into".into(),
            },
            files: vec![
                FileEntry {
                    path: "data/multiple/SP500.parquet".into(),
                    size: 3,
                    sha256: "ab".into(),
                    linked_from: Some("systrade-backup-x".into()),
                    source: Some(SourceStat {
                        dev: 1,
                        ino: 2,
                        size: 3,
                        mtime_ns: 4,
                        ctime_ns: 5,
                    }),
                },
                FileEntry {
                    path: "systrade.db".into(),
                    size: 10,
                    sha256: "cd".into(),
                    linked_from: None,
                    source: None,
                },
            ],
        }
    }

    #[test]
    fn a_manifest_round_trips_and_finds_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest();
        std::fs::write(dir.path().join(MANIFEST), m.to_json()).unwrap();
        let back = Manifest::read(dir.path()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.total_bytes(), 13);
        assert_eq!(back.linked(), 1);
        assert_eq!(back.entry("systrade.db").map(|e| e.size), Some(10));
        assert!(back.entry("nope").is_none());
        let text = String::from_utf8(m.to_json()).unwrap();
        assert!(!text.contains("\"linked_from\": null"), "{text}");
    }

    #[test]
    fn a_newer_format_or_an_escaping_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = manifest();
        m.format = FORMAT + 1;
        std::fs::write(dir.path().join(MANIFEST), m.to_json()).unwrap();
        let e = Manifest::read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("newer systrade"), "{e}");
        let mut m = manifest();
        m.files[0].path = "../../etc/passwd".into();
        std::fs::write(dir.path().join(MANIFEST), m.to_json()).unwrap();
        let e = Manifest::read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("leaves the backup"), "{e}");
        std::fs::write(dir.path().join(MANIFEST), b"{").unwrap();
        assert!(Manifest::read(dir.path()).is_err());
        assert!(safe_relative("a/b.parquet") && !safe_relative("a//b") && !safe_relative("/a"));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
