//! A damaged run store is refused, never re-initialised: an empty, non-SQLite, truncated or
//! foreign `systrade.db` stops every command with the file, the damage and the repair named, and
//! the file left byte for byte; a missing store in a home that was in use is refused too; only
//! `systrade init` moves a damaged store aside and starts a new one.

use serde_json::Value;

use crate::support::{stderr, TestHome};

/// A home whose run store exists (created by a first command) and has a backup.
fn used_home() -> TestHome {
    let h = TestHome::new();
    let out = h.run(&["run", "example"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = h.run(&["trigger", "daily", "run_backups"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(h
        .path()
        .join("backups")
        .read_dir()
        .unwrap()
        .next()
        .is_some());
    h
}

/// Every command refuses the store at `db`, naming it, the damage and the backup to restore;
/// the file is left as it was.
fn refused(h: &TestHome, damage: &str) {
    let db = h.path().join("systrade.db");
    let before = std::fs::read(&db).unwrap();
    for args in [vec!["run", "example"], vec!["status"], vec!["runs"]] {
        let out = h.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&db.display().to_string()), "{args:?}: {err}");
        assert!(err.contains(damage), "{args:?}: {err}");
        assert!(err.contains("Nothing was changed"), "{err}");
        assert!(
            err.contains("backups/systrade-backup-")
                && err.contains("systrade restore")
                && err.contains("--home NEW")
                && err.contains("systrade init"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "{args:?} left the file unchanged"
        );
    }
}

fn remove_wal(h: &TestHome) {
    for side in ["systrade.db-wal", "systrade.db-shm"] {
        let _ = std::fs::remove_file(h.path().join(side));
    }
}

#[test]
fn an_empty_store_is_refused() {
    let h = used_home();
    remove_wal(&h);
    std::fs::write(h.path().join("systrade.db"), b"").unwrap();
    refused(&h, "is empty (0 bytes)");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused() {
    let h = used_home();
    remove_wal(&h);
    std::fs::write(h.path().join("systrade.db"), b"{\"not\": \"a database\"}\n").unwrap();
    refused(&h, "is not a SQLite database");
}

#[test]
fn a_truncated_store_is_refused() {
    let h = used_home();
    let db = h.path().join("systrade.db");
    // Move the WAL's pages into the file, then cut the file.
    let done = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')",
            &db.display().to_string(),
        ])
        .status()
        .expect("python3");
    assert!(done.success());
    remove_wal(&h);
    let bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192);
    std::fs::write(&db, &bytes[..4096]).unwrap();
    refused(&h, "is truncated");
}

#[test]
fn a_database_of_another_program_is_refused() {
    let h = used_home();
    remove_wal(&h);
    let db = h.path().join("systrade.db");
    std::fs::remove_file(&db).unwrap();
    let made = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE songs (id INTEGER)'); c.commit()",
            &db.display().to_string(),
        ])
        .status()
        .expect("python3");
    assert!(made.success());
    refused(&h, "a SQLite database of another program (tables songs)");
}

#[test]
fn a_missing_store_in_a_used_home_is_refused_and_init_starts_a_new_one() {
    let h = used_home();
    remove_wal(&h);
    std::fs::remove_file(h.path().join("systrade.db")).unwrap();
    let out = h.run(&["run", "example"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("is missing, but this home holds 1 backups"),
        "{err}"
    );
    assert!(
        err.contains("to start a new, empty run store beside the existing data"),
        "{err}"
    );
    assert!(!h.path().join("systrade.db").exists(), "nothing created");
    let out = h.run(&["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(h.run(&["run", "example"]).status.code(), Some(0));
}

#[test]
fn init_moves_a_damaged_store_aside() {
    let h = used_home();
    remove_wal(&h);
    std::fs::write(h.path().join("systrade.db"), b"garbage").unwrap();
    let out = h.run(&["init", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let moved = v["damaged_store_moved"].as_str().unwrap_or_default();
    assert!(moved.contains("moved aside to"), "{v}");
    let aside: Vec<_> = std::fs::read_dir(h.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("systrade.db.damaged-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read(aside[0].path()).unwrap(),
        b"garbage",
        "kept as it was"
    );
    assert_eq!(h.run(&["run", "example"]).status.code(), Some(0));
}

#[test]
fn a_store_of_a_newer_systrade_is_refused_by_every_command_and_left_unchanged() {
    let h = used_home();
    // The WAL is kept: the last command may have left its commits there (it is read and, when
    // python's connection closes, checkpointed into the file and removed).
    let db = h.path().join("systrade.db");
    let made = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (29991231000099, 'future', 1, x'00', 0)\"); c.commit()",
            &db.display().to_string(),
        ])
        .status()
        .expect("python3");
    assert!(made.success());
    let before = std::fs::read(&db).unwrap();
    for args in [
        vec!["status"],
        vec!["run", "example"],
        vec!["init"],
        vec!["runs"],
    ] {
        let out = h.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("was written by a newer systrade (schema 29991231000099 > ")
                && err.contains("upgrade systrade")
                && err.contains(&db.display().to_string()),
            "{args:?}: {err}"
        );
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "{args:?} left it unchanged"
        );
        assert!(!h.path().join("systrade.db-wal").exists(), "{args:?}");
    }
}
