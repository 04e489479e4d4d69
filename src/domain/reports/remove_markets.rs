//! The remove markets report (§B31; pysystemtrade's
//! `sysproduction/reporting/data/duplicate_remove_markets.py` `RemoveMarketData`): which markets
//! are too expensive, too illiquid or too safe to trade, with hysteresis so that a market does
//! not flip in and out of the bad list.
//!
//! A market is bad with threshold factor k when any of:
//! * SR cost > [`MAX_SR_COST`] ÷ k (expensive);
//! * volume < [`MIN_VOLUME_RISK_DAILY`] × k $m of annual risk a day;
//! * volume < [`MIN_VOLUME_CONTRACTS_DAILY`] × k contracts a day;
//! * annual % stdev < [`min_annual_perc_stdev`] × k (too safe: it would need more leverage
//!   than allowed at an average forecast).
//!
//! A missing figure makes no market bad (as pandas' comparisons with NaN are false). A market
//! that is traded now is to be removed only if bad with k = 1 − [`BAD_THRESHOLD`] (clearly bad);
//! a market in `bad_markets` is to be added back only if not bad with k = 1 + [`BAD_THRESHOLD`]
//! (clearly good); one not in the figures at all (no prices) stays. The recommended list = existing − add backs + removals; the clean slate list
//! = bad with k = 1.

use std::collections::BTreeSet;

use super::min_capital::{IDM_ASSUMED, INSTRUMENT_WEIGHT_ASSUMED, RISK_TARGET_ASSUMED};

/// pysystemtrade's reporting constants.
pub const MAX_SR_COST: f64 = 0.01;
pub const MIN_VOLUME_CONTRACTS_DAILY: f64 = 100.0;
pub const MIN_VOLUME_RISK_DAILY: f64 = 1.5;
pub const MAX_VS_AVERAGE_FORECAST: f64 = 2.0;
pub const RAW_MAX_LEVERAGE: f64 = 1.0;
pub const BAD_THRESHOLD: f64 = 0.3;

/// The lowest annual % stdev worth trading: 100 × max vs average forecast × IDM × instrument
/// weight × risk target ÷ max leverage = 100 × 2 × 2.5 × 0.04 × 0.25 ÷ 1 = 5%.
pub fn min_annual_perc_stdev() -> f64 {
    100.0
        * MAX_VS_AVERAGE_FORECAST
        * IDM_ASSUMED
        * INSTRUMENT_WEIGHT_ASSUMED
        * (RISK_TARGET_ASSUMED / 100.0)
        / RAW_MAX_LEVERAGE
}

/// What the duplicate and remove markets reports know of one market (NaN: not known).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketFigures {
    pub code: String,
    pub sr_cost: f64,
    /// Volume, contracts a day.
    pub contracts: f64,
    /// Volume, $m of annual risk a day.
    pub risk: f64,
    pub annual_risk_per_contract: f64,
    pub annual_perc_stdev: f64,
}

/// Why a market is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Expensive,
    LowRiskVolume,
    LowContractVolume,
    TooSafe,
}

/// The reasons `m` is bad at threshold factor `k` (none: not bad).
pub fn reasons(m: &MarketFigures, k: f64) -> Vec<Reason> {
    let mut out = Vec::new();
    if m.sr_cost > MAX_SR_COST / k {
        out.push(Reason::Expensive);
    }
    if m.risk < MIN_VOLUME_RISK_DAILY * k {
        out.push(Reason::LowRiskVolume);
    }
    if m.contracts < MIN_VOLUME_CONTRACTS_DAILY * k {
        out.push(Reason::LowContractVolume);
    }
    if m.annual_perc_stdev < min_annual_perc_stdev() * k {
        out.push(Reason::TooSafe);
    }
    out
}

/// The markets bad at factor `k`, sorted.
pub fn bad_markets(markets: &[MarketFigures], k: f64) -> BTreeSet<String> {
    markets
        .iter()
        .filter(|m| !reasons(m, k).is_empty())
        .map(|m| m.code.clone())
        .collect()
}

