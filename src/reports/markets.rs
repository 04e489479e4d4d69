//! The duplicate markets and remove markets reports: each instrument's SR cost (the costs
//! report's, spreads and commission), volumes (the liquidity report's) and risk (the instrument
//! risk report's) set against pysystemtrade's thresholds
//! ([`crate::domain::reports::duplicate_markets`], [`crate::domain::reports::remove_markets`]),
//! with the groups and the bad markets from `[markets]`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::risk_data::RiskData;
use super::risk_reports::left_out;
use crate::config::MarketsConfig;
use crate::domain::ports::PriceStore;
use crate::domain::reports::costs::{sr_cost, CostParts};
use crate::domain::reports::duplicate_markets::{best_market, verdict, Verdict};
use crate::domain::reports::remove_markets::{
    min_annual_perc_stdev, reasons, recommend, toml_snippet, MarketFigures, Reason, BAD_THRESHOLD,
    MAX_SR_COST, MIN_VOLUME_CONTRACTS_DAILY, MIN_VOLUME_RISK_DAILY,
};
use crate::domain::reports::{Column, Item, Table};

fn text(t: impl Into<String>) -> Item {
    Item::Text { text: t.into() }
}

/// The figures of every instrument in `data`, by code.
fn figures(
    store: &dyn PriceStore,
    data: &RiskData,
    now: DateTime<Utc>,
) -> (BTreeMap<String, MarketFigures>, Vec<(String, String)>) {
    let (volumes, mut skipped) = super::liquidity::volumes(store, data, now);
    skipped.extend(data.skipped.iter().cloned());
    let mut out = BTreeMap::new();
    for i in &data.instruments {
        let code = i.code.to_string();
        let sr = if i.risk.is_complete() {
            sr_cost(
                &i.costs,
                CostParts::All,
                i.average_price,
                i.risk.annual_perc_stdev,
            )
            .sr_cost
        } else {
            f64::NAN
        };
        let v = volumes.get(&code);
        out.insert(
            code.clone(),
            MarketFigures {
                code,
                sr_cost: sr,
                contracts: v.map_or(f64::NAN, |v| v.contracts),
                risk: v.map_or(f64::NAN, |v| v.risk),
                annual_risk_per_contract: i.risk.annual_risk_per_contract,
                annual_perc_stdev: i.risk.annual_perc_stdev,
            },
        );
    }
    (out, skipped)
}

fn unknown(code: &str) -> MarketFigures {
    MarketFigures {
        code: code.to_string(),
        sr_cost: f64::NAN,
        contracts: f64::NAN,
        risk: f64::NAN,
        annual_risk_per_contract: f64::NAN,
        annual_perc_stdev: f64::NAN,
    }
}

fn list(codes: &[String]) -> String {
    if codes.is_empty() {
        "none".into()
    } else {
        codes.join(", ")
    }
}

pub fn duplicate_markets(
    store: &dyn PriceStore,
    data: &RiskData,
    config: &MarketsConfig,
    now: DateTime<Utc>,
) -> Vec<Item> {
    let mut items = vec![text(format!(
        "For each group of duplicate markets in [markets] duplicate_include / duplicate_exclude: \
         SR_cost (round trip, spreads and commission), volume_contracts and volume_risk (as the \
         liquidity report: contracts a day, and millions of annual risk a day) and contract_size \
         (annual risk per contract, {}). The best market is the one with the smallest \
         contract_size among those with SR_cost <= {MAX_SR_COST}, volume_contracts > \
         {MIN_VOLUME_CONTRACTS_DAILY} and volume_risk > {MIN_VOLUME_RISK_DAILY}. A market \
         without prices has empty cells and is never the best.",
        data.base_currency
    ))];
    if config.duplicates.is_empty() {
        items.push(text(
            "No duplicate groups are configured ([markets] duplicate_include is empty).",
        ));
        return items;
    }
    let (figs, skipped) = figures(store, data, now);
    let mut changes = Vec::new();
    let mut without_prices = Vec::new();
    for g in &config.duplicates {
        if !g
            .included
            .iter()
            .chain(&g.excluded)
            .any(|c| figs.contains_key(c.as_str()))
        {
            without_prices.push(g.name.clone());
            continue;
        }
        let mut members: Vec<String> = Vec::new();
        for c in g.included.iter().chain(&g.excluded) {
            if !members.contains(&c.to_string()) {
                members.push(c.to_string());
            }
        }
        let rows: Vec<MarketFigures> = members
            .iter()
            .map(|c| figs.get(c).cloned().unwrap_or_else(|| unknown(c)))
            .collect();
        let included: Vec<String> = g.included.iter().map(|c| c.to_string()).collect();
        let excluded: Vec<String> = g.excluded.iter().map(|c| c.to_string()).collect();
        let best = best_market(&rows);
        let current = format!(
            "Current included market(s) {}, excluded {}; best market {}.",
            list(&included),
            list(&excluded),
            best.map_or("none (no good markets)", |b| b.code.as_str())
        );
        let heading = match verdict(&included, best) {
            Verdict::NoGoodMarkets => format!("{}: no change, no good markets. {current}", g.name),
            Verdict::NoChange => format!("{}: no change required. {current}", g.name),
            Verdict::Replace(b) => {
                let change = format!(
                    "{}: ** CHANGE ** replace {} with {b}.",
                    g.name,
                    list(&included)
                );
                changes.push(change.clone());
                format!("{change} {current}")
            }
        };
        let mut t = Table::new(
            &format!("group_{}", g.name),
            &heading,
            vec![
                Column::text("instrument"),
                Column::num("SR_cost", 6),
                Column::num("volume_contracts", 0),
                Column::num("volume_risk", 2),
                Column::num("contract_size", 0),
            ],
        );
        for r in &rows {
            t.rows.push(vec![
                r.code.as_str().into(),
                r.sr_cost.into(),
                r.contracts.into(),
                r.risk.into(),
                r.annual_risk_per_contract.into(),
            ]);
        }
        items.push(Item::Table(t));
    }
    if !without_prices.is_empty() {
        items.push(text(format!(
            "Groups left out, none of their markets has prices here: {}.",
            without_prices.join(", ")
        )));
    }
    items.insert(
        1,
        text(if changes.is_empty() {
            "No changes to duplicate markets required.".to_string()
        } else {
            format!("Suggested changes:\n{}", changes.join("\n"))
        }),
    );
    items.extend(left_out(&skipped));
    items
}

