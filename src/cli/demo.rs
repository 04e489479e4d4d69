//! `systrade demo`: a fresh home, then the shipped daily workflow end to end on the embedded
//! defaults (SQLite run store; simulated market and broker once those exist), and where to look.

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
    if let Some(r) = run {
        outln!("look at them with:");
        outln!("  {program} --home {home_arg} show {}", r.id);
        outln!("  {program} --home {home_arg} dag daily --run {}", r.id);
        outln!("  {program} --home {home_arg} logs --run {}", r.id);
    }
    Ok(code)
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
