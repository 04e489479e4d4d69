//! Instruments and their static reference data: contract terms and costs (pysystemtrade's
//! `instrumentconfig.csv`), roll parameters (`rollconfig.csv`) and spread costs
//! (`spreadcosts.csv`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An instrument's code, e.g. `SP500`, `US10`, `CRUDE_W`, `AEX_mini`: ASCII letters, digits,
/// `_` and `-`. Codes are case-sensitive, as in pysystemtrade.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstrumentCode(String);

impl InstrumentCode {
    pub fn new(code: &str) -> Result<Self, String> {
        let ok = !code.is_empty()
            && code.len() <= 64
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(Self(code.to_string()))
        } else {
            Err(format!(
                "invalid instrument code `{code}`: use upper-case letters, digits, `_` or `-`"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InstrumentCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::new(&s)
    }
}

impl From<InstrumentCode> for String {
    fn from(c: InstrumentCode) -> String {
        c.0
    }
}

impl fmt::Display for InstrumentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Contract terms and costs of one instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instrument {
    pub code: InstrumentCode,
    pub description: String,
    /// Value of a 1.0 price move for one contract, in `currency`.
    pub point_size: f64,
    /// ISO code of the price and P&L currency.
    pub currency: String,
    pub asset_class: String,
    /// Commission per contract, in `currency`.
    pub per_block: f64,
    /// Commission as a fraction of notional.
    pub percentage: f64,
    /// Flat commission per order, in `currency`.
    pub per_trade: f64,
    /// `ASIA`, `EMEA` or `US`.
    pub region: String,
}

/// Futures month letters, F (January) to Z (December).
pub const MONTH_LETTERS: [char; 12] = ['F', 'G', 'H', 'J', 'K', 'M', 'N', 'Q', 'U', 'V', 'X', 'Z'];

/// A roll cycle: the months (1–12, ascending, unique) in which contracts exist or are held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RollCycle(Vec<u32>);

impl RollCycle {
    /// Parses month letters such as `HMUZ`.
    pub fn parse(letters: &str) -> Result<Self, String> {
        let mut months = Vec::new();
        for c in letters.trim().chars() {
            match MONTH_LETTERS.iter().position(|m| *m == c.to_ascii_uppercase()) {
                Some(i) => months.push(i as u32 + 1),
                None => return Err(format!("invalid roll cycle `{letters}`: `{c}` is not a futures month letter (FGHJKMNQUVXZ)")),
            }
        }
        months.sort_unstable();
        months.dedup();
        if months.is_empty() {
            return Err("empty roll cycle: give month letters such as `HMUZ`".into());
        }
        Ok(Self(months))
    }

    pub fn months(&self) -> &[u32] {
        &self.0
    }

    pub fn contains(&self, month: u32) -> bool {
        self.0.contains(&month)
    }

    pub fn letters(&self) -> String {
        self.0
            .iter()
            .map(|m| MONTH_LETTERS[(*m - 1) as usize])
            .collect()
    }
}

impl TryFrom<String> for RollCycle {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<RollCycle> for String {
    fn from(c: RollCycle) -> String {
        c.letters()
    }
}

/// How an instrument rolls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollParameters {
    pub code: InstrumentCode,
    /// Months of the contracts actually held.
    pub hold_cycle: RollCycle,
    /// Days relative to expiry at which we normally roll (negative: before expiry).
    pub roll_offset_days: i32,
    /// +1: carry is the next priced contract after the held one; -1: the previous one.
    pub carry_offset: i32,
    /// Months of all contracts that are priced and sampled.
    pub priced_cycle: RollCycle,
    /// Approximate expiry = 1st of the contract month + this many days.
    pub expiry_offset: i32,
}

/// All reference data, by instrument.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceData {
    pub instruments: BTreeMap<InstrumentCode, Instrument>,
    pub roll_parameters: BTreeMap<InstrumentCode, RollParameters>,
    /// Expected slippage per contract per trade, in price units (half the typical spread).
    pub spread_costs: BTreeMap<InstrumentCode, f64>,
}

impl ReferenceData {
    pub fn instrument(&self, code: &InstrumentCode) -> Option<&Instrument> {
        self.instruments.get(code)
    }

    pub fn roll_parameters(&self, code: &InstrumentCode) -> Option<&RollParameters> {
        self.roll_parameters.get(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_validated() {
        assert!(InstrumentCode::new("CRUDE_W").is_ok());
        assert!(InstrumentCode::new("AEX_mini").is_ok());
        assert!(InstrumentCode::new("SP 500").is_err());
        assert!(InstrumentCode::new("").is_err());
    }

    #[test]
    fn roll_cycles_parse_letters() {
        let c = RollCycle::parse("ZHUM").unwrap();
        assert_eq!(c.months(), &[3, 6, 9, 12]);
        assert_eq!(c.letters(), "HMUZ");
        assert!(RollCycle::parse("HMA").unwrap_err().contains("`A`"));
        assert!(RollCycle::parse("").is_err());
    }
}
