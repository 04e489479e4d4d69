use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

fn tick(bid: f64, ask: f64, bid_size: f64, ask_size: f64) -> Tick {
    Tick {
        bid,
        ask,
        bid_size,
        ask_size,
    }
}

fn analysed(bid: f64, ask: f64, bid_size: f64, ask_size: f64, quantity: i64) -> TickAnalysis {
    match analyse(&tick(bid, ask, bid_size, ask_size), quantity) {
        Some(a) => a,
        None => panic!("tick {bid}/{ask} should be valid"),
    }
}

fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
}

fn limit(strategy: Option<&str>, instrument: &str, limit: i64, trades: i64) -> TradeLimit {
    TradeLimit {
        strategy: strategy.map(str::to_string),
        instrument: instrument.to_string(),
        limit,
        period_days: 1,
        trades_since_reset: trades,
        last_reset: t0(),
    }
}

// ---- Tick analysis --------------------------------------------------------------------------

#[test]
fn a_buy_crosses_at_the_ask_and_waits_on_the_bid() {
    let a = analysed(100.0, 101.0, 10.0, 2.0, 3);
    assert_eq!(a.side_price, 101.0);
    assert_eq!(a.offside_price, 100.0);
    assert_eq!(a.side_qty, 2.0);
    assert_eq!(a.offside_qty, 10.0);
    assert_eq!(a.mid, 100.5);
    assert_eq!(a.imbalance, 5.0);
}

#[test]
fn a_sell_is_mirrored() {
    let a = analysed(100.0, 101.0, 10.0, 2.0, -1);
    assert_eq!(a.side_price, 100.0);
    assert_eq!(a.offside_price, 101.0);
    assert_eq!(a.side_qty, 10.0);
    assert_eq!(a.offside_qty, 2.0);
    assert_eq!(a.mid, 100.5);
    assert_eq!(a.imbalance, 0.2);
}

#[test]
fn nothing_on_the_side_price_gives_the_sentinel_imbalance() {
    assert_eq!(analysed(100.0, 101.0, 5.0, 0.0, 1).imbalance, 9999.0);
    assert_eq!(analysed(100.0, 101.0, 0.0, 0.0, 1).imbalance, 9999.0);
    // Bad sizes count as nothing quoted.
    let a = analysed(100.0, 101.0, f64::NAN, -3.0, 1);
    assert_eq!((a.side_qty, a.offside_qty, a.imbalance), (0.0, 0.0, 9999.0));
    assert_eq!(
        analysed(100.0, 101.0, f64::INFINITY, 4.0, 1).offside_qty,
        0.0
    );
}

#[test]
fn invalid_ticks_and_zero_quantity_give_none() {
    for t in [
        tick(0.0, 101.0, 1.0, 1.0),
        tick(100.0, 0.0, 1.0, 1.0),
        tick(-1.0, 101.0, 1.0, 1.0),
        tick(f64::NAN, 101.0, 1.0, 1.0),
        tick(100.0, f64::NAN, 1.0, 1.0),
        tick(100.0, f64::INFINITY, 1.0, 1.0),
        tick(102.0, 101.0, 1.0, 1.0),
    ] {
        assert_eq!(analyse(&t, 1), None, "{t:?}");
        assert_eq!(analyse(&t, -1), None, "{t:?}");
    }
    assert_eq!(analyse(&tick(100.0, 101.0, 1.0, 1.0), 0), None);
    // A locked book (bid = ask) is valid.
    assert!(analyse(&tick(100.0, 100.0, 1.0, 1.0), 1).is_some());
}

