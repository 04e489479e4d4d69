//! The status report (§A5 item 24): what is late and what is in force, from this home's
//! stores — workflows and their nodes (pysystemtrade's processes and methods), the last price
//! and FX updates, the last optimal positions, trade and position limits, overrides and locks.
//!
//! "Late" is older than [`DELAY_DAYS`] (pysystemtrade's three days): a workflow whose last
//! successful run started before that, a price series or FX rate whose last row is older, an
//! optimal position computed before. The "late" tables come first, then everything in force.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{data, when, ReportError};
use crate::app::App;
use crate::domain::instrument::InstrumentCode;
use crate::domain::reports::{Cell, Column, Item, ReportOptions, Table};
use crate::engine::store::Trigger;

/// Older than this is late.
pub const DELAY_DAYS: i64 = 3;

fn age_days(now: DateTime<Utc>, t: Option<DateTime<Utc>>) -> Cell {
    t.map_or(f64::NAN, |t| (now - t).num_seconds() as f64 / 86_400.0)
        .into()
}

/// The last finite row's time of a series' timestamps and values.
fn last_time(ts: &[i64], values: &[f64]) -> Option<DateTime<Utc>> {
    ts.iter()
        .zip(values)
        .rev()
        .find(|(_, v)| v.is_finite())
        .and_then(|(t, _)| DateTime::from_timestamp_micros(*t))
}

