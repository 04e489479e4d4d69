//! The fake server against the real `ibapi` client crate, on an ephemeral port.

use std::time::Duration;

use ibapi::accounts::types::AccountGroup;
use ibapi::accounts::{AccountSummaryResult, PositionUpdate};
use ibapi::contracts::{Contract, Currency, Exchange, SecurityType, Symbol};
use ibapi::prelude::{StreamExt, SubscriptionItemStreamExt};
use ibapi::Client;

use super::*;
use crate::adapters::ib::wire::incoming;

pub(crate) const ES: i32 = 495512563;

pub(crate) fn es_dec26() -> FakeContract {
    FakeContract::future(ES, "ES", "CME", "USD", 50.0, "20261218")
}

fn midnight_days_ago(days: i64) -> chrono::DateTime<chrono::Utc> {
    let date = chrono::Utc::now().date_naive() - chrono::Duration::days(days);
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn hour_ago(hours: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now()
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or_else(|_| chrono::Utc::now());
    now - chrono::Duration::hours(hours)
}

fn bar(time: chrono::DateTime<chrono::Utc>, close: f64) -> FakeBar {
    FakeBar {
        time,
        open: close - 1.0,
        high: close + 2.0,
        low: close - 3.0,
        close,
        volume: 1000.0,
    }
}

pub(crate) fn state() -> FakeIbState {
    let value = |tag: &str, value: &str| FakeAccountValue {
        account: "DU1234567".into(),
        tag: tag.into(),
        value: value.into(),
        currency: "USD".into(),
    };
    FakeIbState {
        accounts: vec!["DU1234567".into()],
        account_values: vec![
            value("NetLiquidation", "1000000.00"),
            value("TotalCashValue", "950000.00"),
        ],
        positions: vec![FakePosition {
            account: "DU1234567".into(),
            contract: es_dec26(),
            position: 3.0,
            avg_cost: 301_250.0,
        }],
        contracts: vec![
            es_dec26(),
            FakeContract::future(1001, "GE", "CME", "USD", 2500.0, "20261214"),
        ],
        bar_series: vec![
            FakeBarSeries {
                con_id: ES,
                bar_size: "1 day".into(),
                bars: (1..=5)
                    .map(|days_ago| bar(midnight_days_ago(days_ago), 6000.0 + days_ago as f64))
                    .collect(),
            },
            FakeBarSeries {
                con_id: ES,
                bar_size: "1 hour".into(),
                bars: (1..=3)
                    .map(|hours_ago| bar(hour_ago(hours_ago), 6100.0 + hours_ago as f64))
                    .collect(),
            },
        ],
        quotes: [(
            ES,
            FakeQuote {
                bid: Some(6000.25),
                ask: Some(6000.5),
                last: Some(6000.5),
                bid_size: 12.0,
                ask_size: 7.0,
                last_size: 1.0,
            },
        )]
        .into(),
        next_order_id: 42,
        ..Default::default()
    }
}

pub(crate) async fn start() -> FakeIbServer {
    FakeIbServer::start(state(), 0)
        .await
        .expect("bind an ephemeral port")
}

pub(crate) async fn connect(server: &FakeIbServer, client_id: i32) -> Result<Client, ibapi::Error> {
    let address = server.local_addr().to_string();
    tokio::time::timeout(
        Duration::from_secs(10),
        Client::connect(&address, client_id),
    )
    .await
    .expect("connect must not hang")
}

pub(crate) fn future(symbol: &str, exchange: &str, month: &str) -> Contract {
    Contract {
        symbol: Symbol::from(symbol),
        security_type: SecurityType::Future,
        exchange: Exchange::from(exchange),
        currency: Currency::from("USD"),
        last_trade_date_or_contract_month: month.into(),
        ..Default::default()
    }
}

pub(crate) async fn wait_for_client_ids(server: &FakeIbServer, expected: &[i32]) {
    for _ in 0..200 {
        if server.connected_client_ids() == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.connected_client_ids(), expected);
}

#[tokio::test]
async fn handshake_completes_with_accounts_and_next_order_id() {
    let server = start().await;
    let client = connect(&server, 17).await.expect("handshake");
    assert_eq!(client.server_version(), SERVER_VERSION);
    assert_eq!(client.client_id(), 17);
    assert_eq!(client.next_order_id(), 42);
    wait_for_client_ids(&server, &[17]).await;
}

#[tokio::test]
async fn account_summary_returns_the_requested_tags_then_end() {
    let server = start().await;
    let client = connect(&server, 1).await.expect("handshake");
    let mut subscription = client
        .account_summary(&AccountGroup("All".into()), &["NetLiquidation"])
        .await
        .expect("subscribe")
        .filter_data();
    let mut rows = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), subscription.next())
            .await
            .expect("row in time");
        match next {
            Some(Ok(AccountSummaryResult::Summary(row))) => {
                rows.push((row.account, row.tag, row.value, row.currency))
            }
            Some(Ok(AccountSummaryResult::End)) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        rows,
        vec![(
            "DU1234567".into(),
            "NetLiquidation".into(),
            "1000000.00".into(),
            "USD".into()
        )]
    );
}

