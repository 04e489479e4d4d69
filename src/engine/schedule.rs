//! Process control decisions, ported from sysproduction's `run_process` and fixed (§E 1–3):
//! the schedule window in the workflow's own time zone (windows may cross midnight), weekdays,
//! the control state, the single-instance lock, and the previous-workflow condition
//! ("each `after_workflows` entry has succeeded since this workflow last started"), and the
//! missed-window check ([`missed_window`]: a window open past its grace, or gone by while the
//! scheduler was down, without the workflow starting). Pure functions over facts read from the
//! store, so they are tested with any clock.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::spec::Schedule;
use super::store::{ControlState, LockHolder};

/// The window `[open, close)` that contains `now`, if any.
pub fn window_containing(
    s: &Schedule,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let local_date = now.with_timezone(&s.timezone).date_naive();
    // A window opening yesterday may still be open if it crosses midnight.
    for day in [local_date.pred_opt()?, local_date] {
        if let Some((open, close)) = window_on(s, day) {
            if open <= now && now < close {
                return Some((open, close));
            }
        }
    }
    None
}

/// The window opening on local date `day`, if the schedule runs that weekday.
pub fn window_on(s: &Schedule, day: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if !s.days.contains(&day.weekday()) {
        return None;
    }
    let open = local_to_utc(s, day, s.start);
    let close_day = if s.stop <= s.start {
        day.succ_opt()?
    } else {
        day
    };
    let close = local_to_utc(s, close_day, s.stop);
    Some((open, close))
}

/// The next time a window opens strictly after `now` (searching two weeks ahead).
pub fn next_open(s: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut day = now.with_timezone(&s.timezone).date_naive();
    for _ in 0..15 {
        if let Some((open, _)) = window_on(s, day) {
            if open > now {
                return Some(open);
            }
        }
        day = day.succ_opt()?;
    }
    None
}

/// Local wall time to UTC; a time skipped by a DST change moves forward an hour, an ambiguous one
/// takes the earlier instant.
fn local_to_utc(s: &Schedule, day: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
    let naive = day.and_time(t);
    match s.timezone.from_local_datetime(&naive) {
        LocalResult::Single(d) => d.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => match s
            .timezone
            .from_local_datetime(&(naive + Duration::hours(1)))
        {
            LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => d.with_timezone(&Utc),
            LocalResult::None => Utc.from_utc_datetime(&naive),
        },
    }
}

/// What the store says about a workflow that the scheduler considers starting.
#[derive(Debug, Clone)]
pub struct StartFacts {
    pub control: ControlState,
    /// The live holder of the workflow's lock, if any.
    pub running: Option<LockHolder>,
    /// Start time of the workflow's last full run (scheduled or manual).
    pub last_start: Option<DateTime<Utc>>,
    pub after: Vec<AfterFacts>,
}

/// State of one workflow named in `after_workflows`.
#[derive(Debug, Clone)]
pub struct AfterFacts {
    pub workflow: String,
    pub running: bool,
    /// When its last successful run finished.
    pub last_success_end: Option<DateTime<Utc>>,
}

/// The scheduler's verdict for one workflow at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Start {
        window_close: DateTime<Utc>,
    },
    Wait {
        reason: String,
        next_open: Option<DateTime<Utc>>,
    },
}

/// How long a workflow that has never run accepts a previous workflow's success.
pub const FIRST_RUN_LOOKBACK_HOURS: i64 = 24;

pub fn decide(s: &Schedule, now: DateTime<Utc>, facts: &StartFacts) -> Decision {
    let wait = |reason: String| Decision::Wait {
        reason,
        next_open: next_open(s, now),
    };
    let Some((open, close)) = window_containing(s, now) else {
        return wait("outside its schedule window".into());
    };
    match facts.control {
        ControlState::Stop => return wait("control state is STOP".into()),
        ControlState::NoRun => return wait("control state is NO-RUN".into()),
        ControlState::Go => {}
    }
    if let Some(holder) = &facts.running {
        return wait(format!(
            "already running (pid {} on {})",
            holder.pid, holder.host
        ));
    }
    if facts.last_start.is_some_and(|t| t >= open) {
        return wait("already started in this window".into());
    }
    for a in &facts.after {
        if a.running {
            return wait(format!("waiting for `{}`, which is running", a.workflow));
        }
        let since = facts
            .last_start
            .unwrap_or(now - Duration::hours(FIRST_RUN_LOOKBACK_HOURS));
        match a.last_success_end {
            Some(end) if end >= since => {}
            Some(end) => {
                return wait(format!("waiting for `{}` to succeed again (its last success, {}, is before this workflow's last start)", a.workflow, end.format("%Y-%m-%d %H:%M UTC")));
            }
            None => {
                return wait(format!(
                    "waiting for `{}`, which has never succeeded",
                    a.workflow
                ))
            }
        }
    }
    Decision::Start {
        window_close: close,
    }
}

