//! Writing a rendered report: to a file given by the user, or under `<home>/reports/` as
//! `NAME_YYYY-MM-DD.EXT` (the day of the report, UTC). The text goes to a temporary file in the
//! same directory, is synced and then renamed, so a crash never leaves a partial file under
//! the final name.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

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

/// The day in a report file's name `NAME_YYYY-MM-DD.EXT` (`None` for any other name, and for
/// the temporary files of an unfinished write, which start with a dot).
pub fn day_of(file_name: &str) -> Option<NaiveDate> {
    if file_name.starts_with('.') {
        return None;
    }
    let (stem, _ext) = file_name.rsplit_once('.')?;
    let (name, day) = stem.rsplit_once('_')?;
    if name.is_empty() || day.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// The report files in `dir` whose day is before `before` (and never `today`'s or later), with
/// their day, oldest first: deleted, or with `dry_run` only listed. A missing `dir` has none.
pub fn prune(
    dir: &Path,
    before: NaiveDate,
    today: NaiveDate,
    dry_run: bool,
) -> std::io::Result<Vec<(PathBuf, NaiveDate)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut old = Vec::new();
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name();
        let Some(day) = name.to_str().and_then(day_of) else {
            continue;
        };
        if day < before && day < today {
            old.push((entry.path(), day));
        }
    }
    old.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    if !dry_run {
        for (path, _) in &old {
            std::fs::remove_file(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot delete {}: {e}", path.display()))
            })?;
        }
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_reports_are_found_by_the_day_in_their_name_and_today_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        for name in [
            "costs_2024-01-02.html",
            "instrument_risk_2024-03-01.txt",
            "status_2024-06-27.html",
            "notes.txt",
            ".costs_2024-01-01.html.tmp-1-1",
            "bad_2024-13-01.html",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        assert_eq!(
            day_of("instrument_risk_2024-03-01.txt"),
            Some(d("2024-03-01"))
        );
        assert_eq!(day_of("notes.txt"), None);
        let listed = prune(dir.path(), d("2024-06-01"), d("2024-06-27"), true).unwrap();
        let names: Vec<String> = listed
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["costs_2024-01-02.html", "instrument_risk_2024-03-01.txt"]
        );
        assert!(dir.path().join("costs_2024-01-02.html").exists(), "dry run");
        // A cutoff past today still keeps today's report.
        let gone = prune(dir.path(), d("2024-07-30"), d("2024-06-27"), false).unwrap();
        assert_eq!(gone.len(), 2);
        assert!(dir.path().join("status_2024-06-27.html").exists());
        assert!(dir.path().join("notes.txt").exists());
        assert!(!dir.path().join("costs_2024-01-02.html").exists());
    }

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
