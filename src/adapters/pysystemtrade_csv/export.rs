//! Writing the stored series back in pysystemtrade's CSV layout (`systrade export pysystemtrade
//! DIR`), so a user can always go back: `adjusted_prices_csv/CODE.csv`,
//! `multiple_prices_csv/CODE.csv`, `fx_prices_csv/CCYUSD.csv`, `roll_calendars_csv/CODE.csv`
//! with the headers [`FileKind::header`] gives (what [`super::import`] reads), the reference data
//! as `csvconfig/{instrumentconfig,rollconfig,spreadcosts}.csv`, and each contract's merged
//! bars (else its daily bars) as `contract_prices/CODE_YYYYMMDD.csv`
//! (`DATETIME,OPEN,HIGH,LOW,FINAL,VOLUME`: pysystemtrade's `csvFuturesContractPriceData`).
//!
//! Numbers are written in the shortest form that reads back as the same `f64` (so every value
//! survives a round trip exactly); a missing price (NaN) is an empty cell, as pandas writes it.
//! Each file is written whole through a temporary file and a rename.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::FileKind;
use crate::domain::contract::ContractId;
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::ports::{Frequency, PriceStore, PriceStoreError};
use crate::domain::series::{
    format_timestamp, ContractPrices, MultiplePrices, PriceSeries, RollCalendar,
};

/// The folder of the per-contract prices.
pub const CONTRACT_FOLDER: &str = "contract_prices";
/// Their header.
pub const CONTRACT_HEADER: &str = "DATETIME,OPEN,HIGH,LOW,FINAL,VOLUME";

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Store(#[from] PriceStoreError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Reference(String),
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    pub multiple: usize,
    pub adjusted: usize,
    pub fx: usize,
    pub roll_calendars: usize,
    pub contracts: usize,
    pub rows: usize,
}

impl ExportSummary {
    pub fn files(&self) -> usize {
        self.multiple + self.adjusted + self.fx + self.roll_calendars + self.contracts
    }
}

/// A cell: the shortest text that reads back as `v`, empty for NaN.
fn num(out: &mut String, v: f64) {
    if !v.is_nan() {
        let _ = write!(out, "{v}");
    }
}

fn csv(header: &[&str]) -> String {
    let mut s = header.join(",");
    s.push('\n');
    s
}

pub fn multiple_csv(m: &MultiplePrices) -> String {
    let mut s = csv(FileKind::MultiplePrices.header());
    s.reserve(m.len() * 72);
    for i in 0..m.len() {
        s.push_str(&format_timestamp(m.ts[i]));
        for (price, contract) in [
            (m.carry[i], m.carry_contract[i]),
            (m.price[i], m.price_contract[i]),
            (m.forward[i], m.forward_contract[i]),
        ] {
            s.push(',');
            num(&mut s, price);
            let _ = write!(s, ",{}", contract.as_number());
        }
        s.push('\n');
    }
    s
}

pub fn series_csv(kind: FileKind, p: &PriceSeries) -> String {
    let mut s = csv(kind.header());
    s.reserve(p.len() * 32);
    for (t, v) in p.ts.iter().zip(&p.value) {
        s.push_str(&format_timestamp(*t));
        s.push(',');
        num(&mut s, *v);
        s.push('\n');
    }
    s
}

pub fn roll_calendar_csv(r: &RollCalendar) -> String {
    let mut s = csv(FileKind::RollCalendar.header());
    for i in 0..r.len() {
        let _ = writeln!(
            s,
            "{},{},{},{}",
            format_timestamp(r.ts[i]),
            r.current[i].as_number(),
            r.next[i].as_number(),
            r.carry[i].as_number()
        );
    }
    s
}

pub fn contract_csv(c: &ContractPrices) -> String {
    let mut s = String::from(CONTRACT_HEADER);
    s.push('\n');
    s.reserve(c.len() * 64);
    for i in 0..c.len() {
        s.push_str(&format_timestamp(c.ts[i]));
        for v in [c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]] {
            s.push(',');
            num(&mut s, v);
        }
        s.push('\n');
    }
    s
}

/// `CODE_YYYYMMDD.csv`.
pub fn contract_file_name(code: &InstrumentCode, contract: ContractId) -> String {
    format!("{code}_{}.csv", contract.as_number())
}

fn write(dir: &Path, folder: &str, name: &str, text: &str) -> Result<(), ExportError> {
    let path = dir.join(folder).join(name);
    crate::files::write_atomically(&path, text.as_bytes(), 0o644)
        .map_err(|source| ExportError::Io { path, source })
}

