//! `systrade overrides` and `systrade limits`: set, list and delete in every scope, the `--json`
//! shapes, and bad input (values, limits, instruments) exiting 2 with nothing written. Without a
//! subcommand, off a terminal, they print help and exit 2.

use serde_json::{json, Value};

use crate::support::{stderr, stdout, TestHome};

pub(crate) const NOW: &str = "2026-11-24T12:00:00Z";

fn home() -> TestHome {
    TestHome::new()
}

pub(crate) fn run(h: &TestHome, args: &[&str]) -> std::process::Output {
    h.cmd()
        .env("SYSTRADE_NOW", NOW)
        .args(args)
        .output()
        .expect("run systrade")
}

pub(crate) fn ok(h: &TestHome, args: &[&str]) -> String {
    let out = run(h, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

pub(crate) fn json_of(h: &TestHome, args: &[&str]) -> Value {
    let text = ok(h, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{text}"))
}

/// The rows of a list, each `updated_at` checked (the test clock starts at NOW and runs on)
/// and removed.
fn rows(list: &Value, key: &str) -> Value {
    let mut rows = list[key].clone();
    for r in rows.as_array_mut().expect("an array") {
        let obj = r.as_object_mut().expect("an object");
        let at = obj.remove("updated_at").expect("updated_at");
        let at = at.as_str().expect("a string");
        assert!(
            at.starts_with("2026-11-24T12:0") && at.ends_with('Z'),
            "{at}"
        );
    }
    rows
}

/// Exit 2 with `needle` in stderr.
pub(crate) fn invalid(h: &TestHome, args: &[&str], needle: &str) {
    let out = run(h, args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(needle),
        "{args:?}: `{needle}` not in stderr:\n{}",
        stderr(&out)
    );
}

#[test]
fn overrides_in_every_scope() {
    let h = home();
    assert_eq!(
        json_of(&h, &["overrides", "list", "--json"]),
        json!({ "overrides": [] })
    );
    assert!(ok(&h, &["overrides", "list"]).contains("no overrides"));

    let set = json_of(
        &h,
        &[
            "overrides",
            "set",
            "--strategy",
            "trend",
            "reduce-only",
            "--json",
        ],
    );
    assert_eq!(
        set,
        json!({
            "action": "set", "scope": "strategy", "strategy": "trend", "instrument": null,
            "override": "reduce-only", "numeric": -2.0, "previous": null,
        })
    );
    let text = ok(&h, &["overrides", "set", "--instrument", "AUD", "0.5"]);
    assert!(text.contains("override of instrument AUD: 0.5"), "{text}");
    ok(
        &h,
        &[
            "overrides",
            "set",
            "--strategy",
            "trend",
            "--instrument",
            "US10",
            "no-trading",
        ],
    );
    // Replacing reports the previous value.
    let again = json_of(
        &h,
        &["overrides", "set", "--instrument", "AUD", "close", "--json"],
    );
    assert_eq!(again["previous"], "0.5");
    assert_eq!(again["numeric"], 0.0);

    let list = json_of(&h, &["overrides", "list", "--json"]);
    assert_eq!(
        rows(&list, "overrides"),
        json!([
            { "scope": "strategy", "strategy": "trend", "instrument": null,
              "override": "reduce-only", "numeric": -2.0 },
            { "scope": "instrument", "strategy": null, "instrument": "AUD",
              "override": "close", "numeric": 0.0 },
            { "scope": "strategy_instrument", "strategy": "trend", "instrument": "US10",
              "override": "no-trading", "numeric": -1.0 },
        ])
    );
    let text = ok(&h, &["overrides", "list"]);
    for needle in ["scope", "reduce-only", "close", "no-trading", "US10"] {
        assert!(text.contains(needle), "{needle}: {text}");
    }

    let del = json_of(
        &h,
        &["overrides", "delete", "--instrument", "AUD", "--json"],
    );
    assert_eq!(
        del,
        json!({ "action": "delete", "scope": "instrument", "strategy": null,
                "instrument": "AUD", "previous": "close" })
    );
    ok(&h, &["overrides", "delete", "--strategy", "trend"]);
    ok(
        &h,
        &[
            "overrides",
            "delete",
            "--strategy",
            "trend",
            "--instrument",
            "US10",
        ],
    );
    assert_eq!(
        json_of(&h, &["overrides", "list", "--json"]),
        json!({ "overrides": [] })
    );
    // Deleting what is not there is an error.
    invalid(
        &h,
        &["overrides", "delete", "--strategy", "trend"],
        "no override stored for strategy trend",
    );
}

#[test]
fn bad_overrides_change_nothing() {
    let h = home();
    ok(&h, &["overrides", "set", "--instrument", "AUD", "0.25"]);
    let before = json_of(&h, &["overrides", "list", "--json"]);
    invalid(
        &h,
        &["overrides", "set", "--instrument", "AUD", "1.5"],
        "not between 0 and 1",
    );
    invalid(
        &h,
        &["overrides", "set", "--instrument", "AUD", "-0.5"],
        "not between 0 and 1",
    );
    invalid(
        &h,
        &["overrides", "set", "--instrument", "AUD", "sometimes"],
        "`sometimes` is not an override",
    );
    invalid(
        &h,
        &["overrides", "set", "--instrument", "AUDD", "close"],
        "did you mean `AUD`?",
    );
    invalid(
        &h,
        &["overrides", "set", "--instrument", "NOSUCH", "close"],
        "unknown instrument `NOSUCH`",
    );
    invalid(
        &h,
        &["overrides", "set", "--strategy", "a b", "close"],
        "invalid strategy name",
    );
    invalid(&h, &["overrides", "set", "close"], "give --strategy S");
    invalid(
        &h,
        &["overrides", "delete", "--instrument", "AUDD"],
        "did you mean `AUD`?",
    );
    assert_eq!(json_of(&h, &["overrides", "list", "--json"]), before);
}

#[test]
fn position_limits() {
    let h = home();
    assert_eq!(
        json_of(&h, &["limits", "list", "--json"]),
        json!({ "position_limits": [] })
    );
    let set = json_of(&h, &["limits", "set", "--instrument", "AUD", "5", "--json"]);
    assert_eq!(
        set,
        json!({ "action": "set", "scope": "instrument", "strategy": null, "instrument": "AUD",
                "limit": 5, "previous": null })
    );
    ok(
        &h,
        &[
            "limits",
            "set",
            "--instrument",
            "AUD",
            "--strategy",
            "trend",
            "2",
        ],
    );
    let text = ok(&h, &["limits", "set", "--instrument", "US10", "none"]);
    assert!(
        text.contains("position limit of instrument US10: no limit"),
        "{text}"
    );
    let again = json_of(
        &h,
        &["limits", "set", "--instrument", "US10", "0", "--json"],
    );
    assert_eq!(again["previous"], json!({ "limit": null }));
    assert_eq!(again["limit"], 0);

    let list = json_of(&h, &["limits", "list", "--json"]);
    assert_eq!(
        rows(&list, "position_limits"),
        json!([
            { "scope": "instrument", "strategy": null, "instrument": "AUD", "limit": 5 },
            { "scope": "instrument", "strategy": null, "instrument": "US10", "limit": 0 },
            { "scope": "strategy_instrument", "strategy": "trend", "instrument": "AUD",
              "limit": 2 },
        ])
    );
    assert!(ok(&h, &["limits", "list"]).contains("strategy_instrument"));

    let del = json_of(
        &h,
        &[
            "limits",
            "delete",
            "--instrument",
            "AUD",
            "--strategy",
            "trend",
            "--json",
        ],
    );
    assert_eq!(del["previous"], json!({ "limit": 2 }));
    assert_eq!(del["scope"], "strategy_instrument");
    ok(&h, &["limits", "delete", "--instrument", "AUD"]);
    ok(&h, &["limits", "delete", "--instrument", "US10"]);
    assert_eq!(
        json_of(&h, &["limits", "list", "--json"]),
        json!({ "position_limits": [] })
    );
    invalid(
        &h,
        &["limits", "delete", "--instrument", "AUD"],
        "no position limit stored for instrument AUD",
    );
}

#[test]
fn bad_limits_change_nothing() {
    let h = home();
    ok(&h, &["limits", "set", "--instrument", "AUD", "3"]);
    let before = json_of(&h, &["limits", "list", "--json"]);
    invalid(
        &h,
        &["limits", "set", "--instrument", "AUD", "-1"],
        "cannot be negative",
    );
    invalid(
        &h,
        &["limits", "set", "--instrument", "AUD", "2.5"],
        "is not a position limit",
    );
    invalid(
        &h,
        &["limits", "set", "--instrument", "AUDD", "4"],
        "did you mean `AUD`?",
    );
    invalid(
        &h,
        &["limits", "set", "--instrument", "aud", "4"],
        "codes are case-sensitive",
    );
    assert_eq!(json_of(&h, &["limits", "list", "--json"]), before);
}

#[test]
fn without_a_subcommand_off_a_terminal_help_and_exit_2() {
    let h = home();
    for cmd in ["overrides", "limits"] {
        let out = run(&h, &[cmd]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = stderr(&out);
        assert!(
            err.contains("list") && err.contains("set") && err.contains("delete"),
            "{err}"
        );
        assert!(err.contains("needs a terminal"), "{err}");
    }
}
