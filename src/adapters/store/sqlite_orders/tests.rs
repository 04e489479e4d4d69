//! The SQLite order store on a temporary file: netting, spawning, broker orders, fills applied
//! once and upward, over-fills, completion, clearing, balance trades, locks.

use chrono::TimeZone;

use super::*;
use crate::adapters::store::sqlite::Durability;

async fn open() -> (tempfile::TempDir, SqliteRunStore) {
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteRunStore::open(&dir.path().join("systrade.db"), Durability::Normal)
        .await
        .expect("open");
    (dir, store)
}

fn sp500() -> InstrumentCode {
    InstrumentCode::new("SP500").expect("code")
}

fn dec() -> ContractId {
    ContractId::monthly(2026, 12)
}

fn mar() -> ContractId {
    ContractId::monthly(2027, 3)
}

fn t(sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, sec)
        .single()
        .expect("time")
}

fn new_order(trade: i64) -> NewInstrumentOrder {
    NewInstrumentOrder {
        strategy: "demo".into(),
        instrument: sp500(),
        trade,
        order_type: OrderType::Best,
        limit_price: None,
        reference_price: Some(6000.0),
        reference_contract: Some(dec()),
        reference_time: Some(t(0)),
        generated_at: t(0),
        manual: false,
        roll_order: false,
    }
}

fn added(outcome: AddOutcome) -> InstrumentOrder {
    match outcome {
        AddOutcome::Added { order } => *order,
        other => panic!("not added: {other:?}"),
    }
}

fn execution(exec_id: &str, order: &BrokerOrder, quantity: i64, price: f64) -> Execution {
    Execution {
        exec_id: exec_id.into(),
        broker_id: "B1".into(),
        order_ref: order.order_ref.clone(),
        instrument: order.instrument.clone(),
        contract: order.contract,
        quantity,
        price,
        ts: t(5),
        commission: 2.0,
        commission_currency: "USD".into(),
    }
}

/// An instrument order of `trade`, one contract order in December, one broker order.
async fn journey(store: &SqliteRunStore, trade: i64) -> (InstrumentOrder, BrokerOrder) {
    let io = added(
        store
            .add_instrument_order(&new_order(trade))
            .await
            .expect("add"),
    );
    let ids = store
        .spawn_contract_orders(
            io.id,
            &[NewContractOrder {
                legs: vec![(dec(), trade)],
                order_type: OrderType::Best,
                limit_price: None,
                reference_price: Some(6000.0),
            }],
        )
        .await
        .expect("spawn");
    let bo = store
        .add_broker_order(&NewBrokerOrder {
            parent: ids[0],
            contract: dec(),
            trade,
            order_type: OrderType::Market,
            limit_price: None,
            algo: "market".into(),
            side_price: Some(6000.5),
            offside_price: Some(6000.0),
            mid_price: Some(6000.25),
            created_at: t(1),
        })
        .await
        .expect("broker order");
    (io, bo)
}

/// The `overfill` column of every applied execution, in order.
async fn rows_overfill(store: &SqliteRunStore) -> Vec<i64> {
    sqlx::query_scalar("SELECT overfill FROM order_executions ORDER BY applied_at, exec_id")
        .fetch_all(store.pool())
        .await
        .expect("executions")
}

async fn strategy_position(store: &SqliteRunStore) -> i64 {
    store
        .strategy_positions()
        .await
        .expect("positions")
        .iter()
        .map(|p| p.position)
        .sum()
}

async fn contract_position(store: &SqliteRunStore, contract: ContractId) -> i64 {
    store
        .contract_positions()
        .await
        .expect("positions")
        .iter()
        .filter(|p| p.contract == contract)
        .map(|p| p.position)
        .sum()
}

#[tokio::test]
async fn orders_net_against_the_stack_and_zero_trades_are_not_orders() {
    let (_d, store) = open().await;
    let first = added(
        store
            .add_instrument_order(&new_order(3))
            .await
            .expect("add"),
    );
    assert_eq!(first.trade, 3);
    assert_eq!(
        store
            .add_instrument_order(&new_order(3))
            .await
            .expect("again"),
        AddOutcome::Netted {
            existing: vec![first.id]
        }
    );
    let residual = added(
        store
            .add_instrument_order(&new_order(1))
            .await
            .expect("less"),
    );
    assert_eq!(residual.trade, -2, "only the residual, sign flipped");
    assert_eq!(
        store
            .add_instrument_order(&new_order(1))
            .await
            .expect("covered"),
        AddOutcome::Netted {
            existing: vec![first.id, residual.id]
        }
    );
    let mut manual = new_order(3);
    manual.manual = true;
    assert_eq!(
        added(store.add_instrument_order(&manual).await.expect("manual")).trade,
        3,
        "manual orders are not netted"
    );
    let (_d2, empty) = open().await;
    assert_eq!(
        empty
            .add_instrument_order(&new_order(0))
            .await
            .expect("zero"),
        AddOutcome::Zero
    );
    assert!(empty
        .instrument_orders(true)
        .await
        .expect("list")
        .is_empty());
}

