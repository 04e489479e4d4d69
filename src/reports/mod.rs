//! Reports (sysproduction's `run_reports`): which reports there are, building one from this
//! home's stores ([`build`]), rendering it ([`render`]) and writing it under the home's reports
//! directory ([`write`]). The calculations are the domain's ([`crate::domain::reports`]); the
//! CLI (`systrade report`) and the `report` task both come through here.

mod chart;
mod liquidity;
mod market_monitor;
mod markets;
mod pandl;
mod reconcile;
pub mod render;
mod risk;
mod risk_data;
mod risk_reports;
pub mod roll;
mod slippage;
pub mod status;
mod strategy;
mod trades;
pub mod write;

use crate::app::App;
use crate::domain::reports::{Report, ReportOptions};
use crate::engine::diagnostic::did_you_mean;

/// A report's name, title, what it shows, and the options it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReportSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub about: &'static str,
    /// Of `instrument`, `strategy`, `from`, `to`.
    pub options: &'static [&'static str],
}

/// Every report, in the order `report all` and the daily workflow run them.
pub const REPORTS: &[ReportSpec] = &[
    ReportSpec {
        name: "slippage",
        title: "Slippage report",
        about: "Slippage per trade of each instrument traded in the period (default: the last 250 \
                days) from its fills, against the configured spread cost, and the estimate \
                that blends them.",
        options: &["instrument", "from", "to"],
    },
    ReportSpec {
        name: "costs",
        title: "Costs report",
        about:
            "Trading costs of one contract in Sharpe-ratio units (round trip), with spreads and \
                commission, commission only and spreads only, for every instrument with prices.",
        options: &["instrument"],
    },
    ReportSpec {
        name: "roll",
        title: "Roll report",
        about: "Every instrument's roll state, days to its roll, price and carry expiries, the \
                priced and forward contracts, the position in the priced one and the forward's \
                volume, soonest roll first.",
        options: &["instrument"],
    },
    ReportSpec {
        name: "pandl",
        title: "P&L report",
        about: "Profit and loss in percent of capital over the period (default: the last day): \
                the account's total, by instrument (every contract held or traded, fills at \
                their prices), by strategy and by asset class, with the residual.",
        options: &["instrument", "strategy", "from", "to"],
    },
    ReportSpec {
        name: "reconcile",
        title: "Reconcile report",
        about: "Position breaks — a strategy position outside its buffer, strategy positions \
                that do not add up to the contract positions, the broker's positions against \
                the system's — then both sides' positions and the last 24 hours' trades.",
        options: &["instrument", "strategy"],
    },
    ReportSpec {
        name: "trade",
        title: "Trade report",
        about: "Broker orders filled in the period (default: the last day): fills, delays, and \
                slippage in price points, in basis points of annual vol and in cash, with sums \
                per strategy and instrument.",
        options: &["instrument", "strategy", "from", "to"],
    },
    ReportSpec {
        name: "strategy",
        title: "Strategy report",
        about: "Each strategy's latest backtest at its last date: vol target, vol calculation, \
                subsystem and portfolio positions, the position against its average, buffers \
                against the position held now, forecast weights and forecasts.",
        options: &["instrument", "strategy"],
    },
    ReportSpec {
        name: "risk",
        title: "Risk report",
        about: "The portfolio's annualised risk from the positions held and the correlations \
                of weekly returns, per strategy and asset class; margin used; exposures; beta \
                loadings; the held instruments' risk and the clustered correlation matrix.",
        options: &["strategy"],
    },
    ReportSpec {
        name: "status",
        title: "Status report",
        about: "What is late (workflows without a successful run, prices, FX rates and optimal \
                positions older than three days) and what is in force: workflow controls and \
                last runs with their nodes, trade and position limits, overrides and locks.",
        options: &["instrument", "strategy"],
    },
    ReportSpec {
        name: "liquidity",
        title: "Liquidity report",
        about: "Each instrument's best average daily volume over the last 30 days among its \
                contracts, in contracts and in millions of annual risk, sorted both ways.",
        options: &["instrument"],
    },
    ReportSpec {
        name: "instrument_risk",
        title: "Instrument risk report",
        about: "Price and percentage volatility, point size in the base currency, notional \
                exposure and annual risk per contract of every instrument with prices, sorted \
                three ways.",
        options: &["instrument"],
    },
    ReportSpec {
        name: "min_capital",
        title: "Minimum capital report",
        about: "The capital needed to hold four contracts of each instrument at 25% risk with an \
                instrument weight of 4% and a diversification multiplier of 2.5.",
        options: &["instrument"],
    },
    ReportSpec {
        name: "duplicate_markets",
        title: "Duplicate markets report",
        about: "For each group of duplicate markets in [markets], their SR cost, volume and \
                size, and the best one to trade.",
        options: &[],
    },
    ReportSpec {
        name: "remove_markets",
        title: "Remove markets report",
        about: "Markets too expensive, illiquid or safe to trade: which to add to [markets] \
                bad_markets, which to take off it, and the list to paste into config.toml.",
        options: &[],
    },
    ReportSpec {
        name: "market_monitor",
        title: "Market monitor report",
        about: "Each instrument's move in percent and in units of its volatility over 1 business \
                day, 7 days, 1, 3 and 6 months, the year to date and 12 months (or --from/--to).",
        options: &["instrument", "from", "to"],
    },
    ReportSpec {
        name: "account_curve",
        title: "Account curve report",
        about: "The cumulative daily P&L of the account in percent of capital, drawn for the \
                year to date, 12 months, 3, 5, 10 and 99 years (or --from/--to), with each \
                period's total and deepest drawdown.",
        options: &["from", "to"],
    },
];

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report or an option does not exist, or an option's value is refused.
    #[error("{0}")]
    Invalid(String),
    /// The stores could not be read.
    #[error("{0}")]
    Data(String),
}

