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
use crate::domain::reports::slippage::{estimate, median, SlippageInputs};
use crate::domain::reports::trades::slippage;
use crate::domain::reports::{Column, Item, ReportOptions, Table};

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
    items.push(Item::Text {
        text: "In ticks: not known. The minimum tick of a contract comes from the broker's \
               contract details, which this project does not store."
            .into(),
    });
    Ok(items)
}
