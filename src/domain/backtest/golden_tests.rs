//! Golden tests: every stage against pysystemtrade's outputs (last 500 rows of eleven instruments).

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;

use super::{run_instrument, InstrumentStages, SystemConfig};
use crate::adapters::pysystemtrade_csv::{read_adjusted_prices, read_multiple_prices};
use crate::test_support::{golden_backtest_dir, shared_data_dir};

pub(super) const INSTRUMENTS: [&str; 11] = [
    "AUD", "COPPER", "CORN", "EUROSTX", "GOLD", "JPY", "KR3", "LEANHOG", "SP500", "US10", "VIX",
];
pub(super) const REL_TOL: f64 = 1e-8;
pub(super) const ABS_TOL: f64 = 1e-10;

/// A golden timeseries file: day numbers and named columns (empty cells are NaN).
pub(super) struct Golden {
    pub(super) days: Vec<i64>,
    pub(super) columns: HashMap<String, Vec<f64>>,
}

pub(super) fn read_golden(path: &Path) -> Golden {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut days = Vec::new();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    for line in lines.filter(|l| !l.is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let d = NaiveDate::parse_from_str(cells[0], "%Y-%m-%d").unwrap();
        days.push((d - epoch).num_days());
        for (k, c) in cells.iter().enumerate().skip(1) {
            cols[k].push(if c.is_empty() {
                f64::NAN
            } else {
                c.parse().unwrap()
            });
        }
    }
    let columns = header
        .iter()
        .zip(cols)
        .skip(1)
        .map(|(h, v)| (h.to_string(), v))
        .collect();
    Golden { days, columns }
}

pub(super) fn stages_for(data: &Path, code: &str) -> InstrumentStages {
    let adjusted =
        read_adjusted_prices(&data.join(format!("adjusted_prices_csv/{code}.csv"))).unwrap();
    let multiple =
        read_multiple_prices(&data.join(format!("multiple_prices_csv/{code}.csv"))).unwrap();
    run_instrument(&adjusted, &multiple, &SystemConfig::chapter15())
}

fn column<'a>(s: &'a InstrumentStages, name: &str) -> &'a [f64] {
    match name {
        "price" => &s.price,
        "denom_price" => &s.denom_price,
        "daily_returns_vol" => &s.daily_returns_vol,
        "daily_pct_vol" => &s.daily_pct_vol,
        "raw_carry" => &s.raw_carry,
        "combined_forecast" => &s.combined_forecast,
        "fdm" => &s.fdm,
        _ => {
            let (list, rule) = if let Some(r) = name.strip_prefix("rawfc_") {
                (&s.raw_forecasts, r)
            } else if let Some(r) = name.strip_prefix("capfc_") {
                (&s.capped_forecasts, r)
            } else if let Some(r) = name.strip_prefix("fw_") {
                (&s.forecast_weights, r)
            } else {
                panic!("unknown column {name}")
            };
            &list.iter().find(|f| f.rule == rule).unwrap().values
        }
    }
}

/// Our day grid and one column on it, for an instrument: `(data dir, code) -> (days, values)`.
pub(super) type ColumnSource<'a> = dyn Fn(&Path, &str) -> (Vec<i64>, Vec<f64>) + 'a;

/// Compares `name` over all golden instruments against the values `ours` computes for an
/// instrument (its day grid and the column on it); panics with the worst relative error and the
/// first mismatches.
pub(super) fn check_golden_column(name: &str, ours: &ColumnSource<'_>) {
    let (Some(data), Some(golden)) = (shared_data_dir(), golden_backtest_dir()) else {
        return;
    };
    check_golden_column_in(&data, &golden, &INSTRUMENTS, name, ours);
}

/// [`check_golden_column`] over `codes` of the data set `data` and golden files `golden`.
pub(super) fn check_golden_column_in(
    data: &Path,
    golden: &Path,
    codes: &[&str],
    name: &str,
    ours: &ColumnSource<'_>,
) {
    let mut worst = 0.0f64;
    let mut worst_at = String::new();
    let mut failures = Vec::new();
    let mut compared = 0usize;
    for &code in codes {
        let g = read_golden(&golden.join(format!("timeseries/{code}.csv")));
        let (days, values) = ours(data, code);
        let expected = &g.columns[name];
        for (k, &day) in g.days.iter().enumerate() {
            let want = expected[k];
            let got = match days.binary_search(&day) {
                Ok(i) => values[i],
                Err(_) => {
                    failures.push(format!("{code} day {day}: not on our grid"));
                    continue;
                }
            };
            compared += 1;
            if want.is_nan() || got.is_nan() {
                if want.is_nan() != got.is_nan() {
                    failures.push(format!("{code} row {k}: got {got}, want {want}"));
                }
                continue;
            }
            let err = (got - want).abs();
            let rel = err / want.abs();
            // Near zero the absolute tolerance rules; the report shows relative errors only.
            if want.abs() >= ABS_TOL && rel > worst {
                worst = rel;
                worst_at = format!("{code} row {k}: got {got}, want {want}");
            }
            if err > ABS_TOL && err > REL_TOL * want.abs() {
                failures.push(format!(
                    "{code} row {k}: got {got}, want {want} (rel {rel:e})"
                ));
            }
        }
    }
    eprintln!("{name}: {compared} rows, worst relative error {worst:e} ({worst_at})");
    assert!(
        failures.is_empty(),
        "{name}: {} mismatches, worst relative error {worst:e} ({worst_at}); first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

/// Every stage column checked here, on the small data set in the repo (runs on a fresh clone).
#[test]
fn golden_columns_in_the_repo_data() {
    let data = crate::test_support::repo_data_dir();
    let golden = crate::test_support::repo_golden_dir();
    let mut names: Vec<String> = [
        "price",
        "denom_price",
        "daily_returns_vol",
        "daily_pct_vol",
        "raw_carry",
        "fdm",
        "combined_forecast",
    ]
    .map(String::from)
    .to_vec();
    for rule in ["ewmac16_64", "ewmac32_128", "ewmac64_256", "carry"] {
        for stage in ["rawfc", "capfc", "fw"] {
            names.push(format!("{stage}_{rule}"));
        }
    }
    for name in &names {
        check_golden_column_in(
            &data,
            &golden,
            &crate::test_support::REPO_INSTRUMENTS,
            name,
            &|data, code| {
                let s = stages_for(data, code);
                let values = column(&s, name).to_vec();
                (s.days, values)
            },
        );
    }
}

fn check_column(name: &str) {
    check_golden_column(name, &|data, code| {
        let s = stages_for(data, code);
        let values = column(&s, name).to_vec();
        (s.days, values)
    });
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_price() {
    check_column("price");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_denom_price() {
    check_column("denom_price");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_daily_returns_vol() {
    check_column("daily_returns_vol");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_daily_pct_vol() {
    check_column("daily_pct_vol");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_raw_carry() {
    check_column("raw_carry");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_raw_forecasts() {
    for rule in ["ewmac16_64", "ewmac32_128", "ewmac64_256", "carry"] {
        check_column(&format!("rawfc_{rule}"));
    }
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_capped_forecasts() {
    for rule in ["ewmac16_64", "ewmac32_128", "ewmac64_256", "carry"] {
        check_column(&format!("capfc_{rule}"));
    }
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_forecast_weights_and_fdm() {
    for rule in ["ewmac16_64", "ewmac32_128", "ewmac64_256", "carry"] {
        check_column(&format!("fw_{rule}"));
    }
    check_column("fdm");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_combined_forecast() {
    check_column("combined_forecast");
}
