//! Whole-home backups (issue 16) through the binary: the daily workflow's `run_backups` node and
//! `systrade backup` write a manifest of every file with its SHA-256 and hard-link what did not
//! change; `backup verify` names every damaged file (exit 2); a home after a week of trading
//! restored into a new home has the same tables, prices, positions and runs, and trades the
//! next day as the original does; `restore --replace` is refused while a run is alive and keeps
//! the old home aside otherwise; a backup killed at any point leaves only complete backups.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crash::{spawn, wait_for_file, SLOW};
use crate::support::{describe, stderr, stdout, TestHome};

/// Monday to Friday of one week, in the evening.
const WEEK: [&str; 5] = [
    "2024-06-24T23:30:00Z",
    "2024-06-25T23:30:00Z",
    "2024-06-26T23:30:00Z",
    "2024-06-27T23:30:00Z",
    "2024-06-28T23:30:00Z",
];
/// The Monday after.
const NEXT_MONDAY: &str = "2024-07-01T23:30:00Z";
/// When the backup of the week is taken (after Friday's run).
const FRIDAY_NIGHT: &str = "2024-06-28T23:50:00Z";

fn two_instrument_home() -> TestHome {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[prices]\ninstruments = [\"SP500\", \"CORN\"]\n\n[market]\nsim_start = \"2022-06-01\"\n",
    )
    .unwrap();
    h
}

fn at(h: &TestHome, now: &str, args: &[&str]) -> std::process::Output {
    h.cmd()
        .env("SYSTRADE_NOW", now)
        .args(args)
        .output()
        .expect("run systrade")
}

fn ok_at(h: &TestHome, now: &str, args: &[&str]) -> String {
    let out = at(h, now, args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(args, &out));
    stdout(&out)
}

