//! The SQLite run store: one file `<home>/systrade.db` in WAL mode, schema by sqlx migrations.
//! Several processes (runners, the scheduler, `systrade status`) share it; lock changes run in
//! `BEGIN IMMEDIATE` transactions so two runners can never both take a workflow's lock.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use crate::engine::store::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The versions of the migrations this binary applies.
pub(super) fn migrator_versions() -> impl Iterator<Item = i64> {
    MIGRATOR.iter().map(|m| m.version)
}

/// Durability of commits: `normal` survives any process crash (the failure the engine is
/// designed for); `full` also survives power loss at the cost of an fsync per commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Normal,
    Full,
}

pub struct SqliteRunStore {
    pool: SqlitePool,
    /// The connection the order store's transactions run on, kept out of the pool so a
    /// transaction costs no checkout and no ping on its return (see `sqlite_orders`).
    pub(super) order_conn: tokio::sync::Mutex<Option<SqliteConnection>>,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// UTC time as stored: RFC 3339 with microseconds and `Z`, so text order is time order.
pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            what: "timestamp".into(),
            detail: format!("`{s}`: {e}"),
        })
}

fn opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.map(|s| parse_ts(&s)).transpose()
}

fn json(v: Option<&Value>) -> Option<String> {
    v.map(Value::to_string)
}

fn parse_json(s: Option<String>) -> Result<Option<Value>, StoreError> {
    s.map(|s| {
        serde_json::from_str(&s).map_err(|e| StoreError::Corrupt {
            what: "json".into(),
            detail: e.to_string(),
        })
    })
    .transpose()
}

fn parse_enum<T>(s: &str, what: &str, f: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    f(s).ok_or_else(|| StoreError::Corrupt {
        what: what.into(),
        detail: format!("unknown value `{s}`"),
    })
}

/// The versions of the migrations this binary knows (the store's schema), oldest first.
pub fn known_migrations() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}

/// Options that only read `path`: no file is created, no journal mode set, nothing migrated.
/// With `immutable` SQLite reads the file as it is, without the -shm and -wal files a WAL
/// reader otherwise creates: right only when no process has the store open (no -wal beside it).
pub fn read_only_options(
    path: &Path,
    immutable: bool,
) -> Result<SqliteConnectOptions, sqlx::Error> {
    Ok(
        SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .read_only(true)
            .immutable(immutable)
            .create_if_missing(false)
            .busy_timeout(Duration::from_secs(5)),
    )
}

/// Whether no process has the store at `path` open: no `-wal` file beside it (SQLite deletes
/// it when the last connection closes).
pub fn is_quiescent(path: &Path) -> bool {
    !Path::new(&format!("{}-wal", path.display())).exists()
}

