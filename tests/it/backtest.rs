//! `systrade backtest`: the shipped chapter-15 strategy run on imported AUD prices matches
//! pysystemtrade's golden outputs; a bad strategy config exits 2 naming file and line; an
//! instrument without prices is skipped with exit 1.
//!
//! Needs the shared pysystemtrade data and golden files (`systrade::test_support`); without them
//! the tests are built as ignored (`build.rs`), except under `CI=true`, where they fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::support::{stderr, stdout, TestHome};

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn strategy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/strategies/chapter15_equal_weights.toml")
}

/// Copies the shared data's `csvconfig/` (instrument, roll and spread cost files) into `dir`.
fn copy_csvconfig(shared: &Path, dir: &Path) {
    std::fs::create_dir_all(dir.join("csvconfig")).unwrap();
    for entry in std::fs::read_dir(shared.join("csvconfig")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("csvconfig").join(entry.file_name())).unwrap();
    }
}

/// A home with the real csvconfig/, the full multiple and adjusted prices of AUD and SP500 and
/// EURUSD imported.
fn home_with_prices(shared: &Path) -> TestHome {
    let d = tempfile::tempdir().unwrap();
    copy_csvconfig(shared, d.path());
    for rel in [
        "multiple_prices_csv/AUD.csv",
        "multiple_prices_csv/SP500.csv",
        "adjusted_prices_csv/AUD.csv",
        "adjusted_prices_csv/SP500.csv",
        "fx_prices_csv/EURUSD.csv",
    ] {
        let to = d.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(shared.join(rel), &to).unwrap();
    }
    let h = TestHome::new();
    let out = h.run(&["import", "pysystemtrade", s(d.path())]);
    assert_eq!(out.status.code(), Some(0), "import: {}", stderr(&out));
    h
}

/// CSV text as a header → column map (cells as text) and the date column.
fn read_csv(path: &Path) -> (Vec<String>, HashMap<String, Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    for line in lines.filter(|l| !l.is_empty()) {
        for (k, c) in line.split(',').enumerate() {
            cols[k].push(c.to_string());
        }
    }
    let dates = cols[0].clone();
    (dates, header.into_iter().zip(cols).collect())
}

