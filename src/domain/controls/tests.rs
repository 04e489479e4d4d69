use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

fn s(n: &str) -> StrategyName {
    StrategyName::new(n).unwrap()
}

fn i(c: &str) -> InstrumentCode {
    InstrumentCode::new(c).unwrap()
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

fn ov(scope: OverrideScope, text: &str) -> OverrideRecord {
    OverrideRecord {
        scope,
        value: Override::parse(text).unwrap(),
        updated_at: at(),
    }
}

fn lim(scope: LimitScope, n: u64) -> LimitRecord {
    LimitRecord {
        scope,
        limit: PositionLimit::Contracts(n),
        updated_at: at(),
    }
}

#[test]
fn strategy_names() {
    assert!(StrategyName::new("medium_speed_TF_carry").is_ok());
    assert!(StrategyName::new("a-b").is_ok());
    for bad in ["", "a b", "a/b", "é"] {
        assert!(StrategyName::new(bad).is_err(), "{bad}");
    }
}

#[test]
fn scopes() {
    let sc = OverrideScope::from_parts(Some(s("a")), Some(i("X"))).unwrap();
    assert_eq!(sc.kind(), "strategy_instrument");
    assert!(sc.covers(&s("a"), &i("X")));
    assert!(!sc.covers(&s("b"), &i("X")));
    assert!(OverrideScope::from_parts(None, None).is_none());
    assert!(OverrideScope::Strategy(s("a")).covers(&s("a"), &i("Y")));
    assert!(OverrideScope::Instrument(i("X")).covers(&s("b"), &i("X")));
    assert_eq!(sc.to_string(), "a/X");
    assert_eq!(LimitScope::new(None, i("X")).kind(), "instrument");
    assert_eq!(
        LimitScope::new(Some(s("a")), i("X")).strategy(),
        Some(&s("a"))
    );
}

#[test]
fn combined_override_takes_the_three_scopes() {
    let all = vec![
        ov(OverrideScope::Strategy(s("a")), "0.5"),
        ov(OverrideScope::Instrument(i("X")), "0.5"),
        ov(OverrideScope::StrategyInstrument(s("a"), i("X")), "0.5"),
        ov(OverrideScope::Strategy(s("b")), "close"),
        ov(OverrideScope::Instrument(i("Y")), "no-trading"),
        ov(
            OverrideScope::StrategyInstrument(s("b"), i("X")),
            "reduce-only",
        ),
    ];
    assert_eq!(
        combined_override(&all, &s("a"), &i("X")),
        Override::from_multiplier(0.125).unwrap()
    );
    assert_eq!(combined_override(&all, &s("b"), &i("X")), Override::Close);
    assert_eq!(
        combined_override(&all, &s("a"), &i("Y")),
        Override::NoTrading
    );
    assert_eq!(
        combined_override(&all, &s("c"), &i("Z")),
        Override::NoOverride
    );
    assert_eq!(
        combined_override(&all, &s("c"), &i("X")),
        Override::from_multiplier(0.5).unwrap()
    );
}

#[test]
fn no_controls_pass_the_trade() {
    let r = apply_controls(&s("a"), &i("X"), 2, 5, 3, &[], &[]);
    assert_eq!(
        r,
        ControlledTrade {
            trade: 3,
            reasons: vec![]
        }
    );
}

#[test]
fn overrides_then_limits() {
    // Override 0.5 on a desired position 0 + 10 → 5, then the instrument limit 3 → 3.
    let overrides = vec![ov(OverrideScope::Instrument(i("X")), "0.5")];
    let limits = vec![lim(LimitScope::Instrument(i("X")), 3)];
    let r = apply_controls(&s("a"), &i("X"), 0, 0, 10, &overrides, &limits);
    assert_eq!(r.trade, 3);
    assert_eq!(r.reasons.len(), 2);
    assert!(matches!(
        r.reasons[0],
        ControlReason::Override {
            from: 10,
            to: 5,
            ..
        }
    ));
    assert!(matches!(
        r.reasons[1],
        ControlReason::PositionLimit { from: 5, to: 3, .. }
    ));
    let text = r.reasons[1].to_string();
    assert!(
        text.contains("instrument 3") && text.contains("5 -> 3"),
        "{text}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["reasons"][0]["control"], "override");
    assert_eq!(json["reasons"][0]["value"], "0.5");
    assert_eq!(json["reasons"][1]["control"], "position_limit");
    assert_eq!(
        json["reasons"][1]["strategy_limit"],
        serde_json::Value::Null
    );
}

#[test]
fn the_most_conservative_limit_wins() {
    // Instrument: all strategies hold 4, limit 6 → +2 allowed; strategy holds 1, limit 2 → +1.
    let limits = vec![
        lim(LimitScope::Instrument(i("X")), 6),
        lim(LimitScope::StrategyInstrument(s("a"), i("X")), 2),
    ];
    assert_eq!(
        apply_controls(&s("a"), &i("X"), 1, 4, 5, &[], &limits).trade,
        1
    );
    // Another strategy has no own limit: only the instrument's applies.
    assert_eq!(
        apply_controls(&s("b"), &i("X"), 1, 4, 5, &[], &limits).trade,
        2
    );
    // Short instrument position: the larger (less negative) trade.
    let limits = vec![
        lim(LimitScope::Instrument(i("X")), 6),
        lim(LimitScope::StrategyInstrument(s("a"), i("X")), 2),
    ];
    assert_eq!(
        apply_controls(&s("a"), &i("X"), -1, -4, -5, &[], &limits).trade,
        -1
    );
}

#[test]
fn no_trading_is_final() {
    let overrides = vec![ov(OverrideScope::Strategy(s("a")), "no-trading")];
    let limits = vec![lim(LimitScope::Instrument(i("X")), 1)];
    // Position 5 is beyond the limit 1, but nothing trades while frozen.
    let r = apply_controls(&s("a"), &i("X"), 5, 5, 2, &overrides, &limits);
    assert_eq!(r.trade, 0);
    assert_eq!(r.reasons.len(), 1);
    // Without the override the limit brings it back.
    assert_eq!(
        apply_controls(&s("a"), &i("X"), 5, 5, 2, &[], &limits).trade,
        -4
    );
}

#[test]
fn reduce_only_with_a_limit() {
    let overrides = vec![ov(
        OverrideScope::StrategyInstrument(s("a"), i("X")),
        "reduce-only",
    )];
    let limits = vec![lim(LimitScope::StrategyInstrument(s("a"), i("X")), 2)];
    // Reduce-only lets −1 through from 5; the limit then takes it to 2.
    let r = apply_controls(&s("a"), &i("X"), 5, 5, -1, &overrides, &limits);
    assert_eq!(r.trade, -3);
    // Increasing is refused before the limit sees it; the limit still brings 5 to 2.
    let r = apply_controls(&s("a"), &i("X"), 5, 5, 3, &overrides, &limits);
    assert_eq!(r.trade, -3);
}

proptest! {
    #[test]
    fn the_result_respects_the_strategy_limit(
        sp in -50i64..50, ip_extra in -50i64..50, t in -100i64..100, l in 0u64..20,
    ) {
        let limits = vec![lim(LimitScope::StrategyInstrument(s("a"), i("X")), l)];
        let r = apply_controls(&s("a"), &i("X"), sp, sp + ip_extra, t, &[], &limits);
        prop_assert!((sp + r.trade).unsigned_abs() <= l);
    }

    #[test]
    fn the_result_respects_the_instrument_limit(
        sp in -50i64..50, ip in -50i64..50, t in -100i64..100, l in 0u64..20,
    ) {
        let limits = vec![lim(LimitScope::Instrument(i("X")), l)];
        let r = apply_controls(&s("a"), &i("X"), sp, ip, t, &[], &limits);
        prop_assert!((ip + r.trade).unsigned_abs() <= l);
    }
}
