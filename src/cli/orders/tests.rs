use chrono::{TimeZone, Utc};

use super::tables::{broker_rows, contract_rows, instrument_rows, instrument_status};
use super::*;
use crate::domain::contract::ContractId;
use crate::domain::controls::{LimitScope, Override, OverrideScope, PositionLimit};
use crate::domain::orders::{
    BrokerOrder, BrokerOrderStatus, ContractLeg, ContractOrder, InstrumentOrder,
};

fn code(s: &str) -> InstrumentCode {
    InstrumentCode::new(s).expect("code")
}

fn strategy(s: &str) -> StrategyName {
    StrategyName::new(s).expect("strategy")
}

#[test]
fn quantities_are_whole_and_not_zero() {
    assert_eq!(parse_quantity("3"), Ok(3));
    assert_eq!(parse_quantity(" -2 "), Ok(-2));
    let zero = parse_quantity("0").unwrap_err();
    assert!(zero.contains("quantity is 0"), "{zero}");
    let half = parse_quantity("1.5").unwrap_err();
    assert!(
        half.contains("`1.5` is not a whole number of contracts"),
        "{half}"
    );
    assert!(parse_quantity("abc").is_err());
    assert!(check_quantity(0).is_err());
    assert_eq!(check_quantity(-7), Ok(-7));
}

#[test]
fn prices_must_be_finite_and_positive() {
    assert_eq!(check_price(4000.25), Ok(4000.25));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = check_price(bad).unwrap_err();
        assert!(e.contains("positive"), "{bad}: {e}");
    }
}

#[test]
fn a_limit_price_goes_with_limit_orders_only() {
    assert_eq!(
        order_pricing(OrderTypeArg::Best, None),
        Ok((OrderType::Best, None))
    );
    assert_eq!(
        order_pricing(OrderTypeArg::Market, None),
        Ok((OrderType::Market, None))
    );
    assert_eq!(
        order_pricing(OrderTypeArg::Limit, Some(-3.5)),
        Ok((OrderType::Limit, Some(-3.5))),
        "futures prices may be negative"
    );
    let e = order_pricing(OrderTypeArg::Limit, None).unwrap_err();
    assert!(e.contains("--type limit needs --limit-price"), "{e}");
    let e = order_pricing(OrderTypeArg::Market, Some(10.0)).unwrap_err();
    assert!(
        e.contains("only for --type limit") && e.contains("market"),
        "{e}"
    );
    assert!(order_pricing(OrderTypeArg::Limit, Some(f64::NAN)).is_err());
}

#[test]
fn only_configured_strategies_trade() {
    let weights = vec![("demo".to_string(), 1.0), ("trend_fast".to_string(), 2.0)];
    assert_eq!(
        configured_strategy(&weights, " demo "),
        Ok(strategy("demo"))
    );
    let e = configured_strategy(&weights, "trend_fats").unwrap_err();
    assert!(
        e.contains("unknown strategy `trend_fats`")
            && e.contains("demo, trend_fast")
            && e.contains("did you mean `trend_fast`?"),
        "{e}"
    );
    let e = configured_strategy(&weights, "bad name!").unwrap_err();
    assert!(e.contains("invalid strategy name"), "{e}");
    let e = configured_strategy(&[], "demo").unwrap_err();
    assert!(e.contains("lists none"), "{e}");
}

#[test]
fn controls_refuse_a_trade_they_would_change() {
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
    let positions = vec![
        StrategyPosition {
            strategy: "demo".into(),
            instrument: code("SP500"),
            position: 3,
        },
        StrategyPosition {
            strategy: "other".into(),
            instrument: code("SP500"),
            position: 4,
        },
    ];
    let limits = vec![LimitRecord {
        scope: LimitScope::Instrument(code("SP500")),
        limit: PositionLimit::Contracts(9),
        updated_at: at,
    }];
    let (demo, sp) = (strategy("demo"), code("SP500"));
    assert_eq!(
        controls_refusal(&demo, &sp, 2, &positions, &[], &limits),
        None,
        "7 + 2 = 9 is within the limit"
    );
    assert_eq!(
        controls_refusal(&demo, &sp, -5, &positions, &[], &limits),
        None,
        "reducing within the limit"
    );
    let why = controls_refusal(&demo, &sp, -20, &positions, &[], &limits).expect("refused");
    assert!(why.contains("to -16"), "short beyond the limit: {why}");
    let why = controls_refusal(&demo, &sp, 3, &positions, &[], &limits).expect("refused");
    assert!(
        why.contains("trade of +3 in demo/SP500")
            && why.contains("instrument position 7")
            && why.contains("to +2")
            && why.contains("position limits"),
        "{why}"
    );
    let overrides = vec![OverrideRecord {
        scope: OverrideScope::Instrument(code("SP500")),
        value: Override::ReduceOnly,
        updated_at: at,
    }];
    let why = controls_refusal(&demo, &sp, 1, &positions, &overrides, &[]).expect("refused");
    assert!(why.contains("override reduce-only"), "{why}");
    assert_eq!(
        controls_refusal(&demo, &sp, -1, &positions, &overrides, &[]),
        None
    );
    assert_eq!(
        controls_refusal(&demo, &code("US10"), 5, &positions, &overrides, &limits),
        None,
        "other instruments are not controlled"
    );
}

