//! Kill tests of the journey of an order: after `systrade demo` (prices, positions, filled
//! orders on the simulated broker), two manual orders (a market order and a best-execution
//! order) go on the stack and the stack handler is aborted — as `kill -9` would — at one step
//! boundary (`SYSTRADE_ABORT_AT`); the handler is then run again. Whatever the step: no broker
//! order is sent twice, no fill is lost or counted twice, both orders end filled and archived,
//! and strategy, contract and broker positions agree.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{describe, json_of, ok, stderr, stdout, TestHome};

const HANDLE: &str = r#"
[workflow]
name = "handle"

[[node]]
id = "stack_handler"
task = "run_stack_handler"
retries = 0
params = { max_seconds = 30 }
"#;

/// The demo's home, with its orders done, and two manual orders on the stack.
fn home_with_orders() -> TestHome {
    let h = TestHome::new();
    ok(&h, &["demo"]);
    h.workflow("handle", HANDLE);
    let positions = json_of(&h, &["positions", "--json"]);
    assert!(
        !positions["contract_positions"]
            .as_array()
            .expect("positions")
            .is_empty(),
        "the demo traded"
    );
    ok(
        &h,
        &[
            "orders",
            "trade",
            "--strategy",
            "demo",
            "--instrument",
            "SP500",
            "--quantity",
            "2",
            "--type",
            "market",
        ],
    );
    ok(
        &h,
        &[
            "orders",
            "trade",
            "--strategy",
            "demo",
            "--instrument",
            "GOLD",
            "--quantity",
            "-1",
        ],
    );
    h
}

/// Every row of `sql` from the home's database, as text columns.
pub(crate) fn rows(h: &TestHome, sql: &str) -> Vec<Vec<String>> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        use sqlx::Row;
        let url = format!("sqlite://{}", h.path().join("systrade.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.expect("db");
        let out = sqlx::query(sql)
            .fetch_all(&pool)
            .await
            .expect("query")
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.try_get::<String, _>(i)
                            .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        pool.close().await;
        out
    })
}

fn assert_consistent(h: &TestHome, step: &str) {
    // Nothing left on the stacks; the two manual orders filled.
    let active = json_of(h, &["orders", "list", "--json"]);
    for stack in ["instrument_orders", "contract_orders", "broker_orders"] {
        assert_eq!(active[stack], serde_json::json!([]), "{step}: {stack} left");
    }
    let history = json_of(h, &["orders", "list", "--history", "--json"]);
    let manual: Vec<&Value> = history["instrument_orders"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|o| o["manual"] == true)
        .collect();
    assert_eq!(manual.len(), 2, "{step}: {history}");
    for o in &manual {
        assert_eq!(o["fill"], o["trade"], "{step}: {o}");
    }
    // No broker order sent twice: ours and the broker's are the same set, none refused.
    let ours = rows(
        h,
        "SELECT order_ref, status, fill FROM broker_orders WHERE order_type <> 'balance' ORDER BY order_ref",
    );
    let theirs = rows(h, "SELECT order_ref FROM sim_orders ORDER BY order_ref");
    let our_refs: Vec<&String> = ours.iter().map(|r| &r[0]).collect();
    let their_refs: Vec<&String> = theirs.iter().map(|r| &r[0]).collect();
    assert_eq!(our_refs, their_refs, "{step}: broker orders differ");
    assert!(
        ours.iter().all(|r| r[1] != "rejected"),
        "{step}: an order was refused: {ours:?}"
    );
    // No fill lost or counted twice: our booked fills are the broker's executions.
    let booked = rows(
        h,
        "SELECT b.instrument, b.contract, SUM(e.quantity) FROM order_executions e
         JOIN broker_orders b ON b.id = e.broker_order_id GROUP BY b.instrument, b.contract",
    );
    let executed = rows(
        h,
        "SELECT instrument, contract, SUM(quantity) FROM sim_executions GROUP BY instrument, contract",
    );
    let as_map = |r: &[Vec<String>]| -> BTreeMap<(String, String), String> {
        r.iter()
            .map(|x| ((x[0].clone(), x[1].clone()), x[2].clone()))
            .collect()
    };
    assert_eq!(
        as_map(&booked),
        as_map(&executed),
        "{step}: fills booked vs executed"
    );
    let duplicates = rows(
        h,
        "SELECT exec_id FROM sim_executions GROUP BY exec_id HAVING COUNT(*) > 1",
    );
    assert!(duplicates.is_empty(), "{step}: {duplicates:?}");
    // Strategy, contract and broker positions agree; nothing locked.
    let positions = json_of(h, &["positions", "--json"]);
    assert_eq!(positions["broker_error"], Value::Null, "{step}");
    assert_eq!(
        positions["breaks"],
        serde_json::json!({"external": [], "internal": []}),
        "{step}: {positions}"
    );
    assert_eq!(positions["locks"], serde_json::json!([]), "{step}");
}

/// Aborts the stack handler at `step`, runs it again, and checks everything agrees.
fn killed_at(step: &str) {
    let h = home_with_orders();
    let out = h
        .cmd()
        .env("SYSTRADE_ABORT_AT", step)
        .args(["run", "handle"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        None,
        "{step}: the handler should have been killed\n{}",
        describe(&["run", "handle"], &out)
    );
    assert!(stderr(&out).contains("aborting at"), "{}", stderr(&out));
    ok(&h, &["run", "handle"]);
    assert_consistent(&h, step);
}

#[test]
fn killed_after_spawning_contract_orders() {
    killed_at("after_spawn");
}

#[test]
fn killed_after_writing_a_broker_order_before_sending_it() {
    killed_at("after_broker_order_written");
}

#[test]
fn killed_after_the_broker_took_the_order_before_it_was_recorded() {
    killed_at("after_order_sent");
}

#[test]
fn killed_after_recording_the_sent_order() {
    killed_at("after_order_recorded");
}

#[test]
fn killed_after_booking_a_fill() {
    killed_at("after_fill_applied");
}

#[test]
fn killed_after_archiving_completed_orders() {
    killed_at("after_complete");
}

#[test]
fn killed_at_the_second_fill() {
    killed_at("after_fill_applied:2");
}

#[test]
fn a_broker_that_cannot_be_read_trades_nothing() {
    let h = home_with_orders();
    let out = h
        .cmd()
        .env("SYSTRADE_BROKER__SIM_DISCONNECT_AT_CALL", "1")
        .args(["run", "handle"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        describe(&["run", "handle"], &out)
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("disconnected"), "{text}");
    let active = json_of(&h, &["orders", "list", "--json"]);
    assert_eq!(
        active["instrument_orders"].as_array().map(Vec::len),
        Some(2),
        "the orders wait"
    );
    assert_eq!(
        active["broker_orders"],
        serde_json::json!([]),
        "nothing sent"
    );
    // With the broker back, they go through.
    ok(&h, &["run", "handle"]);
    assert_consistent(&h, "after the broker came back");
}
