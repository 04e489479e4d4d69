//! `systrade demo`: a fresh home, then the shipped daily workflow end to end on the simulated
//! market (SQLite run store; the simulated broker once it exists), and where to look. The demo
//! home's `config.toml` limits the instruments and the price history so it finishes in seconds.

use super::context::{Ctx, GlobalOpts};
use super::run::execute;
use super::CliError;
use crate::engine::executor::RunRequest;
use crate::engine::store::RunStore;
use anyhow::Context as _;

pub async fn demo(opts: &GlobalOpts, json_out: bool) -> anyhow::Result<i32> {
    let home = match &opts.home {
        Some(h) => h.clone(),
        None => std::env::temp_dir().join(format!(
            "systrade-demo-{}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S")
        )),
    };
    if home.join("systrade.db").exists() {
        return Err(CliError::Invalid(format!(
            "{} already holds a systrade home; the demo needs a fresh one (pass another --home)",
            home.display()
        ))
        .into());
    }
    std::fs::create_dir_all(&home).with_context(|| format!("cannot create {}", home.display()))?;
    write_demo_config(&home)?;
    let opts = GlobalOpts {
        home: Some(home.clone()),
        ..opts.clone()
    };
    let ctx = Ctx::open(&opts).await?;
    if !json_out {
        eprintln!("demo home: {}", ctx.home.root.display());
    }
    let source = ctx.resolve("daily")?;
    let plan = ctx.plan(&source)?;
    let code = execute(&ctx, &plan, RunRequest::manual(), json_out).await?;
    let run = ctx
        .store
        .list_runs(Some("daily"), 1)
        .await?
        .into_iter()
        .next();
    if json_out {
        return Ok(code);
    }
    let home_arg = ctx.home.root.display();
    let program = program_name();
    outln!();
    outln!("results are in {home_arg}:");
    outln!("  run store    {}", ctx.home.db_path().display());
    outln!("  backups      {}", ctx.home.root.join("backups").display());
    outln!("  prices       {}", ctx.home.data_dir().display());
    outln!("  reports      {}", ctx.home.reports_dir().display());
    if let Some(r) = run {
        outln!("look at them with:");
        outln!("  {program} --home {home_arg} show {}", r.id);
        outln!("  {program} --home {home_arg} dag daily --run {}", r.id);
        outln!("  {program} --home {home_arg} logs --run {}", r.id);
    }
    outln!("and the prices with:");
    outln!("  {program} --home {home_arg} prices list");
    outln!("  {program} --home {home_arg} prices show SP500");
    outln!("  {program} --home {home_arg} prices show SP500 --multiple");
    outln!("and the reports with:");
    outln!("  {program} --home {home_arg} report list");
    outln!("  {program} --home {home_arg} report instrument_risk");
    outln!("and the optimal positions with:");
    outln!("  {program} --home {home_arg} positions optimal");
    Ok(code)
}

/// Instruments of the demo: a few from each asset class.
const DEMO_INSTRUMENTS: &[&str] = &["SP500", "US10", "EUR", "GOLD", "CORN", "V2X"];

/// Years of simulated price history the demo builds.
const DEMO_YEARS: i32 = 3;

/// Writes the demo's `config.toml` (unless the home already has one): a handful of instruments
/// and a simulated market starting [`DEMO_YEARS`] before the clock's now.
fn write_demo_config(home: &std::path::Path) -> anyhow::Result<()> {
    use chrono::Datelike;
    let path = home.join("config.toml");
    if path.exists() {
        return Ok(());
    }
    let today = super::context::clock()?.now().date_naive();
    let start = chrono::NaiveDate::from_ymd_opt(today.year() - DEMO_YEARS, today.month(), 1)
        .unwrap_or(today);
    let instruments: Vec<String> = DEMO_INSTRUMENTS
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect();
    let text = format!(
        "# Written by `systrade demo`: a few instruments and {DEMO_YEARS} years of simulated \
         history, so the demo is quick.\n\n[prices]\ninstruments = [{}]\n\n[market]\n\
         sim_start = \"{start}\"\n\n[strategies]\nweights = {{ demo = 1.0 }}\n\n\
         # The simulated prices stand still: a passive limit would wait for its time-out.\n\
         [execution]\npassive_timeout_seconds = 1.0\ntotal_timeout_seconds = 10.0\npoll_seconds = 0.2\n",
        instruments.join(", ")
    );
    write_demo_strategy(home)?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `<home>/strategies/demo.toml`: the shipped chapter-15 strategy over the demo's
/// instruments, equally weighted.
fn write_demo_strategy(home: &std::path::Path) -> anyhow::Result<()> {
    let (_, shipped) = crate::shipped::STRATEGIES
        .iter()
        .find(|(n, _)| *n == "chapter15_equal_weights")
        .context("the shipped chapter-15 strategy is missing")?;
    let head = shipped
        .split("[portfolio.instruments]")
        .next()
        .unwrap_or(shipped)
        .replace("name = \"chapter15_equal_weights\"", "name = \"demo\"");
    let weight = 1.0 / DEMO_INSTRUMENTS.len() as f64;
    let mut text = format!(
        "# Written by `systrade demo`: the shipped chapter-15 strategy over the demo's \
         instruments.\n{head}[portfolio.instruments]\n"
    );
    for code in DEMO_INSTRUMENTS {
        text.push_str(&format!("{code} = {weight}\n"));
    }
    let dir = home.join("strategies");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("demo.toml");
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `systrade` when that name on PATH is this program, else the full path of this executable
/// (as after `cargo run`), so the printed commands work when pasted.
fn program_name() -> String {
    let Ok(me) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return "systrade".into();
    };
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("systrade"))
            .find(|p| p.is_file())
            .and_then(|p| p.canonicalize().ok())
    });
    if on_path.as_ref() == Some(&me) {
        "systrade".into()
    } else {
        me.display().to_string()
    }
}
