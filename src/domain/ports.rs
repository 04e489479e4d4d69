//! The storage interface the price domain needs. The Parquet adapter (`adapters::parquet`)
//! implements it; tests may use any other implementation.

use std::path::PathBuf;

use super::contract::ContractId;
use super::instrument::InstrumentCode;
use super::series::{AdjustedPrices, ContractPrices, FxPrices, MultiplePrices};

/// Which bars of a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
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
    /// Instruments that have multiple prices.
    fn instruments_with_multiple(&self) -> Result<Vec<InstrumentCode>, PriceStoreError>;
    /// Instruments that have adjusted prices.
    fn instruments_with_adjusted(&self) -> Result<Vec<InstrumentCode>, PriceStoreError>;
    /// Currencies that have FX prices.
    fn fx_currencies(&self) -> Result<Vec<String>, PriceStoreError>;
    /// Contracts of an instrument that have bars of this frequency.
    fn contracts_with_prices(
        &self,
        code: &InstrumentCode,
        frequency: Frequency,
    ) -> Result<Vec<ContractId>, PriceStoreError>;
}