#[test]
fn adverse_move_is_the_offside_moving_away() {
    let reference = analysed(100.0, 101.0, 1.0, 1.0, 1);
    let up = analysed(100.5, 101.0, 1.0, 1.0, 1);
    let down = analysed(99.5, 101.0, 1.0, 1.0, 1);
    assert!(adverse_move(&reference, &up, 1));
    assert!(!adverse_move(&reference, &down, 1));
    assert!(!adverse_move(&reference, &reference, 1));

    let reference = analysed(100.0, 101.0, 1.0, 1.0, -1);
    let ask_down = analysed(100.0, 100.5, 1.0, 1.0, -1);
    let ask_up = analysed(100.0, 101.5, 1.0, 1.0, -1);
    assert!(adverse_move(&reference, &ask_down, -1));
    assert!(!adverse_move(&reference, &ask_up, -1));
    assert!(!adverse_move(&reference, &ask_down, 0));
}

#[test]
fn rounding_to_the_tick() {
    assert_eq!(round_to_tick(100.13, 0.25), 100.25);
    assert_eq!(round_to_tick(100.12, 0.25), 100.0);
    assert_eq!(round_to_tick(-3.3, 0.5), -3.5);
    assert!((round_to_tick(1.234_56, 0.0001) - 1.2346).abs() < 1e-12);
    for bad in [0.0, -0.25, f64::NAN, f64::INFINITY] {
        assert_eq!(round_to_tick(100.13, bad), 100.13, "tick {bad}");
    }
    assert!(round_to_tick(f64::NAN, 0.25).is_nan());
}

// ---- Best execution ---------------------------------------------------------------------------

#[test]
fn default_params_are_pysystemtrades() {
    let p = BestExecutionParams::default();
    assert_eq!(p.passive_timeout, secs(300));
    assert_eq!(p.total_timeout, secs(600));
    assert_eq!(p.imbalance_threshold, 5.0);
    assert_eq!(p.side_qty_multiple, 3.0);
    assert_eq!(p.closing_margin, Duration::minutes(30));
    let json = serde_json::to_value(p).unwrap();
    assert_eq!(json["passive_timeout"], 300);
    assert_eq!(json["closing_margin"], 1800);
}

#[test]
fn the_passive_limit_is_at_the_bid_for_a_buy() {
    // §E7: offside = the passive side (bid for a buy, ask for a sell), as pysystemtrade's code.
    let p = BestExecutionParams::default();
    let buy = analysed(100.0, 101.0, 1.0, 1.0, 1);
    assert_eq!(
        initial_order(&buy, 1, None, &p),
        InitialOrder::Limit { price: 100.0 }
    );
    let sell = analysed(100.0, 101.0, 1.0, 1.0, -1);
    assert_eq!(
        initial_order(&sell, -1, Some(Duration::hours(3)), &p),
        InitialOrder::Limit { price: 101.0 }
    );
}

#[test]
fn an_imbalanced_thin_book_gives_a_market_order() {
    let p = BestExecutionParams::default();
    let market = InitialOrder::Market {
        reason: AggressiveReason::SizeImbalance,
    };
    // Imbalance 8 > 5 and ask size 2 < 3 × 1.
    assert_eq!(
        initial_order(&analysed(100.0, 101.0, 16.0, 2.0, 1), 1, None, &p),
        market
    );
    // Imbalance exactly 5 is not above the threshold.
    assert!(matches!(
        initial_order(&analysed(100.0, 101.0, 10.0, 2.0, 1), 1, None, &p),
        InitialOrder::Limit { .. }
    ));
    // Imbalance 16/3 > 5 but ask size 3 is not below 3 × 1 …
    let a = analysed(100.0, 101.0, 16.0, 3.0, 1);
    assert!(matches!(
        initial_order(&a, 1, None, &p),
        InitialOrder::Limit { .. }
    ));
    // … though it is below 3 × 2.
    assert_eq!(initial_order(&a, 2, None, &p), market);
    // Nothing on the ask at all: imbalance 9999, side 0.
    assert_eq!(
        initial_order(&analysed(100.0, 101.0, 1.0, 0.0, 1), 1, None, &p),
        market
    );
}

