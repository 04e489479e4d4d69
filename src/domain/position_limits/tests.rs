use proptest::prelude::*;

use super::*;

#[test]
fn inventory_examples() {
    // (position, limit, trade) → trade, from §B14.
    for (p, l, t, want) in [
        (5, 3, -1, -2),
        (5, 3, 2, -2),
        (5, 3, -9, -8),
        (2, 3, 2, 1),
        (0, 3, 4, 3),
        (-5, 3, 9, 8),
        (3, 0, 7, -3),
        (-3, 0, 2, 3),
        (3, 1, -5, -4),
    ] {
        assert_eq!(cut_trade(p, l, t), want, "({p}, {l}, {t})");
    }
}

#[test]
fn pysystemtrade_doctests() {
    // Every doctest of apply_position_limit_to_single_leg_trade in pysystemtrade's current code.
    for (p, l, t, want) in [
        (1, 1, 0, 0),
        (5, 1, 0, -4),
        (0, 3, 1, 1),
        (0, 3, 2, 2),
        (0, 3, 3, 3),
        (0, 3, 4, 3),
        (0, 3, -1, -1),
        (0, 3, -2, -2),
        (0, 3, -3, -3),
        (0, 3, -4, -3),
        (2, 3, 1, 1),
        (2, 3, 2, 1),
        (2, 3, -2, -2),
        (2, 3, -4, -4),
        (2, 3, -5, -5),
        (2, 3, -6, -5),
        (5, 3, 2, -2),
        (5, 3, -1, -2),
        (5, 3, -2, -2),
        (5, 3, -9, -8),
        (-2, 3, -1, -1),
        (-2, 3, -2, -1),
        (-5, 3, -2, 2),
        (-5, 3, 1, 2),
        (-5, 3, 2, 2),
        (-5, 3, 7, 7),
        (-5, 3, 9, 8),
        (-3, 3, 7, 6),
        (3, 3, -7, -6),
        (3, 0, -7, -3),
        (3, 0, 0, -3),
        (3, 0, 7, -3),
        (-3, 0, 2, 3),
        (-3, 0, 4, 3),
        (-3, 0, -3, 3),
        (3, 1, 2, -2),
        (3, 1, -2, -2),
        (3, 1, -4, -4),
        (3, 1, -5, -4),
    ] {
        assert_eq!(cut_trade(p, l, t), want, "({p}, {l}, {t})");
    }
}

#[test]
fn no_limit_passes_everything() {
    assert_eq!(PositionLimit::NoLimit.apply(100, 50), 50);
    assert_eq!(PositionLimit::Contracts(3).apply(0, 4), 3);
}

#[test]
fn parses_limits() {
    assert_eq!(
        PositionLimit::parse("none").unwrap(),
        PositionLimit::NoLimit
    );
    assert_eq!(
        PositionLimit::parse("No_Limit").unwrap(),
        PositionLimit::NoLimit
    );
    assert_eq!(
        PositionLimit::parse(" 12 ").unwrap(),
        PositionLimit::Contracts(12)
    );
    assert_eq!(
        PositionLimit::parse("0").unwrap(),
        PositionLimit::Contracts(0)
    );
    let e = PositionLimit::parse("-1").unwrap_err().to_string();
    assert!(e.contains("cannot be negative"), "{e}");
    for bad in ["1.5", "many", ""] {
        let e = PositionLimit::parse(bad).unwrap_err().to_string();
        assert!(e.contains("is not a position limit"), "{bad}: {e}");
    }
    assert_eq!(PositionLimit::NoLimit.to_string(), "no limit");
    assert_eq!(
        serde_json::to_string(&PositionLimit::NoLimit).unwrap(),
        "null"
    );
    assert_eq!(
        serde_json::to_string(&PositionLimit::Contracts(4)).unwrap(),
        "4"
    );
}

#[test]
fn most_conservative_cut() {
    // Both cuts lower a buy: the smaller.
    assert_eq!(most_conservative(0, 4, 3, 1), 1);
    assert_eq!(most_conservative(-2, 4, 3, 1), 1);
    // Both raise a sell: the larger (pysystemtrade would take −20 here, at position 0).
    assert_eq!(most_conservative(0, -20, -20, 0), 0);
    assert_eq!(most_conservative(2, -5, -1, -4), -1);
    // Opposite ways (the limits conflict): pysystemtrade's rule by the instrument's side.
    assert_eq!(most_conservative(5, 1, -2, 1), -2);
    assert_eq!(most_conservative(-5, -1, 2, -1), 2);
}

#[test]
fn extreme_values_do_not_overflow() {
    assert_eq!(cut_trade(i64::MAX, 0, i64::MAX), -i64::MAX);
    assert_eq!(cut_trade(i64::MIN + 1, u64::MAX, -5), -5);
    let _ = cut_trade(i64::MIN, 3, i64::MIN);
}

proptest! {
    #[test]
    fn new_position_always_within_the_limit(
        p in -1000i64..1000, l in 0u64..500, t in -2000i64..2000,
    ) {
        let new = p + cut_trade(p, l, t);
        prop_assert!(new.unsigned_abs() <= l, "({p}, {l}, {t}) → {new}");
    }

    #[test]
    fn trades_within_the_limit_pass(p in -1000i64..1000, l in 0u64..500, t in -2000i64..2000) {
        if (p + t).unsigned_abs() <= l {
            prop_assert_eq!(cut_trade(p, l, t), t);
        }
    }

    #[test]
    fn from_within_the_limit_the_trade_only_shrinks(
        p in -500i64..500, l in 0u64..500, t in -2000i64..2000,
    ) {
        if p.unsigned_abs() <= l {
            let cut = cut_trade(p, l, t);
            // Same direction, no bigger (the position ends on the side the trade wanted).
            prop_assert!(cut.abs() <= t.abs());
            prop_assert!(cut == 0 || cut.signum() == t.signum());
        }
    }

    #[test]
    fn the_cut_is_a_clamp(p in -1000i64..1000, l in 0u64..500, t in -2000i64..2000) {
        let l_i = l as i64;
        prop_assert_eq!(cut_trade(p, l, t), (p + t).clamp(-l_i, l_i) - p);
    }

    #[test]
    fn the_combination_is_one_of_the_two(
        ip in -100i64..100, t in -100i64..100, a in -100i64..100, b in -100i64..100,
    ) {
        let c = most_conservative(ip, t, a, b);
        prop_assert!(c == a || c == b);
        prop_assert_eq!(c, most_conservative(ip, t, b, a));
    }

    #[test]
    fn combined_cuts_meet_both_limits_when_they_can(
        ip in -50i64..50, sp in -50i64..50, li in 0u64..30, ls in 0u64..30, t in -100i64..100,
    ) {
        let c = most_conservative(ip, t, cut_trade(ip, li, t), cut_trade(sp, ls, t));
        let (li_i, ls_i) = (li as i64, ls as i64);
        // The trades allowed by each limit are an interval; when they overlap, both are met.
        let lo = (-li_i - ip).max(-ls_i - sp);
        let hi = (li_i - ip).min(ls_i - sp);
        if lo <= hi {
            prop_assert!((ip + c).abs() <= li_i && (sp + c).abs() <= ls_i);
        }
    }
}
