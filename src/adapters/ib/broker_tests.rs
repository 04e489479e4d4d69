//! `IbBroker` against the fake TWS: every call, orders and their recovery, and the failures
//! that bite real users (dropped connections, a gateway restart, client id in use, pacing,
//! no market data, unknown contracts, error 10349).

use std::collections::HashSet;
use std::sync::Mutex;

use super::*;
use crate::adapters::ib::fake_server::tests::{connect, state as fake_state, ES};
use crate::adapters::ib::fake_server::{
    FakeAccountValue, FakeContract, FakeFillMode, FakeIbServer, FakeIbState, FakeQuote,
};

/// Leases in memory (the SQLite store has its own tests).
#[derive(Default)]
struct MemoryLeases(Mutex<HashSet<i32>>);

#[async_trait]
impl ClientIdLeases for MemoryLeases {
    async fn acquire(
        &self,
        first: i32,
        last: i32,
        skip: &[i32],
        _: &str,
    ) -> Result<i32, BrokerError> {
        let mut held = lock(&self.0);
        let id = (first..=last)
            .find(|id| !held.contains(id) && !skip.contains(id))
            .ok_or_else(|| BrokerError::Other {
                code: None,
                detail: "no free client id".into(),
            })?;
        held.insert(id);
        Ok(id)
    }
    async fn release(&self, client_id: i32) -> Result<(), BrokerError> {
        lock(&self.0).remove(&client_id);
        Ok(())
    }
    async fn leases(&self) -> Result<Vec<ClientIdLease>, BrokerError> {
        Ok(Vec::new())
    }
    async fn clear_dead(&self) -> Result<usize, BrokerError> {
        Ok(0)
    }
}

const ZC: i32 = 777001;

fn code(s: &str) -> InstrumentCode {
    InstrumentCode::new(s).expect("code")
}

fn dec26() -> ContractId {
    ContractId::monthly(2026, 12)
}

/// The fake's usual state plus corn (IB quotes it in dollars, we in cents) and margin.
fn ib_state() -> FakeIbState {
    let mut state = fake_state();
    state.account_values.push(FakeAccountValue {
        account: "DU1234567".into(),
        tag: "MaintMarginReq".into(),
        value: "12345.5".into(),
        currency: "USD".into(),
    });
    state.contracts.push(FakeContract::future(
        ZC, "ZC", "CBOT", "USD", 5000.0, "20261214",
    ));
    state.quotes.insert(
        ZC,
        FakeQuote {
            bid: Some(4.5),
            ask: Some(4.5025),
            last: Some(4.5),
            bid_size: 3.0,
            ask_size: 4.0,
            last_size: 1.0,
        },
    );
    state
}

fn settings(port: u16) -> IbSettings {
    IbSettings {
        host: "127.0.0.1".into(),
        port,
        account: None,
        client_id_first: 1,
        client_id_last: 5,
        call_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(3),
        disconnect_alert: Duration::from_secs(600),
        messages_per_second: 45,
        purpose: "test".into(),
    }
}

fn broker_for(port: u16, tweak: impl FnOnce(&mut IbSettings)) -> IbBroker {
    let mut settings = settings(port);
    tweak(&mut settings);
    use super::super::contracts::{SHIPPED_IB_CONFIG, SHIPPED_IB_SPOT_FX};
    let contracts = IbContractMap::parse(SHIPPED_IB_CONFIG, "shipped")
        .and_then(|m| m.with_spot_fx(SHIPPED_IB_SPOT_FX, "shipped"))
        .expect("IB config");
    IbBroker::new(
        settings,
        Arc::new(contracts),
        Arc::new(MemoryLeases::default()),
    )
}

async fn setup(tweak: impl FnOnce(&mut FakeIbState)) -> (FakeIbServer, IbBroker) {
    let mut state = ib_state();
    tweak(&mut state);
    let server = FakeIbServer::start(state, 0).await.expect("fake");
    let broker = broker_for(server.local_addr().port(), |_| {});
    (server, broker)
}

/// Daily bars of a spot pair on the last `closes.len()` days before today, oldest first.
fn fx_series(con_id: i32, closes: &[f64]) -> super::super::fake_server::FakeBarSeries {
    let today = Utc::now().date_naive();
    let n = closes.len() as i64;
    super::super::fake_server::FakeBarSeries {
        con_id,
        bar_size: "1 day".into(),
        bars: closes
            .iter()
            .enumerate()
            .map(|(i, &c)| super::super::fake_server::FakeBar {
                time: (today - chrono::Duration::days(n - i as i64))
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .and_utc(),
                open: c,
                high: c,
                low: c,
                close: c,
                volume: 0.0,
            })
            .collect(),
    }
}