#[test]
fn little_time_left_gives_a_market_order() {
    let p = BestExecutionParams::default();
    let a = analysed(100.0, 101.0, 1.0, 1.0, 1);
    let closing = InitialOrder::Market {
        reason: AggressiveReason::ClosingSoon,
    };
    assert_eq!(
        initial_order(&a, 1, Some(Duration::minutes(29)), &p),
        closing
    );
    assert_eq!(initial_order(&a, 1, Some(secs(-60)), &p), closing);
    assert_eq!(
        initial_order(&a, 1, Some(Duration::minutes(30)), &p),
        InitialOrder::Limit { price: 100.0 }
    );
}

#[test]
fn reasons_to_go_aggressive() {
    let p = BestExecutionParams::default();
    let reference = analysed(100.0, 101.0, 1.0, 1.0, 1);
    let calm = Some(&reference);
    let hours = Some(Duration::hours(2));
    assert_eq!(
        go_aggressive(secs(300), &reference, calm, 1, hours, &p),
        None
    );
    assert_eq!(go_aggressive(secs(0), &reference, calm, 1, None, &p), None);
    assert_eq!(
        go_aggressive(secs(301), &reference, calm, 1, hours, &p),
        Some(AggressiveReason::PassiveTimeout)
    );
    assert_eq!(
        go_aggressive(
            secs(10),
            &reference,
            calm,
            1,
            Some(Duration::minutes(10)),
            &p
        ),
        Some(AggressiveReason::ClosingSoon)
    );
    assert_eq!(
        go_aggressive(secs(10), &reference, None, 1, hours, &p),
        Some(AggressiveReason::NoValidTick)
    );
    let bid_up = analysed(100.5, 101.0, 1.0, 1.0, 1);
    assert_eq!(
        go_aggressive(secs(10), &reference, Some(&bid_up), 1, hours, &p),
        Some(AggressiveReason::AdverseMove)
    );
    let thin = analysed(100.0, 101.0, 20.0, 1.0, 1);
    assert_eq!(
        go_aggressive(secs(10), &reference, Some(&thin), 1, hours, &p),
        Some(AggressiveReason::SizeImbalance)
    );
}

#[test]
fn aggressive_reasons_are_checked_in_pysystemtrades_order() {
    let p = BestExecutionParams::default();
    let reference = analysed(100.0, 101.0, 1.0, 1.0, 1);
    let bad = analysed(100.5, 101.0, 20.0, 1.0, 1); // adverse and imbalanced
    let closing = Some(secs(60));
    assert_eq!(
        go_aggressive(secs(301), &reference, None, 1, closing, &p),
        Some(AggressiveReason::PassiveTimeout)
    );
    assert_eq!(
        go_aggressive(secs(1), &reference, None, 1, closing, &p),
        Some(AggressiveReason::ClosingSoon)
    );
    assert_eq!(
        go_aggressive(secs(1), &reference, Some(&bad), 1, None, &p),
        Some(AggressiveReason::AdverseMove)
    );
}

#[test]
fn aggressive_price_and_total_timeout() {
    let p = BestExecutionParams::default();
    assert_eq!(
        aggressive_price(&analysed(100.0, 101.0, 1.0, 1.0, 1)),
        101.0
    );
    assert_eq!(
        aggressive_price(&analysed(100.0, 101.0, 1.0, 1.0, -1)),
        100.0
    );
    assert!(!timed_out(secs(600), &p));
    assert!(timed_out(secs(601), &p));
}

#[test]
fn reasons_display_distinctly_and_serialise() {
    let all = [
        AggressiveReason::PassiveTimeout,
        AggressiveReason::ClosingSoon,
        AggressiveReason::AdverseMove,
        AggressiveReason::SizeImbalance,
        AggressiveReason::NoValidTick,
    ];
    let texts: std::collections::HashSet<String> = all.iter().map(|r| r.to_string()).collect();
    assert_eq!(texts.len(), all.len());
    assert!(AggressiveReason::AdverseMove
        .to_string()
        .contains("adverse"));
    let json = serde_json::to_value(InitialOrder::Market {
        reason: AggressiveReason::ClosingSoon,
    })
    .unwrap();
    assert_eq!(json["type"], "market");
    assert_eq!(json["reason"], "closing_soon");
}

