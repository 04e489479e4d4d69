//! Importing a whole pysystemtrade `data/futures/` directory: [`scan`] finds the files,
//! [`load_all`] parses and validates every one of them (in parallel) before anything is
//! written, and [`summary`] counts what was found. Writing the result is the caller's job.
//!
//! Layout (every folder optional, at least one present):
//! `csvconfig/{instrumentconfig,rollconfig,spreadcosts}.csv`, `fx_prices_csv/CCYUSD.csv`,
//! `multiple_prices_csv/CODE.csv`, `adjusted_prices_csv/CODE.csv`,
//! `roll_calendars_csv/CODE.csv`. Files not ending in `.csv`, hidden files and editor
//! leftovers (`#x.csv#`, `.~lock…`) are ignored; `csvconfig/moreinstrumentinfo.csv` is not read.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use super::{
    display, read_adjusted_prices, read_fx_prices, read_multiple_prices, read_roll_calendar,
    FileKind,
};
use crate::adapters::pysystemtrade_csv::cells;
use crate::adapters::reference_files::{
    parse_reference_data, Orphans, ReferenceSources, Source, INSTRUMENT_CONFIG_FILE,
    ROLL_CONFIG_FILE, SPREAD_COSTS_FILE,
};
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::series::{AdjustedPrices, FxPrices, MultiplePrices, RollCalendar};
use crate::engine::diagnostic::{did_you_mean, Diagnostic, Diagnostics};

/// The folder of pysystemtrade's reference files.
pub const CSVCONFIG: &str = "csvconfig";

/// The folders of a pysystemtrade data directory that exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PysystemtradeDir {
    pub root: PathBuf,
    pub csvconfig: Option<PathBuf>,
    pub multiple_prices: Option<PathBuf>,
    pub adjusted_prices: Option<PathBuf>,
    pub fx_prices: Option<PathBuf>,
    pub roll_calendars: Option<PathBuf>,
}

impl PysystemtradeDir {
    /// Finds the folders under `root`; an error if `root` is not a directory or has none of them.
    pub fn locate(root: &Path) -> Result<Self, Diagnostic> {
        if !root.is_dir() {
            return Err(Diagnostic::new(
                display(root),
                "not a directory: expected pysystemtrade's data/futures directory",
            ));
        }
        let sub = |name: &str| Some(root.join(name)).filter(|p| p.is_dir());
        let dir = Self {
            root: root.to_path_buf(),
            csvconfig: sub(CSVCONFIG),
            multiple_prices: sub(FileKind::MultiplePrices.folder()),
            adjusted_prices: sub(FileKind::AdjustedPrices.folder()),
            fx_prices: sub(FileKind::FxPrices.folder()),
            roll_calendars: sub(FileKind::RollCalendar.folder()),
        };
        if dir.csvconfig.is_none() && FileKind::ALL.iter().all(|k| dir.folder(*k).is_none()) {
            let nested = root.join("data").join("futures");
            let help = if nested.is_dir() {
                format!("did you mean {}?", nested.display())
            } else {
                "point at pysystemtrade's data/futures directory".to_string()
            };
            return Err(Diagnostic::new(
                display(root),
                format!(
                    "no pysystemtrade data here: expected one or more of {CSVCONFIG}/, {}/, {}/, {}/, {}/",
                    FileKind::MultiplePrices.folder(),
                    FileKind::AdjustedPrices.folder(),
                    FileKind::FxPrices.folder(),
                    FileKind::RollCalendar.folder()
                ),
            )
            .help(help));
        }
        Ok(dir)
    }

    /// The folder of a kind of series file, if present.
    pub fn folder(&self, kind: FileKind) -> Option<&Path> {
        match kind {
            FileKind::MultiplePrices => self.multiple_prices.as_deref(),
            FileKind::AdjustedPrices => self.adjusted_prices.as_deref(),
            FileKind::FxPrices => self.fx_prices.as_deref(),
            FileKind::RollCalendar => self.roll_calendars.as_deref(),
        }
    }
}

