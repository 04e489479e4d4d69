//! `systrade backtest CONFIG`: runs a strategy config (see [`crate::domain::backtest::config`])
//! over the home's stored prices — the chapter-15 stages and position sizing per instrument, on
//! two threads — and prints the last date's summary (table or `--json`) or writes every
//! computed series per instrument (`--csv OUTDIR`, one `INSTRUMENT.csv` each, with the column
//! names of pysystemtrade's golden reference files).
//!
//! The config is validated in full first (exit 2, every error with file and line). An
//! instrument whose prices (or FX rates) are missing, empty or all NaN is reported on stderr and
//! skipped; the others go on, and the exit code is then 1.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::NaiveDate;
use clap::Args;
use serde_json::json;

use super::context::GlobalOpts;
use super::output::{print_json, table};
use super::prices::open;
use super::CliError;
use crate::domain::backtest::config::{parse_strategy, StrategyConfig};
use crate::domain::backtest::position::{fx_on_days, size_positions, PositionStages};
use crate::domain::backtest::{run_instrument, InstrumentStages};
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::ports::PriceStore;
use crate::engine::diagnostic::did_you_mean;

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// Strategy config (TOML), e.g. config/strategies/chapter15_equal_weights.toml.
    pub config: PathBuf,
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

/// One instrument's results.
struct Done {
    code: String,
    stages: InstrumentStages,
    positions: PositionStages,
    weight: f64,
}

pub async fn backtest(opts: &GlobalOpts, a: BacktestArgs) -> anyhow::Result<i32> {
    let (_home, reference, store) = open(opts)?;
    let path = a.config.display().to_string();
    let text = std::fs::read_to_string(&a.config)
        .map_err(|e| CliError::Invalid(format!("{path}: cannot read the strategy config: {e}")))?;
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

    let results = run_all(&strategy, &reference, &store, &selected);
    let mut done = Vec::new();
    let mut skipped = Vec::new();
    for (code, r) in selected.iter().zip(results) {
        match r {
            Ok(d) => done.push(d),
            Err(why) => {
                eprintln!("warning: {code}: skipped: {why}");
                skipped.push(json!({ "instrument": code, "reason": why }));
            }
        }
    }

    if let Some(dir) = &a.csv {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
        for d in &done {
            write_csv(dir, d, &strategy)?;
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
        let rows: Vec<_> = done.iter().map(summary_json).collect();
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
        let rows: Vec<Vec<String>> = done.iter().map(summary_row).collect();
        outln!("strategy {}: last date of each instrument", strategy.name);
        out!("{}", table(&header, &rows));
        if !skipped.is_empty() {
            outln!("{} instrument(s) skipped (see stderr)", skipped.len());
        }
    }
    Ok(if skipped.is_empty() { 0 } else { 1 })
}

/// Runs every instrument on two threads; results in `codes`' order.
fn run_all(
    strategy: &StrategyConfig,
    reference: &ReferenceData,
    store: &dyn PriceStore,
    codes: &[String],
) -> Vec<Result<Done, String>> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<Done, String>>>> =
        codes.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(code) = codes.get(i) else { break };
                let r = run_one(strategy, reference, store, code);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err("not run (worker thread failed)".into()))
        })
        .collect()
}

fn run_one(
    strategy: &StrategyConfig,
    reference: &ReferenceData,
    store: &dyn PriceStore,
    code: &str,
) -> Result<Done, String> {
    let ic = InstrumentCode::new(code).map_err(|e| e.to_string())?;
    let instrument = reference
        .instrument(&ic)
        .ok_or("not in the reference data")?;
    let cfg = strategy
        .position_config(code)
        .ok_or("not in the strategy")?;
    let adjusted = store
        .read_adjusted(&ic)
        .map_err(|e| e.to_string())?
        .ok_or("no adjusted prices in the store")?;
    if !adjusted.value.iter().any(|v| v.is_finite()) {
        return Err("adjusted prices are empty or all NaN".into());
    }
    let multiple = store
        .read_multiple(&ic)
        .map_err(|e| e.to_string())?
        .ok_or("no multiple prices in the store")?;
    if !multiple.price.iter().any(|v| v.is_finite()) {
        return Err("multiple prices are empty or have no PRICE values".into());
    }
    let stages = run_instrument(&adjusted, &multiple, &strategy.system);
    let fx = if instrument.currency == strategy.base_currency {
        vec![1.0; stages.days.len()]
    } else {
        let ccy = &instrument.currency;
        let fx = store
            .read_fx(ccy)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no {ccy} FX rates in the store"))?;
        if !fx.value.iter().any(|v| v.is_finite()) {
            return Err(format!("{ccy} FX rates are empty or all NaN"));
        }
        fx_on_days(&fx.ts, &fx.value, &stages.days)
    };
    let positions =
        size_positions(&stages, instrument.point_size, &fx, &cfg).map_err(|e| e.to_string())?;
    Ok(Done {
        code: code.to_string(),
        stages,
        positions,
        weight: cfg.instrument_weight,
    })
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
fn last_values(d: &Done) -> (String, [f64; 7]) {
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

fn summary_row(d: &Done) -> Vec<String> {
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

fn summary_json(d: &Done) -> serde_json::Value {
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
fn write_csv(dir: &Path, d: &Done, strategy: &StrategyConfig) -> anyhow::Result<()> {
    let s = &d.stages;
    let p = &d.positions;
    let n = s.days.len();
    let fdm = vec![strategy.system.forecast_div_multiplier; n];
    let weight = vec![d.weight; n];
    let idm = vec![strategy.position.idm; n];
    let mut columns: Vec<(String, &[f64])> = vec![
        ("price".into(), &s.price),
        ("denom_price".into(), &s.denom_price),
        ("daily_returns_vol".into(), &s.daily_returns_vol),
        ("daily_pct_vol".into(), &s.daily_pct_vol),
        ("raw_carry".into(), &s.raw_carry),
    ];
    for f in &s.raw_forecasts {
        columns.push((format!("rawfc_{}", f.rule), &f.values));
    }
    for f in &s.capped_forecasts {
        columns.push((format!("capfc_{}", f.rule), &f.values));
    }
    let rest: [(&str, &[f64]); 14] = [
        ("fdm", &fdm),
        ("combined_forecast", &s.combined_forecast),
        ("fx_rate_ffill", &p.fx_rate),
        ("block_value", &p.block_value),
        ("instr_ccy_vol", &p.instr_ccy_vol),
        ("instr_value_vol", &p.instr_value_vol),
        ("vol_scalar", &p.vol_scalar),
        ("subsystem_position", &p.subsystem_position),
        ("instrument_weight", &weight),
        ("idm", &idm),
        ("notional_position", &p.notional_position),
        ("buffer", &p.buffer),
        ("top_pos", &p.top_pos),
        ("bot_pos", &p.bot_pos),
    ];
    columns.extend(rest.into_iter().map(|(name, v)| (name.to_string(), v)));

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
