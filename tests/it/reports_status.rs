//! The status report: on a home whose daily run just succeeded nothing is late and what is in
//! force is listed (an override, a position limit, a lock); five days later the workflow, the
//! prices, the FX rates and the optimal positions are all late.

use serde_json::Value;

use crate::reports::{table_rows as table, text_items, traded_home};
use crate::support::{stderr, stdout, TestHome};

const FRIDAY: &str = "2024-06-28T23:30:00Z";

fn report_at(h: &TestHome, now: &str) -> Value {
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", now)
        .args(["report", "status", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

#[test]
fn status_lists_what_is_late_and_what_is_in_force() {
    let h = traded_home();
    for args in [
        &["overrides", "set", "--instrument", "CORN", "reduce-only"][..],
        &["limits", "set", "--instrument", "SP500", "1"][..],
    ] {
        let out = h
            .cmd()
            .env("SYSTRADE_NOW", FRIDAY)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }

    let v = report_at(&h, "2024-06-28T23:50:00Z");
    let text = text_items(&v);
    assert!(
        text.contains("0 workflow(s) late, 0 instrument(s) with late prices, 0 late FX rate(s), 0 late optimal position(s)"),
        "{text}"
    );
    assert!(text.contains("1 override(s)"), "{text}");
    assert!(table(&v, "late_workflows").is_none(), "{v:#}");
    let workflows = table(&v, "workflows").unwrap();
    let daily = workflows.iter().find(|r| r[0] == "daily").unwrap();
    assert_eq!(daily[1], "go");
    assert_eq!(daily[3], "succeeded");
    let prices = table(&v, "price_updates").unwrap();
    let held: Vec<(&str, i64)> = prices
        .iter()
        .map(|r| (r[0].as_str().unwrap(), r[3].as_i64().unwrap()))
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(
        held.iter().any(|(_, n)| *n != 0),
        "the day's fills are held: {held:?}"
    );
    let nodes = table(&v, "nodes").unwrap();
    assert!(nodes
        .iter()
        .any(|r| r[2] == "run_stack_handler" && r[4] == "succeeded"));
    let limits = table(&v, "position_limits").unwrap();
    assert_eq!(limits.len(), 1);
    assert_eq!(limits[0][1], "1");
    let overrides = table(&v, "overrides").unwrap();
    assert!(
        overrides[0][1].as_str().unwrap().contains("reduce"),
        "{overrides:?}"
    );

    // Five days later: everything is late.
    let v = report_at(&h, "2024-07-03T23:50:00Z");
    let late = table(&v, "late_workflows").expect("the daily workflow is late");
    assert!(late.iter().any(|r| r[0] == "daily"), "{late:?}");
    let prices = table(&v, "price_updates").unwrap();
    assert!(prices.iter().all(|r| r[4] == "LATE"), "{prices:?}");
    let optimal = table(&v, "optimal_updates").unwrap();
    assert!(!optimal.is_empty() && optimal.iter().all(|r| r[5] == "LATE"));
    assert!(
        text_items(&v).contains("2 instrument(s) with late prices"),
        "{}",
        text_items(&v)
    );
}

/// The daily status report node raises a critical alert for stale prices and optimal positions
/// on a trading day, and none at the weekend.
#[test]
fn the_status_node_alerts_on_stale_data_on_a_trading_day() {
    let h = traded_home();
    let alerts = |h: &TestHome| -> Vec<Value> {
        let out = h.run(&["alerts", "--all", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "stale_data")
            .cloned()
            .collect()
    };
    let trigger = |now: &str| {
        let out = h
            .cmd()
            .env("SYSTRADE_NOW", now)
            .args(["trigger", "daily", "report_status"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{now}: {}", stderr(&out));
    };
    trigger("2024-06-28T23:50:00Z");
    assert!(alerts(&h).is_empty(), "fresh data: no alert");
    trigger("2024-07-06T12:00:00Z");
    assert!(alerts(&h).is_empty(), "a Saturday: no alert");
    trigger("2024-07-03T23:50:00Z");
    let stale = alerts(&h);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0]["severity"], "critical");
    let body = stale[0]["body"].as_str().unwrap();
    assert!(
        body.contains("prices older than 3 days: CORN, SP500"),
        "{body}"
    );
    assert!(
        body.contains("optimal positions older than 3 days"),
        "{body}"
    );
}
