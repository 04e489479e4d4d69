//! Writing a rendered report: to a file given by the user, or under `<home>/reports/` as
//! `NAME_YYYY-MM-DD.EXT` (the day of the report, UTC). The text goes to a temporary file in the
//! same directory, is synced and then renamed, so a crash never leaves a partial file under
//! the final name.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::render::Format;

/// Where report `name` rendered as `format` on `day` goes in `dir`.
pub fn path_in(dir: &Path, name: &str, format: Format, at: DateTime<Utc>) -> PathBuf {
    dir.join(format!(
        "{name}_{}.{}",
        at.format("%Y-%m-%d"),
        format.extension()
    ))
}

/// Writes `text` to `path` atomically, creating the directory; owner-only (0600): reports hold
/// positions and capital.
pub fn atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    crate::files::write_atomically(path, text.as_bytes(), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_file_is_named_by_report_and_day_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let at: DateTime<Utc> = "2024-06-27T23:30:00Z".parse().unwrap();
        let p = path_in(&dir.path().join("reports"), "costs", Format::Html, at);
        assert!(p.ends_with("reports/costs_2024-06-27.html"));
        atomically(&p, "one").unwrap();
        atomically(&p, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }
}
