//! `update_multiple_adjusted_prices` (B6, B7; sysproduction `update_multiple_adjusted_prices`):
//! per instrument, multiple prices and Panama-adjusted prices, written together.
//!
//! * An instrument with no multiple prices yet is *bootstrapped*: the daily bars of every
//!   priced-cycle contract from `market.sim_start` to now are fetched from the market data source
//!   (and stored as the contract's daily bars when it has none), merged with any stored merged
//!   bars (the hourly bars already collected), and multiple prices are built from them and
//!   stitched in full.
//! * Otherwise the daily update: the merged closes (else daily) of the last row's PRICE, FORWARD
//!   and CARRY contracts are merged into the multiple prices, and the adjusted prices are extended
//!   without a roll. If the PRICE contract changed since the last adjusted price, the roll was not
//!   registered: that is logged at error level and the instrument is left as it is.
//!
//! A failure for one instrument is logged and the others go on; the task fails at the end if any
//! instrument failed.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::instruments::{finish, Excluded, Failure, Subject};
use super::update_sampled_contracts::{instruments_to_update, load_reference};
use crate::app::App;
use crate::domain::bootstrap::build_multiple_prices;
use crate::domain::contract::ContractId;
use crate::domain::instrument::{InstrumentCode, RollParameters};
use crate::domain::merge::{merge_daily_and_hourly, update_multiple_prices};
use crate::domain::panama::{panama_stitch, update_adjusted_no_roll, PanamaError};
use crate::domain::ports::{Frequency, MarketDataError, MarketDataSource, PriceStore};
use crate::domain::series::{ContractPrices, Micros, PriceSeries};
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct UpdateMultipleAdjustedPrices;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MultipleParams {
    /// Instruments to update (default: config `prices.instruments` and every instrument with
    /// multiple prices).
    instruments: Option<Vec<InstrumentCode>>,
    /// Forward-fill prices before a full stitch (pysystemtrade's option).
    #[serde(default)]
    forward_fill: bool,
}

struct MultipleTask {
    instruments: Option<Vec<InstrumentCode>>,
    forward_fill: bool,
}

impl TaskKind<App> for UpdateMultipleAdjustedPrices {
    fn name(&self) -> &'static str {
        "update_multiple_adjusted_prices"
    }
    fn summary(&self) -> &'static str {
        "updates multiple and Panama-adjusted prices, building them from the market when absent"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: MultipleParams = parse_params(params)?;
        if p.instruments.as_ref().is_some_and(|v| v.is_empty()) {
            return Err(vec!["params: `instruments` must not be empty".into()]);
        }
        Ok(Arc::new(MultipleTask {
            instruments: p.instruments,
            forward_fill: p.forward_fill,
        }))
    }
}

/// What happened to one instrument.
enum Outcome {
    Updated {
        bootstrapped: bool,
        rows: usize,
        new_rows: usize,
    },
    /// The PRICE contract changed without a registered roll: nothing written.
    RollNotRegistered(String),
}

/// Everything one instrument's update needs, owned (it runs on a blocking thread).
struct Job {
    store: Arc<dyn PriceStore>,
    market: Arc<dyn MarketDataSource>,
    from: Micros,
    now: Micros,
    forward_fill: bool,
}

