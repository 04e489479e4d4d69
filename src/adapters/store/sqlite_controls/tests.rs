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
        "INSERT INTO trade_limits (strategy, instrument, period_days, \"limit\", last_reset, updated_at) VALUES ('', 'X', 1, -1, 'x', 'x')",
        "INSERT INTO trade_limits (strategy, instrument, period_days, \"limit\", last_reset, updated_at) VALUES ('', 'X', 0, 1, 'x', 'x')",
        "INSERT INTO trade_limits (strategy, instrument, period_days, \"limit\", last_reset, updated_at) VALUES ('', '', 1, 1, 'x', 'x')",
        "INSERT INTO trade_limits (strategy, instrument, period_days, \"limit\", trades_since_reset, last_reset, updated_at) VALUES ('', 'X', 1, 1, -2, 'x', 'x')",
        "INSERT INTO control_changes (control, strategy, instrument, at) VALUES ('something', '', 'X', 'x')",
    ] {
        assert!(sqlx::query(sql).execute(store.pool()).await.is_err(), "{sql}");
    }
}

// ---- Trade limits (B15) ----

fn day(d: i64) -> chrono::Duration {
    chrono::Duration::days(d)
}

/// (strategy or "-", instrument, period, limit, trades) of every limit as of `now`.
async fn trade_rows(
    store: &SqliteRunStore,
    now: DateTime<Utc>,
) -> Vec<(String, String, u32, i64, i64)> {
    store
        .trade_limits(now)
        .await
        .unwrap()
        .into_iter()
        .map(|l| {
            (
                l.strategy.unwrap_or_else(|| "-".into()),
                l.instrument,
                l.period_days,
                l.limit,
                l.trades_since_reset,
            )
        })
        .collect()
}

fn row(s: &str, i: &str, p: u32, limit: i64, trades: i64) -> (String, String, u32, i64, i64) {
    (s.into(), i.into(), p, limit, trades)
}

