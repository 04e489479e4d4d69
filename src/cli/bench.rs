//! `systrade bench`: engine overhead on this machine. Runs a no-op workflow of N nodes, wide and
//! as a chain, with every attempt durably recorded in a fresh run store, and validates a large
//! generated DAG. Build with `--release` for meaningful figures.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::print_json;
use crate::app::{load_catalogue, App};
use crate::engine::executor::{RunRequest, Silent};
use crate::engine::plan::{build_plan, Plan};
use crate::engine::spec::parse_workflow;
use crate::engine::store::{RunStatus, RunStore};

mod backtest_shown;
mod backup;
mod crash_drill;
mod doctor;
mod profiled;
mod reports;
mod stacks;

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("home_benches").args(["reports", "backup", "doctor"]).multiple(true)))]
pub struct BenchArgs {
    /// Nodes in the executed workflows.
    #[arg(long, default_value_t = 1000)]
    pub nodes: usize,
    /// Nodes in the validated DAG.
    #[arg(long, default_value_t = 10_000)]
    pub validate_nodes: usize,
    /// Also measure prices: import this pysystemtrade data directory and regenerate adjusted
    /// prices of every instrument from the store.
    #[arg(long, value_name = "DIR")]
    pub prices: Option<std::path::PathBuf>,
    /// With --prices: also run the shipped chapter-15 strategy end to end over the imported
    /// data (capital tasks, then run_systems: read prices, compute, store optimal positions and
    /// the backtest state), and report its time and peak memory.
    #[arg(long, requires = "prices")]
    pub backtest: bool,
    /// Also measure the simulated broker: market order round trips (place → filled → execution
    /// recorded, each durably committed) per second.
    #[arg(long)]
    pub broker: bool,
    /// With --broker: orders per repetition.
    #[arg(long, default_value_t = 10_000)]
    pub orders: usize,
    /// Also measure the order stacks: instrument orders per second through the instrument,
    /// contract and broker stacks to the simulated broker and back as fills, every state change
    /// durably committed (a fresh temporary home per repetition).
    #[arg(long)]
    pub order_stacks: bool,
    /// With --order-stacks: instrument orders per repetition.
    #[arg(long, default_value_t = 2000, requires = "order_stacks")]
    pub stack_orders: usize,
    /// Also measure the reports: every report over a home of 32 instruments after `--days`
    /// trading days on the simulated market and broker (the bench builds it: minutes), built and
    /// rendered as HTML, and the status report as a whole process.
    #[arg(long)]
    pub reports: bool,
    /// Also measure backups: a whole-home backup, an incremental one with no price change,
    /// verify and restore, over the home of --reports (32 instruments, --days trading days).
    #[arg(long)]
    pub backup: bool,
    /// With --reports, --backup or --doctor: trading days the built home has traded (default
    /// 250 with --reports, else 21: a month).
    #[arg(long, requires = "home_benches")]
    pub days: Option<usize>,
    /// With --reports, --backup or --doctor: build the home here and keep it, or reuse the one a previous
    /// bench left here (default: a temporary home, deleted after).
    #[arg(long, value_name = "DIR", requires = "home_benches")]
    pub reports_home: Option<std::path::PathBuf>,
    /// Also run the crash drill: N trials of the shipped daily workflow killed with SIGKILL at a
    /// random moment of one of its stages (prices, capital, backtest, order generator, stack
    /// handler, reports, cleaners, backup), recovered with `startup` and `rerun --last`, and
    /// compared with an uninterrupted run. Exits 1 when a trial differs.
    #[arg(long, value_name = "N")]
    pub crash_drill: Option<usize>,
    /// With --crash-drill: the seed of the kill moments (the same seed aims at the same moments).
    #[arg(long, default_value_t = 1, requires = "crash_drill")]
    pub seed: u64,
    /// With --crash-drill: aim every trial at this stage (prices, capital, backtest,
    /// order_generator, stack_handler, reports, cleaners, backup) instead of each in turn.
    #[arg(long, value_name = "STAGE", requires = "crash_drill", value_parser = clap::builder::PossibleValuesParser::new(crash_drill::STAGES))]
    pub stage: Option<String>,
    /// With --crash-drill: keep the home of each trial that did not recover here (as
    /// DIR/trial-N), to look at.
    #[arg(long, value_name = "DIR", requires = "crash_drill")]
    pub keep_failed: Option<std::path::PathBuf>,
    /// Also measure `systrade doctor` as a process on a home of 32 instruments after `--days`
    /// trading days (the --reports home; the bench builds it: minutes).
    #[arg(long)]
    pub doctor: bool,
    /// Repetitions (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A generated workflow: `wide` (all independent), `chain` (each after the previous) or `dag`
/// (each after up to three earlier nodes).
pub fn generated_workflow(name: &str, shape: &str, n: usize, concurrency: usize) -> String {
    let mut s = format!("[workflow]\nname = \"{name}\"\nmax_concurrency = {concurrency}\n\n");
    for i in 0..n {
        let after = match shape {
            "chain" if i > 0 => format!("after = [\"n{}\"]\n", i - 1),
            "dag" if i > 0 => {
                let mut deps: Vec<usize> = [i - 1, i / 2, (i * 7 + 3) % i].into_iter().collect();
                deps.sort_unstable();
                deps.dedup();
                format!(
                    "after = [{}]\n",
                    deps.iter()
                        .map(|d| format!("\"n{d}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            _ => String::new(),
        };
        let _ = write!(s, "[[node]]\nid = \"n{i}\"\ntask = \"noop\"\n{after}\n");
    }
    s
}

fn plan_of(ctx: &Ctx, name: &str, text: &str) -> anyhow::Result<Plan<App>> {
    let catalogue = load_catalogue(&ctx.home)?;
    let spec = parse_workflow(&format!("{name}.toml"), text.as_bytes(), Some(name))?;
    Ok(build_plan(
        spec,
        &catalogue,
        &crate::tasks::registry(),
        None,
    )?)
}

pub async fn bench(opts: &GlobalOpts, a: BenchArgs) -> anyhow::Result<i32> {
    let dir = tempfile::tempdir()?;
    let bench_opts = GlobalOpts {
        home: Some(dir.path().to_path_buf()),
        verbose: false,
        quiet: true,
    };
    let ctx = Ctx::open(&bench_opts).await?;
    let _ = opts;
    let mut results = Vec::new();
    for shape in ["wide", "chain"] {
        let name = format!("bench_{shape}");
        let plan = plan_of(&ctx, &name, &generated_workflow(&name, shape, a.nodes, 16))?;
        let best = best_run(&ctx, &plan, a.repeat.max(1), |recorded| {
            anyhow::ensure!(
                recorded == a.nodes,
                "expected {} recorded attempts, found {recorded}",
                a.nodes
            );
            Ok(())
        })
        .await?;
        results.push(json!({ "workflow": shape, "nodes": a.nodes, "seconds": best, "ms_per_node": best * 1000.0 / a.nodes as f64 }));
    }
    let text = generated_workflow("bench_validate", "dag", a.validate_nodes, 4);
    let mut best_parse = f64::MAX;
    let mut best_total = f64::MAX;
    for _ in 0..a.repeat.max(1) {
        let catalogue = load_catalogue(&ctx.home)?;
        let t = Instant::now();
        let spec = parse_workflow(
            "bench_validate.toml",
            text.as_bytes(),
            Some("bench_validate"),
        )?;
        let parsed = t.elapsed().as_secs_f64();
        let plan = build_plan(spec, &catalogue, &crate::tasks::registry(), None)?;
        let total = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            plan.dag.len() == a.validate_nodes,
            "validated DAG has {} nodes",
            plan.dag.len()
        );
        best_parse = best_parse.min(parsed);
        best_total = best_total.min(total);
    }
    let validation = json!({ "nodes": a.validate_nodes, "bytes": text.len(), "parse_seconds": best_parse, "total_seconds": best_total });
    let prices = match &a.prices {
        Some(dir) => Some(bench_prices(dir, &ctx.home.data_dir(), a.repeat.max(1))?),
        None => None,
    };
    let backtest = if a.backtest {
        Some(bench_backtest(&ctx, a.repeat.max(1)).await?)
    } else {
        None
    };
    let broker = if a.broker {
        Some(bench_broker(&ctx, a.orders.max(1), a.repeat.max(1)).await?)
    } else {
        None
    };
    let order_stacks = if a.order_stacks {
        let reference = Arc::new(crate::adapters::reference_files::load_reference_data(
            &ctx.home.reference_dir(),
        )?);
        Some(stacks::bench_order_stacks(reference, a.stack_orders.max(1), a.repeat.max(1)).await?)
    } else {
        None
    };
    let progress = !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    // One home for the benches that need a traded one, built once (or found in --reports-home).
    let home = if a.reports || a.doctor || a.backup {
        let days = a.days.unwrap_or(if a.reports { 250 } else { 21 });
        Some(reports::bench_home(
            days,
            a.reports_home.as_ref(),
            progress,
        )?)
    } else {
        None
    };
    let reports = match (&home, a.reports) {
        (Some(h), true) => Some(reports::bench_reports(h, a.repeat.max(1)).await?),
        _ => None,
    };
    let drill = match a.crash_drill {
        Some(n) => Some(
            crash_drill::bench_crash_drill(
                n,
                a.seed,
                a.stage.as_deref(),
                a.keep_failed.as_deref(),
                progress,
            )
            .await?,
        ),
        None => None,
    };
    let drill_failed = drill.as_ref().is_some_and(|d| d["passed"] != d["trials"]);
    let doctor = match (&home, a.doctor) {
        (Some(h), true) => Some(doctor::bench_doctor(h, a.repeat.max(1))?),
        _ => None,
    };
    let backup = match (&home, a.backup) {
        (Some(h), true) => Some(backup::bench_backup(h, a.repeat.max(1)).await?),
        _ => None,
    };
    let release = !cfg!(debug_assertions);
    if a.json {
        print_json(&json!({
            "release_build": release,
            "runs": results,
            "validation": validation,
            "prices": prices,
            "backtest": backtest,
            "broker": broker,
            "order_stacks": order_stacks,
            "reports": reports,
            "crash_drill": drill,
            "doctor": doctor,
            "backup": backup,
        }))?;
    } else {
        if !release {
            outln!(
                "note: this is a debug build; use `cargo run --release -- bench` for real figures"
            );
        }
        for r in &results {
            outln!(
                "{:<6} {} no-op nodes, every attempt recorded: {:.3}s ({:.3} ms/node)",
                r["workflow"].as_str().unwrap_or(""),
                r["nodes"],
                r["seconds"].as_f64().unwrap_or(0.0),
                r["ms_per_node"].as_f64().unwrap_or(0.0)
            );
        }
        outln!(
            "validate a {}-node DAG ({} KiB): {:.1} ms (parse {:.1} ms)",
            a.validate_nodes,
            text.len() / 1024,
            best_total * 1000.0,
            best_parse * 1000.0
        );
        if let Some(p) = &prices {
            outln!(
                "import pysystemtrade data ({} series, {} rows): {:.2}s (check {:.2}s, write {:.2}s)",
                p["series"],
                p["rows"],
                p["import_seconds"].as_f64().unwrap_or(0.0),
                p["check_seconds"].as_f64().unwrap_or(0.0),
                p["write_seconds"].as_f64().unwrap_or(0.0)
            );
            outln!(
                "regenerate adjusted prices of {} instruments from the store: {:.3}s ({:.0}x faster than pysystemtrade's {PYSYSTEMTRADE_STITCH_SECONDS} s)",
                p["instruments"],
                p["regenerate_seconds"].as_f64().unwrap_or(0.0),
                PYSYSTEMTRADE_STITCH_SECONDS / p["regenerate_seconds"].as_f64().unwrap_or(f64::INFINITY)
            );
        }
        if let Some(b) = &backtest {
            let secs = b["end_to_end_seconds"].as_f64().unwrap_or(f64::NAN);
            outln!(
                "chapter-15 strategy, {} instruments, end to end (`systrade run systems`: capital, read prices, compute, store optimal positions and state): {:.3}s ({:.0}x pysystemtrade's {PYSYSTEMTRADE_BACKTEST_SECONDS} s), peak memory {} MB; compute only {:.3}s",
                b["instruments"],
                secs,
                PYSYSTEMTRADE_BACKTEST_SECONDS / secs,
                b["peak_rss_mb"],
                b["compute_seconds"].as_f64().unwrap_or(f64::NAN)
            );
            let (one, four) = (&b["shown"]["one"], &b["shown"]["four"]);
            let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
            outln!(
                "`backtest --instrument {}` as a process, the others remembered: {:.1} ms, peak memory {} MB (the first call, which runs all and remembers: {:.3}s)",
                one["instrument"].as_str().unwrap_or(""),
                f(&one["process_seconds"]) * 1000.0,
                one["peak_rss_mb"],
                f(&one["first_process_seconds"])
            );
            outln!(
                "four instruments ({}): process {:.1} ms, peak memory {} MB; compute {:.1} ms ({:.0}x pysystemtrade's {:.1} s for four)",
                four["instruments"].as_array().map(|a| a.iter().filter_map(|c| c.as_str()).collect::<Vec<_>>().join(" ")).unwrap_or_default(),
                f(&four["process_seconds"]) * 1000.0,
                four["peak_rss_mb"],
                f(&four["compute_seconds"]) * 1000.0,
                f(&four["pysystemtrade_seconds"]) / f(&four["compute_seconds"]),
                f(&four["pysystemtrade_seconds"])
            );
        }
        if let Some(b) = &broker {
            outln!(
                "simulated broker, {} market orders (place, fill, execution; one durable commit each): {:.3}s ({:.0} round trips/s)",
                b["orders"],
                b["seconds"].as_f64().unwrap_or(f64::NAN),
                b["round_trips_per_second"].as_f64().unwrap_or(f64::NAN)
            );
        }
        if let Some(s) = &order_stacks {
            print_order_stacks(s)?;
        }
        if let Some(r) = &reports {
            reports::print(r)?;
        }
        if let Some(d) = &drill {
            crash_drill::print(d)?;
        }
        if let Some(d) = &doctor {
            doctor::print(d)?;
        }
        if let Some(b) = &backup {
            backup::print(b)?;
        }
    }
    Ok(if drill_failed { 1 } else { 0 })
}

/// The order-stack figure and where its time went (calls of the handler's ports; the rest is
/// the handler's own work).
fn print_order_stacks(s: &serde_json::Value) -> anyhow::Result<()> {
    let secs = s["seconds"].as_f64().unwrap_or(f64::NAN);
    outln!(
        "order stacks, {} market instrument orders ({} strategies x {} instruments) through instrument, contract and broker stacks to the simulated broker and back as fills, every change committed: {:.3}s ({:.0} instrument orders/s; {} passes, inserts {:.3}s)",
        s["orders"],
        s["strategies"],
        s["instruments"],
        secs,
        s["orders_per_second"].as_f64().unwrap_or(f64::NAN),
        s["passes"],
        s["insert_seconds"].as_f64().unwrap_or(f64::NAN)
    );
    let mut accounted = 0.0;
    for p in s["profile"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let t = p["seconds"].as_f64().unwrap_or(0.0);
        accounted += t;
        outln!(
            "  {:<34} {:>7} calls {:>8.3}s {:>5.1}% {:>9.1} us/call",
            p["what"].as_str().unwrap_or(""),
            p["calls"],
            t,
            100.0 * t / secs,
            p["us_per_call"].as_f64().unwrap_or(f64::NAN)
        );
    }
    outln!(
        "  {:<34} {:>13} {:>8.3}s {:>5.1}%",
        "(handler's own work)",
        "",
        secs - accounted,
        100.0 * (secs - accounted) / secs
    );
    Ok(())
}

/// Sim broker round trips: `orders` market orders (alternately buy and sell) against a fixed
/// quote, on the bench home's run store; each is placed, must come back filled, and the
/// executions must all be recorded. The best of `repeat` runs.
async fn bench_broker(
    ctx: &Ctx,
    orders: usize,
    repeat: usize,
) -> anyhow::Result<serde_json::Value> {
    use crate::adapters::sim_broker::{ManualQuotes, SimBroker, SimFaults};
    use crate::domain::broker::{Broker, OrderPricing, OrderRequest, OrderStatus};
    let reference = Arc::new(crate::adapters::reference_files::load_reference_data(
        &ctx.home.reference_dir(),
    )?);
    let code = reference
        .instruments
        .keys()
        .next()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no instruments in the reference data"))?;
    let contract = crate::domain::contract::ContractId::monthly(2030, 12);
    let quotes = Arc::new(ManualQuotes::default());
    quotes.set(&code, contract, 99.0, 101.0, ctx.clock.now());
    let mut best = f64::MAX;
    for run in 0..repeat {
        let broker = SimBroker::new(
            ctx.store.pool().clone(),
            quotes.clone(),
            reference.clone(),
            ctx.clock.clone(),
            1_000_000.0,
            "USD",
            SimFaults::default(),
        );
        let before = broker.executions(None).await?.len();
        let t = Instant::now();
        for i in 0..orders {
            let state = broker
                .place_order(&OrderRequest {
                    order_ref: format!("bench-{run}-{i}"),
                    instrument: code.clone(),
                    contract,
                    quantity: if i % 2 == 0 { 1 } else { -1 },
                    pricing: OrderPricing::Market,
                })
                .await?;
            anyhow::ensure!(
                state.status == OrderStatus::Filled,
                "order {i} came back {:?}",
                state.status
            );
        }
        let elapsed = t.elapsed().as_secs_f64();
        let recorded = broker.executions(None).await?.len() - before;
        anyhow::ensure!(
            recorded == orders,
            "expected {orders} executions, found {recorded}"
        );
        best = best.min(elapsed);
    }
    Ok(json!({
        "orders": orders,
        "seconds": best,
        "round_trips_per_second": orders as f64 / best,
    }))
}

/// pysystemtrade's compute for the 32-instrument golden strategy on this machine (the issue).
pub(super) const PYSYSTEMTRADE_BACKTEST_SECONDS: f64 = 84.0;

/// The best wall time of `repeat` runs of `plan`, each required to succeed; `check` gets the
/// number of attempts each run recorded.
async fn best_run(
    ctx: &Ctx,
    plan: &Plan<App>,
    repeat: usize,
    check: impl Fn(usize) -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..repeat {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let executor = ctx.executor(Arc::new(Silent), rx);
        let t = Instant::now();
        let summary = executor.execute(plan, RunRequest::manual()).await?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            summary.status == RunStatus::Succeeded,
            "bench run {} of `{}` did not succeed",
            summary.run_id,
            plan.spec.name
        );
        check(ctx.store.attempts(summary.run_id).await?.len())?;
        best = best.min(secs);
    }
    Ok(best)
}

/// The shipped strategy over the imported data: the best of `repeat` end-to-end runs of the
/// shipped `systems` workflow (capital tasks, then run_systems: read prices, compute, store
/// optimal positions and the backtest state), each a fresh `systrade run systems` process so
/// its wall time and peak memory are the whole job's; and the best pure compute
/// ([`run_strategy`]) in this process.
///
/// [`run_strategy`]: crate::domain::backtest::portfolio::run_strategy
async fn bench_backtest(ctx: &Ctx, repeat: usize) -> anyhow::Result<serde_json::Value> {
    use crate::domain::backtest::portfolio::run_strategy;
    let app = ctx.app();
    let reference = app.reference_data()?;
    let strategy = app
        .strategy("chapter15_equal_weights", &reference)
        .map_err(|e| anyhow::anyhow!(e))?;
    let shown = backtest_shown::bench_backtest_shown(&app, &ctx.home.root, repeat)?;
    let exe = std::env::current_exe()?;
    let mut best = f64::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        let status = std::process::Command::new(&exe)
            .arg("--home")
            .arg(&ctx.home.root)
            .args(["-q", "run", "systems"])
            .stdout(std::process::Stdio::null())
            .status()?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(status.success(), "`systrade run systems` failed ({status})");
        best = best.min(secs);
    }
    let peak = backtest_shown::peak_rss_mb(
        &exe,
        &[
            "--home".as_ref(),
            ctx.home.root.as_os_str(),
            "-q".as_ref(),
            "run".as_ref(),
            "systems".as_ref(),
        ],
    );
    let store = app.price_store();
    let mut compute = f64::MAX;
    let mut instruments = 0;
    for _ in 0..repeat {
        let t = Instant::now();
        let run = run_strategy(&strategy.config, &reference, store.as_ref(), 2);
        compute = compute.min(t.elapsed().as_secs_f64());
        anyhow::ensure!(run.skipped.is_empty(), "skipped: {:?}", run.skipped);
        instruments = run.instruments.len();
    }
    Ok(json!({
        "strategy": strategy.config.name,
        "instruments": instruments,
        "end_to_end_seconds": best,
        "compute_seconds": compute,
        "peak_rss_mb": peak,
        "pysystemtrade_seconds": PYSYSTEMTRADE_BACKTEST_SECONDS,
        "shown": shown,
    }))
}

/// pysystemtrade's own stitch of the 32 instruments on this machine (from the issue).
const PYSYSTEMTRADE_STITCH_SECONDS: f64 = 131.0;

/// Import timing (check, then write into a fresh store) and the best of `repeat` regenerations
/// of every instrument's adjusted prices (read multiple prices, stitch, write).
fn bench_prices(
    dir: &std::path::Path,
    data_dir: &std::path::Path,
    repeat: usize,
) -> anyhow::Result<serde_json::Value> {
    use crate::adapters::parquet::ParquetPriceStore;
    use crate::adapters::pysystemtrade_csv::{load_all, scan, store_all, summary};
    use crate::domain::adjustment::regenerate_many;
    use crate::domain::ports::PriceStore;
    let t = Instant::now();
    let plan = scan(dir)?;
    let data = load_all(&plan)?;
    let check = t.elapsed().as_secs_f64();
    let store = ParquetPriceStore::new(data_dir.to_path_buf());
    let w = Instant::now();
    let series = store_all(&data, &store, 2, &|_, _| {})?;
    let write = w.elapsed().as_secs_f64();
    let rows = summary(&data).rows();
    drop(data);
    let codes = store.instruments_with_multiple()?;
    let mut best = f64::MAX;
    for _ in 0..repeat {
        let r = Instant::now();
        let results = regenerate_many(&store, &codes, &|c| c.as_str() == "WHEAT", 2, &|_| {});
        let secs = r.elapsed().as_secs_f64();
        if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
            return Err(e.into());
        }
        best = best.min(secs);
    }
    Ok(
        json!({ "series": series, "rows": rows, "check_seconds": check, "write_seconds": write, "import_seconds": check + write, "instruments": codes.len(), "regenerate_seconds": best }),
    )
}
