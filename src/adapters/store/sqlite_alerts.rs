//! [`AlertStore`] on the run store's SQLite file and pool: the `alerts` and `email_subjects`
//! tables of migration `20261207000011_alerts.sql`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::sqlite::{ts, SqliteRunStore};
use crate::domain::alerts::*;
use crate::engine::store::Aged;

fn db(e: sqlx::Error) -> AlertStoreError {
    AlertStoreError::Database {
        detail: e.to_string(),
    }
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> AlertStoreError {
    AlertStoreError::Corrupt {
        what: what.into(),
        detail: detail.to_string(),
    }
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, AlertStoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("timestamp", format!("`{s}`: {e}")))
}

fn opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>, AlertStoreError> {
    s.as_deref().map(parse_ts).transpose()
}

const COLUMNS: &str = "id, time, severity, kind, subject, body, instrument, run_id, node, state, \
                       sent_at, send_error, acknowledged_at";

fn from_row(r: &SqliteRow) -> Result<AlertRecord, AlertStoreError> {
    let severity: String = r.try_get("severity").map_err(db)?;
    let state: String = r.try_get("state").map_err(db)?;
    Ok(AlertRecord {
        id: r.try_get("id").map_err(db)?,
        time: parse_ts(&r.try_get::<String, _>("time").map_err(db)?)?,
        severity: Severity::parse(&severity).ok_or_else(|| corrupt("severity", &severity))?,
        kind: r.try_get("kind").map_err(db)?,
        subject: r.try_get("subject").map_err(db)?,
        body: r.try_get("body").map_err(db)?,
        context: AlertContext {
            instrument: r.try_get("instrument").map_err(db)?,
            run_id: r.try_get("run_id").map_err(db)?,
            node: r.try_get("node").map_err(db)?,
        },
        state: SendState::parse(&state).ok_or_else(|| corrupt("send state", &state))?,
        sent_at: opt_ts(r.try_get("sent_at").map_err(db)?)?,
        send_error: r.try_get("send_error").map_err(db)?,
        acknowledged_at: opt_ts(r.try_get("acknowledged_at").map_err(db)?)?,
    })
}

#[async_trait]
impl AlertStore for SqliteRunStore {
    async fn insert(
        &self,
        time: DateTime<Utc>,
        alert: &NewAlert,
        state: SendState,
    ) -> Result<i64, AlertStoreError> {
        let c = &alert.context;
        let row = sqlx::query(
            "INSERT INTO alerts (time, severity, kind, subject, body, instrument, run_id, node, \
             state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(ts(time))
        .bind(alert.severity.as_str())
        .bind(&alert.kind)
        .bind(&alert.subject)
        .bind(&alert.body)
        .bind(&c.instrument)
        .bind(c.run_id)
        .bind(&c.node)
        .bind(state.as_str())
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        row.try_get(0).map_err(db)
    }

    async fn set_state(
        &self,
        ids: &[i64],
        state: SendState,
        sent_at: Option<DateTime<Utc>>,
        error: Option<&str>,
    ) -> Result<(), AlertStoreError> {
        let mut tx = self.pool().begin().await.map_err(db)?;
        for id in ids {
            sqlx::query("UPDATE alerts SET state = ?, sent_at = ?, send_error = ? WHERE id = ?")
                .bind(state.as_str())
                .bind(sent_at.map(ts))
                .bind(error)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn list(&self, all: bool) -> Result<Vec<AlertRecord>, AlertStoreError> {
        let filter = if all {
            ""
        } else {
            "WHERE acknowledged_at IS NULL"
        };
        select_alerts(self, filter).await
    }

    async fn kept(&self) -> Result<Vec<AlertRecord>, AlertStoreError> {
        select_alerts(self, "WHERE state = 'kept'").await
    }

    async fn give_up_kept(
        &self,
        before: DateTime<Utc>,
        reason: &str,
        dry_run: bool,
    ) -> Result<Aged, AlertStoreError> {
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let (count, oldest, newest): (i64, Option<String>, Option<String>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(time), MAX(time) FROM alerts WHERE state = 'kept' AND time < ?",
        )
        .bind(ts(before))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if !dry_run && count > 0 {
            sqlx::query(
                "UPDATE alerts SET state = 'not_sent', send_error = ? || COALESCE(' (last error: ' \
                 || send_error || ')', '') WHERE state = 'kept' AND time < ?",
            )
            .bind(reason)
            .bind(ts(before))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(Aged {
            count: u64::try_from(count).unwrap_or(0),
            oldest: opt_ts(oldest)?,
            newest: opt_ts(newest)?,
        })
    }

    async fn exists(&self, kind: &str, subject: &str) -> Result<bool, AlertStoreError> {
        let row =
            sqlx::query("SELECT EXISTS (SELECT 1 FROM alerts WHERE kind = ? AND subject = ?)")
                .bind(kind)
                .bind(subject)
                .fetch_one(self.pool())
                .await
                .map_err(db)?;
        row.try_get(0).map_err(db)
    }

    async fn acknowledge(&self, id: i64, at: DateTime<Utc>) -> Result<bool, AlertStoreError> {
        let done = sqlx::query(
            "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ?",
        )
        .bind(ts(at))
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn subject_log(&self, subject: &str) -> Result<SubjectLog, AlertStoreError> {
        let row =
            sqlx::query("SELECT last_sent, warning_sent FROM email_subjects WHERE subject = ?")
                .bind(subject)
                .fetch_optional(self.pool())
                .await
                .map_err(db)?;
        let Some(r) = row else {
            return Ok(SubjectLog::default());
        };
        Ok(SubjectLog {
            last_sent: opt_ts(r.try_get("last_sent").map_err(db)?)?,
            warning_sent: opt_ts(r.try_get("warning_sent").map_err(db)?)?,
        })
    }

    async fn set_subject_log(&self, subject: &str, log: SubjectLog) -> Result<(), AlertStoreError> {
        sqlx::query(
            "INSERT INTO email_subjects (subject, last_sent, warning_sent) VALUES (?, ?, ?) \
             ON CONFLICT (subject) DO UPDATE SET last_sent = excluded.last_sent, \
             warning_sent = excluded.warning_sent",
        )
        .bind(subject)
        .bind(log.last_sent.map(ts))
        .bind(log.warning_sent.map(ts))
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }
}

/// The alerts matching `filter` (a fixed `WHERE` clause, or empty for all), oldest first.
async fn select_alerts(
    store: &SqliteRunStore,
    filter: &str,
) -> Result<Vec<AlertRecord>, AlertStoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM alerts {filter} ORDER BY id"
    ))
    .fetch_all(store.pool())
    .await
    .map_err(db)?
    .iter()
    .map(from_row)
    .collect()
}
