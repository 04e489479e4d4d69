//! The stack handler on the library, against the simulated broker, in the situations that bit
//! users of the Python original: a fill that arrives after its order was cancelled, a force-roll
//! order and a strategy order for the same instrument at the same time, a roll in `close` with
//! orders on the stack, a balance trade that offsets a position break, and an order refused
//! because its contract expired.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use systrade::adapters::parquet::ParquetPriceStore;
use systrade::adapters::sim_broker::{ManualQuotes, SimBroker, SimFaults};
use systrade::adapters::store::sqlite::{Durability, SqliteRunStore};
use systrade::domain::broker::*;
use systrade::domain::contract::ContractId;
use systrade::domain::execution::BestExecutionParams;
use systrade::domain::instrument::{Instrument, InstrumentCode, ReferenceData};
use systrade::domain::metadata::RollStateStore;
use systrade::domain::orders::handler::{PassReport, StackHandler};
use systrade::domain::orders::*;
use systrade::domain::ports::{Frequency, PriceStore};
use systrade::domain::rolls::RollState;
use systrade::domain::series::{ContractPrices, FxPrices, MultiplePrices};
use systrade::engine::clock::SystemClock;

fn sp500() -> InstrumentCode {
    InstrumentCode::new("SP500").expect("code")
}

fn dec() -> ContractId {
    ContractId::monthly(2026, 12)
}

fn mar() -> ContractId {
    ContractId::monthly(2027, 3)
}

/// A broker that passes everything to the simulated one, plus executions (and the positions
/// they make) injected by the test: fills the simulated broker would not produce by itself.
struct Injecting {
    inner: SimBroker,
    extra: Mutex<Vec<Execution>>,
    /// (trading hours, time zone) the contract details report instead of the simulated ones.
    hours: Mutex<Option<(String, String)>>,
}

impl Injecting {
    fn inject(&self, e: Execution) {
        self.extra.lock().expect("lock").push(e);
    }
}