fn json_at(h: &TestHome, now: &str, args: &[&str]) -> Value {
    let text = ok_at(h, now, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{text}"))
}

fn sha(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under `dir`, relative, `/`-separated.
fn files_under(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// The backups listed in the home's destination.
fn backups(h: &TestHome) -> Vec<Value> {
    h.json(&["backup", "list", "--json"])["backups"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The SQL text of every table of a store (python's sqlite3 dump), for comparing two stores.
fn dump(db: &Path) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('\\n'.join(c.iterdump()))",
            &db.display().to_string(),
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The Parquet files of a home with their bytes' hashes.
fn parquet_files(root: &Path) -> BTreeMap<String, String> {
    let mut all = Vec::new();
    files_under(root, &root.join("data"), &mut all);
    files_under(root, &root.join("backtests"), &mut all);
    all.into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .map(|f| {
            let h = sha(&root.join(&f));
            (f, h)
        })
        .collect()
}

#[test]
fn the_daily_backup_lists_every_file_and_the_next_one_links_what_did_not_change() {
    let h = two_instrument_home();
    ok_at(&h, WEEK[0], &["run", "daily"]);
    let listed = backups(&h);
    assert_eq!(
        listed.len(),
        1,
        "the daily run_backups node made one: {listed:?}"
    );
    let first = PathBuf::from(listed[0]["path"].as_str().unwrap());
    assert!(
        listed[0]["name"]
            .as_str()
            .unwrap()
            .starts_with("systrade-backup-20240624T2330"),
        "named by the app clock: {listed:?}"
    );
    let m = manifest(&first);
    assert_eq!(m["systrade_version"], env!("CARGO_PKG_VERSION"));
    assert!(m["schema_version"].as_i64().unwrap() > 20_000_000_000_000);
    let entries: BTreeMap<String, Value> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f.clone()))
        .collect();
    // Every file of the home's state is in the backup with its hash (the home has not changed
    // since: the backup is the run's last node).
    let mut home_files = Vec::new();
    for dir in ["data", "backtests", "reports"] {
        files_under(h.path(), &h.path().join(dir), &mut home_files);
    }
    home_files.push("config.toml".into());
    assert!(home_files.iter().any(|f| f.ends_with(".parquet")));
    assert!(home_files.iter().any(|f| f.starts_with("reports/")));
    for f in &home_files {
        let e = entries
            .get(f)
            .unwrap_or_else(|| panic!("{f} is not in the manifest"));
        assert_eq!(e["sha256"], sha(&h.path().join(f)), "{f}");
        assert_eq!(e["sha256"], sha(&first.join(f)), "{f} in the backup");
        assert_eq!(
            e["size"],
            std::fs::metadata(h.path().join(f)).unwrap().len()
        );
    }
    assert_eq!(entries.len(), home_files.len() + 1, "and the store");
    assert_eq!(
        entries["systrade.db"]["sha256"],
        sha(&first.join("systrade.db"))
    );

    // A second backup with no price change links every file but the store.
    let v = json_at(&h, WEEK[0], &["backup", "--json"]);
    let b = &v["backup"];
    assert_eq!(
        b["linked"].as_u64().unwrap() as usize,
        home_files.len(),
        "{v}"
    );
    assert_eq!(b["copied"], 1, "only the store: {v}");
    let second = PathBuf::from(b["path"].as_str().unwrap());
    let some_parquet = home_files.iter().find(|f| f.ends_with(".parquet")).unwrap();
    let (a, c) = (
        std::fs::metadata(first.join(some_parquet)).unwrap(),
        std::fs::metadata(second.join(some_parquet)).unwrap(),
    );
    assert_eq!(
        a.ino(),
        c.ino(),
        "{some_parquet} is one file in both backups"
    );
    assert!(c.nlink() > 1);
    let m2 = manifest(&second);
    let linked = m2["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == some_parquet.as_str())
        .unwrap();
    assert_eq!(linked["linked_from"], listed[0]["name"]);
    // The text form says what was done.
    let text = ok_at(&h, WEEK[0], &["backup"]);
    assert!(
        text.contains("hard-linked from the previous backup"),
        "{text}"
    );
}

#[test]
fn verify_names_a_flipped_byte_and_a_removed_file_and_bad_names_exit_2() {
    let h = two_instrument_home();
    ok_at(&h, WEEK[0], &["run", "daily"]);
    let listed = backups(&h);
    let name = listed[0]["name"].as_str().unwrap().to_string();
    let dir = PathBuf::from(listed[0]["path"].as_str().unwrap());
    let text = ok_at(&h, WEEK[0], &["backup", "verify", &name]);
    assert!(
        text.contains(": ok") && text.contains("store integrity ok"),
        "{text}"
    );

    let m = manifest(&dir);
    let parquets: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .filter(|p| p.ends_with(".parquet"))
        .collect();
    let flipped = &parquets[0];
    let removed = &parquets[1];
    let mut bytes = std::fs::read(dir.join(flipped)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(dir.join(flipped), bytes).unwrap();
    std::fs::remove_file(dir.join(removed)).unwrap();

    let out = h.run(&["backup", "verify", &name]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        describe(&["verify"], &out)
    );
    let text = stdout(&out);
    assert!(text.contains("DAMAGED — 2 problems"), "{text}");
    assert!(
        text.contains(&format!("{flipped}: differs from the manifest")),
        "{text}"
    );
    assert!(text.contains(&format!("{removed}: is missing")), "{text}");
    let out = h.run(&["backup", "verify", &dir.display().to_string(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let named: Vec<&str> = v["report"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(named.len(), 2, "{v}");
    assert!(named.contains(&flipped.as_str()) && named.contains(&removed.as_str()));
    // A damaged backup is not restored.
    let new = TestHome::new();
    let out = new.run(&["restore", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(removed.as_str()), "{}", stderr(&out));
    assert!(
        std::fs::read_dir(new.path()).unwrap().next().is_none(),
        "nothing written"
    );

    // A backup of a newer systrade (its store schema unknown here) is refused by restore.
    let newer = h.path().join("newer-backup");
    let good = PathBuf::from(listed[0]["path"].as_str().unwrap());
    std::fs::create_dir(&newer).unwrap();
    let mut m = manifest(&good);
    m["schema_version"] = Value::from(m["schema_version"].as_i64().unwrap() + 1);
    std::fs::write(newer.join("manifest.json"), m.to_string()).unwrap();
    let out = TestHome::new().run(&["restore", &newer.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("newer than this systrade"),
        "{}",
        stderr(&out)
    );

    let out = h.run(&["backup", "verify", "systrade-backup-19990101T000000.000Z"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the newest are: ") && stderr(&out).contains(&name),
        "{}",
        stderr(&out)
    );
    // Without --home NEW or --replace there is nowhere to restore to.
    let out = std::process::Command::new(crate::support::bin())
        .env("SYSTRADE_HOME", h.path())
        .args(["restore", &name])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("say where to restore"),
        "{}",
        stderr(&out)
    );
    // With --home NEW, a name is one of SYSTRADE_HOME's backups: restored into NEW.
    let new = TestHome::new();
    let target = new.path().join("restored");
    let out = std::process::Command::new(crate::support::bin())
        .env("SYSTRADE_HOME", h.path())
        .args(["restore", &name, "--home"])
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "the backup is damaged: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("is damaged"), "{}", stderr(&out));
    assert!(!target.exists());
    let out = new.run(&["restore", &name]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("give the backup's path"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_week_of_trading_restored_into_a_new_home_is_the_same_and_trades_on_the_same() {
    let h = two_instrument_home();
    for day in WEEK {
        ok_at(&h, day, &["run", "daily"]);
    }
    assert_eq!(
        backups(&h).len(),
        5,
        "one per day, all kept (keep_daily = 7)"
    );
    let v = json_at(&h, FRIDAY_NIGHT, &["backup", "--json"]);
    let path = v["backup"]["path"].as_str().unwrap().to_string();

    let new = TestHome::new();
    let out = at(&new, FRIDAY_NIGHT, &["restore", &path, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        describe(&["restore"], &out)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["restore"]["verify"]["store_integrity"], "ok", "{r}");
    assert!(
        r["restore"]["verify"]["parquet_files"].as_u64().unwrap() > 10,
        "{r}"
    );

    // Every table and every Parquet file is the same.
    assert_eq!(
        dump(&h.path().join("systrade.db")),
        dump(&new.path().join("systrade.db"))
    );
    let prices = parquet_files(h.path());
    assert!(prices.len() > 10);
    assert_eq!(prices, parquet_files(new.path()));
    for code in ["SP500", "CORN"] {
        for extra in [&[][..], &["--multiple"][..]] {
            let mut args = vec!["prices", "show", code, "--json"];
            args.extend_from_slice(extra);
            assert_eq!(
                json_at(&h, FRIDAY_NIGHT, &args),
                json_at(&new, FRIDAY_NIGHT, &args),
                "{args:?}"
            );
        }
    }
    for args in [
        &["positions", "--json"][..],
        &["runs", "--json"][..],
        &["capital", "show", "--json"][..],
    ] {
        assert_eq!(
            json_at(&h, FRIDAY_NIGHT, args),
            json_at(&new, FRIDAY_NIGHT, args),
            "{args:?}"
        );
    }

    // The next trading day on both ends in the same positions.
    ok_at(&h, NEXT_MONDAY, &["run", "daily"]);
    ok_at(&new, NEXT_MONDAY, &["run", "daily"]);
    let (a, b) = (
        json_at(&h, NEXT_MONDAY, &["positions", "--json"]),
        json_at(&new, NEXT_MONDAY, &["positions", "--json"]),
    );
    assert_eq!(a, b);
    assert!(
        !a["contract_positions"].as_array().unwrap().is_empty(),
        "the week traded: {a}"
    );
    let runs = json_at(&new, NEXT_MONDAY, &["runs", "--json"]);
    assert_eq!(runs.as_array().unwrap().len(), 6, "{runs}");
    assert_eq!(runs[0]["status"], "succeeded");
}

#[test]
fn replace_is_refused_while_a_run_is_alive_and_keeps_the_old_home_aside() {
    let h = TestHome::new();
    ok_at(&h, WEEK[0], &["run", "example"]);
    let v = json_at(&h, WEEK[0], &["backup", "--json"]);
    let name = v["backup"]["name"].as_str().unwrap().to_string();
    let runs_at_backup = h.json(&["runs", "--json"]);
    h.workflow("slow", SLOW);
    let mut runner = spawn(&h, &["run", "slow"]);
    wait_for_file(&h, &mut runner, "started");
    let db_before = std::fs::read(h.path().join("systrade.db")).unwrap();

    let out = h.run(&["restore", &name, "--replace"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        describe(&["restore"], &out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("is in use")
            && err.contains("workflow `slow`")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(err.contains(&format!("pid {}", runner.id())), "{err}");
    assert_eq!(
        std::fs::read(h.path().join("systrade.db")).unwrap(),
        db_before
    );
    let parent = h.path().parent().unwrap().to_path_buf();
    let stem = h.path().file_name().unwrap().to_string_lossy().into_owned();
    let siblings = || -> Vec<PathBuf> {
        std::fs::read_dir(&parent)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{stem}.")))
            })
            .collect()
    };
    assert!(siblings().is_empty(), "no staging left: {:?}", siblings());

    // Once the runner is gone (its lock's holder dead), the home is replaced.
    drop(runner);
    let deadline = Instant::now() + Duration::from_secs(20);
    let out = loop {
        let out = h.run(&["restore", &name, "--replace", "--json"]);
        if out.status.code() != Some(3) || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        describe(&["restore"], &out)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let aside = PathBuf::from(r["restore"]["old_home"].as_str().unwrap());
    assert!(
        aside.join("workflows/slow.toml").is_file(),
        "the old home is kept whole"
    );
    assert!(!h.path().join("workflows/slow.toml").exists());
    assert_eq!(
        r["restore"]["moved_in"],
        serde_json::json!(["backups"]),
        "the backups stay with the home: {r}"
    );
    assert!(h.path().join("backups").join(&name).is_dir());
    assert_eq!(
        h.json(&["runs", "--json"]),
        runs_at_backup,
        "the runs at the backup"
    );
    assert_eq!(siblings(), vec![aside.clone()]);
    std::fs::remove_dir_all(&aside).unwrap();
}

#[test]
fn a_backup_killed_at_any_point_leaves_only_complete_backups() {
    let h = two_instrument_home();
    ok_at(&h, WEEK[0], &["run", "daily"]);
    let dest = h.path().join("backups");
    for point in ["file:1", "file:5", "manifest", "rename", "prune"] {
        let before = backups(&h).len();
        let out = h
            .cmd()
            .env("SYSTRADE_NOW", WEEK[1])
            .env("SYSTRADE_BACKUP__KEEP_DAILY", "2")
            .env("SYSTRADE_TEST_BACKUP_ABORT", point)
            .args(["backup"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), None, "{point}: killed: {}", stderr(&out));
        // Before the rename the set is as it was; at the prune point the new backup is there and
        // the first expired one is being deleted (no longer under its name).
        let listed = backups(&h);
        assert_eq!(listed.len(), before, "{point}: {listed:?}");
        each_verifies(&h, &listed, point);
        let finals = final_backups(&dest);
        assert_eq!(
            finals,
            listed.len(),
            "{point}: no final name without a manifest"
        );
        let v = h.json(&["backup", "list", "--json"]);
        assert_eq!(
            v["incomplete"].as_array().unwrap().len(),
            1,
            "{point}: the leftover is listed as not a backup: {v}"
        );
        // The next backup takes the leftover away.
        let v = json_at(&h, WEEK[1], &["backup", "--json"]);
        assert_eq!(
            v["backup"]["leftovers_removed"].as_array().unwrap().len(),
            1,
            "{point}: {v}"
        );
        let v = h.json(&["backup", "list", "--json"]);
        assert!(v["incomplete"].as_array().unwrap().is_empty(), "{v}");
    }
    // And real kill -9s at moments the test does not choose.
    for delay_ms in [5u64, 40, 90, 150, 250] {
        let before = backups(&h).len();
        let mut child = std::process::Command::new(crate::support::bin())
            .arg("--home")
            .arg(h.path())
            .args(["--quiet", "backup"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let listed = backups(&h);
        assert!(
            listed.len() == before || listed.len() == before + 1,
            "killed after {delay_ms} ms: {before} before, {listed:?}"
        );
        let finals = final_backups(&dest);
        assert_eq!(finals, listed.len(), "killed after {delay_ms} ms");
        each_verifies(&h, &listed, &format!("after {delay_ms} ms"));
    }
}

#[test]
fn a_full_destination_and_a_missing_share_are_refused_before_anything_is_written() {
    let h = TestHome::new();
    ok_at(&h, WEEK[0], &["run", "example"]);
    let out = h
        .cmd()
        .env("SYSTRADE_TEST_BACKUP_FREE_BYTES", "1000")
        .args(["backup"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not enough free space"),
        "{}",
        stderr(&out)
    );
    assert!(std::fs::read_dir(h.path().join("backups"))
        .unwrap()
        .all(|e| {
            !e.unwrap()
                .file_name()
                .to_string_lossy()
                .contains("systrade-backup-")
        }));
    let share = h.path().join("mnt-share");
    let out = h
        .cmd()
        .env("SYSTRADE_BACKUP__DESTINATION", &share)
        .args(["backup"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("mount the disk or share"),
        "{}",
        stderr(&out)
    );
    assert!(!share.exists());
    std::fs::create_dir(&share).unwrap();
    let out = h
        .cmd()
        .env("SYSTRADE_BACKUP__DESTINATION", &share)
        .args(["backup"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(&share).unwrap().count(),
        2,
        "the backup and the lock file"
    );
}

#[test]
fn the_backup_bench_runs_on_a_small_home() {
    let h = TestHome::new();
    let home = h.path().join("bench-home");
    let v = h.json(&[
        "bench",
        "--backup",
        "--days",
        "1",
        "--reports-home",
        &home.display().to_string(),
        "--nodes",
        "2",
        "--validate-nodes",
        "2",
        "--repeat",
        "1",
        "--json",
    ]);
    let b = &v["backup"];
    assert_eq!(b["instruments"], 32, "{v}");
    assert_eq!(b["days"], 1);
    for key in [
        "backup_seconds",
        "incremental_seconds",
        "verify_seconds",
        "restore_seconds",
    ] {
        assert!(b[key].as_f64().is_some_and(|s| s > 0.0), "{key}: {b}");
    }
    let c = &b["contents"];
    assert!(c["parquet_files"].as_u64().unwrap() > 32, "{b}");
    assert_eq!(
        c["incremental_linked"].as_u64().unwrap() + 1,
        c["files"].as_u64().unwrap(),
        "everything but the store linked: {b}"
    );
    assert_eq!(c["restored_files"], c["files"]);
    assert!(
        home.join("bench-reports.json").is_file(),
        "the home is kept"
    );
}

/// How many directories stand under a backup's final name in `dest`.
fn final_backups(dest: &std::path::Path) -> usize {
    std::fs::read_dir(dest)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("systrade-backup-")
        })
        .count()
}

/// Every backup of `listed` (`backup list --json` entries) passes `backup verify`.
fn each_verifies(h: &TestHome, listed: &[Value], when: &str) {
    for b in listed {
        let name = b["name"].as_str().unwrap();
        let out = h.run(&["backup", "verify", name]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{when}: {name}: {}",
            stdout(&out)
        );
    }
}
