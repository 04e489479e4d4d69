//! Alerts and e-mail, without I/O: what an alert is, the ports that keep them
//! ([`AlertStore`]) and send messages ([`Mailer`]), the 24-hour de-duplication rules (§B25,
//! [`decide`]) and the service that records an alert and then e-mails it ([`AlertService`]).
//!
//! Rules (decided in ARCHITECTURE.md, §E13/§E16): every alert is recorded first, whatever the
//! mail server does. Critical alerts and reports are always sent. Other messages are sent at
//! most once per subject in 24 hours; the first one held back sends one warning per subject in
//! 24 hours. A message that could not be sent is *kept*; after the next successful send, the
//! kept ones go out together in one message. Delivered messages are never shown as kept.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to an alert's e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendState {
    /// Delivered to the mail server.
    Sent,
    /// Could not be sent: kept, and sent after the next successful send.
    Kept,
    /// Not sent: another message with the same subject was sent less than 24 hours before.
    Suppressed,
    /// E-mail is not configured: recorded only.
    NotSent,
}

impl SendState {
    pub fn as_str(self) -> &'static str {
        match self {
            SendState::Sent => "sent",
            SendState::Kept => "kept",
            SendState::Suppressed => "suppressed",
            SendState::NotSent => "not_sent",
        }
    }

    pub fn parse(s: &str) -> Option<SendState> {
        match s {
            "sent" => Some(SendState::Sent),
            "kept" => Some(SendState::Kept),
            "suppressed" => Some(SendState::Suppressed),
            "not_sent" => Some(SendState::NotSent),
            _ => None,
        }
    }
}

/// Where an alert comes from (any may be absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlertContext {
    pub instrument: Option<String>,
    pub run_id: Option<i64>,
    pub node: Option<String>,
}

/// An alert to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub severity: Severity,
    /// What kind of event, e.g. `node_failed`, `ib_disconnected`.
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub context: AlertContext,
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    pub id: i64,
    pub time: DateTime<Utc>,
    pub severity: Severity,
    pub kind: String,
    pub subject: String,
    pub body: String,
    #[serde(flatten)]
    pub context: AlertContext,
    pub state: SendState,
    pub sent_at: Option<DateTime<Utc>>,
    /// Why the last try to send it failed (state `kept`).
    pub send_error: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// The de-duplication state of one subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubjectLog {
    /// Last successful send of a message with this subject.
    pub last_sent: Option<DateTime<Utc>>,
    /// Last "won't send more with this subject today" warning.
    pub warning_sent: Option<DateTime<Utc>>,
}

/// Errors of the alert store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertStoreError {
    #[error("alert store: {detail}")]
    Database { detail: String },
    #[error("alert store holds an invalid {what}: {detail}")]
    Corrupt { what: String, detail: String },
}

/// Where alerts and the de-duplication state are kept.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Records a new alert; returns its id.
    async fn insert(
        &self,
        time: DateTime<Utc>,
        alert: &NewAlert,
        state: SendState,
    ) -> Result<i64, AlertStoreError>;
    /// Sets the send state of alerts (with the send time, or the error of a failed try).
    async fn set_state(
        &self,
        ids: &[i64],
        state: SendState,
        sent_at: Option<DateTime<Utc>>,
        error: Option<&str>,
    ) -> Result<(), AlertStoreError>;
    /// Alerts, oldest first: every one, or only those not acknowledged.
    async fn list(&self, all: bool) -> Result<Vec<AlertRecord>, AlertStoreError>;
    /// Alerts kept because they could not be sent, oldest first.
    async fn kept(&self) -> Result<Vec<AlertRecord>, AlertStoreError>;
    /// Whether an alert of `kind` with `subject` was ever recorded (acknowledged or not): how
    /// an alert raised once per event (a missed schedule window) is not raised again.
    async fn exists(&self, kind: &str, subject: &str) -> Result<bool, AlertStoreError>;
    /// Acknowledges alert `id`: `false` if there is no such alert.
    async fn acknowledge(&self, id: i64, at: DateTime<Utc>) -> Result<bool, AlertStoreError>;
    async fn subject_log(&self, subject: &str) -> Result<SubjectLog, AlertStoreError>;
    async fn set_subject_log(&self, subject: &str, log: SubjectLog) -> Result<(), AlertStoreError>;
    /// Gives up e-mailing the alerts kept since before `before`: they become `not_sent` with
    /// `reason` (and their last send error) as `send_error`, so the next successful send does
    /// not carry them. The alerts themselves stay. With `dry_run` they are only counted.
    async fn give_up_kept(
        &self,
        before: DateTime<Utc>,
        reason: &str,
        dry_run: bool,
    ) -> Result<crate::engine::store::Aged, AlertStoreError>;
}

