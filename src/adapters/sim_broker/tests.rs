use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::adapters::store::sqlite::{Durability, SqliteRunStore};
use crate::engine::clock::SystemClock;

fn code() -> InstrumentCode {
    InstrumentCode::new("SOFR").unwrap()
}
fn contract() -> ContractId {
    ContractId::monthly(2027, 3)
}

fn reference() -> Arc<ReferenceData> {
    let mut r = ReferenceData::default();
    r.instruments.insert(
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
    Arc::new(r)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 23, 0, 0).unwrap()
}

/// A simulated broker on a fresh run store in its own temporary directory, quoting
/// [`code`]/[`contract`] at 99 / 101.
struct Sim {
    dir: tempfile::TempDir,
    store: SqliteRunStore,
    quotes: Arc<ManualQuotes>,
    broker: SimBroker,
}

impl Sim {
    async fn new() -> Sim {
        let quotes = Arc::new(ManualQuotes::default());
        quotes.set(&code(), contract(), 99.0, 101.0, t0());
        Sim::open(tempfile::tempdir().unwrap(), quotes).await
    }

    /// A new one with `faults` injected.
    async fn with_faults(faults: SimFaults) -> Sim {
        let s = Sim::new().await;
        s.broker.set_faults(faults);
        s
    }

    /// A broker on the run store in `dir` (created if new).
    async fn open(dir: tempfile::TempDir, quotes: Arc<ManualQuotes>) -> Sim {
        let store = SqliteRunStore::open(&dir.path().join("s.db"), Durability::Normal)
            .await
            .unwrap();
        let broker = SimBroker::new(
            store.pool().clone(),
            quotes.clone(),
            reference(),
            Arc::new(SystemClock),
            1_000_000.0,
            "USD",
            SimFaults::default(),
        );
        Sim {
            dir,
            store,
            quotes,
            broker,
        }
    }

    /// Closes the store and starts a new broker on the same file and quotes.
    async fn restart(self) -> Sim {
        self.store.close().await;
        Sim::open(self.dir, self.quotes).await
    }

    async fn place(&self, r: &str, qty: i64, pricing: OrderPricing) -> OrderState {
        self.broker
            .place_order(&order(r, qty, pricing))
            .await
            .unwrap()
    }

    async fn market(&self, r: &str, qty: i64) -> OrderState {
        self.place(r, qty, OrderPricing::Market).await
    }

    async fn limit(&self, r: &str, qty: i64, price: f64) -> OrderState {
        self.place(r, qty, OrderPricing::Limit { price }).await
    }

    /// The error placing `o` fails with (panics if it is accepted).
    async fn refused(&self, o: OrderRequest) -> BrokerError {
        self.broker.place_order(&o).await.unwrap_err()
    }

    async fn status(&self, broker_id: &str) -> OrderStatus {
        self.broker.order_state(broker_id).await.unwrap().status
    }

    /// The position in the one quoted contract.
    async fn position(&self) -> i64 {
        let p = self.broker.positions().await.unwrap();
        assert!(p.iter().all(|p| p.contract == contract()), "{p:?}");
        p.iter().map(|p| p.quantity).sum()
    }

    async fn executions(&self) -> Vec<Execution> {
        self.broker.executions(None).await.unwrap()
    }
}

fn order(r: &str, qty: i64, pricing: OrderPricing) -> OrderRequest {
    OrderRequest {
        order_ref: r.into(),
        instrument: code(),
        contract: contract(),
        quantity: qty,
        pricing,
    }
}

#[tokio::test]
async fn market_orders_fill_at_the_touch_with_commission() {
    let s = Sim::new().await;
    let o = s.market("a", 3).await;
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.avg_fill_price, Some(101.0));
    let o = s.market("b", -1).await;
    assert_eq!(o.avg_fill_price, Some(99.0));
    let p = s.broker.positions().await.unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].quantity, 2);
    let e = s.executions().await;
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].commission, 6.0);
    // value: 1e6 − 3×101×2500 + 99×2500 − 8 commission + 2 × 100 × 2500 (mid)
    let v = s.broker.account_value("USD").await.unwrap();
    let expect = 1_000_000.0 - 3.0 * 101.0 * 2500.0 + 99.0 * 2500.0 - 8.0 + 2.0 * 100.0 * 2500.0;
    assert!((v.value - expect).abs() < 1e-6, "{v:?}");
    assert!((v.margin_used - 0.1 * 500_000.0).abs() < 1e-6);
    assert!(matches!(
        s.broker.account_value("EUR").await,
        Err(BrokerError::Currency { .. })
    ));
}

