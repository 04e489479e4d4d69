//! The §B9 rules method by method, their edges, allocation, daily returns, and the update
//! service on an in-memory store.

use std::sync::Mutex;

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::test_support::ScriptedBroker;

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 4, 9, minute, 0).unwrap()
}

fn entry(actual: f64, max: f64, accumulated: f64, broker: f64) -> CapitalEntry {
    CapitalEntry {
        at: t(0),
        actual,
        max,
        accumulated,
        broker,
    }
}

fn next(prev: &CapitalEntry, b: f64, method: CapitalMethod) -> CapitalEntry {
    next_capital(Some(prev), b, method, 0.10, false, t(1)).unwrap()
}

#[test]
fn the_first_value_initialises_capital() {
    for method in [
        CapitalMethod::Full,
        CapitalMethod::Half,
        CapitalMethod::Fixed,
    ] {
        let e = next_capital(None, 1000.0, method, 0.10, false, t(1)).unwrap();
        assert_eq!(
            e,
            CapitalEntry {
                at: t(1),
                ..entry(1000.0, 1000.0, 0.0, 1000.0)
            }
        );
    }
    assert!(matches!(
        next_capital(None, -1.0, CapitalMethod::Full, 0.10, false, t(1)),
        Err(CapitalError::Invalid { .. })
    ));
    assert!(matches!(
        next_capital(None, f64::NAN, CapitalMethod::Full, 0.10, false, t(1)),
        Err(CapitalError::Invalid { .. })
    ));
}

#[test]
fn full_compounds_and_the_maximum_follows() {
    let prev = entry(1000.0, 1200.0, 50.0, 1000.0);
    let up = next(&prev, 1050.0, CapitalMethod::Full);
    assert_eq!(
        (up.actual, up.max, up.accumulated, up.broker),
        (1050.0, 1050.0, 100.0, 1050.0)
    );
    let down = next(&prev, 950.0, CapitalMethod::Full);
    assert_eq!(
        (down.actual, down.max, down.accumulated),
        (950.0, 950.0, 0.0)
    );
    assert_eq!(up.at, t(1));
}

#[test]
fn half_takes_losses_and_refills_only_to_the_maximum() {
    let prev = entry(900.0, 1000.0, -100.0, 900.0);
    let up = next(&prev, 980.0, CapitalMethod::Half);
    assert_eq!((up.actual, up.max, up.accumulated), (980.0, 1000.0, -20.0));
    // Capped at the maximum; the profit still accumulates.
    let above = next(&up, 1070.0, CapitalMethod::Half);
    assert_eq!(
        (above.actual, above.max, above.accumulated),
        (1000.0, 1000.0, 70.0)
    );
    let down = next(&prev, 850.0, CapitalMethod::Half);
    assert_eq!(
        (down.actual, down.max, down.accumulated),
        (850.0, 1000.0, -150.0)
    );
}

#[test]
fn fixed_keeps_capital() {
    let prev = entry(700.0, 900.0, 10.0, 1000.0);
    let e = next(&prev, 1080.0, CapitalMethod::Fixed);
    assert_eq!(
        (e.actual, e.max, e.accumulated, e.broker),
        (700.0, 700.0, 90.0, 1080.0)
    );
}

#[test]
fn capital_never_goes_below_zero() {
    // Capital smaller than the loss: floored at 0 (full and half); accumulated keeps the loss.
    let prev = entry(50.0, 50.0, 0.0, 1000.0);
    let e = next(&prev, 920.0, CapitalMethod::Full);
    assert_eq!((e.actual, e.max, e.accumulated), (0.0, 0.0, -80.0));
    let e = next(&prev, 920.0, CapitalMethod::Half);
    assert_eq!((e.actual, e.max), (0.0, 50.0));
}

#[test]
fn the_guard_takes_exactly_the_limit_and_refuses_beyond() {
    let prev = entry(100.0, 100.0, 0.0, 100.0);
    for b in [110.0, 90.0] {
        assert!(next_capital(Some(&prev), b, CapitalMethod::Full, 0.10, false, t(1)).is_ok());
    }
    for b in [110.5, 89.5] {
        let e = next_capital(Some(&prev), b, CapitalMethod::Full, 0.10, false, t(1)).unwrap_err();
        let CapitalError::LargeChange {
            previous,
            new,
            change_fraction,
            limit,
        } = e.clone()
        else {
            panic!("{e:?}")
        };
        assert_eq!((previous, new, limit), (100.0, b, 0.10));
        assert!((change_fraction.abs() - 0.105).abs() < 1e-12);
        assert!(e.to_string().contains("systrade capital confirm"), "{e}");
        // Confirmed: taken.
        let ok = next_capital(Some(&prev), b, CapitalMethod::Full, 0.10, true, t(1)).unwrap();
        assert_eq!(ok.actual, b);
    }
    // From a zero account value any move is large.
    let zero = entry(0.0, 0.0, 0.0, 0.0);
    assert!(matches!(
        next_capital(Some(&zero), 1.0, CapitalMethod::Full, 0.10, false, t(1)),
        Err(CapitalError::LargeChange { .. })
    ));
    assert!(next_capital(Some(&zero), 0.0, CapitalMethod::Full, 0.10, false, t(1)).is_ok());
}

