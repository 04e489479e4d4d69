//! The daily price pipeline end to end on the simulated market: the first run builds multiple
//! and adjusted prices from the market (bootstrap), samples the contract chain and collects the
//! sampled contracts' bars; a run a day later appends the new day without rebuilding. And the
//! demo, which runs the same pipeline on a small fresh home.

use serde_json::Value;

use crate::support::{stderr, stdout, TestHome};

const THURSDAY: &str = "2024-06-27T23:30:00Z";
const FRIDAY: &str = "2024-06-28T23:30:00Z";

/// A home collecting two instruments from two years before [`THURSDAY`].
fn price_home() -> TestHome {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[prices]\ninstruments = [\"SP500\", \"CORN\"]\n\n[market]\nsim_start = \"2022-06-01\"\n",
    )
    .unwrap();
    h
}

fn run_at(h: &TestHome, now: &str, args: &[&str]) -> std::process::Output {
    h.cmd()
        .env("SYSTRADE_NOW", now)
        .args(args)
        .output()
        .expect("run systrade")
}

fn json_at(h: &TestHome, now: &str, args: &[&str]) -> Value {
    let out = run_at(h, now, args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout of {args:?} is not JSON ({e})\n{}\n{}",
            stdout(&out),
            stderr(&out)
        )
    })
}