pub fn remove_markets(
    store: &dyn PriceStore,
    data: &RiskData,
    config: &MarketsConfig,
    now: DateTime<Utc>,
) -> Vec<Item> {
    let min_std = min_annual_perc_stdev();
    let low = 1.0 - BAD_THRESHOLD;
    let high = 1.0 + BAD_THRESHOLD;
    let mut items = vec![text(format!(
        "A market is bad when any of: SR cost per round trip > {MAX_SR_COST} (expensive); volume \
         < {MIN_VOLUME_RISK_DAILY} millions of annual risk a day or < {MIN_VOLUME_CONTRACTS_DAILY} \
         contracts a day (as the liquidity report); annual % standard deviation < {min_std:.1} \
         (too safe: the minimum is max_vs_average_forecast × IDM × instrument_weight × \
         risk_target / raw_max_leverage = 2 × 2.5 × 0.04 × 25 / 1). To avoid markets flipping in \
         and out, a market traded now is to be removed only if it is bad with the cost limit \
         divided by {low} and the minimums multiplied by {low} (clearly bad), and a market in \
         [markets] bad_markets is to be added back only if it is not bad with the cost limit \
         divided by {high} and the minimums multiplied by {high} (clearly good). Markets without \
         a figure are not judged on it."
    ))];
    let (figs, skipped) = figures(store, data, now);
    if figs.is_empty() {
        items.push(text(
            "No instrument has prices, so no market can be judged.",
        ));
        items.extend(left_out(&skipped));
        return items;
    }
    let markets: Vec<MarketFigures> = figs.values().cloned().collect();
    let existing: BTreeSet<String> = config.bad_markets.iter().map(|c| c.to_string()).collect();
    let r = recommend(&markets, &existing);
    let table = |id: &str, title: &str, codes: &BTreeSet<String>| -> Item {
        let mut t = Table::new(
            id,
            title,
            vec![
                Column::text("instrument"),
                Column::num("SR_cost", 6),
                Column::num("volume_contracts", 0),
                Column::num("volume_risk", 2),
                Column::num("annual_perc_stdev", 1),
            ],
        );
        for c in codes {
            let m = figs.get(c).cloned().unwrap_or_else(|| unknown(c));
            t.rows.push(vec![
                c.as_str().into(),
                m.sr_cost.into(),
                m.contracts.into(),
                m.risk.into(),
                m.annual_perc_stdev.into(),
            ]);
        }
        Item::Table(t)
    };
    let by_reason = |reason: Reason| -> BTreeSet<String> {
        markets
            .iter()
            .filter(|m| reasons(m, 1.0).contains(&reason))
            .map(|m| m.code.clone())
            .collect()
    };
    items.push(table(
        "to_remove",
        &format!(
            "Markets to remove from trading (add to [markets] bad_markets; threshold factor {low})"
        ),
        &r.to_remove,
    ));
    items.push(table(
        "to_add_back",
        &format!("Markets to allow to trade again (delete from [markets] bad_markets; threshold factor {high})"),
        &r.to_add_back,
    ));
    items.push(table(
        "expensive",
        &format!("Markets too expensive (SR cost per trade > {MAX_SR_COST})"),
        &by_reason(Reason::Expensive),
    ));
    items.push(table(
        "low_volume_risk",
        &format!("Markets without enough risk volume (millions of annual risk a day < {MIN_VOLUME_RISK_DAILY})"),
        &by_reason(Reason::LowRiskVolume),
    ));
    items.push(table(
        "low_volume_contracts",
        &format!("Markets without enough contract volume (contracts a day < {MIN_VOLUME_CONTRACTS_DAILY})"),
        &by_reason(Reason::LowContractVolume),
    ));
    items.push(table(
        "too_safe",
        &format!("Markets too safe (annual % standard deviation < {min_std:.1})"),
        &by_reason(Reason::TooSafe),
    ));
    let existing_text = if existing.is_empty() {
        "none".to_string()
    } else {
        existing.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    items.push(text(format!(
        "Bad markets configured now: {existing_text}.\n\
         To minimise turnover of markets, put this in config.toml:\n{}\n\n\
         For a clean slate, without considering the markets configured now:\n{}",
        toml_snippet(&r.recommended),
        toml_snippet(&r.clean_slate)
    )));
    items.extend(left_out(&skipped));
    items
}