#[tokio::test]
async fn limit_orders_rest_until_the_touch_crosses() {
    let s = Sim::new().await;
    let o = s.limit("a", 2, 100.0).await;
    assert_eq!(o.status, OrderStatus::Submitted);
    assert_eq!(s.broker.open_orders().await.unwrap().len(), 1);
    s.quotes.set(&code(), contract(), 98.5, 99.5, t0());
    let o = s.broker.order_state(&o.broker_id).await.unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.avg_fill_price, Some(99.5));
    // a sell limit above the market rests; modify brings it into the market
    let o = s.limit("b", -2, 105.0).await;
    assert_eq!(o.status, OrderStatus::Submitted);
    let o = s.broker.modify_order(&o.broker_id, 98.0).await.unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.avg_fill_price, Some(98.5));
    // cancel of a resting order
    let o = s.limit("c", 1, 50.0).await;
    let o = s.broker.cancel_order(&o.broker_id).await.unwrap();
    assert_eq!(o.status, OrderStatus::Cancelled);
    assert!(s.broker.open_orders().await.unwrap().is_empty());
    assert!(matches!(
        s.broker.order_state("sim-99").await,
        Err(BrokerError::UnknownOrder { .. })
    ));
}

#[tokio::test]
async fn rejects_duplicate_refs_bad_orders_and_unknown_contracts() {
    let s = Sim::new().await;
    s.market("a", 1).await;
    let e = s.refused(order("a", 1, OrderPricing::Market)).await;
    assert!(matches!(e, BrokerError::Rejected { .. }) && !e.is_retryable());
    s.refused(order("z", 0, OrderPricing::Market)).await;
    s.refused(order(" ", 1, OrderPricing::Market)).await;
    let mut o = order("u", 1, OrderPricing::Market);
    o.instrument = InstrumentCode::new("NOPE").unwrap();
    assert!(matches!(
        s.refused(o).await,
        BrokerError::UnknownContract { .. }
    ));
    assert_eq!(s.executions().await.len(), 1);
}

