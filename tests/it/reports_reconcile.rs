//! The reconcile report: after a clean daily run nothing is broken and both sides show the same
//! positions and the day's trades; a trade recorded outside the system (a balance trade the
//! broker never saw) shows as a broker break and, being outside its buffer, an optimal break.

use serde_json::Value;

use crate::reports::{run_daily, table_rows as table, traded_home, two_instrument_home};
use crate::support::{stderr, stdout, TestHome};

const FRIDAY: &str = "2024-06-28T23:30:00Z";
const LATER: &str = "2024-06-28T23:45:00Z";

fn run(h: &TestHome, args: &[&str]) -> std::process::Output {
    h.cmd()
        .env("SYSTRADE_NOW", LATER)
        .args(args)
        .output()
        .unwrap()
}

fn reconcile(h: &TestHome) -> Value {
    let out = run(h, &["report", "reconcile", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn first_text(v: &Value) -> String {
    v["items"][0]["text"].as_str().unwrap().to_string()
}

#[test]
fn reconcile_shows_no_breaks_after_a_clean_day_and_finds_an_outside_trade() {
    let h = traded_home();
    let v = reconcile(&h);
    assert_eq!(
        first_text(&v),
        "0 optimal break(s), 0 instrument/contract break(s), 0 broker break(s)."
    );
    let system = table(&v, "system_positions").unwrap();
    let broker = table(&v, "broker_positions").unwrap();
    assert!(!system.is_empty());
    assert_eq!(system, broker, "the broker holds what the system holds");
    let fills = table(&v, "system_trades").unwrap();
    let executions = table(&v, "broker_trades").unwrap();
    assert!(
        !fills.is_empty() && !executions.is_empty(),
        "{fills:?} {executions:?}"
    );
    let filled: i64 = fills.iter().map(|r| r[4].as_i64().unwrap().abs()).sum();
    let executed: i64 = executions
        .iter()
        .map(|r| r[3].as_i64().unwrap().abs())
        .sum();
    assert_eq!(filled, executed, "the same contracts on both sides");

    // Five SP500 contracts recorded as done elsewhere.
    let sp500 = system.iter().find(|r| r[0] == "SP500").expect("SP500 held");
    let contract = sp500[1].as_str().unwrap();
    let optimal = table(&v, "optimal_vs_actual").unwrap();
    let strategy = optimal[0][0].as_str().unwrap();
    let out = run(
        &h,
        &[
            "orders",
            "balance",
            "--strategy",
            strategy,
            "--instrument",
            "SP500",
            "--contract",
            contract,
            "--quantity",
            "5",
            "--price",
            "5000",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = reconcile(&h);
    assert_eq!(
        first_text(&v),
        "1 optimal break(s), 0 instrument/contract break(s), 1 broker break(s)."
    );
    let external = table(&v, "broker_vs_system").unwrap();
    assert_eq!(external.len(), 1);
    assert_eq!(external[0][0], "SP500");
    assert_eq!(
        external[0][2].as_i64().unwrap() - external[0][3].as_i64().unwrap(),
        5
    );
    let optimal = table(&v, "optimal_vs_actual").unwrap();
    let row = optimal.iter().find(|r| r[1] == "SP500").unwrap();
    assert_eq!(row[6], "BREAK");
}

/// The strategy report after a daily run: every instrument of the strategy's state at its last
/// date, with the positions consistent with each other (notional = subsystem × weight × IDM).
#[test]
fn the_strategy_report_shows_the_latest_backtest_consistently() {
    let h = two_instrument_home();
    let out = run(&h, &["report", "strategy"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("No backtest state stored"),
        "{}",
        stdout(&out)
    );
    run_daily(&h, FRIDAY);
    let out = run(&h, &["report", "strategy", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let portfolio = table(&v, "portfolio_positions").unwrap();
    assert_eq!(portfolio.len(), 2, "{portfolio:?}");
    for r in &portfolio {
        let f = |i: usize| r[i].as_f64().unwrap();
        // instrument, date, subsystem, weight, idm, notional
        assert!(
            (f(2) * f(3) * f(4) - f(5)).abs() <= 1e-9 * f(5).abs().max(1e-9),
            "{r:?}"
        );
    }
    let buffers = table(&v, "positions_vs_buffers").unwrap();
    assert!(
        buffers.iter().all(|r| r[5] == ""),
        "after the day's trades all are in their buffers: {buffers:?}"
    );
    let weights = table(&v, "forecast_weights").unwrap();
    for r in &weights {
        let sum: f64 = r[2..].iter().map(|x| x.as_f64().unwrap()).sum();
        assert!(
            (sum - 1.0).abs() < 1e-9,
            "forecast weights sum to one: {r:?}"
        );
    }
}

/// The risk report after a daily run: the total risk is what the report's own instrument and
/// correlation tables give, no more than the sum of the instruments' risks, and the
/// correlation matrix is drawn.
#[test]
fn the_risk_report_adds_up() {
    let h = traded_home();
    let out = run(&h, &["report", "risk", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = table(&v, "summary").unwrap();
    let value = |name: &str| {
        summary
            .iter()
            .find(|r| r[0] == name)
            .and_then(|r| r[1].as_f64())
            .unwrap_or_else(|| panic!("{name} in {summary:?}"))
    };
    let total = value("total annual risk %");
    assert!(total > 0.0, "{summary:?}");
    let held = table(&v, "instrument_risk").unwrap();
    assert_eq!(held.len(), 2, "{held:?}");
    let corr = table(&v, "correlations").unwrap();
    let order: Vec<&str> = corr.iter().map(|r| r[0].as_str().unwrap()).collect();
    let mut var = 0.0;
    for (i, a) in order.iter().enumerate() {
        for (j, b) in order.iter().enumerate() {
            let row = |code: &str| held.iter().find(|r| r[0] == code).unwrap().clone();
            let (ra, rb) = (row(a), row(b));
            let w = |r: &Vec<Value>| r[4].as_f64().unwrap() / 100.0;
            let s = |r: &Vec<Value>| r[3].as_f64().unwrap() / 100.0;
            let c = corr[i][j + 1].as_f64().unwrap_or(1.0);
            var += w(&ra) * s(&ra) * c * s(&rb) * w(&rb);
        }
    }
    assert!(
        (100.0 * var.sqrt() - total).abs() < 1e-6 * total,
        "{total} vs {}",
        100.0 * var.sqrt()
    );
    assert!(
        total <= value("sum of |annual risk| %") * 1.05,
        "{summary:?}"
    );
    assert_eq!(corr[0][1].as_f64(), Some(1.0));
    let charts = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "chart")
        .count();
    assert_eq!(charts, 1);
    assert_eq!(table(&v, "by_asset_class").unwrap().len(), 2);
}