#[tokio::test]
async fn positions_carry_contract_quantity_and_cost() {
    let server = start().await;
    let client = connect(&server, 2).await.expect("handshake");
    let mut subscription = client.positions().await.expect("subscribe").filter_data();
    let mut positions = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), subscription.next())
            .await
            .expect("row in time");
        match next {
            Some(Ok(PositionUpdate::Position(p))) => positions.push(p),
            Some(Ok(PositionUpdate::PositionEnd)) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(positions.len(), 1);
    let p = &positions[0];
    assert_eq!(p.account, "DU1234567");
    assert_eq!(p.position, 3.0);
    assert_eq!(p.average_cost, 301_250.0);
    assert_eq!(p.contract.contract_id, 495512563);
    assert_eq!(p.contract.symbol, Symbol::from("ES"));
    assert_eq!(p.contract.security_type, SecurityType::Future);
    assert_eq!(p.contract.multiplier, "50");
}

#[tokio::test]
async fn contract_details_match_symbol_exchange_and_month() {
    let server = start().await;
    let client = connect(&server, 3).await.expect("handshake");
    let details = client
        .contract_details(&future("ES", "CME", "202612"))
        .await
        .expect("details");
    assert_eq!(details.len(), 1);
    let d = &details[0];
    assert_eq!(d.contract.contract_id, 495512563);
    assert_eq!(d.contract.last_trade_date_or_contract_month, "20261218");
    assert_eq!(d.contract.exchange, Exchange::from("CME"));
    assert_eq!(d.contract.currency, Currency::from("USD"));
    assert_eq!(d.min_tick, 0.25);
    assert_eq!(d.contract_month, "202612");
}

#[tokio::test]
async fn unknown_contract_is_error_200() {
    let server = start().await;
    let client = connect(&server, 4).await.expect("handshake");
    let err = client
        .contract_details(&future("ZZZ", "CME", "202612"))
        .await
        .expect_err("unknown contract");
    match err {
        ibapi::Error::Notice(notice) => {
            assert_eq!(notice.code, codes::NO_SECURITY_DEFINITION, "{notice:?}")
        }
        other => panic!("expected error 200, got {other:?}"),
    }
    // A wrong month of a known symbol is unknown too, and the connection stays usable.
    assert!(client
        .contract_details(&future("ES", "CME", "202701"))
        .await
        .is_err());
    assert_eq!(
        client
            .contract_details(&future("GE", "", ""))
            .await
            .expect("GE")
            .len(),
        1
    );
}

