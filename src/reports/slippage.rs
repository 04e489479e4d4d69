//! The slippage report: for each instrument traded in the window (default the last 250 days),
//! the slippage its filled broker orders paid (the trade report's bid_ask and total_trading,
//! §B27) set against the configured spread cost, and the estimate that blends them
//! ([`crate::domain::reports::slippage`]).
//!
//! Sampled spreads: this project does not store sampled bid/ask spreads (pysystemtrade's
//! additional sampling, §B24), so bid_ask_sampled is empty and counts 0. Ticks: the minimum
//! tick is known only from the broker's contract details, which are not stored, so the figures
//! are in price units only and the report says so.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::trades::{filled, range_text};
use super::ReportError;
use crate::app::App;
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::reports::slippage::{
    cumulative_costs, estimate, median, SlippageInputs, TradeCost,
};
use crate::domain::reports::trades::slippage;
use crate::domain::reports::{Chart, Column, Item, Line, Plot, ReportOptions, Table};

/// Days the report looks back without --from (pysystemtrade's 250).
pub const DEFAULT_DAYS: i64 = 250;

pub async fn items(
    app: &App,
    reference: &ReferenceData,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let (start, end) = super::window(opts, now, DEFAULT_DAYS);
    let range = range_text(start, end);
    let trades = filled(app, opts, start, end).await?;
    if trades.is_empty() {
        return Ok(vec![Item::Text {
            text: format!("No trades from {range}, so there is no slippage to report."),
        }]);
    }
    // (−bid_ask, −total_trading) of each trade, by instrument.
    let mut per: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (b, prices) in &trades {
        let s = slippage(prices);
        let e = per.entry(b.instrument.to_string()).or_default();
        e.0.push(-s.bid_ask);
        e.1.push(-s.total_trading);
    }
    let mut items = vec![Item::Text {
        text: format!(
            "Slippage per contract per trade, in price units, from broker orders filled from \
             {range}: bid_ask_trades = median of −bid_ask (half the spread paid), total_trades = \
             median of −total_trading (spread and execution; positive = a cost), count_trades = \
             filled orders. bid_ask_sampled = median sampled spread / 2: this project does not \
             store sampled spreads, so it is empty and count_sampled is 0. configured = the \
             spread cost in spreadcosts.csv. Weights: trades = count / 10, samples = count / \
             150, configured = 1 (0 when not configured), normalised; estimate = weighted sum of \
             max(bid_ask_trades, total_trades), bid_ask_sampled and configured; Difference = \
             100 × (estimate − configured) / configured, in %."
        ),
    }];
    let mut t = Table::new(
        "slippage",
        "Slippage estimates (price units)",
        vec![
            Column::text("instrument"),
            Column::num("bid_ask_trades", 5),
            Column::num("total_trades", 5),
            Column::num("count_trades", 0),
            Column::num("bid_ask_sampled", 5),
            Column::num("count_sampled", 0),
            Column::num("weight_trades", 3),
            Column::num("weight_samples", 3),
            Column::num("weight_config", 3),
            Column::num("estimate", 5),
            Column::num("configured", 5),
            Column::num("Difference", 1),
        ],
    );
    for (code, (bid_ask, total)) in &per {
        let configured = InstrumentCode::new(code)
            .ok()
            .and_then(|c| reference.spread_costs.get(&c).copied())
            .unwrap_or(f64::NAN);
        let e = estimate(&SlippageInputs {
            bid_ask_trades: median(bid_ask),
            total_trades: median(total),
            trade_count: bid_ask.len(),
            bid_ask_sampled: f64::NAN,
            sample_count: 0,
            configured,
        });
        t.rows.push(vec![
            code.as_str().into(),
            e.bid_ask_trades.into(),
            e.total_trades.into(),
            (e.count_trades as i64).into(),
            e.bid_ask_sampled.into(),
            (e.count_sampled as i64).into(),
            e.weight_trades.into(),
            e.weight_samples.into(),
            e.weight_config.into(),
            e.estimate.into(),
            e.configured.into(),
            e.difference_perc.into(),
        ]);
    }
    t.sort_by(11, true);
    items.push(Item::Table(t));
    items.extend(over_time(app, reference, &trades, now).await?);
    items.push(Item::Text {
        text: "In ticks: not known. The minimum tick of a contract comes from the broker's \
               contract details, which this project does not store."
            .into(),
    });
    Ok(items)
}

/// Slippage over time: the cumulative cost the filled orders paid, in the base currency (per
/// contract slippage × contracts × the value of a price point at the latest FX rate, as the
/// trade report's cash slippage), half the spread and spread plus execution, drawn by day.
async fn over_time(
    app: &App,
    reference: &ReferenceData,
    trades: &[(
        crate::domain::orders::BrokerOrder,
        crate::domain::reports::trades::TradePrices,
    )],
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let mut traded: Vec<String> = trades
        .iter()
        .map(|(b, _)| b.instrument.to_string())
        .collect();
    traded.sort();
    traded.dedup();
    let risk = super::risk_data::load(app, reference, Some(&traded), now).await?;
    let point: BTreeMap<String, f64> = risk
        .instruments
        .iter()
        .map(|i| (i.code.to_string(), i.risk.point_size_base))
        .collect();
    let costs: Vec<TradeCost> = trades
        .iter()
        .filter_map(|(b, prices)| {
            let date = b.fill_time?.date_naive();
            let k = point
                .get(b.instrument.as_str())
                .copied()
                .unwrap_or(f64::NAN)
                * b.fill.unsigned_abs() as f64;
            let s = slippage(prices);
            Some(TradeCost {
                date,
                bid_ask: -s.bid_ask * k,
                total: -s.total_trading * k,
            })
        })
        .collect();
    let (curve, unknown) = cumulative_costs(&costs);
    let mut items = vec![Item::Chart(Chart {
        id: "slippage_over_time".into(),
        title: format!(
            "Slippage over time: cumulative cost of the fills, {}",
            risk.base_currency
        ),
        y_label: format!("cumulative cost, {}", risk.base_currency),
        plot: Plot::Lines {
            dates: curve.iter().map(|(d, _, _)| *d).collect(),
            series: vec![
                Line {
                    name: "spread and execution (total_trading)".into(),
                    values: curve.iter().map(|(_, _, t)| *t).collect(),
                },
                Line {
                    name: "half the spread (bid_ask)".into(),
                    values: curve.iter().map(|(_, b, _)| *b).collect(),
                },
            ],
        },
    })];
    if unknown > 0 {
        items.push(Item::Text {
            text: format!(
                "{unknown} filled order(s) are left out of the chart: their prices or the value of \
                 a price point are not known."
            ),
        });
    }
    Ok(items)
}
