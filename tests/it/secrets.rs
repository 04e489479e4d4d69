//! Secrets are masked wherever they could appear: a value the config marks secret (here the IB
//! account id) that a task prints, fails with, or puts in its output is `***` in the terminal,
//! the run store (logs, node errors, outputs), `show`, `logs`, and the backup.

use crate::support::{stderr, stdout, TestHome};

const ACCOUNT: &str = "DU7654321";

#[test]
fn the_ib_account_id_never_leaves_the_process() {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        format!("[broker]\nib_account = \"{ACCOUNT}\"\n"),
    )
    .unwrap();
    h.workflow(
        "leaky",
        &format!(
            "[workflow]\nname = \"leaky\"\n\
             [[node]]\nid = \"talk\"\ntask = \"shell\"\n\
             params = {{ script = 'echo \"account {ACCOUNT} connected\"; echo \"{{\\\"account\\\": \\\"{ACCOUNT}\\\"}}\" > \"$SYSTRADE_OUTPUT\"' }}\n\
             [[node]]\nid = \"fail\"\ntask = \"fail\"\nretries = 0\nafter = [\"talk\"]\n\
             params = {{ message = \"no NetLiquidation for account {ACCOUNT}\" }}\n\
             [[node]]\nid = \"backup\"\ntask = \"run_backups\"\nafter = [\"fail\"]\nupstream = \"finished\"\n"
        ),
    );
    let out = h.run(&["run", "leaky"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut seen = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        seen.contains("account *** connected"),
        "the log line is there, masked: {seen}"
    );
    for args in [
        vec!["show", "1", "--json"],
        vec!["show", "1"],
        vec!["logs", "--run", "1"],
        vec!["runs", "--json"],
        vec!["config", "show"],
    ] {
        let out = h.run(&args);
        seen.push_str(&stdout(&out));
        seen.push_str(&stderr(&out));
    }
    assert!(seen.contains("no NetLiquidation for account ***"), "{seen}");
    assert!(!seen.contains(ACCOUNT), "the account id leaked: {seen}");
    // Nothing in the home's files either (the run store, its WAL, the backup).
    for entry in walk(h.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        let hit = bytes
            .windows(ACCOUNT.len())
            .any(|w| w == ACCOUNT.as_bytes());
        let is_config = entry.ends_with("config.toml") || entry.ends_with("leaky.toml");
        assert!(
            !hit || is_config,
            "{} holds the account id",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
