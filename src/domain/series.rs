//! Columnar price series. Timestamps are microseconds since the Unix epoch, UTC in storage.
//! Data imported from pysystemtrade carries that system's naive timestamps (its daily close is
//! stamped 23:00, hourly bars on the collecting machine's clock); they are kept exactly as they
//! are, read as UTC, so that nothing shifts or collides across daylight-saving changes.

use chrono::{DateTime, NaiveDateTime};
use serde::Serialize;

use super::contract::ContractId;

/// Microseconds since 1970-01-01 00:00:00 UTC.
pub type Micros = i64;

const FORMATS: [&str; 3] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
];

/// Parses `YYYY-MM-DD HH:MM:SS` (optionally with fractional seconds, or a `T`), or a bare date
/// (which becomes the notional daily close, 23:00).
pub fn parse_timestamp(s: &str) -> Result<Micros, String> {
    let t = s.trim();
    for f in FORMATS {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(dt.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(23, 0, 0) {
            return Ok(dt.and_utc().timestamp_micros());
        }
    }
    Err(format!(
        "invalid timestamp `{s}`: expected YYYY-MM-DD HH:MM:SS"
    ))
}

/// `YYYY-MM-DD HH:MM:SS` (with microseconds only when there are any).
pub fn format_timestamp(t: Micros) -> String {
    match DateTime::from_timestamp_micros(t) {
        Some(dt) if t % 1_000_000 == 0 => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        None => format!("invalid-time({t})"),
    }
}

/// Where a series breaks the "strictly increasing timestamps" rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OrderError {
    #[error("duplicate timestamp {} at row {index}", format_timestamp(*.ts))]
    Duplicate { index: usize, ts: Micros },
    #[error("timestamp {} at row {index} is earlier than the row before", format_timestamp(*.ts))]
    Unsorted { index: usize, ts: Micros },
}

/// Checks that timestamps strictly increase.
pub fn check_order(ts: &[Micros]) -> Result<(), OrderError> {
    for i in 1..ts.len() {
        if ts[i] == ts[i - 1] {
            return Err(OrderError::Duplicate {
                index: i,
                ts: ts[i],
            });
        }
        if ts[i] < ts[i - 1] {
            return Err(OrderError::Unsorted {
                index: i,
                ts: ts[i],
            });
        }
    }
    Ok(())
}

/// One value per timestamp: adjusted prices, FX rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PriceSeries {
    pub ts: Vec<Micros>,
    pub value: Vec<f64>,
}

impl PriceSeries {
    pub fn len(&self) -> usize {
        self.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
    pub fn last_ts(&self) -> Option<Micros> {
        self.ts.last().copied()
    }

    /// The rows whose (timestamp, value) `keep` accepts, in order.
    pub fn select(&self, keep: impl Fn(Micros, f64) -> bool) -> Self {
        let mut out = Self::default();
        for (&t, &v) in self.ts.iter().zip(&self.value) {
            if keep(t, v) {
                out.ts.push(t);
                out.value.push(v);
            }
        }
        out
    }
}

/// Panama back-adjusted continuous prices of one instrument.
pub type AdjustedPrices = PriceSeries;
/// Daily spot FX: the USD value of one unit of a currency.
pub type FxPrices = PriceSeries;

/// Bars of one futures contract (daily, hourly, or both merged).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContractPrices {
    pub ts: Vec<Micros>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    /// The close (pysystemtrade's FINAL).
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl ContractPrices {
    pub fn len(&self) -> usize {
        self.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
    pub fn last_ts(&self) -> Option<Micros> {
        self.ts.last().copied()
    }

    /// The bars whose row index `keep` accepts, in order.
    pub fn select(&self, keep: impl Fn(usize) -> bool) -> Self {
        let mut out = Self::default();
        for i in (0..self.len()).filter(|i| keep(*i)) {
            out.ts.push(self.ts[i]);
            out.open.push(self.open[i]);
            out.high.push(self.high[i]);
            out.low.push(self.low[i]);
            out.close.push(self.close[i]);
            out.volume.push(self.volume[i]);
        }
        out
    }
}

/// Prices of the priced (held), forward (next held) and carry contracts of one instrument, with
/// the contract each came from, per timestamp.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MultiplePrices {
    pub ts: Vec<Micros>,
    pub price: Vec<f64>,
    pub forward: Vec<f64>,
    pub carry: Vec<f64>,
    pub price_contract: Vec<ContractId>,
    pub forward_contract: Vec<ContractId>,
    pub carry_contract: Vec<ContractId>,
}

impl MultiplePrices {
    pub fn len(&self) -> usize {
        self.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
    pub fn last_ts(&self) -> Option<Micros> {
        self.ts.last().copied()
    }

    /// All columns have the same length.
    pub fn is_consistent(&self) -> bool {
        let n = self.ts.len();
        [
            self.price.len(),
            self.forward.len(),
            self.carry.len(),
            self.price_contract.len(),
            self.forward_contract.len(),
            self.carry_contract.len(),
        ]
        .iter()
        .all(|l| *l == n)
    }
}

/// Historic roll dates of one instrument (pysystemtrade's roll calendar): each row is the last
/// moment `current` was the priced contract, with the forward (`next`) and carry contracts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RollCalendar {
    pub ts: Vec<Micros>,
    pub current: Vec<ContractId>,
    pub next: Vec<ContractId>,
    pub carry: Vec<ContractId>,
}

impl RollCalendar {
    pub fn len(&self) -> usize {
        self.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = parse_timestamp("2023-08-31 20:00:00").unwrap();
        assert_eq!(format_timestamp(t), "2023-08-31 20:00:00");
        assert_eq!(
            format_timestamp(parse_timestamp("1987-06-16").unwrap()),
            "1987-06-16 23:00:00"
        );
        assert_eq!(
            format_timestamp(parse_timestamp("2016-01-04 11:00:20.5").unwrap()),
            "2016-01-04 11:00:20.500000"
        );
        assert!(parse_timestamp("31/08/2023").is_err());
    }

    #[test]
    fn order_errors_name_the_row() {
        assert!(check_order(&[1, 2, 3]).is_ok());
        assert!(matches!(
            check_order(&[1, 2, 2]),
            Err(OrderError::Duplicate { index: 2, .. })
        ));
        assert!(matches!(
            check_order(&[1, 3, 2]),
            Err(OrderError::Unsorted { index: 2, .. })
        ));
    }
}
