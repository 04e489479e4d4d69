//! A report killed (SIGKILL) at any moment leaves either no file under its name or the whole
//! previous or new report, never a part of one: reports are written to a temporary file and
//! renamed.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use crate::reports::traded_home;
use crate::support::stderr;

#[test]
fn a_report_killed_while_writing_leaves_no_partial_file() {
    let h = traded_home();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("status.html");
    let command = || {
        let mut c = std::process::Command::new(crate::support::bin());
        c.arg("--home")
            .arg(h.path())
            .env("SYSTRADE_NOW", "2024-06-28T23:45:00Z")
            .args(["report", "status", "--format", "html", "--output"])
            .arg(&file);
        c
    };
    // How long a whole run takes, to spread the kills over it.
    let t = Instant::now();
    let out = command().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let whole = t.elapsed();
    std::fs::remove_file(&file).unwrap();

    let tries = 24u32;
    let mut killed = 0;
    for i in 0..tries {
        let mut child = command()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole * i / tries + Duration::from_millis(u64::from(i % 3)));
        // SAFETY: kill only sends a signal to our own child.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
        }
        let status = child.wait().unwrap();
        if status.signal() == Some(libc::SIGKILL) {
            killed += 1;
        }
        if let Ok(text) = std::fs::read_to_string(&file) {
            assert!(
                text.starts_with("<!DOCTYPE html>") && text.ends_with("</html>\n"),
                "try {i}: a partial report under its name ({} bytes)",
                text.len()
            );
        }
    }
    assert!(
        killed > tries / 2,
        "only {killed} of {tries} runs were killed before they ended"
    );
}
