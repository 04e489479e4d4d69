//! The application context that tasks receive, and the loading of everything a run needs from a
//! home: config, the task catalogue (shipped + `<home>/tasks`), and workflows (shipped +
//! `<home>/workflows`, or a file path).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::engine::catalogue::Catalogue;
use crate::engine::clock::Clock;
use crate::engine::diagnostic::{Diagnostic, Diagnostics};
use crate::engine::plan::{build_plan, Plan};
use crate::engine::spec::parse_workflow_partial;
use crate::home::Home;

mod alerting;
pub mod cleaners;
pub mod doctor;
pub use alerting::{
    crashed_run_alert, missed_window_alert, missed_window_subject, run_alerts, AlertLogLayer,
};

/// What every task can reach.
pub struct App {
    pub home: Home,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    /// Contracts, roll states and the spike log (the same SQLite file as the run store).
    pub metadata: Arc<dyn crate::domain::metadata::PriceMetadataStore>,
    /// Total capital, margin and strategy capital (the same SQLite file).
    pub capital: Arc<dyn crate::domain::capital::CapitalStore>,
    /// Optimal positions computed by run_systems (the same SQLite file).
    pub optimal: Arc<dyn crate::domain::optimal::OptimalPositionStore>,
    /// Overrides and position limits (the same SQLite file).
    pub controls: Arc<dyn crate::domain::controls::ControlStore>,
    /// The three order stacks, positions and locks (the same SQLite file).
    pub orders: Arc<dyn crate::domain::orders::OrderStore>,
    /// The configured broker (`broker.kind`); see [`App::broker`].
    pub broker: Arc<dyn crate::domain::broker::Broker>,
    /// Runs, their nodes and the workflows' controls (the same SQLite file): what the status
    /// report reads.
    pub runs: Arc<dyn crate::engine::store::RunStore>,
    /// Alerts and the e-mail de-duplication state (the same SQLite file).
    pub alerts: Arc<dyn crate::domain::alerts::AlertStore>,
    /// Where e-mail goes (`[email]`); `None` when e-mail is off.
    pub mailer: Option<Arc<dyn crate::domain::alerts::Mailer>>,
}

impl App {
    /// Where run_systems keeps backtest states (`<home>/backtests`).
    pub fn backtest_states(&self) -> Arc<dyn crate::domain::optimal::BacktestStateStore> {
        Arc::new(crate::adapters::parquet::ParquetBacktestStates::new(
            self.home.backtests_dir(),
        ))
    }

    /// The strategy named `name`, parsed and validated against `reference`, with the file it
    /// came from and its text: `<home>/strategies/NAME.toml`, else the shipped one.
    pub fn strategy(
        &self,
        name: &str,
        reference: &crate::domain::instrument::ReferenceData,
    ) -> Result<LoadedStrategy, String> {
        load_strategy(&self.home, name, reference)
    }
    /// The configured broker (account, positions, orders, executions).
    pub fn broker(&self) -> Arc<dyn crate::domain::broker::Broker> {
        self.broker.clone()
    }

    /// The price store of this home (`<home>/data`).
    pub fn price_store(&self) -> Arc<dyn crate::domain::ports::PriceStore> {
        Arc::new(crate::adapters::parquet::ParquetPriceStore::new(
            self.home.data_dir(),
        ))
    }

