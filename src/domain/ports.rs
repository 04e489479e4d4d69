//! The storage interface the price domain needs. The Parquet adapter (`adapters::parquet`)
//! implements it; tests may use any other implementation.

use std::path::PathBuf;

use super::contract::ContractId;
use super::instrument::InstrumentCode;
use super::series::{
    AdjustedPrices, ContractPrices, FxPrices, Micros, MultiplePrices, RollCalendar,
};

/// Which bars of a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Daily,
    Hourly,
    /// Daily and hourly bars merged (daily wins on equal timestamps).
    Merged,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Hourly => "hourly",
            Frequency::Merged => "merged",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PriceStoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: unreadable or corrupt: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{}: cannot write: {detail}", path.display())]
    Write { path: PathBuf, detail: String },
}

impl PriceStoreError {
    /// Worth trying again: an interrupted or timed-out read or write. A corrupt file, a missing
    /// or unwritable path is permanent: retrying only delays the message.
    pub fn is_transient(&self) -> bool {
        use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
        matches!(self, PriceStoreError::Io { source, .. } if matches!(source.kind(), Interrupted | TimedOut | WouldBlock))
    }
}

/// Time series storage. Every write replaces the whole series atomically (a crash leaves the
/// old or the new file, never a half-written one); reading one instrument reads nothing else.
pub trait PriceStore: Send + Sync {
    fn read_multiple(
        &self,
        code: &InstrumentCode,
    ) -> Result<Option<MultiplePrices>, PriceStoreError>;
    fn write_multiple(
        &self,
        code: &InstrumentCode,
        prices: &MultiplePrices,
    ) -> Result<(), PriceStoreError>;
    fn read_adjusted(
        &self,
        code: &InstrumentCode,
    ) -> Result<Option<AdjustedPrices>, PriceStoreError>;
    fn write_adjusted(
        &self,
        code: &InstrumentCode,
        prices: &AdjustedPrices,
    ) -> Result<(), PriceStoreError>;
    /// FX by currency code (`EUR` = the USD value of one euro).
    fn read_fx(&self, currency: &str) -> Result<Option<FxPrices>, PriceStoreError>;
    fn write_fx(&self, currency: &str, prices: &FxPrices) -> Result<(), PriceStoreError>;
    fn read_contract(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<Option<ContractPrices>, PriceStoreError>;
    fn write_contract(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
        prices: &ContractPrices,
    ) -> Result<(), PriceStoreError>;
    fn read_roll_calendar(
        &self,
        code: &InstrumentCode,
    ) -> Result<Option<RollCalendar>, PriceStoreError>;
    fn write_roll_calendar(
        &self,
        code: &InstrumentCode,
        calendar: &RollCalendar,
    ) -> Result<(), PriceStoreError>;
    /// Instruments that have multiple prices.
    fn instruments_with_multiple(&self) -> Result<Vec<InstrumentCode>, PriceStoreError>;
    /// Instruments that have adjusted prices.
    fn instruments_with_adjusted(&self) -> Result<Vec<InstrumentCode>, PriceStoreError>;
    /// Instruments that have a roll calendar.
    fn instruments_with_roll_calendar(&self) -> Result<Vec<InstrumentCode>, PriceStoreError>;
    /// Instruments that have bars of some contract (any frequency).
    fn instruments_with_contract_prices(&self) -> Result<Vec<InstrumentCode>, PriceStoreError>;
    /// Currencies that have FX prices.
    fn fx_currencies(&self) -> Result<Vec<String>, PriceStoreError>;
    /// Contracts of an instrument that have bars of this frequency.
    fn contracts_with_prices(
        &self,
        code: &InstrumentCode,
        frequency: Frequency,
    ) -> Result<Vec<ContractId>, PriceStoreError>;
    /// A token that changes whenever the instrument's adjusted or multiple prices are written,
    /// so what is computed from them can be remembered; `None` when the store cannot tell
    /// (nothing is then remembered).
    fn prices_version(&self, _code: &InstrumentCode) -> Option<String> {
        None
    }
    /// The same for a currency's FX rates.
    fn fx_version(&self, _currency: &str) -> Option<String> {
        None
    }
}

/// Errors of a market data source, typed so callers can tell retry-able from final.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MarketDataError {
    #[error("market data source unavailable: {0}")]
    Unavailable(String),
    #[error("unknown instrument `{0}` at the market data source")]
    UnknownInstrument(String),
    #[error("unknown contract {contract} of `{instrument}` at the market data source")]
    UnknownContract {
        instrument: String,
        contract: ContractId,
    },
    #[error("no FX rate for `{0}` at the market data source")]
    UnknownCurrency(String),
    /// The source refused the request (no permission, a bad request): asking again will not help.
    #[error("the market data source refused: {0}")]
    Refused(String),
}

impl MarketDataError {
    /// Whether trying again later may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, MarketDataError::Unavailable(_))
    }
}

/// Where new prices come from: the simulated exchange (default), the broker, or a file import.
pub trait MarketDataSource: Send + Sync {
    /// Bars of one contract with timestamps in `[from, to]`; `frequency` is `Daily` or `Hourly`.
    /// Daily bars are stamped 23:00 UTC of their trading date.
    fn contract_bars(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
        from: Micros,
        to: Micros,
    ) -> Result<ContractPrices, MarketDataError>;
    /// Daily spot rates (USD per unit of `currency`) with timestamps in `[from, to]`.
    fn fx_rates(
        &self,
        currency: &str,
        from: Micros,
        to: Micros,
    ) -> Result<FxPrices, MarketDataError>;
    /// The exact expiry of a contract, if the source knows it (`Ok(None)`: not listed / unknown).
    fn contract_expiry(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Option<chrono::NaiveDate>, MarketDataError>;
    /// Whether the source serves bars of old, expired contracts as far back as asked, so that
    /// an instrument's whole history can be built from it. A broker serves about a year.
    fn serves_full_history(&self) -> bool {
        true
    }
}
