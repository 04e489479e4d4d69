//! `systrade roll` with a position: −2 AUD held in the priced contract (a balance trade). The
//! report shows it, every transition is tried against §B8's "position in priced" row (the
//! refusals exit 2, name the position and change nothing), the trade-limit check and the no_open
//! override side effects act, and once the position is gone the stored `force` shows as demoted
//! to `passive`. Then `roll ALL` lists every instrument with multiple prices, soonest roll first.

use serde_json::{json, Value};

use crate::roll::{expect, home, json, multiple};
use crate::support::{stderr, stdout, TestHome};

/// §B8, "position in priced": the allowed next states of each state.
fn allowed_with_position(from: &str) -> &'static [&'static str] {
    match from {
        "no_roll" => &[
            "passive",
            "force",
            "force_outright",
            "no_roll",
            "close",
            "no_open",
        ],
        "passive" => &[
            "force",
            "force_outright",
            "passive",
            "no_roll",
            "close",
            "no_open",
        ],
        "force" | "force_outright" => &[
            "force",
            "force_outright",
            "passive",
            "no_roll",
            "close",
            "no_open",
        ],
        "close" => &[
            "close",
            "force",
            "force_outright",
            "passive",
            "no_roll",
            "no_open",
        ],
        "no_open" => &["close", "force", "force_outright", "passive", "no_roll"],
        other => panic!("no row for {other}"),
    }
}

const STATES: [&str; 7] = [
    "no_roll",
    "passive",
    "force",
    "force_outright",
    "roll_adjusted",
    "close",
    "no_open",
];

fn with_strategy(h: &TestHome) {
    std::fs::write(
        h.path().join("config.toml"),
        "[strategies]\nweights = { demo = 1.0 }\n",
    )
    .unwrap();
}

fn balance(h: &TestHome, quantity: &str) {
    expect(
        h,
        &[
            "orders",
            "balance",
            "--strategy",
            "demo",
            "--instrument",
            "AUD",
            "--contract",
            "20230900",
            "--quantity",
            quantity,
            "--price",
            "0.647",
        ],
        0,
    );
}

