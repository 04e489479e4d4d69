//! The scheduler's `missed_window` alert through the binary, on a fixed clock (SYSTRADE_NOW):
//! a window open past `scheduler.missed_window_alert_minutes` with its workflow blocked by an
//! `after_workflows` entry that never succeeded raises one critical alert, and a scheduler
//! started again raises no second one; NO-RUN raises none; a window that went by while the
//! scheduler was down is alerted when it starts.

use serde_json::Value;

use crate::execution::{runs, wf};
use crate::support::{describe, json_of, TestHome};

/// `scheduler --once` at `now`; it must succeed.
fn scheduler_once(h: &TestHome, now: &str) {
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", now)
        .args(["scheduler", "--once"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        describe(&["scheduler", "--once"], &out)
    );
}

fn missed_alerts(h: &TestHome) -> Vec<Value> {
    json_of(h, &["alerts", "--all", "--json"])["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "missed_window")
        .cloned()
        .collect()
}

/// `scheduler --dry-run --json` at `now`: the missed-window check of `workflow`.
fn check(h: &TestHome, now: &str, workflow: &str) -> Value {
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", now)
        .args(["scheduler", "--dry-run", "--json"])
        .output()
        .unwrap();
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|d| d["workflow"] == workflow)
        .unwrap_or_else(|| panic!("{workflow} not in {all}"))["missed_window"]
        .clone()
}

#[test]
fn a_blocked_window_raises_one_missed_window_alert_across_scheduler_restarts() {
    let h = TestHome::new();
    wf(&h, "prices", "[[node]]\nid = \"p\"\ntask = \"noop\"\n");
    wf(
        &h,
        "strategy",
        "[workflow.schedule]\nstart = \"07:00\"\nstop = \"23:50\"\n\
         days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\ntimezone = \"Europe/London\"\n\
         after_workflows = [\"prices\"]\n\n[[node]]\nid = \"s\"\ntask = \"noop\"\n",
    );
    // Wednesday 2026-07-01: the window opened at 07:00 London (06:00 UTC). Within the grace
    // of 15 minutes, nothing.
    scheduler_once(&h, "2026-07-01T06:10:00Z");
    assert!(missed_alerts(&h).is_empty());

    scheduler_once(&h, "2026-07-01T06:20:00Z");
    let list = missed_alerts(&h);
    assert_eq!(list.len(), 1, "{list:?}");
    let a = &list[0];
    assert_eq!(a["severity"], "critical");
    let subject = a["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("strategy: ")
            && subject.contains("Wed 2026-07-01 07:00 Europe/London")
            && subject.contains("opened with nothing running"),
        "{subject}"
    );
    let body = a["body"].as_str().unwrap();
    for part in [
        "Workflow `strategy`",
        "07:00–23:50 Europe/London (2026-07-01 06:00–22:50 UTC)",
        "open for 20 minutes",
        "Why it did not start: waiting for `prices`, which has never succeeded",
        "What to do: It runs after prices",
        "`systrade runs --workflow prices`",
        "systrade run strategy",
    ] {
        assert!(body.contains(part), "{part:?} not in:\n{body}");
    }
    assert!(runs(&h).is_empty(), "nothing started");

    // A scheduler started again later in the same window raises no second one.
    scheduler_once(&h, "2026-07-01T09:00:00Z");
    scheduler_once(&h, "2026-07-01T09:00:05Z");
    assert_eq!(missed_alerts(&h).len(), 1);
    // Acknowledged, it is still the record that the window was alerted.
    let id = a["id"].as_i64().unwrap().to_string();
    crate::support::ok(&h, &["alerts", "ack", &id]);
    scheduler_once(&h, "2026-07-01T10:00:00Z");
    assert_eq!(missed_alerts(&h).len(), 1);

    // NO-RUN is deliberate: Thursday's window raises nothing, and the dry run says why.
    crate::support::ok(&h, &["control", "strategy", "no-run"]);
    scheduler_once(&h, "2026-07-02T06:30:00Z");
    assert_eq!(missed_alerts(&h).len(), 1);
    let c = check(&h, "2026-07-02T06:30:00Z", "strategy");
    assert_eq!(c["check"], "no_alert", "{c}");
    assert!(c["reason"].as_str().unwrap().contains("NO-RUN"), "{c}");
    // Back to GO, Thursday's window is its own alert.
    crate::support::ok(&h, &["control", "strategy", "go"]);
    assert_eq!(
        check(&h, "2026-07-02T06:31:00Z", "strategy")["check"],
        "missed"
    );
    scheduler_once(&h, "2026-07-02T06:31:00Z");
    let list = missed_alerts(&h);
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list[1]["subject"]
            .as_str()
            .unwrap()
            .contains("Thu 2026-07-02 07:00"),
        "{list:?}"
    );
}

#[test]
fn a_window_that_went_by_while_the_scheduler_was_down_is_alerted_when_it_starts() {
    let h = TestHome::new();
    wf(
        &h,
        "morning",
        "[workflow.schedule]\nstart = \"07:00\"\nstop = \"09:00\"\n\
         days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\ntimezone = \"UTC\"\n\n\
         [[node]]\nid = \"m\"\ntask = \"noop\"\n",
    );
    // It ran on Tuesday (the scheduler was up then).
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2026-06-30T07:00:05Z")
        .args(["run", "morning"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&[], &out));
    // The scheduler comes back on Wednesday at noon: the morning window went by without it.
    scheduler_once(&h, "2026-07-01T12:00:00Z");
    let list = missed_alerts(&h);
    assert_eq!(list.len(), 1, "{list:?}");
    let body = list[0]["body"].as_str().unwrap();
    for part in [
        "Wed 2026-07-01 07:00–09:00 UTC",
        "closed at 09:00 UTC",
        "the scheduler was not running while the window was open (it started at 2026-07-01 12:00 UTC)",
        "systrade run morning",
    ] {
        assert!(body.contains(part), "{part:?} not in:\n{body}");
    }
    assert_eq!(runs(&h).len(), 1, "nothing started outside the window");
    scheduler_once(&h, "2026-07-01T12:05:00Z");
    assert_eq!(missed_alerts(&h).len(), 1);
}
