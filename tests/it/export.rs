//! `systrade export pysystemtrade DIR`: importing a pysystemtrade directory and exporting it
//! again reproduces every value of every series file (each file parsed on both sides and
//! compared value by value, bit for bit), on the small set in `tests/data/` and on the whole
//! shared data set; the contracts' bars come out in pysystemtrade's per-contract format; a
//! directory that is not empty is refused with nothing written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use systrade::adapters::pysystemtrade_csv::{
    read_adjusted_prices, read_fx_prices, read_multiple_prices, read_roll_calendar,
};
use systrade::domain::series::PriceSeries;

use crate::support::{json_of, stderr, TestHome};

const FOLDERS: [&str; 4] = [
    "multiple_prices_csv",
    "adjusted_prices_csv",
    "fx_prices_csv",
    "roll_calendars_csv",
];

fn csv_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".csv"))
                .collect()
        })
        .unwrap_or_default()
}

fn same_values(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: row count");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            "{what} row {i}: {x} exported as {y}"
        );
    }
}

fn same_series(a: &PriceSeries, b: &PriceSeries, what: &str) {
    assert_eq!(a.ts, b.ts, "{what}: timestamps");
    same_values(&a.value, &b.value, what);
}

/// Imports `source` into a fresh home, exports it, and compares every series file; returns the
/// number of files compared.
fn round_trip(source: &Path) -> usize {
    let h = TestHome::new();
    let out = h.run(&["import", "pysystemtrade", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let target: PathBuf = h.path().join("export");
    let v = json_of(
        &h,
        &[
            "export",
            "pysystemtrade",
            target.to_str().unwrap(),
            "--json",
        ],
    );
    let mut compared = 0;
    for folder in FOLDERS {
        let names = csv_names(&source.join(folder));
        assert_eq!(names, csv_names(&target.join(folder)), "{folder}: {v}");
        for name in names {
            let (a, b) = (
                source.join(folder).join(&name),
                target.join(folder).join(&name),
            );
            let what = format!("{folder}/{name}");
            match folder {
                "multiple_prices_csv" => {
                    let (x, y) = (
                        read_multiple_prices(&a).unwrap(),
                        read_multiple_prices(&b).unwrap(),
                    );
                    assert_eq!(x.ts, y.ts, "{what}");
                    same_values(&x.price, &y.price, &what);
                    same_values(&x.forward, &y.forward, &what);
                    same_values(&x.carry, &y.carry, &what);
                    assert_eq!(x.price_contract, y.price_contract, "{what}");
                    assert_eq!(x.forward_contract, y.forward_contract, "{what}");
                    assert_eq!(x.carry_contract, y.carry_contract, "{what}");
                }
                "adjusted_prices_csv" => same_series(
                    &read_adjusted_prices(&a).unwrap(),
                    &read_adjusted_prices(&b).unwrap(),
                    &what,
                ),
                "fx_prices_csv" => same_series(
                    &read_fx_prices(&a).unwrap(),
                    &read_fx_prices(&b).unwrap(),
                    &what,
                ),
                _ => {
                    let (x, y) = (
                        read_roll_calendar(&a).unwrap(),
                        read_roll_calendar(&b).unwrap(),
                    );
                    assert_eq!(x.ts, y.ts, "{what}");
                    assert_eq!(
                        (x.current, x.next, x.carry),
                        (y.current, y.next, y.carry),
                        "{what}"
                    );
                }
            }
            compared += 1;
        }
    }
    assert_eq!(
        v["summary"]["multiple"].as_u64().unwrap() as usize,
        csv_names(&source.join("multiple_prices_csv")).len()
    );
    // The exported directory imports again.
    let again = TestHome::new();
    let out = again.run(&["import", "pysystemtrade", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    compared
}

#[test]
fn the_small_data_set_exports_every_value_back() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pysystemtrade");
    assert!(round_trip(&source) >= 4);
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (SYSTRADE_TEST_DATA or ../shared/data/pysystemtrade)"
)]
fn the_shared_data_exports_every_value_back() {
    let source = systrade::test_support::shared_data_dir().expect("shared data");
    assert!(round_trip(&source) > 100);
}

#[test]
fn contract_bars_are_written_per_contract_and_a_used_directory_is_refused() {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[prices]\ninstruments = [\"CORN\"]\n\n[market]\nsim_start = \"2024-01-01\"\n",
    )
    .unwrap();
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2024-06-28T23:30:00Z")
        .args([
            "trigger",
            "daily",
            "update_multiple_adjusted_prices",
            "--with-upstream",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let target = h.path().join("export");
    let v = json_of(
        &h,
        &[
            "export",
            "pysystemtrade",
            target.to_str().unwrap(),
            "--json",
        ],
    );
    let contracts = csv_names(&target.join("contract_prices"));
    assert!(!contracts.is_empty(), "{v}");
    assert!(
        contracts
            .iter()
            .all(|n| n.starts_with("CORN_") && n.len() == "CORN_20240700.csv".len()),
        "{contracts:?}"
    );
    let first = contracts.iter().next().unwrap();
    let text = std::fs::read_to_string(target.join("contract_prices").join(first)).unwrap();
    assert!(
        text.starts_with("DATETIME,OPEN,HIGH,LOW,FINAL,VOLUME\n"),
        "{text}"
    );
    assert!(text.lines().count() > 1);

    // A directory that holds anything is refused, and nothing in it changes.
    let used = h.path().join("used");
    std::fs::create_dir_all(&used).unwrap();
    std::fs::write(used.join("keep.txt"), "mine").unwrap();
    let out = h.run(&["export", "pysystemtrade", used.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    assert_eq!(csv_names(&used).len(), 0);
    assert_eq!(std::fs::read_dir(&used).unwrap().count(), 1);
}