#[tokio::test]
async fn a_family_fills_upward_once_and_completes() {
    let (_d, store) = open().await;
    let (io, bo) = journey(&store, 3).await;
    assert_eq!(bo.status, BrokerOrderStatus::Created);
    assert!(bo.order_ref.starts_with(&format!("systrade-{}-", bo.id)));
    // Spawning twice is refused and writes nothing.
    assert!(matches!(
        store.spawn_contract_orders(io.id, &[]).await,
        Err(OrderError::Refused(_))
    ));

    let first = execution("E1", &bo, 1, 6000.0);
    assert!(matches!(
        store.apply_execution(&first, t(6)).await.expect("fill"),
        FillOutcome::Applied {
            overfill: 0,
            late: false,
            ..
        }
    ));
    assert_eq!(
        store.apply_execution(&first, t(7)).await.expect("again"),
        FillOutcome::Duplicate
    );
    store
        .apply_execution(&execution("E2", &bo, 2, 6003.0), t(8))
        .await
        .expect("fill");
    assert_eq!(strategy_position(&store).await, 3);
    assert_eq!(contract_position(&store, dec()).await, 3);

    let io_now = &store.instrument_orders(true).await.expect("list")[0];
    assert_eq!(io_now.fill, 3);
    let avg = io_now.filled_price.expect("price");
    assert!((avg - 6002.0).abs() < 1e-9, "weighted: {avg}");
    let bo_now = &store.broker_orders(true).await.expect("list")[0];
    assert_eq!(
        (bo_now.status, bo_now.fill, bo_now.commission),
        (BrokerOrderStatus::Filled, 3, 4.0)
    );

    assert_eq!(
        store.complete_orders(false, t(9)).await.expect("complete"),
        vec![io.id]
    );
    assert!(store
        .instrument_orders(true)
        .await
        .expect("list")
        .is_empty());
    assert!(store.contract_orders(true).await.expect("list").is_empty());
    assert!(store.broker_orders(true).await.expect("list").is_empty());
    let history = store.instrument_orders(false).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].completed_at, Some(t(9)));
    // Someone else's execution changes nothing.
    let mut foreign = first.clone();
    foreign.exec_id = "X".into();
    foreign.order_ref = "other".into();
    assert_eq!(
        store
            .apply_execution(&foreign, t(10))
            .await
            .expect("foreign"),
        FillOutcome::NotOurs
    );
}

