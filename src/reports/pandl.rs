//! The P&L report (default: the last day; `--from/--to`) and the account curve report, from the
//! capital history, the positions' history (`position_changes` with their executions) and the
//! stored prices; the calculations are [`crate::domain::reports::pandl`]'s.
//!
//! - Total: the account's P&L in percent of capital over the window.
//! - By instrument: every contract held or traded in the window, on its merged daily and hourly
//!   closes, with fills at their prices; summed per instrument. Futures total, and the residual
//!   (total − futures: fees, interest, timing).
//! - By strategy: the strategy's position on the instrument's priced-contract prices (the
//!   multiple prices' PRICE), with its fills; residual likewise.
//! - By asset class: the instruments' P&L summed.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::{data, ReportError};
use crate::app::App;
use crate::domain::capital::{daily_percentage_returns, CapitalEntry};
use crate::domain::contract::ContractId;
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::orders::PositionChange;
use crate::domain::ports::{Frequency, PriceStore};
use crate::domain::reports::pandl::{
    curve, position_at, position_pnl, standard_periods, Change, CurvePeriod,
};
use crate::domain::reports::{Cell, Chart, Column, Item, Line, Plot, ReportOptions, Table};

fn micros_to_time(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

/// A step function of time: the last value at or before `t` (else the first).
struct Steps(Vec<(DateTime<Utc>, f64)>);

impl Steps {
    fn at(&self, t: DateTime<Utc>) -> f64 {
        let i = self.0.partition_point(|(s, _)| *s <= t);
        self.0
            .get(i.saturating_sub(1))
            .map_or(f64::NAN, |(_, v)| *v)
    }
}

/// The USD value of one unit of `currency` over time (1 for USD).
fn usd_steps(store: &dyn PriceStore, currency: &str) -> Result<Steps, String> {
    if currency == "USD" {
        return Ok(Steps(vec![(DateTime::<Utc>::MIN_UTC, 1.0)]));
    }
    let fx = store
        .read_fx(currency)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no {currency}USD FX rates"))?;
    Ok(Steps(
        fx.ts
            .iter()
            .zip(&fx.value)
            .filter(|(_, v)| v.is_finite())
            .filter_map(|(t, v)| Some((micros_to_time(*t)?, *v)))
            .collect(),
    ))
}

/// One position's changes and its position at `start`, from the changes since `start` and
/// the position now; `None` when it was flat at `start` and did not change by `end`.
fn held_in_window<'a>(
    changes: impl Iterator<Item = &'a PositionChange>,
    now: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<(Vec<Change>, i64)> {
    let changes: Vec<Change> = changes
        .map(|c| Change {
            at: c.at,
            quantity: c.change,
            price: c.price,
        })
        .collect();
    let at_start = position_at(now, &changes, start);
    (at_start != 0 || changes.iter().any(|c| c.at <= end)).then_some((changes, at_start))
}

/// The P&L items.
pub async fn items(
    app: &App,
    reference: &ReferenceData,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let (start, end) = super::window(opts, now, 1);
    let range = super::trades::range_text(start, end);
    let history = app.capital.capital_history().await.map_err(data)?;
    if history.is_empty() {
        return Ok(vec![Item::Text {
            text: "No capital recorded: nothing to measure P&L against (`systrade capital \
                   init VALUE`, then the daily run's update_total_capital)."
                .into(),
        }]);
    }
    let capital = Steps(history.iter().map(|e| (e.at, e.actual)).collect());
    let total = account_pnl(&history, start, end);

    let changes = app.orders.position_changes(start).await.map_err(data)?;
    let store = app.price_store();
    let base = app.config.capital.base_currency.clone();
    let base_usd = usd_steps(store.as_ref(), &base).map_err(ReportError::Data)?;

    // Contracts held at the start or changed since.
    let mut contracts: BTreeMap<(InstrumentCode, ContractId), i64> = BTreeMap::new();
    for p in app.orders.contract_positions().await.map_err(data)? {
        contracts.insert((p.instrument, p.contract), p.position);
    }
    for c in &changes {
        if let Some(k) = c.contract {
            contracts.entry((c.instrument.clone(), k)).or_insert(0);
        }
    }
    let mut strategies: BTreeMap<(String, InstrumentCode), i64> = BTreeMap::new();
    for p in app.orders.strategy_positions().await.map_err(data)? {
        strategies.insert((p.strategy, p.instrument), p.position);
    }
    for c in changes.iter().filter(|c| c.contract.is_none()) {
        strategies
            .entry((c.strategy.clone(), c.instrument.clone()))
            .or_insert(0);
    }

    let mut skipped: Vec<String> = Vec::new();
    let mut by_instrument: BTreeMap<InstrumentCode, f64> = BTreeMap::new();
    let mut by_strategy: BTreeMap<String, f64> = BTreeMap::new();
    let wanted = |code: &InstrumentCode| {
        opts.instrument
            .as_deref()
            .is_none_or(|i| code.as_str() == i)
    };
    // Each instrument's point size and FX, read once for its contracts and strategies.
    let mut points: BTreeMap<&InstrumentCode, Result<(f64, Steps), String>> = BTreeMap::new();
    let codes = contracts.keys().map(|(c, _)| c);
    for code in codes.chain(strategies.keys().map(|(_, c)| c)) {
        if wanted(code) && !points.contains_key(code) {
            points.insert(code, point_value(reference, store.as_ref(), code));
        }
    }
    let value = |size: f64, fx: &Steps, t: DateTime<Utc>| {
        size * fx.at(t) / base_usd.at(t) / capital.at(t) * 100.0
    };
    for ((code, contract), now_position) in &contracts {
        if !wanted(code) {
            continue;
        }
        let mine = changes
            .iter()
            .filter(|c| c.contract == Some(*contract) && &c.instrument == code);
        let Some((ch, at_start)) = held_in_window(mine, *now_position, start, end) else {
            continue;
        };
        let prices = match store.read_contract(code, *contract, Frequency::Merged) {
            Ok(Some(p)) => {
                p.ts.iter()
                    .zip(&p.close)
                    .filter_map(|(t, v)| Some((micros_to_time(*t)?, *v)))
                    .collect::<Vec<_>>()
            }
            Ok(None) => {
                skipped.push(format!("{code} {contract}: no prices stored"));
                continue;
            }
            Err(e) => {
                skipped.push(format!("{code} {contract}: {e}"));
                continue;
            }
        };
        let pnl = match &points[code] {
            Ok((size, fx)) => {
                position_pnl(&prices, &ch, at_start, start, end, |t| value(*size, fx, t))
            }
            Err(e) => {
                skipped.push(format!("{code}: {e}"));
                continue;
            }
        };
        *by_instrument.entry(code.clone()).or_default() += pnl;
    }
    for ((strategy, code), now_position) in &strategies {
        if !wanted(code) || opts.strategy.as_deref().is_some_and(|s| s != strategy) {
            continue;
        }
        let mine = changes
            .iter()
            .filter(|c| c.contract.is_none() && &c.strategy == strategy && &c.instrument == code);
        let Some((ch, at_start)) = held_in_window(mine, *now_position, start, end) else {
            continue;
        };
        let prices = match store.read_multiple(code) {
            Ok(Some(m)) => {
                m.ts.iter()
                    .zip(&m.price)
                    .filter_map(|(t, v)| Some((micros_to_time(*t)?, *v)))
                    .collect::<Vec<_>>()
            }
            Ok(None) => {
                skipped.push(format!("{strategy} {code}: no multiple prices"));
                continue;
            }
            Err(e) => {
                skipped.push(format!("{strategy} {code}: {e}"));
                continue;
            }
        };
        if let Ok((size, fx)) = &points[code] {
            *by_strategy.entry(strategy.clone()).or_default() +=
                position_pnl(&prices, &ch, at_start, start, end, |t| value(*size, fx, t));
        }
    }

    let futures: f64 = by_instrument.values().sum();
    let mut items = vec![Item::Text {
        text: format!(
            "P&L from {range}, in percent of capital (the capital at risk at each time; \
             ARCHITECTURE.md, §E11)."
        ),
    }];
    let mut t = Table::new(
        "total",
        "Total",
        vec![Column::text("item"), Column::num("pnl_percent", 3)],
    );
    t.rows.push(vec!["total capital P&L".into(), total.into()]);
    t.rows.push(vec![
        "futures P&L (sum of instruments)".into(),
        futures.into(),
    ]);
    t.rows.push(vec![
        "residual (fees, interest, timing)".into(),
        (total - futures).into(),
    ]);
    items.push(Item::Table(t));

    if by_instrument.is_empty() {
        items.push(Item::Text {
            text: format!("No positions held or traded from {range}."),
        });
    } else {
        let mut t = Table::new(
            "by_instrument",
            "P&L by instrument",
            vec![Column::text("instrument"), Column::num("pnl_percent", 3)],
        );
        for (code, v) in &by_instrument {
            t.rows.push(vec![code.as_str().into(), (*v).into()]);
        }
        t.sort_by(1, true);
        items.push(bars_of(&t, "pnl_by_instrument_chart", "P&L by instrument"));
        items.push(Item::Table(t));

        let mut classes: BTreeMap<String, f64> = BTreeMap::new();
        for (code, v) in &by_instrument {
            let class = reference
                .instrument(code)
                .map_or_else(|| "unknown".to_string(), |i| i.asset_class.clone());
            *classes.entry(class).or_default() += v;
        }
        let mut t = Table::new(
            "by_asset_class",
            "P&L by asset class",
            vec![Column::text("asset_class"), Column::num("pnl_percent", 3)],
        );
        for (class, v) in &classes {
            t.rows.push(vec![class.as_str().into(), (*v).into()]);
        }
        t.sort_by(1, true);
        items.push(bars_of(
            &t,
            "pnl_by_asset_class_chart",
            "P&L by asset class",
        ));
        items.push(Item::Table(t));
    }
    if !by_strategy.is_empty() {
        let mut t = Table::new(
            "by_strategy",
            "P&L by strategy",
            vec![Column::text("strategy"), Column::num("pnl_percent", 3)],
        );
        for (s, v) in &by_strategy {
            t.rows.push(vec![s.as_str().into(), (*v).into()]);
        }
        let sum: f64 = by_strategy.values().sum();
        t.rows.push(vec!["residual".into(), (total - sum).into()]);
        items.push(Item::Table(t));
    }
    if !skipped.is_empty() {
        items.push(Item::Text {
            text: format!("Left out: {}.", skipped.join("; ")),
        });
    }
    Ok(items)
}

/// The account's P&L over `(start, end]` in percent: each capital entry in the window adds its
/// change of accumulated P&L over its capital at risk, as the instruments' P&L is counted.
fn account_pnl(history: &[CapitalEntry], start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    history
        .windows(2)
        .filter(|w| w[1].at > start && w[1].at <= end && w[1].actual != 0.0)
        .map(|w| (w[1].accumulated - w[0].accumulated) / w[1].actual * 100.0)
        .sum()
}

/// The account's daily P&L in percent of the capital at risk.
fn daily_percent(history: &[CapitalEntry]) -> Vec<(NaiveDate, f64)> {
    daily_percentage_returns(history)
        .into_iter()
        .map(|(d, r)| (d, 100.0 * r))
        .collect()
}

/// An instrument's point size and the USD value of its currency over time.
fn point_value(
    reference: &ReferenceData,
    store: &dyn PriceStore,
    code: &InstrumentCode,
) -> Result<(f64, Steps), String> {
    let instrument = reference
        .instrument(code)
        .ok_or_else(|| "not in the reference data".to_string())?;
    Ok((
        instrument.point_size,
        usd_steps(store, &instrument.currency)?,
    ))
}

/// A bar chart of a two-column (label, number) table.
fn bars_of(t: &Table, id: &str, title: &str) -> Item {
    let (labels, values) = t
        .rows
        .iter()
        .map(|r| {
            let label = match &r[0] {
                Cell::Text(s) => s.clone(),
                other => format!("{other:?}"),
            };
            let v = match r.get(1) {
                Some(Cell::Num(v)) => *v,
                _ => f64::NAN,
            };
            (label, v)
        })
        .unzip();
    Item::Chart(Chart {
        id: id.into(),
        title: title.into(),
        y_label: "% of capital".into(),
        plot: Plot::Bars { labels, values },
    })
}

/// The account curve items: for each standard period (or `--from/--to`), the cumulative daily
/// P&L as a chart, and a table of the periods' totals and drawdowns.
pub async fn account_curve(
    app: &App,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let history = app.capital.capital_history().await.map_err(data)?;
    let daily = daily_percent(&history);
    if daily.is_empty() {
        return Ok(vec![Item::Text {
            text: "No daily P&L yet: the account curve needs capital recorded on at least two \
                   business days."
                .into(),
        }]);
    }
    let today = now.date_naive();
    let periods: Vec<CurvePeriod> = if opts.from.is_some() || opts.to.is_some() {
        let (start, end) = super::window(opts, now, 365);
        vec![curve(
            "custom",
            &daily,
            start.date_naive(),
            end.date_naive(),
        )]
    } else {
        standard_periods(today)
            .into_iter()
            .map(|(name, from)| curve(name, &daily, from, today))
            .collect()
    };
    let mut t = Table::new(
        "periods",
        "Account curve by period",
        vec![
            Column::text("period"),
            Column::text("from"),
            Column::text("to"),
            Column::num("days", 0),
            Column::num("pnl_percent", 2),
            Column::num("max_drawdown_percent", 2),
        ],
    );
    let mut items = Vec::new();
    for p in &periods {
        t.rows.push(vec![
            p.name.as_str().into(),
            p.from.to_string().into(),
            p.to.to_string().into(),
            (p.days as i64).into(),
            p.total.into(),
            p.max_drawdown.into(),
        ]);
    }
    items.push(Item::Table(t));
    for p in &periods {
        if p.curve.is_empty() {
            items.push(Item::Text {
                text: format!("{}: no P&L between {} and {}.", p.name, p.from, p.to),
            });
            continue;
        }
        items.push(Item::Chart(Chart {
            id: format!("curve_{}", p.name),
            title: format!("Account curve, {} ({} to {})", p.name, p.from, p.to),
            y_label: "cumulative P&L, % of capital".into(),
            plot: Plot::Lines {
                dates: p.curve.iter().map(|(d, _)| *d).collect(),
                series: vec![Line {
                    name: "account".into(),
                    values: p.curve.iter().map(|(_, v)| *v).collect(),
                }],
            },
        }));
    }
    Ok(items)
}
