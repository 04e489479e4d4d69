//! `systrade report` and the `report` task: the list, each report on a home the daily workflow
//! filled (figures checked against each other and against the stored prices), files written
//! whole under the home's reports directory, and bad input refused with exit 2.

use std::path::Path;

use serde_json::Value;

use crate::support::{stderr, stdout, TestHome};

const FRIDAY: &str = "2024-06-28T23:30:00Z";
/// When the reports are looked at: after the day's fills.
pub(crate) const LATER: &str = "2024-06-28T23:45:00Z";

/// A home that collects SP500 and CORN, with two years of simulated prices from its first run.
pub(crate) fn two_instrument_home() -> TestHome {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[prices]\ninstruments = [\"SP500\", \"CORN\"]\n\n[market]\nsim_start = \"2022-06-01\"\n",
    )
    .unwrap();
    h
}

/// Runs the daily workflow with the clock at `now`; it must succeed.
pub(crate) fn run_daily(h: &TestHome, now: &str) {
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", now)
        .args(["run", "daily"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{now}: {}", stderr(&out));
}

/// A home whose daily workflow (the shipped one: the stack handler runs until its orders are
/// done) ran on Friday for SP500 and CORN (two years of prices).
pub(crate) fn traded_home() -> TestHome {
    let h = two_instrument_home();
    run_daily(&h, FRIDAY);
    h
}

/// The text items of a report's JSON, one per line.
pub(crate) fn text_items(report: &Value) -> String {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "text")
        .map(|i| i["text"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Table `id` of a report's JSON as rows of cells, or `None` when the report has no such table
/// (it said there was nothing to show).
pub(crate) fn table_rows(report: &Value, id: &str) -> Option<Vec<Vec<Value>>> {
    report["items"]
        .as_array()?
        .iter()
        .find(|i| i["kind"] == "table" && i["id"] == id)
        .map(|t| {
            t["rows"]
                .as_array()
                .map(|rows| rows.iter().filter_map(|r| r.as_array().cloned()).collect())
                .unwrap_or_default()
        })
}

pub(crate) fn at(h: &TestHome, args: &[&str]) -> std::process::Output {
    h.cmd()
        .env("SYSTRADE_NOW", LATER)
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn json(h: &TestHome, args: &[&str]) -> Value {
    let out = at(h, args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

/// The rows of table `id` as objects keyed by column name.
pub(crate) fn rows(report: &Value, id: &str) -> Vec<serde_json::Map<String, Value>> {
    let t = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "table" && i["id"] == id)
        .unwrap_or_else(|| panic!("no table {id} in {report:#}"));
    let cols: Vec<&str> = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            cols.iter()
                .zip(r.as_array().unwrap())
                .map(|(c, v)| (c.to_string(), v.clone()))
                .collect()
        })
        .collect()
}

pub(crate) fn num(row: &serde_json::Map<String, Value>, col: &str) -> f64 {
    row[col]
        .as_f64()
        .unwrap_or_else(|| panic!("{col} in {row:?}"))
}

#[test]
fn the_list_names_every_report_and_its_options() {
    let h = TestHome::new();
    let v = json(&h, &["report", "list", "--json"]);
    let names: Vec<&str> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "slippage",
            "costs",
            "roll",
            "pandl",
            "reconcile",
            "trade",
            "strategy",
            "risk",
            "status",
            "liquidity",
            "instrument_risk",
            "min_capital",
            "duplicate_markets",
            "remove_markets",
            "market_monitor",
            "account_curve"
        ]
    );
    let text = stdout(&at(&h, &["report", "list"]));
    assert!(
        text.contains("market_monitor     --instrument --from --to"),
        "{text}"
    );
}

#[test]
fn the_daily_run_writes_the_reports_and_their_figures_agree() {
    let h = traded_home();
    for name in [
        "slippage",
        "costs",
        "roll",
        "pandl",
        "reconcile",
        "trade",
        "strategy",
        "risk",
        "status",
        "liquidity",
        "instrument_risk",
        "min_capital",
        "duplicate_markets",
        "remove_markets",
        "market_monitor",
        "account_curve",
    ] {
        let file = h.path().join(format!("reports/{name}_2024-06-28.html"));
        let html =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"),
            "{name}"
        );
    }

    let risk = json(&h, &["report", "instrument_risk", "--json"]);
    let table = rows(&risk, "by_annual_perc_stdev");
    assert_eq!(table.len(), 2, "{table:?}");
    let stdevs: Vec<f64> = table.iter().map(|r| num(r, "annual_perc_stdev")).collect();
    assert!(stdevs[0] <= stdevs[1], "sorted ascending: {stdevs:?}");
    let sp = table.iter().find(|r| r["instrument"] == "SP500").unwrap();
    let csv = stdout(&at(&h, &["prices", "show", "SP500", "--csv"]));
    let stored: f64 = csv
        .lines()
        .last()
        .and_then(|l| l.rsplit(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        (num(sp, "price") - stored).abs() < 1e-9,
        "price is the last adjusted price"
    );
    assert!((num(sp, "annual_price_stdev") - 16.0 * num(sp, "daily_price_stdev")).abs() < 1e-9);
    assert!((num(sp, "annual_perc_stdev") - 16.0 * num(sp, "daily_perc_stdev")).abs() < 1e-9);
    assert!(
        (num(sp, "contract_exposure") - num(sp, "point_size_base") * num(sp, "price")).abs() < 1e-6
    );
    assert!(
        (num(sp, "annual_risk_per_contract")
            - num(sp, "annual_price_stdev") * num(sp, "point_size_base"))
        .abs()
            < 1e-6
    );

    let min = json(
        &h,
        &["report", "min_capital", "--json", "--instrument", "SP500"],
    );
    let m = &rows(&min, "minimum_capital")[0];
    let one = num(sp, "point_size_base") * num(sp, "price") * num(sp, "annual_perc_stdev") / 25.0;
    assert!((num(m, "minimum_capital_one_contract") - one).abs() < 1e-6 * one);
    assert!((num(m, "minimum_capital") - 4.0 * one / (2.5 * 0.04)).abs() < 1e-6 * one);

    let costs = json(&h, &["report", "costs", "--json"]);
    let all = rows(&costs, "sr_costs");
    let commission = rows(&costs, "sr_costs_commission_only");
    let spreads = rows(&costs, "sr_costs_spreads_only");
    let positions = json(&h, &["positions", "--json"]);
    let held: Vec<String> = positions["strategy_positions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["position"].as_i64() != Some(0))
        .map(|p| format!("{}*", p["instrument"].as_str().unwrap()))
        .collect();
    assert!(!held.is_empty(), "the day traded: {positions}");
    for r in &all {
        let name = r["instrument"].as_str().unwrap();
        assert_eq!(
            name.ends_with('*'),
            held.iter().any(|h| h == name),
            "* marks exactly the held instruments: {name}, held {held:?}"
        );
        let part = |t: &[serde_json::Map<String, Value>]| {
            num(
                t.iter().find(|x| x["instrument"] == name).unwrap(),
                "SR_cost",
            )
        };
        assert!(
            (part(&commission) + part(&spreads) - num(r, "SR_cost")).abs() < 1e-12,
            "{name}: commission + spreads = the whole"
        );
        if name.trim_end_matches('*') == "SP500" {
            assert!(
                (num(r, "avg_annual_vol_perc") * 100.0 - num(sp, "annual_perc_stdev")).abs() < 1e-9,
                "the costs use the instrument risk's vol"
            );
        }
    }

    // The roll report's rows are `systrade roll ALL`'s reports.
    let rolls = json(&h, &["report", "roll", "--json"]);
    let table = rows(&rolls, "rolls");
    let all = json(&h, &["roll", "ALL", "--json"]);
    let expected: Vec<(&str, i64)> = all["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["instrument"].as_str().unwrap(),
                r["days_to_desired_roll"].as_i64().unwrap(),
            )
        })
        .collect();
    let got: Vec<(&str, i64)> = table
        .iter()
        .map(|r| {
            (
                r["instrument"].as_str().unwrap(),
                r["roll_expiry"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    let sp = table.iter().find(|r| r["instrument"] == "SP500").unwrap();
    let sp_all = all["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["instrument"] == "SP500")
        .unwrap();
    assert_eq!(sp["position_priced"], sp_all["priced_position"]);

    // The trade report has every fill of the day, and its slippage adds up.
    let trades = json(&h, &["report", "trade", "--json"]);
    let orders = json(&h, &["orders", "list", "--history", "--json"]);
    let fills: Vec<(String, i64)> = orders["broker_orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["fill"].as_i64() != Some(0))
        .map(|b| {
            (
                b["instrument"].as_str().unwrap().to_string(),
                b["fill"].as_i64().unwrap(),
            )
        })
        .collect();
    let overview: Vec<(String, i64)> = rows(&trades, "broker_orders")
        .iter()
        .map(|r| {
            (
                r["instrument"].as_str().unwrap().to_string(),
                r["fill"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut sorted = fills.clone();
    sorted.sort();
    assert_eq!(overview, sorted, "one row per fill");
    let raw = rows(&trades, "raw_slippage");
    let cash = rows(&trades, "cash_slippage");
    for (r, c) in raw.iter().zip(&cash) {
        let total = num(r, "bid_ask") + num(r, "execution");
        assert!((num(r, "total_trading") - total).abs() < 1e-9, "{r:?}");
        let sign = if num(r, "trade") > 0.0 { 1.0 } else { -1.0 };
        let half_spread = sign * (num(r, "mid_price") - num(r, "side_price"));
        assert!((num(r, "bid_ask") - half_spread).abs() < 1e-9, "{r:?}");
        assert!(num(r, "bid_ask") <= 0.0, "crossing the spread costs: {r:?}");
        let point = num(c, "value_of_price_point");
        assert!((num(c, "total_trading_cash") - point * num(r, "total_trading")).abs() < 1e-6);
    }
    let out = at(
        &h,
        &[
            "report",
            "trade",
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-31",
        ],
    );
    assert!(
        stdout(&out).contains("No trades from 2020-01-01 00:00 to 2020-01-31 23:59 UTC."),
        "{}",
        stdout(&out)
    );

    let monitor = json(&h, &["report", "market_monitor", "--json"]);
    let week = rows(&monitor, "7d_name");
    assert_eq!(week.len(), 2, "{week:?}");
    assert!(week.iter().all(|r| num(r, "change").is_finite()));
}

#[test]
fn report_files_are_written_whole_and_all_goes_on_past_a_failure() {
    let h = traded_home();
    let dir = tempfile::tempdir().unwrap();
    let v = json(
        &h,
        &[
            "report",
            "all",
            "--dir",
            &dir.path().display().to_string(),
            "--json",
        ],
    );
    let all = json(&h, &["report", "list", "--json"])["reports"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(v["written"].as_array().unwrap().len(), all, "{v}");
    assert_eq!(v["failed"], serde_json::json!([]));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), all, "no temporary files: {names:?}");
    assert!(
        names.iter().all(|n| n.ends_with("_2024-06-28.json")),
        "{names:?}"
    );

    let file = dir.path().join("risk.csv");
    let out = at(
        &h,
        &[
            "report",
            "instrument_risk",
            "--format",
            "csv",
            "--output",
            &file.display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = std::fs::read_to_string(&file).unwrap();
    assert!(csv.starts_with("# Risk of all instruments"), "{csv}");
    assert_eq!(
        csv.matches("\ninstrument,daily_price_stdev,").count(),
        3,
        "{csv}"
    );
}

#[test]
fn a_report_with_nothing_to_say_says_so() {
    let h = TestHome::new();
    let out = at(&h, &["report", "costs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("No instrument has enough prices"),
        "{}",
        stdout(&out)
    );
    let out = at(&h, &["report", "market_monitor"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn bad_report_input_exits_2_naming_what() {
    let h = TestHome::new();
    for (args, wanted) in [
        (
            vec!["report", "cost"],
            "no report named `cost`; did you mean `costs`?",
        ),
        (
            vec!["report", "costs", "--instrument", "SP5000"],
            "did you mean `SP500`?",
        ),
        (
            vec!["report", "costs", "--strategy", "x"],
            "does not take --strategy",
        ),
        (
            vec![
                "report",
                "market_monitor",
                "--from",
                "2024-05-01",
                "--to",
                "2024-04-01",
            ],
            "--from 2024-05-01 is after --to 2024-04-01",
        ),
        (
            vec!["report", "market_monitor", "--from", "2024-13-01"],
            "is not a date",
        ),
        (vec!["report", "all"], "give --dir DIR"),
    ] {
        let out = at(&h, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(wanted), "{args:?}: {}", stderr(&out));
    }
    assert!(
        !Path::new(&h.path().join("reports")).exists(),
        "nothing written"
    );
}

#[test]
fn a_bad_reports_config_is_refused_naming_the_key() {
    for (config, wanted) in [
        (
            "[reports]\noutput = \"email\"\n",
            "`reports.output`: e-mails reports, but no e-mail is configured",
        ),
        (
            "[reports]\noutputs = { pandel = \"both\" }\n",
            "no report named `pandel`; did you mean `pandl`?",
        ),
        (
            "[reports]\noutputs = { pandl = \"printer\" }\n",
            "`pandl`: `printer` is not one of",
        ),
    ] {
        let h = TestHome::new();
        std::fs::write(h.path().join("config.toml"), config).unwrap();
        let out = h.run(&["validate", "daily"]);
        assert_eq!(out.status.code(), Some(2), "{config}: {}", stderr(&out));
        assert!(stderr(&out).contains(wanted), "{config}: {}", stderr(&out));
        assert!(stderr(&out).contains("config.toml"), "{}", stderr(&out));
    }
}