/// The spec of report `name`, or an error with the closest name.
pub fn spec(name: &str) -> Result<&'static ReportSpec, ReportError> {
    REPORTS.iter().find(|r| r.name == name).ok_or_else(|| {
        let hint = did_you_mean(name, REPORTS.iter().map(|r| r.name)).unwrap_or_else(|| {
            format!(
                "reports: {}",
                REPORTS
                    .iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        ReportError::Invalid(format!("no report named `{name}`; {hint}"))
    })
}

/// Checks that `opts` holds only options report `spec` takes, and that the dates are in order.
fn check_options(spec: &ReportSpec, opts: &ReportOptions) -> Result<(), ReportError> {
    let given = [
        ("instrument", opts.instrument.is_some()),
        ("strategy", opts.strategy.is_some()),
        ("from", opts.from.is_some()),
        ("to", opts.to.is_some()),
    ];
    for (option, set) in given {
        if set && !spec.options.contains(&option) {
            let takes = if spec.options.is_empty() {
                "no options".to_string()
            } else {
                spec.options
                    .iter()
                    .map(|o| format!("--{o}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(ReportError::Invalid(format!(
                "report `{}` does not take --{option} (it takes {takes})",
                spec.name
            )));
        }
    }
    if let (Some(from), Some(to)) = (opts.from, opts.to) {
        if from > to {
            return Err(ReportError::Invalid(format!(
                "--from {from} is after --to {to}"
            )));
        }
    }
    Ok(())
}

/// A store that could not be read, as a report error.
fn data<E: std::fmt::Display>(e: E) -> ReportError {
    ReportError::Data(e.to_string())
}

/// A time as a table cell (`YYYY-MM-DD HH:MM:SS`, UTC), empty for none.
fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> crate::domain::reports::Cell {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
        .into()
}

/// The window of a report that takes `--from`/`--to`: from the start of `--from` (UTC), else
/// `default_days` before now, to the end of `--to` or now, whichever is earlier.
fn window(
    opts: &ReportOptions,
    now: chrono::DateTime<chrono::Utc>,
    default_days: i64,
) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let start = opts
        .from
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .unwrap_or(now - chrono::Duration::days(default_days));
    let end = opts
        .to
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc().min(now))
        .unwrap_or(now);
    (start, end)
}