#[tokio::test]
async fn spot_fx_comes_as_usd_values_inverting_pairs_quoted_in_usd() {
    let (_server, broker) = setup(|state| {
        state
            .contracts
            .push(FakeContract::forex(900_001, "USD", "JPY"));
        state.bar_series.push(fx_series(900_001, &[150.0, 160.0]));
        state
            .contracts
            .push(FakeContract::forex(900_002, "EUR", "USD"));
        state
            .bar_series
            .push(fx_series(900_002, &[1.08, 1.1, 1.12]));
    })
    .await;
    let jpy = broker.fx_history("JPY").await.expect("JPY");
    assert_eq!(jpy.len(), 2);
    assert!((jpy.value[0] - 1.0 / 150.0).abs() < 1e-15, "{jpy:?}");
    assert!((jpy.value[1] - 1.0 / 160.0).abs() < 1e-15, "{jpy:?}");
    assert!(jpy
        .ts
        .iter()
        .all(|t| t.rem_euclid(86_400_000_000) == 23 * 3_600_000_000));
    let eur = broker.fx_history("EUR").await.expect("EUR");
    assert_eq!(eur.value, vec![1.08, 1.1, 1.12]);

    // Mapped, but IB does not list the pair: final, naming the pair.
    let chf = broker.fx_history("CHF").await.expect_err("CHF");
    assert!(
        matches!(&chf, BrokerError::UnknownCurrency { currency, detail } if currency == "CHF" && detail.contains("CHF.USD")),
        "{chf:?}"
    );
    assert!(!chf.is_retryable());
    // Not mapped: names the file to edit, and asks IB nothing.
    let xyz = broker.fx_history("XYZ").await.expect_err("XYZ");
    assert!(xyz.to_string().contains("ib_config_spot_FX.csv"), "{xyz}");
}

fn market(order_ref: &str, instrument: &str, quantity: i64) -> OrderRequest {
    OrderRequest {
        order_ref: order_ref.into(),
        instrument: code(instrument),
        contract: dec26(),
        quantity,
        pricing: OrderPricing::Market,
    }
}

#[tokio::test]
async fn account_positions_details_bars_and_quotes_come_through() {
    let (_server, broker) = setup(|_| {}).await;
    let value = broker.account_value("USD").await.expect("account");
    assert_eq!((value.value, value.margin_used), (1_000_000.0, 12_345.5));
    assert!(matches!(
        broker.account_value("EUR").await,
        Err(BrokerError::Currency { .. })
    ));

    let positions = broker.positions().await.expect("positions");
    assert_eq!(
        positions,
        vec![BrokerPosition {
            instrument: code("SP500"),
            contract: dec26(),
            quantity: 3
        }]
    );

    let details = broker
        .contract_details(&code("SP500"), dec26())
        .await
        .expect("details");
    assert_eq!(
        details.expiry,
        chrono::NaiveDate::from_ymd_opt(2026, 12, 18).expect("date")
    );
    assert_eq!((details.multiplier, details.min_tick), (50.0, 0.25));
    let corn = broker
        .contract_details(&code("CORN"), dec26())
        .await
        .expect("corn");
    assert_eq!(
        corn.multiplier, 50.0,
        "5000 / price magnifier 100 = the point size"
    );

    let daily = broker
        .historical_bars(&code("SP500"), dec26(), Frequency::Daily)
        .await
        .expect("daily");
    assert_eq!(daily.close, vec![6005.0, 6004.0, 6003.0, 6002.0, 6001.0]);
    assert!(daily
        .ts
        .iter()
        .all(|t| t.rem_euclid(86_400_000_000) == 23 * 3_600_000_000));
    let hourly = broker
        .historical_bars(&code("SP500"), dec26(), Frequency::Hourly)
        .await
        .expect("hourly");
    assert_eq!(hourly.len(), 3);

    let quote = broker.quote(&code("SP500"), dec26()).await.expect("quote");
    assert_eq!(
        (quote.bid, quote.ask, quote.last),
        (6000.25, 6000.5, Some(6000.5))
    );
    let corn = broker
        .quote(&code("CORN"), dec26())
        .await
        .expect("corn quote");
    assert!(
        (corn.bid - 450.0).abs() < 1e-9,
        "IB's 4.5 dollars is our 450 cents: {corn:?}"
    );

    let health = broker.health().await;
    assert!(health.connected && health.last_ok.is_some(), "{health:?}");
}