impl SqliteRunStore {
    /// Opens an existing store for reading only (`systrade doctor`): no migrations, nothing
    /// created or changed in the home; read as an immutable file when no process has it open.
    pub async fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let options = read_only_options(path, is_quiescent(path)).map_err(db)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db)?;
        Ok(Self {
            pool,
            order_conn: Default::default(),
        })
    }

    /// SQLite's `PRAGMA integrity_check`: the problems it lists (none when the file is whole).
    pub async fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(r,)| r)
            .filter(|r| r != "ok")
            .collect())
    }

    /// The versions of the migrations applied to this store, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        Ok(rows.into_iter().map(|(v,)| v).collect())
    }

    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(db)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            })
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        // No ping before each checkout: a SQLite connection is a local file handle, and the
        // ping is a round trip to its thread on every use (a broken connection fails its
        // statement instead, which callers see as a retryable database error).
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(db)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(Self {
            pool,
            order_conn: Default::default(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        if let Some(conn) = self.order_conn.lock().await.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
        self.pool.close().await;
    }

    async fn lock_holder(
        conn: &mut SqliteConnection,
        name: &str,
    ) -> Result<Option<LockHolder>, StoreError> {
        let row = sqlx::query("SELECT * FROM locks WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
        row.map(|r| lock_from_row(&r)).transpose()
    }

    async fn crash_run_in(
        conn: &mut SqliteConnection,
        holder: &LockHolder,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query("DELETE FROM locks WHERE name = ?")
            .bind(&holder.workflow)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        let Some(run_id) = holder.run_id else {
            return Ok(None);
        };
        crash_run_rows(
            conn,
            run_id,
            at,
            &format!("runner pid {} on {} died", holder.pid, holder.host),
        )
        .await?;
        Ok(Some(run_id))
    }
}

async fn crash_run_rows(
    conn: &mut SqliteConnection,
    run_id: i64,
    at: DateTime<Utc>,
    why: &str,
) -> Result<(), StoreError> {
    let at = ts(at);
    sqlx::query("UPDATE runs SET status = 'crashed', finished_at = ?, message = ? WHERE id = ? AND status = 'running'")
        .bind(&at)
        .bind(why)
        .bind(run_id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query("UPDATE run_nodes SET state = 'crashed', finished_at = ?, error = ? WHERE run_id = ? AND state IN ('running', 'retrying')")
        .bind(&at)
        .bind(why)
        .bind(run_id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query(
        "UPDATE run_nodes SET state = 'cancelled', finished_at = ?, error = 'not started: the run crashed' \
         WHERE run_id = ? AND state = 'pending'",
    )
    .bind(&at)
    .bind(run_id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query("UPDATE node_attempts SET status = 'crashed', finished_at = ?, error = ? WHERE run_id = ? AND status = 'running'")
        .bind(&at)
        .bind(why)
        .bind(run_id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

fn lock_from_row(r: &SqliteRow) -> Result<LockHolder, StoreError> {
    Ok(LockHolder {
        workflow: r.try_get("name").map_err(db)?,
        run_id: r.try_get("run_id").map_err(db)?,
        pid: r.try_get("pid").map_err(db)?,
        pid_start: r.try_get("pid_start").map_err(db)?,
        host: r.try_get("host").map_err(db)?,
        boot_id: r.try_get("boot_id").map_err(db)?,
        acquired_at: parse_ts(&r.try_get::<String, _>("acquired_at").map_err(db)?)?,
    })
}

fn run_from_row(r: &SqliteRow) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: r.try_get("id").map_err(db)?,
        workflow: r.try_get("workflow").map_err(db)?,
        trigger: parse_enum(
            &r.try_get::<String, _>("trigger").map_err(db)?,
            "trigger",
            Trigger::parse,
        )?,
        parent_run_id: r.try_get("parent_run_id").map_err(db)?,
        status: parse_enum(
            &r.try_get::<String, _>("status").map_err(db)?,
            "run status",
            RunStatus::parse,
        )?,
        started_at: parse_ts(&r.try_get::<String, _>("started_at").map_err(db)?)?,
        finished_at: opt_ts(r.try_get("finished_at").map_err(db)?)?,
        pid: r.try_get("pid").map_err(db)?,
        host: r.try_get("host").map_err(db)?,
        definition_path: r.try_get("definition_path").map_err(db)?,
        definition_hash: r.try_get("definition_hash").map_err(db)?,
        selection: parse_json(r.try_get("selection").map_err(db)?)?,
        message: r.try_get("message").map_err(db)?,
    })
}

fn node_from_row(r: &SqliteRow) -> Result<NodeRecord, StoreError> {
    Ok(NodeRecord {
        run_id: r.try_get("run_id").map_err(db)?,
        node_id: r.try_get("node_id").map_err(db)?,
        task: r.try_get("task").map_err(db)?,
        state: parse_enum(
            &r.try_get::<String, _>("state").map_err(db)?,
            "node state",
            NodeState::parse,
        )?,
        executions: r.try_get::<i64, _>("executions").map_err(db)? as u32,
        attempts: r.try_get::<i64, _>("attempts").map_err(db)? as u32,
        started_at: opt_ts(r.try_get("started_at").map_err(db)?)?,
        finished_at: opt_ts(r.try_get("finished_at").map_err(db)?)?,
        output: parse_json(r.try_get("output").map_err(db)?)?,
        error: r.try_get("error").map_err(db)?,
        reused_from: r.try_get("reused_from").map_err(db)?,
    })
}

#[async_trait]
impl RunStore for SqliteRunStore {
    async fn begin_run(&self, run: NewRun, is_dead: &IsDead) -> Result<BeginRun, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let mut crashed = Vec::new();
        if let Some(holder) = Self::lock_holder(&mut tx, &run.workflow).await? {
            if !is_dead(&holder) {
                tx.rollback().await.map_err(db)?;
                return Ok(BeginRun::AlreadyRunning(holder));
            }
            crashed.extend(Self::crash_run_in(&mut tx, &holder, run.started_at).await?);
        }
        let started = ts(run.started_at);
        let run_id: i64 = sqlx::query(
            "INSERT INTO runs (workflow, trigger, parent_run_id, status, started_at, pid, host, definition_path, definition_hash, selection)
             VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&run.workflow)
        .bind(run.trigger.as_str())
        .bind(run.parent_run_id)
        .bind(&started)
        .bind(run.lock.pid)
        .bind(&run.lock.host)
        .bind(&run.definition_path)
        .bind(&run.definition_hash)
        .bind(json(run.selection.as_ref()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
        sqlx::query("INSERT INTO locks (name, run_id, pid, pid_start, host, boot_id, acquired_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(&run.workflow)
            .bind(run_id)
            .bind(run.lock.pid)
            .bind(run.lock.pid_start)
            .bind(&run.lock.host)
            .bind(&run.lock.boot_id)
            .bind(ts(run.lock.acquired_at))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for n in &run.nodes {
            let finished = n.state.is_final().then(|| started.clone());
            sqlx::query("INSERT INTO run_nodes (run_id, node_id, task, state, finished_at, output, error, reused_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(run_id)
                .bind(&n.node_id)
                .bind(&n.task)
                .bind(n.state.as_str())
                .bind(finished)
                .bind(json(n.output.as_ref()))
                .bind(n.message.as_deref())
                .bind(n.reused_from)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(BeginRun::Started { run_id, crashed })
    }

    async fn record(&self, run_id: i64, changes: &[NodeChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        // Rows per statement: well under SQLite's limit on bound variables.
        const ROWS: usize = 200;
        let attempts: Vec<(&str, &AttemptChange)> = changes
            .iter()
            .filter_map(|c| c.attempt.as_ref().map(|a| (c.node_id.as_str(), a)))
            .collect();
        // A node may change several times in one batch: its last state is the one to keep.
        let mut latest: Vec<&NodeChange> = Vec::with_capacity(changes.len());
        for c in changes.iter().rev() {
            if !latest.iter().any(|l| l.node_id == c.node_id) {
                latest.push(c);
            }
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        for chunk in attempts.chunks(ROWS) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO node_attempts (run_id, node_id, execution, attempt, status, started_at, finished_at, error, output) ",
            );
            q.push_values(chunk, |mut row, (node_id, a)| {
                row.push_bind(run_id)
                    .push_bind(*node_id)
                    .push_bind(a.execution as i64)
                    .push_bind(a.attempt as i64)
                    .push_bind(a.status.as_str())
                    .push_bind(ts(a.started_at))
                    .push_bind(a.finished_at.map(ts))
                    .push_bind(a.error.clone())
                    .push_bind(json(a.output.as_ref()));
            });
            q.push(
                " ON CONFLICT (run_id, node_id, execution, attempt) DO UPDATE SET status = excluded.status, \
                 finished_at = excluded.finished_at, error = excluded.error, output = excluded.output",
            );
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        for chunk in latest.chunks(ROWS) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "UPDATE run_nodes SET state = v.column2, executions = v.column3, attempts = v.column4, \
                 started_at = v.column5, finished_at = v.column6, output = v.column7, error = v.column8 FROM (",
            );
            q.push_values(chunk, |mut row, c| {
                let n = &c.node;
                row.push_bind(c.node_id.as_str())
                    .push_bind(n.state.as_str())
                    .push_bind(n.executions as i64)
                    .push_bind(n.attempts as i64)
                    .push_bind(n.started_at.map(ts))
                    .push_bind(n.finished_at.map(ts))
                    .push_bind(json(n.output.as_ref()))
                    .push_bind(n.error.clone());
            });
            q.push(") AS v WHERE run_nodes.run_id = ");
            q.push_bind(run_id);
            q.push(" AND run_nodes.node_id = v.column1");
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        sqlx::query("UPDATE runs SET status = ?, finished_at = ?, message = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(ts(at))
            .bind(message)
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM locks WHERE run_id = ?")
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn append_logs(&self, events: &[LogEvent]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for e in events {
            sqlx::query("INSERT INTO log_events (run_id, node_id, ts, level, target, message, fields) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(e.run_id)
                .bind(e.node_id.as_deref())
                .bind(ts(e.ts))
                .bind(&e.level)
                .bind(&e.target)
                .bind(&e.message)
                .bind(json(e.fields.as_ref()))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn get_run(&self, run_id: i64) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = ?")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| run_from_row(&r)).transpose()
    }

    async fn list_runs(
        &self,
        workflow: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM runs WHERE (?1 IS NULL OR workflow = ?1) ORDER BY id DESC LIMIT ?2",
        )
        .bind(workflow)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(run_from_row).collect()
    }

    async fn run_nodes(&self, run_id: i64) -> Result<Vec<NodeRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM run_nodes WHERE run_id = ? ORDER BY rowid")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(node_from_row).collect()
    }

    async fn attempts(&self, run_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM node_attempts WHERE run_id = ? ORDER BY id")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRecord {
                    id: r.try_get("id").map_err(db)?,
                    run_id: r.try_get("run_id").map_err(db)?,
                    node_id: r.try_get("node_id").map_err(db)?,
                    execution: r.try_get::<i64, _>("execution").map_err(db)? as u32,
                    attempt: r.try_get::<i64, _>("attempt").map_err(db)? as u32,
                    status: parse_enum(
                        &r.try_get::<String, _>("status").map_err(db)?,
                        "attempt status",
                        NodeState::parse,
                    )?,
                    started_at: parse_ts(&r.try_get::<String, _>("started_at").map_err(db)?)?,
                    finished_at: opt_ts(r.try_get("finished_at").map_err(db)?)?,
                    error: r.try_get("error").map_err(db)?,
                    output: parse_json(r.try_get("output").map_err(db)?)?,
                })
            })
            .collect()
    }

    async fn logs(&self, q: &LogQuery) -> Result<Vec<LogRecord>, StoreError> {
        const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];
        let min = q
            .min_level
            .as_deref()
            .and_then(|l| LEVELS.iter().position(|x| *x == l))
            .unwrap_or(0);
        let allowed: Vec<&str> = LEVELS[min..].to_vec();
        let rows = sqlx::query(
            "SELECT * FROM log_events WHERE (?1 IS NULL OR run_id = ?1) AND (?2 IS NULL OR node_id = ?2) AND id > ?3
             AND level IN (SELECT value FROM json_each(?4)) ORDER BY id LIMIT ?5",
        )
        .bind(q.run_id)
        .bind(q.node_id.as_deref())
        .bind(q.after_id.unwrap_or(0))
        .bind(serde_json::to_string(&allowed).unwrap_or_else(|_| "[]".into()))
        .bind(q.limit.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(LogRecord {
                    id: r.try_get("id").map_err(db)?,
                    event: LogEvent {
                        run_id: r.try_get("run_id").map_err(db)?,
                        node_id: r.try_get("node_id").map_err(db)?,
                        ts: parse_ts(&r.try_get::<String, _>("ts").map_err(db)?)?,
                        level: r.try_get("level").map_err(db)?,
                        target: r.try_get("target").map_err(db)?,
                        message: r.try_get("message").map_err(db)?,
                        fields: parse_json(r.try_get("fields").map_err(db)?)?,
                    },
                })
            })
            .collect()
    }

    async fn latest_output(
        &self,
        workflow: &str,
        node_id: &str,
    ) -> Result<Option<(i64, Value)>, StoreError> {
        let row = sqlx::query(
            "SELECT n.run_id, n.output FROM run_nodes n JOIN runs r ON r.id = n.run_id
             WHERE r.workflow = ? AND n.node_id = ? AND n.state = 'succeeded' AND n.output IS NOT NULL
             ORDER BY n.finished_at DESC, n.run_id DESC LIMIT 1",
        )
        .bind(workflow)
        .bind(node_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            None => Ok(None),
            Some(r) => {
                let run_id: i64 = r.try_get(0).map_err(db)?;
                Ok(parse_json(r.try_get(1).map_err(db)?)?.map(|v| (run_id, v)))
            }
        }
    }

    async fn last_run(
        &self,
        workflow: &str,
        triggers: &[Trigger],
    ) -> Result<Option<RunRecord>, StoreError> {
        let list: Vec<&str> = triggers.iter().map(|t| t.as_str()).collect();
        let row = sqlx::query("SELECT * FROM runs WHERE workflow = ? AND trigger IN (SELECT value FROM json_each(?)) ORDER BY started_at DESC, id DESC LIMIT 1")
            .bind(workflow)
            .bind(serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()))
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| run_from_row(&r)).transpose()
    }

    async fn last_success(&self, workflow: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM runs WHERE workflow = ? AND status = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1")
            .bind(workflow)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| run_from_row(&r)).transpose()
    }

    async fn control_state(&self, workflow: &str) -> Result<ControlState, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT state FROM control WHERE workflow = ?")
            .bind(workflow)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match row {
            None => Ok(ControlState::Go),
            Some((s,)) => parse_enum(&s, "control state", ControlState::parse),
        }
    }

    async fn set_control_state(
        &self,
        workflow: &str,
        state: ControlState,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO control (workflow, state, updated_at) VALUES (?, ?, ?) ON CONFLICT(workflow) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at")
            .bind(workflow)
            .bind(state.as_str())
            .bind(ts(at))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn control_states(&self) -> Result<Vec<ControlRecord>, StoreError> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT workflow, state, updated_at FROM control ORDER BY workflow")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.into_iter()
            .map(|(workflow, state, at)| {
                Ok(ControlRecord {
                    workflow,
                    state: parse_enum(&state, "control state", ControlState::parse)?,
                    updated_at: parse_ts(&at)?,
                })
            })
            .collect()
    }

    async fn locks(&self) -> Result<Vec<LockHolder>, StoreError> {
        let rows = sqlx::query("SELECT * FROM locks ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(lock_from_row).collect()
    }

    async fn acquire_lock(
        &self,
        lock: &LockHolder,
        is_dead: &IsDead,
    ) -> Result<Option<LockHolder>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        if let Some(holder) = Self::lock_holder(&mut tx, &lock.workflow).await? {
            if !is_dead(&holder) {
                tx.rollback().await.map_err(db)?;
                return Ok(Some(holder));
            }
            Self::crash_run_in(&mut tx, &holder, lock.acquired_at).await?;
        }
        sqlx::query("INSERT INTO locks (name, run_id, pid, pid_start, host, boot_id, acquired_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(&lock.workflow)
            .bind(lock.run_id)
            .bind(lock.pid)
            .bind(lock.pid_start)
            .bind(&lock.host)
            .bind(&lock.boot_id)
            .bind(ts(lock.acquired_at))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(None)
    }

    async fn release_lock(&self, name: &str, pid: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM locks WHERE name = ? AND pid = ?")
            .bind(name)
            .bind(pid)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn mark_crashed(
        &self,
        lock: &LockHolder,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        // Re-read inside the transaction: the holder may have finished meanwhile.
        let current = Self::lock_holder(&mut tx, &lock.workflow).await?;
        let result = match current {
            Some(h) if h.pid == lock.pid && h.run_id == lock.run_id => {
                Self::crash_run_in(&mut tx, &h, at).await?
            }
            _ => None,
        };
        tx.commit().await.map_err(db)?;
        Ok(result)
    }

    async fn crash_orphan_runs(&self, at: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM runs WHERE status = 'running' AND id NOT IN (SELECT run_id FROM locks WHERE run_id IS NOT NULL)")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        for (id,) in &ids {
            crash_run_rows(&mut tx, *id, at, "runner gone (no lock held)").await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(ids.into_iter().map(|(i,)| i).collect())
    }

    async fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        sqlx::query("VACUUM INTO ?")
            .bind(path.display().to_string())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn prune_logs(&self, before: DateTime<Utc>, dry_run: bool) -> Result<Aged, StoreError> {
        self.prune_where("log_events", "ts", "ts < ?", before, dry_run)
            .await
    }

    async fn prune_attempts(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Aged, StoreError> {
        // Finished runs only: a running run (or one whose runner died and is not yet marked
        // crashed) has no finished_at.
        self.prune_where(
            "node_attempts",
            "started_at",
            "run_id IN (SELECT id FROM runs WHERE status <> 'running' \
             AND finished_at IS NOT NULL AND finished_at < ?)",
            before,
            dry_run,
        )
        .await
    }
}

impl SqliteRunStore {
    /// Counts the rows of `table` matching `filter` (one `?`, bound to `before`) with the
    /// oldest and newest `time_column`, and deletes them unless `dry_run`, in one transaction.
    async fn prune_where(
        &self,
        table: &str,
        time_column: &str,
        filter: &str,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Aged, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let (count, oldest, newest): (i64, Option<String>, Option<String>) = sqlx::query_as(
            &format!(
                "SELECT COUNT(*), MIN({time_column}), MAX({time_column}) FROM {table} WHERE {filter}"
            ),
        )
        .bind(ts(before))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if !dry_run && count > 0 {
            sqlx::query(&format!("DELETE FROM {table} WHERE {filter}"))
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
}
