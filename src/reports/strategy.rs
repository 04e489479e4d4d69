//! The strategy report (§A5 item 29, pysystemtrade's classic strategy report): for each strategy
//! (or `--strategy`), the last row of its latest stored backtest state — the vol target, the vol
//! calculation, the subsystem position inputs, the portfolio position (subsystem position,
//! instrument weight, IDM), the position against its average, the buffers against the position
//! held now, and the forecasts: weights, unweighted (capped) and weighted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{data, ReportError};
use crate::app::App;
use crate::domain::optimal::{day_date, StoredSeries};
use crate::domain::reports::{Cell, Column, Item, ReportOptions, Table};

/// The last value of column `name` of `s` (NaN when absent).
fn last(s: &StoredSeries, name: &str) -> f64 {
    s.columns
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.last().copied())
        .unwrap_or(f64::NAN)
}

/// A table of `columns` (stored column names) for every instrument, at its last row.
fn columns_table(id: &str, title: &str, series: &[StoredSeries], columns: &[&str]) -> Table {
    let mut cols = vec![Column::text("instrument"), Column::text("date")];
    cols.extend(columns.iter().map(|c| Column::num(c, 4)));
    let mut t = Table::new(id, title, cols);
    for s in series {
        let mut row: Vec<Cell> = vec![
            s.instrument.as_str().into(),
            s.days
                .last()
                .and_then(|d| day_date(*d))
                .map_or_else(String::new, |d| d.to_string())
                .into(),
        ];
        row.extend(columns.iter().map(|c| Cell::from(last(s, c))));
        t.rows.push(row);
    }
    t
}

