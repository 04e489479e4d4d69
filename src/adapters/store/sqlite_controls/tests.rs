//! The SQLite control store on a temporary file.

use chrono::TimeZone;

use super::*;
use crate::adapters::store::sqlite::Durability;

async fn open() -> (tempfile::TempDir, SqliteRunStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteRunStore::open(&dir.path().join("systrade.db"), Durability::Normal)
        .await
        .unwrap();
    (dir, store)
}

fn s(n: &str) -> StrategyName {
    StrategyName::new(n).unwrap()
}

fn i(c: &str) -> InstrumentCode {
    InstrumentCode::new(c).unwrap()
}

fn t(sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, sec).unwrap()
}

#[tokio::test]
async fn overrides_round_trip_in_every_scope() {
    let (_d, store) = open().await;
    assert!(store.overrides().await.unwrap().is_empty());
    let pair = OverrideScope::StrategyInstrument(s("a"), i("X"));
    let scopes = [
        (pair.clone(), Override::ReduceOnly),
        (OverrideScope::Instrument(i("X")), Override::NoTrading),
        (
            OverrideScope::Strategy(s("b")),
            Override::from_multiplier(0.1).unwrap(),
        ),
        (OverrideScope::Strategy(s("a")), Override::Close),
        (OverrideScope::Instrument(i("W")), Override::NoOverride),
    ];
    for (n, (scope, value)) in scopes.iter().enumerate() {
        let prev = store
            .set_override(scope, *value, t(n as u32))
            .await
            .unwrap();
        assert!(prev.is_none());
    }
    let all = store.overrides().await.unwrap();
    let order: Vec<String> = all.iter().map(|r| r.scope.to_string()).collect();
    assert_eq!(
        order,
        [
            "strategy a",
            "strategy b",
            "instrument W",
            "instrument X",
            "a/X"
        ]
    );
    assert_eq!(all[1].value, Override::from_multiplier(0.1).unwrap());
    assert_eq!(all[0].updated_at, t(3));
    // Replace, returning the previous.
    let prev = store
        .set_override(&pair, Override::from_multiplier(0.5).unwrap(), t(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prev.value, Override::ReduceOnly);
    let now = store.override_for(&pair).await.unwrap().unwrap();
    assert_eq!(now.value, Override::from_multiplier(0.5).unwrap());
    assert_eq!(now.updated_at, t(10));
    // Delete.
    let gone = store.delete_override(&pair, t(11)).await.unwrap().unwrap();
    assert_eq!(gone.value, Override::from_multiplier(0.5).unwrap());
    assert!(store.override_for(&pair).await.unwrap().is_none());
    assert!(store.delete_override(&pair, t(12)).await.unwrap().is_none());
    assert_eq!(store.overrides().await.unwrap().len(), 4);
    // History, newest first; a delete of nothing is not recorded.
    let h = store.control_changes(100).await.unwrap();
    assert_eq!(h.len(), 7);
    assert_eq!(h[0].old.as_deref(), Some("0.5"));
    assert_eq!(h[0].new, None);
    assert_eq!(h[1].old.as_deref(), Some("reduce-only"));
    assert_eq!(h[1].new.as_deref(), Some("0.5"));
    assert_eq!(h[1].strategy.as_deref(), Some("a"));
    assert_eq!(h[1].instrument.as_deref(), Some("X"));
    assert_eq!(h[6].control, "override");
}

#[tokio::test]
async fn position_limits_round_trip() {
    let (_d, store) = open().await;
    let inst = LimitScope::Instrument(i("X"));
    let pair = LimitScope::StrategyInstrument(s("a"), i("X"));
    store
        .set_position_limit(&pair, PositionLimit::Contracts(2), t(1))
        .await
        .unwrap();
    store
        .set_position_limit(&inst, PositionLimit::Contracts(0), t(2))
        .await
        .unwrap();
    store
        .set_position_limit(
            &LimitScope::Instrument(i("A")),
            PositionLimit::NoLimit,
            t(3),
        )
        .await
        .unwrap();
    let all = store.position_limits().await.unwrap();
    let order: Vec<String> = all
        .iter()
        .map(|r| format!("{}={}", r.scope, r.limit))
        .collect();
    assert_eq!(order, ["instrument A=no limit", "instrument X=0", "a/X=2"]);
    let prev = store
        .set_position_limit(&inst, PositionLimit::Contracts(7), t(4))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prev.limit, PositionLimit::Contracts(0));
    assert_eq!(
        store.position_limit(&inst).await.unwrap().unwrap().limit,
        PositionLimit::Contracts(7)
    );
    assert!(store
        .delete_position_limit(&pair, t(5))
        .await
        .unwrap()
        .is_some());
    assert!(store.position_limit(&pair).await.unwrap().is_none());
    assert!(store
        .delete_position_limit(&pair, t(6))
        .await
        .unwrap()
        .is_none());
    let h = store.control_changes(2).await.unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].control, "position_limit");
    assert_eq!(h[0].old.as_deref(), Some("2"));
    assert_eq!(h[1].new.as_deref(), Some("7"));
    // Too large for the INTEGER column: an error, nothing written.
    let e = store
        .set_position_limit(&inst, PositionLimit::Contracts(u64::MAX), t(7))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("too large"), "{e}");
    assert_eq!(
        store.position_limit(&inst).await.unwrap().unwrap().limit,
        PositionLimit::Contracts(7)
    );
}

#[tokio::test]
async fn the_schema_refuses_bad_rows() {
    let (_d, store) = open().await;
    for sql in [
        "INSERT INTO overrides (strategy, instrument, value, updated_at) VALUES ('a', '', 1.5, 'x')",
        "INSERT INTO overrides (strategy, instrument, value, updated_at) VALUES ('a', '', -0.5, 'x')",
        "INSERT INTO overrides (strategy, instrument, value, updated_at) VALUES ('', '', 0.5, 'x')",
        "INSERT INTO position_limits (strategy, instrument, max_contracts, updated_at) VALUES ('', 'X', -1, 'x')",
        "INSERT INTO position_limits (strategy, instrument, max_contracts, updated_at) VALUES ('a', '', 1, 'x')",
    ] {
        assert!(sqlx::query(sql).execute(store.pool()).await.is_err(), "{sql}");
    }
}
