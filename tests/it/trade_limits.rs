//! Trade limits (§B15) and liquidity sizing (§B19 step 3): the stack handler cutting broker
//! orders to the limits' capacity and the quoted size (through the library, on a simulated
//! broker with quotes set by hand), and `systrade controls trade-limits` through the binary:
//! list, set, reset, delete, the auto-populated limits, and bad input exiting 2 with nothing
//! written.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use systrade::adapters::parquet::ParquetPriceStore;
use systrade::adapters::sim_broker::{ManualQuotes, SimBroker, SimFaults};
use systrade::adapters::store::sqlite::{Durability, SqliteRunStore};
use systrade::domain::broker::Broker;
use systrade::domain::contract::ContractId;
use systrade::domain::controls::{ControlStore, StrategyName};
use systrade::domain::execution::BestExecutionParams;
use systrade::domain::instrument::{Instrument, InstrumentCode, ReferenceData};
use systrade::domain::orders::handler::{PassReport, StackHandler};
use systrade::domain::orders::{AddOutcome, NewInstrumentOrder, OrderStore, OrderType};
use systrade::domain::ports::PriceStore;
use systrade::domain::series::{MultiplePrices, PriceSeries};
use systrade::engine::clock::Clock;

// The CLI tests run like the controls tests: the same test clock, exit checks, JSON parsing.
use crate::controls::{invalid, json_of, ok, run, NOW};
use crate::support::{stderr, TestHome};

// ---------------------------------------------------------------------------------------------
// The stack handler

fn code() -> InstrumentCode {
    InstrumentCode::new("SOFR").unwrap()
}

