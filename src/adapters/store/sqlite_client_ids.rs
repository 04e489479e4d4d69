//! [`ClientIdLeases`] on the run store's SQLite file: table `broker_client_ids` from migration
//! `20261124000008_broker_client_ids.sql`. A lease is taken in one `BEGIN IMMEDIATE`
//! transaction (read the rows in the range, drop the dead ones, insert the lowest free id), so
//! two processes leasing at once get different ids.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::sqlite::{ts, SqliteRunStore};
use crate::domain::broker::{BrokerError, ClientIdLease, ClientIdLeases};
use crate::engine::process::{holder_is_dead, ProcessIdentity};
use crate::engine::store::LockHolder;

fn db(e: sqlx::Error) -> BrokerError {
    BrokerError::Other {
        code: None,
        detail: format!("client id store: {e}"),
    }
}

struct Row_ {
    client_id: i32,
    holder: LockHolder,
    purpose: String,
}

async fn rows(conn: &mut sqlx::SqliteConnection) -> Result<Vec<Row_>, BrokerError> {
    let rows = sqlx::query(
        "SELECT client_id, pid, pid_start, host, boot_id, purpose, acquired_at \
         FROM broker_client_ids ORDER BY client_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|r| {
            let acquired: String = r.try_get("acquired_at").map_err(db)?;
            Ok(Row_ {
                client_id: r.try_get("client_id").map_err(db)?,
                purpose: r.try_get("purpose").map_err(db)?,
                holder: LockHolder {
                    workflow: String::new(),
                    run_id: None,
                    pid: r.try_get("pid").map_err(db)?,
                    pid_start: r.try_get("pid_start").map_err(db)?,
                    host: r.try_get("host").map_err(db)?,
                    boot_id: r.try_get("boot_id").map_err(db)?,
                    acquired_at: DateTime::parse_from_rfc3339(&acquired)
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or_default(),
                },
            })
        })
        .collect()
}

#[async_trait]
impl ClientIdLeases for SqliteRunStore {
    async fn acquire(
        &self,
        first: i32,
        last: i32,
        skip: &[i32],
        purpose: &str,
    ) -> Result<i32, BrokerError> {
        let me = ProcessIdentity::current();
        let mut conn = self.pool().acquire().await.map_err(db)?;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        let outcome = async {
            let held = rows(&mut conn).await?;
            let mut taken = Vec::new();
            for row in &held {
                if holder_is_dead(&row.holder, &me) {
                    sqlx::query("DELETE FROM broker_client_ids WHERE client_id = ?")
                        .bind(row.client_id)
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                    tracing::info!(
                        client_id = row.client_id,
                        pid = row.holder.pid,
                        "reclaimed the client id of a process that is gone"
                    );
                } else {
                    taken.push(row.client_id);
                }
            }
            let Some(id) = (first..=last).find(|id| !taken.contains(id) && !skip.contains(id))
            else {
                return Err(BrokerError::Other {
                    code: None,
                    detail: format!(
                        "every client id in {first}..={last} is in use by a live process \
                         (see `systrade broker client-ids`); widen broker.client_id_first/last"
                    ),
                });
            };
            sqlx::query(
                "INSERT INTO broker_client_ids \
                 (client_id, pid, pid_start, host, boot_id, purpose, acquired_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(me.pid)
            .bind(me.pid_start)
            .bind(&me.host)
            .bind(&me.boot_id)
            .bind(purpose)
            .bind(ts(Utc::now()))
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            Ok(id)
        }
        .await;
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        sqlx::query(end).execute(&mut *conn).await.map_err(db)?;
        outcome
    }

    async fn release(&self, client_id: i32) -> Result<(), BrokerError> {
        let me = ProcessIdentity::current();
        sqlx::query("DELETE FROM broker_client_ids WHERE client_id = ? AND pid = ? AND host = ?")
            .bind(client_id)
            .bind(me.pid)
            .bind(&me.host)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn leases(&self) -> Result<Vec<ClientIdLease>, BrokerError> {
        let me = ProcessIdentity::current();
        let mut conn = self.pool().acquire().await.map_err(db)?;
        Ok(rows(&mut conn)
            .await?
            .into_iter()
            .map(|row| ClientIdLease {
                client_id: row.client_id,
                dead: holder_is_dead(&row.holder, &me),
                pid: row.holder.pid,
                host: row.holder.host,
                purpose: row.purpose,
                acquired_at: row.holder.acquired_at,
            })
            .collect())
    }

    async fn clear_dead(&self) -> Result<usize, BrokerError> {
        let dead: Vec<i32> = self
            .leases()
            .await?
            .into_iter()
            .filter(|l| l.dead)
            .map(|l| l.client_id)
            .collect();
        for id in &dead {
            sqlx::query("DELETE FROM broker_client_ids WHERE client_id = ?")
                .bind(id)
                .execute(self.pool())
                .await
                .map_err(db)?;
        }
        Ok(dead.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::store::sqlite::Durability;

    async fn store() -> (tempfile::TempDir, SqliteRunStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteRunStore::open(&dir.path().join("runs.sqlite"), Durability::Normal)
            .await
            .expect("open");
        (dir, store)
    }

    #[tokio::test]
    async fn leases_take_the_lowest_free_id_skip_refused_ones_and_release() {
        let (_dir, store) = store().await;
        assert_eq!(store.acquire(10, 12, &[], "a").await.expect("lease"), 10);
        assert_eq!(store.acquire(10, 12, &[], "b").await.expect("lease"), 11);
        assert_eq!(
            store
                .acquire(10, 12, &[12], "c")
                .await
                .map_err(|e| e.to_string())
                .err()
                .map(|e| e.contains("in use")),
            Some(true)
        );
        store.release(10).await.expect("release");
        assert_eq!(store.acquire(10, 12, &[], "d").await.expect("lease"), 10);
        let leases = store.leases().await.expect("list");
        assert_eq!(
            leases.iter().map(|l| l.client_id).collect::<Vec<_>>(),
            vec![10, 11]
        );
        assert!(leases.iter().all(|l| !l.dead), "this process is alive");
    }

    #[tokio::test]
    async fn the_ids_of_dead_processes_are_reclaimed() {
        let (_dir, store) = store().await;
        let me = ProcessIdentity::current();
        sqlx::query(
            "INSERT INTO broker_client_ids VALUES (20, 999999999, NULL, ?, ?, 'crashed', ?)",
        )
        .bind(&me.host)
        .bind(&me.boot_id)
        .bind(ts(Utc::now()))
        .execute(store.pool())
        .await
        .expect("insert");
        assert!(store.leases().await.expect("list")[0].dead);
        assert_eq!(store.acquire(20, 21, &[], "new").await.expect("lease"), 20);
        assert_eq!(store.clear_dead().await.expect("clear"), 0);
    }
}
