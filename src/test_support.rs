//! Helpers shared by the unit and integration tests (hidden from the documentation).

use std::path::{Path, PathBuf};

/// Where the shared pysystemtrade data set is: `SYSTRADE_TEST_DATA`, else
/// `../shared/data/pysystemtrade` next to the crate. Tests that call this carry
/// `#[cfg_attr(not(shared_data), ignore = ...)]` (see `build.rs`): they run only when the data
/// was there at build time, or under `CI=true`; a missing data set then fails the test.
pub fn shared_data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SYSTRADE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pysystemtrade")
        });
    if dir.join("csvconfig").is_dir() {
        return Some(dir);
    }
    panic!(
        "pysystemtrade test data not found at {} (set SYSTRADE_TEST_DATA; without the data \
         and without CI=true these tests are built as ignored)",
        dir.display()
    );
}

/// Where pysystemtrade's chapter-15 reference outputs are: `golden/backtest` two levels above
/// the shared data set (`SYSTRADE_TEST_DATA/../../golden/backtest`, by default
/// `../shared/golden/backtest` next to the crate). Missing: the test fails, as
/// [`shared_data_dir`].
pub fn golden_backtest_dir() -> Option<PathBuf> {
    let data = std::env::var_os("SYSTRADE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pysystemtrade")
        });
    let dir = data.join("../../golden/backtest");
    if dir.join("timeseries").is_dir() {
        return Some(dir);
    }
    panic!(
        "pysystemtrade golden backtest files not found at {} (set SYSTRADE_TEST_DATA)",
        dir.display()
    );
}

/// The small data set kept in the repo (`tests/data/pysystemtrade`: pysystemtrade's csvconfig and
/// one whole instrument, KR3; see `tests/data/README.md`): always there, so each kind of golden
/// check also runs on a fresh clone.
pub fn repo_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pysystemtrade")
}

/// pysystemtrade's golden rows for the instruments of [`repo_data_dir`].
pub fn repo_golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden/backtest")
}

/// The instruments of [`repo_data_dir`] with golden rows.
pub const REPO_INSTRUMENTS: [&str; 1] = ["KR3"];

/// A [`Broker`](crate::domain::broker::Broker) for tests: a fixed account, one series of bars
/// for every contract, one FX series for every currency, one expiry for every contract (`None`:
/// unknown contracts), and errors queued to be returned first by the next calls. Orders and
/// positions are not offered (an error says so).
pub struct ScriptedBroker {
    pub account_value: f64,
    pub margin_used: f64,
    pub bars: crate::domain::series::ContractPrices,
    pub fx: crate::domain::series::FxPrices,
    pub expiry: Option<chrono::NaiveDate>,
    pub failures: std::sync::Mutex<std::collections::VecDeque<crate::domain::broker::BrokerError>>,
    /// Calls made, failed or not.
    pub calls: std::sync::atomic::AtomicUsize,
}

mod scripted_broker {
    use std::sync::atomic::Ordering;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};

    use super::ScriptedBroker;
    use crate::domain::broker::*;
    use crate::domain::contract::ContractId;
    use crate::domain::instrument::InstrumentCode;
    use crate::domain::ports::Frequency;
    use crate::domain::series::{ContractPrices, FxPrices};

    fn not_offered() -> BrokerError {
        BrokerError::Other {
            code: None,
            detail: "not offered by the scripted test broker".into(),
        }
    }

    impl ScriptedBroker {
        /// A broker whose account is worth `value` (12.5 margin used) and knows no contract.
        pub fn with_account(value: f64) -> Self {
            Self {
                account_value: value,
                margin_used: 12.5,
                bars: ContractPrices::default(),
                fx: FxPrices::default(),
                expiry: None,
                failures: Default::default(),
                calls: Default::default(),
            }
        }

        /// Queues errors the next calls return, in order.
        pub fn fail_next(&self, errors: impl IntoIterator<Item = BrokerError>) {
            if let Ok(mut f) = self.failures.lock() {
                f.extend(errors);
            }
        }

        fn answer<T>(&self, ok: impl FnOnce() -> Result<T, BrokerError>) -> Result<T, BrokerError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.failures.lock().ok().and_then(|mut f| f.pop_front()) {
                Some(e) => Err(e),
                None => ok(),
            }
        }
    }

    #[async_trait]
    impl Broker for ScriptedBroker {
        fn kind(&self) -> &'static str {
            "scripted"
        }
        async fn health(&self) -> ConnectionHealth {
            ConnectionHealth {
                connected: true,
                last_ok: None,
                down_since: None,
                detail: String::new(),
            }
        }
        async fn account_value(&self, _: &str) -> Result<AccountValue, BrokerError> {
            self.answer(|| {
                Ok(AccountValue {
                    value: self.account_value,
                    margin_used: self.margin_used,
                })
            })
        }
        async fn positions(&self) -> Result<Vec<BrokerPosition>, BrokerError> {
            self.answer(|| Err(not_offered()))
        }
        async fn contract_details(
            &self,
            instrument: &InstrumentCode,
            contract: ContractId,
        ) -> Result<ContractDetails, BrokerError> {
            self.answer(|| match self.expiry {
                Some(expiry) => Ok(ContractDetails {
                    instrument: instrument.clone(),
                    contract,
                    expiry,
                    multiplier: 1.0,
                    min_tick: 0.01,
                    currency: "USD".into(),
                    trading_hours: String::new(),
                    time_zone: String::new(),
                }),
                None => Err(BrokerError::UnknownContract {
                    instrument: instrument.clone(),
                    contract: contract.to_string(),
                    detail: "not listed".into(),
                }),
            })
        }
        async fn historical_bars(
            &self,
            _: &InstrumentCode,
            _: ContractId,
            _: Frequency,
        ) -> Result<ContractPrices, BrokerError> {
            self.answer(|| Ok(self.bars.clone()))
        }
        async fn fx_history(&self, _: &str) -> Result<FxPrices, BrokerError> {
            self.answer(|| Ok(self.fx.clone()))
        }
        async fn quote(&self, _: &InstrumentCode, _: ContractId) -> Result<Quote, BrokerError> {
            self.answer(|| Err(not_offered()))
        }
        async fn place_order(&self, _: &OrderRequest) -> Result<OrderState, BrokerError> {
            self.answer(|| Err(not_offered()))
        }
        async fn modify_order(&self, _: &str, _: f64) -> Result<OrderState, BrokerError> {
            self.answer(|| Err(not_offered()))
        }
        async fn cancel_order(&self, _: &str) -> Result<OrderState, BrokerError> {
            self.answer(|| Err(not_offered()))
        }
        async fn order_state(&self, _: &str) -> Result<OrderState, BrokerError> {
            self.answer(|| Err(not_offered()))
        }
        async fn open_orders(&self) -> Result<Vec<OrderState>, BrokerError> {
            self.answer(|| Err(not_offered()))
        }
        async fn executions(
            &self,
            _: Option<DateTime<Utc>>,
        ) -> Result<Vec<Execution>, BrokerError> {
            self.answer(|| Err(not_offered()))
        }
    }
}