fn state(h: &TestHome) -> String {
    json(h, &["roll", "AUD", "--json"])["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn aud_override(h: &TestHome) -> Value {
    let v = json(h, &["overrides", "list", "--json"]);
    v["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["instrument"] == "AUD" && o["strategy"].is_null())
        .map_or(Value::Null, |o| o["override"].clone())
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn a_position_in_the_priced_contract_rules_the_roll() {
    let Some(h) = home() else { return };
    with_strategy(&h);
    balance(&h, "-2");

    let v = json(&h, &["roll", "AUD", "--json"]);
    assert_eq!(v["priced_position"], -2);
    assert_eq!(v["forward_position"], 0);
    assert_eq!(
        v["positions"],
        json!([{ "contract": "20230900", "position": -2 }])
    );
    assert_eq!(
        v["allowed_next"],
        json!([
            "passive",
            "force",
            "force_outright",
            "no_roll",
            "close",
            "no_open"
        ])
    );
    // Liquid forward (relative volume 3), a position, the roll 11 days away (not near).
    assert_eq!(v["suggestion"], "passive");
    let text = stdout(&expect(&h, &["roll", "AUD"], 0));
    assert!(
        text.contains("positions:    priced 20230900 -2, forward 20231200 +0"),
        "{text}"
    );

    // roll_adjusted is refused while the priced contract has a position; nothing changes.
    let before = multiple(&h);
    let err = stderr(&expect(
        &h,
        &["roll", "AUD", "--state", "roll_adjusted", "--yes"],
        2,
    ));
    assert!(
        err.contains("cannot change the roll state from no_roll to roll_adjusted with a position in the priced contract")
            && err.contains("position -2 in the priced contract 20230900"),
        "{err}"
    );
    assert_eq!(multiple(&h), before);
    assert_eq!(state(&h), "no_roll");

    // Every transition from every state reachable with a position.
    for from in STATES.iter().filter(|s| **s != "roll_adjusted") {
        for to in STATES {
            if *from != "no_roll" {
                expect(&h, &["roll", "AUD", "--state", from], 0);
            }
            assert_eq!(state(&h), *from);
            let out = super::roll::run(&h, &["roll", "AUD", "--state", to, "--yes"]);
            let allowed = from == &to || allowed_with_position(from).contains(&to);
            if allowed {
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{from} -> {to}: {}",
                    stderr(&out)
                );
                assert_eq!(state(&h), to, "{from} -> {to}");
            } else {
                assert_eq!(
                    out.status.code(),
                    Some(2),
                    "{from} -> {to}: {}",
                    stdout(&out)
                );
                let err = stderr(&out);
                assert!(
                    err.contains(&format!("cannot change the roll state from {from} to {to}"))
                        && err.contains("with a position in the priced contract"),
                    "{from} -> {to}: {err}"
                );
                assert_eq!(state(&h), *from, "{from} -> {to} refused but changed");
            }
            if state(&h) != "no_roll" {
                expect(&h, &["roll", "AUD", "--state", "no_roll"], 0);
            }
        }
    }
    assert_eq!(multiple(&h), before);

    // Forced rolls trade 2 x |position|: a trade limit of 3 is too little, a warning says so.
    expect(
        &h,
        &[
            "controls",
            "trade-limits",
            "set",
            "--instrument",
            "AUD",
            "--period-days",
            "1",
            "--limit",
            "3",
        ],
        0,
    );
    let v = json(&h, &["roll", "AUD", "--state", "force", "--json"]);
    let note = v["notes"][0].as_str().unwrap();
    assert!(
        note.starts_with("WARNING: AUD: force trades 4 contracts") && note.contains("leave only 3"),
        "{v}"
    );
    let v = json(&h, &["roll", "AUD", "--state", "close", "--json"]);
    let note = v["notes"][0].as_str().unwrap();
    assert!(
        note.contains("close trades 2 contracts")
            && note.contains("leave 3")
            && !note.contains("WARNING"),
        "{v}"
    );
    expect(&h, &["roll", "AUD", "--state", "no_roll"], 0);

    // no_open makes the instrument reduce-only and leaving it puts its override back.
    expect(&h, &["overrides", "set", "--instrument", "AUD", "0.5"], 0);
    let v = json(&h, &["roll", "AUD", "--state", "no_open", "--json"]);
    assert!(
        v["notes"][0].as_str().unwrap().contains("reduce-only"),
        "{v}"
    );
    assert_eq!(aud_override(&h), "reduce-only");
    let v = json(&h, &["roll", "AUD", "--state", "passive", "--json"]);
    assert!(v["notes"][0].as_str().unwrap().contains("put back"), "{v}");
    assert_eq!(aud_override(&h), "0.5");

    // The position goes: a stored force is traded as passive, and the no-position row applies.
    expect(&h, &["roll", "AUD", "--state", "force"], 0);
    balance(&h, "2");
    let v = json(&h, &["roll", "AUD", "--json"]);
    assert_eq!(v["state"], "force");
    assert_eq!(v["priced_position"], 0);
    assert_eq!(v["demoted_to"], "passive");
    assert_eq!(v["allowed_next"], json!(["roll_adjusted", "passive"]));
    assert_eq!(v["suggestion"], "roll_adjusted");
    let text = stdout(&expect(&h, &["roll", "AUD"], 0));
    assert!(
        text.contains("the stack handler trades it as passive"),
        "{text}"
    );
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn roll_all_reports_every_instrument_soonest_roll_first() {
    let Some(h) = home() else { return };
    let shared = systrade::test_support::shared_data_dir().unwrap();
    let fx = tempfile::tempdir().unwrap();
    for rel in [
        "multiple_prices_csv/CORN.csv",
        "adjusted_prices_csv/CORN.csv",
    ] {
        crate::roll::copy_tail(&shared, fx.path(), rel, 300);
    }
    std::fs::create_dir_all(fx.path().join("csvconfig")).unwrap();
    for entry in std::fs::read_dir(shared.join("csvconfig")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, fx.path().join("csvconfig").join(p.file_name().unwrap())).unwrap();
    }
    expect(
        &h,
        &["import", "pysystemtrade", fx.path().to_str().unwrap()],
        0,
    );

    let v = json(&h, &["roll", "ALL", "--json"]);
    let reports = v["reports"].as_array().unwrap();
    let names: Vec<&str> = reports
        .iter()
        .map(|r| r["instrument"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"AUD") && names.contains(&"CORN"), "{v}");
    let days: Vec<i64> = reports
        .iter()
        .map(|r| r["days_to_desired_roll"].as_i64().unwrap())
        .collect();
    assert!(
        days.windows(2).all(|w| w[0] <= w[1]),
        "not soonest first: {names:?} {days:?}"
    );
    let aud = reports.iter().find(|r| r["instrument"] == "AUD").unwrap();
    assert_eq!(aud["days_to_desired_roll"], 11);

    let text = stdout(&expect(&h, &["roll", "ALL"], 0));
    let first = text.find(&format!("Roll status of {}", names[0])).unwrap();
    let second = text.find(&format!("Roll status of {}", names[1])).unwrap();
    assert!(first < second, "{text}");

    let err = stderr(&expect(&h, &["roll", "ALL", "--state", "passive"], 2));
    assert!(
        err.contains("`roll ALL` only shows the reports; --state changes one instrument"),
        "{err}"
    );
    assert_eq!(state(&h), "no_roll");
}
