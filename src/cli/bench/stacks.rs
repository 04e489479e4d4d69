//! `systrade bench --order-stacks`: instrument orders per second through all three stacks to
//! the simulated broker and back as fills, every state change durably committed.
//!
//! Each repetition is a fresh temporary home: a SQLite run store (orders, positions, roll states
//! — all `no_roll` — and the simulated broker's state), Parquet multiple prices for the
//! instruments used (so the handler finds each one's priced contract) and a [`SimBroker`]
//! quoting those contracts by hand. N market instrument orders (manual, so netting does not
//! merge them) over several strategies and instruments go on the instrument stack, then
//! [`StackHandler::pass`] runs until none is active. The time is from the first insert to the
//! last completion. Afterwards every order must be filled and archived, and strategy, contract
//! and broker positions must agree with the trades; otherwise the bench fails.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::profiled::{Orders, Prices, Profile, Rolls, Timed};
use crate::adapters::parquet::ParquetPriceStore;
use crate::adapters::sim_broker::{ManualQuotes, SimBroker, SimFaults};
use crate::adapters::store::sqlite::{Durability, SqliteRunStore};
use crate::domain::broker::Broker;
use crate::domain::contract::ContractId;
use crate::domain::execution::BestExecutionParams;
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::orders::handler::StackHandler;
use crate::domain::orders::{AddOutcome, NewInstrumentOrder, OrderStore, OrderType};
use crate::domain::ports::PriceStore;
use crate::domain::series::MultiplePrices;
use crate::engine::clock::{Clock, SystemClock};

/// Strategies the orders are spread over.
const STRATEGIES: [&str; 4] = ["bench_a", "bench_b", "bench_c", "bench_d"];
/// Instruments the orders are spread over (the first ones of the reference data).
const INSTRUMENTS: usize = 8;
/// A pass that leaves orders active this many times in a row means something is stuck.
const MAX_PASSES: usize = 50;

fn priced() -> ContractId {
    ContractId::monthly(2030, 12)
}

fn forward() -> ContractId {
    ContractId::monthly(2031, 3)
}

/// The `i`th order: strategy, instrument index and signed trade (1–3 contracts, buys and
/// sells in runs of seven).
fn order_spec(i: usize, instruments: usize) -> (&'static str, usize, i64) {
    let strategy = STRATEGIES[i % STRATEGIES.len()];
    let instrument = (i / STRATEGIES.len()) % instruments;
    let size = 1 + (i % 3) as i64;
    let sign = if (i / 7).is_multiple_of(2) { 1 } else { -1 };
    (strategy, instrument, sign * size)
}

/// The best of `repeat` runs of `orders` instrument orders; the profile of the best run.
pub(super) async fn bench_order_stacks(
    reference: Arc<ReferenceData>,
    orders: usize,
    repeat: usize,
) -> anyhow::Result<Value> {
    let codes: Vec<InstrumentCode> = reference
        .instruments
        .keys()
        .take(INSTRUMENTS)
        .cloned()
        .collect();
    anyhow::ensure!(!codes.is_empty(), "no instruments in the reference data");
    let mut best: Option<Value> = None;
    for _ in 0..repeat {
        let run = run_once(reference.clone(), &codes, orders).await?;
        let faster = best
            .as_ref()
            .is_none_or(|b| run["seconds"].as_f64() < b["seconds"].as_f64());
        if faster {
            best = Some(run);
        }
    }
    best.ok_or_else(|| anyhow::anyhow!("no repetition ran"))
}

