use proptest::prelude::*;

use super::*;

fn scale(f: f64) -> Override {
    Override::from_multiplier(f).unwrap()
}

#[test]
fn parses_what_a_person_types() {
    assert_eq!(Override::parse("close").unwrap(), Override::Close);
    assert_eq!(Override::parse(" None ").unwrap(), Override::NoOverride);
    assert_eq!(Override::parse("no-trading").unwrap(), Override::NoTrading);
    assert_eq!(Override::parse("NO_TRADING").unwrap(), Override::NoTrading);
    assert_eq!(
        Override::parse("reduce-only").unwrap(),
        Override::ReduceOnly
    );
    assert_eq!(
        Override::parse("reduce_only").unwrap(),
        Override::ReduceOnly
    );
    assert_eq!(Override::parse("0.5").unwrap(), scale(0.5));
    assert_eq!(Override::parse("0").unwrap(), Override::Close);
    assert_eq!(Override::parse("1").unwrap(), Override::NoOverride);
    assert_eq!(Override::parse("1.0").unwrap(), Override::NoOverride);
    for bad in [
        "1.5",
        "-0.1",
        "-1",
        "-2",
        "sometimes",
        "",
        "nan",
        "inf",
        "0.5x",
    ] {
        let e = Override::parse(bad).unwrap_err().to_string();
        assert!(e.contains("reduce-only"), "{bad}: {e}");
    }
    assert!(Override::parse("1.5")
        .unwrap_err()
        .to_string()
        .contains("not between 0 and 1"));
    assert!(Override::parse("sometimes")
        .unwrap_err()
        .to_string()
        .contains("`sometimes` is not an override"));
}

#[test]
fn numeric_encoding_is_pysystemtrades() {
    assert_eq!(Override::Close.to_numeric(), 0.0);
    assert_eq!(Override::NoOverride.to_numeric(), 1.0);
    assert_eq!(Override::NoTrading.to_numeric(), -1.0);
    assert_eq!(Override::ReduceOnly.to_numeric(), -2.0);
    assert_eq!(scale(0.25).to_numeric(), 0.25);
    for o in [
        Override::Close,
        Override::NoOverride,
        Override::NoTrading,
        Override::ReduceOnly,
        scale(0.25),
    ] {
        assert_eq!(Override::from_numeric(o.to_numeric()).unwrap(), o);
        assert_eq!(Override::parse(&o.to_string()).unwrap(), o);
    }
    for bad in [-0.5, -3.0, 1.01, f64::NAN, f64::INFINITY] {
        assert!(Override::from_numeric(bad).is_err(), "{bad}");
    }
}

#[test]
fn displays_and_serializes_as_text() {
    assert_eq!(Override::Close.to_string(), "close");
    assert_eq!(Override::NoOverride.to_string(), "none");
    assert_eq!(Override::NoTrading.to_string(), "no-trading");
    assert_eq!(Override::ReduceOnly.to_string(), "reduce-only");
    assert_eq!(scale(0.5).to_string(), "0.5");
    assert_eq!(
        serde_json::to_string(&Override::ReduceOnly).unwrap(),
        "\"reduce-only\""
    );
}

#[test]
fn combination_precedence() {
    use Override::*;
    assert_eq!(NoTrading.combine(Close), NoTrading);
    assert_eq!(Close.combine(NoTrading), NoTrading);
    assert_eq!(ReduceOnly.combine(NoTrading), NoTrading);
    assert_eq!(ReduceOnly.combine(Close), Close);
    assert_eq!(scale(0.5).combine(Close), Close);
    assert_eq!(scale(0.5).combine(ReduceOnly), ReduceOnly);
    assert_eq!(NoOverride.combine(ReduceOnly), ReduceOnly);
    assert_eq!(scale(0.5).combine(scale(0.5)), scale(0.25));
    assert_eq!(scale(0.5).combine(NoOverride), scale(0.5));
    assert_eq!(NoOverride.combine(NoOverride), NoOverride);
    assert_eq!(Override::combine_all([]), NoOverride);
    assert_eq!(
        Override::combine_all([scale(0.5), NoOverride, scale(0.5), scale(0.5)]),
        scale(0.125)
    );
    // Underflow of a product is a close.
    assert_eq!(scale(1e-200).combine(scale(1e-200)), Close);
}