#[async_trait]
impl Task<App> for MultipleTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        let reference = load_reference(app)?;
        let mut instruments = instruments_to_update(app, self.instruments.as_deref(), &reference)?;
        let excluded = Excluded::from_inputs(&ctx.inputs);
        let mut out = serde_json::Map::new();
        instruments.retain(|(code, _)| {
            let currency = reference.instrument(code).map(|i| i.currency.as_str());
            match excluded.reason(code.as_str(), currency) {
                Some(why) => {
                    tracing::warn!(instrument = %code, "{code}: left alone: {why}");
                    out.insert(code.to_string(), json!({ "skipped": why }));
                    false
                }
                None => true,
            }
        });
        let job = Arc::new(Job {
            store: app.price_store(),
            market: app.market(&reference),
            from: app
                .config
                .market
                .sim_start
                .and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_micros(),
            now: app.clock.now().timestamp_micros(),
            forward_fill: self.forward_fill,
        });
        let mut failures = Vec::new();
        // Instruments are independent: as many at a time as there are cores.
        let width = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut results = Vec::with_capacity(instruments.len());
        for (n, chunk) in instruments.chunks(width).enumerate() {
            ctx.stop.check(&format!(
                "{} of {} instruments updated",
                n * width,
                instruments.len()
            ))?;
            let running: Vec<_> = chunk
                .iter()
                .map(|(code, params)| {
                    let (j, c, p) = (job.clone(), code.clone(), params.clone());
                    (
                        code.clone(),
                        tokio::task::spawn_blocking(move || j.update(&c, &p)),
                    )
                })
                .collect();
            for (code, handle) in running {
                let result = handle
                    .await
                    .map_err(|e| format!("update panicked or was cancelled: {e}"))
                    .and_then(|r| r);
                results.push((code, result));
            }
        }
        for (code, result) in results {
            match result {
                Ok(Outcome::Updated {
                    bootstrapped,
                    rows,
                    new_rows,
                }) => {
                    tracing::info!(
                        instrument = %code,
                        bootstrapped,
                        rows,
                        new_rows,
                        "multiple and adjusted prices written"
                    );
                    out.insert(
                        code.to_string(),
                        json!({ "bootstrapped": bootstrapped, "rows": rows, "new_rows": new_rows }),
                    );
                }
                Ok(Outcome::RollNotRegistered(detail)) => {
                    tracing::error!(
                        instrument = %code,
                        critical = true,
                        "{code}: roll has occurred but not registered ({detail}); prices not updated"
                    );
                    out.insert(code.to_string(), json!({ "roll_not_registered": detail }));
                }
                Err(message) => failures.push(Failure {
                    instrument: code.to_string(),
                    message,
                }),
            }
        }
        finish(out, failures, &excluded, Subject::Instruments, false)
    }
}

impl Job {
    fn update(&self, code: &InstrumentCode, params: &RollParameters) -> Result<Outcome, String> {
        let stored = self
            .store
            .read_multiple(code)
            .map_err(|e| format!("cannot read multiple prices: {e}"))?;
        match stored {
            Some(m) if !m.is_empty() => self.daily_update(code, m),
            _ => self.bootstrap(code, params),
        }
    }

    /// Multiple and adjusted prices built from the market's daily bars.
    fn bootstrap(&self, code: &InstrumentCode, params: &RollParameters) -> Result<Outcome, String> {
        if !self.market.serves_full_history() {
            return Err(format!(
                "{code} has no multiple prices yet, and the market data source (the broker) \
                 serves only about a year of bars, too little to build its history: import it \
                 first (`systrade import pysystemtrade --dir DIR`), then the broker's prices \
                 extend it"
            ));
        }
        let first = chrono::DateTime::from_timestamp_micros(self.from)
            .map(|d| d.date_naive())
            .ok_or("market.sim_start is out of range")?;
        let last = chrono::DateTime::from_timestamp_micros(self.now)
            .map(|d| d.date_naive())
            .ok_or("the clock is out of range")?;
        use chrono::Datelike;
        let mut id = ContractId::monthly(first.year() - 1, 1).at_or_after_in(&params.priced_cycle);
        let mut daily = BTreeMap::new();
        while id.year() <= last.year() + 2 {
            match self
                .market
                .contract_bars(code, id, Frequency::Daily, self.from, self.now)
            {
                Ok(bars) if !bars.is_empty() => {
                    daily.insert(id, bars);
                }
                Ok(_) | Err(MarketDataError::UnknownContract { .. }) => {}
                Err(e) => return Err(format!("contract {id}: {e}")),
            }
            id = id.next_in(&params.priced_cycle);
        }
        // Store the market's daily bars where a contract has none; build from the merged bars
        // where there are some (the hourly bars already collected), so that the daily update,
        // which reads merged bars, only appends after the last row.
        let mut closes = BTreeMap::new();
        for (id, bars) in daily {
            let have = self
                .store
                .read_contract(code, id, Frequency::Daily)
                .map_err(|e| format!("cannot read daily bars of {id}: {e}"))?;
            if have.is_none() {
                self.store
                    .write_contract(code, id, Frequency::Daily, &bars)
                    .map_err(|e| format!("cannot write daily bars of {id}: {e}"))?;
            }
            let merged = self
                .store
                .read_contract(code, id, Frequency::Merged)
                .map_err(|e| format!("cannot read merged bars of {id}: {e}"))?;
            let bars = match merged {
                Some(m) if !m.is_empty() => merge_daily_and_hourly(&bars, &m),
                _ => bars,
            };
            closes.insert(id, bars);
        }
        let multiple = build_multiple_prices(params, &closes).map_err(|e| e.to_string())?;
        let adjusted = panama_stitch(&multiple, self.forward_fill).map_err(|e| e.to_string())?;
        self.write(code, &multiple, &adjusted)?;
        Ok(Outcome::Updated {
            bootstrapped: true,
            rows: multiple.len(),
            new_rows: multiple.len(),
        })
    }