    /// The instruments the daily price update covers by default: `prices.instruments` plus every
    /// instrument that already has multiple prices, sorted.
    pub fn price_instruments(
        &self,
    ) -> Result<Vec<crate::domain::instrument::InstrumentCode>, crate::domain::ports::PriceStoreError>
    {
        let mut all = self.config.prices.instruments.clone();
        all.extend(self.price_store().instruments_with_multiple()?);
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Reference data: shipped CSVs, replaced file by file by `<home>/config/`.
    pub fn reference_data(&self) -> Result<crate::domain::instrument::ReferenceData, Diagnostics> {
        crate::adapters::reference_files::load_reference_data(&self.home.reference_dir())
    }

    /// The configured market data source (`market.source`), serving nothing after the clock's
    /// "now". The broker source answers on the current tokio runtime: call this from within it.
    pub fn market(
        &self,
        reference: &crate::domain::instrument::ReferenceData,
    ) -> Arc<dyn crate::domain::ports::MarketDataSource> {
        match self.config.market.source {
            crate::config::MarketSource::Sim => {
                let cfg = crate::adapters::sim_market::SimConfig {
                    seed: self.config.market.sim_seed,
                    start: self.config.market.sim_start,
                    ..Default::default()
                };
                Arc::new(
                    crate::adapters::sim_market::SimulatedExchange::from_reference(cfg, reference)
                        .with_now(self.clock.now().timestamp_micros()),
                )
            }
            crate::config::MarketSource::Broker => {
                Arc::new(crate::adapters::broker_market::BrokerMarketData::new(
                    self.broker(),
                    tokio::runtime::Handle::try_current().ok(),
                    self.clock.now().timestamp_micros(),
                ))
            }
        }
    }
}

/// The configured mailer (`[email]`): SMTP through `adapters::smtp`; `None` when e-mail is off.
pub fn mailer(config: &Config) -> Option<Arc<dyn crate::domain::alerts::Mailer>> {
    config.email.clone().map(|e| {
        Arc::new(crate::adapters::smtp::SmtpMailer::new(e))
            as Arc<dyn crate::domain::alerts::Mailer>
    })
}

/// A strategy file, read and validated.
pub struct LoadedStrategy {
    /// Where it came from (a path, or `shipped:config/strategies/NAME.toml`).
    pub path: String,
    pub text: String,
    pub config: crate::domain::backtest::config::StrategyConfig,
}

/// The text of strategy `name`: `<home>/strategies/NAME.toml`, else the shipped file.
/// [`App::strategy`] without an `App` (`systrade doctor` checks the strategy files).
pub fn load_strategy(
    home: &Home,
    name: &str,
    reference: &crate::domain::instrument::ReferenceData,
) -> Result<LoadedStrategy, String> {
    let (path, text) = strategy_source(home, name)?;
    let known: Vec<&str> = reference.instruments.keys().map(|c| c.as_str()).collect();
    let is_known = |code: &str| {
        crate::domain::instrument::InstrumentCode::new(code)
            .is_ok_and(|c| reference.instrument(&c).is_some())
    };
    let config = crate::domain::backtest::config::parse_strategy(&path, &text, &is_known, &known)
        .map_err(|d| d.to_string())?;
    if config.name != name {
        return Err(format!(
            "{path}: the strategy is named `{}` but listed as `{name}` in strategies.weights",
            config.name
        ));
    }
    Ok(LoadedStrategy { path, text, config })
}

pub fn strategy_source(home: &Home, name: &str) -> Result<(String, String), String> {
    crate::domain::controls::StrategyName::new(name)?;
    let path = home.strategies_dir().join(format!("{name}.toml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok((path.display().to_string(), text)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("{}: cannot read: {e}", path.display()))
        }
        Err(_) => {}
    }
    crate::shipped::STRATEGIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| {
            (
                format!("shipped:config/strategies/{n}.toml"),
                text.to_string(),
            )
        })
        .ok_or_else(|| {
            let shipped: Vec<&str> = crate::shipped::STRATEGIES.iter().map(|(n, _)| *n).collect();
            format!(
                "no strategy `{name}`: neither {} nor a shipped strategy ({})",
                path.display(),
                shipped.join(", ")
            )
        })
}

/// Where a workflow definition comes from.
#[derive(Debug, Clone)]
pub struct WorkflowSource {
    pub name: String,
    /// For messages: a path, or `builtin:workflows/NAME.toml`.
    pub path: String,
    pub bytes: Vec<u8>,
}

