//! Unit tests of strategy config parsing: the shipped chapter-15 strategy and every error.

use super::*;

const SHIPPED: &str = include_str!("../../../config/strategies/chapter15_equal_weights.toml");

const CODES: [&str; 3] = ["AUD", "SP500", "V2X"];

fn known(code: &str) -> bool {
    CODES.contains(&code) || SHIPPED.contains(&format!("\n{code} = "))
}

fn parse(text: &str) -> Result<StrategyConfig, Diagnostics> {
    parse_strategy("s.toml", text, &known, &CODES)
}

/// A valid small strategy; tests replace parts of it (also the portfolio's tests).
pub(in crate::domain::backtest) const BASE: &str = r#"[strategy]
name = "t"
base_currency = "USD"
notional_trading_capital = 100000
percentage_vol_target = 25.0

[[rule]]
name = "ewmac8_32"
kind = "ewmac"
fast = 8
slow = 32
forecast_scalar = 5.3

[[rule]]
name = "carry"
kind = "carry"
forecast_scalar = 30

[forecast]
cap = 20.0
fdm = 1.1
weights = { ewmac8_32 = 0.4, carry = 0.6 }

[portfolio]
idm = 1.5
buffer_size = 0.1
instruments = { AUD = 0.5, SP500 = 0.5 }
"#;

/// Parses `BASE` with `from` replaced by `to` and returns the errors.
fn errors(from: &str, to: &str) -> Vec<Diagnostic> {
    assert!(BASE.contains(from), "{from}");
    match parse(&BASE.replacen(from, to, 1)) {
        Ok(c) => panic!("expected errors, got {c:?}"),
        Err(d) => d.0,
    }
}

fn one(from: &str, to: &str) -> Diagnostic {
    let e = errors(from, to);
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap()
}

#[test]
fn shipped_strategy_is_chapter15() {
    let c = parse(SHIPPED).unwrap();
    assert_eq!(c.system, SystemConfig::chapter15());
    assert_eq!(c.instruments.len(), 32);
    for (code, _) in &c.instruments {
        assert_eq!(c.position_config(code), Some(PositionConfig::chapter15()));
    }
    assert_eq!(c.base_currency, "USD");
    assert_eq!(c.position_config("NOPE"), None);
}

#[test]
fn base_is_valid() {
    let c = parse(BASE).unwrap();
    assert_eq!(c.system.rules.len(), 2);
    assert_eq!(
        c.system.rules[1].kind,
        RuleKind::Carry { smooth_days: 90.0 }
    );
    assert_eq!(
        c.system.forecast_weights,
        vec![("ewmac8_32".to_string(), 0.4), ("carry".to_string(), 0.6)]
    );
    assert_eq!(c.position.average_absolute_forecast, 10.0);
    assert_eq!(c.position_config("AUD").unwrap().instrument_weight, 0.5);
}

#[test]
fn unknown_rule_kind_suggests() {
    let d = one("kind = \"ewmac\"", "kind = \"emwac\"");
    assert_eq!(d.line, Some(9));
    assert!(d.message.contains("unknown rule kind `emwac`"), "{d}");
    assert_eq!(d.help.as_deref(), Some("did you mean `ewmac`?"));
}

#[test]
fn weight_for_unknown_rule() {
    let e = errors("carry = 0.6", "cary = 0.6");
    assert!(e[0].message.contains("unknown rule `cary`"), "{e:?}");
    assert_eq!(e[0].line, Some(22));
    assert_eq!(e[0].help.as_deref(), Some("did you mean `carry`?"));
}

#[test]
fn weights_must_sum_to_one() {
    let d = one("carry = 0.6", "carry = 0.5");
    assert!(d.message.contains("sum to 0.9"), "{d}");
    assert_eq!(d.line, Some(22));
    // Within the tolerance is fine.
    assert!(parse(&BASE.replace("carry = 0.6", "carry = 0.6000000000001")).is_ok());
}

#[test]
fn vol_target_and_capital_must_be_positive() {
    let d = one(
        "percentage_vol_target = 25.0",
        "percentage_vol_target = 0.0",
    );
    assert_eq!(d.line, Some(5));
    assert_eq!(d.key.as_deref(), Some("strategy.percentage_vol_target"));
    let d = one(
        "notional_trading_capital = 100000",
        "notional_trading_capital = -5",
    );
    assert_eq!(d.line, Some(4));
}

#[test]
fn base_currency_is_a_currency_code() {
    let c = parse(&BASE.replace("base_currency = \"USD\"", "base_currency = \"EUR\"")).unwrap();
    assert_eq!(c.base_currency, "EUR");
    let d = one("base_currency = \"USD\"", "base_currency = \"euro\"");
    assert_eq!(d.line, Some(3));
    assert!(d.message.contains("`euro` is not a three-letter"), "{d}");
}

#[test]
fn instrument_weights_sum_to_one_and_spans_are_checked() {
    let d = one("SP500 = 0.5", "SP500 = 0.6");
    assert_eq!(d.key.as_deref(), Some("portfolio.instruments"));
    assert!(d.message.contains("instrument weights sum to 1.1"), "{d}");
    let d = one("fdm = 1.1", "fdm = 1.1\nweight_smoothing_span = 0.5");
    assert_eq!(d.key.as_deref(), Some("forecast.weight_smoothing_span"));
    let c = parse(&BASE.replace(
        "buffer_size = 0.1",
        "buffer_size = 0.1\nweight_smoothing_span = 30",
    ))
    .unwrap();
    assert_eq!(c.instrument_weight_smoothing_span, 30.0);
    assert_eq!(c.system.weight_smoothing_span, 125.0);
}

#[test]
fn unknown_instrument() {
    let d = one("AUD = 0.5", "AUX = 0.5");
    assert_eq!(d.line, Some(27));
    assert!(d.message.contains("unknown instrument `AUX`"), "{d}");
    assert_eq!(d.help.as_deref(), Some("did you mean `AUD`?"));
}

#[test]
fn instruments_as_a_table_get_their_own_lines() {
    let text = BASE.replace(
        "instruments = { AUD = 0.5, SP500 = 0.5 }",
        "\n[portfolio.instruments]\nAUD = 0.5\nNOPE = 0.5",
    );
    let e = parse(&text).unwrap_err().0;
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, Some(30));
}

#[test]
fn errors_are_collected() {
    let text = BASE
        .replace("kind = \"carry\"", "kind = \"carri\"")
        .replace("percentage_vol_target = 25.0", "percentage_vol_target = -1")
        .replace("SP500 = 0.5", "ZZZ = 0.5");
    let e = parse(&text).unwrap_err().0;
    // Bad kind, weight naming the dropped rule is still a known name, vol target, instrument.
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e.iter().all(|d| d.line.is_some()));
}

#[test]
fn unknown_keys_and_bad_rules() {
    let d = one("fdm = 1.1", "fdm = 1.1\nfdmm = 2");
    assert_eq!(d.line, Some(22));
    assert_eq!(d.help.as_deref(), Some("did you mean `fdm`?"));
    let e = errors("slow = 32", "slow = 4");
    assert!(
        e[0].message.contains("fast (8) must be below slow (4)"),
        "{e:?}"
    );
    let e = errors("fast = 8\n", "");
    assert!(e[0].message.contains("needs `fast` and `slow`"), "{e:?}");
    let e = errors("kind = \"carry\"", "kind = \"carry\"\nfast = 3");
    assert!(e[0].message.contains("takes no fast/slow"), "{e:?}");
}