// ---- Trade limits -------------------------------------------------------------------------------

#[test]
fn reset_only_after_more_than_the_period() {
    let mut l = limit(None, "X", 10, 6);
    assert!(!l.reset_if_due(t0() + Duration::days(1)));
    assert_eq!(l.trades_since_reset, 6);
    let later = t0() + Duration::days(1) + secs(1);
    assert!(l.reset_if_due(later));
    assert_eq!((l.trades_since_reset, l.last_reset), (0, later));
    // Rolling from the last reset, not from the original clock.
    l.record(4);
    assert!(!l.reset_if_due(later + Duration::hours(23)));
    assert_eq!(l.trades_since_reset, 4);
    // A longer period.
    let mut weekly = limit(Some("a"), "X", 10, 6);
    weekly.period_days = 7;
    assert!(!weekly.reset_if_due(t0() + Duration::days(6)));
    assert!(weekly.reset_if_due(t0() + Duration::days(8)));
    // A clock going backwards never resets.
    assert!(!limit(None, "X", 1, 1).reset_if_due(t0() - Duration::days(30)));
}

#[test]
fn capacity_and_recording() {
    let mut l = limit(None, "X", 10, 3);
    assert_eq!(l.capacity(), 7);
    l.record(4);
    assert_eq!(l.capacity(), 3);
    l.record(-2); // the sign is ignored
    assert_eq!((l.trades_since_reset, l.capacity()), (9, 1));
    l.record(i64::MAX);
    assert_eq!((l.trades_since_reset, l.capacity()), (i64::MAX, 0));
    assert_eq!(limit(None, "X", -5, 0).capacity(), 0);
    assert_eq!(limit(None, "X", i64::MIN, i64::MAX).capacity(), 0);
}

#[test]
fn a_limit_lowered_below_the_trades_done_allows_nothing() {
    // §E6: 8 traded, limit lowered from 10 to 5. pysystemtrade: capacity −3, ratio −3/4,
    // scaled leg −3, abs 3 → it would send 3 more. Ours: capacity 0, nothing sent.
    let mut l = limit(None, "X", 10, 8);
    l.limit = 5;
    assert_eq!(l.capacity(), 0);
    let allowed = allowed_abs_quantity(&[&l], 4);
    assert_eq!(allowed, 0);
    assert_eq!(scale_legs(&[4], allowed), vec![0]);
    assert_eq!(scale_legs(&[-2, 2], allowed), vec![0, 0]);
}

#[test]
fn relevant_limits_are_the_instruments_and_the_strategys() {
    let limits = vec![
        limit(None, "X", 1, 0),
        limit(Some("a"), "X", 2, 0),
        limit(Some("b"), "X", 3, 0),
        limit(None, "Y", 4, 0),
        limit(Some("a"), "Y", 5, 0),
        {
            let mut weekly = limit(None, "X", 6, 0);
            weekly.period_days = 7;
            weekly
        },
    ];
    let r: Vec<i64> = relevant(&limits, "a", "X")
        .iter()
        .map(|l| l.limit)
        .collect();
    assert_eq!(r, vec![1, 2, 6]);
    let r: Vec<i64> = relevant(&limits, "c", "X")
        .iter()
        .map(|l| l.limit)
        .collect();
    assert_eq!(r, vec![1, 6]);
    let r: Vec<i64> = relevant(&limits, "a", "Y")
        .iter()
        .map(|l| l.limit)
        .collect();
    assert_eq!(r, vec![4, 5]);
    assert!(relevant(&limits, "a", "Z").is_empty());
}

#[test]
fn allowed_is_the_smallest_capacity() {
    let a = limit(None, "X", 10, 3);
    let b = limit(Some("s"), "X", 5, 2);
    assert_eq!(allowed_abs_quantity(&[], 12), 12);
    assert_eq!(allowed_abs_quantity(&[&a, &b], 5), 3);
    assert_eq!(allowed_abs_quantity(&[&b, &a], 5), 3);
    assert_eq!(allowed_abs_quantity(&[&a, &b], 2), 2);
    assert_eq!(allowed_abs_quantity(&[&a], 20), 7);
    assert_eq!(allowed_abs_quantity(&[&a], -4), 0);
    assert_eq!(allowed_abs_quantity(&[], -4), 0);
}