/// An attachment of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: String,
    /// A MIME type, e.g. `text/csv`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A message to send to the configured recipients.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    pub subject: String,
    pub text: String,
    /// Sent as multipart/alternative after the text part.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Which step of sending failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailFailure {
    /// Building the message (a bad address or attachment type).
    Message,
    /// The server's name did not resolve.
    Dns,
    /// Connecting to the server.
    Connect,
    Tls,
    Auth,
    /// The server refused a recipient or the sender.
    Refused,
    /// The whole send took longer than the configured timeout.
    Timeout,
    /// Anything else the server answered.
    Server,
}

/// A message that was not sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{detail}")]
pub struct MailError {
    pub failure: MailFailure,
    pub detail: String,
}

/// Sends messages (the SMTP adapter; a test double).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Where messages go, for people: "smtp://host:port (starttls) as user, to a, b".
    fn describe(&self) -> String;
    /// Sends one message; never takes longer than the configured timeout.
    async fn send(&self, message: &Message) -> Result<(), MailError>;
}

/// How long a subject stays de-duplicated.
pub fn dedup_window() -> Duration {
    Duration::hours(24)
}

/// What to do with a message (§B25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Send,
    /// Hold it back and send the "no more with this subject today" warning.
    SuppressWithWarning,
    Suppress,
}

/// The de-duplication rule for a message with `log` as its subject's state at `now`: reports
/// and critical alerts are always sent (§E13); others once per subject in 24 hours, the first
/// held-back one with a warning (once per subject in 24 hours).
pub fn decide(now: DateTime<Utc>, always: bool, log: SubjectLog) -> Decision {
    let within = |t: Option<DateTime<Utc>>| t.is_some_and(|t| now - t < dedup_window());
    if always || !within(log.last_sent) {
        Decision::Send
    } else if within(log.warning_sent) {
        Decision::Suppress
    } else {
        Decision::SuppressWithWarning
    }
}

/// The warning sent instead of a held-back message.
pub fn warning_message(subject: &str) -> Message {
    Message {
        subject: format!("Warning: no more e-mails with subject '{subject}' today"),
        text: format!(
            "A message with the subject '{subject}' was e-mailed less than 24 hours ago. Further \
             messages with this subject are not e-mailed for 24 hours after it; they are recorded: \
             see `systrade alerts`.\n"
        ),
        ..Message::default()
    }
}

