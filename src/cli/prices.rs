//! `systrade prices`: show stored series (table, JSON or CSV), regenerate adjusted prices, and
//! review the price spikes found by the daily updates ([`spikes`]).

mod spikes;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::context::{load_config, resolve_home, GlobalOpts};
use super::output::{multiple_row, price_cell, print_json, table, MULTIPLE_HEADER};
use super::CliError;
use crate::adapters::parquet::ParquetPriceStore;
use crate::adapters::reference_files::load_reference_data;
use crate::domain::adjustment::regenerate_many;
use crate::domain::contract::ContractId;
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::ports::{Frequency, PriceStore};
use crate::domain::series::format_timestamp;
use crate::engine::diagnostic::did_you_mean;
use crate::home::Home;

#[derive(Args, Debug)]
pub struct PricesArgs {
    #[command(subcommand)]
    pub command: PricesCommand,
}

#[derive(Subcommand, Debug)]
pub enum PricesCommand {
    /// Show an instrument's adjusted prices (default), multiple prices, or one contract's bars.
    Show(ShowArgs),
    /// Show FX rates (USD per unit of the currency).
    Fx(FxArgs),
    /// List what the price store holds.
    List {
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-stitch adjusted prices from multiple prices (all instruments when none is named).
    RegenerateAdjusted(RegenerateArgs),
    /// List price spikes found by the daily updates (pending ones unless --all).
    Spikes(spikes::SpikesArgs),
    /// Accept or reject pending price spikes: by id, or one by one on a terminal.
    CheckSpikes(spikes::CheckSpikesArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The instrument code, e.g. AUD.
    pub instrument: String,
    /// Multiple prices (price, forward and carry contracts).
    #[arg(long, conflicts_with_all = ["adjusted", "contract"])]
    pub multiple: bool,
    /// Panama-adjusted prices (the default).
    #[arg(long, conflicts_with = "contract")]
    pub adjusted: bool,
    /// One contract's bars, e.g. 20231200.
    #[arg(long, value_name = "ID")]
    pub contract: Option<String>,
    /// With --contract: which bars.
    #[arg(long, value_enum, default_value = "merged", requires = "contract")]
    pub frequency: FrequencyArg,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct FxArgs {
    /// Currency code, e.g. EUR.
    pub currency: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct OutputArgs {
    /// All rows as JSON (columns as arrays).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// All rows as CSV: timestamp first, then the values.
    #[arg(long)]
    pub csv: bool,
    /// Rows shown in the table (the last N).
    #[arg(long, default_value_t = 20)]
    pub tail: usize,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum FrequencyArg {
    Daily,
    Hourly,
    Merged,
}

impl From<FrequencyArg> for Frequency {
    fn from(f: FrequencyArg) -> Self {
        match f {
            FrequencyArg::Daily => Frequency::Daily,
            FrequencyArg::Hourly => Frequency::Hourly,
            FrequencyArg::Merged => Frequency::Merged,
        }
    }
}

#[derive(Args, Debug)]
pub struct RegenerateArgs {
    /// Instruments (default: every instrument with multiple prices).
    pub instruments: Vec<String>,
    /// Forward-fill prices before stitching (pysystemtrade's option).
    #[arg(long)]
    pub forward_fill: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Opens the home's reference data and price store without creating anything.
pub(super) fn open(opts: &GlobalOpts) -> anyhow::Result<(Home, ReferenceData, ParquetPriceStore)> {
    let home = resolve_home(opts)?;
    load_config(&home)?;
    let reference = load_reference_data(&home.reference_dir())?;
    let store = ParquetPriceStore::new(home.data_dir());
    Ok((home, reference, store))
}

/// An instrument code from the command line that the reference data knows.
pub fn known_instrument(reference: &ReferenceData, text: &str) -> anyhow::Result<InstrumentCode> {
    let code = InstrumentCode::new(text).map_err(CliError::Invalid)?;
    if reference.instrument(&code).is_none() {
        let same_ignoring_case = reference
            .instruments
            .keys()
            .find(|c| c.as_str().eq_ignore_ascii_case(text));
        let help = match same_ignoring_case {
            Some(c) => format!("did you mean `{c}`? (codes are case-sensitive)"),
            None => did_you_mean(text, reference.instruments.keys().map(|c| c.as_str()))
                .unwrap_or_default(),
        };
        return Err(CliError::Invalid(format!(
            "unknown instrument `{text}` (not in the instrument config){}",
            if help.is_empty() {
                String::new()
            } else {
                format!("; {help}")
            }
        ))
        .into());
    }
    Ok(code)
}

pub async fn prices(opts: &GlobalOpts, a: PricesArgs) -> anyhow::Result<i32> {
    match a.command {
        PricesCommand::Show(s) => show(opts, s),
        PricesCommand::Fx(f) => fx(opts, f),
        PricesCommand::List { json } => list(opts, json),
        PricesCommand::RegenerateAdjusted(r) => regenerate(opts, r),
        PricesCommand::Spikes(a) => spikes::spikes(opts, a).await,
        PricesCommand::CheckSpikes(a) => spikes::check_spikes(opts, a).await,
    }
}

fn num(v: f64) -> String {
    price_cell(v, "")
}

/// Prints named columns (the first is the timestamp) as a table (last `tail` rows), JSON or CSV.
/// In JSON a missing price (NaN) is `null` (serde_json writes non-finite numbers as null).
fn emit(
    title: &str,
    header: &[&str],
    rows: Vec<Vec<String>>,
    out: OutputArgs,
    json_value: serde_json::Value,
) -> anyhow::Result<i32> {
    if out.json {
        print_json(&json_value)?;
    } else if out.csv {
        outln!("{}", header.join(","));
        for r in &rows {
            outln!("{}", r.join(","));
        }
    } else {
        let skip = rows.len().saturating_sub(out.tail);
        if rows.is_empty() {
            outln!("{title}: no rows");
        } else {
            outln!(
                "{title}: {} rows{}",
                rows.len(),
                if skip > 0 {
                    format!(", last {}", out.tail)
                } else {
                    String::new()
                }
            );
            out!("{}", table(header, &rows[skip..]));
        }
    }
    Ok(0)
}

fn show(opts: &GlobalOpts, a: ShowArgs) -> anyhow::Result<i32> {
    let (_home, reference, store) = open(opts)?;
    let code = known_instrument(&reference, &a.instrument)?;
    if let Some(id) = &a.contract {
        let contract = ContractId::parse(id).map_err(CliError::Invalid)?;
        let frequency: Frequency = a.frequency.into();
        let Some(bars) = store.read_contract(&code, contract, frequency)? else {
            let known = store.contracts_with_prices(&code, frequency)?;
            let list = known
                .iter()
                .rev()
                .take(8)
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(CliError::Invalid(format!(
                "no {} prices for contract {contract} of `{code}`{}",
                frequency.as_str(),
                if list.is_empty() {
                    String::new()
                } else {
                    format!("; it has: {list}")
                }
            ))
            .into());
        };
        let rows = (0..bars.len())
            .map(|i| {
                vec![
                    format_timestamp(bars.ts[i]),
                    num(bars.open[i]),
                    num(bars.high[i]),
                    num(bars.low[i]),
                    num(bars.close[i]),
                    num(bars.volume[i]),
                ]
            })
            .collect();
        let value = json!({ "instrument": code, "contract": contract, "frequency": frequency, "timestamp": bars.ts.iter().map(|t| format_timestamp(*t)).collect::<Vec<_>>(), "open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close, "volume": bars.volume });
        return emit(
            &format!("{code} {contract} {}", frequency.as_str()),
            &["timestamp", "open", "high", "low", "close", "volume"],
            rows,
            a.output,
            value,
        );
    }
    if a.multiple {
        let Some(m) = store.read_multiple(&code)? else {
            return Err(CliError::Invalid(format!(
                "`{code}` has no multiple prices; import or update prices first"
            ))
            .into());
        };
        let rows = (0..m.len()).map(|i| multiple_row(&m, i, "")).collect();
        let value = json!({ "instrument": code, "timestamp": m.ts.iter().map(|t| format_timestamp(*t)).collect::<Vec<_>>(), "price": m.price, "price_contract": m.price_contract, "forward": m.forward, "forward_contract": m.forward_contract, "carry": m.carry, "carry_contract": m.carry_contract });
        return emit(
            &format!("{code} multiple prices"),
            &MULTIPLE_HEADER,
            rows,
            a.output,
            value,
        );
    }
    let Some(adj) = store.read_adjusted(&code)? else {
        return Err(CliError::Invalid(format!("`{code}` has no adjusted prices; import prices or run `systrade prices regenerate-adjusted {code}`")).into());
    };
    let rows = (0..adj.len())
        .map(|i| vec![format_timestamp(adj.ts[i]), num(adj.value[i])])
        .collect();
    let value = json!({ "instrument": code, "timestamp": adj.ts.iter().map(|t| format_timestamp(*t)).collect::<Vec<_>>(), "price": adj.value });
    emit(
        &format!("{code} adjusted prices"),
        &["timestamp", "price"],
        rows,
        a.output,
        value,
    )
}

fn fx(opts: &GlobalOpts, a: FxArgs) -> anyhow::Result<i32> {
    let (_home, _reference, store) = open(opts)?;
    let ccy = a.currency.to_ascii_uppercase();
    let Some(series) = store.read_fx(&ccy)? else {
        let known = store.fx_currencies()?;
        let help = did_you_mean(&ccy, known.iter().map(String::as_str))
            .unwrap_or_else(|| format!("stored: {}", known.join(", ")));
        return Err(CliError::Invalid(format!("no FX prices for `{ccy}`; {help}")).into());
    };
    let rows = (0..series.len())
        .map(|i| vec![format_timestamp(series.ts[i]), num(series.value[i])])
        .collect();
    let value = json!({ "currency": ccy, "timestamp": series.ts.iter().map(|t| format_timestamp(*t)).collect::<Vec<_>>(), "price": series.value });
    emit(
        &format!("{ccy}USD"),
        &["timestamp", "price"],
        rows,
        a.output,
        value,
    )
}

fn list(opts: &GlobalOpts, json_out: bool) -> anyhow::Result<i32> {
    let (home, _reference, store) = open(opts)?;
    let multiple = store.instruments_with_multiple()?;
    let adjusted = store.instruments_with_adjusted()?;
    let fx = store.fx_currencies()?;
    if json_out {
        print_json(
            &json!({ "data_dir": home.data_dir(), "multiple": multiple, "adjusted": adjusted, "fx": fx }),
        )?;
    } else {
        outln!("price store: {}", home.data_dir().display());
        outln!(
            "multiple prices ({}): {}",
            multiple.len(),
            multiple
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        outln!(
            "adjusted prices ({}): {}",
            adjusted.len(),
            adjusted
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        outln!("fx ({}): {}", fx.len(), fx.join(" "));
    }
    Ok(0)
}

fn regenerate(opts: &GlobalOpts, a: RegenerateArgs) -> anyhow::Result<i32> {
    let (_home, reference, store) = open(opts)?;
    let codes: Vec<InstrumentCode> = if a.instruments.is_empty() {
        store.instruments_with_multiple()?
    } else {
        let mut v = Vec::new();
        for i in &a.instruments {
            v.push(known_instrument(&reference, i)?);
        }
        v
    };
    if codes.is_empty() {
        return Err(CliError::Invalid("the price store has no multiple prices; run `systrade import pysystemtrade DIR` or the daily price update first".into()).into());
    }
    let bar = (!a.json && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(codes.len() as u64));
    let done = AtomicUsize::new(0);
    let on_done = |code: &InstrumentCode| {
        done.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &bar {
            b.set_message(code.to_string());
            b.inc(1);
        }
    };
    let started = std::time::Instant::now();
    let forward_fill = a.forward_fill;
    let results = regenerate_many(&store, &codes, &|_| forward_fill, 2, &on_done);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    let failed = results.iter().filter(|r| r.is_err()).count();
    if a.json {
        let items: Vec<_> = results
            .iter()
            .zip(&codes)
            .map(|(r, c)| match r {
                Ok(x) => json!({ "instrument": c, "ok": true, "rows": x.rows }),
                Err(e) => json!({ "instrument": c, "ok": false, "error": e.to_string() }),
            })
            .collect();
        print_json(&json!({ "instruments": items, "failed": failed, "seconds": seconds }))?;
    } else {
        for (r, c) in results.iter().zip(&codes) {
            match r {
                Ok(x) => outln!("{c}: {} rows", x.rows),
                Err(e) => eprintln!("error: {e}"),
            }
        }
        outln!(
            "regenerated {} of {} instruments in {seconds:.3}s",
            codes.len() - failed,
            codes.len()
        );
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