#[tokio::test]
async fn state_survives_a_restart() {
    let s = Sim::new().await;
    s.market("a", 3).await;
    let resting = s.limit("b", 1, 90.0).await;
    let before = s.broker.account_value("USD").await.unwrap();
    let executions = s.executions().await;
    let filled = s.broker.order_state("sim-1").await.unwrap();
    let s = s.restart().await;
    assert_eq!(s.position().await, 3);
    assert_eq!(s.executions().await, executions);
    assert_eq!(executions.len(), 1);
    assert_eq!(s.broker.order_state("sim-1").await.unwrap(), filled);
    assert_eq!(s.broker.account_value("USD").await.unwrap(), before);
    let open_orders = s.broker.open_orders().await.unwrap();
    assert_eq!(open_orders, vec![resting.clone()]);
    // ids continue; the old ref is still known
    s.refused(order("a", 1, OrderPricing::Market)).await;
    let o = s.market("c", 1).await;
    assert_eq!(o.broker_id, "sim-3");
    assert_eq!(s.executions().await[1].exec_id, "sim-exec-2");
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_of_the_change() {
    let s = Sim::new().await;
    s.market("a", 1).await;
    // another writer takes the next execution's row: the next fill's write fails
    let pool = s.store.pool().clone();
    sqlx::query(
        "INSERT INTO sim_executions VALUES (2, 'x', 'x', 'x', 'SOFR', 20270300, 1, 1.0, \
         '2026-11-20T23:00:00.000000Z', 0.0, 'USD')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let e = s
        .broker
        .place_order(&order("b", 2, OrderPricing::Market))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("UNIQUE"), "{e}");
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT count(*) FROM sim_orders").await, 1);
    assert_eq!(count("SELECT sum(quantity) FROM sim_positions").await, 1);
    assert_eq!(count("SELECT count(*) FROM sim_cash").await, 1);
    // the memory copy was dropped: the broker reads the stored state again
    assert_eq!(s.position().await, 1);
    assert!(s.broker.order_state("sim-2").await.is_err());
}

#[tokio::test]
async fn fault_disconnect_at_the_nth_call_until_reconnect() {
    let s = Sim::with_faults(SimFaults {
        disconnect_at_call: 2,
        ..Default::default()
    })
    .await;
    assert!(s.broker.positions().await.is_ok());
    let e = s.broker.positions().await.unwrap_err();
    assert!(matches!(e, BrokerError::Disconnected { .. }) && e.is_retryable());
    assert!(s.broker.quote(&code(), contract()).await.is_err());
    assert!(!s.broker.health().await.connected);
    s.broker.set_faults(SimFaults::default());
    s.broker.reconnect();
    assert!(s.broker.health().await.connected);
    assert!(s.broker.positions().await.is_ok());
}

#[tokio::test]
async fn fault_reject_orders() {
    let s = Sim::with_faults(SimFaults {
        reject_orders: true,
        ..Default::default()
    })
    .await;
    let o = s.market("a", 1).await;
    assert_eq!(o.status, OrderStatus::Rejected);
    assert!(o.reason.unwrap().contains("injected"));
    assert!(s.broker.positions().await.unwrap().is_empty());
    assert_eq!(s.status("sim-1").await, OrderStatus::Rejected);
}

#[tokio::test]
async fn fault_partial_fill_fills_the_rest_on_later_calls() {
    let s = Sim::with_faults(SimFaults {
        partial_fill: 0.5,
        ..Default::default()
    })
    .await;
    let o = s.market("a", 10).await;
    assert_eq!(o.status, OrderStatus::PartiallyFilled);
    assert_eq!(o.filled, 5);
    let o = s.broker.order_state(&o.broker_id).await.unwrap();
    assert_eq!(o.filled, 7);
    // a cancel keeps what filled
    let o = s.broker.cancel_order(&o.broker_id).await.unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Cancelled, 8));
    assert_eq!(s.position().await, 8);
    assert_eq!(s.executions().await.len(), 3);
}

#[tokio::test]
async fn fault_late_fill_waits_for_later_calls() {
    let s = Sim::with_faults(SimFaults {
        late_fill_calls: 2,
        ..Default::default()
    })
    .await;
    let o = s.market("a", 1).await;
    assert_eq!(o.status, OrderStatus::Submitted);
    assert_eq!(s.status(&o.broker_id).await, OrderStatus::Submitted);
    assert_eq!(s.status(&o.broker_id).await, OrderStatus::Filled);
}

#[tokio::test]
async fn fault_duplicate_execution_reports() {
    let s = Sim::new().await;
    s.market("a", 1).await;
    s.broker.set_faults(SimFaults {
        duplicate_executions: true,
        ..Default::default()
    });
    let e = s.executions().await;
    assert_eq!(e.len(), 2);
    assert_eq!(e[0], e[1]);
    assert_eq!(s.position().await, 1);
}

#[tokio::test]
async fn fault_stale_prices_freeze_quotes() {
    let s = Sim::with_faults(SimFaults {
        stale_prices: true,
        ..Default::default()
    })
    .await;
    let quote = || async { s.broker.quote(&code(), contract()).await.unwrap() };
    let q0 = quote().await;
    s.quotes.set(
        &code(),
        contract(),
        120.0,
        121.0,
        t0() + chrono::Duration::hours(1),
    );
    assert_eq!(quote().await, q0);
    let o = s.market("a", 1).await;
    assert_eq!(o.avg_fill_price, Some(101.0));
    s.broker.set_faults(SimFaults::default());
    assert_eq!(quote().await.bid, 120.0);
}

