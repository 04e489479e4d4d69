//! Trade limits (§B15) and liquidity sizing (§B19 step 3): the stack handler cutting broker
//! orders to the limits' capacity and the quoted size (through the library, on a simulated
//! broker with quotes set by hand), and `systrade controls trade-limits` through the binary:
//! list, set, reset, delete, the auto-populated limits, and bad input exiting 2 with nothing
//! written.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};

use systrade::adapters::parquet::ParquetPriceStore;
use systrade::adapters::sim_broker::{ManualQuotes, SimBroker, SimFaults};
use systrade::adapters::store::sqlite::{Durability, SqliteRunStore};
use systrade::domain::broker::Broker;
use systrade::domain::contract::ContractId;
use systrade::domain::controls::{ControlStore, StrategyName};
use systrade::domain::execution::BestExecutionParams;
use systrade::domain::instrument::{Instrument, InstrumentCode, ReferenceData};
use systrade::domain::orders::handler::{PassReport, StackHandler};
use systrade::domain::orders::{AddOutcome, NewInstrumentOrder, OrderStore, OrderType};
use systrade::domain::ports::PriceStore;
use systrade::domain::series::MultiplePrices;
use systrade::engine::clock::Clock;

// ---------------------------------------------------------------------------------------------
// The stack handler

fn code() -> InstrumentCode {
    InstrumentCode::new("SOFR").unwrap()
}

fn priced() -> ContractId {
    ContractId::monthly(2027, 3)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

/// A clock the test moves by hand, shared by the handler and the simulated broker.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A run store, a simulated broker quoting SOFR 2027-03 at 99 / 101 (sizes 100), and stored
/// multiple prices whose priced contract is that one.
struct Desk {
    _dir: tempfile::TempDir,
    store: SqliteRunStore,
    prices: ParquetPriceStore,
    quotes: Arc<ManualQuotes>,
    broker: SimBroker,
    clock: TestClock,
}

impl Desk {
    async fn new() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRunStore::open(&dir.path().join("systrade.db"), Durability::Normal)
            .await
            .unwrap();
        let prices = ParquetPriceStore::new(dir.path().join("data"));
        let day = 86_400_000_000i64;
        let last = t0().timestamp_micros();
        prices
            .write_multiple(
                &code(),
                &MultiplePrices {
                    ts: vec![last - 2 * day, last - day],
                    price: vec![99.5, 100.0],
                    forward: vec![99.0, 99.4],
                    carry: vec![f64::NAN, f64::NAN],
                    price_contract: vec![priced(); 2],
                    forward_contract: vec![ContractId::monthly(2027, 6); 2],
                    carry_contract: vec![ContractId::monthly(2026, 12); 2],
                },
            )
            .unwrap();
        let clock = TestClock(Arc::new(Mutex::new(t0())));
        let quotes = Arc::new(ManualQuotes::default());
        quotes.set(&code(), priced(), 99.0, 101.0, t0());
        let mut reference = ReferenceData::default();
        reference.instruments.insert(
            code(),
            Instrument {
                code: code(),
                description: "test".into(),
                point_size: 2500.0,
                currency: "USD".into(),
                asset_class: "STIR".into(),
                per_block: 2.0,
                percentage: 0.0,
                per_trade: 0.0,
                region: "US".into(),
            },
        );
        let broker = SimBroker::new(
            store.pool().clone(),
            quotes.clone(),
            Arc::new(reference),
            Arc::new(clock.clone()),
            1_000_000.0,
            "USD",
            SimFaults::default(),
        );
        Desk {
            _dir: dir,
            store,
            prices,
            quotes,
            broker,
            clock,
        }
    }

    /// One pass of a stack handler on this desk.
    async fn pass(&self) -> PassReport {
        self.pass_with(&|_| {}).await
    }

    /// One pass, calling `hook` at each step boundary (a panic there stands for a crash).
    async fn pass_with(&self, hook: &(dyn Fn(&str) + Send + Sync)) -> PassReport {
        let clock = self.clock.clone();
        let now = move || clock.now();
        let handler = StackHandler {
            orders: &self.store,
            broker: &self.broker,
            rolls: &self.store,
            prices: &self.prices,
            controls: &self.store,
            best: BestExecutionParams::default(),
            now: &now,
        };
        handler.pass(hook).await.unwrap()
    }

    async fn order(&self, strategy: &str, trade: i64, order_type: OrderType, limit: Option<f64>) {
        let added = self
            .store
            .add_instrument_order(&NewInstrumentOrder {
                strategy: strategy.into(),
                instrument: code(),
                trade,
                order_type,
                limit_price: limit,
                reference_price: None,
                reference_contract: None,
                reference_time: Some(self.clock.now()),
                generated_at: self.clock.now(),
                manual: true,
                roll_order: false,
            })
            .await
            .unwrap();
        assert!(matches!(added, AddOutcome::Added { .. }), "{added:?}");
    }

    async fn set_limit(&self, strategy: Option<&str>, period_days: u32, limit: i64) {
        let strategy = strategy.map(|s| StrategyName::new(s).unwrap());
        self.store
            .set_trade_limit(
                strategy.as_ref(),
                &code(),
                period_days,
                limit,
                self.clock.now(),
            )
            .await
            .unwrap();
    }

    /// The trades of every limit (instrument-wide first) as of now.
    async fn traded(&self) -> Vec<i64> {
        self.store
            .trade_limits(self.clock.now())
            .await
            .unwrap()
            .iter()
            .map(|l| l.trades_since_reset)
            .collect()
    }

    /// (trade, order type) of every broker order written, archived or active, by id.
    async fn broker_orders(&self) -> Vec<(i64, OrderType)> {
        let mut all = self.store.broker_orders(false).await.unwrap();
        all.extend(self.store.broker_orders(true).await.unwrap());
        all.sort_by_key(|b| b.id);
        all.into_iter().map(|b| (b.trade, b.order_type)).collect()
    }
}

