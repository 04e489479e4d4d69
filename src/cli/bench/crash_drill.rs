//! `systrade bench --crash-drill N`: the shipped daily workflow killed with SIGKILL at random
//! moments of its day, then recovered as an operator would (`systrade startup`, then
//! `systrade rerun --last`), and the home compared with one that ran the same day without a
//! crash.
//!
//! The drill's home collects two instruments on the simulated market and broker and has traded
//! one day (Thursday); every trial starts from a copy of it and runs Friday's `run daily` as its
//! own process. The trials take the day's stages in turn (prices, capital, backtest, order
//! generator, stack handler, reports, cleaners, backup): each waits for the stage's first node to
//! start and kills the runner after a random part (seeded) of the time that stage took in the
//! reference run. What was running when it died is read from the run store before `startup`.
//!
//! After each trial, against the reference: strategy, contract and broker positions equal, and
//! no break; the broker's fills per contract equal and booked once; the broker's orders exactly
//! ours (none sent twice, none refused; an order the recovery found past its time-out is
//! cancelled and its rest sent anew, as the stack handler does); every price file byte for byte equal and each strategy's newest backtest state equal;
//! no run or node left `running`; every report under its final name whole; every backup under
//! its final name a complete backup (`systrade backup verify` passes).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Thursday's evening: the day the drill's home has traded before the trials.
const FIRST_DAY: &str = "2024-06-27T23:30:00Z";
/// Friday's evening: the day every trial runs, killed.
const DRILL_DAY: &str = "2024-06-28T23:30:00Z";
/// The operator's recovery, a minute later.
const RECOVERY: &str = "2024-06-28T23:31:00Z";
const CONFIG: &str =
    "[prices]\ninstruments = [\"SP500\", \"CORN\"]\n\n[market]\nsim_start = \"2022-06-01\"\n";

/// The stages the trials aim at, in the order of the day.
pub(crate) const STAGES: [&str; 8] = [
    "prices",
    "capital",
    "backtest",
    "order_generator",
    "stack_handler",
    "reports",
    "cleaners",
    "backup",
];

/// Which stage of the daily workflow a node belongs to.
pub(crate) fn stage_of(node: &str) -> &'static str {
    match node {
        n if n.starts_with("report_") => "reports",
        n if n.starts_with("clean_") => "cleaners",
        n if n.contains("backup") => "backup",
        "run_systems" => "backtest",
        "run_strategy_order_generator" => "order_generator",
        "run_stack_handler" => "stack_handler",
        n if n.contains("capital") => "capital",
        n if n.starts_with("update_") => "prices",
        _ => "other",
    }
}