    /// The daily update of stored multiple prices, then adjusted prices without a roll (B6, B7).
    fn daily_update(
        &self,
        code: &InstrumentCode,
        stored: crate::domain::series::MultiplePrices,
    ) -> Result<Outcome, String> {
        let (Some(&p), Some(&f), Some(&c)) = (
            stored.price_contract.last(),
            stored.forward_contract.last(),
            stored.carry_contract.last(),
        ) else {
            return Err("stored multiple prices have no contract columns".into());
        };
        let price = self.closes(code, p)?;
        let forward = self.closes(code, f)?;
        let carry = self.closes(code, c)?;
        let multiple = update_multiple_prices(&stored, &price, &forward, &carry)
            .map_err(|e| format!("cannot merge multiple prices: {e}"))?;
        let existing = self
            .store
            .read_adjusted(code)
            .map_err(|e| format!("cannot read adjusted prices: {e}"))?;
        let adjusted = match existing {
            Some(a) if !a.is_empty() => match update_adjusted_no_roll(&a, &multiple) {
                Ok(a) => a,
                Err(e @ PanamaError::RollNotRegistered { .. }) => {
                    return Ok(Outcome::RollNotRegistered(e.to_string()))
                }
                Err(e) => return Err(format!("cannot update adjusted prices: {e}")),
            },
            _ => panama_stitch(&multiple, self.forward_fill)
                .map_err(|e| format!("cannot stitch adjusted prices: {e}"))?,
        };
        self.write(code, &multiple, &adjusted)?;
        Ok(Outcome::Updated {
            bootstrapped: false,
            rows: multiple.len(),
            new_rows: multiple.len().saturating_sub(stored.len()),
        })
    }

    /// A contract's closes: merged bars, else daily bars, else none.
    fn closes(&self, code: &InstrumentCode, id: ContractId) -> Result<PriceSeries, String> {
        for freq in [Frequency::Merged, Frequency::Daily] {
            let bars: Option<ContractPrices> = self
                .store
                .read_contract(code, id, freq)
                .map_err(|e| format!("cannot read {} bars of {id}: {e}", freq.as_str()))?;
            if let Some(b) = bars.filter(|b| !b.is_empty()) {
                return Ok(PriceSeries {
                    ts: b.ts,
                    value: b.close,
                });
            }
        }
        Ok(PriceSeries::default())
    }

