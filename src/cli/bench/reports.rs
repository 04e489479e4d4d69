//! `systrade bench --reports`: every report over a home that traded for a year. The bench
//! builds the home as a trader's machine would: the shipped config (32 instruments, the
//! chapter-15 strategy) on the simulated market and broker, and the shipped daily workflow's
//! trading stages (prices, capital, strategies, order generator, stack handler; the reports,
//! cleaners and backups left out) run once per trading day, each day a separate
//! `systrade run` process with the clock at that day's evening, after which the bench rolls
//! what is due as an operator would ([`roll_as_an_operator`]). Then each report is built and
//! rendered as HTML (what the daily workflow's report node does) in this process, the best of
//! `repeat`, and the status report is also timed as a whole `systrade report status` process.
//!
//! The days are fixed (the trading days up to [`LAST_DAY`]) so two machines build the same
//! home. Building takes minutes; `--reports-home DIR` keeps the home and a later bench reuses
//! it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use serde_json::{json, Value};

use crate::cli::context::{Ctx, GlobalOpts};
use crate::domain::reports::ReportOptions;
use crate::engine::clock::OffsetClock;
use crate::engine::store::RunStore;
use crate::reports::render::{render, Format};
use crate::reports::{build, REPORTS};

/// The last trading day of the built home (a Friday).
const LAST_DAY: (i32, u32, u32) = (2025, 6, 27);
/// Simulated price history before the first trading day (the backtest's warm-up).
const HISTORY_YEARS: i32 = 3;
/// The file in a built home saying what it holds.
const MARKER: &str = "bench-reports.json";
/// The file in a home being built saying how far it got.
const PROGRESS: &str = "bench-reports.progress.json";
/// The trading workflow the bench writes into the home.
const WORKFLOW: &str = "bench_trading";
/// Tasks of the shipped daily workflow that are not trading: left out of each built day.
const NOT_TRADING: [&str; 3] = ["report", "clean", "run_backups"];
/// The goals of issue 15: all reports, and the status report alone.
const GOAL_ALL_SECONDS: f64 = 1.0;
const GOAL_STATUS_SECONDS: f64 = 0.1;

/// The `days` weekdays up to [`LAST_DAY`], oldest first.
fn trading_days(days: usize) -> Vec<NaiveDate> {
    let (y, m, d) = LAST_DAY;
    let mut day = NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN);
    let mut out = Vec::with_capacity(days);
    while out.len() < days {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(day);
        }
        match day.pred_opt() {
            Some(p) => day = p,
            None => break,
        }
    }
    out.reverse();
    out
}

/// The evening a day's trading runs (after every simulated market's close).
pub(super) fn evening(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(21, 0, 0).unwrap_or_default())
}

/// The shipped daily workflow without its reports, cleaners and backup: the trading day.
fn trading_workflow() -> anyhow::Result<String> {
    let (_, daily) = crate::shipped::WORKFLOWS
        .iter()
        .find(|(n, _)| *n == "daily.toml")
        .context("the shipped daily workflow is missing")?;
    let mut doc: toml::Table = toml::from_str(daily).context("the shipped daily workflow")?;
    if let Some(toml::Value::Table(w)) = doc.get_mut("workflow") {
        w.insert("name".into(), toml::Value::String(WORKFLOW.into()));
        w.remove("schedule");
    }
    if let Some(toml::Value::Array(nodes)) = doc.get_mut("node") {
        nodes.retain(|n| {
            let task = n.get("task").and_then(toml::Value::as_str).unwrap_or("");
            !NOT_TRADING.contains(&task)
        });
    }
    Ok(format!(
        "# Written by `systrade bench --reports`: the shipped daily workflow's trading stages.\n{}",
        toml::to_string(&doc)?
    ))
}

/// What a built home holds.
#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
pub(super) struct Built {
    pub(super) days: usize,
    pub(super) first_day: NaiveDate,
    pub(super) last_day: NaiveDate,
    pub(super) build_seconds: f64,
    /// Roll-state changes the operator made.
    rolls: usize,
    /// Price rolls refused (even with forward fill) and left for a later day.
    roll_refusals: usize,
}