pub async fn items(
    app: &App,
    opts: &ReportOptions,
    _now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let strategies: Vec<String> = match &opts.strategy {
        Some(s) => vec![s.clone()],
        None => app
            .config
            .strategies
            .weights
            .iter()
            .map(|(name, _)| name.clone())
            .collect(),
    };
    let states = app.backtest_states();
    let reference = app
        .reference_data()
        .map_err(|d| ReportError::Data(format!("reference data: {d}")))?;
    let mut items = Vec::new();
    for name in &strategies {
        items.push(Item::Heading {
            text: format!("Strategy {name}"),
        });
        let Some(state) = states
            .list_states(Some(name))
            .map_err(data)?
            .into_iter()
            .next_back()
        else {
            items.push(Item::Text {
                text: format!(
                    "No backtest state stored for {name}: run_systems has not run it yet."
                ),
            });
            continue;
        };
        let mut series = states.read_state(&state).map_err(data)?;
        if let Some(i) = &opts.instrument {
            series.retain(|s| &s.instrument == i);
        }
        series.sort_by(|a, b| a.instrument.cmp(&b.instrument));
        let config = app.strategy(name, &reference).ok();
        let capital = app
            .capital
            .latest_strategy_capital(name)
            .await
            .map_err(data)?
            .map_or(f64::NAN, |c| c.capital);
        let target = config
            .as_ref()
            .map_or(f64::NAN, |c| c.config.position.percentage_vol_target);
        let mut vol = Table::new(
            "vol_target",
            "Vol target",
            vec![Column::text("item"), Column::num("value", 2)],
        );
        vol.rows
            .push(vec!["strategy capital".into(), capital.into()]);
        vol.rows
            .push(vec!["percentage vol target".into(), target.into()]);
        vol.rows.push(vec![
            "annual cash vol target".into(),
            (capital * target / 100.0).into(),
        ]);
        vol.rows.push(vec![
            "daily cash vol target".into(),
            (capital * target / 100.0 / 16.0).into(),
        ]);
        items.push(Item::Text {
            text: format!(
                "From the backtest state computed {} ({}).",
                state.computed_at.format("%Y-%m-%d %H:%M UTC"),
                state.path.display()
            ),
        });
        items.push(Item::Table(vol));
        if series.is_empty() {
            items.push(Item::Text {
                text: "No instruments in the state.".into(),
            });
            continue;
        }
        items.push(Item::Table(columns_table(
            "vol_calculation",
            "Vol calculation",
            &series,
            &[
                "price",
                "daily_returns_vol",
                "daily_pct_vol",
                "fx_rate_ffill",
                "block_value",
                "instr_ccy_vol",
                "instr_value_vol",
            ],
        )));
        items.push(Item::Table(columns_table(
            "subsystem_position",
            "Subsystem position inputs",
            &series,
            &["vol_scalar", "combined_forecast", "subsystem_position"],
        )));
        items.push(Item::Table(columns_table(
            "portfolio_positions",
            "Portfolio positions",
            &series,
            &[
                "subsystem_position",
                "instrument_weight",
                "idm",
                "notional_position",
            ],
        )));

        // Average position = IDM × weight × vol scalar; the position against it.
        let mut diag = Table::new(
            "position_diagnostics",
            "Position against the average position (IDM × instrument weight × vol scalar)",
            vec![
                Column::text("instrument"),
                Column::num("average_position", 4),
                Column::num("notional_position", 4),
                Column::num("position_vs_average", 3),
            ],
        );
        for s in &series {
            let average = last(s, "idm") * last(s, "instrument_weight") * last(s, "vol_scalar");
            let notional = last(s, "notional_position");
            diag.rows.push(vec![
                s.instrument.as_str().into(),
                average.into(),
                notional.into(),
                (notional / average).into(),
            ]);
        }
        items.push(Item::Table(diag));

        // Buffers against the position held now.
        let held: BTreeMap<String, i64> = app
            .orders
            .strategy_positions()
            .await
            .map_err(data)?
            .into_iter()
            .filter(|p| &p.strategy == name)
            .map(|p| (p.instrument.to_string(), p.position))
            .collect();
        let mut buffers = Table::new(
            "positions_vs_buffers",
            "Buffers at the backtest against the position held now",
            vec![
                Column::text("instrument"),
                Column::num("bot_pos", 3),
                Column::num("notional_position", 3),
                Column::num("top_pos", 3),
                Column::num("position_now", 0),
                Column::text("outside_buffer"),
            ],
        );
        for s in &series {
            let now = held.get(&s.instrument).copied().unwrap_or(0);
            let (bot, top) = (last(s, "bot_pos"), last(s, "top_pos"));
            let outside = (now as f64) < bot.round() || (now as f64) > top.round();
            buffers.rows.push(vec![
                s.instrument.as_str().into(),
                bot.into(),
                last(s, "notional_position").into(),
                top.into(),
                now.into(),
                if outside { "yes" } else { "" }.into(),
            ]);
        }
        items.push(Item::Table(buffers));

        // Forecasts.
        let rules: Vec<String> = series[0]
            .columns
            .iter()
            .filter_map(|(n, _)| n.strip_prefix("fw_").map(str::to_string))
            .collect();
        let fw: Vec<String> = rules.iter().map(|r| format!("fw_{r}")).collect();
        let capped: Vec<String> = rules.iter().map(|r| format!("capfc_{r}")).collect();
        items.push(Item::Table(columns_table(
            "forecast_weights",
            "Forecast weights",
            &series,
            &fw.iter().map(String::as_str).collect::<Vec<_>>(),
        )));
        items.push(Item::Table(columns_table(
            "unweighted_forecasts",
            "Unweighted forecasts (scaled and capped)",
            &series,
            &capped.iter().map(String::as_str).collect::<Vec<_>>(),
        )));
        let mut weighted = Table::new(
            "weighted_forecasts",
            "Weighted forecasts (× weight × FDM)",
            {
                let mut c = vec![Column::text("instrument")];
                c.extend(rules.iter().map(|r| Column::num(r, 3)));
                c.push(Column::num("combined_forecast", 3));
                c
            },
        );
        for s in &series {
            let fdm = last(s, "fdm");
            let mut row: Vec<Cell> = vec![s.instrument.as_str().into()];
            row.extend(rules.iter().map(|r| {
                Cell::from(last(s, &format!("capfc_{r}")) * last(s, &format!("fw_{r}")) * fdm)
            }));
            row.push(last(s, "combined_forecast").into());
            weighted.rows.push(row);
        }
        items.push(Item::Table(weighted));
    }
    if strategies.is_empty() {
        items.push(Item::Text {
            text: "No strategies in strategies.weights.".into(),
        });
    }
    Ok(items)
}