#[tokio::test]
async fn the_ib_failures_that_bite_are_typed() {
    let (server, broker) = setup(|s| s.pacing_violations = 1).await;
    let unknown = broker
        .contract_details(&code("SP500"), ContractId::monthly(2031, 3))
        .await;
    assert!(
        matches!(unknown, Err(BrokerError::UnknownContract { .. })),
        "{unknown:?}"
    );
    let unmapped = broker.quote(&code("ZZZNOTHING"), dec26()).await;
    assert!(
        matches!(unmapped, Err(BrokerError::UnknownContract { .. })),
        "{unmapped:?}"
    );

    let paced = broker
        .historical_bars(&code("SP500"), dec26(), Frequency::Daily)
        .await;
    match paced {
        Err(e @ BrokerError::Pacing { .. }) => assert!(e.is_retryable()),
        other => panic!("expected a pacing error, got {other:?}"),
    }
    // No bars and no quote for US10 (ZN is unknown to the fake): error 200; the CORN hourly
    // series does not exist: error 162, no data for this request (not a permission error).
    let no_data = broker
        .historical_bars(&code("CORN"), dec26(), Frequency::Hourly)
        .await;
    assert!(
        matches!(&no_data, Err(BrokerError::NoData { .. })),
        "{no_data:?}"
    );
    server.update_state(|s| {
        s.quotes.remove(&ES);
    });
    let no_quote = broker.quote(&code("SP500"), dec26()).await;
    assert!(
        matches!(no_quote, Err(BrokerError::NoMarketData { .. })),
        "{no_quote:?}"
    );
}

#[tokio::test]
async fn a_market_order_fills_once_and_its_reference_is_never_sent_twice() {
    let (server, broker) = setup(|_| {}).await;
    let state = broker
        .place_order(&market("sys-1", "SP500", -2))
        .await
        .expect("place");
    assert_eq!(state.status, OrderStatus::Filled);
    assert_eq!(
        (state.filled, state.avg_fill_price),
        (-2, Some(6000.25)),
        "sold at the bid"
    );
    assert_eq!(state.request.order_ref, "sys-1");

    let again = broker.place_order(&market("sys-1", "SP500", -2)).await;
    assert!(
        matches!(again, Err(BrokerError::Rejected { .. })),
        "{again:?}"
    );
    assert_eq!(server.state().orders.len(), 1);

    let executions = broker.executions(None).await.expect("executions");
    assert_eq!(executions.len(), 1);
    assert_eq!(
        (executions[0].quantity, executions[0].commission),
        (-2, 4.0)
    );
    assert_eq!(executions[0].commission_currency, "USD");
    assert_eq!(
        broker.order_state(&state.broker_id).await.expect("state"),
        OrderState {
            updated_at: state.updated_at,
            ..state.clone()
        }
    );
    assert_eq!(broker.positions().await.expect("positions")[0].quantity, 1);
    let corn = broker
        .place_order(&OrderRequest {
            pricing: OrderPricing::Limit { price: 451.0 },
            ..market("sys-2", "CORN", 1)
        })
        .await
        .expect("corn");
    let price = corn.avg_fill_price.expect("filled");
    assert!(
        (price - 450.25).abs() < 1e-9,
        "filled at the ask, in our cents: {price}"
    );
}

#[tokio::test]
async fn limit_orders_work_change_and_cancel() {
    let (server, broker) = setup(|_| {}).await;
    let order = OrderRequest {
        pricing: OrderPricing::Limit { price: 5990.0 },
        ..market("sys-lmt", "SP500", 1)
    };
    let working = broker.place_order(&order).await.expect("place");
    assert_eq!(working.status, OrderStatus::Submitted);
    assert_eq!(broker.open_orders().await.expect("open").len(), 1);

    let changed = broker
        .modify_order(&working.broker_id, 5995.0)
        .await
        .expect("modify");
    assert_eq!(
        changed.request.pricing,
        OrderPricing::Limit { price: 5995.0 }
    );
    assert_eq!(server.state().orders[0].limit_price, Some(5995.0));

    let cancelled = broker
        .cancel_order(&working.broker_id)
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert!(broker.open_orders().await.expect("open").is_empty());
    assert!(matches!(
        broker.modify_order(&working.broker_id, 6000.0).await,
        Err(BrokerError::UnknownOrder { .. })
    ));
}

