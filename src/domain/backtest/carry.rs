//! Carry: pysystemtrade's `rawdata.raw_carry` (annualised roll over annualised vol, from
//! `sysobjects/carry_data.py`) and the carry rule (`systems/provided/rules/carry.py`).

use crate::domain::contract::ContractId;
use crate::domain::merge::ewma_mean_com;
use crate::domain::series::MultiplePrices;

use super::vol::BUSINESS_DAYS_IN_YEAR;

/// pysystemtrade's `CALENDAR_DAYS_IN_YEAR`.
pub const CALENDAR_DAYS_IN_YEAR: f64 = 365.25;

/// A contract id as a year fraction, as pysystemtrade: `YYYYMMDD // 10000 + (YYYYMMDD % 10000)
/// / 100 / 12` (the day becomes hundredths of a month).
pub fn contract_year_frac(c: ContractId) -> f64 {
    let x = f64::from(c.as_number());
    let years = (x / 10_000.0).floor();
    let month = x.rem_euclid(10_000.0) / 100.0;
    years + month / 12.0
}

/// Prices this close (relative) are the same price: [`annualised_roll`]'s zero roll.
pub const SAME_PRICE: f64 = 1e-12;

/// Annualised roll per multiple-prices row: `(PRICE − CARRY)` (NaN when zero) over the carry
/// minus price contract distance in years, floored in magnitude at one day (`apply_abs_min`).
///
/// "Zero" includes a difference of a few units in the last place (within [`SAME_PRICE`]
/// relative): pandas' CSV parser reads `2.6310000000000002` as `2.631`, so pysystemtrade sees
/// such a row as a zero roll and drops it, where a correctly rounded parse leaves 4e-16
/// (COPPER 2018-09-11 23:00, the only such row in the shared data; ARCHITECTURE.md, "COPPER
/// carry").
pub fn annualised_roll(m: &MultiplePrices) -> Vec<f64> {
    let floor = 1.0 / CALENDAR_DAYS_IN_YEAR;
    (0..m.len())
        .map(|i| {
            let roll = m.price[i] - m.carry[i];
            let same = roll.abs() <= SAME_PRICE * m.price[i].abs().max(m.carry[i].abs());
            let roll = if same { f64::NAN } else { roll };
            let mut d =
                contract_year_frac(m.carry_contract[i]) - contract_year_frac(m.price_contract[i]);
            if d > 0.0 && d < floor {
                d = floor;
            } else if d < 0.0 && d > -floor {
                d = -floor;
            }
            roll / d
        })
        .collect()
}

/// `raw_carry = daily annualised roll / (daily vol × 16)`, both on the same daily grid.
pub fn raw_carry(daily_ann_roll: &[f64], vol: &[f64]) -> Vec<f64> {
    let root = BUSINESS_DAYS_IN_YEAR.sqrt();
    daily_ann_roll
        .iter()
        .zip(vol)
        .map(|(&r, &v)| r / (v * root))
        .collect()
}

/// The carry rule: `raw_carry.ewm(smooth_days).mean()` — note pandas reads the bare argument
/// as a centre of mass, not a span.
pub fn carry_forecast(raw_carry: &[f64], smooth_days: f64) -> Vec<f64> {
    ewma_mean_com(raw_carry, smooth_days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> ContractId {
        ContractId::parse(s).unwrap()
    }

    #[test]
    fn year_fractions_and_roll() {
        assert_eq!(contract_year_frac(c("20231200")), 2024.0);
        assert!((contract_year_frac(c("20230315")) - (2023.0 + 3.15 / 12.0)).abs() < 1e-12);
        let m = MultiplePrices {
            ts: vec![0, 1, 2],
            price: vec![100.0, 100.0, 100.0],
            forward: vec![f64::NAN; 3],
            carry: vec![99.0, 100.0, 98.0],
            price_contract: vec![c("20230300"), c("20230300"), c("20230300")],
            carry_contract: vec![c("20230600"), c("20230600"), c("20230301")],
            forward_contract: vec![c("20230600"); 3],
        };
        let r = annualised_roll(&m);
        assert!((r[0] - 4.0).abs() < 1e-9); // 1 point over a quarter
                                            // Zero roll is NaN; 0.01/12 years is under a day: floored to 1/365.25.
        assert!(r[1].is_nan());
        assert!((r[2] - 2.0 * 365.25).abs() < 1e-9);
        let rc = raw_carry(&[3.2, f64::NAN], &[0.1, 0.1]);
        assert!((rc[0] - 2.0).abs() < 1e-12);
        assert!(rc[1].is_nan());
        // Prices one unit in the last place apart are the same price (pandas reads the
        // second as the first); a tick apart they are not.
        let mut m = m;
        m.price = vec![2.631, 2.631, 2.631];
        m.carry = vec!["2.6310000000000002".parse().unwrap(), 2.631, 2.632];
        assert_ne!(m.price[0], m.carry[0]);
        let r = annualised_roll(&m);
        assert!(r[0].is_nan() && r[1].is_nan());
        assert!((r[2] + 0.001 * 365.25).abs() < 1e-9);
        // com 1 → α = 0.5.
        let f = carry_forecast(&[1.0, f64::NAN, 4.0], 1.0);
        assert_eq!(f[1], 1.0);
        assert!((f[2] - (0.25 + 4.0) / 1.25).abs() < 1e-15);
    }
}