/// Writes everything `store` holds, and `reference`, under `dir` (created; the caller checks it
/// is new or empty). `progress(done, total)` counts instruments and currencies.
pub fn export_all(
    store: &dyn PriceStore,
    reference: &ReferenceData,
    dir: &Path,
    progress: &dyn Fn(usize, usize),
) -> Result<ExportSummary, ExportError> {
    let folders = FileKind::ALL
        .iter()
        .map(|k| k.folder())
        .chain([CONTRACT_FOLDER, "csvconfig"]);
    for f in folders {
        let path = dir.join(f);
        std::fs::create_dir_all(&path).map_err(|source| ExportError::Io { path, source })?;
    }
    crate::adapters::reference_files::write_reference_data(&dir.join("csvconfig"), reference)
        .map_err(|e| ExportError::Reference(e.to_string()))?;
    let mut codes = store.instruments_with_multiple()?;
    codes.extend(store.instruments_with_adjusted()?);
    codes.extend(store.instruments_with_roll_calendar()?);
    codes.extend(store.instruments_with_contract_prices()?);
    codes.sort();
    codes.dedup();
    let currencies = store.fx_currencies()?;
    let total = codes.len() + currencies.len();
    let mut sum = ExportSummary::default();
    for (i, code) in codes.iter().enumerate() {
        let name = format!("{code}.csv");
        if let Some(m) = store.read_multiple(code)? {
            write(
                dir,
                FileKind::MultiplePrices.folder(),
                &name,
                &multiple_csv(&m),
            )?;
            sum.multiple += 1;
            sum.rows += m.len();
        }
        if let Some(a) = store.read_adjusted(code)? {
            let text = series_csv(FileKind::AdjustedPrices, &a);
            write(dir, FileKind::AdjustedPrices.folder(), &name, &text)?;
            sum.adjusted += 1;
            sum.rows += a.len();
        }
        if let Some(r) = store.read_roll_calendar(code)? {
            write(
                dir,
                FileKind::RollCalendar.folder(),
                &name,
                &roll_calendar_csv(&r),
            )?;
            sum.roll_calendars += 1;
            sum.rows += r.len();
        }
        let mut contracts = store.contracts_with_prices(code, Frequency::Merged)?;
        for c in store.contracts_with_prices(code, Frequency::Daily)? {
            if !contracts.contains(&c) {
                contracts.push(c);
            }
        }
        contracts.sort();
        for contract in contracts {
            let bars = match store.read_contract(code, contract, Frequency::Merged)? {
                Some(b) => Some(b),
                None => store.read_contract(code, contract, Frequency::Daily)?,
            };
            if let Some(b) = bars {
                let file = contract_file_name(code, contract);
                write(dir, CONTRACT_FOLDER, &file, &contract_csv(&b))?;
                sum.contracts += 1;
                sum.rows += b.len();
            }
        }
        progress(i + 1, total);
    }
    for (i, ccy) in currencies.iter().enumerate() {
        if let Some(f) = store.read_fx(ccy)? {
            let name = format!("{ccy}USD.csv");
            write(
                dir,
                FileKind::FxPrices.folder(),
                &name,
                &series_csv(FileKind::FxPrices, &f),
            )?;
            sum.fx += 1;
            sum.rows += f.len();
        }
        progress(codes.len() + i + 1, total);
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::series::parse_timestamp;

    fn t(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn every_value_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let values = [
            89.57000000000005,
            0.1 + 0.2,
            1e-10,
            123456789.0,
            2.6310000000000002,
            -0.0,
            f64::NAN,
        ];
        let series = PriceSeries {
            ts: (0..values.len() as i64)
                .map(|i| t("2020-01-01 23:00:00") + i * 86_400_000_000)
                .collect(),
            value: values.to_vec(),
        };
        let path = dir.path().join("X.csv");
        std::fs::write(&path, series_csv(FileKind::AdjustedPrices, &series)).unwrap();
        let back = super::super::read_adjusted_prices(&path).unwrap();
        assert_eq!(back.ts, series.ts);
        for (a, b) in back.value.iter().zip(&series.value) {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{a} {b}"
            );
        }
        let m = MultiplePrices {
            ts: vec![t("2020-01-01 23:00:00"), t("2020-01-02 12:34:56.5")],
            price: vec![1.5, f64::NAN],
            forward: vec![1.25, 1.0 / 3.0],
            carry: vec![f64::NAN, 7.0],
            price_contract: vec![ContractId::monthly(2020, 3); 2],
            forward_contract: vec![ContractId::monthly(2020, 6); 2],
            carry_contract: vec![ContractId::new(2020, 6, 15).unwrap(); 2],
        };
        std::fs::write(&path, multiple_csv(&m)).unwrap();
        let back = super::super::read_multiple_prices(&path).unwrap();
        assert_eq!(back.ts, m.ts);
        assert_eq!(back.carry_contract, m.carry_contract);
        assert_eq!(back.forward, m.forward);
        assert!(back.price[1].is_nan() && back.carry[0].is_nan());
    }
}
