//! The risk report (§A5 item 30, §B29): the portfolio's annualised risk from the positions
//! held, their exposures, volatilities and the correlation of the instruments' weekly returns;
//! the same per strategy (on its capital) and per asset class; margin used; the sums of
//! exposures and risks; beta loadings and portfolio betas against each asset class's index;
//! the held instruments' risk table and the correlation matrix, ordered by clustering and drawn.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Utc};

use super::{data, risk_data, ReportError};
use crate::app::App;
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::reports::risk::{
    cluster_order, ew_correlation, ols_slope, portfolio_risk, CORRELATION_SPAN,
};
use crate::domain::reports::{Cell, Chart, Column, Item, Plot, ReportOptions, Table};

/// Years of returns the correlations are estimated from.
const CORRELATION_YEARS: i64 = 3;
/// Days of returns the betas are estimated from.
const BETA_DAYS: i64 = 365;

/// Daily percentage returns by UTC date (the last adjusted price of each date, differenced,
/// over the previous one), since `since`.
fn daily_returns(
    store: &dyn crate::domain::ports::PriceStore,
    code: &InstrumentCode,
    since: DateTime<Utc>,
) -> BTreeMap<chrono::NaiveDate, f64> {
    let Ok(Some(a)) = store.read_adjusted(code) else {
        return BTreeMap::new();
    };
    let mut closes: BTreeMap<chrono::NaiveDate, f64> = BTreeMap::new();
    for (t, v) in a.ts.iter().zip(&a.value) {
        if let Some(t) = DateTime::from_timestamp_micros(*t) {
            if t >= since && v.is_finite() {
                closes.insert(t.date_naive(), *v);
            }
        }
    }
    let mut out = BTreeMap::new();
    let mut prev: Option<f64> = None;
    for (d, v) in closes {
        if let Some(p) = prev.filter(|p| *p != 0.0) {
            out.insert(d, 100.0 * (v - p) / p.abs());
        }
        prev = Some(v);
    }
    out
}

/// Weekly sums of daily returns, keyed by ISO week.
fn weekly(daily: &BTreeMap<chrono::NaiveDate, f64>) -> BTreeMap<(i32, u32), f64> {
    let mut out = BTreeMap::new();
    for (d, r) in daily {
        let w = d.iso_week();
        *out.entry((w.year(), w.week())).or_insert(0.0) += r;
    }
    out
}

