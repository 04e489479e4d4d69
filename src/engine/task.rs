//! The task interface: a [`TaskKind`] parses a node's params into a runnable [`Task`]. The engine
//! is generic over the application context `C`, so it never sees what the tasks do.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::store::RunStore;

/// Params as merged for one node: task defaults overridden by the node's `params`.
pub type Params = Map<String, Value>;

/// Everything a running task may use.
pub struct TaskContext<C> {
    pub run_id: i64,
    pub workflow: String,
    pub node_id: String,
    /// 1-based attempt number within the current execution (retries increase it).
    pub attempt: u32,
    /// 1-based execution number (repeating nodes run several times).
    pub execution: u32,
    /// Latest outputs of the node's direct upstreams, by node id.
    pub inputs: BTreeMap<String, Value>,
    pub app: Arc<C>,
    pub env: Arc<EngineEnv>,
    /// Set when the run winds down (STOP, the schedule window closing, Ctrl-C): a long task
    /// stops at its next safe point and returns [`TaskError::stopped`].
    pub stop: StopSignal,
}

/// Asks a running task to stop: the executor sets it, tasks look at it between units of work
/// (passes, instruments) and wait on it instead of sleeping. Nodes that run on the way out
/// (`on_completion_only`) get one that is never set.
#[derive(Clone, Debug)]
pub struct StopSignal {
    rx: tokio::sync::watch::Receiver<Option<String>>,
}

/// The executor's side of a [`StopSignal`].
#[derive(Debug)]
pub struct StopTrigger {
    tx: tokio::sync::watch::Sender<Option<String>>,
}

impl StopTrigger {
    /// Asks every task holding a signal of this trigger to stop, saying why.
    pub fn request(&self, reason: &str) {
        self.tx.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason.to_string());
                true
            } else {
                false
            }
        });
    }
}

impl StopSignal {
    pub fn channel() -> (StopTrigger, StopSignal) {
        let (tx, rx) = tokio::sync::watch::channel(None);
        (StopTrigger { tx }, StopSignal { rx })
    }

    /// A signal that is never set (on-completion nodes, direct calls, tests).
    pub fn never() -> StopSignal {
        // The sender is dropped at once: `changed` then never resolves with a value.
        StopSignal::channel().1
    }

    /// Why the task was asked to stop, if it was.
    pub fn reason(&self) -> Option<String> {
        self.rx.borrow().clone()
    }

    pub fn is_requested(&self) -> bool {
        self.rx.borrow().is_some()
    }

    /// Resolves once a stop is requested (never, for [`StopSignal::never`]).
    pub async fn requested(&self) -> String {
        let mut rx = self.rx.clone();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Sleeps for `d` unless a stop is requested first: `Err(reason)` then.
    pub async fn sleep(&self, d: std::time::Duration) -> Result<(), String> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            reason = self.requested() => Err(reason),
        }
    }

    /// `Err(TaskError::stopped)` if a stop was requested: for a task's checks between units.
    pub fn check(&self, what_is_left: &str) -> Result<(), TaskError> {
        match self.reason() {
            Some(reason) => Err(TaskError::stopped(format!("{reason}; {what_is_left}"))),
            None => Ok(()),
        }
    }
}

/// Engine-level facts shared by all tasks of a process.
pub struct EngineEnv {
    pub home: PathBuf,
    pub store: Arc<dyn RunStore>,
    /// The program used to wrap external commands so that they die with the runner
    /// (`systrade __guard`); `None` runs commands directly (unit tests).
    pub guard_exe: Option<PathBuf>,
    pub host: String,
}

/// Why an attempt failed, and whether trying again may help.
///
/// Transient failures (a network error, a busy broker, a lock held) are `retryable`; permanent
/// ones (corrupt or missing data, bad config, refused input) are `fatal` and fail the node at
/// once, their message saying how to fix it. A task that honoured a stop request returns
/// `stopped`: the node is recorded `cancelled`, not failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TaskError {
    pub message: String,
    pub retryable: bool,
    pub stopped: bool,
}

/// Words in an error that mean a stored file is damaged, whatever the task thought: retrying
/// cannot help, so such an error is permanent (SQLite's "database disk image is malformed" and
/// "file is not a database").
const DAMAGE: [&str; 2] = ["database disk image is malformed", "file is not a database"];

/// What to do about a damaged database file.
pub const DAMAGE_REPAIR: &str = "the database file is damaged: restore the newest backup \
    (`systrade backup list`; `systrade restore BACKUP --home NEW` to look at it, then \
    `systrade restore BACKUP --replace` with no systrade process running), or move it aside and \
    run `systrade init`";

impl TaskError {
    /// A transient error, retried with backoff — unless its message says a database file is
    /// damaged: then it is permanent and carries the repair.
    pub fn retryable(message: impl Into<String>) -> Self {
        let message = message.into();
        if DAMAGE.iter().any(|d| message.contains(d)) {
            let message = if message.contains(DAMAGE_REPAIR) {
                message
            } else {
                format!("{message}; {DAMAGE_REPAIR}")
            };
            return Self::fatal(message);
        }
        Self {
            message,
            retryable: true,
            stopped: false,
        }
    }
    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
            stopped: false,
        }
    }
    /// The task stopped early because a stop was requested (see [`StopSignal`]).
    pub fn stopped(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
            stopped: true,
        }
    }
}

/// A runnable node: built once per run from its params.
#[async_trait]
pub trait Task<C>: Send + Sync {
    async fn run(&self, ctx: &TaskContext<C>) -> Result<Value, TaskError>;
}

/// A kind of task implemented in Rust. One unit struct per kind, listed in `src/tasks/mod.rs`.
pub trait TaskKind<C>: Send + Sync {
    /// The `handler = "..."` name used in `tasks/*.toml`.
    fn name(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    /// Parses params (unknown keys are errors) into a runnable task.
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<C>>, Vec<String>>;
}

/// The Rust task kinds available to an application.
pub struct Registry<C: 'static> {
    kinds: Vec<&'static dyn TaskKind<C>>,
}

impl<C: 'static> Registry<C> {
    pub fn new(kinds: &[&'static dyn TaskKind<C>]) -> Self {
        Self {
            kinds: kinds.to_vec(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&'static dyn TaskKind<C>> {
        self.kinds.iter().copied().find(|k| k.name() == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.iter().map(|k| k.name())
    }

    pub fn kinds(&self) -> &[&'static dyn TaskKind<C>] {
        &self.kinds
    }
}

/// Deserializes params into a `deny_unknown_fields` struct, turning serde's error into a message.
pub fn parse_params<T: serde::de::DeserializeOwned>(params: &Params) -> Result<T, Vec<String>> {
    serde_json::from_value(Value::Object(params.clone())).map_err(|e| vec![format!("params: {e}")])
}

/// The warnings a task's output carries: its `"warnings"` array of sentences (a task that
/// succeeded with something the operator must see, e.g. one instrument of many that failed).
/// The executor logs them at warn level; the run summary and `systrade show` list them.
pub fn output_warnings(output: &Value) -> Vec<String> {
    output
        .get("warnings")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|w| w.as_str().map_or_else(|| w.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod damage_tests {
    use super::*;

    #[test]
    fn a_damaged_database_is_never_retried_and_says_how_to_repair() {
        let e = TaskError::retryable("order store: database disk image is malformed");
        assert!(!e.retryable);
        assert!(
            e.message.contains("systrade restore BACKUP --replace"),
            "{}",
            e.message
        );
        let busy = TaskError::retryable("order store: database is locked");
        assert!(busy.retryable);
    }
}
