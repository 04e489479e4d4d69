//! Conversion between the domain's columnar series and polars frames, and the schema checks
//! on both sides: writes refuse ragged or unordered series, reads refuse missing columns, wrong
//! types, nulls where none may be, invalid contract ids and unordered timestamps.

use std::path::{Path, PathBuf};

use polars::prelude::{Column, DataFrame, DataType};

use crate::domain::contract::ContractId;
use crate::domain::ports::PriceStoreError;
use crate::domain::series::{check_order, Micros};

/// Name of the timestamp column (Int64, microseconds since the epoch, UTC).
pub(super) const TS: &str = "ts";

/// Builds a frame for writing, after checking that every column has `ts`'s length and that
/// timestamps strictly increase.
pub(super) struct FrameBuilder<'a> {
    path: &'a Path,
    ts: &'a [Micros],
    columns: Vec<Column>,
    problem: Option<String>,
}

impl<'a> FrameBuilder<'a> {
    pub(super) fn new(path: &'a Path, ts: &'a [Micros]) -> Self {
        Self {
            path,
            ts,
            columns: vec![Column::new(TS.into(), ts)],
            problem: None,
        }
    }

    fn check_len(&mut self, name: &str, len: usize) {
        if self.problem.is_none() && len != self.ts.len() {
            self.problem = Some(format!(
                "column `{name}` has {len} values but there are {} timestamps",
                self.ts.len()
            ));
        }
    }

    pub(super) fn f64(mut self, name: &str, values: &[f64]) -> Self {
        self.check_len(name, values.len());
        self.columns.push(Column::new(name.into(), values));
        self
    }

    pub(super) fn contracts(mut self, name: &str, values: &[ContractId]) -> Self {
        self.check_len(name, values.len());
        let numbers: Vec<u32> = values.iter().map(|c| c.as_number()).collect();
        self.columns.push(Column::new(name.into(), numbers));
        self
    }

    pub(super) fn build(self) -> Result<DataFrame, PriceStoreError> {
        let fail = |detail: String| PriceStoreError::Write {
            path: self.path.to_path_buf(),
            detail,
        };
        if let Some(p) = self.problem {
            return Err(fail(p));
        }
        check_order(self.ts)
            .map_err(|e| fail(format!("timestamps must strictly increase: {e}")))?;
        DataFrame::new(self.ts.len(), self.columns).map_err(|e| fail(e.to_string()))
    }
}

/// A frame read from `path`, with typed column accessors.
pub(super) struct Frame<'a> {
    path: &'a Path,
    df: DataFrame,
}

impl<'a> Frame<'a> {
    pub(super) fn new(path: &'a Path, df: DataFrame) -> Self {
        Self { path, df }
    }

    fn corrupt(&self, detail: String) -> PriceStoreError {
        PriceStoreError::Corrupt {
            path: PathBuf::from(self.path),
            detail,
        }
    }

    fn column(&self, name: &str) -> Result<&Column, PriceStoreError> {
        self.df.column(name).map_err(|_| {
            let found: Vec<String> = self
                .df
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect();
            self.corrupt(format!("no column `{name}` (found: {})", found.join(", ")))
        })
    }

    fn wrong_type(&self, name: &str, dtype: &DataType, expected: &str) -> PriceStoreError {
        self.corrupt(format!("column `{name}` is {dtype}, expected {expected}"))
    }

    /// The `ts` column: Int64 microseconds, no nulls, strictly increasing.
    pub(super) fn ts(&self) -> Result<Vec<Micros>, PriceStoreError> {
        let col = self.column(TS)?;
        if col.dtype() != &DataType::Int64 {
            return Err(self.wrong_type(TS, col.dtype(), "Int64 (microseconds)"));
        }
        let ca = col.i64().map_err(|e| self.corrupt(e.to_string()))?;
        if ca.null_count() > 0 {
            return Err(self.corrupt(format!("column `{TS}` has missing values")));
        }
        let mut out = Vec::with_capacity(ca.len());
        for arr in ca.downcast_iter() {
            out.extend_from_slice(arr.values());
        }
        check_order(&out).map_err(|e| self.corrupt(format!("timestamps out of order: {e}")))?;
        Ok(out)
    }

    /// A float column; nulls read as NaN.
    pub(super) fn f64(&self, name: &str) -> Result<Vec<f64>, PriceStoreError> {
        let col = self.column(name)?;
        let cast;
        let col = match col.dtype() {
            DataType::Float64 => col,
            d if d.is_float() || d.is_integer() => {
                cast = col
                    .cast(&DataType::Float64)
                    .map_err(|e| self.corrupt(e.to_string()))?;
                &cast
            }
            d => return Err(self.wrong_type(name, d, "Float64")),
        };
        let ca = col.f64().map_err(|e| self.corrupt(e.to_string()))?;
        let mut out = Vec::with_capacity(ca.len());
        if ca.null_count() == 0 {
            for arr in ca.downcast_iter() {
                out.extend_from_slice(arr.values());
            }
        } else {
            out.extend(ca.iter().map(|v| v.unwrap_or(f64::NAN)));
        }
        Ok(out)
    }

    /// A contract id column: unsigned `YYYYMMDD` numbers, no nulls, each a valid id.
    pub(super) fn contracts(&self, name: &str) -> Result<Vec<ContractId>, PriceStoreError> {
        let col = self.column(name)?;
        let cast;
        let col = match col.dtype() {
            DataType::UInt32 => col,
            d if d.is_integer() => {
                cast = col
                    .cast(&DataType::UInt32)
                    .map_err(|e| self.corrupt(e.to_string()))?;
                &cast
            }
            d => return Err(self.wrong_type(name, d, "UInt32 (YYYYMMDD)")),
        };
        let ca = col.u32().map_err(|e| self.corrupt(e.to_string()))?;
        if ca.null_count() > 0 {
            return Err(self.corrupt(format!(
                "column `{name}` has missing or out-of-range contract ids"
            )));
        }
        let mut out = Vec::with_capacity(ca.len());
        // Consecutive rows nearly always name the same contract: validate each distinct run once.
        let mut last: Option<(u32, ContractId)> = None;
        for arr in ca.downcast_iter() {
            for &n in arr.values().iter() {
                let id = match last {
                    Some((m, id)) if m == n => id,
                    _ => {
                        let id = ContractId::from_number(n)
                            .map_err(|e| self.corrupt(format!("column `{name}`: {e}")))?;
                        last = Some((n, id));
                        id
                    }
                };
                out.push(id);
            }
        }
        Ok(out)
    }
}