fn num(c: &str) -> f64 {
    if c.is_empty() {
        f64::NAN
    } else {
        c.parse().unwrap_or_else(|e| panic!("`{c}`: {e}"))
    }
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn aud_matches_golden() {
    let (Some(shared), Some(golden)) = (
        systrade::test_support::shared_data_dir(),
        systrade::test_support::golden_backtest_dir(),
    ) else {
        return;
    };
    // The whole shared data set: instrument weights are fitted across all 32 instruments.
    let h = TestHome::new();
    let out = h.run(&["import", "pysystemtrade", s(&shared)]);
    assert_eq!(out.status.code(), Some(0), "import: {}", stderr(&out));
    let out_dir = h.path().join("out");
    let out = h.run(&[
        "backtest",
        s(&strategy()),
        "--instrument",
        "AUD",
        "--csv",
        s(&out_dir),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (our_dates, ours) = read_csv(&out_dir.join("AUD.csv"));
    let (dates, want) = read_csv(&golden.join("timeseries/AUD.csv"));
    // Every golden column is written, under the same name.
    let mut columns: Vec<&String> = want.keys().filter(|c| c.as_str() != "date").collect();
    columns.sort();
    for c in &columns {
        assert!(ours.contains_key(*c), "column {c} missing from our CSV");
    }
    let index: HashMap<&str, usize> = our_dates
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut compared = 0;
    for col in columns.iter().map(|c| c.as_str()) {
        for (k, day) in dates.iter().enumerate() {
            let i = *index
                .get(day.as_str())
                .unwrap_or_else(|| panic!("{day} missing"));
            let (got, exp) = (num(&ours[col][i]), num(&want[col][k]));
            if exp.is_nan() || got.is_nan() {
                assert_eq!(got.is_nan(), exp.is_nan(), "{col} {day}: {got} vs {exp}");
                continue;
            }
            let err = (got - exp).abs();
            assert!(
                err <= 1e-10 || err <= 1e-8 * exp.abs(),
                "{col} {day}: got {got}, want {exp}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 30 * 480, "only {compared} values compared");

    // The summary: table and JSON agree on the last date of both instruments.
    let out = h.run(&["backtest", s(&strategy()), "--instrument", "AUD", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["instruments"][0]["instrument"], "AUD");
    let last = dates.last().unwrap();
    assert_eq!(v["instruments"][0]["date"], last.as_str());
    let top = v["instruments"][0]["top_pos"].as_f64().unwrap();
    let want_top = num(want["top_pos"].last().unwrap());
    assert!((top - want_top).abs() <= 1e-8 * want_top.abs());

    // That run took the other 31 instruments from the cache the first one wrote. A damaged
    // cache, or another instrument's prices rewritten, only costs time: the same answer, and
    // the rewritten instrument is remembered under its new version.
    let cache = h
        .path()
        .join("backtests/cache/chapter15_equal_weights.json");
    let remembered: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    assert_eq!(remembered["instruments"].as_object().unwrap().len(), 32);
    let same_answer = |why: &str| {
        let again = h.run(&["backtest", s(&strategy()), "--instrument", "AUD", "--json"]);
        assert_eq!(again.status.code(), Some(0), "{why}: {}", stderr(&again));
        assert_eq!(again.stdout, out.stdout, "{why}");
    };
    std::fs::write(&cache, b"{ not json").unwrap();
    same_answer("damaged cache");
    let corn = h.path().join("data/adjusted/CORN.parquet");
    let copy = h.path().join("data/adjusted/CORN.copy");
    std::fs::copy(&corn, &copy).unwrap();
    std::fs::rename(&copy, &corn).unwrap();
    same_answer("CORN's prices rewritten");
    let after: serde_json::Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    let version = |v: &serde_json::Value| v["instruments"]["CORN"]["version"].clone();
    assert_ne!(version(&after), version(&remembered));
    assert_eq!(
        after["instruments"]["CORN"]["inputs"],
        remembered["instruments"]["CORN"]["inputs"]
    );
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn missing_prices_are_skipped_and_bad_configs_rejected() {
    let Some(shared) = systrade::test_support::shared_data_dir() else {
        return;
    };
    let h = home_with_prices(&shared);
    // SP500 runs; CORN has no prices in this home: reported, skipped, exit 1.
    let out = h.run(&[
        "backtest",
        s(&strategy()),
        "--instrument",
        "SP500",
        "--instrument",
        "CORN",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("SP500"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("CORN: skipped: no adjusted prices"),
        "{}",
        stderr(&out)
    );

    // A bad config: exit 2, file and line of each error, nothing run.
    let text = std::fs::read_to_string(strategy())
        .unwrap()
        .replace("kind = \"carry\"", "kind = \"carri\"")
        .replace("percentage_vol_target = 20.0", "percentage_vol_target = 0");
    let bad = h.path().join("bad.toml");
    std::fs::write(&bad, text).unwrap();
    let out = h.run(&["backtest", s(&bad)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:8:", s(&bad))), "{err}");
    assert!(err.contains("did you mean `carry`?"), "{err}");
    assert!(err.contains(&format!("{}:33:", s(&bad))), "{err}");

    // An instrument not in the strategy: exit 2.
    let out = h.run(&["backtest", s(&strategy()), "--instrument", "AUX"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did you mean `AUD`?"),
        "{}",
        stderr(&out)
    );
}

/// Prices too short for a volatility: the instrument runs but has no position at its last date;
/// that is said on stderr and in `skipped`, never shown as a silent NaN position.
#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn an_instrument_without_a_finite_position_is_reported() {
    let Some(shared) = systrade::test_support::shared_data_dir() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    copy_csvconfig(&shared, d.path());
    std::fs::create_dir_all(d.path().join("adjusted_prices_csv")).unwrap();
    std::fs::create_dir_all(d.path().join("multiple_prices_csv")).unwrap();
    std::fs::write(
        d.path().join("adjusted_prices_csv/SP500.csv"),
        "DATETIME,price\n2023-08-29 23:00:00,4500.0\n2023-08-30 23:00:00,4510.0\n2023-08-31 23:00:00,4505.0\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("multiple_prices_csv/SP500.csv"),
        "DATETIME,CARRY,CARRY_CONTRACT,PRICE,PRICE_CONTRACT,FORWARD,FORWARD_CONTRACT\n\
         2023-08-29 23:00:00,,20231200,4500.0,20230900,,20231200\n\
         2023-08-30 23:00:00,,20231200,4510.0,20230900,,20231200\n\
         2023-08-31 23:00:00,,20231200,4505.0,20230900,,20231200\n",
    )
    .unwrap();
    let h = TestHome::new();
    let out = h.run(&["import", "pysystemtrade", s(d.path())]);
    assert_eq!(out.status.code(), Some(0), "import: {}", stderr(&out));
    let out = h.run(&[
        "backtest",
        s(&strategy()),
        "--instrument",
        "SP500",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("SP500: no position: notional position at 2023-08-31 is NaN"),
        "{}",
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["skipped"][0]["instrument"], "SP500", "{v}");
}