fn priced() -> ContractId {
    ContractId::monthly(2027, 3)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

/// A clock the test moves by hand, shared by the handler and the simulated broker.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A run store, a simulated broker quoting SOFR 2027-03 at 99 / 101 (sizes 100), and stored
/// multiple prices whose priced contract is that one.
struct Desk {
    _dir: tempfile::TempDir,
    store: SqliteRunStore,
    prices: ParquetPriceStore,
    quotes: Arc<ManualQuotes>,
    broker: SimBroker,
    clock: TestClock,
}

impl Desk {
    async fn new() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRunStore::open(&dir.path().join("systrade.db"), Durability::Normal)
            .await
            .unwrap();
        let prices = ParquetPriceStore::new(dir.path().join("data"));
        let day = 86_400_000_000i64;
        let last = t0().timestamp_micros();
        prices
            .write_multiple(
                &code(),
                &MultiplePrices {
                    ts: vec![last - 2 * day, last - day],
                    price: vec![99.5, 100.0],
                    forward: vec![99.0, 99.4],
                    carry: vec![f64::NAN, f64::NAN],
                    price_contract: vec![priced(); 2],
                    forward_contract: vec![ContractId::monthly(2027, 6); 2],
                    carry_contract: vec![ContractId::monthly(2026, 12); 2],
                },
            )
            .unwrap();
        let clock = TestClock(Arc::new(Mutex::new(t0())));
        let quotes = Arc::new(ManualQuotes::default());
        quotes.set(&code(), priced(), 99.0, 101.0, t0());
        let mut reference = ReferenceData::default();
        reference.instruments.insert(
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
        let broker = SimBroker::new(
            store.pool().clone(),
            quotes.clone(),
            Arc::new(reference),
            Arc::new(clock.clone()),
            1_000_000.0,
            "USD",
            SimFaults::default(),
        );
        Desk {
            _dir: dir,
            store,
            prices,
            quotes,
            broker,
            clock,
        }
    }

    /// One pass of a stack handler on this desk.
    async fn pass(&self) -> PassReport {
        self.pass_with(&|_| {}).await
    }

    /// One pass, calling `hook` at each step boundary (a panic there stands for a crash).
    async fn pass_with(&self, hook: &(dyn Fn(&str) + Send + Sync)) -> PassReport {
        let clock = self.clock.clone();
        let now = move || clock.now();
        let handler = StackHandler {
            orders: &self.store,
            broker: &self.broker,
            rolls: &self.store,
            contracts: &self.store,
            prices: &self.prices,
            controls: &self.store,
            best: BestExecutionParams::default(),
            now: &now,
            cache: Default::default(),
        };
        handler.pass(hook).await.unwrap()
    }

    async fn order(&self, strategy: &str, trade: i64, order_type: OrderType, limit: Option<f64>) {
        let added = self
            .store
            .add_instrument_order(&NewInstrumentOrder {
                strategy: strategy.into(),
                instrument: code(),
                trade,
                order_type,
                limit_price: limit,
                reference_price: None,
                reference_contract: None,
                reference_time: Some(self.clock.now()),
                generated_at: self.clock.now(),
                manual: true,
                roll_order: false,
            })
            .await
            .unwrap();
        assert!(matches!(added, AddOutcome::Added { .. }), "{added:?}");
    }

    async fn set_limit(&self, strategy: Option<&str>, period_days: u32, limit: i64) {
        let strategy = strategy.map(|s| StrategyName::new(s).unwrap());
        self.store
            .set_trade_limit(
                strategy.as_ref(),
                &code(),
                period_days,
                limit,
                self.clock.now(),
            )
            .await
            .unwrap();
    }

    /// The trades of every limit (instrument-wide first) as of now.
    async fn traded(&self) -> Vec<i64> {
        self.store
            .trade_limits(self.clock.now())
            .await
            .unwrap()
            .iter()
            .map(|l| l.trades_since_reset)
            .collect()
    }

    /// (trade, order type) of every broker order written, archived or active, by id.
    async fn broker_orders(&self) -> Vec<(i64, OrderType)> {
        let mut all = self.store.broker_orders(false).await.unwrap();
        all.extend(self.store.broker_orders(true).await.unwrap());
        all.sort_by_key(|b| b.id);
        all.into_iter().map(|b| (b.trade, b.order_type)).collect()
    }
}

fn has_note(report: &PassReport, needle: &str) -> bool {
    report.notes.iter().any(|n| n.contains(needle))
}

#[tokio::test]
async fn a_trade_limit_cuts_the_order_and_the_next_pass_sends_nothing() {
    let desk = Desk::new().await;
    desk.set_limit(None, 1, 4).await;
    desk.set_limit(Some("demo"), 1, 6).await;
    desk.set_limit(Some("other"), 1, 1).await;
    desk.order("demo", 10, OrderType::Market, None).await;

    let first = desk.pass().await;
    assert_eq!((first.spawned, first.sent), (1, 1), "{first:?}");
    assert_eq!(desk.broker_orders().await, [(4, OrderType::Market)]);
    assert!(
        has_note(
            &first,
            "trade limit: 10 -> 4 contracts (SOFR per 1 day: 4 of 4 left)"
        ),
        "{first:?}"
    );
    // Counted towards the instrument's and demo's limits, not another strategy's.
    assert_eq!(desk.traded().await, [4, 4, 0]);
    assert_eq!(desk.broker.positions().await.unwrap()[0].quantity, 4);

    // Capacity used: the fill is booked, the 6 left wait.
    let second = desk.pass().await;
    assert_eq!(second.sent, 0, "{second:?}");
    assert!(has_note(&second, "nothing sent this pass"), "{second:?}");
    assert_eq!(desk.broker_orders().await.len(), 1);

    // §E6: a limit lowered below what was traded leaves 0, not a negative capacity that
    // pysystemtrade's maths would turn into a positive order.
    desk.set_limit(None, 1, 2).await;
    let lowered = desk.pass().await;
    assert_eq!(lowered.sent, 0, "{lowered:?}");
    assert!(
        has_note(&lowered, "trade limit: 6 -> 0 contracts"),
        "{lowered:?}"
    );
    assert!(
        has_note(&lowered, "(SOFR per 1 day: 0 of 2 left); nothing sent"),
        "{lowered:?}"
    );
    assert_eq!(
        desk.traded().await,
        [4, 4, 0],
        "trades kept when the limit changes"
    );

    // A day later the period has rolled: 2 more (the lowered limit) go out.
    desk.clock.advance(Duration::days(1) + Duration::minutes(1));
    let next_day = desk.pass().await;
    assert_eq!(next_day.sent, 1, "{next_day:?}");
    assert_eq!(
        desk.broker_orders().await,
        [(4, OrderType::Market), (2, OrderType::Market)]
    );
    assert_eq!(desk.traded().await, [2, 2, 0]);
}

#[tokio::test]
async fn best_execution_is_cut_to_the_size_quoted_on_our_side() {
    let desk = Desk::new().await;
    // A buy trades against the ask: 3 offered (and 100 bid, which §E7 ignores).
    desk.quotes.set_sizes(&code(), priced(), 100.0, 3.0);
    desk.order("demo", 5, OrderType::Best, None).await;
    let first = desk.pass().await;
    assert_eq!(first.sent, 1, "{first:?}");
    let sent = desk.broker_orders().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 3, "{sent:?}");
    assert!(
        has_note(
            &first,
            "liquidity: 5 -> 3 contracts (quoted on our side: 3)"
        ),
        "{first:?}"
    );
    // No trade limit: nothing counted, nothing cut by limits.
    assert!(desk.traded().await.is_empty());
    assert!(!has_note(&first, "trade limit"), "{first:?}");

    // The book was imbalanced against us (3 offered, 100 bid): a market order, filled.
    assert_eq!(sent[0].1, OrderType::Market);
    // Nothing offered now: the 2 left wait (noted), however much is bid.
    desk.quotes.set_sizes(&code(), priced(), 100.0, 0.0);
    let second = desk.pass().await;
    assert!(
        has_note(
            &second,
            "liquidity: 2 -> 0 contracts (quoted on our side: 0); nothing sent"
        ),
        "{second:?}"
    );
    assert_eq!(second.sent, 0);
}

