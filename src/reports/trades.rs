//! The trade report: every broker order filled in the window (default the last day), on the
//! stack or archived, with its parents' reference and limit prices; its delays, and its slippage
//! in price points, in basis points of annual vol and in the base currency, with sums per
//! strategy and instrument and per strategy (pysystemtrade's trade report).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::risk_data;
use super::{data, when, ReportError};
use crate::app::App;
use crate::domain::instrument::ReferenceData;
use crate::domain::orders::{BrokerOrder, ContractOrder, InstrumentOrder, OrderId};
use crate::domain::reports::trades::{delay_seconds, slippage, Slippage, TradePrices, ITEMS};
use crate::domain::reports::{Cell, Column, Item, ReportOptions, Table};

fn opt(v: Option<f64>) -> Cell {
    v.unwrap_or(f64::NAN).into()
}

struct Trade<'a> {
    order: &'a BrokerOrder,
    prices: TradePrices,
    slip: Slippage,
}

/// Every broker order filled from `start` to `end` (on the stack or archived; of
/// `--instrument` and `--strategy` when given), by instrument then id.
pub(super) async fn filled_orders(
    app: &App,
    opts: &ReportOptions,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<BrokerOrder>, ReportError> {
    let mut brokers = app.orders.broker_orders(false).await.map_err(data)?;
    brokers.extend(app.orders.broker_orders(true).await.map_err(data)?);
    let mut filled: Vec<BrokerOrder> = brokers
        .into_iter()
        .filter(|b| b.fill != 0 && b.fill_time.is_some_and(|t| t >= start && t <= end))
        .filter(|b| {
            opts.instrument
                .as_deref()
                .is_none_or(|i| b.instrument.as_str() == i)
        })
        .filter(|b| opts.strategy.as_deref().is_none_or(|s| b.strategy == s))
        .collect();
    filled.sort_by(|a, b| (a.instrument.as_str(), a.id).cmp(&(b.instrument.as_str(), b.id)));
    Ok(filled)
}

/// [`filled_orders`], each with its parents' prices.
pub(super) async fn filled(
    app: &App,
    opts: &ReportOptions,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<(BrokerOrder, TradePrices)>, ReportError> {
    let filled = filled_orders(app, opts, start, end).await?;
    let mut contracts: BTreeMap<OrderId, ContractOrder> = BTreeMap::new();
    let mut instruments: BTreeMap<OrderId, InstrumentOrder> = BTreeMap::new();
    for active in [false, true] {
        for c in app.orders.contract_orders(active).await.map_err(data)? {
            contracts.insert(c.id, c);
        }
        for i in app.orders.instrument_orders(active).await.map_err(data)? {
            instruments.insert(i.id, i);
        }
    }
    Ok(filled
        .into_iter()
        .map(|b| {
            let parent = contracts.get(&b.parent);
            let grandparent = parent.and_then(|c| instruments.get(&c.parent));
            let prices = TradePrices {
                fill: b.fill,
                parent_reference_price: parent.and_then(|c| c.reference_price),
                parent_limit_price: parent.and_then(|c| c.limit_price),
                mid_price: b.mid_price,
                side_price: b.side_price,
                limit_price: b.limit_price,
                filled_price: b.filled_price,
                parent_reference_time: grandparent.and_then(|i| i.reference_time),
                submit_time: b.submitted_at,
                fill_time: b.fill_time,
            };
            (b, prices)
        })
        .collect())
}

/// The window as the report says it.
pub(super) fn range_text(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    format!(
        "{} to {}",
        start.format("%Y-%m-%d %H:%M"),
        end.format("%Y-%m-%d %H:%M UTC")
    )
}

pub async fn items(
    app: &App,
    reference: &ReferenceData,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let (start, end) = super::window(opts, now, 1);
    let filled = filled(app, opts, start, end).await?;
    let range = range_text(start, end);
    if filled.is_empty() {
        return Ok(vec![Item::Text {
            text: format!("No trades from {range}."),
        }]);
    }
    let trades: Vec<Trade> = filled
        .iter()
        .map(|(b, prices)| Trade {
            order: b,
            prices: prices.clone(),
            slip: slippage(prices),
        })
        .collect();

    // Point size in base and annual price stdev of each traded instrument, read once.
    let mut traded: Vec<String> = trades
        .iter()
        .map(|t| t.order.instrument.to_string())
        .collect();
    traded.dedup();
    let risk = risk_data::load(app, reference, Some(&traded), now).await?;
    let mut per_instrument: BTreeMap<String, (f64, f64)> = risk
        .instruments
        .iter()
        .map(|i| {
            (
                i.code.to_string(),
                (i.risk.point_size_base, i.risk.annual_price_stdev),
            )
        })
        .collect();
    let notes: Vec<String> = risk
        .skipped
        .iter()
        .map(|(c, why)| format!("{c}: no cash or vol figures: {why}"))
        .collect();
    for code in &traded {
        per_instrument
            .entry(code.clone())
            .or_insert((f64::NAN, f64::NAN));
    }

    let mut items = vec![Item::Text {
        text: format!(
            "Broker orders filled from {range}. Slippage is negative when it cost money: \
             delay = the market's move from the strategy's reference price to the mid when the \
             order was made; bid_ask = mid to the side traded on (half the spread); execution = \
             side price to fill; total_trading = bid_ask + execution; versus_limit and \
             versus_parent_limit = the limit prices to the fill. Cash figures are per contract."
        ),
    }];
    let head = |t: &Trade| -> Vec<Cell> {
        vec![
            t.order.instrument.as_str().into(),
            t.order.strategy.as_str().into(),
            t.order.fill.into(),
        ]
    };
    let head_cols = || {
        vec![
            Column::text("instrument"),
            Column::text("strategy"),
            Column::num("trade", 0),
        ]
    };

    let mut overview = Table::new(
        "broker_orders",
        "Broker orders",
        vec![
            Column::text("instrument"),
            Column::text("strategy"),
            Column::text("contract"),
            Column::text("fill_datetime"),
            Column::num("fill", 0),
            Column::num("filled_price", 4),
        ],
    );
    let mut delays = Table::new(
        "delays",
        "Delays (seconds)",
        vec![
            Column::text("instrument"),
            Column::text("strategy"),
            Column::text("parent_reference_datetime"),
            Column::text("submit_datetime"),
            Column::text("fill_datetime"),
            Column::num("submit_minus_generated", 1),
            Column::num("filled_minus_submit", 1),
        ],
    );
    let mut raw_cols = head_cols();
    raw_cols.extend(
        [
            "parent_reference_price",
            "parent_limit_price",
            "mid_price",
            "side_price",
            "offside_price",
            "limit_price",
            "filled_price",
        ]
        .map(|c| Column::num(c, 4)),
    );
    raw_cols.extend(ITEMS.map(|c| Column::num(c, 4)));
    let mut raw = Table::new(
        "raw_slippage",
        "Slippage (price points per contract)",
        raw_cols,
    );
    let mut vol_cols = head_cols();
    vol_cols.push(Column::num("last_annual_vol", 4));
    vol_cols.extend(ITEMS.map(|c| Column::num(&format!("{c}_vol"), 2)));
    let mut vol = Table::new(
        "vol_slippage",
        "Slippage (basis points of annual vol)",
        vol_cols,
    );
    let mut cash_cols = head_cols();
    cash_cols.push(Column::num("value_of_price_point", 2));
    cash_cols.extend(ITEMS.map(|c| Column::num(&format!("{c}_cash"), 2)));
    let mut cash = Table::new(
        "cash_slippage",
        "Slippage (base currency, per contract)",
        cash_cols,
    );
    let mut sums: BTreeMap<(String, String), [f64; 6]> = BTreeMap::new();
    let mut strategy_sums: BTreeMap<String, [f64; 6]> = BTreeMap::new();
    for t in &trades {
        let b = t.order;
        let (point_base, annual_vol) = per_instrument[b.instrument.as_str()];
        overview.rows.push(vec![
            b.instrument.as_str().into(),
            b.strategy.as_str().into(),
            b.contract.to_string().into(),
            when(b.fill_time),
            b.fill.into(),
            opt(b.filled_price),
        ]);
        delays.rows.push(vec![
            b.instrument.as_str().into(),
            b.strategy.as_str().into(),
            when(t.prices.parent_reference_time),
            when(b.submitted_at),
            when(b.fill_time),
            delay_seconds(t.prices.parent_reference_time, b.submitted_at).into(),
            delay_seconds(b.submitted_at, b.fill_time).into(),
        ]);
        let mut row = head(t);
        row.extend([
            opt(t.prices.parent_reference_price),
            opt(t.prices.parent_limit_price),
            opt(b.mid_price),
            opt(b.side_price),
            opt(b.offside_price),
            opt(b.limit_price),
            opt(b.filled_price),
        ]);
        row.extend(t.slip.items().map(Cell::from));
        raw.rows.push(row);
        let mut row = head(t);
        row.push(annual_vol.into());
        row.extend(t.slip.scaled(10_000.0 / annual_vol).items().map(Cell::from));
        vol.rows.push(row);
        let in_cash = t.slip.scaled(point_base);
        let mut row = head(t);
        row.push(point_base.into());
        row.extend(in_cash.items().map(Cell::from));
        cash.rows.push(row);
        let add = |acc: &mut [f64; 6]| {
            for (a, v) in acc.iter_mut().zip(in_cash.items()) {
                if v.is_finite() {
                    *a += v;
                }
            }
        };
        add(sums
            .entry((b.strategy.clone(), b.instrument.to_string()))
            .or_default());
        add(strategy_sums.entry(b.strategy.clone()).or_default());
    }
    let sum_cols = |first: Vec<Column>| {
        let mut c = first;
        c.extend(ITEMS.map(|i| Column::num(&format!("{i}_cash"), 2)));
        c
    };
    let mut by_pair = Table::new(
        "cash_sums",
        "Cash slippage summed per strategy and instrument",
        sum_cols(vec![Column::text("strategy"), Column::text("instrument")]),
    );
    for ((s, i), v) in &sums {
        let mut row: Vec<Cell> = vec![s.as_str().into(), i.as_str().into()];
        row.extend(v.map(Cell::from));
        by_pair.rows.push(row);
    }
    let mut by_strategy = Table::new(
        "cash_total_sums",
        "Cash slippage summed per strategy",
        sum_cols(vec![Column::text("strategy")]),
    );
    for (s, v) in &strategy_sums {
        let mut row: Vec<Cell> = vec![s.as_str().into()];
        row.extend(v.map(Cell::from));
        by_strategy.rows.push(row);
    }
    items.extend([overview, delays, raw, vol, cash, by_pair, by_strategy].map(Item::Table));
    if !notes.is_empty() {
        items.push(Item::Text {
            text: notes.join("\n"),
        });
    }
    Ok(items)
}