#[tokio::test]
async fn contract_details_and_bars() {
    let s = Sim::new().await;
    let c = s
        .broker
        .contract_details(&code(), contract())
        .await
        .unwrap();
    assert_eq!(c.multiplier, 2500.0);
    assert_eq!(c.expiry, contract().approx_expiry(0));
    let b = s
        .broker
        .historical_bars(&code(), contract(), Frequency::Daily)
        .await
        .unwrap();
    assert_eq!(b.close, vec![100.0]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn positions_and_cash_follow_the_executions(
        trades in proptest::collection::vec((-5i64..=5, 90.0f64..110.0, 0.0f64..0.6), 1..12)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let s = Sim::new().await;
            for (n, (qty, mid, partial)) in trades.iter().enumerate() {
                s.quotes.set(&code(), contract(), mid - 0.5, mid + 0.5, t0());
                s.broker.set_faults(SimFaults { partial_fill: *partial, ..Default::default() });
                let _ = s.broker.place_order(&order(&format!("o{n}"), *qty, OrderPricing::Market)).await;
            }
            s.broker.set_faults(SimFaults::default());
            s.quotes.set(&code(), contract(), 99.5, 100.5, t0());
            let execs = s.executions().await;
            let pos = s.position().await;
            prop_assert_eq!(pos, execs.iter().map(|e| e.quantity).sum::<i64>());
            let cash: f64 = -execs.iter().map(|e| e.quantity as f64 * e.price * 2500.0 + e.commission).sum::<f64>();
            let v = s.broker.account_value("USD").await.unwrap().value;
            let expect = 1_000_000.0 + cash + pos as f64 * 100.0 * 2500.0;
            prop_assert!((v - expect).abs() < 1e-4 * expect.abs().max(1.0), "{} vs {}", v, expect);
            Ok(())
        })?;
    }
}

#[test]
fn stored_quotes_put_the_half_spread_around_the_latest_close() {
    use crate::adapters::parquet::ParquetPriceStore;
    use crate::domain::ports::PriceStore;
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(ParquetPriceStore::new(d.path().to_path_buf()));
    let bars = ContractPrices {
        ts: vec![
            t0().timestamp_micros() - 86_400_000_000,
            t0().timestamp_micros(),
        ],
        open: vec![1.0, 2.0],
        high: vec![1.0, 2.0],
        low: vec![1.0, 2.0],
        close: vec![95.0, 96.0],
        volume: vec![10.0, 20.0],
    };
    store
        .write_contract(&code(), contract(), Frequency::Daily, &bars)
        .unwrap();
    let mut r = (*reference()).clone();
    r.spread_costs.insert(code(), 0.25);
    let q = StoredQuotes::new(store, Arc::new(r));
    let quote = q.quote(&code(), contract()).unwrap();
    assert_eq!((quote.bid, quote.ask, quote.ts), (95.75, 96.25, t0()));
    assert_eq!(q.bars(&code(), contract(), Frequency::Daily).unwrap(), bars);
    assert!(matches!(
        q.quote(&code(), ContractId::monthly(2030, 1)),
        Err(BrokerError::UnknownContract { .. })
    ));
    assert_eq!(q.usd_value("USD").unwrap(), Some(1.0));
    assert_eq!(q.usd_value("EUR").unwrap(), None);
}

#[tokio::test]
async fn a_working_order_without_a_quote_stays_working() {
    let s = Sim::with_faults(SimFaults {
        late_fill_calls: 1,
        ..Default::default()
    })
    .await;
    let mut o = order("a", 1, OrderPricing::Market);
    o.contract = ContractId::monthly(2027, 6);
    // placing needs no quote when the fill is late; the sweep skips the unquoted contract
    let placed = s.broker.place_order(&o).await.unwrap();
    assert_eq!(placed.status, OrderStatus::Submitted);
    assert_eq!(s.broker.open_orders().await.unwrap().len(), 1);
    s.quotes
        .set(&code(), ContractId::monthly(2027, 6), 99.0, 101.0, t0());
    assert!(s.broker.open_orders().await.unwrap().is_empty());
}