pub(super) async fn bench_crash_drill(
    trials: usize,
    seed: u64,
    only_stage: Option<&str>,
    keep_failed: Option<&Path>,
    progress: bool,
) -> anyhow::Result<Value> {
    let exe = std::env::current_exe().context("cannot find the systrade executable")?;
    let work = tempfile::tempdir()?;
    let base = work.path().join("base");
    std::fs::create_dir_all(&base)?;
    std::fs::write(base.join("config.toml"), CONFIG)?;
    if progress {
        eprintln!("crash drill: building the home (one day of trading)…");
    }
    systrade(&exe, &base, FIRST_DAY, &["run", "daily"])?;

    if progress {
        eprintln!("crash drill: the reference run…");
    }
    let reference_home = work.path().join("reference");
    copy_tree(&base, &reference_home)?;
    let reference = run_daily(&exe, &reference_home, None)?;
    anyhow::ensure!(
        reference.exit == Some(0),
        "the reference run failed:\n{}",
        reference.tail
    );
    let windows = stage_windows(&reference.lines);
    let expected = snapshot(&exe, &reference_home).await?;

    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let trial_home = work.path().join("trial");
    let mut results = Vec::new();
    let mut hit: BTreeMap<String, usize> = BTreeMap::new();
    let started = Instant::now();
    for i in 0..trials {
        let stage = only_stage.unwrap_or(STAGES[i % STAGES.len()]);
        let window = windows.get(stage).copied().unwrap_or_default();
        let delay = window.mul_f64(rng.gen_range(0.0..1.0));
        if trial_home.exists() {
            std::fs::remove_dir_all(&trial_home)?;
        }
        copy_tree(&base, &trial_home)?;
        let t = Instant::now();
        let killed = run_daily(&exe, &trial_home, Some((stage, delay)))?;
        let running = running_nodes(&trial_home).await?;
        let stages: std::collections::BTreeSet<&str> =
            running.iter().map(|n| stage_of(n)).collect();
        for stage in stages {
            *hit.entry(stage.to_string()).or_default() += 1;
        }
        let recovery = recover(&exe, &trial_home);
        let (problems, leftovers) = match recovery {
            Ok(()) => {
                let got = snapshot(&exe, &trial_home).await?;
                (compare(&expected, &got), got.leftovers)
            }
            Err(e) => (vec![format!("recovery failed: {e:#}")], Vec::new()),
        };
        let seconds = t.elapsed().as_secs_f64();
        let kept = match keep_failed {
            Some(dir) if !problems.is_empty() => {
                let to = dir.join(format!("trial-{}", i + 1));
                if to.exists() {
                    std::fs::remove_dir_all(&to)?;
                }
                copy_tree(&trial_home, &to)?;
                Some(to.display().to_string())
            }
            _ => None,
        };
        if progress {
            eprintln!(
                "trial {}/{trials}: aimed at {stage} +{:.0} ms, killed during [{}]: {}",
                i + 1,
                delay.as_secs_f64() * 1000.0,
                running.join(", "),
                if problems.is_empty() {
                    "ok".to_string()
                } else {
                    problems.join("; ")
                }
            );
        }
        results.push(json!({
            "trial": i + 1,
            "aimed_at": stage,
            "delay_ms": delay.as_secs_f64() * 1000.0,
            "killed": killed.exit.is_none(),
            "running_at_kill": running,
            "ok": problems.is_empty(),
            "problems": problems,
            "leftover_temporary_files": leftovers,
            "seconds": seconds,
            "kept_home": kept,
        }));
    }
    let passed = results.iter().filter(|r| r["ok"] == true).count();
    let killed = results.iter().filter(|r| r["killed"] == true).count();
    Ok(json!({
        "trials": trials,
        "seed": seed,
        "passed": passed,
        "killed": killed,
        "stages_hit": hit,
        "reference_seconds": reference.seconds,
        "seconds": started.elapsed().as_secs_f64(),
        "results": results,
    }))
}

/// One `systrade` command on `home` with the clock at `now`; it must succeed.
fn systrade(exe: &Path, home: &Path, now: &str, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let out = Command::new(exe)
        .arg("--home")
        .arg(home)
        .args(args)
        .env("SYSTRADE_NOW", now)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "`systrade {}` failed ({}):\n{}",
        args.join(" "),
        out.status,
        tail(&String::from_utf8_lossy(&out.stderr))
    );
    Ok(out.stdout)
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

struct DailyRun {
    /// The exit code; `None` when it was killed.
    exit: Option<i32>,
    /// Each stderr line with when it arrived, from the start.
    lines: Vec<(Duration, String)>,
    seconds: f64,
    tail: String,
}

