//! `systrade export pysystemtrade DIR`: the stored series and reference data written back in
//! pysystemtrade's CSV layout (`adapters::pysystemtrade_csv::export`), into a new or empty
//! directory, so a user can always go back.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::context::{load_config, resolve_home, GlobalOpts};
use super::output::print_json;
use super::CliError;
use crate::adapters::parquet::ParquetPriceStore;
use crate::adapters::pysystemtrade_csv::export::{export_all, CONTRACT_FOLDER};
use crate::adapters::reference_files::load_reference_data;

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub target: ExportTarget,
}

#[derive(Subcommand, Debug)]
pub enum ExportTarget {
    /// pysystemtrade's CSV layout: csvconfig/, fx_prices_csv/, roll_calendars_csv/,
    /// multiple_prices_csv/, adjusted_prices_csv/ (what `import pysystemtrade` reads) and
    /// contract_prices/CODE_YYYYMMDD.csv (each contract's bars). DIR must be new or empty.
    Pysystemtrade {
        /// The directory to write (created; refused when it holds anything).
        dir: PathBuf,
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn export(opts: &GlobalOpts, a: ExportArgs) -> anyhow::Result<i32> {
    let ExportTarget::Pysystemtrade {
        dir,
        json: json_out,
    } = a.target;
    let home = resolve_home(opts)?;
    load_config(&home)?;
    if let Ok(mut entries) = std::fs::read_dir(&dir) {
        if entries.next().is_some() {
            return Err(CliError::Invalid(format!(
                "{} is not empty; export writes into a new or empty directory (nothing is \
                 overwritten)",
                dir.display()
            ))
            .into());
        }
    } else if dir.exists() {
        return Err(CliError::Invalid(format!("{} is not a directory", dir.display())).into());
    }
    let reference = load_reference_data(&home.reference_dir())?;
    let store = ParquetPriceStore::new(home.data_dir());
    let started = std::time::Instant::now();
    let bar = (!json_out && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "exporting [{bar:30}] {pos}/{len} instruments and currencies {elapsed}",
        ) {
            b.set_style(style.progress_chars("=> "));
        }
        b
    });
    let summary = export_all(&store, &reference, &dir, &|done, total| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let summary = summary?;
    let seconds = started.elapsed().as_secs_f64();
    if json_out {
        print_json(
            &json!({ "dir": dir, "home": home.root, "summary": summary, "seconds": seconds }),
        )?;
    } else {
        outln!(
            "exported {} files ({} rows) to {} in {seconds:.2}s: {} multiple, {} adjusted, {} FX, {} roll calendars, {} contracts ({CONTRACT_FOLDER}/), and csvconfig/",
            summary.files(),
            summary.rows,
            dir.display(),
            summary.multiple,
            summary.adjusted,
            summary.fx,
            summary.roll_calendars,
            summary.contracts
        );
    }
    Ok(0)
}
