//! The doctor's checks of everything beside the run store's file and the price files: config
//! and workflow validity (what `systrade validate --all` checks, plus the reference data and the
//! configured strategies), locks and runs whose holders are dead (the rule `systrade startup`
//! and the scheduler apply), position breaks (the reconcile rule), the home's free disk space,
//! and the broker.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::{Check, Doctor, Status};
use crate::domain::orders::breaks::position_breaks;
use crate::domain::orders::OrderStore;
use crate::engine::process::{holder_is_dead, ProcessIdentity};
use crate::engine::store::{RunStatus, RunStore};

/// Free space under which the disk check warns: 1 GiB, or 5 % of the filesystem.
pub const MIN_FREE_BYTES: u64 = 1 << 30;
pub const MIN_FREE_FRACTION: f64 = 0.05;
/// How long the broker check waits for TWS / IB Gateway to answer.
const BROKER_TIMEOUT: Duration = Duration::from_secs(3);
/// Runs looked at for ones marked running whose runner is gone.
const RUNS_LOOKED_AT: i64 = 10_000;

fn store_skip(d: &Doctor, name: &'static str) -> Option<Check> {
    d.store
        .as_ref()
        .err()
        .map(|_| Check::skipped(name, "needs a readable run store (see run_store)"))
}

/// `config.toml` (and environment overrides), the reference data and the strategy files of
/// `strategies.weights`.
pub async fn config(d: &Doctor) -> Check {
    const NAME: &str = "config";
    let mut problems: Vec<String> = Vec::new();
    if let Some(errs) = &d.config_errors {
        problems.extend(errs.0.iter().map(|e| e.to_string()));
    }
    let reference = crate::adapters::reference_files::load_reference_data(&d.home.reference_dir());
    match &reference {
        Ok(reference) => {
            if let Some(config) = d.config.as_ref().filter(|_| d.config_errors.is_none()) {
                for (name, _) in &config.strategies.weights {
                    if let Err(e) = crate::app::load_strategy(&d.home, name, reference) {
                        problems.push(e);
                    }
                }
            }
        }
        Err(errs) => problems.extend(errs.0.iter().map(|e| e.to_string())),
    }
    if problems.is_empty() {
        let strategies = d.config.as_ref().map_or(0, |c| c.strategies.weights.len());
        return Check::ok(
            NAME,
            format!(
                "{} valid (with the environment), reference data and {strategies} strateg{} valid",
                d.home.config_path().display(),
                if strategies == 1 { "y" } else { "ies" }
            ),
        );
    }
    Check::bad(
        NAME,
        Status::Damage,
        format!(
            "{} problem{} in the config, reference data or strategies: commands refuse to start",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ),
        problems,
        "correct each file at the line shown (or the environment variable named); `systrade \
         config show` and `systrade validate --all` check again",
    )
}

/// Whether a workflow file declares a schedule (the scheduler starts it unattended).
fn scheduled(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("workflow")?.get("schedule").cloned())
        .is_some()
}

/// The task catalogue and every workflow (shipped and the home's).
pub async fn workflows(d: &Doctor) -> Check {
    const NAME: &str = "workflows";
    let mut damage: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    if let Err(errs) = crate::app::load_catalogue(&d.home) {
        damage.extend(errs.0.iter().map(|e| e.to_string()));
    }
    let sources = crate::app::workflow_sources(&d.home);
    for source in sources.values() {
        if let Err(errs) = crate::app::plan_workflow(&d.home, source) {
            let into = if scheduled(&source.bytes) {
                &mut damage
            } else {
                &mut warnings
            };
            into.extend(errs.0.iter().map(|e| e.to_string()));
        }
    }
    damage.dedup();
    warnings.dedup();
    if damage.is_empty() && warnings.is_empty() {
        return Check::ok(
            NAME,
            format!("{} workflows and the task catalogue valid", sources.len()),
        );
    }
    let status = if damage.is_empty() {
        Status::Warning
    } else {
        Status::Damage
    };
    let found = if damage.is_empty() {
        format!(
            "{} problem{} in workflows that are not scheduled",
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{} problem{} in the task catalogue or a scheduled workflow: the scheduler cannot run it",
            damage.len(),
            if damage.len() == 1 { "" } else { "s" }
        )
    };
    damage.extend(warnings);
    Check::bad(
        NAME,
        status,
        found,
        damage,
        "correct each file at the line shown; `systrade validate --all` checks again",
    )
}

