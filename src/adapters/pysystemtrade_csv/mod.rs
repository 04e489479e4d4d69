//! Reading pysystemtrade's futures CSV files (the `data/futures/` layout of its repository):
//! multiple prices, Panama-adjusted prices, spot FX and roll calendars, into the domain's series
//! types; and ([`import`]) finding and validating a whole directory of them.
//!
//! # Rules
//! - One header line, exactly as pysystemtrade writes it (`DATETIME,price`, `DATETIME,PRICE`,
//!   `DATE_TIME,current_contract,...`). A UTF-8 byte order mark is ignored; blank lines are
//!   skipped.
//! - Timestamps `YYYY-MM-DD HH:MM:SS` (fractional seconds, a `T`, or a bare date — the 23:00
//!   notional close — are accepted too), kept as naive and stored as UTC; strictly ascending:
//!   a duplicate or a step back is an error naming both lines.
//! - Price cells: empty, `nan` or `NaN` (any case) mean "no price" (NaN); otherwise a finite
//!   decimal number. `inf` is rejected.
//! - Contract cells: `YYYYMMDD` (day `00` for monthly contracts), also as `20231200.0`. They
//!   are required: pysystemtrade forward-fills them, so an empty one means a damaged file.
//! - A file must have at least one data row: an empty file, or a header with no rows, is an
//!   error (for all four kinds, roll calendars included). An import of nothing is far more
//!   likely a truncated file than an intended empty series.
//!
//! Every reader fails with one [`Diagnostic`] naming the file, the 1-based line (the header is
//! line 1), the column and the column name where they apply: the first problem in the file.

// A `Diagnostic` is the error of every reader by design; errors are the cold path, so its size
// (128 bytes) does not matter.
#![allow(clippy::result_large_err)]

pub(crate) mod cells;
pub mod export;
pub mod import;
pub mod store;

use std::path::Path;

use csv::ByteRecord;

use crate::domain::contract::ContractId;
use crate::domain::series::{
    format_timestamp, AdjustedPrices, FxPrices, Micros, MultiplePrices, PriceSeries, RollCalendar,
};
use crate::engine::diagnostic::Diagnostic;

pub use import::{
    load_all, load_all_with_progress, scan, summary, ImportData, ImportPlan, ImportSummary,
    PysystemtradeDir, ReferencePaths,
};
pub use store::{series_count, store_all};

use cells::{at, field_column, line_of, parse_price, parse_ts, NumberError};

/// The four kinds of pysystemtrade series files, with their headers and folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    MultiplePrices,
    AdjustedPrices,
    FxPrices,
    RollCalendar,
}

impl FileKind {
    pub const ALL: [FileKind; 4] = [
        FileKind::MultiplePrices,
        FileKind::AdjustedPrices,
        FileKind::FxPrices,
        FileKind::RollCalendar,
    ];

    /// The header pysystemtrade writes.
    pub fn header(self) -> &'static [&'static str] {
        match self {
            FileKind::MultiplePrices => &[
                "DATETIME",
                "CARRY",
                "CARRY_CONTRACT",
                "PRICE",
                "PRICE_CONTRACT",
                "FORWARD",
                "FORWARD_CONTRACT",
            ],
            FileKind::AdjustedPrices => &["DATETIME", "price"],
            FileKind::FxPrices => &["DATETIME", "PRICE"],
            FileKind::RollCalendar => &[
                "DATE_TIME",
                "current_contract",
                "next_contract",
                "carry_contract",
            ],
        }
    }

    /// The folder of these files in pysystemtrade's `data/futures/`.
    pub fn folder(self) -> &'static str {
        match self {
            FileKind::MultiplePrices => "multiple_prices_csv",
            FileKind::AdjustedPrices => "adjusted_prices_csv",
            FileKind::FxPrices => "fx_prices_csv",
            FileKind::RollCalendar => "roll_calendars_csv",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            FileKind::MultiplePrices => "multiple prices",
            FileKind::AdjustedPrices => "adjusted prices",
            FileKind::FxPrices => "FX prices",
            FileKind::RollCalendar => "roll calendar",
        }
    }
}

