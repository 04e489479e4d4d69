//! Table tests: every row of the transition table, every suggestion rule, names, demotion and
//! side effects.

use super::*;
use RollState::*;

fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn names_round_trip_and_pysystemtrade_names_parse() {
    let names = [
        (NoRoll, "no_roll", "No_Roll"),
        (Passive, "passive", "Passive"),
        (Force, "force", "Force"),
        (ForceOutright, "force_outright", "Force_Outright"),
        (RollAdjusted, "roll_adjusted", "Roll_Adjusted"),
        (Close, "close", "Close"),
        (NoOpen, "no_open", "No_Open"),
    ];
    assert_eq!(names.len(), RollState::ALL.len());
    for (state, ours, theirs) in names {
        assert_eq!(state.as_str(), ours);
        assert_eq!(state.to_string(), ours);
        assert_eq!(state.pysystemtrade_name(), theirs);
        assert_eq!(RollState::parse(ours), Ok(state));
        assert_eq!(RollState::parse(theirs), Ok(state));
        assert_eq!(theirs.parse::<RollState>(), Ok(state));
        assert_eq!(
            RollState::parse(&ours.replace('_', "-").to_uppercase()),
            Ok(state)
        );
        assert!(!state.explanation().is_empty());
    }
    let err = RollState::parse("rolled").unwrap_err();
    assert!(
        err.to_string().contains("unknown roll state `rolled`"),
        "{err}"
    );
    assert_eq!(
        serde_json::to_string(&ForceOutright).unwrap(),
        "\"force_outright\""
    );
    assert_eq!(
        serde_json::from_str::<RollState>("\"No_Open\"").unwrap(),
        NoOpen
    );
}

#[test]
fn transition_table_every_row() {
    // (current, position in priced, allowed next with the recommended first)
    let table: &[(RollState, bool, &[RollState])] = &[
        (NoRoll, false, &[RollAdjusted, Passive, NoRoll, NoOpen]),
        (
            NoRoll,
            true,
            &[Passive, Force, ForceOutright, NoRoll, Close, NoOpen],
        ),
        (Passive, false, &[RollAdjusted, Passive, NoRoll, NoOpen]),
        (
            Passive,
            true,
            &[Force, ForceOutright, Passive, NoRoll, Close, NoOpen],
        ),
        (Force, false, &[RollAdjusted, Passive]),
        (
            Force,
            true,
            &[Force, ForceOutright, Passive, NoRoll, Close, NoOpen],
        ),
        (ForceOutright, false, &[RollAdjusted, Passive]),
        (
            ForceOutright,
            true,
            &[Force, ForceOutright, Passive, NoRoll, Close, NoOpen],
        ),
        (Close, false, &[RollAdjusted, Passive]),
        (
            Close,
            true,
            &[Close, Force, ForceOutright, Passive, NoRoll, NoOpen],
        ),
        (RollAdjusted, false, &[NoRoll]),
        (RollAdjusted, true, &[RollAdjusted]),
        (NoOpen, false, &[RollAdjusted, Passive, NoOpen]),
        (
            NoOpen,
            true,
            &[Close, Force, ForceOutright, Passive, NoRoll],
        ),
    ];
    assert_eq!(table.len(), RollState::ALL.len() * 2);
    for (current, position, allowed) in table {
        assert_eq!(
            allowed_next(*current, *position),
            allowed.to_vec(),
            "{current} position={position}"
        );
        for to in RollState::ALL {
            let result = check_transition(*current, to, *position);
            assert_eq!(
                result.is_ok(),
                allowed.contains(&to),
                "{current} -> {to} position={position}"
            );
        }
    }
}

#[test]
fn refused_transition_lists_the_allowed_states() {
    let err = check_transition(RollAdjusted, Passive, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot change the roll state from roll_adjusted to passive without a position in the \
         priced contract: allowed are no_roll"
    );
    let err = check_transition(NoOpen, NoOpen, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot change the roll state from no_open to no_open with a position in the priced \
         contract: allowed are close, force, force_outright, passive, no_roll"
    );
    assert!(matches!(err, RollStateError::NotAllowed { ref allowed, .. } if allowed[0] == Close));
}

