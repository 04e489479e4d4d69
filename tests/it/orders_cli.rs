//! `systrade orders` and `systrade positions` (no subcommand) through the real binary: manual
//! trades on the instrument stack, every bad input refused with nothing written, balance trades
//! moving the strategy and contract positions, position breaks against the simulated broker
//! (one it holds a position the system does not know; one it cannot be asked), locks, cancel and
//! clear.

use std::sync::Arc;

use serde_json::{json, Value};

use systrade::adapters::reference_files::load_reference_data;
use systrade::adapters::sim_broker::{ManualQuotes, SimBroker, SimFaults};
use systrade::adapters::store::sqlite::{Durability, SqliteRunStore};
use systrade::domain::broker::{Broker, OrderPricing, OrderRequest};
use systrade::domain::contract::ContractId;
use systrade::domain::instrument::InstrumentCode;
use systrade::domain::orders::OrderStore;
use systrade::engine::clock::SystemClock;

use crate::support::{describe, json_of, ok, stderr, stdout, TestHome};

/// A home with two strategies.
fn home() -> TestHome {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[strategies]\nweights = { demo = 1.0, trend = 1.0 }\n",
    )
    .unwrap();
    h
}

/// Exit `code` with `needle` in stderr.
fn refused(h: &TestHome, args: &[&str], code: i32, needle: &str) {
    let out = h.run(args);
    assert_eq!(out.status.code(), Some(code), "{}", describe(args, &out));
    assert!(
        stderr(&out).contains(needle),
        "`{needle}` not in stderr of {}",
        describe(args, &out)
    );
}

fn active_instrument_orders(h: &TestHome) -> Vec<Value> {
    let v = json_of(h, &["orders", "list", "--stack", "instrument", "--json"]);
    v["instrument_orders"].as_array().expect("an array").clone()
}

/// The instrument orders in the home's database, through the library (active or archived).
fn stored_instrument_orders(h: &TestHome, active: bool) -> Vec<(String, String, i64, bool)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteRunStore::open(&h.path().join("systrade.db"), Durability::Normal)
            .await
            .unwrap();
        store
            .instrument_orders(active)
            .await
            .unwrap()
            .into_iter()
            .map(|o| (o.strategy, o.instrument.to_string(), o.trade, o.manual))
            .collect()
    })
}

/// Buys `quantity` of a contract on the home's simulated broker (the same state the binary's
/// broker reads), outside the system's order stacks.
fn broker_buys(h: &TestHome, instrument: &str, contract: ContractId, quantity: i64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteRunStore::open(&h.path().join("systrade.db"), Durability::Normal)
            .await
            .unwrap();
        let code = InstrumentCode::new(instrument).unwrap();
        let quotes = Arc::new(ManualQuotes::default());
        quotes.set(&code, contract, 1999.5, 2000.5, chrono::Utc::now());
        let reference = load_reference_data(&h.path().join("config")).unwrap();
        let broker = SimBroker::new(
            store.pool().clone(),
            quotes,
            Arc::new(reference),
            Arc::new(SystemClock),
            500_000.0,
            "USD",
            SimFaults::default(),
        );
        let state = broker
            .place_order(&OrderRequest {
                order_ref: "outside-the-system-1".into(),
                instrument: code,
                contract,
                quantity,
                pricing: OrderPricing::Market,
            })
            .await
            .unwrap();
        assert_eq!(state.filled, quantity, "{state:?}");
    });
}

