//! `systrade backtest STRATEGY`: runs a strategy (a name, resolved as `run_systems` does, or a
//! TOML file) (see [`crate::domain::backtest::config`])
//! over the home's stored prices — the chapter-15 stages and position sizing per instrument, on
//! two threads — and prints the last date's summary (table or `--json`) or writes every
//! computed series per instrument (`--csv OUTDIR`, one `INSTRUMENT.csv` each, with the column
//! names of pysystemtrade's golden reference files).
//!
//! With `--instrument`, only the chosen instruments are run in full: the others enter the
//! instrument weights through a few remembered numbers each
//! ([`WeightInputs`](crate::domain::backtest::portfolio::WeightInputs)), kept in
//! `<home>/backtests/cache/STRATEGY.json` with the version of the prices they came from, and
//! recomputed when those prices (or the strategy) change. The cache holds nothing of its own:
//! an unreadable one is rebuilt.
//!
//! The config is validated in full first (exit 2, every error with file and line). An
//! instrument whose prices (or FX rates) are missing, empty or all NaN is reported on stderr and
//! skipped; the others go on, and the exit code is then 1.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Args;
use serde_json::json;

use super::context::GlobalOpts;
use super::output::{print_json, table};
use super::prices::open;
use super::CliError;
use crate::domain::backtest::config::parse_strategy;
use crate::domain::backtest::config::StrategyConfig;
use crate::domain::backtest::portfolio::{run_strategy_shown, InstrumentRun, Remembered, Skipped};
use crate::domain::instrument::InstrumentCode;
use crate::domain::optimal::{named_series, optimal_positions};
use crate::engine::diagnostic::did_you_mean;

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// The strategy: a name (`<home>/strategies/NAME.toml`, else the shipped strategy of that
    /// name, as `run_systems` resolves it, e.g. chapter15_equal_weights) or a path to a strategy
    /// TOML file (anything with a `/` or ending in `.toml`).
    #[arg(value_name = "STRATEGY")]
    pub config: String,
    /// Only these instruments of the strategy (repeatable; default: all of them).
    #[arg(long = "instrument", value_name = "CODE")]
    pub instruments: Vec<String>,
    /// The last date's summary as JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Write OUTDIR/INSTRUMENT.csv with every computed series.
    #[arg(long, value_name = "OUTDIR")]
    pub csv: Option<PathBuf>,
}

/// A strategy argument naming a file rather than a strategy: it has a path separator or ends
/// in `.toml`.
fn is_strategy_path(arg: &str) -> bool {
    arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) || arg.ends_with(".toml")
}

pub async fn backtest(opts: &GlobalOpts, a: BacktestArgs) -> anyhow::Result<i32> {
    let (home, reference, store) = open(opts)?;
    let (path, text) = if is_strategy_path(&a.config) {
        let text = std::fs::read_to_string(&a.config).map_err(|e| {
            CliError::Invalid(format!(
                "{}: cannot read the strategy config: {e}",
                a.config
            ))
        })?;
        (a.config.clone(), text)
    } else {
        crate::app::strategy_source(&home, &a.config).map_err(CliError::Invalid)?
    };
    let known: Vec<&str> = reference.instruments.keys().map(|c| c.as_str()).collect();
    let is_known =
        |code: &str| InstrumentCode::new(code).is_ok_and(|c| reference.instrument(&c).is_some());
    let strategy = parse_strategy(&path, &text, &is_known, &known)?;

    let mut selected = Vec::new();
    for want in &a.instruments {
        if !strategy.instruments.iter().any(|(c, _)| c == want) {
            let help = did_you_mean(want, strategy.instruments.iter().map(|(c, _)| c.as_str()))
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            return Err(CliError::Invalid(format!(
                "instrument `{want}` is not in the strategy {path}{help}"
            ))
            .into());
        }
        if !selected.contains(want) {
            selected.push(want.clone());
        }
    }
    if selected.is_empty() {
        selected = strategy
            .instruments
            .iter()
            .map(|(c, _)| c.clone())
            .collect();
    }

    // Instrument weights depend on every instrument's history: the others come from the
    // cache where their prices have not changed since.
    let cache = WeightCache::at(&home.backtests_dir(), &strategy);
    let remembered = cache.read();
    let shown = (!a.instruments.is_empty()).then_some(selected.as_slice());
    let (run, known) = run_strategy_shown(&strategy, &reference, &store, 2, shown, &remembered);
    if known != remembered {
        cache.write(&known);
    }
    let done: Vec<&InstrumentRun> = run
        .instruments
        .iter()
        .filter(|r| selected.contains(&r.code))
        .collect();
    let skipped: Vec<&Skipped> = run
        .skipped
        .iter()
        .filter(|s| selected.contains(&s.instrument))
        .collect();
    for s in &skipped {
        eprintln!("warning: {}: skipped: {}", s.instrument, s.reason);
    }
    // An instrument that ran but has no finite position at its last date is said so (its
    // series are still shown): never a silent NaN position.
    let (_, without_position) = optimal_positions(&strategy.name, &run, chrono::Utc::now());
    let without_position: Vec<Skipped> = without_position
        .into_iter()
        .filter(|s| selected.contains(&s.instrument))
        .collect();
    for s in &without_position {
        eprintln!("warning: {}: no position: {}", s.instrument, s.reason);
    }
    let skipped: Vec<&Skipped> = skipped.into_iter().chain(&without_position).collect();

    if let Some(dir) = &a.csv {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
        for d in &done {
            write_csv(dir, d)?;
        }
        outln!(
            "wrote {} file(s) to {}{}",
            done.len(),
            dir.display(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; {} instrument(s) skipped", skipped.len())
            }
        );
    } else if a.json {
        let rows: Vec<_> = done.iter().map(|d| summary_json(d)).collect();
        print_json(&json!({
            "strategy": strategy.name,
            "instruments": rows,
            "skipped": skipped,
        }))?;
    } else {
        let header = [
            "instrument",
            "date",
            "price",
            "forecast",
            "vol_scalar",
            "subsystem_pos",
            "notional_pos",
            "top_pos",
            "bot_pos",
        ];
        let rows: Vec<Vec<String>> = done.iter().map(|d| summary_row(d)).collect();
        outln!("strategy {}: last date of each instrument", strategy.name);
        out!("{}", table(&header, &rows));
        if !skipped.is_empty() {
            outln!("{} instrument(s) skipped (see stderr)", skipped.len());
        }
    }
    Ok(if skipped.is_empty() { 0 } else { 1 })
}

