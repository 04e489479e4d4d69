//! Golden tests of the position stages ([`super::position`]) against pysystemtrade's outputs
//! (last 500 rows of ten instruments, and the buffers at the last date).

use std::path::Path;

use super::golden_tests::{
    check_golden_column, read_golden, stages_for, ABS_TOL, INSTRUMENTS, REL_TOL,
};
use super::position::{fx_on_days, size_positions, PositionConfig, PositionStages};
use crate::adapters::pysystemtrade_csv::read_fx_prices;
use crate::test_support::{golden_backtest_dir, shared_data_dir};

/// Point size and currency of `code` from the pysystemtrade instrument config, read with the
/// same parser as the shipped reference data.
fn point_size_and_currency(data: &Path, code: &str) -> (f64, String) {
    let path = data.join("csvconfig/instrumentconfig.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let instruments =
        crate::adapters::reference_files::parse_instruments(&path.display().to_string(), &text)
            .unwrap();
    let i = &instruments[&crate::domain::instrument::InstrumentCode::new(code).unwrap()];
    (i.point_size, i.currency.clone())
}

/// The days of the grid and the position stages of `code`.
fn positions_for(data: &Path, code: &str) -> (Vec<i64>, PositionStages) {
    let stages = stages_for(data, code);
    let (point_size, currency) = point_size_and_currency(data, code);
    let fx = if currency == "USD" {
        vec![1.0; stages.days.len()]
    } else {
        let fx = read_fx_prices(&data.join(format!("fx_prices_csv/{currency}USD.csv"))).unwrap();
        fx_on_days(&fx.ts, &fx.value, &stages.days)
    };
    let positions = size_positions(&stages, point_size, &fx, &PositionConfig::chapter15()).unwrap();
    (stages.days, positions)
}

fn column(p: &PositionStages, name: &str) -> Vec<f64> {
    let cfg = PositionConfig::chapter15();
    match name {
        "fx_rate_ffill" => p.fx_rate.clone(),
        "block_value" => p.block_value.clone(),
        "instr_ccy_vol" => p.instr_ccy_vol.clone(),
        "instr_value_vol" => p.instr_value_vol.clone(),
        "vol_scalar" => p.vol_scalar.clone(),
        "subsystem_position" => p.subsystem_position.clone(),
        "instrument_weight" => vec![cfg.instrument_weight; p.fx_rate.len()],
        "idm" => vec![cfg.idm; p.fx_rate.len()],
        "notional_position" => p.notional_position.clone(),
        "buffer" => p.buffer.clone(),
        "top_pos" => p.top_pos.clone(),
        "bot_pos" => p.bot_pos.clone(),
        _ => panic!("unknown column {name}"),
    }
}

fn check_column(name: &str) {
    check_golden_column(name, &|data, code| {
        let (days, p) = positions_for(data, code);
        (days, column(&p, name))
    });
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_fx_rate_ffill() {
    check_column("fx_rate_ffill");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_block_value() {
    check_column("block_value");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_instr_ccy_vol() {
    check_column("instr_ccy_vol");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_instr_value_vol() {
    check_column("instr_value_vol");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_vol_scalar() {
    check_column("vol_scalar");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_subsystem_position() {
    check_column("subsystem_position");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_instrument_weight_and_idm() {
    check_column("instrument_weight");
    check_column("idm");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_notional_position() {
    check_column("notional_position");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_buffer() {
    check_column("buffer");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_buffered_positions() {
    check_column("top_pos");
    check_column("bot_pos");
}

/// `buffers_last_date.csv`: notional position, edges, width and subsystem position at the last
/// date of every golden instrument.
#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_buffers_last_date() {
    let (Some(data), Some(golden)) = (shared_data_dir(), golden_backtest_dir()) else {
        return;
    };
    let text = std::fs::read_to_string(golden.join("buffers_last_date.csv")).unwrap();
    let close = |got: f64, want: f64| {
        (got - want).abs() <= ABS_TOL || (got - want).abs() <= REL_TOL * want.abs()
    };
    let mut rows = 0;
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let want: Vec<f64> = cells[2..].iter().map(|c| c.parse().unwrap()).collect();
        let (days, p) = positions_for(&data, cells[0]);
        let g = read_golden(&golden.join(format!("timeseries/{}.csv", cells[0])));
        let last = *g.days.last().unwrap();
        let i = days.binary_search(&last).unwrap();
        let got = [
            p.notional_position[i],
            p.bot_pos[i],
            p.top_pos[i],
            p.buffer[i],
            p.subsystem_position[i],
        ];
        for (k, (&g, &w)) in got.iter().zip(&want).enumerate() {
            assert!(close(g, w), "{} column {k}: got {g}, want {w}", cells[0]);
        }
        rows += 1;
    }
    // COPPER's golden files came later, without a buffers_last_date.csv row.
    assert_eq!(rows, INSTRUMENTS.iter().filter(|c| **c != "COPPER").count());
}
