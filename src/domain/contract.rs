//! Futures contracts: `YYYYMMDD` contract ids (day `00` for monthly contracts), approximate
//! expiries, and navigation along a roll cycle.

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::instrument::RollCycle;

/// A contract id such as `20231200` (December 2023) or `20230915` (a dated contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContractId(u32);

impl ContractId {
    pub fn new(year: i32, month: u32, day: u32) -> Result<Self, String> {
        if !(1900..=2200).contains(&year) || !(1..=12).contains(&month) || day > 31 {
            return Err(format!(
                "invalid contract date {year:04}-{month:02}-{day:02}"
            ));
        }
        Ok(Self(year as u32 * 10_000 + month * 100 + day))
    }

    /// Parses `YYYYMMDD` (8 digits; day may be `00`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let t = t.strip_suffix(".0").unwrap_or(t);
        if t.len() != 8 || !t.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("invalid contract id `{s}`: expected 8 digits YYYYMMDD (day 00 for monthly contracts)"));
        }
        let n: u32 = t
            .parse()
            .map_err(|_| format!("invalid contract id `{s}`"))?;
        Self::new((n / 10_000) as i32, (n / 100) % 100, n % 100)
            .map_err(|e| format!("invalid contract id `{s}`: {e}"))
    }

    pub fn from_number(n: u32) -> Result<Self, String> {
        Self::parse(&format!("{n:08}"))
    }

    pub fn as_number(self) -> u32 {
        self.0
    }

    pub fn year(self) -> i32 {
        (self.0 / 10_000) as i32
    }

    pub fn month(self) -> u32 {
        (self.0 / 100) % 100
    }

    pub fn day(self) -> u32 {
        self.0 % 100
    }

    /// Monthly contract of a year and month (day `00`).
    pub fn monthly(year: i32, month: u32) -> Self {
        Self(year as u32 * 10_000 + month * 100)
    }

    /// Approximate expiry: the 1st of the contract month plus `expiry_offset` days
    /// (pysystemtrade's rule until the broker supplies the exact date).
    pub fn approx_expiry(self, expiry_offset: i32) -> NaiveDate {
        let first = NaiveDate::from_ymd_opt(self.year(), self.month(), 1).unwrap_or(NaiveDate::MIN);
        first + Duration::days(expiry_offset as i64)
    }

    /// The next contract month in `cycle` strictly after this contract's month.
    pub fn next_in(self, cycle: &RollCycle) -> Self {
        let (mut y, mut m) = (self.year(), self.month());
        loop {
            if m == 12 {
                y += 1;
                m = 1;
            } else {
                m += 1;
            }
            if cycle.contains(m) {
                return Self::monthly(y, m);
            }
        }
    }

    /// The previous contract month in `cycle` strictly before this contract's month.
    pub fn previous_in(self, cycle: &RollCycle) -> Self {
        let (mut y, mut m) = (self.year(), self.month());
        loop {
            if m == 1 {
                y -= 1;
                m = 12;
            } else {
                m -= 1;
            }
            if cycle.contains(m) {
                return Self::monthly(y, m);
            }
        }
    }

    /// This contract's month, or the first later month, that is in `cycle`.
    pub fn at_or_after_in(self, cycle: &RollCycle) -> Self {
        if cycle.contains(self.month()) {
            Self::monthly(self.year(), self.month())
        } else {
            self.next_in(cycle)
        }
    }

    /// Days from `today` to the approximate expiry (negative once expired).
    pub fn days_to_expiry(self, expiry_offset: i32, today: NaiveDate) -> i64 {
        (self.approx_expiry(expiry_offset) - today).num_days()
    }

    pub fn first_of_month(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.month(), 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn year_month(self) -> (i32, u32) {
        (self.year(), self.month())
    }

    pub fn same_month(self, date: NaiveDate) -> bool {
        self.year() == date.year() && self.month() == date.month()
    }
}

impl TryFrom<String> for ContractId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<ContractId> for String {
    fn from(c: ContractId) -> String {
        c.to_string()
    }
}

impl fmt::Display for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_ids() {
        let c = ContractId::parse("20231200").unwrap();
        assert_eq!((c.year(), c.month(), c.day()), (2023, 12, 0));
        assert_eq!(c.to_string(), "20231200");
        assert_eq!(ContractId::parse("20231200.0").unwrap(), c);
        assert!(ContractId::parse("2023120").is_err());
        assert!(ContractId::parse("20231300").is_err());
    }

    #[test]
    fn navigates_cycles_across_years() {
        let hmuz = RollCycle::parse("HMUZ").unwrap();
        let z23 = ContractId::parse("20231200").unwrap();
        assert_eq!(z23.next_in(&hmuz).to_string(), "20240300");
        assert_eq!(
            ContractId::parse("20240300").unwrap().previous_in(&hmuz),
            z23
        );
        assert_eq!(
            ContractId::parse("20231000").unwrap().at_or_after_in(&hmuz),
            z23
        );
    }

    #[test]
    fn approximate_expiry_adds_offset_to_first_of_month() {
        let c = ContractId::parse("20230900").unwrap();
        assert_eq!(
            c.approx_expiry(14),
            NaiveDate::from_ymd_opt(2023, 9, 15).unwrap()
        );
        assert_eq!(
            c.days_to_expiry(14, NaiveDate::from_ymd_opt(2023, 9, 10).unwrap()),
            5
        );
    }
}
