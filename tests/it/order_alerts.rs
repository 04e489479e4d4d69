//! The stack handler's critical alerts end to end, on a home whose daily workflow traded
//! (`reports::traded_home`): the simulated broker's stored state (migration
//! `*_sim_broker.sql`, which it reloads in every process) is changed as reality could change
//! it, then the stack handler runs again through the binary.
//!
//! - Someone trades by hand at the broker (its position changes): one `position_break` alert
//!   naming the instrument, which is locked (`systrade positions`); a second run raises no
//!   second alert.
//! - The broker reports one more execution for a broker order that had filled (an over-fill):
//!   one `overfill` alert, the instrument locked, positions following the broker (no break);
//!   the execution is applied once, so a second run raises nothing more.

use serde_json::Value;

use crate::order_crash::rows;
use crate::reports::{traded_home, LATER};
use crate::support::{describe, json_of, TestHome};

const HANDLE: &str = "[workflow]\nname = \"handle\"\n\n[[node]]\nid = \"stack_handler\"\n\
task = \"run_stack_handler\"\nretries = 0\nparams = { max_seconds = 30 }\n";

/// Executes `sql` (with text binds) on the home's database.
fn execute(h: &TestHome, sql: &str, binds: &[&str]) -> u64 {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let url = format!("sqlite://{}", h.path().join("systrade.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.expect("db");
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        let done = q.execute(&pool).await.expect("statement");
        pool.close().await;
        done.rows_affected()
    })
}

/// Runs the stack handler workflow at LATER; it must succeed.
fn handle(h: &TestHome) {
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", LATER)
        .args(["run", "handle"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        describe(&["run", "handle"], &out)
    );
}

fn alerts_of(h: &TestHome, kind: &str) -> Vec<Value> {
    json_of(h, &["alerts", "--all", "--json"])["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == kind)
        .cloned()
        .collect()
}

/// The reasons instruments are locked for, by instrument.
fn locks(h: &TestHome) -> Vec<(String, String)> {
    json_of(h, &["positions", "--json"])["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["instrument"].as_str().unwrap().to_string(),
                l["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A traded home with the handler workflow, and nothing locked or alerted yet.
fn home() -> TestHome {
    let h = traded_home();
    h.workflow("handle", HANDLE);
    handle(&h);
    assert!(locks(&h).is_empty(), "{:?}", locks(&h));
    for kind in ["position_break", "overfill"] {
        assert!(alerts_of(&h, kind).is_empty(), "{kind}");
    }
    h
}

#[test]
fn a_position_changed_at_the_broker_raises_one_position_break_alert_and_locks() {
    let h = home();
    let held = rows(
        &h,
        "SELECT instrument, contract, quantity FROM sim_positions WHERE quantity != 0 \
         ORDER BY instrument, contract LIMIT 1",
    );
    assert_eq!(held.len(), 1, "the daily run left a position at the broker");
    let (instrument, contract) = (held[0][0].clone(), held[0][1].clone());
    // Someone bought one more contract by hand, outside the system.
    let changed = execute(
        &h,
        "UPDATE sim_positions SET quantity = quantity + 1 WHERE instrument = ? AND contract = ?",
        &[&instrument, &contract],
    );
    assert_eq!(changed, 1);
    handle(&h);
    let breaks = alerts_of(&h, "position_break");
    assert_eq!(breaks.len(), 1, "{breaks:?}");
    let a = &breaks[0];
    assert_eq!(a["severity"], "critical");
    assert_eq!(a["instrument"], instrument.as_str(), "{a}");
    let subject = a["subject"].as_str().unwrap();
    assert!(
        subject.contains("position break")
            && subject.contains(&instrument)
            && subject.contains("instrument locked"),
        "{subject}"
    );
    let locked = locks(&h);
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!(locked[0].0, instrument);
    assert!(locked[0].1.starts_with("position break"), "{locked:?}");
    // Still broken on the next run: still locked, no second alert.
    handle(&h);
    assert_eq!(alerts_of(&h, "position_break").len(), 1);
    assert_eq!(locks(&h).len(), 1);
}

#[test]
fn an_extra_execution_for_a_filled_order_raises_one_overfill_alert() {
    let h = home();
    let filled = rows(
        &h,
        "SELECT e.exec_id, e.broker_id, e.order_ref, e.instrument, e.contract, e.quantity, \
         e.commission_currency FROM sim_executions e JOIN sim_orders o ON o.order_ref = e.order_ref \
         WHERE o.status = 'filled' ORDER BY e.seq LIMIT 1",
    );
    assert_eq!(filled.len(), 1, "the daily run filled an order");
    let [exec_id, broker_id, order_ref, instrument, contract, quantity, currency] =
        <[String; 7]>::try_from(filled[0].clone()).unwrap();
    let one: i64 = if quantity.parse::<i64>().unwrap() > 0 {
        1
    } else {
        -1
    };
    let one = one.to_string();
    // The broker reports one more contract filled for that order (its position moves with
    // it): an execution the system never asked for.
    let extra = format!("{exec_id}-extra");
    execute(
        &h,
        "INSERT INTO sim_executions (exec_id, broker_id, order_ref, instrument, contract, \
         quantity, price, ts, commission, commission_currency) \
         SELECT ?, ?, ?, ?, ?, ?, price, '2024-06-28T23:40:00.000000Z', commission, ? \
         FROM sim_executions WHERE exec_id = ?",
        &[
            &extra,
            &broker_id,
            &order_ref,
            &instrument,
            &contract,
            &one,
            &currency,
            &exec_id,
        ],
    );
    execute(
        &h,
        "UPDATE sim_orders SET filled = filled + ? WHERE order_ref = ?",
        &[&one, &order_ref],
    );
    execute(
        &h,
        "UPDATE sim_positions SET quantity = quantity + ? WHERE instrument = ? AND contract = ?",
        &[&one, &instrument, &contract],
    );
    handle(&h);
    let over = alerts_of(&h, "overfill");
    assert_eq!(over.len(), 1, "{over:?}");
    let a = &over[0];
    assert_eq!(a["severity"], "critical");
    let subject = a["subject"].as_str().unwrap();
    assert_eq!(a["instrument"], instrument.as_str(), "{a}");
    assert!(
        subject.starts_with(&format!("{instrument}: broker order "))
            && subject.contains(&format!("filled {one} contract(s) beyond its quantity")),
        "{subject}"
    );
    // Positions follow the broker: no break, but the instrument is locked for a person.
    assert!(alerts_of(&h, "position_break").is_empty());
    let locked = locks(&h);
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!(locked[0].0, instrument);
    assert!(locked[0].1.starts_with("over-fill"), "{locked:?}");
    let booked = rows(
        &h,
        &format!("SELECT overfill FROM order_executions WHERE exec_id = '{extra}'"),
    );
    assert_eq!(booked, vec![vec![one.clone()]]);
    // The execution is applied once: the next run raises nothing more.
    handle(&h);
    assert_eq!(alerts_of(&h, "overfill").len(), 1);
}
