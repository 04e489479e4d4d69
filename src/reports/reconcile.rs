//! The reconcile report (§A5 item 27): the three position breaks — optimal against actual
//! (a strategy position outside its buffer), instrument against contract (strategy positions
//! summed per instrument against contract positions), broker against the system (contract by
//! contract, §B23) — then the positions and the last day's trades on both sides.
//!
//! §E8 decided: an optimal break is a position outside the buffer (the order generator would
//! trade it), not pysystemtrade's check that fires when the position equals the optimum.
//! A broker that cannot be reached is said so; the system's side is still shown.

use chrono::{DateTime, Duration, Utc};

use super::{data, when, ReportError};
use crate::app::App;
use crate::domain::orders::breaks::position_breaks;
use crate::domain::orders::generate::buffered_trade;
use crate::domain::reports::{Column, Item, ReportOptions, Table};

pub async fn items(
    app: &App,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let wanted = |code: &str| opts.instrument.as_deref().is_none_or(|i| code == i);
    let strategy = app.orders.strategy_positions().await.map_err(data)?;
    let contract = app.orders.contract_positions().await.map_err(data)?;
    let broker = app.broker();
    let broker_positions = broker.positions().await;
    let since = now - Duration::days(1);
    let broker_trades = broker.executions(Some(since)).await;
    broker.close().await;

    let mut items = Vec::new();
    // Optimal against actual.
    let mut optimal = Table::new(
        "optimal_vs_actual",
        "Optimal positions against actual (a break: the position is outside its buffer)",
        vec![
            Column::text("strategy"),
            Column::text("instrument"),
            Column::num("lower", 3),
            Column::num("optimal", 3),
            Column::num("upper", 3),
            Column::num("actual", 0),
            Column::text("break"),
        ],
    );
    let mut optimal_breaks = 0;
    for p in app
        .optimal
        .latest_optimal_positions(opts.strategy.as_deref())
        .await
        .map_err(data)?
        .into_iter()
        .filter(|p| wanted(p.instrument.as_str()))
    {
        let actual = strategy
            .iter()
            .find(|s| s.strategy == p.strategy && s.instrument == p.instrument)
            .map_or(0, |s| s.position);
        let broken = buffered_trade(actual, p.lower, p.upper).is_some_and(|t| t != 0);
        optimal_breaks += usize::from(broken);
        optimal.rows.push(vec![
            p.strategy.as_str().into(),
            p.instrument.as_str().into(),
            p.lower.into(),
            p.optimal.into(),
            p.upper.into(),
            actual.into(),
            if broken { "BREAK" } else { "" }.into(),
        ]);
    }

    let positions = match &broker_positions {
        Ok(b) => b.clone(),
        Err(_) => Vec::new(),
    };
    let breaks = position_breaks(&strategy, &contract, &positions);
    let mut internal = Table::new(
        "instrument_vs_contract",
        "Strategy positions summed per instrument against contract positions",
        vec![
            Column::text("instrument"),
            Column::num("strategies", 0),
            Column::num("contracts", 0),
        ],
    );
    for b in breaks
        .internal
        .iter()
        .filter(|b| wanted(b.instrument.as_str()))
    {
        internal.rows.push(vec![
            b.instrument.as_str().into(),
            b.strategies.into(),
            b.contracts.into(),
        ]);
    }
    let mut external = Table::new(
        "broker_vs_system",
        "Contract positions at the broker against the system's",
        vec![
            Column::text("instrument"),
            Column::text("contract"),
            Column::num("system", 0),
            Column::num("broker", 0),
        ],
    );
    if broker_positions.is_ok() {
        for b in breaks
            .external
            .iter()
            .filter(|b| wanted(b.instrument.as_str()))
        {
            external.rows.push(vec![
                b.instrument.as_str().into(),
                b.contract.to_string().into(),
                b.system.into(),
                b.broker.into(),
            ]);
        }
    }
    let broker_note = match &broker_positions {
        Ok(_) => format!("{} broker break(s)", external.rows.len()),
        Err(e) => format!("broker not reachable ({e}): its side is not compared"),
    };
    items.push(Item::Text {
        text: format!(
            "{optimal_breaks} optimal break(s), {} instrument/contract break(s), {broker_note}.",
            internal.rows.len()
        ),
    });
    for t in [optimal, internal, external] {
        if t.rows.is_empty() {
            items.push(Item::Text {
                text: format!("{}: no breaks.", t.title),
            });
        } else {
            items.push(Item::Table(t));
        }
    }

    // The positions on both sides.
    let mut db = Table::new(
        "system_positions",
        "Contract positions in the system",
        vec![
            Column::text("instrument"),
            Column::text("contract"),
            Column::num("position", 0),
        ],
    );
    for p in contract
        .iter()
        .filter(|p| p.position != 0 && wanted(p.instrument.as_str()))
    {
        db.rows.push(vec![
            p.instrument.as_str().into(),
            p.contract.to_string().into(),
            p.position.into(),
        ]);
    }
    items.push(Item::Table(db));
    if let Ok(b) = &broker_positions {
        let mut t = Table::new(
            "broker_positions",
            "Contract positions at the broker",
            vec![
                Column::text("instrument"),
                Column::text("contract"),
                Column::num("position", 0),
            ],
        );
        for p in b
            .iter()
            .filter(|p| p.quantity != 0 && wanted(p.instrument.as_str()))
        {
            t.rows.push(vec![
                p.instrument.as_str().into(),
                p.contract.to_string().into(),
                p.quantity.into(),
            ]);
        }
        items.push(Item::Table(t));
    }

    // The last day's trades on both sides.
    let mut fills = Table::new(
        "system_trades",
        "Fills recorded in the system in the last 24 hours",
        vec![
            Column::text("time"),
            Column::text("strategy"),
            Column::text("instrument"),
            Column::text("contract"),
            Column::num("filled", 0),
            Column::num("price", 4),
        ],
    );
    let only_instrument = ReportOptions {
        instrument: opts.instrument.clone(),
        ..Default::default()
    };
    let mut orders = super::trades::filled_orders(app, &only_instrument, since, now).await?;
    orders.sort_by_key(|o| (o.fill_time, o.id));
    for o in &orders {
        fills.rows.push(vec![
            when(o.fill_time),
            o.strategy.as_str().into(),
            o.instrument.as_str().into(),
            o.contract.to_string().into(),
            o.fill.into(),
            o.filled_price.unwrap_or(f64::NAN).into(),
        ]);
    }
    items.push(Item::Table(fills));
    match broker_trades {
        Ok(executions) => {
            let mut t = Table::new(
                "broker_trades",
                "Executions at the broker in the last 24 hours",
                vec![
                    Column::text("time"),
                    Column::text("instrument"),
                    Column::text("contract"),
                    Column::num("quantity", 0),
                    Column::num("price", 4),
                    Column::text("order_ref"),
                ],
            );
            for e in executions
                .iter()
                .filter(|e| e.ts <= now && wanted(e.instrument.as_str()))
            {
                t.rows.push(vec![
                    when(Some(e.ts)),
                    e.instrument.as_str().into(),
                    e.contract.to_string().into(),
                    e.quantity.into(),
                    e.price.into(),
                    e.order_ref.as_str().into(),
                ]);
            }
            items.push(Item::Table(t));
        }
        Err(e) => items.push(Item::Text {
            text: format!("Executions at the broker: not available ({e})."),
        }),
    }
    Ok(items)
}
