//! The reference data in pysystemtrade's own CSV formats: `instrumentconfig.csv` (contract
//! terms and costs), `rollconfig.csv` (roll parameters) and `spreadcosts.csv` (slippage).
//!
//! # Where it comes from
//! The files shipped in the repository's `config/` are embedded in the binary and are the
//! defaults. A file of the same name in `<home>/config/` replaces the shipped one, file by file
//! (so a user can edit the roll configuration and keep the shipped instruments).
//!
//! The shipped files are pysystemtrade's `csvconfig/` files of September 2023, verbatim except
//! that `rollconfig.csv` and `spreadcosts.csv` lack the rows of `ETHRR` and `STERLING3`:
//! pysystemtrade has no instrument config for those two, and here a roll configuration or
//! spread cost of an instrument that `instrumentconfig.csv` does not define is an error. (An
//! import of pysystemtrade's own `csvconfig/` drops such rows with a warning instead, see
//! [`Orphans`].)
//!
//! # Rules
//! - Columns are found by header name (any order; unknown or missing columns are errors);
//!   writing uses pysystemtrade's order. Cells are trimmed; rows with every cell empty are
//!   skipped. Descriptions may be blank and may contain commas (then quoted).
//! - Codes are [`InstrumentCode`]s, unique per file (a duplicate names the first line).
//! - `Pointsize` > 0; `PerBlock`, `Percentage`, `PerTrade` and `SpreadCost` ≥ 0, all required;
//!   `Currency` three upper-case letters; `Region` `ASIA`, `EMEA` or `US`.
//! - Roll cycles are futures month letters; every hold month must be a priced month;
//!   `CarryOffset` is 1 or -1; `RollOffsetDays` and `ExpiryOffset` whole numbers.
//!
//! Every bad line of every file is reported, so a file is fixed in one pass.

// `Diagnostic` is the error of every check by design; errors are the cold path.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::adapters::pysystemtrade_csv::cells::{self, at, field_column, line_of};
use crate::domain::instrument::{
    Instrument, InstrumentCode, ReferenceData, RollCycle, RollParameters,
};
use crate::engine::diagnostic::{did_you_mean, Diagnostic, Diagnostics};

pub const INSTRUMENT_CONFIG_FILE: &str = "instrumentconfig.csv";
pub const ROLL_CONFIG_FILE: &str = "rollconfig.csv";
pub const SPREAD_COSTS_FILE: &str = "spreadcosts.csv";

/// The shipped files, embedded.
pub const SHIPPED_INSTRUMENT_CONFIG: &str = include_str!("../../../config/instrumentconfig.csv");
pub const SHIPPED_ROLL_CONFIG: &str = include_str!("../../../config/rollconfig.csv");
pub const SHIPPED_SPREAD_COSTS: &str = include_str!("../../../config/spreadcosts.csv");

const INSTRUMENT_COLUMNS: [&str; 9] = [
    "Instrument",
    "Description",
    "Pointsize",
    "Currency",
    "AssetClass",
    "PerBlock",
    "Percentage",
    "PerTrade",
    "Region",
];
const ROLL_COLUMNS: [&str; 6] = [
    "Instrument",
    "HoldRollCycle",
    "RollOffsetDays",
    "CarryOffset",
    "PricedRollCycle",
    "ExpiryOffset",
];
const SPREAD_COLUMNS: [&str; 2] = ["Instrument", "SpreadCost"];

const REGIONS: [&str; 3] = ["ASIA", "EMEA", "US"];

/// A reference file's text and the name to use for it in messages.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

/// The three reference files.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceSources<'a> {
    pub instruments: Source<'a>,
    pub roll_config: Source<'a>,
    pub spread_costs: Source<'a>,
}

/// What to do with a roll configuration or spread cost of an instrument that the instrument
/// config does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphans {
    /// An error naming file and line: the rule for systrade's own files.
    Error,
    /// Drop the row and return a warning: for importing pysystemtrade's `csvconfig/`, whose
    /// September 2023 files carry two such rows (`ETHRR`, `STERLING3`).
    Warn,
}