#[test]
fn trade_limits_serialise_with_their_clock() {
    let json = serde_json::to_value(limit(None, "X", 10, 3)).unwrap();
    assert_eq!(json["strategy"], serde_json::Value::Null);
    assert_eq!(json["limit"], 10);
    assert!(json["last_reset"]
        .as_str()
        .unwrap()
        .starts_with("2024-03-01T12:00:00"));
}

// ---- Leg sizing -------------------------------------------------------------------------------

#[test]
fn scaling_legs_to_a_trade_limit() {
    assert_eq!(scale_legs(&[-2, 2], 2), vec![-1, 1]);
    assert_eq!(scale_legs(&[3, -1], 2), vec![0, 0]); // [1, 0] loses the 3:1 ratio
    assert_eq!(scale_legs(&[4, -2], 3), vec![2, -1]);
    assert_eq!(scale_legs(&[3, -3], 5), vec![2, -2]);
    assert_eq!(scale_legs(&[5], 3), vec![3]);
    assert_eq!(scale_legs(&[-5], 3), vec![-3]);
    assert_eq!(scale_legs(&[10, -10], 20), vec![10, -10]);
    assert_eq!(scale_legs(&[10, -10], 100), vec![10, -10]);
    assert_eq!(scale_legs(&[1, -2, 1], 3), vec![0, 0, 0]);
    assert_eq!(scale_legs(&[2, -4, 2], 4), vec![1, -2, 1]);
    assert_eq!(scale_legs(&[5], 0), vec![0]);
    assert_eq!(scale_legs(&[5, -5], -3), vec![0, 0]);
    assert_eq!(scale_legs(&[], 3), Vec::<i64>::new());
    assert_eq!(scale_legs(&[0, 0], 0), vec![0, 0]);
}

#[test]
fn scaling_is_exact_where_floats_would_lose_a_contract() {
    // (13 / 23) × 23 is 12.999… in f64.
    assert_eq!(scale_legs(&[23], 13), vec![13]);
    assert_eq!(scale_legs(&[-39], 31), vec![-31]);
}

#[test]
fn extreme_legs_do_not_overflow() {
    assert_eq!(scale_legs(&[i64::MIN, i64::MAX], 0), vec![0, 0]);
    let r = scale_legs(&[i64::MAX, i64::MAX], i64::MAX);
    assert_eq!(r, vec![i64::MAX / 2, i64::MAX / 2]);
    assert_eq!(scale_legs(&[i64::MIN], 7), vec![-7]);
    assert_eq!(liquidity_cap(&[i64::MIN], &[f64::MAX]), vec![-i64::MAX]);
}

#[test]
fn liquidity_caps_by_the_most_constrained_leg() {
    assert_eq!(liquidity_cap(&[5], &[3.0]), vec![3]);
    assert_eq!(liquidity_cap(&[-5], &[3.0]), vec![-3]);
    assert_eq!(liquidity_cap(&[5], &[10.0]), vec![5]);
    assert_eq!(liquidity_cap(&[5], &[2.7]), vec![2]);
    assert_eq!(liquidity_cap(&[-4, 4], &[2.0, 10.0]), vec![-2, 2]);
    assert_eq!(liquidity_cap(&[-4, 4], &[10.0, 3.0]), vec![-3, 3]);
    assert_eq!(liquidity_cap(&[4, -2], &[3.0, 1.0]), vec![2, -1]);
    assert_eq!(liquidity_cap(&[2, -1], &[1.0, 10.0]), vec![0, 0]); // [1, 0] loses 2:1
    assert_eq!(liquidity_cap(&[0, 3], &[f64::NAN, 5.0]), vec![0, 3]);
    assert_eq!(liquidity_cap(&[], &[]), Vec::<i64>::new());
}