/// The output of `node` in run `run`.
fn node_output(h: &TestHome, run: i64, node: &str) -> Value {
    let shown = h.json(&["show", &run.to_string(), "--json"]);
    shown["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .find(|a| a["node_id"] == node)
        .unwrap_or_else(|| panic!("no attempt of {node} in run {run}: {shown}"))["output"]
        .clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string").to_string())
        .collect()
}

/// Last adjusted price equals last PRICE (the latest contract segment is unadjusted).
fn assert_stitched(h: &TestHome, now: &str, code: &str) {
    let m = json_at(h, now, &["prices", "show", code, "--multiple", "--json"]);
    let a = json_at(h, now, &["prices", "show", code, "--json"]);
    let last_price = m["price"].as_array().unwrap().last().unwrap().as_f64();
    let last_adjusted = a["price"].as_array().unwrap().last().unwrap().as_f64();
    assert!(last_price.is_some(), "{code}: last PRICE is missing");
    assert_eq!(
        last_adjusted, last_price,
        "{code}: adjusted and PRICE differ"
    );
    assert_eq!(
        m["timestamp"].as_array().unwrap().last(),
        a["timestamp"].as_array().unwrap().last(),
        "{code}: adjusted ends where multiple prices end"
    );
}

#[test]
fn daily_bootstraps_prices_then_appends_the_next_day() {
    let h = price_home();
    let out = run_at(&h, THURSDAY, &["run", "daily"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let built = node_output(&h, 1, "update_multiple_adjusted_prices");
    for code in ["SP500", "CORN"] {
        assert_eq!(built[code]["bootstrapped"], true, "{built}");
        assert!(built[code]["rows"].as_u64().unwrap() > 400, "{built}");
        assert_stitched(&h, THURSDAY, code);
    }
    let first = json_at(
        &h,
        THURSDAY,
        &["prices", "show", "SP500", "--multiple", "--json"],
    );
    let ts1 = strings(&first["timestamp"]);
    assert_eq!(ts1.last().unwrap(), "2024-06-27 23:00:00");

    // The chain is sampled and holds the current PRICE and FORWARD contracts, whose bars were
    // collected.
    let sampled = node_output(&h, 1, "update_sampled_contracts");
    let chain = strings(&sampled["SP500"]["sampled"]);
    let price_contract = strings(&first["price_contract"]).pop().unwrap();
    let forward_contract = strings(&first["forward_contract"]).pop().unwrap();
    assert!(
        chain.contains(&price_contract),
        "{chain:?} {price_contract}"
    );
    assert!(chain.contains(&forward_contract), "{chain:?}");
    assert_eq!(sampled["SP500"]["needs_roll"], false);
    let bars = json_at(
        &h,
        THURSDAY,
        &[
            "prices",
            "show",
            "SP500",
            "--contract",
            &price_contract,
            "--json",
        ],
    );
    assert!(!bars["close"].as_array().unwrap().is_empty(), "{bars}");

    // A day later: new rows appended, history kept, nothing rebuilt.
    let out = run_at(&h, FRIDAY, &["run", "daily"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let updated = node_output(&h, 2, "update_multiple_adjusted_prices");
    for code in ["SP500", "CORN"] {
        assert_eq!(updated[code]["bootstrapped"], false, "{updated}");
        assert!(
            updated[code]["new_rows"].as_u64().unwrap() >= 1,
            "{updated}"
        );
        assert_stitched(&h, FRIDAY, code);
    }
    let second = json_at(
        &h,
        FRIDAY,
        &["prices", "show", "SP500", "--multiple", "--json"],
    );
    let ts2 = strings(&second["timestamp"]);
    assert!(ts2.len() > ts1.len());
    assert_eq!(&ts2[..ts1.len()], &ts1[..], "earlier rows are kept");
    assert!(ts2.last().unwrap().starts_with("2024-06-28"), "{ts2:?}");
    assert_eq!(
        &second["price"].as_array().unwrap()[..ts1.len()],
        &first["price"].as_array().unwrap()[..],
        "earlier prices are kept"
    );
}

#[test]
fn an_expired_price_contract_asks_for_a_roll_without_failing() {
    let h = price_home();
    h.workflow(
        "sample",
        "[workflow]\nname = \"sample\"\n\n[[node]]\nid = \"s\"\ntask = \"update_sampled_contracts\"\n\
         params = { instruments = [\"SP500\"] }\n",
    );
    let out = run_at(&h, THURSDAY, &["run", "daily"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Months later, with no roll done, the PRICE contract (September 2024) has expired.
    let out = run_at(&h, "2024-10-15T23:30:00Z", &["run", "sample"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sampled = node_output(&h, 2, "s");
    assert_eq!(sampled["SP500"]["needs_roll"], true, "{sampled}");
    let warning = sampled["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.starts_with("SP500: price contract 20240900 expired")
            && warning.contains("YOU NEED TO ROLL"),
        "{sampled}"
    );
    let chain = strings(&sampled["SP500"]["sampled"]);
    assert!(!chain.contains(&"20240900".to_string()), "{chain:?}");
    let logs = stdout(&h.run(&["logs", "--run", "2"]));
    assert!(logs.contains("YOU NEED TO ROLL"), "{logs}");
}

#[test]
fn an_unknown_instrument_is_a_fatal_error_naming_it() {
    let h = price_home();
    h.workflow(
        "one",
        "[workflow]\nname = \"one\"\n\n[[node]]\nid = \"s\"\ntask = \"update_sampled_contracts\"\n\
         params = { instruments = [\"NOPE\"] }\n\n[[node]]\nid = \"m\"\n\
         task = \"update_multiple_adjusted_prices\"\nparams = { instruments = [\"NOPE\"] }\n",
    );
    let out = run_at(&h, THURSDAY, &["run", "one"]);
    assert_ne!(out.status.code(), Some(0));
    let shown = h.json(&["show", "1", "--json"]);
    let attempts = shown["attempts"].as_array().unwrap();
    for node in ["s", "m"] {
        let tried: Vec<&Value> = attempts.iter().filter(|a| a["node_id"] == node).collect();
        assert_eq!(tried.len(), 1, "fatal: no retries\n{shown}");
        let error = tried[0]["error"].as_str().unwrap_or_default();
        assert!(error.contains("NOPE"), "{error}");
    }
}

#[test]
fn demo_builds_prices_and_prints_how_to_see_them() {
    let h = TestHome::new();
    let out = h.run(&["demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for cmd in [
        "prices list",
        "prices show SP500",
        "prices show SP500 --multiple",
    ] {
        assert!(text.contains(cmd), "{text}");
    }
    let config = std::fs::read_to_string(h.path().join("config.toml")).unwrap();
    assert!(
        config.contains("SP500") && config.contains("sim_start"),
        "{config}"
    );
    let listed = stdout(&h.run(&["prices", "list"]));
    for code in ["SP500", "US10", "EUR", "GOLD", "CORN", "V2X"] {
        assert!(listed.contains(code), "{listed}");
    }
    let runs = h.json(&["runs", "--json"]);
    assert_eq!(runs[0]["status"], "succeeded");
}

/// The shipped daily workflow with a short stack handler (the simulated prices never move).
fn quick_daily(h: &TestHome) {
    let text = include_str!("../../workflows/daily.toml");
    let quick = replaced(text, "max_seconds = 300", "max_seconds = 2");
    h.workflow("daily", &quick);
}

fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "daily.toml no longer has `{from}`");
    text.replace(from, to)
}

#[test]
fn one_corrupt_instrument_stops_nothing_else() {
    let h = price_home();
    quick_daily(&h);
    let out = run_at(&h, THURSDAY, &["run", "daily"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let multiple = h.path().join("data/multiple/SP500.parquet");
    std::fs::write(&multiple, b"garbage").unwrap();

    let summary = json_at(&h, FRIDAY, &["run", "daily", "--json"]);
    assert_eq!(summary["status"], "succeeded", "{summary}");
    for (node, state) in summary["nodes"].as_object().unwrap() {
        assert_eq!(state, "succeeded", "{node}: {summary}");
    }
    let run = summary["run_id"].as_i64().unwrap();
    let sampled = node_output(&h, run, "update_sampled_contracts");
    let why = sampled["failed"]["SP500"].as_str().unwrap_or_default();
    assert!(
        why.contains("SP500.parquet") && why.contains("corrupt") && why.contains("import"),
        "the failure names the file and the repair: {sampled}"
    );
    assert_eq!(
        sampled["CORN"]["needs_roll"], false,
        "CORN went on: {sampled}"
    );
    let warned = summary["warnings"]["update_sampled_contracts"][0]
        .as_str()
        .unwrap_or_default();
    assert!(
        warned.starts_with("SP500: cannot read multiple prices"),
        "{summary}"
    );
    // Later nodes work on CORN and leave SP500 alone.
    let hist = node_output(&h, run, "update_historical_prices");
    assert!(hist["instruments"]["SP500"]["skipped"]
        .as_str()
        .is_some_and(|s| s.contains("failed upstream")));
    let built = node_output(&h, run, "update_multiple_adjusted_prices");
    assert!(built["CORN"]["new_rows"].as_u64().unwrap() >= 1, "{built}");
    assert!(built["SP500"]["skipped"].is_string(), "{built}");
    let orders = node_output(&h, run, "run_strategy_order_generator");
    let generated: Vec<&Value> = orders["strategies"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap())
        .collect();
    let outcome = |code: &str| {
        generated
            .iter()
            .find(|g| g["instrument"] == code)
            .map(|g| g["outcome"].as_str().unwrap_or_default().to_string())
    };
    assert!(
        outcome("SP500").is_some_and(|o| o.starts_with("skipped: failed upstream")),
        "{orders}"
    );
    assert!(
        outcome("CORN").is_some_and(|o| !o.starts_with("skipped")),
        "{orders}"
    );
    // The file is left as it was, for the operator to repair.
    assert_eq!(std::fs::read(&multiple).unwrap(), b"garbage");
    let shown = stdout(&h.run(&["show", &run.to_string()]));
    assert!(
        shown.contains("warnings:\n  update_sampled_contracts: SP500"),
        "{shown}"
    );
}

/// `v` without the keys that hold wall-clock instants (`*_at`, `*_time`, `at`, `time`) or are
/// derived from them (`order_ref`): what must agree between two runs of the same day.
fn without_instants(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !(k.ends_with("_at")
                        || k.ends_with("_time")
                        || *k == "at"
                        || *k == "time"
                        || *k == "order_ref")
                })
                .map(|(k, v)| (k.clone(), without_instants(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_instants).collect()),
        other => other.clone(),
    }
}

/// Two clean homes running the same two days give the same capital, optimal positions, orders,
/// fills and positions: capital is valued after the prices it depends on, and nothing else in
/// the day depends on which parallel node finishes first.
#[test]
fn two_clean_homes_give_identical_days() {
    // The shipped daily: its stack handler runs until the orders are done, so a loaded machine
    // cannot cut one home's day short.
    let outcome = || {
        let h = price_home();
        for day in [THURSDAY, FRIDAY] {
            let out = run_at(&h, day, &["run", "daily"]);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        }
        let looked = [
            vec!["capital", "show", "--json"],
            vec!["positions", "optimal", "--json"],
            vec!["orders", "list", "--history", "--json"],
            vec!["positions", "--json"],
        ];
        looked
            .iter()
            .map(|args| without_instants(&json_at(&h, FRIDAY, args)))
            .collect::<Vec<Value>>()
    };
    let (a, b) = (outcome(), outcome());
    let orders = &a[2]["instrument_orders"];
    assert!(
        orders.as_array().is_some_and(|o| !o.is_empty()),
        "the days trade: {orders}"
    );
    assert!(
        a[0]["history"].as_array().is_some_and(|h| h.len() == 2),
        "capital was valued on both days: {}",
        a[0]
    );
    for (what, (x, y)) in ["capital", "optimal positions", "orders", "positions"]
        .iter()
        .zip(a.iter().zip(&b))
    {
        assert_eq!(x, y, "{what} differ between two clean homes");
    }
}
