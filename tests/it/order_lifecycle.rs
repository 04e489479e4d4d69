//! Issue 14, through the real binary on the demo's home: a rejected order waits its backoff
//! and is sent a bounded number of times, with a warning; a STOP or SIGTERM cancels the
//! handler's working broker orders; a stack handler beside a live one leaves it the orders.

use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::execution::{node, run_json, show, spawn, wait_exit, wf};
use crate::order_crash::rows;
use crate::support::{describe, json_of, ok, stderr, TestHome};

/// The demo's home (its orders done) with `execution` keys added to its config's
/// `[execution]` section (the demo's: poll_seconds = 0.2).
fn demo_home(execution: &str) -> TestHome {
    let h = TestHome::new();
    ok(&h, &["demo"]);
    let path = h.path().join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.contains("[execution]\n"), "{text}");
    let text = text.replacen("[execution]\n", &format!("[execution]\n{execution}"), 1);
    std::fs::write(&path, text).unwrap();
    h
}

fn trade(h: &TestHome, instrument: &str, extra: &[&str]) {
    let mut args = vec![
        "orders",
        "trade",
        "--strategy",
        "demo",
        "--instrument",
        instrument,
        "--quantity",
        "2",
    ];
    args.extend_from_slice(extra);
    ok(h, &args);
}

fn broker_orders(h: &TestHome) -> Vec<Value> {
    json_of(h, &["orders", "list", "--stack", "broker", "--json"])["broker_orders"]
        .as_array()
        .expect("broker orders")
        .clone()
}

/// Orders the simulated broker still works.
fn working_at_the_broker(h: &TestHome) -> Vec<Vec<String>> {
    rows(
        h,
        "SELECT broker_id, instrument, status FROM sim_orders WHERE status IN ('submitted', 'partially_filled')",
    )
}