    fn write(
        &self,
        code: &InstrumentCode,
        multiple: &crate::domain::series::MultiplePrices,
        adjusted: &PriceSeries,
    ) -> Result<(), String> {
        self.store
            .write_multiple(code, multiple)
            .map_err(|e| format!("cannot write multiple prices: {e}"))?;
        self.store
            .write_adjusted(code, adjusted)
            .map_err(|e| format!("cannot write adjusted prices: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::instrument::RollCycle;
    use crate::domain::ports::PriceStoreError;
    use crate::domain::series::{AdjustedPrices, FxPrices, MultiplePrices, RollCalendar};
    use std::sync::Mutex;

    /// Multiple, adjusted and contract prices in memory (tasks may not name the adapters).
    #[derive(Default)]
    struct MemStore {
        multiple: Mutex<Option<MultiplePrices>>,
        adjusted: Mutex<Option<AdjustedPrices>>,
        contracts: Mutex<BTreeMap<(ContractId, &'static str), ContractPrices>>,
    }

    impl PriceStore for MemStore {
        fn read_multiple(
            &self,
            _: &InstrumentCode,
        ) -> Result<Option<MultiplePrices>, PriceStoreError> {
            Ok(self.multiple.lock().unwrap().clone())
        }
        fn write_multiple(
            &self,
            _: &InstrumentCode,
            p: &MultiplePrices,
        ) -> Result<(), PriceStoreError> {
            *self.multiple.lock().unwrap() = Some(p.clone());
            Ok(())
        }
        fn read_adjusted(
            &self,
            _: &InstrumentCode,
        ) -> Result<Option<AdjustedPrices>, PriceStoreError> {
            Ok(self.adjusted.lock().unwrap().clone())
        }
        fn write_adjusted(
            &self,
            _: &InstrumentCode,
            p: &AdjustedPrices,
        ) -> Result<(), PriceStoreError> {
            *self.adjusted.lock().unwrap() = Some(p.clone());
            Ok(())
        }
        fn read_fx(&self, _: &str) -> Result<Option<FxPrices>, PriceStoreError> {
            Ok(None)
        }
        fn write_fx(&self, _: &str, _: &FxPrices) -> Result<(), PriceStoreError> {
            Ok(())
        }
        fn read_contract(
            &self,
            _: &InstrumentCode,
            c: ContractId,
            f: Frequency,
        ) -> Result<Option<ContractPrices>, PriceStoreError> {
            Ok(self
                .contracts
                .lock()
                .unwrap()
                .get(&(c, f.as_str()))
                .cloned())
        }
        fn write_contract(
            &self,
            _: &InstrumentCode,
            c: ContractId,
            f: Frequency,
            p: &ContractPrices,
        ) -> Result<(), PriceStoreError> {
            self.contracts
                .lock()
                .unwrap()
                .insert((c, f.as_str()), p.clone());
            Ok(())
        }
        fn read_roll_calendar(
            &self,
            _: &InstrumentCode,
        ) -> Result<Option<RollCalendar>, PriceStoreError> {
            Ok(None)
        }
        fn write_roll_calendar(
            &self,
            _: &InstrumentCode,
            _: &RollCalendar,
        ) -> Result<(), PriceStoreError> {
            Ok(())
        }
        fn instruments_with_multiple(&self) -> Result<Vec<InstrumentCode>, PriceStoreError> {
            Ok(vec![])
        }
        fn instruments_with_adjusted(&self) -> Result<Vec<InstrumentCode>, PriceStoreError> {
            Ok(vec![])
        }
        fn instruments_with_roll_calendar(&self) -> Result<Vec<InstrumentCode>, PriceStoreError> {
            Ok(vec![])
        }
        fn instruments_with_contract_prices(&self) -> Result<Vec<InstrumentCode>, PriceStoreError> {
            Ok(vec![])
        }
        fn fx_currencies(&self) -> Result<Vec<String>, PriceStoreError> {
            Ok(vec![])
        }
        fn contracts_with_prices(
            &self,
            _: &InstrumentCode,
            _: Frequency,
        ) -> Result<Vec<ContractId>, PriceStoreError> {
            Ok(vec![])
        }
    }

    /// A market that knows nothing (the daily update does not ask it).
    struct NoMarket;

    impl MarketDataSource for NoMarket {
        fn contract_bars(
            &self,
            code: &InstrumentCode,
            _: ContractId,
            _: Frequency,
            _: Micros,
            _: Micros,
        ) -> Result<ContractPrices, MarketDataError> {
            Err(MarketDataError::UnknownInstrument(code.to_string()))
        }
        fn fx_rates(&self, c: &str, _: Micros, _: Micros) -> Result<FxPrices, MarketDataError> {
            Err(MarketDataError::UnknownCurrency(c.to_string()))
        }
        fn contract_expiry(
            &self,
            _: &InstrumentCode,
            _: ContractId,
        ) -> Result<Option<chrono::NaiveDate>, MarketDataError> {
            Ok(None)
        }
    }

    const DAY: Micros = 86_400_000_000;

    fn setup() -> (Job, Arc<MemStore>, InstrumentCode, RollParameters) {
        let store = Arc::new(MemStore::default());
        let code = InstrumentCode::new("X").unwrap();
        let params = RollParameters {
            code: code.clone(),
            hold_cycle: RollCycle::parse("HMUZ").unwrap(),
            roll_offset_days: -5,
            carry_offset: 1,
            priced_cycle: RollCycle::parse("HMUZ").unwrap(),
            expiry_offset: 14,
        };
        let a = ContractId::monthly(2024, 9);
        let b = a.next_in(&params.hold_cycle);
        let m = MultiplePrices {
            ts: vec![DAY, 2 * DAY],
            price: vec![100.0, 101.0],
            forward: vec![99.0, 100.0],
            carry: vec![99.0, 100.0],
            price_contract: vec![a, a],
            forward_contract: vec![b, b],
            carry_contract: vec![b, b],
        };
        store.write_multiple(&code, &m).unwrap();
        store
            .write_adjusted(&code, &panama_stitch(&m, false).unwrap())
            .unwrap();
        let job = Job {
            store: store.clone(),
            market: Arc::new(NoMarket),
            from: 0,
            now: 10 * DAY,
            forward_fill: false,
        };
        (job, store, code, params)
    }

    fn bars(ts: &[Micros], close: &[f64]) -> ContractPrices {
        ContractPrices {
            ts: ts.to_vec(),
            open: close.to_vec(),
            high: close.to_vec(),
            low: close.to_vec(),
            close: close.to_vec(),
            volume: vec![1.0; ts.len()],
        }
    }

    #[test]
    fn the_daily_update_appends_from_the_merged_bars() {
        let (j, store, code, params) = setup();
        let merged = bars(&[DAY, 2 * DAY, 3 * DAY], &[100.0, 101.0, 102.0]);
        store
            .write_contract(
                &code,
                ContractId::monthly(2024, 9),
                Frequency::Merged,
                &merged,
            )
            .unwrap();
        let Outcome::Updated {
            bootstrapped,
            rows,
            new_rows,
        } = j.update(&code, &params).unwrap()
        else {
            panic!("expected an update");
        };
        assert_eq!((bootstrapped, rows, new_rows), (false, 3, 1));
        let adjusted = store.read_adjusted(&code).unwrap().unwrap();
        assert_eq!(adjusted.ts, vec![DAY, 2 * DAY, 3 * DAY]);
        assert_eq!(adjusted.value.last(), Some(&102.0));
    }

    #[test]
    fn an_unregistered_roll_writes_nothing() {
        let (j, store, code, params) = setup();
        // The multiple prices were rolled to B without re-stitching the adjusted prices.
        let mut m = store.read_multiple(&code).unwrap().unwrap();
        let b = m.forward_contract[1];
        m.ts.push(3 * DAY);
        m.price.push(100.5);
        m.forward.push(f64::NAN);
        m.carry.push(f64::NAN);
        m.price_contract.push(b);
        m.forward_contract.push(b.next_in(&params.hold_cycle));
        m.carry_contract.push(b.next_in(&params.hold_cycle));
        store.write_multiple(&code, &m).unwrap();
        let before = store.read_adjusted(&code).unwrap();
        match j.update(&code, &params).unwrap() {
            Outcome::RollNotRegistered(detail) => assert!(!detail.is_empty()),
            Outcome::Updated { .. } => panic!("the roll should have been noticed"),
        }
        let after = store.read_multiple(&code).unwrap().unwrap();
        assert_eq!(
            format!("{after:?}"),
            format!("{m:?}"),
            "NaN-aware: unchanged"
        );
        assert_eq!(store.read_adjusted(&code).unwrap(), before);
    }
}
