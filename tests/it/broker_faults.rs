//! The simulated broker's injected faults (`[broker] sim_*` in the home's config) through the
//! real binary: a workflow whose first node asks the broker for the account value
//! (`update_total_capital`) and whose second allocates it (`update_strategy_capital`).

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{stderr, stdout, TestHome};

/// How long a run may take before the test calls it hung (a normal one takes well under 1 s).
const HANG: Duration = Duration::from_secs(60);

/// A home whose broker disconnects at its first call, with capital initialised to 1000 and one
/// strategy, and the two-node capital workflow retrying quickly.
fn home_with_a_broker_down() -> TestHome {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[broker]\nsim_disconnect_at_call = 1\n\n[strategies]\nweights = { alpha = 1.0 }\n",
    )
    .unwrap();
    h.workflow(
        "capital_check",
        r#"[workflow]
name = "capital_check"

[defaults]
retries = 2
backoff = "10ms"

[[node]]
id = "total"
task = "update_total_capital"

[[node]]
id = "allocate"
task = "update_strategy_capital"
after = ["total"]
"#,
    );
    let out = h.run(&["capital", "init", "1000", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    h
}

/// Runs `args` with a deadline; panics if it is hit (the process hung).
fn run_bounded(h: &TestHome, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let start = Instant::now();
    let out = h
        .cmd()
        .envs(envs.iter().copied())
        .args(args)
        .timeout(HANG)
        .output()
        .expect("run systrade");
    assert!(
        start.elapsed() < HANG && out.status.code().is_some(),
        "{args:?} hung or was killed: {:?}\nstderr:\n{}",
        out.status,
        stderr(&out)
    );
    out
}

/// What the capital tables hold (history, margin, strategy allocations).
fn capital_state(h: &TestHome) -> Value {
    let mut v = h.json(&["capital", "show", "--json"]);
    assert!(v["history"].is_array(), "{v}");
    // configuration, not stored state
    for k in ["base_currency", "max_change", "method"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

#[test]
fn a_broker_disconnect_fails_the_node_after_its_retries_and_changes_nothing() {
    let h = home_with_a_broker_down();
    let before = capital_state(&h);
    assert_eq!(before["history"].as_array().unwrap().len(), 1);

    let out = run_bounded(&h, &[], &["run", "capital_check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("broker disconnected: simulated disconnect") && err.contains("retrying"),
        "{err}"
    );
    assert!(
        stdout(&out).contains("total: failed")
            && stdout(&out).contains("allocate: upstream_failed"),
        "{}",
        stdout(&out)
    );

    let shown = h.json(&["show", "1", "--json"]);
    assert_eq!(shown["run"]["status"], "failed", "{shown}");
    let attempts: Vec<&Value> = shown["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["node_id"] == "total")
        .collect();
    // the first attempt and both retries, each failed by the disconnect
    assert_eq!(attempts.len(), 3, "{shown}");
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"], n as u64 + 1, "{a}");
        assert_eq!(a["status"], "failed", "{a}");
        let e = a["error"].as_str().unwrap_or_default();
        assert!(e.contains("broker disconnected"), "{a}");
    }
    let state = |node: &str| {
        shown["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node_id"] == node)
            .map(|n| n["state"].clone())
    };
    assert_eq!(state("total"), Some("failed".into()));
    assert_eq!(state("allocate"), Some("upstream_failed".into()));

    // Nothing was written: no capital entry, no margin, no allocation.
    assert_eq!(capital_state(&h), before);

    // The same run with the broker back up succeeds: the disconnect was the only failure.
    let up = [
        ("SYSTRADE_BROKER__SIM_DISCONNECT_AT_CALL", "0"),
        ("SYSTRADE_BROKER__SIM_ACCOUNT_VALUE", "1050"),
    ];
    let out = run_bounded(&h, &up, &["rerun", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = capital_state(&h);
    let history = after["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{after}");
    assert_eq!(history[1]["actual"], 1050.0);
    assert_eq!(after["strategies"][0]["capital"], 1050.0, "{after}");
}

#[test]
fn capital_update_on_a_disconnected_broker_exits_1_and_writes_nothing() {
    let h = home_with_a_broker_down();
    let before = capital_state(&h);
    let out = run_bounded(&h, &[], &["capital", "update"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("broker disconnected: simulated disconnect (call 1)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(capital_state(&h), before);
    // a fault at a later call leaves this one-call update alone
    let later = [
        ("SYSTRADE_BROKER__SIM_DISCONNECT_AT_CALL", "2"),
        ("SYSTRADE_BROKER__SIM_ACCOUNT_VALUE", "1000"),
    ];
    let out = run_bounded(&h, &later, &["capital", "update", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(capital_state(&h)["history"].as_array().unwrap().len(), 2);
}