/// Friday's `run daily` on `home`. With `kill`, SIGKILLs it `delay` after the stage's first node
/// started (at once if the run ends first, nothing to kill).
fn run_daily(exe: &Path, home: &Path, kill: Option<(&str, Duration)>) -> anyhow::Result<DailyRun> {
    let mut child = Command::new(exe)
        .arg("--home")
        .arg(home)
        .args(["run", "daily"])
        .env("SYSTRADE_NOW", DRILL_DAY)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let start = Instant::now();
    let stderr = child.stderr.take().context("no stderr")?;
    let (tx, rx) = mpsc::channel::<(Duration, String)>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send((start.elapsed(), strip_ansi(&line))).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    if let Some((stage, delay)) = kill {
        // Wait for the stage to start (or the run to end).
        let mut at = None;
        while at.is_none() {
            match rx.recv() {
                Ok((t, line)) => {
                    if started_node(&line).is_some_and(|n| stage_of(n) == stage) {
                        at = Some(Instant::now());
                    }
                    lines.push((t, line));
                }
                Err(_) => break,
            }
        }
        if let Some(at) = at {
            let until = at + delay;
            while Instant::now() < until {
                match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                    Ok(l) => lines.push(l),
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        // SAFETY: kill only sends a signal to our own child process.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
        }
    }
    let status = child.wait()?;
    let _ = reader.join();
    lines.extend(rx.try_iter());
    let tail_text = lines
        .iter()
        .map(|(_, l)| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(DailyRun {
        exit: status.code(),
        seconds: start.elapsed().as_secs_f64(),
        tail: tail(&tail_text),
        lines,
    })
}

/// The node of a "[run N NODE] started" log line.
fn started_node(line: &str) -> Option<&str> {
    node_event(line, "] started")
}

fn node_event<'a>(line: &'a str, event: &str) -> Option<&'a str> {
    let rest = &line[line.find("[run ")? + 5..];
    let end = rest.find(event)?;
    let (_, node) = rest[..end].split_once(' ')?;
    (!node.contains(' ')).then_some(node)
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// How long each stage took in the reference run: from its first node's start to its last
/// node's end.
fn stage_windows(lines: &[(Duration, String)]) -> BTreeMap<&'static str, Duration> {
    let mut first: BTreeMap<&'static str, Duration> = BTreeMap::new();
    let mut last: BTreeMap<&'static str, Duration> = BTreeMap::new();
    for (t, line) in lines {
        if let Some(n) = started_node(line) {
            first.entry(stage_of(n)).or_insert(*t);
        }
        for event in ["] succeeded", "] failed"] {
            if let Some(n) = node_event(line, event) {
                last.insert(stage_of(n), *t);
            }
        }
    }
    first
        .into_iter()
        .map(|(s, t0)| {
            let t1 = last.get(s).copied().unwrap_or(t0);
            (s, t1.saturating_sub(t0).max(Duration::from_millis(1)))
        })
        .collect()
}

/// `startup`, then `rerun --last` of the killed run, or a new `run daily` when it died before
/// its run was recorded.
fn recover(exe: &Path, home: &Path) -> anyhow::Result<()> {
    systrade(exe, home, RECOVERY, &["startup"])?;
    let runs: Value = serde_json::from_slice(&systrade(exe, home, RECOVERY, &["runs", "--json"])?)?;
    let recorded = runs.as_array().map_or(0, |r| r.len());
    if recorded >= 2 {
        systrade(exe, home, RECOVERY, &["rerun", "--last"])?;
    } else {
        systrade(exe, home, RECOVERY, &["run", "daily"])?;
    }
    Ok(())
}

async fn connect(home: &Path) -> anyhow::Result<sqlx::SqlitePool> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(home.join("systrade.db"))
        .read_only(true);
    Ok(sqlx::SqlitePool::connect_with(opts).await?)
}

async fn rows(pool: &sqlx::SqlitePool, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
    use sqlx::Row;
    Ok(sqlx::query(sql)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.try_get::<String, _>(i)
                        .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect())
}

/// The nodes the killed run left `running` (what it was doing when it died).
async fn running_nodes(home: &Path) -> anyhow::Result<Vec<String>> {
    let pool = connect(home).await?;
    let nodes = rows(
        &pool,
        "SELECT node_id FROM run_nodes WHERE state = 'running' ORDER BY node_id",
    )
    .await?;
    pool.close().await;
    Ok(nodes
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect())
}

/// What a trial must leave as the reference left it.
#[derive(Debug, Default)]
struct Snapshot {
    values: BTreeMap<String, String>,
    problems: Vec<String>,
    /// Temporary files a killed writer left beside final names (never under one).
    leftovers: Vec<String>,
}

