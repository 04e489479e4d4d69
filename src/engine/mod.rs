//! The workflow engine: workflow files, the task catalogue, validation, the DAG, the executor,
//! scheduling decisions and the run store interface. It knows nothing of trading: tasks are
//! plugged in through [`task::TaskKind`] and the application context `C`.
//!
//! Data flow: `spec` (TOML → [`spec::WorkflowSpec`]) + `catalogue` + a [`task::Registry`] →
//! `plan` ([`plan::Plan`], validated graph and built tasks) → `executor` (runs it, recording
//! every change through [`store::RunStore`]).

pub mod catalogue;
pub mod clock;
pub mod diagnostic;
pub mod duration;
pub mod executor;
pub mod external;
pub mod logsink;
pub mod plan;
pub mod process;
pub mod render;
pub mod schedule;
pub mod secrets;
pub mod spec;
mod spec_check;
pub mod store;
pub mod task;