// Column indices of multiple prices.
const M_CARRY: usize = 1;
const M_CARRY_CONTRACT: usize = 2;
const M_PRICE: usize = 3;
const M_PRICE_CONTRACT: usize = 4;
const M_FORWARD: usize = 5;
const M_FORWARD_CONTRACT: usize = 6;

/// Reads `multiple_prices_csv/CODE.csv`
/// (`DATETIME,CARRY,CARRY_CONTRACT,PRICE,PRICE_CONTRACT,FORWARD,FORWARD_CONTRACT`).
pub fn read_multiple_prices(path: &Path) -> Result<MultiplePrices, Diagnostic> {
    let bytes = read_file(path)?;
    let mut out = MultiplePrices::default();
    let cap = bytes.len() / 64;
    out.ts.reserve(cap);
    out.price.reserve(cap);
    out.forward.reserve(cap);
    out.carry.reserve(cap);
    out.price_contract.reserve(cap);
    out.forward_contract.reserve(cap);
    out.carry_contract.reserve(cap);
    for_each_row(&display(path), &bytes, FileKind::MultiplePrices, |row| {
        let carry = row.price(M_CARRY)?;
        let carry_contract = row.contract(M_CARRY_CONTRACT)?;
        let price = row.price(M_PRICE)?;
        let price_contract = row.contract(M_PRICE_CONTRACT)?;
        let forward = row.price(M_FORWARD)?;
        let forward_contract = row.contract(M_FORWARD_CONTRACT)?;
        out.ts.push(row.ts);
        out.price.push(price);
        out.forward.push(forward);
        out.carry.push(carry);
        out.price_contract.push(price_contract);
        out.forward_contract.push(forward_contract);
        out.carry_contract.push(carry_contract);
        Ok(())
    })?;
    Ok(out)
}

/// Reads `adjusted_prices_csv/CODE.csv` (`DATETIME,price`).
pub fn read_adjusted_prices(path: &Path) -> Result<AdjustedPrices, Diagnostic> {
    read_price_series(path, FileKind::AdjustedPrices)
}

/// Reads `fx_prices_csv/CCYUSD.csv` (`DATETIME,PRICE`): the USD value of one unit of `CCY`.
pub fn read_fx_prices(path: &Path) -> Result<FxPrices, Diagnostic> {
    read_price_series(path, FileKind::FxPrices)
}

fn read_price_series(path: &Path, kind: FileKind) -> Result<PriceSeries, Diagnostic> {
    let bytes = read_file(path)?;
    let mut out = PriceSeries::default();
    let cap = bytes.len() / 28;
    out.ts.reserve(cap);
    out.value.reserve(cap);
    for_each_row(&display(path), &bytes, kind, |row| {
        let v = row.price(1)?;
        out.ts.push(row.ts);
        out.value.push(v);
        Ok(())
    })?;
    Ok(out)
}

/// Reads `roll_calendars_csv/CODE.csv` (`DATE_TIME,current_contract,next_contract,carry_contract`).
pub fn read_roll_calendar(path: &Path) -> Result<RollCalendar, Diagnostic> {
    let bytes = read_file(path)?;
    let mut out = RollCalendar::default();
    for_each_row(&display(path), &bytes, FileKind::RollCalendar, |row| {
        let current = row.contract(1)?;
        let next = row.contract(2)?;
        let carry = row.contract(3)?;
        out.ts.push(row.ts);
        out.current.push(current);
        out.next.push(next);
        out.carry.push(carry);
        Ok(())
    })?;
    Ok(out)
}

pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}

fn read_file(path: &Path) -> Result<Vec<u8>, Diagnostic> {
    std::fs::read(path)
        .map_err(|e| Diagnostic::new(display(path), format!("cannot read the file: {e}")))
}

/// One data row being parsed: its line, its parsed timestamp, and typed access to its cells.
struct Row<'a> {
    file: &'a str,
    buf: &'a [u8],
    header: &'static [&'static str],
    record: &'a ByteRecord,
    /// Byte offset of the row in `buf`.
    start: usize,
    ts: Micros,
}

