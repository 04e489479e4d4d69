//! The instrument risk, minimum capital and costs reports from [`RiskData`], laid out as
//! pysystemtrade lays them out (its column names, sort orders and rounding).

use super::risk_data::{InstrumentData, RiskData};
use crate::domain::reports::costs::{sr_cost, CostParts};
use crate::domain::reports::min_capital::{
    minimum_capital, IDM_ASSUMED, INSTRUMENT_WEIGHT_ASSUMED, MIN_CONTRACTS_HELD,
    RISK_TARGET_ASSUMED,
};
use crate::domain::reports::{Cell, Column, Item, Table};

fn text(t: impl Into<String>) -> Item {
    Item::Text { text: t.into() }
}

/// A line naming the instruments left out and why, when there are any.
pub(super) fn left_out(skipped: &[(String, String)]) -> Option<Item> {
    (!skipped.is_empty()).then(|| {
        let lines: Vec<String> = skipped
            .iter()
            .map(|(code, why)| format!("{code}: {why}"))
            .collect();
        text(format!("Left out (no figures):\n{}", lines.join("\n")))
    })
}

fn skipped(data: &RiskData) -> Option<Item> {
    left_out(&data.skipped)
}

fn complete(data: &RiskData) -> impl Iterator<Item = &InstrumentData> {
    data.instruments.iter().filter(|i| i.risk.is_complete())
}

fn nothing(items: &mut Vec<Item>, data: &RiskData) -> bool {
    if complete(data).next().is_none() {
        items.push(text(
            "No instrument has enough prices for these figures (adjusted and multiple prices, \
             FX to the base currency, and at least 11 business days).",
        ));
        items.extend(skipped(data));
        return true;
    }
    false
}

pub fn instrument_risk(data: &RiskData) -> Vec<Item> {
    let mut items = vec![text(format!(
        "Risk calculation for different instruments, columns as follows:\n\
         A- daily_price_stdev: standard deviation, price points, per day\n\
         B- annual_price_stdev: standard deviation, price points, per year = A × 16\n\
         C- price: price\n\
         D- daily_perc_stdev: standard deviation, percentage (1 = 1%), per day = A / C\n\
         E- annual_perc_stdev: standard deviation, percentage (1 = 1%), per year = D × 16\n\
         F- point_size_base: futures multiplier in the base currency ({})\n\
         G- contract_exposure: notional value of one contract = F × C\n\
         H- annual_risk_per_contract: standard deviation, base currency, per year = B × F = E × G",
        data.base_currency
    ))];
    if nothing(&mut items, data) {
        return items;
    }
    let columns = || {
        vec![
            Column::text("instrument"),
            Column::num("daily_price_stdev", 4),
            Column::num("annual_price_stdev", 3),
            Column::num("price", 4),
            Column::num("daily_perc_stdev", 3),
            Column::num("annual_perc_stdev", 1),
            Column::num("point_size_base", 3),
            Column::num("contract_exposure", 0),
            Column::num("annual_risk_per_contract", 0),
        ]
    };
    for (id, title, col) in [
        (
            "by_annual_perc_stdev",
            "Risk of all instruments with data, sorted by annualised % standard deviation",
            5,
        ),
        (
            "by_annual_risk_per_contract",
            "Risk of all instruments with data, sorted by annualised currency risk per contract",
            8,
        ),
        (
            "by_contract_exposure",
            "Risk of all instruments with data, sorted by notional exposure per contract",
            7,
        ),
    ] {
        let mut t = Table::new(id, title, columns());
        for i in complete(data) {
            let r = &i.risk;
            t.rows.push(vec![
                i.code.as_str().into(),
                r.daily_price_stdev.into(),
                r.annual_price_stdev.into(),
                r.price.into(),
                r.daily_perc_stdev.into(),
                r.annual_perc_stdev.into(),
                r.point_size_base.into(),
                r.contract_exposure.into(),
                r.annual_risk_per_contract.into(),
            ]);
        }
        t.sort_by(col, false);
        items.push(Item::Table(t));
    }
    items.extend(skipped(data));
    items
}

