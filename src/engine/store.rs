//! The run store interface: runs, node states, attempts, log events, control states and
//! single-instance locks. The engine only sees this trait; `adapters::store::sqlite` implements it
//! (a PostgreSQL backend can be added beside it without touching the engine).

use std::fmt;
use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($text => Some($name::$variant),)+ _ => None } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

str_enum!(
    /// What started a run.
    Trigger { Schedule => "schedule", Manual => "manual", Rerun => "rerun" }
);
str_enum!(
    /// Overall state of a run.
    RunStatus { Running => "running", Succeeded => "succeeded", Failed => "failed", Cancelled => "cancelled", Crashed => "crashed" }
);
str_enum!(
    /// State of one node within a run.
    NodeState {
        Pending => "pending", Running => "running", Succeeded => "succeeded", Failed => "failed",
        Retrying => "retrying", Skipped => "skipped", UpstreamFailed => "upstream_failed",
        Cancelled => "cancelled", Crashed => "crashed",
    }
);
str_enum!(
    /// Process control per workflow (sysproduction's GO / STOP / NO-RUN).
    ControlState { Go => "go", Stop => "stop", NoRun => "no-run" }
);

impl NodeState {
    /// A node in this state will not change any more within its run.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            NodeState::Pending | NodeState::Running | NodeState::Retrying
        )
    }
    /// Downstream nodes may run after a node in this state.
    pub fn satisfies_downstream(self) -> bool {
        matches!(self, NodeState::Succeeded | NodeState::Skipped)
    }
}

/// The holder of a workflow's single-instance lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockHolder {
    pub workflow: String,
    pub run_id: Option<i64>,
    pub pid: i64,
    /// Process start time (clock ticks since boot, from /proc), to tell a reused PID.
    pub pid_start: Option<i64>,
    pub host: String,
    pub boot_id: Option<String>,
    pub acquired_at: DateTime<Utc>,
}

/// Initial record of one node in a new run.
#[derive(Debug, Clone)]
pub struct NewRunNode {
    pub node_id: String,
    pub task: String,
    pub state: NodeState,
    pub output: Option<Value>,
    pub reused_from: Option<i64>,
    pub message: Option<String>,
}

/// A run about to start.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub workflow: String,
    pub trigger: Trigger,
    pub parent_run_id: Option<i64>,
    pub definition_path: String,
    pub definition_hash: String,
    /// For partial runs (`trigger NODE`): which nodes and how.
    pub selection: Option<Value>,
    pub started_at: DateTime<Utc>,
    pub lock: LockHolder,
    pub nodes: Vec<NewRunNode>,
}

/// What `begin_run` found.
#[derive(Debug, Clone)]
pub enum BeginRun {
    Started {
        run_id: i64,
        /// Runs whose dead holder's lock was taken over and which were marked crashed.
        crashed: Vec<i64>,
    },
    AlreadyRunning(LockHolder),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: i64,
    pub workflow: String,
    pub trigger: Trigger,
    pub parent_run_id: Option<i64>,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pid: i64,
    pub host: String,
    pub definition_path: String,
    pub definition_hash: String,
    pub selection: Option<Value>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRecord {
    pub run_id: i64,
    pub node_id: String,
    pub task: String,
    pub state: NodeState,
    pub executions: u32,
    pub attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// Set when a rerun reused this node's output from an earlier run.
    pub reused_from: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub id: i64,
    pub run_id: i64,
    pub node_id: String,
    pub execution: u32,
    pub attempt: u32,
    pub status: NodeState,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub output: Option<Value>,
}

/// A change to a node's summary row, written with attempt records.
#[derive(Debug, Clone)]
pub struct NodeUpdate {
    pub state: NodeState,
    pub executions: u32,
    pub attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub output: Option<Value>,
    pub error: Option<String>,
}

/// The start or end of one attempt, keyed by (run, node, execution, attempt).
#[derive(Debug, Clone)]
pub struct AttemptChange {
    pub execution: u32,
    pub attempt: u32,
    /// `running` when it starts; its outcome when it ends.
    pub status: NodeState,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub output: Option<Value>,
}

/// A node's new summary state, with the attempt it starts or ends, if any.
#[derive(Debug, Clone)]
pub struct NodeChange {
    pub node_id: String,
    pub node: NodeUpdate,
    pub attempt: Option<AttemptChange>,
}

/// A structured log event from tracing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEvent {
    pub run_id: Option<i64>,
    pub node_id: Option<String>,
    pub ts: DateTime<Utc>,
    pub level: String,
    pub target: String,
    pub message: String,
    pub fields: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogRecord {
    pub id: i64,
    #[serde(flatten)]
    pub event: LogEvent,
}

#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub run_id: Option<i64>,
    pub node_id: Option<String>,
    /// Minimum level: error > warn > info > debug > trace.
    pub min_level: Option<String>,
    pub after_id: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlRecord {
    pub workflow: String,
    pub state: ControlState,
    pub updated_at: DateTime<Utc>,
}

/// What a cleaner found older than its cutoff: how many, and the oldest and newest time among
/// them (`None` when there were none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Aged {
    pub count: u64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

/// Decides whether a lock holder is gone (see `process::holder_is_dead`).
pub type IsDead = dyn for<'h> Fn(&'h LockHolder) -> bool + Send + Sync;