impl Row<'_> {
    fn error(&self, index: usize, message: impl Into<String>) -> Diagnostic {
        at(
            self.file,
            line_of(self.buf, self.start),
            Some(field_column(self.buf, self.start, index)),
            self.header.get(index).copied(),
            message,
        )
    }

    fn str(&self, index: usize) -> Result<&str, Diagnostic> {
        let cell = self.record.get(index).unwrap_or(b"");
        std::str::from_utf8(cell).map_err(|_| self.error(index, "not valid UTF-8"))
    }

    fn price(&self, index: usize) -> Result<f64, Diagnostic> {
        let s = self.str(index)?;
        parse_price(s).map_err(|e| {
            let what = match e {
                NumberError::NotANumber => "is not a number",
                NumberError::Infinite => "is infinite",
            };
            self.error(index, format!("price `{}` {what}", s.trim()))
                .help(
                    "prices are decimal numbers; leave the cell empty (or write NaN) for no price",
                )
        })
    }

    fn contract(&self, index: usize) -> Result<ContractId, Diagnostic> {
        let s = self.str(index)?;
        if s.trim().is_empty() {
            return Err(self
                .error(index, "missing contract id")
                .help("contract columns are always filled in pysystemtrade files (YYYYMMDD, day 00 for monthly contracts)"));
        }
        ContractId::parse(s).map_err(|e| self.error(index, e))
    }
}

fn header_text(cells: &[&str]) -> String {
    cells.join(",")
}

/// Runs the checks every series file shares — UTF-8, header, cell count, timestamp, strict
/// order, at least one row — and calls `f` for each data row to parse the other cells.
fn for_each_row(
    file: &str,
    bytes: &[u8],
    kind: FileKind,
    mut f: impl FnMut(&Row<'_>) -> Result<(), Diagnostic>,
) -> Result<usize, Diagnostic> {
    let buf = cells::strip_bom(bytes);
    cells::check_utf8(file, buf)?;
    let header = kind.header();
    let expected = header_text(header);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(buf);
    let mut record = ByteRecord::new();

    let csv_error = |e: csv::Error| {
        let mut d = Diagnostic::new(file, format!("unreadable CSV: {e}"));
        if let Some(p) = e.position() {
            d.line = Some(line_of(buf, p.byte() as usize));
        }
        d
    };

    // The header.
    if !reader.read_byte_record(&mut record).map_err(csv_error)? {
        return Err(at(
            file,
            1,
            None,
            None,
            format!("empty file: expected the header `{expected}`"),
        )
        .help(format!(
            "a pysystemtrade {} file starts with `{expected}`",
            kind.describe()
        )));
    }
    let found: Vec<String> = record
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_string())
        .collect();
    let header_line = line_of(buf, cells::record_start(buf, record.position()));
    if found.len() != header.len() || found.iter().zip(header).any(|(a, b)| a != b) {
        let found_text = found.join(",");
        let mut d = at(
            file,
            header_line,
            Some(1),
            None,
            format!(
                "unexpected header for {} file: expected `{expected}`, found `{found_text}`",
                kind.describe()
            ),
        );
        if let Some(other) = FileKind::ALL
            .into_iter()
            .find(|k| *k != kind && header_text(k.header()) == found_text)
        {
            d = d.help(format!(
                "this looks like a {} file, which belongs in `{}/`",
                other.describe(),
                other.folder()
            ));
        }
        return Err(d);
    }

    let mut rows = 0usize;
    // The previous row's timestamp and byte offset.
    let mut previous: Option<(Micros, usize)> = None;
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let start = cells::record_start(buf, record.position());
        if record.len() != header.len() {
            let mut d = at(
                file,
                line_of(buf, start),
                Some(1),
                None,
                format!(
                    "expected {} cells ({expected}), found {}",
                    header.len(),
                    record.len()
                ),
            );
            if record.len() == 1 && record.get(0).is_some_and(|c| c.contains(&b';')) {
                d = d.help("cells must be separated by commas, not semicolons");
            }
            return Err(d);
        }
        let mut row = Row {
            file,
            buf,
            header,
            record: &record,
            start,
            ts: 0,
        };
        let ts_text = row.str(0)?;
        row.ts = parse_ts(ts_text).map_err(|e| {
            row.error(0, e)
                .help("pysystemtrade timestamps look like `2023-08-31 23:00:00`")
        })?;
        if let Some((prev, prev_start)) = previous {
            // Only computed for an error: counting lines is linear in the offset.
            let prev_line = || line_of(buf, prev_start);
            if row.ts == prev {
                return Err(row.error(
                    0,
                    format!(
                        "duplicate timestamp {} (also on line {})",
                        format_timestamp(row.ts),
                        prev_line()
                    ),
                ));
            }
            if row.ts < prev {
                return Err(row
                    .error(
                        0,
                        format!(
                            "timestamp {} is earlier than {} on line {}",
                            format_timestamp(row.ts),
                            format_timestamp(prev),
                            prev_line()
                        ),
                    )
                    .help("rows must be in ascending time order"));
            }
        }
        f(&row)?;
        previous = Some((row.ts, start));
        rows += 1;
    }
    if rows == 0 {
        return Err(at(
            file,
            header_line,
            None,
            None,
            format!("no data rows: the file has only the header `{expected}`"),
        )
        .help("an empty series cannot be imported; remove the file or restore its rows"));
    }
    Ok(rows)
}