pub async fn items(
    app: &App,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let late = now - Duration::days(DELAY_DAYS);
    let mut items = vec![Item::Text {
        text: format!(
            "As of {}; late means older than {DELAY_DAYS} days.",
            now.format("%Y-%m-%d %H:%M UTC")
        ),
    }];

    // Workflows: control state, last run, last success.
    let controls: BTreeMap<String, String> = app
        .runs
        .control_states()
        .await
        .map_err(data)?
        .into_iter()
        .map(|c| (c.workflow, c.state.as_str().to_string()))
        .collect();
    let mut names: Vec<String> = crate::app::workflow_sources(&app.home)
        .into_keys()
        .collect();
    for w in controls.keys() {
        if !names.contains(w) {
            names.push(w.clone());
        }
    }
    names.sort();
    let mut workflows = Table::new(
        "workflows",
        "Workflows",
        vec![
            Column::text("workflow"),
            Column::text("control"),
            Column::text("last_run"),
            Column::text("last_status"),
            Column::text("last_started"),
            Column::text("last_finished"),
            Column::text("last_success_started"),
            Column::num("days_since_success", 1),
        ],
    );
    let mut late_workflows = Table::new(
        "late_workflows",
        "Workflows not run successfully for more than three days",
        vec![
            Column::text("workflow"),
            Column::text("last_success_started"),
        ],
    );
    let triggers = [Trigger::Manual, Trigger::Schedule, Trigger::Rerun];
    let mut last_runs = Vec::new();
    for name in &names {
        let last = app.runs.last_run(name, &triggers).await.map_err(data)?;
        let success = app.runs.last_success(name).await.map_err(data)?;
        let ok_at = success.as_ref().map(|r| r.started_at);
        if last.is_some() && ok_at.is_none_or(|t| t < late) {
            late_workflows
                .rows
                .push(vec![name.as_str().into(), when(ok_at)]);
        }
        workflows.rows.push(vec![
            name.as_str().into(),
            controls.get(name).map_or("go", |s| s.as_str()).into(),
            last.as_ref()
                .map_or_else(String::new, |r| r.id.to_string())
                .into(),
            last.as_ref()
                .map_or("never run", |r| r.status.as_str())
                .into(),
            when(last.as_ref().map(|r| r.started_at)),
            when(last.as_ref().and_then(|r| r.finished_at)),
            when(ok_at),
            age_days(now, ok_at),
        ]);
        if let Some(r) = last {
            last_runs.push(r);
        }
    }

    // Nodes of each workflow's last run (pysystemtrade's method status).
    let mut nodes = Table::new(
        "nodes",
        "Nodes of each workflow's last run",
        vec![
            Column::text("workflow"),
            Column::text("run"),
            Column::text("node"),
            Column::text("task"),
            Column::text("state"),
            Column::num("attempts", 0),
            Column::text("started"),
            Column::text("finished"),
        ],
    );
    for r in &last_runs {
        for n in app.runs.run_nodes(r.id).await.map_err(data)? {
            nodes.rows.push(vec![
                r.workflow.as_str().into(),
                r.id.to_string().into(),
                n.node_id.into(),
                n.task.into(),
                n.state.as_str().into(),
                i64::from(n.attempts).into(),
                when(n.started_at),
                when(n.finished_at),
            ]);
        }
    }

    // Prices and FX: the last row of each series, and the positions held.
    let store = app.price_store();
    let strategy_positions = app.orders.strategy_positions().await.map_err(data)?;
    let mut held: BTreeMap<&InstrumentCode, i64> = BTreeMap::new();
    for p in &strategy_positions {
        *held.entry(&p.instrument).or_default() += p.position;
    }
    let mut prices = Table::new(
        "price_updates",
        "Last adjusted price of each instrument (held: contracts across strategies)",
        vec![
            Column::text("instrument"),
            Column::text("last_price_at"),
            Column::num("age_days", 1),
            Column::num("held", 0),
            Column::text("late"),
        ],
    );
    let codes = store.instruments_with_adjusted().map_err(data)?;
    for code in codes
        .iter()
        .filter(|c| opts.instrument.as_deref().is_none_or(|i| c.as_str() == i))
    {
        let at = store
            .read_adjusted(code)
            .map_err(data)?
            .and_then(|a| last_time(&a.ts, &a.value));
        prices.rows.push(vec![
            code.as_str().into(),
            when(at),
            age_days(now, at),
            held.get(code).copied().unwrap_or(0).into(),
            if at.is_none_or(|t| t < late) {
                "LATE"
            } else {
                ""
            }
            .into(),
        ]);
    }
    let mut fx = Table::new(
        "fx_updates",
        "Last FX rate of each currency",
        vec![
            Column::text("currency"),
            Column::text("last_rate_at"),
            Column::num("age_days", 1),
            Column::text("late"),
        ],
    );
    for ccy in store.fx_currencies().map_err(data)? {
        let at = store
            .read_fx(&ccy)
            .map_err(data)?
            .and_then(|f| last_time(&f.ts, &f.value));
        fx.rows.push(vec![
            ccy.as_str().into(),
            when(at),
            age_days(now, at),
            if at.is_none_or(|t| t < late) {
                "LATE"
            } else {
                ""
            }
            .into(),
        ]);
    }

    // Optimal positions.
    let mut optimal = Table::new(
        "optimal_updates",
        "Last optimal position of each strategy and instrument",
        vec![
            Column::text("strategy"),
            Column::text("instrument"),
            Column::text("computed_at"),
            Column::num("age_days", 1),
            Column::num("optimal", 3),
            Column::text("late"),
        ],
    );
    for p in app
        .optimal
        .latest_optimal_positions(opts.strategy.as_deref())
        .await
        .map_err(data)?
        .into_iter()
        .filter(|p| {
            opts.instrument
                .as_deref()
                .is_none_or(|i| p.instrument.as_str() == i)
        })
    {
        optimal.rows.push(vec![
            p.strategy.as_str().into(),
            p.instrument.as_str().into(),
            when(Some(p.computed_at)),
            age_days(now, Some(p.computed_at)),
            p.optimal.into(),
            if p.computed_at < late { "LATE" } else { "" }.into(),
        ]);
    }

    // Limits, overrides, locks.
    let mut trade_limits = Table::new(
        "trade_limits",
        "Trade limits (capacity 0 or less: no more trades this period)",
        vec![
            Column::text("strategy"),
            Column::text("instrument"),
            Column::num("limit", 0),
            Column::num("period_days", 0),
            Column::num("traded", 0),
            Column::num("capacity", 0),
            Column::text("last_reset"),
        ],
    );
    for mut l in app.controls.trade_limits(now).await.map_err(data)? {
        l.reset_if_due(now);
        trade_limits.rows.push(vec![
            l.strategy.clone().unwrap_or_else(|| "(all)".into()).into(),
            l.instrument.as_str().into(),
            l.limit.into(),
            i64::from(l.period_days).into(),
            l.trades_since_reset.into(),
            (l.limit - l.trades_since_reset).into(),
            when(Some(l.last_reset)),
        ]);
    }
    let mut position_limits = Table::new(
        "position_limits",
        "Position limits (spare 0 or less: at the limit)",
        vec![
            Column::text("scope"),
            Column::text("limit"),
            Column::num("position", 0),
            Column::num("spare", 0),
        ],
    );
    for l in app.controls.position_limits().await.map_err(data)? {
        let position: i64 = match &l.scope {
            crate::domain::controls::LimitScope::Instrument(i) => strategy_positions
                .iter()
                .filter(|p| &p.instrument == i)
                .map(|p| p.position)
                .sum(),
            crate::domain::controls::LimitScope::StrategyInstrument(s, i) => strategy_positions
                .iter()
                .filter(|p| &p.instrument == i && p.strategy == s.as_str())
                .map(|p| p.position)
                .sum(),
        };
        let spare = l
            .limit
            .contracts()
            .map_or(f64::NAN, |n| n as f64 - position.unsigned_abs() as f64);
        position_limits.rows.push(vec![
            l.scope.to_string().into(),
            l.limit.to_string().into(),
            position.into(),
            spare.into(),
        ]);
    }
    let mut overrides = Table::new(
        "overrides",
        "Overrides in force",
        vec![
            Column::text("scope"),
            Column::text("override"),
            Column::text("since"),
        ],
    );
    for o in app.controls.overrides().await.map_err(data)? {
        overrides.rows.push(vec![
            o.scope.to_string().into(),
            o.value.to_string().into(),
            when(Some(o.updated_at)),
        ]);
    }
    let mut locks = Table::new(
        "locks",
        "Instruments locked (no orders spawned or sent)",
        vec![Column::text("instrument"), Column::text("reason")],
    );
    for l in app.orders.locks().await.map_err(data)? {
        locks
            .rows
            .push(vec![l.instrument.as_str().into(), l.reason.into()]);
    }

    let late_prices = prices.rows.iter().filter(|r| r[4] == "LATE".into()).count();
    let late_fx = fx.rows.iter().filter(|r| r[3] == "LATE".into()).count();
    let late_optimal = optimal
        .rows
        .iter()
        .filter(|r| r[5] == "LATE".into())
        .count();
    let at_trade_limit = trade_limits
        .rows
        .iter()
        .filter(|r| matches!(r[5], Cell::Int(c) if c <= 0))
        .count();
    let at_position_limit = position_limits
        .rows
        .iter()
        .filter(|r| matches!(r[3], Cell::Num(s) if s <= 0.0))
        .count();
    items.push(Item::Heading {
        text: "Summary".into(),
    });
    items.push(Item::Text {
        text: format!(
            "{} workflow(s) late, {late_prices} instrument(s) with late prices, {late_fx} late \
             FX rate(s), {late_optimal} late optimal position(s), {at_trade_limit} trade \
             limit(s) used up, {at_position_limit} position limit(s) reached, {} override(s), \
             {} lock(s).",
            late_workflows.rows.len(),
            overrides.rows.len(),
            locks.rows.len()
        ),
    });
    for t in [
        late_workflows,
        workflows,
        nodes,
        prices,
        fx,
        optimal,
        trade_limits,
        position_limits,
        overrides,
        locks,
    ] {
        if t.rows.is_empty() {
            items.push(Item::Text {
                text: format!("{}: none.", t.title),
            });
        } else {
            items.push(Item::Table(t));
        }
    }
    Ok(items)
}