#[tokio::test]
async fn limit_orders_are_not_cut_but_count_towards_the_limits() {
    let desk = Desk::new().await;
    desk.set_limit(None, 1, 4).await;
    desk.order("demo", -10, OrderType::Limit, Some(105.0)).await;
    let first = desk.pass().await;
    assert_eq!(first.sent, 1, "{first:?}");
    assert_eq!(desk.broker_orders().await, [(-10, OrderType::Limit)]);
    assert!(!has_note(&first, "trade limit"), "{first:?}");
    // The sale of 10 counts 10: nothing is left for other orders this period.
    assert_eq!(desk.traded().await, [10]);
    let left = desk.store.trade_limits(desk.clock.now()).await.unwrap();
    assert_eq!(left[0].capacity(), 0);
    desk.order("demo", 1, OrderType::Market, None).await;
    let second = desk.pass().await;
    assert!(has_note(&second, "trade limit: 1 -> 0"), "{second:?}");
}

#[tokio::test]
async fn an_order_a_crash_interrupted_is_counted_when_the_restart_finds_or_sends_it() {
    for step in [
        "after_broker_order_written",
        "after_order_sent",
        "after_order_recorded",
    ] {
        let desk = Arc::new(Desk::new().await);
        desk.set_limit(None, 1, 10).await;
        desk.order("demo", 3, OrderType::Market, None).await;
        let crashing = desk.clone();
        let crashed = tokio::spawn(async move {
            crashing
                .pass_with(&move |at: &str| {
                    if at == step {
                        panic!("crash at {at} (expected by the test)");
                    }
                })
                .await
        })
        .await;
        assert!(crashed.is_err(), "{step}: the pass should have crashed");
        let after = desk.pass().await;
        assert_eq!(
            desk.broker_orders().await,
            [(3, OrderType::Market)],
            "{step}"
        );
        assert_eq!(
            desk.broker.positions().await.unwrap()[0].quantity,
            3,
            "{step}"
        );
        // Counted once whether the crash came before or after the broker had it.
        assert_eq!(desk.traded().await, [3], "{step}: {after:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// systrade controls trade-limits

/// `trade-limits list --json` rows without their times (checked: the test clock starts at NOW,
/// and the period ends `period_days` after the last reset).
fn listed(h: &TestHome) -> Vec<Value> {
    let v = json_of(h, &tl("list --json"));
    let mut rows = v["trade_limits"].as_array().expect("an array").clone();
    for r in &mut rows {
        let obj = r.as_object_mut().expect("an object");
        let last: DateTime<Utc> =
            serde_json::from_value(obj.remove("last_reset").expect("last_reset")).unwrap();
        let ends: DateTime<Utc> =
            serde_json::from_value(obj.remove("resets_at").expect("resets_at")).unwrap();
        let period = obj["period_days"].as_i64().expect("period_days");
        assert_eq!(ends - last, Duration::days(period));
        assert!(last.to_rfc3339().starts_with("2026-11-24T12:0"), "{last}");
    }
    rows
}

/// Adds `quantity` to the limits of a strategy's orders in an instrument, as the stack handler
/// does when it sends an order.
fn trade(h: &TestHome, strategy: &str, instrument: &str, quantity: i64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteRunStore::open(&h.path().join("systrade.db"), Durability::Normal)
            .await
            .unwrap();
        let at = DateTime::parse_from_rfc3339(NOW)
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(1);
        store
            .record_trade(
                strategy,
                &InstrumentCode::new(instrument).unwrap(),
                quantity,
                at,
            )
            .await
            .unwrap();
    });
}

/// `controls trade-limits` and the words of `line`.
fn tl(line: &str) -> Vec<&str> {
    let mut a = vec!["controls", "trade-limits"];
    a.extend(line.split_whitespace());
    a
}

fn home() -> TestHome {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[strategies]\nweights = { demo = 1.0, trend = 1.0 }\n",
    )
    .unwrap();
    h
}