#[tokio::test]
async fn second_connection_with_the_same_client_id_gets_326_and_the_id_is_freed_on_exit() {
    let server = start().await;
    let first = connect(&server, 9).await.expect("first connection");
    match connect(&server, 9).await {
        Err(ibapi::Error::ClientIdInUse { client_id }) => assert_eq!(client_id, 9),
        Err(other) => panic!("expected ClientIdInUse, got {other:?}"),
        Ok(_) => panic!("a second connection with client id 9 must be refused"),
    }
    // Another id is fine alongside.
    let other = connect(&server, 10).await.expect("client id 10");
    wait_for_client_ids(&server, &[9, 10]).await;
    drop(first);
    drop(other);
    wait_for_client_ids(&server, &[]).await;
    connect(&server, 9)
        .await
        .expect("client id 9 is free again");
}

#[tokio::test]
async fn drop_connections_closes_every_client_and_frees_their_ids() {
    let server = start().await;
    let _client = connect(&server, 5).await.expect("handshake");
    wait_for_client_ids(&server, &[5]).await;
    server.drop_connections();
    wait_for_client_ids(&server, &[]).await;
}

#[tokio::test]
async fn state_changes_are_seen_by_later_requests() {
    let server = start().await;
    let client = connect(&server, 6).await.expect("handshake");
    server.update_state(|s| {
        s.contracts.push(FakeContract::future(
            2002, "ZN", "CBOT", "USD", 1000.0, "20261221",
        ))
    });
    let details = client
        .contract_details(&future("ZN", "CBOT", "202612"))
        .await
        .expect("ZN now known");
    assert_eq!(details[0].contract.contract_id, 2002);
}

/// Sends `API\0` and the version range; returns the server's reply fields, or `None` when
/// the server closes the connection instead.
async fn hello(server: &FakeIbServer, range: &str) -> (TcpStream, Option<Vec<String>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let mut bytes = wire::API_PREFIX.to_vec();
    bytes.extend(wire::frame(range.as_bytes()));
    stream.write_all(&bytes).await.expect("write");
    match tokio::time::timeout(Duration::from_secs(5), wire::read_frame(&mut stream))
        .await
        .expect("answered in time")
    {
        Ok(body) => (stream, Some(wire::split_text_fields(&body))),
        Err(_) => {
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
            (stream, None)
        }
    }
}

#[tokio::test]
async fn clients_outside_both_version_ranges_are_closed() {
    let server = start().await;
    for range in ["v100..156", "v190..212"] {
        let (_, reply) = hello(&server, range).await;
        assert_eq!(reply, None, "{range}");
    }
}

#[tokio::test]
async fn pre_protobuf_clients_get_the_text_encoding_at_178_or_their_maximum() {
    let server = start().await;
    for (range, version) in [("v100..187", 178), ("v157..178", 178), ("v100..160", 160)] {
        let (_, reply) = hello(&server, range).await;
        let reply = reply.expect("version reply");
        assert_eq!(reply[0], version.to_string(), "{range}");
        assert!(reply[1].ends_with("UTC"), "{reply:?}");
    }
    assert_eq!(
        handshake_reply(157, 178, chrono::Utc::now()).map(|(_, encoding)| encoding),
        Some(Encoding::Text { version: 178 })
    );
    assert_eq!(
        handshake_reply(100, 226, chrono::Utc::now()).map(|(_, encoding)| encoding),
        Some(Encoding::Protobuf)
    );
}

