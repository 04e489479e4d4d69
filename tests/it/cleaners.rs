//! The cleaners (sysproduction's run_cleaners): the daily workflow's six `clean` nodes, and
//! `systrade clean [--dry-run]`, on a home that traded on two days four months apart. The old
//! day's things are made old by the clock (SYSTRADE_NOW) or, for what is stamped with the wall
//! clock (log events) or made here (kept alerts, a stack order, a running run), back-dated in
//! the file. A dry run lists exactly what a real run then deletes, and changes nothing.

use serde_json::Value;

use crate::support::{describe, TestHome};

const OLD_DAY: &str = "2024-03-01T21:00:00Z";
const NEW_DAY: &str = "2024-06-27T21:00:00Z";
/// When `clean` runs: the evening of the new day.
const CLEAN_AT: &str = "2024-06-27T22:00:00Z";

/// The six cleaner nodes of the daily workflow, in order.
const NODES: [&str; 6] = [
    "clean_run_logs",
    "clean_run_attempts",
    "clean_archived_orders",
    "clean_backtest_states",
    "clean_reports",
    "clean_kept_email",
];

/// Two instruments, and retentions so long that the daily runs' own cleaners delete nothing.
fn home() -> TestHome {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[prices]\ninstruments = [\"SP500\", \"CORN\"]\n\n[market]\nsim_start = \"2022-06-01\"\n\n\
         [logging]\nretention_days = 36500\n\n[strategies]\nbacktest_keep_days = 36500\n\n\
         [cleaners]\nrun_attempt_days = 36500\narchived_order_days = 36500\nreport_days = 36500\n\
         kept_email_days = 36500\n",
    )
    .unwrap();
    h
}

/// `args` at `now`; `short`: every retention 30 days (through the environment).
fn at(h: &TestHome, now: &str, short: bool, args: &[&str]) -> std::process::Output {
    let mut c = h.cmd();
    c.env("SYSTRADE_NOW", now);
    if short {
        for key in [
            "LOGGING__RETENTION_DAYS",
            "STRATEGIES__BACKTEST_KEEP_DAYS",
            "CLEANERS__RUN_ATTEMPT_DAYS",
            "CLEANERS__ARCHIVED_ORDER_DAYS",
            "CLEANERS__REPORT_DAYS",
            "CLEANERS__KEPT_EMAIL_DAYS",
        ] {
            c.env(format!("SYSTRADE_{key}"), "30");
        }
    }
    c.args(args).output().expect("run systrade")
}