/// A parsed table: the values by code, with the line each came from.
struct Parsed<T> {
    rows: BTreeMap<InstrumentCode, (T, usize)>,
}

impl<T> Parsed<T> {
    fn into_map(self) -> BTreeMap<InstrumentCode, T> {
        self.rows.into_iter().map(|(k, (v, _))| (k, v)).collect()
    }
}

/// One data row of a reference file, with its cells found by column name.
struct Line<'a> {
    source: Source<'a>,
    record: &'a csv::StringRecord,
    columns: &'a HashMap<&'static str, usize>,
    line: usize,
    start: usize,
}

impl Line<'_> {
    fn cell(&self, name: &str) -> &str {
        self.columns
            .get(name)
            .and_then(|i| self.record.get(*i))
            .unwrap_or("")
    }

    fn error(&self, name: &str, message: impl Into<String>) -> Diagnostic {
        let column = self
            .columns
            .get(name)
            .map(|i| field_column(self.source.text.as_bytes(), self.start, *i));
        at(self.source.path, self.line, column, Some(name), message)
    }

    fn code(&self) -> Result<InstrumentCode, Diagnostic> {
        let s = self.cell("Instrument");
        if s.is_empty() {
            return Err(self.error("Instrument", "missing instrument code"));
        }
        InstrumentCode::new(s).map_err(|e| self.error("Instrument", e))
    }

    fn finite(&self, name: &str) -> Result<f64, Diagnostic> {
        cells::parse_finite(self.cell(name)).map_err(|e| self.error(name, e))
    }

    fn non_negative(&self, name: &str) -> Result<f64, Diagnostic> {
        let v = self.finite(name)?;
        if v < 0.0 {
            return Err(self.error(name, format!("must be 0 or more, not {v}")));
        }
        Ok(v)
    }

    fn int(&self, name: &str) -> Result<i32, Diagnostic> {
        cells::parse_int(self.cell(name)).map_err(|e| self.error(name, e))
    }

    fn cycle(&self, name: &str) -> Result<RollCycle, Diagnostic> {
        RollCycle::parse(self.cell(name)).map_err(|e| self.error(name, e))
    }
}