/// The report's conclusions.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// Traded now, clearly bad: add to `bad_markets`.
    pub to_remove: BTreeSet<String>,
    /// In `bad_markets`, clearly good: delete from it.
    pub to_add_back: BTreeSet<String>,
    /// existing − to_add_back + to_remove.
    pub recommended: BTreeSet<String>,
    /// Bad with k = 1, whatever the existing list.
    pub clean_slate: BTreeSet<String>,
}

pub fn recommend(markets: &[MarketFigures], existing: &BTreeSet<String>) -> Recommendation {
    let to_remove: BTreeSet<String> = bad_markets(markets, 1.0 - BAD_THRESHOLD)
        .difference(existing)
        .cloned()
        .collect();
    let clearly_bad = bad_markets(markets, 1.0 + BAD_THRESHOLD);
    // Only a market with figures can be judged good (pysystemtrade adds back a bad market it has
    // no data for).
    let to_add_back: BTreeSet<String> = markets
        .iter()
        .map(|m| &m.code)
        .filter(|c| existing.contains(*c) && !clearly_bad.contains(*c))
        .cloned()
        .collect();
    let recommended = existing
        .difference(&to_add_back)
        .cloned()
        .chain(to_remove.iter().cloned())
        .collect();
    Recommendation {
        to_remove,
        to_add_back,
        recommended,
        clean_slate: bad_markets(markets, 1.0),
    }
}

/// `list` as the `[markets]` TOML to paste into config.toml.
pub fn toml_snippet(list: &BTreeSet<String>) -> String {
    let items: Vec<String> = list.iter().map(|c| format!("\"{c}\"")).collect();
    format!("[markets]\nbad_markets = [{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market(code: &str, sr_cost: f64, contracts: f64, risk: f64, stdev: f64) -> MarketFigures {
        MarketFigures {
            code: code.into(),
            sr_cost,
            contracts,
            risk,
            annual_risk_per_contract: 10_000.0,
            annual_perc_stdev: stdev,
        }
    }

    #[test]
    fn the_minimum_stdev_is_five_percent() {
        // 100 × 2 × 2.5 × 0.04 × 0.25 / 1 = 5.
        assert!((min_annual_perc_stdev() - 5.0).abs() < 1e-12);
    }

    #[test]
    fn hysteresis_by_hand() {
        let markets = [
            // Fine by every measure.
            market("GOOD", 0.001, 10_000.0, 100.0, 20.0),
            // SR cost 0.012: bad at k = 1 (> 0.01) but not clearly (0.01 / 0.7 = 0.0143).
            market("EDGE", 0.012, 10_000.0, 100.0, 20.0),
            // 60 contracts a day: below 100 × 0.7 = 70, clearly bad.
            market("THIN", 0.001, 60.0, 100.0, 20.0),
            // Already bad; 1.8 $m a day: above 1.5 but below 1.5 × 1.3 = 1.95, so stays bad.
            market("OLD1", 0.001, 10_000.0, 1.8, 20.0),
            // Already bad; 4% stdev at k=1.3 needs 6.5%: stays bad. At k=0.7 needs 3.5%.
            market("OLD2", 0.001, 10_000.0, 100.0, 4.0),
            // Already bad but now clearly good: add back.
            market("OLD3", 0.001, 10_000.0, 100.0, 20.0),
            // No figures: never bad.
            market("NONE", f64::NAN, f64::NAN, f64::NAN, f64::NAN),
        ];
        assert_eq!(reasons(&markets[2], 1.0), [Reason::LowContractVolume]);
        // GONE has no figures: it stays in the list.
        let existing: BTreeSet<String> = ["OLD1", "OLD2", "OLD3", "GONE"].map(String::from).into();
        let r = recommend(&markets, &existing);
        assert_eq!(r.to_remove, ["THIN".to_string()].into());
        assert_eq!(r.to_add_back, ["OLD3".to_string()].into());
        assert_eq!(
            r.recommended,
            ["GONE", "OLD1", "OLD2", "THIN"].map(String::from).into()
        );
        assert_eq!(
            r.clean_slate,
            ["EDGE", "OLD2", "THIN"].map(String::from).into()
        );
        assert_eq!(
            toml_snippet(&r.recommended),
            "[markets]\nbad_markets = [\"GONE\", \"OLD1\", \"OLD2\", \"THIN\"]"
        );
    }
}