/// The three reference files of `csvconfig/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencePaths {
    pub instruments: PathBuf,
    pub roll_config: PathBuf,
    pub spread_costs: PathBuf,
}

/// Everything [`load_all`] will read.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub dir: PysystemtradeDir,
    /// `csvconfig/`'s files; `None` when the directory has no `csvconfig/`.
    pub reference: Option<ReferencePaths>,
    pub multiple: BTreeMap<InstrumentCode, PathBuf>,
    pub adjusted: BTreeMap<InstrumentCode, PathBuf>,
    pub roll_calendars: BTreeMap<InstrumentCode, PathBuf>,
    /// By currency: `fx_prices_csv/EURUSD.csv` is `EUR`.
    pub fx: BTreeMap<String, PathBuf>,
    /// The reference data to check instruments against when there is no `csvconfig/` (e.g.
    /// the home's current data); see [`ImportPlan::with_reference`].
    pub fallback_reference: Option<ReferenceData>,
}

impl ImportPlan {
    /// Uses `reference` (typically the home's current reference data) when the directory has
    /// no `csvconfig/`.
    pub fn with_reference(mut self, reference: ReferenceData) -> Self {
        self.fallback_reference = Some(reference);
        self
    }

    /// Number of series files (not counting `csvconfig/`).
    pub fn series_files(&self) -> usize {
        self.multiple.len() + self.adjusted.len() + self.roll_calendars.len() + self.fx.len()
    }
}

