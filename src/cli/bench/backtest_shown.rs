//! `bench --backtest`'s chosen-instrument figures: `systrade backtest STRATEGY --instrument …`
//! as a whole process for one and for four instruments (the other instruments' weight inputs
//! remembered from a first run, [`run_strategy_shown`]), and the four instruments' compute in
//! this process against pysystemtrade's.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::{children_peak_rss_mb, PYSYSTEMTRADE_BACKTEST_SECONDS};
use crate::app::App;
use crate::domain::backtest::portfolio::run_strategy_shown;

/// The instrument shown alone, and the four shown together.
const ONE: &str = "CORN";
const FOUR: [&str; 4] = ["CORN", "GOLD", "SP500", "US10"];

/// pysystemtrade's compute for four of the 32 instruments: its 32-instrument figure pro rata
/// (each instrument's stages dominate its time; there is no pysystemtrade on this machine to
/// run side by side).
pub(super) const PYSYSTEMTRADE_FOUR_SECONDS: f64 = PYSYSTEMTRADE_BACKTEST_SECONDS * 4.0 / 32.0;

/// The best wall time of `repeat` `systrade backtest` processes showing `codes`.
fn best_process(home: &Path, strategy: &str, codes: &[&str], repeat: usize) -> anyhow::Result<f64> {
    let exe = std::env::current_exe()?;
    let mut best = f64::MAX;
    for _ in 0..repeat {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("--home")
            .arg(home)
            .args(["-q", "backtest", strategy, "--json"]);
        for c in codes {
            cmd.args(["--instrument", c]);
        }
        let t = Instant::now();
        let status = cmd.stdout(std::process::Stdio::null()).status()?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(status.success(), "`systrade backtest` failed ({status})");
        best = best.min(secs);
    }
    Ok(best)
}

/// Runs before any other child process of the bench, so the peak memory read after each
/// step is that step's.
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
    let first = best_process(home, name, &[ONE], 1)?;
    let one = best_process(home, name, &[ONE], repeat)?;
    let one_peak = children_peak_rss_mb();
    let four = best_process(home, name, &FOUR, repeat)?;
    let four_peak = children_peak_rss_mb();

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
                 "peak_rss_mb": one_peak.map(|p| p.round()) },
        "four": { "instruments": FOUR, "process_seconds": four, "compute_seconds": compute,
                  "peak_rss_mb": four_peak.map(|p| p.round()),
                  "pysystemtrade_seconds": PYSYSTEMTRADE_FOUR_SECONDS },
    }))
}