/// The message an alert is e-mailed as.
pub fn alert_message(id: i64, time: DateTime<Utc>, alert: &NewAlert) -> Message {
    let mut text = format!("{}\n\n", alert.body.trim_end());
    text.push_str(&format!(
        "alert {id}, {} {}, at {}",
        alert.severity,
        alert.kind,
        time.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    if let Some(i) = &alert.context.instrument {
        text.push_str(&format!(", instrument {i}"));
    }
    if let Some(r) = alert.context.run_id {
        text.push_str(&format!(", run {r}"));
    }
    if let Some(n) = &alert.context.node {
        text.push_str(&format!(", node {n}"));
    }
    text.push_str(&format!("\nacknowledge: `systrade alerts ack {id}`\n"));
    Message {
        subject: subject_line(alert.severity, &alert.subject),
        text,
        ..Message::default()
    }
}

/// Critical alerts' subjects start with `*CRITICAL*: ` as pysystemtrade's critical mails do.
fn subject_line(severity: Severity, subject: &str) -> String {
    match severity {
        Severity::Critical => format!("*CRITICAL*: {subject}"),
        _ => subject.to_string(),
    }
}

/// One message holding every kept alert.
pub fn kept_message(kept: &[AlertRecord]) -> Message {
    let mut text = format!(
        "{} alert(s) could not be e-mailed when they were raised:\n",
        kept.len()
    );
    for a in kept {
        text.push_str(&format!(
            "\n--- alert {} ({} {}, {}): {}\n{}\n",
            a.id,
            a.severity,
            a.kind,
            a.time.format("%Y-%m-%d %H:%M:%S UTC"),
            a.subject,
            a.body.trim_end()
        ));
    }
    Message {
        subject: format!("systrade: {} kept alert(s)", kept.len()),
        text,
        ..Message::default()
    }
}

/// What happened to a raised alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Raised {
    pub id: i64,
    pub state: SendState,
    /// Why it was not sent, if it was tried.
    pub error: Option<String>,
    /// Kept alerts sent with it.
    pub flushed: Vec<i64>,
}

/// Errors of raising an alert or sending a report: the store failed (sending failures are not
/// errors of raising: the alert is kept).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] AlertStoreError),
    #[error("{0}")]
    Mail(#[from] MailError),
    #[error("e-mail is not configured: set [email] server, from and to in the home's config.toml")]
    NotConfigured,
}

/// Records alerts and e-mails them.
pub struct AlertService {
    pub store: Arc<dyn AlertStore>,
    /// `None`: e-mail is not configured.
    pub mailer: Option<Arc<dyn Mailer>>,
}

impl AlertService {
    /// Records `alert` at `now`, then e-mails it by the rules above. A failing mail server is
    /// not an error: the alert is kept.
    pub async fn raise(&self, now: DateTime<Utc>, alert: NewAlert) -> Result<Raised, AlertError> {
        let Some(mailer) = &self.mailer else {
            let id = self.store.insert(now, &alert, SendState::NotSent).await?;
            return Ok(Raised {
                id,
                state: SendState::NotSent,
                error: None,
                flushed: Vec::new(),
            });
        };
        let log = self.store.subject_log(&alert.subject).await?;
        let decision = decide(now, alert.severity == Severity::Critical, log);
        if decision != Decision::Send {
            let id = self
                .store
                .insert(now, &alert, SendState::Suppressed)
                .await?;
            let mut flushed = Vec::new();
            if decision == Decision::SuppressWithWarning
                && mailer.send(&warning_message(&alert.subject)).await.is_ok()
            {
                let log = SubjectLog {
                    warning_sent: Some(now),
                    ..log
                };
                self.store.set_subject_log(&alert.subject, log).await?;
                flushed = self.flush(mailer.as_ref(), now).await?;
            }
            return Ok(Raised {
                id,
                state: SendState::Suppressed,
                error: None,
                flushed,
            });
        }
        // Recorded as kept until the server has taken it: a crash in between keeps it.
        let id = self.store.insert(now, &alert, SendState::Kept).await?;
        match mailer.send(&alert_message(id, now, &alert)).await {
            Ok(()) => {
                self.store
                    .set_state(&[id], SendState::Sent, Some(now), None)
                    .await?;
                let log = SubjectLog {
                    last_sent: Some(now),
                    ..log
                };
                self.store.set_subject_log(&alert.subject, log).await?;
                let flushed = self.flush(mailer.as_ref(), now).await?;
                Ok(Raised {
                    id,
                    state: SendState::Sent,
                    error: None,
                    flushed,
                })
            }
            Err(e) => {
                self.store
                    .set_state(&[id], SendState::Kept, None, Some(&e.to_string()))
                    .await?;
                Ok(Raised {
                    id,
                    state: SendState::Kept,
                    error: Some(e.to_string()),
                    flushed: Vec::new(),
                })
            }
        }
    }

    /// Sends a message that is never de-duplicated (a report, a test message); on success the
    /// kept alerts follow. Errors: no e-mail configured, or the send failed.
    pub async fn send_now(
        &self,
        now: DateTime<Utc>,
        message: &Message,
    ) -> Result<Vec<i64>, AlertError> {
        let mailer = self.mailer.as_ref().ok_or(AlertError::NotConfigured)?;
        mailer.send(message).await?;
        Ok(self.flush(mailer.as_ref(), now).await?)
    }

    /// Sends the kept alerts in one message; their ids when it went (a failure leaves them kept).
    async fn flush(
        &self,
        mailer: &dyn Mailer,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, AlertStoreError> {
        let kept = self.store.kept().await?;
        if kept.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = kept.iter().map(|a| a.id).collect();
        match mailer.send(&kept_message(&kept)).await {
            Ok(()) => {
                self.store
                    .set_state(&ids, SendState::Sent, Some(now), None)
                    .await?;
                Ok(ids)
            }
            Err(e) => {
                self.store
                    .set_state(&ids, SendState::Kept, None, Some(&e.to_string()))
                    .await?;
                Ok(Vec::new())
            }
        }
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