/// Finds every file of a pysystemtrade data directory; the errors of all misnamed files.
pub fn scan(dir: &Path) -> Result<ImportPlan, Diagnostics> {
    let located = PysystemtradeDir::locate(dir)?;
    let mut errors = Vec::new();

    let reference = located.csvconfig.as_ref().and_then(|cfg| {
        let paths = ReferencePaths {
            instruments: cfg.join(INSTRUMENT_CONFIG_FILE),
            roll_config: cfg.join(ROLL_CONFIG_FILE),
            spread_costs: cfg.join(SPREAD_COSTS_FILE),
        };
        let mut complete = true;
        for p in [&paths.instruments, &paths.roll_config, &paths.spread_costs] {
            if !p.is_file() {
                complete = false;
                errors.push(Diagnostic::new(display(p), "missing reference file").help(
                    format!(
                        "{CSVCONFIG}/ must hold {INSTRUMENT_CONFIG_FILE}, {ROLL_CONFIG_FILE} and {SPREAD_COSTS_FILE}"
                    ),
                ));
            }
        }
        complete.then_some(paths)
    });

    let mut plan = ImportPlan {
        dir: located.clone(),
        reference,
        multiple: BTreeMap::new(),
        adjusted: BTreeMap::new(),
        roll_calendars: BTreeMap::new(),
        fx: BTreeMap::new(),
        fallback_reference: None,
    };
    for kind in FileKind::ALL {
        let Some(folder) = located.folder(kind) else {
            continue;
        };
        let entries = match csv_files(folder) {
            Ok(e) => e,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        for (stem, path) in entries {
            let named = match kind {
                FileKind::FxPrices => fx_currency(&stem).map(|ccy| {
                    plan.fx.insert(ccy, path.clone());
                }),
                _ => InstrumentCode::new(&stem).map(|code| {
                    let map = match kind {
                        FileKind::MultiplePrices => &mut plan.multiple,
                        FileKind::AdjustedPrices => &mut plan.adjusted,
                        _ => &mut plan.roll_calendars,
                    };
                    map.insert(code, path.clone());
                }),
            };
            if let Err(e) = named {
                errors.push(Diagnostic::new(
                    display(&path),
                    format!("cannot tell what this {} file is for: {e}", kind.describe()),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(Diagnostics(errors))
    }
}

/// `(stem, path)` of the `.csv` files of a folder, sorted; hidden files and editor leftovers
/// are skipped.
fn csv_files(folder: &Path) -> Result<Vec<(String, PathBuf)>, Diagnostic> {
    let read = std::fs::read_dir(folder)
        .map_err(|e| Diagnostic::new(display(folder), format!("cannot list the folder: {e}")))?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| {
            Diagnostic::new(display(folder), format!("cannot list the folder: {e}"))
        })?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || name.starts_with('#') || !path.is_file() {
            continue;
        }
        if let Some(stem) = name.strip_suffix(".csv") {
            out.push((stem.to_string(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// `EURUSD` → `EUR`.
fn fx_currency(stem: &str) -> Result<String, String> {
    match stem.strip_suffix("USD") {
        Some(ccy)
            if ccy.len() == 3 && ccy.bytes().all(|b| b.is_ascii_uppercase()) && ccy != "USD" =>
        {
            Ok(ccy.to_string())
        }
        _ => Err(format!(
            "expected a name such as EURUSD.csv (the USD value of one unit of a currency), not `{stem}.csv`"
        )),
    }
}

/// Everything parsed from a pysystemtrade directory, validated.
#[derive(Debug, Clone, Default)]
pub struct ImportData {
    pub reference: ReferenceData,
    /// Whether `reference` came from the directory's `csvconfig/` (else from
    /// [`ImportPlan::fallback_reference`], and there is nothing new to write).
    pub reference_from_import: bool,
    pub multiple: BTreeMap<InstrumentCode, MultiplePrices>,
    pub adjusted: BTreeMap<InstrumentCode, AdjustedPrices>,
    pub roll_calendars: BTreeMap<InstrumentCode, RollCalendar>,
    /// By currency (`EUR`: USD per euro).
    pub fx: BTreeMap<String, FxPrices>,
    /// Things worth telling the user that do not stop the import (dropped `csvconfig/` rows of
    /// unknown instruments, a currency without FX prices).
    pub warnings: Vec<Diagnostic>,
}

enum Loaded {
    Multiple(MultiplePrices),
    Adjusted(AdjustedPrices),
    Fx(FxPrices),
    Calendar(RollCalendar),
}

/// What a series file is for: an instrument, or (FX) a currency.
#[derive(Clone, Copy)]
enum Key<'a> {
    Instrument(&'a InstrumentCode),
    Currency(&'a str),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Instrument(c) => c.as_str(),
            Key::Currency(c) => c,
        }
    }
}

struct Job<'a> {
    kind: FileKind,
    key: Key<'a>,
    path: &'a Path,
    size: u64,
}

fn load_job(job: &Job<'_>) -> Result<Loaded, Diagnostic> {
    match job.kind {
        FileKind::MultiplePrices => read_multiple_prices(job.path).map(Loaded::Multiple),
        FileKind::AdjustedPrices => read_adjusted_prices(job.path).map(Loaded::Adjusted),
        FileKind::FxPrices => read_fx_prices(job.path).map(Loaded::Fx),
        FileKind::RollCalendar => read_roll_calendar(job.path).map(Loaded::Calendar),
    }
}

/// Parses every file of `plan` (on up to 4 threads) and checks that every price file belongs
/// to a configured instrument. Returns the errors of all files: one per bad series file,
/// every bad line of the reference files.
pub fn load_all(plan: &ImportPlan) -> Result<ImportData, Diagnostics> {
    load_all_with_progress(plan, |_, _| {})
}

/// [`load_all`], calling `progress(done, total)` after each series file.
pub fn load_all_with_progress(
    plan: &ImportPlan,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<ImportData, Diagnostics> {
    let mut jobs: Vec<Job<'_>> = Vec::with_capacity(plan.series_files());
    let instrument = |(k, p)| (Key::Instrument(k), p);
    let sets: [(FileKind, Vec<(Key<'_>, &PathBuf)>); 4] = [
        (
            FileKind::MultiplePrices,
            plan.multiple.iter().map(instrument).collect(),
        ),
        (
            FileKind::AdjustedPrices,
            plan.adjusted.iter().map(instrument).collect(),
        ),
        (
            FileKind::FxPrices,
            plan.fx
                .iter()
                .map(|(k, p)| (Key::Currency(k.as_str()), p))
                .collect(),
        ),
        (
            FileKind::RollCalendar,
            plan.roll_calendars.iter().map(instrument).collect(),
        ),
    ];
    for (kind, files) in &sets {
        for (key, path) in files {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            jobs.push(Job {
                kind: *kind,
                key: *key,
                path,
                size,
            });
        }
    }
    // Largest first, so the threads finish together.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.size));

    let total = jobs.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4)
        .min(total.max(1));
    let worker = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(i) else { break };
            out.push((i, load_job(job)));
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        }
        out
    };
    let (parts, reference) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
        let reference = load_reference(plan);
        let parts: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (parts, reference)
    });

    let mut errors = Vec::new();
    let mut data = ImportData::default();
    match reference {
        Ok((reference, from_import, warnings)) => {
            data.reference = reference;
            data.reference_from_import = from_import;
            data.warnings = warnings;
        }
        Err(e) => errors.extend(e.0),
    }
    let mut results: Vec<Option<Result<Loaded, Diagnostic>>> = (0..total).map(|_| None).collect();
    for part in parts {
        match part {
            Ok(part) => {
                for (i, r) in part {
                    results[i] = Some(r);
                }
            }
            Err(_) => errors.push(Diagnostic::new(
                display(&plan.dir.root),
                "internal error: a reader thread panicked",
            )),
        }
    }
    // Report in a stable order: by kind folder, then file name.
    let mut failed = vec![false; total];
    let mut order: Vec<usize> = (0..total).collect();
    order.sort_by_key(|i| (jobs[*i].kind.folder(), jobs[*i].key.as_str()));
    for i in order {
        let job = &jobs[i];
        match results[i].take() {
            Some(Ok(loaded)) => match (loaded, job.key) {
                (Loaded::Multiple(m), Key::Instrument(code)) => {
                    data.multiple.insert(code.clone(), m);
                }
                (Loaded::Adjusted(a), Key::Instrument(code)) => {
                    data.adjusted.insert(code.clone(), a);
                }
                (Loaded::Calendar(c), Key::Instrument(code)) => {
                    data.roll_calendars.insert(code.clone(), c);
                }
                (Loaded::Fx(f), key) => {
                    data.fx.insert(key.as_str().to_string(), f);
                }
                // Instrument files always have instrument keys (built above).
                (_, Key::Currency(_)) => {}
            },
            Some(Err(d)) => {
                failed[i] = true;
                errors.push(d);
            }
            None => {}
        }
    }

    // Every price file must belong to a configured instrument (checked only when the
    // reference data itself is fine, or every file would be "unknown").
    if !data.reference.instruments.is_empty() {
        let known = &data.reference.instruments;
        // One error per file: a file that failed to parse is not checked again.
        let mut by_file: Vec<&Job<'_>> = jobs
            .iter()
            .enumerate()
            .filter(|(i, _)| !failed[*i])
            .map(|(_, j)| j)
            .collect();
        by_file.sort_by_key(|j| (j.kind.folder(), j.key.as_str()));
        for job in by_file {
            let Key::Instrument(code) = job.key else {
                continue;
            };
            if !known.contains_key(code) {
                errors.push(
                    Diagnostic::new(
                        display(job.path),
                        format!(
                            "unknown instrument `{code}`: not in the instrument config{}",
                            plan.reference
                                .as_ref()
                                .map(|r| format!(" ({})", r.instruments.display()))
                                .unwrap_or_default()
                        ),
                    )
                    .help_opt(did_you_mean(
                        code.as_str(),
                        known.keys().map(|k| k.as_str()),
                    )),
                );
            }
        }
        if plan.dir.fx_prices.is_some() {
            let mut missing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            let traded = data.multiple.keys().chain(data.adjusted.keys());
            for code in traded {
                if let Some(i) = known.get(code) {
                    if i.currency != "USD" && !data.fx.contains_key(&i.currency) {
                        missing.entry(&i.currency).or_default().push(code.as_str());
                    }
                }
            }
            for (ccy, mut codes) in missing {
                codes.dedup();
                data.warnings.push(Diagnostic::new(
                    display(&plan.dir.root),
                    format!(
                        "no FX prices for {ccy} ({}{ccy}USD.csv), the currency of {}",
                        plan.dir
                            .fx_prices
                            .as_deref()
                            .map(|p| format!("{}/", p.display()))
                            .unwrap_or_default(),
                        codes.join(", ")
                    ),
                ));
            }
        }
    }

    if errors.is_empty() {
        Ok(data)
    } else {
        Err(Diagnostics(errors))
    }
}

type LoadedReference = (ReferenceData, bool, Vec<Diagnostic>);

fn load_reference(plan: &ImportPlan) -> Result<LoadedReference, Diagnostics> {
    let Some(paths) = &plan.reference else {
        return match &plan.fallback_reference {
            Some(r) => Ok((r.clone(), false, Vec::new())),
            None => Err(Diagnostic::new(
                display(&plan.dir.root),
                format!("no {CSVCONFIG}/ folder: cannot check the instruments of the price files"),
            )
            .help("add pysystemtrade's csvconfig/, or give the current reference data (ImportPlan::with_reference)")
            .into()),
        };
    };
    let mut texts = Vec::with_capacity(3);
    let mut errors = Vec::new();
    for p in [&paths.instruments, &paths.roll_config, &paths.spread_costs] {
        let shown = display(p);
        let text = match std::fs::read(p) {
            Ok(bytes) => match cells::check_utf8(&shown, &bytes) {
                Ok(t) => t.to_string(),
                Err(d) => {
                    errors.push(d);
                    String::new()
                }
            },
            Err(e) => {
                errors.push(Diagnostic::new(
                    shown.clone(),
                    format!("cannot read the file: {e}"),
                ));
                String::new()
            }
        };
        texts.push((shown, text));
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let source = |i: usize| Source {
        path: &texts[i].0,
        text: &texts[i].1,
    };
    let sources = ReferenceSources {
        instruments: source(0),
        roll_config: source(1),
        spread_costs: source(2),
    };
    let (data, warnings) = parse_reference_data(&sources, Orphans::Warn)?;
    Ok((data, true, warnings))
}

/// What an import holds, for the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub instruments: usize,
    pub roll_parameters: usize,
    pub spread_costs: usize,
    pub multiple_files: usize,
    pub multiple_rows: usize,
    pub adjusted_files: usize,
    pub adjusted_rows: usize,
    pub fx_files: usize,
    pub fx_rows: usize,
    pub roll_calendar_files: usize,
    pub roll_calendar_rows: usize,
    pub warnings: usize,
}

impl ImportSummary {
    pub fn files(&self) -> usize {
        self.multiple_files + self.adjusted_files + self.fx_files + self.roll_calendar_files
    }
    pub fn rows(&self) -> usize {
        self.multiple_rows + self.adjusted_rows + self.fx_rows + self.roll_calendar_rows
    }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "reference data   {} instruments, {} roll configs, {} spread costs",
            self.instruments, self.roll_parameters, self.spread_costs
        )?;
        for (name, files, rows) in [
            ("multiple prices", self.multiple_files, self.multiple_rows),
            ("adjusted prices", self.adjusted_files, self.adjusted_rows),
            ("FX prices", self.fx_files, self.fx_rows),
            (
                "roll calendars",
                self.roll_calendar_files,
                self.roll_calendar_rows,
            ),
        ] {
            writeln!(f, "{name:<16} {files:>3} files {rows:>10} rows")?;
        }
        write!(
            f,
            "total            {:>3} files {:>10} rows",
            self.files(),
            self.rows()
        )
    }
}

/// Counts of an import.
pub fn summary(data: &ImportData) -> ImportSummary {
    ImportSummary {
        instruments: data.reference.instruments.len(),
        roll_parameters: data.reference.roll_parameters.len(),
        spread_costs: data.reference.spread_costs.len(),
        multiple_files: data.multiple.len(),
        multiple_rows: data.multiple.values().map(|m| m.len()).sum(),
        adjusted_files: data.adjusted.len(),
        adjusted_rows: data.adjusted.values().map(|a| a.len()).sum(),
        fx_files: data.fx.len(),
        fx_rows: data.fx.values().map(|s| s.len()).sum(),
        roll_calendar_files: data.roll_calendars.len(),
        roll_calendar_rows: data.roll_calendars.values().map(|c| c.len()).sum(),
        warnings: data.warnings.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::pysystemtrade_csv::test_data_dir;
    use crate::adapters::reference_files::{
        SHIPPED_INSTRUMENT_CONFIG, SHIPPED_ROLL_CONFIG, SHIPPED_SPREAD_COSTS,
    };

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn small_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(
            r,
            "csvconfig/instrumentconfig.csv",
            SHIPPED_INSTRUMENT_CONFIG,
        );
        write(r, "csvconfig/rollconfig.csv", SHIPPED_ROLL_CONFIG);
        write(r, "csvconfig/spreadcosts.csv", SHIPPED_SPREAD_COSTS);
        write(r, "csvconfig/#instrumentconfig.csv#", "junk");
        write(
            r,
            "multiple_prices_csv/AUD.csv",
            "DATETIME,CARRY,CARRY_CONTRACT,PRICE,PRICE_CONTRACT,FORWARD,FORWARD_CONTRACT\n\
             2023-08-30 23:00:00,0.65,20231200,0.64,20230900,0.65,20231200\n",
        );
        write(
            r,
            "adjusted_prices_csv/AUD.csv",
            "DATETIME,price\n2023-08-30 23:00:00,0.64\n",
        );
        write(r, "adjusted_prices_csv/README.txt", "not a csv");
        write(
            r,
            "fx_prices_csv/EURUSD.csv",
            "DATETIME,PRICE\n2023-08-30 23:00:00,1.08\n",
        );
        write(
            r,
            "roll_calendars_csv/AUD.csv",
            "DATE_TIME,current_contract,next_contract,carry_contract\n\
             2023-06-13 23:00:00,20230600,20230900,20230900\n",
        );
        d
    }

    #[test]
    fn scans_and_loads_a_small_directory() {
        let d = small_dir();
        let plan = scan(d.path()).unwrap();
        assert_eq!(plan.series_files(), 4);
        assert!(plan.reference.is_some());
        assert_eq!(plan.fx.keys().collect::<Vec<_>>(), vec!["EUR"]);
        let data = load_all(&plan).unwrap();
        assert!(data.reference_from_import);
        let s = summary(&data);
        assert_eq!(
            (
                s.instruments,
                s.multiple_files,
                s.adjusted_rows,
                s.fx_rows,
                s.roll_calendar_rows
            ),
            (586, 1, 1, 1, 1)
        );
        assert_eq!(s.files(), 4);
        assert!(
            s.to_string()
                .contains("multiple prices    1 files          1 rows"),
            "{s}"
        );
    }

    #[test]
    fn misnamed_files_are_reported_together() {
        let d = small_dir();
        write(d.path(), "fx_prices_csv/USDJPY.csv", "DATETIME,PRICE\n");
        write(d.path(), "multiple_prices_csv/SP 500.csv", "");
        let e = scan(d.path()).unwrap_err().0;
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(
            e[0].file.ends_with("multiple_prices_csv/SP 500.csv"),
            "{}",
            e[0]
        );
        assert!(e[1].file.ends_with("USDJPY.csv"));
        assert!(e[1].message.contains("EURUSD.csv"), "{}", e[1]);
    }

    #[test]
    fn not_a_pysystemtrade_directory() {
        let d = tempfile::tempdir().unwrap();
        let e = scan(d.path()).unwrap_err().0;
        assert!(
            e[0].message.starts_with("no pysystemtrade data here"),
            "{}",
            e[0]
        );
        let e = scan(&d.path().join("missing")).unwrap_err().0;
        assert!(e[0].message.starts_with("not a directory"));
    }

    #[test]
    fn missing_reference_file_is_reported() {
        let d = small_dir();
        std::fs::remove_file(d.path().join("csvconfig/spreadcosts.csv")).unwrap();
        let e = scan(d.path()).unwrap_err().0;
        assert_eq!(e.len(), 1);
        assert!(e[0].file.ends_with("spreadcosts.csv"));
    }

    #[test]
    fn errors_of_all_files_are_collected_one_per_file() {
        let d = small_dir();
        write(
            d.path(),
            "adjusted_prices_csv/AUD.csv",
            "DATETIME,price\n2023-08-30 23:00:00,x\n2023-08-31 23:00:00,y\n",
        );
        write(d.path(), "fx_prices_csv/JPYUSD.csv", "DATETIME,PRICE\n");
        write(d.path(), "roll_calendars_csv/NOPE.csv", "DATE_TIME,current_contract,next_contract,carry_contract\n2023-06-13 23:00:00,20230600,20230900,20230900\n");
        let plan = scan(d.path()).unwrap();
        let e = load_all(&plan).unwrap_err().0;
        let shown: Vec<String> = e.iter().map(|d| d.to_string()).collect();
        assert_eq!(e.len(), 3, "{shown:#?}");
        assert!(e[0].file.ends_with("adjusted_prices_csv/AUD.csv"));
        assert_eq!(e[0].line, Some(2));
        assert!(e[1].file.ends_with("JPYUSD.csv"));
        assert!(e[1].message.starts_with("no data rows"));
        assert!(e[2].file.ends_with("roll_calendars_csv/NOPE.csv"));
        assert!(
            e[2].message.starts_with("unknown instrument `NOPE`"),
            "{}",
            e[2]
        );
    }

    #[test]
    fn without_csvconfig_a_fallback_is_needed() {
        let d = small_dir();
        std::fs::remove_dir_all(d.path().join("csvconfig")).unwrap();
        let plan = scan(d.path()).unwrap();
        let e = load_all(&plan).unwrap_err().0;
        assert!(e[0].message.starts_with("no csvconfig/ folder"), "{}", e[0]);
        let reference = crate::adapters::reference_files::load_reference_data(d.path()).unwrap();
        let data = load_all(&plan.with_reference(reference)).unwrap();
        assert!(!data.reference_from_import);
        assert_eq!(data.multiple.len(), 1);
    }

    #[test]
    #[cfg_attr(
        not(shared_data),
        ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
    )]
    fn the_whole_shared_data_set_loads() {
        let Some(dir) = test_data_dir() else { return };
        let started = std::time::Instant::now();
        let plan = scan(&dir).unwrap();
        let data = match load_all(&plan) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let took = started.elapsed();
        let s = summary(&data);
        eprintln!("load_all of {} took {took:.2?}\n{s}", dir.display());
        for w in &data.warnings {
            eprintln!("warning: {w}");
        }
        assert_eq!(s.multiple_files, 32);
        assert_eq!(s.adjusted_files, 36);
        assert_eq!(s.fx_files, 12);
        assert_eq!(s.roll_calendar_files, 38);
        assert_eq!(s.instruments, 586);
        // pysystemtrade's rollconfig and spreadcosts carry ETHRR and STERLING3, which have no
        // instrument config: dropped with a warning each.
        assert_eq!(s.roll_parameters, 512);
        assert_eq!(s.spread_costs, 579);
        assert_eq!(data.warnings.len(), 4, "{:#?}", data.warnings);
        assert_eq!(s.multiple_rows, 1_353_182);
        assert_eq!(s.adjusted_rows, 1_740_553);
        assert_eq!(s.fx_rows, 94_042);
        assert_eq!(s.roll_calendar_rows, 4_113);
        assert_eq!(
            data.multiple[&InstrumentCode::new("AUD").unwrap()].len(),
            50_920
        );
        assert_eq!(
            data.fx["KRW"].value.iter().filter(|v| v.is_nan()).count(),
            1
        );
    }
}
