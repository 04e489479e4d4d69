//! Every HTML report opens in a real headless browser (Debian's Chromium) without a console
//! message — no script errors, no resource it failed to load: the files are self-contained —
//! and its charts are there as SVG in the page the browser built.
//!
//! Needs Chromium (`scripts/install-chromium.sh`, or `SYSTRADE_CHROMIUM`); without it the test
//! is built as ignored (`build.rs`), except under `CI=true`, where it fails.

use std::path::PathBuf;
use std::process::Command;

use crate::reports::{run_daily, traded_home};
use crate::support::stderr;

const MONDAY: &str = "2024-07-01T23:30:00Z";

fn chromium() -> PathBuf {
    std::env::var_os("SYSTRADE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// The DOM Chromium built from `file` and what it logged.
fn open_in_browser(file: &std::path::Path, profile: &std::path::Path) -> (String, String) {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", chromium().display()));
    assert!(
        out.status.success(),
        "chromium failed on {}: {}",
        file.display(),
        stderr(&out)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[cfg_attr(not(chromium), ignore = "needs Chromium (scripts/install-chromium.sh)")]
fn every_html_report_opens_in_a_browser_without_console_messages() {
    let h = traded_home();
    run_daily(&h, MONDAY);
    let dir = h.path().join("html");
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2024-07-01T23:50:00Z")
        .args(["report", "all", "--format", "html", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let profile = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    let mut charts = 0;
    for file in &files {
        let (dom, log) = open_in_browser(file, profile.path());
        assert!(
            dom.contains("<h1>") && dom.contains("</html>"),
            "{}: {dom}",
            file.display()
        );
        let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
        assert!(console.is_empty(), "{}: {console:?}", file.display());
        charts += dom.matches("<svg").count();
    }
    // The P&L bars and the six account curves at least.
    assert!(charts >= 8, "{charts} charts in the browser's pages");
}