#[tokio::test]
async fn a_fill_after_a_cancel_is_recorded_and_locks_the_instrument() {
    let (_d, store) = open().await;
    let (io, bo) = journey(&store, 2).await;
    store
        .update_broker_order(
            bo.id,
            &BrokerOrderUpdate {
                status: Some(BrokerOrderStatus::Cancelled),
                ..Default::default()
            },
        )
        .await
        .expect("cancelled");
    let outcome = store
        .apply_execution(&execution("E1", &bo, 2, 6000.0), t(6))
        .await
        .expect("fill");
    assert!(
        matches!(
            &outcome,
            FillOutcome::Applied { overfill: 0, late: true, instrument, .. } if instrument.as_str() == bo.instrument.as_str()
        ),
        "a fill after the cancel: {outcome:?}"
    );
    let outcome = store
        .apply_execution(&execution("E2", &bo, 1, 6001.0), t(7))
        .await
        .expect("over-fill");
    assert!(
        matches!(outcome, FillOutcome::Applied { overfill: 1, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        strategy_position(&store).await,
        3,
        "positions follow the broker"
    );
    assert_eq!(contract_position(&store, dec()).await, 3);
    let locks = store.locks().await.expect("locks");
    assert_eq!(locks.len(), 1);
    assert!(
        locks[0].reason.contains("fill after cancel"),
        "the first late fill locks: {}",
        locks[0].reason
    );
    let overfills = rows_overfill(&store).await;
    assert_eq!(overfills, vec![0, 1], "the extra contract is recorded");
    assert_eq!(
        store.complete_orders(false, t(8)).await.expect("done"),
        vec![io.id]
    );
    assert!(store.unlock_instrument(&sp500()).await.expect("unlock"));
    assert!(store.locks().await.expect("locks").is_empty());
}

#[tokio::test]
async fn a_zero_roll_spread_moves_contracts_not_the_strategy() {
    let (_d, store) = open().await;
    let mut parent = new_order(0);
    parent.strategy = ROLL_PSEUDO_STRATEGY.into();
    parent.order_type = OrderType::ZeroRoll;
    parent.roll_order = true;
    let io = added(
        store
            .add_instrument_order(&parent)
            .await
            .expect("zero roll"),
    );
    let ids = store
        .spawn_contract_orders(
            io.id,
            &[NewContractOrder {
                legs: vec![(dec(), -2), (mar(), 2)],
                order_type: OrderType::Best,
                limit_price: None,
                reference_price: Some(-5.0),
            }],
        )
        .await
        .expect("spread");
    for (contract, trade, exec) in [(dec(), -2, "E1"), (mar(), 2, "E2")] {
        let bo = store
            .add_broker_order(&NewBrokerOrder {
                parent: ids[0],
                contract,
                trade,
                order_type: OrderType::Market,
                limit_price: None,
                algo: "market".into(),
                side_price: None,
                offside_price: None,
                mid_price: None,
                created_at: t(1),
            })
            .await
            .expect("leg");
        store
            .apply_execution(&execution(exec, &bo, trade, 6000.0), t(2))
            .await
            .expect("fill");
    }
    assert_eq!(contract_position(&store, dec()).await, -2);
    assert_eq!(contract_position(&store, mar()).await, 2);
    assert_eq!(strategy_position(&store).await, 0);
    assert_eq!(
        store.complete_orders(false, t(3)).await.expect("done"),
        vec![io.id]
    );
}

#[tokio::test]
async fn cancel_clear_and_balance_trades() {
    let (_d, store) = open().await;
    let (io, bo) = journey(&store, 2).await;
    assert!(store.request_cancel(io.id).await.expect("cancel"));
    assert!(
        store
            .complete_orders(false, t(2))
            .await
            .expect("none")
            .is_empty(),
        "a broker order is still live"
    );
    store
        .update_broker_order(
            bo.id,
            &BrokerOrderUpdate {
                status: Some(BrokerOrderStatus::Cancelled),
                reason: Some("cancelled".into()),
                ..Default::default()
            },
        )
        .await
        .expect("cancelled");
    assert_eq!(
        store.complete_orders(false, t(3)).await.expect("done"),
        vec![io.id]
    );

    added(
        store
            .add_instrument_order(&new_order(4))
            .await
            .expect("add"),
    );
    assert_eq!(
        store
            .clear_stack(StackLevel::Instrument, t(4))
            .await
            .expect("clear"),
        1
    );
    assert!(store
        .instrument_orders(true)
        .await
        .expect("list")
        .is_empty());

    let id = store
        .balance_trade(&BalanceTrade {
            strategy: "demo".into(),
            instrument: sp500(),
            contract: dec(),
            quantity: -1,
            price: 5990.0,
            at: t(5),
        })
        .await
        .expect("balance");
    assert_eq!(strategy_position(&store).await, -1);
    assert_eq!(contract_position(&store, dec()).await, -1);
    let history = store.instrument_orders(false).await.expect("history");
    let balance = history.iter().find(|o| o.id == id).expect("recorded");
    assert_eq!(
        (balance.order_type, balance.fill, balance.active),
        (OrderType::Balance, -1, false)
    );
}

#[tokio::test]
async fn one_stack_handler_at_a_time_and_a_dead_ones_claim_is_taken_over() {
    let (_d, store) = open().await;
    assert_eq!(store.claim_handler().await.expect("claim"), Ok(()));
    assert_eq!(store.claim_handler().await.expect("mine again"), Ok(()));
    store.release_handler().await.expect("release");
    let host = crate::engine::process::host_name();
    let claim = |pid: i64| {
        format!(
            r#"{{"pid":{pid},"pid_start":null,"host":"{host}","boot_id":null,"acquired_at":"2026-11-25T12:00:00Z"}}"#
        )
    };
    // PID 1 is alive: refused, naming it.
    sqlx::query("INSERT INTO order_handler_state (key, value) VALUES ('handler', ?)")
        .bind(claim(1))
        .execute(store.pool())
        .await
        .expect("insert");
    let refused = store.claim_handler().await.expect("claim");
    assert!(
        matches!(&refused, Err(holder) if holder.contains("pid 1")),
        "{refused:?}"
    );
    // A PID that does not exist: taken over.
    sqlx::query("UPDATE order_handler_state SET value = ? WHERE key = 'handler'")
        .bind(claim(i64::from(i32::MAX) - 7))
        .execute(store.pool())
        .await
        .expect("update");
    assert_eq!(store.claim_handler().await.expect("take over"), Ok(()));
}

#[tokio::test]
async fn a_refused_or_abandoned_transaction_leaves_nothing_and_the_next_one_commits() {
    let (_d, store) = open().await;
    // Refused half way: the insert before the refusal is rolled back.
    let refused = store
        .in_order_tx(|conn| {
            Box::pin(async move {
                insert_instrument_order(conn, &new_order(1), 1).await?;
                Err::<(), _>(OrderError::Refused("no".into()))
            })
        })
        .await;
    assert!(matches!(refused, Err(OrderError::Refused(_))));
    // Abandoned half way (its future dropped while it waits): nothing of it is committed.
    let abandoned = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        store.in_order_tx(|conn| {
            Box::pin(async move {
                insert_instrument_order(conn, &new_order(2), 2).await?;
                std::future::pending::<()>().await;
                Ok(())
            })
        }),
    )
    .await;
    assert!(abandoned.is_err(), "the transaction should have timed out");
    let added = added(
        store
            .add_instrument_order(&new_order(3))
            .await
            .expect("the next transaction"),
    );
    let active = store.instrument_orders(true).await.expect("list");
    assert_eq!(
        active.iter().map(|o| o.trade).collect::<Vec<_>>(),
        vec![3],
        "only the committed order: {active:?}"
    );
    assert_eq!(active[0].id, added.id);
}