/// Reads a reference CSV: header by name, then `row` for every non-blank line; collects every
/// bad line, and reports duplicate codes with the line of the first.
fn parse_table<T>(
    source: Source<'_>,
    columns: &[&'static str],
    mut row: impl FnMut(&Line<'_>, &mut Vec<Diagnostic>) -> Option<T>,
) -> Result<Parsed<T>, Diagnostics> {
    let text = source.text.strip_prefix('\u{feff}').unwrap_or(source.text);
    let source = Source {
        path: source.path,
        text,
    };
    let expected = columns.join(",");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => {
            return Err(at(
                source.path,
                1,
                None,
                None,
                format!("empty file: expected the header `{expected}`"),
            )
            .into())
        }
        Some(Err(e)) => return Err(csv_error(source.path, text.as_bytes(), e).into()),
        Some(Ok(h)) => h,
    };
    let header_start = cells::record_start(text.as_bytes(), header.position());
    let header_line = line_of(text.as_bytes(), header_start);
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let column = Some(field_column(text.as_bytes(), header_start, i));
        match columns.iter().find(|c| **c == name) {
            Some(c) if index.contains_key(c) => errors.push(at(
                source.path,
                header_line,
                column,
                Some(name),
                format!("column `{name}` appears twice in the header"),
            )),
            Some(c) => {
                index.insert(c, i);
            }
            None => errors.push(
                at(
                    source.path,
                    header_line,
                    column,
                    Some(name),
                    format!("unknown column `{name}`: expected the header `{expected}`"),
                )
                .help_opt(did_you_mean(name, columns.iter().copied())),
            ),
        }
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| !index.contains_key(*c))
        .copied()
        .collect();
    if !missing.is_empty() {
        errors.push(at(
            source.path,
            header_line,
            None,
            None,
            format!(
                "missing column{} `{}`: expected the header `{expected}`",
                if missing.len() > 1 { "s" } else { "" },
                missing.join("`, `")
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }

    let mut rows: BTreeMap<InstrumentCode, (T, usize)> = BTreeMap::new();
    let (mut line, mut counted) = (1, 0);
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(csv_error(source.path, text.as_bytes(), e));
                break;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let start = cells::record_start(text.as_bytes(), record.position());
        // Counted on from the previous row.
        line += line_of(&text.as_bytes()[counted..start.max(counted)], usize::MAX) - 1;
        counted = start.max(counted);
        if record.len() != header.len() {
            errors.push(at(
                source.path,
                line,
                Some(1),
                None,
                format!(
                    "expected {} cells (as in the header), found {}",
                    header.len(),
                    record.len()
                ),
            ));
            continue;
        }
        let l = Line {
            source,
            record: &record,
            columns: &index,
            line,
            start,
        };
        let code = match l.code() {
            Ok(c) => c,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        if let Some((_, first)) = rows.get(&code) {
            errors.push(l.error(
                "Instrument",
                format!("duplicate instrument `{code}` (first on line {first})"),
            ));
            continue;
        }
        if let Some(value) = row(&l, &mut errors) {
            rows.insert(code, (value, line));
        }
    }
    if errors.is_empty() {
        Ok(Parsed { rows })
    } else {
        Err(Diagnostics(errors))
    }
}

fn csv_error(path: &str, text: &[u8], e: csv::Error) -> Diagnostic {
    let mut d = Diagnostic::new(path, format!("unreadable CSV: {e}"));
    if let Some(p) = e.position() {
        d.line = Some(line_of(text, p.byte() as usize));
    }
    d
}

/// Collects the errors of several checks of one line; `None` if any failed.
macro_rules! all_ok {
    ($errors:expr; $($name:ident = $check:expr),+ $(,)?) => {
        $( let $name = $check.map_err(|d| $errors.push(d)).ok(); )+
        let ($(Some($name),)+) = ($($name,)+) else { return None; };
    };
}

fn parse_instrument_table(source: Source<'_>) -> Result<Parsed<Instrument>, Diagnostics> {
    parse_table(source, &INSTRUMENT_COLUMNS, |l, errors| {
        all_ok!(errors;
            code = l.code(),
            point_size = l.finite("Pointsize").and_then(|v| {
                if v > 0.0 {
                    Ok(v)
                } else {
                    Err(l.error("Pointsize", format!("must be more than 0, not {v}")))
                }
            }),
            currency = {
                let c = l.cell("Currency");
                if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
                    Ok(c.to_string())
                } else {
                    Err(l.error(
                        "Currency",
                        format!("invalid currency `{c}`: expected three upper-case letters such as USD"),
                    ))
                }
            },
            per_block = l.non_negative("PerBlock"),
            percentage = l.non_negative("Percentage"),
            per_trade = l.non_negative("PerTrade"),
            region = {
                let r = l.cell("Region");
                if REGIONS.contains(&r) {
                    Ok(r.to_string())
                } else {
                    Err(l.error(
                        "Region",
                        format!("invalid region `{r}`: expected ASIA, EMEA or US"),
                    )
                    .help_opt(did_you_mean(&r.to_ascii_uppercase(), REGIONS)))
                }
            },
        );
        Some(Instrument {
            code,
            description: l.cell("Description").to_string(),
            point_size,
            currency,
            asset_class: l.cell("AssetClass").to_string(),
            per_block,
            percentage,
            per_trade,
            region,
        })
    })
}

fn parse_roll_table(source: Source<'_>) -> Result<Parsed<RollParameters>, Diagnostics> {
    parse_table(source, &ROLL_COLUMNS, |l, errors| {
        all_ok!(errors;
            code = l.code(),
            hold_cycle = l.cycle("HoldRollCycle"),
            roll_offset_days = l.int("RollOffsetDays"),
            carry_offset = l.int("CarryOffset").and_then(|v| {
                if v == 1 || v == -1 {
                    Ok(v)
                } else {
                    Err(l.error(
                        "CarryOffset",
                        format!("must be 1 (carry is the next priced contract) or -1 (the previous one), not {v}"),
                    ))
                }
            }),
            priced_cycle = l.cycle("PricedRollCycle"),
            expiry_offset = l.int("ExpiryOffset"),
        );
        let outside: String = hold_cycle
            .months()
            .iter()
            .filter(|m| !priced_cycle.contains(**m))
            .map(|m| crate::domain::instrument::MONTH_LETTERS[(*m - 1) as usize])
            .collect();
        if !outside.is_empty() {
            errors.push(l.error(
                "HoldRollCycle",
                format!(
                    "hold month{} `{outside}` not in the priced cycle `{}`: only priced contracts can be held",
                    if outside.len() > 1 { "s" } else { "" },
                    priced_cycle.letters()
                ),
            ));
            return None;
        }
        Some(RollParameters {
            code,
            hold_cycle,
            roll_offset_days,
            carry_offset,
            priced_cycle,
            expiry_offset,
        })
    })
}

fn parse_spread_table(source: Source<'_>) -> Result<Parsed<f64>, Diagnostics> {
    parse_table(source, &SPREAD_COLUMNS, |l, errors| {
        l.non_negative("SpreadCost")
            .map_err(|d| errors.push(d))
            .ok()
    })
}

/// Parses `instrumentconfig.csv`.
pub fn parse_instruments(
    path_for_messages: &str,
    text: &str,
) -> Result<BTreeMap<InstrumentCode, Instrument>, Diagnostics> {
    parse_instrument_table(Source {
        path: path_for_messages,
        text,
    })
    .map(Parsed::into_map)
}

/// Parses `rollconfig.csv` on its own (no check against the instruments).
pub fn parse_roll_config(
    path_for_messages: &str,
    text: &str,
) -> Result<BTreeMap<InstrumentCode, RollParameters>, Diagnostics> {
    parse_roll_table(Source {
        path: path_for_messages,
        text,
    })
    .map(Parsed::into_map)
}

/// Parses `spreadcosts.csv` on its own (no check against the instruments).
pub fn parse_spread_costs(
    path_for_messages: &str,
    text: &str,
) -> Result<BTreeMap<InstrumentCode, f64>, Diagnostics> {
    parse_spread_table(Source {
        path: path_for_messages,
        text,
    })
    .map(Parsed::into_map)
}

/// Parses the three files and checks that every roll configuration and spread cost belongs to
/// a configured instrument. Returns the data and the warnings (dropped orphan rows under
/// [`Orphans::Warn`]); the errors of all three files otherwise.
pub fn parse_reference_data(
    sources: &ReferenceSources<'_>,
    orphans: Orphans,
) -> Result<(ReferenceData, Vec<Diagnostic>), Diagnostics> {
    let instruments = parse_instrument_table(sources.instruments);
    let roll = parse_roll_table(sources.roll_config);
    let spread = parse_spread_table(sources.spread_costs);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let (instruments, roll, spread) = match (instruments, roll, spread) {
        (Ok(i), Ok(r), Ok(s)) => (i.into_map(), r, s),
        (i, r, s) => {
            for result in [i.err(), r.err(), s.err()].into_iter().flatten() {
                errors.extend(result.0);
            }
            return Err(Diagnostics(errors));
        }
    };
    let mut check = |path: &str, rows: &BTreeMap<InstrumentCode, usize>| {
        let mut dropped = Vec::new();
        for (code, line) in rows {
            if instruments.contains_key(code) {
                continue;
            }
            let d = at(
                path,
                *line,
                Some(1),
                Some("Instrument"),
                format!(
                    "unknown instrument `{code}`: not in {}",
                    sources.instruments.path
                ),
            )
            .help_opt(did_you_mean(
                code.as_str(),
                instruments.keys().map(InstrumentCode::as_str),
            ));
            match orphans {
                Orphans::Error => errors.push(d),
                Orphans::Warn => {
                    warnings.push(Diagnostic {
                        message: format!("{}; row skipped", d.message),
                        ..d
                    });
                    dropped.push(code.clone());
                }
            }
        }
        dropped
    };
    let roll_lines: BTreeMap<InstrumentCode, usize> = roll
        .rows
        .iter()
        .map(|(k, (_, l))| (k.clone(), *l))
        .collect();
    let spread_lines: BTreeMap<InstrumentCode, usize> = spread
        .rows
        .iter()
        .map(|(k, (_, l))| (k.clone(), *l))
        .collect();
    let drop_roll = check(sources.roll_config.path, &roll_lines);
    let drop_spread = check(sources.spread_costs.path, &spread_lines);
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let mut roll_parameters = roll.into_map();
    let mut spread_costs = spread.into_map();
    for code in drop_roll {
        roll_parameters.remove(&code);
    }
    for code in drop_spread {
        spread_costs.remove(&code);
    }
    Ok((
        ReferenceData {
            instruments,
            roll_parameters,
            spread_costs,
        },
        warnings,
    ))
}

/// The shipped reference data, each file replaced by `<home_config_dir>/<name>` when that
/// exists. Every error of every file is returned.
pub fn load_reference_data(home_config_dir: &Path) -> Result<ReferenceData, Diagnostics> {
    let files = [
        (INSTRUMENT_CONFIG_FILE, SHIPPED_INSTRUMENT_CONFIG),
        (ROLL_CONFIG_FILE, SHIPPED_ROLL_CONFIG),
        (SPREAD_COSTS_FILE, SHIPPED_SPREAD_COSTS),
    ];
    let mut loaded: Vec<(String, String)> = Vec::new();
    let mut errors = Vec::new();
    for (name, shipped) in files {
        let path = home_config_dir.join(name);
        let shown = path.display().to_string();
        match std::fs::read(&path) {
            Ok(bytes) => match cells::check_utf8(&shown, &bytes) {
                Ok(text) => loaded.push((shown, text.to_string())),
                Err(d) => {
                    errors.push(d);
                    loaded.push((shown, String::new()));
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                loaded.push((format!("<shipped>/config/{name}"), shipped.to_string()))
            }
            Err(e) => {
                errors.push(Diagnostic::new(
                    shown.clone(),
                    format!("cannot read the file: {e}"),
                ));
                loaded.push((shown, String::new()));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let source = |i: usize| Source {
        path: &loaded[i].0,
        text: &loaded[i].1,
    };
    let sources = ReferenceSources {
        instruments: source(0),
        roll_config: source(1),
        spread_costs: source(2),
    };
    parse_reference_data(&sources, Orphans::Error).map(|(data, _)| data)
}

/// Why [`write_reference_data`] failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteReferenceError {
    /// The data would not load back (e.g. a point size of 0); nothing was written.
    #[error("reference data is invalid, nothing written:\n{0}")]
    Invalid(Diagnostics),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn fmt_f64(v: f64) -> String {
    // `{}` prints the shortest text that parses back to the same f64, never an exponent.
    format!("{v}")
}

fn to_csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    // Writing to memory cannot fail; an empty text would be caught by the re-parse check.
    write_csv(header, rows)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default()
}

fn write_csv(
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    Ok(w.into_inner().map_err(|e| e.into_error())?)
}

/// `instrumentconfig.csv` text, sorted by code.
pub fn instruments_to_csv(instruments: &BTreeMap<InstrumentCode, Instrument>) -> String {
    to_csv(
        &INSTRUMENT_COLUMNS,
        instruments.values().map(|i| {
            vec![
                i.code.to_string(),
                i.description.clone(),
                fmt_f64(i.point_size),
                i.currency.clone(),
                i.asset_class.clone(),
                fmt_f64(i.per_block),
                fmt_f64(i.percentage),
                fmt_f64(i.per_trade),
                i.region.clone(),
            ]
        }),
    )
}

/// `rollconfig.csv` text, sorted by code.
pub fn roll_config_to_csv(roll: &BTreeMap<InstrumentCode, RollParameters>) -> String {
    to_csv(
        &ROLL_COLUMNS,
        roll.values().map(|r| {
            vec![
                r.code.to_string(),
                r.hold_cycle.letters(),
                r.roll_offset_days.to_string(),
                r.carry_offset.to_string(),
                r.priced_cycle.letters(),
                r.expiry_offset.to_string(),
            ]
        }),
    )
}

/// `spreadcosts.csv` text, sorted by code.
pub fn spread_costs_to_csv(costs: &BTreeMap<InstrumentCode, f64>) -> String {
    to_csv(
        &SPREAD_COLUMNS,
        costs
            .iter()
            .map(|(code, cost)| vec![code.to_string(), fmt_f64(*cost)]),
    )
}

/// Writes the three files into `home_config_dir` (created if missing), each atomically (a
/// temporary file renamed over the old one). The texts are parsed back first and must give
/// exactly `data`, so nothing that would not load again is ever written.
pub fn write_reference_data(
    home_config_dir: &Path,
    data: &ReferenceData,
) -> Result<(), WriteReferenceError> {
    let texts = [
        (
            INSTRUMENT_CONFIG_FILE,
            instruments_to_csv(&data.instruments),
        ),
        (ROLL_CONFIG_FILE, roll_config_to_csv(&data.roll_parameters)),
        (SPREAD_COSTS_FILE, spread_costs_to_csv(&data.spread_costs)),
    ];
    let paths: Vec<String> = texts
        .iter()
        .map(|(name, _)| home_config_dir.join(name).display().to_string())
        .collect();
    let sources = ReferenceSources {
        instruments: Source {
            path: &paths[0],
            text: &texts[0].1,
        },
        roll_config: Source {
            path: &paths[1],
            text: &texts[1].1,
        },
        spread_costs: Source {
            path: &paths[2],
            text: &texts[2].1,
        },
    };
    let (back, _) =
        parse_reference_data(&sources, Orphans::Error).map_err(WriteReferenceError::Invalid)?;
    if &back != data {
        let mismatch = mismatch(data, &back);
        return Err(WriteReferenceError::Invalid(Diagnostics(vec![
            Diagnostic::new(home_config_dir.display().to_string(), mismatch),
        ])));
    }
    std::fs::create_dir_all(home_config_dir).map_err(|source| WriteReferenceError::Io {
        path: home_config_dir.to_path_buf(),
        source,
    })?;
    for (name, text) in &texts {
        write_atomically(&home_config_dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// Describes the first entry that would not survive a write and re-read.
fn mismatch(data: &ReferenceData, back: &ReferenceData) -> String {
    let first = data
        .instruments
        .iter()
        .find(|(k, v)| back.instruments.get(*k) != Some(*v))
        .map(|(k, _)| format!("instrument `{k}`"))
        .or_else(|| {
            data.roll_parameters
                .iter()
                .find(|(k, v)| back.roll_parameters.get(*k) != Some(*v))
                .map(|(k, _)| format!("roll parameters of `{k}`"))
        })
        .or_else(|| {
            data.spread_costs
                .iter()
                .find(|(k, v)| back.spread_costs.get(*k) != Some(*v))
                .map(|(k, _)| format!("spread cost of `{k}`"))
        })
        .unwrap_or_else(|| "an entry".to_string());
    format!("{first} would not read back as written (a key that differs from its entry's code, or surrounding spaces in a text field?)")
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteReferenceError> {
    // A user-editable file: the usual permissions, not a temporary file's 0600.
    crate::files::write_atomically(path, bytes, 0o644).map_err(|source| WriteReferenceError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests;
