//! Process control decisions, ported from sysproduction's `run_process` and fixed (§E 1–3):
//! the schedule window in the workflow's own time zone (windows may cross midnight), weekdays,
//! the control state, the single-instance lock, and the previous-workflow condition
//! ("each `after_workflows` entry has succeeded since this workflow last started").
//! Pure functions over facts read from the store, so they are tested with any clock.

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
}