/// Errors of any run store backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("run store database error: {0}")]
    Database(String),
    #[error("run store migration failed: {0}")]
    Migration(String),
    #[error("run {0} not found")]
    RunNotFound(i64),
    #[error("corrupt value in run store ({what}): {detail}")]
    Corrupt { what: String, detail: String },
}

/// Persistence for everything the engine records.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Atomically takes the workflow's lock (taking over a lock whose holder `is_dead`, and marking
    /// that run crashed), creates the run and its node rows.
    async fn begin_run(&self, run: NewRun, is_dead: &IsDead) -> Result<BeginRun, StoreError>;
    /// Writes node changes (and the attempt starts and ends they carry) in one transaction.
    async fn record(&self, run_id: i64, changes: &[NodeChange]) -> Result<(), StoreError>;
    /// Marks the run finished and releases its lock.
    async fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        message: Option<&str>,
    ) -> Result<(), StoreError>;
    async fn append_logs(&self, events: &[LogEvent]) -> Result<(), StoreError>;

    async fn get_run(&self, run_id: i64) -> Result<Option<RunRecord>, StoreError>;
    async fn list_runs(
        &self,
        workflow: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RunRecord>, StoreError>;
    async fn run_nodes(&self, run_id: i64) -> Result<Vec<NodeRecord>, StoreError>;
    async fn attempts(&self, run_id: i64) -> Result<Vec<AttemptRecord>, StoreError>;
    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>, StoreError>;
    /// The latest successful output of a node in any run of the workflow.
    async fn latest_output(
        &self,
        workflow: &str,
        node_id: &str,
    ) -> Result<Option<(i64, Value)>, StoreError>;
    /// The most recent run of a workflow that started with one of `triggers`.
    async fn last_run(
        &self,
        workflow: &str,
        triggers: &[Trigger],
    ) -> Result<Option<RunRecord>, StoreError>;
    /// The most recent run of a workflow that finished with `succeeded`.
    async fn last_success(&self, workflow: &str) -> Result<Option<RunRecord>, StoreError>;

    async fn control_state(&self, workflow: &str) -> Result<ControlState, StoreError>;
    async fn set_control_state(
        &self,
        workflow: &str,
        state: ControlState,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn control_states(&self) -> Result<Vec<ControlRecord>, StoreError>;

    async fn locks(&self) -> Result<Vec<LockHolder>, StoreError>;
    /// Takes a named lock not tied to a run (the scheduler's). Returns the live holder if held.
    async fn acquire_lock(
        &self,
        lock: &LockHolder,
        is_dead: &IsDead,
    ) -> Result<Option<LockHolder>, StoreError>;
    async fn release_lock(&self, workflow: &str, pid: i64) -> Result<(), StoreError>;
    /// Releases a dead holder's lock and marks its run and unfinished nodes crashed.
    async fn mark_crashed(
        &self,
        lock: &LockHolder,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError>;
    /// Runs marked running that hold no lock (their runner died without one): marked crashed.
    async fn crash_orphan_runs(&self, at: DateTime<Utc>) -> Result<Vec<i64>, StoreError>;

    /// A consistent copy of the whole store at `path` (which must not exist).
    async fn backup_to(&self, path: &Path) -> Result<(), StoreError>;
    /// Log events older than `before`: deleted, or with `dry_run` only counted.
    async fn prune_logs(&self, before: DateTime<Utc>, dry_run: bool) -> Result<Aged, StoreError>;
    /// The attempts of runs that finished before `before` (never of a running run): deleted,
    /// or with `dry_run` only counted. Runs and their node rows are kept.
    async fn prune_attempts(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Aged, StoreError>;
}