/// A writer's temporary file (`.NAME.tmp-…`, `.NAME.partial`): written whole, then renamed.
fn is_temporary(rel: &str) -> bool {
    Path::new(rel)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

async fn snapshot(exe: &Path, home: &Path) -> anyhow::Result<Snapshot> {
    let mut s = Snapshot::default();
    let positions: Value =
        serde_json::from_slice(&systrade(exe, home, RECOVERY, &["positions", "--json"])?)?;
    for key in [
        "strategy_positions",
        "contract_positions",
        "broker_positions",
        "breaks",
    ] {
        s.values
            .insert(format!("positions.{key}"), positions[key].to_string());
    }
    let pool = connect(home).await?;
    let queries = [
        (
            "broker fills",
            "SELECT instrument, contract, SUM(quantity) FROM sim_executions GROUP BY instrument, contract ORDER BY 1, 2",
        ),
        (
            "booked fills",
            "SELECT b.instrument, b.contract, SUM(e.quantity) FROM order_executions e \
             JOIN broker_orders b ON b.id = e.broker_order_id GROUP BY 1, 2 ORDER BY 1, 2",
        ),
    ];
    for (name, sql) in queries {
        s.values
            .insert(name.to_string(), format!("{:?}", rows(&pool, sql).await?));
    }
    let checks = [
        (
            "a broker order refused",
            "SELECT order_ref FROM broker_orders WHERE status = 'rejected'",
        ),
        (
            "a fill recorded twice by the broker",
            "SELECT exec_id FROM sim_executions GROUP BY exec_id HAVING COUNT(*) > 1",
        ),
        (
            "a run left running",
            "SELECT id FROM runs WHERE status = 'running'",
        ),
        (
            "a node left running",
            "SELECT run_id || ' ' || node_id FROM run_nodes WHERE state = 'running'",
        ),
    ];
    // Every order the broker has is one of ours, sent once, and every order we sent it has.
    let ours = rows(
        &pool,
        "SELECT order_ref FROM broker_orders WHERE order_ref IS NOT NULL AND order_type <> 'balance' ORDER BY 1",
    )
    .await?;
    let theirs = rows(&pool, "SELECT order_ref FROM sim_orders ORDER BY 1").await?;
    if ours != theirs {
        s.problems.push(format!(
            "our broker orders {ours:?} are not the broker's {theirs:?}"
        ));
    }
    for (what, sql) in checks {
        let found = rows(&pool, sql).await?;
        if !found.is_empty() {
            s.problems.push(format!("{what}: {found:?}"));
        }
    }
    pool.close().await;
    for (rel, hash) in file_hashes(&home.join("data"))? {
        if is_temporary(&rel) {
            s.leftovers.push(format!("data/{rel}"));
        } else {
            s.values.insert(format!("data/{rel}"), hash);
        }
    }
    for (strategy, hash) in newest_backtest_states(&home.join("backtests"))? {
        s.values.insert(format!("backtest state {strategy}"), hash);
    }
    s.problems.extend(partial_reports(&home.join("reports"))?);
    s.problems
        .extend(incomplete_backups(&home.join("backups")).await?);
    Ok(s)
}

fn compare(expected: &Snapshot, got: &Snapshot) -> Vec<String> {
    let mut problems = got.problems.clone();
    for (key, want) in &expected.values {
        match got.values.get(key) {
            None => problems.push(format!("{key} missing")),
            Some(v) if v != want => {
                problems.push(format!("{key}: {v} where the reference has {want}"))
            }
            Some(_) => {}
        }
    }
    for key in got.values.keys() {
        if !expected.values.contains_key(key) {
            problems.push(format!("{key} is not in the reference"));
        }
    }
    problems
}

/// Every file under `dir` (relative path → SHA-256).
fn file_hashes(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for path in files_under(dir)? {
        let rel = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        out.insert(rel, sha256_of(&path)?);
    }
    Ok(out)
}

fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Each strategy's newest backtest state (its files' hashes; the names carry the time).
fn newest_backtest_states(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir)? {
        let strategy_dir = entry?.path();
        if !strategy_dir.is_dir() {
            continue;
        }
        let strategy = strategy_dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut stems: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for f in files_under(&strategy_dir)? {
            if let Some(stem) = f.file_stem() {
                stems
                    .entry(stem.to_string_lossy().to_string())
                    .or_default()
                    .push(f);
            }
        }
        if let Some((_, files)) = stems.into_iter().next_back() {
            let mut hashes = Vec::new();
            for f in files {
                let ext = f.extension().map(|e| e.to_string_lossy().to_string());
                hashes.push(format!("{}:{}", ext.unwrap_or_default(), sha256_of(&f)?));
            }
            out.insert(strategy, hashes.join(" "));
        }
    }
    Ok(out)
}

