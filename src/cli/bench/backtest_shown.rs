//! `bench --backtest`'s chosen-instrument figures: `systrade backtest STRATEGY --instrument …`
//! as a whole process for one and for four instruments (the other instruments' weight inputs
//! remembered from a first run, [`run_strategy_shown`]), and the four instruments' compute in
//! this process against pysystemtrade's.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::PYSYSTEMTRADE_BACKTEST_SECONDS;
use crate::app::App;
use crate::domain::backtest::portfolio::run_strategy_shown;

/// The instrument shown alone, and the four shown together.
const ONE: &str = "CORN";
const FOUR: [&str; 4] = ["CORN", "GOLD", "SP500", "US10"];

/// pysystemtrade's compute for four of the 32 instruments: its 32-instrument figure pro rata
/// (each instrument's stages dominate its time; there is no pysystemtrade on this machine to
/// run side by side).
pub(super) const PYSYSTEMTRADE_FOUR_SECONDS: f64 = PYSYSTEMTRADE_BACKTEST_SECONDS * 4.0 / 32.0;

/// Waits for `child`; whether it exited 0, and its own peak resident memory in MB (`wait4`;
/// Linux reports KB).
fn wait_with_peak(child: std::process::Child) -> anyhow::Result<(bool, f64)> {
    let pid = libc::pid_t::try_from(child.id())?;
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 writes only into the status and the zeroed rusage we pass; the child is
    // ours and not waited for elsewhere (std's Child does not wait on drop).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    anyhow::ensure!(rc == pid, "wait4: {}", std::io::Error::last_os_error());
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, usage.ru_maxrss as f64 / 1024.0))
}

/// The best wall time of `repeat` `systrade backtest` processes showing `codes`, and their
/// largest peak memory in MB.
fn best_process(
    home: &Path,
    strategy: &str,
    codes: &[&str],
    repeat: usize,
) -> anyhow::Result<(f64, f64)> {
    let exe = std::env::current_exe()?;
    let (mut best, mut peak) = (f64::MAX, 0.0f64);
    for _ in 0..repeat {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("--home")
            .arg(home)
            .args(["-q", "backtest", strategy, "--json"]);
        for c in codes {
            cmd.args(["--instrument", c]);
        }
        let t = Instant::now();
        let child = cmd.stdout(std::process::Stdio::null()).spawn()?;
        let (ok, mb) = wait_with_peak(child)?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(ok, "`systrade backtest` failed");
        best = best.min(secs);
        peak = peak.max(mb);
    }
    Ok((best, peak))
}

pub(super) fn bench_backtest_shown(
    app: &App,
    home: &Path,
    repeat: usize,
) -> anyhow::Result<serde_json::Value> {
    let reference = app.reference_data()?;
    let strategy = app
        .strategy("chapter15_equal_weights", &reference)
        .map_err(|e| anyhow::anyhow!(e))?;
    let name = strategy.config.name.as_str();
    // The first call runs every instrument and remembers the others' weight inputs.
    let (first, first_peak) = best_process(home, name, &[ONE], 1)?;
    let (one, one_peak) = best_process(home, name, &[ONE], repeat)?;
    let (four, four_peak) = best_process(home, name, &FOUR, repeat)?;

    let store = app.price_store();
    let shown: Vec<String> = FOUR.iter().map(|c| c.to_string()).collect();
    let (_, remembered) = run_strategy_shown(
        &strategy.config,
        &reference,
        store.as_ref(),
        2,
        None,
        &BTreeMap::new(),
    );
    let mut compute = f64::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        let (run, _) = run_strategy_shown(
            &strategy.config,
            &reference,
            store.as_ref(),
            2,
            Some(&shown),
            &remembered,
        );
        compute = compute.min(t.elapsed().as_secs_f64());
        anyhow::ensure!(
            run.instruments.len() == FOUR.len(),
            "ran {} instruments, not only the four shown (skipped: {:?})",
            run.instruments.len(),
            run.skipped
        );
    }
    Ok(json!({
        "one": { "instrument": ONE, "first_process_seconds": first, "process_seconds": one,
                 "peak_rss_mb": one_peak.round(), "first_peak_rss_mb": first_peak.round() },
        "four": { "instruments": FOUR, "process_seconds": four, "compute_seconds": compute,
                  "peak_rss_mb": four_peak.round(),
                  "pysystemtrade_seconds": PYSYSTEMTRADE_FOUR_SECONDS },
    }))
}