#[test]
fn trade_limits_set_list_reset_delete() {
    let h = home();
    assert_eq!(
        json_of(&h, &tl("list --json")),
        json!({ "trade_limits": [] })
    );
    assert!(ok(&h, &tl("list")).contains("no trade limits"));
    let set = json_of(
        &h,
        &tl("set --instrument SP500 --period-days 1 --limit 6 --json"),
    );
    assert_eq!(
        set,
        json!({
            "action": "set", "scope": "instrument", "strategy": null, "instrument": "SP500",
            "period_days": 1, "limit": 6, "traded": 0, "capacity": 6, "previous": null,
        })
    );
    let text = ok(
        &h,
        &tl("set --instrument SP500 --strategy demo --period-days 5 --limit 3"),
    );
    assert!(
        text.contains("trade limit of demo/SP500 per 5 days: 3"),
        "{text}"
    );
    assert_eq!(
        listed(&h),
        [
            json!({ "scope": "instrument", "strategy": null, "instrument": "SP500",
                    "period_days": 1, "limit": 6, "traded": 0, "capacity": 6 }),
            json!({ "scope": "strategy_instrument", "strategy": "demo", "instrument": "SP500",
                    "period_days": 5, "limit": 3, "traded": 0, "capacity": 3 }),
        ]
    );
    let table = ok(&h, &tl("list"));
    assert!(
        table.contains("period ends") && table.contains("5 days"),
        "{table}"
    );

    // The stack handler sent 5 contracts for demo: both limits count them; lowering the
    // instrument's limit keeps them (capacity 0, never negative).
    trade(&h, "demo", "SP500", 5);
    let set = json_of(
        &h,
        &tl("set --instrument SP500 --period-days 1 --limit 4 --json"),
    );
    assert_eq!(set["previous"], json!({ "limit": 6 }));
    assert_eq!((&set["traded"], &set["capacity"]), (&json!(5), &json!(0)));
    let rows = listed(&h);
    assert_eq!(
        (&rows[0]["traded"], &rows[0]["capacity"]),
        (&json!(5), &json!(0))
    );
    assert_eq!(
        (&rows[1]["traded"], &rows[1]["capacity"]),
        (&json!(5), &json!(0))
    );

    // A reset starts the period again for that limit only.
    let reset = json_of(&h, &tl("reset --instrument SP500 --period-days 1 --json"));
    assert_eq!(reset["action"], "reset");
    assert_eq!(reset["previous"]["traded"], 5);
    let rows = listed(&h);
    assert_eq!(
        (&rows[0]["traded"], &rows[0]["capacity"]),
        (&json!(0), &json!(4))
    );
    assert_eq!(rows[1]["traded"], 5);

    let text = ok(
        &h,
        &tl("delete --instrument SP500 --strategy demo --period-days 5"),
    );
    assert!(text.contains("deleted (was 3, 5 traded)"), "{text}");
    assert_eq!(listed(&h).len(), 1);
}