/// The remembered weight inputs of a strategy's instruments: one JSON file per strategy name,
/// valid for exactly the strategy config it was computed with.
struct WeightCache {
    path: PathBuf,
    config: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct WeightCacheFile {
    config: String,
    instruments: BTreeMap<String, Remembered>,
}

impl WeightCache {
    fn at(backtests: &Path, strategy: &StrategyConfig) -> WeightCache {
        WeightCache {
            path: backtests
                .join("cache")
                .join(format!("{}.json", strategy.name)),
            config: format!("{strategy:?}"),
        }
    }

    /// What is remembered for this config (nothing when the file is absent, unreadable or was
    /// written for another config).
    fn read(&self) -> BTreeMap<String, Remembered> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice::<WeightCacheFile>(&b).ok())
            .filter(|f| f.config == self.config)
            .map(|f| f.instruments)
            .unwrap_or_default()
    }

    /// Replaces the file atomically; a cache that cannot be written only costs time, so it is
    /// said on stderr, not an error.
    fn write(&self, instruments: &BTreeMap<String, Remembered>) {
        let file = WeightCacheFile {
            config: self.config.clone(),
            instruments: instruments.clone(),
        };
        let result = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
                crate::files::write_atomically(&self.path, &bytes, 0o644)
            });
        if let Err(e) = result {
            eprintln!(
                "warning: {}: cannot remember the instruments' weight inputs: {e}",
                self.path.display()
            );
        }
    }
}

fn date(day: i64) -> String {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|e| e.checked_add_signed(chrono::Duration::days(day)))
        .map_or_else(|| day.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

fn at(v: &[f64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// The last-date values: price, combined forecast, vol scalar, subsystem and notional position,
/// top and bottom of the buffer.
fn last_values(d: &InstrumentRun) -> (String, [f64; 7]) {
    let Some(i) = d.stages.days.len().checked_sub(1) else {
        return (String::new(), [f64::NAN; 7]);
    };
    let p = &d.positions;
    (
        date(d.stages.days[i]),
        [
            at(&d.stages.price, i),
            at(&d.stages.combined_forecast, i),
            at(&p.vol_scalar, i),
            at(&p.subsystem_position, i),
            at(&p.notional_position, i),
            at(&p.top_pos, i),
            at(&p.bot_pos, i),
        ],
    )
}

fn summary_row(d: &InstrumentRun) -> Vec<String> {
    let (day, v) = last_values(d);
    let mut row = vec![d.code.clone(), day];
    row.extend(v.iter().map(|x| {
        if x.is_nan() {
            "-".to_string()
        } else {
            format!("{x:.4}")
        }
    }));
    row
}

fn summary_json(d: &InstrumentRun) -> serde_json::Value {
    let (day, v) = last_values(d);
    json!({
        "instrument": d.code,
        "date": day,
        "price": v[0],
        "combined_forecast": v[1],
        "vol_scalar": v[2],
        "subsystem_position": v[3],
        "notional_position": v[4],
        "top_pos": v[5],
        "bot_pos": v[6],
    })
}

/// Writes `dir/CODE.csv`: date, then every computed series under the golden files' names.
fn write_csv(dir: &Path, d: &InstrumentRun) -> anyhow::Result<()> {
    let s = &d.stages;
    let columns = named_series(d);
    let mut text = String::from("date");
    for (name, _) in &columns {
        text.push(',');
        text.push_str(name);
    }
    text.push('\n');
    for (i, &day) in s.days.iter().enumerate() {
        text.push_str(&date(day));
        for (_, v) in &columns {
            text.push(',');
            let x = at(v, i);
            if !x.is_nan() {
                let _ = write!(text, "{x}");
            }
        }
        text.push('\n');
    }
    let file = dir.join(format!("{}.csv", d.code));
    std::fs::write(&file, text)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", file.display()))?;
    Ok(())
}