#[test]
fn bad_or_missing_liquidity_gives_zero() {
    for bad in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.5] {
        assert_eq!(liquidity_cap(&[3, -3], &[bad, 10.0]), vec![0, 0], "{bad}");
    }
    assert_eq!(liquidity_cap(&[3, -3], &[10.0]), vec![0, 0]);
    assert_eq!(liquidity_cap(&[3], &[10.0, 10.0]), vec![0]);
}

#[test]
fn liquidity_is_the_size_we_can_take_not_the_queue_we_join() {
    // §E7: a buy of 5 with 1 lot offered and 100 bid. pysystemtrade's offside_qty (the bid
    // size, 100) would let all 5 go; the ask size allows 1.
    let a = analysed(100.0, 101.0, 100.0, 1.0, 5);
    assert_eq!(liquidity_cap(&[5], &[a.side_qty]), vec![1]);
    let s = analysed(100.0, 101.0, 2.0, 100.0, -5);
    assert_eq!(liquidity_cap(&[-5], &[s.side_qty]), vec![-2]);
}

// ---- Leg ratios and spread price ----------------------------------------------------------------

#[test]
fn leg_ratios_examples() {
    assert_eq!(leg_ratios(&[-2, 2]), vec![1, -1]);
    assert_eq!(leg_ratios(&[2, -2]), vec![1, -1]);
    assert_eq!(leg_ratios(&[4, -6]), vec![2, -3]);
    assert_eq!(leg_ratios(&[-3, 6, -3]), vec![1, -2, 1]);
    assert_eq!(leg_ratios(&[3]), vec![1]);
    assert_eq!(leg_ratios(&[-3]), vec![1]);
    assert_eq!(leg_ratios(&[0]), vec![0]);
    assert_eq!(leg_ratios(&[0, 0]), vec![0, 0]);
    assert_eq!(leg_ratios(&[]), Vec::<i64>::new());
    assert_eq!(leg_ratios(&[0, -2]), vec![0, 1]);
    assert_eq!(leg_ratios(&[0, -2, 4]), vec![0, 1, -2]);
    assert_eq!(leg_ratios(&[i64::MIN]), vec![1]);
    assert_eq!(leg_ratios(&[i64::MIN, i64::MIN]), vec![1, 1]);
    assert_eq!(leg_ratios(&[i64::MAX, i64::MIN]).len(), 2);
    assert_eq!(leg_ratios(&[-1, i64::MIN]), vec![1, i64::MAX]); // saturates, no panic
}

#[test]
fn spread_prices() {
    // Force roll: [−2, +2] on [priced, forward] → priced − forward.
    assert_eq!(spread_price(&[-2, 2], &[100.0, 98.0]), Some(2.0));
    assert_eq!(spread_price(&[2, -2], &[100.0, 98.0]), Some(2.0));
    assert_eq!(spread_price(&[1, -2, 1], &[10.0, 11.0, 13.0]), Some(1.0));
    assert_eq!(spread_price(&[-1], &[50.0]), Some(50.0));
    assert_eq!(spread_price(&[7], &[50.0]), Some(50.0));
    assert_eq!(spread_price(&[1, -1], &[100.0]), None);
    assert_eq!(spread_price(&[1, -1], &[100.0, f64::NAN]), None);
    assert_eq!(spread_price(&[1, -1], &[f64::INFINITY, 1.0]), None);
    assert_eq!(spread_price(&[], &[]), None);
    assert_eq!(spread_price(&[0, 0], &[1.0, 2.0]), None);
}

// ---- Auto-populated limits ------------------------------------------------------------------------

