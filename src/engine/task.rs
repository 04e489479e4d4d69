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
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TaskError {
    pub message: String,
    pub retryable: bool,
}

impl TaskError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }
    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
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