#[tokio::test]
async fn text_start_api_is_accepted() {
    use tokio::io::AsyncWriteExt;
    let server = start().await;
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    let mut hello = wire::API_PREFIX.to_vec();
    hello.extend(wire::frame(b"v213..226"));
    stream.write_all(&hello).await.expect("write");
    let reply =
        wire::split_text_fields(&wire::read_frame(&mut stream).await.expect("version reply"));
    assert_eq!(reply[0], SERVER_VERSION.to_string());
    assert!(reply[1].ends_with("UTC"), "{reply:?}");
    stream
        .write_all(&wire::frame(&wire::text_body(
            outgoing::START_API,
            &["2", "31", ""],
        )))
        .await
        .expect("startApi");
    let first = wire::decode_body(&wire::read_frame(&mut stream).await.expect("next valid id"))
        .expect("decode");
    assert_eq!(first.id, incoming::NEXT_VALID_ID);
    assert_eq!(
        first.proto::<proto::NextValidId>().expect("proto").order_id,
        Some(42)
    );
    let second =
        wire::decode_body(&wire::read_frame(&mut stream).await.expect("accounts")).expect("decode");
    assert_eq!(
        second
            .proto::<proto::ManagedAccounts>()
            .expect("proto")
            .accounts_list
            .as_deref(),
        Some("DU1234567")
    );
    wait_for_client_ids(&server, &[31]).await;
}

#[test]
fn unimplemented_requests_get_error_321_with_their_request_id() {
    let body = wire::proto_body(
        10,                                             // reqMktDepth
        &proto::AccountSummaryEnd { req_id: Some(77) }, // any message with field 1 = req id
    );
    let message = wire::decode_body(&body).expect("decode");
    let replies = respond(&mut state(), 7, &message);
    assert_eq!(replies.len(), 1);
    let reply = wire::decode_body(&replies[0]).expect("decode");
    assert_eq!(reply.id, incoming::ERR_MSG);
    let error: proto::ErrorMessage = reply.proto().expect("proto");
    assert_eq!(
        (error.id, error.error_code),
        (Some(77), Some(codes::REQUEST_VALIDATION))
    );
}

#[tokio::test]
async fn daily_bars_come_with_dates_within_the_duration() {
    use ibapi::market_data::historical::{BarSize, BarTimestamp, Duration as IbDuration};
    let server = start().await;
    let client = connect(&server, 11).await.expect("handshake");
    let es = future("ES", "CME", "202612");
    let data = client
        .historical_data(&es, BarSize::Day)
        .duration(IbDuration::days(10))
        .fetch()
        .await
        .expect("bars");
    let closes: Vec<f64> = data.bars.iter().map(|b| b.close).collect();
    assert_eq!(closes, vec![6005.0, 6004.0, 6003.0, 6002.0, 6001.0]);
    // Dates, oldest first, one day apart (checked without the clock, so midnight cannot flake it).
    let dates: Vec<_> = data
        .bars
        .iter()
        .map(|b| match b.date {
            BarTimestamp::Date(d) => d,
            other => panic!("daily bars carry dates, got {other:?}"),
        })
        .collect();
    assert!(
        dates.windows(2).all(|w| (w[1] - w[0]).whole_days() == 1),
        "{dates:?}"
    );
    assert_eq!(
        (data.bars[0].open, data.bars[0].high, data.bars[0].low),
        (6004.0, 6007.0, 6002.0)
    );
    assert!(data.end > data.start);
    let recent = client
        .historical_data(&es, BarSize::Day)
        .duration(IbDuration::days(3))
        .fetch()
        .await
        .expect("bars");
    assert_eq!(recent.bars.len(), 2);
}

#[tokio::test]
async fn hourly_bars_carry_timestamps() {
    use ibapi::market_data::historical::{BarSize, BarTimestamp, Duration as IbDuration};
    let server = start().await;
    let client = connect(&server, 12).await.expect("handshake");
    let data = client
        .historical_data(&future("ES", "CME", "202612"), BarSize::Hour)
        .duration(IbDuration::days(1))
        .fetch()
        .await
        .expect("bars");
    assert_eq!(data.bars.len(), 3);
    let times: Vec<i64> = data
        .bars
        .iter()
        .map(|b| match b.date {
            BarTimestamp::DateTime(t) => t.unix_timestamp(),
            other => panic!("hourly bars carry timestamps, got {other:?}"),
        })
        .collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == 3600), "{times:?}");
    assert!(times.iter().all(|t| t % 3600 == 0), "{times:?}");
}