fn has_note(report: &PassReport, needle: &str) -> bool {
    report.notes.iter().any(|n| n.contains(needle))
}

#[tokio::test]
async fn a_trade_limit_cuts_the_order_and_the_next_pass_sends_nothing() {
    let desk = Desk::new().await;
    desk.set_limit(None, 1, 4).await;
    desk.set_limit(Some("demo"), 1, 6).await;
    desk.set_limit(Some("other"), 1, 1).await;
    desk.order("demo", 10, OrderType::Market, None).await;

    let first = desk.pass().await;
    assert_eq!((first.spawned, first.sent), (1, 1), "{first:?}");
    assert_eq!(desk.broker_orders().await, [(4, OrderType::Market)]);
    assert!(
        has_note(
            &first,
            "trade limit: 10 -> 4 contracts (SOFR per 1 day: 4 of 4 left)"
        ),
        "{first:?}"
    );
    // Counted towards the instrument's and demo's limits, not another strategy's.
    assert_eq!(desk.traded().await, [4, 4, 0]);
    assert_eq!(desk.broker.positions().await.unwrap()[0].quantity, 4);

    // Capacity used: the fill is booked, the 6 left wait.
    let second = desk.pass().await;
    assert_eq!(second.sent, 0, "{second:?}");
    assert!(has_note(&second, "nothing sent this pass"), "{second:?}");
    assert_eq!(desk.broker_orders().await.len(), 1);

    // §E6: a limit lowered below what was traded leaves 0, not a negative capacity that
    // pysystemtrade's maths would turn into a positive order.
    desk.set_limit(None, 1, 2).await;
    let lowered = desk.pass().await;
    assert_eq!(lowered.sent, 0, "{lowered:?}");
    assert!(
        has_note(&lowered, "trade limit: 6 -> 0 contracts"),
        "{lowered:?}"
    );
    assert!(
        has_note(&lowered, "(SOFR per 1 day: 0 of 2 left); nothing sent"),
        "{lowered:?}"
    );
    assert_eq!(
        desk.traded().await,
        [4, 4, 0],
        "trades kept when the limit changes"
    );

    // A day later the period has rolled: 2 more (the lowered limit) go out.
    desk.clock.advance(Duration::days(1) + Duration::minutes(1));
    let next_day = desk.pass().await;
    assert_eq!(next_day.sent, 1, "{next_day:?}");
    assert_eq!(
        desk.broker_orders().await,
        [(4, OrderType::Market), (2, OrderType::Market)]
    );
    assert_eq!(desk.traded().await, [2, 2, 0]);
}