fn json_at(h: &TestHome, now: &str, short: bool, args: &[&str]) -> Value {
    let out = at(h, now, short, args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(args, &out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs SQL on the home's store (python's sqlite3); returns the first column of every row.
fn sql(h: &TestHome, script: &str) -> Vec<String> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nrows=[]\n\
             for s in sys.argv[2].split(';'):\n  if s.strip(): rows=c.execute(s).fetchall()\n\
             c.commit()\nfor r in rows: print(r[0])",
            &h.path().join("systrade.db").display().to_string(),
            script,
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn count(h: &TestHome, query: &str) -> u64 {
    sql(h, query)[0].parse().unwrap()
}

/// Everything the cleaners could touch: the store's whole content and the files.
fn snapshot(h: &TestHome) -> (Vec<String>, Vec<String>) {
    let dump = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nfor l in sqlite3.connect(sys.argv[1]).iterdump(): print(l)",
            &h.path().join("systrade.db").display().to_string(),
        ])
        .output()
        .expect("python3");
    assert!(dump.status.success());
    let mut files = Vec::new();
    for dir in ["reports", "backtests/chapter15_equal_weights"] {
        for e in std::fs::read_dir(h.path().join(dir)).unwrap().flatten() {
            files.push(format!("{dir}/{}", e.file_name().to_string_lossy()));
        }
    }
    files.sort();
    let lines = String::from_utf8_lossy(&dump.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (lines, files)
}

fn by_kind(v: &Value) -> std::collections::BTreeMap<String, Value> {
    v["cleaned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["what"].as_str().unwrap().to_string(), c.clone()))
        .collect()
}

fn files_of(h: &TestHome, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(h.path().join(dir))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_dry_run_lists_what_a_real_run_then_deletes_and_nothing_live_goes() {
    let h = home();
    for day in [OLD_DAY, NEW_DAY] {
        let out = at(&h, day, false, &["run", "daily", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&["run"], &out));
    }
    // The daily run's cleaners ran and said what they deleted (nothing: long retentions).
    let shown = json_at(&h, CLEAN_AT, false, &["show", "2", "--json"]);
    for node in NODES {
        let attempt = shown["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["node_id"] == node)
            .unwrap_or_else(|| panic!("no {node} in {shown}"));
        assert_eq!(attempt["status"], "succeeded", "{attempt}");
        assert_eq!(attempt["output"]["count"], 0, "{attempt}");
        assert_eq!(attempt["output"]["keep_days"], 36500, "{attempt}");
    }
    // Log events carry the wall clock: the first run's become old by hand. Kept alerts, one
    // old and one recent; an order on the stack since long ago; a run still running since
    // long ago, with an attempt.
    sql(
        &h,
        "UPDATE log_events SET ts = '2024-03-01T21:00:01.000000Z' WHERE run_id = 1;
         INSERT INTO alerts (time, severity, kind, subject, body, state, send_error) VALUES
           ('2024-03-02T08:00:00.000000Z', 'critical', 'test', 'old kept', 'b', 'kept', 'refused'),
           ('2024-06-27T20:00:00.000000Z', 'critical', 'test', 'new kept', 'b', 'kept', 'refused');
         INSERT INTO instrument_orders (strategy, instrument, trade, order_type, generated_at)
           VALUES ('chapter15_equal_weights', 'CORN', 1, 'market', '2024-01-02T00:00:00.000000Z');
         INSERT INTO runs (workflow, trigger, status, started_at, pid, host, definition_path,
           definition_hash) VALUES ('w', 'manual', 'running', '2024-01-02T00:00:00.000000Z', 1,
           'elsewhere', 'w.toml', 'x');
         INSERT INTO node_attempts (run_id, node_id, execution, attempt, status, started_at)
           VALUES (3, 'n', 1, 1, 'running', '2024-01-02T00:00:00.000000Z')",
    );
    let old_logs = count(&h, "SELECT COUNT(*) FROM log_events WHERE run_id = 1");
    let new_logs = count(&h, "SELECT COUNT(*) FROM log_events WHERE run_id = 2");
    let old_attempts = count(&h, "SELECT COUNT(*) FROM node_attempts WHERE run_id = 1");
    let new_attempts = count(&h, "SELECT COUNT(*) FROM node_attempts WHERE run_id = 2");
    let old_orders = count(
        &h,
        "SELECT COUNT(*) FROM instrument_orders WHERE active = 0 AND completed_at < '2024-04'",
    );
    let old_reports: Vec<String> = files_of(&h, "reports")
        .into_iter()
        .filter(|n| n.contains("_2024-03-01."))
        .collect();
    assert!(old_logs > 0 && new_logs > 0 && old_attempts > 0 && new_attempts > 0);
    assert!(old_orders > 0, "the old day traded");
    assert_eq!(old_reports.len(), 16, "{old_reports:?}");
    let states = files_of(&h, "backtests/chapter15_equal_weights");
    assert_eq!(states.len(), 4, "two states with their configs: {states:?}");

    let before = snapshot(&h);
    let dry = json_at(&h, CLEAN_AT, true, &["clean", "--dry-run", "--json"]);
    assert_eq!(snapshot(&h), before, "a dry run changes nothing");
    let listed = by_kind(&dry);
    assert_eq!(listed.len(), 6, "{dry}");
    assert_eq!(listed["run_logs"]["count"], old_logs, "{dry}");
    assert_eq!(listed["run_attempts"]["count"], old_attempts, "{dry}");
    assert_eq!(listed["archived_orders"]["count"], old_orders, "{dry}");
    assert_eq!(listed["backtest_states"]["count"], 1, "{dry}");
    assert_eq!(listed["reports"]["count"], 16, "{dry}");
    assert_eq!(listed["kept_email"]["count"], 1, "{dry}");
    assert_eq!(
        listed["kept_email"]["oldest"], "2024-03-02T08:00:00Z",
        "{dry}"
    );
    let state_file = listed["backtest_states"]["files"][0].as_str().unwrap();
    assert!(state_file.contains("20240301T"), "{state_file}");
    for kind in listed.values() {
        assert_eq!(kind["dry_run"], true);
        assert_eq!(kind["keep_days"], 30);
    }
    let text = at(
        &h,
        CLEAN_AT,
        true,
        &["clean", "--dry-run", "--what", "reports"],
    );
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("would delete 16 report files"), "{text}");
    assert!(text.contains("nothing was deleted"), "{text}");
    assert!(
        !text.contains("run_logs"),
        "--what limits the kinds: {text}"
    );

    let real = json_at(&h, CLEAN_AT, true, &["clean", "--json"]);
    let done = by_kind(&real);
    for (kind, dry) in &listed {
        assert_eq!(done[kind]["count"], dry["count"], "{kind}: {real}");
        assert_eq!(done[kind]["files"], dry["files"], "{kind}");
        assert_eq!(done[kind]["dry_run"], false);
    }
    // Exactly the old ones went.
    assert_eq!(
        count(&h, "SELECT COUNT(*) FROM log_events WHERE run_id = 1"),
        0
    );
    assert_eq!(
        count(&h, "SELECT COUNT(*) FROM log_events WHERE run_id = 2"),
        new_logs
    );
    assert_eq!(
        count(&h, "SELECT COUNT(*) FROM node_attempts WHERE run_id = 1"),
        0
    );
    assert_eq!(
        count(&h, "SELECT COUNT(*) FROM node_attempts WHERE run_id = 2"),
        new_attempts
    );
    assert_eq!(
        count(&h, "SELECT COUNT(*) FROM node_attempts WHERE run_id = 3"),
        1,
        "a running run's attempts stay"
    );
    assert_eq!(
        count(&h, "SELECT COUNT(*) FROM runs"),
        3,
        "the runs themselves stay"
    );
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM instrument_orders WHERE completed_at < '2024-04'"
        ),
        0
    );
    assert!(
        count(
            &h,
            "SELECT COUNT(*) FROM instrument_orders WHERE completed_at > '2024-06'"
        ) > 0
    );
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM instrument_orders WHERE active = 1"
        ),
        1,
        "the order on the stack stays, however old"
    );
    let orders = &done["archived_orders"]["orders"];
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM broker_orders WHERE created_at < '2024-04'"
        ),
        0,
        "{orders}"
    );
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM order_executions WHERE executed_at < '2024-04'"
        ),
        0
    );
    assert!(orders["executions"].as_u64().unwrap() > 0, "{orders}");
    let states = files_of(&h, "backtests/chapter15_equal_weights");
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(
        states.iter().all(|s| s.starts_with("20240627T")),
        "{states:?}"
    );
    let reports = files_of(&h, "reports");
    assert_eq!(reports.len(), 16, "{reports:?}");
    assert!(
        reports.iter().all(|r| r.contains("_2024-06-27.")),
        "{reports:?}"
    );
    let alerts = sql(
        &h,
        "SELECT subject || '|' || state || '|' || COALESCE(send_error, '') FROM alerts \
         WHERE kind = 'test' ORDER BY id",
    );
    assert!(
        alerts[0].starts_with("old kept|not_sent|kept for more than 30 days"),
        "{alerts:?}"
    );
    assert!(alerts[0].ends_with("(last error: refused)"), "{alerts:?}");
    assert_eq!(alerts[1], "new kept|kept|refused");

    // Nothing is left to clean.
    let again = json_at(&h, CLEAN_AT, true, &["clean", "--json"]);
    for (kind, c) in by_kind(&again) {
        assert_eq!(c["count"], 0, "{kind}: {again}");
    }
}