pub fn min_capital(data: &RiskData) -> Vec<Item> {
    let mut items = vec![text(format!(
        "The minimum capital for a single contract, as follows:\n\
         A- point_size_base: futures multiplier in the base currency ({}) = multiplier × FX rate\n\
         B- price: price\n\
         C- annual_perc_stdev: annual standard deviation in percent (100 = 100%)\n\
         D- risk_target: risk target in percent ({RISK_TARGET_ASSUMED} = {RISK_TARGET_ASSUMED}%)\n\
         E- minimum_capital_one_contract: capital to hold one contract on its own = A × B × C / D\n\
         F- minimum_position_contracts: the position held at an average forecast ({MIN_CONTRACTS_HELD})\n\
         G- instrument_weight: share of capital allocated to the instrument ({INSTRUMENT_WEIGHT_ASSUMED})\n\
         H- IDM: instrument diversification multiplier ({IDM_ASSUMED})\n\
         I- minimum_capital: capital within a portfolio, allowing for the minimum position = E × F / (G × H)",
        data.base_currency
    ))];
    if nothing(&mut items, data) {
        return items;
    }
    let mut t = Table::new(
        "minimum_capital",
        &format!(
            "Minimum capital in the base currency ({})",
            data.base_currency
        ),
        vec![
            Column::text("instrument"),
            Column::num("point_size_base", 3),
            Column::num("price", 4),
            Column::num("annual_perc_stdev", 1),
            Column::num("risk_target", 0),
            Column::num("minimum_capital_one_contract", 0),
            Column::num("minimum_position_contracts", 0),
            Column::num("instrument_weight", 2),
            Column::num("IDM", 1),
            Column::num("minimum_capital", 0),
        ],
    );
    for i in complete(data) {
        let m = minimum_capital(&i.risk);
        t.rows.push(vec![
            i.code.as_str().into(),
            m.point_size_base.into(),
            m.price.into(),
            m.annual_perc_stdev.into(),
            m.risk_target.into(),
            m.minimum_capital_one_contract.into(),
            m.minimum_position_contracts.into(),
            m.instrument_weight.into(),
            m.idm.into(),
            m.minimum_capital.into(),
        ]);
    }
    t.sort_by(9, false);
    items.push(Item::Table(t));
    items.extend(skipped(data));
    items
}

pub fn costs(data: &RiskData) -> Vec<Item> {
    let mut items = vec![text(
        "The cost of trading one contract, in Sharpe-ratio units of a round trip: \
         SR_cost = 2 × percentage_cost / avg_annual_vol_perc, where percentage_cost = (spread cost \
         × point size + commission) / (price × point size) at the mean adjusted price of the last \
         365 days, and avg_annual_vol_perc is the annual percentage standard deviation (1 = 100%). \
         * marks a position currently held.",
    )];
    if nothing(&mut items, data) {
        return items;
    }
    for (id, title, parts) in [
        (
            "sr_costs",
            "SR costs (spreads and commission)",
            CostParts::All,
        ),
        (
            "sr_costs_commission_only",
            "SR costs (commission only)",
            CostParts::CommissionOnly,
        ),
        (
            "sr_costs_spreads_only",
            "SR costs (spreads only)",
            CostParts::SpreadOnly,
        ),
    ] {
        let mut t = Table::new(
            id,
            title,
            vec![
                Column::text("instrument"),
                Column::num("percentage_cost", 5),
                Column::num("avg_annual_vol_perc", 5),
                Column::num("SR_cost", 5),
            ],
        );
        for i in complete(data) {
            let c = sr_cost(&i.costs, parts, i.average_price, i.risk.annual_perc_stdev);
            let name = if i.risk.position != 0 {
                format!("{}*", i.code)
            } else {
                i.code.to_string()
            };
            t.rows.push(vec![
                Cell::Text(name),
                c.percentage_cost.into(),
                c.avg_annual_vol_perc.into(),
                c.sr_cost.into(),
            ]);
        }
        t.sort_by(3, true);
        items.push(Item::Table(t));
    }
    items.extend(skipped(data));
    items
}