#[tokio::test]
async fn best_execution_is_cut_to_the_size_quoted_on_our_side() {
    let desk = Desk::new().await;
    // A buy trades against the ask: 3 offered (and 100 bid, which §E7 ignores).
    desk.quotes.set_sizes(&code(), priced(), 100.0, 3.0);
    desk.order("demo", 5, OrderType::Best, None).await;
    let first = desk.pass().await;
    assert_eq!(first.sent, 1, "{first:?}");
    let sent = desk.broker_orders().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 3, "{sent:?}");
    assert!(
        has_note(
            &first,
            "liquidity: 5 -> 3 contracts (quoted on our side: 3)"
        ),
        "{first:?}"
    );
    // No trade limit: nothing counted, nothing cut by limits.
    assert!(desk.traded().await.is_empty());
    assert!(!has_note(&first, "trade limit"), "{first:?}");

    // The book was imbalanced against us (3 offered, 100 bid): a market order, filled.
    assert_eq!(sent[0].1, OrderType::Market);
    // Nothing offered now: the 2 left wait (noted), however much is bid.
    desk.quotes.set_sizes(&code(), priced(), 100.0, 0.0);
    let second = desk.pass().await;
    assert!(
        has_note(
            &second,
            "liquidity: 2 -> 0 contracts (quoted on our side: 0); nothing sent"
        ),
        "{second:?}"
    );
    assert_eq!(second.sent, 0);
}

#[tokio::test]
async fn limit_orders_are_not_cut_but_count_towards_the_limits() {
    let desk = Desk::new().await;
    desk.set_limit(None, 1, 4).await;
    desk.order("demo", -10, OrderType::Limit, Some(105.0)).await;
    let first = desk.pass().await;
    assert_eq!(first.sent, 1, "{first:?}");
    assert_eq!(desk.broker_orders().await, [(-10, OrderType::Limit)]);
    assert!(!has_note(&first, "trade limit"), "{first:?}");
    // The sale of 10 counts 10: nothing is left for other orders this period.
    assert_eq!(desk.traded().await, [10]);
    let left = desk.store.trade_limits(desk.clock.now()).await.unwrap();
    assert_eq!(left[0].capacity(), 0);
    desk.order("demo", 1, OrderType::Market, None).await;
    let second = desk.pass().await;
    assert!(has_note(&second, "trade limit: 1 -> 0"), "{second:?}");
}

#[tokio::test]
async fn an_order_a_crash_interrupted_is_counted_when_the_restart_finds_or_sends_it() {
    for step in [
        "after_broker_order_written",
        "after_order_sent",
        "after_order_recorded",
    ] {
        let desk = Arc::new(Desk::new().await);
        desk.set_limit(None, 1, 10).await;
        desk.order("demo", 3, OrderType::Market, None).await;
        let crashing = desk.clone();
        let crashed = tokio::spawn(async move {
            crashing
                .pass_with(&move |at: &str| {
                    if at == step {
                        panic!("crash at {at} (expected by the test)");
                    }
                })
                .await
        })
        .await;
        assert!(crashed.is_err(), "{step}: the pass should have crashed");
        let after = desk.pass().await;
        assert_eq!(
            desk.broker_orders().await,
            [(3, OrderType::Market)],
            "{step}"
        );
        assert_eq!(
            desk.broker.positions().await.unwrap()[0].quantity,
            3,
            "{step}"
        );
        // Counted once whether the crash came before or after the broker had it.
        assert_eq!(desk.traded().await, [3], "{step}: {after:?}");
    }
}