#[test]
fn trading_states_without_a_position_demote_to_passive() {
    for state in RollState::ALL {
        let expected = matches!(state, Force | ForceOutright | Close).then_some(Passive);
        assert_eq!(demotion(state, false), expected, "{state}");
        assert_eq!(demotion(state, true), None, "{state}");
    }
}

#[test]
fn side_effects_of_changes() {
    use RollSideEffect::*;
    let cases: &[(RollState, RollState, &[RollSideEffect])] = &[
        (NoRoll, NoRoll, &[]),
        (NoOpen, NoOpen, &[]),
        (NoRoll, Passive, &[]),
        (NoRoll, NoOpen, &[SetReduceOnly]),
        (NoOpen, Passive, &[RestoreOverride]),
        (NoOpen, RollAdjusted, &[RestoreOverride, RollPrices]),
        (
            NoOpen,
            Close,
            &[
                RestoreOverride,
                CheckTradeLimits {
                    contracts_per_unit_position: 1,
                },
            ],
        ),
        (
            Passive,
            Force,
            &[CheckTradeLimits {
                contracts_per_unit_position: 2,
            }],
        ),
        (
            Passive,
            ForceOutright,
            &[CheckTradeLimits {
                contracts_per_unit_position: 2,
            }],
        ),
        (Passive, RollAdjusted, &[RollPrices]),
        (RollAdjusted, NoRoll, &[]),
    ];
    for (from, to, effects) in cases {
        assert_eq!(side_effects(*from, *to), effects.to_vec(), "{from} -> {to}");
    }
    assert_eq!(contracts_to_trade_for_roll(Force, -3), 6);
    assert_eq!(contracts_to_trade_for_roll(ForceOutright, 3), 6);
    assert_eq!(contracts_to_trade_for_roll(Close, -3), 3);
    assert_eq!(contracts_to_trade_for_roll(Passive, 3), 0);
}

fn inputs(
    days_to_price_expiry: i64,
    days_to_desired_roll: i64,
    priced_position: i64,
    relative_volume: f64,
    forward_volume: f64,
) -> RollSuggestionInputs {
    RollSuggestionInputs {
        days_to_price_expiry,
        days_to_desired_roll,
        priced_position,
        relative_volume,
        forward_volume,
    }
}

#[test]
fn suggestion_rules_in_order() {
    let config = AutoRollConfig::default();
    let s = RollSuggestion::State;
    // (name, inputs, suggestion)
    let cases: &[(&str, RollSuggestionInputs, RollSuggestion)] = &[
        (
            "expired, no position, illiquid: roll anyway",
            inputs(0, -5, 0, 0.0, 0.0),
            s(RollAdjusted),
        ),
        (
            "expired long ago, no position",
            inputs(-30, -35, 0, 0.0, 0.0),
            s(RollAdjusted),
        ),
        (
            "expired with a position, illiquid, near: no_open",
            inputs(0, -5, 2, 0.0, 0.0),
            s(NoOpen),
        ),
        (
            "liquid (relative > 1), no position",
            inputs(60, 55, 0, 1.5, 10.0),
            s(RollAdjusted),
        ),
        (
            "liquid (relative > 0.01 and absolute > 100), no position",
            inputs(60, 55, 0, 0.02, 101.0),
            s(RollAdjusted),
        ),
        (
            "liquid, position, roll near: ask",
            inputs(12, 7, 3, 1.5, 5000.0),
            RollSuggestion::Ask,
        ),
        (
            "liquid, position, roll 9 days away is near",
            inputs(14, 9, -3, 1.5, 5000.0),
            RollSuggestion::Ask,
        ),
        (
            "liquid, position, roll 10 days away is not near",
            inputs(15, 10, -3, 1.5, 5000.0),
            s(Passive),
        ),
        (
            "liquid, position, roll far: passive",
            inputs(60, 55, 3, 1.5, 5000.0),
            s(Passive),
        ),
        (
            "illiquid, roll near: no_open",
            inputs(12, 7, 0, 0.005, 5000.0),
            s(NoOpen),
        ),
        (
            "illiquid, roll far: no_roll",
            inputs(60, 55, 3, 0.005, 5000.0),
            s(NoRoll),
        ),
        (
            "relative exactly 1 is not 'very high'; absolute 100 is not above 100",
            inputs(60, 55, 0, 1.0, 100.0),
            s(NoRoll),
        ),
        (
            "absolute volume is truncated: 100.9 is 100",
            inputs(60, 55, 0, 0.5, 100.9),
            s(NoRoll),
        ),
        (
            "relative exactly 0.01 is not enough",
            inputs(60, 55, 0, 0.01, 5000.0),
            s(NoRoll),
        ),
        (
            "NaN volumes count as zero",
            inputs(60, 55, 0, f64::NAN, f64::NAN),
            s(NoRoll),
        ),
    ];
    for (name, i, expected) in cases {
        assert_eq!(suggest_roll_state(i, &config), *expected, "{name}");
    }
}

