//! Raising alerts from the application: the [`App`]'s alert service (the store and the
//! configured mailer, with the app clock), the alerts a finished run raises (a node failed
//! after its last retry, a run that failed or crashed), the alert of a scheduled window that
//! opened with nothing running (`missed_window_alert`), and the forwarding of log events with
//! tracing target `systrade::alert` ([`AlertLogLayer`]) to the alert service.

use std::sync::Mutex;

use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use super::App;
use crate::domain::alerts::{
    AlertContext, AlertError, AlertService, Message, NewAlert, Raised, Severity,
};
use crate::engine::executor::RunSummary;
use crate::engine::schedule::MissedWindow;
use crate::engine::spec::Schedule;
use crate::engine::store::{LockHolder, NodeState, RunStatus, RunStore};
use chrono::{DateTime, Utc};

impl App {
    /// The alert service on this home's store and the configured mailer.
    pub fn alert_service(&self) -> AlertService {
        AlertService {
            store: self.alerts.clone(),
            mailer: self.mailer.clone(),
        }
    }

    /// Records `alert` (secrets masked) at the clock's now and e-mails it (see
    /// `domain::alerts`). A mail failure is logged and the alert kept; only a store failure is
    /// an error.
    pub async fn raise(&self, mut alert: NewAlert) -> Result<Raised, AlertError> {
        alert.subject = crate::engine::secrets::mask_owned(alert.subject);
        alert.body = crate::engine::secrets::mask_owned(alert.body);
        let raised = self
            .alert_service()
            .raise(self.clock.now(), alert.clone())
            .await?;
        match &raised.error {
            Some(e) => tracing::warn!(
                target: "systrade::email",
                alert = raised.id,
                "alert {} ({}) could not be e-mailed and is kept: {e}",
                raised.id,
                alert.subject
            ),
            None => tracing::info!(
                target: "systrade::email",
                alert = raised.id,
                state = raised.state.as_str(),
                "alert {}: {}",
                raised.id,
                alert.subject
            ),
        }
        Ok(raised)
    }

    /// Sends `message` now (reports and test messages: never de-duplicated); the kept alerts
    /// follow it. Returns the ids of the kept alerts that went with it.
    pub async fn send_now(&self, message: &Message) -> Result<Vec<i64>, AlertError> {
        self.alert_service()
            .send_now(self.clock.now(), message)
            .await
    }