#[test]
fn the_daily_workflow_has_six_cleaner_nodes_before_the_backup() {
    let h = TestHome::new();
    let out = h.run(&["dag", "daily", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&["dag"], &out));
    let dag: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = dag["nodes"].as_array().unwrap();
    let node = |id: &str| {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .unwrap_or_else(|| panic!("no node {id}"))
    };
    for id in NODES {
        let n = node(id);
        assert_eq!(n["task"], "clean", "{n}");
        assert_eq!(n["upstream"], "finished", "{n}");
        assert_eq!(n["after"], serde_json::json!(["run_stack_handler"]), "{n}");
    }
    let backup = node("run_backups");
    for id in NODES {
        assert!(
            backup["after"].as_array().unwrap().iter().any(|a| a == id),
            "run_backups runs after {id}: {backup}"
        );
    }
    assert_eq!(nodes.iter().filter(|n| n["task"] == "clean").count(), 6);
}

#[test]
fn a_clean_node_with_an_unknown_kind_is_refused_naming_the_choices() {
    let h = TestHome::new();
    h.workflow(
        "tidy",
        "[workflow]\nname = \"tidy\"\n\n[[node]]\nid = \"c\"\ntask = \"clean\"\nparams = { what = \"logs\" }\n",
    );
    let out = h.run(&["validate", "tidy"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`logs` is not one of: run_logs | run_attempts | archived_orders"),
        "{err}"
    );
    let out = h.run(&["clean", "--what", "logs"]);
    assert_eq!(out.status.code(), Some(2), "bad --what is bad input");
}