/// How far an unfinished build got.
#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Progress {
    days: usize,
    first_day: NaiveDate,
    /// The last day whose trading and rolls are done.
    done_through: Option<NaiveDate>,
    rolls: usize,
    roll_refusals: usize,
    seconds: f64,
}

fn config_text(first: NaiveDate) -> String {
    let start =
        NaiveDate::from_ymd_opt(first.year() - HISTORY_YEARS, first.month(), 1).unwrap_or(first);
    format!(
        "# Written by `systrade bench --reports`: the shipped config (32 instruments, the \
         chapter-15 strategy) on the simulated market from {start}.\n\n[market]\n\
         sim_start = \"{start}\"\n\n\
         # The simulated prices stand still within a run: a passive limit would wait for its \
         time-out.\n[execution]\npassive_timeout_seconds = 0.2\ntotal_timeout_seconds = 5.0\n\
         poll_seconds = 0.1\n"
    )
}

/// Builds (or finds) the home at `dir`: `days` trading days, each one `systrade run` (also the
/// home `bench --doctor` and `bench --backup` use).
pub(super) fn build_home(dir: &Path, days: usize, progress: bool) -> anyhow::Result<Built> {
    let calendar = trading_days(days);
    let (Some(&first), Some(&last)) = (calendar.first(), calendar.last()) else {
        anyhow::bail!("--days must be at least 1");
    };
    let marker = dir.join(MARKER);
    if marker.exists() {
        let text = std::fs::read_to_string(&marker)
            .with_context(|| format!("cannot read {}", marker.display()))?;
        let built: Built = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a bench home's marker", marker.display()))?;
        anyhow::ensure!(
            built.days == days && built.first_day == first && built.last_day == last,
            "{} holds a bench home of {} days ({} to {}), not {days}: pass another --reports-home",
            dir.display(),
            built.days,
            built.first_day,
            built.last_day
        );
        return Ok(built);
    }
    // A build that stopped (killed, or a day that failed) goes on from its last whole day.
    let progress_path = dir.join(PROGRESS);
    let mut done: Progress = if dir.join("systrade.db").exists() {
        let text = std::fs::read_to_string(&progress_path).with_context(|| {
            format!(
                "{} already holds a systrade home that is not a bench home; remove it or pass \
                 another --reports-home",
                dir.display()
            )
        })?;
        let p: Progress = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a bench home's progress", progress_path.display())
        })?;
        anyhow::ensure!(
            p.days == days && p.first_day == first,
            "{} holds an unfinished bench home of {} days from {}, not {days}: pass another \
             --reports-home",
            dir.display(),
            p.days,
            p.first_day
        );
        p
    } else {
        std::fs::create_dir_all(dir.join("workflows"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("config.toml"), config_text(first))?;
        std::fs::write(
            dir.join("workflows").join(format!("{WORKFLOW}.toml")),
            trading_workflow()?,
        )?;
        Progress {
            days,
            first_day: first,
            done_through: None,
            rolls: 0,
            roll_refusals: 0,
            seconds: 0.0,
        }
    };
    let exe = std::env::current_exe()?;
    let bar = if progress {
        indicatif::ProgressBar::new(days as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "building the bench home: {bar:30} {pos}/{len} trading days, {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(
        calendar
            .iter()
            .filter(|d| done.done_through.is_some_and(|t| **d <= t))
            .count() as u64,
    );
    for day in &calendar {
        if done.done_through.is_some_and(|t| *day <= t) {
            continue;
        }
        let t = Instant::now();
        bar.set_message(day.to_string());
        let out = std::process::Command::new(&exe)
            .arg("--home")
            .arg(dir)
            .args(["--quiet", "run", WORKFLOW])
            .env("SYSTRADE_NOW", evening(*day).to_rfc3339())
            .stdin(std::process::Stdio::null())
            .output()
            .context("cannot start `systrade run`")?;
        if !out.status.success() {
            bar.abandon();
            anyhow::bail!(
                "the trading day {day} failed ({}); the home is kept at {} (a bench with the same \
                 --reports-home goes on from there):\n{}",
                out.status,
                dir.display(),
                tail(&out.stderr)
            );
        }
        let (rolls, refused) = roll_as_an_operator(&exe, dir, evening(*day))?;
        done.rolls += rolls;
        done.roll_refusals += refused;
        done.done_through = Some(*day);
        done.seconds += t.elapsed().as_secs_f64();
        crate::files::write_atomically(
            &progress_path,
            serde_json::to_string_pretty(&done)?.as_bytes(),
            0o644,
        )?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let built = Built {
        days,
        first_day: first,
        last_day: last,
        build_seconds: done.seconds,
        rolls: done.rolls,
        roll_refusals: done.roll_refusals,
    };
    std::fs::write(&marker, serde_json::to_string_pretty(&built)?)?;
    Ok(built)
}

/// The last lines of a process's stderr.
fn tail(stderr: &[u8]) -> String {
    let err = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = err.lines().rev().take(20).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// `systrade --home DIR ARGS` with the clock at `now`; its stdout, or an error with its stderr.
fn systrade(exe: &Path, dir: &Path, now: DateTime<Utc>, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let out = std::process::Command::new(exe)
        .arg("--home")
        .arg(dir)
        .arg("--quiet")
        .args(args)
        .env("SYSTRADE_NOW", now.to_rfc3339())
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot start `systrade {}`", args.join(" ")))?;
    anyhow::ensure!(
        out.status.success(),
        "`systrade {}` failed ({}) on {now}:\n{}",
        args.join(" "),
        out.status,
        tail(&out.stderr)
    );
    Ok(out.stdout)
}

/// What the operator does after a day's trading: reads `systrade roll ALL` and, for each
/// instrument past its desired roll date, rolls the prices when nothing is held in the priced
/// contract (`roll_adjusted`, confirmed) and otherwise sets `force` (the stack handler then rolls
/// the position with spread orders, and a later day rolls the prices). Not the report's
/// suggestion: with the simulated market's volumes the forward is always liquid, and
/// pysystemtrade's rule would roll an unheld instrument every day. Returns the number of state
/// changes and of price rolls refused even with forward fill (left for a later day).
fn roll_as_an_operator(
    exe: &Path,
    dir: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, usize)> {
    let out = systrade(exe, dir, now, &["roll", "ALL", "--json"])?;
    let v: Value = serde_json::from_slice(&out).context("`systrade roll ALL --json`")?;
    let mut changes = 0;
    let mut refused = 0;
    for r in v["reports"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let (Some(code), Some(state)) = (r["instrument"].as_str(), r["state"].as_str()) else {
            continue;
        };
        let late = r["days_to_desired_roll"].as_i64().is_some_and(|d| d <= 0);
        let held = r["priced_position"].as_i64().is_some_and(|p| p != 0);
        if late && !held && state != "roll_adjusted" {
            // As the roll command suggests when a price is missing: again with forward fill;
            // if that is refused too, the instrument waits (its prices stay as they are).
            let roll = ["roll", code, "--state", "roll_adjusted", "--yes"];
            let rolled = systrade(exe, dir, now, &roll)
                .or_else(|_| systrade(exe, dir, now, &[&roll[..], &["--forward-fill"]].concat()));
            match rolled {
                Ok(_) => {
                    systrade(exe, dir, now, &["roll", code, "--confirm"])?;
                    changes += 1;
                }
                Err(_) => refused += 1,
            }
        } else if late && held && !matches!(state, "force" | "force_outright") {
            systrade(exe, dir, now, &["roll", code, "--state", "force"])?;
            changes += 1;
        }
    }
    Ok((changes, refused))
}

/// Counts of what the built home holds, to say what the reports read.
async fn contents(ctx: &Ctx) -> anyhow::Result<Value> {
    let app = ctx.app();
    let mut brokers = app.orders.broker_orders(false).await?;
    brokers.extend(app.orders.broker_orders(true).await?);
    let fills = brokers.iter().filter(|b| b.fill != 0).count();
    let instruments: std::collections::BTreeSet<_> =
        brokers.iter().map(|b| b.instrument.clone()).collect();
    let runs = ctx.store.list_runs(None, 100_000).await?.len();
    Ok(json!({
        "filled_broker_orders": fills,
        "traded_instruments": instruments.len(),
        "runs": runs,
    }))
}

/// The bench home in `keep` (kept for the next bench), or in a temporary directory that goes
/// with the value.
pub(super) struct BenchHome {
    pub(super) dir: PathBuf,
    pub(super) built: Built,
    temp: Option<tempfile::TempDir>,
}

impl BenchHome {
    /// Where the home stays after the bench (`--reports-home`); `None` when it is temporary.
    pub(super) fn kept(&self) -> Option<String> {
        self.temp.is_none().then(|| self.dir.display().to_string())
    }
}

/// Builds (or finds, in `keep`) the bench home of `days` trading days.
pub(super) fn bench_home(
    days: usize,
    keep: Option<&PathBuf>,
    progress: bool,
) -> anyhow::Result<BenchHome> {
    let (dir, temp) = match keep {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let built = build_home(&dir, days, progress)?;
    Ok(BenchHome { dir, built, temp })
}

/// The context of the bench home at `dir` with the clock at `now`, quiet.
pub(super) async fn bench_ctx(dir: &Path, now: DateTime<Utc>) -> anyhow::Result<Ctx> {
    let mut ctx = Ctx::open(&GlobalOpts {
        home: Some(dir.to_path_buf()),
        verbose: false,
        quiet: true,
    })
    .await?;
    ctx.clock = Arc::new(OffsetClock::starting_at(now));
    Ok(ctx)
}

/// The bench: builds or reuses the home, then times every report.
pub(super) async fn bench_reports(home: &BenchHome, repeat: usize) -> anyhow::Result<Value> {
    let (dir, built) = (&home.dir, &home.built);
    let now = evening(built.last_day) + chrono::Duration::hours(1);
    let ctx = bench_ctx(dir, now).await?;
    let app = ctx.app();
    let mut reports = Vec::new();
    let mut total = 0.0;
    for spec in REPORTS {
        let mut best = f64::MAX;
        let mut bytes = 0;
        for _ in 0..repeat {
            let t = Instant::now();
            let report = build(&app, spec.name, &ReportOptions::default())
                .await
                .with_context(|| format!("report {}", spec.name))?;
            let html = render(&report, Format::Html);
            best = best.min(t.elapsed().as_secs_f64());
            bytes = html.len();
        }
        total += best;
        reports.push(json!({ "report": spec.name, "seconds": best, "html_bytes": bytes }));
    }
    let status = reports
        .iter()
        .find(|r| r["report"] == "status")
        .and_then(|r| r["seconds"].as_f64())
        .unwrap_or(f64::NAN);
    let status_process = status_process(dir, now, repeat)?;
    Ok(json!({
        "instruments": ctx.config.prices.instruments.len(),
        "days": built.days,
        "first_day": built.first_day,
        "last_day": built.last_day,
        "build_seconds": built.build_seconds,
        "rolls": built.rolls,
        "roll_refusals": built.roll_refusals,
        "home": home.kept(),
        "contents": contents(&ctx).await?,
        "reports": reports,
        "all_seconds": total,
        "status_seconds": status,
        "status_process_seconds": status_process,
        "goal_all_seconds": GOAL_ALL_SECONDS,
        "goal_status_seconds": GOAL_STATUS_SECONDS,
        "goals_met": total < GOAL_ALL_SECONDS && status < GOAL_STATUS_SECONDS,
    }))
}

/// The best wall time of `repeat` `systrade report status --format html` processes.
fn status_process(home: &Path, now: DateTime<Utc>, repeat: usize) -> anyhow::Result<f64> {
    let exe = std::env::current_exe()?;
    let out = tempfile::NamedTempFile::new()?;
    let mut best = f64::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        let status = std::process::Command::new(&exe)
            .arg("--home")
            .arg(home)
            .args([
                "--quiet", "report", "status", "--format", "html", "--output",
            ])
            .arg(out.path())
            .env("SYSTRADE_NOW", now.to_rfc3339())
            .stdout(std::process::Stdio::null())
            .status()?;
        anyhow::ensure!(
            status.success(),
            "`systrade report status` failed ({status})"
        );
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// The text lines of the result.
pub(super) fn print(r: &Value) -> anyhow::Result<()> {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    outln!(
        "reports over a home of {} instruments after {} trading days ({} to {}; {} roll-state changes, {} filled broker orders in {} instruments, {} runs; built in {:.0}s{}):",
        r["instruments"],
        r["days"],
        r["first_day"].as_str().unwrap_or(""),
        r["last_day"].as_str().unwrap_or(""),
        r["rolls"],
        r["contents"]["filled_broker_orders"],
        r["contents"]["traded_instruments"],
        r["contents"]["runs"],
        f(&r["build_seconds"]),
        r["home"].as_str().map(|h| format!(", kept at {h}")).unwrap_or_default()
    );
    for rep in r["reports"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        outln!(
            "  {:<18} {:>7.1} ms  ({} KiB of HTML)",
            rep["report"].as_str().unwrap_or(""),
            f(&rep["seconds"]) * 1000.0,
            rep["html_bytes"].as_u64().unwrap_or(0) / 1024
        );
    }
    outln!(
        "  all {} reports, built and rendered: {:.1} ms (goal < {:.0} ms); status {:.1} ms (goal < {:.0} ms), as a whole `systrade report status` process {:.1} ms{}",
        r["reports"].as_array().map_or(0, Vec::len),
        f(&r["all_seconds"]) * 1000.0,
        GOAL_ALL_SECONDS * 1000.0,
        f(&r["status_seconds"]) * 1000.0,
        GOAL_STATUS_SECONDS * 1000.0,
        f(&r["status_process_seconds"]) * 1000.0,
        if r["goals_met"] == true { "" } else { "  GOALS NOT MET" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trading_days_are_the_weekdays_up_to_the_last_day() {
        let d = trading_days(6);
        assert_eq!(d.len(), 6);
        assert_eq!(d.last(), NaiveDate::from_ymd_opt(2025, 6, 27).as_ref());
        // Friday 20 June, then Monday 23 to Friday 27: the weekend left out.
        assert_eq!(d.first(), NaiveDate::from_ymd_opt(2025, 6, 20).as_ref());
        assert!(d
            .iter()
            .all(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)));
    }

    #[test]
    fn the_trading_workflow_is_daily_without_reports_cleaners_and_backup() {
        let text = trading_workflow().unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let nodes = doc["node"].as_array().unwrap();
        let tasks: Vec<&str> = nodes.iter().map(|n| n["task"].as_str().unwrap()).collect();
        assert!(tasks.contains(&"run_stack_handler"), "{tasks:?}");
        assert!(tasks.contains(&"update_historical_prices"), "{tasks:?}");
        assert!(!tasks.iter().any(|t| NOT_TRADING.contains(t)), "{tasks:?}");
        assert_eq!(doc["workflow"]["name"].as_str(), Some(WORKFLOW));
        // Every `after` of a kept node names a kept node.
        let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
        for n in nodes {
            for a in n
                .get("after")
                .and_then(|a| a.as_array())
                .into_iter()
                .flatten()
            {
                assert!(ids.contains(&a.as_str().unwrap()), "{a} in {text}");
            }
        }
    }
}