async fn run_once(
    reference: Arc<ReferenceData>,
    codes: &[InstrumentCode],
    n: usize,
) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let store = SqliteRunStore::open(&dir.path().join("systrade.db"), Durability::Normal).await?;
    let prices = ParquetPriceStore::new(dir.path().join("data"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let quotes = Arc::new(ManualQuotes::default());
    for code in codes {
        prices.write_multiple(code, &multiple_prices(now))?;
        quotes.set(code, priced(), 99.0, 101.0, now);
        quotes.set(code, forward(), 99.5, 101.5, now);
    }
    let broker = SimBroker::new(
        store.pool().clone(),
        quotes,
        reference,
        clock.clone(),
        1_000_000.0,
        "USD",
        SimFaults::default(),
    );
    let profile = Profile::default();
    let timed_orders = Orders {
        inner: &store,
        profile: &profile,
    };
    let timed_broker = Timed {
        inner: &broker,
        profile: &profile,
    };
    let rolls = Rolls {
        inner: &store,
        profile: &profile,
    };
    let timed_prices = Prices {
        inner: &prices,
        profile: &profile,
    };
    let clock_now = {
        let clock = clock.clone();
        move || clock.now()
    };
    let handler = StackHandler {
        orders: &timed_orders,
        broker: &timed_broker,
        rolls: &rolls,
        contracts: &store,
        controls: &store,
        prices: &timed_prices,
        best: BestExecutionParams::default(),
        now: &clock_now,
        cache: Default::default(),
    };
    let hook = |_: &str| {};

    let mut expected: BTreeMap<(String, InstrumentCode), i64> = BTreeMap::new();
    let started = Instant::now();
    for i in 0..n {
        let (strategy, k, trade) = order_spec(i, codes.len());
        let at = clock.now();
        let outcome = timed_orders
            .add_instrument_order(&NewInstrumentOrder {
                strategy: strategy.into(),
                instrument: codes[k].clone(),
                trade,
                order_type: OrderType::Market,
                limit_price: None,
                reference_price: Some(100.0),
                reference_contract: Some(priced()),
                reference_time: Some(at),
                generated_at: at,
                manual: true,
                roll_order: false,
            })
            .await?;
        anyhow::ensure!(
            matches!(outcome, AddOutcome::Added { .. }),
            "instrument order {i} was not added: {outcome:?}"
        );
        *expected
            .entry((strategy.to_string(), codes[k].clone()))
            .or_default() += trade;
    }
    let inserted = started.elapsed().as_secs_f64();
    let mut passes = 0;
    let mut fills = 0;
    loop {
        let report = handler.pass(&hook).await?;
        passes += 1;
        fills += report.fills;
        if store.instrument_orders(true).await?.is_empty() {
            break;
        }
        anyhow::ensure!(
            passes < MAX_PASSES,
            "instrument orders still active after {passes} passes; last pass: {report:?}"
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    verify(&store, &broker, &expected, n).await?;
    Ok(json!({
        "orders": n,
        "strategies": STRATEGIES.len(),
        "instruments": codes.len(),
        "seconds": seconds,
        "insert_seconds": inserted,
        "orders_per_second": n as f64 / seconds,
        "passes": passes,
        "fills": fills,
        "profile": profile.report(),
    }))
}

/// Two daily rows in [`priced`] with [`forward`] as forward and carry.
fn multiple_prices(now: DateTime<Utc>) -> MultiplePrices {
    let t = now.timestamp_micros();
    MultiplePrices {
        ts: vec![t - 86_400_000_000, t],
        price: vec![100.0, 100.5],
        forward: vec![100.2, 100.7],
        carry: vec![100.2, 100.7],
        price_contract: vec![priced(); 2],
        forward_contract: vec![forward(); 2],
        carry_contract: vec![forward(); 2],
    }
}

/// Every order filled and archived; strategy positions as traded; contract positions, their
/// sums per instrument and the broker's positions equal to them.
async fn verify(
    store: &SqliteRunStore,
    broker: &SimBroker,
    expected: &BTreeMap<(String, InstrumentCode), i64>,
    n: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        store.contract_orders(true).await?.is_empty()
            && store.broker_orders(true).await?.is_empty(),
        "contract or broker orders left on the stacks"
    );
    let archived = store.instrument_orders(false).await?;
    anyhow::ensure!(
        archived.len() == n,
        "{} instrument orders archived, expected {n}",
        archived.len()
    );
    if let Some(o) = archived
        .iter()
        .find(|o| o.fill != o.trade || o.completed_at.is_none() || o.cancel_requested)
    {
        anyhow::bail!(
            "instrument order {} archived unfilled: trade {}, fill {}, cancel requested {}",
            o.id,
            o.trade,
            o.fill,
            o.cancel_requested
        );
    }
    let strategy: BTreeMap<(String, InstrumentCode), i64> = store
        .strategy_positions()
        .await?
        .into_iter()
        .filter(|p| p.position != 0)
        .map(|p| ((p.strategy, p.instrument), p.position))
        .collect();
    let wanted: BTreeMap<_, _> = expected
        .iter()
        .filter(|(_, q)| **q != 0)
        .map(|(k, q)| (k.clone(), *q))
        .collect();
    anyhow::ensure!(
        strategy == wanted,
        "strategy positions {strategy:?} are not the trades' sums {wanted:?}"
    );
    let mut per_instrument: BTreeMap<(InstrumentCode, ContractId), i64> = BTreeMap::new();
    for ((_, code), q) in expected {
        *per_instrument.entry((code.clone(), priced())).or_default() += q;
    }
    per_instrument.retain(|_, q| *q != 0);
    let contract: BTreeMap<(InstrumentCode, ContractId), i64> = store
        .contract_positions()
        .await?
        .into_iter()
        .filter(|p| p.position != 0)
        .map(|p| ((p.instrument, p.contract), p.position))
        .collect();
    anyhow::ensure!(
        contract == per_instrument,
        "contract positions {contract:?} do not add up to the strategies' {per_instrument:?}"
    );
    let at_broker: BTreeMap<(InstrumentCode, ContractId), i64> = broker
        .positions()
        .await?
        .into_iter()
        .filter(|p| p.quantity != 0)
        .map(|p| ((p.instrument, p.contract), p.quantity))
        .collect();
    anyhow::ensure!(
        at_broker == contract,
        "the simulated broker holds {at_broker:?}, the system {contract:?}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_small_run_fills_archives_and_agrees() {
        let dir = tempfile::tempdir().expect("dir");
        let reference = crate::adapters::reference_files::load_reference_data(dir.path())
            .expect("shipped reference data");
        let out = bench_order_stacks(Arc::new(reference), 40, 1)
            .await
            .expect("bench");
        assert_eq!(out["orders"], 40);
        assert!(out["passes"].as_u64().is_some_and(|p| p >= 1), "{out}");
        assert!(out["fills"].as_u64().is_some_and(|f| f >= 40), "{out}");
    }

    #[test]
    fn orders_spread_over_strategies_instruments_and_sides() {
        let specs: Vec<_> = (0..64).map(|i| order_spec(i, 8)).collect();
        assert!(specs.iter().any(|s| s.2 > 0) && specs.iter().any(|s| s.2 < 0));
        let keys: std::collections::BTreeSet<_> = specs.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(keys.len(), 32);
    }
}
