//! Raising alerts from the application: the [`App`]'s alert service (the store and the
//! configured mailer, with the app clock), the alerts a finished run raises (a node failed
//! after its last retry, a run that failed or crashed), and the forwarding of log events with
//! tracing target `systrade::alert` ([`AlertLogLayer`]) to the alert service.

use std::sync::Mutex;

use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use super::App;
use crate::domain::alerts::{
    AlertContext, AlertError, AlertService, Message, NewAlert, Raised, Severity,
};
use crate::engine::executor::RunSummary;
use crate::engine::store::{NodeState, RunStatus, RunStore};

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
}
