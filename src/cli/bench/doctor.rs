//! `systrade bench --doctor`: `systrade doctor` as a process on the home `bench --reports`
//! builds (32 instruments on the simulated market and broker; [`super::reports::build_home`]),
//! after `--days` trading days (21: a month) and its evening backup (taken when it has none),
//! best of `repeat`. The home must come out healthy (exit 0), or the bench fails with doctor's
//! findings.

use std::time::Instant;

use serde_json::{json, Value};

use super::reports::{evening, BenchHome};

/// The goal of issue 16.
const GOAL_SECONDS: f64 = 1.0;

pub(super) fn bench_doctor(home: &BenchHome, repeat: usize) -> anyhow::Result<Value> {
    let (dir, built) = (&home.dir, &home.built);
    let now = evening(built.last_day) + chrono::Duration::hours(1);
    let exe = std::env::current_exe()?;
    // A trader's home has its evening backup (the bench home's days leave the backups out):
    // doctor checks the newest one.
    let has_backup = std::fs::read_dir(dir.join("backups")).is_ok_and(|d| {
        d.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("systrade-backup-")
        })
    });
    if !has_backup {
        let out = std::process::Command::new(&exe)
            .arg("--home")
            .arg(dir)
            .args(["--quiet", "backup"])
            .env("SYSTRADE_NOW", now.to_rfc3339())
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "`systrade backup` of the bench home {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut best = f64::MAX;
    let mut checks = Value::Null;
    for _ in 0..repeat {
        let t = Instant::now();
        let out = std::process::Command::new(&exe)
            .arg("--home")
            .arg(dir)
            .args(["--quiet", "doctor", "--json"])
            .env("SYSTRADE_NOW", now.to_rfc3339())
            .output()?;
        best = best.min(t.elapsed().as_secs_f64());
        checks = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        anyhow::ensure!(
            out.status.code() == Some(0),
            "`systrade doctor` found the built home {} unhealthy (exit {:?}): {}",
            dir.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let found = |name: &str| {
        checks
            .as_array()
            .and_then(|a| a.iter().find(|c| c["check"] == name))
            .map(|c| c["found"].clone())
            .unwrap_or(Value::Null)
    };
    Ok(json!({
        "days": built.days,
        "first_day": built.first_day,
        "last_day": built.last_day,
        "build_seconds": built.build_seconds,
        "home": home.kept(),
        "price_files": found("price_files"),
        "seconds": best,
        "goal_seconds": GOAL_SECONDS,
    }))
}

/// The text line of the result.
pub(super) fn print(r: &Value) -> anyhow::Result<()> {
    outln!(
        "`systrade doctor` on a home of 32 instruments after {} trading days ({} to {}; built in {:.0}s{}): {:.3}s (goal < {GOAL_SECONDS} s); {}",
        r["days"],
        r["first_day"].as_str().unwrap_or(""),
        r["last_day"].as_str().unwrap_or(""),
        r["build_seconds"].as_f64().unwrap_or(f64::NAN),
        r["home"].as_str().map(|h| format!(", kept at {h}")).unwrap_or_default(),
        r["seconds"].as_f64().unwrap_or(f64::NAN),
        r["price_files"].as_str().unwrap_or("")
    );
    Ok(())
}