#[tokio::test]
async fn an_order_reported_cancelled_with_10349_that_fills_is_filled() {
    let (_server, broker) = setup(|s| s.fill_mode = FakeFillMode::CancelledThenFilled).await;
    let state = broker
        .place_order(&market("sys-10349", "SP500", 1))
        .await
        .expect("place");
    assert_eq!(state.status, OrderStatus::Filled, "{state:?}");
    assert_eq!(state.filled, 1);
}

#[tokio::test]
async fn a_rejected_order_is_a_final_error() {
    let (_server, broker) = setup(|s| s.fill_mode = FakeFillMode::Reject).await;
    let rejected = broker.place_order(&market("sys-rej", "SP500", 1)).await;
    match rejected {
        Err(e @ BrokerError::Rejected { .. }) => assert!(!e.is_retryable()),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_connection_dropped_during_an_order_recovers_it_without_sending_it_twice() {
    let (server, broker) = setup(|s| {
        s.fill_mode = FakeFillMode::Hold;
        s.drop_after_place = 1;
    })
    .await;
    let state = broker
        .place_order(&market("sys-drop", "SP500", 2))
        .await
        .expect("recovered");
    assert_eq!(state.status, OrderStatus::Submitted);
    assert_eq!(state.request.order_ref, "sys-drop");
    let orders = server.state().orders;
    assert_eq!(orders.len(), 1, "sent once: {orders:?}");
    // And a retry by the caller is refused rather than doubled.
    assert!(broker
        .place_order(&market("sys-drop", "SP500", 2))
        .await
        .is_err());
    assert_eq!(server.state().orders.len(), 1);
}

#[tokio::test]
async fn a_gateway_restart_in_the_day_is_survived() {
    let (server, broker) = setup(|s| s.fill_mode = FakeFillMode::Hold).await;
    let working = broker
        .place_order(&market("sys-restart", "SP500", 1))
        .await
        .expect("place");
    let port = server.local_addr().port();
    let saved = server.state();
    server.stop().await;
    let down = broker.account_value("USD").await;
    assert!(down.as_ref().is_err_and(|e| e.is_retryable()), "{down:?}");
    assert!(!broker.health().await.connected);

    let restarted = FakeIbServer::start(saved, port).await.expect("restart");
    let state = broker
        .order_state(&working.broker_id)
        .await
        .expect("state after restart");
    assert_eq!(state.status, OrderStatus::Submitted);
    restarted.update_state(|s| s.fill_mode = FakeFillMode::AtTouch);
    restarted.fill_working_orders();
    let filled = broker
        .order_state(&working.broker_id)
        .await
        .expect("filled");
    assert_eq!(filled.status, OrderStatus::Filled);
}

#[tokio::test]
async fn a_client_id_in_use_is_skipped_and_ids_are_given_back() {
    let (server, broker) = setup(|_| {}).await;
    let _other = connect(&server, 1).await.expect("someone else has id 1");
    broker
        .account_value("USD")
        .await
        .expect("connects with another id");
    assert_eq!(broker.client_id().await, Some(2));
    broker.shutdown().await;
    assert_eq!(broker.client_id().await, None);
}

#[tokio::test]
async fn a_broker_that_is_down_fails_fast_and_raises_the_alert() {
    let server = FakeIbServer::start(ib_state(), 0).await.expect("fake");
    let port = server.local_addr().port();
    server.stop().await;
    let broker = broker_for(port, |s| {
        s.connect_timeout = Duration::from_millis(500);
        s.disconnect_alert = Duration::ZERO;
    });
    let outcome = tokio::time::timeout(Duration::from_secs(10), broker.positions())
        .await
        .expect("must not hang");
    match outcome {
        Err(e @ BrokerError::Disconnected { .. }) => {
            assert!(e.is_retryable());
            assert!(e.to_string().contains(&port.to_string()), "{e}");
        }
        other => panic!("expected disconnected, got {other:?}"),
    }
    assert!(broker.alert_raised());
}

#[tokio::test]
async fn a_gateway_that_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let _hold = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let broker = broker_for(port, |s| s.connect_timeout = Duration::from_millis(300));
    let outcome = tokio::time::timeout(Duration::from_secs(10), broker.account_value("USD"))
        .await
        .expect("must not hang");
    assert!(
        outcome.as_ref().is_err_and(|e| e.is_retryable()),
        "{outcome:?}"
    );
}
