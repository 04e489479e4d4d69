//! The fake server's orders against the real `ibapi` client crate.

use std::time::Duration;

use ibapi::orders::order_builder::{limit_order, market_order};
use ibapi::orders::{Action, ExecutionFilter, Executions, Orders, PlaceOrder};
use ibapi::prelude::StreamExt;
use ibapi::subscriptions::SubscriptionItem;
use ibapi::Client;

use super::*;
use crate::adapters::ib::fake_server::tests::{connect, future, start, ES};
use crate::adapters::ib::fake_server::{FakeIbServer, FakeQuote};

/// Everything a subscription yields until it ends or is quiet for `quiet`.
async fn drain<S>(mut stream: S, quiet: Duration) -> Vec<S::Item>
where
    S: StreamExt + Unpin,
{
    let mut items = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(quiet, stream.next()).await {
        items.push(item);
    }
    items
}

fn es() -> ibapi::contracts::Contract {
    future("ES", "CME", "202612")
}

fn notice_codes<T>(items: &[Result<SubscriptionItem<T>, ibapi::Error>]) -> Vec<i32> {
    items
        .iter()
        .filter_map(|item| match item {
            Ok(SubscriptionItem::Notice(n)) => Some(n.code),
            Err(ibapi::Error::Notice(n)) => Some(n.code),
            _ => None,
        })
        .collect()
}

async fn place(
    client: &Client,
    order: &ibapi::orders::Order,
) -> (i32, Vec<Result<SubscriptionItem<PlaceOrder>, ibapi::Error>>) {
    let id = client.next_order_id();
    let subscription = client.place_order(id, &es(), order).await.expect("send");
    (id, drain(subscription, Duration::from_millis(300)).await)
}

async fn executions(client: &Client) -> Vec<ibapi::orders::ExecutionData> {
    let subscription = client
        .executions(ExecutionFilter::default())
        .await
        .expect("executions");
    drain(subscription, Duration::from_secs(2))
        .await
        .into_iter()
        .filter_map(|item| match item {
            Ok(SubscriptionItem::Data(Executions::ExecutionData(e))) => Some(e),
            _ => None,
        })
        .collect()
}

async fn open_orders(client: &Client) -> Vec<ibapi::orders::OrderData> {
    let subscription = client.all_open_orders().await.expect("open orders");
    drain(subscription, Duration::from_secs(2))
        .await
        .into_iter()
        .filter_map(|item| match item {
            Ok(SubscriptionItem::Data(Orders::OrderData(o))) => Some(o),
            _ => None,
        })
        .collect()
}

fn with_ref(mut order: ibapi::orders::Order, order_ref: &str) -> ibapi::orders::Order {
    order.order_ref = order_ref.into();
    order
}

#[tokio::test]
async fn a_market_order_fills_at_the_touch_with_execution_and_commission() {
    let server = start().await;
    let client = connect(&server, 1).await.expect("handshake");
    let (_, items) = place(&client, &with_ref(market_order(Action::Buy, 2.0), "ref-1")).await;
    let statuses: Vec<String> = items
        .iter()
        .filter_map(|item| match item {
            Ok(SubscriptionItem::Data(PlaceOrder::OrderStatus(s))) => {
                Some(format!("{:?}", s.status))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("Filled"),
        "{items:?}"
    );
    let state = server.state();
    assert_eq!(state.executions.len(), 1);
    assert_eq!(state.executions[0].price, 6000.5, "a buy fills at the ask");
    assert_eq!(state.executions[0].order_ref, "ref-1");
    // ES position was 3; bought 2.
    assert_eq!(state.positions[0].position, 5.0);

    let found = executions(&client).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].execution.order_reference, "ref-1");
    assert_eq!(found[0].execution.shares, 2.0);
    assert_eq!(found[0].contract.contract_id, ES);
}