#[async_trait]
impl Broker for Injecting {
    fn kind(&self) -> &'static str {
        "injecting"
    }
    async fn health(&self) -> ConnectionHealth {
        self.inner.health().await
    }
    async fn account_value(&self, c: &str) -> Result<AccountValue, BrokerError> {
        self.inner.account_value(c).await
    }
    async fn positions(&self) -> Result<Vec<BrokerPosition>, BrokerError> {
        let mut positions = self.inner.positions().await?;
        for e in self.extra.lock().expect("lock").iter() {
            match positions
                .iter_mut()
                .find(|p| p.instrument == e.instrument && p.contract == e.contract)
            {
                Some(p) => p.quantity += e.quantity,
                None => positions.push(BrokerPosition {
                    instrument: e.instrument.clone(),
                    contract: e.contract,
                    quantity: e.quantity,
                }),
            }
        }
        Ok(positions)
    }
    async fn contract_details(
        &self,
        i: &InstrumentCode,
        c: ContractId,
    ) -> Result<ContractDetails, BrokerError> {
        let mut details = self.inner.contract_details(i, c).await?;
        if let Some((hours, zone)) = self.hours.lock().expect("lock").clone() {
            details.trading_hours = hours;
            details.time_zone = zone;
        }
        Ok(details)
    }
    async fn historical_bars(
        &self,
        i: &InstrumentCode,
        c: ContractId,
        f: Frequency,
    ) -> Result<ContractPrices, BrokerError> {
        self.inner.historical_bars(i, c, f).await
    }
    async fn fx_history(&self, c: &str) -> Result<FxPrices, BrokerError> {
        self.inner.fx_history(c).await
    }
    async fn quote(&self, i: &InstrumentCode, c: ContractId) -> Result<Quote, BrokerError> {
        self.inner.quote(i, c).await
    }
    async fn place_order(&self, o: &OrderRequest) -> Result<OrderState, BrokerError> {
        self.inner.place_order(o).await
    }
    async fn modify_order(&self, id: &str, p: f64) -> Result<OrderState, BrokerError> {
        self.inner.modify_order(id, p).await
    }
    async fn cancel_order(&self, id: &str) -> Result<OrderState, BrokerError> {
        self.inner.cancel_order(id).await
    }
    async fn order_state(&self, id: &str) -> Result<OrderState, BrokerError> {
        self.inner.order_state(id).await
    }
    async fn open_orders(&self) -> Result<Vec<OrderState>, BrokerError> {
        self.inner.open_orders().await
    }
    async fn executions(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Execution>, BrokerError> {
        let mut all = self.inner.executions(since).await?;
        all.extend(self.extra.lock().expect("lock").iter().cloned());
        Ok(all)
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: SqliteRunStore,
    prices: ParquetPriceStore,
    broker: Injecting,
    best: BestExecutionParams,
}

impl World {
    /// SP500 priced in December with March as the forward, quoted 99 / 101 in both.
    async fn new() -> World {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteRunStore::open(&dir.path().join("systrade.db"), Durability::Normal)
            .await
            .expect("store");
        let prices = ParquetPriceStore::new(dir.path().join("data"));
        prices
            .write_multiple(
                &sp500(),
                &MultiplePrices {
                    ts: vec![1_700_000_000_000_000],
                    price: vec![100.0],
                    forward: vec![100.0],
                    carry: vec![100.0],
                    price_contract: vec![dec()],
                    forward_contract: vec![mar()],
                    carry_contract: vec![mar()],
                },
            )
            .expect("multiple prices");
        let quotes = Arc::new(ManualQuotes::default());
        for c in [dec(), mar()] {
            quotes.set(&sp500(), c, 99.0, 101.0, Utc::now());
        }
        let mut reference = ReferenceData::default();
        reference.instruments.insert(
            sp500(),
            Instrument {
                code: sp500(),
                description: "S&P 500".into(),
                point_size: 50.0,
                currency: "USD".into(),
                asset_class: "Equity".into(),
                per_block: 2.0,
                percentage: 0.0,
                per_trade: 0.0,
                region: "US".into(),
            },
        );
        let broker = SimBroker::new(
            store.pool().clone(),
            quotes,
            Arc::new(reference),
            Arc::new(SystemClock),
            1_000_000.0,
            "USD",
            SimFaults::default(),
        );
        World {
            _dir: dir,
            store,
            prices,
            broker: Injecting {
                inner: broker,
                extra: Mutex::new(Vec::new()),
                hours: Mutex::new(None),
            },
            best: BestExecutionParams {
                passive_timeout: chrono::Duration::zero(),
                ..Default::default()
            },
        }
    }

    async fn pass(&self) -> PassReport {
        let now = Utc::now;
        let handler = StackHandler {
            orders: &self.store,
            broker: &self.broker,
            rolls: &self.store,
            contracts: &self.store,
            controls: &self.store,
            prices: &self.prices,
            best: self.best,
            now: &now,
            cache: Default::default(),
        };
        handler.pass(&|_: &str| {}).await.expect("pass")
    }

    /// Passes until the instrument stack is empty (at most 20).
    async fn until_idle(&self) -> Vec<PassReport> {
        let mut reports = Vec::new();
        for _ in 0..20 {
            reports.push(self.pass().await);
            if self
                .store
                .instrument_orders(true)
                .await
                .expect("orders")
                .is_empty()
            {
                break;
            }
        }
        reports
    }

    async fn order(&self, trade: i64, order_type: OrderType) -> InstrumentOrder {
        match self
            .store
            .add_instrument_order(&NewInstrumentOrder {
                strategy: "demo".into(),
                instrument: sp500(),
                trade,
                order_type,
                limit_price: None,
                reference_price: Some(100.0),
                reference_contract: Some(dec()),
                reference_time: Some(Utc::now()),
                generated_at: Utc::now(),
                manual: false,
                roll_order: false,
            })
            .await
            .expect("add")
        {
            AddOutcome::Added { order } => *order,
            other => panic!("not added: {other:?}"),
        }
    }

    async fn roll_state(&self, state: RollState) {
        self.store
            .set_roll_state(&sp500(), None, state, Utc::now(), None)
            .await
            .expect("roll state");
    }

    async fn contract_position(&self, c: ContractId) -> i64 {
        self.store
            .contract_positions()
            .await
            .expect("positions")
            .iter()
            .filter(|p| p.contract == c)
            .map(|p| p.position)
            .sum()
    }

    async fn strategy_position(&self) -> i64 {
        self.store
            .strategy_positions()
            .await
            .expect("positions")
            .iter()
            .filter(|p| p.strategy == "demo")
            .map(|p| p.position)
            .sum()
    }

    async fn broker_position(&self, c: ContractId) -> i64 {
        self.broker
            .positions()
            .await
            .expect("positions")
            .iter()
            .filter(|p| p.contract == c)
            .map(|p| p.quantity)
            .sum()
    }

    /// Contract positions agree with the broker's in both contracts.
    async fn agrees(&self) {
        for c in [dec(), mar()] {
            assert_eq!(
                self.contract_position(c).await,
                self.broker_position(c).await,
                "{c}"
            );
        }
    }

    /// 3 contracts held in December, bought through the handler.
    async fn holding_three(&self) {
        self.order(3, OrderType::Market).await;
        self.until_idle().await;
        assert_eq!(self.contract_position(dec()).await, 3);
        self.agrees().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_after_its_order_was_cancelled_is_booked_locked_and_never_overfills() {
    let mut w = World::new().await;
    w.best = BestExecutionParams {
        passive_timeout: chrono::Duration::hours(1),
        total_timeout: chrono::Duration::hours(2),
        ..Default::default()
    };
    w.order(2, OrderType::Best).await;
    w.pass().await;
    let first = w.store.broker_orders(true).await.expect("orders")[0].clone();
    assert_eq!(
        (first.status, first.order_type, first.limit_price),
        (BrokerOrderStatus::Sent, OrderType::Limit, Some(99.0)),
        "a passive limit at the bid"
    );
    // The algo gives up on it (as at its time-out): cancelled at the broker, sent again.
    let broker_id = first.broker_id.clone().expect("broker id");
    w.broker.cancel_order(&broker_id).await.expect("cancel");
    w.store
        .update_broker_order(
            first.id,
            &BrokerOrderUpdate {
                status: Some(BrokerOrderStatus::Cancelled),
                reason: Some("best execution timed out".into()),
                ..Default::default()
            },
        )
        .await
        .expect("cancelled");
    w.pass().await;
    let live: Vec<BrokerOrder> = w
        .store
        .broker_orders(true)
        .await
        .expect("orders")
        .into_iter()
        .filter(|b| b.status == BrokerOrderStatus::Sent)
        .collect();
    assert_eq!(live.len(), 1, "the rest is sent again");
    // The cancelled order fills after all (IB's error 10349 case).
    w.broker.inject(Execution {
        exec_id: "late-1".into(),
        broker_id,
        order_ref: first.order_ref.clone(),
        instrument: sp500(),
        contract: dec(),
        quantity: 2,
        price: 99.0,
        ts: Utc::now(),
        commission: 4.0,
        commission_currency: "USD".into(),
    });
    let report = w.pass().await;
    assert!(
        report.cancelled >= 1,
        "the replacement is cancelled: {report:?}"
    );
    assert_eq!(w.strategy_position().await, 2, "the position stays true");
    w.agrees().await;
    let locks = w.store.locks().await.expect("locks");
    assert_eq!(locks.len(), 1);
    assert!(
        locks[0].reason.contains("fill after cancel"),
        "{}",
        locks[0].reason
    );
    // Locked: nothing more is sent; the family completes, filled once.
    w.until_idle().await;
    let history = w.store.instrument_orders(false).await.expect("history");
    assert_eq!((history[0].trade, history[0].fill), (2, 2));
    assert_eq!(w.strategy_position().await, 2);
    w.agrees().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_roll_and_a_strategy_order_for_the_same_instrument() {
    let w = World::new().await;
    w.holding_three().await;
    w.roll_state(RollState::Force).await;
    w.order(2, OrderType::Market).await;
    let reports = w.until_idle().await;
    assert_eq!(
        reports.iter().map(|r| r.force_rolls).sum::<usize>(),
        1,
        "{reports:?}"
    );
    // The roll moved the December position to March; the strategy's order, waiting while
    // the roll was on (it does not reduce the position), then went to March.
    assert_eq!(w.contract_position(dec()).await, 0);
    assert_eq!(w.contract_position(mar()).await, 5);
    assert_eq!(w.strategy_position().await, 5);
    w.agrees().await;
    let history = w.store.instrument_orders(false).await.expect("history");
    let roll = history
        .iter()
        .find(|o| o.order_type == OrderType::ZeroRoll)
        .expect("the zero-roll order");
    assert_eq!(
        (roll.strategy.as_str(), roll.trade),
        (ROLL_PSEUDO_STRATEGY, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roll_in_close_with_an_order_on_the_stack() {
    let w = World::new().await;
    w.holding_three().await;
    w.roll_state(RollState::Close).await;
    let waiting = w.order(2, OrderType::Market).await;
    let first = w.pass().await;
    assert_eq!(first.force_rolls, 1, "{first:?}");
    assert!(
        first
            .notes
            .iter()
            .any(|n| n.contains(&format!("order {}", waiting.id))),
        "the strategy order waits: {first:?}"
    );
    w.until_idle().await;
    // Closed in December (−3), then the waiting +2 went to the forward.
    assert_eq!(w.contract_position(dec()).await, 0);
    assert_eq!(w.contract_position(mar()).await, 2);
    assert_eq!(w.strategy_position().await, 2);
    w.agrees().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balance_trade_offsets_a_position_break() {
    let w = World::new().await;
    // Someone bought 1 December on the broker's own screen.
    w.broker
        .place_order(&OrderRequest {
            order_ref: "by-hand".into(),
            instrument: sp500(),
            contract: dec(),
            quantity: 1,
            pricing: OrderPricing::Market,
        })
        .await
        .expect("by hand");
    w.order(2, OrderType::Market).await;
    let report = w.pass().await;
    assert_eq!(report.locked, vec!["SP500".to_string()], "{report:?}");
    assert_eq!(report.sent, 0, "a broken instrument does not trade");
    w.store
        .balance_trade(&BalanceTrade {
            strategy: "demo".into(),
            instrument: sp500(),
            contract: dec(),
            quantity: 1,
            price: 100.0,
            at: Utc::now(),
        })
        .await
        .expect("balance");
    let report = w.pass().await;
    assert_eq!(report.unlocked, vec!["SP500".to_string()], "{report:?}");
    w.until_idle().await;
    assert_eq!(w.contract_position(dec()).await, 3);
    assert_eq!(w.strategy_position().await, 3);
    w.agrees().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_market_gets_nothing_and_a_closing_one_no_passive_order() {
    let mut w = World::new().await;
    w.best = BestExecutionParams {
        passive_timeout: chrono::Duration::hours(1),
        total_timeout: chrono::Duration::hours(2),
        ..Default::default()
    };
    let session = |from: DateTime<Utc>, to: DateTime<Utc>| {
        format!(
            "{}-{}",
            from.format("%Y%m%d:%H%M"),
            to.format("%Y%m%d:%H%M")
        )
    };
    let now = Utc::now();
    // Closed: the session ended an hour ago.
    *w.broker.hours.lock().expect("lock") = Some((
        session(
            now - chrono::Duration::hours(9),
            now - chrono::Duration::hours(1),
        ),
        "UTC".into(),
    ));
    w.order(2, OrderType::Best).await;
    let report = w.pass().await;
    assert_eq!(report.sent, 0, "{report:?}");
    assert!(
        report.notes.iter().any(|n| n.contains("is closed")),
        "{report:?}"
    );
    // Open, closing in 10 minutes: no time for a passive limit, a market order instead.
    *w.broker.hours.lock().expect("lock") = Some((
        session(
            now - chrono::Duration::hours(8),
            now + chrono::Duration::minutes(10),
        ),
        "UTC".into(),
    ));
    let report = w.pass().await;
    assert_eq!(report.sent, 1, "{report:?}");
    let history = w.store.broker_orders(false).await.expect("history");
    let sent = history
        .iter()
        .chain(w.store.broker_orders(true).await.expect("active").iter())
        .find(|b| b.algo == "best")
        .cloned()
        .expect("the best-execution order");
    assert_eq!(sent.order_type, OrderType::Market);
    w.until_idle().await;
    assert_eq!(w.strategy_position().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_order_is_spawned_into_an_expired_contract() {
    use systrade::domain::metadata::ContractStore;
    use systrade::domain::sampling::StoredContract;
    let w = World::new().await;
    w.holding_three().await;
    // December expired yesterday (the contract table says so).
    let yesterday = Utc::now().date_naive() - chrono::Duration::days(1);
    w.store
        .upsert_contract(
            &sp500(),
            &StoredContract {
                contract: dec(),
                expiry: yesterday,
                expiry_is_exact: true,
                sampling: true,
            },
            Utc::now(),
        )
        .await
        .expect("contract");
    let refused = w.order(1, OrderType::Market).await;
    let reports = w.until_idle().await;
    assert!(
        reports.iter().all(|r| r.spawned == 0 && r.sent == 0),
        "{reports:?}"
    );
    let warning = format!(
        "SP500: order {} is not traded: contract 20261200 expired on {yesterday}; set \
         `systrade roll SP500 --state force` to roll the position of +3 into the forward contract",
        refused.id
    );
    assert_eq!(reports[0].warnings, vec![warning], "{reports:?}");
    assert_eq!(w.contract_position(dec()).await, 3);
    // In passive the opening trade goes to the forward, which has not expired: it is traded.
    w.roll_state(RollState::Passive).await;
    let reports = w.until_idle().await;
    assert!(reports.iter().all(|r| r.warnings.is_empty()), "{reports:?}");
    assert_eq!(w.contract_position(dec()).await, 3);
    assert_eq!(w.contract_position(mar()).await, 1);
    w.agrees().await;
}
