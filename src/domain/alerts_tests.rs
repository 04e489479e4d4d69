use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::TimeZone;

use super::*;

fn at(hour: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap() + Duration::hours(hour)
}

#[test]
fn reports_and_criticals_always_go() {
    let log = SubjectLog {
        last_sent: Some(at(0)),
        warning_sent: Some(at(0)),
    };
    assert_eq!(decide(at(1), true, log), Decision::Send);
    assert_eq!(decide(at(1), false, log), Decision::Suppress);
}

#[test]
fn a_subject_goes_once_a_day_with_one_warning() {
    let never = SubjectLog::default();
    assert_eq!(decide(at(0), false, never), Decision::Send);
    let sent = SubjectLog {
        last_sent: Some(at(0)),
        warning_sent: None,
    };
    assert_eq!(decide(at(3), false, sent), Decision::SuppressWithWarning);
    let warned = SubjectLog {
        warning_sent: Some(at(3)),
        ..sent
    };
    assert_eq!(decide(at(6), false, warned), Decision::Suppress);
    // 24 hours after the send: sent again (exactly 24 h counts as past the window).
    assert_eq!(decide(at(24), false, warned), Decision::Send);
    // An old warning does not stop a new one.
    let old_warning = SubjectLog {
        last_sent: Some(at(30)),
        warning_sent: Some(at(3)),
    };
    assert_eq!(
        decide(at(31), false, old_warning),
        Decision::SuppressWithWarning
    );
}

#[derive(Default)]
struct MemoryStore {
    alerts: Mutex<Vec<AlertRecord>>,
    logs: Mutex<BTreeMap<String, SubjectLog>>,
}

#[async_trait]
impl AlertStore for MemoryStore {
    async fn insert(
        &self,
        time: DateTime<Utc>,
        alert: &NewAlert,
        state: SendState,
    ) -> Result<i64, AlertStoreError> {
        let mut all = self.alerts.lock().unwrap();
        let id = all.len() as i64 + 1;
        all.push(AlertRecord {
            id,
            time,
            severity: alert.severity,
            kind: alert.kind.clone(),
            subject: alert.subject.clone(),
            body: alert.body.clone(),
            context: alert.context.clone(),
            state,
            sent_at: None,
            send_error: None,
            acknowledged_at: None,
        });
        Ok(id)
    }
    async fn set_state(
        &self,
        ids: &[i64],
        state: SendState,
        sent_at: Option<DateTime<Utc>>,
        error: Option<&str>,
    ) -> Result<(), AlertStoreError> {
        for a in self.alerts.lock().unwrap().iter_mut() {
            if ids.contains(&a.id) {
                a.state = state;
                a.sent_at = sent_at;
                a.send_error = error.map(str::to_string);
            }
        }
        Ok(())
    }
    async fn list(&self, all: bool) -> Result<Vec<AlertRecord>, AlertStoreError> {
        let v = self.alerts.lock().unwrap().clone();
        Ok(v.into_iter()
            .filter(|a| all || a.acknowledged_at.is_none())
            .collect())
    }
    async fn kept(&self) -> Result<Vec<AlertRecord>, AlertStoreError> {
        let v = self.alerts.lock().unwrap().clone();
        Ok(v.into_iter()
            .filter(|a| a.state == SendState::Kept)
            .collect())
    }
    async fn exists(&self, kind: &str, subject: &str) -> Result<bool, AlertStoreError> {
        let all = self.alerts.lock().unwrap();
        Ok(all.iter().any(|a| a.kind == kind && a.subject == subject))
    }
    async fn acknowledge(&self, id: i64, at: DateTime<Utc>) -> Result<bool, AlertStoreError> {
        let mut all = self.alerts.lock().unwrap();
        Ok(all
            .iter_mut()
            .find(|a| a.id == id)
            .map(|a| a.acknowledged_at = Some(at))
            .is_some())
    }
    async fn give_up_kept(
        &self,
        before: DateTime<Utc>,
        reason: &str,
        dry_run: bool,
    ) -> Result<crate::engine::store::Aged, AlertStoreError> {
        let mut aged = crate::engine::store::Aged::default();
        for a in self.alerts.lock().unwrap().iter_mut() {
            if a.state == SendState::Kept && a.time < before {
                aged.count += 1;
                aged.oldest = Some(aged.oldest.map_or(a.time, |t| t.min(a.time)));
                aged.newest = Some(aged.newest.map_or(a.time, |t| t.max(a.time)));
                if !dry_run {
                    a.state = SendState::NotSent;
                    a.send_error = Some(reason.to_string());
                }
            }
        }
        Ok(aged)
    }
    async fn subject_log(&self, subject: &str) -> Result<SubjectLog, AlertStoreError> {
        Ok(self
            .logs
            .lock()
            .unwrap()
            .get(subject)
            .copied()
            .unwrap_or_default())
    }
    async fn set_subject_log(&self, subject: &str, log: SubjectLog) -> Result<(), AlertStoreError> {
        self.logs.lock().unwrap().insert(subject.to_string(), log);
        Ok(())
    }
}