/// What the missed-window check says about one workflow at one instant (the scheduler raises
/// the alert; this only decides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum WindowCheck {
    /// Alert: the workflow has not started in this window.
    Missed(MissedWindow),
    /// No alert, and why not.
    NoAlert { reason: String },
}

/// A window `[open, close)` that has been open for the grace period (`closed: false`), or went
/// by entirely while the scheduler was down (`closed: true`), without the workflow starting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissedWindow {
    pub open: DateTime<Utc>,
    pub close: DateTime<Utc>,
    pub closed: bool,
    /// Why it did not start (the scheduler's decision).
    pub reason: String,
}

/// How far back a window that went by while the scheduler was down is still alerted.
pub const MISSED_WINDOW_LOOKBACK_HOURS: i64 = 24;

/// The missed-window check for a workflow at `now` (§ issue 15: "a scheduled window that opened
/// with nothing running"), with `grace` (zero or less: off) and `scheduler_since`, when the
/// scheduler asking started.
///
/// - STOP or NO-RUN: no alert (not running is deliberate).
/// - A window open now: an alert once it has been open for `grace` and the workflow has not
///   started in it and is not due now ([`decide`] says wait: an `after_workflows` entry, its
///   previous run still holding the lock, …); the reason is the decision's.
/// - Otherwise the most recent window that opened at most 24 h ago and is closed: an alert when
///   the scheduler started only after it closed (it was down: nothing could run), the workflow
///   did not start in it, and the workflow has run before (a new home or workflow was never
///   meant to run before its scheduler started). A window the scheduler watched was checked
///   while it was open.
pub fn missed_window(
    s: &Schedule,
    now: DateTime<Utc>,
    facts: &StartFacts,
    grace: Duration,
    scheduler_since: DateTime<Utc>,
) -> WindowCheck {
    let no = |reason: &str| WindowCheck::NoAlert {
        reason: reason.to_string(),
    };
    if grace <= Duration::zero() {
        return no("missed-window alerts are off (scheduler.missed_window_alert_minutes = 0)");
    }
    match facts.control {
        ControlState::Stop => return no("control state is STOP: not running is deliberate"),
        ControlState::NoRun => return no("control state is NO-RUN: not running is deliberate"),
        ControlState::Go => {}
    }
    let started_since = |open: DateTime<Utc>| facts.last_start.is_some_and(|t| t >= open);
    if let Some((open, close)) = window_containing(s, now) {
        if started_since(open) {
            return no("started in this window");
        }
        if now < open + grace {
            return no("the window has been open for less than the grace period");
        }
        return match decide(s, now, facts) {
            Decision::Start { .. } => no("due now: the scheduler starts it"),
            Decision::Wait { reason, .. } => WindowCheck::Missed(MissedWindow {
                open,
                close,
                closed: false,
                reason,
            }),
        };
    }
    let Some((open, close)) = last_closed_window(s, now) else {
        return no("no window open now or in the last 24 hours");
    };
    if scheduler_since < close {
        return no("outside its schedule window (the last one was checked while it was open)");
    }
    if started_since(open) {
        return no("started in its last window");
    }
    if facts.last_start.is_none() {
        return no(
            "it has never run: nothing says it was meant to run before the scheduler started",
        );
    }
    WindowCheck::Missed(MissedWindow {
        open,
        close,
        closed: true,
        reason: format!(
            "the scheduler was not running while the window was open (it started at {})",
            scheduler_since.format("%Y-%m-%d %H:%M UTC")
        ),
    })
}

