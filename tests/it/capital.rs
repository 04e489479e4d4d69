//! `systrade capital` and the capital tasks on the simulated broker, whose account value is
//! `broker.sim_account_value` (set per command with `SYSTRADE_BROKER__SIM_ACCOUNT_VALUE`):
//! init and show, updates under full/half/fixed, the large-change guard and `confirm`,
//! deposits and withdrawals, deletes, the interactive entry point off a terminal, and the two
//! daily tasks allocating capital by weight.

use std::process::Output;

use serde_json::Value;

use crate::support::{stderr, stdout, TestHome};

/// Runs `capital ARGS` with the simulated account value `value` and optional capital method.
fn capital(h: &TestHome, value: f64, method: Option<&str>, args: &[&str]) -> Output {
    let mut c = h.cmd();
    c.env("SYSTRADE_BROKER__SIM_ACCOUNT_VALUE", value.to_string());
    if let Some(m) = method {
        c.env("SYSTRADE_CAPITAL__METHOD", m);
    }
    c.arg("capital").args(args).output().expect("run systrade")
}

fn ok(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

fn history(h: &TestHome) -> Vec<Value> {
    let v = h.json(&["capital", "show", "--json"]);
    v["history"].as_array().expect("history").clone()
}

/// (actual, max, accumulated, broker) of an entry.
fn cols(e: &Value) -> (f64, f64, f64, f64) {
    let f = |k: &str| e[k].as_f64().unwrap_or_else(|| panic!("{k} in {e}"));
    (f("actual"), f("max"), f("accumulated"), f("broker"))
}

#[test]
fn init_then_show_and_bad_input_writes_nothing() {
    let h = TestHome::new();
    let v = h.json(&["capital", "show", "--json"]);
    assert_eq!(v["history"], serde_json::json!([]));
    assert_eq!(v["method"], "full");
    assert_eq!(v["base_currency"], "USD");

    for bad in [&["init", "-5"][..], &["init", "NaN"], &["init", "abc"]] {
        let out = h.run(&[&["capital"][..], bad].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
    assert!(history(&h).is_empty());

    let v = h.json(&["capital", "init", "1000", "--json"]);
    assert_eq!(cols(&v["entry"]), (1000.0, 1000.0, 0.0, 1000.0));
    // A second init is refused; --replace starts again.
    let out = h.run(&["capital", "init", "2000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--replace"), "{}", stderr(&out));
    let v = h.json(&[
        "capital",
        "init",
        "2000",
        "--max",
        "2500",
        "--accumulated",
        "-10",
        "--replace",
        "--json",
    ]);
    assert_eq!(v["deleted"], 1);
    let all = history(&h);
    assert_eq!(all.len(), 1);
    assert_eq!(cols(&all[0]), (2000.0, 2500.0, -10.0, 2000.0));

    let text = stdout(&h.run(&["capital", "show"]));
    assert!(
        text.contains("2000.00") && text.contains("account value"),
        "{text}"
    );
}

#[test]
fn small_changes_apply_by_method() {
    // (method, (actual, max, accumulated) after +5%, then after a further -8%)
    let cases = [
        ("full", (1050.0, 1050.0, 50.0), (966.0, 966.0, -34.0)),
        ("half", (1000.0, 1000.0, 50.0), (916.0, 1000.0, -34.0)),
        ("fixed", (1000.0, 1000.0, 50.0), (1000.0, 1000.0, -34.0)),
    ];
    for (method, up, down) in cases {
        let h = TestHome::new();
        // The first update initialises from the account value.
        let v = ok(&capital(&h, 1000.0, Some(method), &["update", "--json"]));
        assert_eq!(v["initialised"], true, "{v}");
        let v = ok(&capital(&h, 1050.0, Some(method), &["update", "--json"]));
        let (a, m, acc, b) = cols(&v["entry"]);
        assert_eq!(((a, m, acc), b), (up, 1050.0), "{method}");
        assert_eq!(v["pnl"], 50.0);
        let v = ok(&capital(&h, 966.0, Some(method), &["update", "--json"]));
        let (a, m, acc, _) = cols(&v["entry"]);
        assert!(
            (a - down.0).abs() < 1e-9 && (m - down.1).abs() < 1e-9 && (acc - down.2).abs() < 1e-9,
            "{method}: {v}"
        );
        assert_eq!(history(&h).len(), 3);
        let margin = h.json(&["capital", "show", "--json"])["margin"]["margin"].clone();
        assert_eq!(margin, 0.0);
    }
}

#[test]
fn a_large_change_is_refused_until_confirmed() {
    let h = TestHome::new();
    ok(&capital(&h, 1000.0, None, &["init", "1000", "--json"]));
    // Exactly 10% is taken.
    ok(&capital(&h, 1100.0, None, &["update", "--json"]));
    let out = capital(&h, 1300.0, None, &["update"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("large capital change") && err.contains("systrade capital confirm"),
        "{err}"
    );
    assert_eq!(history(&h).len(), 2, "nothing written");

    let v = ok(&capital(&h, 1300.0, None, &["confirm", "--json"]));
    assert_eq!(v["large_change_confirmed"], true);
    assert_eq!(cols(&v["entry"]), (1300.0, 1300.0, 300.0, 1300.0));
    // --confirm-large does the same.
    let v = ok(&capital(
        &h,
        100.0,
        None,
        &["update", "--confirm-large", "--json"],
    ));
    assert_eq!(cols(&v["entry"]).0, 100.0);
    assert_eq!(history(&h).len(), 4);
}

#[test]
fn the_daily_task_fails_on_a_large_change_and_writes_nothing() {
    let h = TestHome::new();
    ok(&capital(&h, 1000.0, None, &["init", "1000", "--json"]));
    let out = h
        .cmd()
        .env("SYSTRADE_BROKER__SIM_ACCOUNT_VALUE", "5000")
        .args([
            "trigger",
            "daily",
            "update_strategy_capital",
            "--with-upstream",
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let shown = h.json(&["show", "1", "--json"]);
    let attempts = shown["attempts"].as_array().unwrap();
    let total: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["node_id"] == "update_total_capital")
        .collect();
    assert_eq!(total.len(), 1, "not retried: {shown}");
    assert!(
        total[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("systrade capital confirm"),
        "{shown}"
    );
    assert_eq!(history(&h).len(), 1);
    let logs = stdout(&h.run(&["logs", "--run", "1", "--level", "error"]));
    assert!(logs.contains("large capital change"), "{logs}");
}

#[test]
fn a_large_change_in_the_daily_task_raises_a_capital_change_alert() {
    let h = TestHome::new();
    ok(&capital(&h, 1000.0, None, &["init", "1000", "--json"]));
    let out = h
        .cmd()
        .env("SYSTRADE_BROKER__SIM_ACCOUNT_VALUE", "1250")
        .args(["trigger", "daily", "update_total_capital"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let alerts = h.json(&["alerts", "--json"])["alerts"]
        .as_array()
        .unwrap()
        .clone();
    let kinds: Vec<&str> = alerts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    // Its own alert, and the node still fails as before.
    assert_eq!(kinds, ["capital_change", "node_failed"], "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(
        (&a["severity"], &a["node"]),
        (
            &Value::from("critical"),
            &Value::from("update_total_capital")
        )
    );
    assert!(
        a["subject"]
            .as_str()
            .unwrap()
            .contains("+25.00% (limit 10.00%)"),
        "{a}"
    );
    let body = a["body"].as_str().unwrap();
    for part in [
        "from 1000.00 to 1250.00 USD (+25.00%)",
        "capital.max_change (10.00%)",
        "`systrade capital confirm`",
        "systrade capital adjust",
    ] {
        assert!(body.contains(part), "{part:?} not in:\n{body}");
    }
    assert_eq!(history(&h).len(), 1, "nothing written");
    // Accepted as the alert says, the next update goes through without another alert.
    ok(&capital(&h, 1250.0, None, &["confirm", "--json"]));
    let out = h
        .cmd()
        .env("SYSTRADE_BROKER__SIM_ACCOUNT_VALUE", "1260")
        .args(["trigger", "daily", "update_total_capital"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let n = h.json(&["alerts", "--json"])["alerts"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(n, 2);
}

#[test]
fn deposits_and_withdrawals_are_not_pnl() {
    let h = TestHome::new();
    ok(&capital(&h, 1000.0, None, &["init", "1000", "--json"]));
    let v = h.json(&["capital", "adjust", "--withdraw", "300", "--json"]);
    assert_eq!(cols(&v["entry"]), (1000.0, 1000.0, 0.0, 700.0));
    // The account now holds 700 + 10 of profit: a small change, p&l 10.
    let v = ok(&capital(&h, 710.0, None, &["update", "--json"]));
    assert_eq!(cols(&v["entry"]), (1010.0, 1010.0, 10.0, 710.0));
    let v = h.json(&["capital", "adjust", "--deposit", "90", "--json"]);
    assert_eq!(cols(&v["entry"]).3, 800.0);
    for bad in [
        &["--deposit", "-1"][..],
        &["--withdraw", "0"],
        &["--withdraw", "5000"],
        &["--deposit", "inf"],
    ] {
        let out = h.run(&[&["capital", "adjust"][..], bad].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
    assert_eq!(history(&h).len(), 4);
    // Without capital there is nothing to adjust.
    let empty = TestHome::new();
    let out = empty.run(&["capital", "adjust", "--deposit", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no total capital"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn delete_needs_yes_off_a_terminal() {
    let h = TestHome::new();
    ok(&capital(&h, 1000.0, None, &["init", "1000", "--json"]));
    ok(&capital(&h, 1010.0, None, &["update", "--json"]));
    let out = h.run(&["capital", "delete", "--last"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(history(&h).len(), 2);
    let out = h.run(&["capital", "delete"]);
    assert_eq!(out.status.code(), Some(2), "--last or --all is required");

    let v = h.json(&["capital", "delete", "--last", "--yes", "--json"]);
    assert_eq!(v["deleted"], 1);
    assert_eq!(cols(&history(&h)[0]).0, 1000.0);
    ok(&capital(&h, 1020.0, None, &["update", "--json"]));
    let v = h.json(&["capital", "delete", "--all", "--yes", "--json"]);
    assert_eq!(v["deleted"], 2);
    assert!(history(&h).is_empty());
}

#[test]
fn without_a_subcommand_off_a_terminal_help_and_exit_2() {
    let h = TestHome::new();
    let out = h.run(&["capital"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("systrade capital") && err.contains("confirm"),
        "{err}"
    );
}

#[test]
fn the_daily_capital_tasks_allocate_by_weight() {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[strategies]\nweights = { alpha = 1.0, beta = 3.0 }\n",
    )
    .unwrap();
    // No total capital yet: the allocation alone fails.
    let out = h.run(&["trigger", "daily", "update_strategy_capital"]);
    assert_ne!(out.status.code(), Some(0));

    let out = h
        .cmd()
        .env("SYSTRADE_BROKER__SIM_ACCOUNT_VALUE", "400000")
        .args([
            "trigger",
            "daily",
            "update_strategy_capital",
            "--with-upstream",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = h.json(&["capital", "strategies", "--json"]);
    assert_eq!(v["total_capital"]["actual"], 400000.0);
    let got: Vec<(String, f64)> = v["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["strategy"].as_str().unwrap().to_string(),
                s["recorded"]["capital"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("alpha".to_string(), 100000.0),
            ("beta".to_string(), 300000.0)
        ]
    );
    let beta = h.json(&["capital", "strategies", "beta", "--json"]);
    assert_eq!(beta["history"].as_array().unwrap().len(), 1);
    let out = h.run(&["capital", "strategies", "betta"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("beta"), "{}", stderr(&out));
    let shown = h.json(&["capital", "show", "--json"]);
    assert_eq!(shown["strategies"].as_array().unwrap().len(), 2);
}
