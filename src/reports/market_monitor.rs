//! The market monitor report from the stored adjusted prices of every instrument with multiple
//! prices: for each period (or the `--from`/`--to` range), the top and bottom six moves sorted by
//! change and by vol-adjusted change, then every instrument sorted by name, change and
//! vol-adjusted change (pysystemtrade's layout).

use chrono::{DateTime, Utc};

use super::{data, ReportError};
use crate::app::App;
use crate::domain::instrument::InstrumentCode;
use crate::domain::reports::market_monitor::{market_move, period_start, Move, PERIODS};
use crate::domain::reports::{Chart, Column, Item, Plot, ReportOptions, Table};
use crate::domain::series::AdjustedPrices;

/// Rows in each half of a truncated table.
const TOP_AND_TAIL: usize = 6;

pub fn items(
    app: &App,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let store = app.price_store();
    let codes = match &opts.instrument {
        Some(code) => vec![InstrumentCode::new(code).map_err(ReportError::Invalid)?],
        None => store.instruments_with_multiple().map_err(data)?,
    };
    let mut prices: Vec<(InstrumentCode, AdjustedPrices)> = Vec::new();
    let mut left_out = Vec::new();
    for code in codes {
        match store.read_adjusted(&code) {
            Ok(Some(p)) if !p.ts.is_empty() => prices.push((code, p)),
            Ok(_) => left_out.push(format!("{code}: no adjusted prices")),
            Err(e) => left_out.push(format!("{code}: {e}")),
        }
    }
    prices.sort_by(|a, b| a.0.cmp(&b.0));
    let custom = opts.from.is_some() || opts.to.is_some();
    let mut items = vec![Item::Text {
        text: if custom {
            "Instruments by their percentage move between the dates, sorted by percentage move \
             (1 = 1%) and by move in units of volatility; then every instrument sorted by name, \
             move and vol-adjusted move."
                .into()
        } else {
            format!(
                "Instruments by their percentage move over different periods ({}), ending now. \
                 The first tables are the top and bottom six, then every instrument, sorted by \
                 name, percentage move (1 = 1%) and move in units of volatility.",
                PERIODS.join(", ")
            )
        },
    }];
    let windows: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = if custom {
        if opts.from.is_none() {
            return Err(ReportError::Invalid(
                "--to needs --from (the start of the range)".into(),
            ));
        }
        let (start, end) = super::window(opts, now, 0);
        vec![(
            format!("{} to {}", start.date_naive(), end.date_naive()),
            start,
            end,
        )]
    } else {
        PERIODS
            .iter()
            .filter_map(|p| period_start(p, now).map(|s| (p.to_string(), s, now)))
            .collect()
    };
    let mut full = Vec::new();
    for (label, start, end) in &windows {
        let moves: Vec<(String, Move)> = prices
            .iter()
            .filter_map(|(code, p)| {
                market_move(
                    &p.ts,
                    &p.value,
                    start.timestamp_micros(),
                    end.timestamp_micros(),
                )
                .map(|m| (code.to_string(), m))
            })
            .collect();
        if moves.is_empty() {
            items.push(Item::Text {
                text: format!("{label}: no instrument has prices over this period."),
            });
            continue;
        }
        items.push(chart(label, &moves));
        for sort in ["change", "vol_adjusted"] {
            items.push(Item::Table(table(label, sort, &moves, true)));
        }
        for sort in ["name", "change", "vol_adjusted"] {
            full.push(Item::Table(table(label, sort, &moves, false)));
        }
    }
    items.extend(full);
    if !left_out.is_empty() {
        items.push(Item::Text {
            text: format!("Left out:\n{}", left_out.join("\n")),
        });
    }
    Ok(items)
}

/// Every instrument's move over the period in units of its volatility, largest first.
fn chart(label: &str, moves: &[(String, Move)]) -> Item {
    let mut sorted: Vec<&(String, Move)> = moves.iter().collect();
    sorted.sort_by(|a, b| b.1.vol_adjusted.total_cmp(&a.1.vol_adjusted));
    Item::Chart(Chart {
        id: format!("{label}_chart"),
        title: format!("{label}: moves in units of volatility"),
        y_label: "move / vol".into(),
        plot: Plot::Bars {
            labels: sorted.iter().map(|(c, _)| c.clone()).collect(),
            values: sorted.iter().map(|(_, m)| m.vol_adjusted).collect(),
        },
    })
}

fn table(label: &str, sort: &str, moves: &[(String, Move)], truncate: bool) -> Table {
    let id = format!(
        "{}_{sort}{}",
        label.replace(' ', "_").to_lowercase(),
        if truncate { "_top_and_tail" } else { "" }
    );
    let title = format!(
        "Market moves for {label}, sorted by {sort}{}",
        if truncate {
            " (top and bottom six)"
        } else {
            ""
        }
    );
    let mut t = Table::new(
        &id,
        &title,
        vec![
            Column::text("name"),
            Column::num("change", 2),
            Column::num("vol_adjusted", 2),
        ],
    );
    for (code, m) in moves {
        t.rows.push(vec![
            code.as_str().into(),
            m.change.into(),
            m.vol_adjusted.into(),
        ]);
    }
    match sort {
        "change" => t.sort_by(1, false),
        "vol_adjusted" => t.sort_by(2, false),
        _ => {}
    }
    if truncate && t.rows.len() > 2 * TOP_AND_TAIL {
        let tail = t.rows.split_off(t.rows.len() - TOP_AND_TAIL);
        t.rows.truncate(TOP_AND_TAIL);
        t.rows.extend(tail);
    }
    t
}