/// The most recent window that opened at most [`MISSED_WINDOW_LOOKBACK_HOURS`] before `now`
/// and closed at or before `now`.
pub fn last_closed_window(
    s: &Schedule,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let earliest = now - Duration::hours(MISSED_WINDOW_LOOKBACK_HOURS);
    let mut day = now.with_timezone(&s.timezone).date_naive();
    for _ in 0..3 {
        if let Some((open, close)) = window_on(s, day) {
            if close <= now {
                return (open >= earliest).then_some((open, close));
            }
        }
        day = day.pred_opt()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn sched(start: &str, stop: &str, tz: &str) -> Schedule {
        Schedule {
            start: NaiveTime::parse_from_str(start, "%H:%M").unwrap(),
            stop: NaiveTime::parse_from_str(stop, "%H:%M").unwrap(),
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            timezone: tz.parse().unwrap(),
            after_workflows: vec![],
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn facts() -> StartFacts {
        StartFacts {
            control: ControlState::Go,
            running: None,
            last_start: None,
            after: vec![],
        }
    }

    #[test]
    fn window_uses_local_time_zone_and_weekdays() {
        let s = sched("07:00", "23:50", "Europe/London");
        // 2026-07-01 is a Wednesday; London is UTC+1 in summer.
        assert!(window_containing(&s, t("2026-07-01T06:30:00Z")).is_some());
        assert!(window_containing(&s, t("2026-07-01T05:59:00Z")).is_none());
        // Saturday is not in the days list.
        assert!(window_containing(&s, t("2026-07-04T12:00:00Z")).is_none());
        assert_eq!(
            next_open(&s, t("2026-07-04T12:00:00Z")),
            Some(t("2026-07-06T06:00:00Z"))
        );
    }

    #[test]
    fn windows_may_cross_midnight() {
        let s = sched("22:00", "02:00", "UTC");
        assert!(window_containing(&s, t("2026-07-01T23:00:00Z")).is_some());
        assert_eq!(
            window_containing(&s, t("2026-07-02T01:00:00Z")).unwrap().0,
            t("2026-07-01T22:00:00Z")
        );
        assert!(window_containing(&s, t("2026-07-02T03:00:00Z")).is_none());
    }

    #[test]
    fn control_lock_and_once_per_window() {
        let s = sched("07:00", "23:50", "UTC");
        let now = t("2026-07-01T08:00:00Z");
        assert!(matches!(decide(&s, now, &facts()), Decision::Start { .. }));
        let mut f = facts();
        f.control = ControlState::NoRun;
        assert!(
            matches!(decide(&s, now, &f), Decision::Wait { reason, .. } if reason.contains("NO-RUN"))
        );
        let mut f = facts();
        f.last_start = Some(t("2026-07-01T07:00:01Z"));
        assert!(
            matches!(decide(&s, now, &f), Decision::Wait { reason, .. } if reason.contains("already started"))
        );
        f.last_start = Some(t("2026-06-30T07:00:01Z"));
        assert!(matches!(decide(&s, now, &f), Decision::Start { .. }));
    }

    #[test]
    fn previous_workflow_must_have_succeeded_since_last_start() {
        let s = sched("07:00", "23:50", "UTC");
        let now = t("2026-07-01T08:00:00Z");
        let mut f = facts();
        f.last_start = Some(t("2026-06-30T07:00:00Z"));
        f.after = vec![AfterFacts {
            workflow: "prices".into(),
            running: false,
            last_success_end: Some(t("2026-06-30T06:00:00Z")),
        }];
        assert!(
            matches!(decide(&s, now, &f), Decision::Wait { reason, .. } if reason.contains("succeed again"))
        );
        f.after[0].last_success_end = Some(t("2026-07-01T07:30:00Z"));
        assert!(matches!(decide(&s, now, &f), Decision::Start { .. }));
        f.after[0].running = true;
        assert!(
            matches!(decide(&s, now, &f), Decision::Wait { reason, .. } if reason.contains("running"))
        );
        f.after[0] = AfterFacts {
            workflow: "prices".into(),
            running: false,
            last_success_end: None,
        };
        assert!(
            matches!(decide(&s, now, &f), Decision::Wait { reason, .. } if reason.contains("never succeeded"))
        );
    }

    fn missed(c: &WindowCheck) -> Option<(DateTime<Utc>, bool, &str)> {
        match c {
            WindowCheck::Missed(m) => Some((m.open, m.closed, m.reason.as_str())),
            WindowCheck::NoAlert { .. } => None,
        }
    }

    fn no_alert_reason(c: &WindowCheck) -> &str {
        match c {
            WindowCheck::NoAlert { reason } => reason,
            WindowCheck::Missed(_) => panic!("expected no alert, got {c:?}"),
        }
    }

    fn blocked() -> StartFacts {
        let mut f = facts();
        f.after = vec![AfterFacts {
            workflow: "prices".into(),
            running: false,
            last_success_end: None,
        }];
        f
    }

    #[test]
    fn a_blocked_window_is_missed_once_open_past_the_grace() {
        let s = sched("07:00", "23:50", "Europe/London");
        let grace = Duration::minutes(15);
        // 2026-07-01 (Wednesday) 07:00 London is 06:00 UTC.
        let since = t("2026-07-01T05:00:00Z");
        let early = t("2026-07-01T06:14:59Z");
        assert!(
            no_alert_reason(&missed_window(&s, early, &blocked(), grace, since))
                .contains("less than the grace")
        );
        let now = t("2026-07-01T06:15:00Z");
        let c = missed_window(&s, now, &blocked(), grace, since);
        let (open, closed, reason) = missed(&c).expect("missed");
        assert_eq!((open, closed), (t("2026-07-01T06:00:00Z"), false));
        assert!(
            reason.contains("`prices`, which has never succeeded"),
            "{reason}"
        );
        // The decision's reason, whatever it is: a run from an earlier window still holding
        // the lock.
        let mut f = facts();
        f.last_start = Some(t("2026-06-30T06:00:00Z"));
        f.running = Some(LockHolder {
            workflow: "w".into(),
            run_id: Some(3),
            pid: 42,
            pid_start: None,
            host: "h".into(),
            boot_id: None,
            acquired_at: t("2026-06-30T06:00:00Z"),
        });
        let c = missed_window(&s, now, &f, grace, since);
        assert!(missed(&c)
            .expect("missed")
            .2
            .contains("already running (pid 42"));
        // Nothing blocks: it is due and starts, no alert.
        assert!(
            no_alert_reason(&missed_window(&s, now, &facts(), grace, since)).contains("due now")
        );
    }

    #[test]
    fn started_stopped_or_disabled_windows_raise_nothing() {
        let s = sched("07:00", "23:50", "UTC");
        let now = t("2026-07-01T09:00:00Z");
        let since = t("2026-07-01T00:00:00Z");
        let grace = Duration::minutes(15);
        let mut f = blocked();
        f.last_start = Some(t("2026-07-01T07:00:00Z"));
        assert!(no_alert_reason(&missed_window(&s, now, &f, grace, since)).contains("started"));
        for (state, word) in [
            (ControlState::Stop, "STOP"),
            (ControlState::NoRun, "NO-RUN"),
        ] {
            let mut f = blocked();
            f.control = state;
            let reason = no_alert_reason(&missed_window(&s, now, &f, grace, since)).to_string();
            assert!(
                reason.contains(word) && reason.contains("deliberate"),
                "{reason}"
            );
        }
        assert!(
            no_alert_reason(&missed_window(&s, now, &blocked(), Duration::zero(), since))
                .contains("off")
        );
        // Outside any window (Saturday), nothing.
        let sat = t("2026-07-04T09:00:00Z");
        assert!(missed(&missed_window(&s, sat, &blocked(), grace, since)).is_none());
    }

    #[test]
    fn a_window_gone_by_while_the_scheduler_was_down_is_missed() {
        let s = sched("07:00", "09:00", "Europe/London");
        let grace = Duration::minutes(15);
        // Wednesday 12:00 UTC: the window (06:00–08:00 UTC) is closed.
        let now = t("2026-07-01T12:00:00Z");
        let mut f = facts();
        f.last_start = Some(t("2026-06-30T06:00:00Z"));
        let c = missed_window(&s, now, &f, grace, now);
        let (open, closed, reason) = missed(&c).expect("missed");
        assert_eq!((open, closed), (t("2026-07-01T06:00:00Z"), true));
        assert!(reason.contains("scheduler was not running"), "{reason}");
        // A scheduler that was up before the window closed checked it while it was open.
        assert!(missed(&missed_window(
            &s,
            now,
            &f,
            grace,
            t("2026-07-01T07:59:00Z")
        ))
        .is_none());
        // Started in it (by hand, say): nothing.
        f.last_start = Some(t("2026-07-01T10:00:00Z"));
        assert!(missed(&missed_window(&s, now, &f, grace, now)).is_none());
        // A workflow that never ran is not alerted for windows before the scheduler started.
        assert!(
            no_alert_reason(&missed_window(&s, now, &facts(), grace, now)).contains("never run")
        );
        // Only the most recent window, and not more than 24 h back: on Monday, Friday's
        // window is too old.
        let mut f = facts();
        f.last_start = Some(t("2026-06-20T06:00:00Z"));
        let monday_early = t("2026-07-06T05:00:00Z");
        assert!(missed(&missed_window(&s, monday_early, &f, grace, monday_early)).is_none());
        let thursday_early = t("2026-07-02T05:00:00Z");
        assert_eq!(
            missed(&missed_window(
                &s,
                thursday_early,
                &f,
                grace,
                thursday_early
            ))
            .map(|m| m.0),
            Some(t("2026-07-01T06:00:00Z"))
        );
    }

    #[test]
    fn the_last_closed_window_may_cross_midnight() {
        let s = sched("22:00", "02:00", "UTC");
        // Thursday 03:00: Wednesday's window (22:00–02:00) closed an hour ago.
        assert_eq!(
            last_closed_window(&s, t("2026-07-02T03:00:00Z")),
            Some((t("2026-07-01T22:00:00Z"), t("2026-07-02T02:00:00Z")))
        );
        // Sunday noon: Friday's window opened more than 24 hours ago.
        assert_eq!(last_closed_window(&s, t("2026-07-05T12:00:00Z")), None);
    }
}