/// Workflow locks whose holder is dead, and runs marked running that hold no lock.
pub async fn locks(d: &Doctor) -> Check {
    const NAME: &str = "locks";
    if let Some(skip) = store_skip(d, NAME) {
        return skip;
    }
    let Ok(store) = &d.store else {
        return Check::skipped(NAME, "no run store");
    };
    let me = ProcessIdentity::current();
    let (locks, runs) = match (
        RunStore::locks(store).await,
        store.list_runs(None, RUNS_LOOKED_AT).await,
    ) {
        (Ok(l), Ok(r)) => (l, r),
        (Err(e), _) | (_, Err(e)) => {
            return Check::bad(
                NAME,
                Status::Damage,
                format!("the locks and runs cannot be read: {e}"),
                Vec::new(),
                d.repair.damaged.clone(),
            )
        }
    };
    let mut details = Vec::new();
    for lock in &locks {
        if holder_is_dead(lock, &me) {
            details.push(format!(
                "`{}` is locked by pid {} on {} since {}{}, and that process is gone",
                lock.workflow,
                lock.pid,
                lock.host,
                lock.acquired_at.format("%Y-%m-%d %H:%M:%S UTC"),
                lock.run_id
                    .map(|r| format!(" (run {r})"))
                    .unwrap_or_default()
            ));
        }
    }
    let held: BTreeSet<i64> = locks.iter().filter_map(|l| l.run_id).collect();
    for run in runs
        .iter()
        .filter(|r| r.status == RunStatus::Running && !held.contains(&r.id))
    {
        details.push(format!(
            "run {} of `{}` (pid {} on {}, started {}) is marked running but holds no lock: its \
             runner is gone",
            run.id,
            run.workflow,
            run.pid,
            run.host,
            run.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    if details.is_empty() {
        let live = locks.len();
        return Check::ok(
            NAME,
            format!(
                "no dead locks or runs ({live} lock{} held by live processes or other hosts)",
                if live == 1 { "" } else { "s" }
            ),
        );
    }
    Check::bad(
        NAME,
        Status::Warning,
        format!(
            "{} lock{} or run{} of dead processes",
            details.len(),
            if details.len() == 1 { "" } else { "s" },
            if details.len() == 1 { "" } else { "s" }
        ),
        details,
        "`systrade startup` marks those runs crashed and frees their locks; then `systrade \
         rerun RUN` re-executes what did not finish",
    )
}

/// Strategy positions against contract positions (internal breaks), instrument locks, and with
/// `--broker` and the simulated broker the contract positions against the broker's.
pub async fn positions(d: &Doctor) -> Check {
    const NAME: &str = "positions";
    if let Some(skip) = store_skip(d, NAME) {
        return skip;
    }
    let Ok(store) = &d.store else {
        return Check::skipped(NAME, "no run store");
    };
    let read = async {
        Ok::<_, String>((
            store
                .strategy_positions()
                .await
                .map_err(|e| e.to_string())?,
            store
                .contract_positions()
                .await
                .map_err(|e| e.to_string())?,
            OrderStore::locks(store).await.map_err(|e| e.to_string())?,
        ))
    };
    let (strategy, contract, locks) = match read.await {
        Ok(v) => v,
        Err(e) => {
            return Check::bad(
                NAME,
                Status::Damage,
                format!("the positions cannot be read: {e}"),
                Vec::new(),
                d.repair.damaged.clone(),
            )
        }
    };
    let sim = d
        .config
        .as_ref()
        .is_some_and(|c| c.broker.kind == crate::config::BrokerKind::Sim);
    let (broker, compared) = if d.broker && sim {
        match crate::adapters::sim_broker::stored_positions(store.pool()).await {
            Ok(held) => (held, true),
            Err(e) => {
                return Check::bad(
                    NAME,
                    Status::Warning,
                    format!("the simulated broker's positions cannot be read: {e}"),
                    Vec::new(),
                    "`systrade positions` asks the broker again",
                )
            }
        }
    } else {
        (Vec::new(), false)
    };
    let mut breaks = position_breaks(&strategy, &contract, &broker);
    if !compared {
        breaks.external.clear();
    }
    let mut details: Vec<String> = Vec::new();
    for b in &breaks.internal {
        details.push(format!(
            "{}: the strategies hold {} but the contracts {} (internal break)",
            b.instrument, b.strategies, b.contracts
        ));
    }
    for b in &breaks.external {
        details.push(format!(
            "{} {}: the system holds {}, the broker {} (external break)",
            b.instrument, b.contract, b.system, b.broker
        ));
    }
    for l in &locks {
        details.push(format!(
            "{} is locked since {}: {}",
            l.instrument,
            l.locked_at.format("%Y-%m-%d %H:%M:%S UTC"),
            l.reason
        ));
    }
    let against = if compared {
        "and the simulated broker's"
    } else if d.broker {
        "(the broker's positions are not compared: that needs a logged-in IB session; \
         `systrade positions` does it)"
    } else {
        "(not against the broker's: --broker)"
    };
    if details.is_empty() {
        return Check::ok(
            NAME,
            format!(
                "{} strategy and {} contract positions agree {against}; no instrument locked",
                strategy.len(),
                contract.len()
            ),
        );
    }
    Check::bad(
        NAME,
        Status::Warning,
        format!(
            "{} position break{} or lock{}",
            details.len(),
            if details.len() == 1 { "" } else { "s" },
            if details.len() == 1 { "" } else { "s" }
        ),
        details,
        "`systrade positions` shows them side by side; record a trade done outside the \
         system with `systrade orders balance`, then `systrade orders unlock CODE`",
    )
}

/// Free space of the filesystem holding `path` (or its nearest existing parent): (free bytes
/// for unprivileged users, total bytes).
pub fn free_space(path: &Path) -> std::io::Result<(u64, u64)> {
    let mut at = path;
    while !at.exists() {
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
    crate::files::filesystem_space(at)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The home's filesystem has room: at least 1 GiB and 5 % free.
pub async fn disk(d: &Doctor) -> Check {
    const NAME: &str = "disk";
    match free_space(&d.home.root) {
        Err(e) => Check::bad(
            NAME,
            Status::Warning,
            format!(
                "the free space of {} cannot be read: {e}",
                d.home.root.display()
            ),
            Vec::new(),
            "check the filesystem with `df -h`",
        ),
        Ok((free, total)) => {
            let fraction = if total > 0 {
                free as f64 / total as f64
            } else {
                0.0
            };
            let found = format!(
                "{} free of {} ({:.0} %) on the filesystem of {}",
                gib(free),
                gib(total),
                fraction * 100.0,
                d.home.root.display()
            );
            if free < MIN_FREE_BYTES || fraction < MIN_FREE_FRACTION {
                Check::bad(
                    NAME,
                    Status::Warning,
                    format!("low disk space: {found}"),
                    Vec::new(),
                    format!(
                        "free space (at least {} and {:.0} %): `systrade clean` deletes old run \
                         data, reports and states; move old backups elsewhere",
                        gib(MIN_FREE_BYTES),
                        MIN_FREE_FRACTION * 100.0
                    ),
                )
            } else {
                Check::ok(NAME, found)
            }
        }
    }
}

/// With `--broker`: the configured broker answers (the simulated one always does; IB's
/// TWS / IB Gateway must answer the socket handshake within a few seconds).
pub async fn broker(d: &Doctor) -> Check {
    const NAME: &str = "broker";
    if !d.broker {
        return Check::skipped(NAME, "not asked (pass --broker)");
    }
    let Some(config) = &d.config else {
        return Check::skipped(NAME, "no config");
    };
    match config.broker.kind {
        crate::config::BrokerKind::Sim => Check::ok(
            NAME,
            "the simulated broker (broker.kind = \"sim\") is part of systrade: always reachable",
        ),
        crate::config::BrokerKind::Ib => {
            let ib = &config.broker.ib;
            match crate::adapters::ib::probe::probe(&ib.host, ib.port, BROKER_TIMEOUT).await {
                Ok(reply) => Check::ok(
                    NAME,
                    format!(
                        "TWS / IB Gateway at {}:{} answers (server version {}, its time {})",
                        ib.host, ib.port, reply.server_version, reply.connection_time
                    ),
                ),
                Err(e) => Check::bad(
                    NAME,
                    Status::Warning,
                    format!("the IB broker is not reachable: {e}"),
                    Vec::new(),
                    format!(
                        "start TWS or IB Gateway and log in, with the API enabled on port {} \
                         (broker.ib_host, broker.ib_port); then `systrade broker check`",
                        ib.port
                    ),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_free_space_of_an_existing_and_a_missing_path_is_that_of_its_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let (free, total) = free_space(dir.path()).unwrap();
        assert!(total > 0 && free <= total, "{free} of {total}");
        let (_, total2) = free_space(&dir.path().join("not/yet")).unwrap();
        assert_eq!(total, total2);
    }

    #[test]
    fn a_workflow_with_a_schedule_is_scheduled() {
        assert!(scheduled(
            b"[workflow]\nname = \"a\"\n[workflow.schedule]\nstart = \"20:00\"\n"
        ));
        assert!(!scheduled(b"[workflow]\nname = \"a\"\n"));
        assert!(!scheduled(b"not toml ["));
    }
}
