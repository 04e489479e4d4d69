//! The minimum capital report (§B31; pysystemtrade's `get_minimum_capital_table`): the capital
//! needed to hold [`MIN_CONTRACTS_HELD`] contracts of an instrument at its average forecast in a
//! portfolio with [`IDM_ASSUMED`] and [`INSTRUMENT_WEIGHT_ASSUMED`], at [`RISK_TARGET_ASSUMED`].
//!
//! one contract = point size base × price × annual % stdev ÷ risk target (both in %);
//! minimum capital = contracts held × one contract ÷ (IDM × instrument weight).

use serde::Serialize;

use super::instrument_risk::InstrumentRisk;

/// pysystemtrade's assumptions (its published report's constants).
pub const RISK_TARGET_ASSUMED: f64 = 25.0;
pub const INSTRUMENT_WEIGHT_ASSUMED: f64 = 0.04;
pub const IDM_ASSUMED: f64 = 2.5;
pub const MIN_CONTRACTS_HELD: f64 = 4.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinimumCapital {
    pub point_size_base: f64,
    pub price: f64,
    pub annual_perc_stdev: f64,
    pub risk_target: f64,
    pub minimum_capital_one_contract: f64,
    pub minimum_position_contracts: f64,
    pub instrument_weight: f64,
    #[serde(rename = "IDM")]
    pub idm: f64,
    pub minimum_capital: f64,
}

/// The minimum capital of an instrument with risk `r`.
pub fn minimum_capital(r: &InstrumentRisk) -> MinimumCapital {
    let one = r.point_size_base * r.price * r.annual_perc_stdev / RISK_TARGET_ASSUMED;
    MinimumCapital {
        point_size_base: r.point_size_base,
        price: r.price,
        annual_perc_stdev: r.annual_perc_stdev,
        risk_target: RISK_TARGET_ASSUMED,
        minimum_capital_one_contract: one,
        minimum_position_contracts: MIN_CONTRACTS_HELD,
        instrument_weight: INSTRUMENT_WEIGHT_ASSUMED,
        idm: IDM_ASSUMED,
        minimum_capital: MIN_CONTRACTS_HELD * one / (IDM_ASSUMED * INSTRUMENT_WEIGHT_ASSUMED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_case() {
        // A contract of 50 points at 4000 with 20% annual vol: one contract needs
        // 50 × 4000 × 20 / 25 = 160,000; four contracts at IDM 2.5 and weight 4%:
        // 4 × 160,000 / 0.1 = 6,400,000.
        let r = InstrumentRisk {
            daily_price_stdev: 50.0,
            annual_price_stdev: 800.0,
            price: 4000.0,
            daily_perc_stdev: 1.25,
            annual_perc_stdev: 20.0,
            point_size_base: 50.0,
            contract_exposure: 200_000.0,
            daily_risk_per_contract: 2_500.0,
            annual_risk_per_contract: 40_000.0,
            position: 0,
            capital: 1.0,
            exposure_held_perc_capital: 0.0,
            annual_risk_perc_capital: 0.0,
        };
        let m = minimum_capital(&r);
        assert!((m.minimum_capital_one_contract - 160_000.0).abs() < 1e-6);
        assert!((m.minimum_capital - 6_400_000.0).abs() < 1e-4);
    }
}