/// What the status report found late that a person must hear of on a trading day: the
/// instruments whose prices and the (strategy, instrument) pairs whose optimal positions are
/// older than [`DELAY_DAYS`], read off the report's tables. `None` when nothing is late.
pub fn stale_data(report: &crate::domain::reports::Report) -> Option<String> {
    let late = |id: &str, name_cols: &[usize], late_col: usize| -> Vec<String> {
        report
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Table(t) if t.id == id => Some(t),
                _ => None,
            })
            .flat_map(|t| t.rows.iter())
            .filter(|r| r.get(late_col) == Some(&Cell::from("LATE")))
            .map(|r| {
                name_cols
                    .iter()
                    .filter_map(|c| match r.get(*c) {
                        Some(Cell::Text(s)) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect()
    };
    let prices = late("price_updates", &[0], 4);
    let optimal = late("optimal_updates", &[0, 1], 5);
    if prices.is_empty() && optimal.is_empty() {
        return None;
    }
    let mut lines = Vec::new();
    if !prices.is_empty() {
        lines.push(format!(
            "prices older than {DELAY_DAYS} days: {}",
            prices.join(", ")
        ));
    }
    if !optimal.is_empty() {
        lines.push(format!(
            "optimal positions older than {DELAY_DAYS} days: {}",
            optimal.join(", ")
        ));
    }
    Some(lines.join("\n"))
}
