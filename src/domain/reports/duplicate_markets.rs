//! The duplicate markets report (§B31; pysystemtrade's
//! `table_of_duplicate_markets_for_dict_entry` and `get_best_market`): for a group of markets
//! that are the same thing (a full-size and a micro contract, two exchanges), which one to
//! trade.
//!
//! Valid markets have every figure, SR cost ≤ [`MAX_SR_COST`], more than
//! [`MIN_VOLUME_CONTRACTS_DAILY`] contracts and more than [`MIN_VOLUME_RISK_DAILY`] $m of risk a
//! day; the best is the valid one with the smallest annual risk per contract (the finest
//! position sizing). A change is suggested when the best is not the one included (or when more
//! than one is included).

use super::remove_markets::{
    MarketFigures, MAX_SR_COST, MIN_VOLUME_CONTRACTS_DAILY, MIN_VOLUME_RISK_DAILY,
};

/// Whether `m` passes the filters.
pub fn is_valid(m: &MarketFigures) -> bool {
    let all = [
        m.sr_cost,
        m.contracts,
        m.risk,
        m.annual_risk_per_contract,
        m.annual_perc_stdev,
    ];
    all.iter().all(|v| v.is_finite())
        && m.sr_cost <= MAX_SR_COST
        && m.contracts > MIN_VOLUME_CONTRACTS_DAILY
        && m.risk > MIN_VOLUME_RISK_DAILY
}

/// The best market of a group (`None`: no valid market).
pub fn best_market(markets: &[MarketFigures]) -> Option<&MarketFigures> {
    markets.iter().filter(|m| is_valid(m)).min_by(|a, b| {
        a.annual_risk_per_contract
            .total_cmp(&b.annual_risk_per_contract)
    })
}

/// What to do with a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    NoGoodMarkets,
    NoChange,
    /// Replace the included market(s) with this one.
    Replace(String),
}

pub fn verdict(included: &[String], best: Option<&MarketFigures>) -> Verdict {
    match best {
        None => Verdict::NoGoodMarkets,
        Some(b) if included.len() > 1 || included.first() != Some(&b.code) => {
            Verdict::Replace(b.code.clone())
        }
        Some(_) => Verdict::NoChange,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(code: &str, sr: f64, contracts: f64, risk: f64, per_contract: f64) -> MarketFigures {
        MarketFigures {
            code: code.into(),
            sr_cost: sr,
            contracts,
            risk,
            annual_risk_per_contract: per_contract,
            annual_perc_stdev: 15.0,
        }
    }

    #[test]
    fn the_smallest_valid_contract_wins() {
        let group = [
            // Valid, 20,000 of annual risk per contract.
            m("GOLD", 0.002, 50_000.0, 1_000.0, 20_000.0),
            // Valid and a tenth of the size: the best.
            m("GOLD_micro", 0.005, 20_000.0, 40.0, 2_000.0),
            // Smaller still but too thin (80 contracts ≤ 100).
            m("GOLD-nano", 0.004, 80.0, 0.02, 200.0),
            // No data.
            m("GOLD-mini", f64::NAN, f64::NAN, f64::NAN, 10_000.0),
        ];
        let best = best_market(&group).map(|b| b.code.as_str());
        assert_eq!(best, Some("GOLD_micro"));
        assert_eq!(
            verdict(&["GOLD".into()], best_market(&group)),
            Verdict::Replace("GOLD_micro".into())
        );
        assert_eq!(
            verdict(&["GOLD_micro".into()], best_market(&group)),
            Verdict::NoChange
        );
        // Too expensive (0.011 > 0.01) or too little risk (1.5 is not more than 1.5).
        let none = [
            m("A", 0.011, 5_000.0, 100.0, 1_000.0),
            m("B", 0.001, 5_000.0, 1.5, 1_000.0),
        ];
        assert_eq!(
            verdict(&["A".into()], best_market(&none)),
            Verdict::NoGoodMarkets
        );
    }
}