#[test]
fn bad_trade_limit_input_exits_2_and_writes_nothing() {
    let h = home();
    ok(&h, &tl("set --instrument SP500 --period-days 1 --limit 6"));
    let before = listed(&h);
    for (line, needle) in [
        (
            "set --instrument SP5000 --period-days 1 --limit 3",
            "did you mean `SP500`?",
        ),
        (
            "set --instrument sp500 --period-days 1 --limit 3",
            "codes are case-sensitive",
        ),
        (
            "set --instrument SP500 --period-days 0 --limit 3",
            "the period must be 1 to 3650 days, not 0",
        ),
        (
            "set --instrument SP500 --period-days -2 --limit 3",
            "not -2",
        ),
        (
            "set --instrument SP500 --period-days 1 --limit -1",
            "a trade limit is 0 or more contracts, not -1",
        ),
        (
            "set --instrument SP500 --period-days 1 --limit lots",
            "invalid value 'lots'",
        ),
        (
            "reset --instrument SP500 --period-days 2",
            "no trade limit stored for SP500 (all strategies) per 2 days; nothing reset",
        ),
        (
            "delete --instrument SP500 --strategy demo --period-days 1",
            "no trade limit stored for demo/SP500 per 1 day; nothing deleted",
        ),
        (
            "auto --period-days 1 --instrument SP5000",
            "did you mean `SP500`?",
        ),
        (
            "auto --period-days 0 --apply",
            "the period must be 1 to 3650 days",
        ),
        // Off a terminal, no subcommand: the help and exit 2.
        ("", "give a subcommand (list, set, reset, delete, auto)"),
    ] {
        invalid(&h, &tl(line), needle);
    }
    let mut bad_name = tl("set --instrument SP500 --period-days 1 --limit 3 --strategy");
    bad_name.push("my strategy");
    invalid(&h, &bad_name, "invalid strategy name `my strategy`");
    assert_eq!(listed(&h), before);
}