#[test]
fn entry_times_strictly_increase() {
    let prev = entry(100.0, 100.0, 0.0, 100.0);
    let same = next_capital(Some(&prev), 101.0, CapitalMethod::Full, 0.1, false, t(0)).unwrap();
    assert_eq!(same.at, t(0) + Duration::microseconds(1));
    assert_eq!(entry_time(Some(&prev), t(2)), t(2));
    assert_eq!(entry_time(None, t(0)), t(0));
}

#[test]
fn withdrawals_and_deposits_move_only_the_account_value() {
    let prev = entry(1000.0, 1000.0, 20.0, 1000.0);
    let w = adjust_broker(&prev, -200.0, t(1)).unwrap();
    assert_eq!(
        (w.actual, w.max, w.accumulated, w.broker),
        (1000.0, 1000.0, 20.0, 800.0)
    );
    // The next update sees no p&l from the withdrawal.
    let e = next(&w, 800.0, CapitalMethod::Full);
    assert_eq!((e.actual, e.accumulated), (1000.0, 20.0));
    let d = adjust_broker(&prev, 500.0, t(1)).unwrap();
    assert_eq!(d.broker, 1500.0);
    for bad in [f64::NAN, 0.0, f64::INFINITY, -1000.5] {
        assert!(
            matches!(
                adjust_broker(&prev, bad, t(1)),
                Err(CapitalError::Invalid { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn allocation_is_weight_share() {
    let w = vec![("a".to_string(), 1.0), ("b".to_string(), 3.0)];
    assert_eq!(
        allocate(&w, 1000.0),
        vec![("a".to_string(), 250.0), ("b".to_string(), 750.0)]
    );
    assert!(allocate(&[], 1000.0).is_empty());
    assert!(allocate(&[("a".into(), 0.0)], 1000.0).is_empty());
    let odd = allocate(&[("a".into(), 1.0), ("b".into(), f64::NAN)], 10.0);
    assert_eq!(odd, vec![("a".into(), 10.0), ("b".into(), 0.0)]);
}

#[test]
fn daily_returns_use_business_day_last_values() {
    let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2024, 3, d, h, 0, 0).unwrap();
    let e = |at, actual, accumulated| CapitalEntry {
        at,
        actual,
        max: actual,
        accumulated,
        broker: 0.0,
    };
    // Thu 7th, Fri 8th (two entries: the last counts), Sat 9th (binned into Friday),
    // Tue 12th (Monday 11th carried forward: 0 return).
    let h = vec![
        e(at(7, 10), 1000.0, 0.0),
        e(at(8, 9), 1000.0, 5.0),
        e(at(8, 18), 1010.0, 10.0),
        e(at(9, 12), 1020.0, 20.0),
        e(at(12, 12), 1000.0, 0.0),
    ];
    let r = daily_percentage_returns(&h);
    let d = |day| NaiveDate::from_ymd_opt(2024, 3, day).unwrap();
    assert_eq!(
        r,
        vec![(d(8), 20.0 / 1020.0), (d(11), 0.0), (d(12), -20.0 / 1000.0)]
    );
    assert!(daily_percentage_returns(&h[..1]).is_empty());
    let zero = daily_percentage_returns(&[e(at(7, 1), 0.0, 0.0), e(at(8, 1), 0.0, 1.0)]);
    assert!(zero[0].1.is_nan());
}

proptest! {
    #[test]
    fn accumulated_is_the_sum_of_pnl(
        start in 1.0f64..1e7,
        moves in prop::collection::vec(-0.5f64..0.5, 1..40),
        method in prop_oneof![Just(CapitalMethod::Full), Just(CapitalMethod::Half), Just(CapitalMethod::Fixed)],
    ) {
        let mut e = initial_capital(start, t(0)).unwrap();
        let mut pnl_sum = 0.0;
        for m in moves {
            let b = e.broker * (1.0 + m);
            pnl_sum += b - e.broker;
            e = next_capital(Some(&e), b, method, 0.10, true, t(0)).unwrap();
            prop_assert!(e.actual >= 0.0);
            prop_assert!(method != CapitalMethod::Half || e.actual <= start);
        }
        prop_assert!((e.accumulated - pnl_sum).abs() <= 1e-6 * start.max(pnl_sum.abs()));
        prop_assert!((e.accumulated - (e.broker - start)).abs() <= 1e-6 * start);
    }
}

// ---------------------------------------------------------------------------------------------
// The update services on an in-memory store
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct MemStore {
    capital: Mutex<Vec<CapitalEntry>>,
    margin: Mutex<Vec<MarginEntry>>,
    strategies: Mutex<Vec<StrategyCapital>>,
}

#[async_trait]
impl CapitalStore for MemStore {
    async fn capital_history(&self) -> Result<Vec<CapitalEntry>, CapitalError> {
        Ok(self.capital.lock().unwrap().clone())
    }
    async fn latest_capital(&self) -> Result<Option<CapitalEntry>, CapitalError> {
        Ok(self.capital.lock().unwrap().last().copied())
    }
    async fn append_capital(
        &self,
        entry: &CapitalEntry,
        expected_previous_at: Option<DateTime<Utc>>,
    ) -> Result<(), CapitalError> {
        let mut c = self.capital.lock().unwrap();
        let actual = c.last().map(|e| e.at);
        if actual != expected_previous_at {
            return Err(CapitalError::Conflict {
                expected: expected_previous_at,
                actual,
            });
        }
        c.push(*entry);
        Ok(())
    }
    async fn delete_last_capital(&self) -> Result<Option<CapitalEntry>, CapitalError> {
        Ok(self.capital.lock().unwrap().pop())
    }
    async fn delete_capital_history(&self) -> Result<u64, CapitalError> {
        let mut c = self.capital.lock().unwrap();
        let n = c.len() as u64;
        c.clear();
        Ok(n)
    }
    async fn append_margin(&self, entry: &MarginEntry) -> Result<(), CapitalError> {
        self.margin.lock().unwrap().push(*entry);
        Ok(())
    }
    async fn margin_history(&self) -> Result<Vec<MarginEntry>, CapitalError> {
        Ok(self.margin.lock().unwrap().clone())
    }
    async fn record_strategy_capital(
        &self,
        entries: &[StrategyCapital],
    ) -> Result<(), CapitalError> {
        self.strategies.lock().unwrap().extend_from_slice(entries);
        Ok(())
    }
    async fn strategy_capital_history(
        &self,
        strategy: &str,
    ) -> Result<Vec<StrategyCapital>, CapitalError> {
        let s = self.strategies.lock().unwrap();
        Ok(s.iter()
            .filter(|e| e.strategy == strategy)
            .cloned()
            .collect())
    }
    async fn latest_strategy_capital(
        &self,
        strategy: &str,
    ) -> Result<Option<StrategyCapital>, CapitalError> {
        Ok(self.strategy_capital_history(strategy).await?.pop())
    }
    async fn latest_strategy_capitals(&self) -> Result<Vec<StrategyCapital>, CapitalError> {
        Ok(Vec::new())
    }
}

const RULES: UpdateRules<'static> = UpdateRules {
    method: CapitalMethod::Full,
    max_change: 0.10,
    base_currency: "USD",
};

#[tokio::test]
async fn update_initialises_applies_and_refuses_large_changes_writing_nothing() {
    let store = MemStore::default();
    let u = update_total_capital(
        &store,
        &ScriptedBroker::with_account(1000.0),
        RULES,
        false,
        t(0),
    )
    .await
    .unwrap();
    assert!(u.initialised && !u.large_change_confirmed);
    assert_eq!((u.entry.actual, u.margin), (1000.0, 12.5));
    let u = update_total_capital(
        &store,
        &ScriptedBroker::with_account(1050.0),
        RULES,
        false,
        t(1),
    )
    .await
    .unwrap();
    assert_eq!((u.pnl, u.entry.actual), (50.0, 1050.0));
    let e = update_total_capital(
        &store,
        &ScriptedBroker::with_account(2000.0),
        RULES,
        false,
        t(2),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, CapitalError::LargeChange { .. }));
    assert_eq!(store.capital.lock().unwrap().len(), 2);
    assert_eq!(store.margin.lock().unwrap().len(), 2);
    let u = update_total_capital(
        &store,
        &ScriptedBroker::with_account(2000.0),
        RULES,
        true,
        t(2),
    )
    .await
    .unwrap();
    assert!(u.large_change_confirmed);
    assert_eq!(u.entry.actual, 2000.0);
}

#[tokio::test]
async fn strategy_capital_needs_total_capital() {
    let store = MemStore::default();
    let w = vec![("a".to_string(), 1.0), ("b".to_string(), 1.0)];
    assert_eq!(
        update_strategy_capital(&store, &w, t(0)).await,
        Err(CapitalError::NoCapital)
    );
    update_total_capital(
        &store,
        &ScriptedBroker::with_account(1000.0),
        RULES,
        false,
        t(0),
    )
    .await
    .unwrap();
    let got = update_strategy_capital(&store, &w, t(1)).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        store
            .latest_strategy_capital("b")
            .await
            .unwrap()
            .map(|s| s.capital),
        Some(500.0)
    );
    assert!(matches!(
        update_strategy_capital(&store, &[], t(1)).await,
        Err(CapitalError::Invalid { .. })
    ));
}