/// Records subjects; fails while `down`.
#[derive(Default)]
struct FakeMailer {
    down: Mutex<bool>,
    sent: Mutex<Vec<Message>>,
}

#[async_trait]
impl Mailer for FakeMailer {
    fn describe(&self) -> String {
        "fake".into()
    }
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        if *self.down.lock().unwrap() {
            return Err(MailError {
                failure: MailFailure::Connect,
                detail: "connection refused".into(),
            });
        }
        self.sent.lock().unwrap().push(message.clone());
        Ok(())
    }
}

fn alert(severity: Severity, subject: &str) -> NewAlert {
    NewAlert {
        severity,
        kind: "test".into(),
        subject: subject.into(),
        body: "body".into(),
        context: AlertContext::default(),
    }
}

fn service() -> (AlertService, Arc<MemoryStore>, Arc<FakeMailer>) {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(FakeMailer::default());
    (
        AlertService {
            store: store.clone(),
            mailer: Some(mailer.clone()),
        },
        store,
        mailer,
    )
}

fn subjects(m: &FakeMailer) -> Vec<String> {
    m.sent
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.subject.clone())
        .collect()
}

#[tokio::test]
async fn the_service_deduplicates_warns_once_and_sends_criticals() {
    let (svc, store, mailer) = service();
    let w = |s| alert(Severity::Warning, s);
    assert_eq!(
        svc.raise(at(0), w("x")).await.unwrap().state,
        SendState::Sent
    );
    assert_eq!(
        svc.raise(at(2), w("x")).await.unwrap().state,
        SendState::Suppressed
    );
    assert_eq!(
        svc.raise(at(4), w("x")).await.unwrap().state,
        SendState::Suppressed
    );
    assert_eq!(
        svc.raise(at(4), w("y")).await.unwrap().state,
        SendState::Sent
    );
    for h in [5, 6] {
        let r = svc.raise(at(h), alert(Severity::Critical, "c")).await;
        assert_eq!(r.unwrap().state, SendState::Sent);
    }
    assert_eq!(
        svc.raise(at(25), w("x")).await.unwrap().state,
        SendState::Sent
    );
    assert_eq!(
        subjects(&mailer),
        [
            "x",
            "Warning: no more e-mails with subject 'x' today",
            "y",
            "*CRITICAL*: c",
            "*CRITICAL*: c",
            "x"
        ]
    );
    assert_eq!(store.list(true).await.unwrap().len(), 7);
}

#[tokio::test]
async fn unsent_alerts_are_kept_and_flushed_by_the_next_send() {
    let (svc, store, mailer) = service();
    *mailer.down.lock().unwrap() = true;
    let r = svc
        .raise(at(0), alert(Severity::Critical, "a"))
        .await
        .unwrap();
    assert_eq!(r.state, SendState::Kept);
    assert!(r.error.unwrap().contains("connection refused"));
    // A failed send does not count as sent: the same subject is tried again.
    let r = svc
        .raise(at(1), alert(Severity::Warning, "b"))
        .await
        .unwrap();
    assert_eq!(r.state, SendState::Kept);
    let r = svc
        .raise(at(1), alert(Severity::Warning, "b"))
        .await
        .unwrap();
    assert_eq!(r.state, SendState::Kept);
    assert_eq!(store.kept().await.unwrap().len(), 3);
    *mailer.down.lock().unwrap() = false;
    let r = svc.raise(at(2), alert(Severity::Info, "c")).await.unwrap();
    assert_eq!((r.state, r.flushed), (SendState::Sent, vec![1, 2, 3]));
    assert!(store.kept().await.unwrap().is_empty());
    let sent = mailer.sent.lock().unwrap().clone();
    assert_eq!(sent[1].subject, "systrade: 3 kept alert(s)");
    assert!(sent[1].text.contains("--- alert 1 (critical test"));
    assert!(store
        .list(true)
        .await
        .unwrap()
        .iter()
        .all(|a| a.state == SendState::Sent && a.sent_at == Some(at(2))));
}

#[tokio::test]
async fn without_email_alerts_are_recorded_only() {
    let store = Arc::new(MemoryStore::default());
    let svc = AlertService {
        store: store.clone(),
        mailer: None,
    };
    let r = svc
        .raise(at(0), alert(Severity::Critical, "a"))
        .await
        .unwrap();
    assert_eq!(r.state, SendState::NotSent);
    assert_eq!(
        svc.send_now(at(0), &Message::default()).await,
        Err(AlertError::NotConfigured)
    );
}
