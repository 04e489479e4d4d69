//! `systrade import pysystemtrade DIR`: validates every file of a pysystemtrade data directory
//! (instrument, roll and spread cost config, FX, roll calendars, multiple and adjusted prices)
//! before writing any, then writes the reference data to `<home>/config/` and the series to the
//! price store.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;

use super::context::{load_config, resolve_home, GlobalOpts};
use super::output::print_json;
use crate::adapters::parquet::ParquetPriceStore;
use crate::adapters::pysystemtrade_csv::{load_all_with_progress, scan, store_all, summary};
use crate::adapters::reference_files::{load_reference_data, write_reference_data};

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: ImportSource,
}

#[derive(Subcommand, Debug)]
pub enum ImportSource {
    /// pysystemtrade's CSV layout: csvconfig/, fx_prices_csv/, roll_calendars_csv/,
    /// multiple_prices_csv/, adjusted_prices_csv/ (any may be absent).
    Pysystemtrade {
        /// The directory holding pysystemtrade's CSV folders.
        dir: PathBuf,
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn bar(enabled: bool, message: &'static str) -> Option<indicatif::ProgressBar> {
    (enabled && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} files {elapsed}")
        {
            b.set_style(style.progress_chars("=> "));
        }
        b.set_message(message);
        b
    })
}

pub async fn import(opts: &GlobalOpts, a: ImportArgs) -> anyhow::Result<i32> {
    let ImportSource::Pysystemtrade {
        dir,
        json: json_out,
    } = a.source;
    let home = resolve_home(opts)?;
    load_config(&home)?;
    let started = std::time::Instant::now();
    let mut plan = scan(&dir)?;
    if plan.reference.is_none() {
        plan = plan.with_reference(load_reference_data(&home.reference_dir())?);
    }
    let checking = bar(!json_out, "checking");
    let data = load_all_with_progress(&plan, |done, total| {
        if let Some(b) = &checking {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    });
    if let Some(b) = &checking {
        b.finish_and_clear();
    }
    let data = data?;
    let parsed = started.elapsed().as_secs_f64();
    for w in &data.warnings {
        eprintln!("warning: {w}");
    }
    std::fs::create_dir_all(&home.root)
        .with_context(|| format!("cannot create home directory {}", home.root.display()))?;
    if data.reference_from_import {
        write_reference_data(&home.reference_dir(), &data.reference)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let store = ParquetPriceStore::new(home.data_dir());
    let writing = bar(!json_out, "writing");
    let written = store_all(&data, &store, 2, &|done, total| {
        if let Some(b) = &writing {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    });
    if let Some(b) = &writing {
        b.finish_and_clear();
    }
    let written = written?;
    let seconds = started.elapsed().as_secs_f64();
    let sum = summary(&data);
    if json_out {
        print_json(
            &json!({ "source": dir, "home": home.root, "summary": sum, "series_written": written, "reference_written": data.reference_from_import, "warnings": data.warnings, "parse_seconds": parsed, "seconds": seconds }),
        )?;
    } else {
        outln!("{sum}");
        outln!(
            "imported {written} series into {} in {seconds:.2}s (checking {parsed:.2}s)",
            home.data_dir().display()
        );
        if data.reference_from_import {
            outln!(
                "reference data written to {}",
                home.reference_dir().display()
            );
        }
    }
    Ok(0)
}