/// Where the shared pysystemtrade data set is for tests: `SYSTRADE_TEST_DATA`, else
/// `../shared/data/pysystemtrade` next to the crate. `None` (with a message) when absent, unless
/// `CI=true`, where a missing data set fails the test.
#[cfg(test)]
pub(crate) fn test_data_dir() -> Option<std::path::PathBuf> {
    crate::test_support::shared_data_dir()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const MULTI: &str =
        "DATETIME,CARRY,CARRY_CONTRACT,PRICE,PRICE_CONTRACT,FORWARD,FORWARD_CONTRACT\n";

    fn file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(content).unwrap();
        f.flush().unwrap();
        f
    }

    fn multiple_err(content: &str) -> Diagnostic {
        let f = file(content.as_bytes());
        let d = read_multiple_prices(f.path()).unwrap_err();
        assert_eq!(d.file, f.path().display().to_string());
        d
    }

    #[test]
    fn reads_multiple_prices_with_empty_cells_and_nan() {
        let f = file(
            format!(
                "{MULTI}1987-06-16 23:00:00,0.6972,19871200,0.7092,19870900,,19871200\n\
                 1987-06-17 23:00:00,nan,19871200.0,NaN,19870900,0.7042,19871200\n"
            )
            .as_bytes(),
        );
        let m = read_multiple_prices(f.path()).unwrap();
        assert!(m.is_consistent());
        assert_eq!(m.len(), 2);
        assert_eq!(format_timestamp(m.ts[0]), "1987-06-16 23:00:00");
        assert_eq!(m.price[0], 0.7092);
        assert!(m.forward[0].is_nan());
        assert!(m.carry[1].is_nan() && m.price[1].is_nan());
        assert_eq!(m.forward[1], 0.7042);
        assert_eq!(m.carry_contract[1].to_string(), "19871200");
        assert_eq!(m.price_contract[0].to_string(), "19870900");
    }

    #[test]
    fn empty_file_is_an_error() {
        let d = multiple_err("");
        assert_eq!(d.line, Some(1));
        assert!(d.message.starts_with("empty file"), "{d}");
    }

    #[test]
    fn header_only_is_an_error() {
        let f = file(b"DATETIME,price\n");
        let d = read_adjusted_prices(f.path()).unwrap_err();
        assert_eq!(d.line, Some(1));
        assert!(d.message.starts_with("no data rows"), "{d}");
        let f = file(b"DATE_TIME,current_contract,next_contract,carry_contract\n");
        assert!(read_roll_calendar(f.path())
            .unwrap_err()
            .message
            .starts_with("no data rows"));
    }

    #[test]
    fn wrong_header_says_expected_and_found() {
        let f = file(b"DATETIME,PRICE\n2023-01-02 23:00:00,1.0\n");
        let d = read_adjusted_prices(f.path()).unwrap_err();
        assert_eq!(d.line, Some(1));
        assert!(
            d.message
                .contains("expected `DATETIME,price`, found `DATETIME,PRICE`"),
            "{d}"
        );
        assert!(d.help.as_deref().unwrap().contains("fx_prices_csv"), "{d}");
    }

    #[test]
    fn wrong_cell_count_names_the_line() {
        let d = multiple_err(&format!(
            "{MULTI}2023-01-02 23:00:00,1,20230300,2,20230600,3,20230300\n\
             2023-01-03 23:00:00,1,20230300,2,20230600,3\n"
        ));
        assert_eq!(d.line, Some(3));
        assert!(d.message.contains("expected 7 cells"), "{d}");
        assert!(d.message.contains("found 6"), "{d}");
    }

    #[test]
    fn non_numeric_price_names_line_column_and_key() {
        let d = multiple_err(&format!(
            "{MULTI}2023-01-02 23:00:00,1,20230300,2,20230600,3,20230300\n\
             2023-01-03 23:00:00,1,20230300,abc,20230600,3,20230300\n"
        ));
        assert_eq!(d.line, Some(3));
        assert_eq!(d.key.as_deref(), Some("PRICE"));
        assert_eq!(d.column, Some(32));
        assert!(d.message.contains("price `abc` is not a number"), "{d}");
        let shown = d.to_string();
        assert!(shown.contains(":3:32: `PRICE`: price `abc`"), "{shown}");
    }

    #[test]
    fn infinite_price_is_an_error() {
        let f = file(b"DATETIME,PRICE\n2023-01-02 23:00:00,inf\n");
        let d = read_fx_prices(f.path()).unwrap_err();
        assert_eq!(d.line, Some(2));
        assert!(d.message.contains("is infinite"), "{d}");
    }

    #[test]
    fn bad_contract_id_names_the_line() {
        let d = multiple_err(&format!(
            "{MULTI}2023-01-02 23:00:00,1,20230300,2,2023060,3,20230300\n"
        ));
        assert_eq!(d.line, Some(2));
        assert_eq!(d.key.as_deref(), Some("PRICE_CONTRACT"));
        assert!(d.message.contains("invalid contract id `2023060`"), "{d}");
    }

    #[test]
    fn empty_contract_id_is_an_error() {
        let d = multiple_err(&format!(
            "{MULTI}2023-01-02 23:00:00,1,20230300,2,20230600,3,20230300\n\
             2023-01-03 23:00:00,1,,2,20230600,3,20230300\n"
        ));
        assert_eq!(d.line, Some(3));
        assert_eq!(d.key.as_deref(), Some("CARRY_CONTRACT"));
        assert_eq!(d.message, "missing contract id");
    }

    #[test]
    fn bad_timestamp_names_the_line() {
        let f = file(b"DATETIME,price\n2023-01-02 23:00:00,1\n02/01/2023,2\n");
        let d = read_adjusted_prices(f.path()).unwrap_err();
        assert_eq!(d.line, Some(3));
        assert_eq!(d.column, Some(1));
        assert_eq!(d.key.as_deref(), Some("DATETIME"));
        assert!(d.message.contains("invalid timestamp `02/01/2023`"), "{d}");
    }

    #[test]
    fn duplicate_timestamp_names_both_lines() {
        let f = file(
            b"DATETIME,PRICE\n2023-01-02 23:00:00,1\n2023-01-03 23:00:00,2\n2023-01-03 23:00:00,3\n",
        );
        let d = read_fx_prices(f.path()).unwrap_err();
        assert_eq!(d.line, Some(4));
        assert_eq!(
            d.message,
            "duplicate timestamp 2023-01-03 23:00:00 (also on line 3)"
        );
    }

    #[test]
    fn unsorted_timestamps_name_both_lines() {
        let f = file(
            b"DATE_TIME,current_contract,next_contract,carry_contract\n\
              2020-03-13 23:00:00,20200300,20200600,20200600\n\
              2019-12-13 23:00:00,20191200,20200300,20200300\n",
        );
        let d = read_roll_calendar(f.path()).unwrap_err();
        assert_eq!(d.line, Some(3));
        assert!(
            d.message
                .contains("earlier than 2020-03-13 23:00:00 on line 2"),
            "{d}"
        );
    }

    #[test]
    fn non_utf8_names_the_line() {
        let f = file(b"DATETIME,price\n2023-01-02 23:00:00,1\n2023-01-03 23:00:00,\xE92\n");
        let d = read_adjusted_prices(f.path()).unwrap_err();
        assert_eq!(d.line, Some(3));
        assert_eq!(d.column, Some(21));
        assert!(d.message.contains("not valid UTF-8"), "{d}");
    }

    #[test]
    fn missing_file_is_a_diagnostic() {
        let d = read_fx_prices(Path::new("/nonexistent/EURUSD.csv")).unwrap_err();
        assert!(d.message.contains("cannot read"), "{d}");
    }

    #[test]
    fn bom_and_blank_lines_are_tolerated() {
        let f =
            file(b"\xEF\xBB\xBFDATETIME,PRICE\n2023-01-02 23:00:00,1\n\n2023-01-03 23:00:00,2\n");
        let s = read_fx_prices(f.path()).unwrap();
        assert_eq!(s.value, vec![1.0, 2.0]);
        // Lines still count the blank one.
        let f = file(b"DATETIME,PRICE\n2023-01-02 23:00:00,1\n\n2023-01-03 23:00:00,x\n");
        assert_eq!(read_fx_prices(f.path()).unwrap_err().line, Some(4));
    }

    #[test]
    #[cfg_attr(
        not(shared_data),
        ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
    )]
    fn real_files_match_the_readme() {
        let Some(dir) = test_data_dir() else { return };
        let ts = |s: &str| crate::domain::series::parse_timestamp(s).unwrap();

        let aud = read_multiple_prices(&dir.join("multiple_prices_csv/AUD.csv")).unwrap();
        assert!(aud.is_consistent());
        assert_eq!(aud.len(), 50_920);
        assert_eq!(aud.ts[0], ts("1987-06-16 23:00:00"));
        assert_eq!(aud.last_ts(), Some(ts("2023-08-31 20:00:00")));
        let rolls = aud
            .price_contract
            .windows(2)
            .filter(|w| w[0] != w[1])
            .count();
        assert_eq!(rolls, 144);

        let adj = read_adjusted_prices(&dir.join("adjusted_prices_csv/AUD.csv")).unwrap();
        assert_eq!(adj.len(), 50_917);
        assert_eq!(adj.value.last().copied(), Some(0.64795));
        let cal = read_roll_calendar(&dir.join("roll_calendars_csv/AUD.csv")).unwrap();
        assert_eq!(cal.len(), 134);
        assert_eq!(cal.ts[0], ts("1987-09-15 23:00:00"));
        assert_eq!(cal.ts[133], ts("2020-11-23 23:00:00"));

        let sp = read_multiple_prices(&dir.join("multiple_prices_csv/SP500.csv")).unwrap();
        assert_eq!(sp.len(), 34_600);
        assert_eq!(sp.ts[0], ts("1982-09-14 23:00:00"));
        assert_eq!(sp.last_ts(), Some(ts("2023-08-31 20:00:00")));
        let adj = read_adjusted_prices(&dir.join("adjusted_prices_csv/SP500.csv")).unwrap();
        assert_eq!(adj.len(), 34_592);
        assert_eq!(adj.last_ts(), Some(ts("2023-08-30 23:00:00")));
        let cal = read_roll_calendar(&dir.join("roll_calendars_csv/SP500.csv")).unwrap();
        assert_eq!(cal.len(), 160);
        assert_eq!(cal.ts[159], ts("2022-05-03 19:00:00"));

        let v2x = read_multiple_prices(&dir.join("multiple_prices_csv/V2X.csv")).unwrap();
        assert_eq!(v2x.len(), 46_187);
        assert_eq!(v2x.ts[0], ts("2013-01-02 08:00:00"));
        assert_eq!(v2x.last_ts(), Some(ts("2023-08-31 16:00:00")));
        let closes = v2x
            .ts
            .iter()
            .filter(|t| (*t).rem_euclid(86_400_000_000) == 23 * 3_600_000_000)
            .count();
        assert_eq!(closes, 2_163);
        // CarryOffset -1: the carry contract is the nearer month.
        assert!(v2x.carry_contract[0] < v2x.price_contract[0]);
        let adj = read_adjusted_prices(&dir.join("adjusted_prices_csv/V2X.csv")).unwrap();
        assert_eq!(adj.len(), 46_167);
        let cal = read_roll_calendar(&dir.join("roll_calendars_csv/V2X.csv")).unwrap();
        assert_eq!(cal.len(), 114);

        let gbp = read_fx_prices(&dir.join("fx_prices_csv/GBPUSD.csv")).unwrap();
        assert_eq!(gbp.ts[0], ts("1971-01-04 00:00:00"));
        assert_eq!(gbp.value[0], 2.3938);
    }
}