#[test]
fn multiplier_rounds_down_towards_minus_infinity() {
    // position 0, trade 5 at 0.5: floor(2.5) = 2.
    assert_eq!(scale(0.5).apply(0, 5), 2);
    // position 0, trade −5 at 0.5: floor(−2.5) = −3 (the asymmetry of §E9).
    assert_eq!(scale(0.5).apply(0, -5), -3);
    // position 4, trade 2 at 0.5: new 3, trade −1.
    assert_eq!(scale(0.5).apply(4, 2), -1);
    // position −4, trade −2 at 0.5: new −3, trade +1.
    assert_eq!(scale(0.5).apply(-4, -2), 1);
    // position −3, no trade at 0.5: floor(−1.5) = −2, trade +1; a long of 3 goes to 1.
    assert_eq!(scale(0.5).apply(-3, 0), 1);
    assert_eq!(scale(0.5).apply(3, 0), -2);
    // none leaves the trade alone, even one that pysystemtrade's formula would change.
    assert_eq!(Override::NoOverride.apply(3, 4), 4);
    assert_eq!(Override::NoOverride.apply(-3, -4), -4);
}

#[test]
fn close_trades_to_zero() {
    assert_eq!(Override::Close.apply(5, 3), -5);
    assert_eq!(Override::Close.apply(-5, 3), 5);
    assert_eq!(Override::Close.apply(0, 3), 0);
    assert_eq!(Override::Close.apply(-5, -10), 5);
}

#[test]
fn reduce_only() {
    let r = Override::ReduceOnly;
    // Reducing trades pass.
    assert_eq!(r.apply(5, -2), -2);
    assert_eq!(r.apply(-5, 2), 2);
    assert_eq!(r.apply(5, -5), -5);
    // Increasing ones become 0.
    assert_eq!(r.apply(5, 2), 0);
    assert_eq!(r.apply(-5, -2), 0);
    // Flipping the sign closes.
    assert_eq!(r.apply(5, -8), -5);
    assert_eq!(r.apply(-5, 8), 5);
    // sign(0) = +1: from −5 to exactly 0 is a flip by sign, so it closes (the same trade).
    assert_eq!(r.apply(-5, 5), 5);
    // From flat, nothing can be opened.
    assert_eq!(r.apply(0, 3), 0);
    assert_eq!(r.apply(0, -3), 0);
    assert_eq!(r.apply(0, 0), 0);
}

#[test]
fn no_trading_is_zero() {
    assert_eq!(Override::NoTrading.apply(5, 3), 0);
    assert_eq!(Override::NoTrading.apply(-5, 8), 0);
}

#[test]
fn extreme_positions_do_not_overflow() {
    assert_eq!(Override::Close.apply(i64::MAX, i64::MAX), i64::MIN + 1);
    assert_eq!(Override::ReduceOnly.apply(i64::MIN, -1), 0);
    let _ = scale(0.5).apply(i64::MIN, i64::MIN);
}

fn any_override() -> impl Strategy<Value = Override> {
    prop_oneof![
        Just(Override::NoOverride),
        Just(Override::Close),
        Just(Override::NoTrading),
        Just(Override::ReduceOnly),
        (0.001f64..0.999).prop_map(|f| Override::from_multiplier(f).unwrap()),
    ]
}

fn same(a: Override, b: Override) -> bool {
    match (a.as_multiplier(), b.as_multiplier()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

proptest! {
    #[test]
    fn combination_is_commutative(a in any_override(), b in any_override()) {
        prop_assert_eq!(a.combine(b), b.combine(a));
    }

    #[test]
    fn combination_is_associative(a in any_override(), b in any_override(), c in any_override()) {
        let l = a.combine(b).combine(c);
        let r = a.combine(b.combine(c));
        prop_assert!(same(l, r), "{l} vs {r}");
    }

    #[test]
    fn reduce_only_never_increases_or_flips(p in -1000i64..1000, t in -2000i64..2000) {
        let new = p + Override::ReduceOnly.apply(p, t);
        prop_assert!(new.abs() <= p.abs());
        prop_assert!(new == 0 || new.signum() == p.signum());
    }

    #[test]
    fn no_trading_is_always_zero(p in any::<i64>(), t in any::<i64>()) {
        prop_assert_eq!(Override::NoTrading.apply(p, t), 0);
    }

    #[test]
    fn multipliers_shrink_the_desired_position(
        p in -1000i64..1000, t in -1000i64..1000, f in 0.0f64..=1.0,
    ) {
        let o = Override::from_multiplier(f).unwrap();
        let desired = p + t;
        let new = p + o.apply(p, t);
        // Rounded down, so at most one contract beyond |desired| × f, never past the desired side.
        prop_assert!(new <= desired.max(0));
        prop_assert!(new >= desired.min(0));
        prop_assert!((new as f64 - desired as f64 * f).abs() < 1.0);
    }
}