/// `len + 1` daily adjusted prices at 23:00 ending the day before NOW, alternating `low` and
/// `high` (starting and ending at `low`).
fn alternating(len: i64, low: f64, high: f64) -> PriceSeries {
    let last = Utc.with_ymd_and_hms(2026, 11, 23, 23, 0, 0).unwrap();
    let mut s = PriceSeries::default();
    for i in 0..=len {
        s.ts.push((last - Duration::days(len - i)).timestamp_micros());
        s.value.push(if i % 2 == 0 { low } else { high });
    }
    s
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn auto_trade_limits_from_capital_risk_and_exposure() {
    let h = home();
    let store = ParquetPriceStore::new(h.path().join("data"));
    let sp500 = InstrumentCode::new("SP500").unwrap();
    let v2x = InstrumentCode::new("V2X").unwrap();
    // 60 daily changes of ±10 (SP500, USD, point 50) and ±1 (V2X, EUR, point 100).
    store
        .write_adjusted(&sp500, &alternating(60, 4000.0, 4010.0))
        .unwrap();
    store
        .write_adjusted(&v2x, &alternating(60, 20.0, 21.0))
        .unwrap();
    // No capital yet: an operational error naming the fix, nothing written.
    let out = run(&h, &tl("auto --period-days 30 --apply"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("systrade capital init"),
        "{}",
        stderr(&out)
    );
    ok(&h, &["capital", "init", "1000000"]);
    // V2X needs EUR in USD: without it, V2X is skipped with the reason.
    let v = json_of(&h, &tl("auto --period-days 30 --json"));
    assert_eq!(
        v["skipped"],
        json!([{ "instrument": "V2X", "reason": "no EURUSD FX rate stored" }])
    );
    store
        .write_fx(
            "EUR",
            &PriceSeries {
                ts: vec![0, 1],
                value: vec![1.05, 1.1],
            },
        )
        .unwrap();
    // Asked by name, an instrument without prices is skipped too.
    let v = json_of(
        &h,
        &tl("auto --period-days 30 --instrument SP500 --instrument V2X --instrument GOLD --json"),
    );
    assert_eq!(
        (v["capital"].clone(), v["base_currency"].clone()),
        (json!(1e6), json!("USD"))
    );
    assert_eq!(
        (v["period_days"].clone(), v["applied"].clone()),
        (json!(30), json!(false))
    );
    assert_eq!(
        v["skipped"],
        json!([{ "instrument": "GOLD", "reason": "no adjusted prices for GOLD" }])
    );
    let rows = v["instruments"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let stdev = 16.0 * (60.0f64 / 59.0).sqrt(); // of ±1 changes, annualised
    let sp = &rows[0];
    assert_eq!(sp["instrument"], "SP500");
    assert_eq!(sp["daily_changes"], 60);
    assert!(
        close(sp["annual_price_stdev"].as_f64().unwrap(), 10.0 * stdev),
        "{sp}"
    );
    assert!(close(
        sp["annual_cash_risk_per_contract"].as_f64().unwrap(),
        10.0 * stdev * 50.0
    ));
    assert!(close(
        sp["notional_exposure_per_contract"].as_f64().unwrap(),
        4000.0 * 50.0
    ));
    assert_eq!(sp["average_daily_volume"], Value::Null);
    // risk 6.2, leverage 5, concentration 6 → 5; 30 days: ceil(5 × √30 × 0.33) = 10.
    assert_eq!(sp["standard_position"], 5.0);
    assert_eq!(
        (sp["trade_limit"].clone(), sp["position_limit"].clone()),
        (json!(10), json!(5))
    );
    assert_eq!(sp["current_trade_limit"], Value::Null);
    let vx = &rows[1];
    assert_eq!(
        (vx["currency"].clone(), vx["fx_to_base"].clone()),
        (json!("EUR"), json!(1.1))
    );
    assert!(
        close(
            vx["annual_cash_risk_per_contract"].as_f64().unwrap(),
            stdev * 110.0
        ),
        "{vx}"
    );
    assert!(close(
        vx["notional_exposure_per_contract"].as_f64().unwrap(),
        20.0 * 110.0
    ));
    // risk 28.2, leverage 454, concentration 28 → 28; ceil(28 × √30 × 0.33) = 51.
    assert_eq!(vx["standard_position"], 28.0);
    assert_eq!(
        (vx["trade_limit"].clone(), vx["position_limit"].clone()),
        (json!(51), json!(28))
    );
    // Shown only.
    assert!(listed(&h).is_empty());
    let text = ok(&h, &tl("auto --period-days 30"));
    assert!(text.contains("nothing written: add --apply"), "{text}");
    assert!(text.contains("SP500") && text.contains("V2X"), "{text}");

    // --apply writes instrument-wide limits, keeping what was traded this period.
    ok(&h, &tl("set --instrument SP500 --period-days 30 --limit 2"));
    trade(&h, "demo", "SP500", 2);
    let v = json_of(&h, &tl("auto --period-days 30 --apply --json"));
    assert_eq!(v["applied"], true);
    assert_eq!(v["instruments"][0]["current_trade_limit"], 2);
    assert_eq!(
        listed(&h),
        [
            json!({ "scope": "instrument", "strategy": null, "instrument": "SP500",
                    "period_days": 30, "limit": 10, "traded": 2, "capacity": 8 }),
            json!({ "scope": "instrument", "strategy": null, "instrument": "V2X",
                    "period_days": 30, "limit": 51, "traded": 0, "capacity": 51 }),
        ]
    );
}