fn instrument_order(id: OrderId, trade: i64, fill: i64) -> InstrumentOrder {
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
    InstrumentOrder {
        id,
        strategy: "demo".into(),
        instrument: code("SP500"),
        trade,
        fill,
        filled_price: (fill != 0).then_some(4000.5),
        fill_time: None,
        order_type: OrderType::Limit,
        limit_price: Some(3999.0),
        reference_price: None,
        reference_contract: None,
        reference_time: None,
        generated_at: at,
        manual: true,
        roll_order: false,
        active: true,
        cancel_requested: false,
        completed_at: None,
        children: vec![4, 5],
    }
}

#[test]
fn instrument_rows_and_statuses() {
    let o = instrument_order(7, 3, 1);
    let row = &instrument_rows(std::slice::from_ref(&o))[0];
    assert_eq!(
        row[..9],
        [
            "7",
            "4,5",
            "demo",
            "SP500",
            "+3",
            "+1",
            "4000.5",
            "limit 3999, manual",
            "part-filled"
        ]
    );
    assert_eq!(row[10], "-");
    assert_eq!(instrument_status(&instrument_order(1, 3, 0)), "working");
    assert_eq!(instrument_status(&instrument_order(1, -3, -3)), "filled");
    let mut cancelling = instrument_order(1, 3, 0);
    cancelling.cancel_requested = true;
    assert_eq!(instrument_status(&cancelling), "cancelling");
    cancelling.active = false;
    assert_eq!(instrument_status(&cancelling), "cancelled");
    let mut done = instrument_order(1, 2, 2);
    done.active = false;
    assert_eq!(instrument_status(&done), "done");
}

#[test]
fn contract_and_broker_rows_show_legs_and_status() {
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
    let co = ContractOrder {
        id: 4,
        parent: 7,
        strategy: "_roll".into(),
        instrument: code("SP500"),
        legs: vec![
            ContractLeg {
                contract: ContractId::monthly(2026, 12),
                trade: -2,
                fill: -1,
                filled_price: Some(4001.0),
            },
            ContractLeg {
                contract: ContractId::monthly(2027, 3),
                trade: 2,
                fill: 0,
                filled_price: None,
            },
        ],
        order_type: OrderType::Best,
        limit_price: None,
        reference_price: Some(4000.0),
        roll_order: true,
        manual: false,
        active: true,
        generated_at: at,
        completed_at: None,
        children: vec![9],
    };
    let row = &contract_rows(&[co])[0];
    assert_eq!(row[..3], ["4", "7", "9"]);
    assert_eq!(row[5], "20261200 -2 (filled -1 at 4001); 20270300 +2");
    assert_eq!(row[6], "best, roll");
    assert_eq!(row[8], "working");

    let bo = BrokerOrder {
        id: 9,
        parent: 4,
        strategy: "_roll".into(),
        instrument: code("SP500"),
        contract: ContractId::monthly(2026, 12),
        trade: -2,
        fill: 0,
        filled_price: None,
        fill_time: None,
        order_type: OrderType::Market,
        limit_price: None,
        order_ref: "systrade-9-1".into(),
        broker_id: None,
        status: BrokerOrderStatus::Created,
        algo: "best".into(),
        side_price: None,
        offside_price: None,
        mid_price: None,
        commission: 0.0,
        created_at: at,
        submitted_at: None,
        aggressive_at: None,
        reason: None,
        active: true,
    };
    let row = &broker_rows(&[bo])[0];
    assert_eq!(
        row[..12],
        [
            "9",
            "4",
            "_roll",
            "SP500",
            "20261200",
            "-2",
            "+0",
            "-",
            "market (best)",
            "created",
            "-",
            "systrade-9-1"
        ]
    );
}
