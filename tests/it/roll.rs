//! `systrade roll`: the roll report (text and `--json`), roll state changes by the transition
//! table (invalid ones exit 2 and write nothing, the same state is a no-op), and rolling the
//! prices with `--state roll_adjusted --yes`, then `--undo` (exact restore) or `--confirm`.
//!
//! The home is built by importing the tail of pysystemtrade's AUD multiple and adjusted prices
//! from the shared data set (skipped when absent, except under `CI=true`); contract bars are
//! written through the library. The clock is fixed at 2023-09-01 12:00 UTC.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use systrade::adapters::parquet::ParquetPriceStore;
use systrade::domain::contract::ContractId;
use systrade::domain::instrument::InstrumentCode;
use systrade::domain::ports::{Frequency, PriceStore};
use systrade::domain::series::{parse_timestamp, ContractPrices};

use crate::support::{stderr, stdout, TestHome};

const NOW: &str = "2023-09-01T12:00:00Z";
/// The last row of the fixture's multiple prices.
const LAST_ROW: &str = "2023-08-31 20:00:00";

/// Copies the header and the last `n` rows of `shared/rel` to `root/rel`.
pub(crate) fn copy_tail(shared: &Path, root: &Path, rel: &str, n: usize) {
    let text = std::fs::read_to_string(shared.join(rel)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![lines[0]];
    out.extend(&lines[lines.len().saturating_sub(n).max(1)..]);
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, out.join("\n") + "\n").unwrap();
}

fn bars(rows: &[(&str, f64, f64)]) -> ContractPrices {
    let mut b = ContractPrices::default();
    for (ts, close, volume) in rows {
        b.ts.push(parse_timestamp(ts).unwrap());
        b.open.push(*close);
        b.high.push(*close);
        b.low.push(*close);
        b.close.push(*close);
        b.volume.push(*volume);
    }
    b
}

/// A home with AUD imported (last 300 rows: price 20230900, forward and carry 20231200), daily
/// bars of the priced and forward contracts (volumes 100 and 300) and one close of the
/// contract that becomes forward and carry after a roll (20240300) at the last row.
pub(crate) fn home() -> Option<TestHome> {
    let shared = systrade::test_support::shared_data_dir()?;
    let fx = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fx.path().join("csvconfig")).unwrap();
    for entry in std::fs::read_dir(shared.join("csvconfig")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, fx.path().join("csvconfig").join(p.file_name().unwrap())).unwrap();
    }
    copy_tail(&shared, fx.path(), "multiple_prices_csv/AUD.csv", 300);
    copy_tail(&shared, fx.path(), "adjusted_prices_csv/AUD.csv", 300);
    let h = TestHome::new();
    let out = h.run(&["import", "pysystemtrade", fx.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "import: {}", stderr(&out));

    let store = ParquetPriceStore::new(h.path().join("data"));
    let aud = InstrumentCode::new("AUD").unwrap();
    let days = ["2023-08-28", "2023-08-29", "2023-08-30", "2023-08-31"];
    for (contract, close, volume) in [("20230900", 0.647, 100.0), ("20231200", 0.649, 300.0)] {
        let rows: Vec<(String, f64, f64)> = days
            .iter()
            .map(|d| (format!("{d} 23:00:00"), close, volume))
            .collect();
        let rows: Vec<(&str, f64, f64)> =
            rows.iter().map(|(t, c, v)| (t.as_str(), *c, *v)).collect();
        let c = ContractId::parse(contract).unwrap();
        store
            .write_contract(&aud, c, Frequency::Daily, &bars(&rows))
            .unwrap();
    }
    let next = ContractId::parse("20240300").unwrap();
    store
        .write_contract(
            &aud,
            next,
            Frequency::Daily,
            &bars(&[(LAST_ROW, 0.652, 5.0)]),
        )
        .unwrap();
    Some(h)
}

pub(crate) fn run(h: &TestHome, args: &[&str]) -> Output {
    h.cmd()
        .env("SYSTRADE_NOW", NOW)
        .args(args)
        .output()
        .expect("run systrade")
}

