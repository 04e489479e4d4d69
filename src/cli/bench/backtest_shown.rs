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

/// The peak resident memory (MB) of one run of `exe args`, measured by GNU time
/// (`/usr/bin/time -f %M`), or `None` without it. Not the bench's own rusage of its child: a
/// child starts out with the forking process's memory as its high-water mark (Linux counts the
/// copied address space), so only a grandchild of a small process shows its own peak.
pub(super) fn peak_rss_mb(exe: &Path, args: &[&std::ffi::OsStr]) -> Option<f64> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let out = tempfile::NamedTempFile::new().ok()?;
    let status = std::process::Command::new(time)
        .args(["-f", "%M", "-o"])
        .arg(out.path())
        .arg(exe)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let text = std::fs::read_to_string(out.path()).ok()?;
    let kb: f64 = text.lines().last()?.trim().parse().ok()?;
    Some((kb / 1024.0).round())
}

/// `--home HOME -q backtest STRATEGY --json --instrument C…`.
fn backtest_args<'a>(
    home: &'a Path,
    strategy: &'a str,
    codes: &'a [&'a str],
) -> Vec<&'a std::ffi::OsStr> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--home".as_ref(), home.as_os_str()];
    for a in ["-q", "backtest", strategy, "--json"] {
        args.push(a.as_ref());
    }
    for c in codes {
        args.push("--instrument".as_ref());
        args.push(c.as_ref());
    }
    args
}

/// The best wall time of `repeat` `systrade backtest` processes showing `codes`, and the peak
/// memory of one more (see [`peak_rss_mb`]).
fn best_process(
    home: &Path,
    strategy: &str,
    codes: &[&str],
    repeat: usize,
) -> anyhow::Result<(f64, Option<f64>)> {
    let exe = std::env::current_exe()?;
    let args = backtest_args(home, strategy, codes);
    let mut best = f64::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        let status = std::process::Command::new(&exe)
            .args(&args)
            .stdout(std::process::Stdio::null())
            .status()?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(status.success(), "`systrade backtest` failed ({status})");
        best = best.min(secs);
    }
    Ok((best, peak_rss_mb(&exe, &args)))
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
    let (first, _) = best_process(home, name, &[ONE], 1)?;
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
                 "peak_rss_mb": one_peak },
        "four": { "instruments": FOUR, "process_seconds": four, "compute_seconds": compute,
                  "peak_rss_mb": four_peak,
                  "pysystemtrade_seconds": PYSYSTEMTRADE_FOUR_SECONDS },
    }))
}