/// The catalogue of this home: shipped entries, then `<home>/tasks/*.toml` (which may replace them).
pub fn load_catalogue(home: &Home) -> Result<Catalogue, Diagnostics> {
    let mut cat = Catalogue::default();
    let mut errs = Vec::new();
    for (file, text) in crate::shipped::TASKS {
        if let Err(d) = cat.add_file(&format!("builtin:tasks/{file}"), text.as_bytes()) {
            errs.extend(d.0);
        }
    }
    for path in toml_files(&home.tasks_dir()) {
        match std::fs::read(&path) {
            Ok(bytes) => {
                if let Err(d) = cat.add_file(&path.display().to_string(), &bytes) {
                    errs.extend(d.0);
                }
            }
            Err(e) => errs.push(Diagnostic::new(
                path.display().to_string(),
                format!("cannot read: {e}"),
            )),
        }
    }
    if errs.is_empty() {
        Ok(cat)
    } else {
        Err(Diagnostics(errs))
    }
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every workflow known to this home by name: shipped ones, replaced by `<home>/workflows/`.
pub fn workflow_sources(home: &Home) -> BTreeMap<String, WorkflowSource> {
    let mut out = BTreeMap::new();
    for (file, text) in crate::shipped::WORKFLOWS {
        let name = file.trim_end_matches(".toml").to_string();
        out.insert(
            name.clone(),
            WorkflowSource {
                name,
                path: format!("builtin:workflows/{file}"),
                bytes: text.as_bytes().to_vec(),
            },
        );
    }
    for path in toml_files(&home.workflows_dir()) {
        let Some(name) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if let Ok(bytes) = std::fs::read(&path) {
            out.insert(
                name.clone(),
                WorkflowSource {
                    name,
                    path: path.display().to_string(),
                    bytes,
                },
            );
        }
    }
    out
}

/// Resolves `NAME|FILE` as given on the command line.
pub fn resolve_workflow(home: &Home, arg: &str) -> Result<WorkflowSource, Diagnostics> {
    let looks_like_path = arg.ends_with(".toml") || arg.contains('/');
    if looks_like_path {
        let path = Path::new(arg);
        let bytes = std::fs::read(path)
            .map_err(|e| Diagnostic::new(arg, format!("cannot read workflow file: {e}")))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(WorkflowSource {
            name,
            path: arg.to_string(),
            bytes,
        });
    }
    let all = workflow_sources(home);
    all.get(arg).cloned().ok_or_else(|| {
        Diagnostic::new(arg, format!("no workflow named `{arg}`"))
            .help_opt(
                crate::engine::diagnostic::did_you_mean(arg, all.keys().map(String::as_str))
                    .or_else(|| {
                        Some(format!(
                            "known workflows: {}",
                            all.keys().cloned().collect::<Vec<_>>().join(", ")
                        ))
                    }),
            )
            .into()
    })
}

/// Parses and validates a workflow against this home's catalogue and the Rust tasks.
pub fn plan_workflow(home: &Home, source: &WorkflowSource) -> Result<Plan<App>, Diagnostics> {
    let catalogue = load_catalogue(home)?;
    let (spec, mut errs) = parse_workflow_partial(&source.path, &source.bytes, Some(&source.name))?;
    let known: Vec<String> = workflow_sources(home).into_keys().collect();
    match build_plan(spec, &catalogue, &crate::tasks::registry(), Some(&known)) {
        Ok(mut plan) if errs.is_empty() => {
            // Messages name the file as given; a run records it absolute, so `rerun` finds it
            // from any directory.
            if !source.path.starts_with("builtin:") {
                if let Ok(abs) = std::path::absolute(&source.path) {
                    std::sync::Arc::make_mut(&mut plan.spec).source_path =
                        abs.display().to_string();
                }
            }
            Ok(plan)
        }
        Ok(_) => Err(in_file_order(errs)),
        Err(more) => {
            errs.extend(more.0);
            Err(in_file_order(errs))
        }
    }
}

/// Diagnostics sorted by line (those without a line last), duplicates removed.
fn in_file_order(mut errs: Vec<Diagnostic>) -> Diagnostics {
    errs.sort_by_key(|d| (d.line.is_none(), d.line, d.column));
    errs.dedup();
    Diagnostics(errs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_workflow_validates() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            root: dir.path().to_path_buf(),
        };
        for (name, src) in workflow_sources(&home) {
            plan_workflow(&home, &src)
                .unwrap_or_else(|e| panic!("shipped workflow {name} is invalid:\n{e}"));
        }
    }

    #[test]
    fn home_workflows_override_shipped_ones() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            root: dir.path().to_path_buf(),
        };
        std::fs::create_dir_all(home.workflows_dir()).unwrap();
        std::fs::write(
            home.workflows_dir().join("daily.toml"),
            "[workflow]\nname = \"daily\"\n[[node]]\nid = \"a\"\ntask = \"noop\"\n",
        )
        .unwrap();
        let src = resolve_workflow(&home, "daily").unwrap();
        assert!(src.path.ends_with("workflows/daily.toml") && !src.path.starts_with("builtin:"));
        assert!(resolve_workflow(&home, "dayly")
            .unwrap_err()
            .to_string()
            .contains("did you mean `daily`"));
    }
}
