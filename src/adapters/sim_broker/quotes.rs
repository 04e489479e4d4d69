//! Where the simulated broker's prices come from: a [`QuoteSource`]. [`StoredQuotes`] reads the
//! latest stored close of a contract from the price store (merged bars, else daily) and puts a
//! half spread from the reference data's spread costs either side of it; [`ManualQuotes`] is a
//! table of quotes set by hand (tests, benchmarks).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::domain::broker::{BrokerError, Quote};
use crate::domain::contract::ContractId;
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::ports::{Frequency, PriceStore};
use crate::domain::series::{ContractPrices, FxPrices};

/// Prices for the simulated broker.
pub trait QuoteSource: Send + Sync {
    /// The current top of book of a contract.
    fn quote(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Quote, BrokerError>;

    /// Stored bars of a contract (an unknown contract has none: an empty series).
    fn bars(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<ContractPrices, BrokerError>;

    /// The USD value of one unit of `currency` (1 for USD), when known.
    fn usd_value(&self, currency: &str) -> Result<Option<f64>, BrokerError>;

    /// Daily spot FX of `currency` (USD per unit), oldest first.
    fn fx_history(&self, currency: &str) -> Result<FxPrices, BrokerError>;
}

fn no_fx(currency: &str, detail: &str) -> BrokerError {
    BrokerError::UnknownCurrency {
        currency: currency.to_string(),
        detail: detail.to_string(),
    }
}

fn store_error(e: impl std::fmt::Display) -> BrokerError {
    BrokerError::Other {
        code: None,
        detail: format!("simulated broker prices: {e}"),
    }
}

/// How long [`StoredQuotes`] reuses a quote before reading the price store again.
pub const QUOTE_REFRESH: Duration = Duration::from_secs(1);

/// Quotes from the stored prices: mid = the latest close (merged bars, else daily), bid/ask =
/// mid ∓ the instrument's spread cost (which is half the typical spread), `ts` = the bar's time.
/// A quote is reused for [`QUOTE_REFRESH`] so a burst of orders does not re-read Parquet files.
pub struct StoredQuotes {
    prices: Arc<dyn PriceStore>,
    reference: Arc<ReferenceData>,
    cache: Mutex<HashMap<(InstrumentCode, ContractId), (Instant, Quote)>>,
}

impl StoredQuotes {
    pub fn new(prices: Arc<dyn PriceStore>, reference: Arc<ReferenceData>) -> Self {
        Self {
            prices,
            reference,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn read(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Quote, BrokerError> {
        let mut bars = None;
        for frequency in [Frequency::Merged, Frequency::Daily] {
            bars = self
                .prices
                .read_contract(instrument, contract, frequency)
                .map_err(store_error)?
                .filter(|b| !b.is_empty());
            if bars.is_some() {
                break;
            }
        }
        let unknown = |detail: &str| BrokerError::UnknownContract {
            instrument: instrument.clone(),
            contract: contract.to_string(),
            detail: detail.into(),
        };
        let bars = bars.ok_or_else(|| unknown("no stored prices"))?;
        let (ts, mid, volume) = bars
            .ts
            .iter()
            .zip(&bars.close)
            .zip(&bars.volume)
            .rev()
            .find(|((_, c), _)| c.is_finite())
            .map(|((t, c), v)| (*t, *c, *v))
            .ok_or_else(|| unknown("no finite stored close"))?;
        let half = self
            .reference
            .spread_costs
            .get(instrument)
            .copied()
            .filter(|h| h.is_finite() && *h >= 0.0)
            .unwrap_or(0.0);
        let ts = DateTime::<Utc>::from_timestamp_micros(ts).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let size = if volume.is_finite() { volume } else { 0.0 };
        Ok(Quote {
            ts,
            bid: mid - half,
            ask: mid + half,
            bid_size: size,
            ask_size: size,
            last: Some(mid),
        })
    }
}

impl QuoteSource for StoredQuotes {
    fn quote(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Quote, BrokerError> {
        let key = (instrument.clone(), contract);
        if let Ok(cache) = self.cache.lock() {
            if let Some((at, q)) = cache.get(&key) {
                if at.elapsed() < QUOTE_REFRESH {
                    return Ok(*q);
                }
            }
        }
        let q = self.read(instrument, contract)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (Instant::now(), q));
        }
        Ok(q)
    }

    fn bars(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<ContractPrices, BrokerError> {
        Ok(self
            .prices
            .read_contract(instrument, contract, frequency)
            .map_err(store_error)?
            .unwrap_or_default())
    }

    fn usd_value(&self, currency: &str) -> Result<Option<f64>, BrokerError> {
        if currency.eq_ignore_ascii_case("USD") {
            return Ok(Some(1.0));
        }
        Ok(self
            .prices
            .read_fx(currency)
            .map_err(store_error)?
            .and_then(|fx| fx.value.iter().rev().copied().find(|v| v.is_finite())))
    }

    fn fx_history(&self, currency: &str) -> Result<FxPrices, BrokerError> {
        self.prices
            .read_fx(&currency.to_ascii_uppercase())
            .map_err(store_error)?
            .ok_or_else(|| no_fx(currency, "no stored FX prices"))
    }
}

/// Quotes and FX set by hand; a contract without a quote is unknown.
#[derive(Default)]
pub struct ManualQuotes {
    quotes: Mutex<HashMap<(InstrumentCode, ContractId), Quote>>,
    fx: Mutex<HashMap<String, f64>>,
}

impl ManualQuotes {
    /// Sets the quote of a contract (sizes 100, last = mid).
    pub fn set(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        bid: f64,
        ask: f64,
        ts: DateTime<Utc>,
    ) {
        if let Ok(mut q) = self.quotes.lock() {
            q.insert(
                (instrument.clone(), contract),
                Quote {
                    ts,
                    bid,
                    ask,
                    bid_size: 100.0,
                    ask_size: 100.0,
                    last: Some((bid + ask) / 2.0),
                },
            );
        }
    }

    /// Sets the sizes quoted at the bid and the ask of a contract whose quote is set (a
    /// no-op otherwise).
    pub fn set_sizes(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        bid_size: f64,
        ask_size: f64,
    ) {
        if let Ok(mut q) = self.quotes.lock() {
            if let Some(quote) = q.get_mut(&(instrument.clone(), contract)) {
                quote.bid_size = bid_size;
                quote.ask_size = ask_size;
            }
        }
    }

    /// Sets the USD value of one unit of `currency`.
    pub fn set_fx(&self, currency: &str, usd_value: f64) {
        if let Ok(mut fx) = self.fx.lock() {
            fx.insert(currency.to_ascii_uppercase(), usd_value);
        }
    }
}

impl QuoteSource for ManualQuotes {
    fn quote(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Quote, BrokerError> {
        self.quotes
            .lock()
            .ok()
            .and_then(|q| q.get(&(instrument.clone(), contract)).copied())
            .ok_or_else(|| BrokerError::UnknownContract {
                instrument: instrument.clone(),
                contract: contract.to_string(),
                detail: "no quote set".into(),
            })
    }

    fn bars(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        _: Frequency,
    ) -> Result<ContractPrices, BrokerError> {
        let q = self.quote(instrument, contract)?;
        let mid = (q.bid + q.ask) / 2.0;
        Ok(ContractPrices {
            ts: vec![q.ts.timestamp_micros()],
            open: vec![mid],
            high: vec![mid],
            low: vec![mid],
            close: vec![mid],
            volume: vec![0.0],
        })
    }

    fn usd_value(&self, currency: &str) -> Result<Option<f64>, BrokerError> {
        if currency.eq_ignore_ascii_case("USD") {
            return Ok(Some(1.0));
        }
        Ok(self
            .fx
            .lock()
            .ok()
            .and_then(|fx| fx.get(&currency.to_ascii_uppercase()).copied()))
    }

    fn fx_history(&self, currency: &str) -> Result<FxPrices, BrokerError> {
        Err(no_fx(currency, "quotes set by hand keep no FX history"))
    }
}