#[tokio::test]
async fn trade_limits_round_trip_with_history() {
    let (_d, store) = open().await;
    assert!(store.trade_limits(t(0)).await.unwrap().is_empty());
    let a = s("a");
    for (strategy, inst, period, limit, at) in [
        (Some(&a), "X", 1, 2, 1),
        (None, "X", 5, 10, 2),
        (None, "X", 1, 4, 3),
        (None, "W", 1, 3, 4),
    ] {
        let prev = store
            .set_trade_limit(strategy, &i(inst), period, limit, t(at))
            .await
            .unwrap();
        assert!(prev.is_none());
    }
    assert_eq!(
        trade_rows(&store, t(5)).await,
        [
            row("-", "W", 1, 3, 0),
            row("-", "X", 1, 4, 0),
            row("-", "X", 5, 10, 0),
            row("a", "X", 1, 2, 0),
        ]
    );
    let all = store.trade_limits(t(5)).await.unwrap();
    assert_eq!(
        all[1].last_reset,
        t(3),
        "a new limit's clock starts when it is set"
    );
    // Replace, returning the previous; delete, returning it; a delete of nothing is None.
    let prev = store
        .set_trade_limit(None, &i("X"), 1, 6, t(6))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((prev.limit, prev.period_days), (4, 1));
    let gone = store
        .delete_trade_limit(Some(&a), &i("X"), 1, t(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.limit, 2);
    assert!(store
        .delete_trade_limit(Some(&a), &i("X"), 1, t(8))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .reset_trade_limit(Some(&a), &i("X"), 1, t(8))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        trade_rows(&store, t(9)).await,
        [
            row("-", "W", 1, 3, 0),
            row("-", "X", 1, 6, 0),
            row("-", "X", 5, 10, 0),
        ]
    );
    let h = store.control_changes(3).await.unwrap();
    assert_eq!(h[0].control, "trade_limit");
    assert_eq!(h[0].strategy.as_deref(), Some("a"));
    assert_eq!(h[0].old.as_deref(), Some("2 per 1 day (0 traded)"));
    assert_eq!(h[0].new, None);
    assert_eq!(h[1].strategy, None);
    assert_eq!(h[1].old.as_deref(), Some("4 per 1 day (0 traded)"));
    assert_eq!(h[1].new.as_deref(), Some("6 per 1 day (0 traded)"));
    // Bad values: refused, nothing written.
    let e = store
        .set_trade_limit(None, &i("X"), 1, -1, t(10))
        .await
        .unwrap_err();
    assert!(matches!(e, ControlError::Invalid(_)), "{e}");
    let e = store
        .set_trade_limit(None, &i("Z"), 0, 5, t(10))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at least 1 day"), "{e}");
    assert_eq!(trade_rows(&store, t(11)).await.len(), 3);
    assert_eq!(store.control_changes(100).await.unwrap().len(), 6);
}

#[tokio::test]
async fn the_period_rule_applies_on_read_and_is_written_by_the_next_trade() {
    let (_d, store) = open().await;
    let x = i("X");
    store.set_trade_limit(None, &x, 1, 4, t(0)).await.unwrap();
    store.record_trade("a", &x, 3, t(1)).await.unwrap();
    // Exactly one period later is still the same period (strictly more resets).
    assert_eq!(
        trade_rows(&store, t(0) + day(1)).await,
        [row("-", "X", 1, 4, 3)]
    );
    let later = t(0) + day(1) + chrono::Duration::seconds(1);
    let read = store.trade_limits(later).await.unwrap();
    assert_eq!(read[0].trades_since_reset, 0);
    assert_eq!(read[0].last_reset, later);
    assert_eq!(read[0].capacity(), 4);
    // The read wrote nothing: as of an earlier time the trades are still there.
    assert_eq!(trade_rows(&store, t(30)).await, [row("-", "X", 1, 4, 3)]);
    // The next trade writes the reset, then counts: the new period starts with it.
    let third = t(0) + day(3);
    let written = store.record_trade("a", &x, 2, third).await.unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(
        (written[0].trades_since_reset, written[0].last_reset),
        (2, third)
    );
    let stored = store.trade_limits(third).await.unwrap();
    assert_eq!(
        (stored[0].trades_since_reset, stored[0].last_reset),
        (2, third)
    );
    // A manual reset restarts the clock at its time whatever the period.
    let reset_at = third + chrono::Duration::hours(2);
    let before = store
        .reset_trade_limit(None, &x, 1, reset_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.trades_since_reset, 2);
    let after = store.trade_limits(reset_at).await.unwrap();
    assert_eq!(
        (after[0].trades_since_reset, after[0].last_reset),
        (0, reset_at)
    );
    let h = store.control_changes(1).await.unwrap();
    assert_eq!(h[0].old.as_deref(), Some("4 per 1 day (2 traded)"));
    assert_eq!(h[0].new.as_deref(), Some("4 per 1 day (0 traded)"));
}

#[tokio::test]
async fn a_trade_counts_towards_every_relevant_limit_only() {
    let (_d, store) = open().await;
    let (x, y) = (i("X"), i("Y"));
    let (a, b) = (s("a"), s("b"));
    store.set_trade_limit(None, &x, 1, 10, t(0)).await.unwrap();
    store.set_trade_limit(None, &x, 7, 30, t(0)).await.unwrap();
    store
        .set_trade_limit(Some(&a), &x, 1, 5, t(0))
        .await
        .unwrap();
    store
        .set_trade_limit(Some(&b), &x, 1, 5, t(0))
        .await
        .unwrap();
    store.set_trade_limit(None, &y, 1, 10, t(0)).await.unwrap();
    store
        .set_trade_limit(Some(&a), &y, 1, 5, t(0))
        .await
        .unwrap();
    // The sign is ignored: a sale of 3 counts 3.
    let written = store.record_trade("a", &x, -3, t(1)).await.unwrap();
    assert_eq!(written.len(), 3, "{written:?}");
    assert_eq!(
        trade_rows(&store, t(2)).await,
        [
            row("-", "X", 1, 10, 3),
            row("-", "X", 7, 30, 3),
            row("-", "Y", 1, 10, 0),
            row("a", "X", 1, 5, 3),
            row("b", "X", 1, 5, 0),
            row("a", "Y", 1, 5, 0),
        ]
    );
    // A strategy without its own limit still counts towards the instrument's.
    store.record_trade("c", &x, 2, t(3)).await.unwrap();
    let rows = trade_rows(&store, t(4)).await;
    assert_eq!(rows[0], row("-", "X", 1, 10, 5));
    assert_eq!(rows[3], row("a", "X", 1, 5, 3));
    // No limit for the instrument: nothing to count, nothing written.
    assert!(store
        .record_trade("a", &i("Z"), 4, t(5))
        .await
        .unwrap()
        .is_empty());
    // Counting does not change `updated_at`-style history: no rows for trades.
    assert!(store
        .control_changes(100)
        .await
        .unwrap()
        .iter()
        .all(|c| c.new.as_deref().is_some_and(|n| n.ends_with("(0 traded)"))));
}

#[tokio::test]
async fn lowering_a_limit_keeps_the_trades_and_leaves_no_capacity() {
    let (_d, store) = open().await;
    let x = i("X");
    store.set_trade_limit(None, &x, 1, 10, t(0)).await.unwrap();
    store.record_trade("a", &x, 6, t(1)).await.unwrap();
    let prev = store
        .set_trade_limit(None, &x, 1, 4, t(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((prev.limit, prev.trades_since_reset), (10, 6));
    let now = store.trade_limits(t(3)).await.unwrap();
    assert_eq!(now[0].trades_since_reset, 6, "trades kept");
    assert_eq!(now[0].last_reset, t(0), "clock kept");
    // §E6: 6 traded against a limit of 4 leaves 0, not −2.
    assert_eq!(now[0].capacity(), 0);
    let relevant = crate::domain::execution::relevant(&now, "a", "X");
    assert_eq!(
        crate::domain::execution::allowed_abs_quantity(&relevant, 5),
        0
    );
    // Raising it again gives the difference back.
    store.set_trade_limit(None, &x, 1, 8, t(4)).await.unwrap();
    assert_eq!(store.trade_limits(t(5)).await.unwrap()[0].capacity(), 2);
}
