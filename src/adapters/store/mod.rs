//! Run store backends. SQLite (embedded, WAL) is the default; PostgreSQL can be added beside it.

pub mod sqlite;
pub mod sqlite_controls;
pub mod sqlite_metadata;

pub use sqlite::SqliteRunStore;
