//! The `run_store` check: what is at `<home>/systrade.db` (the same checks every command makes
//! before opening it), SQLite's `PRAGMA integrity_check`, and the schema: the store's applied
//! migrations against this binary's.

use super::{Check, Doctor, Status};
use crate::adapters::store::sqlite::known_migrations;
use crate::adapters::store::sqlite_file::StoreFile;

const NAME: &str = "run_store";

pub async fn run_store(d: &Doctor) -> Check {
    let db = d.home.db_path();
    match &d.store_file {
        Err(damage) => match damage.newer {
            Some(n) => Check::bad(
                NAME,
                Status::Damage,
                format!(
                    "{} was written by a newer systrade (schema {} > {})",
                    db.display(),
                    n.store,
                    n.binary
                ),
                Vec::new(),
                format!(
                    "upgrade systrade (this is {}); nothing in the home needs repair",
                    env!("CARGO_PKG_VERSION")
                ),
            ),
            None => Check::bad(
                NAME,
                Status::Damage,
                format!("the run store is damaged: {damage}"),
                Vec::new(),
                d.repair.damaged.clone(),
            ),
        },
        Ok(StoreFile::Missing) if !d.repair.in_use.is_empty() => Check::bad(
            NAME,
            Status::Damage,
            format!(
                "the run store {} is missing, but this home holds {}",
                db.display(),
                d.repair.in_use.join(" and ")
            ),
            Vec::new(),
            d.repair.missing.clone(),
        ),
        Ok(StoreFile::Missing) => Check::bad(
            NAME,
            Status::Warning,
            format!("no run store yet at {}", db.display()),
            Vec::new(),
            "`systrade init` creates the home and its run store",
        ),
        Ok(StoreFile::Usable) => {
            let store = match &d.store {
                Ok(s) => s,
                Err(e) => {
                    return Check::bad(
                        NAME,
                        Status::Damage,
                        format!("{} cannot be opened: {e}", db.display()),
                        Vec::new(),
                        d.repair.damaged.clone(),
                    )
                }
            };
            let problems = match store.integrity_check().await {
                Ok(p) => p,
                Err(e) => vec![e.to_string()],
            };
            if !problems.is_empty() {
                let shown: Vec<String> = problems.iter().take(20).cloned().collect();
                return Check::bad(
                    NAME,
                    Status::Damage,
                    format!(
                        "{}: integrity_check found {} problem{}",
                        db.display(),
                        problems.len(),
                        if problems.len() == 1 { "" } else { "s" }
                    ),
                    shown,
                    d.repair.damaged.clone(),
                );
            }
            schema(d, store).await
        }
    }
}

/// The store's migrations against the binary's (a newer one was refused by the file check).
async fn schema(d: &Doctor, store: &crate::adapters::store::sqlite::SqliteRunStore) -> Check {
    let db = d.home.db_path();
    let known = known_migrations();
    let binary = known.last().copied().unwrap_or(0);
    let applied = match store.applied_migrations().await {
        Ok(a) => a,
        Err(e) => {
            return Check::bad(
                NAME,
                Status::Damage,
                format!("{}: its migration table cannot be read: {e}", db.display()),
                Vec::new(),
                d.repair.damaged.clone(),
            )
        }
    };
    let newest = applied.last().copied().unwrap_or(0);
    let pending = known.iter().filter(|v| !applied.contains(v)).count();
    let mut found = format!("{}: integrity ok, schema {newest}", db.display());
    if pending > 0 {
        // An older home: the next command that opens it applies them (doctor writes nothing).
        found.push_str(&format!(
            "; {pending} migration{} of this systrade (schema {binary}) not applied yet: the next \
             command applies {}",
            if pending == 1 { "" } else { "s" },
            if pending == 1 { "it" } else { "them" }
        ));
    }
    Check::ok(NAME, found)
}