/// Builds report `name` from this home's stores.
pub async fn build(app: &App, name: &str, opts: &ReportOptions) -> Result<Report, ReportError> {
    let spec = spec(name)?;
    check_options(spec, opts)?;
    let reference = app
        .reference_data()
        .map_err(|d| ReportError::Data(format!("reference data: {d}")))?;
    if let Some(code) = &opts.instrument {
        let known = crate::domain::instrument::InstrumentCode::new(code)
            .is_ok_and(|c| reference.instrument(&c).is_some());
        if !known {
            let hint = did_you_mean(code, reference.instruments.keys().map(|c| c.as_str()))
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            return Err(ReportError::Invalid(format!(
                "--instrument `{code}` is not in the reference data{hint}"
            )));
        }
    }
    if let Some(strategy) = &opts.strategy {
        let known: Vec<&str> = app
            .config
            .strategies
            .weights
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        if !known.contains(&strategy.as_str()) {
            let hint = did_you_mean(strategy, known.iter().copied())
                .unwrap_or_else(|| format!("strategies.weights has: {}", known.join(", ")));
            return Err(ReportError::Invalid(format!(
                "--strategy `{strategy}` is not in strategies.weights; {hint}"
            )));
        }
    }
    let now = app.clock.now();
    let items = match spec.name {
        "costs" | "instrument_risk" | "min_capital" | "liquidity" | "duplicate_markets"
        | "remove_markets" => {
            let data = risk_data::load(
                app,
                &reference,
                opts.instrument.as_ref().map(std::slice::from_ref),
                now,
            )
            .await?;
            let store = app.price_store();
            let markets = &app.config.markets;
            match spec.name {
                "costs" => risk_reports::costs(&data),
                "instrument_risk" => risk_reports::instrument_risk(&data),
                "min_capital" => risk_reports::min_capital(&data),
                "liquidity" => liquidity::items(store.as_ref(), &data, now),
                "duplicate_markets" => {
                    markets::duplicate_markets(store.as_ref(), &data, markets, now)
                }
                _ => markets::remove_markets(store.as_ref(), &data, markets, now),
            }
        }
        "slippage" => slippage::items(app, &reference, opts, now).await?,
        "market_monitor" => market_monitor::items(app, opts, now)?,
        "roll" => roll::items(app, &reference, opts, now).await?,
        "trade" => trades::items(app, &reference, opts, now).await?,
        "pandl" => pandl::items(app, &reference, opts, now).await?,
        "status" => status::items(app, opts, now).await?,
        "reconcile" => reconcile::items(app, opts, now).await?,
        "strategy" => strategy::items(app, opts, now).await?,
        "risk" => risk::items(app, &reference, opts, now).await?,
        "account_curve" => pandl::account_curve(app, opts, now).await?,
        other => {
            return Err(ReportError::Invalid(format!(
                "report `{other}` is listed but not built"
            )))
        }
    };
    Ok(Report {
        name: spec.name.to_string(),
        title: spec.title.to_string(),
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_report_suggests_the_closest() {
        let e = spec("instrument_risks").unwrap_err().to_string();
        assert!(e.contains("no report named `instrument_risks`"), "{e}");
        assert!(e.contains("instrument_risk"), "{e}");
    }

    #[test]
    fn options_a_report_does_not_take_are_refused() {
        let s = spec("costs").unwrap();
        let opts = ReportOptions {
            strategy: Some("x".into()),
            ..Default::default()
        };
        let e = check_options(s, &opts).unwrap_err().to_string();
        assert!(e.contains("does not take --strategy"), "{e}");
        let s = spec("market_monitor").unwrap();
        let opts = ReportOptions {
            from: chrono::NaiveDate::from_ymd_opt(2024, 5, 1),
            to: chrono::NaiveDate::from_ymd_opt(2024, 4, 1),
            ..Default::default()
        };
        let e = check_options(s, &opts).unwrap_err().to_string();
        assert!(
            e.contains("--from 2024-05-01 is after --to 2024-04-01"),
            "{e}"
        );
    }

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut names: Vec<&str> = REPORTS.iter().map(|r| r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), REPORTS.len());
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }
}
