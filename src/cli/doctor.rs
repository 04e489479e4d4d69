//! `systrade doctor [--broker] [--json]`: the checks of `app::doctor` on the home, one line
//! each, then what to do. Exit 0 healthy, 1 warnings, 2 damage. Never creates or changes
//! anything in the home (no store is created, nothing migrated).

use clap::Args;

use super::context::{clock, home_state, resolve_home, restore_hint, GlobalOpts};
use super::output::print_json;
use crate::app::doctor::{exit_code, run, Doctor, Status, StoreRepair};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Also ask the configured broker: the simulated one's positions against the system's; for
    /// IB, whether TWS / IB Gateway answers at broker.ib_host:broker.ib_port (3 s at most, no
    /// login).
    #[arg(long)]
    pub broker: bool,
    /// Print the checks as a JSON array on stdout: [{check, status, found, details, fix}].
    #[arg(long)]
    pub json: bool,
}

pub async fn doctor(opts: &GlobalOpts, a: DoctorArgs) -> anyhow::Result<i32> {
    let home = resolve_home(opts)?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    // The repair texts name the backups, which the config may place elsewhere; with a config
    // that does not load, the defaults' places (the config check reports it).
    let config = crate::config::Config::load(&home.config_path(), &env)
        .or_else(|_| crate::config::Config::load(std::path::Path::new("/nonexistent"), &[]))?;
    let repair = StoreRepair {
        damaged: restore_hint(&home, &config, false),
        missing: restore_hint(&home, &config, true),
        in_use: home_state(&home, &config),
    };
    let now = clock()?.now();
    let doctor = Doctor::open(home, &env, repair, a.broker, now).await;
    let checks = run(&doctor).await;
    doctor.close().await;
    if a.json {
        print_json(&checks)?;
        return Ok(exit_code(&checks));
    }
    let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
    for c in &checks {
        outln!("{:<8} {:<width$}  {}", c.status.as_str(), c.check, c.found);
        for d in &c.details {
            outln!("{:<8} {:<width$}    {d}", "", "");
        }
    }
    let todo: Vec<_> = checks
        .iter()
        .filter(|c| matches!(c.status, Status::Warning | Status::Damage))
        .collect();
    if todo.is_empty() {
        outln!("\nhealthy: nothing to do");
    } else {
        outln!("\nwhat to do:");
        for c in todo {
            if let Some(fix) = &c.fix {
                outln!("  {} ({}): {fix}", c.check, c.status.as_str());
            }
        }
    }
    Ok(exit_code(&checks))
}