pub(crate) fn expect(h: &TestHome, args: &[&str], code: i32) -> Output {
    let out = run(h, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

pub(crate) fn json(h: &TestHome, args: &[&str]) -> Value {
    let out = expect(h, args, 0);
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn state(h: &TestHome) -> String {
    json(h, &["roll", "AUD", "--json"])["state"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) fn multiple(h: &TestHome) -> Value {
    json(h, &["prices", "show", "AUD", "--multiple", "--json"])
}

fn adjusted(h: &TestHome) -> Value {
    json(h, &["prices", "show", "AUD", "--json"])
}

fn last(v: &Value, column: &str) -> Value {
    v[column].as_array().unwrap().last().unwrap().clone()
}

fn backups(h: &TestHome) -> PathBuf {
    h.path().join("data/roll_backups/AUD")
}

fn backup_count(h: &TestHome) -> usize {
    std::fs::read_dir(backups(h)).map_or(0, |d| d.count())
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn report_shows_state_contracts_timing_volumes_and_suggestion() {
    let Some(h) = home() else { return };
    let text = stdout(&expect(&h, &["roll", "AUD"], 0));
    for needle in [
        "state:        no_roll",
        "positions:    priced 20230900 +0, forward 20231200 +0",
        "allowed next: roll_adjusted (recommended), passive, no_roll, no_open",
        "price    20230900  expiry ~2023-09-18",
        "forward  20231200",
        "desired roll 11",
        "suggestion:   roll_adjusted",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }

    let v = json(&h, &["roll", "AUD", "--json"]);
    assert_eq!(v["state"], "no_roll");
    assert_eq!(v["priced_position"], 0);
    assert_eq!(v["forward_position"], 0);
    assert_eq!(v["positions"], serde_json::json!([]));
    assert_eq!(v["demoted_to"], Value::Null);
    assert_eq!(v["allowed_next"][0], "roll_adjusted");
    assert_eq!(v["last_row"], LAST_ROW);
    assert_eq!(v["price"]["contract"], "20230900");
    assert_eq!(v["forward"]["contract"], "20231200");
    assert_eq!(v["carry"]["contract"], "20231200");
    assert_eq!(v["price"]["expiry_exact"], false);
    assert_eq!(v["days_to_price_expiry"], 16);
    assert_eq!(v["days_to_desired_roll"], 11);
    assert_eq!(v["days_to_carry_expiry"], 107);
    assert_eq!(v["price"]["last_price"], 0.64795);
    assert_eq!(v["forward"]["last_price"], 0.65005);
    let diff = v["forward_minus_price"].as_f64().unwrap();
    assert!((diff - 0.0021).abs() < 1e-9, "{diff}");
    assert!((v["priced_volume"].as_f64().unwrap() - 100.0).abs() < 1e-9);
    assert!((v["relative_volume"].as_f64().unwrap() - 3.0).abs() < 1e-9);
    assert_eq!(v["suggestion"], "roll_adjusted");

    let err = stderr(&expect(&h, &["roll", "NOPE"], 2));
    assert!(err.contains("unknown instrument"), "{err}");
    let err = stderr(&expect(&h, &["roll", "EDOLLAR"], 2));
    assert!(err.contains("no multiple prices"), "{err}");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn state_changes_follow_the_transition_table() {
    let Some(h) = home() else { return };
    let before = multiple(&h);
    let err = stderr(&expect(&h, &["roll", "AUD", "--state", "force"], 2));
    assert!(
        err.contains("allowed are roll_adjusted, passive, no_roll, no_open"),
        "{err}"
    );
    assert_eq!(state(&h), "no_roll");
    assert_eq!(multiple(&h), before);
    expect(&h, &["roll", "AUD", "--state", "bogus"], 2);

    let out = stdout(&expect(&h, &["roll", "AUD", "--state", "no_roll"], 0));
    assert!(out.contains("already no_roll"), "{out}");

    let out = stdout(&expect(&h, &["roll", "AUD", "--state", "passive"], 0));
    assert!(out.contains("no_roll -> passive"), "{out}");
    assert_eq!(state(&h), "passive");
    let v = json(&h, &["roll", "AUD", "--state", "no_open", "--json"]);
    assert_eq!(v["changed"], true);
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap()
            .contains("AUD is now reduce-only"),
        "{v}"
    );
    expect(&h, &["roll", "AUD", "--state", "no_roll"], 2);
    expect(&h, &["roll", "AUD", "--state", "passive"], 0);
    expect(&h, &["roll", "AUD", "--state", "no_roll"], 0);
    assert_eq!(state(&h), "no_roll");
    assert_eq!(multiple(&h), before);
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn roll_adjusted_rolls_then_undo_restores_exactly() {
    let Some(h) = home() else { return };
    expect(&h, &["roll", "AUD", "--state", "passive"], 0);
    let (old_multiple, old_adjusted) = (multiple(&h), adjusted(&h));
    assert_eq!(last(&old_multiple, "forward_contract"), "20231200");

    let v = json(
        &h,
        &["roll", "AUD", "--state", "roll_adjusted", "--yes", "--json"],
    );
    assert_eq!(v["pending_confirmation"], true);
    let m = multiple(&h);
    assert_eq!(
        last(&m, "price_contract"),
        last(&old_multiple, "forward_contract")
    );
    assert_eq!(last(&m, "forward_contract"), "20240300");
    assert_eq!(last(&m, "carry_contract"), "20240300");
    assert_eq!(last(&m, "price"), last(&old_multiple, "forward"));
    assert_eq!(last(&m, "forward"), 0.652);
    assert_eq!(last(&m, "timestamp"), "2023-08-31 20:00:01");
    assert_eq!(last(&adjusted(&h), "price"), last(&m, "price"));
    assert_eq!(state(&h), "roll_adjusted");
    assert_eq!(backup_count(&h), 1);
    let text = stdout(&expect(&h, &["roll", "AUD"], 0));
    assert!(text.contains("pending"), "{text}");
    // Only the roll's own transition is allowed while pending.
    expect(&h, &["roll", "AUD", "--state", "passive"], 2);

    let out = stdout(&expect(&h, &["roll", "AUD", "--undo"], 0));
    assert!(out.contains("roll undone"), "{out}");
    assert_eq!(multiple(&h), old_multiple);
    assert_eq!(adjusted(&h), old_adjusted);
    assert_eq!(state(&h), "passive");
    assert_eq!(backup_count(&h), 0);
    expect(&h, &["roll", "AUD", "--undo"], 2);
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn confirm_keeps_the_rolled_prices_and_sets_no_roll() {
    let Some(h) = home() else { return };
    expect(&h, &["roll", "AUD", "--confirm"], 2);
    expect(&h, &["roll", "AUD", "--state", "roll_adjusted", "--yes"], 0);
    let rolled = multiple(&h);
    assert_eq!(last(&rolled, "price_contract"), "20231200");
    let v = json(&h, &["roll", "AUD", "--confirm", "--json"]);
    assert_eq!(v["to"], "no_roll");
    assert_eq!(state(&h), "no_roll");
    assert_eq!(backup_count(&h), 0);
    assert_eq!(multiple(&h), rolled);
    expect(&h, &["roll", "AUD", "--undo"], 2);
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn roll_adjusted_without_yes_off_a_terminal_writes_nothing() {
    let Some(h) = home() else { return };
    let (old_multiple, old_adjusted) = (multiple(&h), adjusted(&h));
    let out = expect(&h, &["roll", "AUD", "--state", "roll_adjusted"], 2);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(multiple(&h), old_multiple);
    assert_eq!(adjusted(&h), old_adjusted);
    assert_eq!(state(&h), "no_roll");
    assert!(!backups(&h).exists());
    let err = stderr(&expect(&h, &["roll", "AUD", "--interactive"], 2));
    assert!(err.contains("needs a terminal"), "{err}");
}
