//! `systrade bench --backup`: a whole-home backup, an incremental one with no price change,
//! verifying it and restoring it into a new home, each timed (the best of `repeat`), over the
//! bench home of `bench --reports` (32 instruments on the simulated market, `--days` trading
//! days; built by [`super::reports::build_home`], kept with `--reports-home DIR`). Each
//! repetition writes into a fresh destination, so its first backup copies everything.
//! Goals (issue 16, release build): backup < 2 s, incremental < 0.5 s, verify < 2 s, restore < 3 s.

use std::time::Instant;

use serde_json::{json, Value};

use super::reports::{bench_ctx, evening, BenchHome};
use crate::backup::{create_backup, restore_new, verify_backup, BackupRequest};

const GOAL_BACKUP_SECONDS: f64 = 2.0;
const GOAL_INCREMENTAL_SECONDS: f64 = 0.5;
const GOAL_VERIFY_SECONDS: f64 = 2.0;
const GOAL_RESTORE_SECONDS: f64 = 3.0;

pub(super) async fn bench_backup(home: &BenchHome, repeat: usize) -> anyhow::Result<Value> {
    let (dir, built) = (&home.dir, &home.built);
    let now = evening(built.last_day) + chrono::Duration::hours(2);
    let ctx = bench_ctx(dir, now).await?;
    let mut best = [f64::MAX; 4];
    let mut last = Value::Null;
    for _ in 0..repeat {
        // Beside the home, so on its disk (a restore renames within the target's parent).
        let scratch = tempfile::tempdir_in(dir.parent().unwrap_or(std::path::Path::new(".")))?;
        let req = BackupRequest {
            home: ctx.home.clone(),
            dest: scratch.path().join("backups"),
            create_dest: true,
            keep_daily: 7,
            keep_weekly: 0,
            now: ctx.clock.now(),
        };
        let t = Instant::now();
        let full = create_backup(ctx.store.as_ref(), &req, None).await?;
        let full_s = t.elapsed().as_secs_f64();
        let again = BackupRequest {
            now: ctx.clock.now() + chrono::Duration::minutes(1),
            ..req.clone()
        };
        let t = Instant::now();
        let incremental = create_backup(ctx.store.as_ref(), &again, None).await?;
        let incremental_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let verified = verify_backup(&incremental.path).await;
        let verify_s = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            verified.ok(),
            "the bench's backup does not verify: {:?}",
            verified.problems
        );
        let t = Instant::now();
        let restored = restore_new(
            &incremental.path,
            &scratch.path().join("restored"),
            ctx.clock.now(),
        )
        .await?;
        let restore_s = t.elapsed().as_secs_f64();
        for (b, s) in best
            .iter_mut()
            .zip([full_s, incremental_s, verify_s, restore_s])
        {
            *b = b.min(s);
        }
        last = json!({
            "files": full.files,
            "bytes": full.bytes,
            "incremental_linked": incremental.linked,
            "incremental_copied": incremental.copied,
            "incremental_bytes_written": incremental.bytes_copied,
            "parquet_files": verified.parquet_files,
            "parquet_rows": verified.parquet_rows,
            "restored_files": restored.files,
        });
    }
    let [backup, incremental, verify, restore] = best;
    Ok(json!({
        "instruments": ctx.config.prices.instruments.len(),
        "days": built.days,
        "first_day": built.first_day,
        "last_day": built.last_day,
        "build_seconds": built.build_seconds,
        "home": home.kept(),
        "contents": last,
        "backup_seconds": backup,
        "incremental_seconds": incremental,
        "verify_seconds": verify,
        "restore_seconds": restore,
        "goals": {
            "backup_seconds": GOAL_BACKUP_SECONDS,
            "incremental_seconds": GOAL_INCREMENTAL_SECONDS,
            "verify_seconds": GOAL_VERIFY_SECONDS,
            "restore_seconds": GOAL_RESTORE_SECONDS,
        },
        "goals_met": backup < GOAL_BACKUP_SECONDS
            && incremental < GOAL_INCREMENTAL_SECONDS
            && verify < GOAL_VERIFY_SECONDS
            && restore < GOAL_RESTORE_SECONDS,
    }))
}

/// The text lines of the result.
pub(super) fn print(r: &Value) -> anyhow::Result<()> {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let c = &r["contents"];
    outln!(
        "backups of a home of {} instruments after {} trading days ({} to {}; {} files, {:.0} MiB, {} Parquet files with {} rows{}):",
        r["instruments"],
        r["days"],
        r["first_day"].as_str().unwrap_or(""),
        r["last_day"].as_str().unwrap_or(""),
        c["files"],
        f(&c["bytes"]) / (1u64 << 20) as f64,
        c["parquet_files"],
        c["parquet_rows"],
        r["home"].as_str().map(|h| format!("; kept at {h}")).unwrap_or_default()
    );
    for (what, key, goal) in [
        ("backup", "backup_seconds", GOAL_BACKUP_SECONDS),
        (
            "incremental, no price change",
            "incremental_seconds",
            GOAL_INCREMENTAL_SECONDS,
        ),
        ("verify", "verify_seconds", GOAL_VERIFY_SECONDS),
        (
            "restore into a new home",
            "restore_seconds",
            GOAL_RESTORE_SECONDS,
        ),
    ] {
        outln!("  {what:<30} {:>8.3}s  (goal < {goal} s)", f(&r[key]));
    }
    outln!(
        "  the incremental backup linked {} files and wrote {:.1} MiB{}",
        c["incremental_linked"],
        f(&c["incremental_bytes_written"]) / (1u64 << 20) as f64,
        if r["goals_met"] == true {
            ""
        } else {
            "  GOALS NOT MET"
        }
    );
    Ok(())
}