#[test]
fn a_manual_trade_goes_on_the_instrument_stack() {
    let h = home();
    assert!(active_instrument_orders(&h).is_empty());
    let v = json_of(
        &h,
        &[
            "orders",
            "trade",
            "--strategy",
            "demo",
            "--instrument",
            "SP500",
            "--quantity",
            "-3",
            "--type",
            "limit",
            "--limit-price",
            "4000.5",
            "--json",
        ],
    );
    assert_eq!(v["action"], "trade");
    let order = &v["order"];
    for (k, want) in [
        ("strategy", json!("demo")),
        ("instrument", json!("SP500")),
        ("trade", json!(-3)),
        ("fill", json!(0)),
        ("order_type", json!("limit")),
        ("limit_price", json!(4000.5)),
        ("manual", json!(true)),
        ("active", json!(true)),
    ] {
        assert_eq!(order[k], want, "{k}: {order}");
    }
    let listed = active_instrument_orders(&h);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], order["id"]);
    assert_eq!(
        stored_instrument_orders(&h, true),
        vec![("demo".into(), "SP500".into(), -3, true)]
    );
    // All three stacks by default; the table names the order.
    let all = json_of(&h, &["orders", "list", "--json"]);
    assert_eq!(all["history"], false);
    assert!(all["contract_orders"]
        .as_array()
        .is_some_and(|a| a.is_empty()));
    assert!(all["broker_orders"]
        .as_array()
        .is_some_and(|a| a.is_empty()));
    let text = ok(&h, &["orders", "list"]);
    assert!(
        text.contains("instrument stack: 1 active order(s)")
            && text.contains("limit 4000.5, manual"),
        "{text}"
    );
    // A manual order is not netted: a second one is a second order.
    ok(
        &h,
        &[
            "orders",
            "trade",
            "--strategy",
            "trend",
            "--instrument",
            "SP500",
            "--quantity",
            "1",
        ],
    );
    assert_eq!(active_instrument_orders(&h).len(), 2);
}

#[test]
fn bad_trades_are_refused_and_write_nothing() {
    let h = home();
    let trade = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["orders", "trade"].iter().map(|s| s.to_string()).collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let base = ["--strategy", "demo", "--instrument", "SP500"];
    let with = |more: &[&str]| -> Vec<String> { trade(&[&base[..], more].concat()) };
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            trade(&[
                "--strategy",
                "demo",
                "--instrument",
                "SP5OO",
                "--quantity",
                "1",
            ]),
            2,
            "unknown instrument `SP5OO`",
        ),
        (
            trade(&[
                "--strategy",
                "demo",
                "--instrument",
                "sp500",
                "--quantity",
                "1",
            ]),
            2,
            "did you mean `SP500`?",
        ),
        (with(&["--quantity", "0"]), 2, "the quantity is 0"),
        (
            with(&["--quantity", "1.5"]),
            2,
            "`1.5` is not a whole number of contracts",
        ),
        (
            trade(&[
                "--strategy",
                "dmeo",
                "--instrument",
                "SP500",
                "--quantity",
                "1",
            ]),
            2,
            "unknown strategy `dmeo` (strategies.weights in the config: demo, trend)",
        ),
        (
            trade(&[
                "--strategy",
                "no good",
                "--instrument",
                "SP500",
                "--quantity",
                "1",
            ]),
            2,
            "invalid strategy name",
        ),
        (
            with(&["--quantity", "1", "--type", "limit"]),
            2,
            "--type limit needs --limit-price",
        ),
        (
            with(&["--quantity", "1", "--limit-price", "10"]),
            2,
            "--limit-price 10 is only for --type limit",
        ),
    ];
    for (args, code, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&h, &args, *code, needle);
    }
    // Refused by the state: a lock, a position limit, an override (exit 3).
    ok(
        &h,
        &["orders", "lock", "GOLD", "--reason", "checking a fill"],
    );
    refused(
        &h,
        &[
            "orders",
            "trade",
            "--strategy",
            "demo",
            "--instrument",
            "GOLD",
            "--quantity",
            "1",
        ],
        3,
        "GOLD is locked",
    );
    ok(&h, &["limits", "set", "--instrument", "SP500", "2"]);
    let args = [
        "orders",
        "trade",
        "--strategy",
        "demo",
        "--instrument",
        "SP500",
        "--quantity",
        "3",
    ];
    refused(&h, &args, 3, "position limits (instrument 2 at position 0");
    refused(&h, &args, 3, "trade 3 -> 2");
    ok(&h, &["limits", "delete", "--instrument", "SP500"]);
    ok(
        &h,
        &["overrides", "set", "--strategy", "demo", "no-trading"],
    );
    refused(&h, &args, 3, "override no-trading: trade 3 -> 0");
    assert!(active_instrument_orders(&h).is_empty(), "nothing written");
    assert!(stored_instrument_orders(&h, true).is_empty());
    assert!(stored_instrument_orders(&h, false).is_empty());
    // The same trade goes through once the override is gone.
    ok(&h, &["overrides", "delete", "--strategy", "demo"]);
    ok(&h, &args);
    assert_eq!(active_instrument_orders(&h).len(), 1);
}