#[tokio::test]
async fn a_limit_order_waits_until_the_touch_crosses_it_and_the_fill_is_pushed() {
    let server = start().await;
    let client = connect(&server, 2).await.expect("handshake");
    let id = client.next_order_id();
    let subscription = client
        .place_order(
            id,
            &es(),
            &with_ref(limit_order(Action::Sell, 1.0, 6010.0), "ref-2"),
        )
        .await
        .expect("send");
    assert!(
        server.state().executions.is_empty(),
        "bid 6000.25 is below the limit"
    );
    let other = connect(&server, 3).await.expect("second client");
    let open = open_orders(&other).await;
    assert_eq!(open.len(), 1, "another client sees the working order");
    assert_eq!(open[0].order.order_ref, "ref-2");

    server.update_state(|s| {
        s.quotes.insert(
            ES,
            FakeQuote {
                bid: Some(6011.0),
                ask: Some(6011.25),
                ..Default::default()
            },
        );
    });
    server.fill_working_orders();
    let items = drain(subscription, Duration::from_millis(500)).await;
    assert!(
        items.iter().any(|i| matches!(i, Ok(SubscriptionItem::Data(PlaceOrder::ExecutionData(e))) if e.execution.price == 6011.0)),
        "the fill reaches the placing client: {items:?}"
    );
    assert!(open_orders(&other).await.is_empty());
}

#[tokio::test]
async fn cancel_works_once_and_is_refused_for_final_orders() {
    let server = start().await;
    server.update_state(|s| s.fill_mode = FakeFillMode::Hold);
    let client = connect(&server, 4).await.expect("handshake");
    let (id, _) = place(&client, &market_order(Action::Buy, 1.0)).await;
    let cancel = client.cancel_order(id, "").await.expect("cancel");
    drain(cancel, Duration::from_millis(300)).await;
    assert_eq!(server.state().orders[0].status, "Cancelled");
    let again = client.cancel_order(id, "").await.expect("cancel again");
    let items = drain(again, Duration::from_millis(300)).await;
    assert_eq!(notice_codes(&items), vec![order_codes::CANCEL_NOT_POSSIBLE]);
}

#[tokio::test]
async fn rejected_orders_get_error_201() {
    let server = start().await;
    server.update_state(|s| s.fill_mode = FakeFillMode::Reject);
    let client = connect(&server, 5).await.expect("handshake");
    let (_, items) = place(&client, &market_order(Action::Buy, 1.0)).await;
    assert!(
        notice_codes(&items).contains(&order_codes::ORDER_REJECTED),
        "{items:?}"
    );
    assert!(server.state().executions.is_empty());
}

#[tokio::test]
async fn error_10349_reports_cancelled_and_then_the_order_fills() {
    let server = start().await;
    server.update_state(|s| s.fill_mode = FakeFillMode::CancelledThenFilled);
    let client = connect(&server, 6).await.expect("handshake");
    let (_, items) = place(
        &client,
        &with_ref(market_order(Action::Buy, 1.0), "ref-10349"),
    )
    .await;
    assert!(
        notice_codes(&items).contains(&order_codes::TIF_SET_BY_PRESET),
        "{items:?}"
    );
    assert_eq!(server.state().orders[0].status, "Filled");
    let found = executions(&client).await;
    assert_eq!(found.len(), 1, "the 'cancelled' order did fill");
    assert_eq!(found[0].execution.order_reference, "ref-10349");
}

#[tokio::test]
async fn orders_survive_a_restart_of_the_server() {
    let server = start().await;
    server.update_state(|s| s.fill_mode = FakeFillMode::Hold);
    let client = connect(&server, 7).await.expect("handshake");
    place(
        &client,
        &with_ref(market_order(Action::Buy, 1.0), "ref-restart"),
    )
    .await;
    let port = server.local_addr().port();
    let saved = server.state();
    drop(client);
    server.stop().await;
    let restarted = FakeIbServer::start(saved, port).await.expect("same port");
    let client = connect(&restarted, 8).await.expect("reconnect");
    let open = open_orders(&client).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].order.order_ref, "ref-restart");
}