#[test]
fn standard_position_bounds() {
    // risk = 2 × 1e6 × 2.5 × 0.04 × 0.25 / 20_000 = 2.5; leverage = floor(1e6 / 1e5) = 10;
    // concentration = floor(1e6 × 0.25 × 0.2 / 20_000) = 2.
    let mut i = StandardPositionInputs::new(1e6, 20_000.0, 100_000.0);
    assert_eq!(i.standard_position(), Some(2.0));
    // Risk binds with a smaller weight: 1.25 < concentration 2.
    i.instrument_weight = 0.02;
    assert_eq!(i.standard_position(), Some(1.25));
    // Leverage binds: floor(1e6 / 6e5) = 1.
    i.notional_exposure_per_contract = 600_000.0;
    assert_eq!(i.standard_position(), Some(1.0));
    // Volume binds: 0.01 × 50.
    i.average_daily_volume = Some(50.0);
    assert_eq!(i.standard_position(), Some(0.5));
    i.average_daily_volume = Some(1e9);
    assert_eq!(i.standard_position(), Some(1.0));
}

#[test]
fn standard_position_needs_positive_finite_inputs() {
    let good = StandardPositionInputs::new(1e6, 20_000.0, 100_000.0);
    let cases: [fn(&mut StandardPositionInputs); 8] = [
        |i| i.capital = 0.0,
        |i| i.capital = -1e6,
        |i| i.annual_cash_risk_per_contract = f64::NAN,
        |i| i.annual_cash_risk_per_contract = 0.0,
        |i| i.notional_exposure_per_contract = f64::INFINITY,
        |i| i.idm = -2.5,
        |i| i.average_daily_volume = Some(f64::NAN),
        |i| i.average_daily_volume = Some(0.0),
    ];
    for (n, change) in cases.iter().enumerate() {
        let mut i = good;
        change(&mut i);
        assert_eq!(i.standard_position(), None, "case {n}");
    }
}

#[test]
fn auto_limits() {
    assert_eq!(auto_trade_limit(2.0, 1), 4); // ceil(0.66) = 1 → at least 4
    assert_eq!(auto_trade_limit(100.0, 1), 33);
    assert_eq!(auto_trade_limit(100.0, 4), 66);
    assert_eq!(auto_trade_limit(-100.0, 4), 66);
    assert_eq!(auto_trade_limit(50.0, 5), 37); // 50 × √5 × 0.33 = 36.9
    assert_eq!(auto_trade_limit(100.0, 0), 4);
    assert_eq!(auto_trade_limit(f64::NAN, 1), 4);
    assert_eq!(auto_trade_limit(f64::INFINITY, 1), 4);
    assert_eq!(auto_trade_limit(1e30, 1), i64::MAX);

    assert_eq!(auto_position_limit(2.9), 2);
    assert_eq!(auto_position_limit(-2.9), 2);
    assert_eq!(auto_position_limit(0.4), 0);
    assert_eq!(auto_position_limit(f64::NAN), 0);
    assert_eq!(auto_position_limit(1e30), i64::MAX);
}

// ---- Properties ---------------------------------------------------------------------------------

fn same_or_no_sign(new: i64, old: i64) -> bool {
    new == 0 || new.signum() == old.signum()
}

