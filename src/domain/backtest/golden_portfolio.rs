//! Golden tests of the whole strategy run ([`super::portfolio::run_strategy`]) with the shipped
//! chapter-15 strategy over the shared pysystemtrade CSV data: instrument weights fitted across
//! all 32 instruments (`instrument_weights_last500.csv`), the IDM, and every column of the ten
//! golden instruments through the portfolio path; plus the other 22 instruments: all run, and
//! none ends with a NaN position.

use std::path::Path;
use std::sync::OnceLock;

use super::config::{parse_strategy, StrategyConfig};
use super::golden_tests::{check_golden_column, read_golden, ABS_TOL, REL_TOL};
use super::portfolio::{run_strategy, run_strategy_shown, BacktestInputs, StrategyRun};
use crate::adapters::pysystemtrade_csv::{
    read_adjusted_prices, read_fx_prices, read_multiple_prices,
};
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::optimal::named_series;
use crate::domain::series::{AdjustedPrices, FxPrices, MultiplePrices};
use crate::test_support::{golden_backtest_dir, shared_data_dir};

/// The shared data's CSV files as backtest inputs.
struct CsvInputs<'a>(&'a Path);

impl BacktestInputs for CsvInputs<'_> {
    fn adjusted(&self, code: &InstrumentCode) -> Result<Option<AdjustedPrices>, String> {
        let path = self.0.join(format!("adjusted_prices_csv/{code}.csv"));
        read_adjusted_prices(&path)
            .map(Some)
            .map_err(|e| e.to_string())
    }
    fn multiple(&self, code: &InstrumentCode) -> Result<Option<MultiplePrices>, String> {
        let path = self.0.join(format!("multiple_prices_csv/{code}.csv"));
        read_multiple_prices(&path)
            .map(Some)
            .map_err(|e| e.to_string())
    }
    fn fx(&self, currency: &str) -> Result<Option<FxPrices>, String> {
        let path = self.0.join(format!("fx_prices_csv/{currency}USD.csv"));
        read_fx_prices(&path).map(Some).map_err(|e| e.to_string())
    }
    fn version(&self, _code: &InstrumentCode, _currencies: &[&str]) -> Option<String> {
        // The shared files do not change while the tests run.
        Some("shared".into())
    }
}

fn reference() -> ReferenceData {
    // The shipped reference files (a directory without overrides).
    crate::adapters::reference_files::load_reference_data(Path::new("/nonexistent")).unwrap()
}

pub(super) fn shipped_strategy(reference: &ReferenceData) -> StrategyConfig {
    let text = include_str!("../../../config/strategies/chapter15_equal_weights.toml");
    let known: Vec<&str> = reference.instruments.keys().map(|c| c.as_str()).collect();
    let is_known =
        |c: &str| InstrumentCode::new(c).is_ok_and(|c| reference.instrument(&c).is_some());
    parse_strategy("chapter15_equal_weights.toml", text, &is_known, &known).unwrap()
}

/// One run of the shipped strategy over the shared data, shared by the tests.
fn run() -> Option<&'static StrategyRun> {
    static RUN: OnceLock<Option<StrategyRun>> = OnceLock::new();
    RUN.get_or_init(|| {
        let data = shared_data_dir()?;
        let reference = reference();
        let strategy = shipped_strategy(&reference);
        Some(run_strategy(&strategy, &reference, &CsvInputs(&data), 2))
    })
    .as_ref()
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= ABS_TOL || (got - want).abs() <= REL_TOL * want.abs()
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn every_instrument_runs_and_ends_with_a_finite_position() {
    let Some(run) = run() else { return };
    assert!(run.skipped.is_empty(), "{:?}", run.skipped);
    assert_eq!(run.instruments.len(), 32);
    for r in &run.instruments {
        let p = &r.positions;
        let last = r.stages.days.len() - 1;
        for (name, v) in [
            ("notional_position", &p.notional_position),
            ("top_pos", &p.top_pos),
            ("bot_pos", &p.bot_pos),
        ] {
            assert!(
                v[last].is_finite(),
                "{}: {name} at the last date is {}",
                r.code,
                v[last]
            );
        }
        assert!(p.bot_pos[last] < p.top_pos[last], "{}", r.code);
    }
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_instrument_weights_of_all_32() {
    let (Some(run), Some(golden)) = (run(), golden_backtest_dir()) else {
        return;
    };
    let g = read_golden(&golden.join("instrument_weights_last500.csv"));
    let mut compared = 0;
    for r in &run.instruments {
        let want = &g.columns[&r.code];
        for (k, day) in g.days.iter().enumerate() {
            let i = r.stages.days.binary_search(day).unwrap();
            let got = r.positions.instrument_weight[i];
            assert!(
                close(got, want[k]),
                "{} row {k}: got {got}, want {}",
                r.code,
                want[k]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 32 * g.days.len());
    let idm = read_golden(&golden.join("idm_last500.csv"));
    for r in &run.instruments {
        for (k, day) in idm.days.iter().enumerate() {
            let i = r.stages.days.binary_search(day).unwrap();
            assert!(close(r.positions.idm[i], idm.columns["idm"][k]));
        }
    }
}

/// Every stage and position column of the ten golden instruments, through the portfolio run.
#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_columns_through_the_portfolio_run() {
    let Some(run) = run() else { return };
    let mut names: Vec<String> = [
        "price",
        "combined_forecast",
        "fdm",
        "subsystem_position",
        "instrument_weight",
        "idm",
        "notional_position",
        "buffer",
        "top_pos",
        "bot_pos",
    ]
    .map(String::from)
    .to_vec();
    names.extend(
        ["ewmac16_64", "ewmac32_128", "ewmac64_256", "carry"].map(|rule| format!("fw_{rule}")),
    );
    for name in &names {
        check_golden_column(name, &|_, code| {
            let r = run.instruments.iter().find(|r| r.code == code).unwrap();
            let values = named_series(r)
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_vec())
                .unwrap();
            (r.stages.days.clone(), values)
        });
    }
}

/// Two instruments shown, the other 30 remembered from a first run: the same positions, to the
/// bit, as the whole run.
#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn shown_instruments_equal_the_whole_run() {
    let (Some(whole), Some(data)) = (run(), shared_data_dir()) else {
        return;
    };
    let reference = reference();
    let strategy = shipped_strategy(&reference);
    let inputs = CsvInputs(&data);
    let none = std::collections::BTreeMap::new();
    let (_, remembered) = run_strategy_shown(&strategy, &reference, &inputs, 2, None, &none);
    assert_eq!(remembered.len(), 32);
    let shown = vec!["JPY".to_string(), "VIX".to_string()];
    let (part, _) =
        run_strategy_shown(&strategy, &reference, &inputs, 2, Some(&shown), &remembered);
    assert_eq!(part.instruments.len(), 2);
    for r in &part.instruments {
        let w = whole.instruments.iter().find(|w| w.code == r.code).unwrap();
        for (name, got) in named_series(r) {
            let want = named_series(w)
                .into_iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1;
            let same = got.len() == want.len()
                && got
                    .iter()
                    .zip(want.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{} {name} differs from the whole run", r.code);
        }
    }
}
