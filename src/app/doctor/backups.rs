//! The `backups` check: the home's newest backup, its age, and its verification (what `systrade
//! backup verify` does: every file against the manifest's size and SHA-256, the store's
//! integrity check, every Parquet file read; read-only). A month-old 32-instrument home's
//! backup verifies in about 0.2 s (release), so doctor stays well inside its second.

use chrono::Duration;

use super::{Check, Doctor, Status};

const NAME: &str = "backups";

/// A backup older than this is a warning: the daily workflow backs up on weekdays, so a Monday
/// evening's newest backup is Friday's (about 70 hours), and a bank holiday Monday adds a day.
pub const MAX_AGE_HOURS: i64 = 96;

pub async fn backups(d: &Doctor) -> Check {
    let Some(config) = &d.config else {
        return Check::skipped(NAME, "no config to find the backups by");
    };
    let (dest, _) = crate::backup::destination(&d.home, config.backup.destination.as_deref());
    let listing = match crate::backup::list(
        &dest,
        config.backup.keep_daily,
        config.backup.keep_weekly,
    ) {
        Ok(l) => l,
        Err(e) => {
            return Check::bad(
                NAME,
                Status::Warning,
                format!("no backups: {e}"),
                Vec::new(),
                "back the home up: `systrade backup` (the daily workflow's run_backups node does it every evening)",
            )
        }
    };
    let Some(newest) = listing.newest() else {
        return Check::bad(
            NAME,
            Status::Warning,
            format!("no backup in {}", dest.display()),
            listing
                .incomplete
                .iter()
                .map(|i| format!("{}: {}", i.path.display(), i.reason))
                .collect(),
            "back the home up: `systrade backup` (the daily workflow's run_backups node does it every evening)",
        );
    };
    let age = d.now - newest.created_at;
    let age_text = if age < Duration::hours(1) {
        format!("{} minutes", age.num_minutes().max(0))
    } else {
        format!("{} hours", age.num_hours())
    };
    let found = format!(
        "{} backups in {}; the newest, {}, is {age_text} old ({} files)",
        listing.backups.len(),
        dest.display(),
        newest.name,
        newest.files
    );
    let report = crate::backup::verify_backup(&newest.path).await;
    let problems: Vec<String> = report
        .problems
        .iter()
        .map(|p| format!("{}: {} {}", newest.path.display(), p.path, p.detail))
        .collect();
    if !problems.is_empty() {
        return Check::bad(
            NAME,
            Status::Warning,
            format!("{found}; it does not verify"),
            problems,
            format!(
                "take a new backup: `systrade backup`, then `systrade backup verify` it; the damaged one is {}",
                newest.path.display()
            ),
        );
    }
    if age > Duration::hours(MAX_AGE_HOURS) {
        return Check::bad(
            NAME,
            Status::Warning,
            format!("{found}: older than {MAX_AGE_HOURS} hours"),
            Vec::new(),
            "back the home up: `systrade backup`, and see why the daily workflow's run_backups node did not (`systrade runs --workflow daily`)",
        );
    }
    Check::ok(
        NAME,
        format!(
            "{found}; verified ({} files, {} Parquet files read, store integrity {})",
            report.files, report.parquet_files, report.store_integrity
        ),
    )
}