/// Reports under their final names that are not whole.
fn partial_reports(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for f in files_under(dir)? {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if name.ends_with(".html") {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            if !(text.starts_with("<!DOCTYPE html>") && text.trim_end().ends_with("</html>")) {
                out.push(format!(
                    "a partial report under its final name: {}",
                    f.display()
                ));
            }
        }
    }
    Ok(out)
}

/// Backups under their final names that are not complete: each must verify (every file's
/// checksum, the store's integrity, every Parquet file read).
async fn incomplete_backups(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with('.') || !path.is_dir() {
            continue;
        }
        let report = crate::backup::verify_backup(&path).await;
        if !report.ok() {
            out.push(format!(
                "an incomplete backup under its final name: {} ({:?})",
                path.display(),
                report.problems
            ));
        }
    }
    Ok(out)
}

/// A copy of a home that no process is using (the run store's WAL files with it).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for f in files_under(from)? {
        let rel = f.strip_prefix(from).unwrap_or(&f);
        let dest = to.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&f, &dest)
            .with_context(|| format!("cannot copy {} to {}", f.display(), dest.display()))?;
    }
    Ok(())
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    crate::backup::hash_file(path)
        .map(|(_, hash)| hash)
        .with_context(|| format!("cannot read {}", path.display()))
}

/// The drill's figures as text.
pub(super) fn print(d: &Value) -> anyhow::Result<()> {
    outln!(
        "crash drill: {} of {} trials recovered to the uninterrupted day ({} killed before they ended; seed {}; {:.0} s, the day itself {:.1} s)",
        d["passed"],
        d["trials"],
        d["killed"],
        d["seed"],
        d["seconds"].as_f64().unwrap_or(f64::NAN),
        d["reference_seconds"].as_f64().unwrap_or(f64::NAN)
    );
    if let Some(hit) = d["stages_hit"].as_object() {
        let stages: Vec<String> = hit.iter().map(|(s, n)| format!("{s} {n}")).collect();
        outln!("  trials killed during each stage: {}", stages.join(", "));
    }
    for r in d["results"].as_array().into_iter().flatten() {
        if r["ok"] != true {
            outln!(
                "  trial {} (aimed at {}, killed during {}): {}",
                r["trial"],
                r["aimed_at"].as_str().unwrap_or(""),
                r["running_at_kill"],
                r["problems"]
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_events_are_read_from_the_runners_log_lines() {
        let line = "23:34:51 INFO  [run 2 update_sampled_contracts] started";
        assert_eq!(started_node(line), Some("update_sampled_contracts"));
        let done = "23:34:54 INFO  [run 2 run_stack_handler] succeeded attempts=1 executions=1";
        assert_eq!(node_event(done, "] succeeded"), Some("run_stack_handler"));
        assert_eq!(started_node("23:34:54 INFO  [run 2] run 2 succeeded"), None);
        assert_eq!(strip_ansi("\u{1b}[32mINFO\u{1b}[0m x"), "INFO x");
    }

    #[test]
    fn every_node_of_the_daily_workflow_has_a_stage() {
        let daily = crate::shipped::WORKFLOWS
            .iter()
            .find(|(name, _)| *name == "daily.toml")
            .map(|(_, text)| *text)
            .expect("daily");
        for line in daily.lines() {
            if let Some(id) = line.strip_prefix("id = \"") {
                let id = id.trim_end_matches('"');
                assert_ne!(stage_of(id), "other", "{id}");
            }
        }
    }

    #[test]
    fn a_trial_differing_from_the_reference_is_reported() {
        let mut want = Snapshot::default();
        want.values
            .insert("positions.contract_positions".into(), "[1]".into());
        want.values.insert("data/a.parquet".into(), "h1".into());
        let mut got = Snapshot::default();
        got.values
            .insert("positions.contract_positions".into(), "[2]".into());
        got.values.insert("data/b.parquet".into(), "h2".into());
        got.problems.push("a run left running: [[\"3\"]]".into());
        let problems = compare(&want, &got);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("a run left running"));
        assert!(problems[1].starts_with("data/a.parquet missing"));
        assert!(problems[2].starts_with("positions.contract_positions: [2] where"));
        assert!(problems[3].starts_with("data/b.parquet is not in the reference"));
        assert!(compare(&want, &want).is_empty());
    }
}
