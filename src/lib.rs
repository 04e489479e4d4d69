//! systrade: a production system for systematic futures trading, built around a workflow-DAG
//! orchestrator with pluggable task nodes.
//!
//! # Layout
//! - [`engine`]: workflow files, task catalogue, validation, DAG, executor, scheduling decisions,
//!   run store trait. Knows nothing of trading.
//! - [`domain`]: instruments, contracts, price series and the traits storage and market data
//!   adapters implement. Knows nothing of SQL, Parquet or brokers.
//! - [`adapters`]: implementations of engine and domain traits (the SQLite run store).
//! - [`tasks`]: the Rust task kinds, one file each, listed in `tasks::KINDS`.
//! - [`app`]: the application context given to tasks, and loading a home's workflows and catalogue.
//! - [`config`]: defaults < `<home>/config.toml` < `SYSTRADE_*` environment, with sources.
//! - [`home`]: the home directory layout.
//! - [`backup`]: whole-home backups, their verification and restores.
//! - [`shipped`]: workflows, task catalogue and default config embedded in the binary.
//! - [`cli`]: the `systrade` command line (thin: parses, calls the library, prints).

pub mod adapters;
pub mod app;
pub mod backup;
pub mod cli;
pub mod config;
pub mod domain;
pub mod engine;
pub mod files;
pub mod home;
pub mod reports;
pub mod shipped;
pub mod tasks;
#[doc(hidden)]
pub mod test_support;