pub async fn items(
    app: &App,
    reference: &ReferenceData,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let risk = risk_data::load(app, reference, None, now).await?;
    let held: Vec<&risk_data::InstrumentData> = risk
        .instruments
        .iter()
        .filter(|d| d.risk.position != 0 && d.risk.is_complete())
        .collect();
    let capital = held.first().map_or(f64::NAN, |d| d.risk.capital);
    if held.is_empty() {
        return Ok(vec![Item::Text {
            text: "No positions held: the portfolio has no risk to report.".into(),
        }]);
    }
    let store = app.price_store();
    let codes: Vec<&InstrumentCode> = held.iter().map(|d| &d.code).collect();
    let class_of = |c: &InstrumentCode| {
        reference
            .instrument(c)
            .map_or_else(|| "unknown".to_string(), |i| i.asset_class.clone())
    };

    // Correlations of weekly returns.
    let since = now - Duration::days(365 * CORRELATION_YEARS);
    let dailies: Vec<BTreeMap<chrono::NaiveDate, f64>> = codes
        .iter()
        .map(|c| daily_returns(store.as_ref(), c, since))
        .collect();
    let weeks: Vec<BTreeMap<(i32, u32), f64>> = dailies.iter().map(weekly).collect();
    let mut all_weeks: Vec<(i32, u32)> = weeks.iter().flat_map(|w| w.keys().copied()).collect();
    all_weeks.sort_unstable();
    all_weeks.dedup();
    let columns: Vec<Vec<f64>> = weeks
        .iter()
        .map(|w| {
            all_weeks
                .iter()
                .map(|k| w.get(k).copied().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let corr = ew_correlation(&columns, CORRELATION_SPAN);

    let weight = |d: &risk_data::InstrumentData, position: i64, capital: f64| {
        position as f64 * d.risk.contract_exposure / capital
    };
    let sigma: Vec<f64> = held
        .iter()
        .map(|d| d.risk.annual_perc_stdev / 100.0)
        .collect();
    let w: Vec<f64> = held
        .iter()
        .map(|d| weight(d, d.risk.position, capital))
        .collect();
    let total_risk = 100.0 * portfolio_risk(&w, &sigma, &corr);

    let mut items = vec![Item::Text {
        text: format!(
            "Annualised risk in percent of capital ({capital:.0} {}), from the positions \
             held and the correlations of weekly returns over {CORRELATION_YEARS} years \
             (exponentially weighted, span {CORRELATION_SPAN} weeks).",
            risk.base_currency
        ),
    }];
    let mut summary = Table::new(
        "summary",
        "Portfolio",
        vec![Column::text("item"), Column::num("value", 2)],
    );
    summary
        .rows
        .push(vec!["total annual risk %".into(), total_risk.into()]);
    let margin = app
        .capital
        .margin_history()
        .await
        .map_err(data)?
        .last()
        .map_or(f64::NAN, |m| m.margin);
    summary.rows.push(vec![
        "margin used % of capital".into(),
        (100.0 * margin / capital).into(),
    ]);
    summary.rows.push(vec![
        "sum of |exposure| %".into(),
        held.iter()
            .map(|d| d.risk.exposure_held_perc_capital.abs())
            .sum::<f64>()
            .into(),
    ]);
    summary.rows.push(vec![
        "sum of |annual risk| %".into(),
        held.iter()
            .map(|d| d.risk.annual_risk_perc_capital.abs())
            .sum::<f64>()
            .into(),
    ]);
    summary.rows.push(vec![
        "net annual risk %".into(),
        held.iter()
            .map(|d| d.risk.annual_risk_perc_capital)
            .sum::<f64>()
            .into(),
    ]);
    items.push(Item::Table(summary));

    // Per strategy, on its own capital.
    let mut per_strategy = Table::new(
        "by_strategy",
        "Risk per strategy (percent of the strategy's capital)",
        vec![Column::text("strategy"), Column::num("annual_risk", 2)],
    );
    let positions = app.orders.strategy_positions().await.map_err(data)?;
    let mut strategies: Vec<String> = positions.iter().map(|p| p.strategy.clone()).collect();
    strategies.sort();
    strategies.dedup();
    for s in strategies
        .iter()
        .filter(|s| opts.strategy.as_deref().is_none_or(|o| o == s.as_str()))
    {
        let cap = app
            .capital
            .latest_strategy_capital(s)
            .await
            .map_err(data)?
            .map_or(f64::NAN, |c| c.capital);
        let ws: Vec<f64> = held
            .iter()
            .map(|d| {
                let pos = positions
                    .iter()
                    .find(|p| &p.strategy == s && p.instrument == d.code)
                    .map_or(0, |p| p.position);
                weight(d, pos, cap)
            })
            .collect();
        per_strategy.rows.push(vec![
            s.as_str().into(),
            (100.0 * portfolio_risk(&ws, &sigma, &corr)).into(),
        ]);
    }
    items.push(Item::Table(per_strategy));

    // Per asset class: the portfolio with the other classes' weights set to 0.
    let classes: Vec<String> = {
        let mut c: Vec<String> = codes.iter().map(|c| class_of(c)).collect();
        c.sort();
        c.dedup();
        c
    };
    let mut per_class = Table::new(
        "by_asset_class",
        "Risk by asset class",
        vec![Column::text("asset_class"), Column::num("annual_risk", 2)],
    );
    for class in &classes {
        let wc: Vec<f64> = codes
            .iter()
            .zip(&w)
            .map(|(c, x)| if &class_of(c) == class { *x } else { 0.0 })
            .collect();
        per_class.rows.push(vec![
            class.as_str().into(),
            (100.0 * portfolio_risk(&wc, &sigma, &corr)).into(),
        ]);
    }
    items.push(Item::Table(per_class));

    // Betas against each class's index over the last year of daily returns.
    let beta_since = (now - Duration::days(BETA_DAYS)).date_naive();
    let mut days: Vec<chrono::NaiveDate> = dailies
        .iter()
        .flat_map(|d| d.range(beta_since..).map(|(k, _)| *k))
        .collect();
    days.sort_unstable();
    days.dedup();
    let series: Vec<Vec<f64>> = dailies
        .iter()
        .map(|d| {
            days.iter()
                .map(|k| d.get(k).copied().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let stdev = |v: &[f64]| {
        let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        if f.len() < 2 {
            return f64::NAN;
        }
        let m = f.iter().sum::<f64>() / f.len() as f64;
        (f.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (f.len() - 1) as f64).sqrt()
    };
    let portfolio_returns: Vec<f64> = (0..days.len())
        .map(|t| {
            series
                .iter()
                .zip(&w)
                .map(|(s, x)| if s[t].is_finite() { s[t] * x } else { 0.0 })
                .sum()
        })
        .collect();
    let mut betas = Table::new(
        "betas",
        "Beta loadings (Σ beta × weight) and portfolio beta against each asset class's index",
        vec![
            Column::text("asset_class"),
            Column::num("beta_loading", 3),
            Column::num("portfolio_beta", 3),
        ],
    );
    for class in &classes {
        let members: Vec<usize> = (0..codes.len())
            .filter(|&i| &class_of(codes[i]) == class)
            .collect();
        let stdevs: Vec<f64> = members.iter().map(|&i| stdev(&series[i])).collect();
        let mean_stdev = stdevs.iter().filter(|s| s.is_finite()).sum::<f64>()
            / stdevs.iter().filter(|s| s.is_finite()).count().max(1) as f64;
        let index: Vec<f64> = (0..days.len())
            .map(|t| {
                let normalised: Vec<f64> = members
                    .iter()
                    .zip(&stdevs)
                    .filter(|(_, s)| s.is_finite() && **s > 0.0)
                    .map(|(&i, s)| series[i][t] / s)
                    .filter(|x| x.is_finite())
                    .collect();
                if normalised.is_empty() {
                    f64::NAN
                } else {
                    normalised.iter().sum::<f64>() / normalised.len() as f64 * mean_stdev
                }
            })
            .collect();
        let loading: f64 = (0..codes.len())
            .map(|i| {
                let b = ols_slope(&series[i], &index);
                if b.is_finite() {
                    b * w[i]
                } else {
                    0.0
                }
            })
            .sum();
        betas.rows.push(vec![
            class.as_str().into(),
            loading.into(),
            ols_slope(&portfolio_returns, &index).into(),
        ]);
    }
    items.push(Item::Table(betas));

    // The held instruments.
    let mut instruments = Table::new(
        "instrument_risk",
        "Instruments held",
        vec![
            Column::text("instrument"),
            Column::text("asset_class"),
            Column::num("position", 0),
            Column::num("annual_perc_stdev", 2),
            Column::num("exposure_held_perc_capital", 2),
            Column::num("annual_risk_perc_capital", 2),
        ],
    );
    for d in &held {
        instruments.rows.push(vec![
            d.code.as_str().into(),
            class_of(&d.code).into(),
            d.risk.position.into(),
            d.risk.annual_perc_stdev.into(),
            d.risk.exposure_held_perc_capital.into(),
            d.risk.annual_risk_perc_capital.into(),
        ]);
    }
    instruments.sort_by(5, true);
    items.push(Item::Table(instruments));

    // The correlation matrix, clustered.
    let order = cluster_order(&corr);
    let labels: Vec<String> = order.iter().map(|&i| codes[i].to_string()).collect();
    let matrix: Vec<Vec<f64>> = order
        .iter()
        .map(|&i| order.iter().map(|&j| corr[i][j]).collect())
        .collect();
    let mut cols = vec![Column::text("instrument")];
    cols.extend(labels.iter().map(|l| Column::num(l, 2)));
    let mut table = Table::new(
        "correlations",
        "Correlations of weekly returns (clustered order)",
        cols,
    );
    for (label, row) in labels.iter().zip(&matrix) {
        let mut r: Vec<Cell> = vec![label.as_str().into()];
        r.extend(row.iter().map(|c| Cell::from(*c)));
        table.rows.push(r);
    }
    items.push(Item::Chart(Chart {
        id: "correlation_chart".into(),
        title: "Correlations of weekly returns (clustered order; blue −1, red +1)".into(),
        y_label: "correlation".into(),
        plot: Plot::Matrix {
            labels,
            values: matrix,
        },
    }));
    items.push(Item::Table(table));
    Ok(items)
}
