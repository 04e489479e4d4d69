//! The P&L and account curve reports on a home that traded on Friday and held its positions
//! into Monday: the instruments' P&L (contract prices) agrees with the strategies' (priced
//! contract prices) since every position is in the priced contract, the residual is the total
//! less the instruments, the HTML draws its charts, and the account curve has Monday's P&L.

use serde_json::Value;

use crate::reports::{run_daily, traded_home};
use crate::support::{stderr, stdout, TestHome};

const MONDAY: &str = "2024-07-01T23:30:00Z";
const MONDAY_LATER: &str = "2024-07-01T23:50:00Z";

fn report(h: &TestHome, args: &[&str]) -> Value {
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", MONDAY_LATER)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

/// Table `id` as (first column, second column) pairs.
fn pairs(report: &Value, id: &str) -> Vec<(String, f64)> {
    let t = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "table" && i["id"] == id)
        .unwrap_or_else(|| panic!("no table {id} in {report:#}"));
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

#[test]
fn pandl_and_account_curve_over_a_weekend_of_held_positions() {
    let h = traded_home();
    run_daily(&h, MONDAY);

    // From Friday's close to Monday's: the positions bought on Friday evening earned Monday's
    // moves.
    let args = [
        "report",
        "pandl",
        "--from",
        "2024-06-29",
        "--to",
        "2024-07-01",
        "--json",
    ];
    let v = report(&h, &args);
    let by_instrument = pairs(&v, "by_instrument");
    let names: Vec<&str> = by_instrument.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"SP500") && names.contains(&"CORN"),
        "{names:?}"
    );
    assert!(
        by_instrument.iter().all(|(_, p)| p.is_finite()),
        "{by_instrument:?}"
    );
    assert!(
        by_instrument.iter().any(|(_, p)| *p != 0.0),
        "held positions over a day of price moves earn something: {by_instrument:?}"
    );
    let futures: f64 = by_instrument.iter().map(|(_, p)| p).sum();
    let total = pairs(&v, "total");
    assert_eq!(total[0].0, "total capital P&L");
    assert!(
        (total[1].1 - futures).abs() < 1e-9,
        "{total:?} vs {futures}"
    );
    assert!(
        (total[2].1 - (total[0].1 - futures)).abs() < 1e-9,
        "{total:?}"
    );
    // The strategy holds what the contracts hold, in the priced contract: the same P&L.
    let by_strategy = pairs(&v, "by_strategy");
    let strategies: f64 = by_strategy
        .iter()
        .filter(|(n, _)| n != "residual")
        .map(|(_, p)| p)
        .sum();
    assert!(
        (strategies - futures).abs() <= 1e-9 * futures.abs().max(1e-6),
        "strategies {strategies} vs instruments {futures}"
    );
    let classes: f64 = pairs(&v, "by_asset_class").iter().map(|(_, p)| p).sum();
    assert!((classes - futures).abs() < 1e-9);

    // The HTML draws the bars as inline SVG.
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", MONDAY_LATER)
        .args([
            "report",
            "pandl",
            "--from",
            "2024-06-29",
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    let html = stdout(&out);
    assert!(
        html.contains("<figure id=\"pnl_by_instrument_chart\">"),
        "{html}"
    );
    assert!(html.contains("<svg") && html.contains("SP500"), "{html}");

    // The account curve has Monday's P&L in every period.
    let curve = report(&h, &["report", "account_curve", "--json"]);
    let periods = pairs(&curve, "periods");
    assert_eq!(
        periods.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["YTD", "12M", "3Y", "5Y", "10Y", "99Y"]
    );
    let charts = curve["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "chart")
        .count();
    assert_eq!(charts, 6);
    let ytd = &curve["items"][0]["rows"][0];
    assert!(ytd[3].as_i64().unwrap() >= 1, "{ytd}");
    assert!(ytd[4].as_f64().unwrap().is_finite(), "{ytd}");
}

#[test]
fn without_capital_the_pandl_report_says_so() {
    let h = TestHome::new();
    let out = h.run(&["report", "pandl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("No capital recorded"),
        "{}",
        stdout(&out)
    );
    let out = h.run(&["report", "account_curve"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("No daily P&L yet"),
        "{}",
        stdout(&out)
    );
}
