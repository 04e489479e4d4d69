//! `systrade doctor`: a healthy home is exit 0; dead locks and runs are warnings (exit 1);
//! a truncated, garbage or empty run store, a store of a newer systrade, a Parquet file cut
//! short and a missing price file are damage (exit 2) naming the file and the repair; `--json`
//! is an array of checks. Doctor changes nothing: every file of the home is compared byte for
//! byte before and after (but SQLite's -shm index, where any WAL reader records read marks),
//! and no file appears or goes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{describe, TestHome};

const DAY: &str = "2024-06-27T21:00:00Z";

/// A home after one daily run (two instruments).
fn home() -> TestHome {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[prices]\ninstruments = [\"SP500\", \"CORN\"]\n\n[market]\nsim_start = \"2022-06-01\"\n",
    )
    .unwrap();
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", DAY)
        .args(["run", "daily"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&["run"], &out));
    h
}

/// Every file of the home with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path(), std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// Runs doctor with `args`; asserts the home is left exactly as it was; returns exit code and
/// stdout.
fn doctor(h: &TestHome, args: &[&str]) -> (i32, String) {
    let before = files(h.path());
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", DAY)
        .arg("doctor")
        .args(args)
        .output()
        .unwrap();
    let after = files(h.path());
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "doctor created or removed a file"
    );
    for (path, bytes) in &before {
        // SQLite's shared-memory index: any reader of a WAL database writes its read marks
        // there (it is rebuilt from the WAL, holds no data). Everything else byte for byte.
        if path.ends_with("systrade.db-shm") {
            continue;
        }
        assert!(after[path] == *bytes, "doctor changed {}", path.display());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        describe(args, &out)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The checks of `doctor --json`, by name.
fn checks(h: &TestHome) -> (i32, BTreeMap<String, Value>) {
    let (code, text) = doctor(h, &["--json"]);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let all = v.as_array().expect("an array of checks");
    let mut by = BTreeMap::new();
    for c in all {
        for key in ["check", "status", "found", "details", "fix"] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
        by.insert(c["check"].as_str().unwrap().to_string(), c.clone());
    }
    (code, by)
}

fn sql(h: &TestHome, script: &str) {
    let ok = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.commit()",
            &h.path().join("systrade.db").display().to_string(),
            script,
        ])
        .status()
        .expect("python3");
    assert!(ok.success());
}

fn checkpoint_and_drop_wal(h: &TestHome) {
    sql(h, "PRAGMA wal_checkpoint(TRUNCATE);");
    for side in ["systrade.db-wal", "systrade.db-shm"] {
        let _ = std::fs::remove_file(h.path().join(side));
    }
}

#[test]
fn a_healthy_home_is_exit_0_with_every_check_and_unchanged() {
    let h = home();
    let (code, text) = doctor(&h, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("healthy: nothing to do"), "{text}");
    for name in [
        "run_store",
        "config",
        "workflows",
        "price_files",
        "locks",
        "positions",
        "disk",
        "backups",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("ok") && l.contains(name)),
            "{name}: {text}"
        );
    }
    let (code, by) = checks(&h);
    assert_eq!(code, 0);
    assert_eq!(by.len(), 9, "{by:?}");
    assert_eq!(by["broker"]["status"], "skipped");
    assert!(by["price_files"]["found"]
        .as_str()
        .unwrap()
        .contains("read whole"));
    assert!(by["run_store"]["found"]
        .as_str()
        .unwrap()
        .contains("integrity ok, schema 2026"));
    // --broker: the simulated broker's positions agree with the system's.
    let (code, text) = doctor(&h, &["--broker"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("and the simulated broker's"), "{text}");
}