#[tokio::test]
async fn now_is_the_wall_clock_shifted_by_the_clock_offset() {
    use ibapi::market_data::historical::{BarSize, Duration as IbDuration};
    // A home built under SYSTRADE_NOW 1000 days ago has its bars then, and so does the fake.
    let offset = chrono::Duration::days(-1000);
    let mut shifted = state();
    for series in &mut shifted.bar_series {
        for b in &mut series.bars {
            b.time += offset;
        }
    }
    shifted.clock_offset = offset;
    let now = shifted.now();
    assert!((now - (chrono::Utc::now() + offset)).num_seconds().abs() < 5);
    let server = FakeIbServer::start(shifted, 0).await.expect("bind");
    let client = connect(&server, 14).await.expect("handshake");
    let es = future("ES", "CME", "202612");
    let ask = || {
        client
            .historical_data(&es, BarSize::Day)
            .duration(IbDuration::days(10))
            .fetch()
    };
    let data = ask().await.expect("bars at the shifted now");
    assert_eq!(data.bars.len(), 5);
    // On the wall clock the same request finds nothing (the bug `broker fake-ib` had).
    server.update_state(|s| s.clock_offset = chrono::Duration::zero());
    let none = ask().await;
    assert!(
        matches!(&none, Err(ibapi::Error::Notice(n)) if n.code == codes::HISTORICAL_DATA_ERROR),
        "{none:?}"
    );
}

#[tokio::test]
async fn historical_data_errors_name_their_codes() {
    use ibapi::market_data::historical::{BarSize, Duration as IbDuration};
    let server = start().await;
    let client = connect(&server, 13).await.expect("handshake");
    let no_bars = client
        .historical_data(&future("GE", "CME", ""), BarSize::Day)
        .duration(IbDuration::days(10))
        .fetch()
        .await;
    assert!(
        matches!(&no_bars, Err(ibapi::Error::Notice(n)) if n.code == codes::HISTORICAL_DATA_ERROR),
        "{no_bars:?}"
    );
    let unknown = client
        .historical_data(&future("ZZZ", "CME", ""), BarSize::Day)
        .duration(IbDuration::days(10))
        .fetch()
        .await;
    assert!(
        matches!(&unknown, Err(ibapi::Error::Notice(n)) if n.code == codes::NO_SECURITY_DEFINITION),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn market_data_snapshot_gives_bid_ask_and_last() {
    use ibapi::market_data::realtime::Quote;
    let server = start().await;
    let client = connect(&server, 14).await.expect("handshake");
    let ticks = client
        .market_data(&future("ES", "CME", "202612"))
        .snapshot_once(Duration::from_secs(5))
        .await
        .expect("snapshot");
    let quote = Quote::from_ticks(&ticks);
    assert_eq!(
        (quote.bid, quote.ask, quote.last),
        (Some(6000.25), Some(6000.5), Some(6000.5))
    );
    assert_eq!((quote.bid_size, quote.ask_size), (Some(12.0), Some(7.0)));
}

#[tokio::test]
async fn market_data_for_unknown_or_unquoted_contracts_is_an_error() {
    let server = start().await;
    let client = connect(&server, 15).await.expect("handshake");
    for (symbol, code) in [
        ("ZZZ", codes::NO_SECURITY_DEFINITION),
        ("GE", codes::MARKET_DATA_NOT_SUBSCRIBED),
    ] {
        let mut subscription = client
            .market_data(&future(symbol, "CME", ""))
            .subscribe()
            .await
            .expect("subscribe");
        let first = tokio::time::timeout(Duration::from_secs(5), subscription.next())
            .await
            .expect("reply in time");
        match first {
            Some(Err(ibapi::Error::Notice(n))) => assert_eq!(n.code, code),
            Some(Ok(ibapi::subscriptions::SubscriptionItem::Notice(n))) => assert_eq!(n.code, code),
            other => panic!("{symbol}: expected error {code}, got {other:?}"),
        }
    }
}
