//! `BrokerMarketData` over a scripted broker: range and clock filtering, from blocking threads
//! and runtime workers; pacing waited out within its budget; broker errors as the market data
//! errors the price tasks tell apart; no dead-lock on a single-thread runtime.

use std::sync::atomic::Ordering;

use super::*;
use crate::test_support::ScriptedBroker;

const DAY: Micros = 86_400_000_000;

fn code() -> InstrumentCode {
    InstrumentCode::new("SP500").expect("code")
}

fn dec26() -> ContractId {
    ContractId::monthly(2026, 12)
}

/// Ten daily bars (closes 100..109) and ten FX rates (1.00..1.09), days 1 to 10.
fn scripted() -> Arc<ScriptedBroker> {
    let mut broker = ScriptedBroker::with_account(1.0);
    for day in 1..=10 {
        let x = day as f64 - 1.0;
        broker.bars.ts.push(day * DAY);
        broker.bars.open.push(100.0 + x);
        broker.bars.high.push(100.5 + x);
        broker.bars.low.push(99.5 + x);
        broker.bars.close.push(100.0 + x);
        broker.bars.volume.push(10.0);
        broker.fx.ts.push(day * DAY);
        broker.fx.value.push(1.0 + x / 100.0);
    }
    broker.expiry = chrono::NaiveDate::from_ymd_opt(2026, 12, 18);
    Arc::new(broker)
}

fn source(broker: &Arc<ScriptedBroker>, now: Micros) -> Arc<BrokerMarketData> {
    Arc::new(BrokerMarketData::new(
        broker.clone(),
        Some(tokio::runtime::Handle::current()),
        now,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bars_and_fx_are_cut_to_the_range_and_the_clock_from_blocking_and_worker_threads() {
    let broker = scripted();
    let market = source(&broker, 8 * DAY);
    // From a blocking thread, as update_historical_prices calls it.
    let m = market.clone();
    let bars = tokio::task::spawn_blocking(move || {
        m.contract_bars(&code(), dec26(), Frequency::Daily, 3 * DAY, 100 * DAY)
    })
    .await
    .expect("join")
    .expect("bars");
    assert_eq!(bars.ts, (3..=8).map(|d| d * DAY).collect::<Vec<_>>());
    assert_eq!(bars.close.first(), Some(&102.0));
    assert_eq!(
        (
            bars.open.len(),
            bars.high.len(),
            bars.low.len(),
            bars.volume.len()
        ),
        (6, 6, 6, 6)
    );
    // From a runtime worker, as update_fx_prices calls it.
    let fx = market.fx_rates("EUR", 0, 5 * DAY).expect("fx");
    assert_eq!(fx.ts, (1..=5).map(|d| d * DAY).collect::<Vec<_>>());
    assert!((fx.value[4] - 1.04).abs() < 1e-12);
    assert_eq!(
        market.contract_expiry(&code(), dec26()).expect("expiry"),
        chrono::NaiveDate::from_ymd_opt(2026, 12, 18)
    );
    assert!(!market.serves_full_history());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pacing_refusal_is_waited_out_and_the_request_sent_again() {
    let broker = scripted();
    let pacing = |seconds: f64| BrokerError::Pacing {
        detail: "60 requests in 10 minutes".into(),
        retry_after_seconds: seconds,
    };
    broker.fail_next([pacing(0.05), pacing(0.05)]);
    let market = source(&broker, 10 * DAY);
    let bars = market
        .contract_bars(&code(), dec26(), Frequency::Hourly, 0, 10 * DAY)
        .expect("bars after two pauses");
    assert_eq!(bars.len(), 10);
    assert_eq!(broker.calls.load(Ordering::SeqCst), 3);

    // Beyond the budget: unavailable (the node fails and is retried later), not a long sleep.
    broker.fail_next([pacing(30.0)]);
    let market = BrokerMarketData::new(
        broker.clone(),
        Some(tokio::runtime::Handle::current()),
        10 * DAY,
    )
    .with_max_pacing_wait(Duration::from_secs(1));
    let started = std::time::Instant::now();
    let e = market.fx_rates("EUR", 0, 10 * DAY).expect_err("gives up");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("gave up on EUR spot FX"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_errors_become_the_market_data_errors_the_tasks_tell_apart() {
    let broker = scripted();
    let market = source(&broker, 10 * DAY);
    let bars = |m: &BrokerMarketData| m.contract_bars(&code(), dec26(), Frequency::Daily, 0, DAY);

    broker.fail_next([BrokerError::Timeout {
        call: "historical_bars".into(),
        seconds: 30.0,
    }]);
    assert!(matches!(
        bars(&market),
        Err(MarketDataError::Unavailable(_))
    ));

    broker.fail_next([BrokerError::UnknownContract {
        instrument: code(),
        contract: dec26().to_string(),
        detail: "IB error 200".into(),
    }]);
    assert!(matches!(
        bars(&market),
        Err(MarketDataError::UnknownContract { contract, .. }) if contract == dec26()
    ));

    // No mapping at all (no contract named) and no permission are final, with the broker's words.
    broker.fail_next([
        BrokerError::UnknownContract {
            instrument: code(),
            contract: String::new(),
            detail: "no IB mapping; add a row for it to ib_config_futures.csv".into(),
        },
        BrokerError::NoMarketData {
            instrument: code(),
            detail: "IB error 354".into(),
        },
    ]);
    let e = bars(&market).expect_err("no mapping");
    assert!(
        matches!(&e, MarketDataError::Refused(m) if m.contains("ib_config_futures.csv")),
        "{e}"
    );
    let e = bars(&market).expect_err("no permission");
    assert!(!e.is_retryable() && e.to_string().contains("354"), "{e}");

    // An unlisted contract has no expiry (it is not sampled); a dead broker changes nothing.
    broker.fail_next([BrokerError::UnknownContract {
        instrument: code(),
        contract: dec26().to_string(),
        detail: "IB error 200".into(),
    }]);
    assert_eq!(
        market.contract_expiry(&code(), dec26()).expect("none"),
        None
    );
    broker.fail_next([BrokerError::Disconnected {
        detail: "gateway down".into(),
    }]);
    assert!(matches!(
        market.contract_expiry(&code(), dec26()),
        Err(MarketDataError::Unavailable(_))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn a_single_thread_runtime_is_an_unavailable_source_not_a_dead_lock() {
    let broker = scripted();
    let market = source(&broker, 10 * DAY);
    let e = market.fx_rates("EUR", 0, DAY).expect_err("unavailable");
    assert!(e.to_string().contains("single-thread"), "{e}");
    assert_eq!(broker.calls.load(Ordering::SeqCst), 0);
    let outside = BrokerMarketData::new(broker, None, DAY);
    assert!(matches!(
        outside.fx_rates("EUR", 0, DAY),
        Err(MarketDataError::Unavailable(_))
    ));
}