proptest! {
    #[test]
    fn scale_legs_only_shrinks_keeps_signs_and_ratios(
        legs in prop::collection::vec(-50i64..50, 0..5),
        allowed in -10i64..200,
    ) {
        let r = scale_legs(&legs, allowed);
        prop_assert_eq!(r.len(), legs.len());
        for (&n, &o) in r.iter().zip(&legs) {
            prop_assert!(n.abs() <= o.abs());
            prop_assert!(same_or_no_sign(n, o));
        }
        let total: i64 = r.iter().map(|l| l.abs()).sum();
        prop_assert!(total <= allowed.max(0));
        prop_assert!(r.iter().all(|&l| l == 0) || leg_ratios(&r) == leg_ratios(&legs));
        if legs.iter().map(|l| l.abs()).sum::<i64>() <= allowed {
            prop_assert_eq!(&r, &legs);
        }
    }

    #[test]
    fn liquidity_cap_respects_every_leg(
        legs_avail in prop::collection::vec((-50i64..50, -5.0f64..60.0), 0..5),
    ) {
        let (legs, avail): (Vec<i64>, Vec<f64>) = legs_avail.into_iter().unzip();
        let r = liquidity_cap(&legs, &avail);
        prop_assert_eq!(r.len(), legs.len());
        for ((&n, &o), &a) in r.iter().zip(&legs).zip(&avail) {
            prop_assert!(n.abs() <= o.abs());
            prop_assert!(n == 0 || (n.abs() as f64) <= a);
            prop_assert!(same_or_no_sign(n, o));
        }
        prop_assert!(r.iter().all(|&l| l == 0) || leg_ratios(&r) == leg_ratios(&legs));
    }

    #[test]
    fn leg_ratios_are_proportional_and_reduced(legs in prop::collection::vec(-60i64..60, 1..5)) {
        let r = leg_ratios(&legs);
        prop_assume!(legs.iter().any(|&l| l != 0));
        let g = r.iter().fold(0u128, |g, &x| gcd(g, u128::from(x.unsigned_abs())));
        prop_assert_eq!(g, 1);
        prop_assert!(*r.iter().find(|&&x| x != 0).unwrap() > 0);
        for i in 0..legs.len() {
            for j in 0..legs.len() {
                prop_assert_eq!(legs[i] * r[j], legs[j] * r[i]);
            }
        }
        // Scaling the legs changes neither the ratios nor the spread price.
        let k = 3;
        let scaled: Vec<i64> = legs.iter().map(|l| -k * l).collect();
        prop_assert_eq!(leg_ratios(&scaled), r);
        let prices: Vec<f64> = (0..legs.len()).map(|i| 100.0 + i as f64).collect();
        prop_assert_eq!(spread_price(&scaled, &prices), spread_price(&legs, &prices));
    }

    #[test]
    fn analyse_never_panics_and_is_consistent(
        bid in any::<f64>(), ask in any::<f64>(), bs in any::<f64>(), asz in any::<f64>(),
        q in any::<i64>(),
    ) {
        if let Some(a) = analyse(&tick(bid, ask, bs, asz), q) {
            prop_assert!(a.side_qty >= 0.0 && a.offside_qty >= 0.0);
            prop_assert!(a.imbalance >= 0.0 && !a.imbalance.is_nan());
            if q > 0 {
                prop_assert!(a.side_price >= a.offside_price);
            } else {
                prop_assert!(a.side_price <= a.offside_price);
            }
            let p = BestExecutionParams::default();
            if let InitialOrder::Limit { price } = initial_order(&a, q, None, &p) {
                prop_assert_eq!(price, a.offside_price);
            }
        }
    }
}

#[test]
fn market_hours_from_ib_sessions_in_the_exchange_time_zone() {
    use chrono::TimeZone;
    // 14:00 UTC is 08:00 in Chicago (CST, UTC-6) on 2026-11-25.
    let now = Utc
        .with_ymd_and_hms(2026, 11, 25, 14, 0, 0)
        .single()
        .expect("time");
    let hours = "20261124:1700-20261125:1600;20261125:1700-20261126:1600;20261127:CLOSED";
    assert_eq!(
        market_hours(hours, "US/Central", now),
        MarketHours::Open {
            closes_in_seconds: 8 * 3600
        }
    );
    let evening = Utc
        .with_ymd_and_hms(2026, 11, 25, 22, 30, 0)
        .single()
        .expect("time");
    assert_eq!(
        market_hours(hours, "US/Central", evening),
        MarketHours::Closed
    );
    assert_eq!(
        market_hours("20261127:CLOSED", "US/Central", now),
        MarketHours::Unknown,
        "no session at all says nothing"
    );
    assert_eq!(market_hours(hours, "", now), MarketHours::Unknown);
    assert_eq!(
        market_hours(hours, "Mars/Olympus", now),
        MarketHours::Unknown
    );
    assert_eq!(
        market_hours("simulated: always open", "UTC", now),
        MarketHours::Unknown
    );
    assert_eq!(
        market_hours("20261125:0700-1800", "UTC", now),
        MarketHours::Open {
            closes_in_seconds: 4 * 3600
        },
        "an end without a date is the start's date"
    );
}
