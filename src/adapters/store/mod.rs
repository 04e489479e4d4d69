//! Run store backends. SQLite (embedded, WAL) is the default; PostgreSQL can be added beside it.

pub mod sqlite;
pub mod sqlite_alerts;
pub mod sqlite_capital;
pub mod sqlite_client_ids;
pub mod sqlite_controls;
pub mod sqlite_file;
pub mod sqlite_metadata;
pub mod sqlite_optimal;
pub mod sqlite_orders;
pub mod sqlite_snapshot;

pub use sqlite::SqliteRunStore;