#[test]
fn suggestion_settings_change_the_answer() {
    let expired_no_position = inputs(-1, -6, 0, 0.0, 0.0);
    let config = AutoRollConfig {
        auto_roll_expired: false,
        ..AutoRollConfig::default()
    };
    // Not auto-rolling expired contracts: falls through to illiquid + near.
    assert_eq!(
        suggest_roll_state(&expired_no_position, &config),
        RollSuggestion::State(NoOpen)
    );

    let config = AutoRollConfig {
        default_roll_state_if_undecided: RollSuggestion::State(Force),
        ..AutoRollConfig::default()
    };
    assert_eq!(
        suggest_roll_state(&inputs(12, 7, 3, 1.5, 5000.0), &config),
        RollSuggestion::State(Force)
    );

    let config = AutoRollConfig {
        near_expiry_days: 30,
        min_absolute_volume: 10.0,
        ..AutoRollConfig::default()
    };
    assert_eq!(
        suggest_roll_state(&inputs(40, 25, 3, 0.5, 20.0), &config),
        RollSuggestion::Ask
    );
}

#[test]
fn defaults_are_pysystemtrades() {
    let c = AutoRollConfig::default();
    assert_eq!(c.auto_roll_if_relative_volume_higher_than, 1.0);
    assert_eq!(c.min_relative_volume, 0.01);
    assert_eq!(c.min_absolute_volume, 100.0);
    assert_eq!(c.near_expiry_days, 10);
    assert_eq!(c.default_roll_state_if_undecided, RollSuggestion::Ask);
    assert!(c.auto_roll_expired);
}

#[test]
fn undecided_default_parses_ask_or_a_state() {
    assert_eq!(RollSuggestion::parse("Ask"), Ok(RollSuggestion::Ask));
    assert_eq!(RollSuggestion::parse("ask"), Ok(RollSuggestion::Ask));
    assert_eq!(
        RollSuggestion::parse("Force_Outright"),
        Ok(RollSuggestion::State(ForceOutright))
    );
    assert!(matches!(
        RollSuggestion::parse("maybe"),
        Err(RollStateError::UnknownDefault { .. })
    ));
    assert_eq!(RollSuggestion::Ask.to_string(), "ask");
    assert_eq!(RollSuggestion::State(Close).state(), Some(Close));
    assert_eq!(RollSuggestion::Ask.state(), None);
    assert_eq!(
        serde_json::to_string(&RollSuggestion::Ask).unwrap(),
        "\"ask\""
    );
}

#[test]
fn days_until_round_down_like_python_timedelta_days() {
    // Expiry 2024-03-15 (midnight at its start).
    let expiry = day("2024-03-15");
    assert_eq!(days_until(expiry, dt("2024-03-13 00:00:00")), 2);
    assert_eq!(days_until(expiry, dt("2024-03-13 10:00:00")), 1);
    assert_eq!(days_until(expiry, dt("2024-03-14 00:00:00")), 1);
    assert_eq!(days_until(expiry, dt("2024-03-14 10:00:00")), 0);
    assert_eq!(days_until(expiry, dt("2024-03-15 00:00:00")), 0);
    assert_eq!(days_until(expiry, dt("2024-03-15 10:00:00")), -1);
    let t = roll_timing(expiry, -5, dt("2024-03-01 09:00:00"));
    assert_eq!(t.desired_roll_date, day("2024-03-10"));
    assert_eq!(t.days_to_price_expiry, 13);
    assert_eq!(t.days_to_desired_roll, 8);
}
