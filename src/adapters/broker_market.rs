//! The broker as the market data source (`market.source = "broker"`, or `"auto"` with
//! `broker.kind = "ib"`): [`BrokerMarketData`] answers the price tasks' synchronous
//! [`MarketDataSource`] calls — contract bars for `update_historical_prices`, spot FX for
//! `update_fx_prices`, exact expiries for `update_sampled_contracts` — from the configured
//! [`Broker`]'s historical bars, spot FX and contract details.
//!
//! - The price tasks call the source from blocking code; each call waits for the broker's
//!   future on the runtime (`block_in_place`), so it needs tokio's multi-thread runtime (the
//!   binary's). On any other runtime the call fails as unavailable instead of dead-locking.
//! - A pacing refusal ([`BrokerError::Pacing`]) is waited out and the request sent again, up to
//!   [`BrokerMarketData::with_max_pacing_wait`] in all for one call (ten minutes by default,
//!   IB's window): a full daily update of many contracts is slow with IB, but finishes.
//! - Errors keep the distinction the tasks rely on: a dead or slow broker is
//!   [`MarketDataError::Unavailable`] (the node fails and is retried), a contract the broker does
//!   not list is [`MarketDataError::UnknownContract`] (an unknown expiry), and everything final
//!   (no mapping, no permission, a refusal) is [`MarketDataError::Refused`] with the broker's
//!   words.
//! - Nothing after the clock's "now" is served, as with the simulated exchange.
//! - A broker serves about a year of bars, so it cannot build an instrument's history
//!   ([`MarketDataSource::serves_full_history`] is false): that comes from an import.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::broker::{Broker, BrokerError};
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::ports::{Frequency, MarketDataError, MarketDataSource};
use crate::domain::series::{ContractPrices, FxPrices, Micros};

/// How long one call may wait in all for the broker's pacing limit by default.
pub const MAX_PACING_WAIT: Duration = Duration::from_secs(600);

pub struct BrokerMarketData {
    broker: Arc<dyn Broker>,
    /// Where the broker's futures run; `None` when created outside a runtime (every call then
    /// fails as unavailable).
    runtime: Option<tokio::runtime::Handle>,
    now: Micros,
    max_pacing_wait: Duration,
}

impl BrokerMarketData {
    /// Market data from `broker`, whose calls run on `runtime`, serving nothing after `now`.
    pub fn new(
        broker: Arc<dyn Broker>,
        runtime: Option<tokio::runtime::Handle>,
        now: Micros,
    ) -> Self {
        Self {
            broker,
            runtime,
            now,
            max_pacing_wait: MAX_PACING_WAIT,
        }
    }

    /// Waits at most this long in all for pacing refusals within one call.
    pub fn with_max_pacing_wait(mut self, wait: Duration) -> Self {
        self.max_pacing_wait = wait;
        self
    }

    /// Runs one broker call to its end from blocking code, sending it again after a pacing
    /// refusal while the pacing budget lasts.
    fn call<T, F, Fut>(&self, what: &str, call: F) -> Result<T, BrokerError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, BrokerError>>,
    {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let unavailable = |why: &str| BrokerError::Disconnected {
            detail: format!("the broker cannot serve market data {why}"),
        };
        let run = |fut: Fut| match (&self.runtime, Handle::try_current()) {
            (None, _) => Err(unavailable("without an async runtime")),
            (Some(_), Ok(current)) if current.runtime_flavor() != RuntimeFlavor::MultiThread => {
                Err(unavailable("on a single-thread runtime"))
            }
            (Some(runtime), Ok(_)) => tokio::task::block_in_place(|| runtime.block_on(fut)),
            (Some(runtime), Err(_)) => runtime.block_on(fut),
        };
        let mut waited = Duration::ZERO;
        loop {
            match run(call()) {
                Err(BrokerError::Pacing {
                    detail,
                    retry_after_seconds,
                }) => {
                    let pause = Duration::from_secs_f64(retry_after_seconds.clamp(0.05, 3600.0));
                    if waited + pause > self.max_pacing_wait {
                        return Err(BrokerError::Pacing {
                            detail: format!(
                                "{detail}; gave up on {what} after waiting {:.0} s",
                                waited.as_secs_f64()
                            ),
                            retry_after_seconds,
                        });
                    }
                    tracing::info!(
                        "{what}: waiting {:.1} s for the broker's pacing limit ({detail})",
                        pause.as_secs_f64()
                    );
                    std::thread::sleep(pause);
                    waited += pause;
                }
                other => return other,
            }
        }
    }

    fn in_range(&self, ts: Micros, from: Micros, to: Micros) -> bool {
        ts >= from && ts <= to.min(self.now)
    }
}

/// A broker error as the market data error the price tasks understand.
fn market_error(e: BrokerError) -> MarketDataError {
    match e {
        e if e.is_retryable() => MarketDataError::Unavailable(e.to_string()),
        BrokerError::UnknownContract {
            instrument,
            contract,
            ..
        } if !contract.is_empty() => match ContractId::parse(&contract) {
            Ok(contract) => MarketDataError::UnknownContract {
                instrument: instrument.to_string(),
                contract,
            },
            Err(_) => MarketDataError::Refused(format!(
                "the broker does not know {instrument} {contract}"
            )),
        },
        other => MarketDataError::Refused(other.to_string()),
    }
}

impl MarketDataSource for BrokerMarketData {
    fn contract_bars(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
        from: Micros,
        to: Micros,
    ) -> Result<ContractPrices, MarketDataError> {
        let what = format!("{code} {contract} {} bars", frequency.as_str());
        let bars = self
            .call(&what, || {
                self.broker.historical_bars(code, contract, frequency)
            })
            .map_err(market_error)?;
        Ok(bars.select(|i| self.in_range(bars.ts[i], from, to)))
    }

    fn fx_rates(
        &self,
        currency: &str,
        from: Micros,
        to: Micros,
    ) -> Result<FxPrices, MarketDataError> {
        let rates = self
            .call(&format!("{currency} spot FX"), || {
                self.broker.fx_history(currency)
            })
            .map_err(market_error)?;
        Ok(rates.select(|ts, _| self.in_range(ts, from, to)))
    }

    fn contract_expiry(
        &self,
        code: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Option<chrono::NaiveDate>, MarketDataError> {
        match self.call(&format!("{code} {contract} details"), || {
            self.broker.contract_details(code, contract)
        }) {
            Ok(details) => Ok(Some(details.expiry)),
            Err(e) => match market_error(e) {
                MarketDataError::UnknownContract { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    fn serves_full_history(&self) -> bool {
        false
    }
}

#[cfg(test)]
#[path = "broker_market_tests.rs"]
mod tests;
