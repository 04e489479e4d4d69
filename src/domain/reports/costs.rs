//! Trading costs in Sharpe-ratio units (§B28; pysystemtrade's
//! `sysproduction/reporting/data/costs.py` `get_SR_cost_calculation_for_instrument` and
//! `instrumentCosts.calculate_cost_percentage_terms`), for one contract:
//!
//! * cost (instrument currency) = spread cost × point size + commission, commission =
//!   max(per block, per trade, percentage × price × point size);
//! * percentage cost = cost ÷ (price × point size), price = the mean adjusted price of the last
//!   365 days;
//! * SR cost = 2 × percentage cost ÷ annual % stdev (a round trip; the stdev as a fraction).
//!
//! The report shows it with spreads and commission, commission only, and spreads only.

use serde::Serialize;

/// What a contract's trading cost is made of, in the instrument's currency and price units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostTerms {
    /// Slippage per contract per trade, price units (`spreadcosts.csv`).
    pub spread_cost: f64,
    pub point_size: f64,
    pub per_block: f64,
    pub per_trade: f64,
    /// Commission as a fraction of notional.
    pub percentage: f64,
}

/// Which parts of the cost are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostParts {
    All,
    CommissionOnly,
    SpreadOnly,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrCost {
    pub percentage_cost: f64,
    pub avg_annual_vol_perc: f64,
    #[serde(rename = "SR_cost")]
    pub sr_cost: f64,
}

/// The cost of trading `blocks` contracts at `price`, instrument currency.
pub fn cost_instrument_currency(t: &CostTerms, parts: CostParts, blocks: f64, price: f64) -> f64 {
    let value_per_block = price * t.point_size;
    let slippage = blocks.abs() * t.spread_cost * t.point_size;
    let commission = [
        blocks.abs() * t.per_block,
        t.per_trade,
        t.percentage * blocks.abs() * value_per_block,
    ]
    .into_iter()
    .fold(f64::NEG_INFINITY, f64::max);
    match parts {
        CostParts::All => slippage + commission,
        CostParts::CommissionOnly => commission,
        CostParts::SpreadOnly => slippage,
    }
}

/// The SR cost of one contract at `average_price` (last year's mean adjusted price) with
/// `annual_perc_stdev` (in %, as the instrument risk has it).
pub fn sr_cost(
    t: &CostTerms,
    parts: CostParts,
    average_price: f64,
    annual_perc_stdev: f64,
) -> SrCost {
    let percentage_cost =
        cost_instrument_currency(t, parts, 1.0, average_price) / (average_price * t.point_size);
    let avg_annual_vol_perc = annual_perc_stdev / 100.0;
    SrCost {
        percentage_cost,
        avg_annual_vol_perc,
        sr_cost: 2.0 * percentage_cost / avg_annual_vol_perc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SP500: CostTerms = CostTerms {
        spread_cost: 0.125,
        point_size: 5.0,
        per_block: 0.62,
        per_trade: 0.0,
        percentage: 0.0,
    };

    #[test]
    fn hand_computed_sr_cost() {
        // 0.125 × 5 + max(0.62, 0, 0) = 1.245 per contract on 4000 × 5 = 20,000 notional:
        // 6.225e-5; over 16% annual vol, a round trip costs 2 × 6.225e-5 / 0.16 = 7.78125e-4 SR.
        let c = sr_cost(&SP500, CostParts::All, 4000.0, 16.0);
        assert!((c.percentage_cost - 6.225e-5).abs() < 1e-15);
        assert!((c.sr_cost - 7.78125e-4).abs() < 1e-15);
        let commission = sr_cost(&SP500, CostParts::CommissionOnly, 4000.0, 16.0);
        let spread = sr_cost(&SP500, CostParts::SpreadOnly, 4000.0, 16.0);
        assert!((commission.sr_cost + spread.sr_cost - c.sr_cost).abs() < 1e-15);
    }

    #[test]
    fn the_largest_commission_applies() {
        let t = CostTerms {
            per_block: 1.0,
            per_trade: 3.0,
            percentage: 0.0001,
            ..SP500
        };
        // per block 2, per trade 3, percentage 0.0001 × 2 × 4000 × 5 = 4: 4 wins.
        assert!(
            (cost_instrument_currency(&t, CostParts::CommissionOnly, 2.0, 4000.0) - 4.0).abs()
                < 1e-12
        );
        assert!(
            (cost_instrument_currency(&t, CostParts::CommissionOnly, 2.0, 100.0) - 3.0).abs()
                < 1e-12
        );
    }
}