    /// E-mails `report`: its HTML form as the body (and attached as a file, which opens with
    /// its plots in a browser), its text form for plain-text readers. Never de-duplicated. A
    /// failed send keeps the report as an alert (kind `report_not_sent`, the text form as its
    /// body), sent with the next message that goes; the caller goes on either way.
    pub async fn email_report(
        &self,
        report: &crate::domain::reports::Report,
    ) -> Result<EmailedReport, AlertError> {
        use crate::reports::render::{render, Format};
        let text = render(report, Format::Text);
        let html = render(report, Format::Html);
        let now = self.clock.now();
        let subject = format!("{} ({})", report.title, now.format("%Y-%m-%d"));
        let message = Message {
            subject: subject.clone(),
            text: text.clone(),
            html: Some(html.clone()),
            attachments: vec![crate::domain::alerts::Attachment {
                filename: format!("{}_{}.html", report.name, now.format("%Y-%m-%d")),
                content_type: "text/html; charset=utf-8".into(),
                bytes: html.into_bytes(),
            }],
        };
        match self.send_now(&message).await {
            Ok(flushed) => Ok(EmailedReport {
                sent: true,
                error: None,
                kept_alert: None,
                kept_alerts_sent: flushed,
            }),
            Err(AlertError::Mail(e)) => {
                let alert = NewAlert {
                    severity: Severity::Warning,
                    kind: "report_not_sent".into(),
                    subject,
                    body: text,
                    context: AlertContext::default(),
                };
                let id = self
                    .alerts
                    .insert(now, &alert, crate::domain::alerts::SendState::Kept)
                    .await?;
                let detail = e.to_string();
                self.alerts
                    .set_state(
                        &[id],
                        crate::domain::alerts::SendState::Kept,
                        None,
                        Some(&detail),
                    )
                    .await?;
                tracing::warn!(
                    target: "systrade::email",
                    alert = id,
                    "{} could not be e-mailed and is kept as alert {id}: {detail}",
                    report.title
                );
                Ok(EmailedReport {
                    sent: false,
                    error: Some(detail),
                    kept_alert: Some(id),
                    kept_alerts_sent: Vec::new(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Raises the alerts of log events with target `systrade::alert` seen so far.
    pub async fn forward_logged_alerts(&self) {
        let pending: Vec<NewAlert> = match LOGGED.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => return,
        };
        for alert in pending {
            if let Err(e) = self.raise(alert).await {
                tracing::error!(target: "systrade::email", "cannot record an alert: {e}");
            }
        }
    }
}

/// What happened to an e-mailed report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EmailedReport {
    pub sent: bool,
    pub error: Option<String>,
    /// The alert that keeps it when it was not sent.
    pub kept_alert: Option<i64>,
    /// Kept alerts that went after it.
    pub kept_alerts_sent: Vec<i64>,
}

/// The critical alerts of a finished run: each node that failed after its last retry or
/// crashed, the run itself when it failed without a failed node (or crashed), and each earlier
/// run found crashed when it started.
pub async fn run_alerts(runs: &dyn RunStore, summary: &RunSummary) -> Vec<NewAlert> {
    let mut out = Vec::new();
    let context = |node: Option<&str>| AlertContext {
        instrument: None,
        run_id: Some(summary.run_id),
        node: node.map(str::to_string),
    };
    let nodes = runs.run_nodes(summary.run_id).await.unwrap_or_default();
    let failed: Vec<_> = nodes
        .iter()
        .filter(|n| matches!(n.state, NodeState::Failed | NodeState::Crashed))
        .collect();
    for n in &failed {
        out.push(NewAlert {
            severity: Severity::Critical,
            kind: "node_failed".into(),
            subject: format!(
                "{}: node {} {} (run {})",
                summary.workflow, n.node_id, n.state, summary.run_id
            ),
            body: format!(
                "Node `{}` (task {}) of workflow `{}` {} after {} attempt(s) in run {}.\n\nerror: {}\n\n\
                 details: `systrade show {}`; re-run what did not succeed: `systrade rerun {}`",
                n.node_id,
                n.task,
                summary.workflow,
                n.state,
                n.attempts,
                summary.run_id,
                n.error.as_deref().unwrap_or("(none recorded)"),
                summary.run_id,
                summary.run_id
            ),
            context: context(Some(&n.node_id)),
        });
    }
    let run_failed = matches!(summary.status, RunStatus::Failed | RunStatus::Crashed);
    if run_failed && failed.is_empty() {
        out.push(NewAlert {
            severity: Severity::Critical,
            kind: "run_failed".into(),
            subject: format!(
                "{}: run {} {}",
                summary.workflow, summary.run_id, summary.status
            ),
            body: format!(
                "Run {} of workflow `{}` {}: {}\n\ndetails: `systrade show {}`",
                summary.run_id,
                summary.workflow,
                summary.status,
                summary.message.as_deref().unwrap_or("no message"),
                summary.run_id
            ),
            context: context(None),
        });
    }
    for crashed in &summary.crashed_runs_recovered {
        out.push(crashed_run_alert(
            &summary.workflow,
            *crashed,
            &format!("when run {} started", summary.run_id),
        ));
    }
    out
}

/// The critical alert of run `run_id` of `workflow`, found crashed (its runner gone) `when`.
pub fn crashed_run_alert(workflow: &str, run_id: i64, when: &str) -> NewAlert {
    NewAlert {
        severity: Severity::Critical,
        kind: "run_crashed".into(),
        subject: format!("{workflow}: run {run_id} crashed"),
        body: format!(
            "Run {run_id} of workflow `{workflow}` was found crashed (its runner is gone) {when}; \
             it was marked crashed and its lock released.\n\ndetails: `systrade show {run_id}`; \
             re-execute what did not finish: `systrade rerun {run_id}`"
        ),
        context: AlertContext {
            run_id: Some(run_id),
            ..AlertContext::default()
        },
    }
}

/// The subject of the missed-window alert of `workflow`'s window opening at `open`: the same
/// whether it is raised while the window is open or after it went by, so the store finds it
/// (`AlertStore::exists`) and the alert is raised once per window.
pub fn missed_window_subject(workflow: &str, schedule: &Schedule, open: DateTime<Utc>) -> String {
    format!(
        "{workflow}: scheduled window of {} {} opened with nothing running",
        open.with_timezone(&schedule.timezone)
            .format("%a %Y-%m-%d %H:%M"),
        schedule.timezone.name()
    )
}

/// The critical alert (kind `missed_window`) of a scheduled window in which `workflow` did not
/// start: the window in its local time and zone (and UTC), why it did not start, what to do.
/// `holder` is the live holder of the workflow's lock, if any (a run from an earlier window).
pub fn missed_window_alert(
    workflow: &str,
    schedule: &Schedule,
    missed: &MissedWindow,
    holder: Option<&LockHolder>,
    now: DateTime<Utc>,
) -> NewAlert {
    let tz = &schedule.timezone;
    let local = |t: DateTime<Utc>| t.with_timezone(tz);
    let window = format!(
        "{}–{} {} ({}–{} UTC)",
        local(missed.open).format("%a %Y-%m-%d %H:%M"),
        local(missed.close).format("%H:%M"),
        tz.name(),
        missed.open.format("%Y-%m-%d %H:%M"),
        missed.close.format("%H:%M"),
    );
    let state = if missed.closed {
        format!(
            "It closed at {} {} without a run.",
            local(missed.close).format("%H:%M"),
            tz.name()
        )
    } else {
        format!(
            "It has been open for {} minutes and closes at {} {}.",
            (now - missed.open).num_minutes(),
            local(missed.close).format("%H:%M"),
            tz.name()
        )
    };
    let todo = if missed.closed {
        format!(
            "The scheduler was down: find out why it stopped (run it under systemd with \
             Restart=always, see the README). If the missed run is still wanted, run it by hand: \
             `systrade run {workflow}`."
        )
    } else if let Some(h) = holder {
        let run = h.run_id.map(|r| format!("run {r}, ")).unwrap_or_default();
        let show = h
            .run_id
            .map(|r| format!(" (`systrade show {r}`)"))
            .unwrap_or_default();
        format!(
            "A run from an earlier window ({run}pid {} on {}) still holds the workflow's lock{show}. \
             If it is stuck, stop it with `systrade control {workflow} stop` and allow runs again \
             with `systrade control {workflow} go`: the scheduler then starts it while the window \
             is open.",
            h.pid, h.host
        )
    } else if !schedule.after_workflows.is_empty() {
        let runs: Vec<String> = schedule
            .after_workflows
            .iter()
            .map(|w| format!("`systrade runs --workflow {w}`"))
            .collect();
        format!(
            "It runs after {}: the scheduler starts it by itself while the window is open once \
             each has succeeded since its last start (see {}, and `systrade status`). To run it \
             now anyway: `systrade run {workflow}`.",
            schedule.after_workflows.join(", "),
            runs.join(", ")
        )
    } else {
        format!(
            "`systrade status` shows what holds it back; the scheduler starts it by itself while \
             the window is open once nothing does. To run it now anyway: `systrade run {workflow}`."
        )
    };
    NewAlert {
        severity: Severity::Critical,
        kind: "missed_window".into(),
        subject: missed_window_subject(workflow, schedule, missed.open),
        body: format!(
            "Workflow `{workflow}` has not started in its scheduled window {window}. {state}\n\n\
             Why it did not start: {}.\n\n\
             What to do: {todo}\n\n\
             To skip a window on purpose, set `systrade control {workflow} no-run` (or stop): \
             STOP and NO-RUN raise no alert.",
            missed.reason
        ),
        context: AlertContext::default(),
    }
}

/// Alerts logged with target `systrade::alert`, waiting for [`App::forward_logged_alerts`].
static LOGGED: Mutex<Vec<NewAlert>> = Mutex::new(Vec::new());

/// A tracing layer that turns each event with target `systrade::alert` into an alert (fields:
/// `severity` = info|warning|critical, default critical; optional `kind`, `instrument`; the
/// first line of the message is the subject, the message and the other fields the body; the
/// run and node come from the enclosing spans, as the run store's log layer finds them).
pub struct AlertLogLayer;

impl<S> Layer<S> for AlertLogLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "systrade::alert" {
            return;
        }
        let e = crate::engine::logsink::capture(event, &ctx);
        let mut fields = match e.fields {
            Some(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let mut take = |key: &str| {
            fields.remove(key).map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
        };
        let severity = take("severity")
            .as_deref()
            .and_then(Severity::parse)
            .unwrap_or(Severity::Critical);
        let kind = take("kind").unwrap_or_else(|| "logged".into());
        let instrument = take("instrument");
        let subject = e
            .message
            .trim_start_matches("CRITICAL: ")
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let mut body = e.message.clone();
        if !fields.is_empty() {
            body.push('\n');
            for (k, v) in &fields {
                let v = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                body.push_str(&format!("\n{k}: {v}"));
            }
        }
        let alert = NewAlert {
            severity,
            kind,
            subject,
            body,
            context: AlertContext {
                instrument,
                run_id: e.run_id,
                node: e.node_id,
            },
        };
        if let Ok(mut q) = LOGGED.lock() {
            q.push(alert);
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn alert_log_events_are_queued_as_alerts_and_others_are_not() {
        let buffer = crate::engine::logsink::LogBuffer::default();
        let subscriber = tracing_subscriber::registry()
            .with(crate::engine::logsink::StoreLogLayer::new(buffer))
            .with(AlertLogLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!("an ordinary error");
            let run = tracing::info_span!("run", run_id = 7_i64, workflow = "w");
            let _r = run.enter();
            let node = tracing::info_span!("node", node_id = "prices", attempt = 1);
            let _n = node.enter();
            tracing::error!(
                target: "systrade::alert",
                severity = "critical",
                kind = "ib_disconnected",
                address = "127.0.0.1:4002",
                "CRITICAL: the IB connection has been down for 301 s\nmore"
            );
            tracing::warn!(target: "systrade::alert", severity = "warning", instrument = "SP500", "a spike");
        });
        let queued: Vec<NewAlert> = std::mem::take(&mut *LOGGED.lock().unwrap());
        assert_eq!(queued.len(), 2, "{queued:?}");
        let a = &queued[0];
        assert_eq!(
            (a.severity, a.kind.as_str(), a.subject.as_str()),
            (
                Severity::Critical,
                "ib_disconnected",
                "the IB connection has been down for 301 s"
            )
        );
        assert!(a.body.contains("more") && a.body.contains("address: 127.0.0.1:4002"));
        assert_eq!(queued[1].severity, Severity::Warning);
        assert_eq!(queued[1].context.instrument.as_deref(), Some("SP500"));
        assert_eq!(queued[1].kind, "logged");
        assert_eq!(
            (queued[1].context.run_id, queued[1].context.node.as_deref()),
            (Some(7), Some("prices"))
        );
    }

    #[test]
    fn missed_window_alerts_name_the_window_the_cause_and_the_fix() {
        use chrono::TimeZone;
        let schedule = Schedule {
            start: chrono::NaiveTime::from_hms_opt(20, 15, 0).unwrap(),
            stop: chrono::NaiveTime::from_hms_opt(23, 50, 0).unwrap(),
            days: vec![chrono::Weekday::Mon],
            timezone: chrono_tz::Europe::London,
            after_workflows: vec![],
        };
        // Monday 2026-11-30 20:15 London = 20:15 UTC (winter).
        let open = Utc.with_ymd_and_hms(2026, 11, 30, 20, 15, 0).unwrap();
        let close = Utc.with_ymd_and_hms(2026, 11, 30, 23, 50, 0).unwrap();
        let holder = LockHolder {
            workflow: "daily".into(),
            run_id: Some(17),
            pid: 4242,
            pid_start: None,
            host: "box".into(),
            boot_id: None,
            acquired_at: open - chrono::Duration::days(1),
        };
        let open_missed = MissedWindow {
            open,
            close,
            closed: false,
            reason: "already running (pid 4242 on box)".into(),
        };
        let now = open + chrono::Duration::minutes(16);
        let a = missed_window_alert("daily", &schedule, &open_missed, Some(&holder), now);
        assert_eq!(
            (a.severity, a.kind.as_str()),
            (Severity::Critical, "missed_window")
        );
        assert_eq!(
            a.subject,
            "daily: scheduled window of Mon 2026-11-30 20:15 Europe/London opened with nothing running"
        );
        for part in [
            "Mon 2026-11-30 20:15–23:50 Europe/London (2026-11-30 20:15–23:50 UTC)",
            "open for 16 minutes",
            "Why it did not start: already running (pid 4242 on box).",
            "(run 17, pid 4242 on box) still holds the workflow's lock (`systrade show 17`)",
            "`systrade control daily stop`",
        ] {
            assert!(a.body.contains(part), "{part:?} not in:\n{}", a.body);
        }
        // Raised after the window went by (the scheduler was down): the same subject, so the
        // store's record of either one stops the other.
        let closed = MissedWindow {
            closed: true,
            reason: "the scheduler was not running".into(),
            ..open_missed
        };
        let b = missed_window_alert("daily", &schedule, &closed, None, close);
        assert_eq!(b.subject, a.subject);
        assert!(
            b.body.contains("closed at 23:50 Europe/London")
                && b.body.contains("The scheduler was down"),
            "{}",
            b.body
        );
    }
}