#[test]
fn dead_locks_and_runs_are_warnings_that_startup_clears() {
    let h = home();
    // A lock of a process that cannot exist on this host (above the kernel's PID limit), and
    // a run marked running without a lock.
    sql(
        &h,
        "INSERT INTO locks (name, run_id, pid, pid_start, host, boot_id, acquired_at)
           SELECT 'trading', NULL, 4194305, NULL, host, NULL, '2024-06-27T10:00:00.000000Z'
           FROM runs LIMIT 1;
         INSERT INTO runs (workflow, trigger, status, started_at, pid, host, definition_path,
           definition_hash) SELECT 'daily', 'manual', 'running', '2024-06-27T20:00:00.000000Z',
           4194305, host, 'x.toml', 'x' FROM runs LIMIT 1;",
    );
    let (code, by) = checks(&h);
    assert_eq!(code, 1, "{by:?}");
    let locks = &by["locks"];
    assert_eq!(locks["status"], "warning", "{locks}");
    let details = locks["details"].to_string();
    assert!(
        details.contains("`trading` is locked by pid 4194305"),
        "{details}"
    );
    assert!(details.contains("holds no lock"), "{details}");
    assert!(locks["fix"].as_str().unwrap().contains("systrade startup"));
    let (code, text) = doctor(&h, &[]);
    assert_eq!(code, 1);
    assert!(
        text.contains("what to do:") && text.contains("`systrade startup`"),
        "{text}"
    );
    let out = h.run(&["startup"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        describe(&["startup"], &out)
    );
    assert_eq!(checks(&h).0, 0, "startup cleared them");
}

#[test]
fn a_truncated_garbage_or_empty_store_is_damage_naming_the_file_and_the_repair() {
    for (damage, expect) in [
        ("truncated", "is truncated"),
        ("garbage", "is not a SQLite database"),
        ("empty", "is empty (0 bytes)"),
    ] {
        let h = home();
        checkpoint_and_drop_wal(&h);
        let db = h.path().join("systrade.db");
        let bytes = std::fs::read(&db).unwrap();
        let cut: &[u8] = match damage {
            "truncated" => &bytes[..8192],
            "garbage" => b"{\"this is\": \"not a database\"}",
            _ => b"",
        };
        std::fs::write(&db, cut).unwrap();
        let (code, text) = doctor(&h, &[]);
        assert_eq!(code, 2, "{damage}: {text}");
        assert!(text.contains(&db.display().to_string()), "{text}");
        assert!(text.contains(expect), "{damage}: {text}");
        assert!(
            text.contains("backups/systrade-") && text.contains("systrade init"),
            "{damage}: the repair: {text}"
        );
        let (_, by) = checks(&h);
        assert_eq!(by["run_store"]["status"], "damage");
        assert_eq!(by["locks"]["status"], "skipped");
    }
}

#[test]
fn a_parquet_file_cut_short_is_damage_naming_the_file() {
    let h = home();
    let file = h.path().join("data/multiple/SP500.parquet");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let (code, by) = checks(&h);
    assert_eq!(code, 2, "{by:?}");
    let prices = &by["price_files"];
    assert_eq!(prices["status"], "damage");
    let details = prices["details"].to_string();
    assert!(details.contains(&file.display().to_string()), "{details}");
    assert!(details.contains("unreadable or corrupt"), "{details}");
    assert!(
        prices["fix"]
            .as_str()
            .unwrap()
            .contains("systrade import pysystemtrade"),
        "{prices}"
    );
}

#[test]
fn a_missing_price_file_is_damage_with_its_repair() {
    let h = home();
    std::fs::remove_file(h.path().join("data/adjusted/CORN.parquet")).unwrap();
    let (code, by) = checks(&h);
    assert_eq!(code, 2);
    let prices = &by["price_files"];
    assert!(
        prices["details"]
            .to_string()
            .contains("adjusted/CORN.parquet is missing"),
        "{prices}"
    );
    assert!(prices["fix"]
        .as_str()
        .unwrap()
        .contains("systrade prices regenerate-adjusted CORN"));
    // CORN's multiple prices gone: the metadata (contract table, optimal positions) names it.
    // (Adjusted prices alone, as pysystemtrade's data has for some instruments, are fine.)
    let h = home();
    std::fs::remove_file(h.path().join("data/multiple/CORN.parquet")).unwrap();
    let (code, by) = checks(&h);
    assert_eq!(code, 2);
    let details = by["price_files"]["details"].to_string();
    assert!(
        details.contains("multiple/CORN.parquet is missing, but"),
        "{details}"
    );
}

#[test]
fn a_home_written_by_a_newer_systrade_is_damage_and_left_as_it_is() {
    let h = home();
    sql(
        &h,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (29991231000099, 'future', 1, x'00', 0);",
    );
    let (code, text) = doctor(&h, &[]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("written by a newer systrade (schema 29991231000099 > 2026"),
        "{text}"
    );
    assert!(text.contains("upgrade systrade"), "{text}");
}

#[test]
fn an_invalid_config_is_damage_naming_the_file_and_line() {
    let h = home();
    std::fs::write(
        h.path().join("config.toml"),
        "[prices]\ninstruments = [\"SP500\", \"CORN\"]\n\n[cleaners]\nreport_days = 0\n",
    )
    .unwrap();
    let (code, by) = checks(&h);
    assert_eq!(code, 2);
    let details = by["config"]["details"].to_string();
    assert!(details.contains("config.toml:5"), "{details}");
    assert!(details.contains("cleaners.report_days"), "{details}");
}

#[test]
fn with_broker_an_ib_gateway_that_does_not_answer_is_a_warning() {
    let h = home();
    let port = crate::support::free_port();
    let out = h
        .ib_cmd(port)
        .args(["doctor", "--broker", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        describe(&["doctor"], &out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let broker = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "broker")
        .unwrap();
    assert_eq!(broker["status"], "warning", "{broker}");
    assert!(
        broker["found"]
            .as_str()
            .unwrap()
            .contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{broker}"
    );
    assert!(
        broker["fix"].as_str().unwrap().contains("IB Gateway"),
        "{broker}"
    );
}

/// The newest backup (the daily run's): verified and fine on the day; a warning four days
/// later, and when it does not verify (a file it lists gone: named, with the command that makes
/// a new one); none at all is a warning too.
#[test]
fn the_newest_backups_age_and_files_are_checked() {
    let h = home();
    let (_, by) = checks(&h);
    let b = &by["backups"];
    assert_eq!(b["status"], "ok", "{b}");
    assert!(b["found"].as_str().unwrap().contains("1 backups in"), "{b}");

    let late = h
        .cmd()
        .env("SYSTRADE_NOW", "2024-07-02T21:00:00Z")
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        late.status.code(),
        Some(1),
        "{}",
        describe(&["doctor"], &late)
    );
    let v: Value = serde_json::from_slice(&late.stdout).unwrap();
    let b = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "backups")
        .unwrap();
    assert_eq!(b["status"], "warning", "{b}");
    assert!(
        b["found"].as_str().unwrap().contains("older than 96 hours"),
        "{b}"
    );

    let backup = std::fs::read_dir(h.path().join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("systrade-backup-")
        })
        .expect("the daily run's backup");
    std::fs::remove_file(backup.join("config.toml")).unwrap();
    let (code, by) = checks(&h);
    assert_eq!(code, 1);
    let b = &by["backups"];
    assert_eq!(b["status"], "warning", "{b}");
    assert!(
        b["details"].to_string().contains("config.toml is missing"),
        "{b}"
    );
    assert!(
        b["fix"].as_str().unwrap().contains("systrade backup"),
        "{b}"
    );

    std::fs::remove_dir_all(&backup).unwrap();
    let (code, by) = checks(&h);
    assert_eq!(code, 1);
    assert!(
        by["backups"]["found"]
            .as_str()
            .unwrap()
            .starts_with("no backup in"),
        "{}",
        by["backups"]
    );
}