#[test]
fn a_rejected_order_waits_its_backoff_and_is_sent_a_bounded_number_of_times() {
    let h = demo_home("reject_backoff_seconds = 0.5\nmax_reject_tries = 3\n");
    wf(
        &h,
        "handle",
        "[[node]]\nid = \"stack_handler\"\ntask = \"run_stack_handler\"\nretries = 0\n\
         params = { until_idle = false, max_seconds = 3 }\n",
    );
    trade(&h, "SP500", &["--type", "market"]);
    let before = rows(
        &h,
        "SELECT COUNT(*) FROM sim_orders WHERE instrument = 'SP500'",
    )[0][0]
        .parse::<i64>()
        .unwrap();
    let mut c = h.cmd();
    c.env("SYSTRADE_BROKER__SIM_REJECT_ORDERS", "true")
        .args(["run", "handle", "--json"]);
    let out = c.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        describe(&["run", "handle"], &out)
    );
    // ~60 passes in 3 s, but only three submissions: the first and two tries after backoffs.
    let sent = rows(
        &h,
        "SELECT COUNT(*) FROM sim_orders WHERE instrument = 'SP500'",
    )[0][0]
        .parse::<i64>()
        .unwrap()
        - before;
    assert_eq!(sent, 3, "submissions to the broker");
    let rejected: Vec<Value> = broker_orders(&h)
        .into_iter()
        .filter(|b| b["instrument"] == "SP500")
        .collect();
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    for b in &rejected {
        assert_eq!(b["status"], "rejected", "{b}");
        assert!(
            b["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("injected fault"),
            "{b}"
        );
    }
    // The run's output says so, naming the instrument, the orders and what happens next.
    let run: Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = show(&h, run["run_id"].as_i64().unwrap());
    let warnings = node(&s, "stack_handler")["output"]["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{s}");
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.starts_with("SP500: broker orders ")
            && w.contains("injected fault")
            && w.contains("will not be sent again after 3 tries"),
        "{w}"
    );
    assert!(
        stderr(&out).contains("will not be sent again"),
        "{}",
        stderr(&out)
    );
    // The table shows the reason.
    let table = ok(&h, &["orders", "list", "--stack", "broker"]);
    assert!(
        table.contains("reason") && table.contains("injected fault"),
        "{table}"
    );

    // A later run does not send it again either (the tries are stored), and stops at once.
    let t0 = Instant::now();
    let out = h.cmd().args(["run", "handle"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(t0.elapsed() < Duration::from_secs(10));
    let after = rows(
        &h,
        "SELECT COUNT(*) FROM sim_orders WHERE instrument = 'SP500'",
    )[0][0]
        .parse::<i64>()
        .unwrap();
    assert_eq!(after - before, 3, "no fourth submission");
}

/// A home whose stack handler works a buy limit far below the market (it never fills), and
/// the runner, once the order is at the broker.
fn handler_with_a_working_order() -> (TestHome, Child) {
    let h = demo_home("");
    wf(
        &h,
        "trading",
        "[[node]]\nid = \"stack_handler\"\ntask = \"run_stack_handler\"\nretries = 0\n\
         params = { until_idle = false, max_seconds = 120 }\n",
    );
    trade(&h, "SP500", &["--type", "limit", "--limit-price", "1"]);
    let child = spawn(&h, &["run", "trading"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while working_at_the_broker(&h).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the order never reached the broker"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (h, child)
}

fn assert_cancelled_on_the_way_out(h: &TestHome, child: &mut Child, what: &str, code: i32) {
    let t0 = Instant::now();
    let status = wait_exit(child, Duration::from_secs(30));
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "{what}: took {:?}",
        t0.elapsed()
    );
    assert_eq!(status.code(), Some(code), "{what}");
    assert_eq!(
        working_at_the_broker(h),
        Vec::<Vec<String>>::new(),
        "{what}: left working"
    );
    let orders = broker_orders(h);
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["status"], "cancelled", "{what}: {}", orders[0]);
    assert!(
        orders[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("stack handler stopped"),
        "{}",
        orders[0]
    );
    let runs = json_of(h, &["runs", "--json"]);
    let s = show(h, runs[0]["id"].as_i64().unwrap());
    let err = node(&s, "stack_handler")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(err.contains("1 broker orders cancelled"), "{what}: {err}");
    assert_eq!(node(&s, "stack_handler")["state"], "cancelled");
    // The next start sends the leg again (the contract order is still on the stack).
    let contract = json_of(h, &["orders", "list", "--stack", "contract", "--json"]);
    assert_eq!(
        contract["contract_orders"].as_array().map(Vec::len),
        Some(1),
        "{contract}"
    );
}

#[test]
fn stop_cancels_the_handlers_working_orders() {
    let (h, mut child) = handler_with_a_working_order();
    ok(&h, &["control", "trading", "stop"]);
    assert_cancelled_on_the_way_out(&h, &mut child, "STOP", 1);
}

#[test]
fn sigterm_cancels_the_handlers_working_orders() {
    let (h, mut child) = handler_with_a_working_order();
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    // 130: interrupted (the runner's exit code for Ctrl-C and SIGTERM)
    assert_cancelled_on_the_way_out(&h, &mut child, "SIGTERM", 130);
}

#[test]
fn a_daily_stack_handler_beside_a_live_one_leaves_it_the_orders() {
    let (h, mut child) = handler_with_a_working_order();
    wf(
        &h,
        "batch",
        "[[node]]\nid = \"run_stack_handler\"\ntask = \"run_stack_handler\"\nretries = 0\n\
         params = { max_seconds = 300, passive_timeout_seconds = 2, defer_to_running = true }\n",
    );
    trade(&h, "GOLD", &["--type", "market"]);
    let (code, v) = run_json(&h, &["run", "batch"]);
    assert_eq!(code, 0, "{v}");
    let s = show(&h, v["run_id"].as_i64().unwrap());
    let out = &node(&s, "run_stack_handler")["output"];
    assert_eq!(out["deferred"], true, "{out}");
    assert!(
        out["message"]
            .as_str()
            .unwrap_or_default()
            .contains("another stack handler is running"),
        "{out}"
    );
    let log = ok(&h, &["logs", "--run", &v["run_id"].to_string()]);
    assert!(log.contains("left to it"), "{log}");
    // The GOLD order is left on the stack for the live handler, which trades it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let history = json_of(&h, &["orders", "list", "--history", "--json"]);
        let done = history["instrument_orders"]
            .as_array()
            .expect("history")
            .iter()
            .any(|o| o["instrument"] == "GOLD" && o["manual"] == true);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the live handler did not trade GOLD"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    ok(&h, &["control", "trading", "stop"]);
    wait_exit(&mut child, Duration::from_secs(30));
}

#[test]
fn a_long_wait_says_what_it_waits_for() {
    let h = demo_home("");
    wf(
        &h,
        "patient",
        "[[node]]\nid = \"stack_handler\"\ntask = \"run_stack_handler\"\nretries = 0\n\
         params = { max_seconds = 60, passive_timeout_seconds = 7 }\n",
    );
    trade(&h, "SP500", &[]);
    let (code, v) = run_json(&h, &["run", "patient"]);
    assert_eq!(code, 0, "{v}");
    let log = ok(&h, &["logs", "--run", &v["run_id"].to_string()]);
    assert!(
        log.contains("stack handler waits: 1 instrument orders on the stack, 1 broker orders working; the first passive limit goes aggressive in"),
        "{log}"
    );
    assert!(log.contains("s left of max_seconds"), "{log}");
    // It went aggressive and filled after the 7 s (the total time-out did not cut it short).
    let s = show(&h, v["run_id"].as_i64().unwrap());
    let report = &node(&s, "stack_handler")["output"]["report"];
    assert_eq!(report["sent"], 1, "{report}");
    assert_eq!(report["fills"], 1, "{report}");
}

#[test]
fn bad_rejection_settings_are_refused_naming_the_key() {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[execution]\nreject_backoff_seconds = -1\nmax_reject_tries = 0\n",
    )
    .unwrap();
    let out = h.run(&["config", "show"]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("execution.reject_backoff_seconds")
            && err.contains("execution.max_reject_tries"),
        "{err}"
    );
    std::fs::write(
        h.path().join("config.toml"),
        "[execution]\nmax_reject_tries = 5\n",
    )
    .unwrap();
    let shown = ok(&h, &["config", "show"]);
    assert!(
        shown.contains("max_reject_tries") && shown.contains("reject_backoff_seconds"),
        "{shown}"
    );
}