#[test]
fn bad_balance_trades_are_refused_and_write_nothing() {
    let h = home();
    let balance = |contract: &str, quantity: &str, price: &str, strategy: &str| -> Vec<String> {
        [
            "orders",
            "balance",
            "--strategy",
            strategy,
            "--instrument",
            "SP500",
            "--contract",
            contract,
            "--quantity",
            quantity,
            "--price",
            price,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    for (args, needle) in [
        (
            balance("2026-12", "1", "4000", "demo"),
            "--contract `2026-12`: invalid contract id",
        ),
        (balance("202612", "0", "4000", "demo"), "the quantity is 0"),
        (
            balance("202612", "1", "0", "demo"),
            "the price must be a positive number",
        ),
        (
            balance("202612", "1", "-5", "demo"),
            "the price must be a positive number",
        ),
        (
            balance("202612", "1", "4000", "other"),
            "unknown strategy `other`",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&h, &args, 2, needle);
    }
    let v = json_of(&h, &["orders", "list", "--history", "--json"]);
    for stack in ["instrument_orders", "contract_orders", "broker_orders"] {
        assert_eq!(v[stack], json!([]), "{stack}");
    }
    let p = json_of(&h, &["positions", "--json"]);
    assert_eq!(p["strategy_positions"], json!([]));
    assert_eq!(p["contract_positions"], json!([]));
}

#[test]
fn a_balance_trade_moves_the_strategy_and_contract_positions() {
    let h = home();
    let v = json_of(
        &h,
        &[
            "orders",
            "balance",
            "--strategy",
            "demo",
            "--instrument",
            "SP500",
            "--contract",
            "202612",
            "--quantity",
            "2",
            "--price",
            "4000.25",
            "--json",
        ],
    );
    assert_eq!(v["strategy_position"], 2);
    assert_eq!(v["contract_position"], 2);
    assert_eq!(v["contract"], "20261200");
    // A locked instrument still takes a balance trade (it is how a break is resolved).
    ok(&h, &["orders", "lock", "SP500", "--reason", "break"]);
    ok(
        &h,
        &[
            "orders",
            "balance",
            "--strategy",
            "trend",
            "--instrument",
            "SP500",
            "--contract",
            "20261200",
            "--quantity",
            "-1",
            "--price",
            "4001",
        ],
    );
    let p = json_of(&h, &["positions", "--json"]);
    assert_eq!(p["locks"][0]["instrument"], "SP500");
    assert_eq!(
        p["strategy_positions"],
        json!([
            { "strategy": "demo", "instrument": "SP500", "position": 2 },
            { "strategy": "trend", "instrument": "SP500", "position": -1 },
        ])
    );
    assert_eq!(
        p["contract_positions"],
        json!([{ "instrument": "SP500", "contract": "20261200", "position": 1 }])
    );
    // The simulated broker holds nothing: an external break, no internal one; still exit 0.
    assert_eq!(p["broker_positions"], json!([]));
    assert_eq!(p["broker_error"], Value::Null);
    assert_eq!(
        p["breaks"],
        json!({
            "external": [{ "instrument": "SP500", "contract": "20261200", "system": 1, "broker": 0 }],
            "internal": [],
        })
    );
    // Archived at all three levels, filled at the price.
    let hist = json_of(&h, &["orders", "list", "--history", "--json"]);
    let io = &hist["instrument_orders"][0];
    assert_eq!(
        (&io["order_type"], &io["fill"], &io["filled_price"]),
        (&json!("balance"), &json!(2), &json!(4000.25))
    );
    assert_eq!(hist["contract_orders"].as_array().map(Vec::len), Some(2));
    assert_eq!(hist["broker_orders"].as_array().map(Vec::len), Some(2));
    assert!(active_instrument_orders(&h).is_empty());
}

#[test]
fn a_position_the_broker_holds_and_the_system_does_not_is_a_break() {
    let h = home();
    ok(&h, &["init"]);
    let feb = ContractId::monthly(2027, 2);
    broker_buys(&h, "GOLD", feb, 1);
    let p = json_of(&h, &["positions", "--json"]);
    assert_eq!(
        p["broker_positions"],
        json!([{ "instrument": "GOLD", "contract": "20270200", "quantity": 1 }])
    );
    let external =
        json!([{ "instrument": "GOLD", "contract": "20270200", "system": 0, "broker": 1 }]);
    assert_eq!(p["breaks"]["external"], external);
    let text = ok(&h, &["positions"]);
    assert!(
        text.contains("BREAK: system != broker") && text.contains("BREAKS: 1 external, 0 internal"),
        "{text}"
    );
    let b = json_of(&h, &["orders", "breaks", "--json"]);
    assert_eq!(b["breaks"]["external"], external);
    assert_eq!(b["broker_error"], Value::Null);

    // Recording the trade as done outside the system for a strategy resolves it.
    ok(
        &h,
        &[
            "orders",
            "balance",
            "--strategy",
            "demo",
            "--instrument",
            "GOLD",
            "--contract",
            "20270200",
            "--quantity",
            "1",
            "--price",
            "2000.5",
        ],
    );
    let b = json_of(&h, &["orders", "breaks", "--json"]);
    assert_eq!(b["breaks"], json!({ "external": [], "internal": [] }));
    let text = ok(&h, &["positions"]);
    assert!(text.contains("no breaks"), "{text}");
    assert!(!text.contains("BREAK"), "{text}");
}

#[test]
fn an_unreachable_broker_still_shows_the_system_positions_and_exits_1() {
    let h = home();
    ok(
        &h,
        &[
            "orders",
            "balance",
            "--strategy",
            "demo",
            "--instrument",
            "US10",
            "--contract",
            "202703",
            "--quantity",
            "4",
            "--price",
            "110",
        ],
    );
    let down = |args: &[&str]| {
        h.cmd()
            .env("SYSTRADE_BROKER__SIM_DISCONNECT_AT_CALL", "1")
            .args(args)
            .output()
            .unwrap()
    };
    let out = down(&["positions", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        describe(&["positions"], &out)
    );
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["broker_positions"], Value::Null);
    assert!(
        p["broker_error"]
            .as_str()
            .is_some_and(|e| e.contains("disconnected")),
        "{p}"
    );
    assert_eq!(
        p["contract_positions"],
        json!([{ "instrument": "US10", "contract": "20270300", "position": 4 }])
    );
    assert_eq!(p["breaks"]["external"], json!([]), "unknown, not broken");
    let out = down(&["positions"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("BROKER POSITIONS UNKNOWN"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("US10"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("the broker's positions are unknown"),
        "{}",
        stderr(&out)
    );
    let out = down(&["orders", "breaks"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        describe(&["orders", "breaks"], &out)
    );
}

#[test]
fn lock_and_unlock_round_trip() {
    let h = home();
    let v = json_of(
        &h,
        &[
            "orders",
            "lock",
            "SP500",
            "--reason",
            "roll by hand",
            "--json",
        ],
    );
    assert_eq!(v["new"], true);
    assert_eq!(v["lock"]["reason"], "roll by hand");
    let text = ok(&h, &["orders", "lock", "SP500", "--reason", "again"]);
    assert!(
        text.contains("locked already") && text.contains("roll by hand"),
        "{text}"
    );
    let b = json_of(&h, &["orders", "breaks", "--json"]);
    let locks = b["locks"].as_array().unwrap();
    assert_eq!(locks.len(), 1);
    assert_eq!(
        (&locks[0]["instrument"], &locks[0]["reason"]),
        (&json!("SP500"), &json!("roll by hand"))
    );
    refused(
        &h,
        &["orders", "lock", "NOPE_X", "--reason", "r"],
        2,
        "unknown instrument `NOPE_X`",
    );
    refused(
        &h,
        &["orders", "lock", "US10", "--reason", "  "],
        2,
        "--reason",
    );

    let text = ok(&h, &["orders", "unlock", "SP500"]);
    assert!(text.contains("SP500 unlocked"), "{text}");
    let b = json_of(&h, &["orders", "breaks", "--json"]);
    assert_eq!(b["locks"], json!([]));
    refused(&h, &["orders", "unlock", "SP500"], 2, "SP500 is not locked");
}

#[test]
fn cancel_takes_an_active_instrument_order() {
    let h = home();
    refused(
        &h,
        &["orders", "cancel", "42"],
        2,
        "no active instrument order 42",
    );
    refused(&h, &["orders", "cancel", "x"], 2, "invalid value 'x'");
    let v = json_of(
        &h,
        &[
            "orders",
            "trade",
            "--strategy",
            "demo",
            "--instrument",
            "US10",
            "--quantity",
            "2",
            "--json",
        ],
    );
    let id = v["order"]["id"].as_i64().unwrap().to_string();
    let c = json_of(&h, &["orders", "cancel", &id, "--json"]);
    assert_eq!(c["cancel_requested"], true);
    assert_eq!(active_instrument_orders(&h)[0]["cancel_requested"], true);
    // An archived order (a balance trade) cannot be cancelled.
    ok(
        &h,
        &[
            "orders",
            "balance",
            "--strategy",
            "demo",
            "--instrument",
            "US10",
            "--contract",
            "202703",
            "--quantity",
            "1",
            "--price",
            "110",
        ],
    );
    let hist = json_of(
        &h,
        &[
            "orders",
            "list",
            "--stack",
            "instrument",
            "--history",
            "--json",
        ],
    );
    let archived = hist["instrument_orders"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    refused(
        &h,
        &["orders", "cancel", &archived],
        2,
        "is not active (it is archived",
    );
}

#[test]
fn clear_needs_yes_off_a_terminal() {
    let h = home();
    ok(
        &h,
        &[
            "orders",
            "trade",
            "--strategy",
            "demo",
            "--instrument",
            "US10",
            "--quantity",
            "2",
        ],
    );
    refused(
        &h,
        &["orders", "clear", "--stack", "instrument"],
        3,
        "add --yes",
    );
    assert_eq!(active_instrument_orders(&h).len(), 1, "nothing cleared");
    refused(
        &h,
        &["orders", "clear", "--stack", "everything", "--yes"],
        2,
        "invalid value",
    );
    let v = json_of(
        &h,
        &[
            "orders",
            "clear",
            "--stack",
            "instrument",
            "--yes",
            "--json",
        ],
    );
    assert_eq!((&v["active"], &v["cleared"]), (&json!(1), &json!(1)));
    assert!(active_instrument_orders(&h).is_empty());
    assert_eq!(stored_instrument_orders(&h, false).len(), 1, "archived");
}

#[test]
fn without_a_subcommand_off_a_terminal_help_and_exit_2() {
    let h = home();
    let out = h.run(&["orders"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("systrade orders")
            && err.contains("balance")
            && err.contains("the menu needs a terminal"),
        "{err}"
    );
}
